//! The binary as an operator runs it: `check-config`, a bad config failing before serving, and
//! secrets kept out of the logs, `hash-password`.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::eventually::{done_if, eventually};
use crate::common::servers::KillOnDrop;
use crate::common::sim::start;

const BIN: &str = env!("CARGO_BIN_EXE_cluster-link-exporter");

fn write(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("cle-cli-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

/// `check-config` of `file` with extra environment variables: (exit code, stderr).
fn check_config(file: &std::path::Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(file)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).trim_end().to_owned(),
    )
}

#[test]
fn whole_number_keys_refuse_fractions_and_strings_from_the_file_and_the_environment() {
    let file = |name: &str, value: &str| {
        write(
            name,
            &format!("defaults: {{max_response_bytes: {value}}}\nclusters:\n  - {{name: dr, rest_url: 'https://broker:8090/kafka/v3'}}\n"),
        )
    };
    let (code, err) = check_config(&file("frac.yaml", "1500.7"), &[]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err, "error: config: defaults.max_response_bytes: invalid type: floating point `1500.7`, expected a whole number");
    let (code, err) = check_config(&file("quoted.yaml", "'2048'"), &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.starts_with("error: config: defaults.max_response_bytes: invalid type: string"),
        "{err}"
    );
    let (code, err) = check_config(&file("whole.yaml", "2048"), &[]);
    assert_eq!(code, Some(0), "{err}");
    // An environment override is parsed into a number first: whole numbers work, others not.
    let key = "CLUSTER_LINK_EXPORTER__DEFAULTS__MAX_RESPONSE_BYTES";
    let (code, err) = check_config(&file("env.yaml", "2048"), &[(key, "4096")]);
    assert_eq!(code, Some(0), "{err}");
    let (code, err) = check_config(&file("env.yaml", "2048"), &[(key, "4096.5")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("max_response_bytes") && err.contains("floating point"),
        "{err}"
    );
}

#[test]
fn check_config_accepts_a_valid_file_and_names_the_key_of_a_bad_one() {
    let good = write(
        "good.yaml",
        "clusters:\n  - {name: dr, rest_url: 'https://broker:8090/kafka/v3'}\n",
    );
    let out = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "config OK: 1 cluster(s)\n"
    );

    let bad = write(
        "bad.yaml",
        "clusters:\n  - {name: dr, rest_url: 'https://broker:8090/kafka/v3', poll_interval: -5s}\n",
    );
    let out = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "error: config: clusters[0].poll_interval: expected a positive duration like 500ms, 30s or 5m, got \"-5s\""
    );
    // The input: a duration too large for the clock panicked before it was checked.
    let huge = write(
        "huge.yaml",
        "clusters:\n  - {name: dr, rest_url: 'https://broker:8090/kafka/v3', poll_interval: 99999999999999999999h}\n",
    );
    let out = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&huge)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "error: config: clusters[0].poll_interval: \"99999999999999999999h\" is longer than the maximum duration, 365 days (8760h)"
    );
    std::fs::remove_file(good).ok();
    std::fs::remove_file(bad).ok();
    std::fs::remove_file(huge).ok();
}

