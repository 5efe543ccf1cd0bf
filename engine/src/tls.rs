//! TLS for `kanjo serve --tls-cert FILE --tls-key FILE`: rustls with the ring provider.
//!
//! The certificate chain and key are read and checked once at startup, so a missing, empty or
//! mismatched file stops `kanjo serve` with a message that names the file, before it listens.
//! Serving itself is axum-server's (it does the handshakes off the accept loop, so a slow
//! client can't hold up the others).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;

/// Certificates in one chain file, at most: a leaf and its intermediates.
pub const CHAIN_CERTIFICATES_MAX: usize = 16;

/// Why the certificate or key can't be used. Each names the file.
#[derive(Debug, Error)]
pub enum TlsError {
    #[error("TLS certificate {path}: {reason}")]
    Certificate { path: PathBuf, reason: String },
    #[error("TLS key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("TLS certificate {cert} and key {key} do not go together: {reason}")]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
}

/// A rustls server configuration from PEM files: the chain (leaf first) and its private key
/// (PKCS#8, PKCS#1 or SEC1). HTTP/1.1 only, as the plain listener serves.
pub fn server_config(cert_path: &Path, key_path: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = read_chain(cert_path)?;
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|error| TlsError::Key {
        path: key_path.to_path_buf(),
        reason: pem_reason(&error, "PRIVATE KEY"),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Certificate {
            path: cert_path.to_path_buf(),
            reason: error.to_string(),
        })?
        .with_no_client_auth()
        // Also checks that the key is the certificate's (rustls compares the public keys).
        .with_single_cert(chain, key)
        .map_err(|error| TlsError::Mismatch {
            cert: cert_path.to_path_buf(),
            key: key_path.to_path_buf(),
            reason: error.to_string(),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let error = |reason: String| TlsError::Certificate {
        path: path.to_path_buf(),
        reason,
    };
    let mut chain = Vec::new();
    for certificate in
        CertificateDer::pem_file_iter(path).map_err(|e| error(pem_reason(&e, "CERTIFICATE")))?
    {
        if chain.len() == CHAIN_CERTIFICATES_MAX {
            return Err(error(format!(
                "more than {CHAIN_CERTIFICATES_MAX} certificates"
            )));
        }
        chain.push(certificate.map_err(|e| error(pem_reason(&e, "CERTIFICATE")))?);
    }
    if chain.is_empty() {
        return Err(error("no PEM CERTIFICATE block in the file".to_owned()));
    }
    Ok(chain)
}

/// The PEM reader's error in words a person starting the server can act on.
fn pem_reason(error: &rustls::pki_types::pem::Error, wanted: &str) -> String {
    use rustls::pki_types::pem::Error;
    match error {
        Error::NoItemsFound => format!("no PEM {wanted} block in the file"),
        Error::Io(io) => io.to_string(),
        other => format!("not a valid PEM file ({other:?})"),
    }
}

/// Serves `router` over TLS on `listener` until `stop` completes, then stops accepting and
/// waits for the requests in flight, as the plain listener's graceful shutdown does.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Arc<ServerConfig>,
    router: axum::Router,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        stop.await;
        stopper.graceful_shutdown(None);
    });
    let listener = listener.into_std()?;
    let tls = axum_server::tls_rustls::RustlsConfig::from_config(config);
    axum_server::from_tcp_rustls(listener, tls)?
        .handle(handle)
        .serve(router.into_make_service())
        .await
}
