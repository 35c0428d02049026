//! Supervision of the per-cluster workers: the REST collector task, the Kafka measurer thread
//! and the probe threads; their restart counter ([`WorkerRestarts`], removed with its cluster
//! by a reload: [`ClusterSeries`]) and their stop signals (shutdown: [`StopSignal`] for
//! threads, [`stopped`] for tasks).
//!
//! A worker that panics or exits unexpectedly is caught here, never by its neighbours: the
//! supervisor logs it once (cluster, worker, the panic's message and location), counts it in
//! `clusterlink_exporter_worker_restarts_total{kafka_cluster,worker}`, lets the caller mark
//! what the worker served as down (withdrawn, never frozen), waits a back-off
//! ([`RestartBackoff`]) and starts the worker again.
//!
//! Stopping is per worker ([`StopSignal`]): a worker that ends sets only its own signal; the
//! exporter's shutdown is a separate signal that no worker ever sets.
//!
//! Panics inside a supervised worker are reported by the supervisor's log line rather than by
//! the default panic hook's stderr message ([`install_panic_hook`]); panics anywhere else are
//! printed as usual.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

use crate::reload::ClusterSetup;
use crate::series::ClusterSeries;
use crate::util::closed_set;

closed_set! {
    /// Which kind of worker a supervisor restarts (the `worker` label).
    pub enum Worker {
        /// The REST collection task of a destination cluster.
        Collector = "collector",
        /// The Kafka-side measurement thread of a destination cluster.
        Measurer = "measurer",
        /// The end-to-end probe thread of one link.
        Probe = "probe",
    }
}

/// Labels of `clusterlink_exporter_worker_restarts_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct WorkerLabels {
    /// The destination cluster.
    pub(crate) kafka_cluster: String,
    /// The kind of worker.
    pub(crate) worker: Worker,
}

/// `clusterlink_exporter_worker_restarts_total`: restarts of a cluster's workers after a
/// panic or an unexpected exit. Cloning shares the family.
#[derive(Clone, Debug, Default)]
pub(crate) struct WorkerRestarts {
    restarts: Family<WorkerLabels, Counter>,
}

impl WorkerRestarts {
    /// Registers the family in `registry`.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "exporter_worker_restarts",
            "Restarts of the cluster's workers (collector, measurer, probe) after a panic or an unexpected exit; each restart follows a back-off, and the cluster is down until the worker is back",
            m.restarts.clone(),
        );
        m
    }

    /// The restart counter of `cluster`'s `worker`, written as 0 when first asked for.
    pub(crate) fn counter(&self, cluster: &str, worker: Worker) -> Counter {
        let counter = self
            .restarts
            .get_or_create(&WorkerLabels {
                kafka_cluster: cluster.to_owned(),
                worker,
            })
            .clone();
        counter.inc_by(0);
        counter
    }
}

impl ClusterSeries for WorkerRestarts {
    // A restarted cluster's workers continue its restart counters.

    fn forget_cluster(&self, setup: &ClusterSetup) {
        for worker in Worker::ALL {
            self.restarts.remove(&WorkerLabels {
                kafka_cluster: setup.cluster.name.clone(),
                worker,
            });
        }
    }
}

/// Resolves once `rx` reads true (or its sender is gone): the shutdown of the async tasks.
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// A stop request for one worker (or, as the exporter's shutdown signal, for all of them).
/// Cloning shares the signal.
#[derive(Clone, Debug, Default)]
pub(crate) struct StopSignal(Arc<AtomicBool>);

impl StopSignal {
    /// A signal not yet set.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Asks the worker(s) watching this signal to stop.
    pub(crate) fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether the signal was set.
    pub(crate) fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// What a thread worker watches: its own signal and the exporter's shutdown.
#[derive(Clone, Debug, Default)]
pub(crate) struct Stops {
    /// This worker's own signal (set by whoever owns the worker, e.g. a measurer for its probes).
    pub(crate) own: StopSignal,
    /// The exporter's shutdown; never set by a worker.
    pub(crate) shutdown: StopSignal,
}

impl Stops {
    /// A new own signal under `shutdown`.
    pub(crate) fn under(shutdown: &StopSignal) -> Self {
        Self {
            own: StopSignal::new(),
            shutdown: shutdown.clone(),
        }
    }

