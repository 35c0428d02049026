//! The mirroring engine: one fetcher thread per cluster link.
//!
//! A fetcher consumes every mirrored source partition over the Kafka protocol and produces
//! each record, in order, into the same partition of the mirror topic on the destination —
//! key, value, headers and timestamp kept, so destination offsets equal source offsets. It
//! also runs the link's availability checks, consumer offset sync and mirror auto-creation,
//! and writes what it observed into the shared [`World`](super::World), from which the link,
//! mirror and task states are derived ([`super::model`]).
//!
//! Source records deleted before the fetcher copied them (`source_retention`, or an
//! out-of-range fetch) are a gap that stays visible for one availability-check interval and is
//! then filled with placeholder records ([`PLACEHOLDER_HEADER`]), so destination offsets stay
//! equal to source offsets. A stalled fetcher (`stall_fetcher`) copies nothing and reads the
//! source's high watermarks with ListOffsets instead.
//!
//! librdkafka calls block, so fetchers are plain threads, never tokio tasks.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Header, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{BaseProducer, BaseRecord, ProducerContext};
use rdkafka::statistics::Statistics;
use rdkafka::{Offset, TopicPartitionList};

use super::model::{now_ms, TaskError};
use super::{lock, SimCore};

type PartitionKey = (String, i32);

/// Header of the placeholder records a fetcher writes to a mirror for source records deleted
/// before it fetched them: `sim-placeholder: source-retention` (no key, no value).
pub const PLACEHOLDER_HEADER: &str = "sim-placeholder";

/// librdkafka client context for simulator clients: logs go to `tracing` at debug level
/// (a broker taken down on purpose is not an error), delivery reports and statistics are
/// recorded for the fetcher.
#[derive(Default, Clone)]
pub(crate) struct SimContext {
    /// Next destination offset per (mirror topic, partition), from delivery reports.
    delivered: Arc<Mutex<HashMap<PartitionKey, i64>>>,
    /// Source high watermark per (source topic, partition), from the last fetch response
    /// (consumer statistics).
    source_hwm: Arc<Mutex<HashMap<PartitionKey, i64>>>,
}

impl ClientContext for SimContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        tracing::trace!(?level, fac, "librdkafka: {log_message}");
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(%error, "librdkafka: {reason}");
    }

    fn stats(&self, statistics: Statistics) {
        let mut hwm = lock(&self.source_hwm);
        for (topic, t) in statistics.topics {
            for (partition, p) in t.partitions {
                if partition >= 0 && p.hi_offset >= 0 {
                    hwm.insert((topic.clone(), partition), p.hi_offset);
                }
            }
        }
    }
}

impl ConsumerContext for SimContext {}

impl ProducerContext for SimContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(m) => {
                let mut delivered = lock(&self.delivered);
                let next = delivered
                    .entry((m.topic().to_owned(), m.partition()))
                    .or_insert(0);
                *next = (*next).max(m.offset() + 1);
            }
            // One line per record: debug, or an outage of the destination buries every other line.
            Err((e, m)) => tracing::debug!(error = %e, topic = m.topic(), "mirror write failed"),
        }
    }
}

/// Client config every simulator client starts from.
pub(crate) fn client_config(bootstrap_servers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap_servers)
        .set("socket.timeout.ms", "3000")
        .set("reconnect.backoff.ms", "100")
        .set("reconnect.backoff.max.ms", "1000")
        .set("topic.metadata.refresh.interval.ms", "2000");
    config
}

/// Starts the fetcher thread of link `link` on cluster `destination`. It stops when the link
/// is deleted or the simulator shuts down.
pub(crate) fn spawn(core: SimCore, destination: String, link: String) {
    let name = format!("fetcher-{destination}-{link}");
    thread::Builder::new()
        .name(name.clone())
        .spawn(move || match Fetcher::new(core, &destination, &link) {
            Ok(mut fetcher) => fetcher.run(),
            Err(e) => tracing::error!(error = %e, fetcher = name, "fetcher could not start"),
        })
        .expect("spawn fetcher thread");
}

