//! `check-config --connect`: the configuration checked against the clusters it names. Every
//! configured REST endpoint and Kafka connection is reached with the configured credentials,
//! with the exporter's own clients (`RestClient`, one collection cycle of `Collector`,
//! `kafka::check::KafkaCheck`), and each finding is a row of a table: reachable,
//! authenticated, cluster id as configured (REST `cluster_id`; the Kafka metadata's cluster
//! id against the REST one, or a source's configured one), links found, and every link,
//! mirror topic, topic, consumer group and include pattern the configuration names
//! (`references::check`, as the running exporter checks them), each row naming what it checked
//! (a name whose check could not run is a skipped row of its own; `offset_sync` naming no
//! group says which groups the exporter measures instead). Every request is bounded by
//! the cluster's `request_timeout` (REST) or the connection's (Kafka). Nothing printed
//! carries a secret: REST errors carry no credential, Kafka ones are redacted.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use crate::collect::{Collector, CollectorOutputs};
use crate::config::{ClusterConfig, Config, Flavour, SourceClusterConfig};
use crate::kafka::check::KafkaCheck;
use crate::kafka::Role;
use crate::references::check::{check_sources, listed_links, Checked, ListedLinks, ReferenceKind};
use crate::references::{check_readiness_links, check_rest};
use crate::rest_client::{RestClient, RestError};
use crate::snapshot::ClusterSnapshot;

/// The outcome of one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// As configured.
    Ok,
    /// A name the configuration gives is not found.
    Missing,
    /// Reached, but another cluster than the configuration says (its cluster id differs).
    Wrong,
    /// Not reached: unreachable, refused credentials, an error.
    Failed,
    /// Not checked: what it needs failed first.
    Skipped,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Missing => "MISSING",
            Outcome::Wrong => "WRONG",
            Outcome::Failed => "FAILED",
            Outcome::Skipped => "skipped",
        }
    }
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The cluster section it concerns: `clusters[B]` or `source_clusters[A]`.
    pub section: String,
    /// What was checked: `rest reachable`, `probes[0].link`, …
    pub check: String,
    /// The name or value checked (a URL, an id, a link name), never a secret.
    pub subject: String,
    /// The outcome.
    pub outcome: Outcome,
    /// What was found, or why it failed.
    pub detail: String,
}

/// What `check-config --connect` found: the table it prints.
#[derive(Clone, Debug, Default)]
pub struct ConnectReport {
    /// The rows, cluster by cluster, in the configuration's order.
    pub rows: Vec<Row>,
}

impl ConnectReport {
    /// Whether everything was reached and every name found (the exit status).
    pub fn ok(&self) -> bool {
        self.rows
            .iter()
            .all(|r| matches!(r.outcome, Outcome::Ok | Outcome::Skipped))
    }

    /// Whether a row `check` of `section` is already there.
    fn has(&self, section: &str, check: &str) -> bool {
        self.rows
            .iter()
            .any(|r| r.section == section && r.check == check)
    }

    fn push(
        &mut self,
        section: &str,
        check: &str,
        subject: &str,
        outcome: Outcome,
        detail: String,
    ) {
        self.rows.push(Row {
            section: section.to_owned(),
            check: check.to_owned(),
            subject: subject.to_owned(),
            outcome,
            detail,
        });
    }
}

/// Columns: section, check, subject, outcome, then the detail.
impl fmt::Display for ConnectReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = ["SECTION", "CHECK", "NAME", "RESULT", "DETAIL"];
        let cells = |r: &Row| -> [String; 5] {
            [
                r.section.clone(),
                r.check.clone(),
                r.subject.clone(),
                r.outcome.as_str().to_owned(),
                r.detail.clone(),
            ]
        };
        let rows: Vec<[String; 5]> = self.rows.iter().map(cells).collect();
        let width = |i: usize| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        };
        let widths = [width(0), width(1), width(2), width(3)];
        let line = |f: &mut fmt::Formatter<'_>, c: [&str; 5]| {
            let mut text = String::new();
            for (i, w) in widths.iter().enumerate() {
                text.push_str(&format!("{:<w$}  ", c[i], w = *w));
            }
            text.push_str(c[4]);
            writeln!(f, "{}", text.trim_end())
        };
        line(f, header)?;
        for r in &rows {
            line(f, [&r[0], &r[1], &r[2], &r[3], &r[4]])?;
        }
        Ok(())
    }
}

