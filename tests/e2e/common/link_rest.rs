//! Confluent's REST API v3 for one destination cluster whose link a test plays between two real
//! Apache Kafka brokers (which have no cluster links): `GET /clusters`, the links, one link with
//! its tasks, every mirror topic and a link's configs, as Confluent Platform answers them
//! (`shared/confluent-rest` shapes), from a description the test may change while it runs.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::upstream::{Recorded, Reply, Upstream};

/// A mirror topic of the played link.
#[derive(Clone, Debug)]
pub struct Mirror {
    pub name: String,
    /// The source topic (the mirror's name without the link's prefix).
    pub source_topic: String,
    pub partitions: i32,
    /// `mirror_status`: `ACTIVE`, `PAUSED`, `STOPPED`, …
    pub status: String,
}

impl Mirror {
    /// An `ACTIVE` mirror topic of a source topic of the same name.
    pub fn active(name: &str, partitions: i32) -> Self {
        Self {
            name: name.into(),
            source_topic: name.into(),
            partitions,
            status: "ACTIVE".into(),
        }
    }
}

/// The destination cluster as REST describes it.
#[derive(Clone, Debug)]
pub struct Destination {
    pub cluster_id: String,
    pub link: String,
    pub source_cluster_id: String,
    /// The link's configs (name, value) besides Confluent's defaults.
    pub configs: Vec<(String, String)>,
    pub mirrors: Vec<Mirror>,
}

/// The REST API of a [`Destination`] on a loopback port; stops when dropped.
pub struct LinkRest {
    pub upstream: Upstream,
    pub state: Arc<Mutex<Destination>>,
}

impl LinkRest {
    pub async fn start(destination: Destination) -> Self {
        let state = Arc::new(Mutex::new(destination));
        let shared = state.clone();
        let upstream = Upstream::start(Arc::new(move |r: &Recorded| {
            answer(&shared.lock().unwrap(), r.target())
        }))
        .await;
        Self { upstream, state }
    }

    /// The `rest_url` to configure.
    pub fn rest_url(&self) -> String {
        format!("{}/kafka/v3", self.upstream.origin())
    }

    pub fn cluster_id(&self) -> String {
        self.state.lock().unwrap().cluster_id.clone()
    }
}

fn list(data: Vec<Value>) -> Reply {
    Reply::json(
        200,
        json!({"kind": "KafkaList", "metadata": {"next": null}, "data": data}).to_string(),
    )
}

fn link(d: &Destination) -> Value {
    json!({
        "kind": "KafkaLinkData",
        "link_name": d.link,
        "cluster_link_id": format!("{}-id", d.link),
        "source_cluster_id": d.source_cluster_id,
        "destination_cluster_id": d.cluster_id,
        "topic_names": d.mirrors.iter().map(|m| m.name.clone()).collect::<Vec<_>>(),
        "link_state": "ACTIVE",
        "link_error": "NO_ERROR",
        "tasks": [],
    })
}

fn mirror(d: &Destination, m: &Mirror) -> Value {
    // REST's lag fields are not what these tests check (the Kafka side measures its own).
    let lags: Vec<Value> = (0..m.partitions)
        .map(|p| json!({"partition": p, "lag": 0, "last_source_fetch_offset": 0}))
        .collect();
    json!({
        "kind": "KafkaMirrorData",
        "link_name": d.link,
        "mirror_topic_name": m.name,
        "source_topic_name": m.source_topic,
        "num_partitions": m.partitions,
        "mirror_lags": lags,
        "mirror_status": m.status,
        "state_time_ms": 1_700_000_000_000_i64,
    })
}

fn answer(d: &Destination, target: &str) -> Reply {
    let path = target.split('?').next().unwrap_or("");
    let Some(rest) = path.strip_prefix("/kafka/v3/clusters") else {
        return Reply::json(404, r#"{"error_code":404,"message":"not found"}"#);
    };
    let prefix = format!("/{}/links", d.cluster_id);
    match rest {
        "" => list(vec![json!({"cluster_id": d.cluster_id})]),
        r if r == prefix => list(vec![link(d)]),
        r if r == format!("{prefix}/-/mirrors") => {
            list(d.mirrors.iter().map(|m| mirror(d, m)).collect())
        }
        r if r == format!("{prefix}/{}", d.link) => Reply::json(200, link(d).to_string()),
        r if r == format!("{prefix}/{}/configs", d.link) => list(
            d.configs
                .iter()
                .map(|(n, v)| json!({"name": n, "value": v, "is_sensitive": false}))
                .collect(),
        ),
        _ => Reply::json(404, r#"{"error_code":404,"message":"not found"}"#),
    }
}