/// What the fetcher reads from the world at the start of each tick.
struct LinkView {
    configs: BTreeMap<String, String>,
    /// (source topic, mirror topic, partitions, fetching now, dest hwm per partition)
    mirrors: Vec<MirrorView>,
    delay_ms: u64,
    max_records_per_second: Option<f64>,
    auth_ok: bool,
    /// `stall_fetcher`: copy nothing, read the source's high watermarks with ListOffsets.
    stalled: bool,
    source_known_groups: BTreeSet<String>,
    /// Source topics that are themselves mirrors (never auto-mirrored back).
    source_mirror_topics: BTreeSet<String>,
}

struct MirrorView {
    source_topic: String,
    mirror_topic: String,
    partitions: i32,
    fetching: bool,
    stopped: bool,
    dest_hwm: Vec<i64>,
    /// The source partitions' log-start offsets known to the world (0 when never moved).
    log_start: Vec<i64>,
}

/// Source offsets `from..to` deleted before the fetcher read them: written to the mirror as
/// placeholder records once `since` is one availability-check interval old.
struct Gap {
    from: i64,
    to: i64,
    since: Instant,
}

struct Fetcher {
    core: SimCore,
    destination: String,
    link: String,
    context: SimContext,
    consumer: BaseConsumer<SimContext>,
    /// Asks the source's metadata for the availability check when the fetching consumer's
    /// request timed out: with tens of thousands of assigned partitions (statistics every
    /// 100 ms) its librdkafka threads are too busy to answer in time, which turned every
    /// mirror topic `SOURCE_UNAVAILABLE` at 50 000 partitions.
    metadata: BaseConsumer,
    producer: BaseProducer<SimContext>,
    source_bootstrap: String,
    dest_bootstrap: String,
    /// (source topic, partition) → mirror topic, for what is assigned now.
    assigned: BTreeMap<PartitionKey, String>,
    next_fetch: HashMap<PartitionKey, i64>,
    buffers: HashMap<PartitionKey, VecDeque<OwnedMessage>>,
    /// When the last availability check and offset sync round ran: the next one is due one
    /// interval later, as the interval is configured now.
    last_check: Option<Instant>,
    last_offset_sync: Option<Instant>,
    /// Source records deleted before they were fetched, per partition, until placeholders
    /// fill their offsets on the mirror.
    gaps: HashMap<PartitionKey, Gap>,
    /// Assign again even if the wanted partitions did not change (new start offsets).
    reassign: bool,
    /// Whether the last iteration was stalled, and when high watermarks were last read
    /// while stalled.
    was_stalled: bool,
    last_watermarks: Option<Instant>,
    /// While stalled: the source high watermarks read with ListOffsets. Kept apart from the
    /// consumer statistics, which go on reporting an unassigned partition's watermark of its
    /// last fetch (before the stall): mixed in, they made the lag fall back to that.
    listed_hwm: HashMap<PartitionKey, i64>,
    /// A fetch answered "offset out of range": read the log-start offsets.
    out_of_range: bool,
    tokens: f64,
    last_refill: Instant,
    group_clients: HashMap<String, (BaseConsumer<SimContext>, BaseConsumer<SimContext>)>,
    synced: HashMap<(String, PartitionKey), i64>,
}

