//! librdkafka client configuration: what every client of a connection starts from, built from
//! a validated [`KafkaConfig`] (the configuration describes connections; it builds no client),
//! and the load-time check that librdkafka accepts every `kafka` section of a [`Config`].

use std::path::Path;

use rdkafka::ClientConfig;

use crate::config::{Config, ConfigError, KafkaConfig, SaslConfig};

/// The librdkafka configuration every client of this connection starts from: bootstrap
/// servers, security protocol, SASL and TLS settings, `socket.timeout.ms` from the
/// connection's `request_timeout` (at least 10 ms), a 5 s reconnect back-off cap and the
/// extra `properties`. Secrets are set as values: never log the result.
pub(crate) fn client_config(config: &KafkaConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &config.bootstrap_servers)
        .set("security.protocol", config.security_protocol.as_str())
        .set(
            "socket.timeout.ms",
            config.request_timeout.as_millis().max(10).to_string(),
        )
        .set("reconnect.backoff.max.ms", "5000");
    if let Some(sasl) = &config.sasl {
        set_sasl(&mut c, sasl);
    }
    let tls = &config.tls;
    let path = |p: &Path| p.display().to_string();
    if let Some(f) = &tls.ca_file {
        c.set("ssl.ca.location", path(f));
    }
    if let Some(f) = &tls.cert_file {
        c.set("ssl.certificate.location", path(f));
    }
    if let Some(f) = &tls.key_file {
        c.set("ssl.key.location", path(f));
    }
    if let Some(p) = &tls.key_password {
        c.set("ssl.key.password", p.expose());
    }
    if tls.insecure_skip_verify {
        c.set("enable.ssl.certificate.verification", "false");
    }
    for (k, v) in &config.properties {
        c.set(k, v.expose());
    }
    c
}

/// The `sasl.*` properties of a SASL setting.
fn set_sasl(c: &mut ClientConfig, sasl: &SaslConfig) {
    match sasl {
        SaslConfig::Password {
            mechanism,
            username,
            password,
        } => {
            c.set("sasl.mechanism", *mechanism)
                .set("sasl.username", username)
                .set("sasl.password", password.expose());
        }
        SaslConfig::OauthBearer {
            token_endpoint_url,
            client_id,
            client_secret,
            scope,
            extensions,
        } => {
            c.set("sasl.mechanism", "OAUTHBEARER")
                .set("sasl.oauthbearer.method", "oidc")
                .set("sasl.oauthbearer.token.endpoint.url", token_endpoint_url)
                .set("sasl.oauthbearer.client.id", client_id)
                .set("sasl.oauthbearer.client.secret", client_secret.expose());
            if let Some(scope) = scope {
                c.set("sasl.oauthbearer.scope", scope);
            }
            if !extensions.is_empty() {
                let list: Vec<String> =
                    extensions.iter().map(|(k, v)| format!("{k}={v}")).collect();
                c.set("sasl.oauthbearer.extensions", list.join(","));
            }
        }
    }
}

/// Every non-empty secret value of a connection (to scrub from librdkafka's error messages).
pub(super) fn secrets(config: &KafkaConfig) -> Vec<&str> {
    let mut out: Vec<&str> = config.properties.values().map(|v| v.expose()).collect();
    match &config.sasl {
        Some(SaslConfig::Password { password, .. }) => out.push(password.expose()),
        Some(SaslConfig::OauthBearer { client_secret, .. }) => out.push(client_secret.expose()),
        None => {}
    }
    if let Some(p) = &config.tls.key_password {
        out.push(p.expose());
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Checks, without connecting anywhere, that librdkafka accepts every `kafka` section of
/// `config` (destination clusters first, then source clusters). The error names the section's
/// `properties` key, e.g. `clusters[0].kafka.properties`, with librdkafka's message, every
/// secret value in it replaced by `<redacted>`.
pub fn check(config: &Config) -> Result<(), ConfigError> {
    let destinations = config.clusters.iter().enumerate().filter_map(|(i, c)| {
        c.kafka
            .as_ref()
            .map(|k| (format!("clusters[{i}].kafka"), k))
    });
    let sources = config
        .source_clusters
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("source_clusters[{i}].kafka"), &s.kafka));
    for (key, kafka) in destinations.chain(sources) {
        check_connection(kafka, &key)?;
    }
    Ok(())
}

/// [`check`] of one `kafka` section, at `key`.
fn check_connection(config: &KafkaConfig, key: &str) -> Result<(), ConfigError> {
    check_key_pair(config, key)?;
    match client_config(config).create_native_config() {
        Ok(_) => Ok(()),
        Err(e) => {
            let mut message = e.to_string();
            for secret in secrets(config) {
                message = message.replace(secret, "<redacted>");
            }
            Err(ConfigError::Invalid {
                key: format!("{key}.properties"),
                problem: format!("librdkafka rejects the configuration: {message}"),
            })
        }
    }
}

