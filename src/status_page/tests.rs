//! Tests of the status view built from hand-made [`StatusData`] (order, sums, ages, escaping,
//! probes, Kafka connections, the shard), of its HTML (CSP, refresh) and JSON forms (README's
//! list of the JSON keys included), and of the status store keeping published snapshots with
//! their link-state times.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::html::{self, PageOptions};
use super::*;
use crate::snapshot::{
    Fetched, KafkaSnapshot, MeasuredMirror, MeasuredPartition, OffsetSyncLag, PartitionLag,
    Publish, Reported, StoppedMirror, Task, TaskError,
};
use crate::status::{ClusterStatus, ProbeStatus, StatusStore};

const NOW_MS: i64 = 1_700_000_100_000;

fn link(name: &str, state: LinkState) -> Link {
    Link {
        name: name.into(),
        state: Reported::Known(state),
        ..Link::default()
    }
}

fn mirror(link: &str, name: &str, state: MirrorState, lags: &[i64]) -> MirrorTopic {
    MirrorTopic {
        link: link.into(),
        name: name.into(),
        source_topic: Some(name.into()),
        state: Reported::Known(state),
        state_changed_ms: Some(NOW_MS - 90_000),
        lags: lags
            .iter()
            .enumerate()
            .map(|(i, lag)| PartitionLag {
                partition: i as i32,
                fetched: Some(Fetched {
                    lag: *lag,
                    last_source_fetch_offset: 100,
                }),
            })
            .collect(),
        ..MirrorTopic::default()
    }
}

