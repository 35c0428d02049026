//! Background collection: one task per destination cluster, on its interval with jitter
//! (sooner while a source is in trouble: [`pace`]), a cycle never overlapping the previous
//! one. A cycle reads the links, each link with its tasks (concurrently, bounded), all mirrors
//! in one call, the state transition errors of the mirror topics neither `ACTIVE` nor
//! `STOPPED` (one request each, concurrently, at most [`TRANSITION_ERROR_REQUESTS`] a cycle),
//! and link configs every Nth cycle (cached), into one [`ClusterSnapshot`] that it publishes
//! (to the exposition, which renders it once, and to the status store) and hands to the
//! cluster's Kafka-side measurer. A failed cycle marks only its cluster down, withdraws its
//! link and mirror series, counts the error by reason and logs the cause; a 429 backs the
//! cluster off; a cluster id the REST API does not serve (a 404 on the link list) is reason
//! `cluster_not_found`, and one `GET /clusters` per failure (not per cycle) names the ids it
//! serves.
//!
//! The task runs under a supervisor ([`supervise_collector`]): a panic or an unexpected exit
//! marks the cluster down (`clusterlink_up 0`, series withdrawn), is logged and counted once,
//! and a new collector starts after a back-off.
//!
//! This module owns the collection's self-metrics ([`CollectMetrics`]: `up`, duration, errors
//! by reason, requests, rate limiting, link count) and their per-cluster life
//! ([`ClusterSeries`]); it writes the cluster's collection outcome to the
//! [`StatusStore`]. Building a collector has no side effect: the exporter starts a cluster's
//! series when it launches the cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::stream::{self, StreamExt, TryStreamExt};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use rand::Rng;
use tokio::sync::watch;

use crate::config::{ClusterConfig, Flavour};
use crate::kafka::measure::Collected;
use crate::reload::ClusterSetup;
use crate::rest_client::{ClientBuildError, CollectionErrorReason, RestClient, RestError};
use crate::series::{ClusterFamily, ClusterSeries, OfCluster};
use crate::snapshot::{ClusterSnapshot, Discard, Link, LinkConfigs, MirrorTopic, Publish};
use crate::status::StatusStore;
use crate::supervise::{self, stopped, Failure, RestartBackoff, Worker, WorkerRestarts};
use crate::util::{unix_ms_at, ClusterLabels};

mod pace;
use pace::Pace;

/// The most single-mirror requests (state transition errors) a cycle sends. With more mirror
/// topics neither `ACTIVE` nor `STOPPED`, each cycle reads the next ones in turn, so every one
/// is read within a few cycles; the others carry no transition errors that cycle.
pub(crate) const TRANSITION_ERROR_REQUESTS: usize = 50;

/// Labels of `clusterlink_collection_errors_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ReasonLabels {
    /// The destination cluster.
    pub(crate) kafka_cluster: String,
    /// Why the cycle failed.
    pub(crate) reason: CollectionErrorReason,
}

/// Labels of `clusterlink_rest_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    /// The destination cluster.
    pub(crate) kafka_cluster: String,
    /// `clusters`, `links`, `link`, `mirrors`, `mirror` (a mirror topic's transition errors)
    /// or `link_configs`.
    pub(crate) endpoint: String,
    /// The HTTP status, `0` when there was no response.
    pub(crate) status: String,
}

/// The collection's self-metrics, one series per cluster. Cloning shares the families.
#[derive(Clone, Debug, Default)]
pub(crate) struct CollectMetrics {
    /// `clusterlink_up`: 1 when the last cycle succeeded.
    pub(crate) up: Family<ClusterLabels, Gauge>,
    /// `clusterlink_scrape_duration_seconds`: duration of the last cycle.
    pub(crate) duration: Family<ClusterLabels, Gauge<f64, AtomicU64>>,
    /// `clusterlink_last_successful_collection_timestamp_seconds` (Unix seconds).
    pub(crate) last_success: Family<ClusterLabels, Gauge<f64, AtomicU64>>,
    /// `clusterlink_collection_errors_total` by reason.
    pub(crate) errors: Family<ReasonLabels, Counter>,
    /// `clusterlink_rest_requests_total` by endpoint and status.
    pub(crate) requests: ClusterFamily<RequestLabels, Counter>,
    /// `clusterlink_rest_throttled_total`: responses with HTTP 429.
    pub(crate) throttled: Family<ClusterLabels, Counter>,
    /// `clusterlink_backoff_seconds`: the current extra wait after rate limiting.
    pub(crate) backoff: Family<ClusterLabels, Gauge<f64, AtomicU64>>,
    /// `clusterlink_links`: links exported (after the filters).
    pub(crate) links: Family<ClusterLabels, Gauge>,
}