impl Fetcher {
    fn new(core: SimCore, destination: &str, link: &str) -> Result<Self, KafkaError> {
        let (source_bootstrap, dest_bootstrap) = {
            let world = core.world();
            let dest = world.cluster(destination).map_err(sim_err)?;
            let source = world
                .cluster(&dest.link(link).map_err(sim_err)?.source_cluster)
                .map_err(sim_err)?;
            (
                source.bootstrap_servers().to_owned(),
                dest.bootstrap_servers().to_owned(),
            )
        };
        let context = SimContext::default();
        let consumer: BaseConsumer<SimContext> = client_config(&source_bootstrap)
            .set("group.id", format!("_confluent-cluster-link-{link}"))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("fetch.wait.max.ms", "50")
            .set("fetch.error.backoff.ms", "100")
            .set("statistics.interval.ms", "100")
            // An offset below the source's log-start (records deleted before they were fetched)
            // must not silently jump to the end: destination offsets must equal the source's.
            .set("auto.offset.reset", "error")
            .create_with_context(context.clone())?;
        let metadata: BaseConsumer = client_config(&source_bootstrap).create()?;
        let producer: BaseProducer<SimContext> = client_config(&dest_bootstrap)
            .set("enable.idempotence", "true")
            .set("linger.ms", "2")
            // Never drop a record: offsets must stay equal to the source's.
            .set("message.timeout.ms", "0")
            .create_with_context(context.clone())?;
        Ok(Self {
            core,
            destination: destination.to_owned(),
            link: link.to_owned(),
            context,
            consumer,
            metadata,
            producer,
            source_bootstrap,
            dest_bootstrap,
            assigned: BTreeMap::new(),
            next_fetch: HashMap::new(),
            buffers: HashMap::new(),
            last_check: None,
            last_offset_sync: None,
            gaps: HashMap::new(),
            reassign: false,
            was_stalled: false,
            last_watermarks: None,
            listed_hwm: HashMap::new(),
            out_of_range: false,
            tokens: 0.0,
            last_refill: Instant::now(),
            group_clients: HashMap::new(),
            synced: HashMap::new(),
        })
    }

    fn run(&mut self) {
        while !self.core.stopping.load(Ordering::Relaxed) {
            let Some(view) = self.view() else {
                break; // the link was deleted
            };
            if !view.auth_ok {
                self.record_auth_failure();
                self.assign(BTreeMap::new());
                thread::sleep(Duration::from_millis(200));
                continue;
            }
            // Intervals are read at every iteration, so a changed config takes effect at once.
            let interval = check_interval_ms(&view.configs);
            if is_due(self.last_check, interval) {
                self.last_check = Some(Instant::now());
                self.availability_check(&view, interval);
            }
            if view.stalled && !self.was_stalled {
                self.rewind();
                self.listed_hwm.clear();
            }
            self.was_stalled = view.stalled;
            if !view.stalled {
                self.find_gaps(&view);
            }
            let wanted = if view.stalled {
                BTreeMap::new()
            } else {
                view.mirrors
                    .iter()
                    .filter(|m| m.fetching)
                    .flat_map(|m| {
                        (0..m.partitions)
                            .map(move |p| ((m.source_topic.clone(), p), m.mirror_topic.clone()))
                    })
                    .collect()
            };
            if std::mem::take(&mut self.reassign) {
                self.assigned.clear();
                self.consumer.unassign().ok();
            }
            self.assign(wanted);
            for m in view.mirrors.iter().filter(|m| m.stopped) {
                for p in 0..m.partitions {
                    self.buffers.remove(&(m.source_topic.clone(), p));
                }
            }
            self.forget_unmirrored(&view);
            self.fetch(&view);
            if std::mem::take(&mut self.out_of_range) {
                self.read_log_starts();
            }
            if view.stalled {
                self.read_high_watermarks(&view);
            } else {
                self.deliver(&view);
            }
            self.producer.poll(Duration::ZERO);
            if view
                .configs
                .get("consumer.offset.sync.enable")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
                && is_due(
                    self.last_offset_sync,
                    config_ms(&view.configs, "consumer.offset.sync.ms", 30_000),
                )
            {
                self.last_offset_sync = Some(Instant::now());
                self.sync_offsets(&view);
            }
            self.write_progress(view.stalled);
        }
        tracing::debug!(link = %self.link, "fetcher stopped");
    }

    /// Drops the fetch positions and buffers of source topics the link no longer mirrors (a
    /// deleted mirror topic), so that a later mirror of the same source topic starts where
    /// its own destination topic ends.
    fn forget_unmirrored(&mut self, view: &LinkView) {
        let mirrored: BTreeSet<&str> = view
            .mirrors
            .iter()
            .map(|m| m.source_topic.as_str())
            .collect();
        self.next_fetch
            .retain(|(topic, _), _| mirrored.contains(topic.as_str()));
        self.buffers
            .retain(|(topic, _), _| mirrored.contains(topic.as_str()));
        self.gaps
            .retain(|(topic, _), _| mirrored.contains(topic.as_str()));
    }

