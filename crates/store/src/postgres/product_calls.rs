//! [`ProductCalls`]: product-to-asset calls as durable work: one row per product waiting for its custom
//! matcher call, leased like other work, retried with backoff, and kept (state `failed`) with its error once
//! given up.

use super::PostgresStore;
use super::conn::{Tx, execute, row, rows, write_tx};
use super::shared::{LeaseKey, check_lease, from_json, parse_sku, to_json};
use crate::{
    ProductCall, ProductCallOutcome, ProductCallState, ProductCalls, ProductStatus, QueuedWork,
    StoreResult,
};
use async_trait::async_trait;
use domain::Sku;
use serde_json::Value;

/// Queues (or queues again, from attempt 0) the product-to-asset call of a new product.
pub(super) async fn queue_call(
    tx: &Tx<'_>,
    sku: &Sku,
    event_data: &Value,
    now_ms: i64,
) -> StoreResult<()> {
    execute(
        tx,
        "INSERT INTO product_calls (sku, event_data, run_at_ms, attempt, state, created_ms)
         VALUES ($1, $2, $3, 0, 'queued', $3)
         ON CONFLICT (sku) DO UPDATE SET event_data = EXCLUDED.event_data, run_at_ms = EXCLUDED.run_at_ms,
             attempt = 0, state = 'queued', last_error = NULL",
        &[&sku.as_str(), &to_json(event_data)?, &now_ms],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl ProductCalls for PostgresStore {
    async fn claim_product_calls(
        &self,
        now_ms: i64,
        limit: i64,
        lease_ms: i64,
    ) -> StoreResult<Vec<ProductCall>> {
        let claimed = write_tx!(self, |tx| {
            rows(
                &tx,
                "WITH due AS (
                     SELECT sku FROM product_calls
                     WHERE state = 'queued' AND run_at_ms <= $1
                       AND (lease_until_ms IS NULL OR lease_until_ms < $1)
                     ORDER BY run_at_ms, sku LIMIT $2
                     FOR UPDATE SKIP LOCKED),
                 claimed AS (
                     UPDATE product_calls c SET lease_until_ms = $1::BIGINT + $3::BIGINT, attempt = c.attempt + 1
                     FROM due WHERE c.sku = due.sku
                     RETURNING c.sku, c.event_data, c.attempt, c.lease_until_ms, c.run_at_ms)
                 SELECT sku, event_data, attempt, lease_until_ms FROM claimed ORDER BY run_at_ms, sku",
                &[&now_ms, &limit, &lease_ms],
            )
            .await?
        });
        claimed
            .iter()
            .map(|row| {
                let (sku, data): (String, String) = (row.try_get(0)?, row.try_get(1)?);
                Ok(ProductCall {
                    sku: parse_sku(&sku)?,
                    event_data: from_json(&data)?,
                    attempt: row.try_get(2)?,
                    lease_until_ms: row.try_get(3)?,
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
        write_tx!(self, |tx| {
            let sku = call.sku.as_str();
            check_lease(&tx, LeaseKey::ProductCall(sku), call.lease_until_ms).await?;
            match outcome.clone() {
                ProductCallOutcome::Linked(links) => {
                    super::products::add_links_in(&tx, &links, now_ms).await?;
                    execute(&tx, "DELETE FROM product_calls WHERE sku = $1", &[&sku]).await?;
                }
                ProductCallOutcome::Failed {
                    error,
                    retry_at_ms: Some(at),
                } => {
                    execute(
                        &tx,
                        "UPDATE product_calls SET lease_until_ms = NULL, run_at_ms = $2, last_error = $3
                         WHERE sku = $1",
                        &[&sku, &at, &error],
                    )
                    .await?;
                }
                ProductCallOutcome::Failed {
                    error,
                    retry_at_ms: None,
                } => {
                    execute(
                        &tx,
                        "UPDATE product_calls SET lease_until_ms = NULL, state = 'failed', last_error = $2
                         WHERE sku = $1",
                        &[&sku, &error],
                    )
                    .await?;
                }
            }
        });
        Ok(())
    }
}

/// The sync status of one product (see [`crate::Catalog::product_status`]).
pub(super) async fn load_product_status(
    tx: &Tx<'_>,
    sku: Sku,
) -> StoreResult<Option<ProductStatus>> {
    let name = sku.as_str();
    let Some(head) = row(
        tx,
        "SELECT EXISTS (SELECT 1 FROM products WHERE sku = $1),
                EXISTS (SELECT 1 FROM missing_products WHERE sku = $1),
                (SELECT COUNT(*) FROM gallery WHERE sku = $1),
                (SELECT COUNT(*) FROM claims WHERE sku = $1)",
        &[&name],
    )
    .await?
    else {
        return Ok(None);
    };
    let (known, missing, entries, claims): (bool, bool, i64, i64) = (
        head.try_get(0)?,
        head.try_get(1)?,
        head.try_get(2)?,
        head.try_get(3)?,
    );
    let work = match row(
        tx,
        "SELECT attempt, run_at_ms, last_error FROM sku_work WHERE sku = $1",
        &[&name],
    )
    .await?
    {
        Some(r) => Some(QueuedWork {
            attempt: r.try_get(0)?,
            run_at_ms: r.try_get(1)?,
            last_error: r.try_get(2)?,
        }),
        None => None,
    };
    let call = match row(
        tx,
        "SELECT attempt, run_at_ms, state, last_error FROM product_calls WHERE sku = $1",
        &[&name],
    )
    .await?
    {
        Some(r) => {
            let state: String = r.try_get(2)?;
            Some((
                if state == "failed" {
                    ProductCallState::Failed
                } else {
                    ProductCallState::Queued
                },
                QueuedWork {
                    attempt: r.try_get(0)?,
                    run_at_ms: r.try_get(1)?,
                    last_error: r.try_get(3)?,
                },
            ))
        }
        None => None,
    };
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
