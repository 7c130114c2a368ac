//! Where credentials may go: the rules every client that carries a token or a secret shares. A redirect is
//! followed only on the origin of the first request (a token or a secret in the body never reaches another
//! host through a `Location` header), and bearer tokens go over https only (plain http to this machine is
//! allowed for emulators and tests).

use reqwest::Url;
use reqwest::redirect::{Attempt, Policy};

/// Redirects followed at most, on the same origin.
const MAX_REDIRECTS: usize = 5;

/// Why a redirect was not followed (the text a transport error carries).
#[derive(Debug, thiserror::Error)]
#[error("refused a redirect to another origin")]
pub struct CrossOriginRedirect;

/// The redirect policy of clients that carry credentials: follow only to the origin of the first request,
/// at most [`MAX_REDIRECTS`] times; a redirect elsewhere is an error (nothing is sent there).
pub fn same_origin_redirects() -> Policy {
    Policy::custom(|attempt: Attempt<'_>| {
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if !same_origin {
            attempt.error(CrossOriginRedirect)
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    })
}

/// True when a bearer token or a secret may be sent to `url`: https, or plain http to a loopback host
/// (`127.0.0.0/8`, `::1`, `localhost`).
pub fn credentials_allowed(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => url.host_str().is_some_and(|host| {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }),
        _ => false,
    }
}

/// `credentials_allowed` for a URL given as text (false when it does not parse).
pub fn credentials_allowed_at(url: &str) -> bool {
    Url::parse(url).is_ok_and(|url| credentials_allowed(&url))
}

/// The text of a redirect error: refused because it led to another origin, or too many.
pub(crate) fn redirect_error(error: &reqwest::Error) -> String {
    let cross_origin = std::iter::successors(std::error::Error::source(error), |e| e.source())
        .any(|e| e.is::<CrossOriginRedirect>());
    if cross_origin {
        format!("request failed: {CrossOriginRedirect}")
    } else {
        "request failed: too many redirects".to_owned()
    }
}

/// The sentence for a URL refused by [`credentials_allowed`].
pub fn insecure_url_message(what: &str) -> String {
    format!(
        "{what} must be an https URL: bearer tokens and secrets go over https only (plain http only to \
         127.0.0.1, ::1 or localhost)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_go_over_https_or_to_this_machine_only() {
        for allowed in [
            "https://ims-na1.adobelogin.com/ims/token/v3",
            "http://127.0.0.1:8080/x",
            "http://127.1.2.3/x",
            "http://localhost:9/x",
            "http://[::1]:9/x",
        ] {
            assert!(credentials_allowed_at(allowed), "{allowed}");
        }
        for refused in [
            "http://author.example.com/",
            "http://10.0.0.1/",
            "http://localhost.example.com/",
            "ftp://127.0.0.1/",
            "not a url",
        ] {
            assert!(!credentials_allowed_at(refused), "{refused}");
        }
    }
}
