//! `--web.config.file`: the exporter served over TLS with basic auth, as exporter-toolkit
//! serves it. Right credentials get 200, missing or wrong ones 401 (counted), the health
//! endpoints included; a client certificate is required and verified with
//! `RequireAndVerifyClientCert`; a certificate rotated on disk and a changed password reach the
//! next connection without a restart; an unusable file stops the binary before it serves;
//! Debian's Prometheus scrapes it over TLS with a client certificate and basic auth (and a job
//! with a wrong password is refused with 401).
//!
//! The exporter's cluster is unreachable: the HTTP side does not need a working one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cluster_link_exporter::config::Config;
use cluster_link_exporter::WebOptions;
use cluster_link_exporter::{Exporter, ExporterOptions};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};

use crate::common::eventually::eventually;
use crate::common::scrape::value;
use crate::common::servers::{start_prometheus_with_jobs, temp_dir, Server};

const BIN: &str = env!("CARGO_BIN_EXE_cluster-link-exporter");

/// A cluster nothing listens for, polled rarely.
const UNREACHABLE: &str = "clusters:\n  - {name: dr, rest_url: 'http://127.0.0.1:1/kafka/v3', \
                           cluster_id: c1, poll_interval: 60s}\n";

/// How long anything should take at most on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(30);

/// A CA able to sign server and client certificates.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key, PEM.
struct Leaf {
    cert: String,
    key: String,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    fn leaf(&self, name: &str, usage: ExtendedKeyUsagePurpose) -> Leaf {
        let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    fn server(&self) -> Leaf {
        self.leaf("localhost", ExtendedKeyUsagePurpose::ServerAuth)
    }

    fn client(&self) -> Leaf {
        self.leaf("prometheus", ExtendedKeyUsagePurpose::ClientAuth)
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A web config with TLS from `server.crt`/`server.key` in its folder, then `extra`.
fn web_yaml(extra: &str) -> String {
    format!("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n{extra}")
}

async fn start(web_config: &Path) -> Exporter {
    let web = WebOptions {
        web_config_file: Some(web_config.to_owned()),
        ..WebOptions::default()
    };
    Exporter::start(ExporterOptions::new(Config::from_yaml(UNREACHABLE).unwrap()).web(web))
        .await
        .expect("exporter starts")
}

/// A client trusting only `ca` (PEM), presenting `identity` if given; one connection per
/// request, so each request sees the configuration on disk.
fn client(ca: &str, identity: Option<&Leaf>) -> reqwest::Client {
    cluster_link_exporter::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0);
    for cert in reqwest::Certificate::from_pem_bundle(ca.as_bytes()).unwrap() {
        builder = builder.add_root_certificate(cert);
    }
    if let Some(leaf) = identity {
        let pem = format!("{}\n{}", leaf.cert, leaf.key);
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

/// Status and `X-Frame-Options` of a GET, or the error's text.
async fn get(
    client: &reqwest::Client,
    url: &str,
    user: Option<(&str, &str)>,
) -> Result<(u16, Option<String>, Option<String>), String> {
    let mut request = client.get(url);
    if let Some((user, password)) = user {
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().await.map_err(|e| format!("{e:?}"))?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let frame = header("x-frame-options");
    let www = header("www-authenticate");
    Ok((response.status().as_u16(), frame, www))
}

/// Status of a POST, or the error's text.
async fn post_status(
    client: &reqwest::Client,
    url: &str,
    user: Option<(&str, &str)>,
) -> Result<u16, String> {
    let mut request = client.post(url);
    if let Some((user, password)) = user {
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().await.map_err(|e| format!("{e:?}"))?;
    Ok(response.status().as_u16())
}

fn own_value(exporter: &Exporter, name: &str) -> f64 {
    value(&exporter.exposition().render(), name, &[])
        .unwrap_or_else(|| panic!("{name} is not served"))
}

#[tokio::test]
async fn https_with_basic_auth_admits_the_right_credentials_and_counts_the_others() {
    let dir = temp_dir("web-config-auth");
    let ca = Ca::new("web-config test CA");
    let server = ca.server();
    write(&dir, "server.crt", &server.cert);
    write(&dir, "server.key", &server.key);
    let hash = bcrypt::hash("right", 4).unwrap();
    let file = write(
        &dir,
        "web.yml",
        &web_yaml(&format!(
            "basic_auth_users:\n  alice: {hash}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"
        )),
    );
    let exporter = start(&file).await;
    let base = format!("https://localhost:{}", exporter.address().port());
    let client = client(&ca.pem(), None);
    assert_eq!(
        own_value(&exporter, "clusterlink_http_requests_unauthorized_total"),
        0.0
    );

    let ok = get(
        &client,
        &format!("{base}/metrics"),
        Some(("alice", "right")),
    )
    .await;
    assert_eq!(
        ok,
        Ok((200, Some("deny".into()), None)),
        "right credentials"
    );
    let refused = Ok((401, Some("deny".into()), Some("Basic".into())));
    for (path, user) in [
        ("/metrics", None),
        ("/metrics", Some(("alice", "wrong"))),
        ("/metrics", Some(("mallory", "right"))),
        ("/-/healthy", None),
        ("/", None),
        ("/status.json", None),
    ] {
        let got = get(&client, &format!("{base}{path}"), user).await;
        assert_eq!(got, refused, "{path} as {user:?}");
    }
    let healthy = get(
        &client,
        &format!("{base}/-/healthy"),
        Some(("alice", "right")),
    )
    .await;
    assert_eq!(healthy.map(|r| r.0), Ok(200));
    // /-/reload sits behind the same protection: refused without credentials (counted), and
    // with them it gets as far as the lifecycle check (403: this exporter runs without
    // --web.enable-lifecycle).
    let reload = format!("{base}/-/reload");
    assert_eq!(post_status(&client, &reload, None).await, Ok(401));
    assert_eq!(
        post_status(&client, &reload, Some(("alice", "right"))).await,
        Ok(403)
    );
    assert_eq!(
        own_value(&exporter, "clusterlink_http_requests_unauthorized_total"),
        7.0,
        "each of the 7 refused requests above"
    );

    let plain = get(
        &client,
        &format!("http://127.0.0.1:{}/metrics", exporter.address().port()),
        Some(("alice", "right")),
    )
    .await;
    assert!(
        plain.is_err() || plain.as_ref().is_ok_and(|r| r.0 == 400),
        "plain HTTP is not served: {plain:?}"
    );
    exporter.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn require_and_verify_client_cert_admits_only_certificates_of_the_client_ca() {
    let dir = temp_dir("web-config-mtls");
    let ca = Ca::new("web-config server CA");
    let client_ca = Ca::new("web-config client CA");
    let stranger_ca = Ca::new("someone else's CA");
    let server = ca.server();
    write(&dir, "server.crt", &server.cert);
    write(&dir, "server.key", &server.key);
    write(&dir, "clients.crt", &client_ca.pem());
    let file = write(
        &dir,
        "web.yml",
        &web_yaml(
            "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: clients.crt\n",
        ),
    );
    let exporter = start(&file).await;
    let url = format!("https://localhost:{}/metrics", exporter.address().port());

    let admitted = get(&client(&ca.pem(), Some(&client_ca.client())), &url, None).await;
    assert_eq!(
        admitted.map(|r| r.0),
        Ok(200),
        "a certificate of the client CA"
    );
    let anonymous = get(&client(&ca.pem(), None), &url, None).await;
    assert!(anonymous.is_err(), "no certificate: {anonymous:?}");
    let stranger = get(&client(&ca.pem(), Some(&stranger_ca.client())), &url, None).await;
    assert!(
        stranger.is_err(),
        "a certificate of another CA: {stranger:?}"
    );
    eventually(DEADLINE, "both refused handshakes counted", || {
        let errors = own_value(&exporter, "clusterlink_http_tls_handshake_errors_total");
        std::future::ready(if errors == 2.0 { Ok(()) } else { Err(errors) })
    })
    .await;
    exporter.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_rotated_certificate_and_a_changed_password_reach_the_next_connection() {
    let dir = temp_dir("web-config-rotation");
    let (old_ca, new_ca) = (Ca::new("old CA"), Ca::new("new CA"));
    let old = old_ca.server();
    write(&dir, "server.crt", &old.cert);
    write(&dir, "server.key", &old.key);
    let users = |password: &str| {
        let hash = bcrypt::hash(password, 4).unwrap();
        web_yaml(&format!("basic_auth_users:\n  alice: {hash}\n"))
    };
    let file = write(&dir, "web.yml", &users("first"));
    let exporter = start(&file).await;
    let url = format!("https://localhost:{}/metrics", exporter.address().port());
    let first = get(&client(&old_ca.pem(), None), &url, Some(("alice", "first"))).await;
    assert_eq!(first.map(|r| r.0), Ok(200), "the certificate at start");

    let new = new_ca.server();
    write(&dir, "server.key", &new.key);
    write(&dir, "server.crt", &new.cert);
    eventually(DEADLINE, "the new certificate served", || {
        let url = url.clone();
        let pem = new_ca.pem();
        async move {
            match get(&client(&pem, None), &url, Some(("alice", "first"))).await {
                Ok(r) if r.0 == 200 => Ok(()),
                other => Err(other),
            }
        }
    })
    .await;
    let old_trust = get(&client(&old_ca.pem(), None), &url, Some(("alice", "first"))).await;
    assert!(
        old_trust.is_err(),
        "the old certificate is no longer served: {old_trust:?}"
    );

    write(&dir, "web.yml", &users("second"));
    let new_client = client(&new_ca.pem(), None);
    let changed = get(&new_client, &url, Some(("alice", "first"))).await;
    assert_eq!(
        changed.map(|r| r.0),
        Ok(401),
        "the old password after the change"
    );
    let second = get(&new_client, &url, Some(("alice", "second"))).await;
    assert_eq!(second.map(|r| r.0), Ok(200), "the new password");
    exporter.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs the binary to its end; kills it and panics if it is still running after [`DEADLINE`]
/// (an exporter that started serving).
/// Plain HTTP to the TLS port is answered `400` as Go's servers do, counted as a failed
/// handshake; the port still serves TLS.
#[tokio::test(flavor = "multi_thread")]
async fn plain_http_to_the_tls_port_is_answered_400() {
    use std::io::{Read, Write};
    let dir = temp_dir("web-config-plain-http");
    let ca = Ca::new("web-config test CA");
    let server = ca.server();
    write(&dir, "server.crt", &server.cert);
    write(&dir, "server.key", &server.key);
    let exporter = start(&write(&dir, "web.yml", &web_yaml(""))).await;
    let port = exporter.address().port();
    let answer = tokio::task::spawn_blocking(move || {
        let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_read_timeout(Some(DEADLINE)).unwrap();
        tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).unwrap();
        answer
    })
    .await
    .unwrap();
    assert_eq!(
        answer,
        "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
    );
    eventually(DEADLINE, "the plain HTTP connection counted", || {
        let errors = own_value(&exporter, "clusterlink_http_tls_handshake_errors_total");
        std::future::ready(if errors == 1.0 { Ok(()) } else { Err(errors) })
    })
    .await;
    let url = format!("https://localhost:{port}/-/healthy");
    let healthy = get(&client(&ca.pem(), None), &url, None).await;
    assert_eq!(healthy.map(|(status, _, _)| status), Ok(200));
    exporter.shutdown().await;
    std::fs::remove_dir_all(dir).ok();
}

fn run_to_end(cmd: &mut Command) -> std::process::Output {
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the binary");
    let started = std::time::Instant::now();
    while child.try_wait().expect("wait for the binary").is_none() {
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect its output");
            panic!("still running: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("collect its output")
}

#[test]
fn check_config_reports_the_web_config_and_an_unusable_one_stops_the_binary_before_it_serves() {
    let dir = temp_dir("web-config-cli");
    let config = write(&dir, "config.yml", UNREACHABLE);
    let cases = [
        (
            "unknown.yml",
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  clientauth: x\n",
            "tls_server_config.clientauth",
        ),
        (
            "missing-cert.yml",
            "tls_server_config:\n  cert_file: absent.crt\n  key_file: server.key\n",
            "tls_server_config.cert_file",
        ),
        (
            "hash.yml",
            "basic_auth_users:\n  alice: not-a-hash\n",
            "basic_auth_users.alice",
        ),
    ];
    let ca = Ca::new("cli CA");
    let server = ca.server();
    write(&dir, "server.crt", &server.cert);
    write(&dir, "server.key", &server.key);
    let hash = bcrypt::hash("pw", 4).unwrap();
    let good = write(
        &dir,
        "good.yml",
        &web_yaml(&format!("basic_auth_users:\n  a: {hash}\n")),
    );
    let mut cmd = Command::new(BIN);
    cmd.arg("--config")
        .arg(&config)
        .arg("--web.config.file")
        .arg(&good);
    let out = run_to_end(cmd.arg("check-config"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("web config OK: TLS, basic auth"),
        "{stdout}"
    );
    for (name, text, key) in cases {
        let web = write(&dir, name, text);
        for subcommand in [None, Some("check-config")] {
            let mut cmd = Command::new(BIN);
            cmd.arg("--config")
                .arg(&config)
                .arg("--web.config.file")
                .arg(&web);
            cmd.arg("--web.listen-address=127.0.0.1:0");
            cmd.args(subcommand);
            let out = run_to_end(&mut cmd);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{name} {subcommand:?}: {stderr}"
            );
            assert!(
                stderr.contains(key),
                "{name} {subcommand:?} names {key}: {stderr}"
            );
            assert!(!stderr.contains("serving"), "{name}: {stderr}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The health of each of Prometheus' targets by job, with its last error.
async fn targets(prometheus: &Server, client: &reqwest::Client) -> Vec<(String, String, String)> {
    let data = prometheus.api(client, "/api/v1/targets").await;
    let active = data
        .as_ref()
        .and_then(|d| d["activeTargets"].as_array().cloned());
    active
        .unwrap_or_default()
        .iter()
        .map(|t| {
            let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
            (
                text(&t["labels"]["job"]),
                text(&t["health"]),
                text(&t["lastError"]),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scrapes_over_tls_with_a_client_certificate_and_basic_auth() {
    let dir = temp_dir("web-config-prometheus");
    let (ca, client_ca) = (Ca::new("exporter CA"), Ca::new("scraper CA"));
    let server = ca.server();
    write(&dir, "server.crt", &server.cert);
    write(&dir, "server.key", &server.key);
    write(&dir, "clients.crt", &client_ca.pem());
    let hash = bcrypt::hash("scrape-secret", 4).unwrap();
    let file = write(
        &dir,
        "web.yml",
        &web_yaml(&format!(
            "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: clients.crt\n\
             basic_auth_users:\n  prometheus: {hash}\n"
        )),
    );
    let exporter = start(&file).await;
    let target = format!("127.0.0.1:{}", exporter.address().port());
    let job = |name: &str, password: &str| {
        format!(
            "  - job_name: {name}\n    scheme: https\n    tls_config:\n      ca_file: ca.crt\n      \
             cert_file: client.crt\n      key_file: client.key\n      server_name: localhost\n    \
             basic_auth:\n      username: prometheus\n      password: {password}\n    \
             static_configs:\n      - targets: ['{target}']\n"
        )
    };
    let scraper = client_ca.client();
    let jobs = format!(
        "{}{}",
        job("right", "scrape-secret"),
        job("wrong", "not-the-secret")
    );
    let ca_pem = ca.pem();
    let files = [
        ("ca.crt", ca_pem.as_str()),
        ("client.crt", scraper.cert.as_str()),
        ("client.key", scraper.key.as_str()),
    ];
    let prometheus = start_prometheus_with_jobs(&jobs, &files);
    let api = reqwest::Client::new();
    let states = eventually(Duration::from_secs(60), "both targets scraped", || async {
        prometheus.assert_running();
        let t = targets(&prometheus, &api).await;
        let scraped = t.len() == 2 && t.iter().all(|(_, health, _)| health != "unknown");
        if scraped {
            Ok(t)
        } else {
            Err(format!("{t:?}\n{}", prometheus.log()))
        }
    })
    .await;
    let right = states.iter().find(|t| t.0 == "right").expect("job right");
    assert_eq!(
        (right.1.as_str(), right.2.as_str()),
        ("up", ""),
        "{states:?}"
    );
    let wrong = states.iter().find(|t| t.0 == "wrong").expect("job wrong");
    assert!(wrong.1 == "down" && wrong.2.contains("401"), "{states:?}");
    assert!(own_value(&exporter, "clusterlink_http_requests_unauthorized_total") >= 1.0);
    exporter.shutdown().await;
    drop(prometheus);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn each_client_auth_type_admits_the_certificates_it_should() {
    let ca = Ca::new("server CA");
    let client_ca = Ca::new("client CA");
    let stranger_ca = Ca::new("stranger CA");
    let (trusted, stranger) = (client_ca.client(), stranger_ca.client());
    // (client_auth_type, admitted: without a certificate, with the client CA's, with another's)
    let cases = [
        ("NoClientCert", [true, true, true]),
        ("RequestClientCert", [true, true, true]),
        ("RequireAnyClientCert", [false, true, true]),
        ("VerifyClientCertIfGiven", [true, true, false]),
        ("RequireAndVerifyClientCert", [false, true, false]),
    ];
    for (auth, expected) in cases {
        let dir = temp_dir("web-config-client-auth");
        let server = ca.server();
        write(&dir, "server.crt", &server.cert);
        write(&dir, "server.key", &server.key);
        write(&dir, "clients.crt", &client_ca.pem());
        let verifies = auth.starts_with("Verify") || auth.starts_with("RequireAnd");
        let ca_line = if verifies {
            "  client_ca_file: clients.crt\n"
        } else {
            ""
        };
        let file = write(
            &dir,
            "web.yml",
            &web_yaml(&format!("  client_auth_type: {auth}\n{ca_line}")),
        );
        let exporter = start(&file).await;
        let url = format!("https://localhost:{}/-/healthy", exporter.address().port());
        let mut admitted = [false; 3];
        for (i, identity) in [None, Some(&trusted), Some(&stranger)]
            .into_iter()
            .enumerate()
        {
            let got = get(&client(&ca.pem(), identity), &url, None).await;
            admitted[i] = got.is_ok_and(|r| r.0 == 200);
        }
        assert_eq!(
            admitted, expected,
            "{auth}: none, client CA's, another CA's"
        );
        exporter.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
