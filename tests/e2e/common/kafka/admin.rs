//! Setting up a test broker through its PLAINTEXT listener (principal `ANONYMOUS`, a super
//! user): topics, records with chosen timestamps, committed group offsets, high watermarks,
//! and ACLs.
//!
//! The functions block (each well under a second on a running broker) and panic on failure.
//! ACLs go through librdkafka's Admin API in C (`rd_kafka_CreateAcls`, `rd_kafka_DeleteAcls`,
//! `rd_kafka_DescribeAcls`; rust-rdkafka 0.39 has no ACL API): no JVM per call. Each call
//! returns once the broker's authorizer shows the change (DescribeAcls), so a client's next
//! request sees it.

use std::ffi::{c_char, CStr, CString};
use std::time::{Duration, Instant};

use futures::executor::block_on;
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, NewPartitions, NewTopic, ResourceSpecifier,
    TopicReplication,
};
use rdkafka::bindings as rd;
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseProducer, FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use super::broker::Broker;

const TIMEOUT: Duration = Duration::from_secs(30);

fn admin(broker: &Broker) -> AdminClient<DefaultClientContext> {
    broker
        .admin_config()
        .create()
        .expect("rdkafka admin client")
}

/// Creates `topic` with `partitions` partitions (replication factor 1) and waits until every
/// partition has a leader. Panics if it exists already.
pub fn create_topic(broker: &Broker, topic: &str, partitions: i32) {
    create_topic_with(broker, topic, partitions, &[]);
}

