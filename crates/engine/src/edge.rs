//! What the HTTP edge asks of the engine: recording a verified webhook delivery (with a product event's
//! catalog change), and the read-only status queries of the admin API. The records these return are
//! re-exported here, so the edge needs nothing from the store crate.

use crate::{Engine, EngineError, telemetry};
use domain::events::{EventKind, IoEvent};
use domain::{AssetId, Sku};
use std::time::Instant;
use store::{NewEvent, ProductChange};

pub use store::{
    AssetStatus, Backlog, ConfigChange, DeadLetter, FullSync, FullSyncState, ProductCallState,
    ProductStatus, QueuedWork,
};

/// The outcome of an event whose `source` names another AEM program or environment than the configured one.
pub const OTHER_ENVIRONMENT: &str = "other_environment";

/// The webhook a delivery came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventSource {
    /// `POST /events/aem`: the DAM's asset events.
    Aem,
    /// `POST /events/commerce`: the commerce platform's product events.
    Commerce,
}

/// What recording a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryOutcome {
    /// The kind the event was recorded as (`Unused` for a type its webhook does not act on).
    pub kind: EventKind,
    /// `stored`, `duplicate`, `ignored` or [`OTHER_ENVIRONMENT`].
    pub outcome: &'static str,
}

impl Engine {
    /// Records a verified delivery addressed to this integration: another AEM environment's event is
    /// acknowledged and left alone; a commerce product event is committed with its catalog change (so a
    /// failure answered 503 and the redelivery cannot lose it) and then served; any other event is stored
    /// durably. `body` is the delivery as received (a product event's `data` is what a custom matcher's
    /// product-to-asset call sends); `received` is when it arrived (for the acknowledgement latency).
    pub async fn record_delivery(
        &self,
        event: &IoEvent,
        source: EventSource,
        body: &[u8],
        received: Instant,
    ) -> Result<DeliveryOutcome, EngineError> {
        // One registration may carry the events of several AEM environments: another's are acknowledged (so
        // that I/O Events does not retry them), counted and left alone.
        let config = self.config();
        if source == EventSource::Aem
            && event.is_from_other_environment(&config.program_id, &config.environment_id)
        {
            tracing::debug!(event_id = %event.id, "event of another AEM environment ignored");
            return Ok(DeliveryOutcome {
                kind: event.kind,
                outcome: OTHER_ENVIRONMENT,
            });
        }
        let kind = match (source, event.kind) {
            (EventSource::Aem, EventKind::AssetChanged | EventKind::AssetDeleted) => event.kind,
            (EventSource::Commerce, EventKind::ProductSaved | EventKind::ProductDeleted) => {
                event.kind
            }
            _ => EventKind::Unused,
        };
        let new_event = NewEvent {
            event_id: event.id.clone(),
            event_type: event.event_type.clone(),
            kind,
            asset_id: event.asset_id.clone(),
            received_ms: self.now_ms(),
            occurred_ms: event.time_ms,
        };
        let product_change = match (kind, &event.sku) {
            (EventKind::ProductSaved, Some(sku)) => Some(ProductChange::Saved(sku.clone())),
            (EventKind::ProductDeleted, Some(sku)) => Some(ProductChange::Deleted(sku.clone())),
            _ => None,
        };
        let recorded = match product_change {
            Some(change) => {
                let data = serde_json::from_slice::<serde_json::Value>(body)
                    .ok()
                    .and_then(|event| event.get("data").cloned())
                    .unwrap_or_default();
                self.ingest_product_event(new_event, change, &data).await
            }
            None => self.ingest(new_event).await,
        }?;
        let ack_ms = i64::try_from(received.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.sla().record_ack(self.now_ms(), ack_ms);
        Ok(DeliveryOutcome {
            kind,
            outcome: telemetry::recorded_outcome(recorded, kind),
        })
    }

    /// Adds a product to the built-in catalog through the admin API (a custom matcher's product-to-asset call
    /// gets `{"productSku", "source": "api"}` as its event data). Returns whether it is new.
    pub async fn add_product_through_api(&self, sku: &Sku) -> Result<bool, EngineError> {
        self.add_product(
            sku,
            &serde_json::json!({ "productSku": sku, "source": "api" }),
        )
        .await
    }

    /// One asset's sync status (reference §9.2); `None` when assetsync has never seen it.
    pub async fn asset_status(
        &self,
        asset_id: &AssetId,
    ) -> Result<Option<AssetStatus>, EngineError> {
        Ok(self.store.asset_status(asset_id).await?)
    }

    /// One product's sync status, by the key it is kept under ([`Engine::product_key`]).
    pub async fn product_status(&self, key: &Sku) -> Result<Option<ProductStatus>, EngineError> {
        Ok(self.store.product_status(key).await?)
    }

    /// The values configuration fields return to when set to `null` (the TOML file's): the admin console's
    /// "system values".
    pub fn config_defaults(&self) -> &domain::config::IntegrationConfig {
        &self.config_defaults
    }

    /// The seconds a running full sync still needs at its pace so far: `None` while it cannot tell (nothing
    /// done yet), 0 once it no longer runs.
    pub fn full_sync_eta_seconds(&self, sync: &FullSync) -> Option<i64> {
        match (sync.state, sync.started_ms) {
            (FullSyncState::Running, Some(started)) if sync.done > 0 && sync.total > sync.done => {
                let per_item = (self.now_ms() - started) as f64 / sync.done as f64;
                Some(((sync.total - sync.done) as f64 * per_item / 1000.0).ceil() as i64)
            }
            (FullSyncState::Running, _) => None,
            _ => Some(0),
        }
    }
}
