use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::config::{FailoverReadinessConfig, LinkReadinessConfig};
use crate::snapshot::{
    Fetched, MeasuredMirror, MeasuredPartition, MirrorTopic, OffsetSyncLag, PartitionLag, Reported,
    StoppedMirror, Task,
};

const NOW: i64 = 1_000_000;

fn link(name: &str, state: LinkState) -> Link {
    Link {
        name: name.into(),
        state: Reported::Known(state),
        ..Link::default()
    }
}

fn mirror(link: &str, name: &str, state: MirrorState, lag: i64) -> MirrorTopic {
    MirrorTopic {
        link: link.into(),
        name: name.into(),
        state: Reported::Known(state),
        state_changed_ms: Some(500),
        lags: vec![PartitionLag {
            partition: 0,
            fetched: Some(Fetched {
                lag,
                last_source_fetch_offset: 10,
            }),
        }],
        ..MirrorTopic::default()
    }
}

fn rest(links: Vec<Link>, mirrors: Vec<MirrorTopic>) -> ClusterSnapshot {
    ClusterSnapshot {
        links,
        mirrors,
        partition_metrics: false,
    }
}

/// A measurement of `link`'s mirror topic `t`: `lag` messages, `seconds` of lag (`None`: not
/// read), its source read as `source`.
fn kafka(link: &str, lag: i64, seconds: Option<f64>, source: SourceRead) -> KafkaSnapshot {
    let read = source == SourceRead::Read;
    KafkaSnapshot {
        mirrors: vec![MeasuredMirror {
            link: link.into(),
            mirror_topic: "t".into(),
            partitions: vec![MeasuredPartition {
                partition: 0,
                destination: Some(100),
                source: read.then_some(100 + lag),
                lag_seconds: if read { seconds } else { None },
                ..MeasuredPartition::default()
            }],
            ..MeasuredMirror::default()
        }],
        sources: BTreeMap::from([(link.to_owned(), source)]),
        ..KafkaSnapshot::default()
    }
}

fn policy(rpo_secs: u64) -> FailoverReadinessConfig {
    FailoverReadinessConfig {
        default: LinkReadinessConfig {
            rpo: Duration::from_secs(rpo_secs),
            max_offset_sync_lag_messages: None,
        },
        links: BTreeMap::new(),
    }
}

fn one(
    rest: Option<&ClusterSnapshot>,
    kafka: KafkaSide<'_>,
    policy: &FailoverReadinessConfig,
    previous: Option<&ClusterReadiness>,
) -> ClusterReadiness {
    assess(ReadinessInputs {
        rest,
        kafka,
        policy,
        previous,
        now_ms: NOW,
    })
}

fn healthy() -> ClusterSnapshot {
    rest(
        vec![link("ab", LinkState::Active)],
        vec![mirror("ab", "t", MirrorState::Active, 0)],
    )
}

#[test]
fn a_healthy_measured_link_within_its_rpo_is_ready() {
    let r = healthy();
    let k = kafka("ab", 3, Some(2.5), SourceRead::Read);
    let out = one(
        Some(&r),
        KafkaSide::Measured(&k, NOW - 1000),
        &policy(300),
        None,
    );
    let l = &out.links[0];
    assert_eq!(
        (l.verdict, l.blockers.as_slice()),
        (Verdict::Ready, &[][..])
    );
    let loss = l.expected_loss.unwrap();
    assert_eq!((loss.messages, loss.messages_measured), (Some(3), true));
    assert_eq!((loss.seconds, loss.seconds_upper_bound), (Some(2.5), false));
    assert_eq!(
        l.last_lag,
        Some(LastLag {
            seconds: 2.5,
            measured_ms: NOW - 1000
        })
    );
    assert_eq!(l.rpo_seconds, 300.0);
}

