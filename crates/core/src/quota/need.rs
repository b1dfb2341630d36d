//! The vCPUs node pools may use, per region and quota (SPEC §6):
//! Σ over pools of `max_size × vCPUs of the pool's largest instance type`, plus headroom.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::family::{Ec2Quota, Uncovered};
use super::{QuotaError, QuotaPolicy};

/// One node pool as the need sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolDemand {
    /// Where the pool was read from (the node-pool file), for reports.
    pub source: String,
    /// Pool name.
    pub pool: String,
    /// Regions of the pool's zones; empty = the pool is not pinned, it runs in the default region.
    pub regions: BTreeSet<String>,
    /// Spot instances.
    pub spot: bool,
    /// Maximum nodes over all zones.
    pub max_size: u32,
    /// The pool's instance types.
    pub instance_types: Vec<String>,
}

/// Where a quota's need comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Contribution {
    /// The node-pool file.
    pub source: String,
    /// The pool.
    pub pool: String,
    /// `max_size × vCPUs` of the pool's largest instance type in this quota.
    pub vcpus: u64,
}

/// The need of one quota in one region.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct QuotaNeed {
    /// vCPUs the pools may use at their max sizes.
    pub pools_vcpus: u64,
    /// `pools_vcpus` plus headroom, rounded up: the value the quota should have.
    pub need: u64,
    /// The pools behind it, largest first.
    pub contributions: Vec<Contribution>,
}

/// Pools' needs for every (region, quota), and what no quota covers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// Need per region and quota; a quota no pool uses is absent.
    pub by_quota: BTreeMap<(String, Ec2Quota), QuotaNeed>,
    /// Instance types that count against no quota known here, with the pools that use them.
    pub uncovered: BTreeMap<Uncovered, Vec<String>>,
}

impl Needs {
    /// The needs of one region, in quota order.
    pub fn in_region<'a>(
        &'a self,
        region: &'a str,
    ) -> impl Iterator<Item = (Ec2Quota, &'a QuotaNeed)> {
        self.by_quota
            .iter()
            .filter(move |((r, _), _)| r == region)
            .map(|((_, q), n)| (*q, n))
    }

    /// Every region some pool runs in.
    pub fn regions(&self) -> BTreeSet<&str> {
        self.by_quota.keys().map(|(r, _)| r.as_str()).collect()
    }
}

/// Sums the pools' vCPUs per region and quota. `vcpus` gives the vCPUs of an instance type;
/// a type it does not know is an error (nothing is guessed). Pools not pinned to zones count
/// in `default_region`. A pool whose zones span several regions could put all its nodes in
/// any of them, so it counts in full in each.
pub fn compute_needs<F>(
    pools: &[PoolDemand],
    default_region: &str,
    vcpus: F,
    policy: &QuotaPolicy,
) -> Result<Needs, QuotaError>
where
    F: Fn(&str) -> Option<u32>,
{
    let mut needs = Needs::default();
    for pool in pools {
        // Per quota, the largest type's vCPUs: a mixed pool may run all its nodes on it.
        let mut largest: BTreeMap<Ec2Quota, u32> = BTreeMap::new();
        for instance_type in &pool.instance_types {
            let cpus = vcpus(instance_type).ok_or_else(|| QuotaError::UnknownInstanceType {
                instance_type: instance_type.clone(),
                source_file: pool.source.clone(),
                pool: pool.pool.clone(),
            })?;
            match Ec2Quota::of(instance_type, pool.spot) {
                Ok(quota) => {
                    let entry = largest.entry(quota).or_default();
                    *entry = (*entry).max(cpus);
                }
                Err(uncovered) => needs
                    .uncovered
                    .entry(uncovered)
                    .or_default()
                    .push(format!("{}: {}", pool.source, pool.pool)),
            }
        }
        let default = BTreeSet::from([default_region.to_owned()]);
        let regions = if pool.regions.is_empty() {
            &default
        } else {
            &pool.regions
        };
        for region in regions {
            for (quota, cpus) in &largest {
                let vcpus = u64::from(pool.max_size) * u64::from(*cpus);
                let need = needs.by_quota.entry((region.clone(), *quota)).or_default();
                need.pools_vcpus = need.pools_vcpus.saturating_add(vcpus);
                need.contributions.push(Contribution {
                    source: pool.source.clone(),
                    pool: pool.pool.clone(),
                    vcpus,
                });
            }
        }
    }
    for need in needs.by_quota.values_mut() {
        need.need = policy.with_headroom(need.pools_vcpus);
        need.contributions
            .sort_by(|a, b| b.vcpus.cmp(&a.vcpus).then_with(|| a.cmp(b)));
    }
    Ok(needs)
}
