//! The Kafka side's self-metrics, registered by the component that records them, with their
//! label sets: [`KafkaMetrics`] (measurer: connections up, errors by connection and reason,
//! requests by client and request type, cycles, cycle duration and time, lag-in-seconds
//! records read and partitions left unread) and [`ProbeMetrics`] (probe: records sent,
//! failed, received, lost, last receipt, SLA, and a latency histogram whose buckets follow
//! each probe's SLA, [`ProbeHistograms`]).
//!
//! Both own their per-cluster series' life ([`ClusterSeries`]): the gauges go when a
//! cluster's measurer stops, everything goes when a reload removes the cluster. Families
//! whose labels go beyond the cluster (connection, request type, link) are
//! [`ClusterFamily`]s. The status data written beside them (connections' last errors, the
//! probes' last latency) is in [`crate::status::StatusStore`], not here.

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

use super::{ClientKind, KafkaErrorReason, Role};
use crate::reload::ClusterSetup;
use crate::series::{ClusterFamily, ClusterSeries, OfCluster};
use crate::util::{read_lock, write_lock, ClusterLabels};

/// One Kafka connection of a cluster's measurements.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct KafkaConnectionLabels {
    /// The destination cluster measured.
    pub(crate) kafka_cluster: String,
    /// The destination cluster's name, or the source cluster's name in `source_clusters`.
    pub(crate) connection: String,
    /// Which side of the link the connection is.
    pub(crate) role: Role,
}

impl OfCluster for KafkaConnectionLabels {
    fn kafka_cluster(&self) -> &str {
        &self.kafka_cluster
    }
}

/// Labels of `clusterlink_kafka_errors_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct KafkaErrorLabels {
    /// The destination cluster measured.
    pub(crate) kafka_cluster: String,
    /// The connection's name.
    pub(crate) connection: String,
    /// Which side of the link the connection is.
    pub(crate) role: Role,
    /// Why the request failed.
    pub(crate) reason: KafkaErrorReason,
}

impl OfCluster for KafkaErrorLabels {
    fn kafka_cluster(&self) -> &str {
        &self.kafka_cluster
    }
}

/// Labels of `clusterlink_kafka_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct KafkaRequestLabels {
    /// The destination cluster measured.
    pub(crate) kafka_cluster: String,
    /// The connection's name.
    pub(crate) connection: String,
    /// Which of the exporter's clients sent it.
    pub(crate) client: ClientKind,
    /// Kafka request type as librdkafka names it (`ListOffsets`, `Fetch`, `Metadata`, …).
    pub(crate) request: String,
}

impl OfCluster for KafkaRequestLabels {
    fn kafka_cluster(&self) -> &str {
        &self.kafka_cluster
    }
}

/// The measurer's self-metrics. Cloning shares the families.
#[derive(Clone, Debug, Default)]
pub(crate) struct KafkaMetrics {
    /// `clusterlink_kafka_up` by connection.
    pub(crate) up: ClusterFamily<KafkaConnectionLabels, Gauge>,
    /// `clusterlink_kafka_errors_total` by connection and reason.
    pub(crate) errors: ClusterFamily<KafkaErrorLabels, Counter>,
    /// `clusterlink_kafka_requests_total` by client and request type.
    pub(crate) requests: ClusterFamily<KafkaRequestLabels, Counter>,
    /// `clusterlink_kafka_measurement_duration_seconds`.
    pub(crate) duration: Family<ClusterLabels, Gauge<f64, AtomicU64>>,
    /// `clusterlink_kafka_last_measurement_timestamp_seconds` (Unix seconds).
    pub(crate) last_success: Family<ClusterLabels, Gauge<f64, AtomicU64>>,
    /// `clusterlink_lag_seconds_records_read_total`.
    pub(crate) lag_reads: Family<ClusterLabels, Counter>,
    /// `clusterlink_lag_seconds_unread_partitions`.
    pub(crate) lag_unread: Family<ClusterLabels, Gauge>,
    /// `clusterlink_kafka_measurements_total`.
    pub(crate) cycles: Family<ClusterLabels, Counter>,
}

impl ClusterSeries for KafkaMetrics {
    /// The gauges its measurer wrote go: a `clusterlink_kafka_up` must not outlive its
    /// measurer (a restarted one writes its own).
    fn stop_cluster(&self, setup: &ClusterSetup) {
        let name = &setup.cluster.name;
        self.up.remove_cluster(name);
        let labels = ClusterLabels::of(name);
        self.duration.remove(&labels);
        self.last_success.remove(&labels);
        self.lag_unread.remove(&labels);
    }

    fn forget_cluster(&self, setup: &ClusterSetup) {
        self.stop_cluster(setup);
        let name = &setup.cluster.name;
        self.errors.remove_cluster(name);
        self.requests.remove_cluster(name);
        let labels = ClusterLabels::of(name);
        self.lag_reads.remove(&labels);
        self.cycles.remove(&labels);
    }
}

