//! Configuration of the Kafka-side measurements: how to connect to a cluster over the Kafka
//! protocol (`kafka` sections), which source clusters exist (`source_clusters`), and the
//! settings of lag in seconds, consumer offset sync and the end-to-end probe.
//!
//! Every section is optional: what is not configured is not measured.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;

use super::positive_duration;
use super::{invalid, ConfigError, SecretSource, SecretString};

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
    /// probe's reads) and librdkafka `socket.timeout.ms`. A duration (positive, at most 8760h). Default: on a
    /// destination, that cluster's `request_timeout`; on a source cluster,
    /// `defaults.request_timeout`; else `10s`. A timeout counts in
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

/// `lag_seconds` of a cluster: the lag in seconds measurement (age of the oldest source record
/// not yet on the destination), which needs the cluster's `kafka` and the link's source in
/// `source_clusters`. Affects `clusterlink_mirror_topic_lag_seconds`,
/// `clusterlink_mirror_partition_lag_seconds`, `clusterlink_lag_seconds_records_read_total`
/// and `clusterlink_lag_seconds_unread_partitions`.
///
/// ```yaml
/// lag_seconds: {max_reads_per_cycle: 200, read_timeout: 3s}
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLagSeconds {
    /// Measure it. Default `true` (it is measured when both connections are configured).
    #[serde(default)]
    enabled: Option<bool>,
    /// Most source records read per cycle, most lagging partitions first (one record per
    /// lagging partition; results are cached by offset, so a stuck partition costs one read).
    /// At least 1 (use `enabled: false` to turn it off); default 500. Partitions left over
    /// count in `clusterlink_lag_seconds_unread_partitions`.
    #[serde(default, deserialize_with = "super::whole_number")]
    max_reads_per_cycle: Option<usize>,
    /// How long a cycle waits for the records it reads. A duration (positive, at most
    /// 8760h). Default `5s`. Partitions not read in time count as unread.
    #[serde(default)]
    read_timeout: Option<String>,
}

/// `offset_sync` of a cluster: consumer offset-sync lag (source minus destination committed
/// offsets of each synced group), for links with `consumer.offset.sync.enable=true`; needs the
/// cluster's `kafka` and the link's source in `source_clusters`. Affects
/// `clusterlink_consumer_offset_sync_lag_messages`.
///
/// ```yaml
/// offset_sync: {groups: [orders-app], group_pattern: 'billing-.*', max_groups: 100}
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOffsetSync {
    /// Measure it. Default `true`.
    #[serde(default)]
    enabled: Option<bool>,
    /// Consumer groups to compare, by source name (the destination name gets the link's
    /// `cluster.link.prefix` when the link prefixes groups). Default: empty; when
    /// `group_pattern` is unset too, the groups are those the link's own
    /// `consumer.offset.group.filters` select.
    #[serde(default)]
    groups: Vec<String>,
    /// Also every source group whose name matches this regex (anchored: the whole name).
    /// Needs the Kafka ListGroups API (`DESCRIBE` on the source cluster). Default: none.
    #[serde(default)]
    group_pattern: Option<String>,
    /// At most this many groups per link, the first ones by name; more are skipped with a
    /// warning. At least 1; default 50.
    #[serde(default, deserialize_with = "super::whole_number")]
    max_groups: Option<usize>,
}

