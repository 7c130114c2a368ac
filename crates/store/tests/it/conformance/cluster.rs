//! What one process changes and the others see: the gallery change feed, the configuration's version and the
//! processes' reports.

use super::*;
use store::{FeedCursor, GalleryChanges, ProcessReport};

/// Polls the feed from `cursor`; returns the changes by SKU (the last state of each) and the next cursor.
async fn poll<S: Store>(
    store: &S,
    cursor: FeedCursor,
) -> (Vec<(Sku, Option<Vec<AppliedEntry>>)>, FeedCursor) {
    let GalleryChanges { changes, next } = store.galleries_changed_since(&cursor).await.unwrap();
    let mut by_sku: Vec<(Sku, Option<Vec<AppliedEntry>>)> = Vec::new();
    for (sku, state) in changes {
        by_sku.retain(|(seen, _)| seen != &sku);
        by_sku.push((sku, state));
    }
    by_sku.sort_by(|a, b| a.0.cmp(&b.0));
    (by_sku, next)
}

/// What the read API serves now, by product (the truth a poll's changes are checked against).
type Served = std::collections::BTreeMap<Sku, Option<Vec<AppliedEntry>>>;

/// Polls from `cursor`: every product in `must` is reported, and every product reported is reported in its
/// state now (a change may come twice, so a product reported again is not a failure; its state must be
/// right). Returns the next cursor.
async fn poll_expecting<S: Store>(
    store: &S,
    cursor: FeedCursor,
    served: &Served,
    must: &[&Sku],
) -> FeedCursor {
    let (changes, next) = poll(store, cursor).await;
    for (sku, state) in &changes {
        assert_eq!(
            Some(state),
            served.get(sku),
            "{sku} reported in a state it is not in"
        );
    }
    for sku in must {
        assert!(
            changes.iter().any(|(s, _)| s == *sku),
            "{sku} changed and was not reported: {changes:?}"
        );
    }
    next
}

pub async fn the_gallery_feed_reports_every_change_of_what_is_served<S: Store>(store: &S) {
    let (a, b, c) = (asset(1), asset(2), asset(3));
    let (p1, p2, gone) = (sku("P1"), sku("P2"), sku("GONE"));
    let mut served = Served::new();
    let start = store.gallery_feed_position().await.unwrap();
    let cursor = poll_expecting(store, start, &served, &[]).await;

    // New products are served (empty) at once.
    store
        .upsert_products(&[p1.clone(), p2.clone()], T0)
        .await
        .unwrap();
    served.insert(p1.clone(), Some(vec![]));
    served.insert(p2.clone(), Some(vec![]));
    let cursor = poll_expecting(store, cursor, &served, &[&p1, &p2]).await;

    // A written gallery comes with its entries, in gallery order; a known product added again is not a change.
    let claims = vec![
        link(&b, &p1, &["image"], Some(1)),
        link(&a, &p1, &["thumbnail"], Some(2)),
    ];
    sync_asset(
        store,
        "ev-1",
        &a,
        links(vec![claims[1].clone()]),
        T0,
        T0 + 1,
    )
    .await;
    sync_asset(
        store,
        "ev-2",
        &b,
        links(vec![claims[0].clone()]),
        T0 + 2,
        T0 + 3,
    )
    .await;
    assert_eq!(apply_all_skus(store, T0 + 4).await, vec![p1.clone()]);
    store
        .upsert_products(std::slice::from_ref(&p2), T0 + 5)
        .await
        .unwrap();
    let expected = gallery_of(&claims);
    assert_eq!(expected.len(), 2);
    served.insert(p1.clone(), Some(expected.clone()));
    let cursor = poll_expecting(store, cursor, &served, &[&p1]).await;

    // A product found missing on the platform is no longer served, nor is a removed one.
    sync_asset(
        store,
        "ev-3",
        &c,
        links(vec![link(&c, &gone, &["image"], None)]),
        T0 + 6,
        T0 + 7,
    )
    .await;
    assert_eq!(apply_all_skus(store, T0 + 8).await, vec![gone.clone()]);
    store.remove_product(&p2, T0 + 9).await.unwrap();
    served.insert(gone.clone(), None);
    served.insert(p2.clone(), None);
    let cursor = poll_expecting(store, cursor, &served, &[&gone, &p2]).await;

    // A product found missing, then added again, is served again.
    store.upsert_product(&gone, T0 + 10).await.unwrap();
    served.insert(gone.clone(), Some(vec![]));
    let cursor = poll_expecting(store, cursor, &served, &[&gone]).await;
    poll_expecting(store, cursor, &served, &[]).await;

    // From the beginning, the feed holds the state now of every product that changed.
    let (all, _) = poll(store, FeedCursor::default()).await;
    assert_eq!(all, served.into_iter().collect::<Vec<_>>());
}

