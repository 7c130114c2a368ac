//! Dead letters: work given up, listed with its error history, and queued again on demand.

use crate::extract::Admin;
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::{Path, State};
use domain::time::format_rfc3339_ms;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(dead_letters))
        .routes(routes!(replay_all_dead_letters))
        .routes(routes!(replay_dead_letter))
}

/// One failed attempt.
#[derive(Serialize, ToSchema)]
pub(crate) struct AttemptError {
    /// When (RFC 3339).
    at: Option<String>,
    /// What failed (a sentence).
    #[schema(value_type = Option<String>)]
    error: serde_json::Value,
}

/// Work given up.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeadLetter {
    id: i64,
    sku: String,
    attempts: i64,
    /// Oldest first.
    errors: Vec<AttemptError>,
    /// RFC 3339.
    created: String,
}

/// `GET /api/v1/dead-letters`.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeadLetters {
    dead_letters: Vec<DeadLetter>,
}

/// How many dead letters were queued again.
#[derive(Serialize, ToSchema)]
pub(crate) struct Replayed {
    replayed: u64,
}

/// `GET /api/v1/dead-letters`: work given up, with its error history.
#[utoipa::path(get, path = "/api/v1/dead-letters", tag = "dead-letters", security(("admin_token" = [])),
    responses(
        (status = 200, description = "The dead letters, oldest first", body = DeadLetters),
        (status = 401, description = "`unauthorized`", body = crate::error::Body),
        (status = 503, description = "`unavailable`: the store failed", body = crate::error::Body),
    ))]
async fn dead_letters(
    State(state): State<AppState>,
    _: Admin,
) -> Result<Json<DeadLetters>, ApiError> {
    let letters = state.engine.dead_letters().await?;
    let dead_letters = letters
        .into_iter()
        .map(|letter| DeadLetter {
            id: letter.id,
            sku: letter.sku.to_string(),
            attempts: letter.attempts,
            errors: letter
                .errors
                .iter()
                .map(|e| AttemptError {
                    at: e["at_ms"].as_i64().map(format_rfc3339_ms),
                    error: e["error"].clone(),
                })
                .collect(),
            created: format_rfc3339_ms(letter.created_ms),
        })
        .collect();
    Ok(Json(DeadLetters { dead_letters }))
}

/// `POST /api/v1/dead-letters/{id}/replay`: queues one dead letter again.
#[utoipa::path(post, path = "/api/v1/dead-letters/{id}/replay", tag = "dead-letters", security(("admin_token" = [])),
    params(("id" = i64, Path, description = "The dead letter's id")),
    responses(
        (status = 200, description = "Queued again", body = Replayed),
        (status = 400, description = "`bad_request`: the id is not a number", body = crate::error::Body),
        (status = 401, description = "`unauthorized`", body = crate::error::Body),
        (status = 404, description = "`dead_letter_not_found`", body = crate::error::Body),
        (status = 503, description = "`unavailable`: the store failed", body = crate::error::Body),
    ))]
async fn replay_dead_letter(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<i64>,
) -> Result<Json<Replayed>, ApiError> {
    match state.engine.replay_dead_letters(Some(id)).await? {
        0 => Err(ApiError::not_found(
            "dead_letter_not_found",
            format!("no dead letter {id}"),
        )),
        replayed => Ok(Json(Replayed { replayed })),
    }
}

/// `POST /api/v1/dead-letters/replay`: queues every dead letter again.
#[utoipa::path(post, path = "/api/v1/dead-letters/replay", tag = "dead-letters", security(("admin_token" = [])),
    responses(
        (status = 200, description = "Queued again", body = Replayed),
        (status = 401, description = "`unauthorized`", body = crate::error::Body),
        (status = 503, description = "`unavailable`: the store failed", body = crate::error::Body),
    ))]
async fn replay_all_dead_letters(
    State(state): State<AppState>,
    _: Admin,
) -> Result<Json<Replayed>, ApiError> {
    let replayed = state.engine.replay_dead_letters(None).await?;
    Ok(Json(Replayed { replayed }))
}
