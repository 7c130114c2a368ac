//! Every query that runs on a timer or per request uses an index: checked with `EXPLAIN QUERY PLAN` on the
//! migrated schema. A plan step that scans a table without an index, or sorts in a temporary b-tree, fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{assets, bulk, bulk_skus, cluster, maintenance, migrate_in};
use rusqlite::Connection;

/// The queries of prune, anti-entropy, backlog and health, the full sync's progress, the work claims, and the
/// cluster's polls (gallery feed, configuration version, process reports).
const WATCHED: &[(&str, &str)] = &[
    ("prune: events", maintenance::PRUNE_EVENTS),
    ("prune: full syncs", maintenance::PRUNE_FULL_SYNCS),
    ("prune: assets", maintenance::PRUNE_ASSETS),
    ("health: assets in a status", maintenance::ASSETS_IN_STATUS),
    ("health: oldest waiting asset", maintenance::OLDEST_WAITING),
    ("health: oldest queued gallery", maintenance::OLDEST_SKU_WORK),
    (
        "health: counters",
        "SELECT COALESCE(MAX(value), 0) FROM counters WHERE name = ?",
    ),
    ("anti-entropy: stalest assets", assets::REQUEUE_STALEST),
    (
        "full sync: progress",
        "SELECT state, phase, cursor, done, total FROM full_syncs WHERE id = ?",
    ),
    (
        "full sync: the running one",
        "SELECT id FROM full_syncs WHERE state = 'running' LIMIT 1",
    ),
    (
        "claim: asset work",
        "SELECT asset_id FROM asset_work
         WHERE run_at_ms <= ?1 AND (lease_until_ms IS NULL OR lease_until_ms < ?1)
         ORDER BY run_at_ms LIMIT ?2",
    ),
    (
        "claim: gallery work",
        "SELECT sku FROM sku_work
         WHERE run_at_ms <= ?1 AND (lease_until_ms IS NULL OR lease_until_ms < ?1)
         ORDER BY priority, run_at_ms LIMIT ?2",
    ),
    ("cluster: gallery feed poll", cluster::FEED_SINCE),
    (
        "cluster: gallery feed position",
        "SELECT COALESCE(MAX(seq), 0) FROM gallery_feed",
    ),
    ("cluster: process reports", cluster::REPORTS_SINCE),
    // A batch's statement, but its one search not by a batch key is the feed's newest sequence number: the
    // end of an index, whatever the catalog's size.
    ("cluster: applied galleries in the feed", cluster::GALLERIES_CHANGED),
    (
        "cluster: forget old process reports",
        "DELETE FROM process_reports WHERE updated_ms < ?1",
    ),
    (
        "cluster: configuration version",
        "SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'integration_version'",
    ),
    (
        "claim: product calls",
        "SELECT sku FROM product_calls
         WHERE state = 'queued' AND run_at_ms <= ?1 AND (lease_until_ms IS NULL OR lease_until_ms < ?1)
         ORDER BY run_at_ms LIMIT ?2",
    ),
];

fn plan(conn: &Connection, sql: &str) -> Vec<String> {
    let Ok(mut statement) = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")) else {
        return vec![format!("does not prepare: {sql}")];
    };
    // The plan does not depend on the values: bind NULL to every parameter.
    let nulls = vec![rusqlite::types::Null; statement.parameter_count()];
    let Ok(rows) = statement.query_map(rusqlite::params_from_iter(nulls), |row| {
        row.get::<_, String>(3)
    }) else {
        return vec![format!("does not run: {sql}")];
    };
    rows.map(|row| row.unwrap_or_else(|e| format!("error: {e}")))
        .collect()
}

/// A plan step that reads a whole table, or sorts what it read. Reading the JSON array a batch is bound as
/// (`json_each`, a virtual table) reads the batch, not a table; a sort right after a search by one key sorts
/// that key's rows (one asset's refusals), not a table.
fn is_full_scan(step: &str, previous: Option<&str>) -> bool {
    let scans = step.starts_with("SCAN ")
        && !step.contains("VIRTUAL TABLE")
        && !step.contains("USING INDEX")
        && !step.contains("USING COVERING INDEX")
        && !step.contains("USING INTEGER PRIMARY KEY");
    let sorts_one_key = step == "USE TEMP B-TREE FOR ORDER BY" && previous.is_some_and(by_key);
    scans || (step.contains("USE TEMP B-TREE") && !sorts_one_key) || step.starts_with("does not")
}

/// A search by an asset's, a SKU's or a row's key (not by a status or a time, which many rows share).
fn by_key(step: &str) -> bool {
    step.starts_with("SEARCH ")
        && step.rsplit_once(" (").is_some_and(|(_, terms)| {
            ["asset_id=?", "sku=?", "rowid=?"]
                .iter()
                .any(|key| terms.starts_with(key))
        })
}

/// The statements a batch (a full sync's page, a group of outcomes) runs: each must be driven by the batch's
/// keys, so that its cost does not grow with the catalog. Every search is by a key: a search through an index
/// that many rows share (assets in a status) reads more the larger the catalog is.
const BATCH: &[(&str, &str)] = &[
    ("full sync page: old claims", bulk::OLD_CLAIMS),
    ("full sync page: waiting since", bulk::WAITING_SINCE),
    ("full sync page: dropped claims", bulk::DELETE_CLAIMS),
    ("full sync page: written claims", bulk::UPSERT_CLAIMS),
    ("full sync page: queued SKUs", bulk::ENQUEUE_SKUS),
    ("full sync page: requeued SKUs", bulk::BUMP_SKUS),
    ("full sync page: hastened SKUs", bulk::HASTEN_SKUS),
    ("full sync page: pending assets", bulk::MARK_PENDING),
    ("full sync page: assets", bulk::UPSERT_ASSETS),
    ("full sync page: settled assets", bulk::SETTLE_ASSETS),
    ("full sync page: refused assets", bulk::MARK_REFUSED),
    ("full sync page: invalid assets", bulk::UPSERT_INVALID),
    ("full sync page: seen assets", bulk::MARK_SEEN),
    ("applied galleries: leases", bulk_skus::LEASES),
    ("applied galleries: cleared", bulk_skus::CLEAR_GALLERIES),
    ("applied galleries: entries", bulk_skus::INSERT_ENTRIES),
    (
        "applied galleries: products found",
        bulk_skus::FOUND_PRODUCTS,
    ),
    (
        "applied galleries: pending resolved",
        bulk_skus::RESOLVE_PENDING,
    ),
    ("applied galleries: work finished", bulk_skus::FINISH_WORK),
    ("applied galleries: work released", bulk_skus::RELEASE_WORK),
];

