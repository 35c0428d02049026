//! Tests of the renderers on REST snapshots decoded from the wire format as the client
//! decodes it (state values, lags, label values, category counts), and of [`Exposition`]:
//! each family header once, `# EOF`, build info, a forgotten cluster's parts withdrawn, the
//! gzip member and the text format.

use serde_json::{json, Value};

use super::chunk::GZIP_HEADER;
use super::families::UNKNOWN_LABEL;
use super::*;
use crate::rest_client::{decode_link, decode_link_config, decode_mirror};
use crate::snapshot::{Link, MirrorTopic};

fn link(v: Value) -> Link {
    decode_link(&serde_json::to_vec(&v).unwrap()).expect("a link")
}

fn mirror(v: Value) -> MirrorTopic {
    decode_mirror(&serde_json::to_vec(&v).unwrap()).expect("a mirror")
}

fn lag(partition: i64, lag: i64, last_source_fetch_offset: i64) -> Value {
    json!({"partition": partition, "lag": lag, "last_source_fetch_offset": last_source_fetch_offset})
}

fn data() -> ClusterSnapshot {
    let mut l = link(json!({
        "link_name": "ab", "cluster_link_id": "id1", "source_cluster_id": "src",
        "link_state": "SOMETHING_NEW", "link_error": "",
        "tasks": [{"task_name": "AclSync", "state": "IN_ERROR",
            "errors": [{"error_code": "MISCONFIGURATION_ERROR", "error_message": "x"}]}],
    }));
    l.configs = decode_link_config(
        br#"{"name":"consumer.offset.sync.enable","value":"true","is_sensitive":false}"#,
    )
    .unwrap();
    ClusterSnapshot {
        links: vec![l],
        mirrors: vec![mirror(json!({
            "link_name": "ab", "mirror_topic_name": "t\"1", "source_topic_name": "t",
            "num_partitions": 3,
            "mirror_lags": [lag(2, 5, 10), lag(0, 3, 7), lag(1, 0, -1)],
            "mirror_status": "FAILED", "mirror_topic_error": "SOURCE_TOPIC_MAY_BE_DELETED",
            "state_time_ms": 1_700_000_000_500i64,
        }))],
        partition_metrics: true,
    }
}

fn text_of(cluster: &str, snapshot: &ClusterSnapshot) -> String {
    let e = Exposition::new(Registry::default());
    e.publish_rest(cluster, Some(Arc::new(snapshot.clone())));
    e.render()
}

fn render(partitions: bool) -> String {
    let mut d = data();
    d.partition_metrics = partitions;
    text_of("c1", &d)
}

#[test]
fn states_write_every_known_value_and_the_unknown_one() {
    let text = render(true);
    assert!(text
        .contains("clusterlink_link_state{kafka_cluster=\"c1\",link=\"ab\",state=\"ACTIVE\"} 0\n"));
    assert!(text.contains(
        "clusterlink_link_state{kafka_cluster=\"c1\",link=\"ab\",state=\"SOMETHING_NEW\"} 1\n"
    ));
    assert!(text.contains(
        "clusterlink_link_error{kafka_cluster=\"c1\",link=\"ab\",error=\"NO_ERROR\"} 1\n"
    ));
    assert!(text.contains("clusterlink_link_task_state{kafka_cluster=\"c1\",link=\"ab\",task=\"AclSync\",state=\"IN_ERROR\"} 1\n"));
    assert!(text.contains(
        "clusterlink_link_task_errors{kafka_cluster=\"c1\",link=\"ab\",task=\"AclSync\"} 1\n"
    ));
    assert!(text.contains(
        "clusterlink_link_mirror_topics{kafka_cluster=\"c1\",link=\"ab\",state=\"FAILED\"} 1\n"
    ));
    assert!(text.contains("consumer_offset_sync=\"true\",acl_sync=\"unknown\""));
}

