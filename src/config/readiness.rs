//! Settings of the fail-over readiness verdict of a destination cluster's links
//! (`failover_readiness`): the RPO target a link's lag in seconds is compared with, and an
//! optional limit on consumer offset-sync lag, per cluster (inherited from `defaults`) and per
//! link. Their YAML keys, their validation and the validated types.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::defaults::DEFAULT_RPO;
use super::values::{at, duration_or, whole_number};
use super::ConfigError;

/// `failover_readiness` of a cluster (or of `defaults`, without `links`): what a link needs to
/// be ready to fail over besides being healthy (see `docs/metrics.md`, "Fail-over
/// readiness"). Affects `clusterlink_link_failover_readiness`,
/// `clusterlink_link_failover_blocked`, `clusterlink_link_rpo_seconds` and the status page's
/// readiness line. Costs no request: the verdict is computed from what the REST collection and
/// the Kafka-side measurements already read.
///
/// ```yaml
/// failover_readiness:
///   rpo: 5m
///   max_offset_sync_lag_messages: 10000
///   links: {dr-link: {rpo: 1m}}
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFailoverReadiness {
    /// The recovery point objective: a link whose lag in seconds
    /// (`clusterlink_link_lag_seconds`) is above it is not ready (reason `lag_above_rpo`). A
    /// duration (positive, at most 8760h). Default: `defaults.failover_readiness.rpo`, else
    /// [`DEFAULT_RPO`] (`300s`, as `clusterlink:threshold:rpo_seconds` in
    /// `alerts/thresholds.rules.yml`).
    #[serde(default)]
    rpo: Option<String>,
    /// A link with a consumer group whose offset-sync lag
    /// (`clusterlink_consumer_offset_sync_lag_messages`) on one of its mirror topics is above
    /// this many messages is not ready (reason `offset_sync_lag_above_limit`). A whole number
    /// (0: any lag blocks). Default: `defaults.failover_readiness.max_offset_sync_lag_messages`,
    /// else none (offset-sync lag does not block; it is still shown as expected loss).
    #[serde(default, deserialize_with = "whole_number")]
    max_offset_sync_lag_messages: Option<u64>,
    /// Per-link overrides, by link name: `{<link>: {rpo: 1m, max_offset_sync_lag_messages: 0}}`,
    /// each key defaulting to the cluster's. A link named here that the REST API does not list
    /// is reported (a warning in the log, a note on the status page,
    /// `clusterlink_failover_readiness_unknown_links`), never silently ignored. Only under
    /// `clusters[]`, not under `defaults`. Default: none.
    #[serde(default)]
    links: Option<BTreeMap<String, RawLinkReadiness>>,
}

/// One entry of `failover_readiness.links`: the link's own RPO and offset-sync limit.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLinkReadiness {
    /// The link's RPO. A duration (positive, at most 8760h). Default: the cluster's
    /// `failover_readiness.rpo`.
    #[serde(default)]
    rpo: Option<String>,
    /// The link's offset-sync lag limit (messages). Default: the cluster's
    /// `failover_readiness.max_offset_sync_lag_messages`.
    #[serde(default, deserialize_with = "whole_number")]
    max_offset_sync_lag_messages: Option<u64>,
}

/// What "ready to fail over" requires of one link, beyond a healthy link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkReadinessConfig {
    /// The recovery point objective: the largest lag in seconds that is ready.
    pub rpo: Duration,
    /// The largest offset-sync lag of a group on a mirror topic that is ready (messages);
    /// `None`: not checked.
    pub max_offset_sync_lag_messages: Option<u64>,
}

impl Default for LinkReadinessConfig {
    fn default() -> Self {
        Self {
            rpo: DEFAULT_RPO,
            max_offset_sync_lag_messages: None,
        }
    }
}

/// `failover_readiness` of a cluster, validated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailoverReadinessConfig {
    /// What every link not named in `links` requires.
    pub default: LinkReadinessConfig,
    /// The links with their own settings (each resolved: unset keys are the cluster's).
    pub links: BTreeMap<String, LinkReadinessConfig>,
}

impl FailoverReadinessConfig {
    /// What `link` requires.
    pub fn of_link(&self, link: &str) -> LinkReadinessConfig {
        self.links.get(link).copied().unwrap_or(self.default)
    }

    /// `defaults.failover_readiness`, validated (`links` is refused there).
    pub(super) fn defaults_from_raw(
        raw: Option<RawFailoverReadiness>,
    ) -> Result<LinkReadinessConfig, ConfigError> {
        let key = "defaults.failover_readiness";
        let raw = raw.unwrap_or_default();
        if raw.links.is_some() {
            return Err(super::invalid(
                at(key, "links"),
                "per-link settings belong under a cluster's failover_readiness, not defaults",
            ));
        }
        Ok(LinkReadinessConfig {
            rpo: duration_or(raw.rpo.as_deref(), &at(key, "rpo"), DEFAULT_RPO)?,
            max_offset_sync_lag_messages: raw.max_offset_sync_lag_messages,
        })
    }

