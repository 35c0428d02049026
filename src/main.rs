//! The `cluster-link-exporter` binary: parses flags, sets up tracing, calls into the library.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use cluster_link_exporter::config::Config;
use cluster_link_exporter::{
    check_connections, check_kafka, describe_shards, parse_duration_checked, shard_hostname,
    DurationError, Exporter, ExporterOptions, ServeLimits, ShardArgs, Sharding, WebConfig,
    WebOptions, SHARD_ENV, TOTAL_SHARDS_ENV,
};
#[cfg(feature = "sim")]
use cluster_link_sim::{Flavour, Scenario, Simulator};

/// jemalloc, with background threads purging freed memory: the exporter frees a cycle's REST
/// answers and renderings, and a layout at each change, which glibc's malloc kept resident
/// (see docs/performance.md).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Default listen address. Port 9849: not used by the Kafka exporters people run next to us
/// (kafka_exporter 9308, KMinion 8080, kafka-lag-exporter and Burrow 8000, jmx_exporter's
/// usual 7071/5556).
const DEFAULT_LISTEN: &str = "0.0.0.0:9849";

#[derive(Parser)]
#[command(
    name = "cluster-link-exporter",
    version,
    about = "Prometheus exporter for Confluent Cluster Linking"
)]
struct Cli {
    /// The exporter's flags (also taken before `check-config` and `demo`).
    #[command(flatten)]
    run: RunArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

/// The flags of a run of the exporter, which `check-config` checks too.
#[derive(Args, Clone)]
struct RunArgs {
    /// Configuration file (YAML). Runs the exporter when no subcommand is given.
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    web: WebArgs,
    #[command(flatten)]
    log: LogArgs,
    /// This process's shard when several share the configured clusters: an ordinal from 0 to
    /// --total-shards minus 1, or `auto` for the trailing `-<n>` of the host name (`HOSTNAME`,
    /// a StatefulSet pod's name). A cluster belongs to shard
    /// jump_hash(fnv1a_64(name), --total-shards). See docs/scaling.md.
    #[arg(long, env = SHARD_ENV)]
    shard: Option<String>,
    /// How many shards share the configured clusters (default 1: this process collects them
    /// all). Above 1, --shard is required.
    #[arg(long = "total-shards", env = TOTAL_SHARDS_ENV)]
    total_shards: Option<String>,
}

/// The `--web.*` flags: the HTTP server of the exporter (and of `demo`).
#[derive(Args, Clone)]
struct WebArgs {
    /// Address to listen on for /metrics and the status page: `host:port`, or `:port` for
    /// every IPv4 interface.
    #[arg(
        long = "web.listen-address",
        default_value = DEFAULT_LISTEN,
        value_parser = cluster_link_exporter::parse_listen_address
    )]
    listen_address: String,
    /// Path under which metrics are exposed.
    #[arg(long = "web.telemetry-path", default_value = "/metrics")]
    telemetry_path: String,
    /// Most HTTP connections open at once; at the limit, new connections wait in the kernel's
    /// listen backlog until an open one closes.
    #[arg(
        long = "web.max-connections",
        default_value_t = 512,
        value_parser = clap::value_parser!(u32).range(1..=1_000_000)
    )]
    max_connections: u32,
    /// Time a connection has to send a complete request head (also the keep-alive idle
    /// timeout), e.g. 10s; then it is closed.
    #[arg(long = "web.header-read-timeout", default_value = "10s", value_parser = positive_duration)]
    header_read_timeout: Duration,
    /// Largest request head (request line and headers) in bytes, 8192 to 1048576; a larger
    /// one is answered 431. Request bodies are refused unread.
    #[arg(
        long = "web.max-request-bytes",
        default_value_t = 16384,
        value_parser = clap::value_parser!(u32).range(8192..=1_048_576)
    )]
    max_request_bytes: u32,
    /// How long writing a response may make no progress (a client that does not read), e.g.
    /// 30s; then the connection is closed.
    #[arg(long = "web.write-timeout", default_value = "30s", value_parser = positive_duration)]
    write_timeout: Duration,
    /// Enable the lifecycle endpoint: `POST /-/reload` (or `PUT`) re-reads --config as SIGHUP
    /// does. Without it, /-/reload answers 403.
    #[arg(long = "web.enable-lifecycle")]
    enable_lifecycle: bool,
    /// TLS, basic auth and response headers for every endpoint, in the Prometheus
    /// exporter-toolkit's web configuration format (see the README, "Securing /metrics").
    /// Checked before serving (and by check-config); changed files apply to new connections.
    #[arg(long = "web.config.file")]
    web_config_file: Option<PathBuf>,
}

