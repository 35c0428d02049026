//! Issue 9, sections 2 and 3, end to end against a scriptable loopback upstream: credentials
//! never leave `rest_url`'s origin (neither through `metadata.next` nor through a redirect),
//! errors are classified by type, bodies are capped, and hostile bodies and headers end in a
//! classified error — the collector survives them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common;
use crate::common::scrape::{start_exporter, wait_value};
use crate::common::upstream::{Recorded, Reply, Upstream};
use cluster_link_exporter::config::Config;
use cluster_link_exporter::testing::ClusterSnapshot;
use cluster_link_exporter::testing::RestError;
use cluster_link_exporter::testing::{Collector, CollectorOutputs};

const KEY: &str = "KEY123";
const SECRET: &str = "s3cr3t-API-secret";
/// `KEY123:s3cr3t-API-secret` in base64, as it travels in `Authorization: Basic`.
const BASIC: &str = "S0VZMTIzOnMzY3IzdC1BUEktc2VjcmV0";
const LINKS: &str = "/kafka/v3/clusters/c1/links";

/// The exporter's configuration of cluster `dr` on `rest_url`, with Basic credentials.
fn yaml(rest_url: &str, extra: &str) -> String {
    format!(
        "defaults: {{request_timeout: 5s, poll_interval: 200ms}}\nclusters:\n  - name: dr\n    rest_url: {rest_url}\n    cluster_id: c1\n    auth: {{type: basic, username: {KEY}, password: {SECRET}}}\n{extra}"
    )
}

