//! The Kafka-side measurement loop of one destination cluster, on its own thread.
//!
//! After each successful REST collection the collector hands over its
//! [`ClusterSnapshot`]. A cycle then:
//!
//! 1. reads the destination high watermark of every partition of every monitored mirror topic
//!    (`STOPPED` mirrors are regular topics and are skipped; see `kafka/plan.rs`) — one
//!    `ListOffsets` request per leader broker for each 1 000 partitions, via
//!    `rd_kafka_offsets_for_times` with the "latest" timestamp;
//! 2. reads the source high watermarks the same way, *after* the destination's, so measured lag
//!    (source − destination) is never negative by construction, then the source log-start
//!    offsets of the partitions whose destination is behind (one more `ListOffsets` per source
//!    broker and 1 000 of them, "earliest"; a caught-up partition lost nothing): records the
//!    source deleted before the mirror fetched them are source log-start − destination high
//!    watermark, when positive;
//! 3. for lagging partitions, most lagging first and within a per-cycle budget, reads the source
//!    record at the destination's high watermark: now minus its timestamp is the partition's lag
//!    in seconds (0 when caught up), cached by offset so a stuck partition costs one read;
//! 4. for links with `consumer.offset.sync.enable`, compares each group's committed offsets on
//!    the source and on the destination (there only the partitions it committed on at the
//!    source), and splits the difference with the destination high
//!    watermarks of step 1 (no extra request) into what a fail-over now would lose and
//!    re-process;
//! 5. derives the replication and source write rates (records per second) from the
//!    watermarks' increase since the previous cycle (none on the first cycle, after a failed
//!    one, or when a watermark went down);
//! 6. for `STOPPED` mirror topics within `old_source_writes.window` of their stop, reads the
//!    source topic's high watermarks in the same batch as step 2 (no extra request) and counts
//!    the records written there since the link's last fetch before the stop (REST
//!    `last_source_fetch_offset`; a partition never fetched: since the first read after the
//!    stop): writes to the old source after a fail-over;
//! 7. for each source read, its topics' partition counts (one `Metadata` request for all
//!    topics) and `retention.ms` (one `DescribeConfigs` request for every source topic of its
//!    mirror topics), cached: read again after `source_topics.refresh_interval` or when the
//!    set of source topics or a mirror topic's partition count changed, so most cycles send
//!    neither. Source partitions a mirror topic lacks are exported, not measured (the cycle
//!    measures the partitions REST lists);
//! 8. publishes all of it as the cluster's [`KafkaSnapshot`] (rendered by [`crate::render`],
//!    kept for the status page by [`crate::status`]); each connection's up/down and last
//!    error go to the status store beside `clusterlink_kafka_up`.
//!
//! A connection that fails marks only what depends on it: a source that is down withdraws the
//! source-side series of its links and leaves the destination's. So does a connection whose
//! brokers report another cluster id than expected (`kafka/identity.rs`: the destination's
//! must be the REST API's, handed over with each snapshot as a [`Collected`]), checked after
//! each read of its watermarks from librdkafka's cache (no request): what it read is dropped,
//! and the probes that use it send nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;

use super::connection_clients::ConnectionClients;
use super::identity::{self, Expected};
use super::plan::{self, MirrorPartition, MirrorPlan, TopicPartition};
use super::probe::{self, ProbeTarget};
use super::retention_notice;
use super::source_topics::{self, SourceTopicCache};
use super::{Connection, MeasurerOutputs, Role};
use crate::config::{ClusterConfig, SourceClusterConfig};
use crate::snapshot::{
    ClusterSnapshot, KafkaSnapshot, Link, MeasuredMirror, MeasuredPartition, OffsetSyncLag,
    SourceRead, StoppedMirror,
};
use crate::supervise::{self, RestartBackoff, StopSignal, Stops, Worker};
use crate::util::{unix_ms, ClusterLabels};

/// What the cycle measured per mirror partition.
type Results = BTreeMap<MirrorPartition, MeasuredPartition>;

/// What the collector hands the measurer after each successful REST cycle.
#[derive(Clone, Debug)]
pub(crate) struct Collected {
    /// The cluster id the REST API serves, which the destination's brokers must report
    /// (`None`: not known, nothing to compare).
    pub(crate) cluster_id: Option<String>,
    /// What the cycle read.
    pub(crate) snapshot: Arc<ClusterSnapshot>,
}

/// Handle of a running measurer thread (the measurer under its supervisor).
#[derive(Debug)]
pub(crate) struct MeasurerHandle {
    thread: JoinHandle<()>,
}

impl MeasurerHandle {
    /// Waits for the thread (after the sender side closed or the shutdown was signalled).
    pub(crate) fn join(self) {
        let _ = self.thread.join();
    }
}