fn status(up: bool) -> ClusterStatus {
    ClusterStatus {
        up,
        cycles: 3,
        last_success: Some(SystemTime::UNIX_EPOCH + Duration::from_millis(NOW_MS as u64 - 2000)),
        last_error: (!up).then(|| "connect: connection refused".into()),
        last_error_at: (!up).then(|| SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
    }
}

fn latest(snapshot: ClusterSnapshot, kafka: Option<KafkaSnapshot>) -> LatestSnapshots {
    LatestSnapshots {
        rest: Some((Arc::new(snapshot), NOW_MS - 4000)),
        kafka: kafka.map(|k| (Arc::new(k), NOW_MS - 1000)),
        link_state_since_ms: BTreeMap::new(),
    }
}

/// The status data of `board` (collection outcomes) and `latest` (snapshots).
fn data(
    board: &BTreeMap<String, ClusterStatus>,
    latest: &BTreeMap<String, LatestSnapshots>,
) -> StatusData {
    StatusData {
        collection: board.clone(),
        snapshots: latest.clone(),
        ..StatusData::default()
    }
}

fn view(
    board: &BTreeMap<String, ClusterStatus>,
    latest: &BTreeMap<String, LatestSnapshots>,
) -> StatusView {
    StatusView::build(Inputs {
        data: &data(board, latest),
        shard: None,
        now_ms: NOW_MS,
    })
}

/// Three clusters: `healthy` (all ACTIVE), `mixed` (one PAUSED mirror on an ACTIVE link, one
/// FAILED link) and `gone` (down, no data).
fn three_clusters() -> StatusView {
    let mut board = BTreeMap::new();
    board.insert("a-healthy".to_string(), status(true));
    board.insert("b-mixed".to_string(), status(true));
    board.insert("c-gone".to_string(), status(false));
    let healthy = ClusterSnapshot {
        links: vec![link("l1", LinkState::Active)],
        mirrors: vec![mirror("l1", "t1", MirrorState::Active, &[1, 2])],
        partition_metrics: false,
    };
    let mixed = ClusterSnapshot {
        links: vec![
            link("aa-fine", LinkState::Active),
            link("bb-paused-mirror", LinkState::Active),
            link("zz-failed", LinkState::Failed),
            Link {
                tasks: vec![Task {
                    name: "ConsumerOffsetSync".into(),
                    state: Reported::Known(TaskState::InError),
                    errors: 1,
                    ..Task::default()
                }],
                ..link("aa-task-error", LinkState::Active)
            },
        ],
        mirrors: vec![
            mirror("bb-paused-mirror", "a-ok", MirrorState::Active, &[0]),
            mirror("bb-paused-mirror", "z-paused", MirrorState::Paused, &[5]),
            mirror("zz-failed", "t", MirrorState::Active, &[]),
            mirror("aa-fine", "t", MirrorState::Active, &[3]),
        ],
        partition_metrics: false,
    };
    let mut snapshots = BTreeMap::new();
    snapshots.insert("a-healthy".to_string(), latest(healthy, None));
    snapshots.insert("b-mixed".to_string(), latest(mixed, None));
    view(&board, &snapshots)
}

#[test]
fn problems_come_first_down_clusters_then_failed_links_then_mirrors() {
    let v = three_clusters();
    let order: Vec<&str> = v.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(order, ["c-gone", "b-mixed", "a-healthy"]);
    assert_eq!(v.clusters[0].health, Health::Down);
    assert!(v.clusters[0].problem && v.clusters[1].problem && !v.clusters[2].problem);
    let links: Vec<&str> = v.clusters[1]
        .links
        .iter()
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(
        links,
        ["zz-failed", "aa-task-error", "bb-paused-mirror", "aa-fine"]
    );
    let mirrors: Vec<&str> = v.clusters[1].links[2]
        .mirrors
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(mirrors, ["z-paused", "a-ok"]);
    assert_eq!(v.clusters[1].links[2].mirror_topics_not_active, 1);
    assert_eq!(v.clusters[1].links[2].mirror_topics_with_problems, 1);
    assert!(v.clusters[1].links[0].problem, "FAILED link");
    assert!(v.clusters[1].links[1].problem, "a task in error");
    let paused = &v.clusters[1].links[2];
    assert!(!paused.problem, "ACTIVE link with a PAUSED mirror");
}

#[test]
fn the_html_lists_rows_in_the_view_order() {
    let v = three_clusters();
    let page = html::render(&v, &options());
    let pos = |needle: &str| {
        page.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing from {page}"))
    };
    assert!(pos("<td>c-gone</td>") < pos("<td>b-mixed</td>"));
    assert!(pos("<td>b-mixed</td>") < pos("<td>a-healthy</td>"));
    assert!(pos("link zz-failed") < pos("link aa-task-error"));
    assert!(pos("link aa-task-error") < pos("link bb-paused-mirror"));
    assert!(pos(">z-paused") < pos(">a-ok"));
    assert!(page.contains("<span class=\"st bad\">FAILED</span>"));
    assert!(page.contains("<span class=\"st warn\">PAUSED</span>"));
    assert!(page.contains("connect: connection refused"));
}

#[test]
fn values_are_summed_and_aged() {
    let mut board = BTreeMap::new();
    board.insert("A".to_string(), status(true));
    let mut l = link("ab", LinkState::Active);
    l.tasks = vec![
        Task {
            name: "MirrorTopicTask".into(),
            state: Reported::Known(TaskState::InError),
            errors: 2,
            ..Task::default()
        },
        Task {
            name: "AclSync".into(),
            state: Reported::Known(TaskState::Active),
            errors: 0,
            ..Task::default()
        },
    ];
    let rest = ClusterSnapshot {
        links: vec![l],
        mirrors: vec![mirror("ab", "t", MirrorState::Active, &[4, 6])],
        partition_metrics: false,
    };
    let measured = |lag_seconds| MeasuredPartition {
        partition: 0,
        destination: Some(10),
        source: Some(17),
        lag_seconds: Some(lag_seconds),
        ..Default::default()
    };
    let kafka = KafkaSnapshot {
        mirrors: vec![MeasuredMirror {
            link: "ab".into(),
            mirror_topic: "t".into(),
            partitions: vec![measured(1.5), measured(0.25)],
            ..Default::default()
        }],
        offset_sync: ["g1", "g2"]
            .iter()
            .zip([30, 12])
            .map(|(g, lag)| OffsetSyncLag {
                link: "ab".into(),
                consumer_group: (*g).into(),
                mirror_topic: "t".into(),
                lag,
                unreplicated: None,
                unsynced: None,
            })
            .collect(),
        partition_metrics: false,
        ..Default::default()
    };
    let mut snapshots = BTreeMap::new();
    snapshots.insert("A".to_string(), latest(rest, Some(kafka)));
    let v = view(&board, &snapshots);
    let c = &v.clusters[0];
    assert_eq!(
        (c.data_age_seconds, c.kafka_data_age_seconds),
        (Some(4.0), Some(1.0))
    );
    assert_eq!(c.last_success_age_seconds, Some(2.0));
    let l = &c.links[0];
    assert!(l.problem, "a task in error is a problem");
    assert_eq!((l.tasks_in_error, l.task_errors), (1, 2));
    assert_eq!((l.lag_messages, l.lag_seconds), (Some(10), Some(1.5)));
    let m = &l.mirrors[0];
    assert_eq!(m.lag_messages, Some(10));
    assert_eq!(m.measured_lag_messages, Some(14));
    assert_eq!(m.lag_seconds, Some(1.5));
    assert_eq!(m.offset_sync_lag_messages, Some(30));
    assert_eq!(m.state_age_seconds, Some(90.0));
}

/// Records lost to retention, a stall under an ACTIVE mirror and writes to the old source
/// after a fail-over are shown on the mirror's row, in the JSON, and make it a problem; a
/// healthy mirror, a paused one and a fail-over with no writes show none of them.
#[test]
fn kafka_findings_are_shown_and_make_a_problem() {
    let mut board = BTreeMap::new();
    board.insert("A".to_string(), status(true));
    let mut stopped = mirror("ab", "moved", MirrorState::Stopped, &[0]);
    stopped.state_changed_ms = Some(NOW_MS - 60_000);
    let rest = ClusterSnapshot {
        links: vec![link("ab", LinkState::Active)],
        mirrors: vec![
            mirror("ab", "lossy", MirrorState::Active, &[0]),
            mirror("ab", "stuck", MirrorState::Active, &[0]),
            mirror("ab", "fine", MirrorState::Active, &[0]),
            mirror("ab", "paused", MirrorState::Paused, &[0]),
            mirror("ab", "drifted", MirrorState::Active, &[0, 1]),
            mirror("ab", "old", MirrorState::Active, &[0]),
            mirror("ab", "young", MirrorState::Active, &[0]),
            stopped.clone(),
            MirrorTopic {
                name: "quiet".into(),
                ..stopped
            },
        ],
        partition_metrics: false,
    };
    let measured = |name: &str, lost, replication_rate, source_rate| MeasuredMirror {
        link: "ab".into(),
        mirror_topic: name.into(),
        partitions: vec![MeasuredPartition {
            destination: Some(10),
            source: Some(10),
            lost_to_retention: lost,
            ..Default::default()
        }],
        replication_rate,
        source_rate,
        ..Default::default()
    };
    let retained = |name: &str, lag_seconds, retention| MeasuredMirror {
        partitions: vec![MeasuredPartition {
            destination: Some(10),
            source: Some(12),
            lag_seconds: Some(lag_seconds),
            ..Default::default()
        }],
        source_partitions: Some(1),
        unmirrored_partitions: Some(0),
        source_retention_seconds: retention,
        ..measured(name, Some(0), Some(1.0), Some(1.0))
    };
    let since = |name: &str, n| StoppedMirror {
        link: "ab".into(),
        mirror_topic: name.into(),
        source_records_since_stop: Some(n),
    };
    let kafka = KafkaSnapshot {
        mirrors: vec![
            measured("lossy", Some(21), Some(2.0), Some(2.0)),
            measured("stuck", Some(0), Some(0.0), Some(3.5)),
            measured("fine", Some(0), Some(3.0), Some(3.0)),
            measured("paused", Some(0), Some(0.0), Some(3.0)),
            MeasuredMirror {
                source_partitions: Some(5),
                unmirrored_partitions: Some(3),
                ..measured("drifted", Some(0), Some(1.0), Some(1.0))
            },
            retained("old", 3000.0, Some(4000.0)),
            retained("young", 1999.0, Some(4000.0)),
        ],
        stopped: vec![since("moved", 7), since("quiet", 0)],
        ..Default::default()
    };
    let mut snapshots = BTreeMap::new();
    snapshots.insert("A".to_string(), latest(rest, Some(kafka)));
    let v = view(&board, &snapshots);
    let mirrors = &v.clusters[0].links[0].mirrors;
    let by_name = |n: &str| mirrors.iter().find(|m| m.name == n).unwrap();
    assert_eq!(
        by_name("lossy").kafka_findings(),
        ["21 records deleted at the source before they were mirrored"]
    );
    assert_eq!(
        by_name("stuck").kafka_findings(),
        ["stalled: nothing mirrored while the source receives 3.5 records/s"]
    );
    assert_eq!(
        by_name("moved").kafka_findings(),
        ["7 records written to the old source since the stop"]
    );
    assert_eq!(
        by_name("drifted").kafka_findings(),
        ["3 source partitions not mirrored yet (source 5, mirror 2): not measured"]
    );
    assert_eq!(
        by_name("old").kafka_findings(),
        ["lag is 75% of the source's retention (4000 s): records are deleted before they are mirrored at 100%"]
    );
    assert_eq!(by_name("young").retention_used(), Some(1999.0 / 4000.0));
    for quiet in ["fine", "paused", "quiet", "young"] {
        assert!(by_name(quiet).kafka_findings().is_empty(), "{quiet}");
    }
    assert!(by_name("lossy").problem && by_name("stuck").problem);
    assert!(!by_name("fine").problem);
    assert_eq!(by_name("quiet").source_records_since_stop, Some(0));
    let json: serde_json::Value = serde_json::from_str(&v.to_json()).unwrap();
    let moved = json["clusters"][0]["links"][0]["mirrors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "moved")
        .unwrap();
    assert_eq!(moved["source_records_since_stop"], 7);
    let drifted = json["clusters"][0]["links"][0]["mirrors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "drifted")
        .unwrap();
    assert_eq!(
        (
            &drifted["source_partitions"],
            &drifted["unmirrored_partitions"]
        ),
        (&serde_json::json!(5), &serde_json::json!(3))
    );
    assert!(drifted["source_retention_seconds"].is_null());
    let page = html::render(&v, &options());
    assert!(page.contains("stalled: nothing mirrored while the source receives 3.5 records/s"));
    // The link rolls them up, most severe first, and is a problem.
    let l = &v.clusters[0].links[0];
    let rolled: Vec<&str> = l.findings.iter().map(|f| f.text.as_str()).collect();
    assert_eq!(
        rolled,
        [
            "7 records written to the old source since the stop (1 mirror topic)",
            "21 records deleted at the source before they were mirrored (1 mirror topic)",
            "stalled: 1 mirror topic copying nothing while the source receives records",
        ]
    );
    assert!(
        l.problem,
        "its mirror topics' findings make the link a problem"
    );
    assert!(
        page.contains("· 1 link(s), 1 with problems ·"),
        "the header counts it"
    );
    assert_eq!(
        json["clusters"][0]["links"][0]["findings"][0]["kind"],
        "old_source_writes"
    );
    assert_eq!(json["clusters"][0]["links"][0]["findings"][1]["count"], 21);
}

/// A completed fail-over whose old source still receives writes is no longer a quiet, finished
/// link: the link is a problem, sorted before healthy links, its Errors cell says so; and a
/// promote stuck on a transition error is rolled up on its link.
#[test]
fn a_failed_over_link_with_writes_to_its_old_source_is_a_problem() {
    let mut board = BTreeMap::new();
    board.insert("dr".to_string(), status(true));
    let stopped = |link: &str, name: &str| mirror(link, name, MirrorState::Stopped, &[0]);
    let stuck = MirrorTopic {
        transition_errors: Some(crate::snapshot::TransitionErrors {
            count: 2,
            details: vec![],
        }),
        ..mirror("b-stuck", "orders", MirrorState::PendingStopped, &[0])
    };
    let rest = ClusterSnapshot {
        links: vec![
            link("a-fine", LinkState::Active),
            link("b-stuck", LinkState::Active),
            link("c-moved", LinkState::Active),
        ],
        mirrors: vec![
            mirror("a-fine", "t", MirrorState::Active, &[0]),
            stuck,
            stopped("c-moved", "events"),
            stopped("c-moved", "orders"),
        ],
        partition_metrics: false,
    };
    let since = |name: &str, n| StoppedMirror {
        link: "c-moved".into(),
        mirror_topic: name.into(),
        source_records_since_stop: Some(n),
    };
    let kafka = KafkaSnapshot {
        stopped: vec![since("events", 4), since("orders", 5)],
        ..Default::default()
    };
    let mut snapshots = BTreeMap::new();
    snapshots.insert("dr".to_string(), latest(rest, Some(kafka)));
    let v = view(&board, &snapshots);
    let c = &v.clusters[0];
    assert!(c.problem);
    let names: Vec<&str> = c.links.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["b-stuck", "c-moved", "a-fine"], "problems first");
    let moved = &c.links[1];
    assert!(
        moved.problem,
        "completed, but its old source receives writes"
    );
    assert_eq!(
        moved.failover.as_ref().map(|f| f.stage),
        Some(FailoverStage::Completed)
    );
    assert_eq!(
        moved.findings[0].text,
        "9 records written to the old source since the stop (2 mirror topics)"
    );
    assert_eq!(
        c.links[0].findings[0].text,
        "2 transition errors (1 mirror topic)"
    );
    assert!(c.links[2].findings.is_empty() && !c.links[2].problem);
    let page = html::render(&v, &options());
    assert!(page.contains(
        "<td class=\"err\">9 records written to the old source since the stop (2 mirror topics)<div class=\"rb\">runbook: "
    ));
    assert!(page.contains("· 3 link(s), 2 with problems ·"));
    // Its header counts its STOPPED mirror topics with writes to the old source as problems,
    // never as "not ACTIVE".
    assert_eq!(
        (
            moved.mirror_topics_not_active,
            moved.mirror_topics_with_problems
        ),
        (0, 2)
    );
    assert!(page.contains("link c-moved <span class=\"muted\">(2 mirror topics, 2 with problems)"));
    let stuck = &c.links[0];
    assert_eq!(
        (
            stuck.mirror_topics_not_active,
            stuck.mirror_topics_with_problems
        ),
        (1, 1)
    );
}

/// A lag nothing is known of is `null` here and has no sample in `/metrics`: both read the
/// snapshot's one aggregation.
#[test]
fn unknown_lags_are_null_where_metrics_has_no_sample() {
    let mut board = BTreeMap::new();
    board.insert("A".to_string(), status(true));
    let mut never = mirror("ab", "never", MirrorState::Active, &[]);
    never.lags = vec![PartitionLag {
        partition: 0,
        fetched: None,
    }];
    let rest = ClusterSnapshot {
        links: vec![link("ab", LinkState::Active)],
        mirrors: vec![never],
        partition_metrics: false,
    };
    // One partition caught up (0 s), one lagging whose record could not be read.
    let measured = |partition, destination, lag_seconds| MeasuredPartition {
        partition,
        destination: Some(destination),
        source: Some(10),
        lag_seconds,
        ..Default::default()
    };
    let kafka = KafkaSnapshot {
        mirrors: vec![MeasuredMirror {
            link: "ab".into(),
            mirror_topic: "never".into(),
            partitions: vec![measured(0, 10, Some(0.0)), measured(1, 4, None)],
            ..Default::default()
        }],
        offset_sync: vec![],
        partition_metrics: false,
        ..Default::default()
    };
    use crate::render::Exposition;
    use crate::snapshot::Publish as _;
    let exposition = Exposition::new(Default::default());
    exposition.publish_rest("A", Some(Arc::new(rest.clone())));
    exposition.publish_kafka("A", Some(Arc::new(kafka.clone())));
    let text = exposition.render();
    let mut snapshots = BTreeMap::new();
    snapshots.insert("A".to_string(), latest(rest, Some(kafka)));
    let v = view(&board, &snapshots);
    let l = &v.clusters[0].links[0];
    let m = &l.mirrors[0];
    assert_eq!((m.lag_messages, m.lag_seconds), (None, None));
    assert_eq!((l.lag_messages, l.lag_seconds), (None, None));
    assert_eq!(m.measured_lag_messages, Some(6));
    for family in [
        "clusterlink_mirror_topic_lag_messages{",
        "clusterlink_mirror_topic_max_partition_lag_messages{",
        "clusterlink_mirror_topic_lag_seconds{",
        "clusterlink_link_lag_seconds{",
    ] {
        assert!(!text.contains(family), "{family} in\n{text}");
    }
    assert!(text.contains("clusterlink_mirror_topic_unknown_lag_partitions{kafka_cluster=\"A\",link=\"ab\",mirror_topic=\"never\"} 1\n"));
    assert!(text.contains("clusterlink_mirror_topic_measured_lag_messages{kafka_cluster=\"A\",link=\"ab\",mirror_topic=\"never\"} 6\n"));
}

#[test]
fn every_upstream_text_is_escaped() {
    let hostile = "<script>alert(\"x\")</script>&'";
    let mut board = BTreeMap::new();
    let mut s = status(false);
    s.last_error = Some(hostile.into());
    board.insert(hostile.to_string(), s);
    let mut l = link(hostile, LinkState::Failed);
    l.error_message = Some(hostile.into());
    let mut m = mirror(hostile, hostile, MirrorState::Failed, &[1]);
    m.error = Some(hostile.into());
    let snapshot = ClusterSnapshot {
        links: vec![l],
        mirrors: vec![m],
        partition_metrics: false,
    };
    let mut snapshots = BTreeMap::new();
    snapshots.insert(hostile.to_string(), latest(snapshot, None));
    let v = view(&board, &snapshots);
    let page = html::render(&v, &options());
    assert_eq!(
        page.matches("<script>").count(),
        1,
        "only the page's own script"
    );
    assert!(!page.contains("alert(\""), "{page}");
    let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;";
    // Cluster name, its error, link name, link error, mirror name, source, error, and the
    // filter attributes of the three rows.
    assert!(page.matches(escaped).count() >= 7, "{page}");
    let json: serde_json::Value = serde_json::from_str(&v.to_json()).unwrap();
    assert_eq!(
        json["clusters"][0]["name"], hostile,
        "JSON keeps the text, JSON-escaped"
    );
}

fn options() -> PageOptions<'static> {
    PageOptions {
        telemetry_path: "/metrics",
        refresh_seconds: 5,
        version: "test",
    }
}

/// The text between `open` and the next `close` in `page`.
fn between<'a>(page: &'a str, open: &str, close: &str) -> &'a str {
    let start = page.find(open).expect("open tag") + open.len();
    let len = page[start..].find(close).expect("close tag");
    &page[start..start + len]
}

