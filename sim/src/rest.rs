//! Confluent's REST API v3 for one simulated cluster: routing, Confluent's JSON shapes
//! (envelopes, field names, error bodies) in both flavours, and the write endpoints that
//! Confluent has (create/delete link, configs, create mirror, pause/resume/promote/failover).
//!
//! Everything here is computed from the live [`World`](super::World); transport concerns
//! (TLS, auth, faults) live in [`super::server`].

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use super::model::{Flavour, Link, Mirror, MirrorStatus};
use super::{ClusterState, SimCore, SimError};

/// A JSON answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    /// `None` for an empty body (204).
    pub(crate) body: Option<Json>,
}

/// A JSON body: a tree, or text already serialized (large lists, streamed item by item).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    /// A JSON tree, serialized when sent.
    Tree(Value),
    /// Serialized JSON text.
    Text(Vec<u8>),
}

impl Json {
    /// The body's bytes.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        match self {
            Self::Tree(v) => v.to_string().into_bytes(),
            Self::Text(t) => t,
        }
    }
}

impl Reply {
    fn ok(body: Value) -> Self {
        Self {
            status: 200,
            body: Some(Json::Tree(body)),
        }
    }

    fn empty(status: u16) -> Self {
        Self { status, body: None }
    }

    /// Confluent's error body `{"error_code": …, "message": …}`.
    pub(crate) fn error(status: u16, error_code: i64, message: &str) -> Self {
        Self {
            status,
            body: Some(Json::Tree(
                json!({"error_code": error_code, "message": message}),
            )),
        }
    }
}

/// Links configs that are secrets: shown with a null value.
const SENSITIVE: [&str; 6] = [
    "sasl.jaas.config",
    "ssl.key.password",
    "ssl.keystore.password",
    "ssl.truststore.password",
    "basic.auth.user.info",
    "ssl.keystore.key",
];

/// Defaults listed by `GET …/configs` when not set on the link.
const DEFAULT_CONFIGS: [(&str, &str); 12] = [
    ("acl.sync.enable", "false"),
    ("acl.sync.ms", "5000"),
    ("auto.create.mirror.topics.enable", "false"),
    ("availability.check.consecutive.failure.threshold", "5"),
    ("availability.check.ms", "60000"),
    ("cluster.link.paused", "false"),
    ("connection.mode", "OUTBOUND"),
    ("consumer.offset.sync.enable", "false"),
    ("consumer.offset.sync.ms", "30000"),
    ("link.mode", "DESTINATION"),
    ("security.protocol", "PLAINTEXT"),
    ("topic.config.sync.ms", "5000"),
];

