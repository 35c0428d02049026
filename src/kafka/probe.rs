//! The end-to-end probe of one link, on its own thread.
//!
//! Every `interval` a producer on the source cluster writes one small record to every
//! partition of the probe topic: `clusterlink-probe v1 <instance id> <sequence> <send time ms>`
//! (key: the instance id). A consumer on the destination reads the probe topic's mirror —
//! assigned partitions from their high watermark at start, no consumer group — and for the
//! records of this instance observes now − send time in the latency histogram (and shows the
//! last one on the status page, through the [`crate::status::StatusStore`]). A record not
//! received within the SLA counts as lost (a late arrival still counts as received and is
//! observed, in the top buckets). Records of other instances (exporter replicas sharing the
//! topic) are ignored.
//!
//! The measurer tells a probe whether to send ([`ProbeHandle::set_sending`], from each REST
//! snapshot): once the probe topic's mirror is promoted or failed over (`PENDING_STOPPED`,
//! `STOPPED`) the probe stops writing to the old source, whose records would never be
//! mirrored (and would read as writes to the old source, or as lost probe records); the
//! records then outstanding are dropped, not counted as lost. It sends again if the mirror
//! topic is mirroring again (created anew). Nor does it send while its source or destination
//! connection reaches another Kafka cluster than expected (`kafka/identity.rs`): its records
//! would go to, or be read from, the wrong cluster.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use prometheus_client::metrics::histogram::Histogram;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::{Offset, TopicPartitionList};

use super::metrics::ProbeLabels;
use super::plan::lag_seconds;
use super::{
    error_reason, is_group_refusal, ClientKind, Connection, KafkaErrorReason, MeasurerOutputs,
    StatsContext,
};
use crate::config::ProbeConfig;
use crate::supervise::{self, Failure, RestartBackoff, StopSignal, Stops, Worker};
use crate::util::{lock, unix_ms, Throttle};

/// What a probe measures.
#[derive(Clone, Debug)]
pub(crate) struct ProbeTarget {
    /// The probe's configuration.
    pub(crate) config: ProbeConfig,
    /// The probe topic's mirror on the destination.
    pub(crate) mirror_topic: String,
    /// The link's source cluster (where the producer writes).
    pub(crate) source: Connection,
    /// The destination cluster (where the consumer reads the mirror).
    pub(crate) destination: Connection,
}

/// A running probe. Dropping the handle stops the probe (its own stop signal only) and waits
/// for its thread.
#[derive(Debug)]
pub(crate) struct ProbeHandle {
    stop: StopSignal,
    thread: Option<JoinHandle<()>>,
    /// Whether the probe sends (shared with its thread).
    sending: Arc<AtomicBool>,
    mirror_topic: String,
}

impl ProbeHandle {
    /// The probe topic's mirror on the destination.
    pub(crate) fn mirror_topic(&self) -> &str {
        &self.mirror_topic
    }

    /// Whether the probe sends records from its next round on.
    pub(crate) fn set_sending(&self, sending: bool) {
        self.sending.store(sending, Ordering::Relaxed);
    }
}

impl Drop for ProbeHandle {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Records sent and not yet received: (partition, sequence) → send time (ms).
type Outstanding = Arc<Mutex<HashMap<(i32, u64), i64>>>;

/// Producer context: delivery reports update the counters; statistics and logs as for every
/// exporter client.
struct ProbeProducerContext {
    stats: StatsContext,
    outstanding: Outstanding,
    outputs: MeasurerOutputs,
    labels: ProbeLabels,
    source: Connection,
    /// At most one "not acknowledged" line a minute: during a source outage every record fails.
    unacknowledged_log: Mutex<Throttle>,
}

impl ClientContext for ProbeProducerContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.stats.log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.stats.error(error, reason);
    }

    fn stats_raw(&self, statistics: &[u8]) {
        self.stats.stats_raw(statistics);
    }
}

impl ProducerContext for ProbeProducerContext {
    type DeliveryOpaque = Box<(i32, u64)>;

