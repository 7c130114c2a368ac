//! `/admin/sync-status`: one row per asset (the reference's System > AEM Assets > Sync Status), filtered by
//! status, asset id (prefix) and SKU as a GET form (`?status=Failed&asset_id=…&sku=…&sort=…`, so a filtered
//! view can be linked), sorted by processing time or asset id, paged with a keyset cursor (`after=`,
//! `before=`), under the sync health banner. Per asset: retry now (admin, CSRF), the match preview and its
//! history ([`super::asset_detail`]). Every figure comes from [`engine::Engine`] calls the JSON API makes too.

use super::shown::{self, query};
use crate::AdminState;
use crate::auth::{AdminOnly, CsrfForm, Refusal, SignedIn};
use crate::layout::{csrf_field, page};
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Redirect;
use axum::routing::{get, post};
use domain::{AssetId, Sku};
use engine::console::{
    AssetCursor, AssetListQuery, AssetPage, AssetRow, AssetSort, PageDirection, SyncHealthReport,
    SyncStatus,
};
use maud::{Markup, html};
use serde::Deserialize;

/// Rows per page.
pub const PAGE_ROWS: i64 = 50;

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/sync-status", get(show))
        .route("/sync-status/retry", post(retry))
}

/// The page's query: filters, order, position, and the outcome of a retry just made.
#[derive(Debug, Default, Deserialize)]
pub struct Params {
    pub status: Option<String>,
    pub asset_id: Option<String>,
    pub sku: Option<String>,
    pub sort: Option<String>,
    pub after: Option<String>,
    pub before: Option<String>,
    pub retried: Option<String>,
}

/// The filters as read, and what could not be read.
struct Filters {
    status: Option<SyncStatus>,
    asset_id: String,
    sku: String,
    sort: AssetSort,
    problems: Vec<String>,
}

impl Filters {
    fn read(params: &Params) -> Self {
        let mut problems = Vec::new();
        let text = |v: &Option<String>| v.as_deref().unwrap_or_default().trim().to_owned();
        let status = match text(&params.status).as_str() {
            "" | "all" => None,
            other => SyncStatus::parse(other).or_else(|| {
                problems.push(format!(
                    "“{other}” is not a status (Success, Failed or Waiting)."
                ));
                None
            }),
        };
        let sort = match text(&params.sort).as_str() {
            "" => AssetSort::default(),
            other => AssetSort::parse(other).unwrap_or_else(|| {
                problems.push(format!("“{other}” is not an order; the default is used."));
                AssetSort::default()
            }),
        };
        Self {
            status,
            asset_id: text(&params.asset_id),
            sku: text(&params.sku),
            sort,
            problems,
        }
    }

