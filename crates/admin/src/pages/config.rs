//! `/admin/config`: the integration's configuration (global scope), laid out like the reference's admin page
//! ([`super::config_form`]), saved through [`engine::Engine::update_config`] (the call `PUT /api/v1/config`
//! makes, with the same field names): field errors beside their fields with nothing saved; a save that starts
//! a full sync shows its progress (phase, done/total, ETA) live until it ends; the history of changes below.
//! `POST /admin/config/workspace` takes an App Builder `workspace.json` (multipart), as
//! `POST /api/v1/config/workspace` does; `GET /admin/config/full-sync/{id}` is the progress the page polls.

use super::config_form::{SECTIONS, Values, change_of, render_field};
use crate::AdminState;
use crate::auth::{AdminOnly, CsrfForm, Refusal, SignedIn};
use crate::layout::{csrf_field, page};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::config::FieldErrors;
use domain::time::format_rfc3339_ms;
use engine::accounts::tokens_match;
use maud::{Markup, PreEscaped, html};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/config", get(show).post(save))
        .route("/config/workspace", post(upload_workspace))
        .route("/config/full-sync/{id}", get(progress))
}

/// The page's script: "Use system value" locks its field, the author URL fills program and environment, and
/// the progress of a full sync is polled until it ends. The page reads and saves without it.
const SCRIPT: &str = r#"
(function(){
  function lock(box){var f=document.getElementById(box.dataset.for);if(f){f.disabled=box.checked;}}
  document.querySelectorAll('input[name=use_system]:not([disabled])').forEach(function(box){
    lock(box);box.addEventListener('change',function(){lock(box);});
  });
  var author=document.getElementById('author_url');
  if(author){author.addEventListener('input',function(){
    var m=/author-p(\d+)-e(\d+)/.exec(author.value);
    if(!m)return;
    [['program_id',m[1]],['environment_id',m[2]]].forEach(function(p){
      var f=document.getElementById(p[0]);f.value=p[1];f.disabled=false;
      var b=document.querySelector('input[name=use_system][value='+p[0]+']');if(b){b.checked=false;}
    });
  });}
  var box=document.getElementById('full-sync');
  if(!box||!box.dataset.url)return;
  function poll(){
    fetch(box.dataset.url,{credentials:'same-origin'}).then(function(r){return r.json();}).then(function(s){
      document.getElementById('full-sync-bar').value=s.percent;
      document.getElementById('full-sync-text').textContent=s.summary;
      if(s.running){setTimeout(poll,1000);}else{box.dataset.state=s.state;}
    }).catch(function(){setTimeout(poll,3000);});
  }
  setTimeout(poll,1000);
})();
"#;

