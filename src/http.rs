//! HTTP serving ([`serve`]): `/metrics` from memory (never an upstream call; the format
//! negotiated on `Accept`, gzip when accepted), the status page at `/` and its JSON form
//! (rendered by [`crate::status_page`] from the [`StatusStore`] and the shard), `/-/healthy`, `/-/ready`
//! (200 once every cluster has finished its first cycle), `/-/reload` (`POST`/`PUT` when
//! `--web.enable-lifecycle`, else 403), and graceful shutdown. Also here: the `--web.*`
//! options ([`WebOptions`], [`parse_listen_address`]) and the server's self-metrics
//! ([`HttpMetrics`]).
//!
//! With `--web.config.file` ([`crate::web_config`]), each connection uses the file as it is on
//! disk when the connection opens: TLS (handshake within the request head deadline; plain HTTP
//! answered `400` as Go's servers do), basic auth on every endpoint, the health endpoints
//! included, and extra response headers.
//!
//! The server is hardened against abusive clients ([`ServeLimits`]): a bounded number of
//! connections (more wait in the kernel's listen backlog), a deadline on each request head
//! (slowloris, idle keep-alive), a size limit on it, no request bodies, a stall timeout on
//! response writes, and an accept loop that backs off when `accept()` fails (e.g. out of file
//! descriptors) instead of spinning.
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body as _, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_io_timeout::TimeoutStream;

use crate::render::{Exposition, Format, Frames, REVISION};
use crate::status::StatusStore;
use crate::supervise::stopped;
use crate::util::{lock, Throttle};
use crate::web_config::{WebConfig, WebGuard};

/// The HTTP server's self-metrics (label-less), updated by [`serve`]. Cloning shares them.
#[derive(Clone, Debug, Default)]
pub(crate) struct HttpMetrics {
    /// `clusterlink_http_accept_errors_total`: failed `accept()` calls on the listening socket.
    pub(crate) accept_errors: Counter,
    /// `clusterlink_http_connections`: HTTP connections open now.
    pub(crate) connections: Gauge,
    /// `clusterlink_http_max_connections`: the `--web.max-connections` limit in force.
    pub(crate) max_connections: Gauge,
    /// `clusterlink_http_requests_unauthorized_total`: requests answered 401 because they
    /// carried no or wrong basic-auth credentials (`--web.config.file`).
    pub(crate) unauthorized: Counter,
    /// `clusterlink_http_tls_handshake_errors_total`: connections closed because their TLS
    /// handshake failed or timed out (`--web.config.file`), client certificates refused
    /// included.
    pub(crate) tls_handshake_errors: Counter,
}

impl HttpMetrics {
    /// Registers the metrics in `registry`.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "http_accept_errors",
            "Failed accepts of HTTP connections (e.g. out of file descriptors); accepting backs off while they last",
            m.accept_errors.clone(),
        );
        registry.register(
            "http_connections",
            "HTTP connections open now",
            m.connections.clone(),
        );
        registry.register(
            "http_max_connections",
            "Most HTTP connections open at once (--web.max-connections); more wait in the listen backlog",
            m.max_connections.clone(),
        );
        registry.register(
            "http_requests_unauthorized",
            "HTTP requests answered 401 for missing or wrong basic-auth credentials (--web.config.file)",
            m.unauthorized.clone(),
        );
        registry.register(
            "http_tls_handshake_errors",
            "HTTP connections closed because their TLS handshake failed or timed out (--web.config.file), refused client certificates included",
            m.tls_handshake_errors.clone(),
        );
        m
    }
}

/// Limits of the HTTP server, set by the `--web.*` flags; [`Default`] gives the documented
/// defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Most connections open at once (`--web.max-connections`, default 512). At the limit the
    /// server stops accepting: new connections wait in the kernel's listen backlog until an
    /// open one closes. 0 counts as 1.
    pub max_connections: usize,
    /// Time a connection has to send a complete request head (`--web.header-read-timeout`,
    /// default 10 s), counted from when the connection is accepted or its previous response
    /// was sent; so it is also the keep-alive idle timeout. The connection is closed when it
    /// runs out (slowloris, idle connections).
    pub header_read_timeout: Duration,
    /// Largest request head (request line and headers) in bytes (`--web.max-request-bytes`,
    /// default 16 KiB); a larger one is answered 431 and the connection closed. Values below
    /// 8192 (`MIN_REQUEST_BYTES`) count as it. Request bodies are refused unread (405 or 413).
    pub max_request_bytes: usize,
    /// How long a response write may make no progress (`--web.write-timeout`, default 30 s)
    /// before the connection is closed (a client that does not read).
    pub write_timeout: Duration,
}

