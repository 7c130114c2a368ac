//! The Adobe Commerce (Magento 2) sink: product galleries through the REST media API
//! (`/rest/all/V1/products/{sku}/media[/{entryId}]`), following DESIGN.md's "Commerce writes" rules:
//! exactly the bytes the DAM delivers, deterministic file names so an entry created before a crash is
//! adopted rather than created twice, full-entry PUTs, binary replacement as POST new + DELETE old, only
//! entries assetsync owns are ever touched, 401/403 pause the sink, `Retry-After` is honoured per host.

mod apply;
mod entries;
mod replies;
mod store_views;
mod video;
use replies::{
    is_missing_entry, is_missing_product, magento_message, millis, operation, rejected,
    short_message, transport_error,
};

use crate::hosts::{Admission, HostGates};
use crate::oauth1::{OAuth1Credentials, percent_encode};
use crate::sink::{
    ApplyContext, CallCounts, CommerceSink, LeaseToken, ProductPage, RemoteEntryView, SinkError,
    SinkOutcome, SinkState,
};
use async_trait::async_trait;
use bytes::Bytes;
use domain::{AppliedEntry, Operation, Sku};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod download;

tokio::task_local! {
    /// The lease of the work being applied: every request of an apply checks it first, so a worker that
    /// lost its lease sends nothing more.
    static LEASE: LeaseToken;
}

/// How requests to the store are authenticated.
#[derive(Clone)]
pub enum MagentoAuth {
    /// OAuth 1.0a, HMAC-SHA256 (what Magento 2.4.4+ accepts for integrations by default).
    OAuth1(OAuth1Credentials),
    /// `Authorization: Bearer <access token>`, for stores that allow integration tokens as bearer tokens.
    Bearer(String),
}

impl fmt::Debug for MagentoAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OAuth1(credentials) => f.debug_tuple("OAuth1").field(credentials).finish(),
            Self::Bearer(_) => f.write_str("Bearer(***)"),
        }
    }
}

/// Where the store is and how to reach it.
#[derive(Debug, Clone)]
pub struct MagentoSettings {
    /// The store's base URL, e.g. `https://shop.example.com`.
    pub base_url: String,
    pub auth: MagentoAuth,
    /// Where binaries are fetched from: the DAM's delivery origin (never the custom domain).
    pub delivery_origin: String,
    pub timeout: Duration,
    /// The largest binary downloaded from the DAM for an upload (bytes); a larger one fails its asset.
    pub max_binary_bytes: u64,
}

/// The Magento sink.
pub struct MagentoSink {
    http: reqwest::Client,
    settings: MagentoSettings,
    gates: HostGates,
    paused: Mutex<Option<String>>,
    calls: CallCounts,
    views: Mutex<store_views::KnownViews>,
}

/// A gallery entry as Magento lists it.
#[derive(Debug, Clone, Deserialize)]
struct RemoteEntry {
    id: u64,
    file: Option<String>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    position: Option<i64>,
    #[serde(default)]
    disabled: bool,
    #[serde(default)]
    types: Vec<String>,
    #[serde(default)]
    media_type: Option<String>,
    /// A video's `video_content` (kept as listed, so a hand-made video is written back whole).
    #[serde(default)]
    extension_attributes: Option<Value>,
}

/// Why a step stopped: a sink failure, the product is gone, or the DAM no longer has the binary.
enum Failure {
    Sink(SinkError),
    ProductGone,
    /// The DAM answered 404/410 for the asset's binary: a reason to read the asset again, not a store outage.
    BinaryMissing(String),
}

impl From<SinkError> for Failure {
    fn from(error: SinkError) -> Self {
        Self::Sink(error)
    }
}

struct Reply {
    status: StatusCode,
    body: Bytes,
    retry_after_ms: Option<u64>,
}

