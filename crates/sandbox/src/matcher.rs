//! A reference custom matcher (reference §6.2, §6.3): the App Builder sample's two actions over HTTP on
//! `127.0.0.1`. `asset-to-product` reads `eventData.assetMetadata['commerce:skus'|'commerce:roles'|
//! 'commerce:positions']` as the sample does, then applies its own rules (a SKU prefix rewrite), so its links
//! differ from match by SKU. `product-to-asset` answers the assets registered for a SKU. It checks the bearer
//! token and `x-gw-ims-org-id` when configured, and can be slowed, made to fail, to answer malformed bodies or
//! `skip`. Every call is counted and its body kept.

use crate::aem::TokenVerifier;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The path of the asset-to-product action.
pub const ASSET_TO_PRODUCT_PATH: &str = "/api/v1/web/app-builder-external-rule/asset-to-product";
/// The path of the product-to-asset action.
pub const PRODUCT_TO_ASSET_PATH: &str = "/api/v1/web/app-builder-external-rule/product-to-asset";

/// What the matcher requires of its callers.
#[derive(Clone, Default)]
pub struct MatcherSettings {
    /// When set, every call must carry `Authorization: Bearer <token>` with a token this accepts (else 401),
    /// e.g. [`crate::aem::AemEmulator::ims_token_check`].
    pub bearer_token: Option<TokenVerifier>,
    /// When set, every call must carry this `x-gw-ims-org-id` (else 403).
    pub org_id: Option<String>,
}

impl fmt::Debug for MatcherSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MatcherSettings")
            .field("bearer_token", &self.bearer_token.as_ref().map(|_| "***"))
            .field("org_id", &self.org_id)
            .finish()
    }
}

/// One call the matcher received.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedCall {
    pub path: String,
    pub body: Value,
}

#[derive(Default)]
struct Behaviour {
    /// SKUs starting with the first string are rewritten to start with the second.
    sku_prefix: Option<(String, String)>,
    latency: Duration,
    /// Answer this status to the next N calls.
    failures: Option<(u16, u32)>,
    /// Answer a body that does not parse to the next N calls.
    malformed: u32,
    /// Answer a 2 MiB body to the next N calls.
    oversized: u32,
    skip: bool,
    /// SKU → the `asset_matches` product-to-asset answers.
    product_assets: BTreeMap<String, Vec<Value>>,
    calls: Vec<ReceivedCall>,
}

struct Shared {
    settings: MatcherSettings,
    behaviour: Mutex<Behaviour>,
}

impl Shared {
    fn with<T>(&self, f: impl FnOnce(&mut Behaviour) -> T) -> T {
        f(&mut self
            .behaviour
            .lock()
            .unwrap_or_else(PoisonError::into_inner))
    }
}

/// The running reference matcher.
pub struct MatcherEmulator {
    shared: Arc<Shared>,
    url: String,
}

impl MatcherEmulator {
    /// Starts the matcher on `127.0.0.1:port` (0 = any free port).
    pub async fn start(settings: MatcherSettings, port: u16) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            settings,
            behaviour: Mutex::new(Behaviour::default()),
        });
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route(ASSET_TO_PRODUCT_PATH, post(asset_to_product))
            .route(PRODUCT_TO_ASSET_PATH, post(product_to_asset))
            .with_state(shared.clone());
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "matcher emulator stopped");
            }
        });
        Ok(Self {
            shared,
            url: format!("http://{addr}"),
        })
    }

    /// The base URL (`http://127.0.0.1:<port>`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The asset-to-product endpoint's URL.
    pub fn asset_to_product_url(&self) -> String {
        format!("{}{ASSET_TO_PRODUCT_PATH}", self.url)
    }

    /// The product-to-asset endpoint's URL.
    pub fn product_to_asset_url(&self) -> String {
        format!("{}{PRODUCT_TO_ASSET_PATH}", self.url)
    }

    /// Rewrites SKUs that start with `from` to start with `to` (asset-to-product).
    pub fn rewrite_sku_prefix(&self, from: &str, to: &str) {
        self.shared
            .with(|b| b.sku_prefix = Some((from.to_owned(), to.to_owned())));
    }

    /// Waits this long before every answer.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.with(|b| b.latency = latency);
    }

    /// Answers `status` (with a JSON error body) to the next `calls` calls.
    pub fn fail_next(&self, status: u16, calls: u32) {
        self.shared.with(|b| b.failures = Some((status, calls)));
    }

    /// Answers a 200 whose body does not parse to the next `calls` calls.
    pub fn malformed_next(&self, calls: u32) {
        self.shared.with(|b| b.malformed = calls);
    }

    /// Answers a 200 with a 2 MiB body (over any sane reply limit) to the next `calls` calls.
    pub fn oversized_next(&self, calls: u32) {
        self.shared.with(|b| b.oversized = calls);
    }

    /// Answers `skip: true` (or stops doing so).
    pub fn set_skip(&self, skip: bool) {
        self.shared.with(|b| b.skip = skip);
    }

    /// The `asset_matches` product-to-asset answers for `sku`.
    pub fn set_product_assets(&self, sku: &str, matches: Vec<Value>) {
        self.shared
            .with(|b| b.product_assets.insert(sku.to_owned(), matches));
    }

    /// Every call received so far, oldest first.
    pub fn calls(&self) -> Vec<ReceivedCall> {
        self.shared.with(|b| b.calls.clone())
    }

    /// How many calls reached `path`.
    pub fn call_count(&self, path: &str) -> usize {
        self.shared
            .with(|b| b.calls.iter().filter(|c| c.path == path).count())
    }
}

