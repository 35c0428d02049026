//! What the landing page (`/`) and readiness (`/-/ready`) know about each cluster: written by
//! the collectors, read by [`crate::http`]. Its own module so that neither depends on the
//! other.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use crate::util::write_lock;

/// What the landing page and readiness know about a cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterStatus {
    /// Whether the last collection cycle succeeded.
    pub up: bool,
    /// Collection cycles finished, successful or not (0: still starting).
    pub cycles: u64,
    /// When the last cycle succeeded.
    pub last_success: Option<SystemTime>,
    /// The last failure: its reason and message (never a secret).
    pub last_error: Option<String>,
    /// When the last failure happened.
    pub last_error_at: Option<SystemTime>,
}

/// Status of every cluster, by name.
pub type StatusBoard = Arc<RwLock<BTreeMap<String, ClusterStatus>>>;

/// Updates `cluster`'s status on `board` (created when missing).
pub fn update(board: &StatusBoard, cluster: &str, f: impl FnOnce(&mut ClusterStatus)) {
    let mut board = write_lock(board);
    f(board.entry(cluster.to_owned()).or_default());
}