#[test]
fn the_csp_allows_exactly_the_inline_style_and_script() {
    use base64::Engine as _;
    let page = html::render(&three_clusters(), &options());
    let csp = html::content_security_policy();
    assert!(!csp.contains("unsafe"), "{csp}");
    assert!(csp.starts_with("default-src 'none';"), "{csp}");
    for (open, close, directive) in [
        ("<script>", "</script>", "script-src"),
        ("<style>", "</style>", "style-src"),
    ] {
        let text = between(&page, open, close);
        let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
        let hash = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
        assert!(
            csp.contains(&format!("{directive} 'sha256-{hash}';")),
            "{directive} of {csp} does not allow the page's {open}"
        );
    }
    assert!(
        !page.contains(" style=\""),
        "inline style attributes need 'unsafe-inline'"
    );
    let handler = regex::Regex::new(r"<[^>]*\son[a-z]+\s*=").unwrap();
    assert!(!handler.is_match(&page), "no inline event handlers");
    // The runbook links are the only absolute URLs: navigation, not assets.
    let runbook = regex::Regex::new(r#"<a href="https://[^"]*" rel="noreferrer" "#).unwrap();
    assert!(
        runbook.is_match(&page),
        "the down cluster links its runbook"
    );
    let rest = runbook.replace_all(&page, "");
    assert!(
        !rest.contains("http://") && !rest.contains("https://"),
        "no external asset"
    );
    hyper::header::HeaderValue::from_str(csp).expect("a valid header value");
}

#[test]
fn the_refresh_period_comes_from_the_query() {
    assert_eq!(html::refresh_seconds(None), html::DEFAULT_REFRESH_SECONDS);
    assert_eq!(html::refresh_seconds(Some("refresh=2")), 2);
    assert_eq!(html::refresh_seconds(Some("x=1&refresh=0")), 0);
    assert_eq!(html::refresh_seconds(Some("refresh=-3")), 5);
    assert_eq!(
        html::refresh_seconds(Some("refresh=99999")),
        html::MAX_REFRESH_SECONDS
    );
    let page = html::render(
        &three_clusters(),
        &PageOptions {
            refresh_seconds: 2,
            ..options()
        },
    );
    assert!(page.contains("data-refresh-seconds=\"2\""));
}

#[test]
fn the_json_form_has_the_documented_fields() {
    let v = three_clusters();
    let json: serde_json::Value = serde_json::from_str(&v.to_json()).unwrap();
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&json), ["clusters", "generated_at_seconds", "shard"]);
    let c = &json["clusters"][1];
    assert_eq!(
        keys(c),
        [
            "collection_cycles",
            "config_references_missing",
            "data_age_seconds",
            "health",
            "kafka_connections",
            "kafka_data_age_seconds",
            "last_error",
            "last_error_age_seconds",
            "last_success_age_seconds",
            "links",
            "name",
            "problem",
            "problems",
            "readiness_unknown_links"
        ]
    );
    assert_eq!(json["clusters"][0]["health"], "down");
    let l = &c["links"][0];
    assert_eq!(
        keys(l),
        [
            "error",
            "error_message",
            "failover",
            "findings",
            "lag_messages",
            "lag_seconds",
            "measured_lag_messages",
            "mirror_topics",
            "mirror_topics_not_active",
            "mirror_topics_with_problems",
            "mirrors",
            "name",
            "not_copied_messages",
            "probe_last_received_age_seconds",
            "probe_latency_seconds",
            "problem",
            "problems",
            "readiness",
            "settings",
            "source_out_of_reach",
            "state",
            "state_age_seconds",
            "task_errors",
            "tasks",
            "tasks_in_error"
        ]
    );
    assert_eq!(
        keys(&l["mirrors"][0]),
        [
            "error",
            "lag_messages",
            "lag_seconds",
            "measured_lag_messages",
            "name",
            "not_copied_messages",
            "offset_sync_lag_messages",
            "partitions",
            "problem",
            "problems",
            "records_lost_to_retention",
            "records_lost_to_retention_last_hour",
            "records_lost_to_retention_seen_age_seconds",
            "replication_records_per_second",
            "source_out_of_reach",
            "source_partitions",
            "source_records_per_second",
            "source_records_since_stop",
            "source_retention_seconds",
            "source_topic",
            "state",
            "state_age_seconds",
            "transition_error_count",
            "transition_errors",
            "unmirrored_partitions"
        ]
    );
}

