//! Confluent's JSON name filters on a cluster link, as the simulated destination applies them:
//! `auto.create.mirror.topics.filters` is `{"topicFilters": [FILTER, ...]}` and
//! `consumer.offset.group.filters` is `{"groupFilters": [FILTER, ...]}`, where FILTER is
//! `{"name": "...", "patternType": "LITERAL" | "PREFIXED", "filterType": "INCLUDE" | "EXCLUDE"}`
//! (`patternType` defaults to `LITERAL`, `filterType` to `INCLUDE`, both case-insensitive;
//! `name: "*"` matches every name).
//!
//! The simulator's own reading of the format, deliberately independent of the exporter's
//! parser, so a misreading in one is caught by the tests of the other.

use serde::Deserialize;

/// One entry of a filter list. Unknown fields are ignored, as Confluent ignores them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default)]
    name: String,
    #[serde(default)]
    pattern_type: Option<String>,
    #[serde(default)]
    filter_type: Option<String>,
}

impl Filter {
    fn is_include(&self) -> bool {
        self.filter_type
            .as_deref()
            .is_none_or(|t| t.eq_ignore_ascii_case("INCLUDE"))
    }

    fn is_exclude(&self) -> bool {
        self.filter_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("EXCLUDE"))
    }

    fn is_prefixed(&self) -> bool {
        self.pattern_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("PREFIXED"))
    }

    fn matches(&self, name: &str) -> bool {
        self.name == "*"
            || if self.is_prefixed() {
                name.starts_with(&self.name)
            } else {
                name == self.name
            }
    }
}

/// The filter list under `list` (`"topicFilters"` or `"groupFilters"`) of a filters config
/// value; empty when the value is absent, not JSON, or has no such list of filter objects.
fn parse(filters: Option<&str>, list: &str) -> Vec<Filter> {
    let Some(text) = filters else {
        return Vec::new();
    };
    let Ok(mut doc) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
    else {
        return Vec::new();
    };
    doc.remove(list)
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

/// Whether `name` is included by some INCLUDE filter of `list` and excluded by no EXCLUDE one.
pub(crate) fn includes(filters: Option<&str>, list: &str, name: &str) -> bool {
    let filters = parse(filters, list);
    filters.iter().any(|f| f.is_include() && f.matches(name))
        && !filters.iter().any(|f| f.is_exclude() && f.matches(name))
}

/// Names of the LITERAL INCLUDE filters of `list` other than `*`: names that are in scope
/// without being listed anywhere (a group that has never committed, for example).
pub(crate) fn literal_includes(filters: Option<&str>, list: &str) -> Vec<String> {
    parse(filters, list)
        .into_iter()
        .filter(|f| f.is_include() && !f.is_prefixed() && f.name != "*")
        .map(|f| f.name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUPS: &str = r#"{"groupFilters":[
        {"name":"app-","patternType":"PREFIXED","filterType":"INCLUDE"},
        {"name":"app-secret","patternType":"LITERAL","filterType":"EXCLUDE"},
        {"name":"billing"}]}"#;

    #[test]
    fn include_prefix_exclude_literal_and_defaults() {
        assert!(includes(Some(GROUPS), "groupFilters", "app-1"));
        assert!(!includes(Some(GROUPS), "groupFilters", "app-secret"));
        assert!(includes(Some(GROUPS), "groupFilters", "billing"));
        assert!(!includes(Some(GROUPS), "groupFilters", "billing-2"));
        assert!(!includes(Some(GROUPS), "groupFilters", "other"));
        assert!(!includes(Some(GROUPS), "topicFilters", "app-1"));
        assert_eq!(literal_includes(Some(GROUPS), "groupFilters"), ["billing"]);
    }

    #[test]
    fn star_matches_everything_and_is_not_a_literal_name() {
        let all = r#"{"topicFilters":[{"name":"*","patternType":"literal","filterType":"include"},
            {"name":"tmp.","patternType":"prefixed","filterType":"exclude"}]}"#;
        assert!(includes(Some(all), "topicFilters", "anything"));
        assert!(!includes(Some(all), "topicFilters", "tmp.x"));
        assert!(literal_includes(Some(all), "topicFilters").is_empty());
    }

    #[test]
    fn absent_or_malformed_filters_include_nothing() {
        for bad in [
            None,
            Some(""),
            Some("not json"),
            Some("[]"),
            Some(r#"{"groupFilters":"app-"}"#),
            Some(r#"{"groupFilters":[{"name":7}]}"#),
        ] {
            assert!(!includes(bad, "groupFilters", "app-"), "{bad:?}");
            assert!(literal_includes(bad, "groupFilters").is_empty(), "{bad:?}");
        }
    }
}