/// The measurer of one destination cluster.
pub(crate) struct Measurer {
    cluster: ClusterConfig,
    sources: Vec<SourceClusterConfig>,
    outputs: MeasurerOutputs,
    destination: ConnectionClients,
    source_endpoints: BTreeMap<String, ConnectionClients>,
    /// Running probes by link; dropping a handle stops and joins its probe.
    probes: BTreeMap<String, probe::ProbeHandle>,
    /// Links whose probe could not start for want of a source cluster, already logged (once
    /// per link until its probe starts, not at every cycle).
    unsourced_probes: BTreeSet<String>,
    /// The exporter's shutdown (this measurer's own stop: the snapshot channel closing).
    shutdown: StopSignal,
    /// The previous successful cycle's watermarks and when its destination read started: the
    /// other end of the rates; cleared when a cycle fails.
    previous: Option<(Instant, Results)>,
    /// Per watched `STOPPED` mirror topic (link, mirror topic): the baseline of each partition
    /// and the records counted since (see [`plan::StopWatch`]). A restart takes the same REST
    /// offsets again; only a partition never fetched starts again from the first read after it.
    stop_baselines: BTreeMap<(String, String), plan::StopWatch>,
    /// The source topics' partition counts and retention, by source cluster (step 7).
    source_topics: BTreeMap<String, SourceTopicCache>,
    /// The cluster id the REST API serves, from the last [`Collected`].
    rest_cluster_id: Option<String>,
    /// The cluster ids each source's brokers must report, by source name, as of the cycle's
    /// snapshot.
    expected_sources: BTreeMap<String, Vec<Expected>>,
}

impl Measurer {
    /// Starts the measurer thread of `cluster` (which must have a `kafka` section), under a
    /// supervisor: a panic withdraws the cluster's Kafka-side series, sets its
    /// `clusterlink_kafka_up` to 0, is logged and counted, and a new measurer starts after a
    /// back-off. It measures after each snapshot received on `snapshots` (and again with the
    /// last one when none came for two poll intervals) until `snapshots` closes or `shutdown`
    /// is signalled.
    pub(crate) fn spawn(
        cluster: ClusterConfig,
        sources: Vec<SourceClusterConfig>,
        outputs: MeasurerOutputs,
        snapshots: Receiver<Collected>,
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
            .spawn(move || supervise(cluster, sources, outputs, snapshots, shutdown))?;
        Ok(MeasurerHandle { thread })
    }

    /// A measurer of `cluster` (`None` when it has no `kafka` section).
    fn new(
        cluster: ClusterConfig,
        sources: Vec<SourceClusterConfig>,
        outputs: MeasurerOutputs,
        shutdown: StopSignal,
    ) -> Option<Self> {
        let kafka = cluster.kafka.clone()?;
        let destination = ConnectionClients::new(
            Connection::new(
                &cluster.name,
                &cluster.name,
                Role::Destination,
                kafka,
                outputs.status.clone(),
            ),
            shutdown.clone(),
        );
        destination.conn.init_errors(&outputs.metrics);
        Some(Self {
            cluster,
            sources,
            outputs,
            destination,
            source_endpoints: BTreeMap::new(),
            probes: BTreeMap::new(),
            unsourced_probes: BTreeSet::new(),
            shutdown,
            previous: None,
            stop_baselines: BTreeMap::new(),
            source_topics: BTreeMap::new(),
            rest_cluster_id: None,
            expected_sources: BTreeMap::new(),
        })
    }

