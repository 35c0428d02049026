//! The pure parts of a measurement cycle, apart from the Kafka clients: which mirror
//! partitions to measure ([`plan`], bounded by what the responses list), which lagging
//! partitions to read for lag in seconds, most lagging first ([`lagging`]), and the lag
//! arithmetic ([`lag_seconds`], [`sync_lag`]), records lost to source retention
//! ([`lost_to_retention`]), replication rates between two cycles ([`rate`]), and the
//! `STOPPED` mirror topics whose old source is still watched for writes ([`stopped_plans`],
//! [`StopWatch`]: the records written there since the stop), and the probes' mirror topics
//! ([`probe_mirror_topic`]: left out of that watch; [`probe_sends`]: a probe stops writing to
//! the old source once its mirror topic is promoted or failed over).

use std::collections::{BTreeMap, HashMap};

use crate::config::ProbeConfig;
use crate::snapshot::{ClusterSnapshot, Link, MeasuredPartition, MirrorState, MirrorTopic};

/// (topic, partition).
pub(super) type TopicPartition = (String, i32);

/// (link, mirror topic, partition): one measured mirror partition.
pub(super) type MirrorPartition = (String, String, i32);

/// Partitions measured on the word of `num_partitions` alone (mirror topics whose response
/// lists no partition lags), over all mirror topics of one cycle.
pub(super) const MAX_CLAIMED_PARTITIONS: u64 = 100_000;

/// A mirror topic this cycle measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MirrorPlan {
    pub(super) link: String,
    pub(super) mirror_topic: String,
    pub(super) source_topic: String,
    /// Partitions `0..partitions` are measured.
    pub(super) partitions: i32,
    /// The link's source cluster (a `source_clusters` name); `None` when none is configured.
    pub(super) source: Option<String>,
    /// The mirror topic's partition count as REST says it (`num_partitions`, else as many
    /// as `mirror_lags` lists); `None` when it says neither. Not bounded as `partitions` is:
    /// only compared with the source topic's.
    pub(super) mirror_partitions: Option<i32>,
    /// A `STOPPED` mirror topic's source offsets as the link last fetched them before the
    /// stop, by partition (REST `last_source_fetch_offset`, frozen once `STOPPED`): the
    /// baseline of the writes to its old source. Empty for a live mirror topic.
    pub(super) stop_offsets: BTreeMap<i32, i64>,
}

impl MirrorPlan {
    /// The partitions of the source topic.
    pub(super) fn source_partitions(&self) -> impl Iterator<Item = TopicPartition> + '_ {
        (0..self.partitions).map(|p| (self.source_topic.clone(), p))
    }

    /// The partitions of the mirror topic.
    pub(super) fn mirror_partitions(&self) -> impl Iterator<Item = TopicPartition> + '_ {
        (0..self.partitions).map(|p| (self.mirror_topic.clone(), p))
    }

    /// The key of partition `p`.
    pub(super) fn key(&self, p: i32) -> MirrorPartition {
        (self.link.clone(), self.mirror_topic.clone(), p)
    }
}

/// The mirror topics to measure (`STOPPED` ones are regular topics: skipped), each with its
/// link's source cluster (`source_of`) and the partitions [`partitions_to_measure`] gives it;
/// and the partitions claimed by topics that list none, when more than the bound.
pub(super) fn plan(
    snapshot: &ClusterSnapshot,
    source_of: impl Fn(&Link) -> Option<String>,
) -> (Vec<MirrorPlan>, Option<u64>) {
    let mut claims_left = MAX_CLAIMED_PARTITIONS;
    let sources: HashMap<&str, Option<String>> = snapshot
        .links
        .iter()
        .map(|l| (l.name.as_str(), source_of(l)))
        .collect();
    let plans = snapshot
        .mirrors
        .iter()
        .filter(|m| !m.state.is(MirrorState::Stopped))
        .map(|m| MirrorPlan {
            link: m.link.clone(),
            mirror_topic: m.name.clone(),
            source_topic: m.source_topic.clone().unwrap_or_else(|| m.name.clone()),
            partitions: partitions_to_measure(m, &mut claims_left),
            source: sources.get(m.link.as_str()).cloned().flatten(),
            mirror_partitions: mirror_partitions(m),
            stop_offsets: BTreeMap::new(),
        })
        .collect();
    let claimed = snapshot
        .mirrors
        .iter()
        .filter(|m| m.lags.is_empty())
        .filter_map(|m| m.claimed_partitions)
        .fold(0, u64::saturating_add);
    (plans, (claimed > MAX_CLAIMED_PARTITIONS).then_some(claimed))
}

