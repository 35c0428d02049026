//! The `status_page` section: settings of the status page (`/` and `/status.json`), today
//! where its problems link to — the runbooks (`runbook_base_url`).

use serde::Deserialize;

use super::defaults::DEFAULT_RUNBOOK_BASE_URL;
use super::{invalid, ConfigError};

/// `status_page`: the status page's settings. Optional.
///
/// ```yaml
/// status_page: {runbook_base_url: 'https://wiki.example/cluster-link-runbooks.html'}
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStatusPage {
    /// Where the status page links each problem: this URL, then `#` and the name of the
    /// alert that covers it in lower case (`…#clusterlinkdown`), the anchor of its section in
    /// a copy of `docs/runbooks.md`. An `http://` or `https://` URL without `#`. Default:
    /// [`DEFAULT_RUNBOOK_BASE_URL`] (the runbooks on GitHub). Set it where the alerts'
    /// `runbook_url` points (Helm: `prometheusRule.runbookBaseUrl` sets both). A reload
    /// applies it.
    runbook_base_url: Option<String>,
}

/// The validated `status_page` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusPageConfig {
    /// `runbook_base_url`: where problems link, before `#<alert>`.
    pub runbook_base_url: String,
}

impl Default for StatusPageConfig {
    fn default() -> Self {
        Self {
            runbook_base_url: DEFAULT_RUNBOOK_BASE_URL.to_owned(),
        }
    }
}

impl StatusPageConfig {
    /// Checks `raw`: the URL is `http(s)://…`, without `#` or whitespace.
    pub(super) fn from_raw(raw: RawStatusPage) -> Result<Self, ConfigError> {
        let Some(url) = raw.runbook_base_url else {
            return Ok(Self::default());
        };
        let key = "status_page.runbook_base_url";
        let scheme = url.starts_with("https://") || url.starts_with("http://");
        if !scheme || url.len() <= "https://".len() {
            return Err(invalid(
                key,
                format!("expected an http:// or https:// URL, got {url:?}"),
            ));
        }
        if url.contains('#') || url.chars().any(char::is_whitespace) {
            return Err(invalid(
                key,
                format!("{url:?}: no '#' (the alert's anchor is added) nor whitespace"),
            ));
        }
        Ok(Self {
            runbook_base_url: url,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    const CLUSTERS: &str = "clusters: [{name: a, rest_url: 'http://x/kafka/v3'}]\n";

    fn base(extra: &str) -> Result<String, String> {
        Config::from_yaml(&format!("{CLUSTERS}{extra}"))
            .map(|c| c.status_page.runbook_base_url)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_runbook_base_url_defaults_to_github_and_can_be_set() {
        assert_eq!(
            base(""),
            Ok(super::DEFAULT_RUNBOOK_BASE_URL.to_owned()),
            "default"
        );
        assert_eq!(
            base("status_page: {runbook_base_url: 'https://wiki.example/rb.html'}"),
            Ok("https://wiki.example/rb.html".to_owned())
        );
    }

    #[test]
    fn a_bad_runbook_base_url_is_refused_with_its_key() {
        for url in [
            "javascript:alert(1)",
            "wiki/rb",
            "https://w/rb#x",
            "https://w/a b",
        ] {
            let e = base(&format!("status_page: {{runbook_base_url: '{url}'}}")).unwrap_err();
            assert!(
                e.starts_with("config: status_page.runbook_base_url: "),
                "{url}: {e}"
            );
        }
        let e = base("status_page: {runbook_url: 'https://w'}").unwrap_err();
        assert!(e.contains("runbook_url"), "{e}");
    }
}
