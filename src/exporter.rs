//! Wiring of a running exporter, started one way ([`Exporter::start`] with
//! [`ExporterOptions`]): the self-metrics each component registers, the exposition and the
//! status store ([`Telemetry`]), one supervised collector task per cluster, one supervised
//! measurer thread per cluster with a `kafka` section, the HTTP server, live reloads
//! ([`Exporter::reload`]) and shutdown. A cluster's series are started, stopped and forgotten
//! by looping over the components that own them ([`Telemetry::series`], [`ClusterSeries`]);
//! the exporter removes no series itself. Workers never stop each other. Each cluster's workers
//! stop on their own, without touching the other clusters' (a reload cancels the collector
//! task, which closes its measurer's snapshot channel); the shutdown signals (a watch channel
//! for tasks, a [`StopSignal`] for threads) are set only here, by [`Exporter::shutdown`].

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::{watch, Mutex};
use tokio::task::{JoinHandle, JoinSet};

use crate::collect::{self, supervise_collector, CollectMetrics, Collector};
use crate::config::{Config, ConfigError};
use crate::http::{serve, AppState, HttpMetrics, Lifecycle, WebOptions};
use crate::kafka::measure::{Measurer, MeasurerHandle};
use crate::kafka::{self, KafkaMetrics, ProbeMetrics};
use crate::process::ProcessCollector;
use crate::readiness::Readiness;
use crate::references::References;
use crate::reload::{ClusterSetup, Plan, ReloadMetrics};
use crate::render::{register_build_info, Exposition};
use crate::series::ClusterSeries;
use crate::shard::{ShardMetrics, Sharding};
use crate::snapshot::{Fanout, Publish};
use crate::status::StatusStore;
use crate::supervise::{install_panic_hook, StopSignal, WorkerRestarts};
use crate::web_config::WebGuard;

/// The self-metrics, each family registered by the component that records it, the
/// exposition that serves them with the clusters' rendered series, and the status data.
/// Cloning shares them.
#[derive(Clone, Debug)]
pub struct Telemetry {
    /// What `/metrics` serves.
    pub exposition: Arc<Exposition>,
    /// What `/`, `/status.json` and `/-/ready` show.
    pub(crate) status: StatusStore,
    /// Fail-over readiness, assessed at each publication into the two above.
    pub(crate) readiness: Arc<Readiness>,
    /// The configuration's references, checked at each publication.
    pub(crate) references: Arc<References>,
    /// The collectors' families.
    pub(crate) collect: CollectMetrics,
    /// The supervisors' restart counter.
    pub(crate) restarts: WorkerRestarts,
    /// The HTTP server's families.
    pub(crate) http: HttpMetrics,
    /// The measurers' families.
    pub(crate) kafka: KafkaMetrics,
    /// The probes' families.
    pub(crate) probe: ProbeMetrics,
    /// The configuration reloads' families.
    pub(crate) reload: ReloadMetrics,
    /// The shard's families.
    pub(crate) shard: ShardMetrics,
}

impl Telemetry {
    /// Every family registered (in output order): the standard `process_*` families without a
    /// prefix, then the components' under the `clusterlink` prefix, with the collection's
    /// start values of `clusters` written (for telemetry used without an exporter: tests,
    /// tools; the exporter starts each cluster's series when it launches it).
    pub fn new(clusters: &[String]) -> Self {
        let mut root = Registry::default();
        ProcessCollector::register(&mut root);
        let registry = root.sub_registry_with_prefix("clusterlink");
        register_build_info(registry);
        let collect = CollectMetrics::register(registry, clusters);
        let restarts = WorkerRestarts::register(registry);
        let http = HttpMetrics::register(registry);
        let kafka = KafkaMetrics::register(registry);
        let probe = ProbeMetrics::register(registry);
        let reload = ReloadMetrics::register(registry);
        let shard = ShardMetrics::register(registry);
        let status = StatusStore::new();
        let references = Arc::new(References::register(registry, status.clone()));
        let exposition = Arc::new(Exposition::new(root));
        let readiness = Arc::new(Readiness::new(exposition.clone(), status.clone()));
        Self {
            exposition,
            status,
            readiness,
            references,
            collect,
            restarts,
            http,
            kafka,
            probe,
            reload,
            shard,
        }
    }

