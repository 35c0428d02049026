//! Confluent's JSON name filters on a cluster link (`consumer.offset.group.filters`,
//! `auto.create.mirror.topics.filters`): `{"groupFilters": [{"name", "patternType",
//! "filterType"}]}`, the same shape under `topicFilters`: the exporter measures the groups a
//! link syncs. (The simulator reads the format with its own parser, in `sim/src/filters.rs`.)

/// Whether `name` is included by some INCLUDE filter and excluded by no EXCLUDE filter.
/// `name: "*"` matches everything; `patternType` is `LITERAL` (default) or `PREFIXED`.
pub fn includes(filters: Option<&str>, key: &str, name: &str) -> bool {
    let Some(list) = parse(filters, key) else {
        return false;
    };
    list.iter().any(|f| is(f, "INCLUDE") && matches(f, name))
        && !list.iter().any(|f| is(f, "EXCLUDE") && matches(f, name))
}

/// Names of LITERAL INCLUDE filters: the names that can be used without listing.
pub fn literal_includes(filters: Option<&str>, key: &str) -> Vec<String> {
    parse(filters, key)
        .unwrap_or_default()
        .iter()
        .filter(|f| is(f, "INCLUDE") && pattern_type(f) == "LITERAL")
        .filter_map(|f| f["name"].as_str())
        .filter(|n| *n != "*")
        .map(str::to_owned)
        .collect()
}

/// Whether some INCLUDE filter is a pattern (`*` or PREFIXED): its names can only be found
/// by listing.
pub fn has_patterns(filters: Option<&str>, key: &str) -> bool {
    parse(filters, key).unwrap_or_default().iter().any(|f| {
        is(f, "INCLUDE") && (pattern_type(f) == "PREFIXED" || f["name"].as_str() == Some("*"))
    })
}

fn parse(filters: Option<&str>, key: &str) -> Option<Vec<serde_json::Value>> {
    let value: serde_json::Value = serde_json::from_str(filters?).ok()?;
    value[key].as_array().cloned()
}

fn pattern_type(f: &serde_json::Value) -> String {
    f["patternType"]
        .as_str()
        .unwrap_or("LITERAL")
        .to_ascii_uppercase()
}

fn matches(f: &serde_json::Value, name: &str) -> bool {
    let pattern = f["name"].as_str().unwrap_or("");
    pattern == "*"
        || match pattern_type(f).as_str() {
            "PREFIXED" => name.starts_with(pattern),
            _ => name == pattern,
        }
}

fn is(f: &serde_json::Value, filter_type: &str) -> bool {
    f["filterType"]
        .as_str()
        .unwrap_or("INCLUDE")
        .eq_ignore_ascii_case(filter_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confluent_filters() {
        let f = r#"{"groupFilters":[{"name":"app-","patternType":"PREFIXED","filterType":"INCLUDE"},{"name":"app-secret","patternType":"LITERAL","filterType":"EXCLUDE"}]}"#;
        assert!(includes(Some(f), "groupFilters", "app-1"));
        assert!(!includes(Some(f), "groupFilters", "app-secret"));
        assert!(!includes(Some(f), "groupFilters", "other"));
        assert!(!includes(None, "groupFilters", "app-1"));
        assert!(has_patterns(Some(f), "groupFilters"));
        let all =
            r#"{"topicFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}"#;
        assert!(includes(Some(all), "topicFilters", "anything"));
        assert!(has_patterns(Some(all), "topicFilters"));
        assert_eq!(
            literal_includes(Some(all), "topicFilters"),
            Vec::<String>::new()
        );
        let lit =
            r#"{"groupFilters":[{"name":"g1","patternType":"LITERAL","filterType":"INCLUDE"}]}"#;
        assert_eq!(literal_includes(Some(lit), "groupFilters"), ["g1"]);
        assert!(!has_patterns(Some(lit), "groupFilters"));
    }
}
