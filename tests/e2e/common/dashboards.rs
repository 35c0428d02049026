//! The Grafana dashboards of `dashboards/`: loading them, walking their panels (rows included),
//! and every panel query with the template variables substituted so that it runs against a
//! plain Prometheus (`panel_queries`).

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Every dashboard file of `dashboards/` and the stable `uid` it must have.
pub const DASHBOARDS: [(&str, &str); 3] = [
    ("cluster-link-overview.json", "clusterlink-overview"),
    ("cluster-link-detail.json", "clusterlink-link-detail"),
    ("cluster-link-exporter.json", "clusterlink-exporter"),
];

/// What the template variables and Grafana macros of a panel query become outside Grafana:
/// every variable matches all values, the intervals are fixed.
pub const SUBSTITUTIONS: [(&str, &str); 7] = [
    ("kafka_cluster", ".*"),
    ("link", ".*"),
    ("mirror_topic", ".*"),
    ("job", ".*"),
    ("__rate_interval", "1m"),
    ("__interval", "30s"),
    ("__range", "5m"),
];

/// The Grafana macros panel queries may use.
pub const MACROS: [&str; 3] = ["__rate_interval", "__interval", "__range"];

/// Families that exist only for a `STOPPED` (promoted or failed-over) mirror topic: the panels
/// on them have no data while every link is healthy (the paging test's first phase), and get
/// it in the fail-over drill, which checks them.
pub const ONLY_AFTER_A_STOP: [&str; 2] = [
    "clusterlink_mirror_topic_not_copied_messages",
    "clusterlink_mirror_topic_source_records_since_stop",
];

/// The repository's `dashboards/` directory.
pub fn dashboards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards")
}

/// One dashboard file: where it is, its text and its JSON.
pub struct Dashboard {
    pub path: PathBuf,
    pub text: String,
    pub json: Value,
}

impl Dashboard {
    /// The file name, e.g. `cluster-link-overview.json`.
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    pub fn uid(&self) -> &str {
        self.json["uid"].as_str().unwrap_or("")
    }

    /// The template variables, in order.
    pub fn variables(&self) -> Vec<&Value> {
        self.json["templating"]["list"]
            .as_array()
            .map(|list| list.iter().collect())
            .unwrap_or_default()
    }

    pub fn variable(&self, name: &str) -> Option<&Value> {
        self.variables().into_iter().find(|v| v["name"] == name)
    }

    /// Every panel, the rows and the panels nested in collapsed rows included.
    pub fn panels(&self) -> Vec<&Value> {
        let mut out = Vec::new();
        collect_panels(&self.json["panels"], &mut out);
        out
    }
}

fn collect_panels<'a>(panels: &'a Value, out: &mut Vec<&'a Value>) {
    for panel in panels.as_array().into_iter().flatten() {
        out.push(panel);
        collect_panels(&panel["panels"], out);
    }
}

/// The query of a `query` variable: a string, or Grafana's `{"query": "…"}` object.
pub fn variable_query(variable: &Value) -> String {
    variable["query"]
        .as_str()
        .or_else(|| variable["query"]["query"].as_str())
        .or_else(|| variable["definition"].as_str())
        .unwrap_or("")
        .to_owned()
}

/// Every `dashboards/*.json`, sorted by file name. Panics on a file that is not valid JSON.
pub fn load_dashboards() -> Vec<Dashboard> {
    let dir = dashboards_dir();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("read an entry of dashboards/").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()));
            Dashboard { path, text, json }
        })
        .collect()
}

/// `expr` with `$name` and `${name}` replaced as in `SUBSTITUTIONS`.
pub fn substitute(expr: &str) -> String {
    let mut substitutions = SUBSTITUTIONS.to_vec();
    // Longest names first, so that a name that starts another one cannot eat into it.
    substitutions.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
    let mut out = expr.to_owned();
    for (name, value) in substitutions {
        out = out
            .replace(&format!("${{{name}}}"), value)
            .replace(&format!("${name}"), value);
    }
    out
}

/// `(dashboard uid, panel title, query)` for every query of every panel of every dashboard
/// (one entry per target with an `expr`), with the variables and macros substituted: what an
/// end-to-end test runs against a Prometheus server scraping the exporter.
pub fn panel_queries() -> Vec<(String, String, String)> {
    let mut queries = Vec::new();
    for dashboard in load_dashboards() {
        for panel in dashboard.panels() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let Some(expr) = target["expr"].as_str() else {
                    continue;
                };
                if expr.trim().is_empty() {
                    continue;
                }
                queries.push((
                    dashboard.uid().to_owned(),
                    panel["title"].as_str().unwrap_or("").to_owned(),
                    substitute(expr),
                ));
            }
        }
    }
    queries
}
