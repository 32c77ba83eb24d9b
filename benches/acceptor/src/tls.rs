//! `--tls CERT KEY`: a rustls server configuration from PEM files (ring as the crypto provider).

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

// rustls 0.23.48 deprecates ring's provider for its lack of post-quantum key exchange, which
// a benchmark on loopback does not need; aws-lc-rs, the alternative, takes a C toolchain and
// minutes to build.
#[allow(deprecated)]
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let fix = "give a PEM certificate and its PEM private key, e.g. from \
               phoenix_fast.testing.tls.self_signed_certificate";
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("--tls {}: cannot read a certificate ({e}): {fix}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("--tls {}: no certificate in the file: {fix}", cert.display()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("--tls {}: cannot read a private key ({e}): {fix}", key.display()))?;
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key_der))
        .map_err(|e| format!("--tls: the certificate and key do not make a TLS server ({e}): {fix}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
