#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The store crate's one integration-test binary: a conformance suite for the [`store::Store`] trait, and a
//! model-based property test of the asset work queue and the event log ([`model`]).
//!
//! Every check in [`conformance`] is generic over the trait (or over a [`harness::Harness`] when it needs to reopen
//! the database) and asserts outcomes through the public trait only; each runs through a [`recording::Recording`]
//! so the suite knows which storage methods it calls. `conformance_suite!` instantiates all of them
//! for one backend; a new backend (PostgreSQL) runs the same suite by adding a harness and one line at the bottom.

// The crate is `assetsync-store`; the rest of the workspace knows it as `store`, and so do these tests.
extern crate assetsync_store as store;

mod conformance;
mod hardening;
mod harness;
mod model;
mod recording;

/// Instantiates, for one backend (its harness), in a module named `$backend`: every conformance check as a
/// `#[tokio::test]` on a fresh store wrapped in a [`recording::Recording`], and `every_storage_method_is_called`,
/// which runs every check in turn through one shared recorder and fails when a method of `store::METHODS` was
/// never called. A check takes the store (`store: [...]`) or, to reopen the database, the harness
/// (`harness: [...]`).
macro_rules! conformance_suite {
    ($backend:ident, $harness:ty) => {
        conformance_suite!(@suite $backend, $harness;
            store: [
                records_events_once,
                batch_outcomes_follow_event_order,
                unused_events_are_counted_and_queue_no_work,
                asset_event_queues_work_and_sets_waiting,
                deleted_event_marks_the_work_deleted,
                hints_for_one_asset_coalesce,
                claim_respects_limit,
                claims_go_in_order_of_when_the_work_is_due,
                queued_asset_work_keeps_its_place_when_hinted_again,
                the_journal_position_is_kept,
                claimed_asset_work_is_leased_until_it_expires,
                release_all_leases_makes_leased_work_claimable,
                a_stale_asset_claim_writes_nothing,
                a_stale_sku_claim_writes_nothing,
                completions_of_many_assets_fail_alone_when_their_lease_is_lost,
                completions_of_many_skus_fail_alone_when_their_lease_is_lost,
                complete_asset_stores_claims_and_queues_changed_skus,
                newer_hint_during_lease_keeps_work_queued,
                empty_links_unlink_the_asset,
                failed_asset_keeps_claims,
                failed_asset_with_retry_is_requeued_at_that_time,
                missing_once_flags_the_next_claim,
                asset_status_of_unknown_asset_is_none,
                the_sync_status_listing_pages_through_every_order,
                the_sync_status_listing_filters_by_status_id_and_sku,
                an_assets_history_lists_its_events_newest_first,
                every_claim_is_listed_by_asset_and_sku,
                the_stalest_assets_are_read_again,
                applied_gallery_is_in_position_order,
                product_missing_waits_for_the_product,
                a_partly_applied_sku_stores_what_was_written_and_fails_the_refused_asset_alone,
                failed_sku_with_retry_then_applied,
                permanent_sku_failure_is_not_cleared_by_another_sku,
                sku_change_during_lease_requeues_the_sku,
                a_queued_gallery_keeps_its_place_when_changed_again,
                a_forgotten_entry_is_written_again,
                unknown_store_views_and_videos_are_kept_with_the_applied_entry,
                requeued_galleries_are_bulk_work,
                added_links_join_the_claims_and_keep_the_asset_waiting,
                upsert_products_counts_new_products,
                a_removed_product_drops_its_links,
                a_product_status_shows_its_work,
                handmade_entries_keep_their_first_prior_state,
                manual_links_are_kept_until_removed_by_hand,
                products_are_paged_by_prefix_in_sku_order,
                the_configuration_and_its_history_are_kept,
                one_full_sync_runs_and_one_waits,
                full_sync_pages_move_the_cursor_and_yield_to_live_work,
                a_page_read_before_a_live_outcome_does_not_overwrite_it,
                full_sync_phases_reset_the_cursor,
                sync_latencies_measure_event_to_applied,
                pruning_keeps_what_is_recent_or_still_needed,
                the_database_size_grows_with_what_it_holds,
                dead_letters_are_replayed_one_or_all,
                a_held_lease_is_renewed_and_a_lost_one_is_not,
                a_paused_read_counts_no_attempt_and_keeps_the_links,
                a_product_event_is_committed_with_its_effect,
                a_configuration_change_is_committed_with_its_work,
                product_calls_are_durable_work_retried_and_given_up,
                full_sync_products_queue_their_calls_in_the_same_transaction,
                a_duty_is_led_by_one_at_a_time,
                queued_work_wakes_the_other_processes,
                the_gallery_feed_reports_every_change_of_what_is_served,
                the_configuration_version_moves_with_every_save,
                process_reports_are_replaced_and_forgotten,
                users_are_added_once_listed_and_removed_with_their_sessions,
                sessions_expire_when_idle_or_old_and_end_at_sign_out,
                failed_sign_ins_are_counted_per_key_and_cleared,
            ],
            harness: [state_survives_reopening],
        );
    };
    (@suite $backend:ident, $harness:ty;
        store: [$($check:ident),* $(,)?],
        harness: [$($reopening:ident),* $(,)?] $(,)?
    ) => {
        mod $backend {
            use crate::harness::Harness;
            use crate::recording::{Calls, Recording};

            $(
                #[tokio::test]
                async fn $check() {
                    let harness = Recording::<$harness>::fresh().await;
                    crate::conformance::$check(harness.store()).await;
                }
            )*

            $(
                #[tokio::test]
                async fn $reopening() {
                    crate::conformance::$reopening(Recording::<$harness>::fresh().await).await;
                }
            )*

            /// Runs every check, each on a fresh store (beside the first: PostgreSQL, a schema of one
            /// database), noting the methods called: each one of `store::METHODS` must be.
            #[tokio::test]
            async fn every_storage_method_is_called() {
                use crate::harness::Harness as _;
                let calls = Calls::default();
                let first = <$harness>::fresh().await;
                $(
                    {
                        let harness = Recording::over(first.sibling().await, calls.clone());
                        crate::conformance::$check(harness.store()).await;
                    }
                )*
                $(
                    crate::conformance::$reopening(
                        Recording::over(first.sibling().await, calls.clone()),
                    )
                    .await;
                )*
                let never = calls.never_called(store::METHODS);
                assert!(never.is_empty(), "no conformance check calls {never:?}");
            }
        }
    };
}

