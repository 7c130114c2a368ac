//! The two worker pools. Asset workers re-read an asset from the DAM (events are only hints) and store its
//! desired links; SKU workers compute the product's gallery, reconcile it against what is applied and push
//! the operations through the sink. Work is leased in the store, so it survives a restart, and one SKU is
//! never written by two workers at once.

use crate::Engine;
use crate::dam_guard::DamPause;
use crate::matching::AssetMatch;
use connectors::aem::{DamError, MetadataReply};
use connectors::sink::SinkState;
use domain::metadata::Evaluation;
use domain::retry::retry_delay_ms;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use store::{AssetOutcome, AssetWork, WorkKey};
use tokio::sync::{Notify, Semaphore, watch};

mod sku;
mod width;

pub(crate) use width::{BulkStage, StageCell, Width};

/// Largest number of items claimed in one statement.
const MAX_CLAIM: usize = 64;

pub(crate) async fn run_asset_workers(engine: Arc<Engine>, shutdown: watch::Receiver<bool>) {
    let concurrency = engine.settings.asset_concurrency;
    let claimer = engine.clone();
    let processor = engine.clone();
    run_pool(
        &engine.assets_ready,
        Width::fixed(concurrency),
        shutdown,
        &engine.settings,
        move |limit| {
            let engine = claimer.clone();
            async move {
                let limit = match dam_admission(&engine) {
                    DamAdmission::Open => limit,
                    DamAdmission::Probe => 1,
                    DamAdmission::Paused => return Ok(Vec::new()),
                };
                engine
                    .store
                    .claim_asset_work(engine.now_ms(), limit, lease_ms(&engine))
                    .await
            }
        },
        move |work| process_asset(processor.clone(), work),
    )
    .await;
}

pub(crate) async fn run_sku_workers(engine: Arc<Engine>, shutdown: watch::Receiver<bool>) {
    let settings = &engine.settings;
    let width = Width::by_stage(
        settings.sku_concurrency,
        settings.storing_concurrency,
        settings.drain_concurrency,
        &engine.bulk_stage,
    );
    let claimer = engine.clone();
    let processor = engine.clone();
    run_pool(
        &engine.skus_ready,
        width,
        shutdown,
        &engine.settings,
        move |limit| {
            let engine = claimer.clone();
            async move {
                if !sink_ready(&engine).await {
                    return Ok(Vec::new());
                }
                engine
                    .store
                    .claim_sku_work(engine.now_ms(), limit, lease_ms(&engine))
                    .await
            }
        },
        move |work| sku::process_sku(processor.clone(), work),
    )
    .await;
}

enum DamAdmission {
    Open,
    /// Paused; one read may try whether the credentials work again.
    Probe,
    Paused,
}

/// While DAM reads are paused (credentials refused), one read every `pause_probe` tries them again.
fn dam_admission(engine: &Engine) -> DamAdmission {
    if engine.dam_paused().is_none() {
        return DamAdmission::Open;
    }
    let now = engine.now_ms();
    let interval = i64::try_from(engine.settings.pause_probe.as_millis()).unwrap_or(i64::MAX);
    let last = engine.last_dam_probe_ms.load(Ordering::Relaxed);
    if now - last < interval {
        return DamAdmission::Paused;
    }
    engine.last_dam_probe_ms.store(now, Ordering::Relaxed);
    DamAdmission::Probe
}

/// False while synchronization is disabled or the sink is paused; probes it (at most once per `pause_probe`) to resume it.
async fn sink_ready(engine: &Engine) -> bool {
    if !engine.config().sync_enabled {
        return false;
    }
    if engine.sink.state() == SinkState::Ready {
        return true;
    }
    let now = engine.now_ms();
    let interval = i64::try_from(engine.settings.pause_probe.as_millis()).unwrap_or(i64::MAX);
    let last = engine.last_probe_ms.load(Ordering::Relaxed);
    if now - last < interval {
        return false;
    }
    engine.last_probe_ms.store(now, Ordering::Relaxed);
    engine.sink.probe().await == SinkState::Ready
}

pub(crate) fn lease_ms(engine: &Engine) -> i64 {
    i64::try_from(engine.settings.lease.as_millis()).unwrap_or(i64::MAX)
}

/// How long before its end a lease already counts as lost (a renewal, due every third of the lease, is late).
fn lease_margin_ms(engine: &Engine) -> i64 {
    lease_ms(engine) / 3
}