impl MagentoSink {
    /// A sink for one store.
    pub fn new(settings: MagentoSettings) -> Result<Self, SinkError> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(64)
            .redirect(crate::http::same_origin_redirects())
            .build()
            .map_err(|e| SinkError::Unavailable {
                message: e.to_string(),
                retry_after_ms: None,
            })?;
        let mut settings = settings;
        settings.base_url = settings.base_url.trim_end_matches('/').to_owned();
        settings.delivery_origin = settings.delivery_origin.trim_end_matches('/').to_owned();
        Ok(Self {
            http,
            settings,
            gates: HostGates::default(),
            paused: Mutex::new(None),
            calls: CallCounts::default(),
            views: Mutex::default(),
        })
    }

    /// Cuts every host's `Retry-After` to `max` (default an hour).
    pub fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.gates = HostGates::new(max);
        self
    }

    fn media_url(&self, sku: &Sku, entry_id: Option<u64>) -> String {
        self.media_url_in("all", sku, entry_id)
    }

    /// The media URL at a store scope (`all`, or a store view's code).
    fn media_url_in(&self, scope: &str, sku: &Sku, entry_id: Option<u64>) -> String {
        let base = format!(
            "{}/rest/{scope}/V1/products/{}/media",
            self.settings.base_url,
            percent_encode(sku.as_str())
        );
        match entry_id {
            Some(id) => format!("{base}/{id}"),
            None => base,
        }
    }

    /// Sends one request, honouring the host's `Retry-After` and mapping the statuses that are about the
    /// whole store (credentials, availability). 404 and 400 are left to the caller.
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        signed: bool,
    ) -> Result<Reply, SinkError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| SinkError::Rejected(format!("invalid URL {url}: {e}")))?;
        let host = format!(
            "{}:{}",
            parsed.host_str().unwrap_or_default(),
            parsed.port_or_known_default().unwrap_or(0)
        );
        if let Ok(Err(lost)) = LEASE.try_with(LeaseToken::check) {
            return Err(lost);
        }
        let probe = match self.gates.admit(&host) {
            Admission::Go { probe } => probe,
            Admission::Wait(left) => {
                return Err(SinkError::HostGated {
                    host,
                    retry_after_ms: millis(left),
                });
            }
        };
        let reply = self.transmit(&method, &parsed, body, signed).await;
        self.calls.count((
            operation(&method, signed, parsed.path()),
            reply.as_ref().map_or(0, |r| r.status.as_u16()),
        ));
        let throttle = match &reply {
            Ok(r) if matches!(r.status.as_u16(), 429 | 503) => {
                r.retry_after_ms.map(Duration::from_millis)
            }
            _ => None,
        };
        self.gates.finish(&host, probe, throttle);
        let reply = reply?;
        let status = reply.status;
        let context = || {
            format!(
                "{method} {} answered {status}: {}",
                parsed.path(),
                magento_message(&reply.body)
            )
        };
        match status.as_u16() {
            401 | 403 if signed => {
                *self.paused.lock().unwrap_or_else(PoisonError::into_inner) = Some(context());
                Err(SinkError::Unauthorized(status.as_u16()))
            }
            408 | 409 | 429 | 500..=599 => Err(SinkError::Unavailable {
                message: context(),
                retry_after_ms: reply.retry_after_ms,
            }),
            _ => Ok(reply),
        }
    }

    /// The request on the wire: signing, sending, reading the reply.
    async fn transmit(
        &self,
        method: &Method,
        url: &reqwest::Url,
        body: Option<&Value>,
        signed: bool,
    ) -> Result<Reply, SinkError> {
        let mut request = self.http.request(method.clone(), url.clone());
        if signed {
            request = match &self.settings.auth {
                MagentoAuth::OAuth1(credentials) => {
                    let nonce: String = (0..32).map(|_| fastrand::alphanumeric()).collect();
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    request.header(
                        "Authorization",
                        credentials.authorization(method.as_str(), url, now, &nonce),
                    )
                }
                MagentoAuth::Bearer(token) => request.bearer_auth(token),
            };
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let unavailable = |e: reqwest::Error| SinkError::Unavailable {
            message: format!("{method} {}: {}", url.path(), transport_error(&e)),
            retry_after_ms: None,
        };
        let reply = request.send().await.map_err(unavailable)?;
        let status = reply.status();
        let retry_after_ms = crate::aem::retry_after_ms(reply.headers());
        let body = reply.bytes().await.map_err(unavailable)?;
        Ok(Reply {
            status,
            body,
            retry_after_ms,
        })
    }

    /// The product's gallery; `ProductGone` when the product does not exist.
    async fn list(&self, sku: &Sku) -> Result<Vec<RemoteEntry>, Failure> {
        self.list_in("all", sku).await
    }

    /// The product's gallery as read at `scope`.
    async fn list_in(&self, scope: &str, sku: &Sku) -> Result<Vec<RemoteEntry>, Failure> {
        let reply = self
            .send(
                Method::GET,
                &self.media_url_in(scope, sku, None),
                None,
                true,
            )
            .await?;
        match reply.status {
            StatusCode::NOT_FOUND => Err(self.not_found("GET", sku, &reply.body)),
            s if s.is_success() => serde_json::from_slice(&reply.body).map_err(|e| {
                Failure::Sink(SinkError::Unavailable {
                    message: format!("unreadable media list: {e}"),
                    retry_after_ms: None,
                })
            }),
            s => Err(rejected(s, &reply.body)),
        }
    }

    /// The product's gallery at `scope` as the verification compares it.
    async fn remote_gallery_at(
        &self,
        scope: &str,
        sku: &Sku,
    ) -> Result<Option<Vec<RemoteEntryView>>, SinkError> {
        match self.list_in(scope, sku).await {
            Ok(entries) => Ok(Some(
                entries
                    .into_iter()
                    .map(|e| RemoteEntryView {
                        id: e.id.to_string(),
                        video_url: video::listed_video_url(e.extension_attributes.as_ref()),
                        media_type: e.media_type.unwrap_or_else(|| "image".into()),
                        file: e.file,
                        label: e.label,
                        position: e.position,
                        disabled: e.disabled,
                        roles: e.types,
                    })
                    .collect(),
            )),
            Err(Failure::ProductGone) => Ok(None),
            Err(Failure::Sink(error)) => Err(error),
            Err(Failure::BinaryMissing(message)) => Err(SinkError::Unavailable {
                message,
                retry_after_ms: None,
            }),
        }
    }

    /// A 404 that is not about a missing entry. Only Magento's product-not-found reply means the product is
    /// gone; any other (a wrong base URL, a proxy's page) pauses the sink with the reason and wipes nothing.
    fn not_found(&self, method: &str, sku: &Sku, body: &[u8]) -> Failure {
        if is_missing_product(body) {
            return Failure::ProductGone;
        }
        let reason = format!(
            "{method} of the media of {sku} answered 404 without Magento's product-not-found message \
             ({:?}): check [commerce] base_url",
            short_message(body)
        );
        tracing::warn!(%reason, "commerce sink paused");
        *self.paused.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason.clone());
        Failure::Sink(SinkError::Paused(reason))
    }
}

