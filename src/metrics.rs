//! Metric rendering. Two parts make up `/metrics`:
//!
//! - the per-cluster link, task and mirror families, rendered once per collection cycle into a
//!   [`RenderedCluster`] (OpenMetrics sample lines grouped by family) — a scrape only
//!   concatenates them, family by family, so each family's `# HELP`/`# TYPE` appear once;
//! - the exporter's own metrics ([`ExporterMetrics`], a prometheus-client registry): build info,
//!   `up`, collection duration and time, errors by reason, REST requests by endpoint and status.
//!
//! Every family, its type and labels are listed in [`CLUSTER_FAMILIES`] and in
//! `docs/metrics.md`; a test keeps the two in agreement.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::rest_client::{config_value, LinkConfigData, LinkData, MirrorData, ERROR_REASONS};
use crate::supervise::WorkerLabels;

/// Known `link_state` values (others are exported with their raw value as well).
pub const LINK_STATES: [&str; 5] = ["ACTIVE", "FAILED", "UNAVAILABLE", "PAUSED", "UNKNOWN"];
/// Known `link_error` values.
pub const LINK_ERRORS: [&str; 7] = [
    "NO_ERROR",
    "UNKNOWN",
    "AUTHENTICATION_ERROR",
    "UNRESOLVABLE_BOOTSTRAP_ERROR",
    "INVALID_BOOTSTRAP_INTERNAL_ENDPOINT_ERROR",
    "BOOTSTRAP_TCP_CONNECTION_FAILED_ERROR",
    "TIMEOUT_ERROR",
];
/// Known link task states.
pub const TASK_STATES: [&str; 7] = [
    "UNKNOWN",
    "ACTIVE",
    "IN_ERROR",
    "NOT_CONFIGURED",
    "LINK_FAILED",
    "LINK_UNAVAILABLE",
    "LINK_PAUSED",
];
/// Known mirror topic states.
pub const MIRROR_STATES: [&str; 13] = [
    "ACTIVE",
    "FAILED",
    "PAUSED",
    "STOPPED",
    "PENDING_STOPPED",
    "PENDING_SYNCHRONIZE",
    "PENDING_MIRROR",
    "SOURCE_UNAVAILABLE",
    "LINK_FAILED",
    "LINK_PAUSED",
    "PENDING_SETUP_FOR_RESTORE",
    "PENDING_RESTORE",
    "UNKNOWN",
];

/// Known `state_category` values of Confluent Cloud's `category_counts` (others are exported
/// with their raw value as well).
pub const STATE_CATEGORIES: [&str; 5] =
    ["ACTIVE", "PAUSED", "IN_ERROR", "PENDING", "NOT_APPLICABLE"];

/// What a label says when the value is missing or empty.
pub const UNKNOWN_LABEL: &str = "unknown";

/// The one rule for label values: the value as reported, or [`UNKNOWN_LABEL`] when it is
/// missing or empty. [`SampleWriter::sample`] applies it to every label it writes; the state
/// families map an empty state to `UNKNOWN` (an empty link error to `NO_ERROR`) before that.
pub fn label_value(value: Option<&str>) -> &str {
    value.filter(|v| !v.is_empty()).unwrap_or(UNKNOWN_LABEL)
}

/// One per-cluster metric family.
#[derive(Debug, Clone, Copy)]
pub struct FamilyDef {
    pub name: &'static str,
    pub help: &'static str,
    /// Labels after `kafka_cluster`.
    pub labels: &'static [&'static str],
}

macro_rules! families {
    ($($id:ident = $name:literal [$($label:literal),*] $help:literal;)*) => {
        /// Indexes into [`CLUSTER_FAMILIES`].
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[derive(Clone, Copy, Debug)]
        #[repr(usize)]
        pub enum F { $($id,)* }
        /// Every per-cluster family, in output order. All are gauges.
        pub const CLUSTER_FAMILIES: &[FamilyDef] = &[
            $(FamilyDef { name: $name, help: $help, labels: &[$($label),*] },)*
        ];
    };
}

