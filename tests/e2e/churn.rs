//! No leak over time: links and mirror topics created and deleted under new names, with a REST
//! fault injected after each deletion, leave the exporter serving exactly the series it served
//! before the churn — every family, REST- and Kafka-side and the exporter's own.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::eventually::{done_if, eventually, eventually_every};
use crate::common::scrape::{parse_sample, scrape, start_exporter};
use crate::common::series::{difference, mentioning, series};
use crate::common::sim::{send, start, url};
use cluster_link_exporter::demo::config_for;
use cluster_link_exporter::Exporter;
use cluster_link_sim::{Action, RestFault, Simulator};
use reqwest::Method;
use serde_json::json;
use tokio::time::Instant;

/// A persistent link `base` A→B (traffic, a committing group whose offsets it syncs, the probe
/// topic so the exporter probes it); `orders` is left for churned mirrors.
const SCENARIO: &str = r#"
clusters:
  - name: A
    brokers: 1
    topics: [{name: events, partitions: 2}, {name: orders, partitions: 2}, {name: clusterlink-probe, partitions: 1}]
  - name: B
    brokers: 1
links:
  - name: base
    source: A
    destination: B
    mirrors: [events, clusterlink-probe]
    configs:
      consumer.offset.sync.enable: true
      consumer.offset.sync.ms: 500
      consumer.offset.group.filters: '{"groupFilters":[{"name":"events-app","patternType":"LITERAL","filterType":"INCLUDE"}]}'
      availability.check.ms: 500
traffic:
  - {cluster: A, topic: events, records_per_second: 20}
  - {cluster: A, topic: orders, records_per_second: 10}
consumers:
  - {cluster: A, group: events-app, topic: events}
"#;

/// Every churned object's name contains this, so a leaked series names it.
const MARKER: &str = "churn";

/// Families whose label sets may legitimately grow during the run, with values that name no
/// link or topic: REST requests by endpoint and HTTP status (a fault adds statuses such as 500
/// or 0) and Kafka requests by client and request type (clients start sending new types).
/// They are still checked for series naming a churned object.
const MAY_GROW: &[&str] = &[
    "clusterlink_rest_requests_total",
    "clusterlink_kafka_requests_total",
];

/// Bound of every wait.
const WAIT: Duration = Duration::from_secs(60);

/// One REST fault per churn step, each for a few requests: the deletion just made is seen
/// only once the fault has passed.
fn faults() -> Vec<(RestFault, u32)> {
    vec![
        (RestFault::ServerError, 3),
        (RestFault::Malformed, 2),
        (RestFault::UnknownValues, 4),
        (RestFault::Truncated, 2),
        (
            RestFault::RateLimited {
                retry_after_seconds: Some(1),
                reset_seconds: None,
            },
            2,
        ),
        (RestFault::Reset, 2),
        (RestFault::Unauthorized, 2),
        (RestFault::Hang, 1),
    ]
}

/// The series of the exporter now.
async fn now(exporter: &Exporter) -> BTreeSet<String> {
    series(&scrape(exporter).await)
}

/// Whether the exposition has a sample of `name` whose labels include all of `labels`.
fn has(text: &str, name: &str, labels: &[(&str, &str)]) -> bool {
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(parse_sample)
        .any(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(v)))
}

/// Scrapes until every `(name, labels)` has a sample; panics after [`WAIT`] naming what is
/// missing.
async fn wait_for_all(exporter: &Exporter, what: &str, wanted: &[(&str, Vec<(&str, &str)>)]) {
    let what = format!("{what}: every wanted series");
    eventually(WAIT, &what, || async {
        let text = scrape(exporter).await;
        let missing: Vec<_> = wanted
            .iter()
            .filter(|(name, labels)| !has(&text, name, labels))
            .collect();
        done_if(missing.is_empty(), format!("missing {missing:?}"))
    })
    .await;
}

/// Waits until the series set stops changing (the same in two scrapes ≥ 2 s apart, families of
/// [`MAY_GROW`] aside) and returns it.
async fn settled(exporter: &Exporter) -> BTreeSet<String> {
    let before = RefCell::new(now(exporter).await);
    let what = "the series to settle";
    tokio::time::sleep(Duration::from_secs(2)).await;
    eventually_every(Duration::from_secs(2), WAIT, what, || async {
        let after = now(exporter).await;
        let (added, removed) = difference(&before.borrow(), &after, MAY_GROW);
        if added.is_empty() && removed.is_empty() {
            Ok(after)
        } else {
            before.replace(after);
            Err(format!("added {added:#?}, removed {removed:#?}"))
        }
    })
    .await
}

/// Waits until the cluster's REST API has no fault in force (the exporter used it up).
async fn fault_used_up(sim: &Simulator, cluster: &str) {
    let what = format!("the exporter to use up the fault on {cluster}");
    eventually(WAIT, &what, || {
        let fault = sim
            .core()
            .world()
            .cluster(cluster)
            .ok()
            .and_then(|c| c.fault.clone());
        std::future::ready(match fault {
            None => Ok(()),
            Some(fault) => Err(fault),
        })
    })
    .await;
}

async fn rest(sim: &Simulator, method: Method, path: &str, body: Option<serde_json::Value>) {
    let (status, text) = send(method.clone(), &url(sim, "B", path), body).await;
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {text}"
    );
}