    /// Measures until shutdown is signalled or the collector's side of the snapshot channel
    /// is gone (the exporter is stopping).
    fn run(&mut self, snapshots: &Receiver<Collected>) {
        let mut latest: Option<Arc<ClusterSnapshot>> = None;
        let mut last_measured = Instant::now();
        let stale_after = self.cluster.poll_interval.saturating_mul(2);
        while !self.shutdown.is_stopped() {
            let mut fresh = false;
            match snapshots.recv_timeout(Duration::from_millis(200)) {
                Ok(c) => {
                    latest = Some(self.take(c));
                    fresh = true;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            while let Ok(c) = snapshots.try_recv() {
                latest = Some(self.take(c));
            }
            self.poll_clients();
            let Some(data) = latest.clone() else {
                continue;
            };
            if fresh || last_measured.elapsed() >= stale_after {
                last_measured = Instant::now();
                self.steer_probes(&data);
                self.measure(&data);
                self.ensure_probes(&data);
            }
        }
    }

    /// Keeps the REST cluster id of `collected` and returns its snapshot.
    fn take(&mut self, collected: Collected) -> Arc<ClusterSnapshot> {
        self.rest_cluster_id = collected.cluster_id;
        collected.snapshot
    }

    /// After a failure: every connection of this measurer reads `clusterlink_kafka_up 0` and
    /// the cluster's Kafka-side series are withdrawn until a new measurer has measured.
    fn mark_down(&self) {
        self.destination.set_up(&self.outputs.metrics, false);
        for e in self.source_endpoints.values() {
            e.set_up(&self.outputs.metrics, false);
        }
        self.outputs.publish.publish_kafka(&self.cluster.name, None);
    }

    fn poll_clients(&self) {
        self.destination.poll();
        for e in self.source_endpoints.values() {
            e.poll();
        }
    }

    /// The cluster ids the brokers of source `name` must report this cycle.
    fn expected_source(&self, name: &str) -> Vec<Expected> {
        self.expected_sources.get(name).cloned().unwrap_or_default()
    }

    /// The configured source cluster of a link, if any.
    fn source_of(&self, link: &Link) -> Option<String> {
        self.sources
            .iter()
            .find(|s| s.serves(&link.name, link.source_cluster_id.as_deref()))
            .map(|s| s.name.clone())
    }

    fn source_endpoint(&mut self, name: &str) -> &mut ConnectionClients {
        if !self.source_endpoints.contains_key(name) {
            let config = self
                .sources
                .iter()
                .find(|s| s.name == name)
                .expect("source names come from the config")
                .kafka
                .clone();
            let endpoint = ConnectionClients::new(
                Connection::new(
                    &self.cluster.name,
                    name,
                    Role::Source,
                    config,
                    self.outputs.status.clone(),
                ),
                self.shutdown.clone(),
            );
            endpoint.conn.init_errors(&self.outputs.metrics);
            self.source_endpoints.insert(name.to_owned(), endpoint);
        }
        self.source_endpoints.get_mut(name).expect("just inserted")
    }

    /// One measurement cycle over `snapshot`: publishes what it measured, or withdraws the
    /// cluster's Kafka-side series when the destination's watermarks cannot be read.
    pub(crate) fn measure(&mut self, snapshot: &ClusterSnapshot) {
        supervise::checkpoint(&self.cluster.name, Worker::Measurer);
        let started = Instant::now();
        let measured = self.measure_snapshot(snapshot);
        let publish = &self.outputs.publish;
        match measured {
            Some((measured, unread)) => {
                publish.publish_kafka(&self.cluster.name, Some(Arc::new(measured)));
                self.finish(started, unread, true);
            }
            None => {
                publish.publish_kafka(&self.cluster.name, None);
                self.finish(started, 0, false);
            }
        }
    }

    /// Steps 1 to 5 of a cycle: what was measured and how many lagging partitions' lag in
    /// seconds was not read; `None` when the destination's watermarks could not be read.
    fn measure_snapshot(&mut self, snapshot: &ClusterSnapshot) -> Option<(KafkaSnapshot, usize)> {
        self.expected_sources = self
            .sources
            .iter()
            .map(|s| (s.name.clone(), identity::source(s, &snapshot.links)))
            .collect();
        let plans = self.plan(snapshot);
        let stopped = self.stopped_plans(snapshot);
        let read_at = Instant::now();
        // 1. Destination first: the source is read after it, so lag is never negative.
        let Some(mut results) = self.destination_watermarks(&plans) else {
            self.previous = None;
            self.check_sources(&plans);
            return None;
        };
        // 2, 3. Each source's high watermarks, then lag in seconds.
        let source_names: BTreeSet<String> = plans
            .iter()
            .chain(&stopped)
            .filter_map(|m| m.source.clone())
            .collect();
        self.source_topics
            .retain(|s, _| source_names.contains(s.as_str()));
        let mut healthy_sources = BTreeSet::new();
        let mut unread = 0usize;
        let mut stopped_hwm = HashMap::new();
        for name in source_names {
            let measured =
                self.measure_source(&name, &plans, &stopped, &mut results, &mut stopped_hwm);
            if let Some(u) = measured {
                unread += u;
                healthy_sources.insert(name);
            }
        }
        // A source that failed leaves its partitions without source-side values.
        for m in &plans {
            if m.source
                .as_ref()
                .is_some_and(|s| !healthy_sources.contains(s))
            {
                for p in 0..m.partitions {
                    if let Some(r) = results.get_mut(&m.key(p)) {
                        r.source = None;
                        r.lag_seconds = None;
                        r.lost_to_retention = None;
                    }
                }
            }
        }
        // 4. Consumer offset sync.
        let offset_sync = if self.cluster.offset_sync.enabled {
            self.offset_sync_lags(snapshot, &plans, &healthy_sources, &results)
        } else {
            Vec::new()
        };
        // 5. Rates since the previous cycle.
        let previous = self.previous.take();
        let rates = |m: &MirrorPlan, side: fn(&MeasuredPartition) -> Option<i64>| {
            let (at, before) = previous.as_ref()?;
            let seconds = read_at.saturating_duration_since(*at).as_secs_f64();
            let pairs = (0..m.partitions).map(|p| {
                let key = m.key(p);
                (
                    before.get(&key).and_then(side),
                    results.get(&key).and_then(side),
                )
            });
            plan::rate(pairs, seconds)
        };
        let sources = plans
            .iter()
            .map(|m| {
                let read = match &m.source {
                    None => SourceRead::NotConfigured,
                    Some(s) if healthy_sources.contains(s) => SourceRead::Read,
                    Some(_) => SourceRead::Failed,
                };
                (m.link.clone(), read)
            })
            .collect();
        let mirrors = plans
            .iter()
            .map(|m| {
                let facts = m
                    .source
                    .as_ref()
                    .filter(|s| healthy_sources.contains(*s))
                    .and_then(|s| self.source_topics.get(s));
                let source_partitions = facts.and_then(|f| f.partitions(&m.source_topic));
                MeasuredMirror {
                    link: m.link.clone(),
                    mirror_topic: m.mirror_topic.clone(),
                    partitions: (0..m.partitions)
                        .filter_map(|p| results.get(&m.key(p)).copied())
                        .collect(),
                    replication_rate: rates(m, |r| r.destination),
                    source_rate: rates(m, |r| r.source),
                    source_partitions,
                    unmirrored_partitions: source_topics::unmirrored_partitions(
                        source_partitions,
                        m.mirror_partitions,
                    ),
                    source_retention_seconds: facts
                        .and_then(|f| f.retention(&m.source_topic))
                        .and_then(|r| r.seconds()),
                }
            })
            .collect();
        self.previous = Some((read_at, results));
        let measured = KafkaSnapshot {
            mirrors,
            offset_sync,
            partition_metrics: self.cluster.partition_metrics,
            stopped: self.since_stop(&stopped, &healthy_sources, &stopped_hwm),
            sources,
        };
        Some((measured, unread))
    }

    /// The destination's high watermarks of every planned partition (`None`, counted and
    /// logged, when they cannot be read).
    fn destination_watermarks(&mut self, plans: &[MirrorPlan]) -> Option<Results> {
        let metrics = self.outputs.metrics.clone();
        let partitions: BTreeSet<TopicPartition> =
            plans.iter().flat_map(|m| m.mirror_partitions()).collect();
        let hwm = match self.destination.high_watermarks(&metrics, &partitions) {
            Ok(h) => h,
            Err(e) => {
                self.destination
                    .fail(&metrics, "reading destination high watermarks", &e);
                self.destination.set_up(&metrics, false);
                return None;
            }
        };
        let expected = identity::destination(&self.cluster, self.rest_cluster_id.as_deref());
        let right = self.destination.reaches(&metrics, &expected);
        self.destination.set_up(&metrics, right);
        if !right {
            return None;
        }
        let mut results = Results::new();
        for m in plans {
            for p in 0..m.partitions {
                let r = MeasuredPartition {
                    partition: p,
                    destination: hwm.get(&(m.mirror_topic.clone(), p)).copied(),
                    ..Default::default()
                };
                results.insert(m.key(p), r);
            }
        }
        Some(results)
    }

    /// With the destination down, each source connection is still tried (its watermarks
    /// read and dropped), so that its `clusterlink_kafka_up` and status line say whether it
    /// works too: a user fixing a configuration sees every broken connection at once.
    fn check_sources(&mut self, plans: &[MirrorPlan]) {
        let metrics = self.outputs.metrics.clone();
        let names: BTreeSet<String> = plans.iter().filter_map(|m| m.source.clone()).collect();
        for name in names {
            let partitions: BTreeSet<TopicPartition> = plans
                .iter()
                .filter(|m| m.source.as_deref() == Some(name.as_str()))
                .flat_map(|m| m.source_partitions())
                .collect();
            let expected = self.expected_source(&name);
            let endpoint = self.source_endpoint(&name);
            match endpoint.high_watermarks(&metrics, &partitions) {
                Ok(_) => {
                    let right = endpoint.reaches(&metrics, &expected);
                    endpoint.set_up(&metrics, right);
                }
                Err(e) => {
                    endpoint.fail(&metrics, "reading source high watermarks", &e);
                    endpoint.set_up(&metrics, false);
                }
            }
        }
    }

    /// Steps 2 and 3 for the mirror topics of source cluster `name` (and the source high
    /// watermarks of its watched `STOPPED` mirror topics, in the same batch, into
    /// `stopped_hwm`): the lagging partitions whose lag in seconds was not read, or `None`
    /// when the source failed.
    fn measure_source(
        &mut self,
        name: &str,
        plans: &[MirrorPlan],
        stopped: &[MirrorPlan],
        results: &mut Results,
        stopped_hwm: &mut HashMap<TopicPartition, i64>,
    ) -> Option<usize> {
        let metrics = self.outputs.metrics.clone();
        let mine: Vec<&MirrorPlan> = plans
            .iter()
            .filter(|m| m.source.as_deref() == Some(name))
            .collect();
        let partitions: BTreeSet<TopicPartition> =
            mine.iter().flat_map(|m| m.source_partitions()).collect();
        let watched: BTreeSet<TopicPartition> = stopped
            .iter()
            .filter(|m| m.source.as_deref() == Some(name))
            .flat_map(|m| m.source_partitions())
            .collect();
        let expected = self.expected_source(name);
        let endpoint = self.source_endpoint(name);
        let both: BTreeSet<TopicPartition> = partitions.union(&watched).cloned().collect();
        let hwm = match endpoint.high_watermarks(&metrics, &both) {
            Ok(h) => h,
            Err(e) => {
                endpoint.fail(&metrics, "reading source high watermarks", &e);
                endpoint.set_up(&metrics, false);
                return None;
            }
        };
        let right = endpoint.reaches(&metrics, &expected);
        endpoint.set_up(&metrics, right);
        if !right {
            return None;
        }
        self.refresh_source_topics(name, &mine);
        let endpoint = self.source_endpoint(name);
        for tp in &watched {
            if let Some(o) = hwm.get(tp) {
                stopped_hwm.insert(tp.clone(), *o);
            }
        }
        let mut behind = BTreeSet::new();
        for m in &mine {
            for p in 0..m.partitions {
                if let Some(r) = results.get_mut(&m.key(p)) {
                    let tp = (m.source_topic.clone(), p);
                    r.source = hwm.get(&tp).copied();
                    if !plan::caught_up(r.destination, r.source) {
                        behind.insert(tp);
                    }
                }
            }
        }
        // Log-start offsets of the partitions behind alone. A failure is counted and shown,
        // and leaves only the records lost to retention unknown (the watermarks were read: the
        // connection stays up).
        let log_starts = match endpoint.log_start_offsets(&metrics, &behind) {
            Ok(l) => Some(l),
            Err(e) => {
                endpoint.fail(&metrics, "reading source log-start offsets", &e);
                None
            }
        };
        for m in &mine {
            for p in 0..m.partitions {
                if let Some(r) = results.get_mut(&m.key(p)) {
                    let tp = (m.source_topic.clone(), p);
                    r.lost_to_retention = log_starts.as_ref().and_then(|l| {
                        let log_start = match behind.contains(&tp) {
                            true => l.get(&tp).copied(),
                            false => r.destination, // caught up: none lost
                        };
                        plan::lost_to_retention(r.destination, log_start)
                    });
                }
            }
        }
        if !self.cluster.lag_seconds.enabled {
            return Some(0);
        }
        Some(self.lag_seconds(name, &mine, results))
    }

    /// Step 7: reads the partition counts and `retention.ms` of the source topics of `mine`
    /// on source `name` when its cache is due (see `kafka/source_topics.rs`). A failure is
    /// counted and shown as any other and keeps the facts of the last read that succeeded.
    fn refresh_source_topics(&mut self, name: &str, mine: &[&MirrorPlan]) {
        let settings = self.cluster.source_topics.clone();
        if !settings.enabled {
            return;
        }
        let wanted = source_topics::wanted(
            mine.iter()
                .map(|m| (m.source_topic.as_str(), m.mirror_partitions)),
        );
        let now = Instant::now();
        let cache = self.source_topics.entry(name.to_owned()).or_default();
        if !cache.due(&wanted, now, settings.refresh_interval) {
            return;
        }
        let asks = cache.asks_retention(now);
        let metrics = self.outputs.metrics.clone();
        let endpoint = self.source_endpoint(name);
        let partitions = match endpoint.partition_counts(&metrics) {
            Ok(p) => Some(p),
            Err(e) => {
                let what = "reading source topic partition counts (Metadata)";
                endpoint.fail(&metrics, what, &e);
                None
            }
        };
        let retention = if asks {
            let read = self.read_retentions(name, &source_topics::names(&wanted));
            let cache = self.source_topics.entry(name.to_owned()).or_default();
            cache.retention_read(read.is_some(), now, settings.refresh_interval);
            read
        } else {
            None
        };
        let cache = self.source_topics.entry(name.to_owned()).or_default();
        cache.refreshed(wanted, now, partitions, retention);
    }

    /// The `retention.ms` of `topics` on source `name` (`None` when the read failed: the
    /// caller backs off, since librdkafka's mock cluster never answers DescribeConfigs and
    /// each try costs a request timeout). A failure is said as `retention_notice` says it.
    fn read_retentions(
        &mut self,
        name: &str,
        topics: &std::collections::BTreeSet<String>,
    ) -> Option<HashMap<String, source_topics::Retention>> {
        let metrics = self.outputs.metrics.clone();
        let endpoint = self.source_endpoint(name);
        match endpoint.retentions(&metrics, topics) {
            Ok(r) => {
                retention_notice::read(endpoint);
                Some(r)
            }
            Err(e) => {
                retention_notice::unread(endpoint, &metrics, &e);
                None
            }
        }
    }

    /// Step 3: lag in seconds of the lagging partitions of `mine`, read from source `name`
    /// within the cycle's budget; returns how many were not read.
    fn lag_seconds(&mut self, name: &str, mine: &[&MirrorPlan], results: &mut Results) -> usize {
        let metrics = self.outputs.metrics.clone();
        let lagging = plan::lagging(mine, results);
        let wanted: Vec<(TopicPartition, i64)> = lagging
            .iter()
            .map(|l| (l.source.clone(), l.offset))
            .collect();
        let budget = self.cluster.lag_seconds.max_reads_per_cycle;
        let timeout = self.cluster.lag_seconds.read_timeout;
        let endpoint = self.source_endpoint(name);
        let (timestamps, read) = endpoint.record_timestamps(&metrics, &wanted, budget, timeout);
        let labels = ClusterLabels::of(&self.cluster.name);
        metrics.lag_reads.get_or_create(&labels).inc_by(read as u64);
        let now_ms = unix_ms();
        let mut unread = 0;
        for l in &lagging {
            match (timestamps.get(&l.source), results.get_mut(&l.key)) {
                (Some(ts), Some(r)) => r.lag_seconds = Some(plan::lag_seconds(now_ms, *ts)),
                (Some(_), None) => {}
                (None, _) => unread += 1,
            }
        }
        unread
    }

    fn finish(&self, started: Instant, unread: usize, succeeded: bool) {
        let labels = ClusterLabels::of(&self.cluster.name);
        let k = &self.outputs.metrics;
        k.duration
            .get_or_create(&labels)
            .set(started.elapsed().as_secs_f64());
        if succeeded {
            k.last_success
                .get_or_create(&labels)
                .set(unix_ms() as f64 / 1000.0);
        }
        k.lag_unread
            .get_or_create(&labels)
            .set(i64::try_from(unread).unwrap_or(i64::MAX));
        k.cycles.get_or_create(&labels).inc();
    }

    /// The mirror topics to measure ([`plan::plan`]), warning when the claims of topics that
    /// list no partitions pass the bound.
    fn plan(&self, snapshot: &ClusterSnapshot) -> Vec<MirrorPlan> {
        let (plans, over) = plan::plan(snapshot, |l| self.source_of(l));
        if let Some(claimed) = over {
            tracing::warn!(
                kafka_cluster = %self.cluster.name,
                claimed,
                measured = plan::MAX_CLAIMED_PARTITIONS,
                "mirror topics listed without partition lags claim more partitions than are measured in one cycle; the rest are left out"
            );
        }
        plans
    }

    /// The `STOPPED` mirror topics whose old source is watched ([`plan::stopped_plans`]): none
    /// when `old_source_writes` is off, and never a probe's mirror topic (the probe topic is
    /// the exporter's own: its writes are probe records, and another replica's probe may
    /// still write for a poll interval after this one saw the stop); forgets the baselines
    /// of those no longer watched.
    fn stopped_plans(&mut self, snapshot: &ClusterSnapshot) -> Vec<MirrorPlan> {
        let settings = &self.cluster.old_source_writes;
        let stopped = if settings.enabled {
            let window_ms = i64::try_from(settings.window.as_millis()).unwrap_or(i64::MAX);
            let probes = self.probe_mirror_topics(snapshot);
            let mut stopped =
                plan::stopped_plans(snapshot, |l| self.source_of(l), unix_ms(), window_ms);
            stopped.retain(|m| !probes.contains(&(m.link.as_str(), m.mirror_topic.clone())));
            stopped
        } else {
            Vec::new()
        };
        let watched: BTreeSet<(&str, &str)> = stopped
            .iter()
            .map(|m| (m.link.as_str(), m.mirror_topic.as_str()))
            .collect();
        self.stop_baselines
            .retain(|(l, m), _| watched.contains(&(l.as_str(), m.as_str())));
        stopped
    }

    /// Step 6: the records written to each watched `STOPPED` mirror topic's source since the
    /// stop, from the source high watermarks read this cycle (the last count when its source
    /// failed, `None` before a first read: [`plan::StopWatch`]).
    fn since_stop(
        &mut self,
        stopped: &[MirrorPlan],
        healthy_sources: &BTreeSet<String>,
        hwm: &HashMap<TopicPartition, i64>,
    ) -> Vec<StoppedMirror> {
        stopped
            .iter()
            .map(|m| {
                let healthy = m
                    .source
                    .as_ref()
                    .is_some_and(|s| healthy_sources.contains(s));
                let now: Option<BTreeMap<i32, i64>> = healthy.then(|| {
                    (0..m.partitions)
                        .filter_map(|p| Some((p, *hwm.get(&(m.source_topic.clone(), p))?)))
                        .collect()
                });
                let key = (m.link.clone(), m.mirror_topic.clone());
                let since = self
                    .stop_baselines
                    .entry(key)
                    .or_default()
                    .update(now.as_ref(), &m.stop_offsets);
                StoppedMirror {
                    link: m.link.clone(),
                    mirror_topic: m.mirror_topic.clone(),
                    source_records_since_stop: since,
                }
            })
            .collect()
    }

    /// Step 4: offset-sync lag by (link, group, mirror topic), for links that sync offsets
    /// and whose source was read; closes the offset readers of groups no longer measured.
    fn offset_sync_lags(
        &mut self,
        snapshot: &ClusterSnapshot,
        plans: &[MirrorPlan],
        healthy_sources: &BTreeSet<String>,
        results: &Results,
    ) -> Vec<OffsetSyncLag> {
        let mut out = BTreeMap::new();
        let mut used_source_groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut used_dest_groups = BTreeSet::new();
        for link in &snapshot.links {
            if link.configs.consumer_offset_sync != Some(true) {
                continue;
            }
            let mine: Vec<&MirrorPlan> = plans.iter().filter(|m| m.link == link.name).collect();
            let Some(source) = mine.first().and_then(|m| m.source.clone()) else {
                continue;
            };
            if !healthy_sources.contains(&source) {
                continue;
            }
            for group in self.groups_of(link, &source) {
                used_source_groups
                    .entry(source.clone())
                    .or_default()
                    .insert(group.clone());
                let lags = self.group_lags(
                    link,
                    &mine,
                    (&source, &group),
                    results,
                    &mut used_dest_groups,
                );
                for (topic, lag) in lags {
                    out.insert((link.name.clone(), group.clone(), topic), lag);
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
        out.into_iter()
            .map(
                |((link, consumer_group, mirror_topic), lag)| OffsetSyncLag {
                    link,
                    consumer_group,
                    mirror_topic,
                    lag: lag.lag,
                    unreplicated: lag.unreplicated,
                    unsynced: lag.unsynced,
                },
            )
            .collect()
    }

    /// The offset-sync lag of `group` on each mirror topic of `mine` it committed on (none
    /// when a read fails: counted and logged; its destination offsets read for the partitions
    /// it committed on at the source alone), split with the destination high watermarks of
    /// `results` (read in this cycle: no extra request); the group's destination name goes
    /// into `used_dest_groups`.
    fn group_lags(
        &mut self,
        link: &Link,
        mine: &[&MirrorPlan],
        (source, group): (&str, &str),
        results: &Results,
        used_dest_groups: &mut BTreeSet<String>,
    ) -> Vec<(String, plan::SyncLag)> {
        let metrics = self.outputs.metrics.clone();
        let source_partitions: BTreeSet<TopicPartition> =
            mine.iter().flat_map(|m| m.source_partitions()).collect();
        let endpoint = self.source_endpoint(source);
        let on_source = match endpoint.committed(&metrics, group, &source_partitions) {
            Ok(c) => c,
            Err(e) => {
                let what = format!("reading committed offsets of group {group:?}");
                endpoint.fail(&metrics, &what, &e);
                return Vec::new();
            }
        };
        if on_source.is_empty() {
            return Vec::new(); // no commit: no series
        }
        // On the destination, only the partitions the group committed on at the source: the
        // lag is counted there alone (a group commits on a few of a link's topics, not all).
        let committed_topics: BTreeSet<&str> = on_source.keys().map(|(t, _)| t.as_str()).collect();
        let dest_partitions: BTreeSet<TopicPartition> = mine
            .iter()
            .filter(|m| committed_topics.contains(m.source_topic.as_str()))
            .flat_map(|m| {
                (0..m.partitions)
                    .filter(|p| on_source.contains_key(&(m.source_topic.clone(), *p)))
                    .map(|p| (m.mirror_topic.clone(), p))
            })
            .collect();
        let dest_group = format!("{}{group}", link.configs.destination_group_prefix());
        used_dest_groups.insert(dest_group.clone());
        let on_dest = match self
            .destination
            .committed(&metrics, &dest_group, &dest_partitions)
        {
            Ok(c) => c,
            Err(e) => {
                let what = format!("reading committed offsets of group {dest_group:?}");
                self.destination.fail(&metrics, &what, &e);
                return Vec::new();
            }
        };
        mine.iter()
            .filter_map(|m| {
                let hwm = |p| results.get(&m.key(p)).and_then(|r| r.destination);
                Some((
                    m.mirror_topic.clone(),
                    plan::sync_lag(m, &on_source, &on_dest, hwm)?,
                ))
            })
            .collect()
    }

    /// The consumer groups whose offset sync is measured for a link: the configured list and
    /// pattern, or by default the groups the link's own `consumer.offset.group.filters` select.
    fn groups_of(&mut self, link: &Link, source: &str) -> Vec<String> {
        let metrics = self.outputs.metrics.clone();
        let settings = self.cluster.offset_sync.clone();
        let filters = &link.configs.consumer_offset_group_filters;
        let mut groups: BTreeSet<String> = BTreeSet::new();
        let needs_listing = if settings.follows_link_filters() {
            groups.extend(filters.literal_includes().map(str::to_owned));
            filters.has_patterns()
        } else {
            groups.extend(settings.groups.iter().cloned());
            settings.group_pattern.is_some()
        };
        if needs_listing {
            let endpoint = self.source_endpoint(source);
            let timeout = endpoint.timeout();
            let listed = endpoint
                .watermarks_client(&metrics)
                .and_then(|c| c.fetch_group_list(None, timeout));
            match listed {
                Ok(list) => {
                    for g in list.groups() {
                        let name = g.name();
                        let selected = match &settings.group_pattern {
                            Some(re) if !settings.follows_link_filters() => re.is_match(name),
                            _ => filters.includes(name),
                        };
                        if selected {
                            groups.insert(name.to_owned());
                        }
                    }
                }
                Err(e) => endpoint.fail(
                    &metrics,
                    "listing consumer groups (ListGroups) for offset sync",
                    &e,
                ),
            }
        }
        let mut groups: Vec<String> = groups.into_iter().collect();
        if groups.len() > settings.max_groups {
            tracing::warn!(
                kafka_cluster = %self.cluster.name,
                link = %link.name,
                groups = groups.len(),
                max_groups = settings.max_groups,
                "more consumer groups than offset_sync.max_groups: measuring the first ones by name"
            );
            groups.truncate(settings.max_groups);
        }
        groups
    }

    /// (link, mirror topic) of each configured probe whose link the snapshot lists.
    fn probe_mirror_topics<'a>(
        &'a self,
        snapshot: &ClusterSnapshot,
    ) -> BTreeSet<(&'a str, String)> {
        self.cluster
            .probes
            .iter()
            .filter_map(|probe| {
                let link = snapshot.links.iter().find(|l| l.name == probe.link)?;
                Some((probe.link.as_str(), plan::probe_mirror_topic(probe, link)))
            })
            .collect()
    }

    /// Tells each running probe whether to send ([`plan::probe_sends`]): not once its mirror
    /// topic is promoted or failed over, nor while its source or the destination connection
    /// reaches another cluster than expected.
    fn steer_probes(&self, snapshot: &ClusterSnapshot) {
        for (link, handle) in &self.probes {
            let sends = plan::probe_sends(snapshot, link, handle.mirror_topic())
                && self.probe_connections_right(snapshot, link);
            handle.set_sending(sends);
        }
    }

    /// Whether neither the destination nor the source connection of `link`'s probe reached
    /// another cluster than expected at its last check.
    fn probe_connections_right(&self, snapshot: &ClusterSnapshot, link: &str) -> bool {
        let source = snapshot
            .links
            .iter()
            .find(|l| l.name == link)
            .and_then(|l| self.source_of(l))
            .and_then(|s| self.source_endpoints.get(&s));
        !self.destination.reaches_wrong_cluster()
            && !source.is_some_and(ConnectionClients::reaches_wrong_cluster)
    }

    /// Starts the probe of each configured link once its source cluster is known.
    fn ensure_probes(&mut self, snapshot: &ClusterSnapshot) {
        for probe in self.cluster.probes.clone() {
            if self.probes.contains_key(&probe.link) {
                continue;
            }
            let Some(link) = snapshot.links.iter().find(|l| l.name == probe.link) else {
                continue;
            };
            let Some(source) = self.source_of(link) else {
                if self.unsourced_probes.insert(probe.link.clone()) {
                    tracing::warn!(kafka_cluster = %self.cluster.name, link = %probe.link, "probe not started: no source cluster configured for the link");
                }
                continue;
            };
            self.unsourced_probes.remove(&probe.link);
            let mirror_topic = plan::probe_mirror_topic(&probe, link);
            let sending = plan::probe_sends(snapshot, &probe.link, &mirror_topic)
                && self.probe_connections_right(snapshot, &probe.link);
            let target = ProbeTarget {
                mirror_topic,
                source: self.source_endpoint(&source).conn.clone(),
                destination: self.destination.conn.clone(),
                config: probe.clone(),
            };
            match probe::spawn(target, sending, self.outputs.clone(), &self.shutdown) {
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
    outputs: MeasurerOutputs,
    snapshots: Receiver<Collected>,
    shutdown: StopSignal,
) {
    let restarts = outputs.restarts.counter(&cluster.name, Worker::Measurer);
    let stops = Stops::under(&shutdown);
    let mut backoff = RestartBackoff::default();
    loop {
        let started = Instant::now();
        let Some(mut measurer) = Measurer::new(
            cluster.clone(),
            sources.clone(),
            outputs.clone(),
            shutdown.clone(),
        ) else {
            break;
        };
        let failure = match supervise::catch(|| measurer.run(&snapshots)) {
            Ok(()) => break,
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
            worker = %Worker::Measurer,
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
