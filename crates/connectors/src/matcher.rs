//! The client of a merchant's custom matcher (reference §6): `POST` a JSON body to an App Builder action and
//! read its reply. Every call has a time-out and a reply size limit; URLs must be https unless the operator
//! allowed plain http; redirects are not followed. With credentials, calls carry `Authorization: Bearer` (an
//! IMS token) and `x-gw-ims-org-id`; a 401 refreshes the token once.

use crate::ims::{TokenError, TokenProvider};
use domain::config::{UrlPolicy, endpoint_url};
use serde_json::Value;
use std::fmt;
use std::time::Duration;

/// Largest matcher reply read, in bytes.
pub const MAX_REPLY_BYTES: usize = 1024 * 1024;

/// A failed matcher call. None of these unlinks anything: the asset fails and is retried.
#[derive(Debug, thiserror::Error)]
pub enum MatcherError {
    #[error("matcher URL refused: {0}")]
    Url(String),
    #[error("the matcher did not answer within {0} ms")]
    TimedOut(u128),
    #[error("the matcher could not be reached: {0}")]
    Transport(String),
    #[error("the matcher answered HTTP {status}")]
    Status { status: u16 },
    #[error("the matcher's reply is larger than {MAX_REPLY_BYTES} bytes")]
    TooLarge,
    #[error("no matcher token: {0}")]
    Token(#[from] TokenError),
}

/// A client of one matcher.
#[derive(Clone)]
pub struct MatcherClient {
    http: reqwest::Client,
    timeout: Duration,
    urls: UrlPolicy,
    /// IMS tokens (with the org id sent as `x-gw-ims-org-id`); `None` = unauthenticated calls.
    tokens: Option<TokenProvider>,
}

impl fmt::Debug for MatcherClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MatcherClient")
            .field("timeout", &self.timeout)
            .field("urls", &self.urls)
            .field("tokens", &self.tokens)
            .finish()
    }
}

impl MatcherClient {
    pub fn new(
        timeout: Duration,
        urls: UrlPolicy,
        tokens: Option<TokenProvider>,
    ) -> Result<Self, MatcherError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| MatcherError::Transport(e.without_url().to_string()))?;
        Ok(Self {
            http,
            timeout,
            urls,
            tokens,
        })
    }

    /// `POST url` with a JSON body; the reply body of a 2xx. A 401 with credentials refreshes the token and
    /// tries once more.
    pub async fn post(&self, url: &str, body: &Value) -> Result<Vec<u8>, MatcherError> {
        let url = endpoint_url(&Value::from(url), self.urls).map_err(MatcherError::Url)?;
        if self.tokens.is_some() && !crate::http::credentials_allowed_at(&url) {
            return Err(MatcherError::Url(crate::http::insecure_url_message(
                "a matcher URL with credentials",
            )));
        }
        let mut token = match &self.tokens {
            Some(tokens) => Some(tokens.token().await?),
            None => None,
        };
        let mut refreshed = false;
        loop {
            let mut request = self
                .http
                .post(&url)
                .header("Accept", "application/json")
                .json(body);
            if let (Some(tokens), Some(bearer)) = (&self.tokens, &token) {
                request = request.bearer_auth(bearer);
                if let Some(org) = tokens.org_id() {
                    request = request.header("x-gw-ims-org-id", org);
                }
            }
            let reply = request.send().await.map_err(|e| self.failure(e))?;
            let status = reply.status();
            if status == reqwest::StatusCode::UNAUTHORIZED
                && !refreshed
                && let (Some(tokens), Some(rejected)) = (&self.tokens, &token)
            {
                token = Some(tokens.refresh_after_rejection(rejected).await?);
                refreshed = true;
                continue;
            }
            if !status.is_success() {
                return Err(MatcherError::Status {
                    status: status.as_u16(),
                });
            }
            return self.read_limited(reply).await;
        }
    }

    async fn read_limited(&self, mut reply: reqwest::Response) -> Result<Vec<u8>, MatcherError> {
        if reply
            .content_length()
            .is_some_and(|n| n > MAX_REPLY_BYTES as u64)
        {
            return Err(MatcherError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = reply.chunk().await.map_err(|e| self.failure(e))? {
            if body.len() + chunk.len() > MAX_REPLY_BYTES {
                return Err(MatcherError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn failure(&self, error: reqwest::Error) -> MatcherError {
        if error.is_timeout() {
            MatcherError::TimedOut(self.timeout.as_millis())
        } else if error.is_redirect() {
            MatcherError::Transport(crate::http::redirect_error(&error))
        } else {
            MatcherError::Transport(error.without_url().to_string())
        }
    }
}
