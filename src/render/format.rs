//! The two exposition formats `/metrics` serves, which one a request gets (content negotiation
//! on `Accept` with q-values), the Prometheus text format 0.0.4 of the self-metrics, which
//! the prometheus-client registry only writes as OpenMetrics, and the one escape of label
//! values ([`push_label_value`]), the same in both formats.
//!
//! The per-cluster families are gauges whose metadata and samples read the same in both
//! formats; only the registry's part (counters, units) and the closing `# EOF` differ.

use std::fmt::Write as _;

/// An exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// OpenMetrics 1.0.0: counters' metadata under the family name (`# TYPE x counter`,
    /// samples `x_total`), `# UNIT` lines, ends with `# EOF`.
    OpenMetrics,
    /// Prometheus text format 0.0.4: metadata under the sample names (`# TYPE x_total
    /// counter`), no `# UNIT`, no `# EOF`.
    Text,
}

impl Format {
    /// The `Content-Type` of a body in this format.
    pub(crate) const fn content_type(self) -> &'static str {
        match self {
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Self::Text => "text/plain; version=0.0.4; charset=utf-8",
        }
    }

    /// The format to answer a request whose `Accept` header values are `accept` with.
    ///
    /// Each format's quality is the q-value (default 1) of the most specific media range
    /// that matches it — `application/openmetrics-text` (any version) for OpenMetrics;
    /// `text/plain`, then `text/*`, then `*/*` for the text format — the highest of them when
    /// the same range is listed more than once. The higher quality wins; a tie goes to
    /// OpenMetrics (richer, and what Prometheus prefers) when it was asked for at all. With
    /// no `Accept` header, or one that accepts neither (q=0 or other types), the text format,
    /// as Prometheus' own client libraries do.
    pub(crate) fn negotiate<'a>(accept: impl IntoIterator<Item = &'a str>) -> Self {
        let mut om = Quality::default();
        let mut text = Quality::default();
        for range in accept.into_iter().flat_map(|v| v.split(',')) {
            let mut params = range.split(';');
            let media = params.next().unwrap_or_default().trim();
            let Some(q) = q_value(params) else {
                continue;
            };
            // Compared without case, not lowercased: no string per range.
            let is = |m: &str| media.eq_ignore_ascii_case(m);
            if is("application/openmetrics-text") {
                om.offer(2, q);
            } else if is("text/plain") {
                text.offer(2, q);
            } else if is("text/*") {
                text.offer(1, q);
            } else if is("*/*") {
                text.offer(0, q);
            }
        }
        match (om.q(), text.q()) {
            (o, t) if o > 0 && o >= t => Self::OpenMetrics,
            _ => Self::Text,
        }
    }
}

/// The quality of a format: the q-value (in thousandths) of its most specific matching range.
#[derive(Debug, Default)]
struct Quality(Option<(u8, u16)>);

impl Quality {
    fn offer(&mut self, specificity: u8, q: u16) {
        self.0 = match self.0 {
            Some((s, old)) if s > specificity => Some((s, old)),
            Some((s, old)) if s == specificity => Some((s, old.max(q))),
            _ => Some((specificity, q)),
        };
    }

    fn q(&self) -> u16 {
        self.0.map_or(0, |(_, q)| q)
    }
}

/// The `q` parameter among a media range's `params`, in thousandths: 1000 when absent, `None`
/// when malformed (the range is then ignored, RFC 9110 §12.4.2 allows at most 3 decimals).
fn q_value<'a>(params: impl Iterator<Item = &'a str>) -> Option<u16> {
    for p in params {
        let Some((name, value)) = p.split_once('=') else {
            continue;
        };
        if !name.trim().eq_ignore_ascii_case("q") {
            continue;
        }
        let value = value.trim();
        let (int, frac) = value.split_once('.').unwrap_or((value, ""));
        if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // At most 3 digits (checked above), padded with zeros to thousandths.
        let frac_value = frac
            .bytes()
            .chain(std::iter::repeat(b'0'))
            .take(3)
            .fold(0_u16, |v, d| v * 10 + u16::from(d.saturating_sub(b'0')));
        return match int {
            "0" => Some(frac_value),
            "1" if frac_value == 0 => Some(1000),
            _ => None,
        };
    }
    Some(1000)
}

