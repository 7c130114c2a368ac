//! The full sync: pages through every asset of the DAM (Author API search; eligibility checked locally) and
//! every product of the commerce side, and reconciles everything through the store's bulk path. Its SKU
//! work yields to live work; it resumes from its checkpoint after a crash; at most one runs and one waits.

use crate::Engine;
use crate::matching::AssetMatch;
use crate::workers::BulkStage;
use connectors::aem::DamError;
use domain::metadata::Evaluation;
use domain::retry::retry_delay_ms;
use futures_util::{StreamExt, stream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use store::{BulkAsset, FullSync, FullSyncPhase};
use tokio::sync::{mpsc, watch};

/// Assets per search page (and per bulk transaction).
const ASSET_PAGE: u32 = 200;
/// Products per commerce page.
const PRODUCT_PAGE: u32 = 200;
/// Assets of a page matched at once (a custom matcher is called over HTTP).
const MATCH_CONCURRENCY: usize = 8;
/// Search pages read ahead of the one being stored.
const PAGES_AHEAD: usize = 4;
/// Attempts at one page before the sync fails.
const PAGE_ATTEMPTS: u32 = 6;

/// One search page, matched, waiting to be stored.
struct ReadPage {
    assets: Vec<BulkAsset>,
    /// The cursor of the page after it (`None`: the last page).
    next: Option<String>,
    total: i64,
    /// When its reading began (the engine's clock).
    read_ms: i64,
}

enum Stop {
    /// Shutting down: the sync stays running and resumes at the next start.
    Interrupted,
    /// The sync cannot go on.
    Failed(String),
}

/// Runs waiting (or interrupted) full syncs, one at a time, until shutdown.
pub(crate) async fn run_full_syncs(engine: Arc<Engine>, mut shutdown: watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        match engine.store.begin_full_sync(engine.now_ms()).await {
            Ok(Some(sync)) => {
                tracing::info!(id = sync.id, reason = %sync.reason, phase = %sync.phase, "full sync running");
                engine.latest_full_sync.store(sync.id, Ordering::Relaxed);
                match run_one(&engine, &sync, &mut shutdown).await {
                    Ok(()) => finish(&engine, &sync, None).await,
                    Err(Stop::Interrupted) => return,
                    Err(Stop::Failed(error)) => finish(&engine, &sync, Some(&error)).await,
                }
            }
            Ok(None) => {
                tokio::select! {
                    () = engine.full_sync_requested.notified() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => return,
                }
            }
            Err(error) => {
                tracing::error!(%error, "could not read the full sync queue");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn finish(engine: &Engine, sync: &FullSync, error: Option<&str>) {
    if let Err(store_error) = engine
        .store
        .complete_full_sync(sync.id, error, engine.now_ms())
        .await
    {
        tracing::error!(%store_error, id = sync.id, "could not record the end of a full sync");
    }
    match error {
        None => tracing::info!(id = sync.id, "full sync done"),
        Some(error) => tracing::error!(id = sync.id, %error, "full sync failed"),
    }
}

fn stopping(shutdown: &watch::Receiver<bool>) -> Result<(), Stop> {
    if *shutdown.borrow() {
        Err(Stop::Interrupted)
    } else {
        Ok(())
    }
}

fn failed(error: impl std::fmt::Display) -> Stop {
    Stop::Failed(error.to_string())
}

/// Runs `call` until it succeeds, [`PAGE_ATTEMPTS`] times at most with a growing pause between: a store shared
/// by several processes may abort a large transaction again and again while others hold its rows, and the
/// platform may fail a page once; neither should end a full sync of hours. The calls are idempotent.
async fn persistently<T, E, F, Fut>(
    what: &str,
    shutdown: &mut watch::Receiver<bool>,
    mut call: F,
) -> Result<T, Stop>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await {
            Ok(value) => return Ok(value),
            Err(error) if attempt < PAGE_ATTEMPTS => {
                tracing::warn!(%error, attempt, "full sync: {what} failed; retrying");
                let delay = retry_delay_ms(attempt, None, fastrand::f64());
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(delay)) => {}
                    _ = shutdown.changed() => return Err(Stop::Interrupted),
                }
            }
            Err(error) => return Err(failed(format!("{what}: {error}"))),
        }
    }
}

