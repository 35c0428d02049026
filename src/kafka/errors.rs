//! What went wrong on a Kafka connection, named: the `reason` label ([`KafkaErrorReason`];
//! [`error_reason`] reads it from a request error's code alone), the diagnosis of
//! librdkafka's errors ([`Diagnosis`]: a reason, librdkafka's own words with every secret
//! removed, and what to fix), and the last connection-level error a connection's clients
//! reported ([`ConnectionErrors`]).
//!
//! librdkafka reports a broker it cannot authenticate to, or whose TLS handshake fails, through
//! the client context's error callback and log lines, per broker connection; the request that
//! needed the connection then only times out, or fails with "all brokers down". So a failed
//! request is diagnosed from its own error code when that is specific (an ACL refusal, an
//! unknown topic), else from the last connection-level error recorded since a request over the
//! connection last succeeded.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::util::{closed_set, lock};

closed_set! {
    /// Why a Kafka-side request failed: the `reason` label of `clusterlink_kafka_errors_total`
    /// (every value written as 0 per connection).
    pub enum KafkaErrorReason {
        /// No answer within the connection's `request_timeout`.
        Timeout = "timeout",
        /// No connection to the brokers: refused, unresolvable, closed at once.
        Connect = "connect",
        /// The TLS handshake failed: broker certificate not trusted or not for this host,
        /// client certificate missing or refused, a listener that does not speak TLS.
        Tls = "tls",
        /// SASL authentication failed: wrong credentials, unknown user, a mechanism the
        /// broker does not enable, an OAuth token not issued or refused.
        Auth = "auth",
        /// An ACL refused the request (topic, group or cluster authorization failed).
        Authorization = "authorization",
        /// The topic or partition does not exist.
        UnknownTopic = "unknown_topic",
        /// The broker does not support the request.
        Unsupported = "unsupported",
        /// The brokers answer, but report another cluster id than expected: nothing read
        /// over the connection is used (see `kafka/identity.rs`).
        WrongCluster = "wrong_cluster",
        /// Anything else.
        Other = "other",
    }
}

/// A failure of a Kafka connection, named: the reason, librdkafka's message (secrets
/// removed) and what to fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Diagnosis {
    /// The `reason` label.
    pub(crate) reason: KafkaErrorReason,
    /// librdkafka's message.
    pub(crate) detail: String,
    /// What to check or change, for the operator.
    pub(crate) advice: &'static str,
}

impl Diagnosis {
    /// The diagnosis of a failed request (`e`) whose error code says enough by itself; `None`
    /// for codes that only say the request did not get through (a timeout, all brokers
    /// down), whose cause a connection-level error names better.
    fn of_request(e: &KafkaError) -> Self {
        let reason = error_reason(e);
        Self {
            reason,
            detail: e.to_string(),
            advice: match reason {
                KafkaErrorReason::Authorization => ADVICE_ACL,
                KafkaErrorReason::UnknownTopic => {
                    "the topic or partition does not exist on this cluster (deleted, or not yet created)"
                }
                KafkaErrorReason::Unsupported => {
                    "the broker does not support this request (an old or non-Apache Kafka broker)"
                }
                KafkaErrorReason::Timeout => ADVICE_TIMEOUT,
                KafkaErrorReason::Connect => ADVICE_CONNECT,
                KafkaErrorReason::Tls => ADVICE_TLS,
                KafkaErrorReason::Auth => ADVICE_SASL,
                KafkaErrorReason::WrongCluster => ADVICE_WRONG_CLUSTER,
                KafkaErrorReason::Other => "see the error; check the brokers' logs",
            },
        }
    }

    /// The diagnosis of a connection-level error (librdkafka's error callback), or `None` for
    /// one that only summarizes others ("all brokers down").
    pub(crate) fn of_connection(code: Option<RDKafkaErrorCode>, message: &str) -> Option<Self> {
        use KafkaErrorReason as R;
        use RDKafkaErrorCode as C;
        if code == Some(C::AllBrokersDown) {
            return None;
        }
        let m = message.to_ascii_lowercase();
        let has = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
        let (reason, advice) = if has(&["oidc", "token endpoint", "retrieve token"]) {
            (R::Auth, ADVICE_OIDC)
        } else if has(&["unsupported sasl mechanism", "mechanism not enabled"]) {
            (R::Auth, ADVICE_MECHANISM)
        } else if code == Some(C::Authentication)
            || code == Some(C::SaslAuthenticationFailed)
            || has(&["sasl authentication", "sasl handshake"])
        {
            if has(&["invalid_token", "oauthbearer", "jwt", "invalid token"]) {
                (R::Auth, ADVICE_TOKEN_REFUSED)
            } else {
                (R::Auth, ADVICE_SASL)
            }
        } else if has(&[
            "incorrect security.protocol",
            "connecting to a ssl listener",
        ]) {
            (R::Connect, ADVICE_PROTOCOL)
        } else if let Some(advice) = tls_advice(&m) {
            (R::Tls, advice)
        } else if code == Some(C::SSL) {
            (R::Tls, ADVICE_TLS)
        } else if has(&["timed out", "timeout"]) {
            (R::Timeout, ADVICE_TIMEOUT)
        } else if code == Some(C::Resolve) || has(&["failed to resolve", "resolve"]) {
            (R::Connect, ADVICE_RESOLVE)
        } else if code == Some(C::BrokerTransportFailure) || has(&["connection refused"]) {
            (R::Connect, ADVICE_CONNECT)
        } else {
            return None;
        };
        Some(Self {
            reason,
            detail: message.to_owned(),
            advice,
        })
    }

