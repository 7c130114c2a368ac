//! Who is asking: the session cookie, the [`SignedIn`] and [`AdminOnly`] extractors, and the CSRF check of
//! posted forms ([`CsrfForm`]). The sign-in and sign-out routes are in [`login`].

mod cookies;
mod login;

pub use cookies::{SESSION_COOKIE, cookie_value, over_https};
pub use login::routes;

use crate::AdminState;
use crate::layout::bare_page;
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use domain::accounts::{AccountRole, Username};
use engine::accounts::tokens_match;
use maud::html;

/// A signed-in user (any role). A request without a live session is sent to the sign-in page (`?next=` the
/// page asked for).
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub username: Username,
    pub role: AccountRole,
    /// The session's CSRF token, for [`crate::layout::csrf_field`].
    pub csrf: String,
}

impl SignedIn {
    pub fn is_admin(&self) -> bool {
        self.role == AccountRole::Admin
    }
}

/// A signed-in user with the `admin` role; a viewer is answered 403 with a page saying why.
#[derive(Debug, Clone)]
pub struct AdminOnly(pub SignedIn);

/// Why a request was not let through; answered as a page (or a redirect to the sign-in page).
#[derive(Debug)]
pub enum Refusal {
    /// No live session: to the sign-in page, then back to `next`.
    SignIn { next: String },
    /// A viewer asked for a change.
    ViewerOnly,
    /// A form posted without its CSRF token, or with a wrong one.
    Csrf,
    /// The store failed.
    Unavailable(String),
    /// The form body could not be read.
    BadForm(String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, title, text) = match self {
            Self::SignIn { next } => {
                return Redirect::to(&format!("/admin/login?next={}", encode(&next)))
                    .into_response();
            }
            Self::ViewerOnly => (
                StatusCode::FORBIDDEN,
                "Not allowed",
                "Your account has the viewer role: it can see every page but change nothing. Ask an admin to make this change, or to give you the admin role.".to_owned(),
            ),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "Form refused",
                "This form was sent without its security token, or with one from another session (CSRF protection). Nothing was changed: reload the page and send the form again.".to_owned(),
            ),
            Self::Unavailable(detail) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                format!("The database did not answer ({detail}). Try again in a moment."),
            ),
            Self::BadForm(detail) => (
                StatusCode::BAD_REQUEST,
                "Form not readable",
                format!("The form could not be read: {detail}. Nothing was changed."),
            ),
        };
        let body = bare_page(
            title,
            html! {
                h1 { (title) }
                p.error-box role="alert" { (text) }
                p { a href="/admin/config" { "Back to the console" } }
            },
        );
        (status, body).into_response()
    }
}

impl FromRequestParts<AdminState> for SignedIn {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &AdminState) -> Result<Self, Refusal> {
        if let Some(user) = parts.extensions.get::<SignedIn>() {
            return Ok(user.clone());
        }
        let next = next_of(parts);
        let Some(session_id) = cookie_value(&parts.headers, SESSION_COOKIE) else {
            return Err(Refusal::SignIn { next });
        };
        let user = state
            .users
            .session(&session_id)
            .await
            .map_err(|e| Refusal::Unavailable(e.to_string()))?
            .ok_or(Refusal::SignIn { next })?;
        let user = SignedIn {
            username: user.username,
            role: user.role,
            csrf: user.csrf,
        };
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

impl FromRequestParts<AdminState> for AdminOnly {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &AdminState) -> Result<Self, Refusal> {
        let user = SignedIn::from_request_parts(parts, state).await?;
        if user.is_admin() {
            Ok(Self(user))
        } else {
            Err(Refusal::ViewerOnly)
        }
    }
}

/// The fields of a posted form (`application/x-www-form-urlencoded`, in order), accepted only with the
/// session's CSRF token in its `csrf` field (compared in constant time); else 403 and nothing changes. The
/// field itself is left out of [`CsrfForm::fields`].
#[derive(Debug, Clone)]
pub struct CsrfForm {
    pub user: SignedIn,
    pub fields: Vec<(String, String)>,
}

impl CsrfForm {
    /// The first value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl FromRequest<AdminState> for CsrfForm {
    type Rejection = Refusal;

    async fn from_request(request: Request, state: &AdminState) -> Result<Self, Refusal> {
        let (mut parts, body) = request.into_parts();
        let user = SignedIn::from_request_parts(&mut parts, state).await?;
        let request = Request::from_parts(parts, body);
        let axum::Form(fields) = axum::Form::<Vec<(String, String)>>::from_request(request, state)
            .await
            .map_err(|e| Refusal::BadForm(e.body_text()))?;
        let given = fields
            .iter()
            .find(|(name, _)| name == "csrf")
            .map(|(_, value)| value.as_str())
            .unwrap_or_default();
        if !tokens_match(&user.csrf, given) {
            tracing::warn!(user = %user.username, "a form was refused: missing or wrong CSRF token");
            return Err(Refusal::Csrf);
        }
        let fields = fields
            .into_iter()
            .filter(|(name, _)| name != "csrf")
            .collect();
        Ok(Self { user, fields })
    }
}

/// Where to come back after signing in: the page asked for (a GET; its whole path, not the part under
/// `/admin`), else the configuration page.
fn next_of(parts: &Parts) -> String {
    if parts.method == Method::GET {
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map_or(&parts.uri, |original| &original.0);
        uri.path_and_query()
            .map_or_else(|| "/admin/config".to_owned(), |p| p.as_str().to_owned())
    } else {
        "/admin/config".to_owned()
    }
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
