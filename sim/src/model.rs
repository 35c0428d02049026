//! The simulator's shared state and Confluent's state machines.
//!
//! The engine records *facts* here (source reachable or not, consecutive failed availability
//! checks, a mirror paused by the user, a promotion requested, partitions fetched, a source
//! topic gone); link, mirror and task states are *derived* from those facts by pure functions,
//! so every state the REST API shows is caused by something that happened in the simulation.
//!
//! Public: [`Flavour`], [`now_ms`], and the parts of [`Link`] and [`Mirror`] a reader of the
//! [`World`](crate::World) needs; the state machines themselves are crate-private.

use std::collections::BTreeMap;

/// Milliseconds since the Unix epoch, as Confluent's `state_time_ms`.
/// 0 if the clock is before 1970; saturates far in the future.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Which product a simulated cluster's REST API imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Flavour {
    /// Confluent Platform (cp-server's embedded REST): `GET /kafka/v3/clusters` works, link
    /// configs are spelled `read_only` / `sensitive` / `default`.
    #[default]
    Platform,
    /// Confluent Cloud: `GET /kafka/v3/clusters` is a 404, configs are spelled `is_read_only`,
    /// links carry `category_counts`.
    Cloud,
}

/// `link_state` values the simulator produces (REST `link_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LinkState {
    /// `ACTIVE`: the source is reachable (or not yet failed often enough) and the link runs.
    Active,
    /// `PAUSED`: the link config `cluster.link.paused` is `true`.
    Paused,
    /// `UNAVAILABLE`: the source rejected the link's credentials, or `threshold` consecutive
    /// availability checks failed.
    Unavailable,
    /// `FAILED`: never produced by events (no cause is simulated); kept so the derived mirror
    /// (`LINK_FAILED`) and task (`LINK_FAILED`) states stay complete.
    #[expect(
        dead_code,
        reason = "no simulated event fails a link (docs/simulator.md 10.2)"
    )]
    Failed,
}

impl LinkState {
    /// The REST spelling (`ACTIVE`, `PAUSED`, `UNAVAILABLE`, `FAILED`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LinkState::Active => "ACTIVE",
            LinkState::Paused => "PAUSED",
            LinkState::Unavailable => "UNAVAILABLE",
            LinkState::Failed => "FAILED",
        }
    }
}

/// `mirror_status` values the simulator produces (REST `mirror_status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MirrorStatus {
    /// `PENDING_MIRROR`: created, some partition not fetched yet.
    PendingMirror,
    /// `ACTIVE`: every partition fetched, source reachable.
    Active,
    /// `PAUSED`: paused by the user (`:pause`, `pause_mirrors`).
    Paused,
    /// `LINK_PAUSED`: the link is paused.
    LinkPaused,
    /// `LINK_FAILED`: the link is `FAILED` (never produced by events).
    LinkFailed,
    /// `SOURCE_UNAVAILABLE`: the last availability check failed or the credentials were
    /// rejected.
    SourceUnavailable,
    /// `PENDING_STOPPED`: promotion or failover requested, not done yet.
    PendingStopped,
    /// `STOPPED`: promoted or failed over; a writable topic, no longer fetched.
    Stopped,
    /// `FAILED`: the source topic is gone (`mirror_topic_error` `SOURCE_TOPIC_MAY_BE_DELETED`).
    Failed,
}

impl MirrorStatus {
    /// The REST spelling (`PENDING_MIRROR`, `ACTIVE`, …).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MirrorStatus::PendingMirror => "PENDING_MIRROR",
            MirrorStatus::Active => "ACTIVE",
            MirrorStatus::Paused => "PAUSED",
            MirrorStatus::LinkPaused => "LINK_PAUSED",
            MirrorStatus::LinkFailed => "LINK_FAILED",
            MirrorStatus::SourceUnavailable => "SOURCE_UNAVAILABLE",
            MirrorStatus::PendingStopped => "PENDING_STOPPED",
            MirrorStatus::Stopped => "STOPPED",
            MirrorStatus::Failed => "FAILED",
        }
    }

    /// Whether the fetcher copies records for a mirror in this state.
    pub(crate) fn fetches(self) -> bool {
        matches!(
            self,
            MirrorStatus::PendingMirror | MirrorStatus::Active | MirrorStatus::PendingStopped
        )
    }
}

