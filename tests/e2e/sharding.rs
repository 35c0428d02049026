//! Sharding (`--shard`, `--total-shards`): three exporter processes started as StatefulSet pods
//! would be (`HOSTNAME=cle-0..2`, `--shard=auto --total-shards 3`, one through the environment
//! variables) on one simulator with six clusters, scraped by a real Prometheus, collect every
//! cluster exactly once, each on the shard the hash gives, and the sharding alerts'
//! expressions are empty; with shard 2 stopped they name it and its clusters. In process: a
//! reload respects the assignment, and other shards' clusters get no REST request. Bad flag
//! values stop the binary before it serves, with the flag named; `check-config` prints the
//! assignment.

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use cluster_link_exporter::config::Config;
use cluster_link_exporter::{shard_of, Sharding};
use cluster_link_exporter::{Exporter, ExporterOptions};
use serde_json::Value;

use crate::common::eventually::{done_if, eventually, eventually_every};
use crate::common::exporter::get_text;
use crate::common::scrape::{exporter_yaml, scrape, wait_value};
use crate::common::servers::{encode, free_port, start_prometheus_with_jobs, temp_dir, KillOnDrop};
use crate::common::sim::{http, start};

const BIN: &str = env!("CARGO_BIN_EXE_cluster-link-exporter");
const WAIT: Duration = Duration::from_secs(60);

/// Six destination clusters, no links: each shard of three gets at least one (checked).
const SCENARIO: &str = r#"
clusters:
  - {name: A, brokers: 1}
  - {name: B, brokers: 1}
  - {name: C, brokers: 1}
  - {name: D, brokers: 1}
  - {name: E, brokers: 1}
  - {name: F, brokers: 1}
"#;
const CLUSTERS: [&str; 6] = ["A", "B", "C", "D", "E", "F"];

fn three() -> NonZeroU32 {
    NonZeroU32::new(3).unwrap()
}

/// The expression of each alert of `alerts/sharding.rules.yml`.
fn sharding_alerts() -> BTreeMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("alerts/sharding.rules.yml");
    let doc: serde_norway::Value =
        serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for group in doc["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            let name = rule["alert"].as_str().unwrap().to_owned();
            out.insert(name, rule["expr"].as_str().unwrap().to_owned());
        }
    }
    out
}

/// An instant query's result vector, or the problem as text.
async fn query(
    prometheus: &crate::common::servers::Server,
    expr: &str,
) -> Result<Vec<Value>, String> {
    let path = format!("/api/v1/query?query={}", encode(expr));
    let data = prometheus.api(&http(), &path).await;
    data.as_ref()
        .and_then(|d| d["result"].as_array().cloned())
        .ok_or_else(|| format!("{expr}: {data:?}"))
}

fn label(sample: &Value, name: &str) -> String {
    sample["metric"][name]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Starts shard `ordinal` of three as a pod would run it; the last one takes its values from
/// the environment instead of flags.
fn start_shard(config: &Path, ordinal: usize, port: u16, dir: &Path) -> KillOnDrop {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config")
        .arg(config)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .env("HOSTNAME", format!("cle-{ordinal}"))
        .env_remove("CLUSTER_LINK_EXPORTER_SHARD")
        .env_remove("CLUSTER_LINK_EXPORTER_TOTAL_SHARDS")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("cle-{ordinal}.log"))).unwrap());
    if ordinal == 2 {
        cmd.env("CLUSTER_LINK_EXPORTER_SHARD", "auto")
            .env("CLUSTER_LINK_EXPORTER_TOTAL_SHARDS", "3");
    } else {
        cmd.args(["--shard=auto", "--total-shards", "3"]);
    }
    KillOnDrop(cmd.spawn().expect("start an exporter shard"))
}

