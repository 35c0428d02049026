//! When a collector's next cycle starts: every `poll_interval`, but every
//! [`TROUBLE_POLL_INTERVAL`] (when that is shorter) while a source of the cluster is in
//! trouble, for at most [`TROUBLE_WINDOW`] from the moment the trouble began.
//!
//! A source is in trouble when the cluster's last snapshot shows a link `UNAVAILABLE` or a
//! mirror topic `SOURCE_UNAVAILABLE`, or when the cluster's Kafka side cannot reach one of its
//! source clusters (`clusterlink_kafka_up{role="source"} 0`). The Kafka side measures after
//! each REST cycle, so it usually sees the source's brokers gone before Confluent's first
//! failed availability check (up to `availability.check.ms`, 60 s by default) turns the mirror
//! topics `SOURCE_UNAVAILABLE`; polling sooner from then on puts that state on `/metrics`
//! within seconds of Confluent reporting it, and measures the Kafka side again as often, which
//! is what `ClusterLinkSourceOutage` needs to page fast. The window bounds the extra REST
//! requests when the trouble lasts (a source down for hours, or the exporter's own route to a
//! source missing): after it, cycles come every `poll_interval` until the trouble clears.

use std::time::{Duration, Instant};

use crate::snapshot::{ClusterSnapshot, LinkState, MirrorState, Reported};

/// The time between two cycles while a source is in trouble (when shorter than the cluster's
/// `poll_interval`).
pub(crate) const TROUBLE_POLL_INTERVAL: Duration = Duration::from_secs(10);

/// How long after a trouble began the collector keeps polling every
/// [`TROUBLE_POLL_INTERVAL`].
pub(crate) const TROUBLE_WINDOW: Duration = Duration::from_secs(600);

/// Whether `snapshot` shows a source in trouble: a link `UNAVAILABLE` or a mirror topic
/// `SOURCE_UNAVAILABLE`.
pub(crate) fn source_in_trouble(snapshot: &ClusterSnapshot) -> bool {
    snapshot
        .links
        .iter()
        .any(|l| l.state == Reported::Known(LinkState::Unavailable))
        || snapshot
            .mirrors
            .iter()
            .any(|m| m.state == Reported::Known(MirrorState::SourceUnavailable))
}

/// A collector's pace: when its current trouble (if any) began.
#[derive(Debug, Default)]
pub(crate) struct Pace {
    trouble_since: Option<Instant>,
}

impl Pace {
    /// The time from the start of the cycle that just ended, at `now`, to the start of the
    /// next one (before jitter): `poll_interval`, or the shorter trouble interval while
    /// `trouble` holds and began less than [`TROUBLE_WINDOW`] ago.
    pub(crate) fn interval(
        &mut self,
        poll_interval: Duration,
        trouble: bool,
        now: Instant,
    ) -> Duration {
        if !trouble {
            self.trouble_since = None;
            return poll_interval;
        }
        let since = *self.trouble_since.get_or_insert(now);
        if now.saturating_duration_since(since) < TROUBLE_WINDOW {
            poll_interval.min(TROUBLE_POLL_INTERVAL)
        } else {
            poll_interval
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Link, MirrorTopic};

    const POLL: Duration = Duration::from_secs(30);

    fn snapshot(link: LinkState, mirror: MirrorState) -> ClusterSnapshot {
        ClusterSnapshot {
            links: vec![Link {
                name: "dr-link".into(),
                state: Reported::Known(link),
                ..Link::default()
            }],
            mirrors: vec![MirrorTopic {
                link: "dr-link".into(),
                state: Reported::Known(mirror),
                ..MirrorTopic::default()
            }],
            ..ClusterSnapshot::default()
        }
    }

    #[test]
    fn a_source_is_in_trouble_when_a_link_or_a_mirror_topic_says_so() {
        use {LinkState as L, MirrorState as M};
        assert!(!source_in_trouble(&snapshot(L::Active, M::Active)));
        assert!(!source_in_trouble(&snapshot(L::Paused, M::Paused)));
        assert!(!source_in_trouble(&snapshot(L::Active, M::Stopped)));
        assert!(source_in_trouble(&snapshot(
            L::Active,
            M::SourceUnavailable
        )));
        assert!(source_in_trouble(&snapshot(L::Unavailable, M::Active)));
        assert!(!source_in_trouble(&ClusterSnapshot::default()));
    }

    #[test]
    fn trouble_polls_sooner_for_the_window_then_at_the_poll_interval() {
        let mut pace = Pace::default();
        let t0 = Instant::now();
        assert_eq!(pace.interval(POLL, false, t0), POLL);
        assert_eq!(pace.interval(POLL, true, t0), TROUBLE_POLL_INTERVAL);
        let late = t0 + TROUBLE_WINDOW - Duration::from_secs(1);
        assert_eq!(pace.interval(POLL, true, late), TROUBLE_POLL_INTERVAL);
        assert_eq!(pace.interval(POLL, true, t0 + TROUBLE_WINDOW), POLL);
        // The trouble clears, and a new one polls sooner again.
        let later = t0 + TROUBLE_WINDOW * 2;
        assert_eq!(pace.interval(POLL, false, later), POLL);
        assert_eq!(pace.interval(POLL, true, later), TROUBLE_POLL_INTERVAL);
    }

    #[test]
    fn a_poll_interval_shorter_than_the_trouble_interval_is_kept() {
        let short = Duration::from_secs(5);
        assert_eq!(Pace::default().interval(short, true, Instant::now()), short);
    }
}