    /// On a stall: forgets what was fetched but not yet handed to the producer (buffered
    /// records, gaps not yet filled), so that after the stall the fetcher reads it again
    /// from the source, as a fetcher restarting from the mirror's end would.
    fn rewind(&mut self) {
        for (key, gap) in self.gaps.drain() {
            self.next_fetch.insert(key, gap.from);
        }
        for (key, buffer) in &mut self.buffers {
            if let Some(first) = buffer.front() {
                let offset = first.offset();
                let next = self.next_fetch.entry(key.clone()).or_insert(offset);
                *next = (*next).min(offset);
            }
            buffer.clear();
        }
        self.reassign = true;
    }

    /// Compares what the fetcher has yet to copy with the source's log-start offsets: records
    /// deleted at the source before they were copied are dropped from the buffer, the fetch
    /// position moves to the log-start, and the offsets become a [`Gap`] that placeholders
    /// fill one availability-check interval later.
    fn find_gaps(&mut self, view: &LinkView) {
        for m in view.mirrors.iter().filter(|m| m.fetching && !m.stopped) {
            for p in 0..m.partitions {
                let key = (m.source_topic.clone(), p);
                let log_start = m.log_start[p as usize];
                let first_unsent = match self.gaps.get(&key) {
                    Some(gap) => gap.to,
                    None => match self.buffers.get(&key).and_then(|b| b.front()) {
                        Some(first) => first.offset(),
                        None => match self.next_fetch.get(&key) {
                            Some(next) => *next,
                            None => continue, // not fetched yet
                        },
                    },
                };
                if log_start <= first_unsent {
                    continue;
                }
                tracing::info!(
                    link = %self.link,
                    topic = %m.source_topic,
                    partition = p,
                    from = first_unsent,
                    to = log_start,
                    "source records deleted before they were mirrored"
                );
                if let Some(buffer) = self.buffers.get_mut(&key) {
                    while buffer.front().is_some_and(|r| r.offset() < log_start) {
                        buffer.pop_front();
                    }
                }
                let next = self.next_fetch.entry(key.clone()).or_insert(log_start);
                if *next < log_start {
                    *next = log_start;
                    self.reassign = true;
                }
                self.gaps
                    .entry(key)
                    .or_insert(Gap {
                        from: first_unsent,
                        to: log_start,
                        since: Instant::now(),
                    })
                    .to = log_start;
            }
        }
    }

    /// After an "offset out of range": reads the log-start and high watermark of every
    /// assigned partition (ListOffsets), publishes log-start offsets that moved, and
    /// assigns again so that fetching resumes where [`Fetcher::find_gaps`] puts it.
    fn read_log_starts(&mut self) {
        let source = {
            let world = self.core.world();
            match world
                .clusters
                .get(&self.destination)
                .and_then(|c| c.links.get(&self.link))
            {
                Some(l) => l.source_cluster.clone(),
                None => return,
            }
        };
        let mut moved = Vec::new();
        for (topic, p) in self.assigned.keys() {
            match self
                .consumer
                .fetch_watermarks(topic, *p, Duration::from_secs(2))
            {
                Ok((low, high)) => {
                    moved.push(((topic.clone(), *p), low));
                    // Offsets past the source's end (someone wrote into the mirror topic):
                    // go on from the source's end, as `latest` would.
                    let next = self.next_fetch.get(&(topic.clone(), *p)).copied();
                    if next.is_some_and(|n| n > high) {
                        self.next_fetch.insert((topic.clone(), *p), high);
                    }
                }
                Err(e) => tracing::debug!(error = %e, link = %self.link, "watermarks"),
            }
        }
        let mut world = self.core.world();
        if let Some(c) = world.clusters.get_mut(&source) {
            for (key, low) in moved.into_iter().filter(|(_, low)| *low > 0) {
                let known = c.log_start.entry(key).or_insert(0);
                *known = (*known).max(low);
            }
        }
        self.reassign = true;
    }

    /// While stalled: reads the source's high watermarks (ListOffsets, every 500 ms), as the
    /// fetch responses of a fetcher that writes nothing would carry them, so lag grows.
    fn read_high_watermarks(&mut self, view: &LinkView) {
        if !is_due(self.last_watermarks, 500) {
            return;
        }
        self.last_watermarks = Some(Instant::now());
        for m in view.mirrors.iter().filter(|m| m.fetching && !m.stopped) {
            for p in 0..m.partitions {
                if let Ok((_, high)) =
                    self.consumer
                        .fetch_watermarks(&m.source_topic, p, Duration::from_secs(1))
                {
                    self.listed_hwm.insert((m.source_topic.clone(), p), high);
                }
            }
        }
    }

