//! SKU work and galleries: what a write stored, products that are missing, partial writes, failures, retries.

use super::*;

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

pub async fn a_forgotten_entry_is_written_again<S: Store>(store: &S) {
    let (a, b, p) = (asset(1), asset(2), sku("P-1"));
    store.upsert_product(&p, T0).await.unwrap();
    let (la, lb) = (
        link(&a, &p, &["image"], Some(1)),
        link(&b, &p, &[], Some(2)),
    );
    sync_asset(store, "ev-a", &a, links(vec![la.clone()]), T0, T0).await;
    sync_asset(store, "ev-b", &b, links(vec![lb.clone()]), T0, T0).await;
    apply_all_skus(store, T0 + 10).await;
    let written = gallery_of(&[la.clone(), lb.clone()]);
    assert_eq!(store.gallery(&p).await.unwrap(), Some(written.clone()));
    assert_eq!(backlog(store).await.sku_work, 0);

    // `a`'s entry was found missing on the commerce side: forgotten, and the SKU queued.
    store.forget_applied(&p, &a, T0 + 20).await.unwrap();
    let rest: Vec<AppliedEntry> = written
        .iter()
        .filter(|e| e.entry.asset_id == b)
        .cloned()
        .collect();
    assert_eq!(store.gallery(&p).await.unwrap(), Some(rest.clone()));
    assert_eq!(status(store, &a).await.linked_skus, Vec::<Sku>::new());
    let work = claim_skus(store, T0 + 20).await;
    assert_eq!(skus_of(&work), vec![p.clone()]);
    let state = store.sku_state(&p).await.unwrap();
    assert_eq!(state.applied, rest, "the next write creates it again");
    assert_eq!(by_asset(state.claims), vec![la, lb], "the claims stay");
    apply_sku(store, &work[0], T0 + 30).await;
    assert_eq!(store.gallery(&p).await.unwrap(), Some(written));
    assert_eq!(status(store, &a).await.linked_skus, vec![p.clone()]);

    // Forgetting what is not applied still queues the SKU (the caller found it missing).
    store.forget_applied(&p, &asset(99), T0 + 40).await.unwrap();
    assert_eq!(skus_of(&claim_skus(store, T0 + 40).await), vec![p]);
}

pub async fn requeued_galleries_are_bulk_work<S: Store>(store: &S) {
    let (a, b) = (asset(1), asset(2));
    let (applied, claimed, handmade, bare) = (sku("P-1"), sku("P-2"), sku("P-3"), sku("P-4"));
    store
        .upsert_products(&[applied.clone(), handmade.clone(), bare.clone()], T0)
        .await
        .unwrap();
    assert_eq!(store.requeue_galleries(T0).await.unwrap(), 0);
    sync_asset(
        store,
        "ev-a",
        &a,
        links(vec![link(&a, &applied, &[], Some(1))]),
        T0,
        T0,
    )
    .await;
    apply_all_skus(store, T0).await;
    // `claimed` is not in the catalog: its work ends as a missing product.
    sync_asset(
        store,
        "ev-b",
        &b,
        links(vec![link(&b, &claimed, &[], Some(1))]),
        T0,
        T0,
    )
    .await;
    apply_all_skus(store, T0).await;
    let record = HandmadeRecord {
        entry_id: "entry-7".to_owned(),
        prior_disabled: false,
        prior_roles: vec!["image".to_owned()],
    };
    store.remember_handmade(&handmade, &record).await.unwrap();
    assert_eq!(backlog(store).await.sku_work, 0);

    // Products with a gallery, claims or hand-made records: not the bare one.
    assert_eq!(store.requeue_galleries(T0 + 10).await.unwrap(), 3);
    let counts = backlog(store).await;
    assert_eq!((counts.sku_work, counts.bulk_sku_work), (3, 3));
    assert_eq!(counts.oldest_sku_work_ms, Some(T0 + 10));
    assert_eq!(store.bulk_sku_work().await.unwrap(), 3);

    // Live work queued later goes first.
    let c = asset(3);
    sync_asset(
        store,
        "ev-c",
        &c,
        links(vec![link(&c, &bare, &[], Some(1))]),
        T0 + 20,
        T0 + 20,
    )
    .await;
    let first = store.claim_sku_work(T0 + 30, 1, LEASE).await.unwrap();
    assert_eq!(skus_of(&first), vec![bare.clone()]);
    let rest = claim_skus(store, T0 + 30).await;
    assert_eq!(skus_of(&rest), vec![applied, claimed, handmade]);
    for work in &rest {
        apply_sku(store, work, T0 + 40).await;
    }
    assert_eq!(
        store.bulk_sku_work().await.unwrap(),
        0,
        "no bulk work is left once it is applied"
    );
}

pub async fn a_queued_gallery_keeps_its_place_when_changed_again<S: Store>(store: &S) {
    let (a, b, c) = (asset(1), asset(2), asset(3));
    let (p1, p2) = (sku("P-1"), sku("P-2"));
    store.upsert_product(&p1, T0).await.unwrap();
    store.upsert_product(&p2, T0).await.unwrap();
    let one = |asset: &AssetId, sku: &Sku| links(vec![link(asset, sku, &["image"], Some(1))]);
    sync_asset(store, "ev-a", &a, one(&a, &p1), T0, T0 + 10).await;
    sync_asset(store, "ev-b", &b, one(&b, &p2), T0 + 20, T0 + 30).await;
    // P-1 changes again while it waits: it stays ahead of P-2, which was queued after it.
    sync_asset(store, "ev-c", &c, one(&c, &p1), T0 + 40, T0 + 50).await;
    let first = store.claim_sku_work(T0 + 100, 1, LEASE).await.unwrap();
    assert_eq!(
        skus_of(&first),
        vec![p1],
        "the gallery waiting longest goes first"
    );
}
