//! The `cluster-link-exporter` binary: parses flags, sets up tracing, calls into the library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use cluster_link_exporter::sim::{Flavour, Scenario, Simulator};

#[derive(Parser)]
#[command(name = "cluster-link-exporter", version, about)]
struct Cli {
    /// Log level: error, warn, info, debug, trace (or a tracing filter directive).
    #[arg(long = "log.level", default_value = "info", global = true)]
    log_level: String,
    /// Log format.
    #[arg(
        long = "log.format",
        value_enum,
        default_value = "logfmt",
        global = true
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Logfmt,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the simulated Confluent clusters alone and print how to reach them.
    Sim {
        /// Scenario file (YAML); the built-in default scenario when absent.
        #[arg(long)]
        scenario: Option<String>,
    },
}

fn init_tracing(level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Logfmt => builder.init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.log_level, cli.log_format);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match cli.command {
        Command::Sim { scenario } => runtime.block_on(run_sim(scenario)),
    }
}

async fn run_sim(path: Option<String>) -> ExitCode {
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
    let pki_dir = write_pki(&sim);
    match &pki_dir {
        Ok(dir) => println!(
            "ca {dir}/ca.pem client-cert {dir}/client.pem client-key {dir}/client.key",
            dir = dir.display()
        ),
        Err(e) => tracing::warn!(error = %e, "could not write the run's certificates"),
    }
    shutdown_signal().await;
    if let Ok(dir) = pki_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    ExitCode::SUCCESS
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
fn write_pki(sim: &Simulator) -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("cluster-link-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("ca.pem"), &sim.pki().ca_pem)?;
    std::fs::write(dir.join("client.pem"), &sim.pki().client.cert_pem)?;
    std::fs::write(dir.join("client.key"), &sim.pki().client.key_pem)?;
    Ok(dir)
}
