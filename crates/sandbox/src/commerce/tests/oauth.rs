//! OAuth 1.0a: a known test vector, tampered, reused and stale requests, bearer tokens, percent-encoding.

use super::*;

fn pct(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Returns (the URL with its query, the Authorization header) for `origin + path ? query`.
pub(super) fn sign(
    s: &CommerceSettings,
    method: &str,
    origin: &str,
    path: &str,
    query: &[(&str, &str)],
    nonce: &str,
    timestamp: i64,
) -> (String, String) {
    let ts = timestamp.to_string();
    let oauth = [
        ("oauth_consumer_key", s.consumer_key.as_str()),
        ("oauth_nonce", nonce),
        ("oauth_signature_method", "HMAC-SHA256"),
        ("oauth_timestamp", ts.as_str()),
        ("oauth_token", s.access_token.as_str()),
        ("oauth_version", "1.0"),
    ];
    let mut all: Vec<String> = oauth
        .iter()
        .chain(query.iter())
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect();
    all.sort();
    let base = format!(
        "{}&{}&{}",
        method,
        pct(&format!("{origin}{path}")),
        pct(&all.join("&"))
    );
    let key = format!(
        "{}&{}",
        pct(&s.consumer_secret),
        pct(&s.access_token_secret)
    );
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes()),
        base.as_bytes(),
    );
    let signature = BASE64.encode(tag.as_ref());
    let mut header = String::from("OAuth ");
    for (k, v) in oauth {
        header.push_str(&format!("{k}=\"{}\", ", pct(v)));
    }
    header.push_str(&format!("oauth_signature=\"{}\"", pct(&signature)));
    let query: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect();
    let url = if query.is_empty() {
        format!("{origin}{path}")
    } else {
        format!("{origin}{path}?{}", query.join("&"))
    };
    (url, header)
}

