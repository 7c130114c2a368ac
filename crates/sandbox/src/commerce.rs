//! The Adobe Commerce (Magento 2) emulator: the REST media gallery endpoints of
//! `ProductAttributeMediaGalleryManagementInterface` and the product list (reference §2), behind OAuth 1.0a
//! request signing (HMAC-SHA256, as Magento 2.4.4+ verifies it for integrations), with fault injection.
//!
//! It is as strict as the real API: Magento's error shape and messages, image validation by magic numbers,
//! roles as product attributes, a PUT that replaces the whole entry, file names built and de-duplicated as
//! Magento does. The state machine (products, entries, roles, files) is the plain `Gallery` struct; the
//! axum handlers only parse, lock and answer. Control operations (no auth) are offered both as methods
//! and as HTTP endpoints under `/control`.

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
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
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
        self.shared.lock().gallery.entries(sku)
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

// ---- Magento messages ----

const NO_PRODUCT: &str =
    "The product that was requested doesn't exist. Verify the product and try again.";
const NO_IMAGE: &str = "There is no image with provided ID.";
const NO_STORE: &str = "The store that was requested wasn't found. Verify the store and try again.";
const NO_ROUTE: &str = "Request does not match any route.";
const CONTENT_REQUIRED: &str = "The image content is required.";
const BAD_CONTENT: &str = "The image content must be valid base64 encoded data.";
const BAD_MIME: &str = "The image MIME type is not valid or not supported.";
const BAD_NAME: &str = "Provided image name contains forbidden characters.";
const NAME_REQUIRED: &str = "The image name is required.";
const BAD_EXTENSION: &str =
    "The image type for the file is invalid. Enter the correct image type and try again.";
const BAD_MEDIA_TYPE: &str = "The media type is not supported.";
const UNAUTHORIZED: &str = "The consumer isn't authorized to access %resources.";
const FIELD_REQUIRED: &str = "\"%fieldName\" is required. Enter and try again.";
const INVALID_TYPE: &str = "The \"%value\" value's type is invalid. The \"%type\" type was expected. Verify and try again.";

/// The media roles Magento knows (product attributes), in the order they are reported.
const ROLES: [&str; 4] = ["image", "small_image", "thumbnail", "swatch_image"];
/// Image MIME types accepted, with the extension Magento appends to a name without one.
const MIME_TYPES: [(&str, &str); 4] = [
    ("image/jpeg", "jpg"),
    ("image/png", "png"),
    ("image/gif", "gif"),
    ("image/webp", "webp"),
];
/// File extensions Magento's gallery processor accepts.
const EXTENSIONS: [&str; 5] = ["jpg", "jpeg", "gif", "png", "webp"];
/// Accepted distance between `oauth_timestamp` and now, in seconds.
const TIMESTAMP_WINDOW_SECS: i64 = 600;
/// Request bodies up to this size are read (base64 images are large).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// A Magento error answer: `{"message", "parameters"}`.
#[derive(Debug, Clone, PartialEq)]
struct ApiError {
    status: StatusCode,
    message: String,
    parameters: Value,
}

impl ApiError {
    fn new(status: StatusCode, message: &str) -> Self {
        Self {
            status,
            message: message.to_owned(),
            parameters: json!([]),
        }
    }

    fn bad_request(message: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn not_found(message: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    fn field_required(field: &str) -> Self {
        Self {
            parameters: json!({ "fieldName": field }),
            ..Self::bad_request(FIELD_REQUIRED)
        }
    }

    fn invalid_type(value: &Value, expected: &str) -> Self {
        let shown = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        Self {
            parameters: json!({ "value": shown, "type": expected }),
            ..Self::bad_request(INVALID_TYPE)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "message": self.message, "parameters": self.parameters })),
        )
            .into_response()
    }
}

/// What a gallery operation did not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    Product,
    Image,
}

impl From<Missing> for ApiError {
    fn from(missing: Missing) -> Self {
        match missing {
            Missing::Product => Self::not_found(NO_PRODUCT),
            Missing::Image => Self::not_found(NO_IMAGE),
        }
    }
}

// ---- the state machine ----

/// The mutable fields of an entry, validated (roles known, deduplicated, in [`ROLES`] order).
#[derive(Debug, Clone, PartialEq, Eq)]
struct EntryFields {
    label: Option<String>,
    position: i64,
    disabled: bool,
    types: Vec<&'static str>,
}

#[derive(Debug, Clone)]
struct Entry {
    id: u64,
    fields: EntryFields,
    file: String,
}

impl Entry {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "media_type": "image",
            "label": self.fields.label,
            "position": self.fields.position,
            "disabled": self.fields.disabled,
            "types": self.fields.types,
            "file": self.file,
        })
    }
}

#[derive(Debug)]
struct Product {
    id: u64,
    /// The SKU as the product was created (the key of `Gallery::products` is its case-folded form).
    sku: String,
    entries: BTreeMap<u64, Entry>,
}

/// The key a product is found by: Magento's `sku` column has a case-insensitive collation
/// (`utf8mb4_general_ci`), so `ABC` and `abc` name one product.
fn sku_key(sku: &str) -> String {
    sku.to_lowercase()
}

/// Products, their gallery entries, the roles they hold and the media files of the whole store.
#[derive(Debug, Default)]
struct Gallery {
    /// By [`sku_key`].
    products: BTreeMap<String, Product>,
    next_product_id: u64,
    next_entry_id: u64,
    /// Every stored file path (`/a/b/name.ext`), for the clash suffix.
    files: HashSet<String>,
}

impl Gallery {
    fn create_product(&mut self, sku: &str) -> bool {
        if self.products.contains_key(&sku_key(sku)) {
            return false;
        }
        self.next_product_id += 1;
        self.products.insert(
            sku_key(sku),
            Product {
                id: self.next_product_id,
                sku: sku.to_owned(),
                entries: BTreeMap::new(),
            },
        );
        true
    }

    fn entries(&self, sku: &str) -> Option<Vec<Value>> {
        let product = self.products.get(&sku_key(sku))?;
        let mut entries: Vec<&Entry> = product.entries.values().collect();
        entries.sort_by_key(|e| (e.fields.position, e.id));
        Some(entries.into_iter().map(Entry::to_json).collect())
    }

    fn entry(&self, sku: &str, id: u64) -> Result<Value, Missing> {
        let product = self.products.get(&sku_key(sku)).ok_or(Missing::Product)?;
        product
            .entries
            .get(&id)
            .map(Entry::to_json)
            .ok_or(Missing::Image)
    }

    /// Stores a new entry for the (validated, sanitized) file name; returns its id.
    fn add(&mut self, sku: &str, fields: EntryFields, file_name: &str) -> Result<u64, Missing> {
        if !self.products.contains_key(&sku_key(sku)) {
            return Err(Missing::Product);
        }
        let file = self.unique_path(file_name);
        let product = self
            .products
            .get_mut(&sku_key(sku))
            .ok_or(Missing::Product)?;
        self.next_entry_id += 1;
        let id = self.next_entry_id;
        take_roles(product, id, &fields.types);
        product.entries.insert(
            id,
            Entry {
                id,
                fields,
                file: file.clone(),
            },
        );
        self.files.insert(file);
        Ok(id)
    }

