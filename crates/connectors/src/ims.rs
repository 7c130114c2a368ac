//! Adobe IMS server-to-server (OAuth client credentials) access tokens, or a static token.
//!
//! `POST <token_url>` (IMS v3, form-encoded `grant_type=client_credentials&client_id&client_secret&scope`)
//! answers `{"access_token", "token_type": "bearer", "expires_in": <seconds>}`. A minted token is cached
//! until shortly before it expires; many concurrent callers share one mint (single flight).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Adobe's IMS token endpoint (v3).
pub const DEFAULT_IMS_TOKEN_URL: &str = "https://ims-na1.adobelogin.com/ims/token/v3";

/// A token is renewed this long before it expires (or at 10 % of its lifetime left, if shorter).
const RENEW_MARGIN: Duration = Duration::from_secs(60);

/// The range a token lifetime (`expires_in`) from IMS is clamped to: IMS tokens live 24 hours; a longer,
/// negative or absurd value is not trusted (and cannot overflow a clock).
const MIN_LIFETIME_SECS: f64 = 1.0;
const MAX_LIFETIME_SECS: f64 = 24.0 * 3600.0;

/// The credentials of an IMS server-to-server (OAuth client credentials) integration.
#[derive(Clone)]
pub struct ImsCredentials {
    /// The IMS token endpoint, e.g. [`DEFAULT_IMS_TOKEN_URL`].
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    /// The IMS organization (`…@AdobeOrg`), sent to services as `x-gw-ims-org-id`.
    pub org_id: Option<String>,
    /// Scopes asked for, sent comma-separated.
    pub scopes: Vec<String>,
}

impl fmt::Debug for ImsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImsCredentials")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("org_id", &self.org_id)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// A token could not be had. Never carries the secret or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// IMS refused the client credentials (`invalid_client`, `invalid_scope`, …).
    #[error("IMS refused the credentials of client {client_id} (HTTP {status}: {error})")]
    Refused {
        client_id: String,
        status: u16,
        error: String,
    },
    /// IMS could not be reached or answered with a server error; try again later.
    #[error("IMS is unavailable: {0}")]
    Unavailable(String),
    /// IMS answered something that is not a token.
    #[error("IMS's reply is malformed: {0}")]
    Malformed(String),
    /// A static token was rejected; there is nothing to refresh it with.
    #[error("the configured access token was refused and cannot be refreshed")]
    StaticTokenRejected,
    /// The token endpoint is not https (nor on this machine): the secret is not sent there.
    #[error("{0}")]
    InsecureUrl(String),
}

/// Where bearer tokens come from: a static token, or IMS client credentials (cached, single-flight).
#[derive(Clone)]
pub struct TokenProvider {
    inner: Arc<Source>,
}

enum Source {
    Static(String),
    Ims(Box<ImsSource>),
}

struct ImsSource {
    http: reqwest::Client,
    credentials: ImsCredentials,
    /// The cached token; the lock is held across a mint, so concurrent callers wait for the one mint.
    cached: Mutex<Cache>,
}

/// The last token, and the last failed mint (shared for a moment by the callers that waited for it).
#[derive(Default)]
struct Cache {
    token: Option<CachedToken>,
    failure: Option<(Instant, TokenError)>,
}

struct CachedToken {
    token: String,
    renew_at: Instant,
    expires_at: Instant,
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            Source::Static(_) => f.write_str("TokenProvider::Static(***)"),
            Source::Ims(ims) => f
                .debug_struct("TokenProvider::Ims")
                .field("credentials", &ims.credentials)
                .finish_non_exhaustive(),
        }
    }
}

impl TokenProvider {
    /// A provider that always answers `token` (it cannot be refreshed).
    pub fn static_token(token: &str) -> Self {
        Self {
            inner: Arc::new(Source::Static(token.to_owned())),
        }
    }

