//! Setting a run up from its scenario: its own pod specs, load noise, the empty cluster and
//! the recording's columns.

use std::sync::Arc;

use tidal_core::Timestamp;
use tidal_core::scheduling::PodSpec;

use crate::cloud::CapacityOutage;
use crate::cluster::SimCluster;
use crate::noise::LoadNoise;
use crate::record::{Recording, Window, WindowKind, offset_secs};
use crate::scenario::{SIM_EPOCH, Scenario};

/// Gives the run its own copy of each pod spec. Every pod created or deleted clones or drops
/// its spec's `Arc`; runs of one scenario on other threads (`--runs`) would otherwise count on
/// the same reference counts, and those cache lines would bounce between cores.
pub(super) fn own_pod_specs(scenario: &mut Scenario) {
    let own = |spec: &mut Arc<PodSpec>| *spec = Arc::new(PodSpec::clone(spec));
    scenario.workloads.iter_mut().for_each(|w| own(&mut w.pod));
    scenario.daemonsets.iter_mut().for_each(own);
}

/// Puts the scenario's load noise (if any) on every workload's load curve.
pub(super) fn add_load_noise(scenario: &mut Scenario) {
    if scenario.noise.load <= 0.0 {
        return;
    }
    let span = scenario.duration;
    for (i, w) in scenario.workloads.iter_mut().enumerate() {
        let noise = LoadNoise::new(&scenario.noise, scenario.seed, i, span);
        w.load = w.load.clone().with_noise(noise);
    }
}

/// The empty cluster at `start`, with the scenario's daemonsets, disruption budgets and
/// start-up times; it records pod waits from 00:00 (after the warm-up).
pub(super) fn cluster(scenario: &Scenario, start: Timestamp) -> SimCluster {
    let cluster = SimCluster::new(
        scenario.daemonsets.clone(),
        scenario
            .workloads
            .iter()
            .enumerate()
            .filter_map(|(i, w)| Some((i, w.pdb_min_available?)))
            .collect(),
        scenario.workloads.iter().map(|w| w.startup).collect(),
        start,
    );
    cluster.world().record_from = SIM_EPOCH;
    cluster
}

/// An empty recording with the scenario's pool and workload columns and its outages drawn.
pub(super) fn recording(scenario: &Scenario, outages: &[CapacityOutage]) -> Recording {
    Recording {
        pools: scenario
            .node_pools
            .pools()
            .iter()
            .map(|p| p.name.clone())
            .collect(),
        workloads: scenario.workloads.iter().map(|w| w.name.clone()).collect(),
        windows: outage_windows(outages),
        ..Recording::default()
    }
}

/// Capacity outages as chart windows.
fn outage_windows(outages: &[CapacityOutage]) -> Vec<Window> {
    outages
        .iter()
        .map(|o| Window {
            from: offset_secs(o.from),
            until: offset_secs(o.until),
            kind: WindowKind::Outage,
            label: format!("no {} capacity in {}", o.instance_type, o.zone),
        })
        .collect()
}
