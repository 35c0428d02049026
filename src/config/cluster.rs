//! One destination cluster: its YAML keys (`clusters[]`: `RawCluster` and the sections it
//! holds), their validation into [`ClusterConfig`], and the REST-side settings it carries
//! ([`Flavour`], [`Auth`], [`TlsConfig`], [`NameFilter`]).

use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;

use super::defaults::*;
use super::kafka::{self, KafkaConfig};
use super::measurements::{
    self, LagSecondsConfig, OffsetSyncConfig, OldSourceWritesConfig, ProbeConfig,
    SourceTopicsConfig,
};
use super::readiness::{self, FailoverReadinessConfig};
use super::secret::{read_secret_file, SecretSource, SecretString};
use super::values::{anchored_regex, at, check_tls_files, duration_or, whole_number, Inherited};
use super::{invalid, ConfigError, Defaults};

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
pub(super) struct RawCluster {
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
    /// unset. A wrong id fails every collection cycle with reason `cluster_not_found` (the
    /// warning and the status page name the ids the REST API serves); `check-config
    /// --connect` names them too. A cluster with a `kafka` section also checks that its
    /// brokers report this id (else `clusterlink_kafka_up 0`, reason `wrong_cluster`).
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
    /// 8760h). Default: `defaults.request_timeout`, else
    /// [`DEFAULT_REQUEST_TIMEOUT`] (`10s`). A timeout fails the cycle
    /// (`clusterlink_collection_errors_total`).
    #[serde(default)]
    request_timeout: Option<String>,
    /// Time between the starts of two collection cycles, ±10% jitter (a cycle that overruns
    /// starts the next at once; throttling can lengthen the wait). A duration (positive, at
    /// most 8760h). Default: `defaults.poll_interval`, else
    /// [`DEFAULT_POLL_INTERVAL`] (`30s`). The Kafka-side
    /// measurements run after each cycle, so this paces them too. While a source is in
    /// trouble (a link `UNAVAILABLE`, a mirror topic `SOURCE_UNAVAILABLE`, or the Kafka side
    /// unable to reach a source cluster) cycles start every 10 s when that is shorter, for
    /// at most the first 10 minutes of the trouble, so that an outage pages sooner.
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
    /// `defaults.partition_metrics`, else [`DEFAULT_PARTITION_METRICS`] (`true`). `false`: only the per-topic aggregates,
    /// which cuts the series count by the number of partitions per topic.
    #[serde(default)]
    partition_metrics: Option<bool>,
    /// Per-link REST requests in flight in one cycle (each link's details with its tasks, and
    /// link configs), and the idle connections kept to the REST host. [`MIN_CONCURRENT_REQUESTS`]
    /// to [`MAX_CONCURRENT_REQUESTS`] (1 to 64); default: `defaults.max_concurrent_requests`,
    /// else [`DEFAULT_MAX_CONCURRENT_REQUESTS`] (4).
    #[serde(default, deserialize_with = "whole_number")]
    max_concurrent_requests: Option<usize>,
    /// Read each link's configs (`GET …/links/{link}/configs`) every this many cycles and use
    /// the cached ones in between (a new link is read at once). At least 1 (1: every cycle);
    /// default: `defaults.link_configs_every`, else [`DEFAULT_LINK_CONFIGS_EVERY`] (10). Affects how soon a config change shows
    /// in `clusterlink_link_info`'s config labels and in the offset-sync measurements (which
    /// groups, which prefix).
    #[serde(default, deserialize_with = "whole_number")]
    link_configs_every: Option<u32>,
    /// Largest REST response body read, in bytes; all pages of a list count together. [`MIN_RESPONSE_BYTES`]
    /// to [`MAX_RESPONSE_BYTES`] (1024 to 4294967296, 4 GiB); default:
    /// `defaults.max_response_bytes`, else [`DEFAULT_MAX_RESPONSE_BYTES`] (67108864, 64 MiB,
    /// about 600,000 mirrored partitions). A larger response fails the cycle with reason
    /// `decode`.
    #[serde(default, deserialize_with = "whole_number")]
    max_response_bytes: Option<u64>,
    /// This (destination) cluster over the Kafka protocol; see [`kafka::RawKafka`]. Optional:
    /// without it no Kafka-side measurement (watermarks, measured lag, lag in seconds,
    /// offset-sync lag, probes) is made for this cluster.
    #[serde(default)]
    kafka: Option<kafka::RawKafka>,
    /// Lag in seconds settings; see [`measurements::RawLagSeconds`]. Default: enabled with the
    /// defaults listed there (it still needs `kafka` and the link's source cluster).
    #[serde(default)]
    lag_seconds: Option<measurements::RawLagSeconds>,
    /// Consumer offset-sync lag settings; see [`measurements::RawOffsetSync`]. Default: enabled,
    /// for the groups the link's own filters select.
    #[serde(default)]
    offset_sync: Option<measurements::RawOffsetSync>,
    /// Writes to the old source after a fail-over; see [`measurements::RawOldSourceWrites`].
    /// Default: enabled, for 1 hour after each mirror topic's stop (it still needs `kafka` and
    /// the link's source cluster).
    #[serde(default)]
    old_source_writes: Option<measurements::RawOldSourceWrites>,
    /// The source topics' partition counts and retention; see
    /// [`measurements::RawSourceTopics`]. Default: enabled, refreshed every 5 minutes (it
    /// still needs `kafka` and the link's source cluster).
    #[serde(default)]
    source_topics: Option<measurements::RawSourceTopics>,
    /// End-to-end probes, at most one per link; see [`measurements::RawProbe`]. Default: none
    /// (probes are opt-in). Needs this cluster's `kafka` section.
    #[serde(default)]
    probes: Vec<measurements::RawProbe>,
    /// Fail-over readiness of the links (RPO, offset-sync limit, per-link overrides); see
    /// [`readiness::RawFailoverReadiness`]. Default: `defaults.failover_readiness`, else an
    /// RPO of [`DEFAULT_RPO`] (`300s`) for every link.
    #[serde(default)]
    failover_readiness: Option<readiness::RawFailoverReadiness>,
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
    /// Regexes of the names to export. Default: empty (every name). A pattern that selects
    /// nothing is reported at run time (`clusterlink_config_reference_missing`, kind
    /// `link_filter` or `mirror_topic_filter`) and by `check-config --connect`.
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

impl Flavour {
    /// The flavour a `rest_url` host implies: `cloud` for `*.confluent.cloud`, else `platform`.
    fn of_host(host: &str) -> Self {
        if host.ends_with(".confluent.cloud") {
            Flavour::Cloud
        } else {
            Flavour::Platform
        }
    }
}

/// Everything needed to poll one destination cluster: a validated `clusters[]` entry, or one
/// built in code with [`ClusterConfig::platform`] / [`ClusterConfig::cloud`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// The `kafka_cluster` label of every series about this cluster. Unique.
    pub name: String,
    /// REST API base URL including `/kafka/v3` (cp-server: `https://broker:8090/kafka/v3`;
    /// Confluent Cloud: `https://pkc-xxxxx.region.provider.confluent.cloud:443/kafka/v3`),
    /// without a trailing `/`.
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
    /// Timeout of one REST request (default [`DEFAULT_REQUEST_TIMEOUT`], 10s).
    pub request_timeout: Duration,
    /// Time between the starts of two collection cycles, ±10% jitter (default
    /// [`DEFAULT_POLL_INTERVAL`], 30s).
    pub poll_interval: Duration,
    /// Which links to export (regexes on the link name, anchored).
    pub links: NameFilter,
    /// Which mirror topics to export (regexes on the mirror topic name, anchored).
    pub mirror_topics: NameFilter,
    /// Export per-partition series (default [`DEFAULT_PARTITION_METRICS`], true). Off: only
    /// per-topic aggregates.
    pub partition_metrics: bool,
    /// Concurrent per-link REST requests in a cycle (default
    /// [`DEFAULT_MAX_CONCURRENT_REQUESTS`], 4).
    pub max_concurrent_requests: usize,
    /// Link configs are read every this many cycles and cached in between (default
    /// [`DEFAULT_LINK_CONFIGS_EVERY`], 10).
    pub link_configs_every: u32,
    /// Largest REST response body read, in bytes (default [`DEFAULT_MAX_RESPONSE_BYTES`],
    /// [`MIN_RESPONSE_BYTES`] to [`MAX_RESPONSE_BYTES`]). A larger body fails the cycle with
    /// reason `decode`.
    pub max_response_bytes: u64,
    /// Kafka connection to this (destination) cluster: enables the Kafka-side measurements.
    pub kafka: Option<KafkaConfig>,
    /// Lag in seconds settings.
    pub lag_seconds: LagSecondsConfig,
    /// Consumer offset sync lag settings.
    pub offset_sync: OffsetSyncConfig,
    /// Writes to the old source after a fail-over.
    pub old_source_writes: OldSourceWritesConfig,
    /// The source topics' partition counts and retention.
    pub source_topics: SourceTopicsConfig,
    /// End-to-end probes, one per probed link.
    pub probes: Vec<ProbeConfig>,
    /// What each link needs to be ready to fail over (default: an RPO of [`DEFAULT_RPO`],
    /// 300s).
    pub failover_readiness: FailoverReadinessConfig,
}

