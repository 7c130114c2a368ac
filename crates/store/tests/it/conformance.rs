//! The conformance checks: what every [`Store`] must do, asserted through the trait only. Each check takes a fresh,
//! empty store; times are fixed Unix milliseconds, so nothing sleeps.

pub use crate::hardening::*;
use crate::harness::Harness;
use domain::events::EventKind;
use domain::gallery::RefusedEntry;
use domain::gallery::compute_gallery;
use domain::{AppliedEntry, AssetId, ContentId, DesiredLink, MediaType, Role, Sku};
use store::prelude::*;
use store::{
    AssetOutcome, AssetStatus, AssetWork, Backlog, NewEvent, Recorded, SkuFailure, SkuOutcome,
    SkuWork, Store,
};
use store::{FullSyncPhase, FullSyncState, SyncStatus};

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
        media_type: MediaType::Image,
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
        SkuOutcome::Applied(gallery_of(&state.claims))
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

// ---------------------------------------------------------------------------------------------------------------
// Events

pub async fn records_events_once<S: Store>(store: &S) {
    let a = asset(1);
    let first = changed("ev-1", &a, T0);
    assert_eq!(
        record(store, std::slice::from_ref(&first)).await,
        vec![Recorded::Stored]
    );
    let after_first = backlog(store).await;
    assert_eq!(after_first.events, 1);
    assert_eq!(after_first.asset_work, 1);
    assert_eq!(after_first.waiting_assets, 1);
    assert_eq!(after_first.unused_events, 0);
    let status_first = status(store, &a).await;

    // The same id again, even delivered later or classified differently, changes nothing.
    let mut again = first.clone();
    again.received_ms = T0 + 5_000;
    assert_eq!(record(store, &[again]).await, vec![Recorded::Duplicate]);
    let mut as_deleted = deleted("ev-1", &a, T0 + 6_000);
    as_deleted.event_type = first.event_type.clone();
    assert_eq!(
        record(store, &[as_deleted]).await,
        vec![Recorded::Duplicate]
    );
    assert_eq!(backlog(store).await, after_first);
    assert_eq!(status(store, &a).await, status_first);

    // The work item is exactly what one event left: due at T0, not deleted, and finished by one read.
    let work = claim_one_asset(store, T0).await;
    assert_eq!(work.asset_id, a);
    assert!(!work.deleted);
    assert_eq!(work.attempt, 1);
    store
        .complete_asset(&work, links(Vec::new()), T0 + 100)
        .await
        .unwrap();
    assert_eq!(backlog(store).await.asset_work, 0);
    assert_eq!(status(store, &a).await.status, SyncStatus::Success);
}

pub async fn batch_outcomes_follow_event_order<S: Store>(store: &S) {
    let (a, b) = (asset(1), asset(2));
    let outcomes = record(
        store,
        &[
            changed("ev-a", &a, T0),
            changed("ev-b", &b, T0),
            changed("ev-a", &a, T0 + 1),
            unused("ev-u", T0),
            changed("ev-b", &b, T0 + 1),
            unused("ev-u", T0 + 1),
        ],
    )
    .await;
    use Recorded::{Duplicate, Stored};
    assert_eq!(
        outcomes,
        vec![Stored, Stored, Duplicate, Stored, Duplicate, Duplicate]
    );
    let counts = backlog(store).await;
    assert_eq!(counts.events, 3);
    assert_eq!(counts.unused_events, 1);
    assert_eq!(counts.asset_work, 2);
    assert_eq!(counts.waiting_assets, 2);
    assert!(record(store, &[]).await.is_empty());
}

pub async fn unused_events_are_counted_and_queue_no_work<S: Store>(store: &S) {
    let a = asset(1);
    let mut with_asset = unused("ev-3", T0);
    with_asset.event_type = "aem.assets.asset.copied".to_owned();
    with_asset.asset_id = Some(a.clone());
    let outcomes = record(
        store,
        &[unused("ev-1", T0), unused("ev-2", T0 + 1), with_asset],
    )
    .await;
    assert_eq!(outcomes, vec![Recorded::Stored; 3]);
    assert_eq!(
        backlog(store).await,
        Backlog {
            asset_work: 0,
            sku_work: 0,
            waiting_assets: 0,
            failed_assets: 0,
            events: 3,
            unused_events: 3,
            bulk_sku_work: 0,
            dead_letters: 0,
            oldest_sku_work_ms: None,
            oldest_waiting_ms: None,
        }
    );
    assert!(claim_assets(store, T0 + LEASE).await.is_empty());
    assert!(claim_skus(store, T0 + LEASE).await.is_empty());
    assert_eq!(store.asset_status(&a).await.unwrap(), None);

    // A duplicate of an unused event is not counted twice.
    assert_eq!(
        record(store, &[unused("ev-1", T0 + 2)]).await,
        vec![Recorded::Duplicate]
    );
    assert_eq!(backlog(store).await.unused_events, 3);
}

pub async fn asset_event_queues_work_and_sets_waiting<S: Store>(store: &S) {
    let a = asset(1);
    record(store, &[changed("ev-1", &a, T0)]).await;
    let st = status(store, &a).await;
    assert_eq!(st.asset_id, a);
    assert_eq!(st.status, SyncStatus::Waiting);
    assert!(st.linked_skus.is_empty());
    assert!(st.waiting_for_products.is_empty());
    assert_eq!(st.last_error, None);
    assert_eq!(st.dispatched_ms, None);
    assert_eq!(st.last_latency_ms, None);
    let counts = backlog(store).await;
    assert_eq!(counts.asset_work, 1);
    assert_eq!(counts.waiting_assets, 1);
    assert_eq!(counts.sku_work, 0);

    let work = claim_one_asset(store, T0).await;
    assert_eq!(work.asset_id, a);
    assert!(!work.deleted);
    assert!(!work.missing_once);
    assert_eq!(work.attempt, 1);
    assert!(work.generation >= 1);
}

pub async fn deleted_event_marks_the_work_deleted<S: Store>(store: &S) {
    let (a, b, c) = (asset(1), asset(2), asset(3));
    record(
        store,
        &[
            changed("ev-1", &a, T0),
            deleted("ev-2", &a, T0 + 1),
            deleted("ev-3", &b, T0),
            changed("ev-4", &c, T0),
        ],
    )
    .await;
    // A later change hint does not undo a deletion that was not read yet.
    record(store, &[changed("ev-5", &b, T0 + 2)]).await;
    let mut work = claim_assets(store, T0 + 10).await;
    work.sort_by(|x, y| x.asset_id.cmp(&y.asset_id));
    let flags: Vec<(AssetId, bool)> = work
        .iter()
        .map(|w| (w.asset_id.clone(), w.deleted))
        .collect();
    assert_eq!(flags, vec![(a, true), (b, true), (c, false)]);
}

