//! Front-proxy ("requestheader") authentication, as every aggregated API server does it.
//!
//! kube-apiserver connects with a client certificate signed by the requestheader CA and passes the
//! end user in `X-Remote-User` / `X-Remote-Group`. Those headers are trusted only from a
//! connection whose certificate verified against that CA (checked by rustls, see [`crate::tls`])
//! and whose CN is an allowed name (an empty list allows any CN the CA signed, like kube).
//! The CA and allowed names come from flags or from the
//! `kube-system/extension-apiserver-authentication` ConfigMap. Whether the user may read what
//! the request asks for is decided next, by [`crate::authorization`].

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Arc, RwLock};
use tidal_core::sync;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::core::v1::ConfigMap;
use rustls_pki_types::CertificateDer;

use crate::api::status::ApiError;
use crate::server::CloseConnection;
use crate::tls::{self, TlsError};

/// Namespace of the ConfigMap kube-apiserver publishes its authentication settings in.
pub const AUTH_CONFIGMAP_NAMESPACE: &str = "kube-system";
/// Name of that ConfigMap.
pub const AUTH_CONFIGMAP_NAME: &str = "extension-apiserver-authentication";
/// ConfigMap key holding the requestheader CA bundle (PEM).
pub const CA_KEY: &str = "requestheader-client-ca-file";
/// ConfigMap key holding the allowed client CNs (a JSON array).
pub const ALLOWED_NAMES_KEY: &str = "requestheader-allowed-names";
/// Header carrying the authenticated user's name.
pub const USER_HEADER: &str = "x-remote-user";
/// Header carrying one group of the user (repeated for several groups).
pub const GROUP_HEADER: &str = "x-remote-group";
/// Prefix of the headers carrying the user's extra attributes (`X-Remote-Extra-{key}`).
pub const EXTRA_HEADER_PREFIX: &str = "x-remote-extra-";

/// Why the requestheader settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The CA bundle could not be read or parsed.
    #[error(transparent)]
    Ca(#[from] TlsError),
    /// The ConfigMap could not be read from the cluster.
    #[error(
        "cannot read ConfigMap {AUTH_CONFIGMAP_NAMESPACE}/{AUTH_CONFIGMAP_NAME} (the service account needs the extension-apiserver-authentication-reader role): {0}"
    )]
    ConfigMap(#[source] kube::Error),
    /// The ConfigMap lacks the requestheader CA (front-proxy not configured on kube-apiserver).
    #[error(
        "ConfigMap {AUTH_CONFIGMAP_NAMESPACE}/{AUTH_CONFIGMAP_NAME} has no key {CA_KEY}: kube-apiserver runs without --requestheader-client-ca-file; pass --requestheader-client-ca-file instead"
    )]
    MissingCa,
    /// The allowed-names key is not a JSON array of strings.
    #[error(
        "ConfigMap {AUTH_CONFIGMAP_NAMESPACE}/{AUTH_CONFIGMAP_NAME} key {ALLOWED_NAMES_KEY} is not a JSON array of strings: {0}"
    )]
    AllowedNames(#[source] serde_json::Error),
}

/// The requestheader CA and allowed client names.
#[derive(Debug, Clone)]
pub struct RequestHeaderCa {
    /// CA certificates client certificates must chain to.
    pub certificates: Vec<CertificateDer<'static>>,
    /// Allowed client certificate CNs; empty allows any.
    pub allowed_names: Vec<String>,
    /// Where the CA came from, for messages.
    pub origin: String,
}

impl RequestHeaderCa {
    /// Reads the CA from a PEM file; `allowed_names` come from the flag.
    pub fn from_file(path: &Path, allowed_names: Vec<String>) -> Result<Self, AuthError> {
        Ok(Self {
            certificates: tls::certificates_from_file(path, "requestheader client CA")?,
            allowed_names,
            origin: path.display().to_string(),
        })
    }