fn collector(yaml: &str) -> Collector {
    let config = Config::from_yaml(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let cluster = config.clusters[0].clone();
    Collector::new(cluster, CollectorOutputs::detached()).expect("collector builds")
}

/// A healthy API with one link `ab` and no mirror topic; `links` answers the links list.
fn api(links: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> common::upstream::Responder {
    Arc::new(move |r: &Recorded| {
        let target = r.target();
        if target.starts_with(LINKS) && !target.starts_with(&format!("{LINKS}/")) {
            links(r)
        } else if target.contains("/configs") || target.contains("/mirrors") {
            Reply::json(200, r#"{"data":[]}"#)
        } else {
            Reply::json(
                200,
                r#"{"link_name":"ab","link_state":"ACTIVE","tasks":[]}"#,
            )
        }
    })
}

fn one_link(next: Option<&str>) -> String {
    let next = next.map_or("null".to_owned(), |n| format!("{n:?}"));
    format!(r#"{{"metadata":{{"next":{next}}},"data":[{{"link_name":"ab"}}]}}"#)
}

/// Everything the `tracing` subscriber of the current thread writes.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Captures this thread's log lines (a current-thread test runtime: every task).
    fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The cycle failed with reason `cross_origin`, naming `origin`, and the log named it too.
fn assert_refused(result: Result<ClusterSnapshot, RestError>, origin: &str, logs: &Logs) {
    let e = result.expect_err("the cycle fails");
    assert_eq!(e.reason(), "cross_origin", "{e}");
    assert!(e.to_string().contains(origin), "{e}");
    let text = logs.text();
    assert!(
        text.lines()
            .any(|l| l.contains("WARN") && l.contains(&format!("refused_origin={origin}"))),
        "no warn line naming {origin}:\n{text}"
    );
    assert!(!text.contains(SECRET) && !text.contains(BASIC), "{text}");
    assert!(!e.to_string().contains(SECRET) && !format!("{e:?}").contains(BASIC));
}

#[tokio::test]
async fn metadata_next_to_another_origin_is_refused_and_nothing_is_sent_there() {
    let elsewhere = Upstream::recorder().await;
    let port = elsewhere.addr.port();
    for (next, origin) in [
        (
            format!("{}{LINKS}?page=2", elsewhere.origin()),
            elsewhere.origin(),
        ),
        // Scheme-relative: another host and port.
        (
            format!("//127.0.0.1:{port}{LINKS}?page=2"),
            elsewhere.origin(),
        ),
    ] {
        let (logs, _guard) = Logs::capture();
        let next_page = next.clone();
        let api = Upstream::start(api(move |_| Reply::json(200, one_link(Some(&next_page))))).await;
        let mut c = collector(&yaml(&format!("{}/kafka/v3", api.origin()), ""));
        assert_refused(c.collect_once().await, &origin, &logs);
        assert_eq!(
            elsewhere.connections(),
            0,
            "{next}: something was sent there"
        );
        // There was a credential to leak: the first page had it.
        let asked = api.requests();
        assert_eq!(asked.len(), 1, "{asked:?}");
        assert_eq!(
            asked[0].header("authorization"),
            Some(&*format!("Basic {BASIC}"))
        );
    }
}

#[tokio::test]
async fn metadata_next_on_the_same_host_but_another_scheme_or_name_is_refused() {
    let (logs, _guard) = Logs::capture();
    let api_next = Arc::new(Mutex::new(String::new()));
    let n = api_next.clone();
    let api = Upstream::start(api(move |_| {
        Reply::json(200, one_link(Some(&n.lock().unwrap())))
    }))
    .await;
    let port = api.addr.port();
    for (next, origin) in [
        (
            format!("https://127.0.0.1:{port}{LINKS}?page=2"),
            format!("https://127.0.0.1:{port}"),
        ),
        (
            format!("http://localhost:{port}{LINKS}?page=2"),
            format!("http://localhost:{port}"),
        ),
    ] {
        *api_next.lock().unwrap() = next;
        let before = api.requests().len();
        let mut c = collector(&yaml(&format!("{}/kafka/v3", api.origin()), ""));
        assert_refused(c.collect_once().await, &origin, &logs);
        assert_eq!(
            api.requests().len(),
            before + 1,
            "only the first page was requested"
        );
    }
}

#[tokio::test]
async fn relative_metadata_next_is_followed_on_the_same_origin() {
    for next in [format!("{LINKS}?page=2"), "links?page=2".to_owned()] {
        let next_page = next.clone();
        let api = Upstream::start(api(move |r| {
            if r.target().ends_with("page=2") {
                Reply::json(200, one_link(None))
            } else {
                Reply::json(
                    200,
                    format!(r#"{{"metadata":{{"next":{next_page:?}}},"data":[]}}"#),
                )
            }
        }))
        .await;
        let mut c = collector(&yaml(&format!("{}/kafka/v3", api.origin()), ""));
        let data = c
            .collect_once()
            .await
            .unwrap_or_else(|e| panic!("{next}: {e}"));
        assert_eq!(data.links.len(), 1, "{next}: the link on page 2");
        let page2 = api
            .requests()
            .into_iter()
            .find(|r| r.target() == format!("{LINKS}?page=2"))
            .unwrap_or_else(|| panic!("{next}: page 2 not requested"));
        assert_eq!(
            page2.header("authorization"),
            Some(&*format!("Basic {BASIC}"))
        );
    }
}

#[tokio::test]
async fn redirects_to_another_origin_are_not_followed() {
    let elsewhere = Upstream::recorder().await;
    for status in [301, 302, 303, 307, 308] {
        let (logs, _guard) = Logs::capture();
        let location = format!("{}{LINKS}", elsewhere.origin());
        let api = Upstream::start(api(move |_| Reply::redirect(status, &location))).await;
        let mut c = collector(&yaml(&format!("{}/kafka/v3", api.origin()), ""));
        assert_refused(c.collect_once().await, &elsewhere.origin(), &logs);
        assert_eq!(elsewhere.connections(), 0, "HTTP {status}: followed");
    }
}

#[tokio::test]
async fn redirects_on_the_same_origin_are_followed_a_few_times() {
    let up = Upstream::start(api(|r| {
        if r.target().ends_with("moved=1") {
            Reply::json(200, one_link(None))
        } else {
            Reply::redirect(307, &format!("{LINKS}?moved=1"))
        }
    }))
    .await;
    let mut c = collector(&yaml(&format!("{}/kafka/v3", up.origin()), ""));
    let data = c.collect_once().await.expect("followed on the same origin");
    assert_eq!(data.links.len(), 1);

    // A redirect loop ends, as an error.
    let up = Upstream::start(api(|_| Reply::redirect(302, LINKS))).await;
    let mut c = collector(&yaml(&format!("{}/kafka/v3", up.origin()), ""));
    let e = c.collect_once().await.expect_err("a loop fails");
    assert_eq!(e.reason(), "other", "{e}");
    assert!(up.requests().len() <= 7, "{} requests", up.requests().len());
    // A redirect without a Location is an error too, not a 4xx.
    let up = Upstream::start(api(|_| Reply::json(302, ""))).await;
    let mut c = collector(&yaml(&format!("{}/kafka/v3", up.origin()), ""));
    let e = c.collect_once().await.expect_err("fails");
    assert_eq!(e.reason(), "other", "{e}");
}

#[tokio::test]
async fn tls_in_a_url_does_not_make_a_connection_failure_a_tls_error() {
    // A refused connection, "tls" in the path (and so in the error's text).
    let port = common::servers::free_port();
    let mut c = collector(&yaml(&format!("http://127.0.0.1:{port}/tls/kafka/v3"), ""));
    let e = c.collect_once().await.expect_err("refused");
    assert_eq!(e.reason(), "connect", "{e}");
    // A host name with "tls" in it that does not resolve (.invalid never does).
    let mut c = collector(&yaml(
        &format!("http://kafka-tls.invalid:{port}/kafka/v3"),
        "",
    ));
    let e = c.collect_once().await.expect_err("unresolvable");
    assert_eq!(e.reason(), "connect", "{e}");
}

#[tokio::test]
async fn bodies_over_max_response_bytes_are_decode_errors_naming_the_limit() {
    let big = format!(
        r#"{{"data":[{}]}}"#,
        vec![r#"{"link_name":"ab"}"#; 100].join(",")
    );
    assert!(big.len() > 1024);
    let small_page = |next: Option<&str>| {
        format!(
            r#"{{"metadata":{{"next":{}}},"data":[{}]}}"#,
            next.map_or("null".into(), |n| format!("{n:?}")),
            vec![r#"{"link_name":"ab"}"#; 30].join(",")
        )
    };
    assert!(small_page(None).len() < 1024 && small_page(None).len() * 2 > 1024);
    let cases: Vec<(&str, common::upstream::Responder)> = vec![
        (
            "with Content-Length",
            api(move |_| Reply::json(200, big.clone())),
        ),
        ("until close", {
            let body = format!("{}{}", " ".repeat(2000), r#"{"data":[]}"#);
            api(move |_| Reply {
                no_length: true,
                ..Reply::json(200, body.clone())
            })
        }),
        (
            "a Content-Length claim alone",
            api(|_| Reply {
                claimed_length: Some(1 << 40),
                ..Reply::json(200, r#"{"data":[]}"#)
            }),
        ),
        ("two pages together", {
            api(move |r| {
                if r.target().ends_with("page=2") {
                    Reply::json(200, small_page(None))
                } else {
                    Reply::json(200, small_page(Some(&format!("{LINKS}?page=2"))))
                }
            })
        }),
    ];
    for (what, responder) in cases {
        let api = Upstream::start(responder).await;
        let mut c = collector(&yaml(
            &format!("{}/kafka/v3", api.origin()),
            "    max_response_bytes: 1024\n",
        ));
        let e = c.collect_once().await.expect_err(what);
        assert_eq!(e.reason(), "decode", "{what}: {e}");
        assert!(
            e.to_string().contains("max_response_bytes (1024 bytes"),
            "{what}: {e}"
        );
    }
    // An error page is read only as far as its message needs, whatever its size.
    let page = format!("<html>upstream down{}", " ".repeat(1 << 20));
    let api_ = Upstream::start(api(move |_| Reply::json(503, page.clone()))).await;
    let mut c = collector(&yaml(&format!("{}/kafka/v3", api_.origin()), ""));
    let e = c.collect_once().await.expect_err("503");
    assert_eq!(e.reason(), "http_5xx", "{e}");
    assert!(e.to_string().contains("<html>upstream down"), "{e}");
    // Under the limit, the same API is fine.
    let api = Upstream::start(api(|_| Reply::json(200, one_link(None)))).await;
    let mut c = collector(&yaml(
        &format!("{}/kafka/v3", api.origin()),
        "    max_response_bytes: 1024\n",
    ));
    c.collect_once().await.expect("under the limit");
}

#[tokio::test]
async fn hostile_bodies_are_classified_decode_errors() {
    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    // In an unknown field, serde_json skips nesting without recursing: data.
    let api_ = Upstream::start(api(move |_| {
        Reply::json(200, format!(r#"{{"data":[],"x":{}}}"#, nested(100_000)))
    }))
    .await;
    let mut c = collector(&yaml(&format!("{}/kafka/v3", api_.origin()), ""));
    assert!(c.collect_once().await.is_ok());
    let deep = format!(
        r#"{{"data":[{{"link_name":"a","topic_names":{}}}]}}"#,
        nested(100_000)
    );
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("nested 100,000 deep in a typed field", deep.into_bytes()),
        (
            "not UTF-8",
            b"{\"data\":[{\"link_name\":\"a\xff\xfe\"}]}".to_vec(),
        ),
        (
            "duplicate keys",
            br#"{"data":[{"link_name":"a","link_name":"b"}]}"#.to_vec(),
        ),
        ("wrong types", br#"{"data":[{"link_name":7}]}"#.to_vec()),
        ("truncated", br#"{"data":[{"link_na"#.to_vec()),
        ("HTML", b"<html><title>Error</title></html>".to_vec()),
    ];
    for (what, body) in bodies {
        let api = Upstream::start(api(move |_| Reply {
            body: body.clone(),
            ..Reply::json(200, "")
        }))
        .await;
        let mut c = collector(&yaml(&format!("{}/kafka/v3", api.origin()), ""));
        let e = c.collect_once().await.expect_err(what);
        assert_eq!(e.reason(), "decode", "{what}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_with_a_retry_after_before_1970_backs_off_and_collection_goes_on() {
    let api = Upstream::start(Arc::new(|_| {
        Reply::json(429, "<html>slow down</html>")
            .with_header("retry-after", b"Thu, 01 Jan 1960 00:00:00 GMT")
    }))
    .await;
    let exporter = start_exporter(&yaml(&format!("{}/kafka/v3", api.origin()), "")).await;
    // The collector task panicked on the first 429; now it backs off (1 s, then 2 s) and
    // keeps collecting.
    wait_value(
        &exporter,
        "clusterlink_collection_errors_total",
        &[("kafka_cluster", "dr"), ("reason", "rate_limited")],
        Duration::from_secs(40),
        |v| v >= 3.0,
    )
    .await;
    exporter.shutdown().await;
}

/// An API with link `ab` whose one mirror topic `orders` is `PENDING_STOPPED` (so a cycle
/// reads its transition errors); `mirror` answers that single-mirror GET.
fn api_in_transition(
    mirror: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
) -> common::upstream::Responder {
    Arc::new(move |r: &Recorded| {
        let target = r.target();
        if target.contains("include_state_transition_errors=true") {
            mirror(r)
        } else if target.contains("/links/-/mirrors") {
            Reply::json(
                200,
                r#"{"data":[{"link_name":"ab","mirror_topic_name":"orders","mirror_status":"PENDING_STOPPED","mirror_lags":[]}]}"#,
            )
        } else if target.contains("/configs") {
            Reply::json(200, r#"{"data":[]}"#)
        } else if target.starts_with(LINKS) && !target.starts_with(&format!("{LINKS}/")) {
            Reply::json(200, one_link(None))
        } else {
            Reply::json(
                200,
                r#"{"link_name":"ab","link_state":"ACTIVE","tasks":[]}"#,
            )
        }
    })
}

/// The single-mirror GET of transition errors keeps every check of the other requests: a
/// redirect elsewhere is refused (nothing sent there), a body over the cap is a decode error,
/// garbage is a decode error; a 404 (deleted since listed) leaves the mirror topic out.
#[tokio::test]
async fn transition_error_reads_keep_the_origin_the_cap_and_the_error_classes() {
    let elsewhere = Upstream::recorder().await;
    let (logs, _guard) = Logs::capture();
    let location = format!("{}/x", elsewhere.origin());
    let api = Upstream::start(api_in_transition(move |_| Reply::redirect(302, &location))).await;
    let mut c = collector(&yaml(&format!("{}/kafka/v3", api.origin()), ""));
    assert_refused(c.collect_once().await, &elsewhere.origin(), &logs);
    assert_eq!(elsewhere.connections(), 0, "followed");

    let huge = format!(
        r#"{{"link_name":"ab","mirror_topic_name":"orders","mirror_state_transition_errors":[{{"error_code":"X","error_message":"{}"}}]}}"#,
        "x".repeat(200_000)
    );
    let api = Upstream::start(api_in_transition(move |_| Reply::json(200, huge.clone()))).await;
    let mut c = collector(&yaml(
        &format!("{}/kafka/v3", api.origin()),
        "    max_response_bytes: 65536\n",
    ));
    let e = c.collect_once().await.expect_err("over the cap");
    assert_eq!(e.reason(), "decode", "{e}");
    assert!(e.to_string().contains("max_response_bytes"), "{e}");

    let api = Upstream::start(api_in_transition(|_| Reply::json(200, "{\"link_na"))).await;
    let mut c = collector(&yaml(&format!("{}/kafka/v3", api.origin()), ""));
    let e = c.collect_once().await.expect_err("truncated body");
    assert_eq!(e.reason(), "decode", "{e}");

    let api = Upstream::start(api_in_transition(|_| {
        Reply::json(
            404,
            r#"{"error_code":40403,"message":"not a mirror topic"}"#,
        )
    }))
    .await;
    let mut c = collector(&yaml(&format!("{}/kafka/v3", api.origin()), ""));
    let snapshot = c.collect_once().await.expect("a 404 is no error");
    assert_eq!(snapshot.links.len(), 1);
    assert!(
        snapshot.mirrors.is_empty(),
        "deleted since listed: left out"
    );

    let api = Upstream::start(api_in_transition(|_| {
        Reply::json(
            200,
            r#"{"link_name":"ab","mirror_topic_name":"orders","mirror_state_transition_errors":[{"error_code":"INTERNAL_ERROR","error_message":"boom"}]}"#,
        )
    }))
    .await;
    let mut c = collector(&yaml(&format!("{}/kafka/v3", api.origin()), ""));
    let snapshot = c.collect_once().await.expect("read");
    let errors = snapshot.mirrors[0]
        .transition_errors
        .as_ref()
        .expect("read");
    assert_eq!(errors.count, 1);
    assert_eq!(errors.details[0].code, "INTERNAL_ERROR");
}
