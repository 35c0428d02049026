//! Tests of the runbook links: every alert the mapping names exists (in the shipped rules and
//! as a runbook section), and every kind of problem the page shows carries its link, in the
//! HTML and in `/status.json`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{attach, Problem, RunbookBase};
use crate::snapshot::{
    ClusterSnapshot, KafkaSnapshot, Link, LinkState, MeasuredMirror, MeasuredPartition,
    MirrorState, MirrorTopic, Reported, Role, StoppedMirror, Task, TaskState, TransitionErrors,
};
use crate::status::{ClusterStatus, LatestSnapshots, StatusData, StatusStore};
use crate::status_page::html::{render, PageOptions};
use crate::status_page::{Inputs, ReadinessView, StatusView};

const NOW_MS: i64 = 1_700_000_100_000;
const BASE: &str = "https://wiki.example/runbooks.html";

/// The alert names of every shipped rule file (`- alert: Name` lines).
fn shipped_alerts() -> BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("alerts");
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with(".rules.yml") {
            let text = std::fs::read_to_string(&path).unwrap();
            names.extend(
                text.lines()
                    .filter_map(|l| l.trim().strip_prefix("- alert: "))
                    .map(|n| n.trim().to_owned()),
            );
        }
    }
    names
}

#[test]
fn every_alert_the_mapping_names_is_shipped_and_has_a_runbook_section() {
    let alerts = shipped_alerts();
    assert!(alerts.len() > 30, "read the rule files: {alerts:?}");
    let runbooks = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/runbooks.md"),
    )
    .unwrap();
    for p in Problem::ALL {
        assert!(alerts.contains(p.alert()), "{p:?}: no alert {}", p.alert());
        let heading = format!("\n### {}\n", p.alert());
        assert!(runbooks.contains(&heading), "{p:?}: no section {heading:?}");
    }
}

#[test]
fn a_link_is_the_base_then_the_alert_in_lower_case() {
    let l = RunbookBase::new(BASE).link(Problem::LinkDown);
    assert_eq!(l.runbook, format!("{BASE}#clusterlinkdown"));
    assert_eq!(l.alert, "ClusterLinkDown");
    let default = RunbookBase::default().link(Problem::Stalled).runbook;
    assert_eq!(
        default,
        "https://github.com/cluster-link-exporter/cluster-link-exporter/blob/main/docs/runbooks.md#clusterlinkmirrorstalled"
    );
    for p in Problem::ALL {
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, format!("\"{}\"", p.as_str()));
    }
}

fn link(name: &str, state: LinkState) -> Link {
    Link {
        name: name.into(),
        state: Reported::Known(state),
        ..Link::default()
    }
}

fn mirror(link: &str, name: &str, state: MirrorState) -> MirrorTopic {
    MirrorTopic {
        link: link.into(),
        name: name.into(),
        state: Reported::Known(state),
        ..MirrorTopic::default()
    }
}

fn up(cycles: u64, up: bool) -> ClusterStatus {
    ClusterStatus {
        up,
        cycles,
        ..ClusterStatus::default()
    }
}

/// Mirror topics with every state and finding that is a problem, on link `ab`.
fn problem_mirrors() -> Vec<MirrorTopic> {
    let mut mirrors: Vec<MirrorTopic> = [
        ("failed", MirrorState::Failed),
        ("unavailable", MirrorState::SourceUnavailable),
        ("paused", MirrorState::Paused),
        ("pending", MirrorState::PendingMirror),
        ("moved", MirrorState::Stopped),
        ("lossy", MirrorState::Active),
        ("stuck", MirrorState::Active),
        ("drifted", MirrorState::Active),
        ("old", MirrorState::Active),
    ]
    .into_iter()
    .map(|(n, s)| mirror("ab", n, s))
    .collect();
    mirrors.push(MirrorTopic {
        transition_errors: Some(TransitionErrors {
            count: 1,
            details: vec![],
        }),
        ..mirror("ab", "stopping", MirrorState::PendingStopped)
    });
    mirrors.push(MirrorTopic {
        error: Some("NO_ERROR_YET".into()),
        ..mirror("ab", "erring", MirrorState::Active)
    });
    mirrors
}

