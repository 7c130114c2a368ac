//! The Adobe I/O Events Journaling API (reference §10.4): pull the events of a registration from a stored
//! position, so that events whose webhook delivery was missed are caught up.

use crate::aem::{DamError, send_authorized};
use crate::ims::TokenProvider;
use std::time::Duration;

/// One page of the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalPage {
    /// `(position, CloudEvent JSON)`, oldest first.
    pub events: Vec<(String, Vec<u8>)>,
    /// The position after this page (store it once the events are stored).
    pub last: Option<String>,
    /// The `link: <…>; rel="next"` URL, absolute.
    pub next: Option<String>,
    /// How long to wait when there was nothing new (`retry-after`).
    pub retry_after_ms: Option<u64>,
}

/// A client of one journal.
#[derive(Clone, Debug)]
pub struct JournalClient {
    http: reqwest::Client,
    url: String,
    tokens: TokenProvider,
    api_key: Option<String>,
}

impl JournalClient {
    /// A client of the journal at `url` (bearer tokens from `tokens`; `x-api-key` is the IMS client id with
    /// client credentials, else `api_key` when given). The URL must be https (plain http only to this machine).
    pub fn new(url: &str, tokens: TokenProvider, api_key: Option<&str>) -> Result<Self, DamError> {
        if !crate::http::credentials_allowed_at(url) {
            return Err(DamError::InsecureUrl(crate::http::insecure_url_message(
                "The journal URL",
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(crate::http::same_origin_redirects())
            .build()
            .map_err(|e| DamError::Transport(e.to_string()))?;
        Ok(Self {
            http,
            url: url.to_owned(),
            tokens,
            api_key: api_key.map(str::to_owned),
        })
    }

    /// The URL that reads from `position` (exclusive), or from the oldest retained event.
    pub fn url_from(&self, position: Option<&str>) -> String {
        match position {
            None => self.url.clone(),
            Some(position) => {
                let separator = if self.url.contains('?') { '&' } else { '?' };
                format!(
                    "{}{separator}since={}",
                    self.url,
                    crate::oauth1::percent_encode(position)
                )
            }
        }
    }

    /// Reads one page at `url`. A page whose `next` link leads to another origin than the journal's is
    /// refused whole (its events are not returned, so the position does not move): the token would follow it.
    pub async fn fetch(&self, url: &str) -> Result<JournalPage, DamError> {
        let api_key = self
            .api_key
            .as_ref()
            .filter(|_| self.tokens.client_id().is_none());
        let reply = send_authorized(&self.tokens, "The I/O Events journal", || {
            let request = self.http.get(url);
            match api_key {
                Some(key) => request.header("x-api-key", key),
                None => request,
            }
        })
        .await?;
        let status = reply.status();
        let headers = reply.headers().clone();
        let retry_after_ms = crate::aem::retry_after_ms(&headers);
        let next = headers
            .get(reqwest::header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(next_link)
            .and_then(|link| reqwest::Url::parse(url).ok()?.join(&link).ok());
        if let Some(next) = &next
            && !self.same_origin(next)
        {
            return Err(DamError::Malformed(format!(
                "the journal's next link leads to another origin ({}); not followed",
                next.origin().ascii_serialization()
            )));
        }
        let next = next.map(|u| u.to_string());
        match status.as_u16() {
            204 => Ok(JournalPage {
                events: Vec::new(),
                last: None,
                next,
                retry_after_ms,
            }),
            200 => {
                let body: serde_json::Value = reply
                    .json()
                    .await
                    .map_err(|e| DamError::Malformed(e.without_url().to_string()))?;
                let events = body["events"]
                    .as_array()
                    .map(|items| {
                        items
                            .iter()
                            .filter_map(|item| {
                                let position = item["position"].as_str()?.to_owned();
                                Some((position, item["event"].to_string().into_bytes()))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let last = body["_page"]["last"].as_str().map(str::to_owned);
                Ok(JournalPage {
                    events,
                    last,
                    next,
                    retry_after_ms,
                })
            }
            408 | 429 | 500..=599 => Err(DamError::Unavailable {
                status: status.as_u16(),
                retry_after_ms,
            }),
            _ => Err(DamError::Rejected {
                status: status.as_u16(),
                message: "journal read refused".into(),
            }),
        }
    }
}

impl JournalClient {
    /// True when `url` is on the configured journal's origin.
    fn same_origin(&self, url: &reqwest::Url) -> bool {
        reqwest::Url::parse(&self.url).is_ok_and(|journal| journal.origin() == url.origin())
    }
}

/// The target of `rel="next"` in a `link` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| {
                p.trim().eq_ignore_ascii_case("rel=\"next\"")
                    || p.trim().eq_ignore_ascii_case("rel=next")
            })
            .then(|| {
                target
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_next_link() {
        assert_eq!(
            next_link("</j?since=4>; rel=\"next\""),
            Some("/j?since=4".into())
        );
        assert_eq!(
            next_link("<a>; rel=\"prev\", <b>; rel=\"next\""),
            Some("b".into())
        );
        assert_eq!(next_link("<a>; rel=\"prev\""), None);
    }
}
