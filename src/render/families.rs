//! The per-cluster families: their table ([`CLUSTER_FAMILIES`], in output order), a typed
//! label set per family ([`Family::Labels`]), the one rule for label values
//! ([`label_value`]: empty → `unknown`) and [`SampleWriter`], which writes the sample lines.

use std::fmt::Write as _;

use super::RenderedCluster;

/// What a label says when the value is missing or empty.
pub const UNKNOWN_LABEL: &str = "unknown";

/// The one rule for label values: the value as reported, or [`UNKNOWN_LABEL`] when it is
/// missing or empty. `SampleWriter::sample` applies it to every label it writes; the state
/// families map an empty state to `UNKNOWN` (an empty link error to `NO_ERROR`) before that
/// (see [`crate::snapshot::Reported`]).
pub fn label_value(value: Option<&str>) -> &str {
    value.filter(|v| !v.is_empty()).unwrap_or(UNKNOWN_LABEL)
}

/// Appends a label value to `out`, escaped for the exposition format.
pub(crate) fn push_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// The labels of a per-cluster family after `kafka_cluster`, in output order.
pub(crate) trait LabelSet {
    /// The label names.
    const NAMES: &'static [&'static str];
    /// The label values, in the order of [`Self::NAMES`].
    fn values(&self) -> impl Iterator<Item = &str>;
}

/// Declares a label set: a struct of `&str` fields whose names are the label names.
macro_rules! label_set {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug)]
        pub(crate) struct $name<'a> {
            $($(#[$fmeta])* pub(crate) $field: &'a str,)*
        }

        impl LabelSet for $name<'_> {
            const NAMES: &'static [&'static str] = &[$(stringify!($field)),*];
            fn values(&self) -> impl Iterator<Item = &str> {
                [$(self.$field),*].into_iter()
            }
        }
    };
}

label_set! {
    /// `clusterlink_link_info`.
    LinkInfoLabels {
        /// The link's name.
        link,
        /// `cluster_link_id` (or `link_id`).
        link_id,
        /// The source cluster's id.
        source_cluster_id,
        /// The destination cluster's id.
        destination_cluster_id,
        /// The remote cluster's id.
        remote_cluster_id,
        /// `link.mode`.
        link_mode,
        /// `connection.mode`.
        connection_mode,
        /// `consumer.offset.sync.enable`: `true`, `false` or `unknown`.
        consumer_offset_sync,
        /// `acl.sync.enable`: `true`, `false` or `unknown`.
        acl_sync,
        /// `auto.create.mirror.topics.enable`: `true`, `false` or `unknown`.
        auto_create_mirror_topics,
    }
}

label_set! {
    /// A family per link.
    LinkLabels {
        /// The link's name.
        link,
    }
}

label_set! {
    /// A state family per link (`state`: a state of a closed set or a raw one).
    LinkStateLabels {
        /// The link's name.
        link,
        /// The state.
        state,
    }
}

label_set! {
    /// `clusterlink_link_error`.
    LinkErrorLabels {
        /// The link's name.
        link,
        /// The link error.
        error,
    }
}

label_set! {
    /// A family per link task.
    TaskLabels {
        /// The link's name.
        link,
        /// The task's name.
        task,
    }
}

label_set! {
    /// `clusterlink_link_task_state`.
    TaskStateLabels {
        /// The link's name.
        link,
        /// The task's name.
        task,
        /// The task's state.
        state,
    }
}

label_set! {
    /// `clusterlink_link_mirror_partitions`.
    CategoryLabels {
        /// The link's name.
        link,
        /// The state category.
        state_category,
    }
}

label_set! {
    /// A family per mirror topic.
    MirrorLabels {
        /// The link's name.
        link,
        /// The mirror topic's name.
        mirror_topic,
    }
}

label_set! {
    /// `clusterlink_mirror_topic_info`.
    MirrorInfoLabels {
        /// The link's name.
        link,
        /// The mirror topic's name.
        mirror_topic,
        /// The source topic's name.
        source_topic,
    }
}

label_set! {
    /// `clusterlink_mirror_topic_state`.
    MirrorStateLabels {
        /// The link's name.
        link,
        /// The mirror topic's name.
        mirror_topic,
        /// The mirror state.
        state,
    }
}

label_set! {
    /// `clusterlink_mirror_topic_error`.
    MirrorErrorLabels {
        /// The link's name.
        link,
        /// The mirror topic's name.
        mirror_topic,
        /// The mirror topic error.
        error,
    }
}

