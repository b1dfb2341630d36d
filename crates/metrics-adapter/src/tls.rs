//! TLS for the API port: the serving certificate, and client certificates verified against the
//! requestheader (front-proxy) CA.
//!
//! The client certificate is optional at the TLS level (`allow_unauthenticated`) so that a client
//! without one gets a 401 `Status` body rather than a handshake alert, after which its connection
//! is closed ([`crate::server`]); a certificate that is presented must chain to the CA, otherwise
//! the handshake fails. rustls uses the aws-lc-rs
//! provider, passed explicitly rather than relying on a process-wide default.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why the TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("cannot read {what} from {path}: {source}")]
    Pem {
        /// What the file should contain.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// PEM data from a non-file origin could not be parsed.
    #[error("cannot parse {what} from {origin}: {source}")]
    PemData {
        /// What the data should contain.
        what: &'static str,
        /// Where the data came from (e.g. a ConfigMap key).
        origin: String,
        /// The cause.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// The PEM input held no certificate.
    #[error("{origin} contains no certificate")]
    NoCertificates {
        /// Where the data came from.
        origin: String,
    },
    /// A CA certificate was rejected as a trust anchor.
    #[error("invalid client CA certificate from {origin}: {source}")]
    BadCa {
        /// Where the certificate came from.
        origin: String,
        /// The cause.
        #[source]
        source: rustls::Error,
    },
    /// The client-certificate verifier could not be built.
    #[error("cannot build the client certificate verifier: {0}")]
    Verifier(#[source] rustls::server::VerifierBuilderError),
    /// The serving certificate/key pair was rejected.
    #[error("invalid serving certificate or key: {0}")]
    ServerCert(#[source] rustls::Error),
}

/// Reads every certificate of a PEM file (the serving chain or a CA bundle).
pub fn certificates_from_file(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem_error = |source| TlsError::Pem {
        what,
        path: path.to_path_buf(),
        source,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(pem_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error)?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificates {
            origin: path.display().to_string(),
        });
    }
    Ok(certs)
}

/// Parses every certificate of PEM text that came from `origin` (e.g. a ConfigMap key).
pub fn certificates_from_pem(
    pem: &str,
    what: &'static str,
    origin: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::PemData {
            what,
            origin: origin.to_string(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificates {
            origin: origin.to_string(),
        });
    }
    Ok(certs)
}

/// Reads the serving private key (PKCS#8, PKCS#1 or SEC1 PEM).
pub fn private_key_from_file(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|source| TlsError::Pem {
        what: "private key",
        path: path.to_path_buf(),
        source,
    })
}

/// The server's TLS configuration: serving chain + key, optional client certificates that must
/// chain to one of `client_cas`, ALPN h2 and http/1.1.
pub fn server_config(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_cas: &[CertificateDer<'static>],
    client_ca_origin: &str,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for ca in client_cas {
        roots.add(ca.clone()).map_err(|source| TlsError::BadCa {
            origin: client_ca_origin.to_string(),
            source,
        })?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(TlsError::Verifier)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::ServerCert)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(cert_chain, key)
        .map_err(TlsError::ServerCert)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
