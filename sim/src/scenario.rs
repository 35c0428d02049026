//! The YAML scenario format: clusters, topics, links, traffic, consumer groups, and a timeline
//! of actions; plus the built-in default scenario (`scenarios/default.yaml`, embedded).
//!
//! [`Action`] is also the body of the control API's `POST /sim/v1/actions`, so a fault is
//! spelled the same way in a scenario file, over HTTP and from Rust tests.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::model::Flavour;

/// The built-in scenario used by `sim` and `demo` when no file is given.
pub(crate) const DEFAULT_SCENARIO: &str = include_str!("../scenarios/default.yaml");

/// Bad scenario input.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The scenario file could not be read.
    #[error("scenario file {path}: {source}")]
    Read {
        /// The path as given (`--scenario`).
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The text is not YAML of the scenario's shape: a syntax error, a wrong type, a missing
    /// required key or an unknown key (the message names it).
    #[error("scenario: {0}")]
    Parse(#[from] serde_norway::Error),
    /// The YAML parsed but a value or cross-reference is wrong.
    #[error("scenario: {key}: {problem}")]
    Invalid {
        /// Path of the offending key, e.g. `links[0].destination`.
        key: String,
        /// What is wrong with it, e.g. `no cluster named "C"`.
        problem: String,
    },
}

fn invalid(key: impl Into<String>, problem: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid {
        key: key.into(),
        problem: problem.into(),
    }
}

/// A whole simulation.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Simulated clusters.
    pub clusters: Vec<ClusterSpec>,
    /// Cluster links, each living on its destination cluster.
    #[serde(default)]
    pub links: Vec<LinkSpec>,
    /// Producers that write steadily to source topics.
    #[serde(default)]
    pub traffic: Vec<TrafficSpec>,
    /// Consumer groups that read a topic and commit offsets (what offset sync copies).
    #[serde(default)]
    pub consumers: Vec<ConsumerSpec>,
    /// Actions applied at given times after start.
    #[serde(default)]
    pub timeline: Vec<TimelineEntry>,
}

/// One simulated cluster.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// Name used in the scenario, the control API and the `sim` output; required, non-empty
    /// and unique. Example: `A`.
    pub name: String,
    /// Number of brokers of the mock Kafka cluster, ids `1..=brokers`. Default 3; must be 1
    /// to 16 (not checked for synthetic clusters, which have no brokers).
    #[serde(default = "default_brokers")]
    pub brokers: i32,
    /// Which product the REST API imitates: `platform` (default) or `cloud`.
    #[serde(default)]
    pub flavour: Flavour,
    /// Serve the REST API over TLS (`https://` REST URL) with the run's generated CA.
    /// Default `false`.
    #[serde(default)]
    pub tls: bool,
    /// With `tls`, require a client certificate signed by the run's CA (mTLS). Default
    /// `false`; needs `tls: true`.
    #[serde(default)]
    pub client_auth: bool,
    /// Authentication the REST API requires. Default: none.
    #[serde(default)]
    pub auth: Option<RestAuth>,
    /// Fixed REST port on 127.0.0.1. Default 0: any free loopback port.
    #[serde(default)]
    pub rest_port: u16,
    /// SASL credentials links must present to use this cluster as their source. The mock
    /// brokers do not authenticate, so the simulator compares them with a link's
    /// `sasl.jaas.config`; a mismatch makes the link `UNAVAILABLE` with
    /// `AUTHENTICATION_ERROR`. Default: none (any link may read).
    #[serde(default)]
    pub kafka_credentials: Option<Credentials>,
    /// Platform quirk: `GET …/links` also lists a stale `UNMANAGED_SOURCE` link record with
    /// an empty `link_name`. Default `false`; ignored on `cloud`.
    #[serde(default)]
    pub stale_unmanaged_link: bool,
    /// Topics created at start. Default: none.
    #[serde(default)]
    pub topics: Vec<TopicSpec>,
    /// Consumer group names known on this cluster. The mock has no ListGroups, so offset-sync
    /// filters are matched against these and the groups of `consumers`. Default: none.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Generate this cluster's REST state instead of backing it with Kafka records; links,
    /// traffic and consumers can't refer to such a cluster. Default: none (Kafka-backed).
    #[serde(default)]
    pub synthetic: Option<super::synthetic::SyntheticSpec>,
}

fn default_brokers() -> i32 {
    3
}

