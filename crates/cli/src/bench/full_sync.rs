//! `bench full-sync`: a whole DAM onto a whole catalog, timed until every gallery is consistent. The service
//! runs in a child process (`assetsync serve`), so that its peak memory is measured apart from the
//! emulators' (which stay in this process with the catalog and the oracle).

use super::cluster::{BenchDatabase, Cluster, DatabaseArgs, first_difference};
use super::report::{machine, overlapping_writes, peak_rss_mb};
use super::sink_name;
use super::workload::{catalog, load_assets};
use crate::demo::{DemoMatching, DemoSink, Emulators};
use crate::galleries::{Expected, difference_report, expected_galleries, store_galleries};
use crate::progress::Progress;
use clap::Args;
use domain::Sku;
use serde::Serialize;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Args)]
pub(super) struct FullSyncArgs {
    #[arg(long, default_value_t = 100_000)]
    assets: usize,
    #[arg(long, default_value_t = 50_000)]
    products: usize,
    #[arg(long, value_enum, default_value_t = DemoSink::Builtin)]
    sink: DemoSink,
    /// Latency the commerce emulator adds to every request.
    #[arg(long, default_value_t = 20)]
    commerce_latency_ms: u64,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 900)]
    timeout: u64,
    #[command(flatten)]
    database: DatabaseArgs,
}

#[derive(Serialize)]
pub(super) struct FullSyncReport {
    scenario: &'static str,
    /// `sqlite` or `postgres`.
    database: &'static str,
    /// `assetsync serve` processes on the database (the sync is requested from the first).
    processes: usize,
    /// Writes to the emulated commerce store that began while another write to the same product was in
    /// flight (`--sink adobe-commerce` only): more than 0 fails the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    overlapping_writes: Option<u64>,
    assets: usize,
    products: usize,
    sink: &'static str,
    commerce_latency_ms: u64,
    /// From the request until a check that found nothing queued and every gallery right began.
    seconds: f64,
    assets_per_s: f64,
    galleries_ok: bool,
    entries: usize,
    /// The service's own peak resident set (`assetsync serve`, a child process; the highest of them).
    service_peak_rss_mb: f64,
    /// This process's: the AEM and commerce emulators with the whole catalog, the oracle, the bench.
    emulators_peak_rss_mb: f64,
    setup_s: f64,
    machine: Value,
}

pub(super) async fn full_sync_scenario(
    args: &FullSyncArgs,
    dir: &Path,
    seed: u64,
) -> anyhow::Result<(Value, bool)> {
    let database = BenchDatabase::prepare(&args.database).await?;
    let result = scenario(args, dir, seed, &database).await;
    database.finish().await;
    result
}

async fn scenario(
    args: &FullSyncArgs,
    dir: &Path,
    seed: u64,
    database: &BenchDatabase,
) -> anyhow::Result<(Value, bool)> {
    let setup = Instant::now();
    let products = catalog(args.products)?;
    let mut emulators = Emulators::start(dir, args.sink, DemoMatching::Sku, false).await?;
    database.configure(&mut emulators.config);
    if let Some(store) = &emulators.store_emulator {
        store.set_conditions(args.commerce_latency_ms, 0.0);
        for sku in &products {
            store.create_product(sku.as_str());
        }
    }
    let cluster =
        Cluster::start(&emulators.config, dir, args.database.processes(), database).await?;
    let service = cluster.first()?;
    let progress = Progress::phase("bench: adding products");
    service.add_products(&products).await?;
    progress.finish();
    load_assets(&emulators.emulator, &products, args.assets, seed)?;
    let expected = expected_galleries(&emulators.emulator, &products)?;
    let setup_s = setup.elapsed().as_secs_f64();
    println!(
        "bench full-sync: {} assets onto {} products ({} entries), sink {}, {} on {} service process(es), the first at {}; loaded in {setup_s:.1} s",
        args.assets,
        args.products,
        expected.values().map(Vec::len).sum::<usize>(),
        sink_name(args.sink),
        database.kind,
        cluster.processes().len(),
        service.url
    );
    let started = Instant::now();
    let sync = service.request_full_sync().await?;
    let deadline = started + Duration::from_secs(args.timeout);
    let (galleries_ok, seconds) = consistent(
        &cluster,
        &emulators,
        (sync, started),
        &expected,
        &products,
        deadline,
    )
    .await?;
    let seconds = seconds
        .unwrap_or_else(|| started.elapsed().as_secs_f64())
        .max(0.001);
    let overlapping_writes = overlapping_writes(emulators.store_emulator.as_ref());
    let report = FullSyncReport {
        scenario: "full-sync",
        database: database.kind,
        processes: cluster.processes().len(),
        overlapping_writes,
        assets: args.assets,
        products: args.products,
        sink: sink_name(args.sink),
        commerce_latency_ms: args.commerce_latency_ms,
        seconds,
        assets_per_s: args.assets as f64 / seconds,
        galleries_ok,
        entries: expected.values().map(Vec::len).sum(),
        service_peak_rss_mb: cluster.peak_rss_mb(),
        emulators_peak_rss_mb: peak_rss_mb(),
        setup_s,
        machine: machine(),
    };
    println!(
        "  consistent after {seconds:.2} s ({:.0} assets/s), galleries {}; peak RSS: service {:.0} MB, emulators and bench {:.0} MB",
        report.assets_per_s,
        if galleries_ok { "ok" } else { "WRONG" },
        report.service_peak_rss_mb,
        report.emulators_peak_rss_mb
    );
    drop(cluster);
    let ok = galleries_ok && overlapping_writes.unwrap_or(0) == 0;
    Ok((serde_json::to_value(report)?, ok))
}

/// Waits until the full sync is done, nothing is queued and every gallery (served, and in the emulated store)
/// is the expected one: whether it came to that, and when (seconds from `started`, the request, to the start
/// of the check that found it so).
async fn consistent(
    cluster: &Cluster,
    emulators: &Emulators,
    (sync, started): (i64, Instant),
    expected: &Expected,
    products: &[Sku],
    deadline: Instant,
) -> anyhow::Result<(bool, Option<f64>)> {
    let service = cluster.first()?;
    let mut last_print = Instant::now();
    loop {
        let checked_at = started.elapsed().as_secs_f64();
        let report = last_print.elapsed() >= Duration::from_secs(5);
        let (idle, progress) = service.idle_after(sync, report).await?;
        if let (true, Some(progress)) = (report, progress) {
            println!("  {checked_at:>6.1}s  {progress}");
            last_print = Instant::now();
        }
        if idle {
            let served = cluster.served_galleries(products).await;
            let store = emulators
                .store_emulator
                .as_ref()
                .map(|store| store_galleries(store, products));
            let wrong = first_difference(&served, expected);
            if wrong.is_none() && store.as_ref().is_none_or(|store| store == expected) {
                return Ok((true, Some(checked_at)));
            }
            if Instant::now() > deadline {
                let (process, served) = wrong.or(served.first()).cloned().unwrap_or_default();
                println!("  the galleries are not the expected ones (served: by {process}):");
                for line in difference_report(expected, &served, store.as_ref(), 10) {
                    println!("    {line}");
                }
                return Ok((false, None));
            }
        } else if Instant::now() > deadline {
            println!("  the full sync did not end (or work stayed queued) before the time-out");
            return Ok((false, None));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