    /// Whether this worker's own signal or the shutdown was set.
    pub(crate) fn is_stopped(&self) -> bool {
        self.own.is_stopped() || self.shutdown.is_stopped()
    }

    /// Sleeps up to `wait`, waking early (and returning true) when stopped.
    pub(crate) fn sleep(&self, wait: Duration) -> bool {
        let deadline = crate::util::deadline(wait);
        loop {
            if self.is_stopped() {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return self.is_stopped();
            }
            std::thread::sleep(left.min(Duration::from_millis(100)));
        }
    }
}

/// Back-off between restarts: 1 s, doubling per restart up to 60 s; back to 1 s once a worker
/// has run for [`RestartBackoff::HEALTHY_AFTER`] without failing.
#[derive(Debug, Default)]
pub(crate) struct RestartBackoff {
    restarts: u32,
}

impl RestartBackoff {
    /// First wait.
    pub(crate) const INITIAL: Duration = Duration::from_secs(1);
    /// Longest wait.
    pub(crate) const MAX: Duration = Duration::from_secs(60);
    /// A worker that ran this long before failing starts over from [`Self::INITIAL`].
    pub(crate) const HEALTHY_AFTER: Duration = Duration::from_secs(600);

    /// The wait before the next start of a worker that failed after running `ran`.
    pub(crate) fn next(&mut self, ran: Duration) -> Duration {
        if ran >= Self::HEALTHY_AFTER {
            self.restarts = 0;
        }
        let wait = crate::util::doubled(Self::INITIAL, self.restarts, Self::MAX);
        self.restarts = self.restarts.saturating_add(1);
        wait
    }
}

/// Why a worker ended when it should not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// It panicked: the message and location.
    Panicked(String),
    /// It returned, or failed to start, while not asked to stop.
    Exited(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Panicked(m) => write!(f, "panicked: {m}"),
            Failure::Exited(m) => write!(f, "exited: {m}"),
        }
    }
}

thread_local! {
    /// True while this thread runs a supervised worker's code.
    static IN_WORKER: Cell<bool> = const { Cell::new(false) };
    /// The last panic of a supervised worker on this thread, as the hook saw it.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Longest panic text kept (the rest is cut): a log line, not a dump.
const MAX_PANIC_TEXT: usize = 400;

/// Installs (once per process) a panic hook that keeps the panics of supervised workers for
/// their supervisor's log line and passes every other panic to the previous hook.
pub(crate) fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_WORKER.with(Cell::get) {
                let location = info
                    .location()
                    .map(|l| format!(" at {}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                let text = format!("{}{location}", payload_text(info.payload()));
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(text));
            } else {
                previous(info);
            }
        }));
    });
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    };
    text.chars().take(MAX_PANIC_TEXT).collect()
}

/// The text of a caught panic: what the hook recorded, else the payload.
fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    LAST_PANIC
        .with(|p| p.borrow_mut().take())
        .unwrap_or_else(|| payload_text(payload.as_ref()))
}

/// Runs `f` as supervised worker code on this thread: a panic becomes [`Failure::Panicked`].
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, Failure> {
    let was = IN_WORKER.with(|w| w.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    IN_WORKER.with(|w| w.set(was));
    result.map_err(|payload| Failure::Panicked(panic_text(payload)))
}

/// A future run as supervised worker code: resolves to `Err` when a poll panics (the inner
/// future is then dropped, never polled again).
pub(crate) struct Caught<F> {
    inner: Option<Pin<Box<F>>>,
}

/// Wraps `future` so that a panic in it resolves to [`Failure::Panicked`].
pub(crate) fn catch_future<F: Future>(future: F) -> Caught<F> {
    Caught {
        inner: Some(Box::pin(future)),
    }
}

impl<F: Future> Future for Caught<F> {
    type Output = Result<F::Output, Failure>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(Err(Failure::Exited("polled after completion".into())));
        };
        match catch(|| inner.as_mut().poll(cx)) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => {
                self.inner = None;
                Poll::Ready(Ok(v))
            }
            Err(failure) => {
                self.inner = None;
                Poll::Ready(Err(failure))
            }
        }
    }
}

