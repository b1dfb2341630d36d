//! The scheduling view of pods and nodes: only what the predicates look at.
//!
//! These are plain values, built by adapters from Kubernetes objects (or by the simulator).
//! Matching helpers live next to the types so every predicate agrees on their meaning.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::resources::Resources;

/// Labels of a pod or node.
pub type Labels = BTreeMap<String, String>;

/// Well-known label: the node's availability zone.
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";
/// Well-known label: the node's region.
pub const LABEL_REGION: &str = "topology.kubernetes.io/region";
/// Well-known label: the node's host name (anti-affinity topology).
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
/// Well-known label: the node's instance type.
pub const LABEL_INSTANCE_TYPE: &str = "node.kubernetes.io/instance-type";
/// Well-known label: the node's CPU architecture (`amd64`, `arm64`).
pub const LABEL_ARCH: &str = "kubernetes.io/arch";
/// Well-known label: the node's operating system (`linux`).
pub const LABEL_OS: &str = "kubernetes.io/os";

/// What a taint does to pods that do not tolerate it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TaintEffect {
    /// New pods are not scheduled.
    NoSchedule,
    /// The scheduler tries to avoid the node; never blocks a fit.
    PreferNoSchedule,
    /// New pods are not scheduled and running ones are evicted.
    NoExecute,
}

impl TaintEffect {
    /// The Kubernetes spelling (`NoSchedule`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            TaintEffect::NoSchedule => "NoSchedule",
            TaintEffect::PreferNoSchedule => "PreferNoSchedule",
            TaintEffect::NoExecute => "NoExecute",
        }
    }
}

/// A node taint `key=value:effect`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Taint {
    /// Taint key.
    pub key: String,
    /// Taint value (may be empty).
    pub value: String,
    /// Taint effect.
    pub effect: TaintEffect,
}

impl Taint {
    /// A taint `key=value:effect`.
    pub fn new(key: impl Into<String>, value: impl Into<String>, effect: TaintEffect) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
            effect,
        }
    }
}

impl fmt::Display for Taint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            write!(f, "{}:{}", self.key, self.effect.as_str())
        } else {
            write!(f, "{}={}:{}", self.key, self.value, self.effect.as_str())
        }
    }
}

/// How a toleration compares its value with a taint's.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum TolerationOperator {
    /// Key and value must be equal (the Kubernetes default).
    #[default]
    Equal,
    /// Any value; with an empty key, any taint.
    Exists,
}

/// A pod toleration.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Toleration {
    /// Taint key to match; empty with `Exists` matches every key.
    pub key: String,
    /// Comparison operator.
    pub operator: TolerationOperator,
    /// Value to compare with `Equal`.
    pub value: String,
    /// Effect to match; `None` matches every effect.
    pub effect: Option<TaintEffect>,
}

impl Toleration {
    /// Tolerates `key=value` with the given effect (`None` = all effects).
    pub fn equal(
        key: impl Into<String>,
        value: impl Into<String>,
        effect: Option<TaintEffect>,
    ) -> Self {
        Self {
            key: key.into(),
            operator: TolerationOperator::Equal,
            value: value.into(),
            effect,
        }
    }

    /// Tolerates any value of `key` (an empty key tolerates every taint).
    pub fn exists(key: impl Into<String>, effect: Option<TaintEffect>) -> Self {
        Self {
            key: key.into(),
            operator: TolerationOperator::Exists,
            value: String::new(),
            effect,
        }
    }

    /// Does this toleration tolerate `taint` (Kubernetes `ToleratesTaint`)?
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if self.effect.is_some_and(|e| e != taint.effect) {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        match self.operator {
            TolerationOperator::Exists => true,
            TolerationOperator::Equal => self.value == taint.value,
        }
    }
}

/// Operators of a node selector requirement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum NodeSelectorOperator {
    /// Label present with one of the values.
    In,
    /// Label absent or with none of the values.
    NotIn,
    /// Label present.
    Exists,
    /// Label absent.
    DoesNotExist,
    /// Label present, an integer greater than the single value.
    Gt,
    /// Label present, an integer less than the single value.
    Lt,
}

/// One expression of a node selector term.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeSelectorRequirement {
    /// Node label key.
    pub key: String,
    /// Operator.
    pub operator: NodeSelectorOperator,
    /// Values (`In`/`NotIn`: a set; `Gt`/`Lt`: exactly one integer; else empty).
    pub values: Vec<String>,
}

