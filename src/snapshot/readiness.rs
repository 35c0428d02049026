//! Fail-over readiness: one verdict per link ([`Verdict`]) with every reason that blocks it
//! ([`Blocker`]) and the expected loss of a fail-over now ([`ExpectedLoss`], [`GroupLoss`]),
//! assessed from a cluster's latest REST and Kafka-side snapshots by [`assess`] (pure: no
//! clock, no request). What "ready" requires is the cluster's `failover_readiness`
//! ([`FailoverReadinessConfig`]).
//!
//! The rules, in `docs/metrics.md` ("Fail-over readiness") too:
//!
//! - **`failed_over`**: every mirror topic of the link is `STOPPED` (promoted or failed over):
//!   readiness no longer applies, and it is not a problem;
//! - **`not_ready`**: a definite blocker (link not `ACTIVE`, a link or task error, mirror
//!   topics not `ACTIVE`, lag in seconds above the RPO, offset-sync lag above the limit), or
//!   the link is partly failed over already: some of its mirror topics `STOPPED` while others
//!   still mirror, and worse, records written to the old source of one of those since its
//!   stop (never mirrored: split brain);
//! - **`unknown`**: no definite blocker, but something the verdict needs cannot be read (the
//!   REST collection fails, the Kafka side is not configured or not measuring, the source
//!   cannot be read, the lag in seconds is unknown): never `ready` then;
//! - **`ready`**: none of these.
//!
//! When the lag in seconds cannot be measured (the source is down, say), the last value
//! measured is kept with its time: the expected loss in seconds is then that lag plus the time
//! since, an upper bound, never a 0 that reads as caught up.

use std::collections::BTreeSet;

use super::{ClusterSnapshot, KafkaSnapshot, LagSummary, Link, MirrorState, SourceRead};
use super::{LinkError, LinkState, TaskState};
use crate::config::FailoverReadinessConfig;
use crate::util::closed_set;

closed_set! {
    /// A link's fail-over readiness (`clusterlink_link_failover_readiness{verdict}`).
    pub enum Verdict {
        /// Nothing blocks a fail-over now.
        Ready = "ready",
        /// At least one definite blocker (see [`Blocker::is_definite`]).
        NotReady = "not_ready",
        /// No definite blocker, but the exporter cannot tell (see [`Blocker::is_definite`]):
        /// never `ready` then.
        Unknown = "unknown",
        /// Every mirror topic of the link is `STOPPED`: failed over or promoted; readiness no
        /// longer applies.
        FailedOver = "failed_over",
    }
}

closed_set! {
    /// Why a link is not ready to fail over, or why the exporter cannot tell
    /// (`clusterlink_link_failover_blocked{reason}`).
    pub enum Blocker {
        /// The link's state is not `ACTIVE` (`FAILED`, `UNAVAILABLE`, `UNKNOWN`, …), and not
        /// `PAUSED`.
        LinkNotActive = "link_not_active",
        /// The link is `PAUSED`: deliberately, not an incident.
        LinkPaused = "link_paused",
        /// The link reports an error (`link_error` other than `NO_ERROR`).
        LinkError = "link_error",
        /// A task of the link is `IN_ERROR` or reports errors.
        TaskInError = "task_in_error",
        /// Mirror topics of the link (not `STOPPED`) are neither `ACTIVE` nor paused
        /// (`FAILED`, `SOURCE_UNAVAILABLE`, `PENDING_*`, …).
        MirrorTopicsNotActive = "mirror_topics_not_active",
        /// Mirror topics of the link are `PAUSED` or `LINK_PAUSED`: deliberately.
        MirrorTopicsPaused = "mirror_topics_paused",
        /// Some mirror topics of the link are `STOPPED` (promoted or failed over) while others
        /// are not: the link is partly failed over, no longer the link a fail-over starts from
        /// (a promote or failover under way, or a topic-by-topic migration).
        MirrorTopicsStopped = "mirror_topics_stopped",
        /// Records were written to the old source of a `STOPPED` mirror topic of the link since
        /// its stop (`clusterlink_mirror_topic_source_records_since_stop` above 0): producers
        /// still write to the old source, and those records are never mirrored. Only beside
        /// `mirror_topics_stopped` (a `failed_over` link has no blockers).
        OldSourceWrites = "old_source_writes",
        /// The link's lag in seconds is above its RPO.
        LagAboveRpo = "lag_above_rpo",
        /// A consumer group's offset-sync lag on a mirror topic of the link is above
        /// `max_offset_sync_lag_messages`.
        OffsetSyncLagAboveLimit = "offset_sync_lag_above_limit",
        /// Cannot tell: partitions lag and the lag in seconds of none of them was read (or
        /// lag in seconds is not measured).
        LagSecondsUnknown = "lag_seconds_unknown",
        /// Cannot tell: the cluster has no `kafka` section, so the lag in seconds is not
        /// measured.
        KafkaNotConfigured = "kafka_not_configured",
        /// Cannot tell: no `source_clusters` entry serves the link.
        SourceNotConfigured = "source_not_configured",
        /// Cannot tell: the Kafka side has no measurement (starting, or the destination
        /// cannot be read).
        KafkaNotMeasuring = "kafka_not_measuring",
        /// Cannot tell: the link's source cluster could not be read in the last cycle.
        SourceUnreadable = "source_unreadable",
        /// Cannot tell: the REST collection of the cluster fails.
        RestCollectionFailing = "rest_collection_failing",
    }
}