/// The smallest `max_request_bytes` (hyper's smallest read buffer): 8 KiB.
pub(crate) const MIN_REQUEST_BYTES: usize = 8192;

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            header_read_timeout: Duration::from_secs(10),
            max_request_bytes: 16 * 1024,
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// Checks and normalises a `--web.listen-address`: `host:port` (a name, an IPv4 address or
/// a bracketed IPv6 address, and a port 0–65535) is kept as given; `:port`, the Prometheus
/// exporters' short form, means every IPv4 interface (`0.0.0.0:port`, as the default).
///
/// # Errors
/// A text naming what is wrong (no port, a port that is not a number 0–65535, no host).
pub fn parse_listen_address(address: &str) -> Result<String, String> {
    let Some((host, port)) = address.rsplit_once(':') else {
        return Err(format!(
            "'{address}' has no port: give host:port or :port (e.g. 0.0.0.0:9849 or :9849)"
        ));
    };
    if port.parse::<u16>().is_err() {
        return Err(format!("'{port}' is not a port (a number 0-65535)"));
    }
    match host {
        "" => Ok(format!("0.0.0.0:{port}")),
        h if h.starts_with('[') != h.ends_with(']') => Err(format!(
            "'{h}' is not a host (brackets must enclose an IPv6 address)"
        )),
        _ => Ok(address.to_owned()),
    }
}

/// Where and how the exporter serves HTTP (the `--web.*` flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebOptions {
    /// `host:port` to listen on (`--web.listen-address`).
    pub listen_address: String,
    /// Path of the metrics, e.g. `/metrics` (`--web.telemetry-path`).
    pub telemetry_path: String,
    /// The server's limits (the other `--web.*` flags).
    pub limits: ServeLimits,
    /// `--web.enable-lifecycle`: `POST /-/reload` reloads the configuration (else 403).
    pub enable_lifecycle: bool,
    /// TLS, basic auth and headers (`--web.config.file`, exporter-toolkit's format); `None`:
    /// plain HTTP, open.
    pub web_config_file: Option<std::path::PathBuf>,
}

impl Default for WebOptions {
    /// For an exporter started in code (tests, tools): a free port on the loopback
    /// interface (`127.0.0.1:0`; [`crate::exporter::Exporter::address`] says which),
    /// `/metrics`, the default [`ServeLimits`], no lifecycle endpoint, plain HTTP. The binary
    /// sets every field from its `--web.*` flags.
    fn default() -> Self {
        Self {
            listen_address: "127.0.0.1:0".into(),
            telemetry_path: "/metrics".into(),
            limits: ServeLimits::default(),
            enable_lifecycle: false,
            web_config_file: None,
        }
    }
}

/// What `POST /-/reload` calls: reloads the configuration, `Ok` with a summary of the
/// changes or `Err` with the reason it was rejected.
pub(crate) type ReloadFn =
    dyn Fn() -> futures::future::BoxFuture<'static, Result<String, String>> + Send + Sync;

/// The lifecycle endpoint's action (`--web.enable-lifecycle`). Cloning shares it.
#[derive(Clone)]
pub(crate) struct Lifecycle(Arc<ReloadFn>);

impl Lifecycle {
    /// A lifecycle endpoint whose `POST /-/reload` calls `reload`.
    pub(crate) fn new(
        reload: impl Fn() -> futures::future::BoxFuture<'static, Result<String, String>>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        Self(Arc::new(reload))
    }
}

impl std::fmt::Debug for Lifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lifecycle")
    }
}

