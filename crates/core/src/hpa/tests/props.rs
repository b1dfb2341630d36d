//! Properties: more load never gives fewer replicas; the result stays within
//! [minReplicas, maxReplicas]; the same inputs give the same answer.

use proptest::prelude::*;

use super::*;

/// A CPU scenario: pods with a common request, some without a sample, some Pending.
#[derive(Clone, Debug)]
struct Scenario {
    request: i64,
    target: i32,
    /// Per running pod: `None` = no sample.
    usage: Vec<Option<i64>>,
    pending: usize,
}

impl Scenario {
    fn pods(&self) -> Vec<PodInfo> {
        let mut pods = cpu_pods(self.usage.len(), self.request);
        for i in 0..self.pending {
            pods.push(cpu_pod(&format!("pending-{i}"), self.request).with_phase(PodPhase::Pending));
        }
        pods
    }

    fn current(&self) -> i32 {
        (self.usage.len() + self.pending) as i32
    }

    fn observation(&self) -> MetricObservation {
        let names: Vec<String> = (0..self.usage.len()).map(|i| format!("pod-{i}")).collect();
        let samples: Vec<(&str, i64)> = names
            .iter()
            .zip(&self.usage)
            .filter_map(|(n, u)| u.map(|u| (n.as_str(), u)))
            .collect();
        cpu_usage(&samples)
    }

    fn with_more_load(&self, extra: &[i64]) -> Scenario {
        let usage = self
            .usage
            .iter()
            .zip(extra.iter().cycle())
            .map(|(u, e)| u.map(|u| u + e))
            .collect();
        Scenario {
            usage,
            ..self.clone()
        }
    }
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (1usize..30, 100i64..4000, 10i32..200, 0usize..4).prop_flat_map(
        |(n, request, target, pending)| {
            // At least the first pod has a sample, so the metric never fails for lack of data.
            let first = (0i64..8000).prop_map(Some);
            let rest = prop::collection::vec(prop::option::weighted(0.8, 0i64..8000), n - 1);
            (first, rest).prop_map(move |(first, rest)| Scenario {
                request,
                target,
                usage: std::iter::once(first).chain(rest).collect(),
                pending,
            })
        },
    )
}

fn decide(spec: &HpaSpec, s: &Scenario) -> i32 {
    let observed = HpaObservation::new(s.current(), s.pods(), vec![s.observation()]);
    reconcile(
        spec,
        &observed,
        &mut HpaState::new(),
        &HpaControllerConfig::default(),
        NOW,
    )
    .unwrap()
    .desired_replicas
}

