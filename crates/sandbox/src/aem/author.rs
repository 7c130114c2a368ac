//! The Author API reads: the bearer-token and experimental-header checks, the metadata endpoint (reference
//! §10.5) and the I/O Events journal (§10.4).

use super::{Shared, asset_json, problem};
use crate::ims::TokenCheck;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// A 401 unless the request carries the static token or a live token minted by the IMS endpoint; a minted
/// token also needs `X-Api-Key: <its client id>` (else 403, as Adobe's gateway answers).
fn token_refusal(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !bearer.is_empty() && bearer == shared.settings.access_token {
        return None;
    }
    let detail = match shared.ims.check(bearer) {
        TokenCheck::Live { client_id } => {
            let api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
            if api_key == Some(client_id.as_str()) {
                return None;
            }
            return Some(problem(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "Api Key is invalid (X-Api-Key must be the token's client id)",
            ));
        }
        TokenCheck::Expired => "the IMS access token has expired",
        TokenCheck::Unknown => "a valid IMS bearer token is required",
    };
    Some(problem(StatusCode::UNAUTHORIZED, "Unauthorized", detail))
}

/// Author API requests need a valid bearer token and the experimental-API header.
pub(super) fn author_refusal(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    if let Some(refusal) = token_refusal(shared, headers) {
        return Some(refusal);
    }
    if headers
        .get("x-adobe-accept-experimental")
        .and_then(|v| v.to_str().ok())
        != Some("1")
    {
        return Some(problem(
            StatusCode::NOT_FOUND,
            "Not Found",
            "No RequestProcessor can handle this request (experimental API: send X-Adobe-Accept-Experimental: 1)",
        ));
    }
    None
}

pub(super) async fn get_metadata(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(asset_id): Path<String>,
) -> Response {
    if let Some(refusal) = author_refusal(&shared, &headers) {
        return refusal;
    }
    let mut inner = shared.lock();
    *inner.metadata_reads.entry(asset_id.clone()).or_default() += 1;
    if let Some(status) = inner.metadata_faults.pop_front() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return problem(
            status,
            status.canonical_reason().unwrap_or("Error"),
            "injected fault",
        );
    }
    if let Some(status) = inner.asset_read_statuses.get(&asset_id) {
        let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return problem(
            status,
            status.canonical_reason().unwrap_or("Error"),
            &format!("access to asset {asset_id} is refused"),
        );
    }
    let visible = if inner.hide_all_assets {
        None
    } else {
        inner.assets.get(&asset_id)
    };
    match visible {
        Some(asset) => Json(asset_json(&asset_id, asset)).into_response(),
        None => problem(
            StatusCode::NOT_FOUND,
            "Not Found",
            &format!("asset {asset_id} not found"),
        ),
    }
}

#[derive(Deserialize)]
pub(super) struct JournalQuery {
    since: Option<String>,
    limit: Option<usize>,
    latest: Option<bool>,
}

/// The I/O Events Journaling API (§10.4): events after `since` (or the oldest retained), at most `limit`;
/// 204 with `retry-after` when there is nothing new; `link: <…>; rel="next"` to continue; `latest=true` jumps
/// to the end.
pub(super) async fn journal(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<JournalQuery>,
) -> Response {
    if let Some(refusal) = token_refusal(&shared, &headers) {
        return refusal;
    }
    let mut inner = shared.lock();
    inner.journal_reads += 1;
    let start = match query.since.as_deref().map(str::parse::<usize>) {
        None => 0,
        Some(Ok(position)) => position,
        Some(Err(_)) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Bad Request",
                "invalid since position",
            );
        }
    };
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let url = format!(
        "{}/events/journal?limit={limit}&since=",
        inner.journal_next_origin.as_deref().unwrap_or_default()
    );
    if query.latest == Some(true) || start >= inner.journal.len() {
        let end = inner.journal.len();
        let mut reply = StatusCode::NO_CONTENT.into_response();
        if let Ok(value) = format!("<{url}{end}>; rel=\"next\"").parse() {
            reply.headers_mut().insert(header::LINK, value);
        }
        if let Ok(value) = "1".parse() {
            reply.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return reply;
    }
    let end = (start + limit).min(inner.journal.len());
    let events: Vec<Value> = inner.journal[start..end]
        .iter()
        .enumerate()
        .map(|(i, event)| json!({ "position": (start + i + 1).to_string(), "event": event }))
        .collect();
    let mut reply = Json(
        json!({ "events": events, "_page": { "last": end.to_string(), "count": end - start } }),
    )
    .into_response();
    if let Ok(value) = format!("<{url}{end}>; rel=\"next\"").parse() {
        reply.headers_mut().insert(header::LINK, value);
    }
    reply
}