    /// Reads the link from the world; `None` once it is gone.
    fn view(&self) -> Option<LinkView> {
        let world = self.core.world();
        let dest = world.clusters.get(&self.destination)?;
        let link = dest.links.get(&self.link)?;
        let source = world.clusters.get(&link.source_cluster)?;
        let auth_ok = match &source.kafka_credentials {
            None => true,
            Some(c) => jaas_matches(link.config("sasl.jaas.config"), &c.username, &c.password),
        };
        let link_fetches = link.state == super::model::LinkState::Active;
        Some(LinkView {
            configs: link.configs.clone(),
            mirrors: link
                .mirrors
                .values()
                .map(|m| MirrorView {
                    source_topic: m.source_topic.clone(),
                    mirror_topic: m.mirror_topic.clone(),
                    partitions: m.partitions.len() as i32,
                    fetching: link_fetches && link.source_reachable && m.status.fetches(),
                    stopped: m.stopped,
                    dest_hwm: m.partitions.iter().map(|p| p.dest_hwm).collect(),
                    log_start: (0..m.partitions.len() as i32)
                        .map(|p| {
                            source
                                .log_start
                                .get(&(m.source_topic.clone(), p))
                                .copied()
                                .unwrap_or(0)
                        })
                        .collect(),
                })
                .collect(),
            delay_ms: link.delay_ms,
            max_records_per_second: link.max_records_per_second,
            auth_ok,
            stalled: link.fetcher_stalled,
            source_known_groups: source.known_groups.clone(),
            source_mirror_topics: source
                .links
                .values()
                .flat_map(|l| l.mirrors.keys().cloned())
                .collect(),
        })
    }

    fn record_auth_failure(&self) {
        let mut world = self.core.world();
        if let Some(link) = world
            .clusters
            .get_mut(&self.destination)
            .and_then(|c| c.links.get_mut(&self.link))
        {
            link.auth_failed = true;
            link.source_reachable = false;
            link.last_failure = Some((
                "AUTHENTICATION_ERROR".into(),
                "Authentication failed during authentication due to invalid credentials with SASL mechanism PLAIN".into(),
            ));
            link.refresh_states();
        }
    }

    /// Confluent's availability check: can the destination reach the source at all? Also
    /// notices source topics that are gone and auto-creates mirrors.
    fn availability_check(&mut self, view: &LinkView, interval_ms: u64) {
        let timeout = Duration::from_millis(interval_ms.clamp(500, 5_000));
        // Asked on the fetching consumer first (its answer also refreshes the leaders it fetches
        // from), and when that times out on the check's own client.
        let result = self
            .consumer
            .fetch_metadata(None, timeout)
            .or_else(|_| self.metadata.fetch_metadata(None, timeout));
        let mut to_create = Vec::new();
        {
            let mut world = self.core.world();
            let Some(link) = world
                .clusters
                .get_mut(&self.destination)
                .and_then(|c| c.links.get_mut(&self.link))
            else {
                return;
            };
            link.auth_failed = false;
            match &result {
                Ok(metadata) => {
                    link.source_reachable = true;
                    link.consecutive_failures = 0;
                    link.last_failure = None;
                    let present: BTreeSet<&str> = metadata
                        .topics()
                        .iter()
                        .filter(|t| t.error().is_none())
                        .map(|t| t.name())
                        .collect();
                    for mirror in link.mirrors.values_mut() {
                        if !present.contains(mirror.source_topic.as_str())
                            && !mirror.source_topic_missing
                            && !mirror.stopped
                        {
                            mirror.source_topic_missing = true;
                            mirror.transition_errors.push((
                                "SOURCE_TOPIC_MAY_BE_DELETED".into(),
                                format!(
                                    "Source topic '{}' may have been deleted",
                                    mirror.source_topic
                                ),
                            ));
                        }
                    }
                    if link.config_enabled("auto.create.mirror.topics.enable") {
                        let filters = link.config("auto.create.mirror.topics.filters");
                        let mirrored: BTreeSet<&str> = link
                            .mirrors
                            .values()
                            .map(|m| m.source_topic.as_str())
                            .collect();
                        to_create = present
                            .iter()
                            .filter(|t| !t.starts_with('_') && !mirrored.contains(**t))
                            .filter(|t| !view.source_mirror_topics.contains(**t))
                            .filter(|t| filter_includes(filters, "topicFilters", t))
                            .map(|t| t.to_string())
                            .collect();
                    }
                }
                Err(e) => {
                    link.source_reachable = false;
                    link.consecutive_failures += 1;
                    link.last_failure = Some((
                        "BOOTSTRAP_TCP_CONNECTION_FAILED_ERROR".into(),
                        format!(
                            "Unable to connect to the bootstrap servers of the source cluster: {e}"
                        ),
                    ));
                }
            }
            link.refresh_states();
        }
        for topic in to_create {
            if let Err(e) = self
                .core
                .create_mirror(&self.destination, &self.link, &topic, None)
            {
                tracing::debug!(error = %e, topic, "auto-create mirror skipped");
            }
        }
    }

