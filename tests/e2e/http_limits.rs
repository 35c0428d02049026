//! The HTTP server under abuse: idle and slowloris connections beyond the connection limit do
//! not starve `/metrics` and `/-/healthy`, the header-read timeout closes them, oversized
//! request heads and request bodies are refused without being read, a client that does not
//! read its response is dropped, and running out of file descriptors makes the accept loop back
//! off instead of spinning.
//!
//! The exporter's cluster is unreachable: the HTTP side does not need a working one.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cluster_link_exporter::config::Config;
use cluster_link_exporter::{Exporter, ExporterOptions};
use cluster_link_exporter::{ServeLimits, WebOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout, Instant};

use crate::common::eventually::{done_if, eventually, eventually_every};
use crate::common::scrape::value;
use crate::common::servers::{free_port, KillOnDrop};

const BIN: &str = env!("CARGO_BIN_EXE_cluster-link-exporter");

/// A cluster nothing listens for, polled rarely.
const UNREACHABLE: &str = "clusters:\n  - {name: dr, rest_url: 'http://127.0.0.1:1/kafka/v3', \
                           cluster_id: c1, poll_interval: 60s}\n";

/// How long anything the server should do may take at most on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(45);

async fn start(limits: ServeLimits) -> Exporter {
    let web = WebOptions {
        limits,
        ..WebOptions::default()
    };
    Exporter::start(ExporterOptions::new(Config::from_yaml(UNREACHABLE).unwrap()).web(web))
        .await
        .expect("exporter starts")
}

/// A sample of the exporter's own metrics, read in-process (no HTTP connection needed).
fn own_value(exporter: &Exporter, name: &str) -> f64 {
    value(&exporter.exposition().render(), name, &[])
        .unwrap_or_else(|| panic!("{name} is not served"))
}

/// Waits until the exporter has at least `n` HTTP connections open.
async fn wait_connections(exporter: &Exporter, n: f64, what: &str) {
    eventually(DEADLINE, what, || {
        let open = own_value(exporter, "clusterlink_http_connections");
        std::future::ready(done_if(open >= n, open))
    })
    .await;
}

/// Sends `request` on a new connection and reads until the server closes it: the status of
/// the first response and everything read.
async fn exchange(addr: SocketAddr, request: &[u8]) -> std::io::Result<(u16, String)> {
    let mut tcp = TcpStream::connect(addr).await?;
    tcp.write_all(request).await?;
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, text))
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: exporter\r\nConnection: close\r\n\r\n").into_bytes()
}

/// How a connection held open by a misbehaving client ended.
#[derive(Debug, Clone, Copy)]
struct Ended {
    /// From connecting to the server closing it.
    after: Duration,
    /// Response bytes the server sent.
    response_bytes: usize,
}

