//! Helpers of the deployment tests (`deploy_image`, `deploy_systemd`, `deploy_compose`): paths
//! in the repository, the validators `scripts/setup-deps.sh` installs into `.venv/`,
//! running a command and keeping its output, the release binary the container image ships,
//! and a minimal reader of the `Dockerfile`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// A path in the repository (the workspace root).
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A validator of `.venv/bin/`; panics naming the script that installs it.
pub fn venv_tool(name: &str) -> PathBuf {
    let path = repo(".venv/bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/setup-deps.sh (it installs the deployment validators)",
        path.display()
    );
    path
}

/// What a command did: exit code, stdout, stderr.
pub struct Ran {
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Ran {
    /// Everything, for failure messages.
    pub fn show(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` to completion; panics if it cannot be started.
pub fn run(cmd: &mut Command) -> Ran {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    Ran {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// A copy of `source` named `name` in `dir` with the first `from` replaced by `to`: the
/// broken input that shows a validator can fail. Panics when `source` has no `from` (the
/// check would prove nothing).
pub fn altered_copy(source: &Path, dir: &Path, name: &str, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(source)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", source.display()));
    assert!(
        text.contains(from),
        "{} no longer contains {from:?}",
        source.display()
    );
    let path = dir.join(name);
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    path
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set (relative to the workspace root, as
/// Cargo reads it), else `target/` of the workspace.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => repo("").join(dir),
        _ => repo("target"),
    }
}

/// The Cargo feature the `Dockerfile` builds the image's binary with.
pub const IMAGE_FEATURES: &str = "static-deps";

/// The release binary as the `Dockerfile` builds it by default (`--no-default-features
/// --features static-deps`: the slim exporter, zlib and libcurl compiled in), built here
/// once per test process with the same command. `scripts/test.sh` builds it before the tests,
/// so this is normally Cargo's up-to-date check; run alone, the first call compiles (minutes).
pub fn release_binary() -> PathBuf {
    static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.as_ref() {
        return path.clone();
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    // Without the variables Cargo sets for a test (some build scripts, e.g. ring's, rerun when
    // CARGO_MANIFEST_DIR changes: the build of scripts/test.sh would not be up to date here).
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let per_test = [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_BIN_",
            "CARGO_CRATE_",
        ]
        .iter()
        .any(|p| key.starts_with(p))
            || ["CARGO_TARGET_TMPDIR", "CARGO_PRIMARY_PACKAGE", "OUT_DIR"].contains(&&*key);
        if per_test {
            cmd.env_remove(&*key);
        }
    }
    let ran = run(cmd.current_dir(repo("")).args([
        "build",
        "--release",
        "--locked",
        "--no-default-features",
        "--features",
        IMAGE_FEATURES,
        "--bin",
        "cluster-link-exporter",
    ]));
    assert_eq!(ran.code, Some(0), "release build failed:\n{}", ran.show());
    let path = target_dir().join("release/cluster-link-exporter");
    assert!(path.is_file(), "{} not built", path.display());
    *built = Some(path.clone());
    path
}

/// One instruction of a Dockerfile: keyword (upper case) and its arguments (continuation
/// lines joined, comments dropped).
#[derive(Debug, Clone)]
pub struct Instruction {
    /// `FROM`, `RUN`, `USER`, …
    pub keyword: String,
    /// The rest of the instruction.
    pub args: String,
}

/// The instructions of a Dockerfile's text (enough of the grammar for ours: `\` continuation
/// lines, `#` comment lines, no heredocs).
pub fn dockerfile(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        let (part, continued) = match trimmed.strip_suffix('\\') {
            Some(part) => (part, true),
            None => (trimmed, false),
        };
        current.push_str(part.trim());
        current.push(' ');
        if !continued {
            let text = std::mem::take(&mut current);
            let (keyword, args) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
            out.push(Instruction {
                keyword: keyword.to_ascii_uppercase(),
                args: args.trim().to_owned(),
            });
        }
    }
    out
}
