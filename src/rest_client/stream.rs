//! A list page's body read into its decoder as it arrives. The body comes chunk by chunk,
//! each chunk counted against the byte budget; a body that ends within [`STREAM_ABOVE`] bytes
//! is decoded where it was read; a longer one is decoded on a blocking thread (serde_json
//! reads synchronously) that a bounded channel feeds, so that only a few chunks of it are held
//! at any time, never the whole body (see [`envelope`](super::envelope) for the decoding).
//!
//! A transport error or the budget exceeded stops the reading and is the outcome, whatever
//! the decoder made of the body it cut short. A decoder that fails stops the reading too, and
//! its error is the outcome: a body malformed early is no longer read to its end (or to the
//! budget) first.

use std::future::Future;
use std::io::{BufReader, Read};

use bytes::{Buf, Bytes};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use super::envelope::decode_page;

/// Bodies longer than this are decoded while they arrive; shorter ones once read.
pub(super) const STREAM_ABOVE: usize = 64 << 10;

/// Chunks in flight between the reading and the decoding of a body.
const CHANNEL_CHUNKS: usize = 8;

/// A body that arrives in chunks: a response, or a test's script.
pub(super) trait Chunks: Send {
    /// Why the body could not be read.
    type Error: Send;

    /// The next chunk, `None` at the end of the body.
    fn next_chunk(&mut self) -> impl Future<Output = Result<Option<Bytes>, Self::Error>> + Send;
}

impl Chunks for reqwest::Response {
    type Error = reqwest::Error;

    fn next_chunk(&mut self) -> impl Future<Output = Result<Option<Bytes>, Self::Error>> + Send {
        self.chunk()
    }
}

/// Why a page could not be read.
#[derive(Debug)]
pub(super) enum PageError<E> {
    /// The body passed the budget: reading stopped there.
    OverBudget,
    /// Reading the body failed.
    Transport(E),
    /// The body is not a page of such items.
    Decode(serde_json::Error),
    /// The decoder was cancelled (the runtime is shutting down).
    Cancelled,
}

/// A page read: the items so far with this page's appended, where the next page is, and the
/// bytes the body used.
#[derive(Debug)]
pub(super) struct Page<U> {
    pub(super) items: Vec<U>,
    pub(super) next: Option<String>,
    pub(super) bytes: u64,
}

/// Reads `body` (at most `budget` bytes) as one page of a list: each item decoded as a `T`,
/// converted by `convert` and appended to `items`.
///
/// # Errors
/// The first [`PageError`] met. A panic of `convert` is resumed here.
pub(super) async fn read_page<C, T, U>(
    mut body: C,
    budget: u64,
    mut items: Vec<U>,
    convert: fn(T) -> U,
) -> Result<Page<U>, PageError<C::Error>>
where
    C: Chunks,
    T: DeserializeOwned + 'static,
    U: Send + 'static,
{
    let mut head = Vec::new();
    let mut read = 0;
    while head.len() <= STREAM_ABOVE {
        let Some(chunk) = body.next_chunk().await.map_err(PageError::Transport)? else {
            let next = decode_page(&head[..], &mut items, convert).map_err(PageError::Decode)?;
            return Ok(Page {
                items,
                next,
                bytes: read,
            });
        };
        read = counted(read, &chunk, budget)?;
        head.extend_from_slice(&chunk);
    }
    let (sender, receiver) = mpsc::channel(CHANNEL_CHUNKS);
    let decoder = tokio::task::spawn_blocking(move || {
        let rest = ChannelReader {
            receiver,
            chunk: Bytes::new(),
        };
        // serde_json reads a reader byte by byte (io::Bytes), which std serves from a
        // BufReader's buffer without a read call per byte.
        let reader = BufReader::new(Read::chain(&head[..], rest));
        let next = decode_page(reader, &mut items, convert);
        (items, next)
    });
    let pumped = pump(&mut body, read, budget, sender).await;
    let (items, next) = match decoder.await {
        Ok(decoded) => decoded,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => return Err(PageError::Cancelled),
    };
    let bytes = pumped?;
    let next = next.map_err(PageError::Decode)?;
    Ok(Page { items, next, bytes })
}

