//! The Grafana dashboards of `dashboards/` and the provisioning files of
//! `deploy/grafana/provisioning/`: they load from files as they are (no import placeholders),
//! keep their `uid`s, chain their variables, and every panel queries Prometheus through the
//! `datasource` variable. Running the queries against a real Prometheus is the end-to-end
//! test's job (`dashboards::panel_queries`).

use std::collections::BTreeSet;
use std::path::Path;

use crate::common::dashboards::*;
use serde_json::Value;

/// The datasource of every panel, target and query variable.
const DATASOURCE_UID: &str = "${datasource}";

/// Prefixes of the families with a `link` label.
const PER_LINK: [&str; 4] = [
    "clusterlink_link_",
    "clusterlink_mirror_",
    "clusterlink_probe_",
    "clusterlink_consumer_offset_sync_",
];

/// Prefixes of the families with a `mirror_topic` label.
const PER_MIRROR_TOPIC: [&str; 2] = ["clusterlink_mirror_", "clusterlink_consumer_offset_sync_"];

/// The template variables of each dashboard, in order: each one's query may only use the
/// variables before it.
fn expected_variables(uid: &str) -> Vec<&'static str> {
    match uid {
        "clusterlink-exporter" => vec!["datasource", "job", "kafka_cluster"],
        _ => vec!["datasource", "kafka_cluster", "link", "mirror_topic"],
    }
}

fn is_prometheus_datasource(datasource: &Value) -> bool {
    datasource["type"] == "prometheus" && datasource["uid"] == DATASOURCE_UID
}

/// The names after each `$` of `text` (`$name` or `${name}`); a `$` not followed by a name
/// (a regex anchor) is skipped.
fn referenced_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        rest = &rest[i + 1..];
        let body = rest.strip_prefix('{').unwrap_or(rest);
        let name: String = body
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            names.push(name);
        }
    }
    names
}

/// The prefixes of the exporter's metric names: its own families and the standard process ones.
const METRIC_PREFIXES: [&str; 2] = ["clusterlink_", "process_"];

/// The `clusterlink_*` and `process_*` names in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    METRIC_PREFIXES
        .iter()
        .flat_map(|prefix| names_with_prefix(text, prefix))
        .collect()
}

/// The names in `text` that start with `prefix`.
fn names_with_prefix(text: &str, prefix: &str) -> BTreeSet<String> {
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        let starts_a_name = rest[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !is_name_char(c));
        let tail = &rest[i..];
        let len = tail.find(|c: char| !is_name_char(c)).unwrap_or(tail.len());
        if starts_a_name {
            names.insert(tail[..len].to_owned());
        }
        rest = &tail[len..];
    }
    names
}

