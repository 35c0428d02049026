//! The status data: what the status page (`/`, `/status.json`) and readiness (`/-/ready`) know
//! about each cluster, kept in one [`StatusStore`] that the workers write and [`crate::http`]
//! reads. Per cluster it holds:
//!
//! - the REST collection's outcome ([`ClusterStatus`]: up, cycles, last success, last error),
//!   written by [`crate::collect`];
//! - the latest REST and Kafka-side snapshots with their publication times, and when each
//!   link entered its state ([`LatestSnapshots`]): the store implements [`Publish`], and the
//!   workers publish to it and to the exposition through one [`crate::snapshot::Fanout`];
//! - each Kafka connection's up/down and last error ([`ConnectionStatus`]) and each probe's
//!   last latency ([`ProbeStatus`]), written by [`crate::kafka`] beside its self-metrics;
//! - its links' fail-over readiness, written by [`crate::readiness`] after each publication;
//! - the records each mirror topic lost to source retention, kept for
//!   [`RETENTION_LOSS_KEPT_MS`] after the gap was last seen ([`RetentionLoss`]): the metric
//!   falls back to 0 once the fetcher passes the gap, the page keeps saying how many were lost
//!   for as long as the alert on it looks back.
//! - the names its configuration gives that it does not have, written by
//!   [`crate::references`] after each publication.
//!
//! A cluster's data comes and goes with it ([`ClusterSeries`]): it is put on the store when
//! its workers are launched, its connections and probes leave when they stop, and all of it
//! leaves when a reload removes the cluster. This module imports neither the workers nor
//! `http`.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use crate::references::Checked;
use crate::reload::ClusterSetup;
use crate::series::ClusterSeries;
use crate::snapshot::{ClusterReadiness, ClusterSnapshot, KafkaSnapshot, Publish, Role};
use crate::status_page::runbook::RunbookBase;
use crate::util::{read_lock, write_lock};

/// What the landing page and readiness know about a cluster's REST collection.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClusterStatus {
    /// Whether the last collection cycle succeeded.
    pub(crate) up: bool,
    /// Collection cycles finished, successful or not (0: still starting).
    pub(crate) cycles: u64,
    /// When the last cycle succeeded.
    pub(crate) last_success: Option<SystemTime>,
    /// The last failure: its reason and message (never a secret).
    pub(crate) last_error: Option<String>,
    /// When the last failure happened.
    pub(crate) last_error_at: Option<SystemTime>,
}

/// The snapshots a cluster's rendering was made from: the status page reads the same data as
/// `/metrics` and nothing else.
#[derive(Debug, Clone, Default)]
pub(crate) struct LatestSnapshots {
    /// The last REST snapshot published, with its publication time (Unix ms).
    pub(crate) rest: Option<(Arc<ClusterSnapshot>, i64)>,
    /// The last Kafka-side snapshot published, with its publication time (Unix ms).
    pub(crate) kafka: Option<(Arc<KafkaSnapshot>, i64)>,
    /// When each link of `rest` was first published in its current state (Unix ms), by link
    /// name: the exporter's own observation (the REST API gives no time for a link's state),
    /// so at most the time since the exporter (re)started collecting the cluster.
    pub(crate) link_state_since_ms: BTreeMap<String, i64>,
}

/// What the status page shows of one Kafka connection.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ConnectionStatus {
    /// Its `clusterlink_kafka_up` (`None`: not measured yet).
    pub(crate) up: Option<bool>,
    /// Its last failure, `reason: what failed: error`, even if it recovered since.
    pub(crate) last_error: Option<String>,
    /// When that failure happened (Unix ms).
    pub(crate) last_error_ms: Option<i64>,
}

/// What the status page shows of one probe: its last record received.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct ProbeStatus {
    /// The record's latency (seconds).
    pub(crate) latency_seconds: f64,
    /// When it was received (Unix ms).
    pub(crate) received_ms: i64,
}

/// How long the status data keeps a mirror topic's records lost to retention after its gap
/// was last seen: one hour, the look-back of `ClusterLinkRecordsLostToRetention`
/// (`max_over_time(…[1h])`).
pub(crate) const RETENTION_LOSS_KEPT_MS: i64 = 3_600_000;

