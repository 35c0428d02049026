//! The YAML scenario format: clusters, topics, links, traffic, consumer groups, and a timeline
//! of actions; plus the built-in default scenario (`scenarios/default.yaml`, embedded).
//!
//! [`Action`] is also the body of the control API's `POST /sim/v1/actions`, so a fault is
//! spelled the same way in a scenario file, over HTTP and from Rust tests.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::model::Flavour;

/// The built-in scenario used by `sim` and `demo` when no file is given.
pub const DEFAULT_SCENARIO: &str = include_str!("../scenarios/default.yaml");

/// Bad scenario input.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("scenario file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("scenario: {0}")]
    Parse(#[from] serde_norway::Error),
    #[error("scenario: {key}: {problem}")]
    Invalid { key: String, problem: String },
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
    /// Name used in the scenario, the control API and the `sim` output.
    pub name: String,
    /// Number of brokers of the mock Kafka cluster (ids 1..=brokers).
    #[serde(default = "default_brokers")]
    pub brokers: i32,
    /// REST flavour: `platform` (default) or `cloud`.
    #[serde(default)]
    pub flavour: Flavour,
    /// Serve the REST API over TLS with the run's generated CA.
    #[serde(default)]
    pub tls: bool,
    /// With `tls`, require a client certificate signed by the run's CA (mTLS).
    #[serde(default)]
    pub client_auth: bool,
    /// Authentication the REST API requires.
    #[serde(default)]
    pub auth: Option<RestAuth>,
    /// Fixed REST port (0 or absent: any free loopback port).
    #[serde(default)]
    pub rest_port: u16,
    /// SASL credentials links must present to use this cluster as their source. The mock
    /// brokers do not authenticate, so the simulator checks a link's `sasl.jaas.config`.
    #[serde(default)]
    pub kafka_credentials: Option<Credentials>,
    /// Platform quirk: list a stale `UNMANAGED_SOURCE` link record with an empty `link_name`.
    #[serde(default)]
    pub stale_unmanaged_link: bool,
    /// Topics created at start.
    #[serde(default)]
    pub topics: Vec<TopicSpec>,
    /// Consumer group names known on this cluster (the mock has no ListGroups; offset sync
    /// filters are matched against these and the groups of `consumers`).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Generate this cluster's REST state instead of backing it with Kafka records.
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
    Basic { username: String, password: String },
    /// `Authorization: Bearer <token>`.
    Bearer { token: String },
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

/// A user name and password.
#[derive(Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub username: String,
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
    pub name: String,
    #[serde(default = "default_partitions")]
    pub partitions: i32,
}

fn default_partitions() -> i32 {
    3
}

/// A cluster link.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    pub name: String,
    /// Source cluster name.
    pub source: String,
    /// Destination cluster name (where the link and its mirrors live).
    pub destination: String,
    /// Link configs as Confluent names them (`cluster.link.prefix`,
    /// `consumer.offset.sync.enable`, `consumer.offset.group.filters`, `consumer.offset.sync.ms`,
    /// `acl.sync.enable`, `acl.filters`, `auto.create.mirror.topics.enable`,
    /// `auto.create.mirror.topics.filters`, `availability.check.ms`,
    /// `availability.check.consecutive.failure.threshold`, `sasl.jaas.config`, …). Scalars of
    /// any YAML type are read as strings.
    #[serde(default, deserialize_with = "scalar_map")]
    pub configs: BTreeMap<String, String>,
    /// Source topics to mirror (mirror name = link prefix + source name).
    #[serde(default)]
    pub mirrors: Vec<String>,
    /// Records are held until their timestamp is this old before being copied.
    #[serde(default)]
    pub delay_ms: u64,
    /// Cap on records copied per second by this link (absent: unlimited).
    #[serde(default)]
    pub max_records_per_second: Option<f64>,
}

/// A steady producer.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficSpec {
    pub cluster: String,
    pub topic: String,
    /// Records per second over all partitions.
    pub records_per_second: f64,
}

/// A consumer group reading a topic and committing its position about once a second.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerSpec {
    pub cluster: String,
    pub group: String,
    pub topic: String,
}

