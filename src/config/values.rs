//! How single values of the configuration are read and checked, each error naming its key:
//! strict whole numbers, durations, anchored regexes, files that must be readable, and the
//! keys a cluster inherits from `defaults`.

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;

use super::{invalid, ConfigError};
use crate::util::{parse_duration_checked, DurationError};

/// Whether two regex lists hold the same patterns in the same order.
pub(super) fn same_regexes(a: &[Regex], b: &[Regex]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.as_str() == y.as_str())
}

/// `key.name`: the full key of a key inside the section at `key`.
pub(super) fn at(key: &str, name: &str) -> String {
    format!("{key}.{name}")
}

/// Deserializes an optional whole number strictly: a fraction, a negative number or a string
/// is an error naming the key, where the `config` crate would truncate `1500.7` or parse
/// `"2048"`. (Environment overrides are parsed into numbers before this sees them.)
pub(super) fn whole_number<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<u64>,
{
    struct Whole<T>(std::marker::PhantomData<T>);
    impl<'de, T: TryFrom<u64>> serde::de::Visitor<'de> for Whole<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a whole number")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            T::try_from(v)
                .map(Some)
                .map_err(|_| E::custom(format!("{v} is too large")))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            match u64::try_from(v) {
                Ok(v) => self.visit_u64(v),
                Err(_) => Err(E::invalid_value(serde::de::Unexpected::Signed(v), &self)),
            }
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(Whole(std::marker::PhantomData))
}

/// A duration key's value: positive and at most [`crate::util::MAX_DURATION`] (365 days).
pub(super) fn positive_duration(s: &str, key: &str) -> Result<Duration, ConfigError> {
    match parse_duration_checked(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        Err(DurationError::TooLong) => Err(invalid(
            key,
            format!("{s:?} is longer than the maximum duration, 365 days (8760h)"),
        )),
        _ => Err(invalid(
            key,
            format!("expected a positive duration like 500ms, 30s or 5m, got {s:?}"),
        )),
    }
}

/// An optional duration key: `default` when unset, else checked by [`positive_duration`].
pub(super) fn duration_or(
    value: Option<&str>,
    key: &str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    value.map_or(Ok(default), |s| positive_duration(s, key))
}

/// `pattern` compiled anchored (`^(?:…)$`: it must match the whole name); a bad one is an
/// error naming `key`, with the last line of the regex crate's message.
pub(super) fn anchored_regex(pattern: &str, key: &str) -> Result<Regex, ConfigError> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
        invalid(
            key,
            format!(
                "invalid regex: {}",
                e.to_string().lines().last().unwrap_or("")
            ),
        )
    })
}

/// The files of a `tls` section at `key`: each must be readable now, and `cert_file` and
/// `key_file` go together.
pub(super) fn check_tls_files(
    key: &str,
    ca_file: &Option<PathBuf>,
    cert_file: &Option<PathBuf>,
    key_file: &Option<PathBuf>,
) -> Result<(), ConfigError> {
    for (name, file) in [
        ("ca_file", ca_file),
        ("cert_file", cert_file),
        ("key_file", key_file),
    ] {
        if let Some(f) = file {
            if let Err(e) = std::fs::metadata(f) {
                let problem = format!("cannot read {}: {e}", f.display());
                return Err(invalid(at(key, name), problem));
            }
        }
    }
    if cert_file.is_some() != key_file.is_some() {
        return Err(invalid(
            key,
            "cert_file and key_file go together (mTLS client certificate and its key)",
        ));
    }
    Ok(())
}

/// A key a cluster may inherit from `defaults`: its value and the key it was written at (a
/// bad value is reported there: the cluster's own key, or `defaults.<name>`).
pub(super) struct Inherited<T> {
    value: T,
    key: String,
}

impl<T: PartialOrd> Inherited<T> {
    /// The cluster's own value, else the one in `defaults`, else `fallback`.
    pub(super) fn pick(
        own: Option<T>,
        default: Option<T>,
        fallback: T,
        cluster_key: &str,
        name: &str,
    ) -> Self {
        let key = if own.is_some() {
            at(cluster_key, name)
        } else {
            format!("defaults.{name}")
        };
        let value = own.or(default).unwrap_or(fallback);
        Self { value, key }
    }

    /// The value if it lies in `range`, else an error naming its key with `problem`.
    pub(super) fn within(
        self,
        range: RangeInclusive<T>,
        problem: impl Into<String>,
    ) -> Result<T, ConfigError> {
        if range.contains(&self.value) {
            Ok(self.value)
        } else {
            Err(invalid(self.key, problem))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inherited_value_is_reported_where_it_was_written() {
        let own = Inherited::pick(Some(0), Some(5), 10, "clusters[2]", "n");
        assert_eq!(
            own.within(1..=9, "bad").unwrap_err().to_string(),
            "config: clusters[2].n: bad"
        );
        let inherited = Inherited::pick(None, Some(0), 10, "clusters[2]", "n");
        assert_eq!(
            inherited.within(1..=9, "bad").unwrap_err().to_string(),
            "config: defaults.n: bad"
        );
        assert_eq!(
            Inherited::pick(None, None, 7, "clusters[0]", "n").within(1..=9, "bad"),
            Ok(7)
        );
    }

    #[test]
    fn regexes_are_anchored() {
        let r = anchored_regex("orders.*", "k").unwrap();
        assert!(r.is_match("orders-eu"));
        assert!(!r.is_match("x-orders"));
        assert_eq!(
            anchored_regex("(", "k.include[0]").unwrap_err().to_string(),
            "config: k.include[0]: invalid regex: error: unclosed group"
        );
    }
}