    fn assign(&mut self, wanted: BTreeMap<PartitionKey, String>) {
        if wanted == self.assigned {
            return;
        }
        let mut tpl = TopicPartitionList::new();
        for (topic, partition) in wanted.keys() {
            let offset = *self
                .next_fetch
                .get(&(topic.clone(), *partition))
                .unwrap_or(&0);
            tpl.add_partition_offset(topic, *partition, Offset::Offset(offset))
                .expect("valid offset");
        }
        match self.consumer.assign(&tpl) {
            Ok(()) => self.assigned = wanted,
            Err(e) => tracing::warn!(error = %e, link = %self.link, "assign failed"),
        }
    }

    fn fetch(&mut self, view: &LinkView) {
        if self.assigned.is_empty() {
            // Serve statistics and errors, and do not spin.
            let _ = self.consumer.poll(Duration::from_millis(20));
            return;
        }
        let deadline = Instant::now() + Duration::from_millis(30);
        let buffered: usize = self.buffers.values().map(VecDeque::len).sum();
        let mut budget = 20_000usize.saturating_sub(buffered);
        while budget > 0 && Instant::now() < deadline {
            match self.consumer.poll(Duration::from_millis(10)) {
                Some(Ok(m)) => {
                    budget -= 1;
                    let key = (m.topic().to_owned(), m.partition());
                    if !self.assigned.contains_key(&key) {
                        continue;
                    }
                    self.next_fetch.insert(key.clone(), m.offset() + 1);
                    self.buffers.entry(key).or_default().push_back(m.detach());
                }
                Some(Err(e)) => {
                    tracing::debug!(error = %e, link = %self.link, "fetch error");
                    if matches!(
                        e,
                        KafkaError::MessageConsumption(
                            RDKafkaErrorCode::AutoOffsetReset | RDKafkaErrorCode::OffsetOutOfRange
                        )
                    ) {
                        self.out_of_range = true;
                    }
                    break;
                }
                None => break,
            }
        }
        // A mirror whose partitions were just assigned: start where the destination ends.
        for m in &view.mirrors {
            for p in 0..m.partitions {
                self.next_fetch
                    .entry((m.source_topic.clone(), p))
                    .or_insert(m.dest_hwm[p as usize]);
            }
        }
    }

