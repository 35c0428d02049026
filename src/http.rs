//! HTTP serving: `/metrics` from memory (never an upstream call; gzip when accepted), a small
//! landing page at `/`, `/-/healthy` and `/-/ready` (200 once every cluster has finished its
//! first cycle), and graceful shutdown.

use std::convert::Infallible;
use std::io::Write as _;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::collect::StatusBoard;
use crate::metrics::Exposition;

/// What the HTTP handlers read.
#[derive(Debug, Clone)]
pub struct AppState {
    pub exposition: Arc<Exposition>,
    pub status: StatusBoard,
    pub telemetry_path: String,
}

type Body = Full<Bytes>;

fn respond(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .expect("valid response")
}

/// Serves until `shutdown` turns true, then lets open requests finish.
pub async fn serve(listener: TcpListener, state: AppState, mut shutdown: watch::Receiver<bool>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((tcp, _)) = accepted else { continue };
                let state = state.clone();
                let mut stop = shutdown.clone();
                connections.spawn(async move {
                    let service = service_fn(move |req| handle(state.clone(), req));
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = stopped(&mut stop) => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                    }
                });
            }
            _ = stopped(&mut shutdown) => break,
        }
    }
    while connections.join_next().await.is_some() {}
}

/// Resolves once `rx` reads true (or its sender is gone).
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

async fn handle(state: AppState, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    if req.method() != hyper::Method::GET && req.method() != hyper::Method::HEAD {
        return Ok(respond(
            405,
            "text/plain; charset=utf-8",
            "method not allowed\n",
        ));
    }
    let path = req.uri().path();
    let resp = if path == state.telemetry_path {
        metrics(&state, &req)
    } else {
        match path {
            "/" => respond(200, "text/html; charset=utf-8", landing_page(&state)),
            "/-/healthy" => respond(200, "text/plain; charset=utf-8", "OK\n"),
            "/-/ready" => {
                let board = state.status.read().unwrap_or_else(|e| e.into_inner());
                let waiting: Vec<&String> = board
                    .iter()
                    .filter(|(_, s)| s.cycles == 0)
                    .map(|(n, _)| n)
                    .collect();
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
    Ok(resp)
}

fn header_contains(req: &Request<Incoming>, name: &str, needle: &str) -> bool {
    req.headers()
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains(needle))
}

fn metrics(state: &AppState, req: &Request<Incoming>) -> Response<Body> {
    let text = state.exposition.render();
    let content_type = if header_contains(req, "accept", "application/openmetrics-text") {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        "text/plain; version=0.0.4; charset=utf-8"
    };
    if header_contains(req, "accept-encoding", "gzip") {
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(text.len() / 8),
            flate2::Compression::fast(),
        );
        if encoder.write_all(text.as_bytes()).is_ok() {
            if let Ok(gz) = encoder.finish() {
                let mut r = respond(200, content_type, gz);
                r.headers_mut().insert(
                    "content-encoding",
                    hyper::header::HeaderValue::from_static("gzip"),
                );
                return r;
            }
        }
    }
    respond(200, content_type, text)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn ago(t: Option<SystemTime>) -> String {
    match t.and_then(|t| SystemTime::now().duration_since(t).ok()) {
        Some(d) => format!("{}s ago", d.as_secs()),
        None => "never".into(),
    }
}

fn landing_page(state: &AppState) -> String {
    let board = state.status.read().unwrap_or_else(|e| e.into_inner());
    let mut rows = String::new();
    for (name, s) in board.iter() {
        let health = match (s.cycles, s.up) {
            (0, _) => "<td class=\"wait\">starting</td>",
            (_, true) => "<td class=\"up\">up</td>",
            (_, false) => "<td class=\"down\">down</td>",
        };
        rows.push_str(&format!(
            "<tr><td>{}</td>{health}<td>{}</td><td>{}</td></tr>\n",
            html_escape(name),
            ago(s.last_success),
            s.last_error
                .as_deref()
                .map(|e| format!("{} ({})", html_escape(e), ago(s.last_error_at)))
                .unwrap_or_else(|| "—".into()),
        ));
    }
    format!(
        r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>cluster-link-exporter</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .8em;text-align:left}}.up{{color:#080}}.down{{color:#b00;font-weight:bold}}.wait{{color:#888}}</style>
</head><body>
<h1>cluster-link-exporter</h1>
<p>Version {version} (revision {revision}). Prometheus exporter for Confluent Cluster Linking.</p>
<p><a href="{path}">Metrics</a> · <a href="/-/healthy">/-/healthy</a> · <a href="/-/ready">/-/ready</a></p>
<h2>Clusters</h2>
<table><tr><th>kafka_cluster</th><th>state</th><th>last success</th><th>last error</th></tr>
{rows}</table>
</body></html>
"#,
        version = env!("CARGO_PKG_VERSION"),
        revision = crate::metrics::REVISION,
        path = html_escape(&state.telemetry_path),
    )
}