#[test]
fn each_definite_blocker_makes_it_not_ready() {
    let k = kafka("ab", 0, Some(0.0), SourceRead::Read);
    let measured = KafkaSide::Measured(&k, NOW);
    let check =
        |r: ClusterSnapshot, k: KafkaSide<'_>, p: &FailoverReadinessConfig, want: &[Blocker]| {
            let out = one(Some(&r), k, p, None);
            let l = &out.links[0];
            assert_eq!(l.blockers, want, "{r:?}");
            assert_eq!(l.verdict, Verdict::NotReady);
        };
    let p = policy(300);
    let mut r = healthy();
    r.links[0].state = Reported::Known(LinkState::Unavailable);
    check(r, measured, &p, &[Blocker::LinkNotActive]);
    let mut r = healthy();
    r.links[0].state = Reported::Other("SOMETHING_NEW".into());
    check(r, measured, &p, &[Blocker::LinkNotActive]);
    let mut r = healthy();
    r.links[0].state = Reported::Known(LinkState::Paused);
    r.mirrors[0].state = Reported::Known(MirrorState::LinkPaused);
    check(
        r,
        measured,
        &p,
        &[Blocker::LinkPaused, Blocker::MirrorTopicsPaused],
    );
    let mut r = healthy();
    r.links[0].error = Reported::Known(LinkError::AuthenticationError);
    check(r, measured, &p, &[Blocker::LinkError]);
    let mut r = healthy();
    r.links[0].tasks = vec![Task {
        name: "AclSync".into(),
        state: Reported::Known(TaskState::InError),
        ..Task::default()
    }];
    check(r, measured, &p, &[Blocker::TaskInError]);
    let mut r = healthy();
    r.mirrors.push(mirror("ab", "u", MirrorState::Failed, 0));
    r.mirrors
        .push(mirror("ab", "v", MirrorState::SourceUnavailable, 0));
    let out = one(Some(&r), measured, &p, None);
    assert_eq!(out.links[0].mirror_topics_not_active, 2);
    check(r, measured, &p, &[Blocker::MirrorTopicsNotActive]);
    // Lag above the RPO.
    let slow = kafka("ab", 50, Some(61.0), SourceRead::Read);
    check(
        healthy(),
        KafkaSide::Measured(&slow, NOW),
        &policy(60),
        &[Blocker::LagAboveRpo],
    );
    // A per-link RPO.
    let mut per_link = policy(300);
    per_link.links.insert(
        "ab".into(),
        LinkReadinessConfig {
            rpo: Duration::from_secs(10),
            max_offset_sync_lag_messages: Some(5),
        },
    );
    let mut synced = kafka("ab", 0, Some(11.0), SourceRead::Read);
    synced.offset_sync = vec![OffsetSyncLag {
        link: "ab".into(),
        consumer_group: "g".into(),
        mirror_topic: "t".into(),
        lag: 6,
        unreplicated: Some(4),
        unsynced: Some(2),
    }];
    check(
        healthy(),
        KafkaSide::Measured(&synced, NOW),
        &per_link,
        &[Blocker::LagAboveRpo, Blocker::OffsetSyncLagAboveLimit],
    );
    let out = one(
        Some(&healthy()),
        KafkaSide::Measured(&synced, NOW),
        &per_link,
        None,
    );
    let g = &out.links[0].groups[0];
    assert_eq!((g.lag, g.unreplicated, g.unsynced), (6, Some(4), Some(2)));
    // Without a limit, offset-sync lag does not block.
    let out = one(
        Some(&healthy()),
        KafkaSide::Measured(&synced, NOW),
        &policy(300),
        None,
    );
    assert_eq!(out.links[0].verdict, Verdict::Ready);
}