impl Blocker {
    /// Whether the link is known not to be ready (`not_ready`); the others say only that the
    /// exporter cannot tell (`unknown`).
    pub fn is_definite(self) -> bool {
        matches!(
            self,
            Self::LinkNotActive
                | Self::LinkPaused
                | Self::LinkError
                | Self::TaskInError
                | Self::MirrorTopicsNotActive
                | Self::MirrorTopicsPaused
                | Self::MirrorTopicsStopped
                | Self::OldSourceWrites
                | Self::LagAboveRpo
                | Self::OffsetSyncLagAboveLimit
        )
    }

    /// What the status page says.
    pub fn describe(self) -> &'static str {
        match self {
            Self::LinkNotActive => "link not ACTIVE",
            Self::LinkPaused => "link paused",
            Self::LinkError => "link error",
            Self::TaskInError => "a task in error",
            Self::MirrorTopicsNotActive => "mirror topics not ACTIVE",
            Self::MirrorTopicsPaused => "mirror topics paused",
            Self::MirrorTopicsStopped => "mirror topics stopped (promoted or failed over)",
            Self::OldSourceWrites => "records written to the old source since the stop",
            Self::LagAboveRpo => "lag above the RPO",
            Self::OffsetSyncLagAboveLimit => "offset-sync lag above the limit",
            Self::LagSecondsUnknown => "lag in seconds unknown",
            Self::KafkaNotConfigured => "no kafka section: lag in seconds not measured",
            Self::SourceNotConfigured => "no source cluster configured for the link",
            Self::KafkaNotMeasuring => "Kafka side not measuring",
            Self::SourceUnreadable => "source cluster cannot be read",
            Self::RestCollectionFailing => "REST collection failing",
        }
    }
}

/// The last lag in seconds measured for a link, kept while it cannot be measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LastLag {
    /// The lag in seconds then.
    pub(crate) seconds: f64,
    /// When it was measured (Unix ms: the publication of its Kafka-side snapshot).
    pub(crate) measured_ms: i64,
}

impl LastLag {
    /// The lag then plus the time since it was measured, at `now_ms` (seconds, never
    /// negative): an upper bound of the lag now.
    pub(crate) fn upper_bound(self, now_ms: i64) -> f64 {
        let since = now_ms.saturating_sub(self.measured_ms).max(0) as f64 / 1000.0;
        self.seconds.max(0.0) + since
    }
}

/// The Kafka side of a cluster as readiness sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KafkaSide<'a> {
    /// The cluster has no `kafka` section.
    NotConfigured,
    /// Configured, but no measurement is published (starting, or the destination down).
    NotMeasuring,
    /// The latest measurement, with its publication time (Unix ms).
    Measured(&'a KafkaSnapshot, i64),
}

