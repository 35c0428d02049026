//! `cluster-link-exporter demo` as a user runs it: its greeting prints the status page's URL
//! first, at the address it is bound to, names the file it wrote its exporter's configuration
//! to (which passes `check-config`, and `check-config --connect` against the demo's clusters)
//! and ends with "Ctrl-C stops everything."; stopped, it removes that file.

use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::servers::{free_port, KillOnDrop};

const BIN: &str = env!("CARGO_BIN_EXE_cluster-link-exporter");

/// The demo's greeting: its stdout lines up to "Ctrl-C stops everything.".
fn greeting(demo: &mut KillOnDrop) -> Vec<String> {
    let stdout = demo.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut lines = Vec::new();
    while lines.last().map(String::as_str) != Some("Ctrl-C stops everything.") {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(e) => panic!("the demo's greeting did not end ({e}): {lines:?}"),
        }
    }
    lines
}

/// `check-config [--connect] --config path`: (exit code, stdout and stderr).
fn check_config(path: &std::path::Path, connect: bool) -> (Option<i32>, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("check-config");
    if connect {
        cmd.arg("--connect");
    }
    let out = cmd.arg("--config").arg(path).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// The status page's URL comes first, with the address the demo is bound to (127.0.0.2 here,
/// not the 127.0.0.1 it used to print whatever the address), and the URL serves the page; the
/// configuration file it names is the demo's exporter's, usable as it is; SIGTERM (as Ctrl-C)
/// stops the demo and removes the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_greets_with_the_status_page_and_its_configuration_file() {
    cluster_link_exporter::install_crypto_provider();
    let address = format!("127.0.0.2:{}", free_port());
    let mut demo = KillOnDrop(
        Command::new(BIN)
            .args(["demo", "--web.listen-address", &address])
            .args(["--log.level", "warn"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the demo starts"),
    );
    let lines = greeting(&mut demo);
    assert_eq!(
        lines[0], "cluster-link-exporter demo is running:",
        "{lines:?}"
    );
    let url = format!("http://{address}/");
    assert_eq!(lines[1], format!("  status page   {url}"), "{lines:?}");
    assert_eq!(
        lines[2],
        format!("  metrics       http://{address}/metrics"),
        "{lines:?}"
    );
    let page = reqwest::get(&url).await.expect("the printed URL answers");
    assert_eq!(page.status(), 200);
    let text = page.text().await.unwrap();
    assert!(text.contains("<main id=\"status\""), "{text}");

    let path: PathBuf = lines
        .iter()
        .find_map(|l| l.strip_prefix("  config file   "))
        .unwrap_or_else(|| panic!("no config file line: {lines:?}"))
        .into();
    let hint = format!("cluster-link-exporter --config {}", path.display());
    assert!(lines.iter().any(|l| l.contains(&hint)), "{lines:?}");
    let yaml = std::fs::read_to_string(&path).expect("the named file is there");
    let (code, out) = check_config(&path, false);
    assert_eq!(code, Some(0), "{out}\n{yaml}");
    assert_eq!(out.trim(), "config OK: 2 cluster(s)", "{yaml}");
    let connect = path.clone();
    let checked = tokio::task::spawn_blocking(move || check_config(&connect, true));
    let (code, out) = checked.await.unwrap();
    assert_eq!(code, Some(0), "check-config --connect:\n{out}\n{yaml}");

    let term = Command::new("kill")
        .args(["-TERM", &demo.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while demo.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the demo did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!path.exists(), "{} outlived the demo", path.display());
}