    fn add_handmade(&mut self, sku: &str, fields: EntryFields) -> Result<u64, Missing> {
        let name = format!("handmade_{}.jpg", self.next_entry_id + 1);
        self.add(sku, fields, &name)
    }

    /// Replaces the mutable fields of the entry `id` (the file stays); roles given are taken from others.
    fn update(&mut self, sku: &str, id: Option<u64>, fields: EntryFields) -> Result<(), Missing> {
        let product = self
            .products
            .get_mut(&sku_key(sku))
            .ok_or(Missing::Product)?;
        let id = id
            .filter(|id| product.entries.contains_key(id))
            .ok_or(Missing::Image)?;
        take_roles(product, id, &fields.types);
        let entry = product.entries.get_mut(&id).ok_or(Missing::Image)?;
        entry.fields = fields;
        Ok(())
    }

    /// Deletes the entry, freeing its roles and its file (Magento deletes a file no entry uses).
    fn remove(&mut self, sku: &str, id: u64) -> Result<(), Missing> {
        let product = self
            .products
            .get_mut(&sku_key(sku))
            .ok_or(Missing::Product)?;
        let entry = product.entries.remove(&id).ok_or(Missing::Image)?;
        self.files.remove(&entry.file);
        Ok(())
    }

    /// One page of products by id, and the total. A page past the last answers the last page, as Magento's
    /// collections do (page by `total_count`, not until an empty page). `page_size` 0 = everything.
    fn products_page(&self, page_size: u64, current_page: u64) -> (Vec<Value>, usize) {
        let mut products: Vec<&Product> = self.products.values().collect();
        products.sort_by_key(|p| p.id);
        let total = products.len();
        let items = products.into_iter().map(|p| {
            let sku = &p.sku;
            json!({ "id": p.id, "sku": sku, "name": sku, "type_id": "simple", "attribute_set_id": 4 })
        });
        let Ok(size) = usize::try_from(page_size) else {
            return (items.collect(), total);
        };
        if size == 0 {
            return (items.collect(), total);
        }
        let last_page = total.div_ceil(size).max(1);
        let page = usize::try_from(current_page)
            .unwrap_or(usize::MAX)
            .clamp(1, last_page);
        (items.skip((page - 1) * size).take(size).collect(), total)
    }

    /// `/a/b/name.ext` from the first two characters (lower-cased, `.` as `_`), with `_1`, `_2`, ... before
    /// the extension while the path is taken anywhere in the store.
    fn unique_path(&self, name: &str) -> String {
        let dir: String = name
            .chars()
            .take(2)
            .map(|c| {
                if c == '.' {
                    "/_".to_owned()
                } else {
                    format!("/{}", c.to_lowercase())
                }
            })
            .collect();
        let first = format!("{dir}/{name}");
        if !self.files.contains(&first) {
            return first;
        }
        let (stem, extension) = name.rsplit_once('.').unwrap_or((name, ""));
        (1u64..)
            .map(|n| format!("{dir}/{stem}_{n}.{extension}"))
            .find(|candidate| !self.files.contains(candidate))
            .unwrap_or(first)
    }
}

/// Roles are product attributes: those given to `id` are removed from every other entry of the product.
fn take_roles(product: &mut Product, id: u64, roles: &[&'static str]) {
    for (other, entry) in &mut product.entries {
        if *other != id {
            entry.fields.types.retain(|role| !roles.contains(role));
        }
    }
}

/// Known roles among `given`, once each, in [`ROLES`] order; unknown ones are ignored (as Magento does).
fn roles_from(given: &[&str]) -> Vec<&'static str> {
    ROLES
        .iter()
        .copied()
        .filter(|role| given.contains(role))
        .collect()
}

// ---- request validation ----

/// The JSON body of a POST or PUT (Magento needs a JSON Content-Type).
fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim();
    if content_type.is_empty() {
        return Err(ApiError::bad_request("Content-Type header is empty."));
    }
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media_type != "application/json" {
        return Err(ApiError {
            parameters: json!([media_type]),
            ..ApiError::bad_request(
                "Server cannot understand Content-Type HTTP header media type %1",
            )
        });
    }
    serde_json::from_slice(body).map_err(|_| ApiError::bad_request("Decoding error: Syntax error"))
}

/// The mutable fields of `entry`, type-checked; absent ones take their defaults (a PUT replaces them all).
fn entry_fields(entry: &Map<String, Value>) -> Result<EntryFields, ApiError> {
    match entry.get("media_type") {
        None | Some(Value::Null) => {}
        Some(Value::String(kind)) if kind == "image" => {}
        Some(_) => return Err(ApiError::bad_request(BAD_MEDIA_TYPE)),
    }
    let label = match entry.get("label") {
        None | Some(Value::Null) => None,
        Some(Value::String(label)) => Some(label.clone()),
        Some(other) => return Err(ApiError::invalid_type(other, "string")),
    };
    let position = match entry.get("position") {
        None | Some(Value::Null) => 0,
        Some(value) => value
            .as_i64()
            .ok_or_else(|| ApiError::invalid_type(value, "int"))?,
    };
    let disabled = match entry.get("disabled") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(disabled)) => *disabled,
        Some(other) => return Err(ApiError::invalid_type(other, "bool")),
    };
    let types = match entry.get("types") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut given = Vec::with_capacity(items.len());
            for item in items {
                given.push(
                    item.as_str()
                        .ok_or_else(|| ApiError::invalid_type(item, "string"))?,
                );
            }
            roles_from(&given)
        }
        Some(other) => return Err(ApiError::invalid_type(other, "string[]")),
    };
    Ok(EntryFields {
        label,
        position,
        disabled,
        types,
    })
}

/// A validated POST: the entry's fields and the sanitized file name (extension included).
#[derive(Debug)]
struct Upload {
    fields: EntryFields,
    file_name: String,
}

/// Validates a POST body `{"entry": {..., "content": {...}}}` as Magento's image content validator does.
fn validate_new_entry(body: &Value) -> Result<Upload, ApiError> {
    let entry = body
        .get("entry")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::bad_request(CONTENT_REQUIRED))?;
    let fields = entry_fields(entry)?;
    let content = entry
        .get("content")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::bad_request(CONTENT_REQUIRED))?;
    let data = content
        .get("base64_encoded_data")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request(BAD_CONTENT))?;
    let bytes = BASE64
        .decode(data)
        .map_err(|_| ApiError::bad_request(BAD_CONTENT))?;
    let detected = detect_image(&bytes).ok_or_else(|| ApiError::bad_request(BAD_CONTENT))?;
    let declared = content.get("type").and_then(Value::as_str);
    if declared != Some(detected) {
        return Err(ApiError::bad_request(BAD_MIME));
    }
    let name = content.get("name").and_then(Value::as_str).unwrap_or("");
    if name.contains(['\\', '/', ':', '*', '?', '"', '<', '>', '|']) {
        return Err(ApiError::bad_request(BAD_NAME));
    }
    if name.is_empty() {
        return Err(ApiError::bad_request(NAME_REQUIRED));
    }
    let file_name = file_name(name, detected)?;
    Ok(Upload { fields, file_name })
}

