//! Long-lived Kafka connections and rotated credentials, against real Apache Kafka brokers.
//!
//! - Re-authentication (KIP-368): two dedicated brokers with a short
//!   `connections.max.reauth.ms` play four links, measured by one exporter over SCRAM-SHA-512,
//!   OAUTHBEARER/OIDC with 10 s tokens, OAUTHBEARER/OIDC with hour-long tokens, and mTLS (which
//!   has no SASL session: the control). For many re-authentication periods, every scrape has
//!   every connection up and the right measured lag, no error is counted, measurement cycles
//!   go on; the connections really re-authenticated in place (more `SaslHandshake` requests on
//!   the same connections: no new `ApiVersion`), and the 10 s tokens were refreshed.
//! - Rotation through a reload (`POST /-/reload`): a SCRAM password in a `{file: PATH}` secret
//!   that was wrong is fixed; an mTLS client certificate replaced at the same paths (by another
//!   one of the same CA, then by one of an untrusted CA) restarts that cluster's clients only;
//!   a reload that changes nothing restarts nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cluster_link_exporter::Exporter;

use crate::common::eventually::eventually;
use crate::common::kafka::oidc::{self, SHORT_LIVED_CLIENT, SHORT_TOKEN_LIFETIME};
use crate::common::kafka::{self as k, Broker, BrokerOptions, Listener, User, EXPORTER};
use crate::common::link_rest::LinkRest;
use crate::common::played_link::{self as played, Truth};
use crate::common::scrape::{parse_sample, scrape, start_exporter, start_from, value};
use crate::common::servers::temp_dir;

/// The brokers' `connections.max.reauth.ms`.
const REAUTH_MS: u64 = 3000;
/// How long the exporter is watched: twelve re-authentication periods, more than three
/// lifetimes of the short OIDC tokens.
const WINDOW: Duration = Duration::from_secs(36);
/// Scrape period while watching.
const SCRAPE_EVERY: Duration = Duration::from_millis(500);
const T: Duration = Duration::from_secs(60);

/// The sum of the samples of `name` whose labels include all of `labels`.
fn sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(parse_sample)
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(v)))
        .filter_map(|s| s.value.parse::<f64>().ok())
        .sum()
}

/// One link of the test: its destination cluster `name` (also the tag of its topics) and the
/// `kafka` sections (flow YAML) of both sides.
struct Link {
    name: &'static str,
    truth: Truth,
    rest: LinkRest,
    destination: String,
    source: String,
}

impl Link {
    /// Writes the link on `source`/`destination`, grants `user` its ACLs, serves its REST.
    async fn new(
        name: &'static str,
        source: &Broker,
        destination: &Broker,
        user: &User,
        kafka: impl Fn(&Broker) -> String,
    ) -> Self {
        let truth = played::write(source, destination, name);
        played::grant(source, destination, user, &truth);
        let rest = played::rest(source, destination, &truth).await;
        Self {
            name,
            truth,
            rest,
            destination: kafka(destination),
            source: kafka(source),
        }
    }

    /// Its `clusters` entry (indented for the list).
    fn cluster_yaml(&self) -> String {
        format!(
            "  - name: {}\n    rest_url: {}\n    cluster_id: {}\n    kafka: {}\n",
            self.name,
            self.rest.rest_url(),
            self.rest.cluster_id(),
            self.destination
        )
    }

    /// Its `source_clusters` entry.
    fn source_yaml(&self) -> String {
        format!(
            "  - name: {}-source\n    links: [{}-link]\n    kafka: {}\n",
            self.name, self.name, self.source
        )
    }

    /// Whether `text` has both connections up and the right measured lag; else what it has.
    fn check(&self, text: &str) -> Result<(), String> {
        let up = |role| {
            value(
                text,
                "clusterlink_kafka_up",
                &[("kafka_cluster", self.name), ("role", role)],
            )
        };
        let link = format!("{}-link", self.name);
        let lag = value(
            text,
            "clusterlink_mirror_topic_measured_lag_messages",
            &[
                ("kafka_cluster", self.name),
                ("link", &link),
                ("mirror_topic", &self.truth.topic),
            ],
        );
        let want = self.truth.lag_messages() as f64;
        if up("destination") == Some(1.0) && up("source") == Some(1.0) && lag == Some(want) {
            Ok(())
        } else {
            Err(format!(
                "{}: up {:?}/{:?}, measured lag {lag:?} (want {want})",
                self.name,
                up("destination"),
                up("source")
            ))
        }
    }