    /// A provider that mints tokens from IMS with `credentials`; `timeout` bounds each IMS request.
    pub fn client_credentials(
        credentials: ImsCredentials,
        timeout: Duration,
    ) -> Result<Self, TokenError> {
        if !crate::http::credentials_allowed_at(&credentials.token_url) {
            return Err(TokenError::InsecureUrl(crate::http::insecure_url_message(
                "the IMS token URL",
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(crate::http::same_origin_redirects())
            .build()
            .map_err(|e| TokenError::Unavailable(e.without_url().to_string()))?;
        Ok(Self {
            inner: Arc::new(Source::Ims(Box::new(ImsSource {
                http,
                credentials,
                cached: Mutex::new(Cache::default()),
            }))),
        })
    }

    /// The IMS client id, when tokens come from client credentials (sent as `X-Api-Key`).
    pub fn client_id(&self) -> Option<&str> {
        match &*self.inner {
            Source::Static(_) => None,
            Source::Ims(ims) => Some(&ims.credentials.client_id),
        }
    }

    /// The IMS organization, when configured (sent as `x-gw-ims-org-id`).
    pub fn org_id(&self) -> Option<&str> {
        match &*self.inner {
            Source::Static(_) => None,
            Source::Ims(ims) => ims.credentials.org_id.as_deref(),
        }
    }

    /// A valid token: the cached one, or a new one when it is (nearly) expired. Concurrent callers share
    /// one IMS request.
    pub async fn token(&self) -> Result<String, TokenError> {
        match &*self.inner {
            Source::Static(token) => Ok(token.clone()),
            Source::Ims(ims) => {
                let mut cache = ims.cached.lock().await;
                if let Some(current) = &cache.token
                    && Instant::now() < current.renew_at
                {
                    return Ok(current.token.clone());
                }
                ims.mint_into(&mut cache).await
            }
        }
    }

    /// A token after the server refused `rejected`: if the cached token is still `rejected`, one new token
    /// is minted (concurrent callers that saw the same refusal share it); otherwise the newer cached one.
    pub async fn refresh_after_rejection(&self, rejected: &str) -> Result<String, TokenError> {
        match &*self.inner {
            Source::Static(_) => Err(TokenError::StaticTokenRejected),
            Source::Ims(ims) => {
                let mut cache = ims.cached.lock().await;
                if let Some(current) = &cache.token
                    && current.token != rejected
                    && Instant::now() < current.renew_at
                {
                    return Ok(current.token.clone());
                }
                if cache
                    .token
                    .as_ref()
                    .is_some_and(|current| current.token == rejected)
                {
                    cache.token = None;
                    cache.failure = None;
                }
                ims.mint_into(&mut cache).await
            }
        }
    }
}

/// A failed mint is answered to the callers that waited for it for this long, instead of each asking again.
const FAILURE_SHARED_FOR: Duration = Duration::from_secs(1);

impl ImsSource {
    /// Mints a token into `cache` (the caller holds its lock), or repeats a failure that just happened.
    /// While IMS is unavailable, a token that has not expired yet is still answered.
    async fn mint_into(&self, cache: &mut Cache) -> Result<String, TokenError> {
        let recent_failure = cache
            .failure
            .as_ref()
            .filter(|(at, _)| at.elapsed() < FAILURE_SHARED_FOR)
            .map(|(_, error)| error.clone());
        let error = match recent_failure {
            Some(error) => error,
            None => match self.mint().await {
                Ok(fresh) => {
                    let token = fresh.token.clone();
                    cache.token = Some(fresh);
                    cache.failure = None;
                    return Ok(token);
                }
                Err(error) => {
                    cache.failure = Some((Instant::now(), error.clone()));
                    error
                }
            },
        };
        match &cache.token {
            Some(current)
                if matches!(error, TokenError::Unavailable(_))
                    && Instant::now() < current.expires_at =>
            {
                tracing::warn!(%error, "IMS unavailable; the current token is used until it expires");
                Ok(current.token.clone())
            }
            _ => Err(error),
        }
    }

    /// One `POST <token_url>` with the client credentials.
    async fn mint(&self) -> Result<CachedToken, TokenError> {
        let credentials = &self.credentials;
        let scope = credentials.scopes.join(",");
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", credentials.client_id.as_str()),
            ("client_secret", credentials.client_secret.as_str()),
        ];
        if !scope.is_empty() {
            form.push(("scope", scope.as_str()));
        }
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", crate::oauth1::percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let started = Instant::now();
        let reply = self
            .http
            .post(&credentials.token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| TokenError::Unavailable(crate::aem::without_url(e)))?;
        let status = reply.status().as_u16();
        let value: serde_json::Value = match reply.bytes().await {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
            Err(e) => return Err(TokenError::Unavailable(e.without_url().to_string())),
        };
        match status {
            200 => {}
            400..=499 if status != 408 && status != 429 => {
                let error = value["error"]
                    .as_str()
                    .unwrap_or("refused")
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .take(60)
                    .collect();
                return Err(TokenError::Refused {
                    client_id: credentials.client_id.clone(),
                    status,
                    error,
                });
            }
            _ => return Err(TokenError::Unavailable(format!("HTTP {status}"))),
        }
        let token = value["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| TokenError::Malformed("no access_token".into()))?;
        let expires_in = value["expires_in"]
            .as_f64()
            .or_else(|| value["expires_in"].as_str()?.trim().parse().ok())
            .filter(|secs: &f64| !secs.is_nan())
            .ok_or_else(|| TokenError::Malformed("no expires_in".into()))?;
        let lifetime = token_lifetime(expires_in);
        if lifetime.as_secs_f64() != expires_in {
            tracing::warn!(
                client_id = %credentials.client_id,
                expires_in,
                used_secs = lifetime.as_secs(),
                "IMS gave a token lifetime out of range; clamped"
            );
        }
        let margin = RENEW_MARGIN.min(lifetime / 10);
        tracing::info!(
            client_id = %credentials.client_id,
            expires_in = lifetime.as_secs(),
            "minted an IMS access token"
        );
        Ok(CachedToken {
            token: token.to_owned(),
            renew_at: started + lifetime.saturating_sub(margin),
            expires_at: started + lifetime,
        })
    }
}

/// A lifetime from IMS's `expires_in` (seconds, any number), clamped to 1 s … 24 h.
fn token_lifetime(expires_in: f64) -> Duration {
    Duration::from_secs_f64(expires_in.clamp(MIN_LIFETIME_SECS, MAX_LIFETIME_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-route IMS on 127.0.0.1 answering every request with a new token living `expires_in` seconds
    /// (or `status` with an `invalid_client` body); returns its token URL and the request count.
    async fn fake_ims(status: u16, expires_in: u64) -> (String, Arc<AtomicU64>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| unreachable!("{e}"));
        let url = format!(
            "http://{}/ims/token/v3",
            listener
                .local_addr()
                .unwrap_or_else(|e| unreachable!("{e}"))
        );
        let requests = Arc::new(AtomicU64::new(0));
        let counter = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buffer = vec![0; 4096];
                    let _ = socket.read(&mut buffer).await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let body = if status == 200 {
                        format!(
                            r#"{{"access_token":"tok-{n}","token_type":"bearer","expires_in":{expires_in}}}"#
                        )
                    } else {
                        r#"{"error":"invalid_client","error_description":"bad very-secret"}"#
                            .to_owned()
                    };
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(reply.as_bytes()).await;
                });
            }
        });
        (url, requests)
    }

