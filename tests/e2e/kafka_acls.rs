//! Least privilege against real brokers with the StandardAuthorizer: the ACLs
//! `common::played_link` declares per feature (`source_acls`, `destination_acls`, the table of
//! docs/kafka-security.md and the README) are enough for every measurement, and each one
//! taken away refuses its own feature only — counted as `reason="authorization"` on the
//! connection that needs it, shown on the status page as `authorization: …` — while every
//! other value stays right.
//!
//! Each case is one cluster of one exporter, with a played link of its own tag and a user that
//! has the documented ACLs of that link minus the case's; every case of an exporter shares
//! its user (ACLs name the link's topics and groups, so the cases do not see each other's).
//! No user here has an ACL on the group `cluster-link-exporter-reader`, on the cluster, or
//! `IDEMPOTENT_WRITE`: the cases where nothing is missing prove none is needed.
//!
//! The claims of the table, and the case that proves each:
//! - the documented set is enough, without the reader group (lag in seconds and the probe's
//!   consumer only assign partitions; librdkafka's FindCoordinator for the group is refused
//!   and does not matter), the cluster or `IDEMPOTENT_WRITE` (the probe's producer is not
//!   idempotent: no InitProducerId): `acl-all`;
//! - ListGroups (`group_pattern`, `PREFIXED` filters) needs no `DESCRIBE` on the cluster: the
//!   broker lists the groups the principal may `DESCRIBE`: `acl-listgroups`;
//! - `DESCRIBE` on the mirror topics: the destination's watermarks, and offset sync's
//!   OffsetFetch there; `READ` implies `DESCRIBE` on the source topics: `acl-nodescribe`;
//! - `DESCRIBE` on the source topics: the source's watermarks (measured lag) and OffsetFetch
//!   there: `acl-nodescribe-src`;
//! - `READ` on the source topics: lag in seconds only: `acl-noread`;
//! - `DESCRIBE` on the group, on each side: offset sync only: `acl-nogroup-src`,
//!   `acl-nogroup-dst`;
//! - `WRITE` on the source's probe topic, `READ` on its mirror: the probe only: `acl-nowrite`,
//!   `acl-noprobe-read`.

use std::time::Duration;

use serde_json::Value;

use crate::common::eventually::eventually;
use crate::common::kafka::{
    self as k, Acl, AclOperation as Op, Broker, Listener, PatternType, ResourceType, User, CLUSTER,
    LIMITED,
};
use crate::common::link_rest::LinkRest;
use crate::common::played_link::{
    self as played, now_ms, ProbeMirror, Truth, MIRRORED, SOURCE_RECORDS,
};
use crate::common::scrape::{scrape, start_exporter, value};

/// A value the exporter measures for a played link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// The destination's high watermarks of the mirror topic (`<tag>-orders`).
    DestinationWatermarks,
    /// The source's high watermarks of its source topic.
    SourceWatermarks,
    /// Measured lag of the mirror topic (both watermarks).
    MeasuredLag,
    /// Lag in seconds of the mirror topic.
    LagSeconds,
    /// Offset-sync lag of the group `<tag>-app`.
    OffsetSync,
    /// Probe records sent on the source and received from the destination's mirror.
    Probe,
}
use Reading as V;

const ALL_VALUES: [Reading; 6] = [
    V::DestinationWatermarks,
    V::SourceWatermarks,
    V::MeasuredLag,
    V::LagSeconds,
    V::OffsetSync,
    V::Probe,
];

/// Which side of the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Source,
    Destination,
}

impl Side {
    fn role(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Destination => "destination",
        }
    }
}

/// One cluster of an exporter: a played link, the documented ACLs minus `missing`, what must
/// be absent and which connections must count `authorization` errors.
struct Case {
    /// The cluster's name and the link's tag (unique in the test binary).
    name: &'static str,
    /// What this case proves (failure messages).
    claim: &'static str,
    /// Documented ACLs not granted (their principal is not compared).
    missing: fn(&Truth) -> Vec<(Side, Acl)>,
    /// ACLs granted besides the documented set.
    extra: fn(&str, &Truth) -> Vec<(Side, Acl)>,
    /// Values that must be absent (the others must be right).
    absent: &'static [Reading],
    /// Connections that must count `authorization` errors and show one on the status page;
    /// the other connection must count none.
    refused_on: &'static [Side],
    /// More YAML of the cluster (indented by 4), e.g. `lag_seconds: {enabled: false}`.
    yaml: &'static str,
    /// Requests (side, `client`, `request` of `clusterlink_kafka_requests_total`) that must
    /// have been sent, and that must not.
    sent: &'static [(Side, &'static str, &'static str)],
    not_sent: &'static [(Side, &'static str, &'static str)],
    /// Words the status page's line of a refused connection must hold.
    status_says: &'static [(Side, &'static str)],
}

