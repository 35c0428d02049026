//! The status page (`/`) and its JSON form (`/status.json`): the view an on-call engineer
//! opens first. This module owns the view model ([`StatusView`]: every cluster, its links
//! and each link's mirror topics, problems first), built from the status data
//! ([`StatusData`], read from the [`crate::status::StatusStore`]: each cluster's collection
//! outcome, the latest snapshots the workers published — the same `/metrics` is rendered
//! from — the Kafka connections' state and last error, the probes' last latency, each link's
//! fail-over readiness with its expected loss: [`ReadinessView`]) and the shard, so a request never calls upstream nor scrapes the exporter; and its renderings:
//! HTML ([`html`], with its Content-Security-Policy) and JSON ([`StatusView::to_json`]).
//! Each row lists its problems with the runbook section that covers each ([`runbook`]).
//! `http` only routes to it.

pub(crate) mod html;
pub(crate) mod runbook;

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

use crate::shard::{ShardMetrics, Sharding};
use crate::snapshot::{source_out_of_reach, LinkReadiness, LinkState, MirrorState};
use crate::snapshot::{Blocker, Verdict};
use crate::snapshot::{ClusterReadiness, ClusterSnapshot, KafkaSnapshot, Link, LinkError};
use crate::snapshot::{FailoverProgress, MirrorTopic, Task, TaskError, TaskState};
use crate::status::{LatestSnapshots, StatusData};
use crate::util::unix_ms_at;
use runbook::{Problem, RunbookLink};

/// The path of the JSON form.
pub const JSON_PATH: &str = "/status.json";

/// The whole view, clusters problems first. Field names are the JSON form's (stable); a
/// duration is in seconds (`_seconds`), an absent value is `null`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct StatusView {
    /// When the view was built (Unix seconds).
    pub(crate) generated_at_seconds: f64,
    /// This process's shard (`null`: not sharded, `--total-shards` 1).
    pub(crate) shard: Option<ShardView>,
    /// Every cluster: down ones first, then starting ones, then those with a link not
    /// ACTIVE, with a Kafka connection down, with a link or task error, with a mirror topic
    /// not ACTIVE, then healthy ones; by name within each group.
    pub(crate) clusters: Vec<ClusterView>,
}

/// Which clusters this process collects when it runs as one shard of several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct ShardView {
    /// This shard's ordinal (`--shard`), `0..total_shards`.
    pub(crate) ordinal: u32,
    /// `--total-shards`.
    pub(crate) total_shards: u32,
    /// Clusters of the configuration this shard collects.
    pub(crate) assigned_clusters: u64,
    /// Clusters in the configuration, every shard's.
    pub(crate) configured_clusters: u64,
}

impl ShardView {
    /// The view of `sharding` with the counts `metrics` last recorded; `None` when not
    /// sharded (`--total-shards` 1).
    pub(crate) fn of(sharding: &Sharding, metrics: &ShardMetrics) -> Option<Self> {
        let total_shards = sharding.total().get();
        let (assigned_clusters, configured_clusters) = metrics.counts();
        (total_shards > 1).then_some(Self {
            ordinal: sharding.ordinal(),
            total_shards,
            assigned_clusters,
            configured_clusters,
        })
    }
}

/// One Kafka connection of a cluster's measurements (its `kafka` section, or a source
/// cluster of `source_clusters`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct KafkaConnectionView {
    /// `destination` or `source`.
    pub(crate) role: String,
    /// The connection's name: the cluster's own for the destination, the source cluster's
    /// name in `source_clusters` for a source.
    pub(crate) name: String,
    /// `up`, `down` (`clusterlink_kafka_up` 1 or 0) or `starting` (not measured yet).
    pub(crate) health: Health,
    /// Its last failure (`reason: what failed: error`), even if it recovered since.
    pub(crate) last_error: Option<String>,
    /// Time since that failure.
    pub(crate) last_error_age_seconds: Option<f64>,
}

/// Whether a cluster's collection works, as `/-/ready` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Health {
    /// The last REST collection cycle succeeded.
    Up,
    /// The last REST collection cycle failed (its links are withdrawn, as from `/metrics`).
    Down,
    /// No cycle finished yet.
    Starting,
}

impl Health {
    /// `up`, `down` or `starting`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Starting => "starting",
        }
    }
}

/// One destination cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ClusterView {
    /// The configured name (`kafka_cluster` label).
    pub(crate) name: String,
    /// Whether its collection works.
    pub(crate) health: Health,
    /// Down, starting, a Kafka connection down, or a link or mirror topic of it is a problem.
    pub(crate) problem: bool,
    /// REST collection cycles finished, successful or not.
    pub(crate) collection_cycles: u64,
    /// Time since the last successful REST cycle.
    pub(crate) last_success_age_seconds: Option<f64>,
    /// Age of the REST data shown (time since its snapshot was published).
    pub(crate) data_age_seconds: Option<f64>,
    /// Age of the Kafka-side measurements shown (`null`: none, e.g. no `kafka` section).
    pub(crate) kafka_data_age_seconds: Option<f64>,
    /// The last collection failure (reason and message), even if collection recovered since.
    pub(crate) last_error: Option<String>,
    /// Time since that failure.
    pub(crate) last_error_age_seconds: Option<f64>,
    /// Its Kafka connections, the destination first then the sources by name (empty: no
    /// `kafka` section, or not measured yet).
    pub(crate) kafka_connections: Vec<KafkaConnectionView>,
    /// Its links: not ACTIVE first, then ACTIVE with a link error or a task in error, then
    /// with a mirror topic not ACTIVE, then healthy; by name within each group.
    pub(crate) links: Vec<LinkView>,
    /// Links named in `failover_readiness.links` that the REST API does not list, as
    /// `clusterlink_failover_readiness_unknown_links` counts them.
    pub(crate) readiness_unknown_links: Vec<String>,
    /// The names its configuration gives that it does not have (probe links and mirror
    /// topics, offset-sync groups, include patterns that select nothing), as
    /// `clusterlink_config_reference_missing` marks them (empty: all found, or not checked
    /// yet).
    pub(crate) config_references_missing: Vec<ReferenceView>,
    /// What the cluster's row shows that is a problem (collection down or starting, a Kafka
    /// connection down, names missing), each with the runbook section that covers it.
    pub(crate) problems: Vec<RunbookLink>,
}