families! {
    LinkInfo = "clusterlink_link_info" ["link", "link_id", "source_cluster_id", "destination_cluster_id", "remote_cluster_id", "link_mode", "connection_mode", "consumer_offset_sync", "acl_sync", "auto_create_mirror_topics"]
        "Cluster link on this destination cluster: ids, mode and which sync features are enabled (always 1)";
    LinkState = "clusterlink_link_state" ["link", "state"]
        "Link state: 1 for the current state, 0 for the other known states; an unknown value is exported as its own state";
    LinkError = "clusterlink_link_error" ["link", "error"]
        "Link error: 1 for the current link_error (NO_ERROR when healthy or not reported), 0 for the other known errors";
    LinkTaskState = "clusterlink_link_task_state" ["link", "task", "state"]
        "Link task state: 1 for the current state, 0 for the other known states";
    LinkTaskErrors = "clusterlink_link_task_errors" ["link", "task"]
        "Number of errors the link task reports";
    LinkMirrorTopics = "clusterlink_link_mirror_topics" ["link", "state"]
        "Mirror topics of the link by mirror state (every known state written, 0 when none)";
    LinkMirrorPartitions = "clusterlink_link_mirror_partitions" ["link", "state_category"]
        "Mirror partitions of the link by state category, from Confluent Cloud's category_counts (every known category written, 0 when none; absent on Confluent Platform)";
    MirrorInfo = "clusterlink_mirror_topic_info" ["link", "mirror_topic", "source_topic"]
        "Mirror topic and the source topic it mirrors (always 1)";
    MirrorState = "clusterlink_mirror_topic_state" ["link", "mirror_topic", "state"]
        "Mirror topic state: 1 for the current state, 0 for the other known states";
    MirrorStateChange = "clusterlink_mirror_topic_state_change_timestamp_seconds" ["link", "mirror_topic"]
        "Time of the mirror topic's last state transition (Unix seconds)";
    MirrorPartitions = "clusterlink_mirror_topic_partitions" ["link", "mirror_topic"]
        "Number of partitions of the mirror topic";
    MirrorLag = "clusterlink_mirror_topic_lag_messages" ["link", "mirror_topic"]
        "Sum of the partition lags (messages) the REST API reports, over partitions whose lag is known";
    MirrorMaxLag = "clusterlink_mirror_topic_max_partition_lag_messages" ["link", "mirror_topic"]
        "Largest partition lag (messages) the REST API reports, over partitions whose lag is known";
    MirrorUnknownLag = "clusterlink_mirror_topic_unknown_lag_partitions" ["link", "mirror_topic"]
        "Partitions whose lag is unknown (never fetched: last_source_fetch_offset -1)";
    MirrorError = "clusterlink_mirror_topic_error" ["link", "mirror_topic", "error"]
        "Mirror topic error (only when not NO_ERROR; always 1)";
    PartitionLag = "clusterlink_mirror_partition_lag_messages" ["link", "mirror_topic", "partition"]
        "Partition lag in messages as the REST API reports it (absent while unknown)";
    PartitionFetchOffset = "clusterlink_mirror_partition_last_source_fetch_offset" ["link", "mirror_topic", "partition"]
        "Source offset of the last fetch for the partition (absent while never fetched)";
    // Kafka-side measurements (rendered by crate::kafka, not from REST).
    PartitionDestHwm = "clusterlink_mirror_partition_destination_high_watermark" ["link", "mirror_topic", "partition"]
        "High watermark of the mirror partition on the destination cluster, read over the Kafka protocol";
    PartitionSourceHwm = "clusterlink_mirror_partition_source_high_watermark" ["link", "mirror_topic", "partition"]
        "High watermark of the source partition on the source cluster, read over the Kafka protocol after the destination's";
    PartitionMeasuredLag = "clusterlink_mirror_partition_measured_lag_messages" ["link", "mirror_topic", "partition"]
        "Source high watermark minus destination high watermark (messages), measured over the Kafka protocol";
    PartitionLagSeconds = "clusterlink_mirror_partition_lag_seconds" ["link", "mirror_topic", "partition"]
        "Age of the oldest source record not yet on the destination (0 when caught up)";
    MirrorMeasuredLag = "clusterlink_mirror_topic_measured_lag_messages" ["link", "mirror_topic"]
        "Sum over partitions of the measured lag (source minus destination high watermark, messages)";
    MirrorMeasuredMaxLag = "clusterlink_mirror_topic_measured_max_partition_lag_messages" ["link", "mirror_topic"]
        "Largest measured partition lag of the mirror topic (messages)";
    MirrorLagSeconds = "clusterlink_mirror_topic_lag_seconds" ["link", "mirror_topic"]
        "Age of the oldest source record not yet on the destination, max over partitions (0 when caught up)";
    LinkLagSeconds = "clusterlink_link_lag_seconds" ["link"]
        "Largest lag in seconds over the link's measured mirror topics";
    OffsetSyncLag = "clusterlink_consumer_offset_sync_lag_messages" ["link", "consumer_group", "mirror_topic"]
        "Committed offset of the group on the source minus on the destination, summed over the mirror topic's partitions the group committed on the source (messages)";
}

/// Suffix of every per-cluster HELP text.
pub const HELP_SUFFIX: &str = " (from the last background collection).";

/// Everything one cycle read from a cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterData {
    pub links: Vec<LinkData>,
    /// Link name → its configs (possibly from an earlier cycle).
    pub configs: BTreeMap<String, Vec<LinkConfigData>>,
    pub mirrors: Vec<MirrorData>,
}

/// Pre-rendered sample lines of one cluster, one string per family of [`CLUSTER_FAMILIES`].
#[derive(Debug, Clone, Default)]
pub struct RenderedCluster {
    per_family: Vec<String>,
}

