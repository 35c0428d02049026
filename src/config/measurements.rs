//! Settings of the Kafka-side measurements of a destination cluster: lag in seconds
//! (`lag_seconds`), consumer offset sync (`offset_sync`), writes to the old source after a
//! fail-over (`old_source_writes`), the source topics' partition counts and retention
//! (`source_topics`) and the end-to-end probes (`probes`):
//! their YAML keys, their validation and the validated types. Each needs the cluster's `kafka`
//! section and the link's source in `source_clusters`; what is not configured is not measured.

use std::sync::OnceLock;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;

use super::defaults::*;
use super::values::{anchored_regex, at, duration_or, whole_number};
use super::{invalid, ConfigError};

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
    /// Measure it. Default: [`DEFAULT_LAG_SECONDS_ENABLED`] (`true`; it is measured when both
    /// connections are configured).
    #[serde(default)]
    enabled: Option<bool>,
    /// Most source records read per cycle, most lagging partitions first (one record per
    /// lagging partition; results are cached by offset, so a stuck partition costs one read).
    /// At least 1 (use `enabled: false` to turn it off); default
    /// [`DEFAULT_MAX_READS_PER_CYCLE`] (500). Partitions left over
    /// count in `clusterlink_lag_seconds_unread_partitions`.
    #[serde(default, deserialize_with = "whole_number")]
    max_reads_per_cycle: Option<usize>,
    /// How long a cycle waits for the records it reads. A duration (positive, at most
    /// 8760h). Default: [`DEFAULT_READ_TIMEOUT`] (`5s`). Partitions not read in time count as
    /// unread.
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
    /// Measure it. Default: [`DEFAULT_OFFSET_SYNC_ENABLED`] (`true`).
    #[serde(default)]
    enabled: Option<bool>,
    /// Consumer groups to compare, by source name (the destination name gets the link's
    /// `cluster.link.prefix` when the link prefixes groups). Default: empty; when
    /// `group_pattern` is unset too, the groups are those the link's own
    /// `consumer.offset.group.filters` select. A group without a committed offset on the
    /// source for the mirror topics of the links that sync consumer offsets is reported
    /// (`clusterlink_config_reference_missing`, kind `consumer_group`; `check-config
    /// --connect`).
    #[serde(default)]
    groups: Vec<String>,
    /// Also every source group whose name matches this regex (anchored: the whole name).
    /// Needs the Kafka ListGroups API (`DESCRIBE` on the source cluster). Default: none.
    #[serde(default)]
    group_pattern: Option<String>,
    /// At most this many groups per link, the first ones by name; more are skipped with a
    /// warning. At least 1; default [`DEFAULT_MAX_GROUPS`] (50).
    #[serde(default, deserialize_with = "whole_number")]
    max_groups: Option<usize>,
}

/// `old_source_writes` of a cluster: after a mirror topic becomes `STOPPED` (promoted or
/// failed over), its source topic's high watermarks go on being read for `window` after the
/// stop (the mirror's REST `state_time_ms`), and the records written there since the stop are
/// exported: producers that were not switched to the new cluster. Needs the cluster's `kafka`
/// and the link's source in `source_clusters` (off without them); costs no extra request (the
/// partitions join the source's batched high-watermark `ListOffsets`). Affects
/// `clusterlink_mirror_topic_source_records_since_stop`.
///
/// ```yaml
/// old_source_writes: {window: 1h}
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOldSourceWrites {
    /// Watch them. Default: [`DEFAULT_OLD_SOURCE_WRITES_ENABLED`] (`true`).
    #[serde(default)]
    enabled: Option<bool>,
    /// How long after the stop the source topic is watched. A duration (positive, at most
    /// 8760h). Default: [`DEFAULT_OLD_SOURCE_WRITES_WINDOW`] (`3600s`, 1 hour).
    #[serde(default)]
    window: Option<String>,
}