impl CollectMetrics {
    /// Registers the families in `registry`, with the start values of `clusters` written
    /// (see [`CollectMetrics::start`]; the exporter starts each cluster when it launches it).
    pub(crate) fn register(registry: &mut Registry, clusters: &[String]) -> Self {
        let m = Self::default();
        m.register_families(registry);
        for c in clusters {
            m.start(c);
        }
        m
    }

    /// Writes `cluster`'s `up` (0), throttled count, back-off and errors (every reason) at
    /// their start values where they are missing: a running cluster's stay as they are.
    pub(crate) fn start(&self, cluster: &str) {
        let labels = ClusterLabels::of(cluster);
        // Created at 0 when missing, unchanged otherwise.
        self.up.get_or_create(&labels).inc_by(0);
        self.throttled.get_or_create(&labels).inc_by(0);
        self.backoff.get_or_create(&labels).inc_by(0.0);
        for reason in CollectionErrorReason::ALL {
            self.errors
                .get_or_create(&ReasonLabels {
                    kafka_cluster: cluster.to_owned(),
                    reason,
                })
                .inc_by(0);
        }
    }

    fn register_families(&self, registry: &mut Registry) {
        let reasons = CollectionErrorReason::ALL.map(CollectionErrorReason::as_str);
        registry.register(
            "up",
            "1 when the last collection from the cluster's REST API succeeded, 0 otherwise",
            self.up.clone(),
        );
        registry.register(
            "scrape_duration_seconds",
            "Duration of the last background collection from the cluster",
            self.duration.clone(),
        );
        registry.register(
            "last_successful_collection_timestamp_seconds",
            "Time of the last successful background collection (Unix seconds)",
            self.last_success.clone(),
        );
        registry.register(
            "collection_errors",
            format!("Failed collections by reason ({})", reasons.join(", ")),
            self.errors.clone(),
        );
        registry.register(
            "rest_requests",
            "REST requests sent to the cluster, by endpoint and HTTP status (0: no response)",
            self.requests.clone(),
        );
        registry.register(
            "rest_throttled",
            "REST responses with HTTP 429 (rate limited)",
            self.throttled.clone(),
        );
        registry.register(
            "backoff_seconds",
            "Current extra wait before the next collection after rate limiting (0 when none)",
            self.backoff.clone(),
        );
        registry.register(
            "links",
            "Links exported for the cluster (after include/exclude filters)",
            self.links.clone(),
        );
    }
}

impl OfCluster for RequestLabels {
    fn kafka_cluster(&self) -> &str {
        &self.kafka_cluster
    }
}

impl ClusterSeries for CollectMetrics {
    fn start_cluster(&self, setup: &ClusterSetup) {
        self.start(&setup.cluster.name);
    }

    // Stopped for a restart: its gauges stay, as its REST side stays rendered, until the new
    // collector's first cycle writes them.

    fn forget_cluster(&self, setup: &ClusterSetup) {
        let cluster = &setup.cluster.name;
        let labels = ClusterLabels::of(cluster);
        self.up.remove(&labels);
        self.duration.remove(&labels);
        self.last_success.remove(&labels);
        self.backoff.remove(&labels);
        self.links.remove(&labels);
        self.throttled.remove(&labels);
        for reason in CollectionErrorReason::ALL {
            self.errors.remove(&ReasonLabels {
                kafka_cluster: cluster.clone(),
                reason,
            });
        }
        self.requests.remove_cluster(cluster);
    }
}

/// Where a collector reports: set up by the exporter.
#[derive(Clone)]
pub struct CollectorOutputs {
    /// Where each cycle's snapshot goes (`None`: withdrawn): the exposition and the status
    /// store.
    pub(crate) publish: Arc<dyn Publish>,
    /// The collection's self-metrics.
    pub(crate) metrics: CollectMetrics,
    /// The restart counter of the supervisor.
    pub(crate) restarts: WorkerRestarts,
    /// The status page's and readiness' view of the cluster's collection.
    pub(crate) status: StatusStore,
}