/// Extra style of this page.
const STYLE: &str = r#"
.field{display:grid;grid-template-columns:16em 1fr;gap:.2em 1em;padding:.55em 0;border-bottom:1px solid #f0f0f2}
.field>label{padding-top:.35em}
.field .control{display:flex;gap:1em;align-items:center;flex-wrap:wrap}
.field .help,.field .error{grid-column:2;margin:0}
.field.has-error input,.field.has-error textarea,.field.has-error select{border-color:#b00020}
label.system{font-weight:normal;font-size:.9em;white-space:nowrap}
progress{width:100%;height:1.2em}
"#;

#[derive(Deserialize)]
struct PageQuery {
    full_sync: Option<i64>,
    saved: Option<String>,
}

/// The configuration page: `values` as shown, `errors` beside their fields.
async fn render(
    state: &AdminState,
    user: &SignedIn,
    values: &Values,
    errors: &FieldErrors,
    full_sync: Option<i64>,
    notice: Option<Markup>,
) -> Markup {
    let locked = !user.is_admin();
    let history = state.engine.config_history(20).await.unwrap_or_default();
    let progress = match full_sync {
        Some(id) => state.engine.full_sync(id).await.ok().flatten(),
        None => None,
    };
    let body = html! {
        style { (PreEscaped(STYLE)) }
        h1 { "Configuration" }
        p.notice id="scope-notice" {
            strong { "Scope: Default Config (global). " }
            "These settings apply at the global scope only: every website and store view uses the global value."
        }
        @if locked {
            p.notice { "You are signed in as a viewer: you can see the configuration but not change it." }
        }
        @if let Some(notice) = notice { (notice) }
        @if !errors.is_empty() {
            div.error-box role="alert" id="form-errors" {
                "Nothing was saved: " (errors.len()) " field(s) need attention."
                @for (name, message) in errors.iter().filter(|(n, _)| !super::config_form::fields().any(|f| f.name == n.as_str())) {
                    br; code { (name) } ": " (message)
                }
            }
        }
        @if let Some(sync) = &progress {
            (full_sync_box(state, sync))
        }
        form method="post" action="/admin/config" id="config-form" {
            (csrf_field(user))
            @for (title, fields) in SECTIONS {
                section {
                    h2 { (title) }
                    @if *title == "AEM Assets connection" {
                        div.field id="field-author_url" {
                            label for="author_url" { "Author URL (shortcut)" }
                            div.control {
                                input type="url" id="author_url" name="author_url" value=(values.author_url)
                                    placeholder="https://author-p12345-e67890.adobeaemcloud.com/"
                                    aria-describedby="help-author_url" disabled[locked];
                            }
                            @if let Some(error) = errors.get("author_url") {
                                p.error id="error-author_url" role="alert" { (error) }
                            }
                            p.help id="help-author_url" {
                                "Paste the AEM author URL to fill Program ID and Environment ID (it is not stored itself)."
                            }
                        }
                    }
                    @for field in *fields {
                        (render_field(field, values, errors.get(field.name).map(String::as_str), locked))
                    }
                    @if *title == "Storefront" {
                        div.field id="field-renditions" {
                            label { "Rendition defaults" }
                            div.control { span { "webp, quality 80" } }
                            p.help {
                                "The ready rendition URL of the read API uses these unless a request asks for other "
                                code { "format" } ", " code { "width" } " or " code { "quality" } " parameters."
                            }
                        }
                    }
                }
            }
            p { button type="submit" id="save" disabled[locked] { "Save Config" } }
        }
        section id="workspace" {
            h2 { "Adobe I/O workspace configuration" }
            form method="post" action="/admin/config/workspace" enctype="multipart/form-data" {
                (csrf_field(user))
                p {
                    label for="workspace_file" { "workspace.json" } br;
                    input type="file" id="workspace_file" name="workspace" accept=".json,application/json" disabled[locked];
                }
                p.help { "The App Builder workspace.json: fills the custom matcher's org id, client id, secret and scopes." }
                p { button type="submit" id="upload-workspace" disabled[locked] { "Upload" } }
            }
        }
        section id="history" {
            h2 { "History of changes" }
            @if history.is_empty() {
                p.muted { "No change saved yet." }
            } @else {
                table {
                    thead { tr { th { "When" } th { "Field" } th { "Before" } th { "After" } } }
                    tbody {
                        @for change in &history {
                            @for field in &change.changes {
                                tr {
                                    td { (format_rfc3339_ms(change.at_ms)) }
                                    td { code { (field.field) } }
                                    td { (field.old) }
                                    td { (field.new) }
                                }
                            }
                        }
                    }
                }
            }
        }
        script { (PreEscaped(SCRIPT)) }
    };
    page(user, "Configuration", body)
}

async fn show(
    State(state): State<AdminState>,
    user: SignedIn,
    Query(query): Query<PageQuery>,
) -> Markup {
    let values = Values::of(&state.engine.config(), state.engine.config_defaults());
    let notice = query.saved.map(|_| {
        html! { p.ok-box role="status" id="saved" { "Saved." } }
    });
    render(
        &state,
        &user,
        &values,
        &FieldErrors::new(),
        query.full_sync,
        notice,
    )
    .await
}

async fn save(
    State(state): State<AdminState>,
    _admin: AdminOnly,
    form: CsrfForm,
) -> Result<Response, Refusal> {
    let change = change_of(&form);
    match state.engine.update_config(&change).await {
        Ok(update) => {
            tracing::info!(user = %form.user.username, changed = update.changes.len(), "configuration saved in the admin console");
            Ok(Redirect::to(&saved_url(update.full_sync)).into_response())
        }
        Err(engine::EngineError::InvalidConfig(errors)) => {
            let values = Values::posted(&form, &state.engine.config());
            let page = render(&state, &form.user, &values, &errors, None, None).await;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(error) => Err(Refusal::Unavailable(error.to_string())),
    }
}

fn saved_url(full_sync: Option<i64>) -> String {
    match full_sync {
        Some(id) => format!("/admin/config?saved=1&full_sync={id}"),
        None => "/admin/config?saved=1".to_owned(),
    }
}

/// `POST /admin/config/workspace`: the form's `csrf` field first, then `workspace` (the file).
async fn upload_workspace(
    State(state): State<AdminState>,
    AdminOnly(user): AdminOnly,
    mut multipart: Multipart,
) -> Result<Response, Refusal> {
    let (mut csrf, mut workspace) = (String::new(), None);
    while let Some(part) = multipart
        .next_field()
        .await
        .map_err(|e| Refusal::BadForm(e.body_text()))?
    {
        match part.name() {
            Some("csrf") => {
                csrf = part
                    .text()
                    .await
                    .map_err(|e| Refusal::BadForm(e.body_text()))?
            }
            Some("workspace") => {
                workspace = Some(
                    part.bytes()
                        .await
                        .map_err(|e| Refusal::BadForm(e.body_text()))?,
                );
            }
            _ => {}
        }
    }
    if !tokens_match(&user.csrf, &csrf) {
        return Err(Refusal::Csrf);
    }
    let parsed = workspace
        .as_deref()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| "choose the workspace.json file first".to_owned())
        .and_then(|bytes| {
            serde_json::from_slice(bytes).map_err(|e| format!("the file is not JSON: {e}"))
        })
        .and_then(|json| {
            domain::config::IntegrationConfig::workspace_change(&json).map_err(|fields| {
                let listed: Vec<String> = fields.iter().map(|(k, v)| format!("{k} {v}")).collect();
                format!(
                    "workspace.json lacks what the custom matcher needs: {}",
                    listed.join("; ")
                )
            })
        });
    let problem = match parsed {
        Ok(change) => match state.engine.update_config(&change).await {
            Ok(update) => return Ok(Redirect::to(&saved_url(update.full_sync)).into_response()),
            Err(engine::EngineError::InvalidConfig(errors)) => errors
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join("; "),
            Err(error) => return Err(Refusal::Unavailable(error.to_string())),
        },
        Err(problem) => problem,
    };
    let values = Values::of(&state.engine.config(), state.engine.config_defaults());
    let notice =
        html! { p.error-box role="alert" id="workspace-error" { "Nothing was saved: " (problem) } };
    let page = render(
        &state,
        &user,
        &values,
        &FieldErrors::new(),
        None,
        Some(notice),
    )
    .await;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

/// A full sync's progress, as the page shows and polls it.
#[derive(Serialize)]
struct Progress {
    id: i64,
    /// `waiting`, `running`, `done` or `failed`.
    state: &'static str,
    /// `assets`, `products`, `applying` or `done`.
    phase: &'static str,
    done: i64,
    total: i64,
    /// 0 to 100 (100 once it is done).
    percent: i64,
    eta_seconds: Option<i64>,
    /// Whether it still waits or runs (the page polls while it does).
    running: bool,
    /// One sentence: phase, done/total, percent, ETA.
    summary: String,
}

fn progress_of(state: &AdminState, sync: &engine::edge::FullSync) -> Progress {
    use engine::edge::FullSyncState;
    let finished = matches!(sync.state, FullSyncState::Done);
    let percent = if finished {
        100
    } else if sync.total > 0 {
        (sync.done * 100 / sync.total).clamp(0, 99)
    } else {
        0
    };
    let eta = state.engine.full_sync_eta_seconds(sync);
    let summary = match sync.state {
        FullSyncState::Waiting => format!("Full sync #{}: waiting to start", sync.id),
        FullSyncState::Done => format!("Full sync #{}: done, {} items, 100 %", sync.id, sync.done),
        FullSyncState::Failed => format!(
            "Full sync #{} failed: {}",
            sync.id,
            sync.last_error.as_deref().unwrap_or("no detail")
        ),
        FullSyncState::Running => format!(
            "Full sync #{}: phase {}, {} of {} ({percent} %), {}",
            sync.id,
            sync.phase.as_str(),
            sync.done,
            sync.total,
            eta.map_or_else(
                || "estimating the time left".to_owned(),
                |s| format!("about {s} s left")
            )
        ),
    };
    Progress {
        id: sync.id,
        state: sync.state.as_str(),
        phase: sync.phase.as_str(),
        done: sync.done,
        total: sync.total,
        percent,
        eta_seconds: eta,
        running: matches!(sync.state, FullSyncState::Waiting | FullSyncState::Running),
        summary,
    }
}

fn full_sync_box(state: &AdminState, sync: &engine::edge::FullSync) -> Markup {
    let progress = progress_of(state, sync);
    html! {
        section id="full-sync" data-state=(progress.state)
            data-url=[progress.running.then(|| format!("/admin/config/full-sync/{}", progress.id))] {
            h2 { "Full sync" }
            progress id="full-sync-bar" max="100" value=(progress.percent) { (progress.percent) " %" }
            p id="full-sync-text" role="status" aria-live="polite" { (progress.summary) }
            @if progress.running {
                noscript {
                    meta http-equiv="refresh" content="2";
                    p { a href=(format!("/admin/config?full_sync={}", progress.id)) { "Refresh" } }
                }
            }
        }
    }
}

/// `GET /admin/config/full-sync/{id}`: the progress the page polls.
async fn progress(
    State(state): State<AdminState>,
    _user: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, Refusal> {
    let sync = state
        .engine
        .full_sync(id)
        .await
        .map_err(|e| Refusal::Unavailable(e.to_string()))?;
    Ok(match sync {
        Some(sync) => Json(progress_of(&state, &sync)).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    })
}
