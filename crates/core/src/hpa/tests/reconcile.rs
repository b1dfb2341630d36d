//! Whole loops through `reconcile`: bounds, disabled scaling, failed metrics, the
//! decision's fields, scale to and from zero.

use super::*;

#[test]
fn zero_replicas_disable_scaling() {
    let mut state = HpaState::new();
    let d = step(&demand_spec(1, 10), &mut state, 0, 5, at(0));
    assert_eq!((d.desired_replicas, d.rescale), (0, false));
    assert_eq!(
        d.scaling_active,
        Some(Condition {
            status: false,
            reason: ScalingActiveReason::ScalingDisabled
        })
    );
    assert!(d.metrics.is_empty(), "metrics are not consulted");
}

#[test]
fn replicas_outside_the_bounds_are_brought_back_without_metrics() {
    let mut state = HpaState::new();
    let d = step(&demand_spec(2, 5), &mut state, 8, 8, at(0));
    assert_eq!((d.desired_replicas, d.rescale), (5, true));
    assert_eq!(
        d.reason.as_deref(),
        Some("Current number of replicas above Spec.MaxReplicas")
    );
    assert!(d.metrics.is_empty() && d.scaling_active.is_none());
    let d = step(&demand_spec(2, 5), &mut state, 1, 1, at(15));
    assert_eq!((d.desired_replicas, d.rescale), (2, true));
    assert_eq!(
        d.reason.as_deref(),
        Some("Current number of replicas below Spec.MinReplicas")
    );
    // With behavior the forced change is recorded as a scale event (it counts for policies).
    let spec = demand_spec(2, 5).with_behavior(HpaBehavior::default());
    let mut state = HpaState::new();
    step(&spec, &mut state, 8, 8, at(0));
    assert_eq!(state.scale_down_events.len(), 1);
    assert_eq!(state.scale_down_events[0].replica_change, 3);
}

#[test]
fn invalid_spec_is_an_error_and_changes_nothing() {
    let mut state = HpaState::new();
    let spec = demand_spec(5, 2);
    let observed = HpaObservation::new(3, vec![], vec![MetricObservation::External(vec![1])]);
    let err = reconcile(
        &spec,
        &observed,
        &mut state,
        &HpaControllerConfig::default(),
        NOW,
    )
    .unwrap_err();
    assert!(
        matches!(err, HpaError::InvalidSpec { ref field, .. } if field == "maxReplicas"),
        "{err}"
    );
    assert_eq!(state, HpaState::new());
}

#[test]
fn failed_metrics_keep_the_count_and_say_why() {
    let spec = HpaSpec::new(1, 10, vec![cpu_utilization(50), demand()]);
    let pods = cpu_pods(4, 1000);
    // CPU at 10 % asks for 1 of 4; the demand metric failed: no scale-down.
    let observed = HpaObservation::new(
        4,
        pods.clone(),
        vec![
            cpu_usage_of(&[100; 4]),
            MetricObservation::Unavailable("adapter timed out".into()),
        ],
    );
    let config = HpaControllerConfig::try_new(
        0.1,
        DEFAULT_CPU_INITIALIZATION_PERIOD,
        DEFAULT_INITIAL_READINESS_DELAY,
        Duration::ZERO,
    )
    .unwrap();
    let mut state = HpaState::new();
    let d = reconcile(&spec, &observed, &mut state, &config, NOW).unwrap();
    assert_eq!((d.desired_replicas, d.rescale), (4, false));
    assert_eq!(
        d.scaling_active,
        Some(Condition {
            status: false,
            reason: ScalingActiveReason::FailedGetExternalMetric
        })
    );
    assert_eq!(d.metric_replicas, None);
    assert_eq!(d.metrics[0].result.as_ref().map(|p| p.replicas), Ok(1));
    assert!(
        d.first_metric_error()
            .unwrap()
            .to_string()
            .contains("adapter timed out")
    );
    // Nothing but the initial recommendation was recorded.
    assert_eq!(state.recommendations.len(), 1);

    // CPU at 100 % asks for ceil(2.0 × 4) = 8: scale-up goes ahead despite the failure.
    let observed = HpaObservation::new(
        4,
        pods,
        vec![
            cpu_usage_of(&[1000; 4]),
            MetricObservation::Unavailable("adapter timed out".into()),
        ],
    );
    let d = reconcile(&spec, &observed, &mut state, &config, at(15)).unwrap();
    assert_eq!((d.desired_replicas, d.rescale), (8, true));
    assert_eq!(
        d.scaling_active,
        Some(Condition {
            status: true,
            reason: ScalingActiveReason::ValidMetricFound
        })
    );
}

