//! The simulator's REST API v3 as a client sees it: responses valid against the schemas written
//! from Confluent's OpenAPI (both flavours), every injected fault, TLS and authentication, the
//! control API and synthetic scale.

use std::time::{Duration, Instant};

use crate::common::eventually::{done_if, eventually};
use crate::common::schema::validate;
use crate::common::sim::*;
use cluster_link_sim::{Action, RestFault, Simulator};
use serde_json::{json, Value};

fn scenario(flavour: &str, extra: &str) -> String {
    format!(
        r#"
clusters:
  - name: A
    brokers: 1
    topics: [{{name: clicks, partitions: 2}}, {{name: orders, partitions: 3}}]
  - name: B
    brokers: 1
    flavour: {flavour}
    stale_unmanaged_link: true
    topics: [{{name: clicks, partitions: 2}}]
    {extra}
links:
  - name: ab
    source: A
    destination: B
    mirrors: [clicks, orders]
    configs:
      cluster.link.prefix: A_
      consumer.offset.sync.enable: true
      acl.sync.enable: true
      availability.check.ms: 300
      sasl.jaas.config: 'PlainLoginModule required username="u" password="secret-pw";'
traffic:
  - {{cluster: A, topic: orders, records_per_second: 10}}
"#
    )
}

fn assert_valid(schema: &str, doc: &Value) {
    if let Err(e) = validate(schema, doc) {
        panic!("{schema} rejects the simulator's response: {e}\n{doc:#}");
    }
}

