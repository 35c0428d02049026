//! Helpers shared by the simulator's tests (the modules of `tests/e2e/main.rs`). `eventually.rs`
//! and `sim.rs` are also compiled into the exporter's end-to-end tests
//! (`../../tests/e2e/common/mod.rs`): one copy of each.

pub mod eventually;
pub mod schema;
pub mod sim;