    /// Where the workers publish their snapshots: the exposition, the status store, then
    /// readiness and the configuration's references (which read the snapshots the store just
    /// kept).
    fn publisher(&self) -> Arc<dyn Publish> {
        let status: Arc<dyn Publish> = Arc::new(self.status.clone());
        Arc::new(Fanout::new(vec![
            self.exposition.clone(),
            status,
            self.readiness.clone(),
            self.references.clone(),
        ]))
    }

    /// Where a collector reports.
    pub(crate) fn collector_outputs(&self) -> collect::CollectorOutputs {
        collect::CollectorOutputs {
            publish: self.publisher(),
            metrics: self.collect.clone(),
            restarts: self.restarts.clone(),
            status: self.status.clone(),
        }
    }

    /// Where a measurer and its probes report.
    pub(crate) fn kafka_outputs(&self) -> kafka::MeasurerOutputs {
        kafka::MeasurerOutputs {
            publish: self.publisher(),
            metrics: self.kafka.clone(),
            probe: self.probe.clone(),
            restarts: self.restarts.clone(),
            status: self.status.clone(),
        }
    }

    /// Every component that keeps per-cluster series: the exporter starts, stops and forgets
    /// a cluster by calling each in turn.
    pub(crate) fn series(&self) -> [&dyn ClusterSeries; 8] {
        [
            &self.collect,
            &self.restarts,
            &self.kafka,
            &self.probe,
            &*self.exposition,
            &self.status,
            &*self.readiness,
            &*self.references,
        ]
    }
}

/// Starting the exporter failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// librdkafka refuses a `kafka` section (see [`crate::kafka::librdkafka::check`]).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A cluster's REST client cannot be built.
    #[error("config: clusters[{index}].{key}")]
    Client {
        /// The cluster's index in `clusters`.
        index: usize,
        /// The key at fault and the problem.
        key: String,
    },
    /// A measurer thread cannot start.
    #[error("cannot start the Kafka measurements of cluster {cluster}: {source}")]
    Thread {
        /// The cluster's name.
        cluster: String,
        /// Why the thread did not start.
        source: std::io::Error,
    },
    /// `--web.config.file` is unusable.
    #[error(transparent)]
    WebConfig(#[from] crate::web_config::WebConfigError),
    /// The listener cannot be bound.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// `--web.listen-address`.
        address: String,
        /// Why binding failed.
        source: std::io::Error,
    },
}

/// A reload was rejected; the running configuration stays.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The exporter was started from a configuration built in code: there is no file to read.
    #[error("no configuration file to reload (the exporter was started without --config)")]
    NoFile,
    /// The exporter is shutting down.
    #[error("the exporter is shutting down")]
    ShuttingDown,
    /// The file is invalid, or librdkafka refuses a `kafka` section.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A cluster's workers cannot be built or started.
    #[error(transparent)]
    Start(#[from] StartError),
}

/// What an exporter is started with ([`Exporter::start`]): its configuration, the `--web.*`
/// options, the file the configuration was loaded from (what a reload reads again) and its
/// shard. Built with [`ExporterOptions::new`] and the setters, or field by field.
#[derive(Debug, Clone)]
pub struct ExporterOptions {
    /// The configuration to run.
    pub config: Config,
    /// Where and how to serve HTTP (default: a free port on `127.0.0.1`, `/metrics`; see
    /// [`WebOptions::default`]).
    pub web: WebOptions,
    /// The file `config` was loaded from: reloads ([`Exporter::reload_file`], SIGHUP,
    /// `POST /-/reload` with `--web.enable-lifecycle`) read it again. `None` (the default):
    /// a reload from a file fails with [`ReloadError::NoFile`].
    pub config_file: Option<PathBuf>,
    /// Which clusters of `config` (and of every reloaded configuration) this process
    /// collects; the others are only counted in the shard self-metrics (`ShardMetrics`).
    /// Default: shard 0 of 1, every cluster.
    pub sharding: Sharding,
}

impl ExporterOptions {
    /// `config` with the default web options, no configuration file and no sharding.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            web: WebOptions::default(),
            config_file: None,
            sharding: Sharding::default(),
        }
    }

    /// Serves HTTP as `web` says.
    pub fn web(mut self, web: WebOptions) -> Self {
        self.web = web;
        self
    }

    /// Reloads read `path` again.
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_file = Some(path.into());
        self
    }

    /// Collects only `sharding`'s clusters.
    pub fn sharding(mut self, sharding: Sharding) -> Self {
        self.sharding = sharding;
        self
    }
}

