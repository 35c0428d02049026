//! The Kafka-side measurement loop of one destination cluster, on its own thread.
//!
//! After each successful REST collection the collector hands over what it read (links,
//! configs, mirrors). A cycle then:
//!
//! 1. reads the destination high watermark of every partition of every monitored mirror topic
//!    (`STOPPED` mirrors are regular topics and are skipped) — one `ListOffsets` request per
//!    leader broker, via `rd_kafka_offsets_for_times` with the "latest" timestamp;
//! 2. reads the source high watermarks the same way, *after* the destination's, so measured lag
//!    (source − destination) is never negative by construction;
//! 3. for lagging partitions, most lagging first and within a per-cycle budget, reads the source
//!    record at the destination's high watermark: now minus its timestamp is the partition's lag
//!    in seconds (0 when caught up), cached by offset so a stuck partition costs one read;
//! 4. for links with `consumer.offset.sync.enable`, compares each group's committed offsets on
//!    the source and on the destination;
//! 5. renders all of it into the cluster's Kafka part of the exposition.
//!
//! A connection that fails marks only what depends on it: a source that is down withdraws the
//! source-side series of its links and leaves the destination's.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::probe::{self, ProbeTarget};
use super::{error_reason, Connection, Role, StatsContext};
use crate::config::{ClusterConfig, SourceClusterConfig};
use crate::link_filters;
use crate::metrics::{
    ClusterData, ClusterLabels, Exposition, KafkaConnectionLabels, Part, SampleWriter, F,
};
use crate::rest_client::{config_value, LinkConfigData, MirrorData};
use crate::supervise::{self, RestartBackoff, StopSignal, Stops, Worker};
use crate::util::unix_ms;

type TopicPartition = (String, i32);
/// (link, mirror topic, partition): one measured mirror partition.
type MirrorPartition = (String, String, i32);

/// A lagging partition waiting for its lag in seconds.
struct Lagging {
    lag: i64,
    /// The source partition and the destination's high watermark there.
    source: TopicPartition,
    offset: i64,
    key: MirrorPartition,
}

/// One Kafka connection and the clients the measurements keep open on it.
struct Endpoint {
    conn: Connection,
    watermarks: Option<BaseConsumer<StatsContext>>,
    reader: Option<BaseConsumer<StatsContext>>,
    /// Offset readers by consumer group (they never join the group).
    groups: HashMap<String, BaseConsumer<StatsContext>>,
    /// Source record timestamps (ms) by (topic, partition, offset).
    timestamps: HashMap<(String, i32, i64), i64>,
}

impl Endpoint {
    fn new(conn: Connection) -> Self {
        Self {
            conn,
            watermarks: None,
            reader: None,
            groups: HashMap::new(),
            timestamps: HashMap::new(),
        }
    }

    fn timeout(&self) -> Duration {
        self.conn.config.request_timeout
    }

    fn watermarks_client(
        &mut self,
        exposition: &Arc<Exposition>,
    ) -> Result<&BaseConsumer<StatsContext>, KafkaError> {
        if self.watermarks.is_none() {
            self.watermarks = Some(self.conn.consumer(exposition, "watermarks", None, &[])?);
        }
        Ok(self.watermarks.as_ref().expect("just created"))
    }

    /// High watermarks of `partitions`, batched: librdkafka sends one `ListOffsets` per leader
    /// broker. Partitions the cluster reports an error for are left out.
    fn high_watermarks(
        &mut self,
        exposition: &Arc<Exposition>,
        partitions: &BTreeSet<TopicPartition>,
    ) -> Result<HashMap<TopicPartition, i64>, KafkaError> {
        let mut out = HashMap::new();
        if partitions.is_empty() {
            return Ok(out);
        }
        let timeout = self.timeout();
        let client = self.watermarks_client(exposition)?;
        let mut tpl = TopicPartitionList::with_capacity(partitions.len());
        for (topic, partition) in partitions {
            // As a timestamp, -1 (Offset::End) asks ListOffsets for the latest offset.
            tpl.add_partition_offset(topic, *partition, Offset::End)?;
        }
        let result = client.offsets_for_times(tpl, timeout)?;
        for e in result.elements() {
            if let (Ok(()), Offset::Offset(o)) = (e.error(), e.offset()) {
                out.insert((e.topic().to_owned(), e.partition()), o);
            }
        }
        Ok(out)
    }

    /// Serves librdkafka callbacks (statistics) of the idle clients.
    fn poll(&self) {
        for c in self
            .watermarks
            .iter()
            .chain(self.reader.iter())
            .chain(self.groups.values())
        {
            let _ = c.poll(Duration::ZERO);
        }
    }

    fn set_up(&self, exposition: &Exposition, up: bool) {
        exposition
            .own
            .kafka
            .up
            .get_or_create(&KafkaConnectionLabels {
                kafka_cluster: self.conn.kafka_cluster.clone(),
                connection: self.conn.name.clone(),
                role: self.conn.role.as_str().into(),
            })
            .set(i64::from(up));
    }