impl NodeSelectorRequirement {
    /// A requirement `key operator values`.
    pub fn new(key: impl Into<String>, operator: NodeSelectorOperator, values: &[&str]) -> Self {
        Self {
            key: key.into(),
            operator,
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    /// Does a node with `labels` satisfy this requirement? Malformed `Gt`/`Lt` values match nothing.
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            NodeSelectorOperator::In => value.is_some_and(|v| self.values.contains(v)),
            NodeSelectorOperator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            NodeSelectorOperator::Exists => value.is_some(),
            NodeSelectorOperator::DoesNotExist => value.is_none(),
            NodeSelectorOperator::Gt | NodeSelectorOperator::Lt => {
                let (Some(v), [bound]) = (value, self.values.as_slice()) else {
                    return false;
                };
                match (v.parse::<i64>(), bound.parse::<i64>()) {
                    (Ok(v), Ok(b)) if self.operator == NodeSelectorOperator::Gt => v > b,
                    (Ok(v), Ok(b)) => v < b,
                    _ => false,
                }
            }
        }
    }
}

/// A node selector term: its expressions are ANDed. An empty term matches no node (as in Kubernetes).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeSelectorTerm {
    /// Expressions that must all hold.
    pub match_expressions: Vec<NodeSelectorRequirement>,
}

impl NodeSelectorTerm {
    /// A term of the given expressions.
    pub fn new(match_expressions: Vec<NodeSelectorRequirement>) -> Self {
        Self { match_expressions }
    }

    /// Does a node with `labels` satisfy every expression (and is the term non-empty)?
    pub fn matches(&self, labels: &Labels) -> bool {
        !self.match_expressions.is_empty()
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }
}

/// Operators of a label selector expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum LabelSelectorOperator {
    /// Label present with one of the values.
    In,
    /// Label absent or with none of the values.
    NotIn,
    /// Label present.
    Exists,
    /// Label absent.
    DoesNotExist,
}

/// One expression of a label selector.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LabelSelectorRequirement {
    /// Label key.
    pub key: String,
    /// Operator.
    pub operator: LabelSelectorOperator,
    /// Values for `In`/`NotIn`.
    pub values: Vec<String>,
}

/// A label selector (`matchLabels` and `matchExpressions`, ANDed). An empty selector matches every pod.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LabelSelector {
    /// Labels that must be present with these values.
    pub match_labels: Labels,
    /// Expressions that must all hold.
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

impl LabelSelector {
    /// A selector of `matchLabels` only.
    pub fn labels<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            match_labels: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            match_expressions: Vec::new(),
        }
    }

    /// Builder: adds a `matchExpressions` entry.
    pub fn with_expression(
        mut self,
        key: &str,
        operator: LabelSelectorOperator,
        values: &[&str],
    ) -> Self {
        self.match_expressions.push(LabelSelectorRequirement {
            key: key.to_owned(),
            operator,
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        });
        self
    }

    /// Does a pod with `labels` match?
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|e| {
                let value = labels.get(&e.key);
                match e.operator {
                    LabelSelectorOperator::In => value.is_some_and(|v| e.values.contains(v)),
                    LabelSelectorOperator::NotIn => value.is_none_or(|v| !e.values.contains(v)),
                    LabelSelectorOperator::Exists => value.is_some(),
                    LabelSelectorOperator::DoesNotExist => value.is_none(),
                }
            })
    }
}

/// Transport protocol of a host port.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum Protocol {
    /// TCP (the Kubernetes default).
    #[default]
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

/// A host port a pod binds on its node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HostPort {
    /// Protocol.
    pub protocol: Protocol,
    /// Port number.
    pub port: u16,
    /// Host IP to bind; `None` (or an unspecified address) means all addresses.
    pub host_ip: Option<IpAddr>,
}

impl HostPort {
    /// A TCP host port on all addresses.
    pub fn tcp(port: u16) -> Self {
        Self {
            protocol: Protocol::Tcp,
            port,
            host_ip: None,
        }
    }

    /// Would two pods binding `self` and `other` conflict on one node?
    pub fn conflicts_with(&self, other: &HostPort) -> bool {
        let wildcard = |ip: Option<IpAddr>| ip.is_none_or(|ip| ip.is_unspecified());
        self.protocol == other.protocol
            && self.port == other.port
            && (wildcard(self.host_ip) || wildcard(other.host_ip) || self.host_ip == other.host_ip)
    }
}

/// Whether a spread constraint blocks scheduling or only steers it.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum WhenUnsatisfiable {
    /// Blocks a placement that would exceed `maxSkew` (the Kubernetes default).
    #[default]
    DoNotSchedule,
    /// Only a preference; never blocks a fit.
    ScheduleAnyway,
}

/// A topology spread constraint over `topology.kubernetes.io/zone`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TopologySpreadConstraint {
    /// Largest allowed difference between the zone with the most and the fewest matching pods.
    pub max_skew: u32,
    /// Whether violating it blocks the fit.
    pub when_unsatisfiable: WhenUnsatisfiable,
    /// Which pods (in the pod's namespace) are counted.
    pub selector: LabelSelector,
}

