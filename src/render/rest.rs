//! The REST-side families: their table ([`REST_FAMILIES`], with the label sets only they use)
//! and their writer, which renders one cluster's [`ClusterSnapshot`]: links, their tasks and
//! state categories, mirror topics and (with `partition_metrics`) their partitions. A
//! `STOPPED` mirror topic has no lag: its frozen REST lag is what its stop left not copied.

use std::collections::BTreeMap;

use super::families::{
    families, label_set, label_value, MirrorLabels, PartitionLabels, SampleWriter, UNKNOWN_LABEL,
};
use super::RenderedCluster;
use crate::snapshot::{
    ClusterSnapshot, FailoverProgress, Link, LinkError, LinkState, MirrorState, MirrorTopic,
    StateCategory, TaskState,
};

families! {
    /// The REST-side families, in output order (see [`family`]).
    pub(crate) const REST_FAMILIES from super::REST_FIRST;
    /// One series per link. Ids as the REST API reports them (`link_id` is `cluster_link_id`, else
    /// the deprecated `link_id`; `unknown` when not reported or empty); `link_mode` and
    /// `connection_mode` from the link configs (`unknown` when not set, empty or not read); the
    /// three sync labels are `true`, `false` or `unknown` (not set, empty or not read) from
    /// `consumer.offset.sync.enable`, `acl.sync.enable`, `auto.create.mirror.topics.enable`. Join
    /// on `kafka_cluster`, `link`.
    LinkInfo = "clusterlink_link_info" LinkInfoLabels
        "Cluster link on this destination cluster: ids, mode and which sync features are enabled (always 1)";
    /// A state family of the link's `link_state`.
    LinkState = "clusterlink_link_state" LinkStateLabels
        "Link state: 1 for the current state, 0 for the other known states; an unknown value is exported as its own state";
    /// A state family of the link's `link_error`; an unknown error is exported as its own value
    /// with 1.
    LinkError = "clusterlink_link_error" LinkErrorLabels
        "Link error: 1 for the current link_error (NO_ERROR when healthy or not reported), 0 for the other known errors";
    /// A state family per link task (`AclSync`, `AutoCreateMirror`, `ConsumerOffsetSync`,
    /// `TopicConfigsSync`, …); an unknown state is exported as its own value with 1.
    /// `NOT_CONFIGURED` means the feature is off; `IN_ERROR` needs attention.
    LinkTaskState = "clusterlink_link_task_state" TaskStateLabels
        "Link task state: 1 for the current state, 0 for the other known states";
    /// The entries of the task's `errors` with a code other than `NO_ERROR`.
    LinkTaskErrors = "clusterlink_link_task_errors" TaskLabels
        "Number of errors the link task reports";
    /// Counted after the `mirror_topics` filters; unknown states are counted under their raw value.
    /// Also a promote's or failover's progress: `{state="STOPPED"}` of
    /// `sum without (state) (clusterlink_link_mirror_topics)` are done, `{state="PENDING_STOPPED"}`
    /// on their way.
    LinkMirrorTopics = "clusterlink_link_mirror_topics" LinkStateLabels
        "Mirror topics of the link by mirror state (every known state written, 0 when none)";
    /// Written once every mirror topic of the link (at least one) is `STOPPED`: the latest of
    /// their `state_time_ms`. Absent while one still mirrors or no stop time is reported. The
    /// REST API cannot tell a promote from a failover.
    LinkFailoverCompleted = "clusterlink_link_failover_completed_timestamp_seconds" LinkLabels
        "Time the link's promote or failover completed: its last mirror topic became STOPPED (Unix seconds)";
    /// **Confluent Cloud only.** Known categories: `ACTIVE`, `PAUSED`, `IN_ERROR`, `PENDING`,
    /// `NOT_APPLICABLE`; others are counted under their raw value. Also absent for a Cloud link
    /// whose `category_counts` is `null`. `IN_ERROR` above 0: see
    /// ClusterLinkMirrorPartitionsInError.
    LinkMirrorPartitions = "clusterlink_link_mirror_partitions" CategoryLabels
        "Mirror partitions of the link by state category, from Confluent Cloud's category_counts (every known category written, 0 when none; absent on Confluent Platform)";
    /// The link config `availability.check.ms` (Confluent's default 60 s). With
    /// `clusterlink_link_availability_check_failure_threshold` it says how long a source outage
    /// takes to turn the link `UNAVAILABLE`: interval × threshold (about 5 minutes by default).
    /// Like every link timing family: read with the link configs (every `link_configs_every`
    /// cycles), absent when the config is not reported, sensitive or not a whole number.
    LinkAvailabilityCheckInterval = "clusterlink_link_availability_check_interval_seconds" LinkLabels
        "How often the link checks that its source cluster is reachable (link config availability.check.ms, seconds)";
    /// The link config `availability.check.consecutive.failure.threshold` (Confluent's default 5).
    LinkAvailabilityCheckThreshold = "clusterlink_link_availability_check_failure_threshold" LinkLabels
        "Failed availability checks in a row after which the link turns UNAVAILABLE (link config availability.check.consecutive.failure.threshold)";
    /// The link config `consumer.offset.sync.ms`: a synced group's offsets on the destination
    /// are normally at most this old (plus the time the sync takes). Written whether or not
    /// `consumer.offset.sync.enable` is on.
    LinkConsumerOffsetSyncInterval = "clusterlink_link_consumer_offset_sync_interval_seconds" LinkLabels
        "How often the link syncs consumer group offsets to the destination (link config consumer.offset.sync.ms, seconds)";
    /// The link config `topic.config.sync.ms`: a change of a source topic's configs (and its
    /// partition count) reaches the mirror topic within about this time.
    LinkTopicConfigSyncInterval = "clusterlink_link_topic_config_sync_interval_seconds" LinkLabels
        "How often the link syncs source topic configs to its mirror topics (link config topic.config.sync.ms, seconds)";
    /// The link config `acl.sync.ms`. Written whether or not `acl.sync.enable` is on.
    LinkAclSyncInterval = "clusterlink_link_acl_sync_interval_seconds" LinkLabels
        "How often the link syncs ACLs from the source (link config acl.sync.ms, seconds)";
    /// One series per mirror topic; `source_topic` is `unknown` when not reported or empty.
    MirrorInfo = "clusterlink_mirror_topic_info" MirrorInfoLabels
        "Mirror topic and the source topic it mirrors (always 1)";
    /// A state family of the mirror topic's `mirror_status`; an unknown state is exported as its
    /// own value with 1.
    MirrorState = "clusterlink_mirror_topic_state" MirrorStateLabels
        "Mirror topic state: 1 for the current state, 0 for the other known states";
    /// From `state_time_ms`; absent when the REST API does not report it or reports 0 or a negative
    /// value. `time() - …` is how long the mirror has been in its state.
    MirrorStateChange = "clusterlink_mirror_topic_state_change_timestamp_seconds" MirrorLabels
        "Time of the mirror topic's last state transition (Unix seconds)";
    /// `num_partitions`; when it is absent or negative, the number of partition lags reported.
    /// Never negative.
    MirrorPartitions = "clusterlink_mirror_topic_partitions" MirrorLabels
        "Number of partitions of the mirror topic";
    /// From `mirror_lags[].lag`; absent while no partition's lag is known (none fetched yet,
    /// counted by `clusterlink_mirror_topic_unknown_lag_partitions`, or none listed): unknown,
    /// not 0, as the status page's `null`. A negative REST lag (seen after a mirror restarts, e.g. `lag: -207`, sometimes
    /// still there once the mirror is `ACTIVE` again) counts as 0 — the destination is not
    /// behind — and a never-fetched partition (`last_source_fetch_offset` -1) is unknown whatever
    /// its lag says. The sum saturates at 2⁶³−1 instead of wrapping. Never negative. Absent for a
    /// `STOPPED` mirror topic (promoted or failed over): it no longer mirrors, and the lag the
    /// REST API keeps reporting for it, frozen at the stop, is not a lag but what the stop left
    /// behind: `clusterlink_mirror_topic_not_copied_messages`.
    MirrorLag = "clusterlink_mirror_topic_lag_messages" MirrorLabels
        "Sum of the partition lags (messages) the REST API reports, over partitions whose lag is known";
    /// Negative lags count as 0; absent while no partition's lag is known (unknown, not 0), and
    /// for a `STOPPED` mirror topic.
    MirrorMaxLag = "clusterlink_mirror_topic_max_partition_lag_messages" MirrorLabels
        "Largest partition lag (messages) the REST API reports, over partitions whose lag is known";
    /// Their lag is left out of the two families above. Above 0 for long: the link cannot fetch those
    /// partitions. Absent for a `STOPPED` mirror topic.
    MirrorUnknownLag = "clusterlink_mirror_topic_unknown_lag_partitions" MirrorLabels
        "Partitions whose lag is unknown (never fetched: last_source_fetch_offset -1)";
    /// Only for a `STOPPED` mirror topic: the sum of the partition lags the REST API reports for
    /// it, frozen at its stop (over the partitions fetched at least once; negative lags count as
    /// 0; absent while none is known). After a promote normally 0 (a promote waits until the
    /// mirror caught up); after a failover, the records of the source topic its mirror never
    /// got. Records written to the old source after the stop are
    /// `clusterlink_mirror_topic_source_records_since_stop`.
    MirrorNotCopied = "clusterlink_mirror_topic_not_copied_messages" MirrorLabels
        "Records of the source topic a stopped (promoted or failed-over) mirror topic did not copy before its stop (messages)";
    /// The mirror topic's `mirror_topic_error` (e.g. `SOURCE_TOPIC_MAY_BE_DELETED`), present only
    /// while it is set (not `NO_ERROR` or `NOT_SET`).
    MirrorError = "clusterlink_mirror_topic_error" MirrorErrorLabels
        "Mirror topic error (only when not NO_ERROR; always 1)";
    /// From the single-mirror GET with `include_state_transition_errors=true`, which the
    /// exporter sends only for mirror topics neither `ACTIVE` nor `STOPPED` (at most 50 a
    /// cycle, in turn): absent for the others. Above 0: a promote or failover of the mirror
    /// topic fails (it stays `PENDING_STOPPED`); see ClusterLinkMirrorTopicTransitionFailed.
    MirrorTransitionErrors = "clusterlink_mirror_topic_transition_errors" MirrorLabels
        "State transition errors the mirror topic reports (mirror_state_transition_errors with a code other than NO_ERROR)";
    /// A negative REST lag is exported as 0. Absent when `partition_metrics: false`, and for a
    /// `STOPPED` mirror topic (as `clusterlink_mirror_topic_lag_messages`).
    PartitionLag = "clusterlink_mirror_partition_lag_messages" PartitionLabels
        "Partition lag in messages as the REST API reports it (absent while unknown)";
    /// Absent when `partition_metrics: false`. For a `STOPPED` mirror topic, frozen at the
    /// link's last fetch before the stop: where `clusterlink_mirror_topic_source_records_since_stop`
    /// counts from.
    PartitionFetchOffset = "clusterlink_mirror_partition_last_source_fetch_offset" PartitionLabels
        "Source offset of the last fetch for the partition (absent while never fetched)";
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
    /// A family per link (the REST side's; the Kafka side declares its own).
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

/// Renders one cluster's link, task and mirror families.
pub(crate) fn render_rest(cluster: &str, snapshot: &ClusterSnapshot) -> RenderedCluster {
    let mut w = SampleWriter::new(cluster);
    let mut mirrors_by_link: BTreeMap<&str, Vec<&MirrorTopic>> = BTreeMap::new();
    for m in &snapshot.mirrors {
        mirrors_by_link.entry(m.link.as_str()).or_default().push(m);
    }
    let failover = snapshot.failover_by_link();
    for link in &snapshot.links {
        let mirrors = mirrors_by_link.get(link.name.as_str());
        let progress = failover.get(link.name.as_str()).copied();
        link_families(
            &mut w,
            link,
            mirrors.map_or(&[][..], Vec::as_slice),
            progress,
        );
    }
    for m in &snapshot.mirrors {
        mirror_families(&mut w, m, snapshot.partition_metrics);
    }
    w.finish()
}

/// A flag's label value: `true`, `false` or `unknown`.
fn flag(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "true",
        Some(false) => "false",
        None => UNKNOWN_LABEL,
    }
}