/// What [`assess`] reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadinessInputs<'a> {
    /// The latest REST snapshot; `None` when withdrawn (the collection fails) or none yet.
    pub(crate) rest: Option<&'a ClusterSnapshot>,
    /// The Kafka side.
    pub(crate) kafka: KafkaSide<'a>,
    /// What each link requires.
    pub(crate) policy: &'a FailoverReadinessConfig,
    /// The previous assessment of the cluster (its links, their last lag in seconds).
    pub(crate) previous: Option<&'a ClusterReadiness>,
    /// Now (Unix ms).
    pub(crate) now_ms: i64,
}

/// The readiness of every link of a cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ClusterReadiness {
    /// One per link, in the order the REST API listed them.
    pub(crate) links: Vec<LinkReadiness>,
    /// Links named in `failover_readiness.links` that the REST API does not list, by name
    /// (empty while the REST collection fails: it cannot tell).
    pub(crate) unknown_links: Vec<String>,
}

/// One link's verdict, its blockers and the expected loss of a fail-over now.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LinkReadiness {
    /// The link's name.
    pub(crate) link: String,
    /// The verdict.
    pub(crate) verdict: Verdict,
    /// Every reason that applies, in the order of [`Blocker::ALL`] (empty when `ready` or
    /// `failed_over`).
    pub(crate) blockers: Vec<Blocker>,
    /// The link's RPO (seconds).
    pub(crate) rpo_seconds: f64,
    /// Mirror topics not `STOPPED` (live) of the link.
    pub(crate) mirror_topics: u64,
    /// Of those, neither `ACTIVE` nor paused.
    pub(crate) mirror_topics_not_active: u64,
    /// Of those, `PAUSED` or `LINK_PAUSED`.
    pub(crate) mirror_topics_paused: u64,
    /// Mirror topics `STOPPED` of the link.
    pub(crate) mirror_topics_stopped: u64,
    /// Records written to the old source since the stop, over the link's `STOPPED` mirror
    /// topics the Kafka side watches (0: none, or not measured).
    pub(crate) old_source_records: i64,
    /// When the last mirror topic became `STOPPED` (Unix ms), for `failed_over`.
    pub(crate) failed_over_ms: Option<i64>,
    /// What a fail-over now would lose (`None` for `failed_over`).
    pub(crate) expected_loss: Option<ExpectedLoss>,
    /// Per synced consumer group and mirror topic: what it would lose and re-process.
    pub(crate) groups: Vec<GroupLoss>,
    /// The last lag in seconds measured (kept while it cannot be measured).
    pub(crate) last_lag: Option<LastLag>,
}

/// What a fail-over now would lose.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ExpectedLoss {
    /// Records not yet mirrored over the link's live mirror topics: the measured lag (source
    /// minus destination high watermark) when measured, else the lag the REST API reports;
    /// `None` when neither is known.
    pub(crate) messages: Option<i64>,
    /// Whether `messages` was measured over Kafka (else it is the REST API's).
    pub(crate) messages_measured: bool,
    /// Whether `messages` is only a lower bound: the REST lag while the source cannot be read
    /// (it counts what the link fetched against, not what the source received since).
    pub(crate) messages_lower_bound: bool,
    /// The link's lag in seconds when measured by the last Kafka-side cycle, else the last
    /// lag measured plus the time since (an upper bound: `seconds_upper_bound`); `None` when
    /// never measured.
    pub(crate) seconds: Option<f64>,
    /// Whether `seconds` is an upper bound (last known lag + time since it was measured).
    pub(crate) seconds_upper_bound: bool,
}

/// One synced consumer group on one mirror topic: its offset-sync lag and its split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupLoss {
    /// The group (its name on the source).
    pub(crate) consumer_group: String,
    /// The mirror topic.
    pub(crate) mirror_topic: String,
    /// The offset-sync lag (messages).
    pub(crate) lag: i64,
    /// Committed on the source, never replicated: lost to the group (`None`: unknown).
    pub(crate) unreplicated: Option<i64>,
    /// Replicated, not yet synced: re-processed by the group (`None`: unknown).
    pub(crate) unsynced: Option<i64>,
}

