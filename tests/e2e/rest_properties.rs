//! Property tests of issue 9, section 2: generated and mutated REST bodies and headers — the
//! parsers alone, `retry_after` alone, and whole collection cycles against a loopback upstream
//! serving them — always end in data or a classified error, never a panic; what is rendered
//! from the data never has a negative lag or partition count; and nothing is ever sent to
//! another origin. Seeds of faults found are kept in `proptest-regressions/rest_properties/`.

use std::sync::Arc;
use std::time::Duration;

use crate::common::upstream::{Recorded, Reply, Upstream};
use cluster_link_exporter::config::{Auth, ClusterConfig, SecretString};
use cluster_link_exporter::testing::Telemetry;
use cluster_link_exporter::testing::{
    decode_link, decode_link_config, decode_mirror, retry_after, MAX_RETRY_AFTER,
};
use cluster_link_exporter::testing::{ClusterSnapshot, Publish};
use cluster_link_exporter::testing::{Collector, CollectorOutputs, RateLimitBackoff};
use cluster_link_exporter::CollectionErrorReason;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{json, Map, Value};

/// Stands for the second (recording) upstream's origin in generated values; the API
/// upstream replaces it with the real one when answering.
const ELSEWHERE: &str = "http://elsewhere.test";

/// `cases` per run, and the seeds of failures kept in `proptest-regressions/<file>` (one file
/// per test: a seed means something only to its own test's strategy).
fn config(cases: u32, file: &'static str) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(file))),
        ..ProptestConfig::default()
    }
}

// ---- generated JSON ----

/// Integers where overflow and sign bugs live, and some of the wrong size for the field.
fn int() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(json!(i64::MIN)),
        Just(json!(i64::MAX)),
        Just(json!(i32::MAX)),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(u64::MAX)),
        (-300i64..300).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
    ]
    .boxed()
}

/// A value of some other type.
fn junk() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        "[a-z]{0,4}".prop_map(Value::from),
        Just(json!(1.5)),
        Just(json!([])),
        Just(json!({})),
    ]
    .boxed()
}

/// Mostly the right kind of value, sometimes absent or of another type.
fn field(s: BoxedStrategy<Value>) -> BoxedStrategy<Option<Value>> {
    prop_oneof![12 => s.prop_map(Some), 1 => Just(None), 1 => junk().prop_map(Some)].boxed()
}

fn text() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(json!("ab")),
        Just(json!("cd")),
        Just(json!("")),
        Just(json!("ACTIVE")),
        Just(json!("STOPPED")),
        "[a-zA-Z0-9 ./%\"\\\\_-]{0,10}".prop_map(Value::from),
    ]
    .boxed()
}

fn object(fields: Vec<(&str, Option<Value>)>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_owned(), v?)))
            .collect::<Map<_, _>>(),
    )
}

fn array(item: BoxedStrategy<Value>, max: usize) -> BoxedStrategy<Value> {
    prop::collection::vec(item, 0..max)
        .prop_map(Value::Array)
        .boxed()
}

fn link() -> BoxedStrategy<Value> {
    let task = (field(text()), field(text()), field(array(text(), 3)))
        .prop_map(|(n, s, e)| object(vec![("task_name", n), ("state", s), ("errors", e)]))
        .boxed();
    (
        field(text()),
        field(text()),
        field(text()),
        field(array(text(), 3)),
        field(array(task, 3)),
    )
        .prop_map(|(name, state, error, topics, tasks)| {
            object(vec![
                ("link_name", name),
                ("link_state", state),
                ("link_error", error),
                ("topic_names", topics),
                ("tasks", tasks),
            ])
        })
        .boxed()
}

