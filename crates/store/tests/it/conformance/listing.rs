//! The Sync Status listing: filters by status, asset id prefix and SKU, the four orders, keyset pages both
//! ways; an asset's history of events.

use super::*;
use store::{AssetCursor, AssetListQuery, AssetPage, AssetSort, PageDirection};

/// When each asset of [`seven_assets`] was processed (offset from T0); asset 7 never was.
const PROCESSED: [(u32, i64); 6] = [(1, 30), (2, 10), (3, 50), (4, 20), (5, 40), (6, 60)];

/// Assets 1–3 on P-1 and 4–5 on P-2 (Success), 6 failed without links, 7 only hinted (Waiting).
async fn seven_assets<S: Store>(store: &S) {
    let (p1, p2) = (sku("P-1"), sku("P-2"));
    store
        .upsert_products(&[p1.clone(), p2.clone()], T0)
        .await
        .unwrap();
    for (n, at) in PROCESSED.into_iter().take(5) {
        let a = asset(n);
        let p = if n <= 3 { &p1 } else { &p2 };
        let l = link(&a, p, &["image"], None);
        sync_asset(store, &format!("ev-{n}"), &a, links(vec![l]), T0, T0 + at).await;
    }
    apply_all_skus(store, T0 + 100).await;
    record(store, &[changed("ev-6", &asset(6), T0)]).await;
    let work = claim_one_asset(store, T0).await;
    store
        .complete_asset(
            &work,
            AssetOutcome::Failed {
                error: "metadata unreadable".to_owned(),
                retry_at_ms: None,
            },
            T0 + 60,
        )
        .await
        .unwrap();
    record(store, &[changed("ev-7", &asset(7), T0 + 200)]).await;
}

fn query(sort: AssetSort, limit: i64) -> AssetListQuery {
    AssetListQuery {
        sort,
        limit,
        ..AssetListQuery::default()
    }
}

fn ids(page: &AssetPage) -> Vec<AssetId> {
    page.rows.iter().map(|r| r.asset_id.clone()).collect()
}

fn assets(ns: &[u32]) -> Vec<AssetId> {
    ns.iter().map(|n| asset(*n)).collect()
}

async fn list<S: Store>(store: &S, query: &AssetListQuery) -> AssetPage {
    store.list_assets(query).await.unwrap()
}

/// Every row of a listing, page after page forward, then page before page backward from the end.
async fn walk<S: Store>(store: &S, first: AssetListQuery) -> (Vec<AssetId>, Vec<AssetId>) {
    let mut forward = Vec::new();
    let mut q = first.clone();
    loop {
        let page = list(store, &q).await;
        forward.extend(ids(&page));
        match (page.has_next, page.rows.last()) {
            (true, Some(last)) => {
                q.cursor = Some(last.cursor());
            }
            _ => break,
        }
    }
    let mut backward: Vec<AssetId> = Vec::new();
    let mut q = AssetListQuery {
        direction: PageDirection::Before,
        cursor: None,
        ..first
    };
    loop {
        let page = list(store, &q).await;
        let mut rows = ids(&page);
        rows.extend(backward);
        backward = rows;
        match (page.has_previous, page.rows.first()) {
            (true, Some(first)) => q.cursor = Some(first.cursor()),
            _ => break,
        }
    }
    (forward, backward)
}

pub async fn the_sync_status_listing_pages_through_every_order<S: Store>(store: &S) {
    seven_assets(store).await;
    let expected = [
        (AssetSort::ProcessingDesc, vec![6, 3, 5, 1, 4, 2, 7]),
        (AssetSort::ProcessingAsc, vec![7, 2, 4, 1, 5, 3, 6]),
        (AssetSort::AssetIdAsc, vec![1, 2, 3, 4, 5, 6, 7]),
        (AssetSort::AssetIdDesc, vec![7, 6, 5, 4, 3, 2, 1]),
    ];
    for (sort, order) in expected {
        for limit in [1, 2, 3, 7, 50] {
            let (forward, backward) = walk(store, query(sort, limit)).await;
            assert_eq!(forward, assets(&order), "{sort:?} by {limit}, forward");
            assert_eq!(backward, assets(&order), "{sort:?} by {limit}, backward");
        }
    }

    // Pages of three: next and previous say where rows are; a previous page is in the listing's order.
    let first = list(store, &query(AssetSort::ProcessingDesc, 3)).await;
    assert_eq!(ids(&first), assets(&[6, 3, 5]));
    assert!(first.has_next && !first.has_previous);
    let mut q = query(AssetSort::ProcessingDesc, 3);
    q.cursor = first.rows.last().map(|r| r.cursor());
    let second = list(store, &q).await;
    assert_eq!(ids(&second), assets(&[1, 4, 2]));
    assert!(second.has_next && second.has_previous);
    q.cursor = second.rows.last().map(|r| r.cursor());
    let third = list(store, &q).await;
    assert_eq!(ids(&third), assets(&[7]));
    assert!(!third.has_next && third.has_previous);
    q.cursor = third.rows.first().map(|r| r.cursor());
    q.direction = PageDirection::Before;
    let back = list(store, &q).await;
    assert_eq!(ids(&back), assets(&[1, 4, 2]));
    assert!(back.has_next && back.has_previous);

    // A cursor survives its text form.
    let cursor = second.rows[0].cursor();
    assert_eq!(AssetCursor::parse(&cursor.encode()), Some(cursor));
    assert_eq!(AssetCursor::parse("not a cursor"), None);
}