/// The readiness of every link of the cluster (see the module header). With the REST side
/// withdrawn, the links of `previous` are `unknown` (reason `rest_collection_failing`) with
/// their last known lag; a link the REST API no longer lists (deleted) is not assessed.
pub(crate) fn assess(inputs: ReadinessInputs<'_>) -> ClusterReadiness {
    let previous_lag = |link: &str| {
        inputs
            .previous
            .and_then(|p| p.links.iter().find(|l| l.link == link))
            .and_then(|l| l.last_lag)
    };
    let Some(rest) = inputs.rest else {
        let links = inputs
            .previous
            .map(|p| p.links.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|l| {
                let last_lag = l.last_lag;
                LinkReadiness {
                    link: l.link.clone(),
                    verdict: Verdict::Unknown,
                    blockers: vec![Blocker::RestCollectionFailing],
                    rpo_seconds: inputs.policy.of_link(&l.link).rpo.as_secs_f64(),
                    expected_loss: Some(ExpectedLoss {
                        messages: None,
                        messages_measured: false,
                        messages_lower_bound: false,
                        seconds: last_lag.map(|last| last.upper_bound(inputs.now_ms)),
                        seconds_upper_bound: last_lag.is_some(),
                    }),
                    groups: Vec::new(),
                    last_lag,
                    failed_over_ms: None,
                    ..l.clone()
                }
            })
            .collect();
        return ClusterReadiness {
            links,
            unknown_links: Vec::new(),
        };
    };
    let listed: BTreeSet<&str> = rest.links.iter().map(|l| l.name.as_str()).collect();
    let unknown_links = inputs
        .policy
        .links
        .keys()
        .filter(|name| !listed.contains(name.as_str()))
        .cloned()
        .collect();
    let (kafka, measured_ms) = match inputs.kafka {
        KafkaSide::Measured(k, at) => (Some(k), Some(at)),
        _ => (None, None),
    };
    let lag_seconds = kafka
        .map(KafkaSnapshot::link_lag_seconds)
        .unwrap_or_default();
    let links = rest
        .links
        .iter()
        .map(|link| {
            let measured = match (lag_seconds.get(link.name.as_str()), measured_ms) {
                (Some(&seconds), Some(measured_ms)) => Some(LastLag {
                    seconds,
                    measured_ms,
                }),
                _ => None,
            };
            let facts = LinkFacts {
                link,
                rest,
                kafka: inputs.kafka,
                measured,
                last_lag: measured.or_else(|| previous_lag(&link.name)),
            };
            assess_link(facts, inputs.policy, inputs.now_ms)
        })
        .collect();
    ClusterReadiness {
        links,
        unknown_links,
    }
}

/// What one link's assessment reads.
struct LinkFacts<'a> {
    link: &'a Link,
    rest: &'a ClusterSnapshot,
    kafka: KafkaSide<'a>,
    /// The lag in seconds the latest Kafka-side cycle measured.
    measured: Option<LastLag>,
    /// That, else the last one measured before.
    last_lag: Option<LastLag>,
}

/// Whether a live mirror topic's REST lag is only a lower bound because its source is out of
/// reach: the link is `UNAVAILABLE`, the mirror topic `SOURCE_UNAVAILABLE`, or the exporter
/// could not read the link's source in its last cycle (`source`). The lag then counts what the
/// link last fetched against, not what the source received since: never read it as caught up.
/// The status page and [`assess`] both ask this.
pub(crate) fn source_out_of_reach(
    link: &Link,
    mirror: &super::MirrorTopic,
    source: Option<SourceRead>,
) -> bool {
    link.state.is(LinkState::Unavailable)
        || mirror.state.is(MirrorState::SourceUnavailable)
        || source == Some(SourceRead::Failed)
}

