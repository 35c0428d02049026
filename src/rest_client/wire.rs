//! Confluent's REST API v3 wire format (the JSON objects the client decodes, every field but
//! the names optional and parsed leniently) and its conversion into the exporter's own
//! [`snapshot`](crate::snapshot) types. The wire types never leave [`crate::rest_client`]; the
//! list envelope around them is [`envelope`](super::envelope)'s.

use serde::{Deserialize, Deserializer};

use crate::snapshot::{
    CategoryCount, Fetched, GroupFilters, Link, LinkConfigs, LinkError, LinkState, MirrorState,
    MirrorTopic, PartitionLag, Reported, StateCategory, Task, TaskError, TaskState,
    TransitionErrors, MAX_TASK_ERRORS, MAX_TASK_ERROR_MESSAGE,
};

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `KafkaLinkData`, every field but the name optional.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
pub(super) struct LinkData {
    pub(super) link_name: String,
    #[serde(default)]
    pub(super) cluster_link_id: Option<String>,
    #[serde(default)]
    pub(super) link_id: Option<String>,
    #[serde(default)]
    pub(super) source_cluster_id: Option<String>,
    #[serde(default)]
    pub(super) destination_cluster_id: Option<String>,
    #[serde(default)]
    pub(super) remote_cluster_id: Option<String>,
    /// Parsed (leniently) but not exported.
    #[allow(dead_code)]
    #[serde(default, deserialize_with = "null_default")]
    pub(super) topic_names: Vec<String>,
    #[serde(default)]
    pub(super) link_state: Option<String>,
    #[serde(default)]
    pub(super) link_error: Option<String>,
    #[serde(default)]
    pub(super) link_error_message: Option<String>,
    #[serde(default)]
    pub(super) tasks: Option<Vec<TaskData>>,
    /// Confluent Cloud's `category_counts`: mirror partitions by state category. `None` when
    /// the field is absent, `null` or not an array (Confluent Platform); see [`LinkCategory`].
    #[serde(default, deserialize_with = "link_categories")]
    pub(super) category_counts: Option<Vec<LinkCategory>>,
}

/// One item of a link's `category_counts` (`LinkCategory` in Confluent Cloud's spec): how many
/// of the link's mirror partitions are in a state category (`ACTIVE`, `PAUSED`, `IN_ERROR`,
/// `PENDING`, `NOT_APPLICABLE`, or a value the spec does not list). Raw: the count may be
/// negative and a category may repeat or be empty; the renderer decides what to export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct LinkCategory {
    pub(super) state_category: String,
    pub(super) count: i64,
}

/// `category_counts`, leniently: an informational field must not fail the whole link list.
/// Not an array → `None`; an item whose `state_category` is not a string or whose `count` is
/// not an integer that fits an `i64` is dropped.
fn link_categories<'de, D>(d: D) -> Result<Option<Vec<LinkCategory>>, D::Error>
where
    D: Deserializer<'de>,
{
    let serde_json::Value::Array(items) = serde_json::Value::deserialize(d)? else {
        return Ok(None);
    };
    Ok(Some(
        items
            .iter()
            .filter_map(|item| {
                Some(LinkCategory {
                    state_category: item.get("state_category")?.as_str()?.to_owned(),
                    count: item.get("count")?.as_i64()?,
                })
            })
            .collect(),
    ))
}

/// `LinkTask`.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
pub(super) struct TaskData {
    pub(super) task_name: String,
    #[serde(default)]
    pub(super) state: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub(super) errors: Vec<TaskErrorData>,
}

/// `LinkTaskError`.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
pub(super) struct TaskErrorData {
    #[serde(default)]
    pub(super) error_code: Option<String>,
    /// Shown on the status page, not exported as a label.
    #[serde(default)]
    pub(super) error_message: Option<String>,
}

/// `KafkaMirrorData`.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
pub(super) struct MirrorData {
    pub(super) link_name: String,
    pub(super) mirror_topic_name: String,
    #[serde(default)]
    pub(super) source_topic_name: Option<String>,
    #[serde(default)]
    pub(super) num_partitions: Option<i64>,
    #[serde(default, deserialize_with = "null_default")]
    pub(super) mirror_lags: Vec<MirrorLagData>,
    #[serde(default)]
    pub(super) mirror_status: Option<String>,
    #[serde(default)]
    pub(super) mirror_topic_error: Option<String>,
    #[serde(default)]
    pub(super) state_time_ms: Option<i64>,
    /// Only in the single-mirror GET with `include_state_transition_errors=true`; see
    /// [`transition_errors`].
    #[serde(default, deserialize_with = "transition_errors")]
    pub(super) mirror_state_transition_errors: Option<Vec<TaskErrorData>>,
}

