//! Synthetic scale: a cluster whose REST state is generated, not backed by Kafka records, so
//! the exporter can be benchmarked at sizes no mock cluster can hold (e.g. 20 links × 5 000
//! mirror topics × 10 partitions).
//!
//! The lag model, per partition `(link i, topic j, partition k)` with `h` a hash of
//! `(seed, i, j, k)` and `t` seconds since start:
//! - `last_source_fetch_offset = 1_000_000 + h % 1_000_000 + records_per_second × t`;
//! - `lag = round(peak × (1 + sin(2π·t/period + φ)) / 2)` with `peak = (h >> 20) % (max_lag + 1)`
//!   and phase `φ = ((h >> 40) % 360)°`, so lags rise and fall, each partition on its own phase;
//! - `dest = last_source_fetch_offset − lag`;
//! - one partition in `unknown_every` shows `last_source_fetch_offset: -1`, `lag: 0`;
//! - one mirror topic in `paused_every` is `PAUSED`; the others are `ACTIVE`.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::model::{Link, LinkState, Mirror, MirrorStatus};

/// Size and shape of a synthetic cluster.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SyntheticSpec {
    /// Number of links, named `link-000`, `link-001`, …; required, at least 1.
    pub links: u32,
    /// Mirror topics per link, named `topic-00000`, `topic-00001`, … (mirror name = source
    /// name); required, at least 1.
    pub mirrors_per_link: u32,
    /// Partitions per mirror topic (entries of each mirror's `mirror_lags`); required, at
    /// least 1. `links × mirrors_per_link × partitions` must be at most 5 000 000.
    pub partitions: u32,
    /// Highest lag, in messages, a partition reaches (its REST `lag` swings between 0 and a
    /// per-partition peak of at most this). Default 1000; must not be negative.
    #[serde(default = "default_max_lag")]
    pub max_lag: i64,
    /// Period of each partition's lag wave, in seconds. Default 300; must be positive.
    #[serde(default = "default_period")]
    pub period_seconds: f64,
    /// Growth of each partition's `last_source_fetch_offset`, in records per second.
    /// Default 10; must not be negative.
    #[serde(default = "default_rate")]
    pub records_per_second: f64,
    /// About one partition in this many (chosen by hash) is never fetched: REST shows
    /// `last_source_fetch_offset: -1` and `lag: 0`. Default 0: none.
    #[serde(default)]
    pub unknown_every: u64,
    /// Mirror topics whose number is a multiple of this are `PAUSED` (`topic-00000` of every
    /// link included). Default 0: none.
    #[serde(default)]
    pub paused_every: u64,
    /// Seed of the per-partition hash that places offsets, peaks and phases; the same seed
    /// gives the same values at the same time since start. Default 0.
    #[serde(default)]
    pub seed: u64,
}

fn default_max_lag() -> i64 {
    1000
}
fn default_period() -> f64 {
    300.0
}
fn default_rate() -> f64 {
    10.0
}

impl SyntheticSpec {
    /// Checks the sizes and the wave's parameters; the error is the problem, without the key.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let total = self.links as u64 * self.mirrors_per_link as u64 * self.partitions as u64;
        if self.links == 0 || self.mirrors_per_link == 0 || self.partitions == 0 {
            return Err("links, mirrors_per_link and partitions must be at least 1".into());
        }
        if total > 5_000_000 {
            return Err(format!(
                "{total} partitions is more than the 5000000 supported"
            ));
        }
        if self.period_seconds <= 0.0 || self.max_lag < 0 || self.records_per_second < 0.0 {
            return Err(
                "period_seconds must be positive, max_lag and records_per_second not negative"
                    .into(),
            );
        }
        Ok(())
    }

    /// The REST `cluster_id` of synthetic cluster `name`: `synthetic-<name>`.
    pub(crate) fn cluster_id(&self, name: &str) -> String {
        format!("synthetic-{name}")
    }
}

/// The generator of one synthetic cluster.
#[derive(Debug)]
pub(crate) struct Synthetic {
    spec: SyntheticSpec,
    started: Instant,
}