/// The records a mirror topic lost to source retention, as last seen above 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetentionLoss {
    /// The largest `clusterlink_mirror_topic_records_lost_to_retention` seen since the gap
    /// opened (a new gap after [`RETENTION_LOSS_KEPT_MS`] starts again).
    pub(crate) records: i64,
    /// When it was last seen above 0 (Unix ms: the Kafka-side snapshot's publication).
    pub(crate) last_seen_ms: i64,
}

/// A mirror topic: (`kafka_cluster`, link, mirror topic).
pub(crate) type MirrorKey = (String, String, String);

/// A Kafka connection: (`kafka_cluster`, role, connection name).
pub(crate) type ConnectionKey = (String, Role, String);

/// A probe: (`kafka_cluster`, link).
pub(crate) type ProbeKey = (String, String);

/// Everything the store holds, as of one moment (see [`StatusStore::read`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct StatusData {
    /// Each cluster's REST collection outcome, by name: every running cluster.
    pub(crate) collection: BTreeMap<String, ClusterStatus>,
    /// The latest snapshots of every cluster that has one published now, by name.
    pub(crate) snapshots: BTreeMap<String, LatestSnapshots>,
    /// Each Kafka connection's status.
    pub(crate) connections: BTreeMap<ConnectionKey, ConnectionStatus>,
    /// Each probe's last record received.
    pub(crate) probes: BTreeMap<ProbeKey, ProbeStatus>,
    /// Each cluster's fail-over readiness, as last assessed from its snapshots (what
    /// `/metrics` renders), by name.
    pub(crate) readiness: BTreeMap<String, Arc<ClusterReadiness>>,
    /// Each mirror topic's records lost to retention, for [`RETENTION_LOSS_KEPT_MS`] after
    /// they were last seen.
    pub(crate) retention_losses: BTreeMap<MirrorKey, RetentionLoss>,
    /// The names each cluster's configuration gives that the cluster does not have, as last
    /// checked by [`crate::references`] (empty: all found; absent: not checked yet).
    pub(crate) references: BTreeMap<String, Vec<Checked>>,
    /// Where the status page links its problems (`status_page.runbook_base_url`).
    pub(crate) runbook_base: RunbookBase,
}

impl StatusData {
    /// The connections of `kafka_cluster`: the destination first, then the sources by name.
    pub(crate) fn connections_of(
        &self,
        kafka_cluster: &str,
    ) -> Vec<(Role, String, ConnectionStatus)> {
        self.connections
            .iter()
            .filter(|((c, _, _), _)| c == kafka_cluster)
            .map(|((_, role, name), s)| (*role, name.clone(), s.clone()))
            .collect()
    }

    /// The probe of `link` on `kafka_cluster`, once it received a record.
    pub(crate) fn probe(&self, kafka_cluster: &str, link: &str) -> Option<ProbeStatus> {
        self.probes
            .get(&(kafka_cluster.to_owned(), link.to_owned()))
            .copied()
    }

    /// Keeps `snapshot` as `cluster`'s latest REST snapshot (`None`: withdrawn), carrying each
    /// link's state-since time over while its state stays the same.
    fn keep_rest(&mut self, cluster: &str, snapshot: Option<Arc<ClusterSnapshot>>, now: i64) {
        let entry = self.snapshots.entry(cluster.to_owned()).or_default();
        let previous = entry.rest.take();
        let mut since = BTreeMap::new();
        if let Some(snapshot) = snapshot {
            for link in &snapshot.links {
                let was = previous
                    .as_ref()
                    .and_then(|(p, _)| p.links.iter().find(|l| l.name == link.name))
                    .filter(|l| l.state == link.state)
                    .and_then(|_| entry.link_state_since_ms.get(&link.name).copied());
                since.insert(link.name.clone(), was.unwrap_or(now));
            }
            entry.rest = Some((snapshot, now));
        }
        entry.link_state_since_ms = since;
        self.drop_if_empty(cluster);
    }