/// [`three_clusters`] with one of every nested object of the JSON form: a shard, a Kafka
/// connection, a missing reference, a finding, a task error, a fail-over, a readiness with a
/// blocker and a group, a transition error, and problems on every kind of row.
fn every_key() -> serde_json::Value {
    let mut v = three_clusters();
    v.shard = Some(ShardView {
        ordinal: 0,
        total_shards: 2,
        assigned_clusters: 2,
        configured_clusters: 3,
    });
    let problem = || RunbookLink {
        kind: Problem::LinkDown,
        alert: "ClusterLinkDown",
        runbook: "https://example.invalid/rb#clusterlinkdown".into(),
    };
    let c = &mut v.clusters[1];
    c.problems.push(problem());
    c.kafka_connections.push(KafkaConnectionView {
        role: "destination".into(),
        name: c.name.clone(),
        health: Health::Up,
        last_error: None,
        last_error_age_seconds: None,
    });
    c.config_references_missing.push(ReferenceView {
        kind: "link".into(),
        name: "dr-lnk".into(),
        key: "probes[0].link".into(),
        problem: "not listed".into(),
    });
    c.readiness_unknown_links.push("gone".into());
    let l = &mut c.links[2];
    l.problems.push(problem());
    l.findings.push(FindingView {
        kind: FindingKind::Stalled,
        mirror_topics: 1,
        count: None,
        text: "stalled".into(),
    });
    let error = || TaskErrorView {
        code: "E".into(),
        message: None,
    };
    l.tasks.push(TaskView {
        name: "ConsumerOffsetSync".into(),
        state: "IN_ERROR".into(),
        errors: vec![error()],
    });
    l.failover = Some(FailoverView {
        stage: FailoverStage::Partial,
        mirror_topics_stopped: 1,
        mirror_topics_pending_stopped: 0,
        mirror_topics_with_transition_errors: 0,
        completed_at_seconds: None,
    });
    l.readiness = Some(ReadinessView {
        verdict: "not_ready".into(),
        blockers: vec!["mirror_topics_not_active".into()],
        text: "Not ready: …".into(),
        rpo_seconds: 30.0,
        expected_loss_messages: None,
        expected_loss_messages_lower_bound: false,
        expected_loss_seconds: None,
        expected_loss_seconds_upper_bound: false,
        lag_seconds_measured_age_seconds: None,
        lag_against_rpo: None,
        failed_over_age_seconds: None,
        groups: vec![GroupLossView {
            consumer_group: "g".into(),
            mirror_topic: "t".into(),
            offset_sync_lag_messages: 0,
            lost_messages: None,
            reprocessed_messages: None,
        }],
    });
    let m = &mut l.mirrors[0];
    m.problems.push(problem());
    m.transition_errors.push(error());
    serde_json::from_str(&v.to_json()).unwrap()
}

/// The keys of a JSON document's objects, at any depth.
#[derive(Default)]
struct Keys {
    /// Every key.
    all: BTreeSet<String>,
    /// Keys of arrays.
    arrays: BTreeSet<String>,
    /// Keys with a value somewhere that is neither `null` nor an empty array or object.
    filled: BTreeSet<String>,
}

impl Keys {
    fn of(value: &serde_json::Value) -> Self {
        let mut keys = Self::default();
        keys.add(value);
        keys
    }

    fn add(&mut self, value: &serde_json::Value) {
        use serde_json::Value;
        let children: Vec<&Value> = match value {
            Value::Object(map) => {
                for (k, v) in map {
                    self.all.insert(k.clone());
                    let filled = match v {
                        Value::Array(a) => {
                            self.arrays.insert(k.clone());
                            !a.is_empty()
                        }
                        Value::Object(o) => !o.is_empty(),
                        Value::Null => false,
                        _ => true,
                    };
                    if filled {
                        self.filled.insert(k.clone());
                    }
                }
                map.values().collect()
            }
            Value::Array(items) => items.iter().collect(),
            _ => Vec::new(),
        };
        for child in children {
            self.add(child);
        }
    }
}

/// The keys README's `/status.json` paragraph lists: every quoted name between its opening
/// and "in the page's order", but the values of alternatives (`("up"|"down")`).
fn readme_keys() -> BTreeSet<String> {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("**`/status.json`** is the same view for scripts:")
        .expect("README's /status.json paragraph");
    let len = readme[start..]
        .find("in the page's\norder")
        .expect("its end, \"in the page's order\"");
    let text = &readme[start..start + len];
    let quoted = regex::Regex::new(r#""([a-z_]+)""#).unwrap();
    quoted
        .captures_iter(text)
        .filter(|c| {
            let m = c.get(0).unwrap();
            !text[..m.start()].ends_with('|') && !text[m.end()..].starts_with('|')
        })
        .map(|c| c[1].to_owned())
        .collect()
}

/// README lists exactly the keys of the JSON form, at every depth.
#[test]
fn the_readme_lists_every_key_of_the_json_form() {
    let keys = Keys::of(&every_key());
    // Every array has an element somewhere, and the objects that may be null are there.
    let objects = ["shard", "failover", "readiness"].map(String::from);
    let unfilled: Vec<&String> = keys
        .arrays
        .iter()
        .chain(&objects)
        .filter(|k| !keys.filled.contains(*k))
        .collect();
    assert!(unfilled.is_empty(), "every_key() leaves {unfilled:?} empty");
    let documented = readme_keys();
    let undocumented: Vec<&String> = keys.all.difference(&documented).collect();
    let unknown: Vec<&String> = documented.difference(&keys.all).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "README's /status.json paragraph: keys missing {undocumented:?}, keys the JSON form has \
         not {unknown:?}"
    );
}

