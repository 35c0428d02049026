//! cluster-link-exporter: a Prometheus exporter for Confluent Cluster Linking.
//!
//! Modules, one concern each:
//! - [`config`]: the YAML configuration, validated up front;
//! - [`rest_client`]: Confluent's REST API v3, parsed defensively, errors by reason;
//! - [`collect`]: background collection loops, one per cluster;
//! - [`metrics`]: metric families and the pre-rendered exposition text;
//! - [`kafka`]: Kafka-side measurements (watermarks, lag in seconds, offset sync, probe);
//! - [`link_filters`]: Confluent's JSON group/topic filters of a link;
//! - [`supervise`]: per-worker supervision (panics caught, cluster marked down, restart with
//!   back-off) and per-worker stop signals;
//! - [`tls`]: the one rustls crypto provider (*ring*) of the process;
//! - [`http`]: `/metrics`, `/`, `/-/healthy`, `/-/ready`;
//! - [`exporter`]: wiring and shutdown;
//! - `demo` (with the default `sim` feature): the simulator's default scenario with an exporter
//!   pointed at it.
//!
//! The simulated Confluent clusters that the tests and `demo` run against are a separate crate
//! of this workspace, `cluster_link_sim` (`sim/`); the `sim` feature links it in.
#![forbid(unsafe_code)]

pub mod collect;
pub mod config;
#[cfg(feature = "sim")]
pub mod demo;
pub mod exporter;
pub mod http;
pub mod kafka;
pub mod link_filters;
pub mod metrics;
pub mod rest_client;
pub mod supervise;
pub mod tls;
pub mod util;
