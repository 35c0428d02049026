//! The life of a cluster's series, one contract for every component that keeps some
//! ([`ClusterSeries`]): the self-metrics of `collect`, `supervise` and `kafka`, the rendered
//! parts of `render::Exposition` and the status data of `status::StatusStore`. The exporter
//! only loops over the components when it launches, stops or removes a cluster.
//!
//! What goes when (decided once, documented in `docs/metrics.md`):
//!
//! - a cluster **stopped for a restart** (a reload changed it) loses the gauges its stopped
//!   workers wrote; its counters stay and continue;
//! - a cluster **removed by a reload** loses every series, counters included: the memory is
//!   freed, and a cluster that comes back starts its counters from 0 (a counter reset, which
//!   `rate()` and `increase()` handle).
//!
//! A family whose labels are a closed set per cluster is cleaned by enumerating its `ALL`; a
//! family with an open label (a request type, an HTTP status, a link or connection name that
//! an earlier configuration had) is a [`ClusterFamily`], which remembers the label sets it
//! created per cluster.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::{MetricType, TypedMetric};

use crate::reload::ClusterSetup;
use crate::util::{lock, ClusterLabels};

/// A component that keeps per-cluster series (self-metrics, rendered parts, status data) and
/// owns their whole life. Each is called with the cluster's [`ClusterSetup`].
pub(crate) trait ClusterSeries: Send + Sync {
    /// The cluster's workers are about to be launched (at start, or by a reload that added or
    /// changed it): series that start at 0 are written (`up` 0, counters 0) where missing.
    fn start_cluster(&self, setup: &ClusterSetup) {
        let _ = setup;
    }

    /// The cluster's workers stopped for a restart (a reload changed it): the gauges they
    /// wrote go, counters stay.
    fn stop_cluster(&self, setup: &ClusterSetup) {
        let _ = setup;
    }

    /// The cluster was removed by a reload (its workers stopped): every series of it goes.
    fn forget_cluster(&self, setup: &ClusterSetup);
}

/// A label set that names its destination cluster (`kafka_cluster`).
pub(crate) trait OfCluster {
    /// The `kafka_cluster` label.
    fn kafka_cluster(&self) -> &str;
}

impl OfCluster for ClusterLabels {
    fn kafka_cluster(&self) -> &str {
        &self.kafka_cluster
    }
}

/// A prometheus-client [`Family`] that also remembers, per cluster, the label sets it
/// created, so that a cluster's series can be removed ([`ClusterFamily::remove_cluster`])
/// where they cannot be enumerated (a `Family` cannot be iterated). Registered like a
/// `Family` (it encodes as one). Cloning shares it.
#[derive(Debug)]
pub(crate) struct ClusterFamily<S, M, C = fn() -> M> {
    family: Family<S, M, C>,
    created: Arc<Mutex<HashMap<String, HashSet<S>>>>,
}

impl<S, M, C: Clone> Clone for ClusterFamily<S, M, C> {
    fn clone(&self) -> Self {
        Self {
            family: self.family.clone(),
            created: self.created.clone(),
        }
    }
}

impl<S: Clone + Hash + Eq, M: Default> Default for ClusterFamily<S, M> {
    fn default() -> Self {
        Self {
            family: Family::default(),
            created: Arc::default(),
        }
    }
}

impl<S, M, C> ClusterFamily<S, M, C>
where
    S: Clone + Hash + Eq + OfCluster,
    C: MetricConstructor<M>,
{
    /// The series of `labels`, created (and remembered) when missing.
    pub(crate) fn get_or_create(&self, labels: &S) -> impl Deref<Target = M> + '_ {
        if self.family.get(labels).is_none() {
            lock(&self.created)
                .entry(labels.kafka_cluster().to_owned())
                .or_default()
                .insert(labels.clone());
        }
        self.family.get_or_create(labels)
    }

    /// The series of `labels`, if it exists.
    #[cfg(test)]
    pub(crate) fn get(&self, labels: &S) -> Option<impl Deref<Target = M> + '_> {
        self.family.get(labels)
    }

    /// Removes the series of `labels`.
    pub(crate) fn remove(&self, labels: &S) {
        if let Some(created) = lock(&self.created).get_mut(labels.kafka_cluster()) {
            created.remove(labels);
        }
        self.family.remove(labels);
    }

    /// Removes every series of `cluster`.
    pub(crate) fn remove_cluster(&self, cluster: &str) {
        let created = lock(&self.created).remove(cluster);
        for labels in created.into_iter().flatten() {
            self.family.remove(&labels);
        }
    }
}

impl<S, M: TypedMetric, C> TypedMetric for ClusterFamily<S, M, C> {
    const TYPE: MetricType = <M as TypedMetric>::TYPE;
}

impl<S, M, C> EncodeMetric for ClusterFamily<S, M, C>
where
    S: Clone + Hash + Eq + EncodeLabelSet,
    M: EncodeMetric + TypedMetric,
    C: MetricConstructor<M>,
{
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        self.family.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        self.family.metric_type()
    }

    fn is_empty(&self) -> bool {
        self.family.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::EncodeLabelSet;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::registry::Registry;

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct Labels {
        kafka_cluster: String,
        request: String,
    }

    impl OfCluster for Labels {
        fn kafka_cluster(&self) -> &str {
            &self.kafka_cluster
        }
    }

    fn labels(cluster: &str, request: &str) -> Labels {
        Labels {
            kafka_cluster: cluster.into(),
            request: request.into(),
        }
    }

    #[test]
    fn a_cluster_family_encodes_as_a_family_and_removes_one_cluster() {
        let family = ClusterFamily::<Labels, Counter>::default();
        let mut registry = Registry::default();
        registry.register("requests", "Requests", family.clone());
        let plain = Family::<Labels, Counter>::default();
        let mut expected = Registry::default();
        expected.register("requests", "Requests", plain.clone());
        for (c, r) in [("a", "Fetch"), ("a", "Metadata"), ("b", "Fetch")] {
            family.get_or_create(&labels(c, r)).inc();
            plain.get_or_create(&labels(c, r)).inc();
        }
        let text = |r: &Registry| {
            let mut s = String::new();
            prometheus_client::encoding::text::encode(&mut s, r).unwrap();
            // A family's series come in hash order.
            let mut lines: Vec<String> = s.lines().map(str::to_owned).collect();
            lines.sort();
            lines
        };
        assert_eq!(text(&registry), text(&expected));
        family.remove_cluster("a");
        assert!(family.get(&labels("a", "Fetch")).is_none());
        assert_eq!(family.get(&labels("b", "Fetch")).map(|c| c.get()), Some(1));
        family.remove_cluster("b");
        assert!(family.is_empty());
        // Created again after a removal: remembered again.
        family.get_or_create(&labels("a", "Fetch")).inc();
        family.remove_cluster("a");
        assert!(family.is_empty());
    }
}
