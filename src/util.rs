//! Small helpers shared by the configuration and the Kafka-side measurements.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Now, in Unix milliseconds.
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The longest duration [`parse_duration`] accepts: 365 days (`8760h`). Far beyond any useful
/// interval or timeout, and small enough that adding it to a clock reading, or multiplying it
/// by the small factors the exporter uses (jitter, `poll_interval * 4`), cannot overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// Why [`parse_duration_checked`] refused a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a number followed by `ms`, `s`, `m` or `h`.
    #[error("expected a duration like 500ms, 30s or 5m")]
    Syntax,
    /// Longer than [`MAX_DURATION`].
    #[error("longer than the maximum duration, 365 days (8760h)")]
    TooLong,
}

/// Parses `500ms`, `30s`, `5m`, `1h` (a non-negative number, then a unit; fractions allowed),
/// up to [`MAX_DURATION`]. Never panics, whatever the text.
///
/// # Errors
/// [`DurationError::Syntax`] for anything but a number and a unit, [`DurationError::TooLong`]
/// beyond [`MAX_DURATION`] (including numbers too large for `f64`).
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
pub fn doubled(first: Duration, times: u32, max: Duration) -> Duration {
    first.saturating_mul(2u32.saturating_pow(times)).min(max)
}

/// The instant `after` from now, saturating instead of overflowing: an `after` too large for
/// the clock gives the latest instant up to [`MAX_DURATION`] ahead that the clock can hold.
pub fn deadline(after: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(after)
        .or_else(|| now.checked_add(MAX_DURATION))
        .unwrap_or(now)
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
}
