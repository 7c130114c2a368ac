//! OAuth 1.0a (HMAC-SHA256) request signatures as Magento verifies them for integrations, with a nonce cache.

use super::*;

/// Why a request was not authenticated (logged at debug level, never answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AuthFailure {
    Missing,
    Revoked,
    BearerRefused,
    WrongToken,
    Malformed(&'static str),
    UnsupportedSignatureMethod,
    UnsupportedVersion,
    WrongConsumer,
    StaleTimestamp,
    ReusedNonce,
    BadSignature,
}

/// Nonces seen per consumer, with their timestamps. Nonces whose timestamp left the window are pruned:
/// a replay of them fails on the timestamp anyway.
#[derive(Debug)]
pub(super) struct NonceCache {
    pub(super) seen: HashMap<(String, String), i64>,
    pub(super) prune_at: usize,
}

impl Default for NonceCache {
    fn default() -> Self {
        Self {
            seen: HashMap::new(),
            prune_at: 4096,
        }
    }
}

impl NonceCache {
    pub(super) fn contains(&self, consumer: &str, nonce: &str) -> bool {
        self.seen
            .contains_key(&(consumer.to_owned(), nonce.to_owned()))
    }

    pub(super) fn insert(&mut self, consumer: &str, nonce: &str, timestamp: i64, now: i64) {
        self.seen
            .insert((consumer.to_owned(), nonce.to_owned()), timestamp);
        if self.seen.len() >= self.prune_at {
            self.seen.retain(|_, ts| *ts >= now - TIMESTAMP_WINDOW_SECS);
            self.prune_at = (self.seen.len() * 2).max(4096);
        }
    }
}

/// What the signature covers besides the OAuth parameters.
pub(super) struct SignedRequest<'a> {
    pub(super) method: &'a str,
    /// Scheme, host, port and raw path, without the query.
    pub(super) base_uri: &'a str,
    /// The raw query string, if any.
    pub(super) query: Option<&'a str>,
}

/// Checks the `Authorization` header: bearer (when allowed) or OAuth 1.0a.
pub(super) fn authenticate(
    settings: &CommerceSettings,
    credentials_valid: bool,
    nonces: &mut NonceCache,
    now: i64,
    request: &SignedRequest<'_>,
    authorization: Option<&str>,
) -> Result<(), AuthFailure> {
    if !credentials_valid {
        return Err(AuthFailure::Revoked);
    }
    let authorization = authorization.ok_or(AuthFailure::Missing)?;
    if let Some(token) = strip_scheme(authorization, "Bearer") {
        if !settings.allow_bearer {
            return Err(AuthFailure::BearerRefused);
        }
        return constant_time::verify_slices_are_equal(
            token.trim().as_bytes(),
            settings.access_token.as_bytes(),
        )
        .map_err(|_| AuthFailure::WrongToken);
    }
    let params = strip_scheme(authorization, "OAuth").ok_or(AuthFailure::Missing)?;
    verify_oauth(settings, nonces, now, request, params)
}

/// The rest of `value` after the auth scheme `scheme` (case-insensitive) and a space.
pub(super) fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let head = value.get(..scheme.len())?;
    let rest = value.get(scheme.len()..)?;
    (head.eq_ignore_ascii_case(scheme) && rest.starts_with(' ')).then_some(rest)
}

