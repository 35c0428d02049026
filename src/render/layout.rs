//! The per-cluster families in output order ([`Layout`]): each family's `# HELP`/`# TYPE`,
//! then every part's piece of it (`super::piece`), as one buffer of deflate data. Built at the
//! first scrape after a part changed and shared by the scrapes until the next change.
//!
//! Runs of small texts — the headers and the pieces kept as text — are compressed together,
//! into chunks of at most [`RUN`] bytes of text, so that a small exposition compresses about as
//! well as the whole text would. Compressed pieces are copied into the buffer and the parts
//! are given back with their pieces moved there ([`Built::moved`]: slices of the buffer), so
//! they are held once, and a scrape sends the buffer in large writes rather than a piece at a
//! time. The CRC-32 of all the text is combined here once, not per scrape.

use std::fmt::Write as _;
use std::ops::Range;
use std::sync::OnceLock;

use bytes::Bytes;

use super::chunk::{Chunk, Deflater};
use super::piece::Piece;
use super::{CLUSTER_FAMILIES, HELP_SUFFIX};

/// The most text compressed into one chunk of small pieces: 256 KiB.
pub(crate) const RUN: usize = 256 * 1024;

/// The per-cluster families in output order, with the CRC-32 state of all their text.
pub(crate) struct Layout {
    /// Their deflate data: sync-flushed chunks, in order.
    pub(crate) deflate: Bytes,
    /// The CRC-32 state of their text, combined in order.
    pub(crate) crc: crc32fast::Hasher,
}

/// A layout, and the parts it was built from with their compressed pieces moved into it.
pub(crate) struct Built {
    /// The layout.
    pub(crate) layout: Layout,
    /// Each part's pieces, in the order given: the same text, their deflate data now slices
    /// of the layout's.
    pub(crate) moved: Vec<Vec<Piece>>,
}

impl Layout {
    /// The layout of `parts`, each a list of pieces indexed like [`CLUSTER_FAMILIES`].
    pub(crate) fn build(parts: &[&[Piece]]) -> Built {
        let mut runs = Runs::default();
        for (family, header) in family_headers().iter().enumerate() {
            runs.text(header.as_bytes());
            for (part, pieces) in parts.iter().enumerate() {
                match pieces.get(family) {
                    Some(Piece::Text(text)) => runs.text(text),
                    Some(Piece::Deflated(chunk)) => runs.piece(chunk, (part, family)),
                    None => {}
                }
            }
        }
        runs.end_run();
        runs.into_built(parts)
    }
}

/// Where a compressed piece is: (part, family).
type PieceAt = (usize, usize);

/// Builds a layout: texts gathered into runs, runs and compressed pieces laid out in order.
#[derive(Default)]
struct Runs {
    deflater: Option<Deflater>,
    run: Vec<u8>,
    /// The chunks in order, with the piece each one is (`None`: a run).
    chunks: Vec<(Chunk, Option<PieceAt>)>,
}

impl Runs {
    /// Adds `text` to the run (compressed once the run holds [`RUN`] bytes).
    fn text(&mut self, text: &[u8]) {
        self.run.extend_from_slice(text);
        if self.run.len() >= RUN {
            self.end_run();
        }
    }

    /// Adds a compressed piece after the run, which ends.
    fn piece(&mut self, chunk: &Chunk, at: PieceAt) {
        self.end_run();
        if chunk.text_len() > 0 {
            self.chunks.push((chunk.clone(), Some(at)));
        }
    }

    fn end_run(&mut self) {
        if self.run.is_empty() {
            return;
        }
        let deflater = self.deflater.get_or_insert_with(Deflater::new);
        let chunk = deflater.chunk(&self.run);
        self.run.clear();
        self.chunks.push((chunk, None));
    }

