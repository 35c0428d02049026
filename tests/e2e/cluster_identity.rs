//! A cluster id that is wrong at run time is loud, against the simulator (whose REST cluster
//! ids are its librdkafka mock clusters' ids). One exporter runs three sections on B's REST
//! API: `B-wrong-id`, whose `cluster_id` B's REST API does not serve (`clusterlink_up 0`,
//! reason `cluster_not_found`, one warning naming the key and the id it serves); `B`, right,
//! whose source `A` is configured with B's own brokers; `B-crossed`, whose destination brokers
//! are A's. A connection that reaches the other cluster is `clusterlink_kafka_up 0` with
//! reason `wrong_cluster`, a warning naming the key, the expected and the found id, a line on
//! the status page, and nothing it read is exported.

use std::time::Duration;

use crate::common::eventually::{done_if, eventually};
use crate::common::exporter::get_text;
use crate::common::scrape::{parse_sample, value};
use crate::common::servers::{temp_dir, KillOnDrop};
use cluster_link_sim::Simulator;

const SCENARIO: &str = r#"
clusters:
  - name: A
    brokers: 1
    topics:
      - {name: orders, partitions: 2}
  - name: B
    brokers: 1
links:
  - name: dr-link
    source: A
    destination: B
    mirrors: [orders]
traffic:
  - {cluster: A, topic: orders, records_per_second: 20}
"#;

/// The exporter's file: `B` right but for its source's brokers (B's own), `B-crossed` with
/// A's brokers as its destination's, `B-wrong-id` with an id B's REST API does not serve.
fn config(sim: &Simulator) -> String {
    let (a, b) = (sim.cluster("A"), sim.cluster("B"));
    format!(
        "defaults: {{poll_interval: 500ms, request_timeout: 3s}}
clusters:
  - name: B
    rest_url: {rest}
    cluster_id: {b_id}
    kafka: {{bootstrap_servers: '{b_kafka}'}}
  - name: B-crossed
    rest_url: {rest}
    cluster_id: {b_id}
    kafka: {{bootstrap_servers: '{a_kafka}'}}
  - name: B-wrong-id
    rest_url: {rest}
    cluster_id: lkc-wrong
source_clusters:
  - name: A
    links: [dr-link]
    kafka: {{bootstrap_servers: '{b_kafka}'}}
",
        rest = b.rest_url,
        b_id = b.cluster_id,
        a_kafka = a.bootstrap_servers,
        b_kafka = b.bootstrap_servers,
    )
}

/// The samples of family `name` whose `kafka_cluster` is `cluster`.
fn samples_of(text: &str, name: &str, cluster: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(parse_sample)
        .filter(|s| s.name == name && s.label("kafka_cluster") == Some(cluster))
        .map(|s| format!("{s:?}"))
        .collect()
}

