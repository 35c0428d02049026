//! Facts of the source topics that a measurer caches per source cluster: each source topic's
//! partition count (from one `Metadata` request for all topics) and its `retention.ms` (from
//! one `DescribeConfigs` request for every source topic of the cluster's mirror topics). They
//! change rarely, so they are read again only when `source_topics.refresh_interval` has passed
//! or the set of wanted topics changed (a mirror topic added or removed, or a mirror topic's
//! partition count changed: its source's may have too). Pure: the reads are in
//! `connection_clients`, their use in `measure`, what a failed retention read says in
//! `retention_notice`.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// (source topic, partition count of its mirror topic): what a refresh was made for.
pub(super) type Wanted = BTreeSet<(String, i32)>;

/// What a read of `retention.ms` gave for one topic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Retention {
    /// Records are deleted after this many milliseconds.
    Ms(i64),
    /// `-1` (or any negative value): records are never deleted by time.
    Infinite,
}

impl Retention {
    /// `retention.ms` as DescribeConfigs returns it (a decimal string); `None` when it is
    /// absent or not a whole number.
    pub(super) fn parse(value: Option<&str>) -> Option<Self> {
        let ms: i64 = value?.trim().parse().ok()?;
        Some(if ms < 0 { Self::Infinite } else { Self::Ms(ms) })
    }

    /// In seconds; `None` when infinite.
    pub(super) fn seconds(self) -> Option<f64> {
        match self {
            Self::Ms(ms) => Some(ms as f64 / 1000.0),
            Self::Infinite => None,
        }
    }
}

/// The cached facts of one source cluster's topics.
#[derive(Debug, Default)]
pub(super) struct SourceTopicCache {
    /// Partition counts by topic (topics the last `Metadata` listed without error).
    partitions: HashMap<String, i32>,
    /// `retention.ms` by topic (topics the last `DescribeConfigs` answered).
    retention: HashMap<String, Retention>,
    /// What the last refresh was made for, and when.
    refreshed: Option<(Instant, Wanted)>,
    /// After `retention.ms` could not be read: when it is asked again, and how many reads in a
    /// row failed.
    retention_backoff: Option<(Instant, u32)>,
}

/// The longest wait before `retention.ms` is asked again after failures.
pub(super) const MAX_RETENTION_BACKOFF: Duration = Duration::from_secs(3600);

impl SourceTopicCache {
    /// Whether the facts must be read again for `wanted` at `now`: never read, older than
    /// `interval`, or read for another set of topics.
    pub(super) fn due(&self, wanted: &Wanted, now: Instant, interval: Duration) -> bool {
        match &self.refreshed {
            None => true,
            Some((at, before)) => {
                now.saturating_duration_since(*at) >= interval || before != wanted
            }
        }
    }

    /// Keeps what a refresh for `wanted` at `now` read: the partition counts and the
    /// retentions, for the wanted topics only. `None` (the read failed, or the retention was
    /// not asked while backing off) keeps the facts of the last read that succeeded: they
    /// change rarely, and a slow or briefly unreachable source must not blank them.
    pub(super) fn refreshed(
        &mut self,
        wanted: Wanted,
        now: Instant,
        partitions: Option<HashMap<String, i32>>,
        retention: Option<HashMap<String, Retention>>,
    ) {
        let topics: BTreeSet<&str> = wanted.iter().map(|(t, _)| t.as_str()).collect();
        if let Some(p) = partitions {
            self.partitions = p;
        }
        self.partitions.retain(|t, _| topics.contains(t.as_str()));
        if let Some(r) = retention {
            self.retention = r;
        }
        self.retention.retain(|t, _| topics.contains(t.as_str()));
        self.refreshed = Some((now, wanted));
    }

    /// Whether a refresh at `now` asks for `retention.ms`: not while backing off after failed
    /// reads (a source that never answers DescribeConfigs, such as librdkafka's mock cluster,
    /// would cost a whole request timeout at every refresh).
    pub(super) fn asks_retention(&self, now: Instant) -> bool {
        self.retention_backoff.is_none_or(|(until, _)| now >= until)
    }

    /// Notes whether the read of `retention.ms` at `now` succeeded: after the n-th failure in
    /// a row it is asked again after `interval` × 2^n, at most [`MAX_RETENTION_BACKOFF`]; a
    /// success resets the wait.
    pub(super) fn retention_read(&mut self, ok: bool, now: Instant, interval: Duration) {
        self.retention_backoff = if ok {
            None
        } else {
            let n = self
                .retention_backoff
                .map_or(1, |(_, n)| n.saturating_add(1));
            let wait = interval
                .saturating_mul(1u32 << n.min(16))
                .min(MAX_RETENTION_BACKOFF);
            Some((now + wait, n))
        };
    }

    /// The partition count of source topic `topic`, if known.
    pub(super) fn partitions(&self, topic: &str) -> Option<i32> {
        self.partitions.get(topic).copied()
    }

    /// The retention of source topic `topic`, if known.
    pub(super) fn retention(&self, topic: &str) -> Option<Retention> {
        self.retention.get(topic).copied()
    }
}

/// Source partitions its mirror topic does not have: the source topic's partition count minus
/// the mirror topic's, at least 0 (a mirror never has more; a stale count must not read as a
/// negative drift); `None` unless both are known and not negative.
pub(super) fn unmirrored_partitions(source: Option<i32>, mirror: Option<i32>) -> Option<i32> {
    let (s, m) = (source?, mirror?);
    (s >= 0 && m >= 0).then(|| s.saturating_sub(m).max(0))
}

