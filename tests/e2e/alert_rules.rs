//! The alerting rules in `alerts/`: `promtool check rules` and `promtool test rules` pass; every
//! alert has a severity, the three annotations and a runbook section, is tested firing at the
//! end of its `for:` (and not one evaluation before) and silent in every scenario of
//! `alerts/tests/silent.yml`; the runbooks' threshold table matches the rules;
//! every alert's annotations are rendered by a promtool test, and what they render states
//! counts as whole numbers and no two contradicting claims; `alerts/alertmanager.yml` pages on
//! critical alerts and groups a source outage per source; `alerts/test-overrides.yml` shortens
//! every alert and applies cleanly.
//!
//! Needs `promtool` (Debian's `prometheus` package, installed by `scripts/setup-deps.sh`);
//! `amtool` (package `prometheus-alertmanager`) is used when present.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_norway::Value;

use crate::common::servers::{binary, command_output, find_binary, temp_dir};

/// Where every `runbook_url` points, followed by the anchor of the alert's section.
const RUNBOOK_BASE: &str =
    "https://github.com/cluster-link-exporter/cluster-link-exporter/blob/main/docs/runbooks.md#";

const SEVERITIES: [&str; 3] = ["critical", "warning", "info"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn promtool() -> PathBuf {
    binary("promtool", "prometheus")
}

/// Runs a command, fails with its output unless it succeeds, and returns the output.
fn run(cmd: &mut Command) -> String {
    let (out, text) = command_output(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{text}",
        out.status
    );
    text
}

/// Files of `dir` whose names end with `suffix`, sorted.
fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(suffix))
        })
        .collect();
    found.sort();
    found
}

/// `alerts/*.rules.yml`.
fn rule_files() -> Vec<PathBuf> {
    let found = files(&root().join("alerts"), ".rules.yml");
    assert!(found.len() >= 2, "alerts/*.rules.yml: {found:?}");
    found
}

/// `alerts/tests/*.yml`.
fn test_files() -> Vec<PathBuf> {
    let found = files(&root().join("alerts/tests"), ".yml");
    assert!(!found.is_empty(), "no alerts/tests/*.yml");
    found
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn yaml(path: &Path) -> Value {
    serde_norway::from_str(&read(path))
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn seq_at<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_sequence)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A rule of the rule files.
struct Rule {
    file: String,
    group: String,
    rule: Value,
}

impl Rule {
    fn alert(&self) -> Option<&str> {
        str_at(&self.rule, "alert")
    }
    fn record(&self) -> Option<&str> {
        str_at(&self.rule, "record")
    }
    fn expr(&self) -> &str {
        str_at(&self.rule, "expr").unwrap_or_default()
    }
    fn label(&self, name: &str) -> Option<&str> {
        self.rule.get("labels").and_then(|l| str_at(l, name))
    }
    fn annotation(&self, name: &str) -> Option<&str> {
        self.rule.get("annotations").and_then(|a| str_at(a, name))
    }
}

fn rules() -> Vec<Rule> {
    let mut all = Vec::new();
    for path in rule_files() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let doc = yaml(&path);
        for group in seq_at(&doc, "groups") {
            let name = str_at(group, "name").unwrap_or_default().to_owned();
            for rule in seq_at(group, "rules") {
                all.push(Rule {
                    file: file.clone(),
                    group: name.clone(),
                    rule: rule.clone(),
                });
            }
        }
    }
    all
}

fn alerts() -> Vec<Rule> {
    rules()
        .into_iter()
        .filter(|r| r.alert().is_some())
        .collect()
}

/// A Prometheus duration (`90s`, `5m`, `1h30m`, `500ms`) in milliseconds.
fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s == "0" {
        return Some(0);
    }
    let mut total = 0u64;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, ms) = [
            ("ms", 1),
            ("s", 1_000),
            ("m", 60_000),
            ("h", 3_600_000),
            ("d", 86_400_000),
            ("w", 604_800_000),
            ("y", 31_536_000_000),
        ]
        .into_iter()
        .find(|(unit, _)| rest.starts_with(unit))?;
        total += number * ms;
        rest = &rest[unit.len()..];
    }
    Some(total)
}

/// GitHub's anchor of a Markdown heading: lowercase, spaces to `-`, punctuation other than
/// `-` and `_` dropped.
fn github_anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Anchors of the headings of a Markdown document (outside fenced code blocks).
fn heading_anchors(markdown: &str) -> BTreeSet<String> {
    let mut anchors = BTreeSet::new();
    let mut in_code = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code || !line.starts_with('#') {
            continue;
        }
        let text = line.trim_start_matches('#');
        if text.starts_with(' ') {
            anchors.insert(github_anchor(text));
        }
    }
    anchors
}

fn runbooks() -> String {
    read(&root().join("docs/runbooks.md"))
}

#[test]
fn duration_and_anchor_helpers() {
    assert_eq!(parse_duration("5m"), Some(300_000));
    assert_eq!(parse_duration("1h30m"), Some(5_400_000));
    assert_eq!(parse_duration("500ms"), Some(500));
    assert_eq!(parse_duration("4h"), Some(14_400_000));
    assert_eq!(parse_duration("0"), Some(0));
    assert_eq!(parse_duration("5"), None);
    assert_eq!(parse_duration("m5"), None);
    assert_eq!(github_anchor("ClusterLinkDown"), "clusterlinkdown");
    assert_eq!(
        github_anchor(" When to page the source cluster's team"),
        "when-to-page-the-source-clusters-team"
    );
    assert_eq!(
        github_anchor("How alerts are grouped and inhibited"),
        "how-alerts-are-grouped-and-inhibited"
    );
    let anchors = heading_anchors("# Title\n```sh\n# not a heading\n```\n### Sub_part 2\n#tag\n");
    assert_eq!(
        anchors.into_iter().collect::<Vec<_>>(),
        vec!["sub_part-2".to_owned(), "title".to_owned()]
    );
}

#[test]
fn promtool_check_rules_passes() {
    let output = run(Command::new(promtool())
        .args(["check", "rules"])
        .args(rule_files()));
    assert!(output.contains("SUCCESS"), "{output}");
}

#[test]
fn promtool_unit_tests_pass() {
    let output = run(Command::new(promtool())
        .args(["test", "rules"])
        .args(test_files())
        .current_dir(root()));
    assert!(!output.contains("FAILED"), "{output}");
}

