//! Manual links (admin): `POST`/`GET /api/v1/products/{sku}/manual-links`, `DELETE
//! /api/v1/products/{sku}/manual-links/{asset_id}`, and the DAM search the picker uses, `GET
//! /api/v1/dam/assets`. The admin console makes the same engine calls.

use crate::extract::{Admin, BodyBytes};
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use domain::metadata::MAX_POSITION;
use domain::time::format_rfc3339_ms;
use domain::{AssetId, ManualLink, Role, Sku};
use engine::manual::{DamSearchPage, MAX_SEARCH_PAGE, NewManualLink};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(add_manual_link, list_manual_links))
        .routes(routes!(remove_manual_link))
        .routes(routes!(search_dam))
}

/// A manual link to add (or to replace, for an asset linked already).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewLink {
    /// The DAM asset (`urn:aaid:aem:…`); it must be approved (else 422 `asset_not_linkable`).
    #[schema(pattern = "^urn:aaid:aem:[0-9A-Za-z-]{1,64}$")]
    asset_id: String,
    /// Roles (attribute codes such as `image`, `small_image`, `thumbnail`): a manual link takes each from the
    /// assets the matching rule gives it to.
    #[serde(default)]
    #[schema(value_type = Vec<RoleCode>)]
    roles: Vec<String>,
    /// The gallery position (0 … 2147483647); absent or `null`: after the positioned entries.
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 2147483647)]
    position: Option<serde_json::Number>,
}

/// A role's attribute code: a letter, then letters, digits and `_`, at most 64 (compared lower-cased; else 400
/// `invalid_role`).
#[derive(ToSchema)]
#[schema(pattern = "^[A-Za-z][A-Za-z0-9_]{0,63}$")]
#[allow(dead_code)] // read as a `String`; declared for the document
pub(crate) struct RoleCode(String);

/// A product's manual link.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct LinkReply {
    sku: String,
    asset_id: String,
    roles: Vec<String>,
    position: Option<u32>,
    /// The asset's label when it was linked.
    label: Option<String>,
    /// `image` or `video`.
    media_type: String,
    /// Always `manual`.
    source: String,
    /// When it was linked (RFC 3339).
    linked_at: String,
}

impl From<&ManualLink> for LinkReply {
    fn from(link: &ManualLink) -> Self {
        let l = &link.link;
        Self {
            sku: l.sku.to_string(),
            asset_id: l.asset_id.to_string(),
            roles: l.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            position: l.position,
            label: l.label.clone(),
            media_type: l.media_type.as_str().to_owned(),
            source: "manual".to_owned(),
            linked_at: format_rfc3339_ms(link.linked_ms),
        }
    }
}

/// A product's manual links.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct LinkList {
    links: Vec<LinkReply>,
}

/// The path of one manual link.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // read as `Path<(String, String)>`; declared for the document
struct LinkPath {
    /// The product's SKU (400 `invalid_sku` when it does not parse).
    #[param(
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x1f\x7f-\x9f. \t][^\x00-\x1f\x7f-\x9f]*$"
    )]
    sku: String,
    /// The linked asset (400 `invalid_asset_id` when it does not parse).
    #[param(pattern = "^urn:aaid:aem:[0-9A-Za-z-]{1,64}$")]
    asset_id: String,
}

/// The product's SKU.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // read as `Path<String>`; declared for the document
struct ProductPath {
    /// The product's SKU (400 `invalid_sku` when it does not parse).
    #[param(
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x1f\x7f-\x9f. \t][^\x00-\x1f\x7f-\x9f]*$"
    )]
    sku: String,
}

/// A DAM search for the picker.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchQuery {
    /// Text the asset's name, path or title contains (any approved asset when absent or empty).
    q: Option<String>,
    /// The `cursor` of the previous page.
    cursor: Option<String>,
    /// Results per page, 1 … 100 (20 when absent; else 400 `invalid_limit`).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
}

