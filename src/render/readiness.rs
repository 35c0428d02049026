//! The fail-over readiness families: their table ([`READINESS_FAMILIES`], with the label sets
//! only they use) and their writer, which renders one cluster's [`ClusterReadiness`] (assessed
//! by [`crate::snapshot::assess`] from its REST and Kafka-side snapshots): the verdict and the
//! blockers of each link as state sets, its RPO, the expected loss of a fail-over now, when its
//! lag in seconds was last measured, and the configured links the REST API does not list.

use std::marker::PhantomData;

use super::families::{families, label_set, LabelSet, SampleWriter};
use super::RenderedCluster;
use crate::snapshot::{Blocker, ClusterReadiness, Verdict};

families! {
    /// The readiness families, in output order (see [`family`]).
    pub(crate) const READINESS_FAMILIES from super::READINESS_FIRST;
    /// A state set: every verdict written, 1 for the current one. `ready`: nothing blocks;
    /// `not_ready`: a definite blocker; `unknown`: the exporter cannot tell (no Kafka-side
    /// measurement, the source unreadable, the REST collection failing; never `ready` then);
    /// `failed_over`: every mirror topic `STOPPED` (some of them only: `not_ready`, reason
    /// `mirror_topics_stopped`). Written for every link the REST API lists
    /// (with the REST collection failing, for the links of the last successful cycle).
    LinkReadiness = "clusterlink_link_failover_readiness" VerdictLabels
        "Fail-over readiness of the link: 1 for the current verdict, 0 for the others";
    /// Every reason of the closed set written, 1 when it applies. The reasons behind `unknown`
    /// are `lag_seconds_unknown`, `kafka_not_configured`, `source_not_configured`,
    /// `kafka_not_measuring`, `source_unreadable` and `rest_collection_failing`; the others
    /// make the link `not_ready`. `link_paused` and `mirror_topics_paused` are deliberate
    /// pauses, not incidents; `mirror_topics_stopped`: the link is partly failed over (some
    /// mirror topics `STOPPED`, others not), and `old_source_writes` beside it: records were
    /// written to the old source of one of those since its stop. All 0 for a `failed_over`
    /// link.
    LinkBlocked = "clusterlink_link_failover_blocked" ReasonLabels
        "Whether this reason blocks a fail-over of the link now (1) or not (0)";
    /// In seconds: `failover_readiness.rpo` of the cluster or the link (default 300). Compare
    /// `clusterlink_link_lag_seconds` with it per link.
    LinkRpo = "clusterlink_link_rpo_seconds" LinkLabels
        "The link's configured recovery point objective: the largest lag in seconds that is ready to fail over";
    /// The measured lag (source minus destination high watermark) over the link's mirror
    /// topics that are not `STOPPED`, else the lag the REST API reports (only a lower bound
    /// while the source cannot be read: the status page shows `≥`); 0 for a link without such
    /// mirror topics. Absent when neither is known, and for a `failed_over` link.
    LossMessages = "clusterlink_link_failover_expected_loss_messages" LinkLabels
        "Records a fail-over of the link now would lose: not yet mirrored (messages)";
    /// In seconds. The link's lag in seconds when the last Kafka-side cycle measured it; while
    /// it cannot be measured (the source down, say), the last lag measured plus the time since
    /// (an upper bound, growing: never a 0 that reads as caught up; see
    /// `clusterlink_link_lag_seconds_measured_timestamp_seconds`). Absent when never measured,
    /// and for a `failed_over` link.
    LossSeconds = "clusterlink_link_failover_expected_loss_seconds" LinkLabels
        "Time span of the records a fail-over of the link now would lose (seconds)";
    /// Unix seconds. `time() - …` is the age of the last lag in seconds measured; while it
    /// grows, `clusterlink_link_failover_expected_loss_seconds` is an upper bound. Absent
    /// until the link's lag in seconds was first measured.
    LagMeasured = "clusterlink_link_lag_seconds_measured_timestamp_seconds" LinkLabels
        "When the link's lag in seconds was last measured (Unix seconds)";
    /// Each is named in the log (a warning when the set changes) and on the status page. 0
    /// while the REST collection fails (it cannot tell).
    UnknownLinks = "clusterlink_failover_readiness_unknown_links" ClusterOnly
        "Links named in failover_readiness.links that the REST API does not list";
}

label_set! {
    /// A family per link.
    LinkLabels {
        /// The link's name.
        link,
    }
}

label_set! {
    /// `clusterlink_link_failover_readiness`.
    VerdictLabels {
        /// The link's name.
        link,
        /// The verdict.
        verdict,
    }
}

label_set! {
    /// `clusterlink_link_failover_blocked`.
    ReasonLabels {
        /// The link's name.
        link,
        /// The blocker.
        reason,
    }
}

