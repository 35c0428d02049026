//! The `kafka` examples of docs/kafka-security.md ("Setups") are what users copy: each passes
//! `check-config` and measures a played link on the real brokers with the same settings (the
//! same keys, mechanism and secret forms; only the host names, file paths and identities are
//! the test brokers').

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_norway::Value;

use crate::common::eventually::eventually;
use crate::common::kafka::{self as k, Broker, Listener, EXPORTER};
use crate::common::played_link;
use crate::common::scrape::{scrape, start_exporter, value};
use crate::common::servers::temp_dir;

const BIN: &str = env!("CARGO_BIN_EXE_cluster-link-exporter");

/// The `yaml` blocks of the "Setups" section, with the heading above each.
fn examples() -> Vec<(String, String)> {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/kafka-security.md"),
    )
    .unwrap();
    let setups = doc
        .split("\n## Setups")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a Setups section");
    let mut out = Vec::new();
    let mut heading = String::new();
    let mut lines = setups.lines();
    while let Some(line) = lines.next() {
        if let Some(h) = line.strip_prefix("### ") {
            heading = h.to_owned();
        }
        if line == "```yaml" {
            let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            out.push((heading.clone(), block.join("\n")));
        }
    }
    out
}

/// The example's `kafka` section pointed at `broker`: its keys kept, host, files and
/// identities replaced (a `{file: …}` secret stays a file).
fn localize(example: &str, broker: &Broker, dir: &Path) -> Value {
    let doc: Value = serde_norway::from_str(example).unwrap();
    let mut kafka = doc["kafka"].clone();
    let sasl = kafka.get("sasl").is_some();
    let listener = if sasl {
        Listener::SaslSsl
    } else {
        Listener::Mtls
    };
    let set = |v: &mut Value, key: &str, to: String| {
        if let Some(slot) = v.get_mut(key) {
            *slot = Value::String(to);
        }
    };
    set(
        &mut kafka,
        "bootstrap_servers",
        broker.bootstrap(listener).to_owned(),
    );
    let pki = &broker.pki;
    if let Some(tls) = kafka.get_mut("tls") {
        set(tls, "ca_file", pki.ca.display().to_string());
        set(tls, "cert_file", pki.client_cert.display().to_string());
        set(tls, "key_file", pki.client_key.display().to_string());
    }
    if let Some(sasl) = kafka.get_mut("sasl") {
        set(sasl, "username", EXPORTER.name.into());
        set(sasl, "client_id", EXPORTER.name.into());
        set(sasl, "token_endpoint_url", broker.oidc_token_url.clone());
        for key in ["password", "client_secret"] {
            if let Some(secret) = sasl.get_mut(key) {
                let file = dir.join(key);
                std::fs::write(&file, format!("{}\n", EXPORTER.password)).unwrap();
                assert!(
                    secret.get("file").is_some(),
                    "the examples keep secrets in files"
                );
                secret["file"] = Value::String(file.display().to_string());
            }
        }
    }
    kafka
}

#[tokio::test(flavor = "multi_thread")]
async fn every_setup_example_checks_and_measures() {
    let found = examples();
    let headings: Vec<&str> = found.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(found.len(), 4, "the four setups: {headings:?}");
    let b = k::brokers();
    for (i, (heading, example)) in found.iter().enumerate() {
        let tag = format!("docs-{i}");
        let truth = played_link::write(&b.source, &b.destination, &tag);
        played_link::grant(&b.source, &b.destination, &EXPORTER, &truth);
        let rest = played_link::rest(&b.source, &b.destination, &truth).await;
        let dir = temp_dir(&tag);
        let dest = localize(example, &b.destination, &dir);
        let source = localize(example, &b.source, &dir);
        let flow = |v: &Value| serde_json::to_string(v).unwrap();
        let yaml = format!(
            "defaults: {{poll_interval: 1s}}\nclusters:\n  - name: {tag}\n    rest_url: {}\n    cluster_id: {}\n    kafka: {}\nsource_clusters:\n  - name: {tag}-source\n    links: [{tag}-link]\n    kafka: {}\n",
            rest.rest_url(),
            rest.cluster_id(),
            flow(&dest),
            flow(&source),
        );
        let file = dir.join("config.yml");
        std::fs::write(&file, &yaml).unwrap();
        let out = Command::new(BIN)
            .args(["check-config", "--config"])
            .arg(&file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{heading}: check-config: {stderr}\n{yaml}"
        );
        assert!(
            !stderr.contains(EXPORTER.password),
            "{heading}: a secret printed"
        );
        let exporter = start_exporter(&yaml).await;
        let topic = [
            ("kafka_cluster", tag.as_str()),
            ("mirror_topic", truth.topic.as_str()),
        ];
        let want = truth.lag_messages() as f64;
        eventually(Duration::from_secs(60), heading, || async {
            let text = scrape(&exporter).await;
            let measured = value(
                &text,
                "clusterlink_mirror_topic_measured_lag_messages",
                &topic,
            );
            let up = |role| {
                value(
                    &text,
                    "clusterlink_kafka_up",
                    &[("kafka_cluster", tag.as_str()), ("role", role)],
                )
            };
            if measured == Some(want) && up("destination") == Some(1.0) && up("source") == Some(1.0)
            {
                Ok(())
            } else {
                Err(format!(
                    "measured {measured:?} (want {want}), up {:?}/{:?}",
                    up("destination"),
                    up("source")
                ))
            }
        })
        .await;
        exporter.shutdown().await;
    }
}