/// The families of one link: info, state, error, tasks, mirror topics by state, partitions by
/// state category.
fn link_families(
    w: &mut SampleWriter,
    link: &Link,
    mirrors: &[&MirrorTopic],
    failover: Option<FailoverProgress>,
) {
    let l = link.name.as_str();
    let c = &link.configs;
    let info = LinkInfoLabels {
        link: l,
        link_id: label_value(link.id.as_deref()),
        source_cluster_id: label_value(link.source_cluster_id.as_deref()),
        destination_cluster_id: label_value(link.destination_cluster_id.as_deref()),
        remote_cluster_id: label_value(link.remote_cluster_id.as_deref()),
        link_mode: label_value(c.link_mode.as_deref()),
        connection_mode: label_value(c.connection_mode.as_deref()),
        consumer_offset_sync: flag(c.consumer_offset_sync),
        acl_sync: flag(c.acl_sync),
        auto_create_mirror_topics: flag(c.auto_create_mirror_topics),
    };
    w.sample(family::LinkInfo, info, 1.0);
    let states = LinkState::ALL.map(LinkState::as_str);
    w.states(family::LinkState, states, link.state.as_str(), |state| {
        LinkStateLabels { link: l, state }
    });
    let errors = LinkError::ALL.map(LinkError::as_str);
    w.states(family::LinkError, errors, link.error.as_str(), |error| {
        LinkErrorLabels { link: l, error }
    });
    for task in &link.tasks {
        let t = task.name.as_str();
        let states = TaskState::ALL.map(TaskState::as_str);
        w.states(
            family::LinkTaskState,
            states,
            task.state.as_str(),
            |state| TaskStateLabels {
                link: l,
                task: t,
                state,
            },
        );
        w.sample(
            family::LinkTaskErrors,
            TaskLabels { link: l, task: t },
            task.errors as f64,
        );
    }
    let mut counts: BTreeMap<&str, u64> = MirrorState::ALL.map(|s| (s.as_str(), 0)).into();
    for m in mirrors {
        *counts.entry(m.state.as_str()).or_default() += 1;
    }
    for (state, count) in counts {
        let labels = LinkStateLabels { link: l, state };
        w.sample(family::LinkMirrorTopics, labels, count as f64);
    }
    if let Some(ms) = failover.and_then(|f| f.completed_ms()) {
        let labels = LinkLabels { link: l };
        w.sample(family::LinkFailoverCompleted, labels, ms as f64 / 1000.0);
    }
    mirror_partitions(w, link);
    link_timings(w, link);
}

