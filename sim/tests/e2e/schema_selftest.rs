//! Self-test of the JSON Schemas in `tests/schemas/`: every file is a valid, self-contained
//! Draft 2020-12 schema, the example bodies of Confluent's OpenAPI files (and a few
//! realistic variations of them) are accepted, and clearly broken bodies are rejected.

use std::collections::BTreeSet;

use crate::common::schema::{compile, load_schema, schema_dir, validate};
use serde_json::{json, Map, Value};

const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

const SCHEMA_FILES: [&str; 12] = [
    "AlterMirrorStatusResponseDataList.json",
    "ClusterData.json",
    "ClusterDataList.json",
    "Error.json",
    "ListLinkConfigsResponseData.json",
    "ListLinkConfigsResponseData.platform.json",
    "ListLinkConfigsResponseDataList.json",
    "ListLinkConfigsResponseDataList.platform.json",
    "ListLinksResponseData.json",
    "ListLinksResponseDataList.json",
    "ListMirrorTopicsResponseData.json",
    "ListMirrorTopicsResponseDataList.json",
];

/// `MirrorTopicStatus` of the Confluent Cloud spec, plus `UNKNOWN`.
const MIRROR_STATUSES: [&str; 13] = [
    "ACTIVE",
    "FAILED",
    "LINK_FAILED",
    "LINK_PAUSED",
    "PAUSED",
    "PENDING_STOPPED",
    "SOURCE_UNAVAILABLE",
    "STOPPED",
    "PENDING_MIRROR",
    "PENDING_SYNCHRONIZE",
    "PENDING_SETUP_FOR_RESTORE",
    "PENDING_RESTORE",
    "UNKNOWN",
];

// ------------------------------------------------------------------------------- helpers --

#[track_caller]
fn accepts(schema_file: &str, doc: &Value) {
    if let Err(errors) = validate(schema_file, doc) {
        panic!("{schema_file} rejected a valid document: {errors}\n{doc:#}");
    }
}

/// Asserts that `doc` is rejected, and that the errors mention `expect` (a property name or
/// a JSON pointer), so that the document fails for the intended reason.
#[track_caller]
fn rejects(schema_file: &str, doc: &Value, expect: &str) {
    if let Err(error) = compile(schema_file) {
        panic!("{error}");
    }
    match validate(schema_file, doc) {
        Ok(()) => panic!("{schema_file} accepted a broken document ({expect:?}):\n{doc:#}"),
        Err(errors) => assert!(
            errors.contains(expect),
            "{schema_file} rejected the document, but not because of {expect:?}: {errors}"
        ),
    }
}

/// `doc` with the value at JSON pointer `pointer` replaced by `value`.
#[track_caller]
fn set(mut doc: Value, pointer: &str, value: Value) -> Value {
    match doc.pointer_mut(pointer) {
        Some(slot) => *slot = value,
        None => panic!("fixture has no {pointer}"),
    }
    doc
}

/// `doc` without the member or array element at JSON pointer `pointer`.
#[track_caller]
fn remove(mut doc: Value, pointer: &str) -> Value {
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    match doc.pointer_mut(parent) {
        Some(Value::Object(members)) => {
            assert!(members.remove(key).is_some(), "fixture has no {pointer}");
        }
        Some(Value::Array(items)) => {
            let index: usize = key.parse().expect("an array index");
            assert!(index < items.len(), "fixture has no {pointer}");
            items.remove(index);
        }
        _ => panic!("fixture has no {parent}"),
    }
    doc
}

/// Every JSON object inside `node`, `node` included.
fn objects<'a>(node: &'a Value, out: &mut Vec<&'a Map<String, Value>>) {
    match node {
        Value::Object(members) => {
            out.push(members);
            for value in members.values() {
                objects(value, out);
            }
        }
        Value::Array(items) => {
            for value in items {
                objects(value, out);
            }
        }
        _ => {}
    }
}

// ------------------------------------------------------------------------------ fixtures --

/// `listKafkaLinks` example of the Confluent Cloud spec (ListLinksResponse).
fn links_list_spec() -> Value {
    json!({
        "kind": "KafkaLinkDataList",
        "metadata": {
            "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/Fds7TcT9TTqEXsoRLEKMcQ/links",
            "next": null
        },
        "data": [
            {
                "kind": "KafkaLinkData",
                "metadata": {
                    "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/CIL-69l7S1CwoVNAhoQLug/links/my-new-link-1",
                    "resource_name": null
                },
                "source_cluster_id": "src-cluster-id",
                "link_name": "my-new-link-1",
                "link_id": "7840644d-f7d8-4844-a577-a10ef3df31df",
                "cluster_link_id": "eEBkTffYSESld6EO898x3w",
                "topic_names": ["topic-sb-1", "topic-sb-2"],
                "link_state": "ACTIVE"
            },
            {
                "kind": "KafkaLinkData",
                "metadata": {
                    "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/CIL-69l7S1CwoVNAhoQLug/links/my-new-link-2",
                    "resource_name": null
                },
                "remote_cluster_id": "src-cluster-id",
                "link_name": "my-new-link-2",
                "link_id": "f749116e-f847-4bd2-b1f6-5c4e518a0678",
                "cluster_link_id": "90kRbvhHS9Kx9lxOUYoGeA",
                "topic_names": ["topic-db-1", "topic-db-2"],
                "link_state": "UNAVAILABLE",
                "link_error": "AUTHENTICATION_ERROR",
                "link_error_message": "Please check your api key and secret"
            },
            {
                "kind": "KafkaLinkData",
                "metadata": {
                    "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/CIL-69l7S1CwoVNAhoQLug/links/my-new-link-3",
                    "resource_name": null
                },
                "destination_cluster_id": "dest-cluster-id",
                "link_name": "my-new-link-3",
                "link_id": "9cd1711e-a4ef-4390-a35e-dfd758d97a82",
                "cluster_link_id": "nNFxHqTvQ5CjXt_XWNl6gg",
                "topic_names": [],
                "link_state": "ACTIVE"
            }
        ]
    })
}

