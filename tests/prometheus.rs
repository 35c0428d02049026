//! End to end with a real Prometheus server (Debian's `prometheus` package): it scrapes the
//! exporter, and every family of `docs/metrics.md` can be queried.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::exporter::*;
use common::sim::http;
use serde_json::Value;

/// The Prometheus binary: `/usr/bin/prometheus`, else `prometheus` on the `PATH`.
fn prometheus_binary() -> PathBuf {
    let debian = PathBuf::from("/usr/bin/prometheus");
    if debian.is_file() {
        return debian;
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("prometheus"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the prometheus binary is missing (/usr/bin/prometheus, or prometheus on the PATH): \
                 run scripts/setup-deps.sh to install Debian's prometheus package"
            )
        })
}

/// A free loopback port (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A Prometheus server in a directory of its own; killed and cleaned up on drop.
struct Prometheus {
    child: Child,
    dir: PathBuf,
    url: String,
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (`host:port`) every second.
    fn start(binary: &Path, target: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!(
            "cluster-link-exporter-prometheus-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("create the temp dir");
        let config = dir.join("prometheus.yml");
        let yaml = format!(
            r#"global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: cluster-link-exporter
    metrics_path: /metrics
    static_configs:
      - targets: ['{target}']
"#
        );
        std::fs::write(&config, yaml).expect("write prometheus.yml");
        let address = format!("127.0.0.1:{}", free_port());
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("create the log");
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        Self {
            child,
            dir,
            url: format!("http://{address}"),
        }
    }

    /// The server's output so far (for failure messages).
    fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default();
        if log.trim().is_empty() {
            "(empty)".into()
        } else {
            log
        }
    }

    /// Panics with the log when the process has exited.
    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("prometheus exited with {status}; its log:\n{}", self.log());
        }
    }

    /// GETs an API path and returns `data` of a `success` answer.
    async fn api(&self, client: &reqwest::Client, path_and_query: &str) -> Option<Value> {
        let (status, body) = get_text(client, &format!("{}{path_and_query}", self.url)).await?;
        let body: Value = serde_json::from_str(&body).ok()?;
        (status == 200 && body["status"] == "success").then(|| body["data"].clone())
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Percent-encodes a query parameter value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scrapes_the_exporter_and_every_documented_family_is_queryable() {
    let binary = prometheus_binary();
    let docs = documented_families();
    let running = start_with_every_family().await;
    let mut prometheus = Prometheus::start(&binary, &running.exporter.address().to_string());
    let client = http();

    // The target is scraped successfully.
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut last = Value::Null;
    loop {
        prometheus.assert_running();
        if let Some(data) = prometheus.api(&client, "/api/v1/targets").await {
            let up = data["activeTargets"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["health"] == "up"));
            if up {
                break;
            }
            last = data;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the exporter target is not up in prometheus after {WAIT:?}; last /api/v1/targets \
             data: {last}\nprometheus log:\n{}",
            prometheus.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Every documented family returns data (counters by their `_total` sample name).
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut empty: Vec<String>;
    loop {
        prometheus.assert_running();
        empty = Vec::new();
        for doc in &docs {
            // A histogram is queried by its `_count` series.
            let series = if doc.kind == "histogram" {
                format!("{}_count", doc.name)
            } else {
                doc.name.clone()
            };
            let path = format!("/api/v1/query?query={}", encode(&series));
            let found = prometheus
                .api(&client, &path)
                .await
                .and_then(|d| d["result"].as_array().map(|r| !r.is_empty()))
                .unwrap_or(false);
            if !found {
                empty.push(doc.name.clone());
            }
        }
        if empty.is_empty() || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        empty.is_empty(),
        "documented families that returned no result from prometheus after {WAIT:?}: \
         {empty:#?}\nprometheus log:\n{}",
        prometheus.log()
    );

    drop(prometheus);
    running.stop().await;
}