/// The link's timing configs, each when reported (milliseconds written as seconds).
fn link_timings(w: &mut SampleWriter, link: &Link) {
    let c = &link.configs;
    let labels = LinkLabels { link: &link.name };
    let seconds = |ms: u64| ms as f64 / 1000.0;
    if let Some(ms) = c.availability_check_ms {
        w.sample(family::LinkAvailabilityCheckInterval, labels, seconds(ms));
    }
    if let Some(n) = c.availability_check_failure_threshold {
        w.sample(family::LinkAvailabilityCheckThreshold, labels, n as f64);
    }
    if let Some(ms) = c.consumer_offset_sync_ms {
        w.sample(family::LinkConsumerOffsetSyncInterval, labels, seconds(ms));
    }
    if let Some(ms) = c.topic_config_sync_ms {
        w.sample(family::LinkTopicConfigSyncInterval, labels, seconds(ms));
    }
    if let Some(ms) = c.acl_sync_ms {
        w.sample(family::LinkAclSyncInterval, labels, seconds(ms));
    }
}

/// `clusterlink_link_mirror_partitions` of one link, when it reports `category_counts`: every
/// known category (0 when not listed), other categories by their raw value (empty →
/// `unknown`); repeated categories are summed (saturating).
fn mirror_partitions(w: &mut SampleWriter, link: &Link) {
    let Some(categories) = &link.category_counts else {
        return;
    };
    let mut counts: BTreeMap<&str, u64> = StateCategory::ALL.map(|c| (c.as_str(), 0)).into();
    for c in categories {
        let count = counts
            .entry(label_value(Some(c.category.as_str())))
            .or_default();
        *count = count.saturating_add(c.count);
    }
    for (state_category, count) in counts {
        let labels = CategoryLabels {
            link: &link.name,
            state_category,
        };
        w.sample(family::LinkMirrorPartitions, labels, count as f64);
    }
}

