//! All rendering of `/metrics`, in one place. Two parts make up the exposition:
//!
//! - the per-cluster families ([`CLUSTER_FAMILIES`]: the REST writer's table, the Kafka
//!   writer's, then the readiness writer's, each declared next to the code that writes it),
//!   rendered from the snapshots once per cycle — REST ([`render_rest`], from a
//!   [`ClusterSnapshot`]), Kafka ([`render_kafka`], from a [`KafkaSnapshot`]) and fail-over
//!   readiness (`render_readiness`, from the [`crate::snapshot::ClusterReadiness`] that
//!   `crate::readiness` assesses from both) — into a [`RenderedCluster`] each (sample lines
//!   grouped by family: a small family's kept as text, a larger one's compressed while it is
//!   written and kept compressed only, `piece`); a scrape concatenates them, family by
//!   family, so each family's `# HELP`/`# TYPE` appear once (`layout`, which compresses the
//!   runs of small texts together);
//! - the self-metrics, rendered at each scrape: a prometheus-client [`Registry`] in which each
//!   component registered its own families (process, collection, supervision, HTTP, Kafka,
//!   probe, reload, shard; `exporter::Telemetry` wires them), and `clusterlink_build_info`
//!   ([`register_build_info`]).
//!
//! [`Exposition`] holds both and implements [`Publish`], which is how the workers hand it
//! their snapshots (through a [`crate::snapshot::Fanout`] that also feeds the status data),
//! and [`ClusterSeries`] (a cluster's parts, by [`Side`], withdrawn when it is removed). It
//! serves a scrape in the negotiated [`Format`] (the registry writes only OpenMetrics;
//! [`openmetrics_to_text`] makes the text format) as the [`Frames`] of its body: with gzip one
//! member built from the pre-compressed chunks as they are (`chunk`), plain the same chunks
//! inflated while the body is sent (`body`): a large family's text is never held whole, between
//! scrapes or during one. It keeps no snapshot: the status page's are in
//! [`crate::status::StatusStore`].
//!
//! Every family, its type and labels are listed in `docs/metrics.md`; a test keeps the two in
//! agreement. The golden exposition (`golden.rs`, `testdata/exposition.txt`) holds the
//! expected samples of every per-cluster family for one fixed snapshot.

mod body;
mod chunk;
mod families;
mod format;
mod kafka;
mod layout;
mod piece;
mod readiness;
mod rest;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use bytes::Bytes;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

pub(crate) use body::Frames;
pub use families::FamilyDef;
pub(crate) use format::{openmetrics_to_text, Format};
pub(crate) use kafka::render_kafka;
pub(crate) use readiness::render_readiness;
pub(crate) use rest::render_rest;

use crate::reload::ClusterSetup;
use crate::series::ClusterSeries;
use crate::snapshot::{ClusterSnapshot, KafkaSnapshot, Publish};
use crate::util::{lock, read_lock, write_lock};
use chunk::{gzip_tail, Chunk, GZIP_HEADER};
use layout::Layout;
use piece::Piece;

/// Every per-cluster family, in output order: the REST side's (`rest::REST_FAMILIES`), the
/// Kafka side's (`kafka::KAFKA_FAMILIES`), then fail-over readiness
/// (`readiness::READINESS_FAMILIES`). Each table is declared next to the code that writes it.
pub const CLUSTER_FAMILIES: &[FamilyDef] = &ALL_FAMILIES;

const REST_AND_KAFKA: [FamilyDef; rest::REST_FAMILIES.len() + kafka::KAFKA_FAMILIES.len()] =
    families::concat(rest::REST_FAMILIES, kafka::KAFKA_FAMILIES);

const ALL_FAMILIES: [FamilyDef; REST_AND_KAFKA.len() + readiness::READINESS_FAMILIES.len()] =
    families::concat(&REST_AND_KAFKA, readiness::READINESS_FAMILIES);

/// Where the REST side's families start in [`CLUSTER_FAMILIES`].
const REST_FIRST: usize = 0;
/// Where the Kafka side's families start in [`CLUSTER_FAMILIES`].
const KAFKA_FIRST: usize = rest::REST_FAMILIES.len();
/// Where the readiness families start in [`CLUSTER_FAMILIES`].
const READINESS_FIRST: usize = REST_AND_KAFKA.len();

/// Suffix of every per-cluster HELP text.
pub(crate) const HELP_SUFFIX: &str = " (from the last background collection).";

/// The git revision the binary was built from (`CLUSTER_LINK_EXPORTER_REVISION` at build
/// time), or `unknown`.
pub(crate) const REVISION: &str = match option_env!("CLUSTER_LINK_EXPORTER_REVISION") {
    Some(r) => r,
    None => "unknown",
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
    revision: String,
}