    /// The diagnosis of a connection whose brokers report another cluster id than expected
    /// (`detail`: which key, which ids).
    pub(crate) fn wrong_cluster(detail: String) -> Self {
        Self {
            reason: KafkaErrorReason::WrongCluster,
            detail,
            advice: ADVICE_WRONG_CLUSTER,
        }
    }

    /// `reason: what failed: detail (advice)`, as the status page shows it.
    pub(crate) fn line(&self, what: &str) -> String {
        format!(
            "{}: {what} failed: {} — {}",
            self.reason, self.detail, self.advice
        )
    }

    /// Replaces every `secrets` value in the detail by `<redacted>`.
    pub(crate) fn redact(mut self, secrets: &[&str]) -> Self {
        for s in secrets.iter().filter(|s| !s.is_empty()) {
            self.detail = self.detail.replace(s, "<redacted>");
        }
        self
    }
}

const ADVICE_WRONG_CLUSTER: &str = "bootstrap_servers reaches another Kafka cluster than the one measured: nothing read over this connection is exported; point bootstrap_servers at the right cluster (or fix the cluster_id it is compared with)";
const ADVICE_ACL: &str = "an ACL on the cluster denies this request: grant the exporter's principal the ACLs in docs/kafka-security.md";
const ADVICE_TIMEOUT: &str =
    "no answer within request_timeout: is the broker overloaded, or the network dropping packets?";
const ADVICE_CONNECT: &str = "no broker answers at bootstrap_servers: is it down, are host and port right, does security_protocol match the listener?";
const ADVICE_RESOLVE: &str =
    "a host name in bootstrap_servers (or a broker's advertised name) does not resolve";
const ADVICE_PROTOCOL: &str = "the broker closed the connection at once: does security_protocol match the listener (TLS or not, SASL or not)?";
const ADVICE_SASL: &str = "the broker refused the SASL credentials: check sasl.username and sasl.password (Confluent Cloud: the API key and its secret) and the mechanism";
const ADVICE_MECHANISM: &str =
    "the broker does not enable this SASL mechanism on this listener: use one it offers";
const ADVICE_OIDC: &str = "no OAuth token from the identity provider: check sasl.token_endpoint_url, client_id and client_secret";
const ADVICE_TOKEN_REFUSED: &str = "the broker refused the OAuth token: check its issuer, audience, expiry and signing key against the broker's OAUTHBEARER settings";
const ADVICE_TLS: &str = "the TLS handshake failed: check the tls settings against the listener";
const ADVICE_UNTRUSTED: &str = "the broker's certificate could not be verified: is it signed by a CA in tls.ca_file (or the system's CAs), and does it name the host in bootstrap_servers?";
const ADVICE_HOSTNAME: &str = "the broker's certificate does not name the host in bootstrap_servers (or the broker's advertised host): connect by a name it lists";
const ADVICE_CLIENT_CERT_MISSING: &str =
    "the broker requires a client certificate: set tls.cert_file and tls.key_file";
const ADVICE_CLIENT_CERT_REFUSED: &str = "the broker requires a client certificate or refused it: set tls.cert_file and tls.key_file to one signed by a CA the broker trusts, still valid";
const ADVICE_EXPIRED: &str = "a certificate has expired (the broker's or the client's)";
const ADVICE_NOT_TLS: &str = "the listener does not speak TLS: check security_protocol";

