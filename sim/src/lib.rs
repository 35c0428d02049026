//! Simulated Confluent clusters with live cluster links: the test ground and the demo backend.
//!
//! A [`Simulator`] runs a [`Scenario`]: each cluster is a librdkafka mock cluster (real Kafka
//! protocol on loopback, [`mock`]) with Confluent's REST API v3 in front of it (`rest.rs`,
//! served by `server.rs` over HTTP or HTTPS with the run's throw-away PKI, [`tls`]); each link
//! is a fetcher thread that copies records from the source into mirror topics on the
//! destination, applies the link's topic and group filters (`filters.rs`) and drives
//! Confluent's state machines (`engine.rs`, [`model`]). `traffic.rs` produces and consumes on
//! the clusters, and `records.rs` writes the records some actions ask for (`produce`, the
//! fillers of `source_retention`); a [`synthetic`] cluster has no Kafka behind it, its REST
//! state generated, for benchmarks at scale. Faults come from the scenario's timeline, the
//! control API (`/sim/v1`) or tests, all as one [`Action`] type. See `docs/simulator.md` in
//! this crate.
//!
//! The public API is what tests and the exporter's `sim` / `demo` commands use: [`Simulator`]
//! (start, endpoints, actions and what they report ([`ActionOutcome`]), request log, PKI,
//! shutdown) and its errors ([`SimError`]), the scenario types ([`scenario`],
//! [`synthetic::SyntheticSpec`]), the shared [`World`] (through [`SimCore::world`]) with the
//! [`model`] types it holds, [`model::now_ms`], [`wait_for`], and the headers of the records
//! the simulator writes itself ([`FILLER_HEADER`], [`PLACEHOLDER_HEADER`],
//! [`PRODUCE_HEADER`]).
//! Everything else is crate-private.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod engine;
mod filters;
pub mod mock;
pub mod model;
mod records;
mod rest;
pub mod scenario;
mod server;
pub mod synthetic;
pub mod tls;
mod traffic;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use rdkafka::types::RDKafkaRespErr;

pub use engine::PLACEHOLDER_HEADER;
pub use model::Flavour;
pub use records::{
    ActionOutcome, Produced, ProducedPartition, Retention, RetentionPartition, FILLER_HEADER,
    PRODUCE_HEADER,
};
pub use scenario::{Action, RestAuth, RestFault, Scenario};

use model::{Link, LinkState, Mirror, StopRequest};
use scenario::{ClusterSpec, Credentials};

