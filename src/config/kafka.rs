//! How to reach a cluster over the Kafka protocol: the `kafka` sections (of a destination
//! cluster and of each source cluster) and the `source_clusters` list: their YAML keys, their
//! validation and the validated [`KafkaConfig`] / [`SourceClusterConfig`].
//!
//! This module only describes connections; the librdkafka clients are built from a
//! [`KafkaConfig`] by `crate::kafka::librdkafka`, which also checks at load that librdkafka
//! accepts every section.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::defaults::DEFAULT_REQUEST_TIMEOUT;
use super::secret::{SecretSource, SecretString};
use super::values::{at, check_tls_files, duration_or};
use super::{invalid, ConfigError};

/// A `kafka` section as written: how to reach a cluster over the Kafka protocol (librdkafka),
/// on a destination cluster (`clusters[].kafka`) or a source cluster
/// (`source_clusters[].kafka`). librdkafka checks the resulting client configuration at load
/// (without connecting), so a bad property fails `check-config`.
///
/// ```yaml
/// kafka:
///   bootstrap_servers: broker-1:9092,broker-2:9092
///   sasl: {mechanism: SCRAM-SHA-512, username: cluster-link-exporter, password: {env: KAFKA_PASSWORD}}
///   tls: {ca_file: /etc/cle/ca.pem}
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKafka {
    /// librdkafka `bootstrap.servers`: comma-separated `host:port` list (port 0 to 65535).
    /// Required, non-empty. Example: `broker-1:9092,broker-2:9092`; Confluent Cloud:
    /// `pkc-xxxxx.region.provider.confluent.cloud:9092`.
    bootstrap_servers: String,
    /// librdkafka `security.protocol`: `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`
    /// (lower case accepted). Default: `SASL_SSL` when `sasl` is set, else `SSL` when a `tls`
    /// section is present (even empty), else `PLAINTEXT`. The `SASL_*` ones need `sasl`, the
    /// others refuse it.
    #[serde(default)]
    security_protocol: Option<SecurityProtocol>,
    /// SASL mechanism and credentials; see [`RawSasl`]. Default: none.
    #[serde(default)]
    sasl: Option<RawSasl>,
    /// TLS settings (for `SSL` and `SASL_SSL`); see [`RawKafkaTls`]. Default: system CAs, no
    /// client certificate.
    #[serde(default)]
    tls: Option<RawKafkaTls>,
    /// Any other librdkafka property, name → value. Values are inline, `{env: VAR}` or
    /// `{file: PATH}` and treated as secrets (never logged, redacted from errors). Properties
    /// the exporter sets itself (`bootstrap.servers`, `security.protocol`, `sasl.*`,
    /// `ssl.ca.location`, `ssl.certificate.location`, `ssl.key.*`,
    /// `enable.ssl.certificate.verification`, `group.id`, `enable.auto.commit`, `client.id`,
    /// `statistics.interval.ms`) are refused. Default: none. Example:
    /// `{client.dns.lookup: use_all_dns_ips}`.
    #[serde(default)]
    properties: BTreeMap<String, SecretSource>,
    /// Timeout of one Kafka request batch (watermarks, committed offsets, group listing, the
    /// probe's reads) and librdkafka `socket.timeout.ms`. A duration (positive, at most
    /// 8760h). Default: on a destination, that cluster's `request_timeout`; on a source cluster,
    /// `defaults.request_timeout`; else [`DEFAULT_REQUEST_TIMEOUT`] (`10s`). A timeout counts in
    /// `clusterlink_kafka_errors_total{reason="timeout"}`.
    #[serde(default)]
    request_timeout: Option<String>,
}