/// A name the configuration gives that the cluster does not have.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ReferenceView {
    /// `link`, `mirror_topic`, `consumer_group`, `link_filter` or `mirror_topic_filter`.
    pub(crate) kind: String,
    /// The name or pattern as configured.
    pub(crate) name: String,
    /// The key under the cluster's section that names it (`probes[0].link`).
    pub(crate) key: String,
    /// Why it counts as missing.
    pub(crate) problem: String,
}

/// A link's fail-over readiness: the same values as the `clusterlink_link_failover_*` families.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ReadinessView {
    /// `ready`, `not_ready`, `unknown` or `failed_over` (`clusterlink_link_failover_readiness`).
    pub(crate) verdict: String,
    /// The reasons that apply (`clusterlink_link_failover_blocked` at 1), in their order.
    pub(crate) blockers: Vec<String>,
    /// The line the page shows: `Ready to fail over`, `Not ready: …`, `Unknown: …`, `Failed
    /// over`.
    pub(crate) text: String,
    /// The link's RPO (`clusterlink_link_rpo_seconds`).
    pub(crate) rpo_seconds: f64,
    /// `clusterlink_link_failover_expected_loss_messages` (`null`: unknown).
    pub(crate) expected_loss_messages: Option<i64>,
    /// Whether `expected_loss_messages` is only a lower bound: the REST lag while the source
    /// cannot be read.
    pub(crate) expected_loss_messages_lower_bound: bool,
    /// `clusterlink_link_failover_expected_loss_seconds` (`null`: never measured).
    pub(crate) expected_loss_seconds: Option<f64>,
    /// Whether `expected_loss_seconds` is an upper bound: the last lag measured plus the time
    /// since, while it cannot be measured.
    pub(crate) expected_loss_seconds_upper_bound: bool,
    /// Time since the link's lag in seconds was last measured (`null`: never).
    pub(crate) lag_seconds_measured_age_seconds: Option<f64>,
    /// The expected loss in seconds against the RPO: `ok` (below half of it), `warn` (below
    /// it), `bad` (at or above it); `null` when unknown.
    pub(crate) lag_against_rpo: Option<String>,
    /// Time since the last mirror topic of a `failed_over` link became `STOPPED`.
    pub(crate) failed_over_age_seconds: Option<f64>,
    /// Per synced consumer group and mirror topic: what a fail-over now would lose and
    /// re-process.
    pub(crate) groups: Vec<GroupLossView>,
}

/// One synced consumer group on one mirror topic, as the offset-sync families say.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct GroupLossView {
    /// The group (its name on the source).
    pub(crate) consumer_group: String,
    /// The mirror topic.
    pub(crate) mirror_topic: String,
    /// `clusterlink_consumer_offset_sync_lag_messages`.
    pub(crate) offset_sync_lag_messages: i64,
    /// Never replicated: lost to the group on a fail-over now
    /// (`clusterlink_consumer_offset_sync_unreplicated_messages`; `null`: unknown).
    pub(crate) lost_messages: Option<i64>,
    /// Replicated, not yet synced: re-processed by the group
    /// (`clusterlink_consumer_offset_sync_unsynced_messages`; `null`: unknown).
    pub(crate) reprocessed_messages: Option<i64>,
}

/// One cluster link of a destination cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct LinkView {
    /// `link_name`.
    pub(crate) name: String,
    /// `link_state` (`ACTIVE`, `FAILED`, `UNAVAILABLE`, `PAUSED`, `UNKNOWN` or as reported).
    pub(crate) state: String,
    /// Not ACTIVE, a link error, or a task in error (never once its fail-over completed:
    /// every mirror topic `STOPPED`, the link mirrors nothing any more); or a finding on its
    /// mirror topics (`findings`), completed or not.
    pub(crate) problem: bool,
    /// What its mirror topics' rows report, rolled up, most severe first: records written to
    /// the old source, records lost to retention, transition errors, stalls.
    pub(crate) findings: Vec<FindingView>,
    /// Time the exporter has seen the link in this state (the API reports no time for it:
    /// at most the time since the exporter started collecting the cluster).
    pub(crate) state_age_seconds: Option<f64>,
    /// `link_error` (`NO_ERROR` when healthy).
    pub(crate) error: String,
    /// `link_error_message`.
    pub(crate) error_message: Option<String>,
    /// Tasks in state `IN_ERROR`.
    pub(crate) tasks_in_error: u64,
    /// Errors the tasks report.
    pub(crate) task_errors: u64,
    /// Its tasks, in the order the API listed them.
    pub(crate) tasks: Vec<TaskView>,
    /// Mirror topics of the link.
    pub(crate) mirror_topics: u64,
    /// Those neither ACTIVE nor STOPPED (promoted or failed over).
    pub(crate) mirror_topics_not_active: u64,
    /// Those whose rows are problems (the page's `N with problems`): the ones neither ACTIVE
    /// nor STOPPED, and ACTIVE or STOPPED ones with a finding of the Kafka side (records lost
    /// to retention or written to the old source, a stall, …).
    pub(crate) mirror_topics_with_problems: u64,
    /// Sum of the live mirror topics' `lag_messages`: those still mirroring, not `STOPPED`
    /// (`null`: none known).
    pub(crate) lag_messages: Option<i64>,
    /// Sum of the mirror topics' `measured_lag_messages` (`null`: none measured). The page
    /// shows it, marked `measured`, in place of the REST lag when known: the REST lag stands
    /// still while a fetcher is stalled.
    pub(crate) measured_lag_messages: Option<i64>,
    /// Whether a live mirror topic's source is out of reach (see the mirror topics'
    /// `source_out_of_reach`): the page then shows the REST lag as unknown, with its last
    /// value, never as a bare number that reads as caught up.
    pub(crate) source_out_of_reach: bool,
    /// Sum of the `STOPPED` mirror topics' frozen REST lag: about what their promote or
    /// failover left not copied (`null`: none stopped, or none known).
    pub(crate) not_copied_messages: Option<i64>,
    /// Its promote or failover (`null`: no mirror topic `STOPPED` or `PENDING_STOPPED`).
    pub(crate) failover: Option<FailoverView>,
    /// The link configs that set Confluent's detection and sync timing, as the
    /// `clusterlink_link_*_interval_seconds` and `…_failure_threshold` families.
    pub(crate) settings: LinkSettingsView,
    /// Largest lag in seconds over its measured mirror topics, as
    /// `clusterlink_link_lag_seconds` (`null`: not measured, or partitions lag and none of
    /// them was read).
    pub(crate) lag_seconds: Option<f64>,
    /// Latency of the last probe record received (`null`: no probe or none received yet).
    pub(crate) probe_latency_seconds: Option<f64>,
    /// Time since that record was received (`null`: none received yet).
    pub(crate) probe_last_received_age_seconds: Option<f64>,
    /// Its fail-over readiness (`null`: not assessed yet).
    pub(crate) readiness: Option<ReadinessView>,
    /// Its mirror topics: not ACTIVE first, then by name.
    pub(crate) mirrors: Vec<MirrorView>,
    /// What its row shows that is a problem (state, link error, tasks in error, findings,
    /// not ready to fail over), each with the runbook section that covers it.
    pub(crate) problems: Vec<RunbookLink>,
}