#[test]
fn every_alert_has_severity_annotations_and_a_runbook_section() {
    let anchors = heading_anchors(&runbooks());
    let alerts = alerts();
    assert!(alerts.len() >= 20, "only {} alerts", alerts.len());
    let mut names = BTreeSet::new();
    for rule in &alerts {
        let name = rule.alert().unwrap();
        let at = format!("{name} ({}, group {})", rule.file, rule.group);
        assert!(names.insert(name.to_owned()), "{at}: duplicate alert name");
        assert!(
            name.starts_with("ClusterLink") && name.chars().all(|c| c.is_ascii_alphanumeric()),
            "{at}: alert names are CamelCase with the prefix ClusterLink"
        );
        let severity = rule.label("severity").unwrap_or_default();
        assert!(
            SEVERITIES.contains(&severity),
            "{at}: severity {severity:?} is not one of {SEVERITIES:?}"
        );
        for key in ["summary", "description", "runbook_url"] {
            assert!(
                rule.annotation(key).is_some_and(|a| !a.trim().is_empty()),
                "{at}: annotation {key} is missing or empty"
            );
        }
        let url = rule.annotation("runbook_url").unwrap();
        let anchor = url.strip_prefix(RUNBOOK_BASE).unwrap_or_else(|| {
            panic!("{at}: runbook_url {url:?} does not start with {RUNBOOK_BASE}")
        });
        assert_eq!(
            anchor,
            github_anchor(name),
            "{at}: runbook_url must point at the alert's own section"
        );
        assert!(
            anchors.contains(anchor),
            "{at}: docs/runbooks.md has no heading with anchor #{anchor}"
        );
        // `for:` is a plain duration field, so tests can rewrite it (test-overrides.yml).
        let for_ = str_at(&rule.rule, "for").unwrap_or_default();
        assert!(
            parse_duration(for_).is_some(),
            "{at}: `for:` must be a plain duration, got {for_:?}"
        );
        // The description names what is concerned (the exporter's own reload and its shard
        // are about the instance, not a cluster).
        let description = rule.annotation("description").unwrap();
        let instance_level = [
            "clusterlink_exporter_config_",
            "clusterlink_exporter_shard_ordinal",
            "clusterlink_exporter_total_shards",
        ];
        let expr = rule.expr();
        let per_cluster = expr
            .match_indices("clusterlink_")
            .any(|(i, _)| !instance_level.iter().any(|m| expr[i..].starts_with(m)));
        if per_cluster {
            assert!(
                description.contains("$labels.kafka_cluster"),
                "{at}: the description must name $labels.kafka_cluster"
            );
        }
        if [
            "clusterlink-links",
            "clusterlink-mirror-topics",
            "clusterlink-lag",
            "clusterlink-probe",
        ]
        .contains(&rule.group.as_str())
        {
            assert!(
                description.contains("$labels.link"),
                "{at}: the description must name $labels.link"
            );
        }
        if ["clusterlink-mirror-topics", "clusterlink-lag"].contains(&rule.group.as_str()) {
            assert!(
                description.contains("$labels.mirror_topic"),
                "{at}: the description must name $labels.mirror_topic"
            );
        }
    }
    // Every in-page link of the runbooks resolves.
    let text = runbooks();
    for (i, _) in text.match_indices("](#") {
        let rest = &text[i + 3..];
        let anchor = &rest[..rest.find(')').expect("closing parenthesis")];
        assert!(
            anchors.contains(anchor),
            "docs/runbooks.md links to #{anchor}, which is not a heading"
        );
    }
}

/// One `alert_rule_test` entry: when, and whether the alert is expected to fire.
struct AlertCheck {
    eval_ms: u64,
    fires: bool,
}

/// The alert checks of one test group of a promtool test file.
struct TestGroup {
    file: String,
    name: String,
    interval_ms: u64,
    checks: BTreeMap<String, Vec<AlertCheck>>,
}

/// Every test group of `alerts/tests/*.yml`.
fn alert_checks() -> Vec<TestGroup> {
    let mut out = Vec::new();
    for path in test_files() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let doc = yaml(&path);
        let interval = str_at(&doc, "evaluation_interval")
            .map(|d| {
                parse_duration(d).unwrap_or_else(|| panic!("{file}: evaluation_interval {d:?}"))
            })
            .unwrap_or(60_000);
        for (i, group) in seq_at(&doc, "tests").iter().enumerate() {
            let name = str_at(group, "name")
                .map(str::to_owned)
                .unwrap_or_else(|| format!("tests[{i}]"));
            let mut checks: BTreeMap<String, Vec<AlertCheck>> = BTreeMap::new();
            for check in seq_at(group, "alert_rule_test") {
                let alert = str_at(check, "alertname").unwrap_or_else(|| {
                    panic!("{file} / {name}: alert_rule_test without alertname")
                });
                let at = str_at(check, "eval_time").unwrap_or_default();
                let eval_ms = parse_duration(at)
                    .unwrap_or_else(|| panic!("{file} / {name}: eval_time {at:?}"));
                let expected = seq_at(check, "exp_alerts");
                for exp in expected {
                    let annotations = exp.get("exp_annotations");
                    for key in ["summary", "description", "runbook_url"] {
                        assert!(
                            annotations.and_then(|a| str_at(a, key)).is_some(),
                            "{file} / {name}: {alert} at {at}: exp_annotations.{key} is not checked"
                        );
                    }
                }
                checks
                    .entry(alert.to_owned())
                    .or_default()
                    .push(AlertCheck {
                        eval_ms,
                        fires: !expected.is_empty(),
                    });
            }
            out.push(TestGroup {
                file: file.clone(),
                name,
                interval_ms: interval,
                checks,
            });
        }
    }
    out
}

#[test]
fn every_alert_is_tested_firing_on_time_and_silent_in_every_scenario() {
    let alerts: BTreeSet<String> = alerts()
        .iter()
        .map(|r| r.alert().unwrap().to_owned())
        .collect();
    let checks = alert_checks();

    for group in &checks {
        for name in group.checks.keys() {
            assert!(
                alerts.contains(name),
                "{} / {}: tests {name}, which no rule file defines",
                group.file,
                group.name
            );
        }
    }

    for alert in &alerts {
        // Fires at some time T, and a check one evaluation earlier in the same group expects
        // nothing: the `for:` is tested to the evaluation.
        let on_time = checks.iter().any(|group| {
            group.checks.get(alert).is_some_and(|list| {
                list.iter().any(|fired| {
                    fired.fires
                        && list.iter().any(|before| {
                            !before.fires && before.eval_ms + group.interval_ms == fired.eval_ms
                        })
                })
            })
        });
        assert!(
            on_time,
            "{alert}: no promtool test checks that it fires (exp_alerts) at some eval_time and not \
             one evaluation_interval before"
        );
    }

    let silent: Vec<&TestGroup> = checks.iter().filter(|g| g.file == "silent.yml").collect();
    assert!(
        silent.len() >= 3,
        "alerts/tests/silent.yml must hold the healthy, paused and promoted scenarios"
    );
    for group in silent {
        for alert in &alerts {
            assert!(
                group
                    .checks
                    .get(alert)
                    .is_some_and(|list| !list.is_empty() && list.iter().all(|c| !c.fires)),
                "silent.yml / {}: {alert} must be checked silent",
                group.name
            );
        }
    }
}

/// Every `exp_annotations` of the promtool tests (what promtool renders from the test's
/// series and checks): (file / test, alert, summary and description joined).
fn rendered_annotations() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for path in test_files() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let doc = yaml(&path);
        for group in seq_at(&doc, "tests") {
            let name = str_at(group, "name").unwrap_or_default();
            for check in seq_at(group, "alert_rule_test") {
                let alert = str_at(check, "alertname").unwrap_or_default();
                for exp in seq_at(check, "exp_alerts") {
                    let Some(a) = exp.get("exp_annotations") else {
                        continue;
                    };
                    let text = ["summary", "description"]
                        .map(|k| str_at(a, k).unwrap_or_default())
                        .join(" ");
                    out.push((format!("{file} / {name}"), alert.to_owned(), text));
                }
            }
        }
    }
    out
}