/// A link whose mirror topics are all STOPPED is a completed fail-over, not a problem, with
/// its frozen lag shown as not copied; one with a mirror topic PENDING_STOPPED shows its
/// progress and the transition errors.
#[test]
fn a_completed_failover_is_no_problem_and_one_in_progress_shows_its_errors() {
    let mut board = BTreeMap::new();
    board.insert("dr".to_string(), status(true));
    let stopped = |link: &str, name: &str, lag: i64, at: i64| MirrorTopic {
        state_changed_ms: Some(at),
        ..mirror(link, name, MirrorState::Stopped, &[lag])
    };
    let failing = MirrorTopic {
        transition_errors: Some(crate::snapshot::TransitionErrors {
            count: 1,
            details: vec![TaskError {
                code: "INTERNAL_ERROR".into(),
                message: Some("Failed to <stop>".into()),
            }],
        }),
        ..mirror("b-going", "orders", MirrorState::PendingStopped, &[4])
    };
    let snapshot = ClusterSnapshot {
        links: vec![
            link("a-done", LinkState::Unavailable),
            link("b-going", LinkState::Active),
        ],
        mirrors: vec![
            stopped("a-done", "events", 199, 1_700_000_000_000),
            stopped("a-done", "orders", 1, 1_700_000_050_000),
            failing,
            stopped("b-going", "events", 3, 1_700_000_060_000),
            mirror("b-going", "live", MirrorState::Active, &[5]),
        ],
        partition_metrics: false,
    };
    let mut snapshots = BTreeMap::new();
    snapshots.insert("dr".to_string(), latest(snapshot, None));
    let v = view(&board, &snapshots);
    let c = &v.clusters[0];
    let names: Vec<&str> = c.links.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        ["b-going", "a-done"],
        "the completed one is not a problem"
    );
    let done = &c.links[1];
    assert!(!done.problem, "UNAVAILABLE, but every mirror topic STOPPED");
    assert_eq!(done.mirror_topics_not_active, 0);
    assert_eq!(done.mirror_topics_with_problems, 0);
    assert_eq!(done.lag_messages, None, "no live mirror topic");
    assert_eq!(done.not_copied_messages, Some(200));
    let f = done.failover.as_ref().unwrap();
    assert_eq!(f.stage, FailoverStage::Completed);
    assert_eq!(f.completed_at_seconds, Some(1_700_000_050.0));
    assert!(done.mirrors.iter().all(|m| !m.problem));
    assert_eq!(done.mirrors[0].not_copied_messages, Some(199));
    let going = &c.links[0];
    assert!(c.problem, "a mirror topic PENDING_STOPPED with an error");
    assert_eq!(
        going.lag_messages,
        Some(9),
        "live: the pending and the active one"
    );
    assert_eq!(going.not_copied_messages, Some(3));
    let f = going.failover.as_ref().unwrap();
    assert_eq!(f.stage, FailoverStage::InProgress);
    assert_eq!(
        (f.mirror_topics_stopped, f.mirror_topics_pending_stopped),
        (1, 1)
    );
    assert_eq!(f.mirror_topics_with_transition_errors, 1);
    assert_eq!(f.completed_at_seconds, None);
    let orders = &going.mirrors[0];
    assert_eq!((orders.name.as_str(), orders.problem), ("orders", true));
    assert_eq!(orders.transition_error_count, Some(1));
    assert_eq!(orders.not_copied_messages, None, "not stopped");
    assert_eq!(going.mirrors[1].transition_error_count, None, "not read");
    let page = html::render(
        &v,
        &PageOptions {
            telemetry_path: "/metrics",
            refresh_seconds: 0,
            version: "test",
        },
    );
    assert!(page.contains(
        "stopping mirror topics (promote/failover): 1 of 3 stopped, 1 with transition errors"
    ));
    assert!(
        !page.contains("fail-over in progress"),
        "the API cannot tell which"
    );
    assert!(page.contains("stopped (promoted or failed over) at 2023-11-14 22:14:10 UTC"));
    assert!(page.contains("transition error: INTERNAL_ERROR — Failed to &lt;stop&gt;"));
    assert!(page.contains("not copied: 199"));
    assert!(
        page.contains("— (not copied: 200)"),
        "the link: no live lag, 200 not copied"
    );
    let json: serde_json::Value = serde_json::from_str(&v.to_json()).unwrap();
    let l = &json["clusters"][0]["links"][1];
    assert_eq!(l["failover"]["stage"], "completed");
    assert_eq!(l["not_copied_messages"], 200);
    assert_eq!(l["problem"], false);
    let orders = &json["clusters"][0]["links"][0]["mirrors"][0];
    assert_eq!(orders["transition_errors"][0]["code"], "INTERNAL_ERROR");
}

/// The link's timing configs, in seconds, on the page and in the JSON form.
#[test]
fn link_timing_settings_are_shown_under_the_link() {
    let mut board = BTreeMap::new();
    board.insert("dr".to_string(), status(true));
    let mut configured = link("ab", LinkState::Active);
    configured.configs.availability_check_ms = Some(60_000);
    configured.configs.availability_check_failure_threshold = Some(5);
    configured.configs.consumer_offset_sync_ms = Some(30_000);
    configured.configs.acl_sync_ms = Some(1_500);
    let mut sync_off = link("ef", LinkState::Active);
    sync_off.configs.consumer_offset_sync = Some(false);
    sync_off.configs.consumer_offset_sync_ms = Some(30_000);
    let snapshot = ClusterSnapshot {
        links: vec![configured, link("cd", LinkState::Active), sync_off],
        mirrors: vec![],
        partition_metrics: false,
    };
    let mut snapshots = BTreeMap::new();
    snapshots.insert("dr".to_string(), latest(snapshot, None));
    let v = view(&board, &snapshots);
    let s = v.clusters[0].links[0].settings;
    assert_eq!(s.availability_check_interval_seconds, Some(60.0));
    assert_eq!(s.availability_check_failure_threshold, Some(5));
    assert_eq!(s.topic_config_sync_interval_seconds, None, "not reported");
    let page = html::render(
        &v,
        &PageOptions {
            telemetry_path: "/metrics",
            refresh_seconds: 0,
            version: "test",
        },
    );
    assert!(
        page.contains("availability check 60s × 5 · offset sync 30s · ACL sync 1.5s"),
        "{page}"
    );
    assert_eq!(
        page.matches("class=\"muted settings\"").count(),
        2,
        "none for cd"
    );
    // Offset sync disabled: its interval is not shown as if it ran.
    assert!(page.contains(">offset sync off</span>"), "{page}");
    assert!(!page.contains("offset sync off · offset sync"));
    assert_eq!(page.matches("offset sync 30s").count(), 1, "ab only");
    let json: serde_json::Value = serde_json::from_str(&v.to_json()).unwrap();
    let settings = &json["clusters"][0]["links"][0]["settings"];
    assert_eq!(settings["consumer_offset_sync_interval_seconds"], 30.0);
    let off = &json["clusters"][0]["links"][2]["settings"];
    assert_eq!(off["consumer_offset_sync_enabled"], false);
    assert!(settings["acl_sync_interval_seconds"] == 1.5);
}

#[test]
fn the_status_store_keeps_the_published_snapshots_and_link_state_times() {
    use crate::series::ClusterSeries;
    let exposition = StatusStore::new();
    let snapshot = |state| ClusterSnapshot {
        links: vec![link("ab", state)],
        mirrors: vec![],
        partition_metrics: false,
    };
    exposition.publish_rest("A", Some(Arc::new(snapshot(LinkState::Active))));
    let first = exposition.read().snapshots;
    let since = first["A"].link_state_since_ms["ab"];
    std::thread::sleep(Duration::from_millis(5));
    exposition.publish_rest("A", Some(Arc::new(snapshot(LinkState::Active))));
    assert_eq!(
        exposition.read().snapshots["A"].link_state_since_ms["ab"],
        since,
        "same state"
    );
    std::thread::sleep(Duration::from_millis(5));
    exposition.publish_rest("A", Some(Arc::new(snapshot(LinkState::Unavailable))));
    let changed = exposition.read().snapshots;
    assert!(
        changed["A"].link_state_since_ms["ab"] > since,
        "a new state starts now"
    );
    assert!(changed["A"].kafka.is_none());
    exposition.publish_kafka("A", Some(Arc::new(KafkaSnapshot::default())));
    assert!(exposition.read().snapshots["A"].kafka.is_some());
    exposition.publish_rest("A", None);
    assert!(
        exposition.read().snapshots["A"].rest.is_none(),
        "withdrawn with its series"
    );
    exposition.forget_cluster(&crate::reload::ClusterSetup {
        cluster: crate::config::ClusterConfig::platform("A", "http://a/kafka/v3"),
        sources: Vec::new(),
    });
    assert!(exposition.read().snapshots.is_empty());
}

#[test]
fn a_cluster_without_data_is_shown_starting_or_down() {
    let mut board = BTreeMap::new();
    board.insert("new".to_string(), ClusterStatus::default());
    let v = view(&board, &BTreeMap::new());
    assert_eq!(v.clusters[0].health, Health::Starting);
    assert!(v.clusters[0].links.is_empty());
    let page = html::render(&v, &options());
    assert!(
        page.contains("no data") && page.contains("STARTING"),
        "{page}"
    );
}