/// The `--log.*` flags, taken by every subcommand.
#[derive(Args, Clone)]
struct LogArgs {
    /// Log level: error, warn, info, debug, trace (or a tracing filter directive).
    #[arg(long = "log.level", default_value = "info")]
    log_level: String,
    /// Log format.
    #[arg(long = "log.format", value_enum, default_value = "logfmt")]
    log_format: LogFormat,
}

impl WebArgs {
    /// The server's options.
    fn options(&self) -> WebOptions {
        WebOptions {
            listen_address: self.listen_address.clone(),
            telemetry_path: self.telemetry_path.clone(),
            limits: ServeLimits {
                max_connections: self.max_connections as usize,
                header_read_timeout: self.header_read_timeout,
                max_request_bytes: self.max_request_bytes as usize,
                write_timeout: self.write_timeout,
            },
            enable_lifecycle: self.enable_lifecycle,
            web_config_file: self.web_config_file.clone(),
        }
    }
}

impl RunArgs {
    /// The `--shard` and `--total-shards` values, unchecked.
    fn shard_args(&self) -> ShardArgs {
        ShardArgs {
            shard: self.shard.clone(),
            total_shards: self.total_shards.clone(),
        }
    }

    /// These flags (`matches`: where they were parsed) with each one given before the
    /// subcommand (`top`, `top_matches`) and not after it taken from there.
    fn under(mut self, matches: &ArgMatches, top: &RunArgs, top_matches: &ArgMatches) -> Self {
        let take = |id: &str| given(top_matches, id) && !given(matches, id);
        macro_rules! inherit {
            ($field:ident) => {
                if take(stringify!($field)) {
                    self.$field = top.$field.clone();
                }
            };
            ($group:ident . $field:ident) => {
                if take(stringify!($field)) {
                    self.$group.$field = top.$group.$field.clone();
                }
            };
        }
        inherit!(config);
        inherit!(web.listen_address);
        inherit!(web.telemetry_path);
        inherit!(web.max_connections);
        inherit!(web.header_read_timeout);
        inherit!(web.max_request_bytes);
        inherit!(web.write_timeout);
        inherit!(web.enable_lifecycle);
        inherit!(web.web_config_file);
        inherit!(log.log_level);
        inherit!(log.log_format);
        inherit!(shard);
        inherit!(total_shards);
        self
    }
}