conformance_suite!(sqlite, crate::harness::SqliteHarness);
conformance_suite!(postgres, crate::harness::PostgresHarness);

mod migrations;

/// What only the shared backend must get right: many writers committing in any order.
mod postgres_only {
    use crate::harness::{Harness, PostgresHarness};

    #[tokio::test]
    async fn a_change_committed_out_of_order_is_not_missed() {
        crate::conformance::a_change_committed_out_of_order_is_not_missed(
            PostgresHarness::fresh().await,
        )
        .await;
    }
}

/// What only the embedded backend promises: one process per database file.
mod sqlite_only {
    /// The bench's seed: set-based, and what it writes reads back through the listing.
    #[tokio::test]
    async fn seeded_statuses_are_listed_by_status_and_sku() {
        use store::prelude::*;
        use store::{AssetListQuery, AssetSort, SyncStatus};
        let dir = tempfile::TempDir::new().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let store = store::SqliteStore::open(&url).await.unwrap();
        store
            .seed_sync_statuses(1_000, 5_000_000_000)
            .await
            .unwrap();
        let count = |status| {
            let store = &store;
            async move {
                let mut q = AssetListQuery {
                    status: Some(status),
                    limit: 500,
                    sort: AssetSort::AssetIdAsc,
                    ..AssetListQuery::default()
                };
                let mut n = 0;
                loop {
                    let page = store.list_assets(&q).await.unwrap();
                    n += page.rows.len();
                    assert!(page.rows.iter().all(|r| r.status == status));
                    if !page.has_next {
                        return n;
                    }
                    q.cursor = page.rows.last().map(|r| r.cursor());
                }
            }
        };
        assert_eq!(count(SyncStatus::Failed).await, 30);
        assert_eq!(count(SyncStatus::Waiting).await, 50);
        assert_eq!(count(SyncStatus::Success).await, 920);
        let sku = domain::Sku::parse(&store::seeded_sku(9)).unwrap();
        let page = store
            .list_assets(&AssetListQuery {
                sku: Some(sku.clone()),
                limit: 50,
                ..AssetListQuery::default()
            })
            .await
            .unwrap();
        let ids: Vec<String> = page
            .rows
            .iter()
            .map(|r| r.asset_id.as_str().to_owned())
            .collect();
        let mut expected: Vec<String> = (8..12).map(store::seeded_asset_id).collect();
        expected.sort();
        let mut got = ids.clone();
        got.sort();
        assert_eq!(got, expected);
        // Asset 9 is linked (Success), and its status and claims read back.
        let nine = domain::AssetId::parse(&store::seeded_asset_id(9)).unwrap();
        let status = store.asset_status(&nine).await.unwrap().unwrap();
        assert_eq!(status.status, SyncStatus::Success);
        assert_eq!(status.linked_skus, vec![sku]);
        assert_eq!(store.asset_claims(&nine).await.unwrap().len(), 1);
        assert_eq!(store.backlog().await.unwrap().failed_assets, 30);
    }

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

