//! The AEM Assets emulator: the Author API metadata endpoint and search (reference §10.5, §10.6), delivery
//! renditions (§8.1), and Adobe I/O Events deliveries of asset events (§10.1–§10.2), signed with keys it
//! generates and publishes on an emulated I/O Events key host (`GET /prod/keys/<name>.pem`), and an emulated
//! IMS token endpoint (`POST /ims/token/v3`, see [`crate::ims`]). Control operations (create, update, approve,
//! reject, delete, rotate keys) are offered both as methods and as HTTP endpoints under `/control`.

mod author;
mod control;
mod renditions;
mod search;
mod shared;
#[cfg(test)]
mod tests;

use author::{get_metadata, journal};
use control::{
    control_action, control_create, control_delete, control_deliveries, control_rotate_keys,
    control_subscribe, control_update, ims_token, public_key,
};
#[cfg(test)]
pub(crate) use renditions::crc32;
pub(crate) use renditions::{PIXEL_PNG, crc32_update};
use renditions::{original, rendition};

use crate::SigningKeys;
use crate::delivery::{self, Delivery, DeliveryStats};
use crate::ims::{ImsState, TokenCheck};
use crate::key_host::KeyHostState;
use crate::keys::KeyRing;
use crate::originals::OriginalBody;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// How the emulator presents itself.
#[derive(Clone)]
pub struct AemSettings {
    pub program_id: String,
    pub environment_id: String,
    /// A static bearer token the Author API accepts (besides live tokens minted by the IMS endpoint).
    pub access_token: String,
    /// Written into every event as `recipient_client_id`.
    pub recipient_client_id: String,
}

impl std::fmt::Debug for AemSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AemSettings")
            .field("program_id", &self.program_id)
            .field("environment_id", &self.environment_id)
            .field("access_token", &"***")
            .field("recipient_client_id", &self.recipient_client_id)
            .finish()
    }
}

/// Why a control operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("no asset {0}")]
    UnknownAsset(String),
    #[error("webhook {url} did not echo the challenge: {reason}")]
    Handshake { url: String, reason: String },
    #[error("emulator could not start: {0}")]
    Start(String),
    #[error("new signing keys could not be generated: {0}")]
    Keys(String),
}

/// A new asset for [`AemEmulator::create_asset`].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewAsset {
    /// Chosen id (`urn:aaid:aem:<uuid>`); a random one when absent.
    #[serde(rename = "assetId")]
    pub asset_id: Option<String>,
    /// File name; `<uuid>.jpg` when absent.
    pub name: Option<String>,
    /// `dc:format`; `image/jpeg` when absent.
    pub format: Option<String>,
    /// Initial `assetMetadata` (commerce fields, `dam:status`, `dc:title`, ...).
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// The asset never carries `dam:sha1` (as for binaries AEM has not hashed): its content is identified
    /// by `repo:version` alone.
    #[serde(default, rename = "withoutSha1")]
    pub without_sha1: bool,
}

struct Asset {
    repository: Map<String, Value>,
    metadata: Map<String, Value>,
    version: u64,
    /// Bumped by each new binary (upload of a new version).
    binary_version: u64,
    /// No `dam:sha1` is published ([`NewAsset::without_sha1`]).
    without_sha1: bool,
}

struct Inner {
    assets: BTreeMap<String, Asset>,
    webhooks: Vec<String>,
    last_modify_ms: i64,
    /// Every event emitted, in order: the I/O Events journal (reference §10.4). Lost deliveries are here too.
    journal: Vec<serde_json::Value>,
    /// Statuses the next metadata reads answer instead of the asset (fault injection), in order.
    metadata_faults: std::collections::VecDeque<u16>,
    /// Standing statuses of every read of one asset (403 after an ACL change, ...), until cleared.
    asset_read_statuses: std::collections::HashMap<String, u16>,
    /// Every asset answers 404, as an environment that does not hold them would.
    hide_all_assets: bool,
    /// When set, the journal's `next` links point to this origin instead of the emulator's own.
    journal_next_origin: Option<String>,
    /// Journal pages served (with a token that was accepted).
    journal_reads: u64,
    /// Metadata reads answered (with a token that was accepted), by asset id, whatever the answer.
    metadata_reads: BTreeMap<String, u64>,
    /// Requests for each asset's original (`/original/as/...`), by asset id.
    original_reads: BTreeMap<String, u64>,
    /// Originals served instead of the usual rendition, by asset id ([`AemEmulator::serve_original`]).
    originals: BTreeMap<String, OriginalBody>,
}

