//! Real Apache Kafka brokers for the end-to-end tests: single-node KRaft clusters run from the
//! jars `scripts/setup-kafka.sh` caches (pinned in `scripts/kafka/pom.xml`), with the
//! listeners users run (PLAINTEXT, SASL_SSL with PLAIN/SCRAM/OAUTHBEARER, SASL_SSL with PLAIN
//! only, mTLS, and TLS with a certificate for the wrong host name), throw-away certificates
//! ([`pki`]), a local OIDC issuer ([`oidc`]), the StandardAuthorizer with ACLs the tests grant
//! ([`admin`]), and helpers to write records and commit offsets.
//!
//! - [`brokers`]: the two clusters of this test binary, "source" and "destination", started
//!   once on first use (~10 s) and stopped when the test process ends, however it ends.
//! - [`start_dedicated`]: a broker of a test's own (stopped and removed on drop), for tests
//!   that stop a broker or need other settings (a short `connections.max.reauth.ms`).
//!
//! Users ([`USERS`]): `admin` (a super user), `exporter` (not: tests grant it ACLs), and
//! `limited-1`..`limited-4`; each with the same password for SASL/PLAIN, SCRAM-SHA-256,
//! SCRAM-SHA-512 and as its OIDC client secret. The client certificate's CN is `exporter`
//! (`User:exporter` on the mTLS listener). The PLAINTEXT listener's principal, `ANONYMOUS`, is a
//! super user: the helpers set things up through it.

pub mod admin;
pub mod broker;
pub mod oidc;
pub mod pki;

pub use admin::*;
pub use broker::*;

/// A user known to the brokers (SASL/PLAIN, SCRAM-SHA-256/512) and to the OIDC issuer (the
/// client id and secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct User {
    pub name: &'static str,
    pub password: &'static str,
}

impl User {
    /// `User:<name>`, the principal the brokers authorize.
    pub fn principal(&self) -> String {
        format!("User:{}", self.name)
    }

    /// The same user with another (wrong) password.
    pub fn with_password(self, password: &'static str) -> Self {
        Self { password, ..self }
    }
}

/// The exporter's user: no ACLs until a test grants them.
pub const EXPORTER: User = User {
    name: "exporter",
    password: "exporter-secret",
};
/// A super user (`super.users`).
pub const ADMIN: User = User {
    name: "admin",
    password: "admin-secret",
};
/// Users without ACLs, for the ACL tests.
pub const LIMITED: [User; 4] = [
    User {
        name: "limited-1",
        password: "limited-1-secret",
    },
    User {
        name: "limited-2",
        password: "limited-2-secret",
    },
    User {
        name: "limited-3",
        password: "limited-3-secret",
    },
    User {
        name: "limited-4",
        password: "limited-4-secret",
    },
];
/// Every user of the brokers.
pub const USERS: [User; 6] = [
    EXPORTER, ADMIN, LIMITED[0], LIMITED[1], LIMITED[2], LIMITED[3],
];
