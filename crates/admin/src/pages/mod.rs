//! The console's pages, one module per page; each exposes `routes()` merged here.
//!
//! - [`config`]: `/admin/config`, the integration's configuration (global scope) and its history.
//!
//! Products (`pages/products.rs`), Sync Status (`pages/sync_status.rs`), SLA (`pages/sla.rs`) and Dead letters
//! (`pages/dead_letters.rs`) join here the same way.

pub mod config;

use crate::AdminState;
use axum::Router;

/// Every page's routes.
pub fn routes() -> Router<AdminState> {
    Router::new().merge(config::routes())
}