/// Reaches every endpoint `config` names and checks what it names (see the module header).
pub async fn check_connections(config: &Config) -> ConnectReport {
    crate::tls::install_crypto_provider();
    let mut report = ConnectReport::default();
    let mut snapshots: Vec<(String, ClusterSnapshot)> = Vec::new();
    for cluster in &config.clusters {
        let section = format!("clusters[{}]", cluster.name);
        let rest = check_rest_side(cluster, &section, &mut report).await;
        let kafka = kafka_side(cluster, &config.source_clusters, rest.clone(), &section);
        match tokio::task::spawn_blocking(kafka).await {
            Ok(rows) => report.rows.extend(rows),
            Err(e) => report.push(&section, "kafka", "", Outcome::Failed, e.to_string()),
        }
        if let Some((_, snapshot)) = rest {
            snapshots.push((cluster.name.clone(), snapshot));
        }
    }
    let used = source_ids_used(config, &snapshots);
    for (source, used) in config.source_clusters.iter().zip(used) {
        let rows = source_side(source.clone(), snapshots.clone());
        match tokio::task::spawn_blocking(rows).await {
            Ok(rows) => report.rows.extend(rows),
            Err(e) => report.push(&source.name, "kafka", "", Outcome::Failed, e.to_string()),
        }
        if let (Some(id), Some((outcome, detail))) = (&source.cluster_id, used) {
            let section = format!("source_clusters[{}]", source.name);
            report.push(&section, "links from cluster_id", id, outcome, detail);
        }
    }
    report
}

/// For each `source_clusters` entry, whether its `cluster_id` is the source of some link of a
/// destination with a `kafka` section (as the running exporter checks it): skipped when such a
/// destination's REST API was not read; `None` without a `cluster_id` or such a destination.
fn source_ids_used(
    config: &Config,
    snapshots: &[(String, ClusterSnapshot)],
) -> Vec<Option<(Outcome, String)>> {
    let listed: Vec<(&str, Option<ListedLinks>)> = config
        .clusters
        .iter()
        .filter(|c| c.kafka.is_some())
        .map(|c| {
            let read = snapshots.iter().find(|(name, _)| *name == c.name);
            (c.name.as_str(), read.map(|(_, s)| listed_links(s)))
        })
        .collect();
    let links_of: Vec<(&str, Option<&ListedLinks>)> =
        listed.iter().map(|(n, l)| (*n, l.as_ref())).collect();
    let checked = check_sources(&config.source_clusters, &links_of);
    let outcome = |i: usize| {
        let key = format!("source_clusters[{i}].cluster_id");
        match checked.iter().find(|c| c.key == key) {
            Some(Checked { missing: None, .. }) => {
                (Outcome::Ok, "the source of some link listed".to_owned())
            }
            Some(Checked {
                missing: Some(why), ..
            }) => (Outcome::Missing, why.clone()),
            None => (
                Outcome::Skipped,
                "not checked: a destination's REST API was not read".to_owned(),
            ),
        }
    };
    (0..config.source_clusters.len())
        .map(|i| (!links_of.is_empty()).then(|| outcome(i)))
        .collect()
}

/// The REST rows of `cluster`; its cluster id and one collection cycle's snapshot when the
/// API was reached. When it was not, each name the cluster's section gives is a skipped row.
async fn check_rest_side(
    cluster: &ClusterConfig,
    section: &str,
    report: &mut ConnectReport,
) -> Option<(String, ClusterSnapshot)> {
    let read = read_rest_side(cluster, section, report).await;
    if read.is_none() {
        skip_rest_names(cluster, section, report);
    }
    read
}

