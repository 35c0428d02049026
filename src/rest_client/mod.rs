//! Client of Confluent's REST API v3 for one destination cluster: authentication, TLS,
//! timeouts, defensive parsing of the link and mirror objects (`wire`, converted there into
//! the [`snapshot`](crate::snapshot) types: the wire format stops here), and errors
//! classified by [`CollectionErrorReason`] (the `reason` label of
//! `clusterlink_collection_errors_total`).
//!
//! Everything from the network is checked: bodies are read up to `max_response_bytes`,
//! decoded into typed structs (serde_json's recursion limit bounds nesting; a list page as it
//! arrives, item by item: `stream`, `envelope`), headers parsed without panicking; and the
//! credentials stay on `rest_url`'s origin (scheme, host, port): neither a redirect nor
//! `metadata.next` is followed anywhere else.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use reqwest::Url;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::config::{read_secret_file, Auth, BearerToken, ClusterConfig, SecretString};
use crate::snapshot::{Link, LinkConfigs, MirrorTopic, TransitionErrors};
use crate::util::{closed_set, lock};

mod envelope;
mod stream;
mod wire;

use stream::PageError;
use wire::{ClusterData, LinkConfigData, LinkData, MirrorData};

/// Why a request failed. [`RestError::reason`] is the metric label.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// No response within `request_timeout` (the timeout).
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    /// No connection: the error chain.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The TLS handshake or certificate verification failed: the error chain.
    #[error("TLS: {0}")]
    Tls(String),
    /// HTTP 401 or 403.
    #[error("rejected credentials: HTTP {status}: {message}")]
    Auth {
        /// The HTTP status.
        status: u16,
        /// The error body's `message` (or its start).
        message: String,
    },
    /// HTTP 429.
    #[error("rate limited (HTTP 429), {}", describe_retry_after(*.retry_after))]
    RateLimited {
        /// How long the server asked to wait (see [`retry_after`]).
        retry_after: Option<Duration>,
    },
    /// Another non-2xx status.
    #[error("HTTP {status}: {message}")]
    Http {
        /// The HTTP status.
        status: u16,
        /// The error body's `message` (or its start).
        message: String,
    },
    /// A body that does not decode or is too large: what was wrong.
    #[error("cannot decode the response: {0}")]
    Decode(String),
    /// A redirect or `metadata.next` pointed at another origin than `rest_url`'s: not
    /// followed, nothing sent there. `origin` is `scheme://host:port`, never a full URL.
    #[error(
        "refused to follow {what} to another origin, {origin}: only {allowed} gets the credentials"
    )]
    CrossOrigin {
        /// `a redirect` or `metadata.next`.
        what: &'static str,
        /// The refused origin.
        origin: String,
        /// `rest_url`'s origin.
        allowed: String,
    },
    /// HTTP 404 on the cluster's link list, the cycle's first request under
    /// `/clusters/{cluster_id}`: the REST API serves no cluster with that id (a wrong
    /// `cluster_id`, or a `rest_url` of another cluster).
    #[error(
        "this REST API serves no cluster {cluster_id:?} ({key}){}",
        describe_served(served)
    )]
    ClusterNotFound {
        /// The id asked for.
        cluster_id: String,
        /// Where that id comes from: `cluster_id` (configured) or `the discovered cluster id`.
        key: &'static str,
        /// What `GET /clusters` listed when asked once after the failure began: the ids it
        /// serves, or why it could not say; `None` when not asked.
        served: Option<Result<Vec<String>, String>>,
    },
    /// Anything else: what happened.
    #[error("{0}")]
    Other(String),
}

/// `; it serves …` for [`RestError::ClusterNotFound`].
fn describe_served(served: &Option<Result<Vec<String>, String>>) -> String {
    match served {
        None => String::new(),
        Some(Ok(ids)) if ids.is_empty() => "; GET /clusters lists no cluster".into(),
        Some(Ok(ids)) => format!("; it serves {}", ids.join(", ")),
        Some(Err(e)) => format!("; GET /clusters does not say which it serves: {e}"),
    }
}

