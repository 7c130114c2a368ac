//! The control endpoints under `/control` (subscribe, create, update, approve, reject, new version, delete,
//! delivery counters, key rotation), the emulated IMS token endpoint and the I/O Events key host.

use super::{AemEmulator, ControlError, NewAsset, Shared, problem, status_fields};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;

fn control_result(result: Result<Value, ControlError>) -> Response {
    match result {
        Ok(body) => Json(body).into_response(),
        Err(ControlError::UnknownAsset(id)) => problem(
            StatusCode::NOT_FOUND,
            "Not Found",
            &format!("no asset {id}"),
        ),
        Err(other) => problem(StatusCode::BAD_REQUEST, "Bad Request", &other.to_string()),
    }
}

#[derive(Deserialize)]
pub(super) struct Subscription {
    url: String,
}

pub(super) async fn control_subscribe(
    State(shared): State<Arc<Shared>>,
    Json(body): Json<Subscription>,
) -> Response {
    let emulator = AemEmulator {
        shared,
        url: String::new(),
    };
    control_result(
        emulator
            .subscribe(&body.url)
            .await
            .map(|()| json!({ "subscribed": body.url })),
    )
}

pub(super) async fn control_create(
    State(shared): State<Arc<Shared>>,
    Json(body): Json<NewAsset>,
) -> Response {
    control_result(shared.create_asset(body).map(|id| json!({ "assetId": id })))
}

pub(super) async fn control_update(
    State(shared): State<Arc<Shared>>,
    Path(asset_id): Path<String>,
    Json(fields): Json<Map<String, Value>>,
) -> Response {
    control_result(
        shared
            .update(&asset_id, fields)
            .map(|()| json!({ "assetId": asset_id })),
    )
}

/// `POST /control/assets/{id}/approve`, `/reject` or `/versions` (a new binary).
pub(super) async fn control_action(
    State(shared): State<Arc<Shared>>,
    Path((asset_id, action)): Path<(String, String)>,
) -> Response {
    let result = match action.as_str() {
        "approve" => shared.update(&asset_id, status_fields("approved")),
        "reject" => shared.update(&asset_id, status_fields("rejected")),
        "versions" => shared.new_version(&asset_id),
        _ => {
            return problem(
                StatusCode::NOT_FOUND,
                "Not Found",
                "actions: approve, reject, versions",
            );
        }
    };
    control_result(result.map(|()| json!({ "assetId": asset_id })))
}

pub(super) async fn control_delete(
    State(shared): State<Arc<Shared>>,
    Path(asset_id): Path<String>,
) -> Response {
    control_result(
        shared
            .delete(&asset_id)
            .map(|()| json!({ "deleted": asset_id })),
    )
}

pub(super) async fn control_deliveries(State(shared): State<Arc<Shared>>) -> Response {
    let emulator = AemEmulator {
        shared,
        url: String::new(),
    };
    let c = emulator.deliveries();
    Json(json!({ "queued": c.queued, "delivered": c.delivered, "failed_attempts": c.failed_attempts, "refused": c.refused, "gave_up": c.gave_up }))
        .into_response()
}

/// `POST /ims/token/v3`: the IMS client-credentials grant.
pub(super) async fn ims_token(
    State(shared): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> Response {
    shared.ims.token_request(&body)
}

/// `GET /prod/keys/{name}`: the key host; a public key whose pair was rotated away is 404.
pub(super) async fn public_key(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
) -> Response {
    shared.key_host.serve(&shared.keys, &name).await
}

/// `POST /control/keys/rotate`: new signing keys under new paths.
pub(super) async fn control_rotate_keys(State(shared): State<Arc<Shared>>) -> Response {
    let emulator = AemEmulator {
        shared,
        url: String::new(),
    };
    let result = emulator.rotate_keys().map(|()| {
        let keys = emulator.keys();
        let [one, two] = keys.paths();
        json!({ "key1_path": one, "key2_path": two })
    });
    control_result(result)
}