/// `getKafkaLink` example `link_at_destination_cluster` of the Confluent Cloud spec
/// (GetLinkResponse; `resource_name` sits beside `metadata` there, an indentation slip).
fn link_at_destination_spec() -> Value {
    json!({
        "kind": "KafkaLinkData",
        "metadata": {
            "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/Fds7TcT9TTqEXsoRLEKMcQ/links/my-new-link-1"
        },
        "resource_name": null,
        "source_cluster_id": "src-cluster-id",
        "link_name": "my-new-link-1",
        "link_id": "7840644d-f7d8-4844-a577-a10ef3df31df",
        "cluster_link_id": "eEBkTffYSESld6EO898x3w",
        "topic_names": ["topic-db-1", "topic-db-2"]
    })
}

/// `getKafkaLink` example `link_at_source_cluster` of the Confluent Cloud spec.
fn link_at_source_spec() -> Value {
    json!({
        "kind": "KafkaLinkData",
        "metadata": {
            "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/Fds7TcT9TTqEXsoRLEKMcQ/links/my-new-link-1"
        },
        "resource_name": null,
        "destination_cluster_id": "dst-cluster-id",
        "link_name": "my-new-link-1",
        "link_id": "7840644d-f7d8-4844-a577-a10ef3df31df",
        "cluster_link_id": "eEBkTffYSESld6EO898x3w",
        "topic_names": []
    })
}

/// A cp-server `GET /links/{link}?include_tasks=true` body with the task error reported in
/// the field (`AclSync` in error because `acl.filters` is not set).
fn link_with_tasks() -> Value {
    json!({
        "kind": "KafkaLinkData",
        "metadata": {
            "self": "http://broker-1:8090/kafka/v3/clusters/dst-cluster-id/links/broker1",
            "resource_name": "crn:///kafka=dst-cluster-id/cluster-link=broker1"
        },
        "source_cluster_id": "src-cluster-id",
        "destination_cluster_id": null,
        "remote_cluster_id": "src-cluster-id",
        "link_name": "broker1",
        "link_id": "7840644d-f7d8-4844-a577-a10ef3df31df",
        "cluster_link_id": "eEBkTffYSESld6EO898x3w",
        "topic_names": ["broker1_clicks", "broker1_orders"],
        "link_error": "NO_ERROR",
        "link_error_message": "",
        "link_state": "ACTIVE",
        "tasks": [
            {
                "task_name": "AclSync",
                "state": "IN_ERROR",
                "errors": [
                    {
                        "error_code": "MISCONFIGURATION_ERROR",
                        "error_message": "ACL migration is enabled but acl.filters is not set"
                    }
                ]
            },
            { "task_name": "AutoCreateMirror", "state": "NOT_CONFIGURED", "errors": [] },
            { "task_name": "ConsumerOffsetSync", "state": "ACTIVE", "errors": [] },
            { "task_name": "TopicConfigsSync", "state": "ACTIVE", "errors": [] }
        ]
    })
}

/// A Confluent Cloud link that cannot reach its source, with `category_counts`.
fn link_unavailable_cloud() -> Value {
    json!({
        "kind": "KafkaLinkData",
        "metadata": {
            "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/lkc-00000/links/dr-link",
            "resource_name": null
        },
        "source_cluster_id": "lkc-11111",
        "destination_cluster_id": null,
        "remote_cluster_id": "lkc-11111",
        "link_name": "dr-link",
        "link_id": "f749116e-f847-4bd2-b1f6-5c4e518a0678",
        "cluster_link_id": "90kRbvhHS9Kx9lxOUYoGeA",
        "topic_names": ["orders"],
        "link_error": "BOOTSTRAP_TCP_CONNECTION_FAILED_ERROR",
        "link_error_message": "Failed to connect to the bootstrap servers",
        "link_state": "UNAVAILABLE",
        "tasks": null,
        "category_counts": [
            { "state_category": "ACTIVE", "count": 0 },
            { "state_category": "IN_ERROR", "count": 1 },
            { "state_category": "PAUSED", "count": 0 },
            { "state_category": "PENDING", "count": 0 },
            { "state_category": "NOT_APPLICABLE", "count": 0 }
        ]
    })
}

/// `listKafkaMirrorTopicsUnderLink` example of the Confluent Cloud spec
/// (ListMirrorTopicsResponse).
fn mirrors_list_spec() -> Value {
    json!({
        "kind": "KafkaMirrorDataList",
        "metadata": {
            "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/cluster-1/link/link-1/mirrors",
            "resource_name": "crn:///kafka=cluster-1",
            "next": null
        },
        "data": [
            {
                "kind": "KafkaMirrorData",
                "metadata": {
                    "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/Fds7TcT9TTqEXsoRLEKMcQ/links/link-1/mirrors/topic-1",
                    "resource_name": "crn:///kafka=cluster-1"
                },
                "link_name": "link-sb-1",
                "resource_name": "crn:///kafka=cluster-1",
                "mirror_topic_name": "topic-1",
                "source_topic_name": "topic-1",
                "num_partitions": 3,
                "mirror_lags": [
                    { "partition": 0, "lag": 0, "last_source_fetch_offset": 0 },
                    { "partition": 1, "lag": 10000, "last_source_fetch_offset": 1000 },
                    { "partition": 2, "lag": 40000, "last_source_fetch_offset": 12030 }
                ],
                "mirror_status": "ACTIVE",
                "state_time_ms": 1612550939300_i64
            },
            {
                "kind": "KafkaMirrorData",
                "metadata": {
                    "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/Fds7TcT9TTqEXsoRLEKMcQ/links/link-1/mirrors/topic-2",
                    "resource_name": "crn:///kafka=cluster-1"
                },
                "link_name": "link-sb-2",
                "resource_name": "crn:///kafka=cluster-1",
                "mirror_topic_name": "topic-2",
                "source_topic_name": "topic-2",
                "num_partitions": 3,
                "mirror_lags": [
                    { "partition": 0, "lag": 0, "last_source_fetch_offset": 0 },
                    { "partition": 1, "lag": 10000, "last_source_fetch_offset": 1000 },
                    { "partition": 2, "lag": 40000, "last_source_fetch_offset": 12030 }
                ],
                "mirror_status": "STOPPED",
                "state_time_ms": 1612551353640_i64
            }
        ]
    })
}

