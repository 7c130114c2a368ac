//! The TOML configuration of `assetsync serve`. Relative paths are relative to the file's folder.

use anyhow::{Context, bail};
use connectors::ims::{DEFAULT_IMS_TOKEN_URL, ImsCredentials, TokenProvider};
use connectors::ioevents::{DEFAULT_KEY_HOST, KeyHostSettings};
use connectors::magento::MagentoAuth;
use connectors::oauth1::OAuth1Credentials;
use domain::config::{IntegrationConfig, UrlPolicy};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The example configuration printed by `assetsync default-config`.
pub const EXAMPLE: &str = include_str!("../assetsync.example.toml");

/// The whole configuration file.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    pub admin_token: String,
    pub aem: AemConfig,
    pub events: EventsConfig,
    #[serde(default)]
    pub commerce: CommerceConfig,
    #[serde(default)]
    pub sync: SyncConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub http: HttpConfig,
}

/// `[http]`: the limits of the public listener (webhook, APIs, health).
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Seconds a client has to send a request's line and headers, counted from the connection's start or
    /// from the previous response (so also the idle keep-alive timeout); 1–30.
    #[serde(default = "default_header_timeout_seconds")]
    pub header_timeout_seconds: u64,
    /// Seconds a client has to send a request's whole body (then 408); 1–600.
    #[serde(default = "default_body_timeout_seconds")]
    pub body_timeout_seconds: u64,
    /// Connections served at once; more wait unread in the listen backlog.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Requests handled at once; more are answered 503 `overloaded` at once.
    #[serde(default = "default_max_requests")]
    pub max_requests: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            header_timeout_seconds: default_header_timeout_seconds(),
            body_timeout_seconds: default_body_timeout_seconds(),
            max_connections: default_max_connections(),
            max_requests: default_max_requests(),
        }
    }
}

fn default_header_timeout_seconds() -> u64 {
    10
}

fn default_body_timeout_seconds() -> u64 {
    30
}

fn default_max_connections() -> usize {
    1024
}

/// Requests in flight ≈ rate × acknowledgement time: at 1,000 events/s, with acknowledgements waiting for the
/// group commit (hundreds of ms under that load), 256 shed deliveries; 1024 (as many as `max_connections`)
/// holds acknowledgements of up to about a second.
fn default_max_requests() -> usize {
    1024
}

impl HttpConfig {
    /// The listener's limits, checked.
    pub fn limits(&self) -> anyhow::Result<web::ListenerLimits> {
        if !(1..=30).contains(&self.header_timeout_seconds) {
            bail!("http.header_timeout_seconds must be between 1 and 30");
        }
        if !(1..=600).contains(&self.body_timeout_seconds) {
            bail!("http.body_timeout_seconds must be between 1 and 600");
        }
        if self.max_connections == 0 {
            bail!("http.max_connections must be at least 1");
        }
        if self.max_requests == 0 {
            bail!("http.max_requests must be at least 1");
        }
        Ok(web::ListenerLimits {
            header_timeout: std::time::Duration::from_secs(self.header_timeout_seconds),
            body_timeout: std::time::Duration::from_secs(self.body_timeout_seconds),
            max_connections: self.max_connections,
            max_requests: self.max_requests,
        })
    }
}

/// The admin token of the example configuration, refused at start-up.
pub const PLACEHOLDER_ADMIN_TOKEN: &str = "change-me-please";

/// The shortest admin token accepted.
pub const MIN_ADMIN_TOKEN_LEN: usize = 24;

/// The example configuration with a fresh random admin token (32 bytes from the system's CSPRNG, hex).
pub fn example_with_random_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system's random number generator failed"))?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(EXAMPLE.replacen(
        &format!("admin_token = \"{PLACEHOLDER_ADMIN_TOKEN}\""),
        &format!("admin_token = \"{token}\""),
        1,
    ))
}

/// `[metrics]`: Prometheus text at `/metrics`, on a listener of its own.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// `false`: no metrics listener.
    #[serde(default = "default_metrics_enabled")]
    pub enabled: bool,
    /// Where `/metrics` is served (default loopback only: `127.0.0.1:9464`).
    #[serde(default = "default_metrics_listen")]
    pub listen: SocketAddr,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: default_metrics_enabled(),
            listen: default_metrics_listen(),
        }
    }
}

