//! The actions of a fail-over drill and of silent data loss: `produce` (writes to the old
//! source after a fail-over, counted exactly), `stall_fetcher` (an `ACTIVE` link that copies
//! nothing), `transition_error` (a promotion or failover that fails until cleared),
//! `source_retention` (records deleted at the source before the mirror fetched them, with the
//! placeholders that keep the mirror's offsets equal to the source's), `add_partitions` (refused:
//! the mock cluster cannot), and link timing configs changed while the link runs.

use std::time::Duration;

use crate::common::eventually::{done_if, eventually};
use crate::common::schema::validate;
use crate::common::sim::*;
use cluster_link_sim::{
    Action, ActionOutcome, Produced, Retention, Simulator, FILLER_HEADER, PLACEHOLDER_HEADER,
    PRODUCE_HEADER,
};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use reqwest::Method;
use serde_json::json;

/// Link `ab` A→B mirrors `orders` (2 partitions) and `logs` (1 partition). Availability checks
/// every 3 s: the window in which deleted source records are visible lasts that long, room
/// enough for a loaded machine to look at it.
const SCENARIO: &str = r#"
clusters:
  - name: A
    brokers: 1
    topics: [{name: orders, partitions: 2}, {name: logs, partitions: 1}, {name: later, partitions: 1}]
  - name: B
    brokers: 1
links:
  - name: ab
    source: A
    destination: B
    mirrors: [orders, logs]
    configs:
      availability.check.ms: 3000
traffic:
  - {cluster: A, topic: orders, records_per_second: 20}
"#;

async fn started() -> Simulator {
    let sim = start(SCENARIO).await;
    wait_mirror_status(&sim, "B", "ab", "orders", "ACTIVE").await;
    wait_mirror_status(&sim, "B", "ab", "logs", "ACTIVE").await;
    sim
}

