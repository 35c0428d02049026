//! Helpers shared by the integration tests. Include with `mod common;`.

pub mod exporter;
pub mod schema;
pub mod scrape;
pub mod sim;