/// The wanted set of one source cluster: its mirror topics' source topics with their mirror
/// partition counts (`-1` when unknown), sorted.
pub(super) fn wanted<'a>(topics: impl IntoIterator<Item = (&'a str, Option<i32>)>) -> Wanted {
    topics
        .into_iter()
        .map(|(t, n)| (t.to_owned(), n.unwrap_or(-1)))
        .collect()
}

/// The wanted topics' names.
pub(super) fn names(wanted: &Wanted) -> BTreeSet<String> {
    wanted.iter().map(|(t, _)| t.clone()).collect()
}

/// By source topic, for tests.
#[cfg(test)]
fn by_topic(
    c: &SourceTopicCache,
) -> std::collections::BTreeMap<String, (Option<i32>, Option<Retention>)> {
    let mut out = std::collections::BTreeMap::new();
    for t in c.partitions.keys().chain(c.retention.keys()) {
        out.insert(t.clone(), (c.partitions(t), c.retention(t)));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn retention_parses_whole_milliseconds_and_negative_means_infinite() {
        assert_eq!(
            Retention::parse(Some("604800000")),
            Some(Retention::Ms(604_800_000))
        );
        assert_eq!(Retention::parse(Some(" 0 ")), Some(Retention::Ms(0)));
        assert_eq!(Retention::parse(Some("-1")), Some(Retention::Infinite));
        assert_eq!(Retention::parse(Some("-7")), Some(Retention::Infinite));
        assert_eq!(Retention::parse(Some("1.5")), None);
        assert_eq!(Retention::parse(Some("")), None);
        assert_eq!(Retention::parse(Some("99999999999999999999")), None);
        assert_eq!(Retention::parse(None), None);
        assert_eq!(Retention::Ms(1500).seconds(), Some(1.5));
        assert_eq!(Retention::Infinite.seconds(), None);
    }

    #[test]
    fn unmirrored_partitions_are_never_negative_nor_guessed() {
        assert_eq!(unmirrored_partitions(Some(5), Some(3)), Some(2));
        assert_eq!(unmirrored_partitions(Some(3), Some(3)), Some(0));
        assert_eq!(
            unmirrored_partitions(Some(3), Some(5)),
            Some(0),
            "stale count"
        );
        assert_eq!(unmirrored_partitions(None, Some(3)), None);
        assert_eq!(unmirrored_partitions(Some(3), None), None);
        assert_eq!(unmirrored_partitions(Some(3), Some(-1)), None);
        assert_eq!(
            unmirrored_partitions(Some(i32::MAX), Some(0)),
            Some(i32::MAX)
        );
    }

    #[test]
    fn a_refresh_is_due_after_the_interval_or_when_the_topics_change() {
        let mut c = SourceTopicCache::default();
        let t0 = Instant::now();
        let minute = Duration::from_secs(60);
        let w = wanted([("a", Some(3)), ("b", None)]);
        assert!(c.due(&w, t0, minute), "never read");
        let counts: HashMap<String, i32> = [("a".into(), 5), ("zz".into(), 1)].into();
        let retention: HashMap<String, Retention> = [("b".into(), Retention::Infinite)].into();
        c.refreshed(w.clone(), t0, Some(counts), Some(retention));
        assert!(!c.due(&w, t0 + minute / 2, minute));
        assert!(c.due(&w, t0 + minute, minute), "the interval passed");
        assert!(
            c.due(&wanted([("a", Some(5)), ("b", None)]), t0, minute),
            "a mirror's partition count changed"
        );
        assert!(c.due(&wanted([("a", Some(3))]), t0, minute), "a topic went");
        assert_eq!(
            by_topic(&c),
            BTreeMap::from([
                ("a".to_owned(), (Some(5), None)),
                ("b".to_owned(), (None, Some(Retention::Infinite))),
            ]),
            "only the wanted topics are kept"
        );
        // A failed read keeps the facts of the last read that succeeded.
        c.refreshed(w.clone(), t0 + minute, None, None);
        assert_eq!(by_topic(&c).len(), 2, "kept: {:?}", by_topic(&c));
        assert!(!c.due(&w, t0 + minute, minute));
        // A read that succeeds replaces them; a topic no longer wanted goes.
        c.refreshed(
            wanted([("a", Some(3))]),
            t0 + minute,
            Some(HashMap::new()),
            None,
        );
        assert!(by_topic(&c).is_empty());
        assert_eq!(names(&w), BTreeSet::from(["a".to_owned(), "b".to_owned()]));
    }

    #[test]
    fn failed_retention_reads_back_off_up_to_an_hour() {
        let mut c = SourceTopicCache::default();
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        assert!(c.asks_retention(t0));
        c.retention_read(false, t0, s);
        assert!(!c.asks_retention(t0 + s));
        assert!(c.asks_retention(t0 + 2 * s), "1 s × 2");
        c.retention_read(false, t0, s);
        assert!(!c.asks_retention(t0 + 3 * s));
        assert!(c.asks_retention(t0 + 4 * s), "1 s × 4");
        for _ in 0..40 {
            c.retention_read(false, t0, s);
        }
        assert!(!c.asks_retention(t0 + MAX_RETENTION_BACKOFF - s));
        assert!(
            c.asks_retention(t0 + MAX_RETENTION_BACKOFF),
            "at most an hour"
        );
        c.retention_read(true, t0, s);
        assert!(c.asks_retention(t0), "a success resets it");
    }
}
