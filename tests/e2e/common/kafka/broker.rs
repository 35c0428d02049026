//! Single-node KRaft brokers (`process.roles=broker,controller`) run with `java -cp
//! '<cache>/libs/*' kafka.Kafka server.properties` after `kafka.tools.StorageTool format` (which
//! creates the SCRAM credentials of [`USERS`]).
//!
//! A broker process dies with the test process, however that ends: `java` runs under `sh`,
//! next to a watcher that reads the shell's stdin, a pipe only the test process holds; when
//! the test process is gone (or [`Broker::stop`] closes the pipe) the watcher reads EOF and
//! kills `java`. That is what stops the brokers of [`brokers`], which live in a static and
//! are never dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::ClientConfig;
use ring::rand::SecureRandom;

use super::oidc::{self, AUDIENCE};
use super::pki::Pki;
use super::{User, USERS};
use crate::common::servers::temp_dir;

/// How long a broker may take to answer a metadata request on its PLAINTEXT listener.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The listeners of every test broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Listener {
    /// PLAINTEXT: principal `ANONYMOUS`, a super user (setup by the tests' helpers).
    Plaintext,
    /// SASL_SSL with PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER (OIDC JWTs).
    SaslSsl,
    /// SASL_SSL with PLAIN only.
    SaslPlainOnly,
    /// SSL with `ssl.client.auth=required`: the principal is the client certificate's CN.
    Mtls,
    /// SSL (no client auth) with a certificate for `wrong.example` only: a client checking
    /// the host name (librdkafka does by default) refuses it.
    WrongHost,
}

impl Listener {
    pub const ALL: [Listener; 5] = [
        Listener::Plaintext,
        Listener::SaslSsl,
        Listener::SaslPlainOnly,
        Listener::Mtls,
        Listener::WrongHost,
    ];

    /// Its name in `server.properties` (`listener.name.<lowercase>.…`).
    pub fn name(self) -> &'static str {
        match self {
            Listener::Plaintext => "PLAINTEXT",
            Listener::SaslSsl => "SASL_SSL",
            Listener::SaslPlainOnly => "SASL_PLAIN_ONLY",
            Listener::Mtls => "MTLS",
            Listener::WrongHost => "WRONG_HOST",
        }
    }

    /// Its security protocol (librdkafka's `security.protocol`).
    pub fn security_protocol(self) -> &'static str {
        match self {
            Listener::Plaintext => "PLAINTEXT",
            Listener::SaslSsl | Listener::SaslPlainOnly => "SASL_SSL",
            Listener::Mtls | Listener::WrongHost => "SSL",
        }
    }

    /// Whether it speaks TLS.
    pub fn tls(self) -> bool {
        self != Listener::Plaintext
    }
}

/// The bootstrap address (`127.0.0.1:<port>`) of each listener.
#[derive(Debug, Clone)]
pub struct Listeners {
    pub plaintext: String,
    pub sasl_ssl: String,
    pub sasl_plain_only: String,
    pub mtls: String,
    pub wrong_host: String,
}

/// How a client authenticates ([`Broker::client_properties`]).
#[derive(Debug, Clone)]
pub enum Auth {
    /// Nothing beyond the listener's security protocol (PLAINTEXT; TLS without a client
    /// certificate).
    None,
    Plain(User),
    ScramSha256(User),
    ScramSha512(User),
    /// OAUTHBEARER with librdkafka's OIDC client-credentials flow against the local issuer:
    /// the user's name and password are the client id and secret.
    Oidc(User),
    /// The PKI's client certificate, CN=exporter ([`Pki::client_cert`]).
    ClientCert,
    /// Another client certificate and key (PEM files).
    ClientCertFiles {
        cert: PathBuf,
        key: PathBuf,
    },
}

/// Settings of a broker start.
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    /// Names the broker (its directory and the failure messages).
    pub name: String,
    /// `connections.max.reauth.ms`; `None`: Kafka's default (0, no re-authentication).
    pub reauth_ms: Option<u64>,
    /// More `server.properties` settings, after (and overriding) the harness' own.
    pub extra_properties: Vec<(String, String)>,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        Self {
            name: "dedicated".into(),
            reauth_ms: None,
            extra_properties: Vec::new(),
        }
    }
}