/// Errors from starting or driving the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The scenario could not be read, parsed or validated.
    #[error(transparent)]
    Scenario(#[from] scenario::ScenarioError),
    /// A mock Kafka cluster failed: starting it, creating a topic, taking a broker down or up.
    #[error("cluster {cluster}: {source}")]
    Kafka {
        /// Name of the cluster in the scenario.
        cluster: String,
        /// What the mock cluster reported.
        source: mock::MockError,
    },
    /// Generating the run's PKI or a REST listener's TLS configuration failed.
    #[error("TLS: {0}")]
    Tls(#[from] tls::TlsError),
    /// A listener could not bind its loopback port (for example a fixed `rest_port` in use).
    #[error("binding {what}: {source}")]
    Bind {
        /// Which listener: `REST of cluster <name>` or `the control API`.
        what: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// An action or request named a cluster the scenario does not have.
    #[error("no cluster named {0:?}")]
    NoCluster(String),
    /// An action or request named a link that does not exist on its destination cluster.
    #[error("cluster {cluster} has no link named {link:?}")]
    NoLink {
        /// Name of the cluster the link was looked up on (the link's destination).
        cluster: String,
        /// The link name asked for.
        link: String,
    },
    /// Anything else an action or a REST write refused (unknown topic, mirror or broker id, a
    /// link that already exists, a synthetic cluster where Kafka is needed); the message is
    /// what the control API's `400 {"error": …}` and the REST error body carry.
    #[error("{0}")]
    Invalid(String),
}

/// A REST fault in force on a cluster.
#[derive(Clone, Debug)]
pub struct ActiveFault {
    /// The fault, as given by the `rest_fault` action.
    pub(crate) fault: RestFault,
    /// Requests it still applies to; `None`: until cleared.
    pub(crate) remaining: Option<u32>,
}

/// One REST request the cluster received (for tests that check when requests arrive).
#[derive(Clone, Debug, serde::Serialize)]
pub struct RequestRecord {
    /// Arrival time of the request, in ms since the Unix epoch.
    pub at_ms: i64,
    /// HTTP method (`GET`, `POST`, `PUT`, `DELETE`).
    pub method: String,
    /// Request path including the query string (`/kafka/v3/clusters/…?include_tasks=true`).
    pub path: String,
    /// HTTP status code of the answer that was sent.
    pub status: u16,
}

/// Everything the simulator knows about one cluster.
#[derive(Debug)]
pub struct ClusterState {
    /// Name of the cluster in the scenario (`clusters[].name`).
    pub(crate) name: String,
    /// Kafka cluster id (also the REST `cluster_id`): the mock's `mockCluster…` id, or
    /// `synthetic-<name>` for a synthetic cluster.
    pub(crate) id: String,
    /// Which product the REST API imitates (`clusters[].flavour`).
    pub(crate) flavour: Flavour,
    /// Handle of the mock Kafka cluster; `None` for a synthetic cluster.
    pub(crate) kafka: Option<mock::MockKafka>,
    /// Broker ids taken down by `brokers_down` and not yet brought back up.
    pub(crate) brokers_down: BTreeSet<i32>,
    /// Topic name → partition count: the scenario's `topics` plus mirror topics created since.
    pub(crate) topics: BTreeMap<String, i32>,
    /// Topics "deleted" by `delete_topic` (the mock keeps them; Metadata says unknown).
    pub(crate) deleted_topics: BTreeSet<String>,
    /// Log-start offsets known to have moved above 0, by (topic, partition): measured by the
    /// `source_retention` action, or by a fetcher whose next offset was out of range. Fetchers
    /// of links reading this cluster compare their positions with them.
    pub(crate) log_start: BTreeMap<(String, i32), i64>,
    /// Links living on this cluster (it is their destination), by link name.
    pub links: BTreeMap<String, Link>,
    /// SASL credentials links must present to read from this cluster (`kafka_credentials`).
    pub(crate) kafka_credentials: Option<Credentials>,
    /// Consumer group names offset sync can find here: the scenario's `groups` plus the
    /// groups of its `consumers` (the mock has no ListGroups).
    pub(crate) known_groups: BTreeSet<String>,
    /// Whether `GET …/links` also lists the stale `UNMANAGED_SOURCE` record (Platform only).
    pub(crate) stale_unmanaged_link: bool,
    /// The REST fault in force (`rest_fault` action); `None` when the API behaves.
    pub fault: Option<ActiveFault>,
    /// The REST request log, oldest first (at most 20 000 entries).
    pub(crate) requests: Vec<RequestRecord>,
    /// The generator of a synthetic cluster's REST state; `None` for a Kafka-backed cluster.
    pub(crate) synthetic: Option<synthetic::Synthetic>,
    /// `http(s)://127.0.0.1:port` of the REST listener.
    pub(crate) rest_url: String,
}

impl ClusterState {
    /// The link named `name` living on this cluster, or [`SimError::NoLink`].
    pub(crate) fn link(&self, name: &str) -> Result<&Link, SimError> {
        self.links.get(name).ok_or_else(|| SimError::NoLink {
            cluster: self.name.clone(),
            link: name.to_owned(),
        })
    }

    /// The link named `name` living on this cluster, mutably, or [`SimError::NoLink`].
    pub(crate) fn link_mut(&mut self, name: &str) -> Result<&mut Link, SimError> {
        let cluster = self.name.clone();
        self.links.get_mut(name).ok_or(SimError::NoLink {
            cluster,
            link: name.to_owned(),
        })
    }

    /// The mock brokers' `host:port` list, comma-separated; empty for a synthetic cluster.
    pub(crate) fn bootstrap_servers(&self) -> &str {
        self.kafka.as_ref().map_or("", |k| k.bootstrap_servers())
    }
}

/// The whole simulated world, behind one lock.
#[derive(Debug, Default)]
pub struct World {
    /// Every simulated cluster, by its name in the scenario.
    pub clusters: BTreeMap<String, ClusterState>,
}

impl World {
    /// The cluster named `name` in the scenario, or [`SimError::NoCluster`].
    pub fn cluster(&self, name: &str) -> Result<&ClusterState, SimError> {
        self.clusters
            .get(name)
            .ok_or_else(|| SimError::NoCluster(name.to_owned()))
    }

    /// The cluster named `name`, mutably, or [`SimError::NoCluster`].
    pub(crate) fn cluster_mut(&mut self, name: &str) -> Result<&mut ClusterState, SimError> {
        self.clusters
            .get_mut(name)
            .ok_or_else(|| SimError::NoCluster(name.to_owned()))
    }

    /// The cluster whose Kafka cluster id (the REST `cluster_id`) is `id`.
    pub(crate) fn cluster_by_id(&self, id: &str) -> Option<&ClusterState> {
        self.clusters.values().find(|c| c.id == id)
    }
}

/// Locks `m`, also when a thread panicked while holding it (the data is still what the
/// simulation has): the crate's one way to lock a mutex.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Shared core of a running simulation: the world plus what runs against it.
#[derive(Clone, Debug)]
pub struct SimCore {
    world: Arc<Mutex<World>>,
    /// Set when the simulator shuts down; every thread checks it.
    pub(crate) stopping: Arc<AtomicBool>,
    /// Traffic switch per cluster.
    traffic: Arc<BTreeMap<String, Arc<AtomicBool>>>,
}

impl SimCore {
    /// Locks the world. Hold it briefly: fetchers and REST handlers share it.
    pub fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    fn traffic_switch(&self, cluster: &str) -> Arc<AtomicBool> {
        self.traffic
            .get(cluster)
            .cloned()
            .unwrap_or_else(|| Arc::new(AtomicBool::new(true)))
    }

    /// Creates a link on `destination` and starts its fetcher.
    pub(crate) fn create_link(
        &self,
        destination: &str,
        name: &str,
        source: &str,
        configs: BTreeMap<String, String>,
    ) -> Result<(), SimError> {
        {
            let mut world = self.world();
            let source_cluster = world.cluster(source)?;
            let source_id = source_cluster.id.clone();
            for c in [source, destination] {
                if world.cluster(c)?.kafka.is_none() {
                    return Err(SimError::Invalid(format!(
                        "cluster {c} is synthetic: links need Kafka on both sides"
                    )));
                }
            }
            let dest = world.cluster_mut(destination)?;
            if dest.links.contains_key(name) {
                return Err(SimError::Invalid(format!(
                    "Cluster link '{name}' already exists."
                )));
            }
            let mut id_bytes = [0u8; 16];
            rand::Rng::fill(&mut rand::rng(), &mut id_bytes);
            let link = Link {
                name: name.to_owned(),
                cluster_link_id: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id_bytes),
                link_id: uuid_from(id_bytes),
                source_cluster: source.to_owned(),
                source_cluster_id: source_id,
                configs,
                mirrors: BTreeMap::new(),
                source_reachable: true,
                consecutive_failures: 0,
                last_failure: None,
                auth_failed: false,
                injected_task_errors: BTreeMap::new(),
                offset_sync_error: None,
                delay_ms: 0,
                max_records_per_second: None,
                fetcher_stalled: false,
                state: LinkState::Active,
            };
            dest.links.insert(name.to_owned(), link);
        }
        engine::spawn(self.clone(), destination.to_owned(), name.to_owned());
        Ok(())
    }

    /// Creates mirror topic `prefix + source_topic` (or `mirror_topic`) on the link.
    pub(crate) fn create_mirror(
        &self,
        destination: &str,
        link: &str,
        source_topic: &str,
        mirror_topic: Option<&str>,
    ) -> Result<String, SimError> {
        let mut world = self.world();
        let source_name = world
            .cluster(destination)?
            .link(link)?
            .source_cluster
            .clone();
        let partitions = {
            let source = world.cluster(&source_name)?;
            match source.topics.get(source_topic) {
                Some(p) if !source.deleted_topics.contains(source_topic) => *p,
                _ => {
                    return Err(SimError::Invalid(format!(
                        "Topic '{source_topic}' does not exist on the source cluster"
                    )))
                }
            }
        };
        let dest = world.cluster_mut(destination)?;
        let prefix = dest.link(link)?.prefix().to_owned();
        if dest
            .link(link)?
            .mirrors
            .values()
            .any(|m| m.source_topic == source_topic)
        {
            return Err(SimError::Invalid(format!(
                "Topic '{source_topic}' is already mirrored by link '{link}'"
            )));
        }
        let mirror_name = mirror_topic
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{prefix}{source_topic}"));
        if !mirror_name.starts_with(&prefix) {
            return Err(SimError::Invalid(format!(
                "Mirror topic name must start with the link prefix '{prefix}'"
            )));
        }
        if dest.topics.contains_key(&mirror_name) {
            return Err(SimError::Invalid(format!(
                "Topic '{mirror_name}' already exists."
            )));
        }
        if let Some(kafka) = &dest.kafka {
            kafka
                .create_topic(&mirror_name, partitions)
                .map_err(|source| SimError::Kafka {
                    cluster: destination.to_owned(),
                    source,
                })?;
        }
        dest.topics.insert(mirror_name.clone(), partitions);
        dest.link_mut(link)?.mirrors.insert(
            mirror_name.clone(),
            Mirror::new(&mirror_name, source_topic, partitions),
        );
        Ok(mirror_name)
    }

    /// Applies one action; `produce` and `source_retention` report what they wrote.
    pub(crate) fn apply(&self, action: &Action) -> Result<ActionOutcome, SimError> {
        let done = match action {
            Action::BrokersDown { cluster, brokers } => self.set_brokers(cluster, brokers, false),
            Action::BrokersUp { cluster, brokers } => self.set_brokers(cluster, brokers, true),
            Action::RestFault {
                cluster,
                fault,
                requests,
            } => {
                self.world().cluster_mut(cluster)?.fault = Some(ActiveFault {
                    fault: fault.clone(),
                    remaining: *requests,
                });
                Ok(())
            }
            Action::ClearRestFault { cluster } => {
                self.world().cluster_mut(cluster)?.fault = None;
                Ok(())
            }
            Action::Traffic { enabled, cluster } => {
                match cluster {
                    Some(c) => {
                        self.world().cluster(c)?;
                        self.traffic_switch(c).store(*enabled, Ordering::Relaxed);
                    }
                    None => self
                        .traffic
                        .values()
                        .for_each(|s| s.store(*enabled, Ordering::Relaxed)),
                }
                Ok(())
            }
            Action::Replication {
                cluster,
                link,
                delay_ms,
                max_records_per_second,
            } => {
                let mut world = self.world();
                let link = world.cluster_mut(cluster)?.link_mut(link)?;
                if let Some(d) = delay_ms {
                    link.delay_ms = *d;
                }
                if let Some(r) = max_records_per_second {
                    link.max_records_per_second = (*r > 0.0).then_some(*r);
                }
                Ok(())
            }
            Action::DeleteTopic { cluster, topic } => {
                let mut world = self.world();
                let c = world.cluster_mut(cluster)?;
                if !c.topics.contains_key(topic) {
                    return Err(SimError::Invalid(format!(
                        "no topic {topic:?} on {cluster}"
                    )));
                }
                if let Some(kafka) = &c.kafka {
                    kafka
                        .topic_error(
                            topic,
                            RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
                        )
                        .map_err(|source| SimError::Kafka {
                            cluster: cluster.clone(),
                            source,
                        })?;
                }
                c.deleted_topics.insert(topic.clone());
                // A mirror topic deleted on its destination is no longer a mirror (as on
                // Confluent): its link stops listing and fetching it.
                for link in c.links.values_mut() {
                    if link.mirrors.remove(topic).is_some() {
                        link.refresh_states();
                    }
                }
                Ok(())
            }
            Action::SetLinkConfig {
                cluster,
                link,
                name,
                value,
            } => {
                let mut world = self.world();
                let link = world.cluster_mut(cluster)?.link_mut(link)?;
                link.configs.insert(name.clone(), value.clone());
                link.refresh_states();
                Ok(())
            }
            Action::PauseMirrors {
                cluster,
                link,
                mirrors,
            } => self.alter_mirrors(cluster, link, mirrors, |m| m.paused_by_user = true),
            Action::ResumeMirrors {
                cluster,
                link,
                mirrors,
            } => self.alter_mirrors(cluster, link, mirrors, |m| m.paused_by_user = false),
            Action::PromoteMirrors {
                cluster,
                link,
                mirrors,
            } => self.alter_mirrors(cluster, link, mirrors, |m| {
                m.stop_request.get_or_insert(StopRequest::Promote);
            }),
            Action::FailoverMirrors {
                cluster,
                link,
                mirrors,
            } => self.alter_mirrors(cluster, link, mirrors, |m| {
                m.stop_request = Some(StopRequest::Failover)
            }),
            Action::TaskError {
                cluster,
                link,
                task,
                error_code,
                error_message,
            } => {
                let mut world = self.world();
                let link = world.cluster_mut(cluster)?.link_mut(link)?;
                link.injected_task_errors.insert(
                    task.clone(),
                    model::TaskError {
                        error_code: error_code.clone(),
                        error_message: error_message.clone(),
                    },
                );
                Ok(())
            }
            Action::ClearTaskError {
                cluster,
                link,
                task,
            } => {
                let mut world = self.world();
                world
                    .cluster_mut(cluster)?
                    .link_mut(link)?
                    .injected_task_errors
                    .remove(task);
                Ok(())
            }
            Action::Produce {
                cluster,
                topic,
                records,
                partition,
            } => {
                return records::produce(self, cluster, topic, *records, *partition)
                    .map(ActionOutcome::Produced)
            }
            Action::SourceRetention {
                cluster,
                topic,
                partition,
            } => {
                return records::source_retention(self, cluster, topic, *partition)
                    .map(ActionOutcome::Retention)
            }
            Action::StallFetcher {
                cluster,
                link,
                stalled,
            } => {
                let mut world = self.world();
                let c = world.cluster_mut(cluster)?;
                if c.kafka.is_none() {
                    return Err(SimError::Invalid(format!(
                        "cluster {cluster} is synthetic: its links have no fetcher"
                    )));
                }
                c.link_mut(link)?.fetcher_stalled = *stalled;
                Ok(())
            }
            Action::TransitionError {
                cluster,
                link,
                mirror,
                error_code,
                error_message,
            } => {
                let mut world = self.world();
                let l = world.cluster_mut(cluster)?.link_mut(link)?;
                let link_name = l.name.clone();
                let m = l.mirror_mut(mirror)?;
                if m.stopped {
                    return Err(SimError::Invalid(format!(
                        "Topic '{mirror}' has already stopped its mirror from '{link_name}'"
                    )));
                }
                let error = (error_code.clone(), error_message.clone());
                if let Some(old) = m.injected_transition_error.replace(error) {
                    m.transition_errors.retain(|e| *e != old);
                }
                l.refresh_states();
                Ok(())
            }
            Action::ClearTransitionError {
                cluster,
                link,
                mirror,
            } => {
                let mut world = self.world();
                let l = world.cluster_mut(cluster)?.link_mut(link)?;
                let m = l.mirror_mut(mirror)?;
                if let Some(old) = m.injected_transition_error.take() {
                    m.transition_errors.retain(|e| *e != old);
                }
                l.refresh_states();
                Ok(())
            }
            Action::AddPartitions { cluster, topic, .. } => {
                self.world().cluster(cluster)?;
                Err(SimError::Invalid(format!(
                    "add_partitions {topic} on {cluster}: not simulated. The librdkafka mock \
                     cluster cannot add partitions to an existing topic (no CreatePartitions), \
                     so partition drift cannot be simulated (docs/simulator.md, 10.2)"
                )))
            }
        };
        done.map(|()| ActionOutcome::Done)
    }

    fn set_brokers(
        &self,
        cluster: &str,
        brokers: &Option<Vec<i32>>,
        up: bool,
    ) -> Result<(), SimError> {
        let mut world = self.world();
        let c = world.cluster_mut(cluster)?;
        let kafka = c
            .kafka
            .clone()
            .ok_or_else(|| SimError::Invalid(format!("cluster {cluster} has no brokers")))?;
        let ids: Vec<i32> = brokers
            .clone()
            .unwrap_or_else(|| (1..=kafka.brokers()).collect());
        if let Some(bad) = ids.iter().find(|id| !(1..=kafka.brokers()).contains(*id)) {
            return Err(SimError::Invalid(format!(
                "cluster {cluster} has no broker {bad}"
            )));
        }
        for id in ids {
            let result = if up {
                c.brokers_down.remove(&id);
                kafka.broker_up(id)
            } else {
                c.brokers_down.insert(id);
                kafka.broker_down(id)
            };
            result.map_err(|source| SimError::Kafka {
                cluster: cluster.to_owned(),
                source,
            })?;
        }
        Ok(())
    }

    /// Applies `change` to the named mirrors of a link, then refreshes states.
    pub(crate) fn alter_mirrors(
        &self,
        cluster: &str,
        link: &str,
        mirrors: &[String],
        change: impl Fn(&mut Mirror),
    ) -> Result<(), SimError> {
        let mut world = self.world();
        let link = world.cluster_mut(cluster)?.link_mut(link)?;
        for name in mirrors {
            link.mirror_mut(name)?;
        }
        for name in mirrors {
            change(link.mirror_mut(name)?);
        }
        link.refresh_states();
        Ok(())
    }
}

fn uuid_from(b: [u8; 16]) -> String {
    let h = |r: std::ops::Range<usize>| b[r].iter().map(|x| format!("{x:02x}")).collect::<String>();
    format!(
        "{}-{}-{}-{}-{}",
        h(0..4),
        h(4..6),
        h(6..8),
        h(8..10),
        h(10..16)
    )
}

/// How to reach one simulated cluster.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ClusterEndpoint {
    /// Name of the cluster in the scenario.
    pub name: String,
    /// Kafka cluster id, also the REST `cluster_id`: `mockCluster…` (new on every run) for a
    /// Kafka-backed cluster, `synthetic-<name>` for a synthetic one.
    pub cluster_id: String,
    /// Which product the REST API imitates.
    pub flavour: Flavour,
    /// REST base including `/kafka/v3`.
    pub rest_url: String,
    /// Empty for synthetic clusters.
    pub bootstrap_servers: String,
    /// The credentials its REST API requires (the scenario's `auth`), if any.
    #[serde(skip)]
    pub auth: Option<RestAuth>,
    /// Whether its REST API serves HTTPS (with the run's PKI).
    pub tls: bool,
    /// Whether its REST API requires a client certificate.
    pub client_auth: bool,
}