/// Every read endpoint of both flavours validates against the committed schemas.
async fn check_read_endpoints(flavour: &str) {
    let sim = start(&scenario(flavour, "")).await;
    wait_mirror_status(&sim, "B", "ab", "A_orders", "ACTIVE").await;
    let platform = flavour == "platform";
    let base = sim.cluster("B").rest_url.clone();

    let (status, clusters) = get(&http(), &format!("{base}/clusters")).await;
    if platform {
        assert_eq!(status, 200);
        assert_valid("ClusterDataList.json", &clusters);
        assert_eq!(
            clusters["data"][0]["cluster_id"],
            sim.cluster("B").cluster_id
        );
    } else {
        assert_eq!(status, 404, "Confluent Cloud has no cluster list");
        assert_valid("Error.json", &clusters);
    }
    assert_valid("ClusterData.json", &get_ok(&sim, "B", "").await);

    let links = get_ok(&sim, "B", "/links").await;
    assert_valid("ListLinksResponseDataList.json", &links);
    let names: Vec<&str> = links["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["link_name"].as_str().unwrap())
        .collect();
    // The stale UNMANAGED_SOURCE record with an empty name is a Platform quirk.
    assert_eq!(names, if platform { vec!["ab", ""] } else { vec!["ab"] });

    let link = get_ok(&sim, "B", "/links/ab?include_tasks=true").await;
    assert_valid("ListLinksResponseData.json", &link);
    assert_eq!(link["tasks"].as_array().unwrap().len(), 4);
    assert_eq!(link.get("category_counts").is_some(), !platform);

    let configs = get_ok(&sim, "B", "/links/ab/configs").await;
    let one = get_ok(&sim, "B", "/links/ab/configs/cluster.link.prefix").await;
    if platform {
        assert_valid("ListLinkConfigsResponseDataList.platform.json", &configs);
        assert_valid("ListLinkConfigsResponseData.platform.json", &one);
        assert!(one.get("read_only").is_some() && one.get("is_read_only").is_none());
    } else {
        assert_valid("ListLinkConfigsResponseDataList.json", &configs);
        assert_valid("ListLinkConfigsResponseData.json", &one);
        assert!(one.get("is_read_only").is_some() && one.get("read_only").is_none());
    }
    assert_eq!(one["value"], "A_");
    assert!(
        !configs.to_string().contains("secret-pw"),
        "a sensitive config leaked"
    );

    let all = get_ok(&sim, "B", "/links/-/mirrors").await;
    assert_valid("ListMirrorTopicsResponseDataList.json", &all);
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    let filtered = get_ok(&sim, "B", "/links/-/mirrors?mirror_status=PAUSED").await;
    assert_valid("ListMirrorTopicsResponseDataList.json", &filtered);
    assert_eq!(filtered["data"].as_array().unwrap().len(), 0);
    let active = get_ok(&sim, "B", "/links/-/mirrors?mirror_status=ACTIVE").await;
    assert!(!active["data"].as_array().unwrap().is_empty());
    // A valid Confluent status the simulator never produces matches nothing; it is no error.
    let restore = get_ok(&sim, "B", "/links/ab/mirrors?mirror_status=PENDING_RESTORE").await;
    assert_eq!(restore["data"], json!([]));
    assert_valid(
        "ListMirrorTopicsResponseDataList.json",
        &get_ok(&sim, "B", "/links/ab/mirrors").await,
    );
    let mirror = get_ok(
        &sim,
        "B",
        "/links/ab/mirrors/A_orders?include_state_transition_errors=true",
    )
    .await;
    assert_valid("ListMirrorTopicsResponseData.json", &mirror);
    assert_eq!(mirror["source_topic_name"], "orders");
    assert_eq!(mirror["mirror_topic_error"], "NO_ERROR");
    let order: Vec<i64> = mirror["mirror_lags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["partition"].as_i64().unwrap())
        .collect();
    assert_ne!(order, [0, 1, 2], "mirror_lags must not come sorted");

    let (status, paused) = send(
        reqwest::Method::POST,
        &url(&sim, "B", "/links/ab/mirrors:pause"),
        Some(json!({"mirror_topic_names": ["A_clicks", "nope"]})),
    )
    .await;
    assert_eq!(status, 200);
    let paused: Value = serde_json::from_str(&paused).unwrap();
    assert_valid("AlterMirrorStatusResponseDataList.json", &paused);
    assert_eq!(paused["data"][1]["error_code"], 400);

    for path in [
        "/links/nope",
        "/links/ab/mirrors/nope",
        "/links/-/mirrors?mirror_status=BOGUS",
    ] {
        let (status, body) = get(&http(), &url(&sim, "B", path)).await;
        assert!(status == 404 || status == 400, "{path}: {status}");
        assert_valid("Error.json", &body);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn platform_responses_match_the_schemas() {
    check_read_endpoints("platform").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cloud_responses_match_the_schemas() {
    check_read_endpoints("cloud").await;
}

/// `category_counts` of a link object, by category.
fn category_counts(link: &Value) -> std::collections::BTreeMap<String, i64> {
    link["category_counts"]
        .as_array()
        .unwrap_or_else(|| panic!("no category_counts in {link}"))
        .iter()
        .map(|c| {
            (
                c["state_category"].as_str().unwrap().to_owned(),
                c["count"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Waits until link `link` of B, as `GET …/links/{link}` and in `GET …/links` show it, has
/// these partition counts (every other category of the spec 0).
async fn wait_category_counts(sim: &Simulator, link: &str, nonzero: &[(&str, i64)]) {
    let mut expected: std::collections::BTreeMap<String, i64> =
        ["ACTIVE", "IN_ERROR", "NOT_APPLICABLE", "PAUSED", "PENDING"]
            .into_iter()
            .map(|c| (c.to_owned(), 0))
            .collect();
    for (category, count) in nonzero {
        expected.insert((*category).to_owned(), *count);
    }
    eventually(
        Duration::from_secs(30),
        &format!("category_counts of {link} to be {expected:?}"),
        || async {
            let one = get_ok(sim, "B", &format!("/links/{link}")).await;
            assert_valid("ListLinksResponseData.json", &one);
            let all = get_ok(sim, "B", "/links").await;
            let listed = all["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["link_name"] == link)
                .cloned()
                .unwrap_or_else(|| panic!("{link} is not listed: {all}"));
            let seen = (category_counts(&one), category_counts(&listed));
            done_if(seen.0 == expected && seen.1 == expected, seen)
        },
    )
    .await;
}

/// Cloud's `category_counts` count mirror *partitions* by the category of their mirror
/// topic's state, list every category of the spec (all 0 on a new link), and follow the
/// states; Platform links have no such field.
#[tokio::test(flavor = "multi_thread")]
async fn cloud_category_counts_follow_the_mirror_partitions() {
    let sim = start(&scenario("cloud", "")).await;
    wait_mirror_status(&sim, "B", "ab", "A_clicks", "ACTIVE").await;
    wait_mirror_status(&sim, "B", "ab", "A_orders", "ACTIVE").await;
    // A_clicks has 2 partitions, A_orders 3.
    wait_category_counts(&sim, "ab", &[("ACTIVE", 5)]).await;

    sim.apply(&Action::PauseMirrors {
        cluster: "B".into(),
        link: "ab".into(),
        mirrors: vec!["A_clicks".into()],
    })
    .unwrap();
    wait_category_counts(&sim, "ab", &[("ACTIVE", 3), ("PAUSED", 2)]).await;

    sim.apply(&Action::DeleteTopic {
        cluster: "A".into(),
        topic: "orders".into(),
    })
    .unwrap();
    wait_mirror_status(&sim, "B", "ab", "A_orders", "FAILED").await;
    wait_category_counts(&sim, "ab", &[("IN_ERROR", 3), ("PAUSED", 2)]).await;

    // A new link without mirror topics: every category 0.
    let (status, body) = send(
        reqwest::Method::POST,
        &url(&sim, "B", "/links?link_name=fresh"),
        Some(json!({"source_cluster_id": sim.cluster("A").cluster_id})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    wait_category_counts(&sim, "fresh", &[]).await;

    let platform = start(&scenario("platform", "")).await;
    for path in ["/links/ab", "/links/ab?include_tasks=true"] {
        let link = get_ok(&platform, "B", path).await;
        assert!(link.get("category_counts").is_none(), "{path}: {link}");
    }
}

fn fault(sim: &Simulator, fault: RestFault, requests: Option<u32>) {
    sim.apply(&Action::RestFault {
        cluster: "B".into(),
        fault,
        requests,
    })
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn every_rest_fault_behaves_as_documented() {
    let sim = start(&scenario("platform", "")).await;
    let links = url(&sim, "B", "/links");
    let client = http();

    fault(&sim, RestFault::Latency { ms: 700 }, Some(1));
    let t = Instant::now();
    let (status, _) = get(&client, &links).await;
    assert_eq!(status, 200);
    assert!(t.elapsed() >= Duration::from_millis(700));

    fault(&sim, RestFault::Hang, Some(1));
    let short = reqwest::Client::builder()
        .timeout(Duration::from_millis(800))
        .build()
        .unwrap();
    let err = short.get(&links).send().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");

    fault(
        &sim,
        RestFault::RateLimited {
            retry_after_seconds: Some(7),
            reset_seconds: Some(9),
        },
        Some(1),
    );
    let resp = client.get(&links).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    assert_eq!(resp.headers()["ratelimit-reset"], "9");
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(resp.text().await.unwrap().contains("<html>"));

    for (kind, status, code) in [
        (RestFault::Unauthorized, 401, 40101),
        (RestFault::Forbidden, 403, 40301),
        (RestFault::ServerError, 500, 500),
    ] {
        fault(&sim, kind, Some(1));
        let (got, body) = get(&client, &links).await;
        assert_eq!(got, status);
        assert_eq!(body["error_code"], code);
        assert_valid("Error.json", &body);
    }

    for kind in [RestFault::Truncated, RestFault::Malformed] {
        fault(&sim, kind.clone(), Some(1));
        let resp = client.get(&links).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let text = resp.text().await.unwrap();
        assert!(
            serde_json::from_str::<Value>(&text).is_err(),
            "{kind:?} gave valid JSON: {text}"
        );
    }

    fault(&sim, RestFault::Reset, Some(1));
    let err = http().get(&links).send().await.unwrap_err();
    assert!(!err.is_timeout() && !err.is_status(), "{err}");

    // `requests: 1` faults clear themselves; a fault without a count stays until cleared.
    assert_eq!(get(&client, &links).await.0, 200);
    fault(&sim, RestFault::ServerError, None);
    assert_eq!(get(&client, &links).await.0, 500);
    assert_eq!(get(&client, &links).await.0, 500);
    sim.apply(&Action::ClearRestFault {
        cluster: "B".into(),
    })
    .unwrap();
    assert_eq!(get(&client, &links).await.0, 200);

    // The other cluster never saw any of it, and the request log recorded every answer.
    assert_eq!(get(&client, &url(&sim, "A", "/links")).await.0, 200);
    let statuses: Vec<u16> = sim.requests("B").iter().map(|r| r.status).collect();
    assert!(statuses.contains(&429) && statuses.contains(&403));
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_with_the_run_ca_and_mutual_tls() {
    let sim = start(&scenario("platform", "tls: true\n    client_auth: true")).await;
    let links = url(&sim, "B", "/links");
    assert!(links.starts_with("https://127.0.0.1:"));
    let ca = reqwest::Certificate::from_pem(sim.pki().ca_pem.as_bytes()).unwrap();
    let identity = reqwest::Identity::from_pem(
        format!("{}{}", sim.pki().client.cert_pem, sim.pki().client.key_pem).as_bytes(),
    )
    .unwrap();

    let untrusted = reqwest::Client::builder().build().unwrap();
    assert!(
        untrusted.get(&links).send().await.is_err(),
        "self-signed CA must not be trusted"
    );
    let no_cert = reqwest::Client::builder()
        .add_root_certificate(ca.clone())
        .build()
        .unwrap();
    assert!(
        no_cert.get(&links).send().await.is_err(),
        "mTLS requires a client cert"
    );
    let mtls = reqwest::Client::builder()
        .add_root_certificate(ca)
        .identity(identity)
        .build()
        .unwrap();
    let resp = mtls.get(&links).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_valid(
        "ListLinksResponseDataList.json",
        &resp.json().await.unwrap(),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_and_bearer_authentication() {
    let sim = start(&scenario(
        "cloud",
        "auth: {type: basic, username: APIKEY, password: APISECRET}",
    ))
    .await;
    let links = url(&sim, "B", "/links");
    let client = http();
    let (status, body) = get(&client, &links).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"error_code": 40101, "message": "Authentication failed"})
    );
    let wrong = client
        .get(&links)
        .basic_auth("APIKEY", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = client
        .get(&links)
        .basic_auth("APIKEY", Some("APISECRET"))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    drop(sim);

    let sim = start(&scenario("platform", "auth: {type: bearer, token: t0ken}")).await;
    let links = url(&sim, "B", "/links");
    let wrong = client
        .get(&links)
        .bearer_auth("other")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = client
        .get(&links)
        .bearer_auth("t0ken")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn control_api_applies_actions_over_http() {
    let sim = start(&scenario("platform", "")).await;
    wait_mirror_status(&sim, "B", "ab", "A_orders", "ACTIVE").await;
    let control = sim.control_url().to_owned();
    let (status, clusters) = get(&http(), &format!("{control}/clusters")).await;
    assert_eq!(status, 200);
    assert_eq!(clusters["clusters"][1]["name"], "B");
    assert_eq!(clusters["clusters"][1]["links"], json!(["ab"]));

    let (status, _) = send(
        reqwest::Method::POST,
        &format!("{control}/actions"),
        Some(json!({"do": "brokers_down", "cluster": "A"})),
    )
    .await;
    assert_eq!(status, 204);
    wait_mirror_status(&sim, "B", "ab", "A_orders", "SOURCE_UNAVAILABLE").await;

    let (status, body) = send(
        reqwest::Method::POST,
        &format!("{control}/actions"),
        Some(json!({"do": "brokers_down", "cluster": "Z"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("no cluster named \\\"Z\\\""), "{body}");
    let (status, body) = send(
        reqwest::Method::POST,
        &format!("{control}/actions"),
        Some(json!({"do": "explode"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("unknown variant"), "{body}");

    let (status, log) = get(&http(), &format!("{control}/clusters/B/requests")).await;
    assert_eq!(status, 200);
    assert!(log["requests"].as_array().unwrap().iter().any(|r| r["path"]
        .as_str()
        .unwrap()
        .ends_with("/links/ab/mirrors/A_orders")));
}

#[tokio::test(flavor = "multi_thread")]
async fn timeline_actions_fire_at_their_time() {
    let sim = start(
        r#"
clusters:
  - name: A
    brokers: 1
timeline:
  - {at: 2s, do: rest_fault, cluster: A, fault: {kind: server_error}}
  - {at: 8s, do: clear_rest_fault, cluster: A}
"#,
    )
    .await;
    let links = url(&sim, "A", "/links");
    let client = http();
    // Times with room for a loaded machine: 2 s to see the first answer before the fault, a
    // fault of 6 s for the 100 ms looks to catch.
    assert_eq!(get(&client, &links).await.0, 200);
    eventually(Duration::from_secs(20), "the fault to start", || async {
        let status = get(&client, &links).await.0;
        done_if(status == 500, status)
    })
    .await;
    eventually(Duration::from_secs(20), "the fault to clear", || async {
        let status = get(&client, &links).await.0;
        done_if(status == 200, status)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn synthetic_clusters_serve_generated_state_at_scale() {
    let sim = start(
        r#"
clusters:
  - name: S
    flavour: cloud
    synthetic: {links: 3, mirrors_per_link: 40, partitions: 5, max_lag: 100, period_seconds: 2, unknown_every: 11, paused_every: 10}
"#,
    )
    .await;
    let links = get_ok(&sim, "S", "/links").await;
    assert_valid("ListLinksResponseDataList.json", &links);
    assert_eq!(links["data"].as_array().unwrap().len(), 3);
    let first = get_ok(&sim, "S", "/links/-/mirrors").await;
    assert_valid("ListMirrorTopicsResponseDataList.json", &first);
    let mirrors = first["data"].as_array().unwrap();
    assert_eq!(mirrors.len(), 120);
    assert!(mirrors
        .iter()
        .all(|m| m["mirror_lags"].as_array().unwrap().len() == 5));
    assert_eq!(
        mirrors
            .iter()
            .filter(|m| m["mirror_status"] == "PAUSED")
            .count(),
        12
    );
    let lags = |doc: &Value| -> Vec<i64> {
        doc["data"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|m| m["mirror_lags"].as_array().unwrap().clone())
            .map(|l| l["lag"].as_i64().unwrap())
            .collect()
    };
    assert!(lags(&first).iter().all(|l| (0..=100).contains(l)));
    // The lag wave moves: the lags differ later (half a period: 1 s; a wait, not a sleep, so
    // that a stall of exactly one period cannot fail it).
    let first = lags(&first);
    eventually(Duration::from_secs(20), "the lags to move", || async {
        let later = lags(&get_ok(&sim, "S", "/links/-/mirrors").await);
        done_if(later != first, "the same lags")
    })
    .await;
}