fn mirror() -> BoxedStrategy<Value> {
    let partition = prop_oneof![8 => (0i64..64).prop_map(Value::from), 1 => int()].boxed();
    let lag = (field(partition), field(int()), field(int()))
        .prop_map(|(p, l, o)| {
            object(vec![
                ("partition", p),
                ("lag", l),
                ("last_source_fetch_offset", o),
            ])
        })
        .boxed();
    // Only the single-mirror GET has them; any item may be of the wrong shape.
    let transition_error = prop_oneof![
        4 => (field(text()), field(text())).prop_map(|(c, m)| {
            object(vec![("error_code", c), ("error_message", m)])
        }),
        1 => junk(),
    ]
    .boxed();
    (
        field(text()),
        field(text()),
        field(int()),
        field(array(lag, 24)),
        field(text()),
        field(int()),
        field(array(transition_error, 20)),
    )
        .prop_map(|(link, topic, partitions, lags, status, time, errors)| {
            object(vec![
                ("link_name", link),
                ("mirror_topic_name", topic),
                ("num_partitions", partitions),
                ("mirror_lags", lags),
                ("mirror_status", status),
                ("state_time_ms", time),
                ("mirror_state_transition_errors", errors),
            ])
        })
        .boxed()
}

fn link_config() -> BoxedStrategy<Value> {
    (
        field(text()),
        field(text()),
        field(any::<bool>().prop_map(Value::from).boxed()),
    )
        .prop_map(|(n, v, s)| object(vec![("name", n), ("value", v), ("is_sensitive", s)]))
        .boxed()
}

/// Where a list's `metadata.next` points.
fn next() -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        3 => Just(None),
        2 => Just(Some(Value::Null)),
        1 => Just(Some(json!("?page=2"))),
        1 => Just(Some(json!("/kafka/v3/clusters/c1/links?page=2"))),
        1 => Just(Some(json!(format!("{ELSEWHERE}/kafka/v3/clusters/c1/links")))),
        1 => Just(Some(json!(format!("//{}/x", &ELSEWHERE[7..])))),
        1 => Just(Some(json!("http://[::1"))),
        1 => Just(Some(json!(""))),
        1 => Just(Some(json!(5))),
    ]
    .boxed()
}

fn envelope(item: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    (prop::collection::vec(item, 0..4), next())
        .prop_map(|(data, next)| {
            object(vec![
                ("kind", Some(json!("KafkaDataList"))),
                ("metadata", Some(object(vec![("next", next)]))),
                ("data", Some(Value::Array(data))),
            ])
        })
        .boxed()
}

