//! The golden exposition: the per-cluster families rendered from one fixed REST snapshot, one
//! fixed Kafka-side snapshot and the fail-over readiness assessed from both, compared with `src/render/testdata/exposition.txt`. Every
//! family has samples there, so the expected lines of a family are in that one file.
//! `UPDATE_GOLDEN=1 cargo test --lib render::golden` rewrites it (check the diff).

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;

use super::{Exposition, CLUSTER_FAMILIES};
use crate::config::{FailoverReadinessConfig, LinkReadinessConfig};
use crate::snapshot::{assess, ClusterReadiness, KafkaSide, ReadinessInputs};
use crate::snapshot::{
    CategoryCount, ClusterSnapshot, Fetched, KafkaSnapshot, Link, LinkConfigs, LinkError,
    LinkState, MeasuredMirror, MeasuredPartition, MirrorState, MirrorTopic, OffsetSyncLag,
    PartitionLag, Publish, Reported, StateCategory, StoppedMirror, Task, TaskState,
    TransitionErrors,
};

/// The golden file.
const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/src/render/testdata/exposition.txt"
);

/// A cluster with every REST-side family: a Cloud link (category counts, configs read, a
/// state the exporter does not know, a task in error) and a Platform one (nothing but its
/// name) whose only mirror topic was promoted, a mirror topic with known and unknown partition
/// lags and one in error with state transition errors.
fn rest() -> ClusterSnapshot {
    let fetched = |partition, lag, last_source_fetch_offset| PartitionLag {
        partition,
        fetched: Some(Fetched {
            lag,
            last_source_fetch_offset,
        }),
    };
    ClusterSnapshot {
        links: vec![
            Link {
                name: "ab".into(),
                id: Some("id-ab".into()),
                source_cluster_id: Some("src-a".into()),
                destination_cluster_id: Some(String::new()),
                remote_cluster_id: Some("src-a".into()),
                state: Reported::Other("SOMETHING_NEW".into()),
                error: Reported::Known(LinkError::AuthenticationError),
                tasks: vec![
                    Task {
                        name: "AclSync".into(),
                        state: Reported::Known(TaskState::InError),
                        errors: 2,
                        ..Default::default()
                    },
                    Task {
                        name: "ConsumerOffsetSync".into(),
                        state: Reported::Known(TaskState::Active),
                        ..Default::default()
                    },
                ],
                category_counts: Some(vec![
                    CategoryCount {
                        category: Reported::Known(StateCategory::Active),
                        count: 3,
                    },
                    CategoryCount {
                        category: Reported::Other(String::new()),
                        count: 1,
                    },
                ]),
                configs: LinkConfigs {
                    link_mode: Some("DESTINATION".into()),
                    connection_mode: Some("OUTBOUND".into()),
                    consumer_offset_sync: Some(true),
                    acl_sync: Some(false),
                    availability_check_ms: Some(60_000),
                    availability_check_failure_threshold: Some(5),
                    consumer_offset_sync_ms: Some(30_000),
                    topic_config_sync_ms: Some(5_000),
                    acl_sync_ms: Some(1_500),
                    ..Default::default()
                },
                ..Default::default()
            },
            Link {
                name: "cd".into(),
                state: Reported::Known(LinkState::Active),
                ..Default::default()
            },
        ],
        mirrors: vec![
            MirrorTopic {
                link: "ab".into(),
                name: "orders".into(),
                source_topic: Some("orders".into()),
                state: Reported::Known(MirrorState::Active),
                state_changed_ms: Some(1_700_000_000_500),
                claimed_partitions: Some(3),
                lags: vec![
                    fetched(1, 0, 70),
                    fetched(0, 5, 100),
                    PartitionLag {
                        partition: 2,
                        fetched: None,
                    },
                ],
                ..Default::default()
            },
            MirrorTopic {
                link: "ab".into(),
                name: "gone\"1".into(),
                state: Reported::Known(MirrorState::Failed),
                error: Some("SOURCE_TOPIC_MAY_BE_DELETED".into()),
                transition_errors: Some(TransitionErrors {
                    count: 2,
                    details: Vec::new(),
                }),
                ..Default::default()
            },
            MirrorTopic {
                link: "cd".into(),
                name: "promoted".into(),
                source_topic: Some("promoted".into()),
                state: Reported::Known(MirrorState::Stopped),
                state_changed_ms: Some(1_700_000_100_250),
                claimed_partitions: Some(1),
                lags: vec![fetched(0, 199, 4_000)],
                ..Default::default()
            },
        ],
        partition_metrics: true,
    }
}

