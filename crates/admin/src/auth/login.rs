//! `GET /admin/login` (the form), `POST /admin/login` (fields `username`, `password`, `csrf`, `next`) and
//! `POST /admin/logout`.

use super::cookies::{LOGIN_COOKIE, SESSION_COOKIE, cookie_value, over_https, set_cookie};
use super::{CsrfForm, Refusal};
use crate::AdminState;
use crate::layout::bare_page;
use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use engine::accounts::{AccountsError, random_token, tokens_match};
use maud::{Markup, html};
use serde::Deserialize;
use std::net::SocketAddr;

/// How long a loaded sign-in form may be sent.
const LOGIN_FORM_S: i64 = 3_600;

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/login", get(login_form).post(sign_in))
        .route("/logout", post(sign_out))
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Only a page of the console is a place to come back to (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/admin") && !n.starts_with("//") && !n.contains('\\') => {
            n.to_owned()
        }
        _ => "/admin/config".to_owned(),
    }
}

fn form(
    next: &str,
    token: &str,
    username: &str,
    problem: Option<&str>,
    provider: Option<&str>,
) -> Markup {
    bare_page(
        "Sign in",
        html! {
            section style="max-width:26em;margin:3em auto" {
                h1 { "Sign in to assetsync" }
                @if let Some(problem) = problem {
                    p.error-box role="alert" id="sign-in-error" { (problem) }
                }
                form method="post" action="/admin/login" {
                    input type="hidden" name="csrf" value=(token);
                    input type="hidden" name="next" value=(next);
                    p {
                        label for="username" { "User name" } br;
                        input type="text" id="username" name="username" value=(username)
                            autocomplete="username" required autofocus;
                    }
                    p {
                        label for="password" { "Password" } br;
                        input type="password" id="password" name="password"
                            autocomplete="current-password" required;
                    }
                    p { button type="submit" id="sign-in" { "Sign in" } }
                }
                @if let Some(provider) = provider {
                    p { a href="/admin/oidc/start" id="sign-in-oidc" { "Sign in with " (provider) } }
                }
                p.help { "Accounts are made with " code { "assetsync user add" } "." }
            }
        },
    )
}

/// The form, with a fresh token in a cookie and in the form (both must come back).
async fn login_form(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Query(query): Query<NextQuery>,
) -> Response {
    let next = safe_next(query.next.as_deref());
    let Ok(token) = random_token() else {
        return Refusal::Unavailable("no randomness".into()).into_response();
    };
    let secure = over_https(&headers, state.settings.public_origin.as_deref());
    let cookie = set_cookie(LOGIN_COOKIE, &token, "/admin/login", LOGIN_FORM_S, secure);
    (
        [(SET_COOKIE, cookie)],
        form(&next, &token, "", None, provider(&state)),
    )
        .into_response()
}

/// The client's address (the connection's peer), for throttling; `unknown` when the listener gave none.
struct ClientAddr(String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string()),
        ))
    }
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

async fn sign_in(
    State(state): State<AdminState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    axum::Form(fields): axum::Form<SignInForm>,
) -> Response {
    let next = safe_next(fields.next.as_deref());
    let expected = cookie_value(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !tokens_match(&expected, &fields.csrf) {
        return Refusal::Csrf.into_response();
    }
    let secure = over_https(&headers, state.settings.public_origin.as_deref());
    match state
        .users
        .sign_in(&fields.username, &fields.password, &client)
        .await
    {
        Ok(signed_in) => {
            tracing::info!(user = %signed_in.user.username, role = %signed_in.user.role, "signed in to the admin console");
            let session = set_cookie(
                SESSION_COOKIE,
                &signed_in.session_id,
                "/admin",
                signed_in.max_age_s,
                secure,
            );
            let used = set_cookie(LOGIN_COOKIE, "", "/admin/login", 0, secure);
            (
                AppendHeaders([(SET_COOKIE, session), (SET_COOKIE, used)]),
                Redirect::to(&next),
            )
                .into_response()
        }
        Err(error) => {
            let status = match &error {
                AccountsError::WrongCredentials => StatusCode::UNAUTHORIZED,
                AccountsError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
                AccountsError::Store(_) | AccountsError::Hash(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::UNAUTHORIZED,
            };
            tracing::warn!(client = %client, %error, "a sign-in to the admin console was refused");
            let message = match &error {
                AccountsError::Invalid(_) | AccountsError::Exists(_) => {
                    "Wrong user name or password.".to_owned()
                }
                other => format!("{}.", capitalize(&other.to_string())),
            };
            (
                status,
                form(
                    &next,
                    &expected,
                    &fields.username,
                    Some(&message),
                    provider(&state),
                ),
            )
                .into_response()
        }
    }
}

/// The name of the configured identity provider, for the "Sign in with" link.
fn provider(state: &AdminState) -> Option<&str> {
    state
        .settings
        .oidc
        .as_ref()
        .map(|o| o.display_name.as_str())
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().collect::<String>() + chars.as_str()
    })
}

/// Ends the session (the form carries its CSRF token) and forgets the cookie.
async fn sign_out(
    State(state): State<AdminState>,
    headers: HeaderMap,
    form: CsrfForm,
) -> Result<Response, Refusal> {
    if let Some(session_id) = cookie_value(&headers, SESSION_COOKIE) {
        state
            .users
            .sign_out(&session_id)
            .await
            .map_err(|e| Refusal::Unavailable(e.to_string()))?;
    }
    tracing::info!(user = %form.user.username, "signed out of the admin console");
    let secure = over_https(&headers, state.settings.public_origin.as_deref());
    let gone = set_cookie(SESSION_COOKIE, "", "/admin", 0, secure);
    Ok(([(SET_COOKIE, gone)], Redirect::to("/admin/login")).into_response())
}
