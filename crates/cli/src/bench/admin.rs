//! `bench admin`: the admin console's pages at scale. A SQLite store is seeded with `--assets` synthetic
//! statuses (set-based, see `store::SqliteStore::seed_sync_statuses`); each of the Sync Status page's store
//! reads — the listing under every kind of filter and order, first, deep and previous pages, and the health
//! banner's queue counts — is timed `--rounds` times; then the service is started on that database (sync
//! disabled, so nothing changes under the clock) and every page of the console (Sync Status under those views,
//! an asset's history, SLA, dead letters) is fetched over HTTP `--rounds` times, signed in as an admin: the
//! time from request to the last byte, on loopback (issue 15: a page in < 50 ms at 1,000,000 assets).

use super::report::{Percentiles, machine, now_ms};
use crate::demo::{DemoMatching, DemoSink, Emulators, SandboxRun};
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
    let middle = middle_cursor(assets, now);
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
    let path = dir.join("assetsync.db");
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
    for (name, query) in page_reads(args.assets, now) {
        let mut samples = Vec::with_capacity(args.rounds);
        let mut rows = 0;
        for _ in 0..args.rounds {
            let t = Instant::now();
            let page = store.list_assets(&query).await?;
            samples.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
            rows = page.rows.len();
        }
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
    let database_mb = store.database_bytes().await? as f64 / 1e6;
    drop(store);
    let pages = page_times(args, dir, now).await?;
    let ok = pages.1;
    let report = json!({
        "scenario": "admin",
        "assets": args.assets,
        "rounds": args.rounds,
        "seed_s": seed_s,
        "database_mb": database_mb,
        "pages": pages.0,
        "listing_ms": Percentiles::of_micros(&mut all),
        "reads": reads,
        "health_banner_ms": Percentiles::of_micros(&mut health),
        "machine": machine(),
    });
    Ok((report, ok))
}

/// The console's pages over HTTP on the seeded database: `({page: {status, bytes, ms}, "all_pages_ms"}, every
/// page answered 200)`.
async fn page_times(args: &AdminArgs, dir: &Path, now: i64) -> anyhow::Result<(Value, bool)> {
    let mut emulators = Emulators::start(dir, DemoSink::Builtin, DemoMatching::Sku, false).await?;
    emulators.config.sync.enabled = false;
    let started = Instant::now();
    let run = SandboxRun::serve(emulators).await?;
    let start_s = started.elapsed().as_secs_f64();
    eprintln!("the service started on the seeded database in {start_s:.1} s");
    let users = run
        .service
        .engine
        .users(engine::accounts::SessionPolicy::default());
    let password = format!("bench-{}", sandbox::aem::random_uuid());
    users
        .add("bench", domain::accounts::AccountRole::Admin, &password)
        .await?;
    let session = users.sign_in("bench", &password, "127.0.0.1").await?;
    let cookie = format!("{}={}", admin::auth::SESSION_COOKIE, session.session_id);
    let http = reqwest::Client::builder().build()?;
    let failed = store::seeded_asset_id(3);
    let middle = middle_cursor(args.assets, now).encode();
    let paths = [
        ("sync status", "/admin/sync-status".to_owned()),
        (
            "sync status, failed",
            "/admin/sync-status?status=Failed".to_owned(),
        ),
        (
            "sync status, by SKU",
            format!(
                "/admin/sync-status?sku={}",
                store::seeded_sku(args.assets / 3)
            ),
        ),
        (
            "sync status, deep page",
            format!("/admin/sync-status?after={}", encode(&middle)),
        ),
        (
            "sync status, page before",
            format!("/admin/sync-status?before={}", encode(&middle)),
        ),
        (
            "sync status, by asset id",
            "/admin/sync-status?asset_id=urn%3Aaaid%3Aaem%3Aseed-00005".to_owned(),
        ),
        (
            "asset history",
            format!("/admin/sync-status/history?asset_id={}", encode(&failed)),
        ),
        ("sla", "/admin/sla".to_owned()),
        ("sla, day", "/admin/sla?span=day".to_owned()),
        ("dead letters", "/admin/dead-letters".to_owned()),
    ];
    let mut pages = serde_json::Map::new();
    let mut all = Vec::new();
    let mut ok = true;
    for (name, path) in paths {
        let mut samples = Vec::with_capacity(args.rounds);
        let (mut status, mut bytes) = (0, 0);
        for _ in 0..args.rounds {
            let t = Instant::now();
            let reply = http
                .get(format!("{}{path}", run.service.url))
                .header("cookie", &cookie)
                .send()
                .await?;
            status = reply.status().as_u16();
            bytes = reply.bytes().await?.len();
            samples.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
        }
        ok &= status == 200;
        all.extend(&samples);
        pages.insert(
            name.to_owned(),
            json!({ "path": path, "status": status, "bytes": bytes, "ms": Percentiles::of_micros(&mut samples) }),
        );
    }
    let report = json!({
        "service_start_s": start_s,
        "all_pages_ms": Percentiles::of_micros(&mut all),
        "by_page": pages,
    });
    Ok((report, ok))
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The position of the seed's middle asset in the default order (the seed processed asset `i` at
/// `now - i * 7919 % 86,400,000`): a page from there is as deep as a page gets.
fn middle_cursor(assets: i64, now: i64) -> AssetCursor {
    let middle = (assets / 2).max(1);
    AssetCursor {
        processing_ms: now - (middle * 7919) % 86_400_000,
        asset_id: store::seeded_asset_id(middle),
    }
}
