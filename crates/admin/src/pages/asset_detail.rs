//! One asset, from the Sync Status page: `/admin/sync-status/history?asset_id=…` (its status, what it asks
//! for, the events received for it, with Retry) and `/admin/sync-status/preview?asset_id=…` (the match
//! preview: what a sync would do now, computed by the engine's `preview_asset`, the call
//! `POST /api/v1/match/preview` makes; nothing is written).

use super::shown;
use crate::AdminState;
use crate::auth::{Refusal, SignedIn};
use crate::layout::{csrf_field, page};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::AssetId;
use engine::console::RETRY_EVENT_TYPE;
use maud::{Markup, html};
use serde::Deserialize;

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/sync-status/history", get(history))
        .route("/sync-status/preview", get(preview))
}

#[derive(Debug, Deserialize)]
pub struct Asset {
    pub asset_id: Option<String>,
}

/// The asset named by the query, or a page saying why there is none.
fn asset_of(user: &SignedIn, query: &Asset) -> Result<AssetId, Box<Response>> {
    let raw = query.asset_id.as_deref().unwrap_or_default().trim();
    AssetId::parse(raw).map_err(|e| {
        let body = html! {
            h1 { "Asset" }
            p.error-box role="alert" { "Not an asset id: " (e) "." }
            p { a href="/admin/sync-status" { "Back to Sync Status" } }
        };
        Box::new((StatusCode::BAD_REQUEST, page(user, "Sync Status", body)).into_response())
    })
}

fn retry_form(user: &SignedIn, asset: &AssetId) -> Markup {
    let back = format!(
        "/admin/sync-status/history?asset_id={}",
        shown::encode(asset.as_str())
    );
    html! {
        form method="post" action="/admin/sync-status/retry" style="display:inline" {
            (csrf_field(user))
            input type="hidden" name="asset_id" value=(asset.as_str());
            input type="hidden" name="back" value=(back);
            button type="submit" disabled[!user.is_admin()] { "Retry now" }
        }
    }
}