/// Connects and then, until the server closes the connection, either sends nothing (`trickle`
/// `None`) or the start of a request head and one more header byte every `trickle`
/// (slowloris).
async fn misbehave(addr: SocketAddr, trickle: Option<Duration>) -> Ended {
    let began = Instant::now();
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let mut response_bytes = 0;
    if trickle.is_some() {
        tcp.write_all(b"GET /metrics HTTP/1.1\r\nX-Slow")
            .await
            .expect("write the start of the request");
    }
    let mut buf = [0u8; 4096];
    loop {
        let tick = sleep(trickle.unwrap_or(Duration::from_secs(3600)));
        tokio::select! {
            read = tcp.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => response_bytes += n,
            },
            _ = tick => {
                if tcp.write_all(b"w").await.is_err() {
                    break;
                }
            }
        }
    }
    Ended {
        after: began.elapsed(),
        response_bytes,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_and_slowloris_connections_beyond_the_limit_do_not_starve_scrapes() {
    let limits = ServeLimits {
        max_connections: 8,
        header_read_timeout: Duration::from_secs(1),
        ..ServeLimits::default()
    };
    let exporter = start(limits).await;
    let addr = exporter.address();
    let mut attackers = Vec::new();
    for i in 0..48 {
        let trickle = (i % 2 == 1).then_some(Duration::from_millis(250));
        attackers.push((trickle, tokio::spawn(misbehave(addr, trickle))));
    }
    // Every attacker has connected (and is accepted or waits in the backlog) before the
    // scrapes connect.
    wait_connections(&exporter, 8.0, "the attackers to fill the slots").await;
    sleep(Duration::from_millis(200)).await;

    let began = Instant::now();
    let scrapes = tokio::spawn(async move {
        let metrics = exchange(addr, &get("/metrics")).await;
        let healthy = exchange(addr, &get("/-/healthy")).await;
        (metrics, healthy)
    });
    // Sampled often: the point is that the count never exceeds the limit meanwhile.
    let most_open = std::cell::Cell::new(0.0f64);
    eventually_every(
        Duration::from_millis(10),
        DEADLINE,
        "the scrapes answered",
        || {
            let open = own_value(&exporter, "clusterlink_http_connections");
            most_open.set(most_open.get().max(open));
            std::future::ready(done_if(scrapes.is_finished(), open))
        },
    )
    .await;
    let most_open = most_open.get();
    let answered_after = began.elapsed();
    let (metrics, healthy) = scrapes.await.unwrap();
    let (status, text) = metrics.expect("GET /metrics");
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("clusterlink_http_max_connections 8"),
        "{text}"
    );
    let (status, text) = healthy.expect("GET /-/healthy");
    assert_eq!((status, text.ends_with("OK\n")), (200, true), "{text}");
    assert_eq!(
        most_open, 8.0,
        "open connections while 48 clients held theirs"
    );
    eprintln!("scrapes behind 48 idle/slowloris connections answered after {answered_after:?}");

    for (trickle, attacker) in attackers {
        let ended = timeout(DEADLINE, attacker)
            .await
            .expect("the server closes every idle and slowloris connection")
            .unwrap();
        assert_eq!(ended.response_bytes, 0, "{trickle:?}: {ended:?}");
        assert!(
            ended.after >= limits.header_read_timeout,
            "{trickle:?} closed before the header read timeout: {ended:?}"
        );
    }
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_read_timeout() {
    let limits = ServeLimits {
        header_read_timeout: Duration::from_secs(1),
        ..ServeLimits::default()
    };
    let exporter = start(limits).await;
    let mut tcp = TcpStream::connect(exporter.address()).await.unwrap();
    tcp.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: exporter\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&raw).ends_with("OK\n") {
        let n = timeout(DEADLINE, tcp.read(&mut buf))
            .await
            .expect("a response")
            .unwrap();
        assert!(n > 0, "closed before the response: {raw:?}");
        raw.extend_from_slice(&buf[..n]);
    }
    let idle_since = Instant::now();
    assert!(String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 200"));
    let read = timeout(DEADLINE, tcp.read(&mut buf))
        .await
        .expect("the server closes the idle connection");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(idle_since.elapsed() >= limits.header_read_timeout);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_request_heads_get_431_without_being_read_whole() {
    let exporter = start(ServeLimits::default()).await;
    let addr = exporter.address();
    // Just under the limit: answered.
    let header = format!("X-Pad: {}\r\n", "a".repeat(12 * 1024));
    let request =
        format!("GET /-/healthy HTTP/1.1\r\nHost: e\r\nConnection: close\r\n{header}\r\n");
    let (status, text) = exchange(addr, request.as_bytes()).await.unwrap();
    assert_eq!(status, 200, "{text}");
    // Just over it: 431.
    let header = format!("X-Pad: {}\r\n", "a".repeat(20 * 1024));
    let request =
        format!("GET /-/healthy HTTP/1.1\r\nHost: e\r\nConnection: close\r\n{header}\r\n");
    let (status, text) = exchange(addr, request.as_bytes()).await.unwrap();
    assert_eq!(status, 431, "{text}");

    // 64 MiB of headers: the server answers 431 and closes long before the end.
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = tcp.split();
    let line = format!("X-Pad: {}\r\n", "a".repeat(1020));
    let send = async {
        writer
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: e\r\n")
            .await?;
        for _ in 0..64 * 1024 {
            writer.write_all(line.as_bytes()).await?;
        }
        std::io::Result::Ok(())
    };
    let mut response = Vec::new();
    let (sent, _) = timeout(DEADLINE, async {
        tokio::join!(send, reader.read_to_end(&mut response))
    })
    .await
    .expect("the server refuses in time");
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.starts_with("HTTP/1.1 431") || response.is_empty(),
        "{response}"
    );
    assert!(sent.is_err(), "the server read all 64 MiB of headers");
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn request_bodies_are_refused_without_being_read() {
    let exporter = start(ServeLimits::default()).await;
    let addr = exporter.address();
    for (method, status) in [("GET", 413), ("POST", 405)] {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let (mut reader, mut writer) = tcp.split();
        let chunk = vec![b'x'; 64 * 1024];
        let send = async {
            let head = format!(
                "{method} /metrics HTTP/1.1\r\nHost: e\r\nContent-Length: {}\r\n\r\n",
                1u64 << 30
            );
            writer.write_all(head.as_bytes()).await?;
            for _ in 0..1024 {
                writer.write_all(&chunk).await?;
            }
            std::io::Result::Ok(())
        };
        let mut response = Vec::new();
        let (sent, _) = timeout(DEADLINE, async {
            tokio::join!(send, reader.read_to_end(&mut response))
        })
        .await
        .expect("the server refuses in time");
        let response = String::from_utf8_lossy(&response);
        assert!(
            response.starts_with(&format!("HTTP/1.1 {status}")),
            "{method}: {response}"
        );
        assert!(
            response.to_ascii_lowercase().contains("connection: close"),
            "{response}"
        );
        assert!(sent.is_err(), "{method}: the server read 64 MiB of body");
    }
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_does_not_read_is_dropped_after_the_write_timeout() {
    let limits = ServeLimits {
        header_read_timeout: Duration::from_secs(600),
        write_timeout: Duration::from_secs(1),
        ..ServeLimits::default()
    };
    let exporter = start(limits).await;
    // 12000 pipelined scrapes whose responses (about 100 MiB: more than the socket buffers
    // hold, at most tcp_rmem + tcp_wmem, 32 + 4 MiB on this machine) are never read: the
    // server's writes stall once the buffers are full.
    let pipelined = "GET /metrics HTTP/1.1\r\nHost: e\r\n\r\n".repeat(12_000);
    let mut tcp = TcpStream::connect(exporter.address()).await.unwrap();
    let writer = tokio::spawn(async move {
        // Fails once the server gives up on the connection; the outcome is in the gauge.
        let _ = tcp.write_all(pipelined.as_bytes()).await;
        tcp
    });
    // Sampled often so that the open connection is seen before it is dropped.
    let was_open = std::cell::Cell::new(false);
    let what = "the connection whose client does not read to be open, then dropped";
    eventually_every(Duration::from_millis(20), DEADLINE, what, || {
        let open = own_value(&exporter, "clusterlink_http_connections");
        was_open.set(was_open.get() || open == 1.0);
        let seen = format!("open now {open}, seen open {}", was_open.get());
        std::future::ready(done_if(was_open.get() && open == 0.0, seen))
    })
    .await;
    drop(writer.await);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slowloris_connection_does_not_hold_up_shutdown() {
    let limits = ServeLimits {
        header_read_timeout: Duration::from_secs(600),
        ..ServeLimits::default()
    };
    let exporter = start(limits).await;
    let slow = tokio::spawn(misbehave(
        exporter.address(),
        Some(Duration::from_millis(250)),
    ));
    wait_connections(&exporter, 1.0, "the slowloris connection to be accepted").await;
    let began = Instant::now();
    timeout(DEADLINE, exporter.shutdown())
        .await
        .expect("shutdown ends within the grace period");
    eprintln!(
        "shutdown with a slowloris connection open took {:?}",
        began.elapsed()
    );
    let ended = timeout(DEADLINE, slow).await.unwrap().unwrap();
    assert_eq!(ended.response_bytes, 0);
}

/// CPU time (user + system) a process has used, from `/proc/<pid>/stat`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    let after_name = &stat[stat.rfind(')').expect("(comm)") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of proc(5), counted from the state (field 3).
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Clock ticks per second (`getconf CLK_TCK`).
fn ticks_per_second() -> u64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Lines of the child's stderr containing `needle`.
fn count_lines(log: &Mutex<String>, needle: &str) -> usize {
    log.lock()
        .unwrap()
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn out_of_file_descriptors_the_accept_loop_backs_off_and_recovers() {
    let config = std::env::temp_dir().join(format!("cle-http-limits-{}.yaml", std::process::id()));
    std::fs::write(&config, UNREACHABLE).unwrap();
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // 64 file descriptors: a few for the exporter itself, far fewer than the connections.
    let mut child = KillOnDrop(
        Command::new("sh")
            .args(["-c", "ulimit -n 64 && exec \"$0\" \"$@\"", BIN, "--config"])
            .arg(&config)
            .args(["--web.listen-address", &addr.to_string()])
            .args([
                "--web.max-connections",
                "1000",
                "--web.header-read-timeout",
                "5m",
            ])
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let log = Arc::new(Mutex::new(String::new()));
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn({
        let log = log.clone();
        move || {
            use std::io::Read;
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut buf) {
                log.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    });
    let logged = || log.lock().unwrap().clone();
    eventually(DEADLINE, "the exporter to serve /-/healthy", || async {
        match exchange(addr, &get("/-/healthy")).await {
            Ok((200, _)) => Ok(()),
            other => Err(format!("{other:?}; log:\n{}", logged())),
        }
    })
    .await;

    let mut held = Vec::new();
    for _ in 0..120 {
        held.push(
            TcpStream::connect(addr)
                .await
                .expect("connect (the backlog takes it)"),
        );
    }
    const FAILING: &str = "accepting HTTP connections fails";
    eventually(DEADLINE, "an accept error logged", || {
        let lines = count_lines(&log, FAILING);
        std::future::ready(if lines > 0 { Ok(()) } else { Err(logged()) })
    })
    .await;
    let window = Duration::from_secs(5);
    let before = cpu_ticks(child.id());
    sleep(window).await;
    let warnings = count_lines(&log, FAILING);
    let cpu = Duration::from_secs_f64(
        (cpu_ticks(child.id()) - before) as f64 / ticks_per_second() as f64,
    );
    eprintln!("CPU time of the exporter out of file descriptors: {cpu:?} in {window:?}");
    assert!(
        cpu < Duration::from_millis(250),
        "the accept loop spins: {cpu:?} of CPU in {window:?}"
    );

    drop(held);
    let text = eventually(DEADLINE, "the exporter to serve /metrics again", || async {
        match exchange(addr, &get("/metrics")).await {
            Ok((200, text)) => Ok(text),
            other => Err(format!("{other:?}; log:\n{}", logged())),
        }
    })
    .await;
    // Backing off from 5 ms to 1 s, at least 5 accepts failed in the window, logged once
    // (at most once a minute).
    let errors = value(&text, "clusterlink_http_accept_errors_total", &[]).unwrap();
    assert!(errors >= 5.0, "{errors} accept errors counted");
    assert!(
        warnings <= 2,
        "{warnings} warnings in the window, {errors} errors in all"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    std::fs::remove_file(config).ok();
}
