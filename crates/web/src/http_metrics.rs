//! Requests to the main listener counted by method, route and status, and their latency by method and route
//! (`assetsync_http_requests_total`, `assetsync_http_request_duration_seconds`).
//!
//! The route label is the route's pattern from axum's [`MatchedPath`] (`/api/v1/products/{sku}/media`), never
//! the raw path, so that its values are the router's few routes; a request no route matched counts as
//! `unmatched`. Methods outside the standard set count as `other`. The series live for the whole process,
//! like the default registry of the other Prometheus client libraries: one process serves one main listener.
//!
//! Per request: two lookups under a shared read lock, keys built from `'static` strings and one reference-
//! counted clone of the matched pattern, no allocation once a series exists.

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::sync::LazyLock;
use std::time::Instant;

/// Latency bucket bounds, in seconds: the read API answers from memory in well under a millisecond, the
/// webhook waits for a durable write, the admin API may read the database at length.
const BUCKETS_S: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static METRICS: LazyLock<HttpMetrics> = LazyLock::new(HttpMetrics::default);

#[derive(Debug, Clone)]
struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram, fn() -> Histogram>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            durations: Family::new_with_constructor(|| Histogram::new(BUCKETS_S)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: Route,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: Route,
}

/// The route a request matched, by its pattern.
#[derive(Debug, Clone)]
enum Route {
    Matched(MatchedPath),
    Unmatched,
}

impl Route {
    fn as_str(&self) -> &str {
        match self {
            Self::Matched(path) => path.as_str(),
            Self::Unmatched => "unmatched",
        }
    }
}

impl PartialEq for Route {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Route {}

impl Hash for Route {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl EncodeLabelValue for Route {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

/// The method's label: its name for the standard methods, `other` for any extension method (a client
/// chooses those freely).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Middleware of the main router: counts the request and the time until its response's head is ready.
pub(crate) async fn record(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .cloned()
        .map_or(Route::Unmatched, Route::Matched);
    let response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64();
    let metrics = &*METRICS;
    let labels = RouteLabels { method, route };
    metrics.durations.get_or_create(&labels).observe(elapsed);
    let labels = RequestLabels {
        method,
        route: labels.route,
        status: response.status().as_u16(),
    };
    metrics.requests.get_or_create(&labels).inc();
    response
}

/// Adds the request families (shared with the middleware) to a scrape's `registry`.
pub(crate) fn register(registry: &mut Registry) {
    let metrics = METRICS.clone();
    registry.register(
        "assetsync_http_requests",
        "Requests to the main listener, by method, route pattern (unmatched: no route) and status",
        metrics.requests,
    );
    registry.register(
        "assetsync_http_request_duration_seconds",
        "Time from a request's arrival at the router to its response's head, by method and route pattern",
        metrics.durations,
    );
}
