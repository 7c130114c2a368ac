//! The AEM Assets emulator: the Author API metadata endpoint and search (reference §10.5, §10.6), delivery
//! renditions (§8.1), and Adobe I/O Events deliveries of asset events (§10.1–§10.2), signed with keys it
//! generates and publishes on an emulated I/O Events key host (`GET /prod/keys/<name>.pem`), and an emulated
//! IMS token endpoint (`POST /ims/token/v3`, see [`crate::ims`]). Control operations (create, update, approve,
//! reject, delete, rotate keys) are offered both as methods and as HTTP endpoints under `/control`.

mod search;

use crate::SigningKeys;
use crate::delivery::{self, Delivery, DeliveryStats};
use crate::ims::{ImsState, TokenCheck};
use crate::key_host::KeyHostState;
use crate::keys::KeyRing;
use crate::originals::OriginalBody;
use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use domain::time::format_rfc3339_ms as rfc3339;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
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

/// A tiny valid PNG (1×1), the binary every emulated asset delivers.
pub(crate) const PIXEL_PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// The PNG rendition of an asset: the 1×1 pixel with a `tEXt` chunk that brings it to 20–50 KB (fixed per
/// asset id), the size of a real product-image rendition, so that commerce uploads carry realistic bodies.
fn rendition_png(asset_id: &str) -> Vec<u8> {
    let hash = asset_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let target = 20 * 1024 + usize::try_from(hash % (30 * 1024)).unwrap_or(0);
    let (signature_and_header, rest) = PIXEL_PNG.split_at(33);
    let mut chunk_data = b"Comment\0".to_vec();
    chunk_data.resize(target.saturating_sub(PIXEL_PNG.len() + 12), b'.');
    let mut png = Vec::with_capacity(target);
    png.extend_from_slice(signature_and_header);
    png.extend_from_slice(&u32::try_from(chunk_data.len()).unwrap_or(0).to_be_bytes());
    let typed_start = png.len();
    png.extend_from_slice(b"tEXt");
    png.extend_from_slice(&chunk_data);
    let crc = crc32(&png[typed_start..]);
    png.extend_from_slice(&crc.to_be_bytes());
    png.extend_from_slice(rest);
    png
}

/// CRC-32 (ISO-HDLC) as PNG chunks carry it.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    !crc32_update(!0, bytes)
}