/// A skipped row for each name `cluster`'s section gives that the REST API would have said.
fn skip_rest_names(cluster: &ClusterConfig, section: &str, report: &mut ConnectReport) {
    let unread = ClusterSnapshot::default();
    let detail = "not checked: the REST API was not read (see the row above)";
    if !report.has(section, "links found") {
        report.push(section, "links found", "", Outcome::Skipped, detail.into());
    }
    let mut named = check_rest(cluster, &unread);
    named.extend(check_readiness_links(cluster, &unread));
    // A probe's mirror topic is checked once its link is found: named here as configured.
    named.extend(cluster.probes.iter().enumerate().map(|(i, p)| Checked {
        kind: ReferenceKind::MirrorTopic,
        name: p.mirror_topic.clone().unwrap_or_else(|| p.topic.clone()),
        key: format!("probes[{i}].topic"),
        missing: None,
    }));
    named.sort_by(|a, b| a.key.cmp(&b.key));
    for c in named {
        let (check, _) = reference_row(cluster, &c);
        report.push(section, &check, &c.name, Outcome::Skipped, detail.into());
    }
}

/// [`check_rest_side`] until something fails (`None`).
async fn read_rest_side(
    cluster: &ClusterConfig,
    section: &str,
    report: &mut ConnectReport,
) -> Option<(String, ClusterSnapshot)> {
    let url = &cluster.rest_url;
    let client = match RestClient::new(cluster, Arc::new(|_, _| {})) {
        Ok(c) => c,
        Err(e) => {
            report.push(section, "rest client", url, Outcome::Failed, e.to_string());
            return None;
        }
    };
    let id = rest_cluster_id(cluster, &client, section, report).await?;
    let mut collector = match Collector::new(cluster.clone(), CollectorOutputs::detached()) {
        Ok(c) => c,
        Err(e) => {
            report.push(section, "rest client", url, Outcome::Failed, e.to_string());
            return None;
        }
    };
    let snapshot = match collector.collect_once().await {
        Ok(s) => s,
        Err(e) => {
            let detail = format!("a collection cycle failed: {}: {e}", e.reason());
            report.push(section, "links found", "", Outcome::Failed, detail);
            return None;
        }
    };
    let names: Vec<&str> = snapshot.links.iter().map(|l| l.name.as_str()).collect();
    let (outcome, detail) = match names.len() {
        0 => (
            Outcome::Missing,
            "the REST API lists no link the links filter keeps".to_owned(),
        ),
        n => (Outcome::Ok, format!("{n}: {}", names.join(", "))),
    };
    report.push(section, "links found", "", outcome, detail);
    let mut checked = check_rest(cluster, &snapshot);
    checked.extend(check_readiness_links(cluster, &snapshot));
    for c in checked {
        let (check, found) = reference_row(cluster, &c);
        let (outcome, detail) = match c.missing {
            None => (Outcome::Ok, found),
            Some(why) => (Outcome::Missing, why),
        };
        report.push(section, &check, &c.name, outcome, detail);
    }
    Some((id, snapshot))
}

/// The check column of a name the configuration gives, and the detail when it is found. A
/// probe's mirror topic is checked on the destination (the link's prefix + `topic`, or
/// `mirror_topic`): `probes[0].mirror_topic` when the file sets it, else
/// `probes[0].topic (mirror topic)` (the row `probes[0].topic (source)` is the source topic).
fn reference_row(cluster: &ClusterConfig, c: &Checked) -> (String, String) {
    let kind = c.kind.to_string().replace('_', " ");
    if c.kind != ReferenceKind::MirrorTopic {
        return (c.key.clone(), format!("{kind} found"));
    }
    let probe = c
        .key
        .strip_prefix("probes[")
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(i, _)| i.parse::<usize>().ok())
        .and_then(|i| Some((i, cluster.probes.get(i)?)));
    match probe {
        Some((i, p)) if p.mirror_topic.is_some() => (
            format!("probes[{i}].mirror_topic"),
            format!("mirror topic of link {} found", p.link),
        ),
        Some((i, p)) => (
            format!("probes[{i}].topic (mirror topic)"),
            format!("mirror topic of link {} found", p.link),
        ),
        None => (c.key.clone(), format!("{kind} found")),
    }
}

