//! Wiring of a running exporter: one supervised collector task per cluster, one supervised
//! measurer thread per cluster with a `kafka` section, the shared exposition, the HTTP server,
//! and shutdown. Workers never stop each other: each has its own stop signal, and the
//! shutdown signals (a watch channel for tasks, a [`StopSignal`] for threads) are set only
//! here, by [`Exporter::shutdown`].

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::collect::{supervise_collector, Collector, StatusBoard};
use crate::config::{Config, ConfigError};
use crate::http::{serve, AppState, ServeLimits, WebOptions};
use crate::kafka::measure::{Measurer, MeasurerHandle};
use crate::metrics::Exposition;
use crate::supervise::{install_panic_hook, StopSignal};

/// Starting the exporter failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// librdkafka refuses a `kafka` section (see [`crate::kafka::client::check`]).
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("config: clusters[{index}].{key}")]
    Client { index: usize, key: String },
    #[error("cannot start the Kafka measurements of cluster {cluster}: {source}")]
    Thread {
        cluster: String,
        source: std::io::Error,
    },
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
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
    pub async fn start(
        config: Config,
        listen_address: &str,
        telemetry_path: &str,
    ) -> Result<Self, StartError> {
        let web = WebOptions {
            listen_address: listen_address.to_owned(),
            telemetry_path: telemetry_path.to_owned(),
            limits: ServeLimits::default(),
        };
        Self::start_with(config, &web).await
    }

    /// [`Exporter::start`] with every `--web.*` option, the HTTP server's limits included.
    /// Nothing starts if librdkafka refuses a `kafka` section ([`StartError::Config`]).
    pub async fn start_with(config: Config, web: &WebOptions) -> Result<Self, StartError> {
        let (listen_address, telemetry_path) =
            (web.listen_address.as_str(), web.telemetry_path.as_str());
        crate::kafka::client::check(&config)?;
        let names: Vec<String> = config.clusters.iter().map(|c| c.name.clone()).collect();
        let exposition = Arc::new(Exposition::new(&names));
        let status: StatusBoard = Arc::new(RwLock::new(Default::default()));
        let (shutdown, stop) = watch::channel(false);
        let mut collectors = Vec::new();
        install_panic_hook();
        let thread_shutdown = StopSignal::new();
        let mut measurers = Vec::new();
        for (index, cluster) in config.clusters.into_iter().enumerate() {
            let mut collector = Collector::new(cluster.clone(), exposition.clone(), status.clone())
                .map_err(|e| StartError::Client {
                    index,
                    key: e.to_string(),
                })?;
            if cluster.kafka.is_some() {
                let (sender, receiver) = std::sync::mpsc::channel();
                let name = cluster.name.clone();
                measurers.push(
                    Measurer::spawn(
                        cluster,
                        config.source_clusters.clone(),
                        exposition.clone(),
                        receiver,
                        thread_shutdown.clone(),
                    )
                    .map_err(|source| StartError::Thread {
                        cluster: name,
                        source,
                    })?,
                );
                collector = collector.with_kafka(sender);
            }
            collectors.push(collector);
        }
        let listener =
            TcpListener::bind(listen_address)
                .await
                .map_err(|source| StartError::Listen {
                    address: listen_address.to_owned(),
                    source,
                })?;
        let address = listener.local_addr().map_err(|source| StartError::Listen {
            address: listen_address.to_owned(),
            source,
        })?;
        let mut tasks = JoinSet::new();
        for c in collectors {
            tasks.spawn(supervise_collector(c, stop.clone()));
        }
        let state = AppState {
            exposition: exposition.clone(),
            status: status.clone(),
            telemetry_path: telemetry_path.to_owned(),
            limits: web.limits,
        };
        tasks.spawn(serve(listener, state, stop));
        tracing::info!(%address, telemetry_path, "serving");
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

    pub fn exposition(&self) -> &Arc<Exposition> {
        &self.exposition
    }

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
