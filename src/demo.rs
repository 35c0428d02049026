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

/// The base URL (`http://host:port`, no trailing `/`) of an exporter listening on `address`,
/// `https` with `tls`: the address as bound, except that an unspecified one (`0.0.0.0`, `::`:
/// every interface) is shown as the loopback address of its family, which reaches it.
pub fn base_url(address: std::net::SocketAddr, tls: bool) -> String {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let scheme = if tls { "https" } else { "http" };
    let ip = match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!(
        "{scheme}://{}",
        std::net::SocketAddr::new(ip, address.port())
    )
}

/// Starts the default scenario and returns it with the exporter configuration for it.
pub async fn start_simulation() -> Result<(Simulator, Config), SimError> {
    let sim = Simulator::start(Scenario::default_scenario()).await?;
    let config =
        Config::from_yaml(&config_for(&sim, "5s")).map_err(|e| SimError::Invalid(e.to_string()))?;
    Ok((sim, config))
}

#[cfg(test)]
mod tests {
    use super::base_url;

    #[test]
    fn the_base_url_is_the_bound_address() {
        let url = |a: &str, tls| base_url(a.parse().unwrap(), tls);
        assert_eq!(url("127.0.0.1:9849", false), "http://127.0.0.1:9849");
        assert_eq!(url("192.0.2.7:80", true), "https://192.0.2.7:80");
        assert_eq!(url("0.0.0.0:9849", false), "http://127.0.0.1:9849");
        assert_eq!(url("[::]:9849", false), "http://[::1]:9849");
        assert_eq!(
            url("[2001:db8::1]:9849", false),
            "http://[2001:db8::1]:9849"
        );
    }
}
