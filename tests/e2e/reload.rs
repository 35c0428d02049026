//! Live reload of the configuration file against the simulator: added clusters start, removed
//! ones stop and every series naming them disappears, changed ones restart with the new
//! settings, an unchanged cluster keeps collecting with no scrape missing its series, an
//! invalid file is rejected (the running configuration stays, the reload metric reads 0),
//! `POST /-/reload` answers as Prometheus does (403 without `--web.enable-lifecycle`), an
//! unchanged file with a probe (default `instance_id`) reloads as unchanged, and a cluster
//! whose REST request hangs does not hold a reload up; a changed
//! `status_page.runbook_base_url` moves the status page's runbook links. The binary reloads on
//! `SIGHUP`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cluster_link_exporter::Exporter;
use cluster_link_sim::{Action, RestFault, Simulator};

use crate::common::eventually::{done_if, eventually, eventually_every};
use crate::common::scrape::{exporter_yaml, scrape, start_from, value, wait_value};
use crate::common::servers::{free_port, temp_dir, KillOnDrop};
use crate::common::sim::start;

const T: Duration = Duration::from_secs(30);

/// A→B link `ab` mirroring `events`.
const SCENARIO: &str = r#"
clusters:
  - name: A
    brokers: 1
    topics: [{name: events, partitions: 2}]
  - name: B
    brokers: 1
links:
  - name: ab
    source: A
    destination: B
    mirrors: [events]
"#;

const SUCCESSFUL: &str = "clusterlink_exporter_config_last_reload_successful";
const SUCCESS_AT: &str = "clusterlink_exporter_config_last_reload_success_timestamp_seconds";
const LAST_COLLECTION: &str = "clusterlink_last_successful_collection_timestamp_seconds";

/// Exporter YAML for `clusters`: (name, simulator cluster it reads, extra lines).
fn yaml(sim: &Simulator, clusters: &[(&str, &str, &str)]) -> String {
    let mut text = exporter_yaml(sim, "200ms", &[]);
    for (name, upstream, extra) in clusters {
        let c = sim.cluster(upstream);
        text.push_str(&format!(
            "  - name: {name}\n    rest_url: {}\n    cluster_id: {}\n",
            c.rest_url, c.cluster_id
        ));
        for line in extra.lines().filter(|l| !l.trim().is_empty()) {
            text.push_str(&format!("    {}\n", line.trim_start()));
        }
    }
    text
}

fn config_path(what: &str) -> PathBuf {
    temp_dir(what).join("config.yaml")
}

/// `method /-/reload`: (status, body).
async fn call_reload(exporter: &Exporter, method: reqwest::Method) -> (u16, String) {
    let resp = reqwest::Client::new()
        .request(method, format!("http://{}/-/reload", exporter.address()))
        .send()
        .await
        .expect("reload request answered");
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn wait_up(exporter: &Exporter, cluster: &str) {
    wait_value(
        exporter,
        "clusterlink_up",
        &[("kafka_cluster", cluster)],
        T,
        |v| v == 1.0,
    )
    .await;
}

/// Lines of the exposition that name `cluster`.
fn lines_of(text: &str, cluster: &str) -> Vec<String> {
    let marker = format!("kafka_cluster=\"{cluster}\"");
    text.lines()
        .filter(|l| l.contains(&marker))
        .map(str::to_owned)
        .collect()
}

/// Scrapes until stopped; each scrape: whether `cluster` was up with its link series served.
struct Watcher {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<(bool, bool)>>,
}

impl Watcher {
    fn start(exporter: &Exporter, cluster: &'static str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let url = format!("http://{}/metrics", exporter.address());
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut seen = Vec::new();
            while !stopped.load(Ordering::Relaxed) {
                let text = client.get(&url).send().await.unwrap().text().await.unwrap();
                let up = value(&text, "clusterlink_up", &[("kafka_cluster", cluster)]);
                let link = value(
                    &text,
                    "clusterlink_link_state",
                    &[
                        ("kafka_cluster", cluster),
                        ("link", "ab"),
                        ("state", "ACTIVE"),
                    ],
                );
                seen.push((up == Some(1.0), link == Some(1.0)));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        });
        Self { stop, task }
    }

    /// Every scrape's view since the start.
    async fn finish(self) -> Vec<(bool, bool)> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap()
    }
}

/// Waits until `cluster`'s last successful collection is later than `after`.
async fn wait_collected_after(exporter: &Exporter, cluster: &str, after: f64) -> f64 {
    let labels = [("kafka_cluster", cluster)];
    wait_value(exporter, LAST_COLLECTION, &labels, T, |v| v > after).await
}