/// Words that count things that come in whole numbers: a plain number before them is a count
/// (humanize's abbreviations such as `1.5k messages` are not fractions).
const COUNTED: &str = r"records?|restarts?|restart\(s\)|failed collections|throttled responses|messages|mirror topics|mirror partitions|partitions|errors?|error\(s\)|distinct shard ordinals";

/// Pairs of claims that cannot both be true of one alert.
const CONTRADICTIONS: [(&str, &str); 3] = [
    ("reports the link UNAVAILABLE", "not UNAVAILABLE yet"),
    (
        "reports the link UNAVAILABLE",
        "declares the link UNAVAILABLE only after",
    ),
    ("The source acknowledged", "did not acknowledge"),
];

#[test]
fn rendered_annotations_count_in_whole_numbers_and_do_not_contradict() {
    let rendered = rendered_annotations();
    // Every alert has at least one rendered case (a realistic example in alerts/tests/).
    let cases: BTreeSet<&str> = rendered.iter().map(|(_, a, _)| a.as_str()).collect();
    for rule in alerts() {
        let alert = rule.alert().unwrap();
        assert!(
            cases.contains(alert),
            "{alert}: no promtool test renders its annotations"
        );
    }
    let fractional_count = regex::Regex::new(&format!(
        r"\b\d+\.\d+\s+(?:probe\s+)?(?:{COUNTED})\b(?:\s+per\b)?"
    ))
    .unwrap();
    for (case, alert, text) in &rendered {
        for m in fractional_count.find_iter(text) {
            assert!(
                m.as_str().ends_with(" per"),
                "{case}: {alert} states a fractional count {:?}: {text}",
                m.as_str()
            );
        }
        for (a, b) in CONTRADICTIONS {
            assert!(
                !(text.contains(a) && text.contains(b)),
                "{case}: {alert} says both {a:?} and {b:?}: {text}"
            );
        }
    }
    // A counter's increase() is extrapolated (fractional on real scrapes): an alert whose value
    // is one prints it rounded, never with humanize (which keeps the fraction).
    for rule in alerts() {
        let description = rule.annotation("description").unwrap_or_default();
        if rule.expr().contains("increase(") && !rule.expr().contains("absent(") {
            assert!(
                !description.contains("$value | humanize }}"),
                "{}: prints an extrapolated increase() with humanize: {description}",
                rule.alert().unwrap()
            );
        }
    }
}

/// `clusterlink:threshold:…` names an expression compares with (not those it only checks
/// with `absent(…)`).
fn threshold_names(expr: &str) -> BTreeSet<String> {
    expr.match_indices("clusterlink:threshold:")
        .filter(|(i, _)| !expr[..*i].ends_with("absent("))
        .map(|(i, _)| {
            expr[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect()
        })
        .collect()
}

#[test]
fn thresholds_are_recorded_once_guarded_and_documented() {
    let rules = rules();
    let recorded: BTreeMap<String, String> = rules
        .iter()
        .filter_map(|r| {
            r.record()
                .map(|name| (name.to_owned(), r.expr().trim().to_owned()))
        })
        .filter(|(name, _)| name.starts_with("clusterlink:threshold:"))
        .collect();
    assert!(
        !recorded.is_empty(),
        "no clusterlink:threshold:* recording rules"
    );
    let guard = rules
        .iter()
        .find(|r| r.alert() == Some("ClusterLinkAlertThresholdsMissing"))
        .expect("the ClusterLinkAlertThresholdsMissing alert");
    let mut used = BTreeSet::new();
    for rule in rules.iter().filter(|r| r.alert().is_some()) {
        for name in threshold_names(rule.expr()) {
            assert!(
                recorded.contains_key(&name),
                "{}: {name} is not recorded in alerts/thresholds.rules.yml",
                rule.alert().unwrap()
            );
            used.insert(name);
        }
    }
    for (name, expr) in &recorded {
        assert!(
            used.contains(name),
            "{name} is recorded but no alert uses it"
        );
        assert!(
            expr.starts_with("vector(") && expr.ends_with(')'),
            "{name}: expected `vector(<number>)`, got {expr:?}"
        );
        assert!(
            guard.expr().contains(&format!("absent({name})")),
            "ClusterLinkAlertThresholdsMissing does not check {name}"
        );
    }
}

/// The rows of the runbooks' threshold table: alert name -> cells.
fn threshold_table(markdown: &str) -> BTreeMap<String, Vec<String>> {
    let mut rows = BTreeMap::new();
    for line in markdown.lines() {
        let Some(rest) = line.strip_prefix("| [") else {
            continue;
        };
        let Some(end) = rest.find(']') else {
            continue;
        };
        let cells: Vec<String> = line
            .trim()
            .trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_owned())
            .collect();
        rows.insert(rest[..end].to_owned(), cells);
    }
    rows
}

#[test]
fn runbook_threshold_table_matches_the_rules() {
    let rules = rules();
    let recorded: BTreeMap<String, String> = rules
        .iter()
        .filter_map(|r| {
            r.record()
                .map(|name| (name.to_owned(), r.expr().trim().to_owned()))
        })
        .collect();
    let table = threshold_table(&runbooks());
    for rule in rules.iter().filter(|r| r.alert().is_some()) {
        let name = rule.alert().unwrap();
        let row = table.get(name).unwrap_or_else(|| {
            panic!("docs/runbooks.md: the threshold table has no row for {name}")
        });
        assert!(row.len() >= 5, "{name}: threshold table row {row:?}");
        assert_eq!(
            row[0],
            format!("[{name}](#{})", github_anchor(name)),
            "{name}: first cell"
        );
        assert_eq!(
            Some(row[1].as_str()),
            rule.label("severity"),
            "{name}: severity in the threshold table"
        );
        assert_eq!(
            Some(row[2].as_str()),
            str_at(&rule.rule, "for"),
            "{name}: `for` in the threshold table"
        );
        for threshold in threshold_names(rule.expr()) {
            let value = recorded[&threshold]
                .trim_start_matches("vector(")
                .trim_end_matches(')')
                .to_owned();
            let cell = format!("`{threshold}` ({value})");
            assert!(
                row[4].contains(&cell),
                "{name}: the threshold table should say {cell}, has {:?}",
                row[4]
            );
        }
    }
    let alerts: BTreeSet<&str> = rules.iter().filter_map(Rule::alert).collect();
    for name in table.keys() {
        assert!(
            alerts.contains(name.as_str()),
            "docs/runbooks.md: the threshold table lists {name}, which no rule defines"
        );
    }
}

/// An Alertmanager matcher such as `severity="critical"` or `severity=~"critical|warning"`:
/// (label, operator, value).
fn parse_matcher(matcher: &str) -> (String, String, String) {
    let m = matcher.trim();
    let name_end = m
        .find(['=', '!'])
        .unwrap_or_else(|| panic!("matcher {m:?}"));
    let rest = &m[name_end..];
    let (op, value) = ["=~", "!~", "!=", "="]
        .into_iter()
        .find_map(|op| rest.strip_prefix(op).map(|v| (op, v)))
        .unwrap_or_else(|| panic!("matcher {m:?}"));
    (
        m[..name_end].trim().to_owned(),
        op.to_owned(),
        value.trim().trim_matches('"').to_owned(),
    )
}

