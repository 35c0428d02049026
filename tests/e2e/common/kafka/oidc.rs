//! A tiny OIDC issuer on 127.0.0.1 for the brokers' OAUTHBEARER listener: `POST /token`
//! (OAuth client credentials, the client authenticated with HTTP basic auth as librdkafka's
//! `sasl.oauthbearer.method=oidc` sends it, or with `client_id`/`client_secret` in the form)
//! answers `{"access_token": <JWT>, "token_type": "bearer", "expires_in": N}`; `GET /jwks` serves
//! the public key the brokers verify the JWTs with (ES256, signed with *ring*).
//!
//! Claims: `sub` (the client id: the broker's principal is `User:<client id>`), `iss`, `aud`,
//! `iat`, `exp`, `scope` (the form's `scope`, else `kafka`).
//!
//! Clients ([`clients`]): every user of [`super::USERS`] with its password as the secret, and
//! - [`EXPIRED_CLIENT`]: its token expired 5 minutes before it was issued (librdkafka refuses
//!   to use it: "Must supply an unexpired token"; the broker never sees it);
//! - [`UNKNOWN_KEY_CLIENT`]: its token is signed by a key the JWKS does not hold (its own
//!   `kid`): librdkafka sends it, the broker refuses it;
//! - [`SHORT_LIVED_CLIENT`]: its tokens live [`SHORT_TOKEN_LIFETIME`] (10 s), not an hour.
//!
//! An unknown client or a wrong secret gets HTTP 401 `{"error":"invalid_client"}`.
//!
//! One issuer per test binary ([`issuer`]), started on first use and serving until the process
//! ends (the brokers started from it keep fetching its JWKS).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

use super::User;

/// Lifetime of the tokens issued (`expires_in`, `exp - iat`).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// The audience the tokens name and the brokers expect.
pub const AUDIENCE: &str = "kafka";
/// Gets a token that expired before it was issued.
pub const EXPIRED_CLIENT: User = User {
    name: "expired-client",
    password: "expired-client-secret",
};
/// Gets a token signed by a key not in the JWKS.
pub const UNKNOWN_KEY_CLIENT: User = User {
    name: "unknown-key-client",
    password: "unknown-key-client-secret",
};
/// Gets tokens that live [`SHORT_TOKEN_LIFETIME`] only: librdkafka must refresh them while
/// its connections stay up (the re-authentication tests, `kafka_reauth`).
pub const SHORT_LIVED_CLIENT: User = User {
    name: "short-lived-client",
    password: "short-lived-client-secret",
};
/// Lifetime of [`SHORT_LIVED_CLIENT`]'s tokens (`expires_in`, `exp - iat`).
pub const SHORT_TOKEN_LIFETIME: Duration = Duration::from_secs(10);

/// The clients the issuer knows: the users, then the two special ones.
pub fn clients() -> Vec<User> {
    let mut clients = super::USERS.to_vec();
    clients.extend([EXPIRED_CLIENT, UNKNOWN_KEY_CLIENT, SHORT_LIVED_CLIENT]);
    clients
}

const KID: &str = "test-key-1";
const UNKNOWN_KID: &str = "not-in-jwks";

/// The running issuer.
pub struct OidcIssuer {
    /// `http://127.0.0.1:<port>`: also the `iss` claim the brokers expect.
    pub url: String,
    /// `<url>/token` (librdkafka's `sasl.oauthbearer.token.endpoint.url`).
    pub token_url: String,
    /// `<url>/jwks` (the brokers' `sasl.oauthbearer.jwks.endpoint.url`).
    pub jwks_url: String,
    state: &'static State,
}

struct State {
    issuer: String,
    key: EcdsaKeyPair,
    unknown_key: EcdsaKeyPair,
    rng: SystemRandom,
    jwks: String,
    secrets: HashMap<&'static str, &'static str>,
    issued: Mutex<HashMap<String, u64>>,
}

/// The issuer of this test binary, started on first use.
pub fn issuer() -> &'static OidcIssuer {
    static ISSUER: OnceLock<OidcIssuer> = OnceLock::new();
    ISSUER.get_or_init(OidcIssuer::start)
}

fn new_key(rng: &SystemRandom) -> EcdsaKeyPair {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, rng).expect("key");
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), rng).expect("key")
}