impl KafkaMetrics {
    /// Registers the families in `registry`.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        let reasons = KafkaErrorReason::ALL.map(KafkaErrorReason::as_str);
        registry.register(
            "kafka_up",
            "1 when the last Kafka-side measurement over this connection succeeded, 0 otherwise",
            m.up.clone(),
        );
        registry.register(
            "kafka_errors",
            format!(
                "Failed Kafka-side requests by connection and reason ({})",
                reasons.join(", ")
            ),
            m.errors.clone(),
        );
        registry.register(
            "kafka_requests",
            "Kafka requests the exporter's clients sent, by client and request type (from librdkafka statistics)",
            m.requests.clone(),
        );
        registry.register(
            "kafka_measurement_duration_seconds",
            "Duration of the last Kafka-side measurement cycle of the cluster",
            m.duration.clone(),
        );
        registry.register(
            "kafka_last_measurement_timestamp_seconds",
            "Time of the last Kafka-side measurement cycle that read the destination's watermarks (Unix seconds)",
            m.last_success.clone(),
        );
        registry.register(
            "kafka_measurements",
            "Kafka-side measurement cycles of the cluster, successful or not",
            m.cycles.clone(),
        );
        registry.register(
            "lag_seconds_records_read",
            "Source records read to measure lag in seconds (cache misses)",
            m.lag_reads.clone(),
        );
        registry.register(
            "lag_seconds_unread_partitions",
            "Lagging partitions whose lag in seconds was not read in the last cycle (read budget or timeout)",
            m.lag_unread.clone(),
        );
        m
    }
}

/// Labels of the probe's families.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ProbeLabels {
    /// The destination cluster.
    pub(crate) kafka_cluster: String,
    /// The probed link.
    pub(crate) link: String,
}

impl OfCluster for ProbeLabels {
    fn kafka_cluster(&self) -> &str {
        &self.kafka_cluster
    }
}

/// The probe latency histograms: each probe has buckets derived from its own SLA, which a
/// `Family` (one constructor for all) cannot express, hence a collector.
#[derive(Debug, Default)]
pub(crate) struct ProbeHistograms {
    series: RwLock<Vec<(ProbeLabels, Arc<Histogram>)>>,
}

/// Bucket bounds of a probe's latency histogram, as fractions of its SLA.
pub(crate) const PROBE_BUCKET_FRACTIONS: [f64; 12] = [
    0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0,
];

impl ProbeHistograms {
    /// The histogram of a probe, created with buckets derived from `sla_seconds`.
    pub(crate) fn get_or_create(&self, labels: &ProbeLabels, sla_seconds: f64) -> Arc<Histogram> {
        let mut series = write_lock(&self.series);
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

    /// Removes the histograms of `cluster`'s probes.
    pub(crate) fn remove_cluster(&self, cluster: &str) {
        write_lock(&self.series).retain(|(l, _)| l.kafka_cluster != cluster);
    }
}

impl Collector for ProbeHistograms {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let series = read_lock(&self.series);
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

/// The probe's self-metrics. Cloning shares the families.
#[derive(Clone, Debug, Default)]
pub(crate) struct ProbeMetrics {
    /// `clusterlink_probe_records_sent_total`.
    pub(crate) sent: ClusterFamily<ProbeLabels, Counter>,
    /// `clusterlink_probe_send_failures_total`.
    pub(crate) send_failures: ClusterFamily<ProbeLabels, Counter>,
    /// `clusterlink_probe_records_received_total`.
    pub(crate) received: ClusterFamily<ProbeLabels, Counter>,
    /// `clusterlink_probe_records_lost_total`.
    pub(crate) lost: ClusterFamily<ProbeLabels, Counter>,
    /// `clusterlink_probe_last_received_timestamp_seconds` (Unix seconds).
    pub(crate) last_received: ClusterFamily<ProbeLabels, Gauge<f64, AtomicU64>>,
    /// `clusterlink_probe_sla_seconds`.
    pub(crate) sla: ClusterFamily<ProbeLabels, Gauge<f64, AtomicU64>>,
    /// `clusterlink_probe_latency_seconds`.
    pub(crate) latency: Arc<ProbeHistograms>,
}

impl ClusterSeries for ProbeMetrics {
    /// The gauges its probes wrote go (the counters and the histogram stay).
    fn stop_cluster(&self, setup: &ClusterSetup) {
        self.last_received.remove_cluster(&setup.cluster.name);
        self.sla.remove_cluster(&setup.cluster.name);
    }

    fn forget_cluster(&self, setup: &ClusterSetup) {
        self.stop_cluster(setup);
        let name = &setup.cluster.name;
        for counter in [&self.sent, &self.send_failures, &self.received, &self.lost] {
            counter.remove_cluster(name);
        }
        self.latency.remove_cluster(name);
    }
}

impl ProbeMetrics {
    /// Registers the families in `registry`.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "probe_records_sent",
            "Probe records the source cluster acknowledged",
            m.sent.clone(),
        );
        registry.register(
            "probe_send_failures",
            "Probe records the source cluster did not acknowledge",
            m.send_failures.clone(),
        );
        registry.register(
            "probe_records_received",
            "Probe records of this exporter read from the mirror on the destination",
            m.received.clone(),
        );
        registry.register(
            "probe_records_lost",
            "Probe records not received from the mirror within the SLA",
            m.lost.clone(),
        );
        registry.register(
            "probe_last_received_timestamp_seconds",
            "Time the last probe record was received from the mirror (Unix seconds)",
            m.last_received.clone(),
        );
        registry.register(
            "probe_sla_seconds",
            "The probe's configured SLA: records slower than this count as lost",
            m.sla.clone(),
        );
        registry.register_collector(Box::new(m.latency.clone()));
        m
    }
}
