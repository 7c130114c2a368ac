//! Product-to-asset calls as durable work: one row per product waiting for its custom matcher call, leased
//! like other work, retried with backoff, and kept (state `failed`) with its error once given up.

use super::{SqliteStore, Tx, from_json, parse_sku, to_json};
use crate::{
    ProductCall, ProductCallOutcome, ProductCallState, ProductStatus, StoreError, StoreResult,
};
use domain::Sku;
use serde_json::Value;
use sqlx::Row;

/// Queues (or queues again, from attempt 0) the product-to-asset call of a new product.
pub(super) async fn queue_call(
    tx: &mut Tx<'_>,
    sku: &Sku,
    event_data: &Value,
    now_ms: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO product_calls (sku, event_data, run_at_ms, attempt, state, created_ms)
         VALUES (?1, ?2, ?3, 0, 'queued', ?3)
         ON CONFLICT (sku) DO UPDATE SET event_data = excluded.event_data, run_at_ms = excluded.run_at_ms,
             attempt = 0, state = 'queued', last_error = NULL",
    )
    .bind(sku.as_str())
    .bind(to_json(event_data)?)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl SqliteStore {
    pub(super) async fn claim_calls(
        &self,
        now_ms: i64,
        limit: i64,
        lease_ms: i64,
    ) -> StoreResult<Vec<ProductCall>> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(
            "UPDATE product_calls SET lease_until_ms = ?1 + ?3, attempt = attempt + 1
             WHERE sku IN (SELECT sku FROM product_calls
                           WHERE state = 'queued' AND run_at_ms <= ?1
                             AND (lease_until_ms IS NULL OR lease_until_ms < ?1)
                           ORDER BY run_at_ms LIMIT ?2)
             RETURNING sku, event_data, attempt, lease_until_ms",
        )
        .bind(now_ms)
        .bind(limit)
        .bind(lease_ms)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                let data: String = row.try_get("event_data")?;
                Ok(ProductCall {
                    sku: parse_sku(row.try_get("sku")?)?,
                    event_data: from_json(&data)?,
                    attempt: row.try_get("attempt")?,
                    lease_until_ms: row.try_get("lease_until_ms")?,
                })
            })
            .collect()
    }

    pub(super) async fn complete_call(
        &self,
        call: &ProductCall,
        outcome: ProductCallOutcome,
        now_ms: i64,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let current: Option<Option<i64>> =
            sqlx::query_scalar("SELECT lease_until_ms FROM product_calls WHERE sku = ?")
                .bind(call.sku.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if current.flatten() != Some(call.lease_until_ms) {
            return Err(StoreError::LeaseLost);
        }
        match outcome {
            ProductCallOutcome::Linked(links) => {
                super::products::add_links_in(&mut tx, &links, now_ms).await?;
                sqlx::query("DELETE FROM product_calls WHERE sku = ?")
                    .bind(call.sku.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            ProductCallOutcome::Failed {
                error,
                retry_at_ms: Some(at),
            } => {
                sqlx::query(
                    "UPDATE product_calls SET lease_until_ms = NULL, run_at_ms = ?2, last_error = ?3
                     WHERE sku = ?1",
                )
                .bind(call.sku.as_str())
                .bind(at)
                .bind(&error)
                .execute(&mut *tx)
                .await?;
            }
            ProductCallOutcome::Failed {
                error,
                retry_at_ms: None,
            } => {
                sqlx::query(
                    "UPDATE product_calls SET lease_until_ms = NULL, state = 'failed', last_error = ?2
                     WHERE sku = ?1",
                )
                .bind(call.sku.as_str())
                .bind(&error)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn load_product_status(
        &self,
        sku: &Sku,
    ) -> StoreResult<Option<ProductStatus>> {
        let row = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM products WHERE sku = ?1) AS known,
                    EXISTS (SELECT 1 FROM missing_products WHERE sku = ?1) AS missing,
                    (SELECT COUNT(*) FROM gallery WHERE sku = ?1) AS entries,
                    (SELECT COUNT(*) FROM claims WHERE sku = ?1) AS claims",
        )
        .bind(sku.as_str())
        .fetch_one(&self.readers)
        .await?;
        let work = sqlx::query("SELECT attempt, run_at_ms, last_error FROM sku_work WHERE sku = ?")
            .bind(sku.as_str())
            .fetch_optional(&self.readers)
            .await?;
        let call = sqlx::query(
            "SELECT attempt, run_at_ms, state, last_error FROM product_calls WHERE sku = ?",
        )
        .bind(sku.as_str())
        .fetch_optional(&self.readers)
        .await?;
        let known: bool = row.try_get("known")?;
        let entries: i64 = row.try_get("entries")?;
        let claims: i64 = row.try_get("claims")?;
        if !known && entries == 0 && claims == 0 && work.is_none() && call.is_none() {
            return Ok(None);
        }
        Ok(Some(ProductStatus {
            sku: sku.clone(),
            known,
            missing: row.try_get("missing")?,
            entries,
            claims,
            gallery_work: work
                .map(|w| -> StoreResult<_> {
                    Ok(crate::QueuedWork {
                        attempt: w.try_get("attempt")?,
                        run_at_ms: w.try_get("run_at_ms")?,
                        last_error: w.try_get("last_error")?,
                    })
                })
                .transpose()?,
            product_call: call
                .map(|c| -> StoreResult<_> {
                    let state: String = c.try_get("state")?;
                    Ok((
                        if state == "failed" {
                            ProductCallState::Failed
                        } else {
                            ProductCallState::Queued
                        },
                        crate::QueuedWork {
                            attempt: c.try_get("attempt")?,
                            run_at_ms: c.try_get("run_at_ms")?,
                            last_error: c.try_get("last_error")?,
                        },
                    ))
                })
                .transpose()?,
        }))
    }
}
