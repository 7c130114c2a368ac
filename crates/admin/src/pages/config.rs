//! `/admin/config`: the integration's configuration (global scope), changed through
//! [`engine::Engine::update_config`], the call `PUT /api/v1/config` makes, with the same field names.

use crate::AdminState;
use crate::auth::{AdminOnly, CsrfForm, Refusal, SignedIn};
use crate::layout::{csrf_field, page};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde_json::{Map, Value};

pub fn routes() -> Router<AdminState> {
    Router::new().route("/config", get(show).post(save))
}

fn body(state: &AdminState, user: &SignedIn, problem: Option<&str>) -> Markup {
    let config = state.engine.config();
    let fields = config.as_fields();
    html! {
        h1 { "Configuration" }
        p.notice { "These settings apply at the global scope: every website and store view uses them." }
        @if let Some(problem) = problem {
            p.error-box role="alert" { (problem) }
        }
        section {
            form method="post" action="/admin/config" {
                (csrf_field(user))
                input type="hidden" name="sync_enabled" value="false";
                p {
                    label {
                        input type="checkbox" name="sync_enabled" value="true" id="sync_enabled"
                            checked[config.sync_enabled];
                        " Synchronization enabled"
                    }
                }
                p.help { "When off, nothing is written to the commerce galleries; work waits." }
                p { button type="submit" id="save" disabled[!user.is_admin()] { "Save" } }
            }
        }
        section {
            table {
                thead { tr { th { "Field" } th { "Value" } } }
                tbody {
                    @for (name, value) in &fields {
                        tr { td { code { (name) } } td { (value) } }
                    }
                }
            }
        }
    }
}

async fn show(State(state): State<AdminState>, user: SignedIn) -> Markup {
    page(&user, "Configuration", body(&state, &user, None))
}

/// The form's fields as a change for [`engine::Engine::update_config`]: the last value of each field wins
/// (a checked box follows its hidden `false`); `true`/`false` are booleans.
fn change_of(form: &CsrfForm) -> Value {
    let mut change = Map::new();
    for (name, value) in &form.fields {
        let value = match value.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            other => Value::String(other.to_owned()),
        };
        change.insert(name.clone(), value);
    }
    Value::Object(change)
}

async fn save(
    State(state): State<AdminState>,
    _admin: AdminOnly,
    form: CsrfForm,
) -> Result<Response, Refusal> {
    match state.engine.update_config(&change_of(&form)).await {
        Ok(_) => Ok(Redirect::to("/admin/config").into_response()),
        Err(engine::EngineError::InvalidConfig(errors)) => {
            let problem = format!("Nothing was saved: {errors:?}");
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                page(
                    &form.user,
                    "Configuration",
                    body(&state, &form.user, Some(&problem)),
                ),
            )
                .into_response())
        }
        Err(error) => Err(Refusal::Unavailable(error.to_string())),
    }
}
