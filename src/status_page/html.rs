//! The status page's HTML: one table (a row per cluster, link and mirror topic, in the
//! view's order: problems first), every value escaped, states in colour and in text. The page
//! needs no external asset: its one style sheet (`page.css`) and one script (`page.js`),
//! included at compile time, are inline, allowed by the [`content_security_policy`] through
//! the SHA-256 hashes of the bytes served (no `'unsafe-inline'`). Without JavaScript
//! everything is shown; with it, a filter box and an automatic refresh (the page fetches
//! itself and swaps the table in place, so the scroll position and the filter stay). A
//! row's problems end with links to their runbook sections: the page's only absolute URLs,
//! followed when clicked, never loaded.

use std::fmt::Write as _;
use std::sync::OnceLock;

use base64::Engine as _;

use super::{
    ClusterView, FailoverStage, FailoverView, Health, LinkSettingsView, LinkView, MirrorView,
    ReadinessView, RunbookLink, StatusView, TaskErrorView, JSON_PATH,
};

/// The automatic refresh period when the URL does not set one (`?refresh=SECONDS`): 5 s.
pub(crate) const DEFAULT_REFRESH_SECONDS: u32 = 5;
/// The longest refresh period `?refresh=` accepts: one hour.
pub(crate) const MAX_REFRESH_SECONDS: u32 = 3600;

/// The page's one style sheet (`page.css`), served verbatim in its `<style>`
/// element; [`content_security_policy`] allows it by the hash of these same bytes.
const STYLE: &str = include_str!("page.css");

/// The page's one script (`page.js`), served verbatim in its `<script>`
/// element; [`content_security_policy`] allows it by the hash of these same bytes.
const SCRIPT: &str = include_str!("page.js");

/// `'sha256-…'` of an inline element's text, as a CSP source.
fn hash_source(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
    format!("'sha256-{b64}'")
}

/// The `Content-Security-Policy` of the page: nothing but its own inline style and script
/// (by hash) and requests to its own origin (the refresh); no frames, forms, plugins or base
/// URL changes.
pub(crate) fn content_security_policy() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        format!(
            "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; \
             img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            hash_source(SCRIPT),
            hash_source(STYLE)
        )
    })
}

/// The refresh period `query` asks for (`refresh=SECONDS`, 0: none; at most
/// [`MAX_REFRESH_SECONDS`]), else [`DEFAULT_REFRESH_SECONDS`].
pub(crate) fn refresh_seconds(query: Option<&str>) -> u32 {
    query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|kv| kv.strip_prefix("refresh="))
        .filter_map(|v| v.parse::<u32>().ok())
        .next_back()
        .map_or(DEFAULT_REFRESH_SECONDS, |s| s.min(MAX_REFRESH_SECONDS))
}

/// Escapes `s` for HTML text and double-quoted attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Page options.
#[derive(Debug, Clone)]
pub(crate) struct PageOptions<'a> {
    /// The path of the metrics (`--web.telemetry-path`), linked from the page.
    pub(crate) telemetry_path: &'a str,
    /// Automatic refresh period in seconds (0: none).
    pub(crate) refresh_seconds: u32,
    /// Version text shown in the header.
    pub(crate) version: &'a str,
}