/// `GET /links/-/mirrors` on cp-server: a prefixed mirror whose `mirror_lags` are not sorted
/// by partition and whose partition 1 was never fetched (`last_source_fetch_offset` -1), a
/// mirror whose source is unreachable, and one in the `UNKNOWN` state.
fn mirrors_list_cp_server() -> Value {
    json!({
        "kind": "KafkaMirrorDataList",
        "metadata": {
            "self": "http://broker-1:8090/kafka/v3/clusters/dst-cluster-id/links/-/mirrors",
            "next": null
        },
        "data": [
            {
                "kind": "KafkaMirrorData",
                "metadata": {
                    "self": "http://broker-1:8090/kafka/v3/clusters/dst-cluster-id/links/broker1/mirrors/broker1_clicks",
                    "resource_name": "crn:///kafka=dst-cluster-id/cluster-link=broker1/topic=broker1_clicks"
                },
                "link_name": "broker1",
                "mirror_topic_name": "broker1_clicks",
                "source_topic_name": "clicks",
                "num_partitions": 3,
                "mirror_lags": [
                    { "partition": 2, "lag": 17, "last_source_fetch_offset": 90210 },
                    { "partition": 0, "lag": 0, "last_source_fetch_offset": 120533 },
                    { "partition": 1, "lag": 0, "last_source_fetch_offset": -1 }
                ],
                "mirror_status": "ACTIVE",
                "mirror_topic_error": "NO_ERROR",
                "state_time_ms": 1717171717171_i64
            },
            {
                "kind": "KafkaMirrorData",
                "metadata": {
                    "self": "http://broker-1:8090/kafka/v3/clusters/dst-cluster-id/links/broker1/mirrors/broker1_orders",
                    "resource_name": null
                },
                "link_name": "broker1",
                "mirror_topic_name": "broker1_orders",
                "source_topic_name": "orders",
                "num_partitions": 2,
                "mirror_lags": [
                    { "partition": 1, "lag": 5210, "last_source_fetch_offset": 880 },
                    { "partition": 0, "lag": 4999, "last_source_fetch_offset": 1001 }
                ],
                "mirror_status": "SOURCE_UNAVAILABLE",
                "state_time_ms": 1717171800000_i64
            },
            {
                "kind": "KafkaMirrorData",
                "metadata": {
                    "self": "http://broker-1:8090/kafka/v3/clusters/dst-cluster-id/links/legacy/mirrors/audit"
                },
                "link_name": "legacy",
                "mirror_topic_name": "audit",
                "source_topic_name": "audit",
                "num_partitions": 1,
                "mirror_lags": [],
                "mirror_status": "UNKNOWN",
                "state_time_ms": 0
            }
        ]
    })
}

/// `readKafkaMirrorTopic` example of the Confluent Cloud spec (DescribeMirrorTopicResponse).
fn mirror_spec() -> Value {
    json!({
        "kind": "KafkaMirrorData",
        "metadata": {
            "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/cluster-1/link/link-1/mirrors/topic-1",
            "resource_name": "crn:///kafka=cluster-1"
        },
        "link_name": "link-sb-1",
        "mirror_topic_name": "topic-1",
        "source_topic_name": "topic-1",
        "num_partitions": 3,
        "mirror_lags": [
            { "partition": 0, "lag": 0, "last_source_fetch_offset": 0 },
            { "partition": 1, "lag": 10000, "last_source_fetch_offset": 1000 },
            { "partition": 2, "lag": 40000, "last_source_fetch_offset": 12030 }
        ],
        "mirror_status": "ACTIVE",
        "state_time_ms": 1612550939300_i64
    })
}

/// A failed mirror read with `include_state_transition_errors=true`.
fn mirror_failed() -> Value {
    json!({
        "kind": "KafkaMirrorData",
        "metadata": {
            "self": "http://broker-1:8090/kafka/v3/clusters/dst-cluster-id/links/broker1/mirrors/broker1_payments",
            "resource_name": null
        },
        "link_name": "broker1",
        "mirror_topic_name": "broker1_payments",
        "source_topic_name": "payments",
        "num_partitions": 2,
        "mirror_lags": [
            { "partition": 1, "lag": 0, "last_source_fetch_offset": 4410 },
            { "partition": 0, "lag": 0, "last_source_fetch_offset": 4377 }
        ],
        "mirror_status": "FAILED",
        "mirror_topic_error": "SOURCE_TOPIC_MAY_BE_DELETED",
        "state_time_ms": 1717172000000_i64,
        "mirror_state_transition_errors": [
            {
                "error_code": "UNKNOWN_TOPIC_OR_PARTITION_ERROR",
                "error_message": "Source topic 'payments' may have been deleted"
            }
        ]
    })
}

