//! Template nodes: what a node of a pool will look like before it exists, so the autoscaler
//! can scale a pool up from zero. Allocatable follows Karpenter's arithmetic (SPEC §3).

use serde::{Deserialize, Serialize};

use super::types::{InstanceError, InstanceType};
use crate::resources::{ResourceName, Resources};
use crate::scheduling::model::{
    LABEL_ARCH, LABEL_HOSTNAME, LABEL_INSTANCE_TYPE, LABEL_OS, LABEL_REGION, LABEL_ZONE, Labels,
    NodeSpec, Taint,
};

const MIB: i64 = 1 << 20;
const GIB: i64 = 1 << 30;

/// Reserved-resource settings as written in configuration; validate with [`ReservedConfig::try_new`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReservedSettings {
    /// Share of the instance's memory the hypervisor keeps, in percent (Karpenter: 7.5).
    pub vm_memory_overhead_percent: f64,
    /// Fixed part of kube-reserved memory in MiB (Karpenter: 255).
    pub kube_reserved_memory_base_mib: i64,
    /// kube-reserved memory per pod slot in MiB (Karpenter: 11).
    pub kube_reserved_memory_per_pod_mib: i64,
    /// kube-reserved ephemeral storage in MiB (Karpenter: 1 GiB).
    pub kube_reserved_ephemeral_storage_mib: i64,
    /// system-reserved resources (none by default).
    pub system_reserved: Resources,
    /// Hard eviction threshold for memory in MiB (kubelet `memory.available`: 100 MiB).
    pub eviction_memory_mib: i64,
    /// Hard eviction threshold for the root file system, percent of it (kubelet `nodefs.available`: 10).
    pub eviction_nodefs_percent: u8,
    /// Root volume size in GiB, the node's ephemeral-storage capacity (20).
    pub root_volume_gib: i64,
}

impl Default for ReservedSettings {
    fn default() -> Self {
        Self {
            vm_memory_overhead_percent: 7.5,
            kube_reserved_memory_base_mib: 255,
            kube_reserved_memory_per_pod_mib: 11,
            kube_reserved_ephemeral_storage_mib: 1024,
            system_reserved: Resources::zero(),
            eviction_memory_mib: 100,
            eviction_nodefs_percent: 10,
            root_volume_gib: 20,
        }
    }
}

/// Validated reserved-resource settings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReservedConfig {
    settings: ReservedSettings,
    /// The VM overhead in parts per million, so the arithmetic stays in integers.
    overhead_ppm: i64,
}

impl Default for ReservedConfig {
    fn default() -> Self {
        Self {
            settings: ReservedSettings::default(),
            overhead_ppm: 75_000,
        }
    }
}

impl ReservedConfig {
    /// Validates: overhead in [0, 100) %, sizes ≥ 0, root volume > 0, eviction percent ≤ 100.
    pub fn try_new(settings: ReservedSettings) -> Result<Self, InstanceError> {
        let bad = |field, reason| Err(InstanceError::InvalidReserved { field, reason });
        let pct = settings.vm_memory_overhead_percent;
        if !(0.0..100.0).contains(&pct) {
            return bad("vm_memory_overhead_percent", "must be in [0, 100)");
        }
        for (field, v) in [
            (
                "kube_reserved_memory_base_mib",
                settings.kube_reserved_memory_base_mib,
            ),
            (
                "kube_reserved_memory_per_pod_mib",
                settings.kube_reserved_memory_per_pod_mib,
            ),
            (
                "kube_reserved_ephemeral_storage_mib",
                settings.kube_reserved_ephemeral_storage_mib,
            ),
            ("eviction_memory_mib", settings.eviction_memory_mib),
        ] {
            if v < 0 {
                return bad(field, "must not be negative");
            }
        }
        let sr = &settings.system_reserved;
        if sr.cpu_millis < 0
            || sr.memory_bytes < 0
            || sr.ephemeral_storage_bytes < 0
            || sr.pods != 0
        {
            return bad(
                "system_reserved",
                "must be non-negative cpu/memory/ephemeral-storage, no pods",
            );
        }
        if settings.root_volume_gib <= 0 {
            return bad("root_volume_gib", "must be > 0");
        }
        if settings.eviction_nodefs_percent > 100 {
            return bad("eviction_nodefs_percent", "must be <= 100");
        }
        // pct is in [0, 100): the product is below 1e6 and exact enough after rounding.
        let overhead_ppm = (pct * 10_000.0).round() as i64;
        Ok(Self {
            settings,
            overhead_ppm,
        })
    }

