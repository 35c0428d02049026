//! Client of Confluent's REST API v3 for one destination cluster: authentication, TLS,
//! timeouts, defensive parsing of the link and mirror objects, and errors classified by
//! reason (the `reason` label of `clusterlink_collection_errors_total`).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::config::{read_secret_file, Auth, BearerToken, ClusterConfig, SecretString};

/// Why a request failed. [`RestError::reason`] is the metric label.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("rejected credentials: HTTP {status}: {message}")]
    Auth { status: u16, message: String },
    #[error("rate limited (HTTP 429), retry after {retry_after:?}")]
    RateLimited { retry_after: Option<Duration> },
    #[error("HTTP {status}: {message}")]
    Http { status: u16, message: String },
    #[error("cannot decode the response: {0}")]
    Decode(String),
    #[error("{0}")]
    Other(String),
}

impl RestError {
    /// Stable, low-cardinality reason for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            RestError::Timeout(_) => "timeout",
            RestError::Connect(_) => "connect",
            RestError::Tls(_) => "tls",
            RestError::Auth { .. } => "auth",
            RestError::RateLimited { .. } => "rate_limited",
            RestError::Http { status, .. } if *status >= 500 => "http_5xx",
            RestError::Http { status, .. } if *status == 404 => "not_found",
            RestError::Http { .. } => "http_4xx",
            RestError::Decode(_) => "decode",
            RestError::Other(_) => "other",
        }
    }
}

/// Every reason [`RestError::reason`] can return (written as 0 so rates work from the start).
pub const ERROR_REASONS: [&str; 10] = [
    "timeout",
    "connect",
    "tls",
    "auth",
    "rate_limited",
    "http_5xx",
    "not_found",
    "http_4xx",
    "decode",
    "other",
];

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A list envelope; `metadata.next` is followed when non-null.
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
struct Envelope<T> {
    #[serde(default)]
    metadata: Option<EnvelopeMetadata>,
    #[serde(default = "Vec::new", deserialize_with = "null_default")]
    data: Vec<T>,
}

#[derive(Debug, Deserialize)]
struct EnvelopeMetadata {
    #[serde(default)]
    next: Option<String>,
}

/// `KafkaLinkData`, every field but the name optional.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
pub struct LinkData {
    pub link_name: String,
    #[serde(default)]
    pub cluster_link_id: Option<String>,
    #[serde(default)]
    pub link_id: Option<String>,
    #[serde(default)]
    pub source_cluster_id: Option<String>,
    #[serde(default)]
    pub destination_cluster_id: Option<String>,
    #[serde(default)]
    pub remote_cluster_id: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub topic_names: Vec<String>,
    #[serde(default)]
    pub link_state: Option<String>,
    #[serde(default)]
    pub link_error: Option<String>,
    #[serde(default)]
    pub link_error_message: Option<String>,
    #[serde(default)]
    pub tasks: Option<Vec<TaskData>>,
    /// Confluent Cloud's `category_counts`: mirror partitions by state category. `None` when
    /// the field is absent, `null` or not an array (Confluent Platform); see [`LinkCategory`].
    #[serde(default, deserialize_with = "link_categories")]
    pub category_counts: Option<Vec<LinkCategory>>,
}

/// One item of a link's `category_counts` (`LinkCategory` in Confluent Cloud's spec): how many
/// of the link's mirror partitions are in a state category (`ACTIVE`, `PAUSED`, `IN_ERROR`,
/// `PENDING`, `NOT_APPLICABLE`, or a value the spec does not list). Raw: the count may be
/// negative and a category may repeat or be empty; the renderer decides what to export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkCategory {
    pub state_category: String,
    pub count: i64,
}

/// `category_counts`, leniently: an informational field must not fail the whole link list.
/// Not an array → `None`; an item whose `state_category` is not a string or whose `count` is
/// not an integer that fits an `i64` is dropped.
fn link_categories<'de, D>(d: D) -> Result<Option<Vec<LinkCategory>>, D::Error>
where
    D: Deserializer<'de>,
{
    let serde_json::Value::Array(items) = serde_json::Value::deserialize(d)? else {
        return Ok(None);
    };
    Ok(Some(
        items
            .iter()
            .filter_map(|item| {
                Some(LinkCategory {
                    state_category: item.get("state_category")?.as_str()?.to_owned(),
                    count: item.get("count")?.as_i64()?,
                })
            })
            .collect(),
    ))
}

/// `LinkTask`.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
pub struct TaskData {
    pub task_name: String,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub errors: Vec<TaskErrorData>,
}

