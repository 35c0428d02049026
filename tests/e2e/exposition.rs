//! `/metrics` in both exposition formats, each right on its own, and its gzip form read fully
//! by real clients: the text format 0.0.4 passes `promtool check metrics` with nothing
//! reported; the OpenMetrics form is accepted by Python's `prometheus_client` OpenMetrics
//! parser (in the venv `scripts/setup-deps.sh` makes, `.venv/`); the one gzip member inflates
//! to every series of the plain body for `curl --compressed`, Python's `gzip` and flate2's
//! single-member decoder (which must also consume the whole body), and a small fleet's gzip
//! body is within 1.5 times `gzip -1` of its text. The real Prometheus reads the gzip form in
//! `prometheus` (it asks for gzip by default).

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use cluster_link_exporter::testing::families_in;

use crate::common::eventually::{done_if, eventually, eventually_every};
use crate::common::exporter::*;
use crate::common::series::series;
use crate::common::servers::binary;

/// What Prometheus 2.x sends.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
/// What a scraper that speaks only the text format sends.
const TEXT_ACCEPT: &str = "text/plain;version=0.0.4;q=1.0,*/*;q=0.1";

/// A `/metrics` answer: content type, content encoding and the body as received.
struct Answer {
    content_type: String,
    encoding: Option<String>,
    body: Vec<u8>,
}

async fn get(url: &str, accept: &str, gzip: bool) -> Answer {
    let mut req = reqwest::Client::new().get(url).header("accept", accept);
    if gzip {
        req = req.header("accept-encoding", "gzip");
    }
    let resp = req.send().await.expect("GET /metrics");
    assert_eq!(resp.status(), 200);
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or_default().to_owned())
    };
    Answer {
        content_type: header("content-type").unwrap_or_default(),
        encoding: header("content-encoding"),
        body: resp.bytes().await.expect("the body").to_vec(),
    }
}

/// Runs `cmd` with `input` on its standard input.
fn run(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?} starts: {e}"));
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("the command ends");
    writer.join().expect("writer").expect("input written");
    out
}

/// The venv's Python, with `prometheus_client` (made by `scripts/setup-deps.sh`).
fn venv_python() -> PathBuf {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python3");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/setup-deps.sh (a venv with prometheus_client)",
        python.display()
    );
    python
}

const PARSE_OPENMETRICS: &str = "import sys\n\
from prometheus_client.openmetrics.parser import text_string_to_metric_families\n\
for f in text_string_to_metric_families(sys.stdin.read()):\n    print(f.name, f.type, len(f.samples))\n";

fn text_of(body: Vec<u8>) -> String {
    String::from_utf8(body).expect("UTF-8 exposition")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_text_format_passes_promtool_and_openmetrics_the_python_parser() {
    let running = start_with_every_family().await;
    let url = format!("http://{}/metrics", running.exporter.address());

    let answer = get(&url, TEXT_ACCEPT, false).await;
    assert!(
        answer.content_type.starts_with("text/plain; version=0.0.4"),
        "{}",
        answer.content_type
    );
    let text = text_of(answer.body);
    assert!(!text.contains("# EOF") && !text.contains("# UNIT"));
    let counters: Vec<String> = families_in(&text)
        .into_iter()
        .filter(|(_, kind)| kind == "counter")
        .map(|(name, _)| name)
        .collect();
    assert!(counters.len() >= 11, "{counters:?}");
    assert!(
        counters.iter().all(|c| c.ends_with("_total")),
        "{counters:?}"
    );
    let promtool = run(
        Command::new(binary("promtool", "prometheus")).args(["check", "metrics"]),
        text.as_bytes(),
    );
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&promtool.stdout),
        String::from_utf8_lossy(&promtool.stderr)
    );
    assert!(
        promtool.status.success() && report.trim().is_empty(),
        "promtool check metrics: {}\n{report}",
        promtool.status
    );

    let answer = get(&url, PROMETHEUS_ACCEPT, false).await;
    assert!(
        answer
            .content_type
            .starts_with("application/openmetrics-text; version=1.0.0"),
        "{}",
        answer.content_type
    );
    let om = text_of(answer.body);
    assert!(om.ends_with("# EOF\n"));
    let parsed = run(
        Command::new(venv_python()).args(["-c", PARSE_OPENMETRICS]),
        om.as_bytes(),
    );
    let stderr = String::from_utf8_lossy(&parsed.stderr);
    assert!(parsed.status.success(), "the OpenMetrics parser: {stderr}");
    let stdout = String::from_utf8_lossy(&parsed.stdout);
    let mut families = BTreeSet::new();
    let mut samples = 0usize;
    for line in stdout.lines() {
        let mut words = line.split(' ');
        let (Some(name), Some(kind), Some(n)) = (words.next(), words.next(), words.next()) else {
            panic!("parser output: {line}");
        };
        families.insert((name.to_owned(), kind.to_owned()));
        samples += n.parse::<usize>().expect("a sample count");
    }
    assert_eq!(families, families_in(&om), "families the parser found");
    let lines = om.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(samples, lines, "samples the parser found");

    // The higher q-value wins over the order of the header.
    for (accept, want) in [
        (
            "application/openmetrics-text;q=0.3,text/plain;q=0.6",
            "text/plain; version=0.0.4",
        ),
        (
            "text/plain;q=0.6,application/openmetrics-text;q=0.7",
            "application/openmetrics-text",
        ),
    ] {
        let got = get(&url, accept, false).await.content_type;
        assert!(got.starts_with(want), "Accept: {accept} gave {got}");
    }

    // Both formats serve the same series (two scrapes: wait for a moment both agree).
    eventually(WAIT, "both formats to serve the same series", || async {
        let om = series(&text_of(get(&url, PROMETHEUS_ACCEPT, false).await.body));
        let text = series(&text_of(get(&url, TEXT_ACCEPT, false).await.body));
        let differ: Vec<_> = om.symmetric_difference(&text).collect();
        done_if(differ.is_empty(), format!("{differ:#?}"))
    })
    .await;
    running.stop().await;
}

