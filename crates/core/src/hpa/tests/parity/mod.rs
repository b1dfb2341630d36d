//! A table that walks every rule of SPEC §1 through [`reconcile`], with the numbers
//! Kubernetes' own controller gives. Each row names its rule (SPEC §1 wording, and the
//! upstream function in `pkg/controller/podautoscaler`) and derives its numbers by hand in
//! a comment, from `replica_calculator.go` and `horizontal.go`.
//!
//! A row asserts `(largest metric proposal, desired replicas)` of one loop at [`NOW`]:
//! the proposal shows the calculation (`None` when metrics were not consulted or blocked
//! the change), the desired count shows stabilization, rate limits and bounds.

mod calculation;
mod normalization;

use std::time::Duration;

use super::*;

/// One loop of one HPA and what Kubernetes decides.
pub(super) struct Row {
    /// The rule, as SPEC §1 names it.
    rule: &'static str,
    spec: HpaSpec,
    observed: HpaObservation,
    state: HpaState,
    config: HpaControllerConfig,
    /// `(metric_replicas, desired_replicas)`.
    want: (Option<i32>, i32),
}

/// A row with a fresh state and [`no_window`] settings.
pub(super) fn row(
    rule: &'static str,
    spec: HpaSpec,
    observed: HpaObservation,
    want: (Option<i32>, i32),
) -> Row {
    Row {
        rule,
        spec,
        observed,
        state: HpaState::new(),
        config: no_window(),
        want,
    }
}

impl Row {
    /// The same row with what the controller remembers from earlier loops.
    pub(super) fn after(mut self, state: HpaState) -> Self {
        self.state = state;
        self
    }

    /// The same row with kube-controller-manager's default settings (300 s downscale
    /// stabilization window).
    pub(super) fn with_default_config(mut self) -> Self {
        self.config = HpaControllerConfig::default();
        self
    }
}

/// kube-controller-manager's defaults (tolerance 0.1, CPU initialization 5 min, initial
/// readiness delay 30 s) with no downscale stabilization window, so a calculation row's
/// scale-down is not held by the recommendation a fresh controller records first.
pub(super) fn no_window() -> HpaControllerConfig {
    HpaControllerConfig::try_new(
        DEFAULT_TOLERANCE,
        DEFAULT_CPU_INITIALIZATION_PERIOD,
        DEFAULT_INITIAL_READINESS_DELAY,
        Duration::ZERO,
    )
    .unwrap()
}

/// Runs every row and reports all mismatches at once.
pub(super) fn check(rows: Vec<Row>) {
    let mut failures = Vec::new();
    for mut r in rows {
        let current = r.observed.current_replicas;
        match reconcile(&r.spec, &r.observed, &mut r.state, &r.config, NOW) {
            Ok(d) => {
                let got = (d.metric_replicas, d.desired_replicas);
                if got != r.want || d.rescale != (d.desired_replicas != current) {
                    failures.push(format!(
                        "{}: got {got:?} (rescale {}), want {:?}",
                        r.rule, d.rescale, r.want
                    ));
                }
            }
            Err(e) => failures.push(format!("{}: error {e}", r.rule)),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// An observation of `current` replicas.
pub(super) fn obs(
    current: i32,
    pods: Vec<PodInfo>,
    metrics: Vec<MetricObservation>,
) -> HpaObservation {
    HpaObservation::new(current, pods, metrics)
}

/// An observation where the [`demand`] metric asks for `wanted` replicas.
pub(super) fn demand_at(current: i32, wanted: i64) -> HpaObservation {
    obs(
        current,
        Vec::new(),
        vec![MetricObservation::External(vec![wanted * 1000])],
    )
}

/// Recommendations `(replicas, seconds ago)` remembered from earlier loops.
pub(super) fn recommendations(entries: &[(i32, i64)]) -> HpaState {
    HpaState {
        recommendations: entries
            .iter()
            .map(|&(replicas, s)| TimestampedRecommendation {
                replicas,
                timestamp: ago(s),
            })
            .collect(),
        ..HpaState::new()
    }
}

/// Scale events `(replicas changed, seconds ago)`.
pub(super) fn events(entries: &[(i32, i64)]) -> Vec<ScaleEvent> {
    entries
        .iter()
        .map(|&(replica_change, s)| ScaleEvent {
            replica_change,
            timestamp: ago(s),
            outdated: false,
        })
        .collect()
}
