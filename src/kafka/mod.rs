//! The Kafka side: what the REST API cannot say, measured over the Kafka protocol with
//! librdkafka (rdkafka).
//!
//! - [`measure`]: one thread per destination cluster that, after each REST collection, reads
//!   watermarks (one batched `ListOffsets` per leader broker for each 1 000 partitions), lag
//!   in seconds (one source record per lagging partition, cached by offset) and consumer
//!   offset-sync lag into a
//!   [`KafkaSnapshot`](crate::snapshot::KafkaSnapshot) that it publishes;
//! - `plan`: the pure parts of a cycle (which partitions to measure and to read, the lag
//!   arithmetic); `connection_clients`: one connection of a measurer and the clients it keeps
//!   open there (`ConnectionClients`); `source_topics`: the source topics' partition counts
//!   and retention, cached per source cluster; `retention_notice`: what is said when the
//!   retention cannot be read;
//! - [`probe`]: the opt-in end-to-end probe, one thread per probed link;
//! - [`metrics`]: the self-metrics both record ([`KafkaMetrics`], [`ProbeMetrics`]), each
//!   family's per-cluster series started and removed with its cluster; the status data
//!   beside them (each connection's up/down and last error, each probe's last latency) goes
//!   to the [`StatusStore`] of [`MeasurerOutputs`];
//! - [`librdkafka`]: the librdkafka configuration built from a validated
//!   [`KafkaConfig`], and its load-time check;
//! - `errors`: what went wrong on a connection, named ([`KafkaErrorReason`], [`Diagnosis`]);
//! - `identity`: whether a connection reaches the cluster it is meant to (the cluster ids
//!   its brokers must report, and the comparison).
//!
//! librdkafka calls block, so everything here runs on plain threads, never on the async
//! runtime's workers. This module owns what the parts share: a named connection
//! ([`Connection`]: its clients' configuration and construction, its error counting and
//! diagnosis), the client context ([`StatsContext`]) that turns librdkafka statistics into
//! request counters (every client's but the lag-in-seconds reader's, which keeps none) and
//! records the connection-level errors a failed request is diagnosed
//! by, the `client` label values ([`ClientKind`]; [`Role`], the `role` label, is re-exported
//! from [`crate::snapshot`]) and where the Kafka side reports ([`MeasurerOutputs`]).

pub(crate) mod check;
mod connection_clients;
mod errors;
mod identity;
pub(crate) mod librdkafka;
pub(crate) mod measure;
pub(crate) mod metrics;
mod plan;
pub(crate) mod probe;
mod retention_notice;
mod source_topics;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, ConsumerContext};
use rdkafka::error::KafkaError;

/// Which side of a link a connection is: declared with the snapshot types, where the status
/// data keys connections by it.
pub(crate) use crate::snapshot::Role;
pub use errors::KafkaErrorReason;
pub(crate) use errors::{error_reason, ConnectionErrors, Diagnosis};
pub(crate) use metrics::{KafkaMetrics, ProbeMetrics};
pub(crate) use plan::probe_mirror_topic;

use crate::config::KafkaConfig;
use crate::snapshot::Publish;
use crate::status::{ConnectionKey, StatusStore};
use crate::supervise::WorkerRestarts;
use crate::util::{closed_set, lock};
use metrics::{KafkaErrorLabels, KafkaRequestLabels};

/// `group.id` of the clients that read records at explicit offsets: librdkafka requires one
/// to assign partitions, but these clients never join the group and never commit.
pub(crate) const READER_GROUP_ID: &str = "cluster-link-exporter-reader";

/// Whether `e` is a consumer's report that the broker refused to name its group's coordinator
/// (FindCoordinator needs `DESCRIBE` on the group; librdkafka asks for it whenever a client
/// has a `group.id`). The clients of [`READER_GROUP_ID`] never use the coordinator: for them
/// this is no failure, and the group needs no ACL.
pub(crate) fn is_group_refusal(e: &KafkaError) -> bool {
    e.rdkafka_error_code() == Some(rdkafka::error::RDKafkaErrorCode::GroupAuthorizationFailed)
}