/// The OpenMetrics text of a prometheus-client registry rewritten as text format 0.0.4: a
/// counter's `# HELP`/`# TYPE` under `<name>_total`, an info family's under `<name>_info` as a
/// gauge, `unknown` as `untyped`, `stateset` as a gauge; `# UNIT` and `# EOF` dropped. Sample
/// lines are the same in both formats and pass unchanged.
pub(crate) fn openmetrics_to_text(om: &str) -> String {
    let kinds: std::collections::HashMap<&str, &str> = om
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    let mut out = String::with_capacity(om.len());
    for line in om.split_inclusive('\n') {
        let meta = line
            .strip_prefix("# HELP ")
            .map(|rest| ("HELP", rest))
            .or_else(|| line.strip_prefix("# TYPE ").map(|rest| ("TYPE", rest)));
        if let Some((keyword, rest)) = meta {
            let (name, tail) = rest.split_once(' ').unwrap_or((rest.trim_end(), "\n"));
            let kind = kinds.get(name).copied().unwrap_or("unknown").trim_end();
            let (suffix, text_kind) = match kind {
                "counter" if !name.ends_with("_total") => ("_total", "counter"),
                "info" => ("_info", "gauge"),
                "unknown" => ("", "untyped"),
                "stateset" => ("", "gauge"),
                other => ("", other),
            };
            // Written straight into `out`: no string per line.
            let _ = write!(out, "# {keyword} {name}{suffix} ");
            if keyword == "TYPE" {
                out.push_str(text_kind);
                out.push('\n');
            } else {
                out.push_str(tail);
            }
        } else if !line.starts_with("# UNIT ") && line.trim_end() != "# EOF" {
            out.push_str(line);
        }
    }
    out
}