/// A `probes` entry of a cluster: the opt-in end-to-end probe of one link. A producer on the
/// link's source cluster writes one small record to every partition of `topic` every
/// `interval`; a consumer on this cluster reads them from the mirror. Needs the cluster's
/// `kafka` and the link's source in `source_clusters`. Affects the `clusterlink_probe_*`
/// series (latency histogram, records sent/received/lost, SLA).
///
/// ```yaml
/// probes:
///   - {link: dr-link, topic: clusterlink-probe, interval: 5s, sla: 30s}
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProbe {
    /// The link to probe (the `link` label). Required, non-empty; one probe per link.
    link: String,
    /// The probe topic on the source cluster: create it (one partition per broker is a good
    /// start); the link must mirror it. Required, non-empty.
    topic: String,
    /// Its mirror topic on this cluster. Default: the link's `cluster.link.prefix` + `topic`
    /// (empty means default).
    #[serde(default)]
    mirror_topic: Option<String>,
    /// Time between two rounds of probe records, one per partition. A duration (positive, at
    /// most 8760h). Default `5s`.
    #[serde(default)]
    interval: Option<String>,
    /// A record not received within this time counts as lost
    /// (`clusterlink_probe_records_lost_total`); the latency histogram's buckets derive from
    /// it, and it is exported as `clusterlink_probe_sla_seconds`. A duration (positive, at most
    /// 8760h). Default `30s`.
    #[serde(default)]
    sla: Option<String>,
    /// This exporter's id in probe records, so replicas can share one probe topic (each reads
    /// only its own records). Default: the host name (`HOSTNAME`, else `/etc/hostname`) plus a
    /// random suffix, new at each start (empty means default).
    #[serde(default)]
    instance_id: Option<String>,
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
        /// librdkafka's `sasl.mechanism`.
        mechanism: &'static str,
        username: String,
        password: SecretString,
    },
    /// `OAUTHBEARER` with OIDC client credentials: librdkafka fetches and refreshes the token
    /// from `token_endpoint_url`. Confluent Cloud needs the extensions `logicalCluster` and
    /// `identityPoolId`.
    OauthBearer {
        token_endpoint_url: String,
        client_id: String,
        client_secret: SecretString,
        scope: Option<String>,
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
    /// `request_timeout`; on a source cluster, `defaults.request_timeout`, else 10s).
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
    /// The librdkafka configuration every client of this connection starts from.
    pub fn client_config(&self) -> rdkafka::ClientConfig {
        let mut c = rdkafka::ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap_servers)
            .set("security.protocol", self.security_protocol.as_str())
            .set(
                "socket.timeout.ms",
                self.request_timeout.as_millis().max(10).to_string(),
            )
            .set("reconnect.backoff.max.ms", "5000");
        match &self.sasl {
            None => {}
            Some(SaslConfig::Password {
                mechanism,
                username,
                password,
            }) => {
                c.set("sasl.mechanism", *mechanism)
                    .set("sasl.username", username)
                    .set("sasl.password", password.expose());
            }
            Some(SaslConfig::OauthBearer {
                token_endpoint_url,
                client_id,
                client_secret,
                scope,
                extensions,
            }) => {
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
        let tls = &self.tls;
        let path = |p: &PathBuf| p.display().to_string();
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
        for (k, v) in &self.properties {
            c.set(k, v.expose());
        }
        c
    }

    /// Every secret value of this connection (to scrub from librdkafka's error messages).
    pub fn secrets(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.properties.values().map(|v| v.expose()).collect();
        match &self.sasl {
            Some(SaslConfig::Password { password, .. }) => out.push(password.expose()),
            Some(SaslConfig::OauthBearer { client_secret, .. }) => out.push(client_secret.expose()),
            None => {}
        }
        if let Some(p) = &self.tls.key_password {
            out.push(p.expose());
        }
        out.retain(|s| !s.is_empty());
        out
    }

    pub(super) fn from_raw(
        raw: RawKafka,
        key: &str,
        default_timeout: Duration,
    ) -> Result<Self, ConfigError> {
        let k = |s: &str| format!("{key}.{s}");
        let servers = raw.bootstrap_servers.trim();
        if servers.is_empty() {
            return Err(invalid(k("bootstrap_servers"), "must not be empty"));
        }
        if let Some(bad) = servers.split(',').map(str::trim).find(|s| {
            s.rsplit_once(':')
                .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
        }) {
            return Err(invalid(
                k("bootstrap_servers"),
                format!("expected host:port[,host:port…], got {bad:?}"),
            ));
        }
        let sasl = match raw.sasl {
            None => None,
            Some(RawSasl::OauthBearer {
                token_endpoint_url,
                client_id,
                client_secret,
                scope,
                extensions,
            }) => {
                if !token_endpoint_url.starts_with("https://")
                    && !token_endpoint_url.starts_with("http://")
                {
                    return Err(invalid(
                        k("sasl.token_endpoint_url"),
                        "must be an http:// or https:// URL",
                    ));
                }
                if client_id.is_empty() {
                    return Err(invalid(k("sasl.client_id"), "must not be empty"));
                }
                Some(SaslConfig::OauthBearer {
                    token_endpoint_url,
                    client_id,
                    client_secret: client_secret.resolve(&k("sasl.client_secret"))?,
                    scope,
                    extensions,
                })
            }
            Some(raw) => {
                let (mechanism, username, password) = match raw {
                    RawSasl::Plain { username, password } => ("PLAIN", username, password),
                    RawSasl::ScramSha256 { username, password } => {
                        ("SCRAM-SHA-256", username, password)
                    }
                    RawSasl::ScramSha512 { username, password } => {
                        ("SCRAM-SHA-512", username, password)
                    }
                    RawSasl::OauthBearer { .. } => unreachable!("handled above"),
                };
                if username.is_empty() {
                    return Err(invalid(k("sasl.username"), "must not be empty"));
                }
                Some(SaslConfig::Password {
                    mechanism,
                    username,
                    password: password.resolve(&k("sasl.password"))?,
                })
            }
        };
        let raw_tls = raw.tls;
        let has_tls = raw_tls.is_some();
        let raw_tls = raw_tls.unwrap_or_default();
        for (name, f) in [
            ("tls.ca_file", &raw_tls.ca_file),
            ("tls.cert_file", &raw_tls.cert_file),
            ("tls.key_file", &raw_tls.key_file),
        ] {
            if let Some(f) = f {
                if let Err(e) = std::fs::metadata(f) {
                    return Err(invalid(
                        k(name),
                        format!("cannot read {}: {e}", f.display()),
                    ));
                }
            }
        }
        if raw_tls.cert_file.is_some() != raw_tls.key_file.is_some() {
            return Err(invalid(
                k("tls"),
                "cert_file and key_file go together (mTLS client certificate and its key)",
            ));
        }
        let security_protocol = raw.security_protocol.unwrap_or(match (&sasl, has_tls) {
            (Some(_), _) => SecurityProtocol::SaslSsl,
            (None, true) => SecurityProtocol::Ssl,
            (None, false) => SecurityProtocol::Plaintext,
        });
        if security_protocol.is_sasl() && sasl.is_none() {
            return Err(invalid(
                k("security_protocol"),
                format!(
                    "{} needs a sasl section (mechanism and credentials)",
                    security_protocol.as_str().to_ascii_uppercase()
                ),
            ));
        }
        if !security_protocol.is_sasl() && sasl.is_some() {
            return Err(invalid(
                k("sasl"),
                format!(
                    "SASL needs security_protocol SASL_SSL or SASL_PLAINTEXT, not {}",
                    security_protocol.as_str().to_ascii_uppercase()
                ),
            ));
        }
        let mut properties = BTreeMap::new();
        for (name, value) in raw.properties {
            if RESERVED_PROPERTIES.contains(&name.as_str()) {
                return Err(invalid(
                    k(&format!("properties.{name}")),
                    "is set by the exporter (use the typed settings: bootstrap_servers, security_protocol, sasl, tls)",
                ));
            }
            let resolved = value.resolve(&k(&format!("properties.{name}")))?;
            properties.insert(name, resolved);
        }
        let request_timeout = match raw.request_timeout {
            None => default_timeout,
            Some(s) => positive_duration(&s, &k("request_timeout"))?,
        };
        let config = KafkaConfig {
            bootstrap_servers: servers.to_owned(),
            security_protocol,
            sasl,
            tls: KafkaTls {
                key_password: raw_tls
                    .key_password
                    .map(|p| p.resolve(&k("tls.key_password")))
                    .transpose()?,
                ca_file: raw_tls.ca_file,
                cert_file: raw_tls.cert_file,
                key_file: raw_tls.key_file,
                insecure_skip_verify: raw_tls.insecure_skip_verify,
            },
            properties,
            request_timeout,
        };
        // librdkafka checks every property name and value without connecting anywhere.
        if let Err(e) = config.client_config().create_native_config() {
            let mut message = e.to_string();
            for secret in config.secrets() {
                message = message.replace(secret, "<redacted>");
            }
            return Err(invalid(
                k("properties"),
                format!("librdkafka rejects the configuration: {message}"),
            ));
        }
        Ok(config)
    }
}

/// A source cluster of some links: where lag in seconds, source watermarks, source committed
/// offsets and the probe's producer connect.
#[derive(Clone, Debug)]
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
    pub(super) fn from_raw(
        raw: RawSourceCluster,
        index: usize,
        default_timeout: Duration,
    ) -> Result<Self, ConfigError> {
        let key = format!("source_clusters[{index}]");
        if raw.name.is_empty() {
            return Err(invalid(format!("{key}.name"), "must not be empty"));
        }
        let cluster_id = raw.cluster_id.filter(|s| !s.is_empty());
        if cluster_id.is_none() && raw.links.is_empty() {
            return Err(invalid(
                key.clone(),
                "needs cluster_id or links: which links' source this is",
            ));
        }
        Ok(Self {
            kafka: KafkaConfig::from_raw(raw.kafka, &format!("{key}.kafka"), default_timeout)?,
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

/// Lag in seconds (needs `kafka` on the cluster and the link's source cluster).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LagSecondsConfig {
    /// Measure it (default true when both connections are configured).
    pub enabled: bool,
    /// Most source records read per cycle, most lagging partitions first (default 500).
    /// Results are cached by offset, so a stuck partition costs one read.
    pub max_reads_per_cycle: usize,
    /// How long a cycle waits for the records it reads (default 5s).
    pub read_timeout: Duration,
}

impl Default for LagSecondsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_reads_per_cycle: 500,
            read_timeout: Duration::from_secs(5),
        }
    }
}

