//! The alerting path of the end-to-end tests: the shipped rules and Alertmanager routing with
//! `alerts/test-overrides.yml` applied, the real Prometheus (Debian `prometheus`) scraping
//! exporters, the real Alertmanager (Debian `prometheus-alertmanager`) and a webhook receiver
//! standing in for the pager (`/pager`) and the chat (`/chat`); queries and pages.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use serde_norway::Value as Yaml;

use super::servers::{
    encode, start_alertmanager, start_prometheus_for, temp_dir, Notification, Server, Webhook,
};

pub const ALERTS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/alerts");

/// `alerts/test-overrides.yml`.
pub struct Overrides {
    pub evaluation_interval: String,
    pub for_by_alert: serde_norway::Mapping,
    pub thresholds: serde_norway::Mapping,
    /// Alert name → {window in its expr → shorter window}.
    pub windows: serde_norway::Mapping,
    pub alertmanager: serde_norway::Mapping,
}

pub fn overrides() -> Overrides {
    let path = Path::new(ALERTS_DIR).join("test-overrides.yml");
    let text = std::fs::read_to_string(&path).expect("read alerts/test-overrides.yml");
    let y: Yaml = serde_norway::from_str(&text).expect("test-overrides.yml parses");
    let map = |key: &str| y[key].as_mapping().cloned().unwrap_or_default();
    Overrides {
        evaluation_interval: y["evaluation_interval"]
            .as_str()
            .expect("evaluation_interval")
            .to_owned(),
        for_by_alert: map("for"),
        thresholds: map("thresholds"),
        windows: map("windows"),
        alertmanager: map("alertmanager"),
    }
}