/// A body: the JSON as is, or mutated at the byte level.
fn body(value: BoxedStrategy<Value>) -> BoxedStrategy<Vec<u8>> {
    let text = value.prop_map(|v| v.to_string().into_bytes());
    prop_oneof![
        10 => text.clone(),
        1 => (text.clone(), any::<prop::sample::Index>()).prop_map(|(b, i)| {
            let at = i.index(b.len() + 1);
            b[..at].to_vec()
        }),
        1 => (text.clone(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(mut b, i, x)| {
            if !b.is_empty() {
                let at = i.index(b.len());
                b[at] = x;
            }
            b
        }),
        // A duplicate key, and numbers no integer type holds.
        1 => text.clone().prop_map(|b| {
            String::from_utf8_lossy(&b)
                .replacen('{', r#"{"data":[],"#, 1)
                .replace("-1", "-99999999999999999999999")
                .into_bytes()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
    .boxed()
}

/// Header value bytes: anything but CR and LF.
fn header_bytes() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        prop::collection::vec(
            any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'),
            0..40
        ),
        "[0-9]{1,30}".prop_map(String::into_bytes),
        (0u32..100_000, 0u32..40, 0u32..40, 0u32..99)
            .prop_map(
                |(y, d, h, s)| format!("Thu, {d:02} Jan {y} {h:02}:{s:02}:{s:02} GMT").into_bytes()
            ),
        Just(b"Thu, 01 Jan 1960 00:00:00 GMT".to_vec()),
        Just(b"Fri, 31 Dec 9999 23:59:59 GMT".to_vec()),
    ]
    .boxed()
}

/// A reply: mostly 200 with the body; else another status with what goes with it; and
/// sometimes a lying or missing `Content-Length`.
fn reply(value: BoxedStrategy<Value>) -> BoxedStrategy<Reply> {
    let status = prop_oneof![
        12 => Just(200u16),
        1 => prop::sample::select(vec![204u16, 206, 301, 302, 303, 307, 308, 401, 403, 404, 418, 429, 500, 503]),
    ];
    let location = prop_oneof![
        Just(format!("{ELSEWHERE}/kafka/v3/clusters/c1/links").into_bytes()),
        Just(b"/kafka/v3/clusters/c1/links/-/mirrors".to_vec()),
        Just(format!("//{}/", &ELSEWHERE[7..]).into_bytes()),
        header_bytes(),
    ];
    let length = prop_oneof![
        6 => Just((None, false)),
        1 => Just((None, true)),
        1 => (0u64..1 << 20).prop_map(|n| (Some(n), false)),
        1 => Just((Some(u64::MAX), false)),
    ];
    (
        status,
        body(value),
        location,
        header_bytes(),
        header_bytes(),
        length,
    )
        .prop_map(|(status, body, location, retry, reset, (claimed, none))| {
            let mut r = Reply::json(status, "");
            r.body = body;
            r.claimed_length = claimed;
            r.no_length = none;
            if (300..400).contains(&status) {
                r = r.with_header("location", &location);
            }
            if status == 429 {
                r = r
                    .with_header("retry-after", &retry)
                    .with_header("ratelimit-reset", &reset);
            }
            r
        })
        .boxed()
}

/// What the API answers on each endpoint.
#[derive(Debug, Clone)]
struct Scenario {
    links: Reply,
    link: Reply,
    mirrors: Reply,
    configs: Reply,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        reply(envelope(link())),
        reply(link()),
        reply(envelope(mirror())),
        reply(envelope(link_config())),
    )
        .prop_map(|(links, link, mirrors, configs)| Scenario {
            links,
            link,
            mirrors,
            configs,
        })
}

/// Replaces the placeholder origin with `origin` in a reply's body and headers.
fn aimed(reply: &Reply, origin: &str) -> Reply {
    let swap = |b: &[u8]| {
        String::from_utf8(b.to_vec())
            .map(|s| {
                s.replace(ELSEWHERE, origin)
                    .replace(&ELSEWHERE[7..], &origin[7..])
                    .into_bytes()
            })
            .unwrap_or_else(|_| b.to_vec())
    };
    let mut r = reply.clone();
    r.body = swap(&r.body);
    for (_, v) in &mut r.headers {
        *v = swap(v);
    }
    r
}

// ---- checks ----

/// Renders `data` and checks what no input may produce.
fn check_rendered(data: &ClusterSnapshot) -> Result<(), TestCaseError> {
    let mut data = data.clone();
    data.partition_metrics = true;
    let exposition = Telemetry::new(&["dr".to_owned()]).exposition;
    exposition.publish_rest("dr", Some(Arc::new(data.clone())));
    let text = exposition.render();
    let checked = |l: &&str| {
        l.starts_with("clusterlink_mirror_topic_partitions{")
            || l.starts_with("clusterlink_mirror_topic_unknown_lag_partitions{")
            || l.starts_with("clusterlink_mirror_topic_transition_errors{")
            || (l.starts_with("clusterlink_mirror") && l.contains("lag_messages{"))
    };
    let mut seen = 0;
    for line in text.lines().filter(checked) {
        seen += 1;
        let value: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| TestCaseError::fail(format!("no value: {line}")))?;
        prop_assert!(value >= 0.0, "negative: {}", line);
    }
    // Four such series per mirror topic, two while none of its partitions was fetched
    // (partition series on top), one when STOPPED (it has no lag, only its partition count):
    // the filter sees them.
    let want: usize = data
        .mirrors
        .iter()
        .map(|m| match m.fetched().next() {
            _ if m.is_stopped() => 1,
            Some(_) => 4,
            None => 2,
        })
        .sum();
    prop_assert!(seen >= want, "{} of {} series", seen, want);
    Ok(())
}

proptest! {
    #![proptest_config(config(256, "proptest-regressions/rest_properties/parsers.txt"))]

    /// The object parsers: typed data or a serde error, and renderable data.
    #[test]
    fn parsers_end_in_data_or_an_error(
        links in prop::collection::vec(body(link()), 1..3),
        mirrors in prop::collection::vec(body(mirror()), 1..3),
        configs in body(link_config()),
    ) {
        let mut data = ClusterSnapshot::default();
        for b in &links {
            if let Ok(l) = decode_link(b) {
                data.links.push(l);
            }
        }
        for b in &mirrors {
            if let Ok(m) = decode_mirror(b) {
                // Transition errors: at most 16 kept, each message at most 1024 characters,
                // never more kept than counted.
                if let Some(e) = &m.transition_errors {
                    prop_assert!(e.details.len() <= 16 && e.details.len() as u64 <= e.count);
                    for d in &e.details {
                        let chars = d.message.as_deref().map_or(0, |t| t.chars().count());
                        prop_assert!(chars <= 1024);
                    }
                }
                data.mirrors.push(m);
            }
        }
        if let Ok(c) = decode_link_config(&configs) {
            for l in &mut data.links {
                l.configs = c.clone();
            }
        }
        check_rendered(&data)?;
    }
}

proptest! {
    #![proptest_config(config(256, "proptest-regressions/rest_properties/retry_after.txt"))]

    /// `Retry-After`/`rateLimit-reset`: a bounded wait or none, and a back-off from it.
    #[test]
    fn retry_after_is_bounded_for_any_header(retry in header_bytes(), reset in header_bytes()) {
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in [("retry-after", &retry), ("ratelimit-reset", &reset)] {
            if let Ok(v) = reqwest::header::HeaderValue::from_bytes(value) {
                headers.insert(name, v);
            }
        }
        let wait = retry_after(&headers);
        prop_assert!(wait.is_none_or(|w| w <= MAX_RETRY_AFTER), "{:?}", wait);
        let backoff = RateLimitBackoff::new(Duration::from_secs(300)).next(wait);
        prop_assert!(backoff <= Duration::from_secs(300));
        // Waiting that long from now is representable.
        prop_assert!(std::time::Instant::now().checked_add(backoff).is_some());
    }
}

proptest! {
    #![proptest_config(config(64, "proptest-regressions/rest_properties/cycle.txt"))]

    /// One whole collection cycle against an API answering the scenario: data (rendered
    /// without a negative value) or an error with a known reason; nothing sent elsewhere.
    #[test]
    fn a_collection_cycle_ends_in_data_or_a_classified_error(s in scenario()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let elsewhere = Upstream::recorder().await;
            let origin = elsewhere.origin();
            let answers = s.clone();
            let api = Upstream::start(Arc::new(move |r: &Recorded| {
                let target = r.target();
                let reply = if target.contains("page=") {
                    Reply::json(200, r#"{"data":[]}"#)
                } else if target.ends_with("/links") {
                    answers.links.clone()
                } else if target.contains("/mirrors") {
                    answers.mirrors.clone()
                } else if target.ends_with("/configs") {
                    answers.configs.clone()
                } else {
                    answers.link.clone()
                };
                aimed(&reply, &origin)
            }))
            .await;
            let cluster = ClusterConfig {
                cluster_id: Some("c1".into()),
                request_timeout: Duration::from_secs(5),
                max_response_bytes: 65536,
                auth: Auth::Basic {
                    username: "KEY".into(),
                    password: SecretString::new("s3cr3t"),
                },
                ..ClusterConfig::platform("dr", format!("{}/kafka/v3", api.origin()))
            };
            let mut collector = Collector::new(cluster, CollectorOutputs::detached()).unwrap();
            match collector.collect_once().await {
                Ok(data) => check_rendered(&data)?,
                Err(e) => prop_assert!(CollectionErrorReason::ALL.contains(&e.reason()), "{}", e),
            }
            prop_assert_eq!(elsewhere.connections(), 0, "something was sent to another origin");
            Ok(())
        })?;
    }
}
