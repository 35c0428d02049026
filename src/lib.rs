//! cluster-link-exporter: a Prometheus exporter for Confluent Cluster Linking.
//!
//! Data flows one way, each module depending only on those to its left:
//!
//! ```text
//! config ─► collection (rest_client, collect, kafka) ─► snapshot ─► render ─► http
//! ```
//!
//! - [`config`]: the YAML configuration, validated up front;
//! - `rest_client`: Confluent's REST API v3, parsed defensively (the wire format stops
//!   there), errors by reason;
//! - `collect`: the background REST collection, one supervised task per cluster;
//! - `kafka`: Kafka-side measurements (watermarks, lag in seconds, offset sync, probe);
//! - `snapshot`: the per-cluster, per-cycle data collection hands to rendering;
//! - `render`: every per-cluster family rendered from the snapshots, and the pre-rendered
//!   exposition served at `/metrics`;
//! - `process`: the standard `process_*` families (CPU, memory, file descriptors, start
//!   time, threads), read from `/proc/self` at each scrape (Linux only);
//! - `readiness`: fail-over readiness per link, assessed again from both snapshots of a
//!   cluster at each publication, rendered into `/metrics` and kept for the status page;
//! - `status`: the status data (`StatusStore`): what the status page and readiness know
//!   about each cluster (collection outcome, latest snapshots, Kafka connections, probes);
//! - `series`: the life of a cluster's series (`ClusterSeries`, implemented by each
//!   component that keeps some) and `ClusterFamily`;
//! - `status_page`: the status page (`/`) and `/status.json`, built from the same
//!   snapshots as `/metrics`;
//! - `tls`: the one rustls crypto provider (*ring*) of the process;
//! - `http`: `/metrics`, `/`, `/status.json`, `/-/healthy`, `/-/ready`;
//! - `supervise`: per-worker supervision (panics caught, restart with back-off), stop
//!   signals and shutdown;
//! - `reload`: what a configuration reload changes, cluster by cluster, and its metrics;
//! - `shard`: which configured clusters this process collects when several share them
//!   (`--shard`, `--total-shards`), and the shard self-metrics;
//! - `exporter`: wiring (each component registers its own self-metrics), one way to start
//!   (`Exporter::start` with `ExporterOptions`), reloads and shutdown;
//! - `util`: durations, Unix time, closed sets of label values;
//! - `web_config`: `--web.config.file` (exporter-toolkit format): TLS, basic auth, headers;
//! - [`testing`]: entry points for the end-to-end tests and tools (not a stable API);
//! - `demo` (with the default `sim` feature): the simulator's default scenario with an exporter
//!   pointed at it, its configuration also written to a file.
//!
//! The simulated Confluent clusters that the tests and `demo` run against are a separate crate
//! of this workspace, `cluster_link_sim` (`sim/`); the `sim` feature links it in.
//!
//! The public API is what this file re-exports below, the [`config`] module (the
//! configuration types, also built in code) and `demo`; the other modules are private, and
//! `unreachable_pub` flags any `pub` item no longer reachable from here.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod collect;
pub mod config;
mod connect_check;
#[cfg(feature = "sim")]
pub mod demo;
mod exporter;
mod http;
mod kafka;
mod process;
mod readiness;
mod references;
mod reload;
mod render;
mod rest_client;
mod series;
mod shard;
mod snapshot;
mod status;
mod status_page;
mod supervise;
pub mod testing;
mod tls;
mod util;
mod web_config;

// Running an exporter: started once, reloaded, shut down.
pub use connect_check::{
    check_connections, ConnectReport, Outcome as ConnectOutcome, Row as ConnectRow,
};
pub use exporter::{Exporter, ExporterOptions, ReloadError, StartError};
pub use reload::Plan;
// The HTTP server's options (`--web.*`) and `--web.config.file`.
pub use http::{parse_listen_address, ServeLimits, WebOptions};
pub use web_config::{WebConfig, WebConfigError};
// The status page's JSON form.
pub use status_page::JSON_PATH;
// The process's one rustls crypto provider.
pub use tls::install_crypto_provider;
// Durations as the configuration and the flags write them.
pub use util::{parse_duration, parse_duration_checked, DurationError};
// librdkafka's check of every `kafka` section (`check-config`, start, reloads).
pub use kafka::librdkafka::check as check_kafka;
// Sharding (`--shard`, `--total-shards`).
pub use shard::{
    describe as describe_shards, hostname as shard_hostname, shard_of, ShardArgs, ShardError,
    Sharding, SHARD_ENV, TOTAL_SHARDS_ENV,
};
// The per-cluster metric families, as documented in docs/metrics.md.
pub use render::{FamilyDef, CLUSTER_FAMILIES};
// The closed sets of label values the exporter writes.
pub use kafka::KafkaErrorReason;
pub use rest_client::CollectionErrorReason;
pub use snapshot::{Blocker as FailoverBlocker, Verdict as FailoverVerdict};
pub use snapshot::{LinkError, LinkState, MirrorState, StateCategory, TaskState};
pub use supervise::Worker;