/// Test-only fault injection: makes a named cluster's worker panic at its next cycle.
/// Compiled only with the `test-hooks` feature (on for this crate's own tests, off in builds).
#[cfg(feature = "test-hooks")]
pub(crate) mod test_hooks {
    use std::sync::Mutex;

    use super::Worker;
    use crate::util::lock;

    /// (cluster, worker, panics left).
    static ARMED: Mutex<Vec<(String, Worker, u32)>> = Mutex::new(Vec::new());

    /// Makes the next `times` cycles of `cluster`'s `worker` panic (each restart's first cycle
    /// included, so `times` restarts in a row, with their back-offs).
    pub fn panic_next(cluster: &str, worker: Worker, times: u32) {
        lock(&ARMED).push((cluster.to_owned(), worker, times));
    }

    pub(crate) fn check(cluster: &str, worker: Worker) {
        let hit = {
            let mut armed = lock(&ARMED);
            let at = armed
                .iter()
                .position(|(c, w, left)| c == cluster && *w == worker && *left > 0);
            if let Some(i) = at {
                armed[i].2 -= 1;
                if armed[i].2 == 0 {
                    armed.remove(i);
                }
            }
            at.is_some()
        };
        if hit {
            panic!("test hook: {} of {cluster} panics", worker.as_str());
        }
    }
}

/// Where a worker's cycle lets the test hooks inject a panic (nothing without `test-hooks`).
#[inline]
pub(crate) fn checkpoint(cluster: &str, worker: Worker) {
    #[cfg(feature = "test-hooks")]
    test_hooks::check(cluster, worker);
    #[cfg(not(feature = "test-hooks"))]
    let _ = (cluster, worker);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap_and_resets_after_a_healthy_run() {
        let mut b = RestartBackoff::default();
        let short = Duration::from_secs(1);
        let waits: Vec<u64> = (0..9).map(|_| b.next(short).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(
            b.next(RestartBackoff::HEALTHY_AFTER),
            Duration::from_secs(1)
        );
        assert_eq!(b.next(short), Duration::from_secs(2));
    }

    #[test]
    fn catch_turns_a_panic_into_a_failure_with_its_message_and_location() {
        install_panic_hook();
        let failure = catch(|| -> u32 { panic!("boom {}", 7) }).unwrap_err();
        let Failure::Panicked(text) = failure else {
            panic!("not a panic: {failure:?}");
        };
        assert!(text.starts_with("boom 7 at "), "{text}");
        assert!(text.contains("supervise.rs:"), "{text}");
        assert_eq!(catch(|| 5), Ok(5));
        assert!(!IN_WORKER.with(Cell::get), "flag left set");
    }

    #[tokio::test]
    async fn a_panicking_future_resolves_to_a_failure() {
        install_panic_hook();
        let failed = catch_future(async {
            tokio::task::yield_now().await;
            panic!("late");
        })
        .await;
        assert!(matches!(failed, Err(Failure::Panicked(t)) if t.starts_with("late")));
        assert_eq!(catch_future(async { 3 }).await, Ok(3));
    }

    #[test]
    fn own_stop_leaves_shutdown_alone() {
        let shutdown = StopSignal::new();
        let a = Stops::under(&shutdown);
        let b = Stops::under(&shutdown);
        a.own.stop();
        assert!(a.is_stopped());
        assert!(!b.is_stopped() && !shutdown.is_stopped());
        shutdown.stop();
        assert!(b.is_stopped());
        assert!(b.sleep(Duration::from_secs(30)), "sleep wakes when stopped");
    }
}
