//! The state behind the handlers: the gallery, conditions, faults, statistics and the request log.

use super::*;

pub(super) struct Inner {
    pub(super) gallery: Gallery,
    pub(super) nonces: NonceCache,
    pub(super) credentials_valid: bool,
    pub(super) faults: VecDeque<Fault>,
    /// Standing latency added to every API request.
    pub(super) latency_ms: u64,
    /// Standing share of API requests that answer 500.
    pub(super) error_rate: f64,
    pub(super) blocked_until: Option<Instant>,
    pub(super) stats: CommerceStats,
    /// Write requests in flight, per product.
    pub(super) writes_in_flight: WritesInFlight,
    /// The latest requests (method, path as received), control requests excluded, at most [`REQUEST_LOG`].
    pub(super) requests: VecDeque<(String, String)>,
}

/// Requests kept in the request log.
pub(super) const REQUEST_LOG: usize = 10_000;

impl Inner {
    pub(super) fn new() -> Self {
        Self {
            writes_in_flight: WritesInFlight::default(),
            requests: VecDeque::new(),
            gallery: Gallery::default(),
            nonces: NonceCache::default(),
            credentials_valid: true,
            faults: VecDeque::new(),
            latency_ms: 0,
            error_rate: 0.0,
            blocked_until: None,
            stats: CommerceStats::default(),
        }
    }

    pub(super) fn inject(&mut self, fault: Fault) {
        let count = match fault {
            Fault::Status { count, .. } | Fault::DelayAfterCommit { count, .. } => count,
        };
        if count > 0 {
            self.faults.push_back(fault);
        }
    }

    /// Consumes one count of the first queued fault that `wanted` accepts.
    pub(super) fn take_fault(&mut self, wanted: impl Fn(&Fault) -> bool) -> Option<Fault> {
        let index = self.faults.iter().position(wanted)?;
        let fault = self.faults.get_mut(index)?;
        let taken = *fault;
        let remaining = match fault {
            Fault::Status { count, .. } | Fault::DelayAfterCommit { count, .. } => {
                *count = count.saturating_sub(1);
                *count
            }
        };
        if remaining == 0 {
            self.faults.remove(index);
        }
        Some(taken)
    }
}

pub(super) struct Shared {
    pub(super) settings: CommerceSettings,
    /// `http://127.0.0.1:PORT`, the scheme and authority of every signature base string.
    pub(super) base_url: String,
    pub(super) inner: Mutex<Inner>,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What happens to an API request before its handler: Retry-After accounting, status faults,
    /// authentication, the store code, the counters. `Some` is the refusal to answer instead.
    pub(super) fn admit(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Option<Response> {
        let now = Instant::now();
        let mut inner = self.lock();
        if inner.blocked_until.is_some_and(|until| now < until) {
            inner.stats.requests_during_retry_after += 1;
        }
        if let Some(Fault::Status {
            status,
            retry_after_secs,
            ..
        }) = inner.take_fault(|f| matches!(f, Fault::Status { .. }))
        {
            if let Some(secs) = retry_after_secs {
                let until = now + Duration::from_secs(secs);
                inner.blocked_until = Some(inner.blocked_until.map_or(until, |b| b.max(until)));
            }
            if status == 429 || status == 503 {
                inner.stats.throttled += 1;
            }
            return Some(fault_response(status, retry_after_secs));
        }
        let base_uri = format!("{}{}", self.base_url, uri.path());
        let request = SignedRequest {
            method: method.as_str(),
            base_uri: &base_uri,
            query: uri.query(),
        };
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let credentials_valid = inner.credentials_valid;
        if let Err(failure) = authenticate(
            &self.settings,
            credentials_valid,
            &mut inner.nonces,
            unix_now(),
            &request,
            authorization,
        ) {
            inner.stats.unauthorized += 1;
            tracing::debug!(?failure, %method, path = uri.path(), "commerce emulator refused a request");
            return Some(unauthorized());
        }
        // `/rest/V1/...` is the default store view; any other prefix must be `all` or a store view's code.
        match uri.path().split('/').nth(2) {
            Some("V1") => {}
            Some(store) if inner.gallery.store_views.scope(store).is_ok() => {}
            _ => return Some(ApiError::not_found(NO_STORE).into_response()),
        }
        let stats = &mut inner.stats;
        match *method {
            Method::GET => stats.gets += 1,
            Method::POST => stats.posts += 1,
            Method::PUT => stats.puts += 1,
            Method::DELETE => stats.deletes += 1,
            _ => {}
        }
        None
    }
}

pub(super) fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "message": UNAUTHORIZED, "parameters": { "resources": "Magento_Catalog::products" } })),
    )
        .into_response()
}

pub(super) fn fault_response(status: u16, retry_after_secs: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::NOT_FOUND {
        // Magento never answers a bare 404: this is what a proxy or a wrong base URL gives.
        return (
            status,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><head><title>404 Not Found</title></head><body><center><h1>404 Not Found</h1></center><hr><center>nginx</center></body></html>",
        )
            .into_response();
    }
    let message = match status.as_u16() {
        429 => "Too many requests",
        503 => "Service unavailable",
        500 => {
            "Internal Error. Details are available in Magento log file. Report ID: webapi-emulator"
        }
        _ => status.canonical_reason().unwrap_or("Error"),
    };
    let mut response = (
        status,
        Json(json!({ "message": message, "parameters": [] })),
    )
        .into_response();
    if let Some(secs) = retry_after_secs {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}
