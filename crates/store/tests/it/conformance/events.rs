//! Recording deliveries: deduplication by event id, coalesced hints, claims and their limit, the journal position.

use super::*;

pub async fn records_events_once<S: Store>(store: &S) {
    let a = asset(1);
    let first = changed("ev-1", &a, T0);
    assert_eq!(
        record(store, std::slice::from_ref(&first)).await,
        vec![Recorded::Stored]
    );
    let after_first = backlog(store).await;
    assert_eq!(after_first.events, 1);
    assert_eq!(after_first.asset_work, 1);
    assert_eq!(after_first.waiting_assets, 1);
    assert_eq!(after_first.unused_events, 0);
    let status_first = status(store, &a).await;

    // The same id again, even delivered later or classified differently, changes nothing.
    let mut again = first.clone();
    again.received_ms = T0 + 5_000;
    assert_eq!(record(store, &[again]).await, vec![Recorded::Duplicate]);
    let mut as_deleted = deleted("ev-1", &a, T0 + 6_000);
    as_deleted.event_type = first.event_type.clone();
    assert_eq!(
        record(store, &[as_deleted]).await,
        vec![Recorded::Duplicate]
    );
    assert_eq!(backlog(store).await, after_first);
    assert_eq!(status(store, &a).await, status_first);

    // The work item is exactly what one event left: due at T0, not deleted, and finished by one read.
    let work = claim_one_asset(store, T0).await;
    assert_eq!(work.asset_id, a);
    assert!(!work.deleted);
    assert_eq!(work.attempt, 1);
    store
        .complete_asset(&work, links(Vec::new()), T0 + 100)
        .await
        .unwrap();
    assert_eq!(backlog(store).await.asset_work, 0);
    assert_eq!(status(store, &a).await.status, SyncStatus::Success);
}

pub async fn batch_outcomes_follow_event_order<S: Store>(store: &S) {
    let (a, b) = (asset(1), asset(2));
    let outcomes = record(
        store,
        &[
            changed("ev-a", &a, T0),
            changed("ev-b", &b, T0),
            changed("ev-a", &a, T0 + 1),
            unused("ev-u", T0),
            changed("ev-b", &b, T0 + 1),
            unused("ev-u", T0 + 1),
        ],
    )
    .await;
    use Recorded::{Duplicate, Stored};
    assert_eq!(
        outcomes,
        vec![Stored, Stored, Duplicate, Stored, Duplicate, Duplicate]
    );
    let counts = backlog(store).await;
    assert_eq!(counts.events, 3);
    assert_eq!(counts.unused_events, 1);
    assert_eq!(counts.asset_work, 2);
    assert_eq!(counts.waiting_assets, 2);
    assert!(record(store, &[]).await.is_empty());
}

pub async fn unused_events_are_counted_and_queue_no_work<S: Store>(store: &S) {
    let a = asset(1);
    let mut with_asset = unused("ev-3", T0);
    with_asset.event_type = "aem.assets.asset.copied".to_owned();
    with_asset.asset_id = Some(a.clone());
    let outcomes = record(
        store,
        &[unused("ev-1", T0), unused("ev-2", T0 + 1), with_asset],
    )
    .await;
    assert_eq!(outcomes, vec![Recorded::Stored; 3]);
    assert_eq!(
        backlog(store).await,
        Backlog {
            asset_work: 0,
            sku_work: 0,
            waiting_assets: 0,
            failed_assets: 0,
            events: 3,
            unused_events: 3,
            bulk_sku_work: 0,
            dead_letters: 0,
            oldest_sku_work_ms: None,
            oldest_waiting_ms: None,
        }
    );
    assert!(claim_assets(store, T0 + LEASE).await.is_empty());
    assert!(claim_skus(store, T0 + LEASE).await.is_empty());
    assert_eq!(store.asset_status(&a).await.unwrap(), None);

    // A duplicate of an unused event is not counted twice.
    assert_eq!(
        record(store, &[unused("ev-1", T0 + 2)]).await,
        vec![Recorded::Duplicate]
    );
    assert_eq!(backlog(store).await.unused_events, 3);
}

pub async fn asset_event_queues_work_and_sets_waiting<S: Store>(store: &S) {
    let a = asset(1);
    record(store, &[changed("ev-1", &a, T0)]).await;
    let st = status(store, &a).await;
    assert_eq!(st.asset_id, a);
    assert_eq!(st.status, SyncStatus::Waiting);
    assert!(st.linked_skus.is_empty());
    assert!(st.waiting_for_products.is_empty());
    assert_eq!(st.last_error, None);
    assert_eq!(st.dispatched_ms, None);
    assert_eq!(st.last_latency_ms, None);
    let counts = backlog(store).await;
    assert_eq!(counts.asset_work, 1);
    assert_eq!(counts.waiting_assets, 1);
    assert_eq!(counts.sku_work, 0);

    let work = claim_one_asset(store, T0).await;
    assert_eq!(work.asset_id, a);
    assert!(!work.deleted);
    assert!(!work.missing_once);
    assert_eq!(work.attempt, 1);
    assert!(work.generation >= 1);
}

