//! What one Kafka-side measurement cycle of a destination cluster measured, its
//! aggregations — measured lag per mirror topic ([`MeasuredMirror::lag`]), lag in seconds per
//! mirror topic and link ([`MeasuredMirror::lag_seconds`], [`KafkaSnapshot::link_lag_seconds`]:
//! unknown when partitions lag and none of them was read) and the largest offset-sync lag per
//! mirror topic ([`KafkaSnapshot::offset_sync_lag_max`]), records lost to source retention
//! per mirror topic ([`MeasuredMirror::lost_to_retention`]) and replication rates per link
//! ([`KafkaSnapshot::link_rates`]) —, whether each link's source was read ([`SourceRead`])
//! and which side of a link a Kafka connection is ([`Role`], the `role` label).

use std::collections::BTreeMap;

use super::LagSummary;
use crate::util::closed_set;

closed_set! {
    /// Which side of a link a connection is (the `role` label).
    pub(crate) enum Role {
        /// The destination cluster measured.
        Destination = "destination",
        /// A source cluster of its links.
        Source = "source",
    }
}

/// The measurements of one cycle, in the order they are rendered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KafkaSnapshot {
    /// The measured mirror topics, in the order of the REST snapshot.
    pub mirrors: Vec<MeasuredMirror>,
    /// Offset-sync lag by (link, consumer group, mirror topic), sorted so.
    pub offset_sync: Vec<OffsetSyncLag>,
    /// Whether the cluster exports per-partition series (its `partition_metrics` setting).
    pub partition_metrics: bool,
    /// `STOPPED` mirror topics whose old source is watched for writes (within the
    /// `old_source_writes` window), in the order of the REST snapshot.
    pub stopped: Vec<StoppedMirror>,
    /// Whether each measured link's source cluster was read this cycle, by link name (a link
    /// with no mirror topic measured is not listed).
    pub sources: BTreeMap<String, SourceRead>,
}

/// Whether a cycle read a link's source cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceRead {
    /// No `source_clusters` entry serves the link: nothing source-side is measured.
    NotConfigured,
    /// Its high watermarks were read.
    Read,
    /// Reading it failed (the source-side values of the link are absent).
    Failed,
}

impl KafkaSnapshot {
    /// Each link's lag in seconds over its measured mirror topics (a link's RPO), by link
    /// name: the largest read, unknown (not listed) when partitions lag and none of them was
    /// read.
    pub(crate) fn link_lag_seconds(&self) -> BTreeMap<&str, f64> {
        let mut by_link: BTreeMap<&str, LagSeconds> = BTreeMap::new();
        for m in &self.mirrors {
            let e = by_link.entry(m.link.as_str()).or_default();
            *e = e.merge(LagSeconds::of(m));
        }
        by_link
            .into_iter()
            .filter_map(|(link, s)| Some((link, s.value()?)))
            .collect()
    }

    /// The measured lag of each link over its measured mirror topics (`MeasuredMirror::lag`
    /// added up), by link name; a link with no mirror topic measured is not listed.
    pub(crate) fn measured_lag_by_link(&self) -> BTreeMap<&str, LagSummary> {
        let mut by_link: BTreeMap<&str, LagSummary> = BTreeMap::new();
        for m in &self.mirrors {
            let e = by_link.entry(m.link.as_str()).or_default();
            *e = e.merge(m.lag());
        }
        by_link
    }

    /// The largest offset-sync lag (messages) over the consumer groups of each mirror topic,
    /// by (link, mirror topic); a mirror topic no group committed on is not listed.
    pub(crate) fn offset_sync_lag_max(&self) -> BTreeMap<(&str, &str), i64> {
        let mut by_mirror: BTreeMap<(&str, &str), i64> = BTreeMap::new();
        for o in &self.offset_sync {
            let e = by_mirror
                .entry((o.link.as_str(), o.mirror_topic.as_str()))
                .or_insert(o.lag);
            *e = (*e).max(o.lag);
        }
        by_mirror
    }