pub async fn hints_for_one_asset_coalesce<S: Store>(store: &S) {
    let (a, b) = (asset(1), asset(2));
    record(
        store,
        &[
            changed("ev-1", &a, T0),
            changed("ev-2", &a, T0 + 1),
            changed("ev-3", &b, T0),
        ],
    )
    .await;
    record(store, &[changed("ev-4", &a, T0 + 2)]).await;
    assert_eq!(backlog(store).await.asset_work, 2);
    assert_eq!(backlog(store).await.waiting_assets, 2);

    let work = claim_assets(store, T0 + 10).await;
    let ids = sorted(work.iter().map(|w| w.asset_id.clone()).collect());
    assert_eq!(ids, vec![a.clone(), b.clone()]);

    // One read of `a` answers all three hints.
    let work_a = work.iter().find(|w| w.asset_id == a).unwrap();
    store
        .complete_asset(work_a, links(Vec::new()), T0 + 20)
        .await
        .unwrap();
    assert_eq!(backlog(store).await.asset_work, 1);
    assert_eq!(status(store, &a).await.status, SyncStatus::Success);
    let left: Vec<AssetId> = claim_assets(store, T0 + LEASE + 1_000)
        .await
        .into_iter()
        .map(|w| w.asset_id)
        .collect();
    assert_eq!(left, vec![b]);
}