#[tokio::test(flavor = "multi_thread")]
async fn three_shards_cover_every_cluster_exactly_once_in_prometheus() {
    let expected: BTreeMap<String, u32> = CLUSTERS
        .iter()
        .map(|c| (c.to_string(), shard_of(c, three())))
        .collect();
    let used: BTreeSet<u32> = expected.values().copied().collect();
    assert_eq!(
        used.len(),
        3,
        "precondition: every shard gets a cluster: {expected:?}"
    );

    let sim = start(SCENARIO).await;
    let dir = temp_dir("sharding");
    let config = dir.join("config.yaml");
    let clusters: Vec<(&str, &str)> = CLUSTERS.iter().map(|c| (*c, "")).collect();
    std::fs::write(&config, exporter_yaml(&sim, "500ms", &clusters)).unwrap();
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut shards: Vec<KillOnDrop> = (0..3)
        .map(|i| start_shard(&config, i, ports[i], &dir))
        .collect();
    let targets: Vec<String> = ports.iter().map(|p| format!("'127.0.0.1:{p}'")).collect();
    let jobs = format!(
        "  - job_name: cluster-link-exporter\n    static_configs:\n      - targets: [{}]\n",
        targets.join(", ")
    );
    let prometheus = start_prometheus_with_jobs(&jobs, &[]);
    let ordinal_of_port: BTreeMap<String, u32> = ports
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("127.0.0.1:{p}"), i as u32))
        .collect();
    let logs = || {
        (0..3)
            .map(|i| std::fs::read_to_string(dir.join(format!("cle-{i}.log"))).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    };

    // Every cluster is up on exactly one shard, the one the hash gives.
    let what = "every cluster up on exactly its own shard, in prometheus";
    eventually_every(Duration::from_millis(500), WAIT, what, || async {
        prometheus.assert_running();
        let up = query(&prometheus, "clusterlink_up").await?;
        let mut seen: BTreeMap<String, Vec<(u32, f64)>> = BTreeMap::new();
        for s in &up {
            let shard = ordinal_of_port
                .get(&label(s, "instance"))
                .copied()
                .unwrap_or(99);
            let value = s["value"][1]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or(-1.0);
            seen.entry(label(s, "kafka_cluster"))
                .or_default()
                .push((shard, value));
        }
        let wanted: BTreeMap<String, Vec<(u32, f64)>> = expected
            .iter()
            .map(|(c, s)| (c.clone(), vec![(*s, 1.0)]))
            .collect();
        done_if(
            seen == wanted,
            format!("{seen:?}, want {wanted:?}\nexporters:\n{}", logs()),
        )
    })
    .await;

    // Each shard reports its ordinal (also as its label), the total and every configured
    // cluster (1 for its own).
    let what = "the shard self-metrics of every shard in prometheus";
    eventually(WAIT, what, || async {
        let mut got = BTreeSet::new();
        let queries = [
            ("clusterlink_exporter_cluster_assigned", "kafka_cluster"),
            ("clusterlink_exporter_shard_ordinal", "shard_ordinal"),
            ("clusterlink_exporter_total_shards", "-"),
        ];
        for (name, key) in queries {
            for s in query(&prometheus, name).await? {
                let shard = ordinal_of_port
                    .get(&label(&s, "instance"))
                    .copied()
                    .unwrap_or(99);
                let value = s["value"][1].as_str().unwrap_or_default().to_owned();
                got.insert((shard, name, label(&s, key), value));
            }
        }
        let mut want = BTreeSet::new();
        for shard in 0..3u32 {
            for (cluster, owner) in &expected {
                let v = u8::from(*owner == shard).to_string();
                want.insert((shard, queries[0].0, cluster.clone(), v));
            }
            want.insert((shard, queries[1].0, shard.to_string(), shard.to_string()));
            want.insert((shard, queries[2].0, String::new(), "3".to_owned()));
        }
        done_if(got == want, format!("{got:?}\nwant {want:?}"))
    })
    .await;

    let alerts = sharding_alerts();
    assert_eq!(alerts.len(), 3, "{alerts:?}");
    for (alert, expr) in &alerts {
        let result = query(&prometheus, expr).await.unwrap();
        assert!(
            result.is_empty(),
            "{alert} would fire with all shards up: {result:?}"
        );
    }

    // Shard 2 stops: the missing-shard and uncovered-cluster expressions name it and its
    // clusters (Prometheus marks its series stale at the failed scrape).
    let _ = shards[2].kill();
    let lost: BTreeSet<String> = expected
        .iter()
        .filter(|(_, s)| **s == 2)
        .map(|(c, _)| c.clone())
        .collect();
    let what = "the sharding alert expressions to name the missing shard's clusters";
    eventually_every(Duration::from_millis(500), WAIT, what, || async {
        let missing = query(&prometheus, &alerts["ClusterLinkExporterShardMissing"]).await?;
        let uncovered = query(&prometheus, &alerts["ClusterLinkExporterClusterUncovered"]).await?;
        let disagree = query(&prometheus, &alerts["ClusterLinkExporterShardsDisagree"]).await?;
        let named: BTreeSet<String> = uncovered
            .iter()
            .map(|s| label(s, "kafka_cluster"))
            .collect();
        let missing_ok = missing.len() == 1 && missing[0]["value"][1] == "2";
        done_if(
            missing_ok && named == lost && disagree.is_empty(),
            format!(
                "missing {missing:?}, uncovered {named:?} (want {lost:?}), disagree {disagree:?}"
            ),
        )
    })
    .await;
    drop(prometheus);
    drop(shards);
}

