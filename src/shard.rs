//! Sharding: several exporter processes share the configured destination clusters, the
//! kube-state-metrics model without Kubernetes API access. Owns the assignment (a cluster
//! belongs to shard `jump_hash(fnv1a_64(name), total)`), the `--shard` / `--total-shards`
//! values and their checks ([`ShardArgs::resolve`], `--shard=auto` from the trailing `-<n>` of
//! the host name, as a StatefulSet names its pods), what `check-config` prints about the
//! assignment ([`describe`]) and the shard self-metrics ([`ShardMetrics`]). The exporter keeps
//! only its own shard's clusters of every configuration it loads ([`Sharding::retain`]), at
//! start and on each reload, so no client is built for another shard's cluster.

use std::hash::Hasher;
use std::num::NonZeroU32;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::config::Config;
use crate::util::ClusterLabels;

/// The environment variable `--shard` falls back to.
pub const SHARD_ENV: &str = "CLUSTER_LINK_EXPORTER_SHARD";
/// The environment variable `--total-shards` falls back to.
pub const TOTAL_SHARDS_ENV: &str = "CLUSTER_LINK_EXPORTER_TOTAL_SHARDS";

/// FNV-1a, 64 bits, of `bytes` (the `fnv` crate's hasher, fed the bytes alone: no length or
/// terminator, unlike `Hash for str`).
pub(crate) fn fnv1a_64(bytes: &[u8]) -> u64 {
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(bytes);
    hasher.finish()
}

/// Jump consistent hash (Lamping & Veach, 2014): the bucket in `0..buckets` of `key`. Going
/// from `n` to `n + 1` buckets moves a key only into the new bucket `n`, and about `1/(n+1)`
/// of the keys do.
pub(crate) fn jump_hash(key: u64, buckets: NonZeroU32) -> u32 {
    let buckets = i64::from(buckets.get());
    let (mut key, mut b, mut j) = (key, -1_i64, 0_i64);
    while j < buckets {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        // (b + 1) * 2^31 / ((key >> 33) + 1): at most 2^63, exact in f64 for these inputs.
        let scale = (1_u64 << 31) as f64 / ((key >> 33) + 1) as f64;
        j = ((b + 1) as f64 * scale) as i64;
    }
    // 0 <= b < buckets <= u32::MAX.
    u32::try_from(b).unwrap_or(0)
}

/// The shard of `total` that a destination cluster named `cluster` belongs to.
pub fn shard_of(cluster: &str, total: NonZeroU32) -> u32 {
    jump_hash(fnv1a_64(cluster.as_bytes()), total)
}

/// This process's place among the shards: ordinal `0..total`. The default is shard 0 of 1,
/// which owns every cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sharding {
    ordinal: u32,
    total: NonZeroU32,
}

impl Default for Sharding {
    fn default() -> Self {
        Self {
            ordinal: 0,
            total: NonZeroU32::MIN,
        }
    }
}

impl Sharding {
    /// Shard `ordinal` of `total`.
    ///
    /// # Errors
    /// `ordinal` is not less than `total`.
    pub fn new(ordinal: u32, total: NonZeroU32) -> Result<Self, ShardError> {
        if ordinal >= total.get() {
            return Err(ShardError(format!(
                "--shard {ordinal} must be less than --total-shards {total} (shards are numbered from 0)"
            )));
        }
        Ok(Self { ordinal, total })
    }

    /// This shard's ordinal, `0..total`.
    pub fn ordinal(&self) -> u32 {
        self.ordinal
    }

    /// How many shards share the clusters.
    pub fn total(&self) -> NonZeroU32 {
        self.total
    }

    /// Whether this shard collects the cluster named `cluster`.
    pub fn owns(&self, cluster: &str) -> bool {
        shard_of(cluster, self.total) == self.ordinal
    }

    /// `config` with only this shard's clusters (`source_clusters` stay: the measurers of the
    /// kept clusters use them).
    pub(crate) fn retain(&self, mut config: Config) -> Config {
        config.clusters.retain(|c| self.owns(&c.name));
        config
    }
}

/// A bad `--shard` / `--total-shards` value (or `--shard=auto` without an ordinal in the host
/// name). Its text names the flag; `main` prints it after `error: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ShardError(String);

/// The raw `--shard` and `--total-shards` values (flag or environment), before checking.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardArgs {
    /// `--shard`: an ordinal (`0`, `1`, …) or `auto`.
    pub shard: Option<String>,
    /// `--total-shards`: a whole number from 1.
    pub total_shards: Option<String>,
}