    fn fail(&self, exposition: &Exposition, what: &str, e: &KafkaError) {
        let reason = error_reason(e);
        self.conn.count_error(exposition, reason);
        tracing::warn!(
            kafka_cluster = %self.conn.kafka_cluster,
            connection = %self.conn.name,
            role = self.conn.role.as_str(),
            reason,
            error = %e,
            "{what} failed"
        );
    }

    /// Committed offsets of `group` for `partitions` (absent: no commit).
    fn committed(
        &mut self,
        exposition: &Arc<Exposition>,
        group: &str,
        partitions: &BTreeSet<TopicPartition>,
    ) -> Result<HashMap<TopicPartition, i64>, KafkaError> {
        if !self.groups.contains_key(group) {
            let c = self
                .conn
                .consumer(exposition, "offset_sync", Some(group), &[])?;
            self.groups.insert(group.to_owned(), c);
        }
        let mut tpl = TopicPartitionList::with_capacity(partitions.len());
        for (topic, partition) in partitions {
            tpl.add_partition(topic, *partition);
        }
        let result = self.groups[group].committed_offsets(tpl, self.timeout())?;
        Ok(result
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) if e.error().is_ok() => {
                    Some(((e.topic().to_owned(), e.partition()), o))
                }
                _ => None,
            })
            .collect())
    }

    /// Timestamps (ms) of the records at `offsets`, reading at most `budget` uncached ones,
    /// within `timeout`. Returns what it found and how many it read.
    fn record_timestamps(
        &mut self,
        exposition: &Arc<Exposition>,
        wanted: &[(TopicPartition, i64)],
        budget: usize,
        timeout: Duration,
    ) -> (HashMap<TopicPartition, i64>, usize) {
        let mut found = HashMap::new();
        let mut to_read: HashMap<TopicPartition, i64> = HashMap::new();
        for ((topic, partition), offset) in wanted {
            match self.timestamps.get(&(topic.clone(), *partition, *offset)) {
                Some(ts) => {
                    found.insert((topic.clone(), *partition), *ts);
                }
                None if to_read.len() < budget => {
                    to_read.insert((topic.clone(), *partition), *offset);
                }
                None => {}
            }
        }
        let mut read = 0;
        if !to_read.is_empty() {
            match self.read_records(exposition, &to_read, timeout) {
                Ok(ts) => {
                    read = ts.len();
                    for (tp, ts) in ts {
                        let offset = to_read[&tp];
                        self.timestamps.insert((tp.0.clone(), tp.1, offset), ts);
                        found.insert(tp, ts);
                    }
                }
                Err(e) => self.fail(exposition, "reading source records for lag in seconds", &e),
            }
        }
        // Keep only what this cycle asked for: the cache is for partitions that do not move.
        let keep: HashSet<(String, i32, i64)> = wanted
            .iter()
            .map(|((t, p), o)| (t.clone(), *p, *o))
            .collect();
        self.timestamps.retain(|k, _| keep.contains(k));
        (found, read)
    }

    fn read_records(
        &mut self,
        exposition: &Arc<Exposition>,
        offsets: &HashMap<TopicPartition, i64>,
        timeout: Duration,
    ) -> Result<HashMap<TopicPartition, i64>, KafkaError> {
        if self.reader.is_none() {
            self.reader = Some(self.conn.consumer(
                exposition,
                "lag_seconds",
                Some(super::READER_GROUP_ID),
                &[
                    // One record per partition is all we need: keep fetches small.
                    ("fetch.message.max.bytes", "65536"),
                    ("queued.max.messages.kbytes", "1024"),
                    ("fetch.wait.max.ms", "100"),
                    // The record at an offset that retention removed: the oldest that is left.
                    ("auto.offset.reset", "earliest"),
                ],
            )?);
        }
        let reader = self.reader.as_ref().expect("just created");
        let mut tpl = TopicPartitionList::with_capacity(offsets.len());
        for ((topic, partition), offset) in offsets {
            tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))?;
        }
        reader.assign(&tpl)?;
        let mut found = HashMap::new();
        let deadline = crate::util::deadline(timeout);
        let mut last_error = None;
        while found.len() < offsets.len() && Instant::now() < deadline {
            match reader.poll(Duration::from_millis(50)) {
                Some(Ok(m)) => {
                    let tp = (m.topic().to_owned(), m.partition());
                    if let Some(wanted) = offsets.get(&tp) {
                        if m.offset() >= *wanted && !found.contains_key(&tp) {
                            if let Some(ts) = m.timestamp().to_millis() {
                                found.insert(tp, ts);
                            }
                        }
                    }
                }
                Some(Err(e)) => last_error = Some(e),
                None => {}
            }
        }
        reader.unassign()?;
        match last_error {
            Some(e) if found.is_empty() => Err(e),
            _ => Ok(found),
        }
    }
}

