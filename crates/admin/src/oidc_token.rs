//! The provider's side of OpenID Connect sign-in: discovery, the token exchange, and the ID token's checks
//! (RS256 signature against the provider's JWKS, `iss`, `aud`, `exp`/`iat` with a small leeway, `nonce`).
//! The discovery document and the JWKS are kept for [`CACHE_FOR`]; a token whose `kid` the kept JWKS does not
//! know fetches the JWKS once more (the provider may have rotated its keys).

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// How long a fetched discovery document or JWKS is used before it is fetched again.
pub const CACHE_FOR: Duration = Duration::from_secs(300);

/// Fetched documents by URL, with when they were fetched (successes only).
fn cache() -> &'static Mutex<HashMap<String, (Instant, Value)>> {
    static CACHE: OnceLock<Mutex<HashMap<String, (Instant, Value)>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// `url`'s JSON, from the cache when fetched less than [`CACHE_FOR`] ago (unless `fresh`).
async fn cached_json(http: &reqwest::Client, url: &str, fresh: bool) -> Result<Value, OidcError> {
    if !fresh {
        let kept = cache()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(url)
            .filter(|(at, _)| at.elapsed() < CACHE_FOR)
            .map(|(_, value)| value.clone());
        if let Some(value) = kept {
            return Ok(value);
        }
    }
    let value = get_json(http, url).await?;
    cache()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(url.to_owned(), (Instant::now(), value.clone()));
    Ok(value)
}

/// How far `exp` and `iat` may be off the engine's clock.
const LEEWAY_MS: i64 = 60_000;

/// Why a sign-in through the provider failed. Never carries a token or a secret.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the identity provider could not be reached or answered badly ({0})")]
    Provider(String),
    #[error("the identity provider refused the sign-in ({0})")]
    Refused(String),
    #[error(
        "the sign-in answer does not belong to this browser's sign-in (state or cookie missing)"
    )]
    State,
    #[error("the ID token is not valid: {0}")]
    Token(String),
    #[error("no role: the claim {claim:?} holds no value mapped to admin or viewer")]
    NoRole { claim: String },
}

/// What `<issuer>/.well-known/openid-configuration` says (the parts used here).
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    /// How the client authenticates at the token endpoint (`client_secret_post`, `client_secret_basic`, …).
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
}

impl Discovery {
    /// Whether the client secret goes in an `Authorization: Basic` header: when the provider lists
    /// `client_secret_basic` and not `client_secret_post` (otherwise the secret is posted in the form).
    pub fn uses_basic_auth(&self) -> bool {
        let lists = |m: &str| {
            self.token_endpoint_auth_methods_supported
                .iter()
                .any(|x| x == m)
        };
        lists("client_secret_basic") && !lists("client_secret_post")
    }
}

pub fn client() -> Result<reqwest::Client, OidcError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| OidcError::Provider(e.to_string()))
}

async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, OidcError> {
    let reply = http
        .get(url)
        .send()
        .await
        .map_err(|e| OidcError::Provider(format!("GET {url}: {}", e.without_url())))?;
    let status = reply.status();
    if !status.is_success() {
        return Err(OidcError::Provider(format!("GET {url}: HTTP {status}")));
    }
    reply
        .json()
        .await
        .map_err(|e| OidcError::Provider(format!("GET {url}: {}", e.without_url())))
}

/// Reads the provider's discovery document; its `issuer` must be the configured one.
pub async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Discovery, OidcError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let found: Discovery = serde_json::from_value(cached_json(http, &url, false).await?)
        .map_err(|e| OidcError::Provider(format!("discovery document: {e}")))?;
    if found.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return Err(OidcError::Provider(format!(
            "discovery names issuer {:?}, not the configured one",
            found.issuer
        )));
    }
    Ok(found)
}

/// What the token exchange sends.
pub struct Exchange<'a> {
    pub code: &'a str,
    pub redirect_uri: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub code_verifier: &'a str,
}

