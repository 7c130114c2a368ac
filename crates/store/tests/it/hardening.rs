//! Conformance checks of the work that must survive a slow store, a crash or a redelivery: lease renewal,
//! reads paused without counting attempts, product events committed with their effect, configuration changes
//! with the work they start, and product-to-asset calls as durable work.

use domain::events::EventKind;
use domain::{AssetId, ContentId, DesiredLink, MediaType, Role, Sku};
use serde_json::json;
use store::{
    AssetOutcome, ConfigFollowUps, HeldLease, NewEvent, ProductCallOutcome, ProductCallState,
    ProductChange, ProductEventRecorded, Recorded, Store, StoreError, WorkKey,
};
use store::{FullSyncState, SyncStatus};

const T0: i64 = 1_000_000;
const LEASE: i64 = 60_000;
const MANY: i64 = 100;

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

fn product_event(event_id: &str, kind: EventKind, received_ms: i64) -> NewEvent {
    NewEvent {
        event_id: event_id.to_owned(),
        event_type: "com.adobe.commerce.observer.catalog_product_save_after".to_owned(),
        kind,
        asset_id: None,
        received_ms,
        occurred_ms: None,
    }
}

fn link(asset: &AssetId, sku: &Sku) -> DesiredLink {
    DesiredLink {
        asset_id: asset.clone(),
        sku: sku.clone(),
        roles: [Role::parse("image").unwrap()].into_iter().collect(),
        position: Some(1),
        label: None,
        labels: Default::default(),
        hidden_in: Default::default(),
        media_type: MediaType::Image,
        video: None,
        content_id: ContentId(format!("sha1-{}", asset.uuid())),
        modified_ms: 1_700_000_000_000,
    }
}

/// An asset claimed for `sku`, with its SKU work queued (and claimed when `claim_sku`).
async fn claimed_link<S: Store>(store: &S, a: &AssetId, p: &Sku) {
    store
        .record_events(&[changed(&format!("ev-{}", a.uuid()), a, T0)])
        .await
        .unwrap();
    let work = store
        .claim_asset_work(T0, MANY, LEASE)
        .await
        .unwrap()
        .remove(0);
    store
        .complete_asset(
            &work,
            AssetOutcome::Links {
                links: vec![link(a, p)],
                eligible: true,
                warnings: Vec::new(),
                note: None,
            },
            T0,
        )
        .await
        .unwrap();
}