/// One approved DAM asset.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct DamAssetReply {
    asset_id: String,
    name: Option<String>,
    path: Option<String>,
    title: Option<String>,
    /// `image` or `video`.
    media_type: String,
    /// A 240-pixel-wide rendition under the published origin.
    thumbnail_url: String,
}

/// A page of approved DAM assets.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct DamSearchReply {
    assets: Vec<DamAssetReply>,
    /// Send it back as `cursor` for the next page; absent on the last page.
    cursor: Option<String>,
    /// How many assets match, when the DAM said.
    total: Option<i64>,
}

impl From<DamSearchPage> for DamSearchReply {
    fn from(page: DamSearchPage) -> Self {
        Self {
            assets: page
                .assets
                .into_iter()
                .map(|a| DamAssetReply {
                    asset_id: a.asset_id.to_string(),
                    name: a.name,
                    path: a.path,
                    title: a.title,
                    media_type: a.media_type.as_str().to_owned(),
                    thumbnail_url: a.thumbnail_url,
                })
                .collect(),
            cursor: page.cursor,
            total: page.total,
        }
    }
}

/// Reads a manual link's body: 400 `malformed_json` (not JSON, or not this shape), `invalid_asset_id`,
/// `invalid_role`; 422 `invalid_position`.
fn new_link(body: &[u8]) -> Result<NewManualLink, ApiError> {
    let raw: NewLink = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "malformed_json",
            format!("the body must be {{\"asset_id\", \"roles\", \"position\"}}: {e}"),
        )
    })?;
    let position = match raw.position {
        None => None,
        Some(p) => Some(
            whole_position(&p)
                .filter(|p| *p <= MAX_POSITION)
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_position",
                        format!("position must be between 0 and {MAX_POSITION}"),
                    )
                })?,
        ),
    };
    Ok(NewManualLink {
        asset_id: AssetId::parse(raw.asset_id.trim())?,
        roles: raw
            .roles
            .iter()
            .map(|r| Role::parse(r.trim()))
            .collect::<Result<_, _>>()?,
        position,
    })
}

/// A position as JSON gives it: JSON Schema's `integer` includes a number written with a zero fraction (`3.0`).
fn whole_position(n: &serde_json::Number) -> Option<u32> {
    if let Some(whole) = n.as_i64() {
        return u32::try_from(whole).ok();
    }
    let f = n.as_f64()?;
    if f.fract() != 0.0 || !(0.0..=f64::from(MAX_POSITION)).contains(&f) {
        return None;
    }
    format!("{f:.0}").parse().ok()
}

/// `POST /api/v1/products/{sku}/manual-links`: links an approved DAM asset to the product by hand (replacing
/// its earlier manual link, if any). No automatic sync changes or removes it.
#[utoipa::path(post, path = "/api/v1/products/{sku}/manual-links", tag = "manual-links",
    security(("admin_token" = [])),
    params(ProductPath),
    request_body = NewLink,
    responses(
        (status = 201, description = "Linked", body = LinkReply),
        (status = 200, description = "The earlier manual link of this asset replaced", body = LinkReply),
        (status = 400, description = "`invalid_sku`, `malformed_json`, `invalid_asset_id`, `invalid_role`", body = crate::error::Body),
        (status = 401, description = "`unauthorized`", body = crate::error::Body),
        (status = 404, description = "`product_not_found`", body = crate::error::Body),
        (status = 422, description = "`asset_not_linkable` (not in the DAM, not approved, or unreadable), `invalid_position`", body = crate::error::Body),
        (status = 502, description = "`remote_unavailable`: the DAM could not be read", body = crate::error::Body),
        (status = 503, description = "`unavailable`: the store failed", body = crate::error::Body),
    ))]
async fn add_manual_link(
    State(state): State<AppState>,
    _: Admin,
    Path(raw): Path<String>,
    BodyBytes(body): BodyBytes,
) -> Result<(StatusCode, Json<LinkReply>), ApiError> {
    let sku = Sku::parse(&raw)?;
    let new = new_link(&body)?;
    let (link, created) = state.engine.add_manual_link(&sku, new).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(LinkReply::from(&link))))
}

