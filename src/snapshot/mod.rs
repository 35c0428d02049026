//! The data that flows from collection to rendering, one snapshot per cluster and cycle:
//!
//! - [`ClusterSnapshot`]: what a REST collection cycle read (links with their tasks and
//!   interpreted configs, mirror topics with their partition lags), built by
//!   [`crate::rest_client`] from Confluent's wire format, which stops there;
//! - [`KafkaSnapshot`]: what a Kafka-side measurement cycle measured (watermarks, lag in
//!   seconds, offset-sync lag), built by [`crate::kafka`];
//! - the aggregations over their partitions ([`LagSummary`], lag in seconds per mirror topic
//!   and link) and over a link's mirror topics (the live lag of those still mirroring, what a
//!   fail-over left not copied, its progress: [`FailoverProgress`]), one per concept, which
//!   `/metrics` and the status page both read;
//! - [`Publish`]: where the workers hand them, implemented by rendering
//!   ([`crate::render::Exposition`]) and the status data ([`crate::status::StatusStore`]),
//!   so that collection never depends on either; [`Fanout`] hands a snapshot to both;
//! - [`Role`]: which side of a link a Kafka connection is, shared by the Kafka side and the
//!   status data;
//! - fail-over readiness ([`assess`]: a verdict per link with its blockers and the expected
//!   loss, from both snapshots of a cluster), which `/metrics` and the status page both read.
//!
//! Every value here was checked on the way in: no negative lag or count, empty texts kept
//! only where the label rule (empty → `unknown`) applies to them.

use std::collections::BTreeMap;
use std::sync::Arc;

mod filters;
mod kafka;
mod readiness;
mod states;

pub(crate) use filters::GroupFilters;
pub(crate) use kafka::{
    KafkaSnapshot, MeasuredMirror, MeasuredPartition, OffsetSyncLag, Role, SourceRead,
    StoppedMirror,
};
pub(crate) use readiness::LinkReadiness;
pub(crate) use readiness::{
    assess, source_out_of_reach, ClusterReadiness, KafkaSide, ReadinessInputs,
};
pub use readiness::{Blocker, Verdict};
#[cfg(test)]
pub(crate) use readiness::{ExpectedLoss, LastLag};
pub(crate) use states::Reported;
pub use states::{LinkError, LinkState, MirrorState, StateCategory, TaskState};

/// Everything one REST collection cycle read from a destination cluster (after the
/// configured link and mirror-topic filters).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterSnapshot {
    /// The cluster's links, in the order the API listed them.
    pub links: Vec<Link>,
    /// The mirror topics of those links, in the order the API listed them.
    pub mirrors: Vec<MirrorTopic>,
    /// Whether the cluster exports per-partition series (its `partition_metrics` setting).
    pub partition_metrics: bool,
}

/// One cluster link (`KafkaLinkData`, read with `include_tasks=true`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Link {
    /// `link_name`: never empty (nameless records are dropped by the collector).
    pub name: String,
    /// `cluster_link_id` when not empty, else `link_id` (Confluent Platform).
    pub id: Option<String>,
    /// `source_cluster_id`.
    pub source_cluster_id: Option<String>,
    /// `destination_cluster_id`.
    pub destination_cluster_id: Option<String>,
    /// `remote_cluster_id`.
    pub remote_cluster_id: Option<String>,
    /// `link_state`; `UNKNOWN` when missing or empty.
    pub state: Reported<LinkState>,
    /// `link_error`; `NO_ERROR` when missing or empty.
    pub error: Reported<LinkError>,
    /// `link_error_message`.
    pub error_message: Option<String>,
    /// The link's tasks (empty when the response lists none).
    pub tasks: Vec<Task>,
    /// Confluent Cloud's `category_counts`: mirror partitions by state category; `None` when
    /// not reported (Confluent Platform).
    pub category_counts: Option<Vec<CategoryCount>>,
    /// The link's configs, as of the last cycle that read them.
    pub configs: LinkConfigs,
}