/// The scheduling view of a pod.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PodSpec {
    /// Pod name (for reports only; never used by predicates).
    pub name: String,
    /// Namespace: anti-affinity and spread selectors count pods of this namespace only.
    pub namespace: String,
    /// Pod labels.
    pub labels: Labels,
    /// Summed container requests, with `pods = 1`.
    pub requests: Resources,
    /// `spec.nodeSelector`: every pair must be a node label.
    pub node_selector: Labels,
    /// Required node affinity terms, ORed; empty means no constraint.
    pub required_node_affinity: Vec<NodeSelectorTerm>,
    /// Tolerations.
    pub tolerations: Vec<Toleration>,
    /// Host ports the pod binds.
    pub host_ports: Vec<HostPort>,
    /// Zone of a bound persistent volume the pod needs.
    pub volume_zone: Option<String>,
    /// Required pod anti-affinity on `kubernetes.io/hostname`: no pod matching any of these
    /// (in the same namespace) may share the node.
    pub anti_affinity: Vec<LabelSelector>,
    /// Topology spread constraints over zones.
    pub topology_spread: Vec<TopologySpreadConstraint>,
}

impl PodSpec {
    /// A pod in namespace `default` with the given requests (`pods` is forced to 1).
    pub fn new(name: impl Into<String>, requests: Resources) -> Self {
        Self {
            name: name.into(),
            namespace: "default".to_owned(),
            requests: requests.with_pods(1),
            ..Self::default()
        }
    }

    /// Builder: sets the namespace.
    pub fn in_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Builder: adds a label.
    pub fn with_label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Builder: adds a nodeSelector pair.
    pub fn with_node_selector(mut self, key: &str, value: &str) -> Self {
        self.node_selector.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Builder: adds a required node affinity term (terms are ORed).
    pub fn with_affinity_term(mut self, term: NodeSelectorTerm) -> Self {
        self.required_node_affinity.push(term);
        self
    }

    /// Builder: adds a toleration.
    pub fn with_toleration(mut self, toleration: Toleration) -> Self {
        self.tolerations.push(toleration);
        self
    }

    /// Builder: adds a host port.
    pub fn with_host_port(mut self, port: HostPort) -> Self {
        self.host_ports.push(port);
        self
    }

    /// Builder: needs a volume bound in `zone`.
    pub fn with_volume_zone(mut self, zone: &str) -> Self {
        self.volume_zone = Some(zone.to_owned());
        self
    }

    /// Builder: adds a required anti-affinity term on hostname.
    pub fn with_anti_affinity(mut self, selector: LabelSelector) -> Self {
        self.anti_affinity.push(selector);
        self
    }

    /// Builder: adds a zone spread constraint.
    pub fn with_zone_spread(
        mut self,
        max_skew: u32,
        when: WhenUnsatisfiable,
        selector: LabelSelector,
    ) -> Self {
        self.topology_spread.push(TopologySpreadConstraint {
            max_skew,
            when_unsatisfiable: when,
            selector,
        });
        self
    }

    /// True when every scheduling-relevant field equals `other`'s (the name is ignored):
    /// such pods are interchangeable for the predicates.
    pub fn same_requirements(&self, other: &PodSpec) -> bool {
        self.namespace == other.namespace
            && self.requests == other.requests
            && self.labels == other.labels
            && self.node_selector == other.node_selector
            && self.required_node_affinity == other.required_node_affinity
            && self.tolerations == other.tolerations
            && self.host_ports == other.host_ports
            && self.volume_zone == other.volume_zone
            && self.anti_affinity == other.anti_affinity
            && self.topology_spread == other.topology_spread
    }
}

/// The scheduling view of a node (real or template).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSpec {
    /// Node name (unique in a cluster).
    pub name: String,
    /// Node labels, including the zone label.
    pub labels: Labels,
    /// Node taints.
    pub taints: Vec<Taint>,
    /// Allocatable resources (`pods` = max pods).
    pub allocatable: Resources,
}

impl NodeSpec {
    /// A node with a hostname label and the given allocatable resources.
    pub fn new(name: impl Into<String>, allocatable: Resources) -> Self {
        let name = name.into();
        let mut labels = Labels::new();
        labels.insert(LABEL_HOSTNAME.to_owned(), name.clone());
        Self {
            name,
            labels,
            taints: Vec::new(),
            allocatable,
        }
    }

    /// Builder: adds a label.
    pub fn with_label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Builder: sets the zone label.
    pub fn in_zone(self, zone: &str) -> Self {
        self.with_label(LABEL_ZONE, zone)
    }

    /// Builder: adds a taint.
    pub fn with_taint(mut self, taint: Taint) -> Self {
        self.taints.push(taint);
        self
    }

    /// The node's zone label, if any.
    pub fn zone(&self) -> Option<&str> {
        self.labels.get(LABEL_ZONE).map(String::as_str)
    }

    /// A copy renamed to `name`, its hostname label updated (how template nodes are stamped out).
    pub fn renamed(&self, name: impl Into<String>) -> NodeSpec {
        let mut copy = self.clone();
        copy.name = name.into();
        copy.labels
            .insert(LABEL_HOSTNAME.to_owned(), copy.name.clone());
        copy
    }
}