/// The whole page.
pub(crate) fn render(view: &StatusView, options: &PageOptions<'_>) -> String {
    let rows: usize = view
        .clusters
        .iter()
        .map(|c| 1 + c.links.iter().map(|l| 1 + l.mirrors.len()).sum::<usize>())
        .sum();
    let mut out = String::with_capacity(4096 + rows * 400);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>cluster-link-exporter status</title><style>{STYLE}</style></head>\n<body>\
         <header><h1>cluster-link-exporter</h1>\
         <p>{version} · <a href=\"{metrics}\">Metrics</a> · <a href=\"{JSON_PATH}\">JSON</a> · \
         <a href=\"/-/healthy\">/-/healthy</a> · <a href=\"/-/ready\">/-/ready</a></p>\
         <p id=\"summary\">{summary}</p>\
         <p id=\"tools\" hidden><label for=\"filter\">Filter</label> \
         <input id=\"filter\" type=\"search\" autocomplete=\"off\" \
         placeholder=\"cluster, link, topic or state\"> <span id=\"refreshed\" class=\"muted\">\
         </span></p></header>\n",
        version = escape(options.version),
        metrics = escape(options.telemetry_path),
        summary = summary(view),
    );
    let _ = write!(
        out,
        "<main id=\"status\" data-refresh-seconds=\"{}\">",
        options.refresh_seconds
    );
    table(&mut out, view);
    out.push_str("</main>\n<script>");
    out.push_str(SCRIPT);
    out.push_str("</script></body></html>\n");
    out
}

/// Counts of clusters, links and mirror topics, and of those that are problems.
fn summary(view: &StatusView) -> String {
    let clusters = view.clusters.len();
    let down = view
        .clusters
        .iter()
        .filter(|c| c.health != Health::Up)
        .count();
    let links: Vec<&LinkView> = view.clusters.iter().flat_map(|c| &c.links).collect();
    let bad_links = links.iter().filter(|l| l.problem).count();
    let mirrors: usize = links.iter().map(|l| l.mirrors.len()).sum();
    let bad_mirrors: usize = links
        .iter()
        .map(|l| l.mirrors.iter().filter(|m| m.problem).count())
        .sum();
    let shard = view.shard.map_or(String::new(), |s| {
        format!(
            "shard {} of {} · {} of {} configured clusters · ",
            s.ordinal, s.total_shards, s.assigned_clusters, s.configured_clusters
        )
    });
    format!(
        "{shard}{clusters} cluster(s), {down} not up · {} link(s), {bad_links} with problems · \
         {mirrors} mirror topic(s), {bad_mirrors} with problems · generated at {}",
        links.len(),
        unix_time(view.generated_at_seconds)
    )
}