impl CollectorOutputs {
    /// Outputs that lead nowhere (metrics in a registry of their own, snapshots discarded):
    /// for a collector whose [`Collector::collect_once`] is called directly (tests, tools).
    pub fn detached() -> Self {
        let mut registry = Registry::default();
        Self {
            publish: Arc::new(Discard),
            metrics: CollectMetrics::register(&mut registry, &[]),
            restarts: WorkerRestarts::register(&mut registry),
            status: StatusStore::default(),
        }
    }
}

impl std::fmt::Debug for CollectorOutputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectorOutputs").finish_non_exhaustive()
    }
}

/// Back-off after rate limiting: the server's `Retry-After`/`rateLimit-reset` when given,
/// else exponential from 1 s (doubling per consecutive 429) with ±20% jitter, capped.
#[derive(Debug)]
pub struct RateLimitBackoff {
    consecutive: u32,
    cap: Duration,
}

impl RateLimitBackoff {
    /// A back-off whose waits are at most `cap`.
    pub fn new(cap: Duration) -> Self {
        Self {
            consecutive: 0,
            cap,
        }
    }

    /// Wait after another 429.
    pub fn next(&mut self, retry_after: Option<Duration>) -> Duration {
        self.consecutive = self.consecutive.saturating_add(1);
        if let Some(d) = retry_after {
            return d.min(self.cap);
        }
        // Doubling stops at 2^16 s; the cap (below, after the jitter) is far lower anyway.
        let base = crate::util::doubled(
            Duration::from_secs(1),
            self.consecutive - 1,
            Duration::from_secs(1 << 16),
        );
        let jitter = rand::rng().random_range(0.8..1.2);
        base.mul_f64(jitter).min(self.cap)
    }

    /// After a cycle that was not rate limited: the next 429 waits 1 s again.
    pub(crate) fn reset(&mut self) {
        self.consecutive = 0;
    }
}

/// How often a collector waiting for its next cycle looks again at whether a source is in
/// trouble (which makes the next cycle due sooner: [`pace`]).
const PACE_RECHECK: Duration = Duration::from_secs(1);

/// One cluster's collector.
pub struct Collector {
    config: ClusterConfig,
    client: RestClient,
    outputs: CollectorOutputs,
    cluster_id: Option<String>,
    /// Link name → its configs, as of the last cycle that read them.
    configs: BTreeMap<String, LinkConfigs>,
    cycle: u64,
    backoff: RateLimitBackoff,
    /// Where each successful cycle's snapshot goes for the Kafka-side measurements.
    kafka: Option<Sender<Collected>>,
    /// When the next cycle starts.
    pace: Pace,
    /// Whether the last successful cycle showed a source in trouble.
    source_trouble: bool,
    /// What `GET /clusters` said when the cluster id was last not found (asked once per
    /// failure: forgotten at the next successful cycle).
    served: Option<Result<Vec<String>, String>>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("cluster", &self.config.name)
            .finish_non_exhaustive()
    }
}

impl Collector {
    /// A collector of `config`'s cluster reporting to `outputs`.
    ///
    /// # Errors
    /// The REST client cannot be built (see `RestClient::new`).
    pub fn new(config: ClusterConfig, outputs: CollectorOutputs) -> Result<Self, ClientBuildError> {
        let client = RestClient::new(&config, request_observer(&config.name, &outputs.metrics))?;
        Ok(Self {
            cluster_id: config.cluster_id.clone(),
            backoff: RateLimitBackoff::new(
                Duration::from_secs(300).max(config.poll_interval.saturating_mul(4)),
            ),
            config,
            client,
            outputs,
            configs: BTreeMap::new(),
            cycle: 0,
            kafka: None,
            pace: Pace::default(),
            source_trouble: false,
            served: None,
        })
    }

    /// Hands each successful cycle's snapshot, with the cluster id it was read from, to a
    /// Kafka-side measurer.
    pub(crate) fn with_kafka(mut self, sender: Sender<Collected>) -> Self {
        self.kafka = Some(sender);
        self
    }