struct Shared {
    settings: AemSettings,
    inner: Mutex<Inner>,
    deliveries: mpsc::UnboundedSender<Delivery>,
    stats: Arc<DeliveryStats>,
    keys: Arc<KeyRing>,
    ims: ImsState,
    /// The I/O Events key host.
    key_host: KeyHostState,
    /// While true, events are lost instead of delivered (an I/O Events outage).
    muted: std::sync::atomic::AtomicBool,
    /// While true, changes emit no event at all: neither delivered nor journaled (the benchmark sends its own).
    quiet: std::sync::atomic::AtomicBool,
    /// Body bytes of [`OriginalBody`] replies handed to connections.
    original_bytes: Arc<std::sync::atomic::AtomicU64>,
}

/// Whether a bearer token is accepted.
pub type TokenVerifier = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// A running AEM emulator bound to `127.0.0.1`.
#[derive(Clone)]
pub struct AemEmulator {
    shared: Arc<Shared>,
    url: String,
}

/// Delivery counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub queued: u64,
    pub delivered: u64,
    pub failed_attempts: u64,
    /// Attempts the webhook refused with a 4xx (a signature it could not verify, ...).
    pub refused: u64,
    pub gave_up: u64,
}

impl DeliveryCounts {
    /// Deliveries neither delivered nor given up yet.
    pub fn in_flight(&self) -> u64 {
        self.queued.saturating_sub(self.delivered + self.gave_up)
    }
}