/// The one member of `gz` inflated by flate2's single-member decoder, which must consume it
/// all (a second member or trailing bytes would be left over).
fn gunzip_one_member(gz: &[u8]) -> Result<String, String> {
    let mut decoder = flate2::read::GzDecoder::new(gz);
    let mut text = String::new();
    decoder
        .read_to_string(&mut text)
        .map_err(|e| format!("flate2: {e}"))?;
    let left = decoder.into_inner().len();
    if left != 0 {
        return Err(format!("{left} bytes after the first gzip member"));
    }
    Ok(text)
}

/// Whether the gzip forms read by flate2, Python and curl name the same series as `plain`.
async fn gzip_agrees(url: &str, accept: &str) -> Result<(), String> {
    let plain = text_of(get(url, accept, false).await.body);
    let answer = get(url, accept, true).await;
    if answer.encoding.as_deref() != Some("gzip") {
        return Err(format!("content-encoding {:?}", answer.encoding));
    }
    let flate = gunzip_one_member(&answer.body)?;
    let python = run(
        Command::new(venv_python()).args([
            "-c",
            "import gzip,sys; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))",
        ]),
        &answer.body,
    );
    if python.stdout != flate.as_bytes() {
        return Err(format!(
            "python's gzip read {} bytes, flate2 {}: {}",
            python.stdout.len(),
            flate.len(),
            String::from_utf8_lossy(&python.stderr)
        ));
    }
    let curl = Command::new(binary("curl", "curl"))
        .args([
            "-sS",
            "--compressed",
            "-H",
            &format!("Accept: {accept}"),
            url,
        ])
        .output()
        .expect("curl runs");
    let curl = String::from_utf8_lossy(&curl.stdout).into_owned();
    let want = series(&plain);
    for (who, text) in [("flate2", &flate), ("curl", &curl)] {
        let got = series(text);
        if got != want || text.ends_with("# EOF\n") != plain.ends_with("# EOF\n") {
            let differ: Vec<_> = got.symmetric_difference(&want).take(10).collect();
            return Err(format!("{who}: {} bytes, differs: {differ:#?}", text.len()));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn one_gzip_member_reads_fully_in_curl_python_and_flate2() {
    let running = start_with_every_family().await;
    let url = format!("http://{}/metrics", running.exporter.address());
    for accept in [PROMETHEUS_ACCEPT, TEXT_ACCEPT] {
        let what = format!("gzip bodies ({accept}) naming every series of the plain body");
        let look = || gzip_agrees(&url, accept);
        eventually_every(Duration::from_millis(500), WAIT, &what, look).await;
    }
    running.stop().await;
}

/// The gzip body of a small fleet's exposition (the demo's size: a few clusters, every family)
/// is at most 1.5 times `gzip -1` of its own text: small pieces are compressed together and
/// the self-metrics compressed per scrape, not each piece alone or stored.
#[tokio::test(flavor = "multi_thread")]
async fn a_small_expositions_gzip_body_is_within_1_5_times_gzip_1_of_its_text() {
    let running = start_with_every_family().await;
    let url = format!("http://{}/metrics", running.exporter.address());
    for accept in [PROMETHEUS_ACCEPT, TEXT_ACCEPT] {
        let answer = get(&url, accept, true).await;
        assert_eq!(answer.encoding.as_deref(), Some("gzip"));
        let text = gunzip_one_member(&answer.body).expect("one gzip member");
        let gzip = run(
            Command::new(binary("gzip", "gzip")).args(["-1", "-c"]),
            text.as_bytes(),
        );
        assert!(gzip.status.success(), "gzip -1: {}", gzip.status);
        let (ours, reference) = (answer.body.len(), gzip.stdout.len());
        assert!(
            ours * 2 <= reference * 3,
            "{accept}: {ours} bytes gzipped, gzip -1 of the same {} bytes of text: {reference}",
            text.len()
        );
    }
    running.stop().await;
}