pub async fn a_held_lease_is_renewed_and_a_lost_one_is_not<S: Store>(store: &S) {
    let (a, p) = (asset(1), sku("R-1"));
    store.upsert_product(&p, T0).await.unwrap();
    claimed_link(store, &a, &p).await;
    let mut work = store
        .claim_sku_work(T0, MANY, LEASE)
        .await
        .unwrap()
        .remove(0);
    let held = HeldLease {
        key: WorkKey::Sku(p.clone()),
        lease_until_ms: work.lease_until_ms,
    };
    let renewed_until = T0 + LEASE + 30_000;
    assert_eq!(
        store
            .renew_leases(std::slice::from_ref(&held), renewed_until)
            .await
            .unwrap(),
        vec![true]
    );
    // Renewed: nobody else can claim it after the first lease's end.
    assert!(
        store
            .claim_sku_work(T0 + LEASE + 1, MANY, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    // The old lease value is no longer held: renewing it again is refused.
    assert_eq!(
        store
            .renew_leases(&[held], renewed_until + 1)
            .await
            .unwrap(),
        vec![false]
    );
    // Completion is fenced on the renewed value.
    work.lease_until_ms = renewed_until;
    store
        .complete_sku(
            &work,
            store::SkuOutcome::Applied(Vec::new()),
            T0 + LEASE + 2,
        )
        .await
        .unwrap();

    // An expired lease another worker took is lost.
    store
        .record_events(&[changed("ev-again", &a, T0 + 1)])
        .await
        .unwrap();
    let stale = store
        .claim_asset_work(T0 + LEASE * 3, MANY, LEASE)
        .await
        .unwrap()
        .remove(0);
    let taken = store
        .claim_asset_work(T0 + LEASE * 5, MANY, LEASE)
        .await
        .unwrap()
        .remove(0);
    let renewed = store
        .renew_leases(
            &[
                HeldLease {
                    key: WorkKey::Asset(a.clone()),
                    lease_until_ms: stale.lease_until_ms,
                },
                HeldLease {
                    key: WorkKey::Asset(a.clone()),
                    lease_until_ms: taken.lease_until_ms,
                },
            ],
            T0 + LEASE * 6,
        )
        .await
        .unwrap();
    assert_eq!(renewed, vec![false, true]);
}

pub async fn a_paused_read_counts_no_attempt_and_keeps_the_links<S: Store>(store: &S) {
    let (a, p) = (asset(2), sku("PA-1"));
    store.upsert_product(&p, T0).await.unwrap();
    claimed_link(store, &a, &p).await;
    store
        .record_events(&[changed("ev-2", &a, T0 + 1)])
        .await
        .unwrap();
    for round in 0..3 {
        let work = store
            .claim_asset_work(T0 + 1 + 10 * round, MANY, LEASE)
            .await
            .unwrap()
            .remove(0);
        assert_eq!(work.attempt, 1, "round {round}: no attempt was counted");
        store
            .complete_asset(
                &work,
                AssetOutcome::Paused {
                    error: "paused".into(),
                    retry_at_ms: T0 + 1 + 10 * (round + 1),
                },
                T0 + 1 + 10 * round,
            )
            .await
            .unwrap();
    }
    let status = store.asset_status(&a).await.unwrap().unwrap();
    assert_eq!(status.status, SyncStatus::Failed);
    assert_eq!(store.asset_claims(&a).await.unwrap(), vec![link(&a, &p)]);
}

pub async fn a_product_event_is_committed_with_its_effect<S: Store>(store: &S) {
    let (a, p) = (asset(3), sku("EV-1"));
    claimed_link(store, &a, &p).await;
    // The claim waits for its product (no product yet).
    let saved = product_event("commerce-1", EventKind::ProductSaved, T0 + 1);
    let call = json!({ "value": { "sku": "EV-1" } });
    assert_eq!(
        store
            .record_product_event(&saved, &ProductChange::Saved(p.clone()), Some(&call))
            .await
            .unwrap(),
        ProductEventRecorded::Saved { created: true }
    );
    let status = store.product_status(&p).await.unwrap().unwrap();
    assert!(status.known);
    assert!(
        status.gallery_work.is_some(),
        "its gallery is queued with it"
    );
    assert_eq!(
        status.product_call.map(|(state, _)| state),
        Some(ProductCallState::Queued)
    );
    // A redelivery changes nothing.
    assert_eq!(
        store
            .record_product_event(&saved, &ProductChange::Saved(p.clone()), Some(&call))
            .await
            .unwrap(),
        ProductEventRecorded::Duplicate
    );
    // The event id is known to the other path too.
    assert_eq!(
        store.record_events(&[saved]).await.unwrap(),
        vec![Recorded::Duplicate]
    );
    let gone = product_event("commerce-2", EventKind::ProductDeleted, T0 + 2);
    assert_eq!(
        store
            .record_product_event(&gone, &ProductChange::Deleted(p.clone()), None)
            .await
            .unwrap(),
        ProductEventRecorded::Deleted { removed: true }
    );
    let status = store.product_status(&p).await.unwrap().unwrap();
    assert!(!status.known);
    assert!(status.product_call.is_none(), "its call went with it");
}

pub async fn a_configuration_change_is_committed_with_its_work<S: Store>(store: &S) {
    use domain::config::{IntegrationConfig, UrlPolicy};
    let (a, p) = (asset(4), sku("CF-1"));
    store.upsert_product(&p, T0).await.unwrap();
    claimed_link(store, &a, &p).await;
    let sku_work = store
        .claim_sku_work(T0, MANY, LEASE)
        .await
        .unwrap()
        .remove(0);
    store
        .complete_sku(&sku_work, store::SkuOutcome::Applied(Vec::new()), T0)
        .await
        .unwrap();
    let defaults = IntegrationConfig::defaults("1", "2");
    let (next, changes) = defaults
        .apply_change(
            &json!({ "visualization_owner": "commerce" }),
            &defaults,
            UrlPolicy::HttpsOnly,
        )
        .unwrap();
    let follow_ups = ConfigFollowUps {
        full_sync: Some("what matches changed".into()),
        requeue_galleries: true,
    };
    let id = store
        .save_config_with_follow_ups(&next, &changes, &follow_ups, T0 + 1)
        .await
        .unwrap()
        .expect("a full sync was requested");
    assert_eq!(store.integration_config().await.unwrap(), Some(next));
    assert_eq!(store.config_history(10).await.unwrap().len(), 1);
    assert_eq!(
        store.full_sync(id).await.unwrap().unwrap().state,
        FullSyncState::Waiting
    );
    assert_eq!(
        store.backlog().await.unwrap().bulk_sku_work,
        1,
        "the gallery is queued again"
    );
    let none = store
        .save_config_with_follow_ups(&defaults, &[], &ConfigFollowUps::default(), T0 + 2)
        .await
        .unwrap();
    assert_eq!(none, None);
}

pub async fn product_calls_are_durable_work_retried_and_given_up<S: Store>(store: &S) {
    let (a, p, q) = (asset(5), sku("PC-1"), sku("PC-2"));
    let data = json!({ "source": "api" });
    let created = store
        .add_products(&[p.clone(), q.clone()], Some(&data), T0)
        .await
        .unwrap();
    assert_eq!(created, vec![p.clone(), q.clone()]);
    assert_eq!(
        store
            .add_products(std::slice::from_ref(&p), Some(&data), T0)
            .await
            .unwrap(),
        Vec::<Sku>::new(),
        "a known product queues no call"
    );
    let mut calls = store.claim_product_calls(T0, MANY, LEASE).await.unwrap();
    assert_eq!(calls.len(), 2);
    assert!(
        store
            .claim_product_calls(T0, MANY, LEASE)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    let second = calls.remove(1);
    let first = calls.remove(0);
    assert_eq!((first.sku.clone(), first.attempt), (p.clone(), 1));
    assert_eq!(first.event_data, data);

    // A failure is retried later, and says why meanwhile.
    store
        .complete_product_call(
            &first,
            ProductCallOutcome::Failed {
                error: "product-to-asset: HTTP 503".into(),
                retry_at_ms: Some(T0 + 1_000),
            },
            T0,
        )
        .await
        .unwrap();
    let (state, work) = store
        .product_status(&p)
        .await
        .unwrap()
        .unwrap()
        .product_call
        .unwrap();
    assert_eq!(state, ProductCallState::Queued);
    assert_eq!((work.attempt, work.run_at_ms), (1, T0 + 1_000));
    assert_eq!(
        work.last_error.as_deref(),
        Some("product-to-asset: HTTP 503")
    );
    assert!(
        store
            .claim_product_calls(T0 + 999, MANY, LEASE)
            .await
            .unwrap()
            .is_empty()
    );

    // Given up: kept, shown failed, never claimed again.
    store
        .complete_product_call(
            &second,
            ProductCallOutcome::Failed {
                error: "gave up".into(),
                retry_at_ms: None,
            },
            T0,
        )
        .await
        .unwrap();
    let (state, _) = store
        .product_status(&q)
        .await
        .unwrap()
        .unwrap()
        .product_call
        .unwrap();
    assert_eq!(state, ProductCallState::Failed);

    // A stale claim is fenced; the current one stores its links and the call is done.
    let retried = store
        .claim_product_calls(T0 + 1_000, MANY, LEASE)
        .await
        .unwrap()
        .remove(0);
    assert_eq!((retried.sku.clone(), retried.attempt), (p.clone(), 2));
    let outcome = store
        .complete_product_call(
            &first,
            ProductCallOutcome::Linked(vec![link(&a, &p)]),
            T0 + 1_001,
        )
        .await;
    assert!(matches!(outcome, Err(StoreError::LeaseLost)), "{outcome:?}");
    store
        .complete_product_call(
            &retried,
            ProductCallOutcome::Linked(vec![link(&a, &p)]),
            T0 + 1_002,
        )
        .await
        .unwrap();
    let status = store.product_status(&p).await.unwrap().unwrap();
    assert!(status.product_call.is_none());
    assert_eq!(status.claims, 1);
    assert!(status.gallery_work.is_some(), "its gallery is queued");

    // Released at start-up like other leases.
    store
        .add_products(&[sku("PC-3")], Some(&data), T0)
        .await
        .unwrap();
    store.claim_product_calls(T0, MANY, LEASE).await.unwrap();
    store.release_all_leases().await.unwrap();
    assert_eq!(
        store
            .claim_product_calls(T0, MANY, LEASE)
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn full_sync_products_queue_their_calls_in_the_same_transaction<S: Store>(store: &S) {
    let id = store.request_full_sync("test", T0).await.unwrap();
    let data = json!({ "source": "full_sync" });
    let created = store
        .store_full_sync_products(id, &[sku("FS-1")], Some("2"), Some(&data), T0)
        .await
        .unwrap();
    assert_eq!(created, vec![sku("FS-1")]);
    assert_eq!(
        store
            .full_sync(id)
            .await
            .unwrap()
            .unwrap()
            .cursor
            .as_deref(),
        Some("2")
    );
    let call = store
        .claim_product_calls(T0, MANY, LEASE)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(call.event_data, data);
    assert_eq!(store.product_status(&sku("UNKNOWN")).await.unwrap(), None);
}