/// A running simulation. Dropping it (or [`Simulator::shutdown`]) stops everything.
#[derive(Debug)]
pub struct Simulator {
    core: SimCore,
    endpoints: Vec<ClusterEndpoint>,
    control_url: String,
    pki: tls::TestPki,
    servers: Vec<tokio::task::JoinHandle<()>>,
}

impl Simulator {
    /// Starts every cluster, REST listener, link, generator and the timeline. Must be called
    /// inside a tokio runtime.
    pub async fn start(scenario: Scenario) -> Result<Self, SimError> {
        scenario.validate()?;
        let pki = tls::TestPki::generate()?;
        let traffic: BTreeMap<String, Arc<AtomicBool>> = scenario
            .clusters
            .iter()
            .map(|c| (c.name.clone(), Arc::new(AtomicBool::new(true))))
            .collect();
        let core = SimCore {
            world: Arc::new(Mutex::new(World::default())),
            stopping: Arc::new(AtomicBool::new(false)),
            traffic: Arc::new(traffic),
        };
        let mut servers = Vec::new();
        let mut endpoints = Vec::new();
        for spec in &scenario.clusters {
            let state = start_cluster(spec, &scenario).await?;
            core.world().clusters.insert(spec.name.clone(), state);
            let tls = if spec.tls {
                Some(pki.server_config(spec.client_auth)?)
            } else {
                None
            };
            let listener = bind(spec.rest_port, &format!("REST of cluster {}", spec.name)).await?;
            let addr = listener.local_addr().expect("bound");
            let scheme = if spec.tls { "https" } else { "http" };
            let rest_url = format!("{scheme}://127.0.0.1:{}", addr.port());
            let endpoint = {
                let mut world = core.world();
                let c = world.cluster_mut(&spec.name)?;
                c.rest_url = rest_url.clone();
                ClusterEndpoint {
                    name: c.name.clone(),
                    cluster_id: c.id.clone(),
                    flavour: c.flavour,
                    rest_url: format!("{rest_url}/kafka/v3"),
                    bootstrap_servers: c.bootstrap_servers().to_owned(),
                    auth: spec.auth.clone(),
                    tls: spec.tls,
                    client_auth: spec.client_auth,
                }
            };
            endpoints.push(endpoint);
            servers.push(tokio::spawn(server::serve_rest(
                listener,
                core.clone(),
                spec.name.clone(),
                spec.auth.clone(),
                tls,
            )));
        }
        for link in &scenario.links {
            core.create_link(
                &link.destination,
                &link.name,
                &link.source,
                link.configs.clone(),
            )?;
            {
                let mut world = core.world();
                let l = world.cluster_mut(&link.destination)?.link_mut(&link.name)?;
                l.delay_ms = link.delay_ms;
                l.max_records_per_second = link.max_records_per_second;
            }
            for topic in &link.mirrors {
                core.create_mirror(&link.destination, &link.name, topic, None)?;
            }
        }
        for t in &scenario.traffic {
            traffic::spawn_producer(&core, t, core.traffic_switch(&t.cluster))?;
        }
        for g in &scenario.consumers {
            traffic::spawn_consumer(&core, g, core.traffic_switch(&g.cluster))?;
        }
        let control = bind(0, "the control API").await?;
        let control_url = format!(
            "http://127.0.0.1:{}/sim/v1",
            control.local_addr().expect("bound").port()
        );
        servers.push(tokio::spawn(server::serve_control(control, core.clone())));
        if !scenario.timeline.is_empty() {
            servers.push(tokio::spawn(run_timeline(core.clone(), scenario.timeline)));
        }
        Ok(Self {
            core,
            endpoints,
            control_url,
            pki,
            servers,
        })
    }

