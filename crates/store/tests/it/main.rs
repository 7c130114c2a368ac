#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The store crate's one integration-test binary: a conformance suite for the [`store::Store`] trait.
//!
//! Every check in [`conformance`] is generic over the trait (or over a [`harness::Harness`] when it needs to reopen
//! the database) and asserts outcomes through the public trait only. `conformance_suite!` instantiates all of them
//! for one backend; a new backend (PostgreSQL) runs the same suite by adding a harness and one line at the bottom.

// The crate is `assetsync-store`; the rest of the workspace knows it as `store`, and so do these tests.
extern crate assetsync_store as store;

mod conformance;
mod harness;

/// Instantiates every conformance check as a `#[tokio::test]` for one backend, in a module named `$backend`.
macro_rules! conformance_suite {
    ($backend:ident, $harness:ty) => {
        mod $backend {
            use crate::harness::Harness;

            conformance_suite!(@store $harness;
                records_events_once,
                batch_outcomes_follow_event_order,
                unused_events_are_counted_and_queue_no_work,
                asset_event_queues_work_and_sets_waiting,
                deleted_event_marks_the_work_deleted,
                hints_for_one_asset_coalesce,
                claim_respects_limit,
                claimed_asset_work_is_leased_until_it_expires,
                release_all_leases_makes_leased_work_claimable,
                complete_asset_stores_claims_and_queues_changed_skus,
                newer_hint_during_lease_keeps_work_queued,
                empty_links_unlink_the_asset,
                failed_asset_keeps_claims,
                failed_asset_with_retry_is_requeued_at_that_time,
                missing_once_flags_the_next_claim,
                applied_gallery_is_in_position_order,
                product_missing_waits_for_the_product,
                upsert_products_counts_new_products,
                a_partly_applied_sku_stores_what_was_written_and_fails_the_refused_asset_alone,
                added_links_join_the_claims_and_keep_the_asset_waiting,
                failed_sku_with_retry_then_applied,
                permanent_sku_failure_is_not_cleared_by_another_sku,
                sku_change_during_lease_requeues_the_sku,
                asset_status_of_unknown_asset_is_none,
                sync_latencies_measure_event_to_applied,
                a_stale_asset_claim_writes_nothing,
                a_stale_sku_claim_writes_nothing,
                the_configuration_and_its_history_are_kept,
                one_full_sync_runs_and_one_waits,
                full_sync_pages_move_the_cursor_and_yield_to_live_work,
                pruning_keeps_what_is_recent_or_still_needed,
            );

            #[tokio::test]
            async fn state_survives_reopening() {
                crate::conformance::state_survives_reopening::<$harness>().await;
            }
        }
    };
    (@store $harness:ty; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let harness = <$harness>::fresh().await;
                crate::conformance::$name(harness.store()).await;
            }
        )*
    };
}

conformance_suite!(sqlite, crate::harness::SqliteHarness);

/// What only the embedded backend promises: one process per database file.
mod sqlite_only {
    #[tokio::test]
    async fn a_second_store_on_the_same_file_is_refused_until_the_first_is_gone() {
        let dir = tempfile::TempDir::new().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let first = store::open(&url).await.unwrap();
        let second = store::open(&url).await;
        assert!(
            matches!(second, Err(store::StoreError::InUse(_))),
            "a second process must not share the file"
        );
        drop(first);
        assert!(
            store::open(&url).await.is_ok(),
            "the lock goes with the first store"
        );
    }
}