/// `YYYY-MM-DD hh:mm:ss UTC` of Unix seconds.
fn unix_time(seconds: f64) -> String {
    let secs = seconds.max(0.0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

const HEAD: &str = "<table><thead><tr><th>Cluster / link / mirror topic</th><th>State</th>\
    <th>In state</th><th>Lag (messages)</th><th>Lag (seconds)</th><th>Tasks in error</th>\
    <th>Errors</th><th>Offset-sync lag</th><th>Probe latency</th></tr></thead>\
    <tbody>\n";

fn table(out: &mut String, view: &StatusView) {
    out.push_str(HEAD);
    let mut link_id = 0usize;
    for (ci, c) in view.clusters.iter().enumerate() {
        cluster_row(out, ci, c);
        for l in &c.links {
            link_row(out, (ci, link_id), &c.name, l, view.generated_at_seconds);
            for m in &l.mirrors {
                mirror_row(out, ci, link_id, &c.name, &l.name, m);
            }
            link_id += 1;
        }
    }
    out.push_str("</tbody></table>");
}

/// A state badge: colour class and the text.
fn badge(out: &mut String, class: &str, text: &str) {
    let _ = write!(out, "<td><span class=\"st {class}\">");
    escape_into(out, text);
    out.push_str("</span></td>");
}

fn state_class(state: &str) -> &'static str {
    match state {
        "ACTIVE" => "ok",
        "PAUSED"
        | "STOPPED"
        | "PENDING_STOPPED"
        | "PENDING_SYNCHRONIZE"
        | "PENDING_MIRROR"
        | "PENDING_SETUP_FOR_RESTORE"
        | "PENDING_RESTORE" => "warn",
        _ => "bad",
    }
}

/// The filter text of a row: lowercase, escaped for the attribute.
fn filter_attr(out: &mut String, parts: &[&str]) {
    out.push_str(" data-f=\"");
    escape_into(out, &parts.join(" ").to_lowercase());
    out.push('"');
}

/// The row's own name (cluster, link or mirror topic), for scripts and tests.
fn name_attr(out: &mut String, name: &str) {
    out.push_str(" data-name=\"");
    escape_into(out, name);
    out.push('"');
}

fn cell(out: &mut String, class: &str, text: &str) {
    if class.is_empty() {
        out.push_str("<td>");
    } else {
        let _ = write!(out, "<td class=\"{class}\">");
    }
    escape_into(out, text);
    out.push_str("</td>");
}

fn cluster_row(out: &mut String, ci: usize, c: &ClusterView) {
    out.push_str("<tr class=\"c\"");
    let _ = write!(out, " data-c=\"{ci}\"");
    let kafka_down = c.kafka_connections.iter().any(|k| k.health == Health::Down);
    let kafka = if kafka_down { "kafka down" } else { "" };
    filter_attr(out, &[c.name.as_str(), c.health.as_str(), kafka]);
    name_attr(out, &c.name);
    // "cluster " comes from the style sheet: the cell holds the name only.
    out.push_str("><td>");
    escape_into(out, &c.name);
    out.push_str("</td>");
    let class = match c.health {
        Health::Up => "ok",
        Health::Down => "bad",
        Health::Starting => "wait",
    };
    let _ = write!(
        out,
        "<td class=\"{}\"><span class=\"st {class}\">{}</span></td>",
        c.health.as_str(),
        c.health.as_str().to_uppercase()
    );
    // One cell for the rest: when collection last worked, the age of the data, the last error.
    let since = c
        .last_success_age_seconds
        .map(|a| format!("last success {} ago", duration(a)));
    let age = match (c.data_age_seconds, c.kafka_data_age_seconds) {
        (Some(r), Some(k)) => format!("data age: REST {}, Kafka {}", duration(r), duration(k)),
        (Some(r), None) => format!("data age: REST {}", duration(r)),
        (None, Some(k)) => format!("data age: Kafka {}", duration(k)),
        (None, None) => "no data".into(),
    };
    out.push_str("<td colspan=\"7\" class=\"info\">");
    escape_into(out, since.as_deref().unwrap_or("no success yet"));
    out.push_str(" · ");
    escape_into(out, &age);
    if let Some(e) = &c.last_error {
        out.push_str(" · <span class=\"err\">last error");
        if let Some(a) = c.last_error_age_seconds {
            let _ = write!(out, " ({} ago)", duration(a));
        }
        out.push_str(": ");
        escape_into(out, e);
        out.push_str("</span>");
    }
    kafka_connections(out, c);
    if !c.readiness_unknown_links.is_empty() {
        out.push_str(
            " · <span class=\"err\">failover_readiness.links names links the REST API does not list: ",
        );
        escape_into(out, &c.readiness_unknown_links.join(", "));
        out.push_str("</span>");
    }
    for r in &c.config_references_missing {
        out.push_str(" · <span class=\"err\">not found: ");
        escape_into(out, &format!("{} {:?}: {}", r.key, r.name, r.problem));
        out.push_str("</span>");
    }
    runbooks(out, &c.problems);
    out.push_str("</td></tr>\n");
}

/// ` · Kafka: destination NAME UP · source NAME DOWN (last error 5s ago: …)`: each Kafka
/// connection of the cluster, a down one in red.
fn kafka_connections(out: &mut String, c: &ClusterView) {
    for (i, k) in c.kafka_connections.iter().enumerate() {
        out.push_str(if i == 0 { " · Kafka: " } else { " · " });
        let down = k.health == Health::Down;
        out.push_str(if down {
            "<span class=\"err kafka\">"
        } else {
            "<span class=\"kafka\">"
        });
        escape_into(out, &format!("{} {} ", k.role, k.name));
        out.push_str(&k.health.as_str().to_uppercase());
        if let Some(e) = &k.last_error {
            out.push_str(" (last error");
            if let Some(a) = k.last_error_age_seconds {
                let _ = write!(out, " {} ago", duration(a));
            }
            out.push_str(": ");
            escape_into(out, e);
            out.push(')');
        }
        out.push_str("</span>");
    }
}

/// The link's readiness line, under its name: the verdict and its reasons, the expected loss
/// (`≤` when an upper bound, with the age of the last lag measured) against the RPO, and per
/// consumer group what it would lose and re-process.
fn readiness_line(out: &mut String, r: &ReadinessView, generated_at: f64) {
    let class = match r.verdict.as_str() {
        "ready" => "ok",
        "not_ready" => "bad",
        "failed_over" => "wait",
        _ => "warn",
    };
    let _ = write!(
        out,
        "<div class=\"rd {class}\" data-verdict=\"{}\">",
        escape(&r.verdict)
    );
    let mut text = r.text.clone();
    if let Some(age) = r.failed_over_age_seconds {
        text = format!(
            "Failed over at {} ({} ago)",
            unix_time(generated_at - age),
            duration(age)
        );
    }
    escape_into(out, &text);
    if r.verdict != "failed_over" {
        let at_least = if r.expected_loss_messages_lower_bound {
            "≥ "
        } else {
            ""
        };
        // "≥ 0" says nothing: unknown.
        let messages = match r.expected_loss_messages {
            Some(0) if r.expected_loss_messages_lower_bound => "unknown messages".to_owned(),
            m => opt(m.map(|m| format!("{at_least}{m} messages"))),
        };
        let secs = match (r.expected_loss_seconds, r.expected_loss_seconds_upper_bound) {
            (Some(s), true) => format!(
                "≤ {} (last measured {} ago)",
                seconds(s),
                duration(r.lag_seconds_measured_age_seconds.unwrap_or(0.0))
            ),
            (Some(s), false) => seconds(s),
            (None, _) => "— s".to_owned(),
        };
        let _ = write!(
            out,
            " · expected loss: {} · {} (RPO {})",
            escape(&messages),
            escape(&secs),
            duration(r.rpo_seconds)
        );
    }
    for g in &r.groups {
        out.push_str("<br>group ");
        escape_into(out, &g.consumer_group);
        out.push_str(" on ");
        escape_into(out, &g.mirror_topic);
        let _ = write!(
            out,
            ": would lose {}, re-process {}",
            opt(g.lost_messages.map(|v| v.to_string())),
            opt(g.reprocessed_messages.map(|v| v.to_string()))
        );
    }
    out.push_str("</div>");
}

fn link_row(out: &mut String, ids: (usize, usize), cluster: &str, l: &LinkView, generated_at: f64) {
    let (ci, li) = ids;
    let _ = write!(out, "<tr class=\"l\" data-c=\"{ci}\" data-l=\"{li}\"");
    let verdict = l.readiness.as_ref().map_or("", |r| r.verdict.as_str());
    filter_attr(out, &[cluster, &l.name, &l.state, &l.error, verdict]);
    name_attr(out, &l.name);
    out.push_str("><td class=\"n\">link ");
    escape_into(out, &l.name);
    let _ = write!(
        out,
        " <span class=\"muted\">({} mirror topic{}, {} with problems)</span>",
        l.mirror_topics,
        if l.mirror_topics == 1 { "" } else { "s" },
        l.mirror_topics_with_problems
    );
    if let Some(f) = &l.failover {
        failover_line(out, f, l);
    }
    settings_line(out, &l.settings);
    if let Some(r) = &l.readiness {
        readiness_line(out, r, generated_at);
    }
    out.push_str("</td>");
    badge(out, state_class(&l.state), &l.state);
    cell(out, "num", &opt(l.state_age_seconds.map(duration)));
    let live = lag_messages(
        l.lag_messages,
        l.measured_lag_messages,
        l.source_out_of_reach,
        None,
    );
    let lag = match l.not_copied_messages {
        Some(n) => format!("{live} (not copied: {n})"),
        None => live,
    };
    cell(out, "num", &lag);
    // The lag in seconds in colour against the link's RPO.
    let lag_class = match (&l.readiness, l.lag_seconds) {
        (Some(r), Some(s)) => match s / r.rpo_seconds.max(f64::MIN_POSITIVE) {
            x if x >= 1.0 => "num rpo bad",
            x if x >= 0.5 => "num rpo warn",
            _ => "num rpo ok",
        },
        _ => "num",
    };
    cell(out, lag_class, &opt(l.lag_seconds.map(seconds)));
    let tasks_class = if l.tasks_in_error > 0 {
        "num err"
    } else {
        "num"
    };
    let tasks = match (l.tasks_in_error, l.task_errors) {
        (0, 0) => "0".to_owned(),
        (n, 1) => format!("{n} (1 error)"),
        (n, m) => format!("{n} ({m} errors)"),
    };
    cell(out, tasks_class, &tasks);
    let error = match (&l.error_message, l.error.as_str()) {
        (Some(m), e) => format!("{e}: {m}"),
        (None, "NO_ERROR") => String::new(),
        (None, e) => e.to_owned(),
    };
    errors_cell(out, &error, l);
    out.push_str("<td></td>");
    let probe = l
        .probe_latency_seconds
        .map(|s| match l.probe_last_received_age_seconds {
            Some(a) => format!("{} ({} ago)", seconds(s), duration(a)),
            None => seconds(s),
        });
    cell(out, "num", &opt(probe));
    out.push_str("</tr>\n");
}

/// The link's timing configs, under its name, those known: `availability check 60s × 5 ·
/// offset sync 30s · topic config sync 5s · ACL sync 1.5s` (`offset sync off` when
/// `consumer.offset.sync.enable` is false: its interval applies to nothing).
fn settings_line(out: &mut String, s: &LinkSettingsView) {
    let every = |v: Option<f64>| v.map(|s| format!("{s}s"));
    let mut parts: Vec<String> = Vec::new();
    match (
        every(s.availability_check_interval_seconds),
        s.availability_check_failure_threshold,
    ) {
        (Some(i), Some(n)) => parts.push(format!("availability check {i} × {n}")),
        (Some(i), None) => parts.push(format!("availability check {i}")),
        (None, Some(n)) => parts.push(format!("availability check × {n}")),
        (None, None) => {}
    }
    if s.consumer_offset_sync_enabled == Some(false) {
        parts.push("offset sync off".to_owned());
    }
    let offset_sync = s
        .consumer_offset_sync_interval_seconds
        .filter(|_| s.consumer_offset_sync_enabled != Some(false));
    for (what, v) in [
        ("offset sync", offset_sync),
        ("topic config sync", s.topic_config_sync_interval_seconds),
        ("ACL sync", s.acl_sync_interval_seconds),
    ] {
        if let Some(d) = every(v) {
            parts.push(format!("{what} {d}"));
        }
    }
    if parts.is_empty() {
        return;
    }
    out.push_str("<br><span class=\"muted settings\">");
    escape_into(out, &parts.join(" · "));
    out.push_str("</span>");
}

/// The link's promote or failover, under its name: `stopping mirror topics
/// (promote/failover): 1 of 3 stopped`, `stopped (promoted or failed over) at …`, or `2 of 3
/// stopped (promoted or failed over)`. Neutral: the REST API cannot tell a promote from a
/// failover (both go `PENDING_STOPPED` → `STOPPED`, and no field of a mirror topic or link
/// says which was asked), so the page never names one of them.
fn failover_line(out: &mut String, f: &FailoverView, l: &LinkView) {
    let text = match f.stage {
        FailoverStage::InProgress => {
            let mut t = format!(
                "stopping mirror topics (promote/failover): {} of {} stopped",
                f.mirror_topics_stopped, l.mirror_topics
            );
            if f.mirror_topics_with_transition_errors > 0 {
                let _ = write!(
                    t,
                    ", {} with transition errors",
                    f.mirror_topics_with_transition_errors
                );
            }
            t
        }
        FailoverStage::Completed => match f.completed_at_seconds {
            Some(at) => format!("stopped (promoted or failed over) at {}", unix_time(at)),
            None => "stopped (promoted or failed over)".to_owned(),
        },
        FailoverStage::Partial => format!(
            "{} of {} stopped (promoted or failed over)",
            f.mirror_topics_stopped, l.mirror_topics
        ),
    };
    let class = if f.mirror_topics_with_transition_errors > 0 {
        "failover err"
    } else {
        "failover"
    };
    let _ = write!(out, "<br><span class=\"{class}\">");
    escape_into(out, &text);
    out.push_str("</span>");
}

/// The link's Errors cell: what its mirror topics' rows report, rolled up (most severe
/// first), its link error, then a line per error of each task in error (`TaskName:
/// ERROR_CODE — message`; `TaskName: STATE` when it lists none).
fn errors_cell(out: &mut String, link_error: &str, l: &LinkView) {
    let mut lines: Vec<String> = l.findings.iter().map(|f| f.text.clone()).collect();
    if !link_error.is_empty() {
        lines.push(link_error.to_owned());
    }
    for t in l.tasks.iter().filter(|t| t.in_error()) {
        if t.errors.is_empty() {
            lines.push(format!("{}: {}", t.name, t.state));
        }
        lines.extend(t.errors.iter().map(|e| error_line(&t.name, e)));
    }
    lines_cell(out, &lines, &l.problems);
}

/// `prefix: ERROR_CODE — message` (without ` — message` when there is none).
fn error_line(prefix: &str, e: &TaskErrorView) -> String {
    match &e.message {
        Some(m) => format!("{prefix}: {} — {m}", e.code),
        None => format!("{prefix}: {}", e.code),
    }
}

/// An Errors cell: `lines`, escaped, one per line, then the row's runbook links.
fn lines_cell(out: &mut String, lines: &[String], problems: &[RunbookLink]) {
    out.push_str("<td class=\"err\">");
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push_str("<br>");
        }
        escape_into(out, line);
    }
    runbooks(out, problems);
    out.push_str("</td>");
}