    fn delivery(&self, result: &DeliveryResult<'_>, id: Box<(i32, u64)>) {
        let p = &self.outputs.probe;
        match result {
            Ok(_) => {
                p.sent.get_or_create(&self.labels).inc();
            }
            Err((e, _)) => {
                p.send_failures.get_or_create(&self.labels).inc();
                let d = self.source.diagnose(e);
                self.source
                    .report(&self.outputs.metrics, "sending a probe record", &d);
                lock(&self.outstanding).remove(&id);
                let mut log = lock(&self.unacknowledged_log);
                if let Some(held_back) = log.check(Instant::now()) {
                    tracing::warn!(kafka_cluster = %self.labels.kafka_cluster, link = %self.labels.link, reason = %d.reason, error = %d.detail, advice = d.advice, held_back, "probe record not acknowledged by the source (at most one line a minute; held_back: the failures since the last line)");
                }
            }
        }
    }
}

/// Starts the probe thread under a supervisor: a panic, or a failure to create its clients,
/// is logged and counted (`clusterlink_exporter_worker_restarts_total{worker="probe"}`) and
/// the probe starts again after a back-off. It stops when its handle is dropped or `shutdown`
/// is signalled.
pub(crate) fn spawn(
    target: ProbeTarget,
    sending: bool,
    outputs: MeasurerOutputs,
    shutdown: &StopSignal,
) -> std::io::Result<ProbeHandle> {
    let stops = Stops::under(shutdown);
    let own = stops.own.clone();
    let name = format!("probe-{}", target.config.link);
    let sending = Arc::new(AtomicBool::new(sending));
    let mirror_topic = target.mirror_topic.clone();
    let shared = sending.clone();
    let thread = std::thread::Builder::new()
        .name(name)
        .spawn(move || supervise(target, shared, outputs, stops))?;
    Ok(ProbeHandle {
        stop: own,
        thread: Some(thread),
        sending,
        mirror_topic,
    })
}

/// The probe thread's body.
fn supervise(
    target: ProbeTarget,
    sending: Arc<AtomicBool>,
    outputs: MeasurerOutputs,
    stops: Stops,
) {
    let cluster = &target.destination.kafka_cluster;
    let restarts = outputs.restarts.counter(cluster, Worker::Probe);
    let mut backoff = RestartBackoff::default();
    loop {
        let started = Instant::now();
        let outcome = supervise::catch(|| {
            Probe::new(target.clone(), outputs.clone(), stops.clone())
                .and_then(|mut p| p.run(&sending))
        });
        if stops.is_stopped() {
            return;
        }
        let failure = match outcome {
            Ok(Ok(())) => Failure::Exited("the probe loop returned".into()),
            Ok(Err(e)) => Failure::Exited(format!("cannot create its clients: {e}")),
            Err(failure) => failure,
        };
        let wait = backoff.next(started.elapsed());
        restarts.inc();
        tracing::error!(
            kafka_cluster = %cluster,
            worker = %Worker::Probe,
            link = %target.config.link,
            error = %failure,
            restart_in_ms = wait.as_millis() as u64,
            "worker failed; restarting it"
        );
        if stops.sleep(wait) {
            return;
        }
    }
}

struct Probe {
    target: ProbeTarget,
    outputs: MeasurerOutputs,
    stops: Stops,
    labels: ProbeLabels,
    producer: BaseProducer<ProbeProducerContext>,
    consumer: BaseConsumer<StatsContext>,
    outstanding: Outstanding,
    /// This probe's latency histogram (one lookup at start, not one per record).
    latency: Arc<Histogram>,
    partitions: i32,
    sequence: u64,
    /// At most one "not queued" line a minute.
    unqueued_log: Throttle,
    /// At most one "cannot read the mirror" line a minute.
    refused_log: Throttle,
}

/// What the probe's metadata request is, on the status page.
const METADATA: &str = "reading the probe topic's metadata";