/// The `STOPPED` mirror topics whose source topic is still watched for writes: those with a
/// source cluster whose stop (REST `state_time_ms`) is at most `window_ms` before `now_ms`.
/// A mirror topic without `state_time_ms` is not watched (when it stopped is unknown). Their
/// partitions are bounded as [`plan`]'s are, with a bound of their own.
pub(super) fn stopped_plans(
    snapshot: &ClusterSnapshot,
    source_of: impl Fn(&Link) -> Option<String>,
    now_ms: i64,
    window_ms: i64,
) -> Vec<MirrorPlan> {
    let mut claims_left = MAX_CLAIMED_PARTITIONS;
    let sources: HashMap<&str, Option<String>> = snapshot
        .links
        .iter()
        .map(|l| (l.name.as_str(), source_of(l)))
        .collect();
    snapshot
        .mirrors
        .iter()
        .filter(|m| m.state.is(MirrorState::Stopped))
        .filter(|m| {
            m.state_changed_ms
                .is_some_and(|at| (0..=window_ms).contains(&now_ms.saturating_sub(at)))
        })
        .filter_map(|m| {
            let source = sources.get(m.link.as_str()).cloned().flatten()?;
            Some(MirrorPlan {
                link: m.link.clone(),
                mirror_topic: m.name.clone(),
                source_topic: m.source_topic.clone().unwrap_or_else(|| m.name.clone()),
                partitions: partitions_to_measure(m, &mut claims_left),
                source: Some(source),
                mirror_partitions: mirror_partitions(m),
                stop_offsets: m
                    .fetched()
                    .map(|(p, f)| (p, f.last_source_fetch_offset))
                    .collect(),
            })
        })
        .collect()
}

/// The old source of one watched `STOPPED` mirror topic: per partition, the source high
/// watermark of the first read after its stop (the baseline) and the records counted since.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct StopWatch {
    baseline: BTreeMap<i32, i64>,
    counted: BTreeMap<i32, i64>,
}

impl StopWatch {
    /// Records written to the source topic since the stop, from the high watermarks read this
    /// cycle (`None`: the source could not be read): the sum over partitions of the watermark
    /// minus the baseline. A partition read for the first time takes as its baseline the
    /// source offset the link last fetched before the stop (`stop_offsets`, REST
    /// `last_source_fetch_offset`: so the records written between the stop and this first
    /// read count, even after a fail-over during a source outage or an exporter restart),
    /// else today's watermark (counting 0). A partition whose watermark went down (the topic
    /// deleted and created again) starts again from it; a partition not read now (a negative watermark, a failed read, the source
    /// down) keeps its last count: records written cannot be unwritten, so the sum is still
    /// true as a lower bound, and a source outage does not end the alert on it. `None` until
    /// a partition was read.
    pub(super) fn update(
        &mut self,
        now: Option<&BTreeMap<i32, i64>>,
        stop_offsets: &BTreeMap<i32, i64>,
    ) -> Option<i64> {
        for (&p, &n) in now.into_iter().flatten() {
            if n < 0 {
                continue;
            }
            let at_stop = stop_offsets.get(&p).copied().filter(|o| *o >= 0);
            let b = self.baseline.entry(p).or_insert(at_stop.unwrap_or(n));
            if n < *b {
                *b = n;
            }
            self.counted.insert(p, n - *b);
        }
        if self.counted.is_empty() {
            return None;
        }
        Some(
            self.counted
                .values()
                .fold(0i64, |a, n| a.saturating_add(*n)),
        )
    }
}

/// The mirror topic of `probe` on its `link`: the configured one, else the link's
/// `cluster.link.prefix` + the probe topic.
pub(crate) fn probe_mirror_topic(probe: &ProbeConfig, link: &Link) -> String {
    let prefix = link.configs.cluster_link_prefix.as_deref().unwrap_or("");
    probe
        .mirror_topic
        .clone()
        .unwrap_or_else(|| format!("{prefix}{}", probe.topic))
}

