//! The exporter's configuration: YAML file plus environment overrides, strictly parsed (unknown
//! keys are errors), validated before anything is served; every error names the key.
//!
//! Two layers of types:
//! - the YAML keys users write: `Raw*` serde types whose `///` field docs are the reference
//!   (default, unit, range, example, what the key affects), here and in [`cluster`],
//!   [`kafka`] and [`measurements`];
//! - the validated types the rest of the exporter reads: [`Config`], [`ClusterConfig`],
//!   [`KafkaConfig`], … built by `TryFrom<RawConfig> for Config` (every error naming the full
//!   key, e.g. `clusters[1].kafka.sasl.mechanism`) or in code ([`ClusterConfig::platform`],
//!   [`KafkaConfig::new`], [`ProbeConfig::new`], `Default`).
//!
//! Every default lives in [`defaults`]. Environment overrides use the prefix
//! `CLUSTER_LINK_EXPORTER__` and `__` between levels, e.g.
//! `CLUSTER_LINK_EXPORTER__DEFAULTS__POLL_INTERVAL=15s`. Secrets are given inline, as
//! `{env: VAR}` or as `{file: /path}`, and are held in [`SecretString`], whose `Debug` and
//! `Display` never show the value.
//!
//! This module builds no client: the REST client and the librdkafka clients are built from
//! these types by `rest_client` and `kafka::librdkafka` (which also checks at load that librdkafka
//! accepts every `kafka` section).

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

pub mod cluster;
pub mod defaults;
pub mod kafka;
pub mod measurements;
pub mod readiness;
mod secret;
mod status_page;
mod values;

pub use cluster::{Auth, BearerToken, ClusterConfig, Flavour, NameFilter, TlsConfig};
pub use defaults::{DEFAULT_MAX_RESPONSE_BYTES, MAX_RESPONSE_BYTES, MIN_RESPONSE_BYTES};
pub use kafka::{KafkaConfig, KafkaTls, SaslConfig, SecurityProtocol, SourceClusterConfig};
pub use measurements::{
    LagSecondsConfig, OffsetSyncConfig, OldSourceWritesConfig, ProbeConfig, SourceTopicsConfig,
};
pub use readiness::{FailoverReadinessConfig, LinkReadinessConfig};
pub use secret::{read_secret_file, SecretSource, SecretString};
pub use status_page::StatusPageConfig;

use defaults::{DEFAULT_POLL_INTERVAL, DEFAULT_REQUEST_TIMEOUT};
use values::{duration_or, whole_number};

/// Prefix of environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "CLUSTER_LINK_EXPORTER";

/// A configuration problem, naming the key. Its text is what `check-config` prints after
/// `error: `.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The file could not be read or is not YAML (or an environment override is malformed).
    #[error("config file {path}: {problem}")]
    Read {
        /// The file's path as given (`<inline>` for [`Config::from_yaml`]).
        path: String,
        /// What went wrong, as the YAML reader reports it.
        problem: String,
    },
    /// A key is unknown, missing or has a bad value.
    #[error("config: {key}: {problem}")]
    Invalid {
        /// The full key, e.g. `clusters[1].kafka.sasl.mechanism` (`(top level)` for the file
        /// itself).
        key: String,
        /// What is wrong with it; never contains a secret.
        problem: String,
    },
}

fn invalid(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        problem: problem.into(),
    }
}

/// The whole configuration file, as written: the top-level keys.
///
/// ```yaml
/// defaults: {poll_interval: 30s}
/// clusters: [{name: dr-east, rest_url: 'https://broker-1:8090/kafka/v3'}]
/// source_clusters: []
/// status_page: {runbook_base_url: 'https://wiki.example/cluster-link-runbooks.html'}
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
    clusters: Vec<cluster::RawCluster>,
    /// `source_clusters`: the links' source clusters, reached over the Kafka protocol for
    /// source watermarks, lag in seconds, offset-sync lag and the probe's producer. Optional
    /// (default: none, and then nothing source-side is measured); each `name` must be unique.
    #[serde(default)]
    source_clusters: Vec<kafka::RawSourceCluster>,
    /// `status_page`: the status page's settings (where its problems link to the runbooks);
    /// see [`status_page::RawStatusPage`]. Optional.
    #[serde(default)]
    status_page: status_page::RawStatusPage,
}

