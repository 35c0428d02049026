//! The exporter's configuration: YAML file plus environment overrides, strictly parsed (unknown
//! keys are errors), validated before anything is served; every error names the key.
//!
//! Environment overrides use the prefix `CLUSTER_LINK_EXPORTER__` and `__` between levels, e.g.
//! `CLUSTER_LINK_EXPORTER__DEFAULTS__POLL_INTERVAL=15s`. Secrets are given inline, as
//! `{env: VAR}` or as `{file: /path}`, and are held in [`SecretString`], whose `Debug` and
//! `Display` never show the value.

use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;

use crate::util::{parse_duration_checked, DurationError};

mod kafka;
pub use kafka::{
    KafkaConfig, KafkaTls, LagSecondsConfig, OffsetSyncConfig, ProbeConfig, SaslConfig,
    SecurityProtocol, SourceClusterConfig,
};

/// Prefix of environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "CLUSTER_LINK_EXPORTER";

/// Default of `max_response_bytes`: 64 MiB, about ten times the mirror-topic list of a
/// destination with 5,000 mirror topics of 10 partitions each (~6 MB).
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 << 20;
/// Smallest `max_response_bytes`: 1 KiB.
pub const MIN_RESPONSE_BYTES: u64 = 1024;
/// Largest `max_response_bytes`: 4 GiB (a body is held in memory while it is parsed).
pub const MAX_RESPONSE_BYTES: u64 = 4 << 30;

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("config file {path}: {problem}")]
    Read { path: String, problem: String },
    #[error("config: {key}: {problem}")]
    Invalid { key: String, problem: String },
}

/// Deserializes an optional whole number strictly: a fraction, a negative number or a string
/// is an error naming the key, where the `config` crate would truncate `1500.7` or parse
/// `"2048"`. (Environment overrides are parsed into numbers before this sees them.)
pub(crate) fn whole_number<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<u64>,
{
    struct Whole<T>(std::marker::PhantomData<T>);
    impl<'de, T: TryFrom<u64>> serde::de::Visitor<'de> for Whole<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a whole number")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            T::try_from(v)
                .map(Some)
                .map_err(|_| E::custom(format!("{v} is too large")))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            match u64::try_from(v) {
                Ok(v) => self.visit_u64(v),
                Err(_) => Err(E::invalid_value(serde::de::Unexpected::Signed(v), &self)),
            }
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(Whole(std::marker::PhantomData))
}

fn invalid(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        problem: problem.into(),
    }
}

/// A duration key's value: positive and at most [`crate::util::MAX_DURATION`] (365 days).
fn positive_duration(s: &str, key: &str) -> Result<Duration, ConfigError> {
    match parse_duration_checked(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        Err(DurationError::TooLong) => Err(invalid(
            key,
            format!("{s:?} is longer than the maximum duration, 365 days (8760h)"),
        )),
        _ => Err(invalid(
            key,
            format!("expected a positive duration like 500ms, 30s or 5m, got {s:?}"),
        )),
    }
}

/// A secret value. Its `Debug` and `Display` print `<redacted>`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself: only for building requests.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::fmt::Display for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where a secret comes from, as written in the file.
#[derive(Clone, Deserialize)]
#[serde(untagged)]
pub enum SecretSource {
    /// The value itself.
    Inline(String),
    /// `{env: VAR}`: the value of an environment variable.
    Env { env: String },
    /// `{file: /path}`: the contents of a file, without a trailing newline.
    File { file: PathBuf },
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Inline(_) => f.write_str("Inline(<redacted>)"),
            SecretSource::Env { env } => f.debug_struct("Env").field("env", env).finish(),
            SecretSource::File { file } => f.debug_struct("File").field("file", file).finish(),
        }
    }
}

impl SecretSource {
    fn resolve(&self, key: &str) -> Result<SecretString, ConfigError> {
        match self {
            SecretSource::Inline(v) => Ok(SecretString::new(v.clone())),
            SecretSource::Env { env } => std::env::var(env)
                .map(SecretString::new)
                .map_err(|_| invalid(key, format!("environment variable {env} is not set"))),
            SecretSource::File { file } => read_secret_file(file)
                .map_err(|e| invalid(key, format!("cannot read {}: {e}", file.display()))),
        }
    }
}

/// Reads a secret file, trimming the trailing newline editors add.
pub fn read_secret_file(path: &Path) -> std::io::Result<SecretString> {
    let text = std::fs::read_to_string(path)?;
    Ok(SecretString::new(text.trim_end_matches(['\n', '\r'])))
}