impl RestError {
    /// Stable, low-cardinality reason for metrics and logs.
    pub fn reason(&self) -> CollectionErrorReason {
        use CollectionErrorReason as R;
        match self {
            RestError::Timeout(_) => R::Timeout,
            RestError::Connect(_) => R::Connect,
            RestError::Tls(_) => R::Tls,
            RestError::Auth { .. } => R::Auth,
            RestError::RateLimited { .. } => R::RateLimited,
            RestError::Http { status, .. } if *status >= 500 => R::Http5xx,
            RestError::Http { status, .. } if *status == 404 => R::NotFound,
            RestError::Http { .. } => R::Http4xx,
            RestError::Decode(_) => R::Decode,
            RestError::CrossOrigin { .. } => R::CrossOrigin,
            RestError::ClusterNotFound { .. } => R::ClusterNotFound,
            RestError::Other(_) => R::Other,
        }
    }
}

closed_set! {
    /// Why a collection failed: the `reason` label of `clusterlink_collection_errors_total`
    /// (every value written as 0 from the start, so rates work). `ALL` is the one list: the
    /// counter's help text and `docs/metrics.md` name the same set.
    pub enum CollectionErrorReason {
        /// No response within `request_timeout`.
        Timeout = "timeout",
        /// No connection (refused, unresolvable, reset).
        Connect = "connect",
        /// The TLS handshake or certificate verification failed.
        Tls = "tls",
        /// HTTP 401 or 403.
        Auth = "auth",
        /// HTTP 429.
        RateLimited = "rate_limited",
        /// HTTP 5xx.
        Http5xx = "http_5xx",
        /// HTTP 404 on the cluster's link list: the REST API serves no cluster with the
        /// configured (or discovered) `cluster_id`.
        ClusterNotFound = "cluster_not_found",
        /// Another HTTP 404.
        NotFound = "not_found",
        /// Another HTTP 4xx.
        Http4xx = "http_4xx",
        /// A body that does not decode, or is over `max_response_bytes`.
        Decode = "decode",
        /// A redirect or `metadata.next` to another origin, refused.
        CrossOrigin = "cross_origin",
        /// Anything else.
        Other = "other",
    }
}

/// Redirects followed per request (same origin only).
const MAX_REDIRECTS: usize = 5;

/// Pages of one list followed through `metadata.next`.
const MAX_PAGES: usize = 1000;

/// Bytes of an error response read for its message; the rest is not read.
const ERROR_BODY_BYTES: u64 = 64 << 10;