impl Default for Reported<LinkState> {
    fn default() -> Self {
        Self::Known(LinkState::Unknown)
    }
}

impl Default for Reported<LinkError> {
    fn default() -> Self {
        Self::Known(LinkError::NoError)
    }
}

impl Default for Reported<TaskState> {
    fn default() -> Self {
        Self::Known(TaskState::Unknown)
    }
}

impl Default for Reported<MirrorState> {
    fn default() -> Self {
        Self::Known(MirrorState::Unknown)
    }
}

/// One task of a link (`LinkTask`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Task {
    /// `task_name` (possibly empty).
    pub name: String,
    /// `state`; `UNKNOWN` when missing or empty.
    pub state: Reported<TaskState>,
    /// Errors the task reports with an `error_code` other than `NO_ERROR`.
    pub errors: u64,
    /// Those errors' codes and messages, in the order listed (at most
    /// [`MAX_TASK_ERRORS`] of them; `errors` counts them all).
    pub error_details: Vec<TaskError>,
}

/// The most task errors a [`Task`] keeps the code and message of.
pub(crate) const MAX_TASK_ERRORS: usize = 16;
/// The longest task error message kept (characters; longer ones are cut, ending in `…`).
pub(crate) const MAX_TASK_ERROR_MESSAGE: usize = 1024;

/// One error of a link task (`LinkTaskError`) with an `error_code` other than `NO_ERROR`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskError {
    /// `error_code` (never `NO_ERROR`; possibly empty).
    pub code: String,
    /// `error_message`; `None` when missing or empty; at most [`MAX_TASK_ERROR_MESSAGE`]
    /// characters.
    pub message: Option<String>,
}

/// One item of a link's `category_counts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryCount {
    /// `state_category` (possibly empty: the label rule writes `unknown`).
    pub category: Reported<StateCategory>,
    /// `count`; a negative count is 0.
    pub count: u64,
}

/// The link configs the exporter reads, interpreted once. A sensitive config counts as not
/// reported; a flag is `None` when not reported or empty, else whether it is `true` (any
/// case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkConfigs {
    /// `link.mode` (`DESTINATION`, `SOURCE`, `BIDIRECTIONAL`).
    pub link_mode: Option<String>,
    /// `connection.mode` (`OUTBOUND`, `INBOUND`).
    pub connection_mode: Option<String>,
    /// `consumer.offset.sync.enable`.
    pub consumer_offset_sync: Option<bool>,
    /// `acl.sync.enable`.
    pub acl_sync: Option<bool>,
    /// `auto.create.mirror.topics.enable`.
    pub auto_create_mirror_topics: Option<bool>,
    /// `consumer.group.prefix.enable`: synced groups get `cluster.link.prefix` on the
    /// destination.
    pub consumer_group_prefix: Option<bool>,
    /// `cluster.link.prefix`: the prefix of the link's mirror topics (and of synced groups
    /// with `consumer.group.prefix.enable`).
    pub cluster_link_prefix: Option<String>,
    /// `consumer.offset.group.filters`: the JSON group filters, parsed (no rules when not
    /// reported or not parsable).
    pub consumer_offset_group_filters: GroupFilters,
    /// `availability.check.ms`: how often the link checks that the source is reachable (ms).
    /// Like the other timing configs, `None` when not reported, sensitive or not a whole
    /// number.
    pub availability_check_ms: Option<u64>,
    /// `availability.check.consecutive.failure.threshold`: failed checks in a row before the
    /// link turns `UNAVAILABLE`.
    pub availability_check_failure_threshold: Option<u64>,
    /// `consumer.offset.sync.ms`: how often consumer offsets are synced (ms).
    pub consumer_offset_sync_ms: Option<u64>,
    /// `topic.config.sync.ms`: how often topic configs (and partition counts) are synced (ms).
    pub topic_config_sync_ms: Option<u64>,
    /// `acl.sync.ms`: how often ACLs are synced (ms).
    pub acl_sync_ms: Option<u64>,
}