impl RenderedCluster {
    /// Total size of the rendered text.
    pub fn len(&self) -> usize {
        self.per_family.iter().map(String::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Escapes a label value for the exposition format.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Writes the sample lines of one cluster, family by family.
pub struct SampleWriter<'a> {
    out: Vec<String>,
    cluster: &'a str,
}

impl<'a> SampleWriter<'a> {
    pub fn new(cluster: &'a str) -> Self {
        Self {
            out: vec![String::new(); CLUSTER_FAMILIES.len()],
            cluster,
        }
    }

    pub fn finish(self) -> RenderedCluster {
        RenderedCluster {
            per_family: self.out,
        }
    }

    /// One sample; `values` are the family's labels after `kafka_cluster`, each written as
    /// [`label_value`] says (empty → `unknown`) and escaped.
    pub fn sample(&mut self, family: F, values: &[&str], value: f64) {
        let def = &CLUSTER_FAMILIES[family as usize];
        debug_assert_eq!(def.labels.len(), values.len(), "{}", def.name);
        let buf = &mut self.out[family as usize];
        let _ = write!(
            buf,
            "{}{{kafka_cluster=\"{}\"",
            def.name,
            escape(label_value(Some(self.cluster)))
        );
        for (label, v) in def.labels.iter().zip(values) {
            let _ = write!(buf, ",{label}=\"{}\"", escape(label_value(Some(v))));
        }
        if value.fract() == 0.0 && value.abs() < 1e15 {
            let _ = writeln!(buf, "}} {}", value as i64);
        } else {
            let _ = writeln!(buf, "}} {value}");
        }
    }

    /// A state family: every known value 0 or 1, plus the raw value when unknown.
    fn states(&mut self, family: F, prefix: &[&str], known: &[&str], current: &str) {
        let mut values: Vec<&str> = prefix.to_vec();
        values.push("");
        let last = values.len() - 1;
        for state in known {
            values[last] = state;
            self.sample(family, &values, f64::from(u8::from(*state == current)));
        }
        if !known.contains(&current) {
            values[last] = current;
            self.sample(family, &values, 1.0);
        }
    }
}

fn enabled(configs: Option<&Vec<LinkConfigData>>, name: &str) -> &'static str {
    match config_value(configs, name).filter(|v| !v.is_empty()) {
        Some(v) if v.eq_ignore_ascii_case("true") => "true",
        Some(_) => "false",
        None => UNKNOWN_LABEL,
    }
}

/// `clusterlink_link_mirror_partitions` of one link, when it reports `category_counts`: every
/// known category (0 when not listed), other categories by their raw value (empty →
/// `unknown`); negative counts count as 0, repeated categories are summed (saturating).
fn mirror_partitions(w: &mut SampleWriter, link: &LinkData) {
    let Some(categories) = &link.category_counts else {
        return;
    };
    let mut counts: BTreeMap<&str, u64> = STATE_CATEGORIES.iter().map(|c| (*c, 0)).collect();
    for c in categories {
        let count = counts
            .entry(label_value(Some(&c.state_category)))
            .or_default();
        *count = count.saturating_add(c.count.max(0).unsigned_abs());
    }
    for (category, count) in counts {
        w.sample(
            F::LinkMirrorPartitions,
            &[&link.link_name, category],
            count as f64,
        );
    }
}

/// Renders one cluster's link, task and mirror families.
pub fn render_cluster(
    cluster: &str,
    data: &ClusterData,
    partition_metrics: bool,
) -> RenderedCluster {
    let mut w = SampleWriter::new(cluster);
    let mut mirrors_by_link: BTreeMap<&str, Vec<&MirrorData>> = BTreeMap::new();
    for m in &data.mirrors {
        mirrors_by_link
            .entry(m.link_name.as_str())
            .or_default()
            .push(m);
    }
    for link in &data.links {
        let l = link.link_name.as_str();
        let configs = data.configs.get(l);
        w.sample(
            F::LinkInfo,
            &[
                l,
                label_value(
                    link.cluster_link_id
                        .as_deref()
                        .filter(|id| !id.is_empty())
                        .or(link.link_id.as_deref()),
                ),
                label_value(link.source_cluster_id.as_deref()),
                label_value(link.destination_cluster_id.as_deref()),
                label_value(link.remote_cluster_id.as_deref()),
                label_value(config_value(configs, "link.mode")),
                label_value(config_value(configs, "connection.mode")),
                enabled(configs, "consumer.offset.sync.enable"),
                enabled(configs, "acl.sync.enable"),
                enabled(configs, "auto.create.mirror.topics.enable"),
            ],
            1.0,
        );
        let state = link
            .link_state
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or("UNKNOWN");
        w.states(F::LinkState, &[l], &LINK_STATES, state);
        let error = link
            .link_error
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or("NO_ERROR");
        w.states(F::LinkError, &[l], &LINK_ERRORS, error);
        for task in link.tasks.iter().flatten() {
            let t = task.task_name.as_str();
            let state = task
                .state
                .as_deref()
                .filter(|s| !s.is_empty())
                .unwrap_or("UNKNOWN");
            w.states(F::LinkTaskState, &[l, t], &TASK_STATES, state);
            let errors = task
                .errors
                .iter()
                .filter(|e| e.error_code.as_deref().is_some_and(|c| c != "NO_ERROR"))
                .count();
            w.sample(F::LinkTaskErrors, &[l, t], errors as f64);
        }
        let mut counts: BTreeMap<&str, u64> = MIRROR_STATES.iter().map(|s| (*s, 0)).collect();
        for m in mirrors_by_link.get(l).into_iter().flatten() {
            let s = m
                .mirror_status
                .as_deref()
                .filter(|s| !s.is_empty())
                .unwrap_or("UNKNOWN");
            *counts.entry(s).or_default() += 1;
        }
        for (state, count) in counts {
            w.sample(F::LinkMirrorTopics, &[l, state], count as f64);
        }
        mirror_partitions(&mut w, link);
    }
    for m in &data.mirrors {
        let (l, t) = (m.link_name.as_str(), m.mirror_topic_name.as_str());
        w.sample(
            F::MirrorInfo,
            &[l, t, label_value(m.source_topic_name.as_deref())],
            1.0,
        );
        let state = m
            .mirror_status
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or("UNKNOWN");
        w.states(F::MirrorState, &[l, t], &MIRROR_STATES, state);
        if let Some(ms) = m.state_time_ms.filter(|ms| *ms > 0) {
            w.sample(F::MirrorStateChange, &[l, t], ms as f64 / 1000.0);
        }
        // A negative claim is no count: fall back to what the response lists.
        let partitions = m
            .num_partitions
            .filter(|n| *n >= 0)
            .unwrap_or(m.mirror_lags.len() as i64);
        w.sample(F::MirrorPartitions, &[l, t], partitions as f64);
        let known: Vec<_> = m
            .mirror_lags
            .iter()
            .filter(|p| p.last_source_fetch_offset >= 0)
            .collect();
        let unknown = m.mirror_lags.len() - known.len();
        // A negative REST lag (seen after a mirror restarts) counts as 0; sums saturate.
        w.sample(
            F::MirrorLag,
            &[l, t],
            known
                .iter()
                .fold(0i64, |sum, p| sum.saturating_add(p.lag.max(0))) as f64,
        );
        w.sample(
            F::MirrorMaxLag,
            &[l, t],
            known.iter().map(|p| p.lag.max(0)).max().unwrap_or(0) as f64,
        );
        w.sample(F::MirrorUnknownLag, &[l, t], unknown as f64);
        if let Some(e) = m
            .mirror_topic_error
            .as_deref()
            .filter(|e| !e.is_empty() && *e != "NO_ERROR" && *e != "NOT_SET")
        {
            w.sample(F::MirrorError, &[l, t, e], 1.0);
        }
        if partition_metrics {
            let mut lags: Vec<_> = known.clone();
            lags.sort_by_key(|p| p.partition);
            for p in lags {
                let partition = p.partition.to_string();
                w.sample(F::PartitionLag, &[l, t, &partition], p.lag.max(0) as f64);
                w.sample(
                    F::PartitionFetchOffset,
                    &[l, t, &partition],
                    p.last_source_fetch_offset as f64,
                );
            }
        }
    }
    w.finish()
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterLabels {
    pub kafka_cluster: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub kafka_cluster: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub kafka_cluster: String,
    pub endpoint: String,
    pub status: String,
}

/// One Kafka connection of a cluster's measurements.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KafkaConnectionLabels {
    pub kafka_cluster: String,
    /// The destination cluster's name, or the source cluster's name in `source_clusters`.
    pub connection: String,
    /// `destination` or `source`.
    pub role: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KafkaErrorLabels {
    pub kafka_cluster: String,
    pub connection: String,
    pub role: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KafkaRequestLabels {
    pub kafka_cluster: String,
    pub connection: String,
    /// Which of the exporter's clients sent it (`watermarks`, `lag_seconds`, `offset_sync`,
    /// `probe_producer`, `probe_consumer`).
    pub client: String,
    /// Kafka request type as librdkafka names it (`ListOffsets`, `Fetch`, `Metadata`, …).
    pub request: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProbeLabels {
    pub kafka_cluster: String,
    pub link: String,
}

/// The probe latency histograms: each probe has buckets derived from its own SLA, which a
/// `Family` (one constructor for all) cannot express, hence a collector.
#[derive(Debug, Default)]
pub struct ProbeHistograms {
    series: RwLock<Vec<(ProbeLabels, Arc<Histogram>)>>,
}

/// Bucket bounds of a probe's latency histogram, as fractions of its SLA.
pub const PROBE_BUCKET_FRACTIONS: [f64; 12] = [
    0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0,
];

impl ProbeHistograms {
    /// The histogram of a probe, created with buckets derived from `sla_seconds`.
    pub fn get_or_create(&self, labels: &ProbeLabels, sla_seconds: f64) -> Arc<Histogram> {
        let mut series = self.series.write().unwrap_or_else(|e| e.into_inner());
        if let Some((_, h)) = series.iter().find(|(l, _)| l == labels) {
            return h.clone();
        }
        let h = Arc::new(Histogram::new(
            // Rounded so that `le` reads 0.3, not 0.30000000000000004.
            PROBE_BUCKET_FRACTIONS
                .iter()
                .map(|f| (f * sla_seconds * 1e6).round() / 1e6),
        ));
        series.push((labels.clone(), h.clone()));
        h
    }
}

impl Collector for ProbeHistograms {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let series = self.series.read().unwrap_or_else(|e| e.into_inner());
        let mut family = encoder.encode_descriptor(
            "probe_latency_seconds",
            "Time from the probe record's send on the source to its receipt from the mirror on the destination; buckets are fractions of the probe's SLA",
            None,
            MetricType::Histogram,
        )?;
        for (labels, histogram) in series.iter() {
            histogram.encode(family.encode_family(labels)?)?;
        }
        Ok(())
    }
}

/// Counters and gauges of one probe.
#[derive(Debug, Default)]
pub struct ProbeMetrics {
    pub sent: Family<ProbeLabels, Counter>,
    pub send_failures: Family<ProbeLabels, Counter>,
    pub received: Family<ProbeLabels, Counter>,
    pub lost: Family<ProbeLabels, Counter>,
    pub last_received: Family<ProbeLabels, Gauge<f64, AtomicU64>>,
    pub sla: Family<ProbeLabels, Gauge<f64, AtomicU64>>,
    pub latency: Arc<ProbeHistograms>,
}

/// The exporter's metrics about its Kafka-side measurements.
#[derive(Debug, Default)]
pub struct KafkaMetrics {
    pub up: Family<KafkaConnectionLabels, Gauge>,
    pub errors: Family<KafkaErrorLabels, Counter>,
    pub requests: Family<KafkaRequestLabels, Counter>,
    pub duration: Family<ClusterLabels, Gauge<f64, AtomicU64>>,
    pub last_success: Family<ClusterLabels, Gauge<f64, AtomicU64>>,
    pub lag_reads: Family<ClusterLabels, Counter>,
    pub lag_unread: Family<ClusterLabels, Gauge>,
    pub cycles: Family<ClusterLabels, Counter>,
}

/// The exporter's metrics about its own HTTP server (label-less), updated by
/// [`crate::http::serve`].
#[derive(Debug, Default)]
pub struct HttpMetrics {
    /// `clusterlink_http_accept_errors_total`: failed `accept()` calls on the listening socket.
    pub accept_errors: Counter,
    /// `clusterlink_http_connections`: HTTP connections open now.
    pub connections: Gauge,
    /// `clusterlink_http_max_connections`: the `--web.max-connections` limit in force.
    pub max_connections: Gauge,
}

impl HttpMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "http_accept_errors",
            "Failed accepts of HTTP connections (e.g. out of file descriptors); accepting backs off while they last",
            self.accept_errors.clone(),
        );
        registry.register(
            "http_connections",
            "HTTP connections open now",
            self.connections.clone(),
        );
        registry.register(
            "http_max_connections",
            "Most HTTP connections open at once (--web.max-connections); more wait in the listen backlog",
            self.max_connections.clone(),
        );
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
    revision: String,
}

/// The exporter's own metrics, updated by the collectors and rendered at scrape time.
pub struct ExporterMetrics {
    registry: Registry,
    pub up: Family<ClusterLabels, Gauge>,
    pub collection_duration: Family<ClusterLabels, Gauge<f64, AtomicU64>>,
    pub last_success: Family<ClusterLabels, Gauge<f64, AtomicU64>>,
    pub errors: Family<ReasonLabels, Counter>,
    pub requests: Family<RequestLabels, Counter>,
    pub throttled: Family<ClusterLabels, Counter>,
    pub backoff: Family<ClusterLabels, Gauge<f64, AtomicU64>>,
    pub link_count: Family<ClusterLabels, Gauge>,
    /// Restarts of a cluster's workers after a panic or an unexpected exit (by
    /// [`crate::supervise`]).
    pub worker_restarts: Family<WorkerLabels, Counter>,
    pub kafka: KafkaMetrics,
    pub probe: ProbeMetrics,
    pub http: HttpMetrics,
}

impl std::fmt::Debug for ExporterMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExporterMetrics")
    }
}

