//! cluster-link-exporter: a Prometheus exporter for Confluent Cluster Linking.
//!
//! Modules:
//! - [`sim`]: simulated Confluent clusters with live cluster links (test ground and demo).
#![forbid(unsafe_code)]

pub mod sim;
