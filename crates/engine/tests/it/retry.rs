//! A retryable sink failure: the SKU waits for its backoff on the engine's clock, not on the wall clock.

use crate::fake_sink::Ended;
use crate::harness::{Harness, row, sku};
use serde_json::json;
use store::SyncStatus;

/// The sink answers 503 twice. Each failure counts an attempt and puts the SKU off by the backoff
/// (500 ms, then 1 s, ±20 %) on the manual clock: however many passes the workers make, nothing is tried
/// before that time, even 1 ms before it; at it, the next attempt goes, and the third one writes the
/// gallery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_waits_for_its_backoff_on_the_engine_clock() {
    let h = Harness::started().await;
    let product = sku("R-1");
    h.add_product(&product).await;
    h.sink.fail_next(&product, 2);
    let asset = h.approved_asset(json!({
        "commerce:skus": ["R-1"],
        "commerce:roles": ["image"],
        "commerce:positions": [1],
    }));
    h.hint(&asset).await;

    let mut due = h.now();
    for (attempt, backoff) in [(1, 500), (2, 1_000)] {
        let calls = usize::try_from(attempt).unwrap();
        h.wait_until("the failed attempt to be stored", || async {
            h.sink.calls_of(&product).len() > calls
                || h.gallery_work(&product)
                    .await
                    .is_some_and(|w| w.attempt == attempt && w.run_at_ms > h.now())
        })
        .await;
        assert_eq!(
            h.sink.calls_of(&product).len(),
            calls,
            "tried again before its backoff ran out"
        );
        let work = h.gallery_work(&product).await.unwrap();
        assert!(
            work.last_error.as_deref().unwrap_or("").contains("503"),
            "{work:?}"
        );
        let delay = work.run_at_ms - due;
        assert!(
            (backoff * 8 / 10..=backoff * 12 / 10).contains(&delay),
            "attempt {attempt}: put off by {delay} ms on the engine clock, not {backoff} ± 20 %"
        );

        // The clock stands still: the workers pass, and pass again 1 ms before the SKU is due.
        h.worker_passes(5).await;
        h.clock.set(work.run_at_ms - 1);
        h.worker_passes(5).await;
        assert_eq!(
            h.sink.calls_of(&product).len(),
            calls,
            "tried again before its backoff ran out"
        );
        assert_eq!(h.gallery_work(&product).await.unwrap().attempt, attempt);

        h.clock.set(work.run_at_ms);
        due = work.run_at_ms;
    }

    h.wait_for_gallery(&product, &[row(&asset, 1, &["image"])])
        .await;
    let calls = h.sink.calls_of(&product);
    let ends: Vec<_> = calls.iter().map(|c| &c.ended).collect();
    assert!(
        matches!(
            ends.as_slice(),
            [Ended::Failed(_), Ended::Failed(_), Ended::Applied]
        ),
        "{calls:?}"
    );
    assert_eq!(h.asset_status(&asset).await, Some(SyncStatus::Success));
    assert!(h.engine().dead_letters().await.unwrap().is_empty());
}