/// The git revision the binary was built from (`CLUSTER_LINK_EXPORTER_REVISION` at build
/// time), or `unknown`.
pub const REVISION: &str = match option_env!("CLUSTER_LINK_EXPORTER_REVISION") {
    Some(r) => r,
    None => "unknown",
};

impl ExporterMetrics {
    pub fn new(clusters: &[String]) -> Self {
        let mut registry = Registry::with_prefix("clusterlink");
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").into(),
                revision: REVISION.into(),
            })
            .set(1);
        registry.register(
            "build_info",
            "Version and revision of the exporter (always 1)",
            build,
        );
        let m = Self {
            up: Family::default(),
            collection_duration: Family::default(),
            last_success: Family::default(),
            errors: Family::default(),
            requests: Family::default(),
            throttled: Family::default(),
            backoff: Family::default(),
            link_count: Family::default(),
            worker_restarts: Family::default(),
            kafka: KafkaMetrics::default(),
            probe: ProbeMetrics::default(),
            http: HttpMetrics::default(),
            registry: Registry::default(),
        };
        registry.register(
            "up",
            "1 when the last collection from the cluster's REST API succeeded, 0 otherwise",
            m.up.clone(),
        );
        registry.register(
            "scrape_duration_seconds",
            "Duration of the last background collection from the cluster",
            m.collection_duration.clone(),
        );
        registry.register(
            "last_successful_collection_timestamp_seconds",
            "Time of the last successful background collection (Unix seconds)",
            m.last_success.clone(),
        );
        registry.register(
            "collection_errors",
            "Failed collections by reason (timeout, connect, tls, auth, rate_limited, http_5xx, http_4xx, not_found, decode, cross_origin, other)",
            m.errors.clone(),
        );
        registry.register(
            "rest_requests",
            "REST requests sent to the cluster, by endpoint and HTTP status (0: no response)",
            m.requests.clone(),
        );
        registry.register(
            "rest_throttled",
            "REST responses with HTTP 429 (rate limited)",
            m.throttled.clone(),
        );
        registry.register(
            "backoff_seconds",
            "Current extra wait before the next collection after rate limiting (0 when none)",
            m.backoff.clone(),
        );
        registry.register(
            "links",
            "Links exported for the cluster (after include/exclude filters)",
            m.link_count.clone(),
        );
        registry.register(
            "exporter_worker_restarts",
            "Restarts of the cluster's workers (collector, measurer, probe) after a panic or an unexpected exit; each restart follows a back-off, and the cluster is down until the worker is back",
            m.worker_restarts.clone(),
        );
        m.http.register(&mut registry);
        let k = &m.kafka;
        registry.register(
            "kafka_up",
            "1 when the last Kafka-side measurement over this connection succeeded, 0 otherwise",
            k.up.clone(),
        );
        registry.register(
            "kafka_errors",
            "Failed Kafka-side requests by connection and reason (timeout, connect, auth, authorization, unknown_topic, unsupported, other)",
            k.errors.clone(),
        );
        registry.register(
            "kafka_requests",
            "Kafka requests the exporter's clients sent, by client and request type (from librdkafka statistics)",
            k.requests.clone(),
        );
        registry.register(
            "kafka_measurement_duration_seconds",
            "Duration of the last Kafka-side measurement cycle of the cluster",
            k.duration.clone(),
        );
        registry.register(
            "kafka_last_measurement_timestamp_seconds",
            "Time of the last Kafka-side measurement cycle that read the destination's watermarks (Unix seconds)",
            k.last_success.clone(),
        );
        registry.register(
            "kafka_measurements",
            "Kafka-side measurement cycles of the cluster, successful or not",
            k.cycles.clone(),
        );
        registry.register(
            "lag_seconds_records_read",
            "Source records read to measure lag in seconds (cache misses)",
            k.lag_reads.clone(),
        );
        registry.register(
            "lag_seconds_unread_partitions",
            "Lagging partitions whose lag in seconds was not read in the last cycle (read budget or timeout)",
            k.lag_unread.clone(),
        );
        let p = &m.probe;
        registry.register(
            "probe_records_sent",
            "Probe records the source cluster acknowledged",
            p.sent.clone(),
        );
        registry.register(
            "probe_send_failures",
            "Probe records the source cluster did not acknowledge",
            p.send_failures.clone(),
        );
        registry.register(
            "probe_records_received",
            "Probe records of this exporter read from the mirror on the destination",
            p.received.clone(),
        );
        registry.register(
            "probe_records_lost",
            "Probe records not received from the mirror within the SLA",
            p.lost.clone(),
        );
        registry.register(
            "probe_last_received_timestamp_seconds",
            "Time the last probe record was received from the mirror (Unix seconds)",
            p.last_received.clone(),
        );
        registry.register(
            "probe_sla_seconds",
            "The probe's configured SLA: records slower than this count as lost",
            p.sla.clone(),
        );
        registry.register_collector(Box::new(p.latency.clone()));
        for c in clusters {
            let labels = ClusterLabels {
                kafka_cluster: c.clone(),
            };
            m.up.get_or_create(&labels).set(0);
            m.throttled.get_or_create(&labels).inc_by(0);
            m.backoff.get_or_create(&labels).set(0.0);
            for reason in ERROR_REASONS {
                m.errors
                    .get_or_create(&ReasonLabels {
                        kafka_cluster: c.clone(),
                        reason: reason.into(),
                    })
                    .inc_by(0);
            }
        }
        Self { registry, ..m }
    }

    fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// Which collection a cluster's rendering comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// The REST collection (links, tasks, mirrors).
    Rest,
    /// The Kafka-side measurements.
    Kafka,
}