/// The documented ACLs of `truth`'s link for `principal`, by side, with their feature.
fn documented(principal: &str, truth: &Truth) -> Vec<(Side, &'static str, Acl)> {
    let source = played::source_acls(principal, truth)
        .into_iter()
        .map(|(f, a)| (Side::Source, f, a));
    let destination = played::destination_acls(principal, truth)
        .into_iter()
        .map(|(f, a)| (Side::Destination, f, a));
    source.chain(destination).collect()
}

/// The documented ACLs of `feature` on `side` (an ACL with the principal left empty: only
/// operation and resource are compared).
fn of_feature(truth: &Truth, side: Side, feature: &str) -> Vec<(Side, Acl)> {
    documented("", truth)
        .into_iter()
        .filter(|(s, f, _)| *s == side && *f == feature)
        .map(|(s, _, a)| (s, a))
        .collect()
}

fn same_resource(a: &Acl, b: &Acl) -> bool {
    a.operation == b.operation
        && a.resource_type == b.resource_type
        && a.name == b.name
        && a.pattern == b.pattern
}

fn no_extra(_: &str, _: &Truth) -> Vec<(Side, Acl)> {
    Vec::new()
}

/// A played link per case, its ACLs granted to `user`, one exporter for all of them: waits
/// until every case shows what it claims.
async fn run_cases(user: User, cases: &[Case]) {
    let b = k::brokers();
    let principal = user.principal();
    let mut links = Vec::new();
    for case in cases {
        let truth = played::write(&b.source, &b.destination, case.name);
        let missing = (case.missing)(&truth);
        let mut granted: Vec<(Side, Acl)> = documented(&principal, &truth)
            .into_iter()
            .filter(|(side, _, acl)| {
                !missing
                    .iter()
                    .any(|(s, m)| s == side && same_resource(m, acl))
            })
            .map(|(side, _, acl)| (side, acl))
            .collect();
        granted.extend((case.extra)(&principal, &truth));
        for side in [Side::Source, Side::Destination] {
            let acls: Vec<Acl> = granted
                .iter()
                .filter(|(s, _)| *s == side)
                .map(|(_, a)| a.clone())
                .collect();
            k::add_acls(broker(b, side), &acls);
        }
        let rest = played::rest(&b.source, &b.destination, &truth).await;
        let mirror = ProbeMirror::start(&b.source, &b.destination, &truth.probe_topic);
        links.push((truth, rest, mirror));
    }
    // What no user of this module has: the claims of "nothing else needed" rest on it.
    let reader = "cluster-link-exporter-reader";
    for side in [Side::Source, Side::Destination] {
        for (op, resource, name) in [
            (Op::Read, ResourceType::Group, reader),
            (Op::Describe, ResourceType::Group, reader),
            (Op::Describe, ResourceType::Cluster, CLUSTER),
            (Op::IdempotentWrite, ResourceType::Cluster, CLUSTER),
        ] {
            let acl = Acl::new(&principal, op, resource, name, PatternType::Literal);
            assert!(!k::has_acl(broker(b, side), &acl), "{side:?} has {acl:?}");
        }
    }
    let yaml = exporter_yaml(b, user, cases, &links);
    let started = now_ms();
    let exporter = start_exporter(&yaml).await;
    let base = format!("http://{}", exporter.address());
    for (case, (truth, _, _)) in cases.iter().zip(&links) {
        let what = format!("{}: {}", case.name, case.claim);
        eventually(Duration::from_secs(90), &what, || async {
            let text = scrape(&exporter).await;
            let status = status_json(&base).await;
            look(&text, &status, case, truth, started)
        })
        .await;
    }
    exporter.shutdown().await;
    drop(links);
}

