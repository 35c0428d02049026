//! `basic_auth_users`: checking the `Authorization` header, with verified credentials cached.
//!
//! bcrypt is slow by design (tens of milliseconds at cost 10), and Prometheus sends the same
//! credentials with every scrape; so, as exporter-toolkit does, the outcome of each check is
//! cached, keyed by a SHA-256 of user, hash and password (no password is kept in memory).
//! Because the key contains the configured hash, a changed password misses the cache.
use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use hyper::header::HeaderValue;

use super::WebConfig;
use crate::util::lock;

/// Most cached outcomes; the cache is emptied when full.
const CACHE_LIMIT: usize = 1024;

/// Outcomes of bcrypt checks: key → allowed.
#[derive(Debug, Default)]
pub(super) struct AuthCache {
    outcomes: Mutex<HashMap<[u8; 32], bool>>,
}

/// `(user, password)` from a `Basic` authorization header.
fn credentials(header: &HeaderValue) -> Option<(String, String)> {
    let value = header.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn cache_key(user: &str, hash: &str, password: &str) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [user, hash, password] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part.as_bytes());
    }
    let mut key = [0; 32];
    key.copy_from_slice(ctx.finish().as_ref());
    key
}

impl AuthCache {
    /// Whether `header` carries the credentials of a user of `config` (always true when
    /// `config` has no users). A bcrypt check runs on tokio's blocking pool.
    pub(super) async fn allows(&self, config: &WebConfig, header: Option<&HeaderValue>) -> bool {
        if !config.requires_auth() {
            return true;
        }
        let Some((user, password)) = header.and_then(credentials) else {
            return false;
        };
        let (hash, known) = match config.hash_of(&user) {
            Some(hash) => (hash, true),
            None => (config.any_hash().unwrap_or_default(), false),
        };
        let key = cache_key(&user, hash, &password);
        if let Some(allowed) = self.lookup(&key) {
            return allowed && known;
        }
        let stored = hash.to_owned();
        let verified = tokio::task::spawn_blocking(move || {
            bcrypt::verify(password.as_bytes(), &stored).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        let allowed = verified && known;
        self.store(key, allowed);
        allowed
    }

    fn lookup(&self, key: &[u8; 32]) -> Option<bool> {
        let outcomes = lock(&self.outcomes);
        outcomes.get(key).copied()
    }

    fn store(&self, key: [u8; 32], allowed: bool) {
        let mut outcomes = lock(&self.outcomes);
        if outcomes.len() >= CACHE_LIMIT {
            outcomes.clear();
        }
        outcomes.insert(key, allowed);
    }

    /// Cached outcomes (for tests).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        lock(&self.outcomes).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_read_from_a_basic_header_only() {
        let header = |s: &str| HeaderValue::from_str(s).unwrap();
        // "user:pa:ss" — the password may contain ':'.
        let encoded = base64::engine::general_purpose::STANDARD.encode("user:pa:ss");
        assert_eq!(
            credentials(&header(&format!("Basic {encoded}"))),
            Some(("user".into(), "pa:ss".into()))
        );
        assert_eq!(
            credentials(&header(&format!("basic {encoded}"))).map(|c| c.0),
            Some("user".into())
        );
        assert_eq!(credentials(&header(&format!("Bearer {encoded}"))), None);
        assert_eq!(credentials(&header("Basic !!!")), None);
        let no_colon = base64::engine::general_purpose::STANDARD.encode("user");
        assert_eq!(credentials(&header(&format!("Basic {no_colon}"))), None);
    }

    #[test]
    fn cache_keys_separate_their_parts() {
        assert_ne!(cache_key("ab", "c", "d"), cache_key("a", "bc", "d"));
        assert_eq!(cache_key("a", "b", "c"), cache_key("a", "b", "c"));
    }
}
