//! A paused sink: its work waits without being tried and without counting attempts, and goes once the sink
//! is ready again.

use crate::fake_sink::Ended;
use crate::harness::{Harness, row, sku};
use serde_json::json;
use store::SyncStatus;

/// The sink is paused before any work arrives: the asset is read and its SKU queued, but no apply is
/// tried and no attempt counted, however often the workers pass; the sink is probed once per
/// `pause_probe` of the engine's clock. Once it is ready, the gallery is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_sink_gets_no_attempts_until_it_is_ready() {
    let h = Harness::started().await;
    let product = sku("P-1");
    h.add_product(&product).await;
    h.sink.pause();
    let asset = h.approved_asset(json!({
        "commerce:skus": ["P-1"],
        "commerce:roles": ["image;thumbnail"],
    }));
    h.hint(&asset).await;

    h.wait_until("the asset to be read and its SKU queued", || async {
        h.product_status(&product).await.claims == 1 && h.gallery_work(&product).await.is_some()
    })
    .await;
    h.worker_passes(10).await;
    assert!(h.sink.calls().is_empty(), "a paused sink was handed work");
    let work = h.gallery_work(&product).await.unwrap();
    assert_eq!(work.attempt, 0, "attempts counted while paused: {work:?}");
    assert_eq!(h.asset_status(&asset).await, Some(SyncStatus::Waiting));
    assert_eq!(
        h.sink.probes(),
        1,
        "probed once per pause_probe, not per pass"
    );
    // The next pass probes again: `pause_probe` ran out on the engine's clock.
    h.clock.advance(h.settings.pause_probe);
    h.worker_passes(10).await;
    assert_eq!(h.sink.probes(), 2, "probed once per pause_probe");
    assert!(h.sink.calls().is_empty(), "a paused sink was handed work");
    assert_eq!(h.gallery_work(&product).await.unwrap().attempt, 0);

    h.sink.set_ready();
    h.wait_for_gallery(&product, &[row(&asset, 1, &["image", "thumbnail"])])
        .await;
    assert_eq!(h.sink.calls_of(&product).len(), 1);
    assert_eq!(h.asset_status(&asset).await, Some(SyncStatus::Success));
}

/// The sink refuses a write with a 401 and pauses itself (as Magento does): the SKU is deferred by
/// `pause_probe` of the engine's clock with no attempt counted, nothing more is tried while the sink is
/// paused, and once it is ready and the deferral ran out the gallery is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_that_pauses_on_a_write_defers_the_work_without_counting_it() {
    let h = Harness::started().await;
    let product = sku("P-2");
    h.add_product(&product).await;
    h.sink.pause_on_next_apply(&product);
    let asset = h.approved_asset(json!({ "commerce:skus": ["P-2"] }));
    h.hint(&asset).await;

    let probe = i64::try_from(h.settings.pause_probe.as_millis()).unwrap();
    h.wait_until("the refused write to be deferred", || async {
        h.gallery_work(&product)
            .await
            .is_some_and(|w| w.run_at_ms == h.now() + probe)
    })
    .await;
    assert_eq!(h.gallery_work(&product).await.unwrap().attempt, 0);
    assert!(matches!(
        h.sink.calls_of(&product)[0].ended,
        Ended::Failed(connectors::sink::SinkError::Unauthorized(401))
    ));

    // Paused: probes answer so, and nothing is handed to the sink, even once the deferral ran out.
    h.clock.advance(h.settings.pause_probe);
    h.worker_passes(10).await;
    assert_eq!(h.sink.calls().len(), 1, "a paused sink was handed work");
    assert_eq!(h.gallery_work(&product).await.unwrap().attempt, 0);
    assert!(h.sink.probes() > 0, "a paused sink is probed");

    h.sink.set_ready();
    h.wait_for_gallery(&product, &[row(&asset, 1, &[])]).await;
    assert_eq!(h.sink.calls_of(&product).len(), 2);
    assert_eq!(h.asset_status(&asset).await, Some(SyncStatus::Success));
}