/// Consumer offset sync lag (needs `kafka` on the cluster and the link's source cluster, and
/// `consumer.offset.sync.enable=true` on the link).
#[derive(Clone, Debug)]
pub struct OffsetSyncConfig {
    /// Measure it (default true).
    pub enabled: bool,
    /// Consumer groups to compare (source names; the destination name gets the link prefix
    /// when the link prefixes groups).
    pub groups: Vec<String>,
    /// Also every group whose name matches this regex (anchored); needs the Kafka ListGroups
    /// API on the source cluster.
    pub group_pattern: Option<Regex>,
    /// At most this many groups per link (default 50); more are skipped with a warning.
    pub max_groups: usize,
}

impl Default for OffsetSyncConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            groups: Vec::new(),
            group_pattern: None,
            max_groups: 50,
        }
    }
}

impl OffsetSyncConfig {
    /// Whether neither `groups` nor `group_pattern` is set: the groups then come from the
    /// link's own `consumer.offset.group.filters`.
    pub fn follows_link_filters(&self) -> bool {
        self.groups.is_empty() && self.group_pattern.is_none()
    }
}

/// The end-to-end probe of one link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeConfig {
    /// The link the probe measures.
    pub link: String,
    /// The probe topic on the source cluster (create it; the link must mirror it).
    pub topic: String,
    /// Its mirror topic on this cluster (default: the link's `cluster.link.prefix` + `topic`).
    pub mirror_topic: Option<String>,
    /// Time between two rounds of probe records, one per partition (default 5s).
    pub interval: Duration,
    /// A record not received within this time counts as lost; the latency histogram's buckets
    /// are derived from it (default 30s).
    pub sla: Duration,
    /// This exporter's id in probe records, so replicas can share a topic (default: host name
    /// and a random suffix).
    pub instance_id: String,
}

