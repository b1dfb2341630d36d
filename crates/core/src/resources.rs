//! Resource vectors: what a pod requests and what a node has free.
//!
//! Integer units only (milli-CPU, bytes, counts) so sums never drift.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Extended resource name used for NVIDIA GPUs.
pub const NVIDIA_GPU: &str = "nvidia.com/gpu";

/// A resource vector: CPU, memory, ephemeral storage, pod slots and extended resources.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// CPU in milli-cores (`1000` = one core).
    pub cpu_millis: i64,
    /// Memory in bytes.
    pub memory_bytes: i64,
    /// Ephemeral (node-local) storage in bytes.
    pub ephemeral_storage_bytes: i64,
    /// Pod slots (a pod requests one; a node offers its max pods).
    pub pods: i64,
    /// Extended resources such as `nvidia.com/gpu`, by name; absent means zero.
    #[serde(default)]
    pub extended: BTreeMap<String, i64>,
}

/// Names one dimension of [`Resources`], e.g. to say which one is short.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ResourceName {
    /// `cpu`.
    Cpu,
    /// `memory`.
    Memory,
    /// `ephemeral-storage`.
    EphemeralStorage,
    /// `pods` (the node's pod slots).
    Pods,
    /// An extended resource such as `nvidia.com/gpu`.
    Extended(String),
}

impl ResourceName {
    /// The Kubernetes name of this resource (`cpu`, `memory`, `nvidia.com/gpu`, …).
    pub fn as_str(&self) -> &str {
        match self {
            ResourceName::Cpu => "cpu",
            ResourceName::Memory => "memory",
            ResourceName::EphemeralStorage => "ephemeral-storage",
            ResourceName::Pods => "pods",
            ResourceName::Extended(name) => name,
        }
    }
}

impl fmt::Display for ResourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Resources {
    /// The empty vector (all zero).
    pub fn zero() -> Self {
        Self::default()
    }

    /// A vector with CPU and memory only.
    pub fn new(cpu_millis: i64, memory_bytes: i64) -> Self {
        Self {
            cpu_millis,
            memory_bytes,
            ..Self::default()
        }
    }

    /// What one pod requests: `cpu_millis`, `memory_bytes` and one pod slot.
    pub fn pod(cpu_millis: i64, memory_bytes: i64) -> Self {
        Self {
            cpu_millis,
            memory_bytes,
            pods: 1,
            ..Self::default()
        }
    }

    /// Builder: sets the ephemeral storage.
    pub fn with_ephemeral_storage(mut self, bytes: i64) -> Self {
        self.ephemeral_storage_bytes = bytes;
        self
    }

    /// Builder: sets the pod slots.
    pub fn with_pods(mut self, pods: i64) -> Self {
        self.pods = pods;
        self
    }

    /// Builder: sets an extended resource (a zero amount removes it).
    pub fn with_extended(mut self, name: impl Into<String>, amount: i64) -> Self {
        let name = name.into();
        if amount == 0 {
            self.extended.remove(&name);
        } else {
            self.extended.insert(name, amount);
        }
        self
    }

    /// The amount of an extended resource (zero when absent).
    pub fn extended(&self, name: &str) -> i64 {
        self.extended.get(name).copied().unwrap_or(0)
    }

    /// The amount of any resource by name.
    pub fn get(&self, name: &ResourceName) -> i64 {
        match name {
            ResourceName::Cpu => self.cpu_millis,
            ResourceName::Memory => self.memory_bytes,
            ResourceName::EphemeralStorage => self.ephemeral_storage_bytes,
            ResourceName::Pods => self.pods,
            ResourceName::Extended(n) => self.extended(n),
        }
    }

    /// True when every dimension is zero.
    pub fn is_zero(&self) -> bool {
        self.cpu_millis == 0
            && self.memory_bytes == 0
            && self.ephemeral_storage_bytes == 0
            && self.pods == 0
            && self.extended.values().all(|v| *v == 0)
    }

    /// `self + other`, each dimension saturating at the `i64` bounds.
    pub fn saturating_add(&self, other: &Resources) -> Resources {
        let mut out = self.clone();
        out.add_assign_saturating(other);
        out
    }

