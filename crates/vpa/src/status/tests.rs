#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use tidal_core::Timestamp;
use tidal_core::vpa::{
    Amounts, ContainerMode, ContainerPolicy, ContainerRecommendation, ResourcePolicy,
    VpaRecommendation,
};

use super::*;
use crate::crd::{RecommendedPodResources, VerticalPodAutoscalerCondition};

fn computed(name: &str, cpu: i64, memory: i64) -> ContainerRecommendation {
    let a = Amounts::new(cpu, memory);
    ContainerRecommendation {
        container_name: name.to_owned(),
        target: a,
        lower_bound: a,
        upper_bound: a,
        uncapped_target: a,
        confidence_days: 2.0,
    }
}

fn rendered(name: &str, cpu: &str, memory: &str) -> RecommendedContainerResources {
    let list: ResourceList = [("cpu", cpu), ("memory", memory)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Quantity(v.to_owned())))
        .collect();
    RecommendedContainerResources {
        container_name: name.to_owned(),
        target: list.clone(),
        lower_bound: list.clone(),
        upper_bound: list.clone(),
        uncapped_target: list,
    }
}

fn pod(containers: Vec<RecommendedContainerResources>) -> RecommendedPodResources {
    RecommendedPodResources {
        container_recommendations: containers,
    }
}

#[test]
fn with_data_the_new_recommendation_replaces_the_last_even_when_lower() {
    let previous = pod(vec![rendered("app", "500m", "1073741824")]);
    let new = VpaRecommendation {
        containers: vec![computed("app", 200, 536_870_912)],
        notes: vec![],
    };
    let running = BTreeSet::from(["app".to_owned()]);
    let policy = ResourcePolicy::default();
    let how = Merge {
        data_missing: false,
        running: &running,
        policy: &policy,
    };
    let out = merge(Some(&previous), &new, &how).unwrap();
    assert_eq!(out, pod(vec![rendered("app", "200m", "536870912")]));
}

#[test]
fn missing_data_never_lowers_a_value_and_keeps_containers_the_core_has_nothing_for() {
    let previous = pod(vec![
        rendered("app", "500m", "1073741824"),
        rendered("sidecar", "50m", "104857600"),
    ]);
    let new = VpaRecommendation {
        containers: vec![computed("app", 800, 536_870_912)],
        notes: vec![],
    };
    let running = BTreeSet::new();
    let policy = ResourcePolicy::default();
    let how = Merge {
        data_missing: true,
        running: &running,
        policy: &policy,
    };
    let out = merge(Some(&previous), &new, &how).unwrap();
    let app = &out.container_recommendations[0];
    assert_eq!(app.target["cpu"].0, "800m", "a higher value is taken");
    assert_eq!(app.target["memory"].0, "1073741824", "a lower one is not");
    assert_eq!(
        out.container_recommendations[1],
        rendered("sidecar", "50m", "104857600")
    );

    // With data, a container neither computed nor running is dropped; one switched off too.
    let running = BTreeSet::from(["app".to_owned()]);
    let mut off = ContainerPolicy::new("app");
    off.mode = ContainerMode::Off;
    let policy = ResourcePolicy::new(vec![off]).unwrap();
    let how = Merge {
        data_missing: false,
        running: &running,
        policy: &policy,
    };
    let empty = VpaRecommendation::default();
    assert_eq!(merge(Some(&previous), &empty, &how), None);
}

fn status(
    cpu: &str,
    conditions: Vec<VerticalPodAutoscalerCondition>,
) -> VerticalPodAutoscalerStatus {
    VerticalPodAutoscalerStatus {
        recommendation: Some(pod(vec![rendered("app", cpu, "1073741824")])),
        conditions,
    }
}

#[test]
fn only_meaningful_changes_are_written() {
    let provided = conditions(
        &[],
        vec![Condition::yes(
            ConditionKind::RecommendationProvided,
            "",
            "",
        )],
        Timestamp::from_secs(100),
    );
    let old = status("1000m", provided.clone());
    assert!(!changed_meaningfully(
        Some(&old),
        &status("1005m", provided.clone()),
        0.01
    ));
    assert!(changed_meaningfully(
        Some(&old),
        &status("1020m", provided.clone()),
        0.01
    ));
    assert!(changed_meaningfully(None, &old, 0.01));
    let mut more = provided.clone();
    more.extend(conditions(
        &[],
        vec![Condition::yes(
            ConditionKind::NoPodsMatched,
            "NoPodsMatched",
            "x",
        )],
        Timestamp::from_secs(100),
    ));
    assert!(changed_meaningfully(
        Some(&old),
        &status("1000m", more),
        0.01
    ));
}

#[test]
fn an_unchanged_condition_keeps_its_transition_time() {
    let first = conditions(
        &[],
        vec![Condition::yes(
            ConditionKind::NoPodsMatched,
            "NoPodsMatched",
            "m",
        )],
        Timestamp::from_secs(100),
    );
    let again = conditions(
        &first,
        vec![Condition::yes(
            ConditionKind::NoPodsMatched,
            "NoPodsMatched",
            "m",
        )],
        Timestamp::from_secs(200),
    );
    assert_eq!(again, first);
    let flipped = conditions(
        &first,
        vec![Condition {
            kind: ConditionKind::NoPodsMatched,
            status: false,
            reason: "",
            message: String::new(),
        }],
        Timestamp::from_secs(200),
    );
    assert_ne!(
        flipped[0].last_transition_time,
        first[0].last_transition_time
    );
}
