//! A cluster link played by the test between the two real brokers of [`super::kafka::brokers`]
//! (Apache Kafka has no cluster links): the test writes a source topic, copies a known prefix
//! of each partition into the destination topic at the same offsets, commits known consumer
//! group offsets on both sides, and serves the link's REST description ([`LinkRest`]). The
//! exporter is then configured as users configure it, with a `kafka` section per side, and
//! every value it exports can be checked against the truth the test wrote ([`Truth`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use super::kafka::{self as k, Acl, AclOperation as Op, Broker, PatternType, ResourceType, User};
use super::link_rest::{Destination, LinkRest, Mirror};

/// Records written to each source partition.
pub const SOURCE_RECORDS: [i64; 3] = [10, 10, 10];
/// Of those, records copied to the destination (the mirror's position).
pub const MIRRORED: [i64; 3] = [10, 6, 3];
/// The source's records are one second apart, the first this long before the test.
pub const FIRST_RECORD_AGE_MS: i64 = 600_000;
/// Group offsets committed on the source, per partition.
pub const SOURCE_GROUP_OFFSETS: [i64; 3] = [8, 5, 2];
/// And on the destination (`None`: not synced yet, counts as offset 0).
pub const DESTINATION_GROUP_OFFSETS: [Option<i64>; 3] = [Some(8), Some(3), None];

/// What the test wrote: the values the exporter must find.
#[derive(Debug, Clone)]
pub struct Truth {
    /// Prefix of every name of this link (topics, group).
    pub tag: String,
    pub topic: String,
    pub probe_topic: String,
    pub group: String,
    /// Timestamp (ms) of record `i` of every source partition.
    pub first_record_ms: i64,
}

impl Truth {
    /// Measured lag of the topic: source minus destination high watermarks, summed.
    pub fn lag_messages(&self) -> i64 {
        SOURCE_RECORDS
            .iter()
            .zip(MIRRORED)
            .map(|(s, d)| s - d)
            .sum()
    }

    /// Timestamp (ms) of the oldest source record not yet on the destination, over all
    /// partitions: the topic's lag in seconds is now minus this.
    pub fn oldest_unmirrored_ms(&self) -> i64 {
        MIRRORED
            .iter()
            .zip(SOURCE_RECORDS)
            .filter(|(d, s)| *d < s)
            .map(|(d, _)| self.first_record_ms + d * 1000)
            .min()
            .expect("some partition lags")
    }

    /// Offset-sync lag of the group: source minus destination commits, summed.
    pub fn offset_sync_lag(&self) -> i64 {
        SOURCE_GROUP_OFFSETS
            .iter()
            .zip(DESTINATION_GROUP_OFFSETS)
            .map(|(s, d)| s - d.unwrap_or(0))
            .sum()
    }
}

/// Writes the link's data on both brokers: topics `<tag>-orders` (3 partitions) and
/// `<tag>-probe` (1 partition) on each, the records and the group offsets.
pub fn write(source: &Broker, destination: &Broker, tag: &str) -> Truth {
    let truth = Truth {
        tag: tag.to_owned(),
        topic: format!("{tag}-orders"),
        probe_topic: format!("{tag}-probe"),
        group: format!("{tag}-app"),
        first_record_ms: now_ms() - FIRST_RECORD_AGE_MS,
    };
    for b in [source, destination] {
        k::create_topic(b, &truth.topic, 3);
        k::create_topic(b, &truth.probe_topic, 1);
    }
    for p in 0..3 {
        let stamps =
            |n: i64| -> Vec<i64> { (0..n).map(|i| truth.first_record_ms + i * 1000).collect() };
        k::produce(source, &truth.topic, p, &stamps(SOURCE_RECORDS[p as usize]));
        k::produce(destination, &truth.topic, p, &stamps(MIRRORED[p as usize]));
    }
    let commits = |offsets: Vec<(i32, i64)>| -> Vec<(&str, i32, i64)> {
        offsets
            .into_iter()
            .map(|(p, o)| (truth.topic.as_str(), p, o))
            .collect()
    };
    k::commit_offsets(
        source,
        &truth.group,
        &commits(
            (0..3)
                .map(|p| (p, SOURCE_GROUP_OFFSETS[p as usize]))
                .collect(),
        ),
    );
    k::commit_offsets(
        destination,
        &truth.group,
        &commits(
            (0..3)
                .filter_map(|p| DESTINATION_GROUP_OFFSETS[p as usize].map(|o| (p, o)))
                .collect(),
        ),
    );
    truth
}

