//! The Kubernetes client every Tidal controller uses: configured as kube-rs does by default
//! (in-cluster service account, else `KUBECONFIG` / `~/.kube/config`) except for kube-rs's
//! automatic retries.
//!
//! Those retry 429, 503 and 504 up to 15 times with exponential backoff (5 ms up to 1000 s).
//! The API server answers 429 without Retry-After when a PodDisruptionBudget blocks an eviction
//! and when event rate limiting refuses an Event, so one such call held a whole control loop
//! for minutes. Tidal's loops are the retry: a failed call is reported and tried again on the
//! next pass, and watches back off on their own.

/// Why no client could be built.
#[derive(Debug, thiserror::Error)]
pub enum KubeClientError {
    /// Neither in-cluster configuration nor a kubeconfig could be read.
    #[error("finding the Kubernetes configuration (in-cluster, KUBECONFIG or ~/.kube/config): {0}")]
    Config(#[source] kube::config::InferConfigError),
    /// The configuration could not make a client (e.g. a bad certificate).
    #[error("building the Kubernetes client: {0}")]
    Client(#[source] kube::Error),
}

/// The client for the inferred configuration, without automatic retries.
pub async fn kube_client() -> Result<kube::Client, KubeClientError> {
    let config = kube::Config::infer()
        .await
        .map_err(KubeClientError::Config)?;
    kube_client_from(config)
}

/// The client for `config`, without automatic retries.
pub fn kube_client_from(mut config: kube::Config) -> Result<kube::Client, KubeClientError> {
    config.default_retry = false;
    kube::Client::try_from(config).map_err(KubeClientError::Client)
}
