//! Real servers for end-to-end tests, from Debian's packages: Prometheus
//! (`prometheus`) and Alertmanager (`prometheus-alertmanager`), each in a temporary directory
//! of its own on a free loopback port, killed and cleaned up on drop; and a webhook receiver
//! standing in for the pager.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::eventually::eventually;
use super::exporter::get_text;

/// A Debian binary: `/usr/bin/<name>`, else `<name>` on the `PATH`; panics naming the package.
pub fn binary(name: &str, package: &str) -> PathBuf {
    find_binary(name).unwrap_or_else(|| {
        panic!(
            "{name} is missing (/usr/bin/{name}, or on the PATH): run scripts/setup-deps.sh to \
             install Debian's {package} package"
        )
    })
}

/// `/usr/bin/<name>`, else `<name>` on the `PATH`, if there is one.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    let debian = PathBuf::from("/usr/bin").join(name);
    if debian.is_file() {
        return Some(debian);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Percent-encodes a query parameter value.
pub fn encode(value: &str) -> String {
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

/// A free loopback port (bound, then released).
/// Runs a command to its end: its status and its stdout followed by its stderr, as text.
/// Panics when the command cannot be started.
pub fn command_output(cmd: &mut Command) -> (std::process::Output, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A fresh temporary directory (its name unique in this process: every test runs in it).
pub fn temp_dir(what: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir = std::env::temp_dir().join(format!(
        "cluster-link-exporter-{what}-{}-{n}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("create the temp dir");
    dir
}

/// A server process with its directory and log.
pub struct Server {
    name: &'static str,
    /// Behind a lock so that a shared `&Server` can check on it while a test waits.
    child: Mutex<Child>,
    pub dir: PathBuf,
    /// `http://127.0.0.1:port`
    pub url: String,
}

impl Server {
    fn spawn(name: &'static str, binary: &Path, dir: PathBuf, port: u16, args: &[String]) -> Self {
        let log = std::fs::File::create(dir.join("server.log")).expect("create the log");
        let child = Command::new(binary)
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        Self {
            name,
            child: Mutex::new(child),
            dir,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The server's output so far (for failure messages).
    pub fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        if log.trim().is_empty() {
            "(empty)".into()
        } else {
            log
        }
    }

    /// Panics with the log when the process has exited.
    pub fn assert_running(&self) {
        let exited = self.child.lock().unwrap().try_wait();
        if let Ok(Some(status)) = exited {
            panic!(
                "{} exited with {status}; its log:\n{}",
                self.name,
                self.log()
            );
        }
    }

    /// GETs an API path and returns `data` of a `success` answer (Prometheus' API shape).
    pub async fn api(&self, client: &reqwest::Client, path_and_query: &str) -> Option<Value> {
        let (status, body) = get_text(client, &format!("{}{path_and_query}", self.url)).await?;
        let body: Value = serde_json::from_str(&body).ok()?;
        (status == 200 && body["status"] == "success").then(|| body["data"].clone())
    }

    /// Waits until `GET /-/ready` answers 200; panics with the server's log if it exits or
    /// is not ready after `timeout`.
    pub async fn wait_ready(&self, timeout: Duration) {
        let client = reqwest::Client::new();
        let ready = format!("{}/-/ready", self.url);
        let what = format!("{} to be ready", self.name);
        eventually(timeout, &what, || async {
            self.assert_running();
            match get_text(&client, &ready).await {
                Some((200, _)) => Ok(()),
                other => Err(format!("GET /-/ready: {other:?}; log:\n{}", self.log())),
            }
        })
        .await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts Prometheus scraping `target` (`host:port`) every second, evaluating `rule_files`
/// every `evaluation_interval`, and sending alerts to `alertmanager` (`host:port`) if given.
pub fn start_prometheus(
    target: &str,
    rule_files: &[PathBuf],
    evaluation_interval: &str,
    alertmanager: Option<&str>,
) -> Server {
    start_prometheus_for(&[target], rule_files, evaluation_interval, alertmanager)
}

/// [`start_prometheus`] with several targets in the one job `cluster-link-exporter` (replicas
/// of the exporter).
pub fn start_prometheus_for(
    targets: &[&str],
    rule_files: &[PathBuf],
    evaluation_interval: &str,
    alertmanager: Option<&str>,
) -> Server {
    let dir = temp_dir("prometheus");
    let mut yaml = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: {evaluation_interval}\n"
    );
    if !rule_files.is_empty() {
        yaml.push_str("rule_files:\n");
        for f in rule_files {
            yaml.push_str(&format!("  - '{}'\n", f.display()));
        }
    }
    if let Some(am) = alertmanager {
        yaml.push_str(&format!(
            "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{am}']\n"
        ));
    }
    yaml.push_str(&format!(
        "scrape_configs:\n  - job_name: cluster-link-exporter\n    metrics_path: /metrics\n    static_configs:\n      - targets: [{targets}]\n",
        targets = targets
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    spawn_prometheus(dir, &yaml)
}

/// Starts Prometheus (scrape interval 1s) with these `scrape_configs` entries (YAML list
/// items, indented by two spaces) and `files` (name, content) written first in its
/// directory, where the jobs' relative file names point (certificates, keys).
pub fn start_prometheus_with_jobs(jobs: &str, files: &[(&str, &str)]) -> Server {
    let dir = temp_dir("prometheus");
    for (name, content) in files {
        std::fs::write(dir.join(name), content).expect("write a file for prometheus");
    }
    let yaml =
        format!("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n{jobs}");
    spawn_prometheus(dir, &yaml)
}

/// Starts Alertmanager with this configuration (YAML text), no clustering.
pub fn start_alertmanager(config: &str) -> Server {
    let dir = temp_dir("alertmanager");
    std::fs::write(dir.join("alertmanager.yml"), config).expect("write alertmanager.yml");
    let port = free_port();
    let args = vec![
        format!("--config.file={}", dir.join("alertmanager.yml").display()),
        format!("--storage.path={}", dir.join("data").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        // No gossip port: a single instance.
        "--cluster.listen-address=".into(),
        "--log.level=warn".into(),
    ];
    Server::spawn(
        "alertmanager",
        &binary("prometheus-alertmanager", "prometheus-alertmanager"),
        dir,
        port,
        &args,
    )
}

/// One notification the webhook received, with the time it arrived.
#[derive(Debug, Clone)]
pub struct Notification {
    pub at: tokio::time::Instant,
    /// The receiver's path (`/page`, `/chat`, …).
    pub path: String,
    /// Alertmanager's webhook payload.
    pub body: Value,
}

/// A webhook receiver standing in for the pager and the chat: records every POST.
#[derive(Clone)]
pub struct Webhook {
    pub url: String,
    received: Arc<Mutex<Vec<Notification>>>,
}

impl Webhook {
    /// Listens on a free loopback port until the test ends.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the webhook");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received: Arc<Mutex<Vec<Notification>>> = Arc::default();
        let store = received.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let store = store.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let store = store.clone();
                            async move {
                                use http_body_util::BodyExt;
                                let path = req.uri().path().to_owned();
                                let bytes = req
                                    .into_body()
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                                store.lock().unwrap().push(Notification {
                                    at: tokio::time::Instant::now(),
                                    path,
                                    body,
                                });
                                Ok::<_, std::convert::Infallible>(hyper::Response::new(
                                    http_body_util::Full::new(bytes::Bytes::from_static(b"ok")),
                                ))
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { url, received }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Notification> {
        self.received.lock().unwrap().clone()
    }
}

/// A child process that is killed (and reaped) when this is dropped, also when the test panics
/// first: a failed test leaves no exporter running.
pub struct KillOnDrop(pub Child);

impl std::ops::Deref for KillOnDrop {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl KillOnDrop {
    /// The exporter binary started on `config`, listening on a free loopback port, logging
    /// JSON to a piped stderr (read it with [`KillOnDrop::kill_and_read_stderr`]); with the
    /// base URL it serves.
    pub fn exporter_with_json_logs(config: &std::path::Path) -> (Self, String) {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_cluster-link-exporter"))
            .arg("--config")
            .arg(config)
            .args(["--web.listen-address", &format!("127.0.0.1:{port}")])
            .args(["--log.format", "json"])
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start the exporter");
        (Self(child), format!("http://127.0.0.1:{port}"))
    }

    /// Kills the process and returns everything it wrote to its (piped) stderr.
    pub fn kill_and_read_stderr(&mut self) -> String {
        use std::io::Read;
        self.0.kill().expect("kill");
        let mut text = String::new();
        self.0
            .stderr
            .take()
            .expect("stderr piped")
            .read_to_string(&mut text)
            .expect("read stderr");
        text
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Writes `yaml` as `prometheus.yml` in `dir` and starts Prometheus on a free loopback port
/// with its data in `dir`.
fn spawn_prometheus(dir: PathBuf, yaml: &str) -> Server {
    std::fs::write(dir.join("prometheus.yml"), yaml).expect("write prometheus.yml");
    let port = free_port();
    let args = vec![
        format!("--config.file={}", dir.join("prometheus.yml").display()),
        format!("--storage.tsdb.path={}", dir.join("data").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--log.level=warn".into(),
    ];
    Server::spawn(
        "prometheus",
        &binary("prometheus", "prometheus"),
        dir,
        port,
        &args,
    )
}