closed_set! {
    /// Which of the exporter's Kafka clients sent a request (the `client` label, and part of
    /// the `client.id`).
    pub(crate) enum ClientKind {
        /// Reads high watermarks (and lists groups).
        Watermarks = "watermarks",
        /// Reads source records for lag in seconds.
        LagSeconds = "lag_seconds",
        /// Reads committed offsets of consumer groups.
        OffsetSync = "offset_sync",
        /// The probe's producer on the source.
        ProbeProducer = "probe_producer",
        /// The probe's consumer on the destination.
        ProbeConsumer = "probe_consumer",
        /// Reads the source topics' partition counts and `retention.ms` (an admin client).
        SourceTopics = "source_topics",
    }
}

/// Where the Kafka side reports: set up by the exporter.
#[derive(Clone)]
pub(crate) struct MeasurerOutputs {
    /// Where each cycle's measurements go (`None`: withdrawn): the exposition and the status
    /// store.
    pub(crate) publish: Arc<dyn Publish>,
    /// The measurer's self-metrics.
    pub(crate) metrics: KafkaMetrics,
    /// The probes' self-metrics.
    pub(crate) probe: ProbeMetrics,
    /// The restart counter of the supervisors.
    pub(crate) restarts: WorkerRestarts,
    /// The status data: each connection's up/down and last error, each probe's last latency.
    pub(crate) status: StatusStore,
}

impl std::fmt::Debug for MeasurerOutputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeasurerOutputs").finish_non_exhaustive()
    }
}

/// A named Kafka connection of one cluster's measurements: the destination itself or one of
/// the configured source clusters.
#[derive(Clone, Debug)]
pub(crate) struct Connection {
    /// The destination cluster being measured (`kafka_cluster` label).
    pub(crate) kafka_cluster: String,
    /// The connection's name (`connection` label).
    pub(crate) name: String,
    /// Which side of the links it is.
    pub(crate) role: Role,
    /// How to connect.
    pub(crate) config: KafkaConfig,
    /// The connection-level errors its clients reported (shared by their contexts).
    errors: ConnectionErrors,
    /// Where its up/down and last error are shown (the status page).
    status: StatusStore,
}

impl Connection {
    /// The connection `name` (`role`) of destination cluster `kafka_cluster`, shown on
    /// `status`.
    pub(crate) fn new(
        kafka_cluster: &str,
        name: &str,
        role: Role,
        config: KafkaConfig,
        status: StatusStore,
    ) -> Self {
        Self {
            kafka_cluster: kafka_cluster.to_owned(),
            name: name.to_owned(),
            role,
            config,
            errors: ConnectionErrors::default(),
            status,
        }
    }

    /// The connection's key on the status store.
    fn status_key(&self) -> ConnectionKey {
        (self.kafka_cluster.clone(), self.role, self.name.clone())
    }

    /// Shows whether the connection's last measurement succeeded on the status page.
    pub(crate) fn show_up(&self, up: bool) {
        self.status.set_connection_up(self.status_key(), up);
    }

    /// Shows `line` as the connection's last error on the status page.
    pub(crate) fn show_error(&self, line: String) {
        self.status
            .set_connection_error(self.status_key(), line, crate::util::unix_ms());
    }

    /// The diagnosis of a failed request over this connection (see [`ConnectionErrors`]),
    /// secrets of the connection removed.
    pub(crate) fn diagnose(&self, e: &KafkaError) -> Diagnosis {
        self.errors
            .diagnose(e)
            .redact(&librdkafka::secrets(&self.config))
    }

    /// Whether a failed request needs a diagnosis of the connection: its own code does not
    /// explain it and nothing was recorded in the last minute.
    pub(crate) fn needs_diagnosis(&self, e: &KafkaError) -> bool {
        self.errors.needs_diagnosis(e)
    }

    /// Whether a connection-level error was recorded at or after `since`.
    pub(crate) fn diagnosed_since(&self, since: std::time::Instant) -> bool {
        self.errors.recorded_since(since)
    }

