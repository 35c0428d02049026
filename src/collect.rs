//! Background collection: one task per destination cluster, on its interval with jitter, a
//! cycle never overlapping the previous one. A cycle reads the links, each link with its tasks
//! (concurrently, bounded), all mirrors in one call, and link configs every Nth cycle
//! (cached); it renders the cluster's metric text once and swaps it in. A failed cycle marks
//! only its cluster down, withdraws its link and mirror series, counts the error by reason and
//! logs the cause; a 429 backs the cluster off.
//!
//! The task runs under a supervisor ([`supervise_collector`]): a panic or an unexpected exit
//! marks the cluster down (`clusterlink_up 0`, series withdrawn), is logged and counted once,
//! and a new collector starts after a back-off.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use futures::stream::{self, StreamExt, TryStreamExt};
use rand::Rng;
use tokio::sync::watch;

use crate::config::{ClusterConfig, Flavour};
use crate::metrics::{
    render_cluster, ClusterData, ClusterLabels, Exposition, ReasonLabels, RequestLabels,
};
use crate::rest_client::{LinkConfigData, LinkData, RestClient, RestError};
use crate::supervise::{self, Failure, RestartBackoff, Worker};

/// What the landing page and readiness know about a cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterStatus {
    pub up: bool,
    pub cycles: u64,
    pub last_success: Option<SystemTime>,
    pub last_error: Option<String>,
    pub last_error_at: Option<SystemTime>,
}

/// Status of every cluster, by name.
pub type StatusBoard = Arc<RwLock<BTreeMap<String, ClusterStatus>>>;

/// Back-off after rate limiting: the server's `Retry-After`/`rateLimit-reset` when given,
/// else exponential from 1 s (doubling per consecutive 429) with ±20% jitter, capped.
#[derive(Debug)]
pub struct Backoff {
    consecutive: u32,
    cap: Duration,
}

impl Backoff {
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

    pub fn reset(&mut self) {
        self.consecutive = 0;
    }
}

/// One cluster's collector.
pub struct Collector {
    config: ClusterConfig,
    client: RestClient,
    exposition: Arc<Exposition>,
    status: StatusBoard,
    cluster_id: Option<String>,
    configs: BTreeMap<String, Vec<LinkConfigData>>,
    cycle: u64,
    backoff: Backoff,
    /// Where each successful cycle's data goes for the Kafka-side measurements.
    kafka: Option<std::sync::mpsc::Sender<Arc<ClusterData>>>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("cluster", &self.config.name)
            .finish_non_exhaustive()
    }
}

