//! The pure parts of a measurement cycle, apart from the Kafka clients: which mirror
//! partitions to measure ([`plan`], bounded by what the responses list), which lagging
//! partitions to read for lag in seconds, most lagging first ([`lagging`]), and the lag
//! arithmetic ([`lag_seconds`], [`sync_lag`]).

use std::collections::{BTreeMap, HashMap};

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

/// The offset-sync lag of a group on mirror topic `m`: committed offset on the source minus
/// on the destination (0 when not yet synced there), summed over the partitions the group
/// committed on the source; `None` when it committed none.
pub(super) fn sync_lag(
    m: &MirrorPlan,
    on_source: &HashMap<TopicPartition, i64>,
    on_destination: &HashMap<TopicPartition, i64>,
) -> Option<i64> {
    let mut lag = 0i64;
    let mut committed = false;
    for p in 0..m.partitions {
        if let Some(s) = on_source.get(&(m.source_topic.clone(), p)) {
            committed = true;
            // Not yet synced: the destination would restart from offset 0.
            let d = on_destination
                .get(&(m.mirror_topic.clone(), p))
                .unwrap_or(&0);
            lag = lag.saturating_add(s.saturating_sub(*d).max(0));
        }
    }
    committed.then_some(lag)
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
        };
        let on_source: HashMap<TopicPartition, i64> = [
            (("t".into(), 0), 10),
            (("t".into(), 1), 4),
            (("t".into(), 7), 99),
        ]
        .into();
        let on_destination: HashMap<TopicPartition, i64> =
            [(("dr-t".into(), 0), 7), (("dr-t".into(), 1), 9)].into();
        // 10 - 7, plus max(4 - 9, 0); partition 7 is not measured.
        assert_eq!(sync_lag(&m, &on_source, &on_destination), Some(3));
        assert_eq!(
            sync_lag(&m, &on_source, &HashMap::new()),
            Some(14),
            "not yet synced"
        );
        assert_eq!(sync_lag(&m, &HashMap::new(), &on_destination), None);
    }
}