/// The MIME type of an image recognised by its magic number.
fn detect_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// The stored name: the MIME type's extension appended when the name has none, characters other than
/// `A-Z a-z 0-9 _ - .` replaced by `_` (runs collapsed), an all-underscore stem renamed `file`; the
/// extension must be an image one.
fn file_name(name: &str, mime: &str) -> Result<String, ApiError> {
    let has_extension = name
        .rsplit_once('.')
        .is_some_and(|(_, ext)| !ext.is_empty());
    let mut full = name.to_owned();
    if !has_extension {
        let extension = MIME_TYPES
            .iter()
            .find(|(m, _)| *m == mime)
            .map_or("jpg", |(_, e)| *e);
        full.push('.');
        full.push_str(extension);
    }
    let mut sanitized = String::with_capacity(full.len());
    let mut replacing = false;
    for c in full.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
            sanitized.push(c);
            replacing = false;
        } else if !replacing {
            sanitized.push('_');
            replacing = true;
        }
    }
    let (stem, extension) = sanitized
        .rsplit_once('.')
        .map_or((sanitized.as_str(), ""), |(s, e)| (s, e));
    if !EXTENSIONS.contains(&extension.to_ascii_lowercase().as_str()) {
        return Err(ApiError::bad_request(BAD_EXTENSION));
    }
    if !stem.is_empty() && stem.chars().all(|c| c == '_') {
        return Ok(format!("file.{extension}"));
    }
    Ok(sanitized)
}

/// A validated PUT: the entry id named in the body (if any) and the fields that replace the entry's.
fn parse_update(body: &Value) -> Result<(Option<u64>, EntryFields), ApiError> {
    let entry = body
        .get("entry")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::field_required("entry"))?;
    let id = match entry.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .ok_or_else(|| ApiError::invalid_type(&Value::Number(n.clone()), "int"))?,
        ),
        Some(Value::String(s)) => Some(
            s.trim()
                .parse::<u64>()
                .map_err(|_| ApiError::invalid_type(&Value::String(s.clone()), "int"))?,
        ),
        Some(other) => return Err(ApiError::invalid_type(other, "int")),
    };
    Ok((id, entry_fields(entry)?))
}

fn parse_entry_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse::<u64>()
        .map_err(|_| ApiError::invalid_type(&Value::String(raw.to_owned()), "int"))
}

// ---- OAuth 1.0a ----

/// Why a request was not authenticated (logged at debug level, never answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthFailure {
    Missing,
    Revoked,
    BearerRefused,
    WrongToken,
    Malformed(&'static str),
    UnsupportedSignatureMethod,
    UnsupportedVersion,
    WrongConsumer,
    StaleTimestamp,
    ReusedNonce,
    BadSignature,
}

/// Nonces seen per consumer, with their timestamps. Nonces whose timestamp left the window are pruned:
/// a replay of them fails on the timestamp anyway.
#[derive(Debug)]
struct NonceCache {
    seen: HashMap<(String, String), i64>,
    prune_at: usize,
}

impl Default for NonceCache {
    fn default() -> Self {
        Self {
            seen: HashMap::new(),
            prune_at: 4096,
        }
    }
}

impl NonceCache {
    fn contains(&self, consumer: &str, nonce: &str) -> bool {
        self.seen
            .contains_key(&(consumer.to_owned(), nonce.to_owned()))
    }

    fn insert(&mut self, consumer: &str, nonce: &str, timestamp: i64, now: i64) {
        self.seen
            .insert((consumer.to_owned(), nonce.to_owned()), timestamp);
        if self.seen.len() >= self.prune_at {
            self.seen.retain(|_, ts| *ts >= now - TIMESTAMP_WINDOW_SECS);
            self.prune_at = (self.seen.len() * 2).max(4096);
        }
    }
}

/// What the signature covers besides the OAuth parameters.
struct SignedRequest<'a> {
    method: &'a str,
    /// Scheme, host, port and raw path, without the query.
    base_uri: &'a str,
    /// The raw query string, if any.
    query: Option<&'a str>,
}

/// Checks the `Authorization` header: bearer (when allowed) or OAuth 1.0a.
fn authenticate(
    settings: &CommerceSettings,
    credentials_valid: bool,
    nonces: &mut NonceCache,
    now: i64,
    request: &SignedRequest<'_>,
    authorization: Option<&str>,
) -> Result<(), AuthFailure> {
    if !credentials_valid {
        return Err(AuthFailure::Revoked);
    }
    let authorization = authorization.ok_or(AuthFailure::Missing)?;
    if let Some(token) = strip_scheme(authorization, "Bearer") {
        if !settings.allow_bearer {
            return Err(AuthFailure::BearerRefused);
        }
        return constant_time::verify_slices_are_equal(
            token.trim().as_bytes(),
            settings.access_token.as_bytes(),
        )
        .map_err(|_| AuthFailure::WrongToken);
    }
    let params = strip_scheme(authorization, "OAuth").ok_or(AuthFailure::Missing)?;
    verify_oauth(settings, nonces, now, request, params)
}

/// The rest of `value` after the auth scheme `scheme` (case-insensitive) and a space.
fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let head = value.get(..scheme.len())?;
    let rest = value.get(scheme.len()..)?;
    (head.eq_ignore_ascii_case(scheme) && rest.starts_with(' ')).then_some(rest)
}

/// Verifies an OAuth 1.0a HMAC-SHA256 signature (RFC 5849) made with the integration's consumer and
/// access token; `header_params` is the `Authorization` value after `OAuth `. The nonce is recorded only
/// when everything else holds.
fn verify_oauth(
    settings: &CommerceSettings,
    nonces: &mut NonceCache,
    now: i64,
    request: &SignedRequest<'_>,
    header_params: &str,
) -> Result<(), AuthFailure> {
    let params = parse_oauth_header(header_params)?;
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let consumer_key =
        get("oauth_consumer_key").ok_or(AuthFailure::Malformed("oauth_consumer_key"))?;
    let token = get("oauth_token").ok_or(AuthFailure::Malformed("oauth_token"))?;
    let method =
        get("oauth_signature_method").ok_or(AuthFailure::Malformed("oauth_signature_method"))?;
    let timestamp = get("oauth_timestamp").ok_or(AuthFailure::Malformed("oauth_timestamp"))?;
    let nonce = get("oauth_nonce")
        .filter(|n| !n.is_empty())
        .ok_or(AuthFailure::Malformed("oauth_nonce"))?;
    let signature = get("oauth_signature").ok_or(AuthFailure::Malformed("oauth_signature"))?;
    if method != "HMAC-SHA256" {
        return Err(AuthFailure::UnsupportedSignatureMethod);
    }
    if get("oauth_version").is_some_and(|v| v != "1.0") {
        return Err(AuthFailure::UnsupportedVersion);
    }
    constant_time::verify_slices_are_equal(
        consumer_key.as_bytes(),
        settings.consumer_key.as_bytes(),
    )
    .map_err(|_| AuthFailure::WrongConsumer)?;
    constant_time::verify_slices_are_equal(token.as_bytes(), settings.access_token.as_bytes())
        .map_err(|_| AuthFailure::WrongToken)?;
    let timestamp: i64 = (!timestamp.is_empty() && timestamp.bytes().all(|b| b.is_ascii_digit()))
        .then(|| timestamp.parse().ok())
        .flatten()
        .ok_or(AuthFailure::Malformed("oauth_timestamp"))?;
    if (now - timestamp).abs() > TIMESTAMP_WINDOW_SECS {
        return Err(AuthFailure::StaleTimestamp);
    }
    if nonces.contains(consumer_key, nonce) {
        return Err(AuthFailure::ReusedNonce);
    }
    let base = signature_base_string(request, &params)?;
    let key = format!(
        "{}&{}",
        rfc3986(&settings.consumer_secret),
        rfc3986(&settings.access_token_secret)
    );
    let provided = BASE64
        .decode(signature)
        .map_err(|_| AuthFailure::BadSignature)?;
    hmac::verify(
        &hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes()),
        base.as_bytes(),
        &provided,
    )
    .map_err(|_| AuthFailure::BadSignature)?;
    nonces.insert(consumer_key, nonce, timestamp, now);
    Ok(())
}

