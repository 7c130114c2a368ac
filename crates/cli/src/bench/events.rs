//! `bench events`: signed asset events at a fixed rate (open loop), acknowledgement and event → applied
//! latency; with `--find-knee`, the rate stepped up until the apply p99 reaches a second.

use super::cluster::{BenchDatabase, DatabaseArgs};
use super::deliveries::{Delivered, DeliveryTally, Redelivery, deliver};
use super::report::{Percentiles, machine, now_ms, overlapping_writes, peak_rss_mb, rss_mb};
use super::run::BenchRun;
use super::schedule::{Change, estimate_signing, plan_changes, sign_all};
use super::sink_name;
use super::workload::{Loaded, catalog, load_assets, prepared_run, settle};
use crate::demo::DemoSink;
use crate::galleries::expected_galleries;
use crate::progress::Progress;
use anyhow::bail;
use clap::Args;
use domain::Sku;
use serde::Serialize;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

/// The apply p99 a `--find-knee` step must stay under.
const APPLY_P99_LIMIT_MS: f64 = 1000.0;

#[derive(Args)]
pub(super) struct EventsArgs {
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
    /// Give up waiting for the galleries this many seconds after the last event (and after a full sync of
    /// the catalog was requested).
    #[arg(long, default_value_t = 300)]
    settle_timeout: u64,
    /// Step the rate (250, 500, 1000, then 500 more each step, up to `--max-rate`), `--step-duration` seconds
    /// a step, until a step's apply p99 reaches 1 s or its galleries are wrong; reports the highest rate
    /// whose apply p99 stayed under 1 s (`knee_eps`) and every step. `--rate` and `--duration` are unused.
    #[arg(long)]
    find_knee: bool,
    /// Seconds of sending of each `--find-knee` step.
    #[arg(long, default_value_t = 10)]
    step_duration: u64,
    /// The highest rate `--find-knee` tries.
    #[arg(long, default_value_t = 10_000)]
    max_rate: u32,
    /// Attempts per delivery, redeliveries included: a delivery without a 2xx is sent again after its
    /// `Retry-After` (else 1 s, doubling), as Adobe I/O Events redelivers.
    #[arg(long, default_value_t = 5)]
    max_attempts: u32,
    /// The service's `[http] max_requests` (requests handled at once; more are answered 503 `overloaded`),
    /// when not its default.
    #[arg(long)]
    max_requests: Option<usize>,
    #[command(flatten)]
    database: DatabaseArgs,
}

/// One run of events at one rate.
#[derive(Serialize)]
pub(super) struct StepReport {
    rate: u32,
    duration_s: u64,
    events_sent: u64,
    /// Deliveries never acknowledged, even after their redeliveries.
    events_refused: u64,
    events_applied: u64,
    /// `acknowledged`, `unacknowledged_by_status`, `refusals_by_status`, `redeliveries`,
    /// `acknowledged_after_redelivery`.
    #[serde(flatten)]
    deliveries: DeliveryTally,
    /// Gallery writes (one per product and burst of changes) and their event → applied latency (with
    /// `--processes` or PostgreSQL: since each process started, merged, see `apply_ms_scope`).
    sku_writes: u64,
    /// From each delivery's scheduled time to its 2xx (its redeliveries included).
    ack_ms: Percentiles,
    apply_ms: Percentiles,
    throughput_eps: f64,
    galleries_ok: bool,
    /// From the clock's start until every gallery was right (or the wait gave up).
    seconds: f64,
    /// Seconds spent signing the step's deliveries before its clock started.
    sign_s: f64,
    /// What the signed deliveries held in this process's memory (its resident set after signing minus
    /// before): the load generator's share of `peak_rss_mb`, not the service's.
    signed_workload_mb: f64,
}

