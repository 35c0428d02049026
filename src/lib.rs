//! cluster-link-exporter: a Prometheus exporter for Confluent Cluster Linking.
//!
//! Data flows one way, each module depending only on those to its left:
//!
//! ```text
//! config ─► collection (rest_client, collect, kafka) ─► snapshot ─► render ─► http
//! ```
//!
//! - [`config`]: the YAML configuration, validated up front;
//! - [`rest_client`]: Confluent's REST API v3, parsed defensively (the wire format stops
//!   there), errors by reason;
//! - [`collect`]: the background REST collection, one supervised task per cluster;
//! - [`kafka`]: Kafka-side measurements (watermarks, lag in seconds, offset sync, probe);
//! - [`snapshot`]: the per-cluster, per-cycle data collection hands to rendering;
//! - [`render`]: every per-cluster family rendered from the snapshots, and the pre-rendered
//!   exposition served at `/metrics`;
//! - [`process`]: the standard `process_*` families (CPU, memory, file descriptors, start
//!   time, threads), read from `/proc/self` at each scrape (Linux only);
//! - [`status`]: the status data (`StatusStore`): what the status page and readiness know
//!   about each cluster (collection outcome, latest snapshots, Kafka connections, probes);
//! - [`series`]: the life of a cluster's series (`ClusterSeries`, implemented by each
//!   component that keeps some) and `ClusterFamily`;
//! - [`status_page`]: the status page (`/`) and `/status.json`, built from the same
//!   snapshots as `/metrics`;
//! - [`tls`]: the one rustls crypto provider (*ring*) of the process;
//! - [`http`]: `/metrics`, `/`, `/status.json`, `/-/healthy`, `/-/ready`;
//! - [`supervise`]: per-worker supervision (panics caught, restart with back-off), stop
//!   signals and shutdown;
//! - [`reload`]: what a configuration reload changes, cluster by cluster, and its metrics;
//! - [`shard`]: which configured clusters this process collects when several share them
//!   (`--shard`, `--total-shards`), and the shard self-metrics;
//! - [`exporter`]: wiring (each component registers its own self-metrics), one way to start
//!   (`Exporter::start` with `ExporterOptions`), reloads and shutdown;
//! - [`util`]: durations, Unix time, closed sets of label values;
//! - [`web_config`]: `--web.config.file` (exporter-toolkit format): TLS, basic auth, headers;
//! - `demo` (with the default `sim` feature): the simulator's default scenario with an exporter
//!   pointed at it.
//!
//! The simulated Confluent clusters that the tests and `demo` run against are a separate crate
//! of this workspace, `cluster_link_sim` (`sim/`); the `sim` feature links it in.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod collect;
pub mod config;
#[cfg(feature = "sim")]
pub mod demo;
pub mod exporter;
pub mod http;
pub mod kafka;
pub mod process;
pub mod reload;
pub mod render;
pub mod rest_client;
pub mod series;
pub mod shard;
pub mod snapshot;
pub mod status;
pub mod status_page;
pub mod supervise;
pub mod tls;
pub mod util;
pub mod web_config;
