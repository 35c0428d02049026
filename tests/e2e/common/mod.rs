//! Helpers shared by the end-to-end tests (the modules of `tests/e2e/main.rs`).

/// The shipped rules and routing in a real Prometheus and Alertmanager, with the test overrides.
pub mod alerting;
pub mod dashboards;
pub mod deploy;
/// Waiting for a condition: one copy, kept with the simulator crate's tests.
#[path = "../../../sim/tests/e2e/common/eventually.rs"]
pub mod eventually;
pub mod exporter;
/// Real Apache Kafka brokers (scripts/setup-kafka.sh): listeners, users, ACLs, records.
#[allow(dead_code)]
pub mod kafka;
/// Confluent REST for a link the tests play between two real brokers.
#[allow(dead_code)]
pub mod link_rest;
/// A link the tests play between the two real brokers, and the truth they wrote.
pub mod played_link;
pub mod scrape;
pub mod series;
pub mod servers;
/// Driving the simulator: one copy, kept with the simulator crate's tests, which use helpers
/// these tests do not (`mirror`, `total_lag`, `task`).
#[path = "../../../sim/tests/e2e/common/sim.rs"]
#[allow(dead_code)]
pub mod sim;
pub mod upstream;