/// A running exporter.
#[derive(Debug)]
pub struct Exporter {
    address: SocketAddr,
    tls: bool,
    shutdown: watch::Sender<bool>,
    server: JoinSet<()>,
    telemetry: Telemetry,
    clusters: Arc<ReloadController>,
}

impl Exporter {
    /// Starts an exporter: checks every `kafka` section with librdkafka (nothing starts if
    /// one is refused, [`StartError::Config`]; other shards' are checked too), launches the
    /// workers of this shard's clusters (one collector task each, and a measurer thread for
    /// a cluster with a `kafka` section), binds the listener and serves HTTP.
    ///
    /// # Errors
    /// librdkafka refuses a `kafka` section, a cluster's REST client cannot be built, a
    /// measurer thread cannot start, `--web.config.file` is unusable, or the listener cannot
    /// be bound.
    pub async fn start(options: ExporterOptions) -> Result<Self, StartError> {
        let ExporterOptions {
            config,
            web,
            config_file,
            sharding,
        } = options;
        crate::kafka::librdkafka::check(&config)?;
        let web_guard = match &web.web_config_file {
            Some(path) => Some(Arc::new(WebGuard::load(path)?)),
            None => None,
        };
        let telemetry = Telemetry::new(&[]);
        let config = assign_shard(&telemetry, &sharding, config);
        let sharded = sharding.total().get() > 1;
        telemetry.references.set_destinations(&config, sharded);
        telemetry.status.set_runbook_base(runbook_base(&config));
        let (shutdown, stop) = watch::channel(false);
        install_panic_hook();
        let clusters = Arc::new(ReloadController {
            running: Mutex::new(BTreeMap::new()),
            telemetry: telemetry.clone(),
            stop: stop.clone(),
            thread_shutdown: StopSignal::new(),
            config_file,
            sharding,
        });
        // Built (and checked) before the listener is bound, launched after: a failure leaves
        // nothing running.
        let every: BTreeSet<String> = cluster_names(&config).into_iter().collect();
        let built = clusters.build(&config, &every)?;
        let (listener, address) = bind(&web.listen_address).await?;
        clusters.launch_all(built).await?;
        let tls = web_guard.as_ref().is_some_and(|g| g.uses_tls());
        let state = app_state(&telemetry, &web, &clusters, web_guard);
        let mut server = JoinSet::new();
        server.spawn(serve(listener, state, stop));
        tracing::info!(%address, telemetry_path = web.telemetry_path.as_str(), tls, "serving");
        Ok(Self {
            address,
            tls,
            shutdown,
            server,
            telemetry,
            clusters,
        })
    }

    /// Whether the HTTP server serves TLS (`--web.config.file` with a `tls_server_config`, as
    /// read at start).
    pub fn uses_tls(&self) -> bool {
        self.tls
    }

    /// The address the HTTP server listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// What `/metrics` serves.
    pub fn exposition(&self) -> &Arc<Exposition> {
        &self.telemetry.exposition
    }

    /// What `/`, `/status.json` and `/-/ready` show.
    pub fn status(&self) -> &StatusStore {
        &self.telemetry.status
    }

    /// Applies `config` to the running clusters, compared by name ([`Plan`]): added clusters
    /// start, removed ones stop and their series (rendered and self-metrics) are withdrawn,
    /// changed ones restart, unchanged ones keep running untouched. A configuration
    /// librdkafka refuses, or with a cluster whose REST client cannot be built, is rejected
    /// before anything changes. Records the outcome in `ReloadMetrics` and logs it.
    ///
    /// # Errors
    /// The configuration is rejected (the running one stays), or the exporter is shutting
    /// down.
    pub async fn reload(&self, config: Config) -> Result<Plan, ReloadError> {
        self.clusters.reload(config).await
    }

    /// Reads the configuration file again and applies it as [`Exporter::reload`] does; an
    /// invalid file is rejected with the key at fault named, and the running configuration
    /// stays.
    ///
    /// # Errors
    /// No file (see [`ExporterOptions::config_file`]), an invalid file, or as
    /// [`Exporter::reload`].
    pub async fn reload_file(&self) -> Result<Plan, ReloadError> {
        self.clusters.reload_file().await
    }

