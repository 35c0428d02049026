//! `tls_server_config`: the rustls server configuration (*ring* provider) built from it.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, SupportedKxGroup, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
    SupportedCipherSuite, SupportedProtocolVersion,
};
use serde::Deserialize;

/// `tls_server_config` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawTls {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    client_auth_type: Option<String>,
    client_ca_file: Option<PathBuf>,
    min_version: Option<String>,
    max_version: Option<String>,
    cipher_suites: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
    curve_preferences: Option<Vec<String>>,
}

/// `client_auth_type`: whether and how clients present certificates (Go's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    /// `NoClientCert` (the default): none asked for.
    NoClientCert,
    /// `RequestClientCert`: asked for, not required, not verified.
    RequestClientCert,
    /// `RequireAnyClientCert`: required, not verified against a CA.
    RequireAnyClientCert,
    /// `VerifyClientCertIfGiven`: not required; verified against `client_ca_file` when sent.
    VerifyClientCertIfGiven,
    /// `RequireAndVerifyClientCert`: required and verified against `client_ca_file`.
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    /// The five values, by name.
    pub(crate) const ALL: [(&'static str, ClientAuth); 5] = [
        ("NoClientCert", ClientAuth::NoClientCert),
        ("RequestClientCert", ClientAuth::RequestClientCert),
        ("RequireAnyClientCert", ClientAuth::RequireAnyClientCert),
        (
            "VerifyClientCertIfGiven",
            ClientAuth::VerifyClientCertIfGiven,
        ),
        (
            "RequireAndVerifyClientCert",
            ClientAuth::RequireAndVerifyClientCert,
        ),
    ];

    fn verifies(self) -> bool {
        matches!(
            self,
            ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert
        )
    }
}

/// A checked `tls_server_config` (files not read yet: see [`TlsSettings::server_config`]).
#[derive(Debug, Clone)]
pub(crate) struct TlsSettings {
    /// `cert_file`, resolved.
    pub(crate) cert_file: PathBuf,
    /// `key_file`, resolved.
    pub(crate) key_file: PathBuf,
    /// `client_auth_type`.
    pub(crate) client_auth: ClientAuth,
    /// `client_ca_file`, resolved.
    pub(crate) client_ca_file: Option<PathBuf>,
    versions: Vec<&'static SupportedProtocolVersion>,
    /// TLS 1.2 suites from `cipher_suites`; `None`: rustls' defaults.
    cipher_suites: Option<Vec<SupportedCipherSuite>>,
    prefer_server_cipher_suites: bool,
    kx_groups: Option<Vec<&'static dyn SupportedKxGroup>>,
}

fn version(key: &str, name: &str) -> Result<u8, String> {
    match name {
        "TLS12" => Ok(12),
        "TLS13" => Ok(13),
        "TLS10" | "TLS11" => Err(format!(
            "tls_server_config.{key}: {name} is not supported (rustls speaks TLS12 and TLS13)"
        )),
        _ => Err(format!(
            "tls_server_config.{key}: unknown version {name:?} (TLS12 or TLS13)"
        )),
    }
}

/// The TLS 1.2 suite named `name` (Go's names; the 1.3 suites are not configurable, as in Go).
fn cipher_suite(name: &str) -> Result<SupportedCipherSuite, String> {
    let provider = rustls::crypto::ring::default_provider();
    let go_alias = match name {
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305" => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        other => other,
    };
    let tls12: Vec<SupportedCipherSuite> = provider
        .cipher_suites
        .into_iter()
        .filter(|s| s.version() == &rustls::version::TLS12)
        .collect();
    if let Some(s) = tls12
        .iter()
        .find(|s| format!("{:?}", s.suite()) == go_alias)
    {
        return Ok(*s);
    }
    let names: Vec<String> = tls12.iter().map(|s| format!("{:?}", s.suite())).collect();
    Err(format!(
        "tls_server_config.cipher_suites: {name} is not supported by rustls (supported: {})",
        names.join(", ")
    ))
}

fn kx_group(name: &str) -> Result<&'static dyn SupportedKxGroup, String> {
    use rustls::crypto::ring::kx_group;
    match name {
        "X25519" => Ok(kx_group::X25519),
        "CurveP256" => Ok(kx_group::SECP256R1),
        "CurveP384" => Ok(kx_group::SECP384R1),
        _ => Err(format!(
            "tls_server_config.curve_preferences: {name} is not supported (X25519, CurveP256, CurveP384)"
        )),
    }
}

/// `client_auth_type` (empty: `NoClientCert`), checked against whether `client_ca_file` is set.
fn client_auth(name: Option<&str>, has_ca: bool) -> Result<ClientAuth, String> {
    let client_auth = match name {
        None | Some("") => ClientAuth::NoClientCert,
        Some(name) => ClientAuth::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let names: Vec<&str> = ClientAuth::ALL.iter().map(|(n, _)| *n).collect();
                format!(
                    "tls_server_config.client_auth_type: unknown value {name:?} (one of {})",
                    names.join(", ")
                )
            })?,
    };
    match (has_ca, client_auth.verifies()) {
        (false, true) => Err(format!(
            "tls_server_config.client_ca_file: required with client_auth_type {client_auth:?}"
        )),
        (true, false) => Err(format!(
            "tls_server_config.client_ca_file: set, but client_auth_type {client_auth:?} \
             verifies no client certificate (VerifyClientCertIfGiven or \
             RequireAndVerifyClientCert)"
        )),
        _ => Ok(client_auth),
    }
}

