//! Several metrics: the largest proposal wins, a failed metric blocks scale-down,
//! proposals saturate.

use super::*;

fn combined(
    metrics: &[MetricSpec],
    observations: Vec<MetricObservation>,
    current: i32,
    pods: &[PodInfo],
) -> MetricsSummary {
    let config = HpaControllerConfig::default();
    let ctx = MetricContext {
        spec_replicas: current,
        status_replicas: current,
        calculator: ReplicaCalculator::new(pods, &config, NOW),
        tolerances: Tolerances::symmetric(0.1),
    };
    compute_replicas_for_metrics(metrics, &observations, &ctx)
}

#[test]
fn largest_proposal_wins() {
    // CPU asks for 5 (scale-up case above); the pods metric asks for ceil(1.2 × 3) = 4.
    let pods = cpu_pods(3, 1000);
    let summary = combined(
        &[MetricSpec::pods("qps", q("10")), cpu_utilization(30)],
        vec![
            pod_values(&[("pod-0", 12_000), ("pod-1", 12_000), ("pod-2", 12_000)]),
            cpu_usage_of(&[300, 500, 700]),
        ],
        3,
        &pods,
    );
    assert_eq!(summary.replicas, Some(5));
    assert_eq!(
        summary.metric.as_deref(),
        Some("cpu resource utilization (percentage of request)")
    );
    let each: Vec<i32> = summary
        .outcomes
        .iter()
        .map(|o| o.result.as_ref().unwrap().replicas)
        .collect();
    assert_eq!(each, vec![4, 5]);
}

#[test]
fn a_failed_metric_blocks_scale_down_but_not_scale_up() {
    let down = cpu_usage_of(&[100, 300, 500, 250, 250]); // asks for 3 of 5
    let external = MetricSpec::external("q", MetricTarget::value(q("1")));
    let metrics = [cpu_utilization(50), external];
    let failed = || MetricObservation::Unavailable("adapter unreachable".into());
    let summary = combined(&metrics, vec![down, failed()], 5, &cpu_pods(5, 1000));
    assert_eq!(
        summary.replicas, None,
        "scale-down with a failed metric is refused"
    );
    assert!(summary.outcomes[1].result.is_err());

    let up = cpu_usage_of(&[1000; 5]); // 100 %/50 → 2.0 → 10
    let summary = combined(&metrics, vec![up, failed()], 5, &cpu_pods(5, 1000));
    assert_eq!(summary.replicas, Some(10), "scale-up goes ahead");

    let steady = cpu_usage_of(&[500; 5]); // at target → 5, not below current
    let summary = combined(&metrics, vec![steady, failed()], 5, &cpu_pods(5, 1000));
    assert_eq!(summary.replicas, Some(5));

    let summary = combined(&metrics, vec![failed(), failed()], 5, &cpu_pods(5, 1000));
    assert_eq!(summary.replicas, None, "all metrics failed");
    let summary = combined(&metrics, vec![], 5, &cpu_pods(5, 1000));
    assert!(matches!(
        summary.outcomes[0].result,
        Err(HpaError::MissingObservation { index: 0, .. })
    ));
}

#[test]
fn proposals_saturate_at_i32_max() {
    // 9.2e18 / 1m = 9.2e18 → saturates instead of wrapping.
    let metric = MetricSpec::external("q", MetricTarget::average_value(q("1m")));
    let p = propose(
        &metric,
        1,
        &cpu_pods(1, 1000),
        MetricObservation::External(vec![i64::MAX, i64::MAX]),
    );
    assert_eq!(replicas(p), i32::MAX);
    let metric = MetricSpec::external("q", MetricTarget::value(q("1m")));
    let p = propose(
        &metric,
        1,
        &cpu_pods(1, 1000),
        MetricObservation::External(vec![i64::MAX]),
    );
    assert_eq!(replicas(p), i32::MAX);
}