/// Verifies an OAuth 1.0a HMAC-SHA256 signature (RFC 5849) made with the integration's consumer and
/// access token; `header_params` is the `Authorization` value after `OAuth `. The nonce is recorded only
/// when everything else holds.
pub(super) fn verify_oauth(
    settings: &CommerceSettings,
    nonces: &mut NonceCache,
    now: i64,
    request: &SignedRequest<'_>,
    header_params: &str,
) -> Result<(), AuthFailure> {
    let params = parse_oauth_header(header_params)?;
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let consumer_key =
        get("oauth_consumer_key").ok_or(AuthFailure::Malformed("oauth_consumer_key"))?;
    let token = get("oauth_token").ok_or(AuthFailure::Malformed("oauth_token"))?;
    let method =
        get("oauth_signature_method").ok_or(AuthFailure::Malformed("oauth_signature_method"))?;
    let timestamp = get("oauth_timestamp").ok_or(AuthFailure::Malformed("oauth_timestamp"))?;
    let nonce = get("oauth_nonce")
        .filter(|n| !n.is_empty())
        .ok_or(AuthFailure::Malformed("oauth_nonce"))?;
    let signature = get("oauth_signature").ok_or(AuthFailure::Malformed("oauth_signature"))?;
    if method != "HMAC-SHA256" {
        return Err(AuthFailure::UnsupportedSignatureMethod);
    }
    if get("oauth_version").is_some_and(|v| v != "1.0") {
        return Err(AuthFailure::UnsupportedVersion);
    }
    constant_time::verify_slices_are_equal(
        consumer_key.as_bytes(),
        settings.consumer_key.as_bytes(),
    )
    .map_err(|_| AuthFailure::WrongConsumer)?;
    constant_time::verify_slices_are_equal(token.as_bytes(), settings.access_token.as_bytes())
        .map_err(|_| AuthFailure::WrongToken)?;
    let timestamp: i64 = (!timestamp.is_empty() && timestamp.bytes().all(|b| b.is_ascii_digit()))
        .then(|| timestamp.parse().ok())
        .flatten()
        .ok_or(AuthFailure::Malformed("oauth_timestamp"))?;
    if (now - timestamp).abs() > TIMESTAMP_WINDOW_SECS {
        return Err(AuthFailure::StaleTimestamp);
    }
    if nonces.contains(consumer_key, nonce) {
        return Err(AuthFailure::ReusedNonce);
    }
    let base = signature_base_string(request, &params)?;
    let key = format!(
        "{}&{}",
        rfc3986(&settings.consumer_secret),
        rfc3986(&settings.access_token_secret)
    );
    let provided = BASE64
        .decode(signature)
        .map_err(|_| AuthFailure::BadSignature)?;
    hmac::verify(
        &hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes()),
        base.as_bytes(),
        &provided,
    )
    .map_err(|_| AuthFailure::BadSignature)?;
    nonces.insert(consumer_key, nonce, timestamp, now);
    Ok(())
}

/// The `oauth_*` parameters of an `Authorization: OAuth` value, percent-decoded (`realm` and other
/// parameters are left out; quoted or bare values, as Magento's parser accepts).
pub(super) fn parse_oauth_header(params: &str) -> Result<Vec<(String, String)>, AuthFailure> {
    let mut parsed: Vec<(String, String)> = Vec::new();
    for piece in params.split(',') {
        let piece = piece.trim();
        if piece.is_empty() {
            continue;
        }
        let (name, raw) = piece
            .split_once('=')
            .ok_or(AuthFailure::Malformed("parameter without a value"))?;
        let name = name.trim();
        if !name.starts_with("oauth_") {
            continue;
        }
        let raw = raw.trim();
        let raw = raw
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .unwrap_or(raw);
        let value =
            percent_decode(raw, false).ok_or(AuthFailure::Malformed("bad percent-encoding"))?;
        if parsed.iter().any(|(n, _)| n == name) {
            return Err(AuthFailure::Malformed("duplicate parameter"));
        }
        parsed.push((name.to_owned(), value));
    }
    Ok(parsed)
}

/// RFC 5849 §3.4.1: METHOD & enc(base URI) & enc(normalized parameters), where the parameters are the
/// OAuth ones but the signature plus the query's (decoded), each encoded, sorted by name then value.
pub(super) fn signature_base_string(
    request: &SignedRequest<'_>,
    oauth: &[(String, String)],
) -> Result<String, AuthFailure> {
    let mut pairs: Vec<(String, String)> = oauth
        .iter()
        .filter(|(name, _)| name != "oauth_signature")
        .map(|(name, value)| (rfc3986(name), rfc3986(value)))
        .collect();
    for (name, value) in query_pairs(request.query.unwrap_or(""))
        .ok_or(AuthFailure::Malformed("bad query encoding"))?
    {
        pairs.push((rfc3986(&name), rfc3986(&value)));
    }
    pairs.sort();
    let normalized = pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&");
    Ok(format!(
        "{}&{}&{}",
        request.method.to_ascii_uppercase(),
        rfc3986(request.base_uri),
        rfc3986(&normalized)
    ))
}

/// The decoded `name=value` pairs of a raw query string (`+` is a space); `None` on bad encoding.
pub(super) fn query_pairs(query: &str) -> Option<Vec<(String, String)>> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            Some((percent_decode(name, true)?, percent_decode(value, true)?))
        })
        .collect()
}

/// RFC 3986 percent-encoding: unreserved characters kept, every other byte as `%XX` (upper case).
pub(super) fn rfc3986(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0F)]));
        }
    }
    out
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`); `None` on a bad escape or bad UTF-8.
pub(super) fn percent_decode(value: &str, plus_is_space: bool) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'%' => {
                let hex = value.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

pub(super) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