    /// `self − other`, each dimension saturating at the `i64` bounds (may go negative).
    pub fn saturating_sub(&self, other: &Resources) -> Resources {
        let mut out = self.clone();
        out.sub_assign_saturating(other);
        out
    }

    /// In place `self += other`, saturating; no allocation unless `other` brings a new extended resource.
    pub fn add_assign_saturating(&mut self, other: &Resources) {
        self.cpu_millis = self.cpu_millis.saturating_add(other.cpu_millis);
        self.memory_bytes = self.memory_bytes.saturating_add(other.memory_bytes);
        self.ephemeral_storage_bytes = self
            .ephemeral_storage_bytes
            .saturating_add(other.ephemeral_storage_bytes);
        self.pods = self.pods.saturating_add(other.pods);
        for (name, amount) in &other.extended {
            match self.extended.get_mut(name) {
                Some(v) => *v = v.saturating_add(*amount),
                None => {
                    self.extended.insert(name.clone(), *amount);
                }
            }
        }
    }

    /// In place `self −= other`, saturating.
    pub fn sub_assign_saturating(&mut self, other: &Resources) {
        self.cpu_millis = self.cpu_millis.saturating_sub(other.cpu_millis);
        self.memory_bytes = self.memory_bytes.saturating_sub(other.memory_bytes);
        self.ephemeral_storage_bytes = self
            .ephemeral_storage_bytes
            .saturating_sub(other.ephemeral_storage_bytes);
        self.pods = self.pods.saturating_sub(other.pods);
        for (name, amount) in &other.extended {
            match self.extended.get_mut(name) {
                Some(v) => *v = v.saturating_sub(*amount),
                None => {
                    self.extended
                        .insert(name.clone(), 0i64.saturating_sub(*amount));
                }
            }
        }
    }

    /// `self + other`, or `None` if any dimension overflows.
    pub fn checked_add(&self, other: &Resources) -> Option<Resources> {
        self.checked_zip(other, i64::checked_add)
    }

    /// `self − other`, or `None` if any dimension overflows.
    pub fn checked_sub(&self, other: &Resources) -> Option<Resources> {
        self.checked_zip(other, i64::checked_sub)
    }

    fn checked_zip(&self, other: &Resources, op: fn(i64, i64) -> Option<i64>) -> Option<Resources> {
        let mut extended = self.extended.clone();
        for (name, amount) in &other.extended {
            let v = extended.entry(name.clone()).or_insert(0);
            *v = op(*v, *amount)?;
        }
        Some(Resources {
            cpu_millis: op(self.cpu_millis, other.cpu_millis)?,
            memory_bytes: op(self.memory_bytes, other.memory_bytes)?,
            ephemeral_storage_bytes: op(
                self.ephemeral_storage_bytes,
                other.ephemeral_storage_bytes,
            )?,
            pods: op(self.pods, other.pods)?,
            extended,
        })
    }

    /// True when this request fits into `free` in every dimension.
    pub fn fits_in(&self, free: &Resources) -> bool {
        self.first_shortage(free).is_none()
    }

    /// The first dimension (in the order cpu, memory, ephemeral-storage, pods, extended by name)
    /// where this request exceeds `free`; `None` when it fits. A zero request always fits,
    /// as in Kubernetes, even where `free` is negative (an over-committed node).
    pub fn first_shortage(&self, free: &Resources) -> Option<ResourceName> {
        Resources::zero().first_shortage_with(self, free)
    }

    /// Every dimension where this request exceeds `free`, in the order of [`Self::first_shortage`].
    pub fn shortages(&self, free: &Resources) -> Vec<ResourceName> {
        let mut out = Vec::new();
        for (name, need, have) in [
            (ResourceName::Cpu, self.cpu_millis, free.cpu_millis),
            (ResourceName::Memory, self.memory_bytes, free.memory_bytes),
            (
                ResourceName::EphemeralStorage,
                self.ephemeral_storage_bytes,
                free.ephemeral_storage_bytes,
            ),
            (ResourceName::Pods, self.pods, free.pods),
        ] {
            if need > 0 && need > have {
                out.push(name);
            }
        }
        for (name, amount) in &self.extended {
            if *amount > 0 && *amount > free.extended(name) {
                out.push(ResourceName::Extended(name.clone()));
            }
        }
        out
    }