/// [`create_topic`] with topic configurations (`cleanup.policy`, `retention.ms`, …).
pub fn create_topic_with(broker: &Broker, topic: &str, partitions: i32, configs: &[(&str, &str)]) {
    let admin = admin(broker);
    let mut new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        new = new.set(k, v);
    }
    let results = block_on(admin.create_topics(
        [&new],
        &AdminOptions::new().operation_timeout(Some(TIMEOUT)),
    ))
    .unwrap_or_else(|e| panic!("create topic {topic} on {}: {e}", broker.name));
    for result in results {
        if let Err((name, code)) = result {
            panic!("create topic {name} on {}: {code:?}", broker.name);
        }
    }
    let begun = Instant::now();
    loop {
        let metadata = admin
            .inner()
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("metadata of {topic} on {}: {e}", broker.name));
        let ready = metadata.topics().iter().any(|t| {
            t.name() == topic
                && t.error().is_none()
                && t.partitions().len() == partitions as usize
                && t.partitions().iter().all(|p| p.leader() >= 0)
        });
        if ready {
            return;
        }
        assert!(
            begun.elapsed() < TIMEOUT,
            "topic {topic} on {} has no leaders",
            broker.name
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Deletes `topic`.
pub fn delete_topic(broker: &Broker, topic: &str) {
    let admin = admin(broker);
    let results = block_on(admin.delete_topics(
        &[topic],
        &AdminOptions::new().operation_timeout(Some(TIMEOUT)),
    ))
    .unwrap_or_else(|e| panic!("delete topic {topic} on {}: {e}", broker.name));
    for result in results {
        if let Err((name, code)) = result {
            panic!("delete topic {name} on {}: {code:?}", broker.name);
        }
    }
}

/// Grows `topic` to `partitions` partitions (CreatePartitions) and waits until every partition
/// has a leader.
pub fn create_partitions(broker: &Broker, topic: &str, partitions: i32) {
    let admin = admin(broker);
    let new = NewPartitions::new(topic, partitions as usize);
    let results = block_on(admin.create_partitions(
        [&new],
        &AdminOptions::new().operation_timeout(Some(TIMEOUT)),
    ))
    .unwrap_or_else(|e| panic!("create partitions of {topic} on {}: {e}", broker.name));
    for result in results {
        if let Err((name, code)) = result {
            panic!("create partitions of {name} on {}: {code:?}", broker.name);
        }
    }
    let begun = Instant::now();
    while partition_count(broker, topic) != partitions {
        assert!(
            begun.elapsed() < TIMEOUT,
            "{topic} on {} did not grow",
            broker.name
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sets `topic`'s configs to `configs` (AlterConfigs: the configs not named go back to their
/// defaults).
pub fn set_topic_configs(broker: &Broker, topic: &str, configs: &[(&str, &str)]) {
    let admin = admin(broker);
    let mut alter = AlterConfig::new(ResourceSpecifier::Topic(topic));
    for (k, v) in configs {
        alter = alter.set(k, v);
    }
    let results = block_on(admin.alter_configs(
        [&alter],
        &AdminOptions::new().request_timeout(Some(TIMEOUT)),
    ))
    .unwrap_or_else(|e| panic!("alter configs of {topic} on {}: {e}", broker.name));
    for result in results {
        if let Err((name, code)) = result {
            panic!("alter configs of {name:?} on {}: {code:?}", broker.name);
        }
    }
}

/// Writes one record per timestamp (ms since the epoch, CreateTime) to `topic`'s
/// `partition`, in order, and waits until all are acknowledged (acks=all). Returns the
/// offset of each record.
pub fn produce(broker: &Broker, topic: &str, partition: i32, timestamps_ms: &[i64]) -> Vec<i64> {
    let producer: FutureProducer = broker
        .admin_config()
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()
        .expect("rdkafka producer");
    let futures: Vec<_> = timestamps_ms
        .iter()
        .enumerate()
        .map(|(i, &ts)| {
            let payload = format!("record-{i}");
            let record = FutureRecord::<(), _>::to(topic)
                .partition(partition)
                .payload(&payload)
                .timestamp(ts);
            producer
                .send_result(record)
                .unwrap_or_else(|(e, _)| panic!("queue a record for {topic}: {e}"))
        })
        .collect();
    let offsets = futures
        .into_iter()
        .map(|f| match block_on(f) {
            Ok(Ok(delivery)) => delivery.offset,
            Ok(Err((e, _))) => panic!("produce to {topic}/{partition} on {}: {e}", broker.name),
            Err(_) => panic!("produce to {topic}/{partition}: delivery future cancelled"),
        })
        .collect();
    let _ = producer.flush(TIMEOUT);
    offsets
}

/// Writes `count` records to `topic`'s `partition`, the first with timestamp `first_ms`, each
/// next one `step_ms` later. Returns the partition's high watermark after them.
pub fn produce_n(
    broker: &Broker,
    topic: &str,
    partition: i32,
    count: usize,
    first_ms: i64,
    step_ms: i64,
) -> i64 {
    let timestamps: Vec<i64> = (0..count as i64).map(|i| first_ms + i * step_ms).collect();
    produce(broker, topic, partition, &timestamps);
    high_watermarks(broker, topic)[partition as usize]
}

fn consumer(broker: &Broker, group: &str) -> BaseConsumer {
    broker
        .admin_config()
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("rdkafka consumer")
}

/// Commits `group`'s offsets (`(topic, partition, offset)`) as a consumer of the group that
/// never subscribes (the group stays empty: offsets can be committed again).
pub fn commit_offsets(broker: &Broker, group: &str, offsets: &[(&str, i32, i64)]) {
    let consumer = consumer(broker, group);
    let mut tpl = TopicPartitionList::new();
    for &(topic, partition, offset) in offsets {
        tpl.add_partition_offset(topic, partition, Offset::Offset(offset))
            .expect("offset");
    }
    consumer
        .commit(&tpl, CommitMode::Sync)
        .unwrap_or_else(|e| panic!("commit {group}'s offsets on {}: {e}", broker.name));
}

/// `group`'s committed offset of each partition of `topic` (`None`: none committed).
pub fn committed_offsets(broker: &Broker, group: &str, topic: &str) -> Vec<Option<i64>> {
    let consumer = consumer(broker, group);
    let mut tpl = TopicPartitionList::new();
    for partition in 0..partition_count(broker, topic) {
        tpl.add_partition(topic, partition);
    }
    let committed = consumer
        .committed_offsets(tpl, TIMEOUT)
        .unwrap_or_else(|e| panic!("{group}'s offsets on {}: {e}", broker.name));
    committed
        .elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        })
        .collect()
}

/// The number of partitions of `topic`.
pub fn partition_count(broker: &Broker, topic: &str) -> i32 {
    let producer: BaseProducer = broker.admin_config().create().expect("rdkafka client");
    let metadata = producer
        .client()
        .fetch_metadata(Some(topic), TIMEOUT)
        .unwrap_or_else(|e| panic!("metadata of {topic} on {}: {e}", broker.name));
    let t = &metadata.topics()[0];
    assert!(
        t.error().is_none(),
        "topic {topic} on {}: {:?}",
        broker.name,
        t.error()
    );
    t.partitions().len() as i32
}

/// The high watermark of each partition of `topic`, by partition.
pub fn high_watermarks(broker: &Broker, topic: &str) -> Vec<i64> {
    let consumer = consumer(broker, "cle-test-watermarks");
    (0..partition_count(broker, topic))
        .map(|p| {
            consumer
                .fetch_watermarks(topic, p, TIMEOUT)
                .unwrap_or_else(|e| panic!("watermarks of {topic}/{p} on {}: {e}", broker.name))
                .1
        })
        .collect()
}

// --- ACLs -------------------------------------------------------------------------------

/// An ACL operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclOperation {
    All,
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    ClusterAction,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
}

/// A resource type of ACLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    Topic,
    Group,
    /// The cluster: its name is always [`CLUSTER`].
    Cluster,
    TransactionalId,
}

