//! The HTTP surface of assetsync (the only crate that serves HTTP in production): the Adobe I/O Events
//! webhook, the admin REST API, the public storefront read API and the health check.
//!
//! Entry points: [`serve`] (the main listener) and [`serve_metrics`] (Prometheus text on its own listener),
//! given an [`AppState`].

mod error;
mod extract;
mod http_metrics;
mod listener;
mod metrics;
pub mod openapi;
mod process_metrics;
mod request_id;
mod routes;

pub use error::ApiError;
pub use listener::ListenerLimits;
pub use metrics::metrics_router;
pub use routes::router;

use connectors::ioevents::EventVerifier;
use engine::Engine;
use std::fmt;
use std::sync::Arc;

/// Largest webhook body accepted (bigger deliveries get 413).
pub const MAX_EVENT_BODY: usize = 2 * 1024 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub verifier: Arc<EventVerifier>,
    /// Deliveries must be addressed to this I/O Events client id.
    pub recipient_client_id: String,
    /// Bearer token of the admin API.
    pub admin_token: String,
    /// How the admin console (`/admin`) is served.
    pub admin: admin::AdminSettings,
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("recipient_client_id", &self.recipient_client_id)
            .field("admin_token", &"***")
            .finish_non_exhaustive()
    }
}

/// Serves the router on `listener` under `limits` until `shutdown` completes (then finishes in-flight
/// requests).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: ListenerLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state)
        .layer(axum::middleware::map_response(extract::json_errors))
        .layer(axum::middleware::from_fn(request_id::request_span))
        .layer(axum::middleware::from_fn(http_metrics::record));
    listener::serve_limited(listener, app, limits, shutdown).await
}

/// Serves `GET /metrics` on `listener` until `shutdown` completes.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, metrics_router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