/// Claims work while permits are free, runs each item on its own task, and sleeps until woken (or the poll
/// interval passes) when nothing is due.
pub(crate) async fn run_pool<W, C, CF, P, PF>(
    ready: &Notify,
    width: Width<'_>,
    mut shutdown: watch::Receiver<bool>,
    settings: &crate::EngineSettings,
    claim: C,
    process: P,
) where
    W: Send + 'static,
    C: Fn(i64) -> CF,
    CF: Future<Output = Result<Vec<W>, store::StoreError>>,
    P: Fn(W) -> PF,
    PF: Future<Output = ()> + Send + 'static,
{
    let most = width.most();
    let permits = Arc::new(Semaphore::new(most));
    let claim_at = width.claim_at(MAX_CLAIM);
    loop {
        if *shutdown.borrow() {
            return;
        }
        // Permits beyond the width now are held back.
        let now = width.now();
        let held_back = most - now;
        let claim_at = claim_at.min(now);
        let free = permits
            .available_permits()
            .saturating_sub(held_back)
            .min(MAX_CLAIM);
        if free < claim_at {
            let wanted = u32::try_from(claim_at + held_back).unwrap_or(u32::MAX);
            // A wake-up (the width may have changed: a full sync's stage) looks again.
            tokio::select! {
                permit = permits.clone().acquire_many_owned(wanted) => drop(permit),
                () = ready.notified() => {}
                _ = shutdown.changed() => return,
            }
            continue;
        }
        let batch = match claim(i64::try_from(free).unwrap_or(1)).await {
            Ok(batch) => batch,
            Err(error) => {
                tracing::error!(%error, "could not claim work; retrying");
                Vec::new()
            }
        };
        if batch.is_empty() {
            tokio::select! {
                () = ready.notified() => {}
                () = tokio::time::sleep(settings.poll) => {}
                _ = shutdown.changed() => return,
            }
            continue;
        }
        for work in batch {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let task = process(work);
            tokio::spawn(async move {
                task.await;
                drop(permit);
            });
        }
    }
}

/// Re-reads one asset and stores its desired links (or why it failed). Its lease is renewed meanwhile.
async fn process_asset(engine: Arc<Engine>, work: AssetWork) {
    let _in_flight = engine.in_flight.asset();
    let key = WorkKey::Asset(work.asset_id.clone());
    let lease = engine
        .leases
        .hold(key.clone(), work.lease_until_ms, lease_margin_ms(&engine));
    let outcome = asset_outcome(&engine, &work).await;
    if lease.revoked() {
        engine.leases.forget(&key, &lease);
        tracing::warn!(asset = %work.asset_id, "lost the lease on an asset's work; its outcome is dropped");
        return;
    }
    if let AssetOutcome::Failed { error, .. } = &outcome {
        tracing::warn!(asset = %work.asset_id, %error, "asset failed");
    }
    let asset_id = work.asset_id.clone();
    // The worker's slot is free once its outcome is queued (the lease, still renewed, keeps the item until
    // the commit); the commit is awaited beside it.
    let pending = engine.asset_completions.send((work, outcome, lease)).await;
    tokio::spawn(async move {
        match pending {
            Ok(pending) => match pending.wait().await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::error!(asset = %asset_id, %error, "could not store an asset's outcome; its lease will expire")
                }
                Err(error) => {
                    tracing::warn!(asset = %asset_id, %error, "asset outcome not stored; its lease will expire")
                }
            },
            Err(error) => {
                tracing::warn!(asset = %asset_id, %error, "asset outcome not stored; its lease will expire")
            }
        }
    });
}