    /// The filters and order as query pairs (without the position).
    fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "status",
                self.status
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            ),
            ("asset_id", self.asset_id.clone()),
            ("sku", self.sku.clone()),
            (
                "sort",
                if self.sort == AssetSort::default() {
                    String::new()
                } else {
                    self.sort.as_str().to_owned()
                },
            ),
        ]
    }

    /// This view's URL with `extra` pairs (a cursor, another order).
    fn url(&self, extra: &[(&'static str, String)]) -> String {
        let mut pairs = self.pairs();
        for (key, value) in extra {
            pairs.retain(|(k, _)| k != key);
            pairs.push((key, value.clone()));
        }
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        format!("/admin/sync-status{}", query(&refs))
    }
}

async fn show(
    State(state): State<AdminState>,
    user: SignedIn,
    Query(params): Query<Params>,
) -> Result<Markup, Refusal> {
    let mut filters = Filters::read(&params);
    let sku = match filters.sku.as_str() {
        "" => None,
        raw => match Sku::parse(raw) {
            Ok(sku) => Some(state.engine.product_key(&sku)),
            Err(error) => {
                filters
                    .problems
                    .push(format!("The SKU filter was not used: {error}."));
                None
            }
        },
    };
    let (cursor, direction) = match (&params.after, &params.before) {
        (_, Some(before)) => (AssetCursor::parse(before), PageDirection::Before),
        (Some(after), None) => (AssetCursor::parse(after), PageDirection::After),
        (None, None) => (None, PageDirection::After),
    };
    let listing = AssetListQuery {
        status: filters.status,
        asset_id_prefix: (!filters.asset_id.is_empty()).then(|| filters.asset_id.clone()),
        sku,
        sort: filters.sort,
        cursor,
        direction,
        limit: PAGE_ROWS,
    };
    let unavailable = |e: engine::EngineError| Refusal::Unavailable(e.to_string());
    let health = state.engine.sync_health().await.map_err(unavailable)?;
    let rows = state
        .engine
        .list_assets(&listing)
        .await
        .map_err(unavailable)?;
    let here = filters.url(&[
        ("after", params.after.clone().unwrap_or_default()),
        ("before", params.before.clone().unwrap_or_default()),
    ]);
    let body = html! {
        h1 { "Sync Status" }
        (banner(&health, &here))
        @if let Some(retried) = &params.retried {
            p.ok-box role="status" { "Asset " code { (retried) } " will be read from the DAM again now." }
        }
        @for problem in &filters.problems {
            p.error-box role="alert" { (problem) }
        }
        (filter_form(&filters))
        @if listing.asset_id_prefix.is_some() && listing.sort != listing.effective_sort() {
            p.help { "Filtered by asset id, the list is in asset id order." }
        }
        (table(&user, &filters, &listing, &rows, &here))
        (pager(&filters, &rows))
    };
    Ok(page(&user, "Sync Status", body))
}

/// The health banner: sync on or off, the sink and the DAM (and why they are paused), queues and the oldest
/// pending work, and a Refresh link.
fn banner(health: &SyncHealthReport, here: &str) -> Markup {
    let backlog = &health.backlog;
    let part = |name: &str, part: &engine::console::PartHealth| {
        html! {
            li {
                (name) ": "
                @if part.state.paused() {
                    strong.error { "paused" }
                    @if let Some(reason) = &part.state.reason { " — " (reason) }
                    @if let Some(process) = &part.process { " (process " (process) ")" }
                } @else {
                    "ready"
                }
            }
        }
    };
    let sink_name = format!("Commerce ({})", health.sink.kind.unwrap_or("sink"));
    html! {
        section id="health" class=(if health.degraded() { "error-box" } else { "ok-box" }) aria-label="Sync health" {
            p {
                strong { @if health.degraded() { "Attention: sync is held up" } @else { "Sync is healthy" } }
                " · " a href=(here) { "Refresh" }
                " · " span.muted { "as of " (shown::time(health.now_ms)) " UTC" }
            }
            ul {
                li { "Synchronization: " @if health.sync_enabled { "enabled" } @else { strong.error { "disabled" } " (nothing is written to galleries)" } }
                (part(&sink_name, &health.sink))
                (part("DAM reads", &health.dam))
                li {
                    "Queues: " (backlog.asset_work) " asset reads, " (backlog.sku_work) " gallery writes"
                    @if backlog.bulk_sku_work > 0 { " (" (backlog.bulk_sku_work) " of a full sync)" }
                    "; oldest pending gallery " (shown::maybe_duration(health.age_ms(backlog.oldest_sku_work_ms)))
                    @if backlog.oldest_sku_work_ms.is_some() { " old" }
                }
                li {
                    "Assets: " (backlog.waiting_assets) " waiting"
                    @if let Some(age) = health.age_ms(backlog.oldest_waiting_ms) { " (the oldest for " (shown::duration(age)) ")" }
                    ", " a href="/admin/sync-status?status=Failed" { (backlog.failed_assets) " failed" }
                    ", " a href="/admin/dead-letters" { (backlog.dead_letters) " dead letters" }
                }
                li { "Processes sharing the database: " (health.processes) "; in flight: " (health.in_flight.assets) " assets, " (health.in_flight.skus) " galleries" }
            }
        }
    }
}

fn filter_form(filters: &Filters) -> Markup {
    let status = filters.status.map(|s| s.as_str()).unwrap_or("");
    html! {
        form.card method="get" action="/admin/sync-status" role="search" aria-label="Filter assets" {
            div style="display:flex;gap:1em;flex-wrap:wrap;align-items:flex-end" {
                p style="margin:0" {
                    label for="status" { "Status" } br;
                    select id="status" name="status" {
                        @for (value, name) in [("", "All"), ("Success", "Success"), ("Failed", "Failed"), ("Waiting", "Waiting")] {
                            option value=(value) selected[value == status] { (name) }
                        }
                    }
                }
                p style="margin:0;flex:1" {
                    label for="asset_id" { "Asset id (or its beginning)" } br;
                    input type="text" id="asset_id" name="asset_id" value=(filters.asset_id) placeholder="urn:aaid:aem:…";
                }
                p style="margin:0" {
                    label for="sku" { "SKU" } br;
                    input type="text" id="sku" name="sku" value=(filters.sku);
                }
                p style="margin:0" {
                    label for="sort" { "Order" } br;
                    select id="sort" name="sort" {
                        @for sort in AssetSort::ALL {
                            option value=(sort.as_str()) selected[sort == filters.sort] { (sort_name(sort)) }
                        }
                    }
                }
                p style="margin:0" {
                    button type="submit" id="filter" { "Filter" } " "
                    a href="/admin/sync-status" { "Clear" }
                }
            }
        }
    }
}

fn sort_name(sort: AssetSort) -> &'static str {
    match sort {
        AssetSort::ProcessingDesc => "Processed, newest first",
        AssetSort::ProcessingAsc => "Processed, oldest first",
        AssetSort::AssetIdAsc => "Asset id, A → Z",
        AssetSort::AssetIdDesc => "Asset id, Z → A",
    }
}