/// `source_topics` of a cluster: facts of the source topic of each measured mirror topic, read
/// on the link's source cluster and cached: its partition count (one `Metadata` request for
/// all topics) and its `retention.ms` (one `DescribeConfigs` request for every source topic
/// of the cluster's mirror topics), per source cluster, at most once per `refresh_interval`
/// and again at once when the set of source topics or a mirror topic's partition count
/// changes. Needs the cluster's `kafka` and the link's source in `source_clusters` (off
/// without them); `retention.ms` needs `DESCRIBE_CONFIGS` on the source topics. Affects
/// `clusterlink_mirror_topic_source_partitions`,
/// `clusterlink_mirror_topic_unmirrored_partitions` and
/// `clusterlink_mirror_topic_source_retention_seconds`.
///
/// ```yaml
/// source_topics: {refresh_interval: 5m}
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSourceTopics {
    /// Read them. Default: [`DEFAULT_SOURCE_TOPICS_ENABLED`] (`true`).
    #[serde(default)]
    enabled: Option<bool>,
    /// How long the facts read are used before they are read again (unless the set of
    /// source topics or a mirror topic's partition count changed first). A duration
    /// (positive, at most 8760h). Default: [`DEFAULT_SOURCE_TOPICS_REFRESH_INTERVAL`]
    /// (`300s`, 5 minutes): partitions added at the source show within it.
    #[serde(default)]
    refresh_interval: Option<String>,
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
    /// The link to probe (the `link` label). Required, non-empty; one probe per link. A link
    /// the REST API does not list (or the `links` filter leaves out) starts no probe: it is a
    /// warning, `clusterlink_config_reference_missing` at 1 and a status page line, and
    /// `check-config --connect` names it.
    link: String,
    /// The probe topic on the source cluster: create it (one partition per broker is a good
    /// start); the link must mirror it. Required, non-empty.
    topic: String,
    /// Its mirror topic on this cluster. Default: the link's `cluster.link.prefix` + `topic`
    /// (empty means default). Checked like `link` (kind `mirror_topic`).
    #[serde(default)]
    mirror_topic: Option<String>,
    /// Time between two rounds of probe records, one per partition. A duration (positive, at
    /// most 8760h). Default: [`DEFAULT_PROBE_INTERVAL`] (`5s`).
    #[serde(default)]
    interval: Option<String>,
    /// A record not received within this time counts as lost
    /// (`clusterlink_probe_records_lost_total`); the latency histogram's buckets derive from
    /// it, and it is exported as `clusterlink_probe_sla_seconds`. A duration (positive, at most
    /// 8760h). Default: [`DEFAULT_PROBE_SLA`] (`30s`).
    #[serde(default)]
    sla: Option<String>,
    /// This exporter's id in probe records, so replicas can share one probe topic (each reads
    /// only its own records). Default: the host name (`HOSTNAME`, else `/etc/hostname`) plus a
    /// random suffix drawn once per process: the same across reloads, new at each start, so
    /// two replicas differ even on one host (empty means default).
    #[serde(default)]
    instance_id: Option<String>,
}

/// Lag in seconds (needs `kafka` on the cluster and the link's source cluster).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LagSecondsConfig {
    /// Measure it (default [`DEFAULT_LAG_SECONDS_ENABLED`]: true when both connections are
    /// configured).
    pub enabled: bool,
    /// Most source records read per cycle, most lagging partitions first (default
    /// [`DEFAULT_MAX_READS_PER_CYCLE`], 500). Results are cached by offset, so a stuck
    /// partition costs one read.
    pub max_reads_per_cycle: usize,
    /// How long a cycle waits for the records it reads (default [`DEFAULT_READ_TIMEOUT`], 5s).
    pub read_timeout: Duration,
}

impl Default for LagSecondsConfig {
    fn default() -> Self {
        Self {
            enabled: DEFAULT_LAG_SECONDS_ENABLED,
            max_reads_per_cycle: DEFAULT_MAX_READS_PER_CYCLE,
            read_timeout: DEFAULT_READ_TIMEOUT,
        }
    }
}

impl LagSecondsConfig {
    /// Validates `lag_seconds` at `key`; unset keys take the [`Default`].
    pub(super) fn from_raw(raw: Option<RawLagSeconds>, key: &str) -> Result<Self, ConfigError> {
        let raw = raw.unwrap_or_default();
        let d = Self::default();
        let max_reads_per_cycle = raw.max_reads_per_cycle.unwrap_or(d.max_reads_per_cycle);
        if max_reads_per_cycle == 0 {
            return Err(invalid(
                at(key, "max_reads_per_cycle"),
                "must be at least 1 (use enabled: false to turn lag in seconds off)",
            ));
        }
        Ok(Self {
            enabled: raw.enabled.unwrap_or(d.enabled),
            max_reads_per_cycle,
            read_timeout: duration_or(
                raw.read_timeout.as_deref(),
                &at(key, "read_timeout"),
                d.read_timeout,
            )?,
        })
    }
}