/// `listKafkaLinkConfigs` example of the Confluent Cloud spec (ListLinkConfigsResponse).
fn configs_list_cloud_spec() -> Value {
    json!({
        "kind": "KafkaLinkConfigDataList",
        "metadata": {
            "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/v-0Ce-CkTyKQol9v46LaCQ/links/link-nb-1/configs",
            "next": null
        },
        "data": [
            {
                "kind": "KafkaLinkConfigData",
                "metadata": {
                    "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/1Rh_4htxSuen7RYGvGmgNw/links/my-new-link-1",
                    "resource_name": null
                },
                "cluster_id": "1Rh_4htxSuen7RYGvGmgNw",
                "name": "consumer.offset.sync.ms",
                "value": "3825940",
                "is_default": false,
                "is_read_only": false,
                "is_sensitive": false,
                "source": "DYNAMIC_CLUSTER_LINK_CONFIG",
                "synonyms": ["cosm"],
                "link_name": "link-db-1"
            },
            {
                "kind": "KafkaLinkConfigData",
                "metadata": {
                    "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/1Rh_4htxSuen7RYGvGmgNw/links/my-new-link-1",
                    "resource_name": null
                },
                "cluster_id": "1Rh_4htxSuen7RYGvGmgNw",
                "name": "acl.sync.ms",
                "value": "5000",
                "is_default": false,
                "is_read_only": false,
                "is_sensitive": false,
                "source": "DYNAMIC_CLUSTER_LINK_CONFIG",
                "synonyms": ["asm"],
                "link_name": "link-db-1"
            }
        ]
    })
}

/// `getKafkaLinkConfigs` example of the Confluent Cloud spec (GetLinkConfigsResponse).
fn config_cloud_spec() -> Value {
    json!({
        "kind": "KafkaLinkConfigData",
        "metadata": {
            "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/1Rh_4htxSuen7RYGvGmgNw/links/my-new-link-1",
            "resource_name": null
        },
        "cluster_id": "1Rh_4htxSuen7RYGvGmgNw",
        "name": "consumer.offset.sync.ms",
        "value": "3825940",
        "is_default": false,
        "is_read_only": false,
        "is_sensitive": false,
        "source": "DYNAMIC_CLUSTER_LINK_CONFIG",
        "synonyms": ["cosm"],
        "link_name": "link-db-1"
    })
}

/// A sensitive Confluent Cloud link config: the value comes back null.
fn config_cloud_sensitive() -> Value {
    json!({
        "kind": "KafkaLinkConfigData",
        "metadata": {
            "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/lkc-00000/links/dr-link/configs/sasl.jaas.config",
            "resource_name": null
        },
        "cluster_id": "lkc-00000",
        "name": "sasl.jaas.config",
        "value": null,
        "is_default": false,
        "is_read_only": false,
        "is_sensitive": true,
        "source": "DYNAMIC_CLUSTER_LINK_CONFIG",
        "synonyms": [],
        "link_name": "dr-link"
    })
}

/// `listKafkaLinkConfigs` example of the Confluent Platform spec.
fn configs_list_platform_spec() -> Value {
    json!({
        "kind": "KafkaLinkConfigDataList",
        "metadata": {
            "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/v-0Ce-CkTyKQol9v46LaCQ/links/link-nb-1/configs",
            "next": null
        },
        "data": [
            {
                "kind": "KafkaLinkConfigData",
                "metadata": {
                    "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/1Rh_4htxSuen7RYGvGmgNw/links/my-new-link-1",
                    "resource_name": null
                },
                "cluster_id": "1Rh_4htxSuen7RYGvGmgNw",
                "name": "consumer.offset.sync.ms",
                "value": "3825940",
                "default": false,
                "read_only": false,
                "sensitive": false,
                "source": "DYNAMIC_CLUSTER_LINK_CONFIG",
                "synonyms": ["cosm"],
                "link_name": "link-db-1",
                "link_id": "7840644d-f7d8-4844-a577-a10ef3df31df"
            },
            {
                "kind": "KafkaLinkConfigData",
                "metadata": {
                    "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/1Rh_4htxSuen7RYGvGmgNw/links/my-new-link-1",
                    "resource_name": null
                },
                "cluster_id": "1Rh_4htxSuen7RYGvGmgNw",
                "name": "acl.sync.ms",
                "value": "5000",
                "default": false,
                "read_only": false,
                "sensitive": false,
                "source": "DYNAMIC_CLUSTER_LINK_CONFIG",
                "synonyms": ["asm"],
                "link_name": "link-db-1",
                "link_id": "7840644d-f7d8-4844-a577-a10ef3df31df"
            }
        ]
    })
}

/// `getKafkaLinkConfigs` example of the Confluent Platform spec (with its extra `link_id`
/// and `topics`).
fn config_platform_spec() -> Value {
    json!({
        "kind": "KafkaLinkConfigData",
        "metadata": {
            "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/1Rh_4htxSuen7RYGvGmgNw/links/my-new-link-1",
            "resource_name": null
        },
        "cluster_id": "1Rh_4htxSuen7RYGvGmgNw",
        "name": "consumer.offset.sync.ms",
        "value": "3825940",
        "default": false,
        "read_only": false,
        "sensitive": false,
        "source": "DYNAMIC_CLUSTER_LINK_CONFIG",
        "synonyms": ["cosm"],
        "link_name": "link-db-1",
        "link_id": "7840644d-f7d8-4844-a577-a10ef3df31df",
        "topics": ["topic-db-1", "topic-db-2"]
    })
}