/// A column header that sorts by it: the other direction when it sorts already.
fn sort_header(
    filters: &Filters,
    name: &str,
    down: AssetSort,
    up: AssetSort,
    current: AssetSort,
) -> Markup {
    let (next, mark, aria) = if current == down {
        (up, " ▼", "descending")
    } else if current == up {
        (down, " ▲", "ascending")
    } else {
        (down, "", "none")
    };
    html! {
        th aria-sort=(aria) {
            a href=(filters.url(&[("sort", next.as_str().to_owned())])) { (name) (mark) }
        }
    }
}

fn table(
    user: &SignedIn,
    filters: &Filters,
    listing: &AssetListQuery,
    rows: &AssetPage,
    here: &str,
) -> Markup {
    let current = listing.effective_sort();
    html! {
        table id="assets" {
            caption.muted style="text-align:left;caption-side:top;padding:.3em 0" {
                (rows.rows.len()) " assets on this page"
            }
            thead {
                tr {
                    (sort_header(filters, "Asset", AssetSort::AssetIdDesc, AssetSort::AssetIdAsc, current))
                    th { "Name" }
                    th { "Status" }
                    (sort_header(filters, "Processed", AssetSort::ProcessingDesc, AssetSort::ProcessingAsc, current))
                    th { "Dispatched" }
                    th { "Latency" }
                    th { "Linked SKUs" }
                    th { "Error" }
                    th { "Actions" }
                }
            }
            tbody {
                @if rows.rows.is_empty() {
                    tr { td colspan="9" .muted { "No asset matches." } }
                }
                @for row in &rows.rows {
                    (asset_row(user, row, here))
                }
            }
        }
    }
}

fn asset_row(user: &SignedIn, row: &AssetRow, here: &str) -> Markup {
    let id = row.asset_id.as_str();
    let status_class = match row.status {
        SyncStatus::Failed => "error",
        SyncStatus::Waiting => "muted",
        SyncStatus::Success => "",
    };
    html! {
        tr data-status=(row.status.as_str()) {
            td { a href=(format!("/admin/sync-status/history?asset_id={}", shown::encode(id))) { code { (row.asset_id.uuid()) } } }
            td { (row.name.as_deref().unwrap_or("–")) }
            td class=(status_class) { (row.status.as_str()) }
            td { (shown::maybe_time(row.processing_ms)) }
            td { (shown::maybe_time(row.dispatched_ms)) }
            td { (shown::maybe_duration(row.latency_ms)) }
            td {
                @for (i, sku) in row.linked_skus.iter().enumerate() {
                    @if i > 0 { ", " }
                    a href=(format!("/admin/products/{}", shown::encode(sku.as_str()))) { (sku.as_str()) }
                }
            }
            td.error { (row.last_error.as_deref().unwrap_or("")) }
            td style="white-space:nowrap" {
                form method="post" action="/admin/sync-status/retry" style="display:inline" {
                    (csrf_field(user))
                    input type="hidden" name="asset_id" value=(id);
                    input type="hidden" name="back" value=(here);
                    button.secondary type="submit" disabled[!user.is_admin()]
                        title=(if user.is_admin() { "Read this asset from the DAM again now" } else { "Viewers cannot retry" }) { "Retry" }
                }
                " "
                a href=(format!("/admin/sync-status/preview?asset_id={}", shown::encode(id))) { "Preview" }
                " · "
                a href=(format!("/admin/sync-status/history?asset_id={}", shown::encode(id))) { "History" }
            }
        }
    }
}

fn pager(filters: &Filters, rows: &AssetPage) -> Markup {
    html! {
        nav aria-label="Pages" style="display:flex;gap:1.5em;margin:1em 0" {
            @if let (true, Some(first)) = (rows.has_previous, rows.rows.first()) {
                a rel="prev" href=(filters.url(&[("before", first.cursor().encode())])) { "← Previous page" }
            }
            a href=(filters.url(&[])) { "First page" }
            @if let (true, Some(last)) = (rows.has_next, rows.rows.last()) {
                a rel="next" href=(filters.url(&[("after", last.cursor().encode())])) { "Next page →" }
            }
        }
    }
}

/// `POST /admin/sync-status/retry` (admin, CSRF): reads the asset again now, then back to the page it was
/// asked from.
async fn retry(
    State(state): State<AdminState>,
    _admin: AdminOnly,
    form: CsrfForm,
) -> Result<Redirect, Refusal> {
    let raw = form.get("asset_id").unwrap_or_default();
    let asset = AssetId::parse(raw).map_err(|e| Refusal::BadForm(e.to_string()))?;
    state
        .engine
        .retry_asset(&asset)
        .await
        .map_err(|e| Refusal::Unavailable(e.to_string()))?;
    tracing::info!(user = %form.user.username, asset = asset.as_str(), "an operator asked to retry an asset");
    // Only back to a console page (never an open redirect).
    let back = form
        .get("back")
        .filter(|b| b.starts_with("/admin/sync-status"))
        .unwrap_or("/admin/sync-status");
    let separator = if back.contains('?') { '&' } else { '?' };
    Ok(Redirect::to(&format!(
        "{back}{separator}retried={}",
        shown::encode(asset.as_str())
    )))
}
