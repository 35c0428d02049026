//! What is said when a source cluster's topics' `retention.ms` cannot be read
//! (`DescribeConfigs`, see `source_topics`): the failure is counted and shown on the status
//! page as the connection's last error with the likely reasons, told neutrally — the broker
//! does not support the request (librdkafka's mock cluster, the simulator's, never answers
//! it), the principal lacks `DESCRIBE_CONFIGS` on the topics, or it timed out — and logged
//! once per source connection per process: not again at each retry, nor after a reload that
//! rebuilt the measurer, only once a read succeeded in between or the reason changed.
//! A source that says it does not support the request is logged the same way, not counted.

use std::collections::HashMap;
use std::sync::Mutex;

use rdkafka::error::KafkaError;

use super::connection_clients::ConnectionClients;
use super::errors::KafkaErrorReason;
use super::metrics::KafkaMetrics;

/// What failed, as the status page and the log name it.
const WHAT: &str = "reading source topic retention.ms (DescribeConfigs)";

/// The likely reasons, for the status page and the log.
const LIKELY_REASONS: &str = "the source topics' retention stays unknown; likely the brokers \
     do not support DescribeConfigs (librdkafka's mock cluster, the simulator's, does not \
     answer it), the principal lacks DESCRIBE_CONFIGS on the topics, or the request timed out; \
     asked again with back-off";

/// The reason last logged per (destination cluster, source connection), this process.
static SAID: Mutex<Option<HashMap<(String, String), KafkaErrorReason>>> = Mutex::new(None);

/// Whether a failure of `reason` on `connection` of `kafka_cluster` is to be logged: not when
/// the last one logged there had the same reason and no read succeeded since.
fn first(kafka_cluster: &str, connection: &str, reason: KafkaErrorReason) -> bool {
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    let key = (kafka_cluster.to_owned(), connection.to_owned());
    said.get_or_insert_with(HashMap::new).insert(key, reason) != Some(reason)
}

/// Forgets what was logged for `connection` of `kafka_cluster`.
fn forget(kafka_cluster: &str, connection: &str) {
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(said) = said.as_mut() {
        said.remove(&(kafka_cluster.to_owned(), connection.to_owned()));
    }
}

/// A read of the retention on `endpoint` succeeded: a later failure is logged again.
pub(super) fn read(endpoint: &ConnectionClients) {
    forget(&endpoint.conn.kafka_cluster, &endpoint.conn.name);
}

/// A read of the retention on `endpoint` failed with `e`: counted and shown (unless the source
/// said it does not support the request), logged once (see the module header).
pub(super) fn unread(endpoint: &ConnectionClients, metrics: &KafkaMetrics, e: &KafkaError) {
    let conn = &endpoint.conn;
    let mut d = conn.diagnose(e);
    d.advice = LIKELY_REASONS;
    if super::error_reason(e) != KafkaErrorReason::Unsupported {
        conn.report(metrics, WHAT, &d);
    }
    if first(&conn.kafka_cluster, &conn.name, d.reason) {
        tracing::warn!(
            kafka_cluster = %conn.kafka_cluster,
            connection = %conn.name,
            reason = %d.reason,
            error = %d.detail,
            "could not read the source topics' retention.ms (DescribeConfigs): {} (said once \
             per source connection until a read succeeds)",
            LIKELY_REASONS
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_said_once_per_connection_until_the_reason_changes() {
        let (c, timeout) = ("retention-notice-test", KafkaErrorReason::Timeout);
        assert!(first(c, "A", timeout));
        assert!(!first(c, "A", timeout), "said once");
        assert!(first(c, "B", timeout), "another source");
        assert!(
            first(c, "A", KafkaErrorReason::Authorization),
            "another reason"
        );
        assert!(!first(c, "A", KafkaErrorReason::Authorization));
        forget(c, "A");
        assert!(
            first(c, "A", KafkaErrorReason::Authorization),
            "a read succeeded since"
        );
    }
}