/// A mirror topic this cycle measures.
struct MirrorPlan {
    link: String,
    mirror_topic: String,
    source_topic: String,
    partitions: i32,
    /// Index into the cycle's sources; `None` when no source cluster is configured for it.
    source: Option<String>,
}

impl MirrorPlan {
    /// The partitions of the source topic.
    fn source_partitions(&self) -> impl Iterator<Item = TopicPartition> + '_ {
        (0..self.partitions).map(|p| (self.source_topic.clone(), p))
    }

    /// The partitions of the mirror topic.
    fn mirror_partitions(&self) -> impl Iterator<Item = TopicPartition> + '_ {
        (0..self.partitions).map(|p| (self.mirror_topic.clone(), p))
    }
}

/// What one cycle measured for one mirror partition.
#[derive(Default, Clone, Copy)]
struct PartitionResult {
    destination: Option<i64>,
    source: Option<i64>,
    lag_seconds: Option<f64>,
}

/// Handle of a running measurer thread (the measurer under its supervisor).
#[derive(Debug)]
pub struct MeasurerHandle {
    thread: JoinHandle<()>,
}

impl MeasurerHandle {
    /// Waits for the thread (after the sender side closed or the shutdown was signalled).
    pub fn join(self) {
        let _ = self.thread.join();
    }
}

/// Why [`Measurer::run`] returned.
enum Ended {
    /// Shutdown was signalled.
    Stopped,
    /// The collector's side of the snapshot channel is gone (the exporter is stopping).
    Disconnected,
}

/// The measurer of one destination cluster.
pub struct Measurer {
    cluster: ClusterConfig,
    sources: Vec<SourceClusterConfig>,
    exposition: Arc<Exposition>,
    destination: Endpoint,
    source_endpoints: BTreeMap<String, Endpoint>,
    /// Running probes by link; dropping a handle stops and joins its probe.
    probes: BTreeMap<String, probe::ProbeHandle>,
    /// The exporter's shutdown (this measurer's own stop: the snapshot channel closing).
    shutdown: StopSignal,
}

