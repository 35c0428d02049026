//! The Kafka-side families: their table ([`KAFKA_FAMILIES`], with the label sets only they
//! use) and their writer, which renders one cluster's [`KafkaSnapshot`]: watermarks and
//! measured lag per partition (with `partition_metrics`) and per mirror topic, lag in seconds
//! per partition, mirror topic and link, the consumer offset-sync lag with its split into what
//! a fail-over would lose and re-process, records lost to source retention per partition and
//! mirror topic, replication and source write rates per mirror topic and link, and the source
//! topic's partition count (with the partitions its mirror lacks) and retention.

use super::families::{families, label_set, MirrorLabels, PartitionLabels, SampleWriter};
use super::RenderedCluster;
use crate::snapshot::{KafkaSnapshot, MeasuredMirror};

families! {
    /// The Kafka-side families, in output order (see [`family`]).
    pub(crate) const KAFKA_FAMILIES from super::KAFKA_FIRST;
    /// Needs `kafka`; absent when `partition_metrics` is off.
    PartitionDestHwm = "clusterlink_mirror_partition_destination_high_watermark" PartitionLabels
        "High watermark of the mirror partition on the destination cluster, read over the Kafka protocol";
    /// Needs the link's source in `source_clusters`; absent when `partition_metrics` is off.
    PartitionSourceHwm = "clusterlink_mirror_partition_source_high_watermark" PartitionLabels
        "High watermark of the source partition on the source cluster, read over the Kafka protocol after the destination's";
    /// Absent when `partition_metrics` is off or either watermark was not read, and for a
    /// `STOPPED` mirror topic (not measured: it no longer mirrors).
    PartitionMeasuredLag = "clusterlink_mirror_partition_measured_lag_messages" PartitionLabels
        "Source high watermark minus destination high watermark (messages), measured over the Kafka protocol";
    /// In seconds; absent when it could not be read this cycle, when `partition_metrics` is off,
    /// and for a `STOPPED` mirror topic.
    PartitionLagSeconds = "clusterlink_mirror_partition_lag_seconds" PartitionLabels
        "Age of the oldest source record not yet on the destination (0 when caught up)";
    /// Absent when no partition of the topic had both watermarks read, and for a `STOPPED` mirror
    /// topic (not measured: it no longer mirrors).
    MirrorMeasuredLag = "clusterlink_mirror_topic_measured_lag_messages" MirrorLabels
        "Sum over partitions of the measured lag (source minus destination high watermark, messages)";
    /// Absent as `clusterlink_mirror_topic_measured_lag_messages`.
    MirrorMeasuredMaxLag = "clusterlink_mirror_topic_measured_max_partition_lag_messages" MirrorLabels
        "Largest measured partition lag of the mirror topic (messages)";
    /// In seconds. A lower bound while `clusterlink_lag_seconds_unread_partitions` > 0; absent when
    /// partitions lag and none of them was read (the 0 of caught-up ones is not taken for the lag),
    /// and for a `STOPPED` mirror topic.
    MirrorLagSeconds = "clusterlink_mirror_topic_lag_seconds" MirrorLabels
        "Age of the oldest source record not yet on the destination, max over partitions (0 when caught up)";
    /// The link's current RPO, over its mirror topics that are not `STOPPED`. Like a topic's,
    /// absent when partitions lag and none of them was read (and when every mirror topic is
    /// `STOPPED`).
    LinkLagSeconds = "clusterlink_link_lag_seconds" LinkLabels
        "Largest lag in seconds over the link's measured mirror topics";
    /// Absent when the group has no commit on the source for that mirror topic, and for a
    /// `STOPPED` mirror topic (not measured).
    OffsetSyncLag = "clusterlink_consumer_offset_sync_lag_messages" OffsetSyncLabels
        "Committed offset of the group on the source minus on the destination, summed over the mirror topic's partitions the group committed on the source (messages)";
    /// Needs the link's source in `source_clusters`; absent when `partition_metrics` is off or
    /// the source's log-start offset was not read. Source log-start offset (ListOffsets
    /// "earliest") minus destination high watermark, at least 0.
    PartitionLostToRetention = "clusterlink_mirror_partition_records_lost_to_retention" PartitionLabels
        "Records deleted at the source (retention) before the mirror partition fetched them";
    /// Sum over the partitions whose source log-start offset was read of max(0, source log-start
    /// − destination high watermark); absent when none was. Any value above 0 is data loss: the
    /// mirror will never have those records (Confluent restarts the partition at the source's
    /// log-start). It falls back to 0 once the fetcher has passed the gap, so alert on it at once.
    MirrorLostToRetention = "clusterlink_mirror_topic_records_lost_to_retention" MirrorLabels
        "Records deleted at the source (retention) before the mirror topic fetched them, summed over partitions";
    /// Increase of the destination high watermarks since the previous measurement cycle over the
    /// time between them. Absent on the first cycle, after a failed one, and when a watermark went
    /// down or was not read.
    MirrorReplicationRate = "clusterlink_mirror_topic_replication_records_per_second" MirrorLabels
        "Records per second written to the mirror topic on the destination, between the last two measurement cycles";
    /// Needs the link's source in `source_clusters`; absent as the replication rate is.
    MirrorSourceRate = "clusterlink_mirror_topic_source_records_per_second" MirrorLabels
        "Records per second written to the source topic, between the last two measurement cycles";
    /// Over the mirror topics whose rate is known; absent when none is.
    LinkReplicationRate = "clusterlink_link_replication_records_per_second" LinkLabels
        "Records per second written to the link's mirror topics, summed over them";
    /// Over the mirror topics whose source rate is known; absent when none is.
    LinkSourceRate = "clusterlink_link_source_records_per_second" LinkLabels
        "Records per second written to the source topics of the link's mirror topics, summed over them";
    /// Only for a `STOPPED` mirror topic within `old_source_writes.window` of its stop (REST
    /// `state_time_ms`), with the link's source in `source_clusters`, never for a probe's
    /// mirror topic; absent until the source was first read, then while it cannot be read the
    /// last count (a lower bound). Counted from the source offset the link last fetched before
    /// the stop (REST `last_source_fetch_offset`), else (a partition never fetched) from the
    /// first source high watermark read once the mirror was `STOPPED`. Above 0: producers still
    /// write to the old source, and those records are never mirrored.
    StoppedSourceRecords = "clusterlink_mirror_topic_source_records_since_stop" MirrorLabels
        "Records written to the source topic of a stopped (promoted or failed-over) mirror topic since it stopped";
    /// Needs the link's source in `source_clusters` and `source_topics` on (the default): one
    /// `Metadata` request for all topics per source cluster, cached for
    /// `source_topics.refresh_interval` (default 5m) and read again at once when a mirror topic
    /// or its partition count changes. Absent when the source topic is not listed (deleted, or
    /// no `DESCRIBE` on it) or the source was not read.
    MirrorSourcePartitions = "clusterlink_mirror_topic_source_partitions" MirrorLabels
        "Partition count of the mirror topic's source topic on the source cluster, read over the Kafka protocol";
    /// Source partition count minus the mirror topic's (REST `num_partitions`), at least 0;
    /// absent when either is unknown. Above 0 after partitions were added at the source, until
    /// the link's next topic config sync (`clusterlink_link_topic_config_sync_interval_seconds`)
    /// adds them to the mirror. Those partitions are not mirrored, and not measured either: the
    /// lag and watermark families cover only the partitions the REST API lists.
    MirrorUnmirroredPartitions = "clusterlink_mirror_topic_unmirrored_partitions" MirrorLabels
        "Partitions of the source topic that its mirror topic does not have yet (not mirrored)";
    /// The source topic's `retention.ms` in seconds, from one `DescribeConfigs` request per
    /// source cluster for all its source topics (needs `DESCRIBE_CONFIGS` on them), cached as
    /// `clusterlink_mirror_topic_source_partitions`. Absent when the retention is infinite
    /// (`-1`), when it could not be read (a refusal is counted in
    /// `clusterlink_kafka_errors_total`), and against a source that does not answer
    /// DescribeConfigs (librdkafka's mock cluster, the simulator's). With
    /// `clusterlink_mirror_topic_lag_seconds`: how close the mirror is to losing records to
    /// retention.
    MirrorSourceRetention = "clusterlink_mirror_topic_source_retention_seconds" MirrorLabels
        "Retention of the mirror topic's source topic on the source cluster (retention.ms, seconds)";
    /// Per partition `max(0, C_src − max(H_dst, C_dst))` (C: the group's committed offset,
    /// H_dst: the destination's high watermark, read in the same cycle), summed. With
    /// `clusterlink_consumer_offset_sync_unsynced_messages` it adds up to
    /// `clusterlink_consumer_offset_sync_lag_messages`. Absent as that one, and when a
    /// destination high watermark was not read.
    OffsetSyncUnreplicated = "clusterlink_consumer_offset_sync_unreplicated_messages" OffsetSyncLabels
        "Part of the offset-sync lag the destination never replicated: records the group committed on the source that a fail-over now would lose (messages)";
    /// Per partition `max(0, min(C_src, H_dst) − C_dst)`, summed. Absent as
    /// `clusterlink_consumer_offset_sync_unreplicated_messages`.
    OffsetSyncUnsynced = "clusterlink_consumer_offset_sync_unsynced_messages" OffsetSyncLabels
        "Part of the offset-sync lag replicated but not yet synced: records the group would re-process after a fail-over now (messages)";
}