/// Registers `clusterlink_build_info` (version and [`REVISION`], always 1) in `registry`.
pub(crate) fn register_build_info(registry: &mut Registry) {
    let build = Family::<BuildLabels, Gauge>::default();
    build
        .get_or_create(&BuildLabels {
            version: env!("CARGO_PKG_VERSION").into(),
            revision: REVISION.into(),
        })
        .set(1);
    registry.register(
        "build_info",
        "Version and revision of the exporter (always 1)",
        build,
    );
}

/// Pre-rendered sample lines of one cluster, one [`Piece`] per family of
/// [`CLUSTER_FAMILIES`] (text when small, else compressed only).
#[derive(Debug, Clone, Default)]
pub(crate) struct RenderedCluster {
    per_family: Vec<Piece>,
}

impl RenderedCluster {
    /// The pieces of each family of [`CLUSTER_FAMILIES`], in order.
    pub(crate) fn of(per_family: Vec<Piece>) -> Self {
        Self { per_family }
    }

    /// The rendered samples of each family: `samples` holds one string per family of
    /// [`CLUSTER_FAMILIES`], in order.
    #[cfg(test)]
    pub(crate) fn new(samples: Vec<String>) -> Self {
        Self::of(samples.into_iter().map(Piece::of).collect())
    }

    /// The sample lines of the family at `index` in [`CLUSTER_FAMILIES`] (empty if none).
    #[cfg(test)]
    pub(crate) fn family_text(&self, index: usize) -> String {
        self.per_family
            .get(index)
            .map(Piece::text)
            .unwrap_or_default()
    }
}

/// Which side of the collection a part of a cluster's rendering comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Side {
    /// The REST collection (links, tasks, mirrors).
    Rest,
    /// The Kafka-side measurements.
    Kafka,
    /// Fail-over readiness, assessed from both (see `crate::readiness`).
    Readiness,
}

/// A part of the per-cluster families: a cluster's, from one side.
type PartKey = (String, Side);

/// What `/metrics` serves: the self-metrics' registry plus each cluster's latest rendering.
pub struct Exposition {
    self_metrics: Registry,
    clusters: RwLock<BTreeMap<PartKey, Arc<RenderedCluster>>>,
    /// The per-cluster families laid out in output order, built at the first scrape after a
    /// part changed (`None`: to be built).
    layout: Mutex<Option<Arc<Layout>>>,
}

impl std::fmt::Debug for Exposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Exposition")
    }
}

impl Exposition {
    /// An exposition of the families registered in `self_metrics`, with no cluster rendered
    /// yet.
    pub(crate) fn new(self_metrics: Registry) -> Self {
        Self {
            self_metrics,
            clusters: RwLock::new(BTreeMap::new()),
            layout: Mutex::new(None),
        }
    }

    /// Swaps in one side of a cluster's rendering (`None` withdraws its series).
    pub(crate) fn set_part(&self, cluster: &str, side: Side, rendered: Option<RenderedCluster>) {
        {
            let mut map = write_lock(&self.clusters);
            let key = (cluster.to_owned(), side);
            match rendered {
                Some(r) => map.insert(key, Arc::new(r)),
                None => map.remove(&key),
            };
        }
        // After the map changed: a layout being built from the old map is dropped here.
        *lock(&self.layout) = None;
    }

    /// The per-cluster families in output order — each family's `# HELP`/`# TYPE`, then every
    /// part's samples of it — as one buffer of deflate data (see [`Layout`]).
    fn layout(&self) -> Arc<Layout> {
        let mut cached = lock(&self.layout);
        if let Some(layout) = cached.as_ref() {
            return layout.clone();
        }
        let parts: Vec<(PartKey, Arc<RenderedCluster>)> = read_lock(&self.clusters)
            .iter()
            .map(|(key, part)| (key.clone(), part.clone()))
            .collect();
        let pieces: Vec<&[Piece]> = parts.iter().map(|(_, p)| &p.per_family[..]).collect();
        let built = Layout::build(&pieces);
        // The parts' compressed pieces are in the layout now: their own copies go, unless a
        // part was replaced meanwhile (then the layout is dropped when `set_part` gets the lock).
        let mut map = write_lock(&self.clusters);
        for ((key, old), per_family) in parts.iter().zip(built.moved) {
            if let Some(current) = map.get_mut(key).filter(|c| Arc::ptr_eq(c, old)) {
                *current = Arc::new(RenderedCluster { per_family });
            }
        }
        drop(map);
        let layout = Arc::new(built.layout);
        *cached = Some(layout.clone());
        layout
    }

    /// The self-metrics' part in `format`, rendered now (it changes with every scrape).
    fn self_metrics_part(&self, format: Format) -> String {
        let mut own = String::new();
        if prometheus_client::encoding::text::encode(&mut own, &self.self_metrics).is_err() {
            tracing::error!("the self-metrics could not be encoded");
        }
        match format {
            Format::OpenMetrics => {
                // `# EOF` is written after the per-cluster families: dropped in place, no copy.
                if own.ends_with("# EOF\n") {
                    own.truncate(own.len() - "# EOF\n".len());
                }
                own
            }
            Format::Text => openmetrics_to_text(&own),
        }
    }