/// `listKafkaClusters` example of the Confluent Platform spec (ListClustersResponse).
fn clusters_list_spec() -> Value {
    json!({
        "kind": "KafkaClusterList",
        "metadata": {
            "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters",
            "next": null
        },
        "data": [
            {
                "kind": "KafkaCluster",
                "metadata": {
                    "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/cluster-1",
                    "resource_name": "crn:///kafka=cluster-1"
                },
                "cluster_id": "cluster-1",
                "controller": {
                    "related": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/cluster-1/brokers/1"
                },
                "acls": {
                    "related": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/cluster-1/acls"
                },
                "brokers": {
                    "related": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/cluster-1/brokers"
                },
                "broker_configs": {
                    "related": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/cluster-1/broker-configs"
                },
                "consumer_groups": {
                    "related": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/cluster-1/consumer-groups"
                },
                "topics": {
                    "related": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/cluster-1/topics"
                },
                "partition_reassignments": {
                    "related": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/cluster-1/topics/-/partitions/-/reassignment"
                }
            }
        ]
    })
}

/// `getKafkaCluster` example of the Confluent Cloud spec (GetClusterResponse).
fn cluster_spec() -> Value {
    json!({
        "kind": "KafkaCluster",
        "metadata": {
            "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/cluster-1",
            "resource_name": "crn:///kafka=cluster-1"
        },
        "cluster_id": "cluster-1",
        "controller": {
            "related": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/cluster-1/brokers/1"
        },
        "acls": {
            "related": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/cluster-1/acls"
        },
        "brokers": {
            "related": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/cluster-1/brokers"
        },
        "broker_configs": {
            "related": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/cluster-1/broker-configs"
        },
        "consumer_groups": {
            "related": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/cluster-1/consumer-groups"
        },
        "topics": {
            "related": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/cluster-1/topics"
        },
        "partition_reassignments": {
            "related": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/cluster-1/topics/-/partitions/-/reassignment"
        }
    })
}

/// `updateKafkaMirrorTopicsPromote` example of the Confluent Cloud spec
/// (AlterMirrorStatusResponse; the same example is given for failover, pause and resume).
fn alter_mirrors_spec() -> Value {
    json!({
        "kind": "KafkaPromoteMirror",
        "metadata": {
            "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/cluster-1/links/link-1/mirrors",
            "resource_name": "crn:///kafka=cluster-1"
        },
        "data": [
            {
                "kind": "AlterMirrorsData",
                "metadata": {
                    "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/cluster-1/links/my-new-link-1/mirrors/topic-1",
                    "resource": "crn:///kafka=cluster-1"
                },
                "mirror_topic_name": "topic-sb",
                "error_code": null,
                "error_message": null,
                "mirror_lags": [
                    { "partition": 0, "lag": 0, "last_source_fetch_offset": 0 },
                    { "partition": 1, "lag": 10000, "last_source_fetch_offset": 1000 },
                    { "partition": 2, "lag": 40000, "last_source_fetch_offset": 12030 }
                ],
                "messages_truncated": null,
                "partition_level_truncation_data": [
                    { "partition_id": 0, "offset_truncated_to": 10000, "messages_truncated": 10000 },
                    { "partition_id": 1, "offset_truncated_to": 40000, "messages_truncated": 12030 },
                    { "partition_id": 2, "offset_truncated_to": 20000, "messages_truncated": 20000 }
                ]
            },
            {
                "kind": "AlterMirrorsData",
                "metadata": {
                    "self": "https://pkc-00000.region.provider.confluent.cloud/kafka/v3/clusters/cluster-1/links/my-new-link-1/mirrors/topic-2",
                    "resource": "crn:///kafka=cluster-1"
                },
                "mirror_topic_name": "topic-2",
                "error_code": 400,
                "error_message": "Topic 'topic-2' has already stopped its mirror from 'my-new-link-1'",
                "mirror_lags": [
                    { "partition": 0, "lag": 0, "last_source_fetch_offset": 0 },
                    { "partition": 1, "lag": 10000, "last_source_fetch_offset": 1000 },
                    { "partition": 2, "lag": 40000, "last_source_fetch_offset": 12030 }
                ],
                "messages_truncated": null,
                "partition_level_truncation_data": [
                    { "partition_id": 0, "offset_truncated_to": 10000, "messages_truncated": 10000 },
                    { "partition_id": 1, "offset_truncated_to": 40000, "messages_truncated": 12030 },
                    { "partition_id": 2, "offset_truncated_to": 20000, "messages_truncated": 20000 }
                ]
            }
        ]
    })
}

/// A cp-server 404 for an unknown link.
fn error_link_not_found() -> Value {
    json!({ "error_code": 404, "message": "The cluster link doesn't exist: " })
}

// ------------------------------------------------------------------------ schema files --

