//! What the per-cluster families share: the [`families!`] and [`label_set!`] macros with which
//! each writer declares its own table next to its code (`rest.rs`, `kafka.rs`; the two are
//! concatenated into [`super::CLUSTER_FAMILIES`]), [`FamilyDef`], the label sets both sides
//! use, the one rule for label values ([`label_value`]: empty → `unknown`) and
//! [`SampleWriter`], which writes the sample lines.

use std::fmt::Write as _;

use super::format::push_label_value;
use super::piece::PieceWriter;
use super::{RenderedCluster, CLUSTER_FAMILIES};

/// What a label says when the value is missing or empty.
pub(crate) const UNKNOWN_LABEL: &str = "unknown";

/// The one rule for label values: the value as reported, or [`UNKNOWN_LABEL`] when it is
/// missing or empty. `SampleWriter::sample` applies it to every label it writes; the state
/// families map an empty state to `UNKNOWN` (an empty link error to `NO_ERROR`) before that
/// (see [`crate::snapshot::Reported`]).
pub(crate) fn label_value(value: Option<&str>) -> &str {
    value.filter(|v| !v.is_empty()).unwrap_or(UNKNOWN_LABEL)
}

/// The labels of a per-cluster family after `kafka_cluster`, in output order.
pub(crate) trait LabelSet {
    /// The label names.
    const NAMES: &'static [&'static str];
    /// The label values, in the order of [`Self::NAMES`].
    fn values(&self) -> impl Iterator<Item = &str>;
}

/// Declares a label set: a struct of `&str` fields whose names are the label names.
macro_rules! label_set {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug)]
        pub(crate) struct $name<'a> {
            $($(#[$fmeta])* pub(crate) $field: &'a str,)*
        }

        impl $crate::render::families::LabelSet for $name<'_> {
            const NAMES: &'static [&'static str] = &[$(stringify!($field)),*];
            fn values(&self) -> impl Iterator<Item = &str> {
                [$(self.$field),*].into_iter()
            }
        }
    };
}
pub(crate) use label_set;

// The label sets both sides use; each side declares its own next to its table.

label_set! {
    /// A family per mirror topic.
    MirrorLabels {
        /// The link's name.
        link,
        /// The mirror topic's name.
        mirror_topic,
    }
}

label_set! {
    /// A family per mirror partition.
    PartitionLabels {
        /// The link's name.
        link,
        /// The mirror topic's name.
        mirror_topic,
        /// The partition number.
        partition,
    }
}

/// One per-cluster metric family.
#[derive(Debug, Clone, Copy)]
pub struct FamilyDef {
    /// The family's name.
    pub name: &'static str,
    /// Its help text (without `HELP_SUFFIX`).
    pub help: &'static str,
    /// Labels after `kafka_cluster`.
    pub labels: &'static [&'static str],
    /// What the HELP text leaves out: the `///` lines of the family's row, joined (its
    /// description in `docs/metrics.md` is the HELP text, then this).
    pub doc: &'static str,
}

/// A per-cluster family, as a type: its label set and its place in [`CLUSTER_FAMILIES`].
pub(crate) trait Family: Copy {
    /// The family's labels after `kafka_cluster`.
    type Labels<'a>: LabelSet;
    /// Index into [`CLUSTER_FAMILIES`].
    const INDEX: usize;
}

