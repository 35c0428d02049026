//! Series identities of an exposition (name and labels, no value), to compare what an exporter
//! serves at two moments and name the series that appeared or disappeared.

use std::collections::BTreeSet;

use super::scrape::parse_sample;

/// The identities of the samples of an exposition text, as `name{a="x",b="y"}` with labels
/// sorted by name. Histogram buckets and `_created` samples are left out (a histogram is
/// identified by its `_count`). Panics on a sample line that cannot be parsed.
pub fn series(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| parse_sample(l).unwrap_or_else(|| panic!("unparsable sample: {l}")))
        .filter(|s| !s.name.ends_with("_bucket") && !s.name.ends_with("_created"))
        .map(|s| {
            let mut labels = s.labels.clone();
            labels.sort();
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            format!("{}{{{}}}", s.name, labels.join(","))
        })
        .collect()
}

/// The metric name of a series identity from [`series`].
pub fn name_of(id: &str) -> &str {
    id.split('{').next().unwrap_or(id)
}

/// What differs between two sets of identities, ignoring the metric names in `ignore`:
/// (in `now` but not in `baseline`, in `baseline` but not in `now`).
pub fn difference(
    baseline: &BTreeSet<String>,
    now: &BTreeSet<String>,
    ignore: &[&str],
) -> (Vec<String>, Vec<String>) {
    let kept = |id: &&String| !ignore.contains(&name_of(id));
    (
        now.difference(baseline).filter(kept).cloned().collect(),
        baseline.difference(now).filter(kept).cloned().collect(),
    )
}

/// The identities with a label value containing `marker`.
pub fn mentioning(ids: &BTreeSet<String>, marker: &str) -> Vec<String> {
    ids.iter()
        .filter(|id| id.split_once('{').is_some_and(|(_, l)| l.contains(marker)))
        .cloned()
        .collect()
}
