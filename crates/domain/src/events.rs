//! Adobe I/O Events deliveries (CloudEvents JSON, reference §10.1): what assetsync reads of them.

use crate::ids::{AssetId, Sku};
use crate::time::parse_rfc3339_ms;
use serde_json::Value;

/// What an event asks assetsync to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The asset may have changed: re-read it.
    AssetChanged,
    /// The asset was deleted: it leaves every product.
    AssetDeleted,
    /// A commerce product was created or saved (`data.value.sku`).
    ProductSaved,
    /// A commerce product was deleted.
    ProductDeleted,
    /// A type assetsync does not use: acknowledged and counted.
    Unused,
}

impl EventKind {
    /// Classifies an event type such as `aem.assets.asset.metadata_updated`.
    pub fn of(event_type: &str) -> Self {
        match event_type {
            "aem.assets.asset.deleted" => Self::AssetDeleted,
            "aem.assets.asset.created"
            | "aem.assets.asset.updated"
            | "aem.assets.asset.metadata_updated"
            | "aem.assets.asset.processing_completed" => Self::AssetChanged,
            "com.adobe.commerce.observer.catalog_product_save_after" => Self::ProductSaved,
            "com.adobe.commerce.observer.catalog_product_delete_after" => Self::ProductDeleted,
            _ => Self::Unused,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AssetChanged => "asset_changed",
            Self::AssetDeleted => "asset_deleted",
            Self::ProductSaved => "product_saved",
            Self::ProductDeleted => "product_deleted",
            Self::Unused => "unused",
        }
    }
}

/// A delivered event, as much of it as assetsync relies on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoEvent {
    pub id: String,
    pub event_type: String,
    pub kind: EventKind,
    pub recipient_client_id: Option<String>,
    /// Present for asset events.
    pub asset_id: Option<AssetId>,
    /// Present for product events.
    pub sku: Option<Sku>,
    /// The event's `time`, in Unix ms, when given.
    pub time_ms: Option<i64>,
    /// The CloudEvent `source`, e.g. `acct:aem-p142461-e1463137@adobe.com` (reference §10.1).
    pub source: Option<String>,
}

impl IoEvent {
    /// Whether the event's `source` names an AEM program or environment other than `program_id` /
    /// `environment_id`. One I/O Events registration may carry the events of several environments; those of
    /// the others are not this integration's. A source that names no AEM environment is not "other".
    pub fn is_from_other_environment(&self, program_id: &str, environment_id: &str) -> bool {
        self.source
            .as_deref()
            .and_then(aem_environment)
            .is_some_and(|(program, environment)| {
                program != program_id || environment != environment_id
            })
    }
}

/// The AEM program and environment a CloudEvent `source` of the form `acct:aem-p<program>-e<environment>@adobe.com`
/// (or `acct:aem-cmstg-p…`, a stage environment) names; `None` for any other form.
pub fn aem_environment(source: &str) -> Option<(&str, &str)> {
    let rest = source
        .strip_prefix("acct:aem-")?
        .strip_suffix("@adobe.com")?;
    let rest = rest.strip_prefix("cmstg-").unwrap_or(rest);
    let (program, environment) = rest.strip_prefix('p')?.split_once("-e")?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(program) && digits(environment)).then_some((program, environment))
}

/// Why a delivery's body is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("body is not JSON: {0}")]
    NotJson(String),
    #[error("body is not a CloudEvent object")]
    NotAnObject,
    #[error("event has no id")]
    MissingId,
    #[error("event has no type")]
    MissingType,
    #[error("asset event has no valid asset id: {0}")]
    AssetId(String),
    #[error("product event has no valid data.value.sku: {0}")]
    Sku(String),
}

/// Parses one CloudEvent delivery.
pub fn parse_io_event(body: &[u8]) -> Result<IoEvent, EventError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| EventError::NotJson(e.to_string()))?;
    let obj = value.as_object().ok_or(EventError::NotAnObject)?;
    let text = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| obj.get(*k).and_then(Value::as_str))
            .map(str::to_owned)
    };
    let id = text(&["id", "event_id", "eventid"])
        .filter(|s| !s.trim().is_empty())
        .ok_or(EventError::MissingId)?;
    let event_type = text(&["type"])
        .filter(|s| !s.trim().is_empty())
        .ok_or(EventError::MissingType)?;
    let kind = EventKind::of(&event_type);
    let sku = if matches!(kind, EventKind::ProductSaved | EventKind::ProductDeleted) {
        let raw = obj
            .get("data")
            .and_then(|d| d.get("value"))
            .and_then(|v| v.get("sku"))
            .and_then(Value::as_str)
            .ok_or_else(|| EventError::Sku("missing".into()))?;
        Some(Sku::parse(raw).map_err(|e| EventError::Sku(e.to_string()))?)
    } else {
        None
    };
    let asset_id = if !matches!(kind, EventKind::AssetChanged | EventKind::AssetDeleted) {
        None
    } else {
        let data = obj.get("data");
        let raw = data
            .and_then(|d| d.get("assetId"))
            .or_else(|| {
                data.and_then(|d| d.get("repositoryMetadata"))
                    .and_then(|r| r.get("repo:assetId"))
            })
            .and_then(Value::as_str)
            .ok_or_else(|| EventError::AssetId("data.assetId is missing".into()))?;
        Some(AssetId::parse(raw).map_err(|e| EventError::AssetId(e.to_string()))?)
    };
    Ok(IoEvent {
        id,
        event_type,
        kind,
        recipient_client_id: text(&["recipient_client_id", "recipientclientid"]),
        asset_id,
        sku,
        time_ms: text(&["time"]).and_then(|t| parse_rfc3339_ms(&t)),
        source: text(&["source"]),
    })
}