/// Answers one REST request for cluster `cluster`. `path` starts with `/kafka/v3`.
pub(crate) fn handle(
    core: &SimCore,
    cluster: &str,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> Reply {
    let segments: Vec<String> = path
        .trim_end_matches('/')
        .split('/')
        .skip(1)
        .map(percent_decode)
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let query = parse_query(query);
    let Some(rest) = segs.strip_prefix(&["kafka", "v3"]) else {
        return not_found();
    };
    let mut world = core.world();
    if let Ok(ClusterState {
        synthetic: Some(synthetic),
        links,
        ..
    }) = world.cluster_mut(cluster)
    {
        synthetic.advance(links);
    }
    let Ok(this) = world.cluster(cluster) else {
        return not_found();
    };
    // The cluster id in the path must be this cluster's.
    if let ["clusters", id, ..] = rest {
        if *id != this.id {
            return Reply::error(404, 404, "HTTP 404 Not Found");
        }
    }
    match (method, rest) {
        ("GET", ["clusters"]) if this.flavour == Flavour::Platform => {
            let url = format!("{}/kafka/v3/clusters", this.rest_url);
            Reply::ok(json!({
                "kind": "KafkaClusterList",
                "metadata": {"self": url, "next": null},
                "data": [cluster_json(this)],
            }))
        }
        ("GET", ["clusters", _]) => Reply::ok(cluster_json(this)),
        ("GET", ["clusters", _, "links"]) => {
            let mut data: Vec<Value> = this
                .links
                .values()
                .map(|l| link_json(this, l, false))
                .collect();
            if this.stale_unmanaged_link && this.flavour == Flavour::Platform {
                data.push(stale_link_json(this));
            }
            Reply::ok(list("KafkaLinkDataList", &links_url(this), data))
        }
        ("GET", ["clusters", _, "links", "-", "mirrors"]) => {
            let filter = match status_filter(&query) {
                Ok(f) => f,
                Err(reply) => return reply,
            };
            let data = this
                .links
                .values()
                .flat_map(|l| l.mirrors.values().map(move |m| (l, m)))
                .filter(|(_, m)| filter.is_none_or(|f| m.status.as_str() == f))
                .map(|(l, m)| MirrorOut::new(this, l, m, false));
            let url = format!("{}/-/mirrors", links_url(this));
            list_streamed("KafkaMirrorDataList", &url, data)
        }
        ("GET", ["clusters", _, "links", name]) => match this.links.get(*name) {
            Some(l) => Reply::ok(link_json(
                this,
                l,
                query.get("include_tasks").is_some_and(|v| v == "true"),
            )),
            None => no_link(),
        },
        ("GET", ["clusters", _, "links", name, "configs"]) => match this.links.get(*name) {
            Some(l) => Reply::ok(list(
                "KafkaLinkConfigDataList",
                &format!("{}/{}/configs", links_url(this), l.name),
                configs_of(l)
                    .into_iter()
                    .map(|(n, v, default)| config_json(this, l, &n, &v, default))
                    .collect(),
            )),
            None => no_link(),
        },
        ("GET", ["clusters", _, "links", name, "configs", config]) => match this.links.get(*name) {
            Some(l) => match configs_of(l).into_iter().find(|(n, _, _)| n == config) {
                Some((n, v, default)) => Reply::ok(config_json(this, l, &n, &v, default)),
                None => Reply::error(
                    404,
                    404,
                    &format!("Config {config} cannot be found for cluster link {name}"),
                ),
            },
            None => no_link(),
        },
        ("GET", ["clusters", _, "links", name, "mirrors"]) => match this.links.get(*name) {
            Some(l) => {
                let filter = match status_filter(&query) {
                    Ok(f) => f,
                    Err(reply) => return reply,
                };
                let data = l
                    .mirrors
                    .values()
                    .filter(|m| filter.is_none_or(|f| m.status.as_str() == f))
                    .map(|m| MirrorOut::new(this, l, m, false));
                let url = format!("{}/{}/mirrors", links_url(this), l.name);
                list_streamed("KafkaMirrorDataList", &url, data)
            }
            None => no_link(),
        },
        ("GET", ["clusters", _, "links", name, "mirrors", topic]) => match this.links.get(*name) {
            Some(l) => match l.mirrors.get(*topic) {
                Some(m) => Reply::ok(mirror_json(
                    this,
                    l,
                    m,
                    query
                        .get("include_state_transition_errors")
                        .is_some_and(|v| v == "true"),
                )),
                None => Reply::error(
                    404,
                    40403,
                    &format!("Topic '{topic}' is not a mirror topic"),
                ),
            },
            None => no_link(),
        },
        _ => {
            drop(world);
            write(core, cluster, method, rest, &query, body)
        }
    }
}

/// The write endpoints. They take the world lock themselves (creating topics talks to the
/// mock cluster thread).
fn write(
    core: &SimCore,
    cluster: &str,
    method: &str,
    rest: &[&str],
    query: &BTreeMap<String, String>,
    body: &[u8],
) -> Reply {
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return Reply::error(400, 400, &format!("Unexpected character: {e}")),
        }
    };
    let result = match (method, rest) {
        ("POST", ["clusters", _, "links"]) => create_link(core, cluster, query, &body),
        ("DELETE", ["clusters", _, "links", name])
            if query.get("validate_only").is_some_and(|v| v == "true") =>
        {
            let world = core.world();
            match world.cluster(cluster).and_then(|c| c.link(name)) {
                Ok(_) => Ok(Reply::empty(200)),
                Err(_) => return no_link(),
            }
        }
        ("DELETE", ["clusters", _, "links", name]) => {
            let mut world = core.world();
            match world.cluster_mut(cluster) {
                Ok(c) => match c.links.remove(*name) {
                    Some(_) => Ok(Reply::empty(200)),
                    None => return no_link(),
                },
                Err(e) => Err(e),
            }
        }
        ("PUT", ["clusters", _, "links", name, "configs", config]) => {
            let Some(value) = body["value"].as_str() else {
                return Reply::error(400, 400, "value is required");
            };
            core.apply(&super::Action::SetLinkConfig {
                cluster: cluster.to_owned(),
                link: name.to_string(),
                name: config.to_string(),
                value: value.to_owned(),
            })
            .map(|_| Reply::empty(204))
        }
        ("DELETE", ["clusters", _, "links", name, "configs", config]) => {
            let mut world = core.world();
            world
                .cluster_mut(cluster)
                .and_then(|c| c.link_mut(name))
                .map(|l| {
                    l.configs.remove(*config);
                    l.refresh_states();
                    Reply::empty(204)
                })
        }
        ("POST", ["clusters", _, "links", name, "mirrors"]) => {
            let Some(source_topic) = body["source_topic_name"].as_str() else {
                return Reply::error(400, 400, "source_topic_name is required");
            };
            if query.get("validate_only").is_some_and(|v| v == "true") {
                return Reply::empty(204);
            }
            core.create_mirror(
                cluster,
                name,
                source_topic,
                body["mirror_topic_name"].as_str(),
            )
            .map(|_| Reply::empty(204))
        }
        ("POST", ["clusters", _, "links", name, op])
            if matches!(
                *op,
                "mirrors:pause" | "mirrors:resume" | "mirrors:promote" | "mirrors:failover"
            ) =>
        {
            alter_mirrors(core, cluster, name, &op["mirrors:".len()..], query, &body)
        }
        _ => return not_found(),
    };
    result.unwrap_or_else(|e| match e {
        SimError::NoLink { .. } => no_link(),
        other => Reply::error(400, 400, &other.to_string()),
    })
}