/// `runbook: ClusterLinkDown · ClusterLinkTaskInError`, each alert's name a link to its
/// runbook section (nothing when the row shows no problem).
fn runbooks(out: &mut String, problems: &[RunbookLink]) {
    if problems.is_empty() {
        return;
    }
    out.push_str("<div class=\"rb\">runbook: ");
    for (i, p) in problems.iter().enumerate() {
        if i > 0 {
            out.push_str(" · ");
        }
        let _ = write!(
            out,
            "<a href=\"{}\" rel=\"noreferrer\" data-kind=\"{}\">{}</a>",
            escape(&p.runbook),
            p.kind.as_str(),
            escape(p.alert)
        );
    }
    out.push_str("</div>");
}

fn mirror_row(out: &mut String, ci: usize, li: usize, cluster: &str, link: &str, m: &MirrorView) {
    let _ = write!(out, "<tr class=\"m\" data-c=\"{ci}\" data-l=\"{li}\"");
    let source = m.source_topic.as_deref().unwrap_or("");
    filter_attr(out, &[cluster, link, &m.name, source, &m.state]);
    name_attr(out, &m.name);
    out.push_str("><td class=\"n\">");
    escape_into(out, &m.name);
    if !source.is_empty() && source != m.name {
        out.push_str(" <span class=\"muted\">← ");
        escape_into(out, source);
        out.push_str("</span>");
    }
    out.push_str("</td>");
    badge(out, state_class(&m.state), &m.state);
    cell(out, "num", &opt(m.state_age_seconds.map(duration)));
    let lag = match m.not_copied_messages {
        Some(n) => format!("not copied: {n}"),
        None => {
            // The REST lag froze when the mirror topic went SOURCE_UNAVAILABLE.
            let frozen_since = m
                .state_age_seconds
                .filter(|_| m.state == "SOURCE_UNAVAILABLE");
            lag_messages(
                m.lag_messages,
                m.measured_lag_messages,
                m.source_out_of_reach,
                frozen_since,
            )
        }
    };
    cell(out, "num", &lag);
    cell(out, "num", &opt(m.lag_seconds.map(seconds)));
    out.push_str("<td></td>");
    let mut errors: Vec<String> = m.error.iter().cloned().collect();
    errors.extend(
        m.transition_errors
            .iter()
            .map(|e| error_line("transition error", e)),
    );
    let shown = m.transition_errors.len() as u64;
    if let Some(more) = m.transition_error_count.map(|n| n.saturating_sub(shown)) {
        if more > 0 {
            errors.push(format!("… {more} more transition errors"));
        }
    }
    errors.extend(m.kafka_findings());
    lines_cell(out, &errors, &m.problems);
    cell(
        out,
        "num",
        &opt(m.offset_sync_lag_messages.map(|v| v.to_string())),
    );
    out.push_str("<td></td></tr>\n");
}

