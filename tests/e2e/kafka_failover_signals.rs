//! The fail-over signals of the Kafka side against the simulator, with the real exporter:
//! records the source deleted (retention) before the mirror fetched them, counted exactly
//! from what `source_retention` says it deleted; a fetcher stalled under an `ACTIVE` link
//! (replication rate 0 while the source keeps receiving records); and writes to the old
//! source after a failover, counted exactly from what `produce` wrote.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::scrape::{exporter_yaml, scrape, start_exporter, value, wait_value};
use crate::common::sim::wait_mirror_status;
use cluster_link_exporter::Exporter;
use cluster_link_sim::{Action, ActionOutcome, Simulator};

/// One source partition per topic: `source_retention` needs six 900 kB fillers a partition.
const SCENARIO: &str = r#"
clusters:
  - name: A
    brokers: 1
    topics:
      - {name: orders, partitions: 1}
      - {name: payments, partitions: 2}
  - name: B
    brokers: 1
links:
  - name: dr-link
    source: A
    destination: B
    mirrors: [orders, payments]
    configs:
      availability.check.ms: 500
"#;

const WAIT: Duration = Duration::from_secs(60);

fn labels(topic: &'static str) -> [(&'static str, &'static str); 3] {
    [
        ("kafka_cluster", "B"),
        ("link", "dr-link"),
        ("mirror_topic", topic),
    ]
}

async fn start() -> (Simulator, Exporter) {
    let sim = crate::common::sim::start(SCENARIO).await;
    let kafka = format!(
        "kafka: {{bootstrap_servers: '{}', request_timeout: 2s}}\nlag_seconds: {{enabled: false}}\nold_source_writes: {{window: 10m}}",
        sim.cluster("B").bootstrap_servers
    );
    let mut yaml = exporter_yaml(&sim, "500ms", &[("B", &kafka)]);
    yaml.push_str(&format!(
        "source_clusters:\n  - name: A\n    cluster_id: {}\n    kafka: {{bootstrap_servers: '{}', request_timeout: 2s}}\n",
        sim.cluster("A").cluster_id,
        sim.cluster("A").bootstrap_servers
    ));
    let exporter = start_exporter(&yaml).await;
    (sim, exporter)
}

fn produce(sim: &Simulator, topic: &str, records: u64) {
    let action = Action::Produce {
        cluster: "A".into(),
        topic: topic.into(),
        records,
        partition: None,
    };
    match sim.act(&action).expect("produce applies") {
        ActionOutcome::Produced(p) => assert_eq!(p.records, records),
        other => panic!("produce answered {other:?}"),
    }
}

fn stall(sim: &Simulator, stalled: bool) {
    let action = Action::StallFetcher {
        cluster: "B".into(),
        link: "dr-link".into(),
        stalled,
    };
    sim.apply(&action).expect("stall_fetcher applies");
}

/// Produces a few records to `topic` every 100 ms until dropped.
struct Producing(Arc<AtomicBool>, Option<std::thread::JoinHandle<()>>);