/// `sasl`: SASL authentication of a Kafka connection, chosen by `mechanism`. Needs
/// `security_protocol` `SASL_SSL` (the default with `sasl`) or `SASL_PLAINTEXT`.
///
/// ```yaml
/// sasl: {mechanism: PLAIN, username: <API key>, password: {env: API_SECRET}}
/// ```
#[derive(Debug, Deserialize)]
#[serde(tag = "mechanism", deny_unknown_fields)]
enum RawSasl {
    /// `mechanism: PLAIN` (Confluent Cloud: API key and secret).
    #[serde(rename = "PLAIN")]
    Plain {
        /// `sasl.username`. Required, non-empty.
        username: String,
        /// `sasl.password`: inline, `{env: VAR}` or `{file: PATH}`. Required.
        password: SecretSource,
    },
    /// `mechanism: SCRAM-SHA-256`.
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256 {
        /// `sasl.username`. Required, non-empty.
        username: String,
        /// `sasl.password`: inline, `{env: VAR}` or `{file: PATH}`. Required.
        password: SecretSource,
    },
    /// `mechanism: SCRAM-SHA-512`.
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512 {
        /// `sasl.username`. Required, non-empty.
        username: String,
        /// `sasl.password`: inline, `{env: VAR}` or `{file: PATH}`. Required.
        password: SecretSource,
    },
    /// `mechanism: OAUTHBEARER` with OIDC client credentials: librdkafka fetches and refreshes
    /// the token (`sasl.oauthbearer.method=oidc`).
    #[serde(rename = "OAUTHBEARER")]
    OauthBearer {
        /// The identity provider's token endpoint, `http://` or `https://`. Required.
        token_endpoint_url: String,
        /// OIDC client id. Required, non-empty.
        client_id: String,
        /// OIDC client secret: inline, `{env: VAR}` or `{file: PATH}`. Required.
        client_secret: SecretSource,
        /// `sasl.oauthbearer.scope`. Default: none.
        #[serde(default)]
        scope: Option<String>,
        /// SASL extensions, name → value (`sasl.oauthbearer.extensions`). Confluent Cloud
        /// needs `{logicalCluster: lkc-…, identityPoolId: pool-…}`. Default: none.
        #[serde(default)]
        extensions: BTreeMap<String, String>,
    },
}

/// `tls` of a `kafka` section. Every file must be readable at load. Its presence alone makes
/// `SSL` the default `security_protocol` when there is no `sasl`.
///
/// ```yaml
/// tls: {ca_file: /etc/cle/ca.pem, cert_file: /etc/cle/client.pem, key_file: /etc/cle/client.key}
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKafkaTls {
    /// PEM CA bundle to trust (`ssl.ca.location`). Default: the system's CAs.
    #[serde(default)]
    ca_file: Option<PathBuf>,
    /// PEM client certificate for mTLS (`ssl.certificate.location`). Goes with `key_file`
    /// (both or neither). Default: none.
    #[serde(default)]
    cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file` (`ssl.key.location`). Default: none.
    #[serde(default)]
    key_file: Option<PathBuf>,
    /// Password of an encrypted `key_file` (`ssl.key.password`): inline, `{env: VAR}` or
    /// `{file: PATH}`. Default: none.
    #[serde(default)]
    key_password: Option<SecretSource>,
    /// Skip broker certificate verification (`enable.ssl.certificate.verification=false`).
    /// Default `false`; for tests only.
    #[serde(default)]
    insecure_skip_verify: bool,
}

/// A source cluster (an entry of `source_clusters`) as written: the cluster some links mirror
/// from, where source watermarks, lag in seconds, source committed offsets and the probe's
/// producer connect. Needs `cluster_id` or `links` (or both) to say which links it serves.
///
/// ```yaml
/// source_clusters:
///   - name: dc-west
///     cluster_id: 7Hx2vQk4Tt2LkVQkXa9Zog
///     kafka: {bootstrap_servers: 'west-1:9092'}
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSourceCluster {
    /// The `connection` label of this cluster's Kafka-side series
    /// (`clusterlink_kafka_up`, `clusterlink_kafka_errors_total`, …). Required, non-empty,
    /// unique among `source_clusters`.
    name: String,
    /// Kafka cluster id: every link (of any destination) whose REST `source_cluster_id`
    /// equals it uses this source. Default: none (empty means none).
    #[serde(default)]
    cluster_id: Option<String>,
    /// Names of links (of any destination) that use this source, for links whose source id
    /// is not known up front. Default: empty.
    #[serde(default)]
    links: Vec<String>,
    /// How to connect; see [`RawKafka`]. Required.
    kafka: RawKafka,
}

/// Kafka `security.protocol`, as written in `kafka.security_protocol` (upper or lower case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum SecurityProtocol {
    /// `PLAINTEXT`: no TLS, no SASL.
    #[serde(rename = "PLAINTEXT", alias = "plaintext")]
    Plaintext,
    /// `SSL`: TLS (with an optional client certificate), no SASL.
    #[serde(rename = "SSL", alias = "ssl")]
    Ssl,
    /// `SASL_PLAINTEXT`: SASL without TLS.
    #[serde(rename = "SASL_PLAINTEXT", alias = "sasl_plaintext")]
    SaslPlaintext,
    /// `SASL_SSL`: SASL over TLS.
    #[serde(rename = "SASL_SSL", alias = "sasl_ssl")]
    SaslSsl,
}