/// Whether flag `id` was given (on the command line or in its environment variable) where
/// `matches` were parsed.
fn given(matches: &ArgMatches, id: &str) -> bool {
    // `value_source` panics on an id `matches` does not define; `try_get_raw` does not.
    matches.try_get_raw(id).is_ok()
        && matches!(
            matches.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
}

/// A duration flag like `500ms`, `10s` or `2m`, more than zero.
fn positive_duration(s: &str) -> Result<Duration, String> {
    match parse_duration_checked(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        Err(DurationError::TooLong) => Err(format!("{s:?} is {}", DurationError::TooLong)),
        _ => Err(format!(
            "expected a positive duration like 500ms, 10s or 2m, got {s:?}"
        )),
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Logfmt,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Start the simulated clusters of the default scenario and an exporter pointed at them.
    #[cfg(feature = "sim")]
    Demo(DemoArgs),
    /// Validate the configuration file and the other flags of a run, and exit (0: valid, 2:
    /// invalid; with --connect, 1: something unreachable or missing).
    CheckConfig(Box<CheckConfigArgs>),
    /// Run the simulated Confluent clusters alone and print how to reach them.
    #[cfg(feature = "sim")]
    Sim(SimArgs),
    /// Read a password from stdin (its first line) and print its bcrypt hash (cost 10) for
    /// `basic_auth_users` of --web.config.file.
    HashPassword,
}

/// The flags of `check-config`: those of a run, and `--connect`.
#[derive(Args, Clone)]
struct CheckConfigArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Also reach every configured REST endpoint and Kafka connection with the configured
    /// credentials and check what the file names (cluster ids, links, mirror topics, probe
    /// topics, offset-sync groups, include patterns): a table on stdout, exit 1 when something
    /// is unreachable or missing. Each request is bounded by its request_timeout.
    #[arg(long)]
    connect: bool,
}

/// The flags of `demo`: its exporter's HTTP server and logs.
#[cfg(feature = "sim")]
#[derive(Args, Clone)]
struct DemoArgs {
    #[command(flatten)]
    web: WebArgs,
    #[command(flatten)]
    log: LogArgs,
    /// Refused: demo reads no configuration file (kept to say so).
    #[arg(long, hide = true)]
    config: Option<PathBuf>,
}

/// The flags of `sim`.
#[cfg(feature = "sim")]
#[derive(Args, Clone)]
struct SimArgs {
    /// Scenario file (YAML); the built-in default scenario when absent.
    #[arg(long)]
    scenario: Option<String>,
    /// Print, instead of the endpoint lines, a ready exporter configuration (YAML) for the
    /// simulated clusters: `sim --print-config > sim.yaml &` then
    /// `cluster-link-exporter --config sim.yaml`. Valid while this simulator runs (its ports
    /// and Kafka cluster ids are new at each start).
    #[arg(long = "print-config")]
    print_config: bool,
    #[command(flatten)]
    log: LogArgs,
}

fn init_tracing(log: &LogArgs) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let (level, format) = (log.log_level.as_str(), log.log_format);
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .init(),
        LogFormat::Logfmt => registry
            .with(
                tracing_logfmt::builder()
                    .layer()
                    .with_writer(std::io::stderr),
            )
            .init(),
    }
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    if matches.subcommand_name() == Some("hash-password") {
        return hash_password(std::io::stdin().lock());
    }
    let args = match invocation(&matches) {
        Ok(args) => args,
        #[cfg(feature = "sim")]
        Err(sim) => return sim_command(sim, &matches),
        #[cfg(not(feature = "sim"))]
        Err(never) => match never {},
    };
    init_tracing(&args.log);
    if !args.web.telemetry_path.starts_with('/') || args.web.telemetry_path == "/" {
        eprintln!("error: --web.telemetry-path must start with / and not be / itself");
        return ExitCode::from(2);
    }
    let web = args.web.options();
    let web_config = match web.web_config_file.as_deref().map(WebConfig::load) {
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
        Some(Ok(checked)) => Some(checked),
        None => None,
    };
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match matches.subcommand_name() {
        #[cfg(feature = "sim")]
        Some("demo") if args.config.is_some() => {
            eprintln!(
                "error: demo runs its own simulated clusters and reads no --config file \
                 (run without the subcommand to use one)"
            );
            ExitCode::from(2)
        }
        #[cfg(feature = "sim")]
        Some("demo") => runtime.block_on(run_demo(&web)),
        Some(_) => {
            let code = check_config(&args, web_config.as_ref());
            let connect = matches
                .subcommand_matches("check-config")
                .is_some_and(|m| m.get_flag("connect"));
            if code != ExitCode::SUCCESS || !connect {
                return code;
            }
            match load(args.config.clone()) {
                Ok(config) => runtime.block_on(check_connect(&config)),
                Err(code) => code,
            }
        }
        None => {
            let sharding = match args.shard_args().resolve(shard_hostname) {
                Ok(sharding) => sharding,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            match load(args.config.clone()) {
                Ok(config) => runtime.block_on(run_exporter(config, args.config, &web, sharding)),
                Err(code) => code,
            }
        }
    }
}

/// `hash-password`: the bcrypt hash (cost 10, as `htpasswd -B`) of the first line of `input`,
/// its line ending trimmed; an empty password is refused (exit 2).
fn hash_password(mut input: impl std::io::BufRead) -> ExitCode {
    let mut line = String::new();
    if let Err(e) = input.read_line(&mut line) {
        eprintln!("error: reading the password from stdin: {e}");
        return ExitCode::from(2);
    }
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        eprintln!("error: no password on stdin (e.g. `printf %s \"$PASSWORD\" | cluster-link-exporter hash-password`)");
        return ExitCode::from(2);
    }
    match bcrypt::hash(password, 10) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: hashing the password: {e}");
            ExitCode::from(2)
        }
    }
}

/// What to do: the flags of the exporter, `check-config` or `demo` (each flag given after the
/// subcommand, or else before it), or `sim`'s.
#[cfg(feature = "sim")]
type Invocation = Result<RunArgs, SimArgs>;
#[cfg(not(feature = "sim"))]
type Invocation = Result<RunArgs, std::convert::Infallible>;