/// A running (or stopped) single-node Kafka cluster.
pub struct Broker {
    pub name: String,
    /// The KRaft cluster id (`StorageTool format -t`).
    pub cluster_id: String,
    /// Its directory: `server.properties`, `data/`, and the logs `kafka.log` (log4j, WARN and
    /// up) and `stdout.log` (the JVM's output).
    pub dir: PathBuf,
    pub listeners: Listeners,
    /// The certificates its TLS listeners use, and the client's.
    pub pki: Pki,
    /// The OIDC issuer's token endpoint (librdkafka's `sasl.oauthbearer.token.endpoint.url`).
    pub oidc_token_url: String,
    pub options: BrokerOptions,
    java: Vec<String>,
    process: Mutex<Option<Process>>,
    /// Dropping removes the directory (not for the brokers of [`brokers`]: never dropped).
    dedicated: bool,
}

/// The two clusters of this test binary.
pub struct Brokers {
    pub source: Broker,
    pub destination: Broker,
}

/// The two clusters of this test binary, started (in parallel) on first use and stopped when
/// the process ends. Panics, on every call, if they could not be started.
pub fn brokers() -> &'static Brokers {
    static BROKERS: OnceLock<Result<Brokers, String>> = OnceLock::new();
    let started = BROKERS.get_or_init(|| {
        let start = |name: &str| {
            let options = BrokerOptions {
                name: name.into(),
                ..BrokerOptions::default()
            };
            move || Broker::try_start(options, false)
        };
        let begun = Instant::now();
        let (source, destination) = std::thread::scope(|s| {
            let source = s.spawn(start("source"));
            let destination = s.spawn(start("destination"));
            (source.join().unwrap(), destination.join().unwrap())
        });
        eprintln!(
            "kafka: brokers source and destination started in {:.1} s",
            begun.elapsed().as_secs_f64()
        );
        Ok(Brokers {
            source: source?,
            destination: destination?,
        })
    });
    match started {
        Ok(brokers) => brokers,
        Err(e) => panic!("{e}"),
    }
}

/// A broker of the calling test's own, stopped and removed when dropped.
pub fn start_dedicated(options: BrokerOptions) -> Broker {
    Broker::try_start(options, true).unwrap_or_else(|e| panic!("{e}"))
}

/// The folder of the Kafka jars, `${CLE_KAFKA_CACHE:-$HOME/.cache/cluster-link-exporter/
/// kafka-<version>}/libs`, the version read from `scripts/kafka/pom.xml` as
/// `scripts/setup-kafka.sh` does. Panics if `scripts/setup-kafka.sh` has not filled it.
pub fn kafka_libs() -> PathBuf {
    try_kafka_libs().unwrap_or_else(|e| panic!("{e}"))
}

fn try_kafka_libs() -> Result<PathBuf, String> {
    let pom_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/kafka/pom.xml");
    let pom = std::fs::read_to_string(&pom_path)
        .map_err(|e| format!("read {}: {e}", pom_path.display()))?;
    let version = pom
        .split_once("<kafka.version>")
        .and_then(|(_, rest)| rest.split_once("</kafka.version>"))
        .map(|(v, _)| v.trim().to_owned())
        .ok_or("no <kafka.version> in scripts/kafka/pom.xml")?;
    let cache = match std::env::var_os("CLE_KAFKA_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(format!(".cache/cluster-link-exporter/kafka-{version}")),
    };
    if !cache.join(".complete").is_file() || !cache.join("libs").is_dir() {
        return Err(format!(
            "Apache Kafka {version} is not in {}: run scripts/setup-kafka.sh",
            cache.display()
        ));
    }
    Ok(cache.join("libs"))
}

fn java() -> PathBuf {
    match std::env::var_os("JAVA_HOME") {
        Some(home) if Path::new(&home).join("bin/java").is_file() => {
            Path::new(&home).join("bin/java")
        }
        _ => PathBuf::from("java"),
    }
}

