//! Optional sign-in through an OpenID Connect provider (Adobe IMS is one): `GET /admin/oidc/start` sends the
//! browser to the provider (authorization code with PKCE S256, `state` and `nonce` kept in a short-lived
//! HttpOnly cookie), `GET /admin/oidc/callback` trades the code for an ID token, verifies it
//! ([`crate::oidc_token`]), maps a claim to the role and makes a normal session. Every failure is a page
//! with a 4xx status (502 when the provider cannot be reached); nothing is stored and no token or secret is
//! logged.

use crate::AdminState;
use crate::auth::SESSION_COOKIE;
use crate::layout::bare_page;
use crate::oidc_token::{self, Exchange, Expected, OidcError};
use aws_lc_rs::digest::{SHA256, digest};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::accounts::{AccountRole, Username};
use engine::accounts::random_token;
use maud::html;
use serde::Deserialize;
use serde_json::Value;

/// The cookie holding `state`, `nonce` and the PKCE verifier between the start and the callback.
const FLOW_COOKIE: &str = "assetsync_oidc";
/// How long a sign-in at the provider may take.
const FLOW_S: i64 = 600;

/// `[admin.oidc]` as the console uses it.
#[derive(Clone, Default)]
pub struct OidcSettings {
    /// What the sign-in page's link says ("Sign in with <name>").
    pub display_name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// The public origin of the service; the callback is `<redirect_base>/admin/oidc/callback`.
    pub redirect_base: String,
    pub scopes: String,
    /// The claim holding the role or the groups (a string or an array of strings).
    pub role_claim: String,
    /// Claim values that make an admin (checked first), and a viewer.
    pub admin_values: Vec<String>,
    pub viewer_values: Vec<String>,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("role_claim", &self.role_claim)
            .finish_non_exhaustive()
    }
}

impl OidcSettings {
    fn redirect_uri(&self) -> String {
        format!(
            "{}/admin/oidc/callback",
            self.redirect_base.trim_end_matches('/')
        )
    }

    /// The role the claim's values give: admin if any maps to admin, else viewer if any maps to viewer.
    pub fn role_of(&self, claim: Option<&Value>) -> Option<AccountRole> {
        let values: Vec<&str> = match claim {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let any = |mapped: &[String]| values.iter().any(|v| mapped.iter().any(|m| m == v));
        if any(&self.admin_values) {
            Some(AccountRole::Admin)
        } else if any(&self.viewer_values) {
            Some(AccountRole::Viewer)
        } else {
            None
        }
    }
}

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/oidc/start", get(start))
        .route("/oidc/callback", get(callback))
}

/// The `Set-Cookie` of the flow cookie: SameSite=Lax, since the provider's redirect back is a navigation
/// from another site.
fn flow_cookie(value: &str, max_age_s: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{FLOW_COOKIE}={value}; Path=/admin/oidc; Max-Age={max_age_s}; HttpOnly; SameSite=Lax{secure}"
    )
}

fn secure(state: &AdminState, headers: &HeaderMap) -> bool {
    crate::auth::over_https(headers, state.settings.public_origin.as_deref())
}

fn failure(status: StatusCode, error: &OidcError) -> Response {
    tracing::warn!(%error, "a sign-in through the identity provider was refused");
    let body = bare_page(
        "Sign-in refused",
        html! {
            h1 { "Sign-in refused" }
            p.error-box role="alert" id="oidc-error" { (capitalized(&error.to_string())) "." }
            p { "Nothing was changed. " a href="/admin/login" { "Back to the sign-in page" } }
        },
    );
    (status, body).into_response()
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().collect::<String>() + chars.as_str()
    })
}

fn not_configured() -> Response {
    (
        StatusCode::NOT_FOUND,
        bare_page(
            "Not configured",
            html! { h1 { "Sign-in through an identity provider is not configured" } },
        ),
    )
        .into_response()
}

