//! Every default value and range of the configuration, in one place.
//!
//! Validation ([`Config::try_from`](super::Config)), the code-built configurations
//! ([`ClusterConfig::platform`](super::ClusterConfig::platform), [`KafkaConfig::new`](super::KafkaConfig::new),
//! …), the `///` docs of the YAML keys and the README's configuration reference all state these
//! values; the README is checked against them by a unit test here.

use std::time::Duration;

/// `request_timeout` (REST, and every `kafka` section that does not set its own): 10 s.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// `poll_interval`, the time between the starts of two collection cycles: 30 s.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(30);
/// `partition_metrics`: per-partition series are exported.
pub const DEFAULT_PARTITION_METRICS: bool = true;
/// `max_concurrent_requests`: 4 per-link REST requests in flight in one cycle.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 4;
/// Smallest `max_concurrent_requests`.
pub const MIN_CONCURRENT_REQUESTS: usize = 1;
/// Largest `max_concurrent_requests`.
pub const MAX_CONCURRENT_REQUESTS: usize = 64;
/// `link_configs_every`: link configs are read every 10 cycles (at least 1).
pub const DEFAULT_LINK_CONFIGS_EVERY: u32 = 10;
/// Default of `max_response_bytes`: 64 MiB, about ten times the mirror-topic list of a
/// destination with 5,000 mirror topics of 10 partitions each (~6 MB).
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 << 20;
/// Smallest `max_response_bytes`: 1 KiB.
pub const MIN_RESPONSE_BYTES: u64 = 1024;
/// Largest `max_response_bytes`: 4 GiB (a body is held in memory while it is parsed).
pub const MAX_RESPONSE_BYTES: u64 = 4 << 30;

/// `status_page.runbook_base_url`: the runbooks on GitHub, where every shipped alert's
/// `runbook_url` points.
pub const DEFAULT_RUNBOOK_BASE_URL: &str =
    "https://github.com/cluster-link-exporter/cluster-link-exporter/blob/main/docs/runbooks.md";

/// `lag_seconds.enabled`: lag in seconds is measured (when both connections are configured).
pub const DEFAULT_LAG_SECONDS_ENABLED: bool = true;
/// `lag_seconds.max_reads_per_cycle`: 500 source records read per cycle (at least 1).
pub const DEFAULT_MAX_READS_PER_CYCLE: usize = 500;
/// `lag_seconds.read_timeout`: a cycle waits 5 s for the records it reads.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// `offset_sync.enabled`: consumer offset-sync lag is measured.
pub const DEFAULT_OFFSET_SYNC_ENABLED: bool = true;
/// `offset_sync.max_groups`: at most 50 groups per link (at least 1).
pub const DEFAULT_MAX_GROUPS: usize = 50;

/// `old_source_writes.enabled`: writes to the old source after a fail-over are watched.
pub const DEFAULT_OLD_SOURCE_WRITES_ENABLED: bool = true;
/// `old_source_writes.window`: a stopped mirror topic's source is watched for 1 hour.
pub const DEFAULT_OLD_SOURCE_WRITES_WINDOW: Duration = Duration::from_secs(3600);
/// `source_topics.enabled`: the source topics' partition counts and retention are read.
pub const DEFAULT_SOURCE_TOPICS_ENABLED: bool = true;
/// `source_topics.refresh_interval`: the source topics' facts are read again every 5 minutes.
pub const DEFAULT_SOURCE_TOPICS_REFRESH_INTERVAL: Duration = Duration::from_secs(300);
/// `failover_readiness.rpo`: a link whose lag in seconds is above 300 s is not ready to fail
/// over (as `clusterlink:threshold:rpo_seconds` in `alerts/thresholds.rules.yml`).
pub const DEFAULT_RPO: Duration = Duration::from_secs(300);

