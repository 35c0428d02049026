//! Pre-compressed pieces of the exposition and the one gzip member `/metrics` serves from them.
//!
//! A [`Chunk`] is a piece of exposition text kept only as raw deflate data, made once: ended
//! by a sync flush (so it ends on a byte boundary) and referring to nothing before it, with
//! the CRC-32 and length of its text. Any sequence of chunks is then one valid gzip member
//! without compressing anything again: [`GZIP_HEADER`], each chunk's deflate data in order,
//! and [`gzip_tail`] (a final empty stored block, the CRC-32 of the whole text combined from
//! the chunks' own with `crc32fast::Hasher::combine`, and the total length mod 2^32). One
//! member, not several concatenated ones: `curl --compressed` and some other clients stop
//! after the first member. The same sequence is one raw deflate stream, which is how a plain
//! scrape gets the text back (`super::body`).
//!
//! Chunks are made whole ([`Deflater::chunk`]) or from a text compressed while it is written
//! ([`ChunkWriter`]), at [`LEVEL`]; per scrape at [`PER_SCRAPE_LEVEL`]
//! ([`Chunk::compressed_fast`]); [`Chunk::stored`] wraps a text in stored blocks instead (a
//! copy, no compression).

use bytes::Bytes;
use flate2::{Compress, Compression, FlushCompress, Status};

/// The compression level of the chunks made once per cycle: zlib-rs' level 4 (its "medium"
/// strategy). On the benchmark's exposition text it made 15 % less than `gzip -1` at about
/// 260 MB/s; zlib-rs' level 1 was two to three times as fast but about 50 % larger than
/// `gzip -1`.
pub(crate) const LEVEL: u32 = 4;

/// The level of what is compressed per scrape (the self-metrics of a small fleet): zlib-rs'
/// fastest, which took a quarter to a half of [`LEVEL`]'s CPU on 16-64 KB of self-metrics,
/// for about 30 % more bytes.
pub(crate) const PER_SCRAPE_LEVEL: u32 = 1;

/// The gzip header (RFC 1952): deflate, no flags, no modification time, no extra fields,
/// operating system unknown.
pub(crate) const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// A final, empty stored deflate block: ends the deflate stream on a byte boundary.
const FINAL_BLOCK: [u8; 5] = [0x01, 0x00, 0x00, 0xff, 0xff];

/// A piece of exposition text as raw deflate data (sync-flushed, or stored blocks) with the
/// CRC-32 state of the text, which also counts its length.
#[derive(Clone, Debug, Default)]
pub(crate) struct Chunk {
    deflate: Bytes,
    crc: crc32fast::Hasher,
}

impl Chunk {
    /// `text` compressed now ([`LEVEL`], sync flush; no data for an empty text).
    pub(crate) fn compressed(text: &[u8]) -> Self {
        Deflater::new().chunk(text)
    }

    /// [`Chunk::compressed`] at [`PER_SCRAPE_LEVEL`].
    pub(crate) fn compressed_fast(text: &[u8]) -> Self {
        Deflater(Compress::new(Compression::new(PER_SCRAPE_LEVEL), false)).chunk(text)
    }

    /// `text` as stored (uncompressed) deflate blocks: a copy, no compression.
    pub(crate) fn stored(text: &[u8]) -> Self {
        Self {
            deflate: stored_blocks(text),
            crc: crc_of(text),
        }
    }

    /// The raw deflate data, ending on a byte boundary.
    pub(crate) fn deflate(&self) -> &Bytes {
        &self.deflate
    }

    /// The CRC-32 state of the text (with its length), to combine with the others'.
    pub(crate) fn crc(&self) -> &crc32fast::Hasher {
        &self.crc
    }

    /// The same chunk with its deflate data held elsewhere (`deflate`: a copy of them).
    pub(crate) fn moved_to(&self, deflate: Bytes) -> Self {
        debug_assert_eq!(deflate, self.deflate);
        Self {
            deflate,
            crc: self.crc.clone(),
        }
    }

