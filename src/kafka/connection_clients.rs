//! [`ConnectionClients`]: one Kafka connection of a measurer and the clients it keeps open
//! there: high watermarks and log-start offsets (batched `ListOffsets`), committed offsets of
//! consumer groups, source record timestamps (cached by offset) for lag in seconds, and the
//! source topics' partition counts (`Metadata`) and `retention.ms` (`DescribeConfigs`); and
//! whether its brokers report the cluster id expected (`reaches`, from librdkafka's cache: no
//! request). Each outcome sets the connection's `clusterlink_kafka_up` and counts its
//! failures, and shows its up/down and last error on the status store (through its
//! [`Connection`]).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, OwnedResourceSpecifier, ResourceSpecifier};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::identity::{self, Expected, WrongCluster};
use super::metrics::{KafkaConnectionLabels, KafkaRequestLabels};
use super::plan::TopicPartition;
use super::source_topics::Retention;
use super::{
    error_reason, is_group_refusal, ClientKind, Connection, Diagnosis, KafkaErrorReason,
    KafkaMetrics, StatsContext,
};
use crate::supervise::StopSignal;
use crate::util::{lock, Throttle};

/// How long a group whose coordinator the broker refused to name is not asked again: each ask
/// waits the whole `request_timeout` (librdkafka waits for the coordinator), so a refused
/// group would slow every cycle.
const REFUSED_GROUP_RETRY: Duration = Duration::from_secs(60);

/// The events served per client at each [`ConnectionClients::poll`] (every 200 ms between
/// cycles): statistics arrive once a second per client and pile up during a long call (a
/// `DescribeConfigs` waiting for its `request_timeout`); serving one per poll left the request
/// counters showing totals many seconds old after such a call. Polling an empty queue costs
/// next to nothing.
const EVENTS_PER_POLL: usize = 16;

/// The offsets of `result` into `out`; the first partition an ACL refused (its error and
/// topic), if any. Other partition errors leave the partition out.
fn collect_offsets(
    result: &TopicPartitionList,
    out: &mut HashMap<TopicPartition, i64>,
) -> Option<(KafkaError, String)> {
    let mut denied = None;
    for e in result.elements() {
        match (e.error(), e.offset()) {
            (Ok(()), Offset::Offset(o)) => {
                out.insert((e.topic().to_owned(), e.partition()), o);
            }
            (Err(err), _) if error_reason(&err) == KafkaErrorReason::Authorization => {
                denied.get_or_insert((err, e.topic().to_owned()));
            }
            _ => {}
        }
    }
    denied
}

/// How long to wait before asking again a group whose coordinator moves.
const COORDINATOR_RETRY: Duration = Duration::from_millis(200);

/// Whether `e` says only that the group's coordinator is moving or loading (retryable).
fn is_coordinator_moving(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::NotCoordinator
                | RDKafkaErrorCode::CoordinatorLoadInProgress
                | RDKafkaErrorCode::CoordinatorNotAvailable
        )
    )
}

/// What to do with partitions an ACL refused: with nothing else read, the request failed
/// (`Err`, the caller reports it); beside partitions that were read, `report` counts and logs
/// the refusal and the rest is used.
fn denied_partitions(
    denied: Option<(KafkaError, String)>,
    nothing_read: bool,
    report: impl FnOnce(&KafkaError, &str),
) -> Result<(), KafkaError> {
    match denied {
        Some((e, _)) if nothing_read => Err(e),
        Some((e, topic)) => {
            report(&e, &topic);
            Ok(())
        }
        None => Ok(()),
    }
}

