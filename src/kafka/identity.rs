//! Whether a Kafka connection reaches the cluster it is meant to (pure, unit-tested): the
//! cluster ids its brokers must report ([`Expected`]: the destination's, the cluster id its
//! REST API serves; a source's, its configured `cluster_id`, else the `source_cluster_id` the
//! REST API reports for each link it serves) and the comparison with the id they report
//! ([`compare`]: the first mismatch, a [`WrongCluster`]).
//!
//! A `bootstrap_servers` that reaches another cluster (a copied section, a DNS name moved to
//! another cluster, the destination's brokers given as a source's) answers every request, so
//! nothing fails: without this check its watermarks would be exported as the right cluster's,
//! a silently wrong lag. The measurer reads the id the brokers report from librdkafka's cache
//! of the last `Metadata` answer (no request of its own) after each read of the watermarks.

use crate::config::{ClusterConfig, SourceClusterConfig};
use crate::snapshot::{Link, Role};

/// A cluster id a connection's brokers must report, and where that expectation comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Expected {
    /// The cluster id.
    pub(crate) id: String,
    /// Where it comes from, for the operator: `clusters[B].cluster_id`, `the source_cluster_id
    /// the REST API reports for link "dr-link"`, …
    pub(crate) from: String,
}

/// What the destination's brokers must report: the cluster id its REST API serves
/// (`rest_cluster_id`; `None`, not known yet: nothing to compare).
pub(crate) fn destination(cluster: &ClusterConfig, rest_cluster_id: Option<&str>) -> Vec<Expected> {
    let from = if cluster.cluster_id.is_some() {
        format!(
            "clusters[{}].cluster_id, served by its REST API",
            cluster.name
        )
    } else {
        format!(
            "the cluster id the REST API of clusters[{}] serves",
            cluster.name
        )
    };
    rest_cluster_id
        .map(|id| Expected {
            id: id.to_owned(),
            from,
        })
        .into_iter()
        .collect()
}

/// What the brokers of `source` must report: its configured `cluster_id`; else the
/// `source_cluster_id` the REST API reports for each link of `links` it serves (one entry per
/// id; none when no link reports one: nothing to compare).
pub(crate) fn source(source: &SourceClusterConfig, links: &[Link]) -> Vec<Expected> {
    if let Some(id) = &source.cluster_id {
        return vec![Expected {
            id: id.clone(),
            from: format!("source_clusters[{}].cluster_id", source.name),
        }];
    }
    let mut out: Vec<Expected> = Vec::new();
    for link in links {
        let Some(id) = link
            .source_cluster_id
            .as_deref()
            .filter(|id| !id.is_empty())
        else {
            continue;
        };
        if source.serves(&link.name, Some(id)) && out.iter().all(|e| e.id != id) {
            out.push(Expected {
                id: id.to_owned(),
                from: format!(
                    "the source_cluster_id the REST API reports for link {:?}",
                    link.name
                ),
            });
        }
    }
    out
}

/// A connection whose brokers report another cluster id than expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WrongCluster {
    /// The expectation it fails.
    pub(crate) expected: Expected,
    /// The cluster id its brokers report.
    pub(crate) found: String,
}

impl WrongCluster {
    /// What is wrong, naming the configuration key `key` (`… reaches Kafka cluster "x", not
    /// "y" (from)`).
    pub(crate) fn detail(&self, key: &str) -> String {
        format!(
            "{key} reaches Kafka cluster {:?}, not {:?} ({})",
            self.found, self.expected.id, self.expected.from
        )
    }
}

/// The first of `expected` that the reported cluster id `found` fails; `None` when it meets
/// them all, and when the brokers report no id (a broker older than Kafka 0.10.1: nothing to
/// compare).
pub(crate) fn compare(expected: &[Expected], found: Option<&str>) -> Option<WrongCluster> {
    let found = found.filter(|f| !f.is_empty())?;
    expected
        .iter()
        .find(|e| e.id != found)
        .map(|e| WrongCluster {
            expected: e.clone(),
            found: found.to_owned(),
        })
}