fn behavior_strategy() -> impl Strategy<Value = Option<HpaBehavior>> {
    let policy = (any::<bool>(), 1i32..200, 1i32..120).prop_map(|(pods, value, period)| {
        if pods {
            HpaScalingPolicy::pods(value, period)
        } else {
            HpaScalingPolicy::percent(value, period)
        }
    });
    let select = prop_oneof![
        Just(SelectPolicy::Max),
        Just(SelectPolicy::Min),
        Just(SelectPolicy::Disabled)
    ];
    let rules = (
        prop::option::of(0i32..600),
        prop::option::of(select),
        prop::option::of(prop::collection::vec(policy, 1..3)),
    )
        .prop_map(|(window, select, policies)| HpaScalingRules {
            stabilization_window_seconds: window,
            select_policy: select,
            policies,
            tolerance: None,
        });
    prop::option::of(
        (prop::option::of(rules.clone()), prop::option::of(rules)).prop_map(
            |(scale_up, scale_down)| HpaBehavior {
                scale_up,
                scale_down,
            },
        ),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Per metric: with the replica count equal to the pods, adding load to any pods never
    /// lowers the proposal (missing and Pending pods included).
    #[test]
    fn more_cpu_load_never_proposes_fewer_replicas(
        s in scenario(),
        extra in prop::collection::vec(0i64..3000, 1..30),
    ) {
        let more = s.with_more_load(&extra);
        let metric = cpu_utilization(s.target);
        let pods = s.pods();
        let low = replicas(propose(&metric, s.current(), &pods, s.observation()));
        let high = replicas(propose(&metric, s.current(), &pods, more.observation()));
        prop_assert!(high >= low, "{low} replicas at lower load, {high} at higher: {s:?} + {extra:?}");
    }

    /// Whole loop, legacy and with `behavior` (scale-down window 0 so it acts at once).
    #[test]
    fn more_load_never_gives_fewer_replicas(
        s in scenario(),
        extra in prop::collection::vec(0i64..3000, 1..30),
        max in 1i32..200,
    ) {
        let max = max.max(s.current());
        let legacy = HpaSpec::new(1, max, vec![cpu_utilization(s.target)]);
        let down_now = HpaScalingRules { stabilization_window_seconds: Some(0), ..HpaScalingRules::default() };
        let with_behavior = legacy.clone().with_behavior(HpaBehavior { scale_up: None, scale_down: Some(down_now) });
        let more = s.with_more_load(&extra);
        for spec in [&legacy, &with_behavior] {
            prop_assert!(decide(spec, &more) >= decide(spec, &s));
        }
    }

    /// Value-type metrics: a bigger total never gives fewer replicas (all pods ready).
    #[test]
    fn more_external_demand_never_gives_fewer_replicas(
        current in 1i32..50,
        low in 0i64..1_000_000,
        extra in 0i64..1_000_000,
        target in 1i64..100_000,
        average in any::<bool>(),
    ) {
        let target = crate::quantity::Quantity::from_milli(target);
        let target = if average { MetricTarget::average_value(target) } else { MetricTarget::value(target) };
        let metric = MetricSpec::external("q", target);
        let pods = cpu_pods(current as usize, 100);
        let a = replicas(propose(&metric, current, &pods, MetricObservation::External(vec![low])));
        let b = replicas(propose(&metric, current, &pods, MetricObservation::External(vec![low + extra])));
        prop_assert!(b >= a);
    }

    /// Over a run of loops with any behavior, every decision for a target that has replicas
    /// lies within [minReplicas, maxReplicas].
    #[test]
    fn decisions_stay_within_bounds(
        min in 1i32..10,
        span in 0i32..40,
        start in 1i32..80,
        behavior in behavior_strategy(),
        demands in prop::collection::vec((1i64..120, 0i64..200), 1..25),
    ) {
        let max = min + span;
        let mut spec = demand_spec(min, max);
        spec.behavior = behavior;
        let mut state = HpaState::new();
        let mut current = start;
        let mut t = 0;
        for (dt, wanted) in demands {
            t += dt;
            let d = step(&spec, &mut state, current, wanted, at(t));
            prop_assert!((min..=max).contains(&d.desired_replicas),
                "{} outside [{min}, {max}] from {current} wanting {wanted}", d.desired_replicas);
            prop_assert_eq!(d.rescale, d.desired_replicas != current);
            current = d.desired_replicas;
        }
    }

    /// The same spec, observation, state, config and time give the same decision and the
    /// same new state.
    #[test]
    fn same_inputs_same_answer(
        s in scenario(),
        behavior in behavior_strategy(),
        history in prop::collection::vec((1i64..60, 0i64..100), 0..10),
    ) {
        let mut spec = HpaSpec::new(1, 100, vec![cpu_utilization(s.target), demand()]);
        spec.behavior = behavior;
        // Build some history first.
        let mut state = HpaState::new();
        let mut current = s.current();
        let mut t = 0;
        for (dt, wanted) in history {
            t += dt;
            let observed = HpaObservation::new(current, s.pods(), vec![s.observation(), MetricObservation::External(vec![wanted * 1000])]);
            current = reconcile(&spec, &observed, &mut state, &HpaControllerConfig::default(), at(t)).unwrap().desired_replicas;
        }
        let observed = HpaObservation::new(current, s.pods(), vec![s.observation(), MetricObservation::External(vec![7000])]);
        let (mut a, mut b) = (state.clone(), state);
        let da = reconcile(&spec, &observed, &mut a, &HpaControllerConfig::default(), at(t + 15)).unwrap();
        let db = reconcile(&spec, &observed, &mut b, &HpaControllerConfig::default(), at(t + 15)).unwrap();
        prop_assert_eq!(da, db);
        prop_assert_eq!(a, b);
    }

    /// Hostile numbers (negative or extreme replica counts, extreme metric values) give a
    /// decision or an error, never a panic.
    #[test]
    fn extreme_inputs_never_panic(
        current in prop_oneof![Just(i32::MIN), Just(i32::MAX), -5i32..5, any::<i32>()],
        status in any::<i32>(),
        values in prop::collection::vec(any::<i64>(), 0..4),
        usage in any::<i64>(),
        max in prop_oneof![Just(i32::MAX), 1i32..100],
        behavior in behavior_strategy(),
    ) {
        let spec = HpaSpec::new(0, max, vec![
            demand(),
            MetricSpec::external("v", MetricTarget::value(q("1m"))),
            MetricSpec::pods("p", q("1m")),
            cpu_utilization(1),
        ]);
        let spec = HpaSpec { behavior, ..spec };
        let pods = vec![cpu_pod("pod-0", 1), cpu_pod("pod-1", 0)];
        let observed = HpaObservation {
            current_replicas: current,
            status_replicas: status,
            pods,
            metrics: vec![
                MetricObservation::External(values.clone()),
                MetricObservation::External(values),
                pod_values(&[("pod-0", usage), ("pod-1", usage)]),
                cpu_usage(&[("pod-0", usage), ("pod-1", usage)]),
            ],
        };
        for condition in [false, true] {
            let config = HpaControllerConfig::default().with_scaled_to_zero_condition(condition);
            let mut state = HpaState::new();
            for t in [0, 15, 400] {
                let _ = reconcile(&spec, &observed, &mut state, &config, at(t));
            }
        }
    }
}
