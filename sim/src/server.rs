//! HTTP transport of the simulator: each cluster's REST listener (optional TLS and mTLS,
//! Basic or Bearer auth, injected faults, a request log) and the control API (`/sim/v1`).
//!
//! Faults are applied here, in front of [`super::rest`], so a fault behaves the same for every
//! endpoint; a connection reset needs the socket, which only this layer has.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use super::model::now_ms;
use super::scenario::{RestAuth, RestFault};
use super::{rest, Action, RequestRecord, SimCore};

type Body = Full<Bytes>;

/// The request log keeps at most this many entries (the oldest half is dropped when full).
const MAX_LOGGED_REQUESTS: usize = 20_000;

fn response(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .expect("valid response")
}

fn json_response(reply: rest::Reply) -> Response<Body> {
    match reply.body {
        Some(body) => response(reply.status, "application/json", body.into_bytes()),
        None => Response::builder()
            .status(reply.status)
            .body(Full::new(Bytes::new()))
            .expect("valid response"),
    }
}

/// Serves one cluster's REST API until the task is aborted.
pub(crate) async fn serve_rest(
    listener: TcpListener,
    core: SimCore,
    cluster: String,
    auth: Option<RestAuth>,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let (core, cluster, auth, acceptor) = (
            core.clone(),
            cluster.clone(),
            auth.clone(),
            acceptor.clone(),
        );
        tokio::spawn(async move {
            // A second handle on the socket lets a `reset` fault abort it with an RST.
            let Ok((tcp, socket)) = split_socket(tcp) else {
                return;
            };
            let kill = Arc::new(Notify::new());
            let service = {
                let kill = kill.clone();
                service_fn(move |req| {
                    handle_rest(
                        core.clone(),
                        cluster.clone(),
                        auth.clone(),
                        kill.clone(),
                        req,
                    )
                })
            };
            let builder = hyper::server::conn::http1::Builder::new();
            match acceptor {
                Some(acceptor) => {
                    let Ok(stream) = acceptor.accept(tcp).await else {
                        return; // failed handshake, e.g. no client certificate under mTLS
                    };
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = conn => {}
                        _ = kill.notified() => reset(&socket),
                    }
                }
                None => {
                    let conn = builder.serve_connection(TokioIo::new(tcp), service);
                    tokio::select! {
                        _ = conn => {}
                        _ = kill.notified() => reset(&socket),
                    }
                }
            }
        });
    }
}

fn split_socket(tcp: TcpStream) -> std::io::Result<(TcpStream, std::net::TcpStream)> {
    let std = tcp.into_std()?;
    let dup = std.try_clone()?;
    Ok((TcpStream::from_std(std)?, dup))
}

/// Closes the connection with an RST instead of a FIN.
fn reset(socket: &std::net::TcpStream) {
    let _ = socket2::SockRef::from(socket).set_linger(Some(Duration::ZERO));
    let _ = socket.shutdown(std::net::Shutdown::Both);
}

/// One REST request, owned, so it can be answered on a blocking thread.
#[derive(Clone)]
struct RestRequest {
    method: String,
    path: String,
    query: String,
    body: Bytes,
}

async fn handle_rest(
    core: SimCore,
    cluster: String,
    auth: Option<RestAuth>,
    kill: Arc<Notify>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let at_ms = now_ms();
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let authorized = authorized(auth.as_ref(), req.headers().get("authorization"));
    let body = read_body(req.into_body()).await;
    let request = RestRequest {
        method,
        path,
        query,
        body,
    };
    let fault = take_fault(&core, &cluster);
    let resp = respond(
        &core,
        &cluster,
        fault,
        auth.as_ref(),
        authorized,
        &kill,
        &request,
    )
    .await;
    let RestRequest {
        method,
        path,
        query,
        ..
    } = request;
    let target = if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    };
    if let Ok(c) = core.world().cluster_mut(&cluster) {
        if c.requests.len() >= MAX_LOGGED_REQUESTS {
            c.requests.drain(..MAX_LOGGED_REQUESTS / 2);
        }
        c.requests.push(RequestRecord {
            at_ms,
            method,
            path: target,
            status: resp.status().as_u16(),
        });
    }
    Ok(resp)
}

/// The whole body; empty when it cannot be read (a client that went away).
async fn read_body<B: hyper::body::Body>(body: B) -> Bytes {
    body.collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default()
}

/// The fault in force for this request, counting it down.
fn take_fault(core: &SimCore, cluster: &str) -> Option<RestFault> {
    let mut world = core.world();
    let c = world.cluster_mut(cluster).ok()?;
    let active = c.fault.as_mut()?;
    let fault = active.fault.clone();
    if let Some(n) = active.remaining.as_mut() {
        *n = n.saturating_sub(1);
        if *n == 0 {
            c.fault = None;
        }
    }
    Some(fault)
}