pub async fn the_sync_status_listing_filters_by_status_id_and_sku<S: Store>(store: &S) {
    seven_assets(store).await;
    let by = |status: Option<SyncStatus>, prefix: Option<&str>, sku_: Option<&str>, sort| {
        AssetListQuery {
            status,
            asset_id_prefix: prefix.map(str::to_owned),
            sku: sku_.map(sku),
            sort,
            limit: 50,
            ..AssetListQuery::default()
        }
    };
    let cases: Vec<(AssetListQuery, Vec<u32>)> = vec![
        (
            by(
                Some(SyncStatus::Failed),
                None,
                None,
                AssetSort::ProcessingDesc,
            ),
            vec![6],
        ),
        (
            by(Some(SyncStatus::Waiting), None, None, AssetSort::AssetIdAsc),
            vec![7],
        ),
        (
            by(
                Some(SyncStatus::Success),
                None,
                None,
                AssetSort::ProcessingAsc,
            ),
            vec![2, 4, 1, 5, 3],
        ),
        (
            by(None, None, Some("P-1"), AssetSort::ProcessingDesc),
            vec![3, 1, 2],
        ),
        (
            by(None, None, Some("P-1"), AssetSort::AssetIdDesc),
            vec![3, 2, 1],
        ),
        (
            by(
                Some(SyncStatus::Success),
                None,
                Some("P-2"),
                AssetSort::AssetIdDesc,
            ),
            vec![5, 4],
        ),
        (
            by(
                Some(SyncStatus::Failed),
                None,
                Some("P-2"),
                AssetSort::AssetIdAsc,
            ),
            vec![],
        ),
        (
            by(None, None, Some("NO-SUCH"), AssetSort::ProcessingAsc),
            vec![],
        ),
        // A prefix lists in asset id order, whatever the order asked for (ascending unless descending by id).
        (
            by(
                None,
                Some(asset(3).as_str()),
                None,
                AssetSort::ProcessingDesc,
            ),
            vec![3],
        ),
        (
            by(
                None,
                Some("urn:aaid:aem:00000000-0000-4000-8000-00000000000"),
                None,
                AssetSort::ProcessingDesc,
            ),
            vec![1, 2, 3, 4, 5, 6, 7],
        ),
        (
            by(
                None,
                Some("urn:aaid:aem:00000000-0000-4000-8000-00000000000"),
                None,
                AssetSort::AssetIdDesc,
            ),
            vec![7, 6, 5, 4, 3, 2, 1],
        ),
        (
            by(
                Some(SyncStatus::Success),
                Some("urn:aaid:aem:"),
                Some("P-1"),
                AssetSort::AssetIdAsc,
            ),
            vec![1, 2, 3],
        ),
        (
            by(
                Some(SyncStatus::Success),
                Some("urn:aaid:aem:"),
                None,
                AssetSort::AssetIdDesc,
            ),
            vec![5, 4, 3, 2, 1],
        ),
        (
            by(None, Some("urn:aaid:aem:1"), None, AssetSort::AssetIdAsc),
            vec![],
        ),
    ];
    for (q, expected) in cases {
        assert_eq!(ids(&list(store, &q).await), assets(&expected), "{q:?}");
        let (forward, backward) = walk(
            store,
            AssetListQuery {
                limit: 2,
                ..q.clone()
            },
        )
        .await;
        assert_eq!(forward, assets(&expected), "{q:?} by 2");
        assert_eq!(backward, assets(&expected), "{q:?} by 2, backward");
    }

    // What a row shows.
    let rows = list(store, &query(AssetSort::AssetIdAsc, 50)).await.rows;
    let one = &rows[0];
    assert_eq!(one.asset_id, asset(1));
    assert_eq!(one.status, SyncStatus::Success);
    assert_eq!(
        one.name.as_deref(),
        Some(format!("{} on P-1", asset(1).uuid()).as_str())
    );
    assert_eq!(one.linked_skus, vec![sku("P-1")]);
    assert_eq!(one.processing_ms, Some(T0 + 30));
    assert_eq!(one.dispatched_ms, Some(T0 + 100));
    assert_eq!(
        one.latency_ms,
        Some(100),
        "from the event's receipt at T0 to the write"
    );
    assert_eq!(one.last_error, None);
    let six = &rows[5];
    assert_eq!(six.status, SyncStatus::Failed);
    assert_eq!(six.last_error.as_deref(), Some("metadata unreadable"));
    assert!(six.linked_skus.is_empty() && six.name.is_none());
    let seven = &rows[6];
    assert_eq!(
        (seven.status, seven.processing_ms),
        (SyncStatus::Waiting, None)
    );
}

pub async fn an_assets_history_lists_its_events_newest_first<S: Store>(store: &S) {
    let (a, b) = (asset(1), asset(2));
    record(
        store,
        &[
            changed("ev-1", &a, T0),
            changed("ev-2", &b, T0 + 5),
            deleted("ev-3", &a, T0 + 10),
            changed("ev-4", &a, T0 + 20),
        ],
    )
    .await;
    let history = store.asset_history(&a, 10).await.unwrap();
    let seen: Vec<(&str, i64)> = history
        .iter()
        .map(|e| (e.event_id.as_str(), e.received_ms))
        .collect();
    assert_eq!(
        seen,
        vec![("ev-4", T0 + 20), ("ev-3", T0 + 10), ("ev-1", T0)]
    );
    assert_eq!(history[1].event_type, "aem.assets.asset.deleted");
    assert_eq!(store.asset_history(&a, 2).await.unwrap().len(), 2);
    assert!(store.asset_history(&asset(9), 10).await.unwrap().is_empty());
}
