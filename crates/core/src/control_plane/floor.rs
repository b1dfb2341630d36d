//! The smallest size for a node count, whatever the load: kube-up and kops chose the master size
//! from the node count once (SPEC §4); here it is a floor the load can only raise.

use super::ladder::{Capacity, Ladder};

/// Node-count thresholds and the capacity each requires, ascending by node count.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NodeFloor {
    steps: Vec<(u32, Capacity)>,
}

impl NodeFloor {
    /// No floor (EKS tiers: the standard tier grows with the node count by itself).
    pub fn none() -> Self {
        Self::default()
    }

    /// kube-up's table in vCPUs of AWS sizes: 1–10 nodes 2 vCPU (medium, large), 11–100 4
    /// (xlarge), 101–250 8 (2xlarge), 251–500 16 (4xlarge), more 32 (8xlarge).
    pub fn kube_up() -> Self {
        Self::from_vcpus(&[(1, 2), (11, 4), (101, 8), (251, 16), (501, 32)])
    }

    /// A floor of `(at least this many nodes, at least this many vCPUs)` steps.
    pub fn from_vcpus(steps: &[(u32, u32)]) -> Self {
        let mut steps: Vec<(u32, Capacity)> = steps
            .iter()
            .map(|&(nodes, vcpus)| {
                (
                    nodes,
                    Capacity {
                        vcpus: Some(vcpus),
                        ..Capacity::default()
                    },
                )
            })
            .collect();
        steps.sort_by_key(|(nodes, _)| *nodes);
        Self { steps }
    }

    /// The capacity `nodes` require, if any.
    pub fn required(&self, nodes: u32) -> Option<Capacity> {
        self.steps
            .iter()
            .rev()
            .find(|(at_least, _)| nodes >= *at_least)
            .map(|(_, c)| *c)
    }

    /// The smallest rung of `ladder` that offers what `nodes` require (the top rung when none
    /// does); `None` without a requirement.
    pub fn rung(&self, ladder: &Ladder, nodes: u32) -> Option<usize> {
        let need = self.required(nodes)?;
        let found = ladder.rungs().iter().position(|r| r.capacity.covers(&need));
        Some(found.unwrap_or(ladder.len() - 1))
    }
}