/// The whole configuration file, as written: the top-level keys.
///
/// ```yaml
/// defaults: {poll_interval: 30s}
/// clusters: [{name: dr-east, rest_url: 'https://broker-1:8090/kafka/v3'}]
/// source_clusters: []
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    /// `defaults`: settings every cluster inherits unless it sets them itself. Optional (every
    /// key in it has its own default).
    #[serde(default)]
    defaults: RawDefaults,
    /// `clusters`: the destination clusters to poll (where the links live). Required, at least
    /// one; each `name` must be unique. Each becomes one collection task and the
    /// `kafka_cluster` label of its series.
    clusters: Vec<RawCluster>,
    /// `source_clusters`: the links' source clusters, reached over the Kafka protocol for
    /// source watermarks, lag in seconds, offset-sync lag and the probe's producer. Optional
    /// (default: none, and then nothing source-side is measured); each `name` must be unique.
    #[serde(default)]
    source_clusters: Vec<kafka::RawSourceCluster>,
}

/// `defaults`: values every cluster inherits for the keys it does not set itself. Each key
/// here means the same as the cluster key of the same name in [`RawCluster`], and a bad value
/// is reported as `defaults.<key>`.
///
/// ```yaml
/// defaults: {poll_interval: 60s, request_timeout: 15s, partition_metrics: false}
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    /// Timeout of one REST request, and the default `request_timeout` of every `kafka`
    /// section (destination and source clusters). A duration (`500ms`, `10s`, `1m`; positive,
    /// at most 8760h). Default `10s`.
    request_timeout: Option<String>,
    /// Time between the starts of two collection cycles, ±10% jitter. A duration (positive,
    /// at most 8760h). Default `30s`.
    poll_interval: Option<String>,
    /// Whether per-partition series are exported. Default `true`.
    partition_metrics: Option<bool>,
    /// Per-link REST requests in flight in one cycle. 1 to 64; default 4.
    #[serde(default, deserialize_with = "whole_number")]
    max_concurrent_requests: Option<usize>,
    /// Read link configs every this many cycles. At least 1; default 10.
    #[serde(default, deserialize_with = "whole_number")]
    link_configs_every: Option<u32>,
    /// Largest REST response read, in bytes. 1024 to 4294967296 (4 GiB); default 67108864
    /// (64 MiB).
    #[serde(default, deserialize_with = "whole_number")]
    max_response_bytes: Option<u64>,
}