fn default_metrics_enabled() -> bool {
    true
}

fn default_metrics_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9464))
}

/// `[aem]`: the AEM environment and its endpoints.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AemConfig {
    pub program_id: String,
    pub environment_id: String,
    /// Operator endpoint override of the Author API; default `https://author-p<P>-e<E>.adobeaemcloud.com`.
    pub author_url: Option<String>,
    /// Operator endpoint override of delivery; default `https://delivery-p<P>-e<E>.adobeaemcloud.com`.
    pub delivery_url: Option<String>,
    /// A static IMS bearer token (either this or `client_id` + `client_secret`).
    pub access_token: Option<String>,
    /// IMS server-to-server (OAuth client credentials) integration: tokens are minted and refreshed.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// The IMS organization (`…@AdobeOrg`), sent as `x-gw-ims-org-id`.
    pub ims_org_id: Option<String>,
    /// Scopes of the credential (as in the Developer Console), sent comma-separated.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The IMS token endpoint; default Adobe's.
    pub ims_token_url: Option<String>,
}

/// How long an IMS token request may take.
const IMS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

impl AemConfig {
    /// Where the Author API and journal tokens come from: IMS client credentials, or the static token.
    pub fn token_provider(&self) -> anyhow::Result<TokenProvider> {
        let set = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let static_token = set(&self.access_token);
        match (set(&self.client_id), set(&self.client_secret), static_token) {
            (Some(_), Some(_), Some(_)) => bail!(
                "aem.access_token and aem.client_id/client_secret exclude each other: set one of them"
            ),
            (Some(client_id), Some(client_secret), None) => {
                let token_url = self
                    .ims_token_url
                    .clone()
                    .unwrap_or_else(|| DEFAULT_IMS_TOKEN_URL.to_owned());
                check_https_or_local("aem.ims_token_url", &token_url)?;
                let credentials = ImsCredentials {
                    token_url,
                    client_id,
                    client_secret,
                    org_id: set(&self.ims_org_id),
                    scopes: self
                        .scopes
                        .iter()
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect(),
                };
                Ok(TokenProvider::client_credentials(credentials, IMS_TIMEOUT)?)
            }
            (Some(_), None, _) => {
                bail!("aem.client_secret is required with aem.client_id")
            }
            (None, Some(_), _) => {
                bail!("aem.client_id is required with aem.client_secret")
            }
            (None, None, Some(token)) => Ok(TokenProvider::static_token(&token)),
            (None, None, None) => bail!(
                "[aem] needs credentials: either access_token, or client_id and client_secret (an IMS \
                 server-to-server integration)"
            ),
        }
    }
}

/// A URL that receives a token or a secret (IMS, Author API, journal, a bearer store) or keys (the key host)
/// must be https; plain http is allowed only to this machine (emulators, tests).
fn check_https_or_local(field: &str, url: &str) -> anyhow::Result<()> {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        bail!("{field} is not a URL");
    };
    if connectors::http::credentials_allowed(&parsed) {
        Ok(())
    } else {
        bail!(
            "{field} must be an https URL: tokens and secrets go over https only (plain http only to \
             127.0.0.1, ::1 or localhost)"
        )
    }
}

/// `[events]`: Adobe I/O Events deliveries.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EventsConfig {
    pub recipient_client_id: String,
    /// Pinned PEM (SPKI or PKCS#1) or DER files of I/O Events public keys (may be empty: the key host).
    #[serde(default)]
    pub public_keys: Vec<PathBuf>,
    /// The one host the keys named by `x-adobe-public-key1-path` / `-2-path` are fetched from.
    pub key_host: Option<String>,
    /// Seconds a fetched key is used before it is fetched again (at most 86400).
    pub key_cache_seconds: Option<u64>,
    /// The registration's Journaling API URL: missed events are caught up from it, beside the webhook.
    pub journal_url: Option<String>,
    /// `x-api-key` sent to the journal (the integration's client id).
    pub api_key: Option<String>,
}