/// What the HTTP server and its handlers read.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    /// What `/metrics` serves.
    pub(crate) exposition: Arc<Exposition>,
    /// What `/`, `/status.json` and `/-/ready` show.
    pub(crate) status: StatusStore,
    /// The server's own metrics.
    pub(crate) metrics: HttpMetrics,
    /// This process's shard, shown by the status page.
    pub(crate) sharding: crate::shard::Sharding,
    /// The shard's self-metrics: the status page shows the clusters assigned and configured.
    pub(crate) shard: crate::shard::ShardMetrics,
    /// The path of the metrics (`--web.telemetry-path`).
    pub(crate) telemetry_path: String,
    /// The server's limits.
    pub(crate) limits: ServeLimits,
    /// `POST /-/reload` (`--web.enable-lifecycle`); `None`: answered 403.
    pub(crate) lifecycle: Option<Lifecycle>,
    /// `--web.config.file` in force: TLS, basic auth (every endpoint, the health endpoints
    /// included) and extra headers; `None`: plain HTTP, open.
    pub(crate) web: Option<Arc<WebGuard>>,
    /// Failed TLS handshakes are logged at most once a minute (a scanner can fail thousands).
    pub(crate) handshake_log: Arc<std::sync::Mutex<Throttle>>,
}

/// A response body sent as the frames it is made of ([`Frames`]: pieces of memory as they are,
/// or text inflated while it is sent), with its exact length (so `/metrics` never joins its
/// pre-rendered parts into one buffer).
#[derive(Debug, Default)]
struct Body(Frames);

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        let next = self.0.next();
        std::task::Poll::Ready(next.map(|frame| Ok(hyper::body::Frame::data(frame))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.remaining() == 0
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.0.remaining())
    }
}

fn respond(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    respond_frames(status, content_type, Frames::from(body.into()))
}

fn respond_frames(status: u16, content_type: &str, frames: Frames) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Body(frames))
        .expect("valid response")
}

/// Serves until `shutdown` turns true, then lets open requests finish (for at most
/// [`SHUTDOWN_GRACE`]). Never gives up on accept errors: it backs off ([`AcceptBackoff`]) and
/// counts them.
pub(crate) async fn serve(
    listener: TcpListener,
    state: AppState,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut slots = Slots::new(&state);
    let mut backoff = AcceptBackoff::default();
    let mut failure_log = Throttle::default();
    let mut connections = tokio::task::JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Some(slot) = slots.wait(&mut shutdown).await else {
            break;
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped(&mut shutdown) => break,
        };
        match accepted {
            Ok((tcp, _)) => {
                let failed = backoff.succeeded();
                if failed > 0 {
                    tracing::debug!(failed_accepts = failed, "accepting HTTP connections again");
                }
                let conn = connection(tcp, state.clone(), shutdown.clone());
                connections.spawn(async move {
                    let _slot = slot;
                    conn.await
                });
            }
            Err(e) => {
                state.metrics.accept_errors.inc();
                let Some(delay) = accept_failed(&mut backoff, &mut failure_log, &e) else {
                    continue;
                };
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stopped(&mut shutdown) => break,
                }
            }
        }
    }
    drain(connections).await;
}

/// Waits for the connections to finish, for at most [`SHUTDOWN_GRACE`], then closes the rest.
async fn drain(mut connections: tokio::task::JoinSet<()>) {
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::info!(
            open = connections.len(),
            "closing the HTTP connections still open after the shutdown grace period"
        );
        connections.shutdown().await;
    }
}

/// How long connections may take to finish their request after shutdown (a client still
/// sending its request head, or reading a response slowly) before they are closed: 5 s.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The connection slots (`max_connections` permits); logs when they run out (throttled).
struct Slots {
    semaphore: Arc<Semaphore>,
    max: usize,
    full_log: Throttle,
}

impl Slots {
    fn new(state: &AppState) -> Self {
        let max = state
            .limits
            .max_connections
            .clamp(1, Semaphore::MAX_PERMITS);
        let gauge = &state.metrics.max_connections;
        gauge.set(i64::try_from(max).unwrap_or(i64::MAX));
        Self {
            semaphore: Arc::new(Semaphore::new(max)),
            max,
            full_log: Throttle::default(),
        }
    }

