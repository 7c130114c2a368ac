//! Cookies without a cookie crate: reading one from the `Cookie` header, writing the session cookie.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "assetsync_session";
/// The cookie that ties the sign-in form to the browser that loaded it (double submit).
pub const LOGIN_COOKIE: &str = "assetsync_login";

/// The value of cookie `name`, if the request has it.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, on `path`, `Secure` when served over https;
/// `max_age_s` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, path: &str, max_age_s: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age_s}; HttpOnly; SameSite=Strict{secure}")
}

/// Whether the request came over https: `X-Forwarded-Proto: https` (a TLS proxy in front), or a configured
/// public origin on https.
pub fn over_https(headers: &HeaderMap, public_origin: Option<&str>) -> bool {
    public_origin.is_some_and(|o| o.starts_with("https://"))
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}
