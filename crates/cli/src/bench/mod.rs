//! `assetsync bench`: fixed workloads against the built-in sandbox, with a JSON report.
//!
//! - `events`: pre-signed deliveries sent on a clock (open loop); latency from each event's intended time.
//! - `full-sync`: a whole DAM onto a whole catalog, timed until every gallery is consistent.
//! - `read`: the storefront read API against a trivial axum handler measured in the same run.
//! - `admin`: the Sync Status page's reads on a store seeded with a million asset statuses.
//!
//! Modules: [`events`], [`full_sync`] and [`read`] (one per scenario), [`schedule`] (the events' plan, signed
//! ahead), [`deliveries`] (sending them, redelivered as I/O Events does), [`workload`] (the generated catalog
//! and waiting for the galleries), [`child`] (the service as a child process, for `full-sync`), [`report`]
//! (percentiles, memory, the machine).

mod admin;
mod child;
mod cluster;
mod deliveries;
mod events;
mod full_sync;
mod read;
mod report;
mod run;
mod schedule;
mod workload;

use crate::demo::{DemoSink, work_dir};
use anyhow::Context;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// How long the bench's HTTP clients keep an idle connection to the service: well below the service's own
/// idle time-out (10 s), so that a connection is never reused just as the service closes it.
const SERVICE_IDLE_MARGIN: Duration = Duration::from_secs(4);

/// `assetsync bench` options.
#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    scenario: Scenario,
    /// Where the JSON report is written (it is also printed as a summary).
    #[arg(long, global = true)]
    report: Option<PathBuf>,
    /// Folder for the database (default: a temporary folder removed at exit).
    #[arg(long, global = true)]
    dir: Option<PathBuf>,
    /// Seed of the generated catalog and workload.
    #[arg(long, global = true, default_value_t = 7)]
    seed: u64,
}

#[derive(Subcommand)]
enum Scenario {
    /// Signed asset events at a fixed rate: acknowledgement and event → applied latency.
    Events(events::EventsArgs),
    /// A full sync of a whole DAM onto a whole catalog.
    FullSync(full_sync::FullSyncArgs),
    /// The storefront read API against a trivial handler measured in the same run.
    Read(read::ReadArgs),
    /// The admin console's Sync Status reads on a store seeded with many asset statuses.
    Admin(admin::AdminArgs),
}

pub async fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let (dir, _temporary) = work_dir(args.dir.as_deref())?;
    let checks_pages = matches!(args.scenario, Scenario::Admin(_));
    let (report, ok) = match args.scenario {
        Scenario::Events(events) => events::events_scenario(&events, &dir, args.seed).await?,
        Scenario::FullSync(full) => full_sync::full_sync_scenario(&full, &dir, args.seed).await?,
        Scenario::Read(read) => read::read_scenario(&read, &dir, args.seed).await?,
        Scenario::Admin(admin) => admin::admin_scenario(&admin, &dir).await?,
    };
    let text = serde_json::to_string_pretty(&report)?;
    if let Some(path) = &args.report {
        std::fs::write(path, format!("{text}\n"))
            .with_context(|| format!("could not write the report {}", path.display()))?;
        println!("report written to {}", path.display());
    }
    let overlaps = report["overlapping_writes"].as_u64().unwrap_or(0);
    Ok(if ok {
        ExitCode::SUCCESS
    } else if checks_pages {
        println!("FAILED: a page of the console did not answer 200 (see `pages` in the report)");
        ExitCode::FAILURE
    } else if overlaps > 0 {
        println!("FAILED: {overlaps} writes to one product overlapped in the commerce store");
        ExitCode::FAILURE
    } else {
        println!("FAILED: the galleries are not the expected ones");
        ExitCode::FAILURE
    })
}

pub(super) fn sink_name(sink: DemoSink) -> &'static str {
    match sink {
        DemoSink::Builtin => "builtin",
        DemoSink::AdobeCommerce => "adobe-commerce",
    }
}