    /// A free slot, waiting for one when all are taken; `None` once `shutdown` turns true.
    async fn wait(&mut self, shutdown: &mut watch::Receiver<bool>) -> Option<OwnedSemaphorePermit> {
        if let Ok(slot) = self.semaphore.clone().try_acquire_owned() {
            return Some(slot);
        }
        if let Some(unlogged) = self.full_log.check(Instant::now()) {
            tracing::warn!(
                max_connections = self.max,
                unlogged,
                "HTTP connection limit reached: new connections wait in the listen backlog \
                 until an open one closes"
            );
        }
        tokio::select! {
            slot = self.semaphore.clone().acquire_owned() => slot.ok(),
            _ = stopped(shutdown) => None,
        }
    }
}

/// Logs a failed accept (throttled) and says how long to wait before the next: `None` for a
/// peer's error (no wait).
fn accept_failed(
    backoff: &mut AcceptBackoff,
    log: &mut Throttle,
    e: &std::io::Error,
) -> Option<Duration> {
    if is_peer_error(e) {
        tracing::debug!(error = %e, "a connection was aborted before it was accepted");
        return None;
    }
    if let Some(unlogged) = log.check(Instant::now()) {
        tracing::warn!(
            error = %e,
            unlogged,
            "accepting HTTP connections fails (out of file descriptors?); retrying with \
             back-off from 5ms up to 1s"
        );
    }
    Some(backoff.failed())
}

/// An accept error that concerns one incoming connection only (the peer gave up): no reason
/// to back off, and backing off would let a client slow the accept loop down.
fn is_peer_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused
    )
}

/// Back-off between failed `accept()` calls: [`AcceptBackoff::FIRST`] (5 ms), doubling up to
/// [`AcceptBackoff::MAX`] (1 s); a successful accept resets it.
#[derive(Debug, Default)]
pub(crate) struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    /// The wait after the first failure of a burst.
    pub(crate) const FIRST: Duration = Duration::from_millis(5);
    /// The longest wait.
    pub(crate) const MAX: Duration = Duration::from_secs(1);

    /// Records a failure; returns how long to wait before accepting again.
    pub(crate) fn failed(&mut self) -> Duration {
        let wait = crate::util::doubled(Self::FIRST, self.failures, Self::MAX);
        self.failures = self.failures.saturating_add(1);
        wait
    }

    /// Records a success; returns the number of failures of the burst it ends (0: none).
    pub(crate) fn succeeded(&mut self) -> u32 {
        std::mem::take(&mut self.failures)
    }

    /// Failures since the last success.
    #[cfg(test)]
    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }
}

/// Serves one accepted connection with the limits of `state` until it closes; on `stop`, lets
/// the request in progress finish. With a web config, the connection is served with the
/// configuration on disk now (TLS handshake first, within `header_read_timeout`); while that
/// configuration is unusable, connections are closed at once.
async fn connection(tcp: TcpStream, state: AppState, stop: watch::Receiver<bool>) {
    let _open = OpenConnection::new(state.metrics.connections.clone());
    // A response is written as several frames (headers, then the exposition's pieces): with
    // Nagle's algorithm on, a small last write would wait for the client's delayed ACK
    // (~40 ms per keep-alive request).
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "could not set TCP_NODELAY");
    }
    let limits = state.limits;
    let mut io = TimeoutStream::new(tcp);
    io.set_write_timeout(Some(limits.write_timeout));
    let io = Box::pin(io);
    let Some(guard) = state.web.clone() else {
        return serve_connection(io, state, None, stop).await;
    };
    // An unusable file was logged when it was read.
    let Ok(current) = guard.current() else {
        return;
    };
    let Some(tls) = current.tls else {
        return serve_connection(io, state, Some(current.config), stop).await;
    };
    let peer = io.get_ref().peer_addr().ok();
    let deadline = tokio::time::Instant::now() + limits.header_read_timeout;
    let failure = if sends_plain_http(io.get_ref(), deadline).await {
        answer_plain_http(io).await;
        "client sent an HTTP request to the HTTPS server".to_owned()
    } else {
        let handshake = tokio_rustls::TlsAcceptor::from(tls).accept(io);
        match tokio::time::timeout_at(deadline, handshake).await {
            Ok(Ok(stream)) => {
                return serve_connection(stream, state, Some(current.config), stop).await;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timed out".to_owned(),
        }
    };
    state.metrics.tls_handshake_errors.inc();
    let mut log = lock(&state.handshake_log);
    if let Some(held_back) = log.check(Instant::now()) {
        let peer = peer.map(|p| p.to_string()).unwrap_or_default();
        tracing::warn!(%peer, error = %failure, held_back, "TLS handshake failed (at most one line a minute; held_back: the failures since the last line; all are counted in clusterlink_http_tls_handshake_errors_total)");
    }
}

