//! The Kafka side against real Apache Kafka brokers, configured as users configure it: each
//! security setup (PLAINTEXT, SASL_SSL with PLAIN — the Confluent Cloud API-key path —,
//! SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER/OIDC, mTLS) measures watermarks, lag in
//! seconds and offset-sync lag of a link the test plays (`common::played_link`), checked
//! against what the test wrote, and runs the probe; each way a connection fails is named by
//! its `reason`, on the status page and without a secret in any output.

use std::time::Duration;

use serde_json::Value;

use crate::common::eventually::eventually;
use crate::common::kafka::{self as k, Broker, Listener, EXPORTER};
use crate::common::link_rest::LinkRest;
use crate::common::played_link::{self as played, now_ms, ProbeMirror, Truth};
use crate::common::scrape::{scrape, start_exporter, value};
use cluster_link_exporter::Exporter;

/// A `kafka` section's flow YAML for `listener` of `broker` with `auth` (YAML keys inside the
/// braces, may be empty).
fn kafka_yaml(broker: &Broker, listener: Listener, auth: &str) -> String {
    let tls = if listener.tls() {
        format!("tls: {{ca_file: '{}'}}, ", broker.pki.ca.display())
    } else {
        String::new()
    };
    format!(
        "{{bootstrap_servers: '{}', request_timeout: 5s, {tls}{auth}}}",
        broker.bootstrap(listener)
    )
}

/// Exporter YAML: destination cluster `name` behind `rest`, with Kafka sections `destination`
/// and `source` (flow YAML) and, optionally, a probe of the link.
fn exporter_yaml(
    name: &str,
    rest: &LinkRest,
    truth: &Truth,
    destination: &str,
    source: &str,
    probe: bool,
) -> String {
    let link = format!("{}-link", truth.tag);
    let probes = if probe {
        format!(
            "    probes: [{{link: {link}, topic: {}, interval: 1s, sla: 10s, instance_id: {name}}}]\n",
            truth.probe_topic
        )
    } else {
        String::new()
    };
    format!(
        "defaults: {{poll_interval: 1s, request_timeout: 5s}}\n\
         clusters:\n  - name: {name}\n    rest_url: {}\n    cluster_id: {}\n    kafka: {destination}\n{probes}\
         source_clusters:\n  - name: {name}-source\n    links: [{link}]\n    kafka: {source}\n",
        rest.rest_url(),
        rest.cluster_id(),
    )
}

/// Every value the Kafka side exports for the played link, checked against the truth:
/// measured lag, lag in seconds (between the ages of the oldest unmirrored record before and
/// after the scrape), offset-sync lag, both connections up.
async fn check_measurements(exporter: &Exporter, name: &str, truth: &Truth, started_ms: i64) {
    let topic = [
        ("kafka_cluster", name),
        ("link", &format!("{}-link", truth.tag)),
        ("mirror_topic", truth.topic.as_str()),
    ];
    let lag = truth.lag_messages() as f64;
    let sync = truth.offset_sync_lag() as f64;
    let sync_labels = [
        topic[0],
        topic[1],
        ("consumer_group", truth.group.as_str()),
        topic[2],
    ];
    let what = format!("{name}: measured lag {lag}, offset-sync lag {sync}, lag in seconds");
    eventually(Duration::from_secs(60), &what, || async {
        let before = now_ms();
        let text = scrape(exporter).await;
        let after = now_ms();
        let measured = value(
            &text,
            "clusterlink_mirror_topic_measured_lag_messages",
            &topic,
        );
        let seconds = value(&text, "clusterlink_mirror_topic_lag_seconds", &topic);
        let offset_sync = value(
            &text,
            "clusterlink_consumer_offset_sync_lag_messages",
            &sync_labels,
        );
        let oldest = truth.oldest_unmirrored_ms();
        // Measured after the exporter started, at the latest at the scrape; whole ms.
        let lowest = (started_ms - oldest) as f64 / 1000.0 - 0.001;
        let highest = (after - oldest) as f64 / 1000.0 + 0.001;
        let _ = before;
        let ok = measured == Some(lag)
            && offset_sync == Some(sync)
            && seconds.is_some_and(|s| s >= lowest && s <= highest);
        let up = |role| {
            value(
                &text,
                "clusterlink_kafka_up",
                &[("kafka_cluster", name), ("role", role)],
            )
        };
        if ok && up("destination") == Some(1.0) && up("source") == Some(1.0) {
            Ok(())
        } else {
            Err(format!(
                "measured {measured:?} (want {lag}), offset sync {offset_sync:?} (want {sync}), \
                 lag seconds {seconds:?} (want {lowest}..{highest}), up {:?}/{:?}\n{}",
                up("destination"),
                up("source"),
                text.lines()
                    .filter(|l| l.contains(name)
                        && (l.starts_with("clusterlink_kafka") || l.contains("lag")))
                    .collect::<Vec<_>>()
                    .join("\n")
            ))
        }
    })
    .await;
}

