//! `/admin/products?sku=…` (products by SKU prefix, keyset paging) and `/admin/products/{sku}`: the gallery in
//! order (thumbnails, roles, position, label, media type, source; greyed with "hidden" where the visualization
//! owner hides an entry), why each asset and role is there, and the picker that links DAM assets by hand. The
//! picker's search and its links go through the engine calls of `GET /api/v1/dam/assets` and
//! `POST`/`DELETE /api/v1/products/{sku}/manual-links`.

use crate::AdminState;
use crate::auth::{AdminOnly, CsrfForm, Refusal, SignedIn};
use crate::layout::{csrf_field, page};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use domain::manual::RoleDecision;
use domain::{AssetId, Role, Sku};
use engine::EngineError;
use engine::manual::{DamSearchPage, NewManualLink};
use engine::product_view::ProductView;
use maud::{Markup, html};
use serde::Deserialize;

/// Products per page of the search.
const PAGE: i64 = 50;
/// DAM assets per page of the picker.
const PICKS: u32 = 12;

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/products", get(list))
        .route("/products/{sku}", get(show))
        .route("/products/{sku}/manual-links", post(add))
        .route("/products/{sku}/manual-links/{asset}/remove", post(remove))
}

/// Percent-encodes one path segment or query value (a SKU may hold `/`, `?`, `#`, spaces).
fn seg(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn product_path(sku: &Sku) -> String {
    format!("/admin/products/{}", seg(sku.as_str()))
}

#[derive(Deserialize)]
struct ListQuery {
    sku: Option<String>,
    after: Option<String>,
}

async fn list(
    State(state): State<AdminState>,
    user: SignedIn,
    Query(query): Query<ListQuery>,
) -> Result<Markup, Refusal> {
    let prefix = query.sku.as_deref().unwrap_or("").trim().to_owned();
    let after = query
        .after
        .as_deref()
        .filter(|a| !a.is_empty())
        .and_then(|a| Sku::parse(a).ok());
    let mut skus = state
        .engine
        .products_page(&prefix, after.as_ref(), PAGE + 1)
        .await
        .map_err(|e| Refusal::Unavailable(e.to_string()))?;
    let more = skus.len() > usize::try_from(PAGE).unwrap_or(usize::MAX);
    skus.truncate(usize::try_from(PAGE).unwrap_or(usize::MAX));
    let body = html! {
        h1 { "Products" }
        form.card method="get" action="/admin/products" role="search" {
            label for="sku" { "SKU starts with" }
            p { input type="text" id="sku" name="sku" value=(prefix) autofocus; " "
                button type="submit" id="search" { "Search" } }
        }
        @if skus.is_empty() {
            p.muted id="no-products" { "No product in the catalog matches." }
        } @else {
            table id="products" {
                thead { tr { th { "SKU" } } }
                tbody {
                    @for sku in &skus {
                        tr { td { a href=(product_path(sku)) { (sku.as_str()) } } }
                    }
                }
            }
            @if more {
                @if let Some(last) = skus.last() {
                    p { a id="next-page" href=(format!("/admin/products?sku={}&after={}", seg(&prefix), seg(last.as_str()))) { "Next page →" } }
                }
            }
        }
    };
    Ok(page(&user, "Products", body))
}

#[derive(Deserialize, Default)]
struct PickQuery {
    /// The picker's search text; the search runs when present.
    q: Option<String>,
    cursor: Option<String>,
}

async fn show(
    State(state): State<AdminState>,
    user: SignedIn,
    Path(raw): Path<String>,
    Query(pick): Query<PickQuery>,
) -> Result<Response, Refusal> {
    let sku = Sku::parse(&raw).map_err(|e| Refusal::BadForm(e.to_string()))?;
    render(&state, &user, &sku, &pick, None, StatusCode::OK).await
}

/// The product page, with `problem` above the picker when a change was refused.
async fn render(
    state: &AdminState,
    user: &SignedIn,
    sku: &Sku,
    pick: &PickQuery,
    problem: Option<&str>,
    status: StatusCode,
) -> Result<Response, Refusal> {
    let Some(view) = state
        .engine
        .product_view(sku)
        .await
        .map_err(|e| Refusal::Unavailable(e.to_string()))?
    else {
        let body = html! {
            h1 { "Product " (sku.as_str()) }
            p.error-box role="alert" { "assetsync knows nothing of this product." }
            p { a href="/admin/products" { "Back to the products" } }
        };
        return Ok((StatusCode::NOT_FOUND, page(user, "Products", body)).into_response());
    };
    let (results, search_error) = match pick.q.as_deref() {
        Some(q) => match state
            .engine
            .search_dam(q, pick.cursor.as_deref().filter(|c| !c.is_empty()), PICKS)
            .await
        {
            Ok(found) => (Some(found), None),
            Err(error) => (None, Some(error.to_string())),
        },
        None => (None, None),
    };
    let body = html! {
        h1 { "Product " (view.sku.as_str()) }
        @if view.pending {
            p.notice { "The gallery is being brought up to date: what is shown is what the platform holds now." }
        }
        (gallery(&view))
        (why(&view))
        (picker(user, &view, pick, results.as_ref(), search_error.as_deref(), problem))
    };
    Ok((status, page(user, "Products", body)).into_response())
}

fn gallery(view: &ProductView) -> Markup {
    html! {
        section aria-labelledby="gallery-title" {
            h2 id="gallery-title" { "Images and videos" }
            @if let Some(error) = &view.remote_error {
                p.error-box { "The store's own entries could not be read: " (error) }
            }
            @if view.entries.is_empty() {
                p.muted { "No entry yet." }
            } @else {
                table id="gallery" {
                    thead { tr { th { "Image" } th { "Position" } th { "Roles" } th { "Label" } th { "Type" } th { "Source" } th { "Asset" } } }
                    tbody {
                        @for e in &view.entries {
                            tr.entry.hidden-entry[e.hidden] style=[e.hidden.then_some("opacity:.45")]
                                data-source=(e.source.as_str()) data-asset=[e.asset_id.as_ref().map(|a| a.as_str())] {
                                td {
                                    @if let Some(url) = &e.thumbnail_url {
                                        img src=(url) alt=(e.label.as_deref().unwrap_or("")) width="80" loading="lazy";
                                    } @else if let Some(file) = &e.file {
                                        span.muted { (file) }
                                    }
                                }
                                td { (e.position) }
                                td { (e.roles.join(", ")) }
                                td { (e.label.as_deref().unwrap_or("")) }
                                td { (e.media_type) }
                                td {
                                    (e.source.as_str())
                                    @if e.hidden { " " strong.hidden-label { "hidden" } }
                                }
                                td {
                                    @if let Some(asset) = &e.asset_id {
                                        a href=(asset_link(asset)) { code { (asset.uuid()) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn asset_link(asset: &AssetId) -> String {
    format!("/admin/sync-status?asset_id={}", seg(asset.as_str()))
}

fn why(view: &ProductView) -> Markup {
    let rule = match view.rule {
        domain::config::MatchingRule::MatchBySku => "match by SKU (commerce:skus)",
        domain::config::MatchingRule::Filename => "file name rules",
        domain::config::MatchingRule::CustomMatch => "the custom matcher",
    };
    html! {
        section aria-labelledby="why-title" id="why" {
            h2 id="why-title" { "Why" }
            p.help {
                "A manual link wins on its product: it replaces the asset's own metadata claim and takes the roles it names \
                 from the assets the matching rule gives them to; among other claimants the newest modify date holds a role \
                 (ties: the greater asset id). The visualization owner (" (format!("{:?}", view.owner)) ") hides only entries \
                 matched from the DAM, never a manual one."
            }
            table {
                thead { tr { th { "Asset" } th { "Claims it by" } th { "Roles asked" } th { "Position asked" } } }
                tbody {
                    @for claim in &view.claims {
                        tr { td { a href=(asset_link(&claim.asset_id)) { code { (claim.asset_id.uuid()) } } }
                             td { (rule) }
                             td { (roles_text(&claim.roles)) }
                             td { (claim.position.map_or("after the positioned ones".to_owned(), |p| p.to_string())) } }
                    }
                    @for link in &view.manual {
                        tr { td { a href=(asset_link(&link.link.asset_id)) { code { (link.link.asset_id.uuid()) } } }
                             td { "a manual link (" (domain::time::format_rfc3339_ms(link.linked_ms)) ")" }
                             td { (roles_text(&link.link.roles)) }
                             td { (link.link.position.map_or("after the positioned ones".to_owned(), |p| p.to_string())) } }
                    }
                }
            }
            @if !view.decisions.is_empty() {
                ul id="roles" {
                    @for (role, decisions) in &view.decisions {
                        li { code { (role.as_str()) } ": " (decisions_text(decisions)) }
                    }
                }
            }
        }
    }
}

fn roles_text(roles: &std::collections::BTreeSet<Role>) -> String {
    if roles.is_empty() {
        "none".to_owned()
    } else {
        roles
            .iter()
            .map(Role::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn decisions_text(decisions: &[RoleDecision]) -> String {
    if decisions.is_empty() {
        return "held by nobody".to_owned();
    }
    decisions
        .iter()
        .map(|d| match d {
            RoleDecision::Held { by, source } => format!(
                "held by {} ({})",
                by.uuid(),
                if source.is_dam() {
                    "metadata"
                } else {
                    "manual link"
                }
            ),
            RoleDecision::TakenByManual { from, by } if from == by => {
                format!(
                    "{}'s manual link overrides its own metadata claim",
                    by.uuid()
                )
            }
            RoleDecision::TakenByManual { from, by } => {
                format!(
                    "taken from {} by the manual link of {}",
                    from.uuid(),
                    by.uuid()
                )
            }
            RoleDecision::LostToNewer { from, by } => {
                format!("{} lost it to the newer {}", from.uuid(), by.uuid())
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn picker(
    user: &SignedIn,
    view: &ProductView,
    pick: &PickQuery,
    results: Option<&DamSearchPage>,
    search_error: Option<&str>,
    problem: Option<&str>,
) -> Markup {
    let here = product_path(&view.sku);
    html! {
        section aria-labelledby="picker-title" id="picker" {
            h2 id="picker-title" { "Manual links" }
            @if let Some(problem) = problem {
                p.error-box role="alert" id="problem" { (problem) }
            }
            @if !view.manual.is_empty() {
                table id="manual-links" {
                    thead { tr { th { "Asset" } th { "Roles" } th { "Position" } th {} } }
                    tbody {
                        @for link in &view.manual {
                            tr { td { code { (link.link.asset_id.uuid()) } }
                                 td { (roles_text(&link.link.roles)) }
                                 td { (link.link.position.map_or(String::new(), |p| p.to_string())) }
                                 td {
                                    form method="post" action=(format!("{here}/manual-links/{}/remove", seg(link.link.asset_id.as_str()))) {
                                        (csrf_field(user))
                                        button.secondary type="submit" disabled[!user.is_admin()]
                                            data-remove=(link.link.asset_id.as_str()) { "Remove" }
                                    }
                                 } }
                        }
                    }
                }
            }
            form method="get" action=(here) role="search" {
                label for="q" { "Search approved DAM assets by name, path or title" }
                p { input type="text" id="q" name="q" value=(pick.q.as_deref().unwrap_or(""));
                    " " button type="submit" id="pick-search" { "Search" } }
            }
            @if let Some(error) = search_error {
                p.error-box { "The DAM search failed: " (error) }
            }
            @if let Some(found) = results {
                @if found.assets.is_empty() {
                    p.muted id="no-results" { "No approved asset matches." }
                }
                div id="results" style="display:grid;grid-template-columns:repeat(auto-fill,minmax(15em,1fr));gap:1em" {
                    @for asset in &found.assets {
                        form.card.result method="post" action=(format!("{here}/manual-links")) data-asset=(asset.asset_id.as_str()) {
                            (csrf_field(user))
                            input type="hidden" name="asset_id" value=(asset.asset_id.as_str());
                            img src=(asset.thumbnail_url) alt=(asset.title.as_deref().unwrap_or("")) width="120" loading="lazy";
                            p { strong { (asset.title.as_deref().or(asset.name.as_deref()).unwrap_or("")) } br;
                                span.muted { (asset.path.as_deref().unwrap_or("")) } }
                            p { label { "Roles " input type="text" name="roles" placeholder="image thumbnail"; } }
                            p { label { "Position " input type="number" name="position" min="0"; } }
                            button type="submit" disabled[!user.is_admin()] { "Add" }
                        }
                    }
                }
                @if let Some(cursor) = &found.cursor {
                    p { a id="more-results" href=(format!("{here}?q={}&cursor={}", seg(pick.q.as_deref().unwrap_or("")), seg(cursor))) { "More results →" } }
                }
            }
        }
    }
}

/// The picker's form as a link to add: `asset_id`, `roles` (separated by spaces, commas or `;`), `position`.
fn new_link(form: &CsrfForm) -> Result<NewManualLink, String> {
    let asset_id =
        AssetId::parse(form.get("asset_id").unwrap_or("").trim()).map_err(|e| e.to_string())?;
    let roles = form
        .get("roles")
        .unwrap_or("")
        .split([' ', ',', ';'])
        .filter(|r| !r.is_empty())
        .map(|r| Role::parse(r).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let position = match form
        .get("position")
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        None => None,
        Some(p) => Some(
            p.parse::<u32>()
                .map_err(|_| format!("position {p:?} is not a whole number from 0"))?,
        ),
    };
    Ok(NewManualLink {
        asset_id,
        roles,
        position,
    })
}

async fn add(
    State(state): State<AdminState>,
    _admin: AdminOnly,
    Path(raw): Path<String>,
    form: CsrfForm,
) -> Result<Response, Refusal> {
    let sku = Sku::parse(&raw).map_err(|e| Refusal::BadForm(e.to_string()))?;
    let outcome = match new_link(&form) {
        Ok(new) => state.engine.add_manual_link(&sku, new).await.map(|_| ()),
        Err(problem) => Err(EngineError::NotLinkable(problem)),
    };
    after_change(&state, &form.user, &sku, outcome).await
}

async fn remove(
    State(state): State<AdminState>,
    _admin: AdminOnly,
    Path((raw, asset)): Path<(String, String)>,
    form: CsrfForm,
) -> Result<Response, Refusal> {
    let sku = Sku::parse(&raw).map_err(|e| Refusal::BadForm(e.to_string()))?;
    let asset = AssetId::parse(&asset).map_err(|e| Refusal::BadForm(e.to_string()))?;
    let outcome = state.engine.remove_manual_link(&sku, &asset).await;
    after_change(&state, &form.user, &sku, outcome).await
}

/// Back to the product page after a change (303), or the page with the refusal (422/404).
async fn after_change(
    state: &AdminState,
    user: &SignedIn,
    sku: &Sku,
    outcome: Result<(), EngineError>,
) -> Result<Response, Refusal> {
    let status = match &outcome {
        Ok(()) => return Ok(Redirect::to(&product_path(sku)).into_response()),
        Err(EngineError::NotLinkable(_)) => StatusCode::UNPROCESSABLE_ENTITY,
        Err(EngineError::ProductNotFound(_) | EngineError::ManualLinkNotFound(_)) => {
            StatusCode::NOT_FOUND
        }
        Err(EngineError::Remote(_)) => StatusCode::BAD_GATEWAY,
        Err(error) => return Err(Refusal::Unavailable(error.to_string())),
    };
    let problem = outcome.err().map(|e| format!("Nothing was changed: {e}"));
    render(
        state,
        user,
        sku,
        &PickQuery::default(),
        problem.as_deref(),
        status,
    )
    .await
}