impl Measurer {
    /// Starts the measurer thread of `cluster` (which must have a `kafka` section), under a
    /// supervisor: a panic withdraws the cluster's Kafka-side series, sets its
    /// `clusterlink_kafka_up` to 0, is logged and counted, and a new measurer starts after a
    /// back-off. It measures after each snapshot received on `snapshots` (and again with the
    /// last one when none came for two poll intervals) until `snapshots` closes or `shutdown`
    /// is signalled.
    pub fn spawn(
        cluster: ClusterConfig,
        sources: Vec<SourceClusterConfig>,
        exposition: Arc<Exposition>,
        snapshots: Receiver<Arc<ClusterData>>,
        shutdown: StopSignal,
    ) -> std::io::Result<MeasurerHandle> {
        if cluster.kafka.is_none() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the measurer runs only for clusters with a kafka section",
            ));
        }
        let thread = std::thread::Builder::new()
            .name(format!("kafka-{}", cluster.name))
            .spawn(move || supervise(cluster, sources, exposition, snapshots, shutdown))?;
        Ok(MeasurerHandle { thread })
    }

    /// A measurer of `cluster` (`None` when it has no `kafka` section).
    fn new(
        cluster: ClusterConfig,
        sources: Vec<SourceClusterConfig>,
        exposition: Arc<Exposition>,
        shutdown: StopSignal,
    ) -> Option<Self> {
        let kafka = cluster.kafka.clone()?;
        let destination = Endpoint::new(Connection {
            kafka_cluster: cluster.name.clone(),
            name: cluster.name.clone(),
            role: Role::Destination,
            config: kafka,
        });
        destination.conn.init_errors(&exposition);
        Some(Self {
            cluster,
            sources,
            exposition,
            destination,
            source_endpoints: BTreeMap::new(),
            probes: BTreeMap::new(),
            shutdown,
        })
    }

    fn run(&mut self, snapshots: &Receiver<Arc<ClusterData>>) -> Ended {
        let mut latest: Option<Arc<ClusterData>> = None;
        let mut last_measured = Instant::now();
        let stale_after = self.cluster.poll_interval.saturating_mul(2);
        while !self.shutdown.is_stopped() {
            let mut fresh = false;
            match snapshots.recv_timeout(Duration::from_millis(200)) {
                Ok(s) => {
                    latest = Some(s);
                    fresh = true;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ended::Disconnected,
            }
            while let Ok(s) = snapshots.try_recv() {
                latest = Some(s);
            }
            self.poll_clients();
            let Some(data) = latest.clone() else {
                continue;
            };
            if fresh || last_measured.elapsed() >= stale_after {
                last_measured = Instant::now();
                self.measure(&data);
                self.ensure_probes(&data);
            }
        }
        Ended::Stopped
    }

    /// After a failure: every connection of this measurer reads `clusterlink_kafka_up 0` and
    /// the cluster's Kafka-side series are withdrawn until a new measurer has measured.
    fn mark_down(&self) {
        self.destination.set_up(&self.exposition, false);
        for e in self.source_endpoints.values() {
            e.set_up(&self.exposition, false);
        }
        self.exposition
            .set_part(&self.cluster.name, Part::Kafka, None);
    }

    fn poll_clients(&self) {
        self.destination.poll();
        for e in self.source_endpoints.values() {
            e.poll();
        }
    }

    /// The configured source cluster of a link, if any.
    fn source_of(&self, link: &str, source_cluster_id: Option<&str>) -> Option<String> {
        self.sources
            .iter()
            .find(|s| s.serves(link, source_cluster_id))
            .map(|s| s.name.clone())
    }

    fn source_endpoint(&mut self, name: &str) -> &mut Endpoint {
        if !self.source_endpoints.contains_key(name) {
            let config = self
                .sources
                .iter()
                .find(|s| s.name == name)
                .expect("source names come from the config")
                .kafka
                .clone();
            let endpoint = Endpoint::new(Connection {
                kafka_cluster: self.cluster.name.clone(),
                name: name.to_owned(),
                role: Role::Source,
                config,
            });
            endpoint.conn.init_errors(&self.exposition);
            self.source_endpoints.insert(name.to_owned(), endpoint);
        }
        self.source_endpoints.get_mut(name).expect("just inserted")
    }

    /// One measurement cycle over `data`.
    pub fn measure(&mut self, data: &ClusterData) {
        supervise::checkpoint(&self.cluster.name, Worker::Measurer);
        let started = Instant::now();
        let exposition = self.exposition.clone();
        let plans = self.plan(data);
        let labels = ClusterLabels {
            kafka_cluster: self.cluster.name.clone(),
        };

        // 1. Destination first: the source is read after it, so lag is never negative.
        let dest_partitions: BTreeSet<TopicPartition> =
            plans.iter().flat_map(|m| m.mirror_partitions()).collect();
        let dest_hwm = match self
            .destination
            .high_watermarks(&exposition, &dest_partitions)
        {
            Ok(h) => {
                self.destination.set_up(&exposition, true);
                h
            }
            Err(e) => {
                self.destination
                    .fail(&exposition, "reading destination high watermarks", &e);
                self.destination.set_up(&exposition, false);
                exposition.set_part(&self.cluster.name, Part::Kafka, None);
                self.finish(&labels, started, 0, false);
                return;
            }
        };

        // 2. Each source's high watermarks.
        let mut results: BTreeMap<MirrorPartition, PartitionResult> = BTreeMap::new();
        for m in &plans {
            for p in 0..m.partitions {
                results.insert(
                    (m.link.clone(), m.mirror_topic.clone(), p),
                    PartitionResult {
                        destination: dest_hwm.get(&(m.mirror_topic.clone(), p)).copied(),
                        ..Default::default()
                    },
                );
            }
        }
        let source_names: BTreeSet<String> =
            plans.iter().filter_map(|m| m.source.clone()).collect();
        let mut healthy_sources = BTreeSet::new();
        let mut unread = 0usize;
        for name in &source_names {
            let mine: Vec<&MirrorPlan> = plans
                .iter()
                .filter(|m| m.source.as_deref() == Some(name.as_str()))
                .collect();
            let partitions: BTreeSet<TopicPartition> =
                mine.iter().flat_map(|m| m.source_partitions()).collect();
            let endpoint = self.source_endpoint(name);
            let source_hwm = match endpoint.high_watermarks(&exposition, &partitions) {
                Ok(h) => {
                    endpoint.set_up(&exposition, true);
                    healthy_sources.insert(name.clone());
                    h
                }
                Err(e) => {
                    endpoint.fail(&exposition, "reading source high watermarks", &e);
                    endpoint.set_up(&exposition, false);
                    continue;
                }
            };
            for m in &mine {
                for p in 0..m.partitions {
                    if let Some(r) = results.get_mut(&(m.link.clone(), m.mirror_topic.clone(), p)) {
                        r.source = source_hwm.get(&(m.source_topic.clone(), p)).copied();
                    }
                }
            }

            // 3. Lag in seconds: the source record at the destination's high watermark.
            if self.cluster.lag_seconds.enabled {
                let mut lagging: Vec<Lagging> = Vec::new();
                for m in &mine {
                    for p in 0..m.partitions {
                        let key = (m.link.clone(), m.mirror_topic.clone(), p);
                        let r = results[&key];
                        if let (Some(d), Some(s)) = (r.destination, r.source) {
                            if s > d {
                                lagging.push(Lagging {
                                    lag: s.saturating_sub(d),
                                    source: (m.source_topic.clone(), p),
                                    offset: d,
                                    key,
                                });
                            } else if let Some(r) = results.get_mut(&key) {
                                r.lag_seconds = Some(0.0);
                            }
                        }
                    }
                }
                lagging.sort_by_key(|l| std::cmp::Reverse(l.lag));
                let wanted: Vec<(TopicPartition, i64)> = lagging
                    .iter()
                    .map(|l| (l.source.clone(), l.offset))
                    .collect();
                let budget = self.cluster.lag_seconds.max_reads_per_cycle;
                let timeout = self.cluster.lag_seconds.read_timeout;
                let endpoint = self.source_endpoint(name);
                let (timestamps, read) =
                    endpoint.record_timestamps(&exposition, &wanted, budget, timeout);
                exposition
                    .own
                    .kafka
                    .lag_reads
                    .get_or_create(&labels)
                    .inc_by(read as u64);
                let now_ms = unix_ms();
                for l in &lagging {
                    match timestamps.get(&l.source) {
                        Some(ts) => {
                            if let Some(r) = results.get_mut(&l.key) {
                                r.lag_seconds =
                                    Some(now_ms.saturating_sub(*ts).max(0) as f64 / 1000.0);
                            }
                        }
                        None => unread += 1,
                    }
                }
            }
        }
        // A source that failed leaves its partitions without source-side values.
        for m in &plans {
            if m.source
                .as_ref()
                .is_some_and(|s| !healthy_sources.contains(s))
            {
                for p in 0..m.partitions {
                    if let Some(r) = results.get_mut(&(m.link.clone(), m.mirror_topic.clone(), p)) {
                        r.source = None;
                        r.lag_seconds = None;
                    }
                }
            }
        }

        // 4. Consumer offset sync.
        let sync_lags = if self.cluster.offset_sync.enabled {
            self.offset_sync_lags(data, &plans, &healthy_sources)
        } else {
            BTreeMap::new()
        };

        // 5. Render.
        let rendered = self.render(&plans, &results, &sync_lags);
        exposition.set_part(&self.cluster.name, Part::Kafka, Some(rendered));
        self.finish(&labels, started, unread, true);
    }

    fn finish(&self, labels: &ClusterLabels, started: Instant, unread: usize, succeeded: bool) {
        let k = &self.exposition.own.kafka;
        k.duration
            .get_or_create(labels)
            .set(started.elapsed().as_secs_f64());
        if succeeded {
            k.last_success
                .get_or_create(labels)
                .set(unix_ms() as f64 / 1000.0);
        }
        k.lag_unread.get_or_create(labels).set(unread as i64);
        k.cycles.get_or_create(labels).inc();
    }

    /// The mirror topics to measure, each with its link's source cluster and the partitions
    /// [`partitions_to_measure`] gives it.
    fn plan(&self, data: &ClusterData) -> Vec<MirrorPlan> {
        let mut claims_left = MAX_CLAIMED_PARTITIONS;
        let sources: HashMap<&str, Option<String>> = data
            .links
            .iter()
            .map(|l| {
                (
                    l.link_name.as_str(),
                    self.source_of(&l.link_name, l.source_cluster_id.as_deref()),
                )
            })
            .collect();
        let plans = data
            .mirrors
            .iter()
            // A promoted or failed-over mirror is a regular topic: nothing to compare.
            .filter(|m| m.mirror_status.as_deref() != Some("STOPPED"))
            .map(|m| MirrorPlan {
                link: m.link_name.clone(),
                mirror_topic: m.mirror_topic_name.clone(),
                source_topic: m
                    .source_topic_name
                    .clone()
                    .unwrap_or_else(|| m.mirror_topic_name.clone()),
                partitions: partitions_to_measure(m, &mut claims_left),
                source: sources.get(m.link_name.as_str()).cloned().flatten(),
            })
            .collect::<Vec<_>>();
        let claimed: i64 = data
            .mirrors
            .iter()
            .filter(|m| m.mirror_lags.is_empty())
            .filter_map(|m| m.num_partitions.filter(|n| *n > 0))
            .fold(0, i64::saturating_add);
        if claimed > MAX_CLAIMED_PARTITIONS {
            tracing::warn!(
                kafka_cluster = %self.cluster.name,
                claimed,
                measured = MAX_CLAIMED_PARTITIONS,
                "mirror topics listed without partition lags claim more partitions than are measured in one cycle; the rest are left out"
            );
        }
        plans
    }

    /// Offset-sync lag by (link, group, mirror topic), for links that sync offsets.
    fn offset_sync_lags(
        &mut self,
        data: &ClusterData,
        plans: &[MirrorPlan],
        healthy_sources: &BTreeSet<String>,
    ) -> BTreeMap<(String, String, String), i64> {
        let exposition = self.exposition.clone();
        let mut out = BTreeMap::new();
        let mut used_source_groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut used_dest_groups = BTreeSet::new();
        for link in &data.links {
            let configs = data.configs.get(&link.link_name);
            if !config_enabled(configs, "consumer.offset.sync.enable") {
                continue;
            }
            let mine: Vec<&MirrorPlan> =
                plans.iter().filter(|m| m.link == link.link_name).collect();
            let Some(source) = mine.first().and_then(|m| m.source.clone()) else {
                continue;
            };
            if !healthy_sources.contains(&source) {
                continue;
            }
            let groups = self.groups_of(&link.link_name, configs, &source);
            let prefix = if config_enabled(configs, "consumer.group.prefix.enable") {
                config_value(configs, "cluster.link.prefix").unwrap_or("")
            } else {
                ""
            };
            let source_partitions: BTreeSet<TopicPartition> =
                mine.iter().flat_map(|m| m.source_partitions()).collect();
            let dest_partitions: BTreeSet<TopicPartition> =
                mine.iter().flat_map(|m| m.mirror_partitions()).collect();
            for group in groups {
                used_source_groups
                    .entry(source.clone())
                    .or_default()
                    .insert(group.clone());
                let source_endpoint = self.source_endpoint(&source);
                let on_source =
                    match source_endpoint.committed(&exposition, &group, &source_partitions) {
                        Ok(c) => c,
                        Err(e) => {
                            source_endpoint.fail(
                                &exposition,
                                &format!("reading committed offsets of group {group:?}"),
                                &e,
                            );
                            continue;
                        }
                    };
                if on_source.is_empty() {
                    continue; // no commit: no series
                }
                let dest_group = format!("{prefix}{group}");
                used_dest_groups.insert(dest_group.clone());
                let on_dest =
                    match self
                        .destination
                        .committed(&exposition, &dest_group, &dest_partitions)
                    {
                        Ok(c) => c,
                        Err(e) => {
                            self.destination.fail(
                                &exposition,
                                &format!("reading committed offsets of group {dest_group:?}"),
                                &e,
                            );
                            continue;
                        }
                    };
                for m in &mine {
                    let mut lag = 0i64;
                    let mut committed = false;
                    for p in 0..m.partitions {
                        if let Some(s) = on_source.get(&(m.source_topic.clone(), p)) {
                            committed = true;
                            // Not yet synced: the destination would restart from offset 0.
                            let d = on_dest.get(&(m.mirror_topic.clone(), p)).unwrap_or(&0);
                            lag = lag.saturating_add(s.saturating_sub(*d).max(0));
                        }
                    }
                    if committed {
                        out.insert(
                            (
                                link.link_name.clone(),
                                group.clone(),
                                m.mirror_topic.clone(),
                            ),
                            lag,
                        );
                    }
                }
            }
        }
        // Close the offset readers of groups no longer measured.
        for (name, endpoint) in &mut self.source_endpoints {
            let used = used_source_groups.get(name);
            endpoint
                .groups
                .retain(|g, _| used.is_some_and(|u| u.contains(g)));
        }
        self.destination
            .groups
            .retain(|g, _| used_dest_groups.contains(g));
        out
    }

    /// The consumer groups whose offset sync is measured for a link: the configured list and
    /// pattern, or by default the groups the link's own `consumer.offset.group.filters` select.
    fn groups_of(
        &mut self,
        link: &str,
        configs: Option<&Vec<LinkConfigData>>,
        source: &str,
    ) -> Vec<String> {
        let exposition = self.exposition.clone();
        let settings = self.cluster.offset_sync.clone();
        let filters = config_value(configs, "consumer.offset.group.filters").map(str::to_owned);
        let mut groups: BTreeSet<String> = BTreeSet::new();
        let needs_listing = if settings.follows_link_filters() {
            groups.extend(link_filters::literal_includes(
                filters.as_deref(),
                "groupFilters",
            ));
            link_filters::has_patterns(filters.as_deref(), "groupFilters")
        } else {
            groups.extend(settings.groups.iter().cloned());
            settings.group_pattern.is_some()
        };
        if needs_listing {
            let endpoint = self.source_endpoint(source);
            let timeout = endpoint.timeout();
            let listed = endpoint
                .watermarks_client(&exposition)
                .and_then(|c| c.fetch_group_list(None, timeout));
            match listed {
                Ok(list) => {
                    for g in list.groups() {
                        let name = g.name();
                        let selected = match &settings.group_pattern {
                            Some(re) if !settings.follows_link_filters() => re.is_match(name),
                            _ => link_filters::includes(filters.as_deref(), "groupFilters", name),
                        };
                        if selected {
                            groups.insert(name.to_owned());
                        }
                    }
                }
                Err(e) => endpoint.fail(
                    &exposition,
                    "listing consumer groups (ListGroups) for offset sync",
                    &e,
                ),
            }
        }
        let mut groups: Vec<String> = groups.into_iter().collect();
        if groups.len() > settings.max_groups {
            tracing::warn!(
                kafka_cluster = %self.cluster.name,
                link,
                groups = groups.len(),
                max_groups = settings.max_groups,
                "more consumer groups than offset_sync.max_groups: measuring the first ones by name"
            );
            groups.truncate(settings.max_groups);
        }
        groups
    }

    fn render(
        &self,
        plans: &[MirrorPlan],
        results: &BTreeMap<MirrorPartition, PartitionResult>,
        sync_lags: &BTreeMap<(String, String, String), i64>,
    ) -> crate::metrics::RenderedCluster {
        let mut w = SampleWriter::new(&self.cluster.name);
        let mut link_lag_seconds: BTreeMap<&str, f64> = BTreeMap::new();
        for m in plans {
            let (l, t) = (m.link.as_str(), m.mirror_topic.as_str());
            let mut sum = 0i64;
            let mut max = 0i64;
            let mut measured = false;
            let mut seconds: Option<f64> = None;
            for p in 0..m.partitions {
                let Some(r) = results.get(&(m.link.clone(), m.mirror_topic.clone(), p)) else {
                    continue;
                };
                let partition = p.to_string();
                let labels = [l, t, partition.as_str()];
                let lag = match (r.destination, r.source) {
                    (Some(d), Some(s)) => Some(s.saturating_sub(d).max(0)),
                    _ => None,
                };
                if let Some(lag) = lag {
                    measured = true;
                    sum = sum.saturating_add(lag);
                    max = max.max(lag);
                }
                if let Some(s) = r.lag_seconds {
                    seconds = Some(seconds.map_or(s, |x: f64| x.max(s)));
                }
                if self.cluster.partition_metrics {
                    if let Some(d) = r.destination {
                        w.sample(F::PartitionDestHwm, &labels, d as f64);
                    }
                    if let Some(s) = r.source {
                        w.sample(F::PartitionSourceHwm, &labels, s as f64);
                    }
                    if let Some(lag) = lag {
                        w.sample(F::PartitionMeasuredLag, &labels, lag as f64);
                    }
                    if let Some(s) = r.lag_seconds {
                        w.sample(F::PartitionLagSeconds, &labels, s);
                    }
                }
            }
            if measured {
                w.sample(F::MirrorMeasuredLag, &[l, t], sum as f64);
                w.sample(F::MirrorMeasuredMaxLag, &[l, t], max as f64);
            }
            if let Some(s) = seconds {
                w.sample(F::MirrorLagSeconds, &[l, t], s);
                let entry = link_lag_seconds.entry(l).or_insert(0.0);
                *entry = entry.max(s);
            }
        }
        for (link, s) in link_lag_seconds {
            w.sample(F::LinkLagSeconds, &[link], s);
        }
        for ((link, group, topic), lag) in sync_lags {
            w.sample(F::OffsetSyncLag, &[link, group, topic], *lag as f64);
        }
        w.finish()
    }

    /// Starts the probe of each configured link once its source cluster is known.
    fn ensure_probes(&mut self, data: &ClusterData) {
        for probe in self.cluster.probes.clone() {
            if self.probes.contains_key(&probe.link) {
                continue;
            }
            let Some(link) = data.links.iter().find(|l| l.link_name == probe.link) else {
                continue;
            };
            let Some(source) = self.source_of(&link.link_name, link.source_cluster_id.as_deref())
            else {
                tracing::warn!(kafka_cluster = %self.cluster.name, link = %probe.link, "probe not started: no source cluster configured for the link");
                continue;
            };
            let prefix = config_value(data.configs.get(&link.link_name), "cluster.link.prefix")
                .unwrap_or("");
            let target = ProbeTarget {
                mirror_topic: probe
                    .mirror_topic
                    .clone()
                    .unwrap_or_else(|| format!("{prefix}{}", probe.topic)),
                source: self.source_endpoint(&source).conn.clone(),
                destination: self.destination.conn.clone(),
                config: probe.clone(),
            };
            match probe::spawn(target, self.exposition.clone(), &self.shutdown) {
                Ok(handle) => {
                    self.probes.insert(probe.link.clone(), handle);
                }
                Err(e) => {
                    tracing::error!(kafka_cluster = %self.cluster.name, link = %probe.link, error = %e, "probe thread could not start")
                }
            }
        }
    }
}