/// REST authentication required by a simulated cluster:
/// `{type: basic, username: …, password: …}` or `{type: bearer, token: …}`.
#[derive(Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RestAuth {
    /// HTTP Basic (Confluent Platform users, or a Confluent Cloud API key and secret).
    Basic {
        /// The user name (or API key) the client must send.
        username: String,
        /// The password (or API secret) the client must send. Secret: left out of `Debug`.
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token the client must send. Secret: left out of `Debug`.
        token: String,
    },
}

impl std::fmt::Debug for RestAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestAuth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            RestAuth::Bearer { .. } => f.write_str("Bearer(<redacted>)"),
        }
    }
}

/// A user name and password: a cluster's `kafka_credentials`, compared with the
/// `username="…"` and `password="…"` of a link's `sasl.jaas.config`.
#[derive(Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// The SASL user name links must present.
    pub username: String,
    /// The SASL password links must present. Secret: left out of `Debug`.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A topic created at start.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TopicSpec {
    /// Topic name; required. Example: `orders`.
    pub name: String,
    /// Partition count (replication factor is always 1). Default 3; must be at least 1.
    #[serde(default = "default_partitions")]
    pub partitions: i32,
}

fn default_partitions() -> i32 {
    3
}

/// A cluster link, created at start on its destination cluster.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// Link name (REST `link_name`); required, non-empty and unique on its destination. The
    /// same name may be used on another cluster, e.g. for a bidirectional pair.
    pub name: String,
    /// Source cluster name; required. Must exist, must not be synthetic, and must differ from
    /// `destination`.
    pub source: String,
    /// Destination cluster name (where the link and its mirrors live); required. Must exist
    /// and must not be synthetic.
    pub destination: String,
    /// Link configs as Confluent names them (`cluster.link.prefix`,
    /// `consumer.offset.sync.enable`, `consumer.offset.group.filters`, `consumer.offset.sync.ms`,
    /// `acl.sync.enable`, `acl.filters`, `auto.create.mirror.topics.enable`,
    /// `auto.create.mirror.topics.filters`, `availability.check.ms`,
    /// `availability.check.consecutive.failure.threshold`, `sasl.jaas.config`, …). Scalars of
    /// any YAML type are read as strings (`true` → `"true"`, `2000` → `"2000"`); lists and
    /// maps are rejected. Default: none. Listed by `GET …/links/{link}/configs`.
    #[serde(default, deserialize_with = "scalar_map")]
    pub configs: BTreeMap<String, String>,
    /// Source topics to mirror at start, each declared in the source's `topics` (mirror
    /// name = `cluster.link.prefix` + source name). Default: none.
    #[serde(default)]
    pub mirrors: Vec<String>,
    /// Replication delay in ms: a record is copied once its timestamp is at least this old
    /// (compared with the wall clock). Default 0.
    #[serde(default)]
    pub delay_ms: u64,
    /// Cap on records copied per second by this link, over all its mirrors. Default: none
    /// (unlimited); when given, must be above 0 and finite.
    #[serde(default)]
    pub max_records_per_second: Option<f64>,
}

/// A steady producer: records go round-robin over the topic's partitions, with key
/// `key-<seq mod 100>`, a JSON value, header `sim-seq` and the current time as timestamp.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficSpec {
    /// Name of a Kafka-backed cluster; required.
    pub cluster: String,
    /// A topic declared in that cluster's `topics`; required.
    pub topic: String,
    /// Records per second over all partitions; required, above 0 and at most 100000.
    pub records_per_second: f64,
}

/// A consumer group reading a topic and committing its position about once a second.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerSpec {
    /// Name of a Kafka-backed cluster; required.
    pub cluster: String,
    /// Consumer group id; required. Also added to the cluster's known groups, so offset-sync
    /// filters can find it.
    pub group: String,
    /// A topic declared in that cluster's `topics`, read from the beginning; required.
    pub topic: String,
}

/// One timeline step: `{at: 30s, do: brokers_down, cluster: A}`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct TimelineEntry {
    /// Time after the simulator finished starting: a number (decimals allowed) directly
    /// followed by `ms`, `s`, `m` or `h`, e.g. `500ms`, `1.5s`, `30s`, `5m`; required.
    /// Entries run in time order, ties in file order.
    pub at: String,
    /// The action, flattened into the entry (`do:` plus its fields). Its arguments are checked
    /// only when applied; a failure is logged as a warning and the timeline goes on.
    #[serde(flatten)]
    pub action: Action,
}