/// A Lag (messages) cell, saying which lag it is: the lag measured over Kafka (`12
/// measured`: source minus destination high watermark) when known, else the REST API's (`12
/// REST`); while the source is out of reach the REST value is only what the link last fetched
/// against, so `unknown (source out of reach; REST last said 12, 3m 5s ago)` — never a bare
/// number that reads as caught up. `—` when nothing is known.
fn lag_messages(
    rest: Option<i64>,
    measured: Option<i64>,
    out_of_reach: bool,
    rest_age: Option<f64>,
) -> String {
    match (measured, rest, out_of_reach) {
        (Some(n), _, _) => format!("{n} measured"),
        (None, Some(n), true) => match rest_age {
            Some(a) => format!(
                "unknown (source out of reach; REST last said {n}, {} ago)",
                duration(a)
            ),
            None => format!("unknown (source out of reach; REST last said {n})"),
        },
        (None, None, true) => "unknown (source out of reach)".to_owned(),
        (None, Some(n), false) => format!("{n} REST"),
        (None, None, false) => "—".to_owned(),
    }
}

fn opt(v: Option<String>) -> String {
    v.unwrap_or_else(|| "—".into())
}

/// `1.25 s`, `35 ms`.
fn seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

/// `42s`, `3m 5s`, `2h 10m`, `4d 3h`.
pub(super) fn duration(s: f64) -> String {
    let s = s.max(0.0) as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod asset_tests {
    use super::{SCRIPT, STYLE};

    /// `page.css` and `page.js` are served byte for byte, so the hashes of the CSP (computed
    /// from the same constants) are those of what the browser checks; `status_page::tests`
    /// recomputes them from a rendered page.
    #[test]
    fn the_asset_files_are_served_verbatim() {
        let page = super::render(
            &super::StatusView {
                generated_at_seconds: 0.0,
                clusters: Vec::new(),
                shard: None,
            },
            &super::PageOptions {
                telemetry_path: "/metrics",
                refresh_seconds: 5,
                version: "test",
            },
        );
        assert!(page.contains(&format!("<style>{STYLE}</style>")));
        assert!(page.contains(&format!("<script>{SCRIPT}</script>")));
    }

    /// Nothing in an asset can end its element early, open an HTML comment in it, or read as
    /// a second style or script element to a check of the page.
    #[test]
    fn the_assets_hold_no_markup_of_their_elements() {
        for asset in [STYLE, SCRIPT] {
            let lower = asset.to_ascii_lowercase();
            for markup in ["<style", "</style", "<script", "</script", "<!--"] {
                assert!(!lower.contains(markup), "{markup} in an asset");
            }
        }
    }
}
