//! Records written on demand by actions: `produce` (an exact number of records, for example
//! to the old source after a fail-over) and `source_retention` (filler records that make the
//! mock cluster delete a partition's oldest records, as retention would), with what they
//! report back ([`ActionOutcome`]).
//!
//! The librdkafka mock cluster has no retention and no DeleteRecords: it only drops the oldest
//! message sets of a partition once the partition holds more than 5 MiB (or 100 000 message
//! sets). `source_retention` writes filler records of [`FILLER_BYTES`] each, one message set
//! apiece, until the log-start offset (ListOffsets earliest) has passed every record the
//! partition held when the action started.

use std::sync::Mutex;
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use serde::{Deserialize, Serialize};

use super::engine::client_config;
use super::{lock, SimCore, SimError};

/// Size of a filler record's value: under the producers' `message.max.bytes` (1 000 000,
/// librdkafka's default, also for the link's producer that copies fillers to the mirror),
/// and six of them exceed the mock's 5 MiB per partition.
pub(crate) const FILLER_BYTES: usize = 900_000;

/// Header carried by filler records: `sim-filler: source-retention`.
pub const FILLER_HEADER: &str = "sim-filler";

/// Header carried by records written by the `produce` action: `sim-produce: <n>`, `n`
/// counting from 0 within the action.
pub const PRODUCE_HEADER: &str = "sim-produce";

/// Most records one `produce` action writes.
const MAX_PRODUCE: u64 = 100_000;

/// Most filler records `source_retention` writes to one partition before giving up.
const MAX_FILLERS: u32 = 64;

/// What an action reports. Most actions report nothing ([`ActionOutcome::Done`], the control
/// API's `204`); `produce` and `source_retention` report what they wrote (`200` with this as
/// JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ActionOutcome {
    /// Applied; nothing to report.
    Done,
    /// What `produce` wrote.
    Produced(Produced),
    /// What `source_retention` deleted.
    Retention(Retention),
}

/// The records one `produce` action wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Produced {
    /// The topic written to.
    pub topic: String,
    /// Records written, over all partitions (always the number asked for: the action fails
    /// otherwise).
    pub records: u64,
    /// Per partition written to, by partition number.
    pub partitions: Vec<ProducedPartition>,
}

/// The records one `produce` action wrote to one partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducedPartition {
    /// The partition.
    pub partition: i32,
    /// Records written to it.
    pub records: u64,
    /// Offset of the first of them.
    pub first_offset: i64,
    /// Offset of the last of them.
    pub last_offset: i64,
}

/// What one `source_retention` action deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// The topic.
    pub topic: String,
    /// Per partition, by partition number.
    pub partitions: Vec<RetentionPartition>,
}

/// What `source_retention` did to one partition. Offsets `log_start_before ..
/// log_start` are gone: the records the partition held before (all of
/// `log_start_before .. high_watermark_before`) and possibly the first fillers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPartition {
    /// The partition.
    pub partition: i32,
    /// Log-start offset (ListOffsets earliest) when the action started.
    pub log_start_before: i64,
    /// High watermark when the action started.
    pub high_watermark_before: i64,
    /// Log-start offset when the action ended: at least `high_watermark_before`.
    pub log_start: i64,
    /// High watermark when the action ended (after the fillers, and any other records
    /// produced meanwhile).
    pub high_watermark: i64,
    /// Records deleted: `log_start - log_start_before`.
    pub deleted: i64,
    /// Filler records written.
    pub fillers: u32,
}

/// Delivery reports of an action's producer: `(partition, offset)` or the error.
#[derive(Default)]
struct Deliveries(Mutex<Vec<Result<(i32, i64), KafkaError>>>);

impl ClientContext for Deliveries {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        tracing::trace!(?level, fac, "librdkafka: {log_message}");
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(%error, "librdkafka: {reason}");
    }
}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        lock(&self.0).push(match result {
            Ok(m) => Ok((m.partition(), m.offset())),
            Err((e, _)) => Err(e.clone()),
        });
    }
}

/// The bootstrap servers of `cluster` and the partitions of `topic` to write to, refusing a
/// synthetic cluster, an unknown or deleted topic, a mirror topic that is not stopped, and a
/// partition out of range.
fn target(
    core: &SimCore,
    cluster: &str,
    topic: &str,
    partition: Option<i32>,
) -> Result<(String, Vec<i32>), SimError> {
    let world = core.world();
    let c = world.cluster(cluster)?;
    if c.kafka.is_none() {
        return Err(SimError::Invalid(format!(
            "cluster {cluster} is synthetic: it has no Kafka records"
        )));
    }
    let count = match c.topics.get(topic) {
        Some(n) if !c.deleted_topics.contains(topic) => *n,
        _ => {
            return Err(SimError::Invalid(format!(
                "no topic {topic:?} on {cluster}"
            )))
        }
    };
    // Confluent rejects writes to a mirror topic until it is promoted or failed over.
    if c.links
        .values()
        .any(|l| l.mirrors.get(topic).is_some_and(|m| !m.stopped))
    {
        return Err(SimError::Invalid(format!(
            "topic {topic:?} on {cluster} is a mirror topic: read-only until it is promoted \
             or failed over"
        )));
    }
    let partitions = match partition {
        None => (0..count).collect(),
        Some(p) if (0..count).contains(&p) => vec![p],
        Some(p) => {
            return Err(SimError::Invalid(format!(
                "topic {topic:?} on {cluster} has no partition {p} (it has {count})"
            )))
        }
    };
    Ok((c.bootstrap_servers().to_owned(), partitions))
}

