//! The provider's side of OpenID Connect sign-in: discovery, the token exchange, and the ID token's checks
//! (RS256 signature against the provider's JWKS, `iss`, `aud`, `exp`/`iat` with a small leeway, `nonce`).

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

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
    let found: Discovery = serde_json::from_value(get_json(http, &url).await?)
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

/// Trades the code for an ID token at the token endpoint (`client_secret_post`).
pub async fn exchange(
    http: &reqwest::Client,
    discovery: &Discovery,
    exchange: &Exchange<'_>,
) -> Result<String, OidcError> {
    let reply = http
        .post(&discovery.token_endpoint)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", exchange.code),
            ("redirect_uri", exchange.redirect_uri),
            ("client_id", exchange.client_id),
            ("client_secret", exchange.client_secret),
            ("code_verifier", exchange.code_verifier),
        ])
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
    let jwks = get_json(http, &discovery.jwks_uri).await?;
    let keys = jwks["keys"].as_array().cloned().unwrap_or_default();
    let key = keys
        .iter()
        .filter(|k| k["kty"].as_str() == Some("RSA"))
        .find(|k| kid.is_none() || k["kid"].as_str() == kid)
        .ok_or_else(|| token_error("no key of the provider's JWKS matches its kid"))?;
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