    /// The shared core, for reading the [`World`] (`sim.core().world()`).
    pub fn core(&self) -> &SimCore {
        &self.core
    }

    /// How to reach every cluster, in scenario order.
    pub fn endpoints(&self) -> &[ClusterEndpoint] {
        &self.endpoints
    }

    /// The endpoint of the named cluster. Panics on an unknown name (a test bug).
    pub fn cluster(&self, name: &str) -> &ClusterEndpoint {
        self.endpoints
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("no simulated cluster {name:?}"))
    }

    /// Base URL of the control API, ending in `/sim/v1`.
    pub fn control_url(&self) -> &str {
        &self.control_url
    }

    /// The run's PKI: trust `ca_pem`; present `client` for mTLS.
    pub fn pki(&self) -> &tls::TestPki {
        &self.pki
    }

    /// Applies one action at once, as the timeline and `POST /sim/v1/actions` do. Blocks
    /// while a mock cluster works (brokers, topics) and while `produce` or
    /// `source_retention` write, so call it from a multi-thread runtime (in `block_in_place`
    /// for the writing actions).
    ///
    /// # Errors
    ///
    /// [`SimError`] naming an unknown cluster, link, mirror, topic or broker id (the action
    /// then changes nothing), or a mock cluster failure.
    pub fn apply(&self, action: &Action) -> Result<(), SimError> {
        self.core.apply(action).map(|_| ())
    }

    /// [`Simulator::apply`], returning what the action reports: what `produce` wrote, what
    /// `source_retention` deleted, [`ActionOutcome::Done`] for the other actions.
    ///
    /// # Errors
    ///
    /// As [`Simulator::apply`].
    pub fn act(&self, action: &Action) -> Result<ActionOutcome, SimError> {
        self.core.apply(action)
    }

    /// Requests received so far by a cluster's REST API.
    pub fn requests(&self, cluster: &str) -> Vec<RequestRecord> {
        self.core
            .world()
            .clusters
            .get(cluster)
            .map(|c| c.requests.clone())
            .unwrap_or_default()
    }

    /// Stops listeners, fetchers, generators and mock clusters.
    pub fn shutdown(&mut self) {
        self.core.stopping.store(true, Ordering::SeqCst);
        for s in self.servers.drain(..) {
            s.abort();
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shutdown();
        let world = self.core.world();
        for c in world.clusters.values() {
            if let Some(k) = &c.kafka {
                k.stop();
            }
        }
    }
}

