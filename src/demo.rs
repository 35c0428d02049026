//! `cluster-link-exporter demo`: the simulator's default scenario and an exporter pointed at
//! its clusters, in one process, with every measurement on.

use crate::config::Config;
use cluster_link_sim::{Scenario, SimError, Simulator};

/// Name of the probe topic: a link that mirrors a topic of this name gets a probe.
pub const PROBE_TOPIC: &str = "clusterlink-probe";

/// Exporter configuration (YAML) for every cluster of a running simulator, polled every
/// `poll_interval`: REST, a `kafka` section per cluster (so watermarks, lag in seconds and
/// offset-sync lag are measured), every cluster listed as a source cluster too, and a probe on
/// each link that mirrors [`PROBE_TOPIC`].
pub fn config_for(sim: &Simulator, poll_interval: &str) -> String {
    let endpoints: Vec<_> = sim
        .endpoints()
        .iter()
        .filter(|c| !c.bootstrap_servers.is_empty())
        .collect();
    let mut yaml =
        format!("defaults:\n  poll_interval: {poll_interval}\n  request_timeout: 5s\nclusters:\n");
    let world = sim.core().world();
    for c in &endpoints {
        yaml.push_str(&format!(
            "  - name: {}\n    rest_url: {}\n    cluster_id: {}\n    kafka:\n      bootstrap_servers: {}\n",
            c.name, c.rest_url, c.cluster_id, c.bootstrap_servers
        ));
        let probed: Vec<&String> = world
            .clusters
            .get(&c.name)
            .map(|state| {
                state
                    .links
                    .iter()
                    .filter(|(_, l)| l.mirrors.values().any(|m| m.source_topic == PROBE_TOPIC))
                    .map(|(name, _)| name)
                    .collect()
            })
            .unwrap_or_default();
        if !probed.is_empty() {
            yaml.push_str("    probes:\n");
            for link in probed {
                yaml.push_str(&format!(
                    "      - {{link: {link}, topic: {PROBE_TOPIC}, interval: 1s, sla: 10s}}\n"
                ));
            }
        }
    }
    yaml.push_str("source_clusters:\n");
    for c in &endpoints {
        yaml.push_str(&format!(
            "  - name: {}\n    cluster_id: {}\n    kafka:\n      bootstrap_servers: {}\n",
            c.name, c.cluster_id, c.bootstrap_servers
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