/// Longest wait [`retry_after`] returns: one day (the collector caps it further).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Observes every request: endpoint label and HTTP status (`0` when there was no response).
pub(crate) type RequestObserver = Arc<dyn Fn(&'static str, u16) + Send + Sync>;

/// REST client of one cluster.
pub(crate) struct RestClient {
    http: reqwest::Client,
    /// The cluster's name, for log lines.
    name: String,
    base: String,
    /// `rest_url`, parsed: its origin is the only one that gets requests and credentials.
    base_url: Url,
    max_response_bytes: u64,
    auth: Auth,
    timeout: Duration,
    token_cache: Mutex<Option<(SystemTime, SecretString)>>,
    observe: RequestObserver,
}

impl std::fmt::Debug for RestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestClient")
            .field("base", &self.base)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// A redirect to another origin, refused by the redirect policy (found again by
/// [`RestClient::classify`] in the error's source chain).
#[derive(Debug, thiserror::Error)]
#[error("redirect to another origin, {0}")]
struct CrossOriginRedirect(String);

/// Building the HTTP client failed (bad CA bundle or client certificate, bad `rest_url`).
#[derive(Debug, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct ClientBuildError {
    /// The configuration key at fault.
    pub key: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl RestClient {
    /// A client of `config.rest_url`.
    ///
    /// # Errors
    /// An unreadable or invalid CA bundle or client certificate, or a `rest_url` that is not
    /// a URL, naming the configuration key.
    pub(crate) fn new(
        config: &ClusterConfig,
        observe: RequestObserver,
    ) -> Result<Self, ClientBuildError> {
        let base_url = Url::parse(&config.rest_url).map_err(|e| ClientBuildError {
            key: "rest_url",
            problem: format!("not a URL: {e}"),
        })?;
        crate::tls::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout)
            .user_agent(concat!("cluster-link-exporter/", env!("CARGO_PKG_VERSION")))
            .redirect(same_origin_redirects(&base_url, &config.name))
            .pool_max_idle_per_host(config.max_concurrent_requests);
        let read = |key: &'static str, path: &PathBuf| {
            std::fs::read(path).map_err(|e| ClientBuildError {
                key,
                problem: format!("cannot read {}: {e}", path.display()),
            })
        };
        if let Some(ca) = &config.tls.ca_file {
            let pem = read("tls.ca_file", ca)?;
            for cert in
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ClientBuildError {
                    key: "tls.ca_file",
                    problem: format!("not a PEM certificate bundle: {e}"),
                })?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let (Some(cert), Some(key)) = (&config.tls.cert_file, &config.tls.key_file) {
            let mut pem = read("tls.cert_file", cert)?;
            pem.push(b'\n');
            pem.extend(read("tls.key_file", key)?);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|e| ClientBuildError {
                key: "tls.cert_file",
                problem: format!("not a PEM certificate and key: {e}"),
            })?;
            builder = builder.identity(identity);
        }
        if config.tls.insecure_skip_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let http = builder.build().map_err(|e| ClientBuildError {
            key: "tls",
            problem: e.to_string(),
        })?;
        Ok(Self {
            http,
            name: config.name.clone(),
            base: config.rest_url.clone(),
            base_url,
            max_response_bytes: config.max_response_bytes,
            auth: config.auth.clone(),
            timeout: config.request_timeout,
            token_cache: Mutex::new(None),
            observe,
        })
    }

    /// The bearer token, re-reading a token file whenever its modification time changes.
    fn bearer_token(&self, token: &BearerToken) -> Result<SecretString, RestError> {
        match token {
            BearerToken::Value(v) => Ok(v.clone()),
            BearerToken::File(path) => {
                let modified = std::fs::metadata(path)
                    .and_then(|m| m.modified())
                    .map_err(|e| RestError::Other(format!("token file {}: {e}", path.display())))?;
                let mut cache = lock(&self.token_cache);
                if let Some((at, token)) = cache.as_ref() {
                    if *at == modified {
                        return Ok(token.clone());
                    }
                }
                let token = read_secret_file(path)
                    .map_err(|e| RestError::Other(format!("token file {}: {e}", path.display())))?;
                *cache = Some((modified, token.clone()));
                Ok(token)
            }
        }
    }

    /// GETs `path` (relative to the base URL) and decodes its JSON body, one object (a list
    /// is read with [`RestClient::list`]).
    ///
    /// # Errors
    /// Every failure as a [`RestError`] classified by its type (see [`RestError::reason`]).
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        path: &str,
    ) -> Result<T, RestError> {
        let budget = self.max_response_bytes;
        let resp = self.send(endpoint, self.url_of(path)?, budget).await?;
        match read_body(resp, budget).await {
            Ok(Body::Complete(body)) => decode(&body),
            Ok(Body::OverLimit(_)) => Err(self.too_large()),
            Err(e) => Err(self.classify(e)),
        }
    }

    /// `path` appended to the base URL.
    fn url_of(&self, path: &str) -> Result<Url, RestError> {
        Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| RestError::Other(format!("cannot build the request URL: {e}")))
    }

    /// GETs `url` (on the base URL's origin): the response, its body not yet read, when its
    /// status is 2xx and it claims no more than `budget` bytes; else the error (the start of
    /// an error body read for its message).
    async fn send(
        &self,
        endpoint: &'static str,
        url: Url,
        budget: u64,
    ) -> Result<reqwest::Response, RestError> {
        let resp = match self.request(url)?.send().await {
            Ok(r) => r,
            Err(e) => {
                (self.observe)(endpoint, 0);
                return Err(self.classify(e));
            }
        };
        let status = resp.status().as_u16();
        (self.observe)(endpoint, status);
        if (200..=299).contains(&status) {
            // A Content-Length over the budget is refused before reading anything.
            if resp.content_length().is_some_and(|n| n > budget) {
                return Err(self.too_large());
            }
            return Ok(resp);
        }
        let headers = resp.headers().clone();
        // Only the start of an error body is read, for its message.
        let body = match read_body(resp, ERROR_BODY_BYTES).await {
            Ok(Body::Complete(body) | Body::OverLimit(body)) => body,
            Err(_) => Vec::new(),
        };
        Err(failure(status, &headers, &body))
    }

    fn too_large(&self) -> RestError {
        RestError::Decode(format!(
            "the response is larger than max_response_bytes ({} bytes, all pages of a list together)",
            self.max_response_bytes
        ))
    }

    /// A GET of `url` with this cluster's credentials.
    fn request(&self, url: Url) -> Result<reqwest::RequestBuilder, RestError> {
        let req = self.http.get(url).header("accept", "application/json");
        Ok(match &self.auth {
            Auth::None => req,
            Auth::Basic { username, password } => req.basic_auth(username, Some(password.expose())),
            Auth::Bearer {
                token,
                identity_pool_id,
            } => {
                let req = req.bearer_auth(self.bearer_token(token)?.expose());
                match identity_pool_id {
                    Some(pool) => req.header("confluent-identity-pool-id", pool),
                    None => req,
                }
            }
        })
    }

    /// Classifies a transport error by the types in its source chain, never by its text.
    fn classify(&self, e: reqwest::Error) -> RestError {
        if let Some(refused) = find_source::<CrossOriginRedirect>(&e) {
            return RestError::CrossOrigin {
                what: "a redirect",
                origin: refused.0.clone(),
                allowed: self.base_url.origin().ascii_serialization(),
            };
        }
        let chain = error_chain(&e);
        if e.is_timeout() {
            RestError::Timeout(self.timeout)
        } else if is_tls_failure(&e) {
            RestError::Tls(chain)
        } else if e.is_connect() {
            RestError::Connect(chain)
        } else if e.is_redirect() {
            RestError::Other(chain)
        } else if e.is_decode() || e.is_body() {
            RestError::Decode(chain)
        } else {
            RestError::Connect(chain)
        }
    }

    /// Lists every item of a list endpoint, each converted by `convert` as it is decoded
    /// (see [`stream`]), following `metadata.next` on the same origin only. All pages
    /// together may use up to `max_response_bytes`.
    async fn list<T, U>(
        &self,
        endpoint: &'static str,
        path: &str,
        convert: fn(T) -> U,
    ) -> Result<Vec<U>, RestError>
    where
        T: DeserializeOwned + 'static,
        U: Send + 'static,
    {
        let mut items = Vec::new();
        let mut url = self.url_of(path)?;
        let mut budget = self.max_response_bytes;
        for _ in 0..MAX_PAGES {
            let resp = self.send(endpoint, url.clone(), budget).await?;
            let page = stream::read_page(resp, budget, items, convert)
                .await
                .map_err(|e| self.page_error(e))?;
            budget = budget.saturating_sub(page.bytes);
            items = page.items;
            match page.next.filter(|n| !n.is_empty()) {
                None => return Ok(items),
                Some(next) => url = self.next_page(endpoint, &url, &next)?,
            }
        }
        Err(RestError::Decode(format!(
            "metadata.next did not end after {MAX_PAGES} pages"
        )))
    }

    /// The error of a page that could not be read.
    fn page_error(&self, e: PageError<reqwest::Error>) -> RestError {
        match e {
            PageError::OverBudget => self.too_large(),
            PageError::Transport(e) => self.classify(e),
            PageError::Decode(e) => RestError::Decode(e.to_string()),
            PageError::Cancelled => RestError::Other("the decoding of a page was cancelled".into()),
        }
    }

    /// `next` resolved against the page's URL, when it is on the base URL's origin and not
    /// the page itself.
    fn next_page(&self, endpoint: &'static str, page: &Url, next: &str) -> Result<Url, RestError> {
        let url = page
            .join(next)
            .map_err(|e| RestError::Decode(format!("metadata.next is not a URL: {e}")))?;
        let allowed = self.base_url.origin();
        if url.origin() != allowed {
            let origin = url.origin().ascii_serialization();
            tracing::warn!(
                kafka_cluster = %self.name,
                endpoint,
                refused_origin = %origin,
                "metadata.next points at another origin than rest_url: not followed"
            );
            return Err(RestError::CrossOrigin {
                what: "metadata.next",
                origin,
                allowed: allowed.ascii_serialization(),
            });
        }
        if url == *page {
            return Err(RestError::Decode(
                "metadata.next points at the page itself".into(),
            ));
        }
        Ok(url)
    }

    /// `GET /clusters`: the ids of the clusters the REST API serves.
    pub(crate) async fn cluster_ids(&self) -> Result<Vec<String>, RestError> {
        self.list("clusters", "/clusters", |c: ClusterData| c.cluster_id)
            .await
    }

    /// `GET /clusters`: the one cluster a Confluent Platform REST API serves.
    pub(crate) async fn discover_cluster_id(&self) -> Result<String, RestError> {
        let clusters = self.cluster_ids().await?;
        match clusters.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(RestError::Decode("GET /clusters listed no cluster".into())),
            many => Err(RestError::Decode(format!(
                "GET /clusters listed {} clusters: set cluster_id",
                many.len()
            ))),
        }
    }

    /// `GET /clusters/{cluster_id}`: the id of the cluster served there (an error, 404, when
    /// this REST API serves no such cluster).
    pub(crate) async fn cluster(&self, cluster_id: &str) -> Result<String, RestError> {
        let cluster: ClusterData = self
            .get("clusters", &format!("/clusters/{cluster_id}"))
            .await?;
        Ok(cluster.cluster_id)
    }

    /// The cluster's links (without their tasks: only [`RestClient::link_with_tasks`]
    /// returns those).
    pub(crate) async fn links(&self, cluster_id: &str) -> Result<Vec<Link>, RestError> {
        self.list(
            "links",
            &format!("/clusters/{cluster_id}/links"),
            LinkData::into_link,
        )
        .await
    }

    /// One link with its tasks (only this call returns tasks).
    pub(crate) async fn link_with_tasks(
        &self,
        cluster_id: &str,
        link: &str,
    ) -> Result<Link, RestError> {
        let link: LinkData = self
            .get(
                "link",
                &format!(
                    "/clusters/{cluster_id}/links/{}?include_tasks=true",
                    encode(link)
                ),
            )
            .await?;
        Ok(link.into_link())
    }

    /// Every mirror topic of every link, in one call (each converted as it is decoded).
    pub(crate) async fn mirrors(&self, cluster_id: &str) -> Result<Vec<MirrorTopic>, RestError> {
        self.list(
            "mirrors",
            &format!("/clusters/{cluster_id}/links/-/mirrors"),
            MirrorData::into_mirror,
        )
        .await
    }

    /// The state transition errors of mirror topic `topic` of `link` (the single-mirror GET
    /// with `include_state_transition_errors=true`; the list call does not return them).
    /// None listed, or the field absent: no error.
    pub(crate) async fn transition_errors(
        &self,
        cluster_id: &str,
        link: &str,
        topic: &str,
    ) -> Result<TransitionErrors, RestError> {
        let mirror: MirrorData = self
            .get(
                "mirror",
                &format!(
                    "/clusters/{cluster_id}/links/{}/mirrors/{}?include_state_transition_errors=true",
                    encode(link),
                    encode(topic)
                ),
            )
            .await?;
        Ok(mirror.into_mirror().transition_errors.unwrap_or_default())
    }

    /// The configs of `link` the exporter reads, interpreted.
    pub(crate) async fn link_configs(
        &self,
        cluster_id: &str,
        link: &str,
    ) -> Result<LinkConfigs, RestError> {
        let configs: Vec<LinkConfigData> = self
            .list(
                "link_configs",
                &format!("/clusters/{cluster_id}/links/{}/configs", encode(link)),
                std::convert::identity,
            )
            .await?;
        Ok(wire::link_configs(&configs))
    }
}

