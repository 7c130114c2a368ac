//! Full syncs: one runs and one waits, pages move the cursor, phases, bulk work yields to live work.

use super::*;

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
        .store_full_sync_page(id, &page, Some("cursor-2"), 2, T0 + 10, T0 + 10)
        .await
        .unwrap();
    let sync = store.full_sync(id).await.unwrap().unwrap();
    assert_eq!(
        (sync.cursor.as_deref(), sync.done, sync.total),
        (Some("cursor-2"), 1, 2)
    );
    assert_eq!(backlog(store).await.bulk_sku_work, 1);
    assert_eq!(
        store.bulk_sku_work().await.unwrap(),
        1,
        "the page's SKU is bulk work"
    );

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

/// A page read before a live outcome (an event's re-read, which may have seen newer metadata) never
/// overwrites it: the asset keeps its links and is read again; the page's other assets are stored.
pub async fn a_page_read_before_a_live_outcome_does_not_overwrite_it<S: Store>(store: &S) {
    let (old_sku, new_sku) = (sku("P-OLD"), sku("P-NEW"));
    store
        .upsert_products(&[old_sku.clone(), new_sku.clone()], T0)
        .await
        .unwrap();
    let id = store.request_full_sync("race", T0).await.unwrap();
    store.begin_full_sync(T0).await.unwrap();
    let read_ms = T0 + 1;

    // After the page was read, an event moves the asset to P-NEW and its outcome is stored.
    let moved = asset(1);
    record(store, &[changed("ev-1", &moved, T0 + 2)]).await;
    let work = claim_one_asset(store, T0 + 3).await;
    store
        .complete_asset(
            &work,
            links(vec![link(&moved, &new_sku, &[], None)]),
            T0 + 5,
        )
        .await
        .unwrap();

    // The page, read before, still has it on P-OLD; another asset of the page is new.
    let other = asset(2);
    let page = vec![
        store::BulkAsset::Links {
            asset_id: moved.clone(),
            links: vec![link(&moved, &old_sku, &[], None)],
            eligible: true,
            warnings: Vec::new(),
        },
        store::BulkAsset::Links {
            asset_id: other.clone(),
            links: vec![link(&other, &old_sku, &[], None)],
            eligible: true,
            warnings: Vec::new(),
        },
    ];
    store
        .store_full_sync_page(id, &page, None, 2, read_ms, T0 + 10)
        .await
        .unwrap();

    let claimants = |state: store::SkuState| -> Vec<AssetId> {
        state.claims.iter().map(|c| c.asset_id.clone()).collect()
    };
    assert_eq!(
        claimants(store.sku_state(&old_sku).await.unwrap()),
        vec![other],
        "the page's stale view of the moved asset was not stored"
    );
    assert_eq!(
        claimants(store.sku_state(&new_sku).await.unwrap()),
        vec![moved.clone()]
    );
    let sync = store.full_sync(id).await.unwrap().unwrap();
    assert_eq!(sync.done, 2, "both count as done");
    let reread: Vec<AssetId> = claim_assets(store, T0 + 20)
        .await
        .into_iter()
        .map(|w| w.asset_id)
        .collect();
    assert_eq!(reread, vec![moved], "the moved asset is read again");
}

pub async fn full_sync_phases_reset_the_cursor<S: Store>(store: &S) {
    let id = store.request_full_sync("phases", T0).await.unwrap();
    let running = store.begin_full_sync(T0 + 1).await.unwrap().unwrap();
    assert_eq!((running.id, running.phase), (id, FullSyncPhase::Assets));
    assert_eq!(running.started_ms, Some(T0 + 1));
    store
        .store_full_sync_page(id, &[], Some("asset-page-2"), 0, T0 + 2, T0 + 2)
        .await
        .unwrap();
    assert_eq!(
        store
            .full_sync(id)
            .await
            .unwrap()
            .unwrap()
            .cursor
            .as_deref(),
        Some("asset-page-2")
    );

    store
        .set_full_sync_phase(id, FullSyncPhase::Products)
        .await
        .unwrap();
    let sync = store.full_sync(id).await.unwrap().unwrap();
    assert_eq!(
        (sync.phase, sync.cursor, sync.state),
        (FullSyncPhase::Products, None, FullSyncState::Running)
    );
    let created = store
        .store_full_sync_products(
            id,
            &[sku("FP-1"), sku("FP-2")],
            Some("product-page-2"),
            None,
            T0 + 3,
        )
        .await
        .unwrap();
    assert_eq!(created, vec![sku("FP-1"), sku("FP-2")]);
    assert!(
        store
            .claim_product_calls(T0 + 3, MANY, LEASE)
            .await
            .unwrap()
            .is_empty(),
        "no product-to-asset call without its event data"
    );
    store
        .set_full_sync_phase(id, FullSyncPhase::Applying)
        .await
        .unwrap();

    // A restart resumes the running sync in its phase, from the phase's start.
    let resumed = store.begin_full_sync(T0 + 4).await.unwrap().unwrap();
    assert_eq!(
        (resumed.id, resumed.phase, resumed.cursor, resumed.state),
        (id, FullSyncPhase::Applying, None, FullSyncState::Running)
    );
    store.complete_full_sync(id, None, T0 + 5).await.unwrap();
    let done = store.full_sync(id).await.unwrap().unwrap();
    assert_eq!(
        (done.state, done.phase),
        (FullSyncState::Done, FullSyncPhase::Done)
    );
    assert_eq!(store.full_sync(id + 1_000).await.unwrap(), None);
}
