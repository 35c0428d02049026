//! The Kafka-side measurements against the simulator's clusters (real Kafka protocol on
//! librdkafka mock clusters): measured lag against REST lag, lag in seconds against an
//! injected replication delay, consumer offset-sync lag, the end-to-end probe, a source
//! cluster going down, and the number of watermark requests per cycle.

use std::time::Duration;

use crate::common::eventually::{done_if, eventually, eventually_every};
use crate::common::scrape::{exporter_yaml, scrape, start_exporter, value, wait_value};
use cluster_link_exporter::Exporter;
use cluster_link_sim::{Action, Simulator};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

const SCENARIO: &str = r#"
clusters:
  - name: A
    brokers: 3
    topics:
      - {name: orders, partitions: 3}
      - {name: probe, partitions: 3}
  - name: B
    brokers: 3
links:
  - name: dr-link
    source: A
    destination: B
    mirrors: [orders, probe]
    configs:
      consumer.offset.sync.enable: true
      consumer.offset.sync.ms: 1000
      consumer.offset.group.filters: '{"groupFilters":[{"name":"orders-app","patternType":"LITERAL","filterType":"INCLUDE"}]}'
      availability.check.ms: 1000
      availability.check.consecutive.failure.threshold: 2
traffic:
  - {cluster: A, topic: orders, records_per_second: 20}
"#;

const LINK: &[(&str, &str)] = &[("kafka_cluster", "B"), ("link", "dr-link")];
const ORDERS: &[(&str, &str)] = &[
    ("kafka_cluster", "B"),
    ("link", "dr-link"),
    ("mirror_topic", "orders"),
];

/// Exporter YAML with Kafka connections to B (destination) and A (source), and `extra` lines
/// for cluster B (indented by 4).
fn yaml(sim: &Simulator, extra: &str) -> String {
    let kafka = format!(
        "kafka: {{bootstrap_servers: '{}', request_timeout: 2s}}\n{extra}",
        sim.cluster("B").bootstrap_servers
    );
    let mut yaml = exporter_yaml(sim, "1s", &[("B", &kafka)]);
    yaml.push_str(&format!(
        "source_clusters:\n  - name: A\n    cluster_id: {}\n    kafka: {{bootstrap_servers: '{}', request_timeout: 2s}}\n",
        sim.cluster("A").cluster_id,
        sim.cluster("A").bootstrap_servers
    ));
    yaml
}

async fn start(extra: &str) -> (Simulator, Exporter) {
    let sim = crate::common::sim::start(SCENARIO).await;
    let exporter = start_exporter(&yaml(&sim, extra)).await;
    (sim, exporter)
}

fn apply(sim: &Simulator, action: Action) {
    sim.apply(&action).expect("action applies");
}

fn set_delay(sim: &Simulator, ms: u64) {
    apply(
        sim,
        Action::Replication {
            cluster: "B".into(),
            link: "dr-link".into(),
            delay_ms: Some(ms),
            max_records_per_second: None,
        },
    );
}

fn traffic(sim: &Simulator, enabled: bool) {
    apply(
        sim,
        Action::Traffic {
            enabled,
            cluster: None,
        },
    );
}

/// Produces `count` records to one partition of a topic on a simulated cluster.
fn produce(sim: &Simulator, cluster: &str, topic: &str, partition: i32, count: usize) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &sim.cluster(cluster).bootstrap_servers)
        .create()
        .unwrap();
    for i in 0..count {
        let payload = format!("record {i}");
        producer
            .send(
                BaseRecord::<(), _>::to(topic)
                    .partition(partition)
                    .payload(&payload),
            )
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
}

/// The high watermark of one partition of a topic on a simulated cluster.
fn high_watermark(sim: &Simulator, cluster: &str, topic: &str, partition: i32) -> i64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &sim.cluster(cluster).bootstrap_servers)
        .create()
        .unwrap();
    let (_, high) = consumer
        .fetch_watermarks(topic, partition, Duration::from_secs(10))
        .unwrap();
    high
}