pub async fn claim_respects_limit<S: Store>(store: &S) {
    let assets = [asset(1), asset(2), asset(3)];
    for (i, a) in assets.iter().enumerate() {
        record(store, &[changed(&format!("ev-{i}"), a, T0)]).await;
    }
    let first = store.claim_asset_work(T0, 2, LEASE).await.unwrap();
    assert_eq!(first.len(), 2);
    let second = store.claim_asset_work(T0, 2, LEASE).await.unwrap();
    assert_eq!(second.len(), 1);
    assert!(
        store
            .claim_asset_work(T0, 2, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    let all = sorted(
        first
            .iter()
            .chain(&second)
            .map(|w| w.asset_id.clone())
            .collect(),
    );
    assert_eq!(all, assets.to_vec());
}

// ---------------------------------------------------------------------------------------------------------------
// Leases

pub async fn claimed_asset_work_is_leased_until_it_expires<S: Store>(store: &S) {
    let a = asset(1);
    record(store, &[changed("ev-1", &a, T0)]).await;
    let first = claim_one_asset(store, T0).await;
    assert_eq!(first.attempt, 1);

    assert!(claim_assets(store, T0).await.is_empty());
    assert!(claim_assets(store, T0 + LEASE - 1).await.is_empty());
    assert_eq!(
        backlog(store).await.asset_work,
        1,
        "leased work stays queued"
    );

    // A worker that died: its lease runs out and another takes the work over.
    let again = claim_one_asset(store, T0 + LEASE + 1).await;
    assert_eq!(again.asset_id, a);
    assert_eq!(again.generation, first.generation);
    assert_eq!(again.attempt, 2);
    assert!(claim_assets(store, T0 + LEASE + 2).await.is_empty());
}

pub async fn release_all_leases_makes_leased_work_claimable<S: Store>(store: &S) {
    let (a, b, p) = (asset(1), asset(2), sku("P-1"));
    assert!(store.upsert_product(&p, T0).await.unwrap());
    record(store, &[changed("ev-1", &a, T0), changed("ev-2", &b, T0)]).await;
    let work = claim_assets(store, T0).await;
    assert_eq!(work.len(), 2);
    let work_a = work.iter().find(|w| w.asset_id == a).unwrap();
    store
        .complete_asset(work_a, links(vec![link(&a, &p, &["image"], Some(1))]), T0)
        .await
        .unwrap();
    assert_eq!(skus_of(&claim_skus(store, T0).await), vec![p.clone()]);

    // Everything is leased now.
    assert!(claim_assets(store, T0).await.is_empty());
    assert!(claim_skus(store, T0).await.is_empty());

    // The restart path: the process that held the leases is gone.
    store.release_all_leases().await.unwrap();
    let again = claim_one_asset(store, T0).await;
    assert_eq!(again.asset_id, b);
    assert_eq!(again.attempt, 2);
    let skus = claim_skus(store, T0).await;
    assert_eq!(skus_of(&skus), vec![p]);
    assert_eq!(skus[0].attempt, 2);
}

// ---------------------------------------------------------------------------------------------------------------
// Completing assets

pub async fn complete_asset_stores_claims_and_queues_changed_skus<S: Store>(store: &S) {
    let (a, p1, p2) = (asset(1), sku("P-1"), sku("P-2"));
    assert_eq!(
        store
            .upsert_products(&[p1.clone(), p2.clone()], T0)
            .await
            .unwrap()
            .len(),
        2
    );
    let l1 = link(&a, &p1, &["image", "thumbnail"], Some(1));
    let l2 = link(&a, &p2, &["image"], None);
    sync_asset(
        store,
        "ev-1",
        &a,
        links(vec![l1.clone(), l2.clone()]),
        T0,
        T0 + 100,
    )
    .await;

    let state = store.sku_state(&p1).await.unwrap();
    assert!(state.product_exists);
    assert_eq!(state.claims, vec![l1.clone()]);
    assert!(state.applied.is_empty());
    assert_eq!(store.sku_state(&p2).await.unwrap().claims, vec![l2.clone()]);
    let counts = backlog(store).await;
    assert_eq!(counts.sku_work, 2);
    assert_eq!(counts.asset_work, 0);
    assert_eq!(counts.waiting_assets, 1);
    let st = status(store, &a).await;
    assert_eq!(st.status, SyncStatus::Waiting, "SKU work is still pending");
    assert!(st.eligible);
    assert_eq!(st.processing_ms, Some(T0 + 100));
    assert!(st.linked_skus.is_empty());

    // Success only once every SKU of the asset is applied.
    let work = claim_skus(store, T0 + 200).await;
    assert_eq!(skus_of(&work), vec![p1.clone(), p2.clone()]);
    apply_sku(store, &work[0], T0 + 300).await;
    let st = status(store, &a).await;
    assert_eq!(st.status, SyncStatus::Waiting);
    assert_eq!(st.linked_skus, vec![p1.clone()]);
    apply_sku(store, &work[1], T0 + 400).await;
    let st = status(store, &a).await;
    assert_eq!(st.status, SyncStatus::Success);
    assert_eq!(sorted(st.linked_skus), vec![p1.clone(), p2.clone()]);
    assert_eq!(st.dispatched_ms, Some(T0 + 400));
    let counts = backlog(store).await;
    assert_eq!((counts.sku_work, counts.waiting_assets), (0, 0));

    // Reading the asset again with the same links queues nothing.
    sync_asset(
        store,
        "ev-2",
        &a,
        links(vec![l1.clone(), l2.clone()]),
        T0 + 1_000,
        T0 + 1_100,
    )
    .await;
    assert_eq!(backlog(store).await.sku_work, 0);
    assert!(claim_skus(store, T0 + 1_200).await.is_empty());
    assert_eq!(status(store, &a).await.status, SyncStatus::Success);

    // A change on one SKU queues that SKU only.
    let l1_moved = link(&a, &p1, &["image", "thumbnail"], Some(5));
    sync_asset(
        store,
        "ev-3",
        &a,
        links(vec![l1_moved.clone(), l2.clone()]),
        T0 + 2_000,
        T0 + 2_100,
    )
    .await;
    assert_eq!(store.sku_state(&p1).await.unwrap().claims, vec![l1_moved]);
    assert_eq!(status(store, &a).await.status, SyncStatus::Waiting);
    assert_eq!(apply_all_skus(store, T0 + 2_200).await, vec![p1.clone()]);
    assert_eq!(status(store, &a).await.status, SyncStatus::Success);
    let gallery = store.gallery(&p1).await.unwrap().unwrap();
    assert_eq!(gallery.len(), 1);
    assert_eq!(gallery[0].entry.position, 5);
}

pub async fn newer_hint_during_lease_keeps_work_queued<S: Store>(store: &S) {
    let (a, p) = (asset(1), sku("P-1"));
    store.upsert_product(&p, T0).await.unwrap();
    let l = link(&a, &p, &["image"], Some(1));
    record(store, &[changed("ev-1", &a, T0)]).await;
    let first = claim_one_asset(store, T0 + 100).await;

    // A newer hint arrives while the asset is being read.
    assert_eq!(
        record(store, &[changed("ev-2", &a, T0 + 200)]).await,
        vec![Recorded::Stored]
    );
    store
        .complete_asset(&first, links(vec![l.clone()]), T0 + 300)
        .await
        .unwrap();

    // The read is stored, but the work stays queued for the newer hint.
    assert_eq!(store.sku_state(&p).await.unwrap().claims, vec![l.clone()]);
    assert_eq!(backlog(store).await.asset_work, 1);
    assert_eq!(status(store, &a).await.status, SyncStatus::Waiting);
    assert_eq!(apply_all_skus(store, T0 + 400).await, vec![p.clone()]);
    assert_eq!(
        status(store, &a).await.status,
        SyncStatus::Waiting,
        "the newer hint is not read yet"
    );

    let second = claim_one_asset(store, T0 + 500).await;
    assert_eq!(second.asset_id, a);
    assert!(second.generation > first.generation);
    store
        .complete_asset(&second, links(vec![l]), T0 + 600)
        .await
        .unwrap();
    let counts = backlog(store).await;
    assert_eq!((counts.asset_work, counts.sku_work), (0, 0));
    let st = status(store, &a).await;
    assert_eq!(st.status, SyncStatus::Success);
    assert_eq!(st.linked_skus, vec![p]);
}

pub async fn empty_links_unlink_the_asset<S: Store>(store: &S) {
    let (a, p) = (asset(1), sku("P-1"));
    store.upsert_product(&p, T0).await.unwrap();
    sync_asset(
        store,
        "ev-1",
        &a,
        links(vec![link(&a, &p, &["image"], Some(1))]),
        T0,
        T0 + 10,
    )
    .await;
    apply_all_skus(store, T0 + 20).await;
    assert_eq!(status(store, &a).await.linked_skus, vec![p.clone()]);
    assert_eq!(store.gallery(&p).await.unwrap().unwrap().len(), 1);

    // The asset leaves every product.
    sync_asset(store, "ev-2", &a, links(Vec::new()), T0 + 1_000, T0 + 1_010).await;
    assert!(store.sku_state(&p).await.unwrap().claims.is_empty());
    assert_eq!(status(store, &a).await.status, SyncStatus::Waiting);
    assert_eq!(apply_all_skus(store, T0 + 1_020).await, vec![p.clone()]);
    assert_eq!(store.gallery(&p).await.unwrap(), Some(Vec::new()));
    let st = status(store, &a).await;
    assert_eq!(st.status, SyncStatus::Success);
    assert!(st.linked_skus.is_empty());
    assert_eq!(store.all_galleries().await.unwrap(), vec![(p, Vec::new())]);
}

pub async fn failed_asset_keeps_claims<S: Store>(store: &S) {
    let (a, p) = (asset(1), sku("P-1"));
    store.upsert_product(&p, T0).await.unwrap();
    let l = link(&a, &p, &["image"], Some(1));
    sync_asset(store, "ev-1", &a, links(vec![l.clone()]), T0, T0 + 10).await;
    apply_all_skus(store, T0 + 20).await;

    record(store, &[changed("ev-2", &a, T0 + 1_000)]).await;
    let work = claim_one_asset(store, T0 + 1_000).await;
    store
        .complete_asset(
            &work,
            AssetOutcome::Failed {
                error: "DAM answered 503".to_owned(),
                retry_at_ms: None,
            },
            T0 + 1_100,
        )
        .await
        .unwrap();

    let st = status(store, &a).await;
    assert_eq!(st.status, SyncStatus::Failed);
    assert_eq!(st.last_error.as_deref(), Some("DAM answered 503"));
    assert_eq!(st.linked_skus, vec![p.clone()]);
    assert_eq!(store.sku_state(&p).await.unwrap().claims, vec![l]);
    assert_eq!(store.gallery(&p).await.unwrap().unwrap().len(), 1);
    let counts = backlog(store).await;
    assert_eq!(counts.failed_assets, 1);
    assert_eq!(counts.waiting_assets, 0);
    assert_eq!((counts.asset_work, counts.sku_work), (0, 0));
}

pub async fn failed_asset_with_retry_is_requeued_at_that_time<S: Store>(store: &S) {
    let a = asset(1);
    let retry_at = T0 + 30_000;
    record(store, &[changed("ev-1", &a, T0)]).await;
    let work = claim_one_asset(store, T0).await;
    store
        .complete_asset(
            &work,
            AssetOutcome::Failed {
                error: "time-out".to_owned(),
                retry_at_ms: Some(retry_at),
            },
            T0 + 10,
        )
        .await
        .unwrap();
    let st = status(store, &a).await;
    assert_eq!(st.status, SyncStatus::Failed);
    assert_eq!(st.last_error.as_deref(), Some("time-out"));
    let counts = backlog(store).await;
    assert_eq!((counts.asset_work, counts.failed_assets), (1, 1));

    assert!(claim_assets(store, retry_at - 1).await.is_empty());
    let again = claim_one_asset(store, retry_at).await;
    assert_eq!(again.asset_id, a);
    assert_eq!(again.generation, work.generation);
    assert_eq!(again.attempt, 2);

    store
        .complete_asset(&again, links(Vec::new()), retry_at + 100)
        .await
        .unwrap();
    let st = status(store, &a).await;
    assert_eq!(st.status, SyncStatus::Success);
    assert_eq!(st.last_error, None);
    let counts = backlog(store).await;
    assert_eq!((counts.asset_work, counts.failed_assets), (0, 0));
}

pub async fn missing_once_flags_the_next_claim<S: Store>(store: &S) {
    let (a, p) = (asset(1), sku("P-1"));
    store.upsert_product(&p, T0).await.unwrap();
    let l = link(&a, &p, &["image"], Some(1));
    sync_asset(store, "ev-1", &a, links(vec![l.clone()]), T0, T0 + 10).await;
    apply_all_skus(store, T0 + 20).await;

    record(store, &[changed("ev-2", &a, T0 + 1_000)]).await;
    let work = claim_one_asset(store, T0 + 1_000).await;
    assert!(!work.missing_once);
    let retry_at = T0 + 61_000;
    store
        .complete_asset(
            &work,
            AssetOutcome::MissingOnce {
                retry_at_ms: retry_at,
            },
            T0 + 1_100,
        )
        .await
        .unwrap();

    // A first 404 unlinks nothing.
    assert_eq!(store.sku_state(&p).await.unwrap().claims, vec![l]);
    assert_eq!(status(store, &a).await.linked_skus, vec![p.clone()]);
    let counts = backlog(store).await;
    assert_eq!((counts.asset_work, counts.sku_work), (1, 0));

    assert!(claim_assets(store, retry_at - 1).await.is_empty());
    let confirm = claim_one_asset(store, retry_at).await;
    assert_eq!(confirm.asset_id, a);
    assert!(confirm.missing_once);

    // The second 404 confirms: the asset leaves its products.
    store
        .complete_asset(&confirm, links(Vec::new()), retry_at + 100)
        .await
        .unwrap();
    assert!(store.sku_state(&p).await.unwrap().claims.is_empty());
    assert_eq!(apply_all_skus(store, retry_at + 200).await, vec![p.clone()]);
    assert!(status(store, &a).await.linked_skus.is_empty());
}

// ---------------------------------------------------------------------------------------------------------------
// SKU work and galleries

pub async fn applied_gallery_is_in_position_order<S: Store>(store: &S) {
    let (a1, a2, a3) = (asset(1), asset(2), asset(3));
    let (p, empty, unknown) = (sku("P-1"), sku("P-EMPTY"), sku("P-UNKNOWN"));
    store
        .upsert_products(&[p.clone(), empty.clone()], T0)
        .await
        .unwrap();
    let claims = vec![
        link(&a1, &p, &["image"], Some(3)),
        link(&a2, &p, &["small_image"], Some(1)),
        link(&a3, &p, &["thumbnail"], None),
    ];
    record(
        store,
        &[
            changed("ev-1", &a1, T0),
            changed("ev-2", &a2, T0),
            changed("ev-3", &a3, T0),
        ],
    )
    .await;
    for work in claim_assets(store, T0).await {
        let mine = claims
            .iter()
            .filter(|l| l.asset_id == work.asset_id)
            .cloned()
            .collect();
        store
            .complete_asset(&work, links(mine), T0 + 10)
            .await
            .unwrap();
    }

    // Three assets on one SKU: one work item.
    let work = claim_skus(store, T0 + 20).await;
    assert_eq!(skus_of(&work), vec![p.clone()]);
    let state = store.sku_state(&p).await.unwrap();
    assert!(state.product_exists);
    assert_eq!(by_asset(state.claims.clone()), by_asset(claims.clone()));
    assert!(state.applied.is_empty());

    let entries = gallery_of(&state.claims);
    let positions: Vec<(AssetId, u32)> = entries
        .iter()
        .map(|e| (e.entry.asset_id.clone(), e.entry.position))
        .collect();
    assert_eq!(
        positions,
        vec![(a2.clone(), 1), (a1.clone(), 3), (a3.clone(), 4)]
    );
    let mut scrambled = entries.clone();
    scrambled.reverse();
    store
        .complete_sku(&work[0], SkuOutcome::Applied(scrambled), T0 + 30)
        .await
        .unwrap();

    assert_eq!(store.gallery(&p).await.unwrap(), Some(entries.clone()));
    assert_eq!(store.sku_state(&p).await.unwrap().applied, entries);
    assert_eq!(store.gallery(&empty).await.unwrap(), Some(Vec::new()));
    assert_eq!(store.gallery(&unknown).await.unwrap(), None);
    let mut all = store.all_galleries().await.unwrap();
    all.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(all, vec![(p.clone(), entries), (empty, Vec::new())]);
    for a in [&a1, &a2, &a3] {
        let st = status(store, a).await;
        assert_eq!(st.status, SyncStatus::Success);
        assert_eq!(st.linked_skus, vec![p.clone()]);
    }
    assert_eq!(backlog(store).await.sku_work, 0);
}

pub async fn product_missing_waits_for_the_product<S: Store>(store: &S) {
    let (a, p) = (asset(1), sku("NEW-1"));
    let l = link(&a, &p, &["image"], Some(1));
    sync_asset(store, "ev-1", &a, links(vec![l.clone()]), T0, T0 + 10).await;

    let work = claim_skus(store, T0 + 100).await;
    assert_eq!(skus_of(&work), vec![p.clone()]);
    let state = store.sku_state(&p).await.unwrap();
    assert!(!state.product_exists);
    assert_eq!(state.claims, vec![l.clone()]);
    store
        .complete_sku(&work[0], SkuOutcome::ProductMissing, T0 + 110)
        .await
        .unwrap();

    let st = status(store, &a).await;
    assert_eq!(st.waiting_for_products, vec![p.clone()]);
    assert!(st.linked_skus.is_empty());
    assert_eq!(backlog(store).await.sku_work, 0);
    assert!(claim_skus(store, T0 + 200).await.is_empty());
    assert_eq!(store.gallery(&p).await.unwrap(), None);

    // The product appears: its gallery is queued without asking the DAM.
    assert!(store.upsert_product(&p, T0 + 5_000).await.unwrap());
    let work = claim_skus(store, T0 + 5_000).await;
    assert_eq!(skus_of(&work), vec![p.clone()]);
    let state = store.sku_state(&p).await.unwrap();
    assert!(state.product_exists);
    assert_eq!(state.claims, vec![l]);
    apply_sku(store, &work[0], T0 + 5_100).await;
    assert_eq!(store.gallery(&p).await.unwrap().unwrap().len(), 1);
    let st = status(store, &a).await;
    assert_eq!(st.status, SyncStatus::Success);
    assert_eq!(st.linked_skus, vec![p.clone()]);
    assert!(st.waiting_for_products.is_empty());

    // Known already: nothing new, but its gallery is queued again (the caller says it exists now; it may
    // have been missing on the commerce platform). The bulk path queues nothing for known products.
    assert!(!store.upsert_product(&p, T0 + 6_000).await.unwrap());
    let work = claim_skus(store, T0 + 6_000).await;
    assert_eq!(skus_of(&work), vec![p.clone()]);
    apply_sku(store, &work[0], T0 + 6_100).await;
    assert!(
        store
            .upsert_products(std::slice::from_ref(&p), T0 + 7_000)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(backlog(store).await.sku_work, 0);
    assert!(claim_skus(store, T0 + 7_000).await.is_empty());
}

pub async fn a_partly_applied_sku_stores_what_was_written_and_fails_the_refused_asset_alone<
    S: Store,
>(
    store: &S,
) {
    let (good, bad, gone, p) = (asset(1), asset(2), asset(3), sku("PART-1"));
    store.upsert_product(&p, T0).await.unwrap();
    for (n, a) in [&good, &bad, &gone].into_iter().enumerate() {
        let position = u32::try_from(n).unwrap() + 1;
        let l = link(a, &p, &[], Some(position));
        sync_asset(store, &format!("ev-{n}"), a, links(vec![l]), T0, T0 + 10).await;
    }
    let work = claim_skus(store, T0 + 100).await;
    let state = store.sku_state(&p).await.unwrap();
    let all = gallery_of(&state.claims);
    let written: Vec<AppliedEntry> = all
        .iter()
        .filter(|e| e.entry.asset_id == good)
        .cloned()
        .collect();
    let refused = all
        .iter()
        .find(|e| e.entry.asset_id == bad)
        .unwrap()
        .entry
        .clone();
    let outcome = SkuOutcome::PartlyApplied {
        entries: written.clone(),
        refused: vec![RefusedEntry {
            entry: refused.clone(),
            message: "HTTP 400: The image content must be valid base64 encoded data.".into(),
        }],
        reread: vec![gone.clone()],
        cleared: Vec::new(),
        failure: Some(SkuFailure {
            error: "the binary is gone".into(),
            retry_at_ms: Some(T0 + 1_000),
        }),
    };
    store
        .complete_sku(&work[0], outcome, T0 + 110)
        .await
        .unwrap();

    assert_eq!(
        store.gallery(&p).await.unwrap().unwrap(),
        written,
        "what was written is stored"
    );
    let st = status(store, &bad).await;
    assert_eq!(st.status, SyncStatus::Failed);
    assert!(st.last_error.unwrap().contains("must be valid base64"));
    assert_eq!(
        store.sku_state(&p).await.unwrap().refused,
        vec![RefusedEntry {
            entry: refused,
            message: "HTTP 400: The image content must be valid base64 encoded data.".into(),
        }]
    );
    let reread = claim_one_asset(store, T0 + 120).await;
    assert_eq!(
        reread.asset_id, gone,
        "the asset whose binary is gone is read again"
    );
    assert!(store.dead_letters().await.unwrap().is_empty());
    assert_eq!(backlog(store).await.sku_work, 1, "the SKU is tried again");

    // The retry writes the rest; the refusal stays, the others succeed, nothing is dead-lettered.
    let work = claim_skus(store, T0 + 1_000).await;
    let rest: Vec<AppliedEntry> = all
        .iter()
        .filter(|e| e.entry.asset_id != bad)
        .cloned()
        .collect();
    store
        .complete_sku(&work[0], SkuOutcome::Applied(rest), T0 + 1_010)
        .await
        .unwrap();
    assert_eq!(status(store, &good).await.status, SyncStatus::Success);
    assert_eq!(status(store, &bad).await.status, SyncStatus::Failed);
    assert_eq!(store.sku_state(&p).await.unwrap().refused.len(), 1);

    // Once what it asks for changed and was written, the refusal is forgotten and the asset settles.
    let work = {
        store.upsert_product(&p, T0 + 2_000).await.unwrap();
        claim_skus(store, T0 + 2_000).await
    };
    let outcome = SkuOutcome::PartlyApplied {
        entries: all.clone(),
        refused: Vec::new(),
        reread: Vec::new(),
        cleared: vec![bad.clone()],
        failure: None,
    };
    store
        .complete_sku(&work[0], outcome, T0 + 2_010)
        .await
        .unwrap();
    assert!(store.sku_state(&p).await.unwrap().refused.is_empty());
    assert_eq!(status(store, &bad).await.status, SyncStatus::Success);
}

pub async fn added_links_join_the_claims_and_keep_the_asset_waiting<S: Store>(store: &S) {
    let (a, own, added) = (asset(1), sku("OWN"), sku("ADDED"));
    store
        .upsert_products(&[own.clone(), added.clone()], T0)
        .await
        .unwrap();
    let mine = link(&a, &own, &["image"], Some(1));
    sync_asset(store, "ev-1", &a, links(vec![mine.clone()]), T0, T0 + 10).await;
    apply_all_skus(store, T0 + 20).await;
    assert_eq!(status(store, &a).await.status, SyncStatus::Success);

    let extra = link(&a, &added, &["thumbnail"], Some(2));
    store
        .add_links(std::slice::from_ref(&extra), T0 + 30)
        .await
        .unwrap();
    // The asset's own claim stays; the added one joins it and is queued.
    assert_eq!(
        store.sku_state(&own).await.unwrap().claims,
        vec![mine.clone()]
    );
    assert_eq!(
        store.sku_state(&added).await.unwrap().claims,
        vec![extra.clone()]
    );
    assert_eq!(
        store.asset_claims(&a).await.unwrap(),
        vec![extra, mine.clone()]
    );
    assert_eq!(status(store, &a).await.status, SyncStatus::Waiting);
    assert_eq!(apply_all_skus(store, T0 + 40).await, vec![added.clone()]);
    let st = status(store, &a).await;
    assert_eq!(st.status, SyncStatus::Success);
    assert_eq!(st.linked_skus, vec![added, own]);
}

pub async fn upsert_products_counts_new_products<S: Store>(store: &S) {
    let (w, x, y, z) = (sku("W"), sku("X"), sku("Y"), sku("Z"));
    assert_eq!(
        store
            .upsert_products(&[x.clone(), y.clone()], T0)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store
            .upsert_products(&[y.clone(), z.clone()], T0)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.upsert_products(&[], T0).await.unwrap().len(), 0);
    assert!(!store.upsert_product(&x, T0).await.unwrap());
    assert!(store.upsert_product(&w, T0).await.unwrap());
    // No asset claims them: no gallery work.
    assert_eq!(backlog(store).await.sku_work, 0);
    assert!(claim_skus(store, T0).await.is_empty());
    let mut all = store.all_galleries().await.unwrap();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        all,
        vec![
            (w, Vec::new()),
            (x.clone(), Vec::new()),
            (y, Vec::new()),
            (z, Vec::new())
        ]
    );
    assert_eq!(store.gallery(&x).await.unwrap(), Some(Vec::new()));
    let state = store.sku_state(&x).await.unwrap();
    assert!(state.product_exists && state.claims.is_empty() && state.applied.is_empty());
}

pub async fn failed_sku_with_retry_then_applied<S: Store>(store: &S) {
    let (a, p) = (asset(1), sku("P-1"));
    store.upsert_product(&p, T0).await.unwrap();
    sync_asset(
        store,
        "ev-1",
        &a,
        links(vec![link(&a, &p, &["image"], Some(1))]),
        T0,
        T0 + 10,
    )
    .await;
    let work = claim_skus(store, T0 + 100).await;
    assert_eq!(work.len(), 1);
    assert_eq!(work[0].attempt, 1);
    let retry_at = T0 + 60_000;
    store
        .complete_sku(
            &work[0],
            SkuOutcome::Failed {
                error: "commerce answered 503".to_owned(),
                retry_at_ms: Some(retry_at),
            },
            T0 + 200,
        )
        .await
        .unwrap();

    let st = status(store, &a).await;
    assert_eq!(st.status, SyncStatus::Failed);
    assert_eq!(st.last_error.as_deref(), Some("commerce answered 503"));
    assert!(st.linked_skus.is_empty());
    let counts = backlog(store).await;
    assert_eq!((counts.failed_assets, counts.sku_work), (1, 1));

    assert!(claim_skus(store, retry_at - 1).await.is_empty());
    let again = claim_skus(store, retry_at).await;
    assert_eq!(skus_of(&again), vec![p.clone()]);
    assert_eq!(again[0].attempt, 2);
    assert_eq!(again[0].generation, work[0].generation);
    apply_sku(store, &again[0], retry_at + 100).await;

    let st = status(store, &a).await;
    assert_eq!(st.status, SyncStatus::Success);
    assert_eq!(st.last_error, None);
    assert_eq!(st.linked_skus, vec![p]);
    let counts = backlog(store).await;
    assert_eq!((counts.failed_assets, counts.sku_work), (0, 0));
}

pub async fn permanent_sku_failure_is_not_cleared_by_another_sku<S: Store>(store: &S) {
    let (a, p1, p2) = (asset(1), sku("P-1"), sku("P-2"));
    store
        .upsert_products(&[p1.clone(), p2.clone()], T0)
        .await
        .unwrap();
    let (l1, l2) = (
        link(&a, &p1, &["image"], Some(1)),
        link(&a, &p2, &["image"], Some(1)),
    );
    sync_asset(
        store,
        "ev-1",
        &a,
        links(vec![l1.clone(), l2.clone()]),
        T0,
        T0 + 10,
    )
    .await;
    let work = claim_skus(store, T0 + 100).await;
    assert_eq!(skus_of(&work), vec![p1.clone(), p2.clone()]);

    // The commerce side rejects P-1 for good (a 400): the asset is Failed and P-1 is given up.
    store
        .complete_sku(
            &work[0],
            SkuOutcome::Failed {
                error: "commerce rejected P-1".to_owned(),
                retry_at_ms: None,
            },
            T0 + 200,
        )
        .await
        .unwrap();
    let st = status(store, &a).await;
    assert_eq!(st.status, SyncStatus::Failed);
    assert_eq!(st.last_error.as_deref(), Some("commerce rejected P-1"));
    assert_eq!(
        backlog(store).await.sku_work,
        1,
        "P-1 is given up, P-2 is still due"
    );

    // P-2 failing for a while and then succeeding does not hide the permanent failure on P-1.
    store
        .complete_sku(
            &work[1],
            SkuOutcome::Failed {
                error: "commerce answered 503".to_owned(),
                retry_at_ms: Some(T0 + 250),
            },
            T0 + 210,
        )
        .await
        .unwrap();
    assert_eq!(status(store, &a).await.status, SyncStatus::Failed);
    let retried = claim_skus(store, T0 + 250).await;
    assert_eq!(skus_of(&retried), vec![p2.clone()]);
    apply_sku(store, &retried[0], T0 + 300).await;
    let st = status(store, &a).await;
    assert_eq!(st.status, SyncStatus::Failed);
    assert_eq!(st.last_error.as_deref(), Some("commerce rejected P-1"));
    assert_eq!(st.linked_skus, vec![p2.clone()]);
    assert_eq!(backlog(store).await.sku_work, 0);

    // A new read of the asset with changed links starts over: P-1 is written again and the asset settles.
    let l1_moved = link(&a, &p1, &["image"], Some(2));
    sync_asset(
        store,
        "ev-2",
        &a,
        links(vec![l1_moved, l2]),
        T0 + 1_000,
        T0 + 1_010,
    )
    .await;
    assert_eq!(status(store, &a).await.status, SyncStatus::Waiting);
    assert_eq!(apply_all_skus(store, T0 + 1_100).await, vec![p1.clone()]);
    let st = status(store, &a).await;
    assert_eq!(st.status, SyncStatus::Success);
    assert_eq!(st.last_error, None);
    assert_eq!(sorted(st.linked_skus), vec![p1, p2]);
}

pub async fn sku_change_during_lease_requeues_the_sku<S: Store>(store: &S) {
    let (a, b, p) = (asset(1), asset(2), sku("P-1"));
    store.upsert_product(&p, T0).await.unwrap();
    sync_asset(
        store,
        "ev-1",
        &a,
        links(vec![link(&a, &p, &["image"], Some(1))]),
        T0,
        T0 + 10,
    )
    .await;
    let first = claim_skus(store, T0 + 100).await;
    assert_eq!(first.len(), 1);
    let stale = store.sku_state(&p).await.unwrap();

    // Another asset joins the SKU while its gallery is being written from the older state.
    sync_asset(
        store,
        "ev-2",
        &b,
        links(vec![link(&b, &p, &["thumbnail"], Some(2))]),
        T0 + 200,
        T0 + 210,
    )
    .await;
    store
        .complete_sku(
            &first[0],
            SkuOutcome::Applied(gallery_of(&stale.claims)),
            T0 + 300,
        )
        .await
        .unwrap();
    assert_eq!(status(store, &a).await.status, SyncStatus::Success);
    assert_eq!(status(store, &b).await.status, SyncStatus::Waiting);
    assert_eq!(backlog(store).await.sku_work, 1);

    let second = claim_skus(store, T0 + 400).await;
    assert_eq!(skus_of(&second), vec![p.clone()]);
    assert!(second[0].generation > first[0].generation);
    apply_sku(store, &second[0], T0 + 500).await;
    let ids: Vec<AssetId> = store
        .gallery(&p)
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|e| e.entry.asset_id)
        .collect();
    assert_eq!(ids, vec![a, b.clone()]);
    let st = status(store, &b).await;
    assert_eq!(st.status, SyncStatus::Success);
    assert_eq!(st.linked_skus, vec![p]);
    assert_eq!(backlog(store).await.sku_work, 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Status and latencies

pub async fn asset_status_of_unknown_asset_is_none<S: Store>(store: &S) {
    assert_eq!(store.asset_status(&asset(99)).await.unwrap(), None);
    let (a, p) = (asset(1), sku("P-1"));
    store.upsert_product(&p, T0).await.unwrap();
    sync_asset(
        store,
        "ev-1",
        &a,
        links(vec![link(&a, &p, &["image"], None)]),
        T0,
        T0 + 10,
    )
    .await;
    apply_all_skus(store, T0 + 20).await;
    assert_eq!(status(store, &a).await.linked_skus, vec![p]);
    assert_eq!(store.asset_status(&asset(99)).await.unwrap(), None);
}

pub async fn sync_latencies_measure_event_to_applied<S: Store>(store: &S) {
    let (a, b, c, d, p) = (asset(1), asset(2), asset(3), asset(4), sku("P-1"));
    store.upsert_product(&p, T0).await.unwrap();
    assert!(store.sync_latencies().await.unwrap().is_empty());
    let l = link(&a, &p, &["image"], Some(1));

    // a: event at T0, read at +1s..+2s, gallery written at +4s.
    record(store, &[changed("ev-a1", &a, T0)]).await;
    let work = claim_one_asset(store, T0 + 1_000).await;
    store
        .complete_asset(&work, links(vec![l.clone()]), T0 + 2_000)
        .await
        .unwrap();
    let sku_work = claim_skus(store, T0 + 3_000).await;
    apply_sku(store, &sku_work[0], T0 + 4_000).await;
    let st = status(store, &a).await;
    assert_eq!(st.dispatched_ms, Some(T0 + 4_000));
    assert_eq!(st.last_latency_ms, Some(4_000));

    // b: no links; settled when read.
    sync_asset(
        store,
        "ev-b1",
        &b,
        links(Vec::new()),
        T0 + 10_000,
        T0 + 12_500,
    )
    .await;
    assert_eq!(status(store, &b).await.last_latency_ms, Some(2_500));

    // c: a second hint during the read; measured from the first unsynced event.
    record(store, &[changed("ev-c1", &c, T0 + 20_000)]).await;
    let first = claim_one_asset(store, T0 + 20_500).await;
    record(store, &[changed("ev-c2", &c, T0 + 21_000)]).await;
    store
        .complete_asset(&first, links(Vec::new()), T0 + 22_000)
        .await
        .unwrap();
    assert_eq!(status(store, &c).await.last_latency_ms, None);
    let second = claim_one_asset(store, T0 + 22_000).await;
    store
        .complete_asset(&second, links(Vec::new()), T0 + 25_000)
        .await
        .unwrap();
    assert_eq!(status(store, &c).await.last_latency_ms, Some(5_000));

    assert_eq!(
        sorted(store.sync_latencies().await.unwrap()),
        vec![2_500, 4_000, 5_000]
    );

    // a again: only its last sync counts.
    sync_asset(
        store,
        "ev-a2",
        &a,
        links(vec![l]),
        T0 + 100_000,
        T0 + 100_300,
    )
    .await;
    assert_eq!(status(store, &a).await.last_latency_ms, Some(300));
    assert_eq!(
        sorted(store.sync_latencies().await.unwrap()),
        vec![300, 2_500, 5_000]
    );

    // d: not settled, so no latency.
    record(store, &[changed("ev-d1", &d, T0 + 200_000)]).await;
    assert_eq!(
        sorted(store.sync_latencies().await.unwrap()),
        vec![300, 2_500, 5_000]
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Durability

pub async fn state_survives_reopening<H: Harness>() {
    let (a, b, p, q) = (asset(1), asset(2), sku("P-1"), sku("P-2"));
    let l = link(&a, &p, &["image"], Some(1));
    let harness = H::fresh().await;
    let before = {
        let store = harness.store();
        store
            .upsert_products(&[p.clone(), q.clone()], T0)
            .await
            .unwrap();
        sync_asset(store, "ev-1", &a, links(vec![l.clone()]), T0, T0 + 10).await;
        apply_all_skus(store, T0 + 20).await;
        record(store, &[unused("ev-u", T0 + 30)]).await;
        record(store, &[changed("ev-2", &b, T0 + 40)]).await;
        // b is being read when the process stops.
        assert_eq!(claim_one_asset(store, T0 + 50).await.asset_id, b);
        let mut all = store.all_galleries().await.unwrap();
        all.sort_by(|x, y| x.0.cmp(&y.0));
        (
            all,
            status(store, &a).await,
            status(store, &b).await,
            backlog(store).await,
            store.sync_latencies().await.unwrap(),
        )
    };
    assert_eq!(before.0.len(), 2);
    assert_eq!(before.1.status, SyncStatus::Success);

    let harness = harness.reopen().await;
    let store = harness.store();
    let mut all = store.all_galleries().await.unwrap();
    all.sort_by(|x, y| x.0.cmp(&y.0));
    let after = (
        all,
        status(store, &a).await,
        status(store, &b).await,
        backlog(store).await,
        store.sync_latencies().await.unwrap(),
    );
    assert_eq!(after, before);
    let state = store.sku_state(&p).await.unwrap();
    assert_eq!(state.claims, vec![l]);
    assert_eq!(state.applied, before.0[0].1);

    // Event ids are still known.
    assert_eq!(
        record(store, &[changed("ev-1", &a, T0 + 60)]).await,
        vec![Recorded::Duplicate]
    );
    // The lease survived too, until the restart path releases it.
    assert!(claim_assets(store, T0 + 60).await.is_empty());
    store.release_all_leases().await.unwrap();
    let work = claim_one_asset(store, T0 + 60).await;
    assert_eq!(work.asset_id, b);
    assert_eq!(work.attempt, 2);
}

// ---------------------------------------------------------------------------------------------------------------
// Fencing: a worker whose lease ran out writes nothing

pub async fn a_stale_asset_claim_writes_nothing<S: Store>(store: &S) {
    let (a, p) = (asset(1), sku("P-1"));
    record(store, &[changed("ev-1", &a, T0)]).await;
    let stale = claim_one_asset(store, T0).await;
    let current = claim_one_asset(store, T0 + LEASE + 1).await;

    let outcome = store
        .complete_asset(
            &stale,
            links(vec![link(&a, &p, &["image"], Some(1))]),
            T0 + LEASE + 2,
        )
        .await;
    assert!(
        matches!(outcome, Err(store::StoreError::LeaseLost)),
        "the stale worker is fenced off: {outcome:?}"
    );
    assert!(
        claim_skus(store, T0 + LEASE + 3).await.is_empty(),
        "nothing was queued"
    );
    assert_eq!(status(store, &a).await.status, SyncStatus::Waiting);

    store
        .complete_asset(
            &current,
            links(vec![link(&a, &p, &["image"], Some(1))]),
            T0 + LEASE + 4,
        )
        .await
        .unwrap();
    assert_eq!(skus_of(&claim_skus(store, T0 + LEASE + 5).await), vec![p]);
}

pub async fn a_stale_sku_claim_writes_nothing<S: Store>(store: &S) {
    let (a, p) = (asset(1), sku("P-1"));
    store.upsert_product(&p, T0).await.unwrap();
    record(store, &[changed("ev-1", &a, T0)]).await;
    let work = claim_one_asset(store, T0).await;
    let wanted = link(&a, &p, &["image"], Some(1));
    store
        .complete_asset(&work, links(vec![wanted.clone()]), T0)
        .await
        .unwrap();
    let stale = claim_skus(store, T0).await.remove(0);
    let current = claim_skus(store, T0 + LEASE + 1).await.remove(0);

    let entries: Vec<AppliedEntry> = compute_gallery(&[wanted])
        .into_iter()
        .map(|entry| AppliedEntry {
            entry,
            remote_id: None,
        })
        .collect();
    let outcome = store
        .complete_sku(&stale, SkuOutcome::Applied(entries.clone()), T0 + LEASE + 2)
        .await;
    assert!(
        matches!(outcome, Err(store::StoreError::LeaseLost)),
        "the stale worker is fenced off: {outcome:?}"
    );
    assert_eq!(
        store.gallery(&p).await.unwrap(),
        Some(Vec::new()),
        "nothing was written"
    );

    store
        .complete_sku(
            &current,
            SkuOutcome::Applied(entries.clone()),
            T0 + LEASE + 3,
        )
        .await
        .unwrap();
    assert_eq!(store.gallery(&p).await.unwrap(), Some(entries));
    assert_eq!(status(store, &a).await.status, SyncStatus::Success);
}

// ---------------------------------------------------------------------------------------------------------------
// Configuration and full syncs

pub async fn the_configuration_and_its_history_are_kept<S: Store>(store: &S) {
    use domain::config::IntegrationConfig;
    assert_eq!(store.integration_config().await.unwrap(), None);
    let defaults = IntegrationConfig::defaults("1", "2");
    let (changed, changes) = defaults
        .apply_change(
            &serde_json::json!({ "sync_enabled": false }),
            &defaults,
            domain::config::UrlPolicy::HttpsOnly,
        )
        .unwrap();
    store
        .save_integration_config(&changed, &changes, T0)
        .await
        .unwrap();
    store
        .save_integration_config(&changed, &[], T0 + 1)
        .await
        .unwrap();
    assert_eq!(store.integration_config().await.unwrap(), Some(changed));
    let history = store.config_history(10).await.unwrap();
    assert_eq!(
        history.len(),
        1,
        "a save that changes nothing adds no history"
    );
    assert_eq!(history[0].at_ms, T0);
    assert_eq!(history[0].changes, changes);
}

pub async fn one_full_sync_runs_and_one_waits<S: Store>(store: &S) {
    let first = store.request_full_sync("first", T0).await.unwrap();
    assert_eq!(
        store.request_full_sync("again", T0).await.unwrap(),
        first,
        "the waiting one is joined"
    );
    let running = store.begin_full_sync(T0 + 1).await.unwrap().unwrap();
    assert_eq!(
        (running.id, running.state, running.phase),
        (first, FullSyncState::Running, FullSyncPhase::Assets)
    );
    let second = store
        .request_full_sync("while running", T0 + 2)
        .await
        .unwrap();
    assert_ne!(second, first);
    assert_eq!(
        store.request_full_sync("and again", T0 + 3).await.unwrap(),
        second
    );
    assert_eq!(
        store.begin_full_sync(T0 + 4).await.unwrap().unwrap().id,
        first,
        "the running one resumes first"
    );
    store.complete_full_sync(first, None, T0 + 5).await.unwrap();
    let done = store.full_sync(first).await.unwrap().unwrap();
    assert_eq!(
        (done.state, done.finished_ms),
        (FullSyncState::Done, Some(T0 + 5))
    );
    assert_eq!(
        store.begin_full_sync(T0 + 6).await.unwrap().unwrap().id,
        second
    );
    store
        .complete_full_sync(second, Some("AEM search: down"), T0 + 7)
        .await
        .unwrap();
    let failed = store.full_sync(second).await.unwrap().unwrap();
    assert_eq!(
        (failed.state.as_str(), failed.last_error.as_deref()),
        ("failed", Some("AEM search: down"))
    );
    assert_eq!(store.begin_full_sync(T0 + 8).await.unwrap(), None);
}

pub async fn full_sync_pages_move_the_cursor_and_yield_to_live_work<S: Store>(store: &S) {
    let (bulk_sku, live_sku) = (sku("P-BULK"), sku("P-LIVE"));
    store
        .upsert_products(&[bulk_sku.clone(), live_sku.clone()], T0)
        .await
        .unwrap();
    let stale = asset(9);
    record(store, &[changed("ev-9", &stale, T0)]).await;
    let work = claim_one_asset(store, T0).await;
    store
        .complete_asset(&work, links(vec![link(&stale, &bulk_sku, &[], None)]), T0)
        .await
        .unwrap();
    for work in claim_skus(store, T0).await {
        store
            .complete_sku(&work, SkuOutcome::ProductMissing, T0)
            .await
            .unwrap();
    }

    let id = store.request_full_sync("test", T0).await.unwrap();
    store.begin_full_sync(T0).await.unwrap();
    let bulk_asset = asset(1);
    let page = vec![store::BulkAsset::Links {
        asset_id: bulk_asset.clone(),
        links: vec![link(&bulk_asset, &bulk_sku, &["image"], Some(1))],
        eligible: true,
        warnings: Vec::new(),
    }];
    store
        .store_full_sync_page(id, &page, Some("cursor-2"), 2, T0 + 10)
        .await
        .unwrap();
    let sync = store.full_sync(id).await.unwrap().unwrap();
    assert_eq!(
        (sync.cursor.as_deref(), sync.done, sync.total),
        (Some("cursor-2"), 1, 2)
    );
    assert_eq!(backlog(store).await.bulk_sku_work, 1);

    // Live work queued later still goes first.
    let live_asset = asset(2);
    record(store, &[changed("ev-2", &live_asset, T0 + 20)]).await;
    let work = claim_one_asset(store, T0 + 20).await;
    store
        .complete_asset(
            &work,
            links(vec![link(&live_asset, &live_sku, &["image"], Some(1))]),
            T0 + 20,
        )
        .await
        .unwrap();
    let first = store.claim_sku_work(T0 + 30, 1, LEASE).await.unwrap();
    assert_eq!(
        skus_of(&first),
        vec![live_sku],
        "live work before bulk work"
    );

    // Assets with links that the DAM did not list are read again; the one it listed is not.
    assert_eq!(store.finish_full_sync_assets(id, T0 + 40).await.unwrap(), 2);
    let mut reread: Vec<AssetId> = claim_assets(store, T0 + 40)
        .await
        .into_iter()
        .map(|w| w.asset_id)
        .collect();
    reread.sort();
    assert_eq!(reread, vec![live_asset, stale]);
    assert_eq!(
        store.full_sync(id).await.unwrap().unwrap().phase,
        FullSyncPhase::Products
    );
}

pub async fn pruning_keeps_what_is_recent_or_still_needed<S: Store>(store: &S) {
    let (linked, gone) = (asset(1), asset(2));
    let p = sku("P-1");
    store.upsert_product(&p, T0).await.unwrap();
    record(
        store,
        &[changed("old-1", &linked, T0), changed("old-2", &gone, T0)],
    )
    .await;
    for work in claim_assets(store, T0).await {
        let outcome = if work.asset_id == linked {
            links(vec![link(&linked, &p, &[], Some(1))])
        } else {
            links(Vec::new())
        };
        store.complete_asset(&work, outcome, T0).await.unwrap();
    }
    for work in claim_skus(store, T0).await {
        let state = store.sku_state(&work.sku).await.unwrap();
        let entries = compute_gallery(&state.claims)
            .into_iter()
            .map(|entry| AppliedEntry {
                entry,
                remote_id: None,
            })
            .collect();
        store
            .complete_sku(&work, SkuOutcome::Applied(entries), T0)
            .await
            .unwrap();
    }
    let sync = store.request_full_sync("old", T0).await.unwrap();
    store.begin_full_sync(T0).await.unwrap();
    store.complete_full_sync(sync, None, T0).await.unwrap();
    record(store, &[changed("recent", &linked, T0 + 10_000)]).await;

    let removed = store.prune(T0 + 5_000).await.unwrap();
    assert_eq!(
        removed, 4,
        "two old events, one finished sync, the status of the asset that left every product"
    );
    assert_eq!(
        record(store, &[changed("recent", &linked, T0 + 20_000)]).await,
        vec![Recorded::Duplicate]
    );
    assert!(
        store.asset_status(&linked).await.unwrap().is_some(),
        "a linked asset keeps its status"
    );
    assert_eq!(store.asset_status(&gone).await.unwrap(), None);
    assert_eq!(store.full_sync(sync).await.unwrap(), None);
    assert!(store.database_bytes().await.unwrap() > 0);
}