    /// The settings this was built from.
    pub fn settings(&self) -> &ReservedSettings {
        &self.settings
    }

    /// Memory capacity in bytes the kubelet sees: instance memory minus the VM overhead
    /// (rounded up to whole MiB, as Karpenter does).
    pub fn memory_capacity_bytes(&self, memory_mib: u64) -> i64 {
        let mib = i64::try_from(memory_mib).unwrap_or(i64::MAX / MIB);
        let overhead = (i128::from(mib) * i128::from(self.overhead_ppm) + 999_999) / 1_000_000;
        let overhead = i64::try_from(overhead).unwrap_or(i64::MAX);
        mib.saturating_sub(overhead).saturating_mul(MIB)
    }

    /// kube-reserved memory in bytes for `max_pods`: `11 MiB × maxPods + 255 MiB` by default.
    pub fn kube_reserved_memory_bytes(&self, max_pods: u32) -> i64 {
        let s = &self.settings;
        s.kube_reserved_memory_per_pod_mib
            .saturating_mul(i64::from(max_pods))
            .saturating_add(s.kube_reserved_memory_base_mib)
            .saturating_mul(MIB)
    }

    /// Capacity of one instance type as the kubelet reports it.
    pub fn capacity(&self, it: &InstanceType, max_pods: u32) -> Resources {
        let mut r = Resources {
            cpu_millis: i64::from(it.vcpus).saturating_mul(1000),
            memory_bytes: self.memory_capacity_bytes(it.memory_mib),
            ephemeral_storage_bytes: self.settings.root_volume_gib.saturating_mul(GIB),
            pods: i64::from(max_pods),
            ..Resources::default()
        };
        if it.gpus > 0 {
            r = r.with_extended(it.gpu_resource_name(), i64::from(it.gpus));
        }
        r
    }

    /// Everything held back from `capacity`: kube-reserved, system-reserved and eviction thresholds.
    pub fn reserved(&self, capacity: &Resources, vcpus: u32, max_pods: u32) -> Resources {
        let s = &self.settings;
        let eviction_fs = capacity
            .ephemeral_storage_bytes
            .saturating_mul(i64::from(s.eviction_nodefs_percent))
            / 100;
        let kube = Resources {
            cpu_millis: kube_reserved_cpu_millis(vcpus),
            memory_bytes: self
                .kube_reserved_memory_bytes(max_pods)
                .saturating_add(s.eviction_memory_mib.saturating_mul(MIB)),
            ephemeral_storage_bytes: s
                .kube_reserved_ephemeral_storage_mib
                .saturating_mul(MIB)
                .saturating_add(eviction_fs),
            ..Resources::default()
        };
        kube.saturating_add(&s.system_reserved)
    }

    /// Allocatable of one type: capacity − reserved; errors if a resource would go below zero.
    pub fn allocatable(
        &self,
        it: &InstanceType,
        max_pods: u32,
    ) -> Result<Resources, InstanceError> {
        it.validate()?;
        let capacity = self.capacity(it, max_pods);
        let alloc = capacity.saturating_sub(&self.reserved(&capacity, it.vcpus, max_pods));
        for (resource, v) in [
            (ResourceName::Cpu, alloc.cpu_millis),
            (ResourceName::Memory, alloc.memory_bytes),
            (
                ResourceName::EphemeralStorage,
                alloc.ephemeral_storage_bytes,
            ),
        ] {
            if v <= 0 {
                return Err(InstanceError::NoAllocatable {
                    instance_type: it.name.clone(),
                    resource,
                });
            }
        }
        Ok(alloc)
    }
}

