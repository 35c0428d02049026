//! Fail-over readiness, driven through the simulator with the real exporter and its Kafka
//! side on (the demo's configuration, an RPO of 3 s): a healthy link is `ready`; a replication
//! delay beyond the RPO makes it `not_ready` because of `lag_above_rpo`; with the source's
//! brokers down it is never `ready`, the source is `source_unreadable`, and the expected loss
//! in seconds is the last lag measured plus the time since — a bound that grows while the
//! last-measured timestamp stays. `/status.json` says the same as `/metrics`.
//!
//! A link failed over in part (one mirror topic `STOPPED`, the other still mirroring) is
//! `not_ready` (`mirror_topics_stopped`), with `old_source_writes` once records arrive at the
//! stopped one's old source, and never "Ready to fail over" on the status page; the stopped
//! mirror topic's lag series are gone (REST and Kafka side) while what was written to its old
//! source stays.

use std::time::Duration;

use cluster_link_exporter::demo::config_for;
use cluster_link_sim::{Action, Simulator};

use crate::common::eventually::{done_if, eventually};
use crate::common::exporter::get_text;
use crate::common::scrape::{scrape, start_exporter, value, wait_value};
use crate::common::sim::{http, start, wait_mirror_status};

/// Link `ab` A→B mirrors `events` (with traffic and a consumer group whose offsets it syncs);
/// fast availability checks.
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
    configs:
      consumer.offset.sync.enable: true
      consumer.offset.sync.ms: 500
      consumer.offset.group.filters: '{"groupFilters":[{"name":"events-app","patternType":"LITERAL","filterType":"INCLUDE"}]}'
      availability.check.ms: 200
      availability.check.consecutive.failure.threshold: 3
traffic:
  - {cluster: A, topic: events, records_per_second: 20}
consumers:
  - {cluster: A, group: events-app, topic: events}
"#;

const T: Duration = Duration::from_secs(60);

fn link<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut labels = vec![("kafka_cluster", "B"), ("link", "ab")];
    labels.extend_from_slice(extra);
    labels
}