/// The families of one mirror topic.
fn mirror_families(w: &mut SampleWriter, m: &MirrorTopic, partition_metrics: bool) {
    let (link, mirror_topic) = (m.link.as_str(), m.name.as_str());
    let info = MirrorInfoLabels {
        link,
        mirror_topic,
        source_topic: label_value(m.source_topic.as_deref()),
    };
    w.sample(family::MirrorInfo, info, 1.0);
    let states = MirrorState::ALL.map(MirrorState::as_str);
    w.states(family::MirrorState, states, m.state.as_str(), |state| {
        MirrorStateLabels {
            link,
            mirror_topic,
            state,
        }
    });
    let labels = MirrorLabels { link, mirror_topic };
    if let Some(ms) = m.state_changed_ms {
        w.sample(family::MirrorStateChange, labels, ms as f64 / 1000.0);
    }
    w.sample(family::MirrorPartitions, labels, m.partitions() as f64);
    mirror_lag(w, m, labels);
    if let Some(error) = m.error.as_deref() {
        let labels = MirrorErrorLabels {
            link,
            mirror_topic,
            error,
        };
        w.sample(family::MirrorError, labels, 1.0);
    }
    if let Some(errors) = &m.transition_errors {
        w.sample(family::MirrorTransitionErrors, labels, errors.count as f64);
    }
    if partition_metrics {
        let mut fetched: Vec<_> = m.fetched().collect();
        fetched.sort_by_key(|(p, _)| *p);
        for (p, f) in fetched {
            let partition = p.to_string();
            let labels = PartitionLabels {
                link,
                mirror_topic,
                partition: &partition,
            };
            if !m.is_stopped() {
                w.sample(family::PartitionLag, labels, f.lag as f64);
            }
            let offset = f.last_source_fetch_offset as f64;
            w.sample(family::PartitionFetchOffset, labels, offset);
        }
    }
}

/// A mirror topic's REST lag: for one that still mirrors, its lag families; for a `STOPPED`
/// one, what its stop left not copied (its lag, frozen at the stop, is no lag any more).
fn mirror_lag(w: &mut SampleWriter, m: &MirrorTopic, labels: MirrorLabels<'_>) {
    let lag = m.lag();
    if m.is_stopped() {
        if let Some(sum) = lag.sum {
            w.sample(family::MirrorNotCopied, labels, sum as f64);
        }
        return;
    }
    if let Some(sum) = lag.sum {
        w.sample(family::MirrorLag, labels, sum as f64);
    }
    if let Some(max) = lag.max {
        w.sample(family::MirrorMaxLag, labels, max as f64);
    }
    w.sample(
        family::MirrorUnknownLag,
        labels,
        lag.unknown_partitions as f64,
    );
}
