//! Names the configuration gives that the clusters do not have, seen at run time: a probe on
//! a link the REST API does not list, a `failover_readiness.links` entry it does not list, a
//! probe's mirror topic that is not mirrored, a `links` or `mirror_topics` include pattern
//! that selects nothing, an `offset_sync.groups` entry with no commit on the source
//! (`check`, pure, shared with `check-config --connect`), and a `source_clusters` entry whose
//! `cluster_id` (or a link it names) no destination's links have: that one is checked against
//! every destination cluster with a `kafka` section at once, and reported on each of them
//! (not checked in a sharded exporter: another shard may hold the destinations that use it).
//!
//! [`References`] is one more target of the workers' [`crate::snapshot::Fanout`], after the
//! status store (whose latest REST snapshot it reads when a Kafka-side one arrives). At each
//! publication it checks the cluster's references again and
//! - writes `clusterlink_config_reference_missing{kafka_cluster,kind,name,key}`: 1 while the
//!   name is missing, 0 once found (a reference is written once it could be checked);
//! - logs at warn the missing ones each time that set changes (not per cycle), and at info
//!   when they are all found again;
//! - keeps the missing ones on the status store for the status page.
//!
//! A withdrawn snapshot (a failed cycle) changes nothing: what was last seen stands. It makes
//! no request of its own. Its series and status data start with the cluster and go with it
//! ([`ClusterSeries`]).

pub(crate) mod check;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::config::{ClusterConfig, SourceClusterConfig};
use crate::reload::ClusterSetup;
use crate::series::{ClusterFamily, ClusterSeries, OfCluster};
use crate::snapshot::{ClusterSnapshot, KafkaSnapshot, Publish};
use crate::status::StatusStore;
use crate::util::lock;
pub(crate) use check::{check_groups, check_readiness_links, check_rest, Checked, ReferenceKind};
use check::{check_sources, listed_links, ListedLinks};

/// Labels of `clusterlink_config_reference_missing`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ReferenceLabels {
    /// The destination cluster whose section names it (for a `source_clusters` entry: each
    /// destination with a `kafka` section, the clusters it would serve).
    pub(crate) kafka_cluster: String,
    /// What it names.
    pub(crate) kind: ReferenceKind,
    /// The name or pattern as configured.
    pub(crate) name: String,
    /// The key under the cluster's section that names it (`probes[0].link`), or a top-level
    /// one (`source_clusters[0].cluster_id`).
    pub(crate) key: String,
}

impl OfCluster for ReferenceLabels {
    fn kafka_cluster(&self) -> &str {
        &self.kafka_cluster
    }
}

impl ReferenceLabels {
    fn of(cluster: &str, c: &Checked) -> Self {
        Self {
            kafka_cluster: cluster.to_owned(),
            kind: c.kind,
            name: c.name.clone(),
            key: c.key.clone(),
        }
    }
}

/// What is kept per cluster.
#[derive(Debug)]
struct ClusterState {
    config: ClusterConfig,
    /// `source_clusters` (empty without a `kafka` section).
    sources: Vec<SourceClusterConfig>,
    /// The links the last REST snapshot listed (`None`: none published yet).
    links: Option<ListedLinks>,
    /// The last check of the REST-side references (`None`: not checked yet).
    rest: Option<Vec<Checked>>,
    /// The last check of the configured consumer groups.
    groups: Option<Vec<Checked>>,
    /// The last check of the `source_clusters` entries, against every destination.
    source_entries: Option<Vec<Checked>>,
    /// The missing references last logged.
    warned: Vec<Checked>,
}

impl ClusterState {
    fn checked(&self) -> impl Iterator<Item = &Checked> {
        let all = self
            .rest
            .iter()
            .chain(&self.groups)
            .chain(&self.source_entries);
        all.flatten()
    }
}

/// Checks each cluster's configuration references at every publication (see the module
/// header). The exporter shares it in an `Arc`.
#[derive(Debug)]
pub(crate) struct References {
    status: StatusStore,
    /// The clusters with a `kafka` section this process runs (set at start and at each
    /// reload, before they start): a `source_clusters` entry is missing only once each was
    /// read. Empty (not set, or a sharded exporter): the entries are not checked.
    destinations: Mutex<Vec<String>>,
    missing: ClusterFamily<ReferenceLabels, Gauge>,
    clusters: Mutex<BTreeMap<String, ClusterState>>,
}