#[tokio::test(flavor = "multi_thread")]
async fn added_removed_and_unchanged_clusters_over_post_reload() {
    let sim = start(SCENARIO).await;
    let path = config_path("reload-add-remove");
    let exporter = start_from(&path, &yaml(&sim, &[("A", "A", ""), ("B", "B", "")]), true).await;
    wait_up(&exporter, "A").await;
    let active = [("kafka_cluster", "B"), ("link", "ab"), ("state", "ACTIVE")];
    wait_value(&exporter, "clusterlink_link_state", &active, T, |v| {
        v == 1.0
    })
    .await;
    let before = scrape(&exporter).await;
    let b_before = value(&before, LAST_COLLECTION, &[("kafka_cluster", "B")]).unwrap();
    let reloaded_before = value(&before, SUCCESS_AT, &[]).unwrap();
    assert!(!lines_of(&before, "A").is_empty());

    let watcher = Watcher::start(&exporter, "B");
    // A removed, B unchanged, C added (reading B's API under another name).
    std::fs::write(&path, yaml(&sim, &[("B", "B", ""), ("C", "B", "")])).unwrap();
    let (status, body) = call_reload(&exporter, reqwest::Method::POST).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("added [\"C\"], removed [\"A\"], changed [], unchanged [\"B\"]"),
        "{body}"
    );
    wait_up(&exporter, "C").await;
    wait_collected_after(&exporter, "B", b_before).await;
    let seen = watcher.finish().await;
    assert!(seen.len() >= 2, "{} scrapes during the reload", seen.len());
    let missing: Vec<_> = seen.iter().filter(|(up, link)| !(up & link)).collect();
    assert!(
        missing.is_empty(),
        "B not up with its link in {} of {} scrapes",
        missing.len(),
        seen.len()
    );

    let text = scrape(&exporter).await;
    assert_eq!(
        lines_of(&text, "A"),
        Vec::<String>::new(),
        "A's series are served"
    );
    assert_eq!(
        value(
            &text,
            "clusterlink_link_state",
            &[("kafka_cluster", "C"), ("link", "ab"), ("state", "ACTIVE")]
        ),
        Some(1.0)
    );
    assert_eq!(value(&text, SUCCESSFUL, &[]), Some(1.0));
    assert!(value(&text, SUCCESS_AT, &[]).unwrap() >= reloaded_before);
    let board = exporter.status().clusters();
    assert_eq!(board, ["B", "C"], "status board");

    // A back: its collection starts over (up from 0 to 1; its counters start from 0 too: a
    // removed cluster loses every series, see docs/metrics.md).
    std::fs::write(&path, yaml(&sim, &[("A", "A", ""), ("B", "B", "")])).unwrap();
    let plan = exporter.reload_file().await.expect("reload");
    assert_eq!(
        (plan.added, plan.removed),
        (vec!["A".to_owned()], vec!["C".to_owned()])
    );
    wait_up(&exporter, "A").await;
    let text = scrape(&exporter).await;
    assert_eq!(
        lines_of(&text, "C"),
        Vec::<String>::new(),
        "C's series are served"
    );
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_cluster_restarts_with_its_new_settings() {
    let sim = start(SCENARIO).await;
    let path = config_path("reload-change");
    let exporter = start_from(&path, &yaml(&sim, &[("A", "A", ""), ("B", "B", "")]), false).await;
    wait_value(
        &exporter,
        "clusterlink_links",
        &[("kafka_cluster", "B")],
        T,
        |v| v == 1.0,
    )
    .await;
    let a_before = value(
        &scrape(&exporter).await,
        LAST_COLLECTION,
        &[("kafka_cluster", "A")],
    )
    .unwrap();
    std::fs::write(
        &path,
        yaml(
            &sim,
            &[("A", "A", ""), ("B", "B", "links: {exclude: [ab]}")],
        ),
    )
    .unwrap();
    let plan = exporter.reload_file().await.expect("reload");
    assert_eq!(plan.changed, ["B"]);
    assert_eq!(plan.unchanged, ["A"]);
    wait_value(
        &exporter,
        "clusterlink_links",
        &[("kafka_cluster", "B")],
        T,
        |v| v == 0.0,
    )
    .await;
    let text = scrape(&exporter).await;
    assert_eq!(
        value(
            &text,
            "clusterlink_link_state",
            &[("kafka_cluster", "B"), ("link", "ab")]
        ),
        None,
        "the excluded link is still served"
    );
    wait_collected_after(&exporter, "A", a_before).await;
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_file_is_rejected_and_the_running_configuration_stays() {
    let sim = start(SCENARIO).await;
    let path = config_path("reload-invalid");
    let good = yaml(&sim, &[("B", "B", "")]);
    let exporter = start_from(&path, &good, true).await;
    wait_up(&exporter, "B").await;
    let started = scrape(&exporter).await;
    assert_eq!(value(&started, SUCCESSFUL, &[]), Some(1.0));
    let loaded_at = value(&started, SUCCESS_AT, &[]).unwrap();

    let bad = good.replace("poll_interval: 200ms", "poll_interval: soon");
    assert_ne!(bad, good);
    std::fs::write(
        &path,
        format!("{bad}  - name: X\n    rest_url: 'http://x/kafka/v3'\n"),
    )
    .unwrap();
    let (status, body) = call_reload(&exporter, reqwest::Method::POST).await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("defaults.poll_interval"),
        "the key is not named: {body}"
    );
    let err = exporter
        .reload_file()
        .await
        .expect_err("an invalid file is applied");
    assert!(err.to_string().contains("defaults.poll_interval"), "{err}");

    let text = scrape(&exporter).await;
    assert_eq!(value(&text, SUCCESSFUL, &[]), Some(0.0));
    assert_eq!(value(&text, SUCCESS_AT, &[]), Some(loaded_at));
    assert_eq!(lines_of(&text, "X"), Vec::<String>::new());
    let b_at = value(&text, LAST_COLLECTION, &[("kafka_cluster", "B")]).unwrap();
    wait_collected_after(&exporter, "B", b_at).await;

    std::fs::write(&path, &good).unwrap();
    let (status, body) = call_reload(&exporter, reqwest::Method::PUT).await;
    assert_eq!(status, 200, "{body}");
    let text = scrape(&exporter).await;
    assert_eq!(value(&text, SUCCESSFUL, &[]), Some(1.0));
    assert!(value(&text, SUCCESS_AT, &[]).unwrap() >= loaded_at);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reload_endpoint_needs_the_lifecycle_flag_and_post_or_put() {
    let sim = start(SCENARIO).await;
    let path = config_path("reload-403");
    let exporter = start_from(&path, &yaml(&sim, &[("B", "B", "")]), false).await;
    let (status, body) = call_reload(&exporter, reqwest::Method::POST).await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = call_reload(&exporter, reqwest::Method::GET).await;
    assert_eq!(status, 405);
    exporter.shutdown().await;

    let enabled = start_from(&path, &yaml(&sim, &[("B", "B", "")]), true).await;
    let (status, _) = call_reload(&enabled, reqwest::Method::GET).await;
    assert_eq!(status, 405);
    let (status, body) = call_reload(&enabled, reqwest::Method::POST).await;
    assert_eq!(
        (status, body.as_str()),
        (
            200,
            "reloaded: added [], removed [], changed [], unchanged [\"B\"]\n"
        )
    );
    enabled.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unchanged_file_with_a_probe_and_no_instance_id_reloads_as_unchanged() {
    let sim = start(SCENARIO).await;
    let path = config_path("reload-probe");
    let kafka = format!(
        "kafka: {{bootstrap_servers: '{}', request_timeout: 2s}}\nprobes: [{{link: ab, topic: events}}]",
        sim.cluster("B").bootstrap_servers
    );
    let sources = format!(
        "source_clusters:\n  - name: A\n    cluster_id: {}\n    kafka: {{bootstrap_servers: '{}', request_timeout: 2s}}\n",
        sim.cluster("A").cluster_id,
        sim.cluster("A").bootstrap_servers
    );
    let text = yaml(&sim, &[("B", "B", &kafka)]) + &sources;
    let exporter = start_from(&path, &text, true).await;
    for _ in 0..2 {
        let (status, body) = call_reload(&exporter, reqwest::Method::POST).await;
        assert_eq!(
            (status, body.as_str()),
            (
                200,
                "reloaded: added [], removed [], changed [], unchanged [\"B\"]\n"
            )
        );
    }
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_rest_request_does_not_hold_the_reload_up() {
    let sim = start(SCENARIO).await;
    let path = config_path("reload-hang");
    let hung = "request_timeout: 120s";
    let exporter = start_from(
        &path,
        &yaml(&sim, &[("A", "A", hung), ("B", "B", "")]),
        false,
    )
    .await;
    wait_up(&exporter, "A").await;
    wait_up(&exporter, "B").await;
    sim.apply(&Action::RestFault {
        cluster: "A".into(),
        fault: RestFault::Hang,
        requests: None,
    })
    .unwrap();
    // A's collector is stuck once A's API has answered nothing for a second (it polls every
    // 200 ms): the simulator records a request when it answers.
    let mut last = usize::MAX;
    eventually_every(
        Duration::from_secs(1),
        T,
        "A's requests to stop being answered",
        || {
            let answered = sim.requests("A").len();
            let stalled = answered == last;
            last = answered;
            std::future::ready(done_if(stalled, answered))
        },
    )
    .await;
    let b_at = value(
        &scrape(&exporter).await,
        LAST_COLLECTION,
        &[("kafka_cluster", "B")],
    )
    .unwrap();

    // A removed (its request hangs), C added, B unchanged.
    std::fs::write(&path, yaml(&sim, &[("B", "B", ""), ("C", "B", "")])).unwrap();
    let began = Instant::now();
    let plan = tokio::time::timeout(T, exporter.reload_file())
        .await
        .expect("the reload waits for the hung request")
        .expect("reload");
    eprintln!("reload with a hung request took {:?}", began.elapsed());
    assert_eq!(plan.removed, ["A"]);
    wait_up(&exporter, "C").await;
    wait_collected_after(&exporter, "B", b_at).await;
    let text = scrape(&exporter).await;
    assert_eq!(
        lines_of(&text, "A"),
        Vec::<String>::new(),
        "A's series are served"
    );
    exporter.shutdown().await;
}

/// `/metrics` of the exporter at `port`, when it answers.
async fn scrape_port(port: u16) -> Option<String> {
    let resp = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .ok()?;
    resp.text().await.ok()
}

/// Scrapes the exporter at `port` until `name{labels}` reads `expected`.
async fn wait_port_value(port: u16, name: &str, labels: &[(&str, &str)], expected: f64) {
    let what = format!("{name}{labels:?} = {expected}");
    eventually(T, &what, || async {
        let text = scrape_port(port).await.unwrap_or_default();
        let v = value(&text, name, labels);
        done_if(v == Some(expected), v)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_reloads_on_sighup_and_keeps_running_on_an_invalid_file() {
    let sim = start(SCENARIO).await;
    let dir = temp_dir("reload-sighup");
    let path = dir.join("config.yaml");
    std::fs::write(&path, yaml(&sim, &[("B", "B", "")])).unwrap();
    let log = dir.join("stderr.log");
    let port = free_port();
    let child = KillOnDrop(
        std::process::Command::new(env!("CARGO_BIN_EXE_cluster-link-exporter"))
            .arg("--config")
            .arg(&path)
            .args(["--web.listen-address", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let hangup = || {
        let status = std::process::Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -HUP: {status}");
    };
    wait_port_value(port, "clusterlink_up", &[("kafka_cluster", "B")], 1.0).await;

    std::fs::write(&path, yaml(&sim, &[("B", "B", ""), ("C", "B", "")])).unwrap();
    hangup();
    wait_port_value(port, "clusterlink_up", &[("kafka_cluster", "C")], 1.0).await;

    let invalid =
        yaml(&sim, &[("B", "B", "")]).replace("request_timeout: 2s", "request_timeout: 2 s");
    std::fs::write(&path, invalid).unwrap();
    hangup();
    wait_port_value(port, SUCCESSFUL, &[], 0.0).await;
    let text = scrape_port(port).await.expect("still serving");
    assert_eq!(
        value(&text, "clusterlink_up", &[("kafka_cluster", "C")]),
        Some(1.0),
        "C was dropped"
    );
    let logs = std::fs::read_to_string(&log).unwrap();
    let failed = logs
        .lines()
        .find(|l| l.contains("configuration reload failed"))
        .unwrap_or_else(|| panic!("no reload failure logged:\n{logs}"));
    assert!(failed.contains("defaults.request_timeout"), "{failed}");
    drop(child);
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_cluster_with_kafka_loses_its_kafka_side_series_for_good() {
    let sim = start(SCENARIO).await;
    let path = config_path("reload-kafka");
    let kafka = format!(
        "kafka: {{bootstrap_servers: '{}', request_timeout: 2s}}",
        sim.cluster("B").bootstrap_servers
    );
    let sources = format!(
        "source_clusters:\n  - name: A\n    cluster_id: {}\n    kafka: {{bootstrap_servers: '{}', request_timeout: 2s}}\n",
        sim.cluster("A").cluster_id,
        sim.cluster("A").bootstrap_servers
    );
    let with_kafka = yaml(&sim, &[("B", "B", &kafka), ("C", "B", "")]) + &sources;
    let exporter = start_from(&path, &with_kafka, false).await;
    let destination = [("kafka_cluster", "B"), ("role", "destination")];
    wait_value(&exporter, "clusterlink_kafka_up", &destination, T, |v| {
        v == 1.0
    })
    .await;
    let measured = [
        ("kafka_cluster", "B"),
        ("link", "ab"),
        ("mirror_topic", "events"),
    ];
    wait_value(
        &exporter,
        "clusterlink_mirror_topic_measured_lag_messages",
        &measured,
        T,
        |_| true,
    )
    .await;

    std::fs::write(&path, yaml(&sim, &[("C", "B", "")])).unwrap();
    let began = Instant::now();
    let plan = tokio::time::timeout(T, exporter.reload_file())
        .await
        .expect("the reload waits for the measurer thread to end")
        .expect("reload");
    eprintln!("reload stopping a measurer took {:?}", began.elapsed());
    assert_eq!(plan.removed, ["B"]);
    let text = scrape(&exporter).await;
    assert_eq!(
        lines_of(&text, "B"),
        Vec::<String>::new(),
        "B's series are served"
    );

    // B back without a kafka section: its old Kafka-side gauges do not come back with it.
    std::fs::write(
        &path,
        yaml(&sim, &[("B", "B", ""), ("C", "B", "")]) + &sources,
    )
    .unwrap();
    assert_eq!(exporter.reload_file().await.expect("reload").added, ["B"]);
    wait_up(&exporter, "B").await;
    let text = scrape(&exporter).await;
    let stale: Vec<String> = lines_of(&text, "B")
        .into_iter()
        .filter(|l| l.starts_with("clusterlink_kafka_up") || l.contains("measured_lag"))
        .collect();
    assert_eq!(stale, Vec::<String>::new(), "stale Kafka-side series of B");
    exporter.shutdown().await;
}

/// The status page's runbook links of `exporter`: each `runbook` of the clusters' problems in
/// `/status.json`, and the page's HTML.
async fn runbook_links(exporter: &Exporter) -> (Vec<String>, String) {
    let base = format!("http://{}", exporter.address());
    let json: serde_json::Value =
        reqwest::get(format!("{base}{}", cluster_link_exporter::JSON_PATH))
            .await
            .expect("/status.json answers")
            .json()
            .await
            .expect("JSON");
    let links = json["clusters"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["problems"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["runbook"].as_str().map(str::to_owned))
        .collect();
    let page = reqwest::get(format!("{base}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (links, page)
}

/// A reload that changes only `status_page.runbook_base_url` moves the status page's runbook
/// links (the page's and `/status.json`'s) to the new base; the cluster is unchanged. The
/// cluster's REST API does not answer, so its row shows a problem with a link.
#[tokio::test(flavor = "multi_thread")]
async fn a_reload_moves_the_status_pages_runbook_links() {
    let rest = format!("http://127.0.0.1:{}/kafka/v3", free_port());
    let config = |base: &str| {
        format!(
            "defaults: {{poll_interval: 200ms, request_timeout: 1s}}\nclusters:\n  - {{name: gone, rest_url: '{rest}', cluster_id: lkc-gone}}\nstatus_page: {{runbook_base_url: '{base}'}}\n"
        )
    };
    let (old, new) = (
        "https://wiki.one.example/cle-runbooks.html",
        "https://runbooks.two.example/cle",
    );
    let path = config_path("reload-runbooks");
    let exporter = start_from(&path, &config(old), false).await;
    let shown = |base: &'static str| {
        let exporter = &exporter;
        async move {
            let (links, page) = runbook_links(exporter).await;
            let moved = !links.is_empty()
                && links.iter().all(|l| l.starts_with(&format!("{base}#")))
                && page.contains(&format!("href=\"{base}#"));
            done_if(moved, (links, page.len()))
        }
    };
    eventually(T, "the first base on the page", || shown(old)).await;
    std::fs::write(&path, config(new)).unwrap();
    let plan = exporter.reload_file().await.expect("reload");
    assert_eq!(plan.unchanged, ["gone"], "only the status page changed");
    assert!(plan.changed.is_empty() && plan.added.is_empty() && plan.removed.is_empty());
    eventually(T, "the new base on the page", || shown(new)).await;
    let (_, page) = runbook_links(&exporter).await;
    assert!(!page.contains(old), "the old base is still linked");
    exporter.shutdown().await;
}
