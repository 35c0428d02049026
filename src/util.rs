//! Small helpers shared across the crate: durations (parsing up to [`MAX_DURATION`],
//! saturating deadlines and back-off steps), Unix time (the one "now" of the crate), locking
//! that a poisoned lock does not stop (`lock`, `read_lock`, `write_lock`), the
//! `kafka_cluster` label set of the per-cluster self-metrics, `closed_set!`, which declares an
//! enum of label values with its one `ALL` list (and [`ClosedSet`], what such an enum is), and
//! [`Throttle`], which lets a recurring warning through once a minute and counts the rest.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;

/// Now, in Unix milliseconds (0 before 1970).
pub fn unix_ms() -> i64 {
    unix_ms_at(SystemTime::now())
}

/// `t` in Unix milliseconds (0 before 1970, saturating far in the future).
pub(crate) fn unix_ms_at(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Locks `m`, also when a thread panicked holding it. The crate's locks guard maps, caches
/// and logs that stay usable after a panic (at worst one update is half made, and the next
/// one redoes it), and a panic is already caught and reported by [`crate::supervise`]: a
/// poisoned lock must not take down the scrapes and workers that share it.
pub(crate) fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Read-locks `l`, also when a thread panicked holding it (see [`lock`]).
pub(crate) fn read_lock<T: ?Sized>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

/// Write-locks `l`, also when a thread panicked holding it (see [`lock`]).
pub(crate) fn write_lock<T: ?Sized>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

/// Labels of the self-metrics that are per destination cluster only (`clusterlink_up`, …).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ClusterLabels {
    /// The cluster's `name` in the configuration.
    pub(crate) kafka_cluster: String,
}

impl ClusterLabels {
    /// The labels of `cluster`.
    pub(crate) fn of(cluster: &str) -> Self {
        Self {
            kafka_cluster: cluster.to_owned(),
        }
    }
}

/// A closed set of label values (declared with `closed_set!`).
pub trait ClosedSet: Copy + Eq + 'static {
    /// Every value, in the order the families write them.
    fn all() -> &'static [Self];
    /// The label value.
    fn as_str(self) -> &'static str;
    /// The value whose label is exactly `text`.
    fn from_label(text: &str) -> Option<Self> {
        Self::all().iter().copied().find(|v| v.as_str() == text)
    }
}

/// Declares an enum of label values: `ALL` (every value, in output order), `as_str` (the label
/// value), [`ClosedSet`], `Display`, `PartialEq<&str>` and prometheus-client's
/// `EncodeLabelValue`. The one list of a set: the code, the docs test and the alert tests
/// all read `ALL`.
macro_rules! closed_set {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every value, in the order the families write them.
            $vis const ALL: [Self; [$($text),*].len()] = [$(Self::$variant),*];

            /// The label value.
            $vis const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }

        impl $crate::util::ClosedSet for $name {
            fn all() -> &'static [Self] {
                &Self::ALL
            }
            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl prometheus_client::encoding::EncodeLabelValue for $name {
            fn encode(
                &self,
                encoder: &mut prometheus_client::encoding::LabelValueEncoder,
            ) -> Result<(), std::fmt::Error> {
                std::fmt::Write::write_str(encoder, self.as_str())
            }
        }
    };
}
pub(crate) use closed_set;

/// The longest duration [`parse_duration`] accepts: 365 days (`8760h`). Far beyond any useful
/// interval or timeout, and small enough that adding it to a clock reading, or multiplying it
/// by the small factors the exporter uses (jitter, `poll_interval * 4`), cannot overflow.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// Why [`parse_duration_checked`] refused a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a number followed by `ms`, `s`, `m` or `h`.
    #[error("expected a duration like 500ms, 30s or 5m")]
    Syntax,
    /// Longer than 8760h (`MAX_DURATION`).
    #[error("longer than the maximum duration, 365 days (8760h)")]
    TooLong,
}

