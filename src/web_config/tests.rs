use std::path::Path;

use super::tls::ClientAuth;
use super::*;

/// A self-signed certificate and its key, PEM.
fn self_signed() -> (String, String) {
    let c = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    (c.cert.pem(), c.signing_key.serialize_pem())
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("web-config-unit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn parse(text: &str) -> Result<WebConfig, String> {
    WebConfig::parse(text, Path::new("/etc/exporter"))
}

fn err(text: &str) -> String {
    parse(text).expect_err("must be refused")
}

#[test]
fn the_full_format_parses_and_relative_files_are_taken_from_the_files_folder() {
    let hash = bcrypt::hash("secret", 4).unwrap();
    let text = format!(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: /abs/server.key\n  \
         client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  \
         min_version: TLS13\n  max_version: TLS13\n  \
         cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305]\n  \
         prefer_server_cipher_suites: true\n  curve_preferences: [X25519, CurveP256]\n\
         basic_auth_users:\n  prometheus: {hash}\n\
         http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n    \
         Content-Security-Policy: \"default-src 'none'\"\n"
    );
    let config = parse(&text).unwrap();
    let tls = config.tls.as_ref().expect("TLS");
    assert_eq!(tls.cert_file, Path::new("/etc/exporter/server.crt"));
    assert_eq!(tls.key_file, Path::new("/abs/server.key"));
    assert_eq!(
        tls.client_ca_file.as_deref(),
        Some(Path::new("/etc/exporter/ca.crt"))
    );
    assert_eq!(tls.client_auth, ClientAuth::RequireAndVerifyClientCert);
    assert!(config.requires_auth());
    assert_eq!(config.hash_of("prometheus"), Some(hash.as_str()));
    let names: Vec<&str> = config.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["content-security-policy", "x-frame-options"]);
    let debug = format!("{config:?}");
    assert!(
        debug.contains("prometheus") && !debug.contains(&hash),
        "{debug}"
    );
}

#[test]
fn an_empty_file_or_empty_tls_section_means_plain_http_without_auth() {
    for text in ["", "# nothing\n", "tls_server_config: {}\n", "{}"] {
        let config = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert!(config.tls.is_none() && !config.requires_auth(), "{text:?}");
    }
}

#[test]
fn unknown_keys_are_named() {
    let e = err("tls_server_config:\n  cert_file: a\n  key_file: b\n  certfile: c\n");
    assert!(
        e.starts_with("tls_server_config.certfile: unknown field"),
        "{e}"
    );
    let e = err("basic_auth: {}\n");
    assert!(e.starts_with("basic_auth: unknown field"), "{e}");
    let e = err("http_server_config:\n  header: {}\n");
    assert!(
        e.starts_with("http_server_config.header: unknown field"),
        "{e}"
    );
}

#[test]
fn client_auth_type_takes_the_five_values_and_checks_the_ca() {
    let tls = |auth: &str, ca: bool| {
        let ca = if ca { "\n  client_ca_file: ca.crt" } else { "" };
        parse(&format!(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: {auth}{ca}\n"
        ))
    };
    for (name, value) in ClientAuth::ALL {
        let needs_ca = matches!(
            value,
            ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert
        );
        let config = tls(name, needs_ca).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(config.tls.unwrap().client_auth, value);
        let e = tls(name, !needs_ca).expect_err(name);
        assert!(e.starts_with("tls_server_config.client_ca_file:"), "{e}");
    }
    let e = tls("RequireClientCertPlease", false).unwrap_err();
    assert!(
        e.starts_with("tls_server_config.client_auth_type:")
            && e.contains("RequireClientCertPlease"),
        "{e}"
    );
}

#[test]
fn tls_versions_suites_and_curves_rustls_lacks_are_refused_by_name() {
    let tls = |extra: &str| {
        err(&format!(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  {extra}\n"
        ))
    };
    assert!(tls("min_version: TLS11").contains("min_version: TLS11 is not supported"));
    assert!(tls("max_version: TLS14").contains("max_version: unknown version"));
    assert!(tls("min_version: TLS13\n  max_version: TLS12").contains("min_version"));
    let e = tls("cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]");
    assert!(
        e.contains("cipher_suites: TLS_RSA_WITH_AES_128_CBC_SHA is not supported"),
        "{e}"
    );
    assert!(tls("curve_preferences: [CurveP521]").contains("curve_preferences: CurveP521"));
    assert!(err("tls_server_config:\n  key_file: b\n").contains("cert_file: required"));
    assert!(err("tls_server_config:\n  cert_file: a\n").contains("key_file: required"));
}

