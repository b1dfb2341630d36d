//! The API server's validation of an HPA spec, so a spec that Kubernetes would refuse
//! is refused here too, with the field named.

use super::HpaError;
use super::spec::{HpaScalingRules, HpaSpec, MetricSpec, MetricTarget};

/// Longest stabilization window Kubernetes admits, in seconds.
pub const MAX_STABILIZATION_WINDOW_SECONDS: i32 = 3600;
/// Longest policy period Kubernetes admits, in seconds.
pub const MAX_POLICY_PERIOD_SECONDS: i32 = 1800;

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> HpaError {
    HpaError::InvalidSpec {
        field: field.into(),
        reason: reason.into(),
    }
}

impl HpaSpec {
    /// Checks the spec as the Kubernetes API server would, naming the first bad field.
    ///
    /// `minReplicas: 0` is accepted with an Object or External metric, as Kubernetes admits
    /// it with the `HPAScaleToZero` feature gate on (resource and Pods metrics need running
    /// pods, so they cannot bring a target back from zero).
    pub fn validate(&self) -> Result<(), HpaError> {
        if self.min_replicas < 0 {
            return Err(invalid("minReplicas", "must be greater than or equal to 0"));
        }
        if self.max_replicas < 1 {
            return Err(invalid("maxReplicas", "must be greater than or equal to 1"));
        }
        if self.max_replicas < self.min_replicas {
            return Err(invalid(
                "maxReplicas",
                format!(
                    "must be greater than or equal to minReplicas ({})",
                    self.min_replicas
                ),
            ));
        }
        for (i, metric) in self.metrics.iter().enumerate() {
            validate_metric(metric, &format!("metrics[{i}]"))?;
        }
        if self.min_replicas == 0 && !self.has_object_or_external_metric() {
            return Err(invalid(
                "metrics",
                "must specify at least one Object or External metric to support scaling to zero replicas",
            ));
        }
        if let Some(behavior) = &self.behavior {
            if let Some(rules) = &behavior.scale_up {
                validate_rules(rules, "behavior.scaleUp")?;
            }
            if let Some(rules) = &behavior.scale_down {
                validate_rules(rules, "behavior.scaleDown")?;
            }
        }
        Ok(())
    }
}

fn validate_metric(metric: &MetricSpec, path: &str) -> Result<(), HpaError> {
    let (source, name_field, name, allowed): (&str, &str, &str, &[&str]) = match metric {
        MetricSpec::Resource { resource } => (
            "resource",
            "name",
            &resource.name,
            &["Utilization", "AverageValue"],
        ),
        MetricSpec::ContainerResource { container_resource } => {
            if container_resource.container.is_empty() {
                return Err(invalid(
                    format!("{path}.containerResource.container"),
                    "must name a container",
                ));
            }
            (
                "containerResource",
                "name",
                &container_resource.name,
                &["Utilization", "AverageValue"],
            )
        }
        MetricSpec::Pods { pods } => ("pods", "metric.name", &pods.metric.name, &["AverageValue"]),
        MetricSpec::Object { object } => {
            if object.described_object.kind.is_empty() || object.described_object.name.is_empty() {
                return Err(invalid(
                    format!("{path}.object.describedObject"),
                    "must give a kind and a name",
                ));
            }
            (
                "object",
                "metric.name",
                &object.metric.name,
                &["Value", "AverageValue"],
            )
        }
        MetricSpec::External { external } => (
            "external",
            "metric.name",
            &external.metric.name,
            &["Value", "AverageValue"],
        ),
    };
    if name.is_empty() {
        return Err(invalid(
            format!("{path}.{source}.{name_field}"),
            "must not be empty",
        ));
    }
    validate_target(metric, &format!("{path}.{source}.target"), allowed)
}

/// The target's type must suit the metric type and its value must be positive.
fn validate_target(metric: &MetricSpec, path: &str, allowed: &[&str]) -> Result<(), HpaError> {
    let target = metric.target();
    if !allowed.contains(&target.kind()) {
        return Err(invalid(
            format!("{path}.type"),
            format!(
                "{} is not allowed for a {} metric (allowed: {})",
                target.kind(),
                metric.type_name(),
                allowed.join(", ")
            ),
        ));
    }
    match target {
        MetricTarget::Utilization {
            average_utilization,
        } if *average_utilization <= 0 => Err(invalid(
            format!("{path}.averageUtilization"),
            "must be greater than 0",
        )),
        MetricTarget::AverageValue { average_value } if average_value.nano_value() <= 0 => {
            Err(invalid(format!("{path}.averageValue"), "must be positive"))
        }
        MetricTarget::Value { value } if value.nano_value() <= 0 => {
            Err(invalid(format!("{path}.value"), "must be positive"))
        }
        _ => Ok(()),
    }
}

fn validate_rules(rules: &HpaScalingRules, path: &str) -> Result<(), HpaError> {
    if let Some(window) = rules.stabilization_window_seconds
        && !(0..=MAX_STABILIZATION_WINDOW_SECONDS).contains(&window)
    {
        return Err(invalid(
            format!("{path}.stabilizationWindowSeconds"),
            format!("must be between 0 and {MAX_STABILIZATION_WINDOW_SECONDS}, got {window}"),
        ));
    }
    if let Some(policies) = &rules.policies {
        if policies.is_empty() {
            return Err(invalid(
                format!("{path}.policies"),
                "must specify at least one policy",
            ));
        }
        for (i, policy) in policies.iter().enumerate() {
            if policy.value <= 0 {
                return Err(invalid(
                    format!("{path}.policies[{i}].value"),
                    format!("must be greater than 0, got {}", policy.value),
                ));
            }
            if !(1..=MAX_POLICY_PERIOD_SECONDS).contains(&policy.period_seconds) {
                return Err(invalid(
                    format!("{path}.policies[{i}].periodSeconds"),
                    format!(
                        "must be between 1 and {MAX_POLICY_PERIOD_SECONDS}, got {}",
                        policy.period_seconds
                    ),
                ));
            }
        }
    }
    if let Some(tolerance) = &rules.tolerance
        && tolerance.nano_value() < 0
    {
        return Err(invalid(
            format!("{path}.tolerance"),
            format!("must be greater than or equal to 0, got {tolerance}"),
        ));
    }
    Ok(())
}