/// One destination cluster (an entry of `clusters`), as written: the REST API polled for its
/// links, mirror topics and link configs, and optionally its Kafka-side measurements.
///
/// ```yaml
/// clusters:
///   - name: dr-east
///     rest_url: https://broker-1:8090/kafka/v3
///     auth: {type: basic, username: exporter, password: {env: CLE_PASSWORD}}
///     mirror_topics: {exclude: ['.*-test']}
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    /// The `kafka_cluster` label of every series about this cluster. Required, non-empty,
    /// unique among `clusters`.
    name: String,
    /// REST API v3 base URL: `http://` or `https://`, ending in `/kafka/v3` (cp-server's
    /// embedded REST, Confluent Cloud) or `/v3` (REST Proxy); trailing `/` are trimmed. Must
    /// not contain `user:password@` (use `auth`). Required. Credentials are sent only to this
    /// URL's origin (redirects and `metadata.next` elsewhere fail the cycle with reason
    /// `cross_origin`). Examples: `https://broker-1:8090/kafka/v3`,
    /// `https://pkc-12345.us-east-1.aws.confluent.cloud:443/kafka/v3`.
    rest_url: String,
    /// Kafka cluster id used in the REST paths. Optional on Confluent Platform (default:
    /// discovered with `GET …/clusters`); required on Confluent Cloud (`lkc-…`). Empty means
    /// unset.
    #[serde(default)]
    cluster_id: Option<String>,
    /// `platform` or `cloud`. Default: `cloud` when `rest_url`'s host ends in
    /// `.confluent.cloud`, else `platform`. `cloud` requires `cluster_id`.
    #[serde(default)]
    flavour: Option<Flavour>,
    /// REST authentication; see [`RawAuth`]. Default: none (`{type: none}`).
    #[serde(default)]
    auth: Option<RawAuth>,
    /// TLS of the REST connection (`https` URLs); see [`RawTls`]. Default: system roots,
    /// no client certificate.
    #[serde(default)]
    tls: Option<RawTls>,
    /// Timeout of one REST request (also its connect timeout), and the default
    /// `request_timeout` of this cluster's `kafka` section. A duration (positive, at most
    /// 8760h). Default: `defaults.request_timeout`, else `10s`. A timeout fails the cycle
    /// (`clusterlink_collection_errors_total`).
    #[serde(default)]
    request_timeout: Option<String>,
    /// Time between the starts of two collection cycles, ±10% jitter (a cycle that overruns
    /// starts the next at once; throttling can lengthen the wait). A duration (positive, at
    /// most 8760h). Default: `defaults.poll_interval`, else `30s`. The Kafka-side
    /// measurements run after each cycle, so this paces them too.
    #[serde(default)]
    poll_interval: Option<String>,
    /// Which links to export, by link name; see [`RawFilter`]. Default: all.
    #[serde(default)]
    links: Option<RawFilter>,
    /// Which mirror topics to export, by mirror topic name; see [`RawFilter`]. Default: all.
    /// Also bounds the Kafka-side measurements (they cover the exported mirror topics).
    #[serde(default)]
    mirror_topics: Option<RawFilter>,
    /// Export per-partition series (`clusterlink_mirror_partition_*`). Default:
    /// `defaults.partition_metrics`, else `true`. `false`: only the per-topic aggregates,
    /// which cuts the series count by the number of partitions per topic.
    #[serde(default)]
    partition_metrics: Option<bool>,
    /// Per-link REST requests in flight in one cycle (each link's details with its tasks, and
    /// link configs), and the idle connections kept to the REST host. 1 to 64; default:
    /// `defaults.max_concurrent_requests`, else 4.
    #[serde(default, deserialize_with = "whole_number")]
    max_concurrent_requests: Option<usize>,
    /// Read each link's configs (`GET …/links/{link}/configs`) every this many cycles and use
    /// the cached ones in between (a new link is read at once). At least 1 (1: every cycle);
    /// default: `defaults.link_configs_every`, else 10. Affects how soon a config change shows
    /// in `clusterlink_link_info`'s config labels and in the offset-sync measurements (which
    /// groups, which prefix).
    #[serde(default, deserialize_with = "whole_number")]
    link_configs_every: Option<u32>,
    /// Largest REST response body read, in bytes; all pages of a list count together. 1024 to
    /// 4294967296 (4 GiB); default: `defaults.max_response_bytes`, else 67108864 (64 MiB,
    /// about 600,000 mirrored partitions). A larger response fails the cycle with reason
    /// `decode`.
    #[serde(default, deserialize_with = "whole_number")]
    max_response_bytes: Option<u64>,
    /// This (destination) cluster over the Kafka protocol; see [`kafka::RawKafka`]. Optional:
    /// without it no Kafka-side measurement (watermarks, measured lag, lag in seconds,
    /// offset-sync lag, probes) is made for this cluster.
    #[serde(default)]
    kafka: Option<kafka::RawKafka>,
    /// Lag in seconds settings; see [`kafka::RawLagSeconds`]. Default: enabled with the
    /// defaults listed there (it still needs `kafka` and the link's source cluster).
    #[serde(default)]
    lag_seconds: Option<kafka::RawLagSeconds>,
    /// Consumer offset-sync lag settings; see [`kafka::RawOffsetSync`]. Default: enabled,
    /// for the groups the link's own filters select.
    #[serde(default)]
    offset_sync: Option<kafka::RawOffsetSync>,
    /// End-to-end probes, at most one per link; see [`kafka::RawProbe`]. Default: none
    /// (probes are opt-in). Needs this cluster's `kafka` section.
    #[serde(default)]
    probes: Vec<kafka::RawProbe>,
}

/// `auth`: how REST requests authenticate, chosen by `type`. Default `{type: none}`.
///
/// ```yaml
/// auth: {type: basic, username: exporter, password: {env: CLE_PASSWORD}}
/// auth: {type: bearer, token_file: /run/oauth/token, identity_pool_id: pool-AbCd}
/// ```
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum RawAuth {
    /// `type: none`: no credentials.
    None,
    /// `type: basic`: HTTP Basic, with a Confluent Platform user or a Confluent Cloud API key
    /// and secret.
    Basic {
        /// User name or API key. Required, non-empty.
        username: String,
        /// Password or API secret: inline, `{env: VAR}` or `{file: PATH}` (trailing newline
        /// trimmed), resolved once at load. Required. Never logged.
        password: SecretSource,
    },
    /// `type: bearer`: `Authorization: Bearer <token>`. Exactly one of `token` and
    /// `token_file` is required.
    Bearer {
        /// A fixed token: inline, `{env: VAR}` or `{file: PATH}`, resolved once at load.
        #[serde(default)]
        token: Option<SecretSource>,
        /// A file holding the token (trailing newline trimmed), read at load to check it and
        /// re-read whenever its modification time changes: for tokens a sidecar refreshes.
        #[serde(default)]
        token_file: Option<PathBuf>,
        /// Confluent Cloud OAuth identity pool (`pool-…`), sent as the
        /// `Confluent-Identity-Pool-Id` header. Default: no header.
        #[serde(default)]
        identity_pool_id: Option<String>,
    },
}