/// `probes[].interval`: a round of probe records every 5 s.
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_secs(5);
/// `probes[].sla`: a probe record not received within 30 s counts as lost.
pub const DEFAULT_PROBE_SLA: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    const README: &str = include_str!("../../README.md");

    /// `30s`, `500ms`: how the README writes a duration.
    fn text(d: Duration) -> String {
        if d.subsec_millis() != 0 {
            format!("{}ms", d.as_millis())
        } else {
            format!("{}s", d.as_secs())
        }
    }

    /// The comments of the README example lines `key: value  # …` (each with the comment-only
    /// lines that continue it).
    fn comments(key_value: &str) -> Vec<String> {
        let lines: Vec<&str> = README.lines().collect();
        let mut out = Vec::new();
        for (at, line) in lines.iter().enumerate() {
            let Some((code, comment)) = line.split_once('#') else {
                continue;
            };
            if code.trim_start().trim_start_matches("- ").trim_end() != key_value {
                continue;
            }
            let mut comment = comment.to_owned();
            for more in &lines[at + 1..] {
                match more.trim_start().strip_prefix('#') {
                    Some(text) if more.starts_with("   ") => comment.push_str(text),
                    _ => break,
                }
            }
            out.push(comment);
        }
        out
    }

    #[test]
    fn readme_configuration_reference_states_these_defaults() {
        let mib = DEFAULT_MAX_RESPONSE_BYTES >> 20;
        let gib = MAX_RESPONSE_BYTES >> 30;
        let checks = [
            (format!("poll_interval: {}", text(DEFAULT_POLL_INTERVAL)), format!("default {}", text(DEFAULT_POLL_INTERVAL))),
            (format!("request_timeout: {}", text(DEFAULT_REQUEST_TIMEOUT)), format!("default {}", text(DEFAULT_REQUEST_TIMEOUT))),
            (format!("partition_metrics: {DEFAULT_PARTITION_METRICS}"), format!("default {DEFAULT_PARTITION_METRICS}")),
            (
                format!("max_concurrent_requests: {DEFAULT_MAX_CONCURRENT_REQUESTS}"),
                format!("{MIN_CONCURRENT_REQUESTS} to {MAX_CONCURRENT_REQUESTS}, default {DEFAULT_MAX_CONCURRENT_REQUESTS}"),
            ),
            (format!("link_configs_every: {DEFAULT_LINK_CONFIGS_EVERY}"), format!(">= 1, default {DEFAULT_LINK_CONFIGS_EVERY}")),
            (
                format!("max_response_bytes: {DEFAULT_MAX_RESPONSE_BYTES}"),
                format!("default {mib} MiB, {MIN_RESPONSE_BYTES} to {gib} GiB"),
            ),
            (format!("enabled: {DEFAULT_LAG_SECONDS_ENABLED}"), format!("default {DEFAULT_LAG_SECONDS_ENABLED} (needs kafka")),
            (format!("max_reads_per_cycle: {DEFAULT_MAX_READS_PER_CYCLE}"), format!(">= 1, default {DEFAULT_MAX_READS_PER_CYCLE}")),
            (format!("read_timeout: {}", text(DEFAULT_READ_TIMEOUT)), format!("default {}", text(DEFAULT_READ_TIMEOUT))),
            (format!("enabled: {DEFAULT_OFFSET_SYNC_ENABLED}"), format!("default {DEFAULT_OFFSET_SYNC_ENABLED}, for links with consumer.offset.sync.enable")),
            (format!("max_groups: {DEFAULT_MAX_GROUPS}"), format!(">= 1, default {DEFAULT_MAX_GROUPS}")),
            (format!("enabled: {DEFAULT_OLD_SOURCE_WRITES_ENABLED}"), format!("default {DEFAULT_OLD_SOURCE_WRITES_ENABLED} (needs kafka + the link's source); writes to the old source")),
            (format!("window: {}", text(DEFAULT_OLD_SOURCE_WRITES_WINDOW)), format!("default {}", text(DEFAULT_OLD_SOURCE_WRITES_WINDOW))),
            (format!("enabled: {DEFAULT_SOURCE_TOPICS_ENABLED}"), format!("default {DEFAULT_SOURCE_TOPICS_ENABLED} (needs kafka + the link's source); source partition counts and retention.ms")),
            (format!("refresh_interval: {}", text(DEFAULT_SOURCE_TOPICS_REFRESH_INTERVAL)), format!("default {}", text(DEFAULT_SOURCE_TOPICS_REFRESH_INTERVAL))),
            (format!("interval: {}", text(DEFAULT_PROBE_INTERVAL)), format!("default {}", text(DEFAULT_PROBE_INTERVAL))),
            (format!("sla: {}", text(DEFAULT_PROBE_SLA)), format!("default {}", text(DEFAULT_PROBE_SLA))),
            (format!("rpo: {}", text(DEFAULT_RPO)), format!("default {}", text(DEFAULT_RPO))),
            (format!("runbook_base_url: {DEFAULT_RUNBOOK_BASE_URL}"), "default; each problem links to <this>#<alert".to_owned()),
        ];
        for (line, says) in checks {
            let found = comments(&line);
            assert!(
                found.iter().any(|c| c.contains(&says)),
                "no README example line `{line}  # …` says `{says}`: {found:?}"
            );
        }
        assert!(
            README.contains(&format!("else {})", text(DEFAULT_REQUEST_TIMEOUT))),
            "README's kafka.request_timeout line does not state the fallback"
        );
    }

    #[test]
    fn durations_are_written_as_the_readme_writes_them() {
        assert_eq!(text(Duration::from_secs(30)), "30s");
        assert_eq!(text(Duration::from_millis(500)), "500ms");
    }
}
