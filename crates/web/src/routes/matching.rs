//! `POST /api/v1/match/preview`: what the matching rule in force does with an asset or a file name, without
//! writing anything.

use crate::extract::{Admin, BodyBytes};
use crate::routes::config::json_body;
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::State;
use domain::AssetId;
use engine::matching::{AssetPreview, FileNamePreview};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(match_preview))
}

/// Exactly one of `asset_id` and `file_name`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreviewRequest {
    /// An asset of the DAM (`urn:aaid:aem:...`): the links the rule in force gives it.
    asset_id: Option<String>,
    /// A file name (filename rules only): what the rules read from it.
    file_name: Option<String>,
}

/// The links the rule in force gives an asset of the DAM.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // declared for the document
struct PreviewByAsset {
    /// `urn:aaid:aem:<uuid>` (else 400 `invalid_asset_id`).
    #[schema(pattern = "^urn:aaid:aem:[0-9A-Za-z-]{1,64}$")]
    asset_id: String,
}

/// What the filename rules read from a file name (`matching_rule = "filename"` only, else 400
/// `invalid_preview`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // declared for the document
struct PreviewByFileName {
    file_name: String,
}

/// The request body as the document shows it: one of the two fields, nothing else.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // the body is read as a `PreviewRequest`; declared for the document
enum PreviewBody {
    Asset(PreviewByAsset),
    FileName(PreviewByFileName),
}

/// An asset's preview, or a file name's.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum Preview {
    Asset(AssetPreview),
    FileName(FileNamePreview),
}

/// `POST /api/v1/match/preview`: the links a rule gives, and what would follow.
///
/// `{"asset_id"}` → the links the rule in force gives the asset and the gallery operations that would
/// follow; `{"file_name"}` (filename rules) → what the rules read from the name. Writes nothing.
#[utoipa::path(post, path = "/api/v1/match/preview", tag = "matching", security(("admin_token" = [])),
    request_body(content = PreviewBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The preview", body = Preview),
        (status = 400, description = "`malformed_json`, `invalid_preview` (not exactly one of the two, or a file name under another rule), `invalid_asset_id`, `unreadable_body`", body = crate::error::Body),
        (status = 401, description = "`unauthorized`", body = crate::error::Body),
        (status = 404, description = "`asset_not_found`: the DAM has no such asset", body = crate::error::Body),
        (status = 408, description = "`request_timeout`", body = crate::error::Body),
        (status = 413, description = "`body_too_large`", body = crate::error::Body),
        (status = 502, description = "`remote_unavailable`: the DAM or the custom matcher failed", body = crate::error::Body),
        (status = 503, description = "`unavailable`", body = crate::error::Body),
    ))]
async fn match_preview(
    State(state): State<AppState>,
    _: Admin,
    BodyBytes(body): BodyBytes,
) -> Result<Json<Preview>, ApiError> {
    let request: PreviewRequest = serde_json::from_value(json_body(&body)?).map_err(|e| {
        ApiError::bad_request(
            "invalid_preview",
            format!("expected {{\"asset_id\"}} or {{\"file_name\"}}: {e}"),
        )
    })?;
    match (request.asset_id, request.file_name) {
        (Some(raw), None) => {
            let asset_id = AssetId::parse(&raw)?;
            Ok(Json(Preview::Asset(
                state.engine.preview_asset(&asset_id).await?,
            )))
        }
        (None, Some(name)) => Ok(Json(Preview::FileName(
            state.engine.preview_file_name(&name)?,
        ))),
        _ => Err(ApiError::bad_request(
            "invalid_preview",
            "give exactly one of asset_id and file_name",
        )),
    }
}
