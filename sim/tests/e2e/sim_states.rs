//! Confluent's state machines in the simulator, each transition caused by the simulated event
//! and observed through the REST API, as the exporter will see it.

use std::time::Duration;

use crate::common::eventually::{done_if, eventually};
use crate::common::sim::*;
use cluster_link_sim::{Action, Simulator};
use reqwest::Method;
use serde_json::json;

/// Two clusters; link `ab` A→B mirrors `events` and `orders`; fast availability checks.
const SCENARIO: &str = r#"
clusters:
  - name: A
    brokers: 3
    topics: [{name: events, partitions: 3}, {name: orders, partitions: 2}, {name: late, partitions: 3}]
  - name: B
    brokers: 1
links:
  - name: ab
    source: A
    destination: B
    mirrors: [events, orders]
    configs:
      availability.check.ms: 200
      availability.check.consecutive.failure.threshold: 3
traffic:
  - {cluster: A, topic: events, records_per_second: 20}
"#;

async fn started() -> Simulator {
    let sim = start(SCENARIO).await;
    wait_mirror_status(&sim, "B", "ab", "events", "ACTIVE").await;
    wait_mirror_status(&sim, "B", "ab", "orders", "ACTIVE").await;
    sim
}

async fn alter(sim: &Simulator, op: &str, mirrors: &[&str]) -> serde_json::Value {
    let (status, body) = send(
        Method::POST,
        &url(sim, "B", &format!("/links/ab/mirrors:{op}")),
        Some(json!({ "mirror_topic_names": mirrors })),
    )
    .await;
    assert_eq!(status, 200, "{op}: {body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn new_mirror_is_pending_until_every_partition_is_fetched() {
    let sim = started().await;
    // Broker 1 leads some partition of `late`: with it down that partition cannot be fetched.
    sim.apply(&Action::BrokersDown {
        cluster: "A".into(),
        brokers: Some(vec![1]),
    })
    .unwrap();
    let (status, body) = send(
        Method::POST,
        &url(&sim, "B", "/links/ab/mirrors"),
        Some(json!({"source_topic_name": "late"})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let m = mirror(&sim, "B", "ab", "late").await;
    assert_eq!(m["mirror_status"], "PENDING_MIRROR", "{m}");
    assert!(m["mirror_lags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["last_source_fetch_offset"] == -1));
    sim.apply(&Action::BrokersUp {
        cluster: "A".into(),
        brokers: Some(vec![1]),
    })
    .unwrap();
    wait_mirror_status(&sim, "B", "ab", "late", "ACTIVE").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pause_and_resume_a_mirror() {
    let sim = started().await;
    let reply = alter(&sim, "pause", &["events"]).await;
    assert_eq!(reply["data"][0]["error_code"], serde_json::Value::Null);
    let paused = wait_mirror_status(&sim, "B", "ab", "events", "PAUSED").await;
    let other = mirror(&sim, "B", "ab", "orders").await;
    assert_eq!(other["mirror_status"], "ACTIVE");
    // Paused mirrors stop copying: the destination does not move.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let later = mirror(&sim, "B", "ab", "events").await;
    assert_eq!(later["state_time_ms"], paused["state_time_ms"]);
    alter(&sim, "resume", &["events"]).await;
    let resumed = wait_mirror_status(&sim, "B", "ab", "events", "ACTIVE").await;
    assert!(resumed["state_time_ms"].as_i64() > paused["state_time_ms"].as_i64());
}

#[tokio::test(flavor = "multi_thread")]
async fn pausing_the_link_pauses_link_mirrors_and_tasks() {
    let sim = started().await;
    let config = url(&sim, "B", "/links/ab/configs/cluster.link.paused");
    let (status, _) = send(Method::PUT, &config, Some(json!({"value": "true"}))).await;
    assert_eq!(status, 204);
    let link = wait_link_state(&sim, "B", "ab", "PAUSED").await;
    assert_eq!(task(&link, "TopicConfigsSync")["state"], "LINK_PAUSED");
    wait_mirror_status(&sim, "B", "ab", "events", "LINK_PAUSED").await;
    wait_mirror_status(&sim, "B", "ab", "orders", "LINK_PAUSED").await;
    let (status, _) = send(Method::PUT, &config, Some(json!({"value": "false"}))).await;
    assert_eq!(status, 204);
    wait_link_state(&sim, "B", "ab", "ACTIVE").await;
    wait_mirror_status(&sim, "B", "ab", "events", "ACTIVE").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn source_outage_makes_mirrors_source_unavailable_then_the_link_unavailable() {
    let sim = started().await;
    sim.apply(&Action::BrokersDown {
        cluster: "A".into(),
        brokers: None,
    })
    .unwrap();
    wait_mirror_status(&sim, "B", "ab", "events", "SOURCE_UNAVAILABLE").await;
    let link = wait_link_state(&sim, "B", "ab", "UNAVAILABLE").await;
    assert_eq!(link["link_error"], "BOOTSTRAP_TCP_CONNECTION_FAILED_ERROR");
    assert_ne!(link["link_error_message"], "");
    assert_eq!(task(&link, "TopicConfigsSync")["state"], "LINK_UNAVAILABLE");
    sim.apply(&Action::BrokersUp {
        cluster: "A".into(),
        brokers: None,
    })
    .unwrap();
    let link = wait_link_state(&sim, "B", "ab", "ACTIVE").await;
    assert_eq!(link["link_error"], "NO_ERROR");
    assert_eq!(link["link_error_message"], "");
    wait_mirror_status(&sim, "B", "ab", "events", "ACTIVE").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn promote_waits_for_the_mirror_to_catch_up_then_stops() {
    let sim = started().await;
    // Hold records back so the mirror lags behind the live traffic.
    sim.apply(&Action::Replication {
        cluster: "B".into(),
        link: "ab".into(),
        delay_ms: Some(3_600_000),
        max_records_per_second: None,
    })
    .unwrap();
    eventually(Duration::from_secs(10), "events lagging", || async {
        let lag = total_lag(&mirror(&sim, "B", "ab", "events").await);
        done_if(lag > 0, lag)
    })
    .await;
    sim.apply(&Action::Traffic {
        enabled: false,
        cluster: None,
    })
    .unwrap();
    alter(&sim, "promote", &["events"]).await;
    wait_mirror_status(&sim, "B", "ab", "events", "PENDING_STOPPED").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let still = mirror(&sim, "B", "ab", "events").await;
    assert_eq!(
        still["mirror_status"],
        "PENDING_STOPPED",
        "lag is {}",
        total_lag(&still)
    );
    sim.apply(&Action::Replication {
        cluster: "B".into(),
        link: "ab".into(),
        delay_ms: Some(0),
        max_records_per_second: None,
    })
    .unwrap();
    let stopped = wait_mirror_status(&sim, "B", "ab", "events", "STOPPED").await;
    assert_eq!(total_lag(&stopped), 0);
    // Promoting again is refused per topic, as Confluent does.
    let again = alter(&sim, "promote", &["events"]).await;
    assert_eq!(again["data"][0]["error_code"], 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn failover_stops_at_once_even_with_the_source_down() {
    let sim = started().await;
    sim.apply(&Action::BrokersDown {
        cluster: "A".into(),
        brokers: None,
    })
    .unwrap();
    wait_mirror_status(&sim, "B", "ab", "orders", "SOURCE_UNAVAILABLE").await;
    alter(&sim, "failover", &["orders"]).await;
    wait_mirror_status(&sim, "B", "ab", "orders", "STOPPED").await;
    let events = mirror(&sim, "B", "ab", "events").await;
    assert_eq!(events["mirror_status"], "SOURCE_UNAVAILABLE");
}

#[tokio::test(flavor = "multi_thread")]
async fn deleted_source_topic_fails_the_mirror() {
    let sim = started().await;
    sim.apply(&Action::DeleteTopic {
        cluster: "A".into(),
        topic: "orders".into(),
    })
    .unwrap();
    let m = wait_mirror_status(&sim, "B", "ab", "orders", "FAILED").await;
    assert_eq!(m["mirror_topic_error"], "SOURCE_TOPIC_MAY_BE_DELETED");
    let detailed = get_ok(
        &sim,
        "B",
        "/links/ab/mirrors/orders?include_state_transition_errors=true",
    )
    .await;
    assert_eq!(
        detailed["mirror_state_transition_errors"][0]["error_code"],
        "SOURCE_TOPIC_MAY_BE_DELETED"
    );
    assert_eq!(
        mirror(&sim, "B", "ab", "events").await["mirror_status"],
        "ACTIVE"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn link_tasks_report_configuration_and_injected_errors() {
    let sim = started().await;
    let link = get_ok(&sim, "B", "/links/ab?include_tasks=true").await;
    assert_eq!(task(&link, "AclSync")["state"], "NOT_CONFIGURED");
    assert_eq!(task(&link, "ConsumerOffsetSync")["state"], "NOT_CONFIGURED");
    assert_eq!(task(&link, "TopicConfigsSync")["state"], "ACTIVE");
    // Turning ACL sync on without filters is Confluent's real misconfiguration report.
    let (status, _) = send(
        Method::PUT,
        &url(&sim, "B", "/links/ab/configs/acl.sync.enable"),
        Some(json!({"value": "true"})),
    )
    .await;
    assert_eq!(status, 204);
    let link = get_ok(&sim, "B", "/links/ab?include_tasks=true").await;
    let acl = task(&link, "AclSync");
    assert_eq!(acl["state"], "IN_ERROR");
    assert_eq!(acl["errors"][0]["error_code"], "MISCONFIGURATION_ERROR");
    assert_eq!(
        acl["errors"][0]["error_message"],
        "ACL migration is enabled but acl.filters is not set"
    );
    sim.apply(&Action::TaskError {
        cluster: "B".into(),
        link: "ab".into(),
        task: "TopicConfigsSync".into(),
        error_code: "AUTHORIZATION_ERROR".into(),
        error_message: "Not authorized to describe topic configs".into(),
    })
    .unwrap();
    let link = get_ok(&sim, "B", "/links/ab?include_tasks=true").await;
    assert_eq!(task(&link, "TopicConfigsSync")["state"], "IN_ERROR");
    sim.apply(&Action::ClearTaskError {
        cluster: "B".into(),
        link: "ab".into(),
        task: "TopicConfigsSync".into(),
    })
    .unwrap();
    let link = get_ok(&sim, "B", "/links/ab?include_tasks=true").await;
    assert_eq!(task(&link, "TopicConfigsSync")["state"], "ACTIVE");
    // Without include_tasks there are no tasks, as on Confluent Server.
    let plain = get_ok(&sim, "B", "/links/ab").await;
    assert!(plain.get("tasks").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_source_credentials_make_the_link_unavailable_with_authentication_error() {
    let sim = start(
        r#"
clusters:
  - name: A
    brokers: 1
    kafka_credentials: {username: link, password: right}
    topics: [{name: events, partitions: 1}]
  - name: B
    brokers: 1
links:
  - name: ab
    source: A
    destination: B
    mirrors: [events]
    configs:
      availability.check.ms: 200
      sasl.jaas.config: 'org.apache.kafka.common.security.plain.PlainLoginModule required username="link" password="wrong";'
"#,
    )
    .await;
    let link = wait_link_state(&sim, "B", "ab", "UNAVAILABLE").await;
    assert_eq!(link["link_error"], "AUTHENTICATION_ERROR");
    wait_mirror_status(&sim, "B", "ab", "events", "SOURCE_UNAVAILABLE").await;
    // The secret is never shown.
    let configs = get_ok(&sim, "B", "/links/ab/configs").await;
    let jaas = configs["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "sasl.jaas.config")
        .unwrap();
    assert_eq!(jaas["value"], serde_json::Value::Null);
    assert_eq!(jaas["sensitive"], true);
    let (status, _) = send(
        Method::PUT,
        &url(&sim, "B", "/links/ab/configs/sasl.jaas.config"),
        Some(json!({"value": "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"link\" password=\"right\";"})),
    )
    .await;
    assert_eq!(status, 204);
    wait_link_state(&sim, "B", "ab", "ACTIVE").await;
    wait_mirror_status(&sim, "B", "ab", "events", "ACTIVE").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn links_and_mirrors_are_created_and_deleted_over_rest() {
    let sim = started().await;
    let source_id = sim.cluster("A").cluster_id.clone();
    let (status, body) = send(
        Method::POST,
        &url(&sim, "B", "/links?link_name=second"),
        Some(json!({"source_cluster_id": source_id, "configs": [
            {"name": "cluster.link.prefix", "value": "src_"},
            {"name": "availability.check.ms", "value": "200"}
        ]})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = send(
        Method::POST,
        &url(&sim, "B", "/links/second/mirrors"),
        Some(json!({"source_topic_name": "events"})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let m = wait_mirror_status(&sim, "B", "second", "src_events", "ACTIVE").await;
    assert_eq!(m["source_topic_name"], "events");
    let (status, body) = send(
        Method::POST,
        &url(&sim, "B", "/links?link_name=second"),
        Some(json!({"source_cluster_id": source_id})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    // One mirror per source topic and link.
    let (status, body) = send(
        Method::POST,
        &url(&sim, "B", "/links/second/mirrors"),
        Some(json!({"source_topic_name": "events", "mirror_topic_name": "src_events2"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = send(
        Method::DELETE,
        &url(&sim, "B", "/links/second?validate_only=true"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    get_ok(&sim, "B", "/links/second").await;
    let (status, _) = send(Method::DELETE, &url(&sim, "B", "/links/second"), None).await;
    assert_eq!(status, 200);
    let (status, body) = get(&http(), &url(&sim, "B", "/links/second")).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"error_code": 404, "message": "The cluster link doesn't exist: "})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_create_mirrors_new_source_topics_with_the_prefix() {
    let sim = start(
        r#"
clusters:
  - name: A
    brokers: 1
    topics: [{name: app.one, partitions: 1}, {name: app.two, partitions: 2}, {name: internal, partitions: 1}]
  - name: B
    brokers: 1
links:
  - name: auto
    source: A
    destination: B
    configs:
      availability.check.ms: 200
      cluster.link.prefix: "a."
      auto.create.mirror.topics.enable: true
      auto.create.mirror.topics.filters: '{"topicFilters":[{"name":"app.","patternType":"PREFIXED","filterType":"INCLUDE"}]}'
"#,
    )
    .await;
    let m = wait_mirror_status(&sim, "B", "auto", "a.app.two", "ACTIVE").await;
    assert_eq!(m["num_partitions"], 2);
    wait_mirror_status(&sim, "B", "auto", "a.app.one", "ACTIVE").await;
    let link = get_ok(&sim, "B", "/links/auto?include_tasks=true").await;
    assert_eq!(link["topic_names"], json!(["a.app.one", "a.app.two"]));
    assert_eq!(task(&link, "AutoCreateMirror")["state"], "ACTIVE");
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_mirror_topic_removes_the_mirror_and_frees_its_source_topic() {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let sim = started().await;
    // Records on every partition of `orders` (no traffic there), copied before the delete.
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &sim.cluster("A").bootstrap_servers)
        .create()
        .unwrap();
    for i in 0..20 {
        producer
            .send(
                BaseRecord::<(), _>::to("orders")
                    .partition(i % 2)
                    .payload("x"),
            )
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
    let caught_up = |m: &serde_json::Value| {
        let lags = m["mirror_lags"].as_array().cloned().unwrap_or_default();
        lags.len() == 2
            && lags
                .iter()
                .all(|l| l["last_source_fetch_offset"] == 10 && l["lag"] == 0)
    };
    eventually(
        Duration::from_secs(30),
        "orders caught up at 10",
        || async {
            let m = mirror(&sim, "B", "ab", "orders").await;
            done_if(caught_up(&m), m["mirror_lags"].clone())
        },
    )
    .await;

    sim.apply(&Action::DeleteTopic {
        cluster: "B".into(),
        topic: "orders".into(),
    })
    .unwrap();
    let (status, body) = get(&http(), &url(&sim, "B", "/links/ab/mirrors/orders")).await;
    assert_eq!(status, 404, "{body}");
    let mirrors = get_ok(&sim, "B", "/links/-/mirrors").await;
    let names: Vec<&str> = mirrors["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["mirror_topic_name"].as_str())
        .collect();
    assert_eq!(names, ["events"]);
    let link = get_ok(&sim, "B", "/links/ab").await;
    assert_eq!(link["topic_names"], json!(["events"]));
    assert_eq!(link["link_state"], "ACTIVE");

    // The source topic is free again; the old name is not (the mock cannot delete topics).
    let mirrors_url = url(&sim, "B", "/links/ab/mirrors");
    let create = |name: &'static str| {
        send(
            Method::POST,
            &mirrors_url,
            Some(json!({"source_topic_name": "orders", "mirror_topic_name": name})),
        )
    };
    let (status, body) = create("orders").await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = create("orders-2").await;
    assert_eq!(status, 204, "{body}");
    // The new mirror copies from offset 0, not from where the deleted one stopped.
    eventually(
        Duration::from_secs(30),
        "orders-2 caught up at 10",
        || async {
            let m = mirror(&sim, "B", "ab", "orders-2").await;
            let done = m["mirror_status"] == "ACTIVE" && caught_up(&m);
            done_if(done, (m["mirror_status"].clone(), m["mirror_lags"].clone()))
        },
    )
    .await;
}