    /// Copies buffered records whose delay has passed, within the throughput cap.
    fn deliver(&mut self, view: &LinkView) {
        let now = Instant::now();
        if let Some(rate) = view.max_records_per_second {
            let elapsed = now.duration_since(self.last_refill).as_secs_f64();
            self.tokens = (self.tokens + elapsed * rate).min(rate.max(1.0));
        }
        self.last_refill = now;
        let now_ms = now_ms();
        let delay = view.delay_ms as i64;
        let window = Duration::from_millis(check_interval_ms(&view.configs));
        'partitions: for (key, mirror_topic) in &self.assigned {
            if let Some(gap) = self.gaps.get_mut(key) {
                // Deleted at the source before it was fetched: the mirror's offsets stay equal
                // to the source's through placeholders, written once the gap has been visible
                // for one availability-check interval.
                if gap.since.elapsed() < window {
                    continue;
                }
                while gap.from < gap.to {
                    let headers = OwnedHeaders::new().insert(Header {
                        key: PLACEHOLDER_HEADER,
                        value: Some("source-retention"),
                    });
                    let record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(mirror_topic)
                        .partition(key.1)
                        .headers(headers)
                        .timestamp(now_ms);
                    match self.producer.send(record) {
                        Ok(()) => gap.from += 1,
                        Err((e, _)) => {
                            tracing::debug!(error = %e, "placeholder write deferred");
                            break 'partitions;
                        }
                    }
                }
                self.gaps.remove(key);
            }
            let Some(buffer) = self.buffers.get_mut(key) else {
                continue;
            };
            while let Some(m) = buffer.front() {
                let ts = m.timestamp().to_millis().unwrap_or(now_ms);
                if ts + delay > now_ms {
                    break;
                }
                if view.max_records_per_second.is_some() {
                    if self.tokens < 1.0 {
                        break 'partitions;
                    }
                    self.tokens -= 1.0;
                }
                let mut record: BaseRecord<'_, [u8], [u8]> =
                    BaseRecord::to(mirror_topic).partition(key.1).timestamp(ts);
                if let Some(k) = m.key() {
                    record = record.key(k);
                }
                if let Some(v) = m.payload() {
                    record = record.payload(v);
                }
                if let Some(h) = m.headers() {
                    record = record.headers(h.clone());
                }
                match self.producer.send(record) {
                    Ok(()) => {
                        buffer.pop_front();
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        break 'partitions;
                    }
                    Err((e, _)) => {
                        tracing::warn!(error = %e, "mirror write rejected");
                        break 'partitions;
                    }
                }
            }
        }
    }

    /// Publishes fetch and delivery progress and recomputes states. While `stalled`, the high
    /// watermarks read with ListOffsets stand in for those of fetch responses (only they: the
    /// statistics' are those of the last fetch, before the stall).
    fn write_progress(&self, stalled: bool) {
        let delivered = lock(&self.context.delivered).clone();
        let hwm = if stalled {
            self.listed_hwm.clone()
        } else {
            lock(&self.context.source_hwm).clone()
        };
        let mut world = self.core.world();
        let Some(link) = world
            .clusters
            .get_mut(&self.destination)
            .and_then(|c| c.links.get_mut(&self.link))
        else {
            return;
        };
        for mirror in link.mirrors.values_mut() {
            if mirror.stopped {
                continue;
            }
            for (p, progress) in mirror.partitions.iter_mut().enumerate() {
                let p = p as i32;
                if let Some(d) = delivered.get(&(mirror.mirror_topic.clone(), p)) {
                    progress.dest_hwm = progress.dest_hwm.max(*d);
                }
                if (stalled && mirror.status.fetches())
                    || self
                        .assigned
                        .contains_key(&(mirror.source_topic.clone(), p))
                {
                    if let Some(h) = hwm.get(&(mirror.source_topic.clone(), p)) {
                        progress.last_source_fetch_offset = *h;
                    }
                }
            }
        }
        link.refresh_states();
    }

    /// Copies committed offsets of the selected groups from source to destination, capped at
    /// the destination high watermark.
    fn sync_offsets(&mut self, view: &LinkView) {
        let filters = view.configs.get("consumer.offset.group.filters").cloned();
        let mut groups: BTreeSet<String> = view
            .source_known_groups
            .iter()
            .filter(|g| filter_includes(filters.as_deref(), "groupFilters", g))
            .cloned()
            .collect();
        groups.extend(literal_names(filters.as_deref(), "groupFilters"));
        let mut error = None;
        for group in groups {
            if let Err(e) = self.sync_group(&group, view) {
                tracing::debug!(error = %e, group, link = %self.link, "offset sync failed");
                error = Some(TaskError {
                    error_code: "INTERNAL_ERROR".into(),
                    error_message: format!("Consumer offset sync for group '{group}' failed: {e}"),
                });
            }
        }
        let mut world = self.core.world();
        if let Some(link) = world
            .clusters
            .get_mut(&self.destination)
            .and_then(|c| c.links.get_mut(&self.link))
        {
            link.offset_sync_error = error;
        }
    }

    fn sync_group(&mut self, group: &str, view: &LinkView) -> Result<(), KafkaError> {
        if !self.group_clients.contains_key(group) {
            let make = |bootstrap: &str| {
                client_config(bootstrap)
                    .set("group.id", group)
                    .set("enable.auto.commit", "false")
                    .create_with_context::<SimContext, BaseConsumer<SimContext>>(
                        SimContext::default(),
                    )
            };
            let pair = (make(&self.source_bootstrap)?, make(&self.dest_bootstrap)?);
            self.group_clients.insert(group.to_owned(), pair);
        }
        let (source, dest) = &self.group_clients[group];
        let mut tpl = TopicPartitionList::new();
        for m in view.mirrors.iter().filter(|m| !m.stopped) {
            for p in 0..m.partitions {
                tpl.add_partition(&m.source_topic, p);
            }
        }
        if tpl.count() == 0 {
            return Ok(());
        }
        let committed = source.committed_offsets(tpl, Duration::from_secs(3))?;
        let mut to_commit = TopicPartitionList::new();
        for e in committed.elements() {
            let Offset::Offset(offset) = e.offset() else {
                continue;
            };
            let Some(m) = view.mirrors.iter().find(|m| m.source_topic == e.topic()) else {
                continue;
            };
            let capped = offset.min(m.dest_hwm[e.partition() as usize]);
            let key = (group.to_owned(), (m.mirror_topic.clone(), e.partition()));
            if self.synced.get(&key) != Some(&capped) {
                to_commit
                    .add_partition_offset(&m.mirror_topic, e.partition(), Offset::Offset(capped))
                    .expect("valid offset");
                self.synced.insert(key, capped);
            }
        }
        if to_commit.count() > 0 {
            if let Err(e) = dest.commit(&to_commit, CommitMode::Sync) {
                self.synced.retain(|(g, _), _| g != group);
                return Err(e);
            }
        }
        Ok(())
    }
}