/// Whether the probe of `link` through `mirror_topic` sends: not once the mirror topic is
/// promoted or failed over (`PENDING_STOPPED`, `STOPPED`), when its records would only be
/// writes to the old source that are never mirrored. Yes in every other state (a paused or
/// unavailable mirror is still the link's to measure) and while the mirror topic is not
/// listed.
pub(super) fn probe_sends(snapshot: &ClusterSnapshot, link: &str, mirror_topic: &str) -> bool {
    !snapshot
        .mirrors
        .iter()
        .filter(|m| m.link == link && m.name == mirror_topic)
        .any(|m| m.state.is(MirrorState::Stopped) || m.state.is(MirrorState::PendingStopped))
}

/// How many partitions (`0..n`) of a mirror topic to measure: as many as its `mirror_lags`
/// lists (one entry per partition), at most `num_partitions`; when it lists none,
/// `num_partitions` taken out of `claims_left`, so what a cycle measures is bounded by what
/// the responses contain, never by what they claim. Never negative.
pub(super) fn partitions_to_measure(m: &MirrorTopic, claims_left: &mut u64) -> i32 {
    let listed = u64::try_from(m.lags.len()).unwrap_or(u64::MAX);
    let n = if listed > 0 {
        m.claimed_partitions.map_or(listed, |c| c.min(listed))
    } else {
        let n = m.claimed_partitions.unwrap_or(0).min(*claims_left);
        *claims_left -= n;
        n
    };
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The mirror topic's partition count as REST says it: `num_partitions`, else the partitions
/// `mirror_lags` lists; `None` when neither says (or the claim is past `i32::MAX`).
fn mirror_partitions(m: &MirrorTopic) -> Option<i32> {
    match m.claimed_partitions {
        Some(c) => i32::try_from(c).ok(),
        None if m.lags.is_empty() => None,
        None => i32::try_from(m.lags.len()).ok(),
    }
}

/// A lagging partition waiting for its lag in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Lagging {
    /// Source minus destination high watermark (messages, positive).
    pub(super) lag: i64,
    /// The source partition.
    pub(super) source: TopicPartition,
    /// The destination's high watermark: the offset of the oldest record not yet mirrored.
    pub(super) offset: i64,
    pub(super) key: MirrorPartition,
}

/// The partitions of `plans` with both watermarks read whose source is ahead, most lagging
/// first; the caught-up ones get a lag in seconds of 0 in `results`.
pub(super) fn lagging(
    plans: &[&MirrorPlan],
    results: &mut BTreeMap<MirrorPartition, MeasuredPartition>,
) -> Vec<Lagging> {
    let mut out = Vec::new();
    for m in plans {
        for p in 0..m.partitions {
            let key = m.key(p);
            let Some(r) = results.get_mut(&key) else {
                continue;
            };
            let (Some(d), Some(s)) = (r.destination, r.source) else {
                continue;
            };
            if s > d {
                out.push(Lagging {
                    lag: s.saturating_sub(d),
                    source: (m.source_topic.clone(), p),
                    offset: d,
                    key,
                });
            } else {
                r.lag_seconds = Some(0.0);
            }
        }
    }
    out.sort_by_key(|l| std::cmp::Reverse(l.lag));
    out
}

/// Lag in seconds of a record written at `record_ms` (Unix ms), at `now_ms`: never negative
/// (a record timestamp from the future, or any i64 a producer set, counts as now).
pub(super) fn lag_seconds(now_ms: i64, record_ms: i64) -> f64 {
    now_ms.saturating_sub(record_ms).max(0) as f64 / 1000.0
}

/// The offset-sync lag of a group on one mirror topic, and its split by what a fail-over now
/// would do to the group (see [`sync_lag`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SyncLag {
    /// Committed offset on the source minus on the destination, summed (messages, at least 0).
    pub(super) lag: i64,
    /// The part the destination never replicated: lost to the group on a fail-over now
    /// (`None` when a committed partition's destination high watermark was not read).
    pub(super) unreplicated: Option<i64>,
    /// The part replicated but not yet synced: re-processed by the group on a fail-over now
    /// (`None` as for `unreplicated`).
    pub(super) unsynced: Option<i64>,
}