/// The rows of reaching the REST API: reachable, authenticated, cluster id; the id when all
/// three are ok.
async fn rest_cluster_id(
    cluster: &ClusterConfig,
    client: &RestClient,
    section: &str,
    report: &mut ConnectReport,
) -> Option<String> {
    let url = &cluster.rest_url;
    let asked = match &cluster.cluster_id {
        Some(id) => client.cluster(id).await,
        None if cluster.flavour == Flavour::Cloud => Err(RestError::Other(
            "Confluent Cloud needs cluster_id in the configuration".into(),
        )),
        None => client.discover_cluster_id().await,
    };
    let reached = match &asked {
        Err(e @ (RestError::Timeout(_) | RestError::Connect(_) | RestError::Tls(_))) => {
            report.push(
                section,
                "rest reachable",
                url,
                Outcome::Failed,
                e.to_string(),
            );
            return None;
        }
        _ => "answered".to_owned(),
    };
    report.push(section, "rest reachable", url, Outcome::Ok, reached);
    let auth = cluster_auth(cluster);
    if let Err(e @ RestError::Auth { .. }) = &asked {
        let detail = match cluster.auth {
            crate::config::Auth::None => format!("{e} (the configuration gives no auth)"),
            _ => format!("{e} (check the {auth})"),
        };
        report.push(section, "rest authenticated", auth, Outcome::Failed, detail);
        return None;
    }
    report.push(
        section,
        "rest authenticated",
        auth,
        Outcome::Ok,
        "accepted".into(),
    );
    let configured = cluster.cluster_id.as_deref().unwrap_or("(discovered)");
    match asked {
        Ok(id) => {
            report.push(
                section,
                "cluster_id",
                &id,
                Outcome::Ok,
                "served here".into(),
            );
            Some(id)
        }
        Err(e) => {
            let mut detail = format!("{}: {e}", e.reason());
            let mut outcome = Outcome::Missing;
            if cluster.flavour == Flavour::Platform && cluster.cluster_id.is_some() {
                if let Ok(served) = client.discover_cluster_id().await {
                    detail = format!("this REST API serves cluster {served}, not {configured}");
                    outcome = Outcome::Wrong;
                }
            }
            report.push(section, "cluster_id", configured, outcome, detail);
            None
        }
    }
}

/// How the cluster authenticates, for the report (no secret).
fn cluster_auth(cluster: &ClusterConfig) -> &'static str {
    match cluster.auth {
        crate::config::Auth::None => "no credentials",
        crate::config::Auth::Basic { .. } => "auth.username and auth.password",
        crate::config::Auth::Bearer { .. } => "auth bearer token",
    }
}

/// The rows of `cluster`'s own Kafka connection (its id against the REST one, else the
/// configured one) and, when the REST API was read (`rest`: its id and snapshot), its probes'
/// source topics and its `offset_sync.groups` (on each syncing link's source).
fn kafka_side(
    cluster: &ClusterConfig,
    sources: &[SourceClusterConfig],
    rest: Option<(String, ClusterSnapshot)>,
    section: &str,
) -> impl FnOnce() -> Vec<Row> + Send + 'static {
    let (cluster, sources, section) = (cluster.clone(), sources.to_vec(), section.to_owned());
    move || {
        let mut report = ConnectReport::default();
        let Some(kafka) = &cluster.kafka else {
            return report.rows;
        };
        let mut check = KafkaCheck::new(&cluster.name, &cluster.name, Role::Destination, kafka);
        let subject = kafka.bootstrap_servers.clone();
        let expected = rest
            .as_ref()
            .map(|(id, _)| id.clone())
            .or_else(|| cluster.cluster_id.clone());
        let reached = reach(
            &mut check,
            &section,
            &subject,
            expected.as_deref(),
            &mut report,
        );
        match (&rest, reached) {
            (Some((_, snapshot)), true) => {
                source_references(&cluster, &sources, snapshot, &section, &mut report)
            }
            (None, _) => skip_source_references(
                &cluster,
                "needs the REST API's links",
                &section,
                &mut report,
            ),
            (_, false) => skip_source_references(
                &cluster,
                "this cluster's Kafka connection failed",
                &section,
                &mut report,
            ),
        }
        report.rows
    }
}