/// One kind of finding over a link's mirror topics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct FindingView {
    /// `old_source_writes`, `lost_to_retention`, `transition_errors` or `stalled`.
    pub(crate) kind: FindingKind,
    /// Mirror topics of the link with it.
    pub(crate) mirror_topics: u64,
    /// Records over them (written to the old source, lost to retention), or transition
    /// errors; `null` for a stall.
    pub(crate) count: Option<i64>,
    /// The line the page shows.
    pub(crate) text: String,
}

/// What a mirror topic's row reports that its link rolls up, most severe first (the order
/// of the variants): data leaving for good comes before a stall that can still catch up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FindingKind {
    /// Records written to the old source after the mirror topic stopped: never mirrored, and
    /// still arriving.
    OldSourceWrites,
    /// Records the source deleted (retention) before the mirror fetched them.
    LostToRetention,
    /// A promote or failover that reports state transition errors.
    TransitionErrors,
    /// ACTIVE, copying nothing while the source receives records.
    Stalled,
}

impl FindingKind {
    /// The link's line for `count` records (or errors) over `topics` mirror topics.
    fn describe(self, count: Option<i64>, topics: u64) -> String {
        let on = if topics == 1 {
            "1 mirror topic".to_owned()
        } else {
            format!("{topics} mirror topics")
        };
        let n = count.unwrap_or(0);
        match self {
            Self::OldSourceWrites => {
                format!("{n} records written to the old source since the stop ({on})")
            }
            Self::LostToRetention => {
                format!("{n} records deleted at the source before they were mirrored ({on})")
            }
            Self::TransitionErrors => format!("{n} transition errors ({on})"),
            Self::Stalled => {
                format!("stalled: {on} copying nothing while the source receives records")
            }
        }
    }
}

/// A link's timing configs (`null`: not reported, or not a whole number).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub(crate) struct LinkSettingsView {
    /// `availability.check.ms`, in seconds.
    pub(crate) availability_check_interval_seconds: Option<f64>,
    /// `availability.check.consecutive.failure.threshold`: the link turns `UNAVAILABLE`
    /// after this many failed checks in a row.
    pub(crate) availability_check_failure_threshold: Option<u64>,
    /// `consumer.offset.sync.enable` (`null`: not reported). When `false` the page says
    /// "offset sync off", whatever the interval.
    pub(crate) consumer_offset_sync_enabled: Option<bool>,
    /// `consumer.offset.sync.ms`, in seconds.
    pub(crate) consumer_offset_sync_interval_seconds: Option<f64>,
    /// `topic.config.sync.ms`, in seconds.
    pub(crate) topic_config_sync_interval_seconds: Option<f64>,
    /// `acl.sync.ms`, in seconds.
    pub(crate) acl_sync_interval_seconds: Option<f64>,
}

impl LinkSettingsView {
    fn of(link: &Link) -> Self {
        let c = &link.configs;
        let seconds = |ms: Option<u64>| ms.map(|ms| ms as f64 / 1000.0);
        Self {
            availability_check_interval_seconds: seconds(c.availability_check_ms),
            availability_check_failure_threshold: c.availability_check_failure_threshold,
            consumer_offset_sync_enabled: c.consumer_offset_sync,
            consumer_offset_sync_interval_seconds: seconds(c.consumer_offset_sync_ms),
            topic_config_sync_interval_seconds: seconds(c.topic_config_sync_ms),
            acl_sync_interval_seconds: seconds(c.acl_sync_ms),
        }
    }
}

/// Where a link's promote or failover stands. The REST API cannot tell a promote from a
/// failover: both end in `STOPPED`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct FailoverView {
    /// `in_progress` (mirror topics `PENDING_STOPPED`), `completed` (every mirror topic
    /// `STOPPED`) or `partial` (some `STOPPED`, the others still mirroring).
    pub(crate) stage: FailoverStage,
    /// Mirror topics `STOPPED`.
    pub(crate) mirror_topics_stopped: u64,
    /// Mirror topics `PENDING_STOPPED`.
    pub(crate) mirror_topics_pending_stopped: u64,
    /// Mirror topics reporting state transition errors.
    pub(crate) mirror_topics_with_transition_errors: u64,
    /// When it completed: the last mirror topic's stop (Unix seconds; `null` while not
    /// completed or not reported).
    pub(crate) completed_at_seconds: Option<f64>,
}

/// The stage of a link's promote or failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FailoverStage {
    /// Some mirror topics are `PENDING_STOPPED`.
    InProgress,
    /// Every mirror topic is `STOPPED`.
    Completed,
    /// Some mirror topics are `STOPPED`, none pending, others still mirror.
    Partial,
}

impl FailoverView {
    /// The view of `progress`; `None` when no mirror topic is stopped or stopping.
    fn of(progress: &FailoverProgress) -> Option<Self> {
        let stage = if progress.in_progress() {
            FailoverStage::InProgress
        } else if progress.completed() {
            FailoverStage::Completed
        } else if progress.stopped > 0 {
            FailoverStage::Partial
        } else {
            return None;
        };
        Some(Self {
            stage,
            mirror_topics_stopped: progress.stopped,
            mirror_topics_pending_stopped: progress.pending_stopped,
            mirror_topics_with_transition_errors: progress.with_transition_errors,
            completed_at_seconds: progress.completed_ms().map(|ms| ms as f64 / 1000.0),
        })
    }
}

