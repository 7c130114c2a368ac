//! `bench read`: the storefront read API against a trivial axum handler measured in the same run.

use super::cluster::{BenchDatabase, DatabaseArgs};
use super::report::{Percentiles, machine};
use super::workload::{catalog, prepared_run, settle};
use crate::demo::DemoSink;
use crate::galleries::expected_galleries;
use anyhow::bail;
use clap::Args;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

#[derive(Args)]
pub(super) struct ReadArgs {
    /// Seconds in all, split in four equal phases: the yardstick's maximum, the read API's maximum (both
    /// closed loop), then the read API and the yardstick at a fixed rate (open loop).
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Requests per second of the open-loop phase (default: half the yardstick's maximum).
    #[arg(long)]
    rate: Option<f64>,
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

#[derive(Serialize)]
pub(super) struct ReadReport {
    scenario: &'static str,
    duration_s: u64,
    connections: usize,
    /// The read API's maximum (closed loop).
    rps: f64,
    /// The yardstick's maximum (closed loop), and the read API's as a share of it.
    yardstick_rps: f64,
    ratio: f64,
    /// The read API's p99 in the open-loop phase (`open_loop.latency_ms.p99`).
    p99_ms: f64,
    /// The read API at a fixed rate.
    open_loop: OpenLoopReport,
    /// The yardstick at the same rate, from the same load generator: what the generator and the HTTP stack
    /// cost alone, so that the read API's own share of the latency shows.
    yardstick_open_loop: OpenLoopReport,
    galleries_ok: bool,
    machine: Value,
}

/// An open-loop phase: requests sent at their scheduled times whatever the replies do; each latency counts
/// from the scheduled time, so a reply that queues counts its wait (no coordinated omission).
#[derive(Serialize)]
pub(super) struct OpenLoopReport {
    /// The rate asked for.
    target_rps: f64,
    /// Successful replies ÷ the phase (or until the last reply, when later).
    achieved_rps: f64,
    seconds: f64,
    /// Requests scheduled (and sent).
    requests: u64,
    ok: u64,
    /// Requests that got no 2xx: the count and the split by status code (`timeout`, `connection` when no
    /// reply came).
    errors: u64,
    errors_by_status: BTreeMap<String, u64>,
    /// Of the successful replies, from the scheduled time.
    latency_ms: Percentiles,
    /// How late the generator dispatched each request (its own share of `latency_ms`).
    dispatch_lag_ms: Percentiles,
}

pub(super) async fn read_scenario(
    args: &ReadArgs,
    dir: &Path,
    seed: u64,
) -> anyhow::Result<(Value, bool)> {
    if args.duration == 0 {
        bail!("--duration must be at least 1 second");
    }
    if args
        .rate
        .is_some_and(|rate| !(rate.is_finite() && rate > 0.0))
    {
        bail!("--rate must be a positive number of requests per second");
    }
    let products = catalog(args.products)?;
    let database = BenchDatabase::prepare(&DatabaseArgs::default()).await?;
    let (run, _) = prepared_run(
        dir,
        DemoSink::Builtin,
        0,
        &products,
        args.assets,
        seed,
        None,
        (&database, &DatabaseArgs::default()),
    )
    .await?;
    run.request_full_sync("bench: initial state").await?;
    let expected = expected_galleries(&run.emulator, &products)?;
    let galleries_ok = settle(
        &run,
        &expected,
        &products,
        Instant::now() + Duration::from_secs(120),
    )
    .await?;
    let yardstick = yardstick().await?;
    let phase = Duration::from_secs_f64(args.duration as f64 / 4.0);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(MAX_IN_FLIGHT)
        .pool_idle_timeout(super::SERVICE_IDLE_MARGIN)
        .timeout(Duration::from_secs(10))
        .build()?;
    let service_url = run.in_process()?.url.clone();
    let media: Arc<Vec<String>> = Arc::new(
        products
            .iter()
            .map(|sku| format!("{}/api/v1/products/{sku}/media", service_url))
            .collect(),
    );
    println!(
        "bench read: {} s in four phases, {} connections",
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
    let rate = args.rate.unwrap_or(yardstick_rps / 2.0).max(1.0);
    let open = open_loop(&http, &media, rate, phase).await?;
    println!(
        "  read API at {rate:.0} requests/s (open loop): p50 {:.2} ms p99 {:.2} ms p99.9 {:.2} ms max {:.2} ms, {} errors (achieved {:.0}/s; dispatch lag p99 {:.2} ms)",
        open.latency_ms.p50,
        open.latency_ms.p99,
        open.latency_ms.p999,
        open.latency_ms.max,
        open.errors,
        open.achieved_rps,
        open.dispatch_lag_ms.p99
    );
    let yardstick_open = open_loop(&http, &yardstick_urls, rate, phase).await?;
    println!(
        "  yardstick at {rate:.0} requests/s (open loop): p50 {:.2} ms p99 {:.2} ms p99.9 {:.2} ms max {:.2} ms (dispatch lag p99 {:.2} ms)",
        yardstick_open.latency_ms.p50,
        yardstick_open.latency_ms.p99,
        yardstick_open.latency_ms.p999,
        yardstick_open.latency_ms.max,
        yardstick_open.dispatch_lag_ms.p99,
    );
    run.stop().await;
    let report = ReadReport {
        scenario: "read",
        duration_s: args.duration,
        connections: args.connections,
        rps,
        yardstick_rps,
        ratio: rps / yardstick_rps.max(1.0),
        p99_ms: open.latency_ms.p99,
        open_loop: open,
        yardstick_open_loop: yardstick_open,
        galleries_ok,
        machine: machine(),
    };
    Ok((serde_json::to_value(report)?, galleries_ok))
}

/// A trivial axum handler on 127.0.0.1: the yardstick the read API is compared with.
pub(super) async fn yardstick() -> anyhow::Result<String> {
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
pub(super) async fn closed_loop(
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

/// Requests in flight at most in an open-loop phase: a request due while this many wait for their replies
/// waits for one of them, and its latency still counts from when it was due.
const MAX_IN_FLIGHT: usize = 1024;

/// The read API at a fixed `rate` for `phase`: every request is scheduled by the clock to the microsecond,
/// dispatched on time by a pacing thread of its own (tokio's timer rounds up to whole milliseconds, which at
/// thousands of requests per second would send them in bursts and charge the generator's lateness to the
/// server), sent on its own task, and timed from its scheduled time. How late the pacer dispatched each
/// request is reported too (`dispatch_lag_ms`), so the generator's own share shows.
async fn open_loop(
    http: &reqwest::Client,
    urls: &Arc<Vec<String>>,
    rate: f64,
    phase: Duration,
) -> anyhow::Result<OpenLoopReport> {
    let total = (rate * phase.as_secs_f64()).round().max(1.0) as usize;
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let (outcomes, mut received) = tokio::sync::mpsc::unbounded_channel::<Result<u64, String>>();
    let runtime = tokio::runtime::Handle::current();
    let started = Instant::now();
    let (http, urls) = (http.clone(), urls.clone());
    let pacer = std::thread::Builder::new()
        .name("bench-pacer".to_owned())
        .spawn(move || {
            let mut lags = Vec::with_capacity(total);
            for k in 0..total {
                let intended = started + Duration::from_secs_f64(k as f64 / rate);
                let now = Instant::now();
                if intended > now {
                    std::thread::sleep(intended - now);
                }
                let permit = match permits.clone().try_acquire_owned() {
                    Ok(permit) => permit,
                    Err(_) => match runtime.block_on(permits.clone().acquire_owned()) {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                };
                lags.push(micros_since(intended));
                let (http, url, outcomes) = (
                    http.clone(),
                    urls[k.wrapping_mul(7919) % urls.len()].clone(),
                    outcomes.clone(),
                );
                runtime.spawn(async move {
                    let outcome = match http.get(&url).send().await {
                        Ok(reply) if reply.status().is_success() => match reply.bytes().await {
                            Ok(_) => Ok(micros_since(intended)),
                            Err(_) => Err("connection".to_owned()),
                        },
                        Ok(reply) => Err(reply.status().as_u16().to_string()),
                        Err(error) if error.is_timeout() => Err("timeout".to_owned()),
                        Err(_) => Err("connection".to_owned()),
                    };
                    drop(permit);
                    let _ = outcomes.send(outcome);
                });
            }
            lags
        })?;
    let mut samples = Vec::with_capacity(total);
    let mut errors_by_status = BTreeMap::new();
    // Every sender (the pacer's and each request's) is gone once the last reply is in.
    while let Some(outcome) = received.recv().await {
        match outcome {
            Ok(micros) => samples.push(micros),
            Err(status) => *errors_by_status.entry(status).or_insert(0u64) += 1,
        }
    }
    let mut lags = tokio::task::spawn_blocking(move || pacer.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the bench's pacing thread stopped"))?;
    let seconds = started.elapsed().as_secs_f64().max(phase.as_secs_f64());
    let ok = samples.len() as u64;
    let errors = errors_by_status.values().sum();
    Ok(OpenLoopReport {
        target_rps: rate,
        achieved_rps: ok as f64 / seconds,
        seconds,
        requests: total as u64,
        ok,
        errors,
        errors_by_status,
        latency_ms: Percentiles::of_micros(&mut samples),
        dispatch_lag_ms: Percentiles::of_micros(&mut lags),
    })
}

fn micros_since(instant: Instant) -> u64 {
    u64::try_from(instant.elapsed().as_micros()).unwrap_or(u64::MAX)
}
