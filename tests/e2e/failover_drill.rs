//! A fail-over drill, end to end: the simulator's default scenario, the exporter on it (the
//! demo configuration: every measurement on, a probe through `dr-link`, its SLA 10 s; an RPO of
//! 3 s), the
//! real Prometheus with the shipped rules, the real Alertmanager with the shipped routing and
//! a webhook receiver for the pager and the chat (`common::alerting`; durations shortened by
//! `alerts/test-overrides.yml`). One Prometheus and Alertmanager for every phase, in order:
//!
//! 1. healthy: `dr-link` is `ready`, nothing fires or is pending for it, nothing pages;
//! 2. a replication delay of `dr-link` beyond the RPO (within the probe's SLA):
//!    `not_ready` (`lag_above_rpo`) and ClusterLinkNotReadyForFailover fires; the delay
//!    removed: `ready` again;
//! 3. `ab-link`'s fetcher stalled while the link stays ACTIVE: ClusterLinkMirrorStalled fires
//!    for `demo-perf-topic`; the source's retention then deletes what it held: the exporter
//!    counts exactly the records lost (the new log-start minus the frozen destination high
//!    watermark, per partition) and ClusterLinkRecordsLostToRetention pages;
//! 4. `bidi-link` paused deliberately: nothing but its own "paused too long" warning (10 s in
//!    the overrides, 1 h in production) fires or is pending for it, nothing pages;
//! 5. (the source's traffic stopped, so that only the drill writes there from now on;)
//! 6. a failover of `bidi-link`'s `A_clicks` with a state transition error:
//!    ClusterLinkMirrorTopicTransitionFailed pages at once; the error cleared, it resolves;
//! 7. a clean failover of `dr-link` (`orders` and the probe topic): the verdict turns
//!    `failed_over` with a completion time; nothing fires, is pending or pages for it, the
//!    probe stops writing to the old source (its counters stand still) and its mirror topic is
//!    not watched for writes, `orders` counts 0 records written since the stop, and the
//!    dashboard panels on what a fail-over lost have data in Prometheus;
//! 8. 25 records produced to the old source's `orders`: ClusterLinkWritesToOldSource pages
//!    (critical, to the pager), the exporter counts exactly 25;
//! 9. the old source goes down: the count stands and the page neither resolves nor repeats.
//!
//! Waits are generous (the machine is shared); how long the pages took is printed, not
//! asserted.

use std::time::{Duration, Instant};

use crate::common::alerting::{pages, Alerting};
use crate::common::dashboards::{panel_queries, ONLY_AFTER_A_STOP};
use crate::common::eventually::{done_if, eventually};
use crate::common::scrape::{scrape, value, wait_value};
use crate::common::sim::{wait_link_state, wait_mirror_status};
use cluster_link_exporter::config::Config;
use cluster_link_exporter::demo::{config_for, PROBE_TOPIC};
use cluster_link_exporter::{Exporter, ExporterOptions};
use cluster_link_sim::{Action, ActionOutcome, Scenario, Simulator};
use serde_json::Value;

/// A phase's wait for what it causes, on a loaded machine.
const WAIT: Duration = Duration::from_secs(120);
const DR: &str = "dr-link";
/// The link paused on purpose (and later failed over with a transition error).
const PAUSED: &str = "bidi-link";

fn act(sim: &Simulator, action: Action) {
    sim.apply(&action)
        .unwrap_or_else(|e| panic!("{action:?}: {e}"));
}

