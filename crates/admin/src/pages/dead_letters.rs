//! `/admin/dead-letters`: work given up, with its error history; replay one or all, each behind a
//! confirmation page (a GET that shows what will happen, then a POST with the CSRF token; works without
//! script), admin only. Through [`engine::Engine::dead_letters`] and
//! [`engine::Engine::replay_dead_letters`], the calls of `GET /api/v1/dead-letters` and its replays.

use super::shown;
use crate::AdminState;
use crate::auth::{AdminOnly, CsrfForm, Refusal, SignedIn};
use crate::layout::{csrf_field, page};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/dead-letters", get(list))
        .route(
            "/dead-letters/replay-all",
            get(confirm_all).post(replay_all),
        )
        .route(
            "/dead-letters/{id}/replay",
            get(confirm_one).post(replay_one),
        )
}

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    pub replayed: Option<u64>,
}

fn unavailable(e: engine::EngineError) -> Refusal {
    Refusal::Unavailable(e.to_string())
}

/// One error of a letter's history: when, and what.
fn error_line(error: &serde_json::Value) -> Markup {
    let at = error["at_ms"].as_i64().map(shown::time);
    let text = match &error["error"] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    html! { li { @if let Some(at) = at { span.muted { (at) " — " } } (text) } }
}

async fn list(
    State(state): State<AdminState>,
    user: SignedIn,
    Query(params): Query<Params>,
) -> Result<Markup, Refusal> {
    let letters = state.engine.dead_letters().await.map_err(unavailable)?;
    let body = html! {
        h1 { "Dead letters" }
        p.help { "Gallery writes given up after their last attempt, or refused for good by the commerce store. Replaying one queues its product's gallery again from attempt 1; the assets that failed with it wait for it again." }
        @if let Some(n) = params.replayed {
            p.ok-box role="status" { (n) " dead letter" @if n != 1 { "s" } " queued again." }
        }
        @if letters.is_empty() {
            p.card.muted id="no-dead-letters" { "No dead letter: nothing was given up." }
        } @else {
            p {
                a.button href="/admin/dead-letters/replay-all" { "Replay all " (letters.len()) "…" }
            }
            table id="dead-letters" {
                thead { tr { th { "#" } th { "Product" } th { "Attempts" } th { "Given up (UTC)" } th { "Errors, oldest first" } th { "" } } }
                tbody {
                    @for letter in &letters {
                        tr data-id=(letter.id) {
                            td { (letter.id) }
                            td { a href=(format!("/admin/products/{}", shown::encode(letter.sku.as_str()))) { (letter.sku.as_str()) } }
                            td { (letter.attempts) }
                            td { (shown::time(letter.created_ms)) }
                            td { ol style="margin:0;padding-left:1.2em" { @for error in &letter.errors { (error_line(error)) } } }
                            td { a href=(format!("/admin/dead-letters/{}/replay", letter.id)) { "Replay…" } }
                        }
                    }
                }
            }
        }
    };
    Ok(page(&user, "Dead letters", body))
}

/// The confirmation step: what will be replayed, and the form that does it (disabled for a viewer: the
/// server refuses a viewer's POST anyway).
fn confirmation(user: &SignedIn, what: Markup, action: &str, button: &str) -> Markup {
    html! {
        h1 { "Replay?" }
        section {
            (what)
            form method="post" action=(action) {
                (csrf_field(user))
                p {
                    button type="submit" id="confirm" disabled[!user.is_admin()] { (button) } " "
                    a href="/admin/dead-letters" { "Cancel" }
                }
            }
            @if !user.is_admin() {
                p.muted { "Your account has the viewer role: only an admin can replay." }
            }
        }
    }
}

async fn confirm_one(
    State(state): State<AdminState>,
    user: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, Refusal> {
    let letters = state.engine.dead_letters().await.map_err(unavailable)?;
    let Some(letter) = letters.iter().find(|l| l.id == id) else {
        let body = html! {
            h1 { "Replay?" }
            p.error-box role="alert" { "There is no dead letter " (id) " (replayed already?)." }
            p { a href="/admin/dead-letters" { "Back to the dead letters" } }
        };
        return Ok((StatusCode::NOT_FOUND, page(&user, "Dead letters", body)).into_response());
    };
    let what = html! {
        p { "Queue the gallery of " strong { (letter.sku.as_str()) } " again (dead letter " (letter.id) ", given up after " (letter.attempts) " attempts)? Its last error:" }
        ul { @if let Some(last) = letter.errors.last() { (error_line(last)) } }
    };
    let action = format!("/admin/dead-letters/{id}/replay");
    Ok(page(
        &user,
        "Dead letters",
        confirmation(&user, what, &action, "Replay this one"),
    )
    .into_response())
}

async fn confirm_all(State(state): State<AdminState>, user: SignedIn) -> Result<Markup, Refusal> {
    let letters = state.engine.dead_letters().await.map_err(unavailable)?;
    let what = html! {
        p { "Queue the galleries of all " strong { (letters.len()) } " dead letters again?" }
        ul { @for letter in letters.iter().take(20) { li { (letter.sku.as_str()) } } @if letters.len() > 20 { li { "…" } } }
    };
    Ok(page(
        &user,
        "Dead letters",
        confirmation(&user, what, "/admin/dead-letters/replay-all", "Replay all"),
    ))
}

async fn replay_one(
    State(state): State<AdminState>,
    _admin: AdminOnly,
    Path(id): Path<i64>,
    form: CsrfForm,
) -> Result<Redirect, Refusal> {
    let replayed = state
        .engine
        .replay_dead_letters(Some(id))
        .await
        .map_err(unavailable)?;
    tracing::info!(user = %form.user.username, id, replayed, "an operator replayed a dead letter");
    Ok(Redirect::to(&format!(
        "/admin/dead-letters?replayed={replayed}"
    )))
}

async fn replay_all(
    State(state): State<AdminState>,
    _admin: AdminOnly,
    form: CsrfForm,
) -> Result<Redirect, Refusal> {
    let replayed = state
        .engine
        .replay_dead_letters(None)
        .await
        .map_err(unavailable)?;
    tracing::info!(user = %form.user.username, replayed, "an operator replayed every dead letter");
    Ok(Redirect::to(&format!(
        "/admin/dead-letters?replayed={replayed}"
    )))
}