fn invocation(matches: &ArgMatches) -> Invocation {
    let cli = Cli::from_arg_matches(matches).unwrap_or_else(|e| e.exit());
    let top = cli.run;
    let sub_matches = |name: &str| matches.subcommand_matches(name).unwrap_or(matches);
    Ok(match cli.command {
        #[cfg(feature = "sim")]
        Some(Command::Sim(sim)) => return Err(sim),
        #[cfg(feature = "sim")]
        Some(Command::Demo(demo)) => {
            let args = RunArgs {
                config: demo.config,
                web: demo.web,
                log: demo.log,
                shard: None,
                total_shards: None,
            };
            args.under(sub_matches("demo"), &top, matches)
        }
        Some(Command::CheckConfig(check)) => {
            check.run.under(sub_matches("check-config"), &top, matches)
        }
        Some(Command::HashPassword) => top,
        None => top,
    })
}

/// `sim`: its own flags, and the log flags given before it; any other flag given before it
/// is refused (it does not apply).
#[cfg(feature = "sim")]
fn sim_command(sim: SimArgs, matches: &ArgMatches) -> ExitCode {
    let log_ids = ["log_level", "log_format"];
    let foreign = matches.ids().map(|id| id.as_str()).find(|id| {
        matches.value_source(id) == Some(ValueSource::CommandLine) && !log_ids.contains(id)
    });
    if let Some(id) = foreign {
        eprintln!("error: the exporter's flag {id:?} does not apply to sim (see `sim --help`)");
        return ExitCode::from(2);
    }
    let top = Cli::from_arg_matches(matches)
        .unwrap_or_else(|e| e.exit())
        .run;
    let sub = matches.subcommand_matches("sim").unwrap_or(matches);
    let log = RunArgs {
        log: sim.log,
        ..top.clone()
    }
    .under(sub, &top, matches)
    .log;
    init_tracing(&log);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(run_sim(sim.scenario, sim.print_config))
}

