//! Where the API port's TLS material comes from, re-read periodically so that a rotated serving
//! certificate (e.g. renewed by cert-manager), a rotated front-proxy CA or a changed list of
//! allowed front-proxy names is picked up without a restart. New connections use the new
//! configuration; open ones keep theirs. The names apply to every request from then on.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use tokio::sync::watch;

use crate::auth::{AuthError, RequestHeaderAuth, RequestHeaderCa};
use crate::tls::{self, TlsError};

/// Why the TLS material could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsSourceError {
    /// A certificate or key file, or the resulting configuration, was rejected.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The requestheader CA could not be loaded.
    #[error(transparent)]
    Auth(#[from] AuthError),
}

/// The files (and, without a CA file, the cluster) the TLS configuration is built from.
#[derive(Clone)]
pub struct TlsSource {
    /// Serving certificate chain (PEM).
    pub cert_file: PathBuf,
    /// Serving private key (PEM).
    pub key_file: PathBuf,
    /// Requestheader CA bundle; `None` reads the extension-apiserver-authentication ConfigMap.
    pub ca_file: Option<PathBuf>,
    /// Client for the ConfigMap.
    pub client: Option<kube::Client>,
    /// `--requestheader-allowed-names`.
    pub allowed_names_flag: Vec<String>,
}

/// One loaded TLS configuration.
pub struct Loaded {
    /// The server configuration.
    pub config: Arc<ServerConfig>,
    /// The requestheader CA and allowed names it was built with.
    pub ca: RequestHeaderCa,
    fingerprint: u64,
}

impl TlsSource {
    async fn request_header_ca(&self) -> Result<RequestHeaderCa, TlsSourceError> {
        let names = self.allowed_names_flag.clone();
        Ok(match (&self.ca_file, &self.client) {
            (Some(path), _) => RequestHeaderCa::from_file(path, names)?,
            (None, Some(client)) => RequestHeaderCa::from_cluster(client.clone(), names).await?,
            (None, None) => return Err(AuthError::MissingCa.into()),
        })
    }

    /// Reads everything and builds the server configuration.
    pub async fn load(&self) -> Result<Loaded, TlsSourceError> {
        let chain = tls::certificates_from_file(&self.cert_file, "serving certificate")?;
        let key = tls::private_key_from_file(&self.key_file)?;
        let ca = self.request_header_ca().await?;
        let mut hasher = DefaultHasher::new();
        chain.hash(&mut hasher);
        key.secret_der().hash(&mut hasher);
        ca.certificates.hash(&mut hasher);
        ca.allowed_names.hash(&mut hasher);
        let config = tls::server_config(chain, key, &ca.certificates, &ca.origin)?;
        Ok(Loaded {
            config,
            ca,
            fingerprint: hasher.finish(),
        })
    }