/// `GET /api/v1/products/{sku}/manual-links`: the product's manual links, by asset id.
#[utoipa::path(get, path = "/api/v1/products/{sku}/manual-links", tag = "manual-links",
    security(("admin_token" = [])),
    params(ProductPath),
    responses(
        (status = 200, description = "The manual links (none for an unknown product)", body = LinkList),
        (status = 400, description = "`invalid_sku`", body = crate::error::Body),
        (status = 401, description = "`unauthorized`", body = crate::error::Body),
        (status = 503, description = "`unavailable`: the store failed", body = crate::error::Body),
    ))]
async fn list_manual_links(
    State(state): State<AppState>,
    _: Admin,
    Path(raw): Path<String>,
) -> Result<Json<LinkList>, ApiError> {
    let sku = Sku::parse(&raw)?;
    let links = state.engine.manual_links(&sku).await?;
    Ok(Json(LinkList {
        links: links.iter().map(LinkReply::from).collect(),
    }))
}

/// `DELETE /api/v1/products/{sku}/manual-links/{asset_id}`: removes a manual link by hand; the product's
/// gallery is written without it (the asset's metadata claim, if any, applies again).
#[utoipa::path(delete, path = "/api/v1/products/{sku}/manual-links/{asset_id}", tag = "manual-links",
    security(("admin_token" = [])),
    params(LinkPath),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "`invalid_sku`, `invalid_asset_id`", body = crate::error::Body),
        (status = 401, description = "`unauthorized`", body = crate::error::Body),
        (status = 404, description = "`manual_link_not_found`", body = crate::error::Body),
        (status = 503, description = "`unavailable`: the store failed", body = crate::error::Body),
    ))]
async fn remove_manual_link(
    State(state): State<AppState>,
    _: Admin,
    Path((raw_sku, raw_asset)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let sku = Sku::parse(&raw_sku)?;
    let asset_id = AssetId::parse(&raw_asset)?;
    state.engine.remove_manual_link(&sku, &asset_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/dam/assets`: approved DAM assets by name, path or title, with thumbnails, a page at a time
/// (the picker's search).
#[utoipa::path(get, path = "/api/v1/dam/assets", tag = "manual-links",
    security(("admin_token" = [])),
    params(SearchQuery),
    responses(
        (status = 200, description = "A page of approved assets", body = DamSearchReply),
        (status = 400, description = "`invalid_limit`", body = crate::error::Body),
        (status = 401, description = "`unauthorized`", body = crate::error::Body),
        (status = 502, description = "`remote_unavailable`: the DAM search failed", body = crate::error::Body),
    ))]
async fn search_dam(
    State(state): State<AppState>,
    _: Admin,
    Query(query): Query<SearchQuery>,
) -> Result<Json<DamSearchReply>, ApiError> {
    let limit = match query.limit.as_deref() {
        None | Some("") => 20,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_SEARCH_PAGE).contains(l))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_limit",
                    format!("limit must be between 1 and {MAX_SEARCH_PAGE}"),
                )
            })?,
    };
    let page = state
        .engine
        .search_dam(
            query.q.as_deref().unwrap_or(""),
            query.cursor.as_deref().filter(|c| !c.is_empty()),
            limit,
        )
        .await?;
    Ok(Json(page.into()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::new_link;

    #[test]
    fn a_position_written_with_a_zero_fraction_is_a_whole_position() {
        let link = new_link(br#"{"asset_id": "urn:aaid:aem:H", "position": 615017475.0}"#).unwrap();
        assert_eq!(link.position, Some(615_017_475));
        let refused = new_link(br#"{"asset_id": "urn:aaid:aem:H", "position": 1.5}"#);
        assert_eq!(refused.err().unwrap().code, "invalid_position");
    }
}
