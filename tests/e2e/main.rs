//! The exporter's end-to-end tests: one test binary, one module per subject, so that the
//! helpers of [`common`] are compiled once. Every test runs in this one process, in parallel
//! with the others: a test must not depend on process-wide state another test changes (see
//! `supervision`, whose fault-injection hooks are process-wide and keyed by cluster names no
//! other module uses). Run one module with `cargo test --test e2e <module>::`.

mod common;

mod alert_rules;
mod check_connect;
mod churn;
mod cli_demo;
mod cli_exporter;
mod cli_sim;
mod cluster_identity;
mod collection_pace;
mod dashboards;
mod deploy_compose;
mod deploy_helm;
mod deploy_image;
mod deploy_systemd;
mod exporter_auth;
mod exporter_situations;
mod exposition;
mod failover_drill;
mod failover_readiness;
mod hostile_upstreams;
mod http_limits;
mod kafka_acls;
mod kafka_brokers;
mod kafka_docs;
mod kafka_failover_signals;
mod kafka_measurements;
mod kafka_reauth;
mod kafka_security;
mod metrics_doc;
mod paging;
mod prometheus;
mod readme_examples;
mod reload;
mod rest_properties;
mod sharding;
mod source_topic_facts;
mod status_page;
mod supervision;
mod web_config;
