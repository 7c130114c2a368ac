//! Anti-entropy: a periodic pass that re-reads a rotating slice of assets from the DAM (the ones read longest
//! ago) and scans the commerce catalog's SKUs (CSV imports emit no events), so drift is repaired even when
//! events were missed and the journal is not configured.

use crate::Engine;

use std::sync::Arc;
use tokio::sync::watch;

/// Assets re-read per pass.
const SLICE: i64 = 200;
/// Products read per catalog page.
const PRODUCT_PAGE: u32 = 200;

/// Runs a pass every `anti_entropy` interval until shutdown.
pub(crate) async fn run_anti_entropy(engine: Arc<Engine>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(engine.settings.anti_entropy) => {}
            _ = shutdown.changed() => return,
        }
        if !engine.config().sync_enabled {
            continue;
        }
        match engine
            .store
            .requeue_stalest_assets(SLICE, engine.now_ms())
            .await
        {
            Ok(0) => {}
            Ok(queued) => {
                tracing::debug!(queued, "anti-entropy: assets read again");
                engine.assets_ready.notify_one();
            }
            Err(error) => tracing::warn!(%error, "anti-entropy: could not queue assets"),
        }
        if let Err(error) = scan_catalog(&engine).await {
            tracing::warn!(%error, "anti-entropy: catalog scan failed");
        }
    }
}

/// Adds every product of the commerce catalog that assetsync does not know (its waiting assets attach).
async fn scan_catalog(engine: &Engine) -> Result<(), String> {
    let mut page = 1;
    loop {
        let Some(products) = engine
            .sink
            .list_products(page, PRODUCT_PAGE)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        let last =
            u64::from(page) * u64::from(PRODUCT_PAGE) >= products.total || products.skus.is_empty();
        let skus = engine.product_keys(products.skus);
        let added = engine
            .add_products_from(&skus, &serde_json::json!({ "source": "anti_entropy" }))
            .await
            .map_err(|e| e.to_string())?;
        if !added.is_empty() {
            tracing::info!(
                added = added.len(),
                "anti-entropy: products found without an event"
            );
        }
        if last {
            return Ok(());
        }
        page += 1;
    }
}
