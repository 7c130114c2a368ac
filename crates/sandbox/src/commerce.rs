//! The Adobe Commerce (Magento 2) emulator: the REST media gallery endpoints of
//! `ProductAttributeMediaGalleryManagementInterface` and the product list (reference §2), behind OAuth 1.0a
//! request signing (HMAC-SHA256, as Magento 2.4.4+ verifies it for integrations), with fault injection.
//!
//! It is as strict as the real API: Magento's error shape and messages, image validation by magic numbers,
//! roles as product attributes, a PUT that replaces the whole entry, file names built and de-duplicated as
//! Magento does. The state machine (products, entries, roles, files) is the plain `Gallery` struct; the
//! axum handlers only parse, lock and answer. Control operations (no auth) are offered both as methods
//! and as HTTP endpoints under `/control`.

mod errors;
mod gallery;
mod oauth;
mod routes;
mod state;
mod store_views;
mod validate;
mod writes;

use crate::aem::ControlError;
use aws_lc_rs::{constant_time, hmac};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use errors::*;
use gallery::*;
use oauth::*;
use routes::*;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use state::*;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use store_views::*;
use validate::*;
use writes::{WriteInFlight, WritesInFlight};

/// The integration's credentials, and whether a plain bearer token is accepted.
#[derive(Clone)]
pub struct CommerceSettings {
    pub consumer_key: String,
    pub consumer_secret: String,
    pub access_token: String,
    pub access_token_secret: String,
    /// Accept `Authorization: Bearer <access_token>` (off by default in Magento 2.4.4+).
    pub allow_bearer: bool,
}

impl std::fmt::Debug for CommerceSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommerceSettings")
            .field("consumer_key", &self.consumer_key)
            .field("consumer_secret", &"***")
            .field("access_token", &"***")
            .field("access_token_secret", &"***")
            .field("allow_bearer", &self.allow_bearer)
            .finish()
    }
}

/// A fault for [`CommerceEmulator::inject`]. Faults wait in a FIFO queue; each API request consumes one
/// count of the first queued fault it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The next `count` API requests (any method) answer `status` (e.g. 429 or 503 or 500) with
    /// `Retry-After: retry_after_secs` when Some. A 404 is a foreign one: a proxy's HTML page, not Magento's
    /// product-not-found (as with a wrong base URL).
    Status {
        status: u16,
        retry_after_secs: Option<u64>,
        count: u32,
    },
    /// The next `count` POST media requests are committed (the entry exists) but the reply is delayed by
    /// `millis` (to let a test kill the client between the POST and its bookkeeping).
    DelayAfterCommit { millis: u64, count: u32 },
}

/// Request counters. `gets`, `posts`, `puts` and `deletes` count API requests that passed faults and
/// authentication (whatever their outcome); writes = posts + puts + deletes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommerceStats {
    pub gets: u64,
    pub posts: u64,
    pub puts: u64,
    pub deletes: u64,
    /// 401 answers given.
    pub unauthorized: u64,
    /// 429 and 503 answers given.
    pub throttled: u64,
    /// API requests that arrived before a previously announced `Retry-After` had elapsed (a well-behaved
    /// client keeps it at 0).
    pub requests_during_retry_after: u64,
    /// The most write requests (POST, PUT, DELETE of media) ever in flight at once on one product, counted
    /// from arrival (before any standing latency) to the reply: one writer per product keeps it at 1.
    pub max_concurrent_writes_per_sku: u64,
    /// Write requests that began while another write on the same product was in flight (see
    /// `commerce/writes.rs`): one writer per product, across every process, keeps it at 0.
    pub overlapping_writes: u64,
}

/// Why a control operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmulatorError {
    #[error("no product {0}")]
    UnknownProduct(String),
    #[error("no entry {0}")]
    UnknownEntry(u64),
}

/// A running Adobe Commerce emulator bound to `127.0.0.1`.
#[derive(Clone)]
pub struct CommerceEmulator {
    shared: Arc<Shared>,
    url: String,
}

