//! [`Cluster`]: the gallery change feed, the configuration's version and the processes' reports. SQLite is one
//! process's (an exclusive lock on the file), so the feed only ever carries this process's own changes; it is
//! kept all the same (one row written per changed product), and its position is an exact counter: the one
//! writer hands out `seq` in commit order.

use super::SqliteStore;
use super::conn::{Durability, execute, one, optional, rows};
use super::shared::{from_json, parse_sku, sort_entries, to_json};
use crate::{Cluster, FeedCursor, GalleryChanges, ProcessReport, StoreResult};
use async_trait::async_trait;
use domain::AppliedEntry;
use rusqlite::Connection;

/// The feed's poll: every product changed after the cursor, with its entries when it is served (one statement,
/// so one consistent read), in feed order.
pub(super) const FEED_SINCE: &str = "SELECT f.sku, f.served, f.seq, g.entry FROM gallery_feed f
     LEFT JOIN gallery g ON f.served = 1 AND g.sku = f.sku
     WHERE f.seq > ?1 ORDER BY f.seq";

/// The reports renewed lately.
pub(super) const REPORTS_SINCE: &str = "SELECT process_id, updated_ms, report FROM process_reports WHERE updated_ms >= ?1 ORDER BY updated_ms";

/// Records, in the transaction that changes it, that the product's served gallery changed: `served` false
/// when the read API answers 404 for it now (removed, or found missing).
pub(super) fn gallery_changed(conn: &Connection, sku: &str, served: bool) -> StoreResult<()> {
    execute(
        conn,
        "INSERT INTO gallery_feed (sku, served, seq)
         VALUES (?1, ?2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM gallery_feed))
         ON CONFLICT (sku) DO UPDATE SET served = excluded.served, seq = excluded.seq",
        (sku, served),
    )?;
    Ok(())
}

/// [`gallery_changed`] (served) for a JSON array of distinct SKUs, in one statement: their feed rows take the
/// next sequence numbers in array order.
pub(super) const GALLERIES_CHANGED: &str = "INSERT INTO gallery_feed (sku, served, seq)
     SELECT j.value, 1, (SELECT COALESCE(MAX(seq), 0) FROM gallery_feed) + j.key + 1 FROM json_each(?1) j
     WHERE true
     ON CONFLICT (sku) DO UPDATE SET served = excluded.served, seq = excluded.seq";

/// A known product was added again: served again if it was not (found missing). Writes nothing otherwise.
pub(super) fn product_served_again(conn: &Connection, sku: &str) -> StoreResult<()> {
    execute(
        conn,
        "UPDATE gallery_feed SET served = 1, seq = (SELECT MAX(seq) + 1 FROM gallery_feed)
         WHERE sku = ?1 AND served = 0",
        [sku],
    )?;
    Ok(())
}

/// Bumps the configuration's version (in the transaction that saves it).
pub(super) fn bump_config_version(conn: &Connection) -> StoreResult<()> {
    execute(
        conn,
        "INSERT INTO settings (key, value) VALUES ('integration_version', '1')
         ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
        [],
    )?;
    Ok(())
}

#[async_trait]
impl Cluster for SqliteStore {
    async fn gallery_feed_position(&self) -> StoreResult<FeedCursor> {
        self.db
            .read(|conn| {
                Ok(FeedCursor(one(
                    conn,
                    "SELECT COALESCE(MAX(seq), 0) FROM gallery_feed",
                    [],
                )?))
            })
            .await
    }

    async fn galleries_changed_since(&self, cursor: &FeedCursor) -> StoreResult<GalleryChanges> {
        let after = cursor.0;
        self.db
            .read(move |conn| {
                let found = rows(conn, FEED_SINCE, [after], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, bool>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, Option<String>>(3)?,
                    ))
                })?;
                let mut changes: Vec<(domain::Sku, Option<Vec<AppliedEntry>>)> = Vec::new();
                let mut next = after;
                let mut last: Option<String> = None;
                for (sku, served, seq, entry) in found {
                    next = next.max(seq);
                    if last.as_deref() != Some(sku.as_str()) {
                        changes.push((parse_sku(&sku)?, served.then(Vec::new)));
                        last = Some(sku);
                    }
                    if let (Some(entry), Some((_, Some(entries)))) = (entry, changes.last_mut()) {
                        entries.push(from_json(&entry)?);
                    }
                }
                for (_, entries) in &mut changes {
                    if let Some(entries) = entries {
                        sort_entries(entries);
                    }
                }
                Ok(GalleryChanges {
                    changes,
                    next: FeedCursor(next),
                })
            })
            .await
    }

    async fn config_version(&self) -> StoreResult<i64> {
        self.db
            .read(|conn| {
                Ok(optional::<i64>(
                    conn,
                    "SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'integration_version'",
                    [],
                )?
                .unwrap_or(0))
            })
            .await
    }

    async fn publish_process_report(
        &self,
        report: &ProcessReport,
        forget_before_ms: i64,
    ) -> StoreResult<()> {
        let (id, updated_ms, text) = (
            report.process_id.clone(),
            report.updated_ms,
            to_json(&report.report)?,
        );
        self.db
            .write(Durability::Normal, move |conn| {
                execute(
                    conn,
                    "INSERT INTO process_reports (process_id, updated_ms, report) VALUES (?1, ?2, ?3)
                     ON CONFLICT (process_id) DO UPDATE SET updated_ms = excluded.updated_ms,
                         report = excluded.report",
                    (id.as_str(), updated_ms, text.as_str()),
                )?;
                execute(
                    conn,
                    "DELETE FROM process_reports WHERE updated_ms < ?1",
                    [forget_before_ms],
                )?;
                Ok(())
            })
            .await
    }

    async fn process_reports(&self, since_ms: i64) -> StoreResult<Vec<ProcessReport>> {
        let mut reports = self
            .db
            .read(move |conn| {
                rows(conn, REPORTS_SINCE, [since_ms], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, String>(2)?,
                    ))
                })
            })
            .await?
            .into_iter()
            .map(|(process_id, updated_ms, report)| {
                Ok(ProcessReport {
                    process_id,
                    updated_ms,
                    report: from_json(&report)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        reports.sort_by(|a, b| a.process_id.cmp(&b.process_id));
        Ok(reports)
    }
}
