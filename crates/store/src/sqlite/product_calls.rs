//! [`ProductCalls`]: product-to-asset calls as durable work: one row per product waiting for its custom
//! matcher call, leased like other work, retried with backoff, and kept (state `failed`) with its error once
//! given up.

use super::SqliteStore;
use super::conn::{Durability, execute, row, rows};
use super::shared::{LeaseKey, check_lease, from_json, parse_sku, to_json};
use crate::{
    ProductCall, ProductCallOutcome, ProductCallState, ProductCalls, ProductStatus, QueuedWork,
    StoreResult,
};
use async_trait::async_trait;
use domain::Sku;
use rusqlite::Connection;
use serde_json::Value;

/// Queues (or queues again, from attempt 0) the product-to-asset call of a new product.
pub(super) fn queue_call(
    conn: &Connection,
    sku: &Sku,
    event_data: &Value,
    now_ms: i64,
) -> StoreResult<()> {
    execute(
        conn,
        "INSERT INTO product_calls (sku, event_data, run_at_ms, attempt, state, created_ms)
         VALUES (?1, ?2, ?3, 0, 'queued', ?3)
         ON CONFLICT (sku) DO UPDATE SET event_data = excluded.event_data, run_at_ms = excluded.run_at_ms,
             attempt = 0, state = 'queued', last_error = NULL",
        (sku.as_str(), to_json(event_data)?, now_ms),
    )?;
    Ok(())
}

#[async_trait]
impl ProductCalls for SqliteStore {
    async fn claim_product_calls(
        &self,
        now_ms: i64,
        limit: i64,
        lease_ms: i64,
    ) -> StoreResult<Vec<ProductCall>> {
        let claimed = self
            .db
            .claim(move |conn| {
                rows(
                    conn,
                    "UPDATE product_calls SET lease_until_ms = ?1 + ?3, attempt = attempt + 1
                     WHERE sku IN (SELECT sku FROM product_calls
                                   WHERE state = 'queued' AND run_at_ms <= ?1
                                     AND (lease_until_ms IS NULL OR lease_until_ms < ?1)
                                   ORDER BY run_at_ms LIMIT ?2)
                     RETURNING sku, event_data, attempt, lease_until_ms",
                    (now_ms, limit, lease_ms),
                    |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, String>(1)?,
                            row.get(2)?,
                            row.get(3)?,
                        ))
                    },
                )
            })
            .await?;
        claimed
            .into_iter()
            .map(|(sku, data, attempt, lease_until_ms)| {
                Ok(ProductCall {
                    sku: parse_sku(&sku)?,
                    event_data: from_json(&data)?,
                    attempt,
                    lease_until_ms,
                })
            })
            .collect()
    }

    async fn complete_product_call(
        &self,
        call: &ProductCall,
        outcome: ProductCallOutcome,
        now_ms: i64,
    ) -> StoreResult<()> {
        let call = call.clone();
        self.db
            .write(Durability::Normal, move |conn| {
                let sku = call.sku.as_str();
                check_lease(conn, LeaseKey::ProductCall(sku), call.lease_until_ms)?;
                match outcome {
                    ProductCallOutcome::Linked(links) => {
                        super::products::add_links_in(conn, &links, now_ms)?;
                        execute(conn, "DELETE FROM product_calls WHERE sku = ?", [sku])?;
                    }
                    ProductCallOutcome::Failed {
                        error,
                        retry_at_ms: Some(at),
                    } => {
                        execute(
                            conn,
                            "UPDATE product_calls SET lease_until_ms = NULL, run_at_ms = ?2, last_error = ?3
                             WHERE sku = ?1",
                            (sku, at, &error),
                        )?;
                    }
                    ProductCallOutcome::Failed {
                        error,
                        retry_at_ms: None,
                    } => {
                        execute(
                            conn,
                            "UPDATE product_calls SET lease_until_ms = NULL, state = 'failed', last_error = ?2
                             WHERE sku = ?1",
                            (sku, &error),
                        )?;
                    }
                }
                Ok(())
            })
            .await
    }
}

/// The sync status of one product (see [`crate::Catalog::product_status`]).
pub(super) fn load_product_status(
    conn: &Connection,
    sku: Sku,
) -> StoreResult<Option<ProductStatus>> {
    let Some((known, missing, entries, claims)) = row(
        conn,
        "SELECT EXISTS (SELECT 1 FROM products WHERE sku = ?1),
                EXISTS (SELECT 1 FROM missing_products WHERE sku = ?1),
                (SELECT COUNT(*) FROM gallery WHERE sku = ?1),
                (SELECT COUNT(*) FROM claims WHERE sku = ?1)",
        [sku.as_str()],
        |r| {
            Ok((
                r.get::<_, bool>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        },
    )?
    else {
        return Ok(None);
    };
    let work = row(
        conn,
        "SELECT attempt, run_at_ms, last_error FROM sku_work WHERE sku = ?",
        [sku.as_str()],
        |r| {
            Ok(QueuedWork {
                attempt: r.get(0)?,
                run_at_ms: r.get(1)?,
                last_error: r.get(2)?,
            })
        },
    )?;
    let call = row(
        conn,
        "SELECT attempt, run_at_ms, state, last_error FROM product_calls WHERE sku = ?",
        [sku.as_str()],
        |r| {
            let state: String = r.get(2)?;
            Ok((
                if state == "failed" {
                    ProductCallState::Failed
                } else {
                    ProductCallState::Queued
                },
                QueuedWork {
                    attempt: r.get(0)?,
                    run_at_ms: r.get(1)?,
                    last_error: r.get(3)?,
                },
            ))
        },
    )?;
    if !known && entries == 0 && claims == 0 && work.is_none() && call.is_none() {
        return Ok(None);
    }
    Ok(Some(ProductStatus {
        sku,
        known,
        missing,
        entries,
        claims,
        gallery_work: work,
        product_call: call,
    }))
}
