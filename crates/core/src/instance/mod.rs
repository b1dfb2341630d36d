//! EC2 instance types and the template nodes the autoscaler simulates for a node pool.
//!
//! - [`InstanceType`]: what DescribeInstanceTypes says about a type.
//! - [`template_node`]: a pool's template node (allocatable = capacity − reserved, SPEC §3).
//! - [`max_pods_for_node_cidr`], [`node_limit_for_cluster_cidr`]: IP-address limits.

mod cidr;
mod template;
mod types;

pub use cidr::{CidrError, MAX_PODS_CAP, max_pods_for_node_cidr, node_limit_for_cluster_cidr};
pub use template::{
    ReservedConfig, ReservedSettings, TemplateSpec, kube_reserved_cpu_millis, template_node,
};
pub use types::{Architecture, InstanceError, InstanceType};