label_set! {
    /// A family per link.
    LinkLabels {
        /// The link's name.
        link,
    }
}

label_set! {
    /// `clusterlink_consumer_offset_sync_lag_messages`.
    OffsetSyncLabels {
        /// The link's name.
        link,
        /// The consumer group (its name on the source).
        consumer_group,
        /// The mirror topic's name.
        mirror_topic,
    }
}

/// Renders one cluster's Kafka-side families.
pub(crate) fn render_kafka(cluster: &str, measured: &KafkaSnapshot) -> RenderedCluster {
    let mut w = SampleWriter::new(cluster);
    for m in &measured.mirrors {
        mirror_families(&mut w, m, measured.partition_metrics);
    }
    for (link, s) in measured.link_lag_seconds() {
        w.sample(family::LinkLagSeconds, LinkLabels { link }, s);
    }
    for (link, r) in measured.link_rates() {
        if let Some(v) = r.replication {
            w.sample(family::LinkReplicationRate, LinkLabels { link }, v);
        }
        if let Some(v) = r.source {
            w.sample(family::LinkSourceRate, LinkLabels { link }, v);
        }
    }
    for s in &measured.stopped {
        if let Some(n) = s.source_records_since_stop {
            let labels = MirrorLabels {
                link: &s.link,
                mirror_topic: &s.mirror_topic,
            };
            w.sample(family::StoppedSourceRecords, labels, n as f64);
        }
    }
    for s in &measured.offset_sync {
        let labels = OffsetSyncLabels {
            link: &s.link,
            consumer_group: &s.consumer_group,
            mirror_topic: &s.mirror_topic,
        };
        w.sample(family::OffsetSyncLag, labels, s.lag as f64);
        if let (Some(lose), Some(again)) = (s.unreplicated, s.unsynced) {
            w.sample(family::OffsetSyncUnreplicated, labels, lose as f64);
            w.sample(family::OffsetSyncUnsynced, labels, again as f64);
        }
    }
    w.finish()
}