impl Collector {
    pub fn new(
        config: ClusterConfig,
        exposition: Arc<Exposition>,
        status: StatusBoard,
    ) -> Result<Self, crate::rest_client::ClientBuildError> {
        let observer = {
            let exposition = exposition.clone();
            let cluster = config.name.clone();
            Arc::new(move |endpoint: &'static str, status: u16| {
                exposition
                    .own
                    .requests
                    .get_or_create(&RequestLabels {
                        kafka_cluster: cluster.clone(),
                        endpoint: endpoint.into(),
                        status: status.to_string(),
                    })
                    .inc();
                if status == 429 {
                    exposition
                        .own
                        .throttled
                        .get_or_create(&ClusterLabels {
                            kafka_cluster: cluster.clone(),
                        })
                        .inc();
                }
            })
        };
        let client = RestClient::new(&config, observer)?;
        // A restarted collector keeps the cluster's history (cycles, last success).
        status
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(config.name.clone())
            .or_default();
        Ok(Self {
            cluster_id: config.cluster_id.clone(),
            backoff: Backoff::new(
                Duration::from_secs(300).max(config.poll_interval.saturating_mul(4)),
            ),
            config,
            client,
            exposition,
            status,
            configs: BTreeMap::new(),
            cycle: 0,
            kafka: None,
        })
    }

    /// Hands each successful cycle's data to a Kafka-side measurer.
    pub fn with_kafka(mut self, sender: std::sync::mpsc::Sender<Arc<ClusterData>>) -> Self {
        self.kafka = Some(sender);
        self
    }

    /// Collects until `shutdown` turns true.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let labels = ClusterLabels {
            kafka_cluster: self.config.name.clone(),
        };
        loop {
            supervise::checkpoint(&self.config.name, Worker::Collector);
            let started = Instant::now();
            let result = self.collect_once().await;
            let elapsed = started.elapsed();
            let own = &self.exposition.own;
            own.collection_duration
                .get_or_create(&labels)
                .set(elapsed.as_secs_f64());
            let mut extra_wait = Duration::ZERO;
            match result {
                Ok(data) => {
                    let rendered =
                        render_cluster(&self.config.name, &data, self.config.partition_metrics);
                    self.exposition
                        .set_cluster(&self.config.name, Some(rendered));
                    own.up.get_or_create(&labels).set(1);
                    own.link_count
                        .get_or_create(&labels)
                        .set(data.links.len() as i64);
                    let now = SystemTime::now();
                    own.last_success
                        .get_or_create(&labels)
                        .set(unix_seconds(now));
                    self.backoff.reset();
                    self.update_status(|s| {
                        s.up = true;
                        s.last_success = Some(now);
                    });
                    tracing::debug!(kafka_cluster = %self.config.name, links = data.links.len(), mirrors = data.mirrors.len(), elapsed_ms = elapsed.as_millis() as u64, "collection done");
                    if let Some(sender) = &self.kafka {
                        // The measurer thread is gone only when shutting down.
                        let _ = sender.send(Arc::new(data));
                    }
                }
                Err(e) => {
                    own.errors
                        .get_or_create(&ReasonLabels {
                            kafka_cluster: self.config.name.clone(),
                            reason: e.reason().into(),
                        })
                        .inc();
                    if let RestError::RateLimited { retry_after } = &e {
                        extra_wait = self.backoff.next(*retry_after);
                    }
                    tracing::warn!(
                        kafka_cluster = %self.config.name,
                        reason = e.reason(),
                        error = %e,
                        backoff_ms = extra_wait.as_millis() as u64,
                        "collection failed"
                    );
                    let message = format!("{}: {e}", e.reason());
                    mark_down(&self.exposition, &self.status, &self.config.name, message);
                }
            }
            own.backoff
                .get_or_create(&labels)
                .set(extra_wait.as_secs_f64());
            self.update_status(|s| s.cycles += 1);
            self.cycle += 1;
            let jitter = rand::rng().random_range(0.9..1.1);
            let next = self
                .config
                .poll_interval
                .mul_f64(jitter)
                .saturating_sub(elapsed);
            let wait = next.max(extra_wait);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = crate::http::stopped(&mut shutdown) => return,
            }
            own.backoff.get_or_create(&labels).set(0.0);
        }
    }

    /// What it takes to start this collector again after a failure.
    fn blueprint(&self) -> Blueprint {
        Blueprint {
            config: self.config.clone(),
            exposition: self.exposition.clone(),
            status: self.status.clone(),
            kafka: self.kafka.clone(),
        }
    }

    fn update_status(&self, f: impl FnOnce(&mut ClusterStatus)) {
        let mut board = self.status.write().unwrap_or_else(|e| e.into_inner());
        f(board.entry(self.config.name.clone()).or_default());
    }

    /// One collection cycle.
    pub async fn collect_once(&mut self) -> Result<ClusterData, RestError> {
        let cluster_id = match &self.cluster_id {
            Some(id) => id.clone(),
            None => {
                if self.config.flavour == Flavour::Cloud {
                    return Err(RestError::Other(
                        "Confluent Cloud needs cluster_id in the configuration".into(),
                    ));
                }
                let id = self.client.discover_cluster_id().await?;
                tracing::info!(kafka_cluster = %self.config.name, cluster_id = %id, "discovered cluster id");
                self.cluster_id = Some(id.clone());
                id
            }
        };
        let listed: Vec<LinkData> = self
            .client
            .links(&cluster_id)
            .await?
            .into_iter()
            // Confluent Platform keeps nameless UNMANAGED_SOURCE records: not addressable.
            .filter(|l| !l.link_name.is_empty() && self.config.links.allows(&l.link_name))
            .collect();
        let client = &self.client;
        let id = cluster_id.as_str();
        let detailed: Vec<Option<LinkData>> = stream::iter(listed)
            .map(|l| async move {
                match client.link_with_tasks(id, &l.link_name).await {
                    Ok(d) => Ok(Some(d)),
                    // Deleted between the two calls.
                    Err(RestError::Http { status: 404, .. }) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .buffered(self.config.max_concurrent_requests)
            .try_collect()
            .await?;
        let links: Vec<LinkData> = detailed.into_iter().flatten().collect();
        let mirrors = self
            .client
            .mirrors(&cluster_id)
            .await?
            .into_iter()
            .filter(|m| {
                !m.link_name.is_empty()
                    && links.iter().any(|l| l.link_name == m.link_name)
                    && self.config.mirror_topics.allows(&m.mirror_topic_name)
            })
            .collect();
        let refresh_configs = self.cycle % u64::from(self.config.link_configs_every) == 0
            || links
                .iter()
                .any(|l| !self.configs.contains_key(&l.link_name));
        if refresh_configs {
            let names: Vec<String> = links.iter().map(|l| l.link_name.clone()).collect();
            let fetched: Vec<(String, Option<Vec<LinkConfigData>>)> = stream::iter(names)
                .map(|name| async move {
                    match client.link_configs(id, &name).await {
                        Ok(c) => Ok((name, Some(c))),
                        Err(RestError::Http { status: 404, .. }) => Ok((name, None)),
                        Err(e) => Err(e),
                    }
                })
                .buffered(self.config.max_concurrent_requests)
                .try_collect()
                .await?;
            self.configs = fetched
                .into_iter()
                .filter_map(|(name, c)| c.map(|c| (name, c)))
                .collect();
        }
        Ok(ClusterData {
            configs: self
                .configs
                .iter()
                .filter(|(name, _)| links.iter().any(|l| &l.link_name == *name))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            links,
            mirrors,
        })
    }
}

/// The parts a new [`Collector`] of the same cluster is built from.
struct Blueprint {
    config: ClusterConfig,
    exposition: Arc<Exposition>,
    status: StatusBoard,
    kafka: Option<std::sync::mpsc::Sender<Arc<ClusterData>>>,
}

impl Blueprint {
    fn build(&self) -> Result<Collector, crate::rest_client::ClientBuildError> {
        let collector = Collector::new(
            self.config.clone(),
            self.exposition.clone(),
            self.status.clone(),
        )?;
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
        mark_down(
            &self.exposition,
            &self.status,
            name,
            format!("collector {failure}"),
        );
        supervise::restart_counter(&self.exposition, name, Worker::Collector).inc();
        tracing::error!(
            kafka_cluster = %name,
            worker = Worker::Collector.as_str(),
            error = %failure,
            restart_in_ms = restart_in.as_millis() as u64,
            "worker failed; marked the cluster down, restarting it"
        );
    }
}

/// A cluster whose collection failed (or whose collector crashed): `clusterlink_up 0`, its
/// REST series withdrawn rather than served stale as if current, and `message` on the status
/// page.
fn mark_down(exposition: &Exposition, status: &StatusBoard, cluster: &str, message: String) {
    exposition.set_cluster(cluster, None);
    exposition
        .own
        .up
        .get_or_create(&ClusterLabels {
            kafka_cluster: cluster.to_owned(),
        })
        .set(0);
    let mut board = status.write().unwrap_or_else(|e| e.into_inner());
    let s = board.entry(cluster.to_owned()).or_default();
    s.up = false;
    s.last_error = Some(message);
    s.last_error_at = Some(SystemTime::now());
}

/// Runs `first` and, after each panic or unexpected exit, a new collector of the same cluster
/// after a [`RestartBackoff`], until `shutdown` turns true.
pub async fn supervise_collector(first: Collector, mut shutdown: watch::Receiver<bool>) {
    let blueprint = first.blueprint();
    supervise::restart_counter(
        &blueprint.exposition,
        &blueprint.config.name,
        Worker::Collector,
    );
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
            _ = crate::http::stopped(&mut shutdown) => return,
        }
    }
}

fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_honours_retry_after_else_grows_with_jitter_to_a_cap() {
        let mut b = Backoff::new(Duration::from_secs(10));
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
