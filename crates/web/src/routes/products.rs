//! Products: the public read API `GET /api/v1/products/{sku}/media` (served from memory), and the admin
//! `PUT`/`GET /api/v1/products/{sku}` (add to the built-in catalog, sync status).

use crate::extract::Admin;
use crate::{ApiError, AppState};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::time::format_rfc3339_ms;
use domain::urls::Rendition;
use domain::{Sku, StoreView};
use engine::edge::{ProductCallState, QueuedWork};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(product_media))
        .routes(routes!(put_product, product_status))
}

/// The SKU path parameter.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // read as `Path<String>` and parsed as a `Sku`; declared for the document
struct SkuPath {
    /// The product's SKU: at most 64 characters (spaces and tabs around it are trimmed), no control
    /// characters, not `.` or `..` (else 400 `invalid_sku`).
    #[param(
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x1f\x7f-\x9f. \t][^\x00-\x1f\x7f-\x9f]*$"
    )]
    sku: String,
}

/// The rendition parameters of the read API: each entry's `rendition_url` is shaped by them. Anything else,
/// or a bad value, is refused (400 `invalid_rendition`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // parsed by `Rendition::from_query` from the raw query; declared for the document
struct RenditionQuery {
    /// `gif`, `png`, `jpg`, `jpeg` or `webp` (the default).
    #[param(required = false, pattern = "^(gif|png|jpg|jpeg|webp)$")]
    format: String,
    /// Pixels.
    #[param(required = false, minimum = 1, maximum = 12000)]
    width: u32,
    /// Pixels.
    #[param(required = false, minimum = 1, maximum = 12000)]
    height: u32,
    /// 80 unless given.
    #[param(required = false, minimum = 1, maximum = 100)]
    quality: u32,
    /// `90`, `180` or `270`.
    #[param(required = false, pattern = "^(90|180|270)$")]
    rotate: String,
    /// `h`, `v` or `hv`.
    #[param(required = false, pattern = "^(h|v|hv)$")]
    flip: String,
    /// `x,y,w,h` in pixels or percent (`10p,10p,50p,50p`).
    #[param(
        required = false,
        pattern = "^[0-9]{1,6}p?,[0-9]{1,6}p?,[0-9]{1,6}p?,[0-9]{1,6}p?$"
    )]
    crop: String,
    /// `W,H` in pixels.
    #[param(required = false, pattern = "^[0-9]{1,6},[0-9]{1,6}$")]
    size: String,
    /// `true` or `false`.
    #[param(required = false)]
    preferwebp: bool,
    /// `true` or `false`.
    #[param(required = false)]
    attachment: bool,
    /// A store view's code: each entry's `label` is that view's alt text (else the label of all store views),
    /// and `hidden` is also true where the entry is hidden in that view (400 `invalid_store_view` for a code
    /// that is not a store code).
    #[param(required = false, pattern = "^[A-Za-z][A-Za-z0-9_]{0,31}$")]
    store: String,
}

/// One gallery entry as the read API serves it.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct MediaEntry {
    asset_id: String,
    /// The asset's delivery URL.
    url: String,
    /// The delivery URL with the rendition asked for (for a video, its poster image).
    rendition_url: String,
    /// A video's player (`<url>/play`); absent for an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    play_url: Option<String>,
    /// `image` or `video`.
    media_type: String,
    roles: Vec<String>,
    position: u32,
    label: Option<String>,
    /// Alt texts by store view code.
    labels: std::collections::BTreeMap<String, String>,
    /// Hidden on the storefront (the commerce side owns visualization, or `?store=` names a view the entry is
    /// hidden in).
    hidden: bool,
    /// `aem_assets` (matched from the DAM's metadata) or `manual` (linked by hand: never hidden by the
    /// visualization owner, never changed by a sync).
    source: String,
}

/// A product's gallery.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct ProductMedia {
    sku: String,
    entries: Vec<MediaEntry>,
}

/// A product added (or known already).
#[derive(Serialize, ToSchema)]
pub(crate) struct ProductAdded {
    sku: String,
    created: bool,
}

/// Queued work as a status shows it.
#[derive(Serialize, ToSchema)]
pub(crate) struct Work {
    attempt: i64,
    /// When it runs next (RFC 3339).
    due: String,
    error: Option<String>,
}

/// A product's product-to-asset call (custom matcher).
#[derive(Serialize, ToSchema)]
pub(crate) struct ProductCall {
    /// `queued` or `failed` (given up).
    state: &'static str,
    #[serde(flatten)]
    work: Work,
}

