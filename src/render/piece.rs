//! One family's samples of one cluster as they are kept between cycles ([`Piece`]), and
//! [`PieceWriter`], which keeps them so while they are written: a small text stays text (the
//! layout compresses it together with its small neighbours, `super::layout`); a larger one is
//! compressed while it is written, [`SEGMENT`] bytes at a time, and kept compressed only, so
//! that neither the rendering nor the exposition ever holds a cluster's text whole.

use bytes::Bytes;

use super::chunk::{Chunk, ChunkWriter};

/// A piece of text shorter than this stays text: 16 KiB.
pub(crate) const SMALL: usize = 16 * 1024;

/// How much text a [`PieceWriter`] buffers before compressing it: 64 KiB.
pub(crate) const SEGMENT: usize = 64 * 1024;

/// One family's samples of one cluster.
#[derive(Clone, Debug)]
pub(crate) enum Piece {
    /// Shorter than [`SMALL`] bytes (or empty): the text, compressed with its neighbours when
    /// the layout is built.
    Text(Bytes),
    /// The rest: compressed once, kept as deflate data only.
    Deflated(Chunk),
}

impl Default for Piece {
    fn default() -> Self {
        Self::Text(Bytes::new())
    }
}

impl Piece {
    /// The text of the piece (inflated when compressed).
    #[cfg(test)]
    pub(crate) fn text(&self) -> String {
        match self {
            Self::Text(t) => String::from_utf8(t.to_vec()).expect("UTF-8"),
            Self::Deflated(c) => super::body::inflated(c.deflate()),
        }
    }

    /// A piece of `text`: text when small, else compressed now.
    pub(crate) fn of(mut text: String) -> Self {
        if text.len() < SMALL {
            // Kept until the next cycle: no spare capacity.
            text.shrink_to_fit();
            return Self::Text(Bytes::from(text));
        }
        Self::Deflated(Chunk::compressed(text.as_bytes()))
    }
}

/// Writes one piece: text appended to [`PieceWriter::text`], then [`PieceWriter::wrote`]
/// compresses it once [`SEGMENT`] bytes are buffered.
#[derive(Default)]
pub(crate) struct PieceWriter {
    text: String,
    deflated: Option<ChunkWriter>,
}

impl PieceWriter {
    /// The text buffered, to append to.
    pub(crate) fn text(&mut self) -> &mut String {
        &mut self.text
    }

    /// After text was appended: compresses the buffer once it holds [`SEGMENT`] bytes.
    pub(crate) fn wrote(&mut self) {
        if self.text.len() >= SEGMENT {
            let writer = self.deflated.get_or_insert_with(ChunkWriter::new);
            writer.write(self.text.as_bytes());
            self.text.clear();
        }
    }

    /// The piece written.
    pub(crate) fn finish(self) -> Piece {
        match self.deflated {
            Some(mut writer) => {
                writer.write(self.text.as_bytes());
                Piece::Deflated(writer.finish())
            }
            None => Piece::of(self.text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(lines: usize) -> Piece {
        let mut w = PieceWriter::default();
        for i in 0..lines {
            w.text().push_str(&format!("x{{partition=\"{i}\"}} {i}\n"));
            w.wrote();
        }
        w.finish()
    }

    fn expected(lines: usize) -> String {
        (0..lines)
            .map(|i| format!("x{{partition=\"{i}\"}} {i}\n"))
            .collect()
    }

    #[test]
    fn small_pieces_stay_text_and_larger_ones_are_compressed() {
        assert!(matches!(write(0), Piece::Text(t) if t.is_empty()));
        let small = write(10);
        assert!(matches!(&small, Piece::Text(t) if t.len() < SMALL));
        assert_eq!(small.text(), expected(10));
        // Between SMALL and SEGMENT: compressed when finished.
        let middle = write(1500);
        assert!(expected(1500).len() > SMALL && expected(1500).len() < SEGMENT);
        assert!(matches!(&middle, Piece::Deflated(_)));
        assert_eq!(middle.text(), expected(1500));
        // Several segments: compressed while written.
        let large = write(50_000);
        assert!(expected(50_000).len() > 10 * SEGMENT);
        let Piece::Deflated(chunk) = &large else {
            panic!("not compressed");
        };
        assert_eq!(chunk.text_len(), expected(50_000).len() as u64);
        assert_eq!(large.text(), expected(50_000));
    }
}