    /// Reads the CA and allowed names from the ConfigMap's data; a non-empty
    /// `allowed_names_flag` overrides the ConfigMap's list.
    pub fn from_configmap(
        cm: &ConfigMap,
        allowed_names_flag: Vec<String>,
    ) -> Result<Self, AuthError> {
        let data = cm.data.clone().unwrap_or_default();
        let pem = data.get(CA_KEY).ok_or(AuthError::MissingCa)?;
        let origin =
            format!("ConfigMap {AUTH_CONFIGMAP_NAMESPACE}/{AUTH_CONFIGMAP_NAME} key {CA_KEY}");
        let certificates = tls::certificates_from_pem(pem, "requestheader client CA", &origin)?;
        let allowed_names = if !allowed_names_flag.is_empty() {
            allowed_names_flag
        } else {
            match data.get(ALLOWED_NAMES_KEY).map(|s| s.trim()) {
                None | Some("") => Vec::new(),
                Some(json) => serde_json::from_str(json).map_err(AuthError::AllowedNames)?,
            }
        };
        Ok(Self {
            certificates,
            allowed_names,
            origin,
        })
    }

    /// Reads the ConfigMap from the cluster (see [`Self::from_configmap`]).
    pub async fn from_cluster(
        client: kube::Client,
        allowed_names_flag: Vec<String>,
    ) -> Result<Self, AuthError> {
        let api: kube::Api<ConfigMap> = kube::Api::namespaced(client, AUTH_CONFIGMAP_NAMESPACE);
        let cm = api
            .get(AUTH_CONFIGMAP_NAME)
            .await
            .map_err(AuthError::ConfigMap)?;
        Self::from_configmap(&cm, allowed_names_flag)
    }
}

/// The verified client certificate of a connection, attached to each of its requests by the
/// TLS accept loop. Absent when the client sent no certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCertificate {
    /// Subject CN of the leaf certificate, if it has one.
    pub common_name: Option<String>,
}

impl PeerCertificate {
    /// Extracts the subject CN of a DER certificate (already verified by rustls).
    pub fn from_der(der: &[u8]) -> Self {
        let common_name = x509_parser::parse_x509_certificate(der)
            .ok()
            .and_then(|(_, cert)| {
                cert.subject()
                    .iter_common_name()
                    .next()
                    .and_then(|cn| cn.as_str().ok())
                    .map(str::to_string)
            });
        Self { common_name }
    }
}

/// The end user kube-apiserver authenticated, attached to each authenticated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUser {
    /// `X-Remote-User`.
    pub name: String,
    /// Every `X-Remote-Group` value.
    pub groups: Vec<String>,
    /// `X-Remote-Extra-*` values by key (e.g. `authentication.kubernetes.io/pod-name`).
    pub extra: BTreeMap<String, Vec<String>>,
}

/// Checks requests against the allowed front-proxy CNs and reads the user headers.
#[derive(Debug, Default)]
pub struct RequestHeaderAuth {
    /// Replaced as a whole when the names are reloaded; requests read a snapshot.
    allowed_names: RwLock<Arc<HashSet<String>>>,
}

impl RequestHeaderAuth {
    /// An authenticator allowing `allowed_names` (empty: any CN signed by the CA).
    pub fn new(allowed_names: impl IntoIterator<Item = String>) -> Self {
        Self {
            allowed_names: RwLock::new(Arc::new(allowed_names.into_iter().collect())),
        }
    }

    /// Allows `names` from now on (the ConfigMap's list changed).
    pub fn set_allowed_names(&self, names: impl IntoIterator<Item = String>) {
        let names = Arc::new(names.into_iter().collect());
        *sync::write(&self.allowed_names) = names;
    }

    fn allowed_names(&self) -> Arc<HashSet<String>> {
        Arc::clone(&sync::read(&self.allowed_names))
    }

    /// Checks the connection's client certificate: present (signed by the CA, which rustls
    /// verified) and, when names are configured, with an allowed CN.
    pub fn check_peer(&self, peer: Option<&PeerCertificate>) -> Result<(), ApiError> {
        let peer = peer.ok_or_else(|| {
            ApiError::Unauthorized(
                "no client certificate signed by the requestheader CA was presented".to_string(),
            )
        })?;
        let allowed = self.allowed_names();
        if !allowed.is_empty() {
            let cn = peer.common_name.as_deref().unwrap_or_default();
            if !allowed.contains(cn) {
                return Err(ApiError::Forbidden(format!(
                    "client certificate CN {cn:?} is not one of the requestheader allowed names"
                )));
            }
        }
        Ok(())
    }