#[test]
fn headers_are_exporter_toolkits_and_hashes_must_be_bcrypt() {
    let e = err("http_server_config:\n  headers:\n    Server: me\n");
    assert!(
        e.starts_with("http_server_config.headers.Server: this header cannot be set"),
        "{e}"
    );
    let e = err("http_server_config:\n  headers:\n    X-Frame-Options: allow\n");
    assert!(
        e.contains("X-Frame-Options: \"allow\" is not one of deny, sameorigin"),
        "{e}"
    );
    let e = err("basic_auth_users:\n  alice: plaintext-password\n");
    assert!(
        e.starts_with("basic_auth_users.alice: not a bcrypt hash"),
        "{e}"
    );
    assert!(!e.contains("plaintext-password"), "{e}");
    assert!(err("basic_auth_users:\n  \"a:b\": x\n").contains("contains ':'"));
}

#[test]
fn load_reads_the_certificate_and_key_and_names_the_bad_one() {
    let dir = temp_dir("load");
    let (cert, key) = self_signed();
    std::fs::write(dir.join("server.crt"), &cert).unwrap();
    std::fs::write(dir.join("server.key"), &key).unwrap();
    std::fs::write(dir.join("garbage.key"), "not a key").unwrap();
    let file = dir.join("web.yml");
    std::fs::write(
        &file,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
    )
    .unwrap();
    let config = WebConfig::load(&file).unwrap();
    config.tls.unwrap().server_config().unwrap();
    std::fs::write(
        &file,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: garbage.key\n",
    )
    .unwrap();
    let e = WebConfig::load(&file).unwrap_err().to_string();
    assert!(
        e.contains("web.yml") && e.contains("tls_server_config.key_file:"),
        "{e}"
    );
    std::fs::write(
        &file,
        "tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n",
    )
    .unwrap();
    let e = WebConfig::load(&file).unwrap_err().to_string();
    assert!(
        e.contains("tls_server_config.cert_file:") && e.contains("missing.crt"),
        "{e}"
    );
    let e = WebConfig::load(&dir.join("absent.yml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("absent.yml: cannot read"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn basic_auth_checks_once_per_credentials_and_refuses_strangers() {
    let hash = bcrypt::hash("right", 4).unwrap();
    let config = parse(&format!("basic_auth_users:\n  alice: {hash}\n")).unwrap();
    let cache = auth::AuthCache::default();
    let basic = |creds: &str| {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(creds);
        HeaderValue::from_str(&format!("Basic {encoded}")).unwrap()
    };
    assert!(cache.allows(&config, Some(&basic("alice:right"))).await);
    assert_eq!(cache.len(), 1);
    assert!(cache.allows(&config, Some(&basic("alice:right"))).await);
    assert_eq!(
        cache.len(),
        1,
        "the second check is answered from the cache"
    );
    assert!(!cache.allows(&config, Some(&basic("alice:wrong"))).await);
    assert!(
        !cache.allows(&config, Some(&basic("bob:right"))).await,
        "unknown user"
    );
    assert!(
        !cache.allows(&config, Some(&basic("bob:right"))).await,
        "cached refusal"
    );
    assert!(!cache.allows(&config, None).await);
    assert!(
        cache.allows(&WebConfig::default(), None).await,
        "no users: open"
    );
}

#[test]
fn the_guard_reads_changed_files_again_and_refuses_while_they_are_broken() {
    let dir = temp_dir("guard");
    let (cert, key) = self_signed();
    std::fs::write(dir.join("server.crt"), &cert).unwrap();
    std::fs::write(dir.join("server.key"), &key).unwrap();
    let file = dir.join("web.yml");
    let tls = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
    std::fs::write(&file, tls).unwrap();
    let guard = WebGuard::load(&file).unwrap();
    assert!(guard.uses_tls());
    let first = guard.current().unwrap();
    assert!(!first.config.requires_auth());
    let hash = bcrypt::hash("pw", 4).unwrap();
    std::fs::write(&file, format!("{tls}basic_auth_users:\n  alice: {hash}\n")).unwrap();
    assert!(
        guard.current().unwrap().config.requires_auth(),
        "the new file is in force"
    );
    std::fs::write(dir.join("server.key"), "broken").unwrap();
    let e = guard.current().unwrap_err();
    assert!(e.contains("tls_server_config.key_file"), "{e}");
    std::fs::write(dir.join("server.key"), &key).unwrap();
    guard.current().expect("fixed");
    std::fs::write(&file, "basic_auth_users: {}\n").unwrap();
    let e = guard.current().unwrap_err();
    assert!(e.contains("without a restart"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_readme_example_parses() {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("### Securing /metrics")
        .nth(1)
        .expect("the README has a Securing /metrics section");
    let example = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a YAML example");
    let config = parse(example).unwrap_or_else(|e| panic!("{e}"));
    let tls = config.tls.as_ref().expect("TLS");
    assert_eq!(tls.client_auth, ClientAuth::RequireAndVerifyClientCert);
    let hash = config.hash_of("prometheus").expect("the user");
    assert!(
        bcrypt::verify("changeme", hash).unwrap(),
        "the example's password is changeme"
    );
}