/// One task of a link (`tasks[]` of the REST API's link).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct TaskView {
    /// `task_name`.
    pub(crate) name: String,
    /// `state` (`ACTIVE`, `IN_ERROR`, `NOT_CONFIGURED`, … or as reported).
    pub(crate) state: String,
    /// Its errors with an `error_code` other than `NO_ERROR` (at most
    /// [`crate::snapshot::MAX_TASK_ERRORS`]).
    pub(crate) errors: Vec<TaskErrorView>,
}

impl TaskView {
    /// In state `IN_ERROR`, or reporting an error.
    pub(crate) fn in_error(&self) -> bool {
        self.state == TaskState::InError.as_str() || !self.errors.is_empty()
    }
}

/// One error of a task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct TaskErrorView {
    /// `error_code`.
    pub(crate) code: String,
    /// `error_message` (`null`: none).
    pub(crate) message: Option<String>,
}

/// One mirror topic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct MirrorView {
    /// `mirror_topic_name`.
    pub(crate) name: String,
    /// `source_topic_name`.
    pub(crate) source_topic: Option<String>,
    /// `mirror_status` (`ACTIVE`, `PAUSED`, `FAILED`, … or as reported).
    pub(crate) state: String,
    /// Neither ACTIVE nor STOPPED (a promoted or failed-over mirror topic is no problem).
    pub(crate) problem: bool,
    /// Time since its last state transition (`state_time_ms`).
    pub(crate) state_age_seconds: Option<f64>,
    /// `mirror_topic_error`, when there is one.
    pub(crate) error: Option<String>,
    /// Partitions.
    pub(crate) partitions: u64,
    /// Sum of the partition lags the REST API reports, as
    /// `clusterlink_mirror_topic_lag_messages` (`null`: no partition fetched yet, where
    /// `/metrics` writes no sample, and once `STOPPED`: no longer a lag, see
    /// `not_copied_messages`).
    pub(crate) lag_messages: Option<i64>,
    /// `STOPPED` only: its frozen REST lag, about what its promote or failover left not
    /// copied (`null` otherwise, or unknown).
    pub(crate) not_copied_messages: Option<i64>,
    /// Not `STOPPED`, and its source is out of reach (the link `UNAVAILABLE`, the mirror topic
    /// `SOURCE_UNAVAILABLE`, or the exporter could not read the source): `lag_messages` is
    /// what the link last fetched against, a lower bound, and the page shows it as unknown
    /// with that value (and its age while `SOURCE_UNAVAILABLE`).
    pub(crate) source_out_of_reach: bool,
    /// State transition errors it reports (`null`: not read; the exporter reads them only
    /// for mirror topics neither ACTIVE nor STOPPED), as `clusterlink_mirror_topic_transition_errors`.
    pub(crate) transition_error_count: Option<u64>,
    /// Their codes and messages (at most [`crate::snapshot::MAX_TASK_ERRORS`]).
    pub(crate) transition_errors: Vec<TaskErrorView>,
    /// Sum of the measured partition lags (source minus destination high watermark; `null`:
    /// not measured over Kafka).
    pub(crate) measured_lag_messages: Option<i64>,
    /// Largest measured partition lag in seconds, as `clusterlink_mirror_topic_lag_seconds`
    /// (`null`: not measured, or partitions lag and none of them was read).
    pub(crate) lag_seconds: Option<f64>,
    /// Largest offset-sync lag of a consumer group on it (messages; `null`: none measured).
    pub(crate) offset_sync_lag_messages: Option<i64>,
    /// Records the source deleted (retention) before the mirror fetched them, as
    /// `clusterlink_mirror_topic_records_lost_to_retention` (`null`: not measured): 0 again
    /// once the fetcher passed the gap.
    pub(crate) records_lost_to_retention: Option<i64>,
    /// The largest `records_lost_to_retention` seen, kept for an hour after it was last
    /// above 0, as the alert looks back (`null`: none in that hour). The page shows it after
    /// the gap passed.
    pub(crate) records_lost_to_retention_last_hour: Option<i64>,
    /// Time since `records_lost_to_retention` was last above 0 (`null`: not in the last hour).
    pub(crate) records_lost_to_retention_seen_age_seconds: Option<f64>,
    /// Records per second written to the mirror topic, as
    /// `clusterlink_mirror_topic_replication_records_per_second` (`null`: not measured).
    pub(crate) replication_records_per_second: Option<f64>,
    /// Records per second written to its source topic (`null`: not measured).
    pub(crate) source_records_per_second: Option<f64>,
    /// For a `STOPPED` mirror topic whose old source is watched: records written there since
    /// the stop, as `clusterlink_mirror_topic_source_records_since_stop` (`null`: not watched).
    pub(crate) source_records_since_stop: Option<i64>,
    /// Partition count of its source topic, as `clusterlink_mirror_topic_source_partitions`
    /// (`null`: not read).
    pub(crate) source_partitions: Option<i32>,
    /// Source partitions it does not have yet (not mirrored, not measured), as
    /// `clusterlink_mirror_topic_unmirrored_partitions` (`null`: unknown).
    pub(crate) unmirrored_partitions: Option<i32>,
    /// Its source topic's `retention.ms` in seconds, as
    /// `clusterlink_mirror_topic_source_retention_seconds` (`null`: unknown or infinite).
    pub(crate) source_retention_seconds: Option<f64>,
    /// What its row shows that is a problem (state, error, transition errors, the Kafka
    /// side's findings), each with the runbook section that covers it.
    pub(crate) problems: Vec<RunbookLink>,
}

/// The share of the source's retention a mirror's lag in seconds may reach before its row says
/// so: the default of `clusterlink:threshold:source_retention_fraction`
/// (`alerts/thresholds.rules.yml`), which the alert `ClusterLinkLagNearSourceRetention` uses.
pub(crate) const RETENTION_WARNING_FRACTION: f64 = 0.5;

impl MirrorView {
    /// Neither `ACTIVE` nor `STOPPED`: a problem whatever the Kafka side finds.
    pub(crate) fn not_active(&self) -> bool {
        self.state != MirrorState::Active.as_str() && self.state != MirrorState::Stopped.as_str()
    }

