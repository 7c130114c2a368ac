//! The generated workload: a catalog of products, approved assets spread over them, and waiting until the
//! galleries are the ones the DAM calls for.

use super::cluster::{BenchDatabase, DatabaseArgs, first_difference};
use super::run::BenchRun;
use crate::catalog::{new_asset, next_is_video};
use crate::demo::{DemoMatching, DemoSink, Emulators};
use crate::galleries::{Expected, difference_report, store_galleries};
use crate::progress::Progress;
use anyhow::bail;
use domain::Sku;
use sandbox::aem::AemEmulator;
use serde_json::{Map, json};
use std::path::Path;
use std::time::{Duration, Instant};

pub(super) fn catalog(products: usize) -> anyhow::Result<Vec<Sku>> {
    if products == 0 {
        bail!("the catalog needs at least one product");
    }
    Ok((1..=products)
        .map(|i| Sku::parse(&format!("BENCH-{i:06}")))
        .collect::<Result<_, _>>()?)
}

/// Creates `count` approved commerce assets (quietly: no event) spread over `products`, a few of them videos.
pub(super) fn load_assets(
    emulator: &AemEmulator,
    products: &[Sku],
    count: usize,
    seed: u64,
) -> anyhow::Result<Vec<Loaded>> {
    emulator.quiet(true);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut loaded = Vec::with_capacity(count);
    let mut progress = Progress::bar(count as u64);
    progress.set_phase("bench: loading assets");
    for i in 0..count {
        progress.inc();
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
        let id = emulator.create_asset(new_asset(metadata, next_is_video(&mut rng)))?;
        loaded.push(Loaded {
            id,
            skus: sku_count,
            alive: true,
            approved: true,
        });
    }
    progress.finish();
    Ok(loaded)
}

/// An asset of the workload as the schedule builder tracks it.
pub(super) struct Loaded {
    pub(super) id: String,
    pub(super) skus: usize,
    pub(super) alive: bool,
    pub(super) approved: bool,
}

pub(super) fn random_roles(rng: &mut fastrand::Rng, count: usize) -> Vec<&'static str> {
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

pub(super) fn random_positions(rng: &mut fastrand::Rng, count: usize) -> Vec<i64> {
    (0..count).map(|_| i64::from(rng.u8(1..30))).collect()
}

/// Waits until nothing is queued and the galleries (served by every process, and in the emulated store) are
/// the expected ones.
pub(super) async fn settle(
    run: &BenchRun,
    expected: &Expected,
    products: &[Sku],
    deadline: Instant,
) -> anyhow::Result<bool> {
    loop {
        let (asset_work, sku_work) = run.backlog().await?;
        let idle = asset_work == 0 && sku_work == 0;
        if idle {
            let served = run.served(products).await;
            let store_ok = run
                .store_emulator
                .as_ref()
                .is_none_or(|store| store_galleries(store, products) == *expected);
            if first_difference(&served, expected).is_none() && store_ok {
                return Ok(true);
            }
        }
        if Instant::now() > deadline {
            let store = run
                .store_emulator
                .as_ref()
                .map(|store| store_galleries(store, products));
            let served = run.served(products).await;
            let (process, served) = first_difference(&served, expected)
                .or(served.first())
                .map(|(process, galleries)| (process.clone(), galleries.clone()))
                .unwrap_or_default();
            let queued = if idle {
                String::new()
            } else {
                format!(" ({asset_work} assets and {sku_work} SKUs still queued)")
            };
            println!("  the galleries are not the expected ones{queued} (served: by {process}):");
            for line in difference_report(expected, &served, store.as_ref(), 10) {
                println!("    {line}");
            }
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts the emulators and the service (on `database`, as `database_args` says) with `products` in the
/// catalog and `assets` loaded in the DAM (not synced yet: no event was sent); `max_requests` overrides the
/// service's `[http] max_requests`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn prepared_run(
    dir: &Path,
    sink: DemoSink,
    commerce_latency_ms: u64,
    products: &[Sku],
    assets: usize,
    seed: u64,
    max_requests: Option<usize>,
    (database, database_args): (&BenchDatabase, &DatabaseArgs),
) -> anyhow::Result<(BenchRun, Vec<Loaded>)> {
    let mut emulators = Emulators::start(dir, sink, DemoMatching::Sku, false).await?;
    if let Some(max) = max_requests {
        emulators.config.http.max_requests = max;
    }
    let run = BenchRun::start(emulators, database, database_args, dir).await?;
    if let Some(store) = &run.store_emulator {
        store.set_conditions(commerce_latency_ms, 0.0);
    }
    let progress = Progress::phase("bench: adding products");
    run.add_products(products).await?;
    progress.finish();
    let loaded = load_assets(&run.emulator, products, assets, seed)?;
    Ok((run, loaded))
}