/// A family with no label but `kafka_cluster`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ClusterOnly<'a>(PhantomData<&'a ()>);

impl LabelSet for ClusterOnly<'_> {
    const NAMES: &'static [&'static str] = &[];
    fn values(&self) -> impl Iterator<Item = &str> {
        std::iter::empty()
    }
}

/// Renders one cluster's readiness families.
pub(crate) fn render_readiness(cluster: &str, readiness: &ClusterReadiness) -> RenderedCluster {
    let mut w = SampleWriter::new(cluster);
    for l in &readiness.links {
        let link = l.link.as_str();
        for verdict in Verdict::ALL {
            let labels = VerdictLabels {
                link,
                verdict: verdict.as_str(),
            };
            w.sample(
                family::LinkReadiness,
                labels,
                f64::from(u8::from(verdict == l.verdict)),
            );
        }
        for reason in Blocker::ALL {
            let labels = ReasonLabels {
                link,
                reason: reason.as_str(),
            };
            let blocks = l.blockers.contains(&reason);
            w.sample(family::LinkBlocked, labels, f64::from(u8::from(blocks)));
        }
        let labels = LinkLabels { link };
        w.sample(family::LinkRpo, labels, l.rpo_seconds);
        if let Some(loss) = l.expected_loss {
            if let Some(m) = loss.messages {
                w.sample(family::LossMessages, labels, m as f64);
            }
            if let Some(s) = loss.seconds {
                w.sample(family::LossSeconds, labels, s);
            }
        }
        if let Some(last) = l.last_lag {
            w.sample(
                family::LagMeasured,
                labels,
                last.measured_ms as f64 / 1000.0,
            );
        }
    }
    w.sample(
        family::UnknownLinks,
        ClusterOnly::default(),
        readiness.unknown_links.len() as f64,
    );
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{Exposition, Side};
    use crate::snapshot::{ExpectedLoss, LastLag, LinkReadiness};

    #[test]
    fn every_verdict_and_reason_is_written_and_unknown_values_are_absent() {
        let link = |name: &str, verdict, blockers: Vec<Blocker>, loss| LinkReadiness {
            link: name.into(),
            verdict,
            blockers,
            rpo_seconds: 300.0,
            mirror_topics: 1,
            mirror_topics_not_active: 0,
            mirror_topics_paused: 0,
            mirror_topics_stopped: 0,
            old_source_records: 0,
            failed_over_ms: None,
            expected_loss: loss,
            groups: vec![],
            last_lag: None,
        };
        let readiness = ClusterReadiness {
            links: vec![
                link(
                    "ab",
                    Verdict::Unknown,
                    vec![Blocker::SourceUnreadable],
                    Some(ExpectedLoss {
                        messages: None,
                        messages_measured: false,
                        messages_lower_bound: false,
                        seconds: Some(42.5),
                        seconds_upper_bound: true,
                    }),
                ),
                LinkReadiness {
                    last_lag: Some(LastLag {
                        seconds: 1.0,
                        measured_ms: 1_700_000_000_500,
                    }),
                    ..link("cd", Verdict::FailedOver, vec![], None)
                },
            ],
            unknown_links: vec!["typo".into()],
        };
        let e = Exposition::new(Default::default());
        e.set_part(
            "c1",
            Side::Readiness,
            Some(render_readiness("c1", &readiness)),
        );
        let text = e.render();
        let ab = "kafka_cluster=\"c1\",link=\"ab\"";
        for line in [
            format!("clusterlink_link_failover_readiness{{{ab},verdict=\"unknown\"}} 1\n"),
            format!("clusterlink_link_failover_readiness{{{ab},verdict=\"ready\"}} 0\n"),
            format!("clusterlink_link_failover_blocked{{{ab},reason=\"source_unreadable\"}} 1\n"),
            format!("clusterlink_link_failover_blocked{{{ab},reason=\"lag_above_rpo\"}} 0\n"),
            format!("clusterlink_link_rpo_seconds{{{ab}}} 300\n"),
            format!("clusterlink_link_failover_expected_loss_seconds{{{ab}}} 42.5\n"),
            "clusterlink_link_lag_seconds_measured_timestamp_seconds{kafka_cluster=\"c1\",link=\"cd\"} 1700000000.5\n".into(),
            "clusterlink_failover_readiness_unknown_links{kafka_cluster=\"c1\"} 1\n".into(),
        ] {
            assert!(text.contains(&line), "no {line} in\n{text}");
        }
        assert_eq!(
            text.matches("clusterlink_link_failover_blocked{").count(),
            2 * Blocker::ALL.len()
        );
        assert!(!text.contains("clusterlink_link_failover_expected_loss_messages{"));
        assert!(!text.contains(
            "clusterlink_link_failover_expected_loss_seconds{kafka_cluster=\"c1\",link=\"cd\"}"
        ));
    }
}
