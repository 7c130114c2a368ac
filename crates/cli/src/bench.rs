//! `assetsync bench`: fixed workloads against the built-in sandbox in one process, with a JSON report.
//!
//! - `events`: pre-signed deliveries sent on a clock (open loop); latency from each event's intended time.
//! - `full-sync`: a whole DAM onto a whole catalog, timed until every gallery is consistent.
//! - `read`: the storefront read API against a trivial axum handler measured in the same run.

use crate::demo::{DemoMatching, DemoSink, SandboxRun, add_products, work_dir};
use crate::galleries::{
    Expected, difference_report, expected_galleries, served_galleries, store_galleries,
};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use domain::Sku;
use sandbox::PreparedDelivery;
use sandbox::aem::NewAsset;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
    Events(EventsArgs),
    /// A full sync of a whole DAM onto a whole catalog.
    FullSync(FullSyncArgs),
    /// The storefront read API against a trivial handler measured in the same run.
    Read(ReadArgs),
}

#[derive(Args)]
struct EventsArgs {
    /// Events per second.
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// Seconds of sending.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    #[arg(long, value_enum, default_value_t = DemoSink::Builtin)]
    sink: DemoSink,
    /// Latency the commerce emulator adds to every request.
    #[arg(long, default_value_t = 20)]
    commerce_latency_ms: u64,
    /// Products in the catalog.
    #[arg(long, default_value_t = 2000)]
    products: usize,
    /// Assets in the DAM (synced before the clock starts).
    #[arg(long, default_value_t = 6000)]
    assets: usize,
    /// Give up waiting for the galleries this many seconds after the last event.
    #[arg(long, default_value_t = 300)]
    settle_timeout: u64,
}

#[derive(Args)]
struct FullSyncArgs {
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
}

#[derive(Args)]
struct ReadArgs {
    /// Seconds in all, split in three: the yardstick's maximum, the read API's maximum, the read API at half
    /// the yardstick's maximum.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Concurrent requests of the closed-loop phases.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Products whose galleries are read (synced before the clock starts).
    #[arg(long, default_value_t = 1000)]
    products: usize,
    /// Assets on those products.
    #[arg(long, default_value_t = 3000)]
    assets: usize,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
struct Percentiles {
    p50: f64,
    p90: f64,
    p99: f64,
    p999: f64,
    max: f64,
}

impl Percentiles {
    /// From samples in microseconds.
    fn of_micros(samples: &mut [u64]) -> Self {
        samples.sort_unstable();
        let at = |q: f64| -> f64 {
            if samples.is_empty() {
                return 0.0;
            }
            let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
            samples[rank - 1] as f64 / 1000.0
        };
        Self {
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            p999: at(0.999),
            max: at(1.0),
        }
    }

    fn of_summary(summary: &engine::sla::LatencySummary) -> Self {
        Self {
            p50: summary.p50_ms as f64,
            p90: summary.p90_ms as f64,
            p99: summary.p99_ms as f64,
            p999: summary.p999_ms as f64,
            max: summary.max_ms as f64,
        }
    }
}

pub async fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let (dir, _temporary) = work_dir(args.dir.as_deref())?;
    let (report, ok) = match args.scenario {
        Scenario::Events(events) => events_scenario(&events, &dir, args.seed).await?,
        Scenario::FullSync(full) => full_sync_scenario(&full, &dir, args.seed).await?,
        Scenario::Read(read) => read_scenario(&read, &dir, args.seed).await?,
    };
    let text = serde_json::to_string_pretty(&report)?;
    if let Some(path) = &args.report {
        std::fs::write(path, format!("{text}\n"))
            .with_context(|| format!("could not write the report {}", path.display()))?;
        println!("report written to {}", path.display());
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        println!("FAILED: the galleries are not the expected ones");
        ExitCode::FAILURE
    })
}

/// The machine the figures were measured on.
fn machine() -> Value {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_default();
    json!({ "cores": cores, "cpu": cpu, "store": "sqlite", "build": if cfg!(debug_assertions) { "debug" } else { "release" } })
}

