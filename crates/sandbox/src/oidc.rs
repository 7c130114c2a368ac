//! A small OpenID Connect provider on `127.0.0.1` for the admin console's sign-in tests: a random RSA key
//! made at start, discovery, JWKS, an authorize endpoint that signs in the configured test user at once and
//! sends the browser back with a code, and a token endpoint that checks the code, the PKCE verifier (S256)
//! and the client secret. It can be told to misbehave (a bad signature, a wrong audience, an expired token, a token issued in
//! the future), rotate its key, take the client secret only in a Basic header, and counts the fetches of
//! discovery and of the JWKS.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use axum::extract::{Query, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// How the provider misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Misbehaviour {
    #[default]
    None,
    /// The ID token's signature is spoiled.
    BadSignature,
    /// The ID token is meant for another client.
    WrongAudience,
    /// The ID token expired ten minutes ago (well beyond any leeway).
    Expired,
    /// The ID token's `iat` is ten minutes in the future.
    IssuedInFuture,
}

struct Pending {
    challenge: String,
    nonce: String,
    redirect_uri: String,
}

struct Inner {
    url: String,
    client_id: String,
    client_secret: String,
    /// The signing key and its `kid`; [`OidcProvider::rotate_key`] replaces both.
    key: Mutex<(String, Arc<KeyPair>)>,
    /// Whether the token endpoint takes only `client_secret_basic` (and discovery lists only it).
    basic_only: Mutex<bool>,
    discovery_fetches: Mutex<u32>,
    jwks_fetches: Mutex<u32>,
    user: Mutex<(String, Value)>,
    misbehaviour: Mutex<Misbehaviour>,
    codes: Mutex<HashMap<String, Pending>>,
    verifier_refusals: Mutex<u32>,
}

/// The provider; cheap to clone.
#[derive(Clone)]
pub struct OidcProvider(Arc<Inner>);

impl OidcProvider {
    /// Starts on a free port of `127.0.0.1`, for one client.
    pub async fn start(client_id: &str, client_secret: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let key = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| std::io::Error::other("cannot make an RSA key"))?;
        let provider = Self(Arc::new(Inner {
            url: format!("http://{}", listener.local_addr()?),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            key: Mutex::new(("k1".to_owned(), Arc::new(key))),
            basic_only: Mutex::new(false),
            discovery_fetches: Mutex::new(0),
            jwks_fetches: Mutex::new(0),
            user: Mutex::new(("user-1".to_owned(), json!({}))),
            misbehaviour: Mutex::new(Misbehaviour::None),
            codes: Mutex::new(HashMap::new()),
            verifier_refusals: Mutex::new(0),
        }));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(provider.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(provider)
    }

    /// The issuer (`http://127.0.0.1:<port>`).
    pub fn url(&self) -> &str {
        &self.0.url
    }

    /// The user the next authorization signs in: their `sub` and extra claims (e.g. `{"groups": [...]}`).
    pub fn sign_in_as(&self, sub: &str, claims: Value) {
        *self.0.user.lock().unwrap_or_else(PoisonError::into_inner) = (sub.to_owned(), claims);
    }

    pub fn misbehave(&self, how: Misbehaviour) {
        *self
            .0
            .misbehaviour
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = how;
    }