/// Decodes one `KafkaLinkData` object as the client does (for tests and tools).
///
/// # Errors
/// [`RestError::Decode`] when `body` is not such an object.
pub fn decode_link(body: &[u8]) -> Result<Link, RestError> {
    decode::<LinkData>(body).map(LinkData::into_link)
}

/// Decodes one `KafkaMirrorData` object as the client does (for tests and tools).
///
/// # Errors
/// [`RestError::Decode`] when `body` is not such an object.
pub fn decode_mirror(body: &[u8]) -> Result<MirrorTopic, RestError> {
    decode::<MirrorData>(body).map(MirrorData::into_mirror)
}

/// Decodes one link config object (`{"name", "value", "is_sensitive"}`) into the configs it
/// sets (for tests and tools).
///
/// # Errors
/// [`RestError::Decode`] when `body` is not such an object.
pub fn decode_link_config(body: &[u8]) -> Result<LinkConfigs, RestError> {
    decode::<LinkConfigData>(body).map(|c| wire::link_configs(&[c]))
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, RestError> {
    serde_json::from_slice(body).map_err(|e| RestError::Decode(e.to_string()))
}

/// Percent-encodes a path segment.
fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// The redirect policy: follow up to [`MAX_REDIRECTS`] redirects on `base`'s origin; refuse
/// (as a [`CrossOriginRedirect`] error, logged) any to another origin.
fn same_origin_redirects(base: &Url, cluster: &str) -> reqwest::redirect::Policy {
    let allowed = base.origin();
    let cluster = cluster.to_owned();
    reqwest::redirect::Policy::custom(move |attempt| {
        let origin = attempt.url().origin();
        if origin != allowed {
            let origin = origin.ascii_serialization();
            tracing::warn!(
                kafka_cluster = %cluster,
                refused_origin = %origin,
                "redirect to another origin than rest_url: not followed"
            );
            attempt.error(CrossOriginRedirect(origin))
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else {
            attempt.follow()
        }
    })
}

/// The errors in `e`'s source chain, `e` first; an `io::Error`'s wrapped error too (its
/// `source()` skips it).
fn sources<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |e| {
        match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        }
    })
}

