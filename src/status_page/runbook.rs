//! Which runbook section covers each problem the status page shows: the one mapping from a
//! kind of problem ([`Problem`]) to the alert whose section of `docs/runbooks.md` explains
//! it ([`Problem::alert`]), and the links made from it ([`RunbookLink`]: the configured base
//! URL, `status_page.runbook_base_url`, then `#` and the alert's name in lower case, the
//! anchor of its heading).

use std::sync::Arc;

use serde::Serialize;

use super::{ClusterView, FailoverStage, FindingKind, Health, LinkView, MirrorView};
use crate::config::defaults::DEFAULT_RUNBOOK_BASE_URL;

/// A kind of problem a row of the status page shows. Named in the JSON form by
/// [`Problem::as_str`] (stable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Problem {
    /// The cluster's REST collection fails (`DOWN`).
    RestApiDown,
    /// The cluster finished no collection cycle yet (`STARTING`): no data.
    NoDataYet,
    /// A Kafka connection of the cluster is down.
    KafkaConnectionDown,
    /// A name the configuration gives (probe, offset-sync group, filter, readiness link) that
    /// the cluster does not have.
    ConfigReferenceMissing,
    /// The link is `FAILED` or `UNAVAILABLE`, or reports a link error.
    LinkDown,
    /// The link is `PAUSED`.
    LinkPaused,
    /// The link is in a state the exporter does not know, or not listed by the REST API.
    LinkStateUnknown,
    /// A task of the link is in error.
    TaskInError,
    /// The link is not ready to fail over.
    NotReadyForFailover,
    /// The mirror topic is `FAILED` or `LINK_FAILED`.
    MirrorTopicFailed,
    /// The mirror topic is `SOURCE_UNAVAILABLE`.
    MirrorTopicSourceUnavailable,
    /// The mirror topic is `PAUSED` or `LINK_PAUSED`.
    MirrorTopicPaused,
    /// The mirror topic is `PENDING_STOPPED`: a promote or failover not finished.
    MirrorTopicStopping,
    /// The mirror topic is in another pending (or unknown) state.
    MirrorTopicPending,
    /// The mirror topic reports a `mirror_topic_error`.
    MirrorTopicError,
    /// A promote or failover reports state transition errors.
    TransitionErrors,
    /// Records written to the old source after the stop.
    OldSourceWrites,
    /// Records the source deleted before they were mirrored.
    LostToRetention,
    /// The lag in seconds nears the source's retention.
    LagNearRetention,
    /// Source partitions not mirrored yet.
    UnmirroredPartitions,
    /// `ACTIVE`, copying nothing while the source receives records.
    Stalled,
}

impl Problem {
    /// Every kind, in declaration order.
    #[cfg(test)]
    pub(crate) const ALL: [Self; 21] = [
        Self::RestApiDown,
        Self::NoDataYet,
        Self::KafkaConnectionDown,
        Self::ConfigReferenceMissing,
        Self::LinkDown,
        Self::LinkPaused,
        Self::LinkStateUnknown,
        Self::TaskInError,
        Self::NotReadyForFailover,
        Self::MirrorTopicFailed,
        Self::MirrorTopicSourceUnavailable,
        Self::MirrorTopicPaused,
        Self::MirrorTopicStopping,
        Self::MirrorTopicPending,
        Self::MirrorTopicError,
        Self::TransitionErrors,
        Self::OldSourceWrites,
        Self::LostToRetention,
        Self::LagNearRetention,
        Self::UnmirroredPartitions,
        Self::Stalled,
    ];

