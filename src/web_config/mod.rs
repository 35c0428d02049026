//! `--web.config.file`: TLS, basic auth and extra response headers for every HTTP endpoint, in
//! the format of the Prometheus exporter-toolkit (the file node_exporter and the
//! prometheus-community exporters take).
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt          # relative paths: from the web config file's folder
//!   key_file: server.key
//!   client_auth_type: RequireAndVerifyClientCert
//!   client_ca_file: ca.crt
//!   min_version: TLS12
//! basic_auth_users:
//!   prometheus: $2y$10$…            # bcrypt hash
//! http_server_config:
//!   headers:
//!     X-Frame-Options: deny
//! ```
//!
//! [`WebConfig::load`] parses and checks a file (unknown keys are errors naming the key;
//! certificate, key and CA files are read and must be usable); [`WebGuard`] keeps it live: the
//! file and the files it names are looked at (metadata only) on each new connection and read
//! again when they changed, so rotated certificates and changed passwords apply to the next
//! connection without a restart. Whether the server speaks TLS at all is fixed at start.
mod auth;
mod guard;
mod tls;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hyper::header::{HeaderName, HeaderValue};
use serde::Deserialize;

pub(crate) use guard::WebGuard;
pub(crate) use tls::TlsSettings;

/// A web configuration file that cannot be used; the message names the file and the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("web config {file}: {message}")]
pub struct WebConfigError {
    /// The file.
    pub file: String,
    /// What is wrong, starting with the key.
    pub message: String,
}

/// The file as written (exporter-toolkit's keys; every other key is an error).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawWebConfig {
    tls_server_config: Option<tls::RawTls>,
    http_server_config: Option<RawHttp>,
    basic_auth_users: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawHttp {
    headers: Option<BTreeMap<String, String>>,
    /// exporter-toolkit's switch for HTTP/2; this server speaks HTTP/1.1 only, so it has no
    /// effect.
    http2: Option<bool>,
}

/// The headers `http_server_config.headers` may set, and the values some of them may take
/// (none: any value), as exporter-toolkit allows them.
const ALLOWED_HEADERS: [(&str, &[&str]); 5] = [
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// A checked web configuration.
#[derive(Clone, Default)]
pub struct WebConfig {
    /// TLS, when `tls_server_config` names a certificate.
    pub(crate) tls: Option<TlsSettings>,
    /// `basic_auth_users`: user name → bcrypt hash. Empty: no authentication.
    users: BTreeMap<String, String>,
    /// `http_server_config.headers`, added to every response.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
}

impl std::fmt::Debug for WebConfig {
    /// Names the users, never their hashes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls)
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("headers", &self.headers)
            .finish()
    }
}

impl WebConfig {
    /// Reads and checks the file at `path`, and the certificate, key and CA files it names
    /// (relative to the file's folder).
    ///
    /// # Errors
    /// The file cannot be read or parsed, a key is unknown or has a value it cannot take, or
    /// a certificate, key or CA file is unusable.
    pub fn load(path: &Path) -> Result<Self, WebConfigError> {
        let fail = |message: String| WebConfigError {
            file: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let config = Self::parse(&text, dir).map_err(&fail)?;
        if let Some(tls) = &config.tls {
            tls.server_config().map_err(fail)?;
        }
        Ok(config)
    }

    /// Parses and checks the text of a web config file; relative file names are taken from
    /// `dir`. Reads no file.
    ///
    /// # Errors
    /// A message naming the key.
    pub(crate) fn parse(text: &str, dir: &Path) -> Result<Self, String> {
        let raw: RawWebConfig = if text.trim().is_empty() {
            RawWebConfig::default()
        } else {
            let de = serde_norway::Deserializer::from_str(text);
            serde_path_to_error::deserialize(de).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner().to_string();
                // serde_norway names the enclosing key itself; the full path replaces it.
                let message = match inner.split_once(": ") {
                    Some((prefix, rest)) if path.starts_with(prefix) => rest.to_owned(),
                    _ => inner,
                };
                if path == "." || path.is_empty() {
                    message
                } else {
                    format!("{path}: {message}")
                }
            })?
        };
        let tls = match raw.tls_server_config {
            Some(raw) => TlsSettings::from_raw(raw, dir)?,
            None => None,
        };
        let users = raw.basic_auth_users.unwrap_or_default();
        for (user, hash) in &users {
            if user.contains(':') {
                return Err(format!(
                    "basic_auth_users: user name {user:?} contains ':', which basic auth cannot carry"
                ));
            }
            if hash.parse::<bcrypt::HashParts>().is_err() {
                return Err(format!(
                    "basic_auth_users.{user}: not a bcrypt hash (make one with `cluster-link-exporter hash-password` (reads the password from stdin) or `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)"
                ));
            }
        }
        let headers = headers(raw.http_server_config.and_then(|h| h.headers))?;
        Ok(Self {
            tls,
            users,
            headers,
        })
    }

    /// Whether the server serves TLS (`tls_server_config` names a certificate).
    pub fn uses_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Whether requests must carry basic-auth credentials (`basic_auth_users` is not empty).
    pub fn requires_auth(&self) -> bool {
        !self.users.is_empty()
    }

    /// The bcrypt hash of `user`, if configured.
    pub(crate) fn hash_of(&self, user: &str) -> Option<&str> {
        self.users.get(user).map(String::as_str)
    }

    /// Any configured hash: the stand-in an unknown user is checked against, so that an
    /// unknown user takes as long as a wrong password.
    pub(crate) fn any_hash(&self) -> Option<&str> {
        self.users.values().next().map(String::as_str)
    }

    /// The files this configuration reads (certificate, key, client CA).
    pub(crate) fn files(&self) -> Vec<PathBuf> {
        self.tls
            .as_ref()
            .map(TlsSettings::files)
            .unwrap_or_default()
    }
}

/// Checks `http_server_config.headers` against [`ALLOWED_HEADERS`].
fn headers(
    raw: Option<BTreeMap<String, String>>,
) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    let mut out = Vec::new();
    for (name, value) in raw.unwrap_or_default() {
        let key = format!("http_server_config.headers.{name}");
        let Some((_, values)) = ALLOWED_HEADERS
            .iter()
            .find(|(allowed, _)| allowed.eq_ignore_ascii_case(&name))
        else {
            let allowed: Vec<&str> = ALLOWED_HEADERS.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "{key}: this header cannot be set (allowed: {})",
                allowed.join(", ")
            ));
        };
        if !values.is_empty() && !values.iter().any(|v| v.eq_ignore_ascii_case(&value)) {
            return Err(format!(
                "{key}: {value:?} is not one of {}",
                values.join(", ")
            ));
        }
        let header_name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|e| format!("{key}: {e}"))?;
        let header_value = HeaderValue::from_str(&value)
            .map_err(|_| format!("{key}: not a valid header value"))?;
        out.push((header_name, header_value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