/// Something done to the running simulation: by the timeline, the control API or a test.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Stops brokers (all when `brokers` is absent): connections are cut, new ones refused.
    /// Fails on a synthetic cluster or an unknown broker id (then nothing changes).
    BrokersDown {
        /// The cluster whose brokers stop.
        cluster: String,
        /// Broker ids (`1..=brokers`); absent: every broker.
        #[serde(default)]
        brokers: Option<Vec<i32>>,
    },
    /// Starts brokers again (all when `brokers` is absent).
    BrokersUp {
        /// The cluster whose brokers start.
        cluster: String,
        /// Broker ids (`1..=brokers`); absent: every broker.
        #[serde(default)]
        brokers: Option<Vec<i32>>,
    },
    /// Makes the cluster's REST API misbehave, for the next `requests` requests or until
    /// cleared. A new fault replaces the current one.
    RestFault {
        /// The cluster whose REST API misbehaves; other clusters are not affected.
        cluster: String,
        /// How it misbehaves.
        fault: RestFault,
        /// Number of requests the fault applies to (`0` behaves like `1`); absent: until
        /// `clear_rest_fault`.
        #[serde(default)]
        requests: Option<u32>,
    },
    /// Removes the cluster's current REST fault.
    ClearRestFault {
        /// The cluster whose REST API behaves again.
        cluster: String,
    },
    /// Turns traffic generators (and consumer groups) on or off; all clusters when absent.
    /// Producers turned back on resume at their rate, without a burst for the time off.
    Traffic {
        /// `true` to run, `false` to stop.
        enabled: bool,
        /// The cluster whose producers and consumer groups switch; absent: every cluster.
        #[serde(default)]
        cluster: Option<String>,
    },
    /// Changes a link's replication delay and throughput cap (`max_records_per_second: 0`
    /// removes the cap). An absent field is unchanged.
    Replication {
        /// The link's destination cluster (where the link lives).
        cluster: String,
        /// The link name.
        link: String,
        /// New replication delay in ms: a record is copied once its timestamp is this old.
        #[serde(default)]
        delay_ms: Option<u64>,
        /// New cap on records copied per second by the link; `0` (or negative) removes the
        /// cap.
        #[serde(default)]
        max_records_per_second: Option<f64>,
    },
    /// Deletes a topic. The mock cluster cannot delete topics, so its Metadata starts
    /// answering `UNKNOWN_TOPIC_OR_PART` for it, which is what a link's fetcher sees. A
    /// mirror topic deleted on its destination also leaves its link's mirrors.
    DeleteTopic {
        /// The cluster the topic is on.
        cluster: String,
        /// The topic name. A deleted source topic turns its mirrors `FAILED` at the link's
        /// next availability check.
        topic: String,
    },
    /// Sets a link config (e.g. `cluster.link.paused`), as `PUT …/configs/{name}` does, and
    /// recomputes states at once.
    SetLinkConfig {
        /// The link's destination cluster (where the link lives).
        cluster: String,
        /// The link name.
        link: String,
        /// Config name as Confluent names it, e.g. `cluster.link.paused`.
        name: String,
        /// Its new value, as a string (quote `"true"` in YAML).
        value: String,
    },
    /// Pauses mirrors (`PAUSED`), as `…/mirrors:pause` does.
    PauseMirrors {
        /// The link's destination cluster (where the link lives).
        cluster: String,
        /// The link name.
        link: String,
        /// Mirror topic names on the destination (with the link prefix, e.g. `A_clicks`);
        /// the action fails and changes nothing if one is not a mirror of the link.
        mirrors: Vec<String>,
    },
    /// Resumes paused mirrors, as `…/mirrors:resume` does.
    ResumeMirrors {
        /// The link's destination cluster (where the link lives).
        cluster: String,
        /// The link name.
        link: String,
        /// Mirror topic names on the destination (with the link prefix, e.g. `A_clicks`);
        /// the action fails and changes nothing if one is not a mirror of the link.
        mirrors: Vec<String>,
    },
    /// Requests promotion, as `…/mirrors:promote` does: `PENDING_STOPPED` until the mirror
    /// has caught up with a reachable source, then `STOPPED`. Does not replace a pending
    /// failover.
    PromoteMirrors {
        /// The link's destination cluster (where the link lives).
        cluster: String,
        /// The link name.
        link: String,
        /// Mirror topic names on the destination (with the link prefix, e.g. `A_clicks`);
        /// the action fails and changes nothing if one is not a mirror of the link.
        mirrors: Vec<String>,
    },
    /// Requests failover, as `…/mirrors:failover` does: `PENDING_STOPPED`, then `STOPPED` on
    /// the next fetcher iteration whatever the lag. Replaces a pending promotion.
    FailoverMirrors {
        /// The link's destination cluster (where the link lives).
        cluster: String,
        /// The link name.
        link: String,
        /// Mirror topic names on the destination (with the link prefix, e.g. `A_clicks`);
        /// the action fails and changes nothing if one is not a mirror of the link.
        mirrors: Vec<String>,
    },
    /// Puts a link task `IN_ERROR` with this error until cleared (hidden while the task is
    /// `NOT_CONFIGURED` or the link is not `ACTIVE`).
    TaskError {
        /// The link's destination cluster (where the link lives).
        cluster: String,
        /// The link name.
        link: String,
        /// REST `task_name`: `AclSync`, `AutoCreateMirror`, `ConsumerOffsetSync` or
        /// `TopicConfigsSync` (any other name is stored but never shown).
        task: String,
        /// REST `tasks[].errors[].error_code`, e.g. `AUTHORIZATION_ERROR`.
        error_code: String,
        /// REST `tasks[].errors[].error_message`.
        error_message: String,
    },
    /// Removes an error injected by `task_error`.
    ClearTaskError {
        /// The link's destination cluster (where the link lives).
        cluster: String,
        /// The link name.
        link: String,
        /// The task name given to `task_error`.
        task: String,
    },
    /// Produces exactly `records` records to a topic (for example to the old source after a
    /// promotion or failover) and reports where they went ([`crate::Produced`]). Records go
    /// round-robin over the partitions from partition 0, or all to `partition`.
    Produce {
        /// A Kafka-backed cluster.
        cluster: String,
        /// A topic of that cluster (a scenario topic or a mirror topic).
        topic: String,
        /// How many records; at most 100000.
        records: u64,
        /// The one partition to write to; absent: round-robin over every partition.
        #[serde(default)]
        partition: Option<i32>,
    },
    /// Makes the source delete records, as retention would: produces large filler records
    /// until every record the partition held when the action started has been deleted (the
    /// mock cluster drops a partition's oldest message sets beyond 5 MiB), and reports the
    /// log-start offsets before and after ([`crate::Retention`]).
    SourceRetention {
        /// A Kafka-backed cluster (usually a link's source).
        cluster: String,
        /// A topic of that cluster.
        topic: String,
        /// The one partition to truncate; absent: every partition.
        #[serde(default)]
        partition: Option<i32>,
    },
    /// Stalls (or resumes) a link's fetcher: it copies nothing while the link and its mirrors
    /// stay `ACTIVE`, and REST lag grows as the source receives records.
    StallFetcher {
        /// The link's destination cluster (where the link lives).
        cluster: String,
        /// The link name.
        link: String,
        /// `true` stalls the fetcher, `false` resumes it.
        stalled: bool,
    },
    /// Makes the promotion or failover of a mirror fail, the one in progress or the next one:
    /// it stays `PENDING_STOPPED` with this error in `mirror_state_transition_errors` until
    /// `clear_transition_error`.
    TransitionError {
        /// The link's destination cluster (where the link lives).
        cluster: String,
        /// The link name.
        link: String,
        /// The mirror topic name (with the link prefix); not already `STOPPED`.
        mirror: String,
        /// REST `mirror_state_transition_errors[].error_code`, e.g. `INTERNAL_ERROR`.
        error_code: String,
        /// REST `mirror_state_transition_errors[].error_message`.
        error_message: String,
    },
    /// Removes an error injected by `transition_error` (also from
    /// `mirror_state_transition_errors`): a pending promotion or failover then completes.
    ClearTransitionError {
        /// The link's destination cluster (where the link lives).
        cluster: String,
        /// The link name.
        link: String,
        /// The mirror topic name given to `transition_error`.
        mirror: String,
    },
    /// Adding partitions to a topic. The librdkafka mock cluster cannot do it (no
    /// CreatePartitions, and creating an existing topic fails), so this action always fails
    /// with an error that says so; partition drift is not simulated.
    AddPartitions {
        /// The cluster the topic is on.
        cluster: String,
        /// The topic name.
        topic: String,
        /// The partition count asked for.
        partitions: i32,
    },
}

