//! The one error type of the HTTP edge: a status, a stable machine-readable `code` and a sentence.
//! Every error body is `{"code": "...", "message": "..."}`; codes never change once published.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use engine::EngineError;
use serde::Serialize;

/// An error answered to an HTTP client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Per-field messages of a refused change (422).
    pub fields: Option<serde_json::Value>,
}

/// The body of every error reply.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub(crate) struct Body<'a> {
    /// Stable and machine-readable, e.g. `invalid_sku`, `unauthorized`, `unavailable`.
    code: &'a str,
    /// A sentence for a human.
    message: &'a str,
    /// Per-field messages of a refused change (422 only): field name -> what is wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>)]
    fields: Option<&'a serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: None,
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        )
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// A failure of ours: logged in full, answered without internals.
    pub fn internal(error: &dyn std::fmt::Display) -> Self {
        tracing::error!(%error, "request failed");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the service cannot complete this request now; retry later",
        )
    }

    /// A 422 naming what is wrong with each field of a refused change.
    pub fn invalid_fields(
        code: &'static str,
        message: String,
        fields: &domain::config::FieldErrors,
    ) -> Self {
        let mut error = Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message);
        error.fields = serde_json::to_value(fields).ok();
        error
    }
}

/// What the engine refuses, as the API answers it: a refused configuration is 422 `invalid_config`, a DAM
/// or commerce call that failed is 502 `remote_unavailable`, an asset the DAM does not have is 404
/// `asset_not_found`, a preview that does not fit the rule in force is 400 `invalid_preview`, an unknown product
/// 404 `product_not_found`, an asset that cannot be linked by hand 422 `asset_not_linkable`, a manual link
/// that does not exist 404 `manual_link_not_found`; anything else
/// (the store failing, shutting down) is logged and answered 503 `unavailable`.
impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::InvalidConfig(fields) => Self::invalid_fields(
                "invalid_config",
                format!("{} field(s) are invalid; nothing was saved", fields.len()),
                &fields,
            ),
            EngineError::Remote(message) => {
                Self::new(StatusCode::BAD_GATEWAY, "remote_unavailable", message)
            }
            EngineError::NotFound(message) => Self::not_found("asset_not_found", message),
            EngineError::WrongRule(message) => Self::bad_request("invalid_preview", message),
            EngineError::ProductNotFound(message) => Self::not_found("product_not_found", message),
            EngineError::NotLinkable(message) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "asset_not_linkable",
                message,
            ),
            EngineError::InvalidCursor(message) => Self::bad_request("invalid_cursor", message),
            EngineError::ManualLinkNotFound(message) => {
                Self::not_found("manual_link_not_found", message)
            }
            other @ (EngineError::Store(_) | EngineError::ShuttingDown) => Self::internal(&other),
        }
    }
}

/// An identifier in a path or body that does not parse: 400 `invalid_asset_id`, `invalid_sku` or
/// `invalid_role`, with the reason.
impl From<domain::IdError> for ApiError {
    fn from(error: domain::IdError) -> Self {
        let code = match error {
            domain::IdError::AssetId(_) => "invalid_asset_id",
            domain::IdError::Role(_) => "invalid_role",
            domain::IdError::EmptySku
            | domain::IdError::SkuTooLong
            | domain::IdError::SkuControlCharacter
            | domain::IdError::SkuDotSegment(_) => "invalid_sku",
        };
        Self::bad_request(code, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(Body {
                code: self.code,
                message: &self.message,
                fields: self.fields.as_ref(),
            }),
        )
            .into_response()
    }
}
