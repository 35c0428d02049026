//! The paging path, end to end: the simulator's default scenario, the exporter on it (the demo
//! configuration, every measurement on), the real Prometheus (Debian `prometheus`) with the
//! shipped rules, the real Alertmanager (Debian `prometheus-alertmanager`) with the shipped
//! routing and inhibitions, and a webhook receiver standing in for the pager and the chat.
//! Only the durations are shortened, through `alerts/test-overrides.yml`.
//!
//! It checks: every dashboard panel's query returns data; the source cluster going down pages
//! with the expected labels within the time the rules promise, as one page for its three links
//! (grouped per source), and its per-topic pages are inhibited; the recovery sends the resolved notification; and a link under maintenance (a
//! silence) pauses and loses its source without paging, while a link not silenced does page.
//! And with two exporter processes (an HA pair) in one job: one page per incident, not one per
//! replica, also when a replica dies in the middle of it. Links that break for their own
//! reasons while their source is up page one by one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use crate::common::alerting::{
    alertmanager_config, duration, overrides, pages, query, rule_files, Alerting,
};
use crate::common::dashboards::{panel_queries, ONLY_AFTER_A_STOP};
use crate::common::eventually::{done_if, eventually, eventually_every};
use crate::common::exporter::NOT_SERVED_BY_THE_SIMULATOR;
use crate::common::servers::{
    binary, free_port, start_alertmanager, start_prometheus, start_prometheus_for, temp_dir,
    KillOnDrop, Notification, Webhook,
};
use crate::common::sim::wait_link_state;
use cluster_link_exporter::config::Config;
use cluster_link_exporter::demo::config_for;
use cluster_link_exporter::{Exporter, ExporterOptions};
use cluster_link_sim::{Action, Scenario, Simulator};
use serde_json::Value;
use serde_norway::Value as Yaml;

/// The two alerts that page for a link whose source is down: the fast corroborated one first,
/// ClusterLinkDown (muted by it) when the Kafka side does not confirm.
const LINK_PAGES: [&str; 2] = ["ClusterLinkSourceOutage", "ClusterLinkDown"];