async fn bind(port: u16, what: &str) -> Result<tokio::net::TcpListener, SimError> {
    tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .map_err(|source| SimError::Bind {
            what: what.to_owned(),
            source,
        })
}

async fn start_cluster(spec: &ClusterSpec, scenario: &Scenario) -> Result<ClusterState, SimError> {
    let (kafka, id, synthetic) = match &spec.synthetic {
        Some(s) => (
            None,
            s.cluster_id(&spec.name),
            Some(synthetic::Synthetic::new(s)),
        ),
        None => {
            let (name, brokers) = (spec.name.clone(), spec.brokers);
            let kafka = tokio::task::spawn_blocking(move || mock::MockKafka::start(&name, brokers))
                .await
                .expect("mock start task")
                .map_err(|source| SimError::Kafka {
                    cluster: spec.name.clone(),
                    source,
                })?;
            for t in &spec.topics {
                kafka
                    .create_topic(&t.name, t.partitions)
                    .map_err(|source| SimError::Kafka {
                        cluster: spec.name.clone(),
                        source,
                    })?;
            }
            let id = kafka.cluster_id().to_owned();
            (Some(kafka), id, None)
        }
    };
    let mut known_groups: BTreeSet<String> = spec.groups.iter().cloned().collect();
    known_groups.extend(
        scenario
            .consumers
            .iter()
            .filter(|c| c.cluster == spec.name)
            .map(|c| c.group.clone()),
    );
    let links = synthetic
        .as_ref()
        .map(|s: &synthetic::Synthetic| s.links(&format!("{id}-source")))
        .unwrap_or_default();
    Ok(ClusterState {
        name: spec.name.clone(),
        id,
        flavour: spec.flavour,
        kafka,
        brokers_down: BTreeSet::new(),
        topics: spec
            .topics
            .iter()
            .map(|t| (t.name.clone(), t.partitions))
            .collect(),
        deleted_topics: BTreeSet::new(),
        log_start: BTreeMap::new(),
        links,
        kafka_credentials: spec.kafka_credentials.clone(),
        known_groups,
        stale_unmanaged_link: spec.stale_unmanaged_link,
        fault: None,
        requests: Vec::new(),
        synthetic,
        rest_url: String::new(),
    })
}

async fn run_timeline(core: SimCore, timeline: Vec<scenario::TimelineEntry>) {
    let start = tokio::time::Instant::now();
    let mut entries = timeline;
    entries.sort_by_key(|e| scenario::parse_duration(&e.at).unwrap_or_default());
    for entry in entries {
        let at = scenario::parse_duration(&entry.at).unwrap_or_default();
        tokio::time::sleep_until(start + at).await;
        let (c, action) = (core.clone(), entry.action.clone());
        let result = tokio::task::spawn_blocking(move || c.apply(&action))
            .await
            .unwrap_or_else(|e| Err(SimError::Invalid(e.to_string())));
        match result {
            Ok(ActionOutcome::Done) => {
                tracing::info!(at = %entry.at, action = ?entry.action, "timeline action applied")
            }
            Ok(outcome) => {
                tracing::info!(at = %entry.at, action = ?entry.action, ?outcome, "timeline action applied")
            }
            Err(e) => tracing::warn!(at = %entry.at, error = %e, "timeline action failed"),
        }
    }
}

/// Polls `check` every 100 ms until it returns `Some`, or gives up after `timeout`.
/// For tests and tools that wait on the simulation.
pub async fn wait_for<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