fn create_link(
    core: &SimCore,
    cluster: &str,
    query: &BTreeMap<String, String>,
    body: &Value,
) -> Result<Reply, SimError> {
    let Some(name) = query.get("link_name").filter(|n| !n.is_empty()) else {
        return Ok(Reply::error(400, 400, "link_name is required"));
    };
    let configs: BTreeMap<String, String> = body["configs"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| {
                    Some((
                        c["name"].as_str()?.to_owned(),
                        c["value"].as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let source = {
        let world = core.world();
        let by_id = body["source_cluster_id"]
            .as_str()
            .and_then(|id| world.cluster_by_id(id));
        let by_bootstrap = configs.get("bootstrap.servers").and_then(|b| {
            world
                .clusters
                .values()
                .find(|c| !c.bootstrap_servers().is_empty() && c.bootstrap_servers() == b)
        });
        match by_id.or(by_bootstrap) {
            Some(c) if c.name != cluster => c.name.clone(),
            _ => {
                return Ok(Reply::error(
                    400,
                    400,
                    "Unable to reach the source cluster: unknown source_cluster_id or bootstrap.servers",
                ))
            }
        }
    };
    if query.get("validate_only").is_some_and(|v| v == "true") {
        return Ok(Reply::empty(204));
    }
    core.create_link(cluster, name, &source, configs)?;
    Ok(Reply::empty(204))
}

fn alter_mirrors(
    core: &SimCore,
    cluster: &str,
    link: &str,
    op: &str,
    query: &BTreeMap<String, String>,
    body: &Value,
) -> Result<Reply, SimError> {
    let mut names: Vec<String> = body["mirror_topic_names"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if let Some(pattern) = body["mirror_topic_name_pattern"].as_str() {
        let re = regex::Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| SimError::Invalid(format!("bad mirror_topic_name_pattern: {e}")))?;
        let world = core.world();
        let l = world.cluster(cluster)?.link(link)?;
        names.extend(l.mirrors.keys().filter(|m| re.is_match(m)).cloned());
    }
    let validate_only = query.get("validate_only").is_some_and(|v| v == "true");
    // Per-topic outcome, as Confluent reports it: one entry per named topic.
    let mut outcomes = Vec::new();
    for name in &names {
        let error = {
            let world = core.world();
            let l = world.cluster(cluster)?.link(link)?;
            match l.mirrors.get(name) {
                None => Some(format!("Topic '{name}' is not a mirror topic")),
                Some(m) if m.stopped || m.status == MirrorStatus::Stopped => Some(format!(
                    "Topic '{name}' has already stopped its mirror from '{link}'"
                )),
                Some(_) => None,
            }
        };
        if error.is_none() && !validate_only {
            let names = std::slice::from_ref(name);
            let (cluster, link) = (cluster.to_owned(), link.to_owned());
            let mirrors = names.to_vec();
            let action = match op {
                "pause" => super::Action::PauseMirrors {
                    cluster,
                    link,
                    mirrors,
                },
                "resume" => super::Action::ResumeMirrors {
                    cluster,
                    link,
                    mirrors,
                },
                "promote" => super::Action::PromoteMirrors {
                    cluster,
                    link,
                    mirrors,
                },
                "failover" => super::Action::FailoverMirrors {
                    cluster,
                    link,
                    mirrors,
                },
                _ => return Ok(not_found()),
            };
            core.apply(&action)?;
        }
        outcomes.push((name.clone(), error));
    }
    let world = core.world();
    let this = world.cluster(cluster)?;
    let l = this.link(link)?;
    let data = outcomes
        .into_iter()
        .map(|(name, error)| {
            let lags = l
                .mirrors
                .get(&name)
                .and_then(|m| serde_json::to_value(Lags(m)).ok())
                .unwrap_or_else(|| json!([]));
            json!({
                "kind": "AlterMirrorsData",
                "metadata": {"self": format!("{}/{}/mirrors/{}", links_url(this), link, name)},
                "mirror_topic_name": name,
                "error_code": error.as_ref().map(|_| 400),
                "error_message": error,
                "mirror_lags": lags,
                "messages_truncated": null,
                "partition_level_truncation_data": [],
            })
        })
        .collect();
    Ok(Reply::ok(list(
        "KafkaPromoteMirror",
        &format!("{}/{}/mirrors", links_url(this), link),
        data,
    )))
}

fn not_found() -> Reply {
    Reply::error(404, 404, "HTTP 404 Not Found")
}

/// Confluent's answer for an unknown link (the name really is missing from the message).
fn no_link() -> Reply {
    Reply::error(404, 404, "The cluster link doesn't exist: ")
}

/// Every `MirrorTopicStatus` Confluent accepts in `?mirror_status=`.
const MIRROR_STATUSES: [&str; 12] = [
    "ACTIVE",
    "FAILED",
    "LINK_FAILED",
    "LINK_PAUSED",
    "PAUSED",
    "PENDING_STOPPED",
    "SOURCE_UNAVAILABLE",
    "STOPPED",
    "PENDING_MIRROR",
    "PENDING_SYNCHRONIZE",
    "PENDING_SETUP_FOR_RESTORE",
    "PENDING_RESTORE",
];

/// The `?mirror_status=` filter: `Ok(None)` without one, `Ok(Some(s))` for a valid status
/// (possibly one the simulator never produces, which matches nothing), 400 otherwise.
fn status_filter(query: &BTreeMap<String, String>) -> Result<Option<&str>, Reply> {
    match query.get("mirror_status") {
        None => Ok(None),
        Some(s) => MIRROR_STATUSES
            .iter()
            .find(|k| *k == s)
            .map(|k| Some(*k))
            .ok_or_else(|| {
                Reply::error(
                    400,
                    400,
                    &format!(
                        "Cannot deserialize value of type `MirrorTopicStatus` from String \"{s}\""
                    ),
                )
            }),
    }
}

fn links_url(c: &ClusterState) -> String {
    format!("{}/kafka/v3/clusters/{}/links", c.rest_url, c.id)
}

fn resource_name(c: &ClusterState, suffix: &str) -> Value {
    match c.flavour {
        Flavour::Cloud => json!(format!("crn:///kafka={}{suffix}", c.id)),
        Flavour::Platform => Value::Null,
    }
}

fn list(kind: &str, url: &str, data: Vec<Value>) -> Value {
    json!({"kind": kind, "metadata": {"self": url, "next": null}, "data": data})
}

fn cluster_json(c: &ClusterState) -> Value {
    let base = format!("{}/kafka/v3/clusters/{}", c.rest_url, c.id);
    let rel = |s: &str| json!({"related": format!("{base}/{s}")});
    json!({
        "kind": "KafkaCluster",
        "metadata": {"self": base, "resource_name": resource_name(c, "")},
        "cluster_id": c.id,
        "controller": rel("brokers/1"),
        "acls": rel("acls"),
        "brokers": rel("brokers"),
        "broker_configs": rel("broker-configs"),
        "consumer_groups": rel("consumer-groups"),
        "topics": rel("topics"),
        "partition_reassignments": rel("topics/-/partitions/-/reassignment"),
    })
}

fn link_json(c: &ClusterState, l: &Link, include_tasks: bool) -> Value {
    let (error, message) = l.error();
    let mut v = json!({
        "kind": "KafkaLinkData",
        "metadata": {
            "self": format!("{}/{}", links_url(c), l.name),
            "resource_name": resource_name(c, &format!("/cluster-link={}", l.name)),
        },
        "source_cluster_id": l.source_cluster_id,
        "destination_cluster_id": null,
        "remote_cluster_id": l.source_cluster_id,
        "link_name": l.name,
        "link_id": l.link_id,
        "cluster_link_id": l.cluster_link_id,
        "topic_names": l.mirrors.keys().collect::<Vec<_>>(),
        "link_state": l.state.as_str(),
        "link_error": error,
        "link_error_message": message,
    });
    if include_tasks {
        v["tasks"] = l
            .tasks()
            .iter()
            .map(|t| {
                json!({
                    "task_name": t.name,
                    "state": t.state,
                    "errors": t.errors.iter().map(|e| json!({
                        "error_code": e.error_code,
                        "error_message": e.error_message,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
    }
    if c.flavour == Flavour::Cloud {
        v["category_counts"] = category_counts(l);
    }
    v
}

/// The `state_category` of a mirror partition, from its mirror topic's status (the simulator
/// has no per-partition state: every partition of a mirror topic is in the topic's category).
fn state_category(status: MirrorStatus) -> &'static str {
    match status {
        MirrorStatus::Active => "ACTIVE",
        MirrorStatus::Paused | MirrorStatus::LinkPaused => "PAUSED",
        MirrorStatus::Failed | MirrorStatus::LinkFailed | MirrorStatus::SourceUnavailable => {
            "IN_ERROR"
        }
        MirrorStatus::PendingMirror | MirrorStatus::PendingStopped => "PENDING",
        MirrorStatus::Stopped => "NOT_APPLICABLE",
    }
}

/// Every category Confluent Cloud's spec lists for `category_counts`.
const STATE_CATEGORIES: [&str; 5] = ["ACTIVE", "IN_ERROR", "NOT_APPLICABLE", "PAUSED", "PENDING"];

/// Confluent Cloud's `category_counts`: the link's mirror partitions by state category, every
/// category listed (0 when none, so all 0 on a new link), sorted by category.
fn category_counts(l: &Link) -> Value {
    let mut counts: BTreeMap<&str, usize> = STATE_CATEGORIES.iter().map(|c| (*c, 0)).collect();
    for m in l.mirrors.values() {
        *counts.entry(state_category(m.status)).or_default() += m.partitions.len();
    }
    counts
        .into_iter()
        .map(|(state_category, count)| json!({"state_category": state_category, "count": count}))
        .collect()
}

/// The stale record cp-server keeps after a source-initiated link is deleted: no name.
fn stale_link_json(c: &ClusterState) -> Value {
    json!({
        "kind": "KafkaLinkData",
        "metadata": {"self": format!("{}/", links_url(c)), "resource_name": null},
        "source_cluster_id": c.id,
        "destination_cluster_id": "unmanaged-destination",
        "remote_cluster_id": "unmanaged-destination",
        "link_name": "",
        "link_id": "00000000-0000-0000-0000-000000000000",
        "cluster_link_id": "AAAAAAAAAAAAAAAAAAAAAA",
        "topic_names": [],
        "link_state": "ACTIVE",
        "link_error": "NO_ERROR",
        "link_error_message": "",
    })
}

/// A list answer (`kind`, `metadata`, `data`) serialized item by item into one buffer,
/// without a JSON tree of the whole list: what keeps large synthetic clusters fast (1 M
/// partitions in one answer).
fn list_streamed<T: Serialize>(kind: &str, url: &str, items: impl Iterator<Item = T>) -> Reply {
    let head = json!({"self": url, "next": null});
    let mut out = format!("{{\"kind\":{},\"metadata\":{head},\"data\":[", json!(kind)).into_bytes();
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if serde_json::to_writer(&mut out, &item).is_err() {
            return Reply::error(500, 500, "Internal Server Error");
        }
    }
    out.extend_from_slice(b"]}");
    Reply {
        status: 200,
        body: Some(Json::Text(out)),
    }
}

/// `mirror_lags` in Confluent's order: not sorted by partition (newest partition first),
/// serialized straight from the model.
struct Lags<'a>(&'a Mirror);

/// One entry of `mirror_lags`.
#[derive(Serialize)]
struct LagOut {
    partition: usize,
    lag: i64,
    last_source_fetch_offset: i64,
}

impl Serialize for Lags<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            self.0
                .partitions
                .iter()
                .enumerate()
                .rev()
                .map(|(partition, progress)| LagOut {
                    partition,
                    lag: progress.lag(),
                    last_source_fetch_offset: progress.last_source_fetch_offset,
                }),
        )
    }
}

/// `metadata` of a mirror topic.
#[derive(Serialize)]
struct MirrorMeta {
    #[serde(rename = "self")]
    self_url: String,
    resource_name: Value,
}

/// `{"error_code": …, "error_message": …}` of a mirror's state transition error.
#[derive(Serialize)]
struct TransitionError<'a> {
    error_code: &'a str,
    error_message: &'a str,
}

/// A mirror topic as the REST API shows it (`KafkaMirrorData`), serialized from the model
/// without a JSON tree.
#[derive(Serialize)]
struct MirrorOut<'a> {
    kind: &'static str,
    metadata: MirrorMeta,
    link_name: &'a str,
    mirror_topic_name: &'a str,
    source_topic_name: &'a str,
    num_partitions: usize,
    mirror_lags: Lags<'a>,
    mirror_status: &'static str,
    mirror_topic_error: &'static str,
    state_time_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    mirror_state_transition_errors: Option<Vec<TransitionError<'a>>>,
}

impl<'a> MirrorOut<'a> {
    fn new(c: &ClusterState, l: &'a Link, m: &'a Mirror, transition_errors: bool) -> Self {
        let errors = m
            .transition_errors
            .iter()
            .map(|(code, message)| TransitionError {
                error_code: code,
                error_message: message,
            });
        Self {
            kind: "KafkaMirrorData",
            metadata: MirrorMeta {
                self_url: format!("{}/{}/mirrors/{}", links_url(c), l.name, m.mirror_topic),
                resource_name: resource_name(
                    c,
                    &format!("/cluster-link={}/topic={}", l.name, m.mirror_topic),
                ),
            },
            link_name: &l.name,
            mirror_topic_name: &m.mirror_topic,
            source_topic_name: &m.source_topic,
            num_partitions: m.partitions.len(),
            mirror_lags: Lags(m),
            mirror_status: m.status.as_str(),
            mirror_topic_error: m.error(),
            state_time_ms: m.state_time_ms,
            mirror_state_transition_errors: transition_errors.then(|| errors.collect()),
        }
    }
}

fn mirror_json(c: &ClusterState, l: &Link, m: &Mirror, transition_errors: bool) -> Value {
    serde_json::to_value(MirrorOut::new(c, l, m, transition_errors)).unwrap_or(Value::Null)
}

/// `(name, value, is_default)` of every config the link lists.
fn configs_of(l: &Link) -> Vec<(String, String, bool)> {
    let mut all: BTreeMap<String, (String, bool)> = DEFAULT_CONFIGS
        .iter()
        .map(|(n, v)| (n.to_string(), (v.to_string(), true)))
        .collect();
    for (n, v) in &l.configs {
        all.insert(n.clone(), (v.clone(), false));
    }
    all.into_iter().map(|(n, (v, d))| (n, v, d)).collect()
}

fn config_json(c: &ClusterState, l: &Link, name: &str, value: &str, default: bool) -> Value {
    let sensitive = SENSITIVE.contains(&name);
    let value = if sensitive { Value::Null } else { json!(value) };
    let source = if default {
        "DEFAULT_CONFIG"
    } else {
        "DYNAMIC_CLUSTER_LINK_CONFIG"
    };
    let mut v = json!({
        "kind": "KafkaLinkConfigData",
        "metadata": {
            "self": format!("{}/{}/configs/{}", links_url(c), l.name, name),
            "resource_name": resource_name(c, &format!("/cluster-link={}/config={name}", l.name)),
        },
        "cluster_id": c.id,
        "link_name": l.name,
        "name": name,
        "value": value,
        "source": source,
        "synonyms": [],
    });
    match c.flavour {
        Flavour::Cloud => {
            v["is_default"] = json!(default);
            v["is_read_only"] = json!(false);
            v["is_sensitive"] = json!(sensitive);
        }
        Flavour::Platform => {
            v["default"] = json!(default);
            v["read_only"] = json!(false);
            v["sensitive"] = json!(sensitive);
        }
    }
    v
}

fn parse_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes `%XX` escapes (and `+` in queries is left alone: Confluent's clients don't send it).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb"), "a/b");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("plain"), "plain");
    }

    #[test]
    fn streamed_lists_parse_to_the_same_json_as_trees() {
        for items in [vec![], vec![json!({"a": 1}), json!({"b": [1, "x\"y"]})]] {
            let reply = list_streamed("K", "http://h/p", items.iter());
            assert_eq!(reply.status, 200);
            let Some(Json::Text(text)) = reply.body else {
                panic!("a serialized body");
            };
            let parsed: Value = serde_json::from_slice(&text).expect("valid JSON");
            assert_eq!(parsed, list("K", "http://h/p", items));
        }
    }

    #[test]
    fn mirror_lags_are_unsorted_and_unknown_is_minus_one() {
        let mut m = Mirror::new("t", "t", 3);
        m.partitions[0].last_source_fetch_offset = 10;
        m.partitions[0].dest_hwm = 4;
        let lags = serde_json::to_value(Lags(&m)).unwrap();
        let order: Vec<i64> = lags
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["partition"].as_i64().unwrap())
            .collect();
        assert_eq!(order, [2, 1, 0]);
        assert_eq!(lags[2]["lag"], 6);
        assert_eq!(lags[0]["last_source_fetch_offset"], -1);
        assert_eq!(lags[0]["lag"], 0);
    }
}