/// Waits for a page about `link` on B from one of [`LINK_PAGES`] with this `status`, among the
/// notifications received after the first `skip`; checks that only one of them paged.
async fn wait_for_link_page(
    webhook: &Webhook,
    skip: usize,
    link: &str,
    status: &str,
    timeout: Duration,
) -> (Notification, Value) {
    let what = format!("a {status} page for link {link}");
    let found = eventually(timeout, &what, || {
        let found = pages(webhook, skip, &[("kafka_cluster", "B"), ("link", link)])
            .into_iter()
            .find(|(_, a)| {
                a["status"] == status && LINK_PAGES.iter().any(|n| a["labels"]["alertname"] == *n)
            });
        std::future::ready(found.ok_or_else(|| webhook.received().len()))
    })
    .await;
    let paged: BTreeSet<String> = pages(webhook, skip, &[("kafka_cluster", "B"), ("link", link)])
        .iter()
        .filter_map(|(_, a)| a["labels"]["alertname"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(paged.len(), 1, "link {link} paged by {paged:?}");
    found
}

/// The groups paged (firing notifications to `/pager` with an alert matching `labels`), by
/// Alertmanager's group key: the group's labels and the links its alerts name.
fn firing_page_groups(
    webhook: &Webhook,
    labels: &[(&str, &str)],
) -> BTreeMap<String, (Value, BTreeSet<String>)> {
    let mut groups = BTreeMap::<String, (Value, BTreeSet<String>)>::new();
    for (n, alert) in pages(webhook, 0, labels) {
        if n.body["status"] != "firing" {
            continue;
        }
        let key = n.body["groupKey"].as_str().unwrap_or_default().to_owned();
        let group = groups
            .entry(key)
            .or_insert_with(|| (n.body["groupLabels"].clone(), BTreeSet::new()));
        if let Some(link) = alert["labels"]["link"].as_str() {
            group.1.insert(link.to_owned());
        }
    }
    groups
}

fn apply(sim: &Simulator, action: Action) {
    sim.apply(&action).expect("action applies");
}

/// Takes every broker of the source cluster A down (`up: false`) or brings them back.
fn set_source_brokers(sim: &Simulator, up: bool) {
    let cluster = "A".to_owned();
    apply(
        sim,
        if up {
            Action::BrokersUp {
                cluster,
                brokers: None,
            }
        } else {
            Action::BrokersDown {
                cluster,
                brokers: None,
            }
        },
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_outage_pages_resolves_and_maintenance_stays_quiet() {
    let o = overrides();
    let sim = Simulator::start(Scenario::default_scenario())
        .await
        .expect("simulator starts");
    let poll = Duration::from_secs(1);
    let config = Config::from_yaml(&config_for(&sim, "1s")).expect("demo config");
    let exporter = Exporter::start(ExporterOptions::new(config))
        .await
        .expect("exporter starts");
    let webhook = Webhook::start().await;
    let alertmanager = start_alertmanager(&alertmanager_config(&webhook, &o));
    alertmanager.wait_ready(Duration::from_secs(30)).await;
    let rules_dir = temp_dir("rules");
    let rules = rule_files(&rules_dir, &o);
    let prometheus = start_prometheus(
        &exporter.address().to_string(),
        &rules,
        &o.evaluation_interval,
        Some(alertmanager.url.trim_start_matches("http://")),
    );
    prometheus.wait_ready(Duration::from_secs(30)).await;

    // Healthy for at least 20 s, and until every dashboard query has data (every rate()
    // window needs a few samples; a loaded machine may take longer): then check that nothing
    // paged.
    let healthy_from = tokio::time::Instant::now();
    let queries = panel_queries();
    assert!(queries.len() > 20, "only {} panel queries", queries.len());
    let what = "20 s healthy and data from every dashboard query";
    let every = Duration::from_secs(2);
    eventually_every(every, Duration::from_secs(90), what, || async {
        prometheus.assert_running();
        let mut empty = Vec::new();
        let mut failed = Vec::new();
        for (dashboard, panel, expr) in &queries {
            match query(&prometheus, expr).await {
                // A panel on a family the simulator cannot serve has no data here; it must
                // still run (checked against real Kafka by the family's own test).
                Ok(result) if result.is_empty() && !on_unserved_family(expr) => {
                    empty.push(format!("{dashboard} / {panel}: {expr}"))
                }
                Ok(_) => {}
                Err(e) => failed.push(format!("{dashboard} / {panel}: {expr}: {e}")),
            }
        }
        let waited = healthy_from.elapsed();
        let done = failed.is_empty() && empty.is_empty() && waited >= Duration::from_secs(20);
        done_if(
            done,
            format!(
                "queries that failed:\n{}\n\nqueries that returned nothing:\n{}",
                failed.join("\n"),
                empty.join("\n")
            ),
        )
    })
    .await;
    let firing = query(
        &prometheus,
        r#"ALERTS{alertstate="firing",severity="critical"}"#,
    )
    .await
    .unwrap();
    assert!(
        firing.is_empty(),
        "critical alerts while healthy: {firing:#?}"
    );
    assert!(
        pages(&webhook, 0, &[]).is_empty(),
        "pages while healthy: {:#?}",
        webhook.received()
    );

    // The source cluster goes down: its links on B turn UNAVAILABLE and page.
    let outage_at = tokio::time::Instant::now();
    set_source_brokers(&sim, false);
    wait_link_state(&sim, "B", "dr-link", "UNAVAILABLE").await;
    let unavailable_at = tokio::time::Instant::now();
    let link_down_for = duration(&o.for_by_alert["ClusterLinkDown"])
        .max(duration(&o.for_by_alert["ClusterLinkSourceOutage"]));
    let group_wait = duration(&o.alertmanager["group_wait"]);
    let eval = duration(&Yaml::from(o.evaluation_interval.as_str()));
    // What the rules promise: the exporter's next poll, one scrape (1 s), one evaluation, the
    // `for:`, and Alertmanager's group_wait. Waited for 4 times as long: the processes share
    // a loaded machine. How long it took is printed, not asserted: timing goals belong in
    // benchmarks.
    let promised = poll + Duration::from_secs(1) + eval + link_down_for + group_wait;
    let page_wait = promised * 4;
    let (page, alert) = wait_for_link_page(&webhook, 0, "dr-link", "firing", page_wait).await;
    let alertname = alert["labels"]["alertname"].as_str().unwrap().to_owned();
    eprintln!(
        "{alertname} paged {:?} after the outage, {:?} after the link turned UNAVAILABLE \
         (promised within {promised:?} of that)",
        page.at.duration_since(outage_at),
        page.at.saturating_duration_since(unavailable_at),
    );
    assert_eq!(alert["labels"]["severity"], "critical");
    if alertname == "ClusterLinkDown" {
        assert_eq!(alert["labels"]["state"], "UNAVAILABLE");
    }
    let runbook = alert["annotations"]["runbook_url"].as_str().unwrap();
    assert!(
        runbook.ends_with(&format!("docs/runbooks.md#{}", alertname.to_lowercase())),
        "{runbook}"
    );
    assert!(
        alert["annotations"]["description"]
            .as_str()
            .unwrap()
            .contains("dr-link"),
        "{alert}"
    );
    // The other links from A page too, in the same group: one page for the dead source,
    // listing its three links.
    for link in ["ab-link", "bidi-link"] {
        wait_for_link_page(&webhook, 0, link, "firing", page_wait).await;
    }
    let source_a = sim.cluster("A").cluster_id.clone();
    let groups = firing_page_groups(&webhook, &[("kafka_cluster", "B")]);
    assert_eq!(groups.len(), 1, "pages for the outage of A: {groups:#?}");
    let (group_labels, links) = groups.into_values().next().unwrap();
    let expected = serde_json::json!({
        "alertname": "ClusterLinkSourceOutage",
        "source_cluster_id": source_a,
    });
    assert_eq!(group_labels, expected);
    assert_eq!(
        links,
        ["ab-link", "bidi-link", "dr-link"]
            .map(str::to_owned)
            .into()
    );
    // The links' per-topic alerts fire in Prometheus but are inhibited: they do not page.
    // Wait until one fires (no fixed sleep), then as long as Alertmanager would take to page
    // it if it were not inhibited.
    let mirror_for = duration(&o.for_by_alert["ClusterLinkMirrorTopicSourceUnavailable"]);
    let what = "ClusterLinkMirrorTopicSourceUnavailable firing in Prometheus";
    let every = Duration::from_millis(500);
    eventually_every(every, mirror_for + Duration::from_secs(30), what, || async {
        let firing = query(
            &prometheus,
            r#"ALERTS{alertname="ClusterLinkMirrorTopicSourceUnavailable",alertstate="firing",kafka_cluster="B"}"#,
        )
        .await
        .unwrap();
        done_if(!firing.is_empty(), firing)
    })
    .await;
    tokio::time::sleep(group_wait + Duration::from_secs(3)).await;
    let leaked: Vec<_> = pages(&webhook, 0, &[("kafka_cluster", "B")])
        .into_iter()
        .filter(|(_, a)| LINK_PAGES.iter().all(|n| a["labels"]["alertname"] != *n))
        .map(|(_, a)| a["labels"].clone())
        .collect();
    assert!(
        leaked.is_empty(),
        "pages not inhibited by the link's page: {leaked:#?}"
    );

    // Recovery: the resolved notification reaches the pager.
    set_source_brokers(&sim, true);
    wait_link_state(&sim, "B", "dr-link", "ACTIVE").await;
    wait_for_link_page(&webhook, 0, "dr-link", "resolved", Duration::from_secs(30)).await;

    // Maintenance on dr-link: silenced, paused, then its source goes down. No page for it;
    // ab-link, not silenced, pages again.
    // The silence exactly as docs/runbooks.md tells an operator to add it.
    let amtool = binary("amtool", "prometheus-alertmanager");
    let out = std::process::Command::new(&amtool)
        .args([
            "silence",
            "add",
            "kafka_cluster=B",
            "link=dr-link",
            "--duration=1h",
            "--comment=maintenance: planned source cluster work",
            "--author=paging test",
            &format!("--alertmanager.url={}", alertmanager.url),
        ])
        .output()
        .expect("run amtool");
    assert!(
        out.status.success(),
        "amtool silence add failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pages_before = webhook.received().len();
    apply(
        &sim,
        Action::SetLinkConfig {
            cluster: "B".into(),
            link: "dr-link".into(),
            name: "cluster.link.paused".into(),
            value: "true".into(),
        },
    );
    wait_link_state(&sim, "B", "dr-link", "PAUSED").await;
    set_source_brokers(&sim, false);
    // ab-link pages: the path works during the maintenance window.
    let (page, _) =
        wait_for_link_page(&webhook, pages_before, "ab-link", "firing", page_wait).await;
    // Wait as long again as a page for dr-link could take, then check nothing came.
    tokio::time::sleep(promised + mirror_for).await;
    let dr_pages: Vec<_> = webhook.received()[pages_before..]
        .iter()
        .filter(|n| n.path == "/pager" || n.path == "/chat")
        .flat_map(|n| n.body["alerts"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["labels"]["link"] == "dr-link")
        .map(|a| a["labels"].clone())
        .collect();
    assert!(
        dr_pages.is_empty(),
        "notifications for the silenced link: {dr_pages:#?}"
    );
    // The rules did see it: something about dr-link is firing in Prometheus, only silenced.
    let dr_firing = query(
        &prometheus,
        r#"ALERTS{alertstate="firing",kafka_cluster="B",link="dr-link"}"#,
    )
    .await
    .unwrap();
    assert!(
        !dr_firing.is_empty(),
        "nothing firing for dr-link: the silence was not what kept it quiet"
    );
    drop(page);
    prometheus.assert_running();
    alertmanager.assert_running();
    exporter.shutdown().await;
    drop(prometheus);
    drop(alertmanager);
    let _ = std::fs::remove_dir_all(rules_dir);
}

const BIN: &str = env!("CARGO_BIN_EXE_cluster-link-exporter");

/// One replica of the exporter: the binary on `config`, listening on `port`, its log in `log`.
fn spawn_replica(config: &Path, port: u16, log: &Path) -> KillOnDrop {
    let log = std::fs::File::create(log).expect("create the replica's log");
    KillOnDrop(
        std::process::Command::new(BIN)
            .arg("--config")
            .arg(config)
            .args(["--web.listen-address", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start an exporter replica"),
    )
}

/// Notifications to `receiver` (`/pager`, `/chat`) of the group with these labels and status.
fn group_notifications(
    webhook: &Webhook,
    receiver: &str,
    group: &[(&str, &str)],
    status: &str,
) -> Vec<Notification> {
    webhook
        .received()
        .into_iter()
        .filter(|n| n.path == receiver && n.body["status"] == status)
        .filter(|n| group.iter().all(|(k, v)| n.body["groupLabels"][k] == *v))
        .collect()
}

/// Every alert paged so far carries neither `instance` nor `pod`, and every group was paged
/// (firing) once: two replicas made one page per incident. A later notification of a group
/// counts as an update of its page, not a second page, only when it brings an alert the group
/// had not paged yet (one source's links whose availability checks fail some seconds apart
/// join its page after `group_interval`); one with nothing new is a repeated page.
fn assert_one_page_per_group(webhook: &Webhook) {
    let mut firing_per_group = BTreeMap::<String, (usize, BTreeSet<String>)>::new();
    for n in webhook.received().iter().filter(|n| n.path == "/pager") {
        for alert in n.body["alerts"].as_array().into_iter().flatten() {
            assert!(
                alert["labels"].get("instance").is_none() && alert["labels"].get("pod").is_none(),
                "a page names a replica: {alert}"
            );
        }
        if n.body["status"] == "firing" {
            let alerts: BTreeSet<String> = n.body["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["status"] == "firing")
                .map(|a| a["labels"].to_string())
                .collect();
            let (pages, seen) = firing_per_group
                .entry(n.body["groupLabels"].to_string())
                .or_default();
            let first = *pages == 0;
            let nothing_new = alerts.is_subset(seen);
            // Alertmanager's update when some alerts of the group resolve is not a new page.
            let some_resolved = n.body["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| a["status"] == "resolved");
            if first || (nothing_new && !some_resolved) {
                *pages += 1;
            }
            seen.extend(alerts);
        }
    }
    let repeated: Vec<_> = firing_per_group
        .iter()
        .filter(|(_, (n, _))| *n > 1)
        .map(|(group, (n, _))| (group, n))
        .collect();
    assert!(
        repeated.is_empty(),
        "groups paged more than once: {repeated:#?}\n{:#?}",
        webhook.received()
    );
}

/// Two exporter processes watching the same clusters (an HA pair), scraped by the real
/// Prometheus in one job, with the shipped rules and Alertmanager: a source outage pages once
/// per link, not once per replica; one replica dying in the middle of the incident sends a
/// warning to chat and neither resolves nor repeats the page; the recovery resolves it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ha_pair_pages_once_per_incident() {
    // The test's own HTTP clients (no exporter in this process installs it).
    cluster_link_exporter::install_crypto_provider();
    let o = overrides();
    let sim = Simulator::start(Scenario::default_scenario())
        .await
        .expect("simulator starts");
    let dir = temp_dir("ha-pair");
    let config = dir.join("config.yaml");
    std::fs::write(&config, config_for(&sim, "1s")).expect("write the configuration");
    let ports = [free_port(), free_port()];
    let _replica_a = spawn_replica(&config, ports[0], &dir.join("a.log"));
    let mut replica_b = spawn_replica(&config, ports[1], &dir.join("b.log"));
    let webhook = Webhook::start().await;
    let alertmanager = start_alertmanager(&alertmanager_config(&webhook, &o));
    alertmanager.wait_ready(Duration::from_secs(30)).await;
    let rules = rule_files(&dir, &o);
    let targets = ports.map(|p| format!("127.0.0.1:{p}"));
    let prometheus = start_prometheus_for(
        &[targets[0].as_str(), targets[1].as_str()],
        &rules,
        &o.evaluation_interval,
        Some(alertmanager.url.trim_start_matches("http://")),
    );
    prometheus.wait_ready(Duration::from_secs(30)).await;

    // Both replicas collect: each reports dr-link ACTIVE.
    let active =
        r#"count(clusterlink_link_state{kafka_cluster="B",link="dr-link",state="ACTIVE"} == 1)"#;
    let _ = eventually(
        Duration::from_secs(90),
        "both replicas report dr-link",
        || async {
            prometheus.assert_running();
            let found = query(&prometheus, active).await;
            let both = found
                .as_ref()
                .is_ok_and(|r| r.first().is_some_and(|s| s["value"][1] == "2"));
            done_if(both, found)
        },
    )
    .await;
    assert!(pages(&webhook, 0, &[]).is_empty(), "pages while healthy");

    // The source cluster goes down: one page per link.
    set_source_brokers(&sim, false);
    wait_link_state(&sim, "B", "dr-link", "UNAVAILABLE").await;
    let page_wait = Duration::from_secs(60);
    let (page, _) = wait_for_link_page(&webhook, 0, "dr-link", "firing", page_wait).await;
    // dr-link's page group (per source for ClusterLinkSourceOutage, else per link).
    let group: Vec<(String, String)> = page.body["groupLabels"]
        .as_object()
        .expect("groupLabels")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    let dr_link: Vec<(&str, &str)> = group.iter().map(|(k, v)| (&**k, &**v)).collect();
    assert!(
        !dr_link.is_empty(),
        "a page without group labels: {:#?}",
        page.body
    );

    // Replica B dies in the middle of the incident: its warning reaches chat, the page stays.
    replica_b.kill().expect("stop replica B");
    replica_b.wait().expect("reap replica B");
    let replica_down = [("alertname", "ClusterLinkExporterReplicaDown")];
    eventually(page_wait, "ClusterLinkExporterReplicaDown in chat", || {
        let found = group_notifications(&webhook, "/chat", &replica_down, "firing");
        std::future::ready(done_if(!found.is_empty(), webhook.received().len()))
    })
    .await;
    // Long enough for Alertmanager to send the group again if it had changed.
    let group_interval = duration(&o.alertmanager["group_interval"]);
    tokio::time::sleep(group_interval * 2 + Duration::from_secs(2)).await;
    assert_one_page_per_group(&webhook);
    let pages_about_exporter = pages(&webhook, 0, &[("alertname", "ClusterLinkExporterDown")]);
    assert!(pages_about_exporter.is_empty(), "{pages_about_exporter:#?}");
    assert!(
        group_notifications(&webhook, "/pager", &dr_link, "resolved").is_empty(),
        "the page resolved when one replica died"
    );

    // Recovery: resolved once.
    set_source_brokers(&sim, true);
    wait_for_link_page(&webhook, 0, "dr-link", "resolved", page_wait).await;
    tokio::time::sleep(group_interval * 2 + Duration::from_secs(2)).await;
    let resolved = group_notifications(&webhook, "/pager", &dr_link, "resolved");
    assert_eq!(resolved.len(), 1, "resolved notifications: {resolved:#?}");
    assert_one_page_per_group(&webhook);
    prometheus.assert_running();
    alertmanager.assert_running();
    drop(prometheus);
    drop(alertmanager);
    let _ = std::fs::remove_dir_all(dir);
}

/// Two links from the same source break for their own reasons (each one's source topic is
/// deleted: its mirror topic turns FAILED) while the source stays up: two pages, one per
/// link. Only a source outage is grouped per source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_link_failures_page_once_per_link() {
    let sim = Simulator::start(Scenario::default_scenario())
        .await
        .expect("simulator starts");
    let config = Config::from_yaml(&config_for(&sim, "1s")).expect("demo config");
    let exporter = Exporter::start(ExporterOptions::new(config))
        .await
        .expect("exporter starts");
    let alerting = Alerting::start(&[&exporter.address().to_string()]).await;
    let ready = r#"clusterlink_mirror_topic_state{kafka_cluster="B",state="ACTIVE"} == 1"#;
    let _ = eventually(
        Duration::from_secs(90),
        "mirror topics ACTIVE in Prometheus",
        || async {
            alerting.assert_running();
            let found = alerting.query(ready).await;
            done_if(found.as_ref().is_ok_and(|r| r.len() >= 3), found)
        },
    )
    .await;
    assert!(
        pages(&alerting.webhook, 0, &[]).is_empty(),
        "pages while healthy"
    );

    // ab-link mirrors A's demo-perf-topic, bidi-link A's clicks (as A_clicks).
    for topic in ["demo-perf-topic", "clicks"] {
        apply(
            &sim,
            Action::DeleteTopic {
                cluster: "A".into(),
                topic: topic.into(),
            },
        );
    }
    let failed = alerting.for_of("ClusterLinkMirrorTopicFailed");
    let what = "pages for ab-link and bidi-link";
    let groups = eventually(failed * 4 + Duration::from_secs(60), what, || {
        let groups = firing_page_groups(&alerting.webhook, &[("kafka_cluster", "B")]);
        let links: BTreeSet<String> = groups.values().flat_map(|(_, l)| l.clone()).collect();
        let both = links.contains("ab-link") && links.contains("bidi-link");
        std::future::ready(done_if(both, groups))
    })
    .await;
    let mut paged: Vec<_> = groups.into_values().collect();
    paged.sort_by_key(|(_, links)| links.iter().next().cloned());
    let links: Vec<_> = paged.iter().map(|(_, l)| l.clone()).collect();
    assert_eq!(
        links,
        [
            ["ab-link".to_owned()].into(),
            ["bidi-link".to_owned()].into()
        ],
        "one page per link: {paged:#?}"
    );
    for (group_labels, links) in &paged {
        let link = links.iter().next().unwrap();
        assert_eq!(group_labels["link"], link.as_str(), "{group_labels}");
        assert!(
            group_labels.get("source_cluster_id").is_none(),
            "{group_labels}"
        );
    }
    alerting.assert_running();
    exporter.shutdown().await;
}

/// Whether the panel query `expr` reads a family the simulator cannot serve
/// ([`NOT_SERVED_BY_THE_SIMULATOR`]).
fn on_unserved_family(expr: &str) -> bool {
    NOT_SERVED_BY_THE_SIMULATOR
        .iter()
        .any(|(name, _)| expr.contains(name))
        || ONLY_AFTER_A_STOP.iter().any(|name| expr.contains(name))
}
