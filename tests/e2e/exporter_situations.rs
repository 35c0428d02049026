//! The exporter against the simulator, one test per situation users meet: the exported values
//! are asserted as Prometheus would read them from /metrics.

use std::time::Duration;

use crate::common::eventually::{done_if, eventually};
use crate::common::scrape::*;
use crate::common::sim::{send, start, url};
use cluster_link_sim::{Action, RestFault, Simulator};
use serde_json::json;

const T: Duration = Duration::from_secs(30);

/// A→B link `ab` mirroring `events` and `orders`, plus a bidirectional pair with prefixes.
const SCENARIO: &str = r#"
clusters:
  - name: A
    brokers: 1
    topics: [{name: events, partitions: 3}, {name: orders, partitions: 2}, {name: clicks, partitions: 2}]
  - name: B
    brokers: 1
    topics: [{name: clicks, partitions: 2}]
links:
  - name: ab
    source: A
    destination: B
    mirrors: [events, orders]
    configs:
      availability.check.ms: 200
      availability.check.consecutive.failure.threshold: 3
      consumer.offset.sync.enable: true
  - name: bidi
    source: A
    destination: B
    mirrors: [clicks]
    configs: {cluster.link.prefix: A_, link.mode: BIDIRECTIONAL, availability.check.ms: 200}
  - name: bidi
    source: B
    destination: A
    mirrors: [clicks]
    configs: {cluster.link.prefix: B_, link.mode: BIDIRECTIONAL, availability.check.ms: 200}
traffic:
  - {cluster: A, topic: events, records_per_second: 20}
"#;

fn state<'a>(link: &'a str, s: &'a str) -> [(&'a str, &'a str); 2] {
    [("link", link), ("state", s)]
}

fn mirror_state<'a>(link: &'a str, topic: &'a str, s: &'a str) -> [(&'a str, &'a str); 3] {
    [("link", link), ("mirror_topic", topic), ("state", s)]
}

async fn setup() -> (Simulator, cluster_link_exporter::Exporter) {
    let sim = start(SCENARIO).await;
    let exporter = start_exporter(&exporter_yaml(&sim, "300ms", &[("A", ""), ("B", "")])).await;
    wait_value(
        &exporter,
        "clusterlink_mirror_topic_state",
        &mirror_state("ab", "events", "ACTIVE"),
        T,
        |v| v == 1.0,
    )
    .await;
    (sim, exporter)
}