    /// A cluster's `failover_readiness` at `key`, unset keys inherited from `defaults`.
    pub(super) fn from_raw(
        raw: Option<RawFailoverReadiness>,
        key: &str,
        defaults: LinkReadinessConfig,
    ) -> Result<Self, ConfigError> {
        let raw = raw.unwrap_or_default();
        let default = LinkReadinessConfig {
            rpo: duration_or(raw.rpo.as_deref(), &at(key, "rpo"), defaults.rpo)?,
            max_offset_sync_lag_messages: raw
                .max_offset_sync_lag_messages
                .or(defaults.max_offset_sync_lag_messages),
        };
        let mut links = BTreeMap::new();
        for (name, link) in raw.links.unwrap_or_default() {
            let link_key = format!("{key}.links.{name}");
            if name.is_empty() {
                return Err(super::invalid(
                    at(key, "links"),
                    "a link name must not be empty",
                ));
            }
            let resolved = LinkReadinessConfig {
                rpo: duration_or(link.rpo.as_deref(), &at(&link_key, "rpo"), default.rpo)?,
                max_offset_sync_lag_messages: link
                    .max_offset_sync_lag_messages
                    .or(default.max_offset_sync_lag_messages),
            };
            links.insert(name, resolved);
        }
        Ok(Self { default, links })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::time::Duration;

    fn load(yaml: &str) -> Result<Config, String> {
        Config::from_yaml(yaml).map_err(|e| e.to_string())
    }

    const CLUSTER: &str = "clusters: [{name: A, rest_url: 'http://a/kafka/v3'";

    #[test]
    fn rpo_is_inherited_from_defaults_and_overridden_per_link() {
        let c = load(&format!("{CLUSTER}}}]")).unwrap();
        let r = &c.clusters[0].failover_readiness;
        assert_eq!(r.of_link("x").rpo, Duration::from_secs(300));
        assert_eq!(r.of_link("x").max_offset_sync_lag_messages, None);
        let c = load(&format!(
            "defaults: {{failover_readiness: {{rpo: 2m, max_offset_sync_lag_messages: 7}}}}\n\
             {CLUSTER}, failover_readiness: {{links: {{DR-Link: {{rpo: 30s}}, other: {{max_offset_sync_lag_messages: 0}}}}}}}}]"
        ))
        .unwrap();
        let r = &c.clusters[0].failover_readiness;
        assert_eq!(r.of_link("x").rpo, Duration::from_secs(120));
        // Link names keep their case.
        assert_eq!(r.of_link("DR-Link").rpo, Duration::from_secs(30));
        assert_eq!(r.of_link("DR-Link").max_offset_sync_lag_messages, Some(7));
        assert_eq!(r.of_link("other").rpo, Duration::from_secs(120));
        assert_eq!(r.of_link("other").max_offset_sync_lag_messages, Some(0));
        let c = load(&format!(
            "defaults: {{failover_readiness: {{rpo: 2m}}}}\n{CLUSTER}, failover_readiness: {{rpo: 1m}}}}]"
        ))
        .unwrap();
        assert_eq!(
            c.clusters[0].failover_readiness.of_link("x").rpo,
            Duration::from_secs(60)
        );
    }

    #[test]
    fn errors_name_the_full_key() {
        for (yaml, want) in [
            (
                format!("{CLUSTER}, failover_readiness: {{rpo: 0s}}}}]"),
                "config: clusters[0].failover_readiness.rpo: expected a positive duration",
            ),
            (
                format!("{CLUSTER}, failover_readiness: {{links: {{ab: {{rpo: soon}}}}}}}}]"),
                "config: clusters[0].failover_readiness.links.ab.rpo: expected a positive duration",
            ),
            (
                format!("defaults: {{failover_readiness: {{rpo: 9000h}}}}\n{CLUSTER}}}]"),
                "config: defaults.failover_readiness.rpo: \"9000h\" is longer than the maximum",
            ),
            (
                format!("defaults: {{failover_readiness: {{links: {{ab: {{}}}}}}}}\n{CLUSTER}}}]"),
                "config: defaults.failover_readiness.links: per-link settings belong",
            ),
            (
                format!("{CLUSTER}, failover_readiness: {{max_offset_sync_lag_messages: -1}}}}]"),
                "config: clusters[0].failover_readiness.max_offset_sync_lag_messages: invalid value",
            ),
            (
                format!("{CLUSTER}, failover_readiness: {{rpo_seconds: 5}}}}]"),
                "config: clusters[0].failover_readiness.rpo_seconds: unknown field `rpo_seconds`",
            ),
        ] {
            let got = load(&yaml).unwrap_err();
            assert!(got.starts_with(want), "{yaml}\n got: {got}\nwant: {want}…");
        }
    }
}