    /// An `ACTIVE` mirror topic that copies nothing while its source receives records.
    pub(crate) fn stalled(&self) -> bool {
        self.state == MirrorState::Active.as_str()
            && self.replication_records_per_second == Some(0.0)
            && self.source_records_per_second.is_some_and(|s| s > 0.0)
    }

    /// Its lag in seconds as a share of its source's retention, when both are known and the
    /// retention is positive.
    pub(crate) fn retention_used(&self) -> Option<f64> {
        let retention = self.source_retention_seconds.filter(|r| *r > 0.0)?;
        Some(self.lag_seconds? / retention)
    }

    /// Records lost to retention: the largest of the last hour (the gap may have passed, the
    /// metric back at 0); `None` when none.
    fn lost_to_retention(&self) -> Option<i64> {
        self.records_lost_to_retention
            .max(self.records_lost_to_retention_last_hour)
            .filter(|n| *n > 0)
    }

    /// What its row reports that the link rolls up, most severe first, with the records (or
    /// errors) each counts.
    pub(crate) fn findings(&self) -> Vec<(FindingKind, Option<i64>)> {
        let mut out = Vec::new();
        if let Some(n) = self.source_records_since_stop.filter(|n| *n > 0) {
            out.push((FindingKind::OldSourceWrites, Some(n)));
        }
        if let Some(n) = self.lost_to_retention() {
            out.push((FindingKind::LostToRetention, Some(n)));
        }
        if let Some(n) = self.transition_error_count.filter(|n| *n > 0) {
            out.push((
                FindingKind::TransitionErrors,
                Some(i64::try_from(n).unwrap_or(i64::MAX)),
            ));
        }
        if self.stalled() {
            out.push((FindingKind::Stalled, None));
        }
        out
    }

    /// What the Kafka side saw go wrong with it, one line each: records lost to retention, a
    /// lag past [`RETENTION_WARNING_FRACTION`] of the source's retention, source partitions
    /// not mirrored, a stall, writes to the old source after its stop.
    pub(crate) fn kafka_findings(&self) -> Vec<String> {
        self.kafka_problems()
            .into_iter()
            .map(|(_, line)| line)
            .collect()
    }

    /// [`Self::kafka_findings`], each line with the kind of problem it is.
    pub(crate) fn kafka_problems(&self) -> Vec<(Problem, String)> {
        let mut out = Vec::new();
        if let Some(n) = self.lost_to_retention() {
            let when = match self.records_lost_to_retention {
                Some(now) if now > 0 => String::new(),
                _ => self
                    .records_lost_to_retention_seen_age_seconds
                    .map(|a| format!(" (gap passed; last seen {} ago)", html::duration(a)))
                    .unwrap_or_default(),
            };
            out.push((
                Problem::LostToRetention,
                format!("{n} records deleted at the source before they were mirrored{when}"),
            ));
        }
        if let Some(used) = self
            .retention_used()
            .filter(|u| *u >= RETENTION_WARNING_FRACTION)
        {
            let retention = self.source_retention_seconds.unwrap_or_default();
            out.push((Problem::LagNearRetention, format!(
                "lag is {:.0}% of the source's retention ({retention:.0} s): records are deleted before they are mirrored at 100%",
                used * 100.0
            )));
        }
        if let Some(n) = self.unmirrored_partitions.filter(|n| *n > 0) {
            let source = self.source_partitions.unwrap_or_default();
            out.push((
                Problem::UnmirroredPartitions,
                format!(
                "{n} source partitions not mirrored yet (source {source}, mirror {}): not measured",
                self.partitions
            ),
            ));
        }
        if self.stalled() {
            let s = self.source_records_per_second.unwrap_or(0.0);
            out.push((
                Problem::Stalled,
                format!("stalled: nothing mirrored while the source receives {s:.1} records/s"),
            ));
        }
        if let Some(n) = self.source_records_since_stop.filter(|n| *n > 0) {
            out.push((
                Problem::OldSourceWrites,
                format!("{n} records written to the old source since the stop"),
            ));
        }
        out
    }
}

/// What a view is built from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Inputs<'a> {
    /// The status data ([`crate::status::StatusStore::read`]).
    pub(crate) data: &'a StatusData,
    /// This process's shard (`None`: not sharded).
    pub(crate) shard: Option<ShardView>,
    /// Now (Unix ms).
    pub(crate) now_ms: i64,
}

impl StatusView {
    /// Builds the view: every cluster on the board or with a snapshot, problems first.
    pub(crate) fn build(inputs: Inputs<'_>) -> Self {
        let data = inputs.data;
        let mut names: Vec<&String> = data
            .collection
            .keys()
            .chain(data.snapshots.keys())
            .collect();
        names.sort();
        names.dedup();
        let mut clusters: Vec<ClusterView> = names
            .into_iter()
            .map(|name| cluster_view(name, &inputs))
            .collect();
        clusters.sort_by(|a, b| {
            cluster_rank(a)
                .cmp(&cluster_rank(b))
                .then(a.name.cmp(&b.name))
        });
        Self {
            generated_at_seconds: inputs.now_ms as f64 / 1000.0,
            shard: inputs.shard,
            clusters,
        }
    }

