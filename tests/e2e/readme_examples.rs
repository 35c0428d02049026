//! Every ```` ```yaml ```` block of README.md is what users copy, so each one passes the check
//! that applies to it, with the files it names generated (a CA, a certificate and its key
//! signed by it, secrets) in a temporary folder and its absolute paths pointed there:
//!
//! - a block with no marker is a whole exporter configuration: `check-config --config`;
//! - `<!-- not-exporter-config: web-config … -->` before it: a `--web.config.file`, checked by
//!   `check-config --web.config.file` (its bcrypt hash also matches the password its comment
//!   gives);
//! - `<!-- not-exporter-config: prometheus … -->`: a Prometheus configuration,
//!   `promtool check config`;
//! - `<!-- fragment: auth … -->`: alternative `auth:` lines, each completed into a cluster and
//!   checked as an exporter configuration.
//!
//! The marker is the line right before the block; an unknown one, or one followed by no
//! block, fails the test, so a new block is a whole exporter configuration unless marked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use serde_norway::Value;

use crate::common::servers::{binary, temp_dir};

const BIN: &str = env!("CARGO_BIN_EXE_cluster-link-exporter");

/// The environment variables the examples read secrets from, set for every check.
const ENV_SECRETS: [&str; 4] = ["CLE_PASSWORD", "CLOUD_API_SECRET", "KAFKA_PASSWORD", "WEST"];

/// The exporter configuration a web configuration is checked with.
const SOME_CONFIG: &str =
    "clusters:\n  - {name: dr, rest_url: 'http://127.0.0.1:1/kafka/v3', cluster_id: c1}\n";

/// The cluster an `auth` fragment line is completed into.
const AUTH_CLUSTER: &str = "clusters:\n  - name: dr\n    rest_url: https://broker-1:8090/kafka/v3\n    cluster_id: lkc-abc123\n    ";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Exporter,
    WebConfig,
    Prometheus,
    AuthLines,
}

/// One `yaml` block: the line its fence opens on (1-based), its kind and its text.
struct Block {
    line: usize,
    kind: Kind,
    text: String,
}

/// The kind a marker line gives the block after it; `None` for a line that is no marker.
fn marker_kind(line: &str) -> Option<Kind> {
    let inner = line
        .trim()
        .strip_prefix("<!--")?
        .strip_suffix("-->")?
        .trim();
    let (tag, rest) = inner.split_once(':')?;
    let what = rest.split_whitespace().next().unwrap_or("");
    let kind = match (tag.trim(), what) {
        ("not-exporter-config", "web-config") => Kind::WebConfig,
        ("not-exporter-config", "prometheus") => Kind::Prometheus,
        ("fragment", "auth") => Kind::AuthLines,
        ("not-exporter-config" | "fragment", _) => {
            panic!("README.md: unknown example marker {line:?}")
        }
        _ => return None,
    };
    Some(kind)
}

/// Every `yaml` block of `readme`, with the kind its marker (or its lack) gives it.
fn blocks(readme: &str) -> Vec<Block> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if marker_kind(line).is_some() {
            assert_eq!(
                lines.get(i + 1).copied(),
                Some("```yaml"),
                "README.md:{}: the marker {line:?} must be right before a ```yaml block",
                i + 1
            );
        }
        let fence = line.trim_start();
        if fence.starts_with("```y") {
            assert_eq!(
                line,
                "```yaml",
                "README.md:{}: YAML blocks open with ```yaml at the line start",
                i + 1
            );
            let kind = i
                .checked_sub(1)
                .and_then(|p| marker_kind(lines[p]))
                .unwrap_or(Kind::Exporter);
            let start = i;
            i += 1;
            let mut text = Vec::new();
            while i < lines.len() && lines[i] != "```" {
                text.push(lines[i]);
                i += 1;
            }
            assert!(i < lines.len(), "README.md:{}: unclosed block", start + 1);
            out.push(Block {
                line: start + 1,
                kind,
                text: text.join("\n") + "\n",
            });
        }
        i += 1;
    }
    out
}

/// A folder removed when the test ends, passed or not.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The files the examples name: one CA, one certificate (server and client) signed by it with
/// its key, and a secret for every other file.
struct Pki {
    ca: String,
    cert: String,
    key: String,
}

impl Pki {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "readme-ca");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        Self {
            ca: issuer.pem(),
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    /// What the file under `key` holds.
    fn content(&self, key: &str) -> &str {
        match key {
            "ca_file" | "client_ca_file" => &self.ca,
            "cert_file" => &self.cert,
            "key_file" => &self.key,
            _ => "a-secret\n",
        }
    }
}

/// Every absolute path in `v`, with the key it is the value of.
fn paths(v: &Value, key: &str, out: &mut BTreeMap<String, String>) {
    match v {
        Value::String(s) if s.starts_with('/') => {
            out.insert(s.clone(), key.to_owned());
        }
        Value::Mapping(m) => {
            for (k, v) in m {
                paths(v, k.as_str().unwrap_or(""), out);
            }
        }
        Value::Sequence(items) => items.iter().for_each(|v| paths(v, key, out)),
        Value::Tagged(t) => paths(&t.value, key, out),
        _ => {}
    }
}

