//! Leader election with a `coordination.k8s.io/v1` Lease, following client-go's rules: acquire a
//! lease that is absent, released or expired; renew it every retry period while holding it; stop
//! acting as leader when it could not be renewed within the renew deadline.
//!
//! Expiry is judged as client-go does, by how long *this process* has seen the lease record
//! unchanged (a monotonic clock), not by comparing `renewTime` with the local wall clock, so
//! clock skew between nodes cannot make two leaders. Writes use the lease's `resourceVersion`:
//! the API server rejects a stale write with a conflict, which means someone else won.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::LeaderHandle;

/// Errors of leader election.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The timing breaks client-go's rules (lease duration > renew deadline > retry period > 0).
    #[error("invalid leader election timing: {0}")]
    InvalidTiming(&'static str),
    /// A required name was empty.
    #[error("leader election {0} must not be empty")]
    Empty(&'static str),
    /// No pod name to compete as (see [`pod_identity`]).
    #[error(
        "leader election needs a stable identity: set --pod-name or TIDAL_POD_NAME to the pod's \
         name (downward API fieldRef metadata.name), or run a single replica with \
         --no-leader-election"
    )]
    NoIdentity,
    /// The Kubernetes API call failed (not a conflict, which just means another holder won).
    #[error("{action} lease {namespace}/{name} failed")]
    Kube {
        /// What was being done: `get`, `create`, `update` or `release`.
        action: &'static str,
        /// The lease's namespace.
        namespace: String,
        /// The lease's name.
        name: String,
        /// The client's error (boxed: it is large and errors are rare).
        #[source]
        source: Box<kube::Error>,
    },
}

/// How long a lease lasts and how often it is renewed (defaults are client-go's: 15 s, 10 s, 2 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTiming {
    lease_duration: Duration,
    renew_deadline: Duration,
    retry_period: Duration,
}

