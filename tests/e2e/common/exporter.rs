//! Helpers for tests that run the exporter against the simulator: a scenario in which every
//! metric family has series, the exporter started on it, the exposition parsed, and the
//! family table of `docs/metrics.md` parsed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cluster_link_exporter::config::Config;
use cluster_link_exporter::demo::config_for;
use cluster_link_exporter::testing::families_in;
use cluster_link_exporter::{Exporter, ExporterOptions};
use cluster_link_sim::{Action, Simulator};

use super::eventually::eventually;
use super::scrape::{parse_sample, Sample};
use super::sim::{http, start, wait_mirror_status};

/// Two clusters, A of the Confluent Platform flavour and B of the Confluent Cloud flavour (so
/// that the Cloud-only `clusterlink_link_mirror_partitions` is served too); link `ab` A→B
/// mirrors `events` (with traffic and a consumer group whose offsets it syncs), `orders`
/// (whose source is deleted once running, so the mirror fails with an error) and
/// `clusterlink-probe` (so the demo configuration probes the link); ACL sync is on without
/// `acl.filters`, so the `AclSync` task is `IN_ERROR`; fast availability checks. A second
/// link, `done`, mirrors `legacy` and is failed over once running (a completed fail-over).
pub const SCENARIO: &str = r#"
clusters:
  - name: A
    brokers: 1
    topics: [{name: events, partitions: 2}, {name: orders, partitions: 2}, {name: payments, partitions: 1}, {name: clusterlink-probe, partitions: 1}, {name: legacy, partitions: 1}]
  - name: B
    brokers: 1
    flavour: cloud
links:
  - name: ab
    source: A
    destination: B
    mirrors: [events, orders, payments, clusterlink-probe]
    configs:
      acl.sync.enable: true
      consumer.offset.sync.enable: true
      consumer.offset.sync.ms: 500
      consumer.offset.group.filters: '{"groupFilters":[{"name":"events-app","patternType":"LITERAL","filterType":"INCLUDE"}]}'
      availability.check.ms: 200
      availability.check.consecutive.failure.threshold: 3
  - name: done
    source: A
    destination: B
    mirrors: [legacy]
traffic:
  - {cluster: A, topic: events, records_per_second: 20}
consumers:
  - {cluster: A, group: events-app, topic: events}
"#;

/// How long each wait may take at most.
pub const WAIT: Duration = Duration::from_secs(60);

/// The simulator and an exporter polling it.
pub struct Running {
    pub sim: Simulator,
    pub exporter: Exporter,
    /// The `/metrics` text once every expected series was there.
    pub text: String,
}

impl Running {
    /// Stops the exporter, then the simulator.
    pub async fn stop(self) {
        self.exporter.shutdown().await;
        drop(self.sim);
    }
}

/// GETs a URL; `None` on a transport error.
pub async fn get_text(client: &reqwest::Client, url: &str) -> Option<(u16, String)> {
    let resp = client.get(url).send().await.ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.text().await.ok()?))
}

/// Starts [`SCENARIO`], deletes the source topic of `orders`, fails `payments` over, starts an exporter polling every
/// cluster every 500 ms on `127.0.0.1:0`, and waits until it is ready and serves every
/// expected series: every family it declares has samples (link `done` failed over), the
/// failed mirror has its error (and its 2 partitions are `IN_ERROR` in B's `category_counts`)
/// and the `AclSync` task is `IN_ERROR`.
pub async fn start_with_every_family() -> Running {
    let sim = start(SCENARIO).await;
    wait_mirror_status(&sim, "B", "ab", "events", "ACTIVE").await;
    wait_mirror_status(&sim, "B", "ab", "orders", "ACTIVE").await;
    sim.apply(&Action::DeleteTopic {
        cluster: "A".into(),
        topic: "orders".into(),
    })
    .expect("source topic deleted");
    wait_mirror_status(&sim, "B", "ab", "orders", "FAILED").await;
    sim.apply(&Action::FailoverMirrors {
        cluster: "B".into(),
        link: "ab".into(),
        mirrors: vec!["payments".into()],
    })
    .expect("payments failed over");
    wait_mirror_status(&sim, "B", "ab", "payments", "STOPPED").await;
    wait_mirror_status(&sim, "B", "done", "legacy", "ACTIVE").await;
    sim.apply(&Action::FailoverMirrors {
        cluster: "B".into(),
        link: "done".into(),
        mirrors: vec!["legacy".into()],
    })
    .expect("legacy failed over");
    wait_mirror_status(&sim, "B", "done", "legacy", "STOPPED").await;
    let yaml = config_for(&sim, "500ms");
    let config = Config::from_yaml(&yaml)
        .unwrap_or_else(|e| panic!("exporter config does not parse: {e}\n{yaml}"));
    let exporter = Exporter::start(ExporterOptions::new(config))
        .await
        .expect("exporter starts");
    let base = format!("http://{}", exporter.address());
    let client = http();
    let what = "the exporter ready, serving every expected series";
    let text = eventually(WAIT, what, || async {
        match get_text(&client, &format!("{base}/-/ready")).await {
            Some((200, _)) => match get_text(&client, &format!("{base}/metrics")).await {
                Some((200, text)) => {
                    let missing = missing_series(&text);
                    if missing.is_empty() {
                        Ok(text)
                    } else {
                        Err(format!("expected series missing: {missing:#?}"))
                    }
                }
                other => Err(format!("GET /metrics: {other:?}")),
            },
            other => Err(format!("GET /-/ready: {other:?}")),
        }
    })
    .await;
    Running {
        sim,
        exporter,
        text,
    }
}

