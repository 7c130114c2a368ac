//! [`EventLog`]: verified deliveries, deduplicated by event id and stored with their effect in the commit that
//! precedes the acknowledgement (durable: `synchronous=FULL`); the journal position.

use super::SqliteStore;
use super::conn::{Durability, execute, optional};
use super::products::{delete_product, insert_products};
use super::shared::bump_counter;
use crate::{EventLog, NewEvent, ProductChange, ProductEventRecorded, Recorded, StoreResult};
use async_trait::async_trait;
use domain::events::EventKind;
use rusqlite::Connection;

#[async_trait]
impl EventLog for SqliteStore {
    async fn record_events(&self, events: &[NewEvent]) -> StoreResult<Vec<Recorded>> {
        let events = events.to_vec();
        self.db
            .write(Durability::Full, move |conn| {
                record_events_in(conn, &events)
            })
            .await
    }

    async fn record_product_event(
        &self,
        event: &NewEvent,
        change: &ProductChange,
        product_call: Option<&serde_json::Value>,
    ) -> StoreResult<ProductEventRecorded> {
        let (event, change, product_call) = (event.clone(), change.clone(), product_call.cloned());
        self.db
            .write(Durability::Full, move |conn| {
                if !insert_event(conn, &event)? {
                    return Ok(ProductEventRecorded::Duplicate);
                }
                bump_counter(conn, "events_stored", 1)?;
                Ok(match &change {
                    ProductChange::Saved(sku) => {
                        let created = insert_products(
                            conn,
                            std::slice::from_ref(sku),
                            product_call.as_ref(),
                            event.received_ms,
                        )?;
                        ProductEventRecorded::Saved {
                            created: !created.is_empty(),
                        }
                    }
                    ProductChange::Deleted(sku) => ProductEventRecorded::Deleted {
                        removed: delete_product(conn, sku, event.received_ms)?,
                    },
                })
            })
            .await
    }

    async fn journal_position(&self) -> StoreResult<Option<String>> {
        self.db
            .read(|conn| {
                optional(
                    conn,
                    "SELECT value FROM settings WHERE key = 'journal_position'",
                    [],
                )
            })
            .await
    }

    async fn set_journal_position(&self, position: &str) -> StoreResult<()> {
        let position = position.to_owned();
        self.db
            .write(Durability::Normal, move |conn| {
                execute(
                    conn,
                    "INSERT INTO settings (key, value) VALUES ('journal_position', ?)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [position],
                )?;
                Ok(())
            })
            .await
    }
}

/// Stores a delivery's id; `false` when it was seen before.
fn insert_event(conn: &Connection, event: &NewEvent) -> StoreResult<bool> {
    let inserted = execute(
        conn,
        "INSERT INTO events (event_id, event_type, asset_id, received_ms) VALUES (?, ?, ?, ?)
         ON CONFLICT (event_id) DO NOTHING",
        (
            &event.event_id,
            &event.event_type,
            event.asset_id.as_ref().map(|id| id.as_str()),
            event.received_ms,
        ),
    )?;
    Ok(inserted > 0)
}

/// Records a batch of events (see [`EventLog::record_events`]); the counters move once per batch.
fn record_events_in(conn: &Connection, events: &[NewEvent]) -> StoreResult<Vec<Recorded>> {
    let mut outcomes = Vec::with_capacity(events.len());
    let (mut stored, mut unused) = (0, 0);
    for event in events {
        if !insert_event(conn, event)? {
            outcomes.push(Recorded::Duplicate);
            continue;
        }
        outcomes.push(Recorded::Stored);
        stored += 1;
        match (event.kind, &event.asset_id) {
            (EventKind::AssetChanged | EventKind::AssetDeleted, Some(asset_id)) => {
                execute(
                    conn,
                    "INSERT INTO asset_work (asset_id, generation, deleted, run_at_ms, attempt)
                     VALUES (?1, 1, ?2, ?3, 0)
                     ON CONFLICT (asset_id) DO UPDATE SET generation = generation + 1,
                         deleted = MAX(deleted, excluded.deleted), run_at_ms = MIN(run_at_ms, excluded.run_at_ms)",
                    (
                        asset_id.as_str(),
                        event.kind == EventKind::AssetDeleted,
                        event.received_ms,
                    ),
                )?;
                execute(
                    conn,
                    "INSERT INTO assets (asset_id, status, waiting_since_ms) VALUES (?1, 'Waiting', ?2)
                     ON CONFLICT (asset_id) DO UPDATE SET status = 'Waiting',
                         waiting_since_ms = COALESCE(waiting_since_ms, excluded.waiting_since_ms)",
                    (
                        asset_id.as_str(),
                        event
                            .occurred_ms
                            .map_or(event.received_ms, |t| t.min(event.received_ms)),
                    ),
                )?;
            }
            (EventKind::ProductSaved | EventKind::ProductDeleted, _) => {}
            _ => unused += 1,
        }
    }
    bump_counter(conn, "events_stored", stored)?;
    bump_counter(conn, "unused_events", unused)?;
    Ok(outcomes)
}
