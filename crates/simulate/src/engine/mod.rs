//! The virtual-time loop. Virtual time is a manual [`Clock`]: it advances from one due event to
//! the next: recording ticks (`tick`), HPA syncs (every 15 s, as the HPA controller syncs) and
//! cluster autoscaler ticks (its scan interval). At each instant, in order: injected failures →
//! cloud (boots, terminations, launches) → HPAs → Deployments → scheduler → cluster autoscaler
//! → record.
//!
//! The cluster autoscaler runs as in production: its [`Controller`] ticks (leadership check,
//! invalid-pod events, the loop, its metrics) with the simulator's clock, over the simulated
//! cloud and cluster.
//!
//! The run starts `warmup` before 00:00 with the workloads' initial replicas pending and
//! every ASG at its minimum, so the real autoscaler builds the starting cluster; nothing
//! before 00:00 counts in the summary.

mod decisions;
mod nodes;
mod setup;

use std::time::{Duration, Instant};

use prometheus_client::registry::Registry;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tidal_cluster_autoscaler::autoscaler::Autoscaler;
use tidal_cluster_autoscaler::config::ConfigError;
use tidal_cluster_autoscaler::controller::{Controller, Tick};
use tidal_cluster_autoscaler::metrics::Metrics;
use tidal_cluster_autoscaler::ports::StatusReport;
use tidal_core::Timestamp;
use tidal_core::resources::Resources;
use tidal_runtime::{Clock, LeaderHandle};

use crate::cloud::{CloudEvent, Ledger, SimCloud};
use crate::cluster::{ClusterTotals, ClusterWorld, Owner, SimCluster, SimClusterError};
use crate::noise::{self, BootTimes};
use crate::progress::Progress;
use crate::record::{
    DecisionKind, PoolTick, Recording, TimelineRow, Window, WindowKind, clock, offset_secs,
};
use crate::scenario::{Failure, SIM_EPOCH, Scenario};
use crate::scheduler::SimScheduler;
use crate::summary::{RunFacts, Summary};
use crate::unmet::{self, UnmetDemand, Verdicts};
use crate::workloads::Deployments;
use nodes::NodeFactory;

/// The HPA controller's sync period (kube-controller-manager `--horizontal-pod-autoscaler-sync-period`).
pub const HPA_SYNC_PERIOD: Duration = Duration::from_secs(15);

const GIB: f64 = (1u64 << 30) as f64;