/// The CRC-32 register after `bytes`, from `register` (start with `!0`, finish with `!`).
pub(crate) fn crc32_update(register: u32, bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut n = 0;
        while n < 256 {
            let mut c = n as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 == 1 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[n] = c;
            n += 1;
        }
        table
    };
    bytes.iter().fold(register, |c, &b| {
        TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8)
    })
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn repository_id(&self) -> String {
        format!(
            "author-p{}-e{}.adobeaemcloud.com",
            self.settings.program_id, self.settings.environment_id
        )
    }

    fn create_asset(&self, new: NewAsset) -> Result<String, ControlError> {
        let asset_id = new
            .asset_id
            .unwrap_or_else(|| format!("urn:aaid:aem:{}", random_uuid()));
        let uuid = asset_id.trim_start_matches("urn:aaid:aem:").to_owned();
        let name = new.name.unwrap_or_else(|| format!("{uuid}.jpg"));
        let mut inner = self.lock();
        let modified = next_modify(&mut inner);
        let mut repository = Map::new();
        for (key, value) in [
            ("repo:assetId", json!(asset_id)),
            ("repo:repositoryId", json!(self.repository_id())),
            ("repo:name", json!(name)),
            ("repo:path", json!(format!("/content/dam/commerce/{name}"))),
            (
                "dc:format",
                json!(new.format.unwrap_or_else(|| "image/jpeg".into())),
            ),
            (
                "repo:size",
                json!(rendition_png(&asset_id).len().to_string()),
            ),
            ("repo:state", json!("ACTIVE")),
            ("aem:assetState", json!("processed")),
            ("repo:createDate", json!(rfc3339(modified))),
        ] {
            repository.insert(key.into(), value);
        }
        let mut asset = Asset {
            repository,
            metadata: new.metadata,
            version: 0,
            binary_version: 0,
            without_sha1: new.without_sha1,
        };
        touch(&mut asset, modified, &asset_id, true);
        let changed: Vec<String> = asset.metadata.keys().cloned().collect();
        let event = self.event(
            "aem.assets.asset.processing_completed",
            &asset_id,
            &asset,
            &changed,
        );
        inner.assets.insert(asset_id.clone(), asset);
        self.emit(&mut inner, event);
        Ok(asset_id)
    }

    fn update(&self, asset_id: &str, fields: Map<String, Value>) -> Result<(), ControlError> {
        let mut inner = self.lock();
        let modified = next_modify(&mut inner);
        let asset = inner
            .assets
            .get_mut(asset_id)
            .ok_or_else(|| ControlError::UnknownAsset(asset_id.to_owned()))?;
        let mut changed = Vec::new();
        for (key, value) in fields {
            if value.is_null() {
                asset.metadata.remove(&key);
            } else {
                asset.metadata.insert(key.clone(), value);
            }
            changed.push(key);
        }
        touch(asset, modified, asset_id, false);
        let event = self.event(
            "aem.assets.asset.metadata_updated",
            asset_id,
            asset,
            &changed,
        );
        self.emit(&mut inner, event);
        Ok(())
    }

    fn new_version(&self, asset_id: &str) -> Result<(), ControlError> {
        let mut inner = self.lock();
        let modified = next_modify(&mut inner);
        let asset = inner
            .assets
            .get_mut(asset_id)
            .ok_or_else(|| ControlError::UnknownAsset(asset_id.to_owned()))?;
        touch(asset, modified, asset_id, true);
        let event = self.event(
            "aem.assets.asset.processing_completed",
            asset_id,
            asset,
            &[],
        );
        self.emit(&mut inner, event);
        Ok(())
    }

    fn delete(&self, asset_id: &str) -> Result<(), ControlError> {
        let mut inner = self.lock();
        let asset = inner
            .assets
            .remove(asset_id)
            .ok_or_else(|| ControlError::UnknownAsset(asset_id.to_owned()))?;
        let event = self.event("aem.assets.asset.deleted", asset_id, &asset, &[]);
        self.emit(&mut inner, event);
        Ok(())
    }

    /// A CloudEvent as I/O Events delivers it: the changed fields only, under `data.assetMetadata`.
    fn event(
        &self,
        event_type: &str,
        asset_id: &str,
        asset: &Asset,
        changed: &[String],
    ) -> (String, String, Vec<u8>) {
        let mut changed_metadata = Map::new();
        for key in changed {
            if let Some(value) = asset.metadata.get(key) {
                changed_metadata.insert(key.clone(), value.clone());
            }
        }
        changed_metadata.insert("event:updated".into(), json!(changed));
        self.cloud_event(
            event_type,
            asset_id,
            now_ms(),
            asset.repository.clone(),
            changed_metadata,
        )
    }

    fn cloud_event(
        &self,
        event_type: &str,
        asset_id: &str,
        time_ms: i64,
        repository: Map<String, Value>,
        changed_metadata: Map<String, Value>,
    ) -> (String, String, Vec<u8>) {
        let id = random_uuid();
        let body = json!({
            "specversion": "1.0",
            "id": id,
            "source": format!("acct:aem-p{}-e{}@adobe.com", self.settings.program_id, self.settings.environment_id),
            "type": event_type,
            "datacontenttype": "application/json",
            "time": rfc3339(time_ms),
            "eventid": id,
            "event_id": id,
            "recipient_client_id": self.settings.recipient_client_id,
            "recipientclientid": self.settings.recipient_client_id,
            "data": {
                "user": { "imsUserId": "emulator@AdobeID", "displayName": "Emulator" },
                "repositoryMetadata": repository,
                "assetMetadata": changed_metadata,
                "assetId": asset_id,
            }
        });
        (id, event_type.to_owned(), body.to_string().into_bytes())
    }

    fn emit(&self, inner: &mut Inner, (event_id, event_type, body): (String, String, Vec<u8>)) {
        if self.quiet.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(event) = serde_json::from_slice(&body) {
            inner.journal.push(event);
        }
        if self.muted.load(Ordering::Relaxed) {
            return;
        }
        for url in &inner.webhooks {
            self.stats.queued.fetch_add(1, Ordering::Relaxed);
            let delivery = Delivery {
                url: url.clone(),
                event_id: event_id.clone(),
                event_type: event_type.clone(),
                body: body.clone(),
            };
            if self.deliveries.send(delivery).is_err() {
                self.stats.gave_up.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// A strictly increasing modification time (ms), so that later edits always win.
fn next_modify(inner: &mut Inner) -> i64 {
    inner.last_modify_ms = now_ms().max(inner.last_modify_ms + 1);
    inner.last_modify_ms
}

/// A new repository version; with `new_binary`, a new binary too (and so a new `dam:sha1`).
fn touch(asset: &mut Asset, modified: i64, asset_id: &str, new_binary: bool) {
    asset.version += 1;
    if new_binary {
        asset.binary_version += 1;
    }
    let sha1 = digest(
        &SHA1_FOR_LEGACY_USE_ONLY,
        format!("{asset_id}:{}", asset.binary_version).as_bytes(),
    );
    let sha1_hex: String = sha1.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    asset.repository.insert(
        "repo:version".into(),
        json!(format!("oak:1.0::ci:{}", asset.version)),
    );
    asset
        .repository
        .insert("repo:modifyDate".into(), json!(rfc3339(modified)));
    if asset.without_sha1 {
        asset.repository.remove("dam:sha1");
    } else {
        asset.repository.insert("dam:sha1".into(), json!(sha1_hex));
    }
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

/// A 401 unless the request carries the static token or a live token minted by the IMS endpoint; a minted
/// token also needs `X-Api-Key: <its client id>` (else 403, as Adobe's gateway answers).
fn token_refusal(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !bearer.is_empty() && bearer == shared.settings.access_token {
        return None;
    }
    let detail = match shared.ims.check(bearer) {
        TokenCheck::Live { client_id } => {
            let api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
            if api_key == Some(client_id.as_str()) {
                return None;
            }
            return Some(problem(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "Api Key is invalid (X-Api-Key must be the token's client id)",
            ));
        }
        TokenCheck::Expired => "the IMS access token has expired",
        TokenCheck::Unknown => "a valid IMS bearer token is required",
    };
    Some(problem(StatusCode::UNAUTHORIZED, "Unauthorized", detail))
}

/// Author API requests need a valid bearer token and the experimental-API header.
fn author_refusal(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    if let Some(refusal) = token_refusal(shared, headers) {
        return Some(refusal);
    }
    if headers
        .get("x-adobe-accept-experimental")
        .and_then(|v| v.to_str().ok())
        != Some("1")
    {
        return Some(problem(
            StatusCode::NOT_FOUND,
            "Not Found",
            "No RequestProcessor can handle this request (experimental API: send X-Adobe-Accept-Experimental: 1)",
        ));
    }
    None
}

async fn get_metadata(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(asset_id): Path<String>,
) -> Response {
    if let Some(refusal) = author_refusal(&shared, &headers) {
        return refusal;
    }
    let mut inner = shared.lock();
    *inner.metadata_reads.entry(asset_id.clone()).or_default() += 1;
    if let Some(status) = inner.metadata_faults.pop_front() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return problem(
            status,
            status.canonical_reason().unwrap_or("Error"),
            "injected fault",
        );
    }
    if let Some(status) = inner.asset_read_statuses.get(&asset_id) {
        let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return problem(
            status,
            status.canonical_reason().unwrap_or("Error"),
            &format!("access to asset {asset_id} is refused"),
        );
    }
    let visible = if inner.hide_all_assets {
        None
    } else {
        inner.assets.get(&asset_id)
    };
    match visible {
        Some(asset) => Json(asset_json(&asset_id, asset)).into_response(),
        None => problem(
            StatusCode::NOT_FOUND,
            "Not Found",
            &format!("asset {asset_id} not found"),
        ),
    }
}

#[derive(Deserialize)]
struct JournalQuery {
    since: Option<String>,
    limit: Option<usize>,
    latest: Option<bool>,
}

/// The I/O Events Journaling API (§10.4): events after `since` (or the oldest retained), at most `limit`;
/// 204 with `retry-after` when there is nothing new; `link: <…>; rel="next"` to continue; `latest=true` jumps
/// to the end.
async fn journal(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<JournalQuery>,
) -> Response {
    if let Some(refusal) = token_refusal(&shared, &headers) {
        return refusal;
    }
    let mut inner = shared.lock();
    inner.journal_reads += 1;
    let start = match query.since.as_deref().map(str::parse::<usize>) {
        None => 0,
        Some(Ok(position)) => position,
        Some(Err(_)) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Bad Request",
                "invalid since position",
            );
        }
    };
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let url = format!(
        "{}/events/journal?limit={limit}&since=",
        inner.journal_next_origin.as_deref().unwrap_or_default()
    );
    if query.latest == Some(true) || start >= inner.journal.len() {
        let end = inner.journal.len();
        let mut reply = StatusCode::NO_CONTENT.into_response();
        if let Ok(value) = format!("<{url}{end}>; rel=\"next\"").parse() {
            reply.headers_mut().insert(header::LINK, value);
        }
        if let Ok(value) = "1".parse() {
            reply.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return reply;
    }
    let end = (start + limit).min(inner.journal.len());
    let events: Vec<Value> = inner.journal[start..end]
        .iter()
        .enumerate()
        .map(|(i, event)| json!({ "position": (start + i + 1).to_string(), "event": event }))
        .collect();
    let mut reply = Json(
        json!({ "events": events, "_page": { "last": end.to_string(), "count": end - start } }),
    )
    .into_response();
    if let Ok(value) = format!("<{url}{end}>; rel=\"next\"").parse() {
        reply.headers_mut().insert(header::LINK, value);
    }
    reply
}

/// Whether delivery serves the asset: approved, to `delivery` or with no target.
fn deliverable(metadata: &Map<String, Value>) -> bool {
    metadata.get("dam:status").and_then(Value::as_str) == Some("approved")
        && metadata
            .get("dam:activationTarget")
            .and_then(Value::as_str)
            .is_none_or(|t| t == "delivery")
}

/// Delivery serves approved assets only (approved to `delivery` or with no target). JPEG and PNG assets are
/// delivered as a PNG rendition; other formats as bytes of that format (TIFF, PDF, ...), as the DAM would.
async fn rendition(
    State(shared): State<Arc<Shared>>,
    Path((asset_id, _seo)): Path<(String, String)>,
) -> Response {
    let inner = shared.lock();
    let Some(asset) = inner
        .assets
        .get(&asset_id)
        .filter(|asset| deliverable(&asset.metadata))
    else {
        return problem(
            StatusCode::NOT_FOUND,
            "Not Found",
            "asset not found or not approved for delivery",
        );
    };
    let format = asset
        .repository
        .get("dc:format")
        .and_then(Value::as_str)
        .unwrap_or("image/png");
    match format {
        // A video's image rendition is its poster frame.
        video if video.starts_with("video/") => (
            [(header::CONTENT_TYPE, "image/png")],
            rendition_png(&asset_id),
        )
            .into_response(),
        "image/png" | "image/jpeg" => (
            [(header::CONTENT_TYPE, "image/png")],
            rendition_png(&asset_id),
        )
            .into_response(),
        "image/tiff" => (
            [(header::CONTENT_TYPE, "image/tiff")],
            &b"II*\0\x08\0\0\0emulated tiff"[..],
        )
            .into_response(),
        other => (
            [(header::CONTENT_TYPE, other.to_owned())],
            &b"%PDF-1.4 emulated document"[..],
        )
            .into_response(),
    }
}

/// The original of an approved asset: the body set by [`AemEmulator::serve_original`], else the rendition.
async fn original(
    State(shared): State<Arc<Shared>>,
    Path((asset_id, seo)): Path<(String, String)>,
) -> Response {
    let (set, video) = {
        let mut inner = shared.lock();
        *inner.original_reads.entry(asset_id.clone()).or_default() += 1;
        let video = inner
            .assets
            .get(&asset_id)
            .filter(|asset| deliverable(&asset.metadata))
            .and_then(|asset| asset.repository.get("dc:format")?.as_str())
            .filter(|format| format.starts_with("video/"))
            .map(str::to_owned);
        let set = inner.originals.get(&asset_id).cloned().filter(|_| {
            inner
                .assets
                .get(&asset_id)
                .is_some_and(|asset| deliverable(&asset.metadata))
        });
        (set, video)
    };
    match (set, video) {
        (Some(body), _) => crate::originals::respond(&body, shared.original_bytes.clone()),
        (None, Some(format)) => (
            [(header::CONTENT_TYPE, format)],
            &b"\0\0\0\x18ftypmp42 emulated video"[..],
        )
            .into_response(),
        (None, None) => rendition(State(shared), Path((asset_id, seo))).await,
    }
}

fn control_result(result: Result<Value, ControlError>) -> Response {
    match result {
        Ok(body) => Json(body).into_response(),
        Err(ControlError::UnknownAsset(id)) => problem(
            StatusCode::NOT_FOUND,
            "Not Found",
            &format!("no asset {id}"),
        ),
        Err(other) => problem(StatusCode::BAD_REQUEST, "Bad Request", &other.to_string()),
    }
}

#[derive(Deserialize)]
struct Subscription {
    url: String,
}

async fn control_subscribe(
    State(shared): State<Arc<Shared>>,
    Json(body): Json<Subscription>,
) -> Response {
    let emulator = AemEmulator {
        shared,
        url: String::new(),
    };
    control_result(
        emulator
            .subscribe(&body.url)
            .await
            .map(|()| json!({ "subscribed": body.url })),
    )
}

async fn control_create(State(shared): State<Arc<Shared>>, Json(body): Json<NewAsset>) -> Response {
    control_result(shared.create_asset(body).map(|id| json!({ "assetId": id })))
}

async fn control_update(
    State(shared): State<Arc<Shared>>,
    Path(asset_id): Path<String>,
    Json(fields): Json<Map<String, Value>>,
) -> Response {
    control_result(
        shared
            .update(&asset_id, fields)
            .map(|()| json!({ "assetId": asset_id })),
    )
}

/// `POST /control/assets/{id}/approve`, `/reject` or `/versions` (a new binary).
async fn control_action(
    State(shared): State<Arc<Shared>>,
    Path((asset_id, action)): Path<(String, String)>,
) -> Response {
    let result = match action.as_str() {
        "approve" => shared.update(&asset_id, status_fields("approved")),
        "reject" => shared.update(&asset_id, status_fields("rejected")),
        "versions" => shared.new_version(&asset_id),
        _ => {
            return problem(
                StatusCode::NOT_FOUND,
                "Not Found",
                "actions: approve, reject, versions",
            );
        }
    };
    control_result(result.map(|()| json!({ "assetId": asset_id })))
}

async fn control_delete(
    State(shared): State<Arc<Shared>>,
    Path(asset_id): Path<String>,
) -> Response {
    control_result(
        shared
            .delete(&asset_id)
            .map(|()| json!({ "deleted": asset_id })),
    )
}

async fn control_deliveries(State(shared): State<Arc<Shared>>) -> Response {
    let emulator = AemEmulator {
        shared,
        url: String::new(),
    };
    let c = emulator.deliveries();
    Json(json!({ "queued": c.queued, "delivered": c.delivered, "failed_attempts": c.failed_attempts, "refused": c.refused, "gave_up": c.gave_up }))
        .into_response()
}

/// `POST /ims/token/v3`: the IMS client-credentials grant.
async fn ims_token(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    shared.ims.token_request(&body)
}

/// `GET /prod/keys/{name}`: the key host; a public key whose pair was rotated away is 404.
async fn public_key(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    shared.key_host.serve(&shared.keys, &name).await
}

/// `POST /control/keys/rotate`: new signing keys under new paths.
async fn control_rotate_keys(State(shared): State<Arc<Shared>>) -> Response {
    let emulator = AemEmulator {
        shared,
        url: String::new(),
    };
    let result = emulator.rotate_keys().map(|()| {
        let keys = emulator.keys();
        let [one, two] = keys.paths();
        json!({ "key1_path": one, "key2_path": two })
    });
    control_result(result)
}

#[cfg(test)]
mod tests {
    use super::{PIXEL_PNG, crc32, rendition_png};

    #[test]
    fn renditions_are_valid_pngs_of_20_to_50_kb() {
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        for id in ["urn:aaid:aem:1", "urn:aaid:aem:2", "urn:aaid:aem:xyz"] {
            let png = rendition_png(id);
            assert!(
                (20 * 1024..=50 * 1024).contains(&png.len()),
                "{}",
                png.len()
            );
            assert_eq!(
                png,
                rendition_png(id),
                "the same asset gives the same bytes"
            );
            assert_eq!(&png[..33], &PIXEL_PNG[..33]);
            assert!(png.ends_with(&PIXEL_PNG[33..]));
            let length = u32::from_be_bytes([png[33], png[34], png[35], png[36]]) as usize;
            let typed = &png[37..41 + length];
            let crc = &png[41 + length..45 + length];
            assert_eq!(&typed[..4], b"tEXt");
            assert_eq!(crc, crc32(typed).to_be_bytes());
        }
        assert_ne!(
            rendition_png("urn:aaid:aem:1").len(),
            rendition_png("urn:aaid:aem:2").len()
        );
    }
}