#[async_trait]
impl CommerceSink for MagentoSink {
    fn kind(&self) -> &'static str {
        "adobe-commerce"
    }

    /// Magento's SKU column has a case-insensitive collation: `ABC` and `abc` are one product.
    fn sku_case_insensitive(&self) -> bool {
        true
    }

    async fn apply(
        &self,
        sku: &Sku,
        context: &ApplyContext<'_>,
        applied: &[AppliedEntry],
        ops: &[Operation],
    ) -> Result<SinkOutcome, SinkError> {
        if ops.is_empty() && !context.retried {
            return Ok(SinkOutcome::Applied(applied.to_vec()));
        }
        if let SinkState::Paused(reason) = self.state() {
            return Err(SinkError::Unavailable {
                message: format!("sink paused: {reason}"),
                retry_after_ms: None,
            });
        }
        let applying = self.apply_ops(sku, context, applied, ops);
        match LEASE.scope(context.lease.clone(), applying).await {
            Ok(outcome) => Ok(outcome),
            Err(Failure::ProductGone) => Ok(SinkOutcome::ProductMissing),
            Err(Failure::Sink(error)) => Err(error),
            Err(Failure::BinaryMissing(message)) => Err(SinkError::Unavailable {
                message,
                retry_after_ms: None,
            }),
        }
    }

    fn state(&self) -> SinkState {
        match self
            .paused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            Some(reason) => SinkState::Paused(reason),
            None => SinkState::Ready,
        }
    }

    async fn list_products(
        &self,
        page: u32,
        page_size: u32,
    ) -> Result<Option<ProductPage>, SinkError> {
        let url = format!(
            "{}/rest/all/V1/products?searchCriteria[pageSize]={page_size}&searchCriteria[currentPage]={page}\
             &searchCriteria[sortOrders][0][field]=entity_id&searchCriteria[sortOrders][0][direction]=ASC",
            self.settings.base_url
        );
        let reply = self.send(Method::GET, &url, None, true).await?;
        if !reply.status.is_success() {
            return Err(SinkError::Rejected(format!(
                "product list: HTTP {}: {}",
                reply.status,
                magento_message(&reply.body)
            )));
        }
        let value: Value =
            serde_json::from_slice(&reply.body).map_err(|e| SinkError::Unavailable {
                message: format!("unreadable product list: {e}"),
                retry_after_ms: None,
            })?;
        let skus = value["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item["sku"].as_str())
                    .filter_map(|s| Sku::parse(s).ok())
                    .collect()
            })
            .unwrap_or_default();
        Ok(Some(ProductPage {
            skus,
            total: value["total_count"].as_u64().unwrap_or(0),
        }))
    }

    async fn remote_gallery(&self, sku: &Sku) -> Result<Option<Vec<RemoteEntryView>>, SinkError> {
        self.remote_gallery_at("all", sku).await
    }

    async fn remote_gallery_in(
        &self,
        sku: &Sku,
        store: &domain::StoreView,
    ) -> Result<Option<Vec<RemoteEntryView>>, SinkError> {
        let wanted = std::collections::BTreeSet::from([store.clone()]);
        match self.known_views(&wanted).await {
            Ok(known) if known.contains(store) => self.remote_gallery_at(store.as_str(), sku).await,
            Ok(_) => Ok(None),
            Err(Failure::Sink(error)) => Err(error),
            Err(_) => Ok(None),
        }
    }
    async fn probe(&self) -> SinkState {
        let url = format!(
            "{}/rest/all/V1/products?searchCriteria[pageSize]=1",
            self.settings.base_url
        );
        *self.paused.lock().unwrap_or_else(PoisonError::into_inner) = None;
        match self.send(Method::GET, &url, None, true).await {
            Ok(reply) if reply.status.is_success() => {
                tracing::info!("commerce credentials work again; sink resumed")
            }
            Ok(reply) => {
                let reason = format!(
                    "the probe GET /rest/all/V1/products answered {} ({:?}): check [commerce] base_url",
                    reply.status,
                    short_message(&reply.body)
                );
                tracing::warn!(%reason, "commerce probe answered unexpectedly; the sink stays paused");
                *self.paused.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason);
            }
            Err(error) => tracing::warn!(%error, "commerce probe failed"),
        }
        self.state()
    }

    fn calls(&self) -> Vec<((&'static str, u16), u64)> {
        self.calls.snapshot()
    }
}