#[derive(Serialize)]
struct EventsReport {
    scenario: &'static str,
    /// `sqlite` or `postgres`.
    database: &'static str,
    /// `assetsync serve` processes on the database (1: in this process on SQLite, else child processes).
    processes: usize,
    /// `step`: the latencies of the run alone; `since_start_max_over_processes`: child processes report
    /// theirs since they started (the initial sync included), each percentile the highest of theirs.
    apply_ms_scope: &'static str,
    /// Writes to the emulated commerce store that began while another write to the same product was in
    /// flight (`--sink adobe-commerce` only): more than 0 fails the run, as a wrong gallery does.
    #[serde(skip_serializing_if = "Option::is_none")]
    overlapping_writes: Option<u64>,
    /// The media API requests the emulated commerce store answered during the run (`--sink adobe-commerce`
    /// only), by method: what the gallery writes cost in store calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    store_calls: Option<StoreCalls>,
    sink: &'static str,
    commerce_latency_ms: u64,
    products: usize,
    assets: usize,
    max_attempts: u32,
    max_requests: usize,
    #[serde(flatten)]
    run: StepReport,
    /// The whole process: the service, the emulators and the load generator (see `signed_workload_mb`).
    peak_rss_mb: f64,
    /// Seconds spent before the clock started: loading and syncing the catalog.
    setup_s: f64,
    machine: Value,
}

/// Media API requests answered by the emulated commerce store, by method.
#[derive(Serialize)]
struct StoreCalls {
    get: u64,
    post: u64,
    put: u64,
    delete: u64,
}

impl StoreCalls {
    fn of(store: Option<&sandbox::commerce::CommerceEmulator>) -> Option<Self> {
        store.map(|store| {
            let stats = store.stats();
            Self {
                get: stats.gets,
                post: stats.posts,
                put: stats.puts,
                delete: stats.deletes,
            }
        })
    }

    fn since(&self, before: &Self) -> Self {
        Self {
            get: self.get.saturating_sub(before.get),
            post: self.post.saturating_sub(before.post),
            put: self.put.saturating_sub(before.put),
            delete: self.delete.saturating_sub(before.delete),
        }
    }
}

#[derive(Serialize)]
struct KneeReport {
    scenario: &'static str,
    /// `sqlite` or `postgres`.
    database: &'static str,
    /// `assetsync serve` processes on the database (1: in this process on SQLite, else child processes).
    processes: usize,
    /// `step`: the latencies of the run alone; `since_start_max_over_processes`: child processes report
    /// theirs since they started (the initial sync included), each percentile the highest of theirs.
    apply_ms_scope: &'static str,
    /// Writes to the emulated commerce store that began while another write to the same product was in
    /// flight (`--sink adobe-commerce` only): more than 0 fails the run, as a wrong gallery does.
    #[serde(skip_serializing_if = "Option::is_none")]
    overlapping_writes: Option<u64>,
    find_knee: bool,
    sink: &'static str,
    commerce_latency_ms: u64,
    products: usize,
    assets: usize,
    max_attempts: u32,
    max_requests: usize,
    step_duration_s: u64,
    apply_p99_limit_ms: f64,
    /// The highest rate whose apply p99 stayed under the limit with every gallery right (`null`: none).
    knee_eps: Option<u32>,
    /// Why the steps stopped: `apply_p99`, `galleries` or `max_rate`.
    stopped_by: &'static str,
    steps: Vec<StepReport>,
    peak_rss_mb: f64,
    setup_s: f64,
    machine: Value,
}

/// The rates `--find-knee` tries: 250, 500, 1000, then 500 more each step, up to `max`.
fn knee_rates(max: u32) -> Vec<u32> {
    let mut rates: Vec<u32> = [250, 500]
        .into_iter()
        .chain((1000..=max).step_by(500))
        .filter(|rate| *rate <= max)
        .collect();
    if rates.is_empty() {
        rates.push(max);
    }
    rates
}