    /// Its name in the JSON form and the page's `data-kind`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::RestApiDown => "rest_api_down",
            Self::NoDataYet => "no_data_yet",
            Self::KafkaConnectionDown => "kafka_connection_down",
            Self::ConfigReferenceMissing => "config_reference_missing",
            Self::LinkDown => "link_down",
            Self::LinkPaused => "link_paused",
            Self::LinkStateUnknown => "link_state_unknown",
            Self::TaskInError => "task_in_error",
            Self::NotReadyForFailover => "not_ready_for_failover",
            Self::MirrorTopicFailed => "mirror_topic_failed",
            Self::MirrorTopicSourceUnavailable => "mirror_topic_source_unavailable",
            Self::MirrorTopicPaused => "mirror_topic_paused",
            Self::MirrorTopicStopping => "mirror_topic_stopping",
            Self::MirrorTopicPending => "mirror_topic_pending",
            Self::MirrorTopicError => "mirror_topic_error",
            Self::TransitionErrors => "transition_errors",
            Self::OldSourceWrites => "old_source_writes",
            Self::LostToRetention => "lost_to_retention",
            Self::LagNearRetention => "lag_near_retention",
            Self::UnmirroredPartitions => "unmirrored_partitions",
            Self::Stalled => "stalled",
        }
    }

    /// The alert (in `alerts/*.rules.yml`) whose runbook section covers this problem.
    pub(crate) fn alert(self) -> &'static str {
        match self {
            Self::RestApiDown => "ClusterLinkRestApiDown",
            Self::NoDataYet => "ClusterLinkDataStale",
            Self::KafkaConnectionDown => "ClusterLinkKafkaConnectionDown",
            Self::ConfigReferenceMissing => "ClusterLinkConfigReferenceMissing",
            Self::LinkDown => "ClusterLinkDown",
            Self::LinkPaused => "ClusterLinkPausedTooLong",
            Self::LinkStateUnknown => "ClusterLinkStateUnknown",
            Self::TaskInError => "ClusterLinkTaskInError",
            Self::NotReadyForFailover => "ClusterLinkNotReadyForFailover",
            Self::MirrorTopicFailed => "ClusterLinkMirrorTopicFailed",
            Self::MirrorTopicSourceUnavailable => "ClusterLinkMirrorTopicSourceUnavailable",
            Self::MirrorTopicPaused => "ClusterLinkMirrorTopicPausedTooLong",
            Self::MirrorTopicStopping => "ClusterLinkMirrorTopicPromotionStuck",
            Self::MirrorTopicPending => "ClusterLinkMirrorTopicStuckPending",
            Self::MirrorTopicError => "ClusterLinkMirrorTopicError",
            Self::TransitionErrors => "ClusterLinkMirrorTopicTransitionFailed",
            Self::OldSourceWrites => "ClusterLinkWritesToOldSource",
            Self::LostToRetention => "ClusterLinkRecordsLostToRetention",
            Self::LagNearRetention => "ClusterLinkLagNearSourceRetention",
            Self::UnmirroredPartitions => "ClusterLinkSourcePartitionsNotMirrored",
            Self::Stalled => "ClusterLinkMirrorStalled",
        }
    }

    /// The problem a link in `state` (not `ACTIVE`) is.
    pub(crate) fn of_link_state(state: &str) -> Self {
        match state {
            "FAILED" | "UNAVAILABLE" => Self::LinkDown,
            "PAUSED" => Self::LinkPaused,
            _ => Self::LinkStateUnknown,
        }
    }

    /// The problem a mirror topic in `state` (neither `ACTIVE` nor `STOPPED`) is.
    pub(crate) fn of_mirror_state(state: &str) -> Self {
        match state {
            "FAILED" | "LINK_FAILED" => Self::MirrorTopicFailed,
            "SOURCE_UNAVAILABLE" => Self::MirrorTopicSourceUnavailable,
            "PAUSED" | "LINK_PAUSED" => Self::MirrorTopicPaused,
            "PENDING_STOPPED" => Self::MirrorTopicStopping,
            _ => Self::MirrorTopicPending,
        }
    }
}

/// Where the runbooks are: `status_page.runbook_base_url` (default
/// [`DEFAULT_RUNBOOK_BASE_URL`]). Cloning shares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunbookBase(Arc<str>);

impl Default for RunbookBase {
    fn default() -> Self {
        Self(DEFAULT_RUNBOOK_BASE_URL.into())
    }
}

impl RunbookBase {
    /// The base `url` (validated by the configuration: `http(s)://`, no `#`).
    pub(crate) fn new(url: &str) -> Self {
        Self(url.into())
    }