    /// True when `request` on top of `self` (already used) fits `capacity`; never allocates.
    pub fn fits_with(&self, request: &Resources, capacity: &Resources) -> bool {
        let ok = |used: i64, req: i64, cap: i64| req <= 0 || used.saturating_add(req) <= cap;
        ok(self.cpu_millis, request.cpu_millis, capacity.cpu_millis)
            && ok(
                self.memory_bytes,
                request.memory_bytes,
                capacity.memory_bytes,
            )
            && ok(
                self.ephemeral_storage_bytes,
                request.ephemeral_storage_bytes,
                capacity.ephemeral_storage_bytes,
            )
            && ok(self.pods, request.pods, capacity.pods)
            && request
                .extended
                .iter()
                .all(|(name, amount)| ok(self.extended(name), *amount, capacity.extended(name)))
    }

    /// Would `self` (already used) plus `request` still fit within `capacity`?
    /// Same as `request.fits_in(&(capacity − self))` without allocating.
    pub fn first_shortage_with(
        &self,
        request: &Resources,
        capacity: &Resources,
    ) -> Option<ResourceName> {
        let over = |used: i64, req: i64, cap: i64| req > 0 && used.saturating_add(req) > cap;
        if over(self.cpu_millis, request.cpu_millis, capacity.cpu_millis) {
            return Some(ResourceName::Cpu);
        }
        if over(
            self.memory_bytes,
            request.memory_bytes,
            capacity.memory_bytes,
        ) {
            return Some(ResourceName::Memory);
        }
        if over(
            self.ephemeral_storage_bytes,
            request.ephemeral_storage_bytes,
            capacity.ephemeral_storage_bytes,
        ) {
            return Some(ResourceName::EphemeralStorage);
        }
        if over(self.pods, request.pods, capacity.pods) {
            return Some(ResourceName::Pods);
        }
        request
            .extended
            .iter()
            .find(|(name, amount)| over(self.extended(name), **amount, capacity.extended(name)))
            .map(|(name, _)| ResourceName::Extended(name.clone()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const GI: i64 = 1 << 30;

    #[test]
    fn add_and_sub_cover_every_dimension_including_extended() {
        let a = Resources::pod(500, GI)
            .with_ephemeral_storage(10)
            .with_extended(NVIDIA_GPU, 1);
        let b = Resources::pod(250, GI).with_extended("example.com/foo", 2);
        let sum = a.saturating_add(&b);
        assert_eq!(sum.cpu_millis, 750);
        assert_eq!(sum.memory_bytes, 2 * GI);
        assert_eq!(sum.ephemeral_storage_bytes, 10);
        assert_eq!(sum.pods, 2);
        assert_eq!(sum.extended(NVIDIA_GPU), 1);
        assert_eq!(sum.extended("example.com/foo"), 2);
        let back = sum.saturating_sub(&b);
        assert_eq!(back.cpu_millis, a.cpu_millis);
        assert_eq!(back.extended("example.com/foo"), 0);
        assert_eq!(back.extended(NVIDIA_GPU), 1);
    }

    #[test]
    fn saturating_ops_clamp_and_checked_ops_report_overflow() {
        let big = Resources::new(i64::MAX, i64::MIN);
        let one = Resources::new(1, 1);
        let s = big.saturating_add(&one);
        assert_eq!(s.cpu_millis, i64::MAX);
        assert_eq!(s.memory_bytes, i64::MIN + 1);
        assert_eq!(big.checked_add(&one), None);
        assert_eq!(Resources::new(i64::MIN, 0).checked_sub(&one), None);
        assert_eq!(one.checked_add(&one), Some(Resources::new(2, 2)));
        assert_eq!(
            Resources::new(i64::MIN, 0).saturating_sub(&one).cpu_millis,
            i64::MIN
        );
    }

    #[test]
    fn fits_in_names_the_short_resource() {
        let free = Resources::pod(1000, 4 * GI)
            .with_pods(10)
            .with_ephemeral_storage(20 * GI)
            .with_extended(NVIDIA_GPU, 1);
        let cases: Vec<(Resources, Option<ResourceName>)> = vec![
            (Resources::pod(1000, 4 * GI), None),
            (Resources::pod(1001, GI), Some(ResourceName::Cpu)),
            (Resources::pod(100, 4 * GI + 1), Some(ResourceName::Memory)),
            (
                Resources::pod(100, GI).with_ephemeral_storage(21 * GI),
                Some(ResourceName::EphemeralStorage),
            ),
            (
                Resources::pod(100, GI).with_pods(11),
                Some(ResourceName::Pods),
            ),
            (
                Resources::pod(100, GI).with_extended(NVIDIA_GPU, 2),
                Some(ResourceName::Extended(NVIDIA_GPU.into())),
            ),
            (
                Resources::pod(100, GI).with_extended("example.com/fpga", 1),
                Some(ResourceName::Extended("example.com/fpga".into())),
            ),
            (Resources::pod(100, GI).with_extended(NVIDIA_GPU, 1), None),
        ];
        for (request, want) in cases {
            assert_eq!(request.first_shortage(&free), want, "request {request:?}");
            assert_eq!(request.fits_in(&free), want.is_none());
            let used = Resources::zero();
            assert_eq!(
                used.first_shortage_with(&request, &free),
                want,
                "with {request:?}"
            );
            assert_eq!(
                used.fits_with(&request, &free),
                want.is_none(),
                "fits_with {request:?}"
            );
        }
    }

    #[test]
    fn shortages_lists_all_short_dimensions() {
        let free = Resources::pod(100, GI);
        let req = Resources::pod(200, 2 * GI).with_extended(NVIDIA_GPU, 1);
        assert_eq!(
            req.shortages(&free),
            vec![
                ResourceName::Cpu,
                ResourceName::Memory,
                ResourceName::Extended(NVIDIA_GPU.into())
            ]
        );
        assert!(Resources::zero().shortages(&free).is_empty());
    }

    #[test]
    fn first_shortage_with_accounts_for_used() {
        let cap = Resources::pod(1000, GI).with_pods(2);
        let used = Resources::pod(900, 0);
        assert_eq!(
            used.first_shortage_with(&Resources::pod(100, 0), &cap),
            None
        );
        assert_eq!(
            used.first_shortage_with(&Resources::pod(101, 0), &cap),
            Some(ResourceName::Cpu)
        );
        let full = Resources::pod(0, 0).with_pods(2);
        assert_eq!(
            full.first_shortage_with(&Resources::pod(0, 0), &cap),
            Some(ResourceName::Pods)
        );
        // A zero request fits even on an over-committed node.
        let over = Resources::new(2000, 0);
        assert_eq!(over.first_shortage_with(&Resources::zero(), &cap), None);
    }

    #[test]
    fn resource_names_display_kubernetes_names() {
        assert_eq!(ResourceName::Cpu.to_string(), "cpu");
        assert_eq!(
            ResourceName::EphemeralStorage.to_string(),
            "ephemeral-storage"
        );
        assert_eq!(
            ResourceName::Extended(NVIDIA_GPU.into()).to_string(),
            "nvidia.com/gpu"
        );
        assert_eq!(Resources::pod(1, 2).get(&ResourceName::Pods), 1);
        assert!(Resources::zero().is_zero());
        assert!(!Resources::pod(0, 0).is_zero());
    }

    #[test]
    fn serde_round_trip_and_rejects_unknown_fields() {
        let r = Resources::pod(250, GI).with_extended(NVIDIA_GPU, 1);
        let json = serde_json::to_string(&r).unwrap();
        let back: Resources = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        let bad =
            r#"{"cpu_millis":1,"memory_bytes":1,"ephemeral_storage_bytes":0,"pods":1,"gpu":1}"#;
        assert!(serde_json::from_str::<Resources>(bad).is_err());
    }
}