#[test]
fn decision_explains_itself() {
    let spec = HpaSpec::new(1, 10, vec![cpu_utilization(30)]);
    let observed = HpaObservation::new(3, cpu_pods(3, 1000), vec![cpu_usage_of(&[300, 500, 700])]);
    let mut state = HpaState::new();
    let d = reconcile(
        &spec,
        &observed,
        &mut state,
        &HpaControllerConfig::default(),
        NOW,
    )
    .unwrap();
    // 50 % of a 30 % target → 5; the legacy limit max(6, 4) = 6 does not bind.
    assert_eq!(d.current_replicas, 3);
    assert_eq!((d.desired_replicas, d.rescale), (5, true));
    assert_eq!(d.metric_replicas, Some(5));
    assert_eq!(d.stabilized_replicas, Some(5));
    assert_eq!(
        d.metric_name.as_deref(),
        Some("cpu resource utilization (percentage of request)")
    );
    assert_eq!(
        d.reason.as_deref(),
        Some("cpu resource utilization (percentage of request) above target")
    );
    assert_eq!(d.able_to_scale, Some(AbleToScaleReason::ReadyForNewScale));
    assert_eq!(
        d.scaling_limited,
        limited(ScalingLimitedReason::DesiredWithinRange, false)
    );
    assert_eq!(
        d.metrics[0]
            .result
            .as_ref()
            .unwrap()
            .current
            .average_utilization,
        Some(50)
    );
    assert_eq!(ScalingLimitedReason::ScaleUpLimit.as_str(), "ScaleUpLimit");
    assert_eq!(
        AbleToScaleReason::ScaleDownStabilized.to_string(),
        "ScaleDownStabilized"
    );
    let json = serde_json_string(&d);
    assert!(json.contains("\"desired_replicas\":5"), "{json}");
}

fn serde_json_string(d: &HpaDecision) -> String {
    serde_json::to_string(d).unwrap()
}

#[test]
fn no_metrics_means_cpu_at_80_percent() {
    let spec = HpaSpec::new(1, 10, vec![]);
    // 90 % of an 80 % target = 1.125 → ceil(1.125 × 4) = 5.
    let observed = HpaObservation::new(4, cpu_pods(4, 1000), vec![cpu_usage_of(&[900; 4])]);
    let d = reconcile(
        &spec,
        &observed,
        &mut HpaState::new(),
        &HpaControllerConfig::default(),
        NOW,
    )
    .unwrap();
    assert_eq!(d.desired_replicas, 5);
}

#[test]
fn per_hpa_tolerance_overrides_the_controller_tolerance() {
    // Demand 5 with 4 replicas: ratio 1.25. Default tolerance 0.1 → 5; scale-up tolerance
    // 0.5 → 1.25 is within → stay at 4.
    assert_eq!(
        run(
            &demand_spec(1, 10).with_behavior(HpaBehavior::default()),
            4,
            &[(0, 5)]
        ),
        vec![5]
    );
    let tolerant = HpaBehavior {
        scale_up: Some(HpaScalingRules {
            tolerance: Some(q("0.5")),
            ..HpaScalingRules::default()
        }),
        scale_down: None,
    };
    assert_eq!(
        run(&demand_spec(1, 10).with_behavior(tolerant), 4, &[(0, 5)]),
        vec![4]
    );
    // The controller-wide tolerance is configurable too.
    let config = HpaControllerConfig::try_new(
        0.3,
        DEFAULT_CPU_INITIALIZATION_PERIOD,
        DEFAULT_INITIAL_READINESS_DELAY,
        DEFAULT_DOWNSCALE_STABILIZATION_WINDOW,
    )
    .unwrap();
    let d = step_with(
        &demand_spec(1, 10),
        &mut HpaState::new(),
        &config,
        4,
        5,
        at(0),
    );
    assert_eq!(d.desired_replicas, 4);
    assert!(
        HpaControllerConfig::try_new(-0.1, Duration::ZERO, Duration::ZERO, Duration::ZERO).is_err()
    );
    assert!(
        HpaControllerConfig::try_new(f64::NAN, Duration::ZERO, Duration::ZERO, Duration::ZERO)
            .is_err()
    );
}

#[test]
fn min_replicas_zero_scales_a_target_at_zero_from_its_metrics() {
    // A target at zero that the HPA did not scale there (fresh state): with minReplicas 0
    // Kubernetes reads the metrics. Object Value 3 of 1 → ceil(3) = 3 from zero.
    let spec = HpaSpec::new(
        0,
        10,
        vec![MetricSpec::object(
            "Queue",
            "jobs",
            "depth",
            MetricTarget::value(q("1")),
        )],
    );
    let observed = HpaObservation::new(0, Vec::new(), vec![MetricObservation::Object(3_000)]);
    let d = reconcile(
        &spec,
        &observed,
        &mut HpaState::new(),
        &HpaControllerConfig::default(),
        NOW,
    )
    .unwrap();
    assert_eq!((d.desired_replicas, d.rescale), (3, true));
    assert_eq!(
        d.scaling_active,
        Some(Condition {
            status: true,
            reason: ScalingActiveReason::ValidMetricFound
        })
    );
    assert_eq!(d.reason.as_deref(), Some("Queue metric depth above target"));
    // External AverageValue: demand 2 → ceil(2 / 1) = 2.
    let d = step(&demand_spec(0, 10), &mut HpaState::new(), 0, 2, at(0));
    assert_eq!((d.desired_replicas, d.rescale), (2, true));
    // minReplicas 1 at zero: switched off, whatever the metric says.
    let d = step(&demand_spec(1, 10), &mut HpaState::new(), 0, 2, at(0));
    assert_eq!((d.desired_replicas, d.rescale), (0, false));
}