/// A REST misbehaviour.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RestFault {
    /// Answers normally after this much extra latency.
    Latency {
        /// Extra delay before the answer, in ms.
        ms: u64,
    },
    /// Never answers (holds the request for an hour, longer than any client timeout).
    Hang,
    /// 429 as Confluent Cloud's Jetty DoSFilter sends it: an HTML page, with `Retry-After`
    /// when `retry_after_seconds` is set and `rateLimit-reset` when `reset_seconds` is set.
    RateLimited {
        /// Value of the `Retry-After` header, in seconds; absent: no header.
        #[serde(default)]
        retry_after_seconds: Option<u64>,
        /// Value of the `rateLimit-reset` header, in seconds; absent: no header.
        #[serde(default)]
        reset_seconds: Option<u64>,
    },
    /// 401 `{"error_code":40101,"message":"Authentication failed"}`.
    Unauthorized,
    /// 403 `{"error_code":40301,…}`.
    Forbidden,
    /// 500 `{"error_code":500,"message":"Internal Server Error"}`.
    ServerError,
    /// The real answer's status with the first half of its body (the request is executed).
    Truncated,
    /// 200 with a body that is not JSON.
    Malformed,
    /// The TCP connection is reset without an answer.
    Reset,
    /// The real answer with every enum-like value replaced by one no Confluent version has
    /// sent yet (`link_state` `FUTURE_LINK_STATE`, `link_error` `FUTURE_LINK_ERROR`, task
    /// `state` `FUTURE_TASK_STATE`, `mirror_status` `FUTURE_MIRROR_STATUS`,
    /// `mirror_topic_error` `FUTURE_MIRROR_ERROR`): new values appear over time.
    UnknownValues,
}

