//! The per-cluster families in output order ([`Layout`]): each family's `# HELP`/`# TYPE`,
//! then every part's piece of it (`super::piece`), as chunks. Built at the first scrape after
//! a part changed and shared by the scrapes until the next change. Runs of small texts — the
//! headers and the pieces kept as text — are compressed together, into chunks of at most
//! [`RUN`] bytes of text, so that a small exposition compresses about as well as the whole
//! text would; compressed pieces are shared, not copied. The CRC-32 of all the text is
//! combined here once, not per scrape.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use super::chunk::{Chunk, Deflater};
use super::piece::Piece;
use super::{CLUSTER_FAMILIES, HELP_SUFFIX};

/// The most text compressed into one chunk of small pieces: 256 KiB.
pub(crate) const RUN: usize = 256 * 1024;

/// The per-cluster families in output order, with the CRC-32 state of all their text.
pub(crate) struct Layout {
    /// The chunks, in order (none empty).
    pub(crate) chunks: Arc<[Chunk]>,
    /// The CRC-32 state of their text, combined in order.
    pub(crate) crc: crc32fast::Hasher,
}

impl Layout {
    /// The layout of `parts`, each a list of pieces indexed like [`CLUSTER_FAMILIES`].
    pub(crate) fn of<'p>(parts: impl Iterator<Item = &'p [Piece]> + Clone) -> Self {
        let mut runs = Runs::default();
        for (i, header) in family_headers().iter().enumerate() {
            runs.text(header.as_bytes());
            for part in parts.clone() {
                match part.get(i) {
                    Some(Piece::Text(text)) => runs.text(text),
                    Some(Piece::Deflated(chunk)) => runs.chunk(chunk),
                    None => {}
                }
            }
        }
        runs.finish()
    }
}

/// Builds a layout: texts gathered into runs, runs and compressed pieces pushed in order.
#[derive(Default)]
struct Runs {
    deflater: Option<Deflater>,
    run: Vec<u8>,
    chunks: Vec<Chunk>,
    crc: crc32fast::Hasher,
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
    fn chunk(&mut self, chunk: &Chunk) {
        self.end_run();
        self.push(chunk.clone());
    }

    fn end_run(&mut self) {
        if self.run.is_empty() {
            return;
        }
        let deflater = self.deflater.get_or_insert_with(Deflater::new);
        let chunk = deflater.chunk(&self.run);
        self.run.clear();
        self.push(chunk);
    }

    fn push(&mut self, chunk: Chunk) {
        if chunk.text_len() > 0 {
            self.crc.combine(chunk.crc());
            self.chunks.push(chunk);
        }
    }

    fn finish(mut self) -> Layout {
        self.end_run();
        Layout {
            chunks: self.chunks.into(),
            crc: self.crc,
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

    #[test]
    fn families_come_in_order_with_small_runs_joined_and_large_pieces_shared() {
        let parts = [part("a", 3), part("b", 10_000), part("c", 3)];
        let layout = Layout::of(parts.iter().map(Vec::as_slice));
        let mut expected = String::new();
        for (f, header) in family_headers().iter().enumerate() {
            expected.push_str(header);
            for (cluster, lines) in [("a", 3), ("b", 10_000), ("c", 3)] {
                if f < 2 {
                    (0..lines).for_each(|i| expected.push_str(&line(cluster, f, i)));
                }
            }
        }
        assert_eq!(inflated(&layout.chunks), expected);
        assert_eq!(
            layout.crc.clone().finalize(),
            crc32fast::hash(expected.as_bytes())
        );
        // Per family of the two: header and a's samples, b's (shared), c's and what follows;
        // the other families' headers join into runs of at most RUN bytes.
        let Piece::Deflated(big) = &parts[1][0] else {
            panic!("b's samples are compressed");
        };
        assert!(layout
            .chunks
            .iter()
            .any(|c| c.deflate().as_ptr() == big.deflate().as_ptr()));
        assert_eq!(layout.chunks.len(), 5, "{}", layout.chunks.len());
    }

    #[test]
    fn runs_are_cut_at_run_bytes() {
        let parts: Vec<Vec<Piece>> = (0..100).map(|c| part(&format!("c{c}"), 100)).collect();
        let layout = Layout::of(parts.iter().map(Vec::as_slice));
        let text = inflated(&layout.chunks);
        assert!(text.len() > 2 * RUN && layout.chunks.len() > 2);
        for c in &layout.chunks[..layout.chunks.len() - 1] {
            assert!(c.text_len() >= RUN as u64 && c.text_len() < (RUN + 16 * 1024) as u64);
        }
    }
}