/// Karpenter's kube-reserved CPU: 6 % of the first core, 1 % of the second, 0.5 % of the
/// third and fourth, 0.25 % of every core above four; rounded up to whole millicores.
pub fn kube_reserved_cpu_millis(vcpus: u32) -> i64 {
    // (from core, to core, micro-cores reserved per core)
    const TIERS: [(u64, u64, u64); 4] = [
        (0, 1, 60_000),
        (1, 2, 10_000),
        (2, 4, 5_000),
        (4, u64::MAX, 2_500),
    ];
    let cores = u64::from(vcpus);
    let micro: u64 = TIERS
        .iter()
        .filter(|(from, _, _)| cores > *from)
        .map(|(from, to, per_core)| (cores.min(*to) - from) * per_core)
        .sum();
    i64::try_from(micro.div_ceil(1000)).unwrap_or(i64::MAX)
}

/// What a template node is made of: a pool's instance types in one zone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateSpec {
    /// Template node name (also its hostname label), e.g. `template-default-eu-central-1a`.
    pub name: String,
    /// The pool's instance types; mixed pools take the minimum of each resource.
    pub instance_types: Vec<InstanceType>,
    /// Pool labels.
    pub labels: Labels,
    /// Pool taints.
    pub taints: Vec<Taint>,
    /// Availability zone.
    pub zone: String,
    /// Region.
    pub region: String,
    /// Max pods per node.
    pub max_pods: u32,
}

/// The template node of a pool in one zone. Allocatable is capacity − kube-reserved −
/// system-reserved − eviction thresholds, the minimum over the pool's types for each
/// resource (an extended resource only if every type has it). Labels: the pool's plus
/// instance-type (of the first type), zone, region, arch, os and hostname.
pub fn template_node(
    spec: &TemplateSpec,
    reserved: &ReservedConfig,
) -> Result<NodeSpec, InstanceError> {
    let missing = |field| InstanceError::MissingField {
        template: spec.name.clone(),
        field,
    };
    if spec.name.is_empty() {
        return Err(missing("name"));
    }
    if spec.zone.is_empty() {
        return Err(missing("zone"));
    }
    if spec.region.is_empty() {
        return Err(missing("region"));
    }
    if spec.max_pods == 0 {
        return Err(missing("max_pods"));
    }
    let Some(first) = spec.instance_types.first() else {
        return Err(InstanceError::NoInstanceTypes {
            template: spec.name.clone(),
        });
    };
    let mut allocatable = reserved.allocatable(first, spec.max_pods)?;
    for it in &spec.instance_types[1..] {
        if it.architecture != first.architecture {
            return Err(InstanceError::MixedArchitectures {
                template: spec.name.clone(),
                first: first.architecture,
                other: it.architecture,
            });
        }
        allocatable = minimum(&allocatable, &reserved.allocatable(it, spec.max_pods)?);
    }
    let mut labels = spec.labels.clone();
    for (k, v) in [
        (LABEL_INSTANCE_TYPE, first.name.as_str()),
        (LABEL_ZONE, spec.zone.as_str()),
        (LABEL_REGION, spec.region.as_str()),
        (LABEL_ARCH, first.architecture.label()),
        (LABEL_OS, "linux"),
        (LABEL_HOSTNAME, spec.name.as_str()),
    ] {
        labels.insert(k.to_owned(), v.to_owned());
    }
    Ok(NodeSpec {
        name: spec.name.clone(),
        labels,
        taints: spec.taints.clone(),
        allocatable,
    })
}

/// Per-resource minimum; extended resources missing from either side drop out.
fn minimum(a: &Resources, b: &Resources) -> Resources {
    Resources {
        cpu_millis: a.cpu_millis.min(b.cpu_millis),
        memory_bytes: a.memory_bytes.min(b.memory_bytes),
        ephemeral_storage_bytes: a.ephemeral_storage_bytes.min(b.ephemeral_storage_bytes),
        pods: a.pods.min(b.pods),
        extended: a
            .extended
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), (*v).min(*b.extended.get(k)?))))
            .collect(),
    }
}

#[cfg(test)]
mod tests;