/// Sends the rest of `body` to the decoder until it ends, fails, passes the budget, or the
/// decoder stops (at an error of its own). Returns the bytes read in all.
async fn pump<C: Chunks>(
    body: &mut C,
    mut read: u64,
    budget: u64,
    sender: mpsc::Sender<Bytes>,
) -> Result<u64, PageError<C::Error>> {
    while let Some(chunk) = body.next_chunk().await.map_err(PageError::Transport)? {
        read = counted(read, &chunk, budget)?;
        if sender.send(chunk).await.is_err() {
            break;
        }
    }
    Ok(read)
}

/// `read` plus `chunk`'s length, when that is within `budget`.
fn counted<E>(read: u64, chunk: &Bytes, budget: u64) -> Result<u64, PageError<E>> {
    let read = read.saturating_add(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
    if read > budget {
        return Err(PageError::OverBudget);
    }
    Ok(read)
}

/// The chunks a channel brings, as one byte stream that ends when the sender is gone.
struct ChannelReader {
    receiver: mpsc::Receiver<Bytes>,
    /// The rest of the chunk being read.
    chunk: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.chunk.is_empty() {
            match self.receiver.blocking_recv() {
                Some(chunk) => self.chunk = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk.advance(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::rest_client::wire::MirrorData;
    use crate::snapshot::MirrorTopic;

    /// A body served from a script of chunks and errors, counting the chunks taken.
    struct Script {
        steps: VecDeque<Result<Bytes, &'static str>>,
        taken: Arc<AtomicUsize>,
    }

    impl Script {
        fn of(body: &[u8], cuts: impl IntoIterator<Item = usize>) -> Self {
            let mut steps = VecDeque::new();
            let mut at = 0;
            for len in cuts {
                let end = (at + len).min(body.len());
                steps.push_back(Ok(Bytes::copy_from_slice(&body[at..end])));
                at = end;
            }
            steps.push_back(Ok(Bytes::copy_from_slice(&body[at..])));
            Self {
                steps,
                taken: Arc::default(),
            }
        }
    }

    impl Chunks for Script {
        type Error = &'static str;

        fn next_chunk(&mut self) -> impl Future<Output = Result<Option<Bytes>, &'static str>> {
            let step = self.steps.pop_front().transpose();
            if !matches!(step, Ok(None)) {
                self.taken.fetch_add(1, Ordering::Relaxed);
            }
            std::future::ready(step)
        }
    }

    /// A page of `n` mirror topics of 3 partitions each, with an unknown and a null field.
    fn mirrors_page(n: usize) -> Vec<u8> {
        let items: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    r#"{{"kind":"KafkaMirrorData","link_name":"link-{}","mirror_topic_name":"topic-{i}",
                    "num_partitions":3,"mirror_status":"ACTIVE","state_time_ms":null,
                    "mirror_lags":[{{"partition":0,"lag":{i},"last_source_fetch_offset":7}},
                    {{"partition":1,"lag":0}},{{"partition":2,"lag":-1}}]}}"#,
                    i % 3
                )
            })
            .collect();
        format!(
            r#"{{"metadata":{{"next":"/p?page=2"}},"data":[{}]}}"#,
            items.join(",")
        )
        .into_bytes()
    }

    fn whole(body: &[u8]) -> Result<(Vec<MirrorTopic>, Option<String>), String> {
        let mut items = Vec::new();
        let next =
            decode_page(body, &mut items, MirrorData::into_mirror).map_err(|e| e.to_string())?;
        Ok((items, next))
    }

    async fn streamed(
        script: Script,
        budget: u64,
    ) -> Result<Page<MirrorTopic>, PageError<&'static str>> {
        read_page(script, budget, Vec::new(), MirrorData::into_mirror).await
    }

    fn random_cuts(seed: u64, len: usize, max: usize) -> Vec<usize> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut cuts = Vec::new();
        let mut total = 0;
        while total < len {
            let cut = rng.random_range(0..=max);
            cuts.push(cut);
            total += cut;
        }
        cuts
    }

    #[tokio::test]
    async fn any_chunk_boundaries_parse_the_same() {
        for body in [mirrors_page(3), mirrors_page(1500)] {
            let expected = whole(&body).unwrap();
            let len = body.len();
            let mut splits = vec![vec![1; len], vec![len], vec![STREAM_ABOVE, 1, 1]];
            for seed in 0..5 {
                splits.push(random_cuts(seed, len, 64 << 10));
                splits.push(random_cuts(seed, len, 300));
            }
            for cuts in splits {
                let page = streamed(Script::of(&body, cuts), u64::MAX).await.unwrap();
                assert_eq!((page.items, page.next), expected, "{len} bytes");
                assert_eq!(page.bytes, len as u64);
            }
        }
    }

    #[tokio::test]
    async fn items_already_listed_are_kept_before_the_page() {
        let body = mirrors_page(1000);
        let first = streamed(Script::of(&body, [4096; 100]), u64::MAX)
            .await
            .unwrap();
        let page = read_page(
            Script::of(&body, [700; 1000]),
            u64::MAX,
            first.items.clone(),
            MirrorData::into_mirror,
        )
        .await
        .unwrap();
        assert_eq!(page.items.len(), 2000);
        assert_eq!(page.items[..1000], first.items[..]);
        assert_eq!(page.items[1000..], first.items[..]);
    }

    #[tokio::test]
    async fn the_budget_trips_while_streaming_and_reading_stops() {
        let body = mirrors_page(1500);
        let len = body.len() as u64;
        assert!(len > 3 * STREAM_ABOVE as u64);
        for budget in [len - 1, len / 2, STREAM_ABOVE as u64 + 1, 10] {
            let script = Script::of(&body, [1000; 1000]);
            let taken = script.taken.clone();
            let e = streamed(script, budget).await.unwrap_err();
            assert!(matches!(e, PageError::OverBudget), "{budget}: {e:?}");
            let read = taken.load(Ordering::Relaxed) as u64 * 1000;
            assert!(read <= budget + 1000, "{budget}: read {read} bytes");
        }
        let page = streamed(Script::of(&body, [1000; 1000]), len)
            .await
            .unwrap();
        assert_eq!(page.bytes, len, "exactly the budget");
    }

    #[tokio::test]
    async fn truncated_bodies_fail_as_decode_errors_like_the_whole_body() {
        let body = mirrors_page(1500);
        for cut in [body.len() - 1, body.len() / 2, STREAM_ABOVE + 5, 100, 0] {
            let truncated = &body[..cut];
            let expected = whole(truncated).unwrap_err();
            let e = streamed(Script::of(truncated, [1000; 1000]), u64::MAX)
                .await
                .unwrap_err();
            let PageError::Decode(e) = e else {
                panic!("{cut}: {e:?}")
            };
            assert_eq!(e.to_string(), expected, "{cut}");
            assert!(expected.contains("EOF while parsing"), "{expected}");
        }
    }

    #[tokio::test]
    async fn a_failing_transport_wins_over_the_decode_error_it_causes() {
        let body = mirrors_page(1500);
        for after in [0, 10, 200] {
            let mut script = Script::of(&body[..after * 1000], [1000; 1000]);
            script.steps.pop_back();
            script.steps.push_back(Err("reset"));
            let e = streamed(script, u64::MAX).await.unwrap_err();
            assert!(matches!(e, PageError::Transport("reset")), "{after}: {e:?}");
        }
    }

    #[tokio::test]
    async fn a_decoder_that_fails_early_stops_the_reading() {
        let mut body = mirrors_page(1500);
        body[STREAM_ABOVE + 100] = b'}';
        let script = Script::of(&body, [1000; 1000]);
        let taken = script.taken.clone();
        let e = streamed(script, u64::MAX).await.unwrap_err();
        assert!(matches!(e, PageError::Decode(_)), "{e:?}");
        let taken = taken.load(Ordering::Relaxed);
        assert!(taken * 1000 < body.len() / 2, "{taken} chunks read");
    }
}
