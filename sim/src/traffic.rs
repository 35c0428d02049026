//! Load on the simulated clusters: steady producers and committing consumer groups, each on
//! its own thread, switched on and off by the `traffic` action.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use super::engine::{client_config, SimContext};
use super::scenario::{ConsumerSpec, TrafficSpec};
use super::{SimCore, SimError};

fn bootstrap_and_partitions(
    core: &SimCore,
    cluster: &str,
    topic: &str,
) -> Result<(String, i32), SimError> {
    let world = core.world();
    let c = world.cluster(cluster)?;
    let partitions = *c
        .topics
        .get(topic)
        .ok_or_else(|| SimError::Invalid(format!("no topic {topic:?} on {cluster}")))?;
    Ok((c.bootstrap_servers().to_owned(), partitions))
}

fn kafka_err(cluster: &str) -> impl Fn(rdkafka::error::KafkaError) -> SimError + '_ {
    move |e| SimError::Kafka {
        cluster: cluster.to_owned(),
        source: e.into(),
    }
}

/// Produces `records_per_second` records round-robin over the topic's partitions. Each record
/// has a key, a JSON value, a `sim-seq` header and the current time as timestamp.
pub(crate) fn spawn_producer(
    core: &SimCore,
    spec: &TrafficSpec,
    enabled: Arc<AtomicBool>,
) -> Result<(), SimError> {
    let (bootstrap, partitions) = bootstrap_and_partitions(core, &spec.cluster, &spec.topic)?;
    let producer: BaseProducer<SimContext> = client_config(&bootstrap)
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000")
        .create_with_context(SimContext::default())
        .map_err(kafka_err(&spec.cluster))?;
    let (stopping, topic, rate) = (
        core.stopping.clone(),
        spec.topic.clone(),
        spec.records_per_second,
    );
    thread::Builder::new()
        .name(format!("traffic-{}-{}", spec.cluster, spec.topic))
        .spawn(move || {
            // The schedule restarts whenever traffic is switched back on: no burst of the
            // records "missed" while it was off.
            let mut start = Instant::now();
            let mut scheduled: u64 = 0;
            let mut sent: u64 = 0;
            while !stopping.load(Ordering::Relaxed) {
                producer.poll(Duration::ZERO);
                if !enabled.load(Ordering::Relaxed) {
                    thread::sleep(Duration::from_millis(50));
                    start = Instant::now();
                    scheduled = sent;
                    continue;
                }
                // Catch up to the schedule, then sleep until the next record is due.
                let due = scheduled + (start.elapsed().as_secs_f64() * rate) as u64;
                while sent < due {
                    let seq = sent.to_string();
                    let key = format!("key-{}", sent % 100);
                    let value = format!(r#"{{"seq":{sent},"source":"{topic}"}}"#);
                    let headers = OwnedHeaders::new().insert(Header {
                        key: "sim-seq",
                        value: Some(&seq),
                    });
                    let record = BaseRecord::to(&topic)
                        .partition((sent % partitions as u64) as i32)
                        .key(&key)
                        .payload(&value)
                        .headers(headers)
                        .timestamp(super::model::now_ms());
                    if producer.send(record).is_err() {
                        break; // queue full or brokers down: retry on the next turn
                    }
                    sent += 1;
                }
                if sent < due {
                    // Brokers down: skip what could not be sent rather than bursting later.
                    sent = due;
                }
                thread::sleep(Duration::from_millis(20));
            }
            let _ = producer.flush(Duration::from_secs(1));
        })
        .expect("spawn traffic thread");
    Ok(())
}

/// Reads every partition of the topic as group `group` and commits its position about once a
/// second, like an application whose offsets a link syncs.
pub(crate) fn spawn_consumer(
    core: &SimCore,
    spec: &ConsumerSpec,
    enabled: Arc<AtomicBool>,
) -> Result<(), SimError> {
    let (bootstrap, partitions) = bootstrap_and_partitions(core, &spec.cluster, &spec.topic)?;
    let consumer: BaseConsumer<SimContext> = client_config(&bootstrap)
        .set("group.id", &spec.group)
        .set("enable.auto.commit", "false")
        .create_with_context(SimContext::default())
        .map_err(kafka_err(&spec.cluster))?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(&spec.topic, p, Offset::Beginning)
            .expect("valid offset");
    }
    consumer.assign(&tpl).map_err(kafka_err(&spec.cluster))?;
    let stopping = core.stopping.clone();
    thread::Builder::new()
        .name(format!("consumer-{}-{}", spec.cluster, spec.group))
        .spawn(move || {
            let mut last_commit = Instant::now();
            while !stopping.load(Ordering::Relaxed) {
                if !enabled.load(Ordering::Relaxed) {
                    thread::sleep(Duration::from_millis(50));
                    continue;
                }
                let _ = consumer.poll(Duration::from_millis(50));
                if last_commit.elapsed() >= Duration::from_secs(1) {
                    last_commit = Instant::now();
                    if let Ok(position) = consumer.position() {
                        let mut commit = TopicPartitionList::new();
                        for e in position.elements() {
                            if let Offset::Offset(o) = e.offset() {
                                let _ = commit.add_partition_offset(
                                    e.topic(),
                                    e.partition(),
                                    Offset::Offset(o),
                                );
                            }
                        }
                        if commit.count() > 0 {
                            let _ = consumer.commit(&commit, CommitMode::Async);
                        }
                    }
                }
            }
        })
        .expect("spawn consumer thread");
    Ok(())
}