    /// Each link's replication and source write rates (records per second), the sums over
    /// its measured mirror topics whose rate is known, by link name; a rate is unknown
    /// (`None`) when no mirror topic of the link has one. A mirror topic without a rate (its
    /// first cycle, a source topic deleted) adds nothing.
    pub(crate) fn link_rates(&self) -> BTreeMap<&str, LinkRates> {
        let add = |sum: Option<f64>, rate: Option<f64>| match (sum, rate) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        let mut by_link: BTreeMap<&str, LinkRates> = BTreeMap::new();
        for m in &self.mirrors {
            let e = by_link.entry(m.link.as_str()).or_default();
            e.replication = add(e.replication, m.replication_rate);
            e.source = add(e.source, m.source_rate);
        }
        by_link
    }
}

/// A link's rates (records per second), summed over its mirror topics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct LinkRates {
    /// Records written to the link's mirror topics on the destination.
    pub(crate) replication: Option<f64>,
    /// Records written to their source topics.
    pub(crate) source: Option<f64>,
}

/// One measured mirror topic.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeasuredMirror {
    /// The link's name.
    pub link: String,
    /// The mirror topic's name.
    pub mirror_topic: String,
    /// Its partitions `0..n`, in order.
    pub partitions: Vec<MeasuredPartition>,
    /// Records per second written to the mirror topic (its destination high watermarks'
    /// increase since the previous cycle over the time between them); `None` on the first
    /// cycle, after a cycle that failed, and when a watermark went down or was not read.
    pub replication_rate: Option<f64>,
    /// Records per second written to the source topic, measured the same way.
    pub source_rate: Option<f64>,
    /// The source topic's partition count (source `Metadata`, cached); `None` when unknown.
    pub source_partitions: Option<i32>,
    /// Partitions of the source topic its mirror topic lacks (source minus mirror partition
    /// count as REST says it, at least 0): not mirrored, and not measured; `None` when
    /// either count is unknown.
    pub unmirrored_partitions: Option<i32>,
    /// The source topic's `retention.ms` in seconds (source `DescribeConfigs`, cached);
    /// `None` when unknown or infinite (`-1`).
    pub source_retention_seconds: Option<f64>,
}

impl MeasuredMirror {
    /// The measured lag over the partitions whose two watermarks were read; the others count
    /// as unknown.
    pub(crate) fn lag(&self) -> LagSummary {
        LagSummary::over(self.partitions.iter().map(MeasuredPartition::lag))
    }

    /// The lag in seconds of the mirror topic: the largest over its partitions; `None` when
    /// none was read, or when partitions lag and none of them was read (the 0 of the caught-up
    /// ones would pass for the lag, e.g. when an ACL refuses the reads). A lower bound while
    /// lagging partitions are left unread.
    pub(crate) fn lag_seconds(&self) -> Option<f64> {
        LagSeconds::of(self).value()
    }

    /// Records deleted at the source before the mirror fetched them, summed over the
    /// partitions where it is known; `None` when it is known for none.
    pub(crate) fn lost_to_retention(&self) -> Option<i64> {
        self.partitions
            .iter()
            .filter_map(|p| p.lost_to_retention)
            .fold(None, |sum, l| Some(sum.unwrap_or(0i64).saturating_add(l)))
    }
}

/// Lag in seconds over some partitions: the largest read, and whether lagging partitions were
/// read or left unread.
#[derive(Debug, Default, Clone, Copy)]
struct LagSeconds {
    max: Option<f64>,
    lagging_read: bool,
    lagging_unread: bool,
}

impl LagSeconds {
    fn of(m: &MeasuredMirror) -> Self {
        m.partitions.iter().fold(Self::default(), |s, p| {
            let lagging = p.lag().is_some_and(|l| l > 0);
            s.merge(Self {
                max: p.lag_seconds,
                lagging_read: lagging && p.lag_seconds.is_some(),
                lagging_unread: lagging && p.lag_seconds.is_none(),
            })
        })
    }

