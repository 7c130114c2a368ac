//! `bench admin`: the Sync Status page's data at scale. A SQLite store is seeded with `--assets` synthetic
//! statuses (set-based, see `store::SqliteStore::seed_sync_statuses`), then each of the page's reads — the
//! listing under every kind of filter and order, first, deep and previous pages, and the health banner's
//! queue counts — is timed `--rounds` times. The figures are what a page's store calls cost on this machine
//! with that many assets (issue 15: a page in < 50 ms at 1,000,000 assets).

use super::report::{Percentiles, machine, now_ms};
use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Instant;
use store::prelude::*;
use store::{AssetCursor, AssetListQuery, AssetSort, PageDirection, SyncStatus};

#[derive(Args)]
pub(super) struct AdminArgs {
    /// Asset statuses in the store.
    #[arg(long, default_value_t = 1_000_000)]
    assets: i64,
    /// Times each read is measured.
    #[arg(long, default_value_t = 30)]
    rounds: usize,
}

/// The reads of the Sync Status page, by name.
fn page_reads(assets: i64, now: i64) -> Vec<(&'static str, AssetListQuery)> {
    let page = |q: AssetListQuery| AssetListQuery { limit: 50, ..q };
    let middle = AssetCursor {
        processing_ms: now - 43_200_000,
        asset_id: store::seeded_asset_id(assets / 2),
    };
    vec![
        ("first page", page(AssetListQuery::default())),
        (
            "failed",
            page(AssetListQuery {
                status: Some(SyncStatus::Failed),
                ..AssetListQuery::default()
            }),
        ),
        (
            "waiting, oldest first",
            page(AssetListQuery {
                status: Some(SyncStatus::Waiting),
                sort: AssetSort::ProcessingAsc,
                ..AssetListQuery::default()
            }),
        ),
        (
            "by SKU",
            page(AssetListQuery {
                sku: domain::Sku::parse(&store::seeded_sku(assets / 3)).ok(),
                ..AssetListQuery::default()
            }),
        ),
        (
            "by asset id prefix",
            page(AssetListQuery {
                asset_id_prefix: Some("urn:aaid:aem:seed-00005".to_owned()),
                ..AssetListQuery::default()
            }),
        ),
        (
            "deep page",
            page(AssetListQuery {
                cursor: Some(middle.clone()),
                ..AssetListQuery::default()
            }),
        ),
        (
            "previous page",
            page(AssetListQuery {
                cursor: Some(middle.clone()),
                direction: PageDirection::Before,
                ..AssetListQuery::default()
            }),
        ),
        (
            "failed by id, deep",
            page(AssetListQuery {
                status: Some(SyncStatus::Failed),
                sort: AssetSort::AssetIdDesc,
                cursor: Some(middle),
                ..AssetListQuery::default()
            }),
        ),
    ]
}

pub(super) async fn admin_scenario(args: &AdminArgs, dir: &Path) -> anyhow::Result<(Value, bool)> {
    let path = dir.join("admin-bench.db");
    let url = format!("sqlite://{}", path.display());
    let store = store::SqliteStore::open(&url)
        .await
        .with_context(|| format!("could not open {}", path.display()))?;
    let now = now_ms();
    let started = Instant::now();
    store.seed_sync_statuses(args.assets, now).await?;
    let seed_s = started.elapsed().as_secs_f64();
    eprintln!("seeded {} asset statuses in {seed_s:.1} s", args.assets);

    let mut reads = serde_json::Map::new();
    let mut all: Vec<u64> = Vec::new();
    let mut ok = true;
    for (name, query) in page_reads(args.assets, now) {
        let mut samples = Vec::with_capacity(args.rounds);
        let mut rows = 0;
        for _ in 0..args.rounds {
            let t = Instant::now();
            let page = store.list_assets(&query).await?;
            samples.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
            rows = page.rows.len();
        }
        ok &= rows > 0;
        all.extend(&samples);
        reads.insert(
            name.to_owned(),
            json!({ "rows": rows, "ms": Percentiles::of_micros(&mut samples) }),
        );
    }
    let mut health = Vec::with_capacity(args.rounds);
    for _ in 0..args.rounds {
        let t = Instant::now();
        store.backlog().await?;
        health.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
    }
    let report = json!({
        "scenario": "admin",
        "assets": args.assets,
        "rounds": args.rounds,
        "seed_s": seed_s,
        "database_mb": store.database_bytes().await? as f64 / 1e6,
        "listing_ms": Percentiles::of_micros(&mut all),
        "reads": reads,
        "health_banner_ms": Percentiles::of_micros(&mut health),
        "machine": machine(),
    });
    Ok((report, ok))
}
