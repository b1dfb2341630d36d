//! Properties: more usage never lowers the target; lower ≤ target ≤ upper; a capped value
//! never exceeds `maxAllowed`; the same inputs give the same answer.

use proptest::prelude::*;

use super::super::aggregate::ContainerAggregate;
use super::super::policy::{Amounts, ContainerPolicy, ResourcePolicy, VpaResource};
use super::super::recommender::{RecommenderConfig, recommend};
use super::*;

/// A usage stream: (minutes after T0, cores, bytes), plus OOM kills (minute, bytes).
#[derive(Clone, Debug)]
struct Stream {
    samples: Vec<(u64, f64, f64)>,
    kills: Vec<(u64, f64)>,
}

fn streams() -> impl Strategy<Value = Stream> {
    (
        prop::collection::vec((0u64..(10 * 1440), 0.0f64..64.0, 0.0f64..64e9), 1..120),
        prop::collection::vec((0u64..(10 * 1440), 1e6f64..32e9), 0..4),
    )
        .prop_map(|(mut samples, mut kills)| {
            samples.sort_by_key(|s| s.0);
            kills.sort_by_key(|k| k.0);
            Stream { samples, kills }
        })
}

fn state(s: &Stream, scale: f64) -> ContainerAggregate {
    let mut a = ContainerAggregate::new(T0);
    /// (minute, CPU and memory sample, OOM kill)
    type Event = (u64, Option<(f64, f64)>, Option<f64>);
    let mut events: Vec<Event> = s
        .samples
        .iter()
        .map(|&(m, c, b)| (m, Some((c * scale, b * scale)), None))
        .chain(s.kills.iter().map(|&(m, b)| (m, None, Some(b * scale))))
        .collect();
    events.sort_by_key(|e| e.0);
    for (m, sample, kill) in events {
        let t = T0 + mins(m);
        if let Some((c, b)) = sample {
            a.add_cpu_sample(t, c);
            a.add_memory_sample(t, b);
        }
        if let Some(b) = kill {
            a.record_oom(t, b, b);
        }
    }
    a
}

fn now(s: &Stream) -> Timestamp {
    let last = s
        .samples
        .iter()
        .map(|x| x.0)
        .chain(s.kills.iter().map(|k| k.0))
        .max()
        .unwrap_or(0);
    T0 + mins(last + 1)
}

proptest! {
    #[test]
    fn more_usage_never_lowers_the_target(s in streams(), extra in 1.0f64..4.0) {
        let policy = ResourcePolicy::default();
        let config = RecommenderConfig::default();
        let base = state(&s, 1.0);
        let more = state(&s, extra);
        let a = recommend([("app", &base)], &policy, &config, now(&s));
        let b = recommend([("app", &more)], &policy, &config, now(&s));
        for r in VpaResource::ALL {
            prop_assert!(b.containers[0].target.get(r) >= a.containers[0].target.get(r), "{r}");
        }
    }

    #[test]
    fn bounds_are_ordered_and_caps_hold(
        s in streams(),
        max_cpu in prop::option::of(1i64..100_000),
        max_mem in prop::option::of(1i64..100_000_000_000),
        min_frac in 0.0f64..1.0,
    ) {
        let mut p = ContainerPolicy::new("*");
        p.max_allowed = Amounts { cpu_millis: max_cpu, memory_bytes: max_mem };
        p.min_allowed = Amounts {
            cpu_millis: max_cpu.map(|m| (m as f64 * min_frac) as i64),
            memory_bytes: max_mem.map(|m| (m as f64 * min_frac) as i64),
        };
        let policy = ResourcePolicy::new(vec![p]).unwrap();
        let config = RecommenderConfig::default();
        let st = state(&s, 1.0);
        let r = recommend([("app", &st)], &policy, &config, now(&s));
        let again = recommend([("app", &st)], &policy, &config, now(&s));
        prop_assert_eq!(&r, &again);
        let c = &r.containers[0];
        for (res, max) in [(VpaResource::Cpu, max_cpu), (VpaResource::Memory, max_mem)] {
            let (l, t, u) = (c.lower_bound.get(res).unwrap(), c.target.get(res).unwrap(), c.upper_bound.get(res).unwrap());
            prop_assert!(l <= t && t <= u, "{res}: {l} {t} {u}");
            prop_assert!(c.uncapped_target.get(res).unwrap() >= 0);
            if let Some(max) = max {
                prop_assert!(t <= max && u <= max && l <= max, "{res}: {l} {t} {u} > {max}");
            }
        }
    }
}