    fn merge(self, other: Self) -> Self {
        Self {
            max: match (self.max, other.max) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
            lagging_read: self.lagging_read || other.lagging_read,
            lagging_unread: self.lagging_unread || other.lagging_unread,
        }
    }

    /// The lag to report: none when partitions lag and none of them was read.
    fn value(self) -> Option<f64> {
        if self.lagging_unread && !self.lagging_read {
            None
        } else {
            self.max
        }
    }
}

/// What a cycle measured for one mirror partition; `None` where a read failed or was not
/// made.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MeasuredPartition {
    /// The partition number.
    pub partition: i32,
    /// High watermark on the destination.
    pub destination: Option<i64>,
    /// High watermark of the source partition, read after the destination's.
    pub source: Option<i64>,
    /// Age in seconds of the oldest source record not yet on the destination (0 when caught
    /// up).
    pub lag_seconds: Option<f64>,
    /// Records deleted at the source before the mirror fetched them: the source's log-start
    /// offset minus the destination high watermark, when positive (0 otherwise); `None` when
    /// either was not read.
    pub lost_to_retention: Option<i64>,
}

impl MeasuredPartition {
    /// Source minus destination high watermark (messages, at least 0) when both were read.
    pub(crate) fn lag(&self) -> Option<i64> {
        match (self.destination, self.source) {
            (Some(d), Some(s)) => Some(s.saturating_sub(d).max(0)),
            _ => None,
        }
    }
}

/// A `STOPPED` mirror topic whose source topic is still watched for writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoppedMirror {
    /// The link's name.
    pub link: String,
    /// The mirror topic's name.
    pub mirror_topic: String,
    /// Records written to the source topic since the stop (from the source offset the link
    /// last fetched before the stop, else the first source high watermark read once the mirror
    /// was `STOPPED`); `None` when the source was not read.
    pub source_records_since_stop: Option<i64>,
}