/// `tls`: TLS of the REST connection (used for `https` URLs). Every file must be readable
/// at load.
///
/// ```yaml
/// tls: {ca_file: /etc/cle/ca.pem, cert_file: /etc/cle/client.pem, key_file: /etc/cle/client.key}
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    /// PEM CA bundle to trust in addition to the system roots. Default: system roots only.
    #[serde(default)]
    ca_file: Option<PathBuf>,
    /// PEM client certificate for mTLS. Goes with `key_file` (both or neither). Default: none.
    #[serde(default)]
    cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`. Goes with `cert_file`. Default: none.
    #[serde(default)]
    key_file: Option<PathBuf>,
    /// Skip server certificate verification. Default `false`; for tests only.
    #[serde(default)]
    insecure_skip_verify: bool,
}

/// `links` or `mirror_topics`: include/exclude lists of regexes on a name. Each regex is
/// anchored (`^(?:…)$`: it must match the whole name). A name passes when it matches some
/// `include` (or `include` is empty) and no `exclude`: exclude wins. Names that do not pass
/// get no series: a filtered-out link gets no per-link REST request, a filtered-out mirror
/// topic no Kafka-side read.
///
/// ```yaml
/// mirror_topics: {include: ['orders.*', clicks], exclude: ['.*-test']}
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFilter {
    /// Regexes of the names to export. Default: empty (every name).
    #[serde(default)]
    include: Vec<String>,
    /// Regexes of names to leave out, even when included. Default: empty (none).
    #[serde(default)]
    exclude: Vec<String>,
}

/// Which product serves the REST API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flavour {
    /// Confluent Platform (cp-server's embedded REST or REST Proxy): the cluster id can be
    /// discovered.
    Platform,
    /// Confluent Cloud: the `lkc-…` cluster id must be configured.
    Cloud,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The destination clusters (where the links live).
    pub clusters: Vec<ClusterConfig>,
    /// Source clusters of the links, for the Kafka-side measurements.
    pub source_clusters: Vec<SourceClusterConfig>,
}

/// Everything needed to poll one destination cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The `kafka_cluster` label of every series about this cluster. Unique.
    pub name: String,
    /// REST API base URL including `/kafka/v3` (cp-server: `https://broker:8090/kafka/v3`;
    /// Confluent Cloud: `https://pkc-xxxxx.region.provider.confluent.cloud:443/kafka/v3`).
    pub rest_url: String,
    /// Kafka cluster id. Omitted on Confluent Platform: discovered with
    /// `GET /kafka/v3/clusters`. Required on Confluent Cloud (`lkc-…`).
    pub cluster_id: Option<String>,
    /// `platform` or `cloud`; default: `cloud` when the URL's host ends in `.confluent.cloud`.
    pub flavour: Flavour,
    /// REST authentication.
    pub auth: Auth,
    /// TLS settings for `https` URLs.
    pub tls: TlsConfig,
    /// Timeout of one REST request (default 10s).
    pub request_timeout: Duration,
    /// Time between the starts of two collection cycles (default 30s; ±10% jitter).
    pub poll_interval: Duration,
    /// Which links to export (regexes on the link name, anchored).
    pub links: NameFilter,
    /// Which mirror topics to export (regexes on the mirror topic name, anchored).
    pub mirror_topics: NameFilter,
    /// Export per-partition series (default true). Off: only per-topic aggregates.
    pub partition_metrics: bool,
    /// Concurrent per-link REST requests in a cycle (default 4).
    pub max_concurrent_requests: usize,
    /// Link configs are read every this many cycles and cached in between (default 10).
    pub link_configs_every: u32,
    /// Largest REST response body read, in bytes (default [`DEFAULT_MAX_RESPONSE_BYTES`],
    /// [`MIN_RESPONSE_BYTES`] to [`MAX_RESPONSE_BYTES`]). A larger body fails the cycle with reason `decode`.
    pub max_response_bytes: u64,
    /// Kafka connection to this (destination) cluster: enables the Kafka-side measurements.
    pub kafka: Option<KafkaConfig>,
    /// Lag in seconds settings.
    pub lag_seconds: LagSecondsConfig,
    /// Consumer offset sync lag settings.
    pub offset_sync: OffsetSyncConfig,
    /// End-to-end probes, one per probed link.
    pub probes: Vec<ProbeConfig>,
}

/// REST authentication of one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// No credentials.
    None,
    /// HTTP Basic: a Confluent Platform user, or a Confluent Cloud API key and secret.
    Basic {
        username: String,
        password: SecretString,
    },
    /// `Authorization: Bearer`: a fixed token, or a token file re-read when it changes (for
    /// tokens refreshed by a sidecar). Confluent Cloud OAuth also needs `identity_pool_id`.
    Bearer {
        token: BearerToken,
        identity_pool_id: Option<String>,
    },
}

/// Where a bearer token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BearerToken {
    Value(SecretString),
    File(PathBuf),
}

/// TLS settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM CA bundle to trust (in addition to the system roots).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate for mTLS (with `key_file`).
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub key_file: Option<PathBuf>,
    /// Skip server certificate verification. For tests only.
    pub insecure_skip_verify: bool,
}