/// How a user asked a mirror to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StopRequest {
    /// `:promote` — waits until the mirror has caught up with a reachable source.
    Promote,
    /// `:failover` — stops at once, whatever the lag.
    Failover,
}

/// Replication progress of one mirrored partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PartitionProgress {
    /// Destination high watermark: records acknowledged by the destination.
    pub(crate) dest_hwm: i64,
    /// Source high watermark seen in the last fetch response; `-1` before the first fetch.
    /// Shown as REST `mirror_lags[].last_source_fetch_offset`.
    pub(crate) last_source_fetch_offset: i64,
}

impl Default for PartitionProgress {
    fn default() -> Self {
        Self {
            dest_hwm: 0,
            last_source_fetch_offset: -1,
        }
    }
}

impl PartitionProgress {
    /// Confluent's lag: source high watermark at the last fetch minus destination high
    /// watermark; `0` for a partition never fetched (shown with offset `-1`, as Confluent does).
    pub(crate) fn lag(&self) -> i64 {
        if self.last_source_fetch_offset < 0 {
            0
        } else {
            (self.last_source_fetch_offset - self.dest_hwm).max(0)
        }
    }
}

/// A mirror topic on the destination cluster (REST `KafkaMirrorData`).
#[derive(Clone, Debug)]
pub struct Mirror {
    /// Name of the mirror topic on the destination (REST `mirror_topic_name`): the link's
    /// `cluster.link.prefix` plus the source name, unless given explicitly.
    pub(crate) mirror_topic: String,
    /// Name of the topic it copies on the source cluster (REST `source_topic_name`).
    pub source_topic: String,
    /// Progress per partition, index = partition (REST `mirror_lags`, `num_partitions`).
    pub(crate) partitions: Vec<PartitionProgress>,
    /// Paused by the user (`:pause`, `pause_mirrors`) and not resumed.
    pub(crate) paused_by_user: bool,
    /// A promotion or failover asked for and not finished.
    pub(crate) stop_request: Option<StopRequest>,
    /// Set once promotion or failover completed: the mirror is `STOPPED` for good.
    pub(crate) stopped: bool,
    /// Set when the source topic disappeared.
    pub(crate) source_topic_missing: bool,
    /// The derived status (REST `mirror_status`), refreshed by [`Link::refresh_states`].
    pub(crate) status: MirrorStatus,
    /// When `status` last changed, in ms since the Unix epoch (REST `state_time_ms`).
    pub(crate) state_time_ms: i64,
    /// `(error_code, error_message)` of state transitions that failed, oldest first (REST
    /// `mirror_state_transition_errors`, with `include_state_transition_errors=true`).
    pub(crate) transition_errors: Vec<(String, String)>,
    /// `(error_code, error_message)` injected by the `transition_error` action: while set, a
    /// promotion or failover of this mirror fails (it stays `PENDING_STOPPED`, the error in
    /// `transition_errors`) until `clear_transition_error`.
    pub(crate) injected_transition_error: Option<(String, String)>,
}

impl Mirror {
    /// A new mirror of `source_topic` named `mirror_topic`, `PENDING_MIRROR`, no partition
    /// fetched yet.
    pub(crate) fn new(mirror_topic: &str, source_topic: &str, partitions: i32) -> Self {
        Self {
            mirror_topic: mirror_topic.to_owned(),
            source_topic: source_topic.to_owned(),
            partitions: vec![PartitionProgress::default(); partitions.max(0) as usize],
            paused_by_user: false,
            stop_request: None,
            stopped: false,
            source_topic_missing: false,
            status: MirrorStatus::PendingMirror,
            state_time_ms: now_ms(),
            transition_errors: Vec::new(),
            injected_transition_error: None,
        }
    }

    /// Sum of the partitions' REST `lag`.
    pub(crate) fn total_lag(&self) -> i64 {
        self.partitions.iter().map(PartitionProgress::lag).sum()
    }