/// One timeline step.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct TimelineEntry {
    /// Time after start: `500ms`, `30s`, `5m`.
    pub at: String,
    #[serde(flatten)]
    pub action: Action,
}

/// Something done to the running simulation: by the timeline, the control API or a test.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Stops brokers (all when `brokers` is absent): connections are cut, new ones refused.
    BrokersDown {
        cluster: String,
        #[serde(default)]
        brokers: Option<Vec<i32>>,
    },
    /// Starts brokers again (all when `brokers` is absent).
    BrokersUp {
        cluster: String,
        #[serde(default)]
        brokers: Option<Vec<i32>>,
    },
    /// Makes the cluster's REST API misbehave, for the next `requests` requests or until
    /// cleared.
    RestFault {
        cluster: String,
        fault: RestFault,
        #[serde(default)]
        requests: Option<u32>,
    },
    ClearRestFault {
        cluster: String,
    },
    /// Turns traffic generators (and consumer groups) on or off; all clusters when absent.
    Traffic {
        enabled: bool,
        #[serde(default)]
        cluster: Option<String>,
    },
    /// Changes a link's replication delay and throughput cap (`max_records_per_second: 0`
    /// removes the cap).
    Replication {
        cluster: String,
        link: String,
        #[serde(default)]
        delay_ms: Option<u64>,
        /// `0` removes the cap.
        #[serde(default)]
        max_records_per_second: Option<f64>,
    },
    /// Deletes a topic. The mock cluster cannot delete topics, so its Metadata starts
    /// answering `UNKNOWN_TOPIC_OR_PART` for it, which is what a link's fetcher sees. A
    /// mirror topic deleted on its destination also leaves its link's mirrors.
    DeleteTopic {
        cluster: String,
        topic: String,
    },
    /// Sets a link config (e.g. `cluster.link.paused`), as `PUT …/configs/{name}` does.
    SetLinkConfig {
        cluster: String,
        link: String,
        name: String,
        value: String,
    },
    PauseMirrors {
        cluster: String,
        link: String,
        mirrors: Vec<String>,
    },
    ResumeMirrors {
        cluster: String,
        link: String,
        mirrors: Vec<String>,
    },
    PromoteMirrors {
        cluster: String,
        link: String,
        mirrors: Vec<String>,
    },
    FailoverMirrors {
        cluster: String,
        link: String,
        mirrors: Vec<String>,
    },
    /// Puts a link task `IN_ERROR` with this error until cleared.
    TaskError {
        cluster: String,
        link: String,
        task: String,
        error_code: String,
        error_message: String,
    },
    ClearTaskError {
        cluster: String,
        link: String,
        task: String,
    },
}

/// A REST misbehaviour.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RestFault {
    /// Answers normally after this much extra latency.
    Latency { ms: u64 },
    /// Never answers (holds the request for an hour, longer than any client timeout).
    Hang,
    /// 429 as Confluent Cloud's Jetty DoSFilter sends it: an HTML page, with `Retry-After`
    /// when `retry_after_seconds` is set and `rateLimit-reset` when `reset_seconds` is set.
    RateLimited {
        #[serde(default)]
        retry_after_seconds: Option<u64>,
        #[serde(default)]
        reset_seconds: Option<u64>,
    },
    /// 401 `{"error_code":40101,"message":"Authentication failed"}`.
    Unauthorized,
    /// 403 `{"error_code":40301,…}`.
    Forbidden,
    /// 500 `{"error_code":500,"message":"Internal Server Error"}`.
    ServerError,
    /// 200 with the real body cut in half.
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
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
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

    pub fn from_file(path: &str) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_yaml(&text)
    }

    pub fn from_yaml(text: &str) -> Result<Self, ScenarioError> {
        let scenario: Scenario = serde_norway::from_str(text)?;
        scenario.validate()?;
        Ok(scenario)
    }

    pub fn cluster(&self, name: &str) -> Option<&ClusterSpec> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// Checks cross-references and values, naming the offending key.
    pub fn validate(&self) -> Result<(), ScenarioError> {
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
}