label_set! {
    /// A family per mirror partition.
    PartitionLabels {
        /// The link's name.
        link,
        /// The mirror topic's name.
        mirror_topic,
        /// The partition number.
        partition,
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

/// One per-cluster metric family.
#[derive(Debug, Clone, Copy)]
pub struct FamilyDef {
    /// The family's name.
    pub name: &'static str,
    /// Its help text (without [`super::HELP_SUFFIX`]).
    pub help: &'static str,
    /// Labels after `kafka_cluster`.
    pub labels: &'static [&'static str],
}

/// A per-cluster family, as a type: its label set and its place in [`CLUSTER_FAMILIES`].
pub(crate) trait Family: Copy {
    /// The family's labels after `kafka_cluster`.
    type Labels<'a>: LabelSet;
    /// Index into [`CLUSTER_FAMILIES`].
    const INDEX: usize;
}

macro_rules! families {
    ($($id:ident = $name:literal $labels:ident $help:literal;)*) => {
        #[allow(clippy::enum_variant_names)]
        #[repr(usize)]
        enum Index { $($id,)* }

        /// Each per-cluster family as a type (see [`Family`]).
        pub(crate) mod family {
            $(
                #[doc = concat!("`", $name, "`.")]
                #[derive(Clone, Copy, Debug)]
                pub(crate) struct $id;

                impl super::Family for $id {
                    type Labels<'a> = super::$labels<'a>;
                    const INDEX: usize = super::Index::$id as usize;
                }
            )*
        }

        /// Every per-cluster family, in output order. All are gauges.
        pub const CLUSTER_FAMILIES: &[FamilyDef] = &[
            $(FamilyDef {
                name: $name,
                help: $help,
                labels: <$labels<'static> as LabelSet>::NAMES,
            },)*
        ];
    };
}

families! {
    LinkInfo = "clusterlink_link_info" LinkInfoLabels
        "Cluster link on this destination cluster: ids, mode and which sync features are enabled (always 1)";
    LinkState = "clusterlink_link_state" LinkStateLabels
        "Link state: 1 for the current state, 0 for the other known states; an unknown value is exported as its own state";
    LinkError = "clusterlink_link_error" LinkErrorLabels
        "Link error: 1 for the current link_error (NO_ERROR when healthy or not reported), 0 for the other known errors";
    LinkTaskState = "clusterlink_link_task_state" TaskStateLabels
        "Link task state: 1 for the current state, 0 for the other known states";
    LinkTaskErrors = "clusterlink_link_task_errors" TaskLabels
        "Number of errors the link task reports";
    LinkMirrorTopics = "clusterlink_link_mirror_topics" LinkStateLabels
        "Mirror topics of the link by mirror state (every known state written, 0 when none)";
    LinkMirrorPartitions = "clusterlink_link_mirror_partitions" CategoryLabels
        "Mirror partitions of the link by state category, from Confluent Cloud's category_counts (every known category written, 0 when none; absent on Confluent Platform)";
    MirrorInfo = "clusterlink_mirror_topic_info" MirrorInfoLabels
        "Mirror topic and the source topic it mirrors (always 1)";
    MirrorState = "clusterlink_mirror_topic_state" MirrorStateLabels
        "Mirror topic state: 1 for the current state, 0 for the other known states";
    MirrorStateChange = "clusterlink_mirror_topic_state_change_timestamp_seconds" MirrorLabels
        "Time of the mirror topic's last state transition (Unix seconds)";
    MirrorPartitions = "clusterlink_mirror_topic_partitions" MirrorLabels
        "Number of partitions of the mirror topic";
    MirrorLag = "clusterlink_mirror_topic_lag_messages" MirrorLabels
        "Sum of the partition lags (messages) the REST API reports, over partitions whose lag is known";
    MirrorMaxLag = "clusterlink_mirror_topic_max_partition_lag_messages" MirrorLabels
        "Largest partition lag (messages) the REST API reports, over partitions whose lag is known";
    MirrorUnknownLag = "clusterlink_mirror_topic_unknown_lag_partitions" MirrorLabels
        "Partitions whose lag is unknown (never fetched: last_source_fetch_offset -1)";
    MirrorError = "clusterlink_mirror_topic_error" MirrorErrorLabels
        "Mirror topic error (only when not NO_ERROR; always 1)";
    PartitionLag = "clusterlink_mirror_partition_lag_messages" PartitionLabels
        "Partition lag in messages as the REST API reports it (absent while unknown)";
    PartitionFetchOffset = "clusterlink_mirror_partition_last_source_fetch_offset" PartitionLabels
        "Source offset of the last fetch for the partition (absent while never fetched)";
    // Kafka-side measurements (rendered from the KafkaSnapshot, not from REST).
    PartitionDestHwm = "clusterlink_mirror_partition_destination_high_watermark" PartitionLabels
        "High watermark of the mirror partition on the destination cluster, read over the Kafka protocol";
    PartitionSourceHwm = "clusterlink_mirror_partition_source_high_watermark" PartitionLabels
        "High watermark of the source partition on the source cluster, read over the Kafka protocol after the destination's";
    PartitionMeasuredLag = "clusterlink_mirror_partition_measured_lag_messages" PartitionLabels
        "Source high watermark minus destination high watermark (messages), measured over the Kafka protocol";
    PartitionLagSeconds = "clusterlink_mirror_partition_lag_seconds" PartitionLabels
        "Age of the oldest source record not yet on the destination (0 when caught up)";
    MirrorMeasuredLag = "clusterlink_mirror_topic_measured_lag_messages" MirrorLabels
        "Sum over partitions of the measured lag (source minus destination high watermark, messages)";
    MirrorMeasuredMaxLag = "clusterlink_mirror_topic_measured_max_partition_lag_messages" MirrorLabels
        "Largest measured partition lag of the mirror topic (messages)";
    MirrorLagSeconds = "clusterlink_mirror_topic_lag_seconds" MirrorLabels
        "Age of the oldest source record not yet on the destination, max over partitions (0 when caught up)";
    LinkLagSeconds = "clusterlink_link_lag_seconds" LinkLabels
        "Largest lag in seconds over the link's measured mirror topics";
    OffsetSyncLag = "clusterlink_consumer_offset_sync_lag_messages" OffsetSyncLabels
        "Committed offset of the group on the source minus on the destination, summed over the mirror topic's partitions the group committed on the source (messages)";
}

/// Writes the sample lines of one cluster, family by family.
#[derive(Debug)]
pub(crate) struct SampleWriter {
    out: Vec<String>,
    /// `cluster` as its `kafka_cluster` label value, escaped (the same in every sample).
    cluster: String,
}

impl SampleWriter {
    /// A writer of `cluster`'s samples.
    pub(crate) fn new(cluster: &str) -> Self {
        let mut escaped = String::with_capacity(cluster.len());
        push_escaped(&mut escaped, label_value(Some(cluster)));
        Self {
            out: vec![String::new(); CLUSTER_FAMILIES.len()],
            cluster: escaped,
        }
    }

    /// The rendered families.
    pub(crate) fn finish(self) -> RenderedCluster {
        RenderedCluster::new(self.out)
    }

    /// One sample of `family`; each label written as [`label_value`] says (empty →
    /// `unknown`) and escaped. Integral values up to 1e15 are written without a fraction.
    pub(crate) fn sample<F: Family>(&mut self, _family: F, labels: F::Labels<'_>, value: f64) {
        let def = &CLUSTER_FAMILIES[F::INDEX];
        let buf = &mut self.out[F::INDEX];
        let _ = write!(buf, "{}{{kafka_cluster=\"{}\"", def.name, self.cluster);
        for (label, v) in def.labels.iter().zip(labels.values()) {
            let _ = write!(buf, ",{label}=\"");
            push_escaped(buf, label_value(Some(v)));
            buf.push('"');
        }
        if value.fract() == 0.0 && value.abs() < 1e15 {
            let _ = writeln!(buf, "}} {}", value as i64);
        } else {
            let _ = writeln!(buf, "}} {value}");
        }
    }

    /// A state family: every value of `known` 0 or 1, plus `current` at 1 when it is none of
    /// them; `labels` gives a sample's labels from its state.
    pub(crate) fn states<'s, F: Family>(
        &mut self,
        family: F,
        known: impl IntoIterator<Item = &'static str>,
        current: &'s str,
        labels: impl Fn(&'s str) -> F::Labels<'s>,
    ) {
        let mut listed = false;
        for state in known {
            listed |= state == current;
            self.sample(family, labels(state), f64::from(u8::from(state == current)));
        }
        if !listed {
            self.sample(family, labels(current), 1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_value_maps_missing_and_empty_to_unknown() {
        assert_eq!(label_value(None), UNKNOWN_LABEL);
        assert_eq!(label_value(Some("")), UNKNOWN_LABEL);
        assert_eq!(label_value(Some(" ")), " ");
        assert_eq!(label_value(Some("OUTBOUND")), "OUTBOUND");
    }

    #[test]
    fn the_table_takes_label_names_from_the_label_sets() {
        assert_eq!(CLUSTER_FAMILIES[0].name, "clusterlink_link_info");
        assert_eq!(CLUSTER_FAMILIES[0].labels.len(), 10);
        assert_eq!(
            CLUSTER_FAMILIES[family::OffsetSyncLag::INDEX].labels,
            ["link", "consumer_group", "mirror_topic"]
        );
        let names: std::collections::BTreeSet<_> =
            CLUSTER_FAMILIES.iter().map(|f| f.name).collect();
        assert_eq!(names.len(), CLUSTER_FAMILIES.len(), "a family listed twice");
    }

    #[test]
    fn samples_escape_labels_and_write_integers_without_a_fraction() {
        let mut w = SampleWriter::new("c\"1");
        let labels = MirrorLabels {
            link: "",
            mirror_topic: "a\\b\nc",
        };
        w.sample(family::MirrorLag, labels, 3.0);
        w.sample(family::MirrorLagSeconds, labels, 0.25);
        let r = w.finish();
        assert_eq!(
            r.family_text(family::MirrorLag::INDEX),
            "clusterlink_mirror_topic_lag_messages{kafka_cluster=\"c\\\"1\",link=\"unknown\",mirror_topic=\"a\\\\b\\nc\"} 3\n"
        );
        assert!(r
            .family_text(family::MirrorLagSeconds::INDEX)
            .ends_with("} 0.25\n"));
    }
}