    /// A new signing key under a new `kid`; the JWKS lists only it from now on.
    pub fn rotate_key(&self) -> std::io::Result<()> {
        let key = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| std::io::Error::other("cannot make an RSA key"))?;
        let mut held = self.0.key.lock().unwrap_or_else(PoisonError::into_inner);
        let next = format!(
            "k{}",
            held.0.trim_start_matches('k').parse::<u32>().unwrap_or(1) + 1
        );
        *held = (next, Arc::new(key));
        Ok(())
    }

    /// Makes the token endpoint take the client secret only in a Basic header (`client_secret_basic`), as
    /// discovery then says; a secret in the form is refused.
    pub fn only_basic_auth(&self) {
        *self
            .0
            .basic_only
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
    }

    /// How many times discovery and the JWKS were fetched.
    pub fn fetches(&self) -> (u32, u32) {
        let count = |m: &Mutex<u32>| *m.lock().unwrap_or_else(PoisonError::into_inner);
        (
            count(&self.0.discovery_fetches),
            count(&self.0.jwks_fetches),
        )
    }

    fn key(&self) -> (String, Arc<KeyPair>) {
        self.0
            .key
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many token requests were refused for a wrong or missing PKCE verifier.
    pub fn verifier_refusals(&self) -> u32 {
        *self
            .0
            .verifier_refusals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn id_token(&self, pending: &Pending) -> Option<String> {
        let (sub, extra) = self
            .0
            .user
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let how = *self
            .0
            .misbehaviour
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs();
        let audience = if how == Misbehaviour::WrongAudience {
            "another-client"
        } else {
            self.0.client_id.as_str()
        };
        let (iat, exp) = match how {
            Misbehaviour::Expired => (now - 1200, now - 600),
            Misbehaviour::IssuedInFuture => (now + 600, now + 900),
            _ => (now, now + 300),
        };
        let mut claims = json!({
            "iss": self.0.url,
            "aud": audience,
            "sub": sub,
            "nonce": pending.nonce,
            "iat": iat,
            "exp": exp,
        });
        if let (Some(claims), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
            claims.extend(extra.clone());
        }
        let (kid, key) = self.key();
        let header =
            URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "kid": kid, "typ": "JWT"}).to_string());
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{payload}");
        let mut signature = vec![0; key.public_modulus_len()];
        key.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            signed.as_bytes(),
            &mut signature,
        )
        .ok()?;
        if how == Misbehaviour::BadSignature
            && let Some(last) = signature.last_mut()
        {
            *last ^= 1;
        }
        Some(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

async fn discovery(State(p): State<OidcProvider>) -> Json<Value> {
    *p.0.discovery_fetches
        .lock()
        .unwrap_or_else(PoisonError::into_inner) += 1;
    let methods = if *p
        .0
        .basic_only
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
    {
        json!(["client_secret_basic"])
    } else {
        json!(["client_secret_post", "client_secret_basic"])
    };
    let url = &p.0.url;
    Json(json!({
        "issuer": url,
        "authorization_endpoint": format!("{url}/authorize"),
        "token_endpoint": format!("{url}/token"),
        "jwks_uri": format!("{url}/jwks"),
        "response_types_supported": ["code"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": methods,
    }))
}

async fn jwks(State(p): State<OidcProvider>) -> Json<Value> {
    *p.0.jwks_fetches
        .lock()
        .unwrap_or_else(PoisonError::into_inner) += 1;
    let (kid, key) = p.key();
    let public: PublicKeyComponents<Vec<u8>> = key.public_key().into();
    Json(json!({"keys": [{
        "kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
        "n": URL_SAFE_NO_PAD.encode(&public.n),
        "e": URL_SAFE_NO_PAD.encode(&public.e),
    }]}))
}

async fn authorize(
    State(p): State<OidcProvider>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| query.get(name).cloned().unwrap_or_default();
    if field("client_id") != p.0.client_id
        || field("response_type") != "code"
        || field("code_challenge_method") != "S256"
        || field("code_challenge").is_empty()
    {
        return (StatusCode::BAD_REQUEST, "invalid_request").into_response();
    }
    let code = format!("code-{:016x}", fastrand::u64(..));
    let redirect_uri = field("redirect_uri");
    p.0.codes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(
            code.clone(),
            Pending {
                challenge: field("code_challenge"),
                nonce: field("nonce"),
                redirect_uri: redirect_uri.clone(),
            },
        );
    Redirect::to(&format!(
        "{redirect_uri}?code={code}&state={}",
        field("state")
    ))
    .into_response()
}

fn refuse(error: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": error}))).into_response()
}

/// The client id and secret of an `Authorization: Basic` header (the test's values need no url-decoding).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let decoded = STANDARD.decode(value.strip_prefix("Basic ")?).ok()?;
    let (id, secret) = String::from_utf8(decoded)
        .ok()?
        .split_once(':')
        .map(|(a, b)| (a.to_owned(), b.to_owned()))?;
    Some((id, secret))
}

async fn token(
    State(p): State<OidcProvider>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    if field("grant_type") != "authorization_code" {
        return refuse("unsupported_grant_type");
    }
    let basic_only =
        *p.0.basic_only
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
    let (client_id, secret) = if basic_only {
        if form.contains_key("client_secret") {
            return refuse("invalid_client");
        }
        basic_credentials(&headers).unwrap_or_default()
    } else {
        (field("client_id"), field("client_secret"))
    };
    if client_id != p.0.client_id || secret != p.0.client_secret {
        return refuse("invalid_client");
    }
    let Some(pending) =
        p.0.codes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&field("code"))
    else {
        return refuse("invalid_grant");
    };
    if pending.redirect_uri != field("redirect_uri") {
        return refuse("invalid_grant");
    }
    let verifier = field("code_verifier");
    if URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes())) != pending.challenge {
        *p.0.verifier_refusals
            .lock()
            .unwrap_or_else(PoisonError::into_inner) += 1;
        return refuse("invalid_grant");
    }
    match p.id_token(&pending) {
        Some(id_token) => Json(json!({
            "access_token": "unused", "token_type": "Bearer", "expires_in": 300, "id_token": id_token,
        }))
        .into_response(),
        None => (StatusCode::INTERNAL_SERVER_ERROR, "cannot sign").into_response(),
    }
}