/// `tls.cert_file` and an unencrypted `tls.key_file` must belong together: librdkafka only
/// says so when a client is created, long after the configuration loaded. (An encrypted key,
/// with `key_password`, is left to librdkafka.)
fn check_key_pair(config: &KafkaConfig, key: &str) -> Result<(), ConfigError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let tls = &config.tls;
    let (Some(cert_file), Some(key_file)) = (&tls.cert_file, &tls.key_file) else {
        return Ok(());
    };
    if tls.key_password.is_some() {
        return Ok(());
    }
    let invalid = |name: &str, problem: String| ConfigError::Invalid {
        key: format!("{key}.tls.{name}"),
        problem,
    };
    let certs = CertificateDer::pem_file_iter(cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| invalid("cert_file", format!("{}: {e}", cert_file.display())))?;
    if certs.is_empty() {
        let problem = format!("{}: no PEM certificate in it", cert_file.display());
        return Err(invalid("cert_file", problem));
    }
    let private = PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
        let problem = format!(
            "{}: no unencrypted PEM private key in it ({e})",
            key_file.display()
        );
        invalid("key_file", problem)
    })?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&private)
        .map_err(|e| invalid("key_file", format!("{}: {e}", key_file.display())))?;
    match rustls::sign::CertifiedKey::new(certs, signing).keys_match() {
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            let problem = format!("{} is not the key of cert_file", key_file.display());
            Err(invalid("key_file", problem))
        }
        // A key type whose public key cannot be compared is left to librdkafka.
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "clusters: [{name: b, rest_url: 'http://x/kafka/v3', kafka: ";

    #[test]
    fn sasl_mechanisms_map_to_librdkafka_properties() {
        let c = Config::from_yaml(&format!(
            "{BASE}{{bootstrap_servers: 'b1:9092,b2:9092', sasl: {{mechanism: SCRAM-SHA-512, username: u, password: s3cret}}}}}}]"
        ))
        .unwrap();
        let k = c.clusters[0].kafka.as_ref().unwrap();
        assert_eq!(
            k.security_protocol,
            crate::config::SecurityProtocol::SaslSsl
        );
        let rd = client_config(k);
        assert_eq!(rd.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(rd.get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(rd.get("sasl.password"), Some("s3cret"));
        assert!(!format!("{c:?}").contains("s3cret"));

        let c = Config::from_yaml(&format!(
            "{BASE}{{bootstrap_servers: 'b:9092', sasl: {{mechanism: OAUTHBEARER, token_endpoint_url: 'https://idp/token', client_id: cid, client_secret: shh, scope: kafka, extensions: {{logicalCluster: lkc-1, identityPoolId: pool-2}}}}}}}}]"
        ))
        .unwrap();
        let rd = client_config(c.clusters[0].kafka.as_ref().unwrap());
        assert_eq!(rd.get("sasl.oauthbearer.method"), Some("oidc"));
        assert_eq!(
            rd.get("sasl.oauthbearer.extensions"),
            Some("identityPoolId=pool-2,logicalCluster=lkc-1")
        );
        assert!(!format!("{c:?}").contains("shh"));
    }

    #[test]
    fn a_property_librdkafka_rejects_names_its_key_without_the_secret() {
        let c = Config::from_yaml(&format!(
            "{BASE}{{bootstrap_servers: 'b:9092', properties: {{no.such.property: topsecret}}}}}}]"
        ))
        .unwrap();
        assert_eq!(
            check(&c).unwrap_err().to_string(),
            "config: clusters[0].kafka.properties: librdkafka rejects the configuration: Client config error: No such configuration property: \"no.such.property\" no.such.property <redacted>"
        );
        let c = Config::from_yaml(
            "clusters: [{name: b, rest_url: 'http://x/kafka/v3', kafka: {bootstrap_servers: 'b:9092'}}]\nsource_clusters: [{name: a, links: [l], kafka: {bootstrap_servers: 'a:9092', properties: {client.dns.lookup: nope}}}]",
        )
        .unwrap();
        let e = check(&c).unwrap_err().to_string();
        assert!(
            e.starts_with("config: source_clusters[0].kafka.properties: librdkafka rejects the configuration: ")
                && !e.contains("nope"),
            "{e}"
        );
    }

    #[test]
    fn a_client_key_that_is_not_the_certificates_is_refused() {
        let dir = std::env::temp_dir().join(format!("cle-keypair-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["exporter".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let other = rcgen::KeyPair::generate().unwrap();
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path.display().to_string()
        };
        let cert_file = write("c.pem", cert.pem());
        let key_file = write("k.pem", key.serialize_pem());
        let other_file = write("o.pem", other.serialize_pem());
        let config = |key: &str| {
            Config::from_yaml(&format!(
                "{BASE}{{bootstrap_servers: 'b:9093', tls: {{cert_file: '{cert_file}', key_file: '{key}'}}}}}}]"
            ))
            .unwrap()
        };
        assert_eq!(check(&config(&key_file)), Ok(()));
        let e = check(&config(&other_file)).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "config: clusters[0].kafka.tls.key_file: {other_file} is not the key of cert_file"
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_valid_configuration_passes() {
        let c = Config::from_yaml(&format!(
            "{BASE}{{bootstrap_servers: 'b:9092', properties: {{client.dns.lookup: use_all_dns_ips}}}}}}]"
        ))
        .unwrap();
        assert_eq!(check(&c), Ok(()));
    }
}
