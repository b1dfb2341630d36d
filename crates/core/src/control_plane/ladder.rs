//! The size ladder: the sizes a control plane can run at, smallest first.
//!
//! Self-managed clusters: EC2 instance types ordered by (vCPU, memory), without GPU/accelerator,
//! bare-metal, burstable and previous-generation types unless allowed, restricted to the
//! configured families and to one architecture (the control-plane AMI is built for one). Types
//! of the same (vCPU, memory) are one rung: the family listed first in the configuration wins,
//! so `families: [m7i, m6i]` prefers m7i where both offer a size.
//!
//! EKS: the provisioned control-plane tiers, with the API concurrency seats AWS states for each.

use std::cmp::Ordering;
use std::fmt;

use thiserror::Error;

use crate::instance::{Architecture, InstanceType};

/// What one size of the ladder offers. A dimension is `None` when the size does not state it
/// (an EKS tier has no visible CPU; an instance type has no fixed seat count): load in that
/// dimension is then not judged against it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capacity {
    /// vCPUs per control-plane node.
    pub vcpus: Option<u32>,
    /// Memory per control-plane node, MiB.
    pub memory_mib: Option<u64>,
    /// API concurrency seats of the whole control plane.
    pub seats: Option<u64>,
}

impl Capacity {
    /// Whether `self` offers at least `other` in every dimension both state.
    pub fn covers(&self, other: &Capacity) -> bool {
        fn ge<T: PartialOrd>(a: Option<T>, b: Option<T>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => a >= b,
                _ => true,
            }
        }
        ge(self.vcpus, other.vcpus)
            && ge(self.memory_mib, other.memory_mib)
            && ge(self.seats, other.seats)
    }
}

/// One size: its name (an instance type or a tier) and capacity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rung {
    /// `m6i.2xlarge`, `tier-xl`, …
    pub name: String,
    /// What it offers.
    pub capacity: Capacity,
}

/// An instance type offered to the ladder, with what [`InstanceType`] does not say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LadderCandidate {
    /// The type's data from DescribeInstanceTypes.
    pub instance: InstanceType,
    /// Accelerators other than GPUs (inference chips, FPGAs, media accelerators).
    pub accelerators: u32,
}

impl From<InstanceType> for LadderCandidate {
    fn from(instance: InstanceType) -> Self {
        Self {
            instance,
            accelerators: 0,
        }
    }
}

/// Which instance types may be control-plane sizes.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LadderFilter {
    /// Instance families (`m6i`, `c7g`), in order of preference; empty = every family.
    pub families: Vec<String>,
    /// The one architecture the control-plane image is built for.
    pub architecture: Architecture,
    /// Allow burstable (T) types.
    pub allow_burstable: bool,
    /// Allow bare-metal types.
    pub allow_bare_metal: bool,
    /// Allow types with GPUs or other accelerators.
    pub allow_accelerators: bool,
    /// Allow previous-generation types.
    pub allow_previous_generation: bool,
}

impl LadderFilter {
    /// Whether `c` may be a rung, and if so the preference rank of its family (lower wins).
    fn admit(&self, c: &LadderCandidate) -> Option<usize> {
        let t = &c.instance;
        let excluded = t.architecture != self.architecture
            || (t.burstable && !self.allow_burstable)
            || (t.bare_metal && !self.allow_bare_metal)
            || ((t.gpus > 0 || c.accelerators > 0) && !self.allow_accelerators)
            || (!t.current_generation && !self.allow_previous_generation)
            || t.validate().is_err();
        if excluded {
            return None;
        }
        if self.families.is_empty() {
            return Some(0);
        }
        let family = instance_family(&t.name);
        self.families.iter().position(|f| f == family)
    }
}

/// The family of an instance type: the part of its name before the dot (`m6i` of `m6i.large`).
pub fn instance_family(name: &str) -> &str {
    name.split_once('.').map_or(name, |(family, _)| family)
}