pub(super) async fn events_scenario(
    args: &EventsArgs,
    dir: &Path,
    seed: u64,
) -> anyhow::Result<(Value, bool)> {
    if args.find_knee && (args.step_duration == 0 || args.max_rate == 0) {
        bail!("--step-duration and --max-rate must be at least 1");
    }
    if !args.find_knee && (args.rate == 0 || args.duration == 0) {
        bail!("--rate and --duration must be at least 1");
    }
    if args.max_attempts == 0 {
        bail!("--max-attempts must be at least 1");
    }
    let setup = Instant::now();
    let products = catalog(args.products)?;
    let database = BenchDatabase::prepare(&args.database).await?;
    let result = scenario(args, dir, seed, setup, &products, &database).await;
    database.finish().await;
    result
}

async fn scenario(
    args: &EventsArgs,
    dir: &Path,
    seed: u64,
    setup: Instant,
    products: &[Sku],
    database: &BenchDatabase,
) -> anyhow::Result<(Value, bool)> {
    let (run, mut assets) = prepared_run(
        dir,
        args.sink,
        args.commerce_latency_ms,
        products,
        args.assets,
        seed,
        args.max_requests,
        (database, &args.database),
    )
    .await?;
    let max_requests = args
        .max_requests
        .unwrap_or_else(|| crate::config::HttpConfig::default().max_requests);
    if args.find_knee {
        println!(
            "bench events --find-knee: {} products, {} assets, steps of {} s up to {} events/s, sink {}",
            args.products,
            args.assets,
            args.step_duration,
            args.max_rate,
            sink_name(args.sink)
        );
    } else {
        println!(
            "bench events: {} products, {} assets, {} events/s for {} s, sink {}, {} on {} process(es)",
            args.products,
            args.assets,
            args.rate,
            args.duration,
            sink_name(args.sink),
            database.kind,
            run.processes()
        );
    }
    let settle_timeout = Duration::from_secs(args.settle_timeout);
    sync_all(&run, products, "bench: initial state", settle_timeout).await?;
    let apply_ms_scope = if run.processes() > 1 || database.kind != "sqlite" {
        "since_start_max_over_processes"
    } else {
        "step"
    };
    let setup_s = setup.elapsed().as_secs_f64();
    println!("  initial catalog synced in {setup_s:.1} s");
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed);
    let policy = Redelivery {
        max_attempts: args.max_attempts,
        backoff: Duration::from_secs(1),
        max_retry_after: Duration::from_secs(60),
    };
    if !args.find_knee {
        let calls_before = StoreCalls::of(run.store_emulator.as_ref());
        let step = run_step(
            &run,
            products,
            &mut assets,
            &mut rng,
            (args.rate, args.duration),
            settle_timeout,
            policy,
        )
        .await?;
        print_step(&step);
        let store_calls = StoreCalls::of(run.store_emulator.as_ref())
            .zip(calls_before)
            .map(|(after, before)| after.since(&before));
        let overlapping_writes = overlapping_writes(run.store_emulator.as_ref());
        let ok = step.galleries_ok && overlapping_writes.unwrap_or(0) == 0;
        let report = EventsReport {
            scenario: "events",
            database: database.kind,
            processes: run.processes(),
            apply_ms_scope,
            overlapping_writes,
            store_calls,
            sink: sink_name(args.sink),
            commerce_latency_ms: args.commerce_latency_ms,
            products: args.products,
            assets: args.assets,
            max_attempts: args.max_attempts,
            max_requests,
            run: step,
            peak_rss_mb: peak_rss_mb(),
            setup_s,
            machine: machine(),
        };
        run.stop().await;
        return Ok((serde_json::to_value(report)?, ok));
    }
    let mut steps: Vec<StepReport> = Vec::new();
    let mut knee_eps = None;
    let mut stopped_by = "max_rate";
    for (index, rate) in knee_rates(args.max_rate).into_iter().enumerate() {
        if index > 0 {
            replenish(
                &run,
                products,
                &mut assets,
                (seed.wrapping_add(index as u64), settle_timeout),
            )
            .await?;
        }
        let step = run_step(
            &run,
            products,
            &mut assets,
            &mut rng,
            (rate, args.step_duration),
            settle_timeout,
            policy,
        )
        .await?;
        print_step(&step);
        let (galleries_ok, p99) = (step.galleries_ok, step.apply_ms.p99);
        steps.push(step);
        if !galleries_ok {
            stopped_by = "galleries";
            break;
        }
        if p99 >= APPLY_P99_LIMIT_MS {
            stopped_by = "apply_p99";
            break;
        }
        knee_eps = Some(rate);
    }
    println!(
        "  knee: {} (apply p99 < {APPLY_P99_LIMIT_MS:.0} ms), stopped by {stopped_by}",
        knee_eps.map_or_else(|| "none".to_owned(), |rate| format!("{rate} events/s"))
    );
    let overlapping_writes = overlapping_writes(run.store_emulator.as_ref());
    let ok = steps.iter().all(|step| step.galleries_ok) && overlapping_writes.unwrap_or(0) == 0;
    let report = KneeReport {
        scenario: "events",
        database: database.kind,
        processes: run.processes(),
        apply_ms_scope,
        overlapping_writes,
        find_knee: true,
        sink: sink_name(args.sink),
        commerce_latency_ms: args.commerce_latency_ms,
        products: args.products,
        assets: args.assets,
        max_attempts: args.max_attempts,
        max_requests,
        step_duration_s: args.step_duration,
        apply_p99_limit_ms: APPLY_P99_LIMIT_MS,
        knee_eps,
        stopped_by,
        steps,
        peak_rss_mb: peak_rss_mb(),
        setup_s,
        machine: machine(),
    };
    run.stop().await;
    Ok((serde_json::to_value(report)?, ok))
}