/// The first error of type `E` in `e`'s source chain.
fn find_source<'a, E: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    sources(e).find_map(|e| e.downcast_ref::<E>())
}

/// Whether the failure is a TLS one: a `rustls::Error` (handshake, certificate verification,
/// an alert from the server) somewhere in the chain.
fn is_tls_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    find_source::<rustls::Error>(e).is_some()
}

/// The error of a non-2xx response: its status, headers and (the start of) its body.
fn failure(status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> RestError {
    match status {
        429 => RestError::RateLimited {
            retry_after: retry_after(headers),
        },
        401 | 403 => RestError::Auth {
            status,
            message: error_message(body),
        },
        300..=399 => RestError::Other(format!(
            "HTTP {status}: a redirect without a usable Location, not followed"
        )),
        _ => RestError::Http {
            status,
            message: error_message(body),
        },
    }
}

/// How much of a body [`read_body`] read.
enum Body {
    Complete(Vec<u8>),
    /// Longer than the limit: the first `limit` bytes; the rest was not read.
    OverLimit(Vec<u8>),
}

/// Reads a body chunk by chunk, stopping once it passes `limit` bytes. Allocates in
/// proportion to what arrives, never to what `Content-Length` claims.
async fn read_body(mut resp: reqwest::Response, limit: u64) -> Result<Body, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = usize::try_from(limit)
            .unwrap_or(usize::MAX)
            .saturating_sub(body.len());
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok(Body::OverLimit(body));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Body::Complete(body))
}