#[test]
fn a_probed_link_shows_its_last_latency_and_its_age() {
    let mut board = BTreeMap::new();
    board.insert("A".to_string(), status(true));
    let rest = ClusterSnapshot {
        links: vec![link("ab", LinkState::Active), link("cd", LinkState::Active)],
        mirrors: vec![],
        partition_metrics: false,
    };
    let mut snapshots = BTreeMap::new();
    snapshots.insert("A".to_string(), latest(rest, None));
    let mut data = data(&board, &snapshots);
    data.probes.insert(
        ("A".into(), "ab".into()),
        ProbeStatus {
            latency_seconds: 0.25,
            received_ms: NOW_MS - 3000,
        },
    );
    let v = StatusView::build(Inputs {
        data: &data,
        shard: None,
        now_ms: NOW_MS,
    });
    let links = &v.clusters[0].links;
    assert_eq!(links[0].name, "ab");
    assert_eq!(links[0].probe_latency_seconds, Some(0.25));
    assert_eq!(links[0].probe_last_received_age_seconds, Some(3.0));
    assert_eq!(links[1].probe_latency_seconds, None, "no probe on cd");
    let page = html::render(&v, &options());
    assert!(page.contains("250 ms (3s ago)"), "{page}");
}

#[test]
fn a_cluster_with_a_link_not_active_comes_before_one_with_only_a_task_in_error() {
    let mut board = BTreeMap::new();
    board.insert("a".to_string(), status(true));
    board.insert("b".to_string(), status(true));
    let mut tasks = link("l", LinkState::Active);
    tasks.tasks = vec![Task {
        name: "t".into(),
        state: Reported::Known(TaskState::InError),
        errors: 0,
        ..Task::default()
    }];
    let snapshot = |l: Link| ClusterSnapshot {
        links: vec![l],
        mirrors: vec![],
        partition_metrics: false,
    };
    let mut snapshots = BTreeMap::new();
    snapshots.insert("a".to_string(), latest(snapshot(tasks), None));
    let unavailable = link("l", LinkState::Unavailable);
    snapshots.insert("b".to_string(), latest(snapshot(unavailable), None));
    let v = view(&board, &snapshots);
    let order: Vec<&str> = v.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(order, ["b", "a"]);
}

#[test]
fn each_task_error_is_shown_escaped_and_in_the_json() {
    let hostile = "<b>denied</b> & 'x'";
    let mut board = BTreeMap::new();
    board.insert("A".to_string(), status(true));
    let mut l = link("l", LinkState::Active);
    let error = |code: &str, message: Option<&str>| TaskError {
        code: code.into(),
        message: message.map(Into::into),
    };
    l.tasks = vec![
        Task {
            name: "AclSync".into(),
            state: Reported::Known(TaskState::InError),
            errors: 2,
            error_details: vec![
                error("MISCONFIGURATION_ERROR", Some(hostile)),
                error("TIMEOUT", None),
            ],
        },
        Task {
            name: "AutoCreateMirror".into(),
            state: Reported::Known(TaskState::InError),
            ..Task::default()
        },
        Task {
            name: "ConsumerOffsetSync".into(),
            state: Reported::Known(TaskState::Active),
            ..Task::default()
        },
    ];
    let mut snapshots = BTreeMap::new();
    let rest = ClusterSnapshot {
        links: vec![l],
        ..ClusterSnapshot::default()
    };
    snapshots.insert("A".to_string(), latest(rest, None));
    let v = view(&board, &snapshots);
    let page = html::render(&v, &options());
    let cell = between(&page, "link l ", "</tr>");
    assert!(
        cell.contains(
            "<td class=\"err\">AclSync: MISCONFIGURATION_ERROR — &lt;b&gt;denied&lt;/b&gt; \
             &amp; &#39;x&#39;<br>AclSync: TIMEOUT<br>AutoCreateMirror: IN_ERROR<div class=\"rb\">runbook: "
        ),
        "{cell}"
    );
    assert!(!cell.contains("ConsumerOffsetSync"), "{cell}");
    let json: serde_json::Value = serde_json::from_str(&v.to_json()).unwrap();
    let tasks = &json["clusters"][0]["links"][0]["tasks"];
    assert_eq!(tasks.as_array().map(Vec::len), Some(3), "{tasks}");
    assert_eq!(tasks[0]["name"], "AclSync");
    assert_eq!(tasks[0]["state"], "IN_ERROR");
    assert_eq!(tasks[0]["errors"][0]["code"], "MISCONFIGURATION_ERROR");
    assert_eq!(tasks[0]["errors"][0]["message"], hostile);
    assert_eq!(tasks[0]["errors"][1]["message"], serde_json::Value::Null);
    assert_eq!(tasks[2]["state"], "ACTIVE");
    assert_eq!(tasks[2]["errors"], serde_json::json!([]));
}

#[test]
fn mirror_topic_counts_are_singular_or_plural() {
    let mut board = BTreeMap::new();
    board.insert("A".to_string(), status(true));
    let rest = ClusterSnapshot {
        links: vec![
            link("one", LinkState::Active),
            link("two", LinkState::Active),
        ],
        mirrors: vec![
            mirror("one", "t", MirrorState::Active, &[0]),
            mirror("two", "t1", MirrorState::Active, &[0]),
            mirror("two", "t2", MirrorState::Active, &[0]),
        ],
        partition_metrics: false,
    };
    let mut snapshots = BTreeMap::new();
    snapshots.insert("A".to_string(), latest(rest, None));
    let page = html::render(&view(&board, &snapshots), &options());
    assert!(page.contains("link one <span class=\"muted\">(1 mirror topic, 0 with problems)"));
    assert!(page.contains("link two <span class=\"muted\">(2 mirror topics, 0 with problems)"));
}

#[test]
fn a_kafka_connection_down_is_shown_and_sorted_first() {
    use crate::snapshot::Role;
    let mut board = BTreeMap::new();
    for name in ["a-kafka", "b-link-error", "c-failed-link"] {
        board.insert(name.to_string(), status(true));
    }
    let one_link = |l: Link| {
        latest(
            ClusterSnapshot {
                links: vec![l],
                ..ClusterSnapshot::default()
            },
            None,
        )
    };
    let mut snapshots = BTreeMap::new();
    snapshots.insert(
        "a-kafka".to_string(),
        one_link(link("l", LinkState::Active)),
    );
    let mut with_error = link("l", LinkState::Active);
    with_error.error = Reported::Known(LinkError::TimeoutError);
    snapshots.insert("b-link-error".to_string(), one_link(with_error));
    let failed = one_link(link("l", LinkState::Failed));
    snapshots.insert("c-failed-link".to_string(), failed);
    let connections = StatusStore::new();
    let labels = |connection: &str, role| ("a-kafka".to_owned(), role, connection.to_owned());
    connections.set_connection_up(labels("a-kafka", Role::Destination), true);
    let source = labels("<src>", Role::Source);
    connections.set_connection_error(source.clone(), "connect: <refused>".into(), NOW_MS - 5000);
    connections.set_connection_up(source.clone(), false);
    let build = |kafka: Option<&StatusStore>| {
        let mut data = data(&board, &snapshots);
        if let Some(store) = kafka {
            data.connections = store.read().connections;
        }
        StatusView::build(Inputs {
            data: &data,
            shard: None,
            now_ms: NOW_MS,
        })
    };
    let v = build(Some(&connections));
    let names: Vec<&str> = v.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["c-failed-link", "a-kafka", "b-link-error"],
        "a connection down after a link not ACTIVE, before a link error"
    );
    let a = &v.clusters[1];
    assert!(a.problem, "a connection down is a problem");
    let page = html::render(&v, &options());
    let row = between(&page, "<td>a-kafka</td>", "</tr>");
    assert!(
        row.contains(
            " · Kafka: <span class=\"kafka\">destination a-kafka UP</span> · \
             <span class=\"err kafka\">source &lt;src&gt; DOWN (last error 5s ago: \
             connect: &lt;refused&gt;)</span>"
        ),
        "{row}"
    );
    let json: serde_json::Value = serde_json::from_str(&v.to_json()).unwrap();
    let k = &json["clusters"][1]["kafka_connections"];
    assert_eq!(k[0]["role"], "destination");
    assert_eq!(k[0]["health"], "up");
    assert_eq!(k[1]["role"], "source");
    assert_eq!(k[1]["name"], "<src>");
    assert_eq!(k[1]["health"], "down");
    assert_eq!(k[1]["last_error"], "connect: <refused>");
    assert_eq!(k[1]["last_error_age_seconds"], 5.0);
    // Recovered: not a problem any more, the last error stays.
    connections.set_connection_up(source.clone(), true);
    let v = build(Some(&connections));
    assert_eq!(v.clusters[2].name, "a-kafka", "healthy last");
    let a = &v.clusters[2];
    assert!(!a.problem);
    assert_eq!(
        a.kafka_connections[1].last_error.as_deref(),
        Some("connect: <refused>")
    );
    let without_source = StatusStore::new();
    without_source.set_connection_up(labels("a-kafka", Role::Destination), true);
    assert_eq!(
        build(Some(&without_source)).clusters[2]
            .kafka_connections
            .len(),
        1
    );
    assert!(build(None).clusters[2].kafka_connections.is_empty());
}