/// The `oauth_*` parameters of an `Authorization: OAuth` value, percent-decoded (`realm` and other
/// parameters are left out; quoted or bare values, as Magento's parser accepts).
fn parse_oauth_header(params: &str) -> Result<Vec<(String, String)>, AuthFailure> {
    let mut parsed: Vec<(String, String)> = Vec::new();
    for piece in params.split(',') {
        let piece = piece.trim();
        if piece.is_empty() {
            continue;
        }
        let (name, raw) = piece
            .split_once('=')
            .ok_or(AuthFailure::Malformed("parameter without a value"))?;
        let name = name.trim();
        if !name.starts_with("oauth_") {
            continue;
        }
        let raw = raw.trim();
        let raw = raw
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .unwrap_or(raw);
        let value =
            percent_decode(raw, false).ok_or(AuthFailure::Malformed("bad percent-encoding"))?;
        if parsed.iter().any(|(n, _)| n == name) {
            return Err(AuthFailure::Malformed("duplicate parameter"));
        }
        parsed.push((name.to_owned(), value));
    }
    Ok(parsed)
}

/// RFC 5849 §3.4.1: METHOD & enc(base URI) & enc(normalized parameters), where the parameters are the
/// OAuth ones but the signature plus the query's (decoded), each encoded, sorted by name then value.
fn signature_base_string(
    request: &SignedRequest<'_>,
    oauth: &[(String, String)],
) -> Result<String, AuthFailure> {
    let mut pairs: Vec<(String, String)> = oauth
        .iter()
        .filter(|(name, _)| name != "oauth_signature")
        .map(|(name, value)| (rfc3986(name), rfc3986(value)))
        .collect();
    for (name, value) in query_pairs(request.query.unwrap_or(""))
        .ok_or(AuthFailure::Malformed("bad query encoding"))?
    {
        pairs.push((rfc3986(&name), rfc3986(&value)));
    }
    pairs.sort();
    let normalized = pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&");
    Ok(format!(
        "{}&{}&{}",
        request.method.to_ascii_uppercase(),
        rfc3986(request.base_uri),
        rfc3986(&normalized)
    ))
}

/// The decoded `name=value` pairs of a raw query string (`+` is a space); `None` on bad encoding.
fn query_pairs(query: &str) -> Option<Vec<(String, String)>> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            Some((percent_decode(name, true)?, percent_decode(value, true)?))
        })
        .collect()
}

/// RFC 3986 percent-encoding: unreserved characters kept, every other byte as `%XX` (upper case).
fn rfc3986(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0F)]));
        }
    }
    out
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`); `None` on a bad escape or bad UTF-8.
fn percent_decode(value: &str, plus_is_space: bool) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'%' => {
                let hex = value.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

// ---- shared state ----

struct Inner {
    gallery: Gallery,
    nonces: NonceCache,
    credentials_valid: bool,
    faults: VecDeque<Fault>,
    /// Standing latency added to every API request.
    latency_ms: u64,
    /// Standing share of API requests that answer 500.
    error_rate: f64,
    blocked_until: Option<Instant>,
    stats: CommerceStats,
    /// Write requests in flight, per product.
    writes_in_flight: WritesInFlight,
    /// The latest requests (method, path as received), control requests excluded, at most [`REQUEST_LOG`].
    requests: VecDeque<(String, String)>,
}

/// Requests kept in the request log.
const REQUEST_LOG: usize = 10_000;

impl Inner {
    fn new() -> Self {
        Self {
            writes_in_flight: WritesInFlight::default(),
            requests: VecDeque::new(),
            gallery: Gallery::default(),
            nonces: NonceCache::default(),
            credentials_valid: true,
            faults: VecDeque::new(),
            latency_ms: 0,
            error_rate: 0.0,
            blocked_until: None,
            stats: CommerceStats::default(),
        }
    }

    fn inject(&mut self, fault: Fault) {
        let count = match fault {
            Fault::Status { count, .. } | Fault::DelayAfterCommit { count, .. } => count,
        };
        if count > 0 {
            self.faults.push_back(fault);
        }
    }

    /// Consumes one count of the first queued fault that `wanted` accepts.
    fn take_fault(&mut self, wanted: impl Fn(&Fault) -> bool) -> Option<Fault> {
        let index = self.faults.iter().position(wanted)?;
        let fault = self.faults.get_mut(index)?;
        let taken = *fault;
        let remaining = match fault {
            Fault::Status { count, .. } | Fault::DelayAfterCommit { count, .. } => {
                *count = count.saturating_sub(1);
                *count
            }
        };
        if remaining == 0 {
            self.faults.remove(index);
        }
        Some(taken)
    }
}

struct Shared {
    settings: CommerceSettings,
    /// `http://127.0.0.1:PORT`, the scheme and authority of every signature base string.
    base_url: String,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What happens to an API request before its handler: Retry-After accounting, status faults,
    /// authentication, the store code, the counters. `Some` is the refusal to answer instead.
    fn admit(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<Response> {
        let now = Instant::now();
        let mut inner = self.lock();
        if inner.blocked_until.is_some_and(|until| now < until) {
            inner.stats.requests_during_retry_after += 1;
        }
        if let Some(Fault::Status {
            status,
            retry_after_secs,
            ..
        }) = inner.take_fault(|f| matches!(f, Fault::Status { .. }))
        {
            if let Some(secs) = retry_after_secs {
                let until = now + Duration::from_secs(secs);
                inner.blocked_until = Some(inner.blocked_until.map_or(until, |b| b.max(until)));
            }
            if status == 429 || status == 503 {
                inner.stats.throttled += 1;
            }
            return Some(fault_response(status, retry_after_secs));
        }
        let base_uri = format!("{}{}", self.base_url, uri.path());
        let request = SignedRequest {
            method: method.as_str(),
            base_uri: &base_uri,
            query: uri.query(),
        };
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let credentials_valid = inner.credentials_valid;
        if let Err(failure) = authenticate(
            &self.settings,
            credentials_valid,
            &mut inner.nonces,
            unix_now(),
            &request,
            authorization,
        ) {
            inner.stats.unauthorized += 1;
            tracing::debug!(?failure, %method, path = uri.path(), "commerce emulator refused a request");
            return Some(unauthorized());
        }
        if !matches!(uri.path().split('/').nth(2), Some("all" | "default")) {
            return Some(ApiError::not_found(NO_STORE).into_response());
        }
        let stats = &mut inner.stats;
        match *method {
            Method::GET => stats.gets += 1,
            Method::POST => stats.posts += 1,
            Method::PUT => stats.puts += 1,
            Method::DELETE => stats.deletes += 1,
            _ => {}
        }
        None
    }
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "message": UNAUTHORIZED, "parameters": { "resources": "Magento_Catalog::products" } })),
    )
        .into_response()
}

