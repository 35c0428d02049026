//! Whether what a cluster's configuration names exists, from what the exporter read (pure,
//! unit-tested): the links of its probes (and of `failover_readiness.links`, for
//! `check-config --connect` only: readiness reports them at run time), its probes' mirror
//! topics, its `links` and `mirror_topics` include patterns (each must select something), from
//! the REST snapshot; its `offset_sync.groups`, from the Kafka-side snapshot. Shared by the
//! running exporter (`References`) and `check-config --connect`.

use std::collections::BTreeSet;

use crate::config::{ClusterConfig, SourceClusterConfig};
use crate::kafka::probe_mirror_topic;
use crate::snapshot::{ClusterSnapshot, KafkaSnapshot, SourceRead};
use crate::util::closed_set;

closed_set! {
    /// What kind of thing a configuration reference names: the `kind` label of
    /// `clusterlink_config_reference_missing`.
    pub(crate) enum ReferenceKind {
        /// A link (`probes[].link`, `failover_readiness.links`).
        Link = "link",
        /// A probe's mirror topic (`probes[].mirror_topic`, or the link prefix + `topic`).
        MirrorTopic = "mirror_topic",
        /// A consumer group of `offset_sync.groups`.
        ConsumerGroup = "consumer_group",
        /// An include pattern of `links` (it must select some link).
        LinkFilter = "link_filter",
        /// An include pattern of `mirror_topics` (it must select some mirror topic).
        MirrorTopicFilter = "mirror_topic_filter",
        /// The `cluster_id` of a `source_clusters` entry (some link must have that source).
        SourceCluster = "source_cluster",
    }
}

/// One name the configuration gives and whether the cluster has it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Checked {
    /// What it names.
    pub(crate) kind: ReferenceKind,
    /// The name (or pattern) as configured.
    pub(crate) name: String,
    /// The key that names it, under the cluster (`probes[0].link`) or at the top level
    /// (`source_clusters[0].cluster_id`).
    pub(crate) key: String,
    /// `None` when found; else why it counts as missing.
    pub(crate) missing: Option<String>,
}

/// At most this many names are listed in a reason (`listed: a, b, c, …`).
const LISTED: usize = 5;

/// `names` for a reason: the first [`LISTED`], `none` when empty.
fn listed<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: BTreeSet<&str> = names.collect();
    if names.is_empty() {
        return "none".into();
    }
    let mut text: Vec<&str> = names.iter().copied().take(LISTED).collect();
    if names.len() > LISTED {
        text.push("…");
    }
    text.join(", ")
}

/// The REST-side references of `cluster` checked against its snapshot (links and mirror
/// topics after the filters, as the exporter exports them).
pub(crate) fn check_rest(cluster: &ClusterConfig, snapshot: &ClusterSnapshot) -> Vec<Checked> {
    let links = || snapshot.links.iter().map(|l| l.name.as_str());
    let no_link = |name: &str| {
        (!links().any(|l| l == name)).then(|| {
            format!(
                "the REST API lists no link {name:?} that the links filter keeps (listed: {})",
                listed(links())
            )
        })
    };
    let mut out = Vec::new();
    for (i, probe) in cluster.probes.iter().enumerate() {
        let key = format!("probes[{i}]");
        let missing = no_link(&probe.link);
        let link = snapshot.links.iter().find(|l| l.name == probe.link);
        out.push(Checked {
            kind: ReferenceKind::Link,
            name: probe.link.clone(),
            key: format!("{key}.link"),
            missing,
        });
        if let Some(link) = link {
            let topic = probe_mirror_topic(probe, link);
            let mirrors = || {
                snapshot
                    .mirrors
                    .iter()
                    .filter(|m| m.link == link.name)
                    .map(|m| m.name.as_str())
            };
            let missing = (!mirrors().any(|m| m == topic)).then(|| {
                format!(
                    "link {:?} has no mirror topic {topic:?} that the mirror_topics filter keeps (listed: {})",
                    link.name,
                    listed(mirrors())
                )
            });
            out.push(Checked {
                kind: ReferenceKind::MirrorTopic,
                name: topic,
                key: format!("{key}.topic"),
                missing,
            });
        }
    }
    for (i, pattern) in cluster.links.includes().enumerate() {
        let selects = snapshot
            .links
            .iter()
            .any(|l| cluster.links.include_matches(i, &l.name));
        out.push(Checked {
            kind: ReferenceKind::LinkFilter,
            name: pattern.to_owned(),
            key: format!("links.include[{i}]"),
            missing: (!selects).then(|| "matches no link the REST API lists".to_owned()),
        });
    }
    for (i, pattern) in cluster.mirror_topics.includes().enumerate() {
        let selects = snapshot
            .mirrors
            .iter()
            .any(|m| cluster.mirror_topics.include_matches(i, &m.name));
        out.push(Checked {
            kind: ReferenceKind::MirrorTopicFilter,
            name: pattern.to_owned(),
            key: format!("mirror_topics.include[{i}]"),
            missing: (!selects).then(|| "matches no mirror topic of the links exported".to_owned()),
        });
    }
    out
}