/// The offset-sync lag of a group on mirror topic `m`: committed offset on the source (C_src)
/// minus on the destination (C_dst, 0 when not yet synced there), summed over the partitions
/// the group committed on the source; `None` when it committed none. Split with the
/// destination's high watermark (H_dst, `destination_hwm`, read in the same cycle) per
/// partition into what a fail-over now would lose, `max(0, C_src − max(H_dst, C_dst))`, and
/// what it would re-process, `max(0, min(C_src, H_dst) − C_dst)`; the two add up to the lag.
pub(super) fn sync_lag(
    m: &MirrorPlan,
    on_source: &HashMap<TopicPartition, i64>,
    on_destination: &HashMap<TopicPartition, i64>,
    destination_hwm: impl Fn(i32) -> Option<i64>,
) -> Option<SyncLag> {
    let mut lag = 0i64;
    let mut split = Some((0i64, 0i64));
    let mut committed = false;
    for p in 0..m.partitions {
        if let Some(&s) = on_source.get(&(m.source_topic.clone(), p)) {
            committed = true;
            // Not yet synced: the destination would restart from offset 0.
            let d = on_destination
                .get(&(m.mirror_topic.clone(), p))
                .copied()
                .unwrap_or(0);
            lag = lag.saturating_add(s.saturating_sub(d).max(0));
            split = match (split, destination_hwm(p)) {
                (Some((lose, again)), Some(h)) => Some((
                    lose.saturating_add(s.saturating_sub(h.max(d)).max(0)),
                    again.saturating_add(s.min(h).saturating_sub(d).max(0)),
                )),
                _ => None,
            };
        }
    }
    committed.then_some(SyncLag {
        lag,
        unreplicated: split.map(|(lose, _)| lose),
        unsynced: split.map(|(_, again)| again),
    })
}

/// Records of one partition deleted at the source before the mirror fetched them: the source's
/// log-start offset minus the destination's high watermark, when positive; `None` unless both
/// were read and are offsets (librdkafka's `-1` sentinels and other negatives mean unknown).
pub(super) fn lost_to_retention(
    destination: Option<i64>,
    source_log_start: Option<i64>,
) -> Option<i64> {
    let (d, s) = (destination?, source_log_start?);
    (d >= 0 && s >= 0).then(|| s.saturating_sub(d).max(0))
}

/// Whether a partition's destination holds every record its source had when both high
/// watermarks were read. Its records lost to retention are then 0 without asking the source's
/// log-start offset (never above the high watermark): the cycle asks only the partitions
/// behind (at 50 000 mirror partitions of a healthy link, none instead of one `ListOffsets`
/// per leader broker and 1 000 partitions).
pub(super) fn caught_up(destination: Option<i64>, source: Option<i64>) -> bool {
    matches!((destination, source), (Some(d), Some(s)) if d >= 0 && s >= 0 && d >= s)
}

