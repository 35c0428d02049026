//! Pre-compressed pieces of the exposition and the one gzip member `/metrics` serves from them.
//!
//! A [`Chunk`] is an immutable piece of exposition text (`bytes::Bytes`) together with its raw
//! deflate data, compressed once when the chunk is made and ended by a sync flush (so it ends
//! on a byte boundary and refers to nothing outside itself), and its CRC-32. Any sequence of
//! chunks is then one valid gzip member without compressing anything again:
//! [`GZIP_HEADER`], each chunk's deflate data in order, and [`gzip_tail`] (a final empty
//! stored block, the CRC-32 of the whole text combined from the chunks' own with
//! `crc32fast::Hasher::combine`, and the total length mod 2^32). One member, not several
//! concatenated ones: `curl --compressed` and some other clients stop after the first member.

use bytes::Bytes;
use flate2::{Compress, Compression, FlushCompress, Status};

/// The gzip header (RFC 1952): deflate, no flags, no modification time, no extra fields,
/// operating system unknown.
pub(crate) const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// A final, empty stored deflate block: ends the deflate stream on a byte boundary.
const FINAL_BLOCK: [u8; 5] = [0x01, 0x00, 0x00, 0xff, 0xff];

/// A piece of exposition text with its CRC-32 and, when made with [`Chunk::compressed`], its
/// raw deflate data (sync-flushed).
#[derive(Clone, Debug, Default)]
pub(crate) struct Chunk {
    text: Bytes,
    deflate: Option<Bytes>,
    crc: crc32fast::Hasher,
}

impl Chunk {
    /// A chunk of `text`, compressed now (deflate level 1, sync flush; nothing for an empty
    /// text).
    pub(crate) fn compressed(text: impl Into<Bytes>) -> Self {
        Self::compressed_with(text.into(), &mut Deflater::new())
    }

    /// [`Chunk::compressed`] with a reusable compressor (its state is reset first).
    pub(crate) fn compressed_with(text: Bytes, deflater: &mut Deflater) -> Self {
        let deflate = deflater.sync_flushed(&text);
        Self {
            crc: crc_of(&text),
            deflate: Some(deflate),
            text,
        }
    }

    /// A chunk of `text` that is not compressed: its deflate data are stored blocks, made
    /// when asked for (a copy, no compression: for the small text made per request).
    pub(crate) fn plain(text: impl Into<Bytes>) -> Self {
        let text = text.into();
        Self {
            crc: crc_of(&text),
            deflate: None,
            text,
        }
    }

    /// The text.
    pub(crate) fn text(&self) -> &Bytes {
        &self.text
    }

    /// The text as a string (empty if it were not UTF-8, which chunks made from `String`s
    /// never are).
    #[cfg(test)]
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text).unwrap_or_default()
    }

    /// The raw deflate data, ending on a byte boundary: compressed when the chunk was made
    /// [`Chunk::compressed`], else stored blocks made now.
    pub(crate) fn deflate(&self) -> Bytes {
        match &self.deflate {
            Some(d) => d.clone(),
            None => stored_blocks(&self.text),
        }
    }

    /// The CRC-32 state of the text (with its length), to combine with the others'.
    pub(crate) fn crc(&self) -> &crc32fast::Hasher {
        &self.crc
    }

    /// Length of the text in bytes.
    pub(crate) fn len(&self) -> usize {
        self.text.len()
    }

    /// Whether the text is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