impl LinkConfigs {
    /// The prefix synced consumer groups get on the destination: `cluster.link.prefix` when
    /// `consumer.group.prefix.enable` is true, else none.
    pub(crate) fn destination_group_prefix(&self) -> &str {
        if self.consumer_group_prefix == Some(true) {
            self.cluster_link_prefix.as_deref().unwrap_or("")
        } else {
            ""
        }
    }
}

/// One mirror topic (`KafkaMirrorData`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MirrorTopic {
    /// `link_name`: never empty.
    pub link: String,
    /// `mirror_topic_name`.
    pub name: String,
    /// `source_topic_name` as reported.
    pub source_topic: Option<String>,
    /// `mirror_status`; `UNKNOWN` when missing or empty.
    pub state: Reported<MirrorState>,
    /// `mirror_topic_error`; `None` when missing, empty, `NO_ERROR` or `NOT_SET`.
    pub error: Option<String>,
    /// `state_time_ms`: the last state transition (Unix ms); `None` unless positive.
    pub state_changed_ms: Option<i64>,
    /// `num_partitions` as claimed; `None` when missing or negative.
    pub claimed_partitions: Option<u64>,
    /// `mirror_lags`: one entry per partition, as listed.
    pub lags: Vec<PartitionLag>,
    /// `mirror_state_transition_errors`, from the single-mirror GET the collector sends only
    /// for a mirror topic neither `ACTIVE` nor `STOPPED` (see
    /// [`MirrorTopic::may_be_in_transition`]); `None` when not read.
    pub transition_errors: Option<TransitionErrors>,
}

/// A mirror topic's `mirror_state_transition_errors`: why a promote or failover does not
/// complete. The items are shaped like link task errors (`error_code`, `error_message`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransitionErrors {
    /// The errors listed with an `error_code` other than `NO_ERROR`.
    pub count: u64,
    /// Their codes and messages, in the order listed (at most [`MAX_TASK_ERRORS`], each
    /// message at most [`MAX_TASK_ERROR_MESSAGE`] characters; `count` counts them all).
    pub details: Vec<TaskError>,
}

impl MirrorTopic {
    /// The partition count: `num_partitions`, else the number of listed partitions.
    pub(crate) fn partitions(&self) -> u64 {
        self.claimed_partitions
            .unwrap_or_else(|| u64::try_from(self.lags.len()).unwrap_or(u64::MAX))
    }

    /// The partitions whose lag is known (fetched at least once).
    pub fn fetched(&self) -> impl Iterator<Item = (i32, Fetched)> + '_ {
        self.lags
            .iter()
            .filter_map(|p| p.fetched.map(|f| (p.partition, f)))
    }

    /// Promoted or failed over (`STOPPED`): no longer mirrored, a regular topic. Its REST lag
    /// is frozen at what the stop left not copied.
    pub fn is_stopped(&self) -> bool {
        self.state.is(MirrorState::Stopped)
    }

    /// Neither `ACTIVE` nor `STOPPED`: a promote or failover may be in progress or failing, so
    /// the collector reads its state transition errors (a healthy or finished mirror topic
    /// costs no request).
    pub(crate) fn may_be_in_transition(&self) -> bool {
        !self.state.is(MirrorState::Active) && !self.is_stopped()
    }

    /// The lag the REST API reports, over the partitions fetched at least once; a
    /// never-fetched partition counts as unknown (no partition fetched: sum and max unknown,
    /// not 0).
    pub(crate) fn lag(&self) -> LagSummary {
        LagSummary::over(self.lags.iter().map(|p| p.fetched.map(|f| f.lag)))
    }
}

impl ClusterSnapshot {
    /// The live REST lag of each link: its mirror topics that still mirror (not `STOPPED`)
    /// together (`MirrorTopic::lag` added up), by link name; a link with no such mirror topic
    /// is not listed. A stopped mirror topic's frozen lag is in
    /// [`ClusterSnapshot::not_copied_by_link`] instead.
    pub(crate) fn lag_by_link(&self) -> BTreeMap<&str, LagSummary> {
        self.lag_of_links(|m| !m.is_stopped())
    }