/// The name of the cluster resource.
pub const CLUSTER: &str = "kafka-cluster";

/// How an ACL's resource name matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternType {
    Literal,
    Prefixed,
}

/// An ALLOW ACL, for any host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    /// `User:<name>`
    pub principal: String,
    pub operation: AclOperation,
    pub resource_type: ResourceType,
    pub name: String,
    pub pattern: PatternType,
}

impl Acl {
    pub fn new(
        principal: &str,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
        pattern: PatternType,
    ) -> Self {
        Self {
            principal: principal.to_owned(),
            operation,
            resource_type,
            name: name.to_owned(),
            pattern,
        }
    }

    fn c_operation(&self) -> rd::rd_kafka_AclOperation_t {
        use rd::rd_kafka_AclOperation_t::*;
        match self.operation {
            AclOperation::All => RD_KAFKA_ACL_OPERATION_ALL,
            AclOperation::Read => RD_KAFKA_ACL_OPERATION_READ,
            AclOperation::Write => RD_KAFKA_ACL_OPERATION_WRITE,
            AclOperation::Create => RD_KAFKA_ACL_OPERATION_CREATE,
            AclOperation::Delete => RD_KAFKA_ACL_OPERATION_DELETE,
            AclOperation::Alter => RD_KAFKA_ACL_OPERATION_ALTER,
            AclOperation::Describe => RD_KAFKA_ACL_OPERATION_DESCRIBE,
            AclOperation::ClusterAction => RD_KAFKA_ACL_OPERATION_CLUSTER_ACTION,
            AclOperation::DescribeConfigs => RD_KAFKA_ACL_OPERATION_DESCRIBE_CONFIGS,
            AclOperation::AlterConfigs => RD_KAFKA_ACL_OPERATION_ALTER_CONFIGS,
            AclOperation::IdempotentWrite => RD_KAFKA_ACL_OPERATION_IDEMPOTENT_WRITE,
        }
    }

    fn c_resource_type(&self) -> rd::rd_kafka_ResourceType_t {
        use rd::rd_kafka_ResourceType_t::*;
        match self.resource_type {
            ResourceType::Topic => RD_KAFKA_RESOURCE_TOPIC,
            ResourceType::Group => RD_KAFKA_RESOURCE_GROUP,
            // librdkafka's BROKER is Kafka's CLUSTER (resource type 4).
            ResourceType::Cluster => RD_KAFKA_RESOURCE_BROKER,
            ResourceType::TransactionalId => RD_KAFKA_RESOURCE_TRANSACTIONAL_ID,
        }
    }

    fn c_pattern(&self) -> rd::rd_kafka_ResourcePatternType_t {
        match self.pattern {
            PatternType::Literal => {
                rd::rd_kafka_ResourcePatternType_t::RD_KAFKA_RESOURCE_PATTERN_LITERAL
            }
            PatternType::Prefixed => {
                rd::rd_kafka_ResourcePatternType_t::RD_KAFKA_RESOURCE_PATTERN_PREFIXED
            }
        }
    }

    /// A new `rd_kafka_AclBinding_t` (also what a filter is) matching exactly this ACL.
    fn binding(&self) -> Result<*mut rd::rd_kafka_AclBinding_t, String> {
        let name = CString::new(self.name.as_str()).map_err(|e| e.to_string())?;
        let principal = CString::new(self.principal.as_str()).map_err(|e| e.to_string())?;
        let host = CString::new("*").unwrap();
        let mut errstr = [0 as c_char; 512];
        // SAFETY: valid C strings for the call's duration; librdkafka copies them.
        let binding = unsafe {
            rd::rd_kafka_AclBinding_new(
                self.c_resource_type(),
                name.as_ptr(),
                self.c_pattern(),
                principal.as_ptr(),
                host.as_ptr(),
                self.c_operation(),
                rd::rd_kafka_AclPermissionType_t::RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW,
                errstr.as_mut_ptr(),
                errstr.len(),
            )
        };
        if binding.is_null() {
            // SAFETY: librdkafka wrote a NUL-terminated message.
            let msg = unsafe { CStr::from_ptr(errstr.as_ptr()) };
            return Err(format!("ACL {self:?}: {}", msg.to_string_lossy()));
        }
        Ok(binding)
    }
}