impl References {
    /// Registers `clusterlink_config_reference_missing` in `registry`; the missing references
    /// go to `status`, whose latest REST snapshot it reads (so it comes after `status` in the
    /// fan-out).
    pub(crate) fn register(registry: &mut Registry, status: StatusStore) -> Self {
        let missing = ClusterFamily::default();
        registry.register(
            "config_reference_missing",
            "1 while a link, mirror topic, consumer group or include pattern the cluster's configuration names is not found on the cluster, or a source_clusters entry's cluster id or link on no destination (kind: link, mirror_topic, consumer_group, link_filter, mirror_topic_filter, source_cluster), 0 once found",
            missing.clone(),
        );
        Self {
            status,
            destinations: Mutex::default(),
            missing,
            clusters: Mutex::new(BTreeMap::new()),
        }
    }

    /// Names the clusters with a `kafka` section of the configuration this process runs
    /// (before they start): the `source_clusters` entries are told missing only once each of
    /// them published its links, not when the first one started publishes before the others.
    /// A `sharded` exporter (one shard of several) names none: the destinations that use an
    /// entry may be on another shard.
    pub(crate) fn set_destinations(&self, config: &crate::config::Config, sharded: bool) {
        let measured = config
            .clusters
            .iter()
            .filter(|c| c.kafka.is_some() && !sharded);
        *lock(&self.destinations) = measured.map(|c| c.name.clone()).collect();
    }

    /// Checks `cluster` again with `update` and publishes the outcome.
    fn recheck(&self, cluster: &str, update: impl FnOnce(&mut ClusterState)) {
        self.recheck_in(&mut lock(&self.clusters), cluster, update);
    }

    /// Checks the `source_clusters` entries again against the links of every destination
    /// with a `kafka` section, and publishes the outcome on each of them.
    fn recheck_sources(&self, clusters: &mut BTreeMap<String, ClusterState>) {
        let measured = lock(&self.destinations).clone();
        let started = measured.iter().filter_map(|n| clusters.get(n)).next();
        let Some(sources) = started.map(|s| s.sources.clone()) else {
            return;
        };
        let checked = {
            let links_of: Vec<(&str, Option<&ListedLinks>)> = measured
                .iter()
                .map(|n| (n.as_str(), clusters.get(n).and_then(|s| s.links.as_ref())))
                .collect();
            check_sources(&sources, &links_of)
        };
        for name in &measured {
            self.recheck_in(clusters, name, |state| {
                let before = state.source_entries.take();
                state.source_entries = Some(with_untold(checked.clone(), before));
            });
        }
    }

    /// [`Self::recheck`] under the lock already taken.
    fn recheck_in(
        &self,
        clusters: &mut BTreeMap<String, ClusterState>,
        cluster: &str,
        update: impl FnOnce(&mut ClusterState),
    ) {
        let Some(state) = clusters.get_mut(cluster) else {
            return;
        };
        let before: Vec<ReferenceLabels> = state
            .checked()
            .map(|c| ReferenceLabels::of(cluster, c))
            .collect();
        update(state);
        let now: Vec<&Checked> = state.checked().collect();
        for labels in before {
            if !now
                .iter()
                .any(|c| ReferenceLabels::of(cluster, c) == labels)
            {
                self.missing.remove(&labels);
            }
        }
        for c in &now {
            let value = i64::from(c.missing.is_some());
            self.missing
                .get_or_create(&ReferenceLabels::of(cluster, c))
                .set(value);
        }
        let missing: Vec<Checked> = now
            .into_iter()
            .filter(|c| c.missing.is_some())
            .cloned()
            .collect();
        log_change(cluster, &state.warned, &missing);
        state.warned = missing.clone();
        self.status.set_references(cluster, Some(missing));
    }
}

/// Logs the missing references when they changed: each one at warn, or one info line when
/// none is missing any more.
fn log_change(cluster: &str, before: &[Checked], now: &[Checked]) {
    if before == now {
        return;
    }
    if now.is_empty() {
        tracing::info!(kafka_cluster = %cluster, "every name the configuration gives is found on the cluster");
    }
    for c in now.iter().filter(|c| !before.contains(c)) {
        tracing::warn!(
            kafka_cluster = %cluster,
            key = %c.key,
            kind = %c.kind,
            name = %c.name,
            problem = c.missing.as_deref().unwrap_or(""),
            "the configuration names something the cluster does not have (a typo, or deleted): what uses it measures nothing"
        );
    }
}

impl Publish for References {
    fn publish_rest(&self, cluster: &str, snapshot: Option<Arc<ClusterSnapshot>>) {
        let Some(snapshot) = snapshot else { return };
        let mut clusters = lock(&self.clusters);
        self.recheck_in(&mut clusters, cluster, |state| {
            let mut checked = check_rest(&state.config, &snapshot);
            checked.extend(check_readiness_links(&state.config, &snapshot));
            state.rest = Some(checked);
            state.links = Some(listed_links(&snapshot));
        });
        self.recheck_sources(&mut clusters);
    }