impl SecurityProtocol {
    /// librdkafka's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "plaintext",
            SecurityProtocol::Ssl => "ssl",
            SecurityProtocol::SaslPlaintext => "sasl_plaintext",
            SecurityProtocol::SaslSsl => "sasl_ssl",
        }
    }

    fn is_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

/// SASL authentication of a Kafka connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaslConfig {
    /// `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512` with a username and password (on Confluent
    /// Cloud: `PLAIN` with an API key and secret).
    Password {
        /// librdkafka's `sasl.mechanism`: `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
        mechanism: &'static str,
        /// `sasl.username` (on Confluent Cloud: the API key).
        username: String,
        /// `sasl.password` (on Confluent Cloud: the API secret).
        password: SecretString,
    },
    /// `OAUTHBEARER` with OIDC client credentials: librdkafka fetches and refreshes the token
    /// from `token_endpoint_url`. Confluent Cloud needs the extensions `logicalCluster` and
    /// `identityPoolId`.
    OauthBearer {
        /// The identity provider's token endpoint, `http://` or `https://`.
        token_endpoint_url: String,
        /// OIDC client id.
        client_id: String,
        /// OIDC client secret.
        client_secret: SecretString,
        /// `sasl.oauthbearer.scope`, if any.
        scope: Option<String>,
        /// SASL extensions, name → value (`sasl.oauthbearer.extensions`).
        extensions: BTreeMap<String, String>,
    },
}

/// TLS of a Kafka connection (`SSL` and `SASL_SSL`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KafkaTls {
    /// PEM CA bundle to trust (librdkafka `ssl.ca.location`); default: the system's.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate for mTLS (`ssl.certificate.location`).
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate (`ssl.key.location`).
    pub key_file: Option<PathBuf>,
    /// Password of an encrypted private key (`ssl.key.password`).
    pub key_password: Option<SecretString>,
    /// Skip broker certificate verification. For tests only.
    pub insecure_skip_verify: bool,
    /// A hash of the three files' contents when the configuration was loaded: a reload after
    /// a certificate or key was replaced at the same path sees the connection as changed and
    /// restarts its clients (librdkafka reads the files only when a client is created).
    pub files_fingerprint: u64,
}

