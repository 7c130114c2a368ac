//! Leases: claimed work is leased until it expires or is released, and a worker whose lease ran out writes nothing.

use super::*;

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
            unknown_store_views: Default::default(),
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
// Group commits: one transaction for many completions, each fenced alone

pub async fn completions_of_many_assets_fail_alone_when_their_lease_is_lost<S: Store>(store: &S) {
    let (a, b, p) = (asset(1), asset(2), sku("P-1"));
    store.upsert_product(&p, T0).await.unwrap();
    record(
        store,
        &[changed("ev-a", &a, T0), changed("ev-b", &b, T0 + 1)],
    )
    .await;
    let mut claimed = claim_assets(store, T0 + 1).await;
    claimed.sort_by(|x, y| x.asset_id.cmp(&y.asset_id));
    let (stale_a, work_b) = (claimed.remove(0), claimed.remove(0));
    // `a` (due first) is taken over after its lease ran out; `b`'s expired lease is still its own.
    let current_a = store
        .claim_asset_work(T0 + 1 + LEASE + 1, 1, LEASE)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(current_a.asset_id, a);

    let (la, lb) = (
        link(&a, &p, &["image"], Some(1)),
        link(&b, &p, &["image"], Some(2)),
    );
    assert!(
        store
            .complete_assets(Vec::new(), T0)
            .await
            .unwrap()
            .is_empty()
    );
    let results = store
        .complete_assets(
            vec![
                (stale_a, links(vec![la.clone()])),
                (work_b, links(vec![lb.clone()])),
            ],
            T0 + LEASE + 10,
        )
        .await
        .unwrap();
    assert_eq!(results.len(), 2);
    assert!(
        matches!(results[0], Err(store::StoreError::LeaseLost)),
        "{results:?}"
    );
    assert!(results[1].is_ok(), "{results:?}");
    assert_eq!(store.asset_claims(&a).await.unwrap(), Vec::new());
    assert_eq!(store.asset_claims(&b).await.unwrap(), vec![lb.clone()]);
    assert_eq!(backlog(store).await.asset_work, 1, "a's work is still held");

    // The current holder's completion goes through, in a batch of its own.
    let results = store
        .complete_assets(vec![(current_a, links(vec![la.clone()]))], T0 + LEASE + 20)
        .await
        .unwrap();
    assert!(results[0].is_ok(), "{results:?}");
    assert_eq!(
        by_asset(store.sku_state(&p).await.unwrap().claims),
        vec![la, lb]
    );
    assert_eq!(backlog(store).await.asset_work, 0);
}

pub async fn completions_of_many_skus_fail_alone_when_their_lease_is_lost<S: Store>(store: &S) {
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
        T0 + 1,
        T0 + 1,
    )
    .await;
    let claimed = claim_skus(store, T0 + 1).await;
    assert_eq!(skus_of(&claimed), vec![p.clone(), q.clone()]);
    // P-1 (due first) is taken over after its lease ran out.
    let current_p = store
        .claim_sku_work(T0 + 1 + LEASE + 1, 1, LEASE)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(current_p.sku, p);

    let applied = |claims: Vec<DesiredLink>| SkuOutcome::Applied(gallery_of(&claims));
    let p_claims = store.sku_state(&p).await.unwrap().claims;
    let q_claims = store.sku_state(&q).await.unwrap().claims;
    assert!(
        store
            .complete_skus(Vec::new(), T0)
            .await
            .unwrap()
            .is_empty()
    );
    let results = store
        .complete_skus(
            vec![
                (claimed[0].clone(), applied(p_claims.clone())),
                (claimed[1].clone(), applied(q_claims.clone())),
            ],
            T0 + LEASE + 10,
        )
        .await
        .unwrap();
    assert_eq!(results.len(), 2);
    assert!(
        matches!(results[0], Err(store::StoreError::LeaseLost)),
        "{results:?}"
    );
    assert!(results[1].is_ok(), "{results:?}");
    assert_eq!(store.gallery(&p).await.unwrap(), Some(Vec::new()));
    assert_eq!(
        store.gallery(&q).await.unwrap(),
        Some(gallery_of(&q_claims))
    );
    assert_eq!(status(store, &a).await.status, SyncStatus::Waiting);
    assert_eq!(status(store, &b).await.status, SyncStatus::Success);

    let results = store
        .complete_skus(
            vec![(current_p, applied(p_claims.clone()))],
            T0 + LEASE + 20,
        )
        .await
        .unwrap();
    assert!(results[0].is_ok(), "{results:?}");
    assert_eq!(
        store.gallery(&p).await.unwrap(),
        Some(gallery_of(&p_claims))
    );
    assert_eq!(status(store, &a).await.status, SyncStatus::Success);
    assert_eq!(backlog(store).await.sku_work, 0);
}