impl OidcIssuer {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the OIDC issuer");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let rng = SystemRandom::new();
        let key = new_key(&rng);
        // The public point, uncompressed: 0x04 || x || y.
        let point = key.public_key().as_ref();
        let jwks = serde_json::json!({"keys": [{
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": KID,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        }]})
        .to_string();
        let state: &'static State = Box::leak(Box::new(State {
            issuer: url.clone(),
            unknown_key: new_key(&rng),
            key,
            rng,
            jwks,
            secrets: clients().iter().map(|c| (c.name, c.password)).collect(),
            issued: Mutex::new(HashMap::new()),
        }));
        std::thread::Builder::new()
            .name("oidc-issuer".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    std::thread::spawn(move || {
                        let _ = state.serve(stream);
                    });
                }
            })
            .expect("spawn the OIDC issuer");
        Self {
            token_url: format!("{url}/token"),
            jwks_url: format!("{url}/jwks"),
            url,
            state,
        }
    }

    /// How many tokens `client_id` has been issued so far.
    pub fn tokens_issued(&self, client_id: &str) -> u64 {
        let issued = self.state.issued.lock().unwrap();
        issued.get(client_id).copied().unwrap_or(0)
    }

    /// A token for `client_id` as `POST /token` would issue it (counted too), without HTTP.
    pub fn token(&self, client_id: &str, scope: &str) -> String {
        self.state.token(client_id, scope)
    }
}

/// `application/x-www-form-urlencoded` decoding of one value.
fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl State {
    fn token(&self, client_id: &str, scope: &str) -> String {
        let now = unix_now();
        let (iat, exp) = if client_id == EXPIRED_CLIENT.name {
            (now - 600, now - 300)
        } else if client_id == SHORT_LIVED_CLIENT.name {
            (now, now + SHORT_TOKEN_LIFETIME.as_secs())
        } else {
            (now, now + TOKEN_LIFETIME.as_secs())
        };
        let (key, kid) = if client_id == UNKNOWN_KEY_CLIENT.name {
            (&self.unknown_key, UNKNOWN_KID)
        } else {
            (&self.key, KID)
        };
        let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": kid});
        let claims = serde_json::json!({
            "sub": client_id, "iss": self.issuer, "aud": AUDIENCE,
            "iat": iat, "exp": exp, "scope": scope,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        // FIXED signing: r || s, 64 bytes, as JWS ES256 wants.
        let signature = key
            .sign(&self.rng, signing_input.as_bytes())
            .expect("sign the JWT");
        *self
            .issued
            .lock()
            .unwrap()
            .entry(client_id.to_owned())
            .or_default() += 1;
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        )
    }

    /// The client id if the request authenticates a known client with its secret.
    fn authenticate(
        &self,
        authorization: Option<&str>,
        form: &HashMap<String, String>,
    ) -> Option<String> {
        let (id, secret) = match authorization.and_then(|a| {
            a.strip_prefix("Basic ")
                .or_else(|| a.strip_prefix("basic "))
        }) {
            Some(basic) => {
                let decoded = String::from_utf8(STANDARD.decode(basic.trim()).ok()?).ok()?;
                let (id, secret) = decoded.split_once(':')?;
                (form_decode(id), form_decode(secret))
            }
            None => (
                form.get("client_id")?.clone(),
                form.get("client_secret")?.clone(),
            ),
        };
        (self.secrets.get(id.as_str()) == Some(&secret.as_str())).then_some(id)
    }

    fn serve(&self, stream: TcpStream) -> std::io::Result<()> {
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut request_line = String::new();
        reader.read_line(&mut request_line)?;
        let mut headers = HashMap::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
            }
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length.min(1 << 20)];
        reader.read_exact(&mut body)?;
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let path = path.split('?').next().unwrap_or("");
        let (status, body) = match (method, path) {
            ("GET", "/jwks") => ("200 OK", self.jwks.clone()),
            ("POST", "/token") => {
                let form: HashMap<String, String> = String::from_utf8_lossy(&body)
                    .split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (form_decode(k), form_decode(v)))
                    .collect();
                match self.authenticate(headers.get("authorization").map(String::as_str), &form) {
                    _ if form.get("grant_type").map(String::as_str)
                        != Some("client_credentials") =>
                    {
                        (
                            "400 Bad Request",
                            r#"{"error":"unsupported_grant_type"}"#.to_owned(),
                        )
                    }
                    None => (
                        "401 Unauthorized",
                        r#"{"error":"invalid_client"}"#.to_owned(),
                    ),
                    Some(client) => {
                        let scope = form.get("scope").cloned().unwrap_or_else(|| "kafka".into());
                        let token = self.token(&client, &scope);
                        let lifetime = if client == SHORT_LIVED_CLIENT.name {
                            SHORT_TOKEN_LIFETIME
                        } else {
                            TOKEN_LIFETIME
                        };
                        let body = serde_json::json!({
                            "access_token": token, "token_type": "bearer",
                            "expires_in": lifetime.as_secs(), "scope": scope,
                        });
                        ("200 OK", body.to_string())
                    }
                }
            }
            _ => ("404 Not Found", r#"{"error":"not_found"}"#.to_owned()),
        };
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        stream.flush()
    }
}