#[test]
fn lags_skip_unknown_partitions_and_escape_labels() {
    let text = render(true);
    let topic = "mirror_topic=\"t\\\"1\"";
    assert!(text.contains(&format!(
        "clusterlink_mirror_topic_lag_messages{{kafka_cluster=\"c1\",link=\"ab\",{topic}}} 8\n"
    )));
    assert!(text.contains(&format!("clusterlink_mirror_topic_max_partition_lag_messages{{kafka_cluster=\"c1\",link=\"ab\",{topic}}} 5\n")));
    assert!(text.contains(&format!("clusterlink_mirror_topic_unknown_lag_partitions{{kafka_cluster=\"c1\",link=\"ab\",{topic}}} 1\n")));
    assert!(text.contains(&format!("clusterlink_mirror_topic_state_change_timestamp_seconds{{kafka_cluster=\"c1\",link=\"ab\",{topic}}} 1700000000.5\n")));
    assert!(text.contains("error=\"SOURCE_TOPIC_MAY_BE_DELETED\"} 1\n"));
    assert!(text.contains(&format!("clusterlink_mirror_partition_lag_messages{{kafka_cluster=\"c1\",link=\"ab\",{topic},partition=\"0\"}} 3\n")));
    assert!(
        !text.contains("partition=\"1\""),
        "unknown partition exported"
    );
    let without = render(false);
    assert!(!without.contains("clusterlink_mirror_partition_lag_messages{"));
}

/// A `STOPPED` mirror topic (promoted or failed over) no longer mirrors: none of the lag
/// families, REST or per partition, only what its stop left not copied (its frozen REST lag)
/// and its last fetch offsets; a mirror topic still mirroring keeps them all.
#[test]
fn a_stopped_mirror_topic_exports_what_it_left_not_copied_not_a_lag() {
    let mut d = data();
    d.mirrors.push(mirror(json!({
        "link_name": "ab", "mirror_topic_name": "promoted", "source_topic_name": "promoted",
        "num_partitions": 2,
        "mirror_lags": [lag(0, 40, 100), lag(1, 2, 7)],
        "mirror_status": "STOPPED", "state_time_ms": 1_700_000_000_000i64,
    })));
    let text = text_of("c1", &d);
    let stopped = "link=\"ab\",mirror_topic=\"promoted\"";
    for family in [
        "clusterlink_mirror_topic_lag_messages",
        "clusterlink_mirror_topic_max_partition_lag_messages",
        "clusterlink_mirror_topic_unknown_lag_partitions",
        "clusterlink_mirror_partition_lag_messages",
    ] {
        assert!(
            !text.contains(&format!("{family}{{kafka_cluster=\"c1\",{stopped}")),
            "{family} for a STOPPED mirror topic:\n{text}"
        );
    }
    let not_copied = "clusterlink_mirror_topic_not_copied_messages";
    assert_eq!(sample_value(&text, not_copied, stopped), 42.0);
    let offset = sample_value(
        &text,
        "clusterlink_mirror_partition_last_source_fetch_offset",
        &format!("{stopped},partition=\"0\""),
    );
    assert_eq!(offset, 100.0, "where the old-source writes count from");
    // The FAILED one still mirrors (or should): its lag, no "not copied".
    let live = "link=\"ab\",mirror_topic=\"t\\\"1\"";
    assert_eq!(
        sample_value(&text, "clusterlink_mirror_topic_lag_messages", live),
        8.0
    );
    assert!(!text.contains(&format!("{not_copied}{{kafka_cluster=\"c1\",{live}")));
}

/// The value of the one sample of `family` in `text` (with a trailing `{`).
fn sample_value(text: &str, family: &str, labels: &str) -> f64 {
    let prefix = format!("{family}{{kafka_cluster=\"c1\",{labels}}} ");
    let line = text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"));
    line[prefix.len()..].parse().unwrap()
}

#[test]
fn extreme_and_negative_lags_saturate_and_never_export_negative() {
    let mut data = data();
    data.mirrors[0] = mirror(json!({
        "link_name": "ab", "mirror_topic_name": "t\"1", "source_topic_name": "t",
        "num_partitions": -3,
        "mirror_lags": [
            lag(0, i64::MAX, 1),
            lag(1, i64::MAX, i64::MAX),
            lag(2, i64::MIN, 5),
            // Seen in the field: a negative lag on a never-fetched partition.
            lag(3, -207, -1),
        ],
    }));
    let text = text_of("c1", &data);
    let topic = "link=\"ab\",mirror_topic=\"t\\\"1\"";
    let sum = sample_value(&text, "clusterlink_mirror_topic_lag_messages", topic);
    assert_eq!(sum, i64::MAX as f64, "saturated, not wrapped");
    let partitions = sample_value(&text, "clusterlink_mirror_topic_partitions", topic);
    assert_eq!(
        partitions, 4.0,
        "a negative num_partitions falls back to the list"
    );
    let unknown = sample_value(
        &text,
        "clusterlink_mirror_topic_unknown_lag_partitions",
        topic,
    );
    assert_eq!(unknown, 1.0);
    let negative = sample_value(
        &text,
        "clusterlink_mirror_partition_lag_messages",
        &format!("{topic},partition=\"2\""),
    );
    assert_eq!(negative, 0.0, "a negative lag is exported as 0");
    assert!(
        !text.contains("partition=\"3\""),
        "unknown partition exported"
    );
    for line in text.lines().filter(|l| l.starts_with("clusterlink_mirror")) {
        let value: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(value >= 0.0, "{line}");
    }
}