/// Probe records sent on the source came back from the destination's mirror.
async fn check_probe(exporter: &Exporter, name: &str, truth: &Truth) {
    let link = format!("{}-link", truth.tag);
    let labels = [("kafka_cluster", name), ("link", link.as_str())];
    eventually(
        Duration::from_secs(60),
        "probe records received",
        || async {
            let text = scrape(exporter).await;
            let received = value(&text, "clusterlink_probe_records_received_total", &labels);
            match received {
                Some(r) if r >= 2.0 => Ok(()),
                _ => Err(text
                    .lines()
                    .filter(|l| {
                        l.starts_with("clusterlink_probe")
                            || l.starts_with("clusterlink_kafka_errors")
                    })
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
                    .join("\n")),
            }
        },
    )
    .await;
}

/// One security setup end to end: the link written and granted, the exporter configured with
/// `destination_auth`/`source_auth` on `listener`, every measurement checked, the probe run.
async fn setup_measures(tag: &str, listener: Listener, auth: &str, probe: bool) {
    let b = k::brokers();
    let truth = played::write(&b.source, &b.destination, tag);
    played::grant(&b.source, &b.destination, &EXPORTER, &truth);
    let rest = played::rest(&b.source, &b.destination, &truth).await;
    let yaml = exporter_yaml(
        tag,
        &rest,
        &truth,
        &kafka_yaml(&b.destination, listener, auth),
        &kafka_yaml(&b.source, listener, auth),
        probe,
    );
    let _mirror = probe.then(|| ProbeMirror::start(&b.source, &b.destination, &truth.probe_topic));
    let started = now_ms();
    let exporter = start_exporter(&yaml).await;
    check_measurements(&exporter, tag, &truth, started).await;
    if probe {
        check_probe(&exporter, tag, &truth).await;
    }
    let text = scrape(&exporter).await;
    assert!(!text.contains(EXPORTER.password), "a secret in /metrics");
    exporter.shutdown().await;
}

