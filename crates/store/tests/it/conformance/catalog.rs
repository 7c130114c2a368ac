//! The built-in catalog: products, the links a matcher adds, product statuses, hand-made entries.

use super::*;

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

pub async fn a_removed_product_drops_its_links<S: Store>(store: &S) {
    let (a, p, bare) = (asset(1), sku("P-1"), sku("P-BARE"));
    store
        .upsert_products(&[p.clone(), bare.clone()], T0)
        .await
        .unwrap();
    let l = link(&a, &p, &["image"], Some(1));
    sync_asset(store, "ev-1", &a, links(vec![l.clone()]), T0, T0).await;
    apply_all_skus(store, T0 + 10).await;
    assert_eq!(status(store, &a).await.linked_skus, vec![p.clone()]);

    assert!(store.remove_product(&p, T0 + 20).await.unwrap());
    assert!(
        !store.remove_product(&p, T0 + 21).await.unwrap(),
        "known no more"
    );
    assert!(
        !store
            .remove_product(&sku("P-NEVER"), T0 + 21)
            .await
            .unwrap()
    );
    // A product without links queues nothing.
    assert!(store.remove_product(&bare, T0 + 22).await.unwrap());
    assert_eq!(store.gallery(&bare).await.unwrap(), None);

    // Its gallery is queued so the entries go; the claim stays, waiting for the product.
    let work = claim_skus(store, T0 + 30).await;
    assert_eq!(skus_of(&work), vec![p.clone()]);
    let state = store.sku_state(&p).await.unwrap();
    assert!(!state.product_exists);
    assert_eq!(state.claims, vec![l]);
    apply_sku(store, &work[0], T0 + 40).await;
    assert_eq!(store.gallery(&p).await.unwrap(), None);
    let st = status(store, &a).await;
    assert!(st.linked_skus.is_empty());
    assert_eq!(st.waiting_for_products, vec![p.clone()]);
    let all: Vec<Sku> = store
        .all_galleries()
        .await
        .unwrap()
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert!(all.is_empty(), "{all:?}");
}

pub async fn a_product_status_shows_its_work<S: Store>(store: &S) {
    let (a, p, q) = (asset(1), sku("P-1"), sku("P-NEW"));
    assert_eq!(store.product_status(&p).await.unwrap(), None);
    store.upsert_product(&p, T0).await.unwrap();
    let bare = store.product_status(&p).await.unwrap().unwrap();
    assert_eq!(
        bare,
        store::ProductStatus {
            sku: p.clone(),
            known: true,
            missing: false,
            entries: 0,
            claims: 0,
            gallery_work: None,
            product_call: None,
        }
    );

    // `a` claims both; `q` is not in the catalog.
    sync_asset(
        store,
        "ev-1",
        &a,
        links(vec![link(&a, &p, &[], Some(1)), link(&a, &q, &[], Some(1))]),
        T0,
        T0 + 10,
    )
    .await;
    let unknown = store.product_status(&q).await.unwrap().unwrap();
    assert!(!unknown.known && !unknown.missing);
    assert_eq!(unknown.claims, 1);
    assert_eq!(
        unknown.gallery_work,
        Some(QueuedWork {
            attempt: 0,
            run_at_ms: T0 + 10,
            last_error: None
        })
    );

    let work = claim_skus(store, T0 + 20).await;
    assert_eq!(skus_of(&work), vec![p.clone(), q.clone()]);
    apply_sku(store, &work[1], T0 + 30).await;
    let missing = store.product_status(&q).await.unwrap().unwrap();
    assert!(missing.missing, "the last write found it missing");
    assert_eq!(missing.gallery_work, None);
    store
        .complete_sku(
            &work[0],
            SkuOutcome::Failed {
                error: "commerce answered 503".to_owned(),
                retry_at_ms: Some(T0 + 1_000),
            },
            T0 + 30,
        )
        .await
        .unwrap();
    let failing = store.product_status(&p).await.unwrap().unwrap();
    assert_eq!(
        failing.gallery_work,
        Some(QueuedWork {
            attempt: 1,
            run_at_ms: T0 + 1_000,
            last_error: Some("commerce answered 503".to_owned()),
        })
    );
    let retried = claim_skus(store, T0 + 1_000).await;
    apply_sku(store, &retried[0], T0 + 1_010).await;
    let applied = store.product_status(&p).await.unwrap().unwrap();
    assert_eq!((applied.entries, applied.claims), (1, 1));
    assert_eq!(applied.gallery_work, None);
}

pub async fn handmade_entries_keep_their_first_prior_state<S: Store>(store: &S) {
    let (p, q) = (sku("P-1"), sku("P-2"));
    let record = |id: &str, disabled: bool, roles: &[&str]| HandmadeRecord {
        entry_id: id.to_owned(),
        prior_disabled: disabled,
        prior_roles: roles.iter().map(|r| (*r).to_owned()).collect(),
    };
    assert!(store.handmade_records(&p).await.unwrap().is_empty());
    let first = record("entry-2", false, &["image", "thumbnail"]);
    let other = record("entry-1", true, &[]);
    store.remember_handmade(&p, &first).await.unwrap();
    store.remember_handmade(&p, &other).await.unwrap();
    // Changed again later: the state before the first change is what is kept.
    store
        .remember_handmade(&p, &record("entry-2", true, &[]))
        .await
        .unwrap();
    store
        .remember_handmade(&q, &record("entry-2", true, &["small_image"]))
        .await
        .unwrap();
    let by_id = |mut records: Vec<HandmadeRecord>| {
        records.sort_by(|x, y| x.entry_id.cmp(&y.entry_id));
        records
    };
    assert_eq!(
        by_id(store.handmade_records(&p).await.unwrap()),
        vec![other.clone(), first.clone()]
    );
    assert_eq!(
        store.handmade_records(&q).await.unwrap(),
        vec![record("entry-2", true, &["small_image"])]
    );

    // Restored: forgotten, on that product only.
    store.forget_handmade(&p, "entry-2").await.unwrap();
    store.forget_handmade(&p, "entry-unknown").await.unwrap();
    assert_eq!(store.handmade_records(&p).await.unwrap(), vec![other]);
    assert_eq!(store.handmade_records(&q).await.unwrap().len(), 1);
    // Remembered again after it was forgotten: the new prior state counts.
    store
        .remember_handmade(&p, &record("entry-2", true, &[]))
        .await
        .unwrap();
    assert!(
        store
            .handmade_records(&p)
            .await
            .unwrap()
            .contains(&record("entry-2", true, &[]))
    );
}
