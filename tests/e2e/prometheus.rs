//! End to end with a real Prometheus server (Debian's `prometheus` package): it scrapes the
//! exporter, and every family of `docs/metrics.md` can be queried.

use std::time::Duration;

use crate::common::eventually::{done_if, eventually, eventually_every};
use crate::common::exporter::*;
use crate::common::servers::{encode, start_prometheus};
use crate::common::sim::http;

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scrapes_the_exporter_and_every_documented_family_is_queryable() {
    let docs = simulated_families();
    let running = start_with_every_family().await;
    let prometheus = start_prometheus(&running.exporter.address().to_string(), &[], "1s", None);
    let client = http();

    // The target is scraped successfully.
    eventually(WAIT, "the exporter target up in prometheus", || async {
        prometheus.assert_running();
        let data = prometheus.api(&client, "/api/v1/targets").await;
        let up = data.as_ref().is_some_and(|d| {
            d["activeTargets"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["health"] == "up"))
        });
        let log = prometheus.log();
        done_if(
            up,
            format!("/api/v1/targets data: {data:?}\nprometheus log:\n{log}"),
        )
    })
    .await;

    // Every documented family returns data (counters by their `_total` sample name).
    let what = "every documented family to return a result from prometheus";
    eventually_every(Duration::from_millis(500), WAIT, what, || async {
        prometheus.assert_running();
        let mut empty = Vec::new();
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
        let log = prometheus.log();
        done_if(
            empty.is_empty(),
            format!("empty: {empty:#?}\nprometheus log:\n{log}"),
        )
    })
    .await;

    drop(prometheus);
    running.stop().await;
}