    /// What promotions and failovers left not copied, by link: the frozen REST lag of each
    /// link's `STOPPED` mirror topics together; a link with none is not listed.
    pub(crate) fn not_copied_by_link(&self) -> BTreeMap<&str, LagSummary> {
        self.lag_of_links(MirrorTopic::is_stopped)
    }

    fn lag_of_links(&self, which: impl Fn(&MirrorTopic) -> bool) -> BTreeMap<&str, LagSummary> {
        let mut by_link: BTreeMap<&str, LagSummary> = BTreeMap::new();
        for m in self.mirrors.iter().filter(|m| which(m)) {
            let e = by_link.entry(m.link.as_str()).or_default();
            *e = e.merge(m.lag());
        }
        by_link
    }

    /// Each link's fail-over progress over its mirror topics, by link name; a link with no
    /// mirror topic is not listed.
    pub(crate) fn failover_by_link(&self) -> BTreeMap<&str, FailoverProgress> {
        let mut by_link: BTreeMap<&str, FailoverProgress> = BTreeMap::new();
        for m in &self.mirrors {
            by_link.entry(m.link.as_str()).or_default().add(m);
        }
        by_link
    }
}

/// Where a link's promote or failover stands, over its mirror topics: `stopped` of
/// `mirror_topics` are `STOPPED`, `pending_stopped` on their way (`PENDING_STOPPED`). The REST
/// API cannot tell a promote from a failover: both end in `STOPPED`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FailoverProgress {
    /// The link's mirror topics (after the filters).
    pub(crate) mirror_topics: u64,
    /// Those `PENDING_STOPPED`.
    pub(crate) pending_stopped: u64,
    /// Those `STOPPED`.
    pub(crate) stopped: u64,
    /// Those with state transition errors (among those whose errors were read).
    pub(crate) with_transition_errors: u64,
    /// The latest `state_time_ms` of the `STOPPED` ones (Unix ms; `None`: none known).
    pub(crate) last_stopped_ms: Option<i64>,
}

impl FailoverProgress {
    fn add(&mut self, m: &MirrorTopic) {
        self.mirror_topics += 1;
        if m.state.is(MirrorState::PendingStopped) {
            self.pending_stopped += 1;
        }
        if m.is_stopped() {
            self.stopped += 1;
            self.last_stopped_ms = self.last_stopped_ms.max(m.state_changed_ms);
        }
        if m.transition_errors.as_ref().is_some_and(|e| e.count > 0) {
            self.with_transition_errors += 1;
        }
    }

    /// Every mirror topic of the link is `STOPPED` (and it has at least one): the promote or
    /// failover is complete and the link mirrors nothing any more.
    pub(crate) fn completed(&self) -> bool {
        self.mirror_topics > 0 && self.stopped == self.mirror_topics
    }

    /// Some mirror topics are `PENDING_STOPPED`.
    pub(crate) fn in_progress(&self) -> bool {
        self.pending_stopped > 0
    }

    /// When the fail-over completed: the last mirror topic's stop (Unix ms), once
    /// [`FailoverProgress::completed`] and a stop time is known.
    pub(crate) fn completed_ms(&self) -> Option<i64> {
        self.last_stopped_ms.filter(|_| self.completed())
    }
}

/// Lag in messages over some partitions: the saturating sum and the largest of the known
/// partition lags (`None` when none is known: unknown, not 0), and how many partitions'
/// lag is unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LagSummary {
    /// Sum of the known lags (messages, at most 2⁶³−1); `None` when none is known.
    pub(crate) sum: Option<i64>,
    /// Largest known lag (messages); `None` when none is known.
    pub(crate) max: Option<i64>,
    /// Partitions whose lag is unknown.
    pub(crate) unknown_partitions: u64,
}

