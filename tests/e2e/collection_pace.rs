//! The collector's pace while a source is in trouble: with the default 30 s `poll_interval`,
//! a cluster is polled again about 10 s after a cycle once its REST state shows a mirror topic
//! `SOURCE_UNAVAILABLE`, or once its Kafka side cannot reach the source cluster while the REST
//! state still says nothing (Confluent's first failed availability check can be a minute
//! away). Without the faster pace the next cycle starts 27 to 33 s after the last one.

use std::time::Duration;

use crate::common::eventually::eventually;
use crate::common::scrape::{exporter_yaml, scrape, start_exporter, value, wait_value};
use cluster_link_exporter::Exporter;
use cluster_link_sim::{Action, Simulator};

/// Later than a trouble cycle (10 s ± 10 % after the last, plus its own duration), earlier
/// than any cycle at the 30 s `poll_interval` (27 s at the earliest with jitter).
const SOONER_THAN_POLL: f64 = 22.0;
const T: Duration = Duration::from_secs(90);

fn scenario(check_ms: u64) -> String {
    format!(
        r#"
clusters:
  - name: A
    brokers: 1
    topics:
      - {{name: orders, partitions: 1}}
  - name: B
    brokers: 1
links:
  - name: dr-link
    source: A
    destination: B
    mirrors: [orders]
    configs:
      availability.check.ms: {check_ms}
      availability.check.consecutive.failure.threshold: 2
"#
    )
}

const B: &[(&str, &str)] = &[("kafka_cluster", "B")];
const ORDERS_SOURCE_UNAVAILABLE: &[(&str, &str)] = &[
    ("kafka_cluster", "B"),
    ("mirror_topic", "orders"),
    ("state", "SOURCE_UNAVAILABLE"),
];
const SOURCE_UP: &[(&str, &str)] = &[("kafka_cluster", "B"), ("role", "source")];
const LAST_SUCCESS: &str = "clusterlink_last_successful_collection_timestamp_seconds";

/// Scrapes until `trouble` holds on the exposition and returns the end of the cycle that
/// showed it.
///
/// Read from a second scrape a second later: a collector publishes a cycle's series before
/// it sets that cycle's time (so that a changed time always means its series are out), and
/// a scrape in between shows the trouble with the time of the cycle before, 30 s earlier.
/// The cycle after the trouble's is at least 9 s away.
async fn last_cycle_once(exporter: &Exporter, what: &str, trouble: impl Fn(&str) -> bool) -> f64 {
    eventually(T, what, || async {
        let text = scrape(exporter).await;
        match value(&text, LAST_SUCCESS, B) {
            Some(_) if trouble(&text) => Ok(()),
            _ => Err(text
                .lines()
                .filter(|l| l.contains("state") || l.contains("_up"))
                .map(str::to_owned)
                .collect::<Vec<_>>()),
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    value(&scrape(exporter).await, LAST_SUCCESS, B).expect("a successful cycle")
}

/// The end of the cycle after the one that ended at `last`, in seconds after it.
async fn next_cycle_after(exporter: &Exporter, last: f64) -> f64 {
    wait_value(exporter, LAST_SUCCESS, B, T, |t| t > last).await - last
}

async fn source_down(sim: &Simulator) {
    sim.apply(&Action::BrokersDown {
        cluster: "A".into(),
        brokers: None,
    })
    .expect("source brokers down");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mirror_topic_source_unavailable_polls_sooner() {
    let sim = crate::common::sim::start(&scenario(1000)).await;
    let exporter = start_exporter(&exporter_yaml(&sim, "30s", &[("B", "")])).await;
    wait_value(&exporter, LAST_SUCCESS, B, T, |t| t > 0.0).await;
    source_down(&sim).await;
    let last = last_cycle_once(&exporter, "orders SOURCE_UNAVAILABLE", |text| {
        value(
            text,
            "clusterlink_mirror_topic_state",
            ORDERS_SOURCE_UNAVAILABLE,
        ) == Some(1.0)
    })
    .await;
    let next = next_cycle_after(&exporter, last).await;
    assert!(
        next < SOONER_THAN_POLL,
        "the cycle after one that saw SOURCE_UNAVAILABLE ended {next:.1} s later"
    );
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_kafka_side_losing_the_source_polls_sooner_before_confluent_notices() {
    // Confluent's availability checks every 10 minutes: the REST state stays ACTIVE.
    let sim = crate::common::sim::start(&scenario(600_000)).await;
    let kafka = |name: &str| {
        format!(
            "{{bootstrap_servers: '{}', request_timeout: 2s}}",
            sim.cluster(name).bootstrap_servers
        )
    };
    let mut yaml = exporter_yaml(&sim, "30s", &[("B", &format!("kafka: {}", kafka("B")))]);
    yaml.push_str(&format!(
        "source_clusters:\n  - name: A\n    cluster_id: {}\n    kafka: {}\n",
        sim.cluster("A").cluster_id,
        kafka("A")
    ));
    let exporter = start_exporter(&yaml).await;
    wait_value(&exporter, "clusterlink_kafka_up", SOURCE_UP, T, |v| {
        v == 1.0
    })
    .await;
    source_down(&sim).await;
    let last = last_cycle_once(&exporter, "the source connection down", |text| {
        value(text, "clusterlink_kafka_up", SOURCE_UP) == Some(0.0)
    })
    .await;
    let text = scrape(&exporter).await;
    assert_ne!(
        value(
            &text,
            "clusterlink_mirror_topic_state",
            ORDERS_SOURCE_UNAVAILABLE
        ),
        Some(1.0),
        "the REST state must not show the outage yet: this test is about the Kafka side"
    );
    let next = next_cycle_after(&exporter, last).await;
    assert!(
        next < SOONER_THAN_POLL,
        "the cycle after the Kafka side lost the source ended {next:.1} s later"
    );
    exporter.shutdown().await;
}