/// What the exposition still lacks of what [`SCENARIO`] should produce.
fn missing_series(text: &str) -> Vec<String> {
    let parsed = parse_exposition(text);
    let mut missing: Vec<String> = parsed
        .iter()
        .filter(|(_, f)| f.samples.is_empty())
        .filter(|(name, _)| !NOT_SERVED_BY_THE_SIMULATOR.iter().any(|(n, _)| n == name))
        .map(|(name, _)| format!("no sample of {name}"))
        .collect();
    // Families that appear with their first sample (librdkafka statistics, the probe).
    for doc in simulated_families() {
        if !parsed.contains_key(&doc.name) {
            missing.push(format!("{} not served yet", doc.name));
        }
    }
    let has = |family: &str, labels: &[(&str, &str)], value: Option<&str>| {
        parsed.get(family).is_some_and(|f| {
            f.samples.iter().any(|s| {
                labels.iter().all(|(k, v)| s.label(k) == Some(v))
                    && value.is_none_or(|want| s.value == want)
            })
        })
    };
    if !has(
        "clusterlink_mirror_topic_error",
        &[
            ("mirror_topic", "orders"),
            ("error", "SOURCE_TOPIC_MAY_BE_DELETED"),
        ],
        None,
    ) {
        missing.push("clusterlink_mirror_topic_error of orders".into());
    }
    if !has(
        "clusterlink_link_task_state",
        &[("task", "AclSync"), ("state", "IN_ERROR")],
        Some("1"),
    ) {
        missing.push("clusterlink_link_task_state of AclSync IN_ERROR = 1".into());
    }
    if !has(
        "clusterlink_link_mirror_partitions",
        &[("link", "ab"), ("state_category", "IN_ERROR")],
        Some("2"),
    ) {
        missing.push("clusterlink_link_mirror_partitions of ab IN_ERROR = 2 (orders)".into());
    }
    missing
}

/// One family of the exposition and its samples.
#[derive(Debug, Clone, Default)]
pub struct ServedFamily {
    /// `gauge`, `counter`, … as in `# TYPE`.
    pub kind: String,
    pub samples: Vec<Sample>,
}

/// The name a family is documented and queried by: a counter `x` by its sample name `x_total`
/// (OpenMetrics declares `# TYPE x counter`, the text format 0.0.4 `# TYPE x_total counter`),
/// anything else (a histogram too) by its family name.
pub fn query_name(family: &str, kind: &str) -> String {
    if kind == "counter" && !family.ends_with("_total") {
        format!("{family}_total")
    } else {
        family.to_owned()
    }
}

/// Families of an exposition text by query name ([`query_name`]), with their samples. Panics
/// on a sample line that belongs to no declared family or cannot be parsed.
pub fn parse_exposition(text: &str) -> BTreeMap<String, ServedFamily> {
    let declared: BTreeMap<String, String> = families_in(text).into_iter().collect();
    let mut out: BTreeMap<String, ServedFamily> = declared
        .iter()
        .map(|(name, kind)| {
            (
                query_name(name, kind),
                ServedFamily {
                    kind: kind.clone(),
                    samples: Vec::new(),
                },
            )
        })
        .collect();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let sample = parse_sample(line).unwrap_or_else(|| panic!("unparsable sample: {line}"));
        let family = if declared.contains_key(&sample.name) {
            Some(sample.name.clone())
        } else {
            [
                ("_total", "counter"),
                ("_created", "counter"),
                ("_bucket", "histogram"),
                ("_sum", "histogram"),
                ("_count", "histogram"),
                ("_created", "histogram"),
            ]
            .iter()
            .find_map(|(suffix, kind)| {
                let base = sample.name.strip_suffix(suffix)?;
                (declared.get(base).map(String::as_str) == Some(*kind)).then(|| base.to_owned())
            })
        };
        let family = family
            .unwrap_or_else(|| panic!("sample of an undeclared family (no # TYPE line): {line}"));
        // `_created` carries no information of its own; a histogram's label set is that of
        // its `_count` (buckets add `le`).
        if (sample.name.ends_with("_created") || sample.name.ends_with("_bucket"))
            && family != sample.name
        {
            continue;
        }
        let kind = &declared[&family];
        out.get_mut(&query_name(&family, kind))
            .expect("declared family")
            .samples
            .push(sample);
    }
    out
}

/// One row of the family table of `docs/metrics.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocFamily {
    /// As documented: counters by their sample name (`…_total`).
    pub name: String,
    pub kind: String,
    pub labels: Vec<String>,
}

/// Path of the metrics reference.
pub const METRICS_DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md");

/// The header row of the family table.
pub const TABLE_HEADER: &str = "| metric | type | labels | meaning |";

