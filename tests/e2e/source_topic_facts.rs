//! Facts of the source topics (`source_topics`), with the real exporter. Against real Apache
//! Kafka (a link played between the two test brokers: librdkafka's mock cluster can neither
//! add partitions nor answer DescribeConfigs): partitions added to the source topic are
//! reported exactly as not mirrored until the mirror has them too, without changing the
//! measured lag (they are not measured); the source topic's `retention.ms` is exported as set,
//! absent when infinite, and a lag past half of it makes the condition of
//! `ClusterLinkLagNearSourceRetention` true (promtool tests the rule itself). Against the
//! simulator: the partition counts are read, the retention is unknown, and no error is
//! counted for it.

use std::time::Duration;

use crate::common::eventually::eventually;
use crate::common::kafka::{self as k, Listener};
use crate::common::link_rest::Mirror;
use crate::common::played_link::{self, now_ms};
use crate::common::scrape::{exporter_yaml, scrape, start_exporter, value, wait_value};

const WAIT: Duration = Duration::from_secs(60);

/// The alert's default share of the retention (`clusterlink:threshold:source_retention_fraction`).
const FRACTION: f64 = 0.5;

#[tokio::test(flavor = "multi_thread")]
async fn partition_drift_and_retention_are_read_from_the_real_source() {
    let b = k::brokers();
    let tag = "facts";
    let truth = played_link::write(&b.source, &b.destination, tag);
    let rest = played_link::rest(&b.source, &b.destination, &truth).await;
    let plain = |broker: &k::Broker| {
        format!(
            "{{bootstrap_servers: '{}', request_timeout: 5s}}",
            broker.bootstrap(Listener::Plaintext)
        )
    };
    let link = format!("{tag}-link");
    let yaml = format!(
        "defaults: {{poll_interval: 1s, request_timeout: 5s}}\n\
         clusters:\n  - name: {tag}\n    rest_url: {}\n    cluster_id: {}\n    kafka: {}\n\
         \x20   source_topics: {{refresh_interval: 2s}}\n\
         source_clusters:\n  - name: {tag}-source\n    links: [{link}]\n    kafka: {}\n",
        rest.rest_url(),
        rest.cluster_id(),
        plain(&b.destination),
        plain(&b.source),
    );
    let exporter = start_exporter(&yaml).await;
    let mirror = [
        ("kafka_cluster", tag),
        ("link", link.as_str()),
        ("mirror_topic", truth.topic.as_str()),
    ];
    let get = |text: &str, name: &str| value(text, name, &mirror);
    let partitions = "clusterlink_mirror_topic_source_partitions";
    let unmirrored = "clusterlink_mirror_topic_unmirrored_partitions";
    let retention = "clusterlink_mirror_topic_source_retention_seconds";
    let lag = "clusterlink_mirror_topic_measured_lag_messages";
    let want_lag = truth.lag_messages() as f64;

    // As many partitions on both sides: no drift.
    wait_value(&exporter, unmirrored, &mirror, WAIT, |v| v == 0.0).await;
    assert_eq!(get(&scrape(&exporter).await, partitions), Some(3.0));

    // Two partitions added at the source, with records; REST still says 3: 2 not mirrored,
    // and the lag is that of the 3 measured partitions.
    k::create_partitions(&b.source, &truth.topic, 5);
    k::produce(&b.source, &truth.topic, 3, &[now_ms(), now_ms()]);
    let drift = wait_value(&exporter, unmirrored, &mirror, WAIT, |v| v != 0.0).await;
    assert_eq!(drift, 2.0);
    let text = scrape(&exporter).await;
    assert_eq!(get(&text, partitions), Some(5.0));
    assert_eq!(
        get(&text, lag),
        Some(want_lag),
        "the unmirrored partitions are not measured"
    );
    assert_eq!(
        value(
            &text,
            "clusterlink_mirror_partition_destination_high_watermark",
            &[mirror[0], mirror[1], mirror[2], ("partition", "3")]
        ),
        None
    );

    // The link's config sync adds them to the mirror (the test plays it): no drift left,
    // read at once (a mirror's partition count changed).
    k::create_partitions(&b.destination, &truth.topic, 5);
    {
        let mut d = rest.state.lock().unwrap();
        let m = d
            .mirrors
            .iter_mut()
            .find(|m| m.name == truth.topic)
            .unwrap();
        *m = Mirror::active(&truth.topic, 5);
    }
    wait_value(&exporter, unmirrored, &mirror, WAIT, |v| v == 0.0).await;

    // retention.ms as set at the source, in seconds; absent when infinite.
    k::set_topic_configs(&b.source, &truth.topic, &[("retention.ms", "86400000")]);
    wait_value(&exporter, retention, &mirror, WAIT, |v| v == 86_400.0).await;
    let text = scrape(&exporter).await;
    let lag_seconds = get(&text, "clusterlink_mirror_topic_lag_seconds").expect("lag in seconds");
    eprintln!("lag in seconds {lag_seconds}, retention 86400 s");
    assert!(
        lag_seconds <= FRACTION * 86_400.0,
        "a day's retention: the warning's condition is false ({lag_seconds} s)"
    );
    k::set_topic_configs(&b.source, &truth.topic, &[("retention.ms", "-1")]);
    eventually(WAIT, "the infinite retention withdrawn", || async {
        let text = scrape(&exporter).await;
        match get(&text, retention) {
            None if get(&text, partitions).is_some() => Ok(()),
            other => Err(other),
        }
    })
    .await;
    // The oldest record not mirrored is about 10 minutes old: a retention of 1000 s puts the
    // lag past half of it (the records, younger than the retention, stay).
    k::set_topic_configs(&b.source, &truth.topic, &[("retention.ms", "1000000")]);
    wait_value(&exporter, retention, &mirror, WAIT, |v| v == 1000.0).await;
    let text = scrape(&exporter).await;
    let lag_seconds = get(&text, "clusterlink_mirror_topic_lag_seconds").expect("lag in seconds");
    assert!(
        lag_seconds > FRACTION * 1000.0,
        "past half the retention: the warning's condition is true ({lag_seconds} s)"
    );
    // The status page says so too.
    let status: serde_json::Value = reqwest::get(format!(
        "http://{}{}",
        exporter.address(),
        cluster_link_exporter::JSON_PATH
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let row = status["clusters"][0]["links"][0]["mirrors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == truth.topic.as_str())
        .cloned()
        .unwrap();
    assert_eq!(
        (&row["source_partitions"], &row["unmirrored_partitions"]),
        (&serde_json::json!(5), &serde_json::json!(0))
    );
    assert_eq!(row["source_retention_seconds"], 1000.0);
    // The facts cost the admin client's requests only.
    for request in ["Metadata", "DescribeConfigs"] {
        let sent = value(
            &text,
            "clusterlink_kafka_requests_total",
            &[
                ("kafka_cluster", tag),
                ("connection", &format!("{tag}-source")),
                ("client", "source_topics"),
                ("request", request),
            ],
        );
        eprintln!("source_topics client: {request} {sent:?}");
        assert!(sent.is_some_and(|n| n >= 1.0), "{request}: {sent:?}");
    }
    exporter.shutdown().await;
}

/// The simulator's sources (librdkafka's mock cluster) answer Metadata but never
/// DescribeConfigs (it times out): partition counts are exported, the retention is not, and the
/// failed reads back off (refresh interval × 2^n), so a few timeouts are counted, not one per
/// refresh.
#[tokio::test(flavor = "multi_thread")]
async fn against_the_mock_the_retention_is_unknown_without_errors() {
    let sim = crate::common::sim::start(
        "clusters:\n  - name: A\n    brokers: 1\n    topics: [{name: orders, partitions: 2}]\n  - name: B\n    brokers: 1\nlinks:\n  - {name: dr-link, source: A, destination: B, mirrors: [orders]}\n",
    )
    .await;
    let kafka = format!(
        "kafka: {{bootstrap_servers: '{}', request_timeout: 2s}}\nsource_topics: {{refresh_interval: 1s}}",
        sim.cluster("B").bootstrap_servers
    );
    let mut yaml = exporter_yaml(&sim, "500ms", &[("B", &kafka)]);
    yaml.push_str(&format!(
        "source_clusters:\n  - name: A\n    cluster_id: {}\n    kafka: {{bootstrap_servers: '{}', request_timeout: 2s}}\n",
        sim.cluster("A").cluster_id,
        sim.cluster("A").bootstrap_servers
    ));
    let started = std::time::Instant::now();
    let exporter = start_exporter(&yaml).await;
    let mirror = [
        ("kafka_cluster", "B"),
        ("link", "dr-link"),
        ("mirror_topic", "orders"),
    ];
    wait_value(
        &exporter,
        "clusterlink_mirror_topic_source_partitions",
        &mirror,
        WAIT,
        |v| v == 2.0,
    )
    .await;
    // Ten cycles later (a refresh is due every second).
    let cycles = "clusterlink_kafka_measurements_total";
    let b = [("kafka_cluster", "B")];
    let now = value(&scrape(&exporter).await, cycles, &b).unwrap_or(0.0);
    wait_value(&exporter, cycles, &b, WAIT, |v| v >= now + 10.0).await;
    let text = scrape(&exporter).await;
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(
        value(
            &text,
            "clusterlink_mirror_topic_unmirrored_partitions",
            &mirror
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            &text,
            "clusterlink_mirror_topic_source_retention_seconds",
            &mirror
        ),
        None
    );
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("clusterlink_kafka_errors_total{") && !l.ends_with(" 0"))
        .filter(|l| !l.contains("reason=\"timeout\""))
        .collect();
    let timeouts = value(
        &text,
        "clusterlink_kafka_errors_total",
        &[("connection", "A"), ("reason", "timeout")],
    )
    .unwrap_or(0.0);
    // Tries at 0, ≥ 2 s, ≥ 4 s after that, …: at most 1 + log2(elapsed + 1).
    let most = 1.0 + (elapsed + 1.0).log2().ceil();
    eprintln!("{timeouts} DescribeConfigs timeouts counted in {elapsed:.1} s (at most {most})");
    assert!(
        (1.0..=most).contains(&timeouts),
        "{timeouts} timeouts in {elapsed:.1} s"
    );
    let status = reqwest::get(format!(
        "http://{}{}",
        exporter.address(),
        cluster_link_exporter::JSON_PATH
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(errors.is_empty(), "errors counted: {errors:#?}\n{status}");
    exporter.shutdown().await;
}