fn fault_response(status: u16, retry_after_secs: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::NOT_FOUND {
        // Magento never answers a bare 404: this is what a proxy or a wrong base URL gives.
        return (
            status,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><head><title>404 Not Found</title></head><body><center><h1>404 Not Found</h1></center><hr><center>nginx</center></body></html>",
        )
            .into_response();
    }
    let message = match status.as_u16() {
        429 => "Too many requests",
        503 => "Service unavailable",
        500 => {
            "Internal Error. Details are available in Magento log file. Report ID: webapi-emulator"
        }
        _ => status.canonical_reason().unwrap_or("Error"),
    };
    let mut response = (
        status,
        Json(json!({ "message": message, "parameters": [] })),
    )
        .into_response();
    if let Some(secs) = retry_after_secs {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

// ---- HTTP ----

fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/rest/{store}/V1/products", get(list_products))
        .route(
            "/rest/{store}/V1/products/{sku}/media",
            get(list_media).post(post_media),
        )
        .route(
            "/rest/{store}/V1/products/{sku}/media/{entry_id}",
            get(get_media).put(put_media).delete(delete_media),
        )
        .route_layer(middleware::from_fn_with_state(shared.clone(), gate));
    let control = Router::new()
        .route("/control/products", post(control_create_product))
        .route("/control/products/{sku}", get(control_product))
        .route("/control/products/{sku}/entries", post(control_add_entry))
        .route(
            "/control/products/{sku}/entries/{entry_id}",
            delete(control_delete_entry),
        )
        .route("/control/credentials", post(control_credentials))
        .route("/control/faults", post(control_fault))
        .route("/control/conditions", post(control_conditions))
        .route("/control/stats", get(control_stats));
    api.merge(control)
        .fallback(no_route)
        .method_not_allowed_fallback(no_route)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(shared.clone(), log_request))
        .with_state(shared)
}

/// Records every request but control ones in the request log.
async fn log_request(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !path.starts_with("/control/") {
        let mut inner = shared.lock();
        if inner.requests.len() >= REQUEST_LOG {
            inner.requests.pop_front();
        }
        inner
            .requests
            .push_back((request.method().to_string(), path.to_owned()));
    }
    next.run(request).await
}

async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let _write = WriteInFlight::begin(&shared, request.method(), request.uri());
    let (latency_ms, error_rate) = {
        let inner = shared.lock();
        (inner.latency_ms, inner.error_rate)
    };
    if latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(latency_ms)).await;
    }
    if error_rate > 0.0 && fastrand::f64() < error_rate {
        return fault_response(500, None);
    }
    match shared.admit(request.method(), request.uri(), request.headers()) {
        None => next.run(request).await,
        Some(refusal) => refusal,
    }
}

#[derive(Deserialize)]
struct Conditions {
    #[serde(default)]
    latency_ms: u64,
    #[serde(default)]
    error_rate: f64,
}

async fn control_conditions(
    State(shared): State<Arc<Shared>>,
    Json(body): Json<Conditions>,
) -> Response {
    {
        let mut inner = shared.lock();
        inner.latency_ms = body.latency_ms;
        inner.error_rate = body.error_rate.clamp(0.0, 1.0);
    }
    Json(json!({ "latency_ms": body.latency_ms, "error_rate": body.error_rate })).into_response()
}

async fn no_route() -> Response {
    ApiError::not_found(NO_ROUTE).into_response()
}

fn answer(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(body) => Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn list_media(
    State(shared): State<Arc<Shared>>,
    Path((_store, sku)): Path<(String, String)>,
) -> Response {
    let entries = shared.lock().gallery.entries(&sku);
    answer(
        entries
            .map(Value::Array)
            .ok_or_else(|| Missing::Product.into()),
    )
}

async fn get_media(
    State(shared): State<Arc<Shared>>,
    Path((_store, sku, entry_id)): Path<(String, String, String)>,
) -> Response {
    let result = parse_entry_id(&entry_id).and_then(|id| {
        shared
            .lock()
            .gallery
            .entry(&sku, id)
            .map_err(ApiError::from)
    });
    answer(result)
}

async fn post_media(
    State(shared): State<Arc<Shared>>,
    Path((_store, sku)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let upload = match parse_body(&headers, &body).and_then(|body| validate_new_entry(&body)) {
        Ok(upload) => upload,
        Err(error) => return error.into_response(),
    };
    let (result, delay) = {
        let mut inner = shared.lock();
        let result = inner.gallery.add(&sku, upload.fields, &upload.file_name);
        let delay = match result {
            Ok(_) => inner.take_fault(|f| matches!(f, Fault::DelayAfterCommit { .. })),
            Err(_) => None,
        };
        (result, delay)
    };
    if let Some(Fault::DelayAfterCommit { millis, .. }) = delay {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
    answer(
        result
            .map(|id| Value::String(id.to_string()))
            .map_err(ApiError::from),
    )
}

async fn put_media(
    State(shared): State<Arc<Shared>>,
    Path((_store, sku, _url_entry_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = parse_body(&headers, &body)
        .and_then(|body| parse_update(&body))
        .and_then(|(id, fields)| {
            shared
                .lock()
                .gallery
                .update(&sku, id, fields)
                .map_err(ApiError::from)
        });
    answer(result.map(|()| Value::Bool(true)))
}

async fn delete_media(
    State(shared): State<Arc<Shared>>,
    Path((_store, sku, entry_id)): Path<(String, String, String)>,
) -> Response {
    let result = parse_entry_id(&entry_id).and_then(|id| {
        shared
            .lock()
            .gallery
            .remove(&sku, id)
            .map_err(ApiError::from)
    });
    answer(result.map(|()| Value::Bool(true)))
}

/// `GET /V1/products?searchCriteria[pageSize]=N&searchCriteria[currentPage]=P`.
async fn list_products(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let criteria = match search_criteria(query.as_deref().unwrap_or("")) {
        Ok(criteria) => criteria,
        Err(error) => return error.into_response(),
    };
    let (page_size, current_page) = criteria;
    let (items, total) = shared.lock().gallery.products_page(page_size, current_page);
    Json(json!({
        "items": items,
        "search_criteria": { "filter_groups": [], "page_size": page_size, "current_page": current_page },
        "total_count": total,
    }))
    .into_response()
}

/// `(pageSize, currentPage)` from the raw query: `searchCriteria` is required (as in Magento), pageSize
/// defaults to 20 and currentPage to 1; filters and sort orders are refused rather than ignored.
fn search_criteria(query: &str) -> Result<(u64, u64), ApiError> {
    let pairs = query_pairs(query)
        .ok_or_else(|| ApiError::bad_request("The query string is not validly encoded."))?;
    if !pairs
        .iter()
        .any(|(name, _)| name == "searchCriteria" || name.starts_with("searchCriteria["))
    {
        return Err(ApiError::field_required("searchCriteria"));
    }
    let mut page_size = 20;
    let mut current_page = 1;
    for (name, value) in &pairs {
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| ApiError::invalid_type(&Value::String(value.clone()), "int"))
        };
        match name.as_str() {
            "searchCriteria[pageSize]" => page_size = number()?,
            "searchCriteria[currentPage]" => current_page = number()?.max(1),
            // Products are listed by id, ascending: the one sort order the emulator supports.
            "searchCriteria[sortOrders][0][field]" if value == "entity_id" => {}
            "searchCriteria[sortOrders][0][direction]" if value.eq_ignore_ascii_case("ASC") => {}
            other
                if other.starts_with("searchCriteria[filter")
                    || other.starts_with("searchCriteria[sort") =>
            {
                return Err(ApiError::bad_request(
                    "The emulator supports only searchCriteria[pageSize], [currentPage] and sorting by entity_id ASC.",
                ));
            }
            _ => {}
        }
    }
    Ok((page_size, current_page))
}

// ---- control ----

#[derive(Deserialize)]
struct NewProduct {
    sku: String,
}

#[derive(Deserialize)]
struct HandmadeEntry {
    label: Option<String>,
    #[serde(default)]
    position: i64,
    #[serde(default)]
    types: Vec<String>,
    #[serde(default)]
    disabled: bool,
}

#[derive(Deserialize)]
struct Credentials {
    valid: bool,
}

#[derive(Deserialize)]
struct FaultRequest {
    status: Option<u16>,
    retry_after_secs: Option<u64>,
    delay_after_commit_ms: Option<u64>,
    #[serde(default = "one")]
    count: u32,
}

fn one() -> u32 {
    1
}

fn control_missing(missing: Missing, sku: &str, id: Option<u64>) -> Response {
    let message = match (missing, id) {
        (Missing::Image, Some(id)) => format!("no entry {id}"),
        _ => format!("no product {sku}"),
    };
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "message": message, "parameters": [] })),
    )
        .into_response()
}