    /// Re-reads the material every `every` and, when it changed, publishes a new configuration
    /// and gives `auth` the new allowed names; keeps the current ones (and logs) when the new
    /// material is unusable. Ends with `shutdown`.
    pub async fn reload_loop(
        self,
        current: Loaded,
        tx: watch::Sender<Arc<ServerConfig>>,
        auth: Arc<RequestHeaderAuth>,
        every: Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let mut fingerprint = current.fingerprint;
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = &mut shutdown => return,
            }
            match self.load().await {
                Ok(loaded) if loaded.fingerprint != fingerprint => {
                    fingerprint = loaded.fingerprint;
                    auth.set_allowed_names(loaded.ca.allowed_names.iter().cloned());
                    tx.send_replace(loaded.config);
                    tracing::info!(client_ca = %loaded.ca.origin, "reloaded TLS certificates");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reload TLS certificates; keeping the current ones")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::testing::Pki;

    fn write_server(dir: &std::path::Path, pki: &Pki) {
        std::fs::write(dir.join("tls.crt"), &pki.server.cert_pem).unwrap();
        std::fs::write(dir.join("tls.key"), &pki.server.key_pem).unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn reloads_rotated_certificates_and_keeps_serving_through_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::generate().unwrap();
        write_server(dir.path(), &pki);
        std::fs::write(dir.path().join("ca.crt"), pki.front_proxy_ca_pem()).unwrap();
        let source = TlsSource {
            cert_file: dir.path().join("tls.crt"),
            key_file: dir.path().join("tls.key"),
            ca_file: Some(dir.path().join("ca.crt")),
            client: None,
            allowed_names_flag: vec!["front-proxy-client".into()],
        };
        let loaded = source.load().await.unwrap();
        assert_eq!(loaded.ca.allowed_names, ["front-proxy-client"]);
        let first = loaded.config.clone();
        let (tx, mut rx) = watch::channel(first.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let every = Duration::from_secs(60);
        let auth = Arc::new(RequestHeaderAuth::new(loaded.ca.allowed_names.clone()));
        let task = tokio::spawn(source.clone().reload_loop(loaded, tx, auth, every, async {
            let _ = stopped.await;
        }));

        // Unchanged files: nothing is republished.
        tokio::time::sleep(every * 3).await;
        assert!(!rx.has_changed().unwrap());
        // A half-written file is rejected and the current configuration stays.
        std::fs::write(dir.path().join("tls.crt"), "garbage").unwrap();
        let err = source.load().await.err().unwrap().to_string();
        assert!(err.contains("tls.crt"), "{err}");
        tokio::time::sleep(every * 3).await;
        assert!(!rx.has_changed().unwrap());
        // The rotated certificate is picked up.
        write_server(dir.path(), &Pki::generate().unwrap());
        rx.changed().await.unwrap();
        assert!(!Arc::ptr_eq(&rx.borrow_and_update(), &first));
        stop.send(()).unwrap();
        task.await.unwrap();
    }

    /// Answers every request with the extension-apiserver-authentication ConfigMap holding
    /// `pki`'s front-proxy CA and the allowed names `names()` gives at that moment.
    fn serve_configmap(
        mut handle: tower_test::mock::Handle<
            http::Request<kube::client::Body>,
            http::Response<kube::client::Body>,
        >,
        ca_pem: String,
        names: Arc<std::sync::Mutex<&'static str>>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                assert!(
                    request.uri().path().ends_with(
                        "/namespaces/kube-system/configmaps/extension-apiserver-authentication"
                    ),
                    "{}",
                    request.uri()
                );
                let allowed = *names.lock().unwrap();
                let body = serde_json::json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "extension-apiserver-authentication", "namespace": "kube-system"},
                    "data": {
                        "requestheader-client-ca-file": ca_pem,
                        "requestheader-allowed-names": allowed,
                    },
                });
                let body = kube::client::Body::from(serde_json::to_vec(&body).unwrap());
                send.send_response(http::Response::builder().status(200).body(body).unwrap());
            }
        })
    }

    #[tokio::test(start_paused = true)]
    async fn allowed_names_changed_in_the_configmap_apply_without_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::generate().unwrap();
        write_server(dir.path(), &pki);
        let (service, handle) = tower_test::mock::pair::<
            http::Request<kube::client::Body>,
            http::Response<kube::client::Body>,
        >();
        let names = Arc::new(std::sync::Mutex::new(r#"["front-proxy-client"]"#));
        let server = serve_configmap(handle, pki.front_proxy_ca_pem().to_owned(), names.clone());
        let source = TlsSource {
            cert_file: dir.path().join("tls.crt"),
            key_file: dir.path().join("tls.key"),
            ca_file: None,
            client: Some(kube::Client::new(service, "default")),
            allowed_names_flag: vec![],
        };
        let loaded = source.load().await.unwrap();
        let auth = Arc::new(RequestHeaderAuth::new(loaded.ca.allowed_names.clone()));
        let peer = |cn: &str| crate::auth::PeerCertificate {
            common_name: Some(cn.to_owned()),
        };
        let mut headers = http::HeaderMap::new();
        headers.insert("X-Remote-User", "hpa".parse().unwrap());
        assert!(
            auth.check(Some(&peer("front-proxy-client")), &headers)
                .is_ok()
        );
        assert!(auth.check(Some(&peer("aggregator")), &headers).is_err());

        let (tx, _rx) = watch::channel(loaded.config.clone());
        let every = Duration::from_secs(60);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(
            source.reload_loop(loaded, tx, Arc::clone(&auth), every, async {
                let _ = stopped.await;
            }),
        );
        *names.lock().unwrap() = r#"["aggregator"]"#;
        tokio::time::sleep(every + Duration::from_secs(1)).await;
        assert!(auth.check(Some(&peer("aggregator")), &headers).is_ok());
        assert!(
            auth.check(Some(&peer("front-proxy-client")), &headers)
                .is_err()
        );
        stop.send(()).unwrap();
        task.await.unwrap();
        server.abort();
    }

    #[tokio::test]
    async fn without_ca_file_or_cluster_the_ca_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::generate().unwrap();
        write_server(dir.path(), &pki);
        let source = TlsSource {
            cert_file: dir.path().join("tls.crt"),
            key_file: dir.path().join("tls.key"),
            ca_file: None,
            client: None,
            allowed_names_flag: vec![],
        };
        let err = source.load().await.err().unwrap();
        assert!(
            matches!(err, TlsSourceError::Auth(AuthError::MissingCa)),
            "{err}"
        );
    }
}