/// The configuration key of a connection's brokers: `clusters[B].kafka.bootstrap_servers` or
/// `source_clusters[A].kafka.bootstrap_servers`.
pub(crate) fn bootstrap_key(role: Role, kafka_cluster: &str, connection: &str) -> String {
    match role {
        Role::Destination => format!("clusters[{kafka_cluster}].kafka.bootstrap_servers"),
        Role::Source => format!("source_clusters[{connection}].kafka.bootstrap_servers"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn config(source: &str) -> Config {
        let yaml = format!(
            "clusters: [{{name: B, rest_url: 'http://b/kafka/v3', kafka: {{bootstrap_servers: 'b:9092'}}}}]
source_clusters: [{{name: A, kafka: {{bootstrap_servers: 'a:9092'}}, {source}}}]"
        );
        Config::from_yaml(&yaml).unwrap()
    }

    fn link(name: &str, source_cluster_id: Option<&str>) -> Link {
        Link {
            name: name.into(),
            source_cluster_id: source_cluster_id.map(str::to_owned),
            ..Link::default()
        }
    }

    fn ids(expected: &[Expected]) -> Vec<&str> {
        expected.iter().map(|e| e.id.as_str()).collect()
    }

    #[test]
    fn the_destination_must_report_the_rest_cluster_id() {
        let c = config("links: [dr]");
        let expected = destination(&c.clusters[0], Some("lkc-b"));
        assert_eq!(ids(&expected), ["lkc-b"]);
        assert_eq!(compare(&expected, Some("lkc-b")), None);
        let wrong = compare(&expected, Some("lkc-a")).unwrap();
        assert_eq!(
            wrong.detail("clusters[B].kafka.bootstrap_servers"),
            "clusters[B].kafka.bootstrap_servers reaches Kafka cluster \"lkc-a\", not \"lkc-b\" (the cluster id the REST API of clusters[B] serves)"
        );
        assert!(destination(&c.clusters[0], None).is_empty());
    }

    #[test]
    fn a_source_must_report_its_configured_id_else_its_links_source_cluster_id() {
        let links = [
            link("dr", Some("lkc-a")),
            link("other", Some("lkc-x")),
            link("dr-2", Some("lkc-a")),
            link("dr-3", None),
        ];
        // By name: each served link's source_cluster_id, once per id.
        let by_name = config("links: [dr, dr-2, dr-3]");
        let expected = source(&by_name.source_clusters[0], &links);
        assert_eq!(ids(&expected), ["lkc-a"]);
        assert!(expected[0].from.contains("link \"dr\""));
        assert_eq!(compare(&expected, Some("lkc-a")), None);
        assert_eq!(compare(&expected, Some("lkc-x")).unwrap().found, "lkc-x");
        // The configured id wins over what the links report.
        let configured = config("cluster_id: lkc-conf, links: [other]");
        let expected = source(&configured.source_clusters[0], &links);
        assert_eq!(ids(&expected), ["lkc-conf"]);
        assert_eq!(expected[0].from, "source_clusters[A].cluster_id");
        // Two links of one entry from two clusters: no id meets both.
        let mixed = config("links: [dr, other]");
        let expected = source(&mixed.source_clusters[0], &links);
        assert_eq!(ids(&expected), ["lkc-a", "lkc-x"]);
        assert_eq!(
            compare(&expected, Some("lkc-a")).unwrap().expected.id,
            "lkc-x"
        );
        // Nothing to compare: no link reports an id, or the brokers report none.
        let unknown = config("links: [dr-3]");
        assert!(source(&unknown.source_clusters[0], &links).is_empty());
        assert_eq!(compare(&[], Some("lkc-a")), None);
        assert_eq!(compare(&ids_of(&["lkc-a"]), None), None);
        assert_eq!(compare(&ids_of(&["lkc-a"]), Some("")), None);
    }

    fn ids_of(ids: &[&str]) -> Vec<Expected> {
        ids.iter()
            .map(|id| Expected {
                id: (*id).to_owned(),
                from: "test".into(),
            })
            .collect()
    }

    #[test]
    fn keys_name_the_section_of_the_connection() {
        assert_eq!(
            bootstrap_key(Role::Destination, "B", "B"),
            "clusters[B].kafka.bootstrap_servers"
        );
        assert_eq!(
            bootstrap_key(Role::Source, "B", "A"),
            "source_clusters[A].kafka.bootstrap_servers"
        );
    }
}
