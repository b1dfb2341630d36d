//! Picking one scale-up option: the configured expander chain of `tidal_core::expander`,
//! which also owns the tie-break (fewest nodes, then group name).

use tidal_core::expander::{
    Expander, ExpanderChain, ExpansionOption, LeastWasteExpander, PriorityExpander, RandomExpander,
};
use tidal_core::scheduling::PackResult;

use super::ScaleUpSettings;
use crate::config::ExpanderKind;
use crate::groups::GroupView;

/// Index (into `options`) of the chosen option: options that place no pod are dropped, the
/// expanders narrow the rest in order (one that would drop everything is skipped), and among
/// what is left the group with the fewest nodes wins, then the smallest group id.
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
            group_size: desired.get(*gi).copied().unwrap_or(u32::MAX),
        })
        .collect();
    expander_chain(settings).best_index(&described)
}

/// The configured chain. Built per choice, so the random expander's picks depend on the
/// seed alone, not on how many choices came before.
fn expander_chain(settings: &ScaleUpSettings<'_>) -> ExpanderChain {
    let expanders = settings
        .expanders
        .iter()
        .map(|kind| -> Box<dyn Expander> {
            match kind {
                ExpanderKind::Priority => Box::new(PriorityExpander),
                ExpanderKind::LeastWaste => Box::new(LeastWasteExpander),
                ExpanderKind::Random => Box::new(RandomExpander::new(settings.seed)),
            }
        })
        .collect();
    ExpanderChain::new(expanders)
}