    /// Stops collectors and the server; open HTTP requests finish first.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        self.clusters.thread_shutdown.stop();
        let workers = std::mem::take(&mut *self.clusters.running.lock().await);
        let mut measurers = Vec::new();
        for (_, w) in workers {
            let _ = w.collector.await;
            measurers.extend(w.measurer);
        }
        while self.server.join_next().await.is_some() {}
        // Joining waits for blocking librdkafka calls: not on a runtime worker.
        let _ = tokio::task::spawn_blocking(move || {
            for m in measurers {
                m.join();
            }
        })
        .await;
    }
}

/// Records `sharding`'s share of `config` in the shard self-metrics, logs it, and returns
/// `config` cut to this shard's clusters.
fn assign_shard(telemetry: &Telemetry, sharding: &Sharding, config: Config) -> Config {
    let configured = cluster_names(&config);
    let config = sharding.retain(config);
    telemetry.shard.record(sharding, &configured);
    crate::shard::warn_if_idle(sharding, &configured);
    tracing::info!(
        shard = sharding.ordinal(),
        total_shards = sharding.total().get(),
        configured = configured.len(),
        assigned = config.clusters.len(),
        "clusters assigned to this shard"
    );
    config
}

/// What the HTTP server reads.
fn app_state(
    telemetry: &Telemetry,
    web: &WebOptions,
    clusters: &Arc<ReloadController>,
    web_guard: Option<Arc<WebGuard>>,
) -> AppState {
    AppState {
        exposition: telemetry.exposition.clone(),
        status: telemetry.status.clone(),
        metrics: telemetry.http.clone(),
        sharding: clusters.sharding,
        shard: telemetry.shard.clone(),
        telemetry_path: web.telemetry_path.clone(),
        limits: web.limits,
        lifecycle: web.enable_lifecycle.then(|| lifecycle(clusters)),
        web: web_guard,
        handshake_log: Default::default(),
    }
}

/// The `POST /-/reload` handler's way to [`ReloadController::reload_file`].
fn lifecycle(clusters: &Arc<ReloadController>) -> Lifecycle {
    let clusters = clusters.clone();
    Lifecycle::new(move || {
        let clusters = clusters.clone();
        Box::pin(async move {
            clusters
                .reload_file()
                .await
                .map(|plan| plan.to_string())
                .map_err(|e| e.to_string())
        })
    })
}

/// One cluster's running workers.
#[derive(Debug)]
struct Workers {
    setup: ClusterSetup,
    collector: JoinHandle<()>,
    measurer: Option<MeasurerHandle>,
}

/// The running clusters and what it takes to change them: shared by the exporter and the
/// `POST /-/reload` handler. Reloads take turns (the lock on `running`).
struct ReloadController {
    running: Mutex<BTreeMap<String, Workers>>,
    telemetry: Telemetry,
    /// The exporter's shutdown, for the collector tasks.
    stop: watch::Receiver<bool>,
    /// The shutdown of the Kafka-side threads (measurers and probes); no worker sets it. A
    /// measurer's own stop is its snapshot channel closing (its collector gone).
    thread_shutdown: StopSignal,
    config_file: Option<PathBuf>,
    /// Which clusters of a configuration this process collects.
    sharding: Sharding,
}

impl std::fmt::Debug for ReloadController {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadController")
            .field("config_file", &self.config_file)
            .field("sharding", &self.sharding)
            .finish_non_exhaustive()
    }
}

impl ReloadController {
    /// The collectors of the clusters of `config` named in `names`, not started.
    fn build(
        &self,
        config: &Config,
        names: &BTreeSet<String>,
    ) -> Result<Vec<(ClusterSetup, Collector)>, StartError> {
        let mut setups = ClusterSetup::of(config);
        let mut built = Vec::new();
        for (index, cluster) in config.clusters.iter().enumerate() {
            let Some(setup) = names.get(&cluster.name).and_then(|n| setups.remove(n)) else {
                continue;
            };
            let outputs = self.telemetry.collector_outputs();
            let collector =
                Collector::new(cluster.clone(), outputs).map_err(|e| StartError::Client {
                    index,
                    key: e.to_string(),
                })?;
            built.push((setup, collector));
        }
        Ok(built)
    }

