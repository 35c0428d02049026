//! Wiring of a running exporter: the self-metrics each component registers ([`Telemetry`]),
//! one supervised collector task per cluster, one supervised measurer thread per cluster with
//! a `kafka` section, the shared exposition, the HTTP server, and shutdown. Workers never stop
//! each other: each has its own stop signal, and the shutdown signals (a watch channel for
//! tasks, a [`StopSignal`] for threads) are set only here, by [`Exporter::shutdown`].

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::collect::{self, supervise_collector, CollectMetrics, Collector};
use crate::config::{Config, ConfigError};
use crate::http::{serve, AppState, HttpMetrics, ServeLimits, WebOptions};
use crate::kafka::measure::{Measurer, MeasurerHandle};
use crate::kafka::{self, KafkaMetrics, ProbeMetrics};
use crate::process::ProcessCollector;
use crate::render::{register_build_info, Exposition};
use crate::status::StatusBoard;
use crate::supervise::{install_panic_hook, StopSignal, WorkerRestarts};
use crate::web_config::WebGuard;

/// The self-metrics, each family registered by the component that records it, and the
/// exposition that serves them with the clusters' rendered series. Cloning shares them.
#[derive(Clone, Debug)]
pub struct Telemetry {
    /// What `/metrics` serves.
    pub exposition: Arc<Exposition>,
    /// The collectors' families.
    pub collect: CollectMetrics,
    /// The supervisors' restart counter.
    pub restarts: WorkerRestarts,
    /// The HTTP server's families.
    pub http: HttpMetrics,
    /// The measurers' families.
    pub kafka: KafkaMetrics,
    /// The probes' families.
    pub probe: ProbeMetrics,
}

impl Telemetry {
    /// Every family registered (in output order): the standard `process_*` families without a
    /// prefix, then the components' under the `clusterlink` prefix, with each of `clusters`'
    /// per-cluster series that start at 0 written.
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
        Self {
            exposition: Arc::new(Exposition::new(root)),
            collect,
            restarts,
            http,
            kafka,
            probe,
        }
    }

    /// Where a collector reports.
    pub fn collector_outputs(&self, status: &StatusBoard) -> collect::Outputs {
        collect::Outputs {
            publish: self.exposition.clone(),
            metrics: self.collect.clone(),
            restarts: self.restarts.clone(),
            status: status.clone(),
        }
    }

    /// Where a measurer and its probes report.
    pub fn kafka_outputs(&self) -> kafka::Outputs {
        kafka::Outputs {
            publish: self.exposition.clone(),
            metrics: self.kafka.clone(),
            probe: self.probe.clone(),
            restarts: self.restarts.clone(),
        }
    }
}

/// Starting the exporter failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// librdkafka refuses a `kafka` section (see [`crate::kafka::client::check`]).
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

/// A running exporter.
#[derive(Debug)]
pub struct Exporter {
    address: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
    exposition: Arc<Exposition>,
    status: StatusBoard,
    /// The shutdown of the Kafka-side threads (measurers and probes); no worker sets it.
    thread_shutdown: StopSignal,
    measurers: Vec<MeasurerHandle>,
}

impl Exporter {
    /// Binds `listen_address`, starts one collector per cluster and serves HTTP with the
    /// default [`ServeLimits`].
    ///
    /// # Errors
    /// See [`Exporter::start_with`].
    pub async fn start(
        config: Config,
        listen_address: &str,
        telemetry_path: &str,
    ) -> Result<Self, StartError> {
        let web = WebOptions {
            listen_address: listen_address.to_owned(),
            telemetry_path: telemetry_path.to_owned(),
            limits: ServeLimits::default(),
            web_config_file: None,
        };
        Self::start_with(config, &web).await
    }

    /// [`Exporter::start`] with every `--web.*` option, the HTTP server's limits included.
    /// Nothing starts if librdkafka refuses a `kafka` section ([`StartError::Config`]).
    ///
    /// # Errors
    /// librdkafka refuses a `kafka` section, a cluster's REST client cannot be built, a
    /// measurer thread cannot start, or the listener cannot be bound.
    pub async fn start_with(config: Config, web: &WebOptions) -> Result<Self, StartError> {
        let (listen_address, telemetry_path) =
            (web.listen_address.as_str(), web.telemetry_path.as_str());
        crate::kafka::client::check(&config)?;
        let web_guard = match &web.web_config_file {
            Some(path) => Some(Arc::new(WebGuard::load(path)?)),
            None => None,
        };
        let tls = web_guard.as_ref().is_some_and(|g| g.uses_tls());
        let names: Vec<String> = config.clusters.iter().map(|c| c.name.clone()).collect();
        let telemetry = Telemetry::new(&names);
        let exposition = telemetry.exposition.clone();
        let status: StatusBoard = Arc::new(RwLock::new(Default::default()));
        let (shutdown, stop) = watch::channel(false);
        install_panic_hook();
        let thread_shutdown = StopSignal::new();
        let (collectors, measurers) = workers(config, &telemetry, &status, &thread_shutdown)?;
        let (listener, address) = bind(listen_address).await?;
        let mut tasks = JoinSet::new();
        for c in collectors {
            tasks.spawn(supervise_collector(c, stop.clone()));
        }
        let state = AppState {
            exposition: exposition.clone(),
            status: status.clone(),
            metrics: telemetry.http.clone(),
            telemetry_path: telemetry_path.to_owned(),
            limits: web.limits,
            web: web_guard,
        };
        tasks.spawn(serve(listener, state, stop));
        tracing::info!(%address, telemetry_path, tls, "serving");
        Ok(Self {
            address,
            shutdown,
            tasks,
            exposition,
            status,
            thread_shutdown,
            measurers,
        })
    }

    /// The address the HTTP server listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// What `/metrics` serves.
    pub fn exposition(&self) -> &Arc<Exposition> {
        &self.exposition
    }

    /// What `/` and `/-/ready` show.
    pub fn status(&self) -> &StatusBoard {
        &self.status
    }

    /// Stops collectors and the server; open HTTP requests finish first.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        self.thread_shutdown.stop();
        while self.tasks.join_next().await.is_some() {}
        let measurers = std::mem::take(&mut self.measurers);
        // Joining waits for blocking librdkafka calls: not on a runtime worker.
        let _ = tokio::task::spawn_blocking(move || {
            for m in measurers {
                m.join();
            }
        })
        .await;
    }
}

/// One collector per cluster and, for a cluster with a `kafka` section, its measurer thread
/// (started) fed by the collector.
fn workers(
    config: Config,
    telemetry: &Telemetry,
    status: &StatusBoard,
    thread_shutdown: &StopSignal,
) -> Result<(Vec<Collector>, Vec<MeasurerHandle>), StartError> {
    let mut collectors = Vec::new();
    let mut measurers = Vec::new();
    for (index, cluster) in config.clusters.into_iter().enumerate() {
        let mut collector = Collector::new(cluster.clone(), telemetry.collector_outputs(status))
            .map_err(|e| StartError::Client {
                index,
                key: e.to_string(),
            })?;
        if cluster.kafka.is_some() {
            let (sender, receiver) = std::sync::mpsc::channel();
            let name = cluster.name.clone();
            let sources = config.source_clusters.clone();
            let outputs = telemetry.kafka_outputs();
            let measurer =
                Measurer::spawn(cluster, sources, outputs, receiver, thread_shutdown.clone())
                    .map_err(|source| StartError::Thread {
                        cluster: name,
                        source,
                    })?;
            measurers.push(measurer);
            collector = collector.with_kafka(sender);
        }
        collectors.push(collector);
    }
    Ok((collectors, measurers))
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
}
