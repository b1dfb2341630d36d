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
    /// The kubeconfig file given (`--kubeconfig`) could not be read or used.
    #[error("reading the kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: kube::config::KubeconfigError,
    },
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

/// The client for the kubeconfig file `path` (its current context), or for the inferred
/// configuration when `None`; without automatic retries.
pub async fn kube_client_for(
    path: Option<&std::path::Path>,
) -> Result<kube::Client, KubeClientError> {
    kube_client_from(kube_config_for(path).await?)
}

/// The configuration of the kubeconfig file `path` (its current context), or the inferred one
/// when `None`, for a component that builds its own client from it.
pub async fn kube_config_for(
    path: Option<&std::path::Path>,
) -> Result<kube::Config, KubeClientError> {
    let Some(path) = path else {
        return kube::Config::infer().await.map_err(KubeClientError::Config);
    };
    let error = |source| KubeClientError::Kubeconfig {
        path: path.display().to_string(),
        source,
    };
    let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(error)?;
    let options = kube::config::KubeConfigOptions::default();
    kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(error)
}

/// The client for `config`, without automatic retries.
pub fn kube_client_from(mut config: kube::Config) -> Result<kube::Client, KubeClientError> {
    config.default_retry = false;
    kube::Client::try_from(config).map_err(KubeClientError::Client)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[tokio::test]
    async fn a_missing_kubeconfig_is_named() {
        let path = std::path::Path::new("/nonexistent/tidal-kubeconfig");
        let Err(err) = kube_client_for(Some(path)).await else {
            panic!("a missing kubeconfig must be an error");
        };
        assert!(
            err.to_string().contains("/nonexistent/tidal-kubeconfig"),
            "{err}"
        );
    }

    // Building a client does not connect, so a loopback server address that nobody serves is fine.
    #[tokio::test]
    async fn a_kubeconfig_file_gives_its_current_context() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        let text = "apiVersion: v1\nkind: Config\ncurrent-context: test\n\
            clusters: [{name: c, cluster: {server: 'http://127.0.0.1:1'}}]\n\
            users: [{name: u, user: {token: t}}]\n\
            contexts: [{name: test, context: {cluster: c, user: u, namespace: team-a}}]\n";
        std::fs::write(&path, text).unwrap();
        let client = kube_client_for(Some(&path)).await.unwrap();
        assert_eq!(client.default_namespace(), "team-a");
    }
}