/// Grants `principal` (`User:<name>`) `operation` on a resource (ALLOW, any host).
/// Idempotent.
pub fn add_acl(
    broker: &Broker,
    principal: &str,
    operation: AclOperation,
    resource_type: ResourceType,
    name: &str,
    pattern: PatternType,
) {
    add_acls(
        broker,
        &[Acl::new(principal, operation, resource_type, name, pattern)],
    );
}

/// Removes an ACL [`add_acl`] made. Idempotent.
pub fn remove_acl(
    broker: &Broker,
    principal: &str,
    operation: AclOperation,
    resource_type: ResourceType,
    name: &str,
    pattern: PatternType,
) {
    remove_acls(
        broker,
        &[Acl::new(principal, operation, resource_type, name, pattern)],
    );
}

/// Adds several ACLs in one request; returns when the broker applies all of them.
pub fn add_acls(broker: &Broker, acls: &[Acl]) {
    let client = AclClient::new(broker);
    client
        .create(acls)
        .unwrap_or_else(|e| panic!("create ACLs on {}: {e}", broker.name));
    client.wait_until(acls, true);
}

/// Removes several ACLs in one request; returns when the broker no longer applies them.
pub fn remove_acls(broker: &Broker, acls: &[Acl]) {
    let client = AclClient::new(broker);
    client
        .delete(acls)
        .unwrap_or_else(|e| panic!("delete ACLs on {}: {e}", broker.name));
    client.wait_until(acls, false);
}

/// Whether the broker's authorizer holds `acl` (DescribeAcls).
pub fn has_acl(broker: &Broker, acl: &Acl) -> bool {
    AclClient::new(broker)
        .count(acl)
        .unwrap_or_else(|e| panic!("describe ACLs on {}: {e}", broker.name))
        > 0
}

/// An rdkafka handle for the C Admin API, with a queue for its results.
struct AclClient<'a> {
    broker: &'a Broker,
    producer: BaseProducer,
}

/// An admin result event, destroyed on drop.
struct Event(*mut rd::rd_kafka_event_t);

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: an event returned by rd_kafka_queue_poll, destroyed once.
        unsafe { rd::rd_kafka_event_destroy(self.0) }
    }
}

/// The message of an `rd_kafka_error_t` if it is an error.
///
/// # Safety
/// `error` is null or a valid `rd_kafka_error_t`.
unsafe fn error_text(error: *const rd::rd_kafka_error_t) -> Option<String> {
    if error.is_null()
        || rd::rd_kafka_error_code(error) == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
    {
        return None;
    }
    Some(
        CStr::from_ptr(rd::rd_kafka_error_string(error))
            .to_string_lossy()
            .into_owned(),
    )
}

impl<'a> AclClient<'a> {
    fn new(broker: &'a Broker) -> Self {
        let producer = broker.admin_config().create().expect("rdkafka client");
        Self { broker, producer }
    }

    /// Runs one admin call (`call(rk, options, queue)`) and returns its result event, or the
    /// request's error.
    fn call(
        &self,
        op: rd::rd_kafka_admin_op_t,
        call: impl FnOnce(
            *mut rd::rd_kafka_t,
            *mut rd::rd_kafka_AdminOptions_t,
            *mut rd::rd_kafka_queue_t,
        ),
    ) -> Result<Event, String> {
        let rk = self.producer.client().native_ptr();
        // SAFETY: rk is a live handle (self.producer); queue and options are destroyed here
        // after the result arrived (or the poll timed out: librdkafka keeps its own refs).
        unsafe {
            let queue = rd::rd_kafka_queue_new(rk);
            let options = rd::rd_kafka_AdminOptions_new(rk, op);
            let mut errstr = [0 as c_char; 512];
            rd::rd_kafka_AdminOptions_set_request_timeout(
                options,
                TIMEOUT.as_millis() as i32,
                errstr.as_mut_ptr(),
                errstr.len(),
            );
            call(rk, options, queue);
            let event = rd::rd_kafka_queue_poll(queue, TIMEOUT.as_millis() as i32 + 5000);
            rd::rd_kafka_AdminOptions_destroy(options);
            rd::rd_kafka_queue_destroy(queue);
            if event.is_null() {
                return Err("no answer".into());
            }
            let event = Event(event);
            if rd::rd_kafka_event_error(event.0)
                != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
            {
                let msg = CStr::from_ptr(rd::rd_kafka_event_error_string(event.0));
                return Err(msg.to_string_lossy().into_owned());
            }
            Ok(event)
        }
    }

