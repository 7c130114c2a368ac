//! Request ids and request lines.
//!
//! - At the listener, around everything (limits included), every request gets an id (the caller's
//!   `x-request-id` when it is a short token, else a new one), echoed in the reply's `x-request-id`, and one
//!   log line when it ends: `request_id`, `method`, `route`, `status`, `duration_ms` ([`logged`]). Never a
//!   header, a query or a body: they may carry secrets.
//! - Inside the router, after routing, the request runs in a `request` span with the same id and its matched
//!   route (axum's `MatchedPath`: `/api/v1/products/{sku}`, not the raw path with its ids), which is handed
//!   back to the request line ([`request_span`]). An unmatched request's route is `-`.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tower::{Service, ServiceExt};
use tracing::Instrument;

const HEADER: &str = "x-request-id";

/// The id of a request, set by [`logged`] for the handlers' span.
#[derive(Clone)]
struct RequestId(String);

/// The route the router matched, handed back by [`request_span`] to the request line.
#[derive(Clone)]
struct MatchedRoute(String);

/// Runs `request` through `service` and logs its request line once it is answered.
pub(crate) async fn logged<S>(service: S, mut request: Request) -> Result<Response, Infallible>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let id = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_token(v))
        .map_or_else(new_id, str::to_owned);
    request.extensions_mut().insert(RequestId(id.clone()));
    let method = request.method().clone();
    let started = Instant::now();
    let mut response = service.oneshot(request).await?;
    let route = response
        .extensions()
        .get::<MatchedRoute>()
        .map_or("-", |route| route.0.as_str());
    tracing::info!(
        request_id = %id,
        method = %method,
        route = %route,
        status = response.status().as_u16(),
        duration_ms = started.elapsed().as_micros() as f64 / 1000.0,
        "request"
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    Ok(response)
}

/// Runs one routed request in its `request` span and hands its matched route to the request line.
pub(crate) async fn request_span(request: Request, next: Next) -> Response {
    let id = request
        .extensions()
        .get::<RequestId>()
        .map_or_else(new_id, |id| id.0.clone());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %request.method(),
        route = %route.as_deref().unwrap_or("-")
    );
    let mut response = next.run(request).instrument(span).await;
    if let Some(route) = route {
        response.extensions_mut().insert(MatchedRoute(route));
    }
    response
}

/// A caller's id is kept when it is 1–64 characters of `[A-Za-z0-9._-]` (nothing that could forge log lines).
fn is_token(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A new id, unique within the process and unlikely to repeat across restarts: start time and a counter.
fn new_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static EPOCH: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    format!("{epoch:x}-{:x}", NEXT.fetch_add(1, Ordering::Relaxed))
}