/// The blockers a link's and its mirror topics' states make (`out`: the link's counts of
/// mirror topics by state, and its records written to the old source).
fn state_blockers(link: &Link, out: &LinkReadiness) -> BTreeSet<Blocker> {
    let mut blockers = BTreeSet::new();
    if link.state.is(LinkState::Paused) {
        blockers.insert(Blocker::LinkPaused);
    } else if !link.state.is(LinkState::Active) {
        blockers.insert(Blocker::LinkNotActive);
    }
    if !link.error.is(LinkError::NoError) {
        blockers.insert(Blocker::LinkError);
    }
    if link
        .tasks
        .iter()
        .any(|t| t.state.is(TaskState::InError) || t.errors > 0)
    {
        blockers.insert(Blocker::TaskInError);
    }
    if out.mirror_topics_not_active > 0 {
        blockers.insert(Blocker::MirrorTopicsNotActive);
    }
    if out.mirror_topics_paused > 0 {
        blockers.insert(Blocker::MirrorTopicsPaused);
    }
    if out.mirror_topics_stopped > 0 {
        blockers.insert(Blocker::MirrorTopicsStopped);
    }
    if out.old_source_records > 0 {
        blockers.insert(Blocker::OldSourceWrites);
    }
    blockers
}

/// Records written to the old source since the stop over `link`'s mirror topics that the
/// Kafka side watches and the REST snapshot (`mirrors`: the link's) says are `STOPPED` — the
/// Kafka side may still count a mirror topic deleted since (saturating; a count not read
/// adds nothing).
fn old_source_records(k: &KafkaSnapshot, link: &str, mirrors: &[&super::MirrorTopic]) -> i64 {
    let stopped = |name: &str| {
        mirrors
            .iter()
            .any(|m| m.name == name && m.state.is(MirrorState::Stopped))
    };
    k.stopped
        .iter()
        .filter(|s| s.link == link && stopped(&s.mirror_topic))
        .filter_map(|s| s.source_records_since_stop)
        .fold(0i64, |sum, n| sum.saturating_add(n.max(0)))
}

