//! Every query that runs on a timer or per request uses an index: checked with `EXPLAIN QUERY PLAN` on the
//! migrated schema. A plan step that scans a table without an index, or sorts in a temporary b-tree, fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{assets, cluster, maintenance, migrate_in};
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

/// A plan step that reads a whole table, or sorts what it read.
fn is_full_scan(step: &str) -> bool {
    let scans = step.starts_with("SCAN ")
        && !step.contains("USING INDEX")
        && !step.contains("USING COVERING INDEX")
        && !step.contains("USING INTEGER PRIMARY KEY");
    scans || step.contains("USE TEMP B-TREE") || step.starts_with("does not")
}

#[test]
fn every_watched_query_uses_an_index() {
    let conn = Connection::open_in_memory().unwrap();
    migrate_in(&conn).unwrap();
    let mut offenders = Vec::new();
    for (name, sql) in WATCHED {
        let steps = plan(&conn, sql);
        if steps.iter().any(|step| is_full_scan(step)) {
            offenders.push(format!("{name}: {steps:?}"));
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
    assert!(steps.iter().any(|step| is_full_scan(step)), "{steps:?}");
}