/// One skipped row per probe source topic and per `offset_sync.groups` entry, each named, when
/// what their checks need failed first (`why`).
fn skip_source_references(
    cluster: &ClusterConfig,
    why: &str,
    section: &str,
    report: &mut ConnectReport,
) {
    let detail = format!("not checked: {why}");
    for (i, probe) in cluster.probes.iter().enumerate() {
        let key = format!("probes[{i}].topic (source)");
        report.push(
            section,
            &key,
            &probe.topic,
            Outcome::Skipped,
            detail.clone(),
        );
    }
    if cluster.offset_sync.enabled {
        for (i, group) in cluster.offset_sync.groups.iter().enumerate() {
            let key = format!("offset_sync.groups[{i}]");
            report.push(section, &key, group, Outcome::Skipped, detail.clone());
        }
    }
}

/// The rows of reaching a connection: reachable and authenticated, then its cluster id
/// against `expected`; whether it was reached.
fn reach(
    check: &mut KafkaCheck,
    section: &str,
    subject: &str,
    expected: Option<&str>,
    report: &mut ConnectReport,
) -> bool {
    match check.cluster_id() {
        Err(d) => {
            let check_name = match d.reason {
                crate::KafkaErrorReason::Auth | crate::KafkaErrorReason::Authorization => {
                    report.push(
                        section,
                        "kafka reachable",
                        subject,
                        Outcome::Ok,
                        "answered".into(),
                    );
                    "kafka authenticated"
                }
                _ => "kafka reachable",
            };
            report.push(
                section,
                check_name,
                subject,
                Outcome::Failed,
                d.line("Metadata"),
            );
            false
        }
        Ok(found) => {
            report.push(
                section,
                "kafka reachable",
                subject,
                Outcome::Ok,
                "answered".into(),
            );
            report.push(
                section,
                "kafka authenticated",
                subject,
                Outcome::Ok,
                "Metadata answered".into(),
            );
            let found = found.unwrap_or_default();
            let (outcome, detail) = match expected {
                Some(e) if e != found => (
                    Outcome::Wrong,
                    format!("the brokers belong to cluster {found:?}, not {e:?}"),
                ),
                Some(_) => (Outcome::Ok, "as expected".into()),
                None => (Outcome::Ok, "no cluster id configured to compare".into()),
            };
            report.push(section, "kafka cluster id", &found, outcome, detail);
            true
        }
    }
}

/// The probes' source topics and the configured offset-sync groups, on each link's source
/// connection (the `source_clusters` entry that serves it).
fn source_references(
    cluster: &ClusterConfig,
    sources: &[SourceClusterConfig],
    snapshot: &ClusterSnapshot,
    section: &str,
    report: &mut ConnectReport,
) {
    let source_of = |link: &str| {
        let l = snapshot.links.iter().find(|l| l.name == link)?;
        sources
            .iter()
            .find(|s| s.serves(&l.name, l.source_cluster_id.as_deref()))
    };
    for (i, probe) in cluster.probes.iter().enumerate() {
        let Some(link) = snapshot.links.iter().find(|l| l.name == probe.link) else {
            continue;
        };
        let key = format!("probes[{i}].topic (source)");
        let Some(source) = source_of(&link.name) else {
            let detail = format!("no source_clusters entry serves link {:?}", link.name);
            report.push(section, &key, &probe.topic, Outcome::Missing, detail);
            continue;
        };
        let mut check = KafkaCheck::new(&cluster.name, &source.name, Role::Source, &source.kafka);
        let (outcome, detail) = match check.topic_exists(&probe.topic) {
            Ok(true) => (Outcome::Ok, format!("topic found on {}", source.name)),
            Ok(false) => (
                Outcome::Missing,
                format!("no such topic on {}", source.name),
            ),
            Err(d) => (Outcome::Failed, d.line("Metadata")),
        };
        report.push(section, &key, &probe.topic, outcome, detail);
    }
    groups(cluster, snapshot, &source_of, section, report);
}