/// Writes to the old source after a fail-over (needs `kafka` on the cluster and the link's
/// source cluster).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OldSourceWritesConfig {
    /// Watch them (default [`DEFAULT_OLD_SOURCE_WRITES_ENABLED`], true).
    pub enabled: bool,
    /// How long after a mirror topic's stop its source topic is watched (default
    /// [`DEFAULT_OLD_SOURCE_WRITES_WINDOW`], 1 hour).
    pub window: Duration,
}

impl Default for OldSourceWritesConfig {
    fn default() -> Self {
        Self {
            enabled: DEFAULT_OLD_SOURCE_WRITES_ENABLED,
            window: DEFAULT_OLD_SOURCE_WRITES_WINDOW,
        }
    }
}

impl OldSourceWritesConfig {
    /// Validates `old_source_writes` at `key`; unset keys take the [`Default`].
    pub(super) fn from_raw(
        raw: Option<RawOldSourceWrites>,
        key: &str,
    ) -> Result<Self, ConfigError> {
        let raw = raw.unwrap_or_default();
        let d = Self::default();
        Ok(Self {
            enabled: raw.enabled.unwrap_or(d.enabled),
            window: duration_or(raw.window.as_deref(), &at(key, "window"), d.window)?,
        })
    }
}

/// Facts of the source topics (needs `kafka` on the cluster and the link's source cluster).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceTopicsConfig {
    /// Read them (default [`DEFAULT_SOURCE_TOPICS_ENABLED`], true).
    pub enabled: bool,
    /// How long the facts read are cached (default
    /// [`DEFAULT_SOURCE_TOPICS_REFRESH_INTERVAL`], 5 minutes).
    pub refresh_interval: Duration,
}

impl Default for SourceTopicsConfig {
    fn default() -> Self {
        Self {
            enabled: DEFAULT_SOURCE_TOPICS_ENABLED,
            refresh_interval: DEFAULT_SOURCE_TOPICS_REFRESH_INTERVAL,
        }
    }
}

impl SourceTopicsConfig {
    /// Validates `source_topics` at `key`; unset keys take the [`Default`].
    pub(super) fn from_raw(raw: Option<RawSourceTopics>, key: &str) -> Result<Self, ConfigError> {
        let raw = raw.unwrap_or_default();
        let d = Self::default();
        Ok(Self {
            enabled: raw.enabled.unwrap_or(d.enabled),
            refresh_interval: duration_or(
                raw.refresh_interval.as_deref(),
                &at(key, "refresh_interval"),
                d.refresh_interval,
            )?,
        })
    }
}

/// Consumer offset sync lag (needs `kafka` on the cluster and the link's source cluster, and
/// `consumer.offset.sync.enable=true` on the link).
#[derive(Clone, Debug)]
pub struct OffsetSyncConfig {
    /// Measure it (default [`DEFAULT_OFFSET_SYNC_ENABLED`], true).
    pub enabled: bool,
    /// Consumer groups to compare (source names; the destination name gets the link prefix
    /// when the link prefixes groups).
    pub groups: Vec<String>,
    /// Also every group whose name matches this regex (anchored); needs the Kafka ListGroups
    /// API on the source cluster.
    pub group_pattern: Option<Regex>,
    /// At most this many groups per link (default [`DEFAULT_MAX_GROUPS`], 50); more are
    /// skipped with a warning.
    pub max_groups: usize,
}

/// Equal when every field is, the pattern compared as text (a reload compares configurations).
impl PartialEq for OffsetSyncConfig {
    fn eq(&self, other: &Self) -> bool {
        self.enabled == other.enabled
            && self.groups == other.groups
            && self.max_groups == other.max_groups
            && self.group_pattern.as_ref().map(Regex::as_str)
                == other.group_pattern.as_ref().map(Regex::as_str)
    }
}

