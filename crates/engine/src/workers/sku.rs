//! A SKU's work: its state, the desired gallery brought to the sink, and the
//! outcome handed to the group commit.

use super::lease_margin_ms;
use crate::Engine;
use connectors::sink::{
    ApplyContext, HandmadeLedger, LeaseToken, PartialApply, SinkError, SinkOutcome, SinkState,
};
use domain::config::VisualizationOwner;
use domain::gallery::HandmadeRecord;
use domain::gallery::reconcile;
use domain::gallery::{RefusedEntry, without_refused};
use domain::retry::{FailureClass, RetryDecision, decide};
use domain::{AssetId, GalleryEntry, Sku};
use std::sync::Arc;
use store::{SkuFailure, SkuOutcome, SkuWork, WorkKey};

/// Brings one SKU's gallery to the desired state. Its lease is renewed meanwhile; a lost lease stops the
/// sink before its next write, and nothing is stored.
pub(super) async fn process_sku(engine: Arc<Engine>, work: SkuWork) {
    let _in_flight = engine.in_flight.sku();
    let key = WorkKey::Sku(work.sku.clone());
    let lease = engine
        .leases
        .hold(key.clone(), work.lease_until_ms, lease_margin_ms(&engine));
    let applied = apply_sku(&engine, &work, &lease).await;
    if lease.revoked() {
        engine.leases.forget(&key, &lease);
        tracing::warn!(sku = %work.sku, "lost the lease on a SKU's work; another worker has it");
        return;
    }
    let Some((outcome, had_operations)) = applied else {
        engine.leases.forget(&key, &lease);
        return;
    };
    crate::completions::submit_sku_outcome(engine.clone(), work, outcome, lease, had_operations)
        .await;
}

/// The outcome of one SKU's work and whether it had operations; `None` when nothing must be stored (the
/// state could not be read, or the lease was lost).
async fn apply_sku(
    engine: &Engine,
    work: &SkuWork,
    lease: &LeaseToken,
) -> Option<(SkuOutcome, bool)> {
    let had_operations;
    let outcome = match engine.store.sku_state(&work.sku).await {
        Ok(state) => {
            let config = engine.config();
            let dam_owns_gallery = config.visualization_owner == VisualizationOwner::AemAssets;
            let desired = engine.desired_gallery(&config, &state.claims, &state.manual);
            let ops = without_refused(reconcile(&desired, &state.applied), &state.refused);
            let obsolete = obsolete_refusals(&state.refused, &desired);
            had_operations = !ops.is_empty();
            let ledger = StoreLedger(engine.store.as_ref());
            let context = ApplyContext {
                product_known: state.product_exists,
                dam_owns_gallery,
                ledger: &ledger,
                lease,
                retried: work.attempt > 1,
            };
            if ops.is_empty() || engine.sink.state() == SinkState::Ready {
                match engine
                    .sink
                    .apply(&work.sku, &context, &state.applied, &ops)
                    .await
                {
                    Ok(SinkOutcome::Applied(entries)) if obsolete.is_empty() => {
                        SkuOutcome::Applied(entries)
                    }
                    Ok(SinkOutcome::Applied(entries)) => {
                        partly_applied(engine, work, PartialApply::all(entries), obsolete)
                    }
                    Ok(SinkOutcome::Partial(partial))
                        if partial.stopped == Some(SinkError::LeaseLost) =>
                    {
                        return None;
                    }
                    Ok(SinkOutcome::Partial(partial)) => {
                        partly_applied(engine, work, partial, obsolete)
                    }
                    Ok(SinkOutcome::ProductMissing) => SkuOutcome::ProductMissing,
                    Err(SinkError::LeaseLost) => return None,
                    Err(error) => sink_failure(engine, work, &error),
                }
            } else {
                deferred(engine)
            }
        }
        Err(error) => {
            tracing::error!(sku = %work.sku, %error, "could not load a SKU's state; its lease will expire");
            return None;
        }
    };
    Some((outcome, had_operations))
}

/// Keeps the work for later without counting an attempt (the sink is paused).
fn deferred(engine: &Engine) -> SkuOutcome {
    let delay = i64::try_from(engine.settings.pause_probe.as_millis()).unwrap_or(i64::MAX);
    SkuOutcome::Deferred {
        retry_at_ms: engine.now_ms().saturating_add(delay),
    }
}