fn broker(b: &k::Brokers, side: Side) -> &Broker {
    match side {
        Side::Source => &b.source,
        Side::Destination => &b.destination,
    }
}

/// The exporter's YAML: one cluster per case, each with its source cluster, both over SASL_SSL
/// PLAIN as `user`, a probe of the case's link.
fn exporter_yaml(
    b: &k::Brokers,
    user: User,
    cases: &[Case],
    links: &[(Truth, LinkRest, ProbeMirror)],
) -> String {
    let kafka = |broker: &Broker| {
        format!(
            "{{bootstrap_servers: '{}', request_timeout: 5s, tls: {{ca_file: '{}'}}, \
             sasl: {{mechanism: PLAIN, username: '{}', password: '{}'}}}}",
            broker.bootstrap(Listener::SaslSsl),
            broker.pki.ca.display(),
            user.name,
            user.password
        )
    };
    let mut clusters = String::new();
    let mut sources = String::new();
    for (case, (truth, rest, _)) in cases.iter().zip(links) {
        let name = case.name;
        let link = format!("{}-link", truth.tag);
        clusters.push_str(&format!(
            "  - name: {name}\n    rest_url: {}\n    cluster_id: {}\n    kafka: {}\n    \
             probes: [{{link: {link}, topic: {}, interval: 1s, sla: 5s, instance_id: {name}}}]\n",
            rest.rest_url(),
            rest.cluster_id(),
            kafka(&b.destination),
            truth.probe_topic,
        ));
        for line in case.yaml.lines().filter(|l| !l.trim().is_empty()) {
            clusters.push_str(&format!("    {}\n", line.trim()));
        }
        sources.push_str(&format!(
            "  - name: {name}-source\n    links: [{link}]\n    kafka: {}\n",
            kafka(&b.source)
        ));
    }
    format!(
        "defaults: {{poll_interval: 1s, request_timeout: 5s}}\nclusters:\n{clusters}\
         source_clusters:\n{sources}"
    )
}

async fn status_json(base: &str) -> Value {
    match reqwest::get(format!("{base}/status.json")).await {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(_) => Value::Null,
    }
}

