//! The AEM Assets Author API (reference §10.5): the full metadata of one asset.

use crate::ims::{TokenError, TokenProvider};
use domain::{AssetId, AssetMetadata};
use reqwest::StatusCode;
use std::time::Duration;

/// A failed call to the DAM. None of these ever unlinks anything.
#[derive(Debug, thiserror::Error)]
pub enum DamError {
    /// The credentials were refused (after one token refresh), or IMS refused to mint a token. The
    /// text says which, for the health report.
    #[error("{0}")]
    Unauthorized(String),
    #[error("AEM is unavailable (HTTP {status})")]
    Unavailable {
        status: u16,
        retry_after_ms: Option<u64>,
    },
    #[error("AEM answered HTTP {status}: {message}")]
    Rejected { status: u16, message: String },
    #[error("AEM could not be reached: {0}")]
    Transport(String),
    #[error("AEM's reply is malformed: {0}")]
    Malformed(String),
    /// The client was given a URL its token may not go to (plain http to another machine).
    #[error("{0}")]
    InsecureUrl(String),
}

impl From<TokenError> for DamError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Refused { .. }
            | TokenError::StaticTokenRejected
            | TokenError::InsecureUrl(_) => Self::Unauthorized(error.to_string()),
            TokenError::Unavailable(_) | TokenError::Malformed(_) => {
                Self::Transport(error.to_string())
            }
        }
    }
}

impl DamError {
    /// The delay the DAM asked for, if any.
    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            Self::Unavailable { retry_after_ms, .. } => *retry_after_ms,
            _ => None,
        }
    }
}

/// The metadata read: found, or not found (deleted, or never existed).
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataReply {
    Found(AssetMetadata),
    NotFound,
}

/// A client of the Author API of one AEM environment.
#[derive(Clone, Debug)]
pub struct AuthorClient {
    http: reqwest::Client,
    origin: String,
    tokens: TokenProvider,
}

