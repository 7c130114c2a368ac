//! The service's database and processes for `bench events` and `bench full-sync`: `--database` (the SQLite
//! file of the run's folder, or a fresh database on a PostgreSQL server, dropped at the end) and
//! `--processes N` (`assetsync serve` child processes on that one database, each on its own port).

use super::child::ServiceProcess;
use super::report::Percentiles;
use crate::config::Config;
use crate::galleries::Expected;
use anyhow::{Context, bail};
use base64::Engine as _;
use clap::Args;
use domain::Sku;
use std::path::Path;
use store::scratch::ScratchDatabase;

/// The names of the bench's PostgreSQL databases begin with this (and the Unix time of their creation).
const DATABASE_PREFIX: &str = "assetsync_b_";

#[derive(Args, Clone, Debug)]
pub(super) struct DatabaseArgs {
    /// The service's database: by default a SQLite file in the run's folder; a `postgres://USER@HOST:PORT`
    /// server URL makes a fresh database on that server for the run (dropped at its end), used with a random
    /// `ASSETSYNC_SECRET_KEY`.
    #[arg(long)]
    database: Option<String>,
    /// `assetsync serve` processes on the one database (more than one needs PostgreSQL). Webhooks go to them
    /// in turn; a full sync is requested from the first.
    #[arg(long, default_value_t = 1)]
    processes: usize,
}

impl Default for DatabaseArgs {
    fn default() -> Self {
        Self {
            database: None,
            processes: 1,
        }
    }
}

impl DatabaseArgs {
    /// Whether the service must run as child processes (PostgreSQL, or more than one process).
    pub(super) fn needs_children(&self) -> bool {
        self.processes > 1 || self.database.as_deref().is_some_and(is_postgres)
    }

    pub(super) fn processes(&self) -> usize {
        self.processes
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The database of one run.
pub(super) struct BenchDatabase {
    /// `sqlite` or `postgres` (for the report: never the URL).
    pub(super) kind: &'static str,
    url: Option<String>,
    /// `ASSETSYNC_SECRET_KEY` for the children (PostgreSQL: a random key for this run).
    secret_key: Option<String>,
    scratch: Option<ScratchDatabase>,
}

impl BenchDatabase {
    /// Checks the options and, for a PostgreSQL server, creates the run's database on it.
    pub(super) async fn prepare(args: &DatabaseArgs) -> anyhow::Result<Self> {
        if args.processes == 0 {
            bail!("--processes must be at least 1");
        }
        let Some(url) = args.database.as_deref().filter(|url| is_postgres(url)) else {
            if args.processes > 1 {
                bail!(
                    "--processes {} needs a PostgreSQL --database (postgres://USER@HOST:PORT): a SQLite database \
                     is used by one process at a time",
                    args.processes
                );
            }
            return Ok(Self {
                kind: "sqlite",
                url: args.database.clone(),
                secret_key: None,
                scratch: None,
            });
        };
        let scratch = ScratchDatabase::create(url, DATABASE_PREFIX)
            .await
            .with_context(|| {
                format!(
                    "could not create the run's database on {}",
                    store::redact_url(url)
                )
            })?;
        let mut key = [0u8; 32];
        aws_lc_rs::rand::fill(&mut key)
            .map_err(|_| anyhow::anyhow!("no random bytes for a key"))?;
        println!(
            "  database {} on {}",
            scratch.name(),
            store::redact_url(url)
        );
        Ok(Self {
            kind: "postgres",
            url: Some(scratch.url().to_owned()),
            secret_key: Some(base64::engine::general_purpose::STANDARD.encode(key)),
            scratch: Some(scratch),
        })
    }

    /// `config` pointed at this database (unchanged for the default SQLite file).
    pub(super) fn configure(&self, config: &mut Config) {
        if let Some(url) = &self.url {
            config.database_url.clone_from(url);
        }
    }

    /// Drops the run's PostgreSQL database (after the processes stopped).
    pub(super) async fn finish(self) {
        if let Some(scratch) = self.scratch {
            let name = scratch.name().to_owned();
            if let Err(error) = scratch.drop_now().await {
                println!("  could not drop the database {name}: {error}");
            }
        }
    }
}

/// `assetsync serve` child processes on one database, killed when dropped.
pub(super) struct Cluster {
    /// At least one.
    processes: Vec<ServiceProcess>,
}

impl Cluster {
    /// Starts `count` processes on `config` (each in `<dir>/process-<i>` when more than one, each on a free
    /// port), one after the other.
    pub(super) async fn start(
        config: &Config,
        dir: &Path,
        count: usize,
        database: &BenchDatabase,
    ) -> anyhow::Result<Self> {
        if count == 0 {
            bail!("--processes must be at least 1");
        }
        let mut processes = Vec::with_capacity(count);
        for index in 0..count {
            let folder = if count == 1 {
                dir.to_path_buf()
            } else {
                dir.join(format!("process-{index}"))
            };
            processes.push(
                ServiceProcess::start(config, &folder, database.secret_key.as_deref()).await?,
            );
        }
        Ok(Self { processes })
    }

    /// The first process (where products are put and full syncs requested).
    pub(super) fn first(&self) -> anyhow::Result<&ServiceProcess> {
        self.processes.first().context("no service process")
    }

    pub(super) fn processes(&self) -> &[ServiceProcess] {
        &self.processes
    }

    /// Every process's webhook URL, in turn.
    pub(super) fn webhook_urls(&self) -> Vec<String> {
        self.processes
            .iter()
            .map(|process| format!("{}/events/aem", process.url))
            .collect()
    }

    /// The highest peak resident set among the processes, in MB.
    pub(super) fn peak_rss_mb(&self) -> f64 {
        self.processes
            .iter()
            .map(ServiceProcess::peak_rss_mb)
            .fold(0.0, f64::max)
    }

    /// The galleries each process serves (its own read cache), with its URL.
    pub(super) async fn served_galleries(&self, products: &[Sku]) -> Vec<(String, Expected)> {
        let mut served = Vec::with_capacity(self.processes.len());
        for process in &self.processes {
            served.push((
                process.url.clone(),
                process.served_galleries(products).await,
            ));
        }
        served
    }

    /// The event → applied latencies since each process started, merged: gallery writes summed, each
    /// percentile the highest of the processes' (an upper bound; the processes' samples are not available).
    pub(super) async fn applied_since_start(&self) -> anyhow::Result<(u64, Percentiles)> {
        let mut count = 0;
        let mut merged = Percentiles {
            p50: 0.0,
            p90: 0.0,
            p99: 0.0,
            p999: 0.0,
            max: 0.0,
        };
        for process in &self.processes {
            let summary = process.applied_since_start().await?;
            let ms = |key: &str| summary[key].as_f64().unwrap_or(0.0);
            count += summary["count"].as_u64().unwrap_or(0);
            merged.p50 = merged.p50.max(ms("p50_ms"));
            merged.p90 = merged.p90.max(ms("p90_ms"));
            merged.p99 = merged.p99.max(ms("p99_ms"));
            merged.p999 = merged.p999.max(ms("p999_ms"));
            merged.max = merged.max.max(ms("max_ms"));
        }
        Ok((count, merged))
    }
}

/// The first process whose served galleries differ from `expected`, if any.
pub(super) fn first_difference<'a>(
    served: &'a [(String, Expected)],
    expected: &Expected,
) -> Option<&'a (String, Expected)> {
    served.iter().find(|(_, galleries)| galleries != expected)
}