    /// Decides whether a request may proceed, and as whom.
    pub fn check(
        &self,
        peer: Option<&PeerCertificate>,
        headers: &HeaderMap,
    ) -> Result<RemoteUser, ApiError> {
        self.check_peer(peer)?;
        remote_user(headers)
    }
}

/// The user kube-apiserver names in the request headers.
fn remote_user(headers: &HeaderMap) -> Result<RemoteUser, ApiError> {
    let name = headers
        .get_all(USER_HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::trim)
        .find(|v| !v.is_empty())
        .ok_or_else(|| ApiError::Unauthorized(format!("missing {USER_HEADER} header")))?
        .to_string();
    let groups = headers
        .get_all(GROUP_HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect();
    Ok(RemoteUser {
        name,
        groups,
        extra: remote_extra(headers),
    })
}

/// `X-Remote-Extra-{key}` headers: the key is percent-decoded and lower-cased, as kube does;
/// every value of a key is kept, in order.
fn remote_extra(headers: &HeaderMap) -> BTreeMap<String, Vec<String>> {
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        let Some(key) = name.as_str().strip_prefix(EXTRA_HEADER_PREFIX) else {
            continue;
        };
        let (Some(key), Ok(value)) = (percent_decode(key), value.to_str()) else {
            continue;
        };
        extra
            .entry(key.to_lowercase())
            .or_default()
            .push(value.to_string());
    }
    extra
}