impl ShardArgs {
    /// Whether either flag was given.
    pub fn given(&self) -> bool {
        self.shard.is_some() || self.total_shards.is_some()
    }

    /// `--total-shards` checked (1 when absent).
    ///
    /// # Errors
    /// Not a whole number from 1 to 4294967295.
    pub fn total(&self) -> Result<NonZeroU32, ShardError> {
        let Some(raw) = self.total_shards.as_deref() else {
            return Ok(NonZeroU32::MIN);
        };
        let parsed = raw.trim().parse::<u32>().ok().and_then(NonZeroU32::new);
        parsed.ok_or_else(|| {
            ShardError(format!(
                "--total-shards ({TOTAL_SHARDS_ENV}): expected a whole number of shards from 1 up, got {raw:?}"
            ))
        })
    }

    /// The checked [`Sharding`]; `hostname` is asked for only by `--shard=auto`.
    ///
    /// # Errors
    /// A value is not a number (or `auto`), `--total-shards` is 0, the ordinal is not less
    /// than the total, `--total-shards` above 1 comes without `--shard`, or `auto` finds no
    /// trailing `-<n>` in the host name.
    pub fn resolve(
        &self,
        hostname: impl FnOnce() -> Option<String>,
    ) -> Result<Sharding, ShardError> {
        let total = self.total()?;
        let ordinal = match self.shard.as_deref().map(str::trim) {
            None if total.get() > 1 => {
                return Err(ShardError(format!(
                    "--total-shards {total} needs --shard ({SHARD_ENV}): an ordinal from 0 to {}, or auto",
                    total.get() - 1
                )))
            }
            None => 0,
            Some("auto") => {
                let (name, ordinal) = ordinal_from_hostname(hostname())?;
                return Sharding::new(ordinal, total).map_err(|_| {
                    ShardError(format!(
                        "--shard=auto: the host name {name:?} gives shard {ordinal}, which must be less than --total-shards {total} (shards are numbered from 0)"
                    ))
                });
            }
            Some(raw) => raw.parse::<u32>().map_err(|_| {
                ShardError(format!(
                    "--shard ({SHARD_ENV}): expected a shard ordinal (0, 1, …) or auto, got {raw:?}"
                ))
            })?,
        };
        Sharding::new(ordinal, total)
    }
}

/// The host name and the ordinal in its trailing `-<n>`, as in a StatefulSet pod's name
/// (`cle-2` → 2).
fn ordinal_from_hostname(hostname: Option<String>) -> Result<(String, u32), ShardError> {
    let Some(name) = hostname
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
    else {
        return Err(ShardError(
            "--shard=auto: no host name (HOSTNAME is unset and the system's is unreadable)".into(),
        ));
    };
    let digits = name.rsplit_once('-').map(|(_, n)| n).unwrap_or_default();
    let ordinal = (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse::<u32>().ok())
        .flatten();
    let Some(ordinal) = ordinal else {
        return Err(ShardError(format!(
            "--shard=auto: the host name {name:?} does not end in -<ordinal> (a StatefulSet pod name such as cluster-link-exporter-2)"
        )));
    };
    Ok((name, ordinal))
}

/// The host name `--shard=auto` reads: `HOSTNAME` (set in every Kubernetes container to the
/// pod's name), else the kernel's (`/proc/sys/kernel/hostname`).
pub fn hostname() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
}

/// What `check-config` prints about the assignment of `clusters` (their names, in the file's
/// order) to `total` shards: a summary line, then one line per cluster with its shard, those
/// of shard `ordinal` (when given) marked `(this shard)`.
pub fn describe(clusters: &[String], total: NonZeroU32, ordinal: Option<u32>) -> String {
    let shards: Vec<u32> = clusters.iter().map(|c| shard_of(c, total)).collect();
    let mut out = match ordinal {
        Some(o) => {
            let mine = shards.iter().filter(|&&s| s == o).count();
            let mut head = format!(
                "shard {o} of {total}: {mine} of {} cluster(s) assigned\n",
                clusters.len()
            );
            if mine == 0 && total.get() > 1 {
                head.push_str(&format!("{}\n", idle_warning(o, total)));
            }
            head
        }
        None => format!("{} cluster(s) over {total} shard(s)\n", clusters.len()),
    };
    for (name, shard) in clusters.iter().zip(shards) {
        let mark = if Some(shard) == ordinal {
            " (this shard)"
        } else {
            ""
        };
        out.push_str(&format!("  {name}: shard {shard}{mark}\n"));
    }
    out
}