impl AemEmulator {
    /// Generates signing keys and serves the emulator on `127.0.0.1:port` (0 = any free port).
    pub async fn start(settings: AemSettings, port: u16) -> Result<Self, ControlError> {
        let keys = Arc::new(KeyRing::new(
            SigningKeys::generate().map_err(|e| ControlError::Start(e.to_string()))?,
        ));
        let stats = Arc::new(DeliveryStats::default());
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(delivery::run(rx, keys.clone(), stats.clone()));
        let shared = Arc::new(Shared {
            settings,
            inner: Mutex::new(Inner {
                assets: BTreeMap::new(),
                webhooks: Vec::new(),
                last_modify_ms: 0,
                journal: Vec::new(),
                metadata_faults: std::collections::VecDeque::new(),
                asset_read_statuses: std::collections::HashMap::new(),
                hide_all_assets: false,
                journal_next_origin: None,
                journal_reads: 0,
                metadata_reads: BTreeMap::new(),
                original_reads: BTreeMap::new(),
                originals: BTreeMap::new(),
            }),
            deliveries: tx,
            stats,
            keys,
            ims: ImsState::default(),
            key_host: KeyHostState::default(),
            muted: std::sync::atomic::AtomicBool::new(false),
            quiet: std::sync::atomic::AtomicBool::new(false),
            original_bytes: Arc::default(),
        });
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .map_err(|e| ControlError::Start(e.to_string()))?;
        let addr = listener
            .local_addr()
            .map_err(|e| ControlError::Start(e.to_string()))?;
        let app = router(shared.clone());
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "emulator server stopped");
            }
        });
        Ok(Self {
            shared,
            url: format!("http://{addr}"),
        })
    }

    /// The emulator's origin, serving both the author and the delivery endpoints.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The current signing keys (their public halves go into assetsync's configuration, or are fetched
    /// from the key host at the paths deliveries name).
    pub fn keys(&self) -> Arc<SigningKeys> {
        self.shared.keys.current()
    }

    /// Replaces both signing key pairs with new ones under new key-host paths; the old paths then answer
    /// 404. Deliveries from now on are signed with the new keys.
    pub fn rotate_keys(&self) -> Result<(), ControlError> {
        self.shared
            .keys
            .rotate()
            .map(drop)
            .map_err(|e| ControlError::Keys(e.to_string()))
    }

    /// While `down` is true, the key host answers 503.
    pub fn set_key_host_down(&self, down: bool) {
        self.shared.key_host.set_down(down);
    }

    /// Public keys the key host has served.
    pub fn key_fetches(&self) -> u64 {
        self.shared.key_host.served()
    }

    /// While `hold` is true, key-host requests for paths that hold no key wait until released (a slow key
    /// host); then they are answered 404.
    pub fn hold_unknown_key_paths(&self, hold: bool) {
        self.shared.key_host.hold_unknown(hold);
    }

    /// Key-host requests waiting on [`Self::hold_unknown_key_paths`] now.
    pub fn held_key_requests(&self) -> u64 {
        self.shared.key_host.held()
    }

    /// Key-host requests for `path` (`/prod/keys/….pem`) so far, whatever their answer.
    pub fn key_requests(&self, path: &str) -> u64 {
        self.shared.key_host.requests(path)
    }

    /// Key-host requests so far, for any path.
    pub fn all_key_requests(&self) -> u64 {
        self.shared.key_host.total_requests()
    }

    /// Lets IMS mint tokens for this OAuth server-to-server client.
    pub fn register_ims_client(&self, client_id: &str, client_secret: &str) {
        self.shared.ims.register(client_id, client_secret);
    }

    /// The `expires_in` of tokens minted from now on (default one day).
    pub fn set_token_lifetime(&self, seconds: u64) {
        self.shared.ims.set_lifetime(seconds);
    }

    /// IMS replies state this `expires_in` (any JSON value, e.g. `1e30` or `-5`) from now on, while the
    /// tokens really live the configured lifetime; `None` states the real lifetime again.
    pub fn state_token_expires_in(&self, value: Option<Value>) {
        self.shared.ims.state_expires_in(value);
    }

    /// Tokens IMS has minted.
    pub fn ims_mints(&self) -> u64 {
        self.shared.ims.mints()
    }

    /// Every token minted so far is refused from now on (401), as after a revocation.
    pub fn revoke_ims_tokens(&self) {
        self.shared.ims.revoke_all();
    }

    /// A check of bearer tokens against this IMS (true for live minted tokens), for services such as the
    /// reference matcher that accept IMS tokens.
    pub fn ims_token_check(&self) -> TokenVerifier {
        let shared = self.shared.clone();
        Arc::new(move |token| matches!(shared.ims.check(token), TokenCheck::Live { .. }))
    }

    /// The journal's `rel="next"` links point to `origin` (e.g. another server) from now on; `None`: its own.
    pub fn set_journal_next_origin(&self, origin: Option<&str>) {
        self.shared.lock().journal_next_origin = origin.map(str::to_owned);
    }

    /// Journal pages served so far.
    pub fn journal_reads(&self) -> u64 {
        self.shared.lock().journal_reads
    }

    /// Metadata reads of `asset_id` answered so far (with a token that was accepted), whatever the answer.
    /// How many times the asset's original was requested (a video's never is by a commerce sink).
    pub fn original_reads(&self, asset_id: &str) -> u64 {
        self.shared
            .lock()
            .original_reads
            .get(asset_id)
            .copied()
            .unwrap_or(0)
    }

    pub fn metadata_reads(&self, asset_id: &str) -> u64 {
        self.shared
            .lock()
            .metadata_reads
            .get(asset_id)
            .copied()
            .unwrap_or(0)
    }

    /// Registers a webhook as I/O Events does: `GET url?challenge=X` must answer X.
    pub async fn subscribe(&self, url: &str) -> Result<(), ControlError> {
        let challenge = random_uuid();
        let handshake = |reason: String| ControlError::Handshake {
            url: url.to_owned(),
            reason,
        };
        let reply = reqwest::Client::new()
            .get(url)
            .query(&[("challenge", &challenge)])
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| handshake(e.to_string()))?;
        let status = reply.status();
        let body = reply.text().await.map_err(|e| handshake(e.to_string()))?;
        if !status.is_success() || body.trim() != challenge {
            return Err(handshake(format!("HTTP {status}, body {body:.80}")));
        }
        self.shared.lock().webhooks.push(url.to_owned());
        Ok(())
    }

    /// Creates an asset (an upload that finished processing) and emits `aem.assets.asset.processing_completed`.
    pub fn create_asset(&self, new: NewAsset) -> Result<String, ControlError> {
        self.shared.create_asset(new)
    }

    /// Merges `fields` into the asset's metadata (`null` removes a field) and emits `metadata_updated`.
    pub fn update_metadata(
        &self,
        asset_id: &str,
        fields: Map<String, Value>,
    ) -> Result<(), ControlError> {
        self.shared.update(asset_id, fields)
    }

    /// Sets `dam:status` to `approved`.
    pub fn approve(&self, asset_id: &str) -> Result<(), ControlError> {
        self.shared.update(asset_id, status_fields("approved"))
    }

    /// Sets `dam:status` to `rejected`.
    pub fn reject(&self, asset_id: &str) -> Result<(), ControlError> {
        self.shared.update(asset_id, status_fields("rejected"))
    }

    /// Uploads a new binary version (new `dam:sha1`) and emits `aem.assets.asset.processing_completed`.
    pub fn new_version(&self, asset_id: &str) -> Result<(), ControlError> {
        self.shared.new_version(asset_id)
    }

    /// Deletes the asset and emits `aem.assets.asset.deleted`.
    pub fn delete_asset(&self, asset_id: &str) -> Result<(), ControlError> {
        self.shared.delete(asset_id)
    }

    /// The asset as the Author API's metadata endpoint returns it, `None` when absent.
    pub fn metadata(&self, asset_id: &str) -> Option<Value> {
        let inner = self.shared.lock();
        inner
            .assets
            .get(asset_id)
            .map(|asset| asset_json(asset_id, asset))
    }

    /// Every asset, as the metadata endpoint returns them.
    pub fn all_metadata(&self) -> Vec<Value> {
        let inner = self.shared.lock();
        inner
            .assets
            .iter()
            .map(|(id, asset)| asset_json(id, asset))
            .collect()
    }

    /// While `lost` is true, events are dropped instead of delivered, as in an I/O Events outage (a full sync or
    /// the journal must catch up on them).
    pub fn lose_events(&self, lost: bool) {
        self.shared.muted.store(lost, Ordering::Relaxed);
    }

    /// While `quiet` is true, changes emit no event at all (nothing delivered, nothing journaled): the benchmark
    /// changes assets this way and delivers its own pre-signed events ([`Self::event_body`]).
    pub fn quiet(&self, quiet: bool) {
        self.shared.quiet.store(quiet, Ordering::Relaxed);
    }

    /// The CloudEvent I/O Events would deliver for a change of `asset_id` at `time_ms` (Unix ms): `(event id,
    /// body)`. The asset's repository metadata is included when the asset exists.
    pub fn event_body(&self, event_type: &str, asset_id: &str, time_ms: i64) -> (String, Vec<u8>) {
        let inner = self.shared.lock();
        let repository = inner
            .assets
            .get(asset_id)
            .map(|asset| asset.repository.clone())
            .unwrap_or_default();
        let (id, _, body) =
            self.shared
                .cloud_event(event_type, asset_id, time_ms, repository, Map::new());
        (id, body)
    }

    /// The next `count` metadata reads answer `status` (500, 503, 401 for an expired token, ...).
    pub fn fail_metadata_reads(&self, status: u16, count: usize) {
        let mut inner = self.shared.lock();
        inner
            .metadata_faults
            .extend(std::iter::repeat_n(status, count));
    }

    /// Every metadata read of `asset_id` answers `status` (e.g. 403 after an ACL change) until `None`.
    pub fn set_asset_read_status(&self, asset_id: &str, status: Option<u16>) {
        let mut inner = self.shared.lock();
        match status {
            Some(status) => inner
                .asset_read_statuses
                .insert(asset_id.to_owned(), status),
            None => inner.asset_read_statuses.remove(asset_id),
        };
    }

    /// `true`: every metadata read answers 404, as another environment (a wrong `author_url`) would.
    pub fn hide_all_assets(&self, hidden: bool) {
        self.shared.lock().hide_all_assets = hidden;
    }

    /// From now on the asset's original (`/adobe/assets/{id}/original/as/{seo}`, what a commerce sink
    /// downloads to upload) is `body` while the asset is approved for delivery: a large PNG, or a body that
    /// is not an image. Renditions stay as they were.
    pub fn serve_original(&self, asset_id: &str, body: OriginalBody) {
        self.shared
            .lock()
            .originals
            .insert(asset_id.to_owned(), body);
    }

    /// Body bytes of the originals set by [`Self::serve_original`] handed to connections so far (what
    /// clients took, give or take the sockets' buffers).
    pub fn original_bytes_sent(&self) -> u64 {
        self.shared.original_bytes.load(Ordering::Relaxed)
    }

    /// Delivery counters now.
    pub fn deliveries(&self) -> DeliveryCounts {
        let s = &self.shared.stats;
        DeliveryCounts {
            queued: s.queued.load(Ordering::Relaxed),
            delivered: s.delivered.load(Ordering::Relaxed),
            failed_attempts: s.failed_attempts.load(Ordering::Relaxed),
            refused: s.refused.load(Ordering::Relaxed),
            gave_up: s.gave_up.load(Ordering::Relaxed),
        }
    }
}