/// `%XX` escapes of `text` (a header-name suffix, a path segment) decoded; `None` when
/// malformed or not UTF-8.
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// axum middleware: rejects unauthenticated requests with 401/403 `Status` bodies and attaches
/// the [`RemoteUser`] to the others. A connection whose client certificate is missing or not
/// allowed is closed after the answer: no request on it could ever succeed.
pub async fn authenticate(
    State(auth): State<Arc<RequestHeaderAuth>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request.extensions().get::<PeerCertificate>();
    let checked = match auth.check_peer(peer) {
        Ok(()) => remote_user(request.headers()).map_err(|e| (e, false)),
        Err(e) => Err((e, true)),
    };
    match checked {
        Ok(user) => {
            tracing::trace!(user = %user.name, groups = ?user.groups, path = %request.uri().path(), "authenticated request");
            request.extensions_mut().insert(user);
            next.run(request).await
        }
        Err((e, close)) => {
            tracing::debug!(error = %e, path = %request.uri().path(), "rejected request");
            let mut response = e.into_response();
            if close {
                response.extensions_mut().insert(CloseConnection);
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use axum::http::HeaderValue;
    use std::collections::BTreeMap;

    fn headers(user: Option<&str>, groups: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(u) = user {
            h.insert(USER_HEADER, HeaderValue::from_str(u).unwrap());
        }
        for g in groups {
            h.append(GROUP_HEADER, HeaderValue::from_str(g).unwrap());
        }
        h
    }

    fn peer(cn: &str) -> PeerCertificate {
        PeerCertificate {
            common_name: Some(cn.to_string()),
        }
    }

    #[test]
    fn decisions_follow_certificate_cn_and_headers() {
        let auth = RequestHeaderAuth::new(["front-proxy-client".to_string()]);
        let ok = headers(
            Some("system:kube-controller-manager"),
            &["system:authenticated", "g2"],
        );
        let user = auth.check(Some(&peer("front-proxy-client")), &ok).unwrap();
        assert_eq!(user.name, "system:kube-controller-manager");
        assert_eq!(user.groups, ["system:authenticated", "g2"]);
        assert_eq!(auth.check(None, &ok).unwrap_err().code(), 401);
        assert_eq!(
            auth.check(Some(&peer("someone")), &ok).unwrap_err().code(),
            403
        );
        let nameless = PeerCertificate { common_name: None };
        assert_eq!(auth.check(Some(&nameless), &ok).unwrap_err().code(), 403);
        let no_user = headers(None, &["g"]);
        assert_eq!(
            auth.check(Some(&peer("front-proxy-client")), &no_user)
                .unwrap_err()
                .code(),
            401
        );
        let blank_user = headers(Some("  "), &[]);
        assert_eq!(
            auth.check(Some(&peer("front-proxy-client")), &blank_user)
                .unwrap_err()
                .code(),
            401
        );
    }

    #[test]
    fn empty_allowed_names_accept_any_cn() {
        let auth = RequestHeaderAuth::new([]);
        let user = auth
            .check(Some(&peer("anything")), &headers(Some("u"), &[]))
            .unwrap();
        assert_eq!(user.groups, Vec::<String>::new());
    }

    #[test]
    fn extra_headers_become_the_users_extra_attributes() {
        let mut h = headers(Some("u"), &[]);
        h.append("X-Remote-Extra-Scopes", HeaderValue::from_static("a"));
        h.append("x-remote-extra-scopes", HeaderValue::from_static("b"));
        h.append(
            "X-Remote-Extra-Authentication.kubernetes.io%2fPod-Name",
            HeaderValue::from_static("web-1"),
        );
        h.append("X-Remote-Extra-Bad%zz", HeaderValue::from_static("dropped"));
        let user = RequestHeaderAuth::new([])
            .check(Some(&peer("any")), &h)
            .unwrap();
        let want = BTreeMap::from([
            (
                "authentication.kubernetes.io/pod-name".to_string(),
                vec!["web-1".to_string()],
            ),
            ("scopes".to_string(), vec!["a".to_string(), "b".to_string()]),
        ]);
        assert_eq!(user.extra, want);
    }

    fn configmap(data: &[(&str, &str)]) -> ConfigMap {
        ConfigMap {
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..ConfigMap::default()
        }
    }

    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn configmap_supplies_ca_and_allowed_names_unless_flag_overrides() {
        let pem = ca_pem();
        let cm = configmap(&[
            (CA_KEY, &pem),
            (ALLOWED_NAMES_KEY, r#"["front-proxy-client","aggregator"]"#),
        ]);
        let ca = RequestHeaderCa::from_configmap(&cm, vec![]).unwrap();
        assert_eq!(ca.certificates.len(), 1);
        assert_eq!(ca.allowed_names, ["front-proxy-client", "aggregator"]);
        let ca = RequestHeaderCa::from_configmap(&cm, vec!["mine".into()]).unwrap();
        assert_eq!(ca.allowed_names, ["mine"]);
        let ca = RequestHeaderCa::from_configmap(&configmap(&[(CA_KEY, &pem)]), vec![]).unwrap();
        assert!(ca.allowed_names.is_empty());
    }

    #[test]
    fn configmap_problems_are_named() {
        let err = RequestHeaderCa::from_configmap(&configmap(&[]), vec![]).unwrap_err();
        assert!(matches!(err, AuthError::MissingCa), "{err}");
        let pem = ca_pem();
        let err = RequestHeaderCa::from_configmap(
            &configmap(&[(CA_KEY, &pem), (ALLOWED_NAMES_KEY, "front-proxy")]),
            vec![],
        )
        .unwrap_err();
        assert!(err.to_string().contains(ALLOWED_NAMES_KEY), "{err}");
        let err = RequestHeaderCa::from_configmap(&configmap(&[(CA_KEY, "not a pem")]), vec![])
            .unwrap_err();
        assert!(err.to_string().contains("contains no certificate"), "{err}");
    }

    #[test]
    fn common_name_is_read_from_the_certificate() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "front-proxy-client");
        let cert = params.self_signed(&key).unwrap();
        let peer = PeerCertificate::from_der(cert.der());
        assert_eq!(peer.common_name.as_deref(), Some("front-proxy-client"));
        assert_eq!(PeerCertificate::from_der(b"garbage").common_name, None);
    }
}