impl Default for LeaseTiming {
    fn default() -> Self {
        Self {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

impl LeaseTiming {
    /// Validated timing: whole seconds of lease (the Lease stores seconds) above the renew
    /// deadline, which is above the retry period, which is above zero.
    pub fn try_new(
        lease_duration: Duration,
        renew_deadline: Duration,
        retry_period: Duration,
    ) -> Result<Self, LeaderError> {
        if lease_duration.subsec_nanos() != 0 || lease_duration < Duration::from_secs(1) {
            return Err(LeaderError::InvalidTiming(
                "lease duration must be whole seconds, at least 1 s",
            ));
        }
        if i32::try_from(lease_duration.as_secs()).is_err() {
            return Err(LeaderError::InvalidTiming("lease duration is too long"));
        }
        if renew_deadline >= lease_duration {
            return Err(LeaderError::InvalidTiming(
                "renew deadline must be shorter than the lease duration",
            ));
        }
        if retry_period.is_zero() || retry_period >= renew_deadline {
            return Err(LeaderError::InvalidTiming(
                "retry period must be above zero and below the renew deadline",
            ));
        }
        Ok(Self {
            lease_duration,
            renew_deadline,
            retry_period,
        })
    }

    /// How long a holder's lease lasts without renewal.
    pub fn lease_duration(&self) -> Duration {
        self.lease_duration
    }

    /// How long the leader keeps acting without a successful renewal.
    pub fn renew_deadline(&self) -> Duration {
        self.renew_deadline
    }

    /// The pause between attempts.
    pub fn retry_period(&self) -> Duration {
        self.retry_period
    }

    fn lease_seconds(&self) -> i32 {
        // Checked in try_new; Default is 15.
        i32::try_from(self.lease_duration.as_secs()).unwrap_or(i32::MAX)
    }
}

/// The identity a replica competes as: its pod name, trimmed. A pod name is unique among
/// the replicas and stable while the pod lives; a process id is neither (every replica's
/// main process may be PID 1, and two replicas with one identity both believe they lead),
/// so there is no fallback: without a pod name this is [`LeaderError::NoIdentity`].
pub fn pod_identity(pod_name: Option<&str>) -> Result<String, LeaderError> {
    pod_name
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .ok_or(LeaderError::NoIdentity)
}

/// Competes for one Lease on behalf of one identity (usually the pod name).
pub struct LeaderElector {
    api: Api<Lease>,
    namespace: String,
    name: String,
    identity: String,
    timing: LeaseTiming,
    /// The lease record last seen and when it was first seen in that state.
    observed: Option<(LeaseSpec, Instant)>,
    /// The lease as last written by us while holding it (kept to release it on shutdown).
    held: Option<Lease>,
}

impl LeaderElector {
    /// An elector for lease `namespace/name`, competing as `identity`.
    pub fn new(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
        timing: LeaseTiming,
    ) -> Result<Self, LeaderError> {
        for (field, value) in [
            ("namespace", namespace),
            ("lease name", name),
            ("identity", identity),
        ] {
            if value.is_empty() {
                return Err(LeaderError::Empty(field));
            }
        }
        Ok(Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            identity: identity.to_owned(),
            timing,
            observed: None,
            held: None,
        })
    }

    /// One attempt: returns whether this identity holds the lease afterwards.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, LeaderError> {
        self.attempt(Instant::now()).await
    }

    async fn attempt(&mut self, now: Instant) -> Result<bool, LeaderError> {
        let current = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| self.kube_err("get", e))?;
        let Some(current) = current else {
            return self.create().await;
        };
        let spec = current.spec.clone().unwrap_or_default();
        let seen_at = match &self.observed {
            Some((seen, at)) if *seen == spec => *at,
            _ => now,
        };
        self.observed = Some((spec.clone(), seen_at));

        let holder = spec.holder_identity.as_deref().filter(|h| !h.is_empty());
        let ours = holder == Some(self.identity.as_str());
        if holder.is_some() && !ours {
            let duration = spec
                .lease_duration_seconds
                .and_then(|s| u64::try_from(s).ok())
                .map_or(self.timing.lease_duration, Duration::from_secs);
            if now < seen_at + duration {
                self.held = None;
                return Ok(false);
            }
        }
        let wall = MicroTime(Timestamp::now());
        let mut next = spec;
        if !ours {
            next.acquire_time = Some(wall.clone());
            next.lease_transitions = Some(next.lease_transitions.unwrap_or(0).saturating_add(1));
            next.holder_identity = Some(self.identity.clone());
        }
        next.renew_time = Some(wall);
        next.lease_duration_seconds = Some(self.timing.lease_seconds());
        // `current.metadata` carries the resourceVersion that makes this write conditional.
        let lease = Lease {
            metadata: current.metadata,
            spec: Some(next),
        };
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(written) => Ok(self.won(written, now)),
            Err(kube::Error::Api(status)) if status.is_conflict() => {
                self.held = None;
                Ok(false)
            }
            Err(e) => Err(self.kube_err("update", e)),
        }
    }

    async fn create(&mut self) -> Result<bool, LeaderError> {
        let wall = MicroTime(Timestamp::now());
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.identity.clone()),
                lease_duration_seconds: Some(self.timing.lease_seconds()),
                acquire_time: Some(wall.clone()),
                renew_time: Some(wall),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        match self.api.create(&PostParams::default(), &lease).await {
            Ok(written) => Ok(self.won(written, Instant::now())),
            Err(kube::Error::Api(status)) if status.is_already_exists() || status.is_conflict() => {
                self.held = None;
                Ok(false)
            }
            Err(e) => Err(self.kube_err("create", e)),
        }
    }

    fn won(&mut self, written: Lease, now: Instant) -> bool {
        self.observed = Some((written.spec.clone().unwrap_or_default(), now));
        self.held = Some(written);
        true
    }

    /// Gives the lease up (if held) so another replica can take over at once instead of waiting
    /// for it to expire: clears the holder and shortens the duration to 1 s, like client-go.
    pub async fn release(&mut self) -> Result<(), LeaderError> {
        let Some(mut lease) = self.held.take() else {
            return Ok(());
        };
        let wall = MicroTime(Timestamp::now());
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(wall.clone());
        spec.acquire_time = Some(wall);
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(()),
            // Someone else already wrote the lease: nothing of ours left to release.
            Err(kube::Error::Api(status)) if status.is_conflict() => Ok(()),
            Err(e) => Err(self.kube_err("release", e)),
        }
    }

    fn kube_err(&self, action: &'static str, source: kube::Error) -> LeaderError {
        LeaderError::Kube {
            action,
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            source: Box::new(source),
        }
    }

    /// A controller's election with the default timing, run until SIGTERM or SIGINT: the
    /// handle its loop checks before acting and before every write.
    pub fn start(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
    ) -> Result<LeaderHandle, LeaderError> {
        let elector = Self::new(client, namespace, name, identity, LeaseTiming::default())?;
        Ok(elector.spawn(crate::shutdown_signal()).0)
    }

    /// Runs the election in a background task until `shutdown` resolves, then releases the lease.
    pub fn spawn(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> (LeaderHandle, JoinHandle<()>) {
        let (tx, rx) = watch::channel(None);
        let task = tokio::spawn(self.run(tx, shutdown));
        (LeaderHandle::following(rx), task)
    }

    async fn run(
        mut self,
        tx: watch::Sender<Option<Instant>>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) {
        tokio::pin!(shutdown);
        let mut leader_until: Option<Instant> = None;
        loop {
            let started = Instant::now();
            let attempt = tokio::time::timeout(self.timing.renew_deadline, self.attempt(started));
            match attempt.await {
                Ok(Ok(true)) => {
                    if leader_until.is_none() {
                        tracing::info!(lease = %self.name, identity = %self.identity, "became leader");
                    }
                    leader_until = Some(started + self.timing.renew_deadline);
                    tx.send_replace(leader_until);
                }
                Ok(Ok(false)) => {
                    if leader_until.take().is_some() {
                        tracing::warn!(lease = %self.name, "lost leadership: another holder won the lease");
                    }
                    tx.send_replace(None);
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "leader election attempt failed"),
                Err(_) => tracing::warn!(lease = %self.name, "leader election attempt timed out"),
            }
            if leader_until.is_some_and(|until| Instant::now() >= until) {
                tracing::warn!(lease = %self.name, "lost leadership: lease not renewed within the renew deadline");
                leader_until = None;
                tx.send_replace(None);
            }
            tokio::select! {
                () = tokio::time::sleep(self.timing.retry_period) => {}
                () = &mut shutdown => break,
            }
        }
        // Stop acting before giving the lease away.
        tx.send_replace(None);
        if leader_until.is_some()
            && let Err(e) = self.release().await
        {
            tracing::warn!(error = %e, "releasing the lease failed; it will expire instead");
        }
    }
}

#[cfg(test)]
mod tests;
