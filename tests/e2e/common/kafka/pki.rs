//! Throw-away certificates for the test brokers, made at test time (rcgen, ECDSA P-256): a CA,
//! the brokers' certificate (`IP:127.0.0.1`, `DNS:localhost`), one for a wrong name only
//! (`DNS:wrong.example`, the hostname-mismatch listener), the client certificate CN=exporter
//! (mTLS: `User:exporter`) and a second one as a rotation would issue it, and an unrelated CA
//! with a client certificate of its own.
//!
//! Broker keystores are PEM files holding the PKCS#8 key then the certificate chain
//! (`ssl.keystore.type=PEM`); truststores are PEM files of CA certificates.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};

/// The PEM files of one set of certificates, in a directory of their own.
#[derive(Debug, Clone)]
pub struct Pki {
    pub dir: PathBuf,
    /// The CA that signed the brokers' and the client's certificates (what clients trust:
    /// librdkafka's `ssl.ca.location`; the brokers' truststore for mTLS).
    pub ca: PathBuf,
    /// CN=exporter, signed by [`Pki::ca`] (`ssl.certificate.location`).
    pub client_cert: PathBuf,
    /// Its key, PKCS#8 PEM (`ssl.key.location`).
    pub client_key: PathBuf,
    /// Another CN=exporter certificate (its own key) signed by [`Pki::ca`]: what a rotated
    /// client certificate is.
    pub rotated_client_cert: PathBuf,
    pub rotated_client_key: PathBuf,
    /// A CA nothing here is signed by: a client trusting only it fails the handshake.
    pub untrusted_ca: PathBuf,
    /// CN=exporter signed by [`Pki::untrusted_ca`]: refused by the mTLS listener.
    pub untrusted_client_cert: PathBuf,
    pub untrusted_client_key: PathBuf,
    /// Broker keystore (key, certificate for `127.0.0.1`/`localhost`, CA).
    pub broker_keystore: PathBuf,
    /// Broker keystore whose certificate names only `wrong.example`.
    pub wrong_host_keystore: PathBuf,
}

struct Ca(CertifiedIssuer<'static, KeyPair>);

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        Self(CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA"))
    }

    /// (certificate PEM, PKCS#8 key PEM) for `common_name` with `sans`.
    fn leaf(
        &self,
        common_name: &str,
        sans: &[&str],
        usages: &[ExtendedKeyUsagePurpose],
    ) -> (String, String) {
        let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(sans).expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = usages.to_vec();
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.0).expect("sign");
        (cert.pem(), key.serialize_pem())
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

impl Pki {
    /// Makes every certificate and writes the files into `dir` (created if needed).
    pub fn create(dir: &Path) -> Self {
        use ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
        std::fs::create_dir_all(dir).expect("create the PKI dir");
        let ca = Ca::new("cluster-link-exporter test CA");
        let untrusted = Ca::new("untrusted test CA");
        // rcgen turns a name that parses as an IP address into an IP SAN.
        let (broker, broker_key) = ca.leaf(
            "localhost",
            &["127.0.0.1", "localhost"],
            &[ServerAuth, ClientAuth],
        );
        let (wrong, wrong_key) = ca.leaf("wrong.example", &["wrong.example"], &[ServerAuth]);
        let (client, client_key) = ca.leaf("exporter", &[], &[ClientAuth]);
        let (rotated, rotated_key) = ca.leaf("exporter", &[], &[ClientAuth]);
        let (uclient, uclient_key) = untrusted.leaf("exporter", &[], &[ClientAuth]);
        let ca_pem = ca.0.pem();
        Self {
            dir: dir.to_owned(),
            ca: write(dir, "ca.pem", &ca_pem),
            client_cert: write(dir, "client.pem", &client),
            client_key: write(dir, "client.key", &client_key),
            rotated_client_cert: write(dir, "rotated-client.pem", &rotated),
            rotated_client_key: write(dir, "rotated-client.key", &rotated_key),
            untrusted_ca: write(dir, "untrusted-ca.pem", &untrusted.0.pem()),
            untrusted_client_cert: write(dir, "untrusted-client.pem", &uclient),
            untrusted_client_key: write(dir, "untrusted-client.key", &uclient_key),
            broker_keystore: write(
                dir,
                "broker-keystore.pem",
                &format!("{broker_key}{broker}{ca_pem}"),
            ),
            wrong_host_keystore: write(
                dir,
                "wrong-host-keystore.pem",
                &format!("{wrong_key}{wrong}{ca_pem}"),
            ),
        }
    }
}