    fn bindings(acls: &[Acl]) -> Result<Vec<*mut rd::rd_kafka_AclBinding_t>, String> {
        let mut bindings = Vec::new();
        for acl in acls {
            match acl.binding() {
                Ok(b) => bindings.push(b),
                Err(e) => {
                    Self::destroy(&mut bindings);
                    return Err(e);
                }
            }
        }
        Ok(bindings)
    }

    fn destroy(bindings: &mut Vec<*mut rd::rd_kafka_AclBinding_t>) {
        for b in bindings.drain(..) {
            // SAFETY: made by rd_kafka_AclBinding(Filter)_new, destroyed once.
            unsafe { rd::rd_kafka_AclBinding_destroy(b) }
        }
    }

    fn create(&self, acls: &[Acl]) -> Result<(), String> {
        let mut bindings = Self::bindings(acls)?;
        let result = self.call(
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATEACLS,
            |rk, options, queue| {
                // SAFETY: librdkafka copies the bindings.
                unsafe {
                    rd::rd_kafka_CreateAcls(
                        rk,
                        bindings.as_mut_ptr(),
                        bindings.len(),
                        options,
                        queue,
                    )
                }
            },
        );
        Self::destroy(&mut bindings);
        let event = result?;
        // SAFETY: a CreateAcls result event, alive while `event` is.
        unsafe {
            let result = rd::rd_kafka_event_CreateAcls_result(event.0);
            let mut n = 0;
            let results = rd::rd_kafka_CreateAcls_result_acls(result, &mut n);
            for i in 0..n {
                if let Some(e) = error_text(rd::rd_kafka_acl_result_error(*results.add(i))) {
                    return Err(format!("{:?}: {e}", acls.get(i)));
                }
            }
        }
        Ok(())
    }

    fn delete(&self, acls: &[Acl]) -> Result<(), String> {
        let mut filters = Self::bindings(acls)?;
        let result = self.call(
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DELETEACLS,
            |rk, options, queue| {
                // SAFETY: librdkafka copies the filters.
                unsafe {
                    rd::rd_kafka_DeleteAcls(rk, filters.as_mut_ptr(), filters.len(), options, queue)
                }
            },
        );
        Self::destroy(&mut filters);
        let event = result?;
        // SAFETY: a DeleteAcls result event, alive while `event` is.
        unsafe {
            let result = rd::rd_kafka_event_DeleteAcls_result(event.0);
            let mut n = 0;
            let responses = rd::rd_kafka_DeleteAcls_result_responses(result, &mut n);
            for i in 0..n {
                if let Some(e) = error_text(rd::rd_kafka_DeleteAcls_result_response_error(
                    *responses.add(i),
                )) {
                    return Err(format!("{:?}: {e}", acls.get(i)));
                }
            }
        }
        Ok(())
    }

    /// How many ACLs the broker's authorizer holds that match `acl` exactly.
    fn count(&self, acl: &Acl) -> Result<usize, String> {
        let mut filter = Self::bindings(std::slice::from_ref(acl))?;
        let result = self.call(
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBEACLS,
            |rk, options, queue| {
                // SAFETY: librdkafka copies the filter.
                unsafe { rd::rd_kafka_DescribeAcls(rk, filter[0], options, queue) }
            },
        );
        Self::destroy(&mut filter);
        let event = result?;
        // SAFETY: a DescribeAcls result event, alive while `event` is.
        unsafe {
            let result = rd::rd_kafka_event_DescribeAcls_result(event.0);
            let mut n = 0;
            rd::rd_kafka_DescribeAcls_result_acls(result, &mut n);
            Ok(n)
        }
    }

    /// Waits until each ACL is (`present`) or is not applied by the broker.
    fn wait_until(&self, acls: &[Acl], present: bool) {
        let begun = Instant::now();
        for acl in acls {
            loop {
                let count = self
                    .count(acl)
                    .unwrap_or_else(|e| panic!("describe ACLs on {}: {e}", self.broker.name));
                if (count > 0) == present {
                    break;
                }
                assert!(
                    begun.elapsed() < TIMEOUT,
                    "ACL {acl:?} on {}: still {}",
                    self.broker.name,
                    if present { "absent" } else { "present" }
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}