/// `text` with every absolute path it names moved under `dir`, the files created there.
fn localize(text: &str, dir: &Path, pki: &Pki, what: &str) -> String {
    let doc: Value =
        serde_norway::from_str(text).unwrap_or_else(|e| panic!("{what}: not YAML: {e}\n{text}"));
    let mut found = BTreeMap::new();
    paths(&doc, "", &mut found);
    let mut out = text.to_owned();
    // Longest first, so that a path that prefixes another is not replaced inside it.
    let mut ordered: Vec<_> = found.into_iter().collect();
    ordered.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    for (path, key) in ordered {
        let local = dir.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(local.parent().unwrap()).unwrap();
        std::fs::write(&local, pki.content(&key)).unwrap();
        out = out.replace(&path, &local.display().to_string());
    }
    out
}

/// Runs `cmd`; panics with its output unless it succeeds.
fn must_pass(cmd: &mut Command, what: &str, file: &str) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{what} fails ({}):\n{}{}\n--- the file checked:\n{file}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
}

/// `check-config` with each flag and its file, the examples' environment variables set.
fn check_config(flags: &[(&str, &Path)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("check-config");
    for (flag, path) in flags {
        cmd.arg(flag).arg(path);
    }
    for var in ENV_SECRETS {
        cmd.env(var, "a-secret");
    }
    cmd
}

/// Checks the exporter configuration `text` (its paths already local).
fn check_exporter_config(text: &str, dir: &Path, what: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join("config.yml");
    std::fs::write(&file, text).unwrap();
    must_pass(&mut check_config(&[("--config", &file)]), what, text);
}

#[test]
fn every_readme_yaml_block_passes_its_check() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let found = blocks(&readme);
    assert_eq!(
        found.len(),
        readme.lines().filter(|l| *l == "```yaml").count(),
        "every ```yaml block extracted"
    );
    let mut kinds: BTreeMap<Kind, usize> = BTreeMap::new();
    for b in &found {
        *kinds.entry(b.kind).or_default() += 1;
    }
    // The README's blocks of each kind are still found (a marker that stopped being read
    // would otherwise turn a kind into an unchecked one).
    for kind in [Kind::WebConfig, Kind::Prometheus, Kind::AuthLines] {
        assert_eq!(kinds.get(&kind), Some(&1), "one {kind:?} block: {kinds:?}");
    }
    assert!(
        kinds.get(&Kind::Exporter).copied().unwrap_or(0) >= 5,
        "the exporter configurations: {kinds:?}"
    );

    let pki = Pki::new();
    let root = TempDir(temp_dir("readme"));
    for (n, b) in found.iter().enumerate() {
        let what = format!("README.md:{} ({:?} block)", b.line, b.kind);
        let dir = root.0.join(n.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        match b.kind {
            Kind::Exporter => {
                let text = localize(&b.text, &dir, &pki, &what);
                check_exporter_config(&text, &dir, &what);
            }
            Kind::AuthLines => {
                let lines: Vec<&str> = b.text.lines().filter(|l| !l.trim().is_empty()).collect();
                assert!(lines.len() >= 4, "{what}: the auth alternatives: {lines:?}");
                for (i, line) in lines.iter().enumerate() {
                    assert!(line.starts_with("auth: "), "{what}: {line:?}");
                    let what = format!("{what}, line {}", i + 1);
                    let dir = dir.join(i.to_string());
                    let text = localize(&format!("{AUTH_CLUSTER}{line}\n"), &dir, &pki, &what);
                    check_exporter_config(&text, &dir, &what);
                }
            }
            Kind::WebConfig => {
                let doc: Value = serde_norway::from_str(&b.text).unwrap();
                // The hash is the one the comment after it says.
                let users = doc["basic_auth_users"].as_mapping().expect(&what);
                for (user, hash) in users {
                    let line = b
                        .text
                        .lines()
                        .find(|l| l.contains(hash.as_str().unwrap()))
                        .unwrap();
                    let password = line
                        .split("# password: ")
                        .nth(1)
                        .unwrap_or_else(|| panic!("{what}: {user:?}'s password in a comment"))
                        .trim();
                    assert!(
                        bcrypt::verify(password, hash.as_str().unwrap()).unwrap(),
                        "{what}: {user:?}'s hash is not that of {password:?}"
                    );
                }
                let text = localize(&b.text, &dir, &pki, &what);
                let web = dir.join("web.yml");
                std::fs::write(&web, &text).unwrap();
                let config = dir.join("config.yml");
                std::fs::write(&config, SOME_CONFIG).unwrap();
                let mut cmd = check_config(&[("--config", &config), ("--web.config.file", &web)]);
                let out = cmd.output().unwrap();
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(
                    out.status.success() && stdout.contains("web config OK: TLS, basic auth"),
                    "{what}: check-config --web.config.file ({}): {stdout}{}\n{text}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Kind::Prometheus => {
                let text = localize(&b.text, &dir, &pki, &what);
                let file = dir.join("prometheus.yml");
                std::fs::write(&file, &text).unwrap();
                must_pass(
                    Command::new(binary("promtool", "prometheus"))
                        .args(["check", "config"])
                        .arg(&file),
                    &format!("{what}: promtool check config"),
                    &text,
                );
            }
        }
    }
}