/// `Retry-After: 20s`, or that the server asked for no (future) time.
fn describe_retry_after(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!("Retry-After {}s", d.as_secs()),
        None => "no usable Retry-After: backing off exponentially".to_owned(),
    }
}

/// How long a 429 asks to wait: `Retry-After` (delay seconds, or an HTTP date parsed by
/// `httpdate`), else `rateLimit-reset` (delay seconds). At most [`MAX_RETRY_AFTER`] (a
/// number too large for a `u64` counts as that); `None` when neither header is present and
/// valid, or the date is already past (the collector then backs off on its own).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    retry_after_at(headers, SystemTime::now())
}

fn retry_after_at(headers: &reqwest::header::HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| headers.get(name)?.to_str().ok().map(str::trim);
    let from_retry_after = header("retry-after").and_then(|v| {
        delay_seconds(v).or_else(|| httpdate::parse_http_date(v).ok()?.duration_since(now).ok())
    });
    from_retry_after
        .or_else(|| header("ratelimit-reset").and_then(delay_seconds))
        .map(|d| d.min(MAX_RETRY_AFTER))
}

/// `delay-seconds` (RFC 9110): ASCII digits only.
fn delay_seconds(v: &str) -> Option<Duration> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(v.parse().map_or(MAX_RETRY_AFTER, Duration::from_secs))
}

