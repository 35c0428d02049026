//! `check-config --connect` against the simulator: a correct file passes (exit 0); a wrong
//! password, a wrong cluster id, a misspelt probe link and a misspelt offset-sync group each
//! fail (exit 1) with the key and the name in the table and no secret printed. At run time, a
//! misspelt probe link and a misspelt `source_clusters[].cluster_id` are each one warn line
//! (not one per cycle), a `clusterlink_config_reference_missing` series and an entry of
//! `/status.json`.

use std::process::Command;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::common::eventually::{done_if, eventually};
use crate::common::scrape::value;
use crate::common::servers::{temp_dir, KillOnDrop};
use cluster_link_sim::Simulator;

const BIN: &str = env!("CARGO_BIN_EXE_cluster-link-exporter");

/// The REST password of B: never printed.
const PASSWORD: &str = "Pr0per-Pa55word";

const SCENARIO: &str = r#"
clusters:
  - name: A
    brokers: 1
    topics:
      - {name: orders, partitions: 2}
      - {name: probe, partitions: 1}
  - name: B
    brokers: 1
    auth: {type: basic, username: svc, password: Pr0per-Pa55word}
links:
  - name: dr-link
    source: A
    destination: B
    mirrors: [orders, probe]
    configs:
      consumer.offset.sync.enable: true
      consumer.offset.group.filters: '{"groupFilters":[{"name":"orders-app","patternType":"LITERAL","filterType":"INCLUDE"}]}'
"#;

/// Settings of the file that may be wrong.
struct Knobs<'a> {
    password: &'a str,
    cluster_id: Option<&'a str>,
    probe_link: &'a str,
    group: &'a str,
    source_id: Option<&'a str>,
}

const RIGHT: Knobs<'static> = Knobs {
    password: PASSWORD,
    cluster_id: None,
    probe_link: "dr-link",
    group: "orders-app",
    source_id: None,
};

fn config(sim: &Simulator, k: &Knobs) -> String {
    let (a, b) = (sim.cluster("A"), sim.cluster("B"));
    format!(
        "defaults: {{poll_interval: 500ms, request_timeout: 3s}}
clusters:
  - name: B
    rest_url: {rest}
    cluster_id: {id}
    auth: {{type: basic, username: svc, password: {password}}}
    kafka: {{bootstrap_servers: '{b_kafka}'}}
    probes: [{{link: {probe_link}, topic: probe, instance_id: check}}]
    offset_sync: {{groups: [{group}]}}
source_clusters:
  - name: A
    cluster_id: {a_id}
    kafka: {{bootstrap_servers: '{a_kafka}'}}
",
        rest = b.rest_url,
        id = k.cluster_id.unwrap_or(&b.cluster_id),
        password = k.password,
        b_kafka = b.bootstrap_servers,
        probe_link = k.probe_link,
        group = k.group,
        a_id = k.source_id.unwrap_or(&a.cluster_id),
        a_kafka = a.bootstrap_servers,
    )
}

/// Commits offset 1 of `orders` partition 0 for `group` on A (the application whose offsets
/// the link syncs).
fn commit(sim: &Simulator, group: &str) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &sim.cluster("A").bootstrap_servers)
        .set("group.id", group)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("orders", 0, Offset::Offset(1))
        .unwrap();
    consumer.commit(&tpl, CommitMode::Sync).unwrap();
}

/// Runs `check-config --connect` on `yaml`: (exit code, stdout and stderr).
async fn check(name: &str, yaml: String) -> (Option<i32>, String) {
    let dir = temp_dir("check-connect");
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, yaml).unwrap();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(["check-config", "--connect", "--config"])
            .arg(&path)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    std::fs::remove_dir_all(dir).ok();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// The table row of `section` whose check column is `check`.
fn row_in<'a>(text: &'a str, section: &str, check: &str) -> &'a str {
    text.lines()
        .find(|l| {
            let mut columns = l.split("  ").map(str::trim).filter(|c| !c.is_empty());
            columns.next() == Some(section) && columns.next() == Some(check)
        })
        .unwrap_or_else(|| panic!("no row {check} of {section}:\n{text}"))
}