/// Kafka-side measurements that make `lossy`, `stuck`, `drifted`, `old` and `moved` findings.
fn problem_measurements() -> KafkaSnapshot {
    let measured = |name: &str, lost, rates: (f64, f64)| MeasuredMirror {
        link: "ab".into(),
        mirror_topic: name.into(),
        partitions: vec![MeasuredPartition {
            destination: Some(10),
            source: Some(10),
            lost_to_retention: Some(lost),
            ..MeasuredPartition::default()
        }],
        replication_rate: Some(rates.0),
        source_rate: Some(rates.1),
        ..MeasuredMirror::default()
    };
    KafkaSnapshot {
        mirrors: vec![
            measured("lossy", 21, (1.0, 1.0)),
            measured("stuck", 0, (0.0, 3.0)),
            MeasuredMirror {
                source_partitions: Some(5),
                unmirrored_partitions: Some(3),
                ..measured("drifted", 0, (1.0, 1.0))
            },
            MeasuredMirror {
                partitions: vec![MeasuredPartition {
                    destination: Some(10),
                    source: Some(12),
                    lag_seconds: Some(3000.0),
                    ..MeasuredPartition::default()
                }],
                source_retention_seconds: Some(4000.0),
                ..measured("old", 0, (1.0, 1.0))
            },
        ],
        stopped: vec![StoppedMirror {
            link: "ab".into(),
            mirror_topic: "moved".into(),
            source_records_since_stop: Some(7),
        }],
        ..KafkaSnapshot::default()
    }
}

/// Clusters `down`, `new` (no cycle yet) and `dr`: a Kafka connection down, links FAILED,
/// PAUSED, of an unknown state and with a task in error, and `ab` with [`problem_mirrors`].
fn problem_data() -> StatusData {
    let mut tasks = link("tasks", LinkState::Active);
    tasks.tasks = vec![Task {
        name: "AclSync".into(),
        state: Reported::Known(TaskState::InError),
        errors: 0,
        error_details: vec![],
    }];
    let rest = ClusterSnapshot {
        links: vec![
            link("ab", LinkState::Active),
            link("failed", LinkState::Failed),
            link("paused", LinkState::Paused),
            link("odd", LinkState::Unknown),
            tasks,
        ],
        mirrors: problem_mirrors(),
        partition_metrics: false,
    };
    let latest = LatestSnapshots {
        rest: Some((Arc::new(rest), NOW_MS - 1000)),
        kafka: Some((Arc::new(problem_measurements()), NOW_MS - 1000)),
        link_state_since_ms: BTreeMap::new(),
    };
    let store = StatusStore::new();
    store.set_runbook_base(RunbookBase::new(BASE));
    store.set_connection_up(("dr".into(), Role::Source, "src".into()), false);
    let mut data = store.read();
    data.collection.insert("down".into(), up(3, false));
    data.collection.insert("new".into(), up(0, false));
    data.collection.insert("dr".into(), up(3, true));
    data.snapshots.insert("dr".into(), latest);
    data
}

/// A readiness line that says not ready.
fn not_ready() -> ReadinessView {
    ReadinessView {
        verdict: "not_ready".into(),
        blockers: vec!["link_not_active".into()],
        text: "Not ready: link not active".into(),
        rpo_seconds: 300.0,
        expected_loss_messages: None,
        expected_loss_messages_lower_bound: false,
        expected_loss_seconds: None,
        expected_loss_seconds_upper_bound: false,
        lag_seconds_measured_age_seconds: None,
        lag_against_rpo: None,
        failed_over_age_seconds: None,
        groups: vec![],
    }
}