    /// Keeps `measured` as `cluster`'s latest Kafka-side snapshot (`None`: withdrawn), and
    /// the records its mirror topics lost to retention (forgetting those older than
    /// [`RETENTION_LOSS_KEPT_MS`]).
    fn keep_kafka(&mut self, cluster: &str, measured: Option<Arc<KafkaSnapshot>>, now: i64) {
        self.retention_losses
            .retain(|_, l| now.saturating_sub(l.last_seen_ms) <= RETENTION_LOSS_KEPT_MS);
        for m in measured.iter().flat_map(|k| &k.mirrors) {
            let Some(records) = m.lost_to_retention().filter(|n| *n > 0) else {
                continue;
            };
            let key = (cluster.to_owned(), m.link.clone(), m.mirror_topic.clone());
            let e = self.retention_losses.entry(key).or_insert(RetentionLoss {
                records,
                last_seen_ms: now,
            });
            e.records = e.records.max(records);
            e.last_seen_ms = now;
        }
        let entry = self.snapshots.entry(cluster.to_owned()).or_default();
        entry.kafka = measured.map(|m| (m, now));
        self.drop_if_empty(cluster);
    }

    fn drop_if_empty(&mut self, cluster: &str) {
        if self
            .snapshots
            .get(cluster)
            .is_some_and(|e| e.rest.is_none() && e.kafka.is_none())
        {
            self.snapshots.remove(cluster);
        }
    }

    /// Removes `cluster`'s connections and probes (its measurer stopped).
    fn drop_kafka_side(&mut self, cluster: &str) {
        self.connections.retain(|(c, _, _), _| c != cluster);
        self.probes.retain(|(c, _), _| c != cluster);
    }
}

/// The status data of every cluster (see the module header). Cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct StatusStore(Arc<RwLock<StatusData>>);

impl StatusStore {
    /// An empty store.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Everything the store holds now (cheap: snapshots are shared, not copied).
    pub(crate) fn read(&self) -> StatusData {
        read_lock(&self.0).clone()
    }

    /// The clusters with a collection status (every running cluster), by name.
    pub fn clusters(&self) -> Vec<String> {
        read_lock(&self.0).collection.keys().cloned().collect()
    }

    /// The clusters whose collection has not finished a cycle yet (`/-/ready` waits for them).
    pub(crate) fn starting(&self) -> Vec<String> {
        read_lock(&self.0)
            .collection
            .iter()
            .filter(|(_, s)| s.cycles == 0)
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Whether `cluster`'s Kafka side cannot reach one of its source clusters now (a source
    /// connection's last measurement failed).
    pub(crate) fn source_connection_down(&self, cluster: &str) -> bool {
        read_lock(&self.0)
            .connections
            .iter()
            .any(|((c, role, _), s)| c == cluster && *role == Role::Source && s.up == Some(false))
    }

    /// `cluster`'s latest snapshots (`None`: none published now).
    pub(crate) fn latest(&self, cluster: &str) -> Option<LatestSnapshots> {
        read_lock(&self.0).snapshots.get(cluster).cloned()
    }

    /// Keeps the names `cluster`'s configuration gives that it does not have (`None`:
    /// withdrawn).
    pub(crate) fn set_references(&self, cluster: &str, missing: Option<Vec<Checked>>) {
        let mut data = write_lock(&self.0);
        match missing {
            Some(m) => data.references.insert(cluster.to_owned(), m),
            None => data.references.remove(cluster),
        };
    }

    /// Sets where the status page links its problems (at start and on every reload).
    pub(crate) fn set_runbook_base(&self, base: RunbookBase) {
        write_lock(&self.0).runbook_base = base;
    }

    /// Keeps `cluster`'s fail-over readiness (`None`: withdrawn).
    pub(crate) fn set_readiness(&self, cluster: &str, readiness: Option<Arc<ClusterReadiness>>) {
        let mut data = write_lock(&self.0);
        match readiness {
            Some(r) => data.readiness.insert(cluster.to_owned(), r),
            None => data.readiness.remove(cluster),
        };
    }

    /// Updates `cluster`'s collection status (created when missing).
    pub(crate) fn update(&self, cluster: &str, f: impl FnOnce(&mut ClusterStatus)) {
        let mut data = write_lock(&self.0);
        f(data.collection.entry(cluster.to_owned()).or_default());
    }

    fn update_connection(&self, key: ConnectionKey, f: impl FnOnce(&mut ConnectionStatus)) {
        f(write_lock(&self.0).connections.entry(key).or_default());
    }

    /// Records whether the connection's last measurement succeeded.
    pub(crate) fn set_connection_up(&self, key: ConnectionKey, up: bool) {
        self.update_connection(key, |s| s.up = Some(up));
    }

    /// Records a failure of the connection at `at_ms` (Unix ms).
    pub(crate) fn set_connection_error(&self, key: ConnectionKey, error: String, at_ms: i64) {
        self.update_connection(key, |s| {
            s.last_error = Some(error);
            s.last_error_ms = Some(at_ms);
        });
    }

    /// Records a probe record received at `received_ms` (Unix ms) with its latency.
    pub(crate) fn set_probe_received(&self, key: ProbeKey, latency_seconds: f64, received_ms: i64) {
        write_lock(&self.0).probes.insert(
            key,
            ProbeStatus {
                latency_seconds,
                received_ms,
            },
        );
    }
}

impl Publish for StatusStore {
    fn publish_rest(&self, cluster: &str, snapshot: Option<Arc<ClusterSnapshot>>) {
        let now = crate::util::unix_ms();
        write_lock(&self.0).keep_rest(cluster, snapshot, now);
    }