#[test]
fn a_bad_config_exits_before_serving() {
    let bad = write(
        "unknown.yaml",
        "clusters:\n  - {name: dr, rest_url: 'https://x/kafka/v3', passwd: x}\n",
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&bad)
        .args(["--web.listen-address", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("clusters[0].passwd: unknown field `passwd`"),
        "{stderr}"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "it served"
    );
    let out = Command::new(BIN).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--config FILE is required"));
    std::fs::remove_file(bad).ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_reach_the_logs() {
    let sim = start(
        "clusters:\n  - {name: B, brokers: 1, auth: {type: basic, username: svc, password: right-pass}}\n",
    )
    .await;
    let c = sim.cluster("B");
    let config = write(
        "secret.yaml",
        &format!(
            "defaults: {{poll_interval: 200ms}}\nclusters:\n  - name: B\n    rest_url: {}\n    cluster_id: {}\n    auth: {{type: basic, username: svc, password: {{env: CLE_TEST_PASSWORD}}}}\n",
            c.rest_url, c.cluster_id
        ),
    );
    let mut child = KillOnDrop(
        Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .args([
                "--web.listen-address",
                "127.0.0.1:0",
                "--log.level",
                "debug",
                "--log.format",
                "json",
            ])
            .env("CLE_TEST_PASSWORD", "Wr0ng-Pa55word")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Let it fail a few collections with the wrong password.
    eventually(Duration::from_secs(30), "3 requests to B", || {
        let requests = sim.requests("B").len();
        std::future::ready(done_if(requests >= 3, requests))
    })
    .await;
    let logs = child.kill_and_read_stderr();
    child.wait().unwrap();
    assert!(
        logs.contains("collection failed") && logs.contains("\"reason\":\"auth\""),
        "{logs}"
    );
    assert!(
        !logs.contains("Wr0ng-Pa55word"),
        "password in logs:\n{logs}"
    );
    std::fs::remove_file(config).ok();
}

#[test]
fn check_config_refuses_a_kafka_property_librdkafka_rejects_without_its_value() {
    let file = write(
        "rdkafka.yaml",
        "clusters:\n  - name: dr\n    rest_url: 'https://broker:8090/kafka/v3'\n    kafka: {bootstrap_servers: 'b:9092', properties: {no.such.property: topsecret}}\n",
    );
    let (code, err) = check_config(&file, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        err,
        "error: config: clusters[0].kafka.properties: librdkafka rejects the configuration: Client config error: No such configuration property: \"no.such.property\" no.such.property <redacted>"
    );
    std::fs::remove_file(file).ok();
}

/// `--web.listen-address=:PORT` (the form the Helm chart and the systemd template use) listens
/// on every IPv4 interface; a malformed address stops the binary and `check-config` with the
/// flag named, before anything listens.
#[tokio::test]
async fn a_bare_port_listens_everywhere_and_a_bad_address_is_refused() {
    let config = write(
        "listen.yaml",
        "clusters:\n  - {name: dr, rest_url: 'http://127.0.0.1:9/kafka/v3'}\n",
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .arg(format!("--web.listen-address=:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _child = KillOnDrop(child);
    let answer = eventually(Duration::from_secs(30), "/-/healthy on 127.0.0.1", || {
        std::future::ready(healthy_over_tcp(port).map_err(|e| e.to_string()))
    })
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    for args in [vec![], vec!["check-config"]] {
        let out = Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .args(args)
            .arg("--web.listen-address=:http")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--web.listen-address") && stderr.contains("is not a port"),
            "{stderr}"
        );
    }
    std::fs::remove_file(config).ok();
}

/// `GET /-/healthy` over a plain TCP connection to 127.0.0.1:`port`: the whole answer.
fn healthy_over_tcp(port: u16) -> std::io::Result<String> {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(text)
}

/// `demo` reads no configuration file: given one, it says so and exits 2 instead of silently
/// running its own clusters.
#[test]
fn demo_refuses_a_config_file_it_would_ignore() {
    let config = write(
        "demo-config.yaml",
        "clusters:\n  - {name: dr, rest_url: 'http://127.0.0.1:9/kafka/v3'}\n",
    );
    let out = Command::new(BIN)
        .arg("demo")
        .arg("--config")
        .arg(&config)
        .args(["--web.listen-address", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("reads no --config file"), "{stderr}");
    std::fs::remove_file(config).ok();
}

/// `hash-password` prints a bcrypt hash of the password on stdin (the web config accepts it and
/// it verifies the password); no password is refused.
#[test]
fn hash_password_prints_a_bcrypt_hash_of_stdin() {
    use std::io::Write;
    let hash_of = |input: &str| {
        let mut child = Command::new(BIN)
            .arg("hash-password")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = hash_of("s3cret pass\n");
    assert_eq!(out.status.code(), Some(0));
    let hash = String::from_utf8(out.stdout).unwrap();
    let hash = hash.trim_end();
    assert!(hash.starts_with("$2b$10$"), "{hash}");
    assert!(bcrypt::verify("s3cret pass", hash).unwrap());
    assert!(!bcrypt::verify("s3cret pass\n", hash).unwrap());
    let empty = hash_of("");
    assert_eq!(empty.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&empty.stderr).contains("no password on stdin"));
}