/// The measurer thread's body: runs a [`Measurer`] and, after each panic, a new one after a
/// [`RestartBackoff`], until shutdown or the snapshot channel closes.
fn supervise(
    cluster: ClusterConfig,
    sources: Vec<SourceClusterConfig>,
    exposition: Arc<Exposition>,
    snapshots: Receiver<Arc<ClusterData>>,
    shutdown: StopSignal,
) {
    let restarts = supervise::restart_counter(&exposition, &cluster.name, Worker::Measurer);
    let stops = Stops::under(&shutdown);
    let mut backoff = RestartBackoff::default();
    loop {
        let started = Instant::now();
        let Some(mut measurer) = Measurer::new(
            cluster.clone(),
            sources.clone(),
            exposition.clone(),
            shutdown.clone(),
        ) else {
            break;
        };
        let failure = match supervise::catch(|| measurer.run(&snapshots)) {
            Ok(Ended::Stopped | Ended::Disconnected) => break,
            Err(failure) => failure,
        };
        if stops.is_stopped() {
            break;
        }
        let wait = backoff.next(started.elapsed());
        measurer.mark_down();
        // Stops and joins its probes; they start again with the next measurer.
        drop(measurer);
        restarts.inc();
        tracing::error!(
            kafka_cluster = %cluster.name,
            worker = Worker::Measurer.as_str(),
            error = %failure,
            restart_in_ms = wait.as_millis() as u64,
            "worker failed; withdrew the cluster's Kafka-side series, restarting it"
        );
        if stops.sleep(wait) {
            break;
        }
    }
    tracing::debug!(kafka_cluster = %cluster.name, "kafka measurer stopped");
}