/// The links of `failover_readiness.links` checked against the snapshot (a misspelt one
/// would silently leave its link under the cluster's policy).
pub(crate) fn check_readiness_links(
    cluster: &ClusterConfig,
    snapshot: &ClusterSnapshot,
) -> Vec<Checked> {
    let listed_here = |name: &str| snapshot.links.iter().any(|l| l.name == name);
    cluster
        .failover_readiness
        .links
        .keys()
        .map(|name| Checked {
            kind: ReferenceKind::Link,
            name: name.clone(),
            key: format!("failover_readiness.links.{name}"),
            missing: (!listed_here(name)).then(|| {
                format!("the REST API lists no link {name:?} that the links filter keeps")
            }),
        })
        .collect()
}

/// The configured `offset_sync.groups` checked against a Kafka-side snapshot: a group is
/// found when it has a committed offset on the source for some mirror topic of a link that
/// syncs consumer offsets. `None` when that cannot be told this cycle: offset sync off, no
/// group configured, or no such link whose source was read. A group without a commit is left
/// out (cannot be told) while such a link has `STOPPED` mirror topics: the Kafka side reads
/// commits for live mirror topics only, and a group may commit on the stopped ones alone.
pub(crate) fn check_groups(
    cluster: &ClusterConfig,
    rest: &ClusterSnapshot,
    kafka: &KafkaSnapshot,
) -> Option<Vec<Checked>> {
    let settings = &cluster.offset_sync;
    if !settings.enabled || settings.groups.is_empty() {
        return None;
    }
    let syncing: Vec<&str> = rest
        .links
        .iter()
        .filter(|l| l.configs.consumer_offset_sync == Some(true))
        .map(|l| l.name.as_str())
        .collect();
    let read = syncing
        .iter()
        .any(|l| kafka.sources.get(*l) == Some(&SourceRead::Read));
    if !syncing.is_empty() && !read {
        return None;
    }
    let committed: BTreeSet<&str> = kafka
        .offset_sync
        .iter()
        .map(|s| s.consumer_group.as_str())
        .collect();
    let some_stopped = rest
        .mirrors
        .iter()
        .any(|m| m.is_stopped() && syncing.contains(&m.link.as_str()));
    let told = |group: &String| !some_stopped || committed.contains(group.as_str());
    let checked = settings.groups.iter().enumerate().filter(|(_, g)| told(g));
    let checked = checked.map(|(i, group)| {
        let missing = if syncing.is_empty() {
            Some("no link exported syncs consumer offsets (consumer.offset.sync.enable)".into())
        } else {
            (!committed.contains(group.as_str())).then(|| {
                format!(
                    "no committed offset on the source for the mirror topics of {} (links that sync consumer offsets)",
                    listed(syncing.iter().copied())
                )
            })
        };
        Checked {
            kind: ReferenceKind::ConsumerGroup,
            name: group.clone(),
            key: format!("offset_sync.groups[{i}]"),
            missing,
        }
    });
    Some(checked.collect())
}

/// The links a destination cluster's REST snapshot listed (after its links filter), each with
/// its source cluster id: what the `source_clusters` entries are checked against.
pub(crate) type ListedLinks = Vec<(String, Option<String>)>;

/// A snapshot's [`ListedLinks`].
pub(crate) fn listed_links(snapshot: &ClusterSnapshot) -> ListedLinks {
    let links = snapshot.links.iter();
    links
        .map(|l| (l.name.clone(), l.source_cluster_id.clone()))
        .collect()
}

