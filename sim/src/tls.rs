//! A throw-away PKI for one simulator run: a self-signed CA, a server certificate for
//! `localhost` / `127.0.0.1`, and a client certificate for mTLS, all generated in memory with
//! `rcgen` and served with `rustls`.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// What can go wrong building the run's certificates or TLS configs.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// `rcgen` could not generate a key pair or sign a certificate.
    #[error("generating a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the server certificate or key while building a listener's config.
    #[error("building a TLS config: {0}")]
    Rustls(#[from] rustls::Error),
    /// rustls could not build the verifier of client certificates (mTLS, `client_auth`).
    #[error("building the client verifier: {0}")]
    Verifier(String),
}

/// PEM material of one certificate and its private key.
#[derive(Clone)]
pub struct CertAndKey {
    /// The certificate, PEM-encoded (`-----BEGIN CERTIFICATE-----`), signed by the run's CA.
    pub cert_pem: String,
    /// Its private key, PEM-encoded PKCS#8 (`-----BEGIN PRIVATE KEY-----`). Secret: left
    /// out of `Debug`.
    pub key_pem: String,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl std::fmt::Debug for CertAndKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertAndKey")
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The run's CA plus one server and one client certificate signed by it.
#[derive(Clone, Debug)]
pub struct TestPki {
    /// The CA certificate clients must trust.
    pub ca_pem: String,
    ca_der: CertificateDer<'static>,
    /// The REST listeners' certificate, for `localhost` and `127.0.0.1`.
    pub(crate) server: CertAndKey,
    /// A client certificate (CN `cluster-link-exporter`) for mTLS.
    pub client: CertAndKey,
}

impl TestPki {
    /// Generates a new CA and the server and client certificates it signs, in memory.
    pub(crate) fn generate() -> Result<Self, TlsError> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "cluster-link-exporter simulator CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

        let leaf = |names: Vec<String>, cn: &str, usage: ExtendedKeyUsagePurpose| {
            let mut params = CertificateParams::new(names)?;
            params.distinguished_name.push(DnType::CommonName, cn);
            params.extended_key_usages = vec![usage];
            let key = KeyPair::generate()?;
            let cert = params.signed_by(&key, &ca)?;
            Ok::<_, rcgen::Error>(CertAndKey {
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
                cert_der: cert.der().clone(),
                key_der: key.serialize_der(),
            })
        };
        let server = leaf(
            vec!["localhost".into(), "127.0.0.1".into()],
            "localhost",
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        let client = leaf(
            vec!["cluster-link-exporter".into()],
            "cluster-link-exporter",
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;
        Ok(Self {
            ca_pem: ca.pem(),
            ca_der: ca.der().clone(),
            server,
            client,
        })
    }

    /// A rustls server config presenting the server certificate; with `require_client_cert`
    /// only clients holding a certificate from this CA get through the handshake.
    pub(crate) fn server_config(
        &self,
        require_client_cert: bool,
    ) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(self.ca_der.clone())?;
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .map_err(|e| TlsError::Verifier(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server.key_der.clone()));
        let mut config = builder.with_single_cert(vec![self.server.cert_der.clone()], key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_pem_and_builds_configs() {
        let pki = TestPki::generate().unwrap();
        assert!(pki.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(pki.client.key_pem.contains("PRIVATE KEY"));
        assert!(!format!("{:?}", pki.client).contains("PRIVATE"));
        pki.server_config(false).unwrap();
        pki.server_config(true).unwrap();
    }
}
