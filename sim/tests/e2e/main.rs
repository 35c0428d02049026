//! The simulator's tests as a client sees it: one test binary, one module per subject, so that
//! the helpers of [`common`] are compiled once. Run one module with
//! `cargo test -p cluster-link-sim --test e2e <module>::`.

mod common;

mod schema_selftest;
mod sim_drills;
mod sim_replication;
mod sim_rest;
mod sim_states;