    fn provider(token_url: String) -> TokenProvider {
        TokenProvider::client_credentials(
            ImsCredentials {
                token_url,
                client_id: "client-1".into(),
                client_secret: "very-secret".into(),
                org_id: None,
                scopes: vec!["openid".into()],
            },
            Duration::from_secs(5),
        )
        .unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[tokio::test]
    async fn fifty_concurrent_callers_share_one_mint_and_a_rejection_mints_once_more() {
        let (url, requests) = fake_ims(200, 3600).await;
        let tokens = provider(url);
        let callers: Vec<_> = (0..50)
            .map(|_| {
                let tokens = tokens.clone();
                tokio::spawn(async move { tokens.token().await })
            })
            .collect();
        for caller in callers {
            assert_eq!(
                caller.await.ok().and_then(Result::ok).as_deref(),
                Some("tok-0")
            );
        }
        assert_eq!(requests.load(Ordering::SeqCst), 1);

        let refreshers: Vec<_> = (0..20)
            .map(|_| {
                let tokens = tokens.clone();
                tokio::spawn(async move { tokens.refresh_after_rejection("tok-0").await })
            })
            .collect();
        for refresher in refreshers {
            assert_eq!(
                refresher.await.ok().and_then(Result::ok).as_deref(),
                Some("tok-1")
            );
        }
        assert_eq!(requests.load(Ordering::SeqCst), 2, "one refresh for all");
        assert_eq!(tokens.token().await.ok().as_deref(), Some("tok-1"));
    }

    #[tokio::test]
    async fn a_token_near_its_expiry_is_minted_again() {
        let (url, requests) = fake_ims(200, 1).await;
        let tokens = provider(url);
        assert_eq!(tokens.token().await.ok().as_deref(), Some("tok-0"));
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        assert_eq!(tokens.token().await.ok().as_deref(), Some("tok-1"));
        assert_eq!(requests.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_refused_client_is_an_error_without_the_secret() {
        let (url, _) = fake_ims(401, 0).await;
        let error = provider(url).token().await.err().map(|e| e.to_string());
        let text = error.unwrap_or_default();
        assert!(
            text.contains("IMS refused the credentials of client client-1"),
            "{text}"
        );
        assert!(text.contains("invalid_client"), "{text}");
        assert!(!text.contains("very-secret"), "{text}");
    }

    #[test]
    fn debug_hides_the_secret() {
        let provider = TokenProvider::client_credentials(
            ImsCredentials {
                token_url: "http://127.0.0.1:1/ims/token/v3".into(),
                client_id: "client-1".into(),
                client_secret: "very-secret".into(),
                org_id: None,
                scopes: vec!["openid".into()],
            },
            Duration::from_secs(1),
        );
        let text = format!("{provider:?}");
        assert!(text.contains("client-1"));
        assert!(!text.contains("very-secret"));
        assert!(!format!("{:?}", TokenProvider::static_token("tok-123")).contains("tok-123"));
    }
}