/// A hash of the contents of `files` (an unreadable file hashes as its error); 0 for none.
fn fingerprint(files: &[&Option<PathBuf>]) -> u64 {
    use std::hash::{Hash, Hasher};
    if files.iter().all(|f| f.is_none()) {
        return 0;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in files.iter().copied().flatten() {
        match std::fs::read(f) {
            Ok(bytes) => bytes.hash(&mut h),
            Err(e) => e.kind().hash(&mut h),
        }
    }
    h.finish()
}

/// How to reach one cluster over the Kafka protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaConfig {
    /// `bootstrap.servers`: comma-separated `host:port` list.
    pub bootstrap_servers: String,
    /// `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`. Default: `SASL_SSL` when `sasl` is
    /// set, `SSL` when `tls` is set, else `PLAINTEXT`.
    pub security_protocol: SecurityProtocol,
    /// SASL mechanism and credentials.
    pub sasl: Option<SaslConfig>,
    /// TLS settings.
    pub tls: KafkaTls,
    /// Extra librdkafka properties (values are treated as secrets: never logged). Properties
    /// the typed settings above set cannot be given here.
    pub properties: BTreeMap<String, SecretString>,
    /// Timeout of one Kafka request batch (default: on a destination, the cluster's
    /// `request_timeout`; on a source cluster, `defaults.request_timeout`, else
    /// [`DEFAULT_REQUEST_TIMEOUT`], 10s).
    pub request_timeout: Duration,
}

/// Properties the exporter sets itself (from typed settings or per client).
const RESERVED_PROPERTIES: &[&str] = &[
    "bootstrap.servers",
    "security.protocol",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
    "sasl.oauthbearer.method",
    "sasl.oauthbearer.client.id",
    "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.token.endpoint.url",
    "sasl.oauthbearer.scope",
    "sasl.oauthbearer.extensions",
    "ssl.ca.location",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.key.password",
    "enable.ssl.certificate.verification",
    "group.id",
    "enable.auto.commit",
    "client.id",
    "statistics.interval.ms",
];