/// Partitions measured on the word of `num_partitions` alone (mirror topics whose response
/// lists no partition lags), over all mirror topics of one cycle.
const MAX_CLAIMED_PARTITIONS: i64 = 100_000;

/// How many partitions (`0..n`) of a mirror topic to measure: as many as its `mirror_lags`
/// lists (one entry per partition), at most `num_partitions`; when it lists none,
/// `num_partitions` taken out of `claims_left`, so what a cycle measures is bounded by what
/// the responses contain, never by what they claim. Never negative.
fn partitions_to_measure(m: &MirrorData, claims_left: &mut i64) -> i32 {
    let claimed = m.num_partitions.filter(|n| *n >= 0);
    let listed = i64::try_from(m.mirror_lags.len()).unwrap_or(i64::MAX);
    let n = if listed > 0 {
        claimed.map_or(listed, |c| c.min(listed))
    } else {
        let n = claimed.unwrap_or(0).min(*claims_left).max(0);
        *claims_left -= n;
        n
    };
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn config_enabled(configs: Option<&Vec<LinkConfigData>>, name: &str) -> bool {
    config_value(configs, name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest_client::MirrorLagData;

    fn mirror(num_partitions: Option<i64>, listed: usize) -> MirrorData {
        MirrorData {
            num_partitions,
            mirror_lags: (0..listed)
                .map(|p| MirrorLagData {
                    partition: p as i32,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn partitions_come_from_what_the_response_lists_not_what_it_claims() {
        let mut left = MAX_CLAIMED_PARTITIONS;
        // The claim: i32::MAX partitions with three listed measures three.
        assert_eq!(
            partitions_to_measure(&mirror(Some(i32::MAX.into()), 3), &mut left),
            3
        );
        assert_eq!(partitions_to_measure(&mirror(Some(2), 3), &mut left), 2);
        assert_eq!(partitions_to_measure(&mirror(None, 4), &mut left), 4);
        assert_eq!(partitions_to_measure(&mirror(Some(-1), 4), &mut left), 4);
        assert_eq!(
            left, MAX_CLAIMED_PARTITIONS,
            "listed partitions use no claims"
        );
        // Nothing listed: the claim, out of the cycle's bound.
        assert_eq!(partitions_to_measure(&mirror(Some(6), 0), &mut left), 6);
        assert_eq!(partitions_to_measure(&mirror(Some(-6), 0), &mut left), 0);
        assert_eq!(partitions_to_measure(&mirror(None, 0), &mut left), 0);
        let mut total = 6;
        for _ in 0..10 {
            total += i64::from(partitions_to_measure(&mirror(Some(i64::MAX), 0), &mut left));
        }
        assert_eq!(total, MAX_CLAIMED_PARTITIONS);
        assert_eq!(left, 0);
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(256))]

        /// Whatever the claims, a cycle measures at most what the responses list plus the
        /// bound on claims, and never a negative count.
        #[test]
        fn planned_partitions_are_bounded_by_what_is_listed(
            mirrors in proptest::collection::vec(
                (proptest::option::of(proptest::num::i64::ANY), 0usize..50), 0..200),
        ) {
            let mut left = MAX_CLAIMED_PARTITIONS;
            let mut total = 0i64;
            let mut listed = 0i64;
            for (claim, n) in mirrors {
                let p = partitions_to_measure(&mirror(claim, n), &mut left);
                proptest::prop_assert!(p >= 0);
                proptest::prop_assert!(n == 0 || p as usize <= n, "{} of {} listed", p, n);
                total += i64::from(p);
                listed += n as i64;
            }
            proptest::prop_assert!(total <= listed + MAX_CLAIMED_PARTITIONS, "{} > {}", total, listed);
            proptest::prop_assert!(left >= 0);
        }
    }
}