/// Parses a probe record's value: (instance id, sequence, send time ms).
pub(crate) fn parse_record(value: &[u8]) -> Option<(&str, u64, i64)> {
    let text = std::str::from_utf8(value).ok()?;
    let mut parts = text.split(' ');
    if parts.next()? != "clusterlink-probe" || parts.next()? != "v1" {
        return None;
    }
    let instance = parts.next()?;
    let sequence = parts.next()?.parse().ok()?;
    let sent = parts.next()?.parse().ok()?;
    Some((instance, sequence, sent))
}

/// A probe record's value.
pub(crate) fn format_record(instance: &str, sequence: u64, sent_ms: i64) -> String {
    format!("clusterlink-probe v1 {instance} {sequence} {sent_ms}")
}

impl Probe {
    fn new(
        target: ProbeTarget,
        outputs: MeasurerOutputs,
        stops: Stops,
    ) -> Result<Self, KafkaError> {
        let labels = ProbeLabels {
            kafka_cluster: target.destination.kafka_cluster.clone(),
            link: target.config.link.clone(),
        };
        let p = &outputs.probe;
        for counter in [&p.sent, &p.send_failures, &p.received, &p.lost] {
            counter.get_or_create(&labels).inc_by(0);
        }
        let sla = target.config.sla.as_secs_f64();
        p.sla.get_or_create(&labels).set(sla);
        let latency = p.latency.get_or_create(&labels, sla);
        let outstanding: Outstanding = Arc::default();
        let producer = target
            .source
            .client_config(ClientKind::ProbeProducer)
            .set("acks", "all")
            .set("linger.ms", "0")
            // A record the source does not take within the SLA fails instead of queueing.
            .set(
                "message.timeout.ms",
                target.config.sla.as_millis().max(1000).to_string(),
            )
            .create_with_context(ProbeProducerContext {
                stats: target
                    .source
                    .stats_context(&outputs.metrics, ClientKind::ProbeProducer),
                outstanding: outstanding.clone(),
                outputs: outputs.clone(),
                labels: labels.clone(),
                source: target.source.clone(),
                unacknowledged_log: Mutex::new(Throttle::default()),
            })?;
        let consumer = target.destination.consumer(
            &outputs.metrics,
            ClientKind::ProbeConsumer,
            Some(super::READER_GROUP_ID),
            &[("fetch.wait.max.ms", "50"), ("auto.offset.reset", "latest")],
        )?;
        Ok(Self {
            target,
            outputs,
            stops,
            labels,
            producer,
            consumer,
            outstanding,
            latency,
            partitions: 0,
            sequence: 0,
            unqueued_log: Throttle::default(),
            refused_log: Throttle::default(),
        })
    }

