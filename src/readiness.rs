//! Fail-over readiness, kept current: [`Readiness`] is one more target of the workers'
//! [`crate::snapshot::Fanout`], after the status store. Each time a cluster's REST or
//! Kafka-side snapshot is published (or withdrawn) it assesses that cluster again
//! ([`crate::snapshot::assess`], from the latest snapshots the [`StatusStore`] keeps, the
//! cluster's `failover_readiness` and its previous assessment, which carries the last lag in
//! seconds measured), renders the readiness families into the exposition's third part
//! ([`Side::Readiness`]) and keeps the result on the status store for the status page. It
//! makes no request of its own: readiness adds nothing to a cycle's upstream requests.
//!
//! It learns each cluster's policy when the exporter launches the cluster
//! ([`ClusterSeries::start_cluster`]) and forgets it, with the cluster's readiness series and
//! status, when a reload removes the cluster. Links named in `failover_readiness.links` that the
//! REST API does not list are logged at warn once each time that set changes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::config::FailoverReadinessConfig;
use crate::reload::ClusterSetup;
use crate::render::{render_readiness, Exposition, Side};
use crate::series::ClusterSeries;
use crate::snapshot::{
    assess, ClusterReadiness, ClusterSnapshot, KafkaSide, KafkaSnapshot, Publish, ReadinessInputs,
};
use crate::status::StatusStore;
use crate::util::{lock, unix_ms};

/// What readiness keeps per cluster.
#[derive(Debug)]
struct ClusterState {
    policy: FailoverReadinessConfig,
    /// Whether the cluster has a `kafka` section.
    kafka: bool,
    /// The last assessment (its links' last lag in seconds).
    last: Option<Arc<ClusterReadiness>>,
    /// The configured links last reported as not listed by the REST API.
    warned: Vec<String>,
}

/// Assesses a cluster's fail-over readiness whenever one of its snapshots is published (see
/// the module header). Cloning is not needed: the exporter shares it in an `Arc`.
#[derive(Debug)]
pub(crate) struct Readiness {
    exposition: Arc<Exposition>,
    status: StatusStore,
    clusters: Mutex<BTreeMap<String, ClusterState>>,
}

impl Readiness {
    /// Readiness rendered into `exposition` and kept on `status`, whose snapshots it reads
    /// (so it must come after `status` in the fan-out).
    pub(crate) fn new(exposition: Arc<Exposition>, status: StatusStore) -> Self {
        Self {
            exposition,
            status,
            clusters: Mutex::new(BTreeMap::new()),
        }
    }

    /// Assesses `cluster` again from its latest snapshots (nothing for a cluster not
    /// launched, or removed: a late publication does not bring it back).
    fn reassess(&self, cluster: &str) {
        let mut clusters = lock(&self.clusters);
        let Some(state) = clusters.get_mut(cluster) else {
            return;
        };
        let latest = self.status.latest(cluster).unwrap_or_default();
        let rest: Option<&ClusterSnapshot> = latest.rest.as_ref().map(|(s, _)| &**s);
        let kafka = match (&latest.kafka, state.kafka) {
            (_, false) => KafkaSide::NotConfigured,
            (Some((k, at)), true) => KafkaSide::Measured(&**k as &KafkaSnapshot, *at),
            (None, true) => KafkaSide::NotMeasuring,
        };
        let readiness = Arc::new(assess(ReadinessInputs {
            rest,
            kafka,
            policy: &state.policy,
            previous: state.last.as_deref(),
            now_ms: unix_ms(),
        }));
        if rest.is_some() && readiness.unknown_links != state.warned {
            if !readiness.unknown_links.is_empty() {
                tracing::warn!(
                    kafka_cluster = %cluster,
                    links = ?readiness.unknown_links,
                    "failover_readiness.links names links the REST API does not list (a typo, or links deleted): their settings apply to nothing"
                );
            }
            state.warned = readiness.unknown_links.clone();
        }
        state.last = Some(readiness.clone());
        let rendered = render_readiness(cluster, &readiness);
        self.exposition
            .set_part(cluster, Side::Readiness, Some(rendered));
        self.status.set_readiness(cluster, Some(readiness));
    }
}