    /// The JSON form.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// Seconds from `then_ms` to `now_ms` (0 for a time in the future).
fn age(now_ms: i64, then_ms: i64) -> f64 {
    now_ms.saturating_sub(then_ms).max(0) as f64 / 1000.0
}

fn system_age(now_ms: i64, t: Option<SystemTime>) -> Option<f64> {
    t.map(|t| age(now_ms, unix_ms_at(t)))
}

fn cluster_view(name: &str, inputs: &Inputs<'_>) -> ClusterView {
    let now = inputs.now_ms;
    let status = inputs
        .data
        .collection
        .get(name)
        .cloned()
        .unwrap_or_default();
    let latest = inputs.data.snapshots.get(name);
    let health = match (status.cycles, status.up) {
        (0, _) => Health::Starting,
        (_, true) => Health::Up,
        (_, false) => Health::Down,
    };
    let rest = latest.and_then(|l| l.rest.as_ref());
    let kafka = latest.and_then(|l| l.kafka.as_ref());
    let links = match rest {
        Some((snapshot, _)) => link_views(name, snapshot, kafka.map(|(k, _)| &**k), inputs),
        None => Vec::new(),
    };
    let mut links = apply_since(links, latest, now);
    let readiness = inputs.data.readiness.get(name);
    for link in &mut links {
        link.readiness = readiness
            .and_then(|r| r.links.iter().find(|l| l.link == link.name))
            .map(|r| readiness_view(r, now));
    }
    // A withdrawn REST side: the links readiness still speaks of (unknown).
    if rest.is_none() {
        for r in readiness.map(|r| r.links.as_slice()).unwrap_or_default() {
            links.push(LinkView {
                readiness: Some(readiness_view(r, now)),
                ..link_view(
                    name,
                    &Link {
                        name: r.link.clone(),
                        ..Link::default()
                    },
                    Vec::new(),
                    LinkLag {
                        messages: None,
                        measured: None,
                        seconds: None,
                        not_copied: None,
                        failover: FailoverProgress::default(),
                    },
                    inputs.data,
                    now,
                )
            });
        }
    }
    let kafka_connections = kafka_connections(name, inputs);
    let kafka_down = kafka_connections.iter().any(|k| k.health == Health::Down);
    let config_references_missing: Vec<ReferenceView> = inputs
        .data
        .references
        .get(name)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|c| ReferenceView {
            kind: c.kind.as_str().to_owned(),
            name: c.name.clone(),
            key: c.key.clone(),
            problem: c.missing.clone().unwrap_or_default(),
        })
        .collect();
    let mut view = ClusterView {
        name: name.to_owned(),
        health,
        problem: health != Health::Up
            || kafka_down
            || !config_references_missing.is_empty()
            || links.iter().any(|l| l.problem || mirror_problem(l)),
        collection_cycles: status.cycles,
        last_success_age_seconds: system_age(now, status.last_success),
        data_age_seconds: rest.map(|(_, at)| age(now, *at)),
        kafka_data_age_seconds: kafka.map(|(_, at)| age(now, *at)),
        last_error: status.last_error.clone(),
        last_error_age_seconds: system_age(now, status.last_error_at),
        kafka_connections,
        links,
        readiness_unknown_links: readiness
            .map(|r: &std::sync::Arc<ClusterReadiness>| r.unknown_links.clone())
            .unwrap_or_default(),
        config_references_missing,
        problems: Vec::new(),
    };
    runbook::attach(&mut view, &inputs.data.runbook_base);
    view
}