fn assess_link(f: LinkFacts<'_>, policy: &FailoverReadinessConfig, now_ms: i64) -> LinkReadiness {
    let link = f.link;
    let requires = policy.of_link(&link.name);
    let mirrors: Vec<_> = f
        .rest
        .mirrors
        .iter()
        .filter(|m| m.link == link.name)
        .collect();
    let live: Vec<_> = mirrors
        .iter()
        .filter(|m| !m.state.is(MirrorState::Stopped))
        .copied()
        .collect();
    let paused = |m: &super::MirrorTopic| {
        m.state.is(MirrorState::Paused) || m.state.is(MirrorState::LinkPaused)
    };
    let mirror_topics_paused = live.iter().filter(|m| paused(m)).count() as u64;
    let mirror_topics_not_active = live
        .iter()
        .filter(|m| !m.state.is(MirrorState::Active) && !paused(m))
        .count() as u64;
    let mut out = LinkReadiness {
        link: link.name.clone(),
        verdict: Verdict::Ready,
        blockers: Vec::new(),
        rpo_seconds: requires.rpo.as_secs_f64(),
        mirror_topics: live.len() as u64,
        mirror_topics_not_active,
        mirror_topics_paused,
        mirror_topics_stopped: (mirrors.len() - live.len()) as u64,
        old_source_records: match f.kafka {
            KafkaSide::Measured(k, _) => old_source_records(k, &link.name, &mirrors),
            _ => 0,
        },
        failed_over_ms: None,
        expected_loss: None,
        groups: Vec::new(),
        last_lag: f.last_lag,
    };
    if !mirrors.is_empty() && live.is_empty() {
        out.verdict = Verdict::FailedOver;
        out.failed_over_ms = mirrors.iter().filter_map(|m| m.state_changed_ms).max();
        return out;
    }
    let mut blockers = state_blockers(link, &out);
    // The REST lag over the live mirror topics, and the measured one.
    let rest_lag = live
        .iter()
        .fold(LagSummary::default(), |s, m| s.merge(m.lag()));
    let mut measured_lag = None;
    let source = match f.kafka {
        KafkaSide::Measured(k, _) => k.sources.get(&link.name).copied(),
        _ => None,
    };
    match f.kafka {
        KafkaSide::NotConfigured => {
            blockers.insert(Blocker::KafkaNotConfigured);
        }
        KafkaSide::NotMeasuring => {
            blockers.insert(Blocker::KafkaNotMeasuring);
        }
        KafkaSide::Measured(k, _) => {
            measured_lag = k.measured_lag_by_link().get(link.name.as_str()).copied();
            match k.sources.get(&link.name) {
                Some(SourceRead::NotConfigured) => {
                    blockers.insert(Blocker::SourceNotConfigured);
                }
                Some(SourceRead::Failed) => {
                    blockers.insert(Blocker::SourceUnreadable);
                }
                Some(SourceRead::Read) | None => {}
            }
            let limit = requires.max_offset_sync_lag_messages;
            for o in k.offset_sync.iter().filter(|o| o.link == link.name) {
                if limit.is_some_and(|max| u64::try_from(o.lag).unwrap_or(0) > max) {
                    blockers.insert(Blocker::OffsetSyncLagAboveLimit);
                }
                out.groups.push(GroupLoss {
                    consumer_group: o.consumer_group.clone(),
                    mirror_topic: o.mirror_topic.clone(),
                    lag: o.lag.max(0),
                    unreplicated: o.unreplicated.map(|v| v.max(0)),
                    unsynced: o.unsynced.map(|v| v.max(0)),
                });
            }
        }
    }
    // Lag in seconds: measured now, or the last one + the time since (an upper bound).
    let seconds = match (f.measured, f.last_lag) {
        (Some(now), _) => Some((now.seconds.max(0.0), false)),
        (None, Some(last)) => Some((last.upper_bound(now_ms), true)),
        (None, None) => None,
    };
    if !live.is_empty() {
        match (f.measured, seconds) {
            (Some(now), _) if now.seconds > out.rpo_seconds => {
                blockers.insert(Blocker::LagAboveRpo);
            }
            (Some(_), _) => {}
            (None, upper) => {
                // Not measured now: above the RPO even at its last value, a definite
                // blocker; else it cannot tell (unless the Kafka side said why already).
                if upper.is_some() && f.last_lag.is_some_and(|l| l.seconds > out.rpo_seconds) {
                    blockers.insert(Blocker::LagAboveRpo);
                }
                let explained = blockers.iter().any(|b| {
                    matches!(
                        b,
                        Blocker::KafkaNotConfigured
                            | Blocker::KafkaNotMeasuring
                            | Blocker::SourceNotConfigured
                            | Blocker::SourceUnreadable
                    )
                });
                let caught_up =
                    measured_lag.is_some_and(|l| l.sum == Some(0) && l.unknown_partitions == 0);
                if !explained && !caught_up {
                    blockers.insert(Blocker::LagSecondsUnknown);
                }
            }
        }
    }
    let messages = match measured_lag.and_then(|l| l.sum) {
        Some(m) => Some((m.max(0), true)),
        None => rest_lag.sum.map(|m| (m.max(0), false)),
    };
    out.expected_loss = Some(ExpectedLoss {
        messages: if live.is_empty() {
            Some(0)
        } else {
            messages.map(|m| m.0)
        },
        messages_measured: messages.is_some_and(|m| m.1),
        // The REST lag, with the source out of reach (the exporter's or the link's): what the
        // source received since is not in it.
        messages_lower_bound: !live.is_empty()
            && messages.is_some_and(|m| !m.1)
            && (blockers.contains(&Blocker::KafkaNotMeasuring)
                || live.iter().any(|m| source_out_of_reach(link, m, source))),
        seconds: if live.is_empty() {
            Some(0.0)
        } else {
            seconds.map(|s| s.0)
        },
        seconds_upper_bound: !live.is_empty() && seconds.is_some_and(|s| s.1),
    });
    out.blockers = blockers.into_iter().collect();
    out.verdict = if out.blockers.iter().any(|b| b.is_definite()) {
        Verdict::NotReady
    } else if out.blockers.is_empty() {
        Verdict::Ready
    } else {
        Verdict::Unknown
    };
    out
}

#[cfg(test)]
mod tests;