pub async fn deleted_event_marks_the_work_deleted<S: Store>(store: &S) {
    let (a, b, c) = (asset(1), asset(2), asset(3));
    record(
        store,
        &[
            changed("ev-1", &a, T0),
            deleted("ev-2", &a, T0 + 1),
            deleted("ev-3", &b, T0),
            changed("ev-4", &c, T0),
        ],
    )
    .await;
    // A later change hint does not undo a deletion that was not read yet.
    record(store, &[changed("ev-5", &b, T0 + 2)]).await;
    let mut work = claim_assets(store, T0 + 10).await;
    work.sort_by(|x, y| x.asset_id.cmp(&y.asset_id));
    let flags: Vec<(AssetId, bool)> = work
        .iter()
        .map(|w| (w.asset_id.clone(), w.deleted))
        .collect();
    assert_eq!(flags, vec![(a, true), (b, true), (c, false)]);
}

pub async fn hints_for_one_asset_coalesce<S: Store>(store: &S) {
    let (a, b) = (asset(1), asset(2));
    record(
        store,
        &[
            changed("ev-1", &a, T0),
            changed("ev-2", &a, T0 + 1),
            changed("ev-3", &b, T0),
        ],
    )
    .await;
    record(store, &[changed("ev-4", &a, T0 + 2)]).await;
    assert_eq!(backlog(store).await.asset_work, 2);
    assert_eq!(backlog(store).await.waiting_assets, 2);

    let work = claim_assets(store, T0 + 10).await;
    let ids = sorted(work.iter().map(|w| w.asset_id.clone()).collect());
    assert_eq!(ids, vec![a.clone(), b.clone()]);

    // One read of `a` answers all three hints.
    let work_a = work.iter().find(|w| w.asset_id == a).unwrap();
    store
        .complete_asset(work_a, links(Vec::new()), T0 + 20)
        .await
        .unwrap();
    assert_eq!(backlog(store).await.asset_work, 1);
    assert_eq!(status(store, &a).await.status, SyncStatus::Success);
    let left: Vec<AssetId> = claim_assets(store, T0 + LEASE + 1_000)
        .await
        .into_iter()
        .map(|w| w.asset_id)
        .collect();
    assert_eq!(left, vec![b]);
}

pub async fn claim_respects_limit<S: Store>(store: &S) {
    let assets = [asset(1), asset(2), asset(3)];
    for (i, a) in assets.iter().enumerate() {
        record(store, &[changed(&format!("ev-{i}"), a, T0)]).await;
    }
    let first = store.claim_asset_work(T0, 2, LEASE).await.unwrap();
    assert_eq!(first.len(), 2);
    let second = store.claim_asset_work(T0, 2, LEASE).await.unwrap();
    assert_eq!(second.len(), 1);
    assert!(
        store
            .claim_asset_work(T0, 2, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    let all = sorted(
        first
            .iter()
            .chain(&second)
            .map(|w| w.asset_id.clone())
            .collect(),
    );
    assert_eq!(all, assets.to_vec());
}

pub async fn claims_go_in_order_of_when_the_work_is_due<S: Store>(store: &S) {
    let (a, b, c) = (asset(1), asset(2), asset(3));
    record(
        store,
        &[
            changed("ev-c", &c, T0 + 20),
            changed("ev-a", &a, T0),
            changed("ev-b", &b, T0 + 10),
        ],
    )
    .await;
    let first = store.claim_asset_work(T0 + 30, 1, LEASE).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].asset_id, a, "the work due first goes first");

    // Put off to a later retry, `a` goes behind `c`; `b` is next.
    store
        .complete_asset(
            &first[0],
            AssetOutcome::Failed {
                error: "time-out".to_owned(),
                retry_at_ms: Some(T0 + 25),
            },
            T0 + 30,
        )
        .await
        .unwrap();
    let order: Vec<Vec<AssetId>> = {
        let mut order = Vec::new();
        for _ in 0..4 {
            let work = store.claim_asset_work(T0 + 30, 1, LEASE).await.unwrap();
            order.push(work.into_iter().map(|w| w.asset_id).collect());
        }
        order
    };
    assert_eq!(order, vec![vec![b], vec![c], vec![a], Vec::new()]);
}

pub async fn the_journal_position_is_kept<S: Store>(store: &S) {
    assert_eq!(store.journal_position().await.unwrap(), None);
    store.set_journal_position("position-1").await.unwrap();
    assert_eq!(
        store.journal_position().await.unwrap().as_deref(),
        Some("position-1")
    );
    store.set_journal_position("position-2").await.unwrap();
    assert_eq!(
        store.journal_position().await.unwrap().as_deref(),
        Some("position-2"),
        "the newest position replaces the last"
    );
    // Recording events leaves it where it was (it moves only when told).
    record(store, &[changed("ev-1", &asset(1), T0)]).await;
    assert_eq!(
        store.journal_position().await.unwrap().as_deref(),
        Some("position-2")
    );
}

pub async fn queued_asset_work_keeps_its_place_when_hinted_again<S: Store>(store: &S) {
    let (a, b) = (asset(1), asset(2));
    record(
        store,
        &[changed("ev-a1", &a, T0), changed("ev-b", &b, T0 + 10)],
    )
    .await;
    // `a` changes again before any worker got to it: it keeps its place ahead of `b`, else an asset that
    // changes more often than the queue drains would never be read.
    record(store, &[changed("ev-a2", &a, T0 + 20)]).await;
    let first = store.claim_asset_work(T0 + 30, 1, LEASE).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].asset_id, a, "the work waiting longest goes first");
}