/// `mirror_state_transition_errors`, leniently: an informational field must not fail the
/// mirror. Not an array → `None`; an item that is not an object is dropped, a code or message
/// that is not a string counts as missing.
fn transition_errors<'de, D>(d: D) -> Result<Option<Vec<TaskErrorData>>, D::Error>
where
    D: Deserializer<'de>,
{
    let serde_json::Value::Array(items) = serde_json::Value::deserialize(d)? else {
        return Ok(None);
    };
    let text = |item: &serde_json::Value, key: &str| {
        item.get(key)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    Ok(Some(
        items
            .iter()
            .filter(|item| item.is_object())
            .map(|item| TaskErrorData {
                error_code: text(item, "error_code"),
                error_message: text(item, "error_message"),
            })
            .collect(),
    ))
}

/// `MirrorLag`.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
pub(super) struct MirrorLagData {
    pub(super) partition: i32,
    #[serde(default)]
    pub(super) lag: i64,
    /// `-1`: never fetched (unknown, not caught up).
    #[serde(default = "minus_one")]
    pub(super) last_source_fetch_offset: i64,
}

fn minus_one() -> i64 {
    -1
}

/// A link config (`is_sensitive` on Cloud, `sensitive` on Platform).
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
pub(super) struct LinkConfigData {
    pub(super) name: String,
    #[serde(default)]
    pub(super) value: Option<String>,
    #[serde(default, alias = "sensitive")]
    pub(super) is_sensitive: Option<bool>,
}

/// `GET /clusters` item.
#[derive(Debug, Deserialize)]
pub(super) struct ClusterData {
    pub(super) cluster_id: String,
}

impl LinkData {
    /// The link as the snapshot holds it (configs not yet attached).
    pub(super) fn into_link(self) -> Link {
        let id = self
            .cluster_link_id
            .filter(|id| !id.is_empty())
            .or(self.link_id);
        Link {
            name: self.link_name,
            id,
            source_cluster_id: self.source_cluster_id,
            destination_cluster_id: self.destination_cluster_id,
            remote_cluster_id: self.remote_cluster_id,
            state: Reported::parse_or(self.link_state.as_deref(), LinkState::Unknown),
            error: Reported::parse_or(self.link_error.as_deref(), LinkError::NoError),
            error_message: self.link_error_message,
            tasks: self
                .tasks
                .into_iter()
                .flatten()
                .map(TaskData::into_task)
                .collect(),
            category_counts: self.category_counts.map(|counts| {
                counts
                    .into_iter()
                    .map(|c| CategoryCount {
                        category: Reported::<StateCategory>::parse(&c.state_category),
                        count: c.count.max(0).unsigned_abs(),
                    })
                    .collect()
            }),
            configs: LinkConfigs::default(),
        }
    }
}

impl TaskData {
    fn into_task(self) -> Task {
        let (errors, error_details) = errors_of(self.errors);
        Task {
            state: Reported::parse_or(self.state.as_deref(), TaskState::Unknown),
            name: self.task_name,
            errors,
            error_details,
        }
    }
}

/// Task or transition errors: how many have a code other than `NO_ERROR`, and the first
/// [`MAX_TASK_ERRORS`] of them with their messages cut to [`MAX_TASK_ERROR_MESSAGE`].
fn errors_of(errors: Vec<TaskErrorData>) -> (u64, Vec<TaskError>) {
    let errors: Vec<TaskErrorData> = errors
        .into_iter()
        .filter(|e| e.error_code.as_deref().is_some_and(|c| c != "NO_ERROR"))
        .collect();
    let details = errors
        .iter()
        .take(MAX_TASK_ERRORS)
        .map(|e| TaskError {
            code: e.error_code.clone().unwrap_or_default(),
            message: e
                .error_message
                .as_deref()
                .filter(|m| !m.is_empty())
                .map(cut_message),
        })
        .collect();
    (u64::try_from(errors.len()).unwrap_or(u64::MAX), details)
}

/// `message` cut to [`MAX_TASK_ERROR_MESSAGE`] characters (the last one `…` when cut).
fn cut_message(message: &str) -> String {
    if message.chars().count() <= MAX_TASK_ERROR_MESSAGE {
        return message.to_owned();
    }
    let mut cut: String = message.chars().take(MAX_TASK_ERROR_MESSAGE - 1).collect();
    cut.push('…');
    cut
}

impl MirrorData {
    /// The mirror topic as the snapshot holds it.
    pub(super) fn into_mirror(self) -> MirrorTopic {
        MirrorTopic {
            state: Reported::parse_or(self.mirror_status.as_deref(), MirrorState::Unknown),
            error: self
                .mirror_topic_error
                .filter(|e| !e.is_empty() && e != "NO_ERROR" && e != "NOT_SET"),
            state_changed_ms: self.state_time_ms.filter(|ms| *ms > 0),
            // A negative claim is no count.
            claimed_partitions: self.num_partitions.and_then(|n| u64::try_from(n).ok()),
            lags: self
                .mirror_lags
                .iter()
                .map(|p| PartitionLag {
                    partition: p.partition,
                    fetched: (p.last_source_fetch_offset >= 0).then_some(Fetched {
                        lag: p.lag.max(0),
                        last_source_fetch_offset: p.last_source_fetch_offset,
                    }),
                })
                .collect(),
            link: self.link_name,
            name: self.mirror_topic_name,
            source_topic: self.source_topic_name,
            transition_errors: self.mirror_state_transition_errors.map(|errors| {
                let (count, details) = errors_of(errors);
                TransitionErrors { count, details }
            }),
        }
    }
}

/// The configs the exporter reads, interpreted once: a sensitive config counts as not
/// reported, a flag is true when its value is `true` in any case.
pub(super) fn link_configs(configs: &[LinkConfigData]) -> LinkConfigs {
    let value = |name: &str| {
        configs
            .iter()
            .find(|c| c.name == name && c.is_sensitive != Some(true))
            .and_then(|c| c.value.clone())
    };
    let flag = |name: &str| {
        value(name)
            .filter(|v| !v.is_empty())
            .map(|v| v.eq_ignore_ascii_case("true"))
    };
    let number = |name: &str| value(name).and_then(|v| whole_number(&v));
    LinkConfigs {
        link_mode: value("link.mode"),
        connection_mode: value("connection.mode"),
        consumer_offset_sync: flag("consumer.offset.sync.enable"),
        acl_sync: flag("acl.sync.enable"),
        auto_create_mirror_topics: flag("auto.create.mirror.topics.enable"),
        consumer_group_prefix: flag("consumer.group.prefix.enable"),
        cluster_link_prefix: value("cluster.link.prefix"),
        consumer_offset_group_filters: value("consumer.offset.group.filters")
            .map(|text| GroupFilters::from_json(&text))
            .unwrap_or_default(),
        availability_check_ms: number("availability.check.ms"),
        availability_check_failure_threshold: number(
            "availability.check.consecutive.failure.threshold",
        ),
        consumer_offset_sync_ms: number("consumer.offset.sync.ms"),
        topic_config_sync_ms: number("topic.config.sync.ms"),
        acl_sync_ms: number("acl.sync.ms"),
    }
}

/// A config value that is a whole number (ASCII digits, surrounding spaces ignored, at most
/// 2⁶³−1); anything else (empty, negative, a fraction, text) is no value.
fn whole_number(value: &str) -> Option<u64> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u64>().ok().filter(|n| i64::try_from(*n).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sparse_and_unknown_fields() {
        let link: LinkData = serde_json::from_str(
            r#"{"link_name":"l","topic_names":null,"link_state":"BRAND_NEW","extra":1,"tasks":[{"task_name":"X","errors":null}]}"#,
        )
        .unwrap();
        assert_eq!(link.link_state.as_deref(), Some("BRAND_NEW"));
        assert!(link.topic_names.is_empty());
        assert!(link.tasks.unwrap()[0].errors.is_empty());
        let m: MirrorData = serde_json::from_str(
            r#"{"link_name":"l","mirror_topic_name":"t","mirror_lags":[{"partition":1,"lag":0}]}"#,
        )
        .unwrap();
        assert_eq!(m.mirror_lags[0].last_source_fetch_offset, -1);
        let c: LinkConfigData =
            serde_json::from_str(r#"{"name":"sasl.jaas.config","value":null,"sensitive":true}"#)
                .unwrap();
        assert_eq!(c.is_sensitive, Some(true));
    }

    #[test]
    fn links_convert_with_defaults_for_missing_or_empty_values() {
        let link: LinkData = serde_json::from_str(
            r#"{"link_name":"l","cluster_link_id":"","link_id":"p1","link_state":"",
                "tasks":[{"task_name":"AclSync","state":"IN_ERROR","errors":[
                    {"error_code":"MISCONFIGURATION_ERROR"},{"error_code":"NO_ERROR"},{}]}],
                "category_counts":[{"state_category":"","count":-4},
                    {"state_category":"ACTIVE","count":2}]}"#,
        )
        .unwrap();
        let link = link.into_link();
        assert_eq!(
            link.id.as_deref(),
            Some("p1"),
            "link_id when cluster_link_id is empty"
        );
        assert_eq!(link.state, Reported::Known(LinkState::Unknown));
        assert_eq!(link.error, Reported::Known(LinkError::NoError));
        assert_eq!(link.tasks[0].state, Reported::Known(TaskState::InError));
        assert_eq!(
            link.tasks[0].errors, 1,
            "only codes other than NO_ERROR count"
        );
        assert_eq!(
            link.tasks[0].error_details,
            vec![TaskError {
                code: "MISCONFIGURATION_ERROR".into(),
                message: None
            }]
        );
        let counts = link.category_counts.unwrap();
        assert_eq!(counts[0].category, Reported::Other(String::new()));
        assert_eq!(counts[0].count, 0, "a negative count is 0");
        assert_eq!(counts[1].category, Reported::Known(StateCategory::Active));
    }

    #[test]
    fn mirrors_convert_checking_every_number() {
        let m: MirrorData = serde_json::from_str(
            r#"{"link_name":"l","mirror_topic_name":"t","num_partitions":-3,
                "mirror_status":"BRAND_NEW","mirror_topic_error":"NOT_SET","state_time_ms":0,
                "mirror_lags":[{"partition":0,"lag":-207,"last_source_fetch_offset":4},
                    {"partition":1,"lag":5}]}"#,
        )
        .unwrap();
        let m = m.into_mirror();
        assert_eq!(m.claimed_partitions, None, "a negative claim is no count");
        assert_eq!(m.partitions(), 2, "then the listed partitions");
        assert_eq!(m.state, Reported::Other("BRAND_NEW".into()));
        assert_eq!(m.error, None);
        assert_eq!(m.state_changed_ms, None);
        assert_eq!(
            m.lags[0].fetched,
            Some(Fetched {
                lag: 0,
                last_source_fetch_offset: 4
            })
        );
        assert_eq!(m.lags[1].fetched, None, "never fetched: lag unknown");
    }

    #[test]
    fn configs_are_interpreted_once_sensitive_ones_unread() {
        let configs: Vec<LinkConfigData> = serde_json::from_str(
            r#"[{"name":"consumer.offset.sync.enable","value":"TRUE"},
                {"name":"acl.sync.enable","value":""},
                {"name":"auto.create.mirror.topics.enable","value":"no"},
                {"name":"cluster.link.prefix","value":"dr-","is_sensitive":true},
                {"name":"consumer.group.prefix.enable","value":"true"},
                {"name":"link.mode","value":"DESTINATION"}]"#,
        )
        .unwrap();
        let c = link_configs(&configs);
        assert_eq!(c.consumer_offset_sync, Some(true));
        assert_eq!(c.acl_sync, None, "empty: not reported");
        assert_eq!(c.auto_create_mirror_topics, Some(false));
        assert_eq!(c.cluster_link_prefix, None, "sensitive: not read");
        assert_eq!(c.link_mode.as_deref(), Some("DESTINATION"));
        assert_eq!(c.connection_mode, None);
        assert_eq!(c.destination_group_prefix(), "");
        assert_eq!(c.consumer_offset_group_filters, GroupFilters::default());
    }

    #[test]
    fn timing_configs_are_whole_numbers_or_absent() {
        let configs: Vec<LinkConfigData> = serde_json::from_str(
            r#"[{"name":"availability.check.ms","value":" 60000 "},
                {"name":"availability.check.consecutive.failure.threshold","value":"5"},
                {"name":"consumer.offset.sync.ms","value":"-1"},
                {"name":"topic.config.sync.ms","value":"5e3"},
                {"name":"acl.sync.ms","value":"99999999999999999999"}]"#,
        )
        .unwrap();
        let c = link_configs(&configs);
        assert_eq!(c.availability_check_ms, Some(60_000), "spaces trimmed");
        assert_eq!(c.availability_check_failure_threshold, Some(5));
        assert_eq!(c.consumer_offset_sync_ms, None, "negative: no value");
        assert_eq!(c.topic_config_sync_ms, None, "not digits: no value");
        assert_eq!(c.acl_sync_ms, None, "too large: no value");
        let c = link_configs(&[]);
        assert_eq!(c.availability_check_ms, None, "absent: no value");
        for bad in ["", "1.5", "+3", "ten", "0x10"] {
            assert_eq!(whole_number(bad), None, "{bad:?}");
        }
        assert_eq!(whole_number("0"), Some(0));
    }

    #[test]
    fn group_filters_are_parsed_when_the_snapshot_is_built() {
        let config = |value: &str| LinkConfigData {
            name: "consumer.offset.group.filters".into(),
            value: Some(value.into()),
            is_sensitive: None,
        };
        let text = r#"{"groupFilters":[{"name":"app-","patternType":"PREFIXED"}]}"#;
        let c = link_configs(&[config(text)]);
        assert_eq!(
            c.consumer_offset_group_filters,
            GroupFilters::from_json(text)
        );
        assert!(c.consumer_offset_group_filters.includes("app-1"));
        // Not JSON: no rules, as when not reported.
        let c = link_configs(&[config("{not json")]);
        assert_eq!(c.consumer_offset_group_filters, GroupFilters::default());
    }

    #[test]
    fn transition_errors_are_read_leniently_and_bounded() {
        let mirror = |errors: &str| {
            let m: MirrorData = serde_json::from_str(&format!(
                r#"{{"link_name":"l","mirror_topic_name":"t","mirror_status":"PENDING_STOPPED",
                    "mirror_state_transition_errors":{errors}}}"#
            ))
            .unwrap();
            m.into_mirror().transition_errors
        };
        let listed: MirrorData =
            serde_json::from_str(r#"{"link_name":"l","mirror_topic_name":"t"}"#).unwrap();
        assert_eq!(listed.into_mirror().transition_errors, None, "not read");
        assert_eq!(mirror("null"), None, "null: not read");
        assert_eq!(mirror(r#""oops""#), None, "not an array: not read");
        assert_eq!(
            mirror("[]"),
            Some(TransitionErrors::default()),
            "read, none"
        );
        let read = mirror(
            r#"[{"error_code":"INTERNAL_ERROR","error_message":"Failed to stop"},
                {"error_code":"NO_ERROR"},7,{"error_code":5,"error_message":""}]"#,
        )
        .unwrap();
        assert_eq!(
            read.count, 1,
            "NO_ERROR, non-objects and codeless items do not count"
        );
        assert_eq!(
            read.details,
            vec![TaskError {
                code: "INTERNAL_ERROR".into(),
                message: Some("Failed to stop".into())
            }]
        );
        let long = "x".repeat(MAX_TASK_ERROR_MESSAGE + 10);
        let many: Vec<String> = (0..MAX_TASK_ERRORS + 3)
            .map(|i| format!(r#"{{"error_code":"E{i}","error_message":"{long}"}}"#))
            .collect();
        let read = mirror(&format!("[{}]", many.join(","))).unwrap();
        assert_eq!(read.count, (MAX_TASK_ERRORS + 3) as u64, "all counted");
        assert_eq!(read.details.len(), MAX_TASK_ERRORS, "details bounded");
        let cut = read.details[0].message.as_deref().unwrap();
        assert_eq!(cut.chars().count(), MAX_TASK_ERROR_MESSAGE);
    }

    #[test]
    fn task_errors_keep_code_and_message_bounded() {
        let long = "x".repeat(MAX_TASK_ERROR_MESSAGE + 10);
        let many: Vec<String> = (0..MAX_TASK_ERRORS + 3)
            .map(|i| format!(r#"{{"error_code":"E{i}","error_message":"{long}"}}"#))
            .collect();
        let task: TaskData = serde_json::from_str(&format!(
            r#"{{"task_name":"AclSync","state":"IN_ERROR","errors":[
                {{"error_code":"MISCONFIGURATION_ERROR","error_message":"ACL <denied>"}},
                {{"error_code":"NO_ERROR","error_message":"fine"}},
                {{"error_code":"X","error_message":""}},{}]}}"#,
            many.join(",")
        ))
        .unwrap();
        let task = task.into_task();
        assert_eq!(task.errors, (MAX_TASK_ERRORS + 5) as u64, "all counted");
        assert_eq!(task.error_details.len(), MAX_TASK_ERRORS, "details bounded");
        assert_eq!(task.error_details[0].code, "MISCONFIGURATION_ERROR");
        assert_eq!(
            task.error_details[0].message.as_deref(),
            Some("ACL <denied>")
        );
        assert_eq!(task.error_details[1].code, "X");
        assert_eq!(task.error_details[1].message, None, "empty message: none");
        let cut = task.error_details[2].message.as_deref().unwrap();
        assert_eq!(cut.chars().count(), MAX_TASK_ERROR_MESSAGE);
        assert!(cut.ends_with('…'), "{cut}");
    }
}
