//! The conformance checks: what every [`Store`] must do, asserted through the trait only. Each check takes a fresh,
//! empty store; times are fixed Unix milliseconds, so nothing sleeps.

pub use crate::hardening::*;
use crate::harness::Harness;
pub use accounts::*;
pub use assets::*;
pub use catalog::*;
pub use cluster::*;
pub use config::*;
pub use coordination::*;
pub use events::*;
pub use fullsync::*;
pub use galleries::*;
pub use leases::*;
pub use listing::*;
pub use maintenance::*;
pub use manual::*;
pub use store_views::*;

mod accounts;
mod assets;
mod catalog;
mod cluster;
mod config;
mod coordination;
mod events;
mod fullsync;
mod galleries;
mod leases;
mod listing;
mod maintenance;
mod manual;
mod store_views;

use domain::events::EventKind;
use domain::gallery::{HandmadeRecord, RefusedEntry, compute_gallery};
use domain::{AppliedEntry, AssetId, ContentId, DesiredLink, MediaType, Role, Sku};
use store::prelude::*;
use store::{
    AssetOutcome, AssetStatus, AssetWork, Backlog, NewEvent, Recorded, SkuFailure, SkuOutcome,
    SkuWork, Store,
};
use store::{FullSyncPhase, FullSyncState, QueuedWork, SyncStatus};

/// A fixed "now" to count from.
const T0: i64 = 1_000_000;
/// The lease every claim takes.
const LEASE: i64 = 60_000;
/// A claim limit larger than any queue in these checks.
const MANY: i64 = 100;

// ---------------------------------------------------------------------------------------------------------------
// Values

fn asset(n: u32) -> AssetId {
    AssetId::parse(&format!("urn:aaid:aem:00000000-0000-4000-8000-{n:012}")).unwrap()
}

fn sku(raw: &str) -> Sku {
    Sku::parse(raw).unwrap()
}

fn changed(event_id: &str, asset: &AssetId, received_ms: i64) -> NewEvent {
    NewEvent {
        event_id: event_id.to_owned(),
        event_type: "aem.assets.asset.metadata_updated".to_owned(),
        kind: EventKind::AssetChanged,
        asset_id: Some(asset.clone()),
        received_ms,
        occurred_ms: None,
    }
}

fn deleted(event_id: &str, asset: &AssetId, received_ms: i64) -> NewEvent {
    NewEvent {
        event_id: event_id.to_owned(),
        event_type: "aem.assets.asset.deleted".to_owned(),
        kind: EventKind::AssetDeleted,
        asset_id: Some(asset.clone()),
        received_ms,
        occurred_ms: None,
    }
}

fn unused(event_id: &str, received_ms: i64) -> NewEvent {
    NewEvent {
        event_id: event_id.to_owned(),
        event_type: "aem.assets.folder.created".to_owned(),
        kind: EventKind::Unused,
        asset_id: None,
        received_ms,
        occurred_ms: None,
    }
}

fn link(asset: &AssetId, sku: &Sku, roles: &[&str], position: Option<u32>) -> DesiredLink {
    DesiredLink {
        asset_id: asset.clone(),
        sku: sku.clone(),
        roles: roles.iter().map(|r| Role::parse(r).unwrap()).collect(),
        position,
        label: Some(format!("{} on {sku}", asset.uuid())),
        labels: Default::default(),
        hidden_in: Default::default(),
        media_type: MediaType::Image,
        video: None,
        content_id: ContentId(format!("sha1-{}", asset.uuid())),
        modified_ms: 1_700_000_000_000,
    }
}

fn links(links: Vec<DesiredLink>) -> AssetOutcome {
    AssetOutcome::Links {
        links,
        eligible: true,
        warnings: Vec::new(),
        note: None,
    }
}

/// The gallery the engine would write for these claims (remote ids as a commerce platform would assign them).
fn gallery_of(claims: &[DesiredLink]) -> Vec<AppliedEntry> {
    compute_gallery(claims)
        .into_iter()
        .map(|entry| AppliedEntry {
            remote_id: Some(format!("media-{}", entry.asset_id.uuid())),
            entry,
            unknown_store_views: Default::default(),
        })
        .collect()
}

fn by_asset(mut claims: Vec<DesiredLink>) -> Vec<DesiredLink> {
    claims.sort_by(|a, b| a.asset_id.cmp(&b.asset_id));
    claims
}

fn sorted<T: Ord>(mut values: Vec<T>) -> Vec<T> {
    values.sort();
    values
}

// ---------------------------------------------------------------------------------------------------------------
// Steps the engine takes, through the trait

async fn record<S: Store>(store: &S, events: &[NewEvent]) -> Vec<Recorded> {
    store.record_events(events).await.unwrap()
}

async fn claim_assets<S: Store>(store: &S, now_ms: i64) -> Vec<AssetWork> {
    store.claim_asset_work(now_ms, MANY, LEASE).await.unwrap()
}

async fn claim_one_asset<S: Store>(store: &S, now_ms: i64) -> AssetWork {
    let mut work = claim_assets(store, now_ms).await;
    assert_eq!(
        work.len(),
        1,
        "expected exactly one asset work item: {work:?}"
    );
    work.remove(0)
}

/// Claims every due SKU, sorted by SKU.
async fn claim_skus<S: Store>(store: &S, now_ms: i64) -> Vec<SkuWork> {
    let mut work = store.claim_sku_work(now_ms, MANY, LEASE).await.unwrap();
    work.sort_by(|a, b| a.sku.cmp(&b.sku));
    work
}

fn skus_of(work: &[SkuWork]) -> Vec<Sku> {
    work.iter().map(|w| w.sku.clone()).collect()
}

async fn status<S: Store>(store: &S, asset: &AssetId) -> AssetStatus {
    store
        .asset_status(asset)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no status for {asset}"))
}

async fn backlog<S: Store>(store: &S) -> Backlog {
    store.backlog().await.unwrap()
}

/// Records an event for the asset, claims it at the event's time and completes it with `outcome` at `done_ms`.
async fn sync_asset<S: Store>(
    store: &S,
    event_id: &str,
    asset: &AssetId,
    outcome: AssetOutcome,
    received_ms: i64,
    done_ms: i64,
) {
    assert_eq!(
        record(store, &[changed(event_id, asset, received_ms)]).await,
        vec![Recorded::Stored]
    );
    let work = claim_one_asset(store, received_ms).await;
    assert_eq!(&work.asset_id, asset);
    store.complete_asset(&work, outcome, done_ms).await.unwrap();
}

/// The engine's SKU step: `ProductMissing` without a product, else the gallery computed from the claims.
async fn apply_sku<S: Store>(store: &S, work: &SkuWork, now_ms: i64) {
    let state = store.sku_state(&work.sku).await.unwrap();
    let outcome = if state.product_exists {
        let desired = domain::manual::desired_gallery(&state.claims, &state.manual, false);
        SkuOutcome::Applied(
            desired
                .into_iter()
                .map(|entry| AppliedEntry {
                    remote_id: Some(format!("media-{}", entry.asset_id.uuid())),
                    entry,
                    unknown_store_views: Default::default(),
                })
                .collect(),
        )
    } else {
        SkuOutcome::ProductMissing
    };
    store.complete_sku(work, outcome, now_ms).await.unwrap();
}

/// Claims and applies every due SKU; returns the SKUs, sorted.
async fn apply_all_skus<S: Store>(store: &S, now_ms: i64) -> Vec<Sku> {
    let work = claim_skus(store, now_ms).await;
    for item in &work {
        apply_sku(store, item, now_ms).await;
    }
    skus_of(&work)
}