/// The longest a key fetched from the key host is used before it is fetched again (Adobe: at most 24 h).
const MAX_KEY_CACHE_SECONDS: u64 = 24 * 3600;

impl EventsConfig {
    /// The key host deliveries' key paths are resolved on (default Adobe's), checked.
    pub fn key_host_settings(&self) -> anyhow::Result<KeyHostSettings> {
        let origin = self
            .key_host
            .clone()
            .unwrap_or_else(|| DEFAULT_KEY_HOST.to_owned());
        check_https_or_local("events.key_host", &origin)?;
        if reqwest::Url::parse(&origin).is_ok_and(|url| url.path() != "/" || url.query().is_some())
        {
            bail!("events.key_host must be an origin (scheme and host, no path)");
        }
        let seconds = self.key_cache_seconds.unwrap_or(MAX_KEY_CACHE_SECONDS);
        if !(1..=MAX_KEY_CACHE_SECONDS).contains(&seconds) {
            bail!(
                "events.key_cache_seconds must be between 1 and {MAX_KEY_CACHE_SECONDS} (24 hours)"
            );
        }
        Ok(KeyHostSettings {
            origin,
            max_age: std::time::Duration::from_secs(seconds),
            timeout: std::time::Duration::from_secs(5),
            max_paths: connectors::ioevents::DEFAULT_MAX_KEY_PATHS,
        })
    }
}

/// `[commerce]`: where galleries are written.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CommerceConfig {
    /// `builtin` (assetsync holds the galleries) or `adobe-commerce` (a Magento 2 store).
    pub kind: String,
    /// The store's base URL (`adobe-commerce`).
    pub base_url: Option<String>,
    pub consumer_key: Option<String>,
    pub consumer_secret: Option<String>,
    pub access_token: Option<String>,
    pub access_token_secret: Option<String>,
    /// `oauth1` (default: OAuth 1.0a HMAC-SHA256 signing) or `bearer` (`access_token` as a bearer token).
    #[serde(default = "default_auth")]
    pub auth: String,
    /// Concurrent commerce writes (one at a time per SKU).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Seconds before a commerce request times out (it is then retried).
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// The largest DAM binary the Magento sink downloads to upload (bytes); a larger one fails its asset.
    #[serde(default = "default_max_binary_bytes")]
    pub max_binary_bytes: u64,
}

impl Default for CommerceConfig {
    fn default() -> Self {
        Self {
            kind: "builtin".into(),
            base_url: None,
            consumer_key: None,
            consumer_secret: None,
            access_token: None,
            access_token_secret: None,
            auth: default_auth(),
            concurrency: default_concurrency(),
            timeout_seconds: default_timeout_seconds(),
            max_binary_bytes: default_max_binary_bytes(),
        }
    }
}

fn default_auth() -> String {
    "oauth1".into()
}

fn default_concurrency() -> usize {
    64
}

fn default_timeout_seconds() -> u64 {
    30
}

/// 50 MiB: a product image is far smaller; memory for downloads stays within concurrency × this.
fn default_max_binary_bytes() -> u64 {
    50 * 1024 * 1024
}

/// The most `max_binary_bytes` may be (1 GiB): Magento takes the binary base64-encoded in one JSON body.
const MAX_BINARY_BYTES_LIMIT: u64 = 1024 * 1024 * 1024;

/// The commerce sink the configuration asks for.
pub enum SinkChoice {
    Builtin,
    AdobeCommerce { base_url: String, auth: MagentoAuth },
}

