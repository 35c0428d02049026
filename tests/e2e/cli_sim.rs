//! `cluster-link-exporter sim` as a user runs it: the printed endpoints work, a bad scenario
//! fails before anything starts, `sim --help` lists only its own flags, `sim --print-config`
//! prints a configuration an exporter collects with.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_cluster-link-exporter");

fn scenario_file(name: &str, yaml: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("cle-{}-{name}.yaml", std::process::id()));
    std::fs::write(&path, yaml).unwrap();
    path
}

#[test]
fn sim_prints_reachable_endpoints_per_cluster() {
    let path = scenario_file(
        "ok",
        "clusters:\n  - {name: A, brokers: 2, topics: [{name: t, partitions: 2}]}\n  - {name: B, brokers: 1, flavour: cloud}\nlinks:\n  - {name: ab, source: A, destination: B, mirrors: [t]}\n",
    );
    let mut child = Command::new(BIN)
        .args(["sim", "--scenario", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut clusters = Vec::new();
    let mut control = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.starts_with("cluster ") {
            clusters.push(line);
        } else if let Some(url) = line.strip_prefix("control ") {
            control = Some(url.to_owned());
            break;
        }
    }
    assert_eq!(clusters.len(), 2, "{clusters:?}");
    let field = |line: &str, key: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .unwrap()
            .to_owned()
    };
    let b = &clusters[1];
    assert!(b.starts_with("cluster B "), "{b}");
    assert_eq!(field(&clusters[0], "bootstrap=").split(',').count(), 2);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        cluster_link_exporter::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let links = format!("{}/clusters/{}/links", field(b, "rest="), field(b, "id="));
        let body: serde_json::Value = client
            .get(&links)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["data"][0]["link_name"], "ab");
        let resp = client
            .get(format!("{}/clusters", control.unwrap()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    });
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_file(path).ok();
}