    /// A request over this connection succeeded: forget its connection-level error.
    pub(crate) fn succeeded(&self) {
        self.errors.clear();
    }
    fn error_labels(&self, reason: KafkaErrorReason) -> KafkaErrorLabels {
        KafkaErrorLabels {
            kafka_cluster: self.kafka_cluster.clone(),
            connection: self.name.clone(),
            role: self.role,
            reason,
        }
    }

    /// Counts a failure of this connection by reason.
    pub(crate) fn count_error(&self, metrics: &KafkaMetrics, reason: KafkaErrorReason) {
        metrics
            .errors
            .get_or_create(&self.error_labels(reason))
            .inc();
    }

    /// Counts a failure of this connection and shows it on the status page as the
    /// connection's last error (`what` failed), as the measurer's are: for the probe's clients.
    pub(crate) fn report(&self, metrics: &KafkaMetrics, what: &str, d: &Diagnosis) {
        self.count_error(metrics, d.reason);
        self.show_error(d.line(what));
    }

    /// Writes every reason at 0 so that `increase()` works from the first error.
    pub(crate) fn init_errors(&self, metrics: &KafkaMetrics) {
        for reason in KafkaErrorReason::ALL {
            let errors = metrics.errors.get_or_create(&self.error_labels(reason));
            errors.inc_by(0);
        }
    }

    /// A client configuration of this connection for `client` (the `client` label). Secrets
    /// stay out of errors.
    pub(crate) fn client_config(&self, client: ClientKind) -> rdkafka::ClientConfig {
        let mut c = librdkafka::client_config(&self.config);
        c.set(
            "client.id",
            format!("cluster-link-exporter-{}-{client}", self.kafka_cluster),
        )
        .set("statistics.interval.ms", "1000")
        .set("log.connection.close", "false");
        // librdkafka's own lines reach the log at debug level (with `properties: {debug: …}`
        // for its debug contexts) when the exporter logs at debug; else its warnings, which
        // only feed the diagnosis of failures.
        c.set_log_level(if tracing::enabled!(tracing::Level::DEBUG) {
            RDKafkaLogLevel::Debug
        } else {
            RDKafkaLogLevel::Warning
        });
        c
    }

    /// A consumer that never joins a group (`group` only names whose offsets it reads), with
    /// extra properties.
    pub(crate) fn consumer(
        &self,
        metrics: &KafkaMetrics,
        client: ClientKind,
        group: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Result<BaseConsumer<StatsContext>, KafkaError> {
        let mut c = self.client_config(client);
        c.set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            // High watermarks, not the last stable offset of transactional topics.
            .set("isolation.level", "read_uncommitted");
        if let Some(g) = group {
            c.set("group.id", g);
        }
        for (k, v) in extra {
            c.set(*k, *v);
        }
        c.create_with_context(self.stats_context(metrics, client))
    }

    /// The client context of `client` on this connection.
    pub(crate) fn stats_context(&self, metrics: &KafkaMetrics, client: ClientKind) -> StatsContext {
        StatsContext {
            metrics: metrics.clone(),
            kafka_cluster: self.kafka_cluster.clone(),
            connection: self.name.clone(),
            client,
            seen: Arc::default(),
            errors: self.errors.clone(),
        }
    }
}

/// librdkafka client context of the exporter's clients: logs go to `tracing` at debug level
/// (a source cluster that is down is reported once per cycle by the measurer, not per
/// reconnect), and statistics become `clusterlink_kafka_requests_total`.
#[derive(Clone)]
pub(crate) struct StatsContext {
    metrics: KafkaMetrics,
    kafka_cluster: String,
    connection: String,
    client: ClientKind,
    /// Request counts by type at the last statistics, to add only the difference.
    seen: Arc<Mutex<HashMap<String, i64>>>,
    /// Where connection-level errors are recorded for the diagnosis of failed requests.
    errors: ConnectionErrors,
}

impl ClientContext for StatsContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        tracing::debug!(?level, fac, connection = %self.connection, "librdkafka: {log_message}");
        // A consumer's error events come back from `poll` as bare codes; the broker
        // connection's failure in librdkafka's own words is in its log line (facility FAIL,
        // ERROR, SASL, SSL, …), delivered here from librdkafka's threads.
        if (level as i32) <= (RDKafkaLogLevel::Warning as i32) {
            self.errors.record(None, log_message);
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(%error, connection = %self.connection, "librdkafka: {reason}");
        self.errors.record(error.rdkafka_error_code(), reason);
    }