fn consumer(sim: &Simulator, cluster: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", &sim.cluster(cluster).bootstrap_servers)
        .set("group.id", "sim-drills-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap()
}

/// `(log-start, high watermark)` of a partition, as any Kafka client reads them.
fn watermarks(sim: &Simulator, cluster: &str, topic: &str, partition: i32) -> (i64, i64) {
    tokio::task::block_in_place(|| {
        consumer(sim, cluster)
            .fetch_watermarks(topic, partition, Duration::from_secs(5))
            .unwrap()
    })
}

fn act(sim: &Simulator, action: Action) -> ActionOutcome {
    tokio::task::block_in_place(|| sim.act(&action)).expect("action applies")
}

fn produce(sim: &Simulator, topic: &str, records: u64, partition: Option<i32>) -> Produced {
    let outcome = act(
        sim,
        Action::Produce {
            cluster: "A".into(),
            topic: topic.into(),
            records,
            partition,
        },
    );
    match outcome {
        ActionOutcome::Produced(p) => p,
        other => panic!("produce answered {other:?}"),
    }
}

fn stall(sim: &Simulator, stalled: bool) {
    act(
        sim,
        Action::StallFetcher {
            cluster: "B".into(),
            link: "ab".into(),
            stalled,
        },
    );
}

/// Waits until the mirror of `topic` on B (partition 0) reaches the source's end, `high`.
async fn wait_mirror_end(sim: &Simulator, topic: &str, high: i64) {
    eventually(
        Duration::from_secs(30),
        "mirror at the source's end",
        || async {
            let hwm = watermarks(sim, "B", topic, 0).1;
            done_if(hwm == high, hwm)
        },
    )
    .await;
}

/// The mirror of `topic` on B holds placeholders below `log_start` and fillers from there to
/// `high`: what a retention that deleted everything before the fillers leaves.
async fn assert_placeholders_then_fillers(sim: &Simulator, topic: &str, log_start: i64, high: i64) {
    let names = header_names(sim, "B", topic, high).await;
    let (lost, kept) = names.split_at(log_start as usize);
    assert!(lost.iter().all(|n| n == PLACEHOLDER_HEADER), "{names:?}");
    assert!(kept.iter().all(|n| n == FILLER_HEADER), "{names:?}");
}

/// The header names of every record of partition 0 of `topic` on `cluster` from offset 0 to
/// `end`, in offset order; panics if they do not all arrive within 30 s.
async fn header_names(sim: &Simulator, cluster: &str, topic: &str, end: i64) -> Vec<String> {
    let c = consumer(sim, cluster);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let rows = std::cell::RefCell::new(Vec::new());
    eventually(
        Duration::from_secs(30),
        &format!("{end} records of {topic} on {cluster}"),
        || {
            let mut rows = rows.borrow_mut();
            tokio::task::block_in_place(|| {
                while let Some(m) = c.poll(Duration::from_millis(200)) {
                    let m = m.unwrap();
                    let name = m
                        .headers()
                        .and_then(|h| h.iter().next().map(|h| h.key.to_owned()))
                        .unwrap_or_default();
                    rows.push((m.offset(), name));
                    if rows.len() as i64 >= end {
                        break;
                    }
                }
            });
            std::future::ready(done_if(rows.len() as i64 >= end, rows.len()))
        },
    )
    .await;
    let rows = rows.into_inner();
    let offsets: Vec<i64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(offsets, (0..end).collect::<Vec<_>>(), "offsets of {topic}");
    rows.into_iter().map(|r| r.1).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn produce_writes_exactly_the_records_asked_for_also_after_failover() {
    let sim = started().await;
    act(
        &sim,
        Action::Traffic {
            enabled: false,
            cluster: None,
        },
    );
    act(
        &sim,
        Action::FailoverMirrors {
            cluster: "B".into(),
            link: "ab".into(),
            mirrors: vec!["orders".into()],
        },
    );
    let stopped = wait_mirror_status(&sim, "B", "ab", "orders", "STOPPED").await;
    // The producers switched off may still deliver what they had queued.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before: Vec<i64> = (0..2)
        .map(|p| watermarks(&sim, "A", "orders", p).1)
        .collect();

    // Round-robin from partition 0: 7 records are 4 + 3.
    let produced = produce(&sim, "orders", 7, None);
    assert_eq!(produced.records, 7);
    let per_partition: Vec<(i32, u64, i64, i64)> = produced
        .partitions
        .iter()
        .map(|p| (p.partition, p.records, p.first_offset, p.last_offset))
        .collect();
    assert_eq!(
        per_partition,
        [
            (0, 4, before[0], before[0] + 3),
            (1, 3, before[1], before[1] + 2)
        ]
    );
    let after: Vec<i64> = (0..2)
        .map(|p| watermarks(&sim, "A", "orders", p).1)
        .collect();
    assert_eq!(
        after,
        [before[0] + 4, before[1] + 3],
        "the old source's offsets"
    );

    // Over the control API: 200 with what was written; one partition only.
    let (status, body) = send(
        Method::POST,
        &format!("{}/actions", sim.control_url()),
        Some(json!({"do": "produce", "cluster": "A", "topic": "orders", "records": 2, "partition": 1})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        json!({"topic": "orders", "records": 2, "partitions": [
            {"partition": 1, "records": 2, "first_offset": after[1], "last_offset": after[1] + 1}
        ]})
    );
    // A stopped mirror topic is writable: the new primary.
    let (status, body) = send(
        Method::POST,
        &format!("{}/actions", sim.control_url()),
        Some(json!({"do": "produce", "cluster": "B", "topic": "orders", "records": 1})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The stopped mirror copies none of it: its lags stay frozen.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later = mirror(&sim, "B", "ab", "orders").await;
    assert_eq!(later["mirror_status"], "STOPPED");
    assert_eq!(later["mirror_lags"], stopped["mirror_lags"]);

    // Records carry the produce header; bad targets are refused.
    assert_eq!(PRODUCE_HEADER, "sim-produce");
    for bad in [
        json!({"do": "produce", "cluster": "A", "topic": "nope", "records": 1}),
        json!({"do": "produce", "cluster": "A", "topic": "orders", "records": 1, "partition": 2}),
        json!({"do": "produce", "cluster": "A", "topic": "orders", "records": 100001}),
        json!({"do": "produce", "cluster": "B", "topic": "logs", "records": 1}),
        json!({"do": "source_retention", "cluster": "B", "topic": "logs"}),
    ] {
        let (status, body) = send(
            Method::POST,
            &format!("{}/actions", sim.control_url()),
            Some(bad.clone()),
        )
        .await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stalled_fetcher_copies_nothing_while_link_and_mirrors_stay_active() {
    let sim = started().await;
    // Over the control API: 204, as every action that reports nothing.
    let (status, body) = send(
        Method::POST,
        &format!("{}/actions", sim.control_url()),
        Some(json!({"do": "stall_fetcher", "cluster": "B", "link": "ab", "stalled": true})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    // What was in flight (and the fetcher iteration under way) lands; then the destination
    // stops moving.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let frozen: Vec<i64> = (0..2)
        .map(|p| watermarks(&sim, "B", "orders", p).1)
        .collect();
    let lag = eventually(Duration::from_secs(20), "REST lag above 40", || async {
        let m = mirror(&sim, "B", "ab", "orders").await;
        assert_eq!(m["mirror_status"], "ACTIVE", "{m}");
        done_if(total_lag(&m) > 40, total_lag(&m))
    })
    .await;
    // The lag grows and never falls back while stalled: every answer counts at least what
    // the last one did (the source only grows), never the caught-up value of before the stall.
    let mut last = lag;
    for _ in 0..15 {
        tokio::time::sleep(Duration::from_millis(70)).await;
        let now = total_lag(&mirror(&sim, "B", "ab", "orders").await);
        assert!(
            now >= last,
            "REST lag fell from {last} to {now} while stalled"
        );
        last = now;
    }
    let link = get_ok(&sim, "B", "/links/ab?include_tasks=true").await;
    assert_eq!(link["link_state"], "ACTIVE");
    assert_eq!(link["link_error"], "NO_ERROR");
    let now: Vec<i64> = (0..2)
        .map(|p| watermarks(&sim, "B", "orders", p).1)
        .collect();
    assert_eq!(
        now, frozen,
        "a stalled fetcher wrote to the mirror (lag {lag})"
    );
    let source: i64 = (0..2).map(|p| watermarks(&sim, "A", "orders", p).1).sum();
    assert!(
        source > frozen.iter().sum::<i64>() + 40,
        "the source kept growing"
    );

    stall(&sim, false);
    // Resumed: the mirror passes where the source was while stalled (a lag under some bound
    // would not say so on a busy machine, where the source keeps growing meanwhile).
    eventually(Duration::from_secs(30), "the mirror caught up", || async {
        let resumed: i64 = (0..2).map(|p| watermarks(&sim, "B", "orders", p).1).sum();
        done_if(resumed >= source, resumed)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn transition_error_holds_failover_and_promotion_until_cleared() {
    let sim = started().await;
    let errors_of = |mirror: &'static str| {
        let sim = &sim;
        async move {
            let m = get_ok(
                sim,
                "B",
                &format!("/links/ab/mirrors/{mirror}?include_state_transition_errors=true"),
            )
            .await;
            if let Err(e) = validate("ListMirrorTopicsResponseData.json", &m) {
                panic!("schema: {e}\n{m:#}");
            }
            m
        }
    };
    let inject = |mirror: &str| Action::TransitionError {
        cluster: "B".into(),
        link: "ab".into(),
        mirror: mirror.into(),
        error_code: "INTERNAL_ERROR".into(),
        error_message: format!("Failed to stop mirror topic {mirror}"),
    };
    let clear = |mirror: &str| Action::ClearTransitionError {
        cluster: "B".into(),
        link: "ab".into(),
        mirror: mirror.into(),
    };
    let alter = |op: &'static str, mirror: &'static str| {
        let sim = &sim;
        async move {
            let (status, body) = send(
                Method::POST,
                &url(sim, "B", &format!("/links/ab/mirrors:{op}")),
                Some(json!({ "mirror_topic_names": [mirror] })),
            )
            .await;
            assert_eq!(status, 200, "{op}: {body}");
        }
    };

    // The next failover fails: injected before it.
    act(&sim, inject("logs"));
    assert_eq!(
        errors_of("logs").await["mirror_state_transition_errors"],
        json!([])
    );
    alter("failover", "logs").await;
    wait_mirror_status(&sim, "B", "ab", "logs", "PENDING_STOPPED").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let m = errors_of("logs").await;
    assert_eq!(m["mirror_status"], "PENDING_STOPPED");
    assert_eq!(
        m["mirror_state_transition_errors"],
        json!([{"error_code": "INTERNAL_ERROR", "error_message": "Failed to stop mirror topic logs"}])
    );
    act(&sim, clear("logs"));
    wait_mirror_status(&sim, "B", "ab", "logs", "STOPPED").await;
    assert_eq!(
        errors_of("logs").await["mirror_state_transition_errors"],
        json!([])
    );

    // The current promotion fails: it is waiting for the lag when the error comes.
    act(
        &sim,
        Action::Replication {
            cluster: "B".into(),
            link: "ab".into(),
            delay_ms: Some(3_600_000),
            max_records_per_second: None,
        },
    );
    eventually(Duration::from_secs(10), "orders lagging", || async {
        let lag = total_lag(&mirror(&sim, "B", "ab", "orders").await);
        done_if(lag > 0, lag)
    })
    .await;
    act(
        &sim,
        Action::Traffic {
            enabled: false,
            cluster: None,
        },
    );
    alter("promote", "orders").await;
    wait_mirror_status(&sim, "B", "ab", "orders", "PENDING_STOPPED").await;
    act(&sim, inject("orders"));
    act(
        &sim,
        Action::Replication {
            cluster: "B".into(),
            link: "ab".into(),
            delay_ms: Some(0),
            max_records_per_second: None,
        },
    );
    eventually(Duration::from_secs(20), "orders caught up", || async {
        let lag = total_lag(&mirror(&sim, "B", "ab", "orders").await);
        done_if(lag == 0, lag)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let m = errors_of("orders").await;
    assert_eq!(
        m["mirror_status"], "PENDING_STOPPED",
        "caught up, yet failed"
    );
    assert_eq!(
        m["mirror_state_transition_errors"][0]["error_code"],
        "INTERNAL_ERROR"
    );
    act(&sim, clear("orders"));
    wait_mirror_status(&sim, "B", "ab", "orders", "STOPPED").await;

    // A stopped mirror takes no error; an unknown mirror is refused.
    for mirror in ["orders", "nope"] {
        let err = tokio::task::block_in_place(|| sim.apply(&inject(mirror))).unwrap_err();
        assert!(err.to_string().contains(mirror), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn source_retention_deletes_records_the_stalled_mirror_had_not_fetched() {
    let sim = started().await;
    produce(&sim, "logs", 10, None);
    eventually(Duration::from_secs(20), "logs mirrored", || async {
        let hwm = watermarks(&sim, "B", "logs", 0).1;
        done_if(hwm == 10, hwm)
    })
    .await;
    stall(&sim, true);
    produce(&sim, "logs", 20, None);

    let outcome = act(
        &sim,
        Action::SourceRetention {
            cluster: "A".into(),
            topic: "logs".into(),
            partition: None,
        },
    );
    let ActionOutcome::Retention(Retention { topic, partitions }) = outcome else {
        panic!("source_retention answered {outcome:?}");
    };
    assert_eq!(topic, "logs");
    let p = &partitions[0];
    assert_eq!(
        (p.partition, p.log_start_before, p.high_watermark_before),
        (0, 0, 30)
    );
    assert!(
        p.log_start >= 30,
        "every record before the action is gone: {p:?}"
    );
    assert_eq!(p.deleted, p.log_start);
    assert_eq!(p.high_watermark, 30 + i64::from(p.fillers));
    let (low, high) = watermarks(&sim, "A", "logs", 0);
    assert_eq!(
        (low, high),
        (p.log_start, p.high_watermark),
        "what clients read"
    );
    let (_, clusters) = get(&http(), &format!("{}/clusters", sim.control_url())).await;
    assert_eq!(clusters["clusters"][0]["name"], "A");
    assert_eq!(
        clusters["clusters"][0]["log_starts"],
        json!([{"topic": "logs", "partition": 0, "log_start": low}])
    );
    assert_eq!(clusters["clusters"][1]["stalled_links"], json!(["ab"]));

    // Stalled: the link and the mirror stay ACTIVE, REST lag counts every record the
    // mirror does not have, and the mirror's end is behind the source's log-start.
    eventually(Duration::from_secs(10), "REST lag of all of it", || async {
        let m = mirror(&sim, "B", "ab", "logs").await;
        assert_eq!(m["mirror_status"], "ACTIVE", "{m}");
        done_if(total_lag(&m) == high - 10, total_lag(&m))
    })
    .await;
    let lost = p.log_start - 10;
    assert_eq!(watermarks(&sim, "B", "logs", 0).1, 10);

    // Resumed: the gap stays visible for one availability-check interval (3 s) ...
    stall(&sim, false);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        watermarks(&sim, "B", "logs", 0).1,
        10,
        "placeholders written before the window"
    );
    // ... then placeholders fill the deleted offsets and the rest is copied.
    wait_mirror_end(&sim, "logs", high).await;
    let names = header_names(&sim, "B", "logs", high).await;
    let count = |name: &str| names.iter().filter(|n| *n == name).count() as i64;
    assert!(names[..10].iter().all(|n| n == PRODUCE_HEADER), "{names:?}");
    assert!(
        names[10..p.log_start as usize]
            .iter()
            .all(|n| n == PLACEHOLDER_HEADER),
        "{names:?}"
    );
    assert_eq!(count(PLACEHOLDER_HEADER), lost);
    assert_eq!(count(FILLER_HEADER), high - p.log_start);
    let m = mirror(&sim, "B", "ab", "logs").await;
    assert_eq!(
        (m["mirror_status"].as_str(), total_lag(&m)),
        (Some("ACTIVE"), 0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn records_held_back_by_the_delay_are_lost_when_the_source_deletes_them() {
    let sim = started().await;
    let delay = |ms: u64| Action::Replication {
        cluster: "B".into(),
        link: "ab".into(),
        delay_ms: Some(ms),
        max_records_per_second: None,
    };
    act(&sim, delay(3_600_000));
    // Let the fetcher iteration under way (it may still hold delay 0) end first.
    tokio::time::sleep(Duration::from_secs(1)).await;
    produce(&sim, "logs", 10, None);
    // Fetched (the REST lag knows them) but held back: not on the mirror.
    eventually(Duration::from_secs(10), "REST lag 10", || async {
        let lag = total_lag(&mirror(&sim, "B", "ab", "logs").await);
        done_if(lag == 10, lag)
    })
    .await;
    let outcome = act(
        &sim,
        Action::SourceRetention {
            cluster: "A".into(),
            topic: "logs".into(),
            partition: None,
        },
    );
    let ActionOutcome::Retention(r) = outcome else {
        panic!("source_retention answered {outcome:?}");
    };
    let (log_start, high) = (r.partitions[0].log_start, r.partitions[0].high_watermark);
    assert!(log_start >= 10, "{r:?}");
    // Placeholders replace what the fetcher held, despite the delay (they are not records the
    // source has); the fillers after them wait for the delay.
    eventually(
        Duration::from_secs(20),
        "placeholders up to the log-start",
        || async {
            let hwm = watermarks(&sim, "B", "logs", 0).1;
            done_if(hwm == log_start, hwm)
        },
    )
    .await;
    act(&sim, delay(0));
    wait_mirror_end(&sim, "logs", high).await;
    assert_placeholders_then_fillers(&sim, "logs", log_start, high).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn new_mirror_of_a_truncated_topic_starts_with_placeholders() {
    let sim = started().await;
    produce(&sim, "later", 5, None);
    let outcome = act(
        &sim,
        Action::SourceRetention {
            cluster: "A".into(),
            topic: "later".into(),
            partition: Some(0),
        },
    );
    let ActionOutcome::Retention(r) = outcome else {
        panic!("source_retention answered {outcome:?}");
    };
    let (log_start, high) = (r.partitions[0].log_start, r.partitions[0].high_watermark);
    assert!(log_start >= 5);
    // The fetcher asks for offset 0, gets "offset out of range", and fills 0..log_start.
    let (status, body) = send(
        Method::POST,
        &url(&sim, "B", "/links/ab/mirrors"),
        Some(json!({"source_topic_name": "later"})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    wait_mirror_end(&sim, "later", high).await;
    assert_placeholders_then_fillers(&sim, "later", log_start, high).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn adding_partitions_is_refused_with_the_reason() {
    let sim = started().await;
    let (status, body) = send(
        Method::POST,
        &format!("{}/actions", sim.control_url()),
        Some(json!({"do": "add_partitions", "cluster": "A", "topic": "orders", "partitions": 4})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("cannot add partitions"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn link_timing_configs_are_served_back_and_take_effect_at_once() {
    let sim = start(
        r#"
clusters:
  - {name: A, brokers: 1, topics: [{name: orders, partitions: 1}]}
  - {name: B, brokers: 1}
links:
  - {name: ab, source: A, destination: B, mirrors: [orders]}
"#,
    )
    .await;
    wait_mirror_status(&sim, "B", "ab", "orders", "ACTIVE").await;
    for (name, value) in [
        ("availability.check.ms", "300"),
        ("availability.check.consecutive.failure.threshold", "2"),
        ("consumer.offset.sync.ms", "1500"),
        ("topic.config.sync.ms", "7000"),
    ] {
        let path = format!("/links/ab/configs/{name}");
        let default = get_ok(&sim, "B", &path).await;
        assert_eq!(default["source"], "DEFAULT_CONFIG", "{default}");
        act(
            &sim,
            Action::SetLinkConfig {
                cluster: "B".into(),
                link: "ab".into(),
                name: name.into(),
                value: value.into(),
            },
        );
        let set = get_ok(&sim, "B", &path).await;
        assert_eq!(
            (set["value"].as_str(), set["source"].as_str()),
            (Some(value), Some("DYNAMIC_CLUSTER_LINK_CONFIG")),
            "{set}"
        );
        let all = get_ok(&sim, "B", "/links/ab/configs").await;
        assert!(
            all["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["name"] == name && c["value"] == value),
            "{all}"
        );
    }
    // Checks were every 60 s (the default) when the link started; the new 300 ms interval
    // applies from now on, so the outage shows within seconds, not after a minute.
    act(
        &sim,
        Action::BrokersDown {
            cluster: "A".into(),
            brokers: None,
        },
    );
    eventually(Duration::from_secs(15), "link UNAVAILABLE", || async {
        let l = get_ok(&sim, "B", "/links/ab").await;
        done_if(l["link_state"] == "UNAVAILABLE", l["link_state"].clone())
    })
    .await;
}