    /// Collects until `shutdown` turns true.
    pub(crate) async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let labels = ClusterLabels::of(&self.config.name);
        loop {
            supervise::checkpoint(&self.config.name, Worker::Collector);
            let started = Instant::now();
            let result = self.collect_once().await;
            let elapsed = started.elapsed();
            let metrics = self.outputs.metrics.clone();
            metrics
                .duration
                .get_or_create(&labels)
                .set(elapsed.as_secs_f64());
            let extra_wait = match result {
                Ok(snapshot) => {
                    self.succeeded(snapshot, elapsed);
                    Duration::ZERO
                }
                Err(e) => self.failed(&e),
            };
            metrics
                .backoff
                .get_or_create(&labels)
                .set(extra_wait.as_secs_f64());
            self.outputs
                .status
                .update(&self.config.name, |s| s.cycles += 1);
            self.cycle += 1;
            if !self
                .wait_for_next_cycle(started, elapsed + extra_wait, &mut shutdown)
                .await
            {
                return;
            }
            metrics.backoff.get_or_create(&labels).set(0.0);
        }
    }

    /// Waits until the next cycle is due: its interval (with jitter) after `started`, the
    /// start of the cycle that just ended, and not before `floor` after it (the cycle's
    /// duration and any rate-limit back-off). The interval is looked at again every
    /// [`PACE_RECHECK`], so a source the Kafka side finds down meanwhile shortens a wait
    /// already begun. `false` when `shutdown` came first.
    async fn wait_for_next_cycle(
        &mut self,
        started: Instant,
        floor: Duration,
        shutdown: &mut watch::Receiver<bool>,
    ) -> bool {
        let jitter = rand::rng().random_range(0.9..1.1);
        loop {
            let interval = self.next_interval().mul_f64(jitter).max(floor);
            let left = interval.saturating_sub(started.elapsed());
            if left.is_zero() {
                return true;
            }
            tokio::select! {
                _ = tokio::time::sleep(left.min(PACE_RECHECK)) => {}
                _ = stopped(shutdown) => return false,
            }
        }
    }

    /// The time between the start of the cycle that just ended and the next one's (before
    /// jitter): shorter while the last snapshot or the Kafka side shows a source in trouble.
    fn next_interval(&mut self) -> Duration {
        let trouble = self.source_trouble
            || self
                .outputs
                .status
                .source_connection_down(&self.config.name);
        self.pace
            .interval(self.config.poll_interval, trouble, Instant::now())
    }

    /// After a successful cycle: the snapshot published and handed to the measurer, the
    /// cluster up. The series first, then the cycle's time: a scrape that shows a newer
    /// `clusterlink_last_successful_collection_timestamp_seconds` shows that cycle's series.
    fn succeeded(&mut self, snapshot: ClusterSnapshot, elapsed: Duration) {
        let name = &self.config.name;
        let labels = ClusterLabels::of(name);
        let metrics = &self.outputs.metrics;
        self.source_trouble = pace::source_in_trouble(&snapshot);
        let snapshot = Arc::new(snapshot);
        self.outputs
            .publish
            .publish_rest(name, Some(snapshot.clone()));
        metrics.up.get_or_create(&labels).set(1);
        metrics
            .links
            .get_or_create(&labels)
            .set(i64::try_from(snapshot.links.len()).unwrap_or(i64::MAX));
        let now = SystemTime::now();
        metrics
            .last_success
            .get_or_create(&labels)
            .set(unix_ms_at(now) as f64 / 1000.0);
        self.backoff.reset();
        self.outputs.status.update(name, |s| {
            s.up = true;
            s.last_success = Some(now);
        });
        tracing::debug!(kafka_cluster = %name, links = snapshot.links.len(), mirrors = snapshot.mirrors.len(), elapsed_ms = elapsed.as_millis() as u64, "collection done");
        if let Some(sender) = &self.kafka {
            // The measurer thread is gone only when shutting down.
            let _ = sender.send(Collected {
                cluster_id: self.cluster_id.clone(),
                snapshot,
            });
        }
    }

    /// After a failed cycle: counted, logged, the cluster down; the extra wait before the
    /// next cycle (rate limiting).
    fn failed(&mut self, e: &RestError) -> Duration {
        let name = &self.config.name;
        self.outputs
            .metrics
            .errors
            .get_or_create(&ReasonLabels {
                kafka_cluster: name.clone(),
                reason: e.reason(),
            })
            .inc();
        let mut extra_wait = Duration::ZERO;
        if let RestError::RateLimited { retry_after } = e {
            extra_wait = self.backoff.next(*retry_after);
        }
        tracing::warn!(
            kafka_cluster = %name,
            reason = %e.reason(),
            error = %e,
            backoff_ms = extra_wait.as_millis() as u64,
            "collection failed"
        );
        mark_down(&self.outputs, name, format!("{}: {e}", e.reason()));
        extra_wait
    }

    /// What it takes to start this collector again after a failure.
    fn blueprint(&self) -> Blueprint {
        Blueprint {
            config: self.config.clone(),
            outputs: self.outputs.clone(),
            kafka: self.kafka.clone(),
        }
    }

    /// One collection cycle.
    ///
    /// # Errors
    /// The first request that failed, classified ([`RestError::reason`]); a link deleted
    /// between two calls (404) is left out, not an error; a 404 on the link list is
    /// [`RestError::ClusterNotFound`].
    pub async fn collect_once(&mut self) -> Result<ClusterSnapshot, RestError> {
        let cluster_id = self.cluster_id().await?;
        let mut links = match self.links(&cluster_id).await {
            Err(RestError::Http { status: 404, .. }) => {
                return Err(self.cluster_not_found(cluster_id).await)
            }
            other => other?,
        };
        let mirrors: Vec<MirrorTopic> = self
            .client
            .mirrors(&cluster_id)
            .await?
            .into_iter()
            .filter(|m| {
                !m.link.is_empty()
                    && links.iter().any(|l| l.name == m.link)
                    && self.config.mirror_topics.allows(&m.name)
            })
            .collect();
        let mirrors = self.transition_errors(&cluster_id, mirrors).await?;
        let refresh_configs = self.cycle % u64::from(self.config.link_configs_every) == 0
            || links.iter().any(|l| !self.configs.contains_key(&l.name));
        if refresh_configs {
            self.configs = self.link_configs(&cluster_id, &links).await?;
        }
        for link in &mut links {
            if let Some(configs) = self.configs.get(&link.name) {
                link.configs = configs.clone();
            }
        }
        self.served = None;
        Ok(ClusterSnapshot {
            links,
            mirrors,
            partition_metrics: self.config.partition_metrics,
        })
    }

    /// The error of a cluster id the REST API does not serve (a 404 on its link list). The
    /// first time since the last successful cycle, one `GET /clusters` asks which ids it
    /// serves, and a warning names the key, the id and those ids. A discovered id is
    /// forgotten: the next cycle discovers it again.
    async fn cluster_not_found(&mut self, cluster_id: String) -> RestError {
        let key = if self.config.cluster_id.is_some() {
            "cluster_id"
        } else {
            self.cluster_id = None;
            "the discovered cluster id"
        };
        if self.served.is_none() {
            let served = self.client.cluster_ids().await.map_err(|e| e.to_string());
            let listed = match &served {
                Ok(ids) => ids.join(", "),
                Err(e) => format!("unknown (GET /clusters: {e})"),
            };
            tracing::warn!(
                kafka_cluster = %self.config.name,
                key,
                cluster_id = %cluster_id,
                served = %listed,
                "the REST API at rest_url serves no cluster with this id (HTTP 404): nothing of the cluster is collected until cluster_id or rest_url is fixed"
            );
            self.served = Some(served);
        }
        RestError::ClusterNotFound {
            cluster_id,
            key,
            served: self.served.clone(),
        }
    }

    /// The configured cluster id, else the one the API serves (discovered once).
    async fn cluster_id(&mut self) -> Result<String, RestError> {
        if let Some(id) = &self.cluster_id {
            return Ok(id.clone());
        }
        if self.config.flavour == Flavour::Cloud {
            return Err(RestError::Other(
                "Confluent Cloud needs cluster_id in the configuration".into(),
            ));
        }
        let id = self.client.discover_cluster_id().await?;
        tracing::info!(kafka_cluster = %self.config.name, cluster_id = %id, "discovered cluster id");
        self.cluster_id = Some(id.clone());
        Ok(id)
    }

    /// The links the filters allow, each read with its tasks.
    async fn links(&self, cluster_id: &str) -> Result<Vec<Link>, RestError> {
        let listed: Vec<Link> = self
            .client
            .links(cluster_id)
            .await?
            .into_iter()
            // Confluent Platform keeps nameless UNMANAGED_SOURCE records: not addressable.
            .filter(|l| !l.name.is_empty() && self.config.links.allows(&l.name))
            .collect();
        let client = &self.client;
        let detailed: Vec<Option<Link>> = stream::iter(listed)
            .map(|l| async move {
                // Deleted between the two calls: left out.
                unless_deleted(client.link_with_tasks(cluster_id, &l.name).await)
            })
            .buffered(self.config.max_concurrent_requests)
            .try_collect()
            .await?;
        Ok(detailed.into_iter().flatten().collect())
    }

    /// `mirrors` with the state transition errors of those that may be in transition
    /// ([`MirrorTopic::may_be_in_transition`]; at most [`TRANSITION_ERROR_REQUESTS`] of them,
    /// taken in turn from cycle to cycle), read concurrently (bounded); a mirror topic
    /// answering 404 was deleted since it was listed and is left out.
    async fn transition_errors(
        &self,
        cluster_id: &str,
        mut mirrors: Vec<MirrorTopic>,
    ) -> Result<Vec<MirrorTopic>, RestError> {
        let candidates: Vec<usize> = (0..mirrors.len())
            .filter(|&i| mirrors[i].may_be_in_transition())
            .collect();
        if candidates.is_empty() {
            return Ok(mirrors);
        }
        let chosen = in_turn(&candidates, self.cycle, TRANSITION_ERROR_REQUESTS);
        let client = &self.client;
        let all = &mirrors;
        let fetched: Vec<(usize, Option<_>)> = stream::iter(chosen)
            .map(|i| async move {
                let m = &all[i];
                let errors =
                    unless_deleted(client.transition_errors(cluster_id, &m.link, &m.name).await)?;
                Ok::<_, RestError>((i, errors))
            })
            .buffered(self.config.max_concurrent_requests)
            .try_collect()
            .await?;
        let mut deleted = BTreeSet::new();
        for (i, errors) in fetched {
            match errors {
                Some(errors) => mirrors[i].transition_errors = Some(errors),
                None => {
                    deleted.insert(i);
                }
            }
        }
        Ok(mirrors
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !deleted.contains(i))
            .map(|(_, m)| m)
            .collect())
    }

    /// The configs of `links` (a link answering 404 has none).
    async fn link_configs(
        &self,
        cluster_id: &str,
        links: &[Link],
    ) -> Result<BTreeMap<String, LinkConfigs>, RestError> {
        let client = &self.client;
        let names: Vec<String> = links.iter().map(|l| l.name.clone()).collect();
        let fetched: Vec<Option<(String, LinkConfigs)>> = stream::iter(names)
            .map(|name| async move {
                let configs = unless_deleted(client.link_configs(cluster_id, &name).await)?;
                Ok::<_, RestError>(configs.map(|c| (name, c)))
            })
            .buffered(self.config.max_concurrent_requests)
            .try_collect()
            .await?;
        Ok(fetched.into_iter().flatten().collect())
    }
}