impl LagSummary {
    /// The summary of partition lags, `None` for a partition whose lag is unknown.
    pub(crate) fn over(lags: impl IntoIterator<Item = Option<i64>>) -> Self {
        lags.into_iter().fold(Self::default(), |s, lag| {
            s.merge(match lag {
                Some(l) => Self {
                    sum: Some(l),
                    max: Some(l),
                    unknown_partitions: 0,
                },
                None => Self {
                    unknown_partitions: 1,
                    ..Self::default()
                },
            })
        })
    }

    /// The summary of both sets of partitions.
    pub(crate) fn merge(self, other: Self) -> Self {
        let both = |a: Option<i64>, b: Option<i64>, f: fn(i64, i64) -> i64| match (a, b) {
            (Some(a), Some(b)) => Some(f(a, b)),
            (a, b) => a.or(b),
        };
        Self {
            sum: both(self.sum, other.sum, i64::saturating_add),
            max: both(self.max, other.max, i64::max),
            unknown_partitions: self
                .unknown_partitions
                .saturating_add(other.unknown_partitions),
        }
    }
}

/// One partition of a mirror topic's `mirror_lags`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartitionLag {
    /// `partition`.
    pub partition: i32,
    /// `None` while never fetched (`last_source_fetch_offset` -1 or missing): lag unknown.
    pub fetched: Option<Fetched>,
}

/// The lag of a partition that was fetched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fetched {
    /// `lag` in messages; a negative lag (seen after a mirror restarts) is 0.
    pub lag: i64,
    /// `last_source_fetch_offset`: at least 0.
    pub last_source_fetch_offset: i64,
}

/// Where the workers hand their snapshots. Rendering ([`crate::render::Exposition`]) and the
/// status data ([`crate::status::StatusStore`]) implement it; the exporter hands the workers
/// a `Fanout` to both.
pub trait Publish: Send + Sync {
    /// Swaps in `cluster`'s REST-side series from `snapshot`; `None` withdraws them. Shared,
    /// not copied: the status store keeps it for the status page.
    fn publish_rest(&self, cluster: &str, snapshot: Option<Arc<ClusterSnapshot>>);
    /// Swaps in `cluster`'s Kafka-side series from `measured`; `None` withdraws them.
    fn publish_kafka(&self, cluster: &str, measured: Option<Arc<KafkaSnapshot>>);
}

/// Publishes nowhere: for a worker run on its own (tests, tools).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Discard;

impl Publish for Discard {
    fn publish_rest(&self, _: &str, _: Option<Arc<ClusterSnapshot>>) {}
    fn publish_kafka(&self, _: &str, _: Option<Arc<KafkaSnapshot>>) {}
}

/// Publishes to each of several places in turn (the exposition and the status store).
#[derive(Clone, Default)]
pub(crate) struct Fanout(Vec<Arc<dyn Publish>>);

impl Fanout {
    /// A publisher to each of `targets`, in order.
    pub(crate) fn new(targets: Vec<Arc<dyn Publish>>) -> Self {
        Self(targets)
    }
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout")
            .field("targets", &self.0.len())
            .finish()
    }
}

impl Publish for Fanout {
    fn publish_rest(&self, cluster: &str, snapshot: Option<Arc<ClusterSnapshot>>) {
        for target in &self.0 {
            target.publish_rest(cluster, snapshot.clone());
        }
    }