/// The table row whose check column is `check` (columns are apart by two spaces or more).
fn row<'a>(text: &'a str, check: &str) -> &'a str {
    text.lines()
        .find(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .nth(1)
                == Some(check)
        })
        .unwrap_or_else(|| panic!("no row {check}:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_connect_names_each_mistake_and_prints_no_secret() {
    let sim = crate::common::sim::start(SCENARIO).await;
    commit(&sim, "orders-app");
    let (code, text) = check("right", config(&sim, &RIGHT)).await;
    assert_eq!(code, Some(0), "{text}");
    for check in [
        "rest authenticated",
        "kafka cluster id",
        "links from cluster_id",
        "probes[0].link",
        "probes[0].topic (mirror topic)",
        "probes[0].topic (source)",
        "offset_sync.groups[0]",
    ] {
        assert!(row(&text, check).contains(" ok "), "{check}:\n{text}");
    }
    let cases = [
        (
            "password",
            Knobs {
                password: "Wr0ng-Pa55word",
                ..RIGHT
            },
            "rest authenticated",
            "FAILED",
        ),
        (
            "cluster-id",
            Knobs {
                cluster_id: Some("lkc-wrong"),
                ..RIGHT
            },
            "cluster_id",
            "lkc-wrong",
        ),
        (
            "source-id",
            Knobs {
                source_id: Some("lkc-typo"),
                ..RIGHT
            },
            "kafka cluster id",
            "lkc-typo",
        ),
        (
            "probe",
            Knobs {
                probe_link: "dr-lnk",
                ..RIGHT
            },
            "probes[0].link",
            "dr-lnk",
        ),
        (
            "group",
            Knobs {
                group: "orders-ap",
                ..RIGHT
            },
            "offset_sync.groups[0]",
            "orders-ap",
        ),
    ];
    for (name, knobs, check_name, named) in cases {
        let (code, text) = check(name, config(&sim, &knobs)).await;
        eprintln!("{name}:\n{text}");
        assert_eq!(code, Some(1), "{name}:\n{text}");
        let section = if name == "source-id" {
            "source_clusters[A]"
        } else {
            "clusters[B]"
        };
        let line = row_in(&text, section, check_name);
        assert!(line.contains(named), "{name}: {line}\n{text}");
        let expected = match name {
            "password" => "FAILED",
            "cluster-id" | "source-id" => "WRONG",
            _ => "MISSING",
        };
        assert!(line.contains(expected), "{name}: {line}");
        if name == "source-id" {
            // No link has the mistyped id as its source: the running exporter's check too.
            let used = row_in(&text, section, "links from cluster_id");
            assert!(
                used.contains("MISSING") && used.contains("lkc-typo"),
                "{used}"
            );
        }
        assert!(
            !text.contains(knobs.password),
            "{name}: the password is printed:\n{text}"
        );
        if name == "password" {
            // What the REST API would have said is each a skipped row, not left out.
            for check in [
                "links found",
                "probes[0].link",
                "probes[0].topic (mirror topic)",
            ] {
                assert!(row(&text, check).contains("skipped"), "{check}:\n{text}");
            }
        }
    }
    // The wrong id's row says which cluster the REST API serves.
    let (_, text) = check(
        "cluster-id",
        config(
            &sim,
            &Knobs {
                cluster_id: Some("lkc-wrong"),
                ..RIGHT
            },
        ),
    )
    .await;
    let served = &sim.cluster("B").cluster_id;
    assert!(row(&text, "cluster_id").contains(served.as_str()), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misspelt_probe_link_or_source_id_is_one_warning_a_series_and_a_status_entry() {
    let sim = crate::common::sim::start(SCENARIO).await;
    commit(&sim, "orders-app");
    let dir = temp_dir("check-connect-runtime");
    let path = dir.join("exporter.yaml");
    let knobs = Knobs {
        probe_link: "dr-lnk",
        source_id: Some("lkc-typo"),
        ..RIGHT
    };
    std::fs::write(&path, config(&sim, &knobs)).unwrap();
    let (mut child, base) = KillOnDrop::exporter_with_json_logs(&path);
    let client = crate::common::sim::http();
    let labels = [
        ("kafka_cluster", "B"),
        ("kind", "link"),
        ("name", "dr-lnk"),
        ("key", "probes[0].link"),
    ];
    let source = [
        ("kafka_cluster", "B"),
        ("kind", "source_cluster"),
        ("name", "lkc-typo"),
        ("key", "source_clusters[0].cluster_id"),
    ];
    let metrics = eventually(Duration::from_secs(30), "the missing names' series", || {
        let (client, url) = (client.clone(), format!("{base}/metrics"));
        async move {
            let text = crate::common::exporter::get_text(&client, &url).await;
            let text = text.map(|(_, t)| t).unwrap_or_default();
            let missing = |l: &[(&str, &str)]| {
                value(&text, "clusterlink_config_reference_missing", l) == Some(1.0)
            };
            done_if(missing(&labels) && missing(&source), text)
        }
    })
    .await;
    assert!(metrics.contains("# TYPE clusterlink_config_reference_missing gauge"));
    // Several cycles later (500 ms each): still one warning.
    let before = sim.requests("B").len();
    eventually(Duration::from_secs(30), "5 more cycles", || {
        let n = sim.requests("B").len();
        std::future::ready(done_if(n >= before + 5, n))
    })
    .await;
    let status = crate::common::exporter::get_text(&client, &format!("{base}/status.json"))
        .await
        .unwrap()
        .1;
    let json: serde_json::Value = serde_json::from_str(&status).unwrap();
    let b = json["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "B")
        .unwrap();
    let missing = b["config_references_missing"].as_array().unwrap();
    let mut keys: Vec<(&str, &str)> = missing
        .iter()
        .map(|m| (m["key"].as_str().unwrap(), m["name"].as_str().unwrap()))
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            ("probes[0].link", "dr-lnk"),
            ("source_clusters[0].cluster_id", "lkc-typo")
        ],
        "{b}"
    );
    let logs = child.kill_and_read_stderr();
    for (name, key) in [
        ("dr-lnk", "probes[0].link"),
        ("lkc-typo", "source_clusters[0].cluster_id"),
    ] {
        let warnings: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains("\"WARN\"") && l.contains(name))
            .filter(|l| l.contains("configuration names something"))
            .collect();
        assert_eq!(warnings.len(), 1, "{logs}");
        assert!(warnings[0].contains(key), "{}", warnings[0]);
    }
    assert!(!logs.contains(PASSWORD), "the password is logged");
    std::fs::remove_dir_all(dir).ok();
}