pub async fn the_configuration_version_moves_with_every_save<S: Store>(store: &S) {
    assert_eq!(store.config_version().await.unwrap(), 0, "never saved");
    let config = domain::config::IntegrationConfig::defaults("1", "2");
    store
        .save_integration_config(&config, &[], T0)
        .await
        .unwrap();
    let first = store.config_version().await.unwrap();
    assert_ne!(first, 0);
    assert_eq!(
        store.config_version().await.unwrap(),
        first,
        "reading moves nothing"
    );
    store
        .save_config_with_follow_ups(&config, &[], &Default::default(), T0 + 1)
        .await
        .unwrap();
    let second = store.config_version().await.unwrap();
    assert_ne!(second, first);
}

pub async fn process_reports_are_replaced_and_forgotten<S: Store>(store: &S) {
    let report = |id: &str, at: i64, n: i64| ProcessReport {
        process_id: id.to_owned(),
        updated_ms: at,
        report: serde_json::json!({ "n": n }),
    };
    assert!(store.process_reports(0).await.unwrap().is_empty());
    store
        .publish_process_report(&report("b", T0, 1), 0)
        .await
        .unwrap();
    store
        .publish_process_report(&report("a", T0 + 1, 2), 0)
        .await
        .unwrap();
    store
        .publish_process_report(&report("b", T0 + 2, 3), 0)
        .await
        .unwrap();
    assert_eq!(
        store.process_reports(T0).await.unwrap(),
        vec![report("a", T0 + 1, 2), report("b", T0 + 2, 3)],
        "one report per process, the newest"
    );
    assert_eq!(
        store.process_reports(T0 + 2).await.unwrap(),
        vec![report("b", T0 + 2, 3)],
        "only those renewed since"
    );
    // A report not renewed for long is forgotten when another is published.
    store
        .publish_process_report(&report("c", T0 + 100, 4), T0 + 2)
        .await
        .unwrap();
    assert_eq!(
        store.process_reports(0).await.unwrap(),
        vec![report("b", T0 + 2, 3), report("c", T0 + 100, 4)]
    );
}

/// PostgreSQL: a change whose transaction began first and commits last is not missed. Another transaction holds
/// an uncommitted row the store's insert of `B` must wait for; meanwhile the store has written `A` in that
/// transaction, and a later transaction (adding `C`) commits first. A poll then sees `C`; the next one must see
/// `A` and `B` although their transaction id is smaller than `C`'s.
pub async fn a_change_committed_out_of_order_is_not_missed(
    harness: crate::harness::PostgresHarness,
) {
    let store = harness.store();
    let (a, b, c) = (sku("A"), sku("B"), sku("C"));
    let start = store.gallery_feed_position().await.unwrap();

    let (mut holder, connection) = tokio_postgres::connect(harness.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let hold = holder.transaction().await.unwrap();
    hold.execute(
        "INSERT INTO products (sku, created_ms) VALUES ('B', 0)",
        &[],
    )
    .await
    .unwrap();

    let slow = {
        let store = store.clone();
        let skus = vec![a.clone(), b.clone()];
        tokio::spawn(async move { store.upsert_products(&skus, T0).await })
    };
    // Wait until the store's transaction (which wrote `A`) waits for the held row.
    let watcher = crate::harness::connect(harness.url()).await;
    let mut waiting = false;
    for _ in 0..200 {
        let row = watcher
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .unwrap();
        if row.get::<_, i64>(0) > 0 {
            waiting = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(waiting, "the store's insert never waited for the held row");

    store.upsert_product(&c, T0 + 1).await.unwrap();
    let (first, cursor) = poll(store, start).await;
    assert_eq!(
        first,
        vec![(c.clone(), Some(vec![]))],
        "only C has committed"
    );

    hold.rollback().await.unwrap();
    let added = slow.await.unwrap().unwrap();
    assert_eq!(added, vec![a.clone(), b.clone()]);
    let (second, _) = poll(store, cursor).await;
    assert!(second.contains(&(a, Some(vec![]))), "A missed: {second:?}");
    assert!(second.contains(&(b, Some(vec![]))), "B missed: {second:?}");
}