/// REST authentication of one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// No credentials.
    None,
    /// HTTP Basic: a Confluent Platform user, or a Confluent Cloud API key and secret.
    Basic {
        /// User name or API key.
        username: String,
        /// Password or API secret.
        password: SecretString,
    },
    /// `Authorization: Bearer`: a fixed token, or a token file re-read when it changes (for
    /// tokens refreshed by a sidecar). Confluent Cloud OAuth also needs `identity_pool_id`.
    Bearer {
        /// Where the token comes from.
        token: BearerToken,
        /// Confluent Cloud identity pool (`pool-…`), sent as `Confluent-Identity-Pool-Id`.
        identity_pool_id: Option<String>,
    },
}

/// Where a bearer token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BearerToken {
    /// A fixed token, resolved once at load.
    Value(SecretString),
    /// A file holding the token, re-read whenever its modification time changes.
    File(PathBuf),
}

/// TLS settings of the REST connection.
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
/// no exclude. Regexes are anchored (`^(?:…)$`). The default allows every name.
#[derive(Debug, Clone, Default)]
pub struct NameFilter {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
}

/// Equal when the same patterns are given in the same order (a reload compares configurations).
impl PartialEq for NameFilter {
    fn eq(&self, other: &Self) -> bool {
        super::values::same_regexes(&self.include, &other.include)
            && super::values::same_regexes(&self.exclude, &other.exclude)
    }
}