/// `text` as non-final stored deflate blocks (RFC 1951 §3.2.4: each a zero header byte, LEN
/// and its complement, then up to 65 535 bytes as they are); empty for an empty text.
fn stored_blocks(text: &[u8]) -> Bytes {
    const MAX: usize = u16::MAX as usize;
    let mut out = Vec::with_capacity(text.len() + 5 * text.len().div_ceil(MAX));
    for block in text.chunks(MAX) {
        // A block is at most u16::MAX bytes long.
        let len = block.len() as u16;
        out.push(0);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    Bytes::from(out)
}

fn crc_of(text: &[u8]) -> crc32fast::Hasher {
    let mut h = crc32fast::Hasher::new();
    h.update(text);
    h
}

/// A raw deflate compressor (level 1) reused across chunks.
pub(crate) struct Deflater(Compress);

impl Deflater {
    /// A new compressor.
    pub(crate) fn new() -> Self {
        Self(Compress::new(Compression::fast(), false))
    }

    /// `text` as raw deflate data ending with a sync flush (empty for an empty text): a
    /// stream of non-final blocks that can be followed by any other such data.
    pub(crate) fn sync_flushed(&mut self, text: &[u8]) -> Bytes {
        if text.is_empty() {
            return Bytes::new();
        }
        let c = &mut self.0;
        c.reset();
        let mut out = Vec::with_capacity(text.len() / 4 + 64);
        loop {
            let consumed = usize::try_from(c.total_in()).unwrap_or(usize::MAX);
            let rest = text.get(consumed..).unwrap_or_default();
            let status = c.compress_vec(rest, &mut out, FlushCompress::Sync);
            let done = c.total_in() == text.len() as u64 && out.len() < out.capacity();
            match status {
                Ok(Status::Ok | Status::BufError) if !done => {
                    out.reserve(out.capacity().max(4096));
                }
                // Compressing into memory has no failure mode; an error would leave `out`
                // shorter, which the caller's tests of the assembled member would catch.
                _ => break,
            }
        }
        Bytes::from(out)
    }
}

/// Joins small chunks into larger ones (texts and deflate data appended, CRC-32s combined);
/// a chunk of at least the threshold passes through shared, not copied. Empty chunks vanish.
pub(crate) struct Joiner {
    below: usize,
    out: Vec<Chunk>,
    text: Vec<u8>,
    deflate: Vec<u8>,
    crc: crc32fast::Hasher,
}

impl Joiner {
    /// A joiner of chunks smaller than `below` bytes of text.
    pub(crate) fn new(below: usize) -> Self {
        Self {
            below,
            out: Vec::new(),
            text: Vec::new(),
            deflate: Vec::new(),
            crc: crc32fast::Hasher::new(),
        }
    }

    /// Adds `chunk` after the ones before it.
    pub(crate) fn push(&mut self, chunk: &Chunk) {
        if chunk.is_empty() {
            return;
        }
        if chunk.len() >= self.below {
            self.flush();
            self.out.push(chunk.clone());
            return;
        }
        self.text.extend_from_slice(chunk.text());
        self.deflate.extend_from_slice(&chunk.deflate());
        self.crc.combine(chunk.crc());
        if self.text.len() >= self.below {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.text.is_empty() {
            return;
        }
        self.out.push(Chunk {
            text: Bytes::from(std::mem::take(&mut self.text)),
            deflate: Some(Bytes::from(std::mem::take(&mut self.deflate))),
            crc: std::mem::take(&mut self.crc),
        });
    }

    /// The chunks, in order.
    pub(crate) fn finish(mut self) -> Vec<Chunk> {
        self.flush();
        self.out
    }
}

/// What ends a gzip member whose deflate data are sync-flushed chunks: the final empty block,
/// then the CRC-32 of all the text (`crc`, the chunks' states combined in order) and its
/// length mod 2^32, both little-endian.
pub(crate) fn gzip_tail(crc: &crc32fast::Hasher) -> Bytes {
    let mut tail = Vec::with_capacity(FINAL_BLOCK.len() + 8);
    tail.extend_from_slice(&FINAL_BLOCK);
    tail.extend_from_slice(&crc.clone().finalize().to_le_bytes());
    // ISIZE is the length modulo 2^32 (RFC 1952): truncation is the point.
    tail.extend_from_slice(&(crc.total_len() as u32).to_le_bytes());
    Bytes::from(tail)
}

/// `chunks` as one gzip member, as separate pieces (header, each chunk's deflate data, tail)
/// (for the tests: `Exposition::scrape` combines a layout's CRC-32s once, not per scrape).
#[cfg(test)]
fn gzip_member<'c>(chunks: impl IntoIterator<Item = &'c Chunk>) -> Vec<Bytes> {
    let mut crc = crc32fast::Hasher::new();
    let mut deflated = Vec::new();
    for c in chunks {
        if c.is_empty() {
            continue;
        }
        crc.combine(c.crc());
        deflated.push(c.deflate());
    }
    gzip_pieces(deflated, &crc)
}

/// One gzip member of sync-flushed (or stored) deflate data `deflated` whose text has the
/// CRC-32 state `crc`: header, the data, tail. Empty pieces are left out.
pub(crate) fn gzip_pieces(
    deflated: impl IntoIterator<Item = Bytes>,
    crc: &crc32fast::Hasher,
) -> Vec<Bytes> {
    let mut out = vec![Bytes::from_static(&GZIP_HEADER)];
    out.extend(deflated.into_iter().filter(|d| !d.is_empty()));
    out.push(gzip_tail(crc));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    fn gunzip(pieces: &[Bytes]) -> Vec<u8> {
        let joined: Vec<u8> = pieces.iter().flat_map(|b| b.iter().copied()).collect();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&joined[..])
            .read_to_end(&mut out)
            .expect("a valid gzip member");
        out
    }

    fn parts() -> Vec<Chunk> {
        let big: String = (0..20_000)
            .map(|i| format!("clusterlink_x{{kafka_cluster=\"c\",partition=\"{i}\"}} {i}\n"))
            .collect();
        vec![
            Chunk::compressed(""),
            Chunk::compressed("# HELP a A.\n# TYPE a gauge\n"),
            Chunk::plain(""),
            Chunk::compressed(big),
            Chunk::plain("a 1\n"),
            Chunk::compressed(""),
            Chunk::compressed("# EOF\n"),
        ]
    }

    #[test]
    fn a_member_of_several_chunks_empty_ones_included_inflates_to_their_text() {
        let chunks = parts();
        let expected: Vec<u8> = chunks.iter().flat_map(|c| c.text().to_vec()).collect();
        let member = gzip_member(&chunks);
        assert_eq!(gunzip(&member), expected);
        let joined = member.concat();
        let one = flate2::read::GzDecoder::new(&joined[..]);
        assert!(one.header().is_some(), "one gzip member with a header");
        // Empty chunks add no piece: header, 4 non-empty chunks, tail.
        assert_eq!(member.len(), 6);
    }

    #[test]
    fn combined_crc_equals_the_crc_of_the_joined_text() {
        let chunks = parts();
        let joined: Vec<u8> = chunks.iter().flat_map(|c| c.text().to_vec()).collect();
        let mut combined = crc32fast::Hasher::new();
        for c in &chunks {
            combined.combine(c.crc());
        }
        assert_eq!(combined.total_len(), joined.len() as u64);
        assert_eq!(combined.finalize(), crc32fast::hash(&joined));
    }

    #[test]
    fn joined_chunks_keep_text_deflate_data_and_crc_in_order() {
        let chunks = parts();
        let expected: Vec<u8> = chunks.iter().flat_map(|c| c.text().to_vec()).collect();
        let mut joiner = Joiner::new(64);
        for c in &chunks {
            joiner.push(c);
        }
        let joined = joiner.finish();
        // The two small chunks before the big one are joined, the big one passes, the two
        // after it are joined.
        let sizes: Vec<usize> = joined.iter().map(Chunk::len).collect();
        assert_eq!(sizes.len(), 3, "{sizes:?}");
        assert_eq!(gunzip(&gzip_member(&joined)), expected);
        let mut crc = crc32fast::Hasher::new();
        joined.iter().for_each(|c| crc.combine(c.crc()));
        assert_eq!(crc.finalize(), crc32fast::hash(&expected));
    }

    #[test]
    fn a_member_of_no_text_is_a_valid_empty_gzip() {
        let member = gzip_member(&[Chunk::compressed(""), Chunk::plain("")]);
        assert_eq!(gunzip(&member), b"");
        let tail = member.last().expect("a tail");
        assert_eq!(&tail[5..], &[0, 0, 0, 0, 0, 0, 0, 0], "crc and length 0");
    }

    #[test]
    fn the_tail_holds_the_length_mod_2_pow_32() {
        let crc = crc32fast::Hasher::new_with_initial_len(0, (1u64 << 32) + 7);
        let tail = gzip_tail(&crc);
        assert_eq!(&tail[9..], &7u32.to_le_bytes());
    }

    #[test]
    fn compressed_chunks_shrink_and_plain_ones_become_stored_blocks() {
        let text = "clusterlink_up{kafka_cluster=\"a\"} 1\n".repeat(1000);
        let c = Chunk::compressed(text.clone());
        assert!(c.deflate().len() < text.len() / 10, "{}", c.deflate().len());
        let inflate = |deflate: Bytes| {
            let mut out = Vec::new();
            let ended = [&deflate[..], &FINAL_BLOCK].concat();
            flate2::read::DeflateDecoder::new(&ended[..])
                .read_to_end(&mut out)
                .expect("raw deflate data");
            out
        };
        assert_eq!(inflate(c.deflate()), text.as_bytes());
        // Stored blocks: 5 bytes of header per 65 535 bytes of text.
        let long = text.repeat(3);
        let stored = Chunk::plain(long.clone()).deflate();
        assert_eq!(stored.len(), long.len() + 5 * long.len().div_ceil(65_535));
        assert_eq!(inflate(stored), long.as_bytes());
    }
}
