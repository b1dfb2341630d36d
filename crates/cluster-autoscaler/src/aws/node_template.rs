//! Node-template tags on an ASG (the upstream cluster-autoscaler convention), so a template node
//! built for a group with zero nodes carries the labels, taints and resources its real nodes will:
//!
//! - `k8s.io/cluster-autoscaler/node-template/label/<key>` = `<value>`
//! - `k8s.io/cluster-autoscaler/node-template/taint/<key>` = `<value>:<Effect>`
//! - `k8s.io/cluster-autoscaler/node-template/resources/<resource>` = `<quantity>` (e.g.
//!   `ephemeral-storage` = `100Gi`, `nvidia.com/gpu` = `1`)

use std::collections::BTreeMap;

use tidal_core::quantity::{parse_bytes, parse_cpu_millis};
use tidal_core::resources::ResourceName;
use tidal_core::scheduling::{Labels, Taint};

use crate::node_pool::parse_taint;

/// Prefix of node-template label tags.
pub const LABEL_PREFIX: &str = "k8s.io/cluster-autoscaler/node-template/label/";
/// Prefix of node-template taint tags.
pub const TAINT_PREFIX: &str = "k8s.io/cluster-autoscaler/node-template/taint/";
/// Prefix of node-template resource tags.
pub const RESOURCES_PREFIX: &str = "k8s.io/cluster-autoscaler/node-template/resources/";

/// What an ASG's node-template tags say about its nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeTemplateTags {
    /// Extra node labels.
    pub labels: Labels,
    /// Extra node taints.
    pub taints: Vec<Taint>,
    /// Resource capacities that override (or add to) what the instance type says, in core units
    /// (milli-CPU, bytes, counts).
    pub resources: BTreeMap<ResourceName, i64>,
}

impl NodeTemplateTags {
    /// True when the ASG had no node-template tags.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.taints.is_empty() && self.resources.is_empty()
    }
}

/// Reads the node-template tags among `tags`. A malformed tag is left out and described in the
/// returned problems (the caller logs them with the ASG's name); other tags still apply.
pub fn parse_node_template<'a, I>(tags: I) -> (NodeTemplateTags, Vec<String>)
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut out = NodeTemplateTags::default();
    let mut problems = Vec::new();
    for (key, value) in tags {
        if let Some(label) = key.strip_prefix(LABEL_PREFIX) {
            if label.is_empty() {
                problems.push(format!("tag {key:?}: empty label key"));
            } else {
                out.labels.insert(label.to_owned(), value.to_owned());
            }
        } else if let Some(taint_key) = key.strip_prefix(TAINT_PREFIX) {
            match parse_taint(&format!("{taint_key}={value}")) {
                Ok(taint) => out.taints.push(taint),
                Err(e) => problems.push(format!("tag {key:?}: {e}")),
            }
        } else if let Some(resource) = key.strip_prefix(RESOURCES_PREFIX) {
            match parse_resource(resource, value) {
                Ok((name, amount)) => {
                    out.resources.insert(name, amount);
                }
                Err(e) => problems.push(format!("tag {key:?}: {e}")),
            }
        }
    }
    out.taints.sort();
    out.taints.dedup();
    (out, problems)
}

/// A resource tag's name and amount in core units: milli-CPU for `cpu`, whole units (bytes,
/// counts) for everything else.
fn parse_resource(name: &str, value: &str) -> Result<(ResourceName, i64), String> {
    let value = value.trim();
    let parsed = match name {
        "" => return Err("empty resource name".to_owned()),
        "cpu" => parse_cpu_millis(value).map(|v| (ResourceName::Cpu, v)),
        "memory" => parse_bytes(value).map(|v| (ResourceName::Memory, v)),
        "ephemeral-storage" => parse_bytes(value).map(|v| (ResourceName::EphemeralStorage, v)),
        "pods" => parse_bytes(value).map(|v| (ResourceName::Pods, v)),
        other => parse_bytes(value).map(|v| (ResourceName::Extended(other.to_owned()), v)),
    };
    parsed.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use tidal_core::scheduling::TaintEffect;

    const GI: i64 = 1 << 30;

    #[test]
    fn labels_taints_and_resources_are_read() {
        let tags = [
            ("k8s.io/cluster-autoscaler/enabled", "true"),
            (
                "k8s.io/cluster-autoscaler/node-template/label/nvidia.com/gpu.product",
                "T4",
            ),
            ("k8s.io/cluster-autoscaler/node-template/label/team", "ml"),
            (
                "k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu",
                "present:NoSchedule",
            ),
            (
                "k8s.io/cluster-autoscaler/node-template/taint/dedicated",
                ":NoExecute",
            ),
            (
                "k8s.io/cluster-autoscaler/node-template/resources/ephemeral-storage",
                "100Gi",
            ),
            (
                "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu",
                "4",
            ),
            (
                "k8s.io/cluster-autoscaler/node-template/resources/cpu",
                "1500m",
            ),
        ];
        let (t, problems) = parse_node_template(tags);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            t.labels.get("nvidia.com/gpu.product").map(String::as_str),
            Some("T4")
        );
        assert_eq!(t.labels.get("team").map(String::as_str), Some("ml"));
        assert_eq!(t.labels.len(), 2);
        assert_eq!(
            t.taints,
            vec![
                Taint::new("dedicated", "", TaintEffect::NoExecute),
                Taint::new("nvidia.com/gpu", "present", TaintEffect::NoSchedule),
            ]
        );
        assert_eq!(
            t.resources.get(&ResourceName::EphemeralStorage),
            Some(&(100 * GI))
        );
        assert_eq!(
            t.resources
                .get(&ResourceName::Extended("nvidia.com/gpu".into())),
            Some(&4)
        );
        assert_eq!(t.resources.get(&ResourceName::Cpu), Some(&1500));
    }

    #[test]
    fn malformed_tags_are_reported_and_the_rest_still_apply() {
        let tags = [
            (
                "k8s.io/cluster-autoscaler/node-template/taint/bad",
                "value:Sometimes",
            ),
            (
                "k8s.io/cluster-autoscaler/node-template/resources/memory",
                "lots",
            ),
            (
                "k8s.io/cluster-autoscaler/node-template/resources/pods",
                "-3",
            ),
            ("k8s.io/cluster-autoscaler/node-template/label/", "x"),
            ("k8s.io/cluster-autoscaler/node-template/label/ok", "yes"),
        ];
        let (t, problems) = parse_node_template(tags);
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].contains("Sometimes"), "{}", problems[0]);
        assert!(problems[1].contains("lots"), "{}", problems[1]);
        assert!(problems[2].contains("negative"), "{}", problems[2]);
        assert!(t.taints.is_empty() && t.resources.is_empty());
        assert_eq!(t.labels.get("ok").map(String::as_str), Some("yes"));
    }

    #[test]
    fn groups_without_template_tags_give_an_empty_template() {
        let (t, problems) = parse_node_template([("Name", "x"), ("tidal.io/node-pool", "default")]);
        assert!(t.is_empty() && problems.is_empty());
    }
}
