//! Commerce sinks: where galleries are written. The built-in catalog keeps them in assetsync itself.

use async_trait::async_trait;
use domain::gallery::apply_operations;
use domain::{AppliedEntry, Operation, Sku};

/// How applying one SKU's operations ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkOutcome {
    /// The gallery now holds these entries (assetsync's own entries).
    Applied(Vec<AppliedEntry>),
    /// The product does not exist: skip it and remember the SKU.
    ProductMissing,
}

/// A failure to write to the commerce platform.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    #[error("commerce refused the credentials (HTTP {0})")]
    Unauthorized(u16),
    #[error("commerce is unavailable: {message}")]
    Unavailable {
        message: String,
        retry_after_ms: Option<u64>,
    },
    #[error("commerce rejected the change: {0}")]
    Rejected(String),
}

/// A commerce platform that holds product galleries.
#[async_trait]
pub trait CommerceSink: Send + Sync + 'static {
    /// Short name for logs and health (`builtin`, `adobe-commerce`).
    fn kind(&self) -> &'static str;

    /// Applies `ops` (from `applied` toward the desired gallery) to the product `sku`. `product_known` tells
    /// whether the built-in catalog holds the product.
    async fn apply(
        &self,
        sku: &Sku,
        product_known: bool,
        applied: &[AppliedEntry],
        ops: &[Operation],
    ) -> Result<SinkOutcome, SinkError>;
}

/// The built-in catalog: assetsync holds the galleries; a product exists when it was added to the catalog.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuiltinCatalog;

#[async_trait]
impl CommerceSink for BuiltinCatalog {
    fn kind(&self) -> &'static str {
        "builtin"
    }

    async fn apply(
        &self,
        _sku: &Sku,
        product_known: bool,
        applied: &[AppliedEntry],
        ops: &[Operation],
    ) -> Result<SinkOutcome, SinkError> {
        if !product_known {
            return Ok(SinkOutcome::ProductMissing);
        }
        Ok(SinkOutcome::Applied(apply_operations(applied, ops)))
    }
}