/// Sends the browser to the provider's authorization endpoint.
async fn start(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    let Some(oidc) = state.settings.oidc.as_ref() else {
        return not_configured();
    };
    let discovery = match oidc_token::client() {
        Ok(http) => oidc_token::discover(&http, &oidc.issuer).await,
        Err(e) => Err(e),
    };
    let discovery = match discovery {
        Ok(found) => found,
        Err(error) => return failure(StatusCode::BAD_GATEWAY, &error),
    };
    let (Ok(flow_state), Ok(nonce), Ok(verifier)) =
        (random_token(), random_token(), random_token())
    else {
        return failure(
            StatusCode::SERVICE_UNAVAILABLE,
            &OidcError::Provider("no randomness".into()),
        );
    };
    let challenge = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()));
    let redirect_uri = oidc.redirect_uri();
    let pairs: [(&str, &str); 8] = [
        ("response_type", "code"),
        ("client_id", oidc.client_id.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("scope", oidc.scopes.as_str()),
        ("state", flow_state.as_str()),
        ("nonce", nonce.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let separator = if discovery.authorization_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    let cookie = flow_cookie(
        &format!("{flow_state}.{nonce}.{verifier}"),
        FLOW_S,
        secure(&state, &headers),
    );
    (
        [(SET_COOKIE, cookie)],
        Redirect::to(&format!(
            "{}{separator}{query}",
            discovery.authorization_endpoint
        )),
    )
        .into_response()
}

/// Percent-encodes all but the unreserved characters.
pub(crate) fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The provider's redirect back: checks, the token exchange and verification, then the session.
async fn callback(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let Some(oidc) = state.settings.oidc.as_ref() else {
        return not_configured();
    };
    let secure = secure(&state, &headers);
    let forget = flow_cookie("", 0, secure);
    match finish(&state, oidc, &headers, query).await {
        Ok((username, signed_in)) => {
            tracing::info!(user = %username, role = %signed_in.user.role, "signed in to the admin console through the identity provider");
            let session = format!(
                "{SESSION_COOKIE}={}; Path=/admin; Max-Age={}; HttpOnly; SameSite=Strict{}",
                signed_in.session_id,
                signed_in.max_age_s,
                if secure { "; Secure" } else { "" }
            );
            // A page, not a redirect: the session cookie is SameSite=Strict, and a redirect chain that
            // started at the provider would not carry it.
            let body = bare_page(
                "Signed in",
                html! {
                    meta http-equiv="refresh" content="0; url=/admin/config";
                    h1 { "Signed in" }
                    p id="oidc-signed-in" { "Signed in as " (username.as_str()) " (" (signed_in.user.role.as_str()) "). "
                        a href="/admin/config" { "Continue to the console" } }
                },
            );
            (
                AppendHeaders([(SET_COOKIE, session), (SET_COOKIE, forget)]),
                body,
            )
                .into_response()
        }
        Err(error) => {
            let status = match error {
                OidcError::Provider(_) => StatusCode::BAD_GATEWAY,
                OidcError::NoRole { .. } => StatusCode::FORBIDDEN,
                _ => StatusCode::UNAUTHORIZED,
            };
            let mut page = failure(status, &error);
            if let Ok(value) = forget.parse() {
                page.headers_mut().append(SET_COOKIE, value);
            }
            page
        }
    }
}

async fn finish(
    state: &AdminState,
    oidc: &OidcSettings,
    headers: &HeaderMap,
    query: CallbackQuery,
) -> Result<(Username, engine::accounts::NewSignIn), OidcError> {
    if let Some(error) = query.error {
        return Err(OidcError::Refused(error.chars().take(80).collect()));
    }
    let flow = crate::auth::cookie_value(headers, FLOW_COOKIE).ok_or(OidcError::State)?;
    let mut saved = flow.split('.');
    let (Some(saved_state), Some(nonce), Some(verifier)) =
        (saved.next(), saved.next(), saved.next())
    else {
        return Err(OidcError::State);
    };
    let given_state = query.state.unwrap_or_default();
    if !engine::accounts::tokens_match(saved_state, &given_state) {
        return Err(OidcError::State);
    }
    let code = query
        .code
        .ok_or_else(|| OidcError::Refused("no code".into()))?;
    let http = oidc_token::client()?;
    let discovery = oidc_token::discover(&http, &oidc.issuer).await?;
    let redirect_uri = oidc.redirect_uri();
    let id_token = oidc_token::exchange(
        &http,
        &discovery,
        &Exchange {
            code: &code,
            redirect_uri: &redirect_uri,
            client_id: &oidc.client_id,
            client_secret: &oidc.client_secret,
            code_verifier: verifier,
        },
    )
    .await?;
    let claims = oidc_token::verify(
        &http,
        &discovery,
        &id_token,
        &Expected {
            issuer: &oidc.issuer,
            client_id: &oidc.client_id,
            nonce,
            now_ms: state.users.now_ms(),
        },
    )
    .await?;
    let role = oidc
        .role_of(claims.get(&oidc.role_claim))
        .ok_or_else(|| OidcError::NoRole {
            claim: oidc.role_claim.clone(),
        })?;
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or_else(|| OidcError::Token("it has no sub".into()))?;
    let username = Username::parse(&format!("oidc-{sub}"))
        .map_err(|_| OidcError::Token("its sub cannot name a user".into()))?;
    let signed_in = state
        .users
        .sign_in_external(&username, role)
        .await
        .map_err(|e| match e {
            engine::accounts::AccountsError::Exists(name) => OidcError::Refused(format!(
                "a local user named {name} exists; it is not taken over"
            )),
            other => OidcError::Provider(format!("the accounts store failed: {other}")),
        })?;
    Ok((username, signed_in))
}
