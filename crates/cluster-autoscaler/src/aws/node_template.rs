//! Node-template tags on an ASG (the upstream cluster-autoscaler convention), so a template node
//! built for a group with zero nodes carries the labels, taints and resources its real nodes will:
//!
//! - `k8s.io/cluster-autoscaler/node-template/label/<key>` = `<value>`
//! - `k8s.io/cluster-autoscaler/node-template/taint/<key>` = `<value>:<Effect>`
//! - `k8s.io/cluster-autoscaler/node-template/resources/<resource>` = `<quantity>` (e.g.
//!   `ephemeral-storage` = `100Gi`, `nvidia.com/gpu` = `1`)

use tidal_core::quantity::{parse_bytes, parse_cpu_millis};
use tidal_core::resources::ResourceName;

use crate::node_pool::{check_label_key, check_label_value, parse_taint};
use crate::ports::NodeTemplate;

/// Prefix of node-template label tags.
pub const LABEL_PREFIX: &str = "k8s.io/cluster-autoscaler/node-template/label/";
/// Prefix of node-template taint tags.
pub const TAINT_PREFIX: &str = "k8s.io/cluster-autoscaler/node-template/taint/";
/// Prefix of node-template resource tags.
pub const RESOURCES_PREFIX: &str = "k8s.io/cluster-autoscaler/node-template/resources/";

/// Reads the node-template tags among the tags of ASG `asg_name`. A malformed tag is left out
/// and described in [`NodeTemplate::problems`] (naming the ASG and the tag); the other tags
/// still apply.
pub fn parse_node_template<'a, I>(asg_name: &str, tags: I) -> NodeTemplate
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut out = NodeTemplate::default();
    let problem = |key: &str, why: String| {
        format!("ASG {asg_name}: ignoring node-template tag {key:?}: {why}")
    };
    let mut problems = Vec::new();
    for (key, value) in tags {
        if let Some(label) = key.strip_prefix(LABEL_PREFIX) {
            match check_label_key(label).and_then(|()| check_label_value(value)) {
                Ok(()) => {
                    out.labels.insert(label.to_owned(), value.to_owned());
                }
                Err(why) => problems.push(problem(key, why)),
            }
        } else if let Some(taint_key) = key.strip_prefix(TAINT_PREFIX) {
            match parse_taint(&format!("{taint_key}={value}")) {
                Ok(taint) => out.taints.push(taint),
                Err(e) => problems.push(problem(key, e)),
            }
        } else if let Some(resource) = key.strip_prefix(RESOURCES_PREFIX) {
            match parse_resource(resource, value) {
                Ok((name, amount)) => {
                    out.resources.insert(name, amount);
                }
                Err(e) => problems.push(problem(key, e)),
            }
        }
    }
    out.taints.sort();
    out.taints.dedup();
    out.problems = problems;
    out
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
        "pods" => {
            // `pods` becomes the template's max pods: a count the kubelet accepts.
            let pods = parse_bytes(value).map_err(|e| e.to_string())?;
            return match u32::try_from(pods) {
                Ok(n) if n > 0 => Ok((ResourceName::Pods, pods)),
                _ => Err(format!("pods {value:?} must be between 1 and {}", u32::MAX)),
            };
        }
        other => parse_bytes(value).map(|v| (ResourceName::Extended(other.to_owned()), v)),
    };
    parsed.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use tidal_core::scheduling::{Taint, TaintEffect};

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
        let t = parse_node_template("asg-ml", tags);
        assert!(t.problems.is_empty(), "{:?}", t.problems);
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
            ("k8s.io/cluster-autoscaler/node-template/label/bad key", "x"),
            (
                "k8s.io/cluster-autoscaler/node-template/label/team",
                "not ok!",
            ),
            ("k8s.io/cluster-autoscaler/node-template/label/ok", "yes"),
            (
                "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu",
                "1",
            ),
        ];
        let t = parse_node_template("asg-bad", tags);
        let problems = &t.problems;
        assert_eq!(problems.len(), 6, "{problems:?}");
        assert!(problems[0].contains("Sometimes"), "{}", problems[0]);
        assert!(problems[1].contains("lots"), "{}", problems[1]);
        assert!(problems[2].contains("negative"), "{}", problems[2]);
        for (p, tag) in problems.iter().zip([
            "taint/bad",
            "memory",
            "pods",
            "label/\"",
            "bad key",
            "not ok!",
        ]) {
            assert!(p.starts_with("ASG asg-bad: "), "{p}");
            assert!(p.contains(tag), "{p} should name {tag}");
        }
        assert!(t.taints.is_empty());
        assert_eq!(
            t.resources.keys().collect::<Vec<_>>(),
            [&ResourceName::Extended("nvidia.com/gpu".into())]
        );
        assert_eq!(t.labels.get("ok").map(String::as_str), Some("yes"));
        assert_eq!(t.labels.len(), 1, "{:?}", t.labels);
    }

    #[test]
    fn pods_must_be_a_usable_max_pods() {
        for bad in ["0", "5000000000"] {
            let t = parse_node_template(
                "asg-p",
                [(
                    "k8s.io/cluster-autoscaler/node-template/resources/pods",
                    bad,
                )],
            );
            assert!(t.resources.is_empty(), "{bad}");
            assert_eq!(t.problems.len(), 1, "{bad}");
            assert!(t.problems[0].contains("between 1 and"), "{}", t.problems[0]);
        }
        let t = parse_node_template(
            "asg-p",
            [(
                "k8s.io/cluster-autoscaler/node-template/resources/pods",
                "58",
            )],
        );
        assert_eq!(t.resources.get(&ResourceName::Pods), Some(&58));
    }

    #[test]
    fn groups_without_template_tags_give_an_empty_template() {
        let t = parse_node_template("asg", [("Name", "x"), ("tidal.io/node-pool", "default")]);
        assert!(t.is_empty(), "{t:?}");
    }
}