pub(super) fn lag_seconds_from_raw(
    raw: Option<RawLagSeconds>,
    key: &str,
) -> Result<LagSecondsConfig, ConfigError> {
    let raw = raw.unwrap_or_default();
    let d = LagSecondsConfig::default();
    let max_reads_per_cycle = raw.max_reads_per_cycle.unwrap_or(d.max_reads_per_cycle);
    if max_reads_per_cycle == 0 {
        return Err(invalid(
            format!("{key}.max_reads_per_cycle"),
            "must be at least 1 (use enabled: false to turn lag in seconds off)",
        ));
    }
    Ok(LagSecondsConfig {
        enabled: raw.enabled.unwrap_or(d.enabled),
        max_reads_per_cycle,
        read_timeout: match raw.read_timeout {
            None => d.read_timeout,
            Some(s) => positive_duration(&s, &format!("{key}.read_timeout"))?,
        },
    })
}

pub(super) fn offset_sync_from_raw(
    raw: Option<RawOffsetSync>,
    key: &str,
) -> Result<OffsetSyncConfig, ConfigError> {
    let raw = raw.unwrap_or_default();
    let group_pattern = raw
        .group_pattern
        .map(|p| {
            Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                invalid(
                    format!("{key}.group_pattern"),
                    format!(
                        "invalid regex: {}",
                        e.to_string().lines().last().unwrap_or("")
                    ),
                )
            })
        })
        .transpose()?;
    let max_groups = raw.max_groups.unwrap_or(50);
    if max_groups == 0 {
        return Err(invalid(format!("{key}.max_groups"), "must be at least 1"));
    }
    Ok(OffsetSyncConfig {
        enabled: raw.enabled.unwrap_or(true),
        groups: raw.groups,
        group_pattern,
        max_groups,
    })
}