/// The configured `offset_sync.groups`: each must have a committed offset on the source of a
/// link that syncs consumer offsets, for one of its mirror topics' source partitions.
fn groups<'a>(
    cluster: &ClusterConfig,
    snapshot: &ClusterSnapshot,
    source_of: &dyn Fn(&str) -> Option<&'a SourceClusterConfig>,
    section: &str,
    report: &mut ConnectReport,
) {
    let settings = &cluster.offset_sync;
    if !settings.enabled {
        return;
    }
    let syncing: Vec<_> = snapshot
        .links
        .iter()
        .filter(|l| l.configs.consumer_offset_sync == Some(true))
        .collect();
    if settings.groups.is_empty() {
        let names: Vec<&str> = syncing.iter().map(|l| l.name.as_str()).collect();
        report.push(
            section,
            "offset_sync.groups",
            "",
            Outcome::Skipped,
            unnamed_groups(settings, &names),
        );
    }
    for (i, group) in settings.groups.iter().enumerate() {
        let key = format!("offset_sync.groups[{i}]");
        let mut found = Vec::new();
        let mut failed = None;
        for link in &syncing {
            let Some(source) = source_of(&link.name) else {
                continue;
            };
            let partitions: BTreeSet<(String, i32)> = snapshot
                .mirrors
                .iter()
                .filter(|m| m.link == link.name)
                .flat_map(|m| {
                    let topic = m.source_topic.clone().unwrap_or_else(|| m.name.clone());
                    let mut ps: Vec<i32> = m.lags.iter().map(|p| p.partition).collect();
                    if ps.is_empty() {
                        ps.push(0);
                    }
                    ps.into_iter().map(move |p| (topic.clone(), p))
                })
                .collect();
            let mut check =
                KafkaCheck::new(&cluster.name, &source.name, Role::Source, &source.kafka);
            match check.has_commits(group, &partitions) {
                Ok(true) => found.push(link.name.clone()),
                Ok(false) => {}
                Err(d) => failed = Some(d.line("OffsetFetch")),
            }
        }
        let (outcome, detail) = match (found.is_empty(), failed, syncing.is_empty()) {
            (false, _, _) => (Outcome::Ok, format!("commits on the source of {}", found.join(", "))),
            (true, Some(line), _) => (Outcome::Failed, line),
            (true, None, true) => (
                Outcome::Missing,
                "no link syncs consumer offsets (consumer.offset.sync.enable)".into(),
            ),
            (true, None, false) => (
                Outcome::Missing,
                "no committed offset on the source for the mirror topics of the links that sync consumer offsets".into(),
            ),
        };
        report.push(section, &key, group, outcome, detail);
    }
}

/// Why no group is checked when `offset_sync.groups` names none: which groups the exporter
/// measures instead, on `syncing` (the links that sync consumer offsets).
fn unnamed_groups(settings: &crate::config::OffsetSyncConfig, syncing: &[&str]) -> String {
    if syncing.is_empty() {
        return "none named, and no link syncs consumer offsets (consumer.offset.sync.enable)"
            .into();
    }
    let which = match &settings.group_pattern {
        Some(p) => format!("those matching group_pattern {:?}", p.as_str()),
        None => "those the links' consumer.offset.group.filters name".into(),
    };
    format!(
        "none named (the exporter measures {which} on {}): name groups in offset_sync.groups to check them here",
        syncing.join(", ")
    )
}