/// Checks credentials, records the call, applies latency and injected faults. `Ok(body)` when the action
/// should answer.
async fn admit(
    shared: &Shared,
    headers: &HeaderMap,
    path: &str,
    body: &Bytes,
) -> Result<Value, Response> {
    if let Some(accepts) = &shared.settings.bearer_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|token| accepts(token)) {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "missing or invalid bearer token",
            ));
        }
    }
    if let Some(org) = &shared.settings.org_id {
        let given = headers.get("x-gw-ims-org-id").and_then(|v| v.to_str().ok());
        if given != Some(org.as_str()) {
            return Err(error(
                StatusCode::FORBIDDEN,
                "x-gw-ims-org-id is missing or wrong",
            ));
        }
    }
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return Err(error(StatusCode::BAD_REQUEST, "the body is not JSON"));
    };
    let (latency, fault) = shared.with(|b| {
        b.calls.push(ReceivedCall {
            path: path.to_owned(),
            body: request.clone(),
        });
        let fault = match &mut b.failures {
            Some((status, left)) if *left > 0 => {
                *left -= 1;
                Some(Fault::Status(*status))
            }
            _ if b.malformed > 0 => {
                b.malformed -= 1;
                Some(Fault::Malformed)
            }
            _ if b.oversized > 0 => {
                b.oversized -= 1;
                Some(Fault::Oversized)
            }
            _ => None,
        };
        (b.latency, fault)
    });
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let json = [(header::CONTENT_TYPE, "application/json")];
    match fault {
        Some(Fault::Status(status)) => Err(error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "injected failure",
        )),
        Some(Fault::Malformed) => Err((StatusCode::OK, json, "{\"asset_id\": ").into_response()),
        Some(Fault::Oversized) => Err((
            StatusCode::OK,
            json,
            format!("{{\"padding\": \"{}\"}}", "x".repeat(2 * 1024 * 1024)),
        )
            .into_response()),
        None => Ok(request),
    }
}

/// An injected fault.
enum Fault {
    Status(u16),
    Malformed,
    Oversized,
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// A list of strings from a metadata value (a single string counts as one).
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect(),
        _ => Vec::new(),
    }
}

async fn asset_to_product(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match admit(&shared, &headers, ASSET_TO_PRODUCT_PATH, &body).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let asset_id = request["assetId"].clone();
    let (skip, prefix) = shared.with(|b| (b.skip, b.sku_prefix.clone()));
    let metadata = &request["eventData"]["assetMetadata"];
    let for_commerce = metadata["commerce:isCommerce"]
        .as_str()
        .is_some_and(|v| v.eq_ignore_ascii_case("yes"));
    let roles = strings(metadata.get("commerce:roles"));
    let positions = metadata["commerce:positions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut matches = Vec::new();
    if for_commerce {
        for (index, sku) in strings(metadata.get("commerce:skus")).iter().enumerate() {
            let sku = match &prefix {
                Some((from, to)) if sku.starts_with(from.as_str()) => {
                    format!("{to}{}", &sku[from.len()..])
                }
                _ => sku.clone(),
            };
            let mut entry = json!({
                "product_sku": sku,
                "asset_roles": roles
                    .get(index)
                    .map(|r| r.split(';').filter(|s| !s.trim().is_empty()).collect::<Vec<_>>())
                    .unwrap_or_default(),
            });
            if let Some(position) = positions.get(index).and_then(Value::as_u64) {
                entry["asset_position"] = json!(position);
            }
            matches.push(entry);
        }
    }
    axum::Json(json!({ "asset_id": asset_id, "product_matches": matches, "skip": skip }))
        .into_response()
}

async fn product_to_asset(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match admit(&shared, &headers, PRODUCT_TO_ASSET_PATH, &body).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let sku = request["productSku"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (skip, matches) = shared.with(|b| {
        (
            b.skip,
            b.product_assets.get(&sku).cloned().unwrap_or_default(),
        )
    });
    axum::Json(json!({ "product_sku": sku, "asset_matches": matches, "skip": skip }))
        .into_response()
}