async fn control_create_product(
    State(shared): State<Arc<Shared>>,
    Json(body): Json<NewProduct>,
) -> Response {
    let created = shared.lock().gallery.create_product(&body.sku);
    Json(json!({ "sku": body.sku, "created": created })).into_response()
}

async fn control_product(State(shared): State<Arc<Shared>>, Path(sku): Path<String>) -> Response {
    let entries = shared.lock().gallery.entries(&sku);
    match entries {
        Some(entries) => Json(json!({ "sku": sku, "entries": entries })).into_response(),
        None => control_missing(Missing::Product, &sku, None),
    }
}

async fn control_add_entry(
    State(shared): State<Arc<Shared>>,
    Path(sku): Path<String>,
    Json(body): Json<HandmadeEntry>,
) -> Response {
    let types: Vec<&str> = body.types.iter().map(String::as_str).collect();
    let fields = EntryFields {
        label: body.label,
        position: body.position,
        disabled: body.disabled,
        types: roles_from(&types),
    };
    let result = shared.lock().gallery.add_handmade(&sku, fields);
    match result {
        Ok(id) => Json(json!({ "id": id })).into_response(),
        Err(missing) => control_missing(missing, &sku, None),
    }
}

async fn control_delete_entry(
    State(shared): State<Arc<Shared>>,
    Path((sku, entry_id)): Path<(String, u64)>,
) -> Response {
    let result = shared.lock().gallery.remove(&sku, entry_id);
    match result {
        Ok(()) => Json(json!({ "deleted": entry_id })).into_response(),
        Err(missing) => control_missing(missing, &sku, Some(entry_id)),
    }
}

async fn control_credentials(
    State(shared): State<Arc<Shared>>,
    Json(body): Json<Credentials>,
) -> Response {
    shared.lock().credentials_valid = body.valid;
    Json(json!({ "valid": body.valid })).into_response()
}

async fn control_fault(
    State(shared): State<Arc<Shared>>,
    Json(body): Json<FaultRequest>,
) -> Response {
    let fault = match (body.status, body.delay_after_commit_ms) {
        (Some(status), None) if StatusCode::from_u16(status).is_ok() => Fault::Status {
            status,
            retry_after_secs: body.retry_after_secs,
            count: body.count,
        },
        (None, Some(millis)) => Fault::DelayAfterCommit {
            millis,
            count: body.count,
        },
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({
                    "message": "give either {status, retry_after_secs?, count?} or {delay_after_commit_ms, count?}",
                    "parameters": [],
                })),
            )
                .into_response();
        }
    };
    shared.lock().inject(fault);
    Json(json!({ "queued": true })).into_response()
}

