//! The status page (`/`) in a real browser: Debian's headless Chromium driven through
//! chromedriver (WebDriver, with fantoccini) against the simulator. It shows the demo's links
//! and mirror topics; its inline script runs under the page's strict Content-Security-Policy
//! (the filter box appears only then); after `brokers_down` on cluster A the links from A are
//! shown not ACTIVE at the top within one poll interval plus the refresh period, and their
//! mirror topics' lag reads unknown (source out of reach), never a bare number; the filter
//! hides the rows that do not match; the scroll position and the filter survive a refresh; and
//! 2,000 mirror topics still render (server and browser timings printed); with JavaScript off
//! every row is still there. Also the JSON form (`/status.json`), the CSP header as a client
//! sees them.
//! A browser dropped without `close` (a failed test) kills its Chromium too.
//! Chromium or chromedriver missing fails the tests, naming `scripts/setup-deps.sh`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cluster_link_exporter::demo::config_for;
use cluster_link_exporter::Exporter;
use cluster_link_sim::{Action, Scenario, Simulator};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::common::eventually::{done_if, eventually, eventually_every};
use crate::common::scrape::{exporter_yaml, start_exporter};
use crate::common::servers::{binary, free_port, temp_dir, KillOnDrop};

/// Poll interval of the exporters here.
const POLL: Duration = Duration::from_secs(1);
/// Refresh period the page is opened with (`?refresh=1`).
const REFRESH: Duration = Duration::from_secs(1);

/// A headless Chromium session; on drop (also when a test fails before `close`) its Chromium
/// processes and the chromedriver process are killed and its directory removed.
struct Browser {
    client: Client,
    _driver: KillOnDrop,
    dir: std::path::PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Killing chromedriver leaves the Chromium it started running (a session not closed):
        // kill, by id, the processes of this session's own profile directory.
        for pid in chromium_pids(&self.dir.join("profile")) {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The processes started with `--user-data-dir=<profile>`: a session's Chromium and its
/// helpers, and nothing else (each session has a profile of its own).
fn chromium_pids(profile: &std::path::Path) -> Vec<i32> {
    let flag = format!("--user-data-dir={}", profile.display());
    let Ok(all) = procfs::process::all_processes() else {
        return Vec::new();
    };
    all.filter_map(Result::ok)
        .filter(|p| p.cmdline().is_ok_and(|c| c.contains(&flag)))
        .map(|p| p.pid())
        .collect()
}

impl Browser {
    async fn start() -> Self {
        Self::start_with(true).await
    }

    /// A session whose pages run JavaScript or not (`javascript`); WebDriver's own scripts
    /// run either way.
    async fn start_with(javascript: bool) -> Self {
        let chromium = binary("chromium", "chromium");
        let chromedriver = binary("chromedriver", "chromium-driver");
        let port = free_port();
        let dir = temp_dir("chromium");
        let log = std::fs::File::create(dir.join("chromedriver.log")).unwrap();
        let driver = KillOnDrop(
            Command::new(chromedriver)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("chromedriver starts"),
        );
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        eventually(Duration::from_secs(30), "chromedriver answers", || async {
            let ok = http.get(format!("{url}/status")).send().await.is_ok();
            done_if(ok, "not yet")
        })
        .await;
        let profile = dir.join("profile");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,900",
                         format!("--user-data-dir={}", profile.display())],
                "prefs": {
                    "profile.managed_default_content_settings.javascript":
                        if javascript { 1 } else { 2 },
                },
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("a Chromium session through chromedriver: {e}"));
        Self {
            client,
            _driver: driver,
            dir,
        }
    }

    async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// Every table row: `[class, data-name, state text, hidden]`.
    async fn rows(&self) -> Vec<Row> {
        let v = self
            .js(
                "return Array.from(document.querySelectorAll('#status tbody tr')).map(function(r){\
                 return [r.className, r.getAttribute('data-name'), r.cells[1].textContent, r.hidden];});",
            )
            .await;
        serde_json::from_value(v).expect("rows")
    }