/// The warning of a shard that owns none of the configured clusters: it serves only its own
/// self-metrics (the jump hash gives no shard a cluster when there are fewer clusters than
/// shards, and may leave one empty with more).
pub(crate) fn idle_warning(ordinal: u32, total: NonZeroU32) -> String {
    format!(
        "warning: shard {ordinal} of {total} is assigned no configured cluster: it collects \
         nothing (fewer clusters than shards, or the hash gave it none)"
    )
}

/// Logs [`idle_warning`] as a `warn` when `sharding` (one of several shards) owns none of
/// `clusters` (every configured cluster's name): at start and after each applied reload.
pub(crate) fn warn_if_idle(sharding: &Sharding, clusters: &[String]) {
    if sharding.total().get() > 1 && !clusters.iter().any(|c| sharding.owns(c)) {
        tracing::warn!(
            shard = sharding.ordinal(),
            total_shards = sharding.total().get(),
            configured = clusters.len(),
            "{}",
            idle_warning(sharding.ordinal(), sharding.total()).trim_start_matches("warning: ")
        );
    }
}

/// The label of `clusterlink_exporter_shard_ordinal`: the ordinal again, as
/// kube-state-metrics' `kube_state_metrics_shard_ordinal` has it, so that
/// `max by (shard_ordinal)` counts each shard once however many replicas run it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ShardLabels {
    /// The shard's ordinal, in decimal.
    pub(crate) shard_ordinal: String,
}

/// The shard self-metrics, written at start and after each applied reload.
#[derive(Clone, Debug, Default)]
pub(crate) struct ShardMetrics {
    /// `clusterlink_exporter_shard_ordinal{shard_ordinal}`: this process's `--shard`,
    /// `0..total`, one series.
    pub(crate) ordinal: Family<ShardLabels, Gauge>,
    /// `clusterlink_exporter_total_shards`: `--total-shards`.
    pub(crate) total: Gauge,
    /// `clusterlink_exporter_clusters_configured`: clusters in the configuration, all shards'.
    pub(crate) configured: Gauge,
    /// `clusterlink_exporter_clusters_assigned`: of those, this shard's.
    pub(crate) assigned: Gauge,
    /// `clusterlink_exporter_cluster_assigned{kafka_cluster}`: one series per configured
    /// cluster, 1 when this shard collects it, 0 when another shard does.
    pub(crate) cluster_assigned: Family<ClusterLabels, Gauge>,
}

impl ShardMetrics {
    /// Registers the families in `registry` (written as shard 0 of 1 until [`Self::record`]).
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "exporter_shard_ordinal",
            "This process's shard (--shard), from 0 to the number of shards minus 1; also its label shard_ordinal",
            m.ordinal.clone(),
        );
        let families: [(&str, &str, &Gauge); 3] = [
            (
                "exporter_total_shards",
                "How many shards share the configured clusters (--total-shards)",
                &m.total,
            ),
            (
                "exporter_clusters_configured",
                "Destination clusters in the configuration, every shard's",
                &m.configured,
            ),
            (
                "exporter_clusters_assigned",
                "Destination clusters of the configuration that this shard collects",
                &m.assigned,
            ),
        ];
        for (name, help, gauge) in families {
            registry.register(name, help, gauge.clone());
        }
        registry.register(
            "exporter_cluster_assigned",
            "1 when this shard collects the configured cluster kafka_cluster, 0 when another shard does",
            m.cluster_assigned.clone(),
        );
        m.record(&Sharding::default(), &[]);
        m
    }

    /// Writes `sharding` and the assignment of `clusters` (every configured cluster's name);
    /// clusters no longer configured lose their series.
    pub(crate) fn record(&self, sharding: &Sharding, clusters: &[String]) {
        self.ordinal.clear();
        let labels = ShardLabels {
            shard_ordinal: sharding.ordinal().to_string(),
        };
        self.ordinal
            .get_or_create(&labels)
            .set(i64::from(sharding.ordinal()));
        self.total.set(i64::from(sharding.total().get()));
        self.cluster_assigned.clear();
        let mut assigned = 0;
        for name in clusters {
            let mine = sharding.owns(name);
            assigned += i64::from(mine);
            self.cluster_assigned
                .get_or_create(&ClusterLabels::of(name))
                .set(i64::from(mine));
        }
        self.configured
            .set(i64::try_from(clusters.len()).unwrap_or(i64::MAX));
        self.assigned.set(assigned);
    }

    /// The last recorded (clusters assigned to this shard, clusters configured).
    pub(crate) fn counts(&self) -> (u64, u64) {
        let get = |g: &Gauge| u64::try_from(g.get()).unwrap_or(0);
        (get(&self.assigned), get(&self.configured))
    }
}

#[cfg(test)]
mod tests;