    /// Launches built collectors (at start).
    async fn launch_all(&self, built: Vec<(ClusterSetup, Collector)>) -> Result<(), StartError> {
        let mut running = self.running.lock().await;
        for (setup, collector) in built {
            let name = setup.cluster.name.clone();
            running.insert(name, self.launch(setup, collector)?);
        }
        Ok(())
    }

    /// Starts the cluster's series on every component, then a built collector and, for a
    /// cluster with a `kafka` section, its measurer.
    fn launch(&self, setup: ClusterSetup, collector: Collector) -> Result<Workers, StartError> {
        for series in self.telemetry.series() {
            series.start_cluster(&setup);
        }
        let mut collector = collector;
        let mut measurer = None;
        if setup.cluster.kafka.is_some() {
            let (sender, receiver) = std::sync::mpsc::channel();
            let outputs = self.telemetry.kafka_outputs();
            let spawned = Measurer::spawn(
                setup.cluster.clone(),
                setup.sources.clone(),
                outputs,
                receiver,
                self.thread_shutdown.clone(),
            );
            measurer = Some(spawned.map_err(|source| StartError::Thread {
                cluster: setup.cluster.name.clone(),
                source,
            })?);
            collector = collector.with_kafka(sender);
        }
        let collector = tokio::spawn(supervise_collector(collector, self.stop.clone()));
        Ok(Workers {
            setup,
            collector,
            measurer,
        })
    }

    /// [`Exporter::reload_file`].
    async fn reload_file(&self) -> Result<Plan, ReloadError> {
        let loaded = match &self.config_file {
            Some(path) => Config::load(path).map_err(ReloadError::from),
            None => Err(ReloadError::NoFile),
        };
        match loaded {
            Ok(config) => self.reload(config).await,
            Err(e) => Err(self.rejected(e)),
        }
    }

    /// [`Exporter::reload`].
    async fn reload(&self, config: Config) -> Result<Plan, ReloadError> {
        match self.apply(config).await {
            Ok(plan) => {
                self.telemetry.reload.record(true);
                tracing::info!(
                    added = ?plan.added,
                    removed = ?plan.removed,
                    changed = ?plan.changed,
                    unchanged = ?plan.unchanged,
                    "configuration reloaded"
                );
                Ok(plan)
            }
            Err(e) => Err(self.rejected(e)),
        }
    }

    /// Records and logs a rejected reload.
    fn rejected(&self, e: ReloadError) -> ReloadError {
        self.telemetry.reload.record(false);
        tracing::error!(error = %e, "configuration reload failed; the running configuration stays");
        e
    }

    /// Applies `config`: see [`Exporter::reload`].
    async fn apply(&self, config: Config) -> Result<Plan, ReloadError> {
        crate::kafka::librdkafka::check(&config)?;
        let configured = cluster_names(&config);
        let config = self.sharding.retain(config);
        let mut running = self.running.lock().await;
        if *self.stop.borrow() {
            return Err(ReloadError::ShuttingDown);
        }
        let current = running
            .iter()
            .map(|(name, w)| (name.clone(), w.setup.clone()))
            .collect();
        let plan = Plan::diff(&current, &ClusterSetup::of(&config));
        let starting: BTreeSet<String> = plan.added.iter().chain(&plan.changed).cloned().collect();
        let built = self.build(&config, &starting)?;
        let sharded = self.sharding.total().get() > 1;
        self.telemetry.references.set_destinations(&config, sharded);
        let (added, changed): (Vec<_>, Vec<_>) = built
            .into_iter()
            .partition(|(setup, _)| plan.added.contains(&setup.cluster.name));
        // Added clusters first: they do not wait for others to stop.
        for (setup, collector) in added {
            let name = setup.cluster.name.clone();
            running.insert(name, self.launch(setup, collector)?);
        }
        let stopping: Vec<Workers> = plan
            .removed
            .iter()
            .chain(&plan.changed)
            .filter_map(|name| running.remove(name))
            .collect();
        let stopped = self.stop_all(stopping).await;
        for setup in stopped
            .iter()
            .filter(|s| plan.removed.contains(&s.cluster.name))
        {
            for series in self.telemetry.series() {
                series.forget_cluster(setup);
            }
        }
        for (setup, collector) in changed {
            let name = setup.cluster.name.clone();
            running.insert(name, self.launch(setup, collector)?);
        }
        self.telemetry.shard.record(&self.sharding, &configured);
        crate::shard::warn_if_idle(&self.sharding, &configured);
        self.telemetry
            .status
            .set_runbook_base(runbook_base(&config));
        Ok(plan)
    }