/// Appends `value` to `out` escaped as a label value, the same in both formats: a backslash,
/// a double quote and a line feed become `\\`, `\"` and `\n`. The crate's one label-value
/// escape: the per-cluster samples (`SampleWriter`) and the filter that leaves retired
/// clusters out of the self-metrics use it; prometheus-client escapes the registry's samples
/// the same way (a test checks it), so that filter finds them.
pub(crate) fn push_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_backslash_quote_and_newline_as_the_registry_does() {
        let value = "a\\b\"c\nd\r\té€";
        let mut ours = String::new();
        push_label_value(&mut ours, value);
        assert_eq!(ours, "a\\\\b\\\"c\\nd\r\té€");

        let mut registry = prometheus_client::registry::Registry::default();
        let family = prometheus_client::metrics::family::Family::<
            Vec<(String, String)>,
            prometheus_client::metrics::gauge::Gauge,
        >::default();
        family
            .get_or_create(&vec![("kafka_cluster".to_owned(), value.to_owned())])
            .set(1);
        registry.register("x", "x", family);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(&format!("x{{kafka_cluster=\"{ours}\"}} 1\n")),
            "{text}"
        );
    }

    fn pick(accept: &str) -> Format {
        Format::negotiate([accept])
    }

    #[test]
    fn prometheus_accept_headers_get_openmetrics() {
        // Prometheus 2.x
        let p2 = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(pick(p2), Format::OpenMetrics);
        let issue = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1";
        assert_eq!(pick(issue), Format::OpenMetrics);
    }

    #[test]
    fn the_highest_q_wins() {
        let text_first =
            "application/openmetrics-text;version=1.0.0;q=0.4,text/plain;version=0.0.4;q=0.5";
        assert_eq!(pick(text_first), Format::Text);
        assert_eq!(
            pick("text/plain;q=0.9, application/openmetrics-text;q=0.899"),
            Format::Text
        );
        assert_eq!(
            pick("text/plain;q=0.5, application/openmetrics-text;q=0.501"),
            Format::OpenMetrics
        );
    }

    #[test]
    fn ties_go_to_openmetrics_and_wildcards_to_text() {
        assert_eq!(
            pick("text/plain, application/openmetrics-text"),
            Format::OpenMetrics
        );
        assert_eq!(
            pick("*/*, application/openmetrics-text;q=1.0"),
            Format::OpenMetrics
        );
        assert_eq!(pick("*/*"), Format::Text);
        assert_eq!(pick("text/*"), Format::Text);
        assert_eq!(Format::negotiate([]), Format::Text);
    }

    #[test]
    fn the_most_specific_range_sets_a_formats_quality() {
        // text/plain;q=0.1 outranks */* (q=1) for the text format.
        assert_eq!(
            pick("*/*, text/plain;q=0.1, application/openmetrics-text;q=0.2"),
            Format::OpenMetrics
        );
    }

    #[test]
    fn refused_malformed_and_unknown_ranges() {
        assert_eq!(pick("application/openmetrics-text;q=0"), Format::Text);
        assert_eq!(pick("application/openmetrics-text;q=2"), Format::Text);
        assert_eq!(pick("application/openmetrics-text;q=0.1234"), Format::Text);
        assert_eq!(pick("application/openmetrics-text;q=abc"), Format::Text);
        assert_eq!(pick("application/json"), Format::Text);
        assert_eq!(
            pick("APPLICATION/OpenMetrics-Text ; Q=0.3 , text/plain;q=0.2"),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::negotiate(["text/plain;q=0.3", "application/openmetrics-text;q=0.7"]),
            Format::OpenMetrics,
            "several Accept headers count together"
        );
    }

    #[test]
    fn q_values_parse_to_thousandths() {
        let q = |s: &str| q_value(std::iter::once(s));
        assert_eq!(q("q=0.5"), Some(500));
        assert_eq!(q("q=0.05"), Some(50));
        assert_eq!(q(" q = 1.000"), Some(1000));
        assert_eq!(q("q=1."), Some(1000));
        assert_eq!(q("q=1.001"), None);
        assert_eq!(q("version=1.0.0"), Some(1000));
        assert_eq!(q("q=-0.5"), None);
    }

    #[test]
    fn counters_get_their_metadata_under_the_sample_name() {
        let om = "# HELP clusterlink_errors Errors.\n# TYPE clusterlink_errors counter\n\
                  clusterlink_errors_total{r=\"a\"} 1\n\
                  # HELP clusterlink_cpu_seconds CPU.\n# TYPE clusterlink_cpu_seconds counter\n\
                  # UNIT clusterlink_cpu_seconds seconds\nclusterlink_cpu_seconds_total 2.5\n\
                  # HELP clusterlink_up Up.\n# TYPE clusterlink_up gauge\nclusterlink_up 1\n\
                  # HELP b Build.\n# TYPE b info\nb_info{v=\"1\"} 1\n\
                  # HELP u Unknown.\n# TYPE u unknown\nu 3\n# EOF\n";
        let expected = "# HELP clusterlink_errors_total Errors.\n# TYPE clusterlink_errors_total counter\n\
                  clusterlink_errors_total{r=\"a\"} 1\n\
                  # HELP clusterlink_cpu_seconds_total CPU.\n# TYPE clusterlink_cpu_seconds_total counter\n\
                  clusterlink_cpu_seconds_total 2.5\n\
                  # HELP clusterlink_up Up.\n# TYPE clusterlink_up gauge\nclusterlink_up 1\n\
                  # HELP b_info Build.\n# TYPE b_info gauge\nb_info{v=\"1\"} 1\n\
                  # HELP u Unknown.\n# TYPE u untyped\nu 3\n";
        assert_eq!(openmetrics_to_text(om), expected);
    }

    #[test]
    fn histograms_pass_unchanged() {
        let om = "# HELP d Duration.\n# TYPE d histogram\n# UNIT d seconds\nd_sum 1\nd_count 1\nd_bucket{le=\"+Inf\"} 1\n";
        let expected =
            "# HELP d Duration.\n# TYPE d histogram\nd_sum 1\nd_count 1\nd_bucket{le=\"+Inf\"} 1\n";
        assert_eq!(openmetrics_to_text(om), expected);
    }
}
