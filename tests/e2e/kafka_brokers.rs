//! The real Kafka brokers of the tests (`common::kafka`): on both clusters, user `exporter`,
//! granted DESCRIBE on a topic, sees it through every listener and mechanism (PLAIN,
//! SCRAM-SHA-256/512 and OIDC on SASL_SSL, PLAIN on the PLAIN-only listener, the client
//! certificate on mTLS) while a user without ACLs does not; and the failures users meet fail
//! with the message librdkafka gives (wrong password or secret, a mechanism the listener does
//! not enable, no client certificate, an untrusted CA, a certificate for another host name,
//! OIDC tokens the broker refuses). The helpers (records, offsets, watermarks, ACL removal)
//! work. A dedicated broker re-authenticates a client's connection in place, comes back with
//! its data after a stop, and is gone once dropped.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::client::{Client, ClientContext};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, Producer, ProducerContext};
use rdkafka::ClientConfig;

use crate::common::kafka::oidc::{self, EXPIRED_CLIENT, UNKNOWN_KEY_CLIENT};
use crate::common::kafka::{
    add_acl, brokers, commit_offsets, committed_offsets, create_topic, high_watermarks, produce_n,
    remove_acl, start_dedicated, AclOperation, Auth, Broker, BrokerOptions, Listener, PatternType,
    ResourceType, CLUSTER, EXPORTER, LIMITED,
};

/// Collects the errors and warnings librdkafka reports.
#[derive(Clone, Default)]
struct Errors(Arc<Mutex<Vec<String>>>);

impl ClientContext for Errors {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        if (level as i32) <= (RDKafkaLogLevel::Warning as i32) {
            self.0.lock().unwrap().push(format!("{fac}: {log_message}"));
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.0.lock().unwrap().push(format!("{error}: {reason}"));
    }
}

impl ProducerContext for Errors {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &rdkafka::message::DeliveryResult<'_>, _: Self::DeliveryOpaque) {}
}

/// Fetches `topic`'s metadata through `config`: whether the client sees the topic
/// (`Ok(true)`: authorized to describe it), or the errors librdkafka reported.
fn sees_topic(config: &ClientConfig, topic: &str) -> Result<bool, String> {
    let errors = Errors::default();
    let producer: BaseProducer<Errors> = config
        .clone()
        .set("socket.timeout.ms", "5000")
        .create_with_context(errors.clone())
        .map_err(|e| format!("client: {e}"))?;
    let client: &Client<Errors> = producer.client();
    let begun = Instant::now();
    loop {
        match client.fetch_metadata(Some(topic), Duration::from_secs(2)) {
            Ok(metadata) => {
                let t = &metadata.topics()[0];
                return Ok(t.error().is_none() && !t.partitions().is_empty());
            }
            Err(e) => {
                // Serves the error callbacks.
                producer.poll(Duration::from_millis(200));
                let seen = errors.0.lock().unwrap().clone();
                if !seen.is_empty() || begun.elapsed() > Duration::from_secs(20) {
                    return Err(format!("{e}; {}", seen.join(" | ")));
                }
            }
        }
    }
}

/// The ways in of user `exporter`, each (listener, authentication).
fn exporter_ways() -> Vec<(Listener, Auth)> {
    vec![
        (Listener::SaslSsl, Auth::Plain(EXPORTER)),
        (Listener::SaslSsl, Auth::ScramSha256(EXPORTER)),
        (Listener::SaslSsl, Auth::ScramSha512(EXPORTER)),
        (Listener::SaslSsl, Auth::Oidc(EXPORTER)),
        (Listener::SaslPlainOnly, Auth::Plain(EXPORTER)),
        (Listener::Mtls, Auth::ClientCert),
    ]
}

fn check_listeners(broker: &Broker, topic: &str) {
    create_topic(broker, topic, 1);
    let describe = |b: &Broker| {
        add_acl(
            b,
            &EXPORTER.principal(),
            AclOperation::Describe,
            ResourceType::Topic,
            topic,
            PatternType::Literal,
        )
    };
    // Before the ACL, exporter does not see the topic (authenticated, not authorized).
    let config = broker.client_config(Listener::SaslSsl, &Auth::Plain(EXPORTER));
    assert_eq!(
        sees_topic(&config, topic),
        Ok(false),
        "{}: before the ACL",
        broker.name
    );
    describe(broker);
    let config = broker.client_config(Listener::Plaintext, &Auth::None);
    assert_eq!(
        sees_topic(&config, topic),
        Ok(true),
        "{}: PLAINTEXT",
        broker.name
    );
    for (listener, auth) in exporter_ways() {
        let config = broker.client_config(listener, &auth);
        assert_eq!(
            sees_topic(&config, topic),
            Ok(true),
            "{}: exporter through {listener:?} with {auth:?}",
            broker.name
        );
    }
    // Another user, authenticated, has no ACL.
    let config = broker.client_config(Listener::SaslSsl, &Auth::ScramSha512(LIMITED[0]));
    assert_eq!(
        sees_topic(&config, topic),
        Ok(false),
        "{}: limited-1",
        broker.name
    );
}

#[test]
fn exporter_connects_through_every_listener_of_both_clusters() {
    let brokers = brokers();
    std::thread::scope(|s| {
        s.spawn(|| check_listeners(&brokers.source, "smoke-listeners"));
        s.spawn(|| check_listeners(&brokers.destination, "smoke-listeners"));
    });
    assert!(oidc::issuer().tokens_issued(EXPORTER.name) >= 2);
}

