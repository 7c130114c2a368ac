//! The completion writers: asset and SKU outcomes are group-committed, many per transaction; after each
//! commit the SKU writer updates the read cache in commit order. A worker hands its outcome over and frees its
//! slot; the commit is awaited beside it.

use crate::Engine;
use crate::group_commit::{OUTCOME_BATCH, SHARED_OUTCOME_BATCH};
use connectors::sink::LeaseToken;
use std::sync::Arc;
use store::{AssetOutcome, AssetWork, SkuOutcome, SkuWork};
use tokio::sync::watch;

/// Stores the outcomes of asset work items until shutdown, many per transaction.
pub(crate) async fn run_asset_completions(
    engine: Arc<Engine>,
    rx: crate::group_commit::Queue<(AssetWork, AssetOutcome, LeaseToken), ()>,
    shutdown: watch::Receiver<bool>,
) {
    let batch = outcome_batch(&engine).await;
    crate::group_commit::run_writer(rx, shutdown, batch, |items| {
        let engine = engine.clone();
        async move {
            let now_ms = engine.now_ms();
            let results = engine
                .leases
                .commit_fenced(items, |items| engine.store.complete_assets(items, now_ms))
                .await;
            if results.as_ref().is_ok_and(|r| r.iter().any(Result::is_ok)) {
                engine.skus_ready.notify_one();
            }
            results
        }
    })
    .await;
}

/// Stores the outcomes of SKU work items until shutdown, many per transaction.
pub(crate) async fn run_sku_completions(
    engine: Arc<Engine>,
    rx: crate::group_commit::Queue<(SkuWork, SkuOutcome, LeaseToken), ()>,
    shutdown: watch::Receiver<bool>,
) {
    let batch = outcome_batch(&engine).await;
    crate::group_commit::run_writer(rx, shutdown, batch, |items| {
        let engine = engine.clone();
        async move {
            // The read cache follows the commits in their order (here, not in each worker after its
            // reply): a later write of a product can never be overwritten by an earlier one that answered late.
            let effects: Vec<_> = items.iter().map(cache_effect).collect();
            let now_ms = engine.now_ms();
            let results = engine
                .leases
                .commit_fenced(items, |items| engine.store.complete_skus(items, now_ms))
                .await?;
            for ((sku, effect), result) in effects.into_iter().zip(&results) {
                match (effect, result) {
                    (Some(Some(entries)), Ok(())) => engine.cache.put(&sku, &entries),
                    (Some(None), Ok(())) => engine.cache.remove(&sku),
                    _ => {}
                }
            }
            Ok(results)
        }
    })
    .await;
}

/// What a stored SKU outcome does to the read cache: `Some(Some(entries))` puts the gallery, `Some(None)`
/// removes the product (missing), `None` leaves it.
fn cache_effect(
    (work, outcome, _): &(SkuWork, SkuOutcome, LeaseToken),
) -> (domain::Sku, Option<Option<Vec<domain::AppliedEntry>>>) {
    let effect = match outcome {
        SkuOutcome::Applied(entries) | SkuOutcome::PartlyApplied { entries, .. } => {
            Some(Some(entries.clone()))
        }
        SkuOutcome::ProductMissing => Some(None),
        _ => None,
    };
    (work.sku.clone(), effect)
}

/// Outcomes per transaction: fewer where processes share the database, so that a transaction holds few row
/// locks and meets other processes' transactions less (each deadlock costs the server's detection time).
async fn outcome_batch(engine: &Engine) -> usize {
    if engine.store.exclusive().await {
        OUTCOME_BATCH
    } else {
        SHARED_OUTCOME_BATCH
    }
}

/// Stores a SKU's outcome and, once committed, updates the read cache and the SLA.
pub(crate) async fn submit_sku_outcome(
    engine: Arc<Engine>,
    work: SkuWork,
    outcome: SkuOutcome,
    lease: LeaseToken,
    had_operations: bool,
) {
    // The read cache is updated by the completion writer, in commit order.
    let wrote = matches!(&outcome, SkuOutcome::Applied(_)) && had_operations;
    let sku = work.sku.clone();
    let first_enqueued_ms = work.first_enqueued_ms;
    // The worker's slot is free once its outcome is queued (the lease keeps the SKU until the commit).
    let pending = engine.sku_completions.send((work, outcome, lease)).await;
    tokio::spawn(async move {
        let stored = match pending {
            Ok(pending) => pending.wait().await,
            Err(error) => Err(error),
        };
        match stored {
            Ok(Ok(())) => {
                if wrote {
                    let now = engine.now_ms();
                    engine.sla.record_applied(now, now - first_enqueued_ms);
                }
            }
            Ok(Err(error)) => {
                tracing::error!(%sku, %error, "could not store a SKU's outcome; its lease will expire")
            }
            Err(error) => {
                tracing::warn!(%sku, %error, "SKU outcome not stored; its lease will expire")
            }
        }
    });
}