/// The EKS provisioned control-plane tiers, smallest first, with their API concurrency seats.
/// `standard` states no seats (it scales itself); its nominal 600 is one upstream API server's
/// default concurrency (400 read-only + 200 mutating in flight), a floor AWS does not promise.
pub const EKS_TIERS: [(&str, u64); 5] = [
    ("standard", 600),
    ("tier-xl", 1_700),
    ("tier-2xl", 3_400),
    ("tier-4xl", 6_800),
    ("tier-8xl", 13_600),
];

/// A ladder that cannot be built or a size not on it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LadderError {
    /// No instance type passed the filter.
    #[error(
        "{field}: no instance type of families {families:?} for {architecture} passes the filter (burstable, bare-metal, accelerator and previous-generation types are excluded unless allowed)"
    )]
    Empty {
        /// The configuration field to fix.
        field: &'static str,
        /// The configured families.
        families: Vec<String>,
        /// The configured architecture.
        architecture: Architecture,
    },
    /// A configured family matches no instance type at all.
    #[error("{field}: family {family:?} has no instance type on the ladder")]
    UnknownFamily {
        /// The configuration field to fix.
        field: &'static str,
        /// The family.
        family: String,
    },
    /// A configured size is not on the ladder.
    #[error("{field}: {size:?} is not on the ladder ({ladder})")]
    OutsideLadder {
        /// The configuration field to fix.
        field: &'static str,
        /// The size named.
        size: String,
        /// The ladder's sizes, abbreviated.
        ladder: String,
    },
    /// The minimum size is above the maximum.
    #[error("{min_field} {min:?} is above {max_field} {max:?}")]
    InvertedBounds {
        /// Field of the minimum.
        min_field: &'static str,
        /// The minimum.
        min: String,
        /// Field of the maximum.
        max_field: &'static str,
        /// The maximum.
        max: String,
    },
}

/// The sizes in order, smallest first; at least one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ladder {
    rungs: Vec<Rung>,
}

impl Ladder {
    /// The ladder of instance types `filter` admits. `field` names the configuration of the
    /// families in errors (e.g. `--families`).
    pub fn from_instance_types(
        candidates: impl IntoIterator<Item = LadderCandidate>,
        filter: &LadderFilter,
        field: &'static str,
    ) -> Result<Self, LadderError> {
        let mut admitted: Vec<(usize, InstanceType)> = candidates
            .into_iter()
            .filter_map(|c| filter.admit(&c).map(|rank| (rank, c.instance)))
            .collect();
        for family in &filter.families {
            if !admitted
                .iter()
                .any(|(_, t)| instance_family(&t.name) == family)
            {
                return Err(LadderError::UnknownFamily {
                    field,
                    family: family.clone(),
                });
            }
        }
        admitted.sort_by(|(ra, a), (rb, b)| {
            let key = |t: &InstanceType| (t.vcpus, t.memory_mib);
            // In a tie: the preferred family, then current generation, then not burstable.
            (key(a), *ra, !a.current_generation, a.burstable, &a.name).cmp(&(
                key(b),
                *rb,
                !b.current_generation,
                b.burstable,
                &b.name,
            ))
        });
        admitted.dedup_by(|later, first| {
            (later.1.vcpus, later.1.memory_mib) == (first.1.vcpus, first.1.memory_mib)
        });
        let rungs: Vec<Rung> = admitted
            .into_iter()
            .map(|(_, t)| Rung {
                capacity: Capacity {
                    vcpus: Some(t.vcpus),
                    memory_mib: Some(t.memory_mib),
                    seats: None,
                },
                name: t.name,
            })
            .collect();
        if rungs.is_empty() {
            return Err(LadderError::Empty {
                field,
                families: filter.families.clone(),
                architecture: filter.architecture,
            });
        }
        Ok(Self { rungs })
    }

    /// The EKS provisioned control-plane tiers.
    pub fn eks_tiers() -> Self {
        Self {
            rungs: EKS_TIERS
                .iter()
                .map(|(name, seats)| Rung {
                    name: (*name).to_owned(),
                    capacity: Capacity {
                        seats: Some(*seats),
                        ..Capacity::default()
                    },
                })
                .collect(),
        }
    }