#[test]
fn refused_connections_say_why() {
    let broker = &brokers().source;
    let pki = &broker.pki;
    let mut untrusted = broker.client_config(Listener::SaslSsl, &Auth::Plain(EXPORTER));
    untrusted.set("ssl.ca.location", pki.untrusted_ca.display().to_string());
    let cases: Vec<(&str, ClientConfig, &str)> = vec![
        (
            "wrong PLAIN password",
            broker.client_config(Listener::SaslSsl, &Auth::Plain(EXPORTER.with_password("x"))),
            "Invalid username or password",
        ),
        (
            "wrong SCRAM password",
            broker.client_config(Listener::SaslSsl, &Auth::ScramSha512(EXPORTER.with_password("x"))),
            "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512",
        ),
        (
            "wrong OIDC secret",
            broker.client_config(Listener::SaslSsl, &Auth::Oidc(EXPORTER.with_password("x"))),
            "401",
        ),
        (
            "mechanism not enabled",
            broker.client_config(Listener::SaslPlainOnly, &Auth::ScramSha256(EXPORTER)),
            "Unsupported SASL mechanism: broker's supported mechanisms: PLAIN",
        ),
        (
            "no client certificate",
            broker.client_config(Listener::Mtls, &Auth::None),
            "alert bad certificate",
        ),
        ("untrusted broker CA", untrusted, "certificate verify failed"),
        (
            "certificate for another host",
            broker.client_config(Listener::WrongHost, &Auth::None),
            "certificate verify failed",
        ),
        (
            "expired OIDC token",
            broker.client_config(Listener::SaslSsl, &Auth::Oidc(EXPIRED_CLIENT)),
            "unexpired",
        ),
        (
            "OIDC token signed by an unknown key",
            broker.client_config(Listener::SaslSsl, &Auth::Oidc(UNKNOWN_KEY_CLIENT)),
            r#"SASL authentication error: {"status":"invalid_token"}"#,
        ),
    ];
    std::thread::scope(|s| {
        for (what, config, expected) in &cases {
            s.spawn(move || match sees_topic(config, "smoke-refused") {
                Err(e) => {
                    let line = e.split(" | ").find(|l| l.contains(expected));
                    let line = line.unwrap_or_else(|| panic!("{what}: no {expected:?} in: {e}"));
                    eprintln!("{what}: {line}");
                }
                Ok(seen) => panic!("{what}: connected (sees the topic: {seen})"),
            });
        }
    });
}

#[test]
fn helpers_write_records_commit_offsets_and_remove_acls() {
    let broker = &brokers().destination;
    let topic = "smoke-helpers";
    create_topic(broker, topic, 2);
    let now_ms = 1_700_000_000_000;
    assert_eq!(produce_n(broker, topic, 1, 5, now_ms, 1000), 5);
    assert_eq!(high_watermarks(broker, topic), vec![0, 5]);
    commit_offsets(broker, "smoke-group", &[(topic, 1, 3)]);
    assert_eq!(
        committed_offsets(broker, "smoke-group", topic),
        vec![None, Some(3)]
    );
    commit_offsets(broker, "smoke-group", &[(topic, 1, 4)]);
    assert_eq!(
        committed_offsets(broker, "smoke-group", topic),
        vec![None, Some(4)]
    );

    let user = LIMITED[1];
    let config = broker.client_config(Listener::SaslSsl, &Auth::Plain(user));
    let acl = |add: bool| {
        let f = if add { add_acl } else { remove_acl };
        f(
            broker,
            &user.principal(),
            AclOperation::Describe,
            ResourceType::Topic,
            "smoke-",
            PatternType::Prefixed,
        )
    };
    acl(true);
    acl(true); // idempotent
    assert_eq!(sees_topic(&config, topic), Ok(true));
    acl(false);
    acl(false); // idempotent
    assert_eq!(sees_topic(&config, topic), Ok(false));
}

#[test]
fn dedicated_broker_reauthenticates_restarts_and_is_removed() {
    let broker = start_dedicated(BrokerOptions {
        name: "smoke-dedicated".into(),
        reauth_ms: Some(3000),
        ..BrokerOptions::default()
    });
    let dir = broker.dir.clone();
    create_topic(&broker, "kept", 1);
    produce_n(&broker, "kept", 0, 3, 1_700_000_000_000, 1);
    add_acl(
        &broker,
        &EXPORTER.principal(),
        AclOperation::Describe,
        ResourceType::Cluster,
        CLUSTER,
        PatternType::Literal,
    );

    // One SCRAM connection, used across re-authentications (every 3 s).
    let errors = Errors::default();
    let config = broker.client_config(Listener::SaslSsl, &Auth::ScramSha256(EXPORTER));
    let producer: BaseProducer<Errors> = config.create_with_context(errors.clone()).unwrap();
    for _ in 0..4 {
        producer
            .client()
            .fetch_metadata(None, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("metadata: {e}; {:?}", errors.0.lock().unwrap()));
        std::thread::sleep(Duration::from_secs(2));
    }
    producer.poll(Duration::ZERO);
    assert_eq!(*errors.0.lock().unwrap(), Vec::<String>::new());

    broker.stop();
    assert!(!broker.is_running());
    let down = sees_topic(
        &broker.client_config(Listener::Plaintext, &Auth::None),
        "kept",
    );
    assert!(down.is_err(), "{down:?}");
    broker.start();
    assert!(broker.is_running());
    assert_eq!(high_watermarks(&broker, "kept"), vec![3]);

    drop(broker);
    assert!(!dir.exists(), "{} is left", dir.display());
}
