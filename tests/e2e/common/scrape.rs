//! Helpers for exporter tests: start an exporter against a simulator, scrape it, read sample
//! values.

use std::path::Path;
use std::time::Duration;

use cluster_link_exporter::config::Config;
use cluster_link_exporter::{Exporter, ExporterOptions};

use super::eventually::eventually;

/// Starts an exporter on a free loopback port with the given YAML configuration.
pub async fn start_exporter(yaml: &str) -> Exporter {
    let config = Config::from_yaml(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    Exporter::start(ExporterOptions::new(config))
        .await
        .expect("exporter starts")
}

/// Writes `text` as the configuration file `path` and starts an exporter from it on a free
/// loopback port (`lifecycle`: `POST /-/reload` on).
pub async fn start_from(path: &Path, text: &str, lifecycle: bool) -> Exporter {
    std::fs::write(path, text).unwrap();
    let config = Config::load(path).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let web = cluster_link_exporter::WebOptions {
        enable_lifecycle: lifecycle,
        ..Default::default()
    };
    Exporter::start(ExporterOptions::new(config).web(web).config_file(path))
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

/// One sample line of the exposition.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The sample's name (`x_total` for a counter `x`).
    pub name: String,
    /// Label names and (unescaped) values, in the order written.
    pub labels: Vec<(String, String)>,
    pub value: String,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn label_names(&self) -> Vec<String> {
        self.labels.iter().map(|(k, _)| k.clone()).collect()
    }
}

/// Parses `name{a="x",b="y"} value [timestamp]`.
pub fn parse_sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_owned();
    let mut labels = Vec::new();
    let mut rest = &line[name_end..];
    if let Some(mut s) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = s.strip_prefix('}') {
                rest = after;
                break;
            }
            let (label, quoted) = s.split_once("=\"")?;
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                let (i, c) = chars.next()?;
                match c {
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    '"' => break i + 1,
                    other => value.push(other),
                }
            };
            labels.push((label.to_owned(), value));
            s = &quoted[end..];
            s = s.strip_prefix(',').unwrap_or(s);
        }
    }
    let value = rest.split_whitespace().next()?.to_owned();
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// The value of the sample of `name` whose labels include all of `labels`.
pub fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(parse_sample)
        .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(v)))
        .and_then(|s| s.value.parse().ok())
}

/// Scrapes until `name{labels}` satisfies `check` and returns its value; panics after
/// `timeout` with the samples of `name` the last scrape had.
pub async fn wait_value(
    exporter: &Exporter,
    name: &str,
    labels: &[(&str, &str)],
    timeout: Duration,
    check: impl Fn(f64) -> bool,
) -> f64 {
    let what = format!("{name}{labels:?} to pass its check");
    eventually(timeout, &what, || async {
        let text = scrape(exporter).await;
        match value(&text, name, labels) {
            Some(v) if check(v) => Ok(v),
            _ => Err(text
                .lines()
                .filter(|l| l.starts_with(name))
                .map(str::to_owned)
                .collect::<Vec<_>>()),
        }
    })
    .await
}

/// Exporter YAML for clusters of a simulator: `(name, extra YAML lines indented by 4)`.
pub fn exporter_yaml(
    sim: &cluster_link_sim::Simulator,
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
