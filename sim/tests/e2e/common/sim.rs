//! Helpers for tests that run the simulator: start a scenario, call its REST API, wait for a
//! mirror or link state.

use std::time::Duration;

use cluster_link_sim::{Scenario, Simulator};
use serde_json::Value;

use super::eventually::eventually;

/// Starts a simulator from scenario YAML.
pub async fn start(yaml: &str) -> Simulator {
    install_crypto_provider();
    Simulator::start(Scenario::from_yaml(yaml).expect("test scenario parses"))
        .await
        .expect("simulator starts")
}

/// Installs rustls' *ring* provider as the process default (once). reqwest is built without a
/// provider of its own (one crypto library in the build), so a test must do this before it
/// builds a `reqwest::Client`; [`start`] and [`http`] do.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A plain HTTP client with a short timeout.
pub fn http() -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// `<rest base>/clusters/<id><path>` of a simulated cluster.
pub fn url(sim: &Simulator, cluster: &str, path: &str) -> String {
    let c = sim.cluster(cluster);
    format!("{}/clusters/{}{}", c.rest_url, c.cluster_id, path)
}

/// GETs a URL and returns status and JSON body (Null when the body is not JSON).
pub async fn get(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let resp = client.get(url).send().await.expect("request succeeds");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// GETs a simulated cluster's REST path (relative to `/clusters/<id>`) and expects 200.
pub async fn get_ok(sim: &Simulator, cluster: &str, path: &str) -> Value {
    let (status, body) = get(&http(), &url(sim, cluster, path)).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// Sends a JSON request and returns status and body text.
pub async fn send(method: reqwest::Method, url: &str, body: Option<Value>) -> (u16, String) {
    let mut req = http().request(method, url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request succeeds");
    (
        resp.status().as_u16(),
        resp.text().await.unwrap_or_default(),
    )
}

/// The mirror object of `mirror` on `cluster`.
pub async fn mirror(sim: &Simulator, cluster: &str, link: &str, mirror: &str) -> Value {
    get_ok(sim, cluster, &format!("/links/{link}/mirrors/{mirror}")).await
}

/// Total lag of a mirror as the REST API reports it.
pub fn total_lag(mirror: &Value) -> i64 {
    mirror["mirror_lags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["lag"].as_i64().unwrap())
        .sum()
}

/// Waits until the mirror's `mirror_status` is `status` and returns the mirror.
pub async fn wait_mirror_status(
    sim: &Simulator,
    cluster: &str,
    link: &str,
    name: &str,
    status: &str,
) -> Value {
    eventually(
        Duration::from_secs(30),
        &format!("{cluster}/{link}/{name} to be {status}"),
        || async {
            // A mirror being created (e.g. auto-created) may not exist yet: 404 means "not yet".
            let path = format!("/links/{link}/mirrors/{name}");
            let (code, m) = get(&http(), &url(sim, cluster, &path)).await;
            assert!(code == 200 || code == 404, "GET {path}: {code} {m}");
            if code == 200 && m["mirror_status"] == status {
                Ok(m)
            } else {
                Err((code, m["mirror_status"].clone()))
            }
        },
    )
    .await
}

/// Waits until the link's `link_state` is `state` and returns the link (with tasks).
pub async fn wait_link_state(sim: &Simulator, cluster: &str, link: &str, state: &str) -> Value {
    eventually(
        Duration::from_secs(30),
        &format!("{cluster}/{link} to be {state}"),
        || async {
            let l = get_ok(sim, cluster, &format!("/links/{link}?include_tasks=true")).await;
            if l["link_state"] == state {
                Ok(l)
            } else {
                Err(format!("{} ({})", l["link_state"], l["link_error"]))
            }
        },
    )
    .await
}

/// The state of task `task` in a link object fetched with `include_tasks=true`.
pub fn task<'a>(link: &'a Value, task: &str) -> &'a Value {
    link["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task_name"] == task)
        .unwrap_or_else(|| panic!("no task {task} in {link}"))
}