/// Commits `offset` for `group` on one partition of a topic of a simulated cluster.
fn commit(sim: &Simulator, cluster: &str, group: &str, topic: &str, partition: i32, offset: i64) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &sim.cluster(cluster).bootstrap_servers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(offset))
        .unwrap();
    consumer.commit(&tpl, CommitMode::Sync).unwrap();
}

/// Waits until both the measured and the REST lag of `orders` are 0.
async fn both_lags_settle_at_zero(exporter: &Exporter, timeout: Duration) {
    for name in [
        "clusterlink_mirror_topic_measured_lag_messages",
        "clusterlink_mirror_topic_lag_messages",
    ] {
        wait_value(exporter, name, ORDERS, timeout, |v| v == 0.0).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measured_lag_equals_rest_lag_and_tracks_it() {
    let (sim, exporter) = start("").await;
    traffic(&sim, false);
    // Caught up first: both lags settle at 0.
    both_lags_settle_at_zero(&exporter, Duration::from_secs(30)).await;
    // Records held back by a 30 s replication delay: the link has fetched them (REST lag) and
    // the source has them (measured lag); both must say 30 before the delay passes (25 s to
    // see it: a few 1 s cycles, with room for a loaded machine).
    set_delay(&sim, 30_000);
    produce(&sim, "A", "orders", 1, 30);
    let what = "measured, REST and partition lag all 30 while delayed";
    eventually(Duration::from_secs(25), what, || async {
        let text = scrape(&exporter).await;
        let measured = value(
            &text,
            "clusterlink_mirror_topic_measured_lag_messages",
            ORDERS,
        );
        let rest = value(&text, "clusterlink_mirror_topic_lag_messages", ORDERS);
        let partition = value(
            &text,
            "clusterlink_mirror_partition_measured_lag_messages",
            &[("mirror_topic", "orders"), ("partition", "1")],
        );
        let seen = (measured, rest, partition);
        done_if(seen == (Some(30.0), Some(30.0), Some(30.0)), seen)
    })
    .await;
    // The watermarks behind it: the source has 30 more than the destination.
    let text = scrape(&exporter).await;
    let labels = &[("mirror_topic", "orders"), ("partition", "1")];
    let source = value(
        &text,
        "clusterlink_mirror_partition_source_high_watermark",
        labels,
    )
    .unwrap();
    let destination = value(
        &text,
        "clusterlink_mirror_partition_destination_high_watermark",
        labels,
    )
    .unwrap();
    assert_eq!(source - destination, 30.0, "{source} - {destination}");
    // Once the delay passes, both settle at 0 again, equal.
    both_lags_settle_at_zero(&exporter, Duration::from_secs(60)).await;
    // Under steady traffic with a delay, the two stay close (they are read a few
    // milliseconds apart, at 20 records/s).
    set_delay(&sim, 2_000);
    traffic(&sim, true);
    wait_value(
        &exporter,
        "clusterlink_mirror_topic_measured_lag_messages",
        ORDERS,
        Duration::from_secs(20),
        |v| v >= 20.0,
    )
    .await;
    for _ in 0..5 {
        let text = scrape(&exporter).await;
        let measured = value(
            &text,
            "clusterlink_mirror_topic_measured_lag_messages",
            ORDERS,
        )
        .unwrap();
        let rest = value(&text, "clusterlink_mirror_topic_lag_messages", ORDERS).unwrap();
        assert!(
            (measured - rest).abs() <= 15.0,
            "measured {measured} vs REST {rest} under traffic"
        );
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_seconds_follows_the_replication_delay_and_returns_to_zero() {
    let (sim, exporter) = start("").await;
    // Traffic at 20 records/s; a 4 s delay means the oldest record not yet copied is about
    // 4 s old. Tolerance: 2.5 s (a producer stalled by a loaded machine leaves younger records
    // the oldest) to 12 s (3 times the delay: a stalled fetcher leaves older ones), in three
    // scrapes a second apart.
    set_delay(&sim, 4_000);
    let in_range = std::cell::Cell::new(0);
    let what = "lag seconds near 4 s in 3 scrapes in a row";
    eventually_every(
        Duration::from_secs(1),
        Duration::from_secs(60),
        what,
        || async {
            let text = scrape(&exporter).await;
            let topic = value(&text, "clusterlink_mirror_topic_lag_seconds", ORDERS);
            let link = value(&text, "clusterlink_link_lag_seconds", LINK);
            match (topic, link) {
                (Some(t), Some(l)) if (2.5..=12.0).contains(&t) => {
                    assert!(l >= t, "link lag seconds {l} < topic {t}");
                    in_range.set(in_range.get() + 1);
                }
                _ => in_range.set(0),
            }
            done_if(in_range.get() >= 3, (topic, link))
        },
    )
    .await;
    // Delay removed: caught up within a fraction of a second.
    set_delay(&sim, 0);
    wait_value(
        &exporter,
        "clusterlink_mirror_topic_lag_seconds",
        ORDERS,
        Duration::from_secs(20),
        |v| v < 0.5,
    )
    .await;
    // Producer idle: a caught-up partition is exactly 0 and stays 0 (it does not grow with
    // the age of the last record).
    traffic(&sim, false);
    wait_value(
        &exporter,
        "clusterlink_mirror_topic_lag_seconds",
        ORDERS,
        Duration::from_secs(20),
        |v| v == 0.0,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let text = scrape(&exporter).await;
    assert_eq!(
        value(&text, "clusterlink_mirror_topic_lag_seconds", ORDERS),
        Some(0.0)
    );
    assert_eq!(
        value(&text, "clusterlink_link_lag_seconds", LINK),
        Some(0.0)
    );
    // It read records to get there, and the counter says so.
    assert!(
        value(
            &text,
            "clusterlink_lag_seconds_records_read_total",
            &[("kafka_cluster", "B")]
        )
        .unwrap()
            > 0.0
    );
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_sync_lag_appears_when_a_group_commits_and_clears_when_synced() {
    let (sim, exporter) = start("").await;
    traffic(&sim, false);
    let group = &[
        ("kafka_cluster", "B"),
        ("link", "dr-link"),
        ("consumer_group", "orders-app"),
        ("mirror_topic", "orders"),
    ];
    // The group has no commit yet: no series.
    wait_value(
        &exporter,
        "clusterlink_mirror_topic_measured_lag_messages",
        ORDERS,
        Duration::from_secs(30),
        |v| v == 0.0,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let text = scrape(&exporter).await;
    assert_eq!(
        value(
            &text,
            "clusterlink_consumer_offset_sync_lag_messages",
            group
        ),
        None,
        "a series for a group without commits"
    );
    // Records held back by the link, so the sync is capped at the destination's high
    // watermark (as Confluent does); the group commits 10 on the source.
    // Offsets count from what the partition already holds (a record of the traffic may have
    // landed before it stopped): the group commits 10 records past it.
    set_delay(&sim, 60_000);
    let base = high_watermark(&sim, "A", "orders", 0);
    produce(&sim, "A", "orders", 0, 20);
    commit(&sim, "A", "orders-app", "orders", 0, base + 10);
    wait_value(
        &exporter,
        "clusterlink_consumer_offset_sync_lag_messages",
        group,
        Duration::from_secs(20),
        |v| v == 10.0,
    )
    .await;
    // Split by what a fail-over now would do to the group: lost (never replicated) plus
    // re-processed (replicated, not synced) is the lag, from the same measurement.
    let split = |text: &str| {
        let lost = value(
            text,
            "clusterlink_consumer_offset_sync_unreplicated_messages",
            group,
        );
        let again = value(
            text,
            "clusterlink_consumer_offset_sync_unsynced_messages",
            group,
        );
        let lag = value(text, "clusterlink_consumer_offset_sync_lag_messages", group);
        (lost, again, lag)
    };
    let (lost, again, lag) = split(&scrape(&exporter).await);
    assert_eq!(
        lost.zip(again).map(|(l, a)| l + a),
        lag,
        "{lost:?} + {again:?}"
    );
    // Replication catches up, the next sync copies the offset: lag 0.
    set_delay(&sim, 0);
    wait_value(
        &exporter,
        "clusterlink_consumer_offset_sync_lag_messages",
        group,
        Duration::from_secs(30),
        |v| v == 0.0,
    )
    .await;
    let (lost, again, _) = split(&scrape(&exporter).await);
    assert_eq!((lost, again), (Some(0.0), Some(0.0)));
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_latency_follows_the_delay_and_records_are_lost_while_paused() {
    let (sim, exporter) = start(
        "probes:\n  - {link: dr-link, topic: probe, interval: 500ms, sla: 3s, instance_id: test-1}",
    )
    .await;
    traffic(&sim, false);
    set_delay(&sim, 1_000);
    let received = wait_value(
        &exporter,
        "clusterlink_probe_records_received_total",
        LINK,
        Duration::from_secs(30),
        |v| v >= 6.0,
    )
    .await;
    // Average latency of the next 12 or more records (3 partitions every 500 ms: about 2 s
    // of them): about the 1 s delay.
    let text = scrape(&exporter).await;
    let sum0 = value(&text, "clusterlink_probe_latency_seconds_sum", LINK).unwrap();
    let count0 = value(&text, "clusterlink_probe_latency_seconds_count", LINK).unwrap();
    wait_value(
        &exporter,
        "clusterlink_probe_latency_seconds_count",
        LINK,
        Duration::from_secs(30),
        |v| v - count0 >= 12.0,
    )
    .await;
    // Sum and count from one scrape (counters only grow: still 12 or more).
    let text = scrape(&exporter).await;
    let sum1 = value(&text, "clusterlink_probe_latency_seconds_sum", LINK).unwrap();
    let count1 = value(&text, "clusterlink_probe_latency_seconds_count", LINK).unwrap();
    let mean = (sum1 - sum0) / (count1 - count0);
    // At least the delay; at most the SLA (3 times the delay), past which a record is lost,
    // not measured (and none is lost here, checked below).
    assert!(
        (0.9..=3.0).contains(&mean),
        "mean probe latency {mean} s with a 1 s delay"
    );
    // Buckets come from the 3 s SLA: 1 s (≤ 0.5 × SLA = 1.5 s) holds nearly all records.
    let le = |bound: &str| {
        value(
            &text,
            "clusterlink_probe_latency_seconds_bucket",
            &[("kafka_cluster", "B"), ("link", "dr-link"), ("le", bound)],
        )
        .unwrap_or_else(|| panic!("no bucket le={bound}"))
    };
    assert!(
        le("1.5") >= le("0.6") && le("1.5") <= count1,
        "buckets not derived from the SLA"
    );
    assert!(
        le("0.3") < count1 - count0,
        "most records should take about 1 s"
    );
    assert_eq!(
        value(&text, "clusterlink_probe_sla_seconds", LINK),
        Some(3.0)
    );
    assert_eq!(
        value(&text, "clusterlink_probe_records_lost_total", LINK),
        Some(0.0)
    );
    // The link paused past the SLA: records go missing and are counted lost.
    apply(
        &sim,
        Action::SetLinkConfig {
            cluster: "B".into(),
            link: "dr-link".into(),
            name: "cluster.link.paused".into(),
            value: "true".into(),
        },
    );
    wait_value(
        &exporter,
        "clusterlink_probe_records_lost_total",
        LINK,
        Duration::from_secs(20),
        |v| v >= 3.0,
    )
    .await;
    let text = scrape(&exporter).await;
    assert!(value(&text, "clusterlink_probe_records_sent_total", LINK).unwrap() > received);
    assert_eq!(
        value(&text, "clusterlink_probe_send_failures_total", LINK),
        Some(0.0)
    );
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_cluster_down_fails_only_the_source_side() {
    let (sim, exporter) = start("").await;
    let source = &[
        ("kafka_cluster", "B"),
        ("connection", "A"),
        ("role", "source"),
    ];
    let destination = &[
        ("kafka_cluster", "B"),
        ("connection", "B"),
        ("role", "destination"),
    ];
    wait_value(
        &exporter,
        "clusterlink_mirror_topic_lag_seconds",
        ORDERS,
        Duration::from_secs(30),
        |_| true,
    )
    .await;
    wait_value(
        &exporter,
        "clusterlink_kafka_up",
        source,
        Duration::from_secs(30),
        |v| v == 1.0,
    )
    .await;
    apply(
        &sim,
        Action::BrokersDown {
            cluster: "A".into(),
            brokers: None,
        },
    );
    wait_value(
        &exporter,
        "clusterlink_kafka_up",
        source,
        Duration::from_secs(30),
        |v| v == 0.0,
    )
    .await;
    // The cycle that failed on the source renders without its source side: wait for that
    // (no fixed sleep), then check the destination side is still there in the same scrape.
    let source_side = [
        "clusterlink_mirror_partition_source_high_watermark",
        "clusterlink_mirror_topic_measured_lag_messages",
        "clusterlink_mirror_topic_lag_seconds",
        "clusterlink_link_lag_seconds",
    ];
    let what = "the source side withdrawn";
    let text = eventually(Duration::from_secs(30), what, || async {
        let text = scrape(&exporter).await;
        let left: Vec<&str> = source_side
            .iter()
            .copied()
            .filter(|name| value(&text, name, &[("kafka_cluster", "B")]).is_some())
            .collect();
        if left.is_empty() {
            Ok(text)
        } else {
            Err(left)
        }
    })
    .await;
    assert_eq!(value(&text, "clusterlink_kafka_up", destination), Some(1.0));
    let partition = &[("mirror_topic", "orders"), ("partition", "0")];
    assert!(
        value(
            &text,
            "clusterlink_mirror_partition_destination_high_watermark",
            partition
        )
        .is_some(),
        "destination watermarks withdrawn with the source down"
    );
    let errors: f64 = ["connect", "timeout", "other"]
        .iter()
        .filter_map(|r| {
            let mut labels = source.to_vec();
            labels.push(("reason", r));
            value(&text, "clusterlink_kafka_errors_total", &labels)
        })
        .sum();
    assert!(errors >= 1.0, "no source error counted");
    // REST collection is unaffected.
    assert_eq!(
        value(&text, "clusterlink_up", &[("kafka_cluster", "B")]),
        Some(1.0)
    );
    apply(
        &sim,
        Action::BrokersUp {
            cluster: "A".into(),
            brokers: None,
        },
    );
    wait_value(
        &exporter,
        "clusterlink_kafka_up",
        source,
        Duration::from_secs(40),
        |v| v == 1.0,
    )
    .await;
    wait_value(
        &exporter,
        "clusterlink_mirror_topic_measured_lag_messages",
        ORDERS,
        Duration::from_secs(30),
        |_| true,
    )
    .await;
    exporter.shutdown().await;
}

/// Requests (and cycles) counted by [`list_offsets_over`] may be off by the requests of this
/// many cycles: the request counter comes from librdkafka statistics, emitted every second and
/// served when the measurer next polls its clients, so at each end of the window it lags the
/// cycle counter by up to about one 1 s cycle (more on a loaded machine).
const SKEW_CYCLES: f64 = 3.0;

/// Watermark `ListOffsets` requests a destination cluster sent over at least `cycles` whole
/// measurement cycles, from the exporter's own counters: (requests, cycles).
async fn list_offsets_over(exporter: &Exporter, cluster: &str, cycles: f64) -> (f64, f64) {
    let read = |text: &str| {
        let requests = value(
            text,
            "clusterlink_kafka_requests_total",
            &[
                ("kafka_cluster", cluster),
                ("connection", cluster),
                ("client", "watermarks"),
                ("request", "ListOffsets"),
            ],
        )
        .unwrap_or(0.0);
        let cycles = value(
            text,
            "clusterlink_kafka_measurements_total",
            &[("kafka_cluster", cluster)],
        )
        .unwrap_or(0.0);
        (requests, cycles)
    };
    let (r0, c0) = read(&scrape(exporter).await);
    let what = format!("{cycles} measurement cycles of {cluster}");
    let every = Duration::from_millis(500);
    eventually_every(every, Duration::from_secs(90), &what, || async {
        let (r1, c1) = read(&scrape(exporter).await);
        done_if(c1 - c0 >= cycles, (r1 - r0, c1 - c0))
    })
    .await
}

/// Asserts that `requests` over `cycles` is one request per leader broker per cycle, give or
/// take [`SKEW_CYCLES`] cycles.
fn one_per_broker(what: &str, brokers: f64, (requests, cycles): (f64, f64)) {
    let (low, high) = (
        brokers * (cycles - SKEW_CYCLES),
        brokers * (cycles + SKEW_CYCLES),
    );
    assert!(
        (low..=high).contains(&requests),
        "{what}: {requests} ListOffsets over {cycles} cycles, expected {low}..={high}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watermark_requests_grow_with_brokers_not_partitions() {
    // Three destination clusters mirroring from one source: 3 brokers with 6 partitions,
    // 3 brokers with 120 partitions, 1 broker with 120 partitions.
    let sim = crate::common::sim::start(
        r#"
clusters:
  - name: S
    brokers: 3
    topics:
      - {name: narrow, partitions: 6}
      - {name: wide, partitions: 120}
  - {name: D3narrow, brokers: 3}
  - {name: D3wide, brokers: 3}
  - {name: D1wide, brokers: 1}
links:
  - {name: l, source: S, destination: D3narrow, mirrors: [narrow]}
  - {name: l, source: S, destination: D3wide, mirrors: [wide]}
  - {name: l, source: S, destination: D1wide, mirrors: [wide]}
"#,
    )
    .await;
    let kafka = |c: &str| {
        format!(
            "kafka: {{bootstrap_servers: '{}'}}\nlag_seconds: {{enabled: false}}",
            sim.cluster(c).bootstrap_servers
        )
    };
    let (k1, k2, k3) = (kafka("D3narrow"), kafka("D3wide"), kafka("D1wide"));
    let yaml = exporter_yaml(
        &sim,
        "1s",
        &[("D3narrow", &k1), ("D3wide", &k2), ("D1wide", &k3)],
    );
    let exporter = start_exporter(&yaml).await;
    for c in ["D3narrow", "D3wide", "D1wide"] {
        wait_value(
            &exporter,
            "clusterlink_kafka_measurements_total",
            &[("kafka_cluster", c)],
            Duration::from_secs(30),
            |v| v >= 3.0,
        )
        .await;
    }
    // Whole cycles, many more than the statistics skew: counts, not windowed averages.
    let cycles = 20.0;
    let (narrow3, wide3, wide1) = tokio::join!(
        list_offsets_over(&exporter, "D3narrow", cycles),
        list_offsets_over(&exporter, "D3wide", cycles),
        list_offsets_over(&exporter, "D1wide", cycles),
    );
    eprintln!(
        "ListOffsets (requests, cycles): 3 brokers/6 partitions {narrow3:?}, 3 brokers/120 partitions {wide3:?}, 1 broker/120 partitions {wide1:?}"
    );
    // One request per leader broker and cycle, whatever the partitions. The bounds exclude
    // both alternatives: one request per partition (120 per cycle on the wide clusters) and
    // one per cycle whatever the brokers (20 where 3 brokers need at least 3 × 17).
    one_per_broker("3 brokers, 6 partitions", 3.0, narrow3);
    one_per_broker("3 brokers, 120 partitions", 3.0, wide3);
    one_per_broker("1 broker, 120 partitions", 1.0, wide1);
    exporter.shutdown().await;
}