async fn history(
    State(state): State<AdminState>,
    user: SignedIn,
    Query(query): Query<Asset>,
) -> Result<Response, Refusal> {
    let asset = match asset_of(&user, &query) {
        Ok(asset) => asset,
        Err(page) => return Ok(*page),
    };
    let found = state
        .engine
        .asset_history(&asset)
        .await
        .map_err(|e| Refusal::Unavailable(e.to_string()))?;
    let preview = format!(
        "/admin/sync-status/preview?asset_id={}",
        shown::encode(asset.as_str())
    );
    let body = html! {
        h1 { "Asset " code { (asset.uuid()) } }
        p { a href="/admin/sync-status" { "← Sync Status" } " · " a href=(preview) { "Match preview" } " · " (retry_form(&user, &asset)) }
        section aria-label="Status" {
            @match &found.status {
                None => p.muted { "assetsync has never seen this asset (no event, no full sync)." },
                Some(status) => table {
                    tbody {
                        tr { th { "Status" } td { (status.status.as_str()) } }
                        tr { th { "Eligible" } td { @if status.eligible { "yes" } @else { "no" } } }
                        tr { th { "Processed" } td { (shown::maybe_time(status.processing_ms)) } }
                        tr { th { "Dispatched" } td { (shown::maybe_time(status.dispatched_ms)) } }
                        tr { th { "Latency" } td { (shown::maybe_duration(status.last_latency_ms)) } }
                        tr { th { "Linked SKUs" } td { (status.linked_skus.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) } }
                        tr { th { "Waiting for products" } td { (status.waiting_for_products.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) } }
                        tr { th { "Error" } td.error { (status.last_error.as_deref().unwrap_or("")) } }
                        tr { th { "Warnings" } td { @for w in &status.warnings { (w) br; } } }
                    }
                },
            }
        }
        section aria-label="What it asks for" {
            h2 { "Links it asks for" }
            @if found.claims.is_empty() {
                p.muted { "None stored." }
            } @else {
                table {
                    thead { tr { th { "SKU" } th { "Roles" } th { "Position" } th { "Label" } } }
                    tbody {
                        @for link in &found.claims {
                            tr {
                                td { a href=(format!("/admin/products/{}", shown::encode(link.sku.as_str()))) { (link.sku.as_str()) } }
                                td { (link.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")) }
                                td { (link.position.map_or_else(|| "–".to_owned(), |p| p.to_string())) }
                                td { (link.label.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
        section aria-label="History" {
            h2 { "Events received" }
            p.help { "Newest first; kept for the retention (" code { "retention_days" } "). A retry shows as " code { (RETRY_EVENT_TYPE) } "." }
            @if found.events.is_empty() {
                p.muted { "None kept." }
            } @else {
                table id="history" {
                    thead { tr { th { "Received (UTC)" } th { "Type" } th { "Event id" } } }
                    tbody {
                        @for event in &found.events {
                            tr { td { (shown::time(event.received_ms)) } td { code { (event.event_type) } } td.muted { (event.event_id) } }
                        }
                    }
                }
            }
        }
    };
    Ok(page(&user, "Sync Status", body).into_response())
}

async fn preview(
    State(state): State<AdminState>,
    user: SignedIn,
    Query(query): Query<Asset>,
) -> Result<Response, Refusal> {
    let asset = match asset_of(&user, &query) {
        Ok(asset) => asset,
        Err(page) => return Ok(*page),
    };
    let history = format!(
        "/admin/sync-status/history?asset_id={}",
        shown::encode(asset.as_str())
    );
    let body = match state.engine.preview_asset(&asset).await {
        Err(error) => html! {
            h1 { "Match preview" }
            p.error-box role="alert" { "No preview: " (error) }
            p { a href=(history) { "← History" } }
        },
        Ok(preview) => html! {
            h1 { "Match preview of " code { (asset.uuid()) } }
            p { a href="/admin/sync-status" { "← Sync Status" } " · " a href=(history) { "History" } }
            p.notice { "What a sync would do now under the rule " code { (name_of(&preview.matching_rule)) } ". Nothing is written." }
            table {
                tbody {
                    tr { th { "Outcome" } td { code { (preview.outcome) } } }
                    tr { th { "Reason" } td { (preview.reason.as_deref().unwrap_or("")) } }
                    tr { th { "Warnings" } td { @for w in &preview.warnings { (w) br; } } }
                }
            }
            h2 { "Links" }
            table {
                thead { tr { th { "SKU" } th { "Roles" } th { "Position" } th { "Label" } th { "Type" } } }
                tbody {
                    @for link in &preview.links {
                        tr {
                            td { (link.sku.as_str()) }
                            td { (link.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")) }
                            td { (link.position.map_or_else(|| "–".to_owned(), |p| p.to_string())) }
                            td { (link.label.as_deref().unwrap_or("")) }
                            td { (name_of(&link.media_type)) }
                        }
                    }
                }
            }
            h2 { "Galleries it touches" }
            @for product in &preview.products {
                section {
                    h3 { (product.sku.as_str()) @if !product.product_exists { " " span.muted { "(not in the catalog yet: nothing is written until it appears)" } } }
                    p { "Operations: "
                        @if product.operations.is_empty() { span.muted { "none" } }
                        @for op in &product.operations { code { (op.op) } " " (op.entry.asset_id.uuid()) " @" (op.entry.position) "; " }
                    }
                    ol {
                        @for entry in &product.gallery {
                            li { code { (entry.asset_id.uuid()) } " — position " (entry.position) ", " (entry.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")) }
                        }
                    }
                }
            }
        },
    };
    Ok(page(&user, "Sync Status", body).into_response())
}

/// A value's serialised name (`match_by_sku`, `image`).
fn name_of<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