/// A product's sync status.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProductStatus {
    sku: String,
    /// In assetsync's catalog.
    known: bool,
    /// The last write found it missing on the commerce side.
    missing_in_commerce: bool,
    /// Entries applied.
    entries: i64,
    /// Assets that claim it.
    claims: i64,
    gallery_work: Option<Work>,
    product_to_asset: Option<ProductCall>,
}

/// `GET /api/v1/products/{sku}/media` (public): a product's gallery, served from memory.
///
/// Rendition parameters (`width`, `height`, `quality`, `format`, ...) shape every entry's `rendition_url`.
#[utoipa::path(get, path = "/api/v1/products/{sku}/media", tag = "products",
    params(SkuPath, RenditionQuery),
    responses(
        (status = 200, description = "The gallery", body = ProductMedia),
        (status = 400, description = "`invalid_sku`, `invalid_rendition`, `invalid_store_view`", body = crate::error::Body),
        (status = 404, description = "`product_not_found`", body = crate::error::Body),
    ))]
async fn product_media(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let sku = Sku::parse(&raw)?;
    let unknown = || ApiError::not_found("product_not_found", format!("no product {sku} is known"));
    let bytes = state.engine.cache().get(&sku).ok_or_else(unknown)?;
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return Ok(json_bytes(bytes));
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
    Ok(json_bytes(shaped))
}

/// A gallery the cache serialised already.
fn json_bytes(bytes: bytes::Bytes) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(bytes),
    )
        .into_response()
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

/// `PUT /api/v1/products/{sku}`: adds a product to the built-in catalog.
#[utoipa::path(put, path = "/api/v1/products/{sku}", tag = "products", security(("admin_token" = [])),
    params(SkuPath),
    responses(
        (status = 201, description = "Added", body = ProductAdded),
        (status = 200, description = "Known already (its gallery is written again if it was missing)", body = ProductAdded),
        (status = 400, description = "`invalid_sku`", body = crate::error::Body),
        (status = 401, description = "`unauthorized`", body = crate::error::Body),
        (status = 503, description = "`unavailable`: the store failed", body = crate::error::Body),
    ))]
async fn put_product(
    State(state): State<AppState>,
    _: Admin,
    Path(raw): Path<String>,
) -> Result<(StatusCode, Json<ProductAdded>), ApiError> {
    let sku = Sku::parse(&raw)?;
    let created = state.engine.add_product_through_api(&sku).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(ProductAdded {
            sku: sku.to_string(),
            created,
        }),
    ))
}

/// `GET /api/v1/products/{sku}`: a product's sync status.
#[utoipa::path(get, path = "/api/v1/products/{sku}", tag = "products", security(("admin_token" = [])),
    params(SkuPath),
    responses(
        (status = 200, description = "Its status", body = ProductStatus),
        (status = 400, description = "`invalid_sku`", body = crate::error::Body),
        (status = 401, description = "`unauthorized`", body = crate::error::Body),
        (status = 404, description = "`product_not_found`: assetsync knows nothing of it", body = crate::error::Body),
        (status = 503, description = "`unavailable`: the store failed", body = crate::error::Body),
    ))]
async fn product_status(
    State(state): State<AppState>,
    _: Admin,
    Path(raw): Path<String>,
) -> Result<Json<ProductStatus>, ApiError> {
    // The key the product is kept under (case-folded for a sink that compares SKUs without case).
    let sku = state.engine.product_key(&Sku::parse(&raw)?);
    let status = state.engine.product_status(&sku).await?.ok_or_else(|| {
        ApiError::not_found(
            "product_not_found",
            format!("assetsync knows nothing of {sku}"),
        )
    })?;
    let work = |w: QueuedWork| Work {
        attempt: w.attempt,
        due: format_rfc3339_ms(w.run_at_ms),
        error: w.last_error,
    };
    Ok(Json(ProductStatus {
        sku: status.sku.to_string(),
        known: status.known,
        missing_in_commerce: status.missing,
        entries: status.entries,
        claims: status.claims,
        gallery_work: status.gallery_work.map(work),
        product_to_asset: status.product_call.map(|(call_state, w)| ProductCall {
            state: match call_state {
                ProductCallState::Queued => "queued",
                ProductCallState::Failed => "failed",
            },
            work: work(w),
        }),
    }))
}