fn sim_err(e: super::SimError) -> KafkaError {
    tracing::error!(error = %e, "fetcher setup");
    KafkaError::ClientCreation(e.to_string())
}

/// `availability.check.ms` (default 60 000).
fn check_interval_ms(configs: &BTreeMap<String, String>) -> u64 {
    config_ms(configs, "availability.check.ms", 60_000)
}

/// Whether something last done at `last` (never: `None`) is due again after `interval_ms`.
fn is_due(last: Option<Instant>, interval_ms: u64) -> bool {
    last.is_none_or(|t| t.elapsed() >= Duration::from_millis(interval_ms))
}

fn config_ms(configs: &BTreeMap<String, String>, name: &str, default: u64) -> u64 {
    configs
        .get(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Whether `sasl.jaas.config` carries exactly these credentials.
pub(crate) fn jaas_matches(jaas: Option<&str>, username: &str, password: &str) -> bool {
    let Some(jaas) = jaas else {
        return false;
    };
    let value = |key: &str| {
        let re = regex::Regex::new(&format!(r#"{key}\s*=\s*"([^"]*)""#)).expect("valid regex");
        re.captures(jaas).map(|c| c[1].to_owned())
    };
    value("username").as_deref() == Some(username) && value("password").as_deref() == Some(password)
}

/// Whether a link filter includes `name` (see [`crate::filters`]).
pub(crate) fn filter_includes(filters: Option<&str>, key: &str, name: &str) -> bool {
    crate::filters::includes(filters, key, name)
}

fn literal_names(filters: Option<&str>, key: &str) -> Vec<String> {
    crate::filters::literal_includes(filters, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaas_credentials_are_compared_exactly() {
        let jaas = r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="link" password="s3cret";"#;
        assert!(jaas_matches(Some(jaas), "link", "s3cret"));
        assert!(!jaas_matches(Some(jaas), "link", "wrong"));
        assert!(!jaas_matches(None, "link", "s3cret"));
    }
}
