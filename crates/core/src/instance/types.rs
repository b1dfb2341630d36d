//! Instance-type data and its errors.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::resources::ResourceName;

/// CPU architecture, with its Kubernetes label value.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// x86-64 (`amd64`).
    #[default]
    Amd64,
    /// 64-bit ARM, e.g. Graviton (`arm64`).
    Arm64,
}

impl Architecture {
    /// The `kubernetes.io/arch` label value.
    pub fn label(self) -> &'static str {
        match self {
            Architecture::Amd64 => "amd64",
            Architecture::Arm64 => "arm64",
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// An EC2 instance type as the autoscaler needs it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InstanceType {
    /// Name, e.g. `m5.large`.
    pub name: String,
    /// Virtual CPUs.
    pub vcpus: u32,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// Number of GPUs.
    pub gpus: u32,
    /// Extended resource the GPUs appear as (default `nvidia.com/gpu`).
    pub gpu_resource: Option<String>,
    /// CPU architecture.
    pub architecture: Architecture,
    /// Maximum network interfaces.
    pub max_enis: u32,
    /// IPv4 addresses per network interface.
    pub ipv4_per_eni: u32,
    /// Burstable (T family).
    pub burstable: bool,
    /// Bare metal.
    pub bare_metal: bool,
    /// Current generation.
    pub current_generation: bool,
}

impl InstanceType {
    /// A current-generation amd64 type without GPUs (adjust fields for others).
    pub fn new(name: impl Into<String>, vcpus: u32, memory_mib: u64) -> Self {
        Self {
            name: name.into(),
            vcpus,
            memory_mib,
            gpus: 0,
            gpu_resource: None,
            architecture: Architecture::Amd64,
            max_enis: 0,
            ipv4_per_eni: 0,
            burstable: false,
            bare_metal: false,
            current_generation: true,
        }
    }

    /// Builder: network limits.
    pub fn with_network(mut self, max_enis: u32, ipv4_per_eni: u32) -> Self {
        self.max_enis = max_enis;
        self.ipv4_per_eni = ipv4_per_eni;
        self
    }

    /// Builder: GPUs.
    pub fn with_gpus(mut self, gpus: u32) -> Self {
        self.gpus = gpus;
        self
    }

    /// Builder: architecture.
    pub fn with_architecture(mut self, architecture: Architecture) -> Self {
        self.architecture = architecture;
        self
    }

    /// The extended resource name of this type's GPUs.
    pub fn gpu_resource_name(&self) -> &str {
        self.gpu_resource
            .as_deref()
            .unwrap_or(crate::resources::NVIDIA_GPU)
    }

    /// Max pods with the AWS VPC CNI (one IP per pod): `ENIs × (IPs per ENI − 1) + 2`;
    /// `None` when the network limits are unknown (zero).
    pub fn eni_max_pods(&self) -> Option<u32> {
        if self.max_enis == 0 || self.ipv4_per_eni == 0 {
            return None;
        }
        Some(
            self.max_enis
                .saturating_mul(self.ipv4_per_eni - 1)
                .saturating_add(2),
        )
    }

    /// Checks that the type has CPU and memory.
    pub fn validate(&self) -> Result<(), InstanceError> {
        if self.name.is_empty() {
            return Err(InstanceError::InvalidInstanceType {
                name: self.name.clone(),
                reason: "empty name",
            });
        }
        if self.vcpus == 0 || self.memory_mib == 0 {
            return Err(InstanceError::InvalidInstanceType {
                name: self.name.clone(),
                reason: "zero vCPUs or memory",
            });
        }
        Ok(())
    }
}

/// Errors building template nodes or reserved-resource settings.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum InstanceError {
    /// A pool must list at least one instance type.
    #[error("template {template:?}: no instance types")]
    NoInstanceTypes {
        /// Template name.
        template: String,
    },
    /// An instance type has unusable data.
    #[error("instance type {name:?}: {reason}")]
    InvalidInstanceType {
        /// Type name.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A pool mixes CPU architectures: pods selecting one would be simulated on the other.
    #[error("template {template:?}: instance types mix architectures ({first} and {other})")]
    MixedArchitectures {
        /// Template name.
        template: String,
        /// Architecture of the first type.
        first: Architecture,
        /// A different architecture in the pool.
        other: Architecture,
    },
    /// A required template field is empty or zero.
    #[error("template {template:?}: {field} must be set")]
    MissingField {
        /// Template name.
        template: String,
        /// Field name.
        field: &'static str,
    },
    /// Reserved resources exceed the capacity of a type.
    #[error("instance type {instance_type:?}: reserved {resource} exceeds capacity")]
    NoAllocatable {
        /// Type name.
        instance_type: String,
        /// The exhausted resource.
        resource: ResourceName,
    },
    /// A reserved-resource setting is out of range.
    #[error("reserved settings: {field} {reason}")]
    InvalidReserved {
        /// Setting name.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}