/// A simulation cannot be set up or went wrong internally.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The autoscaler refused the scenario's settings.
    #[error("autoscaler settings: {0}")]
    Config(#[from] ConfigError),
    /// A node could not be built from its pool's instance type.
    #[error("building a node of pool {pool}: {message}")]
    Node {
        /// The pool.
        pool: String,
        /// Why.
        message: String,
    },
    /// The simulated cluster rejected a change (a bug in the simulator).
    #[error("simulated cluster: {0}")]
    Cluster(#[from] SimClusterError),
    /// A worker of parallel runs could not start or stopped.
    #[error("parallel runs: {0}")]
    Runtime(String),
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct SimResult {
    /// Timeline, decision log and counters.
    pub recording: Recording,
    /// The summary.
    pub summary: Summary,
    /// The autoscaler's last status report.
    pub status: Option<StatusReport>,
}

/// A simulation in progress.
#[derive(Debug)]
pub struct Simulation {
    scenario: Scenario,
    /// The cluster autoscaler's control loop, owning the simulated cloud and cluster.
    controller: Controller<SimCloud, SimCluster>,
    /// The controller's metrics (what `/metrics` would serve).
    registry: Registry,
    scheduler: SimScheduler,
    deployments: Deployments,
    nodes: NodeFactory,
    rng: ChaCha8Rng,
    recording: Recording,
    /// Virtual time, shared with the controller.
    clock: Clock,
    end: Timestamp,
    next_tick: Timestamp,
    next_hpa: Timestamp,
    next_scan: Timestamp,
    interruptions_done: Vec<bool>,
    billing_at_epoch: Option<Ledger>,
    autoscaler_errors: u64,
    started: Instant,
    last_no_scale_up: String,
    /// The autoscaler's latest verdicts on pods it cannot help.
    verdicts: Verdicts,
}

impl Simulation {
    /// Sets up the cloud, cluster, workloads and the autoscaler for `scenario`.
    pub fn new(mut scenario: Scenario) -> Result<Simulation, SimError> {
        setup::own_pod_specs(&mut scenario);
        let start = SIM_EPOCH - scenario.warmup;
        let nodes = NodeFactory::new(&scenario)?;
        setup::add_load_noise(&mut scenario);
        let boot = BootTimes::new(
            scenario.cloud.boot_time,
            scenario.noise.boot_time_p95,
            scenario.seed,
        );
        let cloud = SimCloud::new(
            nodes.asg_specs(&scenario),
            nodes.outages(&scenario),
            scenario.cloud,
            start,
        )
        .with_boot_times(boot);
        let cluster = setup::cluster(&scenario, start);
        let autoscaler = Autoscaler::new(scenario.node_pools.clone(), scenario.autoscaler.clone())?;
        let clock = Clock::manual(start);
        let mut registry = Registry::default();
        let metrics = Metrics::register(&mut registry);
        let controller =
            Controller::new(autoscaler, cloud, cluster, metrics, LeaderHandle::always())
                .with_clock(clock.clone());
        let recording = setup::recording(&scenario, &nodes.outages(&scenario));
        Ok(Simulation {
            deployments: Deployments::new(&scenario.workloads),
            rng: ChaCha8Rng::seed_from_u64(scenario.seed),
            interruptions_done: vec![false; scenario.failures.len()],
            end: SIM_EPOCH + scenario.duration,
            clock,
            next_tick: start,
            next_hpa: start,
            next_scan: start,
            scheduler: SimScheduler::new(),
            billing_at_epoch: None,
            autoscaler_errors: 0,
            started: Instant::now(),
            last_no_scale_up: String::new(),
            verdicts: Verdicts::default(),
            scenario,
            controller,
            registry,
            nodes,
            recording,
        })
    }

    /// The current virtual time.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Whether the run has reached its end.
    pub fn is_done(&self) -> bool {
        self.now() >= self.end && self.billing_at_epoch.is_some()
    }

    /// The simulated cloud (for inspection).
    pub fn cloud(&self) -> &SimCloud {
        self.controller.cloud()
    }

    /// The simulated cluster (for inspection).
    pub fn cluster(&self) -> &SimCluster {
        self.controller.cluster()
    }

    /// The cluster autoscaler's metrics, as its `/metrics` endpoint would serve them.
    pub fn metrics(&self) -> &Registry {
        &self.registry
    }

    /// The scenario being run.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// What has been recorded so far.
    pub fn recording(&self) -> &Recording {
        &self.recording
    }

    /// Loops in which the autoscaler could not read the cluster or cloud.
    pub fn autoscaler_errors(&self) -> u64 {
        self.autoscaler_errors
    }

    /// Runs to the end, updating `progress`, and summarizes.
    pub async fn run(mut self, progress: &Progress) -> Result<SimResult, SimError> {
        let start = self.now();
        let mut steps: u64 = 0;
        while !self.is_done() {
            self.step().await?;
            steps += 1;
            if steps.is_multiple_of(200) {
                let done = self.now().since(start).as_secs();
                progress.update(done, &clock(offset_secs(self.now())));
            }
        }
        progress.finish();
        Ok(self.finish())
    }

    /// Advances to the next due instant and processes it.
    pub async fn step(&mut self) -> Result<(), SimError> {
        let now = self
            .next_tick
            .min(self.next_hpa)
            .min(self.next_scan)
            .min(self.end);
        self.clock.set(now);
        self.inject_failures(now);
        self.random_spot_interruptions(now);
        let events = self.controller.cloud().step(now);
        {
            let mut world = self.controller.cluster().world();
            world.now = now;
            apply_cloud_events(&mut self.recording, &self.nodes, &mut world, events)?;
            if now >= self.next_hpa {
                let offset = offset_from_epoch(now);
                let problems =
                    self.deployments
                        .sync_hpas(&mut world, &self.scenario.workloads, offset);
                for p in problems {
                    let name = self
                        .scenario
                        .workloads
                        .get(p.workload)
                        .map_or("?", |w| w.name.as_str());
                    self.recording.decide(
                        now,
                        DecisionKind::Hpa,
                        format!("HPA {name}: {}", p.message),
                    );
                }
                self.next_hpa = now + HPA_SYNC_PERIOD;
            }
            self.deployments
                .reconcile(&mut world, &self.scenario.workloads);
            self.scheduler.schedule(&mut world)?;
        }
        if now >= self.next_scan {
            self.run_autoscaler(now).await;
            self.next_scan = now + self.scenario.autoscaler.scan_interval;
        }
        if now == SIM_EPOCH || (self.billing_at_epoch.is_none() && now > SIM_EPOCH) {
            self.billing_at_epoch = Some(self.cloud().ledger());
        }
        if now >= self.next_tick {
            if now >= SIM_EPOCH && now < self.end {
                self.record_row(now);
            }
            self.next_tick = now + self.scenario.tick;
        }
        if now >= self.end {
            // Nothing is due after the end; make sure the loop stops here.
            self.next_tick = self.end + Duration::from_millis(1);
        }
        Ok(())
    }

    fn inject_failures(&mut self, now: Timestamp) {
        let due: Vec<(usize, String, u32)> = (self.scenario.failures.iter().enumerate())
            .filter_map(|(i, f)| match f {
                Failure::SpotInterruption { pool, at, count }
                    if !self.interruptions_done[i] && SIM_EPOCH + *at <= now =>
                {
                    Some((i, pool.clone(), *count))
                }
                _ => None,
            })
            .collect();
        for (i, pool, count) in due {
            self.interruptions_done[i] = true;
            let reclaimed = (self.controller.cloud()).interrupt_spot(&pool, count, &mut self.rng);
            let what = format!("spot interruption of {count} requested instances");
            self.record_interruption(now, &pool, reclaimed, &what);
        }
    }

    /// The `noise.spot_interruptions` process: once per tick, each pool loses a Poisson number
    /// of its running spot instances.
    fn random_spot_interruptions(&mut self, now: Timestamp) {
        if self.scenario.noise.spot_interruptions.is_empty() || now < self.next_tick {
            return;
        }
        let hours = self.scenario.tick.as_secs_f64() / 3600.0;
        for (pool, rate) in self.scenario.noise.spot_interruptions.clone() {
            let running = self.controller.cloud().running_spot(&pool);
            let count = noise::poisson(&mut self.rng, rate * f64::from(running) * hours);
            if count > 0 {
                let cloud = self.controller.cloud();
                let reclaimed = cloud.interrupt_spot(&pool, count, &mut self.rng);
                self.record_interruption(now, &pool, reclaimed, "random spot interruption");
            }
        }
    }

    fn record_interruption(&mut self, now: Timestamp, pool: &str, reclaimed: u32, what: &str) {
        if now >= SIM_EPOCH {
            self.recording.counters.spot_interruptions += u64::from(reclaimed);
        }
        self.recording.windows.push(Window {
            from: offset_secs(now),
            until: offset_secs(now),
            kind: WindowKind::SpotInterruption,
            label: format!("{reclaimed} spot instances of {pool} reclaimed"),
        });
        self.recording.decide(
            now,
            DecisionKind::Cloud,
            format!("{what}: AWS reclaimed {reclaimed} instances of pool {pool}"),
        );
    }

    async fn run_autoscaler(&mut self, now: Timestamp) {
        let tick = self.controller.tick().await;
        let notes = std::mem::take(&mut self.cluster().world().notes);
        let counting = now >= SIM_EPOCH;
        match tick {
            Tick::Ran(outcome) => {
                decisions::record_outcome(
                    &mut self.recording,
                    &outcome,
                    counting,
                    &mut self.last_no_scale_up,
                );
                self.verdicts.update(outcome.no_scale_up);
            }
            Tick::Failed(e) => {
                self.autoscaler_errors += 1;
                self.recording.decide(
                    now,
                    DecisionKind::Error,
                    format!("autoscaler loop failed: {e}"),
                );
            }
            // The simulated replica is always the leader.
            Tick::NotLeader | Tick::LostLeadership | Tick::Overran => {}
        }
        decisions::record_notes(&mut self.recording, now, notes, counting);
    }

    fn record_row(&mut self, now: Timestamp) {
        let world = self.cluster().world();
        let offset = offset_from_epoch(now);
        let ledger = self.cloud().ledger();
        let at_epoch = self.billing_at_epoch.clone().unwrap_or_default();
        let t = &world.totals;
        let nodes_by_pool = self
            .recording
            .pools
            .iter()
            .map(|p| t.pools.get(p).map_or(0, |p| p.nodes))
            .collect();
        let workloads = &self.scenario.workloads;
        let replicas = (0..workloads.len())
            .map(|i| {
                let n = world
                    .by_owner
                    .get(&Owner::Workload(i))
                    .map_or(0, |s| s.len());
                u32::try_from(n).unwrap_or(u32::MAX)
            })
            .collect();
        let row = TimelineRow {
            t: offset_secs(now),
            nodes_by_pool,
            instances: ledger.total.instances,
            pending_pods: u32::try_from(world.pending.len()).unwrap_or(u32::MAX),
            replicas,
            desired: (0..workloads.len())
                .map(|i| self.deployments.desired(i))
                .collect(),
            desired_unclamped: (0..workloads.len())
                .map(|i| self.deployments.desired_unclamped(i))
                .collect(),
            load: workloads.iter().map(|w| w.load.at(offset)).collect(),
            requested_cpu: t.requested.cpu_millis as f64 / 1000.0,
            allocatable_cpu: t.allocatable().cpu_millis as f64 / 1000.0,
            requested_memory_gib: t.requested.memory_bytes as f64 / GIB,
            allocatable_memory_gib: t.allocatable().memory_bytes as f64 / GIB,
            cost: ledger.total.cost_usd - at_epoch.total.cost_usd,
            nodes_lower_bound: self.nodes.lower_bound(&t.requested),
            pools: pool_ticks(t, &self.recording.pools, &ledger),
        };
        drop(world);
        self.recording.timeline.push(row);
    }

    /// Summarizes the run (call when [`Self::is_done`]).
    pub fn finish(mut self) -> SimResult {
        let (scenario, daemonsets) = (&self.scenario, self.scenario.daemonsets.len());
        self.recording.vpa =
            crate::vpa::simulate(scenario.vpa.as_ref(), &self.recording, daemonsets);
        self.recording.control_plane = crate::control_plane::simulate(
            scenario.control_plane.as_ref(),
            &self.recording,
            daemonsets,
            &scenario.region,
        );
        let world = self.cluster().world();
        let end = self.end;
        let still_pending: Vec<(usize, f64)> = world
            .pending
            .iter()
            .filter_map(|uid| world.pods.get(uid))
            .filter_map(|p| match p.owner {
                Owner::Workload(w) => Some((w, end.since(p.pod.created_at).as_secs_f64())),
                _ => None,
            })
            .collect();
        let workloads = &self.scenario.workloads;
        let patience = self.scenario.autoscaler.max_node_provision_time;
        let unmet = UnmetDemand {
            unscheduled: self.verdicts.unscheduled(&world, workloads, end, patience),
            hpas_at_max: unmet::hpas_at_max(
                workloads,
                &self.recording.timeline,
                self.scenario.tick.as_secs_f64() / 3600.0,
            ),
        };
        let ledger = self.cloud().ledger();
        let at_epoch = self.billing_at_epoch.clone().unwrap_or_default();
        let billing = ledger.total.since(&at_epoch.total);
        let facts = RunFacts {
            scenario: self.scenario.name.clone(),
            scenario_path: self.scenario.origin.clone(),
            scenario_sha256: self.scenario.sha256.clone(),
            seed: self.scenario.seed,
            duration_hours: self.scenario.duration.as_secs_f64() / 3600.0,
            tick_seconds: self.scenario.tick.as_secs_f64(),
            instance_seconds: billing.instance_seconds,
            cost: billing.cost_usd,
            pools: (self.recording.pools.iter())
                .map(|p| ledger.of(p).since(&at_epoch.of(p)))
                .collect(),
            waits: world.pending_waits.clone(),
            still_pending,
            unmet,
            wall_time_seconds: self.started.elapsed().as_secs_f64(),
        };
        let summary = Summary::compute(&self.recording, facts);
        let status = world.status.clone();
        drop(world);
        SimResult {
            recording: self.recording,
            summary,
            status,
        }
    }
}

fn apply_cloud_events(
    recording: &mut Recording,
    nodes: &NodeFactory,
    world: &mut ClusterWorld,
    events: Vec<CloudEvent>,
) -> Result<(), SimError> {
    let now = world.now;
    for event in events {
        match event {
            CloudEvent::Booted { group, instance } => {
                let spec = nodes.node_spec(&group, &instance)?;
                world.add_node(spec, group, &instance.id)?;
            }
            CloudEvent::Gone {
                instance_id,
                interrupted,
                group,
            } => {
                let removed = world.remove_instance(&instance_id)?;
                if interrupted && let Some((node, pods)) = removed {
                    recording.decide(
                        now,
                        DecisionKind::Cloud,
                        format!("spot instance {instance_id} of {group} reclaimed: node {node} gone, {pods} pods pending again"),
                    );
                }
            }
            CloudEvent::LaunchFailed {
                group,
                count,
                reason,
            } => {
                if now >= SIM_EPOCH {
                    recording.counters.failed_launches += 1;
                }
                recording.decide(
                    now,
                    DecisionKind::Cloud,
                    format!("{group}: launching {count} instance(s) failed: {reason}"),
                );
            }
        }
    }
    Ok(())
}

/// Per pool (in `pools` order): its spend rate and what its registered nodes hold.
fn pool_ticks(totals: &ClusterTotals, pools: &[String], ledger: &Ledger) -> Vec<PoolTick> {
    let cores = |r: &Resources| r.cpu_millis as f64 / 1000.0;
    let gib = |r: &Resources| r.memory_bytes as f64 / GIB;
    (pools.iter())
        .map(|p| {
            let t = totals.pools.get(p).cloned().unwrap_or_default();
            PoolTick {
                usd_per_hour: ledger.of(p).usd_per_hour,
                requested_cpu: cores(&t.requested),
                allocatable_cpu: cores(&t.allocatable),
                requested_memory_gib: gib(&t.requested),
                allocatable_memory_gib: gib(&t.allocatable),
            }
        })
        .collect()
}

/// Offset of `now` from 00:00 (zero during warm-up, where curves use their start value).
fn offset_from_epoch(now: Timestamp) -> Duration {
    now.since(SIM_EPOCH)
}