/// The same cluster's Kafka-side measurements: every Kafka-side family.
fn kafka() -> KafkaSnapshot {
    let p = |partition, destination, source, lag_seconds| MeasuredPartition {
        partition,
        destination,
        source,
        lag_seconds,
        lost_to_retention: source.map(|_| if partition == 0 { 4 } else { 0 }),
    };
    KafkaSnapshot {
        mirrors: vec![MeasuredMirror {
            link: "ab".into(),
            mirror_topic: "orders".into(),
            partitions: vec![
                p(0, Some(10), Some(15), Some(2.5)),
                p(1, Some(70), Some(70), Some(0.0)),
                p(2, Some(3), None, None),
            ],
            replication_rate: Some(12.5),
            source_rate: Some(13.0),
            source_partitions: Some(5),
            unmirrored_partitions: Some(2),
            source_retention_seconds: Some(604_800.0),
        }],
        offset_sync: vec![OffsetSyncLag {
            link: "ab".into(),
            consumer_group: "g1".into(),
            mirror_topic: "orders".into(),
            lag: 12,
            unreplicated: Some(2),
            unsynced: Some(10),
        }],
        partition_metrics: true,
        stopped: vec![StoppedMirror {
            link: "cd".into(),
            mirror_topic: "promoted".into(),
            source_records_since_stop: Some(7),
        }],
        sources: Default::default(),
    }
}

/// The readiness assessed from the fixed snapshots, at a fixed time, with an RPO of its own
/// for `ab` and a configured link the snapshot does not list.
fn readiness() -> ClusterReadiness {
    let mut policy = FailoverReadinessConfig::default();
    for (link, rpo) in [("ab", 60), ("typo", 10)] {
        let own = LinkReadinessConfig {
            rpo: Duration::from_secs(rpo),
            max_offset_sync_lag_messages: None,
        };
        policy.links.insert(link.into(), own);
    }
    let (rest, kafka) = (rest(), kafka());
    assess(ReadinessInputs {
        rest: Some(&rest),
        kafka: KafkaSide::Measured(&kafka, 1_700_000_001_000),
        policy: &policy,
        previous: None,
        now_ms: 1_700_000_002_000,
    })
}

/// The exposition of the fixed snapshots (no self-metrics).
fn rendered() -> String {
    let e = Exposition::new(Registry::default());
    e.publish_rest("c1", Some(Arc::new(rest())));
    e.publish_kafka("c1", Some(Arc::new(kafka())));
    let readiness = super::render_readiness("c1", &readiness());
    e.set_part("c1", super::Side::Readiness, Some(readiness));
    e.render()
}

#[test]
fn the_exposition_of_the_fixed_snapshots_is_the_golden_file() {
    let text = rendered();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(GOLDEN, &text).expect("writing the golden file");
        return;
    }
    let golden = std::fs::read_to_string(GOLDEN).unwrap_or_default();
    if text != golden {
        let first = text
            .lines()
            .zip(golden.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(text.lines().count().min(golden.lines().count()));
        panic!(
            "the exposition differs from {GOLDEN} from line {}: rendered {:?}, golden {:?}. \
             If the change is meant, rewrite it with UPDATE_GOLDEN=1 cargo test --lib \
             render::golden and check the diff.",
            first + 1,
            text.lines().nth(first),
            golden.lines().nth(first)
        );
    }
}

#[test]
fn every_family_has_samples_in_the_golden_file() {
    let text = rendered();
    for def in CLUSTER_FAMILIES {
        let prefix = format!("{}{{", def.name);
        assert!(
            text.lines().any(|l| l.starts_with(&prefix)),
            "no sample of {} in the golden exposition: give the fixed snapshots what it needs",
            def.name
        );
    }
}
