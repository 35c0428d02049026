//! A link's `consumer.offset.group.filters`, interpreted once when the snapshot is built:
//! Confluent's JSON name filters `{"groupFilters": [{"name", "patternType", "filterType"}]}`
//! as typed rules the Kafka side asks which consumer groups the link syncs. (The simulator
//! reads the format with its own parser, in `sim/src/filters.rs`.)

/// A link's group filters (`consumer.offset.group.filters`), parsed once from its JSON text
/// by [`GroupFilters::from_json`].
///
/// A name is included when some INCLUDE rule matches it and no EXCLUDE rule does. Text that
/// is not JSON, not an object, or has no `groupFilters` array gives no rules, as does a
/// config the link does not report: no group is then selected (the Kafka side measures none
/// unless `offset_sync` lists groups of its own). Items of the array are read leniently, each
/// field with its default: see [`FilterRule`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupFilters {
    /// The items of `groupFilters`, in order.
    pub rules: Vec<FilterRule>,
}

/// One item of `groupFilters`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterRule {
    /// `name`; `None` when missing or not a string (then it matches as the empty name).
    /// `*` matches every name, whatever the pattern type.
    pub name: Option<String>,
    /// `patternType` (any case); `LITERAL` when missing or not a string.
    pub pattern: PatternType,
    /// `filterType` (any case); `INCLUDE` when missing or not a string.
    pub filter: FilterType,
}

/// How a rule's name matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternType {
    /// `LITERAL`: the name itself.
    Literal,
    /// `PREFIXED`: every name that starts with it.
    Prefixed,
    /// Any other text: matches the name itself, but is not a LITERAL rule (its name is not
    /// used without listing the groups).
    Other,
}

/// What a rule does with the names it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterType {
    /// `INCLUDE`.
    Include,
    /// `EXCLUDE`: wins over any INCLUDE.
    Exclude,
    /// Any other text: the rule neither includes nor excludes.
    Other,
}

impl GroupFilters {
    /// Parses the config's JSON text; see [`GroupFilters`] for text that does not parse.
    pub(crate) fn from_json(text: &str) -> Self {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
            return Self::default();
        };
        let Some(items) = value["groupFilters"].as_array() else {
            return Self::default();
        };
        Self {
            rules: items.iter().map(FilterRule::from_json).collect(),
        }
    }

    /// Whether `name` is included by some INCLUDE rule and excluded by no EXCLUDE rule.
    pub(crate) fn includes(&self, name: &str) -> bool {
        let any = |filter: FilterType| {
            self.rules
                .iter()
                .any(|r| r.filter == filter && r.matches(name))
        };
        any(FilterType::Include) && !any(FilterType::Exclude)
    }

    /// Names of LITERAL INCLUDE rules (except `*`): the names that can be used without
    /// listing.
    pub(crate) fn literal_includes(&self) -> impl Iterator<Item = &str> {
        self.rules
            .iter()
            .filter(|r| r.filter == FilterType::Include && r.pattern == PatternType::Literal)
            .filter_map(|r| r.name.as_deref())
            .filter(|n| *n != "*")
    }

    /// Whether some INCLUDE rule is a pattern (`*` or PREFIXED): its names can only be found
    /// by listing.
    pub(crate) fn has_patterns(&self) -> bool {
        self.rules.iter().any(|r| {
            r.filter == FilterType::Include
                && (r.pattern == PatternType::Prefixed || r.name.as_deref() == Some("*"))
        })
    }
}

impl FilterRule {
    fn from_json(item: &serde_json::Value) -> Self {
        let pattern = match item["patternType"].as_str() {
            None => PatternType::Literal,
            Some(p) if p.eq_ignore_ascii_case("LITERAL") => PatternType::Literal,
            Some(p) if p.eq_ignore_ascii_case("PREFIXED") => PatternType::Prefixed,
            Some(_) => PatternType::Other,
        };
        let filter = match item["filterType"].as_str() {
            None => FilterType::Include,
            Some(f) if f.eq_ignore_ascii_case("INCLUDE") => FilterType::Include,
            Some(f) if f.eq_ignore_ascii_case("EXCLUDE") => FilterType::Exclude,
            Some(_) => FilterType::Other,
        };
        Self {
            name: item["name"].as_str().map(str::to_owned),
            pattern,
            filter,
        }
    }