/// Go's answer (net/http) to plain HTTP on a TLS port.
const PLAIN_HTTP_TO_TLS: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// Whether the first bytes `tcp` received (peeked, not consumed, waiting until `deadline`)
/// start an HTTP request rather than a TLS record: Go's test (`tlsRecordHeaderLooksLikeHTTP`).
async fn sends_plain_http(tcp: &TcpStream, deadline: tokio::time::Instant) -> bool {
    let mut head = [0u8; 5];
    match tokio::time::timeout_at(deadline, tcp.peek(&mut head)).await {
        Ok(Ok(5)) => looks_like_http(&head),
        _ => false,
    }
}

/// Go's five prefixes of an HTTP request (a TLS record starts with its type, 0x16 for a
/// handshake).
fn looks_like_http(head: &[u8; 5]) -> bool {
    [b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO"].contains(&head)
}

/// Answers plain HTTP on the TLS port as Go's servers do (`400`, then close).
async fn answer_plain_http<W: tokio::io::AsyncWrite + Unpin>(mut io: W) {
    use tokio::io::AsyncWriteExt;
    // The connection closes either way.
    let _ = io.write_all(PLAIN_HTTP_TO_TLS).await;
    let _ = io.shutdown().await;
}

/// Serves HTTP/1.1 on `io` (plain or TLS) until the connection closes.
async fn serve_connection<I>(
    io: I,
    state: AppState,
    web: Option<Arc<WebConfig>>,
    mut stop: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let limits = state.limits;
    let io = TokioIo::new(io);
    let handler_state = state.clone();
    let service = service_fn(move |req| handle(handler_state.clone(), web.clone(), req));
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_request_bytes.max(MIN_REQUEST_BYTES))
        .serve_connection(io, service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "HTTP connection closed on an error");
    }
}

/// Counts a connection in `clusterlink_http_connections` while it lives.
struct OpenConnection(Gauge);