impl Publish for Readiness {
    fn publish_rest(&self, cluster: &str, _: Option<Arc<ClusterSnapshot>>) {
        self.reassess(cluster);
    }

    fn publish_kafka(&self, cluster: &str, _: Option<Arc<KafkaSnapshot>>) {
        self.reassess(cluster);
    }
}

impl ClusterSeries for Readiness {
    /// Takes the cluster's (new) policy, keeping its last assessment, and assesses it again.
    fn start_cluster(&self, setup: &ClusterSetup) {
        let name = &setup.cluster.name;
        {
            let mut clusters = lock(&self.clusters);
            let state = clusters
                .entry(name.clone())
                .or_insert_with(|| ClusterState {
                    policy: FailoverReadinessConfig::default(),
                    kafka: false,
                    last: None,
                    warned: Vec::new(),
                });
            state.policy = setup.cluster.failover_readiness.clone();
            state.kafka = setup.cluster.kafka.is_some();
        }
        self.reassess(name);
    }

    /// The cluster's policy, readiness series and status go.
    fn forget_cluster(&self, setup: &ClusterSetup) {
        let name = &setup.cluster.name;
        lock(&self.clusters).remove(name);
        self.exposition.set_part(name, Side::Readiness, None);
        self.status.set_readiness(name, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ClusterConfig, KafkaConfig};
    use crate::snapshot::{Fanout, Link, LinkState, Reported, Verdict};

    fn setup(kafka: bool) -> ClusterSetup {
        let mut cluster = ClusterConfig::platform("A", "http://a/kafka/v3");
        if kafka {
            cluster.kafka = Some(KafkaConfig::new("localhost:9092"));
        }
        ClusterSetup {
            cluster,
            sources: Vec::new(),
        }
    }

    fn snapshot() -> Arc<ClusterSnapshot> {
        Arc::new(ClusterSnapshot {
            links: vec![Link {
                name: "ab".into(),
                state: Reported::Known(LinkState::Active),
                ..Link::default()
            }],
            ..ClusterSnapshot::default()
        })
    }

    #[test]
    fn each_publication_reassesses_the_cluster_and_a_removed_one_stays_gone() {
        let exposition = Arc::new(Exposition::new(Default::default()));
        let status = StatusStore::new();
        let readiness = Arc::new(Readiness::new(exposition.clone(), status.clone()));
        let fanout = Fanout::new(vec![
            Arc::new(status.clone()) as Arc<dyn Publish>,
            readiness.clone(),
        ]);
        readiness.start_cluster(&setup(true));
        fanout.publish_rest("A", Some(snapshot()));
        let verdict =
            |status: &StatusStore| status.read().readiness.get("A").map(|r| r.links[0].verdict);
        // Kafka configured, nothing measured yet: unknown, never ready.
        assert_eq!(verdict(&status), Some(Verdict::Unknown));
        fanout.publish_kafka("A", Some(Arc::default()));
        assert_eq!(
            verdict(&status),
            Some(Verdict::Ready),
            "a link without mirror topics"
        );
        assert!(exposition.render().contains(
            "clusterlink_link_failover_readiness{kafka_cluster=\"A\",link=\"ab\",verdict=\"ready\"} 1"
        ));
        // The REST collection fails: unknown, not a stale ready.
        fanout.publish_rest("A", None);
        assert_eq!(verdict(&status), Some(Verdict::Unknown));
        readiness.forget_cluster(&setup(true));
        fanout.publish_rest("A", Some(snapshot()));
        assert_eq!(verdict(&status), None);
        assert!(!exposition
            .render()
            .contains("clusterlink_link_failover_readiness{"));
    }
}
