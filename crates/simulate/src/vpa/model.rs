//! One workload's day, minute by minute: usage from the cluster's size, the kubelet's OOM
//! kills and back-off, the recommender (`tidal_core::vpa`, as `crates/vpa` calls it) and the
//! upstream updater's eviction rule.

use std::time::Duration;

use tidal_core::Timestamp;
use tidal_core::vpa::{
    ContainerAggregate, ControlledValues, RecommenderConfig, ResourcePolicy, UpstreamOomRule,
    limit_for, recommend,
};

use super::{ClusterSize, OomRuleKind, SizeSeries, VpaPoint, VpaRow, VpaRun, VpaWorkload};
use crate::scenario::SIM_EPOCH;

const MINUTE: Duration = Duration::from_secs(60);
/// Upstream updater: a container OOM-killed this soon after it started is a "quick OOM",
/// and its pod is evicted at once when the recommendation is higher.
const QUICK_OOM: Duration = Duration::from_secs(600);
/// Upstream updater: a pod inside the recommended range is updated only when it is this old…
const POD_LIFETIME_UPDATE_THRESHOLD: Duration = Duration::from_secs(12 * 3600);
/// …and its request is at least this far (relative) from the target.
const UPDATE_THRESHOLD: f64 = 0.10;
/// The kubelet's crash-loop back-off: 10 s, doubling, at most 5 min.
const FIRST_BACKOFF_SECS: u64 = 10;
const MAX_BACKOFF_SECS: u64 = 300;
/// The container's name in the aggregate and the recommendation.
const CONTAINER: &str = "main";

/// The container of the workload's one pod.
struct Pod {
    request: f64,
    limit: f64,
    /// When the pod was created.
    created: Timestamp,
    /// When the container last started (pod creation or restart after back-off).
    container_started: Timestamp,
    restarts: u32,
    backoff_until: Option<Timestamp>,
    last_kill: Option<Timestamp>,
    /// The last working set the recommender sampled from this pod.
    last_memory: Option<f64>,
}

impl Pod {
    /// A pod created by the admission controller with `request`; the limit keeps the
    /// workload's limit ÷ request ratio (`controlledValues: RequestsAndLimits`).
    fn new(request: f64, w: &VpaWorkload, now: Timestamp) -> Self {
        let limit = limit_for(
            ControlledValues::RequestsAndLimits,
            Some(1000),
            Some((1000.0 * w.limit_ratio).round() as i64),
            request as i64,
        )
        .map_or(request, |l| l as f64);
        Self {
            request,
            limit,
            created: now,
            container_started: now,
            restarts: 0,
            backoff_until: None,
            last_kill: None,
            last_memory: None,
        }
    }

    /// The upstream updater's choice (`update_priority_calculator.go`): evict (to recreate
    /// with the target) after a quick OOM when the target is higher, when the request is
    /// outside [lower bound, upper bound], or when the pod is older than 12 h and its request
    /// is 10 % or more away from the target.
    fn updater_evicts(&self, r: &Recommended, now: Timestamp) -> bool {
        if r.target <= 0.0 {
            return false;
        }
        let quick_oom = self
            .last_kill
            .is_some_and(|k| k.since(self.container_started) <= QUICK_OOM);
        if quick_oom && r.target > self.request {
            return true;
        }
        if self.request < r.lower || self.request > r.upper {
            return true;
        }
        let old = now.since(self.created) >= POD_LIFETIME_UPDATE_THRESHOLD;
        old && (self.request - r.target).abs() >= UPDATE_THRESHOLD * self.request
    }

    /// The kubelet kills the container; the rule records it; the restart backs off.
    fn oom_kill(&mut self, state: &mut ContainerAggregate, rule: OomRuleKind, now: Timestamp) {
        match rule {
            // As `crates/vpa` does: "used" is the larger of the request and the last working
            // set sampled from this pod container.
            OomRuleKind::Tidal => {
                let used = self.last_memory.unwrap_or(0.0).max(self.request);
                state.record_oom(now, used, self.request);
            }
            // Upstream's observer passes the request; a refused kill changes nothing.
            OomRuleKind::Upstream => {
                let _ = UpstreamOomRule::default().record(state, now, self.request);
            }
        }
        let backoff = (FIRST_BACKOFF_SECS << self.restarts.min(5)).min(MAX_BACKOFF_SECS);
        self.backoff_until = Some(now + Duration::from_secs(backoff));
        self.restarts += 1;
        self.last_kill = Some(now);
    }
}