/// The real answer: 401 when unauthenticated, else what [`rest::handle`] says. Runs on a
/// blocking thread: it takes the world lock and write endpoints talk to mock cluster threads.
async fn real_answer(
    core: &SimCore,
    cluster: &str,
    auth: Option<&RestAuth>,
    authorized: bool,
    req: &RestRequest,
) -> Response<Body> {
    if !authorized {
        let mut r = json_response(rest::Reply::error(401, 40101, "Authentication failed"));
        let challenge = match auth {
            Some(RestAuth::Bearer { .. }) => "Bearer realm=\"kafka-rest\"",
            _ => "Basic realm=\"kafka-rest\"",
        };
        r.headers_mut().insert(
            "www-authenticate",
            hyper::header::HeaderValue::from_static(challenge),
        );
        return r;
    }
    let (core, cluster, req) = (core.clone(), cluster.to_owned(), req.clone());
    let reply = tokio::task::spawn_blocking(move || {
        rest::handle(
            &core,
            &cluster,
            &req.method,
            &req.path,
            &req.query,
            &req.body,
        )
    })
    .await
    .unwrap_or_else(|e| rest::Reply::error(500, 500, &format!("Internal Server Error: {e}")));
    json_response(reply)
}

async fn respond(
    core: &SimCore,
    cluster: &str,
    fault: Option<RestFault>,
    auth: Option<&RestAuth>,
    authorized: bool,
    kill: &Notify,
    req: &RestRequest,
) -> Response<Body> {
    match fault {
        None => real_answer(core, cluster, auth, authorized, req).await,
        Some(RestFault::Latency { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            real_answer(core, cluster, auth, authorized, req).await
        }
        Some(RestFault::Hang) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            real_answer(core, cluster, auth, authorized, req).await
        }
        Some(RestFault::RateLimited {
            retry_after_seconds,
            reset_seconds,
        }) => {
            let page = format!(
                "<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html;charset=ISO-8859-1\"/>\n<title>Error 429 Too Many Requests</title>\n</head>\n<body><h2>HTTP ERROR 429 Too Many Requests</h2>\n<table>\n<tr><th>URI:</th><td>{}</td></tr>\n<tr><th>STATUS:</th><td>429</td></tr>\n<tr><th>MESSAGE:</th><td>Too Many Requests</td></tr>\n<tr><th>SERVLET:</th><td>-</td></tr>\n</table>\n<hr/><a href=\"https://eclipse.org/jetty\">Powered by Jetty:// 9.4.51</a><hr/>\n\n</body>\n</html>\n",
                req.path
            );
            let mut r = response(429, "text/html;charset=iso-8859-1", page);
            if let Some(s) = retry_after_seconds {
                r.headers_mut().insert("retry-after", s.into());
            }
            if let Some(s) = reset_seconds {
                r.headers_mut().insert("ratelimit-reset", s.into());
            }
            r
        }
        Some(RestFault::Unauthorized) => {
            json_response(rest::Reply::error(401, 40101, "Authentication failed"))
        }
        Some(RestFault::Forbidden) => {
            json_response(rest::Reply::error(403, 40301, "Request is not authorized"))
        }
        Some(RestFault::ServerError) => {
            json_response(rest::Reply::error(500, 500, "Internal Server Error"))
        }
        Some(RestFault::Truncated) => {
            let real = real_answer(core, cluster, auth, authorized, req).await;
            let status = real.status();
            let full = read_body(real.into_body()).await;
            let cut = full.slice(..full.len() / 2);
            response(status.as_u16(), "application/json", cut)
        }
        Some(RestFault::Malformed) => response(
            200,
            "application/json",
            r#"{"kind":"KafkaLinkDataList","metadata":{"self":,"next":null},"data":[{"link_name":"#,
        ),
        Some(RestFault::UnknownValues) => {
            let real = real_answer(core, cluster, auth, authorized, req).await;
            let status = real.status().as_u16();
            let body = read_body(real.into_body()).await;
            match serde_json::from_slice::<serde_json::Value>(&body) {
                Ok(mut v) => {
                    future_values(&mut v);
                    response(status, "application/json", v.to_string())
                }
                Err(_) => response(status, "application/json", body),
            }
        }
        Some(RestFault::Reset) => {
            kill.notify_one();
            std::future::pending::<()>().await;
            unreachable!()
        }
    }
}

