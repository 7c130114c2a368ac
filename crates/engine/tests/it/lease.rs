//! A lost lease: a worker stuck in the sink past its lease loses the SKU to another claim, and what it
//! would have written is dropped.

use crate::fake_sink::Ended;
use crate::harness::{Harness, row, sku};
use serde_json::json;
use std::time::Duration;
use store::SyncStatus;
use store::prelude::*;

/// The first write of a SKU hangs in the sink. Meanwhile the asset changes, and the engine's clock jumps
/// past the lease before any renewal (renewals run every `lease / 3` of real time, 20 s here). Another
/// worker claims the SKU and writes the new gallery. When the first worker goes on, its lease check
/// fails: it writes nothing, its stale gallery never reaches the sink nor the store, and no two writes
/// of the SKU ever overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_lost_its_lease_writes_nothing() {
    let h = Harness::started().await;
    let product = sku("L-1");
    h.add_product(&product).await;
    h.sink.hold(&product);
    let asset = h.approved_asset(json!({
        "commerce:skus": ["L-1"],
        "commerce:roles": ["image"],
    }));
    h.hint(&asset).await;
    h.wait_until("the first write to reach the sink", || async {
        h.sink.is_held(0)
    })
    .await;

    // The asset changes while the first worker holds the SKU: its work is queued again behind the lease.
    h.update(&asset, json!({ "commerce:roles": ["image;thumbnail"] }));
    h.hint(&asset).await;
    h.wait_until("the new roles to be claimed", || async {
        let claims = h.store.asset_claims(&asset).await.unwrap();
        claims.len() == 1 && claims[0].roles.len() == 2
    })
    .await;
    h.worker_passes(5).await;
    assert_eq!(
        h.sink.calls().len(),
        1,
        "the SKU was claimed again while leased"
    );

    h.clock.advance(h.settings.lease + Duration::from_secs(1));
    h.wait_until("another worker to claim the SKU", || async {
        h.sink.is_held(1)
    })
    .await;
    assert_eq!(h.sink.calls()[1].sku, product);

    // The second worker writes the new gallery and stores it.
    let expected = [row(&asset, 1, &["image", "thumbnail"])];
    h.sink.release(1);
    h.wait_for_gallery(&product, &expected).await;

    // The first worker goes on: it finds its lease lost and writes nothing.
    h.sink.release(0);
    h.wait_until("the first worker to stop", || async {
        h.sink.calls()[0].ended != Ended::Running
    })
    .await;
    assert_eq!(h.sink.calls()[0].ended, Ended::LeaseLost);
    assert_eq!(h.sink.writes_of(&product), 1);
    assert_eq!(h.sink.most_writes_at_once(), 1);
    h.worker_passes(5).await;
    h.wait_for_gallery(&product, &expected).await;
    assert_eq!(h.sink.calls().len(), 2, "{:?}", h.sink.calls());
    assert_eq!(h.asset_status(&asset).await, Some(SyncStatus::Success));
}