impl NameFilter {
    /// Whether `name` passes: it matches some include (or there is none) and no exclude.
    pub fn allows(&self, name: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|r| r.is_match(name)))
            && !self.exclude.iter().any(|r| r.is_match(name))
    }

    /// The `include` patterns as written (without the anchors), in order.
    pub fn includes(&self) -> impl Iterator<Item = &str> {
        self.include.iter().map(|r| {
            let s = r.as_str();
            s.strip_prefix("^(?:")
                .and_then(|s| s.strip_suffix(")$"))
                .unwrap_or(s)
        })
    }

    /// Whether `name` matches the `include` pattern at `index` (anchored).
    pub fn include_matches(&self, index: usize, name: &str) -> bool {
        self.include.get(index).is_some_and(|r| r.is_match(name))
    }

    fn from_raw(raw: Option<RawFilter>, key: &str) -> Result<Self, ConfigError> {
        let raw = raw.unwrap_or_default();
        let compile = |list: &[String], which: &str| {
            list.iter()
                .enumerate()
                .map(|(i, r)| anchored_regex(r, &at(key, &format!("{which}[{i}]"))))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self {
            include: compile(&raw.include, "include")?,
            exclude: compile(&raw.exclude, "exclude")?,
        })
    }
}

impl ClusterConfig {
    /// A Confluent Platform cluster polled at `rest_url` (taken as given, not validated), with
    /// every other setting at its default: no auth, system TLS roots, all links and mirror
    /// topics, no Kafka-side measurements. For building a configuration in code:
    ///
    /// ```
    /// # use cluster_link_exporter::config::{ClusterConfig, Config};
    /// # use std::time::Duration;
    /// let config = Config {
    ///     clusters: vec![ClusterConfig {
    ///         poll_interval: Duration::from_secs(5),
    ///         ..ClusterConfig::platform("dr", "http://broker-1:8090/kafka/v3")
    ///     }],
    ///     ..Config::default()
    /// };
    /// # assert_eq!(config.clusters[0].name, "dr");
    /// ```
    pub fn platform(name: impl Into<String>, rest_url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            rest_url: rest_url.into(),
            cluster_id: None,
            flavour: Flavour::Platform,
            auth: Auth::None,
            tls: TlsConfig::default(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            poll_interval: DEFAULT_POLL_INTERVAL,
            links: NameFilter::default(),
            mirror_topics: NameFilter::default(),
            partition_metrics: DEFAULT_PARTITION_METRICS,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            link_configs_every: DEFAULT_LINK_CONFIGS_EVERY,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            kafka: None,
            lag_seconds: LagSecondsConfig::default(),
            offset_sync: OffsetSyncConfig::default(),
            old_source_writes: OldSourceWritesConfig::default(),
            source_topics: SourceTopicsConfig::default(),
            probes: Vec::new(),
            failover_readiness: FailoverReadinessConfig::default(),
        }
    }