#[test]
fn a_shard_says_which_and_how_many_clusters() {
    use crate::shard::{ShardMetrics, Sharding};
    let metrics = ShardMetrics::default();
    let configured: Vec<String> = ["a", "b", "c"].map(str::to_owned).to_vec();
    let sharding = Sharding::new(1, std::num::NonZeroU32::new(2).unwrap()).unwrap();
    metrics.record(&sharding, &configured);
    let mine = configured.iter().filter(|c| sharding.owns(c)).count() as u64;
    let shard = ShardView::of(&sharding, &metrics);
    assert_eq!(
        shard,
        Some(ShardView {
            ordinal: 1,
            total_shards: 2,
            assigned_clusters: mine,
            configured_clusters: 3
        })
    );
    assert_eq!(ShardView::of(&Sharding::default(), &metrics), None);
    let board = BTreeMap::new();
    let latest = BTreeMap::new();
    let mut v = view(&board, &latest);
    v.shard = shard;
    let page = html::render(&v, &options());
    let summary = between(&page, "<p id=\"summary\">", "</p>");
    assert!(
        summary.starts_with(&format!(
            "shard 1 of 2 · {mine} of 3 configured clusters · "
        )),
        "{summary}"
    );
    let json: serde_json::Value = serde_json::from_str(&v.to_json()).unwrap();
    assert_eq!(json["shard"]["ordinal"], 1);
    assert_eq!(json["shard"]["total_shards"], 2);
    assert_eq!(json["shard"]["assigned_clusters"], mine);
    assert_eq!(json["shard"]["configured_clusters"], 3);
    let unsharded = view(&board, &latest);
    let page = html::render(&unsharded, &options());
    assert!(!page.contains("shard "), "not sharded: no shard line");
    let json: serde_json::Value = serde_json::from_str(&unsharded.to_json()).unwrap();
    assert!(json["shard"].is_null());
}