impl CommerceConfig {
    /// Checks the section and says which sink to build.
    pub fn sink(&self) -> anyhow::Result<SinkChoice> {
        let required = |name: &str, value: &Option<String>| -> anyhow::Result<String> {
            match value.as_deref().map(str::trim) {
                Some(v) if !v.is_empty() => Ok(v.to_owned()),
                _ => bail!("commerce.{name} is required when commerce.kind = \"adobe-commerce\""),
            }
        };
        if self.max_binary_bytes == 0 || self.max_binary_bytes > MAX_BINARY_BYTES_LIMIT {
            bail!(
                "commerce.max_binary_bytes must be from 1 to {MAX_BINARY_BYTES_LIMIT} (1 GiB), got {}",
                self.max_binary_bytes
            );
        }
        match self.kind.as_str() {
            "builtin" => Ok(SinkChoice::Builtin),
            "adobe-commerce" => {
                let base_url = required("base_url", &self.base_url)?;
                if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
                    bail!("commerce.base_url must be an http(s) URL");
                }
                let auth = match self.auth.as_str() {
                    "oauth1" => MagentoAuth::OAuth1(OAuth1Credentials {
                        consumer_key: required("consumer_key", &self.consumer_key)?,
                        consumer_secret: required("consumer_secret", &self.consumer_secret)?,
                        access_token: required("access_token", &self.access_token)?,
                        access_token_secret: required(
                            "access_token_secret",
                            &self.access_token_secret,
                        )?,
                    }),
                    "bearer" => {
                        check_https_or_local(
                            "commerce.base_url (with auth = \"bearer\")",
                            &base_url,
                        )?;
                        MagentoAuth::Bearer(required("access_token", &self.access_token)?)
                    }
                    other => bail!("commerce.auth {other:?} is not supported (oauth1 or bearer)"),
                };
                if self.concurrency == 0 {
                    bail!("commerce.concurrency must be at least 1");
                }
                if self.timeout_seconds == 0 {
                    bail!("commerce.timeout_seconds must be at least 1");
                }
                Ok(SinkChoice::AdobeCommerce { base_url, auth })
            }
            other => bail!("commerce.kind {other:?} is not supported (builtin or adobe-commerce)"),
        }
    }
}

/// `[sync]`: matching and the sync switch.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// When false, events are verified, stored and acknowledged, and nothing is written to commerce.
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "default_sku_attribute")]
    pub sku_attribute: String,
    /// `match_by_sku` (default), `filename` or `custom_match`.
    pub matching_rule: Option<String>,
    /// `filename`: regular expressions over `repo:name` with a named group `sku` (and optionally `position`,
    /// `role`); the first that matches wins.
    pub filename_rules: Option<Vec<String>>,
    /// `custom_match`: the matcher's asset-to-product endpoint.
    pub asset_to_product_url: Option<String>,
    /// `custom_match`: the matcher's product-to-asset endpoint.
    pub product_to_asset_url: Option<String>,
    /// Lets matcher and token URLs use plain http (local testing only; default false).
    #[serde(default)]
    pub allow_insecure_matcher_urls: bool,
    /// Seconds one custom matcher call may take (default 10).
    pub matcher_timeout_seconds: Option<u64>,
    /// `aem_assets` (default) or `commerce`.
    pub visualization_owner: Option<String>,
    /// A host or https URL that replaces the delivery host in published URLs.
    pub asset_custom_domain: Option<String>,
    /// false: only a change of `dam:status` or a deletion acts (strict parity with the reference).
    pub resync_on_metadata_change: Option<bool>,
    /// The Asset Selector IMS client id (informational).
    pub ims_client_id: Option<String>,
    /// Attempts at a product's work before it goes to the dead letters (default 60: about 24 hours).
    pub max_attempts: Option<u32>,
    /// SKUs linked per asset at most (default 1000).
    pub max_skus_per_asset: Option<usize>,
    /// Days events, finished syncs and statuses of unlinked assets are kept (default and minimum 8).
    pub retention_days: Option<u64>,
    /// Seconds between anti-entropy passes (default 600).
    pub anti_entropy_seconds: Option<u64>,
    /// The longest `Retry-After` honoured as given, in seconds (default 3600); longer ones are cut to it.
    pub max_retry_after_seconds: Option<u64>,
    /// Seconds a claimed work item stays leased (default 60; renewed every third of it while the work runs).
    /// For tests; not documented for users.
    pub lease_seconds: Option<u64>,
    /// DAM reads pause when AEM answers 404/403 for this many different assets (default 50) ...
    pub dam_missing_pause_assets: Option<usize>,
    /// ... within this many seconds (default 60).
    pub dam_missing_pause_window_seconds: Option<u64>,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            sku_attribute: default_sku_attribute(),
            matching_rule: None,
            filename_rules: None,
            asset_to_product_url: None,
            product_to_asset_url: None,
            allow_insecure_matcher_urls: false,
            matcher_timeout_seconds: None,
            visualization_owner: None,
            asset_custom_domain: None,
            resync_on_metadata_change: None,
            ims_client_id: None,
            max_attempts: None,
            max_skus_per_asset: None,
            retention_days: None,
            anti_entropy_seconds: None,
            max_retry_after_seconds: None,
            lease_seconds: None,
            dam_missing_pause_assets: None,
            dam_missing_pause_window_seconds: None,
        }
    }
}