/// A full sync, then waits until every gallery is the expected one.
/// Gives up after `timeout`.
async fn sync_all(
    run: &BenchRun,
    products: &[Sku],
    reason: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let progress = Progress::phase(&format!("{reason}: full sync"));
    run.request_full_sync(reason).await?;
    let expected = expected_galleries(&run.emulator, products)?;
    let settled = settle(run, &expected, products, Instant::now() + timeout).await?;
    progress.finish();
    if !settled {
        bail!(
            "the catalog did not sync within {} s ({reason})",
            timeout.as_secs()
        );
    }
    Ok(())
}

/// Replaces the assets the last step deleted (created without events, then a full sync), so that every step
/// changes a catalog of the same size.
async fn replenish(
    run: &BenchRun,
    products: &[Sku],
    assets: &mut Vec<Loaded>,
    (seed, timeout): (u64, Duration),
) -> anyhow::Result<()> {
    let before = assets.len();
    assets.retain(|asset| asset.alive);
    let deleted = before - assets.len();
    if deleted > 0 {
        assets.extend(load_assets(&run.emulator, products, deleted, seed)?);
        sync_all(run, products, "bench: deleted assets replaced", timeout).await?;
    }
    Ok(())
}

fn print_step(step: &StepReport) {
    println!(
        "  {} events/s: sent {} ({} never acknowledged, {} redeliveries), ack p99 {:.1} ms, applied p50 {:.0} ms p99 {:.0} ms p99.9 {:.0} ms max {:.0} ms, {:.0} events/s, galleries {}",
        step.rate,
        step.events_sent,
        step.events_refused,
        step.deliveries.redeliveries,
        step.ack_ms.p99,
        step.apply_ms.p50,
        step.apply_ms.p99,
        step.apply_ms.p999,
        step.apply_ms.max,
        step.throughput_eps,
        if step.galleries_ok { "ok" } else { "WRONG" }
    );
    if !step.deliveries.refusals_by_status.is_empty() {
        println!(
            "    refusals {:?}, never acknowledged {:?}",
            step.deliveries.refusals_by_status, step.deliveries.unacknowledged_by_status
        );
    }
}