/// The clusters with a `clusterlink_up` series in an exposition.
fn up_clusters(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| l.starts_with("clusterlink_up{"))
        .filter_map(|l| l.split('"').nth(1).map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_starts_only_this_shards_clusters() {
    let sim = start(SCENARIO).await;
    let path = temp_dir("sharding-reload").join("config.yaml");
    let first: Vec<(&str, &str)> = vec![("A", ""), ("B", "")];
    std::fs::write(&path, exporter_yaml(&sim, "500ms", &first)).unwrap();
    let sharding = Sharding::new(1, three()).unwrap();
    let mine = |names: &[&str]| -> BTreeSet<String> {
        names
            .iter()
            .filter(|c| sharding.owns(c))
            .map(|c| c.to_string())
            .collect()
    };
    let config = Config::load(&path).unwrap();
    let options = ExporterOptions::new(config)
        .config_file(&path)
        .sharding(sharding);
    let exporter = Exporter::start(options).await.expect("exporter starts");
    let text = scrape(&exporter).await;
    assert_eq!(up_clusters(&text), mine(&["A", "B"]), "{text}");
    assert!(
        text.contains("clusterlink_exporter_clusters_configured 2\n"),
        "{text}"
    );

    std::fs::write(
        &path,
        exporter_yaml(&sim, "500ms", &CLUSTERS.map(|c| (c, ""))),
    )
    .unwrap();
    let plan = exporter.reload_file().await.expect("reload applies");
    let added: BTreeSet<String> = plan.added.iter().cloned().collect();
    let want_added: BTreeSet<String> = &mine(&CLUSTERS) - &mine(&["A", "B"]);
    assert_eq!(added, want_added, "{plan:?}");
    let text = scrape(&exporter).await;
    assert_eq!(up_clusters(&text), mine(&CLUSTERS), "{text}");
    let board: BTreeSet<String> = exporter.status().clusters().into_iter().collect();
    assert_eq!(board, mine(&CLUSTERS));
    let assigned = format!(
        "clusterlink_exporter_clusters_assigned {}\n",
        mine(&CLUSTERS).len()
    );
    assert!(text.contains(&assigned), "no {assigned} in {text}");
    let configured = format!(
        "clusterlink_exporter_clusters_configured {}\n",
        CLUSTERS.len()
    );
    assert!(text.contains(&configured), "no {configured} in {text}");
    // The status page says which shard and how many clusters, as of the reload.
    let base = format!("http://{}", exporter.address());
    let (_, json) = get_text(&http(), &format!("{base}/status.json"))
        .await
        .expect("status.json");
    let json: Value = serde_json::from_str(&json).unwrap();
    let shard = serde_json::json!({"ordinal": 1, "total_shards": 3,
        "assigned_clusters": mine(&CLUSTERS).len(), "configured_clusters": CLUSTERS.len()});
    assert_eq!(json["shard"], shard, "{json}");
    let (_, page) = get_text(&http(), &format!("{base}/")).await.expect("page");
    let header = format!(
        "shard 1 of 3 · {} of {} configured clusters",
        mine(&CLUSTERS).len(),
        CLUSTERS.len()
    );
    assert!(page.contains(&header), "no {header} in {page}");

    // Once this shard's clusters were collected, the others' REST APIs have seen nothing.
    for cluster in mine(&CLUSTERS) {
        let labels = [("kafka_cluster", cluster.as_str())];
        wait_value(&exporter, "clusterlink_up", &labels, WAIT, |v| v == 1.0).await;
    }
    for cluster in CLUSTERS.iter().filter(|c| !sharding.owns(c)) {
        let requests = sim.requests(cluster);
        assert!(
            requests.is_empty(),
            "{cluster} is another shard's: {requests:?}"
        );
    }
    // The log does record this shard's requests: its emptiness above means something.
    for cluster in mine(&CLUSTERS) {
        assert!(
            !sim.requests(&cluster).is_empty(),
            "{cluster}: no request recorded"
        );
    }
    exporter.shutdown().await;
}

/// Runs the binary with `args` and extra environment; it must exit (within a deadline, not
/// serve): (exit code, stdout, stderr).
async fn run(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let dir = temp_dir("sharding-cli");
    let (out, err) = (dir.join("out"), dir.join("err"));
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args(args)
            .env_remove("CLUSTER_LINK_EXPORTER_SHARD")
            .env_remove("CLUSTER_LINK_EXPORTER_TOTAL_SHARDS")
            .envs(env.iter().copied())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap(),
    );
    let what = format!("{args:?} to exit");
    let status = eventually(Duration::from_secs(30), &what, || {
        let status = child.try_wait();
        async move {
            match status {
                Ok(Some(s)) => Ok(s),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await;
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (status.code(), read(&out), read(&err).trim_end().to_owned())
}

fn config_file() -> String {
    let path = temp_dir("sharding-cfg").join("config.yaml");
    let names = ["dr", "prod", "eu", "us", "ap"];
    let mut yaml = String::from("clusters:\n");
    for n in names {
        yaml.push_str(&format!(
            "  - {{name: {n}, rest_url: 'http://127.0.0.1:1/kafka/v3'}}\n"
        ));
    }
    std::fs::write(&path, yaml).unwrap();
    path.display().to_string()
}

/// Flags, environment variables, and the message the binary must exit with.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[tokio::test(flavor = "multi_thread")]
async fn bad_shard_values_stop_the_start_naming_the_flag() {
    let config = config_file();
    let base = [
        "--config",
        config.as_str(),
        "--web.listen-address=127.0.0.1:0",
    ];
    let cases: [Case; 7] = [
        (&["--shard", "3", "--total-shards", "3"], &[], "error: --shard 3 must be less than --total-shards 3 (shards are numbered from 0)"),
        (&["--shard", "0", "--total-shards", "0"], &[], "error: --total-shards (CLUSTER_LINK_EXPORTER_TOTAL_SHARDS): expected a whole number of shards from 1 up, got \"0\""),
        (&["--shard", "one", "--total-shards", "3"], &[], "error: --shard (CLUSTER_LINK_EXPORTER_SHARD): expected a shard ordinal (0, 1, …) or auto, got \"one\""),
        (&["--total-shards", "3"], &[], "error: --total-shards 3 needs --shard (CLUSTER_LINK_EXPORTER_SHARD): an ordinal from 0 to 2, or auto"),
        (&["--shard=auto", "--total-shards", "3"], &[("HOSTNAME", "exporter")], "error: --shard=auto: the host name \"exporter\" does not end in -<ordinal> (a StatefulSet pod name such as cluster-link-exporter-2)"),
        (&["--shard=auto"], &[("HOSTNAME", "cle-4"), ("CLUSTER_LINK_EXPORTER_TOTAL_SHARDS", "3")], "error: --shard=auto: the host name \"cle-4\" gives shard 4, which must be less than --total-shards 3 (shards are numbered from 0)"),
        (&[], &[("CLUSTER_LINK_EXPORTER_SHARD", "0"), ("CLUSTER_LINK_EXPORTER_TOTAL_SHARDS", "2.5")], "error: --total-shards (CLUSTER_LINK_EXPORTER_TOTAL_SHARDS): expected a whole number of shards from 1 up, got \"2.5\""),
    ];
    for (args, env, message) in cases {
        // check-config takes --total-shards alone: it prints every shard's clusters.
        let alone = args == ["--total-shards", "3"];
        let commands: &[&[&str]] = if alone {
            &[&[]]
        } else {
            &[&[], &["check-config"]]
        };
        for command in commands {
            let all: Vec<&str> = command.iter().chain(&base).chain(args).copied().collect();
            let (code, _, err) = run(&all, env).await;
            assert_eq!(code, Some(2), "{all:?} {env:?}: {err}");
            assert_eq!(err, message, "{all:?} {env:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn check_config_prints_the_assignment() {
    let config = config_file();
    let names = ["dr", "prod", "eu", "us", "ap"];
    let lines = |ordinal: Option<u32>| -> Vec<String> {
        names
            .iter()
            .map(|n| {
                let s = shard_of(n, three());
                let mark = if Some(s) == ordinal {
                    " (this shard)"
                } else {
                    ""
                };
                format!("  {n}: shard {s}{mark}")
            })
            .collect()
    };
    let args = [
        "check-config",
        "--config",
        config.as_str(),
        "--total-shards",
        "3",
    ];
    let (code, out, err) = run(&args, &[]).await;
    assert_eq!(code, Some(0), "{err}");
    let mut want = vec![
        "config OK: 5 cluster(s)".to_owned(),
        "5 cluster(s) over 3 shard(s)".to_owned(),
    ];
    want.extend(lines(None));
    assert_eq!(out.lines().collect::<Vec<_>>(), want);

    let args = [
        "check-config",
        "--config",
        config.as_str(),
        "--shard=auto",
        "--total-shards=3",
    ];
    let (code, out, err) = run(&args, &[("HOSTNAME", "cle-1")]).await;
    assert_eq!(code, Some(0), "{err}");
    let mine = names.iter().filter(|n| shard_of(n, three()) == 1).count();
    let mut want = vec![
        "config OK: 5 cluster(s)".to_owned(),
        format!("shard 1 of 3: {mine} of 5 cluster(s) assigned"),
    ];
    want.extend(lines(Some(1)));
    assert_eq!(out.lines().collect::<Vec<_>>(), want);

    // A shard that gets none of the clusters: a warning line, still exit 0.
    let idle = (0..8u32)
        .find(|o| names.iter().all(|n| shard_of(n, eight()) != *o))
        .expect("5 clusters leave a shard of 8 empty");
    let (shard, total) = (format!("--shard={idle}"), "--total-shards=8");
    let args = ["check-config", "--config", config.as_str(), &shard, total];
    let (code, out, err) = run(&args, &[]).await;
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[1],
        format!("shard {idle} of 8: 0 of 5 cluster(s) assigned")
    );
    assert!(
        lines[2].starts_with(&format!("warning: shard {idle} of 8 is assigned no")),
        "{out}"
    );
}

fn eight() -> NonZeroU32 {
    NonZeroU32::new(8).unwrap()
}