/// The families of one measured mirror topic.
fn mirror_families(w: &mut SampleWriter, m: &MeasuredMirror, partition_metrics: bool) {
    let (link, mirror_topic) = (m.link.as_str(), m.mirror_topic.as_str());
    if partition_metrics {
        for p in &m.partitions {
            let partition = p.partition.to_string();
            let labels = PartitionLabels {
                link,
                mirror_topic,
                partition: &partition,
            };
            if let Some(d) = p.destination {
                w.sample(family::PartitionDestHwm, labels, d as f64);
            }
            if let Some(s) = p.source {
                w.sample(family::PartitionSourceHwm, labels, s as f64);
            }
            if let Some(lag) = p.lag() {
                w.sample(family::PartitionMeasuredLag, labels, lag as f64);
            }
            if let Some(s) = p.lag_seconds {
                w.sample(family::PartitionLagSeconds, labels, s);
            }
            if let Some(l) = p.lost_to_retention {
                w.sample(family::PartitionLostToRetention, labels, l as f64);
            }
        }
    }
    let labels = MirrorLabels { link, mirror_topic };
    let lag = m.lag();
    if let (Some(sum), Some(max)) = (lag.sum, lag.max) {
        w.sample(family::MirrorMeasuredLag, labels, sum as f64);
        w.sample(family::MirrorMeasuredMaxLag, labels, max as f64);
    }
    if let Some(s) = m.lag_seconds() {
        w.sample(family::MirrorLagSeconds, labels, s);
    }
    if let Some(l) = m.lost_to_retention() {
        w.sample(family::MirrorLostToRetention, labels, l as f64);
    }
    if let Some(r) = m.replication_rate {
        w.sample(family::MirrorReplicationRate, labels, r);
    }
    if let Some(r) = m.source_rate {
        w.sample(family::MirrorSourceRate, labels, r);
    }
    if let Some(n) = m.source_partitions {
        w.sample(family::MirrorSourcePartitions, labels, f64::from(n));
    }
    if let Some(n) = m.unmirrored_partitions {
        w.sample(family::MirrorUnmirroredPartitions, labels, f64::from(n));
    }
    if let Some(s) = m.source_retention_seconds {
        w.sample(family::MirrorSourceRetention, labels, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Exposition;
    use crate::snapshot::{MeasuredPartition, OffsetSyncLag, StoppedMirror};

    fn measured(partition_metrics: bool) -> KafkaSnapshot {
        let p = |partition, destination, source, lag_seconds| MeasuredPartition {
            partition,
            destination,
            source,
            lag_seconds,
            ..Default::default()
        };
        KafkaSnapshot {
            mirrors: vec![
                MeasuredMirror {
                    link: "ab".into(),
                    mirror_topic: "orders".into(),
                    partitions: vec![
                        p(0, Some(10), Some(15), Some(2.5)),
                        p(1, Some(7), Some(7), Some(0.0)),
                        p(2, Some(3), None, None),
                    ],
                    ..Default::default()
                },
                MeasuredMirror {
                    link: "ab".into(),
                    mirror_topic: "unread".into(),
                    partitions: vec![p(0, None, None, None)],
                    ..Default::default()
                },
                MeasuredMirror {
                    link: "cd".into(),
                    mirror_topic: "slow".into(),
                    partitions: vec![p(0, Some(1), Some(100), Some(40.0))],
                    ..Default::default()
                },
            ],
            offset_sync: vec![OffsetSyncLag {
                link: "ab".into(),
                consumer_group: "g1".into(),
                mirror_topic: "orders".into(),
                lag: 12,
                unreplicated: Some(5),
                unsynced: Some(7),
            }],
            partition_metrics,
            stopped: vec![StoppedMirror {
                link: "ab".into(),
                mirror_topic: "promoted".into(),
                source_records_since_stop: Some(3),
            }],
            sources: Default::default(),
        }
    }

    fn text(partition_metrics: bool) -> String {
        let e = Exposition::new(Default::default());
        e.set_part(
            "c1",
            crate::render::Side::Kafka,
            Some(render_kafka("c1", &measured(partition_metrics))),
        );
        e.render()
    }

    #[test]
    fn topic_and_link_aggregates_over_the_partitions_measured() {
        let text = text(false);
        let orders = "kafka_cluster=\"c1\",link=\"ab\",mirror_topic=\"orders\"";
        for line in [
            format!("clusterlink_mirror_topic_measured_lag_messages{{{orders}}} 5\n"),
            format!("clusterlink_mirror_topic_measured_max_partition_lag_messages{{{orders}}} 5\n"),
            format!("clusterlink_mirror_topic_lag_seconds{{{orders}}} 2.5\n"),
            "clusterlink_link_lag_seconds{kafka_cluster=\"c1\",link=\"ab\"} 2.5\n".to_owned(),
            "clusterlink_link_lag_seconds{kafka_cluster=\"c1\",link=\"cd\"} 40\n".to_owned(),
            "clusterlink_consumer_offset_sync_lag_messages{kafka_cluster=\"c1\",link=\"ab\",consumer_group=\"g1\",mirror_topic=\"orders\"} 12\n".to_owned(),
            "clusterlink_mirror_topic_source_records_since_stop{kafka_cluster=\"c1\",link=\"ab\",mirror_topic=\"promoted\"} 3\n".to_owned(),
            "clusterlink_consumer_offset_sync_unreplicated_messages{kafka_cluster=\"c1\",link=\"ab\",consumer_group=\"g1\",mirror_topic=\"orders\"} 5\n".to_owned(),
            "clusterlink_consumer_offset_sync_unsynced_messages{kafka_cluster=\"c1\",link=\"ab\",consumer_group=\"g1\",mirror_topic=\"orders\"} 7\n".to_owned(),
        ] {
            assert!(text.contains(&line), "no {line} in\n{text}");
        }
        assert!(
            !text.contains("mirror_topic=\"unread\""),
            "a topic with nothing measured has no series:\n{text}"
        );
        assert!(!text.contains("clusterlink_mirror_partition_destination_high_watermark{"));
    }

    #[test]
    fn no_topic_or_link_lag_seconds_when_no_lagging_partition_was_read() {
        let p = |partition, destination, source, lag_seconds| MeasuredPartition {
            partition,
            destination: Some(destination),
            source: Some(source),
            lag_seconds,
            ..Default::default()
        };
        let mirror = |topic: &str, partitions| MeasuredMirror {
            link: "ab".into(),
            mirror_topic: topic.into(),
            partitions,
            ..Default::default()
        };
        // "refused": one partition caught up (0), two lagging and unread (an ACL refused the
        // reads); "idle": caught up.
        let measured = KafkaSnapshot {
            mirrors: vec![
                mirror(
                    "refused",
                    vec![
                        p(0, 10, 10, Some(0.0)),
                        p(1, 6, 10, None),
                        p(2, 3, 10, None),
                    ],
                ),
                mirror("idle", vec![p(0, 5, 5, Some(0.0))]),
            ],
            offset_sync: vec![],
            partition_metrics: true,
            ..Default::default()
        };
        let e = Exposition::new(Default::default());
        e.set_part(
            "c1",
            crate::render::Side::Kafka,
            Some(render_kafka("c1", &measured)),
        );
        let text = e.render();
        assert!(
            !text.contains("clusterlink_mirror_topic_lag_seconds{kafka_cluster=\"c1\",link=\"ab\",mirror_topic=\"refused\"}")
                && !text.contains("clusterlink_link_lag_seconds{"),
            "{text}"
        );
        for line in [
            "clusterlink_mirror_topic_lag_seconds{kafka_cluster=\"c1\",link=\"ab\",mirror_topic=\"idle\"} 0\n",
            "clusterlink_mirror_partition_lag_seconds{kafka_cluster=\"c1\",link=\"ab\",mirror_topic=\"refused\",partition=\"0\"} 0\n",
            "clusterlink_mirror_topic_measured_lag_messages{kafka_cluster=\"c1\",link=\"ab\",mirror_topic=\"refused\"} 11\n",
        ] {
            assert!(text.contains(line), "no {line} in\n{text}");
        }
    }

    #[test]
    fn partition_series_only_with_partition_metrics_and_only_what_was_read() {
        let text = text(true);
        let p = |n: u8| {
            format!("kafka_cluster=\"c1\",link=\"ab\",mirror_topic=\"orders\",partition=\"{n}\"")
        };
        for line in [
            format!(
                "clusterlink_mirror_partition_destination_high_watermark{{{}}} 10\n",
                p(0)
            ),
            format!(
                "clusterlink_mirror_partition_source_high_watermark{{{}}} 15\n",
                p(0)
            ),
            format!(
                "clusterlink_mirror_partition_measured_lag_messages{{{}}} 5\n",
                p(0)
            ),
            format!("clusterlink_mirror_partition_lag_seconds{{{}}} 2.5\n", p(0)),
            format!("clusterlink_mirror_partition_lag_seconds{{{}}} 0\n", p(1)),
            format!(
                "clusterlink_mirror_partition_destination_high_watermark{{{}}} 3\n",
                p(2)
            ),
        ] {
            assert!(text.contains(&line), "no {line} in\n{text}");
        }
        // Partition 2's source was not read: no source-side series.
        assert!(!text.contains(&format!(
            "clusterlink_mirror_partition_source_high_watermark{{{}}}",
            p(2)
        )));
        assert!(!text.contains(&format!(
            "clusterlink_mirror_partition_measured_lag_messages{{{}}}",
            p(2)
        )));
    }
}
