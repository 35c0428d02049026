//! What `check-config --connect` asks of one Kafka connection, with the measurer's own clients
//! ([`ConnectionClients`]) and the configured credentials: the cluster id its brokers report
//! (a `Metadata` request: reachable, authenticated, which cluster), whether a topic exists,
//! and whether a consumer group has committed offsets (`OffsetFetch`). Each call is bounded
//! by the connection's `request_timeout`; a failure is a [`Diagnosis`] without secrets.

use std::collections::BTreeSet;

use rdkafka::consumer::Consumer;

use super::connection_clients::ConnectionClients;
use super::{Connection, Diagnosis, KafkaMetrics, Role};
use crate::config::KafkaConfig;
use crate::status::StatusStore;
use crate::supervise::StopSignal;

/// One Kafka connection being checked.
pub(crate) struct KafkaCheck {
    clients: ConnectionClients,
    metrics: KafkaMetrics,
}

impl KafkaCheck {
    /// The connection `name` (`role`) of destination cluster `kafka_cluster`; nothing is
    /// opened yet.
    pub(crate) fn new(kafka_cluster: &str, name: &str, role: Role, config: &KafkaConfig) -> Self {
        let conn = Connection::new(
            kafka_cluster,
            name,
            role,
            config.clone(),
            StatusStore::new(),
        );
        Self {
            clients: ConnectionClients::new(conn, StopSignal::new()),
            metrics: KafkaMetrics::default(),
        }
    }

    /// The cluster id the brokers report (`None`: they report none), after a `Metadata`
    /// request that proves the connection and its credentials.
    pub(crate) fn cluster_id(&mut self) -> Result<Option<String>, Diagnosis> {
        let timeout = self.clients.timeout();
        let conn = self.clients.conn.clone();
        let client = self
            .clients
            .watermarks_client(&self.metrics)
            .map_err(|e| conn.diagnose(&e))?;
        match client.fetch_metadata(None, timeout) {
            Ok(_) => Ok(client.client().fetch_cluster_id(timeout)),
            Err(e) => Err(conn.diagnose(&e)),
        }
    }

    /// Whether `topic` exists (its metadata lists partitions).
    pub(crate) fn topic_exists(&mut self, topic: &str) -> Result<bool, Diagnosis> {
        let timeout = self.clients.timeout();
        let conn = self.clients.conn.clone();
        let client = self
            .clients
            .watermarks_client(&self.metrics)
            .map_err(|e| conn.diagnose(&e))?;
        match client.fetch_metadata(Some(topic), timeout) {
            Ok(md) => Ok(md
                .topics()
                .iter()
                .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())),
            Err(e) => Err(conn.diagnose(&e)),
        }
    }

    /// Whether `group` has a committed offset on one of `partitions`.
    pub(crate) fn has_commits(
        &mut self,
        group: &str,
        partitions: &BTreeSet<(String, i32)>,
    ) -> Result<bool, Diagnosis> {
        match self.clients.committed(&self.metrics, group, partitions) {
            Ok(offsets) => Ok(!offsets.is_empty()),
            Err(e) => Err(self.clients.conn.diagnose(&e)),
        }
    }
}
