//! The admin console: server-rendered pages (maud, plain forms, a few lines of script only where they help)
//! that `web` nests under `/admin`. Everything goes through [`engine::Engine`] calls, the same the JSON API
//! makes, so both always agree.
//!
//! - [`auth`]: sign-in, sessions (cookie `assetsync_session`), the [`auth::SignedIn`] and [`auth::AdminOnly`]
//!   extractors, the CSRF check of every form ([`auth::CsrfForm`]) and throttled failed sign-ins;
//! - [`layout`]: the page frame with the navigation, and the hidden CSRF field of a form;
//! - [`pages`]: one module per page.

pub mod auth;
pub mod layout;
pub mod oidc;
mod oidc_token;
pub mod pages;

use axum::Router;
use axum::response::Redirect;
use axum::routing::get;
use engine::Engine;
use engine::accounts::{SessionPolicy, Users};
use std::sync::Arc;

/// How the console is served.
#[derive(Debug, Clone, Default)]
pub struct AdminSettings {
    /// The public origin the console is reached at (`https://…` behind a TLS proxy): with `https`, cookies are
    /// `Secure` whatever the request says.
    pub public_origin: Option<String>,
    /// Session expiry and sign-in throttling.
    pub policy: SessionPolicy,
    /// Sign-in through an OpenID Connect provider (`[admin.oidc]`), when configured.
    pub oidc: Option<oidc::OidcSettings>,
}

/// What the handlers share.
#[derive(Clone)]
pub struct AdminState {
    pub engine: Arc<Engine>,
    pub users: Users,
    pub settings: Arc<AdminSettings>,
}

/// The console's routes, to nest under `/admin`.
pub fn router(engine: Arc<Engine>, settings: AdminSettings) -> Router {
    let state = AdminState {
        users: engine.users(settings.policy),
        engine,
        settings: Arc::new(settings),
    };
    Router::new()
        .route("/", get(|| async { Redirect::to("/admin/config") }))
        .merge(auth::routes())
        .merge(oidc::routes())
        .merge(pages::routes())
        .with_state(state)
}