/// What `/metrics` serves: the exporter's metrics plus each cluster's latest rendering.
#[derive(Debug)]
pub struct Exposition {
    pub own: ExporterMetrics,
    clusters: RwLock<BTreeMap<(String, Part), Arc<RenderedCluster>>>,
}

impl Exposition {
    pub fn new(clusters: &[String]) -> Self {
        Self {
            own: ExporterMetrics::new(clusters),
            clusters: RwLock::new(BTreeMap::new()),
        }
    }

    /// Swaps in a cluster's new REST rendering (`None` withdraws its series).
    pub fn set_cluster(&self, cluster: &str, rendered: Option<RenderedCluster>) {
        self.set_part(cluster, Part::Rest, rendered);
    }

    /// Swaps in one part of a cluster's rendering (`None` withdraws its series).
    pub fn set_part(&self, cluster: &str, part: Part, rendered: Option<RenderedCluster>) {
        let mut map = self.clusters.write().unwrap_or_else(|e| e.into_inner());
        let key = (cluster.to_owned(), part);
        match rendered {
            Some(r) => map.insert(key, Arc::new(r)),
            None => map.remove(&key),
        };
    }

    /// The whole exposition text (OpenMetrics).
    pub fn render(&self) -> String {
        let snapshots: Vec<Arc<RenderedCluster>> = self
            .clusters
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        let own = self.own.encode();
        let own = own.strip_suffix("# EOF\n").unwrap_or(&own);
        let size: usize = snapshots.iter().map(|s| s.len()).sum::<usize>() + own.len() + 8192;
        let mut out = String::with_capacity(size);
        out.push_str(own);
        for (i, def) in CLUSTER_FAMILIES.iter().enumerate() {
            let _ = writeln!(out, "# HELP {} {}{HELP_SUFFIX}", def.name, def.help);
            let _ = writeln!(out, "# TYPE {} gauge", def.name);
            for s in &snapshots {
                out.push_str(&s.per_family[i]);
            }
        }
        out.push_str("# EOF\n");
        out
    }
}

