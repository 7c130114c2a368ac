//! The console's pages, one module per page; each exposes `routes()` merged here.
//!
//! - [`config`]: `/admin/config`, the integration's configuration (global scope) and its history.
//! - [`products`]: `/admin/products` (search) and `/admin/products/{sku}` (gallery, why, manual links).
//! - [`sync_status`]: `/admin/sync-status`, one row per asset with filters, sorting, keyset pages and the health
//!   banner; [`asset_detail`]: an asset's history and match preview.
//! - [`sla`]: `/admin/sla`, the latency chart (SVG drawn on the server) and the shares against the promise.
//! - [`dead_letters`]: `/admin/dead-letters`, with replay behind a confirmation.
//! - [`shown`]: how those pages show times, durations and links.

pub mod asset_detail;
pub mod config;
mod config_form;
pub mod dead_letters;
pub mod products;
pub mod shown;
pub mod sla;
pub mod sync_status;

use crate::AdminState;
use axum::Router;

/// Every page's routes.
pub fn routes() -> Router<AdminState> {
    Router::new()
        .merge(config::routes())
        .merge(products::routes())
        .merge(sync_status::routes())
        .merge(asset_detail::routes())
        .merge(sla::routes())
        .merge(dead_letters::routes())
}