pub(super) fn probe_from_raw(raw: RawProbe, key: &str) -> Result<ProbeConfig, ConfigError> {
    if raw.link.is_empty() {
        return Err(invalid(format!("{key}.link"), "must not be empty"));
    }
    if raw.topic.is_empty() {
        return Err(invalid(format!("{key}.topic"), "must not be empty"));
    }
    let interval = match raw.interval {
        None => Duration::from_secs(5),
        Some(s) => positive_duration(&s, &format!("{key}.interval"))?,
    };
    let sla = match raw.sla {
        None => Duration::from_secs(30),
        Some(s) => positive_duration(&s, &format!("{key}.sla"))?,
    };
    Ok(ProbeConfig {
        link: raw.link,
        topic: raw.topic,
        mirror_topic: raw.mirror_topic.filter(|s| !s.is_empty()),
        interval,
        sla,
        instance_id: raw
            .instance_id
            .filter(|s| !s.is_empty())
            .unwrap_or_else(default_instance_id),
    })
}

/// Host name plus a random suffix: unique per exporter process.
fn default_instance_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "exporter".into());
    format!("{host}-{:06x}", rand::random::<u32>() & 0xff_ffff)
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    const BASE: &str = "clusters: [{name: b, rest_url: 'http://x/kafka/v3', kafka: ";

    fn err(kafka: &str) -> String {
        Config::from_yaml(&format!("{BASE}{kafka}}}]"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn sasl_mechanisms_map_to_librdkafka_properties() {
        let c = Config::from_yaml(&format!(
            "{BASE}{{bootstrap_servers: 'b1:9092,b2:9092', sasl: {{mechanism: SCRAM-SHA-512, username: u, password: s3cret}}}}}}]"
        ))
        .unwrap();
        let k = c.clusters[0].kafka.as_ref().unwrap();
        assert_eq!(k.security_protocol, SecurityProtocol::SaslSsl);
        let rd = k.client_config();
        assert_eq!(rd.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(rd.get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(rd.get("sasl.password"), Some("s3cret"));
        assert!(!format!("{c:?}").contains("s3cret"));

        let c = Config::from_yaml(&format!(
            "{BASE}{{bootstrap_servers: 'b:9092', sasl: {{mechanism: OAUTHBEARER, token_endpoint_url: 'https://idp/token', client_id: cid, client_secret: shh, scope: kafka, extensions: {{logicalCluster: lkc-1, identityPoolId: pool-2}}}}}}}}]"
        ))
        .unwrap();
        let rd = c.clusters[0].kafka.as_ref().unwrap().client_config();
        assert_eq!(rd.get("sasl.oauthbearer.method"), Some("oidc"));
        assert_eq!(
            rd.get("sasl.oauthbearer.extensions"),
            Some("identityPoolId=pool-2,logicalCluster=lkc-1")
        );
        assert!(!format!("{c:?}").contains("shh"));
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
            err("{bootstrap_servers: 'b:9092', properties: {no.such.property: topsecret}}"),
            "config: clusters[0].kafka.properties: librdkafka rejects the configuration: Client config error: No such configuration property: \"no.such.property\" no.such.property <redacted>"
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
    fn probes_sources_and_measurement_settings() {
        let c = Config::from_yaml(
            "clusters: [{name: b, rest_url: 'http://x/kafka/v3', kafka: {bootstrap_servers: 'b:9092'},
               probes: [{link: dr, topic: probe, sla: 10s}],
               offset_sync: {group_pattern: 'orders-.*'}, lag_seconds: {max_reads_per_cycle: 7}}]\nsource_clusters: [{name: a, cluster_id: abc, kafka: {bootstrap_servers: 'a:9092'}}]",
        )
        .unwrap();
        let b = &c.clusters[0];
        assert_eq!(b.probes[0].sla, Duration::from_secs(10));
        assert_eq!(b.probes[0].interval, Duration::from_secs(5));
        assert!(!b.probes[0].instance_id.is_empty());
        assert!(b
            .offset_sync
            .group_pattern
            .as_ref()
            .unwrap()
            .is_match("orders-app"));
        assert!(!b
            .offset_sync
            .group_pattern
            .as_ref()
            .unwrap()
            .is_match("x-orders-app"));
        assert_eq!(b.lag_seconds.max_reads_per_cycle, 7);
        assert!(c.source_clusters[0].serves("any", Some("abc")));
        assert!(!c.source_clusters[0].serves("any", Some("other")));

        let e = Config::from_yaml(
            "clusters: [{name: b, rest_url: 'http://x/kafka/v3', probes: [{link: dr, topic: p}]}]",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "config: clusters[0].probes[0]: a probe needs this cluster's kafka section (its consumer reads the mirror here)");
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
}