/// A KRaft cluster id: 16 random bytes, base64url without padding (not starting with `-`).
fn new_cluster_id() -> String {
    use base64::Engine;
    let rng = ring::rand::SystemRandom::new();
    loop {
        let mut bytes = [0u8; 16];
        rng.fill(&mut bytes).expect("random bytes");
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        if !id.starts_with('-') {
            return id;
        }
    }
}

/// Removes the directories (`cluster-link-exporter-kafka-*` in the temp dir) that test
/// processes no longer running left behind (static brokers are never dropped).
fn sweep_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("cluster-link-exporter-kafka-") {
            continue;
        }
        // cluster-link-exporter-<what>-<pid>-<n>-<nanos> (servers::temp_dir)
        let pid = name.rsplit('-').nth(2).and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// The certificates of this test binary, made on first use.
fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        sweep_stale_dirs();
        Pki::create(&temp_dir("kafka-pki"))
    })
}

fn free_port() -> u16 {
    crate::common::servers::free_port()
}

/// The last `lines` lines of a file, or a note that it is missing or empty.
fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Ok(_) => "(empty)".into(),
        Err(e) => format!("({e})"),
    }
}

fn jaas_plain() -> String {
    let users: String = USERS
        .iter()
        .map(|u| format!(" user_{}=\"{}\"", u.name, u.password))
        .collect();
    format!("org.apache.kafka.common.security.plain.PlainLoginModule required{users};")
}

/// The broker's process: `sh` running `java` and the watcher that kills it on EOF on stdin.
struct Process {
    child: Child,
    stdin: Option<ChildStdin>,
}

/// Runs `java "$@"` in the background, a watcher that kills it (SIGKILL) once the shell's
/// stdin reaches EOF, and waits for `java`: the shell exits with `java`'s status. (An
/// asynchronous list's stdin is /dev/null unless redirected, hence fd 3.)
const SUPERVISOR: &str = r#"exec 3<&0 0</dev/null
"$@" 3<&- >>stdout.log 2>&1 &
pid=$!
echo $pid > java.pid
{ cat <&3 >/dev/null; kill -9 $pid 2>/dev/null; } &
watcher=$!
exec 3<&-
wait $pid
status=$?
kill $watcher 2>/dev/null
exit $status
"#;