/// The protocol versions from `min_version` (default TLS12) to `max_version` (default TLS13).
fn versions(
    min: Option<&str>,
    max: Option<&str>,
) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    let min = version("min_version", min.unwrap_or("TLS12"))?;
    let max = version("max_version", max.unwrap_or("TLS13"))?;
    if min > max {
        return Err("tls_server_config.min_version: above max_version".into());
    }
    let mut versions = Vec::new();
    if min <= 12 {
        versions.push(&rustls::version::TLS12);
    }
    if max >= 13 {
        versions.push(&rustls::version::TLS13);
    }
    Ok(versions)
}

impl TlsSettings {
    /// Checks `raw`; `None` when it names no file and no client authentication (plain HTTP,
    /// as exporter-toolkit does).
    pub(super) fn from_raw(raw: RawTls, dir: &Path) -> Result<Option<Self>, String> {
        let nothing = raw.cert_file.is_none()
            && raw.key_file.is_none()
            && raw.client_auth_type.is_none()
            && raw.client_ca_file.is_none();
        if nothing {
            return Ok(None);
        }
        let resolve = |p: PathBuf| if p.is_absolute() { p } else { dir.join(p) };
        let cert_file = raw
            .cert_file
            .ok_or("tls_server_config.cert_file: required when TLS is configured")?;
        let key_file = raw
            .key_file
            .ok_or("tls_server_config.key_file: required when TLS is configured")?;
        let client_auth = client_auth(
            raw.client_auth_type.as_deref(),
            raw.client_ca_file.is_some(),
        )?;
        let versions = versions(raw.min_version.as_deref(), raw.max_version.as_deref())?;
        let cipher_suites = raw
            .cipher_suites
            .map(|names| names.iter().map(|n| cipher_suite(n)).collect())
            .transpose()?;
        let kx_groups = raw
            .curve_preferences
            .map(|names| names.iter().map(|n| kx_group(n)).collect())
            .transpose()?;
        Ok(Some(Self {
            cert_file: resolve(cert_file),
            key_file: resolve(key_file),
            client_auth,
            client_ca_file: raw.client_ca_file.map(resolve),
            versions,
            cipher_suites,
            prefer_server_cipher_suites: raw.prefer_server_cipher_suites.unwrap_or(false),
            kx_groups,
        }))
    }

    /// The files read by [`TlsSettings::server_config`].
    pub(crate) fn files(&self) -> Vec<PathBuf> {
        let mut files = vec![self.cert_file.clone(), self.key_file.clone()];
        files.extend(self.client_ca_file.clone());
        files
    }

    fn provider(&self) -> CryptoProvider {
        let mut provider = rustls::crypto::ring::default_provider();
        if let Some(suites) = &self.cipher_suites {
            provider
                .cipher_suites
                .retain(|s| s.version() == &rustls::version::TLS13);
            provider.cipher_suites.extend(suites.iter().copied());
        }
        if let Some(groups) = &self.kx_groups {
            provider.kx_groups = groups.clone();
        }
        provider
    }

    /// Reads the certificate, key and CA files and builds the server's configuration.
    ///
    /// # Errors
    /// A message naming the key whose file is unusable; never the key's content.
    pub(crate) fn server_config(&self) -> Result<Arc<ServerConfig>, String> {
        let provider = Arc::new(self.provider());
        let certs = CertificateDer::pem_file_iter(&self.cert_file)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| {
                format!(
                    "tls_server_config.cert_file: {}: {e}",
                    self.cert_file.display()
                )
            })?;
        if certs.is_empty() {
            return Err(format!(
                "tls_server_config.cert_file: {}: no certificate in it",
                self.cert_file.display()
            ));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key_file).map_err(|e| {
            format!(
                "tls_server_config.key_file: {}: {e}",
                self.key_file.display()
            )
        })?;
        let verifier = self.verifier(&provider)?;
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&self.versions)
            .map_err(|e| format!("tls_server_config: {e}"))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .map_err(|e| format!("tls_server_config.key_file: does not fit cert_file: {e}"))?;
        config.ignore_client_order = self.prefer_server_cipher_suites;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    fn verifier(
        &self,
        provider: &Arc<CryptoProvider>,
    ) -> Result<Arc<dyn ClientCertVerifier>, String> {
        let algorithms = provider.signature_verification_algorithms;
        let any = |mandatory| -> Arc<dyn ClientCertVerifier> {
            Arc::new(AnyClientCert {
                mandatory,
                algorithms,
            })
        };
        let verified = match self.client_auth {
            ClientAuth::NoClientCert => return Ok(WebPkiClientVerifier::no_client_auth()),
            ClientAuth::RequestClientCert => return Ok(any(false)),
            ClientAuth::RequireAnyClientCert => return Ok(any(true)),
            ClientAuth::VerifyClientCertIfGiven => false,
            ClientAuth::RequireAndVerifyClientCert => true,
        };
        let ca = self
            .client_ca_file
            .as_ref()
            .ok_or("client_ca_file missing")?;
        let key = "tls_server_config.client_ca_file";
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca)
            .map_err(|e| format!("{key}: {}: {e}", ca.display()))?
        {
            let cert = cert.map_err(|e| format!("{key}: {}: {e}", ca.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("{key}: {}: {e}", ca.display()))?;
        }
        let builder =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
        let builder = if verified {
            builder
        } else {
            builder.allow_unauthenticated()
        };
        builder
            .build()
            .map_err(|e| format!("{key}: {}: {e}", ca.display()))
    }
}

/// `RequestClientCert` and `RequireAnyClientCert`: any certificate is taken (the client still
/// proves it holds its key), as Go's do.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
