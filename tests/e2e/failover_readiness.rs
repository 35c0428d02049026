//! Fail-over readiness, driven through the simulator with the real exporter and its Kafka
//! side on (the demo's configuration, an RPO of 3 s): a healthy link is `ready`; a replication
//! delay beyond the RPO makes it `not_ready` because of `lag_above_rpo`; with the source's
//! brokers down it is never `ready`, the source is `source_unreadable`, and the expected loss
//! in seconds is the last lag measured plus the time since — a bound that grows while the
//! last-measured timestamp stays. `/status.json` says the same as `/metrics`.

use std::time::Duration;

use cluster_link_exporter::demo::config_for;
use cluster_link_sim::{Action, Simulator};

use crate::common::eventually::eventually;
use crate::common::exporter::get_text;
use crate::common::scrape::{scrape, start_exporter, value, wait_value};
use crate::common::sim::{http, start};

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
