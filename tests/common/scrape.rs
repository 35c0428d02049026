//! Helpers for exporter tests: start an exporter against a simulator, scrape it, read sample
//! values.

#![allow(dead_code)]

use std::time::Duration;

use cluster_link_exporter::config::Config;
use cluster_link_exporter::exporter::Exporter;

/// Starts an exporter on a free loopback port with the given YAML configuration.
pub async fn start_exporter(yaml: &str) -> Exporter {
    let config = Config::from_yaml(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    Exporter::start(config, "127.0.0.1:0", "/metrics")
        .await
        .expect("exporter starts")
}

/// `/metrics` as text (no compression).
pub async fn scrape(exporter: &Exporter) -> String {
    reqwest::Client::new()
        .get(format!("http://{}/metrics", exporter.address()))
        .send()
        .await
        .expect("scrape succeeds")
        .text()
        .await
        .unwrap()
}

/// One sample: metric name, labels, value.
pub type Sample = (String, Vec<(String, String)>, f64);

/// Parses `name{a="b",…} value` lines into samples.
pub fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let value: f64 = value.parse().ok()?;
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            Some((name.to_owned(), parse_labels(labels), value))
        })
        .collect()
}

fn parse_labels(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq].trim_start_matches(',').to_owned();
        let mut value = String::new();
        let mut chars = rest[eq + 2..].char_indices();
        let mut end = 0;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        value.push(match n {
                            'n' => '\n',
                            other => other,
                        });
                    }
                }
                '"' => {
                    end = eq + 2 + i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        out.push((name, value));
        rest = &rest[end..];
    }
    out
}

/// The value of the sample of `name` whose labels include all of `labels`.
pub fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples(text)
        .into_iter()
        .find(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|(_, _, v)| v)
}

/// Scrapes until `name{labels}` satisfies `check`; panics after `timeout` with the last text.
pub async fn wait_value(
    exporter: &Exporter,
    name: &str,
    labels: &[(&str, &str)],
    timeout: Duration,
    check: impl Fn(f64) -> bool,
) -> f64 {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let text = scrape(exporter).await;
        if let Some(v) = value(&text, name, labels) {
            if check(v) {
                return v;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            let related: Vec<&str> = text.lines().filter(|l| l.starts_with(name)).collect();
            panic!(
                "timed out waiting for {name}{labels:?}; current:\n{}",
                related.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Exporter YAML for clusters of a simulator: `(name, extra YAML lines indented by 4)`.
pub fn exporter_yaml(
    sim: &cluster_link_exporter::sim::Simulator,
    poll: &str,
    clusters: &[(&str, &str)],
) -> String {
    let mut yaml =
        format!("defaults:\n  poll_interval: {poll}\n  request_timeout: 2s\nclusters:\n");
    for (name, extra) in clusters {
        let c = sim.cluster(name);
        yaml.push_str(&format!(
            "  - name: {name}\n    rest_url: {}\n    cluster_id: {}\n",
            c.rest_url, c.cluster_id
        ));
        for line in extra.lines().filter(|l| !l.trim().is_empty()) {
            yaml.push_str(&format!("    {}\n", line.trim_start()));
        }
    }
    yaml
}