/// Parses `500ms`, `30s`, `5m`, `1h` (a non-negative number, then a unit; fractions allowed),
/// up to 8760h (`MAX_DURATION`). Never panics, whatever the text.
///
/// # Errors
/// [`DurationError::Syntax`] for anything but a number and a unit, [`DurationError::TooLong`]
/// beyond 8760h (including numbers too large for `f64`).
pub fn parse_duration_checked(s: &str) -> Result<Duration, DurationError> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .ok_or(DurationError::Syntax)?;
    let (number, unit) = s.split_at(split);
    let number: f64 = number.parse().map_err(|_| DurationError::Syntax)?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(DurationError::Syntax),
    };
    if !seconds.is_finite() || seconds > MAX_DURATION.as_secs_f64() {
        return Err(DurationError::TooLong);
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| DurationError::Syntax)
}

/// [`parse_duration_checked`], without the reason.
pub fn parse_duration(s: &str) -> Option<Duration> {
    parse_duration_checked(s).ok()
}

/// `first` doubled `times` times, at most `max`, saturating (any `times` is safe): the step of
/// every exponential back-off here (rate limiting, worker restarts, failed accepts).
pub(crate) fn doubled(first: Duration, times: u32, max: Duration) -> Duration {
    first.saturating_mul(2u32.saturating_pow(times)).min(max)
}

/// The instant `after` from now, saturating instead of overflowing: an `after` too large for
/// the clock gives the latest instant up to [`MAX_DURATION`] ahead that the clock can hold.
pub(crate) fn deadline(after: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(after)
        .or_else(|| now.checked_add(MAX_DURATION))
        .unwrap_or(now)
}

/// Lets a recurring warning through at most once per [`Throttle::EVERY`], counting the
/// occurrences it held back: for warnings an upstream or a client can repeat many times a
/// second (accept failures, probe records not acknowledged, refused TLS handshakes).
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    last: Option<Instant>,
    held_back: u64,
}

impl Throttle {
    /// One minute.
    pub(crate) const EVERY: Duration = Duration::from_secs(60);

    /// `Some(occurrences held back since the last one let through)` when this occurrence,
    /// at `now`, may be logged; `None` when it is held back.
    pub(crate) fn check(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < Self::EVERY => {
                self.held_back = self.held_back.saturating_add(1);
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.held_back))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("8760h"), Some(MAX_DURATION));
        assert_eq!(parse_duration("30"), None);
        assert_eq!(parse_duration("1x"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("-1s"), None);
        assert_eq!(parse_duration("1.2.3s"), None);
    }

    #[test]
    fn durations_too_long_for_the_clock_are_refused_not_panicking() {
        for text in [
            "99999999999999999999h".to_owned(),
            "8760.5h".to_owned(),
            "525601m".to_owned(),
            format!("{}s", "9".repeat(400)),
            format!("{}ms", "9".repeat(20)),
        ] {
            assert_eq!(
                parse_duration_checked(&text),
                Err(DurationError::TooLong),
                "{text}"
            );
        }
    }

    #[test]
    fn deadlines_saturate() {
        let before = Instant::now();
        assert!(deadline(Duration::MAX) >= before);
        let ms = Duration::from_millis;
        assert_eq!(doubled(ms(5), 0, ms(1000)), ms(5));
        assert_eq!(doubled(ms(5), 3, ms(1000)), ms(40));
        assert_eq!(doubled(ms(5), u32::MAX, ms(1000)), ms(1000));
        assert!(deadline(Duration::from_secs(5)) >= before + Duration::from_secs(5));
    }

    #[test]
    fn throttle_lets_one_warning_a_minute_through_and_counts_the_others() {
        let mut log = Throttle::default();
        let t0 = Instant::now();
        assert_eq!(log.check(t0), Some(0));
        for s in [1, 30, 59] {
            assert_eq!(log.check(t0 + Duration::from_secs(s)), None);
        }
        assert_eq!(log.check(t0 + Duration::from_secs(60)), Some(3));
        assert_eq!(log.check(t0 + Duration::from_secs(61)), None);
        assert_eq!(log.check(t0 + Duration::from_secs(200)), Some(1));
    }
}