/// Declares one writer's table of per-cluster families, in output order: a type per family
/// in a `family` module (its [`Family::INDEX`] counted from `first`, where the table starts
/// in [`CLUSTER_FAMILIES`]) and the table `$table`. A row is
/// `Type = "name" Labels "HELP text";` (the label set declared with [`label_set!`]), after
/// `///` lines that say what the HELP text leaves out ([`FamilyDef::doc`]: `docs/metrics.md`
/// describes the family with both). All are gauges.
macro_rules! families {
    (
        $(#[$tmeta:meta])* $vis:vis const $table:ident from $first:expr;
        $($(#[doc = $doc:literal])* $id:ident = $name:literal $labels:ident $help:literal;)*
    ) => {
        /// Where this table starts in [`CLUSTER_FAMILIES`](crate::render::CLUSTER_FAMILIES).
        const FIRST: usize = $first;

        #[allow(clippy::enum_variant_names)]
        #[repr(usize)]
        enum Index { $($id,)* }

        /// Each family of this table as a type (see [`Family`](crate::render::families::Family)).
        pub(crate) mod family {
            $(
                #[doc = concat!("`", $name, "`: ", $help, ".")]
                $(#[doc = $doc])*
                #[derive(Clone, Copy, Debug)]
                pub(crate) struct $id;

                impl $crate::render::families::Family for $id {
                    type Labels<'a> = super::$labels<'a>;
                    const INDEX: usize = super::FIRST + super::Index::$id as usize;
                }
            )*
        }

        $(#[$tmeta])*
        $vis const $table: &[$crate::render::families::FamilyDef] = &[
            $($crate::render::families::FamilyDef {
                name: $name,
                help: $help,
                labels: <$labels<'static> as $crate::render::families::LabelSet>::NAMES,
                doc: concat!($($doc),*),
            },)*
        ];
    };
}
pub(crate) use families;

/// `a` then `b`, as one array (`N`: their lengths added).
pub(crate) const fn concat<const N: usize>(a: &[FamilyDef], b: &[FamilyDef]) -> [FamilyDef; N] {
    assert!(a.len() + b.len() == N);
    let empty = FamilyDef {
        name: "",
        help: "",
        labels: &[],
        doc: "",
    };
    let mut out = [empty; N];
    let mut i = 0;
    while i < N {
        out[i] = if i < a.len() { a[i] } else { b[i - a.len()] };
        i += 1;
    }
    out
}

/// Writes the sample lines of one cluster, family by family (each family's compressed while it
/// is written once it grows large, see [`PieceWriter`]).
pub(crate) struct SampleWriter {
    out: Vec<PieceWriter>,
    /// `cluster` as its `kafka_cluster` label value, escaped (the same in every sample).
    cluster: String,
}

impl SampleWriter {
    /// A writer of `cluster`'s samples.
    pub(crate) fn new(cluster: &str) -> Self {
        let mut escaped = String::with_capacity(cluster.len());
        push_label_value(&mut escaped, label_value(Some(cluster)));
        Self {
            out: CLUSTER_FAMILIES
                .iter()
                .map(|_| PieceWriter::default())
                .collect(),
            cluster: escaped,
        }
    }

    /// The rendered families.
    pub(crate) fn finish(self) -> RenderedCluster {
        RenderedCluster::of(self.out.into_iter().map(PieceWriter::finish).collect())
    }

    /// One sample of `family`; each label written as [`label_value`] says (empty →
    /// `unknown`) and escaped. Integral values up to 1e15 are written without a fraction.
    pub(crate) fn sample<F: Family>(&mut self, _family: F, labels: F::Labels<'_>, value: f64) {
        let def = &CLUSTER_FAMILIES[F::INDEX];
        let piece = &mut self.out[F::INDEX];
        let buf = piece.text();
        let _ = write!(buf, "{}{{kafka_cluster=\"{}\"", def.name, self.cluster);
        for (label, v) in def.labels.iter().zip(labels.values()) {
            let _ = write!(buf, ",{label}=\"");
            push_label_value(buf, label_value(Some(v)));
            buf.push('"');
        }
        if value.fract() == 0.0 && value.abs() < 1e15 {
            let _ = writeln!(buf, "}} {}", value as i64);
        } else {
            let _ = writeln!(buf, "}} {value}");
        }
        piece.wrote();
    }

    /// A state family: every value of `known` 0 or 1, plus `current` at 1 when it is none of
    /// them; `labels` gives a sample's labels from its state.
    pub(crate) fn states<'s, F: Family>(
        &mut self,
        family: F,
        known: impl IntoIterator<Item = &'static str>,
        current: &'s str,
        labels: impl Fn(&'s str) -> F::Labels<'s>,
    ) {
        let mut listed = false;
        for state in known {
            listed |= state == current;
            self.sample(family, labels(state), f64::from(u8::from(state == current)));
        }
        if !listed {
            self.sample(family, labels(current), 1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{kafka, rest};

    #[test]
    fn label_value_maps_missing_and_empty_to_unknown() {
        assert_eq!(label_value(None), UNKNOWN_LABEL);
        assert_eq!(label_value(Some("")), UNKNOWN_LABEL);
        assert_eq!(label_value(Some(" ")), " ");
        assert_eq!(label_value(Some("OUTBOUND")), "OUTBOUND");
    }

    #[test]
    fn the_table_takes_label_names_from_the_label_sets() {
        assert_eq!(CLUSTER_FAMILIES[0].name, "clusterlink_link_info");
        assert_eq!(CLUSTER_FAMILIES[0].labels.len(), 10);
        assert_eq!(
            CLUSTER_FAMILIES[kafka::family::OffsetSyncLag::INDEX].labels,
            ["link", "consumer_group", "mirror_topic"]
        );
        // The Kafka side's table follows the REST side's.
        assert_eq!(
            CLUSTER_FAMILIES[rest::family::PartitionFetchOffset::INDEX].name,
            "clusterlink_mirror_partition_last_source_fetch_offset"
        );
        assert_eq!(
            kafka::family::PartitionDestHwm::INDEX,
            rest::REST_FAMILIES.len()
        );
        assert_eq!(
            CLUSTER_FAMILIES.len(),
            rest::REST_FAMILIES.len()
                + kafka::KAFKA_FAMILIES.len()
                + crate::render::readiness::READINESS_FAMILIES.len()
        );
        let names: std::collections::BTreeSet<_> =
            CLUSTER_FAMILIES.iter().map(|f| f.name).collect();
        assert_eq!(names.len(), CLUSTER_FAMILIES.len(), "a family listed twice");
    }

    #[test]
    fn samples_escape_labels_and_write_integers_without_a_fraction() {
        let mut w = SampleWriter::new("c\"1");
        let labels = MirrorLabels {
            link: "",
            mirror_topic: "a\\b\nc",
        };
        w.sample(rest::family::MirrorLag, labels, 3.0);
        w.sample(kafka::family::MirrorLagSeconds, labels, 0.25);
        let r = w.finish();
        assert_eq!(
            r.family_text(rest::family::MirrorLag::INDEX),
            "clusterlink_mirror_topic_lag_messages{kafka_cluster=\"c\\\"1\",link=\"unknown\",mirror_topic=\"a\\\\b\\nc\"} 3\n"
        );
        assert!(r
            .family_text(kafka::family::MirrorLagSeconds::INDEX)
            .ends_with("} 0.25\n"));
    }
}