    /// Stops clusters' workers, all at once, then each component drops the gauges they wrote
    /// ([`ClusterSeries::stop_cluster`]: a `clusterlink_kafka_up` must not outlive its
    /// measurer; counters stay). Returns the stopped clusters' setups.
    async fn stop_all(&self, stopping: Vec<Workers>) -> Vec<ClusterSetup> {
        let setups: Vec<ClusterSetup> = stopping.iter().map(|w| w.setup.clone()).collect();
        futures::future::join_all(stopping.into_iter().map(stop_workers)).await;
        for setup in &setups {
            for series in self.telemetry.series() {
                series.stop_cluster(setup);
            }
        }
        setups
    }
}

/// Where `config` has the status page link its problems.
fn runbook_base(config: &Config) -> crate::status_page::runbook::RunbookBase {
    crate::status_page::runbook::RunbookBase::new(&config.status_page.runbook_base_url)
}

/// Stops a cluster's workers and waits for them: the collector task is cancelled (at once,
/// even in the middle of a hung request), which closes its measurer's snapshot channel; the
/// measurer thread ends after its current step and is joined off the runtime's workers.
async fn stop_workers(workers: Workers) {
    workers.collector.abort();
    let _ = workers.collector.await;
    if let Some(measurer) = workers.measurer {
        let _ = tokio::task::spawn_blocking(move || measurer.join()).await;
    }
}

/// The names of `config`'s clusters, in the file's order.
fn cluster_names(config: &Config) -> Vec<String> {
    config.clusters.iter().map(|c| c.name.clone()).collect()
}