    /// The link to the runbook section of `problem`'s alert.
    pub(crate) fn link(&self, problem: Problem) -> RunbookLink {
        let alert = problem.alert();
        RunbookLink {
            kind: problem,
            alert,
            runbook: format!("{}#{}", self.0, alert.to_lowercase()),
        }
    }

    /// The links of `problems`, each kind once, in [`Problem`] order.
    pub(crate) fn links(&self, mut problems: Vec<Problem>) -> Vec<RunbookLink> {
        problems.sort();
        problems.dedup();
        problems.into_iter().map(|p| self.link(p)).collect()
    }
}

/// One problem of a row with the runbook section that covers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct RunbookLink {
    /// The kind of problem.
    pub(crate) kind: Problem,
    /// The alert that covers it.
    pub(crate) alert: &'static str,
    /// The URL of that alert's runbook section.
    pub(crate) runbook: String,
}

impl Serialize for Problem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl From<FindingKind> for Problem {
    fn from(kind: FindingKind) -> Self {
        match kind {
            FindingKind::OldSourceWrites => Self::OldSourceWrites,
            FindingKind::LostToRetention => Self::LostToRetention,
            FindingKind::TransitionErrors => Self::TransitionErrors,
            FindingKind::Stalled => Self::Stalled,
        }
    }
}

/// Fills in the `problems` of `cluster`, its links and their mirror topics: each problem its
/// row shows with the runbook section that covers it.
pub(crate) fn attach(cluster: &mut ClusterView, base: &RunbookBase) {
    cluster.problems = base.links(cluster_problems(cluster));
    for link in &mut cluster.links {
        link.problems = base.links(link_problems(link));
        for mirror in &mut link.mirrors {
            mirror.problems = base.links(mirror_problems(mirror));
        }
    }
}

/// What the cluster row shows: collection down or starting, a Kafka connection down, names
/// the configuration gives that the cluster does not have.
fn cluster_problems(c: &ClusterView) -> Vec<Problem> {
    let mut out = Vec::new();
    match c.health {
        Health::Down => out.push(Problem::RestApiDown),
        Health::Starting => out.push(Problem::NoDataYet),
        Health::Up => {}
    }
    if c.kafka_connections.iter().any(|k| k.health == Health::Down) {
        out.push(Problem::KafkaConnectionDown);
    }
    if !c.config_references_missing.is_empty() || !c.readiness_unknown_links.is_empty() {
        out.push(Problem::ConfigReferenceMissing);
    }
    out
}

/// What the link row shows: its state, link error and tasks (not once its fail-over
/// completed), its mirror topics' findings rolled up, and its readiness.
fn link_problems(l: &LinkView) -> Vec<Problem> {
    let completed = l
        .failover
        .as_ref()
        .is_some_and(|f| f.stage == FailoverStage::Completed);
    let mut out: Vec<Problem> = l.findings.iter().map(|f| f.kind.into()).collect();
    if !completed {
        if l.state != "ACTIVE" {
            out.push(Problem::of_link_state(&l.state));
        }
        if l.error != "NO_ERROR" {
            out.push(Problem::LinkDown);
        }
        if l.tasks_in_error > 0 {
            out.push(Problem::TaskInError);
        }
    }
    if l.readiness
        .as_ref()
        .is_some_and(|r| r.verdict == "not_ready")
    {
        out.push(Problem::NotReadyForFailover);
    }
    out
}

/// What the mirror topic row shows: its state, its error, its transition errors and the
/// Kafka side's findings.
fn mirror_problems(m: &MirrorView) -> Vec<Problem> {
    let mut out: Vec<Problem> = m.kafka_problems().into_iter().map(|(p, _)| p).collect();
    if m.state != "ACTIVE" && m.state != "STOPPED" {
        out.push(Problem::of_mirror_state(&m.state));
    }
    if m.error.is_some() {
        out.push(Problem::MirrorTopicError);
    }
    if m.transition_error_count.is_some_and(|n| n > 0) {
        out.push(Problem::TransitionErrors);
    }
    out
}

#[cfg(test)]
#[path = "runbook_tests.rs"]
mod tests;