/// The `source_clusters` entries checked against the links of the destination clusters with a
/// `kafka` section (`links_of`: each one's name and links, `None` while not read yet): an
/// entry's `cluster_id` is found when some link's source cluster id equals it, each name of
/// its `links` when some destination lists that link. A name found nowhere counts as missing
/// only once every destination was read (before that it cannot be told: left out). A typo in
/// an entry otherwise only shows as links without lag in seconds or offset-sync lag.
pub(crate) fn check_sources(
    sources: &[SourceClusterConfig],
    links_of: &[(&str, Option<&ListedLinks>)],
) -> Vec<Checked> {
    let read = || links_of.iter().filter_map(|(_, l)| *l).flatten();
    let all_read = links_of.iter().all(|(_, l)| l.is_some());
    let destinations = listed(links_of.iter().map(|(name, _)| *name));
    let mut out = Vec::new();
    let mut push = |kind, name: &str, key: String, found: bool, why: &dyn Fn() -> String| {
        if found || all_read {
            out.push(Checked {
                kind,
                name: name.to_owned(),
                key,
                missing: (!found).then(why),
            });
        }
    };
    for (i, source) in sources.iter().enumerate() {
        if let Some(id) = &source.cluster_id {
            let found = read().any(|(_, s)| s.as_deref() == Some(id.as_str()));
            let why = || {
                let ids = read().filter_map(|(_, s)| s.as_deref());
                format!(
                    "no link of {destinations} that its links filter keeps has source cluster id {id:?} (their links' source cluster ids: {})",
                    listed(ids)
                )
            };
            let key = format!("source_clusters[{i}].cluster_id");
            push(ReferenceKind::SourceCluster, id, key, found, &why);
        }
        for (j, link) in source.links.iter().enumerate() {
            let found = read().any(|(l, _)| l == link);
            let why = || {
                let links = read().map(|(l, _)| l.as_str());
                format!(
                    "no destination cluster ({destinations}) lists a link {link:?} that its links filter keeps (listed: {})",
                    listed(links)
                )
            };
            let key = format!("source_clusters[{i}].links[{j}]");
            push(ReferenceKind::Link, link, key, found, &why);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ProbeConfig};
    use crate::snapshot::{Link, MirrorTopic, OffsetSyncLag};

    fn cluster(extra: &str) -> ClusterConfig {
        let yaml = format!(
            "clusters: [{{name: B, rest_url: 'http://b/kafka/v3', kafka: {{bootstrap_servers: 'b:9092'}}, {extra}}}]"
        );
        Config::from_yaml(&yaml).unwrap().clusters.remove(0)
    }

    fn snapshot() -> ClusterSnapshot {
        let mut link = Link {
            name: "dr-link".into(),
            ..Link::default()
        };
        link.configs.consumer_offset_sync = Some(true);
        link.configs.cluster_link_prefix = Some("a.".into());
        ClusterSnapshot {
            links: vec![link],
            mirrors: vec![MirrorTopic {
                link: "dr-link".into(),
                name: "a.probe".into(),
                ..MirrorTopic::default()
            }],
            ..ClusterSnapshot::default()
        }
    }

    fn missing(checked: &[Checked]) -> Vec<(&str, &str)> {
        checked
            .iter()
            .filter(|c| c.missing.is_some())
            .map(|c| (c.kind.as_str(), c.key.as_str()))
            .collect()
    }

    #[test]
    fn a_misspelt_probe_link_and_filters_that_select_nothing_are_missing() {
        let c = cluster(
            "probes: [{link: dr-link, topic: probe}, {link: dr-lnk, topic: probe}],
             links: {include: ['dr-.*', 'typo']}, mirror_topics: {include: ['a\\..*', 'b\\..*']},
             failover_readiness: {links: {dr-link: {rpo: 60s}, old: {rpo: 60s}}}",
        );
        let checked = check_rest(&c, &snapshot());
        assert_eq!(
            missing(&checked),
            [
                ("link", "probes[1].link"),
                ("link_filter", "links.include[1]"),
                ("mirror_topic_filter", "mirror_topics.include[1]"),
            ]
        );
        assert_eq!(checked.len(), 7, "{checked:#?}");
        let readiness = check_readiness_links(&c, &snapshot());
        assert_eq!(
            missing(&readiness),
            [("link", "failover_readiness.links.old")]
        );
        let typo = checked.iter().find(|c| c.name == "dr-lnk").unwrap();
        assert_eq!(
            typo.missing.as_deref(),
            Some("the REST API lists no link \"dr-lnk\" that the links filter keeps (listed: dr-link)")
        );
        let pattern = checked
            .iter()
            .find(|c| c.key == "links.include[1]")
            .unwrap();
        assert_eq!(pattern.name, "typo");
    }

    #[test]
    fn a_probe_mirror_topic_not_mirrored_is_missing() {
        let mut c = cluster("");
        c.probes = vec![ProbeConfig::new("dr-link", "other")];
        let checked = check_rest(&c, &snapshot());
        assert_eq!(missing(&checked), [("mirror_topic", "probes[0].topic")]);
        assert_eq!(checked[1].name, "a.other", "the link prefix applies");
    }

    #[test]
    fn a_group_without_commits_is_missing_once_the_source_was_read() {
        let c = cluster("offset_sync: {groups: [orders-app, orders-ap]}");
        let rest = snapshot();
        let mut kafka = KafkaSnapshot {
            offset_sync: vec![OffsetSyncLag {
                link: "dr-link".into(),
                consumer_group: "orders-app".into(),
                mirror_topic: "a.orders".into(),
                lag: 0,
                unreplicated: Some(0),
                unsynced: Some(0),
            }],
            ..KafkaSnapshot::default()
        };
        assert_eq!(check_groups(&c, &rest, &kafka), None, "source not read");
        kafka.sources.insert("dr-link".into(), SourceRead::Read);
        let checked = check_groups(&c, &rest, &kafka).unwrap();
        assert_eq!(
            missing(&checked),
            [("consumer_group", "offset_sync.groups[1]")]
        );
        let mut no_sync = rest.clone();
        no_sync.links[0].configs.consumer_offset_sync = None;
        let checked = check_groups(&c, &no_sync, &kafka).unwrap();
        assert_eq!(missing(&checked).len(), 2);
        assert_eq!(check_groups(&cluster(""), &rest, &kafka), None);
    }

    #[test]
    fn a_group_without_commits_cannot_be_told_while_a_mirror_topic_is_stopped() {
        let c = cluster("offset_sync: {groups: [orders-app, orders-ap]}");
        let mut rest = snapshot();
        let stopped = crate::snapshot::Reported::Known(crate::snapshot::MirrorState::Stopped);
        rest.mirrors.push(MirrorTopic {
            link: "dr-link".into(),
            name: "a.orders".into(),
            state: stopped,
            ..MirrorTopic::default()
        });
        let mut kafka = KafkaSnapshot {
            offset_sync: vec![OffsetSyncLag {
                link: "dr-link".into(),
                consumer_group: "orders-ap".into(),
                mirror_topic: "a.probe".into(),
                lag: 0,
                unreplicated: Some(0),
                unsynced: Some(0),
            }],
            ..KafkaSnapshot::default()
        };
        kafka.sources.insert("dr-link".into(), SourceRead::Read);
        let checked = check_groups(&c, &rest, &kafka).unwrap();
        assert_eq!(
            checked.len(),
            1,
            "orders-app may commit on the stopped topic only"
        );
        assert_eq!(
            (checked[0].name.as_str(), checked[0].missing.as_deref()),
            ("orders-ap", None)
        );
    }

    fn sources(yaml: &str) -> Vec<SourceClusterConfig> {
        let yaml = format!(
            "clusters: [{{name: B, rest_url: 'http://b/kafka/v3', kafka: {{bootstrap_servers: 'b:9092'}}}}]\nsource_clusters: {yaml}"
        );
        Config::from_yaml(&yaml).unwrap().source_clusters
    }

    fn links(pairs: &[(&str, &str)]) -> ListedLinks {
        pairs
            .iter()
            .map(|(l, id)| ((*l).to_owned(), Some((*id).to_owned())))
            .collect()
    }

    #[test]
    fn a_source_cluster_id_no_link_has_is_missing_once_every_destination_was_read() {
        let sources = sources(
            "[{name: A, cluster_id: lkc-typo, kafka: {bootstrap_servers: 'a:9092'}}, \
             {name: C, cluster_id: lkc-c, links: [dr-lnk, c-link], kafka: {bootstrap_servers: 'c:9092'}}]",
        );
        let b = links(&[("dr-link", "lkc-a")]);
        let d = links(&[("c-link", "lkc-c")]);
        // B not read yet: only what is found somewhere can be told.
        let early = check_sources(&sources, &[("B", None), ("D", Some(&d))]);
        let keys: Vec<&str> = early.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "source_clusters[1].cluster_id",
                "source_clusters[1].links[1]"
            ]
        );
        assert!(early.iter().all(|c| c.missing.is_none()));
        let checked = check_sources(&sources, &[("B", Some(&b)), ("D", Some(&d))]);
        assert_eq!(
            missing(&checked),
            [
                ("source_cluster", "source_clusters[0].cluster_id"),
                ("link", "source_clusters[1].links[0]"),
            ]
        );
        assert_eq!(checked.len(), 4, "{checked:#?}");
        assert_eq!(
            checked[0].missing.as_deref(),
            Some("no link of B, D that its links filter keeps has source cluster id \"lkc-typo\" (their links' source cluster ids: lkc-a, lkc-c)")
        );
        assert_eq!(checked[0].name, "lkc-typo");
        assert_eq!(checked[2].name, "dr-lnk");
        // A destination without links: nothing is found.
        let none = check_sources(&sources, &[("B", Some(&Vec::new()))]);
        assert_eq!(missing(&none).len(), 4);
    }
}