/// The process's peak resident set (service, emulators and the pre-built workload), in MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0))
}

fn catalog(products: usize) -> anyhow::Result<Vec<Sku>> {
    if products == 0 {
        bail!("the catalog needs at least one product");
    }
    Ok((1..=products)
        .map(|i| Sku::parse(&format!("BENCH-{i:06}")))
        .collect::<Result<_, _>>()?)
}

/// Creates `count` approved commerce assets (quietly: no event) spread over `products`.
fn load_assets(
    run: &SandboxRun,
    products: &[Sku],
    count: usize,
    seed: u64,
) -> anyhow::Result<Vec<Loaded>> {
    run.emulator.quiet(true);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut loaded = Vec::with_capacity(count);
    for i in 0..count {
        let sku_count = if rng.u8(..100) < 15 {
            rng.usize(2..=3)
        } else {
            1
        }
        .min(products.len());
        let mut skus: Vec<&str> = Vec::with_capacity(sku_count);
        while skus.len() < sku_count {
            let sku = products[rng.usize(..products.len())].as_str();
            if !skus.contains(&sku) {
                skus.push(sku);
            }
        }
        let mut metadata = Map::new();
        metadata.insert("dc:title".into(), json!(format!("Bench asset {i}")));
        metadata.insert("commerce:isCommerce".into(), json!("yes"));
        metadata.insert("dam:status".into(), json!("approved"));
        metadata.insert("commerce:skus".into(), json!(skus));
        metadata.insert(
            "commerce:roles".into(),
            json!(random_roles(&mut rng, sku_count)),
        );
        metadata.insert(
            "commerce:positions".into(),
            json!(random_positions(&mut rng, sku_count)),
        );
        let id = run.emulator.create_asset(NewAsset {
            metadata,
            ..NewAsset::default()
        })?;
        loaded.push(Loaded {
            id,
            skus: sku_count,
            alive: true,
            approved: true,
        });
    }
    Ok(loaded)
}

/// An asset of the workload as the schedule builder tracks it.
struct Loaded {
    id: String,
    skus: usize,
    alive: bool,
    approved: bool,
}

fn random_roles(rng: &mut fastrand::Rng, count: usize) -> Vec<&'static str> {
    const ROLE_SETS: [&str; 6] = [
        "image;small_image;thumbnail",
        "small_image",
        "thumbnail",
        "swatch_image",
        "",
        "",
    ];
    (0..count)
        .map(|_| ROLE_SETS[rng.usize(..ROLE_SETS.len())])
        .collect()
}

fn random_positions(rng: &mut fastrand::Rng, count: usize) -> Vec<i64> {
    (0..count).map(|_| i64::from(rng.u8(1..30))).collect()
}