/// Trades the code for an ID token at the token endpoint (`client_secret_post`, or `client_secret_basic`
/// when the provider lists only that).
pub async fn exchange(
    http: &reqwest::Client,
    discovery: &Discovery,
    exchange: &Exchange<'_>,
) -> Result<String, OidcError> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", exchange.code),
        ("redirect_uri", exchange.redirect_uri),
        ("client_id", exchange.client_id),
        ("code_verifier", exchange.code_verifier),
    ];
    let mut request = http.post(&discovery.token_endpoint);
    if discovery.uses_basic_auth() {
        // Form-urlencoded first (RFC 6749, 2.3.1).
        request = request.basic_auth(
            crate::oidc::encode(exchange.client_id),
            Some(crate::oidc::encode(exchange.client_secret)),
        );
    } else {
        form.push(("client_secret", exchange.client_secret));
    }
    let reply = request
        .form(&form)
        .send()
        .await
        .map_err(|e| OidcError::Provider(format!("token endpoint: {}", e.without_url())))?;
    let status = reply.status();
    let body: Value = reply.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let error = body["error"].as_str().unwrap_or("no error code");
        return Err(OidcError::Refused(format!(
            "token endpoint answered HTTP {status}, {error}"
        )));
    }
    body["id_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| OidcError::Provider("the token answer has no id_token".into()))
}

/// What the ID token is checked against.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub now_ms: i64,
}

fn token_error(what: &str) -> OidcError {
    OidcError::Token(what.to_owned())
}

/// Verifies an ID token (compact JWS, RS256) against the provider's JWKS and `expected`; returns its claims.
pub async fn verify(
    http: &reqwest::Client,
    discovery: &Discovery,
    id_token: &str,
    expected: &Expected<'_>,
) -> Result<serde_json::Map<String, Value>, OidcError> {
    let mut parts = id_token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(token_error("not a compact JWS"));
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| token_error("not base64url"))
    };
    let header: Value =
        serde_json::from_slice(&decode(header)?).map_err(|_| token_error("unreadable header"))?;
    if header["alg"].as_str() != Some("RS256") {
        return Err(token_error("its algorithm is not RS256"));
    }
    let kid = header["kid"].as_str();
    let find = |jwks: &Value| {
        jwks["keys"].as_array().and_then(|keys| {
            keys.iter()
                .filter(|k| k["kty"].as_str() == Some("RSA"))
                .find(|k| kid.is_none() || k["kid"].as_str() == kid)
                .cloned()
        })
    };
    let mut key = find(&cached_json(http, &discovery.jwks_uri, false).await?);
    if key.is_none() {
        // An unknown kid: the keys may have been rotated since the JWKS was kept; fetched once more.
        key = find(&cached_json(http, &discovery.jwks_uri, true).await?);
    }
    let key = key.ok_or_else(|| token_error("no key of the provider's JWKS matches its kid"))?;
    let component = |name: &str| {
        key[name]
            .as_str()
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
            .ok_or_else(|| token_error("the JWKS key is unreadable"))
    };
    let public = RsaPublicKeyComponents {
        n: component("n")?,
        e: component("e")?,
    };
    let signed = &id_token[..id_token.len() - signature.len() - 1];
    public
        .verify(
            &RSA_PKCS1_2048_8192_SHA256,
            signed.as_bytes(),
            &decode(signature)?,
        )
        .map_err(|_| token_error("its signature does not verify"))?;
    let claims: serde_json::Map<String, Value> =
        serde_json::from_slice(&decode(payload)?).map_err(|_| token_error("unreadable claims"))?;
    check_claims(&claims, expected)?;
    Ok(claims)
}

fn check_claims(
    claims: &serde_json::Map<String, Value>,
    expected: &Expected<'_>,
) -> Result<(), OidcError> {
    let issuer = claims.get("iss").and_then(Value::as_str).unwrap_or("");
    if issuer.trim_end_matches('/') != expected.issuer.trim_end_matches('/') {
        return Err(token_error("it was issued by another issuer (iss)"));
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == expected.client_id,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(expected.client_id)),
        _ => false,
    };
    if !audience_ok {
        return Err(token_error("it is meant for another client (aud)"));
    }
    let seconds = |name: &str| claims.get(name).and_then(Value::as_i64);
    let exp = seconds("exp").ok_or_else(|| token_error("it has no exp"))?;
    if exp.saturating_mul(1000) + LEEWAY_MS < expected.now_ms {
        return Err(token_error("it has expired (exp)"));
    }
    if let Some(iat) = seconds("iat")
        && iat.saturating_mul(1000) - LEEWAY_MS > expected.now_ms
    {
        return Err(token_error("it was issued in the future (iat)"));
    }
    let nonce = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
    if !engine::accounts::tokens_match(expected.nonce, nonce) {
        return Err(token_error("its nonce is not this sign-in's"));
    }
    Ok(())
}