#[test]
fn min_replicas_zero_needs_an_object_or_external_metric() {
    let spec = HpaSpec::new(0, 10, vec![cpu_utilization(50)]);
    let observed = HpaObservation::new(2, cpu_pods(2, 1000), vec![cpu_usage_of(&[500, 500])]);
    let err = reconcile(
        &spec,
        &observed,
        &mut HpaState::new(),
        &HpaControllerConfig::default(),
        NOW,
    )
    .unwrap_err();
    assert!(
        matches!(err, HpaError::InvalidSpec { ref field, .. } if field == "metrics"),
        "{err}"
    );
    assert!(err.to_string().contains("Object or External"), "{err}");
    // Without metrics the default is CPU, which cannot scale from zero either.
    assert!(HpaSpec::new(0, 10, vec![]).validate().is_err());
    assert!(demand_spec(0, 10).validate().is_ok());
}

#[test]
fn scaled_to_zero_condition_rule() {
    let fast_down = HpaScalingRules {
        stabilization_window_seconds: Some(0),
        ..HpaScalingRules::default()
    };
    let spec = demand_spec(0, 10).with_behavior(HpaBehavior {
        scale_up: None,
        scale_down: Some(fast_down),
    });
    let config = HpaControllerConfig::default().with_scaled_to_zero_condition(true);
    let mut state = HpaState::new();
    // Demand 0 from 2: ceil(0/1) = 0; Percent 100 % allows trunc(2 × 0) = 0; minReplicas 0.
    let d = step_with(&spec, &mut state, &config, 2, 0, at(0));
    assert_eq!(d.desired_replicas, 0);
    assert!(state.scaled_to_zero);
    // From zero, demand 5: ceil(5/1) = 5; scale-up policies allow max(0 + 4, ceil(0 × 2)) = 4.
    let d = step_with(&spec, &mut state, &config, 0, 5, at(15));
    assert_eq!((d.desired_replicas, d.rescale), (4, true));
    assert!(!state.scaled_to_zero);
    // Under the condition rule a zero the HPA did not reach itself switches it off…
    let d = step_with(&spec, &mut HpaState::new(), &config, 0, 5, at(0));
    assert_eq!((d.desired_replicas, d.rescale), (0, false));
    // …while the default rule (minReplicas 0) scales it.
    let d = step(&spec, &mut HpaState::new(), 0, 5, at(0));
    assert_eq!((d.desired_replicas, d.rescale), (4, true));
    // The default rule does not keep the condition.
    let mut state = HpaState::new();
    step(&spec, &mut state, 2, 0, at(0));
    assert!(!state.scaled_to_zero);
}

#[test]
fn from_zero_respects_min_replicas_under_the_condition_rule() {
    // Scaled to zero earlier, minReplicas since raised to 3: come back to at least 3.
    let spec = demand_spec(3, 10).with_behavior(HpaBehavior::default());
    let config = HpaControllerConfig::default().with_scaled_to_zero_condition(true);
    let mut state = HpaState {
        scaled_to_zero: true,
        ..HpaState::new()
    };
    let d = step_with(&spec, &mut state, &config, 0, 1, at(0));
    assert_eq!(d.desired_replicas, 3);
    // Under the default rule, minReplicas 3 at zero replicas switches the HPA off.
    let d = step(&spec, &mut state, 0, 1, at(0));
    assert_eq!((d.desired_replicas, d.rescale), (0, false));
}

#[test]
fn cpu_hpa_over_several_loops() {
    // 4 pods at 1000m requests, target 50 %, legacy behaviour.
    let spec = HpaSpec::new(2, 20, vec![cpu_utilization(50)]);
    let config = HpaControllerConfig::default();
    let mut state = HpaState::new();
    let mut current = 4;
    let mut history = Vec::new();
    // Load in millicores per pod, as if total load were spread evenly.
    for (t, total_load) in [(0, 4000), (15, 4000), (30, 1200), (330, 1200), (345, 1200)] {
        let per_pod = total_load / i64::from(current);
        let pods = cpu_pods(current as usize, 1000);
        let observed = HpaObservation::new(
            current,
            pods,
            vec![cpu_usage_of(&vec![per_pod; current as usize])],
        );
        current = reconcile(&spec, &observed, &mut state, &config, at(t))
            .unwrap()
            .desired_replicas;
        history.push(current);
    }
    // 0 s: 100 % → 2.0 → 8 (limit max(8, 4) = 8). 15 s: 500m each → 50 % → stays 8.
    // 30 s: 150m → 15 % → 0.3 → ceil(2.4) = 3, held at 8 by the 300 s window.
    // 330 s: everything up to 30 s is at least 300 s old and out of the window; only this
    // loop's 3 is left → 3. 345 s: 400m each → 40 % → 0.8 → ceil(2.4) = 3 → stays 3.
    assert_eq!(history, vec![8, 8, 8, 3, 3]);
}