impl CommerceEmulator {
    /// Serves the emulator on `127.0.0.1:port` (0 = any free port).
    pub async fn start(settings: CommerceSettings, port: u16) -> Result<Self, ControlError> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .map_err(|e| ControlError::Start(e.to_string()))?;
        let addr = listener
            .local_addr()
            .map_err(|e| ControlError::Start(e.to_string()))?;
        let url = format!("http://{addr}");
        let shared = Arc::new(Shared {
            settings,
            base_url: url.clone(),
            inner: Mutex::new(Inner::new()),
        });
        let app = router(shared.clone());
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "commerce emulator server stopped");
            }
        });
        Ok(Self { shared, url })
    }

    /// The emulator's origin, `http://127.0.0.1:PORT`; the REST API lives under `/rest/{all|default}/V1`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Creates a simple product; true when it is new (idempotent).
    pub fn create_product(&self, sku: &str) -> bool {
        self.shared.lock().gallery.create_product(sku)
    }

    /// Adds an entry as if made by hand in the admin (file `/h/a/handmade_<n>.jpg`); its roles are taken
    /// from other entries like any entry's. Returns its id.
    pub fn add_handmade_entry(
        &self,
        sku: &str,
        label: &str,
        position: i64,
        types: &[&str],
        disabled: bool,
    ) -> Result<u64, EmulatorError> {
        let fields = EntryFields {
            label: Some(label.to_owned()),
            position,
            disabled,
            types: roles_from(types),
            video: None,
        };
        self.shared
            .lock()
            .gallery
            .add_handmade(sku, fields)
            .map_err(|_| EmulatorError::UnknownProduct(sku.to_owned()))
    }

    /// Exactly what `GET .../products/{sku}/media` returns (sorted by position then id); `None` when the
    /// product does not exist.
    pub fn entries(&self, sku: &str) -> Option<Vec<Value>> {
        self.shared.lock().gallery.entries(sku, &Scope::All)
    }

    /// What `GET /rest/{store}/V1/products/{sku}/media` returns: the entries as store view `store` reads them
    /// (its own values over the defaults); `None` when the product or the store view does not exist.
    pub fn entries_in(&self, sku: &str, store: &str) -> Option<Vec<Value>> {
        let inner = self.shared.lock();
        let scope = inner.gallery.store_views.scope(store).ok()?;
        inner.gallery.entries(sku, &scope)
    }

    /// Changes an entry's label and `disabled` in one store view as if by hand in the admin (the view's row
    /// keeps its position).
    pub fn edit_in_store_view_by_hand(
        &self,
        sku: &str,
        entry_id: u64,
        store: &str,
        label: Option<&str>,
        disabled: bool,
    ) -> Result<(), EmulatorError> {
        let mut inner = self.shared.lock();
        let scope =
            inner.gallery.store_views.scope(store).map_err(|_| {
                EmulatorError::UnknownProduct(format!("{sku} (no store view {store})"))
            })?;
        let mut fields = inner
            .gallery
            .products
            .get(&sku_key(sku))
            .and_then(|p| p.entries.get(&entry_id))
            .map(|e| e.fields_in(&scope))
            .ok_or(EmulatorError::UnknownEntry(entry_id))?;
        fields.label = label.map(str::to_owned);
        fields.disabled = disabled;
        inner
            .gallery
            .update(sku, Some(entry_id), fields, &scope)
            .map_err(|_| EmulatorError::UnknownEntry(entry_id))
    }

    /// The store's views (`default` is always one of them), as `POST /control/store-views` sets them.
    pub fn set_store_views(&self, codes: &[&str]) {
        let codes: Vec<String> = codes.iter().map(|c| (*c).to_owned()).collect();
        self.shared.lock().gallery.store_views.set(&codes);
    }

    /// Changes a video entry's `video_url` as if by hand in the admin.
    pub fn set_video_url_by_hand(
        &self,
        sku: &str,
        entry_id: u64,
        url: &str,
    ) -> Result<(), EmulatorError> {
        let mut inner = self.shared.lock();
        let video = inner
            .gallery
            .products
            .get_mut(&sku_key(sku))
            .ok_or_else(|| EmulatorError::UnknownProduct(sku.to_owned()))?
            .entries
            .get_mut(&entry_id)
            .and_then(|entry| entry.fields.video.as_mut())
            .ok_or(EmulatorError::UnknownEntry(entry_id))?;
        video.url = url.to_owned();
        Ok(())
    }

    /// Deletes an entry as if by hand in the admin (its roles are freed).
    pub fn delete_entry_by_hand(&self, sku: &str, entry_id: u64) -> Result<(), EmulatorError> {
        self.shared
            .lock()
            .gallery
            .remove(sku, entry_id)
            .map_err(|missing| match missing {
                Missing::Product => EmulatorError::UnknownProduct(sku.to_owned()),
                Missing::Image => EmulatorError::UnknownEntry(entry_id),
            })
    }

    /// `false` makes every API request answer 401, as if the integration were revoked.
    pub fn set_credentials_valid(&self, valid: bool) {
        self.shared.lock().credentials_valid = valid;
    }

    /// Queues a fault (see [`Fault`]); a fault with count 0 is ignored.
    pub fn inject(&self, fault: Fault) {
        self.shared.lock().inject(fault);
    }

    /// Standing conditions for every API request until changed: added latency, and the share of requests that
    /// answer 500 (0.0 – 1.0). A latency beyond the client's time-out makes every call time out.
    pub fn set_conditions(&self, latency_ms: u64, error_rate: f64) {
        let mut inner = self.shared.lock();
        inner.latency_ms = latency_ms;
        inner.error_rate = error_rate.clamp(0.0, 1.0);
    }

    /// The counters now.
    pub fn stats(&self) -> CommerceStats {
        self.shared.lock().stats
    }

    /// The latest requests as received (method, path), oldest first, whatever their outcome (routed or
    /// not, refused or not); control requests are not logged. At most the last 10,000.
    pub fn requests(&self) -> Vec<(String, String)> {
        self.shared.lock().requests.iter().cloned().collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