impl KafkaConfig {
    /// A `PLAINTEXT` connection to `bootstrap_servers` (`host:port[,host:port…]`, taken as
    /// given, not validated) with the default request timeout and no other setting. For
    /// building a configuration in code.
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.into(),
            security_protocol: SecurityProtocol::Plaintext,
            sasl: None,
            tls: KafkaTls::default(),
            properties: BTreeMap::new(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// Validates the `kafka` section at `key`; `default_timeout` is the `request_timeout` it
    /// inherits.
    pub(super) fn from_raw(
        raw: RawKafka,
        key: &str,
        default_timeout: Duration,
    ) -> Result<Self, ConfigError> {
        let bootstrap_servers =
            bootstrap_servers(&raw.bootstrap_servers, &at(key, "bootstrap_servers"))?;
        let sasl = raw
            .sasl
            .map(|s| SaslConfig::from_raw(s, &at(key, "sasl")))
            .transpose()?;
        let has_tls = raw.tls.is_some();
        let raw_tls = raw.tls.unwrap_or_default();
        let tls_key = at(key, "tls");
        check_tls_files(
            &tls_key,
            &raw_tls.ca_file,
            &raw_tls.cert_file,
            &raw_tls.key_file,
        )?;
        let security_protocol =
            SecurityProtocol::from_raw(raw.security_protocol, sasl.is_some(), has_tls, key)?;
        let properties = properties_from_raw(raw.properties, key)?;
        let request_timeout = duration_or(
            raw.request_timeout.as_deref(),
            &at(key, "request_timeout"),
            default_timeout,
        )?;
        Ok(KafkaConfig {
            bootstrap_servers,
            security_protocol,
            sasl,
            tls: KafkaTls::from_raw(raw_tls, &tls_key)?,
            properties,
            request_timeout,
        })
    }
}

/// `bootstrap_servers` trimmed, each entry `host:port` with a port of 0 to 65535.
fn bootstrap_servers(raw: &str, key: &str) -> Result<String, ConfigError> {
    let servers = raw.trim();
    if servers.is_empty() {
        return Err(invalid(key, "must not be empty"));
    }
    if let Some(bad) = servers.split(',').map(str::trim).find(|s| {
        s.rsplit_once(':')
            .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
    }) {
        return Err(invalid(
            key,
            format!("expected host:port[,host:port…], got {bad:?}"),
        ));
    }
    Ok(servers.to_owned())
}

/// `properties` at `key.properties`: none the exporter sets itself, values resolved.
fn properties_from_raw(
    raw: BTreeMap<String, SecretSource>,
    key: &str,
) -> Result<BTreeMap<String, SecretString>, ConfigError> {
    let mut properties = BTreeMap::new();
    for (name, value) in raw {
        let property_key = at(key, &format!("properties.{name}"));
        if RESERVED_PROPERTIES.contains(&name.as_str()) {
            return Err(invalid(
                property_key,
                "is set by the exporter (use the typed settings: bootstrap_servers, security_protocol, sasl, tls)",
            ));
        }
        let resolved = value.resolve(&property_key)?;
        properties.insert(name, resolved);
    }
    Ok(properties)
}

impl SecurityProtocol {
    /// The protocol of the `kafka` section at `key`: as written, else `SASL_SSL` with `sasl`,
    /// `SSL` with a `tls` section, `PLAINTEXT` otherwise; SASL protocols need `sasl`, the
    /// others refuse it.
    fn from_raw(
        raw: Option<SecurityProtocol>,
        has_sasl: bool,
        has_tls: bool,
        key: &str,
    ) -> Result<Self, ConfigError> {
        let protocol = raw.unwrap_or(match (has_sasl, has_tls) {
            (true, _) => SecurityProtocol::SaslSsl,
            (false, true) => SecurityProtocol::Ssl,
            (false, false) => SecurityProtocol::Plaintext,
        });
        let name = protocol.as_str().to_ascii_uppercase();
        if protocol.is_sasl() && !has_sasl {
            return Err(invalid(
                at(key, "security_protocol"),
                format!("{name} needs a sasl section (mechanism and credentials)"),
            ));
        }
        if !protocol.is_sasl() && has_sasl {
            return Err(invalid(
                at(key, "sasl"),
                format!("SASL needs security_protocol SASL_SSL or SASL_PLAINTEXT, not {name}"),
            ));
        }
        Ok(protocol)
    }
}

impl SaslConfig {
    /// Validates the `sasl` section at `key`, resolving its secret.
    fn from_raw(raw: RawSasl, key: &str) -> Result<Self, ConfigError> {
        let (mechanism, username, password) = match raw {
            RawSasl::Plain { username, password } => ("PLAIN", username, password),
            RawSasl::ScramSha256 { username, password } => ("SCRAM-SHA-256", username, password),
            RawSasl::ScramSha512 { username, password } => ("SCRAM-SHA-512", username, password),
            RawSasl::OauthBearer {
                token_endpoint_url,
                client_id,
                client_secret,
                scope,
                extensions,
            } => {
                if !token_endpoint_url.starts_with("https://")
                    && !token_endpoint_url.starts_with("http://")
                {
                    return Err(invalid(
                        at(key, "token_endpoint_url"),
                        "must be an http:// or https:// URL",
                    ));
                }
                if client_id.is_empty() {
                    return Err(invalid(at(key, "client_id"), "must not be empty"));
                }
                return Ok(SaslConfig::OauthBearer {
                    token_endpoint_url,
                    client_id,
                    client_secret: non_empty(&client_secret, &at(key, "client_secret"))?,
                    scope,
                    extensions,
                });
            }
        };
        if username.is_empty() {
            return Err(invalid(at(key, "username"), "must not be empty"));
        }
        Ok(SaslConfig::Password {
            mechanism,
            username,
            password: non_empty(&password, &at(key, "password"))?,
        })
    }
}

/// A secret resolved at `key`; an empty one (an empty file, an empty variable) is refused:
/// librdkafka would only fail when a client is created, long after the configuration loaded.
fn non_empty(source: &SecretSource, key: &str) -> Result<SecretString, ConfigError> {
    let secret = source.resolve(key)?;
    if secret.expose().is_empty() {
        return Err(invalid(key, "is empty"));
    }
    Ok(secret)
}

impl KafkaTls {
    /// The `tls` section at `key` (its files already checked), its key password resolved.
    fn from_raw(raw: RawKafkaTls, key: &str) -> Result<Self, ConfigError> {
        Ok(KafkaTls {
            files_fingerprint: fingerprint(&[&raw.ca_file, &raw.cert_file, &raw.key_file]),
            key_password: raw
                .key_password
                .map(|p| p.resolve(&at(key, "key_password")))
                .transpose()?,
            ca_file: raw.ca_file,
            cert_file: raw.cert_file,
            key_file: raw.key_file,
            insecure_skip_verify: raw.insecure_skip_verify,
        })
    }
}

/// A source cluster of some links: where lag in seconds, source watermarks, source committed
/// offsets and the probe's producer connect.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceClusterConfig {
    /// Name of the source cluster: the `connection` label of its Kafka-side metrics. Unique.
    pub name: String,
    /// Kafka cluster id: links whose `source_cluster_id` equals it use this source.
    pub cluster_id: Option<String>,
    /// Names of links that use this source (for links whose source id is not known up front).
    pub links: Vec<String>,
    /// How to connect.
    pub kafka: KafkaConfig,
}