/// At most `cap` of `items`: all when there are no more, else the `cycle`-th run of `cap` of
/// them in turn (wrapping), so that every one is taken within `ceil(len / cap)` cycles.
fn in_turn<T: Copy>(items: &[T], cycle: u64, cap: usize) -> Vec<T> {
    if items.len() <= cap {
        return items.to_vec();
    }
    let len = items.len() as u64;
    let start = (cycle % len).saturating_mul(cap as u64) % len;
    items
        .iter()
        .cycle()
        .skip(usize::try_from(start).unwrap_or(0))
        .take(cap)
        .copied()
        .collect()
}

/// `result`, with a 404 (the object was deleted since it was listed) as `Ok(None)`.
fn unless_deleted<T>(result: Result<T, RestError>) -> Result<Option<T>, RestError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(RestError::Http { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Counts every request by endpoint and status, and the 429s.
fn request_observer(
    cluster: &str,
    metrics: &CollectMetrics,
) -> crate::rest_client::RequestObserver {
    let metrics = metrics.clone();
    let cluster = cluster.to_owned();
    Arc::new(move |endpoint: &'static str, status: u16| {
        metrics
            .requests
            .get_or_create(&RequestLabels {
                kafka_cluster: cluster.clone(),
                endpoint: endpoint.into(),
                status: status.to_string(),
            })
            .inc();
        if status == 429 {
            metrics
                .throttled
                .get_or_create(&ClusterLabels::of(&cluster))
                .inc();
        }
    })
}

/// The parts a new [`Collector`] of the same cluster is built from.
struct Blueprint {
    config: ClusterConfig,
    outputs: CollectorOutputs,
    kafka: Option<Sender<Collected>>,
}

impl Blueprint {
    fn build(&self) -> Result<Collector, ClientBuildError> {
        let collector = Collector::new(self.config.clone(), self.outputs.clone())?;
        Ok(match &self.kafka {
            Some(sender) => collector.with_kafka(sender.clone()),
            None => collector,
        })
    }

    /// After a failure: the cluster is down with its REST series withdrawn (never frozen
    /// values under `up 1`), the failure is counted, logged once and shown on the status page.
    fn mark_down(&self, failure: &Failure, restart_in: Duration) {
        let name = &self.config.name;
        // Down before the restart is counted: a scrape never sees the count with `up 1`.
        mark_down(&self.outputs, name, format!("collector {failure}"));
        self.outputs.restarts.counter(name, Worker::Collector).inc();
        tracing::error!(
            kafka_cluster = %name,
            worker = %Worker::Collector,
            error = %failure,
            restart_in_ms = restart_in.as_millis() as u64,
            "worker failed; marked the cluster down, restarting it"
        );
    }
}

/// A cluster whose collection failed (or whose collector crashed): `clusterlink_up 0`, its
/// REST series withdrawn rather than served stale as if current, and `message` on the status
/// page.
fn mark_down(outputs: &CollectorOutputs, cluster: &str, message: String) {
    outputs.publish.publish_rest(cluster, None);
    outputs
        .metrics
        .up
        .get_or_create(&ClusterLabels::of(cluster))
        .set(0);
    outputs.status.update(cluster, |s| {
        s.up = false;
        s.last_error = Some(message);
        s.last_error_at = Some(SystemTime::now());
    });
}

/// Runs `first` and, after each panic or unexpected exit, a new collector of the same cluster
/// after a [`RestartBackoff`], until `shutdown` turns true.
pub(crate) async fn supervise_collector(first: Collector, mut shutdown: watch::Receiver<bool>) {
    let blueprint = first.blueprint();
    blueprint
        .outputs
        .restarts
        .counter(&blueprint.config.name, Worker::Collector);
    let mut next = Some(first);
    let mut backoff = RestartBackoff::default();
    loop {
        let started = Instant::now();
        let failure = match next.take().map_or_else(|| blueprint.build(), Ok) {
            Ok(collector) => match supervise::catch_future(collector.run(shutdown.clone())).await {
                Ok(()) => Failure::Exited("the collection loop returned".into()),
                Err(failure) => failure,
            },
            Err(e) => Failure::Exited(format!("cannot build the REST client: {e}")),
        };
        if *shutdown.borrow() {
            return;
        }
        let wait = backoff.next(started.elapsed());
        blueprint.mark_down(&failure, wait);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopped(&mut shutdown) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_errors_are_read_in_turn_when_over_the_cap() {
        let items: Vec<u32> = (0..5).collect();
        assert_eq!(
            in_turn(&items, 7, 5),
            items,
            "within the cap: all, every cycle"
        );
        assert_eq!(in_turn(&items, 0, 2), [0, 1]);
        assert_eq!(in_turn(&items, 1, 2), [2, 3]);
        assert_eq!(in_turn(&items, 2, 2), [4, 0], "wraps");
        let mut seen = std::collections::BTreeSet::new();
        for cycle in 0..3 {
            seen.extend(in_turn(&items, cycle, 2));
        }
        assert_eq!(seen.len(), 5, "every one within ceil(5 / 2) cycles");
        assert!(in_turn::<u32>(&[], 3, 2).is_empty());
        assert_eq!(in_turn(&items, u64::MAX, 2).len(), 2);
    }

    #[test]
    fn backoff_honours_retry_after_else_grows_with_jitter_to_a_cap() {
        let mut b = RateLimitBackoff::new(Duration::from_secs(10));
        assert_eq!(b.next(Some(Duration::from_secs(3))), Duration::from_secs(3));
        assert_eq!(
            b.next(Some(Duration::from_secs(60))),
            Duration::from_secs(10)
        );
        b.reset();
        let first = b.next(None);
        assert!(first >= Duration::from_millis(800) && first <= Duration::from_millis(1200));
        let second = b.next(None);
        assert!(second >= Duration::from_millis(1600) && second <= Duration::from_millis(2400));
        for _ in 0..10 {
            assert!(b.next(None) <= Duration::from_secs(10));
        }
    }
}