/// The error behind an "unknown topic or partition": Kafka hides a topic the principal may not
/// `DESCRIBE`, so librdkafka cannot tell a refusal from a missing topic. The topics' metadata
/// says which (`TOPIC_AUTHORIZATION_FAILED`); otherwise `e` stands.
fn refusal_behind(
    client: &BaseConsumer<StatsContext>,
    e: &KafkaError,
    partitions: &[&TopicPartition],
    timeout: Duration,
) -> KafkaError {
    let topics: BTreeSet<&str> = partitions.iter().map(|(t, _)| t.as_str()).collect();
    for topic in topics.into_iter().take(MAX_TOPICS_EXPLAINED) {
        if let Ok(md) = client.fetch_metadata(Some(topic), timeout) {
            let refused = md.topics().iter().find_map(|t| {
                let code = RDKafkaErrorCode::from(t.error()?);
                let err = KafkaError::MetadataFetch(code);
                (error_reason(&err) == KafkaErrorReason::Authorization).then_some(err)
            });
            if let Some(err) = refused {
                return err;
            }
        }
    }
    e.clone()
}

/// Topics whose metadata [`refusal_behind`] reads at most (one request each).
const MAX_TOPICS_EXPLAINED: usize = 3;

/// Partitions asked in one librdkafka call (`offsets_for_times`: one `ListOffsets` per leader
/// broker; `committed`: one `OffsetFetch`). librdkafka matches each partition of an answer to
/// the list asked with a linear search, so one call over `n` partitions costs about `n²`
/// comparisons: 11 s of a cycle at 10 000 mirror partitions (`scripts/bench.sh --kafka`,
/// `docs/performance.md`). Calls of at most this many cost `n × MAX_PARTITIONS_PER_CALL`, for
/// `⌈n / MAX_PARTITIONS_PER_CALL⌉` requests per leader broker.
pub(super) const MAX_PARTITIONS_PER_CALL: usize = 1000;

