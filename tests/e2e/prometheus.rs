//! End to end with a real Prometheus server (Debian's `prometheus` package): it scrapes the
//! exporter, and every family of `docs/metrics.md` can be queried.

mod common;

use std::time::Duration;

use common::exporter::*;
use common::servers::{encode, start_prometheus};
use common::sim::http;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scrapes_the_exporter_and_every_documented_family_is_queryable() {
    let docs = documented_families();
    let running = start_with_every_family().await;
    let mut prometheus = start_prometheus(&running.exporter.address().to_string(), &[], "1s", None);
    let client = http();

    // The target is scraped successfully.
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut last = Value::Null;
    loop {
        prometheus.assert_running();
        if let Some(data) = prometheus.api(&client, "/api/v1/targets").await {
            let up = data["activeTargets"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["health"] == "up"));
            if up {
                break;
            }
            last = data;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the exporter target is not up in prometheus after {WAIT:?}; last /api/v1/targets \
             data: {last}\nprometheus log:\n{}",
            prometheus.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Every documented family returns data (counters by their `_total` sample name).
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut empty: Vec<String>;
    loop {
        prometheus.assert_running();
        empty = Vec::new();
        for doc in &docs {
            // A histogram is queried by its `_count` series.
            let series = if doc.kind == "histogram" {
                format!("{}_count", doc.name)
            } else {
                doc.name.clone()
            };
            let path = format!("/api/v1/query?query={}", encode(&series));
            let found = prometheus
                .api(&client, &path)
                .await
                .and_then(|d| d["result"].as_array().map(|r| !r.is_empty()))
                .unwrap_or(false);
            if !found {
                empty.push(doc.name.clone());
            }
        }
        if empty.is_empty() || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        empty.is_empty(),
        "documented families that returned no result from prometheus after {WAIT:?}: \
         {empty:#?}\nprometheus log:\n{}",
        prometheus.log()
    );

    drop(prometheus);
    running.stop().await;
}