/// Waits until nothing is queued and the galleries (served, and in the emulated store) are the expected ones.
async fn settle(
    run: &SandboxRun,
    expected: &Expected,
    products: &[Sku],
    deadline: Instant,
) -> anyhow::Result<bool> {
    loop {
        let backlog = run.service.engine.backlog().await?;
        if backlog.asset_work == 0 && backlog.sku_work == 0 {
            let served_ok = served_galleries(&run.service, products) == *expected;
            let store_ok = run
                .store_emulator
                .as_ref()
                .is_none_or(|store| store_galleries(store, products) == *expected);
            if served_ok && store_ok {
                return Ok(true);
            }
        }
        if Instant::now() > deadline {
            let store = run
                .store_emulator
                .as_ref()
                .map(|store| store_galleries(store, products));
            let served = served_galleries(&run.service, products);
            let queued = if backlog.asset_work == 0 && backlog.sku_work == 0 {
                String::new()
            } else {
                format!(
                    " ({} assets and {} SKUs still queued)",
                    backlog.asset_work, backlog.sku_work
                )
            };
            println!("  the galleries are not the expected ones{queued}:");
            for line in difference_report(expected, &served, store.as_ref(), 10) {
                println!("    {line}");
            }
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts the sandbox with `products` and `assets` loaded and synced (a full sync, then settled).
async fn prepared_run(
    dir: &Path,
    sink: DemoSink,
    commerce_latency_ms: u64,
    products: &[Sku],
    assets: usize,
    seed: u64,
) -> anyhow::Result<(SandboxRun, Vec<Loaded>)> {
    let run = SandboxRun::start(dir, sink, DemoMatching::Sku, false).await?;
    if let Some(store) = &run.store_emulator {
        store.set_conditions(commerce_latency_ms, 0.0);
    }
    add_products(&run.service, run.store_emulator.as_ref(), products).await?;
    let loaded = load_assets(&run, products, assets, seed)?;
    Ok((run, loaded))
}

/// What one scheduled event does to the DAM before its delivery is sent.
enum Change {
    Update(Map<String, Value>),
    Reject,
    Delete,
}

struct Step {
    offset: Duration,
    asset: usize,
    change: Change,
    delivery: PreparedDelivery,
}

/// The workload: 70 % gallery moves of single-SKU assets, 15 % changes of multi-SKU assets, 10 % rejections,
/// 5 % deletions; every change re-approves the asset it touches.
fn plan_changes(
    assets: &mut [Loaded],
    events: usize,
    rng: &mut fastrand::Rng,
) -> Vec<(usize, Change)> {
    let pick = |assets: &[Loaded], rng: &mut fastrand::Rng, wanted: &dyn Fn(&Loaded) -> bool| {
        for _ in 0..64 {
            let index = rng.usize(..assets.len());
            if assets[index].alive && wanted(&assets[index]) {
                return Some(index);
            }
        }
        assets.iter().position(|a| a.alive && wanted(a))
    };
    let mut plan = Vec::with_capacity(events);
    for _ in 0..events {
        let roll = rng.u8(..100);
        let choice = match roll {
            0..70 => pick(assets, rng, &|a| a.skus == 1).map(|i| (i, None)),
            70..85 => pick(assets, rng, &|a| a.skus > 1).map(|i| (i, None)),
            85..95 => pick(assets, rng, &|a| a.approved).map(|i| (i, Some(Change::Reject))),
            _ => pick(assets, rng, &|_| true).map(|i| (i, Some(Change::Delete))),
        }
        .or_else(|| pick(assets, rng, &|_| true).map(|i| (i, None)));
        let Some((index, change)) = choice else {
            break;
        };
        let change = change.unwrap_or_else(|| {
            let count = assets[index].skus;
            let mut fields = Map::new();
            fields.insert("dam:status".into(), json!("approved"));
            fields.insert(
                "commerce:positions".into(),
                json!(random_positions(rng, count)),
            );
            if rng.bool() {
                fields.insert("commerce:roles".into(), json!(random_roles(rng, count)));
            }
            Change::Update(fields)
        });
        match change {
            Change::Reject => assets[index].approved = false,
            Change::Delete => assets[index].alive = false,
            Change::Update(_) => assets[index].approved = true,
        }
        plan.push((index, change));
    }
    plan
}

/// Signs every delivery before the clock starts, on every core.
fn sign_all(
    run: &SandboxRun,
    assets: &[Loaded],
    plan: Vec<(usize, Change)>,
    start_ms: i64,
    rate: u32,
) -> anyhow::Result<Vec<Step>> {
    let unsigned: Vec<(usize, Change, Duration, String, String, Vec<u8>)> = plan
        .into_iter()
        .enumerate()
        .map(|(k, (asset, change))| {
            let offset = tick_offset(k, f64::from(rate));
            let time_ms = start_ms + i64::try_from(offset.as_millis()).unwrap_or(0);
            let event_type = match change {
                Change::Delete => "aem.assets.asset.deleted",
                _ => "aem.assets.asset.metadata_updated",
            };
            let (id, body) = run
                .emulator
                .event_body(event_type, &assets[asset].id, time_ms);
            (asset, change, offset, id, event_type.to_owned(), body)
        })
        .collect();
    let keys = &*run.emulator.keys();
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let chunk = unsigned.len().div_ceil(threads).max(1);
    let mut pending = unsigned;
    let mut parts = Vec::new();
    while pending.len() > chunk {
        let rest = pending.split_off(chunk);
        parts.push(pending);
        pending = rest;
    }
    parts.push(pending);
    tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let handles: Vec<_> = parts
                .into_iter()
                .map(|part| {
                    scope.spawn(move || {
                        part.into_iter()
                            .map(|(asset, change, offset, id, event_type, body)| {
                                PreparedDelivery::sign(keys, id, event_type, body).map(|delivery| {
                                    Step {
                                        offset,
                                        asset,
                                        change,
                                        delivery,
                                    }
                                })
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                })
                .collect();
            let mut steps = Vec::new();
            for handle in handles {
                match handle.join() {
                    Ok(part) => steps.extend(part?),
                    Err(_) => bail!("a signing thread failed"),
                }
            }
            Ok(steps)
        })
    })
}

#[derive(Serialize)]
struct EventsReport {
    scenario: &'static str,
    rate: u32,
    duration_s: u64,
    sink: &'static str,
    commerce_latency_ms: u64,
    products: usize,
    assets: usize,
    events_sent: u64,
    events_refused: u64,
    events_applied: u64,
    /// Gallery writes (one per product and burst of changes) and their event → applied latency.
    sku_writes: u64,
    ack_ms: Percentiles,
    apply_ms: Percentiles,
    throughput_eps: f64,
    peak_rss_mb: f64,
    galleries_ok: bool,
    /// Seconds spent before the clock started: loading and syncing the catalog, signing the deliveries.
    setup_s: f64,
    sign_s: f64,
    machine: Value,
}

fn sink_name(sink: DemoSink) -> &'static str {
    match sink {
        DemoSink::Builtin => "builtin",
        DemoSink::AdobeCommerce => "adobe-commerce",
    }
}

async fn events_scenario(
    args: &EventsArgs,
    dir: &Path,
    seed: u64,
) -> anyhow::Result<(Value, bool)> {
    if args.rate == 0 || args.duration == 0 {
        bail!("--rate and --duration must be at least 1");
    }
    let setup = Instant::now();
    let products = catalog(args.products)?;
    let (run, mut assets) = prepared_run(
        dir,
        args.sink,
        args.commerce_latency_ms,
        &products,
        args.assets,
        seed,
    )
    .await?;
    println!(
        "bench events: {} products, {} assets, {} events/s for {} s, sink {}",
        args.products,
        args.assets,
        args.rate,
        args.duration,
        sink_name(args.sink)
    );
    run.service
        .engine
        .request_full_sync("bench: initial state")
        .await?;
    let expected = expected_galleries(&run.emulator, &products)?;
    if !settle(
        &run,
        &expected,
        &products,
        Instant::now() + Duration::from_secs(600),
    )
    .await?
    {
        bail!("the initial catalog did not sync within 600 s");
    }
    println!(
        "  initial catalog synced in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    let total = usize::try_from(u64::from(args.rate) * args.duration).unwrap_or(usize::MAX);
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed);
    let plan = plan_changes(&mut assets, total, &mut rng);
    let signing = Instant::now();
    let per_signature = estimate_signing(&run)?;
    let threads = std::thread::available_parallelism().map_or(2, usize::from) as f64;
    let lead = per_signature.mul_f64(plan.len() as f64 * 1.5 / threads) + Duration::from_secs(2);
    let start_ms = now_ms() + i64::try_from(lead.as_millis()).unwrap_or(0);
    let steps = sign_all(&run, &assets, plan, start_ms, args.rate)?;
    let sign_s = signing.elapsed().as_secs_f64();
    let wait_ms = start_ms - now_ms();
    if wait_ms < 0 {
        bail!("signing took {sign_s:.1} s, longer than planned; the clock would start late");
    }
    println!("  {} deliveries signed in {sign_s:.1} s", steps.len());
    run.service.engine.sla().clear();
    let setup_s = setup.elapsed().as_secs_f64();

    let clock = Instant::now() + Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()?;
    let url = format!("{}/events/aem", run.service.url);
    let refused = Arc::new(AtomicU64::new(0));
    let acks = Arc::new(std::sync::Mutex::new(Vec::with_capacity(steps.len())));
    let mut sends = tokio::task::JoinSet::new();
    let sent = steps.len() as u64;
    let mut last_print = Instant::now();
    for (index, step) in steps.into_iter().enumerate() {
        let intended = clock + step.offset;
        if intended > Instant::now() {
            tokio::time::sleep_until(intended.into()).await;
        }
        let id = &assets[step.asset].id;
        match step.change {
            Change::Update(fields) => run.emulator.update_metadata(id, fields)?,
            Change::Reject => run.emulator.reject(id)?,
            Change::Delete => run.emulator.delete_asset(id)?,
        }
        let (http, url, refused, acks) = (http.clone(), url.clone(), refused.clone(), acks.clone());
        sends.spawn(async move {
            let accepted =
                matches!(step.delivery.send(&http, &url, 0).await, Ok(s) if s.is_success());
            let micros = u64::try_from(intended.elapsed().as_micros()).unwrap_or(u64::MAX);
            if !accepted {
                refused.fetch_add(1, Ordering::Relaxed);
            }
            if let Ok(mut acks) = acks.lock() {
                acks.push(micros);
            }
        });
        while sends.try_join_next().is_some() {}
        if last_print.elapsed() >= Duration::from_secs(5) {
            let backlog = run.service.engine.backlog().await?;
            println!(
                "  {:>5.1}s  sent {}  awaiting acknowledgement {}  assets queued {}  SKUs queued {}",
                clock.elapsed().as_secs_f64(),
                index + 1,
                sends.len(),
                backlog.asset_work,
                backlog.sku_work
            );
            last_print = Instant::now();
        }
    }
    while sends.join_next().await.is_some() {}
    let expected = expected_galleries(&run.emulator, &products)?;
    let galleries_ok = settle(
        &run,
        &expected,
        &products,
        Instant::now() + Duration::from_secs(args.settle_timeout),
    )
    .await?;
    let elapsed = clock.elapsed().as_secs_f64();
    let sla = run.service.engine.sla().report(run.service.engine.now_ms());
    let mut ack_samples = acks.lock().map(|a| a.clone()).unwrap_or_default();
    let refused = refused.load(Ordering::Relaxed);
    let report = EventsReport {
        scenario: "events",
        rate: args.rate,
        duration_s: args.duration,
        sink: sink_name(args.sink),
        commerce_latency_ms: args.commerce_latency_ms,
        products: args.products,
        assets: args.assets,
        events_sent: sent,
        events_refused: refused,
        events_applied: if galleries_ok { sent - refused } else { 0 },
        sku_writes: sla.since_start.event_to_applied.count,
        ack_ms: Percentiles::of_micros(&mut ack_samples),
        apply_ms: Percentiles::of_summary(&sla.since_start.event_to_applied),
        throughput_eps: if galleries_ok {
            (sent - refused) as f64 / elapsed
        } else {
            0.0
        },
        peak_rss_mb: peak_rss_mb(),
        galleries_ok,
        setup_s,
        sign_s,
        machine: machine(),
    };
    println!(
        "  sent {} ({} refused), ack p99 {:.1} ms, applied p50 {:.0} ms p99 {:.0} ms p99.9 {:.0} ms max {:.0} ms, {:.0} events/s, peak RSS {:.0} MB, galleries {}",
        report.events_sent,
        report.events_refused,
        report.ack_ms.p99,
        report.apply_ms.p50,
        report.apply_ms.p99,
        report.apply_ms.p999,
        report.apply_ms.max,
        report.throughput_eps,
        report.peak_rss_mb,
        if galleries_ok { "ok" } else { "WRONG" }
    );
    run.service.stop().await;
    Ok((serde_json::to_value(report)?, galleries_ok))
}

/// Time of one delivery's two signatures.
fn estimate_signing(run: &SandboxRun) -> anyhow::Result<Duration> {
    let started = Instant::now();
    for _ in 0..20 {
        run.emulator.keys().sign(b"estimate")?;
    }
    Ok(started.elapsed() / 20)
}

#[derive(Serialize)]
struct FullSyncReport {
    scenario: &'static str,
    assets: usize,
    products: usize,
    sink: &'static str,
    commerce_latency_ms: u64,
    /// From the request to the moment every gallery is consistent.
    seconds: f64,
    assets_per_s: f64,
    galleries_ok: bool,
    entries: usize,
    peak_rss_mb: f64,
    setup_s: f64,
    machine: Value,
}

async fn full_sync_scenario(
    args: &FullSyncArgs,
    dir: &Path,
    seed: u64,
) -> anyhow::Result<(Value, bool)> {
    let setup = Instant::now();
    let products = catalog(args.products)?;
    let (run, _) = prepared_run(
        dir,
        args.sink,
        args.commerce_latency_ms,
        &products,
        args.assets,
        seed,
    )
    .await?;
    let expected = expected_galleries(&run.emulator, &products)?;
    let setup_s = setup.elapsed().as_secs_f64();
    println!(
        "bench full-sync: {} assets onto {} products ({} entries), sink {}; loaded in {setup_s:.1} s",
        args.assets,
        args.products,
        expected.values().map(Vec::len).sum::<usize>(),
        sink_name(args.sink)
    );
    let started = Instant::now();
    run.service
        .engine
        .request_full_sync("bench full-sync")
        .await?;
    let galleries_ok = settle(
        &run,
        &expected,
        &products,
        started + Duration::from_secs(args.timeout),
    )
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    let report = FullSyncReport {
        scenario: "full-sync",
        assets: args.assets,
        products: args.products,
        sink: sink_name(args.sink),
        commerce_latency_ms: args.commerce_latency_ms,
        seconds,
        assets_per_s: args.assets as f64 / seconds.max(0.001),
        galleries_ok,
        entries: expected.values().map(Vec::len).sum(),
        peak_rss_mb: peak_rss_mb(),
        setup_s,
        machine: machine(),
    };
    println!(
        "  consistent after {seconds:.2} s ({:.0} assets/s), galleries {}",
        report.assets_per_s,
        if galleries_ok { "ok" } else { "WRONG" }
    );
    run.service.stop().await;
    Ok((serde_json::to_value(report)?, galleries_ok))
}

#[derive(Serialize)]
struct ReadReport {
    scenario: &'static str,
    duration_s: u64,
    connections: usize,
    /// The read API's maximum (closed loop).
    rps: f64,
    /// The read API's p99 at a fixed rate of half the yardstick's maximum (open loop), and that rate.
    p99_ms: f64,
    fixed_rate_rps: f64,
    fixed_rate: Percentiles,
    yardstick_rps: f64,
    ratio: f64,
    galleries_ok: bool,
    machine: Value,
}

async fn read_scenario(args: &ReadArgs, dir: &Path, seed: u64) -> anyhow::Result<(Value, bool)> {
    if args.duration < 3 {
        bail!("--duration must be at least 3 seconds (three phases)");
    }
    let products = catalog(args.products)?;
    let (run, _) = prepared_run(dir, DemoSink::Builtin, 0, &products, args.assets, seed).await?;
    run.service
        .engine
        .request_full_sync("bench: initial state")
        .await?;
    let expected = expected_galleries(&run.emulator, &products)?;
    let galleries_ok = settle(
        &run,
        &expected,
        &products,
        Instant::now() + Duration::from_secs(120),
    )
    .await?;
    let yardstick = yardstick().await?;
    let phase = Duration::from_secs_f64(args.duration as f64 / 3.0);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections.max(1) * 2)
        .build()?;
    let media: Arc<Vec<String>> = Arc::new(
        products
            .iter()
            .map(|sku| format!("{}/api/v1/products/{sku}/media", run.service.url))
            .collect(),
    );
    println!(
        "bench read: {} s in three phases, {} connections",
        args.duration, args.connections
    );
    let yardstick_urls = Arc::new(vec![yardstick.clone()]);
    let yardstick_rps = closed_loop(&http, &yardstick_urls, args.connections, phase).await;
    println!("  yardstick (trivial axum handler): {yardstick_rps:.0} requests/s");
    let rps = closed_loop(&http, &media, args.connections, phase).await;
    println!(
        "  read API: {rps:.0} requests/s (ratio {:.2})",
        rps / yardstick_rps.max(1.0)
    );
    let rate = yardstick_rps / 2.0;
    let (mut samples, fixed_rate_rps) =
        open_loop(&http, &media, rate, phase, args.connections).await;
    let fixed_rate = Percentiles::of_micros(&mut samples);
    println!(
        "  read API at {rate:.0} requests/s: p50 {:.2} ms p99 {:.2} ms (achieved {fixed_rate_rps:.0}/s)",
        fixed_rate.p50, fixed_rate.p99
    );
    run.service.stop().await;
    let report = ReadReport {
        scenario: "read",
        duration_s: args.duration,
        connections: args.connections,
        rps,
        p99_ms: fixed_rate.p99,
        fixed_rate_rps,
        fixed_rate,
        yardstick_rps,
        ratio: rps / yardstick_rps.max(1.0),
        galleries_ok,
        machine: machine(),
    };
    Ok((serde_json::to_value(report)?, galleries_ok))
}

/// A trivial axum handler on 127.0.0.1: the yardstick the read API is compared with.
async fn yardstick() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let url = format!("http://{}/", listener.local_addr()?);
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "yardstick server stopped");
        }
    });
    Ok(url)
}