    /// The chunks copied into one buffer, and the parts' pieces moved there.
    fn into_built(self, parts: &[&[Piece]]) -> Built {
        let size = self.chunks.iter().map(|(c, _)| c.deflate().len()).sum();
        let mut buffer = Vec::with_capacity(size);
        let mut crc = crc32fast::Hasher::new();
        let mut placed: Vec<(Range<usize>, PieceAt)> = Vec::new();
        for (chunk, at) in &self.chunks {
            let start = buffer.len();
            buffer.extend_from_slice(chunk.deflate());
            crc.combine(chunk.crc());
            if let Some(at) = at {
                placed.push((start..buffer.len(), *at));
            }
        }
        let deflate = Bytes::from(buffer);
        let mut moved: Vec<Vec<Piece>> = parts.iter().map(|p| p.to_vec()).collect();
        for (range, (part, family)) in placed {
            if let Some(Piece::Deflated(chunk)) = moved[part].get_mut(family) {
                *chunk = chunk.moved_to(deflate.slice(range));
            }
        }
        Built {
            layout: Layout { deflate, crc },
            moved,
        }
    }
}

/// `# HELP` and `# TYPE` of each per-cluster family (the same in both formats: gauges), made
/// once per process.
fn family_headers() -> &'static [String] {
    static HEADERS: OnceLock<Vec<String>> = OnceLock::new();
    HEADERS.get_or_init(|| {
        CLUSTER_FAMILIES
            .iter()
            .map(|def| {
                let mut text = String::new();
                let _ = writeln!(text, "# HELP {} {}{HELP_SUFFIX}", def.name, def.help);
                let _ = writeln!(text, "# TYPE {} gauge", def.name);
                text
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::body::inflated;

    fn line(cluster: &str, family: usize, i: usize) -> String {
        format!(
            "{}{{kafka_cluster=\"{cluster}\",partition=\"{i}\"}} {i}\n",
            CLUSTER_FAMILIES[family].name
        )
    }

    /// A part with `lines` samples of its first two families.
    fn part(cluster: &str, lines: usize) -> Vec<Piece> {
        (0..2)
            .map(|f| Piece::of((0..lines).map(|i| line(cluster, f, i)).collect()))
            .collect()
    }

    fn build(parts: &[Vec<Piece>]) -> Built {
        let parts: Vec<&[Piece]> = parts.iter().map(Vec::as_slice).collect();
        Layout::build(&parts)
    }

    /// The text of a layout.
    fn text(layout: &Layout) -> String {
        let text = inflated(&layout.deflate);
        assert_eq!(
            layout.crc.clone().finalize(),
            crc32fast::hash(text.as_bytes())
        );
        text
    }

    #[test]
    fn families_come_in_order_and_compressed_pieces_move_into_the_layout() {
        let parts = [part("a", 3), part("b", 10_000), part("c", 3)];
        let built = build(&parts);
        let mut expected = String::new();
        for (f, header) in family_headers().iter().enumerate() {
            expected.push_str(header);
            for (cluster, lines) in [("a", 3), ("b", 10_000), ("c", 3)] {
                if f < 2 {
                    (0..lines).for_each(|i| expected.push_str(&line(cluster, f, i)));
                }
            }
        }
        assert_eq!(text(&built.layout), expected);
        // b's compressed pieces are slices of the layout now, the same text as before.
        let buffer = built.layout.deflate.as_ptr_range();
        for (before, after) in parts[1].iter().zip(&built.moved[1]) {
            let (Piece::Deflated(before), Piece::Deflated(after)) = (before, after) else {
                panic!("b's samples are compressed");
            };
            assert!(buffer.contains(&after.deflate().as_ptr()));
            assert_eq!(after.deflate(), before.deflate());
            assert_eq!(after.text_len(), before.text_len());
        }
        assert!(built.moved[0].iter().all(|p| matches!(p, Piece::Text(_))));
        // Built again from the moved pieces: the same layout.
        assert_eq!(text(&build(&built.moved).layout), expected);
    }

    #[test]
    fn runs_are_cut_at_run_bytes() {
        let parts: Vec<Vec<Piece>> = (0..100).map(|c| part(&format!("c{c}"), 100)).collect();
        let built = build(&parts);
        let text = text(&built.layout);
        assert!(text.len() > 2 * RUN);
        // Every piece is small: nothing moved, and the runs compress as one text would.
        assert!(built
            .moved
            .iter()
            .flatten()
            .all(|p| matches!(p, Piece::Text(_))));
        let whole = Chunk::compressed(text.as_bytes()).deflate().len();
        assert!(built.layout.deflate.len() < whole * 11 / 10);
    }
}