/// The memory recommendation of one minute, bytes.
#[derive(Clone, Copy, Debug)]
struct Recommended {
    target: f64,
    lower: f64,
    upper: f64,
}

fn recommended(
    state: &ContainerAggregate,
    policy: &ResourcePolicy,
    config: &RecommenderConfig,
    now: Timestamp,
) -> Recommended {
    let r = recommend([(CONTAINER, state)], policy, config, now);
    let memory =
        |a: &tidal_core::vpa::Amounts, default: f64| a.memory_bytes.map_or(default, |b| b as f64);
    r.containers.first().map_or(
        Recommended {
            target: 0.0,
            lower: 0.0,
            upper: f64::MAX,
        },
        |c| Recommended {
            target: memory(&c.target, 0.0),
            lower: memory(&c.lower_bound, 0.0),
            upper: memory(&c.upper_bound, f64::MAX),
        },
    )
}

/// Runs one workload through the day under one rule, after `history` of samples at the
/// day's first size.
pub fn run(w: &VpaWorkload, sizes: &SizeSeries, rule: OomRuleKind, history: Duration) -> VpaRun {
    let policy = w.policy();
    let config = RecommenderConfig::default();
    let mut state = warmed_up(w, sizes.at(0.0), history);
    let first = recommended(&state, &policy, &config, SIM_EPOCH);
    let start_request = if first.target > 0.0 {
        first.target
    } else {
        w.usage_bytes(sizes.at(0.0), SIM_EPOCH)
    };
    let mut pod = Pod::new(start_request, w, SIM_EPOCH);
    let mut row = VpaRow::new(&w.name, rule);
    let mut points = Vec::new();
    let (mut ratio_sum, mut running_minutes) = (0.0, 0u32);
    let minutes = (sizes.end() / 60.0).floor() as u32;
    for m in 0..=minutes {
        let now = SIM_EPOCH + MINUTE * m;
        let usage = w.usage_bytes(sizes.at(f64::from(m) * 60.0), now);
        row.peak_usage_bytes = row.peak_usage_bytes.max(usage);
        let backing_off = pod.backoff_until.is_some_and(|until| until > now);
        if let Some(until) = pod.backoff_until.filter(|until| *until <= now) {
            pod.backoff_until = None;
            pod.container_started = until;
        }
        let killed = !backing_off && usage > pod.limit;
        if backing_off || killed {
            row.crash_loop_minutes += 1;
        }
        if killed {
            row.oom_kills += 1;
            pod.oom_kill(&mut state, rule, now);
        } else if !backing_off {
            state.add_cpu_sample(now, w.cpu_cores);
            state.add_memory_sample(now, usage);
            pod.last_memory = Some(usage);
            ratio_sum += pod.request / usage.max(1.0);
            running_minutes += 1;
        }
        let r = recommended(&state, &policy, &config, now);
        points.push(VpaPoint {
            minute: m,
            usage_bytes: usage,
            request_bytes: pod.request,
            limit_bytes: pod.limit,
            target_bytes: r.target,
            killed,
        });
        if pod.updater_evicts(&r, now) {
            pod = Pod::new(r.target, w, now);
            row.evictions += 1;
        }
    }
    row.final_request_bytes = pod.request;
    row.mean_request_over_usage = ratio_sum / f64::from(running_minutes.max(1));
    VpaRun { row, points }
}

/// `history` of one-minute samples at `size`, ending at 00:00.
fn warmed_up(w: &VpaWorkload, size: ClusterSize, history: Duration) -> ContainerAggregate {
    let start = SIM_EPOCH - history;
    let mut state = ContainerAggregate::new(start);
    let minutes = u32::try_from(history.as_secs() / 60).unwrap_or(u32::MAX);
    for m in 0..minutes {
        let t = start + MINUTE * m;
        state.add_cpu_sample(t, w.cpu_cores);
        state.add_memory_sample(t, w.usage_bytes(size, t));
    }
    state
}
