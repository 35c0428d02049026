//! The exporter's transport paths for real: the Confluent Cloud flavour, cluster id discovery,
//! Basic and Bearer authentication (value and re-read token file), TLS with a private CA and
//! mutual TLS — each against a simulated cluster that requires it.

use std::path::PathBuf;
use std::time::Duration;

use crate::common::scrape::*;
use crate::common::sim::start;

const T: Duration = Duration::from_secs(30);

fn scenario(b_extra: &str) -> String {
    format!(
        r#"
clusters:
  - name: A
    brokers: 1
    topics: [{{name: events, partitions: 2}}]
  - name: B
    brokers: 1
    {b_extra}
links:
  - name: ab
    source: A
    destination: B
    mirrors: [events]
"#
    )
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cle-auth-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn expect_up(yaml: &str) {
    let exporter = start_exporter(yaml).await;
    wait_value(
        &exporter,
        "clusterlink_link_state",
        &[("kafka_cluster", "B"), ("link", "ab"), ("state", "ACTIVE")],
        T,
        |v| v == 1.0,
    )
    .await;
    exporter.shutdown().await;
}

async fn expect_failure(yaml: &str, reason: &str) {
    let exporter = start_exporter(yaml).await;
    wait_value(
        &exporter,
        "clusterlink_collection_errors_total",
        &[("kafka_cluster", "B"), ("reason", reason)],
        T,
        |v| v >= 1.0,
    )
    .await;
    assert_eq!(
        value(
            &scrape(&exporter).await,
            "clusterlink_up",
            &[("kafka_cluster", "B")]
        ),
        Some(0.0)
    );
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn confluent_cloud_flavour_with_api_key() {
    let sim = start(&scenario(
        "flavour: cloud\n    auth: {type: basic, username: KEY123, password: s3cr3t-Secret}",
    ))
    .await;
    let ok = exporter_yaml(
        &sim,
        "300ms",
        &[(
            "B",
            "flavour: cloud\nauth: {type: basic, username: KEY123, password: s3cr3t-Secret}",
        )],
    );
    expect_up(&ok).await;
    let exporter = start_exporter(&ok).await;
    wait_value(
        &exporter,
        "clusterlink_up",
        &[("kafka_cluster", "B")],
        T,
        |v| v == 1.0,
    )
    .await;
    let text = scrape(&exporter).await;
    let page = reqwest::get(format!("http://{}/", exporter.address()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !text.contains("s3cr3t") && !page.contains("s3cr3t"),
        "secret leaked"
    );
    exporter.shutdown().await;
    let wrong = exporter_yaml(
        &sim,
        "300ms",
        &[(
            "B",
            "flavour: cloud\nauth: {type: basic, username: KEY123, password: nope}",
        )],
    );
    expect_failure(&wrong, "auth").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn platform_cluster_id_is_discovered() {
    let sim = start(&scenario("")).await;
    let c = sim.cluster("B");
    let yaml = format!(
        "defaults: {{poll_interval: 300ms}}\nclusters:\n  - name: B\n    rest_url: {}\n",
        c.rest_url
    );
    expect_up(&yaml).await;
    // Cloud has no cluster list: the same config against a Cloud-flavoured cluster fails.
    let cloud = start(&scenario("flavour: cloud")).await;
    let yaml = format!(
        "defaults: {{poll_interval: 300ms}}\nclusters:\n  - name: B\n    rest_url: {}\n",
        cloud.cluster("B").rest_url
    );
    expect_failure(&yaml, "not_found").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bearer_token_from_value_and_from_a_file_reread_on_change() {
    let sim = start(&scenario("auth: {type: bearer, token: tok-1}")).await;
    expect_up(&exporter_yaml(
        &sim,
        "300ms",
        &[("B", "auth: {type: bearer, token: tok-1}")],
    ))
    .await;

    let dir = temp_dir("bearer");
    let file = dir.join("token");
    std::fs::write(&file, "stale-token\n").unwrap();
    let yaml = exporter_yaml(
        &sim,
        "300ms",
        &[(
            "B",
            &format!("auth: {{type: bearer, token_file: {}}}", file.display()),
        )],
    );
    let exporter = start_exporter(&yaml).await;
    wait_value(
        &exporter,
        "clusterlink_collection_errors_total",
        &[("kafka_cluster", "B"), ("reason", "auth")],
        T,
        |v| v >= 1.0,
    )
    .await;
    // A sidecar refreshes the token: the next cycle uses it without a restart.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&file, "tok-1\n").unwrap();
    wait_value(
        &exporter,
        "clusterlink_up",
        &[("kafka_cluster", "B")],
        T,
        |v| v == 1.0,
    )
    .await;
    exporter.shutdown().await;
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_with_a_private_ca_and_mutual_tls() {
    let sim = start(&scenario("tls: true\n    client_auth: true")).await;
    let dir = temp_dir("tls");
    let pki = sim.pki();
    for (name, pem) in [
        ("ca.pem", &pki.ca_pem),
        ("client.pem", &pki.client.cert_pem),
        ("client.key", &pki.client.key_pem),
    ] {
        std::fs::write(dir.join(name), pem).unwrap();
    }
    let d = dir.display();
    expect_up(&exporter_yaml(
        &sim,
        "300ms",
        &[(
            "B",
            &format!(
                "tls: {{ca_file: {d}/ca.pem, cert_file: {d}/client.pem, key_file: {d}/client.key}}"
            ),
        )],
    ))
    .await;
    // Without the client certificate the handshake fails; without the CA the server is not trusted.
    expect_failure(
        &exporter_yaml(
            &sim,
            "300ms",
            &[("B", &format!("tls: {{ca_file: {d}/ca.pem}}"))],
        ),
        "tls",
    )
    .await;
    expect_failure(&exporter_yaml(&sim, "300ms", &[("B", "")]), "tls").await;
    std::fs::remove_dir_all(dir).ok();
}
