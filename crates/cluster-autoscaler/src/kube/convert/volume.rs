//! The zone a pod's bound volume lives in: PVC → bound PV → zone.
//!
//! EBS volumes exist in one zone, so a pod using one can only run there. The zone comes from
//! the PV's required node affinity on `topology.kubernetes.io/zone` (CSI volumes; the legacy
//! `topology.ebs.csi.aws.com/zone` and `failure-domain.beta.kubernetes.io/zone` keys too) or,
//! for older in-tree volumes, the PV's zone label. A claim that is not bound yet
//! (`WaitForFirstConsumer`) has no zone: the volume will be created where the pod lands.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use tidal_core::scheduling::LABEL_ZONE;

/// Zone keys a PV may carry, newest first.
const ZONE_KEYS: [&str; 3] = [
    LABEL_ZONE,
    "topology.ebs.csi.aws.com/zone",
    "failure-domain.beta.kubernetes.io/zone",
];

/// Looks up claims and volumes by name (reflector stores in production, maps in tests).
pub trait VolumeLookup {
    /// The claim `namespace/name`.
    fn claim(&self, namespace: &str, name: &str) -> Option<std::sync::Arc<PersistentVolumeClaim>>;
    /// The persistent volume `name`.
    fn volume(&self, name: &str) -> Option<std::sync::Arc<PersistentVolume>>;
}

/// True when the pod mounts any PersistentVolumeClaim (only those pods need a lookup).
pub fn uses_claims(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .is_some_and(|v| v.iter().any(|v| v.persistent_volume_claim.is_some()))
}

/// The zone of a persistent volume, if it is pinned to exactly one.
pub fn volume_zone(pv: &PersistentVolume) -> Option<String> {
    let from_affinity = pv
        .spec
        .as_ref()
        .and_then(|s| s.node_affinity.as_ref())
        .and_then(|a| a.required.as_ref())
        .and_then(|r| {
            // Terms are ORed: the volume is pinned to one zone only if every term names the same one.
            let mut zones = r.node_selector_terms.iter().map(|t| {
                t.match_expressions.iter().flatten().find_map(|e| {
                    let single = e.values.as_deref().filter(|v| v.len() == 1)?;
                    (ZONE_KEYS.contains(&e.key.as_str()) && e.operator == "In")
                        .then(|| single[0].clone())
                })
            });
            let first = zones.next()??;
            zones
                .all(|z| z.as_deref() == Some(first.as_str()))
                .then_some(first)
        });
    from_affinity.or_else(|| {
        let labels = pv.metadata.labels.as_ref()?;
        ZONE_KEYS
            .iter()
            .find_map(|k| labels.get(*k))
            .filter(|z| !z.contains("__"))
            .cloned()
    })
}

/// The zone of the first bound volume the pod uses that is pinned to a zone.
pub fn pod_volume_zone(pod: &Pod, lookup: &impl VolumeLookup) -> Option<String> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    pod.spec.as_ref()?.volumes.iter().flatten().find_map(|v| {
        let claim = lookup.claim(namespace, &v.persistent_volume_claim.as_ref()?.claim_name)?;
        let pv_name = claim
            .spec
            .as_ref()?
            .volume_name
            .as_deref()
            .filter(|n| !n.is_empty())?;
        volume_zone(&*lookup.volume(pv_name)?)
    })
}