/// Metric family names and types present in an exposition text (for tests and docs checks).
pub fn families_in(text: &str) -> BTreeSet<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| {
            let (name, kind) = l.split_once(' ')?;
            Some((name.to_owned(), kind.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest_client::{MirrorLagData, TaskData, TaskErrorData};

    fn data() -> ClusterData {
        ClusterData {
            links: vec![LinkData {
                link_name: "ab".into(),
                cluster_link_id: Some("id1".into()),
                source_cluster_id: Some("src".into()),
                link_state: Some("SOMETHING_NEW".into()),
                link_error: Some("".into()),
                tasks: Some(vec![TaskData {
                    task_name: "AclSync".into(),
                    state: Some("IN_ERROR".into()),
                    errors: vec![TaskErrorData {
                        error_code: Some("MISCONFIGURATION_ERROR".into()),
                        error_message: Some("x".into()),
                    }],
                }]),
                ..Default::default()
            }],
            configs: BTreeMap::from([(
                "ab".to_owned(),
                vec![LinkConfigData {
                    name: "consumer.offset.sync.enable".into(),
                    value: Some("true".into()),
                    is_sensitive: Some(false),
                }],
            )]),
            mirrors: vec![MirrorData {
                link_name: "ab".into(),
                mirror_topic_name: "t\"1".into(),
                source_topic_name: Some("t".into()),
                num_partitions: Some(3),
                mirror_lags: vec![
                    MirrorLagData {
                        partition: 2,
                        lag: 5,
                        last_source_fetch_offset: 10,
                    },
                    MirrorLagData {
                        partition: 0,
                        lag: 3,
                        last_source_fetch_offset: 7,
                    },
                    MirrorLagData {
                        partition: 1,
                        lag: 0,
                        last_source_fetch_offset: -1,
                    },
                ],
                mirror_status: Some("FAILED".into()),
                mirror_topic_error: Some("SOURCE_TOPIC_MAY_BE_DELETED".into()),
                state_time_ms: Some(1_700_000_000_500),
            }],
        }
    }

    fn render(partitions: bool) -> String {
        let e = Exposition::new(&["c1".to_owned()]);
        e.set_cluster("c1", Some(render_cluster("c1", &data(), partitions)));
        e.render()
    }

    #[test]
    fn states_write_every_known_value_and_the_unknown_one() {
        let text = render(true);
        assert!(text.contains(
            "clusterlink_link_state{kafka_cluster=\"c1\",link=\"ab\",state=\"ACTIVE\"} 0\n"
        ));
        assert!(text.contains(
            "clusterlink_link_state{kafka_cluster=\"c1\",link=\"ab\",state=\"SOMETHING_NEW\"} 1\n"
        ));
        assert!(text.contains(
            "clusterlink_link_error{kafka_cluster=\"c1\",link=\"ab\",error=\"NO_ERROR\"} 1\n"
        ));
        assert!(text.contains("clusterlink_link_task_state{kafka_cluster=\"c1\",link=\"ab\",task=\"AclSync\",state=\"IN_ERROR\"} 1\n"));
        assert!(text.contains(
            "clusterlink_link_task_errors{kafka_cluster=\"c1\",link=\"ab\",task=\"AclSync\"} 1\n"
        ));
        assert!(text.contains(
            "clusterlink_link_mirror_topics{kafka_cluster=\"c1\",link=\"ab\",state=\"FAILED\"} 1\n"
        ));
        assert!(text.contains("consumer_offset_sync=\"true\",acl_sync=\"unknown\""));
    }

    #[test]
    fn lags_skip_unknown_partitions_and_escape_labels() {
        let text = render(true);
        let topic = "mirror_topic=\"t\\\"1\"";
        assert!(text.contains(&format!(
            "clusterlink_mirror_topic_lag_messages{{kafka_cluster=\"c1\",link=\"ab\",{topic}}} 8\n"
        )));
        assert!(text.contains(&format!("clusterlink_mirror_topic_max_partition_lag_messages{{kafka_cluster=\"c1\",link=\"ab\",{topic}}} 5\n")));
        assert!(text.contains(&format!("clusterlink_mirror_topic_unknown_lag_partitions{{kafka_cluster=\"c1\",link=\"ab\",{topic}}} 1\n")));
        assert!(text.contains(&format!("clusterlink_mirror_topic_state_change_timestamp_seconds{{kafka_cluster=\"c1\",link=\"ab\",{topic}}} 1700000000.5\n")));
        assert!(text.contains("error=\"SOURCE_TOPIC_MAY_BE_DELETED\"} 1\n"));
        assert!(text.contains(&format!("clusterlink_mirror_partition_lag_messages{{kafka_cluster=\"c1\",link=\"ab\",{topic},partition=\"0\"}} 3\n")));
        assert!(
            !text.contains("partition=\"1\""),
            "unknown partition exported"
        );
        let without = render(false);
        assert!(!without.contains("clusterlink_mirror_partition_lag_messages{"));
    }

    /// The value of the one sample of `family` in `text` (with a trailing `{`).
    fn sample_value(text: &str, family: &str, labels: &str) -> f64 {
        let prefix = format!("{family}{{kafka_cluster=\"c1\",{labels}}} ");
        let line = text
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"));
        line[prefix.len()..].parse().unwrap()
    }

    #[test]
    fn extreme_and_negative_lags_saturate_and_never_export_negative() {
        let mut data = data();
        let lag = |partition, lag, last_source_fetch_offset| MirrorLagData {
            partition,
            lag,
            last_source_fetch_offset,
        };
        data.mirrors[0].num_partitions = Some(-3);
        data.mirrors[0].mirror_lags = vec![
            lag(0, i64::MAX, 1),
            lag(1, i64::MAX, i64::MAX),
            lag(2, i64::MIN, 5),
            // Seen in the field: a negative lag on a never-fetched partition.
            lag(3, -207, -1),
        ];
        let e = Exposition::new(&["c1".to_owned()]);
        e.set_cluster("c1", Some(render_cluster("c1", &data, true)));
        let text = e.render();
        let topic = "link=\"ab\",mirror_topic=\"t\\\"1\"";
        let sum = sample_value(&text, "clusterlink_mirror_topic_lag_messages", topic);
        assert_eq!(sum, i64::MAX as f64, "saturated, not wrapped");
        let partitions = sample_value(&text, "clusterlink_mirror_topic_partitions", topic);
        assert_eq!(
            partitions, 4.0,
            "a negative num_partitions falls back to the list"
        );
        let unknown = sample_value(
            &text,
            "clusterlink_mirror_topic_unknown_lag_partitions",
            topic,
        );
        assert_eq!(unknown, 1.0);
        let negative = sample_value(
            &text,
            "clusterlink_mirror_partition_lag_messages",
            &format!("{topic},partition=\"2\""),
        );
        assert_eq!(negative, 0.0, "a negative lag is exported as 0");
        assert!(
            !text.contains("partition=\"3\""),
            "unknown partition exported"
        );
        for line in text.lines().filter(|l| l.starts_with("clusterlink_mirror")) {
            let value: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
            assert!(value >= 0.0, "{line}");
        }
    }

    #[test]
    fn label_value_maps_missing_and_empty_to_unknown() {
        assert_eq!(label_value(None), UNKNOWN_LABEL);
        assert_eq!(label_value(Some("")), UNKNOWN_LABEL);
        assert_eq!(label_value(Some(" ")), " ");
        assert_eq!(label_value(Some("OUTBOUND")), "OUTBOUND");
    }

    /// The label values of `family`'s samples in `text`, by label name.
    fn labels_of(text: &str, family: &str) -> Vec<BTreeMap<String, String>> {
        text.lines()
            .filter_map(|l| l.strip_prefix(family)?.strip_prefix('{'))
            .map(|rest| {
                let inner = &rest[..rest.rfind('}').expect("closing brace")];
                inner
                    .split("\",")
                    .map(|kv| {
                        let (k, v) = kv.split_once("=\"").expect("label=\"value");
                        (k.to_owned(), v.trim_end_matches('"').to_owned())
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn empty_or_missing_label_values_say_unknown() {
        // As seen in the field: `connection.mode` with an empty value, no ids, an empty
        // `link.mode`, a task and a source topic without a name.
        let mut d = data();
        d.links[0].cluster_link_id = Some(String::new());
        d.links[0].source_cluster_id = None;
        d.links[0].tasks.as_mut().unwrap()[0].task_name = String::new();
        d.configs.get_mut("ab").unwrap().extend([
            LinkConfigData {
                name: "connection.mode".into(),
                value: Some(String::new()),
                is_sensitive: Some(false),
            },
            LinkConfigData {
                name: "link.mode".into(),
                value: None,
                is_sensitive: Some(false),
            },
            LinkConfigData {
                name: "acl.sync.enable".into(),
                value: Some(String::new()),
                is_sensitive: Some(false),
            },
        ]);
        d.mirrors[0].source_topic_name = Some(String::new());
        let e = Exposition::new(&["c1".to_owned()]);
        e.set_cluster("c1", Some(render_cluster("c1", &d, true)));
        let text = e.render();
        assert!(!text.contains("=\"\""), "an empty label value:\n{text}");
        let info = labels_of(&text, "clusterlink_link_info");
        assert_eq!(info.len(), 1);
        for label in [
            "link_id",
            "source_cluster_id",
            "destination_cluster_id",
            "remote_cluster_id",
            "link_mode",
            "connection_mode",
            "acl_sync",
            "auto_create_mirror_topics",
        ] {
            assert_eq!(info[0][label], UNKNOWN_LABEL, "{label}");
        }
        assert_eq!(info[0]["consumer_offset_sync"], "true");
        let tasks = labels_of(&text, "clusterlink_link_task_errors");
        assert_eq!(tasks[0]["task"], UNKNOWN_LABEL);
        let mirror = labels_of(&text, "clusterlink_mirror_topic_info");
        assert_eq!(mirror[0]["source_topic"], UNKNOWN_LABEL);
        // The state families keep their own convention for an empty value.
        assert!(text.contains("error=\"NO_ERROR\"} 1\n"));
    }

    /// `clusterlink_link_mirror_partitions` of a link parsed from `json`, by category.
    fn partitions_of(json: &str) -> BTreeMap<String, String> {
        let link: LinkData = serde_json::from_str(json).expect("the link parses");
        let d = ClusterData {
            links: vec![link],
            ..Default::default()
        };
        let e = Exposition::new(&["c1".to_owned()]);
        e.set_cluster("c1", Some(render_cluster("c1", &d, true)));
        let text = e.render();
        let mut out = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| l.starts_with("clusterlink_link_mirror_partitions{"))
        {
            let labels = &labels_of(line, "clusterlink_link_mirror_partitions")[0];
            assert_eq!(labels["link"], "l");
            let value = line.rsplit_once(' ').unwrap().1.to_owned();
            let category = labels["state_category"].clone();
            assert!(out.insert(category, value).is_none(), "repeated: {line}");
        }
        out
    }

    #[test]
    fn category_counts_by_state_category() {
        let counts = partitions_of(
            r#"{"link_name":"l","category_counts":[
                {"state_category":"ACTIVE","count":3},
                {"state_category":"IN_ERROR","count":2},
                {"state_category":"UNKNOWN","count":1},
                {"state_category":"IN_ERROR","count":1},
                {"state_category":"PAUSED","count":-4},
                {"state_category":"","count":2},
                {"state_category":"a\"b","count":9223372036854775807},
                {"state_category":"a\"b","count":9223372036854775807},
                {"state_category":"a\"b","count":9223372036854775807},
                {"state_category":5,"count":1},
                {"state_category":"PENDING","count":1.5},
                {"state_category":"PENDING","count":"7"},
                {"count":7},
                "junk"
            ]}"#,
        );
        let expected: BTreeMap<String, String> = [
            ("ACTIVE", "3"),
            ("IN_ERROR", "3"),
            ("PAUSED", "0"),
            ("PENDING", "0"),
            ("NOT_APPLICABLE", "0"),
            ("UNKNOWN", "1"),
            (UNKNOWN_LABEL, "2"),
            // Summed saturating; past 1e15 values are written as floats.
            ("a\\\"b", "18446744073709552000"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(counts, expected);
    }

    #[test]
    fn category_counts_zero_on_a_new_link_absent_when_not_reported() {
        let zeros = partitions_of(r#"{"link_name":"l","category_counts":[]}"#);
        assert_eq!(
            zeros.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            STATE_CATEGORIES.into_iter().collect()
        );
        assert!(zeros.values().all(|v| v == "0"), "{zeros:?}");
        for absent in [
            r#"{"link_name":"l"}"#,
            r#"{"link_name":"l","category_counts":null}"#,
            r#"{"link_name":"l","category_counts":{"ACTIVE":1}}"#,
            r#"{"link_name":"l","category_counts":"ACTIVE"}"#,
        ] {
            assert!(partitions_of(absent).is_empty(), "{absent}");
        }
    }

    #[test]
    fn each_family_header_appears_once_and_text_ends_with_eof() {
        let e = Exposition::new(&["a".to_owned(), "b".to_owned()]);
        e.set_cluster("a", Some(render_cluster("a", &data(), true)));
        e.set_cluster("b", Some(render_cluster("b", &data(), true)));
        let text = e.render();
        assert_eq!(
            text.matches("# TYPE clusterlink_link_state gauge").count(),
            1
        );
        assert_eq!(text.matches("# EOF").count(), 1);
        assert!(text.ends_with("# EOF\n"));
        assert!(text.contains("# TYPE clusterlink_collection_errors counter"));
        assert!(text.contains(
            "clusterlink_collection_errors_total{kafka_cluster=\"a\",reason=\"timeout\"} 0"
        ));
        assert!(text.contains("clusterlink_build_info{version=\""));
        e.set_cluster("a", None);
        assert!(!e.render().contains("kafka_cluster=\"a\",link="));
    }
}