/// `LinkTaskError`.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
pub struct TaskErrorData {
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub error_message: Option<String>,
}

/// `KafkaMirrorData`.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
pub struct MirrorData {
    pub link_name: String,
    pub mirror_topic_name: String,
    #[serde(default)]
    pub source_topic_name: Option<String>,
    #[serde(default)]
    pub num_partitions: Option<i64>,
    #[serde(default, deserialize_with = "null_default")]
    pub mirror_lags: Vec<MirrorLagData>,
    #[serde(default)]
    pub mirror_status: Option<String>,
    #[serde(default)]
    pub mirror_topic_error: Option<String>,
    #[serde(default)]
    pub state_time_ms: Option<i64>,
}

/// `MirrorLag`.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
pub struct MirrorLagData {
    pub partition: i32,
    #[serde(default)]
    pub lag: i64,
    /// `-1`: never fetched (unknown, not caught up).
    #[serde(default = "minus_one")]
    pub last_source_fetch_offset: i64,
}

fn minus_one() -> i64 {
    -1
}

/// A link config (`is_sensitive` on Cloud, `sensitive` on Platform).
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
pub struct LinkConfigData {
    pub name: String,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default, alias = "sensitive")]
    pub is_sensitive: Option<bool>,
}

/// The value of a link's config `name`, unless it is absent or sensitive.
pub fn config_value<'a>(configs: Option<&'a Vec<LinkConfigData>>, name: &str) -> Option<&'a str> {
    configs?
        .iter()
        .find(|c| c.name == name && c.is_sensitive != Some(true))
        .and_then(|c| c.value.as_deref())
}

#[derive(Debug, Deserialize)]
struct ClusterData {
    cluster_id: String,
}

/// Observes every request: endpoint label and HTTP status (`0` when there was no response).
pub type RequestObserver = Arc<dyn Fn(&'static str, u16) + Send + Sync>;

/// REST client of one cluster.
pub struct RestClient {
    http: reqwest::Client,
    base: String,
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

/// Building the HTTP client failed (bad CA bundle or client certificate).
#[derive(Debug, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct ClientBuildError {
    pub key: &'static str,
    pub problem: String,
}

impl RestClient {
    pub fn new(config: &ClusterConfig, observe: RequestObserver) -> Result<Self, ClientBuildError> {
        let mut builder = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout)
            .user_agent(concat!("cluster-link-exporter/", env!("CARGO_PKG_VERSION")))
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
            base: config.rest_url.clone(),
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
                let mut cache = self.token_cache.lock().unwrap_or_else(|e| e.into_inner());
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

    /// GETs `path` (relative to the base URL) and decodes JSON.
    pub async fn get<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        path: &str,
    ) -> Result<T, RestError> {
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut req = self.http.get(&url).header("accept", "application/json");
        match &self.auth {
            Auth::None => {}
            Auth::Basic { username, password } => {
                req = req.basic_auth(username, Some(password.expose()));
            }
            Auth::Bearer {
                token,
                identity_pool_id,
            } => {
                req = req.bearer_auth(self.bearer_token(token)?.expose());
                if let Some(pool) = identity_pool_id {
                    req = req.header("confluent-identity-pool-id", pool);
                }
            }
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                (self.observe)(endpoint, 0);
                return Err(self.classify(e));
            }
        };
        let status = resp.status().as_u16();
        (self.observe)(endpoint, status);
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(|e| self.classify(e))?;
        match status {
            200..=299 => {
                serde_json::from_slice(&body).map_err(|e| RestError::Decode(e.to_string()))
            }
            429 => Err(RestError::RateLimited {
                retry_after: retry_after(&headers),
            }),
            401 | 403 => Err(RestError::Auth {
                status,
                message: error_message(&body),
            }),
            _ => Err(RestError::Http {
                status,
                message: error_message(&body),
            }),
        }
    }

    fn classify(&self, e: reqwest::Error) -> RestError {
        let chain = error_chain(&e);
        if e.is_timeout() {
            RestError::Timeout(self.timeout)
        } else if is_tls(&chain) {
            RestError::Tls(chain)
        } else if e.is_connect() {
            RestError::Connect(chain)
        } else if e.is_decode() || e.is_body() {
            RestError::Decode(chain)
        } else {
            RestError::Connect(chain)
        }
    }

    /// Lists every item of a list endpoint, following `metadata.next`.
    async fn list<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        path: &str,
    ) -> Result<Vec<T>, RestError> {
        let mut items = Vec::new();
        let mut next = Some(path.to_owned());
        let mut pages = 0;
        while let Some(path) = next.take() {
            let page: Envelope<T> = self.get(endpoint, &path).await?;
            items.extend(page.data);
            pages += 1;
            next = page.metadata.and_then(|m| m.next).filter(|n| !n.is_empty());
            if pages >= 1000 {
                return Err(RestError::Decode(
                    "metadata.next did not end after 1000 pages".into(),
                ));
            }
        }
        Ok(items)
    }

    /// `GET /clusters`: the one cluster a Confluent Platform REST API serves.
    pub async fn discover_cluster_id(&self) -> Result<String, RestError> {
        let clusters: Vec<ClusterData> = self.list("clusters", "/clusters").await?;
        match clusters.as_slice() {
            [one] => Ok(one.cluster_id.clone()),
            [] => Err(RestError::Decode("GET /clusters listed no cluster".into())),
            many => Err(RestError::Decode(format!(
                "GET /clusters listed {} clusters: set cluster_id",
                many.len()
            ))),
        }
    }

    pub async fn links(&self, cluster_id: &str) -> Result<Vec<LinkData>, RestError> {
        self.list("links", &format!("/clusters/{cluster_id}/links"))
            .await
    }

    /// One link with its tasks (only this call returns tasks).
    pub async fn link_with_tasks(
        &self,
        cluster_id: &str,
        link: &str,
    ) -> Result<LinkData, RestError> {
        self.get(
            "link",
            &format!(
                "/clusters/{cluster_id}/links/{}?include_tasks=true",
                encode(link)
            ),
        )
        .await
    }

    /// Every mirror topic of every link, in one call.
    pub async fn mirrors(&self, cluster_id: &str) -> Result<Vec<MirrorData>, RestError> {
        self.list(
            "mirrors",
            &format!("/clusters/{cluster_id}/links/-/mirrors"),
        )
        .await
    }

    pub async fn link_configs(
        &self,
        cluster_id: &str,
        link: &str,
    ) -> Result<Vec<LinkConfigData>, RestError> {
        self.list(
            "link_configs",
            &format!("/clusters/{cluster_id}/links/{}/configs", encode(link)),
        )
        .await
    }
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

