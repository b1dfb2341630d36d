//! Picking one scale-up option: the configured expander chain, then a deterministic tie-break.

use tidal_core::expander::{
    Expander, ExpansionOption, LeastWasteExpander, PriorityExpander, RandomExpander,
};
use tidal_core::scheduling::PackResult;

use super::ScaleUpSettings;
use crate::config::ExpanderKind;
use crate::groups::GroupView;

/// Index (into `options`) of the chosen option: options that place no pod are dropped, the
/// expanders narrow the rest in order (one that would drop everything is skipped), and among
/// what is left the group with the fewest nodes wins, then the smallest group id. Fewest nodes
/// first spreads equal choices over zones instead of always growing the first zone.
pub fn choose_option(
    groups: &[GroupView],
    desired: &[u32],
    options: &[(usize, &PackResult)],
    settings: &ScaleUpSettings<'_>,
) -> Option<usize> {
    let described: Vec<ExpansionOption> = options
        .iter()
        .map(|(gi, r)| ExpansionOption {
            group: groups
                .get(*gi)
                .map(|g| g.id.to_string())
                .unwrap_or_default(),
            priority: groups.get(*gi).map_or(i32::MIN, |g| g.priority),
            node_count: r.new_nodes,
            pods: r.on_new.len(),
            waste: r.waste(),
        })
        .collect();
    let mut remaining: Vec<&ExpansionOption> = described.iter().filter(|o| o.pods > 0).collect();
    for kind in settings.expanders {
        if remaining.len() <= 1 {
            break;
        }
        let kept = match kind {
            ExpanderKind::Priority => PriorityExpander.filter(remaining.clone()),
            ExpanderKind::LeastWaste => LeastWasteExpander.filter(remaining.clone()),
            ExpanderKind::Random => RandomExpander::new(settings.seed).filter(remaining.clone()),
        };
        if !kept.is_empty() {
            remaining = kept;
        }
    }
    let index_of = |o: &ExpansionOption| described.iter().position(|d| std::ptr::eq(d, o));
    remaining.into_iter().filter_map(index_of).min_by_key(|i| {
        let gi = options.get(*i).map_or(usize::MAX, |(gi, _)| *gi);
        let size = desired.get(gi).copied().unwrap_or(u32::MAX);
        (size, groups.get(gi).map(|g| &g.id))
    })
}
