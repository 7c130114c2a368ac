//! `assetsync`: keeps commerce product galleries in sync with AEM Assets. One binary whose subcommands are
//! roles: `serve`, `worker`, `migrate`, `check-config`, `sandbox`, `demo`, `bench`, `sync`, `verify`,
//! `healthcheck`, `default-config`, `completions`.

#[cfg(feature = "sandbox")]
mod bench;
#[cfg(feature = "sandbox")]
mod catalog;
mod config;
#[cfg(feature = "sandbox")]
mod demo;
#[cfg(feature = "sandbox")]
mod emulators;
#[cfg(feature = "sandbox")]
mod galleries;
mod healthcheck;
mod launch;
mod logging;
mod progress;
mod sync_command;
mod user_command;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};
use config::{Config, LogFormat};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "assetsync",
    version,
    about = "Keeps commerce product galleries in sync with AEM Assets"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the service: webhook, APIs and workers.
    Serve {
        /// The TOML configuration file; without it, the configuration comes from `ASSETSYNC_*` variables alone.
        #[arg(long)]
        config: Option<PathBuf>,
        /// `json` (one JSON object per line) or `pretty`; default `[log] format`.
        #[arg(long, value_enum)]
        log_format: Option<LogFormat>,
    },
    /// Runs the workers and the cluster's duties without the HTTP API (its metrics listener when enabled).
    /// On PostgreSQL any number of `serve` and `worker` processes may share one database.
    Worker {
        /// The TOML configuration file; without it, the configuration comes from `ASSETSYNC_*` variables alone.
        #[arg(long)]
        config: Option<PathBuf>,
        /// `json` (one JSON object per line) or `pretty`; default `[log] format`.
        #[arg(long, value_enum)]
        log_format: Option<LogFormat>,
    },
    /// Applies the database's pending migrations and exits (`serve` and `worker` also apply them at start-up).
    Migrate {
        /// The TOML configuration file; without it, the configuration comes from `ASSETSYNC_*` variables alone.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Checks the configuration as `serve` does at start-up, without opening the database or binding a port:
    /// exits 0 with a summary, or 2 listing every problem found.
    CheckConfig {
        /// The TOML configuration file; without it, the configuration comes from `ASSETSYNC_*` variables alone.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    #[cfg(feature = "sandbox")]
    /// Runs the AEM emulator alone (Author API, search, renditions, signed I/O Events deliveries).
    Sandbox(demo::SandboxArgs),
    #[cfg(feature = "sandbox")]
    /// Emulator and service in one process on SQLite: generates a catalog, approves assets through signed
    /// deliveries, waits until every gallery is applied and prints a summary.
    Demo(demo::DemoArgs),
    #[cfg(feature = "sandbox")]
    /// Fixed workloads against the built-in sandbox in one process (events, full-sync, read), with a JSON
    /// report (`--report FILE`).
    Bench(bench::BenchArgs),
    /// Starts a full sync in the running service and shows its progress until it ends.
    Sync {
        /// A full sync: every asset of the DAM and every product of the commerce side.
        #[arg(long)]
        full: bool,
        /// The service's TOML configuration file (for its address and admin token); without it,
        /// `ASSETSYNC_*` variables alone.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Compares the DAM, assetsync's state and the commerce galleries in the running service: exits 0 when they
    /// agree, 1 on a difference, 2 on an error. `--repair` queues the fixes (a full sync, re-writes with
    /// adoption by file name).
    Verify {
        #[arg(long)]
        repair: bool,
        /// The service's TOML configuration file (for its address and admin token); without it,
        /// `ASSETSYNC_*` variables alone.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// The admin console's local users: `add` (password from standard input), `list`, `remove`. They work
    /// while `serve` runs on the same configuration.
    User(user_command::UserArgs),
    /// Exits 0 when the service's health URL answers 2xx (a container's HEALTHCHECK).
    Healthcheck(healthcheck::HealthcheckArgs),
    /// Prints a commented example configuration.
    DefaultConfig,
    /// Prints a completion script for a shell (`source <(assetsync completions bash)`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

impl Command {
    /// The exit code of a failure: 2 for the commands whose 1 means something else (`verify`: differences) or
    /// that promise 2 (`check-config`), 1 otherwise.
    fn error_code(&self) -> ExitCode {
        match self {
            Self::Verify { .. } | Self::CheckConfig { .. } => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        // Their log follows their configuration: set up once it is read.
        Command::Serve { .. } | Command::Worker { .. } => {}
        #[cfg(feature = "sandbox")]
        Command::Sandbox(_) => logging::init(LogFormat::Pretty, None, "info"),
        _ => logging::init(LogFormat::Pretty, None, "warn"),
    }
    let error_code = cli.command.error_code();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("assetsync: could not start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("assetsync: {error:#}");
            error_code
        }
    }
}

/// Reads the configuration of `serve` or `worker`, sets up the log it asks for (`--log-format` over `[log]
/// format`; `RUST_LOG` over `[log] level`) and checks it.
fn prepare(
    path: Option<&std::path::Path>,
    log_format: Option<LogFormat>,
) -> anyhow::Result<(Config, launch::Plan)> {
    let config = Config::read(path)?;
    logging::init(
        log_format.unwrap_or(config.log.format),
        config.log.level.as_deref(),
        "info",
    );
    let plan = launch::Plan::new(&config)?;
    Ok((config, plan))
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { config, log_format } => {
            let (config, plan) = prepare(config.as_deref(), log_format)?;
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("could not listen on {}", config.listen))?;
            // Before the banner: whoever reads it may signal at once.
            let signals = ShutdownSignals::install();
            let service = launch::Service::start_planned(&config, plan, listener).await?;
            tracing::info!(url = %service.url, sink = service.engine.sink_kind(), "assetsync is serving");
            let banner = format!("assetsync listening on {}", service.url);
            run_until_signal(service, signals, banner).await
        }
        Command::Worker { config, log_format } => {
            let (config, plan) = prepare(config.as_deref(), log_format)?;
            let signals = ShutdownSignals::install();
            let service = launch::Service::start_worker(&config, plan).await?;
            tracing::info!(
                sink = service.engine.sink_kind(),
                "assetsync worker running"
            );
            run_until_signal(service, signals, "assetsync worker running".to_owned()).await
        }
        Command::Migrate { config } => {
            let config = Config::load(config.as_deref())?;
            let store = launch::open_store(&config.database_url).await?;
            drop(store);
            println!(
                "the database {} is migrated to version {}",
                store::redact_url(&config.database_url),
                store::migrations::latest_version()?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig { config } => Ok(check_config(config.as_deref())),
        #[cfg(feature = "sandbox")]
        Command::Sandbox(args) => demo::sandbox(args).await,
        #[cfg(feature = "sandbox")]
        Command::Demo(args) => demo::demo(args).await,
        #[cfg(feature = "sandbox")]
        Command::Bench(args) => bench::bench(args).await,
        Command::Sync { full, config } => {
            if !full {
                anyhow::bail!(
                    "say --full: a full sync is the only kind of sync this version starts"
                );
            }
            sync_command::full_sync(&Config::load(config.as_deref())?).await
        }
        Command::Verify { repair, config } => {
            sync_command::verify(&Config::load(config.as_deref())?, repair).await
        }
        Command::Healthcheck(args) => healthcheck::healthcheck(args).await,
        Command::User(args) => user_command::run(args).await,
        Command::DefaultConfig => {
            print!("{}", config::example_with_random_token()?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "assetsync",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `assetsync check-config`: what `serve` checks before it opens the database (the same [`launch::Plan`]).
/// Prints a one-line summary and exits 0, or lists every problem on stderr and exits 2.
fn check_config(path: Option<&std::path::Path>) -> ExitCode {
    let checked = Config::read(path).and_then(|config| launch::Plan::new(&config).map(|_| config));
    let source = path.map_or_else(|| "the environment".to_owned(), |p| p.display().to_string());
    match checked {
        Ok(config) => {
            println!(
                "ok: {source} is valid (listen {}, database {}, aem program {} environment {}, commerce {})",
                config.listen,
                store::redact_url(&config.database_url),
                config.aem.program_id,
                config.aem.environment_id,
                config.commerce.kind
            );
            ExitCode::SUCCESS
        }
        Err(problems) => {
            eprintln!("assetsync: {source}: {} problem(s) found", problems.0.len());
            for problem in &problems.0 {
                eprintln!("  - {problem}");
            }
            ExitCode::from(2)
        }
    }
}

/// Prints the banner (and the metrics address) in one write, then runs until SIGINT or SIGTERM and stops the
/// service. A closed stdout is not an error: the service must not stop because whoever started it stopped
/// reading.
async fn run_until_signal(
    service: launch::Service,
    signals: ShutdownSignals,
    banner: String,
) -> anyhow::Result<ExitCode> {
    let mut banner = banner + "\n";
    if let Some(metrics) = &service.metrics_url {
        banner.push_str(&format!("assetsync metrics on {metrics}\n"));
    }
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), banner.as_bytes());
    signals.wait().await;
    tracing::info!("shutting down");
    service.stop().await;
    Ok(ExitCode::SUCCESS)
}

/// Waits for Ctrl-C or SIGTERM.
#[cfg(feature = "sandbox")]
pub(crate) async fn wait_for_signal() {
    ShutdownSignals::install().wait().await;
}

/// SIGINT and SIGTERM handlers, installed when this is created: a signal that arrives afterwards, even before
/// [`ShutdownSignals::wait`] is polled, is kept rather than killing the process.
pub(crate) struct ShutdownSignals {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignals {
    pub(crate) fn install() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        Self {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
        }
    }

    pub(crate) async fn wait(self) {
        async fn next(signal: Option<tokio::signal::unix::Signal>) {
            match signal {
                Some(mut signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            () = next(self.interrupt) => {}
            () = next(self.terminate) => {}
        }
    }
}