    /// A Confluent Cloud cluster (`lkc-…` id `cluster_id`) polled at `rest_url`, every other
    /// setting as in [`ClusterConfig::platform`].
    pub fn cloud(
        name: impl Into<String>,
        rest_url: impl Into<String>,
        cluster_id: impl Into<String>,
    ) -> Self {
        Self {
            cluster_id: Some(cluster_id.into()),
            flavour: Flavour::Cloud,
            ..Self::platform(name, rest_url)
        }
    }

    /// Validates the `clusters[]` entry at `key` (`clusters[i]`); `names` holds the names
    /// of the entries before it.
    pub(super) fn from_raw(
        mut c: RawCluster,
        key: &str,
        defaults: &Defaults,
        names: &mut std::collections::BTreeSet<String>,
    ) -> Result<Self, ConfigError> {
        if c.name.is_empty() {
            return Err(invalid(at(key, "name"), "must not be empty"));
        }
        if !names.insert(c.name.clone()) {
            let problem = format!("{:?} is used by another cluster", c.name);
            return Err(invalid(at(key, "name"), problem));
        }
        let (rest_url, host) = rest_url(&c.rest_url, &at(key, "rest_url"))?;
        let flavour = flavour(c.flavour, &host, c.cluster_id.as_deref(), key)?;
        let auth = Auth::from_raw(c.auth.take(), &at(key, "auth"))?;
        let tls = TlsConfig::from_raw(c.tls.take(), &at(key, "tls"))?;
        let limits = RequestLimits::from_raw(&c, key, defaults)?;
        let request_timeout = duration_or(
            c.request_timeout.as_deref(),
            &at(key, "request_timeout"),
            defaults.request_timeout,
        )?;
        let poll_interval = duration_or(
            c.poll_interval.as_deref(),
            &at(key, "poll_interval"),
            defaults.poll_interval,
        )?;
        let kafka = c
            .kafka
            .map(|k| KafkaConfig::from_raw(k, &at(key, "kafka"), request_timeout))
            .transpose()?;
        Ok(ClusterConfig {
            probes: measurements::probes_from_raw(c.probes, key, kafka.is_some())?,
            kafka,
            lag_seconds: LagSecondsConfig::from_raw(c.lag_seconds, &at(key, "lag_seconds"))?,
            offset_sync: OffsetSyncConfig::from_raw(c.offset_sync, &at(key, "offset_sync"))?,
            old_source_writes: OldSourceWritesConfig::from_raw(
                c.old_source_writes,
                &at(key, "old_source_writes"),
            )?,
            source_topics: SourceTopicsConfig::from_raw(
                c.source_topics,
                &at(key, "source_topics"),
            )?,
            failover_readiness: FailoverReadinessConfig::from_raw(
                c.failover_readiness,
                &at(key, "failover_readiness"),
                defaults.failover_readiness,
            )?,
            links: NameFilter::from_raw(c.links, &at(key, "links"))?,
            mirror_topics: NameFilter::from_raw(c.mirror_topics, &at(key, "mirror_topics"))?,
            name: c.name,
            rest_url,
            cluster_id: c.cluster_id.filter(|s| !s.is_empty()),
            flavour,
            auth,
            tls,
            request_timeout,
            poll_interval,
            partition_metrics: c
                .partition_metrics
                .or(defaults.raw.partition_metrics)
                .unwrap_or(DEFAULT_PARTITION_METRICS),
            max_concurrent_requests: limits.max_concurrent_requests,
            link_configs_every: limits.link_configs_every,
            max_response_bytes: limits.max_response_bytes,
        })
    }
}

/// A `rest_url` checked (scheme, no credentials, a host, the API base) and without trailing
/// `/`, with its host.
fn rest_url(raw: &str, key: &str) -> Result<(String, String), ConfigError> {
    let url = raw.trim_end_matches('/').to_owned();
    let authority = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| invalid(key, "must start with http:// or https://"))?
        .split('/')
        .next()
        .unwrap_or("");
    if authority.contains('@') {
        // Credentials in a URL end up in logs and errors: keep them in `auth`.
        return Err(invalid(
            key,
            "must not contain credentials (user:password@); use auth",
        ));
    }
    let host = authority.split(':').next().unwrap_or("").to_owned();
    if host.is_empty() {
        return Err(invalid(key, "has no host"));
    }
    if !url.ends_with("/v3") {
        return Err(invalid(
            key,
            "must end with the API base, /kafka/v3 (cp-server, Confluent Cloud) or /v3 (REST Proxy)",
        ));
    }
    Ok((url, host))
}