/// Requests per second with `connections` requests always in flight for `phase`.
async fn closed_loop(
    http: &reqwest::Client,
    urls: &Arc<Vec<String>>,
    connections: usize,
    phase: Duration,
) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + phase;
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..connections.max(1) {
        let (http, urls, done) = (http.clone(), urls.clone(), done.clone());
        workers.spawn(async move {
            let mut next = worker;
            while Instant::now() < deadline {
                let url = &urls[next % urls.len()];
                next = next.wrapping_add(7919);
                if let Ok(reply) = http.get(url).send().await
                    && reply.status().is_success()
                    && reply.bytes().await.is_ok()
                {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// When the `k`-th item of an open loop at `rate` per second is due: its ideal time rounded up to the
/// millisecond, the timer's resolution, so that the items due in one millisecond go out together (a clock
/// that slept once per item could not send more than one item per millisecond).
fn tick_offset(k: usize, rate: f64) -> Duration {
    Duration::from_millis((k as f64 * 1000.0 / rate.max(0.001)).ceil() as u64)
}

/// Latencies (µs, from each request's intended time) at a fixed `rate` for `phase`, and the rate achieved.
/// `connections` workers take the scheduled requests in order (as wrk2 does): a slow reply delays the next
/// requests, and their latency counts from when they were due, so a stall is not hidden.
async fn open_loop(
    http: &reqwest::Client,
    urls: &Arc<Vec<String>>,
    rate: f64,
    phase: Duration,
    connections: usize,
) -> (Vec<u64>, f64) {
    let started = Instant::now();
    let total = (rate * phase.as_secs_f64()) as usize;
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..connections.max(1) {
        let (http, urls, next) = (http.clone(), urls.clone(), next.clone());
        workers.spawn(async move {
            let mut samples = Vec::new();
            loop {
                let k = usize::try_from(next.fetch_add(1, Ordering::Relaxed)).unwrap_or(usize::MAX);
                if k >= total {
                    return samples;
                }
                let intended = started + tick_offset(k, rate);
                if intended > Instant::now() {
                    tokio::time::sleep_until(intended.into()).await;
                }
                let url = &urls[k.wrapping_mul(7919) % urls.len()];
                if let Ok(reply) = http.get(url).send().await
                    && reply.status().is_success()
                    && reply.bytes().await.is_ok()
                {
                    samples.push(u64::try_from(intended.elapsed().as_micros()).unwrap_or(u64::MAX));
                }
            }
        });
    }
    let mut samples = Vec::with_capacity(total);
    while let Some(worker) = workers.join_next().await {
        samples.extend(worker.unwrap_or_default());
    }
    let achieved = samples.len() as f64 / started.elapsed().as_secs_f64();
    (samples, achieved)
}