/// `defaults`: values every cluster inherits for the keys it does not set itself. Each key
/// here means the same as the cluster key of the same name in [`cluster::RawCluster`], and a
/// bad value is reported as `defaults.<key>`.
///
/// ```yaml
/// defaults: {poll_interval: 60s, request_timeout: 15s, partition_metrics: false}
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    /// Timeout of one REST request, and the default `request_timeout` of every `kafka`
    /// section (destination and source clusters). A duration (`500ms`, `10s`, `1m`; positive,
    /// at most 8760h). Default: [`DEFAULT_REQUEST_TIMEOUT`] (`10s`).
    request_timeout: Option<String>,
    /// Time between the starts of two collection cycles, ±10% jitter. A duration (positive,
    /// at most 8760h). Default: [`DEFAULT_POLL_INTERVAL`] (`30s`).
    poll_interval: Option<String>,
    /// Whether per-partition series are exported. Default:
    /// [`DEFAULT_PARTITION_METRICS`](defaults::DEFAULT_PARTITION_METRICS) (`true`).
    partition_metrics: Option<bool>,
    /// Per-link REST requests in flight in one cycle. 1 to 64; default
    /// [`DEFAULT_MAX_CONCURRENT_REQUESTS`](defaults::DEFAULT_MAX_CONCURRENT_REQUESTS) (4).
    #[serde(default, deserialize_with = "whole_number")]
    max_concurrent_requests: Option<usize>,
    /// Read link configs every this many cycles. At least 1; default
    /// [`DEFAULT_LINK_CONFIGS_EVERY`](defaults::DEFAULT_LINK_CONFIGS_EVERY) (10).
    #[serde(default, deserialize_with = "whole_number")]
    link_configs_every: Option<u32>,
    /// Largest REST response read, in bytes. [`MIN_RESPONSE_BYTES`] to [`MAX_RESPONSE_BYTES`]
    /// (1024 to 4294967296, 4 GiB); default [`DEFAULT_MAX_RESPONSE_BYTES`] (67108864, 64 MiB).
    #[serde(default, deserialize_with = "whole_number")]
    max_response_bytes: Option<u64>,
    /// Fail-over readiness: `rpo` and `max_offset_sync_lag_messages` (not `links`); see
    /// [`readiness::RawFailoverReadiness`]. Default: an RPO of
    /// [`DEFAULT_RPO`](defaults::DEFAULT_RPO) (`300s`), no offset-sync limit.
    #[serde(default)]
    failover_readiness: Option<readiness::RawFailoverReadiness>,
}

/// `defaults` as the clusters inherit it: the durations checked up front, the whole numbers
/// as written (each is checked, and reported as `defaults.<key>`, where a cluster inherits it).
struct Defaults {
    raw: RawDefaults,
    request_timeout: Duration,
    poll_interval: Duration,
    failover_readiness: LinkReadinessConfig,
}

impl Defaults {
    fn from_raw(mut raw: RawDefaults) -> Result<Self, ConfigError> {
        let request_timeout = duration_or(
            raw.request_timeout.as_deref(),
            "defaults.request_timeout",
            DEFAULT_REQUEST_TIMEOUT,
        )?;
        let poll_interval = duration_or(
            raw.poll_interval.as_deref(),
            "defaults.poll_interval",
            DEFAULT_POLL_INTERVAL,
        )?;
        let failover_readiness =
            FailoverReadinessConfig::defaults_from_raw(raw.failover_readiness.take())?;
        Ok(Self {
            raw,
            request_timeout,
            poll_interval,
            failover_readiness,
        })
    }
}