/// `(alertname, alertstate)` of every alert, pending or firing, matching `selector` (a
/// PromQL label selector without braces).
async fn alerts(alerting: &Alerting, selector: &str) -> Vec<(String, String)> {
    let result = alerting
        .query(&format!("ALERTS{{{selector}}}"))
        .await
        .unwrap_or_else(|e| panic!("ALERTS{{{selector}}}: {e}"));
    let mut found: Vec<_> = result
        .iter()
        .map(|s| {
            let label = |k: &str| s["metric"][k].as_str().unwrap_or_default().to_owned();
            (label("alertname"), label("alertstate"))
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

/// Waits until `alertname` fires in Prometheus for `selector`.
async fn wait_firing(alerting: &Alerting, alertname: &str, selector: &str) {
    let what = format!("{alertname} firing for {{{selector}}}");
    let selector = format!(r#"alertname="{alertname}",alertstate="firing",{selector}"#);
    eventually(WAIT, &what, || async {
        alerting.assert_running();
        let found = alerts(alerting, &selector).await;
        done_if(!found.is_empty(), found)
    })
    .await;
}

/// Waits until `expr` (a comparison) returns a series in Prometheus.
async fn wait_true(alerting: &Alerting, expr: &str) {
    let _ = eventually(WAIT, expr, || async {
        alerting.assert_running();
        let found = alerting.query(expr).await;
        done_if(found.as_ref().is_ok_and(|r| !r.is_empty()), found)
    })
    .await;
}

async fn wait_verdict(alerting: &Alerting, link: &str, verdict: &str) {
    let expr = format!(
        r#"clusterlink_link_failover_readiness{{kafka_cluster="B",link="{link}",verdict="{verdict}"}} == 1"#
    );
    wait_true(alerting, &expr).await;
}

/// Waits for a notification to the pager about `alertname` with these labels and `status`
/// among those received after the first `skip`; the alert.
async fn wait_page(
    alerting: &Alerting,
    skip: usize,
    labels: &[(&str, &str)],
    status: &str,
) -> Value {
    let what = format!("a {status} page for {labels:?}");
    eventually(WAIT, &what, || {
        let found = pages(&alerting.webhook, skip, labels)
            .into_iter()
            .map(|(_, a)| a)
            .find(|a| a["status"] == status);
        std::future::ready(found.ok_or_else(|| alerting.webhook.received().len()))
    })
    .await
}

/// Notifications (pager or chat) received after the first `skip` about alerts with `labels`.
fn notified(alerting: &Alerting, skip: usize, labels: &[(&str, &str)]) -> Vec<Value> {
    alerting.webhook.received()[skip..]
        .iter()
        .flat_map(|n| n.body["alerts"].as_array().cloned().unwrap_or_default())
        .filter(|a| labels.iter().all(|(k, v)| a["labels"][k] == *v))
        .map(|a| a["labels"].clone())
        .collect()
}

fn probe_counter(text: &str, name: &str) -> f64 {
    value(text, name, &[("kafka_cluster", "B"), ("link", DR)])
        .unwrap_or_else(|| panic!("no {name} for {DR}"))
}

struct Drill {
    sim: Simulator,
    exporter: Exporter,
    alerting: Alerting,
}

async fn start() -> Drill {
    let sim = Simulator::start(Scenario::default_scenario())
        .await
        .expect("simulator starts");
    let yaml = config_for(&sim, "1s").replacen(
        "defaults:\n",
        "defaults:\n  failover_readiness: {rpo: 3s}\n",
        1,
    );
    let config = Config::from_yaml(&yaml).expect("demo config");
    assert_eq!(
        config
            .clusters
            .iter()
            .map(|c| c.probes.len())
            .sum::<usize>(),
        1
    );
    let exporter = Exporter::start(ExporterOptions::new(config))
        .await
        .expect("exporter starts");
    let alerting = Alerting::start(&[&exporter.address().to_string()]).await;
    Drill {
        sim,
        exporter,
        alerting,
    }
}

/// Phase 1, healthy: `ready`, and for at least 20 s (longer than every `for:` a healthy link
/// could reach) nothing fires or is pending for `dr-link`, nothing pages.
async fn healthy(d: &Drill) {
    let from = Instant::now();
    wait_verdict(&d.alerting, DR, "ready").await;
    tokio::time::sleep(Duration::from_secs(20).saturating_sub(from.elapsed())).await;
    wait_verdict(&d.alerting, DR, "ready").await;
    let raised = alerts(&d.alerting, r#"kafka_cluster="B",link="dr-link""#).await;
    assert!(
        raised.is_empty(),
        "alerts for a healthy dr-link: {raised:?}"
    );
    assert!(
        pages(&d.alerting.webhook, 0, &[]).is_empty(),
        "pages while healthy: {:#?}",
        d.alerting.webhook.received()
    );
}

/// Phase 2, a replication delay (6 s) beyond the RPO (3 s), within the probe's SLA (10 s, so no
/// probe alert follows): `not_ready` because of `lag_above_rpo`, and the readiness warning
/// fires; without the delay, `ready` again.
async fn not_ready(d: &Drill) {
    let delay = |ms| Action::Replication {
        cluster: "B".into(),
        link: DR.into(),
        delay_ms: Some(ms),
        max_records_per_second: None,
    };
    act(&d.sim, delay(6_000));
    wait_verdict(&d.alerting, DR, "not_ready").await;
    wait_true(
        &d.alerting,
        r#"clusterlink_link_failover_blocked{kafka_cluster="B",link="dr-link",reason="lag_above_rpo"} == 1"#,
    )
    .await;
    wait_firing(
        &d.alerting,
        "ClusterLinkNotReadyForFailover",
        r#"kafka_cluster="B",link="dr-link""#,
    )
    .await;
    act(&d.sim, delay(0));
    wait_verdict(&d.alerting, DR, "ready").await;
}

/// Phase 3, `ab-link`'s fetcher stalls while the link stays ACTIVE and `demo-perf-topic` keeps
/// receiving records: ClusterLinkMirrorStalled fires for it; resumed, the link is `ready`
/// again. (Not `dr-link`, whose probe would count the stall as lost records.)
async fn stall(d: &Drill) {
    let stall = |stalled| Action::StallFetcher {
        cluster: "B".into(),
        link: "ab-link".into(),
        stalled,
    };
    act(&d.sim, stall(true));
    wait_firing(
        &d.alerting,
        "ClusterLinkMirrorStalled",
        r#"kafka_cluster="B",link="ab-link",mirror_topic="demo-perf-topic""#,
    )
    .await;
    wait_link_state(&d.sim, "B", "ab-link", "ACTIVE").await;
    records_lost_to_retention(d).await;
    act(&d.sim, stall(false));
    wait_verdict(&d.alerting, "ab-link", "ready").await;
}

/// Phase 3 (continued), the fetcher still stalled: the source's retention deletes every
/// record `demo-perf-topic` held. The exporter counts exactly the records deleted before the
/// mirror fetched them (per partition, the new log-start minus the frozen destination high
/// watermark), and ClusterLinkRecordsLostToRetention pages (critical) through Alertmanager.
async fn records_lost_to_retention(d: &Drill) {
    let skip = d.alerting.webhook.received().len();
    let answer = match d.sim.act(&Action::SourceRetention {
        cluster: "A".into(),
        topic: "demo-perf-topic".into(),
        partition: None,
    }) {
        Ok(ActionOutcome::Retention(r)) => r,
        other => panic!("source_retention answered {other:?}"),
    };
    let text = scrape(&d.exporter).await;
    let mirror = [
        ("kafka_cluster", "B"),
        ("link", "ab-link"),
        ("mirror_topic", "demo-perf-topic"),
    ];
    let expected: i64 = answer
        .partitions
        .iter()
        .map(|p| {
            let partition = p.partition.to_string();
            let at = [
                mirror[0],
                mirror[1],
                mirror[2],
                ("partition", partition.as_str()),
            ];
            let name = "clusterlink_mirror_partition_destination_high_watermark";
            let hw = value(&text, name, &at).unwrap_or_else(|| panic!("{name} {at:?}")) as i64;
            (p.log_start - hw).max(0)
        })
        .sum();
    assert!(expected > 0, "the stalled mirror lost nothing: {answer:?}");
    let lost = "clusterlink_mirror_topic_records_lost_to_retention";
    // The first cycles after the action may have read some partitions' new log-start only;
    // the count settles at exactly the records deleted before the mirror fetched them.
    let want = expected as f64;
    let got = wait_value(&d.exporter, lost, &mirror, WAIT, |v| v == want).await;
    assert_eq!(got, want, "records lost to retention, {answer:?}");
    let labels = [
        ("alertname", "ClusterLinkRecordsLostToRetention"),
        ("link", "ab-link"),
        ("mirror_topic", "demo-perf-topic"),
        ("severity", "critical"),
    ];
    let page = wait_page(&d.alerting, skip, &labels, "firing").await;
    eprintln!(
        "drill: records lost to retention: {got}, paged: {}",
        page["labels"]
    );
}

/// Phase 4, `bidi-link` paused on purpose: for 15 s after the exporter reports it PAUSED
/// (longer than every `for:` but the pause's own), only ClusterLinkPausedTooLong may fire or
/// be pending for it, and nothing about it pages. Resumed afterwards.
async fn paused(d: &Drill) {
    let skip = d.alerting.webhook.received().len();
    let pause = |value: &str| Action::SetLinkConfig {
        cluster: "B".into(),
        link: PAUSED.into(),
        name: "cluster.link.paused".into(),
        value: value.into(),
    };
    act(&d.sim, pause("true"));
    wait_link_state(&d.sim, "B", PAUSED, "PAUSED").await;
    wait_true(
        &d.alerting,
        r#"clusterlink_link_state{kafka_cluster="B",link="bidi-link",state="PAUSED"} == 1"#,
    )
    .await;
    let until = Instant::now() + Duration::from_secs(15);
    while Instant::now() < until {
        let raised = alerts(&d.alerting, r#"kafka_cluster="B",link="bidi-link""#).await;
        let unexpected: Vec<_> = raised
            .iter()
            .filter(|(name, _)| name != "ClusterLinkPausedTooLong")
            .collect();
        assert!(
            unexpected.is_empty(),
            "a paused bidi-link raised {unexpected:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let paged = pages(&d.alerting.webhook, skip, &[("link", PAUSED)]);
    assert!(paged.is_empty(), "pages for a paused link: {paged:#?}");
    act(&d.sim, pause("false"));
    wait_link_state(&d.sim, "B", PAUSED, "ACTIVE").await;
}

/// Phase 6, a failover of `bidi-link`'s `A_clicks` that reports a state transition error:
/// it pages at once (critical); cleared, the mirror topic stops and the page resolves.
async fn transition_error(d: &Drill) {
    let skip = d.alerting.webhook.received().len();
    let (link, mirror) = (PAUSED, "A_clicks");
    act(
        &d.sim,
        Action::TransitionError {
            cluster: "B".into(),
            link: link.into(),
            mirror: mirror.into(),
            error_code: "INTERNAL_ERROR".into(),
            error_message: "Failed to stop the mirror".into(),
        },
    );
    let at = Instant::now();
    act(
        &d.sim,
        Action::FailoverMirrors {
            cluster: "B".into(),
            link: link.into(),
            mirrors: vec![mirror.into()],
        },
    );
    wait_mirror_status(&d.sim, "B", link, mirror, "PENDING_STOPPED").await;
    let labels = [
        ("alertname", "ClusterLinkMirrorTopicTransitionFailed"),
        ("kafka_cluster", "B"),
        ("link", link),
        ("mirror_topic", mirror),
    ];
    let page = wait_page(&d.alerting, skip, &labels, "firing").await;
    eprintln!(
        "ClusterLinkMirrorTopicTransitionFailed paged {:?} after the failover (for: {:?})",
        at.elapsed(),
        d.alerting.for_of("ClusterLinkMirrorTopicTransitionFailed")
    );
    assert_eq!(page["labels"]["severity"], "critical");
    act(
        &d.sim,
        Action::ClearTransitionError {
            cluster: "B".into(),
            link: link.into(),
            mirror: mirror.into(),
        },
    );
    wait_mirror_status(&d.sim, "B", link, mirror, "STOPPED").await;
    wait_page(&d.alerting, skip, &labels, "resolved").await;
}

/// Phase 7, a clean failover of `dr-link` (`orders` and the probe topic, no writes to the old
/// source): `failed_over` with a completion time; 10 s later nothing fires, is pending or was
/// notified about it; the probe stopped (its counters stand still for 15 s) and its mirror
/// topic is not watched for writes to the old source.
async fn clean_failover(d: &Drill) {
    let skip = d.alerting.webhook.received().len();
    act(
        &d.sim,
        Action::FailoverMirrors {
            cluster: "B".into(),
            link: DR.into(),
            mirrors: vec!["orders".into(), PROBE_TOPIC.into()],
        },
    );
    for mirror in ["orders", PROBE_TOPIC] {
        wait_mirror_status(&d.sim, "B", DR, mirror, "STOPPED").await;
    }
    wait_verdict(&d.alerting, DR, "failed_over").await;
    wait_true(
        &d.alerting,
        r#"clusterlink_link_failover_completed_timestamp_seconds{kafka_cluster="B",link="dr-link"} > 0"#,
    )
    .await;
    let orders = [
        ("kafka_cluster", "B"),
        ("link", DR),
        ("mirror_topic", "orders"),
    ];
    let since_stop = "clusterlink_mirror_topic_source_records_since_stop";
    wait_value(&d.exporter, since_stop, &orders, WAIT, |v| v == 0.0).await;
    // The dashboard panels on what a fail-over lost have data now (the paging test's healthy
    // phase cannot give them any).
    let after_a_stop = panel_queries()
        .into_iter()
        .filter(|(_, _, expr)| ONLY_AFTER_A_STOP.iter().any(|f| expr.contains(f)));
    let mut checked = 0;
    for (_, _, expr) in after_a_stop {
        wait_true(&d.alerting, &expr).await;
        checked += 1;
    }
    assert_eq!(checked, ONLY_AFTER_A_STOP.len(), "a panel per family");
    // Long enough for probe rounds, polls and evaluations: a write to the old source pages
    // at once (`for: 0s`).
    tokio::time::sleep(Duration::from_secs(10)).await;
    let raised = alerts(&d.alerting, r#"kafka_cluster="B",link="dr-link""#).await;
    assert!(
        raised.is_empty(),
        "alerts after a clean fail-over: {raised:?}"
    );
    let told = notified(&d.alerting, skip, &[("link", DR)]);
    assert!(
        told.is_empty(),
        "notifications after a clean fail-over: {told:#?}"
    );
    // Records the probe sent before it heard of the stop are acknowledged within its SLA.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = scrape(&d.exporter).await;
    tokio::time::sleep(Duration::from_secs(15)).await;
    let after = scrape(&d.exporter).await;
    for counter in [
        "clusterlink_probe_records_sent_total",
        "clusterlink_probe_records_lost_total",
    ] {
        assert_eq!(
            probe_counter(&before, counter),
            probe_counter(&after, counter),
            "{counter} moved after the fail-over"
        );
    }
    let probe_mirror = [
        ("kafka_cluster", "B"),
        ("link", DR),
        ("mirror_topic", PROBE_TOPIC),
    ];
    assert_eq!(
        value(&after, since_stop, &probe_mirror),
        None,
        "the probe topic is watched"
    );
    assert_eq!(value(&after, since_stop, &orders), Some(0.0));
}

/// Phases 8 and 9: records produced to the old source after the failover page (critical),
/// counted exactly; the old source going down neither resolves the page nor changes the
/// count.
async fn writes_to_old_source(d: &Drill) {
    let skip = d.alerting.webhook.received().len();
    let at = Instant::now();
    let produced = d
        .sim
        .act(&Action::Produce {
            cluster: "A".into(),
            topic: "orders".into(),
            records: 25,
            partition: None,
        })
        .expect("produce applies");
    assert!(
        matches!(produced, ActionOutcome::Produced(ref p) if p.records == 25),
        "{produced:?}"
    );
    let labels = [
        ("alertname", "ClusterLinkWritesToOldSource"),
        ("kafka_cluster", "B"),
        ("link", DR),
        ("mirror_topic", "orders"),
    ];
    let page = wait_page(&d.alerting, skip, &labels, "firing").await;
    eprintln!(
        "ClusterLinkWritesToOldSource paged {:?} after the writes",
        at.elapsed()
    );
    assert_eq!(page["labels"]["severity"], "critical");
    let orders = &labels[1..];
    let since_stop = "clusterlink_mirror_topic_source_records_since_stop";
    wait_value(&d.exporter, since_stop, orders, WAIT, |v| v == 25.0).await;
    let probe_mirror = [
        ("kafka_cluster", "B"),
        ("link", DR),
        ("mirror_topic", PROBE_TOPIC),
    ];
    let paged_probe = pages(&d.alerting.webhook, skip, &probe_mirror);
    assert!(
        paged_probe.is_empty(),
        "the probe topic paged: {paged_probe:#?}"
    );

    // The old source goes down: the exporter cannot read it, and keeps the count.
    act(
        &d.sim,
        Action::BrokersDown {
            cluster: "A".into(),
            brokers: None,
        },
    );
    wait_true(
        &d.alerting,
        r#"clusterlink_kafka_up{kafka_cluster="B",connection="A",role="source"} == 0"#,
    )
    .await;
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        let text = scrape(&d.exporter).await;
        assert_eq!(
            value(&text, since_stop, orders),
            Some(25.0),
            "during the outage"
        );
        let firing = alerts(
            &d.alerting,
            r#"alertname="ClusterLinkWritesToOldSource",alertstate="firing",mirror_topic="orders""#,
        )
        .await;
        assert!(
            !firing.is_empty(),
            "the page ended during the source outage"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let resolved: Vec<_> = pages(&d.alerting.webhook, skip, &labels)
        .into_iter()
        .filter(|(_, a)| a["status"] == "resolved")
        .collect();
    assert!(
        resolved.is_empty(),
        "resolved during the outage: {resolved:#?}"
    );
    act(
        &d.sim,
        Action::BrokersUp {
            cluster: "A".into(),
            brokers: None,
        },
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_from_healthy_to_failed_over_pages_only_what_needs_a_human() {
    let d = start().await;
    let phase = |name: &str, from: Instant| eprintln!("drill: {name} done at {:?}", from.elapsed());
    let t0 = Instant::now();
    healthy(&d).await;
    phase("healthy", t0);
    not_ready(&d).await;
    phase("not ready", t0);
    stall(&d).await;
    phase("stall", t0);
    paused(&d).await;
    phase("paused link", t0);
    // 5. From now on only the drill writes to the source (traffic and consumers off on A).
    act(
        &d.sim,
        Action::Traffic {
            enabled: false,
            cluster: Some("A".into()),
        },
    );
    transition_error(&d).await;
    phase("transition error", t0);
    clean_failover(&d).await;
    phase("clean fail-over", t0);
    writes_to_old_source(&d).await;
    phase("writes to the old source", t0);
    d.alerting.assert_running();
    d.exporter.shutdown().await;
}