    fn publish_kafka(&self, cluster: &str, measured: Option<Arc<KafkaSnapshot>>) {
        let now = crate::util::unix_ms();
        write_lock(&self.0).keep_kafka(cluster, measured, now);
    }
}

impl ClusterSeries for StatusStore {
    /// Puts the cluster on the store (a restarted cluster keeps its history: cycles, last
    /// success); without a `kafka` section, its Kafka-side snapshot is withdrawn.
    fn start_cluster(&self, setup: &ClusterSetup) {
        let name = &setup.cluster.name;
        let now = crate::util::unix_ms();
        let mut data = write_lock(&self.0);
        data.collection.entry(name.clone()).or_default();
        if setup.cluster.kafka.is_none() {
            data.keep_kafka(name, None, now);
        }
    }

    /// Its connections and probes leave with the measurer that wrote them.
    fn stop_cluster(&self, setup: &ClusterSetup) {
        write_lock(&self.0).drop_kafka_side(&setup.cluster.name);
    }

    /// Everything about the cluster leaves the store.
    fn forget_cluster(&self, setup: &ClusterSetup) {
        let name = &setup.cluster.name;
        let mut data = write_lock(&self.0);
        data.collection.remove(name);
        data.snapshots.remove(name);
        data.readiness.remove(name);
        data.retention_losses.retain(|(c, _, _), _| c != name);
        data.references.remove(name);
        data.drop_kafka_side(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Link, LinkState, Reported};

    #[test]
    fn a_source_connection_down_is_seen_per_cluster() {
        let store = StatusStore::new();
        assert!(!store.source_connection_down("B"));
        store.set_connection_up(("B".into(), Role::Source, "A".into()), true);
        store.set_connection_up(("B".into(), Role::Destination, "B".into()), false);
        store.set_connection_up(("C".into(), Role::Source, "A".into()), false);
        assert!(!store.source_connection_down("B"));
        store.set_connection_up(("B".into(), Role::Source, "A".into()), false);
        assert!(store.source_connection_down("B"));
    }

    fn snapshot(state: LinkState) -> Arc<ClusterSnapshot> {
        Arc::new(ClusterSnapshot {
            links: vec![Link {
                name: "ab".into(),
                state: Reported::Known(state),
                ..Link::default()
            }],
            ..ClusterSnapshot::default()
        })
    }

    #[test]
    fn the_store_keeps_the_published_snapshots_and_link_state_times() {
        let mut data = StatusData::default();
        data.keep_rest("A", Some(snapshot(LinkState::Active)), 1_000);
        assert_eq!(data.snapshots["A"].link_state_since_ms["ab"], 1_000);
        // Same state: the time carries over.
        data.keep_rest("A", Some(snapshot(LinkState::Active)), 2_000);
        assert_eq!(data.snapshots["A"].link_state_since_ms["ab"], 1_000);
        assert_eq!(data.snapshots["A"].rest.as_ref().unwrap().1, 2_000);
        // A new state: a new time.
        data.keep_rest("A", Some(snapshot(LinkState::Paused)), 3_000);
        assert_eq!(data.snapshots["A"].link_state_since_ms["ab"], 3_000);
        data.keep_kafka("A", Some(Arc::default()), 3_000);
        data.keep_rest("A", None, 4_000);
        assert!(data.snapshots["A"].rest.is_none());
        assert!(data.snapshots["A"].kafka.is_some());
        data.keep_kafka("A", None, 4_000);
        assert!(data.snapshots.is_empty());
    }

    /// The metric falls back to 0 once the fetcher passes the gap; the store keeps the
    /// largest count for an hour after it was last seen.
    #[test]
    fn records_lost_to_retention_are_kept_for_an_hour_after_the_gap() {
        use crate::snapshot::{MeasuredMirror, MeasuredPartition};
        let measured = |lost| {
            Some(Arc::new(KafkaSnapshot {
                mirrors: vec![MeasuredMirror {
                    link: "ab".into(),
                    mirror_topic: "logs".into(),
                    partitions: vec![MeasuredPartition {
                        lost_to_retention: Some(lost),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }))
        };
        let key = ("A".to_owned(), "ab".to_owned(), "logs".to_owned());
        let mut data = StatusData::default();
        data.keep_kafka("A", measured(0), 1_000);
        assert!(data.retention_losses.is_empty(), "nothing lost");
        data.keep_kafka("A", measured(12), 2_000);
        data.keep_kafka("A", measured(21), 3_000);
        data.keep_kafka("A", measured(0), 4_000);
        let kept = RetentionLoss {
            records: 21,
            last_seen_ms: 3_000,
        };
        assert_eq!(
            data.retention_losses[&key], kept,
            "the gap passed: still 21"
        );
        data.keep_kafka("A", None, 3_000 + RETENTION_LOSS_KEPT_MS);
        assert_eq!(data.retention_losses[&key], kept, "withdrawn: kept");
        data.keep_kafka("A", measured(0), 3_001 + RETENTION_LOSS_KEPT_MS);
        assert!(data.retention_losses.is_empty(), "an hour later: gone");
    }

    #[test]
    fn a_cluster_comes_and_goes_with_its_workers() {
        let store = StatusStore::new();
        let mut cluster = crate::config::ClusterConfig::platform("A", "http://a/kafka/v3");
        cluster.kafka = Some(crate::config::KafkaConfig::new("localhost:9092"));
        let setup = ClusterSetup {
            cluster,
            sources: Vec::new(),
        };
        store.start_cluster(&setup);
        assert_eq!(store.starting(), ["A"]);
        store.update("A", |s| s.cycles += 1);
        store.publish_kafka("A", Some(Arc::default()));
        store.set_connection_up(("A".into(), Role::Destination, "A".into()), true);
        store.set_probe_received(("A".into(), "ab".into()), 0.25, 1_000);
        // Stopped for a restart: the collection's history and snapshots stay.
        store.stop_cluster(&setup);
        let data = store.read();
        assert!(data.connections.is_empty() && data.probes.is_empty());
        assert_eq!(data.collection["A"].cycles, 1);
        assert!(data.snapshots["A"].kafka.is_some());
        // Restarted without a `kafka` section: its Kafka-side snapshot goes.
        let mut without = setup.clone();
        without.cluster.kafka = None;
        store.start_cluster(&without);
        assert!(store.read().snapshots.is_empty());
        assert_eq!(store.read().collection["A"].cycles, 1);
        store.forget_cluster(&without);
        assert!(store.clusters().is_empty());
    }
}
