//! Live reload of the configuration, as Prometheus does it: what a reload changes
//! ([`Plan`]: clusters added, removed, changed, unchanged, compared by name) and how it went
//! ([`ReloadMetrics`]: `clusterlink_exporter_config_last_reload_successful` and
//! `clusterlink_exporter_config_last_reload_success_timestamp_seconds`). The exporter
//! ([`crate::exporter::Exporter::reload`]) applies a plan to its running workers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicU64;
use std::time::SystemTime;

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::config::{ClusterConfig, Config, SourceClusterConfig};
use crate::util::unix_ms_at;

/// What a cluster's workers are started from: its section and, when it has a `kafka`
/// section, the `source_clusters` its measurer is given (empty otherwise, so that a change of
/// `source_clusters` restarts only the clusters that use them).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClusterSetup {
    /// The cluster's section.
    pub(crate) cluster: ClusterConfig,
    /// `source_clusters`, for a cluster with a `kafka` section.
    pub(crate) sources: Vec<SourceClusterConfig>,
}

impl ClusterSetup {
    /// Each cluster of `config`, by name.
    pub(crate) fn of(config: &Config) -> BTreeMap<String, ClusterSetup> {
        config
            .clusters
            .iter()
            .map(|c| {
                let sources = if c.kafka.is_some() {
                    config.source_clusters.clone()
                } else {
                    Vec::new()
                };
                let setup = ClusterSetup {
                    cluster: c.clone(),
                    sources,
                };
                (c.name.clone(), setup)
            })
            .collect()
    }
}

/// What a reload does, cluster by cluster (names, sorted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// In the new configuration only: started.
    pub added: Vec<String>,
    /// In the running configuration only: stopped, their series withdrawn.
    pub removed: Vec<String>,
    /// In both with a different `ClusterSetup`: stopped and started again.
    pub changed: Vec<String>,
    /// In both, the same: left running, untouched.
    pub unchanged: Vec<String>,
}

impl Plan {
    /// Compares the running clusters with the new ones, by name.
    pub(crate) fn diff(
        running: &BTreeMap<String, ClusterSetup>,
        new: &BTreeMap<String, ClusterSetup>,
    ) -> Self {
        let mut plan = Plan::default();
        let names: BTreeSet<&String> = running.keys().chain(new.keys()).collect();
        for name in names {
            let list = match (running.get(name), new.get(name)) {
                (Some(old), Some(new)) if old == new => &mut plan.unchanged,
                (Some(_), Some(_)) => &mut plan.changed,
                (Some(_), None) => &mut plan.removed,
                (None, _) => &mut plan.added,
            };
            list.push(name.clone());
        }
        plan
    }
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "added {:?}, removed {:?}, changed {:?}, unchanged {:?}",
            self.added, self.removed, self.changed, self.unchanged
        )
    }
}

/// The reload's self-metrics. Cloning shares them.
#[derive(Clone, Debug, Default)]
pub(crate) struct ReloadMetrics {
    /// `clusterlink_exporter_config_last_reload_successful`: 1 when the last reload (or the
    /// start) applied its configuration, 0 when it was rejected.
    pub(crate) successful: Gauge,
    /// `clusterlink_exporter_config_last_reload_success_timestamp_seconds` (Unix seconds).
    pub(crate) success_timestamp: Gauge<f64, AtomicU64>,
}

impl ReloadMetrics {
    /// Registers the families in `registry`, written as a successful load now (the start).
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "exporter_config_last_reload_successful",
            "1 when the last configuration reload (or the start) applied its configuration, 0 when the file was rejected and the running configuration stayed",
            m.successful.clone(),
        );
        registry.register(
            "exporter_config_last_reload_success_timestamp_seconds",
            "Time of the last configuration load that was applied, the start included (Unix seconds)",
            m.success_timestamp.clone(),
        );
        m.record(true);
        m
    }

    /// Records a reload that was applied (`true`) or rejected.
    pub(crate) fn record(&self, applied: bool) {
        self.successful.set(i64::from(applied));
        if applied {
            let now = unix_ms_at(SystemTime::now()) as f64 / 1000.0;
            self.success_timestamp.set(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KafkaConfig;

    fn config(clusters: &[(&str, &str, bool)], source: &str) -> Config {
        let clusters = clusters
            .iter()
            .map(|(name, url, kafka)| {
                let mut c = ClusterConfig::platform(*name, *url);
                if *kafka {
                    c.kafka = Some(KafkaConfig::new("localhost:9092"));
                }
                c
            })
            .collect();
        let source_clusters = vec![SourceClusterConfig {
            name: "S".into(),
            cluster_id: Some(source.into()),
            links: Vec::new(),
            kafka: KafkaConfig::new("localhost:9093"),
        }];
        Config {
            clusters,
            source_clusters,
            ..Config::default()
        }
    }

    fn plan(old: &Config, new: &Config) -> Plan {
        Plan::diff(&ClusterSetup::of(old), &ClusterSetup::of(new))
    }

    #[test]
    fn clusters_are_compared_by_name() {
        let old = config(
            &[
                ("a", "http://a", false),
                ("b", "http://b", false),
                ("c", "http://c", false),
            ],
            "s1",
        );
        let new = config(
            &[
                ("a", "http://a", false),
                ("c", "http://c2", false),
                ("d", "http://d", false),
            ],
            "s1",
        );
        let p = plan(&old, &new);
        assert_eq!(p.added, ["d"]);
        assert_eq!(p.removed, ["b"]);
        assert_eq!(p.changed, ["c"]);
        assert_eq!(p.unchanged, ["a"]);
        assert_eq!(plan(&new, &new).unchanged, ["a", "c", "d"]);
    }

    #[test]
    fn a_source_cluster_change_restarts_only_clusters_with_kafka() {
        let old = config(&[("a", "http://a", false), ("k", "http://k", true)], "s1");
        let new = config(&[("a", "http://a", false), ("k", "http://k", true)], "s2");
        let p = plan(&old, &new);
        assert_eq!(p.changed, ["k"]);
        assert_eq!(p.unchanged, ["a"]);
    }

    #[test]
    fn a_changed_filter_pattern_is_a_change() {
        let old =
            Config::from_yaml("clusters: [{name: a, rest_url: 'http://a/kafka/v3'}]").unwrap();
        let new = Config::from_yaml(
            "clusters: [{name: a, rest_url: 'http://a/kafka/v3', links: {include: ['x.*']}}]",
        )
        .unwrap();
        assert_eq!(plan(&old, &new).changed, ["a"]);
        assert_eq!(plan(&new, &new).unchanged, ["a"]);
    }

    #[test]
    fn metrics_start_successful_and_a_rejection_keeps_the_last_success_time() {
        let mut registry = Registry::default();
        let m = ReloadMetrics::register(&mut registry);
        assert_eq!(m.successful.get(), 1);
        let at = m.success_timestamp.get();
        assert!(at > 1.7e9, "{at}");
        m.record(false);
        assert_eq!(m.successful.get(), 0);
        assert_eq!(m.success_timestamp.get(), at);
    }
}