/// Records per second over partitions whose watermark went from `before` to `now` in
/// `seconds`: the sum of the increases over the time. `None` (no rate) when a partition was
/// not read at either end, when a watermark went down (a topic deleted and created again, a
/// truncated partition: the two are not comparable), when there is no partition, and when
/// the time is not positive.
pub(super) fn rate(
    pairs: impl IntoIterator<Item = (Option<i64>, Option<i64>)>,
    seconds: f64,
) -> Option<f64> {
    if !seconds.is_finite() || seconds <= 0.0 {
        return None;
    }
    let mut total = 0i64;
    let mut any = false;
    for (before, now) in pairs {
        let (b, n) = (before?, now?);
        if b < 0 || n < b {
            return None;
        }
        total = total.saturating_add(n - b);
        any = true;
    }
    any.then(|| total as f64 / seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{PartitionLag, Reported};

    fn mirror(num_partitions: Option<i64>, listed: usize) -> MirrorTopic {
        MirrorTopic {
            claimed_partitions: num_partitions.and_then(|n| u64::try_from(n).ok()),
            lags: (0..listed)
                .map(|p| PartitionLag {
                    partition: p as i32,
                    fetched: None,
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn partitions_come_from_what_the_response_lists_not_what_it_claims() {
        let mut left = MAX_CLAIMED_PARTITIONS;
        // The claim: i32::MAX partitions with three listed measures three.
        assert_eq!(
            partitions_to_measure(&mirror(Some(i32::MAX.into()), 3), &mut left),
            3
        );
        assert_eq!(partitions_to_measure(&mirror(Some(2), 3), &mut left), 2);
        assert_eq!(partitions_to_measure(&mirror(None, 4), &mut left), 4);
        assert_eq!(partitions_to_measure(&mirror(Some(-1), 4), &mut left), 4);
        assert_eq!(
            left, MAX_CLAIMED_PARTITIONS,
            "listed partitions use no claims"
        );
        // Nothing listed: the claim, out of the cycle's bound.
        assert_eq!(partitions_to_measure(&mirror(Some(6), 0), &mut left), 6);
        assert_eq!(partitions_to_measure(&mirror(Some(-6), 0), &mut left), 0);
        assert_eq!(partitions_to_measure(&mirror(None, 0), &mut left), 0);
        let mut total = 6;
        for _ in 0..10 {
            total += i64::from(partitions_to_measure(&mirror(Some(i64::MAX), 0), &mut left));
        }
        assert_eq!(total, MAX_CLAIMED_PARTITIONS as i64);
        assert_eq!(left, 0);
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(256))]

        /// Whatever the claims, a cycle measures at most what the responses list plus the
        /// bound on claims, and never a negative count.
        #[test]
        fn planned_partitions_are_bounded_by_what_is_listed(
            mirrors in proptest::collection::vec(
                (proptest::option::of(proptest::num::i64::ANY), 0usize..50), 0..200),
        ) {
            let mut left = MAX_CLAIMED_PARTITIONS;
            let mut total = 0i64;
            let mut listed = 0i64;
            for (claim, n) in mirrors {
                let p = partitions_to_measure(&mirror(claim, n), &mut left);
                proptest::prop_assert!(p >= 0);
                proptest::prop_assert!(n == 0 || p as usize <= n, "{} of {} listed", p, n);
                total += i64::from(p);
                listed += n as i64;
            }
            proptest::prop_assert!(total <= listed + MAX_CLAIMED_PARTITIONS as i64, "{} > {}", total, listed);
        }
    }

    fn snapshot() -> ClusterSnapshot {
        let link = |name: &str| Link {
            name: name.into(),
            source_cluster_id: Some(format!("{name}-src")),
            ..Default::default()
        };
        let topic = |link: &str, name: &str, source: Option<&str>, state: &str| MirrorTopic {
            link: link.into(),
            name: name.into(),
            source_topic: source.map(str::to_owned),
            state: Reported::parse(state),
            ..mirror(None, 2)
        };
        ClusterSnapshot {
            links: vec![link("ab"), link("cd")],
            mirrors: vec![
                topic("ab", "dr-orders", Some("orders"), "ACTIVE"),
                topic("ab", "promoted", None, "STOPPED"),
                topic("cd", "events", None, "PAUSED"),
                topic("zz", "orphan", None, "ACTIVE"),
            ],
            partition_metrics: false,
        }
    }

    #[test]
    fn plans_skip_stopped_mirrors_and_name_each_link_source() {
        let s = snapshot();
        let (plans, over) = plan(&s, |l| (l.name == "ab").then(|| "src-a".to_owned()));
        assert_eq!(over, None);
        let names: Vec<_> = plans.iter().map(|p| p.mirror_topic.as_str()).collect();
        assert_eq!(names, ["dr-orders", "events", "orphan"]);
        assert_eq!(plans[0].source_topic, "orders");
        assert_eq!(plans[0].source.as_deref(), Some("src-a"));
        assert_eq!(plans[0].partitions, 2);
        assert_eq!(plans[0].mirror_partitions, Some(2), "as many as listed");
        assert_eq!(
            plans[1].source_topic, "events",
            "the mirror's name by default"
        );
        assert_eq!(plans[1].source, None, "no source cluster configured for cd");
        assert_eq!(plans[2].source, None, "a link not listed has none");
    }

    #[test]
    fn claims_over_the_bound_are_reported() {
        let mut s = snapshot();
        s.mirrors[0] = mirror(Some(MAX_CLAIMED_PARTITIONS as i64), 0);
        s.mirrors[2] = mirror(Some(5), 0);
        let (plans, over) = plan(&s, |_| None);
        assert_eq!(over, Some(MAX_CLAIMED_PARTITIONS + 5));
        assert_eq!(plans[1].mirror_partitions, Some(5), "num_partitions");
        let total: i64 = plans.iter().map(|p| i64::from(p.partitions)).sum();
        assert_eq!(
            total,
            MAX_CLAIMED_PARTITIONS as i64 + 2,
            "bounded claims + listed"
        );
    }

    #[test]
    fn lagging_partitions_most_lagging_first_caught_up_ones_at_zero() {
        let m = MirrorPlan {
            link: "ab".into(),
            mirror_topic: "t".into(),
            source_topic: "s".into(),
            partitions: 4,
            source: Some("src".into()),
            mirror_partitions: Some(4),
            stop_offsets: BTreeMap::new(),
        };
        let mut results = BTreeMap::new();
        for (p, d, s) in [
            (0, Some(5), Some(6)),
            (1, Some(5), Some(5)),
            (2, Some(1), Some(9)),
        ] {
            let r = MeasuredPartition {
                partition: p,
                destination: d,
                source: s,
                lag_seconds: None,
                ..Default::default()
            };
            results.insert(m.key(p), r);
        }
        results.insert(
            m.key(3),
            MeasuredPartition {
                partition: 3,
                destination: Some(1),
                ..Default::default()
            },
        );
        let lagging = lagging(&[&m], &mut results);
        let order: Vec<_> = lagging.iter().map(|l| (l.key.2, l.lag, l.offset)).collect();
        assert_eq!(order, [(2, 8, 1), (0, 1, 5)]);
        assert_eq!(lagging[0].source, ("s".to_owned(), 2));
        assert_eq!(results[&m.key(1)].lag_seconds, Some(0.0));
        assert_eq!(results[&m.key(3)].lag_seconds, None, "source not read");
    }

    #[test]
    fn lag_arithmetic_saturates_and_is_never_negative() {
        assert_eq!(lag_seconds(10_500, 8_000), 2.5);
        assert_eq!(lag_seconds(8_000, 10_500), 0.0, "a record from the future");
        assert_eq!(lag_seconds(i64::MAX, i64::MIN), i64::MAX as f64 / 1000.0);
        let m = MirrorPlan {
            link: "ab".into(),
            mirror_topic: "dr-t".into(),
            source_topic: "t".into(),
            partitions: 3,
            source: None,
            mirror_partitions: Some(3),
            stop_offsets: BTreeMap::new(),
        };
        let on_source: HashMap<TopicPartition, i64> = [
            (("t".into(), 0), 10),
            (("t".into(), 1), 4),
            (("t".into(), 7), 99),
        ]
        .into();
        let on_destination: HashMap<TopicPartition, i64> =
            [(("dr-t".into(), 0), 7), (("dr-t".into(), 1), 9)].into();
        let none = HashMap::new();
        let lag = |on_source: &HashMap<TopicPartition, i64>,
                   on_destination: &HashMap<TopicPartition, i64>,
                   hwm: &dyn Fn(i32) -> Option<i64>| {
            sync_lag(&m, on_source, on_destination, hwm)
        };
        // 10 - 7, plus max(4 - 9, 0); partition 7 is not measured. The destination has every
        // committed record: all of it would be re-processed, none lost.
        let all_there = lag(&on_source, &on_destination, &|_| Some(20));
        assert_eq!(
            all_there,
            Some(SyncLag {
                lag: 3,
                unreplicated: Some(0),
                unsynced: Some(3)
            })
        );
        // Partition 0 replicated up to 8: 10 - 8 lost, 8 - 7 re-processed; partition 1 is
        // synced past its commit (9 > 4): nothing.
        let partly = lag(&on_source, &on_destination, &|p| Some([8, 2][p as usize]));
        assert_eq!(
            partly,
            Some(SyncLag {
                lag: 3,
                unreplicated: Some(2),
                unsynced: Some(1)
            })
        );
        // Replicated below the synced offset (a mirror truncated): the whole lag is lost.
        let behind = lag(&on_source, &on_destination, &|_| Some(5));
        assert_eq!(
            behind.map(|l| (l.unreplicated, l.unsynced)),
            Some((Some(3), Some(0)))
        );
        // Not yet synced, nothing replicated: everything committed is lost.
        let fresh = lag(&on_source, &none, &|_| Some(0));
        assert_eq!(
            fresh,
            Some(SyncLag {
                lag: 14,
                unreplicated: Some(14),
                unsynced: Some(0)
            })
        );
        // A committed partition's high watermark not read: the split is unknown, the lag not.
        let unread = lag(&on_source, &on_destination, &|p| (p == 0).then_some(20));
        assert_eq!(unread.map(|l| (l.lag, l.unreplicated)), Some((3, None)));
        assert_eq!(lag(&none, &on_destination, &|_| Some(1)), None);
        // Saturating: never negative, never overflowing.
        let huge: HashMap<TopicPartition, i64> = [(("t".into(), 0), i64::MAX)].into();
        let low: HashMap<TopicPartition, i64> = [(("dr-t".into(), 0), i64::MIN)].into();
        let l = lag(&huge, &low, &|_| Some(i64::MIN)).unwrap();
        assert!(
            l.lag >= 0 && l.unreplicated >= Some(0) && l.unsynced >= Some(0),
            "{l:?}"
        );
    }

    #[test]
    fn records_lost_to_retention_are_never_negative_nor_guessed() {
        assert_eq!(lost_to_retention(Some(10), Some(31)), Some(21));
        assert_eq!(lost_to_retention(Some(31), Some(31)), Some(0));
        assert_eq!(lost_to_retention(Some(40), Some(31)), Some(0), "caught up");
        assert_eq!(lost_to_retention(None, Some(31)), None);
        assert_eq!(lost_to_retention(Some(10), None), None, "source not read");
        assert_eq!(lost_to_retention(Some(-1), Some(31)), None, "a -1 sentinel");
        assert_eq!(lost_to_retention(Some(10), Some(-1)), None);
        assert_eq!(lost_to_retention(Some(0), Some(i64::MAX)), Some(i64::MAX));
    }

    #[test]
    fn only_a_destination_at_the_source_watermark_is_caught_up() {
        assert!(caught_up(Some(31), Some(31)));
        assert!(
            caught_up(Some(40), Some(31)),
            "the source read after, moved back"
        );
        assert!(caught_up(Some(0), Some(0)), "empty");
        assert!(!caught_up(Some(30), Some(31)), "one record behind");
        assert!(!caught_up(None, Some(31)), "destination not read");
        assert!(!caught_up(Some(31), None), "source not read");
        assert!(!caught_up(Some(-1), Some(-1)), "sentinels");
    }

    #[test]
    fn rates_need_both_ends_and_watermarks_that_only_go_up() {
        assert_eq!(
            rate([(Some(10), Some(30)), (Some(5), Some(5))], 2.0),
            Some(10.0)
        );
        assert_eq!(rate([(Some(10), Some(10))], 1.0), Some(0.0), "idle");
        assert_eq!(
            rate([(Some(10), Some(30)), (None, Some(5))], 2.0),
            None,
            "first cycle"
        );
        assert_eq!(
            rate([(Some(10), Some(30)), (Some(5), None)], 2.0),
            None,
            "not read"
        );
        assert_eq!(
            rate([(Some(10), Some(3))], 2.0),
            None,
            "a watermark went down"
        );
        assert_eq!(rate([(Some(-1), Some(3))], 2.0), None, "a -1 sentinel");
        assert_eq!(rate([(Some(1), Some(3))], 0.0), None);
        assert_eq!(rate([(Some(1), Some(3))], f64::NAN), None);
        assert_eq!(rate(std::iter::empty(), 1.0), None, "no partition");
        assert_eq!(
            rate([(Some(0), Some(i64::MAX)), (Some(0), Some(i64::MAX))], 1.0),
            Some(i64::MAX as f64),
            "saturates"
        );
    }

    #[test]
    fn stopped_mirrors_are_watched_within_the_window_when_their_source_is_known() {
        let mut s = snapshot();
        s.mirrors[1].state_changed_ms = Some(10_000);
        let stopped = |s: &ClusterSnapshot, now| {
            stopped_plans(
                s,
                |l| (l.name == "ab").then(|| "src-a".to_owned()),
                now,
                5_000,
            )
            .into_iter()
            .map(|p| (p.mirror_topic, p.source_topic, p.partitions, p.source))
            .collect::<Vec<_>>()
        };
        let want = vec![(
            "promoted".to_owned(),
            "promoted".to_owned(),
            2,
            Some("src-a".to_owned()),
        )];
        assert_eq!(stopped(&s, 10_000), want);
        assert_eq!(stopped(&s, 15_000), want, "the window's end");
        assert!(stopped(&s, 15_001).is_empty(), "past the window");
        assert!(stopped(&s, 9_000).is_empty(), "a stop in the future");
        assert!(stopped(&s, i64::MIN).is_empty());
        s.mirrors[1].state_changed_ms = None;
        assert!(stopped(&s, 10_000).is_empty(), "when it stopped is unknown");
        s.mirrors[1].state_changed_ms = Some(10_000);
        s.mirrors[1].link = "cd".into();
        assert!(stopped(&s, 10_000).is_empty(), "no source cluster");
    }

    #[test]
    fn records_since_stop_count_from_the_baseline_and_never_go_negative() {
        let mut watch = StopWatch::default();
        let none = BTreeMap::new();
        let read = |v: &[(i32, i64)]| Some(v.iter().copied().collect::<BTreeMap<_, _>>());
        assert_eq!(watch.update(None, &none), None, "never read");
        assert_eq!(watch.update(read(&[]).as_ref(), &none), None);
        assert_eq!(
            watch.update(read(&[(0, 10), (1, 5)]).as_ref(), &none),
            Some(0)
        );
        assert_eq!(
            watch.update(read(&[(0, 13), (1, 7)]).as_ref(), &none),
            Some(5)
        );
        assert_eq!(
            watch.update(read(&[(0, 14)]).as_ref(), &none),
            Some(6),
            "partition 1 not read: its last count stands"
        );
        assert_eq!(
            watch.update(None, &none),
            Some(6),
            "the source not read: the last count"
        );
        // The topic deleted and created again: the watermark went down.
        assert_eq!(
            watch.update(read(&[(0, 2), (1, 7)]).as_ref(), &none),
            Some(2)
        );
        assert_eq!(
            watch.update(read(&[(0, 4), (1, 7)]).as_ref(), &none),
            Some(4)
        );
        assert_eq!(
            watch.update(read(&[(0, -1), (1, i64::MAX)]).as_ref(), &none),
            Some(i64::MAX - 5 + 2),
            "a -1 sentinel keeps partition 0's last count"
        );
        assert_eq!(
            watch.update(read(&[(2, 0)]).as_ref(), &none),
            Some(i64::MAX - 3)
        );
        assert_eq!(
            watch.update(read(&[(2, i64::MAX)]).as_ref(), &none),
            Some(i64::MAX),
            "the sum saturates"
        );
    }

    #[test]
    fn a_probe_stops_sending_once_its_mirror_topic_is_promoted_or_failed_over() {
        let mut s = snapshot();
        let link = s.mirrors[0].link.clone();
        let name = s.mirrors[0].name.clone();
        s.mirrors[0].state = Reported::Known(MirrorState::Active);
        assert!(probe_sends(&s, &link, &name));
        assert!(probe_sends(&s, &link, "not-listed"), "not listed: sends");
        assert!(probe_sends(&s, "other-link", &name), "another link's");
        for (state, sends) in [
            (MirrorState::Paused, true),
            (MirrorState::SourceUnavailable, true),
            (MirrorState::PendingStopped, false),
            (MirrorState::Stopped, false),
        ] {
            s.mirrors[0].state = Reported::Known(state);
            assert_eq!(probe_sends(&s, &link, &name), sends, "{state:?}");
        }
    }

    #[test]
    fn a_probe_mirror_topic_is_the_configured_one_else_prefix_and_topic() {
        let mut link = snapshot().links[0].clone();
        let mut probe = ProbeConfig::new(link.name.clone(), "clusterlink-probe");
        assert_eq!(probe_mirror_topic(&probe, &link), "clusterlink-probe");
        link.configs.cluster_link_prefix = Some("A_".into());
        assert_eq!(probe_mirror_topic(&probe, &link), "A_clusterlink-probe");
        probe.mirror_topic = Some("probe-mirror".into());
        assert_eq!(probe_mirror_topic(&probe, &link), "probe-mirror");
    }

    /// A fail-over during a source outage: the first read comes after producers wrote to the
    /// old source; the baseline is where the link last fetched before the stop, so those
    /// records count.
    #[test]
    fn records_since_stop_count_from_the_links_last_fetch_before_the_stop() {
        let mut watch = StopWatch::default();
        let at_stop: BTreeMap<i32, i64> = [(0, 100), (1, 50)].into_iter().collect();
        let read = |v: &[(i32, i64)]| Some(v.iter().copied().collect::<BTreeMap<_, _>>());
        assert_eq!(
            watch.update(read(&[(0, 130), (1, 50), (2, 9)]).as_ref(), &at_stop),
            Some(30),
            "partition 2 was never fetched: from its first read"
        );
        assert_eq!(
            watch.update(read(&[(0, 131), (1, 52), (2, 10)]).as_ref(), &at_stop),
            Some(34)
        );
        // The topic deleted and created again since the stop: from its new watermark.
        let mut watch = StopWatch::default();
        assert_eq!(watch.update(read(&[(0, 7)]).as_ref(), &at_stop), Some(0));
    }
}