/// The `readiness` object of link `ab` in `/status.json`.
async fn status_readiness(base: &str) -> serde_json::Value {
    let (code, body) = get_text(&http(), &format!("{base}/status.json"))
        .await
        .expect("GET /status.json");
    assert_eq!(code, 200);
    let json: serde_json::Value = serde_json::from_str(&body).expect("status.json parses");
    json["clusters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["name"] == "B")
        .flat_map(|c| c["links"].as_array().cloned().unwrap_or_default())
        .find(|l| l["name"] == "ab")
        .map(|l| l["readiness"].clone())
        .unwrap_or_default()
}

fn replication(delay_ms: u64) -> Action {
    Action::Replication {
        cluster: "B".into(),
        link: "ab".into(),
        delay_ms: Some(delay_ms),
        max_records_per_second: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drill_reads_ready_then_not_ready_then_unknown_with_a_growing_bound() {
    let sim: Simulator = start(SCENARIO).await;
    let yaml = config_for(&sim, "300ms").replacen(
        "defaults:\n",
        "defaults:\n  failover_readiness: {rpo: 3s}\n",
        1,
    );
    let exporter = start_exporter(&yaml).await;
    let base = format!("http://{}", exporter.address());

    // Healthy: ready, the RPO exported, the expected loss small and measured.
    let ready = link(&[("verdict", "ready")]);
    wait_value(
        &exporter,
        "clusterlink_link_failover_readiness",
        &ready,
        T,
        |v| v == 1.0,
    )
    .await;
    let text = scrape(&exporter).await;
    assert_eq!(
        value(&text, "clusterlink_link_rpo_seconds", &link(&[])),
        Some(3.0)
    );
    let loss = value(
        &text,
        "clusterlink_link_failover_expected_loss_seconds",
        &link(&[]),
    );
    assert!(loss.is_some_and(|s| (0.0..3.0).contains(&s)), "{loss:?}");
    let r = status_readiness(&base).await;
    assert_eq!(r["text"], "Ready to fail over", "{r}");

    // Replication 8 s behind: not ready, because the lag is above the RPO.
    sim.apply(&replication(8_000)).expect("replication delayed");
    let above = link(&[("reason", "lag_above_rpo")]);
    wait_value(
        &exporter,
        "clusterlink_link_failover_blocked",
        &above,
        T,
        |v| v == 1.0,
    )
    .await;
    let text = scrape(&exporter).await;
    assert_eq!(
        value(
            &text,
            "clusterlink_link_failover_readiness",
            &link(&[("verdict", "not_ready")])
        ),
        Some(1.0)
    );
    let r = status_readiness(&base).await;
    assert_eq!(r["verdict"], "not_ready", "{r}");
    assert!(r["blockers"]
        .as_array()
        .is_some_and(|b| b.iter().any(|b| b == "lag_above_rpo")));
    assert_eq!(r["lag_against_rpo"], "bad", "{r}");

    // Caught up again, then the source's brokers stop.
    sim.apply(&replication(0)).expect("replication back");
    wait_value(
        &exporter,
        "clusterlink_link_failover_readiness",
        &ready,
        T,
        |v| v == 1.0,
    )
    .await;
    sim.apply(&Action::BrokersDown {
        cluster: "A".into(),
        brokers: None,
    })
    .expect("source brokers down");
    let unreadable = link(&[("reason", "source_unreadable")]);
    wait_value(
        &exporter,
        "clusterlink_link_failover_blocked",
        &unreadable,
        T,
        |v| v == 1.0,
    )
    .await;
    // Never ready now; the last lag measured is kept, and the bound grows with time.
    let first = scrape(&exporter).await;
    assert_eq!(
        value(&first, "clusterlink_link_failover_readiness", &ready),
        Some(0.0)
    );
    let measured_at = value(
        &first,
        "clusterlink_link_lag_seconds_measured_timestamp_seconds",
        &link(&[]),
    )
    .expect("the last measurement is kept");
    let bound = value(
        &first,
        "clusterlink_link_failover_expected_loss_seconds",
        &link(&[]),
    )
    .expect("an upper bound, not a blank");
    let later = eventually(T, "the upper bound to grow", || async {
        let text = scrape(&exporter).await;
        let now = value(
            &text,
            "clusterlink_link_failover_expected_loss_seconds",
            &link(&[]),
        );
        match now {
            Some(s) if s >= bound + 1.0 => Ok(text),
            other => Err(other),
        }
    })
    .await;
    assert_eq!(
        value(
            &later,
            "clusterlink_link_lag_seconds_measured_timestamp_seconds",
            &link(&[])
        ),
        Some(measured_at),
        "the bound grows from the last measurement, which stays"
    );
    let r = status_readiness(&base).await;
    assert_ne!(r["verdict"], "ready", "{r}");
    assert_eq!(r["expected_loss_seconds_upper_bound"], true, "{r}");
    assert!(
        r["text"]
            .as_str()
            .is_some_and(|t| t.contains("source cluster cannot be read")),
        "{r}"
    );
    exporter.shutdown().await;
    drop(sim);
}

/// Link `ab` A→B mirrors `events` (with traffic) and `orders` (written to only by the test).
const TWO_TOPICS: &str = r#"
clusters:
  - name: A
    brokers: 1
    topics: [{name: events, partitions: 2}, {name: orders, partitions: 2}]
  - name: B
    brokers: 1
links:
  - name: ab
    source: A
    destination: B
    mirrors: [events, orders]
traffic:
  - {cluster: A, topic: events, records_per_second: 20}
"#;

/// The lag families of a mirror topic that still mirrors, REST and Kafka side.
const LAG_FAMILIES: [&str; 5] = [
    "clusterlink_mirror_topic_lag_messages",
    "clusterlink_mirror_topic_max_partition_lag_messages",
    "clusterlink_mirror_topic_unknown_lag_partitions",
    "clusterlink_mirror_topic_measured_lag_messages",
    "clusterlink_mirror_topic_lag_seconds",
];

fn mirror_topic(topic: &str) -> Vec<(&str, &str)> {
    link(&[("mirror_topic", topic)])
}

/// `records` records produced to `orders` on A.
fn produce(records: u64) -> Action {
    Action::Produce {
        cluster: "A".into(),
        topic: "orders".into(),
        records,
        partition: None,
    }
}

/// Fails `mirrors` of link `ab` over and waits until they are `STOPPED`.
async fn fail_over(sim: &Simulator, mirrors: &[&str]) {
    sim.apply(&Action::FailoverMirrors {
        cluster: "B".into(),
        link: "ab".into(),
        mirrors: mirrors.iter().map(|m| (*m).to_owned()).collect(),
    })
    .expect("failover applies");
    for m in mirrors {
        wait_mirror_status(sim, "B", "ab", m, "STOPPED").await;
    }
}

/// Waits until every lag family of `topic` is gone from `/metrics`; the scrape.
async fn wait_no_lag(exporter: &cluster_link_exporter::Exporter, topic: &str) -> String {
    let labels = mirror_topic(topic);
    eventually(T, &format!("no lag series for {topic}"), || async {
        let text = scrape(exporter).await;
        let left: Vec<_> = LAG_FAMILIES
            .iter()
            .filter(|f| value(&text, f, &labels).is_some())
            .collect();
        done_if(left.is_empty(), left).map(|_| text)
    })
    .await
}

/// The status page (HTML).
async fn status_page(base: &str) -> String {
    let (code, body) = get_text(&http(), &format!("{base}/")).await.expect("GET /");
    assert_eq!(code, 200);
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn a_link_failed_over_in_part_is_never_ready_and_its_stopped_mirror_has_no_lag() {
    let sim: Simulator = start(TWO_TOPICS).await;
    let exporter = start_exporter(&config_for(&sim, "300ms")).await;
    let base = format!("http://{}", exporter.address());
    let verdict = |v| link(&[("verdict", v)]);
    // `orders` fetched once, so that its REST lag is known.
    sim.act(&produce(5)).expect("produce applies");
    let lag = "clusterlink_mirror_topic_lag_messages";
    wait_value(&exporter, lag, &mirror_topic("orders"), T, |_| true).await;
    wait_value(
        &exporter,
        "clusterlink_link_failover_readiness",
        &verdict("ready"),
        T,
        |v| v == 1.0,
    )
    .await;
    // Both mirror topics mirror: every lag family of each is there.
    let text = scrape(&exporter).await;
    for family in LAG_FAMILIES {
        for topic in ["events", "orders"] {
            let v = value(&text, family, &mirror_topic(topic));
            assert!(v.is_some(), "no {family} for {topic}");
        }
    }

    // `orders` failed over, `events` still mirrors: not ready, whatever its lag.
    fail_over(&sim, &["orders"]).await;
    let stopped = link(&[("reason", "mirror_topics_stopped")]);
    let blocked = "clusterlink_link_failover_blocked";
    wait_value(&exporter, blocked, &stopped, T, |v| v == 1.0).await;
    let text = wait_no_lag(&exporter, "orders").await;
    assert_eq!(
        value(
            &text,
            "clusterlink_link_failover_readiness",
            &verdict("ready")
        ),
        Some(0.0)
    );
    let not_copied = "clusterlink_mirror_topic_not_copied_messages";
    assert!(value(&text, not_copied, &mirror_topic("orders")).is_some());
    assert!(value(&text, not_copied, &mirror_topic("events")).is_none());
    assert!(value(&text, lag, &mirror_topic("events")).is_some());
    let since_stop = "clusterlink_mirror_topic_source_records_since_stop";
    wait_value(&exporter, since_stop, &mirror_topic("orders"), T, |v| {
        v == 0.0
    })
    .await;

    // A producer nobody switched writes to the old source: split brain, and the line says so.
    sim.act(&produce(10)).expect("produce applies");
    wait_value(&exporter, since_stop, &mirror_topic("orders"), T, |v| {
        v == 10.0
    })
    .await;
    let writes = link(&[("reason", "old_source_writes")]);
    wait_value(&exporter, blocked, &writes, T, |v| v == 1.0).await;
    let r = eventually(T, "the status page to see the writes", || async {
        let r = status_readiness(&base).await;
        let seen = r["blockers"]
            .as_array()
            .is_some_and(|b| b.iter().any(|b| b == "old_source_writes"));
        done_if(seen, r)
    })
    .await;
    assert_eq!(r["verdict"], "not_ready", "{r}");
    let text = r["text"].as_str().unwrap_or_default();
    for part in [
        "mirror topics stopped (promoted or failed over) (1 of 2)",
        "records written to the old source since the stop (10)",
    ] {
        assert!(text.contains(part), "no {part} in {r}");
    }
    let page = status_page(&base).await;
    assert!(!page.contains("Ready to fail over"), "{page}");
    assert!(page.contains("records written to the old source since the stop (10)"));

    // The rest failed over too: failed over; `events` loses its lag series too, the writes
    // to `orders`' old source stay counted.
    fail_over(&sim, &["events"]).await;
    wait_value(
        &exporter,
        "clusterlink_link_failover_readiness",
        &verdict("failed_over"),
        T,
        |v| v == 1.0,
    )
    .await;
    let text = wait_no_lag(&exporter, "events").await;
    assert_eq!(
        value(&text, since_stop, &mirror_topic("orders")),
        Some(10.0)
    );
    assert!(value(&text, "clusterlink_link_lag_seconds", &link(&[])).is_none());
    assert!(!status_page(&base).await.contains("Ready to fail over"));
    exporter.shutdown().await;
    drop(sim);
}
