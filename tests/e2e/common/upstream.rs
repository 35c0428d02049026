//! A scriptable HTTP/1.1 upstream on a loopback port, for tests that need full control of
//! status lines, headers and bodies (hostile REST APIs): every connection and request is
//! recorded, and each request is answered by a function of it. One request per connection
//! (`Connection: close`).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as received.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// `GET /kafka/v3/clusters/c1/links HTTP/1.1`
    pub request_line: String,
    /// Header names lower-cased, values as sent.
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    /// The request target (path and query).
    pub fn target(&self) -> &str {
        self.request_line.split(' ').nth(1).unwrap_or("")
    }

    /// The value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// Extra headers, written as given (bytes, so they may be anything but CR and LF).
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    /// The `Content-Length` header: `Some(n)` to claim `n` whatever the body is; `None` for
    /// the body's length; no header at all (body until close) when `no_length` is set.
    pub claimed_length: Option<u64>,
    pub no_length: bool,
}

impl Reply {
    /// `status` with a JSON body.
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), b"application/json".to_vec())],
            body: body.into().into_bytes(),
            claimed_length: None,
            no_length: false,
        }
    }

    /// A redirect to `location`.
    pub fn redirect(status: u16, location: &str) -> Self {
        Self {
            status,
            headers: vec![("location".into(), location.as_bytes().to_vec())],
            body: Vec::new(),
            claimed_length: None,
            no_length: false,
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &[u8]) -> Self {
        self.headers.push((name.into(), value.to_vec()));
        self
    }
}

/// How an upstream answers.
pub type Responder = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

/// A running upstream; stops when dropped.
pub struct Upstream {
    pub addr: SocketAddr,
    connections: Arc<Mutex<usize>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    /// Starts an upstream on `127.0.0.1:0` answering with `respond`.
    pub async fn start(respond: Responder) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let connections = Arc::new(Mutex::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (c, r) = (connections.clone(), requests.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                *c.lock().unwrap() += 1;
                tokio::spawn(serve(stream, respond.clone(), r.clone()));
            }
        });
        Self {
            addr,
            connections,
            requests,
            task,
        }
    }

    /// An upstream that answers every request with 200 and an empty list (a recorder).
    pub async fn recorder() -> Self {
        Self::start(Arc::new(|_| Reply::json(200, r#"{"data":[]}"#))).await
    }

    /// `http://127.0.0.1:port`
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        *self.connections.lock().unwrap()
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve(mut stream: TcpStream, respond: Responder, requests: Arc<Mutex<Vec<Recorded>>>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 64 << 10 {
            return;
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let request = Recorded {
        request_line: lines.next().unwrap_or("").to_owned(),
        headers: lines
            .take_while(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect(),
    };
    requests.lock().unwrap().push(request.clone());
    let reply = respond(&request);
    let mut out = format!("HTTP/1.1 {} Test\r\nconnection: close\r\n", reply.status).into_bytes();
    if !reply.no_length {
        let length = reply.claimed_length.unwrap_or(reply.body.len() as u64);
        out.extend_from_slice(format!("content-length: {length}\r\n").as_bytes());
    }
    for (name, value) in &reply.headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&reply.body);
    let _ = stream.write_all(&out).await;
    let _ = stream.shutdown().await;
}
