//! Completing asset work: claims stored, SKUs queued, failures and retries, statuses, the anti-entropy slice.

use super::*;

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

pub async fn every_claim_is_listed_by_asset_and_sku<S: Store>(store: &S) {
    assert!(store.all_claims().await.unwrap().is_empty());
    let (a, b, p, q) = (asset(1), asset(2), sku("P-1"), sku("P-2"));
    let (a_q, a_p, b_p) = (
        link(&a, &q, &["image"], Some(2)),
        link(&a, &p, &["thumbnail"], Some(1)),
        link(&b, &p, &["image"], None),
    );
    sync_asset(
        store,
        "ev-a",
        &a,
        links(vec![a_q.clone(), a_p.clone()]),
        T0,
        T0,
    )
    .await;
    sync_asset(store, "ev-b", &b, links(vec![b_p.clone()]), T0, T0).await;
    assert_eq!(
        store.asset_claims(&a).await.unwrap(),
        vec![a_p.clone(), a_q.clone()],
        "by SKU"
    );
    assert_eq!(store.asset_claims(&b).await.unwrap(), vec![b_p.clone()]);
    assert!(store.asset_claims(&asset(99)).await.unwrap().is_empty());
    let key = |l: &DesiredLink| (l.asset_id.clone(), l.sku.clone());
    let mut all = store.all_claims().await.unwrap();
    all.sort_by_key(key);
    assert_eq!(all, vec![a_p, a_q.clone(), b_p]);

    // A read that leaves a product drops that claim only; one that leaves every product drops them all.
    sync_asset(
        store,
        "ev-a2",
        &a,
        links(vec![a_q.clone()]),
        T0 + 10,
        T0 + 10,
    )
    .await;
    sync_asset(store, "ev-b2", &b, links(Vec::new()), T0 + 10, T0 + 10).await;
    assert_eq!(store.all_claims().await.unwrap(), vec![a_q]);
}

pub async fn the_stalest_assets_are_read_again<S: Store>(store: &S) {
    assert_eq!(store.requeue_stalest_assets(10, T0).await.unwrap(), 0);
    let (a, b, c, d) = (asset(1), asset(2), asset(3), asset(4));
    // Read at +30, +10 and +20; `d` is hinted and not read yet.
    for (event, id, read_ms) in [("ev-a", &a, 30), ("ev-b", &b, 10), ("ev-c", &c, 20)] {
        sync_asset(store, event, id, links(Vec::new()), T0, T0 + read_ms).await;
    }
    record(store, &[changed("ev-d", &d, T0 + 40)]).await;
    assert_eq!(backlog(store).await.asset_work, 1);

    // The two read longest ago are queued; the one with work queued already is not queued twice.
    assert_eq!(store.requeue_stalest_assets(2, T0 + 100).await.unwrap(), 2);
    assert_eq!(backlog(store).await.asset_work, 3);
    let work = claim_assets(store, T0 + 100).await;
    let ids = sorted(work.iter().map(|w| w.asset_id.clone()).collect());
    assert_eq!(ids, vec![b.clone(), c.clone(), d.clone()]);
    let requeued = work.iter().find(|w| w.asset_id == b).unwrap();
    assert!(!requeued.deleted && !requeued.missing_once);
    assert_eq!(requeued.attempt, 1);

    // Only `a` has no work queued now.
    assert_eq!(store.requeue_stalest_assets(10, T0 + 200).await.unwrap(), 1);
    assert_eq!(backlog(store).await.asset_work, 4);
    for item in work {
        store
            .complete_asset(&item, links(Vec::new()), T0 + 300)
            .await
            .unwrap();
    }
    assert_eq!(
        claim_one_asset(store, T0 + 300).await.asset_id,
        a,
        "what is left is `a`"
    );
    assert_eq!(store.requeue_stalest_assets(0, T0 + 400).await.unwrap(), 0);
}
