//! A VPA's resource policy (`spec.resourcePolicy`), validated.

use std::fmt;

/// A resource the recommender sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VpaResource {
    /// `cpu`, in millicores.
    Cpu,
    /// `memory`, in bytes.
    Memory,
}

impl VpaResource {
    /// Both resources, CPU first.
    pub const ALL: [VpaResource; 2] = [VpaResource::Cpu, VpaResource::Memory];

    /// The Kubernetes name.
    pub fn as_str(self) -> &'static str {
        match self {
            VpaResource::Cpu => "cpu",
            VpaResource::Memory => "memory",
        }
    }

    /// Parses a Kubernetes resource name; only `cpu` and `memory` are sized by a VPA.
    pub fn parse(name: &str) -> Result<Self, PolicyError> {
        match name {
            "cpu" => Ok(VpaResource::Cpu),
            "memory" => Ok(VpaResource::Memory),
            other => Err(PolicyError::UnknownResource {
                resource: other.chars().take(64).collect(),
            }),
        }
    }
}

impl fmt::Display for VpaResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// CPU (millicores) and memory (bytes) amounts; `None` = not set / not controlled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Amounts {
    /// CPU in millicores.
    pub cpu_millis: Option<i64>,
    /// Memory in bytes.
    pub memory_bytes: Option<i64>,
}

impl Amounts {
    /// Both amounts set.
    pub fn new(cpu_millis: i64, memory_bytes: i64) -> Self {
        Self {
            cpu_millis: Some(cpu_millis),
            memory_bytes: Some(memory_bytes),
        }
    }

    /// The amount of `resource`.
    pub fn get(&self, resource: VpaResource) -> Option<i64> {
        match resource {
            VpaResource::Cpu => self.cpu_millis,
            VpaResource::Memory => self.memory_bytes,
        }
    }

    /// Sets the amount of `resource`.
    pub fn set(&mut self, resource: VpaResource, value: Option<i64>) {
        match resource {
            VpaResource::Cpu => self.cpu_millis = value,
            VpaResource::Memory => self.memory_bytes = value,
        }
    }
}

/// `containerPolicies[].mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ContainerMode {
    /// Recommend (the default).
    #[default]
    Auto,
    /// No recommendation for this container.
    Off,
}

/// `containerPolicies[].controlledValues`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ControlledValues {
    /// Requests and limits; limits keep their ratio to requests (the default).
    #[default]
    RequestsAndLimits,
    /// Requests only; limits are left as they are.
    RequestsOnly,
}

/// One `containerPolicies[]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerPolicy {
    /// The container name, or `*` for every container without its own entry.
    pub container_name: String,
    /// `mode`.
    pub mode: ContainerMode,
    /// `minAllowed` (unset or zero = no minimum).
    pub min_allowed: Amounts,
    /// `maxAllowed` (unset or zero = no maximum).
    pub max_allowed: Amounts,
    /// `controlledResources` (`None` = cpu and memory).
    pub controlled_resources: Option<Vec<VpaResource>>,
    /// `controlledValues`.
    pub controlled_values: ControlledValues,
}

impl ContainerPolicy {
    /// An `Auto` policy for `container_name` with no bounds.
    pub fn new(container_name: impl Into<String>) -> Self {
        Self {
            container_name: container_name.into(),
            mode: ContainerMode::Auto,
            min_allowed: Amounts::default(),
            max_allowed: Amounts::default(),
            controlled_resources: None,
            controlled_values: ControlledValues::RequestsAndLimits,
        }
    }

    /// True when `resource` is recommended for this container.
    pub fn controls(&self, resource: VpaResource) -> bool {
        self.controlled_resources
            .as_ref()
            .is_none_or(|list| list.contains(&resource))
    }

    /// `minAllowed` of `resource`, when set and positive.
    pub fn min(&self, resource: VpaResource) -> Option<i64> {
        self.min_allowed.get(resource).filter(|v| *v > 0)
    }

    /// `maxAllowed` of `resource`, when set and positive.
    pub fn max(&self, resource: VpaResource) -> Option<i64> {
        self.max_allowed.get(resource).filter(|v| *v > 0)
    }
}

/// `spec.resourcePolicy`, validated: no duplicate container names, no minimum above its
/// maximum, no negative amount.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourcePolicy {
    policies: Vec<ContainerPolicy>,
}

/// Why a resource policy was refused (the crate reports it as a VPA condition).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A resource other than `cpu` or `memory`.
    #[error("unknown resource {resource:?}: a VPA sizes only cpu and memory")]
    UnknownResource {
        /// The name given (at most 64 characters of it).
        resource: String,
    },
    /// `minAllowed` above `maxAllowed`.
    #[error(
        "containerPolicies[{index}] ({container}): minAllowed.{resource} {min} is above maxAllowed.{resource} {max}"
    )]
    MinAboveMax {
        /// Position in `containerPolicies`.
        index: usize,
        /// Its container name.
        container: String,
        /// The resource.
        resource: VpaResource,
        /// `minAllowed`.
        min: i64,
        /// `maxAllowed`.
        max: i64,
    },
    /// A negative amount.
    #[error("containerPolicies[{index}] ({container}): {field}.{resource} is negative")]
    Negative {
        /// Position in `containerPolicies`.
        index: usize,
        /// Its container name.
        container: String,
        /// `minAllowed` or `maxAllowed`.
        field: &'static str,
        /// The resource.
        resource: VpaResource,
    },
    /// Two entries for one container name.
    #[error("containerPolicies[{index}]: container {container:?} appears twice")]
    Duplicate {
        /// Position of the second entry.
        index: usize,
        /// The repeated name.
        container: String,
    },
}

impl ResourcePolicy {
    /// Validates `policies` (see the type doc).
    pub fn new(policies: Vec<ContainerPolicy>) -> Result<Self, PolicyError> {
        // A VPA is tenant input: keep the check linear in the number of entries.
        let mut seen = std::collections::HashSet::with_capacity(policies.len());
        for (index, p) in policies.iter().enumerate() {
            if !seen.insert(p.container_name.as_str()) {
                return Err(PolicyError::Duplicate {
                    index,
                    container: p.container_name.clone(),
                });
            }
            for resource in VpaResource::ALL {
                for (field, v) in [
                    ("minAllowed", p.min_allowed.get(resource)),
                    ("maxAllowed", p.max_allowed.get(resource)),
                ] {
                    if v.is_some_and(|v| v < 0) {
                        return Err(PolicyError::Negative {
                            index,
                            container: p.container_name.clone(),
                            field,
                            resource,
                        });
                    }
                }
                if let (Some(min), Some(max)) = (p.min(resource), p.max(resource))
                    && min > max
                {
                    return Err(PolicyError::MinAboveMax {
                        index,
                        container: p.container_name.clone(),
                        resource,
                        min,
                        max,
                    });
                }
            }
        }
        Ok(Self { policies })
    }

    /// The entries, as given.
    pub fn container_policies(&self) -> &[ContainerPolicy] {
        &self.policies
    }

    /// The policy of `container`: its own entry, else the `*` entry, else none.
    pub fn for_container(&self, container: &str) -> Option<&ContainerPolicy> {
        self.policies
            .iter()
            .find(|p| p.container_name == container)
            .or_else(|| self.policies.iter().find(|p| p.container_name == "*"))
    }

    /// True when `container` gets a recommendation (its mode is not `Off`).
    pub fn is_enabled(&self, container: &str) -> bool {
        self.for_container(container)
            .is_none_or(|p| p.mode == ContainerMode::Auto)
    }
}