impl SourceClusterConfig {
    /// Validates the `source_clusters[]` entry at index `index`; `default_timeout` is
    /// `defaults.request_timeout` (or its default).
    pub(super) fn from_raw(
        raw: RawSourceCluster,
        index: usize,
        default_timeout: Duration,
    ) -> Result<Self, ConfigError> {
        let key = format!("source_clusters[{index}]");
        if raw.name.is_empty() {
            return Err(invalid(at(&key, "name"), "must not be empty"));
        }
        let cluster_id = raw.cluster_id.filter(|s| !s.is_empty());
        if cluster_id.is_none() && raw.links.is_empty() {
            return Err(invalid(
                key,
                "needs cluster_id or links: which links' source this is",
            ));
        }
        Ok(Self {
            kafka: KafkaConfig::from_raw(raw.kafka, &at(&key, "kafka"), default_timeout)?,
            name: raw.name,
            cluster_id,
            links: raw.links,
        })
    }

    /// Whether a link (by name and REST `source_cluster_id`) mirrors from this cluster.
    pub fn serves(&self, link: &str, source_cluster_id: Option<&str>) -> bool {
        self.links.iter().any(|l| l == link)
            || (self.cluster_id.is_some() && self.cluster_id.as_deref() == source_cluster_id)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    const BASE: &str = "clusters: [{name: b, rest_url: 'http://x/kafka/v3', kafka: ";

    #[test]
    fn an_empty_secret_is_refused() {
        assert_eq!(
            err("{bootstrap_servers: 'b:9093', sasl: {mechanism: PLAIN, username: k, password: ''}}"),
            "config: clusters[0].kafka.sasl.password: is empty"
        );
    }

    #[test]
    fn a_replaced_certificate_changes_the_connection() {
        let dir = std::env::temp_dir().join(format!("cle-fingerprint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, "first CA").unwrap();
        let yaml = format!(
            "{BASE}{{bootstrap_servers: 'b:9093', tls: {{ca_file: '{}'}}}}}}]",
            ca.display()
        );
        let load = || Config::from_yaml(&yaml).unwrap().clusters[0].kafka.clone();
        let first = load();
        assert_eq!(first, load(), "same files: unchanged");
        std::fs::write(&ca, "rotated CA").unwrap();
        assert_ne!(first, load(), "a new CA at the same path is a change");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn err(kafka: &str) -> String {
        Config::from_yaml(&format!("{BASE}{kafka}}}]"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_plain_sasl_section_with_an_explicit_protocol_and_key_password() {
        let c = Config::from_yaml(&format!(
            "{BASE}{{bootstrap_servers: ' b:9092 ', security_protocol: sasl_plaintext, sasl: {{mechanism: PLAIN, username: key, password: secret}}, tls: {{key_password: pw}}}}}}]"
        ))
        .unwrap();
        let k = c.clusters[0].kafka.as_ref().unwrap();
        assert_eq!(k.bootstrap_servers, "b:9092");
        assert_eq!(k.security_protocol, SecurityProtocol::SaslPlaintext);
        let password = SecretString::new("secret");
        let plain = SaslConfig::Password {
            mechanism: "PLAIN",
            username: "key".into(),
            password,
        };
        assert_eq!(k.sasl, Some(plain));
        assert_eq!(k.tls.key_password, Some(SecretString::new("pw")));
    }

    #[test]
    fn each_bad_kafka_setting_names_its_key() {
        assert_eq!(
            err("{bootstrap_servers: 'nohost'}"),
            "config: clusters[0].kafka.bootstrap_servers: expected host:port[,host:port…], got \"nohost\""
        );
        assert_eq!(
            err("{bootstrap_servers: 'b:9092', security_protocol: SASL_SSL}"),
            "config: clusters[0].kafka.security_protocol: SASL_SSL needs a sasl section (mechanism and credentials)"
        );
        assert_eq!(
            err("{bootstrap_servers: 'b:9092', security_protocol: SSL, sasl: {mechanism: PLAIN, username: u, password: p}}"),
            "config: clusters[0].kafka.sasl: SASL needs security_protocol SASL_SSL or SASL_PLAINTEXT, not SSL"
        );
        assert!(
            err("{bootstrap_servers: 'b:9092', sasl: {mechanism: GSSAPI}}")
                .starts_with("config: clusters[0].kafka.sasl.mechanism: unknown variant `GSSAPI`")
        );
        assert_eq!(
            err("{bootstrap_servers: 'b:9092', properties: {sasl.password: x}}"),
            "config: clusters[0].kafka.properties.sasl.password: is set by the exporter (use the typed settings: bootstrap_servers, security_protocol, sasl, tls)"
        );
        assert_eq!(
            err("{bootstrap_servers: 'b:9092', request_timeout: 99999999999999999999h}"),
            "config: clusters[0].kafka.request_timeout: \"99999999999999999999h\" is longer than the maximum duration, 365 days (8760h)"
        );
        assert_eq!(
            Config::from_yaml(&format!("{BASE}{{bootstrap_servers: 'b:9092'}}, probes: [{{link: l, topic: p, sla: 9000h}}]}}]"))
                .unwrap_err()
                .to_string(),
            "config: clusters[0].probes[0].sla: \"9000h\" is longer than the maximum duration, 365 days (8760h)"
        );
        assert_eq!(
            err("{bootstrap_servers: 'b:9092', tls: {ca_file: /nonexistent/ca.pem}}"),
            "config: clusters[0].kafka.tls.ca_file: cannot read /nonexistent/ca.pem: No such file or directory (os error 2)"
        );
    }

    #[test]
    fn source_clusters_say_which_links_they_serve() {
        let c = Config::from_yaml(
            "clusters: [{name: b, rest_url: 'http://x/kafka/v3'}]\nsource_clusters: [{name: a, cluster_id: abc, kafka: {bootstrap_servers: 'a:9092'}}]",
        )
        .unwrap();
        assert!(c.source_clusters[0].serves("any", Some("abc")));
        assert!(!c.source_clusters[0].serves("any", Some("other")));
        let e = Config::from_yaml(
            "clusters: [{name: b, rest_url: 'http://x/kafka/v3'}]\nsource_clusters: [{name: a, kafka: {bootstrap_servers: 'a:1'}}]",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "config: source_clusters[0]: needs cluster_id or links: which links' source this is"
        );
    }

    #[test]
    fn a_code_built_connection_has_the_yaml_defaults() {
        let c = Config::from_yaml(&format!("{BASE}{{bootstrap_servers: 'b:9092'}}}}]")).unwrap();
        assert_eq!(
            c.clusters[0].kafka.as_ref(),
            Some(&KafkaConfig::new("b:9092"))
        );
    }
}