    /// Whether every partition has been fetched at least once.
    pub(crate) fn all_fetched(&self) -> bool {
        self.partitions
            .iter()
            .all(|p| p.last_source_fetch_offset >= 0)
    }

    /// `mirror_topic_error` for this mirror.
    pub(crate) fn error(&self) -> &'static str {
        if self.status == MirrorStatus::Failed && self.source_topic_missing {
            "SOURCE_TOPIC_MAY_BE_DELETED"
        } else {
            "NO_ERROR"
        }
    }
}

/// An injected task error (simulator control API), shown until cleared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TaskError {
    /// REST `tasks[].errors[].error_code`, e.g. `AUTHORIZATION_ERROR`.
    pub(crate) error_code: String,
    /// REST `tasks[].errors[].error_message`.
    pub(crate) error_message: String,
}

/// One link task as the REST API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Task {
    /// REST `task_name`: one of [`TASK_NAMES`].
    pub(crate) name: &'static str,
    /// REST `state`: `ACTIVE`, `IN_ERROR`, `NOT_CONFIGURED`, `LINK_UNAVAILABLE`, `LINK_PAUSED`
    /// or `LINK_FAILED`.
    pub(crate) state: &'static str,
    /// REST `errors`: one entry when `IN_ERROR`, else empty.
    pub(crate) errors: Vec<TaskError>,
}

/// The link tasks Confluent Server reports, in its order.
pub(crate) const TASK_NAMES: [&str; 4] = [
    "AclSync",
    "AutoCreateMirror",
    "ConsumerOffsetSync",
    "TopicConfigsSync",
];

/// A cluster link as seen on its destination cluster (REST `KafkaLinkData`).
#[derive(Clone, Debug)]
pub struct Link {
    /// The link name (REST `link_name`), unique on its destination.
    pub(crate) name: String,
    /// Current id (base64 of 16 bytes, URL-safe, unpadded — as Confluent prints it; REST
    /// `cluster_link_id`).
    pub(crate) cluster_link_id: String,
    /// Deprecated UUID form of the same bytes (REST `link_id`).
    pub(crate) link_id: String,
    /// Name of the source cluster in the simulation.
    pub(crate) source_cluster: String,
    /// Kafka cluster id of the source (REST `source_cluster_id`).
    pub(crate) source_cluster_id: String,
    /// Link configs set on the link, by Confluent's names, values as strings (REST
    /// `…/configs`, together with the defaults).
    pub(crate) configs: BTreeMap<String, String>,
    /// Mirror topics of the link, by mirror topic name (REST `topic_names`, `…/mirrors`).
    pub mirrors: BTreeMap<String, Mirror>,
    /// Last availability check reached the source.
    pub(crate) source_reachable: bool,
    /// Availability checks failed in a row; `threshold` of them make the link `UNAVAILABLE`.
    pub(crate) consecutive_failures: u32,
    /// `(link_error, link_error_message)` of the last failed availability check.
    pub(crate) last_failure: Option<(String, String)>,
    /// The source rejected the link's credentials.
    pub(crate) auth_failed: bool,
    /// Task errors injected by the `task_error` action, by task name, until cleared.
    pub(crate) injected_task_errors: BTreeMap<String, TaskError>,
    /// Error of the last consumer offset sync, if it failed.
    pub(crate) offset_sync_error: Option<TaskError>,
    /// Replication delay knob: a record is copied once its timestamp is this old, in ms.
    pub(crate) delay_ms: u64,
    /// Throughput knob: records copied per second by this link (`None`: unlimited).
    pub(crate) max_records_per_second: Option<f64>,
    /// Set by the `stall_fetcher` action: the fetcher copies nothing while the link stays
    /// `ACTIVE` (availability checks and offset sync go on).
    pub(crate) fetcher_stalled: bool,
    /// The derived state (REST `link_state`), refreshed by [`Link::refresh_states`].
    pub(crate) state: LinkState,
}

impl Link {
    /// The name of the link's source cluster in the simulation.
    pub fn source_cluster(&self) -> &str {
        &self.source_cluster
    }