/// The status page's last error of `case`'s connection on `side`.
fn status_line(status: &Value, case: &str, side: Side) -> String {
    let connection = match side {
        Side::Source => format!("{case}-source"),
        Side::Destination => case.to_owned(),
    };
    status["clusters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["name"] == case)
        .filter_map(|c| c["kafka_connections"].as_array())
        .flatten()
        .find(|c| c["role"] == side.role() && c["name"] == connection.as_str())
        .and_then(|c| c["last_error"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// One look at the exporter for `case`: `Ok` when every value not in `absent` is right, every
/// value in it absent (after its connection counted a refusal), and the refusals are counted
/// on exactly the connections of `refused_on`.
fn look(
    text: &str,
    status: &Value,
    case: &Case,
    truth: &Truth,
    started_ms: i64,
) -> Result<(), String> {
    let name = case.name;
    let link = format!("{}-link", truth.tag);
    let mirror = [
        ("kafka_cluster", name),
        ("link", link.as_str()),
        ("mirror_topic", truth.topic.as_str()),
    ];
    let partition = |p: &'static str| {
        [
            ("kafka_cluster", name),
            ("link", link.as_str()),
            ("mirror_topic", truth.topic.as_str()),
            ("partition", p),
        ]
    };
    let mut problems = Vec::new();
    for v in ALL_VALUES {
        let want_present = !case.absent.contains(&v);
        // (present, right)
        let (present, right, seen) = match v {
            V::DestinationWatermarks => {
                let got: Vec<Option<f64>> = ["0", "1", "2"]
                    .iter()
                    .map(|p| {
                        value(
                            text,
                            "clusterlink_mirror_partition_destination_high_watermark",
                            &partition(p),
                        )
                    })
                    .collect();
                let want: Vec<Option<f64>> = MIRRORED.iter().map(|m| Some(*m as f64)).collect();
                (
                    got.iter().any(Option::is_some),
                    got == want,
                    format!("{got:?}"),
                )
            }
            V::SourceWatermarks => {
                let got: Vec<Option<f64>> = ["0", "1", "2"]
                    .iter()
                    .map(|p| {
                        value(
                            text,
                            "clusterlink_mirror_partition_source_high_watermark",
                            &partition(p),
                        )
                    })
                    .collect();
                let want: Vec<Option<f64>> =
                    SOURCE_RECORDS.iter().map(|m| Some(*m as f64)).collect();
                (
                    got.iter().any(Option::is_some),
                    got == want,
                    format!("{got:?}"),
                )
            }
            V::MeasuredLag => {
                let got = value(
                    text,
                    "clusterlink_mirror_topic_measured_lag_messages",
                    &mirror,
                );
                (
                    got.is_some(),
                    got == Some(truth.lag_messages() as f64),
                    format!("{got:?} (want {})", truth.lag_messages()),
                )
            }
            V::LagSeconds => {
                let got = value(text, "clusterlink_mirror_topic_lag_seconds", &mirror);
                // The link's: the largest of its mirror topics (the probe topic's is about 0).
                let of_link = value(text, "clusterlink_link_lag_seconds", &mirror[..2]);
                let oldest = truth.oldest_unmirrored_ms();
                // Measured after the exporter started, at the latest now; whole ms.
                let lowest = (started_ms - oldest) as f64 / 1000.0 - 0.001;
                let highest = (now_ms() - oldest) as f64 / 1000.0 + 0.001;
                let within = |s: f64| s >= lowest && s <= highest;
                // The link's is absent too when the topic lags (measured) and none of its
                // lagging partitions was read; when the topic is not measured at all, the link's
                // is its other topics'.
                let measured = !case.absent.contains(&V::MeasuredLag);
                (
                    got.is_some() || (measured && of_link.is_some()),
                    got.is_some_and(within) && of_link.is_some_and(within),
                    format!("topic {got:?}, link {of_link:?} (want {lowest}..{highest})"),
                )
            }
            V::OffsetSync => {
                let got = value(
                    text,
                    "clusterlink_consumer_offset_sync_lag_messages",
                    &[
                        mirror[0],
                        mirror[1],
                        ("consumer_group", truth.group.as_str()),
                        mirror[2],
                    ],
                );
                (
                    got.is_some(),
                    got == Some(truth.offset_sync_lag() as f64),
                    format!("{got:?} (want {})", truth.offset_sync_lag()),
                )
            }
            V::Probe => {
                let labels = [("kafka_cluster", name), ("link", link.as_str())];
                let get = |m: &str| value(text, m, &labels).unwrap_or(0.0);
                let sent = get("clusterlink_probe_records_sent_total");
                let failed = get("clusterlink_probe_send_failures_total");
                let received = get("clusterlink_probe_records_received_total");
                let lost = get("clusterlink_probe_records_lost_total");
                let seen = format!(
                    "sent {sent}, send failures {failed}, received {received}, lost {lost}"
                );
                if want_present {
                    (received > 0.0, received >= 2.0 && failed == 0.0, seen)
                } else {
                    // Refused: either no record is acknowledged, or none comes back (and
                    // those sent are lost).
                    let refused = (sent == 0.0 && failed >= 2.0)
                        || (sent >= 2.0 && received == 0.0 && lost >= 1.0);
                    (received > 0.0 || !refused, false, seen)
                }
            }
        };
        match (want_present, present, right) {
            (true, _, true) | (false, false, _) => {}
            (true, _, false) => problems.push(format!("{v:?} wrong: {seen}")),
            (false, true, _) => problems.push(format!("{v:?} should be absent: {seen}")),
        }
    }
    for side in [Side::Source, Side::Destination] {
        let role = side.role();
        let connection = match side {
            Side::Source => format!("{name}-source"),
            Side::Destination => name.to_owned(),
        };
        let denied = value(
            text,
            "clusterlink_kafka_errors_total",
            &[
                ("kafka_cluster", name),
                ("connection", connection.as_str()),
                ("role", role),
                ("reason", "authorization"),
            ],
        );
        let line = status_line(status, name, side);
        if case.refused_on.contains(&side) {
            if denied.unwrap_or(0.0) < 1.0 {
                problems.push(format!(
                    "{role}: no authorization error counted ({denied:?})"
                ));
            }
            let says = case
                .status_says
                .iter()
                .filter(|(s, _)| *s == side)
                .all(|(_, words)| line.contains(words));
            if !line.starts_with("authorization: ") || !says {
                problems.push(format!("{role}: status line {line:?}"));
            }
        } else if denied != Some(0.0) {
            problems.push(format!(
                "{role}: authorization errors {denied:?} (want 0); status line {line:?}"
            ));
        }
    }
    let requests = |side: Side, client: &str, request: &str| {
        let connection = match side {
            Side::Source => format!("{name}-source"),
            Side::Destination => name.to_owned(),
        };
        value(
            text,
            "clusterlink_kafka_requests_total",
            &[
                ("kafka_cluster", name),
                ("connection", connection.as_str()),
                ("client", client),
                ("request", request),
            ],
        )
        .unwrap_or(0.0)
    };
    for &(side, client, request) in case.sent {
        if requests(side, client, request) < 1.0 {
            problems.push(format!("{}: {client} sent no {request}", side.role()));
        }
    }
    for &(side, client, request) in case.not_sent {
        let n = requests(side, client, request);
        if n > 0.0 {
            problems.push(format!("{}: {client} sent {n} {request}", side.role()));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        let mine: Vec<&str> = text
            .lines()
            .filter(|l| {
                l.contains(&format!("\"{name}\""))
                    && (l.starts_with("clusterlink_kafka_errors")
                        || l.starts_with("clusterlink_kafka_requests")
                        || l.starts_with("clusterlink_kafka_up")
                        || l.starts_with("clusterlink_probe_records")
                        || l.starts_with("clusterlink_probe_send"))
                    && !l.ends_with(" 0")
            })
            .collect();
        Err(format!(
            "{}\nstatus: source {:?}, destination {:?}\n{}",
            problems.join("\n"),
            status_line(status, name, Side::Source),
            status_line(status, name, Side::Destination),
            mine.join("\n")
        ))
    }
}

/// Every documented ACL granted: every value right, no refusal on either side. Also with
/// offset sync's groups listed (`group_pattern`: ListGroups) without any ACL on the cluster.
#[tokio::test(flavor = "multi_thread")]
async fn the_documented_acls_are_enough() {
    run_cases(
        LIMITED[0],
        &[
            Case {
                name: "acl-all",
                claim: "the documented ACLs, nothing else: every value right",
                missing: |_| Vec::new(),
                extra: no_extra,
                absent: &[],
                refused_on: &[],
                yaml: "",
                // librdkafka looks up the reader group's coordinator, refused: no matter (the
                // lag-in-seconds reader keeps no statistics, so its requests are not counted;
                // the probe consumer's lookup is).
                sent: &[(Side::Destination, "probe_consumer", "FindCoordinator")],
                // Not an idempotent producer: no IDEMPOTENT_WRITE needed on any broker.
                not_sent: &[(Side::Source, "probe_producer", "InitProducerId")],
                status_says: &[],
            },
            Case {
                name: "acl-listgroups",
                claim: "ListGroups without DESCRIBE on the cluster lists the groups the \
                        principal may DESCRIBE",
                missing: |t| {
                    // The group ACLs by name are replaced by PREFIXED ones (extra).
                    let mut m = of_feature(t, Side::Source, "offset_sync");
                    m.extend(of_feature(t, Side::Destination, "offset_sync"));
                    m
                },
                extra: |p, t| {
                    let prefix = format!("{}-", t.tag);
                    let group = |side| {
                        (
                            side,
                            Acl::new(
                                p,
                                Op::Describe,
                                ResourceType::Group,
                                &prefix,
                                PatternType::Prefixed,
                            ),
                        )
                    };
                    vec![group(Side::Source), group(Side::Destination)]
                },
                absent: &[],
                refused_on: &[],
                yaml: "offset_sync: {group_pattern: 'acl-listgroups-.*'}",
                sent: &[(Side::Source, "watermarks", "ListGroups")],
                not_sent: &[],
                status_says: &[],
            },
        ],
    )
    .await;
}

/// Without the watermarks' `DESCRIBE` on the topics, or lag in seconds' `READ`.
#[tokio::test(flavor = "multi_thread")]
async fn a_missing_topic_acl_refuses_only_its_feature() {
    run_cases(
        LIMITED[1],
        &[
            Case {
                name: "acl-nodescribe",
                claim: "without DESCRIBE on the topics: the destination refuses its \
                        watermarks (and OffsetFetch); READ on the source topics implies DESCRIBE",
                missing: |t| {
                    let mut m = of_feature(t, Side::Source, "watermarks");
                    m.extend(of_feature(t, Side::Destination, "watermarks"));
                    m
                },
                extra: no_extra,
                absent: &[
                    V::DestinationWatermarks,
                    V::MeasuredLag,
                    V::LagSeconds,
                    V::OffsetSync,
                ],
                refused_on: &[Side::Destination],
                yaml: "",
                // Offset sync asked the destination, which refused the topic's partitions.
                sent: &[(Side::Destination, "offset_sync", "OffsetFetch")],
                not_sent: &[],
                status_says: &[(Side::Destination, "Topic authorization failed")],
            },
            Case {
                name: "acl-nodescribe-src",
                claim: "without DESCRIBE (nor READ) on the source topics: the source refuses \
                        its watermarks and OffsetFetch",
                missing: |t| {
                    let mut m = of_feature(t, Side::Source, "watermarks");
                    m.extend(of_feature(t, Side::Source, "lag_seconds"));
                    // The probe's WRITE implies DESCRIBE on the probe topic: keep only the
                    // mirror topic's source refused.
                    m.retain(|(_, a)| a.name == t.topic);
                    m
                },
                extra: no_extra,
                absent: &[
                    V::SourceWatermarks,
                    V::MeasuredLag,
                    V::LagSeconds,
                    V::OffsetSync,
                ],
                refused_on: &[Side::Source],
                yaml: "lag_seconds: {enabled: false}",
                sent: &[(Side::Source, "offset_sync", "OffsetFetch")],
                not_sent: &[],
                status_says: &[(Side::Source, "Topic authorization failed")],
            },
            Case {
                name: "acl-noread",
                claim: "without READ on the source topics: no lag in seconds, the rest right",
                missing: |t| of_feature(t, Side::Source, "lag_seconds"),
                extra: no_extra,
                absent: &[V::LagSeconds],
                refused_on: &[Side::Source],
                yaml: "",
                sent: &[],
                not_sent: &[],
                status_says: &[(Side::Source, "reading source records for lag in seconds")],
            },
        ],
    )
    .await;
}

/// Without offset sync's group `DESCRIBE` (on either side), or the probe's `WRITE`/`READ`.
#[tokio::test(flavor = "multi_thread")]
async fn a_missing_group_or_probe_acl_refuses_only_its_feature() {
    run_cases(
        LIMITED[2],
        &[
            Case {
                name: "acl-nogroup-src",
                claim: "without DESCRIBE on the group on the source: no offset-sync lag",
                missing: |t| of_feature(t, Side::Source, "offset_sync"),
                extra: no_extra,
                absent: &[V::OffsetSync],
                refused_on: &[Side::Source],
                yaml: "",
                sent: &[],
                not_sent: &[],
                status_says: &[(Side::Source, "Group authorization failed")],
            },
            Case {
                name: "acl-nogroup-dst",
                claim: "without DESCRIBE on the group on the destination: no offset-sync lag",
                missing: |t| of_feature(t, Side::Destination, "offset_sync"),
                extra: no_extra,
                absent: &[V::OffsetSync],
                refused_on: &[Side::Destination],
                yaml: "",
                sent: &[],
                not_sent: &[],
                status_says: &[(Side::Destination, "Group authorization failed")],
            },
            Case {
                name: "acl-nowrite",
                claim: "without WRITE on the source's probe topic: the probe's sends fail",
                missing: |t| of_feature(t, Side::Source, "probe"),
                extra: no_extra,
                absent: &[V::Probe],
                refused_on: &[Side::Source],
                yaml: "",
                sent: &[],
                not_sent: &[],
                status_says: &[(Side::Source, "sending a probe record")],
            },
            Case {
                name: "acl-noprobe-read",
                claim: "without READ on the destination's probe mirror: probe records lost",
                missing: |t| of_feature(t, Side::Destination, "probe"),
                extra: no_extra,
                absent: &[V::Probe],
                refused_on: &[Side::Destination],
                yaml: "",
                sent: &[],
                not_sent: &[],
                status_says: &[(Side::Destination, "reading the probe mirror")],
            },
        ],
    )
    .await;
}