fn status_fields(status: &str) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("dam:status".into(), Value::String(status.into()));
    fields
}

/// A random RFC 4122 version-4 UUID.
pub fn random_uuid() -> String {
    let hex: String = (0..32)
        .map(|_| char::from(b"0123456789abcdef"[fastrand::usize(..16)]))
        .collect();
    format!(
        "{}-{}-4{}-{}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        ["8", "9", "a", "b"][fastrand::usize(..4)],
        &hex[17..20],
        &hex[20..32]
    )
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0))
}

fn asset_json(asset_id: &str, asset: &Asset) -> Value {
    json!({ "assetId": asset_id, "repositoryMetadata": asset.repository, "assetMetadata": asset.metadata })
}

// ---- HTTP ----

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/adobe/assets/{asset_id}/metadata", get(get_metadata))
        .route("/adobe/assets/search", post(search::search))
        .route("/adobe/assets/{asset_id}/as/{seo}", get(rendition))
        .route("/adobe/assets/{asset_id}/original/as/{seo}", get(original))
        .route("/control/subscriptions", post(control_subscribe))
        .route("/control/assets", post(control_create))
        .route("/control/assets/{asset_id}", delete(control_delete))
        .route("/control/assets/{asset_id}/metadata", patch(control_update))
        .route("/control/assets/{asset_id}/{action}", post(control_action))
        .route("/control/deliveries", get(control_deliveries))
        .route("/control/keys/rotate", post(control_rotate_keys))
        .route("/events/journal", get(journal))
        .route("/ims/token/v3", post(ims_token))
        .route("/prod/keys/{name}", get(public_key))
        .with_state(shared)
}

fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    (status, Json(json!({ "type": format!("https://ns.adobe.com/aem/errors/{}", status.as_u16()), "title": title, "detail": detail })))
        .into_response()
}