#[test]
fn sim_rejects_a_bad_scenario_naming_the_key() {
    let path = scenario_file(
        "bad",
        "clusters:\n  - {name: A}\nlinks:\n  - {name: l, source: A, destination: Nowhere}\n",
    );
    let out = Command::new(BIN)
        .args(["sim", "--scenario", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("links[0].destination: no cluster named \"Nowhere\""),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    std::fs::remove_file(path).ok();
}

/// `sim --help` lists only sim's flags; an exporter flag given before `sim` is refused, not
/// silently ignored.
#[test]
fn sim_help_shows_only_its_flags_and_refuses_the_exporters() {
    let out = Command::new(BIN).args(["sim", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--scenario"), "{help}");
    for flag in ["--web.", "--config <", "--shard", "--total-shards"] {
        assert!(!help.contains(flag), "sim --help lists {flag}: {help}");
    }
    let out = Command::new(BIN)
        .args(["--web.listen-address=127.0.0.1:0", "sim"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not apply to sim"), "{stderr}");
}

/// `sim --print-config` prints a configuration that passes `check-config` as printed, and an
/// exporter started on it collects from every simulated cluster.
#[tokio::test(flavor = "multi_thread")]
async fn sim_prints_a_configuration_an_exporter_collects_with() {
    use crate::common::scrape::{start_exporter, wait_value};
    use crate::common::servers::KillOnDrop;
    let mut sim = KillOnDrop(
        Command::new(BIN)
            .args(["sim", "--print-config", "--log.level", "warn"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = sim.stdout.take().unwrap();
    let yaml = tokio::task::spawn_blocking(move || {
        let mut yaml = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            yaml.push_str(&line);
            yaml.push('\n');
            if line.starts_with("# end of configuration") {
                break;
            }
        }
        yaml
    })
    .await
    .unwrap();
    assert!(yaml.contains("# end of configuration"), "{yaml}");
    let path = scenario_file("printed-config", &yaml);
    let out = Command::new(BIN)
        .args(["check-config", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{yaml}");
    assert_eq!(stdout.trim(), "config OK: 2 cluster(s)");

    let exporter = start_exporter(&yaml).await;
    for cluster in ["A", "B"] {
        let up = [("kafka_cluster", cluster)];
        wait_value(
            &exporter,
            "clusterlink_up",
            &up,
            Duration::from_secs(60),
            |v| v == 1.0,
        )
        .await;
        let kafka = [("kafka_cluster", cluster), ("role", "destination")];
        wait_value(
            &exporter,
            "clusterlink_kafka_up",
            &kafka,
            Duration::from_secs(60),
            |v| v == 1.0,
        )
        .await;
    }
    // Every name it gives is found: each cluster's links and the source of some link (a
    // source_clusters entry no link uses would be reported, once both clusters were read).
    let text = crate::common::scrape::scrape(&exporter).await;
    let references: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("clusterlink_config_reference_missing{"))
        .collect();
    assert!(
        references
            .iter()
            .any(|l| l.contains("kind=\"source_cluster\"")),
        "the source_clusters entries are checked: {references:#?}"
    );
    assert!(
        references.iter().all(|l| l.ends_with(" 0")),
        "{references:#?}\n{yaml}"
    );
    exporter.shutdown().await;
    std::fs::remove_file(path).ok();
}

/// With REST credentials and mTLS in the scenario, `sim --print-config` writes them (the
/// scenario's own test credentials, the run's CA and client certificate): `check-config
/// --connect` passes on the file as printed.
/// `sim --print-config --scenario path`: the simulator (stopped on drop) and the
/// configuration it printed.
fn printed_config(path: &std::path::Path) -> (crate::common::servers::KillOnDrop, String) {
    let mut sim = crate::common::servers::KillOnDrop(
        Command::new(BIN)
            .args(["sim", "--print-config", "--log.level", "warn"])
            .args(["--scenario", path.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut yaml = String::new();
    for line in BufReader::new(sim.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        yaml.push_str(&line);
        yaml.push('\n');
        if line.starts_with("# end of configuration") {
            break;
        }
    }
    (sim, yaml)
}

#[test]
fn a_printed_configuration_names_only_the_clusters_links_copy_from_and_into() {
    let path = scenario_file(
        "one-way",
        "clusters:\n  - {name: A, brokers: 1, topics: [{name: t, partitions: 1}]}\n  - {name: B, brokers: 1}\nlinks:\n  - {name: ab, source: A, destination: B, mirrors: [t]}\n",
    );
    let (_sim, yaml) = printed_config(&path);
    let config = cluster_link_exporter::config::Config::from_yaml(&yaml).unwrap();
    let sources: Vec<&str> = config
        .source_clusters
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(sources, ["A"], "{yaml}");
    let clusters: Vec<&str> = config.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        clusters,
        ["B"],
        "only the cluster that holds the link: {yaml}"
    );
    std::fs::remove_file(path).ok();
}

#[test]
fn a_printed_configuration_carries_the_scenarios_auth_and_tls() {
    let path = scenario_file(
        "secured",
        "clusters:\n  - {name: A, brokers: 1, topics: [{name: t, partitions: 1}], auth: {type: bearer, token: t0ken}}\n  - {name: B, brokers: 1, tls: true, client_auth: true, topics: [{name: u, partitions: 1}], auth: {type: basic, username: admin, password: admin-secret}}\nlinks:\n  - {name: ab, source: A, destination: B, mirrors: [t]}\n  - {name: ba, source: B, destination: A, mirrors: [u]}\n",
    );
    let (_sim, yaml) = printed_config(&path);
    assert!(yaml.contains("token: \"t0ken\""), "{yaml}");
    assert!(yaml.contains("/client.key}"), "{yaml}");
    let config = scenario_file("secured-config", &yaml);
    let out = Command::new(BIN)
        .args([
            "check-config",
            "--connect",
            "--config",
            config.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{yaml}");
    assert!(
        stdout.contains("auth.username and auth.password"),
        "{stdout}"
    );
    std::fs::remove_file(path).ok();
    std::fs::remove_file(config).ok();
}