/// `partitions` in lists of at most [`MAX_PARTITIONS_PER_CALL`], each partition at `offset`
/// (`None`: no offset; librdkafka's default, `Offset::Invalid`).
fn partition_lists<'a>(
    partitions: impl IntoIterator<Item = (&'a TopicPartition, Option<Offset>)>,
) -> Result<Vec<(TopicPartitionList, Vec<&'a TopicPartition>)>, KafkaError> {
    let mut lists: Vec<(TopicPartitionList, Vec<&'a TopicPartition>)> = Vec::new();
    for (tp, offset) in partitions {
        if lists
            .last()
            .is_none_or(|(_, asked)| asked.len() >= MAX_PARTITIONS_PER_CALL)
        {
            lists.push((
                TopicPartitionList::with_capacity(MAX_PARTITIONS_PER_CALL),
                Vec::with_capacity(MAX_PARTITIONS_PER_CALL),
            ));
        }
        let (tpl, asked) = lists.last_mut().expect("just pushed");
        // `add_partition` and then the element's offset: `add_partition_offset` looks the
        // partition up again, a linear search per partition.
        let mut element = tpl.add_partition(&tp.0, tp.1);
        if let Some(o) = offset {
            element.set_offset(o)?;
        }
        asked.push(tp);
    }
    Ok(lists)
}

/// One Kafka connection and the clients the measurements keep open on it.
pub(super) struct ConnectionClients {
    pub(super) conn: Connection,
    watermarks: Option<BaseConsumer<StatsContext>>,
    reader: Option<BaseConsumer<StatsContext>>,
    /// Reads the source topics' partition counts (`Metadata`; its statistics are served).
    topics: Option<BaseConsumer<StatsContext>>,
    /// Reads the source topics' configs (`DescribeConfigs`).
    admin: Option<AdminClient<StatsContext>>,
    /// Offset readers by consumer group (they never join the group).
    pub(super) groups: HashMap<String, BaseConsumer<StatsContext>>,
    /// Groups whose coordinator the broker refused to name (no `DESCRIBE` on the group): the
    /// refusal and when it was seen. librdkafka reports it once per client, in the client's
    /// queue, and lets the request time out.
    refused_groups: Mutex<HashMap<String, (KafkaError, Instant)>>,
    /// Source record timestamps (ms) by ((topic, partition), offset).
    timestamps: HashMap<(TopicPartition, i64), i64>,
    /// At most one warning a minute per reason: a connection that stays down fails every
    /// cycle.
    warnings: Mutex<HashMap<KafkaErrorReason, Throttle>>,
    /// The other cluster its brokers reported at the last check, if they did.
    wrong_cluster: Option<WrongCluster>,
    /// The exporter's shutdown: a diagnosis in progress gives up at once.
    shutdown: StopSignal,
}

impl ConnectionClients {
    /// The clients of `conn`, none open yet.
    pub(super) fn new(conn: Connection, shutdown: StopSignal) -> Self {
        Self {
            shutdown,
            conn,
            watermarks: None,
            reader: None,
            topics: None,
            admin: None,
            groups: HashMap::new(),
            refused_groups: Mutex::default(),
            timestamps: HashMap::new(),
            warnings: Mutex::default(),
            wrong_cluster: None,
        }
    }

    /// The connection's `request_timeout`.
    pub(super) fn timeout(&self) -> Duration {
        self.conn.config.request_timeout
    }

    /// The client that reads watermarks (and lists groups), opened on first use.
    pub(super) fn watermarks_client(
        &mut self,
        metrics: &KafkaMetrics,
    ) -> Result<&BaseConsumer<StatsContext>, KafkaError> {
        if self.watermarks.is_none() {
            self.watermarks =
                Some(
                    self.conn
                        .consumer(metrics, ClientKind::Watermarks, None, &[])?,
                );
        }
        Ok(self.watermarks.as_ref().expect("just created"))
    }

    /// High watermarks of `partitions`, batched: librdkafka sends one `ListOffsets` per leader
    /// broker. Partitions the cluster reports an error for are left out.
    pub(super) fn high_watermarks(
        &mut self,
        metrics: &KafkaMetrics,
        partitions: &BTreeSet<TopicPartition>,
    ) -> Result<HashMap<TopicPartition, i64>, KafkaError> {
        // As a timestamp, -1 (Offset::End) asks ListOffsets for the latest offset.
        self.list_offsets(metrics, partitions, Offset::End, "high watermarks")
    }

    /// Log-start offsets (the earliest offset retention left) of `partitions`, batched like
    /// [`Self::high_watermarks`]: one `ListOffsets` per leader broker.
    pub(super) fn log_start_offsets(
        &mut self,
        metrics: &KafkaMetrics,
        partitions: &BTreeSet<TopicPartition>,
    ) -> Result<HashMap<TopicPartition, i64>, KafkaError> {
        // As a timestamp, -2 (Offset::Beginning) asks ListOffsets for the earliest offset.
        self.list_offsets(metrics, partitions, Offset::Beginning, "log-start offsets")
    }

    /// `ListOffsets` for `partitions` at the timestamp `spec` (`Offset::End`: latest,
    /// `Offset::Beginning`: earliest), batched: one request per leader broker for each
    /// [`MAX_PARTITIONS_PER_CALL`] partitions, each call within the `request_timeout`. Any
    /// call that fails fails the whole read.
    fn list_offsets(
        &mut self,
        metrics: &KafkaMetrics,
        partitions: &BTreeSet<TopicPartition>,
        spec: Offset,
        what: &str,
    ) -> Result<HashMap<TopicPartition, i64>, KafkaError> {
        let mut out = HashMap::with_capacity(partitions.len());
        if partitions.is_empty() {
            return Ok(out);
        }
        let timeout = self.timeout();
        let client = self.watermarks_client(metrics)?;
        let mut denied = None;
        for (tpl, asked) in partition_lists(partitions.iter().map(|tp| (tp, Some(spec))))? {
            let result = match client.offsets_for_times(tpl, timeout) {
                Ok(r) => r,
                Err(e) if error_reason(&e) == KafkaErrorReason::UnknownTopic => {
                    return Err(refusal_behind(client, &e, &asked, timeout));
                }
                Err(e) => return Err(e),
            };
            let refused = collect_offsets(&result, &mut out);
            denied = denied.or(refused);
        }
        denied_partitions(denied, out.is_empty(), |e, topic| {
            self.fail(metrics, &format!("reading {what} of {topic:?}"), e);
        })?;
        Ok(out)
    }

    /// The admin client (source topics' facts), opened on first use.
    fn admin_client(
        &mut self,
        metrics: &KafkaMetrics,
    ) -> Result<&AdminClient<StatsContext>, KafkaError> {
        if self.admin.is_none() {
            let mut config = self.conn.client_config(ClientKind::SourceTopics);
            // rust-rdkafka's admin client never serves its main queue, where statistics would
            // pile up: its requests are counted in `retentions` instead.
            config.set("statistics.interval.ms", "0");
            let context = self.conn.stats_context(metrics, ClientKind::SourceTopics);
            self.admin = Some(config.create_with_context(context)?);
        }
        Ok(self.admin.as_ref().expect("just created"))
    }

    /// The partition count of every topic the cluster lists to this principal (those it may
    /// `DESCRIBE`): one `Metadata` request for all topics. Topics listed with an error are
    /// left out.
    pub(super) fn partition_counts(
        &mut self,
        metrics: &KafkaMetrics,
    ) -> Result<HashMap<String, i32>, KafkaError> {
        let timeout = self.timeout();
        if self.topics.is_none() {
            let c = self
                .conn
                .consumer(metrics, ClientKind::SourceTopics, None, &[])?;
            self.topics = Some(c);
        }
        let client = self.topics.as_ref().expect("just created");
        let metadata = client.fetch_metadata(None, timeout)?;
        Ok(metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| {
                let n = i32::try_from(t.partitions().len()).unwrap_or(i32::MAX);
                (t.name().to_owned(), n)
            })
            .collect())
    }

    /// `retention.ms` of `topics`: one `DescribeConfigs` request for all of them. A topic
    /// the cluster answers with an error is left out; when an ACL refused every topic, the
    /// refusal is the error; beside topics that were read, it is counted and logged.
    pub(super) fn retentions(
        &mut self,
        metrics: &KafkaMetrics,
        topics: &BTreeSet<String>,
    ) -> Result<HashMap<String, Retention>, KafkaError> {
        let mut out = HashMap::new();
        if topics.is_empty() {
            return Ok(out);
        }
        let timeout = self.timeout();
        let specifiers: Vec<ResourceSpecifier<'_>> = topics
            .iter()
            .map(|t| ResourceSpecifier::Topic(t.as_str()))
            .collect();
        let options = AdminOptions::new().request_timeout(Some(timeout));
        let admin = self.admin_client(metrics)?;
        let sent = admin.describe_configs(&specifiers, &options);
        // librdkafka sends the topics' DescribeConfigs to one broker, in one request.
        let labels = KafkaRequestLabels {
            kafka_cluster: self.conn.kafka_cluster.clone(),
            connection: self.conn.name.clone(),
            client: ClientKind::SourceTopics,
            request: "DescribeConfigs".to_owned(),
        };
        metrics.requests.get_or_create(&labels).inc();
        let results = futures::executor::block_on(sent)?;
        let mut denied = None;
        // Results come in the order of the request (librdkafka reorders them): an error names
        // no topic, its position does.
        for (result, topic) in results.into_iter().zip(topics) {
            match result {
                Ok(resource) => {
                    let name = match &resource.specifier {
                        OwnedResourceSpecifier::Topic(name) => name.clone(),
                        _ => topic.clone(),
                    };
                    let value = resource
                        .get("retention.ms")
                        .and_then(|e| e.value.as_deref());
                    if let Some(r) = Retention::parse(value) {
                        out.insert(name, r);
                    }
                }
                Err(code) => {
                    let err = KafkaError::AdminOp(code);
                    if error_reason(&err) == KafkaErrorReason::Authorization {
                        denied.get_or_insert((err, topic.clone()));
                    }
                }
            }
        }
        denied_partitions(denied, out.is_empty(), |e, topic| {
            self.fail(metrics, &format!("reading retention.ms of {topic:?}"), e);
        })?;
        Ok(out)
    }

    /// Serves librdkafka callbacks (statistics) of the idle clients, keeping a group's refusal:
    /// up to [`EVENTS_PER_POLL`] events per client (rust-rdkafka's `poll` serves one).
    pub(super) fn poll(&self) {
        for _ in 0..EVENTS_PER_POLL {
            for c in self
                .watermarks
                .iter()
                .chain(self.reader.iter())
                .chain(self.topics.iter())
            {
                let _ = c.poll(Duration::ZERO);
            }
            for (group, c) in &self.groups {
                if let Some(Err(e)) = c.poll(Duration::ZERO) {
                    if is_group_refusal(&e) {
                        self.refuse_group(group, e);
                    }
                }
            }
        }
    }

    fn refuse_group(&self, group: &str, e: KafkaError) {
        let mut refused = lock(&self.refused_groups);
        refused.insert(group.to_owned(), (e, Instant::now()));
    }

    /// The refusal of `group`'s coordinator seen in the last [`REFUSED_GROUP_RETRY`], if any
    /// (older ones are forgotten: the group is asked again).
    fn group_refusal(&self, group: &str) -> Option<KafkaError> {
        let mut refused = lock(&self.refused_groups);
        refused.retain(|_, (_, at)| at.elapsed() < REFUSED_GROUP_RETRY);
        refused.get(group).map(|(e, _)| e.clone())
    }

    /// Sets the connection's `clusterlink_kafka_up` (after its watermarks were read, or not).
    pub(super) fn set_up(&self, metrics: &KafkaMetrics, up: bool) {
        if up {
            self.conn.succeeded();
        }
        let labels = self.labels();
        metrics.up.get_or_create(&labels).set(i64::from(up));
        self.conn.show_up(up);
    }

    fn labels(&self) -> KafkaConnectionLabels {
        KafkaConnectionLabels {
            kafka_cluster: self.conn.kafka_cluster.clone(),
            connection: self.conn.name.clone(),
            role: self.conn.role,
        }
    }

    /// Whether the connection's brokers report a cluster id `expected` allows
    /// ([`identity::compare`]), after a read over its watermarks client: the id comes from
    /// librdkafka's cache of the client's last `Metadata` answer (no request). A connection
    /// whose brokers report another cluster is counted (reason `wrong_cluster`), shown on the
    /// status page and logged (at most once a minute); the caller marks it down and uses
    /// nothing it read. With no client open (nothing read) or no id reported, it is not told.
    pub(super) fn reaches(&mut self, metrics: &KafkaMetrics, expected: &[Expected]) -> bool {
        let timeout = self.timeout();
        let found = self
            .watermarks
            .as_ref()
            .and_then(|c| c.client().fetch_cluster_id(timeout));
        let Some(wrong) = identity::compare(expected, found.as_deref()) else {
            if self.wrong_cluster.take().is_some() {
                tracing::info!(
                    kafka_cluster = %self.conn.kafka_cluster,
                    connection = %self.conn.name,
                    role = %self.conn.role,
                    found = found.as_deref().unwrap_or(""),
                    "the connection reaches the expected Kafka cluster again: measuring over it"
                );
            }
            return true;
        };
        self.report_wrong_cluster(metrics, &wrong);
        self.wrong_cluster = Some(wrong);
        false
    }

    /// Whether the brokers reported another cluster than expected at the last check.
    pub(super) fn reaches_wrong_cluster(&self) -> bool {
        self.wrong_cluster.is_some()
    }

    /// Counts, shows and logs (at most once a minute) a connection that reaches `wrong`.
    fn report_wrong_cluster(&self, metrics: &KafkaMetrics, wrong: &WrongCluster) {
        let key =
            identity::bootstrap_key(self.conn.role, &self.conn.kafka_cluster, &self.conn.name);
        let d = Diagnosis::wrong_cluster(wrong.detail(&key));
        if let Some(held_back) = self.record(metrics, &d, "checking the cluster id") {
            tracing::warn!(
                kafka_cluster = %self.conn.kafka_cluster,
                connection = %self.conn.name,
                role = %self.conn.role,
                reason = %d.reason,
                key = %key,
                expected = %wrong.expected.id,
                expected_from = %wrong.expected.from,
                found = %wrong.found,
                held_back,
                "the connection reaches another Kafka cluster than expected: nothing read over it is exported, its probes send nothing (at most one line a minute; held_back: the cycles since the last line)"
            );
        }
    }

    /// Counts `d` and shows it on the status page (`what` failed); then [`Self::warning_due`].
    fn record(&self, metrics: &KafkaMetrics, d: &Diagnosis, what: &str) -> Option<u64> {
        self.conn.count_error(metrics, d.reason);
        self.conn.show_error(d.line(what));
        self.warning_due(d.reason)
    }

    /// `Some(failures held back since the last line)` when a warning of `reason` may be
    /// logged now (at most one a minute per reason).
    fn warning_due(&self, reason: KafkaErrorReason) -> Option<u64> {
        let mut warnings = lock(&self.warnings);
        warnings.entry(reason).or_default().check(Instant::now())
    }

    /// Counts, logs (at most once a minute per reason) and shows on the status page a failed
    /// request, diagnosed (`what` says which request).
    pub(super) fn fail(&self, metrics: &KafkaMetrics, what: &str, e: &KafkaError) {
        if self.conn.needs_diagnosis(e) {
            self.diagnose_connection(metrics);
        }
        let d = self.conn.diagnose(e);
        if let Some(held_back) = self.record(metrics, &d, what) {
            tracing::warn!(
                kafka_cluster = %self.conn.kafka_cluster,
                connection = %self.conn.name,
                role = %self.conn.role,
                reason = %d.reason,
                error = %d.detail,
                advice = d.advice,
                held_back,
                "{what} failed (at most one line a minute per reason; held_back: the failures since the last line)"
            );
        }
    }

    /// librdkafka's blocking calls swallow a client's error events, so a request that failed
    /// without saying why is explained by a fresh client that only connects: its first error
    /// events and log lines (wrong password, untrusted certificate, connection refused) are
    /// recorded on the connection. Bounded by the connection's `request_timeout` plus 2 s (a
    /// broker that never answers is named when librdkafka's socket timeout fires), at most
    /// 12 s; the client is dropped at once.
    fn diagnose_connection(&self, metrics: &KafkaMetrics) {
        let mut config = self.conn.client_config(ClientKind::Watermarks);
        // A broker that never answers is only named in a warning ("ApiVersionRequest failed:
        // Local: Timed out").
        config.set_log_level(RDKafkaLogLevel::Warning);
        let context = self.conn.stats_context(metrics, ClientKind::Watermarks);
        let Ok(client) = config.create_with_context::<_, BaseConsumer<StatsContext>>(context)
        else {
            return;
        };
        let started = Instant::now();
        let wait = (self.timeout() + Duration::from_secs(2)).min(Duration::from_secs(12));
        let deadline = started + wait;
        while Instant::now() < deadline
            && !self.conn.diagnosed_since(started)
            && !self.shutdown.is_stopped()
        {
            let _ = client.poll(Duration::from_millis(100));
        }
    }

    /// Committed offsets of `group` for `partitions` (absent: no commit).
    pub(super) fn committed(
        &mut self,
        metrics: &KafkaMetrics,
        group: &str,
        partitions: &BTreeSet<TopicPartition>,
    ) -> Result<HashMap<TopicPartition, i64>, KafkaError> {
        if let Some(refusal) = self.group_refusal(group) {
            // Its client is gone: a new one asks again (and is told again) after the wait.
            self.groups.remove(group);
            return Err(refusal);
        }
        if !self.groups.contains_key(group) {
            let c = self
                .conn
                .consumer(metrics, ClientKind::OffsetSync, Some(group), &[])?;
            self.groups.insert(group.to_owned(), c);
        }
        let mut out = HashMap::new();
        let mut denied = None;
        for (tpl, _) in partition_lists(partitions.iter().map(|tp| (tp, None)))? {
            let result = self.committed_call(group, tpl)?;
            let refused = collect_offsets(&result, &mut out);
            denied = denied.or(refused);
        }
        denied_partitions(denied, out.is_empty(), |e, topic| {
            let what = format!("reading committed offsets of group {group:?} on {topic:?}");
            self.fail(metrics, &what, e);
        })?;
        Ok(out)
    }

    /// One `OffsetFetch` of `group` (whose client is open) for `tpl`, asked again once when
    /// the group's coordinator moves; a refused coordinator closes the group's client.
    fn committed_call(
        &mut self,
        group: &str,
        tpl: TopicPartitionList,
    ) -> Result<TopicPartitionList, KafkaError> {
        let consumer = &self.groups[group];
        let mut result = consumer.committed_offsets(tpl.clone(), self.timeout());
        if result.as_ref().is_err_and(is_coordinator_moving) {
            // A group whose coordinator is (re)loading, e.g. on a broker just started: asked
            // again once rather than counted as a failure.
            std::thread::sleep(COORDINATOR_RETRY);
            result = consumer.committed_offsets(tpl, self.timeout());
        }
        let result = match result {
            Ok(result) => result,
            Err(e) => {
                // A refused coordinator lookup leaves the request to time out; the refusal is
                // in the client's queue (a consumer without partitions: only events, and a
                // poll that serves a statistics event returns nothing: poll a few times).
                let refusal = (0..64)
                    .filter_map(|_| consumer.poll(Duration::ZERO)?.err())
                    .find(is_group_refusal);
                let Some(refusal) = refusal else {
                    return Err(e);
                };
                self.refuse_group(group, refusal.clone());
                self.groups.remove(group);
                return Err(refusal);
            }
        };
        Ok(result)
    }

    /// Timestamps (ms) of the records at `offsets`, reading at most `budget` uncached ones,
    /// within `timeout`. Returns what it found and how many it read.
    pub(super) fn record_timestamps(
        &mut self,
        metrics: &KafkaMetrics,
        wanted: &[(TopicPartition, i64)],
        budget: usize,
        timeout: Duration,
    ) -> (HashMap<TopicPartition, i64>, usize) {
        let mut found = HashMap::new();
        let mut to_read: HashMap<TopicPartition, i64> = HashMap::new();
        for w @ (tp, offset) in wanted {
            match self.timestamps.get(w) {
                Some(ts) => {
                    found.insert(tp.clone(), *ts);
                }
                None if to_read.len() < budget => {
                    to_read.insert(tp.clone(), *offset);
                }
                None => {}
            }
        }
        let mut read = 0;
        if !to_read.is_empty() {
            match self.read_records(metrics, &to_read, timeout) {
                Ok(ts) => {
                    read = ts.len();
                    for (tp, ts) in ts {
                        let offset = to_read[&tp];
                        self.timestamps.insert((tp.clone(), offset), ts);
                        found.insert(tp, ts);
                    }
                }
                Err(e) => self.fail(metrics, "reading source records for lag in seconds", &e),
            }
        }
        // Keep only what this cycle asked for: the cache is for partitions that do not move.
        let keep: HashSet<&(TopicPartition, i64)> = wanted.iter().collect();
        self.timestamps.retain(|k, _| keep.contains(k));
        (found, read)
    }

    /// Reads the records at `offsets` (one per partition) and returns their timestamps (ms).
    fn read_records(
        &mut self,
        metrics: &KafkaMetrics,
        offsets: &HashMap<TopicPartition, i64>,
        timeout: Duration,
    ) -> Result<HashMap<TopicPartition, i64>, KafkaError> {
        if self.reader.is_none() {
            self.reader = Some(self.conn.consumer(
                metrics,
                ClientKind::LagSeconds,
                Some(super::READER_GROUP_ID),
                &[
                    // One record per partition is all we need: keep fetches small.
                    ("fetch.message.max.bytes", "65536"),
                    ("queued.max.messages.kbytes", "1024"),
                    ("fetch.wait.max.ms", "100"),
                    // The record at an offset that retention removed: the oldest that is left.
                    ("auto.offset.reset", "earliest"),
                    // No statistics: with them, librdkafka arms a timer for every partition of
                    // every topic the reader ever assigned (consumer lag, every 10 s), kept in
                    // one sorted list. Once the reader had read a record of each of 100
                    // topics of 500 partitions, re-arming them cost a third of a core
                    // (`scripts/bench.sh --kafka`, every partition lagging). Its reads are
                    // counted in `clusterlink_lag_seconds_records_read_total` instead.
                    ("statistics.interval.ms", "0"),
                ],
            )?);
        }
        let reader = self.reader.as_ref().expect("just created");
        let mut tpl = TopicPartitionList::with_capacity(offsets.len());
        for ((topic, partition), offset) in offsets {
            // Not `add_partition_offset`: it looks each partition up again (linear search).
            tpl.add_partition(topic, *partition)
                .set_offset(Offset::Offset(*offset))?;
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
                // Its group's coordinator, refused without an ACL on the group, is not needed.
                Some(Err(e)) if !is_group_refusal(&e) => last_error = Some(e),
                Some(Err(_)) | None => {}
            }
        }
        reader.unassign()?;
        match last_error {
            Some(e) if found.is_empty() => Err(e),
            _ => Ok(found),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `clusterlink_kafka_requests_total` of the watermarks client's `ListOffsets`.
    fn list_offsets_counted(registry: &prometheus_client::registry::Registry) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
        text.lines()
            .find(|l| l.contains("client=\"watermarks\"") && l.contains("ListOffsets"))
            .map(|l| l.rsplit(' ').next().unwrap_or("").to_owned())
            .unwrap_or_default()
    }

    #[test]
    fn one_poll_serves_the_statistics_piled_up_during_a_long_call() {
        let mock = rdkafka::mocking::MockCluster::new(1).unwrap();
        mock.create_topic("t", 1, 1).unwrap();
        let config = crate::config::KafkaConfig::new(mock.bootstrap_servers());
        let status = crate::status::StatusStore::default();
        let conn = Connection::new("B", "B", crate::snapshot::Role::Destination, config, status);
        let mut registry = prometheus_client::registry::Registry::default();
        let metrics = KafkaMetrics::register(&mut registry);
        let mut clients = ConnectionClients::new(conn, StopSignal::new());
        clients.watermarks_client(&metrics).unwrap();
        // Nothing served for 3.5 s (a long call elsewhere): three statistics events wait,
        // none counting the request sent now; the ones after it (from 4 s on) count it.
        std::thread::sleep(Duration::from_millis(3_500));
        let tp: BTreeSet<TopicPartition> = [("t".to_owned(), 0)].into();
        assert_eq!(clients.high_watermarks(&metrics, &tp).unwrap().len(), 1);
        std::thread::sleep(Duration::from_millis(2_500));
        clients.poll();
        assert_eq!(list_offsets_counted(&registry), "1");
    }

    fn partitions(n: i32) -> BTreeSet<TopicPartition> {
        (0..n).map(|p| (format!("t{}", p % 7), p)).collect()
    }

    #[test]
    fn partition_lists_split_every_partition_once_in_order() {
        let n = i32::try_from(2 * MAX_PARTITIONS_PER_CALL + 1).unwrap();
        let all = partitions(n);
        let lists = partition_lists(all.iter().map(|tp| (tp, Some(Offset::End)))).unwrap();
        let sizes: Vec<usize> = lists.iter().map(|(tpl, _)| tpl.count()).collect();
        assert_eq!(sizes, [MAX_PARTITIONS_PER_CALL, MAX_PARTITIONS_PER_CALL, 1]);
        let listed: Vec<TopicPartition> = lists
            .iter()
            .flat_map(|(tpl, asked)| {
                assert_eq!(tpl.count(), asked.len());
                tpl.elements()
                    .into_iter()
                    .zip(asked)
                    .map(|(e, tp)| {
                        assert_eq!((e.topic(), e.partition()), (tp.0.as_str(), tp.1));
                        assert_eq!(e.offset(), Offset::End);
                        (e.topic().to_owned(), e.partition())
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(listed, all.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn partition_lists_leave_the_offset_unset_when_asked() {
        let all = partitions(3);
        let lists = partition_lists(all.iter().map(|tp| (tp, None))).unwrap();
        assert_eq!(lists.len(), 1);
        let offsets: Vec<Offset> = lists[0].0.elements().iter().map(|e| e.offset()).collect();
        assert_eq!(offsets, [Offset::Invalid; 3]);
        assert!(partition_lists(std::iter::empty()).unwrap().is_empty());
    }
}
