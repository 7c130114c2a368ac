//! The emulated Adobe IMS token endpoint (`POST /ims/token/v3`, OAuth client credentials), as the AEM
//! emulator serves it: registered clients, form-encoded requests, `invalid_client` for a wrong id or
//! secret, tokens with a configurable `expires_in`, and a count of tokens minted.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, body::Bytes};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Tokens IMS minted, and the clients it knows.
pub(crate) struct ImsState {
    clients: Mutex<HashMap<String, String>>,
    /// Minted tokens: the client each was minted for, and when it expires.
    tokens: Mutex<HashMap<String, (String, Instant)>>,
    lifetime_secs: AtomicU64,
    /// When set, the `expires_in` the replies state instead of the real lifetime (an absurd value).
    stated_expires_in: Mutex<Option<serde_json::Value>>,
    mints: AtomicU64,
}

/// Whether the Author API accepts a presented token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenCheck {
    /// A live token minted for this client (services expect it as `X-Api-Key`).
    Live {
        client_id: String,
    },
    Expired,
    Unknown,
}

impl Default for ImsState {
    fn default() -> Self {
        Self {
            clients: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            lifetime_secs: AtomicU64::new(86_400),
            stated_expires_in: Mutex::new(None),
            mints: AtomicU64::new(0),
        }
    }
}

impl ImsState {
    pub(crate) fn register(&self, client_id: &str, client_secret: &str) {
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(client_id.to_owned(), client_secret.to_owned());
    }

    pub(crate) fn set_lifetime(&self, seconds: u64) {
        self.lifetime_secs.store(seconds, Ordering::Relaxed);
    }

    pub(crate) fn state_expires_in(&self, value: Option<serde_json::Value>) {
        *self
            .stated_expires_in
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = value;
    }

    pub(crate) fn mints(&self) -> u64 {
        self.mints.load(Ordering::Relaxed)
    }

    /// Every token minted so far stops working (401), as when an administrator revokes them.
    pub(crate) fn revoke_all(&self) {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    pub(crate) fn check(&self, token: &str) -> TokenCheck {
        match self
            .tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
        {
            Some((client_id, expires)) if Instant::now() < *expires => TokenCheck::Live {
                client_id: client_id.clone(),
            },
            Some(_) => TokenCheck::Expired,
            None => TokenCheck::Unknown,
        }
    }

    /// `POST /ims/token/v3` with a form body.
    pub(crate) fn token_request(&self, body: &Bytes) -> Response {
        let form = parse_form(body);
        let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
        if field("grant_type") != "client_credentials" {
            return ims_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be client_credentials",
            );
        }
        if field("client_id").is_empty() || field("client_secret").is_empty() {
            return ims_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "client_id and client_secret are required",
            );
        }
        let known = self
            .clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(field("client_id"))
            .is_some_and(|secret| secret == field("client_secret"));
        if !known {
            return ims_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "invalid client_id or client_secret",
            );
        }
        let lifetime = self.lifetime_secs.load(Ordering::Relaxed);
        let token = format!("ims-{}", crate::aem::random_uuid());
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                token.clone(),
                (
                    field("client_id").to_owned(),
                    Instant::now() + Duration::from_secs(lifetime),
                ),
            );
        self.mints.fetch_add(1, Ordering::Relaxed);
        let expires_in = self
            .stated_expires_in
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| json!(lifetime));
        Json(json!({ "access_token": token, "token_type": "bearer", "expires_in": expires_in }))
            .into_response()
    }
}

fn ims_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// `application/x-www-form-urlencoded` fields (`+` is a space, `%XX` a byte).
fn parse_form(body: &[u8]) -> HashMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            Some((decode(key), decode(value)))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match (bytes[i], escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 2;
            }
            (b'+', None) => out.push(b' '),
            (byte, None) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_form_fields() {
        let form =
            parse_form(b"grant_type=client_credentials&scope=openid%2CAdobeID&x=a+b&bad=%zz");
        assert_eq!(form["scope"], "openid,AdobeID");
        assert_eq!(form["x"], "a b");
        assert_eq!(form["bad"], "%zz");
    }
}
