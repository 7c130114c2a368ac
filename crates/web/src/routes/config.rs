//! The integration's configuration (global scope): read, change, history, and an App Builder
//! `workspace.json` upload for the custom matcher's credentials. Secrets are write-only: replies show
//! `<field>_set` instead.

use crate::extract::{Admin, BodyBytes};
use crate::{ApiError, AppState};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use domain::time::format_rfc3339_ms;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_config, put_config))
        .routes(routes!(config_history))
        .routes(routes!(upload_workspace))
}

/// The configuration's fields by name (secrets only as `<field>_set`).
type ConfigFields = BTreeMap<String, Value>;

/// The scope a configuration call addresses: only the global (default) scope exists.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ScopeQuery {
    /// `default` or `global` (any other scope is refused with 400 `scope_not_supported`).
    #[param(value_type = Option<String>, pattern = "^(default|global)$")]
    scope: Option<String>,
    /// `0` (any other scope id is refused with 400 `scope_not_supported`).
    #[param(value_type = Option<String>, pattern = "^0$")]
    scope_id: Option<String>,
}

/// A saved change.
#[derive(Serialize, ToSchema)]
pub(crate) struct ConfigSaved {
    /// The configuration now.
    #[schema(value_type = Object)]
    config: ConfigFields,
    /// The fields the change changed.
    changed: Vec<String>,
    /// The full sync a change of what matches started (or joined).
    full_sync: Option<i64>,
}

/// One changed field: its old and new value.
#[derive(Serialize, ToSchema)]
pub(crate) struct FieldChange {
    field: String,
    old: Value,
    new: Value,
}

/// One saved change.
#[derive(Serialize, ToSchema)]
pub(crate) struct HistoryEntry {
    /// When it was saved (RFC 3339).
    at: String,
    fields: Vec<FieldChange>,
}

/// `GET /api/v1/config/history`.
#[derive(Serialize, ToSchema)]
pub(crate) struct ConfigHistory {
    /// Newest first.
    changes: Vec<HistoryEntry>,
}

/// Only the global (default) scope exists: any other scope is refused, and nothing is stored.
fn require_global_scope(query: &ScopeQuery) -> Result<(), ApiError> {
    let scope_ok = query
        .scope
        .as_deref()
        .is_none_or(|s| matches!(s, "default" | "global"));
    let id_ok = query.scope_id.as_deref().is_none_or(|id| id == "0");
    if scope_ok && id_ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "scope_not_supported",
            "only the global (default) scope exists; the global value applies to every website and store view",
        ))
    }
}

/// `GET /api/v1/config`: the integration's configuration (global scope).
#[utoipa::path(get, path = "/api/v1/config", tag = "config", security(("admin_token" = [])), params(ScopeQuery),
    responses(
        (status = 200, description = "The configuration's fields (secrets only as `<field>_set`)", body = Object),
        (status = 400, description = "`scope_not_supported`, `bad_request` (a query that does not parse)", body = crate::error::Body),
        (status = 401, description = "`unauthorized`", body = crate::error::Body),
    ))]
async fn get_config(
    State(state): State<AppState>,
    _: Admin,
    Query(scope): Query<ScopeQuery>,
) -> Result<Json<ConfigFields>, ApiError> {
    require_global_scope(&scope)?;
    Ok(Json(state.engine.config().as_fields()))
}

/// `PUT /api/v1/config`: changes fields.
///
/// Fields left out keep their value, `null` returns a field to its default. The change is validated whole:
/// one invalid field and nothing is saved (422 with a message per field).
#[utoipa::path(put, path = "/api/v1/config", tag = "config", security(("admin_token" = [])), params(ScopeQuery),
    request_body(content = Object, description = "Fields to change, by name", content_type = "application/json"),
    responses(
        (status = 200, description = "Saved", body = ConfigSaved),
        (status = 400, description = "`malformed_json`, `scope_not_supported`, `bad_request`, `unreadable_body`", body = crate::error::Body),
        (status = 401, description = "`unauthorized`", body = crate::error::Body),
        (status = 408, description = "`request_timeout`", body = crate::error::Body),
        (status = 413, description = "`body_too_large`", body = crate::error::Body),
        (status = 422, description = "`invalid_config`: `fields` says what is wrong with each; nothing was saved", body = crate::error::Body),
        (status = 503, description = "`unavailable`: the store failed", body = crate::error::Body),
    ))]
