//! [`EventLog`]: verified deliveries, deduplicated by event id and stored with their effect in the commit that
//! precedes the acknowledgement; the journal position. A batch of events is a few statements whatever its
//! size (arrays through `UNNEST`).

use super::PostgresStore;
use super::conn::{Tx, column, execute, optional, read_tx, write_tx};
use super::products::{delete_product, insert_products};
use super::shared::bump_counter;
use crate::{EventLog, NewEvent, ProductChange, ProductEventRecorded, Recorded, StoreResult};
use async_trait::async_trait;
use domain::events::EventKind;
use std::collections::{BTreeMap, HashSet};

#[async_trait]
impl EventLog for PostgresStore {
    async fn record_events(&self, events: &[NewEvent]) -> StoreResult<Vec<Recorded>> {
        Ok(write_tx!(self, |tx| {
            record_events_in(&tx, events).await?
        }))
    }

    async fn record_product_event(
        &self,
        event: &NewEvent,
        change: &ProductChange,
        product_call: Option<&serde_json::Value>,
    ) -> StoreResult<ProductEventRecorded> {
        Ok(write_tx!(self, |tx| {
            if insert_events(&tx, std::slice::from_ref(event))
                .await?
                .is_empty()
            {
                ProductEventRecorded::Duplicate
            } else {
                bump_counter(&tx, "events_stored", 1).await?;
                match change {
                    ProductChange::Saved(sku) => {
                        let created = insert_products(
                            &tx,
                            std::slice::from_ref(sku),
                            product_call,
                            event.received_ms,
                        )
                        .await?;
                        ProductEventRecorded::Saved {
                            created: !created.is_empty(),
                        }
                    }
                    ProductChange::Deleted(sku) => ProductEventRecorded::Deleted {
                        removed: delete_product(&tx, sku, event.received_ms).await?,
                    },
                }
            }
        }))
    }

    async fn journal_position(&self) -> StoreResult<Option<String>> {
        Ok(read_tx!(self, |tx| {
            optional(
                &tx,
                "SELECT value FROM settings WHERE key = 'journal_position'",
                &[],
            )
            .await?
        }))
    }

    async fn set_journal_position(&self, position: &str) -> StoreResult<()> {
        write_tx!(self, |tx| {
            execute(
                &tx,
                "INSERT INTO settings (key, value) VALUES ('journal_position', $1)
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[&position],
            )
            .await?;
        });
        Ok(())
    }
}

/// Stores the deliveries' ids; returns the positions of those not seen before (the first of an id repeated
/// within the batch).
async fn insert_events(tx: &Tx<'_>, events: &[NewEvent]) -> StoreResult<Vec<usize>> {
    let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let assets: Vec<Option<&str>> = events
        .iter()
        .map(|e| e.asset_id.as_ref().map(|id| id.as_str()))
        .collect();
    let received: Vec<i64> = events.iter().map(|e| e.received_ms).collect();
    let inserted: HashSet<String> = column::<String>(
        tx,
        "INSERT INTO events (event_id, event_type, asset_id, received_ms)
         SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[])
         ON CONFLICT (event_id) DO NOTHING
         RETURNING event_id",
        &[&ids, &types, &assets, &received],
    )
    .await?
    .into_iter()
    .collect();
    let mut seen = HashSet::new();
    Ok(events
        .iter()
        .enumerate()
        .filter(|(_, e)| inserted.contains(&e.event_id) && seen.insert(e.event_id.as_str()))
        .map(|(index, _)| index)
        .collect())
}

/// The hints of one batch for one asset, folded as one after the other would leave them.
struct Hints {
    count: i64,
    deleted: bool,
    run_at_ms: i64,
    waiting_since_ms: i64,
}

/// Records a batch of events (see [`EventLog::record_events`]); the counters move once per batch.
async fn record_events_in(tx: &Tx<'_>, events: &[NewEvent]) -> StoreResult<Vec<Recorded>> {
    let stored = insert_events(tx, events).await?;
    let mut outcomes = vec![Recorded::Duplicate; events.len()];
    let mut unused = 0;
    let mut hints: BTreeMap<&str, Hints> = BTreeMap::new();
    for &index in &stored {
        outcomes[index] = Recorded::Stored;
        let event = &events[index];
        match (event.kind, &event.asset_id) {
            (EventKind::AssetChanged | EventKind::AssetDeleted, Some(asset_id)) => {
                let deleted = event.kind == EventKind::AssetDeleted;
                let hint = hints.entry(asset_id.as_str()).or_insert(Hints {
                    count: 0,
                    deleted: false,
                    run_at_ms: event.received_ms,
                    waiting_since_ms: event
                        .occurred_ms
                        .map_or(event.received_ms, |t| t.min(event.received_ms)),
                });
                hint.count += 1;
                hint.deleted |= deleted;
                hint.run_at_ms = event.received_ms;
            }
            (EventKind::ProductSaved | EventKind::ProductDeleted, _) => {}
            _ => unused += 1,
        }
    }
    if !hints.is_empty() {
        // In key order, so that concurrent batches lock the rows in one order.
        let assets: Vec<&str> = hints.keys().copied().collect();
        let counts: Vec<i64> = hints.values().map(|h| h.count).collect();
        let deleted: Vec<bool> = hints.values().map(|h| h.deleted).collect();
        let run_at: Vec<i64> = hints.values().map(|h| h.run_at_ms).collect();
        let waiting: Vec<i64> = hints.values().map(|h| h.waiting_since_ms).collect();
        execute(
            tx,
            "INSERT INTO asset_work (asset_id, generation, deleted, run_at_ms, attempt)
             SELECT a, n, d, r, 0 FROM UNNEST($1::TEXT[], $2::BIGINT[], $3::BOOLEAN[], $4::BIGINT[]) AS h(a, n, d, r)
             ON CONFLICT (asset_id) DO UPDATE SET generation = asset_work.generation + EXCLUDED.generation,
                 deleted = asset_work.deleted OR EXCLUDED.deleted,
                     run_at_ms = LEAST(asset_work.run_at_ms, EXCLUDED.run_at_ms)",
            &[&assets, &counts, &deleted, &run_at],
        )
        .await?;
        execute(
            tx,
            "INSERT INTO assets (asset_id, status, waiting_since_ms)
             SELECT a, 'Waiting', w FROM UNNEST($1::TEXT[], $2::BIGINT[]) AS h(a, w)
             ON CONFLICT (asset_id) DO UPDATE SET status = 'Waiting',
                 waiting_since_ms = COALESCE(assets.waiting_since_ms, EXCLUDED.waiting_since_ms)",
            &[&assets, &waiting],
        )
        .await?;
    }
    bump_counter(
        tx,
        "events_stored",
        i64::try_from(stored.len()).unwrap_or(i64::MAX),
    )
    .await?;
    bump_counter(tx, "unused_events", unused).await?;
    Ok(outcomes)
}