/// `check-config`: the configuration, the web configuration and, when a shard flag is given,
/// the assignment of the clusters to the shards (`--total-shards` alone: every shard's).
fn check_config(cli: &RunArgs, web_config: Option<&WebConfig>) -> ExitCode {
    let args = cli.shard_args();
    let shards = match (args.given(), args.shard.is_some()) {
        (false, _) => Ok(None),
        (true, true) => args
            .resolve(shard_hostname)
            .map(|s| Some((s.total(), Some(s.ordinal())))),
        (true, false) => args.total().map(|total| Some((total, None))),
    };
    let shards = match shards {
        Ok(shards) => shards,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let config = match load(cli.config.clone()) {
        Ok(config) => config,
        Err(code) => return code,
    };
    println!("config OK: {} cluster(s)", config.clusters.len());
    if let Some(w) = web_config {
        let tls = if w.uses_tls() { "TLS" } else { "no TLS" };
        let auth = if w.requires_auth() {
            "basic auth"
        } else {
            "no basic auth"
        };
        println!("web config OK: {tls}, {auth}");
    }
    if let Some((total, ordinal)) = shards {
        let names: Vec<String> = config.clusters.iter().map(|c| c.name.clone()).collect();
        print!("{}", describe_shards(&names, total, ordinal));
    }
    ExitCode::SUCCESS
}

/// `check-config --connect`: the table of what was reached and found; exit 1 when
/// something is unreachable or missing.
async fn check_connect(config: &Config) -> ExitCode {
    let report = check_connections(config).await;
    print!("{report}");
    if report.ok() {
        println!("connect OK: every endpoint reached, every name found");
        ExitCode::SUCCESS
    } else {
        println!("connect FAILED: see the rows marked FAILED, WRONG or MISSING");
        ExitCode::from(1)
    }
}

fn load(path: Option<PathBuf>) -> Result<Config, ExitCode> {
    let Some(path) = path else {
        let demo = if cfg!(feature = "sim") {
            " (or run `cluster-link-exporter demo`)"
        } else {
            ""
        };
        eprintln!("error: --config FILE is required{demo}");
        return Err(ExitCode::from(2));
    };
    // librdkafka checks every `kafka` section too, so a misspelt property fails here.
    let config = Config::load(&path).and_then(|c| check_kafka(&c).map(|()| c));
    config.map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

async fn run_exporter(
    config: Config,
    path: Option<PathBuf>,
    web: &WebOptions,
    sharding: Sharding,
) -> ExitCode {
    let options = ExporterOptions {
        config,
        web: web.clone(),
        config_file: path,
        sharding,
    };
    match Exporter::start(options).await {
        Ok(exporter) => {
            reload_on_sighup_until_shutdown(&exporter).await;
            tracing::info!("shutting down");
            exporter.shutdown().await;
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(feature = "sim")]
async fn run_demo(web: &WebOptions) -> ExitCode {
    let path = &web.telemetry_path;
    use cluster_link_exporter::demo::{start_simulation, ConfigFile, Simulation};
    let Simulation { sim, config, yaml } = match start_simulation().await {
        Ok(started) => started,
        Err(e) => {
            eprintln!("error: starting the simulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    let exporter = match Exporter::start(ExporterOptions::new(config).web(web.clone())).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let file = ConfigFile::write(&yaml, sim.control_url());
    let tls = exporter.uses_tls();
    let base = cluster_link_exporter::demo::base_url(exporter.address(), tls);
    println!("cluster-link-exporter demo is running:");
    println!("  status page   {base}/");
    println!("  metrics       {base}{path}");
    println!("  status JSON   {base}{}", cluster_link_exporter::JSON_PATH);
    for c in sim.endpoints() {
        println!(
            "  cluster {:<5} {} (Kafka {})",
            c.name, c.rest_url, c.bootstrap_servers
        );
    }
    println!("  control API   {}", sim.control_url());
    print_demo_config(file.as_ref());
    println!(
        "Try: curl -X POST {}/actions -d '{{\"do\":\"brokers_down\",\"cluster\":\"A\"}}'",
        sim.control_url()
    );
    println!("Ctrl-C stops everything.");
    shutdown_signal().await;
    exporter.shutdown().await;
    drop(file);
    drop(sim);
    ExitCode::SUCCESS
}

/// The banner's lines on the demo's configuration file: where it is and how to run an exporter
/// of one's own on it (another port: the demo's exporter keeps its own).
#[cfg(feature = "sim")]
fn print_demo_config(file: Result<&cluster_link_exporter::demo::ConfigFile, &std::io::Error>) {
    match file {
        Ok(file) => {
            let path = file.path();
            println!("  config file   {}", path.display());
            println!(
                "Your own exporter on these clusters: cluster-link-exporter --config {} \
                 --web.listen-address 127.0.0.1:9850",
                path.display()
            );
        }
        Err(e) => println!("  config file   not written: {e}"),
    }
}

#[cfg(feature = "sim")]
async fn run_sim(path: Option<String>, print_config: bool) -> ExitCode {
    let scenario = match path.as_deref().map(Scenario::from_file) {
        None => Scenario::default_scenario(),
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let sim = match Simulator::start(scenario).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let pki_dir = write_pki(&sim);
    if let Err(e) = &pki_dir {
        tracing::warn!(error = %e, "could not write the run's certificates");
    }
    if print_config {
        print_sim_config(&sim, pki_dir.as_deref().ok());
    } else {
        print_sim_endpoints(&sim, pki_dir.as_deref().ok());
    }
    shutdown_signal().await;
    if let Ok(dir) = pki_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    ExitCode::SUCCESS
}

/// `sim`'s endpoint lines: per cluster its id, flavour, REST URL and bootstrap servers; the
/// control API; the run's certificates (`pki_dir`).
#[cfg(feature = "sim")]
fn print_sim_endpoints(sim: &Simulator, pki_dir: Option<&std::path::Path>) {
    for c in sim.endpoints() {
        let flavour = match c.flavour {
            Flavour::Platform => "platform",
            Flavour::Cloud => "cloud",
        };
        println!(
            "cluster {} id={} flavour={flavour} rest={} bootstrap={}",
            c.name, c.cluster_id, c.rest_url, c.bootstrap_servers
        );
    }
    println!("control {}", sim.control_url());
    if let Some(dir) = pki_dir {
        println!(
            "ca {dir}/ca.pem client-cert {dir}/client.pem client-key {dir}/client.key",
            dir = dir.display()
        );
    }
}

/// `sim --print-config`: an exporter configuration for the simulated clusters (the exporter's
/// default poll interval), with the control API and certificates as comments, ending with a
/// comment line saying the simulator runs (flushed at once: stdout is line-buffered).
#[cfg(feature = "sim")]
fn print_sim_config(sim: &Simulator, pki_dir: Option<&std::path::Path>) {
    println!("# cluster-link-exporter configuration for `cluster-link-exporter sim`");
    println!(
        "# valid while this simulator runs; control API: {}",
        sim.control_url()
    );
    if let Some(dir) = pki_dir {
        println!("# the run's CA: {}/ca.pem", dir.display());
    }
    let yaml = cluster_link_exporter::demo::config_with_access(sim, "30s", pki_dir);
    print!("{yaml}");
    println!("# end of configuration: the simulator runs until Ctrl-C");
}

/// Reloads the configuration on each SIGHUP (the outcome is logged and in the
/// `clusterlink_exporter_config_last_reload_*` metrics); returns on Ctrl-C or SIGTERM.
async fn reload_on_sighup_until_shutdown(exporter: &Exporter) {
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .expect("install SIGHUP handler");
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = hangup.recv() => {
                tracing::info!("SIGHUP: reloading the configuration");
                // Logged and counted by the exporter.
                let _ = exporter.reload_file().await;
            }
        }
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Writes the run's CA and client certificate so TLS clusters can be reached from outside.
#[cfg(feature = "sim")]
fn write_pki(sim: &Simulator) -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("cluster-link-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("ca.pem"), &sim.pki().ca_pem)?;
    std::fs::write(dir.join("client.pem"), &sim.pki().client.cert_pem)?;
    std::fs::write(dir.join("client.key"), &sim.pki().client.key_pem)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flags a run of `argv` uses (`sim` excluded).
    fn run_args(argv: &[&str]) -> RunArgs {
        let matches = Cli::command().try_get_matches_from(argv).unwrap();
        invocation(&matches).ok().expect("not sim")
    }

    /// `help` of the subcommand `name`.
    fn help_of(name: &str) -> String {
        let mut cli = Cli::command();
        cli.build();
        let sub = cli.find_subcommand_mut(name).expect("a subcommand");
        sub.render_long_help().to_string()
    }

    #[test]
    fn each_subcommand_help_shows_only_its_own_flags() {
        let check = help_of("check-config");
        for flag in ["--config", "--web.listen-address", "--shard", "--log.level"] {
            assert!(check.contains(flag), "{flag} missing: {check}");
        }
        #[cfg(feature = "sim")]
        {
            let sim = help_of("sim");
            assert!(
                sim.contains("--scenario") && sim.contains("--log.level"),
                "{sim}"
            );
            for flag in ["--config <", "--web.", "--shard", "--total-shards"] {
                assert!(!sim.contains(flag), "sim --help lists {flag}: {sim}");
            }
            let demo = help_of("demo");
            assert!(demo.contains("--web.listen-address"), "{demo}");
            for flag in ["--config <", "--shard", "--scenario"] {
                assert!(!demo.contains(flag), "demo --help lists {flag}: {demo}");
            }
        }
    }

    #[test]
    fn flags_before_the_subcommand_apply_unless_given_after_it() {
        let args = run_args(&[
            "cluster-link-exporter",
            "--web.listen-address=127.0.0.1:1",
            "--config=a.yaml",
            "check-config",
            "--config=b.yaml",
        ]);
        assert_eq!(args.web.listen_address, "127.0.0.1:1");
        assert_eq!(args.config, Some(PathBuf::from("b.yaml")));
    }

    #[test]
    fn shard_flags_are_taken_before_and_after_the_subcommand() {
        let cli = run_args(&[
            "cluster-link-exporter",
            "--shard=auto",
            "check-config",
            "--total-shards",
            "3",
        ]);
        let args = cli.shard_args();
        assert_eq!(args.shard.as_deref(), Some("auto"));
        assert_eq!(args.total_shards.as_deref(), Some("3"));
        let resolved = args.resolve(|| Some("cle-2".into())).unwrap();
        assert_eq!((resolved.ordinal(), resolved.total().get()), (2, 3));
    }

    #[test]
    fn web_flag_defaults_are_the_documented_limits() {
        let cli = run_args(&["cluster-link-exporter"]);
        assert_eq!(cli.web.options().limits, ServeLimits::default());
    }

    #[test]
    fn web_flags_set_the_limits_and_refuse_unusable_values() {
        let cli = run_args(&[
            "cluster-link-exporter",
            "--web.max-connections=7",
            "--web.header-read-timeout=1500ms",
            "--web.max-request-bytes=9000",
            "--web.write-timeout=2m",
        ]);
        let expected = ServeLimits {
            max_connections: 7,
            header_read_timeout: Duration::from_millis(1500),
            max_request_bytes: 9000,
            write_timeout: Duration::from_secs(120),
        };
        assert_eq!(cli.web.options().limits, expected);
        for bad in [
            "--web.max-connections=0",
            "--web.header-read-timeout=0s",
            "--web.header-read-timeout=10",
            "--web.max-request-bytes=8191",
            "--web.write-timeout=-1s",
        ] {
            assert!(
                Cli::try_parse_from(["cluster-link-exporter", bad]).is_err(),
                "{bad} was accepted"
            );
        }
    }
}