    /// The exposition in `format` as the frames of its body: the self-metrics (rendered now),
    /// the per-cluster families (pre-rendered, see [`Exposition::set_part`]) and, for
    /// OpenMetrics, `# EOF`. Plain, the families' text is inflated from their chunks while the
    /// body is sent. With `gzip`, the body is one gzip member (header, each piece's deflate
    /// data, trailer) of the chunks as they are; the self-metrics are compressed now when
    /// small, else go in as stored (uncompressed) blocks: a copy instead of compressing a
    /// large fleet's per request.
    pub(crate) fn scrape(&self, format: Format, gzip: bool) -> Frames {
        let own = self.self_metrics_part(format);
        let layout = self.layout();
        let eof = format == Format::OpenMetrics;
        let mut frames = Frames::default();
        if !gzip {
            frames.push(Bytes::from(own));
            frames.push_inflated(layout.deflate.clone(), layout.crc.total_len());
            if eof {
                frames.push(Bytes::from_static(EOF.as_bytes()));
            }
            return frames;
        }
        let own = if own.len() < OWN_COMPRESSED_BELOW {
            Chunk::compressed_fast(own.as_bytes())
        } else {
            Chunk::stored(own.as_bytes())
        };
        // The layout's CRC-32 was combined once when it was built: 2 or 3 combines per scrape.
        let mut crc = own.crc().clone();
        crc.combine(&layout.crc);
        frames.push(Bytes::from_static(&GZIP_HEADER));
        frames.push(own.deflate().clone());
        frames.push(layout.deflate.clone());
        if eof {
            crc.combine(eof_chunk().crc());
            frames.push(eof_chunk().deflate().clone());
        }
        frames.push(gzip_tail(&crc));
        frames
    }

    /// The whole exposition text (OpenMetrics), joined into one string (for tests and
    /// tools; `/metrics` serves `Exposition::scrape`'s pieces).
    pub fn render(&self) -> String {
        self.render_as(Format::OpenMetrics)
    }

    /// The whole exposition text in `format`, joined into one string.
    pub(crate) fn render_as(&self, format: Format) -> String {
        let joined: Vec<u8> = self
            .scrape(format, false)
            .flat_map(|f| f.to_vec())
            .collect();
        String::from_utf8(joined).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into())
    }
}

/// The self-metrics are compressed per scrape (at the fastest level) when shorter than this:
/// a small fleet's, about 0.1-0.2 ms of CPU; a large fleet's go in as stored blocks, a copy,
/// so that its gzip scrapes stay cheap. 64 KiB: about 35 clusters.
const OWN_COMPRESSED_BELOW: usize = 64 * 1024;

/// The end of an OpenMetrics exposition.
const EOF: &str = "# EOF\n";

/// [`EOF`], compressed once per process.
fn eof_chunk() -> &'static Chunk {
    static CHUNK: OnceLock<Chunk> = OnceLock::new();
    CHUNK.get_or_init(|| Chunk::compressed(EOF.as_bytes()))
}

impl Publish for Exposition {
    fn publish_rest(&self, cluster: &str, snapshot: Option<Arc<ClusterSnapshot>>) {
        let rendered = snapshot.as_deref().map(|s| render_rest(cluster, s));
        self.set_part(cluster, Side::Rest, rendered);
    }

    fn publish_kafka(&self, cluster: &str, measured: Option<Arc<KafkaSnapshot>>) {
        let rendered = measured.as_deref().map(|m| render_kafka(cluster, m));
        self.set_part(cluster, Side::Kafka, rendered);
    }
}

impl ClusterSeries for Exposition {
    /// A cluster (re)started without a `kafka` section: its Kafka side is withdrawn (a
    /// changed cluster's REST side stays until its new collector publishes).
    fn start_cluster(&self, setup: &ClusterSetup) {
        if setup.cluster.kafka.is_none() {
            self.set_part(&setup.cluster.name, Side::Kafka, None);
        }
    }

    /// Every side of the cluster's rendering is withdrawn.
    fn forget_cluster(&self, setup: &ClusterSetup) {
        self.set_part(&setup.cluster.name, Side::Rest, None);
        self.set_part(&setup.cluster.name, Side::Kafka, None);
        self.set_part(&setup.cluster.name, Side::Readiness, None);
    }
}

/// Metric family names and types present in an exposition text (for tests and docs checks).
pub fn families_in(text: &str) -> BTreeSet<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| {
            let (name, kind) = l.split_once(' ')?;
            Some((name.to_owned(), kind.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod golden;
#[cfg(test)]
mod tests;