impl Default for OffsetSyncConfig {
    fn default() -> Self {
        Self {
            enabled: DEFAULT_OFFSET_SYNC_ENABLED,
            groups: Vec::new(),
            group_pattern: None,
            max_groups: DEFAULT_MAX_GROUPS,
        }
    }
}

impl OffsetSyncConfig {
    /// Whether neither `groups` nor `group_pattern` is set: the groups then come from the
    /// link's own `consumer.offset.group.filters`.
    pub fn follows_link_filters(&self) -> bool {
        self.groups.is_empty() && self.group_pattern.is_none()
    }

    /// Validates `offset_sync` at `key`; unset keys take the [`Default`].
    pub(super) fn from_raw(raw: Option<RawOffsetSync>, key: &str) -> Result<Self, ConfigError> {
        let raw = raw.unwrap_or_default();
        let d = Self::default();
        let group_pattern = raw
            .group_pattern
            .map(|p| anchored_regex(&p, &at(key, "group_pattern")))
            .transpose()?;
        let max_groups = raw.max_groups.unwrap_or(d.max_groups);
        if max_groups == 0 {
            return Err(invalid(at(key, "max_groups"), "must be at least 1"));
        }
        Ok(Self {
            enabled: raw.enabled.unwrap_or(d.enabled),
            groups: raw.groups,
            group_pattern,
            max_groups,
        })
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
    /// Time between two rounds of probe records, one per partition (default
    /// [`DEFAULT_PROBE_INTERVAL`], 5s).
    pub interval: Duration,
    /// A record not received within this time counts as lost; the latency histogram's buckets
    /// are derived from it (default [`DEFAULT_PROBE_SLA`], 30s).
    pub sla: Duration,
    /// This exporter's id in probe records, so replicas can share a topic (default: host name
    /// and a random suffix, drawn once per process).
    pub instance_id: String,
}

impl ProbeConfig {
    /// A probe of `link` through `topic` with the default mirror topic, interval, SLA and
    /// instance id (host name and a random suffix, the same for every call in this process).
    pub fn new(link: impl Into<String>, topic: impl Into<String>) -> Self {
        Self {
            link: link.into(),
            topic: topic.into(),
            mirror_topic: None,
            interval: DEFAULT_PROBE_INTERVAL,
            sla: DEFAULT_PROBE_SLA,
            instance_id: default_instance_id(),
        }
    }

