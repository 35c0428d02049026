//! Helpers shared by the integration tests. Include with `mod common;`.

pub mod dashboards;
pub mod exporter;
pub mod schema;
pub mod scrape;
pub mod series;
pub mod servers;
pub mod sim;
pub mod upstream;
