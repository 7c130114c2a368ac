//! Manual links: kept until removed by hand, whatever the asset's own outcomes; every change queues the
//! product's gallery.

use super::*;
use domain::ManualLink;
use domain::gallery::EntrySource;

fn manual(asset: &AssetId, sku: &Sku, roles: &[&str], position: u32, linked_ms: i64) -> ManualLink {
    ManualLink {
        link: link(asset, sku, roles, Some(position)),
        linked_ms,
    }
}

pub async fn manual_links_are_kept_until_removed_by_hand<S: Store>(store: &S) {
    let (a, m) = (asset(1), asset(2));
    let (product, other) = (sku("P-1"), sku("P-2"));
    store
        .upsert_products(&[product.clone(), other.clone()], T0)
        .await
        .unwrap();
    sync_asset(
        store,
        "ev-a",
        &a,
        links(vec![link(&a, &product, &["image"], Some(1))]),
        T0,
        T0,
    )
    .await;
    apply_all_skus(store, T0).await;
    assert_eq!(backlog(store).await.sku_work, 0);

    // Added: stored, and the product's gallery queued (live work) in the same transaction.
    let first = manual(&m, &product, &["thumbnail"], 0, T0 + 1);
    assert!(store.put_manual_link(&first, T0 + 1).await.unwrap());
    assert_eq!(
        skus_of(&claim_skus(store, T0 + 1).await),
        vec![product.clone()]
    );
    let state = store.sku_state(&product).await.unwrap();
    assert_eq!(state.manual, vec![first.clone()]);
    assert_eq!(state.claims.len(), 1, "the claims are untouched");

    // Put again: replaced, not doubled.
    let moved = manual(&m, &product, &["image", "thumbnail"], 4, T0 + 2);
    assert!(!store.put_manual_link(&moved, T0 + 2).await.unwrap());
    assert_eq!(
        store.manual_links(&product).await.unwrap(),
        vec![moved.clone()]
    );
    let elsewhere = manual(&m, &other, &[], 2, T0 + 3);
    assert!(store.put_manual_link(&elsewhere, T0 + 3).await.unwrap());
    assert_eq!(
        store.manual_links_of_asset(&m).await.unwrap(),
        vec![moved.clone(), elsewhere.clone()],
        "by SKU"
    );
    assert!(store.manual_links_of_asset(&a).await.unwrap().is_empty());

    // Written: the applied gallery carries the manual entry with its source.
    store.release_all_leases().await.unwrap();
    apply_all_skus(store, T0 + 4).await;
    let applied = store.gallery(&product).await.unwrap().unwrap();
    let sources: Vec<_> = applied
        .iter()
        .map(|e| (e.entry.asset_id.clone(), e.entry.source, e.entry.position))
        .collect();
    assert_eq!(
        sources,
        vec![
            (a.clone(), EntrySource::Dam, 1),
            (m.clone(), EntrySource::Manual, 4)
        ]
    );

    // The asset's own outcomes (unlinked everywhere, even not eligible) leave its manual links alone.
    sync_asset(store, "ev-m", &m, links(Vec::new()), T0 + 5, T0 + 5).await;
    sync_asset(store, "ev-a2", &a, links(Vec::new()), T0 + 5, T0 + 5).await;
    apply_all_skus(store, T0 + 6).await;
    assert_eq!(store.manual_links(&product).await.unwrap(), vec![moved]);
    let applied = store.gallery(&product).await.unwrap().unwrap();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].entry.source, EntrySource::Manual);

    // A product whose only entries are manual is requeued with the others (an owner change).
    assert_eq!(store.requeue_galleries(T0 + 7).await.unwrap(), 2);
    apply_all_skus(store, T0 + 7).await;

    // Removed by hand: gone, and the gallery queued; removing again changes nothing.
    assert!(
        store
            .remove_manual_link(&product, &m, T0 + 8)
            .await
            .unwrap()
    );
    assert_eq!(
        skus_of(&claim_skus(store, T0 + 8).await),
        vec![product.clone()]
    );
    assert!(store.manual_links(&product).await.unwrap().is_empty());
    assert!(
        !store
            .remove_manual_link(&product, &m, T0 + 9)
            .await
            .unwrap()
    );
    assert_eq!(
        store.manual_links_of_asset(&m).await.unwrap(),
        vec![elsewhere]
    );
}

/// The admin console's product search: by SKU prefix, in SKU order, a keyset page at a time.
pub async fn products_are_paged_by_prefix_in_sku_order<S: Store>(store: &S) {
    let skus: Vec<Sku> = ["MH01-S", "MH01-M", "MH02-L", "MH01-L", "WJ-1", "MH01"]
        .iter()
        .map(|s| sku(s))
        .collect();
    store.upsert_products(&skus, T0).await.unwrap();
    let first = store.products_page("MH01", None, 2).await.unwrap();
    assert_eq!(first, vec![sku("MH01"), sku("MH01-L")]);
    let next = store.products_page("MH01", first.last(), 2).await.unwrap();
    assert_eq!(next, vec![sku("MH01-M"), sku("MH01-S")]);
    assert!(
        store
            .products_page("MH01", next.last(), 2)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.products_page("", None, 100).await.unwrap().len(), 6);
    assert_eq!(
        store.products_page("W", None, 100).await.unwrap(),
        vec![sku("WJ-1")]
    );
    assert!(
        store
            .products_page("X", None, 100)
            .await
            .unwrap()
            .is_empty()
    );
}
