//! One simulated Kafka cluster: a librdkafka mock cluster (real Kafka protocol on loopback).
//!
//! `rdkafka::mocking::MockCluster` is `!Send`, so it lives on a dedicated thread for its whole
//! life; everybody else drives it through the cloneable, `Send` `MockKafka` handle, which
//! sends commands over a channel and waits for the answer. Only [`MockError`] is public: it is
//! the source of [`SimError::Kafka`](crate::SimError::Kafka).

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::types::RDKafkaRespErr;

/// What can go wrong driving a mock cluster.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// librdkafka refused a mock-cluster operation (creating the cluster or a topic, taking a
    /// broker down or up, setting a topic error).
    #[error("librdkafka mock cluster: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// The thread owning the mock cluster has stopped (it failed to start, or the simulator
    /// is shutting down), so the command got no answer.
    #[error("the mock cluster thread has stopped")]
    Gone,
    /// Asking the new cluster for its id over the Kafka protocol (a Metadata request, 10 s
    /// timeout) gave none.
    #[error("could not read the mock cluster's id over the Kafka protocol")]
    NoClusterId,
}

type Reply = mpsc::Sender<Result<(), MockError>>;

enum Command {
    CreateTopic {
        name: String,
        partitions: i32,
        reply: Reply,
    },
    BrokerDown {
        broker: i32,
        reply: Reply,
    },
    BrokerUp {
        broker: i32,
        reply: Reply,
    },
    TopicError {
        name: String,
        error: RDKafkaRespErr,
        reply: Reply,
    },
    Stop,
}

/// Handle to a mock cluster owned by its own thread. Cheap to clone; the cluster stops when
/// [`MockKafka::stop`] is called or every handle is dropped.
#[derive(Clone, Debug)]
pub(crate) struct MockKafka {
    commands: mpsc::Sender<Command>,
    bootstrap_servers: String,
    cluster_id: String,
    brokers: i32,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

impl MockKafka {
    /// Starts a mock cluster of `brokers` brokers (ids `1..=brokers`) on its own thread.
    pub(crate) fn start(name: &str, brokers: i32) -> Result<Self, MockError> {
        let (commands, receiver) = mpsc::channel::<Command>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<String, MockError>>();
        thread::Builder::new()
            .name(format!("mock-kafka-{name}"))
            .spawn(move || {
                let cluster = match MockCluster::new(brokers) {
                    Ok(cluster) => cluster,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(cluster.bootstrap_servers()));
                run_commands(&cluster, receiver);
            })
            .expect("spawn mock cluster thread");
        let bootstrap_servers = ready_rx.recv().map_err(|_| MockError::Gone)??;
        let cluster_id = read_cluster_id(&bootstrap_servers)?;
        Ok(Self {
            commands,
            bootstrap_servers,
            cluster_id,
            brokers,
        })
    }

    /// `host:port,...` of every broker.
    pub(crate) fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    /// The cluster id the brokers report in Metadata responses.
    pub(crate) fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// Number of brokers; their ids are `1..=brokers`.
    pub(crate) fn brokers(&self) -> i32 {
        self.brokers
    }

    /// Creates topic `name` with `partitions` partitions, replication factor 1.
    pub(crate) fn create_topic(&self, name: &str, partitions: i32) -> Result<(), MockError> {
        self.call(|reply| Command::CreateTopic {
            name: name.to_owned(),
            partitions,
            reply,
        })
    }

    /// Disconnects the broker and refuses new connections until [`MockKafka::broker_up`].
    pub(crate) fn broker_down(&self, broker: i32) -> Result<(), MockError> {
        self.call(|reply| Command::BrokerDown { broker, reply })
    }

    /// Lets the broker accept connections again after [`MockKafka::broker_down`].
    pub(crate) fn broker_up(&self, broker: i32) -> Result<(), MockError> {
        self.call(|reply| Command::BrokerUp { broker, reply })
    }

    /// Makes every Metadata response for `name` carry `error` (used to stand in for a topic
    /// deletion, which the mock cluster does not implement).
    pub(crate) fn topic_error(&self, name: &str, error: RDKafkaRespErr) -> Result<(), MockError> {
        self.call(|reply| Command::TopicError {
            name: name.to_owned(),
            error,
            reply,
        })
    }

    /// Stops the mock cluster thread (its brokers close their listeners).
    pub(crate) fn stop(&self) {
        let _ = self.commands.send(Command::Stop);
    }

    fn call(&self, command: impl FnOnce(Reply) -> Command) -> Result<(), MockError> {
        let (reply, answer) = mpsc::channel();
        self.commands
            .send(command(reply))
            .map_err(|_| MockError::Gone)?;
        answer.recv().map_err(|_| MockError::Gone)?
    }
}

fn run_commands(
    cluster: &MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    receiver: mpsc::Receiver<Command>,
) {
    while let Ok(command) = receiver.recv() {
        match command {
            Command::CreateTopic {
                name,
                partitions,
                reply,
            } => {
                let _ = reply.send(
                    cluster
                        .create_topic(&name, partitions, 1)
                        .map_err(Into::into),
                );
            }
            Command::BrokerDown { broker, reply } => {
                let _ = reply.send(cluster.broker_down(broker).map_err(Into::into));
            }
            Command::BrokerUp { broker, reply } => {
                let _ = reply.send(cluster.broker_up(broker).map_err(Into::into));
            }
            Command::TopicError { name, error, reply } => {
                let _ = reply.send(cluster.topic_error(&name, error).map_err(Into::into));
            }
            Command::Stop => break,
        }
    }
}

/// Reads the cluster id the way any Kafka client would: from a Metadata response.
fn read_cluster_id(bootstrap_servers: &str) -> Result<String, MockError> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap_servers)
        .create()?;
    consumer
        .client()
        .fetch_cluster_id(Duration::from_secs(10))
        .ok_or(MockError::NoClusterId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_reports_id_and_creates_topics() {
        let kafka = MockKafka::start("t", 3).unwrap();
        assert!(kafka.cluster_id().starts_with("mockCluster"));
        assert_eq!(kafka.bootstrap_servers().split(',').count(), 3);
        kafka.create_topic("t1", 4).unwrap();
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", kafka.bootstrap_servers())
            .create()
            .unwrap();
        let md = consumer
            .fetch_metadata(Some("t1"), Duration::from_secs(5))
            .unwrap();
        assert_eq!(md.topics()[0].partitions().len(), 4);
        kafka.stop();
    }
}