/// The label values of `family`'s samples in `text`, by label name.
fn labels_of(text: &str, family: &str) -> Vec<BTreeMap<String, String>> {
    text.lines()
        .filter_map(|l| l.strip_prefix(family)?.strip_prefix('{'))
        .map(|rest| {
            let inner = &rest[..rest.rfind('}').expect("closing brace")];
            inner
                .split("\",")
                .map(|kv| {
                    let (k, v) = kv.split_once("=\"").expect("label=\"value");
                    (k.to_owned(), v.trim_end_matches('"').to_owned())
                })
                .collect()
        })
        .collect()
}

#[test]
fn empty_or_missing_label_values_say_unknown() {
    // As seen in the field: `connection.mode` with an empty value, no ids, an empty
    // `link.mode`, a task and a source topic without a name.
    let mut d = data();
    d.links[0] = link(json!({
        "link_name": "ab", "cluster_link_id": "", "link_error": "",
        "tasks": [{"task_name": "", "state": "IN_ERROR"}],
    }));
    let configs: Vec<u8> = br#"{"name":"consumer.offset.sync.enable","value":"true"}"#.to_vec();
    d.links[0].configs = decode_link_config(&configs).unwrap();
    let config = |name: &str, value: Value| {
        let body = json!({"name": name, "value": value, "is_sensitive": false});
        decode_link_config(&serde_json::to_vec(&body).unwrap()).unwrap()
    };
    let configs = &mut d.links[0].configs;
    configs.connection_mode = config("connection.mode", json!("")).connection_mode;
    configs.link_mode = config("link.mode", Value::Null).link_mode;
    configs.acl_sync = config("acl.sync.enable", json!("")).acl_sync;
    d.mirrors[0].source_topic = Some(String::new());
    let text = text_of("c1", &d);
    assert!(!text.contains("=\"\""), "an empty label value:\n{text}");
    let info = labels_of(&text, "clusterlink_link_info");
    assert_eq!(info.len(), 1);
    for label in [
        "link_id",
        "source_cluster_id",
        "destination_cluster_id",
        "remote_cluster_id",
        "link_mode",
        "connection_mode",
        "acl_sync",
        "auto_create_mirror_topics",
    ] {
        assert_eq!(info[0][label], UNKNOWN_LABEL, "{label}");
    }
    assert_eq!(info[0]["consumer_offset_sync"], "true");
    let tasks = labels_of(&text, "clusterlink_link_task_errors");
    assert_eq!(tasks[0]["task"], UNKNOWN_LABEL);
    let mirror = labels_of(&text, "clusterlink_mirror_topic_info");
    assert_eq!(mirror[0]["source_topic"], UNKNOWN_LABEL);
    // The state families keep their own convention for an empty value.
    assert!(text.contains("error=\"NO_ERROR\"} 1\n"));
}

/// `clusterlink_link_mirror_partitions` of a link parsed from `json`, by category.
fn partitions_of(json: &str) -> BTreeMap<String, String> {
    let d = ClusterSnapshot {
        links: vec![decode_link(json.as_bytes()).expect("the link parses")],
        ..Default::default()
    };
    let text = text_of("c1", &d);
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("clusterlink_link_mirror_partitions{"))
    {
        let labels = &labels_of(line, "clusterlink_link_mirror_partitions")[0];
        assert_eq!(labels["link"], "l");
        let value = line.rsplit_once(' ').unwrap().1.to_owned();
        let category = labels["state_category"].clone();
        assert!(out.insert(category, value).is_none(), "repeated: {line}");
    }
    out
}