#[tokio::test(flavor = "multi_thread")]
async fn healthy_links_with_lag_rising_and_falling_under_traffic() {
    let (sim, exporter) = setup().await;
    let text = scrape(&exporter).await;
    assert_eq!(
        value(&text, "clusterlink_up", &[("kafka_cluster", "B")]),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "clusterlink_link_state", &state("ab", "ACTIVE")),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "clusterlink_link_state", &state("ab", "PAUSED")),
        Some(0.0)
    );
    assert_eq!(
        value(
            &text,
            "clusterlink_link_error",
            &[("link", "ab"), ("error", "NO_ERROR")]
        ),
        Some(1.0)
    );
    let source_id = sim.cluster("A").cluster_id.clone();
    assert_eq!(
        value(
            &text,
            "clusterlink_link_info",
            &[
                ("link", "ab"),
                ("source_cluster_id", &source_id),
                ("consumer_offset_sync", "true"),
                ("acl_sync", "false")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "clusterlink_mirror_topic_partitions",
            &[("mirror_topic", "events")]
        ),
        Some(3.0)
    );
    assert_eq!(
        value(
            &text,
            "clusterlink_link_mirror_topics",
            &state("ab", "ACTIVE")
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &text,
            "clusterlink_link_task_state",
            &[
                ("link", "ab"),
                ("task", "ConsumerOffsetSync"),
                ("state", "ACTIVE")
            ]
        ),
        Some(1.0)
    );
    assert!(value(
        &text,
        "clusterlink_mirror_partition_last_source_fetch_offset",
        &[("mirror_topic", "events"), ("partition", "0")]
    )
    .is_some());
    assert!(
        value(
            &text,
            "clusterlink_last_successful_collection_timestamp_seconds",
            &[("kafka_cluster", "B")]
        )
        .unwrap()
            > 1.7e9
    );

    // Throttle the link: traffic outruns it, lag rises; lift the cap: lag falls to 0.
    sim.apply(&Action::Replication {
        cluster: "B".into(),
        link: "ab".into(),
        delay_ms: None,
        max_records_per_second: Some(2.0),
    })
    .unwrap();
    let lag = [("link", "ab"), ("mirror_topic", "events")];
    let high = wait_value(
        &exporter,
        "clusterlink_mirror_topic_lag_messages",
        &lag,
        T,
        |v| v >= 20.0,
    )
    .await;
    let max = value(
        &scrape(&exporter).await,
        "clusterlink_mirror_topic_max_partition_lag_messages",
        &lag,
    )
    .unwrap();
    assert!(max > 0.0 && max <= high + 20.0, "max {max}, total {high}");
    sim.apply(&Action::Replication {
        cluster: "B".into(),
        link: "ab".into(),
        delay_ms: None,
        max_records_per_second: Some(0.0),
    })
    .unwrap();
    sim.apply(&Action::Traffic {
        enabled: false,
        cluster: None,
    })
    .unwrap();
    wait_value(
        &exporter,
        "clusterlink_mirror_topic_lag_messages",
        &lag,
        T,
        |v| v == 0.0,
    )
    .await;
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn link_paused_then_source_down_then_unavailable() {
    let (sim, exporter) = setup().await;
    let config = url(&sim, "B", "/links/ab/configs/cluster.link.paused");
    assert_eq!(
        send(
            reqwest::Method::PUT,
            &config,
            Some(json!({"value": "true"}))
        )
        .await
        .0,
        204
    );
    wait_value(
        &exporter,
        "clusterlink_link_state",
        &state("ab", "PAUSED"),
        T,
        |v| v == 1.0,
    )
    .await;
    let text = scrape(&exporter).await;
    assert_eq!(
        value(&text, "clusterlink_link_state", &state("ab", "ACTIVE")),
        Some(0.0)
    );
    assert_eq!(
        value(
            &text,
            "clusterlink_mirror_topic_state",
            &mirror_state("ab", "orders", "LINK_PAUSED")
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "clusterlink_link_task_state",
            &[
                ("link", "ab"),
                ("task", "TopicConfigsSync"),
                ("state", "LINK_PAUSED")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "clusterlink_link_mirror_topics",
            &state("ab", "LINK_PAUSED")
        ),
        Some(2.0)
    );
    assert_eq!(
        send(
            reqwest::Method::PUT,
            &config,
            Some(json!({"value": "false"}))
        )
        .await
        .0,
        204
    );

    sim.apply(&Action::BrokersDown {
        cluster: "A".into(),
        brokers: None,
    })
    .unwrap();
    wait_value(
        &exporter,
        "clusterlink_mirror_topic_state",
        &mirror_state("ab", "events", "SOURCE_UNAVAILABLE"),
        T,
        |v| v == 1.0,
    )
    .await;
    wait_value(
        &exporter,
        "clusterlink_link_state",
        &state("ab", "UNAVAILABLE"),
        T,
        |v| v == 1.0,
    )
    .await;
    wait_value(
        &exporter,
        "clusterlink_link_error",
        &[
            ("link", "ab"),
            ("error", "BOOTSTRAP_TCP_CONNECTION_FAILED_ERROR"),
        ],
        T,
        |v| v == 1.0,
    )
    .await;
    // The destination's REST API itself is fine: the exporter is up.
    assert_eq!(
        value(
            &scrape(&exporter).await,
            "clusterlink_up",
            &[("kafka_cluster", "B")]
        ),
        Some(1.0)
    );
    exporter.shutdown().await;
}

/// Requests B's REST API received so far: (mirror lists, i.e. collection cycles; single-mirror
/// reads of transition errors).
fn cycles_and_transition_reads(sim: &Simulator) -> (usize, usize) {
    let requests = sim.requests("B");
    let count = |part: &str| requests.iter().filter(|r| r.path.contains(part)).count();
    (
        count("/links/-/mirrors"),
        count("include_state_transition_errors=true"),
    )
}

/// Waits for 3 more collection cycles of B and says whether they read transition errors.
async fn next_cycles_read_transition_errors(sim: &Simulator) -> bool {
    let (cycles, reads) = cycles_and_transition_reads(sim);
    let (_, after) = eventually(T, "3 more collection cycles of B", || async {
        let now = cycles_and_transition_reads(sim);
        done_if(now.0 >= cycles + 3, now)
    })
    .await;
    after > reads
}

/// `/status.json` of the exporter, and link `name` of cluster B in it.
async fn status_link(exporter: &cluster_link_exporter::Exporter, name: &str) -> serde_json::Value {
    let url = format!("http://{}/status.json", exporter.address());
    let json: serde_json::Value = reqwest::get(&url)
        .await
        .expect("GET /status.json")
        .json()
        .await
        .expect("status.json is JSON");
    json["clusters"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "B"))
        .and_then(|c| c["links"].as_array())
        .and_then(|l| l.iter().find(|l| l["name"] == name))
        .cloned()
        .unwrap_or_default()
}

/// A fail-over drill on link `ab`: healthy cycles send no single-mirror request; a promote of
/// `orders` that hits a transition error shows it (family, request counter, status page,
/// progress 0 of 2); cleared, `orders` is STOPPED (1 of 2, not a problem, but not ready to
/// fail over: `mirror_topics_stopped`); `events` failed over completes the fail-over with its
/// time, the link no problem, its frozen lag exported as not copied rather than as a lag, and
/// cycles read no transition errors any more.
#[tokio::test(flavor = "multi_thread")]
async fn failover_progress_transition_errors_and_completion() {
    let (sim, exporter) = setup().await;
    // Every mirror topic ACTIVE: cycles send no single-mirror request.
    assert!(
        !next_cycles_read_transition_errors(&sim).await,
        "a healthy cycle reads no transition errors"
    );

    // The link's timing configs (availability.check.ms 200, threshold 3 in SCENARIO; the
    // simulator's defaults for the others), in /metrics and in /status.json.
    let text = scrape(&exporter).await;
    let ab = [("link", "ab")];
    let setting = |name: &str| value(&text, name, &ab);
    assert_eq!(
        setting("clusterlink_link_availability_check_interval_seconds"),
        Some(0.2)
    );
    assert_eq!(
        setting("clusterlink_link_availability_check_failure_threshold"),
        Some(3.0)
    );
    assert_eq!(
        setting("clusterlink_link_consumer_offset_sync_interval_seconds"),
        Some(30.0)
    );
    let link = status_link(&exporter, "ab").await;
    assert_eq!(
        link["settings"]["availability_check_interval_seconds"], 0.2,
        "{link:#}"
    );
    assert_eq!(link["settings"]["availability_check_failure_threshold"], 3);

    sim.apply(&Action::TransitionError {
        cluster: "B".into(),
        link: "ab".into(),
        mirror: "orders".into(),
        error_code: "INTERNAL_ERROR".into(),
        error_message: "Failed to <stop> the mirror".into(),
    })
    .expect("transition error set");
    sim.apply(&Action::PromoteMirrors {
        cluster: "B".into(),
        link: "ab".into(),
        mirrors: vec!["orders".into()],
    })
    .expect("promote requested");
    let topic = [("link", "ab"), ("mirror_topic", "orders")];
    wait_value(
        &exporter,
        "clusterlink_mirror_topic_transition_errors",
        &topic,
        T,
        |v| v == 1.0,
    )
    .await;
    let text = scrape(&exporter).await;
    assert_eq!(
        value(
            &text,
            "clusterlink_mirror_topic_state",
            &mirror_state("ab", "orders", "PENDING_STOPPED")
        ),
        Some(1.0)
    );
    assert!(
        value(
            &text,
            "clusterlink_rest_requests_total",
            &[("endpoint", "mirror"), ("status", "200")]
        )
        .is_some_and(|n| n >= 1.0),
        "the single-mirror requests are counted under endpoint=\"mirror\""
    );
    let link = status_link(&exporter, "ab").await;
    assert_eq!(link["failover"]["stage"], "in_progress", "{link:#}");
    assert_eq!(link["failover"]["mirror_topics_stopped"], 0, "{link:#}");
    assert_eq!(
        link["failover"]["mirror_topics_with_transition_errors"], 1,
        "{link:#}"
    );
    let orders = link["mirrors"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["name"] == "orders"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        orders["transition_errors"][0]["code"], "INTERNAL_ERROR",
        "{orders:#}"
    );
    assert_eq!(orders["problem"], true);
    let page = reqwest::get(format!("http://{}/", exporter.address()))
        .await
        .expect("GET /")
        .text()
        .await
        .expect("the page");
    assert!(page.contains(
        "stopping mirror topics (promote/failover): 0 of 2 stopped, 1 with transition errors"
    ));
    assert!(page.contains("transition error: INTERNAL_ERROR — Failed to &lt;stop&gt; the mirror"));

    sim.apply(&Action::ClearTransitionError {
        cluster: "B".into(),
        link: "ab".into(),
        mirror: "orders".into(),
    })
    .expect("transition error cleared");
    wait_value(
        &exporter,
        "clusterlink_mirror_topic_state",
        &mirror_state("ab", "orders", "STOPPED"),
        T,
        |v| v == 1.0,
    )
    .await;
    let text = scrape(&exporter).await;
    assert_eq!(
        value(&text, "clusterlink_mirror_topic_transition_errors", &topic),
        None,
        "STOPPED: its errors are no longer read"
    );
    // Partly failed over: not ready, whatever the other mirror topic's lag.
    let link = eventually(T, "the readiness of a link partly failed over", || async {
        let link = status_link(&exporter, "ab").await;
        let stopped = link["readiness"]["blockers"]
            .as_array()
            .is_some_and(|b| b.iter().any(|b| b == "mirror_topics_stopped"));
        done_if(stopped, link)
    })
    .await;
    assert_eq!(link["failover"]["stage"], "partial", "{link:#}");
    assert_eq!(link["problem"], false, "{link:#}");
    assert_eq!(link["readiness"]["verdict"], "not_ready", "{link:#}");
    assert!(
        link["readiness"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("mirror topics stopped (promoted or failed over) (1 of 2)")),
        "{link:#}"
    );

    let (status, body) = send(
        reqwest::Method::POST,
        &url(&sim, "B", "/links/ab/mirrors:failover"),
        Some(json!({"mirror_topic_names": ["events"]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let completed = wait_value(
        &exporter,
        "clusterlink_link_failover_completed_timestamp_seconds",
        &[("link", "ab")],
        T,
        |v| v > 0.0,
    )
    .await;
    let text = scrape(&exporter).await;
    let stopped_at = ["events", "orders"].map(|t| {
        value(
            &text,
            "clusterlink_mirror_topic_state_change_timestamp_seconds",
            &[("link", "ab"), ("mirror_topic", t)],
        )
        .expect("state change time")
    });
    assert_eq!(completed, stopped_at[0].max(stopped_at[1]), "the last stop");
    assert_eq!(
        value(
            &text,
            "clusterlink_link_mirror_topics",
            &state("ab", "STOPPED")
        ),
        Some(2.0)
    );
    // /metrics and /status.json agree (compared on the same cycle: retried until they do).
    let (text, link) = eventually(T, "/metrics and /status.json of the same cycle", || async {
        let text = scrape(&exporter).await;
        let link = status_link(&exporter, "ab").await;
        let frozen: f64 = ["events", "orders"]
            .iter()
            .filter_map(|t| {
                value(
                    &text,
                    "clusterlink_mirror_topic_not_copied_messages",
                    &[("link", "ab"), ("mirror_topic", t)],
                )
            })
            .sum();
        let agree = link["not_copied_messages"].as_f64() == Some(frozen);
        done_if(agree, (text, link))
    })
    .await;
    assert_eq!(link["failover"]["stage"], "completed", "{link:#}");
    assert_eq!(
        link["failover"]["completed_at_seconds"], completed,
        "{link:#}"
    );
    assert_eq!(link["problem"], false, "{link:#}");
    assert_eq!(link["mirror_topics_not_active"], 0, "{link:#}");
    assert!(
        link["lag_messages"].is_null(),
        "no live lag once all stopped: {link:#}"
    );
    let events = [("link", "ab"), ("mirror_topic", "events")];
    assert!(
        value(
            &text,
            "clusterlink_mirror_topic_not_copied_messages",
            &events
        )
        .is_some(),
        "the stopped topic's frozen lag is exported as what it left not copied"
    );
    assert_eq!(
        value(&text, "clusterlink_mirror_topic_lag_messages", &events),
        None,
        "and not as a lag"
    );
    let page = reqwest::get(format!("http://{}/", exporter.address()))
        .await
        .expect("GET /")
        .text()
        .await
        .expect("the page");
    assert!(page.contains("stopped (promoted or failed over) at "));
    assert!(
        !next_cycles_read_transition_errors(&sim).await,
        "every mirror topic STOPPED: cycles read no transition errors again"
    );
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn task_in_error_and_deleted_source_topic() {
    let (sim, exporter) = setup().await;
    sim.apply(&Action::TaskError {
        cluster: "B".into(),
        link: "ab".into(),
        task: "ConsumerOffsetSync".into(),
        error_code: "AUTHORIZATION_ERROR".into(),
        error_message: "not allowed".into(),
    })
    .unwrap();
    let task = [("link", "ab"), ("task", "ConsumerOffsetSync")];
    wait_value(&exporter, "clusterlink_link_task_errors", &task, T, |v| {
        v == 1.0
    })
    .await;
    let text = scrape(&exporter).await;
    assert_eq!(
        value(
            &text,
            "clusterlink_link_task_state",
            &[
                ("link", "ab"),
                ("task", "ConsumerOffsetSync"),
                ("state", "IN_ERROR")
            ]
        ),
        Some(1.0)
    );

    sim.apply(&Action::DeleteTopic {
        cluster: "A".into(),
        topic: "orders".into(),
    })
    .unwrap();
    wait_value(
        &exporter,
        "clusterlink_mirror_topic_error",
        &[
            ("mirror_topic", "orders"),
            ("error", "SOURCE_TOPIC_MAY_BE_DELETED"),
        ],
        T,
        |v| v == 1.0,
    )
    .await;
    let text = scrape(&exporter).await;
    assert_eq!(
        value(
            &text,
            "clusterlink_mirror_topic_state",
            &mirror_state("ab", "orders", "FAILED")
        ),
        Some(1.0)
    );
    assert!(value(
        &text,
        "clusterlink_mirror_topic_error",
        &[("mirror_topic", "events")]
    )
    .is_none());
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bidirectional_links_with_prefixes_on_both_clusters() {
    let (_sim, exporter) = setup().await;
    wait_value(
        &exporter,
        "clusterlink_mirror_topic_state",
        &[
            ("kafka_cluster", "A"),
            ("link", "bidi"),
            ("mirror_topic", "B_clicks"),
            ("state", "ACTIVE"),
        ],
        T,
        |v| v == 1.0,
    )
    .await;
    let text = scrape(&exporter).await;
    assert_eq!(
        value(
            &text,
            "clusterlink_mirror_topic_info",
            &[
                ("kafka_cluster", "B"),
                ("link", "bidi"),
                ("mirror_topic", "A_clicks"),
                ("source_topic", "clicks")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "clusterlink_mirror_topic_info",
            &[
                ("kafka_cluster", "A"),
                ("link", "bidi"),
                ("mirror_topic", "B_clicks"),
                ("source_topic", "clicks")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "clusterlink_link_info",
            &[
                ("kafka_cluster", "A"),
                ("link", "bidi"),
                ("link_mode", "BIDIRECTIONAL")
            ]
        ),
        Some(1.0)
    );
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn values_never_seen_before_are_exported_not_dropped() {
    let (sim, exporter) = setup().await;
    sim.apply(&Action::RestFault {
        cluster: "B".into(),
        fault: RestFault::UnknownValues,
        requests: None,
    })
    .unwrap();
    wait_value(
        &exporter,
        "clusterlink_link_state",
        &state("ab", "FUTURE_LINK_STATE"),
        T,
        |v| v == 1.0,
    )
    .await;
    let text = scrape(&exporter).await;
    assert_eq!(
        value(&text, "clusterlink_link_state", &state("ab", "ACTIVE")),
        Some(0.0)
    );
    assert_eq!(
        value(&text, "clusterlink_up", &[("kafka_cluster", "B")]),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "clusterlink_mirror_topic_state",
            &mirror_state("ab", "events", "FUTURE_MIRROR_STATUS")
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "clusterlink_link_mirror_topics",
            &state("ab", "FUTURE_MIRROR_STATUS")
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &text,
            "clusterlink_link_task_state",
            &[
                ("link", "ab"),
                ("task", "AclSync"),
                ("state", "FUTURE_TASK_STATE")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "clusterlink_mirror_topic_error",
            &[("mirror_topic", "events"), ("error", "FUTURE_MIRROR_ERROR")]
        ),
        Some(1.0)
    );
    exporter.shutdown().await;
}

/// Asserts that cluster B fails with `reason` while A stays up, and B's series are withdrawn.
async fn fails_with(sim: &Simulator, fault: RestFault, reason: &str) {
    let exporter = start_exporter(&exporter_yaml(
        sim,
        "300ms",
        &[("A", ""), ("B", "request_timeout: 1s")],
    ))
    .await;
    wait_value(
        &exporter,
        "clusterlink_up",
        &[("kafka_cluster", "B")],
        T,
        |v| v == 1.0,
    )
    .await;
    sim.apply(&Action::RestFault {
        cluster: "B".into(),
        fault,
        requests: None,
    })
    .unwrap();
    wait_value(
        &exporter,
        "clusterlink_collection_errors_total",
        &[("kafka_cluster", "B"), ("reason", reason)],
        T,
        |v| v >= 1.0,
    )
    .await;
    let text = scrape(&exporter).await;
    assert_eq!(
        value(&text, "clusterlink_up", &[("kafka_cluster", "B")]),
        Some(0.0),
        "{reason}"
    );
    assert_eq!(
        value(&text, "clusterlink_up", &[("kafka_cluster", "A")]),
        Some(1.0),
        "{reason}"
    );
    assert!(
        value(&text, "clusterlink_link_state", &[("kafka_cluster", "B")]).is_none(),
        "B's series must be withdrawn on {reason}"
    );
    assert!(value(&text, "clusterlink_link_state", &[("kafka_cluster", "A")]).is_some());
    sim.apply(&Action::ClearRestFault {
        cluster: "B".into(),
    })
    .unwrap();
    wait_value(
        &exporter,
        "clusterlink_up",
        &[("kafka_cluster", "B")],
        T,
        |v| v == 1.0,
    )
    .await;
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn each_upstream_failure_marks_only_that_cluster_down_with_its_reason() {
    let sim = start(SCENARIO).await;
    fails_with(&sim, RestFault::Unauthorized, "auth").await;
    fails_with(&sim, RestFault::Forbidden, "auth").await;
    fails_with(&sim, RestFault::Malformed, "decode").await;
    fails_with(&sim, RestFault::Truncated, "decode").await;
    fails_with(&sim, RestFault::ServerError, "http_5xx").await;
    fails_with(&sim, RestFault::Hang, "timeout").await;
    fails_with(&sim, RestFault::Reset, "connect").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limiting_backs_off_and_sends_nothing_before_it_ends() {
    let sim = start(SCENARIO).await;
    let exporter = start_exporter(&exporter_yaml(&sim, "200ms", &[("B", "")])).await;
    wait_value(
        &exporter,
        "clusterlink_up",
        &[("kafka_cluster", "B")],
        T,
        |v| v == 1.0,
    )
    .await;
    sim.apply(&Action::RestFault {
        cluster: "B".into(),
        fault: RestFault::RateLimited {
            retry_after_seconds: Some(3),
            reset_seconds: None,
        },
        requests: Some(1),
    })
    .unwrap();
    wait_value(
        &exporter,
        "clusterlink_rest_throttled_total",
        &[("kafka_cluster", "B")],
        T,
        |v| v == 1.0,
    )
    .await;
    wait_value(
        &exporter,
        "clusterlink_up",
        &[("kafka_cluster", "B")],
        T,
        |v| v == 1.0,
    )
    .await;
    let requests = sim.requests("B");
    let throttled = requests
        .iter()
        .position(|r| r.status == 429)
        .expect("a 429 was served");
    let next = &requests[throttled + 1];
    let gap = next.at_ms - requests[throttled].at_ms;
    assert!(
        gap >= 3000,
        "next request {gap} ms after the 429, before Retry-After: 3 ended"
    );
    let text = scrape(&exporter).await;
    assert_eq!(
        value(
            &text,
            "clusterlink_collection_errors_total",
            &[("kafka_cluster", "B"), ("reason", "rate_limited")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "clusterlink_rest_requests_total",
            &[("kafka_cluster", "B"), ("status", "429")]
        ),
        Some(1.0)
    );

    // Without Retry-After: exponential back-off from about 1 s.
    sim.apply(&Action::RestFault {
        cluster: "B".into(),
        fault: RestFault::RateLimited {
            retry_after_seconds: None,
            reset_seconds: None,
        },
        requests: Some(2),
    })
    .unwrap();
    wait_value(
        &exporter,
        "clusterlink_rest_throttled_total",
        &[("kafka_cluster", "B")],
        T,
        |v| v == 3.0,
    )
    .await;
    let requests = sim.requests("B");
    let limited: Vec<i64> = requests
        .iter()
        .filter(|r| r.status == 429)
        .map(|r| r.at_ms)
        .collect();
    assert_eq!(limited.len(), 3);
    let gap = limited[2] - limited[1];
    assert!(gap >= 800, "second back-off only {gap} ms");
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scrapes_never_call_upstream_and_serve_gzip() {
    let (sim, exporter) = setup().await;
    // A long poll interval so no collection happens during the scrapes.
    exporter.shutdown().await;
    let exporter = start_exporter(&exporter_yaml(&sim, "1h", &[("B", "")])).await;
    wait_value(
        &exporter,
        "clusterlink_up",
        &[("kafka_cluster", "B")],
        T,
        |v| v == 1.0,
    )
    .await;
    let before = sim.requests("B").len();
    let client = reqwest::Client::new();
    let scrapes = (0..20).map(|_| {
        client
            .get(format!("http://{}/metrics", exporter.address()))
            .header("accept-encoding", "gzip")
            .header(
                "accept",
                "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
            )
            .send()
    });
    for resp in futures::future::join_all(scrapes).await {
        let resp = resp.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-encoding"], "gzip");
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"));
        let body = resp.bytes().await.unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut text)
            .unwrap();
        assert!(text.ends_with("# EOF\n"));
    }
    assert_eq!(
        sim.requests("B").len(),
        before,
        "a scrape caused REST calls"
    );
    let plain = client
        .get(format!("http://{}/metrics", exporter.address()))
        .send()
        .await
        .unwrap();
    assert!(plain.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    for (path, status) in [
        ("/", 200),
        ("/-/healthy", 200),
        ("/-/ready", 200),
        ("/nope", 404),
    ] {
        let resp = client
            .get(format!("http://{}{path}", exporter.address()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{path}");
    }
    let page = client
        .get(format!("http://{}/", exporter.address()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("href=\"/metrics\"")
            && page.contains("<td>B</td>")
            && page.contains("class=\"up\""),
        "{page}"
    );
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_waits_for_the_first_cycle_of_every_cluster() {
    let sim = start(SCENARIO).await;
    // B's first answer comes after 8 s (within its request timeout): room for a loaded
    // machine to ask for readiness before it.
    sim.apply(&Action::RestFault {
        cluster: "B".into(),
        fault: RestFault::Latency { ms: 8_000 },
        requests: Some(1),
    })
    .unwrap();
    let exporter = start_exporter(&exporter_yaml(
        &sim,
        "300ms",
        &[("A", ""), ("B", "request_timeout: 20s")],
    ))
    .await;
    let ready = format!("http://{}/-/ready", exporter.address());
    assert_eq!(reqwest::get(&ready).await.unwrap().status(), 503);
    eventually(T, "ready", || async {
        let status = reqwest::get(&ready).await.unwrap().status();
        done_if(status == 200, status)
    })
    .await;
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_and_partition_switch() {
    let sim = start(SCENARIO).await;
    let exporter = start_exporter(&exporter_yaml(
        &sim,
        "300ms",
        &[("B", "links: {exclude: [bidi]}\nmirror_topics: {include: ['ev.*']}\npartition_metrics: false")],
    ))
    .await;
    wait_value(
        &exporter,
        "clusterlink_mirror_topic_state",
        &mirror_state("ab", "events", "ACTIVE"),
        T,
        |v| v == 1.0,
    )
    .await;
    let text = scrape(&exporter).await;
    assert!(value(&text, "clusterlink_link_state", &[("link", "bidi")]).is_none());
    assert!(value(
        &text,
        "clusterlink_mirror_topic_info",
        &[("mirror_topic", "orders")]
    )
    .is_none());
    assert!(value(&text, "clusterlink_mirror_partition_lag_messages", &[]).is_none());
    assert_eq!(
        value(&text, "clusterlink_links", &[("kafka_cluster", "B")]),
        Some(1.0)
    );
    exporter.shutdown().await;
}