    fn matches(&self, name: &str) -> bool {
        let pattern = self.name.as_deref().unwrap_or("");
        pattern == "*"
            || match self.pattern {
                PatternType::Prefixed => name.starts_with(pattern),
                PatternType::Literal | PatternType::Other => name == pattern,
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal_includes(f: &GroupFilters) -> Vec<&str> {
        f.literal_includes().collect()
    }

    #[test]
    fn confluent_filters() {
        let f = GroupFilters::from_json(
            r#"{"groupFilters":[{"name":"app-","patternType":"PREFIXED","filterType":"INCLUDE"},{"name":"app-secret","patternType":"LITERAL","filterType":"EXCLUDE"}]}"#,
        );
        assert!(f.includes("app-1"));
        assert!(!f.includes("app-secret"));
        assert!(!f.includes("other"));
        assert!(!GroupFilters::default().includes("app-1"));
        assert!(f.has_patterns());
        let all = GroupFilters::from_json(
            r#"{"groupFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}"#,
        );
        assert!(all.includes("anything"));
        assert!(all.has_patterns());
        assert_eq!(literal_includes(&all), Vec::<&str>::new());
        let lit = GroupFilters::from_json(
            r#"{"groupFilters":[{"name":"g1","patternType":"LITERAL","filterType":"INCLUDE"}]}"#,
        );
        assert_eq!(literal_includes(&lit), ["g1"]);
        assert!(!lit.has_patterns());
    }

    /// Text that does not parse, or another key, gives no rules: nothing is selected.
    #[test]
    fn unparsable_text_selects_nothing() {
        for text in [
            "",
            "not json",
            "[]",
            "{}",
            r#"{"groupFilters":{"name":"*"}}"#,
            r#"{"topicFilters":[{"name":"*","patternType":"LITERAL","filterType":"INCLUDE"}]}"#,
        ] {
            let f = GroupFilters::from_json(text);
            assert_eq!(f, GroupFilters::default(), "{text}");
            assert!(!f.includes("g1") && !f.includes("") && !f.has_patterns());
            assert_eq!(literal_includes(&f), Vec::<&str>::new());
        }
    }

    /// Missing or non-string fields take their defaults (LITERAL, INCLUDE, the empty name);
    /// types match in any case; unknown types neither include nor count as LITERAL.
    #[test]
    fn lenient_items() {
        let f = GroupFilters::from_json(
            r#"{"groupFilters":[{"name":"g1"},{"name":"p-","patternType":"prefixed","filterType":"include"},
                {"name":"p-x","filterType":"Exclude"},{"name":"g2","patternType":"MATCH"},
                {"name":"g3","filterType":"DENY"},{"patternType":5},7,{"name":3}]}"#,
        );
        assert_eq!(literal_includes(&f), ["g1"]);
        assert!(f.has_patterns());
        assert!(f.includes("g1") && f.includes("p-1") && f.includes("g2") && f.includes(""));
        assert!(!f.includes("p-x") && !f.includes("g3") && !f.includes("3"));
        assert_eq!(
            f.rules[3],
            FilterRule {
                name: Some("g2".into()),
                pattern: PatternType::Other,
                filter: FilterType::Include,
            }
        );
        assert_eq!(
            f.rules[6],
            FilterRule {
                name: None,
                pattern: PatternType::Literal,
                filter: FilterType::Include,
            }
        );
        // A missing name is the empty name: PREFIXED, it matches every name.
        let any = GroupFilters::from_json(r#"{"groupFilters":[{"patternType":"PREFIXED"}]}"#);
        assert!(any.includes("whatever") && any.has_patterns());
        assert_eq!(literal_includes(&any), Vec::<&str>::new());
    }
}