/// The readiness line of a link, from its assessment.
fn readiness_view(r: &LinkReadiness, now_ms: i64) -> ReadinessView {
    let loss = r.expected_loss;
    let describe = |b: &Blocker| match b {
        Blocker::MirrorTopicsNotActive => {
            format!("{} ({})", b.describe(), r.mirror_topics_not_active)
        }
        Blocker::MirrorTopicsPaused => format!("{} ({})", b.describe(), r.mirror_topics_paused),
        Blocker::MirrorTopicsStopped => format!(
            "{} ({} of {})",
            b.describe(),
            r.mirror_topics_stopped,
            r.mirror_topics_stopped + r.mirror_topics
        ),
        Blocker::OldSourceWrites => format!("{} ({})", b.describe(), r.old_source_records),
        _ => b.describe().to_owned(),
    };
    let reasons = |definite: bool| {
        r.blockers
            .iter()
            .filter(|b| b.is_definite() == definite)
            .map(describe)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let text = match r.verdict {
        Verdict::Ready => "Ready to fail over".to_owned(),
        Verdict::NotReady => {
            let unsure = reasons(false);
            if unsure.is_empty() {
                format!("Not ready: {}", reasons(true))
            } else {
                format!("Not ready: {}; also {unsure}", reasons(true))
            }
        }
        Verdict::Unknown => format!("Unknown: {}", reasons(false)),
        Verdict::FailedOver => "Failed over".to_owned(),
    };
    // An upper bound grows with the time since the last measurement: as of this page, not
    // as of the assessment (else it reads below the age shown beside it).
    let seconds = match (loss, r.last_lag) {
        (Some(l), Some(last)) if l.seconds_upper_bound => {
            l.seconds.map(|s| s.max(last.upper_bound(now_ms)))
        }
        _ => loss.and_then(|l| l.seconds),
    };
    let lag_against_rpo = seconds.map(|s| {
        let level = if s >= r.rpo_seconds {
            "bad"
        } else if s >= r.rpo_seconds / 2.0 {
            "warn"
        } else {
            "ok"
        };
        level.to_owned()
    });
    ReadinessView {
        verdict: r.verdict.as_str().to_owned(),
        blockers: r.blockers.iter().map(|b| b.as_str().to_owned()).collect(),
        text,
        rpo_seconds: r.rpo_seconds,
        expected_loss_messages: loss.and_then(|l| l.messages),
        expected_loss_messages_lower_bound: loss.is_some_and(|l| l.messages_lower_bound),
        expected_loss_seconds: seconds,
        expected_loss_seconds_upper_bound: loss.is_some_and(|l| l.seconds_upper_bound),
        lag_seconds_measured_age_seconds: r.last_lag.map(|l| age(now_ms, l.measured_ms)),
        lag_against_rpo,
        failed_over_age_seconds: r.failed_over_ms.map(|t| age(now_ms, t)),
        groups: r
            .groups
            .iter()
            .map(|g| GroupLossView {
                consumer_group: g.consumer_group.clone(),
                mirror_topic: g.mirror_topic.clone(),
                offset_sync_lag_messages: g.lag,
                lost_messages: g.unreplicated,
                reprocessed_messages: g.unsynced,
            })
            .collect(),
    }
}

/// The cluster's Kafka connections from the measurers' board.
fn kafka_connections(cluster: &str, inputs: &Inputs<'_>) -> Vec<KafkaConnectionView> {
    inputs
        .data
        .connections_of(cluster)
        .into_iter()
        .map(|(role, name, s)| KafkaConnectionView {
            role: role.as_str().to_owned(),
            name,
            health: match s.up {
                Some(true) => Health::Up,
                Some(false) => Health::Down,
                None => Health::Starting,
            },
            last_error: s.last_error,
            last_error_age_seconds: s.last_error_ms.map(|t| age(inputs.now_ms, t)),
        })
        .collect()
}

fn apply_since(
    mut links: Vec<LinkView>,
    latest: Option<&LatestSnapshots>,
    now: i64,
) -> Vec<LinkView> {
    if let Some(latest) = latest {
        for link in &mut links {
            let since = latest.link_state_since_ms.get(&link.name);
            link.state_age_seconds = since.map(|s| age(now, *s));
        }
    }
    links
}

fn mirror_problem(link: &LinkView) -> bool {
    link.mirrors.iter().any(|m| m.problem)
}

/// 0: down, 1: starting, 2: a link not ACTIVE, 3: a Kafka connection down (the
/// measurements are blind, mirroring may be fine), then 3 + the rank of its first link
/// ([`link_rank`]): a link error or task in error (4), a mirror topic not ACTIVE (5),
/// healthy (6).
fn cluster_rank(c: &ClusterView) -> u8 {
    let kafka_down = c.kafka_connections.iter().any(|k| k.health == Health::Down);
    match c.health {
        Health::Down => 0,
        Health::Starting => 1,
        Health::Up => match c.links.iter().map(link_rank).min().unwrap_or(3) {
            0 => 2,
            _ if kafka_down => 3,
            link => 3 + link,
        },
    }
}

/// 0: the link is not ACTIVE, 1: ACTIVE with a link error or a task in error, 2: one of its
/// mirror topics is not ACTIVE, 3: healthy.
fn link_rank(l: &LinkView) -> u8 {
    let completed = l
        .failover
        .as_ref()
        .is_some_and(|f| f.stage == FailoverStage::Completed)
        && l.findings.is_empty();
    if completed {
        3
    } else if l.state != LinkState::Active.as_str() {
        0
    } else if l.problem {
        1
    } else if mirror_problem(l) {
        2
    } else {
        3
    }
}

/// The cluster's links with their mirror topics (mirror topics of a link the snapshot does
/// not list get an entry of their own, state `UNKNOWN`).
fn link_views(
    cluster: &str,
    rest: &ClusterSnapshot,
    kafka: Option<&KafkaSnapshot>,
    inputs: &Inputs<'_>,
) -> Vec<LinkView> {
    let measured = Measured::index(kafka);
    let lag_by_link = rest.lag_by_link();
    let not_copied_by_link = rest.not_copied_by_link();
    let failover_by_link = rest.failover_by_link();
    let link_lag_seconds = kafka
        .map(KafkaSnapshot::link_lag_seconds)
        .unwrap_or_default();
    let measured_by_link = kafka
        .map(KafkaSnapshot::measured_lag_by_link)
        .unwrap_or_default();
    let link_lag = |name: &str| LinkLag {
        messages: lag_by_link.get(name).and_then(|l| l.sum),
        measured: measured_by_link.get(name).and_then(|l| l.sum),
        seconds: link_lag_seconds.get(name).copied(),
        not_copied: not_copied_by_link.get(name).and_then(|l| l.sum),
        failover: failover_by_link.get(name).copied().unwrap_or_default(),
    };
    let unlisted = Link {
        state: crate::snapshot::Reported::Known(LinkState::Unknown),
        ..Link::default()
    };
    let mut by_link: BTreeMap<&str, Vec<MirrorView>> = BTreeMap::new();
    for m in &rest.mirrors {
        let link = rest.links.iter().find(|l| l.name == m.link);
        let source = kafka.and_then(|k| k.sources.get(&m.link).copied());
        let out_of_reach =
            !m.is_stopped() && source_out_of_reach(link.unwrap_or(&unlisted), m, source);
        let key = (cluster.to_owned(), m.link.clone(), m.name.clone());
        let lost = inputs.data.retention_losses.get(&key).copied();
        let mut view = mirror_view(m, &measured, out_of_reach, inputs.now_ms);
        if let Some(l) = lost {
            view.records_lost_to_retention_last_hour = Some(l.records);
            view.records_lost_to_retention_seen_age_seconds =
                Some(age(inputs.now_ms, l.last_seen_ms));
            view.problem = true;
        }
        by_link.entry(m.link.as_str()).or_default().push(view);
    }
    let mut links: Vec<LinkView> = rest
        .links
        .iter()
        .map(|l| {
            let mirrors = by_link.remove(l.name.as_str()).unwrap_or_default();
            let lag = link_lag(&l.name);
            link_view(cluster, l, mirrors, lag, inputs.data, inputs.now_ms)
        })
        .collect();
    for (name, mirrors) in by_link {
        let link = Link {
            name: name.to_owned(),
            ..unlisted.clone()
        };
        links.push(link_view(
            cluster,
            &link,
            mirrors,
            link_lag(name),
            inputs.data,
            inputs.now_ms,
        ));
    }
    links.sort_by(|a, b| link_rank(a).cmp(&link_rank(b)).then(a.name.cmp(&b.name)));
    links
}

/// A link's lag over its mirror topics (the live REST lag's sum and the lag in seconds, what
/// stopped ones left not copied) and its fail-over progress.
struct LinkLag {
    messages: Option<i64>,
    measured: Option<i64>,
    seconds: Option<f64>,
    not_copied: Option<i64>,
    failover: FailoverProgress,
}

fn link_view(
    cluster: &str,
    link: &Link,
    mut mirrors: Vec<MirrorView>,
    lag: LinkLag,
    data: &StatusData,
    now_ms: i64,
) -> LinkView {
    mirrors.sort_by(|a, b| b.problem.cmp(&a.problem).then(a.name.cmp(&b.name)));
    let tasks_in_error = link
        .tasks
        .iter()
        .filter(|t| t.state.is(TaskState::InError))
        .count() as u64;
    let task_errors = link
        .tasks
        .iter()
        .map(|t| t.errors)
        .fold(0, u64::saturating_add);
    let findings = roll_up(&mirrors);
    let problem = !findings.is_empty()
        || (!lag.failover.completed()
            && (!link.state.is(LinkState::Active)
                || !link.error.is(LinkError::NoError)
                || tasks_in_error > 0));
    let (probe_latency_seconds, probe_last_received_age_seconds) =
        probe(cluster, link, data, now_ms);
    LinkView {
        name: link.name.clone(),
        state: link.state.as_str().to_owned(),
        problem,
        findings,
        state_age_seconds: None,
        error: link.error.as_str().to_owned(),
        error_message: link.error_message.clone().filter(|m| !m.is_empty()),
        tasks_in_error,
        task_errors,
        tasks: link.tasks.iter().map(task_view).collect(),
        mirror_topics: mirrors.len() as u64,
        mirror_topics_not_active: mirrors.iter().filter(|m| m.not_active()).count() as u64,
        mirror_topics_with_problems: mirrors.iter().filter(|m| m.problem).count() as u64,
        lag_messages: lag.messages,
        measured_lag_messages: lag.measured,
        source_out_of_reach: mirrors.iter().any(|m| m.source_out_of_reach),
        not_copied_messages: lag.not_copied,
        failover: FailoverView::of(&lag.failover),
        settings: LinkSettingsView::of(link),
        lag_seconds: lag.seconds,
        probe_latency_seconds,
        probe_last_received_age_seconds,
        readiness: None,
        mirrors,
        problems: Vec::new(),
    }
}

/// The findings of a link's mirror topics by kind, most severe first: how many mirror topics
/// have each and the records (or errors) over them.
fn roll_up(mirrors: &[MirrorView]) -> Vec<FindingView> {
    let mut by_kind: BTreeMap<FindingKind, (u64, Option<i64>)> = BTreeMap::new();
    for (kind, count) in mirrors.iter().flat_map(MirrorView::findings) {
        let e = by_kind.entry(kind).or_default();
        e.0 += 1;
        e.1 = match (e.1, count) {
            (Some(a), Some(b)) => Some(a.saturating_add(b)),
            (a, b) => a.or(b),
        };
    }
    by_kind
        .into_iter()
        .map(|(kind, (mirror_topics, count))| FindingView {
            kind,
            mirror_topics,
            count,
            text: kind.describe(count, mirror_topics),
        })
        .collect()
}

fn task_view(t: &Task) -> TaskView {
    TaskView {
        name: t.name.clone(),
        state: t.state.as_str().to_owned(),
        errors: error_views(&t.error_details),
    }
}

fn error_views(errors: &[TaskError]) -> Vec<TaskErrorView> {
    errors
        .iter()
        .map(|e| TaskErrorView {
            code: e.code.clone(),
            message: e.message.clone(),
        })
        .collect()
}

/// The link's probe: latency of the last record received and the time since.
fn probe(cluster: &str, link: &Link, data: &StatusData, now_ms: i64) -> (Option<f64>, Option<f64>) {
    match data.probe(cluster, &link.name) {
        Some(p) => (Some(p.latency_seconds), Some(age(now_ms, p.received_ms))),
        None => (None, None),
    }
}

/// The Kafka-side measurements of one mirror topic.
#[derive(Debug, Default, Clone, Copy)]
struct MirrorMeasures {
    lag_messages: Option<i64>,
    lag_seconds: Option<f64>,
    offset_sync_lag: Option<i64>,
    lost_to_retention: Option<i64>,
    replication_rate: Option<f64>,
    source_rate: Option<f64>,
    since_stop: Option<i64>,
    source_partitions: Option<i32>,
    unmirrored_partitions: Option<i32>,
    source_retention_seconds: Option<f64>,
}

/// The Kafka-side measurements by (link, mirror topic).
struct Measured<'a>(BTreeMap<(&'a str, &'a str), MirrorMeasures>);

impl<'a> Measured<'a> {
    fn index(kafka: Option<&'a KafkaSnapshot>) -> Self {
        let mut map: BTreeMap<(&str, &str), MirrorMeasures> = BTreeMap::new();
        let Some(kafka) = kafka else {
            return Self(map);
        };
        for m in &kafka.mirrors {
            let e = map
                .entry((m.link.as_str(), m.mirror_topic.as_str()))
                .or_default();
            e.lag_messages = m.lag().sum;
            e.lag_seconds = m.lag_seconds();
            e.lost_to_retention = m.lost_to_retention();
            e.replication_rate = m.replication_rate;
            e.source_rate = m.source_rate;
            e.source_partitions = m.source_partitions;
            e.unmirrored_partitions = m.unmirrored_partitions;
            e.source_retention_seconds = m.source_retention_seconds;
        }
        for s in &kafka.stopped {
            map.entry((s.link.as_str(), s.mirror_topic.as_str()))
                .or_default()
                .since_stop = s.source_records_since_stop;
        }
        for (key, lag) in kafka.offset_sync_lag_max() {
            map.entry(key).or_default().offset_sync_lag = Some(lag);
        }
        Self(map)
    }
}

fn mirror_view(
    m: &MirrorTopic,
    measured: &Measured<'_>,
    source_out_of_reach: bool,
    now_ms: i64,
) -> MirrorView {
    let k = measured
        .0
        .get(&(m.link.as_str(), m.name.as_str()))
        .copied()
        .unwrap_or_default();
    let lag = m.lag().sum;
    let mut view = MirrorView {
        name: m.name.clone(),
        source_topic: m.source_topic.clone(),
        state: m.state.as_str().to_owned(),
        problem: !m.state.is(MirrorState::Active) && !m.is_stopped(),
        state_age_seconds: m.state_changed_ms.map(|t| age(now_ms, t)),
        error: m.error.clone(),
        partitions: m.partitions(),
        lag_messages: lag.filter(|_| !m.is_stopped()),
        not_copied_messages: lag.filter(|_| m.is_stopped()),
        source_out_of_reach,
        transition_error_count: m.transition_errors.as_ref().map(|e| e.count),
        transition_errors: m
            .transition_errors
            .as_ref()
            .map(|e| error_views(&e.details))
            .unwrap_or_default(),
        measured_lag_messages: k.lag_messages,
        lag_seconds: k.lag_seconds,
        offset_sync_lag_messages: k.offset_sync_lag,
        records_lost_to_retention: k.lost_to_retention,
        records_lost_to_retention_last_hour: None,
        records_lost_to_retention_seen_age_seconds: None,
        replication_records_per_second: k.replication_rate,
        source_records_per_second: k.source_rate,
        source_records_since_stop: k.since_stop,
        source_partitions: k.source_partitions,
        unmirrored_partitions: k.unmirrored_partitions,
        source_retention_seconds: k.source_retention_seconds,
        problems: Vec::new(),
    };
    view.problem |= !view.kafka_findings().is_empty();
    view
}

#[cfg(test)]
mod tests;