fn yes() -> bool {
    true
}

fn default_sku_attribute() -> String {
    "commerce:skus".into()
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database_url", &store::redact_url(&self.database_url))
            .field("admin_token", &"***")
            .field("program_id", &self.aem.program_id)
            .field("environment_id", &self.aem.environment_id)
            .field("author_url", &self.aem.author_url)
            .field("access_token_set", &self.aem.access_token.is_some())
            .field("client_id", &self.aem.client_id)
            .field("client_secret_set", &self.aem.client_secret.is_some())
            .field("recipient_client_id", &self.events.recipient_client_id)
            .field("commerce", &self.commerce.kind)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Reads, parses, resolves relative paths and checks the file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read the configuration file {}", path.display()))?;
        // The parser's own message quotes the offending line, which may hold a secret: report position only.
        let mut config: Self = toml::from_str(&text).map_err(|e| {
            let line = e.span().map_or(0, |span| {
                text[..span.start.min(text.len())].lines().count().max(1)
            });
            anyhow::anyhow!(
                "{} is not a valid configuration (line {line}): {}",
                path.display(),
                e.message()
            )
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        config.check()?;
        Ok(config)
    }

    /// Makes relative paths (SQLite file, key files) relative to `base`.
    pub fn resolve_paths(&mut self, base: &Path) {
        if let Some(rest) = self.database_url.strip_prefix("sqlite://") {
            let (file, query) = rest
                .split_once('?')
                .map_or((rest, None), |(f, q)| (f, Some(q)));
            if !file.is_empty() && !file.starts_with('/') && file != ":memory:" {
                let joined = base.join(file);
                self.database_url = match query {
                    Some(q) => format!("sqlite://{}?{q}", joined.display()),
                    None => format!("sqlite://{}", joined.display()),
                };
            }
        }
        for key in &mut self.events.public_keys {
            if key.is_relative() {
                *key = base.join(&key);
            }
        }
    }

    fn check(&self) -> anyhow::Result<()> {
        let token = self.admin_token.trim();
        if token == PLACEHOLDER_ADMIN_TOKEN {
            bail!(
                "admin_token is the example's placeholder {PLACEHOLDER_ADMIN_TOKEN:?}: set a secret of at least \
                 {MIN_ADMIN_TOKEN_LEN} characters (`assetsync default-config` prints a random one)"
            );
        }
        if token.chars().count() < MIN_ADMIN_TOKEN_LEN {
            bail!(
                "admin_token must be at least {MIN_ADMIN_TOKEN_LEN} characters (`assetsync default-config` prints \
                 a random one)"
            );
        }
        self.http.limits()?;
        for (name, value) in [
            ("aem.program_id", &self.aem.program_id),
            ("aem.environment_id", &self.aem.environment_id),
        ] {
            if value.is_empty() || !value.chars().all(|c| c.is_ascii_digit()) {
                bail!(
                    "{name} must be digits (as in author-p<program>-e<environment>.adobeaemcloud.com)"
                );
            }
        }
        self.aem.token_provider()?;
        if let Some(url) = &self.aem.author_url {
            check_https_or_local("aem.author_url", url)?;
        }
        if let Some(url) = &self.events.journal_url {
            check_https_or_local("events.journal_url", url)?;
        }
        self.events.key_host_settings()?;
        self.commerce.sink()?;
        self.integration_config()?;
        if self.sync.max_attempts == Some(0) {
            bail!("sync.max_attempts must be at least 1");
        }
        if self.sync.max_skus_per_asset == Some(0) {
            bail!("sync.max_skus_per_asset must be at least 1");
        }
        if self.sync.matcher_timeout_seconds == Some(0) {
            bail!("sync.matcher_timeout_seconds must be at least 1");
        }
        if self.sync.anti_entropy_seconds == Some(0) {
            bail!("sync.anti_entropy_seconds must be at least 1");
        }
        if self.sync.max_retry_after_seconds == Some(0) {
            bail!("sync.max_retry_after_seconds must be at least 1");
        }
        if self.sync.dam_missing_pause_assets == Some(0) {
            bail!("sync.dam_missing_pause_assets must be at least 1");
        }
        if self.sync.dam_missing_pause_window_seconds == Some(0) {
            bail!("sync.dam_missing_pause_window_seconds must be at least 1");
        }
        if self.sync.lease_seconds == Some(0) {
            bail!("sync.lease_seconds must be at least 1");
        }
        if self.sync.retention_days.is_some_and(|days| days < 8) {
            bail!("sync.retention_days must be at least 8 (I/O Events journals keep 7 days)");
        }
        Ok(())
    }

    /// The integration's configuration as this file gives it (the API's stored values win once saved).
    pub fn integration_config(&self) -> anyhow::Result<IntegrationConfig> {
        let defaults = IntegrationConfig::defaults(&self.aem.program_id, &self.aem.environment_id);
        let mut initial = serde_json::Map::new();
        initial.insert("sync_enabled".into(), json!(self.sync.enabled));
        initial.insert("sku_attribute".into(), json!(self.sync.sku_attribute));
        let optional = [
            (
                "matching_rule",
                self.sync.matching_rule.as_ref().map(|v| json!(v)),
            ),
            (
                "filename_rules",
                self.sync.filename_rules.as_ref().map(|v| json!(v)),
            ),
            (
                "asset_to_product_url",
                self.sync.asset_to_product_url.as_ref().map(|v| json!(v)),
            ),
            (
                "product_to_asset_url",
                self.sync.product_to_asset_url.as_ref().map(|v| json!(v)),
            ),
            (
                "visualization_owner",
                self.sync.visualization_owner.as_ref().map(|v| json!(v)),
            ),
            (
                "asset_custom_domain",
                self.sync.asset_custom_domain.as_ref().map(|v| json!(v)),
            ),
            (
                "resync_on_metadata_change",
                self.sync.resync_on_metadata_change.map(|v| json!(v)),
            ),
            (
                "ims_client_id",
                self.sync.ims_client_id.as_ref().map(|v| json!(v)),
            ),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                initial.insert(key.into(), value);
            }
        }
        match defaults.apply_change(&Value::Object(initial), &defaults, self.url_policy()) {
            Ok((config, _)) => Ok(config),
            Err(errors) => {
                let list: Vec<String> = errors
                    .iter()
                    .map(|(field, message)| format!("sync.{field}: {message}"))
                    .collect();
                bail!("invalid [sync] settings: {}", list.join("; "))
            }
        }
    }

    /// The longest `Retry-After` honoured as given (`[sync] max_retry_after_seconds`, default an hour).
    pub fn max_retry_after(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.sync.max_retry_after_seconds.unwrap_or(3600))
    }

    /// Whether matcher URLs may be plain http.
    pub fn url_policy(&self) -> UrlPolicy {
        if self.sync.allow_insecure_matcher_urls {
            UrlPolicy::AllowInsecure
        } else {
            UrlPolicy::HttpsOnly
        }
    }

    /// Like [`Self::integration_config`], for a file already checked by `load`.
    pub fn initial_integration_config(&self) -> IntegrationConfig {
        self.integration_config().unwrap_or_else(|_| {
            IntegrationConfig::defaults(&self.aem.program_id, &self.aem.environment_id)
        })
    }

    /// The Author API origin: the override, else derived from program and environment.
    pub fn author_origin(&self) -> String {
        self.aem.author_url.clone().unwrap_or_else(|| {
            domain::urls::default_author_origin(&self.aem.program_id, &self.aem.environment_id)
        })
    }

    /// The delivery origin: the override, else derived from program and environment.
    pub fn delivery_origin(&self) -> String {
        self.aem.delivery_url.clone().unwrap_or_else(|| {
            domain::urls::default_delivery_origin(&self.aem.program_id, &self.aem.environment_id)
        })
    }
}