/// Whether a matcher accepts a label value; regexes may only be alternations of literals.
fn matcher_accepts(op: &str, pattern: &str, value: &str) -> bool {
    let alternation = || {
        assert!(
            !pattern.contains(|c: char| ".*+?()[]{}^$\\".contains(c)),
            "this check only understands literal alternations in route matchers: {pattern:?}"
        );
        pattern.split('|').any(|p| p == value)
    };
    match op {
        "=" => value == pattern,
        "!=" => value != pattern,
        "=~" => alternation(),
        "!~" => !alternation(),
        _ => unreachable!("operator {op}"),
    }
}

/// The receivers an alert with `labels` is sent to (Alertmanager's routing: first matching
/// child unless `continue`, else the route's own receiver), or None when `route` does not
/// match.
fn route_receivers(
    route: &Value,
    parent_receiver: &str,
    labels: &BTreeMap<&str, &str>,
) -> Option<Vec<String>> {
    let found = route_groupings(route, (parent_receiver, &[]), labels)?;
    Some(found.into_iter().map(|(receiver, _)| receiver).collect())
}

/// As [`route_receivers`], with the `group_by` each receiver gets the alert under (a route's
/// own, else its parent's).
fn route_groupings(
    route: &Value,
    parent: (&str, &[String]),
    labels: &BTreeMap<&str, &str>,
) -> Option<Vec<(String, Vec<String>)>> {
    assert!(
        route.get("match").is_none() && route.get("match_re").is_none(),
        "use `matchers:`, not the deprecated match/match_re"
    );
    for matcher in seq_at(route, "matchers") {
        let (name, op, pattern) = parse_matcher(matcher.as_str().expect("matcher string"));
        let value = labels.get(name.as_str()).copied().unwrap_or_default();
        if !matcher_accepts(&op, &pattern, value) {
            return None;
        }
    }
    let receiver = str_at(route, "receiver").unwrap_or(parent.0);
    let group_by: Vec<String> = match route.get("group_by") {
        Some(_) => seq_at(route, "group_by")
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        None => parent.1.to_vec(),
    };
    let mut out = Vec::new();
    for child in seq_at(route, "routes") {
        if let Some(found) = route_groupings(child, (receiver, &group_by), labels) {
            out.extend(found);
            if !child
                .get("continue")
                .and_then(Value::as_bool)
                .unwrap_or(false)
            {
                break;
            }
        }
    }
    if out.is_empty() {
        out.push((receiver.to_owned(), group_by));
    }
    Some(out)
}

#[test]
fn alertmanager_config_pages_on_critical_and_groups_by_link_or_source() {
    let path = root().join("alerts/alertmanager.yml");
    let config = yaml(&path);
    let route = config.get("route").expect("alertmanager.yml: route");
    let group_by: Vec<&str> = seq_at(route, "group_by")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(group_by, ["alertname", "kafka_cluster", "link"]);

    let receivers: BTreeMap<&str, &Value> = seq_at(&config, "receivers")
        .iter()
        .map(|r| (str_at(r, "name").expect("receiver name"), r))
        .collect();
    let send = |severity: &str| {
        let labels = BTreeMap::from([
            ("alertname", "ClusterLinkDown"),
            ("severity", severity),
            ("kafka_cluster", "dr"),
            ("link", "dr-link"),
        ]);
        let found = route_receivers(route, "", &labels).expect("the root route matches all");
        for name in &found {
            assert!(
                receivers.contains_key(name.as_str()),
                "receiver {name} is not defined"
            );
        }
        found
    };
    let critical = send("critical");
    assert_eq!(
        critical[0], "pager",
        "critical alerts go to the pager first: {critical:?}"
    );
    let warning = send("warning");
    assert!(
        !warning.contains(&"pager".to_owned()),
        "warnings do not page: {warning:?}"
    );
    assert!(
        warning.contains(&"chat".to_owned()),
        "warnings go to chat: {warning:?}"
    );
    let info = send("info");
    assert!(
        !info.contains(&"pager".to_owned()),
        "info does not page: {info:?}"
    );
    // A source outage is grouped per source in both receivers (one page per dead source,
    // listing its links); a link that breaks by itself, and a source outage whose source
    // cluster id is unknown, stay grouped per link.
    let groupings = |alertname: &str, source: &str| {
        let labels = BTreeMap::from([
            ("alertname", alertname),
            ("severity", "critical"),
            ("kafka_cluster", "dr"),
            ("link", "dr-link"),
            ("source_cluster_id", source),
        ]);
        route_groupings(route, ("", &[]), &labels).expect("the root route matches all")
    };
    let per_link = ["alertname", "kafka_cluster", "link"].map(str::to_owned);
    let per_source = ["alertname", "source_cluster_id"].map(str::to_owned);
    let outage = groupings("ClusterLinkSourceOutage", "lkc-src01");
    assert_eq!(
        outage,
        [
            ("pager".to_owned(), per_source.to_vec()),
            ("chat".to_owned(), per_source.to_vec())
        ]
    );
    for (alertname, source) in [
        ("ClusterLinkSourceOutage", "unknown"),
        ("ClusterLinkSourceOutage", ""),
        ("ClusterLinkDown", "lkc-src01"),
        ("ClusterLinkMirrorTopicFailed", "lkc-src01"),
    ] {
        let found = groupings(alertname, source);
        assert!(
            !found.is_empty() && found.iter().all(|(_, g)| *g == per_link),
            "{alertname} (source {source:?}) grouped as {found:?}"
        );
    }
    let pager_url = seq_at(receivers["pager"], "webhook_configs")
        .first()
        .and_then(|w| str_at(w, "url"))
        .expect("the pager receiver has a webhook URL");
    assert!(pager_url.starts_with("http"), "pager URL {pager_url}");

    // Inhibitions: a down link mutes its own alerts, a failing REST API its cluster's.
    let inhibits = seq_at(&config, "inhibit_rules");
    assert!(inhibits_on(
        inhibits,
        "ClusterLinkDown",
        &["kafka_cluster", "link"]
    ));
    assert!(inhibits_on(
        inhibits,
        "ClusterLinkRestApiDown",
        &["kafka_cluster"]
    ));
    assert!(inhibits_on(
        inhibits,
        "ClusterLinkMirrorTopicSourceUnavailable",
        &["kafka_cluster", "link", "mirror_topic"]
    ));
    // The per-link partitions-in-error alert has no mirror_topic: the per-topic alerts mute it
    // with a rule on the link.
    let strings = |rule: &Value, key: &str| -> Vec<String> {
        seq_at(rule, key)
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    };
    assert!(
        inhibits.iter().any(|rule| {
            let sources = strings(rule, "source_matchers").join(" ");
            strings(rule, "equal") == ["kafka_cluster", "link"]
                && sources.contains("ClusterLinkMirrorTopicFailed")
                && sources.contains("ClusterLinkMirrorTopicSourceUnavailable")
                && strings(rule, "target_matchers")
                    .iter()
                    .any(|m| m.contains("ClusterLinkMirrorPartitionsInError"))
        }),
        "no inhibit rule lets ClusterLinkMirrorTopicFailed and \
         ClusterLinkMirrorTopicSourceUnavailable mute ClusterLinkMirrorPartitionsInError"
    );

    // The fast source outage page mutes ClusterLinkDown of its link, and ClusterLinkDown does
    // not mute it (mutual muting would silence both).
    assert!(inhibits_on(
        inhibits,
        "ClusterLinkSourceOutage",
        &["kafka_cluster", "link"]
    ));
    let mutes = |source: &str, target: &str| {
        inhibits.iter().any(|rule| {
            let sources = strings(rule, "source_matchers");
            let targets = strings(rule, "target_matchers");
            let accepts = |matchers: &[String], alert: &str| {
                matchers.iter().all(|m| {
                    let (name, op, pattern) = parse_matcher(m);
                    name != "alertname" || alertname_matches(&op, &pattern, alert)
                })
            };
            accepts(&sources, source) && accepts(&targets, target)
        })
    };
    assert!(mutes("ClusterLinkSourceOutage", "ClusterLinkDown"));
    assert!(!mutes("ClusterLinkDown", "ClusterLinkSourceOutage"));
    assert!(mutes(
        "ClusterLinkDown",
        "ClusterLinkMirrorTopicSourceUnavailable"
    ));
    // A failing promote or failover pages at once and mutes the 30-minute warning of the same
    // mirror topic; the link's own pages (down during a fail-over) do not mute it.
    assert!(inhibits_on(
        inhibits,
        "ClusterLinkMirrorTopicTransitionFailed",
        &["kafka_cluster", "link", "mirror_topic"]
    ));
    assert!(mutes(
        "ClusterLinkMirrorTopicTransitionFailed",
        "ClusterLinkMirrorTopicPromotionStuck"
    ));
    assert!(!mutes(
        "ClusterLinkMirrorTopicPromotionStuck",
        "ClusterLinkMirrorTopicTransitionFailed"
    ));
    for link_page in ["ClusterLinkDown", "ClusterLinkSourceOutage"] {
        assert!(!mutes(link_page, "ClusterLinkMirrorTopicTransitionFailed"));
    }

    match find_binary("amtool") {
        Some(amtool) => {
            run(Command::new(amtool).arg("check-config").arg(path));
        }
        None => eprintln!(
            "amtool not found (Debian package prometheus-alertmanager): skipped amtool check-config"
        ),
    }
}