fn sink_failure(engine: &Engine, work: &SkuWork, error: &SinkError) -> SkuOutcome {
    let attempt = u32::try_from(work.attempt).unwrap_or(u32::MAX);
    let (class, retry_after) = match error {
        // Waiting behind a host's Retry-After is no failure: the work goes when the gate opens, and
        // neither an attempt nor the backoff grows.
        SinkError::HostGated { retry_after_ms, .. } => {
            tracing::debug!(sku = %work.sku, %error, "waiting for the host's Retry-After");
            let wait = engine.cap_retry_after(*retry_after_ms);
            return SkuOutcome::Deferred {
                retry_at_ms: engine
                    .now_ms()
                    .saturating_add(i64::try_from(wait).unwrap_or(i64::MAX)),
            };
        }
        SinkError::LeaseLost => return deferred(engine),
        SinkError::Unauthorized(_) | SinkError::Paused(_) => (FailureClass::Unauthorized, None),
        SinkError::Rejected(_) | SinkError::BinaryRefused(_) => (FailureClass::Permanent, None),
        SinkError::Unavailable { retry_after_ms, .. } => (
            FailureClass::Transient,
            retry_after_ms.map(|ms| engine.cap_retry_after(ms)),
        ),
    };
    tracing::warn!(sku = %work.sku, %error, "commerce write failed");
    match decide(
        class,
        attempt,
        engine.settings.max_attempts,
        retry_after,
        fastrand::f64(),
    ) {
        RetryDecision::Pause => deferred(engine),
        RetryDecision::GiveUp => SkuOutcome::Failed {
            error: error.to_string(),
            retry_at_ms: None,
        },
        RetryDecision::RetryIn(delay) => SkuOutcome::Failed {
            error: error.to_string(),
            retry_at_ms: Some(
                engine
                    .now_ms()
                    .saturating_add(i64::try_from(delay).unwrap_or(i64::MAX)),
            ),
        },
    }
}

/// Refusals whose entry is no longer the desired one: what the asset asks for changed (or it left the
/// product), so the refusal is forgotten once this run is stored.
fn obsolete_refusals(refused: &[RefusedEntry], desired: &[GalleryEntry]) -> Vec<AssetId> {
    refused
        .iter()
        .filter(|r| !desired.contains(&r.entry))
        .map(|r| r.entry.asset_id.clone())
        .collect()
}

/// An apply that wrote some operations and not others: what the store holds now is stored; refused entries
/// fail their assets alone; assets whose binary the DAM no longer has are read again and the SKU is tried
/// again after them (a binary that is gone is not a store outage); a failure that stopped the rest is
/// handled as any sink failure.
fn partly_applied(
    engine: &Engine,
    work: &SkuWork,
    partial: PartialApply,
    cleared: Vec<AssetId>,
) -> SkuOutcome {
    let failure = match (&partial.stopped, partial.reread.first()) {
        (Some(error), _) => match sink_failure(engine, work, error) {
            SkuOutcome::Failed { error, retry_at_ms } => Some(SkuFailure { error, retry_at_ms }),
            SkuOutcome::Deferred { retry_at_ms } => Some(SkuFailure {
                error: error.to_string(),
                retry_at_ms: Some(retry_at_ms),
            }),
            _ => None,
        },
        (None, Some(asset)) => {
            let error = format!(
                "the DAM no longer delivers the binary of {asset}{}; the asset is read again",
                match partial.reread.len() {
                    1 => String::new(),
                    n => format!(" (and {} more)", n - 1),
                }
            );
            tracing::info!(sku = %work.sku, %error, "SKU waits for a re-read");
            let attempt = u32::try_from(work.attempt).unwrap_or(u32::MAX);
            let retry_at_ms = match decide(
                FailureClass::Transient,
                attempt,
                engine.settings.max_attempts,
                None,
                fastrand::f64(),
            ) {
                RetryDecision::RetryIn(delay) => Some(
                    engine
                        .now_ms()
                        .saturating_add(i64::try_from(delay).unwrap_or(i64::MAX)),
                ),
                RetryDecision::GiveUp | RetryDecision::Pause => None,
            };
            Some(SkuFailure { error, retry_at_ms })
        }
        (None, None) => None,
    };
    SkuOutcome::PartlyApplied {
        entries: partial.entries,
        refused: partial.refused,
        reread: partial.reread,
        cleared,
        failure,
    }
}

/// The sink's ledger of hand-made entries, kept in the store.
struct StoreLedger<'a>(&'a dyn store::Store);

fn ledger_error(error: store::StoreError) -> SinkError {
    SinkError::Unavailable {
        message: format!("could not record a hand-made entry: {error}"),
        retry_after_ms: None,
    }
}

#[async_trait::async_trait]
impl HandmadeLedger for StoreLedger<'_> {
    async fn recorded(&self, sku: &Sku) -> Result<Vec<HandmadeRecord>, SinkError> {
        self.0.handmade_records(sku).await.map_err(ledger_error)
    }

    async fn remember(&self, sku: &Sku, record: &HandmadeRecord) -> Result<(), SinkError> {
        self.0
            .remember_handmade(sku, record)
            .await
            .map_err(ledger_error)
    }

    async fn forget(&self, sku: &Sku, entry_id: &str) -> Result<(), SinkError> {
        self.0
            .forget_handmade(sku, entry_id)
            .await
            .map_err(ledger_error)
    }
}