/// The flavour as written, else the one `host` implies; `cloud` needs a `cluster_id`.
fn flavour(
    raw: Option<Flavour>,
    host: &str,
    cluster_id: Option<&str>,
    key: &str,
) -> Result<Flavour, ConfigError> {
    let flavour = raw.unwrap_or(Flavour::of_host(host));
    if flavour == Flavour::Cloud && cluster_id.is_none_or(str::is_empty) {
        return Err(invalid(
            at(key, "cluster_id"),
            "is required for Confluent Cloud (its REST API cannot list clusters): set the lkc-… id",
        ));
    }
    Ok(flavour)
}

/// The whole-number keys of a cluster that it may inherit from `defaults`, checked.
struct RequestLimits {
    max_concurrent_requests: usize,
    link_configs_every: u32,
    max_response_bytes: u64,
}

impl RequestLimits {
    fn from_raw(c: &RawCluster, key: &str, defaults: &Defaults) -> Result<Self, ConfigError> {
        let d = &defaults.raw;
        let max_concurrent_requests = Inherited::pick(
            c.max_concurrent_requests,
            d.max_concurrent_requests,
            DEFAULT_MAX_CONCURRENT_REQUESTS,
            key,
            "max_concurrent_requests",
        )
        .within(
            MIN_CONCURRENT_REQUESTS..=MAX_CONCURRENT_REQUESTS,
            format!("must be {MIN_CONCURRENT_REQUESTS} to {MAX_CONCURRENT_REQUESTS}"),
        )?;
        let link_configs_every = Inherited::pick(
            c.link_configs_every,
            d.link_configs_every,
            DEFAULT_LINK_CONFIGS_EVERY,
            key,
            "link_configs_every",
        )
        .within(1..=u32::MAX, "must be at least 1")?;
        let max_response_bytes = Inherited::pick(
            c.max_response_bytes,
            d.max_response_bytes,
            DEFAULT_MAX_RESPONSE_BYTES,
            key,
            "max_response_bytes",
        )
        .within(
            MIN_RESPONSE_BYTES..=MAX_RESPONSE_BYTES,
            format!("must be {MIN_RESPONSE_BYTES} to {MAX_RESPONSE_BYTES} (bytes)"),
        )?;
        Ok(Self {
            max_concurrent_requests,
            link_configs_every,
            max_response_bytes,
        })
    }
}

impl Auth {
    /// Validates `auth` at `key`, resolving its secrets.
    fn from_raw(raw: Option<RawAuth>, key: &str) -> Result<Self, ConfigError> {
        match raw {
            None | Some(RawAuth::None) => Ok(Auth::None),
            Some(RawAuth::Basic { username, password }) => {
                if username.is_empty() {
                    return Err(invalid(at(key, "username"), "must not be empty"));
                }
                Ok(Auth::Basic {
                    username,
                    password: password.resolve(&at(key, "password"))?,
                })
            }
            Some(RawAuth::Bearer {
                token,
                token_file,
                identity_pool_id,
            }) => Ok(Auth::Bearer {
                token: BearerToken::from_raw(token, token_file, key)?,
                identity_pool_id,
            }),
        }
    }
}

impl BearerToken {
    /// Exactly one of `token` and `token_file`; the file must be readable now.
    fn from_raw(
        token: Option<SecretSource>,
        token_file: Option<PathBuf>,
        key: &str,
    ) -> Result<Self, ConfigError> {
        match (token, token_file) {
            (Some(t), None) => Ok(BearerToken::Value(t.resolve(&at(key, "token"))?)),
            (None, Some(f)) => {
                read_secret_file(&f).map_err(|e| {
                    invalid(
                        at(key, "token_file"),
                        format!("cannot read {}: {e}", f.display()),
                    )
                })?;
                Ok(BearerToken::File(f))
            }
            _ => Err(invalid(
                key,
                "bearer auth needs exactly one of token and token_file",
            )),
        }
    }
}

impl TlsConfig {
    /// Validates `tls` at `key`: its files readable, `cert_file` with `key_file`.
    fn from_raw(raw: Option<RawTls>, key: &str) -> Result<Self, ConfigError> {
        let raw = raw.unwrap_or_default();
        check_tls_files(key, &raw.ca_file, &raw.cert_file, &raw.key_file)?;
        Ok(TlsConfig {
            ca_file: raw.ca_file,
            cert_file: raw.cert_file,
            key_file: raw.key_file,
            insecure_skip_verify: raw.insecure_skip_verify,
        })
    }
}