fn scans(steps: &[String]) -> bool {
    steps
        .iter()
        .enumerate()
        .any(|(i, step)| is_full_scan(step, i.checked_sub(1).map(|p| steps[p].as_str())))
}

/// A batch statement's search that is not by a key.
fn searches_beside_the_keys(steps: &[String]) -> bool {
    steps
        .iter()
        .any(|step| step.starts_with("SEARCH ") && !by_key(step))
        || steps.iter().any(|step| step.starts_with("MULTI-INDEX OR"))
}

#[test]
fn every_watched_query_uses_an_index() {
    let conn = Connection::open_in_memory().unwrap();
    migrate_in(&conn).unwrap();
    let mut offenders = Vec::new();
    for (name, sql) in WATCHED.iter().chain(BATCH) {
        let steps = plan(&conn, sql);
        if scans(&steps) {
            offenders.push(format!("{name}: {steps:?}"));
        }
    }
    for (name, sql) in BATCH {
        let steps = plan(&conn, sql);
        if searches_beside_the_keys(&steps) {
            offenders.push(format!("{name} (not by the batch's keys): {steps:?}"));
        }
    }
    assert!(
        offenders.is_empty(),
        "full scans:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_check_catches_a_query_without_an_index() {
    let conn = Connection::open_in_memory().unwrap();
    migrate_in(&conn).unwrap();
    let steps = plan(&conn, "SELECT COUNT(*) FROM assets WHERE last_error = 'x'");
    assert!(scans(&steps), "{steps:?}");
}

#[test]
fn the_check_catches_a_batch_read_through_a_shared_index() {
    let conn = Connection::open_in_memory().unwrap();
    migrate_in(&conn).unwrap();
    let steps = plan(
        &conn,
        "UPDATE assets SET seen_sync = 1
         WHERE asset_id IN (SELECT value FROM json_each(?1)) AND (status = 'Waiting' OR status = 'Failed')",
    );
    assert!(!scans(&steps), "{steps:?}");
    assert!(searches_beside_the_keys(&steps), "{steps:?}");
}

/// Every filter and order of the Sync Status listing (with and without a cursor, both directions), and an
/// asset's history, read through an index: no table scan, and no sort but of one SKU's assets (a SKU with
/// an order by time: the claims give that SKU's assets, sorted after; never the whole table).
#[test]
fn every_sync_status_listing_uses_an_index() {
    use crate::listing::{Dialect, list_sql};
    use crate::{AssetCursor, AssetListQuery, AssetSort, PageDirection, SyncStatus};
    let conn = Connection::open_in_memory().unwrap();
    migrate_in(&conn).unwrap();
    let mut offenders = Vec::new();
    let mut checked = 0;
    for status in [None, Some(SyncStatus::Failed)] {
        for prefix in [None, Some("urn:aaid:aem:1".to_owned())] {
            for sku in [None, Some(domain::Sku::parse("P-1").unwrap())] {
                for sort in AssetSort::ALL {
                    for cursor in [
                        None,
                        Some(AssetCursor {
                            processing_ms: 5,
                            asset_id: "x".to_owned(),
                        }),
                    ] {
                        for direction in [PageDirection::After, PageDirection::Before] {
                            let query = AssetListQuery {
                                status,
                                asset_id_prefix: prefix.clone(),
                                sku: sku.clone(),
                                sort,
                                cursor: cursor.clone(),
                                direction,
                                limit: 50,
                            };
                            let (sql, _) = list_sql(&query, Dialect::Sqlite);
                            let steps = plan(&conn, &sql);
                            checked += 1;
                            if scans(&steps) {
                                offenders.push(format!("{query:?}: {steps:?}"));
                            }
                            // Without a SKU, the order comes from the index: nothing is sorted but one
                            // asset's claims (its name is its first claim's label).
                            let sorts_rows = steps.iter().enumerate().any(|(i, s)| {
                                s.contains("TEMP B-TREE")
                                    && !(i > 0 && steps[i - 1].starts_with("SEARCH n "))
                            });
                            // A page after a cursor starts at the cursor: a range, not a walk from the
                            // start of the index.
                            let walks = query.cursor.is_some()
                                && steps.iter().any(|s| s.starts_with("SCAN a "));
                            if walks {
                                offenders.push(format!("walks: {query:?}: {steps:?}"));
                            }
                            if query.sku.is_none() && sorts_rows {
                                offenders.push(format!("sorted: {query:?}: {steps:?}"));
                            }
                        }
                    }
                }
            }
        }
    }
    let history = plan(&conn, super::listing::ASSET_HISTORY);
    if scans(&history) || history.iter().any(|s| s.contains("TEMP B-TREE")) {
        offenders.push(format!("history: {history:?}"));
    }
    assert_eq!(checked, 128);
    assert!(offenders.is_empty(), "{}", offenders.join("\n"));
}