    /// librdkafka's statistics, parsed for the request counts alone: rust-rdkafka's
    /// [`Statistics`](rdkafka::statistics::Statistics) builds every topic and partition the
    /// client knows (thousands in a client that read records of a few large topics), every
    /// second.
    fn stats_raw(&self, statistics: &[u8]) {
        match serde_json::from_slice::<RequestStatistics>(statistics) {
            Ok(s) => self.count_requests(s),
            Err(e) => {
                tracing::debug!(error = %e, connection = %self.connection, "librdkafka statistics not read")
            }
        }
    }
}

/// What the exporter reads of librdkafka's statistics: each broker's requests sent by type.
/// Every other field is skipped while parsing (not built).
#[derive(Debug, Default, serde::Deserialize)]
struct RequestStatistics {
    #[serde(default)]
    brokers: HashMap<String, BrokerRequests>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct BrokerRequests {
    #[serde(default)]
    req: HashMap<String, i64>,
}

impl RequestStatistics {
    /// Requests sent by type, summed over the brokers.
    fn totals(self) -> HashMap<String, i64> {
        let mut totals: HashMap<String, i64> = HashMap::new();
        for broker in self.brokers.into_values() {
            for (request, count) in broker.req {
                let total = totals.entry(request).or_default();
                *total = total.saturating_add(count);
            }
        }
        totals
    }
}

impl StatsContext {
    /// Adds each request type's new requests since the last statistics to
    /// `clusterlink_kafka_requests_total`.
    fn count_requests(&self, statistics: RequestStatistics) {
        let totals = statistics.totals();
        let mut seen = lock(&self.seen);
        for (request, total) in totals {
            let before = seen.insert(request.clone(), total).unwrap_or(0);
            // A smaller total means librdkafka's broker object was recreated: count from 0.
            let delta = if total >= before {
                total - before
            } else {
                total
            };
            if delta > 0 {
                self.metrics
                    .requests
                    .get_or_create(&KafkaRequestLabels {
                        kafka_cluster: self.kafka_cluster.clone(),
                        connection: self.connection.clone(),
                        client: self.client,
                        request,
                    })
                    .inc_by(delta as u64);
            }
        }
    }
}

impl ConsumerContext for StatsContext {}

impl rdkafka::producer::ProducerContext for StatsContext {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &rdkafka::message::DeliveryResult<'_>, _: ()) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn statistics_are_read_for_request_counts_only() {
        // The shape of librdkafka's statistics (abridged), with the topics and partitions
        // that are skipped.
        let raw = br#"{"name":"c#consumer-1","type":"consumer","ts":1,"msg_cnt":0,
            "brokers":{
              "127.0.0.1:9092/1":{"name":"127.0.0.1:9092/1","nodeid":1,"state":"UP",
                "req":{"Fetch":7,"ListOffsets":3,"Metadata":2},"rtt":{"min":1,"max":2}},
              "127.0.0.1:9093/2":{"name":"127.0.0.1:9093/2","nodeid":2,"req":{"ListOffsets":4}},
              "GroupCoordinator":{"name":"GroupCoordinator","nodeid":-1}},
            "topics":{"t":{"topic":"t","partitions":{"0":{"partition":0,"hi_offset":5}}}}}"#;
        let s: RequestStatistics = serde_json::from_slice(raw).unwrap();
        let totals: BTreeMap<String, i64> = s.totals().into_iter().collect();
        let want: BTreeMap<String, i64> = [("Fetch", 7), ("ListOffsets", 7), ("Metadata", 2)]
            .into_iter()
            .map(|(r, n)| (r.to_owned(), n))
            .collect();
        assert_eq!(totals, want);
    }
}