/// Parses the family tables of `docs/metrics.md` (the tables with [`TABLE_HEADER`]).
/// Documented families the simulator cannot give a sample (they are declared, `# HELP` and
/// `# TYPE`, like every family), each with why and where it is checked instead.
/// [`start_with_every_family`] does not wait for their samples, `metrics_doc` checks that the
/// simulator's exporter serves none (so an exemption goes once it does) and `prometheus` does
/// not query them.
pub const NOT_SERVED_BY_THE_SIMULATOR: &[(&str, &str)] = &[(
    "clusterlink_mirror_topic_source_retention_seconds",
    "librdkafka's mock cluster does not answer DescribeConfigs (the exporter reports the \
     retention as unknown, once in its log); served and checked against real Apache Kafka by \
     source_topic_facts",
)];

/// The documented families the simulator serves: [`documented_families`] but those of
/// [`NOT_SERVED_BY_THE_SIMULATOR`].
pub fn simulated_families() -> Vec<DocFamily> {
    documented_families()
        .into_iter()
        .filter(|d| {
            !NOT_SERVED_BY_THE_SIMULATOR
                .iter()
                .any(|(n, _)| *n == d.name)
        })
        .collect()
}

pub fn documented_families() -> Vec<DocFamily> {
    let text = std::fs::read_to_string(METRICS_DOC)
        .unwrap_or_else(|e| panic!("cannot read {METRICS_DOC}: {e}"));
    parse_doc_table(&text)
}

fn strip_backticks(cell: &str) -> Option<&str> {
    cell.strip_prefix('`')?.strip_suffix('`')
}

/// Parses the family tables of a metrics reference text (every table with [`TABLE_HEADER`]:
/// the exporter's own families, then the per-cluster ones), rows in order.
pub fn parse_doc_table(text: &str) -> Vec<DocFamily> {
    let lines: Vec<&str> = text.lines().collect();
    let headers: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim() == TABLE_HEADER)
        .map(|(i, _)| i)
        .collect();
    assert!(
        !headers.is_empty(),
        "{METRICS_DOC} must have a table with the header {TABLE_HEADER:?}"
    );
    let mut out: Vec<DocFamily> = Vec::new();
    for first in headers {
        parse_rows(&lines, first, &mut out);
    }
    assert!(!out.is_empty(), "{METRICS_DOC}: the family table is empty");
    out
}

/// Parses the rows of the table whose header is at `first` into `out`.
fn parse_rows(lines: &[&str], first: usize, out: &mut Vec<DocFamily>) {
    assert!(
        lines
            .get(first + 1)
            .is_some_and(|l| l.trim().starts_with("|---")),
        "{METRICS_DOC}:{}: the header must be followed by a |---| separator row",
        first + 2
    );
    for (i, line) in lines
        .iter()
        .enumerate()
        .skip(first + 2)
        .take_while(|(_, l)| l.trim().starts_with('|'))
    {
        let at = format!("{METRICS_DOC}:{}", i + 1);
        let inner = line
            .trim()
            .strip_prefix('|')
            .and_then(|l| l.strip_suffix('|'))
            .unwrap_or_else(|| panic!("{at}: a row must start and end with |"));
        let cells: Vec<&str> = inner.split('|').map(str::trim).collect();
        assert_eq!(
            cells.len(),
            4,
            "{at}: expected 4 cells (metric, type, labels, meaning; no | inside a cell), got {}",
            cells.len()
        );
        let name = strip_backticks(cells[0])
            .unwrap_or_else(|| panic!("{at}: the metric name must be in backticks: {}", cells[0]));
        let kind = cells[1];
        assert!(
            ["gauge", "counter", "histogram"].contains(&kind),
            "{at}: unexpected type {kind:?}"
        );
        assert_eq!(
            kind == "counter",
            name.ends_with("_total"),
            "{at}: counters are listed by their sample name ending in _total, and only counters"
        );
        let labels: Vec<String> = if cells[2].is_empty() || cells[2] == "—" {
            Vec::new()
        } else {
            cells[2]
                .split(',')
                .map(|l| {
                    strip_backticks(l.trim())
                        .unwrap_or_else(|| {
                            panic!("{at}: each label name must be in backticks: {l:?}")
                        })
                        .to_owned()
                })
                .collect()
        };
        assert!(!cells[3].is_empty(), "{at}: the meaning of {name} is empty");
        assert!(
            out.iter().all(|f| f.name != name),
            "{at}: {name} is listed twice"
        );
        out.push(DocFamily {
            name: name.to_owned(),
            kind: kind.to_owned(),
            labels,
        });
    }
}

/// The documented (name, type) pairs.
pub fn documented_set(docs: &[DocFamily]) -> BTreeSet<(String, String)> {
    docs.iter()
        .map(|d| (d.name.clone(), d.kind.clone()))
        .collect()
}

/// The served (name, type) pairs, counters named `…_total` as in the docs.
pub fn served_set(text: &str) -> BTreeSet<(String, String)> {
    families_in(text)
        .into_iter()
        .map(|(name, kind)| (query_name(&name, &kind), kind))
        .collect()
}
