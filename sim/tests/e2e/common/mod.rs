//! Helpers shared by the simulator's integration tests. Include with `mod common;`.
//! (`sim.rs` is also compiled into the exporter's end-to-end tests: `tests/common/mod.rs`.)

pub mod schema;
pub mod sim;