/// The readiness line: the verdict and its reasons, the expected loss (`≤` with the age of
/// the last measurement while it is an upper bound) coloured against the RPO, and per group
/// what it would lose and re-process; the JSON form carries the same values as `/metrics`.
#[test]
fn each_link_shows_its_readiness_and_expected_loss() {
    use crate::config::FailoverReadinessConfig;
    use crate::snapshot::{assess, KafkaSide, ReadinessInputs, SourceRead};
    let rest = ClusterSnapshot {
        links: vec![
            link("ab", LinkState::Active),
            link("gone", LinkState::Active),
        ],
        mirrors: vec![
            mirror("ab", "t", MirrorState::Active, &[7]),
            mirror("gone", "t2", MirrorState::Stopped, &[199]),
        ],
        partition_metrics: false,
    };
    let measured = |seconds: Option<f64>, source| KafkaSnapshot {
        mirrors: vec![MeasuredMirror {
            link: "ab".into(),
            mirror_topic: "t".into(),
            partitions: vec![MeasuredPartition {
                partition: 0,
                destination: Some(10),
                source: seconds.map(|_| 17),
                lag_seconds: seconds,
                ..MeasuredPartition::default()
            }],
            ..MeasuredMirror::default()
        }],
        offset_sync: vec![OffsetSyncLag {
            link: "ab".into(),
            consumer_group: "orders-app".into(),
            mirror_topic: "t".into(),
            lag: 9,
            unreplicated: Some(4),
            unsynced: Some(5),
        }],
        sources: [("ab".to_owned(), source)].into(),
        ..KafkaSnapshot::default()
    };
    let mut policy = FailoverReadinessConfig::default();
    policy.links.insert("typo".into(), policy.default);
    let k1 = measured(Some(200.0), SourceRead::Read);
    let first = assess(ReadinessInputs {
        rest: Some(&rest),
        kafka: KafkaSide::Measured(&k1, NOW_MS - 60_000),
        policy: &policy,
        previous: None,
        now_ms: NOW_MS - 60_000,
    });
    let k2 = measured(None, SourceRead::Failed);
    let second = assess(ReadinessInputs {
        rest: Some(&rest),
        kafka: KafkaSide::Measured(&k2, NOW_MS),
        policy: &policy,
        previous: Some(&first),
        now_ms: NOW_MS,
    });
    let mut board = BTreeMap::new();
    board.insert("A".to_string(), status(true));
    let mut snapshots = BTreeMap::new();
    snapshots.insert("A".to_string(), latest(rest, Some(k2)));
    let mut data = data(&board, &snapshots);
    data.readiness.insert("A".into(), Arc::new(second));
    let v = StatusView::build(Inputs {
        data: &data,
        shard: None,
        now_ms: NOW_MS,
    });
    let c = &v.clusters[0];
    assert_eq!(c.readiness_unknown_links, ["typo"]);
    let ab = c.links.iter().find(|l| l.name == "ab").unwrap();
    let r = ab.readiness.as_ref().unwrap();
    assert_eq!(
        (r.verdict.as_str(), r.blockers.as_slice()),
        ("unknown", &["source_unreadable".to_owned()][..])
    );
    assert_eq!(r.text, "Unknown: source cluster cannot be read");
    // 200 s measured a minute ago: ≤ 260 s, against an RPO of 300 s.
    assert_eq!(r.expected_loss_seconds, Some(260.0));
    assert!(r.expected_loss_seconds_upper_bound);
    assert_eq!(r.lag_seconds_measured_age_seconds, Some(60.0));
    assert_eq!(r.lag_against_rpo.as_deref(), Some("warn"));
    // A page built 100 s later: the bound grows with the age shown beside it.
    let later = StatusView::build(Inputs {
        data: &data,
        shard: None,
        now_ms: NOW_MS + 100_000,
    });
    let ab_later = later.clusters[0].links.iter().find(|l| l.name == "ab");
    let r_later = ab_later.unwrap().readiness.as_ref().unwrap();
    assert_eq!(r_later.expected_loss_seconds, Some(360.0));
    assert_eq!(r_later.lag_seconds_measured_age_seconds, Some(160.0));
    assert_eq!(
        r.expected_loss_messages,
        Some(7),
        "the REST lag: not measured now"
    );
    assert_eq!(
        (r.groups[0].lost_messages, r.groups[0].reprocessed_messages),
        (Some(4), Some(5))
    );
    let gone = c.links.iter().find(|l| l.name == "gone").unwrap();
    assert_eq!(gone.readiness.as_ref().unwrap().verdict, "failed_over");
    let page = html::render(&v, &options());
    for text in [
        "<div class=\"rd warn\" data-verdict=\"unknown\">Unknown: source cluster cannot be read · expected loss: ≥ 7 messages · ≤ 260.00 s (last measured 1m 0s ago) (RPO 5m 0s)",
        "<br>group orders-app on t: would lose 4, re-process 5</div>",
        "<div class=\"rd wait\" data-verdict=\"failed_over\">Failed over at 2023-11-14 22:13:30 UTC (1m 30s ago)</div>",
        "failover_readiness.links names links the REST API does not list: typo",
    ] {
        assert!(page.contains(text), "no {text} in\n{page}");
    }
    let json: serde_json::Value = serde_json::from_str(&v.to_json()).unwrap();
    let r = &json["clusters"][0]["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "ab")
        .unwrap()["readiness"];
    assert_eq!(r["expected_loss_seconds"], 260.0);
    assert_eq!(r["groups"][0]["lost_messages"], 4);
}

/// A link partly failed over (one mirror topic `STOPPED`, one still mirroring and caught up)
/// whose old source still receives writes is never "Ready to fail over": its line says what
/// was stopped and what was written to the old source since.
#[test]
fn a_partly_failed_over_link_is_not_ready_to_fail_over() {
    use crate::config::FailoverReadinessConfig;
    use crate::snapshot::{assess, KafkaSide, ReadinessInputs, SourceRead};
    let rest = ClusterSnapshot {
        links: vec![link("dr", LinkState::Active)],
        mirrors: vec![
            mirror("dr", "orders", MirrorState::Stopped, &[3]),
            mirror("dr", "payments", MirrorState::Active, &[0]),
        ],
        partition_metrics: false,
    };
    let kafka = KafkaSnapshot {
        mirrors: vec![MeasuredMirror {
            link: "dr".into(),
            mirror_topic: "payments".into(),
            partitions: vec![MeasuredPartition {
                partition: 0,
                destination: Some(10),
                source: Some(10),
                lag_seconds: Some(0.0),
                ..MeasuredPartition::default()
            }],
            ..MeasuredMirror::default()
        }],
        stopped: vec![StoppedMirror {
            link: "dr".into(),
            mirror_topic: "orders".into(),
            source_records_since_stop: Some(25),
        }],
        sources: [("dr".to_owned(), SourceRead::Read)].into(),
        ..KafkaSnapshot::default()
    };
    let readiness = assess(ReadinessInputs {
        rest: Some(&rest),
        kafka: KafkaSide::Measured(&kafka, NOW_MS),
        policy: &FailoverReadinessConfig::default(),
        previous: None,
        now_ms: NOW_MS,
    });
    let mut board = BTreeMap::new();
    board.insert("A".to_string(), status(true));
    let mut snapshots = BTreeMap::new();
    snapshots.insert("A".to_string(), latest(rest, Some(kafka)));
    let mut data = data(&board, &snapshots);
    data.readiness.insert("A".into(), Arc::new(readiness));
    let v = StatusView::build(Inputs {
        data: &data,
        shard: None,
        now_ms: NOW_MS,
    });
    let l = &v.clusters[0].links[0];
    let r = l.readiness.as_ref().unwrap();
    assert_eq!(
        (r.verdict.as_str(), r.blockers.as_slice()),
        (
            "not_ready",
            &[
                "mirror_topics_stopped".to_owned(),
                "old_source_writes".to_owned()
            ][..]
        )
    );
    let line = "Not ready: mirror topics stopped (promoted or failed over) (1 of 2), records \
                written to the old source since the stop (25)";
    assert_eq!(r.text, line);
    assert!(l.problem);
    let page = html::render(&v, &options());
    assert!(page.contains(line), "no {line} in\n{page}");
    assert!(!page.contains("Ready to fail over"), "{page}");
}

/// The Lag (messages) cells say which lag they show: the one measured over Kafka when known
/// (the REST lag stands still under a stalled fetcher), else the REST API's; while the source
/// is out of reach the REST value is unknown with its last value (and its age when the mirror
/// topic says since when), never a bare 0 that reads as caught up.
#[test]
fn lag_cells_say_which_lag_and_never_read_as_caught_up_while_the_source_is_out_of_reach() {
    let mut board = BTreeMap::new();
    board.insert("dr".to_string(), status(true));
    let rest = ClusterSnapshot {
        links: vec![
            link("a-stalled", LinkState::Active),
            link("b-out", LinkState::Active),
            link("c-rest-only", LinkState::Active),
        ],
        mirrors: vec![
            mirror("a-stalled", "orders", MirrorState::Active, &[0]),
            mirror("b-out", "gone", MirrorState::SourceUnavailable, &[0]),
            mirror("b-out", "quiet", MirrorState::Active, &[0, 0]),
            mirror("c-rest-only", "events", MirrorState::Active, &[5]),
        ],
        partition_metrics: false,
    };
    let kafka = KafkaSnapshot {
        mirrors: vec![MeasuredMirror {
            link: "a-stalled".into(),
            mirror_topic: "orders".into(),
            partitions: vec![MeasuredPartition {
                destination: Some(10),
                source: Some(17),
                ..Default::default()
            }],
            ..Default::default()
        }],
        sources: [
            ("a-stalled".to_string(), crate::snapshot::SourceRead::Read),
            ("b-out".to_string(), crate::snapshot::SourceRead::Failed),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    };
    let mut snapshots = BTreeMap::new();
    snapshots.insert("dr".to_string(), latest(rest, Some(kafka)));
    let v = view(&board, &snapshots);
    let l = |name: &str| v.clusters[0].links.iter().find(|l| l.name == name).unwrap();
    assert_eq!(l("a-stalled").measured_lag_messages, Some(7));
    assert!(!l("a-stalled").source_out_of_reach);
    assert!(l("b-out").source_out_of_reach);
    assert!(l("b-out").mirrors.iter().all(|m| m.source_out_of_reach));
    assert!(!l("c-rest-only").source_out_of_reach);
    let page = html::render(&v, &options());
    let row = |name: &str, kind: &str| {
        let at = page
            .find(&format!("class=\"{kind}\" data-c=\"0\""))
            .and_then(|_| page.find(&format!("data-name=\"{name}\">")))
            .unwrap();
        &page[at..at + page[at..].find("</tr>").unwrap()]
    };
    assert!(row("orders", "m").contains(">7 measured</td>"), "{page}");
    assert!(row("a-stalled", "l").contains(">7 measured</td>"));
    assert!(row("gone", "m")
        .contains(">unknown (source out of reach; REST last said 0, 1m 30s ago)</td>"));
    assert!(row("quiet", "m").contains(">unknown (source out of reach; REST last said 0)</td>"));
    assert!(row("b-out", "l").contains(">unknown (source out of reach; REST last said 0)</td>"));
    assert!(row("events", "m").contains(">5 REST</td>"));
    let json: serde_json::Value = serde_json::from_str(&v.to_json()).unwrap();
    let links = json["clusters"][0]["links"].as_array().unwrap();
    let out = links.iter().find(|l| l["name"] == "b-out").unwrap();
    assert_eq!(out["source_out_of_reach"], true);
    assert_eq!(out["mirrors"][0]["source_out_of_reach"], true);
    let stalled = links.iter().find(|l| l["name"] == "a-stalled").unwrap();
    assert_eq!(stalled["measured_lag_messages"], 7);
}

/// Once the fetcher passed the gap, `clusterlink_mirror_topic_records_lost_to_retention` is 0
/// again; the page and the JSON keep saying how many were lost for the hour the alert looks
/// back, with the time since the gap was last seen.
#[test]
fn records_lost_to_retention_stay_shown_after_the_gap_passed() {
    let mut board = BTreeMap::new();
    board.insert("dr".to_string(), status(true));
    let rest = ClusterSnapshot {
        links: vec![link("ab", LinkState::Active)],
        mirrors: vec![mirror("ab", "logs", MirrorState::Active, &[0])],
        partition_metrics: false,
    };
    let kafka = KafkaSnapshot {
        mirrors: vec![MeasuredMirror {
            link: "ab".into(),
            mirror_topic: "logs".into(),
            partitions: vec![MeasuredPartition {
                destination: Some(40),
                source: Some(40),
                lost_to_retention: Some(0),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut snapshots = BTreeMap::new();
    snapshots.insert("dr".to_string(), latest(rest, Some(kafka)));
    let mut data = data(&board, &snapshots);
    data.retention_losses.insert(
        ("dr".into(), "ab".into(), "logs".into()),
        crate::status::RetentionLoss {
            records: 21,
            last_seen_ms: NOW_MS - 180_000,
        },
    );
    let v = StatusView::build(Inputs {
        data: &data,
        shard: None,
        now_ms: NOW_MS,
    });
    let l = &v.clusters[0].links[0];
    let m = &l.mirrors[0];
    assert_eq!(m.records_lost_to_retention, Some(0), "the metric's value");
    assert_eq!(m.records_lost_to_retention_last_hour, Some(21));
    assert_eq!(m.records_lost_to_retention_seen_age_seconds, Some(180.0));
    assert!(m.problem && l.problem);
    let line = "21 records deleted at the source before they were mirrored (gap passed; last seen 3m 0s ago)";
    assert_eq!(m.kafka_findings(), [line]);
    assert_eq!(l.findings[0].count, Some(21));
    let page = html::render(&v, &options());
    assert!(page.contains(line), "{page}");
    let json: serde_json::Value = serde_json::from_str(&v.to_json()).unwrap();
    let jm = &json["clusters"][0]["links"][0]["mirrors"][0];
    assert_eq!(jm["records_lost_to_retention"], 0);
    assert_eq!(jm["records_lost_to_retention_last_hour"], 21);
}
