//! The Kafka side: what the REST API cannot say, measured over the Kafka protocol with
//! librdkafka (rdkafka).
//!
//! - [`measure`]: one thread per destination cluster that, after each REST collection, reads
//!   watermarks (one batched `ListOffsets` per leader broker), lag in seconds (one source
//!   record per lagging partition, cached by offset) and consumer offset-sync lag, and renders
//!   them into the cluster's [`Part::Kafka`](crate::metrics::Part) exposition;
//! - [`probe`]: the opt-in end-to-end probe, one thread per probed link;
//! - [`client`]: the librdkafka configuration built from a validated
//!   [`KafkaConfig`], and its load-time check.
//!
//! librdkafka calls block, so everything here runs on plain threads, never on the async
//! runtime's workers. This module owns client construction ([`Connection`]), the client
//! context that turns librdkafka statistics into request counters, and the mapping of
//! librdkafka errors to the `reason` label.

pub mod client;
pub mod measure;
pub mod probe;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::statistics::Statistics;

use crate::config::KafkaConfig;
use crate::metrics::{Exposition, KafkaErrorLabels, KafkaRequestLabels};

/// `group.id` of the clients that read records at explicit offsets: librdkafka requires one
/// to assign partitions, but these clients never join the group and never commit.
pub const READER_GROUP_ID: &str = "cluster-link-exporter-reader";

/// Values of the `reason` label of `clusterlink_kafka_errors_total`.
pub const KAFKA_ERROR_REASONS: [&str; 7] = [
    "timeout",
    "connect",
    "auth",
    "authorization",
    "unknown_topic",
    "unsupported",
    "other",
];

/// The `reason` of a librdkafka error.
pub fn error_reason(e: &KafkaError) -> &'static str {
    use RDKafkaErrorCode as C;
    match e.rdkafka_error_code() {
        Some(C::OperationTimedOut | C::RequestTimedOut) => "timeout",
        Some(C::BrokerTransportFailure | C::AllBrokersDown | C::Resolve | C::NetworkException) => {
            "connect"
        }
        Some(C::Authentication | C::SaslAuthenticationFailed | C::SSL) => "auth",
        Some(
            C::TopicAuthorizationFailed
            | C::GroupAuthorizationFailed
            | C::ClusterAuthorizationFailed,
        ) => "authorization",
        Some(C::UnknownTopicOrPartition | C::UnknownTopic | C::UnknownPartition) => "unknown_topic",
        Some(C::UnsupportedFeature | C::UnsupportedVersion) => "unsupported",
        _ => "other",
    }
}

/// Which side of a link a connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Destination,
    Source,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Destination => "destination",
            Role::Source => "source",
        }
    }
}

/// A named Kafka connection of one cluster's measurements: the destination itself or one of
/// the configured source clusters.
#[derive(Clone, Debug)]
pub struct Connection {
    /// The destination cluster being measured (`kafka_cluster` label).
    pub kafka_cluster: String,
    /// The connection's name (`connection` label).
    pub name: String,
    pub role: Role,
    pub config: KafkaConfig,
}

impl Connection {
    fn error_labels(&self, reason: &str) -> KafkaErrorLabels {
        KafkaErrorLabels {
            kafka_cluster: self.kafka_cluster.clone(),
            connection: self.name.clone(),
            role: self.role.as_str().into(),
            reason: reason.into(),
        }
    }

    /// Counts a failure of this connection by reason.
    pub fn count_error(&self, exposition: &Exposition, reason: &str) {
        let errors = &exposition.own.kafka.errors;
        errors.get_or_create(&self.error_labels(reason)).inc();
    }

    /// Writes every reason at 0 so that `increase()` works from the first error.
    pub fn init_errors(&self, exposition: &Exposition) {
        let errors = &exposition.own.kafka.errors;
        for reason in KAFKA_ERROR_REASONS {
            errors.get_or_create(&self.error_labels(reason)).inc_by(0);
        }
    }

    /// A client of this connection, for `purpose` (the `client` label), with extra
    /// properties. Secrets stay out of the error.
    pub fn client_config(&self, purpose: &str) -> rdkafka::ClientConfig {
        let mut c = client::client_config(&self.config);
        c.set(
            "client.id",
            format!("cluster-link-exporter-{}-{purpose}", self.kafka_cluster),
        )
        .set("statistics.interval.ms", "1000")
        .set("log.connection.close", "false");
        c
    }

    /// A consumer that never joins a group (`group` only names whose offsets it reads).
    pub fn consumer(
        &self,
        exposition: &Arc<Exposition>,
        purpose: &str,
        group: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Result<BaseConsumer<StatsContext>, KafkaError> {
        let mut c = self.client_config(purpose);
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
        c.create_with_context(self.stats_context(exposition, purpose))
    }

    pub fn stats_context(&self, exposition: &Arc<Exposition>, purpose: &str) -> StatsContext {
        StatsContext {
            exposition: exposition.clone(),
            kafka_cluster: self.kafka_cluster.clone(),
            connection: self.name.clone(),
            client: purpose.to_owned(),
            seen: Arc::default(),
        }
    }
}

/// librdkafka client context of the exporter's clients: logs go to `tracing` at debug level
/// (a source cluster that is down is reported once per cycle by the measurer, not per
/// reconnect), and statistics become `clusterlink_kafka_requests_total`.
#[derive(Clone)]
pub struct StatsContext {
    exposition: Arc<Exposition>,
    kafka_cluster: String,
    connection: String,
    client: String,
    /// Request counts by type at the last statistics, to add only the difference.
    seen: Arc<Mutex<HashMap<String, i64>>>,
}

impl ClientContext for StatsContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        tracing::debug!(?level, fac, connection = %self.connection, "librdkafka: {log_message}");
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(%error, connection = %self.connection, "librdkafka: {reason}");
    }

    fn stats(&self, statistics: Statistics) {
        let mut totals: HashMap<String, i64> = HashMap::new();
        for broker in statistics.brokers.values() {
            for (request, count) in &broker.req {
                let total = totals.entry(request.clone()).or_default();
                *total = total.saturating_add(*count);
            }
        }
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        for (request, total) in totals {
            let before = seen.insert(request.clone(), total).unwrap_or(0);
            // A smaller total means librdkafka's broker object was recreated: count from 0.
            let delta = if total >= before {
                total - before
            } else {
                total
            };
            if delta > 0 {
                self.exposition
                    .own
                    .kafka
                    .requests
                    .get_or_create(&KafkaRequestLabels {
                        kafka_cluster: self.kafka_cluster.clone(),
                        connection: self.connection.clone(),
                        client: self.client.clone(),
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

    #[test]
    fn reasons_of_common_errors() {
        use RDKafkaErrorCode as C;
        for (code, reason) in [
            (C::OperationTimedOut, "timeout"),
            (C::AllBrokersDown, "connect"),
            (C::SaslAuthenticationFailed, "auth"),
            (C::GroupAuthorizationFailed, "authorization"),
            (C::UnknownTopicOrPartition, "unknown_topic"),
            (C::UnsupportedVersion, "unsupported"),
            (C::InvalidMessage, "other"),
        ] {
            assert_eq!(error_reason(&KafkaError::MetadataFetch(code)), reason);
            assert!(KAFKA_ERROR_REASONS.contains(&reason));
        }
    }
}