fn hash(seed: u64, i: u64, j: u64, k: u64) -> u64 {
    // splitmix64 over the combined coordinates: cheap, deterministic, well spread.
    let mut x = seed
        ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ j.wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ k.wrapping_mul(0x1656_67B1_9E37_79F9);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl Synthetic {
    /// A generator for `spec` whose clock (the `t` of the lag model) starts now.
    pub(crate) fn new(spec: &SyntheticSpec) -> Self {
        Self {
            spec: spec.clone(),
            started: Instant::now(),
        }
    }

    /// Builds the links (names `link-000`…, topics `topic-00000`…) with their mirrors.
    pub(crate) fn links(&self, source_cluster_id: &str) -> BTreeMap<String, Link> {
        let s = &self.spec;
        (0..s.links)
            .map(|i| {
                let name = format!("link-{i:03}");
                let mirrors = (0..s.mirrors_per_link)
                    .map(|j| {
                        let topic = format!("topic-{j:05}");
                        let mut m = Mirror::new(&topic, &topic, s.partitions as i32);
                        m.paused_by_user = s.paused_every > 0 && (j as u64) % s.paused_every == 0;
                        (topic, m)
                    })
                    .collect();
                let link = Link {
                    name: name.clone(),
                    cluster_link_id: format!("synthetic-link-{i:03}-id00000"),
                    link_id: format!("00000000-0000-0000-0000-{i:012}"),
                    source_cluster: "synthetic-source".into(),
                    source_cluster_id: source_cluster_id.to_owned(),
                    configs: BTreeMap::new(),
                    mirrors,
                    source_reachable: true,
                    consecutive_failures: 0,
                    last_failure: None,
                    auth_failed: false,
                    injected_task_errors: BTreeMap::new(),
                    offset_sync_error: None,
                    delay_ms: 0,
                    max_records_per_second: None,
                    fetcher_stalled: false,
                    state: LinkState::Active,
                };
                (name, link)
            })
            .collect()
    }

    /// Moves every partition to its value at the current time and refreshes states.
    pub(crate) fn advance(&self, links: &mut BTreeMap<String, Link>) {
        let s = &self.spec;
        let t = self.started.elapsed().as_secs_f64();
        for (i, link) in links.values_mut().enumerate() {
            for (j, mirror) in link.mirrors.values_mut().enumerate() {
                for (k, p) in mirror.partitions.iter_mut().enumerate() {
                    let h = hash(s.seed, i as u64, j as u64, k as u64);
                    if s.unknown_every > 0 && h % s.unknown_every == 0 {
                        p.last_source_fetch_offset = -1;
                        p.dest_hwm = 0;
                        continue;
                    }
                    let source =
                        1_000_000 + (h % 1_000_000) as i64 + (s.records_per_second * t) as i64;
                    let peak = (h >> 20) as i64 % (s.max_lag + 1);
                    let phase = ((h >> 40) % 360) as f64 * std::f64::consts::PI / 180.0;
                    let wave = (1.0
                        + (2.0 * std::f64::consts::PI * t / s.period_seconds + phase).sin())
                        / 2.0;
                    let lag = (peak as f64 * wave).round() as i64;
                    p.last_source_fetch_offset = source;
                    p.dest_hwm = source - lag;
                }
                let status = if mirror.paused_by_user {
                    MirrorStatus::Paused
                } else {
                    MirrorStatus::Active
                };
                if mirror.status != status {
                    mirror.status = status;
                    mirror.state_time_ms = super::model::now_ms();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SyntheticSpec {
        SyntheticSpec {
            links: 2,
            mirrors_per_link: 3,
            partitions: 4,
            max_lag: 50,
            period_seconds: 10.0,
            records_per_second: 5.0,
            unknown_every: 7,
            paused_every: 3,
            seed: 1,
        }
    }

    #[test]
    fn generates_the_requested_shape_within_bounds() {
        let s = Synthetic::new(&spec());
        let mut links = s.links("src");
        s.advance(&mut links);
        assert_eq!(links.len(), 2);
        let mut unknown = 0;
        for l in links.values() {
            assert_eq!(l.mirrors.len(), 3);
            for m in l.mirrors.values() {
                assert_eq!(m.partitions.len(), 4);
                for p in &m.partitions {
                    if p.last_source_fetch_offset == -1 {
                        unknown += 1;
                    }
                    assert!((0..=50).contains(&p.lag()), "{}", p.lag());
                }
            }
            assert_eq!(l.mirrors["topic-00000"].status, MirrorStatus::Paused);
            assert_eq!(l.mirrors["topic-00001"].status, MirrorStatus::Active);
        }
        assert!(unknown > 0);
    }

    #[test]
    fn rejects_empty_or_huge() {
        let mut s = spec();
        s.links = 0;
        assert!(s.validate().is_err());
        let mut s = spec();
        s.links = 1000;
        s.mirrors_per_link = 10_000;
        assert!(s.validate().unwrap_err().contains("more than"));
    }
}