/// Replaces enum-like values with ones never seen before (the `unknown_values` fault).
fn future_values(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                let replacement = match key.as_str() {
                    "link_state" => Some("FUTURE_LINK_STATE"),
                    "link_error" => Some("FUTURE_LINK_ERROR"),
                    "state" => Some("FUTURE_TASK_STATE"),
                    "mirror_status" => Some("FUTURE_MIRROR_STATUS"),
                    "mirror_topic_error" => Some("FUTURE_MIRROR_ERROR"),
                    _ => None,
                };
                match replacement {
                    Some(r) if value.is_string() => *value = serde_json::Value::from(r),
                    _ => future_values(value),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(future_values),
        _ => {}
    }
}

fn authorized(required: Option<&RestAuth>, header: Option<&hyper::header::HeaderValue>) -> bool {
    let Some(required) = required else {
        return true;
    };
    let Some(header) = header.and_then(|h| h.to_str().ok()) else {
        return false;
    };
    match required {
        RestAuth::Basic { username, password } => header
            .strip_prefix("Basic ")
            .and_then(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b.trim())
                    .ok()
            })
            .is_some_and(|d| d == format!("{username}:{password}").as_bytes()),
        RestAuth::Bearer { token } => header
            .strip_prefix("Bearer ")
            .is_some_and(|t| t.trim() == token),
    }
}

/// Serves the control API until the task is aborted.
pub(crate) async fn serve_control(listener: TcpListener, core: SimCore) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let core = core.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| control(core.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

async fn control(core: SimCore, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let body = read_body(req.into_body()).await;
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let json =
        |status: u16, v: serde_json::Value| response(status, "application/json", v.to_string());
    let resp = match (method.as_str(), segs.as_slice()) {
        ("GET", ["sim", "v1", "clusters"]) => {
            let world = core.world();
            let clusters: Vec<_> = world
                .clusters
                .values()
                .map(|c| {
                    serde_json::json!({
                        "name": c.name,
                        "cluster_id": c.id,
                        "flavour": c.flavour,
                        "rest_url": format!("{}/kafka/v3", c.rest_url),
                        "bootstrap_servers": c.bootstrap_servers(),
                        "brokers_down": c.brokers_down,
                        "rest_fault": c.fault.as_ref().map(|f| &f.fault),
                        "links": c.links.keys().collect::<Vec<_>>(),
                        "stalled_links": c
                            .links
                            .values()
                            .filter(|l| l.fetcher_stalled)
                            .map(|l| &l.name)
                            .collect::<Vec<_>>(),
                        "log_starts": c
                            .log_start
                            .iter()
                            .map(|((topic, partition), log_start)| serde_json::json!({
                                "topic": topic,
                                "partition": partition,
                                "log_start": log_start,
                            }))
                            .collect::<Vec<_>>(),
                    })
                })
                .collect();
            json(200, serde_json::json!({ "clusters": clusters }))
        }
        ("GET", ["sim", "v1", "clusters", name, "requests"]) => {
            let world = core.world();
            match world.cluster(name) {
                Ok(c) => json(200, serde_json::json!({ "requests": c.requests })),
                Err(e) => json(404, serde_json::json!({ "error": e.to_string() })),
            }
        }
        ("POST", ["sim", "v1", "actions"]) => match serde_json::from_slice::<Action>(&body) {
            Err(e) => json(
                400,
                serde_json::json!({ "error": format!("bad action: {e}") }),
            ),
            Ok(action) => {
                let core2 = core.clone();
                // Actions may talk to a mock cluster thread: keep them off the async workers.
                match tokio::task::spawn_blocking(move || core2.apply(&action)).await {
                    Ok(Ok(crate::ActionOutcome::Done)) => Response::builder()
                        .status(StatusCode::NO_CONTENT)
                        .body(Full::new(Bytes::new()))
                        .expect("valid response"),
                    Ok(Ok(outcome)) => json(
                        200,
                        serde_json::to_value(outcome).unwrap_or(serde_json::Value::Null),
                    ),
                    Ok(Err(e)) => json(400, serde_json::json!({ "error": e.to_string() })),
                    Err(e) => json(500, serde_json::json!({ "error": e.to_string() })),
                }
            }
        },
        _ => json(404, serde_json::json!({ "error": "not found" })),
    };
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_bearer_checks() {
        let basic = RestAuth::Basic {
            username: "u".into(),
            password: "p".into(),
        };
        let header = |s: &str| hyper::header::HeaderValue::from_str(s).unwrap();
        assert!(authorized(Some(&basic), Some(&header("Basic dTpw"))));
        assert!(!authorized(Some(&basic), Some(&header("Basic dTpx"))));
        assert!(!authorized(Some(&basic), None));
        let bearer = RestAuth::Bearer {
            token: "t0k".into(),
        };
        assert!(authorized(Some(&bearer), Some(&header("Bearer t0k"))));
        assert!(!authorized(Some(&bearer), Some(&header("Bearer nope"))));
        assert!(authorized(None, None));
    }
}