/// The advice for a TLS failure described by `m` (lower case), if it is one.
fn tls_advice(m: &str) -> Option<&'static str> {
    let has = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
    // Not "ssl" alone: every message of a `sasl_ssl://` broker starts with that.
    if !has(&[
        "ssl handshake",
        "ssl routines",
        "ssl error",
        "certificate",
        "tlsv1",
        "handshake failure",
        "wrong version number",
    ]) {
        return None;
    }
    Some(
        if has(&[
            "hostname mismatch",
            "ip address mismatch",
            "host name mismatch",
        ]) {
            ADVICE_HOSTNAME
        } else if has(&["certificate has expired", "certificate expired"]) {
            ADVICE_EXPIRED
        } else if has(&["certificate required"]) {
            ADVICE_CLIENT_CERT_MISSING
        } else if has(&[
            "unknown ca",
            "bad certificate",
            "certificate unknown",
            "decrypt error",
        ]) {
            ADVICE_CLIENT_CERT_REFUSED
        } else if has(&[
            "certificate verify failed",
            "unable to get local issuer",
            "self-signed",
            "self signed",
        ]) {
            ADVICE_UNTRUSTED
        } else if has(&[
            "wrong version number",
            "packet length too long",
            "record layer",
        ]) {
            ADVICE_NOT_TLS
        } else {
            ADVICE_TLS
        },
    )
}

/// The `reason` of a librdkafka request error, from its code alone.
pub(crate) fn error_reason(e: &KafkaError) -> KafkaErrorReason {
    use KafkaErrorReason as R;
    use RDKafkaErrorCode as C;
    // An admin operation's error carries its code (rust-rdkafka does not return it).
    let code = match e {
        KafkaError::AdminOp(code) => Some(*code),
        _ => e.rdkafka_error_code(),
    };
    match code {
        Some(C::OperationTimedOut | C::RequestTimedOut | C::TimedOutQueue) => R::Timeout,
        Some(C::BrokerTransportFailure | C::AllBrokersDown | C::Resolve | C::NetworkException) => {
            R::Connect
        }
        Some(C::SSL) => R::Tls,
        Some(
            C::Authentication
            | C::SaslAuthenticationFailed
            | C::IllegalSASLState
            | C::UnsupportedSASLMechanism,
        ) => R::Auth,
        Some(
            C::TopicAuthorizationFailed
            | C::GroupAuthorizationFailed
            | C::ClusterAuthorizationFailed
            | C::TransactionalIdAuthorizationFailed
            | C::DelegationTokenAuthorizationFailed,
        ) => R::Authorization,
        Some(C::UnknownTopicOrPartition | C::UnknownTopic | C::UnknownPartition) => R::UnknownTopic,
        Some(C::UnsupportedFeature | C::UnsupportedVersion) => R::Unsupported,
        _ => R::Other,
    }
}

/// Whether a request error's code says only that the request did not get through.
fn is_unspecific(reason: KafkaErrorReason) -> bool {
    matches!(
        reason,
        KafkaErrorReason::Timeout | KafkaErrorReason::Connect | KafkaErrorReason::Other
    )
}

/// The connection-level errors librdkafka reported on one connection's clients, most recent
/// kept: shared by the contexts of every client of the connection. Cloning shares it.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConnectionErrors(Arc<Mutex<Option<(Instant, Diagnosis)>>>);

impl ConnectionErrors {
    /// Records a connection-level error (ignored when it says nothing specific). A TLS or
    /// authentication diagnosis is not replaced by a later `connect` or `timeout` one of the
    /// same failure (librdkafka reports the disconnect after the handshake failure).
    pub(crate) fn record(&self, code: Option<RDKafkaErrorCode>, message: &str) {
        let Some(d) = Diagnosis::of_connection(code, message) else {
            return;
        };
        let now = Instant::now();
        let mut last = lock(&self.0);
        let keep_older = last.as_ref().is_some_and(|(at, older)| {
            now.saturating_duration_since(*at) < Duration::from_secs(2)
                && is_unspecific(d.reason)
                && !is_unspecific(older.reason)
        });
        if !keep_older {
            *last = Some((now, d));
        }
    }

    /// Whether a connection-level error was recorded at or after `since`.
    pub(crate) fn recorded_since(&self, since: Instant) -> bool {
        let last = lock(&self.0);
        last.as_ref().is_some_and(|(at, _)| *at >= since)
    }

    /// Whether request error `e` needs a fresh look at the connection: its code does not
    /// explain it and no connection-level error was recorded in the last minute.
    pub(crate) fn needs_diagnosis(&self, e: &KafkaError) -> bool {
        let minute_ago = Instant::now().checked_sub(Duration::from_secs(60));
        is_unspecific(error_reason(e)) && !minute_ago.is_some_and(|t| self.recorded_since(t))
    }

    /// Forgets the recorded error: a request over the connection succeeded.
    pub(crate) fn clear(&self) {
        *lock(&self.0) = None;
    }