fn check(
    s: &CommerceSettings,
    nonces: &mut NonceCache,
    method: &str,
    url: &str,
    authorization: Option<&str>,
) -> Result<(), AuthFailure> {
    let (base_uri, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let request = SignedRequest {
        method,
        base_uri,
        query,
    };
    authenticate(s, true, nonces, unix_now(), &request, authorization)
}

#[test]
fn known_vector_base_string_and_signature() {
    let request = SignedRequest {
        method: "get",
        base_uri: "http://127.0.0.1:8080/rest/all/V1/products/A%2FB/media",
        query: Some("b=2+3&a=x%21y&a=x"),
    };
    let header = "oauth_consumer_key=\"ck\", oauth_nonce=\"n1\", realm=\"x\", \
                  oauth_signature_method=\"HMAC-SHA256\", oauth_timestamp=\"1700000000\", \
                  oauth_token=\"tok\", oauth_version=\"1.0\", \
                  oauth_signature=\"2Zg0sCpB2RfnbmMLZNZmtJZes2jnIYpWE14X%2B7DOEOs%3D\"";
    let params = parse_oauth_header(header).unwrap();
    assert_eq!(
        signature_base_string(&request, &params).unwrap(),
        "GET&http%3A%2F%2F127.0.0.1%3A8080%2Frest%2Fall%2FV1%2Fproducts%2FA%252FB%2Fmedia&\
         a%3Dx%26a%3Dx%2521y%26b%3D2%25203%26oauth_consumer_key%3Dck%26oauth_nonce%3Dn1%26\
         oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtok%26\
         oauth_version%3D1.0"
    );
    // The signature was computed outside Rust (Python hmac) over that base string with key "c%20s&t%2Bs".
    let mut nonces = NonceCache::default();
    let s = settings(false);
    assert_eq!(
        verify_oauth(&s, &mut nonces, 1_700_000_100, &request, header),
        Ok(())
    );
    assert_eq!(
        verify_oauth(&s, &mut nonces, 1_700_000_100, &request, header),
        Err(AuthFailure::ReusedNonce)
    );
    let tampered = header.replace("2Zg0", "2Zg1");
    let mut fresh = NonceCache::default();
    assert_eq!(
        verify_oauth(&s, &mut fresh, 1_700_000_100, &request, &tampered),
        Err(AuthFailure::BadSignature)
    );
    assert_eq!(
        verify_oauth(&s, &mut fresh, 1_700_000_601, &request, header),
        Err(AuthFailure::StaleTimestamp)
    );
}

#[test]
fn oauth_accepts_valid_and_rejects_tampered_reused_stale() {
    let s = settings(false);
    let mut nonces = NonceCache::default();
    let origin = "http://127.0.0.1:4242";
    let path = "/rest/all/V1/products";
    let query = [
        ("searchCriteria[pageSize]", "2"),
        ("searchCriteria[currentPage]", "1"),
    ];
    let now = unix_now();
    let (url, header) = sign(&s, "GET", origin, path, &query, "nonce-1", now);
    assert_eq!(check(&s, &mut nonces, "GET", &url, Some(&header)), Ok(()));
    // The same request again: the nonce was used.
    assert_eq!(
        check(&s, &mut nonces, "GET", &url, Some(&header)),
        Err(AuthFailure::ReusedNonce)
    );
    // One changed byte of the signature.
    let (url, header) = sign(&s, "GET", origin, path, &query, "nonce-2", now);
    let start = header.find("oauth_signature=\"").unwrap() + 17;
    let mut bytes = header.clone().into_bytes();
    bytes[start] = if bytes[start] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert_eq!(
        check(&s, &mut nonces, "GET", &url, Some(&tampered)),
        Err(AuthFailure::BadSignature)
    );
    // The signature still holds for the untouched request (the nonce was not burnt).
    assert_eq!(check(&s, &mut nonces, "GET", &url, Some(&header)), Ok(()));
    // A changed query or method breaks the signature.
    let (url, header) = sign(&s, "GET", origin, path, &query, "nonce-3", now);
    let other_page = url.replace("currentPage%5D=1", "currentPage%5D=2");
    assert_eq!(
        check(&s, &mut nonces, "GET", &other_page, Some(&header)),
        Err(AuthFailure::BadSignature)
    );
    assert_eq!(
        check(&s, &mut nonces, "DELETE", &url, Some(&header)),
        Err(AuthFailure::BadSignature)
    );
    // Stale and future timestamps.
    let (url, header) = sign(&s, "GET", origin, path, &query, "nonce-4", now - 700);
    assert_eq!(
        check(&s, &mut nonces, "GET", &url, Some(&header)),
        Err(AuthFailure::StaleTimestamp)
    );
    let (url, header) = sign(&s, "GET", origin, path, &query, "nonce-5", now + 700);
    assert_eq!(
        check(&s, &mut nonces, "GET", &url, Some(&header)),
        Err(AuthFailure::StaleTimestamp)
    );
    // Wrong secret.
    let mut wrong = settings(false);
    wrong.access_token_secret = "other".into();
    let (url, header) = sign(&wrong, "GET", origin, path, &query, "nonce-6", now);
    assert_eq!(
        check(&s, &mut nonces, "GET", &url, Some(&header)),
        Err(AuthFailure::BadSignature)
    );
    // SHA1 is not accepted.
    let sha1 = header.replace("HMAC-SHA256", "HMAC-SHA1");
    assert_eq!(
        check(&s, &mut nonces, "GET", &url, Some(&sha1)),
        Err(AuthFailure::UnsupportedSignatureMethod)
    );
    assert_eq!(
        check(&s, &mut nonces, "GET", &url, None),
        Err(AuthFailure::Missing)
    );
}

#[test]
fn bearer_refused_unless_allowed() {
    let url = "http://127.0.0.1:1/rest/all/V1/products";
    let mut nonces = NonceCache::default();
    assert_eq!(
        check(
            &settings(false),
            &mut nonces,
            "GET",
            url,
            Some("Bearer tok")
        ),
        Err(AuthFailure::BearerRefused)
    );
    assert_eq!(
        check(&settings(true), &mut nonces, "GET", url, Some("Bearer tok")),
        Ok(())
    );
    assert_eq!(
        check(
            &settings(true),
            &mut nonces,
            "GET",
            url,
            Some("Bearer tok2")
        ),
        Err(AuthFailure::WrongToken)
    );
    let request = SignedRequest {
        method: "GET",
        base_uri: url,
        query: None,
    };
    assert_eq!(
        authenticate(
            &settings(true),
            false,
            &mut nonces,
            unix_now(),
            &request,
            Some("Bearer tok")
        ),
        Err(AuthFailure::Revoked)
    );
}

#[test]
fn percent_encoding_round_trip() {
    assert_eq!(rfc3986("a b+c/~é"), "a%20b%2Bc%2F~%C3%A9");
    assert_eq!(percent_decode("a%20b+c", true).as_deref(), Some("a b c"));
    assert_eq!(percent_decode("a%20b+c", false).as_deref(), Some("a b+c"));
    assert_eq!(percent_decode("%zz", false), None);
    assert_eq!(percent_decode("%4", false), None);
}