impl Process {
    fn spawn(dir: &Path, java: &[String]) -> Result<Self, String> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("sh")
            .args(java)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run sh: {e}"))?;
        let stdin = child.stdin.take();
        Ok(Self { child, stdin })
    }

    /// Kills `java` (closes the pipe) and waits for the shell.
    fn kill(mut self, dir: &Path) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Should not happen: kill java by its pid, then the shell.
        if let Ok(pid) = std::fs::read_to_string(dir.join("java.pid")) {
            let _ = Command::new("kill").args(["-9", pid.trim()]).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Broker {
    fn try_start(options: BrokerOptions, dedicated: bool) -> Result<Broker, String> {
        let libs = try_kafka_libs()?;
        let pki = pki().clone();
        let oidc = oidc::issuer();
        let dir = temp_dir(&format!("kafka-{}", options.name));
        let cluster_id = new_cluster_id();
        let [plaintext, sasl_ssl, sasl_plain_only, mtls, wrong_host, controller] =
            std::array::from_fn(|_| free_port());
        let addr = |port: u16| format!("127.0.0.1:{port}");
        let listeners = Listeners {
            plaintext: addr(plaintext),
            sasl_ssl: addr(sasl_ssl),
            sasl_plain_only: addr(sasl_plain_only),
            mtls: addr(mtls),
            wrong_host: addr(wrong_host),
        };
        let advertised = [
            ("PLAINTEXT", plaintext),
            ("SASL_SSL", sasl_ssl),
            ("SASL_PLAIN_ONLY", sasl_plain_only),
            ("MTLS", mtls),
            ("WRONG_HOST", wrong_host),
        ]
        .map(|(name, port)| format!("{name}://127.0.0.1:{port}"))
        .join(",");
        let jaas_plain = jaas_plain();
        let mut props: Vec<(String, String)> = [
            ("process.roles", "broker,controller".to_owned()),
            ("node.id", "1".into()),
            (
                "controller.quorum.voters",
                format!("1@127.0.0.1:{controller}"),
            ),
            ("controller.listener.names", "CONTROLLER".into()),
            ("inter.broker.listener.name", "PLAINTEXT".into()),
            (
                "listeners",
                format!("{advertised},CONTROLLER://127.0.0.1:{controller}"),
            ),
            ("advertised.listeners", advertised.clone()),
            (
                "listener.security.protocol.map",
                "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SASL_PLAIN_ONLY:SASL_SSL,MTLS:SSL,\
                 WRONG_HOST:SSL,CONTROLLER:PLAINTEXT"
                    .into(),
            ),
            ("log.dirs", dir.join("data").display().to_string()),
            ("num.partitions", "1".into()),
            ("offsets.topic.replication.factor", "1".into()),
            ("offsets.topic.num.partitions", "3".into()),
            ("transaction.state.log.replication.factor", "1".into()),
            ("transaction.state.log.min.isr", "1".into()),
            ("transaction.state.log.num.partitions", "3".into()),
            (
                "share.coordinator.state.topic.replication.factor",
                "1".into(),
            ),
            ("share.coordinator.state.topic.min.isr", "1".into()),
            ("group.initial.rebalance.delay.ms", "0".into()),
            ("auto.create.topics.enable", "false".into()),
            // Authorization: ACLs, ANONYMOUS (PLAINTEXT, CONTROLLER) and admin super users.
            (
                "authorizer.class.name",
                "org.apache.kafka.metadata.authorizer.StandardAuthorizer".into(),
            ),
            ("super.users", "User:ANONYMOUS;User:admin".into()),
            ("allow.everyone.if.no.acl.found", "false".into()),
            // TLS, every TLS listener: PEM keystore (PKCS#8 key, then the chain) and truststore.
            ("ssl.keystore.type", "PEM".into()),
            (
                "ssl.keystore.location",
                pki.broker_keystore.display().to_string(),
            ),
            ("ssl.truststore.type", "PEM".into()),
            ("ssl.truststore.location", pki.ca.display().to_string()),
            (
                "ssl.principal.mapping.rules",
                "RULE:^CN=([^,]+).*$/$1/,DEFAULT".into(),
            ),
            ("listener.name.mtls.ssl.client.auth", "required".into()),
            (
                "listener.name.wrong_host.ssl.keystore.location",
                pki.wrong_host_keystore.display().to_string(),
            ),
            // SASL_SSL: PLAIN (users inline), SCRAM (credentials made by StorageTool format),
            // OAUTHBEARER (JWTs checked against the OIDC issuer's JWKS).
            (
                "listener.name.sasl_ssl.sasl.enabled.mechanisms",
                "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER".into(),
            ),
            (
                "listener.name.sasl_ssl.plain.sasl.jaas.config",
                jaas_plain.clone(),
            ),
            (
                "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config",
                "org.apache.kafka.common.security.scram.ScramLoginModule required;".into(),
            ),
            (
                "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config",
                "org.apache.kafka.common.security.scram.ScramLoginModule required;".into(),
            ),
            (
                "listener.name.sasl_ssl.oauthbearer.sasl.jaas.config",
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;"
                    .into(),
            ),
            (
                "listener.name.sasl_ssl.oauthbearer.sasl.server.callback.handler.class",
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler"
                    .into(),
            ),
            // Kafka 4.1's default validator (DefaultJwtValidator, made without a key resolver)
            // delegates to ClientJwtValidator, which checks neither the signature nor the
            // issuer and audience: name the broker's validator, which checks all three.
            (
                "sasl.oauthbearer.jwt.validator.class",
                "org.apache.kafka.common.security.oauthbearer.BrokerJwtValidator".into(),
            ),
            ("sasl.oauthbearer.jwks.endpoint.url", oidc.jwks_url.clone()),
            ("sasl.oauthbearer.expected.audience", AUDIENCE.into()),
            ("sasl.oauthbearer.expected.issuer", oidc.url.clone()),
            // SASL_PLAIN_ONLY: PLAIN only.
            (
                "listener.name.sasl_plain_only.sasl.enabled.mechanisms",
                "PLAIN".into(),
            ),
            (
                "listener.name.sasl_plain_only.plain.sasl.jaas.config",
                jaas_plain,
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if let Some(ms) = options.reauth_ms {
            props.push(("connections.max.reauth.ms".into(), ms.to_string()));
        }
        props.extend(options.extra_properties.iter().cloned());
        let text: String = props
            .iter()
            .map(|(k, v)| format!("{k}={}\n", escape_property(v)))
            .collect();
        std::fs::write(dir.join("server.properties"), text)
            .map_err(|e| format!("write server.properties: {e}"))?;

        let classpath = format!("{}/*", libs.display());
        let log4j = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/kafka/log4j2.xml");
        let jvm = |heap: &str| -> Vec<String> {
            vec![
                java().display().to_string(),
                format!("-Xmx{heap}"),
                "-Xms64m".into(),
                "-XX:+UseSerialGC".into(),
                "-XX:TieredStopAtLevel=1".into(),
                "-XX:-UsePerfData".into(),
                "-Djava.awt.headless=true".into(),
                format!("-Dlog4j2.configurationFile={}", log4j.display()),
                format!("-Dkafka.logs.dir={}", dir.display()),
                format!(
                    "-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls={}",
                    oidc.jwks_url
                ),
                "-cp".into(),
                classpath.clone(),
            ]
        };

        // Format the storage, with the SCRAM credentials of every user.
        let mut format = jvm("256m");
        format.extend(
            [
                "kafka.tools.StorageTool",
                "format",
                "-t",
                &cluster_id,
                "-c",
                "server.properties",
            ]
            .map(String::from),
        );
        for user in USERS {
            for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
                format.push("--add-scram".into());
                format.push(format!(
                    "{mechanism}=[name={},password={}]",
                    user.name, user.password
                ));
            }
        }
        let out = Command::new(&format[0])
            .args(&format[1..])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e} (is Java 17+ installed?)", format[0]))?;
        if !out.status.success() {
            return Err(format!(
                "kafka broker {}: StorageTool format failed ({}):\n{}{}",
                options.name,
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }

        let mut java = jvm("256m");
        java.extend(["kafka.Kafka".into(), "server.properties".into()]);
        let broker = Broker {
            name: options.name.clone(),
            cluster_id,
            dir,
            listeners,
            pki,
            oidc_token_url: oidc.token_url.clone(),
            options,
            java,
            process: Mutex::new(None),
            dedicated,
        };
        broker.try_run()?;
        Ok(broker)
    }

    /// Starts the process and waits until it answers metadata on PLAINTEXT.
    fn try_run(&self) -> Result<(), String> {
        let begun = Instant::now();
        let mut process = self.process.lock().unwrap();
        assert!(process.is_none(), "broker {} is running", self.name);
        *process = Some(Process::spawn(&self.dir, &self.java)?);
        let producer: BaseProducer = self
            .admin_config()
            .set("log_level", "3")
            .create()
            .map_err(|e| format!("rdkafka client: {e}"))?;
        loop {
            if let Ok(Some(status)) = process.as_mut().unwrap().child.try_wait() {
                process.take();
                return Err(self.failure(&format!("exited with {status}")));
            }
            let metadata = producer
                .client()
                .fetch_metadata(None, Duration::from_millis(1000));
            if metadata.is_ok() {
                eprintln!(
                    "kafka: broker {} ready in {:.1} s ({})",
                    self.name,
                    begun.elapsed().as_secs_f64(),
                    self.dir.display()
                );
                return Ok(());
            }
            if begun.elapsed() > START_TIMEOUT {
                process.take().unwrap().kill(&self.dir);
                return Err(self.failure(&format!("not ready after {START_TIMEOUT:?}")));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn failure(&self, what: &str) -> String {
        format!(
            "kafka broker {} {what}; {}:\n{}\n{}:\n{}",
            self.name,
            self.dir.join("kafka.log").display(),
            tail(&self.dir.join("kafka.log"), 40),
            self.dir.join("stdout.log").display(),
            tail(&self.dir.join("stdout.log"), 40),
        )
    }

    /// The bootstrap address (`127.0.0.1:<port>`) of a listener.
    pub fn bootstrap(&self, listener: Listener) -> &str {
        let l = &self.listeners;
        match listener {
            Listener::Plaintext => &l.plaintext,
            Listener::SaslSsl => &l.sasl_ssl,
            Listener::SaslPlainOnly => &l.sasl_plain_only,
            Listener::Mtls => &l.mtls,
            Listener::WrongHost => &l.wrong_host,
        }
    }

    /// librdkafka properties for a client of `listener` authenticating with `auth`:
    /// `bootstrap.servers`, `security.protocol`, `ssl.ca.location` (the PKI's CA, on TLS
    /// listeners) and those of `auth`.
    pub fn client_properties(&self, listener: Listener, auth: &Auth) -> Vec<(String, String)> {
        let mut p: Vec<(&str, String)> = vec![
            ("bootstrap.servers", self.bootstrap(listener).to_owned()),
            ("security.protocol", listener.security_protocol().to_owned()),
        ];
        if listener.tls() {
            p.push(("ssl.ca.location", self.pki.ca.display().to_string()));
        }
        let sasl = |mechanism: &str, user: &User| {
            vec![
                ("sasl.mechanisms", mechanism.to_owned()),
                ("sasl.username", user.name.to_owned()),
                ("sasl.password", user.password.to_owned()),
            ]
        };
        match auth {
            Auth::None => {}
            Auth::Plain(user) => p.extend(sasl("PLAIN", user)),
            Auth::ScramSha256(user) => p.extend(sasl("SCRAM-SHA-256", user)),
            Auth::ScramSha512(user) => p.extend(sasl("SCRAM-SHA-512", user)),
            Auth::Oidc(user) => p.extend([
                ("sasl.mechanisms", "OAUTHBEARER".to_owned()),
                ("sasl.oauthbearer.method", "oidc".into()),
                ("sasl.oauthbearer.client.id", user.name.into()),
                ("sasl.oauthbearer.client.secret", user.password.into()),
                (
                    "sasl.oauthbearer.token.endpoint.url",
                    self.oidc_token_url.clone(),
                ),
                ("sasl.oauthbearer.scope", "kafka".into()),
            ]),
            Auth::ClientCert => p.extend([
                (
                    "ssl.certificate.location",
                    self.pki.client_cert.display().to_string(),
                ),
                (
                    "ssl.key.location",
                    self.pki.client_key.display().to_string(),
                ),
            ]),
            Auth::ClientCertFiles { cert, key } => p.extend([
                ("ssl.certificate.location", cert.display().to_string()),
                ("ssl.key.location", key.display().to_string()),
            ]),
        }
        p.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// An rdkafka configuration of [`Broker::client_properties`].
    pub fn client_config(&self, listener: Listener, auth: &Auth) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (k, v) in self.client_properties(listener, auth) {
            config.set(k, v);
        }
        config
    }

    /// An rdkafka configuration for the PLAINTEXT listener (principal `ANONYMOUS`, a super
    /// user): what the helpers set things up with.
    pub fn admin_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.listeners.plaintext);
        config
    }

    /// The last lines of the broker's logs (for failure messages).
    pub fn log_tail(&self) -> String {
        self.failure("log")
    }

    /// Whether the broker process is running.
    pub fn is_running(&self) -> bool {
        let mut process = self.process.lock().unwrap();
        match process.as_mut() {
            Some(p) => matches!(p.child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Kills the broker (SIGKILL) and waits for it. Its ports, data and configuration stay:
    /// [`Broker::start`] brings it back. Never on the shared [`brokers`].
    pub fn stop(&self) {
        if let Some(process) = self.process.lock().unwrap().take() {
            process.kill(&self.dir);
        }
    }

    /// Starts a stopped broker again (same ports, data, cluster id) and waits until it is
    /// ready; panics with its log if it does not come up.
    pub fn start(&self) {
        self.try_run().unwrap_or_else(|e| panic!("{e}"));
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
        if self.dedicated {
            if std::thread::panicking() {
                eprintln!("kafka: broker {} kept in {}", self.name, self.dir.display());
            } else {
                let _ = std::fs::remove_dir_all(&self.dir);
            }
        }
    }
}

/// A value of a Java properties file: backslashes escaped (JAAS configurations and paths).
fn escape_property(value: &str) -> String {
    value.replace('\\', "\\\\")
}