    /// The diagnosis of request error `e`: its own code when specific, else the
    /// connection-level error recorded since the connection last worked. (librdkafka reports
    /// a broker's error once and then only when it changes, so the recorded one stands until a
    /// request succeeds.)
    pub(crate) fn diagnose(&self, e: &KafkaError) -> Diagnosis {
        let own = Diagnosis::of_request(e);
        if !is_unspecific(own.reason) {
            return own;
        }
        let last = lock(&self.0);
        match &*last {
            Some((_, d)) => d.clone(),
            None => own,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RDKafkaErrorCode as C;

    #[test]
    fn reasons_of_request_errors() {
        for (code, reason) in [
            (C::OperationTimedOut, "timeout"),
            (C::AllBrokersDown, "connect"),
            (C::SSL, "tls"),
            (C::SaslAuthenticationFailed, "auth"),
            (C::GroupAuthorizationFailed, "authorization"),
            (C::TopicAuthorizationFailed, "authorization"),
            (C::UnknownTopicOrPartition, "unknown_topic"),
            (C::UnsupportedVersion, "unsupported"),
            (C::InvalidMessage, "other"),
        ] {
            assert_eq!(error_reason(&KafkaError::MetadataFetch(code)), reason);
        }
    }

    /// librdkafka's texts as seen against Apache Kafka 4 (docs/kafka-security.md).
    #[test]
    fn connection_errors_are_named() {
        let cases: &[(Option<C>, &str, &str, &str)] = &[
            (Some(C::Authentication), "sasl_ssl://127.0.0.1:1/bootstrap: SASL authentication error: Authentication failed: Invalid username or password (after 5ms in state AUTH_REQ)", "auth", ADVICE_SASL),
            (Some(C::Authentication), "sasl_ssl://127.0.0.1:1/bootstrap: Failed to initialize SASL authentication: Unsupported SASL mechanism: broker's supported mechanisms: PLAIN", "auth", ADVICE_MECHANISM),
            (Some(C::Authentication), "Failed to retrieve OIDC token from \"http://127.0.0.1:1/token\": 401", "auth", ADVICE_OIDC),
            (Some(C::SSL), "ssl://127.0.0.1:1/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not be verified, verify that ssl.ca.location is correctly configured or root CA certificates are installed (install ca-certificates package) (after 3ms in state SSL_HANDSHAKE)", "tls", ADVICE_UNTRUSTED),
            (Some(C::SSL), "ssl://127.0.0.1:1/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: Hostname mismatch (after 2ms in state SSL_HANDSHAKE)", "tls", ADVICE_HOSTNAME),
            (Some(C::SSL), "ssl://127.0.0.1:1/bootstrap: SSL handshake failed: ssl/record/rec_layer_s3.c:1605: error:0A00045C:SSL routines::tlsv13 alert certificate required: SSL alert number 116", "tls", ADVICE_CLIENT_CERT_MISSING),
            (Some(C::BrokerTransportFailure), "sasl_ssl://127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused (after 0ms in state CONNECT)", "connect", ADVICE_CONNECT),
            (Some(C::BrokerTransportFailure), "127.0.0.1:1/bootstrap: Disconnected while requesting ApiVersion: might be caused by incorrect security.protocol configuration (connecting to a SSL listener?) or broker version is < 0.10", "connect", ADVICE_PROTOCOL),
        ];
        for (code, message, reason, advice) in cases {
            let d = Diagnosis::of_connection(*code, message).expect(message);
            assert_eq!(
                (d.reason.as_str(), d.advice),
                (*reason, *advice),
                "{message}"
            );
        }
        assert_eq!(
            Diagnosis::of_connection(Some(C::AllBrokersDown), "1/1 brokers are down"),
            None
        );
    }

    #[test]
    fn a_specific_connection_error_names_a_timed_out_request() {
        let errors = ConnectionErrors::default();
        let timeout = KafkaError::MetadataFetch(C::OperationTimedOut);
        let d = errors.diagnose(&timeout);
        assert_eq!(d.reason, KafkaErrorReason::Timeout);
        errors.record(
            Some(C::SSL),
            "SSL handshake failed: certificate verify failed",
        );
        // The disconnect that follows does not hide the handshake failure.
        errors.record(
            Some(C::BrokerTransportFailure),
            "Connect to ipv4#127.0.0.1:1 failed: Connection refused",
        );
        let d = errors.diagnose(&timeout);
        assert_eq!(
            (d.reason, d.advice),
            (KafkaErrorReason::Tls, ADVICE_UNTRUSTED)
        );
        // A success clears it.
        errors.clear();
        assert_eq!(errors.diagnose(&timeout).reason, KafkaErrorReason::Timeout);
        // A request error that is specific keeps its own reason.
        let denied = KafkaError::MetadataFetch(C::TopicAuthorizationFailed);
        let d = errors.diagnose(&denied);
        assert_eq!(d.reason, KafkaErrorReason::Authorization);
    }

    #[test]
    fn secrets_are_redacted_from_details() {
        let d = Diagnosis::of_connection(
            Some(C::Authentication),
            "SASL authentication error: user s3cret",
        )
        .unwrap()
        .redact(&["s3cret", ""]);
        assert!(!d.detail.contains("s3cret") && d.detail.contains("<redacted>"));
    }
}