    /// Length of the text in bytes.
    pub(crate) fn text_len(&self) -> u64 {
        self.crc.total_len()
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

/// A raw deflate compressor at [`LEVEL`], reused for several chunks (reset for each).
pub(crate) struct Deflater(Compress);

impl Deflater {
    /// A new compressor.
    pub(crate) fn new() -> Self {
        Self(Compress::new(Compression::new(LEVEL), false))
    }

    /// `text` compressed now as one chunk, independent of any text compressed before.
    pub(crate) fn chunk(&mut self, text: &[u8]) -> Chunk {
        if text.is_empty() {
            return Chunk::default();
        }
        self.0.reset();
        let mut out = Vec::with_capacity(text.len() / 8 + 64);
        compress(&mut self.0, text, &mut out, FlushCompress::Sync);
        Chunk {
            deflate: Bytes::from(out),
            crc: crc_of(text),
        }
    }
}

/// A chunk compressed while its text is written, so that the text is never held whole: each
/// [`ChunkWriter::write`] compresses what it is given (the compressor keeps up to its window
/// of it, 32 KiB), [`ChunkWriter::finish`] flushes.
pub(crate) struct ChunkWriter {
    compress: Compress,
    out: Vec<u8>,
    crc: crc32fast::Hasher,
}

impl ChunkWriter {
    /// A writer of a new chunk.
    pub(crate) fn new() -> Self {
        Self {
            compress: Compress::new(Compression::new(LEVEL), false),
            out: Vec::new(),
            crc: crc32fast::Hasher::new(),
        }
    }

    /// Compresses `text` after what was written before.
    pub(crate) fn write(&mut self, text: &[u8]) {
        self.crc.update(text);
        compress(&mut self.compress, text, &mut self.out, FlushCompress::None);
    }

    /// The chunk of all the text written (sync-flushed; no spare capacity kept).
    pub(crate) fn finish(mut self) -> Chunk {
        if self.crc.total_len() == 0 {
            return Chunk::default();
        }
        compress(&mut self.compress, &[], &mut self.out, FlushCompress::Sync);
        self.out.shrink_to_fit();
        Chunk {
            deflate: Bytes::from(self.out),
            crc: self.crc,
        }
    }
}

/// Compresses all of `input` into `out` (growing it as needed) with `flush`; with a sync
/// flush, until everything is flushed.
fn compress(c: &mut Compress, input: &[u8], out: &mut Vec<u8>, flush: FlushCompress) {
    let start = c.total_in();
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(4096));
        }
        let consumed = usize::try_from(c.total_in() - start).unwrap_or(usize::MAX);
        let rest = input.get(consumed..).unwrap_or_default();
        let status = c.compress_vec(rest, out, flush);
        let all_in = c.total_in() - start == input.len() as u64;
        // Output left unused: nothing more was pending.
        let flushed = out.len() < out.capacity();
        let done = all_in && (flush == FlushCompress::None || flushed);
        match status {
            Ok(Status::Ok | Status::BufError) if !done => {}
            // Compressing into memory has no failure mode; an error would leave `out`
            // shorter, which the tests of the assembled member would catch.
            _ => break,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    /// `chunks` as one gzip member, joined.
    fn gzip_member(chunks: &[Chunk]) -> Vec<u8> {
        let mut crc = crc32fast::Hasher::new();
        let mut member = GZIP_HEADER.to_vec();
        for c in chunks {
            crc.combine(c.crc());
            member.extend_from_slice(c.deflate());
        }
        member.extend_from_slice(&gzip_tail(&crc));
        member
    }

    fn gunzip(member: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut decoder = flate2::read::GzDecoder::new(member);
        decoder.read_to_end(&mut out).expect("a valid gzip member");
        assert!(decoder.into_inner().is_empty(), "one member");
        out
    }

    fn big() -> String {
        (0..20_000)
            .map(|i| format!("clusterlink_x{{kafka_cluster=\"c\",partition=\"{i}\"}} {i}\n"))
            .collect()
    }

    fn written(text: &str, piece: usize) -> Chunk {
        let mut w = ChunkWriter::new();
        for part in text.as_bytes().chunks(piece) {
            w.write(part);
        }
        w.finish()
    }

    fn parts() -> Vec<(String, Chunk)> {
        let big = big();
        let texts = ["", "# HELP a A.\n# TYPE a gauge\n", "a 1\n", "# EOF\n"];
        let mut parts: Vec<(String, Chunk)> = texts
            .iter()
            .map(|t| (t.to_string(), Chunk::compressed(t.as_bytes())))
            .collect();
        parts.insert(2, (big.clone(), written(&big, 1000)));
        parts.insert(3, ("b 2\n".into(), Chunk::stored(b"b 2\n")));
        parts.push((String::new(), Chunk::stored(b"")));
        parts
    }

    #[test]
    fn a_member_of_several_chunks_empty_ones_included_inflates_to_their_text() {
        let parts = parts();
        let expected: String = parts.iter().map(|(t, _)| t.as_str()).collect();
        let chunks: Vec<Chunk> = parts.into_iter().map(|(_, c)| c).collect();
        assert_eq!(gunzip(&gzip_member(&chunks)), expected.as_bytes());
    }

    #[test]
    fn combined_crc_equals_the_crc_of_the_joined_text() {
        let parts = parts();
        let joined: String = parts.iter().map(|(t, _)| t.as_str()).collect();
        let mut combined = crc32fast::Hasher::new();
        for (_, c) in &parts {
            combined.combine(c.crc());
        }
        assert_eq!(combined.total_len(), joined.len() as u64);
        assert_eq!(combined.finalize(), crc32fast::hash(joined.as_bytes()));
    }

    #[test]
    fn a_written_chunk_is_the_text_written_whatever_the_pieces() {
        let text = big();
        let whole = Chunk::compressed(text.as_bytes());
        for piece in [1, 100, 65_536, text.len()] {
            let c = written(&text, piece);
            assert_eq!(c.text_len(), text.len() as u64);
            assert_eq!(c.crc().clone().finalize(), crc32fast::hash(text.as_bytes()));
            assert_eq!(
                gunzip(&gzip_member(std::slice::from_ref(&c))),
                text.as_bytes()
            );
            // The same stream as compressing the text whole, give or take the flushes.
            let (a, b) = (c.deflate().len(), whole.deflate().len());
            assert!(a.abs_diff(b) < b / 20, "{piece}: {a} vs {b}");
        }
        assert!(ChunkWriter::new().finish().deflate().is_empty());
    }

    #[test]
    fn a_member_of_no_text_is_a_valid_empty_gzip() {
        let member = gzip_member(&[Chunk::compressed(b""), Chunk::stored(b"")]);
        assert_eq!(gunzip(&member), b"");
        assert_eq!(&member[member.len() - 8..], &[0; 8], "crc and length 0");
    }

    #[test]
    fn the_tail_holds_the_length_mod_2_pow_32() {
        let crc = crc32fast::Hasher::new_with_initial_len(0, (1u64 << 32) + 7);
        let tail = gzip_tail(&crc);
        assert_eq!(&tail[9..], &7u32.to_le_bytes());
    }

    #[test]
    fn compressed_chunks_shrink_and_stored_ones_are_stored_blocks() {
        let text = "clusterlink_up{kafka_cluster=\"a\"} 1\n".repeat(1000);
        for c in [
            Chunk::compressed(text.as_bytes()),
            Chunk::compressed_fast(text.as_bytes()),
        ] {
            assert!(c.deflate().len() < text.len() / 10, "{}", c.deflate().len());
            assert_eq!(gunzip(&gzip_member(&[c])), text.as_bytes());
        }
        // Stored blocks: 5 bytes of header per 65 535 bytes of text.
        let long = text.repeat(3);
        let stored = Chunk::stored(long.as_bytes());
        let expected = long.len() + 5 * long.len().div_ceil(65_535);
        assert_eq!(stored.deflate().len(), expected);
        assert_eq!(gunzip(&gzip_member(&[stored])), long.as_bytes());
    }
}
