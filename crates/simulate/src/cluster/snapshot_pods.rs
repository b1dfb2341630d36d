//! The pod list the autoscaler's snapshots share, kept in place as pods come and go.
//!
//! A snapshot of 30,000 pods that cloned every pod's `Arc` cost a cache miss per pod per loop.
//! Instead the simulated cluster keeps one list in creation order and hands out the list
//! itself. The autoscaler drops its snapshot before the simulation changes pods again, so the
//! list is changed in place; were a snapshot still held, `Arc::make_mut` would copy the list
//! first and the held snapshot would stay as it was.

use std::sync::Arc;

use tidal_cluster_autoscaler::ports::ClusterPod;

/// The pods in creation (uid) order, as a snapshot lists them.
#[derive(Debug, Default)]
pub(super) struct SnapshotPods {
    pods: Arc<Vec<Arc<ClusterPod>>>,
    /// The uid at each position of `pods`, and whether that pod was deleted since the list was
    /// last compacted (it leaves `pods` at the next [`SnapshotPods::share`]).
    uids: Vec<(u64, bool)>,
    deleted: usize,
}

impl SnapshotPods {
    /// Adds a pod; uids are handed out in increasing order, so it goes last.
    pub(super) fn push(&mut self, uid: u64, pod: &Arc<ClusterPod>) {
        debug_assert!(self.uids.last().is_none_or(|(last, _)| *last < uid));
        Arc::make_mut(&mut self.pods).push(Arc::clone(pod));
        self.uids.push((uid, false));
    }

    /// Puts the pod's new object in its place.
    pub(super) fn replace(&mut self, uid: u64, pod: &Arc<ClusterPod>) {
        if let Some(i) = self.position(uid)
            && let Some(slot) = Arc::make_mut(&mut self.pods).get_mut(i)
        {
            *slot = Arc::clone(pod);
        }
    }

    /// Marks the pod deleted; it leaves the list at the next [`SnapshotPods::share`].
    pub(super) fn remove(&mut self, uid: u64) {
        if let Some(i) = self.position(uid)
            && let Some((_, deleted)) = self.uids.get_mut(i)
        {
            *deleted = true;
            self.deleted += 1;
        }
    }

    /// The list as it is now (the pods not deleted, in creation order).
    pub(super) fn share(&mut self) -> Arc<Vec<Arc<ClusterPod>>> {
        if self.deleted > 0 {
            let mut kept = self.uids.iter().map(|(_, deleted)| !deleted);
            Arc::make_mut(&mut self.pods).retain(|_| kept.next().unwrap_or(true));
            self.uids.retain(|(_, deleted)| !deleted);
            self.deleted = 0;
        }
        Arc::clone(&self.pods)
    }

    /// Where a listed, not deleted pod is.
    fn position(&self, uid: u64) -> Option<usize> {
        let i = self.uids.binary_search_by_key(&uid, |(u, _)| *u).ok()?;
        (!self.uids.get(i)?.1).then_some(i)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use tidal_cluster_autoscaler::ports::PodPhase;
    use tidal_core::Timestamp;
    use tidal_core::resources::Resources;
    use tidal_core::scheduling::PodSpec;

    fn pod(name: &str) -> Arc<ClusterPod> {
        let spec = PodSpec::new(name, Resources::pod(100, 1 << 30));
        Arc::new(ClusterPod {
            namespace: spec.namespace.clone(),
            name: name.to_owned(),
            spec,
            node_name: None,
            phase: PodPhase::Pending,
            unschedulable_since: None,
            controller_kind: None,
            safe_to_evict: None,
            has_local_storage: false,
            created_at: Timestamp::from_secs(0),
            deleting: false,
        })
    }

    fn names(list: &[Arc<ClusterPod>]) -> Vec<&str> {
        list.iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn follows_pushes_replacements_and_deletions_in_creation_order() {
        let mut pods = SnapshotPods::default();
        for (uid, name) in [(1, "a"), (2, "b"), (4, "c"), (7, "d")] {
            pods.push(uid, &pod(name));
        }
        pods.remove(2);
        pods.replace(4, &pod("c2"));
        // A deleted pod is neither replaced nor deleted twice; an unknown uid changes nothing.
        pods.replace(2, &pod("b2"));
        pods.remove(2);
        pods.remove(3);
        pods.push(9, &pod("e"));
        let held = pods.share();
        assert_eq!(names(&held), ["a", "c2", "d", "e"]);

        // A snapshot still held keeps what it listed while the list changes.
        pods.remove(1);
        pods.replace(9, &pod("e2"));
        let now = pods.share();
        assert_eq!(names(&held), ["a", "c2", "d", "e"]);
        assert_eq!(names(&now), ["c2", "d", "e2"]);

        // Nobody holds the list any more: it is changed in place, not copied.
        drop((held, now));
        let before = Arc::as_ptr(&pods.share());
        pods.push(10, &pod("f"));
        pods.remove(7);
        let after = pods.share();
        assert_eq!(Arc::as_ptr(&after), before);
        assert_eq!(names(&after), ["c2", "e2", "f"]);
    }
}