fn kafka(cluster: &str) -> impl Fn(KafkaError) -> SimError + '_ {
    move |e| SimError::Kafka {
        cluster: cluster.to_owned(),
        source: e.into(),
    }
}

fn producer(cluster: &str, bootstrap: &str) -> Result<BaseProducer<Deliveries>, SimError> {
    client_config(bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "10000")
        .create_with_context(Deliveries::default())
        .map_err(kafka(cluster))
}

/// Sends one record, waiting while the producer's queue is full.
fn send(
    producer: &BaseProducer<Deliveries>,
    mut record: BaseRecord<'_, [u8], [u8]>,
) -> Result<(), KafkaError> {
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                producer.poll(Duration::from_millis(10));
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// The `produce` action: writes exactly `records` records, round-robin from partition 0 or
/// all to `partition`, and waits until every one is acknowledged.
pub(crate) fn produce(
    core: &SimCore,
    cluster: &str,
    topic: &str,
    records: u64,
    partition: Option<i32>,
) -> Result<Produced, SimError> {
    if records > MAX_PRODUCE {
        return Err(SimError::Invalid(format!(
            "produce: at most {MAX_PRODUCE} records per action"
        )));
    }
    let (bootstrap, partitions) = target(core, cluster, topic, partition)?;
    let producer = producer(cluster, &bootstrap)?;
    let now = super::model::now_ms();
    for i in 0..records {
        let seq = i.to_string();
        let key = format!("produce-{i}");
        let value = format!(r#"{{"seq":{i},"source":"{topic}","by":"produce"}}"#);
        let headers = OwnedHeaders::new().insert(Header {
            key: PRODUCE_HEADER,
            value: Some(&seq),
        });
        let record = BaseRecord::to(topic)
            .partition(partitions[(i % partitions.len() as u64) as usize])
            .key(key.as_bytes())
            .payload(value.as_bytes())
            .headers(headers)
            .timestamp(now);
        send(&producer, record).map_err(kafka(cluster))?;
    }
    producer
        .flush(Duration::from_secs(30))
        .map_err(kafka(cluster))?;
    let deliveries = std::mem::take(&mut *lock(&producer.context().0));
    let mut by_partition = std::collections::BTreeMap::<i32, ProducedPartition>::new();
    let mut written = 0;
    let mut error = None;
    for d in deliveries {
        match d {
            Ok((p, offset)) => {
                written += 1;
                let e = by_partition.entry(p).or_insert(ProducedPartition {
                    partition: p,
                    records: 0,
                    first_offset: offset,
                    last_offset: offset,
                });
                e.records += 1;
                e.first_offset = e.first_offset.min(offset);
                e.last_offset = e.last_offset.max(offset);
            }
            Err(e) => error = Some(e),
        }
    }
    if written != records {
        return Err(SimError::Invalid(format!(
            "produce: {written} of {records} records written to {topic} on {cluster}{}",
            error.map(|e| format!(": {e}")).unwrap_or_default()
        )));
    }
    Ok(Produced {
        topic: topic.to_owned(),
        records,
        partitions: by_partition.into_values().collect(),
    })
}

/// The `source_retention` action: per partition, writes filler records until the log-start
/// offset has passed the high watermark the partition had when the action started, and
/// records the new log-start offsets in the world for the fetchers of links reading it.
pub(crate) fn source_retention(
    core: &SimCore,
    cluster: &str,
    topic: &str,
    partition: Option<i32>,
) -> Result<Retention, SimError> {
    let (bootstrap, partitions) = target(core, cluster, topic, partition)?;
    let producer = producer(cluster, &bootstrap)?;
    let consumer: BaseConsumer = client_config(&bootstrap).create().map_err(kafka(cluster))?;
    let watermarks = |p: i32| {
        consumer
            .fetch_watermarks(topic, p, Duration::from_secs(5))
            .map_err(kafka(cluster))
    };
    let filler = vec![b'x'; FILLER_BYTES];
    let mut out = Vec::new();
    for p in partitions {
        let (log_start_before, high_watermark_before) = watermarks(p)?;
        let (mut log_start, mut high_watermark) = (log_start_before, high_watermark_before);
        let mut fillers = 0;
        while log_start < high_watermark_before {
            if fillers == MAX_FILLERS {
                return Err(SimError::Invalid(format!(
                    "source_retention: {topic}[{p}] on {cluster} still starts at {log_start} \
                     after {MAX_FILLERS} filler records"
                )));
            }
            let headers = OwnedHeaders::new().insert(Header {
                key: FILLER_HEADER,
                value: Some("source-retention"),
            });
            let record = BaseRecord::to(topic)
                .partition(p)
                .payload(&filler[..])
                .headers(headers)
                .timestamp(super::model::now_ms());
            send(&producer, record).map_err(kafka(cluster))?;
            // One message set per filler, so the mock deletes whole fillers.
            producer
                .flush(Duration::from_secs(10))
                .map_err(kafka(cluster))?;
            if let Some(Err(e)) = lock(&producer.context().0).pop() {
                return Err(kafka(cluster)(e));
            }
            fillers += 1;
            (log_start, high_watermark) = watermarks(p)?;
        }
        {
            let mut world = core.world();
            let c = world.cluster_mut(cluster)?;
            let known = c.log_start.entry((topic.to_owned(), p)).or_insert(0);
            *known = (*known).max(log_start);
        }
        out.push(RetentionPartition {
            partition: p,
            log_start_before,
            high_watermark_before,
            log_start,
            high_watermark,
            deleted: log_start - log_start_before,
            fillers,
        });
    }
    Ok(Retention {
        topic: topic.to_owned(),
        partitions: out,
    })
}