    /// Its errors, all connections and reasons.
    fn errors(&self, text: &str) -> f64 {
        sum(
            text,
            "clusterlink_kafka_errors_total",
            &[("kafka_cluster", self.name)],
        )
    }

    /// Its `request` requests, every client of both connections.
    fn requests(&self, text: &str, request: &str) -> f64 {
        sum(
            text,
            "clusterlink_kafka_requests_total",
            &[("kafka_cluster", self.name), ("request", request)],
        )
    }

    fn cycles(&self, text: &str) -> f64 {
        sum(
            text,
            "clusterlink_kafka_measurements_total",
            &[("kafka_cluster", self.name)],
        )
    }

    fn last_success(&self, text: &str) -> f64 {
        sum(
            text,
            "clusterlink_kafka_last_measurement_timestamp_seconds",
            &[("kafka_cluster", self.name)],
        )
    }

    /// Its Kafka-side series, for failure messages.
    fn lines(&self, text: &str) -> String {
        let marker = format!("kafka_cluster=\"{}\"", self.name);
        text.lines()
            .filter(|l| l.starts_with("clusterlink_kafka") && l.contains(&marker))
            .filter(|l| !l.ends_with(" 0"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Exporter YAML for `links`.
fn exporter_yaml(links: &[&Link]) -> String {
    let mut yaml = String::from("defaults: {poll_interval: 1s, request_timeout: 5s}\nclusters:\n");
    for l in links {
        yaml.push_str(&l.cluster_yaml());
    }
    yaml.push_str("source_clusters:\n");
    for l in links {
        yaml.push_str(&l.source_yaml());
    }
    yaml
}

fn sasl_ssl(broker: &Broker, sasl: &str) -> String {
    format!(
        "{{bootstrap_servers: '{}', request_timeout: 5s, tls: {{ca_file: '{}'}}, sasl: {sasl}}}",
        broker.bootstrap(Listener::SaslSsl),
        broker.pki.ca.display()
    )
}

fn scram(broker: &Broker, password: &str) -> String {
    sasl_ssl(
        broker,
        &format!("{{mechanism: SCRAM-SHA-512, username: exporter, password: {password}}}"),
    )
}

fn oidc(broker: &Broker, client: &User) -> String {
    sasl_ssl(
        broker,
        &format!(
            "{{mechanism: OAUTHBEARER, token_endpoint_url: '{}', client_id: '{}', client_secret: '{}', scope: kafka}}",
            broker.oidc_token_url, client.name, client.password
        ),
    )
}

fn mtls(broker: &Broker, cert: &Path, key: &Path) -> String {
    format!(
        "{{bootstrap_servers: '{}', request_timeout: 5s, tls: {{ca_file: '{}', cert_file: '{}', key_file: '{}'}}}}",
        broker.bootstrap(Listener::Mtls),
        broker.pki.ca.display(),
        cert.display(),
        key.display()
    )
}

/// Two dedicated brokers that ask SASL clients to re-authenticate every [`REAUTH_MS`] and
/// accept no token past its expiry (no clock skew), started in parallel.
fn reauth_brokers() -> (Broker, Broker) {
    let options = |name: &str| BrokerOptions {
        name: name.into(),
        reauth_ms: Some(REAUTH_MS),
        extra_properties: vec![("sasl.oauthbearer.clock.skew.seconds".into(), "0".into())],
    };
    std::thread::scope(|s| {
        let source = s.spawn(|| k::start_dedicated(options("reauth-source")));
        let destination = s.spawn(|| k::start_dedicated(options("reauth-destination")));
        (source.join().unwrap(), destination.join().unwrap())
    })
}

/// One exporter measures four links over SCRAM, OIDC (10 s and 1 h tokens) and mTLS for
/// [`WINDOW`] while the brokers re-authenticate every SASL connection every [`REAUTH_MS`]:
/// nothing is interrupted.
#[tokio::test(flavor = "multi_thread")]
async fn measurements_go_on_across_reauthentications() {
    let begun = Instant::now();
    let (source, destination) = tokio::task::block_in_place(reauth_brokers);
    let pki = &source.pki;
    let (s, d) = (&source, &destination);
    let password = format!("'{}'", EXPORTER.password);
    let links = [
        Link::new("reauth-scram", s, d, &EXPORTER, |b| scram(b, &password)).await,
        Link::new("reauth-oidc-short", s, d, &SHORT_LIVED_CLIENT, |b| {
            oidc(b, &SHORT_LIVED_CLIENT)
        })
        .await,
        Link::new("reauth-oidc", s, d, &EXPORTER, |b| oidc(b, &EXPORTER)).await,
        Link::new("reauth-mtls", s, d, &EXPORTER, |b| {
            mtls(b, &pki.client_cert, &pki.client_key)
        })
        .await,
    ];
    let exporter = start_exporter(&exporter_yaml(&links.iter().collect::<Vec<_>>())).await;
    eventually(T, "every link measured", || async {
        let text = scrape(&exporter).await;
        let failed: Vec<String> = links.iter().filter_map(|l| l.check(&text).err()).collect();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(failed)
        }
    })
    .await;
    // Every client exists and has sent its statistics (every second).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let short_tokens = oidc::issuer().tokens_issued(SHORT_LIVED_CLIENT.name);
    let hour_tokens = oidc::issuer().tokens_issued(EXPORTER.name);
    let first = scrape(&exporter).await;
    let ready = begun.elapsed();

    let watched = Instant::now();
    let mut scrapes = 0;
    let mut last = first.clone();
    while watched.elapsed() < WINDOW {
        let text = scrape(&exporter).await;
        scrapes += 1;
        for l in &links {
            let at = watched.elapsed().as_secs_f64();
            if let Err(e) = l.check(&text) {
                panic!("scrape {scrapes} at {at:.1} s: {e}\n{}", l.lines(&text));
            }
            let (before, now) = (l.errors(&first), l.errors(&text));
            assert_eq!(
                now,
                before,
                "scrape {scrapes} at {at:.1} s: {} counted errors\n{}",
                l.name,
                l.lines(&text)
            );
        }
        last = text;
        tokio::time::sleep(SCRAPE_EVERY).await;
    }
    let window = watched.elapsed().as_secs_f64();
    let short_refreshed = oidc::issuer().tokens_issued(SHORT_LIVED_CLIENT.name) - short_tokens;
    let hour_refreshed = oidc::issuer().tokens_issued(EXPORTER.name) - hour_tokens;

    let mut report = Vec::new();
    let mut reauths = BTreeMap::new();
    for l in &links {
        let delta = |f: &dyn Fn(&str) -> f64| f(&last) - f(&first);
        let handshakes = delta(&|t| l.requests(t, "SaslHandshake"));
        let api_versions = delta(&|t| l.requests(t, "ApiVersion"));
        let cycles = delta(&|t| l.cycles(t));
        let fresh = delta(&|t| l.last_success(t));
        report.push(format!(
            "{}: {cycles} measurement cycles, last success {fresh:.1} s later, {handshakes} \
             SaslHandshake, {api_versions} ApiVersion",
            l.name
        ));
        // A cycle a second, give or take a slow one.
        assert!(
            cycles >= window * 0.6 && fresh >= window - 5.0,
            "{}: {cycles} cycles in {window:.1} s, last success moved {fresh:.1} s",
            l.name
        );
        // Re-authentication happens on the connections the clients have: no new connection
        // (a new one starts with ApiVersion).
        assert_eq!(
            api_versions,
            0.0,
            "{}: reconnected\n{}",
            l.name,
            report.join("\n")
        );
        reauths.insert(l.name, handshakes);
    }
    // Each SASL connection re-authenticates every 3 s: at least one per client connection
    // and period, several clients per link.
    let periods = window * 1000.0 / REAUTH_MS as f64;
    for (name, handshakes) in &reauths {
        if *name == "reauth-mtls" {
            assert_eq!(*handshakes, 0.0, "mTLS has no SASL session");
        } else {
            assert!(
                *handshakes >= 2.0 * (periods - 2.0),
                "{name}: {handshakes} re-authentications in {periods:.1} periods\n{}",
                report.join("\n")
            );
        }
    }
    // librdkafka refreshed the 10 s tokens before they expired (the brokers allow no skew:
    // a re-authentication with an expired token would have failed), and kept using its
    // hour-long token for the re-authentications (other tests may fetch some meanwhile).
    let lifetimes = window / SHORT_TOKEN_LIFETIME.as_secs_f64();
    assert!(
        short_refreshed as f64 >= 2.0 * (lifetimes - 1.0),
        "{short_refreshed} 10 s tokens fetched in {window:.1} s"
    );
    eprintln!(
        "kafka_reauth: ready after {:.1} s; watched {window:.1} s ({scrapes} scrapes, \
         connections.max.reauth.ms {REAUTH_MS}); 10 s tokens fetched: {short_refreshed}, hour \
         tokens fetched (whole process): {hour_refreshed}\n{}",
        ready.as_secs_f64(),
        report.join("\n")
    );
    exporter.shutdown().await;
}

/// Scrapes every 100 ms until stopped; each scrape: whether `link` was up and measured.
struct Watcher {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<Result<(), String>>>,
}

impl Watcher {
    fn start(exporter: &Exporter, link: Arc<Link>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let url = format!("http://{}/metrics", exporter.address());
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut seen = Vec::new();
            while !stopped.load(Ordering::Relaxed) {
                let text = match client.get(&url).send().await {
                    Ok(r) => r.text().await.unwrap_or_default(),
                    Err(e) => format!("scrape failed: {e}"),
                };
                seen.push(link.check(&text));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            seen
        });
        Self { stop, task }
    }

    /// Stops; panics unless every scrape had the link up and measured.
    async fn assert_untouched(self, what: &str) {
        self.stop.store(true, Ordering::Relaxed);
        let seen = self.task.await.unwrap();
        let failed: Vec<&String> = seen.iter().filter_map(|r| r.as_ref().err()).collect();
        assert!(
            seen.len() >= 10 && failed.is_empty(),
            "{what}: {} of {} scrapes without it: {failed:?}",
            failed.len(),
            seen.len()
        );
    }
}

/// `POST /-/reload`: the answer, which must be a 200.
async fn reload(exporter: &Exporter) -> String {
    let resp = reqwest::Client::new()
        .post(format!("http://{}/-/reload", exporter.address()))
        .send()
        .await
        .expect("reload request answered");
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// Reloads while `untouched` is watched: the answer must end with `plan` (`changed […],
/// unchanged […]`), and every scrape meanwhile (and for 3 s after) have `untouched` up and
/// measured: its workers and clients were not restarted (a restart withdraws its
/// `clusterlink_kafka_up` until the new measurer's first cycle).
async fn reload_changing(exporter: &Exporter, plan: &str, untouched: &Arc<Link>) {
    let watcher = Watcher::start(exporter, untouched.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let answer = reload(exporter).await;
    assert!(answer.trim_end().ends_with(plan), "{answer} (want {plan})");
    tokio::time::sleep(Duration::from_secs(3)).await;
    watcher
        .assert_untouched(&format!("{} during a reload: {answer}", untouched.name))
        .await;
}

/// Waits until `link`'s destination connection counts more `reason` errors than `before` and
/// is down; returns the count.
async fn wait_failing(exporter: &Exporter, link: &Link, reason: &str, before: f64) -> f64 {
    let labels = [
        ("kafka_cluster", link.name),
        ("connection", link.name),
        ("role", "destination"),
    ];
    let what = format!("{}: down, {reason} errors counted", link.name);
    eventually(T, &what, || async {
        let text = scrape(exporter).await;
        let up = value(&text, "clusterlink_kafka_up", &labels);
        let mut with_reason = labels.to_vec();
        with_reason.push(("reason", reason));
        let count = value(&text, "clusterlink_kafka_errors_total", &with_reason).unwrap_or(0.0);
        if up == Some(0.0) && count > before {
            Ok(count)
        } else {
            Err(format!(
                "up {up:?}, {reason} {count}\n{}",
                link.lines(&text)
            ))
        }
    })
    .await
}

async fn wait_measured(exporter: &Exporter, link: &Link) {
    eventually(T, &format!("{} measured", link.name), || async {
        let text = scrape(exporter).await;
        link.check(&text)
            .map_err(|e| format!("{e}\n{}", link.lines(&text)))
    })
    .await;
}

/// Rotated secret files and certificates are read on reload: a SCRAM password file fixed, an
/// mTLS certificate and key replaced at the same paths; only the cluster whose files changed
/// restarts, and a reload that changes nothing restarts nothing.
#[tokio::test(flavor = "multi_thread")]
async fn rotated_secrets_and_certificates_are_read_on_reload() {
    let b = k::brokers();
    let (s, d) = (&b.source, &b.destination);
    let dir = temp_dir("kafka-rotation");
    let password_file = dir.join("kafka-password");
    let (cert, key) = (dir.join("exporter.pem"), dir.join("exporter.key"));
    std::fs::write(&password_file, "not-the-password\n").unwrap();
    std::fs::copy(&d.pki.client_cert, &cert).unwrap();
    std::fs::copy(&d.pki.client_key, &key).unwrap();
    let password = format!("'{}'", EXPORTER.password);
    let from_file = format!("{{file: '{}'}}", password_file.display());
    // Only the destination connections read the rotated files: a change of a source cluster
    // restarts every cluster with a `kafka` section.
    let mut scram_link = Link::new("rot-scram", s, d, &EXPORTER, |b| scram(b, &password)).await;
    scram_link.destination = scram(d, &from_file);
    let mut mtls_link = Link::new("rot-mtls", s, d, &EXPORTER, |b| {
        mtls(b, &b.pki.client_cert, &b.pki.client_key)
    })
    .await;
    mtls_link.destination = mtls(d, &cert, &key);
    let (scram_link, mtls_link) = (Arc::new(scram_link), Arc::new(mtls_link));
    let yaml = exporter_yaml(&[&scram_link, &mtls_link]);
    let exporter = start_from(&dir.join("config.yaml"), &yaml, true).await;

    // A wrong password in the file: refused.
    wait_failing(&exporter, &scram_link, "auth", 0.0).await;
    wait_measured(&exporter, &mtls_link).await;

    // Nothing changed: nothing restarts.
    let plan = r#"changed [], unchanged ["rot-mtls", "rot-scram"]"#;
    reload_changing(&exporter, plan, &mtls_link).await;

    // The right password written to the file: read on reload, that cluster restarts.
    std::fs::write(&password_file, format!("{}\n", EXPORTER.password)).unwrap();
    let plan = r#"changed ["rot-scram"], unchanged ["rot-mtls"]"#;
    reload_changing(&exporter, plan, &mtls_link).await;
    wait_measured(&exporter, &scram_link).await;

    // Another certificate of the same CA at the same paths: the mTLS cluster restarts, the
    // other is untouched, measurements go on.
    std::fs::copy(&d.pki.rotated_client_cert, &cert).unwrap();
    std::fs::copy(&d.pki.rotated_client_key, &key).unwrap();
    let reloaded_at = cluster_link_exporter::testing::unix_ms() as f64 / 1000.0;
    let plan = r#"changed ["rot-mtls"], unchanged ["rot-scram"]"#;
    reload_changing(&exporter, plan, &scram_link).await;
    eventually(T, "rot-mtls measured after the rotation", || async {
        let text = scrape(&exporter).await;
        mtls_link.check(&text)?;
        let last = mtls_link.last_success(&text);
        if last > reloaded_at {
            Ok(())
        } else {
            Err(format!(
                "last success {last} before the reload {reloaded_at}"
            ))
        }
    })
    .await;

    // A certificate of a CA the broker does not trust at those paths: read on reload, refused.
    let text = scrape(&exporter).await;
    let labels = [
        ("kafka_cluster", "rot-mtls"),
        ("connection", "rot-mtls"),
        ("reason", "tls"),
    ];
    let tls_before = value(&text, "clusterlink_kafka_errors_total", &labels).unwrap_or(0.0);
    std::fs::copy(&d.pki.untrusted_client_cert, &cert).unwrap();
    std::fs::copy(&d.pki.untrusted_client_key, &key).unwrap();
    reload_changing(&exporter, plan, &scram_link).await;
    wait_failing(&exporter, &mtls_link, "tls", tls_before).await;

    exporter.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