/// Step `k`: a new link `churn-k` with two mirrors (one with offset sync), and a new mirror
/// `churn-orders-k` on the persistent link; waits until the exporter serves their REST- and
/// Kafka-side series.
async fn create(sim: &Simulator, exporter: &Exporter, k: usize) -> (String, String) {
    let link = format!("{MARKER}-{k}");
    let prefix = format!("{MARKER}{k}.");
    let group_filters = r#"{"groupFilters":[{"name":"events-app","patternType":"LITERAL","filterType":"INCLUDE"}]}"#;
    rest(
        sim,
        Method::POST,
        &format!("/links?link_name={link}"),
        Some(json!({
            "source_cluster_id": sim.cluster("A").cluster_id,
            "configs": [
                {"name": "cluster.link.prefix", "value": prefix},
                {"name": "availability.check.ms", "value": "500"},
                {"name": "consumer.offset.sync.enable", "value": "true"},
                {"name": "consumer.offset.sync.ms", "value": "500"},
                {"name": "consumer.offset.group.filters", "value": group_filters},
            ],
        })),
    )
    .await;
    for topic in ["events", "orders"] {
        rest(
            sim,
            Method::POST,
            &format!("/links/{link}/mirrors"),
            Some(json!({ "source_topic_name": topic })),
        )
        .await;
    }
    let base_mirror = format!("{MARKER}-orders-{k}");
    rest(
        sim,
        Method::POST,
        "/links/base/mirrors",
        Some(json!({"source_topic_name": "orders", "mirror_topic_name": base_mirror})),
    )
    .await;
    let events = format!("{prefix}events");
    let l = link.as_str();
    wait_for_all(
        exporter,
        &format!("step {k}"),
        &[
            ("clusterlink_link_state", vec![("link", l)]),
            ("clusterlink_link_task_state", vec![("link", l)]),
            (
                "clusterlink_mirror_topic_info",
                vec![("mirror_topic", &events)],
            ),
            (
                "clusterlink_mirror_partition_lag_messages",
                vec![("mirror_topic", &events)],
            ),
            (
                "clusterlink_mirror_partition_destination_high_watermark",
                vec![("link", l), ("mirror_topic", &events)],
            ),
            (
                "clusterlink_mirror_topic_lag_seconds",
                vec![("link", l), ("mirror_topic", &events)],
            ),
            ("clusterlink_link_lag_seconds", vec![("link", l)]),
            (
                "clusterlink_consumer_offset_sync_lag_messages",
                vec![("link", l), ("mirror_topic", &events)],
            ),
            (
                "clusterlink_mirror_partition_source_high_watermark",
                vec![("link", "base"), ("mirror_topic", &base_mirror)],
            ),
        ],
    )
    .await;
    (link, base_mirror)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_of_deleted_links_and_mirrors_do_not_survive_churn_and_faults() {
    let started = Instant::now();
    let sim = start(SCENARIO).await;
    let exporter = start_exporter(&config_for(&sim, "500ms")).await;
    let base = [("kafka_cluster", "B"), ("link", "base")];
    wait_for_all(
        &exporter,
        "baseline",
        &[
            (
                "clusterlink_mirror_topic_measured_lag_messages",
                base.to_vec(),
            ),
            ("clusterlink_mirror_topic_lag_seconds", base.to_vec()),
            (
                "clusterlink_consumer_offset_sync_lag_messages",
                base.to_vec(),
            ),
            ("clusterlink_probe_records_received_total", base.to_vec()),
            (
                "clusterlink_mirror_partition_lag_messages",
                vec![("mirror_topic", "clusterlink-probe")],
            ),
        ],
    )
    .await;
    let baseline = settled(&exporter).await;
    eprintln!(
        "baseline: {} series after {:?}",
        baseline.len(),
        started.elapsed()
    );

    let mut peak = baseline.len();
    for (k, (fault, requests)) in faults().into_iter().enumerate() {
        fault_used_up(&sim, "B").await;
        let (link, base_mirror) = create(&sim, &exporter, k + 1).await;
        peak = peak.max(now(&exporter).await.len());
        rest(&sim, Method::DELETE, &format!("/links/{link}"), None).await;
        sim.apply(&Action::DeleteTopic {
            cluster: "B".into(),
            topic: base_mirror,
        })
        .expect("mirror topic deleted");
        sim.apply(&Action::RestFault {
            cluster: "B".into(),
            fault,
            requests: Some(requests),
        })
        .expect("fault injected");
    }
    fault_used_up(&sim, "B").await;
    eprintln!(
        "churn done after {:?}; peak {peak} series",
        started.elapsed()
    );

    assert!(
        peak > baseline.len(),
        "the churned objects never added series ({peak})"
    );
    // Back to the baseline: the same identities, nothing of a deleted object.
    eventually(
        WAIT,
        "the series of the baseline, and only those",
        || async {
            let current = now(&exporter).await;
            let (leaked, missing) = difference(&baseline, &current, MAY_GROW);
            let named = mentioning(&current, MARKER);
            let back = leaked.is_empty() && missing.is_empty() && named.is_empty();
            done_if(
                back,
                format!(
                    "leaked {leaked:#?}\nmissing {missing:#?}\nnaming churned objects {named:#?}"
                ),
            )
        },
    )
    .await;
    eprintln!("back to baseline after {:?}", started.elapsed());
    exporter.shutdown().await;
}