#[test]
fn schema_directory_holds_exactly_the_expected_files() {
    let found: BTreeSet<String> = std::fs::read_dir(schema_dir())
        .expect("tests/schemas exists")
        .map(|entry| entry.expect("readable entry").file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    let expected: BTreeSet<String> = SCHEMA_FILES.iter().map(|s| s.to_string()).collect();
    assert_eq!(found, expected);
}

#[test]
fn every_schema_is_draft_2020_12_and_compiles() {
    for file in SCHEMA_FILES {
        let schema = load_schema(file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(schema["$schema"], DRAFT_2020_12, "{file}: $schema");
        if let Err(error) = jsonschema::draft202012::meta::validate(&schema) {
            panic!("{file} is not a valid Draft 2020-12 schema: {error}");
        }
        if let Err(error) = compile(file) {
            panic!("{error}");
        }
    }
}

#[test]
fn every_schema_is_self_contained_and_open() {
    for file in SCHEMA_FILES {
        let schema = load_schema(file).unwrap_or_else(|e| panic!("{e}"));
        let mut all = Vec::new();
        objects(&schema, &mut all);
        for object in all {
            if let Some(target) = object.get("$ref") {
                let target = target.as_str().expect("$ref is a string");
                assert!(
                    target.starts_with("#/$defs/"),
                    "{file}: $ref {target} leaves the file"
                );
                assert!(
                    schema.pointer(&target[1..]).is_some(),
                    "{file}: $ref {target} is dangling"
                );
            }
            assert_ne!(
                object.get("additionalProperties"),
                Some(&Value::Bool(false)),
                "{file}: objects must stay open to new fields"
            );
        }
    }
}

#[test]
fn helper_reports_every_error_and_unknown_files() {
    let doc = remove(
        set(mirror_spec(), "/mirror_lags/0/lag", json!("0")),
        "/mirror_lags/1/partition",
    );
    let errors = validate("ListMirrorTopicsResponseData.json", &doc).unwrap_err();
    assert!(errors.contains("/mirror_lags/0/lag"), "{errors}");
    assert!(errors.contains("\"partition\""), "{errors}");
    let missing = validate("NoSuchSchema.json", &doc).unwrap_err();
    assert!(missing.contains("NoSuchSchema.json"), "{missing}");
}

// ----------------------------------------------------------------------------- links --

#[test]
fn links_list_accepts_spec_and_realistic_bodies() {
    let file = "ListLinksResponseDataList.json";
    accepts(file, &links_list_spec());
    let mut realistic = links_list_spec();
    realistic["data"] = json!([link_with_tasks(), link_unavailable_cloud()]);
    accepts(file, &realistic);
    accepts(file, &set(links_list_spec(), "/data", json!([])));
    // An older cp-server leaves link_error empty; an UNMANAGED_SOURCE record has no name.
    accepts(
        file,
        &set(links_list_spec(), "/data/1/link_error", json!("")),
    );
    accepts(
        file,
        &set(links_list_spec(), "/data/0/link_name", json!("")),
    );
}

#[test]
fn links_list_rejects_broken_bodies() {
    let file = "ListLinksResponseDataList.json";
    rejects(
        file,
        &remove(links_list_spec(), "/metadata/self"),
        "\"self\"",
    );
    rejects(file, &remove(links_list_spec(), "/data"), "\"data\"");
    rejects(file, &remove(links_list_spec(), "/kind"), "\"kind\"");
    rejects(
        file,
        &remove(links_list_spec(), "/data/1/cluster_link_id"),
        "\"cluster_link_id\"",
    );
    rejects(
        file,
        &set(
            links_list_spec(),
            "/data/0/topic_names",
            json!("topic-sb-1"),
        ),
        "/data/0/topic_names",
    );
    rejects(
        file,
        &set(links_list_spec(), "/metadata/next", json!(2)),
        "/metadata/next",
    );
    rejects(
        file,
        &set(links_list_spec(), "/kind", json!("KafkaLinkData")),
        "/kind",
    );
    rejects(
        file,
        &set(links_list_spec(), "/data/2/kind", json!("KafkaMirrorData")),
        "/data/2/kind",
    );
    rejects(file, &error_link_not_found(), "\"kind\"");
}

#[test]
fn link_accepts_spec_and_realistic_bodies() {
    let file = "ListLinksResponseData.json";
    accepts(file, &link_at_destination_spec());
    accepts(file, &link_at_source_spec());
    accepts(file, &link_with_tasks());
    accepts(file, &link_unavailable_cloud());
    // Nullable fields.
    for pointer in [
        "/source_cluster_id",
        "/remote_cluster_id",
        "/link_error_message",
        "/tasks",
    ] {
        accepts(file, &set(link_with_tasks(), pointer, Value::Null));
    }
    accepts(
        file,
        &set(link_unavailable_cloud(), "/category_counts", Value::Null),
    );
}

#[test]
fn link_enum_like_fields_are_open() {
    let file = "ListLinksResponseData.json";
    accepts(
        file,
        &set(link_with_tasks(), "/link_state", json!("SOME_FUTURE_STATE")),
    );
    accepts(
        file,
        &set(link_with_tasks(), "/link_error", json!("SOME_FUTURE_ERROR")),
    );
    accepts(
        file,
        &set(
            link_with_tasks(),
            "/tasks/0/state",
            json!("SOME_FUTURE_STATE"),
        ),
    );
    accepts(
        file,
        &set(
            link_with_tasks(),
            "/tasks/0/errors/0/error_code",
            json!("SOME_FUTURE_ERROR"),
        ),
    );
    accepts(
        file,
        &set(
            link_unavailable_cloud(),
            "/category_counts/0/state_category",
            json!("SOME_FUTURE_CATEGORY"),
        ),
    );
}

#[test]
fn link_rejects_broken_bodies() {
    let file = "ListLinksResponseData.json";
    rejects(
        file,
        &remove(link_with_tasks(), "/metadata"),
        "\"metadata\"",
    );
    rejects(
        file,
        &remove(link_with_tasks(), "/metadata/self"),
        "\"self\"",
    );
    rejects(
        file,
        &remove(link_with_tasks(), "/link_name"),
        "\"link_name\"",
    );
    rejects(
        file,
        &remove(link_with_tasks(), "/topic_names"),
        "\"topic_names\"",
    );
    rejects(
        file,
        &set(link_with_tasks(), "/kind", json!("KafkaLinkDataList")),
        "/kind",
    );
    rejects(
        file,
        &set(link_with_tasks(), "/link_state", Value::Null),
        "/link_state",
    );
    rejects(
        file,
        &set(link_with_tasks(), "/link_error_message", json!(5)),
        "/link_error_message",
    );
    rejects(
        file,
        &remove(link_with_tasks(), "/tasks/0/errors"),
        "\"errors\"",
    );
    rejects(
        file,
        &remove(link_with_tasks(), "/tasks/0/errors/0/error_message"),
        "\"error_message\"",
    );
    rejects(
        file,
        &set(
            link_unavailable_cloud(),
            "/category_counts/1/count",
            json!("1"),
        ),
        "/category_counts/1/count",
    );
    rejects(
        file,
        &set(
            link_unavailable_cloud(),
            "/category_counts/1/count",
            json!(2_147_483_648_i64),
        ),
        "/category_counts/1/count",
    );
}

// --------------------------------------------------------------------------- mirrors --

#[test]
fn mirrors_list_accepts_spec_and_realistic_bodies() {
    let file = "ListMirrorTopicsResponseDataList.json";
    accepts(file, &mirrors_list_spec());
    accepts(file, &mirrors_list_cp_server());
    accepts(file, &set(mirrors_list_spec(), "/data", json!([])));
}

#[test]
fn mirrors_list_rejects_broken_bodies() {
    let file = "ListMirrorTopicsResponseDataList.json";
    rejects(
        file,
        &remove(mirrors_list_spec(), "/metadata/self"),
        "\"self\"",
    );
    rejects(
        file,
        &set(
            mirrors_list_spec(),
            "/data/0/mirror_lags/1/lag",
            json!("10000"),
        ),
        "/data/0/mirror_lags/1/lag",
    );
    rejects(
        file,
        &remove(mirrors_list_cp_server(), "/data/0/mirror_lags/2/partition"),
        "\"partition\"",
    );
    rejects(
        file,
        &remove(
            mirrors_list_cp_server(),
            "/data/1/mirror_lags/0/last_source_fetch_offset",
        ),
        "\"last_source_fetch_offset\"",
    );
    rejects(
        file,
        &set(
            mirrors_list_spec(),
            "/data/0/mirror_lags/2/lag",
            json!(9_223_372_036_854_775_808_u64),
        ),
        "/data/0/mirror_lags/2/lag",
    );
    rejects(
        file,
        &set(mirrors_list_spec(), "/data/1/mirror_status", json!("BOGUS")),
        "/data/1/mirror_status",
    );
    rejects(
        file,
        &remove(mirrors_list_spec(), "/data/0/state_time_ms"),
        "\"state_time_ms\"",
    );
    rejects(
        file,
        &set(mirrors_list_spec(), "/data/0/num_partitions", json!(3.5)),
        "/data/0/num_partitions",
    );
    rejects(
        file,
        &set(mirrors_list_spec(), "/kind", json!("KafkaMirrorData")),
        "/kind",
    );
}

#[test]
fn mirror_accepts_spec_and_realistic_bodies() {
    let file = "ListMirrorTopicsResponseData.json";
    accepts(file, &mirror_spec());
    accepts(file, &mirror_failed());
    for status in MIRROR_STATUSES {
        accepts(file, &set(mirror_spec(), "/mirror_status", json!(status)));
    }
    accepts(
        file,
        &set(
            mirror_failed(),
            "/mirror_topic_error",
            json!("SOME_FUTURE_ERROR"),
        ),
    );
    accepts(
        file,
        &set(
            mirror_failed(),
            "/mirror_state_transition_errors/0/error_code",
            json!("SOME_FUTURE_ERROR"),
        ),
    );
}

#[test]
fn mirror_rejects_broken_bodies() {
    let file = "ListMirrorTopicsResponseData.json";
    rejects(
        file,
        &set(mirror_spec(), "/mirror_status", json!("NOT_A_STATUS")),
        "/mirror_status",
    );
    rejects(
        file,
        &set(mirror_spec(), "/mirror_status", json!("active")),
        "/mirror_status",
    );
    rejects(
        file,
        &remove(mirror_spec(), "/mirror_lags"),
        "\"mirror_lags\"",
    );
    rejects(
        file,
        &set(mirror_spec(), "/mirror_lags", json!({ "0": 0 })),
        "/mirror_lags",
    );
    rejects(
        file,
        &remove(mirror_spec(), "/mirror_lags/0/partition"),
        "\"partition\"",
    );
    rejects(
        file,
        &set(mirror_spec(), "/state_time_ms", json!("1612550939300")),
        "/state_time_ms",
    );
    rejects(
        file,
        &remove(
            mirror_failed(),
            "/mirror_state_transition_errors/0/error_code",
        ),
        "\"error_code\"",
    );
    rejects(
        file,
        &set(mirror_spec(), "/kind", json!("KafkaMirrorDataList")),
        "/kind",
    );
}

// --------------------------------------------------------------------------- configs --

#[test]
fn configs_cloud_accept_spec_and_sensitive_bodies() {
    accepts(
        "ListLinkConfigsResponseDataList.json",
        &configs_list_cloud_spec(),
    );
    let mut with_sensitive = configs_list_cloud_spec();
    with_sensitive["data"]
        .as_array_mut()
        .expect("data is an array")
        .push(config_cloud_sensitive());
    accepts("ListLinkConfigsResponseDataList.json", &with_sensitive);
    accepts("ListLinkConfigsResponseData.json", &config_cloud_spec());
    accepts(
        "ListLinkConfigsResponseData.json",
        &config_cloud_sensitive(),
    );
}

#[test]
fn configs_cloud_reject_broken_and_platform_bodies() {
    let list = "ListLinkConfigsResponseDataList.json";
    let one = "ListLinkConfigsResponseData.json";
    rejects(
        list,
        &remove(configs_list_cloud_spec(), "/data/0/is_sensitive"),
        "\"is_sensitive\"",
    );
    rejects(
        list,
        &remove(configs_list_cloud_spec(), "/metadata/self"),
        "\"self\"",
    );
    rejects(list, &configs_list_platform_spec(), "\"is_default\"");
    rejects(one, &config_platform_spec(), "\"is_read_only\"");
    rejects(one, &set(config_cloud_spec(), "/value", json!(5)), "/value");
    rejects(
        one,
        &set(config_cloud_spec(), "/is_read_only", json!("false")),
        "/is_read_only",
    );
    rejects(
        one,
        &set(
            config_cloud_spec(),
            "/synonyms",
            json!([{ "name": "cosm", "source": "DYNAMIC_CLUSTER_LINK_CONFIG" }]),
        ),
        "/synonyms/0",
    );
    rejects(
        one,
        &set(
            config_cloud_spec(),
            "/kind",
            json!("KafkaLinkConfigDataList"),
        ),
        "/kind",
    );
}

#[test]
fn configs_platform_accept_spec_and_sensitive_bodies() {
    let list = "ListLinkConfigsResponseDataList.platform.json";
    let one = "ListLinkConfigsResponseData.platform.json";
    accepts(list, &configs_list_platform_spec());
    accepts(one, &config_platform_spec());
    let sensitive = set(
        set(config_platform_spec(), "/value", Value::Null),
        "/sensitive",
        json!(true),
    );
    accepts(one, &sensitive);
}

#[test]
fn configs_platform_reject_broken_and_cloud_bodies() {
    let list = "ListLinkConfigsResponseDataList.platform.json";
    let one = "ListLinkConfigsResponseData.platform.json";
    rejects(list, &configs_list_cloud_spec(), "\"read_only\"");
    rejects(one, &config_cloud_sensitive(), "\"sensitive\"");
    rejects(
        one,
        &remove(config_platform_spec(), "/default"),
        "\"default\"",
    );
    rejects(
        one,
        &set(config_platform_spec(), "/read_only", json!("no")),
        "/read_only",
    );
    rejects(
        list,
        &remove(configs_list_platform_spec(), "/data/1/link_name"),
        "\"link_name\"",
    );
}

// -------------------------------------------------------------------------- clusters --

#[test]
fn clusters_accept_spec_bodies() {
    accepts("ClusterDataList.json", &clusters_list_spec());
    accepts("ClusterData.json", &cluster_spec());
    // `controller` is the one optional relationship.
    accepts("ClusterData.json", &remove(cluster_spec(), "/controller"));
}

#[test]
fn clusters_reject_broken_bodies() {
    rejects(
        "ClusterDataList.json",
        &remove(clusters_list_spec(), "/metadata/self"),
        "\"self\"",
    );
    rejects(
        "ClusterDataList.json",
        &remove(clusters_list_spec(), "/data/0/cluster_id"),
        "\"cluster_id\"",
    );
    rejects(
        "ClusterDataList.json",
        &set(clusters_list_spec(), "/kind", json!("KafkaCluster")),
        "/kind",
    );
    rejects(
        "ClusterData.json",
        &remove(cluster_spec(), "/topics/related"),
        "\"related\"",
    );
    rejects(
        "ClusterData.json",
        &set(cluster_spec(), "/kind", json!("KafkaClusterList")),
        "/kind",
    );
    rejects("ClusterData.json", &error_link_not_found(), "\"kind\"");
}

// ---------------------------------------------------------------------------- errors --

#[test]
fn error_accepts_spec_bodies() {
    accepts("Error.json", &error_link_not_found());
    accepts(
        "Error.json",
        &json!({ "error_code": 40101, "message": "Authentication failed" }),
    );
    accepts(
        "Error.json",
        &json!({ "error_code": 40403, "message": "This server does not host this topic-partition." }),
    );
    accepts("Error.json", &json!({ "error_code": 500, "message": null }));
}

#[test]
fn error_rejects_broken_bodies() {
    rejects(
        "Error.json",
        &set(error_link_not_found(), "/error_code", json!("404")),
        "/error_code",
    );
    rejects(
        "Error.json",
        &set(
            error_link_not_found(),
            "/error_code",
            json!(2_147_483_648_i64),
        ),
        "/error_code",
    );
    rejects(
        "Error.json",
        &remove(error_link_not_found(), "/message"),
        "\"message\"",
    );
    rejects(
        "Error.json",
        &remove(error_link_not_found(), "/error_code"),
        "\"error_code\"",
    );
}

// --------------------------------------------------------------------- alter mirrors --

#[test]
fn alter_mirrors_accepts_spec_bodies() {
    let file = "AlterMirrorStatusResponseDataList.json";
    accepts(file, &alter_mirrors_spec());
    accepts(file, &set(alter_mirrors_spec(), "/data", json!([])));
    accepts(
        file,
        &set(
            alter_mirrors_spec(),
            "/data/0/messages_truncated",
            json!(42),
        ),
    );
}

#[test]
fn alter_mirrors_rejects_broken_bodies() {
    let file = "AlterMirrorStatusResponseDataList.json";
    rejects(
        file,
        &remove(
            alter_mirrors_spec(),
            "/data/0/partition_level_truncation_data",
        ),
        "\"partition_level_truncation_data\"",
    );
    rejects(
        file,
        &remove(alter_mirrors_spec(), "/data/1/error_code"),
        "\"error_code\"",
    );
    rejects(
        file,
        &set(
            alter_mirrors_spec(),
            "/data/0/mirror_lags/1/lag",
            json!("x"),
        ),
        "/data/0/mirror_lags/1/lag",
    );
    rejects(
        file,
        &remove(alter_mirrors_spec(), "/data/0/mirror_lags/0/partition"),
        "\"partition\"",
    );
    rejects(
        file,
        &set(alter_mirrors_spec(), "/kind", json!("KafkaMirrorDataList")),
        "/kind",
    );
    rejects(
        file,
        &set(
            alter_mirrors_spec(),
            "/data/0/kind",
            json!("KafkaMirrorData"),
        ),
        "/data/0/kind",
    );
}