    /// Validates the `probes[]` entry at `key`.
    fn from_raw(raw: RawProbe, key: &str) -> Result<Self, ConfigError> {
        if raw.link.is_empty() {
            return Err(invalid(at(key, "link"), "must not be empty"));
        }
        if raw.topic.is_empty() {
            return Err(invalid(at(key, "topic"), "must not be empty"));
        }
        let interval = duration_or(
            raw.interval.as_deref(),
            &at(key, "interval"),
            DEFAULT_PROBE_INTERVAL,
        )?;
        let sla = duration_or(raw.sla.as_deref(), &at(key, "sla"), DEFAULT_PROBE_SLA)?;
        Ok(Self {
            mirror_topic: raw.mirror_topic.filter(|s| !s.is_empty()),
            interval,
            sla,
            instance_id: raw
                .instance_id
                .filter(|s| !s.is_empty())
                .unwrap_or_else(default_instance_id),
            link: raw.link,
            topic: raw.topic,
        })
    }
}

/// Validates the `probes` of the cluster at `cluster_key`: each entry, at most one per link,
/// and only on a cluster with a `kafka` section (`has_kafka`).
pub(super) fn probes_from_raw(
    raw: Vec<RawProbe>,
    cluster_key: &str,
    has_kafka: bool,
) -> Result<Vec<ProbeConfig>, ConfigError> {
    let mut probes: Vec<ProbeConfig> = Vec::new();
    for (p, raw) in raw.into_iter().enumerate() {
        let key = at(cluster_key, &format!("probes[{p}]"));
        let probe = ProbeConfig::from_raw(raw, &key)?;
        if !has_kafka {
            return Err(invalid(
                key,
                "a probe needs this cluster's kafka section (its consumer reads the mirror here)",
            ));
        }
        if probes.iter().any(|q| q.link == probe.link) {
            let problem = format!("{:?} already has a probe", probe.link);
            return Err(invalid(at(&key, "link"), problem));
        }
        probes.push(probe);
    }
    Ok(probes)
}

/// Host name plus a random suffix, drawn once per process: a reload of an unchanged file
/// gives an unchanged probe (and cluster), two processes (replicas, even on one host) differ.
fn default_instance_id() -> String {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(draw_instance_id).clone()
}

/// A new default instance id: the host name and a random 24-bit suffix.
fn draw_instance_id() -> String {
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

    #[test]
    fn probes_and_measurement_settings() {
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
        assert_eq!(b.old_source_writes, OldSourceWritesConfig::default());
        assert_eq!(b.old_source_writes.window, Duration::from_secs(3600));
        assert_eq!(b.source_topics, SourceTopicsConfig::default());
        assert_eq!(b.source_topics.refresh_interval, Duration::from_secs(300));

        let e = Config::from_yaml(
            "clusters: [{name: b, rest_url: 'http://x/kafka/v3', probes: [{link: dr, topic: p}]}]",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "config: clusters[0].probes[0]: a probe needs this cluster's kafka section (its consumer reads the mirror here)");
    }

    #[test]
    fn bad_measurement_settings_name_their_key() {
        let err = |section: &str| {
            Config::from_yaml(&format!(
                "clusters: [{{name: b, rest_url: 'http://x/kafka/v3', kafka: {{bootstrap_servers: 'b:9092'}}, {section}}}]"
            ))
            .unwrap_err()
            .to_string()
        };
        assert_eq!(
            err("lag_seconds: {max_reads_per_cycle: 0}"),
            "config: clusters[0].lag_seconds.max_reads_per_cycle: must be at least 1 (use enabled: false to turn lag in seconds off)"
        );
        assert_eq!(
            err("old_source_writes: {window: 0s}"),
            "config: clusters[0].old_source_writes.window: expected a positive duration like 500ms, 30s or 5m, got \"0s\""
        );
        assert_eq!(
            err("source_topics: {refresh_interval: 0s}"),
            "config: clusters[0].source_topics.refresh_interval: expected a positive duration like 500ms, 30s or 5m, got \"0s\""
        );
        assert_eq!(
            err("source_topics: {enabled: true, retention: 1}"),
            "config: clusters[0].source_topics.retention: unknown field `retention`, expected `enabled` or `refresh_interval`"
        );
        assert_eq!(
            err("offset_sync: {max_groups: 0}"),
            "config: clusters[0].offset_sync.max_groups: must be at least 1"
        );
        assert_eq!(
            err("offset_sync: {group_pattern: '('}"),
            "config: clusters[0].offset_sync.group_pattern: invalid regex: error: unclosed group"
        );
        assert_eq!(
            err("probes: [{link: l, topic: p}, {link: l, topic: q}]"),
            "config: clusters[0].probes[1].link: \"l\" already has a probe"
        );
        assert_eq!(
            err("probes: [{link: '', topic: p}]"),
            "config: clusters[0].probes[0].link: must not be empty"
        );
    }

    #[test]
    fn the_default_instance_id_is_the_same_at_each_parse_of_one_process() {
        let yaml = "clusters: [{name: b, rest_url: 'http://x/kafka/v3', kafka: {bootstrap_servers: 'b:9092'}, probes: [{link: dr, topic: p}]}]";
        let first = Config::from_yaml(yaml).unwrap();
        let again = Config::from_yaml(yaml).unwrap();
        assert_eq!(first.clusters, again.clusters);
        assert_eq!(ProbeConfig::new("dr", "p"), first.clusters[0].probes[0]);
        let draws: std::collections::BTreeSet<String> =
            (0..8).map(|_| draw_instance_id()).collect();
        assert!(
            draws.len() > 1,
            "a new process draws a new suffix: {draws:?}"
        );
    }

    #[test]
    fn a_code_built_probe_has_the_yaml_defaults() {
        let c = Config::from_yaml(
            "clusters: [{name: b, rest_url: 'http://x/kafka/v3', kafka: {bootstrap_servers: 'b:9092'}, probes: [{link: dr, topic: p, instance_id: me}]}]",
        )
        .unwrap();
        let built = ProbeConfig {
            instance_id: "me".into(),
            ..ProbeConfig::new("dr", "p")
        };
        assert_eq!(c.clusters[0].probes, vec![built]);
    }
}