#[test]
fn what_cannot_be_read_is_unknown_never_ready() {
    let r = healthy();
    let p = policy(300);
    let verdict = |k: KafkaSide<'_>| {
        let out = one(Some(&r), k, &p, None);
        (out.links[0].verdict, out.links[0].blockers.clone())
    };
    assert_eq!(
        verdict(KafkaSide::NotConfigured),
        (Verdict::Unknown, vec![Blocker::KafkaNotConfigured])
    );
    assert_eq!(
        verdict(KafkaSide::NotMeasuring),
        (Verdict::Unknown, vec![Blocker::KafkaNotMeasuring])
    );
    let down = kafka("ab", 0, None, SourceRead::Failed);
    assert_eq!(
        verdict(KafkaSide::Measured(&down, NOW)),
        (Verdict::Unknown, vec![Blocker::SourceUnreadable])
    );
    let none = kafka("ab", 0, None, SourceRead::NotConfigured);
    assert_eq!(
        verdict(KafkaSide::Measured(&none, NOW)),
        (Verdict::Unknown, vec![Blocker::SourceNotConfigured])
    );
    // Partitions lag and none of their lag in seconds was read.
    let unread = kafka("ab", 7, None, SourceRead::Read);
    assert_eq!(
        verdict(KafkaSide::Measured(&unread, NOW)),
        (Verdict::Unknown, vec![Blocker::LagSecondsUnknown])
    );
    // The REST REST lag is the expected loss when nothing was measured.
    let mut lagging = healthy();
    lagging.mirrors[0] = mirror("ab", "t", MirrorState::Active, 9);
    let out = one(Some(&lagging), KafkaSide::NotConfigured, &p, None);
    let loss = out.links[0].expected_loss.unwrap();
    assert_eq!(
        (loss.messages, loss.messages_measured, loss.seconds),
        (Some(9), false, None)
    );
}

#[test]
fn the_last_known_lag_is_kept_as_an_upper_bound() {
    let r = healthy();
    let p = policy(300);
    let k = kafka("ab", 4, Some(20.0), SourceRead::Read);
    let first = one(Some(&r), KafkaSide::Measured(&k, NOW - 30_000), &p, None);
    // The source goes down: the last lag (20 s, 30 s ago) bounds the loss: ≤ 50 s.
    let down = kafka("ab", 0, None, SourceRead::Failed);
    let out = one(Some(&r), KafkaSide::Measured(&down, NOW), &p, Some(&first));
    let l = &out.links[0];
    assert_eq!(l.verdict, Verdict::Unknown);
    let loss = l.expected_loss.unwrap();
    assert_eq!((loss.seconds, loss.seconds_upper_bound), (Some(50.0), true));
    // The REST lag stands in for the messages, only as a lower bound: 0 is not "caught up".
    assert_eq!((loss.messages, loss.messages_measured), (Some(0), false));
    assert!(loss.messages_lower_bound);
    assert!(!first.links[0].expected_loss.unwrap().messages_lower_bound);
    assert_eq!(l.last_lag, first.links[0].last_lag, "kept, not replaced");
    // Kept across cycles, growing with time.
    let later = assess(ReadinessInputs {
        rest: Some(&r),
        kafka: KafkaSide::NotMeasuring,
        policy: &p,
        previous: Some(&out),
        now_ms: NOW + 10_000,
    });
    assert_eq!(later.links[0].expected_loss.unwrap().seconds, Some(60.0));
    // The REST collection fails too: unknown, with the bound still there.
    let withdrawn = assess(ReadinessInputs {
        rest: None,
        kafka: KafkaSide::NotMeasuring,
        policy: &p,
        previous: Some(&later),
        now_ms: NOW + 20_000,
    });
    let l = &withdrawn.links[0];
    assert_eq!(
        (l.verdict, l.blockers.as_slice()),
        (Verdict::Unknown, &[Blocker::RestCollectionFailing][..])
    );
    let loss = l.expected_loss.unwrap();
    assert_eq!((loss.seconds, loss.seconds_upper_bound), (Some(70.0), true));
    assert_eq!(loss.messages, None, "not a 0 that reads as caught up");
    // A last lag above the RPO is a definite blocker even while unmeasured.
    let slow = kafka("ab", 4, Some(400.0), SourceRead::Read);
    let was = one(Some(&r), KafkaSide::Measured(&slow, NOW), &p, None);
    let out = one(Some(&r), KafkaSide::Measured(&down, NOW), &p, Some(&was));
    assert_eq!(out.links[0].verdict, Verdict::NotReady);
    assert_eq!(
        out.links[0].blockers,
        [Blocker::LagAboveRpo, Blocker::SourceUnreadable]
    );
}