/// The `message` of a Confluent error body, or the start of a non-JSON body.
fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        message: Option<String>,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { message: Some(m) }) => m,
        _ => {
            let text = String::from_utf8_lossy(body);
            let text: String = text.chars().filter(|c| !c.is_control()).take(120).collect();
            if text.is_empty() {
                "(empty body)".into()
            } else {
                text
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limited_says_what_the_server_asked_for() {
        let asked = RestError::RateLimited {
            retry_after: Some(Duration::from_secs(20)),
        };
        assert_eq!(
            asked.to_string(),
            "rate limited (HTTP 429), Retry-After 20s"
        );
        let none = RestError::RateLimited { retry_after: None };
        assert_eq!(
            none.to_string(),
            "rate limited (HTTP 429), no usable Retry-After: backing off exponentially"
        );
    }

    #[test]
    fn retry_after_forms() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("ratelimit-reset", "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            "retry-after",
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        let before = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777 - 90);
        assert_eq!(retry_after_at(&h, before), Some(Duration::from_secs(90)));
        assert_eq!(retry_after(&reqwest::header::HeaderMap::new()), None);
    }

    fn retry_after_of(value: &[u8]) -> Option<Duration> {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            "retry-after",
            reqwest::header::HeaderValue::from_bytes(value).unwrap(),
        );
        h.insert("ratelimit-reset", "4".parse().unwrap());
        retry_after(&h)
    }

    #[test]
    fn retry_after_past_far_future_absurd_and_garbage() {
        let four = Some(Duration::from_secs(4));
        // The issue's input: a date before 1970 panicked adding to an Instant.
        assert_eq!(retry_after_of(b"Thu, 01 Jan 1960 00:00:00 GMT"), four);
        // Past dates: nothing to wait for from this header.
        assert_eq!(retry_after_of(b"Sun, 06 Nov 1994 08:49:37 GMT"), four);
        // Far future and absurd numbers: capped.
        assert_eq!(
            retry_after_of(b"Fri, 31 Dec 9999 23:59:59 GMT"),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            retry_after_of(b"99999999999999999999999999"),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(retry_after_of(b"86401"), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after_of(b" 12 "), Some(Duration::from_secs(12)));
        // Garbage falls through to rateLimit-reset.
        for garbage in [
            &b"-5"[..],
            b"1.5",
            b"+3",
            b"soon",
            b"",
            b"Sun, 31 Feb 2100 25:61:61 GMT",
            b"\xff\xfe",
        ] {
            assert_eq!(retry_after_of(garbage), four, "{garbage:?}");
        }
    }

    #[test]
    fn tls_is_found_by_type_not_by_text() {
        let wrapped = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert!(is_tls_failure(&wrapped));
        // A message that mentions TLS is not a TLS error.
        let refused = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connect to kafka-tls.example: certificate handshake alert",
        );
        assert!(!is_tls_failure(&refused));
    }

    #[test]
    fn error_messages_from_json_and_html() {
        assert_eq!(
            error_message(br#"{"error_code":40101,"message":"Authentication failed"}"#),
            "Authentication failed"
        );
        assert!(error_message(b"<html>\n<title>Error 429</title>").starts_with("<html>"));
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }
}