fn secret_file(tag: &str, secret: &str) -> String {
    let path = std::env::temp_dir().join(format!("cle-{tag}-{}", std::process::id()));
    std::fs::write(&path, format!("{secret}\n")).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn plaintext_measures_every_value() {
    // The PLAINTEXT listener's principal is a super user: this is the real-broker truth test
    // of the measurements themselves, beside the mock cluster's.
    setup_measures("sec-plaintext", Listener::Plaintext, "", true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sasl_ssl_plain_the_confluent_cloud_api_key_path() {
    let file = secret_file("plain", EXPORTER.password);
    let auth =
        format!("sasl: {{mechanism: PLAIN, username: exporter, password: {{file: '{file}'}}}}");
    setup_measures("sec-plain", Listener::SaslSsl, &auth, true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sasl_ssl_scram_sha_256() {
    let auth = format!(
        "sasl: {{mechanism: SCRAM-SHA-256, username: exporter, password: '{}'}}",
        EXPORTER.password
    );
    setup_measures("sec-scram256", Listener::SaslSsl, &auth, false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sasl_ssl_scram_sha_512() {
    let auth = format!(
        "sasl: {{mechanism: SCRAM-SHA-512, username: exporter, password: '{}'}}",
        EXPORTER.password
    );
    setup_measures("sec-scram512", Listener::SaslSsl, &auth, true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mtls_client_certificate() {
    let b = k::brokers();
    let auth = format!(
        "tls: {{ca_file: '{}', cert_file: '{}', key_file: '{}'}}",
        b.source.pki.ca.display(),
        b.source.pki.client_cert.display(),
        b.source.pki.client_key.display()
    );
    // kafka_yaml adds its own tls for TLS listeners: build this one by hand.
    let section = |broker: &Broker| {
        format!(
            "{{bootstrap_servers: '{}', request_timeout: 5s, {auth}}}",
            broker.bootstrap(Listener::Mtls)
        )
    };
    let truth = played::write(&b.source, &b.destination, "sec-mtls");
    played::grant(&b.source, &b.destination, &EXPORTER, &truth);
    let rest = played::rest(&b.source, &b.destination, &truth).await;
    let yaml = exporter_yaml(
        "sec-mtls",
        &rest,
        &truth,
        &section(&b.destination),
        &section(&b.source),
        true,
    );
    let _mirror = ProbeMirror::start(&b.source, &b.destination, &truth.probe_topic);
    let started = now_ms();
    let exporter = start_exporter(&yaml).await;
    check_measurements(&exporter, "sec-mtls", &truth, started).await;
    check_probe(&exporter, "sec-mtls", &truth).await;
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sasl_ssl_oauthbearer_oidc() {
    let b = k::brokers();
    let auth = format!(
        "sasl: {{mechanism: OAUTHBEARER, token_endpoint_url: '{}', client_id: exporter, client_secret: '{}', scope: kafka}}",
        b.source.oidc_token_url, EXPORTER.password
    );
    setup_measures("sec-oidc", Listener::SaslSsl, &auth, true).await;
}

/// A broken connection of each kind, one destination cluster each (all behind the same
/// REST API): `clusterlink_kafka_up 0` and its own reason counted, the status page's
/// connection line naming reason and fix, and no secret anywhere.
#[tokio::test(flavor = "multi_thread")]
async fn each_failure_is_named() {
    let b = k::brokers();
    let d = &b.destination;
    let truth = played::write(&b.source, d, "sec-fail");
    // The "denied" case: a user that authenticates but has no ACL.
    let rest = played::rest(&b.source, d, &truth).await;
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let accepted = std::thread::spawn(move || {
        // Accepts and never answers: requests time out.
        let mut held = Vec::new();
        for s in silent.incoming().take(64) {
            held.push(s);
        }
    });
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let ca = d.pki.ca.display().to_string();
    let untrusted = d.pki.untrusted_ca.display().to_string();
    let pw = EXPORTER.password;
    let sasl = |mechanism: &str, user: &str, password: &str| {
        format!("sasl: {{mechanism: {mechanism}, username: '{user}', password: '{password}'}}")
    };
    let oidc = |client: &str, secret: &str| {
        format!(
            "sasl: {{mechanism: OAUTHBEARER, token_endpoint_url: '{}', client_id: '{client}', client_secret: '{secret}', scope: kafka}}",
            d.oidc_token_url
        )
    };
    let section = |addr: &str, rest: String| {
        format!("{{bootstrap_servers: '{addr}', request_timeout: 3s, {rest}}}")
    };
    let cases: Vec<(&str, &str, String)> = vec![
        (
            "wrong-password",
            "auth",
            section(
                &d.listeners.sasl_ssl,
                format!(
                    "tls: {{ca_file: '{ca}'}}, {}",
                    sasl("SCRAM-SHA-512", "exporter", "not-the-password")
                ),
            ),
        ),
        (
            "unknown-user",
            "auth",
            section(
                &d.listeners.sasl_ssl,
                format!("tls: {{ca_file: '{ca}'}}, {}", sasl("PLAIN", "nobody", pw)),
            ),
        ),
        (
            "mechanism-off",
            "auth",
            section(
                &d.listeners.sasl_plain_only,
                format!(
                    "tls: {{ca_file: '{ca}'}}, {}",
                    sasl("SCRAM-SHA-256", "exporter", pw)
                ),
            ),
        ),
        (
            "oidc-refused",
            "auth",
            section(
                &d.listeners.sasl_ssl,
                format!(
                    "tls: {{ca_file: '{ca}'}}, {}",
                    oidc("exporter", "wrong-client-secret")
                ),
            ),
        ),
        (
            "oidc-unknown-key",
            "auth",
            section(
                &d.listeners.sasl_ssl,
                format!(
                    "tls: {{ca_file: '{ca}'}}, {}",
                    oidc(
                        k::oidc::UNKNOWN_KEY_CLIENT.name,
                        k::oidc::UNKNOWN_KEY_CLIENT.password
                    )
                ),
            ),
        ),
        (
            "oidc-expired",
            "auth",
            section(
                &d.listeners.sasl_ssl,
                format!(
                    "tls: {{ca_file: '{ca}'}}, {}",
                    oidc(
                        k::oidc::EXPIRED_CLIENT.name,
                        k::oidc::EXPIRED_CLIENT.password
                    )
                ),
            ),
        ),
        (
            "untrusted-ca",
            "tls",
            section(
                &d.listeners.sasl_ssl,
                format!(
                    "tls: {{ca_file: '{untrusted}'}}, {}",
                    sasl("PLAIN", "exporter", pw)
                ),
            ),
        ),
        (
            "wrong-host",
            "tls",
            section(&d.listeners.wrong_host, format!("tls: {{ca_file: '{ca}'}}")),
        ),
        (
            "no-client-cert",
            "tls",
            section(&d.listeners.mtls, format!("tls: {{ca_file: '{ca}'}}")),
        ),
        (
            "broker-down",
            "connect",
            section(&closed.to_string(), String::new()),
        ),
        (
            "no-answer",
            "timeout",
            section(&silent_addr.to_string(), String::new()),
        ),
        (
            "denied",
            "authorization",
            section(
                &d.listeners.sasl_ssl,
                format!(
                    "tls: {{ca_file: '{ca}'}}, {}",
                    sasl("PLAIN", k::LIMITED[3].name, k::LIMITED[3].password)
                ),
            ),
        ),
    ];
    let mut yaml = String::from("defaults: {poll_interval: 1s, request_timeout: 5s}\nclusters:\n");
    for (name, _, kafka) in &cases {
        yaml.push_str(&format!(
            "  - name: {name}\n    rest_url: {}\n    cluster_id: {}\n    kafka: {kafka}\n",
            rest.rest_url(),
            rest.cluster_id()
        ));
    }
    // The link's source, misconfigured too (a CA that did not sign the broker): with each
    // destination down, the source connection still says what is wrong with it.
    yaml.push_str(&format!(
        "source_clusters:\n  - name: bad-source\n    links: [{}]\n    kafka: {}\n",
        format_args!("{}-link", truth.tag),
        section(
            &b.source.listeners.sasl_ssl,
            format!(
                "tls: {{ca_file: '{untrusted}'}}, {}",
                sasl("PLAIN", "exporter", pw)
            )
        )
    ));
    let exporter = start_exporter(&yaml).await;
    let base = format!("http://{}", exporter.address());
    let source = [
        ("kafka_cluster", "wrong-password"),
        ("connection", "bad-source"),
    ];
    eventually(
        Duration::from_secs(90),
        "the source's own reason",
        || async {
            let text = scrape(&exporter).await;
            let up = value(&text, "clusterlink_kafka_up", &source);
            let tls = value(
                &text,
                "clusterlink_kafka_errors_total",
                &[source[0], source[1], ("reason", "tls")],
            );
            match (up, tls) {
                (Some(0.0), Some(n)) if n >= 1.0 => Ok(()),
                _ => Err(format!("source up {up:?}, tls errors {tls:?}")),
            }
        },
    )
    .await;
    for (name, reason, _) in &cases {
        let labels = [("kafka_cluster", *name), ("connection", *name)];
        eventually(
            Duration::from_secs(90),
            &format!("{name}: down with reason {reason}"),
            || async {
                let text = scrape(&exporter).await;
                let up = value(&text, "clusterlink_kafka_up", &labels);
                let count = |r: &str| {
                    value(
                        &text,
                        "clusterlink_kafka_errors_total",
                        &[labels[0], labels[1], ("reason", r)],
                    )
                    .unwrap_or(0.0)
                };
                let mine = count(reason);
                let others: Vec<(&str, f64)> = [
                    "timeout",
                    "connect",
                    "tls",
                    "auth",
                    "authorization",
                    "unknown_topic",
                    "unsupported",
                    "other",
                ]
                .into_iter()
                .filter(|r| r != reason)
                .map(|r| (r, count(r)))
                .filter(|(_, n)| *n > mine)
                .collect();
                let line = connection_line(&base, name).await;
                if up == Some(0.0)
                    && mine >= 1.0
                    && others.is_empty()
                    && line.starts_with(&format!("{reason}: "))
                {
                    Ok(line)
                } else {
                    Err(format!(
                        "up {up:?}, {reason} {mine}, more often {others:?}; status line {line:?}"
                    ))
                }
            },
        )
        .await;
    }
    let text = scrape(&exporter).await;
    let status = reqwest::get(format!("{base}/status.json"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for secret in [
        pw,
        "not-the-password",
        "wrong-client-secret",
        k::LIMITED[3].password,
    ] {
        assert!(
            !text.contains(secret) && !status.contains(secret),
            "secret {secret:?} shown"
        );
    }
    exporter.shutdown().await;
    drop(accepted);
}

/// The status page's last error of the destination connection of cluster `name`.
async fn connection_line(base: &str, name: &str) -> String {
    let Ok(r) = reqwest::get(format!("{base}/status.json")).await else {
        return String::new();
    };
    let v: Value = r.json().await.unwrap_or_default();
    let cluster = v["clusters"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == name);
    cluster
        .and_then(|c| c["kafka_connections"].as_array())
        .into_iter()
        .flatten()
        .find(|c| c["name"] == name || c["connection"] == name)
        .and_then(|c| c["last_error"].as_str())
        .unwrap_or_default()
        .to_owned()
}