    /// Partition count of the probe topic on the source; (re)assigns the consumer from the
    /// mirror's high watermarks when it changes.
    fn refresh_partitions(&mut self) {
        let topic = &self.target.config.topic;
        let timeout = self.target.source.config.request_timeout;
        let source = &self.target.source;
        let count = match self.producer.client().fetch_metadata(Some(topic), timeout) {
            Ok(md) => match md.topics().iter().find(|t| t.name() == topic) {
                Some(t) => match t.error() {
                    None => Some(t.partitions().len() as i32),
                    Some(code) => {
                        let e = KafkaError::MetadataFetch(code.into());
                        let d = source.diagnose(&e);
                        if d.reason != KafkaErrorReason::UnknownTopic {
                            source.report(&self.outputs.metrics, METADATA, &d);
                            tracing::warn!(kafka_cluster = %self.labels.kafka_cluster, link = %self.labels.link, topic, reason = %d.reason, error = %d.detail, advice = d.advice, "probe: cannot read the probe topic's metadata");
                            return;
                        }
                        None
                    }
                },
                None => None,
            },
            Err(e) => {
                let d = source.diagnose(&e);
                source.report(&self.outputs.metrics, METADATA, &d);
                tracing::warn!(kafka_cluster = %self.labels.kafka_cluster, link = %self.labels.link, topic, reason = %d.reason, error = %d.detail, advice = d.advice, "probe: cannot read the probe topic's metadata");
                return;
            }
        };
        let Some(count) = count.filter(|c| *c > 0) else {
            tracing::warn!(kafka_cluster = %self.labels.kafka_cluster, link = %self.labels.link, topic, "probe: the probe topic does not exist on the source cluster; create it and mirror it (see the README)");
            return;
        };
        if count == self.partitions {
            return;
        }
        let mirror = &self.target.mirror_topic;
        let mut tpl = TopicPartitionList::new();
        for p in 0..count {
            let _ = tpl.add_partition_offset(mirror, p, Offset::End);
        }
        // Start exactly at the current high watermarks, so no probe record sent from now on
        // is skipped while the consumer resolves "latest".
        let start = match self
            .consumer
            .offsets_for_times(tpl, self.target.destination.config.request_timeout)
        {
            Ok(t) => t,
            Err(e) => {
                let d = self.target.destination.diagnose(&e);
                self.target.destination.report(
                    &self.outputs.metrics,
                    "reading the probe mirror's high watermarks",
                    &d,
                );
                tracing::warn!(kafka_cluster = %self.labels.kafka_cluster, link = %self.labels.link, mirror_topic = %mirror, reason = %d.reason, error = %d.detail, advice = d.advice, "probe: cannot read the mirror's high watermarks");
                return;
            }
        };
        let mut assignment = TopicPartitionList::new();
        for e in start.elements() {
            let offset = match e.offset() {
                Offset::Offset(o) if e.error().is_ok() => Offset::Offset(o),
                _ => Offset::End,
            };
            let _ = assignment.add_partition_offset(e.topic(), e.partition(), offset);
        }
        if let Err(e) = self.consumer.assign(&assignment) {
            tracing::warn!(error = %e, "probe: assign failed");
            return;
        }
        self.partitions = count;
    }

    fn run(&mut self, sending: &AtomicBool) -> Result<(), KafkaError> {
        let interval = self.target.config.interval;
        let sla_ms = self.target.config.sla.as_millis() as i64;
        let mut next_send = Instant::now();
        let mut next_refresh = Instant::now();
        let mut was_sending = true;
        while !self.stops.is_stopped() {
            supervise::checkpoint(&self.labels.kafka_cluster, Worker::Probe);
            let now = Instant::now();
            if now >= next_refresh {
                self.refresh_partitions();
                next_refresh = now + Duration::from_secs(if self.partitions == 0 { 5 } else { 60 });
            }
            let send = sending.load(Ordering::Relaxed);
            if send != was_sending {
                self.sending_changed(send);
                was_sending = send;
            }
            if now >= next_send && self.partitions > 0 {
                if send {
                    self.send_round();
                }
                next_send += interval;
                if next_send < now {
                    next_send = now + interval;
                }
            }
            self.producer.poll(Duration::ZERO);
            self.receive(Duration::from_millis(20));
            self.expire(sla_ms);
        }
        self.producer
            .purge(rdkafka::producer::PurgeConfig::default().queue().inflight());
        self.producer.poll(Duration::ZERO);
        Ok(())
    }

    /// The mirror topic was promoted or failed over, or a connection reaches another cluster
    /// than expected (`sending` false), or that ended: logged; on a stop the records
    /// outstanding are dropped (the mirror no longer receives them: not lost by the link).
    fn sending_changed(&mut self, sending: bool) {
        let (link, mirror_topic) = (&self.labels.link, &self.target.mirror_topic);
        if sending {
            tracing::info!(kafka_cluster = %self.labels.kafka_cluster, %link, %mirror_topic, "probe: sending probe records again");
        } else {
            lock(&self.outstanding).clear();
            tracing::info!(kafka_cluster = %self.labels.kafka_cluster, %link, %mirror_topic, "probe: no more probe records: the probe topic's mirror was promoted or failed over (no records to the old source), or a connection of the probe reaches another Kafka cluster than expected");
        }
    }