#[test]
fn a_link_whose_mirror_topics_all_stopped_is_failed_over() {
    let mut r = healthy();
    r.mirrors = vec![
        mirror("ab", "t", MirrorState::Stopped, 199),
        MirrorTopic {
            state_changed_ms: Some(900),
            ..mirror("ab", "u", MirrorState::Stopped, 0)
        },
    ];
    r.links[0].state = Reported::Known(LinkState::Unavailable);
    let out = one(Some(&r), KafkaSide::NotMeasuring, &policy(300), None);
    let l = &out.links[0];
    assert_eq!(
        (l.verdict, l.blockers.as_slice()),
        (Verdict::FailedOver, &[][..])
    );
    assert_eq!(l.failed_over_ms, Some(900));
    // One still pending: not failed over yet, and not ready.
    r.mirrors[1].state = Reported::Known(MirrorState::PendingStopped);
    let out = one(Some(&r), KafkaSide::NotMeasuring, &policy(300), None);
    assert_eq!(out.links[0].verdict, Verdict::NotReady);
    // Stopped mirror topics' frozen lag is not in the live loss.
    let mut r = healthy();
    r.mirrors
        .push(mirror("ab", "old", MirrorState::Stopped, 199));
    let out = one(Some(&r), KafkaSide::NotConfigured, &policy(300), None);
    assert_eq!(out.links[0].expected_loss.unwrap().messages, Some(0));
}

/// A link some of whose mirror topics are `STOPPED` while the others still mirror is partly
/// failed over: never `ready`, however healthy the rest (`mirror_topics_stopped`); records
/// written to the old source of a stopped one since its stop add `old_source_writes`.
#[test]
fn a_partly_failed_over_link_is_not_ready_and_says_so_with_its_old_source_writes() {
    let mut r = healthy();
    r.mirrors
        .push(mirror("ab", "promoted", MirrorState::Stopped, 5));
    let stopped = |n| StoppedMirror {
        link: "ab".into(),
        mirror_topic: "promoted".into(),
        source_records_since_stop: n,
    };
    let mut k = kafka("ab", 0, Some(0.0), SourceRead::Read);
    k.stopped = vec![stopped(Some(0))];
    let out = one(Some(&r), KafkaSide::Measured(&k, NOW), &policy(300), None);
    let l = &out.links[0];
    assert_eq!(
        (l.verdict, l.blockers.as_slice()),
        (Verdict::NotReady, &[Blocker::MirrorTopicsStopped][..])
    );
    assert_eq!((l.mirror_topics, l.mirror_topics_stopped), (1, 1));
    assert_eq!(l.old_source_records, 0);
    // The live mirror topic's loss only: the stopped one's frozen lag is not a lag.
    assert_eq!(l.expected_loss.unwrap().messages, Some(0));
    // Records written to the old source since the stop (another link's, a mirror topic's the
    // REST snapshot no longer lists as STOPPED and a count not read add nothing).
    k.stopped = vec![
        stopped(Some(25)),
        StoppedMirror {
            link: "other".into(),
            ..stopped(Some(7))
        },
        StoppedMirror {
            mirror_topic: "deleted".into(),
            ..stopped(Some(9))
        },
        StoppedMirror {
            mirror_topic: "t".into(),
            ..stopped(Some(3))
        },
        stopped(None),
    ];
    let out = one(Some(&r), KafkaSide::Measured(&k, NOW), &policy(300), None);
    let l = &out.links[0];
    assert_eq!(
        (l.verdict, l.blockers.as_slice()),
        (
            Verdict::NotReady,
            &[Blocker::MirrorTopicsStopped, Blocker::OldSourceWrites][..]
        )
    );
    assert_eq!(l.old_source_records, 25);
    // A mirror topic on its way (PENDING_STOPPED) beside a stopped one: both say so.
    r.mirrors[0].state = Reported::Known(MirrorState::PendingStopped);
    let out = one(Some(&r), KafkaSide::Measured(&k, NOW), &policy(300), None);
    assert_eq!(
        out.links[0].blockers,
        [
            Blocker::MirrorTopicsNotActive,
            Blocker::MirrorTopicsStopped,
            Blocker::OldSourceWrites
        ]
    );
    // Every mirror topic stopped: failed over, with no blockers (the writes to the old source
    // are the status page's finding and ClusterLinkWritesToOldSource's).
    r.mirrors[0].state = Reported::Known(MirrorState::Stopped);
    let out = one(Some(&r), KafkaSide::Measured(&k, NOW), &policy(300), None);
    let l = &out.links[0];
    assert_eq!(
        (l.verdict, l.blockers.as_slice()),
        (Verdict::FailedOver, &[][..])
    );
    // `t` stopped too: its count adds up.
    assert_eq!((l.mirror_topics_stopped, l.old_source_records), (2, 28));
}