async fn run_one(
    engine: &Engine,
    sync: &FullSync,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), Stop> {
    if sync.phase == FullSyncPhase::Assets {
        sync_assets(engine, sync, shutdown).await?;
    }
    if matches!(sync.phase, FullSyncPhase::Assets | FullSyncPhase::Products) {
        let cursor = if sync.phase == FullSyncPhase::Products {
            sync.cursor.as_deref()
        } else {
            None
        };
        sync_products(engine, sync, cursor, shutdown).await?;
        engine
            .store
            .set_full_sync_phase(sync.id, FullSyncPhase::Applying)
            .await
            .map_err(failed)?;
    }
    // Applying: the SKU workers write what the sync queued, as wide as the sink allows; wait until none of
    // it is left.
    let _draining = engine.bulk_stage.enter(BulkStage::Draining);
    engine.skus_ready.notify_one();
    loop {
        stopping(shutdown)?;
        if engine.store.bulk_sku_work().await.map_err(failed)? == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sync_assets(
    engine: &Engine,
    sync: &FullSync,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), Stop> {
    stopping(shutdown)?;
    // Pages are read (and matched) ahead of the store: the next searches run while a page waits for the
    // database's writer. Pages are stored in order, each with the cursor of the page after it (the checkpoint).
    let (pages, mut to_store) = mpsc::channel::<ReadPage>(PAGES_AHEAD);
    let mut reader_shutdown = shutdown.clone();
    let mut storer_shutdown = shutdown.clone();
    let reader = async move {
        let mut cursor = sync.cursor.clone();
        loop {
            let read_ms = engine.now_ms();
            let page = search_with_retries(engine, cursor.as_deref(), &mut reader_shutdown).await?;
            let read = ReadPage {
                assets: match_page(engine, &page).await,
                next: page.cursor.clone(),
                total: page.total.unwrap_or(0),
                read_ms,
            };
            cursor = page.cursor;
            // A closed channel: the store side stopped, and says why.
            if pages.send(read).await.is_err() || cursor.is_none() {
                return Ok(());
            }
        }
    };
    // Moved in, so that a storer that stops drops the channel and the reader's next send ends it.
    let storer = async move {
        while let Some(page) = to_store.recv().await {
            stopping(&storer_shutdown)?;
            persistently("storing a page", &mut storer_shutdown, || {
                engine.store.store_full_sync_page(
                    sync.id,
                    &page.assets,
                    page.next.as_deref(),
                    page.total,
                    page.read_ms,
                    engine.now_ms(),
                )
            })
            .await?;
            engine.skus_ready.notify_one();
        }
        Ok(())
    };
    let storing = engine.bulk_stage.enter(BulkStage::Storing);
    let (read, stored): (Result<(), Stop>, Result<(), Stop>) = tokio::join!(reader, storer);
    drop(storing);
    stored?;
    read?;
    let requeued = persistently("finishing the assets", shutdown, || {
        engine
            .store
            .finish_full_sync_assets(sync.id, engine.now_ms())
    })
    .await?;
    if requeued > 0 {
        tracing::info!(requeued, "assets the DAM no longer lists are read again");
        engine.assets_ready.notify_one();
    }
    Ok(())
}

/// Matches one search page's assets (a custom matcher is called for several at once; the page keeps its
/// order) into what the bulk path stores.
async fn match_page(engine: &Engine, page: &connectors::aem::SearchPage) -> Vec<BulkAsset> {
    let pending: Vec<_> = page
        .results
        .iter()
        .map(|metadata| engine.match_asset(metadata))
        .collect();
    let outcomes: Vec<AssetMatch> = stream::iter(pending)
        .buffered(MATCH_CONCURRENCY)
        .collect()
        .await;
    page.results
        .iter()
        .map(|metadata| metadata.asset_id.clone())
        .zip(outcomes)
        .filter_map(|(asset_id, matched)| match matched {
            AssetMatch::Evaluated(Evaluation::Eligible { links, warnings }) => {
                Some(BulkAsset::Links {
                    asset_id,
                    links,
                    eligible: true,
                    warnings,
                })
            }
            AssetMatch::Evaluated(Evaluation::NotEligible { reason }) => Some(BulkAsset::Links {
                asset_id,
                links: Vec::new(),
                eligible: false,
                warnings: vec![format!("not synced: {reason}")],
            }),
            AssetMatch::Evaluated(Evaluation::Invalid { reason }) => Some(BulkAsset::Invalid {
                asset_id,
                error: format!("metadata: {reason}"),
            }),
            AssetMatch::Failed(error) => Some(BulkAsset::Invalid { asset_id, error }),
            // Left out of the page: nothing is written; an asset with links is read again at the end.
            AssetMatch::Skip => None,
        })
        .collect()
}

async fn search_with_retries(
    engine: &Engine,
    cursor: Option<&str>,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<connectors::aem::SearchPage, Stop> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match engine.dam.search_page(cursor, ASSET_PAGE).await {
            Ok(page) => return Ok(page),
            Err(error)
                if attempt < PAGE_ATTEMPTS && !matches!(error, DamError::Rejected { .. }) =>
            {
                let retry_after = error.retry_after_ms().map(|ms| engine.cap_retry_after(ms));
                let delay = retry_delay_ms(attempt, retry_after, fastrand::f64());
                tracing::warn!(%error, attempt, "full sync: search failed; retrying");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(delay)) => {}
                    _ = shutdown.changed() => return Err(Stop::Interrupted),
                }
            }
            Err(error) => return Err(Stop::Failed(format!("AEM search: {error}"))),
        }
    }
}

async fn sync_products(
    engine: &Engine,
    sync: &FullSync,
    cursor: Option<&str>,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), Stop> {
    let mut page: u32 = cursor.and_then(|c| c.parse().ok()).unwrap_or(1);
    loop {
        stopping(shutdown)?;
        let Some(products) = persistently("products", shutdown, || {
            engine.sink.list_products(page, PRODUCT_PAGE)
        })
        .await?
        else {
            return Ok(());
        };
        let next = page + 1;
        let last =
            u64::from(page) * u64::from(PRODUCT_PAGE) >= products.total || products.skus.is_empty();
        let next_cursor = (!last).then(|| next.to_string());
        let skus = engine.product_keys(products.skus);
        let call = engine.product_call_data(&serde_json::json!({ "source": "full_sync" }));
        let added = persistently("storing products", shutdown, || {
            engine.store.store_full_sync_products(
                sync.id,
                &skus,
                next_cursor.as_deref(),
                call.as_ref(),
                engine.now_ms(),
            )
        })
        .await?;
        engine.products_added(&skus, &added);
        if last {
            return Ok(());
        }
        page = next;
    }
}
