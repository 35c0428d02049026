//! [`WebGuard`]: the web configuration in force, read again when its files change.
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use hyper::header::HeaderValue;
use rustls::ServerConfig;

use super::auth::AuthCache;
use super::{WebConfig, WebConfigError};
use crate::util::lock;

/// The configuration a new connection is served with.
#[derive(Debug, Clone)]
pub(crate) struct Current {
    /// The parsed file.
    pub(crate) config: Arc<WebConfig>,
    /// The TLS configuration built from it (certificate and key read), if TLS is on.
    pub(crate) tls: Option<Arc<ServerConfig>>,
}

/// What identifies a version of a file: modification time, length and (on Unix) inode, so an
/// atomic rename or a Kubernetes secret's symlink swap is seen too.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp(Option<(Option<SystemTime>, u64, u64)>);

impl Stamp {
    fn of(path: &Path) -> Self {
        Self(std::fs::metadata(path).ok().map(|m| {
            #[cfg(unix)]
            let inode = std::os::unix::fs::MetadataExt::ino(&m);
            #[cfg(not(unix))]
            let inode = 0;
            (m.modified().ok(), m.len(), inode)
        }))
    }
}

#[derive(Debug)]
struct Live {
    /// The files of the last configuration parsed (certificate, key, CA).
    files: Vec<PathBuf>,
    /// Stamps of the web config file and `files` when `current` was made.
    stamps: Vec<Stamp>,
    /// The configuration, or why the files on disk are unusable now.
    current: Result<Current, String>,
}

/// The `--web.config.file` in force. [`WebGuard::current`] looks at the file and the files it
/// names (metadata only) and reads them again when one changed: certificate rotation and
/// password changes reach the next connection without a restart, as with exporter-toolkit,
/// which reads them on every TLS handshake and request. A file that became unusable refuses
/// connections (logged) until it is fixed: the exporter never falls back to weaker settings.
/// Whether TLS is on is fixed at start.
#[derive(Debug)]
pub(crate) struct WebGuard {
    path: PathBuf,
    tls: bool,
    live: Mutex<Live>,
    auth: AuthCache,
}

impl WebGuard {
    /// Reads and checks the file (see [`WebConfig::load`]).
    ///
    /// # Errors
    /// The file or a file it names is unusable.
    pub(crate) fn load(path: &Path) -> Result<Self, WebConfigError> {
        let fail = |message: String| WebConfigError {
            file: path.display().to_string(),
            message,
        };
        // Stamps are taken before the files are read: a change while reading is seen next time.
        let file_stamp = Stamp::of(path);
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        let config = WebConfig::parse(&text, dir_of(path)).map_err(fail)?;
        let tls = config.tls.is_some();
        let files = config.files();
        let stamps = with_files(file_stamp, &files);
        let current = build(config).map_err(fail)?;
        Ok(Self {
            path: path.to_owned(),
            tls,
            live: Mutex::new(Live {
                files,
                stamps,
                current: Ok(current),
            }),
            auth: AuthCache::default(),
        })
    }

    /// Whether connections speak TLS.
    pub(crate) fn uses_tls(&self) -> bool {
        self.tls
    }

    /// The configuration for a new connection, read again first if a file changed.
    ///
    /// # Errors
    /// The files on disk are unusable now (the message names the file and key).
    pub(crate) fn current(&self) -> Result<Current, String> {
        let mut live = lock(&self.live);
        let now = stamps(&self.path, &live.files);
        if now != live.stamps {
            self.reload(&mut live, now[0].clone());
        }
        live.current.clone()
    }

    /// Reads the files again; `file_stamp`: the web config file's stamp taken before.
    fn reload(&self, live: &mut Live, file_stamp: Stamp) {
        let file = self.path.display().to_string();
        let text = std::fs::read_to_string(&self.path).map_err(|e| format!("cannot read: {e}"));
        let parsed = text.and_then(|t| WebConfig::parse(&t, dir_of(&self.path)));
        if let Ok(config) = &parsed {
            live.files = config.files();
        }
        live.stamps = with_files(file_stamp, &live.files);
        let tls = self.tls;
        live.current = parsed.and_then(|config| {
            if config.tls.is_some() != tls {
                return Err(
                    "tls_server_config: TLS cannot be turned on or off without a restart".into(),
                );
            }
            build(config)
        });
        match &live.current {
            Ok(_) => tracing::info!(file, "web config (re)loaded"),
            Err(error) => tracing::error!(
                file,
                error,
                "web config unusable: refusing new connections until it is fixed"
            ),
        }
    }

    /// Whether the request's `Authorization` header satisfies `config`'s `basic_auth_users`.
    pub(crate) async fn allows(&self, config: &WebConfig, header: Option<&HeaderValue>) -> bool {
        self.auth.allows(config, header).await
    }
}

fn stamps(path: &Path, files: &[PathBuf]) -> Vec<Stamp> {
    with_files(Stamp::of(path), files)
}

/// `file_stamp` followed by the stamps of `files` now.
fn with_files(file_stamp: Stamp, files: &[PathBuf]) -> Vec<Stamp> {
    std::iter::once(file_stamp)
        .chain(files.iter().map(|f| Stamp::of(f)))
        .collect()
}

fn dir_of(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("."))
}

fn build(config: WebConfig) -> Result<Current, String> {
    let tls = config.tls.as_ref().map(|t| t.server_config()).transpose()?;
    Ok(Current {
        config: Arc::new(config),
        tls,
    })
}