impl OpenConnection {
    fn new(gauge: Gauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Answers a request: 401 without the credentials `web` asks for, else [`route`]; `web`'s
/// headers are added to every answer.
async fn handle(
    state: AppState,
    web: Option<Arc<WebConfig>>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (Some(web), Some(guard)) = (web, state.web.as_ref()) else {
        return Ok(route(&state, req).await);
    };
    let credentials = req.headers().get(hyper::header::AUTHORIZATION);
    let mut resp = if guard.allows(&web, credentials).await {
        route(&state, req).await
    } else {
        state.metrics.unauthorized.inc();
        let mut resp = respond(401, "text/plain; charset=utf-8", "unauthorized\n");
        let headers = resp.headers_mut();
        headers.insert(
            hyper::header::WWW_AUTHENTICATE,
            hyper::header::HeaderValue::from_static("Basic"),
        );
        if !req.body().is_end_stream() {
            headers.insert(
                hyper::header::CONNECTION,
                hyper::header::HeaderValue::from_static("close"),
            );
        }
        resp
    };
    for (name, value) in &web.headers {
        resp.headers_mut().insert(name.clone(), value.clone());
    }
    Ok(resp)
}

/// The answer to an authorized request.
async fn route(state: &AppState, req: Request<Incoming>) -> Response<Body> {
    // Nothing here takes a body: refuse one without reading it, and close the connection
    // rather than read past it (hyper reads no body that is not polled).
    let has_body = !req.body().is_end_stream();
    if req.uri().path() == "/-/reload" && !has_body {
        return reload(state, req.method()).await;
    }
    let refused = if req.method() != hyper::Method::GET && req.method() != hyper::Method::HEAD {
        Some((405, "method not allowed\n"))
    } else if has_body {
        Some((413, "request bodies are not accepted\n"))
    } else {
        None
    };
    if let Some((status, text)) = refused {
        let mut resp = respond(status, "text/plain; charset=utf-8", text);
        if has_body {
            resp.headers_mut().insert(
                hyper::header::CONNECTION,
                hyper::header::HeaderValue::from_static("close"),
            );
        }
        return resp;
    }
    let path = req.uri().path();
    let resp = if path == state.telemetry_path {
        metrics(state, &req)
    } else {
        match path {
            "/" => status_page(state, req.uri().query()),
            crate::status_page::JSON_PATH => {
                respond(200, "application/json", status_view(state).to_json())
            }
            "/-/healthy" => respond(200, "text/plain; charset=utf-8", "OK\n"),
            "/-/ready" => {
                let waiting = state.status.starting();
                if waiting.is_empty() {
                    respond(200, "text/plain; charset=utf-8", "OK\n")
                } else {
                    respond(
                        503,
                        "text/plain; charset=utf-8",
                        format!("waiting for the first collection of: {waiting:?}\n"),
                    )
                }
            }
            _ => respond(404, "text/plain; charset=utf-8", "not found\n"),
        }
    };
    resp
}

/// `/-/reload`, as Prometheus answers it: `POST` or `PUT` reloads the configuration when the
/// lifecycle endpoint is enabled (200 with a summary, 500 with the reason it was rejected),
/// else 403; other methods get 405.
async fn reload(state: &AppState, method: &hyper::Method) -> Response<Body> {
    const TEXT: &str = "text/plain; charset=utf-8";
    if method != hyper::Method::POST && method != hyper::Method::PUT {
        let mut resp = respond(405, TEXT, "Only POST or PUT requests allowed\n");
        resp.headers_mut().insert(
            hyper::header::ALLOW,
            hyper::header::HeaderValue::from_static("POST, PUT"),
        );
        return resp;
    }
    let Some(lifecycle) = &state.lifecycle else {
        return respond(403, TEXT, "Lifecycle API is not enabled.\n");
    };
    match (lifecycle.0)().await {
        Ok(summary) => respond(200, TEXT, format!("reloaded: {summary}\n")),
        Err(e) => respond(500, TEXT, format!("failed to reload config: {e}\n")),
    }
}

/// Whether the request's `Accept-Encoding` accepts gzip: `gzip` (or `x-gzip`, or `*`) with a
/// q-value above 0.
fn accepts_gzip(req: &Request<Incoming>) -> bool {
    let values = req.headers().get_all(hyper::header::ACCEPT_ENCODING);
    let codings = values
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    let mut gzip = None;
    let mut any = None;
    for coding in codings {
        let mut params = coding.split(';');
        let name = params.next().unwrap_or_default().trim();
        let refused = params.any(|p| {
            p.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("q")
                    && v.trim().parse::<f64>().is_ok_and(|q| q <= 0.0)
            })
        });
        // Compared without case, not lowercased: no string per coding.
        if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(!refused);
        } else if name == "*" {
            any = Some(!refused);
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// `/metrics`: the format negotiated on `Accept` ([`Format::negotiate`]), gzip when
/// accepted, sent as the exposition's pre-compressed pieces (plain: inflated while sent).
fn metrics(state: &AppState, req: &Request<Incoming>) -> Response<Body> {
    let accept = req.headers().get_all(hyper::header::ACCEPT);
    let format = Format::negotiate(accept.iter().filter_map(|v| v.to_str().ok()));
    let gzip = accepts_gzip(req);
    let frames = state.exposition.scrape(format, gzip);
    let mut resp = respond_frames(200, format.content_type(), frames);
    if gzip {
        resp.headers_mut().insert(
            hyper::header::CONTENT_ENCODING,
            hyper::header::HeaderValue::from_static("gzip"),
        );
    }
    resp.headers_mut().insert(
        hyper::header::VARY,
        hyper::header::HeaderValue::from_static("Accept, Accept-Encoding"),
    );
    resp
}

/// The view of the status page and its JSON form, built from the status store now.
fn status_view(state: &AppState) -> crate::status_page::StatusView {
    let data = state.status.read();
    crate::status_page::StatusView::build(crate::status_page::Inputs {
        data: &data,
        shard: crate::status_page::ShardView::of(&state.sharding, &state.shard),
        now_ms: crate::util::unix_ms(),
    })
}

/// `/`: the status page, with its Content-Security-Policy.
fn status_page(state: &AppState, query: Option<&str>) -> Response<Body> {
    use crate::status_page::html;
    let version = format!(
        "Version {} (revision {REVISION})",
        env!("CARGO_PKG_VERSION")
    );
    let options = html::PageOptions {
        telemetry_path: &state.telemetry_path,
        refresh_seconds: html::refresh_seconds(query),
        version: &version,
    };
    let mut resp = respond(
        200,
        "text/html; charset=utf-8",
        html::render(&status_view(state), &options),
    );
    let headers = resp.headers_mut();
    headers.insert(
        hyper::header::CONTENT_SECURITY_POLICY,
        hyper::header::HeaderValue::from_static(html::content_security_policy()),
    );
    headers.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    resp
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_http_request_line_is_told_from_a_tls_record() {
        assert!(super::looks_like_http(b"GET /"));
        assert!(super::looks_like_http(b"OPTIO"));
        assert!(!super::looks_like_http(&[0x16, 0x03, 0x01, 0x02, 0x00]));
        assert!(!super::looks_like_http(b"get /"));
    }

    use super::*;

    #[test]
    fn listen_addresses_keep_host_port_and_widen_a_bare_port() {
        for kept in [
            "0.0.0.0:9849",
            "127.0.0.1:0",
            "localhost:80",
            "[::]:9849",
            "[::1]:1",
        ] {
            assert_eq!(parse_listen_address(kept).as_deref(), Ok(kept));
        }
        assert_eq!(parse_listen_address(":9849").as_deref(), Ok("0.0.0.0:9849"));
        for bad in [
            "9849",
            ":",
            "host:",
            ":65536",
            ":-1",
            "host:http",
            "[::1:80",
            "::1]:80",
        ] {
            assert!(parse_listen_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn accept_backoff_doubles_from_5ms_to_1s_and_resets_on_success() {
        let mut backoff = AcceptBackoff::default();
        let waits: Vec<u128> = (0..12).map(|_| backoff.failed().as_millis()).collect();
        assert_eq!(
            waits,
            [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000, 1000]
        );
        assert_eq!(backoff.failures(), 12);
        assert_eq!(backoff.succeeded(), 12, "the burst's length");
        assert_eq!(backoff.succeeded(), 0, "no burst since");
        assert_eq!(
            backoff.failed(),
            AcceptBackoff::FIRST,
            "a new burst starts over"
        );
    }

    #[test]
    fn accept_backoff_stays_at_the_cap_forever() {
        let mut backoff = AcceptBackoff {
            failures: u32::MAX - 1,
        };
        assert_eq!(backoff.failed(), AcceptBackoff::MAX);
        assert_eq!(backoff.failed(), AcceptBackoff::MAX);
        assert_eq!(backoff.failures(), u32::MAX);
    }

    #[test]
    fn only_resource_errors_back_off() {
        use std::io::{Error, ErrorKind};
        let mut backoff = AcceptBackoff::default();
        let mut log = Throttle::default();
        for kind in [
            ErrorKind::ConnectionAborted,
            ErrorKind::ConnectionReset,
            ErrorKind::ConnectionRefused,
        ] {
            let e = Error::from(kind);
            assert_eq!(accept_failed(&mut backoff, &mut log, &e), None);
        }
        assert_eq!(backoff.failures(), 0);
        // EMFILE: too many open files.
        let emfile = Error::from_raw_os_error(24);
        let first = accept_failed(&mut backoff, &mut log, &emfile);
        assert_eq!(first, Some(AcceptBackoff::FIRST));
        let second = accept_failed(&mut backoff, &mut log, &emfile);
        assert_eq!(second, Some(AcceptBackoff::FIRST * 2));
    }
}