/// Include/exclude regexes; a name passes when it matches some include (or there is none) and
/// no exclude. Regexes are anchored (`^(?:…)$`).
#[derive(Debug, Clone, Default)]
pub struct NameFilter {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
}

impl NameFilter {
    pub fn allows(&self, name: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|r| r.is_match(name)))
            && !self.exclude.iter().any(|r| r.is_match(name))
    }

    fn from_raw(raw: Option<RawFilter>, key: &str) -> Result<Self, ConfigError> {
        let raw = raw.unwrap_or_default();
        let compile = |list: &[String], which: &str| {
            list.iter()
                .enumerate()
                .map(|(i, r)| {
                    Regex::new(&format!("^(?:{r})$")).map_err(|e| {
                        invalid(
                            format!("{key}.{which}[{i}]"),
                            format!(
                                "invalid regex: {}",
                                e.to_string().lines().last().unwrap_or("")
                            ),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self {
            include: compile(&raw.include, "include")?,
            exclude: compile(&raw.exclude, "exclude")?,
        })
    }
}

impl Config {
    /// Loads and validates a file, with environment overrides from the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        if !path.exists() {
            return Err(ConfigError::Read {
                path: path.display().to_string(),
                problem: "no such file".into(),
            });
        }
        let source = config::File::from(path).format(config::FileFormat::Yaml);
        Self::build(source, path.display().to_string())
    }

    /// Parses YAML text (environment overrides apply too).
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        Self::build(
            config::File::from_str(text, config::FileFormat::Yaml),
            "<inline>".into(),
        )
    }

    fn build<S>(source: S, origin: String) -> Result<Self, ConfigError>
    where
        S: config::Source + Send + Sync + 'static,
    {
        let merged = config::Config::builder()
            .add_source(source)
            .add_source(
                config::Environment::with_prefix(ENV_PREFIX)
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()
            .map_err(|e| ConfigError::Read {
                path: origin,
                problem: e.to_string(),
            })?;
        let raw: RawConfig = serde_path_to_error::deserialize(merged).map_err(|e| {
            let key = e.path().to_string();
            let problem = e.into_inner().to_string();
            // The config crate appends " for key `…`"; the path already names the key.
            let problem = problem
                .split(" for key `")
                .next()
                .unwrap_or_default()
                .to_owned();
            invalid(
                if key == "." {
                    "(top level)".into()
                } else {
                    key
                },
                problem,
            )
        })?;
        Self::validate(raw)
    }

    fn validate(raw: RawConfig) -> Result<Self, ConfigError> {
        if raw.clusters.is_empty() {
            return Err(invalid("clusters", "at least one cluster is required"));
        }
        let d = &raw.defaults;
        let duration =
            |value: &Option<String>, default: Option<&String>, key: &str, fallback| match value
                .as_ref()
                .or(default)
            {
                None => Ok(fallback),
                Some(s) => positive_duration(s, key),
            };
        let default_timeout = duration(
            &d.request_timeout,
            None,
            "defaults.request_timeout",
            Duration::from_secs(10),
        )?;
        let default_interval = duration(
            &d.poll_interval,
            None,
            "defaults.poll_interval",
            Duration::from_secs(30),
        )?;
        let mut names = std::collections::BTreeSet::new();
        let mut clusters = Vec::new();
        for (i, c) in raw.clusters.into_iter().enumerate() {
            let key = |k: &str| format!("clusters[{i}].{k}");
            if c.name.is_empty() {
                return Err(invalid(key("name"), "must not be empty"));
            }
            if !names.insert(c.name.clone()) {
                return Err(invalid(
                    key("name"),
                    format!("{:?} is used by another cluster", c.name),
                ));
            }
            let url = c.rest_url.trim_end_matches('/').to_owned();
            let authority = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"))
                .ok_or_else(|| invalid(key("rest_url"), "must start with http:// or https://"))?
                .split('/')
                .next()
                .unwrap_or("");
            if authority.contains('@') {
                // Credentials in a URL end up in logs and errors: keep them in `auth`.
                return Err(invalid(
                    key("rest_url"),
                    "must not contain credentials (user:password@); use auth",
                ));
            }
            let host = authority.split(':').next().unwrap_or("");
            if host.is_empty() {
                return Err(invalid(key("rest_url"), "has no host"));
            }
            if !url.ends_with("/v3") {
                return Err(invalid(
                    key("rest_url"),
                    "must end with the API base, /kafka/v3 (cp-server, Confluent Cloud) or /v3 (REST Proxy)",
                ));
            }
            let flavour = c.flavour.unwrap_or(if host.ends_with(".confluent.cloud") {
                Flavour::Cloud
            } else {
                Flavour::Platform
            });
            if flavour == Flavour::Cloud && c.cluster_id.as_deref().is_none_or(str::is_empty) {
                return Err(invalid(
                    key("cluster_id"),
                    "is required for Confluent Cloud (its REST API cannot list clusters): set the lkc-… id",
                ));
            }
            let auth = match c.auth {
                None | Some(RawAuth::None) => Auth::None,
                Some(RawAuth::Basic { username, password }) => {
                    if username.is_empty() {
                        return Err(invalid(key("auth.username"), "must not be empty"));
                    }
                    Auth::Basic {
                        username,
                        password: password.resolve(&key("auth.password"))?,
                    }
                }
                Some(RawAuth::Bearer {
                    token,
                    token_file,
                    identity_pool_id,
                }) => {
                    let token = match (token, token_file) {
                        (Some(t), None) => BearerToken::Value(t.resolve(&key("auth.token"))?),
                        (None, Some(f)) => {
                            read_secret_file(&f).map_err(|e| {
                                invalid(
                                    key("auth.token_file"),
                                    format!("cannot read {}: {e}", f.display()),
                                )
                            })?;
                            BearerToken::File(f)
                        }
                        _ => {
                            return Err(invalid(
                                key("auth"),
                                "bearer auth needs exactly one of token and token_file",
                            ))
                        }
                    };
                    Auth::Bearer {
                        token,
                        identity_pool_id,
                    }
                }
            };
            let raw_tls = c.tls.unwrap_or_default();
            for (k, f) in [
                ("tls.ca_file", &raw_tls.ca_file),
                ("tls.cert_file", &raw_tls.cert_file),
                ("tls.key_file", &raw_tls.key_file),
            ] {
                if let Some(f) = f {
                    if let Err(e) = std::fs::metadata(f) {
                        return Err(invalid(key(k), format!("cannot read {}: {e}", f.display())));
                    }
                }
            }
            if raw_tls.cert_file.is_some() != raw_tls.key_file.is_some() {
                return Err(invalid(
                    key("tls"),
                    "cert_file and key_file go together (mTLS client certificate and its key)",
                ));
            }
            // A bad value is reported under the key it was written at: here or in `defaults`.
            let at = |own: bool, name: &str| {
                if own {
                    key(name)
                } else {
                    format!("defaults.{name}")
                }
            };
            let max_concurrent_requests = c
                .max_concurrent_requests
                .or(d.max_concurrent_requests)
                .unwrap_or(4);
            if !(1..=64).contains(&max_concurrent_requests) {
                return Err(invalid(
                    at(
                        c.max_concurrent_requests.is_some(),
                        "max_concurrent_requests",
                    ),
                    "must be 1 to 64",
                ));
            }
            let link_configs_every = c.link_configs_every.or(d.link_configs_every).unwrap_or(10);
            if link_configs_every == 0 {
                return Err(invalid(
                    at(c.link_configs_every.is_some(), "link_configs_every"),
                    "must be at least 1",
                ));
            }
            let max_response_bytes = c
                .max_response_bytes
                .or(d.max_response_bytes)
                .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES);
            if !(MIN_RESPONSE_BYTES..=MAX_RESPONSE_BYTES).contains(&max_response_bytes) {
                return Err(invalid(
                    at(c.max_response_bytes.is_some(), "max_response_bytes"),
                    format!("must be {MIN_RESPONSE_BYTES} to {MAX_RESPONSE_BYTES} (bytes)"),
                ));
            }
            let request_timeout = duration(
                &c.request_timeout,
                None,
                &key("request_timeout"),
                default_timeout,
            )?;
            let poll_interval = duration(
                &c.poll_interval,
                None,
                &key("poll_interval"),
                default_interval,
            )?;
            let kafka = c
                .kafka
                .map(|k| KafkaConfig::from_raw(k, &key("kafka"), request_timeout))
                .transpose()?;
            let mut probes = Vec::new();
            for (p, raw) in c.probes.into_iter().enumerate() {
                let probe = kafka::probe_from_raw(raw, &key(&format!("probes[{p}]")))?;
                if kafka.is_none() {
                    return Err(invalid(
                        key(&format!("probes[{p}]")),
                        "a probe needs this cluster's kafka section (its consumer reads the mirror here)",
                    ));
                }
                if probes.iter().any(|q: &ProbeConfig| q.link == probe.link) {
                    return Err(invalid(
                        key(&format!("probes[{p}].link")),
                        format!("{:?} already has a probe", probe.link),
                    ));
                }
                probes.push(probe);
            }
            clusters.push(ClusterConfig {
                kafka,
                lag_seconds: kafka::lag_seconds_from_raw(c.lag_seconds, &key("lag_seconds"))?,
                offset_sync: kafka::offset_sync_from_raw(c.offset_sync, &key("offset_sync"))?,
                probes,
                links: NameFilter::from_raw(c.links, &key("links"))?,
                mirror_topics: NameFilter::from_raw(c.mirror_topics, &key("mirror_topics"))?,
                name: c.name,
                rest_url: url,
                cluster_id: c.cluster_id.filter(|s| !s.is_empty()),
                flavour,
                auth,
                tls: TlsConfig {
                    ca_file: raw_tls.ca_file,
                    cert_file: raw_tls.cert_file,
                    key_file: raw_tls.key_file,
                    insecure_skip_verify: raw_tls.insecure_skip_verify,
                },
                request_timeout,
                poll_interval,
                partition_metrics: c.partition_metrics.or(d.partition_metrics).unwrap_or(true),
                max_concurrent_requests,
                link_configs_every,
                max_response_bytes,
            });
        }
        let mut source_clusters: Vec<SourceClusterConfig> = Vec::new();
        for (i, raw) in raw.source_clusters.into_iter().enumerate() {
            let source = SourceClusterConfig::from_raw(raw, i, default_timeout)?;
            if source_clusters.iter().any(|s| s.name == source.name) {
                return Err(invalid(
                    format!("source_clusters[{i}].name"),
                    format!("{:?} is used by another source cluster", source.name),
                ));
            }
            source_clusters.push(source);
        }
        Ok(Config {
            clusters,
            source_clusters,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(yaml: &str) -> String {
        Config::from_yaml(yaml).unwrap_err().to_string()
    }

    #[test]
    fn whole_number_keys_are_strict() {
        let c = "clusters: [{name: a, rest_url: 'http://x/kafka/v3', ";
        assert_eq!(
            err(&format!("{c}max_concurrent_requests: -1}}]")),
            "config: clusters[0].max_concurrent_requests: invalid value: integer `-1`, expected a whole number"
        );
        assert_eq!(
            err(&format!("{c}link_configs_every: 99999999999}}]")),
            "config: clusters[0].link_configs_every: 99999999999 is too large"
        );
        assert_eq!(
            err(&format!("{c}kafka: {{bootstrap_servers: 'k:9092'}}, offset_sync: {{max_groups: 2.5}}}}]")),
            "config: clusters[0].offset_sync.max_groups: invalid type: floating point `2.5`, expected a whole number"
        );
        let ok = Config::from_yaml(&format!(
            "{c}max_concurrent_requests: 8, link_configs_every: ~}}]"
        ))
        .unwrap();
        assert_eq!(ok.clusters[0].max_concurrent_requests, 8);
        assert_eq!(ok.clusters[0].link_configs_every, 10);
    }

    #[test]
    fn minimal_platform_config_gets_defaults() {
        let c = Config::from_yaml("clusters: [{name: dr, rest_url: 'http://b:8090/kafka/v3/'}]")
            .unwrap();
        let c = &c.clusters[0];
        assert_eq!(c.rest_url, "http://b:8090/kafka/v3");
        assert_eq!(c.flavour, Flavour::Platform);
        assert_eq!(c.poll_interval, Duration::from_secs(30));
        assert_eq!(c.request_timeout, Duration::from_secs(10));
        assert!(c.partition_metrics);
        assert_eq!(c.auth, Auth::None);
        assert_eq!(c.max_response_bytes, DEFAULT_MAX_RESPONSE_BYTES);
        let c = Config::from_yaml(
            "defaults: {max_response_bytes: 2048}\nclusters: [{name: a, rest_url: 'http://b/kafka/v3'}, {name: b, rest_url: 'http://b/kafka/v3', max_response_bytes: 4096}]",
        )
        .unwrap();
        assert_eq!(c.clusters[0].max_response_bytes, 2048);
        assert_eq!(c.clusters[1].max_response_bytes, 4096);
    }

    #[test]
    fn each_bad_config_names_key_and_problem() {
        assert_eq!(
            err("clusters: []"),
            "config: clusters: at least one cluster is required"
        );
        assert_eq!(
            err("clusters: [{name: a, rest_url: 'ftp://x/kafka/v3'}]"),
            "config: clusters[0].rest_url: must start with http:// or https://"
        );
        assert_eq!(
            err("clusters: [{name: a, rest_url: 'https://pkc-1.us-east-1.aws.confluent.cloud:443/kafka/v3'}]"),
            "config: clusters[0].cluster_id: is required for Confluent Cloud (its REST API cannot list clusters): set the lkc-… id"
        );
        assert!(
            err("clusters: [{name: a, rest_url: 'http://x/kafka/v3', pol_interval: 3s}]")
                .starts_with("config: clusters[0].pol_interval: unknown field `pol_interval`, expected one of `name`")
        );
        assert_eq!(
            err("clusters: [{name: a, rest_url: 'http://x/kafka/v3', poll_interval: soon}]"),
            "config: clusters[0].poll_interval: expected a positive duration like 500ms, 30s or 5m, got \"soon\""
        );
        assert_eq!(
            err("clusters: [{name: a, rest_url: 'http://x/kafka/v3', poll_interval: 99999999999999999999h}]"),
            "config: clusters[0].poll_interval: \"99999999999999999999h\" is longer than the maximum duration, 365 days (8760h)"
        );
        assert_eq!(
            err("defaults: {request_timeout: 8761h}\nclusters: [{name: a, rest_url: 'http://x/kafka/v3'}]"),
            "config: defaults.request_timeout: \"8761h\" is longer than the maximum duration, 365 days (8760h)"
        );
        assert_eq!(
            err("clusters: [{name: a, rest_url: 'http://x/kafka/v3', max_response_bytes: 100}]"),
            "config: clusters[0].max_response_bytes: must be 1024 to 4294967296 (bytes)"
        );
        assert_eq!(
            err("defaults: {max_response_bytes: 1e30}\nclusters: [{name: a, rest_url: 'http://x/kafka/v3'}]"),
            "config: defaults.max_response_bytes: invalid type: floating point `1000000000000000000000000000000.0`, expected a whole number"
        );
        assert_eq!(
            err("defaults: {max_response_bytes: 4294967297}\nclusters: [{name: a, rest_url: 'http://x/kafka/v3'}]"),
            "config: defaults.max_response_bytes: must be 1024 to 4294967296 (bytes)"
        );
        assert_eq!(
            err("defaults: {link_configs_every: 0, max_concurrent_requests: 9}\nclusters: [{name: a, rest_url: 'http://x/kafka/v3', max_concurrent_requests: 2}]"),
            "config: defaults.link_configs_every: must be at least 1"
        );
        assert_eq!(
            err("defaults: {max_concurrent_requests: 99}\nclusters: [{name: a, rest_url: 'http://x/kafka/v3'}]"),
            "config: defaults.max_concurrent_requests: must be 1 to 64"
        );
        assert_eq!(
            err("clusters: [{name: a, rest_url: 'http://x/kafka/v3'}, {name: a, rest_url: 'http://y/kafka/v3'}]"),
            "config: clusters[1].name: \"a\" is used by another cluster"
        );
        assert_eq!(
            err("clusters: [{name: a, rest_url: 'http://x/kafka/v3', links: {include: ['(']}}]"),
            "config: clusters[0].links.include[0]: invalid regex: error: unclosed group"
        );
        assert_eq!(
            err("clusters: [{name: a, rest_url: 'http://x/kafka/v3', auth: {type: basic, username: u, password: {env: CLE_TEST_UNSET_VAR}}}]"),
            "config: clusters[0].auth.password: environment variable CLE_TEST_UNSET_VAR is not set"
        );
        assert_eq!(
            err("clusters: [{name: a, rest_url: 'http://x/kafka/v3', auth: {type: bearer}}]"),
            "config: clusters[0].auth: bearer auth needs exactly one of token and token_file"
        );
        assert_eq!(
            err("clusters: [{name: a, rest_url: 'http://x/kafka/v3', tls: {cert_file: /nonexistent.pem}}]"),
            "config: clusters[0].tls.cert_file: cannot read /nonexistent.pem: No such file or directory (os error 2)"
        );
        assert!(err(
            "clusters: [{name: a, rest_url: 'http://x/kafka/v3', auth: {type: kerberos}}]"
        )
        .starts_with("config: clusters[0].auth.type: unknown variant `kerberos`, expected one of `none`, `basic`, `bearer`"));
        assert_eq!(
            err("clusters: [{name: a, rest_url: 'https://u:p@x/kafka/v3'}]"),
            "config: clusters[0].rest_url: must not contain credentials (user:password@); use auth"
        );
        assert_eq!(
            err("clusters: [{name: a, rest_url: 'http://x/'}]"),
            "config: clusters[0].rest_url: must end with the API base, /kafka/v3 (cp-server, Confluent Cloud) or /v3 (REST Proxy)"
        );
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let c = Config::from_yaml(
            "clusters: [{name: a, rest_url: 'http://x/kafka/v3', auth: {type: basic, username: key, password: hunter2}}]",
        )
        .unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("key"));
        match &c.clusters[0].auth {
            Auth::Basic { password, .. } => assert_eq!(password.expose(), "hunter2"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn filters_are_anchored_and_exclude_wins() {
        let c = Config::from_yaml(
            "clusters: [{name: a, rest_url: 'http://x/kafka/v3', mirror_topics: {include: ['orders.*', 'clicks'], exclude: ['orders-test']}}]",
        )
        .unwrap();
        let f = &c.clusters[0].mirror_topics;
        assert!(f.allows("orders"));
        assert!(f.allows("orders-eu"));
        assert!(!f.allows("orders-test"));
        assert!(f.allows("clicks"));
        assert!(!f.allows("A_clicks"));
    }
}