    /// Mirror topic `name` of this link, or the error Confluent answers for a topic that is
    /// not one.
    pub(crate) fn mirror_mut(&mut self, name: &str) -> Result<&mut Mirror, crate::SimError> {
        let link = &self.name;
        self.mirrors.get_mut(name).ok_or_else(|| {
            crate::SimError::Invalid(format!(
                "Topic '{name}' is not a mirror topic of link '{link}'"
            ))
        })
    }

    /// The value of link config `name` as set on the link (defaults not included).
    pub(crate) fn config(&self, name: &str) -> Option<&str> {
        self.configs.get(name).map(String::as_str)
    }

    /// Whether link config `name` is `true` (any case); unset is `false`.
    pub(crate) fn config_enabled(&self, name: &str) -> bool {
        self.config(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// `cluster.link.prefix`, empty when unset.
    pub(crate) fn prefix(&self) -> &str {
        self.config("cluster.link.prefix").unwrap_or("")
    }

    /// Consecutive failed checks after which the link turns `UNAVAILABLE`.
    pub(crate) fn failure_threshold(&self) -> u32 {
        self.config("availability.check.consecutive.failure.threshold")
            .and_then(|v| v.parse().ok())
            .unwrap_or(5)
    }

    /// `(link_error, link_error_message)`.
    pub(crate) fn error(&self) -> (&str, &str) {
        match self.state {
            LinkState::Unavailable => match &self.last_failure {
                Some((code, message)) => (code, message),
                None => ("UNKNOWN", ""),
            },
            _ => ("NO_ERROR", ""),
        }
    }

    /// Derives the link state from what happened; see the module docs.
    pub(crate) fn derive_state(&self) -> LinkState {
        if self.auth_failed {
            LinkState::Unavailable
        } else if self.config_enabled("cluster.link.paused") {
            LinkState::Paused
        } else if !self.source_reachable && self.consecutive_failures >= self.failure_threshold() {
            LinkState::Unavailable
        } else {
            LinkState::Active
        }
    }

    /// Derives a mirror's status from its facts and the link's state.
    pub(crate) fn derive_mirror_status(&self, mirror: &Mirror) -> MirrorStatus {
        if mirror.stopped {
            return MirrorStatus::Stopped;
        }
        if mirror.source_topic_missing {
            return MirrorStatus::Failed;
        }
        match mirror.stop_request {
            Some(StopRequest::Failover) => return MirrorStatus::PendingStopped,
            Some(StopRequest::Promote) => return MirrorStatus::PendingStopped,
            None => {}
        }
        match self.state {
            LinkState::Failed => return MirrorStatus::LinkFailed,
            LinkState::Paused => return MirrorStatus::LinkPaused,
            _ => {}
        }
        if mirror.paused_by_user {
            MirrorStatus::Paused
        } else if !self.source_reachable || self.auth_failed {
            MirrorStatus::SourceUnavailable
        } else if !mirror.all_fetched() {
            MirrorStatus::PendingMirror
        } else {
            MirrorStatus::Active
        }
    }

    /// Whether a `PENDING_STOPPED` mirror may now become `STOPPED`.
    pub(crate) fn may_stop(&self, mirror: &Mirror) -> bool {
        if mirror.injected_transition_error.is_some() {
            return false;
        }
        match mirror.stop_request {
            Some(StopRequest::Failover) => mirror.status == MirrorStatus::PendingStopped,
            Some(StopRequest::Promote) => {
                mirror.status == MirrorStatus::PendingStopped
                    && self.source_reachable
                    && !self.auth_failed
                    && mirror.all_fetched()
                    && mirror.total_lag() == 0
            }
            None => false,
        }
    }

    /// Recomputes link and mirror states; a changed mirror state gets a new `state_time_ms`.
    pub(crate) fn refresh_states(&mut self) {
        self.state = self.derive_state();
        let names: Vec<String> = self.mirrors.keys().cloned().collect();
        for name in names {
            let mirror = &self.mirrors[&name];
            let stop_now = self.may_stop(mirror);
            let status = self.derive_mirror_status(mirror);
            let mirror = self.mirrors.get_mut(&name).expect("mirror exists");
            if stop_now {
                mirror.stopped = true;
            }
            let status = if stop_now {
                MirrorStatus::Stopped
            } else {
                status
            };
            if status != mirror.status {
                mirror.status = status;
                mirror.state_time_ms = now_ms();
            }
            // An injected transition error fails the promotion or failover in progress.
            if status == MirrorStatus::PendingStopped {
                if let Some(error) = &mirror.injected_transition_error {
                    if !mirror.transition_errors.contains(error) {
                        mirror.transition_errors.push(error.clone());
                    }
                }
            }
        }
    }

    /// The tasks as `GET …/links/{link}?include_tasks=true` shows them.
    pub(crate) fn tasks(&self) -> Vec<Task> {
        TASK_NAMES
            .iter()
            .map(|&name| {
                let configured = match name {
                    "AclSync" => self.config_enabled("acl.sync.enable"),
                    "AutoCreateMirror" => self.config_enabled("auto.create.mirror.topics.enable"),
                    "ConsumerOffsetSync" => self.config_enabled("consumer.offset.sync.enable"),
                    _ => true,
                };
                let (state, errors) = if !configured {
                    ("NOT_CONFIGURED", vec![])
                } else if let Some(state) = match self.state {
                    LinkState::Unavailable => Some("LINK_UNAVAILABLE"),
                    LinkState::Paused => Some("LINK_PAUSED"),
                    LinkState::Failed => Some("LINK_FAILED"),
                    LinkState::Active => None,
                } {
                    (state, vec![])
                } else if let Some(error) = self.task_error(name) {
                    ("IN_ERROR", vec![error])
                } else {
                    ("ACTIVE", vec![])
                };
                Task {
                    name,
                    state,
                    errors,
                }
            })
            .collect()
    }

    fn task_error(&self, task: &str) -> Option<TaskError> {
        if let Some(e) = self.injected_task_errors.get(task) {
            return Some(e.clone());
        }
        match task {
            "AclSync" if self.config("acl.filters").is_none_or(str::is_empty) => Some(TaskError {
                error_code: "MISCONFIGURATION_ERROR".into(),
                error_message: "ACL migration is enabled but acl.filters is not set".into(),
            }),
            "ConsumerOffsetSync" => self.offset_sync_error.clone(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> Link {
        let mut link = Link {
            name: "l".into(),
            cluster_link_id: "id".into(),
            link_id: "uuid".into(),
            source_cluster: "A".into(),
            source_cluster_id: "a".into(),
            configs: BTreeMap::new(),
            mirrors: BTreeMap::new(),
            source_reachable: true,
            consecutive_failures: 0,
            last_failure: None,
            auth_failed: false,
            injected_task_errors: BTreeMap::new(),
            offset_sync_error: None,
            delay_ms: 0,
            max_records_per_second: None,
            fetcher_stalled: false,
            state: LinkState::Active,
        };
        link.mirrors.insert("t".into(), Mirror::new("t", "t", 2));
        link
    }

    fn status(link: &Link) -> MirrorStatus {
        link.mirrors["t"].status
    }

    fn fetch_all(link: &mut Link, hwm: i64, dest: i64) {
        for p in &mut link.mirrors.get_mut("t").unwrap().partitions {
            p.last_source_fetch_offset = hwm;
            p.dest_hwm = dest;
        }
    }

    #[test]
    fn pending_until_every_partition_fetched_then_active() {
        let mut l = link();
        l.refresh_states();
        assert_eq!(status(&l), MirrorStatus::PendingMirror);
        l.mirrors.get_mut("t").unwrap().partitions[0].last_source_fetch_offset = 0;
        l.refresh_states();
        assert_eq!(status(&l), MirrorStatus::PendingMirror);
        fetch_all(&mut l, 0, 0);
        l.refresh_states();
        assert_eq!(status(&l), MirrorStatus::Active);
    }

    #[test]
    fn source_down_then_unavailable_after_threshold() {
        let mut l = link();
        l.configs.insert(
            "availability.check.consecutive.failure.threshold".into(),
            "3".into(),
        );
        fetch_all(&mut l, 5, 5);
        l.source_reachable = false;
        l.last_failure = Some(("BOOTSTRAP_TCP_CONNECTION_FAILED_ERROR".into(), "x".into()));
        for failures in 1..=3 {
            l.consecutive_failures = failures;
            l.refresh_states();
            assert_eq!(status(&l), MirrorStatus::SourceUnavailable);
            let expected = if failures < 3 {
                LinkState::Active
            } else {
                LinkState::Unavailable
            };
            assert_eq!(l.state, expected);
        }
        assert_eq!(l.error().0, "BOOTSTRAP_TCP_CONNECTION_FAILED_ERROR");
        assert!(l
            .tasks()
            .iter()
            .all(|t| t.state == "LINK_UNAVAILABLE" || t.state == "NOT_CONFIGURED"));
    }

    #[test]
    fn promote_waits_for_lag_zero_failover_does_not() {
        let mut l = link();
        fetch_all(&mut l, 10, 4);
        l.mirrors.get_mut("t").unwrap().stop_request = Some(StopRequest::Promote);
        l.refresh_states();
        l.refresh_states();
        assert_eq!(status(&l), MirrorStatus::PendingStopped);
        fetch_all(&mut l, 10, 10);
        l.refresh_states();
        assert_eq!(status(&l), MirrorStatus::Stopped);

        let mut l = link();
        fetch_all(&mut l, 10, 4);
        l.source_reachable = false;
        l.mirrors.get_mut("t").unwrap().stop_request = Some(StopRequest::Failover);
        l.refresh_states();
        assert_eq!(status(&l), MirrorStatus::PendingStopped);
        l.refresh_states();
        assert_eq!(status(&l), MirrorStatus::Stopped);
    }

    #[test]
    fn injected_transition_error_holds_the_stop_until_cleared() {
        let error = ("INTERNAL_ERROR".to_owned(), "boom".to_owned());
        for request in [StopRequest::Promote, StopRequest::Failover] {
            let mut l = link();
            fetch_all(&mut l, 10, 10);
            let m = l.mirrors.get_mut("t").unwrap();
            m.injected_transition_error = Some(error.clone());
            m.stop_request = Some(request);
            for _ in 0..3 {
                l.refresh_states();
                assert_eq!(status(&l), MirrorStatus::PendingStopped, "{request:?}");
            }
            assert_eq!(
                l.mirrors["t"].transition_errors,
                std::slice::from_ref(&error)
            );
            l.mirrors.get_mut("t").unwrap().injected_transition_error = None;
            l.refresh_states();
            l.refresh_states();
            assert_eq!(status(&l), MirrorStatus::Stopped, "{request:?}");
        }
    }

    #[test]
    fn link_pause_shows_on_mirrors_and_tasks() {
        let mut l = link();
        l.configs
            .insert("consumer.offset.sync.enable".into(), "true".into());
        l.configs
            .insert("cluster.link.paused".into(), "true".into());
        fetch_all(&mut l, 1, 1);
        l.refresh_states();
        assert_eq!(l.state, LinkState::Paused);
        assert_eq!(status(&l), MirrorStatus::LinkPaused);
        let tasks = l.tasks();
        assert_eq!(tasks[2].state, "LINK_PAUSED");
        assert_eq!(tasks[0].state, "NOT_CONFIGURED");
    }

    #[test]
    fn acl_sync_without_filters_is_misconfigured() {
        let mut l = link();
        l.configs.insert("acl.sync.enable".into(), "true".into());
        let acl = &l.tasks()[0];
        assert_eq!(acl.state, "IN_ERROR");
        assert_eq!(acl.errors[0].error_code, "MISCONFIGURATION_ERROR");
        l.configs.insert("acl.filters".into(), "{}".into());
        assert_eq!(l.tasks()[0].state, "ACTIVE");
    }

    #[test]
    fn lag_of_never_fetched_partition_is_zero_with_minus_one() {
        let p = PartitionProgress::default();
        assert_eq!((p.lag(), p.last_source_fetch_offset), (0, -1));
        let p = PartitionProgress {
            dest_hwm: 3,
            last_source_fetch_offset: 10,
        };
        assert_eq!(p.lag(), 7);
    }
}