/// Every target of every panel that is not a row, with the panel.
fn targets(dashboard: &Dashboard) -> Vec<(&Value, &Value)> {
    dashboard
        .panels()
        .into_iter()
        .filter(|panel| panel["type"] != "row")
        .flat_map(|panel| {
            panel["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |target| (panel, target))
        })
        .collect()
}

fn expr(target: &Value) -> &str {
    target["expr"].as_str().unwrap_or("")
}

fn title(panel: &Value) -> &str {
    panel["title"].as_str().unwrap_or("")
}

fn read_yaml(relative: &str) -> (String, Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{relative} is missing or unreadable: {e}"));
    let yaml = serde_norway::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
    (text, yaml)
}

#[test]
fn every_dashboard_is_valid_json_with_its_stable_uid() {
    let dashboards = load_dashboards();
    let found: BTreeSet<(String, String)> = dashboards
        .iter()
        .map(|d| (d.file_name(), d.uid().to_owned()))
        .collect();
    let expected: BTreeSet<(String, String)> = DASHBOARDS
        .iter()
        .map(|&(file, uid)| (file.to_owned(), uid.to_owned()))
        .collect();
    assert_eq!(found, expected, "dashboards/*.json and their uids");
    let uids: BTreeSet<&str> = dashboards.iter().map(|d| d.uid()).collect();
    assert_eq!(uids.len(), dashboards.len(), "uids are unique");
    for d in &dashboards {
        let name = d.file_name();
        assert!(
            d.json["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{name}: no title"
        );
        let schema = d.json["schemaVersion"].as_u64().unwrap_or(0);
        assert!(
            (36..=41).contains(&schema),
            "{name}: schemaVersion {schema} (Grafana 10/11 expect ~39)"
        );
        assert!(
            d.json["id"].is_null(),
            "{name}: `id` must be null, Grafana assigns it"
        );
    }
}

#[test]
fn dashboards_have_no_import_placeholders() {
    for d in load_dashboards() {
        let name = d.file_name();
        assert!(
            !d.text.contains("${DS_"),
            "{name}: `${{DS_…}}` import placeholders break file provisioning; use the \
             `datasource` variable"
        );
        assert!(d.json.get("__inputs").is_none(), "{name}: __inputs");
        assert!(d.json.get("__requires").is_none(), "{name}: __requires");
    }
}

#[test]
fn dashboards_have_a_prometheus_datasource_variable() {
    for d in load_dashboards() {
        let name = d.file_name();
        let variable = d
            .variable("datasource")
            .unwrap_or_else(|| panic!("{name}: no `datasource` variable"));
        assert_eq!(variable["type"], "datasource", "{name}");
        assert_eq!(variable["query"], "prometheus", "{name}");
    }
}

#[test]
fn variables_are_chained_kafka_cluster_link_mirror_topic() {
    for d in load_dashboards() {
        let name = d.file_name();
        let variables = d.variables();
        let names: Vec<&str> = variables
            .iter()
            .map(|v| v["name"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(names, expected_variables(d.uid()), "{name}: variables");

        for (i, variable) in variables.iter().enumerate() {
            if variable["type"] != "query" {
                continue;
            }
            let var = names[i];
            let query = variable_query(variable);
            assert!(
                query.starts_with("label_values(") && query.ends_with(&format!(", {var})")),
                "{name}: ${var} is not a label_values(…, {var}) query: {query}"
            );
            assert!(
                is_prometheus_datasource(&variable["datasource"]),
                "{name}: ${var} does not use the datasource variable"
            );
            for used in referenced_names(&query) {
                assert!(
                    names[..i].contains(&used.as_str()),
                    "{name}: ${var} uses ${used}, which is not a variable before it"
                );
            }
        }

        let query_of = |var: &str| {
            variable_query(
                d.variable(var)
                    .unwrap_or_else(|| panic!("{name}: no ${var}")),
            )
        };
        assert!(
            query_of("kafka_cluster").contains("kafka_cluster"),
            "{name}: $kafka_cluster"
        );
        if d.variable("link").is_some() {
            assert!(
                query_of("link").contains("$kafka_cluster"),
                "{name}: $link must be filtered by $kafka_cluster"
            );
        }
        if d.variable("mirror_topic").is_some() {
            let query = query_of("mirror_topic");
            assert!(
                query.contains("$kafka_cluster") && query.contains("$link"),
                "{name}: $mirror_topic must be filtered by $kafka_cluster and $link"
            );
        }
        for var in ["kafka_cluster", "link", "mirror_topic"] {
            if let Some(v) = d.variable(var) {
                assert!(
                    v["multi"].as_bool() == Some(true)
                        && v["includeAll"].as_bool() == Some(true)
                        && v["allValue"] == ".*",
                    "{name}: ${var} is multi-value with All = .*"
                );
            }
        }
    }
}

#[test]
fn every_panel_queries_prometheus_through_the_datasource_variable() {
    for d in load_dashboards() {
        let name = d.file_name();
        for panel in d.panels() {
            if panel["type"] == "row" {
                continue;
            }
            let title = title(panel);
            assert!(!title.is_empty(), "{name}: a panel without title");
            assert!(
                is_prometheus_datasource(&panel["datasource"]),
                "{name}: panel {title:?} does not use the datasource variable"
            );
            let targets = panel["targets"].as_array().cloned().unwrap_or_default();
            assert!(
                targets.iter().any(|t| !expr(t).trim().is_empty()),
                "{name}: panel {title:?} has no query"
            );
            let mut ref_ids = BTreeSet::new();
            for target in &targets {
                let ref_id = target["refId"].as_str().unwrap_or("");
                assert!(
                    !ref_id.is_empty() && ref_ids.insert(ref_id.to_owned()),
                    "{name}: panel {title:?} has a target without refId or a duplicate refId"
                );
                assert!(
                    !expr(target).trim().is_empty(),
                    "{name}: panel {title:?} target {ref_id} has no expr"
                );
                assert!(
                    target.get("datasource").is_none()
                        || is_prometheus_datasource(&target["datasource"]),
                    "{name}: panel {title:?} target {ref_id} does not use the datasource variable"
                );
            }
        }
    }
}

#[test]
fn panel_ids_are_unique_per_dashboard() {
    for d in load_dashboards() {
        let name = d.file_name();
        let mut ids = BTreeSet::new();
        for panel in d.panels() {
            let id = panel["id"]
                .as_u64()
                .unwrap_or_else(|| panic!("{name}: panel {:?} has no id", title(panel)));
            assert!(ids.insert(id), "{name}: panel id {id} is used twice");
        }
    }
}

#[test]
fn queries_use_only_the_variables_and_the_documented_macros() {
    for d in load_dashboards() {
        let name = d.file_name();
        let variables = expected_variables(d.uid());
        for (panel, target) in targets(&d) {
            for used in referenced_names(expr(target)) {
                assert!(
                    variables.contains(&used.as_str()) || MACROS.contains(&used.as_str()),
                    "{name}: panel {:?} uses ${used}: only the dashboard's variables and \
                     $__rate_interval, $__interval, $__range may be used",
                    title(panel)
                );
            }
        }
    }
}

/// Whether `docs/metrics.md` lists `metric` with a `kafka_cluster` label (the exporter-wide
/// families, `clusterlink_build_info` and `clusterlink_http_*`, have none). A name the table
/// does not list (a `__name__` pattern, say) counts as per cluster.
fn has_cluster_label(metric: &str) -> bool {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md"))
        .expect("docs/metrics.md");
    // A histogram is listed by its family name, its samples end in _bucket, _sum, _count.
    let family = ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| metric.strip_suffix(suffix))
        .filter(|base| doc.contains(&format!("| `{base}` | histogram |")))
        .unwrap_or(metric);
    let row = format!("| `{family}` |");
    doc.lines()
        .find(|l| l.starts_with(&row))
        .is_none_or(|line| {
            line.split('|')
                .nth(3)
                .unwrap_or_default()
                .contains("`kafka_cluster`")
        })
}

#[test]
fn queries_are_filtered_by_the_variables() {
    for d in load_dashboards() {
        let name = d.file_name();
        let has = |var: &str| d.variable(var).is_some();
        for (panel, target) in targets(&d) {
            let expr = expr(target);
            let title = title(panel);
            let metrics = metric_names(expr);
            let per_cluster = metrics.iter().any(|m| has_cluster_label(m));
            if per_cluster || expr.contains("ALERTS") {
                assert!(
                    expr.contains("$kafka_cluster"),
                    "{name}: {title:?} is not filtered by $kafka_cluster: {expr}"
                );
            }
            if has("job") {
                assert!(
                    expr.contains("$job"),
                    "{name}: {title:?} is not filtered by $job: {expr}"
                );
            }
            let per_link = metrics
                .iter()
                .any(|m| PER_LINK.iter().any(|prefix| m.starts_with(prefix)));
            if has("link") && per_link {
                assert!(
                    expr.contains("$link"),
                    "{name}: {title:?} is not filtered by $link: {expr}"
                );
            }
            let per_mirror = metrics
                .iter()
                .any(|m| PER_MIRROR_TOPIC.iter().any(|prefix| m.starts_with(prefix)));
            if has("mirror_topic") && per_mirror {
                assert!(
                    expr.contains("$mirror_topic"),
                    "{name}: {title:?} is not filtered by $mirror_topic: {expr}"
                );
            }
        }
    }
}

#[test]
fn queries_use_only_documented_metric_families() {
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/metrics.md");
    let documented = metric_names(&std::fs::read_to_string(doc_path).expect("docs/metrics.md"));
    for d in load_dashboards() {
        let name = d.file_name();
        for (panel, target) in targets(&d) {
            for metric in metric_names(expr(target)) {
                // `{__name__=~"clusterlink_.+"}` counts every family.
                if metric == "clusterlink_" {
                    continue;
                }
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| metric.strip_suffix(*suffix))
                    .filter(|family| documented.contains(*family));
                assert!(
                    documented.contains(&metric) || family.is_some(),
                    "{name}: panel {:?} queries {metric}, which docs/metrics.md does not list",
                    title(panel)
                );
            }
        }
    }
}

#[test]
fn panel_queries_cover_every_dashboard_and_substitute_every_variable() {
    let queries = panel_queries();
    let expected: usize = load_dashboards()
        .iter()
        .map(|d| {
            targets(d)
                .iter()
                .filter(|(_, t)| !expr(t).trim().is_empty())
                .count()
        })
        .sum();
    assert_eq!(queries.len(), expected, "one query per target with an expr");
    let uids: BTreeSet<&str> = queries.iter().map(|(uid, _, _)| uid.as_str()).collect();
    let all: BTreeSet<&str> = DASHBOARDS.iter().map(|(_, uid)| *uid).collect();
    assert_eq!(uids, all);
    for (uid, title, query) in &queries {
        assert!(
            !query.contains('$'),
            "{uid}: {title:?} keeps a variable after substitution: {query}"
        );
    }
    assert_eq!(
        substitute(
            r#"rate(x{kafka_cluster=~"$kafka_cluster",link=~"${link}",mirror_topic=~"$mirror_topic"}[$__rate_interval]) + y{job=~"$job"}[$__range] offset $__interval"#
        ),
        r#"rate(x{kafka_cluster=~".*",link=~".*",mirror_topic=~".*"}[1m]) + y{job=~".*"}[5m] offset 30s"#
    );
}

#[test]
fn grafana_provisioning_files_exist_and_point_at_the_dashboards() {
    let (text, provider) =
        read_yaml("deploy/grafana/provisioning/dashboards/cluster-link-exporter.yml");
    assert_eq!(provider["apiVersion"], 1);
    let providers = provider["providers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let file_provider = providers
        .iter()
        .find(|p| p["type"] == "file")
        .expect("a dashboard provider of type file");
    let path = file_provider["options"]["path"].as_str().unwrap_or("");
    assert!(
        path.starts_with('/'),
        "the provider's options.path is an absolute path: {path:?}"
    );
    assert!(
        text.contains("dashboards:") || text.contains("dashboards/"),
        "the provider file says how to mount dashboards/"
    );

    let (_, datasources) = read_yaml("deploy/grafana/provisioning/datasources/prometheus.yml");
    assert_eq!(datasources["apiVersion"], 1);
    let list = datasources["datasources"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let prometheus = list
        .iter()
        .find(|ds| ds["type"] == "prometheus")
        .expect("a Prometheus data source");
    assert_eq!(prometheus["uid"], "prometheus");
    assert_eq!(prometheus["url"], "http://localhost:9090");

    let readme =
        std::fs::read_to_string(dashboards_dir().join("README.md")).expect("dashboards/README.md");
    for (file, uid) in DASHBOARDS {
        assert!(
            readme.contains(file) && readme.contains(uid),
            "dashboards/README.md describes {file} ({uid})"
        );
    }
}

/// The argument of each `sum(…)` / `sum by (…) (…)` in `expr`, except sums by `instance` (one
/// value per replica already).
fn sum_arguments(expr: &str) -> Vec<&str> {
    let sum = regex::Regex::new(r"\bsum(\s+by\s*\([^)]*\))?\s*\(").expect("sum regex");
    let mut found = Vec::new();
    for c in sum.captures_iter(expr) {
        if c.get(1).is_some_and(|by| by.as_str().contains("instance")) {
            continue;
        }
        let start = c.get(0).expect("whole match").end();
        let mut depth = 1;
        let end = expr[start..]
            .char_indices()
            .find(|&(_, c)| {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map(|(i, _)| start + i)
            .unwrap_or_else(|| panic!("unbalanced parentheses in {expr}"));
        found.push(&expr[start..end]);
    }
    found
}

/// With two replicas of the exporter every series exists twice: a panel that adds the
/// exporter's values up keeps one replica per series first (`max without (instance, pod)`), or
/// it shows double counts (or aggregates `max by`/`min by` other labels first). Exempt: probe histograms (the quantile of both replicas' probe
/// records is right), the REST and Kafka request rates (the real load on the clusters) and
/// `ALERTS` (the rules drop the replica labels themselves).
#[test]
fn sums_keep_one_replica_per_series() {
    let exempt = [
        "_bucket",
        "clusterlink_rest_requests_total",
        "clusterlink_kafka_requests_total",
        "ALERTS",
    ];
    // An argument that aggregates by labels other than instance has one value per series.
    let aggregated = regex::Regex::new(r"\b(?:max|min) by \(([^)]*)\)").expect("regex");
    let mut checked = 0;
    for d in load_dashboards() {
        for (panel, target) in targets(&d) {
            for argument in sum_arguments(expr(target)) {
                if metric_names(argument).is_empty() || exempt.iter().any(|e| argument.contains(e))
                {
                    continue;
                }
                checked += 1;
                let collapsed = argument
                    .trim_start()
                    .starts_with("max without (instance, pod) (")
                    || aggregated
                        .captures_iter(argument)
                        .any(|c| !c[1].contains("instance"));
                assert!(
                    collapsed,
                    "{} / {}: sum over both replicas, wrap its argument in \
                     `max without (instance, pod) (…)`: {}",
                    d.file_name(),
                    title(panel),
                    expr(target)
                );
            }
        }
    }
    assert!(checked >= 10, "only {checked} sums checked");
}