fn is_tls(chain: &str) -> bool {
    let lower = chain.to_ascii_lowercase();
    ["certificate", "tls", "handshake", "unknownissuer", "alert"]
        .iter()
        .any(|w| lower.contains(w))
}

/// `Retry-After` (seconds or an HTTP date) or `rateLimit-reset` (seconds).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let seconds = |name: &str| {
        headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
            .map(Duration::from_secs)
    };
    seconds("retry-after")
        .or_else(|| {
            let date = headers.get("retry-after")?.to_str().ok()?;
            let at = httpdate_parse(date)?;
            at.duration_since(SystemTime::now()).ok()
        })
        .or_else(|| seconds("ratelimit-reset"))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn httpdate_parse(s: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    let day: u64 = parts[1].parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])? as u64
        + 1;
    let year: u64 = parts[3].parse().ok()?;
    let hms: Vec<u64> = parts[4]
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    if hms.len() != 3 {
        return None;
    }
    // Days since the epoch (civil from days, Howard Hinnant's algorithm, inverted).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2];
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
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
    fn parses_sparse_and_unknown_fields() {
        let link: LinkData = serde_json::from_str(
            r#"{"link_name":"l","topic_names":null,"link_state":"BRAND_NEW","extra":1,"tasks":[{"task_name":"X","errors":null}]}"#,
        )
        .unwrap();
        assert_eq!(link.link_state.as_deref(), Some("BRAND_NEW"));
        assert!(link.topic_names.is_empty());
        assert!(link.tasks.unwrap()[0].errors.is_empty());
        let m: MirrorData = serde_json::from_str(
            r#"{"link_name":"l","mirror_topic_name":"t","mirror_lags":[{"partition":1,"lag":0}]}"#,
        )
        .unwrap();
        assert_eq!(m.mirror_lags[0].last_source_fetch_offset, -1);
        let c: LinkConfigData =
            serde_json::from_str(r#"{"name":"sasl.jaas.config","value":null,"sensitive":true}"#)
                .unwrap();
        assert_eq!(c.is_sensitive, Some(true));
    }

    #[test]
    fn retry_after_forms() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("ratelimit-reset", "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        assert_eq!(
            httpdate_parse("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777))
        );
        assert_eq!(retry_after(&reqwest::header::HeaderMap::new()), None);
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