    fn publish_kafka(&self, cluster: &str, snapshot: Option<Arc<KafkaSnapshot>>) {
        let Some(kafka) = snapshot else { return };
        let Some((rest, _)) = self.status.latest(cluster).and_then(|l| l.rest) else {
            return;
        };
        self.recheck(cluster, |state| {
            if let Some(groups) = check_groups(&state.config, &rest, &kafka) {
                state.groups = Some(with_untold(groups, state.groups.take()));
            }
        });
    }
}

/// `checked`, plus the `previous` check of each configured name `checked` left out (it could
/// not be told this time): what was last seen stands.
fn with_untold(mut checked: Vec<Checked>, previous: Option<Vec<Checked>>) -> Vec<Checked> {
    for old in previous.into_iter().flatten() {
        if !checked.iter().any(|c| c.key == old.key) {
            checked.push(old);
        }
    }
    checked
}

impl ClusterSeries for References {
    /// Takes the cluster's (new) configuration; what it names is checked at the next
    /// publication.
    fn start_cluster(&self, setup: &ClusterSetup) {
        let name = &setup.cluster.name;
        let mut clusters = lock(&self.clusters);
        if clusters
            .get(name)
            .is_some_and(|s| s.config == setup.cluster && s.sources == setup.sources)
        {
            return;
        }
        self.missing.remove_cluster(name);
        self.status.set_references(name, None);
        clusters.insert(
            name.clone(),
            ClusterState {
                config: setup.cluster.clone(),
                sources: setup.sources.clone(),
                links: None,
                rest: None,
                groups: None,
                source_entries: None,
                warned: Vec::new(),
            },
        );
    }

    /// The cluster's series and status data go; the `source_clusters` entries are checked
    /// again without its links.
    fn forget_cluster(&self, setup: &ClusterSetup) {
        let name = &setup.cluster.name;
        let mut clusters = lock(&self.clusters);
        clusters.remove(name);
        self.missing.remove_cluster(name);
        self.status.set_references(name, None);
        self.recheck_sources(&mut clusters);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, KafkaConfig, ProbeConfig};
    use crate::snapshot::{Fanout, Link};

    fn group(name: &str, missing: Option<&str>) -> Checked {
        Checked {
            kind: ReferenceKind::ConsumerGroup,
            name: name.into(),
            key: format!("offset_sync.groups[{name}]"),
            missing: missing.map(Into::into),
        }
    }

    #[test]
    fn a_name_that_cannot_be_told_keeps_its_last_check() {
        let now = vec![group("a", None)];
        let before = vec![group("a", Some("gone")), group("b", Some("gone"))];
        let merged = with_untold(now, Some(before));
        assert_eq!(merged, [group("a", None), group("b", Some("gone"))]);
        assert_eq!(
            with_untold(vec![group("a", None)], None),
            [group("a", None)]
        );
    }

    fn setup() -> ClusterSetup {
        let mut cluster = Config::from_yaml(
            "clusters: [{name: B, rest_url: 'http://b/kafka/v3', kafka: {bootstrap_servers: 'b:9092'}}]",
        )
        .unwrap()
        .clusters
        .remove(0);
        cluster.kafka = Some(KafkaConfig::new("b:9092"));
        cluster.probes = vec![ProbeConfig::new("dr-lnk", "probe")];
        ClusterSetup {
            cluster,
            sources: Vec::new(),
        }
    }

    fn links(names: &[&str]) -> Arc<ClusterSnapshot> {
        Arc::new(ClusterSnapshot {
            links: names
                .iter()
                .map(|n| Link {
                    name: (*n).into(),
                    ..Link::default()
                })
                .collect(),
            ..ClusterSnapshot::default()
        })
    }

    /// References behind the status store in a fan-out, as the exporter wires them.
    fn wired() -> (Registry, StatusStore, Arc<References>, Fanout) {
        let mut registry = Registry::default();
        let status = StatusStore::new();
        let references = Arc::new(References::register(&mut registry, status.clone()));
        let fanout = Fanout::new(vec![
            Arc::new(status.clone()) as Arc<dyn Publish>,
            references.clone(),
        ]);
        (registry, status, references, fanout)
    }