impl AuthorClient {
    /// A client of `origin` (e.g. `https://author-p1-e2.adobeaemcloud.com`) with bearer tokens from `tokens`.
    /// The origin must be https (plain http only to this machine): every request carries the token.
    pub fn new(origin: &str, tokens: TokenProvider, timeout: Duration) -> Result<Self, DamError> {
        if !crate::http::credentials_allowed_at(origin) {
            return Err(DamError::InsecureUrl(crate::http::insecure_url_message(
                "The Author API URL",
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(64)
            .redirect(crate::http::same_origin_redirects())
            .build()
            .map_err(|e| DamError::Transport(e.to_string()))?;
        Ok(Self {
            http,
            origin: origin.trim_end_matches('/').to_owned(),
            tokens,
        })
    }

    /// `GET {origin}/adobe/assets/{assetId}/metadata`.
    pub async fn metadata(&self, asset_id: &AssetId) -> Result<MetadataReply, DamError> {
        let url = format!("{}/adobe/assets/{}/metadata", self.origin, asset_id);
        // A 403 on one asset (its permissions) fails that asset, not every read.
        let reply = send_authorized_as(&self.tokens, "AEM", Forbidden::ThisItem, || {
            self.http
                .get(&url)
                .header("X-Adobe-Accept-Experimental", "1")
                .header("Accept", "application/json")
        })
        .await?;
        let status = reply.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(MetadataReply::NotFound);
        }
        let reply = successful(reply).await?;
        let body = reply
            .bytes()
            .await
            .map_err(|e| DamError::Transport(without_url(e)))?;
        let metadata =
            AssetMetadata::from_json(&body).map_err(|e| DamError::Malformed(e.to_string()))?;
        if &metadata.asset_id != asset_id {
            return Err(DamError::Malformed(format!(
                "asked for {asset_id}, got {}",
                metadata.asset_id
            )));
        }
        Ok(MetadataReply::Found(metadata))
    }
}

/// One page of the Author API search (reference §10.6).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    /// The assets of this page that parsed; `unreadable` counts the others.
    pub results: Vec<AssetMetadata>,
    pub unreadable: usize,
    /// Send it back for the next page; `None` on the last page.
    pub cursor: Option<String>,
    /// The total the search reported, when it did.
    pub total: Option<i64>,
}

impl AuthorClient {
    /// `POST {origin}/adobe/assets/search` for every asset (eligibility is checked locally), `limit` a page.
    pub async fn search_page(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<SearchPage, DamError> {
        let query = serde_json::json!([
            { "match": { "text": "*", "fields": ["assetMetadata.dc:title"] } }
        ]);
        self.search(query, cursor, limit).await
    }

    /// The approved assets whose name (`repo:name`), path (`repo:path`) or title (`dc:title`) contains `text`
    /// (every approved asset for an empty text or `*`), `limit` a page: what a person picks from.
    pub async fn search_approved(
        &self,
        text: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<SearchPage, DamError> {
        let text = text.trim();
        let query = serde_json::json!([
            { "match": {
                "text": if text.is_empty() { "*" } else { text },
                "fields": [
                    "repositoryMetadata.repo:name",
                    "repositoryMetadata.repo:path",
                    "assetMetadata.dc:title"
                ]
            } },
            { "term": { "assetMetadata.dam:status": ["approved"] } }
        ]);
        self.search(query, cursor, limit).await
    }

    async fn search(
        &self,
        query: serde_json::Value,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<SearchPage, DamError> {
        let url = format!("{}/adobe/assets/search?allowUnsafeSearch=true", self.origin);
        let mut body = serde_json::json!({ "query": query, "limit": limit });
        if let Some(cursor) = cursor {
            body["cursor"] = serde_json::json!(cursor);
        }
        let reply = send_authorized(&self.tokens, "AEM", || {
            self.http
                .post(&url)
                .header("X-Adobe-Accept-Experimental", "1")
                .json(&body)
        })
        .await?;
        let reply = successful(reply).await?;
        let value: serde_json::Value = reply
            .json()
            .await
            .map_err(|e| DamError::Malformed(without_url(e)))?;
        let hits = value["hits"]["results"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut results = Vec::with_capacity(hits.len());
        let mut unreadable = 0;
        for hit in hits {
            match serde_json::from_value::<AssetMetadata>(hit) {
                Ok(metadata) => results.push(metadata),
                Err(_) => unreadable += 1,
            }
        }
        let cursor = value["cursor"]
            .as_str()
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        let last_page = results.is_empty() && unreadable == 0;
        Ok(SearchPage {
            results,
            unreadable,
            cursor: if last_page { None } else { cursor },
            total: value["search_metadata"]["totalCount"]["total"].as_i64(),
        })
    }
}

/// Sends the request `build` makes with a bearer token from `tokens` (plus `X-Api-Key: <client id>` with IMS
/// client credentials, and `x-gw-ims-org-id` when configured). A 401 refreshes the token once and sends again;
/// a second 401 (or a 403) is [`DamError::Unauthorized`], saying whose credentials `service` refused.
pub(crate) async fn send_authorized(
    tokens: &TokenProvider,
    service: &str,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, DamError> {
    send_authorized_as(tokens, service, Forbidden::Credentials, build).await
}

/// What a 403 means for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Forbidden {
    /// The credentials are refused ([`DamError::Unauthorized`]).
    Credentials,
    /// This item is refused (its permissions): the reply is handed back.
    ThisItem,
}

async fn send_authorized_as(
    tokens: &TokenProvider,
    service: &str,
    forbidden: Forbidden,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, DamError> {
    let send = |token: String| {
        let mut request = build().bearer_auth(token);
        if let Some(client_id) = tokens.client_id() {
            request = request.header("X-Api-Key", client_id);
        }
        if let Some(org_id) = tokens.org_id() {
            request = request.header("x-gw-ims-org-id", org_id);
        }
        async move {
            request
                .send()
                .await
                .map_err(|e| DamError::Transport(without_url(e)))
        }
    };
    let token = tokens.token().await?;
    let reply = send(token.clone()).await?;
    let status = reply.status().as_u16();
    let reply = if status == 401 {
        let fresh = match tokens.refresh_after_rejection(&token).await {
            Ok(fresh) => fresh,
            Err(TokenError::StaticTokenRejected) => {
                return Err(DamError::Unauthorized(format!(
                    "{service} refused the configured access token (HTTP 401)"
                )));
            }
            Err(error) => return Err(error.into()),
        };
        send(fresh).await?
    } else {
        reply
    };
    let status = reply.status().as_u16();
    if status == 401 || (status == 403 && forbidden == Forbidden::Credentials) {
        let whose = match tokens.client_id() {
            Some(client_id) => format!("the IMS token for client {client_id}"),
            None => "the configured access token".to_owned(),
        };
        let when = if status == 401 && tokens.client_id().is_some() {
            " after a refresh"
        } else {
            ""
        };
        return Err(DamError::Unauthorized(format!(
            "{service} refused {whose}{when} (HTTP {status})"
        )));
    }
    Ok(reply)
}

/// The reply when it is a success; otherwise the error its status means (with the body's start for a refusal).
async fn successful(reply: reqwest::Response) -> Result<reqwest::Response, DamError> {
    check_status(&reply)?;
    let status = reply.status();
    if status.is_success() {
        return Ok(reply);
    }
    let message = reply
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    Err(DamError::Rejected {
        status: status.as_u16(),
        message,
    })
}

/// Maps the statuses that say the DAM is unavailable to errors (credentials are checked when sending).
fn check_status(reply: &reqwest::Response) -> Result<(), DamError> {
    let status = reply.status();
    match status.as_u16() {
        408 | 429 | 500..=599 => Err(DamError::Unavailable {
            status: status.as_u16(),
            retry_after_ms: retry_after_ms(reply.headers()),
        }),
        _ => Ok(()),
    }
}

/// `Retry-After` in milliseconds: delay-seconds, or an HTTP-date (a date already past is 0). An unreadable value
/// is read as "soon" (one second). Callers cut it to the configured longest wait.
pub fn retry_after_ms(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    let raw = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    Some(parse_retry_after(raw, std::time::SystemTime::now()))
}

/// A `Retry-After` value read at `now`, in milliseconds (RFC 9110 §10.2.3).
pub fn parse_retry_after(raw: &str, now: std::time::SystemTime) -> u64 {
    if let Ok(secs) = raw.parse::<u64>() {
        return secs.saturating_mul(1000);
    }
    match httpdate::parse_http_date(raw) {
        Ok(at) => at.duration_since(now).map_or(0, |left| {
            u64::try_from(left.as_millis()).unwrap_or(u64::MAX)
        }),
        Err(_) => 1000,
    }
}

/// A transport error's text without the URL (which may carry query secrets in other clients).
pub(crate) fn without_url(error: reqwest::Error) -> String {
    if error.is_redirect() {
        return crate::http::redirect_error(&error);
    }
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "reply body could not be read"
    } else {
        "request failed"
    };
    format!("{kind}: {}", error.without_url())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(parse_retry_after("120", now), 120_000);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            30_000,
            "an HTTP-date is a wait until then"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            0,
            "a date already past: no wait"
        );
        assert_eq!(parse_retry_after("soon-ish", now), 1000);
    }
}