/// The shipped rule files with the overrides applied, written into `dir`.
pub fn rule_files(dir: &Path, o: &Overrides) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(ALERTS_DIR)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".rules.yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no alerts/*.rules.yml");
    for file in files {
        let mut y: Yaml = serde_norway::from_str(&std::fs::read_to_string(&file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for group in y["groups"].as_sequence_mut().expect("groups") {
            for rule in group["rules"].as_sequence_mut().expect("rules") {
                let rule = rule.as_mapping_mut().expect("rule mapping");
                let alert = rule.get("alert").and_then(Yaml::as_str).map(str::to_owned);
                if let Some(alert) = alert.as_deref() {
                    let short = o
                        .for_by_alert
                        .get(alert)
                        .unwrap_or_else(|| panic!("test-overrides.yml has no `for` for {alert}"))
                        .clone();
                    rule.insert("for".into(), short);
                    if let Some(windows) = o.windows.get(alert) {
                        shorten_windows(rule, alert, windows);
                    }
                } else if let Some(record) = rule.get("record").and_then(Yaml::as_str) {
                    if let Some(v) = o.thresholds.get(record) {
                        let value = match v {
                            Yaml::Number(n) => n.to_string(),
                            Yaml::String(s) => s.clone(),
                            other => panic!("threshold {record}: {other:?}"),
                        };
                        rule.insert("expr".into(), format!("vector({value})").into());
                    }
                }
            }
        }
        let target = dir.join(file.file_name().unwrap());
        std::fs::write(&target, serde_norway::to_string(&y).unwrap()).unwrap();
        out.push(target);
    }
    out
}

/// The shipped `alerts/alertmanager.yml` with the receivers' webhooks pointed at the test's
/// receiver (`/pager`, `/chat`) and the grouping durations of the overrides.
pub fn alertmanager_config(webhook: &Webhook, o: &Overrides) -> String {
    let text = std::fs::read_to_string(Path::new(ALERTS_DIR).join("alertmanager.yml"))
        .expect("read alerts/alertmanager.yml");
    let mut y: Yaml = serde_norway::from_str(&text).expect("alertmanager.yml parses");
    for receiver in y["receivers"].as_sequence_mut().expect("receivers") {
        let name = receiver["name"].as_str().unwrap().to_owned();
        if let Some(hooks) = receiver
            .get_mut("webhook_configs")
            .and_then(Yaml::as_sequence_mut)
        {
            for hook in hooks {
                hook["url"] = format!("{}/{name}", webhook.url).into();
            }
        }
    }
    // The root route takes every duration of the overrides; a child route only those it sets.
    fn shorten(route: &mut Yaml, o: &Overrides, root: bool) {
        for key in ["group_wait", "group_interval", "repeat_interval"] {
            if let Some(v) = o.alertmanager.get(key) {
                if root || route.get(key).is_some() {
                    route[key] = v.clone();
                }
            }
        }
        if let Some(routes) = route.get_mut("routes").and_then(Yaml::as_sequence_mut) {
            for r in routes {
                shorten(r, o, false);
            }
        }
    }
    shorten(&mut y["route"], o, true);
    serde_norway::to_string(&y).unwrap()
}

/// Pages (alerts in notifications to the pager receiver) matching `labels`, among the
/// notifications received after the first `skip`.
pub fn pages(
    webhook: &Webhook,
    skip: usize,
    labels: &[(&str, &str)],
) -> Vec<(Notification, Value)> {
    webhook
        .received()
        .into_iter()
        .skip(skip)
        .filter(|n| n.path == "/pager")
        .flat_map(|n| {
            let alerts = n.body["alerts"].as_array().cloned().unwrap_or_default();
            alerts
                .into_iter()
                .filter(|a| labels.iter().all(|(k, v)| a["labels"][k] == *v))
                .map(move |a| (n.clone(), a))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Runs an instant query; the result vector.
pub async fn query(prometheus: &Server, expr: &str) -> Result<Vec<Value>, String> {
    let client = reqwest::Client::new();
    let resp = client
        .get(format!(
            "{}/api/v1/query?query={}",
            prometheus.url,
            encode(expr)
        ))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let body: Value = resp.json().await.map_err(|e| e.to_string())?;
    if body["status"] != "success" {
        return Err(format!("{}: {}", body["errorType"], body["error"]));
    }
    let data = &body["data"];
    Ok(match data["resultType"].as_str() {
        Some("vector") | Some("matrix") => data["result"].as_array().cloned().unwrap_or_default(),
        // A scalar or string result is one value.
        _ => vec![data["result"].clone()],
    })
}

pub fn duration(v: &Yaml) -> Duration {
    cluster_link_exporter::parse_duration(v.as_str().expect("a duration string"))
        .expect("a valid duration")
}

/// Replaces each `[<window>]` of `alert`'s expr by `[<short>]`, per `windows`
/// (`test-overrides.yml`: `windows.<alert>`); a window the expr does not have is a mistake.
fn shorten_windows(rule: &mut serde_norway::Mapping, alert: &str, windows: &Yaml) {
    let mut expr = rule
        .get("expr")
        .and_then(Yaml::as_str)
        .unwrap_or_else(|| panic!("{alert}: no expr"))
        .to_owned();
    for (long, short) in windows.as_mapping().expect("windows.<alert>: a mapping") {
        let (long, short) = (long.as_str().unwrap(), short.as_str().unwrap());
        let range = format!("[{long}]");
        assert!(expr.contains(&range), "{alert}: no {range} in its expr");
        expr = expr.replace(&range, &format!("[{short}]"));
    }
    rule.insert("expr".into(), expr.into());
}

/// Prometheus scraping `targets` every second with the shipped rules (overrides applied),
/// sending to an Alertmanager with the shipped routing whose receivers are a webhook; all
/// stopped when dropped.
pub struct Alerting {
    pub overrides: Overrides,
    pub webhook: Webhook,
    pub alertmanager: Server,
    pub prometheus: Server,
    rules_dir: PathBuf,
}

impl Alerting {
    pub async fn start(targets: &[&str]) -> Self {
        let overrides = overrides();
        let webhook = Webhook::start().await;
        let alertmanager = start_alertmanager(&alertmanager_config(&webhook, &overrides));
        alertmanager.wait_ready(Duration::from_secs(30)).await;
        let rules_dir = temp_dir("rules");
        let rules = rule_files(&rules_dir, &overrides);
        let prometheus = start_prometheus_for(
            targets,
            &rules,
            &overrides.evaluation_interval,
            Some(alertmanager.url.trim_start_matches("http://")),
        );
        prometheus.wait_ready(Duration::from_secs(30)).await;
        Self {
            overrides,
            webhook,
            alertmanager,
            prometheus,
            rules_dir,
        }
    }

    /// The shortened `for:` of `alert`.
    pub fn for_of(&self, alert: &str) -> Duration {
        duration(&self.overrides.for_by_alert[alert])
    }

    /// An instant query's result vector.
    pub async fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        query(&self.prometheus, expr).await
    }

    /// Both servers still run.
    pub fn assert_running(&self) {
        self.prometheus.assert_running();
        self.alertmanager.assert_running();
    }
}

impl Drop for Alerting {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.rules_dir);
    }
}
