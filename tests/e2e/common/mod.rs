//! Helpers shared by the integration tests. Include with `mod common;`.

pub mod dashboards;
pub mod exporter;
pub mod scrape;
pub mod series;
pub mod servers;
/// Driving the simulator: one copy, kept with the simulator crate's own tests.
#[path = "../../sim/tests/common/sim.rs"]
pub mod sim;
pub mod upstream;