fn scalar_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = BTreeMap::<String, serde_norway::Value>::deserialize(d)?;
    raw.into_iter()
        .map(|(k, v)| {
            let s = match v {
                serde_norway::Value::String(s) => s,
                serde_norway::Value::Bool(b) => b.to_string(),
                serde_norway::Value::Number(n) => n.to_string(),
                other => {
                    return Err(serde::de::Error::custom(format!(
                        "config {k}: expected a scalar, found {other:?}"
                    )))
                }
            };
            Ok((k, s))
        })
        .collect()
}

/// Parses a timeline offset: a non-negative number (decimals allowed) directly followed by
/// `ms`, `s`, `m` or `h`, such as `500ms`, `1.5s`, `30s`, `5m`; `None` for anything else
/// (`30`, `1 s`, `-1s`) and for more than a year, so adding it to a clock cannot overflow.
pub(crate) fn parse_duration(text: &str) -> Option<std::time::Duration> {
    const YEAR_SECONDS: f64 = 365.0 * 24.0 * 3600.0;
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (number, unit) = text.split_at(split);
    let per_unit = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    let number: f64 = number.parse().ok()?;
    let seconds = number * per_unit;
    (seconds.is_finite() && seconds <= YEAR_SECONDS)
        .then(|| std::time::Duration::try_from_secs_f64(seconds).ok())
        .flatten()
}

impl Scenario {
    /// The built-in default scenario.
    pub fn default_scenario() -> Self {
        Self::from_yaml(DEFAULT_SCENARIO).expect("the embedded default scenario is valid")
    }

