//! Extractors and the response mapper shared by the handlers:
//! - [`Admin`] checks the admin bearer token from the request head alone, so an admin route refuses an
//!   unauthenticated request before a byte of its body is read (it is the first extractor of every admin
//!   handler);
//! - [`BodyBytes`] reads a body under a size limit and tells a body that took too long (408) from one too
//!   large (413);
//! - [`json_errors`] gives every error the framework answers by itself (unknown route, wrong method, a
//!   path or query that does not parse, ...) the `{code, message}` shape of [`ApiError`].

use crate::{ApiError, AppState};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Largest body of an admin request.
pub(crate) const MAX_ADMIN_BODY: usize = 2 * 1024 * 1024;

/// Proof that the request carries the admin bearer token.
pub(crate) struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !state.admin_token.is_empty()
            && constant_time_eq(presented.as_bytes(), state.admin_token.as_bytes())
        {
            Ok(Self)
        } else {
            Err(ApiError::unauthorized())
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A whole request body of at most [`MAX_ADMIN_BODY`] bytes.
pub(crate) struct BodyBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for BodyBytes {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, ApiError> {
        // A body announced too large is refused before a byte of it is read.
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > MAX_ADMIN_BODY as u64) {
            return Err(body_too_large(MAX_ADMIN_BODY));
        }
        read_body(request.into_body(), MAX_ADMIN_BODY)
            .await
            .map(Self)
    }
}

/// Reads `body` whole: 413 `body_too_large` beyond `limit`, 408 `request_timeout` when it did not arrive
/// within the listener's body deadline, 400 `unreadable_body` when the client broke it off.
pub(crate) async fn read_body(body: axum::body::Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|error| {
        let error = error.into_inner();
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error.as_ref());
        while let Some(current) = source {
            if current.is::<tower_http::timeout::TimeoutError>() {
                return ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    "the request body did not arrive within the time allowed",
                );
            }
            if current.is::<http_body_util::LengthLimitError>() {
                return body_too_large(limit);
            }
            source = current.source();
        }
        ApiError::bad_request("unreadable_body", "the request body could not be read")
    })
}

pub(crate) fn body_too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("bodies larger than {limit} bytes are refused"),
    )
}

/// Rewrites an error answer that is not JSON (the framework's own rejections) into `{code, message}`,
/// keeping its status and headers (such as `Allow` on a 405); the code depends on the status only.
pub(crate) async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    // The admin console's pages answer their errors as pages.
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_json || is_html {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .ok()
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .filter(|text| !text.is_empty());
    let (code, fallback) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this route does not accept this method",
        ),
        StatusCode::REQUEST_TIMEOUT => (
            "request_timeout",
            "the request did not arrive within the time allowed",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "the request body has a content type this route does not accept",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => ("unprocessable", "the request cannot be processed"),
        s if s.is_client_error() => ("bad_request", "the request is malformed"),
        _ => (
            "unavailable",
            "the service cannot complete this request now; retry later",
        ),
    };
    let message = if status.is_server_error() {
        fallback.to_owned()
    } else {
        text.unwrap_or_else(|| fallback.to_owned())
    };
    let fresh = ApiError::new(status, code, message).into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, fresh.into_body())
}