/// The view of [`problem_data`], with a readiness verdict and a name missing from the
/// configuration (both assessed elsewhere) added to `dr` and its links' problems attached
/// again, as the build does.
fn problem_view() -> StatusView {
    let data = problem_data();
    let mut view = StatusView::build(Inputs {
        data: &data,
        shard: None,
        now_ms: NOW_MS,
    });
    let dr = view.clusters.iter_mut().find(|c| c.name == "dr").unwrap();
    dr.readiness_unknown_links = vec!["typo".into()];
    dr.links
        .iter_mut()
        .find(|l| l.name == "failed")
        .unwrap()
        .readiness = Some(not_ready());
    attach(dr, &data.runbook_base);
    view
}

#[test]
fn every_kind_of_problem_shown_links_its_runbook_in_the_page_and_the_json() {
    let view = problem_view();
    let page = render(
        &view,
        &PageOptions {
            telemetry_path: "/metrics",
            refresh_seconds: 0,
            version: "test",
        },
    );
    let json: serde_json::Value = serde_json::from_str(&view.to_json()).unwrap();
    let mut in_json = BTreeSet::new();
    for c in json["clusters"].as_array().unwrap() {
        let links = c["links"].as_array().unwrap();
        let mirrors = links.iter().flat_map(|l| l["mirrors"].as_array().unwrap());
        let rows = std::iter::once(c).chain(links).chain(mirrors);
        for p in rows.flat_map(|r| r["problems"].as_array().unwrap()) {
            let (kind, alert) = (p["kind"].as_str().unwrap(), p["alert"].as_str().unwrap());
            let url = format!("{BASE}#{}", alert.to_lowercase());
            assert_eq!(p["runbook"].as_str(), Some(url.as_str()), "{kind}");
            in_json.insert(kind.to_owned());
        }
    }
    for p in Problem::ALL {
        assert!(in_json.contains(p.as_str()), "{p:?} not in the JSON");
        let anchor = format!(
            "<a href=\"{BASE}#{}\" rel=\"noreferrer\" data-kind=\"{}\">{}</a>",
            p.alert().to_lowercase(),
            p.as_str(),
            p.alert()
        );
        assert!(page.contains(&anchor), "{p:?} not linked: {anchor}");
    }
}

#[test]
fn every_row_that_is_a_problem_has_a_runbook_and_a_healthy_one_none() {
    let view = problem_view();
    let mut rows = 0;
    for c in &view.clusters {
        assert!(!c.problem || !c.problems.is_empty(), "cluster {}", c.name);
        for l in &c.links {
            assert!(!l.problem || !l.problems.is_empty(), "link {}", l.name);
            for m in &l.mirrors {
                assert!(!m.problem || !m.problems.is_empty(), "mirror {}", m.name);
                rows += 1;
            }
        }
    }
    assert_eq!(rows, problem_mirrors().len(), "every mirror topic checked");
    let store = StatusStore::new();
    let mut data = store.read();
    data.collection.insert("ok".into(), up(3, true));
    let rest = ClusterSnapshot {
        links: vec![link("ab", LinkState::Active)],
        mirrors: vec![mirror("ab", "t", MirrorState::Active)],
        partition_metrics: false,
    };
    data.snapshots.insert(
        "ok".into(),
        LatestSnapshots {
            rest: Some((Arc::new(rest), NOW_MS)),
            kafka: None,
            link_state_since_ms: BTreeMap::new(),
        },
    );
    let healthy = StatusView::build(Inputs {
        data: &data,
        shard: None,
        now_ms: NOW_MS,
    });
    let c = &healthy.clusters[0];
    assert!(c.problems.is_empty() && c.links[0].problems.is_empty());
    assert!(c.links[0].mirrors[0].problems.is_empty());
    assert!(!render(
        &healthy,
        &PageOptions {
            telemetry_path: "/metrics",
            refresh_seconds: 0,
            version: "test",
        }
    )
    .contains("class=\"rb\""));
}