    async fn refreshes(&self) -> u64 {
        let v = self
            .js("return document.body.getAttribute('data-refreshes') || '0';")
            .await;
        v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
    }

    async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

/// `(class, name, state, hidden)` of a table row; class `c` cluster, `l` link, `m` mirror.
type Row = (String, String, String, bool);

/// A row as (cluster, link, name, class, state, hidden), with its parents' names.
type ParentedRow = (String, String, String, String, String, bool);

/// The rows with their parents' names.
fn with_parents(rows: &[Row]) -> Vec<ParentedRow> {
    let (mut cluster, mut link) = (String::new(), String::new());
    rows.iter()
        .map(|(class, name, state, hidden)| {
            match class.as_str() {
                "c" => (cluster, link) = (name.clone(), String::new()),
                "l" => link = name.clone(),
                _ => {}
            }
            let r = (cluster.clone(), link.clone(), name.clone());
            (r.0, r.1, r.2, class.clone(), state.clone(), *hidden)
        })
        .collect()
}

/// The links and mirror topics the simulator has, by destination cluster.
fn demo_topology(sim: &Simulator) -> Vec<(String, String, String)> {
    let world = sim.core().world();
    let mut out = Vec::new();
    for (cluster, state) in &world.clusters {
        for (link, l) in &state.links {
            out.push((cluster.clone(), link.clone(), String::new()));
            for mirror in l.mirrors.keys() {
                out.push((cluster.clone(), link.clone(), mirror.clone()));
            }
        }
    }
    out
}

/// `link_state` of `link` as cluster `cluster`'s REST API reports it now.
async fn rest_link_state(sim: &Simulator, cluster: &str, link: &str) -> Option<String> {
    let c = sim.cluster(cluster);
    let url = format!("{}/clusters/{}/links", c.rest_url, c.cluster_id);
    let body: Value = reqwest::get(url).await.ok()?.json().await.ok()?;
    body["data"]
        .as_array()?
        .iter()
        .find(|l| l["link_name"] == link)
        .and_then(|l| l["link_state"].as_str())
        .map(str::to_owned)
}

async fn start_demo() -> (Simulator, Exporter) {
    let sim = Simulator::start(Scenario::default_scenario())
        .await
        .expect("simulator starts");
    let exporter = start_exporter(&config_for(&sim, "1s")).await;
    (sim, exporter)
}

/// A session dropped without `close` (a test that failed) leaves no Chromium running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_browser_leaves_no_chromium_running() {
    cluster_link_exporter::install_crypto_provider();
    let browser = Browser::start().await;
    browser.client.goto("about:blank").await.unwrap();
    let profile = browser.dir.join("profile");
    assert!(
        !chromium_pids(&profile).is_empty(),
        "a Chromium runs with the session's profile"
    );
    drop(browser);
    eventually(Duration::from_secs(10), "its Chromium gone", || async {
        let left = chromium_pids(&profile);
        done_if(left.is_empty(), left)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_the_demo_and_puts_a_source_outage_on_top() {
    let (sim, exporter) = start_demo().await;
    let base = format!("http://{}", exporter.address());
    check_headers_and_json(&base).await;
    let browser = Browser::start().await;
    browser
        .client
        .goto(&format!("{base}/?refresh={}", REFRESH.as_secs()))
        .await
        .unwrap();
    // The script ran under the CSP: it shows the filter box (hidden in the HTML).
    let tools = browser
        .js("return document.getElementById('tools').hidden;")
        .await;
    assert_eq!(
        tools,
        json!(false),
        "the page's script did not run under its CSP"
    );

    let shown = wait_for_the_demo(&browser, &sim).await;
    filter_hides_what_does_not_match(&browser, &shown).await;
    a_task_error_is_shown(&base, &sim).await;
    every_link_shows_its_readiness(&browser).await;

    a_source_outage_comes_on_top(&browser, &sim).await;
    kafka_connections_down_are_shown(&base).await;
    browser.close().await;
    exporter.shutdown().await;
}

/// Every link row carries its fail-over readiness line (as the browser renders it), and a
/// healthy demo link reads "Ready to fail over" with its expected loss against the RPO.
async fn every_link_shows_its_readiness(browser: &Browser) {
    let script = "return Array.from(document.querySelectorAll('tr.l')).map(function (r) {\
        var d = r.querySelector('div.rd');\
        return d ? d.getAttribute('data-verdict') + ': ' + d.textContent : null; });";
    eventually(
        Duration::from_secs(60),
        "a readiness line under every link, one of them ready",
        || async {
            let lines = browser.js(script).await;
            let lines: Vec<Option<String>> = serde_json::from_value(lines).unwrap_or_default();
            let all = !lines.is_empty() && lines.iter().all(Option::is_some);
            let ready = lines.iter().flatten().any(|l| {
                l.starts_with("ready: Ready to fail over · expected loss: ")
                    && l.contains("(RPO 5m 0s)")
            });
            done_if(all && ready, lines)
        },
    )
    .await;
}

/// Waits until every link and mirror topic of the simulator is on the page, ACTIVE; returns
/// the rows.
async fn wait_for_the_demo(browser: &Browser, sim: &Simulator) -> Vec<ParentedRow> {
    let expected = demo_topology(sim);
    assert!(expected.len() >= 8, "the demo's topology: {expected:?}");
    eventually(
        Duration::from_secs(60),
        "every link and mirror topic of the demo on the page, ACTIVE",
        || async {
            let rows = with_parents(&browser.rows().await);
            let missing: Vec<_> = expected
                .iter()
                .filter(|(c, l, m)| {
                    !rows.iter().any(|r| {
                        let (name, class) = if m.is_empty() { (l, "l") } else { (m, "m") };
                        r.0 == *c && r.1 == *l && r.2 == *name && r.3 == class && r.4 == "ACTIVE"
                    })
                })
                .collect();
            done_if(
                missing.is_empty(),
                format!("missing {missing:?} in {rows:?}"),
            )
            .map(|_| rows)
        },
    )
    .await
}

/// `brokers_down` on A: once B's REST API reports ab-link not ACTIVE, the page shows it at
/// the top within (poll interval + refresh period) × 4, through its refresh; then every link
/// from A.
async fn a_source_outage_comes_on_top(browser: &Browser, sim: &Simulator) {
    sim.apply(&Action::BrokersDown {
        cluster: "A".into(),
        brokers: None,
    })
    .expect("brokers_down applies");
    // The links from A (to B) go UNAVAILABLE after the simulator's availability checks fail.
    let from_a = ["ab-link", "dr-link", "bidi-link"];
    eventually(
        Duration::from_secs(90),
        "B's REST API reports ab-link not ACTIVE",
        || async {
            let state = rest_link_state(sim, "B", "ab-link").await;
            done_if(state.as_deref().is_some_and(|s| s != "ACTIVE"), state)
        },
    )
    .await;
    let reported = Instant::now();
    let within = (POLL + REFRESH) * 4;
    let rows = eventually(
        within,
        "ab-link not ACTIVE at the top of the page",
        || async {
            let rows = with_parents(&browser.rows().await);
            let links: Vec<_> = rows.iter().filter(|r| r.3 == "l").collect();
            let top = links.first();
            let ok = top.is_some_and(|t| t.4 != "ACTIVE")
                && links
                    .iter()
                    .any(|r| r.0 == "B" && r.2 == "ab-link" && r.4 != "ACTIVE");
            let seen: Vec<(String, String, String)> = links
                .iter()
                .map(|r| (r.0.clone(), r.2.clone(), r.4.clone()))
                .collect();
            done_if(ok, seen).map(|_| rows.clone())
        },
    )
    .await;
    eprintln!(
        "status page: ab-link shown not ACTIVE {:?} after B's REST API reported it (poll {POLL:?}, refresh {REFRESH:?})",
        reported.elapsed()
    );
    links_not_active_first(&rows);
    assert!(
        browser.refreshes().await > 0,
        "shown by the refresh, not a reload"
    );
    eventually(
        within * 10,
        "every link from A not ACTIVE on the page",
        || async {
            let rows = with_parents(&browser.rows().await);
            let active: Vec<_> = rows
                .iter()
                .filter(|r| {
                    r.0 == "B" && r.3 == "l" && from_a.contains(&r.2.as_str()) && r.4 == "ACTIVE"
                })
                .map(|r| r.2.clone())
                .collect();
            done_if(active.is_empty(), active)
        },
    )
    .await;
    mirror_lags_never_read_as_caught_up(browser).await;
}

/// With the source down, the Lag (messages) cell of each mirror topic of B's ab-link says
/// the lag is unknown (with the REST API's last value), never a bare number.
async fn mirror_lags_never_read_as_caught_up(browser: &Browser) {
    let script = "return Array.from(document.querySelectorAll('tr.m')).filter(function (r) {\
         var l = r.previousElementSibling; while (l && l.className !== 'l') \
         { l = l.previousElementSibling; }\
         var c = l; while (c && c.className !== 'c') { c = c.previousElementSibling; }\
         return c.getAttribute('data-name') === 'B' && l.getAttribute('data-name') === 'ab-link';\
         }).map(function (r) { return r.cells[3].textContent; });";
    eventually(
        Duration::from_secs(30),
        "ab-link's mirror lags unknown with the source down",
        || async {
            let cells: Vec<String> = serde_json::from_value(browser.js(script).await).unwrap();
            let ok = !cells.is_empty()
                && cells
                    .iter()
                    .all(|c| c.starts_with("unknown (source out of reach"));
            done_if(ok, cells)
        },
    )
    .await;
}

/// `/status.json` as a client gets it, and the cluster named `name` in it.
async fn status_json_cluster(base: &str, name: &str) -> Value {
    let json: Value = reqwest::get(format!("{base}/status.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    json["clusters"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .cloned()
        .unwrap_or(Value::Null)
}

/// An error injected into B's ab-link `TopicConfigsSync` task (ACTIVE there): `/status.json` lists it under the
/// link's tasks, the page's Errors cell says `TopicConfigsSync: CODE — message` (escaped).
async fn a_task_error_is_shown(base: &str, sim: &Simulator) {
    sim.apply(&Action::TaskError {
        cluster: "B".into(),
        link: "ab-link".into(),
        task: "TopicConfigsSync".into(),
        error_code: "AUTHORIZATION_ERROR".into(),
        error_message: "denied <by> ACL".into(),
    })
    .expect("task_error applies");
    eventually(
        Duration::from_secs(60),
        "ab-link's TopicConfigsSync error in /status.json",
        || async {
            let b = status_json_cluster(base, "B").await;
            let tasks = b["links"]
                .as_array()
                .and_then(|ls| ls.iter().find(|l| l["name"] == "ab-link"))
                .map(|l| l["tasks"].clone())
                .unwrap_or(Value::Null);
            let acl = tasks
                .as_array()
                .and_then(|ts| ts.iter().find(|t| t["name"] == "TopicConfigsSync"));
            let ok = acl.is_some_and(|t| {
                t["state"] == "IN_ERROR"
                    && t["errors"]
                        == json!([{"code": "AUTHORIZATION_ERROR",
                        "message": "denied <by> ACL"}])
            });
            done_if(ok, tasks)
        },
    )
    .await;
    let html = reqwest::get(format!("{base}/")).await.unwrap();
    let html = html.text().await.unwrap();
    let cell = "TopicConfigsSync: AUTHORIZATION_ERROR — denied &lt;by&gt; ACL";
    assert!(html.contains(cell), "no {cell} in {html}");
    sim.apply(&Action::ClearTaskError {
        cluster: "B".into(),
        link: "ab-link".into(),
        task: "TopicConfigsSync".into(),
    })
    .expect("clear_task_error applies");
}

/// After `brokers_down` on A: A's own Kafka connection (destination) and B's connection to
/// source A are down in `/status.json`, with their last error, and on the page.
async fn kafka_connections_down_are_shown(base: &str) {
    let down = |c: &Value, role: &str, name: &str| {
        c["kafka_connections"].as_array().is_some_and(|ks| {
            ks.iter().any(|k| {
                k["role"] == role
                    && k["name"] == name
                    && k["health"] == "down"
                    && k["last_error"].as_str().is_some_and(|e| !e.is_empty())
            })
        })
    };
    eventually(
        Duration::from_secs(120),
        "A's destination and B's source A Kafka connections down in /status.json",
        || async {
            let (a, b) = (
                status_json_cluster(base, "A").await,
                status_json_cluster(base, "B").await,
            );
            let ok = down(&a, "destination", "A") && down(&b, "source", "A");
            done_if(
                ok && a["problem"] == true,
                (
                    a["kafka_connections"].clone(),
                    b["kafka_connections"].clone(),
                ),
            )
        },
    )
    .await;
    let html = reqwest::get(format!("{base}/")).await.unwrap();
    let html = html.text().await.unwrap();
    for shown in [
        "destination A DOWN (last error",
        "source A DOWN (last error",
    ] {
        assert!(html.contains(shown), "no {shown} in {html}");
    }
}

/// Within each cluster, the links not ACTIVE come before the ACTIVE ones.
fn links_not_active_first(rows: &[ParentedRow]) {
    for cluster in ["A", "B"] {
        let states: Vec<bool> = rows
            .iter()
            .filter(|r| r.0 == cluster && r.3 == "l")
            .map(|r| r.4 == "ACTIVE")
            .collect();
        assert!(states.is_sorted(), "problems first in {cluster}: {rows:?}");
    }
}

/// The CSP header, no cache, and the JSON form as a client gets them.
async fn check_headers_and_json(base: &str) {
    let client = reqwest::Client::new();
    let resp = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'sha256-"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let json: Value = eventually(
        Duration::from_secs(60),
        "/status.json lists A and B with links",
        || async {
            let resp = client
                .get(format!("{base}/status.json"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.headers()["content-type"], "application/json");
            let json: Value = resp.json().await.unwrap();
            let names: Vec<&str> = json["clusters"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["links"].as_array().is_some_and(|l| !l.is_empty()))
                .filter_map(|c| c["name"].as_str())
                .collect();
            done_if(names.contains(&"A") && names.contains(&"B"), json.clone())
        },
    )
    .await;
    let b = json["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "B")
        .unwrap();
    assert_eq!(b["health"], "up");
    assert!(b["data_age_seconds"].as_f64().is_some(), "{b}");
    every_row_is_in_the_html(base, b).await;
}

/// Without JavaScript the content is all there: the server renders a row for every link and
/// mirror topic of `cluster` (its JSON form).
async fn every_row_is_in_the_html(base: &str, cluster: &Value) {
    let html = reqwest::get(format!("{base}/")).await.unwrap();
    let html = html.text().await.unwrap();
    for link in cluster["links"].as_array().unwrap() {
        let mirrors = link["mirrors"].as_array().unwrap();
        for name in std::iter::once(link).chain(mirrors).map(|v| &v["name"]) {
            let name = name.as_str().unwrap();
            let attribute = format!("data-name=\"{name}\"");
            assert!(html.contains(&attribute), "{name} in {html}");
        }
    }
}

/// Typing a topic name leaves its row (with its link and cluster rows) and hides the others;
/// clearing the box shows every row again.
async fn filter_hides_what_does_not_match(browser: &Browser, shown: &[ParentedRow]) {
    let filter = browser.client.find(Locator::Id("filter")).await.unwrap();
    filter.send_keys("demo-perf").await.unwrap();
    let rows = with_parents(&browser.rows().await);
    let visible: Vec<_> = rows.iter().filter(|r| !r.5).map(|r| (&r.3, &r.2)).collect();
    let (c, l, m) = ("c".to_string(), "l".to_string(), "m".to_string());
    let (b, ab, topic) = (
        "B".to_string(),
        "ab-link".to_string(),
        "demo-perf-topic".to_string(),
    );
    assert_eq!(visible, [(&c, &b), (&l, &ab), (&m, &topic)], "{rows:?}");
    filter.clear().await.unwrap();
    filter.send_keys(" ").await.unwrap();
    let rows = browser.rows().await;
    assert_eq!(
        rows.iter().filter(|r| !r.3).count(),
        shown.len(),
        "{rows:?}"
    );
    filter.clear().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_mirror_topics_render_and_a_refresh_keeps_scroll_and_filter() {
    let (_sim, exporter) = synthetic(4, 500, 50, "2s").await;
    let base = format!("http://{}", exporter.address());
    wait_for_mirror_topics(&base, 2000).await;
    print_server_render_times(&base).await;

    let browser = Browser::start().await;
    browser
        .client
        .goto(&format!("{base}/?refresh={}", REFRESH.as_secs()))
        .await
        .unwrap();
    let timing = browser
        .js("var n=performance.getEntriesByType('navigation')[0];\
             return [n.responseEnd-n.startTime, n.domContentLoadedEventEnd-n.startTime, n.loadEventEnd-n.startTime];")
        .await;
    eprintln!("status page, 2,000 mirror topics in Chromium: [response end, DOMContentLoaded, load] = {timing} ms");
    paused_mirror_topics_come_first(&browser.rows().await);
    scroll_and_filter_survive_refreshes(&browser).await;
    browser.close().await;
    exporter.shutdown().await;
}

/// Waits until `/status.json` lists `n` mirror topics.
/// A simulator with one synthetic Cloud cluster `S` (`links` × `mirrors_per_link` mirror
/// topics of one partition, every `paused_every`-th paused) and an exporter polling it every
/// `interval`.
async fn synthetic(
    links: usize,
    mirrors_per_link: usize,
    paused_every: usize,
    interval: &str,
) -> (Simulator, Exporter) {
    let yaml = format!(
        "clusters:\n  - name: S\n    flavour: cloud\n    synthetic: {{links: {links}, \
         mirrors_per_link: {mirrors_per_link}, partitions: 1, paused_every: {paused_every}}}\n"
    );
    let sim = Simulator::start(Scenario::from_yaml(&yaml).unwrap())
        .await
        .expect("simulator starts");
    let exporter = start_exporter(&exporter_yaml(&sim, interval, &[("S", "")])).await;
    (sim, exporter)
}

async fn wait_for_mirror_topics(base: &str, n: usize) {
    let http = reqwest::Client::new();
    eventually(
        Duration::from_secs(60),
        "the mirror topics in /status.json",
        || async {
            let json: Value = http
                .get(format!("{base}/status.json"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let links = json["clusters"][0]["links"].as_array().cloned();
            let count: usize = links
                .unwrap_or_default()
                .iter()
                .map(|l| l["mirrors"].as_array().map_or(0, Vec::len))
                .sum();
            done_if(count == n, count)
        },
    )
    .await;
}

/// Prints the size of the page and the time to build and serve it, five times.
async fn print_server_render_times(base: &str) {
    let http = reqwest::Client::new();
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let page = http.get(format!("{base}/")).send().await.unwrap();
        size = page.text().await.unwrap().len();
        times.push(t.elapsed());
    }
    eprintln!("status page, 2,000 mirror topics: {size} bytes, served in {times:?}");
}

/// All 2,000 mirror topics are rows, and within a link the PAUSED ones come first.
fn paused_mirror_topics_come_first(rows: &[Row]) {
    assert_eq!(rows.iter().filter(|r| r.0 == "m").count(), 2000);
    let paused = rows.iter().filter(|r| r.0 == "m" && r.2 == "PAUSED");
    assert!(
        paused.count() > 0,
        "paused_every gives PAUSED mirror topics"
    );
    let first_active = rows
        .iter()
        .position(|r| r.0 == "m" && r.2 == "ACTIVE")
        .unwrap();
    let before: Vec<_> = rows[..first_active].iter().filter(|r| r.0 == "m").collect();
    assert!(
        !before.is_empty() && before.iter().all(|r| r.2 == "PAUSED"),
        "PAUSED mirror topics first within their link: {before:?}"
    );
}

fn visible_mirrors(rows: &[Row]) -> usize {
    rows.iter().filter(|r| r.0 == "m" && !r.3).count()
}

/// Waits until the page has refreshed itself at least `n` times.
async fn wait_for_refreshes(browser: &Browser, n: u64) {
    let what = format!("{n} refreshes");
    eventually_every(
        Duration::from_millis(200),
        (REFRESH + POLL) * 10,
        &what,
        || async {
            let done = browser.refreshes().await;
            done_if(done >= n, done)
        },
    )
    .await;
}

/// Filters (timed), scrolls, and checks that refreshes keep the scroll position and filter
/// the refreshed rows.
async fn scroll_and_filter_survive_refreshes(browser: &Browser) {
    let filter = browser.client.find(Locator::Id("filter")).await.unwrap();
    let t = Instant::now();
    filter.send_keys("topic-001").await.unwrap();
    let in_page = browser
        .js("return document.body.getAttribute('data-filter-ms');")
        .await;
    eprintln!(
        "status page, 2,000 mirror topics: filtering took {in_page} ms in the page, {:?} with the WebDriver round trip",
        t.elapsed()
    );
    // topic-00100 … topic-00199 of each of the 4 links.
    assert_eq!(visible_mirrors(&browser.rows().await), 400);
    filter.clear().await.unwrap();
    filter.send_keys("topic-0").await.unwrap();
    browser.js("window.scrollTo(0, 3000); return 0;").await;
    let y = browser.js("return window.scrollY;").await;
    assert_eq!(
        y.as_f64(),
        Some(3000.0),
        "the page is long enough to scroll"
    );
    let before = browser.refreshes().await;
    wait_for_refreshes(browser, before + 2).await;
    let y = browser.js("return window.scrollY;").await;
    assert_eq!(
        y.as_f64(),
        Some(3000.0),
        "the scroll position survives a refresh"
    );
    let refresh_ms = browser
        .js("return document.body.getAttribute('data-refresh-ms');")
        .await;
    eprintln!("status page, 2,000 mirror topics: a refresh (fetch, parse, swap, filter) took {refresh_ms} ms in Chromium");
    let value = browser
        .js("return document.getElementById('filter').value;")
        .await;
    assert_eq!(
        value,
        json!("topic-0"),
        "the filter text survives a refresh"
    );
    let rows = browser.rows().await;
    assert_eq!(
        visible_mirrors(&rows),
        2000,
        "topic-0 matches every mirror topic"
    );
    assert_eq!(rows.iter().filter(|r| r.0 == "l" && r.3).count(), 0);
    filter.clear().await.unwrap();
    filter.send_keys("topic-00042").await.unwrap();
    wait_for_refreshes(browser, before + 3).await;
    let rows = browser.rows().await;
    assert_eq!(
        visible_mirrors(&rows),
        4,
        "the filter applies to the refreshed rows"
    );
}

/// With JavaScript off the page still shows every row (no filter box, no refresh).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_javascript_every_row_is_shown() {
    let (_sim, exporter) = synthetic(2, 7, 3, "1s").await;
    let base = format!("http://{}", exporter.address());
    wait_for_mirror_topics(&base, 14).await;
    let browser = Browser::start_with(false).await;
    browser
        .client
        .goto(&format!("{base}/?refresh=1"))
        .await
        .unwrap();
    let rows = browser.rows().await;
    let shown = |class: &str| rows.iter().filter(|r| r.0 == class && !r.3).count();
    assert_eq!((shown("c"), shown("l"), shown("m")), (1, 2, 14), "{rows:?}");
    let tools = browser
        .js("return document.getElementById('tools').hidden;")
        .await;
    assert_eq!(tools, json!(true), "no filter box without JavaScript");
    let ran = browser
        .js("return document.body.hasAttribute('data-filter-ms');")
        .await;
    assert_eq!(ran, json!(false), "the page's script did not run");
    browser.close().await;
    exporter.shutdown().await;
}
