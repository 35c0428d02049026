//! `cluster-link-exporter demo`: the simulator's default scenario and an exporter pointed at
//! its clusters, in one process, with every measurement on; the exporter's configuration is
//! also written to a file ([`ConfigFile`]), so a user can run an exporter of their own on it.

use std::path::PathBuf;

use crate::config::Config;
use cluster_link_sim::{Scenario, SimError, Simulator};

/// Name of the probe topic: a link that mirrors a topic of this name gets a probe.
pub const PROBE_TOPIC: &str = "clusterlink-probe";

/// Exporter configuration (YAML) for every cluster of a running simulator, polled every
/// `poll_interval`: REST, a `kafka` section per cluster (so watermarks, lag in seconds and
/// offset-sync lag are measured), each cluster some link copies from listed as a source
/// cluster too, and a probe on each link that mirrors [`PROBE_TOPIC`].
pub fn config_for(sim: &Simulator, poll_interval: &str) -> String {
    config_text(sim, poll_interval, None, false)
}

/// [`config_for`] as `sim --print-config` prints it: only the clusters that hold links under
/// `clusters` (a cluster without links would be a `links found MISSING` row of `check-config
/// --connect`), plus what each cluster's REST API requires: its `auth` (the scenario's own
/// test credentials, written out) and, for HTTPS, `tls` with the run's CA (and client
/// certificate for mTLS) from `pki_dir`, where the simulator wrote them.
pub fn config_with_access(
    sim: &Simulator,
    poll_interval: &str,
    pki_dir: Option<&std::path::Path>,
) -> String {
    config_text(sim, poll_interval, pki_dir, true)
}

fn config_text(
    sim: &Simulator,
    poll_interval: &str,
    pki_dir: Option<&std::path::Path>,
    destinations_only: bool,
) -> String {
    let endpoints: Vec<_> = sim
        .endpoints()
        .iter()
        .filter(|c| !c.bootstrap_servers.is_empty())
        .collect();
    let mut yaml =
        format!("defaults:\n  poll_interval: {poll_interval}\n  request_timeout: 5s\nclusters:\n");
    let world = sim.core().world();
    let holds_links = |name: &str| {
        world
            .clusters
            .get(name)
            .is_some_and(|c| !c.links.is_empty())
    };
    for c in endpoints
        .iter()
        .filter(|c| !destinations_only || holds_links(&c.name))
    {
        yaml.push_str(&format!(
            "  - name: {}\n    rest_url: {}\n    cluster_id: {}\n    kafka:\n      bootstrap_servers: {}\n",
            c.name, c.rest_url, c.cluster_id, c.bootstrap_servers
        ));
        if pki_dir.is_some() || c.auth.is_some() {
            yaml.push_str(&rest_access(c, pki_dir));
        }
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
    // Only the clusters some link copies from: an entry no link uses is reported as a
    // configuration mistake (`clusterlink_config_reference_missing{kind="source_cluster"}`).
    let sources: std::collections::BTreeSet<&str> = world
        .clusters
        .values()
        .flat_map(|state| state.links.values())
        .map(|l| l.source_cluster())
        .collect();
    yaml.push_str("source_clusters:\n");
    for c in endpoints
        .iter()
        .filter(|c| sources.contains(c.name.as_str()))
    {
        yaml.push_str(&format!(
            "  - name: {}\n    cluster_id: {}\n    kafka:\n      bootstrap_servers: {}\n",
            c.name, c.cluster_id, c.bootstrap_servers
        ));
    }
    yaml
}

/// The `auth` and `tls` keys (indented for a cluster entry) that reach `c`'s REST API.
fn rest_access(c: &cluster_link_sim::ClusterEndpoint, pki_dir: Option<&std::path::Path>) -> String {
    use cluster_link_sim::RestAuth;
    let mut yaml = String::new();
    match &c.auth {
        Some(RestAuth::Basic { username, password }) => yaml.push_str(&format!(
            "    auth: {{type: basic, username: {username:?}, password: {password:?}}}\n"
        )),
        Some(RestAuth::Bearer { token }) => {
            yaml.push_str(&format!("    auth: {{type: bearer, token: {token:?}}}\n"))
        }
        None => {}
    }
    if let (true, Some(dir)) = (c.tls, pki_dir) {
        let d = dir.display();
        yaml.push_str(&format!("    tls: {{ca_file: {d}/ca.pem"));
        if c.client_auth {
            yaml.push_str(&format!(
                ", cert_file: {d}/client.pem, key_file: {d}/client.key"
            ));
        }
        yaml.push_str("}\n");
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

/// The demo's simulation: the simulator of the default scenario, the exporter configuration for
/// it, and that configuration as YAML (what [`ConfigFile::write`] saves).
pub struct Simulation {
    /// The running simulator.
    pub sim: Simulator,
    /// The exporter configuration for its clusters.
    pub config: Config,
    /// The same configuration, as YAML.
    pub yaml: String,
}

/// Starts the default scenario and returns it with the exporter configuration for it.
pub async fn start_simulation() -> Result<Simulation, SimError> {
    let sim = Simulator::start(Scenario::default_scenario()).await?;
    let yaml = config_for(&sim, "5s");
    let config = Config::from_yaml(&yaml).map_err(|e| SimError::Invalid(e.to_string()))?;
    Ok(Simulation { sim, config, yaml })
}

/// The demo's exporter configuration saved to a file of its own directory
/// (`<temp dir>/cluster-link-exporter-demo-<pid>/exporter.yaml`), valid while the demo runs (its
/// clusters' ports and ids are new at each start); the directory is removed on drop.
pub struct ConfigFile {
    dir: PathBuf,
}

impl ConfigFile {
    /// Writes `yaml` under a header saying what it is, the control API's URL and that it is
    /// valid while this demo runs.
    pub fn write(yaml: &str, control_url: &str) -> std::io::Result<Self> {
        let dir =
            std::env::temp_dir().join(format!("cluster-link-exporter-demo-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let file = Self { dir };
        let text = format!(
            "# The exporter configuration of `cluster-link-exporter demo` (pid {}): valid while\n\
             # that demo runs (its clusters' ports and ids are new at each start).\n\
             # Simulator control API: {control_url}\n{yaml}",
            std::process::id()
        );
        std::fs::write(file.path(), text)?;
        Ok(file)
    }

    /// The file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.join("exporter.yaml")
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::{base_url, ConfigFile};

    #[test]
    fn the_config_file_holds_the_yaml_under_a_header_and_goes_on_drop() {
        let yaml = "clusters:\n  - {name: A, rest_url: 'http://127.0.0.1:1/kafka/v3'}\n";
        let file = ConfigFile::write(yaml, "http://127.0.0.1:2/sim/v1").unwrap();
        let path = file.path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with(yaml), "{text}");
        assert!(text.contains("# Simulator control API: http://127.0.0.1:2/sim/v1\n"));
        assert!(text.lines().take(3).all(|l| l.starts_with("# ")), "{text}");
        assert!(crate::config::Config::from_yaml(&text).is_ok(), "{text}");
        drop(file);
        assert!(!path.parent().unwrap().exists(), "{} stays", path.display());
    }

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