async fn control_stats(State(shared): State<Arc<Shared>>) -> Response {
    let s = shared.lock().stats;
    Json(json!({
        "gets": s.gets,
        "posts": s.posts,
        "puts": s.puts,
        "deletes": s.deletes,
        "unauthorized": s.unauthorized,
        "throttled": s.throttled,
        "requests_during_retry_after": s.requests_during_retry_after,
        "max_concurrent_writes_per_sku": s.max_concurrent_writes_per_sku,
        "overlapping_writes": s.overlapping_writes,
    }))
    .into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const PNG: &[u8] = &[
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44,
        0x52,
    ];
    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49, 0x46];

    fn settings(allow_bearer: bool) -> CommerceSettings {
        CommerceSettings {
            consumer_key: "ck".into(),
            consumer_secret: "c s".into(),
            access_token: "tok".into(),
            access_token_secret: "t+s".into(),
            allow_bearer,
        }
    }

    // An independent, deliberately naive OAuth 1.0a signer for the tests.
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
    fn sign(
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

    fn fields(types: &[&str]) -> EntryFields {
        EntryFields {
            label: Some("L".into()),
            position: 1,
            disabled: false,
            types: roles_from(types),
        }
    }

    #[test]
    fn file_paths_with_clash_suffix() {
        let mut g = Gallery::default();
        assert!(g.create_product("A"));
        assert!(!g.create_product("A"));
        g.create_product("B");
        let path = |g: &Gallery, sku: &str, id: u64| {
            g.entry(sku, id).unwrap()["file"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let a = g.add("A", fields(&[]), "test_image.jpg").unwrap();
        let b = g.add("A", fields(&[]), "test_image.jpg").unwrap();
        let c = g.add("B", fields(&[]), "test_image.jpg").unwrap();
        assert_eq!(path(&g, "A", a), "/t/e/test_image.jpg");
        assert_eq!(path(&g, "A", b), "/t/e/test_image_1.jpg");
        assert_eq!(path(&g, "B", c), "/t/e/test_image_2.jpg");
        let d = g.add("A", fields(&[]), "AB.png").unwrap();
        assert_eq!(path(&g, "A", d), "/a/b/AB.png");
        let e = g.add("A", fields(&[]), ".x.png").unwrap();
        assert_eq!(path(&g, "A", e), "/_/x/.x.png");
        // Deleting frees the file name.
        g.remove("A", a).unwrap();
        let f = g.add("A", fields(&[]), "test_image.jpg").unwrap();
        assert_eq!(path(&g, "A", f), "/t/e/test_image.jpg");
        let h = g.add_handmade("A", fields(&[])).unwrap();
        assert_eq!(path(&g, "A", h), format!("/h/a/handmade_{h}.jpg"));
        assert_eq!(g.add("nope", fields(&[]), "x.png"), Err(Missing::Product));
        // Names as Magento stores them.
        assert_eq!(
            file_name("test_image", "image/jpeg").unwrap(),
            "test_image.jpg"
        );
        assert_eq!(file_name("pic", "image/png").unwrap(), "pic.png");
        assert_eq!(
            file_name("my pic!.PNG", "image/png").unwrap(),
            "my_pic_.PNG"
        );
        assert_eq!(file_name("!!.png", "image/png").unwrap(), "file.png");
        assert_eq!(
            file_name("doc.txt", "image/png").unwrap_err().message,
            BAD_EXTENSION
        );
    }

    #[test]
    fn roles_move_between_entries() {
        let mut g = Gallery::default();
        g.create_product("A");
        g.create_product("B");
        let a = g
            .add("A", fields(&["image", "small_image", "bogus"]), "a.png")
            .unwrap();
        let other = g.add("B", fields(&["image"]), "o.png").unwrap();
        assert_eq!(
            g.entry("A", a).unwrap()["types"],
            json!(["image", "small_image"])
        );
        let b = g
            .add("A", fields(&["image", "thumbnail"]), "b.png")
            .unwrap();
        assert_eq!(g.entry("A", a).unwrap()["types"], json!(["small_image"]));
        assert_eq!(
            g.entry("A", b).unwrap()["types"],
            json!(["image", "thumbnail"])
        );
        // Another product keeps its roles.
        assert_eq!(g.entry("B", other).unwrap()["types"], json!(["image"]));
        // An update takes roles too (even from an entry with a higher id).
        g.update("A", Some(a), fields(&["thumbnail", "small_image"]))
            .unwrap();
        assert_eq!(g.entry("A", b).unwrap()["types"], json!(["image"]));
        assert_eq!(
            g.entry("A", a).unwrap()["types"],
            json!(["small_image", "thumbnail"])
        );
        // A deleted entry frees its roles.
        g.remove("A", b).unwrap();
        let entries = g.entries("A").unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["types"], json!(["small_image", "thumbnail"]));
        assert_eq!(g.remove("A", b), Err(Missing::Image));
    }

    #[test]
    fn put_replaces_fields_and_ignores_content() {
        let mut g = Gallery::default();
        g.create_product("A");
        let id = g
            .add(
                "A",
                EntryFields {
                    label: Some("old".into()),
                    position: 5,
                    disabled: true,
                    types: vec!["image", "small_image"],
                },
                "keep.png",
            )
            .unwrap();
        let body = json!({ "entry": {
            "id": id, "media_type": "image", "types": ["thumbnail"], "label": null,
            "file": "/o/t/other.png",
            "content": { "base64_encoded_data": "!!!not base64", "type": "text/plain", "name": "x/y" },
        }});
        let (parsed_id, fields) = parse_update(&body).unwrap();
        assert_eq!(parsed_id, Some(id));
        g.update("A", parsed_id, fields).unwrap();
        assert_eq!(
            g.entry("A", id).unwrap(),
            json!({ "id": id, "media_type": "image", "label": null, "position": 0, "disabled": false,
                    "types": ["thumbnail"], "file": "/k/e/keep.png" })
        );
        // The id comes from the body; a missing or unknown one is "no image".
        let (none, f) = parse_update(&json!({ "entry": { "label": "x" } })).unwrap();
        assert_eq!(g.update("A", none, f.clone()), Err(Missing::Image));
        assert_eq!(g.update("A", Some(999), f.clone()), Err(Missing::Image));
        assert_eq!(g.update("Z", Some(id), f), Err(Missing::Product));
        assert_eq!(
            parse_update(&json!({ "entry": { "id": "7" } })).unwrap().0,
            Some(7)
        );
        assert_eq!(
            parse_update(&json!({})).unwrap_err().parameters,
            json!({ "fieldName": "entry" })
        );
    }

    fn post_body(data: &str, mime: &str, name: &str) -> Value {
        json!({ "entry": {
            "media_type": "image", "label": "L", "position": 2, "disabled": false, "types": ["image"],
            "content": { "base64_encoded_data": data, "type": mime, "name": name },
        }})
    }

    fn message(body: &Value) -> String {
        validate_new_entry(body).unwrap_err().message
    }

    #[test]
    fn validation_messages() {
        let png = BASE64.encode(PNG);
        let upload = validate_new_entry(&post_body(&png, "image/png", "test_image")).unwrap();
        assert_eq!(upload.file_name, "test_image.png");
        assert_eq!(upload.fields.position, 2);
        assert_eq!(upload.fields.types, vec!["image"]);
        assert!(
            validate_new_entry(&post_body(&BASE64.encode(JPEG), "image/jpeg", "a.jpg")).is_ok()
        );
        let gif = BASE64.encode(b"GIF89a\x01\x00\x01\x00");
        assert!(validate_new_entry(&post_body(&gif, "image/gif", "a.gif")).is_ok());
        let webp = BASE64.encode(b"RIFF\x10\x00\x00\x00WEBPVP8 ");
        assert!(validate_new_entry(&post_body(&webp, "image/webp", "a.webp")).is_ok());

        assert_eq!(
            message(&post_body("***", "image/png", "a.png")),
            BAD_CONTENT
        );
        let text = BASE64.encode(b"hello, not an image");
        assert_eq!(
            message(&post_body(&text, "image/png", "a.png")),
            BAD_CONTENT
        );
        assert_eq!(message(&post_body(&png, "image/jpeg", "a.png")), BAD_MIME);
        assert_eq!(message(&post_body(&png, "image/jpg", "a.png")), BAD_MIME);
        assert_eq!(message(&post_body(&png, "text/plain", "a.png")), BAD_MIME);
        for name in [
            "a/b.png", "a\\b.png", "a:b.png", "a*.png", "a?.png", "a\".png", "a<.png", "a>.png",
            "a|.png",
        ] {
            assert_eq!(
                message(&post_body(&png, "image/png", name)),
                BAD_NAME,
                "{name}"
            );
        }
        assert_eq!(message(&json!({})), CONTENT_REQUIRED);
        assert_eq!(
            message(&json!({ "entry": { "media_type": "image" } })),
            CONTENT_REQUIRED
        );
        let mut video = post_body(&png, "image/png", "a.png");
        video["entry"]["media_type"] = json!("external-video");
        assert_eq!(message(&video), BAD_MEDIA_TYPE);
        let mut bad_position = post_body(&png, "image/png", "a.png");
        bad_position["entry"]["position"] = json!("first");
        assert_eq!(message(&bad_position), INVALID_TYPE);
    }

    #[test]
    fn product_pages() {
        let mut g = Gallery::default();
        for sku in ["c", "a", "b"] {
            g.create_product(sku);
        }
        let skus = |items: Vec<Value>| -> Vec<String> {
            items
                .iter()
                .map(|i| i["sku"].as_str().unwrap().to_owned())
                .collect()
        };
        let (items, total) = g.products_page(2, 1);
        assert_eq!(
            (skus(items), total),
            (vec!["c".to_owned(), "a".to_owned()], 3)
        );
        assert_eq!(skus(g.products_page(2, 2).0), vec!["b"]);
        // Past the last page: the last page again, as Magento does.
        assert_eq!(skus(g.products_page(2, 9).0), vec!["b"]);
        assert_eq!(g.products_page(0, 1).0.len(), 3);
        assert_eq!(
            search_criteria("searchCriteria%5BpageSize%5D=5&searchCriteria[currentPage]=3"),
            Ok((5, 3))
        );
        assert_eq!(
            search_criteria("searchCriteria[currentPage]=2"),
            Ok((20, 2))
        );
        assert!(search_criteria("").is_err());
        assert!(search_criteria("searchCriteria[pageSize]=x").is_err());
        assert!(
            search_criteria("searchCriteria[filter_groups][0][filters][0][field]=sku").is_err()
        );
    }

    struct Client {
        http: reqwest::Client,
        settings: CommerceSettings,
        origin: String,
    }

    impl Client {
        async fn send(
            &self,
            method: &str,
            path: &str,
            query: &[(&str, &str)],
            body: Option<Value>,
        ) -> reqwest::Response {
            let nonce = format!("n{}", fastrand::u64(..));
            let (url, authorization) = sign(
                &self.settings,
                method,
                &self.origin,
                path,
                query,
                &nonce,
                unix_now(),
            );
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let mut request = self
                .http
                .request(method, url)
                .header("Authorization", authorization);
            if let Some(body) = body {
                request = request.json(&body);
            }
            request.send().await.unwrap()
        }
    }

    async fn started() -> (CommerceEmulator, Client) {
        let emulator = CommerceEmulator::start(settings(false), 0).await.unwrap();
        let client = Client {
            http: reqwest::Client::new(),
            settings: settings(false),
            origin: emulator.url().to_owned(),
        };
        (emulator, client)
    }

    #[tokio::test]
    async fn http_gallery_round_trip() {
        let (emulator, client) = started().await;
        assert!(emulator.create_product("SKU 1"));
        let handmade = emulator
            .add_handmade_entry("SKU 1", "by hand", 0, &["image", "thumbnail"], false)
            .unwrap();
        let media = "/rest/all/V1/products/SKU%201/media";

        // Unsigned: 401 in Magento's shape.
        let reply = client
            .http
            .get(format!("{}{media}", client.origin))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 401);
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["parameters"]["resources"], "Magento_Catalog::products");

        let png = BASE64.encode(PNG);
        let reply = client
            .send(
                "POST",
                media,
                &[],
                Some(post_body(&png, "image/png", "test_image.png")),
            )
            .await;
        assert_eq!(reply.status(), 200);
        let id: String = reply.json().await.unwrap();
        let id: u64 = id.parse().unwrap();

        let reply = client.send("GET", media, &[], None).await;
        assert_eq!(reply.status(), 200);
        let listed: Value = reply.json().await.unwrap();
        assert_eq!(Value::Array(emulator.entries("SKU 1").unwrap()), listed);
        assert_eq!(listed[0]["id"], json!(handmade));
        assert_eq!(listed[0]["types"], json!(["thumbnail"]));
        assert_eq!(listed[1]["file"], "/t/e/test_image.png");
        assert_eq!(listed[1]["types"], json!(["image"]));

        // PUT names the entry in the body; the URL id is ignored.
        let update = json!({ "entry": { "id": id, "media_type": "image", "label": "alt", "position": 3,
                                         "disabled": false, "types": ["image", "thumbnail"] } });
        let reply = client
            .send("PUT", &format!("{media}/999999"), &[], Some(update))
            .await;
        assert_eq!(reply.status(), 200);
        assert_eq!(reply.json::<Value>().await.unwrap(), json!(true));
        let reply = client
            .send("GET", &format!("{media}/{handmade}"), &[], None)
            .await;
        assert_eq!(reply.json::<Value>().await.unwrap()["types"], json!([]));

        let reply = client
            .send("DELETE", &format!("{media}/{id}"), &[], None)
            .await;
        assert_eq!(reply.json::<Value>().await.unwrap(), json!(true));
        let reply = client
            .send("DELETE", &format!("{media}/{id}"), &[], None)
            .await;
        assert_eq!(reply.status(), 404);
        assert_eq!(reply.json::<Value>().await.unwrap()["message"], NO_IMAGE);

        let reply = client
            .send("GET", "/rest/all/V1/products/missing/media", &[], None)
            .await;
        assert_eq!(reply.status(), 404);
        assert_eq!(reply.json::<Value>().await.unwrap()["message"], NO_PRODUCT);
        let reply = client
            .send("GET", "/rest/french/V1/products/SKU%201/media", &[], None)
            .await;
        assert_eq!(reply.status(), 404);
        assert_eq!(reply.json::<Value>().await.unwrap()["message"], NO_STORE);

        // Validation errors arrive as 400.
        let reply = client
            .send(
                "POST",
                media,
                &[],
                Some(post_body(&png, "image/jpeg", "x.png")),
            )
            .await;
        assert_eq!(reply.status(), 400);
        assert_eq!(reply.json::<Value>().await.unwrap()["message"], BAD_MIME);

        emulator.create_product("SKU-2");
        let reply = client
            .send(
                "GET",
                "/rest/default/V1/products",
                &[
                    ("searchCriteria[pageSize]", "1"),
                    ("searchCriteria[currentPage]", "2"),
                ],
                None,
            )
            .await;
        let page: Value = reply.json().await.unwrap();
        assert_eq!(page["total_count"], 2);
        assert_eq!(page["items"][0]["sku"], "SKU-2");

        emulator.set_credentials_valid(false);
        assert_eq!(client.send("GET", media, &[], None).await.status(), 401);
        let stats = emulator.stats();
        assert_eq!(stats.unauthorized, 2);
        assert_eq!((stats.posts, stats.puts, stats.deletes), (2, 1, 2));
    }

    #[tokio::test]
    async fn http_faults() {
        let (emulator, client) = started().await;
        emulator.create_product("P");
        let media = "/rest/all/V1/products/P/media";
        emulator.inject(Fault::Status {
            status: 429,
            retry_after_secs: Some(1),
            count: 1,
        });
        let reply = client.send("GET", media, &[], None).await;
        assert_eq!(reply.status(), 429);
        assert_eq!(reply.headers()["retry-after"], "1");
        // Too early: answered, but counted.
        assert_eq!(client.send("GET", media, &[], None).await.status(), 200);
        let stats = emulator.stats();
        assert_eq!((stats.throttled, stats.requests_during_retry_after), (1, 1));
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(client.send("GET", media, &[], None).await.status(), 200);
        assert_eq!(emulator.stats().requests_during_retry_after, 1);

        // Committed, then the reply is late: a client that gives up still left an entry behind.
        emulator.inject(Fault::DelayAfterCommit {
            millis: 500,
            count: 1,
        });
        let png = BASE64.encode(PNG);
        let nonce = "late-post";
        let (url, authorization) = sign(
            &client.settings,
            "POST",
            &client.origin,
            media,
            &[],
            nonce,
            unix_now(),
        );
        let outcome = client
            .http
            .post(url)
            .header("Authorization", authorization)
            .json(&post_body(&png, "image/png", "late.png"))
            .timeout(Duration::from_millis(100))
            .send()
            .await;
        assert!(outcome.is_err());
        assert_eq!(emulator.entries("P").unwrap().len(), 1);

        // Control API.
        let control = format!("{}/control", client.origin);
        let reply: Value = client
            .http
            .post(format!("{control}/faults"))
            .json(&json!({ "status": 503, "count": 1 }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(reply["queued"], true);
        assert_eq!(client.send("GET", media, &[], None).await.status(), 503);
        let stats: Value = client
            .http
            .get(format!("{control}/stats"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(stats["throttled"], 2);
        let product: Value = client
            .http
            .get(format!("{control}/products/P"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(product["entries"][0]["file"], "/l/a/late.png");
    }
}
