//! Properties: a steady load never moves the size back and forth; the target never leaves the
//! bounds and never goes below the node-count floor; the same inputs give the same decision.

use proptest::prelude::*;

use super::*;

/// A ladder of `n` sizes growing by a random factor in vCPU and memory.
fn ladder_strategy() -> impl Strategy<Value = Ladder> {
    proptest::collection::vec((1u32..=3, 1u64..=3), 2..8).prop_map(|growth| {
        let mut vcpus = 2u32;
        let mut gib = 4u64;
        let mut types = vec![it("x.0", vcpus, gib)];
        for (i, (gv, gm)) in growth.into_iter().enumerate() {
            vcpus *= gv.max(1);
            gib *= gm;
            // Keep sizes distinct: at least one dimension grows.
            if gv == 1 && gm == 1 {
                vcpus += 1;
            }
            types.push(it(&format!("x.{}", i + 1), vcpus, gib));
        }
        Ladder::from_instance_types(types, &LadderFilter::default(), "--families").unwrap()
    })
}

fn config_strategy() -> impl Strategy<Value = DecisionConfig> {
    (2u32..=5, 0.05f64..0.5, prop::bool::ANY).prop_map(|(nodes, margin, latency)| DecisionConfig {
        down_margin: margin,
        latency_p99_high: latency.then_some(1.0),
        ..DecisionConfig::for_nodes(nodes)
    })
}

/// Bounds from rung indices `a ≤ b`.
fn bounds(ladder: &Ladder, a: usize, b: usize) -> Bounds {
    let name = |i: usize| ladder.rungs()[i].name.as_str();
    ladder
        .bounds(Some(("--min-size", name(a))), Some(("--max-size", name(b))))
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Under a steady load the size only ever moves one way (up, or down), then stays.
    #[test]
    fn a_steady_load_never_oscillates(
        ladder in ladder_strategy(),
        config in config_strategy(),
        cpu_frac in 0.0f64..1.5,
        mem_frac in 0.0f64..1.5,
        latency in 0.0f64..2.0,
        nodes in 1u32..800,
        start in 0usize..8,
    ) {
        let whole = Bounds::whole(&ladder);
        let mut current = start.min(ladder.len() - 1);
        // Load as a share of the biggest size, so every ladder sees the full range.
        let top = ladder.rungs()[ladder.len() - 1].capacity;
        let cpu = cpu_frac * f64::from(top.vcpus.unwrap()) / 2.0;
        let mem = mem_frac * top.memory_mib.unwrap() as f64 / 2.0;
        let mut now = t0();
        let mut last: Option<Change> = None;
        let mut directions = Vec::new();
        for _ in 0..(3 * 24 * 6) {
            let mut signals = Signals {
                cpu: Series::steady(cpu, now, MIN * 180, MIN),
                memory: Series::steady(mem, now, MIN * 180, MIN),
                ..Signals::default()
            };
            signals.latency_p99 = Series::steady(latency, now, MIN * 180, MIN);
            let d = decide(&ladder, whole, &config, &signals, Some(nodes), current, now, last);
            let direction = match d.action() {
                Action::Hold => None,
                Action::Up => Some(Direction::Up),
                Action::Down => Some(Direction::Down),
            };
            if let Some(direction) = direction {
                directions.push((direction, d.reason.label()));
                last = Some(Change { at: now, direction });
                current = d.target;
            }
            now = now + MIN * 10;
        }
        let ups = directions.iter().filter(|(d, _)| *d == Direction::Up).count();
        prop_assert!(ups == 0 || ups == directions.len(), "moved both ways: {directions:?}");
    }

    /// Whatever the load, the history and the last change: the target stays within the bounds
    /// (when the current size is within them) and never below the node-count floor.
    #[test]
    fn the_target_respects_bounds_and_floor(
        ladder in ladder_strategy(),
        config in config_strategy(),
        seed_bounds in (0usize..8, 0usize..8),
        current in 0usize..8,
        cpu in proptest::collection::vec(0.0f64..100.0, 1..40),
        mem in proptest::collection::vec(0.0f64..200_000.0, 1..40),
        nodes in proptest::option::of(0u32..2000),
        last in proptest::option::of((0u32..300, prop::bool::ANY)),
    ) {
        let n = ladder.len();
        let (a, b) = (seed_bounds.0 % n, seed_bounds.1 % n);
        let bounds = bounds(&ladder, a.min(b), a.max(b));
        let current = current % n;
        let now = t0();
        // Samples every 5 minutes over the last 3 h, values cycling through the random lists.
        let series = |values: &[f64]| Series::new((0..37u32).map(|i| (now - MIN * (5 * i), values[i as usize % values.len()])));
        let signals = Signals { cpu: series(&cpu), memory: series(&mem), ..Signals::default() };
        let last = last.map(|(mins, up)| Change {
            at: now - MIN * mins,
            direction: if up { Direction::Up } else { Direction::Down },
        });
        let d = decide(&ladder, bounds, &config, &signals, nodes, current, now, last);
        let again = decide(&ladder, bounds, &config, &signals, nodes, current, now, last);
        prop_assert_eq!(&d, &again, "same inputs, same decision");
        if (bounds.min()..=bounds.max()).contains(&current) {
            prop_assert!((bounds.min()..=bounds.max()).contains(&d.target), "{d:?} outside {bounds:?}");
        }
        if d.target != current {
            prop_assert!(d.target >= bounds.min() && d.target <= bounds.max().max(current), "{d:?}");
        }
        if let Some(floor) = nodes.and_then(|n| config.node_floor.rung(&ladder, n)) {
            let floor = bounds.clamp(floor);
                        if current >= bounds.min() {
                prop_assert!(d.target >= floor, "{d:?} below floor {floor}");
            }
        }
    }
}
