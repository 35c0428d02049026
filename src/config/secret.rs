//! Secrets of the configuration: [`SecretString`] (whose `Debug` and `Display` never show the
//! value) and [`SecretSource`], how a secret is written in the file (inline, `{env: VAR}` or
//! `{file: PATH}`), resolved once at load.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{invalid, ConfigError};

/// A secret value. Its `Debug` and `Display` print `<redacted>`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret: from here on it is printed as `<redacted>`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself: only for building requests.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::fmt::Display for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where a secret comes from, as written in the file.
///
/// ```yaml
/// password: hunter2                      # inline
/// password: {env: CLE_PASSWORD}          # an environment variable
/// password: {file: /run/secrets/pass}    # a file, trailing newline trimmed
/// ```
#[derive(Clone, Deserialize)]
#[serde(untagged)]
pub enum SecretSource {
    /// The value itself.
    Inline(String),
    /// `{env: VAR}`: the value of an environment variable.
    Env {
        /// The variable's name.
        env: String,
    },
    /// `{file: /path}`: the contents of a file, without a trailing newline.
    File {
        /// The file's path.
        file: PathBuf,
    },
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Inline(_) => f.write_str("Inline(<redacted>)"),
            SecretSource::Env { env } => f.debug_struct("Env").field("env", env).finish(),
            SecretSource::File { file } => f.debug_struct("File").field("file", file).finish(),
        }
    }
}

impl SecretSource {
    /// Reads the secret now; an unset variable or unreadable file is an error naming `key`.
    pub(super) fn resolve(&self, key: &str) -> Result<SecretString, ConfigError> {
        match self {
            SecretSource::Inline(v) => Ok(SecretString::new(v.clone())),
            SecretSource::Env { env } => std::env::var(env)
                .map(SecretString::new)
                .map_err(|_| invalid(key, format!("environment variable {env} is not set"))),
            SecretSource::File { file } => read_secret_file(file)
                .map_err(|e| invalid(key, format!("cannot read {}: {e}", file.display()))),
        }
    }
}

/// Reads a secret file, trimming the trailing newline editors add.
pub fn read_secret_file(path: &Path) -> std::io::Result<SecretString> {
    let text = std::fs::read_to_string(path)?;
    Ok(SecretString::new(text.trim_end_matches(['\n', '\r'])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_print_redacted() {
        let s = SecretString::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "<redacted> <redacted>");
        assert_eq!(s.expose(), "hunter2");
        let source = SecretSource::Inline("hunter2".into());
        assert_eq!(format!("{source:?}"), "Inline(<redacted>)");
    }
}