/// The link's REST API on the destination.
pub async fn rest(source: &Broker, destination: &Broker, truth: &Truth) -> LinkRest {
    let filters = format!(
        r#"{{"groupFilters":[{{"name":"{}","patternType":"LITERAL","filterType":"INCLUDE"}}]}}"#,
        truth.group
    );
    LinkRest::start(Destination {
        cluster_id: destination.cluster_id.clone(),
        link: format!("{}-link", truth.tag),
        source_cluster_id: source.cluster_id.clone(),
        configs: vec![
            ("consumer.offset.sync.enable".into(), "true".into()),
            ("consumer.offset.group.filters".into(), filters),
        ],
        mirrors: vec![
            Mirror::active(&truth.topic, 3),
            Mirror::active(&truth.probe_topic, 1),
        ],
    })
    .await
}

/// The ACLs the exporter's principal needs on the source cluster for every measurement of
/// this link, by feature (docs/kafka-security.md, "ACLs the exporter needs"; `kafka_acls`
/// proves the set enough and each one needed): `DESCRIBE` on the source topics, the probe's
/// included since the link mirrors it (watermarks; offset sync's OffsetFetch needs it too),
/// `READ` on them (lag in seconds; implies `DESCRIBE`), `DESCRIBE` on the group (offset sync:
/// FindCoordinator, OffsetFetch), `WRITE` on the probe topic, `DESCRIBE_CONFIGS` on the source
/// topics (their `retention.ms`: DescribeConfigs). Nothing on the group
/// `cluster-link-exporter-reader` or the cluster (ListGroups, `IDEMPOTENT_WRITE`).
pub fn source_acls(principal: &str, truth: &Truth) -> Vec<(&'static str, Acl)> {
    let topic = |op, name: &str| literal(principal, op, ResourceType::Topic, name);
    let group = |op, name: &str| literal(principal, op, ResourceType::Group, name);
    vec![
        ("watermarks", topic(Op::Describe, &truth.topic)),
        ("watermarks", topic(Op::Describe, &truth.probe_topic)),
        ("lag_seconds", topic(Op::Read, &truth.topic)),
        ("lag_seconds", topic(Op::Read, &truth.probe_topic)),
        ("offset_sync", group(Op::Describe, &truth.group)),
        ("probe", topic(Op::Write, &truth.probe_topic)),
        ("retention", topic(Op::DescribeConfigs, &truth.topic)),
        ("retention", topic(Op::DescribeConfigs, &truth.probe_topic)),
    ]
}

/// The ACLs the exporter's principal needs on the destination cluster, by feature: `DESCRIBE`
/// on the mirror topics (watermarks, and offset sync's OffsetFetch), `DESCRIBE` on the group
/// (offset sync), `READ` on the probe topic's mirror (the probe; no group ACL).
pub fn destination_acls(principal: &str, truth: &Truth) -> Vec<(&'static str, Acl)> {
    let topic = |op, name: &str| literal(principal, op, ResourceType::Topic, name);
    let group = |op, name: &str| literal(principal, op, ResourceType::Group, name);
    vec![
        ("watermarks", topic(Op::Describe, &truth.topic)),
        ("watermarks", topic(Op::Describe, &truth.probe_topic)),
        ("offset_sync", group(Op::Describe, &truth.group)),
        ("probe", topic(Op::Read, &truth.probe_topic)),
    ]
}

/// An ACL allowing `op` on the resource named `name` exactly.
fn literal(principal: &str, op: Op, resource: ResourceType, name: &str) -> Acl {
    Acl::new(principal, op, resource, name, PatternType::Literal)
}

/// Grants `user` every ACL the exporter needs for this link on both brokers.
pub fn grant(source: &Broker, destination: &Broker, user: &User, truth: &Truth) {
    let p = user.principal();
    let acls = |v: Vec<(&str, Acl)>| v.into_iter().map(|(_, a)| a).collect::<Vec<_>>();
    k::add_acls(source, &acls(source_acls(&p, truth)));
    k::add_acls(destination, &acls(destination_acls(&p, truth)));
}

/// Plays the link for the probe: copies every record of the source's probe topic (one
/// partition) to the destination's, in order, so offsets stay the same; stops when dropped.
pub struct ProbeMirror {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ProbeMirror {
    pub fn start(source: &Broker, destination: &Broker, topic: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let consumer: BaseConsumer = source
            .admin_config()
            .set("group.id", "played-link-probe-mirror")
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, 0, Offset::Beginning)
            .expect("offset");
        consumer.assign(&tpl).expect("assign");
        let producer: BaseProducer = destination
            .admin_config()
            .set("linger.ms", "0")
            .create()
            .expect("producer");
        let (flag, topic) = (stop.clone(), topic.to_owned());
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                    let mut record = BaseRecord::<[u8], [u8]>::to(&topic).partition(0);
                    if let Some(p) = m.payload() {
                        record = record.payload(p);
                    }
                    if let Some(key) = m.key() {
                        record = record.key(key);
                    }
                    if let Some(ts) = m.timestamp().to_millis() {
                        record = record.timestamp(ts);
                    }
                    let _ = producer.send(record);
                    let _ = producer.flush(Duration::from_secs(5));
                }
                producer.poll(Duration::ZERO);
            }
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for ProbeMirror {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