/// The rows of a source cluster: reachable, authenticated, its cluster id against the
/// configured one (else the `source_cluster_id` of a link it serves by name), and each link
/// it names listed by some destination cluster.
fn source_side(
    source: SourceClusterConfig,
    snapshots: Vec<(String, ClusterSnapshot)>,
) -> impl FnOnce() -> Vec<Row> + Send + 'static {
    move || {
        let mut report = ConnectReport::default();
        let section = format!("source_clusters[{}]", source.name);
        let served_id = snapshots
            .iter()
            .flat_map(|(_, s)| &s.links)
            .find(|l| source.links.contains(&l.name))
            .and_then(|l| l.source_cluster_id.clone());
        let expected = source.cluster_id.clone().or(served_id);
        let mut check = KafkaCheck::new(&source.name, &source.name, Role::Source, &source.kafka);
        let subject = source.kafka.bootstrap_servers.clone();
        reach(
            &mut check,
            &section,
            &subject,
            expected.as_deref(),
            &mut report,
        );
        for (i, link) in source.links.iter().enumerate() {
            let on: Vec<&str> = snapshots
                .iter()
                .filter(|(_, s)| s.links.iter().any(|l| &l.name == link))
                .map(|(c, _)| c.as_str())
                .collect();
            let (outcome, detail) = if on.is_empty() {
                (
                    Outcome::Missing,
                    "no destination cluster lists this link".to_owned(),
                )
            } else {
                (Outcome::Ok, format!("listed by {}", on.join(", ")))
            };
            report.push(&section, &format!("links[{i}]"), link, outcome, detail);
        }
        report.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(extra: &str) -> ClusterConfig {
        let yaml = format!(
            "clusters:\n  - name: B\n    rest_url: 'http://b:8090/kafka/v3'\n    kafka: {{bootstrap_servers: 'b:9092'}}\n{extra}source_clusters:\n  - {{name: A, kafka: {{bootstrap_servers: 'a:9092'}}, links: [dr, dr2]}}\n"
        );
        let config = Config::from_yaml(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        config.clusters.into_iter().next().unwrap()
    }

    fn checked(kind: ReferenceKind, key: &str, name: &str) -> Checked {
        Checked {
            kind,
            name: name.into(),
            key: key.into(),
            missing: None,
        }
    }

    /// A probe's mirror topic is named as what was checked: the destination's mirror topic,
    /// under the key that sets it.
    #[test]
    fn a_probes_mirror_topic_row_says_what_was_checked() {
        let c = cluster(
            "    probes:\n      - {link: dr, topic: probe}\n      - {link: dr2, topic: p2, mirror_topic: m2}\n",
        );
        let row = |kind, key: &str, name: &str| reference_row(&c, &checked(kind, key, name));
        assert_eq!(
            row(ReferenceKind::MirrorTopic, "probes[0].topic", "dr.probe"),
            (
                "probes[0].topic (mirror topic)".to_owned(),
                "mirror topic of link dr found".to_owned()
            )
        );
        assert_eq!(
            row(ReferenceKind::MirrorTopic, "probes[1].topic", "m2").0,
            "probes[1].mirror_topic"
        );
        assert_eq!(
            row(ReferenceKind::Link, "probes[0].link", "dr"),
            ("probes[0].link".to_owned(), "link found".to_owned())
        );
        assert_eq!(
            row(
                ReferenceKind::MirrorTopicFilter,
                "mirror_topics.include[0]",
                "o.*"
            )
            .1,
            "mirror topic filter found"
        );
    }

    /// Without a reachable REST API each probe source topic and each offset-sync group is a
    /// skipped row naming it; with no group named, a row says which groups are measured.
    #[test]
    fn every_unchecked_name_is_a_row_of_its_own() {
        let c = cluster(
            "    probes: [{link: dr, topic: probe}]\n    offset_sync: {groups: [orders-app, billing]}\n",
        );
        let mut report = ConnectReport::default();
        skip_source_references(&c, "needs the REST API's links", "clusters[B]", &mut report);
        let rows: Vec<(&str, &str, Outcome)> = report
            .rows
            .iter()
            .map(|r| (r.check.as_str(), r.subject.as_str(), r.outcome))
            .collect();
        assert_eq!(
            rows,
            [
                ("probes[0].topic (source)", "probe", Outcome::Skipped),
                ("offset_sync.groups[0]", "orders-app", Outcome::Skipped),
                ("offset_sync.groups[1]", "billing", Outcome::Skipped),
            ]
        );
        let settings = cluster("").offset_sync;
        let text = unnamed_groups(&settings, &["dr"]);
        assert!(
            text.contains("consumer.offset.group.filters") && text.contains(" on dr)"),
            "{text}"
        );
        assert!(unnamed_groups(&settings, &[]).contains("no link syncs consumer offsets"));
    }
}
