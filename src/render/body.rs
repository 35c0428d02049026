//! A response body as the frames it is sent in ([`Frames`]), its exact length known before the
//! first: pieces of memory as they are (the gzip member of `/metrics` is its pre-compressed
//! chunks, `super::chunk`) or text inflated from deflate data while the body is sent
//! ([`Frames::push_inflated`]), one frame of at most [`FRAME`] bytes at a time. That is how a
//! plain `/metrics` answer gets the per-cluster families' text, which is kept compressed only:
//! it is never held whole, in the exposition or for a scrape.

use std::collections::VecDeque;

use bytes::Bytes;
use flate2::{Decompress, FlushDecompress};

/// The largest frame of inflated text: 128 KiB.
pub(crate) const FRAME: usize = 128 * 1024;

/// Where the next frames come from.
enum Source {
    /// A piece sent as it is.
    Bytes(Bytes),
    /// Text inflated from deflate data.
    Inflate(Inflating),
}

/// The frames of a body, produced as they are sent (see the module header).
#[derive(Default)]
pub(crate) struct Frames {
    sources: VecDeque<Source>,
    remaining: u64,
}

impl std::fmt::Debug for Frames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frames")
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

impl From<Bytes> for Frames {
    fn from(bytes: Bytes) -> Self {
        let mut frames = Self::default();
        frames.push(bytes);
        frames
    }
}

impl Frames {
    /// Adds `bytes`, sent as they are.
    pub(crate) fn push(&mut self, bytes: Bytes) {
        self.remaining += bytes.len() as u64;
        self.sources.push_back(Source::Bytes(bytes));
    }

    /// Adds the `text_len` bytes of text of `deflate` (sync-flushed chunks, one after the
    /// other), inflated while they are sent.
    pub(crate) fn push_inflated(&mut self, deflate: Bytes, text_len: u64) {
        self.remaining += text_len;
        self.sources
            .push_back(Source::Inflate(Inflating::new(deflate)));
    }

    /// The bytes not sent yet.
    pub(crate) fn remaining(&self) -> u64 {
        self.remaining
    }
}

impl Iterator for Frames {
    type Item = Bytes;

    /// The next frame (never empty).
    fn next(&mut self) -> Option<Bytes> {
        loop {
            let frame = match self.sources.front_mut()? {
                Source::Bytes(b) => {
                    let b = std::mem::take(b);
                    self.sources.pop_front();
                    b
                }
                Source::Inflate(i) => match i.next_frame() {
                    Some(f) => f,
                    None => {
                        self.sources.pop_front();
                        continue;
                    }
                },
            };
            if !frame.is_empty() {
                self.remaining = self.remaining.saturating_sub(frame.len() as u64);
                return Some(frame);
            }
        }
    }
}

/// The text of raw deflate data with no final block (sync-flushed chunks one after the
/// other), inflated frame by frame.
struct Inflating {
    deflate: Bytes,
    /// How much of it was read.
    offset: usize,
    inflate: Decompress,
}

impl Inflating {
    fn new(deflate: Bytes) -> Self {
        Self {
            deflate,
            offset: 0,
            inflate: Decompress::new(false),
        }
    }

    /// Up to [`FRAME`] bytes of text; `None` once all of it was given.
    fn next_frame(&mut self) -> Option<Bytes> {
        let mut out = Vec::with_capacity(FRAME);
        while out.len() < out.capacity() {
            let input = self.deflate.get(self.offset..).unwrap_or_default();
            let (read, written) = (self.inflate.total_in(), self.inflate.total_out());
            let status = self
                .inflate
                .decompress_vec(input, &mut out, FlushDecompress::Sync);
            let consumed = usize::try_from(self.inflate.total_in() - read).unwrap_or(0);
            self.offset += consumed;
            let progress = consumed > 0 || self.inflate.total_out() > written;
            if status.is_ok() && progress {
                continue;
            }
            if status.is_err() || self.offset < self.deflate.len() {
                // Data this process compressed: never seen. The body ends short, which the
                // connection reports to the client (its length was announced).
                tracing::error!(error = ?status.err(), "the exposition could not be inflated");
                self.offset = self.deflate.len();
            }
            // All read and nothing pending.
            break;
        }
        (!out.is_empty()).then(|| Bytes::from(out))
    }
}

/// The text of `deflate` (sync-flushed chunks), inflated and joined (for tests).
#[cfg(test)]
pub(crate) fn inflated(deflate: &Bytes) -> String {
    let mut frames = Frames::default();
    frames.push_inflated(deflate.clone(), 0);
    let text: Vec<u8> = frames.flat_map(|f| f.to_vec()).collect();
    String::from_utf8(text).expect("UTF-8 text")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::chunk::{Chunk, ChunkWriter};

    fn lines(from: usize, to: usize) -> String {
        (from..to)
            .map(|i| format!("clusterlink_x{{kafka_cluster=\"c\",partition=\"{i}\"}} {i}\n"))
            .collect()
    }

    #[test]
    fn frames_give_pieces_and_inflated_text_in_order_with_the_length_announced() {
        let big = lines(0, 40_000);
        let mut w = ChunkWriter::new();
        w.write(big.as_bytes());
        let chunks: Vec<Chunk> = vec![
            Chunk::compressed(b"# HELP x X.\n"),
            Chunk::default(),
            w.finish(),
            Chunk::stored(b"x 1\n"),
        ];
        let deflate: Vec<u8> = chunks.iter().flat_map(|c| c.deflate().to_vec()).collect();
        let text_len = chunks.iter().map(Chunk::text_len).sum();
        let mut frames = Frames::from(Bytes::from_static(b"own 1\n"));
        frames.push(Bytes::new());
        frames.push_inflated(Bytes::from(deflate), text_len);
        frames.push(Bytes::from_static(b"# EOF\n"));
        let expected = format!("own 1\n# HELP x X.\n{big}x 1\n# EOF\n");
        assert_eq!(frames.remaining(), expected.len() as u64);
        let mut sent = Vec::new();
        let mut sizes = Vec::new();
        for frame in frames.by_ref() {
            assert!(!frame.is_empty() && frame.len() <= FRAME);
            sizes.push(frame.len());
            sent.extend_from_slice(&frame);
        }
        assert_eq!(String::from_utf8(sent).unwrap(), expected);
        assert_eq!(frames.remaining(), 0);
        assert!(sizes.len() > big.len() / FRAME, "{sizes:?}");
    }

    #[test]
    fn data_that_does_not_inflate_ends_the_frames() {
        let mut frames = Frames::default();
        frames.push_inflated(Bytes::from_static(&[0xff; 64]), 1000);
        frames.push(Bytes::from_static(b"after\n"));
        let sent: Vec<Bytes> = frames.collect();
        assert_eq!(sent, [Bytes::from_static(b"after\n")]);
    }

    #[test]
    fn no_data_no_frames() {
        let mut frames = Frames::default();
        frames.push_inflated(Bytes::new(), 0);
        frames.push_inflated(Chunk::compressed(b"").deflate().clone(), 0);
        assert_eq!(frames.remaining(), 0);
        assert_eq!(frames.next(), None);
    }
}