    /// The rungs, smallest first.
    pub fn rungs(&self) -> &[Rung] {
        &self.rungs
    }

    /// Number of rungs (never zero).
    pub fn len(&self) -> usize {
        self.rungs.len()
    }

    /// Always false: a ladder has at least one rung.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The rung at `index`, if any.
    pub fn get(&self, index: usize) -> Option<&Rung> {
        self.rungs.get(index)
    }

    /// The index of the size called `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.rungs.iter().position(|r| r.name == name)
    }

    /// The index of `name`, or an error naming `field`.
    pub fn require(&self, field: &'static str, name: &str) -> Result<usize, LadderError> {
        self.position(name)
            .ok_or_else(|| LadderError::OutsideLadder {
                field,
                size: name.to_owned(),
                ladder: self.summary(),
            })
    }

    /// The index of a size not on the ladder by name but with the same capacity (the current
    /// type of a family that lost a tie, e.g. m5.xlarge on a ladder holding m6i.xlarge).
    pub fn position_of_capacity(&self, capacity: &Capacity) -> Option<usize> {
        self.rungs.iter().position(|r| r.capacity == *capacity)
    }

    /// The next bigger size: the first above `index` that covers it in every dimension (on a
    /// mixed-family ladder a type with more vCPUs but less memory is skipped).
    pub fn next_up(&self, index: usize) -> Option<usize> {
        let here = self.rungs.get(index)?.capacity;
        (index + 1..self.rungs.len()).find(|&j| self.rungs[j].capacity.covers(&here))
    }

    /// The next smaller size: the last below `index` that it covers in every dimension.
    pub fn next_down(&self, index: usize) -> Option<usize> {
        let here = self.rungs.get(index)?.capacity;
        (0..index.min(self.rungs.len()))
            .rev()
            .find(|&j| here.covers(&self.rungs[j].capacity))
    }

    /// Bounds from optional minimum and maximum size names (fields named in errors).
    pub fn bounds(
        &self,
        min: Option<(&'static str, &str)>,
        max: Option<(&'static str, &str)>,
    ) -> Result<Bounds, LadderError> {
        let lo = min
            .map(|(f, n)| self.require(f, n))
            .transpose()?
            .unwrap_or(0);
        let hi = max
            .map(|(f, n)| self.require(f, n))
            .transpose()?
            .unwrap_or(self.rungs.len() - 1);
        if let (Some((min_field, min)), Some((max_field, max))) = (min, max)
            && lo.cmp(&hi) == Ordering::Greater
        {
            return Err(LadderError::InvertedBounds {
                min_field,
                min: min.to_owned(),
                max_field,
                max: max.to_owned(),
            });
        }
        Ok(Bounds { min: lo, max: hi })
    }

    /// The first and last few sizes, for error messages.
    fn summary(&self) -> String {
        let names: Vec<&str> = self.rungs.iter().map(|r| r.name.as_str()).collect();
        if names.len() <= 8 {
            names.join(", ")
        } else {
            format!(
                "{} … {} ({} sizes)",
                names[..4].join(", "),
                names[names.len() - 2..].join(", "),
                names.len()
            )
        }
    }
}

impl fmt::Display for Ladder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

/// The smallest and largest rung the control plane may use (indices into one ladder; `min ≤ max`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    min: usize,
    max: usize,
}

impl Bounds {
    /// The whole of a ladder.
    pub fn whole(ladder: &Ladder) -> Self {
        Self {
            min: 0,
            max: ladder.len() - 1,
        }
    }

    /// Smallest allowed rung.
    pub fn min(&self) -> usize {
        self.min
    }

    /// Largest allowed rung.
    pub fn max(&self) -> usize {
        self.max
    }

    /// `index` moved into the bounds.
    pub fn clamp(&self, index: usize) -> usize {
        index.clamp(self.min, self.max)
    }
}