/// Sends `rate` events a second for `duration` seconds (signed before the clock starts, each sent at its due
/// time and redelivered under `policy`), then waits for the galleries.
async fn run_step(
    run: &BenchRun,
    products: &[Sku],
    assets: &mut [Loaded],
    rng: &mut fastrand::Rng,
    (rate, duration): (u32, u64),
    settle_timeout: Duration,
    policy: Redelivery,
) -> anyhow::Result<StepReport> {
    let total = usize::try_from(u64::from(rate) * duration).unwrap_or(usize::MAX);
    let plan = plan_changes(assets, total, rng);
    let signing = Instant::now();
    let rss_before = rss_mb();
    let per_signature = estimate_signing(&run.emulator)?;
    let threads = std::thread::available_parallelism().map_or(2, usize::from) as f64;
    // Three times the estimate: on a busy machine the signing threads get less of the CPU than the estimate did.
    let lead = per_signature.mul_f64(plan.len() as f64 * 3.0 / threads) + Duration::from_secs(2);
    let start_ms = now_ms() + i64::try_from(lead.as_millis()).unwrap_or(0);
    let steps = sign_all(&run.emulator, assets, plan, start_ms, rate)?;
    let sign_s = signing.elapsed().as_secs_f64();
    let signed_workload_mb = (rss_mb() - rss_before).max(0.0);
    let wait_ms = start_ms - now_ms();
    if wait_ms < 0 {
        bail!("signing took {sign_s:.1} s, longer than planned; the clock would start late");
    }
    println!(
        "  {rate} events/s for {duration} s: {} deliveries signed in {sign_s:.1} s ({signed_workload_mb:.0} MB)",
        steps.len()
    );
    run.clear_latencies();

    let clock = Instant::now() + Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .pool_idle_timeout(super::SERVICE_IDLE_MARGIN)
        .timeout(Duration::from_secs(10))
        .build()?;
    // Webhooks go to the processes in turn (a redelivery to the same one).
    let urls = run.webhook_urls();
    let mut tally = DeliveryTally::default();
    let mut sends = tokio::task::JoinSet::new();
    let sent = steps.len() as u64;
    let mut last_print = Instant::now();
    let lost = || Delivered {
        ack_micros: None,
        refusals: vec!["lost".to_owned()],
    };
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
        let url = urls
            .get(index % urls.len().max(1))
            .cloned()
            .unwrap_or_default();
        let (http, delivery) = (http.clone(), step.delivery);
        sends.spawn(async move { deliver(&delivery, &http, &url, intended, policy).await });
        while let Some(done) = sends.try_join_next() {
            tally.add(done.unwrap_or_else(|_| lost()));
        }
        if last_print.elapsed() >= Duration::from_secs(5) {
            let (asset_work, sku_work) = run.backlog().await?;
            println!(
                "  {:>5.1}s  sent {}  awaiting acknowledgement {}  assets queued {asset_work}  SKUs queued {sku_work}",
                clock.elapsed().as_secs_f64(),
                index + 1,
                sends.len(),
            );
            last_print = Instant::now();
        }
    }
    while let Some(done) = sends.join_next().await {
        tally.add(done.unwrap_or_else(|_| lost()));
    }
    let expected = expected_galleries(&run.emulator, products)?;
    let galleries_ok = settle(run, &expected, products, Instant::now() + settle_timeout).await?;
    let seconds = clock.elapsed().as_secs_f64();
    let (sku_writes, apply_ms) = run.applied().await?;
    let refused = tally.unacknowledged();
    let ack_ms = Percentiles::of_micros(&mut tally.ack_micros);
    Ok(StepReport {
        rate,
        duration_s: duration,
        events_sent: sent,
        events_refused: refused,
        events_applied: if galleries_ok { sent - refused } else { 0 },
        deliveries: tally,
        sku_writes,
        ack_ms,
        apply_ms,
        throughput_eps: if galleries_ok {
            (sent - refused) as f64 / seconds
        } else {
            0.0
        },
        galleries_ok,
        seconds,
        sign_s,
        signed_workload_mb,
    })
}