impl Producing {
    fn start(sim: &Simulator, topic: &'static str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let bootstrap = sim.cluster("A").bootstrap_servers.clone();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
            let producer: BaseProducer = rdkafka::ClientConfig::new()
                .set("bootstrap.servers", &bootstrap)
                .create()
                .expect("producer");
            while !flag.load(Ordering::Relaxed) {
                for _ in 0..5 {
                    let _ = producer.send(BaseRecord::<(), _>::to(topic).payload("x"));
                }
                let _ = producer.flush(Duration::from_secs(5));
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Self(stop, Some(thread))
    }
}

impl Drop for Producing {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        if let Some(t) = self.1.take() {
            let _ = t.join();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_and_records_lost_to_retention_are_measured_exactly() {
    let (sim, exporter) = start().await;
    let orders = labels("orders");
    produce(&sim, "orders", 10);
    // Mirrored, and rates known (two cycles).
    let dest_hwm = "clusterlink_mirror_partition_destination_high_watermark";
    let p0 = [orders[0], orders[1], orders[2], ("partition", "0")];
    wait_value(&exporter, dest_hwm, &p0, WAIT, |v| v == 10.0).await;
    for name in [
        "clusterlink_mirror_topic_replication_records_per_second",
        "clusterlink_mirror_topic_source_records_per_second",
    ] {
        wait_value(&exporter, name, &orders, WAIT, |v| v >= 0.0).await;
    }
    let lost = "clusterlink_mirror_topic_records_lost_to_retention";
    wait_value(&exporter, lost, &orders, WAIT, |v| v == 0.0).await;

    // A stalled fetcher under an ACTIVE link while the source receives records: the source
    // rate is positive, the replication rate 0.
    stall(&sim, true);
    let producing = Producing::start(&sim, "orders");
    let what = "replication 0 records/s while the source receives some";
    crate::common::eventually::eventually(WAIT, what, || async {
        let text = scrape(&exporter).await;
        let get = |name| value(&text, name, &orders);
        let rates = (
            get("clusterlink_mirror_topic_replication_records_per_second"),
            get("clusterlink_mirror_topic_source_records_per_second"),
        );
        match rates {
            (Some(r), Some(s)) if r == 0.0 && s > 0.0 => Ok(()),
            other => Err(other),
        }
    })
    .await;
    let link = [("kafka_cluster", "B"), ("link", "dr-link")];
    let state = scrape(&exporter).await;
    assert_eq!(
        value(
            &state,
            "clusterlink_link_state",
            &[link[0], link[1], ("state", "ACTIVE")]
        ),
        Some(1.0),
        "the link stays ACTIVE"
    );
    drop(producing);

    // Retention deletes every record the source partition holds, the mirror holding 10.
    let action = Action::SourceRetention {
        cluster: "A".into(),
        topic: "orders".into(),
        partition: Some(0),
    };
    let answer = match sim.act(&action).expect("source_retention applies") {
        ActionOutcome::Retention(r) => r,
        other => panic!("source_retention answered {other:?}"),
    };
    let p = &answer.partitions[0];
    eprintln!("source_retention: {p:?}");
    // The mirror had fetched 10 records; every record from offset 10 to the new log-start
    // is gone (the ones produced while stalled, and the first fillers).
    assert!(p.log_start >= p.high_watermark_before, "{p:?}");
    let expected = (p.log_start - 10) as f64;
    let got = wait_value(&exporter, lost, &orders, WAIT, |v| v > 0.0).await;
    assert_eq!(got, expected, "records lost to retention, {p:?}");
    let partition = wait_value(
        &exporter,
        "clusterlink_mirror_partition_records_lost_to_retention",
        &p0,
        WAIT,
        |v| v > 0.0,
    )
    .await;
    assert_eq!(partition, expected);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_to_the_old_source_after_a_failover_are_counted_exactly() {
    let (sim, exporter) = start().await;
    let payments = labels("payments");
    produce(&sim, "payments", 10);
    wait_value(
        &exporter,
        "clusterlink_mirror_topic_measured_lag_messages",
        &payments,
        WAIT,
        |v| v == 0.0,
    )
    .await;
    let since = "clusterlink_mirror_topic_source_records_since_stop";
    assert_eq!(value(&scrape(&exporter).await, since, &payments), None);
    let action = Action::FailoverMirrors {
        cluster: "B".into(),
        link: "dr-link".into(),
        mirrors: vec!["payments".into()],
    };
    sim.apply(&action).expect("failover applies");
    wait_mirror_status(&sim, "B", "dr-link", "payments", "STOPPED").await;
    // A completed failover with no writes: 0.
    wait_value(&exporter, since, &payments, WAIT, |v| v == 0.0).await;
    // Producers not switched write 7 records to the old source.
    produce(&sim, "payments", 7);
    let got = wait_value(&exporter, since, &payments, WAIT, |v| v > 0.0).await;
    assert_eq!(got, 7.0);
    // Still 7 three cycles later; the ACTIVE mirror has none.
    let cycles = "clusterlink_kafka_measurements_total";
    let b = [("kafka_cluster", "B")];
    let now = value(&scrape(&exporter).await, cycles, &b).unwrap_or(0.0);
    wait_value(&exporter, cycles, &b, WAIT, |v| v >= now + 3.0).await;
    let text = scrape(&exporter).await;
    assert_eq!(value(&text, since, &payments), Some(7.0));
    assert_eq!(value(&text, since, &labels("orders")), None);
    exporter.shutdown().await;
}
