//! A VPA's `spec.resourcePolicy` read into the core's validated `ResourcePolicy`. Whatever is
//! wrong (a quantity that does not parse, an unknown resource, min above max) becomes one
//! message for the ConfigUnsupported condition, naming the field.

use tidal_core::quantity::{parse_bytes, parse_cpu_millis};
use tidal_core::vpa::{
    Amounts, ContainerMode, ContainerPolicy, ControlledValues, ResourcePolicy, VpaResource,
};

use crate::crd::{self, ContainerScalingMode, ResourceList, VerticalPodAutoscaler};

/// The VPA's resource policy, or what is wrong with it.
pub fn resource_policy(vpa: &VerticalPodAutoscaler) -> Result<ResourcePolicy, String> {
    let Some(policy) = &vpa.spec.resource_policy else {
        return Ok(ResourcePolicy::default());
    };
    let mut out = Vec::with_capacity(policy.container_policies.len());
    for (i, p) in policy.container_policies.iter().enumerate() {
        let name = p.container_name.clone().unwrap_or_else(|| "*".to_owned());
        let field = |f: &str| format!("spec.resourcePolicy.containerPolicies[{i}].{f}");
        let mut c = ContainerPolicy::new(name);
        c.mode = match p.mode {
            Some(ContainerScalingMode::Off) => ContainerMode::Off,
            Some(ContainerScalingMode::Unknown) => {
                return Err(format!("{}: expected Auto or Off", field("mode")));
            }
            _ => ContainerMode::Auto,
        };
        c.min_allowed = amounts(p.min_allowed.as_ref(), &field("minAllowed"))?;
        c.max_allowed = amounts(p.max_allowed.as_ref(), &field("maxAllowed"))?;
        c.controlled_resources = match &p.controlled_resources {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|r| {
                        VpaResource::parse(r)
                            .map_err(|e| format!("{}: {e}", field("controlledResources")))
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        c.controlled_values = match p.controlled_values {
            Some(crd::ControlledValues::RequestsOnly) => ControlledValues::RequestsOnly,
            Some(crd::ControlledValues::Unknown) => {
                return Err(format!(
                    "{}: expected RequestsAndLimits or RequestsOnly",
                    field("controlledValues")
                ));
            }
            _ => ControlledValues::RequestsAndLimits,
        };
        out.push(c);
    }
    ResourcePolicy::new(out).map_err(|e| format!("spec.resourcePolicy: {e}"))
}

fn amounts(list: Option<&ResourceList>, field: &str) -> Result<Amounts, String> {
    let mut out = Amounts::default();
    for (name, q) in list.into_iter().flatten() {
        let resource = VpaResource::parse(name).map_err(|e| format!("{field}: {e}"))?;
        let value = match resource {
            VpaResource::Cpu => parse_cpu_millis(&q.0),
            VpaResource::Memory => parse_bytes(&q.0),
        }
        .map_err(|e| format!("{field}.{name}: {e}"))?;
        out.set(resource, Some(value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn vpa(policies: serde_json::Value) -> VerticalPodAutoscaler {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
            "metadata": {"name": "v", "namespace": "n"},
            "spec": {"targetRef": {"kind": "Deployment", "name": "d"},
                     "resourcePolicy": {"containerPolicies": policies}}
        }))
        .unwrap()
    }

    #[test]
    fn a_valid_policy_is_read_into_the_core_types() {
        let p = resource_policy(&vpa(serde_json::json!([
            {"containerName": "app", "minAllowed": {"cpu": "100m", "memory": "128Mi"},
             "maxAllowed": {"memory": "2Gi"}, "controlledResources": ["memory"],
             "controlledValues": "RequestsOnly"},
            {"containerName": "*", "mode": "Off"}
        ])))
        .unwrap();
        let app = p.for_container("app").unwrap();
        assert_eq!(app.min_allowed, Amounts::new(100, 128 << 20));
        assert_eq!(app.max_allowed.memory_bytes, Some(2 << 30));
        assert!(!app.controls(VpaResource::Cpu));
        assert_eq!(app.controlled_values, ControlledValues::RequestsOnly);
        assert!(!p.is_enabled("sidecar"));
    }

    #[test]
    fn malformed_policies_are_named_not_panicked_on() {
        for (policies, needle) in [
            (
                serde_json::json!([{"containerName": "a", "minAllowed": {"memory": "2Gi"}, "maxAllowed": {"memory": "1Gi"}}]),
                "minAllowed.memory",
            ),
            (
                serde_json::json!([{"containerName": "a", "maxAllowed": {"gpu": "1"}}]),
                "containerPolicies[0].maxAllowed",
            ),
            (
                serde_json::json!([{"containerName": "a", "controlledResources": ["storage"]}]),
                "controlledResources",
            ),
            (
                serde_json::json!([{"containerName": "a", "minAllowed": {"cpu": "lots"}}]),
                "minAllowed.cpu",
            ),
        ] {
            let err = resource_policy(&vpa(policies)).unwrap_err();
            assert!(err.contains(needle), "{err} should name {needle}");
        }
    }
}
