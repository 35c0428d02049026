//! `cluster-link-exporter demo`: the simulator's default scenario and an exporter pointed at
//! its clusters, in one process.

use crate::config::Config;
use crate::sim::{Scenario, SimError, Simulator};

/// Exporter configuration (YAML) for every cluster of a running simulator, polled every
/// `poll_interval`.
pub fn config_for(sim: &Simulator, poll_interval: &str) -> String {
    let mut yaml =
        format!("defaults:\n  poll_interval: {poll_interval}\n  request_timeout: 5s\nclusters:\n");
    for c in sim
        .endpoints()
        .iter()
        .filter(|c| !c.bootstrap_servers.is_empty())
    {
        yaml.push_str(&format!(
            "  - name: {}\n    rest_url: {}\n    cluster_id: {}\n",
            c.name, c.rest_url, c.cluster_id
        ));
    }
    yaml
}

/// Starts the default scenario and returns it with the exporter configuration for it.
pub async fn start_simulation() -> Result<(Simulator, Config), SimError> {
    let sim = Simulator::start(Scenario::default_scenario()).await?;
    let config =
        Config::from_yaml(&config_for(&sim, "5s")).map_err(|e| SimError::Invalid(e.to_string()))?;
    Ok((sim, config))
}