#[test]
fn bad_input_never_panics_goes_negative_or_reads_ready() {
    let p = policy(300);
    // A link with no mirror topic: nothing to lose.
    let r = rest(vec![link("empty", LinkState::Active)], vec![]);
    let k = KafkaSnapshot::default();
    let out = one(Some(&r), KafkaSide::Measured(&k, NOW), &p, None);
    assert_eq!(out.links[0].verdict, Verdict::Ready);
    assert_eq!(out.links[0].expected_loss.unwrap().seconds, Some(0.0));
    // Never-fetched partitions (-1 sentinels): the REST lag is unknown, not 0.
    let mut r = healthy();
    r.mirrors[0].lags[0].fetched = None;
    let out = one(Some(&r), KafkaSide::NotConfigured, &p, None);
    assert_eq!(out.links[0].expected_loss.unwrap().messages, None);
    // A mirror topic of a link not listed, a measurement of a link deleted mid-drill, groups
    // of a link that is gone: ignored.
    let mut r = healthy();
    r.mirrors.push(mirror("gone", "x", MirrorState::Active, 5));
    let mut k = kafka("gone", 5, Some(999.0), SourceRead::Read);
    k.offset_sync.push(OffsetSyncLag {
        link: "gone".into(),
        consumer_group: "nobody".into(),
        mirror_topic: "x".into(),
        lag: -3,
        unreplicated: Some(-1),
        unsynced: None,
    });
    let out = one(Some(&r), KafkaSide::Measured(&k, NOW), &p, None);
    assert_eq!(out.links.len(), 1);
    assert_eq!(out.links[0].link, "ab");
    assert!(out.links[0].groups.is_empty());
    // A measured clock in the future, a negative measured lag: never negative.
    let future = ClusterReadiness {
        links: vec![LinkReadiness {
            last_lag: Some(LastLag {
                seconds: -5.0,
                measured_ms: NOW + 60_000,
            }),
            ..one(Some(&healthy()), KafkaSide::NotConfigured, &p, None).links[0].clone()
        }],
        unknown_links: vec![],
    };
    let out = one(Some(&healthy()), KafkaSide::NotMeasuring, &p, Some(&future));
    assert_eq!(out.links[0].expected_loss.unwrap().seconds, Some(0.0));
    // The REST side withdrawn before any assessment: nothing to say.
    assert_eq!(
        one(None, KafkaSide::NotMeasuring, &p, None),
        ClusterReadiness::default()
    );
}

#[test]
fn configured_links_the_api_does_not_list_are_reported() {
    let mut p = policy(300);
    for name in ["ab", "typo-link"] {
        p.links.insert(name.into(), LinkReadinessConfig::default());
    }
    let out = one(Some(&healthy()), KafkaSide::NotConfigured, &p, None);
    assert_eq!(out.unknown_links, ["typo-link"]);
    let out = one(None, KafkaSide::NotConfigured, &p, Some(&out));
    assert!(out.unknown_links.is_empty(), "cannot tell while REST fails");
}

#[test]
fn every_blocker_is_described_and_classified() {
    let definite: Vec<_> = Blocker::ALL.iter().filter(|b| b.is_definite()).collect();
    assert_eq!(definite.len(), 10);
    for b in Blocker::ALL {
        assert!(!b.describe().is_empty());
    }
}