async fn put_config(
    State(state): State<AppState>,
    _: Admin,
    Query(scope): Query<ScopeQuery>,
    BodyBytes(body): BodyBytes,
) -> Result<Json<ConfigSaved>, ApiError> {
    require_global_scope(&scope)?;
    let change = json_body(&body)?;
    save_config(&state, &change).await
}

pub(super) fn json_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("malformed_json", format!("the body is not JSON: {e}")))
}

/// Saves a change and answers the new configuration (secrets only as `<field>_set`).
async fn save_config(state: &AppState, change: &Value) -> Result<Json<ConfigSaved>, ApiError> {
    let update = state.engine.update_config(change).await?;
    Ok(Json(ConfigSaved {
        config: update.config.as_fields(),
        changed: update.changes.into_iter().map(|c| c.field).collect(),
        full_sync: update.full_sync,
    }))
}

/// `POST /api/v1/config/workspace`: an App Builder `workspace.json`.
///
/// Its org id, OAuth server-to-server client id, first client secret and scopes become the custom matcher's
/// credentials (the secret write-only).
#[utoipa::path(post, path = "/api/v1/config/workspace", tag = "config", security(("admin_token" = [])),
    request_body(content = Object, description = "An App Builder workspace.json", content_type = "application/json"),
    responses(
        (status = 200, description = "Saved", body = ConfigSaved),
        (status = 400, description = "`malformed_json`, `unreadable_body`", body = crate::error::Body),
        (status = 401, description = "`unauthorized`", body = crate::error::Body),
        (status = 408, description = "`request_timeout`", body = crate::error::Body),
        (status = 413, description = "`body_too_large`", body = crate::error::Body),
        (status = 422, description = "`invalid_workspace` (fields the matcher needs are missing), `invalid_config`; nothing was saved", body = crate::error::Body),
        (status = 503, description = "`unavailable`: the store failed", body = crate::error::Body),
    ))]
async fn upload_workspace(
    State(state): State<AppState>,
    _: Admin,
    BodyBytes(body): BodyBytes,
) -> Result<Json<ConfigSaved>, ApiError> {
    let workspace = json_body(&body)?;
    let change =
        domain::config::IntegrationConfig::workspace_change(&workspace).map_err(|fields| {
            ApiError::invalid_fields(
                "invalid_workspace",
                format!(
                    "workspace.json lacks {} field(s) the custom matcher needs; nothing was saved",
                    fields.len()
                ),
                &fields,
            )
        })?;
    save_config(&state, &change).await
}

/// `GET /api/v1/config/history`: every saved change, newest first.
#[utoipa::path(get, path = "/api/v1/config/history", tag = "config", security(("admin_token" = [])),
    responses(
        (status = 200, description = "The changes", body = ConfigHistory),
        (status = 401, description = "`unauthorized`", body = crate::error::Body),
        (status = 503, description = "`unavailable`: the store failed", body = crate::error::Body),
    ))]
async fn config_history(
    State(state): State<AppState>,
    _: Admin,
) -> Result<Json<ConfigHistory>, ApiError> {
    let history = state.engine.config_history(1000).await?;
    let changes = history
        .into_iter()
        .map(|change| HistoryEntry {
            at: format_rfc3339_ms(change.at_ms),
            fields: change
                .changes
                .into_iter()
                .map(|c| FieldChange {
                    field: c.field,
                    old: c.old,
                    new: c.new,
                })
                .collect(),
        })
        .collect();
    Ok(Json(ConfigHistory { changes }))
}