/// The offset-sync lag of one consumer group on one mirror topic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OffsetSyncLag {
    /// The link's name.
    pub link: String,
    /// The group's name on the source.
    pub consumer_group: String,
    /// The mirror topic's name.
    pub mirror_topic: String,
    /// Committed offset on the source minus on the destination, summed over the partitions
    /// the group committed on the source (messages, at least 0).
    pub lag: i64,
    /// The part of `lag` the destination never replicated (committed on the source beyond
    /// the destination's high watermark and its synced offset): what the group would lose on
    /// a fail-over now (messages, at least 0); `None` when a high watermark was not read.
    pub unreplicated: Option<i64>,
    /// The part of `lag` replicated but not yet synced: what the group would re-process on a
    /// fail-over now (messages, at least 0); `None` as for `unreplicated`.
    pub unsynced: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_needs_both_watermarks_and_is_never_negative() {
        let p = |destination, source| MeasuredPartition {
            destination,
            source,
            ..Default::default()
        };
        assert_eq!(p(Some(5), Some(9)).lag(), Some(4));
        assert_eq!(p(Some(9), Some(5)).lag(), Some(0));
        assert_eq!(p(Some(i64::MIN), Some(i64::MAX)).lag(), Some(i64::MAX));
        assert_eq!(p(None, Some(5)).lag(), None);
        assert_eq!(p(Some(5), None).lag(), None);
    }

    fn p(destination: i64, source: Option<i64>, lag_seconds: Option<f64>) -> MeasuredPartition {
        MeasuredPartition {
            partition: 0,
            destination: Some(destination),
            source,
            lag_seconds,
            ..Default::default()
        }
    }

    fn mirror(link: &str, partitions: Vec<MeasuredPartition>) -> MeasuredMirror {
        MeasuredMirror {
            link: link.into(),
            mirror_topic: "t".into(),
            partitions,
            ..Default::default()
        }
    }

    #[test]
    fn measured_lag_is_over_partitions_with_both_watermarks() {
        let m = mirror(
            "ab",
            vec![p(10, Some(15), None), p(7, Some(7), None), p(3, None, None)],
        );
        let want = LagSummary {
            sum: Some(5),
            max: Some(5),
            unknown_partitions: 1,
        };
        assert_eq!(m.lag(), want);
        let unread = mirror("ab", vec![p(3, None, None)]).lag();
        assert_eq!((unread.sum, unread.max), (None, None));
    }

    #[test]
    fn lag_seconds_is_unknown_when_partitions_lag_and_none_was_read() {
        // One partition caught up (0 s), two lagging and unread (an ACL refused the reads).
        let refused = mirror(
            "ab",
            vec![
                p(10, Some(10), Some(0.0)),
                p(6, Some(10), None),
                p(3, Some(10), None),
            ],
        );
        assert_eq!(refused.lag_seconds(), None);
        // One lagging partition read: a lower bound.
        let partly = mirror("ab", vec![p(6, Some(10), Some(2.5)), p(3, Some(10), None)]);
        assert_eq!(partly.lag_seconds(), Some(2.5));
        let idle = mirror("cd", vec![p(5, Some(5), Some(0.0))]);
        assert_eq!(idle.lag_seconds(), Some(0.0));
        assert_eq!(mirror("cd", vec![p(5, None, None)]).lag_seconds(), None);
        // A link: the rule over all of its mirror topics' partitions.
        let snapshot = KafkaSnapshot {
            mirrors: vec![refused, idle.clone(), partly, idle],
            ..KafkaSnapshot::default()
        };
        let by_link = snapshot.link_lag_seconds();
        assert_eq!(by_link, BTreeMap::from([("ab", 2.5), ("cd", 0.0)]));
        let refused_only = KafkaSnapshot {
            mirrors: vec![mirror(
                "ab",
                vec![p(10, Some(10), Some(0.0)), p(6, Some(10), None)],
            )],
            ..KafkaSnapshot::default()
        };
        assert!(refused_only.link_lag_seconds().is_empty());
    }

    #[test]
    fn offset_sync_lag_max_is_per_mirror_topic() {
        let sync = |group: &str, mirror_topic: &str, lag| OffsetSyncLag {
            link: "ab".into(),
            consumer_group: group.into(),
            mirror_topic: mirror_topic.into(),
            lag,
            unreplicated: None,
            unsynced: None,
        };
        let snapshot = KafkaSnapshot {
            offset_sync: vec![sync("g1", "a", 3), sync("g2", "a", 9), sync("g1", "b", 0)],
            ..KafkaSnapshot::default()
        };
        let want = BTreeMap::from([(("ab", "a"), 9), (("ab", "b"), 0)]);
        assert_eq!(snapshot.offset_sync_lag_max(), want);
    }

    #[test]
    fn retention_loss_and_link_rates_sum_what_is_known() {
        let lost = |l| MeasuredPartition {
            lost_to_retention: l,
            ..Default::default()
        };
        let m = mirror(
            "ab",
            vec![lost(Some(3)), lost(None), lost(Some(0)), lost(Some(4))],
        );
        assert_eq!(m.lost_to_retention(), Some(7));
        assert_eq!(mirror("ab", vec![lost(None)]).lost_to_retention(), None);
        let rated = |link: &str, replication_rate, source_rate| MeasuredMirror {
            link: link.into(),
            replication_rate,
            source_rate,
            ..Default::default()
        };
        let snapshot = KafkaSnapshot {
            mirrors: vec![
                rated("ab", Some(1.5), Some(2.0)),
                rated("ab", Some(2.5), None),
                rated("cd", None, Some(4.0)),
            ],
            ..KafkaSnapshot::default()
        };
        let rates = snapshot.link_rates();
        assert_eq!(
            rates["ab"],
            LinkRates {
                replication: Some(4.0),
                source: Some(2.0)
            }
        );
        assert_eq!(
            rates["cd"],
            LinkRates {
                replication: None,
                source: Some(4.0)
            }
        );
    }
}