    /// The matcher secret is stored sealed; one stored in plain text before is sealed when the store opens;
    /// another key cannot open it (the store refuses to start rather than lose it).
    #[tokio::test]
    async fn the_matcher_secret_is_sealed_at_rest_and_needs_its_key() {
        use domain::config::{IntegrationConfig, UrlPolicy};
        use store::secrets::{SecretKey, SecretKeyError};
        const SECRET: &str = "sealed-secret-value-9173";
        let dir = tempfile::TempDir::new().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let path = dir.path().join("t.db");
        let raw = || async {
            rusqlite::Connection::open(&path)
                .unwrap()
                .query_row(
                    "SELECT value FROM settings WHERE key = 'integration'",
                    [],
                    |r| r.get::<_, String>(0),
                )
                .unwrap()
        };
        let base = IntegrationConfig::defaults("1", "2");
        let (config, changes) = base
            .apply_change(
                &serde_json::json!({ "matcher_client_id": "c", "matcher_client_secret": SECRET }),
                &base,
                UrlPolicy::HttpsOnly,
            )
            .unwrap();
        let store = store::open(&url).await.unwrap();
        store
            .save_integration_config(&config, &changes, 1)
            .await
            .unwrap();
        assert!(!raw().await.contains(SECRET), "{}", raw().await);
        assert_eq!(
            store.integration_config().await.unwrap(),
            Some(config.clone())
        );

        // A plaintext value written by an older version is sealed at the next open.
        let plain = serde_json::to_string(&config).unwrap();
        assert!(plain.contains(SECRET));
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute(
                "UPDATE settings SET value = ? WHERE key = 'integration'",
                [&plain],
            )
            .unwrap();
        assert_eq!(
            store.integration_config().await.unwrap(),
            Some(config.clone())
        );
        drop(store);
        let store = store::open(&url).await.unwrap();
        assert!(!raw().await.contains(SECRET), "{}", raw().await);
        assert_eq!(store.integration_config().await.unwrap(), Some(config));
        drop(store);

        let other = SecretKey::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
        assert!(matches!(
            store::open_with_secret_key(&url, Some(other)).await,
            Err(store::StoreError::Secret(SecretKeyError::Undecryptable))
        ));
    }

    /// A database an earlier release wrote rows into under the SKU `..` (refused since): migration 6 drops
    /// them, so every stored SKU parses and the service starts.
    #[tokio::test]
    async fn rows_under_dot_segment_skus_are_dropped_by_the_migration() {
        // The schema of the release before migration 6: migrations 1 to 5, applied as the migrator does.
        const BEFORE: [&str; 5] = [
            include_str!("../../migrations/sqlite/V1__foundation.sql"),
            include_str!("../../migrations/sqlite/V2__configuration.sql"),
            include_str!("../../migrations/sqlite/V3__full_sync.sql"),
            include_str!("../../migrations/sqlite/V4__handmade_entries.sql"),
            include_str!("../../migrations/sqlite/V5__dead_letters.sql"),
        ];
        let dir = tempfile::TempDir::new().unwrap();
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        {
            let connection =
                crate::migrations::made_by_the_old_migrator(&dir.path().join("t.db"), &BEFORE);
            connection
                .execute_batch(
                    "INSERT INTO products (sku, created_ms) VALUES ('..', 1), ('.', 1), ('ok', 1);
                     INSERT INTO sku_work (sku, generation, run_at_ms, first_enqueued_ms) VALUES ('..', 1, 0, 0);
                     INSERT INTO missing_products (sku, since_ms) VALUES ('.', 0);",
                )
                .unwrap();
        }
        let store = store::open(&url).await.unwrap();
        let galleries = store.all_galleries().await.unwrap();
        let skus: Vec<&str> = galleries.iter().map(|(sku, _)| sku.as_str()).collect();
        assert_eq!(skus, ["ok"]);
        assert!(store.claim_sku_work(1, 10, 1_000).await.unwrap().is_empty());
    }
}