/// Whether an inhibit rule whose source matchers name `source` compares exactly `equal`.
fn inhibits_on(inhibit_rules: &[Value], source: &str, equal: &[&str]) -> bool {
    inhibit_rules.iter().any(|rule| {
        let sources: Vec<&str> = seq_at(rule, "source_matchers")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let labels: Vec<&str> = seq_at(rule, "equal")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        sources.iter().any(|m| m.contains(source)) && labels == equal
    })
}

/// A fresh temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn path(&self) -> &Path {
        &self.0
    }

    fn new(tag: &str) -> Self {
        Self(temp_dir(tag))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Seconds of a whole-second duration.
fn whole_seconds(ms: u64) -> u64 {
    assert_eq!(
        ms % 1000,
        0,
        "durations in whole seconds expected, got {ms} ms"
    );
    ms / 1000
}

#[test]
fn overrides_apply_and_shorten_every_alert() {
    let overrides = yaml(&root().join("alerts/test-overrides.yml"));
    let interval = str_at(&overrides, "evaluation_interval").expect("evaluation_interval");
    let interval_ms = parse_duration(interval).expect("evaluation_interval is a duration");
    assert!(
        interval_ms > 0 && interval_ms <= 15_000,
        "evaluation_interval {interval}"
    );
    let short: BTreeMap<String, u64> = overrides
        .get("for")
        .and_then(Value::as_mapping)
        .expect("for: a map of alert name -> duration")
        .iter()
        .map(|(k, v)| {
            let name = k.as_str().expect("alert name").to_owned();
            let d = v.as_str().and_then(parse_duration);
            let d = d.unwrap_or_else(|| panic!("for.{name}: {v:?} is not a duration"));
            (name, d)
        })
        .collect();
    let thresholds: BTreeMap<String, String> = overrides
        .get("thresholds")
        .and_then(Value::as_mapping)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let value = match v {
                        Value::Number(n) => n.to_string(),
                        Value::String(s) => s.clone(),
                        other => panic!("thresholds: {other:?} is not a number"),
                    };
                    (k.as_str().expect("recording rule name").to_owned(), value)
                })
                .collect()
        })
        .unwrap_or_default();

    // Alert name -> [(window, shorter window)].
    let windows: BTreeMap<String, Vec<(String, String)>> = overrides
        .get("windows")
        .and_then(Value::as_mapping)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let name = k.as_str().expect("alert name").to_owned();
                    let pairs = v
                        .as_mapping()
                        .unwrap_or_else(|| panic!("windows.{name}: a mapping"))
                        .iter()
                        .map(|(l, s)| {
                            let (l, s) = (l.as_str().unwrap(), s.as_str().unwrap());
                            let (lms, sms) = (parse_duration(l), parse_duration(s));
                            assert!(
                                lms.zip(sms).is_some_and(|(l, s)| s <= l),
                                "windows.{name}: {s} must be a duration no longer than {l}"
                            );
                            (l.to_owned(), s.to_owned())
                        })
                        .collect();
                    (name, pairs)
                })
                .collect()
        })
        .unwrap_or_default();

    let alerts = alerts();
    let names: BTreeSet<String> = alerts
        .iter()
        .map(|r| r.alert().unwrap().to_owned())
        .collect();
    let listed: BTreeSet<String> = short.keys().cloned().collect();
    assert_eq!(
        listed, names,
        "test-overrides.yml must list every alert, and only them"
    );
    for rule in &alerts {
        let name = rule.alert().unwrap();
        let real = parse_duration(str_at(&rule.rule, "for").unwrap()).unwrap();
        assert!(
            short[name] <= real,
            "{name}: the override is longer than the real `for:`"
        );
    }
    // The order inhibition relies on: the link alert before the per-topic alerts, and these
    // before the per-link count of partitions in error they explain.
    assert!(short["ClusterLinkSourceOutage"] < short["ClusterLinkDown"]);
    assert!(short["ClusterLinkDown"] < short["ClusterLinkMirrorTopicSourceUnavailable"]);
    assert!(
        short["ClusterLinkMirrorTopicSourceUnavailable"]
            < short["ClusterLinkMirrorPartitionsInError"]
    );
    let recorded: BTreeSet<String> = rules()
        .iter()
        .filter_map(|r| r.record().map(str::to_owned))
        .collect();
    for name in windows.keys() {
        assert!(names.contains(name), "windows.{name} is not an alert");
    }
    for name in thresholds.keys() {
        assert!(
            recorded.contains(name),
            "thresholds.{name} is not a recording rule"
        );
    }
    // Alertmanager's route durations: all three, none longer than alertmanager.yml's.
    let route = yaml(&root().join("alerts/alertmanager.yml"))
        .get("route")
        .cloned()
        .expect("alertmanager.yml: route");
    let alertmanager = overrides
        .get("alertmanager")
        .expect("test-overrides.yml: alertmanager");
    for key in ["group_wait", "group_interval", "repeat_interval"] {
        let short = str_at(alertmanager, key)
            .and_then(parse_duration)
            .unwrap_or_else(|| panic!("test-overrides.yml: alertmanager.{key} is not a duration"));
        let real = str_at(&route, key)
            .and_then(parse_duration)
            .unwrap_or_else(|| panic!("alertmanager.yml: route.{key} is not a duration"));
        assert!(
            short <= real,
            "alertmanager.{key} is longer than alertmanager.yml's"
        );
    }

    // Apply them to copies of the rule files, as an end-to-end test would.
    let dir = TempDir::new("overrides");
    let mut written = Vec::new();
    for path in rule_files() {
        let mut doc = yaml(&path);
        let groups = doc
            .get_mut("groups")
            .and_then(Value::as_sequence_mut)
            .expect("groups");
        for group in groups.iter_mut() {
            assert!(
                group.get("interval").is_none(),
                "rule groups follow the global evaluation_interval: no group `interval:`"
            );
            let rules = group
                .get_mut("rules")
                .and_then(Value::as_sequence_mut)
                .expect("rules");
            for rule in rules.iter_mut() {
                let map = rule.as_mapping_mut().expect("a rule is a mapping");
                if let Some(name) = map.get("alert").and_then(Value::as_str).map(str::to_owned) {
                    let seconds = whole_seconds(short[&name]);
                    map.insert("for".into(), format!("{seconds}s").into());
                    for (long, short) in windows.get(&name).into_iter().flatten() {
                        let expr = map.get("expr").and_then(Value::as_str);
                        let expr = expr.expect("an alert has an expr");
                        let range = format!("[{long}]");
                        assert!(
                            expr.contains(&range),
                            "windows.{name}: no {range} in its expr"
                        );
                        let expr = expr.replace(&range, &format!("[{short}]"));
                        map.insert("expr".into(), expr.into());
                    }
                }
                if let Some(name) = map.get("record").and_then(Value::as_str).map(str::to_owned) {
                    if let Some(value) = thresholds.get(&name) {
                        map.insert("expr".into(), format!("vector({value})").into());
                    }
                }
            }
        }
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = serde_norway::to_string(&doc).expect("serialize the rules");
        std::fs::write(dir.path().join(&file), text).expect("write the rewritten rules");
        written.push(file);
    }
    run(Command::new(promtool())
        .args(["check", "rules"])
        .args(&written)
        .current_dir(dir.path()));

    // At a 1 s evaluation interval the page for a source outage comes within seconds: the
    // mirror topic turns SOURCE_UNAVAILABLE at 2s, the link UNAVAILABLE at 5s.
    assert_eq!(
        interval_ms, 1000,
        "this check assumes evaluation_interval: 1s"
    );
    let down = 5 + whole_seconds(short["ClusterLinkDown"]);
    let per_topic = 2 + whole_seconds(short["ClusterLinkMirrorTopicSourceUnavailable"]);
    assert!(
        down < per_topic,
        "ClusterLinkDown must fire before the per-topic alerts"
    );
    let end = per_topic + 10;
    let labels = r#"job="cluster-link-exporter", instance="exporter:9849", kafka_cluster="dr", link="dr-link""#;
    let rule_files = written
        .iter()
        .map(|f| format!("  - {f}\n"))
        .collect::<String>();
    let test = format!(
        r#"rule_files:
{rule_files}
evaluation_interval: 1s

tests:
  - interval: 1s
    input_series:
      - series: 'up{{job="cluster-link-exporter", instance="exporter:9849"}}'
        values: '1x{end}'
      - series: 'clusterlink_up{{job="cluster-link-exporter", instance="exporter:9849", kafka_cluster="dr"}}'
        values: '1x{end}'
      - series: 'clusterlink_link_state{{{labels}, state="ACTIVE"}}'
        values: '1x4 0x{rest_link}'
      - series: 'clusterlink_link_state{{{labels}, state="UNAVAILABLE"}}'
        values: '0x4 1x{rest_link}'
      - series: 'clusterlink_mirror_topic_state{{{labels}, mirror_topic="orders", state="SOURCE_UNAVAILABLE"}}'
        values: '0x1 1x{rest_topic}'
    promql_expr_test:
      - expr: ALERTS{{alertstate="firing"}}
        eval_time: {before}s
        exp_samples: []
      - expr: count by (alertname) (ALERTS{{alertstate="firing"}})
        eval_time: {down}s
        exp_samples:
          - labels: '{{alertname="ClusterLinkDown"}}'
            value: 1
      - expr: count by (alertname) (ALERTS{{alertstate="firing"}})
        eval_time: {per_topic}s
        exp_samples:
          - labels: '{{alertname="ClusterLinkDown"}}'
            value: 1
          - labels: '{{alertname="ClusterLinkMirrorTopicSourceUnavailable"}}'
            value: 1
"#,
        rest_link = end - 5,
        rest_topic = end - 2,
        before = down - 1,
    );
    std::fs::write(dir.path().join("overrides_test.yml"), test).expect("write the test");
    run(Command::new(promtool())
        .args(["test", "rules", "overrides_test.yml"])
        .current_dir(dir.path()));
}