/// The validated configuration. Built from YAML ([`Config::load`], [`Config::from_yaml`]) or
/// in code: `Config { clusters: vec![ClusterConfig::platform("A", url)], ..Config::default() }`
/// (the default has no cluster; code-built values are not validated).
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The destination clusters (where the links live).
    pub clusters: Vec<ClusterConfig>,
    /// Source clusters of the links, for the Kafka-side measurements.
    pub source_clusters: Vec<SourceClusterConfig>,
    /// The status page's settings.
    pub status_page: StatusPageConfig,
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
            let inner = e.into_inner();
            if let config::ConfigError::NotFound(field) = &inner {
                // The config crate glues the path to the field without a dot
                // ("clusters[0]rest_url"); name the key once, as every other error does.
                let name = field.rsplit(['.', ']']).next().unwrap_or(field);
                return missing(&key, name);
            }
            let problem = inner.to_string();
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
        Self::try_from(raw)
    }
}

/// A required key absent under `parent` (a path such as `clusters[0].auth`, or `.` at the top).
fn missing(parent: &str, name: &str) -> ConfigError {
    let key = if parent == "." || parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    };
    invalid(key, "required")
}

impl TryFrom<RawConfig> for Config {
    type Error = ConfigError;

    /// Validates the file: at least one cluster, unique names, every key checked in the order
    /// written; the first problem is the error.
    fn try_from(raw: RawConfig) -> Result<Self, ConfigError> {
        if raw.clusters.is_empty() {
            return Err(invalid("clusters", "at least one cluster is required"));
        }
        let defaults = Defaults::from_raw(raw.defaults)?;
        let mut names = std::collections::BTreeSet::new();
        let mut clusters = Vec::new();
        for (i, c) in raw.clusters.into_iter().enumerate() {
            let key = format!("clusters[{i}]");
            clusters.push(ClusterConfig::from_raw(c, &key, &defaults, &mut names)?);
        }
        let mut source_clusters: Vec<SourceClusterConfig> = Vec::new();
        for (i, raw) in raw.source_clusters.into_iter().enumerate() {
            let source = SourceClusterConfig::from_raw(raw, i, defaults.request_timeout)?;
            if source_clusters.iter().any(|s| s.name == source.name) {
                return Err(invalid(
                    format!("source_clusters[{i}].name"),
                    format!("{:?} is used by another source cluster", source.name),
                ));
            }
            source_clusters.push(source);
        }
        let status_page = StatusPageConfig::from_raw(raw.status_page)?;
        Ok(Config {
            clusters,
            source_clusters,
            status_page,
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
    fn a_code_built_cluster_has_the_yaml_defaults() {
        let url = "http://b:8090/kafka/v3";
        let yaml =
            Config::from_yaml(&format!("clusters: [{{name: dr, rest_url: '{url}'}}]")).unwrap();
        // Regexes and secrets have no `PartialEq`; `Debug` shows every field.
        assert_eq!(
            format!("{:?}", yaml.clusters[0]),
            format!("{:?}", ClusterConfig::platform("dr", url))
        );
        let url = "https://pkc-1.us-east-1.aws.confluent.cloud:443/kafka/v3";
        let yaml = Config::from_yaml(&format!(
            "clusters: [{{name: c, rest_url: '{url}', cluster_id: lkc-1}}]"
        ))
        .unwrap();
        assert_eq!(
            format!("{:?}", yaml.clusters[0]),
            format!("{:?}", ClusterConfig::cloud("c", url, "lkc-1"))
        );
    }

    #[test]
    fn a_missing_required_key_is_named_once() {
        assert_eq!(
            err("clusters: [{name: a}]"),
            "config: clusters[0].rest_url: required"
        );
        assert_eq!(
            err("clusters: [{name: a, rest_url: 'http://x/kafka/v3', auth: {type: basic, username: u}}]"),
            "config: clusters[0].auth.password: required"
        );
        assert_eq!(
            err("clusters: [{name: a, rest_url: 'http://x/kafka/v3', kafka: {}}]"),
            "config: clusters[0].kafka.bootstrap_servers: required"
        );
        assert_eq!(err("defaults: {}"), "config: clusters: required");
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
