//! `eventually`: the one way the tests wait for something to happen. A test names what it
//! waits for and looks at the system until the look says "done"; if time runs out, the panic
//! names what was awaited and what the last look saw.
//!
//! ```ignore
//! let lag = eventually(Duration::from_secs(30), "lag above 30", || async {
//!     let lag = total_lag(&mirror(&sim, "B", "ab", "events").await);
//!     done_if(lag > 30, lag)
//! })
//! .await;
//! ```
//!
//! Shared by the simulator's tests and the exporter's end-to-end tests (`tests/e2e/common`
//! includes this file), so there is one copy of it.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How long [`eventually`] waits between two looks.
pub const POLL: Duration = Duration::from_millis(100);

/// Looks with `look` every [`POLL`] until it returns `Ok(value)`, and returns that value.
/// `Err(observed)` means "not yet": after `timeout` (measured from the first look), panics with
/// `what` and the last `observed`. There is always a last look at or after the timeout.
///
/// Runs on tokio's clock, so under paused time (`#[tokio::test(start_paused = true)]`) the
/// waits between looks take no real time.
pub async fn eventually<T, O, F, Fut>(timeout: Duration, what: &str, look: F) -> T
where
    O: Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, O>>,
{
    eventually_every(POLL, timeout, what, look).await
}

/// [`eventually`] looking every `poll` instead of every [`POLL`]: for a look that samples
/// something fast-changing, or one too heavy to repeat ten times a second.
pub async fn eventually_every<T, O, F, Fut>(
    poll: Duration,
    timeout: Duration,
    what: &str,
    mut look: F,
) -> T
where
    O: Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, O>>,
{
    let started = Instant::now();
    loop {
        let observed = match look().await {
            Ok(value) => return value,
            Err(observed) => observed,
        };
        if started.elapsed() >= timeout {
            panic!("timed out after {timeout:?} waiting for {what}; last observed: {observed:#?}");
        }
        tokio::time::sleep(poll).await;
    }
}

/// `Ok(observed)` when `done`, else `Err(observed)`: the usual end of a look.
pub fn done_if<T>(done: bool, observed: T) -> Result<T, T> {
    if done {
        Ok(observed)
    } else {
        Err(observed)
    }
}

#[cfg(test)]
mod tests {
    //! Paused time: every wait here is on tokio's clock alone, so the tests take no real time
    //! and their timings are exact.

    use std::cell::Cell;
    use std::future::ready;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn returns_the_value_of_the_first_look_that_is_done() {
        let looks = Cell::new(0);
        let started = Instant::now();
        let value = eventually(Duration::from_secs(10), "the third look", || {
            looks.set(looks.get() + 1);
            ready(done_if(looks.get() == 3, looks.get() * 10))
        })
        .await;
        assert_eq!(value, 30);
        assert_eq!(started.elapsed(), 2 * POLL, "two waits between three looks");
    }

    #[tokio::test(start_paused = true)]
    async fn looks_every_given_interval() {
        let started = Instant::now();
        let every = Duration::from_secs(2);
        eventually_every(every, Duration::from_secs(60), "5 s", || {
            ready(done_if(started.elapsed() >= Duration::from_secs(5), ()))
        })
        .await;
        assert_eq!(started.elapsed(), Duration::from_secs(6));
    }

    #[tokio::test(start_paused = true)]
    #[should_panic(expected = "timed out after 1s waiting for the answer; last observed: 11")]
    async fn panics_naming_what_was_awaited_and_the_last_look() {
        let looks = Cell::new(0);
        eventually(Duration::from_secs(1), "the answer", || {
            looks.set(looks.get() + 1);
            ready(Err::<(), _>(looks.get()))
        })
        .await;
    }
}