/// Whether the exposition shows each wrong id found, and B's destination measured.
fn all_seen(text: &str) -> bool {
    let wrong = |cluster: &str, connection: &str| {
        let up = value(
            text,
            "clusterlink_kafka_up",
            &[("kafka_cluster", cluster), ("connection", connection)],
        );
        let errors = value(
            text,
            "clusterlink_kafka_errors_total",
            &[
                ("kafka_cluster", cluster),
                ("connection", connection),
                ("reason", "wrong_cluster"),
            ],
        );
        up == Some(0.0) && errors.is_some_and(|n| n >= 1.0)
    };
    let not_found = value(
        text,
        "clusterlink_collection_errors_total",
        &[
            ("kafka_cluster", "B-wrong-id"),
            ("reason", "cluster_not_found"),
        ],
    );
    wrong("B", "A")
        && wrong("B-crossed", "B-crossed")
        && value(
            text,
            "clusterlink_kafka_up",
            &[("kafka_cluster", "B"), ("role", "destination")],
        ) == Some(1.0)
        && !samples_of(
            text,
            "clusterlink_mirror_partition_destination_high_watermark",
            "B",
        )
        .is_empty()
        && value(text, "clusterlink_up", &[("kafka_cluster", "B-wrong-id")]) == Some(0.0)
        && not_found.is_some_and(|n| n >= 1.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_cluster_id_or_a_crossed_bootstrap_is_loud_and_measures_nothing() {
    let sim = crate::common::sim::start(SCENARIO).await;
    let dir = temp_dir("cluster-identity");
    let path = dir.join("exporter.yaml");
    std::fs::write(&path, config(&sim)).unwrap();
    let (mut child, base) = KillOnDrop::exporter_with_json_logs(&path);
    let client = crate::common::sim::http();
    let text = eventually(Duration::from_secs(60), "every wrong id seen", || {
        let (client, url) = (client.clone(), format!("{base}/metrics"));
        async move {
            let text = get_text(&client, &url)
                .await
                .map(|(_, t)| t)
                .unwrap_or_default();
            done_if(all_seen(&text), text)
        }
    })
    .await;

    // Nothing read over a connection to the wrong cluster is exported: B keeps its
    // destination's watermarks but has no source-side value, B-crossed has nothing.
    for family in [
        "clusterlink_mirror_partition_source_high_watermark",
        "clusterlink_mirror_topic_measured_lag_messages",
        "clusterlink_mirror_topic_lag_seconds",
        "clusterlink_link_lag_seconds",
    ] {
        let found = samples_of(&text, family, "B");
        assert!(
            found.is_empty(),
            "{family} of B from the wrong source: {found:?}"
        );
    }
    for family in [
        "clusterlink_mirror_partition_destination_high_watermark",
        "clusterlink_mirror_partition_source_high_watermark",
        "clusterlink_mirror_topic_measured_lag_messages",
    ] {
        let found = samples_of(&text, family, "B-crossed");
        assert!(found.is_empty(), "{family} of B-crossed: {found:?}");
    }

    // The status page names the key and both ids.
    let (a_id, b_id) = (&sim.cluster("A").cluster_id, &sim.cluster("B").cluster_id);
    let status = get_text(&client, &format!("{base}/status.json"))
        .await
        .unwrap()
        .1;
    let json: serde_json::Value = serde_json::from_str(&status).unwrap();
    let cluster = |name: &str| {
        json["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no cluster {name} in {status}"))
    };
    let connection = |c: &serde_json::Value, name: &str| {
        c["kafka_connections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no connection {name} in {c}"))
    };
    let source = connection(&cluster("B"), "A");
    assert_eq!(source["health"], "down", "{source}");
    let line = source["last_error"].as_str().unwrap();
    assert!(line.starts_with("wrong_cluster: "), "{line}");
    for part in [
        "source_clusters[A].kafka.bootstrap_servers",
        a_id.as_str(),
        b_id.as_str(),
    ] {
        assert!(line.contains(part), "{part} not in {line}");
    }
    let crossed = connection(&cluster("B-crossed"), "B-crossed");
    let line = crossed["last_error"].as_str().unwrap();
    assert!(
        line.contains("clusters[B-crossed].kafka.bootstrap_servers")
            && line.contains(b_id.as_str()),
        "{line}"
    );
    let wrong_id = cluster("B-wrong-id");
    let line = wrong_id["last_error"].as_str().unwrap();
    assert!(
        line.starts_with("cluster_not_found: ")
            && line.contains("lkc-wrong")
            && line.contains(b_id.as_str()),
        "{line}"
    );

    // Several cycles later: one warning per wrong id (a minute's throttle; once per failure
    // for the REST one), each naming the key and both ids; GET /clusters asked once.
    let before = sim.requests("B").len();
    eventually(Duration::from_secs(30), "5 more cycles", || {
        let n = sim.requests("B").len();
        std::future::ready(done_if(n >= before + 30, n))
    })
    .await;
    let listed = sim
        .requests("B")
        .iter()
        .filter(|r| r.path.ends_with("/kafka/v3/clusters"))
        .count();
    assert_eq!(listed, 1, "GET /clusters once for B-wrong-id");
    let logs = child.kill_and_read_stderr();
    let warnings = |cluster: &str, needle: &str| -> Vec<&str> {
        let cluster = format!("\"kafka_cluster\":\"{cluster}\"");
        logs.lines()
            .filter(|l| l.contains("\"WARN\"") && l.contains(&cluster) && l.contains(needle))
            .collect()
    };
    let source = warnings("B", "source_clusters[A].kafka.bootstrap_servers");
    assert_eq!(source.len(), 1, "{logs}");
    assert!(
        source[0].contains("wrong_cluster")
            && source[0].contains(a_id.as_str())
            && source[0].contains(b_id.as_str()),
        "{}",
        source[0]
    );
    let crossed = "clusters[B-crossed].kafka.bootstrap_servers";
    assert_eq!(warnings("B-crossed", crossed).len(), 1, "{logs}");
    let rest = warnings("B-wrong-id", "serves no cluster with this id");
    assert_eq!(rest.len(), 1, "{logs}");
    assert!(
        rest[0].contains("\"key\":\"cluster_id\"")
            && rest[0].contains("lkc-wrong")
            && rest[0].contains(b_id.as_str()),
        "{}",
        rest[0]
    );
    std::fs::remove_dir_all(dir).ok();
}
