//! The router and the public routes: the storefront read API, the health check and the I/O Events
//! registration handshake.

use crate::webhook::{receive_aem_event, receive_commerce_event};
use crate::{ApiError, AppState};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use connectors::sink::SinkState;
use domain::urls::Rendition;
use domain::{Sku, StoreView};
use serde::Deserialize;
use serde_json::json;

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/events/aem",
            get(challenge)
                .post(receive_aem_event)
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/events/commerce",
            get(challenge)
                .post(receive_commerce_event)
                .layer(DefaultBodyLimit::disable()),
        )
        .merge(crate::admin::routes())
        .route("/api/v1/products/{sku}/media", get(product_media))
        .route("/healthz", get(health))
        .fallback(|| async { ApiError::not_found("not_found", "no such route") })
        .with_state(state)
}

#[derive(Deserialize)]
struct ChallengeQuery {
    challenge: Option<String>,
}

/// The I/O Events registration handshake: echo `challenge`. I/O Events sends a UUID
/// (`8ec8d794-e0ab-42df-9017-e3dada8e84f7` in Adobe's "Introduction to Adobe I/O Events Webhooks"); nothing
/// else is echoed, so the endpoint cannot be used to reflect content. Plain text, never sniffed.
async fn challenge(Query(query): Query<ChallengeQuery>) -> Result<Response, ApiError> {
    let challenge = query.challenge.ok_or_else(|| {
        ApiError::bad_request(
            "missing_challenge",
            "GET /events/aem expects ?challenge=<value>",
        )
    })?;
    if !is_uuid(&challenge) {
        return Err(ApiError::bad_request(
            "invalid_challenge",
            "the challenge must be a UUID, as I/O Events sends it",
        ));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        challenge,
    )
        .into_response())
}

/// `8-4-4-4-12` hexadecimal digits.
fn is_uuid(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `GET /api/v1/products/{sku}/media`: the public read API, served from memory. Rendition parameters
/// (`width`, `height`, `quality`, `format`, ...) shape every entry's `rendition_url`.
async fn product_media(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let sku = Sku::parse(&raw).map_err(|e| ApiError::bad_request("invalid_sku", e.to_string()))?;
    let unknown = || ApiError::not_found("product_not_found", format!("no product {sku} is known"));
    let bytes = state.engine.cache().get(&sku).ok_or_else(unknown)?;
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return Ok((
            [(header::CONTENT_TYPE, "application/json")],
            Body::from(bytes),
        )
            .into_response());
    };
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect();
    // `store` picks a store view's labels and visibility; the other parameters shape renditions.
    let store = match pairs.iter().position(|(name, _)| name == "store") {
        Some(at) => Some(
            StoreView::parse(&pairs.remove(at).1)
                .map_err(|e| ApiError::bad_request("invalid_store_view", format!("store: {e}")))?,
        ),
        None => None,
    };
    let rendition = Rendition::from_query(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        .map_err(|message| ApiError::bad_request("invalid_rendition", message))?;
    let shaped = state
        .engine
        .cache()
        .get_shaped(&sku, &rendition, store.as_ref())
        .ok_or_else(unknown)?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(shaped),
    )
        .into_response())
}

/// Decodes `%XX` escapes and `+` (a space) of a query component.
fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| raw.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (b'+', None) => out.push(b' '),
            (other, None) => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The sink's and the DAM's states for the health reports: `{"state": "ready"|"paused", "reason"}`.
pub(crate) struct Pauses {
    pub(crate) sink: serde_json::Value,
    pub(crate) dam: serde_json::Value,
    pub(crate) any: bool,
}

impl Pauses {
    pub(crate) fn now(state: &AppState) -> Self {
        let sink_reason = match state.engine.sink_state() {
            SinkState::Ready => None,
            SinkState::Paused(reason) => Some(reason),
        };
        let dam_reason = state.engine.dam_paused();
        let state_of = |reason: &Option<String>| if reason.is_some() { "paused" } else { "ready" };
        Self {
            any: sink_reason.is_some() || dam_reason.is_some(),
            sink: json!({ "kind": state.engine.sink_kind(), "state": state_of(&sink_reason), "reason": sink_reason }),
            dam: json!({ "state": state_of(&dam_reason), "reason": dam_reason }),
        }
    }
}

/// `GET /healthz` (public): 200 once events are accepted; `degraded` while the sink or DAM reads are paused
/// (credentials refused; events are still accepted and kept). Answered from memory, never from the database:
/// a load balancer polls it, and it must answer at once while the store is busy. States only: queue depths
/// and why a part is paused are in the admin report (`GET /api/v1/health/sync`).
async fn health(State(state): State<AppState>) -> Response {
    let pauses = Pauses::now(&state);
    let (mut stored, mut duplicates, mut ignored, mut refused) = (0u64, 0u64, 0u64, 0u64);
    for ((_, _, outcome), count) in state.engine.event_counters().snapshot() {
        match outcome {
            "stored" => stored += count,
            "duplicate" => duplicates += count,
            "ignored" | "other_environment" => ignored += count,
            _ => refused += count,
        }
    }
    let in_flight = state.engine.in_flight();
    Json(json!({
        "status": if pauses.any { "degraded" } else { "ok" },
        "sink": { "state": pauses.sink["state"] },
        "dam": { "state": pauses.dam["state"] },
        "events_since_start": {
            "stored": stored,
            "duplicates": duplicates,
            "ignored": ignored,
            "refused": refused,
        },
        "in_flight": { "assets": in_flight.assets(), "skus": in_flight.skus() },
    }))
    .into_response()
}
