//! The whole HTTP surface, one module per resource. Every route is registered with its OpenAPI operation
//! ([`utoipa_axum::routes!`]), so the router and the document at `GET /api/v1/openapi.json` list the same
//! routes by construction. Admin handlers take [`crate::extract::Admin`] as their first extractor after the
//! state, so nothing of a request is read before its token is checked.

mod assets;
mod config;
mod dead_letters;
mod events;
mod health;
mod matching;
mod openapi;
mod products;
mod sync;

use crate::{ApiError, AppState};
use axum::Router;
use utoipa_axum::router::OpenApiRouter;

/// The routes with their OpenAPI operations, before the state is given.
pub(crate) fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(crate::openapi::base())
        .merge(events::routes())
        .merge(config::routes())
        .merge(matching::routes())
        .merge(sync::routes())
        .merge(dead_letters::routes())
        .merge(health::routes())
        .merge(assets::routes())
        .merge(products::routes())
        .merge(openapi::routes())
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let (router, _) = documented().split_for_parts();
    let console = admin::router(state.engine.clone(), state.admin.clone());
    router
        .fallback(|| async { ApiError::not_found("not_found", "no such route") })
        .with_state(state)
        .nest("/admin", console)
}
