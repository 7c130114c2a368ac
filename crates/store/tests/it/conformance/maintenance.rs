//! Latencies, durability across a reopening, retention, size, dead letters.

use super::*;

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

pub async fn state_survives_reopening<H: Harness>(harness: H) {
    let (a, b, p, q) = (asset(1), asset(2), sku("P-1"), sku("P-2"));
    let l = link(&a, &p, &["image"], Some(1));
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
                unknown_store_views: Default::default(),
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

pub async fn the_database_size_grows_with_what_it_holds<S: Store>(store: &S) {
    let empty = store.database_bytes().await.unwrap();
    assert!(empty > 0, "{empty}");
    let events: Vec<NewEvent> = (0..2_000)
        .map(|n| changed(&format!("ev-{n}"), &asset(n), T0))
        .collect();
    assert_eq!(record(store, &events).await.len(), 2_000);
    let full = store.database_bytes().await.unwrap();
    assert!(
        full > empty + 100_000,
        "2,000 events and their work fit in {full} bytes, {empty} empty"
    );
}

pub async fn dead_letters_are_replayed_one_or_all<S: Store>(store: &S) {
    let (a, b, p, q) = (asset(1), asset(2), sku("P-1"), sku("P-2"));
    store
        .upsert_products(&[p.clone(), q.clone()], T0)
        .await
        .unwrap();
    sync_asset(
        store,
        "ev-a",
        &a,
        links(vec![link(&a, &p, &[], Some(1))]),
        T0,
        T0,
    )
    .await;
    sync_asset(
        store,
        "ev-b",
        &b,
        links(vec![link(&b, &q, &[], Some(1))]),
        T0,
        T0,
    )
    .await;
    assert_eq!(store.replay_dead_letters(None, T0).await.unwrap(), 0);

    // Both galleries are given up after a failure each.
    for (n, work) in claim_skus(store, T0 + 10).await.iter().enumerate() {
        let give_up = SkuOutcome::Failed {
            error: format!("commerce rejected {}", work.sku),
            retry_at_ms: None,
        };
        let at = T0 + 20 + i64::try_from(n).unwrap();
        store.complete_sku(work, give_up, at).await.unwrap();
    }
    let letters = store.dead_letters().await.unwrap();
    assert_eq!(
        letters
            .iter()
            .map(|l| (l.sku.clone(), l.attempts, l.created_ms))
            .collect::<Vec<_>>(),
        vec![(p.clone(), 1, T0 + 20), (q.clone(), 1, T0 + 21)],
        "oldest first"
    );
    assert_eq!(
        letters[0].errors,
        vec![serde_json::json!({ "at_ms": T0 + 20, "error": "commerce rejected P-1" })]
    );
    let counts = backlog(store).await;
    assert_eq!(
        (counts.dead_letters, counts.sku_work, counts.failed_assets),
        (2, 0, 2)
    );

    // One replayed: its SKU starts over at attempt 1 and its asset waits for it again.
    assert_eq!(
        store
            .replay_dead_letters(Some(letters[0].id), T0 + 30)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .replay_dead_letters(Some(letters[0].id), T0 + 31)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .dead_letters()
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.sku)
            .collect::<Vec<_>>(),
        vec![q.clone()]
    );
    assert_eq!(status(store, &a).await.status, SyncStatus::Waiting);
    assert_eq!(status(store, &b).await.status, SyncStatus::Failed);
    let work = claim_skus(store, T0 + 40).await;
    assert_eq!(skus_of(&work), vec![p.clone()]);
    assert_eq!(work[0].attempt, 1);
    apply_sku(store, &work[0], T0 + 50).await;
    assert_eq!(status(store, &a).await.status, SyncStatus::Success);

    // All replayed.
    assert_eq!(store.replay_dead_letters(None, T0 + 60).await.unwrap(), 1);
    assert!(store.dead_letters().await.unwrap().is_empty());
    assert_eq!(backlog(store).await.dead_letters, 0);
    assert_eq!(apply_all_skus(store, T0 + 70).await, vec![q]);
    assert_eq!(status(store, &b).await.status, SyncStatus::Success);
    assert_eq!(backlog(store).await.failed_assets, 0);
}