#[test]
fn category_counts_by_state_category() {
    let counts = partitions_of(
        r#"{"link_name":"l","category_counts":[
            {"state_category":"ACTIVE","count":3},
            {"state_category":"IN_ERROR","count":2},
            {"state_category":"UNKNOWN","count":1},
            {"state_category":"IN_ERROR","count":1},
            {"state_category":"PAUSED","count":-4},
            {"state_category":"","count":2},
            {"state_category":"a\"b","count":9223372036854775807},
            {"state_category":"a\"b","count":9223372036854775807},
            {"state_category":"a\"b","count":9223372036854775807},
            {"state_category":5,"count":1},
            {"state_category":"PENDING","count":1.5},
            {"state_category":"PENDING","count":"7"},
            {"count":7},
            "junk"
        ]}"#,
    );
    let expected: BTreeMap<String, String> = [
        ("ACTIVE", "3"),
        ("IN_ERROR", "3"),
        ("PAUSED", "0"),
        ("PENDING", "0"),
        ("NOT_APPLICABLE", "0"),
        ("UNKNOWN", "1"),
        (UNKNOWN_LABEL, "2"),
        // Summed saturating; past 1e15 values are written as floats.
        ("a\\\"b", "18446744073709552000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(counts, expected);
}

#[test]
fn category_counts_zero_on_a_new_link_absent_when_not_reported() {
    let zeros = partitions_of(r#"{"link_name":"l","category_counts":[]}"#);
    assert_eq!(
        zeros.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        crate::snapshot::StateCategory::ALL
            .map(|c| c.as_str())
            .into_iter()
            .collect()
    );
    assert!(zeros.values().all(|v| v == "0"), "{zeros:?}");
    for absent in [
        r#"{"link_name":"l"}"#,
        r#"{"link_name":"l","category_counts":null}"#,
        r#"{"link_name":"l","category_counts":{"ACTIVE":1}}"#,
        r#"{"link_name":"l","category_counts":"ACTIVE"}"#,
    ] {
        assert!(partitions_of(absent).is_empty(), "{absent}");
    }
}

#[test]
fn each_family_header_appears_once_and_text_ends_with_eof() {
    let e = Exposition::new(Registry::default());
    e.publish_rest("a", Some(Arc::new(data())));
    e.publish_rest("b", Some(Arc::new(data())));
    let text = e.render();
    assert_eq!(
        text.matches("# TYPE clusterlink_link_state gauge").count(),
        1
    );
    assert_eq!(text.matches("# EOF").count(), 1);
    assert!(text.ends_with("# EOF\n"));
    assert!(text.contains("kafka_cluster=\"a\",link="));
    e.publish_rest("a", None);
    assert!(!e.render().contains("kafka_cluster=\"a\",link="));
    assert!(e.render().contains("kafka_cluster=\"b\",link="));
}

#[test]
fn build_info_says_version_and_revision() {
    let mut registry = Registry::default();
    register_build_info(&mut registry);
    let text = Exposition::new(registry).render();
    assert!(text.contains(&format!(
        "build_info{{version=\"{}\",revision=\"{REVISION}\"}} 1\n",
        env!("CARGO_PKG_VERSION")
    )));
}

fn setup(cluster: &str) -> ClusterSetup {
    ClusterSetup {
        cluster: crate::config::ClusterConfig::platform(cluster, "http://a/kafka/v3"),
        sources: Vec::new(),
    }
}

#[test]
fn a_forgotten_cluster_loses_both_sides_and_one_started_without_kafka_its_kafka_side() {
    let e = Exposition::new(Registry::default());
    for c in ["gone", "kept", "q\"x"] {
        e.publish_rest(c, Some(Arc::new(data())));
    }
    let marker =
        |c: &str| RenderedCluster::new(vec![format!("marker{{kafka_cluster=\"{c}\"}} 1\n")]);
    e.set_part("gone", Side::Kafka, Some(marker("gone")));
    e.set_part("kept", Side::Kafka, Some(marker("kept")));
    e.forget_cluster(&setup("gone"));
    e.forget_cluster(&setup("q\"x"));
    let text = e.render();
    assert!(!text.contains("\"gone\""), "{text}");
    assert!(!text.contains("q\\\"x"), "{text}");
    assert!(
        text.contains("clusterlink_link_state{kafka_cluster=\"kept\""),
        "{text}"
    );
    assert!(
        text.contains("marker{kafka_cluster=\"kept\"} 1\n"),
        "{text}"
    );
    // `kept` restarted without a `kafka` section: its REST side stays.
    e.start_cluster(&setup("kept"));
    let text = e.render();
    assert!(!text.contains("marker"), "{text}");
    assert!(
        text.contains("clusterlink_link_state{kafka_cluster=\"kept\""),
        "{text}"
    );
}

/// An exposition with a counter, a gauge and three clusters' parts, one of them big.
fn exposition_with_parts() -> Exposition {
    use prometheus_client::metrics::counter::Counter;
    let mut registry = Registry::default();
    let errors = Counter::<u64>::default();
    errors.inc_by(3);
    registry.register("errors", "Errors", errors);
    register_build_info(&mut registry);
    let e = Exposition::new(registry);
    e.publish_rest("a", Some(Arc::new(data())));
    e.publish_rest("b", Some(Arc::new(data())));
    let mut big = data();
    let lags: Vec<Value> = (0..5000).map(|p| lag(p, p, p + 10)).collect();
    big.mirrors = vec![mirror(json!({
        "link_name": "ab", "mirror_topic_name": "big", "source_topic_name": "big",
        "num_partitions": 5000, "mirror_lags": lags, "mirror_status": "ACTIVE",
    }))];
    e.publish_rest("c", Some(Arc::new(big.clone())));
    e
}

/// The frames of a body, in order.
fn frames(body: Frames) -> Vec<Bytes> {
    let announced = body.remaining();
    let frames: Vec<Bytes> = body.collect();
    let sent: usize = frames.iter().map(Bytes::len).sum();
    assert_eq!(sent as u64, announced, "the length announced");
    frames
}

fn gunzip(body: Frames) -> String {
    let gz = frames(body).concat();
    assert_eq!(&gz[..GZIP_HEADER.len()], &GZIP_HEADER);
    let mut decoder = flate2::read::GzDecoder::new(&gz[..]);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut decoder, &mut text).expect("one gzip member");
    assert!(decoder.into_inner().is_empty(), "bytes after the member");
    text
}

fn plain(body: Frames) -> String {
    String::from_utf8(frames(body).concat()).expect("UTF-8")
}

#[test]
fn the_gzip_member_inflates_to_the_plain_body_in_both_formats() {
    let e = exposition_with_parts();
    for format in [Format::OpenMetrics, Format::Text] {
        let text = plain(e.scrape(format, false));
        assert!(text.len() > 500_000, "{}", text.len());
        let gz = frames(e.scrape(format, true));
        assert!(gz.len() > 3, "served in pieces: {}", gz.len());
        assert!(gz.iter().map(Bytes::len).sum::<usize>() < text.len() / 5);
        assert_eq!(gunzip(e.scrape(format, true)), text, "{format:?}");
    }
    // Withdrawing a part rebuilds the layout.
    e.publish_rest("c", None);
    let text = e.render_as(Format::Text);
    assert!(!text.contains("kafka_cluster=\"c\""));
    assert_eq!(gunzip(e.scrape(Format::Text, true)), text);
}

/// Both forms are made from the same chunks, the plain one by inflating them: whatever the
/// order of the scrapes, they read the same.
#[test]
fn a_plain_scrape_after_a_gzip_one_and_the_reverse_read_the_same() {
    let e = exposition_with_parts();
    for format in [Format::OpenMetrics, Format::Text] {
        let first = plain(e.scrape(format, false));
        let after_plain = gunzip(e.scrape(format, true));
        let after_gzip = plain(e.scrape(format, false));
        let again = gunzip(e.scrape(format, true));
        assert_eq!(after_plain, first, "{format:?}: gzip after plain");
        assert_eq!(after_gzip, first, "{format:?}: plain after gzip");
        assert_eq!(again, first, "{format:?}: gzip after plain after gzip");
        // Two plain bodies read at once, frame by frame, do not mix.
        let (mut a, mut b) = (e.scrape(format, false), e.scrape(format, false));
        let (mut text_a, mut text_b) = (Vec::new(), Vec::new());
        loop {
            let (fa, fb) = (a.next(), b.next());
            if fa.is_none() && fb.is_none() {
                break;
            }
            fa.iter().for_each(|f| text_a.extend_from_slice(f));
            fb.iter().for_each(|f| text_b.extend_from_slice(f));
        }
        assert_eq!(text_a, first.as_bytes());
        assert_eq!(text_b, first.as_bytes());
    }
}

#[test]
fn the_text_format_puts_counter_metadata_under_the_sample_name_and_has_no_eof() {
    let e = exposition_with_parts();
    let text = e.render_as(Format::Text);
    assert!(
        text.contains("# HELP errors_total Errors.\n# TYPE errors_total counter\nerrors_total 3\n"),
        "{text}"
    );
    assert!(!text.contains("# EOF") && !text.contains("# UNIT"));
    let om = e.render_as(Format::OpenMetrics);
    assert!(
        om.contains("# TYPE errors counter\nerrors_total 3\n"),
        "{om}"
    );
    assert!(om.ends_with("# EOF\n"));
    // The per-cluster families read the same in both.
    let after_own = |t: &str| t[t.find("# HELP clusterlink_link_info").unwrap()..].to_owned();
    assert_eq!(after_own(&om), format!("{}# EOF\n", after_own(&text)));
}