async fn asset_outcome(engine: &Engine, work: &AssetWork) -> AssetOutcome {
    let read = engine.dam.metadata(&work.asset_id).await;
    let now = engine.now_ms();
    match &read {
        Err(DamError::Unauthorized(reason)) => {
            engine.set_dam_paused(Some(DamPause::Credentials(reason.clone())));
        }
        Ok(MetadataReply::Found(_)) => {
            engine.dam_missing.reset();
            engine.set_dam_paused(None);
        }
        Ok(MetadataReply::NotFound) | Err(DamError::Rejected { status: 403, .. }) => {
            note_refused(engine, &work.asset_id, now);
        }
        Err(_) => {}
    }
    // While reads are paused, nothing but a found asset is acted on: no unlink, no attempt counted.
    if !matches!(read, Ok(MetadataReply::Found(_)))
        && let Some(pause) = engine.dam_pause()
    {
        let probe = i64::try_from(engine.settings.pause_probe.as_millis()).unwrap_or(i64::MAX);
        let what = match pause {
            DamPause::Credentials(_) => "until the credentials work again",
            DamPause::ManyMissing(_) => "until a read finds an asset again",
        };
        return AssetOutcome::Paused {
            error: format!("{}; DAM reads are paused {what}", pause.reason()),
            retry_at_ms: now.saturating_add(probe),
        };
    }
    match read {
        Err(DamError::Unauthorized(reason)) => AssetOutcome::Failed {
            error: format!("{reason}; DAM reads are paused until the credentials work again"),
            retry_at_ms: Some(now.saturating_add(
                i64::try_from(engine.settings.pause_probe.as_millis()).unwrap_or(i64::MAX),
            )),
        },
        Ok(MetadataReply::Found(metadata)) => match engine.match_asset(&metadata).await {
            AssetMatch::Evaluated(Evaluation::Eligible { .. })
                if metadata_only_change_ignored(engine, work).await =>
            {
                AssetOutcome::Kept {
                    note: "metadata change of an approved asset not synced (resync_on_metadata_change = false)".into(),
                }
            }
            AssetMatch::Evaluated(Evaluation::Eligible { links, warnings }) => AssetOutcome::Links {
                links,
                eligible: true,
                warnings,
                note: None,
            },
            AssetMatch::Evaluated(Evaluation::NotEligible { reason }) => unlinked(&reason),
            AssetMatch::Evaluated(Evaluation::Invalid { reason }) => AssetOutcome::Failed {
                error: format!("metadata: {reason}"),
                retry_at_ms: None,
            },
            AssetMatch::Skip => AssetOutcome::Kept {
                note: "the custom matcher answered skip: nothing written".into(),
            },
            AssetMatch::Failed(error) => failed(engine, work, error, None),
        },
        // A `deleted` event is a hint too: the read confirms it before anything is unlinked.
        Ok(MetadataReply::NotFound) if work.deleted => {
            unlinked("deleted in AEM (the deletion event confirmed by a read)")
        }
        Ok(MetadataReply::NotFound) if work.missing_once => {
            unlinked("deleted in AEM (not found twice)")
        }
        Ok(MetadataReply::NotFound) => AssetOutcome::MissingOnce {
            retry_at_ms: now
                + i64::try_from(engine.settings.confirm_missing_after.as_millis()).unwrap_or(500),
        },
        Err(error) => {
            let retry_after_ms = error.retry_after_ms().map(|ms| engine.cap_retry_after(ms));
            failed(engine, work, error.to_string(), retry_after_ms)
        }
    }
}

/// Counts an asset AEM did not find (or refused); pauses DAM reads when too many different assets did so
/// within the window (an ACL change, an `author_url` pointing at another environment).
fn note_refused(engine: &Engine, asset: &domain::AssetId, now: i64) {
    let limit = engine.settings.missing_limit;
    let count = engine.dam_missing.record(asset, now, limit.window);
    if count >= limit.assets && engine.dam_pause().is_none() {
        engine.set_dam_paused(Some(DamPause::ManyMissing(format!(
            "AEM answered 404 (not found) or 403 for {count} different assets within {} s: is author_url the right environment, or did permissions change? Nothing is unlinked while paused",
            limit.window.as_secs()
        ))));
    }
}

/// A failure that keeps the asset's links: retried with backoff until `max_attempts`, then left to the next
/// event, the anti-entropy pass or a full sync.
fn failed(
    engine: &Engine,
    work: &AssetWork,
    error: String,
    retry_after_ms: Option<u64>,
) -> AssetOutcome {
    if work.attempt >= i64::from(engine.settings.max_attempts) {
        return AssetOutcome::Failed {
            error: format!(
                "{error}; gave up after {} attempts (the next event, the anti-entropy pass or a full sync reads it again)",
                work.attempt
            ),
            retry_at_ms: None,
        };
    }
    let attempt = u32::try_from(work.attempt).unwrap_or(u32::MAX);
    let delay = retry_delay_ms(attempt, retry_after_ms, fastrand::f64());
    AssetOutcome::Failed {
        error,
        retry_at_ms: Some(engine.now_ms() + i64::try_from(delay).unwrap_or(i64::MAX)),
    }
}

/// With `resync_on_metadata_change = false` (strict parity with the reference), an asset that was eligible
/// and still is changed only its metadata: that does not act; only a change of `dam:status` or a deletion does.
async fn metadata_only_change_ignored(engine: &Engine, work: &AssetWork) -> bool {
    if engine.config().resync_on_metadata_change {
        return false;
    }
    match engine.store.asset_status(&work.asset_id).await {
        Ok(Some(status)) => status.eligible,
        _ => false,
    }
}

fn unlinked(reason: &str) -> AssetOutcome {
    AssetOutcome::Links {
        links: Vec::new(),
        eligible: false,
        warnings: Vec::new(),
        note: Some(format!("not synced: {reason}")),
    }
}