/// The listener on `listen_address` and the address it got.
async fn bind(listen_address: &str) -> Result<(TcpListener, SocketAddr), StartError> {
    let failed = |source| StartError::Listen {
        address: listen_address.to_owned(),
        source,
    };
    let listener = TcpListener::bind(listen_address).await.map_err(failed)?;
    let address = listener.local_addr().map_err(failed)?;
    Ok((listener, address))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::RequestLabels;
    use crate::config::{ClusterConfig, KafkaConfig};
    use crate::kafka::metrics::{KafkaConnectionLabels, KafkaRequestLabels, ProbeLabels};
    use crate::kafka::{ClientKind, Role};
    use crate::supervise::Worker;
    use crate::util::ClusterLabels;

    #[test]
    fn telemetry_starts_every_cluster_down_with_every_error_reason_at_zero() {
        let t = Telemetry::new(&["a".to_owned(), "b".to_owned()]);
        // Families without a series are not written: give the empty ones one.
        let a = crate::util::ClusterLabels::of("a");
        t.collect.links.get_or_create(&a).set(2);
        t.restarts.counter("a", crate::supervise::Worker::Collector);
        t.kafka.cycles.get_or_create(&a).inc();
        let text = t.exposition.render();
        assert!(text.contains("# TYPE clusterlink_collection_errors counter"));
        for reason in crate::rest_client::CollectionErrorReason::ALL {
            for cluster in ["a", "b"] {
                let line = format!(
                    "clusterlink_collection_errors_total{{kafka_cluster=\"{cluster}\",reason=\"{reason}\"}} 0\n"
                );
                assert!(text.contains(&line), "no {line} in\n{text}");
            }
        }
        assert!(text.contains("clusterlink_up{kafka_cluster=\"a\"} 0\n"));
        assert!(text.contains("clusterlink_build_info{version=\""));
        assert_eq!(text.matches("# EOF").count(), 1);
        // Registered in this order: the exposition keeps it.
        let order = [
            "clusterlink_build_info",
            "clusterlink_up",
            "clusterlink_links",
            "clusterlink_exporter_worker_restarts",
            "clusterlink_http_accept_errors",
            "clusterlink_kafka_measurements",
            "clusterlink_probe_latency_seconds",
            "clusterlink_link_info",
        ];
        let at: Vec<usize> = order
            .iter()
            .map(|f| {
                text.find(&format!("# TYPE {f} "))
                    .unwrap_or_else(|| panic!("no {f} in\n{text}"))
            })
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{order:?} at {at:?}");
    }

    fn setup(name: &str) -> ClusterSetup {
        let mut cluster = ClusterConfig::platform(name, "http://a/kafka/v3");
        cluster.kafka = Some(KafkaConfig::new("localhost:9092"));
        ClusterSetup {
            cluster,
            sources: Vec::new(),
        }
    }

    /// Writes a series of `cluster` in every component, as its workers would.
    fn write(t: &Telemetry, cluster: &str) {
        let setup = setup(cluster);
        for series in t.series() {
            series.start_cluster(&setup);
        }
        let labels = ClusterLabels::of(cluster);
        t.collect.links.get_or_create(&labels).set(1);
        t.collect
            .requests
            .get_or_create(&RequestLabels {
                kafka_cluster: cluster.into(),
                endpoint: "links".into(),
                status: "200".into(),
            })
            .inc();
        t.restarts.counter(cluster, Worker::Collector).inc();
        let connection = KafkaConnectionLabels {
            kafka_cluster: cluster.into(),
            connection: "src".into(),
            role: Role::Source,
        };
        t.kafka.up.get_or_create(&connection).set(1);
        t.kafka.cycles.get_or_create(&labels).inc();
        t.kafka
            .requests
            .get_or_create(&KafkaRequestLabels {
                kafka_cluster: cluster.into(),
                connection: "src".into(),
                client: ClientKind::Watermarks,
                request: "ListOffsets".into(),
            })
            .inc();
        let probe = ProbeLabels {
            kafka_cluster: cluster.into(),
            link: "ab".into(),
        };
        t.probe.sent.get_or_create(&probe).inc();
        t.probe.sla.get_or_create(&probe).set(1.0);
        t.probe.latency.get_or_create(&probe, 1.0).observe(0.1);
        t.status
            .set_connection_up((cluster.into(), Role::Source, "src".into()), true);
        t.status
            .set_probe_received((cluster.into(), "ab".into()), 0.1, 1_000);
        let publish = t.publisher();
        publish.publish_rest(cluster, Some(Arc::default()));
        publish.publish_kafka(cluster, Some(Arc::default()));
    }

    fn lines_of(text: &str, cluster: &str) -> Vec<String> {
        let label = format!("kafka_cluster=\"{cluster}\"");
        text.lines()
            .filter(|l| l.contains(&label))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn a_stopped_cluster_keeps_its_counters_and_a_forgotten_one_loses_every_series() {
        let t = Telemetry::new(&[]);
        write(&t, "a");
        write(&t, "b");
        let before = t.exposition.render();
        assert!(before.contains("clusterlink_kafka_up{kafka_cluster=\"a\""));

        for series in t.series() {
            series.stop_cluster(&setup("a"));
        }
        let stopped = t.exposition.render();
        assert!(!stopped.contains("clusterlink_kafka_up{kafka_cluster=\"a\""));
        assert!(!stopped.contains("clusterlink_probe_sla_seconds{kafka_cluster=\"a\""));
        for kept in [
            "clusterlink_kafka_requests_total{kafka_cluster=\"a\"",
            "clusterlink_probe_records_sent_total{kafka_cluster=\"a\"",
            "clusterlink_up{kafka_cluster=\"a\"} 0",
        ] {
            assert!(stopped.contains(kept), "{kept} in\n{stopped}");
        }
        let data = t.status.read();
        assert!(data.connections_of("a").is_empty());
        assert!(data.probe("a", "ab").is_none());
        assert!(data.probe("b", "ab").is_some());

        for series in t.series() {
            series.forget_cluster(&setup("a"));
        }
        let text = t.exposition.render();
        assert_eq!(lines_of(&text, "a"), Vec::<String>::new());
        assert_eq!(lines_of(&text, "b"), lines_of(&before, "b"));
        let data = t.status.read();
        assert_eq!(t.status.clusters(), ["b"]);
        assert!(!data.snapshots.contains_key("a"));
        assert!(data.snapshots.contains_key("b"));
    }
}