/// Every state, reason or worker an alert or recording rule matches on is one the exporter
/// writes: a value of the one `ALL` list of its set (a typo or a renamed state would leave a
/// rule silently never firing).
#[test]
fn rules_match_only_label_values_the_exporter_writes() {
    use cluster_link_exporter::CollectionErrorReason;
    use cluster_link_exporter::KafkaErrorReason;
    use cluster_link_exporter::Worker;
    use cluster_link_exporter::{FailoverBlocker, FailoverVerdict};
    use cluster_link_exporter::{LinkError, LinkState, MirrorState, StateCategory, TaskState};

    fn labels<const N: usize, T: Copy>(all: [T; N], f: fn(T) -> &'static str) -> Vec<&'static str> {
        all.into_iter().map(f).collect()
    }
    let known: BTreeMap<(&str, &str), Vec<&str>> = [
        (
            ("clusterlink_link_state", "state"),
            labels(LinkState::ALL, LinkState::as_str),
        ),
        (
            ("clusterlink_link_error", "error"),
            labels(LinkError::ALL, LinkError::as_str),
        ),
        (
            ("clusterlink_link_task_state", "state"),
            labels(TaskState::ALL, TaskState::as_str),
        ),
        (
            ("clusterlink_mirror_topic_state", "state"),
            labels(MirrorState::ALL, MirrorState::as_str),
        ),
        (
            ("clusterlink_link_mirror_topics", "state"),
            labels(MirrorState::ALL, MirrorState::as_str),
        ),
        (
            ("clusterlink_link_mirror_partitions", "state_category"),
            labels(StateCategory::ALL, StateCategory::as_str),
        ),
        (
            ("clusterlink_collection_errors_total", "reason"),
            labels(CollectionErrorReason::ALL, CollectionErrorReason::as_str),
        ),
        (
            ("clusterlink_kafka_errors_total", "reason"),
            labels(KafkaErrorReason::ALL, KafkaErrorReason::as_str),
        ),
        (
            ("clusterlink_exporter_worker_restarts_total", "worker"),
            labels(Worker::ALL, Worker::as_str),
        ),
        (
            ("clusterlink_link_failover_readiness", "verdict"),
            labels(FailoverVerdict::ALL, FailoverVerdict::as_str),
        ),
        (
            ("clusterlink_link_failover_blocked", "reason"),
            labels(FailoverBlocker::ALL, FailoverBlocker::as_str),
        ),
    ]
    .into();
    let selector = regex::Regex::new(r"(clusterlink_[a-z_]+)\{([^}]*)\}").unwrap();
    let matcher = regex::Regex::new(r#"([a-z_]+)\s*(=~|!~|!=|=)\s*"([^"]*)""#).unwrap();
    let mut checked = 0;
    let mut unknown = Vec::new();
    for rule in rules() {
        for s in selector.captures_iter(rule.expr()) {
            for m in matcher.captures_iter(&s[2]) {
                let Some(values) = known.get(&(&s[1], &m[1])) else {
                    continue;
                };
                for value in m[3].split('|') {
                    checked += 1;
                    if !values.contains(&value) {
                        unknown.push(format!("{}: {}{{{}}}", rule.file, &s[1], &m[0]));
                    }
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "values the exporter never writes: {unknown:#?}"
    );
    // The rules match on link, task and mirror states, categories and reasons: a parser that
    // found none would check nothing.
    assert!(checked >= 20, "only {checked} values found in the rules");
}

// ---------------------------------------------------------------------------------------
// High availability: every promtool test again, with its input under two replicas.
// ---------------------------------------------------------------------------------------

/// Alerts that keep the replica labels on purpose (one alert per replica); every other alert
/// drops `instance` and `pod`.
const PER_REPLICA_ALERTS: [&str; 1] = ["ClusterLinkExporterReplicaDown"];

/// How the second replica (B) of a generated test relates to the test's own series (A).
#[derive(Clone, Copy, Debug)]
enum Replicas {
    /// B is an exact copy of A: both collect the same values.
    Twins,
    /// B's target is down for the whole test (`up` 0 where A has `up`), so it has no series.
    OneDown,
    /// B is scraped (its `up` and process-level `clusterlink_exporter_*` series copy A's) but
    /// none of its collections succeeds: `clusterlink_up` and `clusterlink_kafka_up` 0, its
    /// last successful collection at 0 (the epoch), every link and mirror topic series
    /// withdrawn.
    OneStale,
}

impl Replicas {
    const ALL: [Replicas; 3] = [Replicas::Twins, Replicas::OneDown, Replicas::OneStale];

    fn tag(self) -> &'static str {
        match self {
            Replicas::Twins => "twins",
            Replicas::OneDown => "one-down",
            Replicas::OneStale => "one-stale",
        }
    }

    /// Replica B's values for a series of A named `name`, or None when B has no such series.
    fn values_of_b(self, name: &str, values: &str) -> Option<String> {
        let zero = || Some(zero_values(values));
        match (self, name) {
            (Replicas::Twins, _) => Some(values.to_owned()),
            (Replicas::OneDown, "up") => zero(),
            (Replicas::OneDown, _) => None,
            (Replicas::OneStale, "clusterlink_up" | "clusterlink_kafka_up") => zero(),
            (Replicas::OneStale, "clusterlink_last_successful_collection_timestamp_seconds") => {
                zero()
            }
            (Replicas::OneStale, n) if n == "up" || n.starts_with("clusterlink_exporter_") => {
                Some(values.to_owned())
            }
            (Replicas::OneStale, _) => None,
        }
    }

    /// Whether B's own per-replica alerts are the same as A's (B is scraped exactly as A).
    fn b_scraped_as_a(self) -> bool {
        !matches!(self, Replicas::OneDown)
    }
}

/// A promtool series value list (`1x5 0+2x10 _x3 stale`) with every sample replaced by 0,
/// keeping gaps (`_`) and stale markers where they are.
fn zero_values(values: &str) -> String {
    values
        .split_whitespace()
        .map(|token| {
            if token.starts_with('_') || token == "stale" {
                token.to_owned()
            } else if let Some((_, times)) = token.rsplit_once('x') {
                format!("0x{times}")
            } else {
                "0".to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Replica B's value of a replica label: `instance` gets a suffix, `pod` too when A has one.
fn replica_b(value: &str) -> String {
    format!("{value}-b")
}

/// The pod label replica B gets when A's series have none.
const POD_B: &str = "replica-b";

/// A series selector `name{a="1", b="2"}` of a promtool test: its name and labels.
fn parse_series(series: &str) -> (String, Vec<(String, String)>) {
    let (name, rest) = series.split_once('{').unwrap_or((series, "}"));
    let label = regex::Regex::new(r#"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)""#)
        .expect("label regex");
    let labels = label
        .captures_iter(rest)
        .map(|c| (c[1].to_owned(), c[2].to_owned()))
        .collect();
    (name.trim().to_owned(), labels)
}

fn format_series(name: &str, labels: &[(String, String)]) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", inner.join(", "))
}

/// Replica B's labels for A's: `instance` (and `pod`) changed, `pod` added where missing.
fn labels_of_b(labels: &[(String, String)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| match k.as_str() {
            "instance" | "pod" => (k.clone(), replica_b(v)),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    if !out.iter().any(|(k, _)| k == "pod") {
        out.push(("pod".to_owned(), POD_B.to_owned()));
    }
    out
}

/// The input series of a test group with replica B's series added: each series with an
/// `instance` label is replica A's. Returns the new list and how many series B got.
fn input_with_replica_b(series: &[Value], replicas: Replicas) -> (Vec<Value>, usize) {
    let mut out = series.to_vec();
    let mut added = 0;
    for entry in series {
        let selector = str_at(entry, "series").expect("input_series entry without series");
        let values = str_at(entry, "values").unwrap_or_default();
        let (name, labels) = parse_series(selector);
        if !labels.iter().any(|(k, _)| k == "instance") {
            continue;
        }
        let Some(values_b) = replicas.values_of_b(&name, values) else {
            continue;
        };
        let mut b = serde_norway::Mapping::new();
        b.insert(
            "series".into(),
            format_series(&name, &labels_of_b(&labels)).into(),
        );
        b.insert("values".into(), values_b.into());
        out.push(Value::Mapping(b));
        added += 1;
    }
    (out, added)
}

/// The expected alerts of one `alert_rule_test` entry under two replicas: the same, plus B's
/// copy of each per-replica alert (one whose `exp_labels` name an `instance`), its replica
/// labels and the instance in its annotations replaced by B's.
fn expected_with_replica_b(expected: &[Value]) -> Vec<Value> {
    let mut out = expected.to_vec();
    for alert in expected {
        let Some(labels) = alert.get("exp_labels").and_then(Value::as_mapping) else {
            continue;
        };
        let Some(instance) = labels.get("instance").and_then(Value::as_str) else {
            continue;
        };
        let instance_b = replica_b(instance);
        let mut labels_b = labels.clone();
        labels_b.insert("instance".into(), instance_b.clone().into());
        let pod_b = match labels.get("pod").and_then(Value::as_str) {
            Some(pod) => replica_b(pod),
            None => POD_B.to_owned(),
        };
        labels_b.insert("pod".into(), pod_b.into());
        let mut alert_b = alert.clone();
        let map = alert_b
            .as_mapping_mut()
            .expect("exp_alerts entry is a mapping");
        map.insert("exp_labels".into(), Value::Mapping(labels_b));
        if let Some(Value::Mapping(annotations)) = map.get_mut("exp_annotations") {
            for (_, text) in annotations.iter_mut() {
                if let Some(s) = text.as_str() {
                    *text = s.replace(instance, &instance_b).into();
                }
            }
        }
        out.push(alert_b);
    }
    out
}

/// The `alert_rule_test` list of a test group under two replicas.
fn alert_tests_with_replica_b(checks: &[Value], replicas: Replicas) -> Vec<Value> {
    let mut out = Vec::new();
    for check in checks {
        let alert = str_at(check, "alertname").unwrap_or_default();
        if PER_REPLICA_ALERTS.contains(&alert) && !replicas.b_scraped_as_a() {
            // B's own per-replica alert fires by design here; the hand-written tests of
            // alerts/tests/exporter.yml check it.
            continue;
        }
        let mut check = check.clone();
        if replicas.b_scraped_as_a() {
            let expected = expected_with_replica_b(seq_at(&check, "exp_alerts"));
            if !expected.is_empty() {
                let map = check
                    .as_mapping_mut()
                    .expect("alert_rule_test is a mapping");
                map.insert("exp_alerts".into(), Value::Sequence(expected));
            }
        }
        out.push(check);
    }
    out
}

/// The `promql_expr_test` list of a test group under two replicas: queries of `ALERTS` leave
/// out B's per-replica alerts where B is down; a query expecting samples of one replica cannot
/// be duplicated mechanically and is refused.
fn expr_tests_with_replica_b(at: &str, checks: &[Value], replicas: Replicas) -> Vec<Value> {
    let alerts = regex::Regex::new(r"\bALERTS(\{)?").expect("ALERTS regex");
    let exclude = PER_REPLICA_ALERTS
        .iter()
        .map(|a| format!("alertname!=\"{a}\""))
        .collect::<Vec<_>>()
        .join(",");
    let mut out = Vec::new();
    for check in checks {
        for sample in seq_at(check, "exp_samples") {
            let labels = str_at(sample, "labels").unwrap_or_default();
            assert!(
                !labels.contains("instance="),
                "{at}: a promql_expr_test expects a sample with an instance ({labels}); \
                 query alerts (or aggregate away instance) so the HA variants can reuse it"
            );
        }
        let mut check = check.clone();
        let expr = str_at(&check, "expr").unwrap_or_default().to_owned();
        if !replicas.b_scraped_as_a() && alerts.is_match(&expr) {
            let rewritten = alerts.replace_all(&expr, |c: &regex::Captures<'_>| match c.get(1) {
                Some(_) => format!("ALERTS{{{exclude},"),
                None => format!("ALERTS{{{exclude}}}"),
            });
            let map = check
                .as_mapping_mut()
                .expect("promql_expr_test is a mapping");
            map.insert("expr".into(), rewritten.into_owned().into());
        }
        out.push(check);
    }
    out
}

/// A promtool test file rewritten for two replicas: its rule files by absolute path, each test
/// group's input with replica B's series, its expectations as [`alert_tests_with_replica_b`]
/// and [`expr_tests_with_replica_b`] say. Returns the YAML and how many series B got.
fn test_file_with_replica_b(path: &Path, replicas: Replicas) -> (String, usize) {
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let dir = path.parent().expect("test file directory");
    let mut doc = yaml(path);
    let map = doc
        .as_mapping_mut()
        .expect("a promtool test file is a mapping");
    let rule_files: Vec<Value> = seq_at(&Value::Mapping(map.clone()), "rule_files")
        .iter()
        .map(|f| {
            let rel = f.as_str().expect("rule_files entry");
            dir.join(rel).to_string_lossy().into_owned().into()
        })
        .collect();
    map.insert("rule_files".into(), Value::Sequence(rule_files));
    let mut added = 0;
    let tests = map
        .get_mut("tests")
        .and_then(Value::as_sequence_mut)
        .unwrap_or_else(|| panic!("{file}: no tests"));
    for group in tests.iter_mut() {
        let name = str_at(group, "name").unwrap_or("unnamed").to_owned();
        let at = format!("{file} / {name}");
        let (input, n) = input_with_replica_b(seq_at(group, "input_series"), replicas);
        added += n;
        let alerts = alert_tests_with_replica_b(seq_at(group, "alert_rule_test"), replicas);
        let exprs = expr_tests_with_replica_b(&at, seq_at(group, "promql_expr_test"), replicas);
        let g = group.as_mapping_mut().expect("a test group is a mapping");
        g.insert("name".into(), format!("[{}] {name}", replicas.tag()).into());
        g.insert("input_series".into(), Value::Sequence(input));
        g.insert("alert_rule_test".into(), Value::Sequence(alerts));
        g.insert("promql_expr_test".into(), Value::Sequence(exprs));
    }
    let text = serde_norway::to_string(&doc).expect("serialize the test file");
    (text, added)
}

/// Every promtool test of `alerts/tests/` again with its input under two replicas (generated
/// here, so they cannot drift from the tests they copy): twins, one replica down for the whole
/// test, one replica scraped but failing every collection. The alerts expected are the same
/// (per-replica alerts: one per replica where both are scraped alike), so two replicas page
/// once per incident.
#[test]
fn every_promtool_test_passes_with_two_replicas() {
    let dir = TempDir::new("ha-promtool");
    let mut written = Vec::new();
    for replicas in Replicas::ALL {
        let mut added = 0;
        for path in test_files() {
            let (text, n) = test_file_with_replica_b(&path, replicas);
            let name = format!(
                "{}-{}",
                replicas.tag(),
                path.file_name().unwrap().to_string_lossy()
            );
            std::fs::write(dir.path().join(&name), text).expect("write the generated test");
            written.push(name);
            added += n;
        }
        // Replica B has series in every variant (at least `up` and the REST series).
        assert!(
            added >= 10,
            "{replicas:?}: replica B got only {added} series"
        );
    }
    let output = run(Command::new(promtool())
        .args(["test", "rules"])
        .args(&written)
        .current_dir(dir.path()));
    assert!(!output.contains("FAILED"), "{output}");
}

/// Every alert drops the replica labels (`without (instance, pod)`, or an aggregation `by`
/// other labels, or only `absent(…)`), except the per-replica ones, which keep them.
#[test]
fn every_alert_collapses_replica_labels() {
    let by = regex::Regex::new(r"\bby\s*\(([^)]*)\)").expect("by regex");
    for rule in alerts() {
        let name = rule.alert().unwrap();
        let expr = rule.expr();
        let without = expr.contains("without (instance, pod)");
        let by_other = by
            .captures_iter(expr)
            .any(|c| !c[1].contains("instance") && !c[1].contains("pod"));
        let absent_only = expr.trim_start().starts_with("absent(");
        if PER_REPLICA_ALERTS.contains(&name) {
            assert!(
                !without && !by_other,
                "{name} is per replica: it keeps instance and pod"
            );
        } else {
            assert!(
                without || by_other || absent_only,
                "{name} ({}): drop the replica labels with `max without (instance, pod)` (or \
                 `min`), or list it in PER_REPLICA_ALERTS",
                rule.file
            );
        }
    }
}

/// Whether an Alertmanager matcher on `alertname` accepts `alert`: regexes are anchored, as
/// Alertmanager anchors them.
fn alertname_matches(op: &str, pattern: &str, alert: &str) -> bool {
    let anchored = || {
        regex::Regex::new(&format!("^(?:{pattern})$"))
            .unwrap_or_else(|e| panic!("matcher regex {pattern:?}: {e}"))
            .is_match(alert)
    };
    match op {
        "=" => alert == pattern,
        "!=" => alert != pattern,
        "=~" => anchored(),
        "!~" => !anchored(),
        _ => unreachable!("operator {op}"),
    }
}