    fn text(registry: &Registry) -> String {
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, registry).unwrap();
        s
    }

    #[test]
    fn a_missing_probe_link_is_a_series_and_a_status_line_until_found() {
        let (registry, status, references, fanout) = wired();
        references.start_cluster(&setup());
        let series = "config_reference_missing{kafka_cluster=\"B\",kind=\"link\",name=\"dr-lnk\",key=\"probes[0].link\"}";
        assert!(!text(&registry).contains(series), "written before a check");
        fanout.publish_rest("B", Some(links(&["dr-link"])));
        assert!(text(&registry).contains(&format!("{series} 1")));
        let missing = status.read().references.get("B").cloned().unwrap();
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].key, "probes[0].link");
        // A failed cycle changes nothing; the link appears: 0, off the status page.
        fanout.publish_rest("B", None);
        assert!(text(&registry).contains(&format!("{series} 1")));
        fanout.publish_rest("B", Some(links(&["dr-lnk"])));
        assert!(text(&registry).contains(&format!("{series} 0")));
        // Its mirror topic is checked now that the link is found: not mirrored.
        let missing = status.read().references.get("B").cloned().unwrap();
        let keys: Vec<&str> = missing.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, ["probes[0].topic"]);
        references.forget_cluster(&setup());
        assert!(!text(&registry).contains("kafka_cluster=\"B\""));
        assert!(!status.read().references.contains_key("B"));
    }

    fn measured(name: &str) -> ClusterSetup {
        let config = Config::from_yaml(&format!(
            "clusters: [{{name: {name}, rest_url: 'http://b/kafka/v3', kafka: {{bootstrap_servers: 'b:9092'}}}}]\n\
             source_clusters: [{{name: A, cluster_id: lkc-typo, kafka: {{bootstrap_servers: 'a:9092'}}}}]"
        ))
        .unwrap();
        ClusterSetup {
            cluster: config.clusters[0].clone(),
            sources: config.source_clusters,
        }
    }

    fn from(source: &str) -> Arc<ClusterSnapshot> {
        Arc::new(ClusterSnapshot {
            links: vec![Link {
                name: "dr-link".into(),
                source_cluster_id: Some(source.into()),
                ..Link::default()
            }],
            ..ClusterSnapshot::default()
        })
    }

    #[test]
    fn a_source_cluster_id_no_destination_has_is_reported_on_each_destination() {
        let (registry, status, references, fanout) = wired();
        let both = Config::from_yaml(
            "clusters: [{name: B, rest_url: 'http://b/kafka/v3', kafka: {bootstrap_servers: 'b:9092'}}, \
             {name: C, rest_url: 'http://c/kafka/v3', kafka: {bootstrap_servers: 'c:9092'}}]",
        )
        .unwrap();
        references.set_destinations(&both, false);
        references.start_cluster(&measured("B"));
        let series = |c: &str| {
            format!("config_reference_missing{{kafka_cluster=\"{c}\",kind=\"source_cluster\",name=\"lkc-typo\",key=\"source_clusters[0].cluster_id\"}}")
        };
        fanout.publish_rest("B", Some(from("lkc-a")));
        assert!(!text(&registry).contains(&series("B")), "C not started yet");
        references.start_cluster(&measured("C"));
        fanout.publish_rest("B", Some(from("lkc-a")));
        assert!(!text(&registry).contains(&series("B")), "C not read yet");
        fanout.publish_rest("C", Some(from("lkc-a")));
        for c in ["B", "C"] {
            assert!(text(&registry).contains(&format!("{} 1", series(c))));
            let missing = status.read().references.get(c).cloned().unwrap();
            assert_eq!(missing[0].kind, ReferenceKind::SourceCluster);
        }
        // C's link turns out to come from that id: found for both.
        fanout.publish_rest("C", Some(from("lkc-typo")));
        for c in ["B", "C"] {
            assert!(text(&registry).contains(&format!("{} 0", series(c))));
            assert_eq!(status.read().references.get(c).map(Vec::len), Some(0));
        }
        // Without C, no destination has it any more.
        let only_b = "clusters: [{name: B, rest_url: 'http://b/kafka/v3', kafka: {bootstrap_servers: 'b:9092'}}]";
        references.set_destinations(&Config::from_yaml(only_b).unwrap(), false);
        references.forget_cluster(&measured("C"));
        assert!(text(&registry).contains(&format!("{} 1", series("B"))));
        assert!(!text(&registry).contains(&series("C")));
    }

    #[test]
    fn a_sharded_exporter_leaves_the_source_clusters_entries_unchecked() {
        let (registry, status, references, fanout) = wired();
        let b = "clusters: [{name: B, rest_url: 'http://b/kafka/v3', kafka: {bootstrap_servers: 'b:9092'}}]";
        references.set_destinations(&Config::from_yaml(b).unwrap(), true);
        references.start_cluster(&measured("B"));
        fanout.publish_rest("B", Some(from("lkc-a")));
        assert!(
            !text(&registry).contains("source_cluster"),
            "{}",
            text(&registry)
        );
        assert_eq!(status.read().references.get("B").map(Vec::len), Some(0));
    }
}
