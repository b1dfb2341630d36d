//! Which EC2 vCPU quota an instance type counts against.
//!
//! EC2 limits running instances per region in vCPUs, one quota per instance family group and
//! purchase option. AWS publishes no machine-readable map from instance type to quota code;
//! the groups below are the quota names in the Service Quotas console ("Running On-Demand
//! P instances", "All P Spot Instance Requests", …), and the family of a type is the letters
//! before its generation digit (`c6i.2xlarge` → `c`, `inf2.xlarge` → `inf`, `u-6tb1.metal`
//! and `u7i-12tb.224xlarge` → `u`, High Memory).
//!
//! Codes checked against the Service Quotas console listings quoted in public projects
//! (searched 2026-12: the zuul/nodepool AWS driver's `quotas.py` table of
//! "INSTANCE FAMILY: [ON-DEMAND, SPOT]", an `aws service-quotas list-service-quotas
//! --service-code ec2` dump, and the AWS CLI example for `get-aws-default-service-quota
//! --quota-code L-1216C47A`); all agree. High Memory instances have no Spot quota (they are
//! not sold as Spot), so a Spot pool of them is [`Uncovered`].

use std::fmt;

use serde::{Serialize, Serializer};

/// A group of EC2 instance families that share one vCPU quota.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FamilyGroup {
    /// A, C, D, H, I, M, R, T and Z instances.
    Standard,
    /// G and VT (graphics and video transcoding) instances.
    GAndVt,
    /// P (GPU compute) instances.
    P,
    /// X (memory optimised) instances.
    X,
    /// F (FPGA) instances.
    F,
    /// Inf (Inferentia) instances.
    Inf,
    /// U (High Memory) instances.
    HighMemory,
}

impl FamilyGroup {
    /// Every group, in report order.
    pub const ALL: [FamilyGroup; 7] = [
        FamilyGroup::Standard,
        FamilyGroup::GAndVt,
        FamilyGroup::P,
        FamilyGroup::X,
        FamilyGroup::F,
        FamilyGroup::Inf,
        FamilyGroup::HighMemory,
    ];

    /// The group of an instance type's family letters, `None` for families with no quota here
    /// (DL, Trn, HPC, Mac, …).
    fn of_family(family: &str) -> Option<FamilyGroup> {
        match family {
            "a" | "c" | "d" | "h" | "i" | "m" | "r" | "t" | "z" => Some(FamilyGroup::Standard),
            // Standard sub-families whose letters run on (`im4gn`, `is4gen` are I instances).
            "im" | "is" => Some(FamilyGroup::Standard),
            "g" | "gr" | "vt" => Some(FamilyGroup::GAndVt),
            "p" => Some(FamilyGroup::P),
            "x" => Some(FamilyGroup::X),
            "f" => Some(FamilyGroup::F),
            "inf" => Some(FamilyGroup::Inf),
            "u" => Some(FamilyGroup::HighMemory),
            _ => None,
        }
    }
}

/// One EC2 vCPU quota: a family group bought On-Demand or as Spot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ec2Quota {
    /// The family group.
    pub group: FamilyGroup,
    /// Spot (`true`) or On-Demand.
    pub spot: bool,
}

impl Ec2Quota {
    /// The Service Quotas service code of every EC2 quota.
    pub const SERVICE_CODE: &'static str = "ec2";

    /// Running On-Demand Standard instances, `L-1216C47A`.
    pub const ON_DEMAND_STANDARD: Ec2Quota = Ec2Quota {
        group: FamilyGroup::Standard,
        spot: false,
    };
    /// All Standard Spot Instance Requests, `L-34B43A08`.
    pub const SPOT_STANDARD: Ec2Quota = Ec2Quota {
        group: FamilyGroup::Standard,
        spot: true,
    };

    /// Every quota this module knows, in report order (On-Demand before Spot per group).
    pub fn all() -> impl Iterator<Item = Ec2Quota> {
        FamilyGroup::ALL.into_iter().flat_map(|group| {
            [false, true]
                .into_iter()
                .map(move |spot| Ec2Quota { group, spot })
                .filter(|q| q.code().is_some())
        })
    }

    /// The quota for `instance_type` bought as Spot or On-Demand.
    pub fn of(instance_type: &str, spot: bool) -> Result<Ec2Quota, Uncovered> {
        let uncovered = || Uncovered {
            instance_type: instance_type.to_owned(),
            spot,
        };
        let group = FamilyGroup::of_family(family_letters(instance_type)).ok_or_else(uncovered)?;
        let quota = Ec2Quota { group, spot };
        quota.code().map(|_| quota).ok_or_else(uncovered)
    }

    /// The Service Quotas quota code, `None` for a combination AWS has no quota for.
    pub fn code(self) -> Option<&'static str> {
        use FamilyGroup::*;
        Some(match (self.group, self.spot) {
            (Standard, false) => "L-1216C47A",
            (Standard, true) => "L-34B43A08",
            (GAndVt, false) => "L-DB2E81BA",
            (GAndVt, true) => "L-3819A6DF",
            (P, false) => "L-417A185B",
            (P, true) => "L-7212CCBC",
            (X, false) => "L-7295265B",
            (X, true) => "L-E3A00192",
            (F, false) => "L-74FC7D96",
            (F, true) => "L-88CF9481",
            (Inf, false) => "L-1945791B",
            (Inf, true) => "L-B5D1601B",
            (HighMemory, false) => "L-43DA4232",
            (HighMemory, true) => return None,
        })
    }

    /// The quota's name as the Service Quotas console shows it.
    pub fn name(self) -> &'static str {
        use FamilyGroup::*;
        match (self.group, self.spot) {
            (Standard, false) => "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
            (Standard, true) => "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests",
            (GAndVt, false) => "Running On-Demand G and VT instances",
            (GAndVt, true) => "All G and VT Spot Instance Requests",
            (P, false) => "Running On-Demand P instances",
            (P, true) => "All P Spot Instance Requests",
            (X, false) => "Running On-Demand X instances",
            (X, true) => "All X Spot Instance Requests",
            (F, false) => "Running On-Demand F instances",
            (F, true) => "All F Spot Instance Requests",
            (Inf, false) => "Running On-Demand Inf instances",
            (Inf, true) => "All Inf Spot Instance Requests",
            (HighMemory, _) => "Running On-Demand High Memory instances",
        }
    }
}

impl fmt::Display for Ec2Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code().unwrap_or("none"))
    }
}

/// Serialised as its quota code, the name users search the console for.
impl Serialize for Ec2Quota {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// An instance type (bought Spot or On-Demand) that counts against no quota known here.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Uncovered {
    /// The instance type, e.g. `trn1.32xlarge`.
    pub instance_type: String,
    /// Whether the pool buys it as Spot.
    pub spot: bool,
}

/// The letters before the generation digit (or the `-` of `u-6tb1`).
fn family_letters(instance_type: &str) -> &str {
    let end = instance_type
        .find(|c: char| !c.is_ascii_lowercase())
        .unwrap_or(instance_type.len());
    &instance_type[..end]
}