    /// Reads, parses and validates the scenario file at `path`.
    ///
    /// # Errors
    ///
    /// [`ScenarioError::Read`] if the file can't be read, else as [`Scenario::from_yaml`].
    pub fn from_file(path: &str) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_yaml(&text)
    }

    /// Parses and validates a scenario written in YAML.
    ///
    /// # Errors
    ///
    /// [`ScenarioError::Parse`] for bad YAML, wrong types or unknown keys,
    /// [`ScenarioError::Invalid`] for bad values or cross-references, naming the key.
    pub fn from_yaml(text: &str) -> Result<Self, ScenarioError> {
        let scenario: Scenario = serde_norway::from_str(text)?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// The cluster named `name`.
    pub(crate) fn cluster(&self, name: &str) -> Option<&ClusterSpec> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// Checks cross-references and values, naming the offending key.
    pub(crate) fn validate(&self) -> Result<(), ScenarioError> {
        if self.clusters.is_empty() {
            return Err(invalid("clusters", "at least one cluster is required"));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, c) in self.clusters.iter().enumerate() {
            let key = format!("clusters[{i}]");
            if c.name.is_empty() || !names.insert(c.name.as_str()) {
                return Err(invalid(
                    format!("{key}.name"),
                    "must be non-empty and unique",
                ));
            }
            if c.synthetic.is_none() && !(1..=16).contains(&c.brokers) {
                return Err(invalid(format!("{key}.brokers"), "must be 1 to 16"));
            }
            if c.client_auth && !c.tls {
                return Err(invalid(format!("{key}.client_auth"), "needs tls: true"));
            }
            for (j, t) in c.topics.iter().enumerate() {
                if t.partitions < 1 {
                    return Err(invalid(
                        format!("{key}.topics[{j}].partitions"),
                        "must be at least 1",
                    ));
                }
            }
            if let Some(s) = &c.synthetic {
                s.validate()
                    .map_err(|p| invalid(format!("{key}.synthetic"), p))?;
            }
        }
        let kafka_cluster = |key: String, name: &str| match self.cluster(name) {
            None => Err(invalid(key, format!("no cluster named {name:?}"))),
            Some(c) if c.synthetic.is_some() => Err(invalid(
                key,
                format!("cluster {name:?} is synthetic (REST only, no Kafka)"),
            )),
            Some(c) => Ok(c),
        };
        let mut link_names = std::collections::BTreeSet::new();
        for (i, l) in self.links.iter().enumerate() {
            let key = format!("links[{i}]");
            let source = kafka_cluster(format!("{key}.source"), &l.source)?;
            kafka_cluster(format!("{key}.destination"), &l.destination)?;
            if l.source == l.destination {
                return Err(invalid(
                    format!("{key}.destination"),
                    "must differ from source",
                ));
            }
            if !link_names.insert((l.destination.as_str(), l.name.as_str())) || l.name.is_empty() {
                return Err(invalid(
                    format!("{key}.name"),
                    "must be non-empty and unique on its destination",
                ));
            }
            if l.max_records_per_second
                .is_some_and(|r| !(r > 0.0 && r.is_finite()))
            {
                return Err(invalid(
                    format!("{key}.max_records_per_second"),
                    "must be above 0 (leave it out for no cap)",
                ));
            }
            for (j, m) in l.mirrors.iter().enumerate() {
                if !source.topics.iter().any(|t| &t.name == m) {
                    return Err(invalid(
                        format!("{key}.mirrors[{j}]"),
                        format!("cluster {:?} has no topic {m:?}", l.source),
                    ));
                }
            }
        }
        for (i, t) in self.traffic.iter().enumerate() {
            let c = kafka_cluster(format!("traffic[{i}].cluster"), &t.cluster)?;
            if !c.topics.iter().any(|x| x.name == t.topic) {
                return Err(invalid(format!("traffic[{i}].topic"), "no such topic"));
            }
            if !(t.records_per_second > 0.0 && t.records_per_second <= 100_000.0) {
                return Err(invalid(
                    format!("traffic[{i}].records_per_second"),
                    "must be above 0 and at most 100000",
                ));
            }
        }
        for (i, g) in self.consumers.iter().enumerate() {
            let c = kafka_cluster(format!("consumers[{i}].cluster"), &g.cluster)?;
            if !c.topics.iter().any(|x| x.name == g.topic) {
                return Err(invalid(format!("consumers[{i}].topic"), "no such topic"));
            }
        }
        for (i, e) in self.timeline.iter().enumerate() {
            if parse_duration(&e.at).is_none() {
                return Err(invalid(
                    format!("timeline[{i}].at"),
                    "expected a duration like 500ms, 30s or 5m",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_offsets() {
        use std::time::Duration;
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
        for bad in ["30", "1 s", " 1s", "-1s", "1x", "", "s", "1.2.3s", "8761h"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
        assert_eq!(parse_duration(&format!("{}s", "9".repeat(400))), None);
    }

    #[test]
    fn default_scenario_is_what_users_run() {
        let s = Scenario::default_scenario();
        let names: Vec<_> = s.clusters.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["A", "B"]);
        assert!(s.clusters.iter().all(|c| c.brokers == 3));
        // One REST flavour each: the demo and the paging test see Cloud-only series too.
        let flavours: Vec<_> = s.clusters.iter().map(|c| c.flavour).collect();
        assert_eq!(flavours, [Flavour::Cloud, Flavour::Platform]);
        let ab = s.links.iter().find(|l| l.name == "ab-link").unwrap();
        assert_eq!((ab.source.as_str(), ab.destination.as_str()), ("A", "B"));
        assert!(ab.mirrors.contains(&"demo-perf-topic".to_string()));
        let prefixes: Vec<_> = s
            .links
            .iter()
            .filter_map(|l| l.configs.get("cluster.link.prefix"))
            .collect();
        assert!(prefixes.contains(&&"A_".to_string()) && prefixes.contains(&&"B_".to_string()));
        assert!(s.links.iter().any(|l| {
            l.configs
                .get("consumer.offset.sync.enable")
                .map(String::as_str)
                == Some("true")
                && l.configs.get("acl.sync.enable").map(String::as_str) == Some("true")
        }));
        assert!(!s.traffic.is_empty());
    }

    #[test]
    fn errors_name_the_key() {
        let err = Scenario::from_yaml(
            "clusters: [{name: A}, {name: B}]\nlinks: [{name: l, source: A, destination: C}]",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "scenario: links[0].destination: no cluster named \"C\""
        );
        let err = Scenario::from_yaml("clusters: [{name: A, brokerz: 3}]").unwrap_err();
        assert!(err.to_string().contains("unknown field `brokerz`"), "{err}");
        let err = Scenario::from_yaml(
            "clusters: [{name: A}]\ntimeline: [{at: soon, do: brokers_down, cluster: A}]",
        )
        .unwrap_err();
        assert!(err.to_string().contains("timeline[0].at"), "{err}");
    }

    #[test]
    fn actions_parse_from_yaml_and_json() {
        let s = Scenario::from_yaml(
            "clusters: [{name: A}]\ntimeline:\n- {at: 1s, do: rest_fault, cluster: A, fault: {kind: rate_limited, retry_after_seconds: 3}}\n",
        )
        .unwrap();
        assert_eq!(
            s.timeline[0].action,
            Action::RestFault {
                cluster: "A".into(),
                fault: RestFault::RateLimited {
                    retry_after_seconds: Some(3),
                    reset_seconds: None
                },
                requests: None
            }
        );
        let a: Action =
            serde_json::from_str(r#"{"do":"brokers_down","cluster":"A","brokers":[1]}"#).unwrap();
        assert_eq!(
            a,
            Action::BrokersDown {
                cluster: "A".into(),
                brokers: Some(vec![1])
            }
        );
    }

    #[test]
    fn drill_actions_parse_from_yaml_and_json() {
        let s = Scenario::from_yaml(
            "clusters: [{name: A}]\ntimeline:\n\
             - {at: 1s, do: produce, cluster: A, topic: t, records: 5}\n\
             - {at: 1s, do: source_retention, cluster: A, topic: t, partition: 0}\n\
             - {at: 1s, do: stall_fetcher, cluster: B, link: l, stalled: true}\n\
             - {at: 1s, do: transition_error, cluster: B, link: l, mirror: t, error_code: E, error_message: m}\n\
             - {at: 1s, do: clear_transition_error, cluster: B, link: l, mirror: t}\n\
             - {at: 1s, do: add_partitions, cluster: A, topic: t, partitions: 6}\n",
        )
        .unwrap();
        let json = [
            r#"{"do":"produce","cluster":"A","topic":"t","records":5}"#,
            r#"{"do":"source_retention","cluster":"A","topic":"t","partition":0}"#,
            r#"{"do":"stall_fetcher","cluster":"B","link":"l","stalled":true}"#,
            r#"{"do":"transition_error","cluster":"B","link":"l","mirror":"t","error_code":"E","error_message":"m"}"#,
            r#"{"do":"clear_transition_error","cluster":"B","link":"l","mirror":"t"}"#,
            r#"{"do":"add_partitions","cluster":"A","topic":"t","partitions":6}"#,
        ];
        for (entry, json) in s.timeline.iter().zip(json) {
            let a: Action = serde_json::from_str(json).unwrap();
            assert_eq!(entry.action, a, "{json}");
        }
        assert_eq!(
            s.timeline[0].action,
            Action::Produce {
                cluster: "A".into(),
                topic: "t".into(),
                records: 5,
                partition: None
            }
        );
        let err =
            serde_json::from_str::<Action>(r#"{"do":"stall_fetcher","cluster":"B","link":"l"}"#)
                .unwrap_err();
        assert!(err.to_string().contains("stalled"), "{err}");
    }
}
