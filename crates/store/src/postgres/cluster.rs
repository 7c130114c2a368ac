//! [`Cluster`]: the gallery change feed, the configuration's version and the processes' reports, for many
//! processes on one database.
//!
//! The feed must never miss a change, and transactions do not commit in the order they began: a sequence value
//! (or a transaction id) taken by a transaction that commits late is smaller than one a faster transaction
//! already committed, so a poll of `seq > last` would pass it for good. Each changed product's row holds instead
//! the 64-bit id of the transaction that changed it last (`pg_current_xact_id()`), and a poll, in one snapshot:
//! 1. reads that snapshot's xmin (`pg_snapshot_xmin(pg_current_snapshot())`): every transaction with a smaller
//!    id has ended, so its rows are visible now if it committed; every transaction still running, and every one
//!    that starts later, has an id at least xmin;
//! 2. returns every row whose id is at least the previous poll's xmin (the cursor), and hands this xmin on as
//!    the next cursor.
//!
//! A row whose id is below the new cursor was visible in this poll's snapshot, and its id was at least the
//! old cursor, so this poll returned it; a row whose id is at least the new cursor is returned by the next poll.
//! So nothing is missed, whatever the commit order; rows of transactions that ended between the two xmins may
//! come twice (a few at the boundary, more while a long transaction holds xmin back), and applying a product's
//! state twice changes nothing. Rows are upserted per product in the transaction that changes the product, so
//! the row's state is the last committed one.

use super::PostgresStore;
use super::conn::{Tx, execute, one, optional, read_tx, rows, write_tx};
use super::shared::{from_json, parse_sku, sort_entries, to_json};
use crate::{Cluster, FeedCursor, GalleryChanges, ProcessReport, StoreResult};
use async_trait::async_trait;
use domain::{AppliedEntry, Sku};

/// The id of the writing transaction, as a number.
const THIS_XID: &str = "pg_current_xact_id()::TEXT::BIGINT";
/// The xmin of the transaction's snapshot, as a number.
const SNAPSHOT_XMIN: &str = "SELECT pg_snapshot_xmin(pg_current_snapshot())::TEXT::BIGINT";

/// Records, in the transaction that changes them, that these products' served galleries changed (`served`
/// false: the read API answers 404 for them now). One statement, rows taken in key order.
pub(super) async fn galleries_changed(tx: &Tx<'_>, skus: &[&str], served: bool) -> StoreResult<()> {
    if skus.is_empty() {
        return Ok(());
    }
    let mut skus = skus.to_vec();
    skus.sort_unstable();
    skus.dedup();
    execute(
        tx,
        &format!(
            "INSERT INTO gallery_feed (sku, served, xid) SELECT s, $2, {THIS_XID} FROM UNNEST($1::TEXT[]) AS f(s)
             ON CONFLICT (sku) DO UPDATE SET served = EXCLUDED.served, xid = EXCLUDED.xid"
        ),
        &[&skus, &served],
    )
    .await?;
    Ok(())
}

/// Known products were added again: each is served again if it was not (found missing). Writes nothing
/// otherwise.
pub(super) async fn products_served_again(tx: &Tx<'_>, skus: &[&str]) -> StoreResult<()> {
    if skus.is_empty() {
        return Ok(());
    }
    execute(
        tx,
        &format!(
            "UPDATE gallery_feed SET served = TRUE, xid = {THIS_XID} WHERE sku = ANY($1::TEXT[]) AND NOT served"
        ),
        &[&skus],
    )
    .await?;
    Ok(())
}

/// Bumps the configuration's version (in the transaction that saves it, after the configuration's row is
/// locked: two saves bump it one after the other).
pub(super) async fn bump_config_version(tx: &Tx<'_>) -> StoreResult<()> {
    execute(
        tx,
        "INSERT INTO settings (key, value) VALUES ('integration_version', '1')
         ON CONFLICT (key) DO UPDATE SET value = (settings.value::BIGINT + 1)::TEXT",
        &[],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl Cluster for PostgresStore {
    async fn gallery_feed_position(&self) -> StoreResult<FeedCursor> {
        Ok(FeedCursor(read_tx!(self, |tx| {
            one::<i64>(&tx, SNAPSHOT_XMIN, &[]).await?
        })))
    }

    async fn galleries_changed_since(&self, cursor: &FeedCursor) -> StoreResult<GalleryChanges> {
        let from = cursor.0;
        let (xmin, found) = read_tx!(self, |tx| {
            // The snapshot's xmin first (a repeatable-read transaction reads everything in that snapshot).
            let xmin = one::<i64>(&tx, SNAPSHOT_XMIN, &[]).await?;
            let found = rows(
                &tx,
                "SELECT f.sku, f.served, g.entry FROM gallery_feed f
                 LEFT JOIN gallery g ON f.served AND g.sku = f.sku
                 WHERE f.xid >= $1 ORDER BY f.sku",
                &[&from],
            )
            .await?;
            (xmin, found)
        });
        let mut changes: Vec<(Sku, Option<Vec<AppliedEntry>>)> = Vec::new();
        for row in &found {
            let sku: String = row.try_get(0)?;
            let served: bool = row.try_get(1)?;
            let entry: Option<String> = row.try_get(2)?;
            if changes.last().is_none_or(|(last, _)| last.as_str() != sku) {
                changes.push((parse_sku(&sku)?, served.then(Vec::new)));
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
            // The cursor never moves back (an xmin never does; this keeps it so for any caller's cursor).
            next: FeedCursor(xmin.max(from)),
        })
    }

    async fn config_version(&self) -> StoreResult<i64> {
        Ok(read_tx!(self, |tx| {
            optional::<i64>(
                &tx,
                "SELECT value::BIGINT FROM settings WHERE key = 'integration_version'",
                &[],
            )
            .await?
            .unwrap_or(0)
        }))
    }

    async fn publish_process_report(
        &self,
        report: &ProcessReport,
        forget_before_ms: i64,
    ) -> StoreResult<()> {
        let text = to_json(&report.report)?;
        write_tx!(self, |tx| {
            execute(
                &tx,
                "INSERT INTO process_reports (process_id, updated_ms, report) VALUES ($1, $2, $3)
                 ON CONFLICT (process_id) DO UPDATE SET updated_ms = EXCLUDED.updated_ms,
                     report = EXCLUDED.report",
                &[&report.process_id, &report.updated_ms, &text],
            )
            .await?;
            execute(
                &tx,
                "DELETE FROM process_reports WHERE updated_ms < $1",
                &[&forget_before_ms],
            )
            .await?;
        });
        Ok(())
    }

    async fn process_reports(&self, since_ms: i64) -> StoreResult<Vec<ProcessReport>> {
        let found = read_tx!(self, |tx| {
            rows(
                &tx,
                "SELECT process_id, updated_ms, report FROM process_reports WHERE updated_ms >= $1
                 ORDER BY process_id",
                &[&since_ms],
            )
            .await?
        });
        found
            .iter()
            .map(|row| {
                let report: String = row.try_get(2)?;
                Ok(ProcessReport {
                    process_id: row.try_get(0)?,
                    updated_ms: row.try_get(1)?,
                    report: from_json(&report)?,
                })
            })
            .collect()
    }
}
