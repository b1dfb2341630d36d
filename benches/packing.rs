//! Scale-up decision benchmark: pack 500 pending pods for every node group (20 pools × 3
//! zones) of a synthetic cluster, then pick a group with the expander chain production runs
//! (`tidal_core::expander::ExpanderChain`, the cluster autoscaler's default priority then
//! least-waste), as one cluster-autoscaler loop does.
//!
//! Goals: under 50 ms at 1,000 nodes / 30,000 pods and under 500 ms at 5,000 / 150,000.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tidal_core::expander::{ExpanderChain, ExpansionOption, LeastWasteExpander, PriorityExpander};
use tidal_core::scheduling::fixtures::{Fixture, FixtureConfig, synthetic_cluster, utilisation};
use tidal_core::scheduling::{ScaleUpSimulation, pack};

/// The whole decision: existing-node phase once, each group's template phase, the expander.
fn decide(fixture: &Fixture, chain: &ExpanderChain) -> Option<String> {
    let sim = ScaleUpSimulation::new(&fixture.pending, &fixture.cluster);
    let options: Vec<ExpansionOption> = fixture
        .groups
        .iter()
        .map(|g| {
            let r = sim.pack_group(&g.template, g.max_new_nodes);
            ExpansionOption {
                group: g.id.clone(),
                priority: g.priority,
                node_count: r.new_nodes,
                pods: r.pods_on_new_nodes(),
                waste: r.waste(),
                group_size: g.nodes,
            }
        })
        .collect();
    chain.best(&options).map(|o| o.group.clone())
}

fn describe(name: &str, fixture: &Fixture, chain: &ExpanderChain) {
    let sim = ScaleUpSimulation::new(&fixture.pending, &fixture.cluster);
    let (cpu, mem) = utilisation(&fixture.cluster);
    eprintln!(
        "{name}: {} nodes, {} bound pods, {} groups, {} pending in {} classes; {} fit existing nodes; \
         requests/allocatable cpu {:.0}% mem {:.0}%; chosen group {:?}",
        fixture.cluster.node_count(),
        fixture.cluster.pod_count(),
        fixture.groups.len(),
        fixture.pending.len(),
        sim.class_count(),
        sim.on_existing().len(),
        cpu * 100.0,
        mem * 100.0,
        decide(fixture, chain),
    );
}

fn packing(c: &mut Criterion) {
    let chain = ExpanderChain::new(vec![
        Box::new(PriorityExpander),
        Box::new(LeastWasteExpander),
    ]);
    for (name, cfg) in [
        ("1k_nodes_30k_pods", FixtureConfig::thousand_nodes()),
        ("5k_nodes_150k_pods", FixtureConfig::five_thousand_nodes()),
    ] {
        let fixture = synthetic_cluster(&cfg);
        describe(name, &fixture, &chain);
        let mut group = c.benchmark_group(format!("packing/{name}"));
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(5));
        group.bench_function("decision_all_groups", |b| {
            b.iter(|| black_box(decide(&fixture, &chain)))
        });
        // Each group packed from scratch with `pack` (existing-node phase repeated per group).
        group.bench_function("pack_each_group_independently", |b| {
            b.iter(|| {
                for g in &fixture.groups {
                    black_box(pack(
                        &fixture.pending,
                        &fixture.cluster,
                        &g.template,
                        g.max_new_nodes,
                    ));
                }
            })
        });
        group.finish();
    }
}

criterion_group!(benches, packing);
criterion_main!(benches);