    fn publish_kafka(&self, cluster: &str, measured: Option<Arc<KafkaSnapshot>>) {
        for target in &self.0 {
            target.publish_kafka(cluster, measured.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mirror(link: &str, lags: &[Option<i64>]) -> MirrorTopic {
        MirrorTopic {
            link: link.into(),
            lags: lags
                .iter()
                .zip(0..)
                .map(|(lag, partition)| PartitionLag {
                    partition,
                    fetched: lag.map(|lag| Fetched {
                        lag,
                        last_source_fetch_offset: 0,
                    }),
                })
                .collect(),
            ..MirrorTopic::default()
        }
    }

    #[test]
    fn lag_is_over_fetched_partitions_and_unknown_when_none_was_fetched() {
        let lag = mirror("ab", &[Some(3), None, Some(7), Some(0)]).lag();
        let want = LagSummary {
            sum: Some(10),
            max: Some(7),
            unknown_partitions: 1,
        };
        assert_eq!(lag, want);
        let never = mirror("ab", &[None, None]).lag();
        let want = LagSummary {
            sum: None,
            max: None,
            unknown_partitions: 2,
        };
        assert_eq!(never, want);
        assert_eq!(mirror("ab", &[]).lag(), LagSummary::default());
        let caught_up = mirror("ab", &[Some(0)]).lag();
        assert_eq!((caught_up.sum, caught_up.max), (Some(0), Some(0)));
    }

    #[test]
    fn lag_sums_saturate() {
        let lag = mirror("ab", &[Some(i64::MAX), Some(5)]).lag();
        assert_eq!((lag.sum, lag.max), (Some(i64::MAX), Some(i64::MAX)));
    }

    #[test]
    fn stopped_mirror_topics_leave_the_live_lag_for_not_copied() {
        let stopped = |link: &str, lag: i64, at: Option<i64>| MirrorTopic {
            state: Reported::Known(MirrorState::Stopped),
            state_changed_ms: at,
            ..mirror(link, &[Some(lag)])
        };
        let pending = MirrorTopic {
            state: Reported::Known(MirrorState::PendingStopped),
            transition_errors: Some(TransitionErrors {
                count: 1,
                details: Vec::new(),
            }),
            ..mirror("ab", &[Some(2)])
        };
        let snapshot = ClusterSnapshot {
            mirrors: vec![
                mirror("ab", &[Some(3)]),
                pending,
                stopped("ab", 199, Some(5_000)),
                stopped("cd", 7, Some(9_000)),
                stopped("cd", 1, Some(8_000)),
            ],
            ..ClusterSnapshot::default()
        };
        let live = snapshot.lag_by_link();
        assert_eq!(
            live["ab"].sum,
            Some(5),
            "the stopped topic's 199 is not live lag"
        );
        assert!(!live.contains_key("cd"), "no live mirror topic: not listed");
        let not_copied = snapshot.not_copied_by_link();
        assert_eq!(not_copied["ab"].sum, Some(199));
        assert_eq!(not_copied["cd"].sum, Some(8));
        let progress = snapshot.failover_by_link();
        let ab = progress["ab"];
        assert_eq!(
            (ab.mirror_topics, ab.pending_stopped, ab.stopped),
            (3, 1, 1)
        );
        assert_eq!(ab.with_transition_errors, 1);
        assert!(ab.in_progress() && !ab.completed());
        assert_eq!(ab.completed_ms(), None, "not complete: no time");
        let cd = progress["cd"];
        assert!(cd.completed() && !cd.in_progress());
        assert_eq!(cd.completed_ms(), Some(9_000), "the last stop");
        let unknown_time = FailoverProgress {
            mirror_topics: 1,
            stopped: 1,
            ..FailoverProgress::default()
        };
        assert!(unknown_time.completed());
        assert_eq!(unknown_time.completed_ms(), None);
        assert!(!FailoverProgress::default().completed(), "no mirror topic");
    }

    #[test]
    fn link_lag_adds_its_mirror_topics() {
        let snapshot = ClusterSnapshot {
            mirrors: vec![
                mirror("ab", &[Some(3), None]),
                mirror("ab", &[Some(4)]),
                mirror("cd", &[None]),
            ],
            ..ClusterSnapshot::default()
        };
        let by_link = snapshot.lag_by_link();
        let ab = LagSummary {
            sum: Some(7),
            max: Some(4),
            unknown_partitions: 1,
        };
        let cd = LagSummary {
            sum: None,
            max: None,
            unknown_partitions: 1,
        };
        assert_eq!(by_link, BTreeMap::from([("ab", ab), ("cd", cd)]));
    }
}