    fn send_round(&mut self) {
        let instance = self.target.config.instance_id.clone();
        for partition in 0..self.partitions {
            self.sequence = self.sequence.wrapping_add(1);
            let sent = unix_ms();
            let value = format_record(&instance, self.sequence, sent);
            let id = (partition, self.sequence);
            lock(&self.outstanding).insert(id, sent);
            let record = BaseRecord::with_opaque_to(&self.target.config.topic, Box::new(id))
                .partition(partition)
                .key(instance.as_bytes())
                .payload(value.as_bytes())
                .timestamp(sent);
            if let Err((e, _)) = self.producer.send(record) {
                lock(&self.outstanding).remove(&id);
                self.outputs
                    .probe
                    .send_failures
                    .get_or_create(&self.labels)
                    .inc();
                if let Some(held_back) = self.unqueued_log.check(Instant::now()) {
                    tracing::warn!(kafka_cluster = %self.labels.kafka_cluster, link = %self.labels.link, error = %e, held_back, "probe record not queued (at most one line a minute; held_back: the failures since the last line)");
                }
            }
        }
    }

    fn receive(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        let instance = self.target.config.instance_id.as_str();
        let p = &self.outputs.probe;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.consumer.poll(left) {
                Some(Ok(m)) => {
                    let Some((from, sequence, sent)) = m.payload().and_then(parse_record) else {
                        continue;
                    };
                    if from != instance {
                        continue; // another exporter's record
                    }
                    let now = unix_ms();
                    lock(&self.outstanding).remove(&(m.partition(), sequence));
                    // `sent` comes from the record: any i64.
                    let latency = lag_seconds(now, sent);
                    self.latency.observe(latency);
                    p.received.get_or_create(&self.labels).inc();
                    p.last_received
                        .get_or_create(&self.labels)
                        .set(now as f64 / 1000.0);
                    let key = (self.labels.kafka_cluster.clone(), self.labels.link.clone());
                    self.outputs.status.set_probe_received(key, latency, now);
                }
                // An ACL refusing the mirror's records; not the lookup of the reader group's
                // coordinator, which the probe never uses.
                Some(Err(e))
                    if !is_group_refusal(&e)
                        && error_reason(&e) == KafkaErrorReason::Authorization =>
                {
                    let destination = &self.target.destination;
                    let d = destination.diagnose(&e);
                    destination.report(&self.outputs.metrics, "reading the probe mirror", &d);
                    if let Some(held_back) = self.refused_log.check(Instant::now()) {
                        tracing::warn!(kafka_cluster = %self.labels.kafka_cluster, link = %self.labels.link, mirror_topic = %self.target.mirror_topic, reason = %d.reason, error = %d.detail, advice = d.advice, held_back, "probe: cannot read the probe topic's mirror (at most one line a minute; held_back: the failures since the last line)");
                    }
                }
                Some(Err(e)) => {
                    tracing::debug!(error = %e, link = %self.labels.link, "probe consumer error");
                }
                None => {}
            }
            if Instant::now() >= deadline {
                break;
            }
        }
    }

    /// Counts records older than the SLA as lost.
    fn expire(&self, sla_ms: i64) {
        let now = unix_ms();
        let mut outstanding = lock(&self.outstanding);
        let before = outstanding.len();
        outstanding.retain(|_, sent| now - *sent <= sla_ms);
        let lost = before - outstanding.len();
        if lost > 0 {
            self.outputs
                .probe
                .lost
                .get_or_create(&self.labels)
                .inc_by(lost as u64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_records_round_trip() {
        let v = format_record("host-a1b2c3", 42, 1_700_000_000_123);
        assert_eq!(
            parse_record(v.as_bytes()),
            Some(("host-a1b2c3", 42, 1_700_000_000_123))
        );
        assert_eq!(parse_record(b"something else"), None);
        assert_eq!(parse_record(b"clusterlink-probe v2 a 1 2"), None);
        assert_eq!(parse_record(&[0xff, 0xfe]), None);
    }
}
