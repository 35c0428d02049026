//! What one Kafka-side measurement cycle of a destination cluster measured, and which side
//! of a link a Kafka connection is ([`Role`], the `role` label).

use crate::util::closed_set;

closed_set! {
    /// Which side of a link a connection is (the `role` label).
    pub enum Role {
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
}

impl MeasuredPartition {
    /// Source minus destination high watermark (messages, at least 0) when both were read.
    pub fn lag(&self) -> Option<i64> {
        match (self.destination, self.source) {
            (Some(d), Some(s)) => Some(s.saturating_sub(d).max(0)),
            _ => None,
        }
    }
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
}
