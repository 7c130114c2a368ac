//! The configuration of `assetsync serve` and `worker`: a TOML file and `ASSETSYNC_*` environment variables
//! over it (see [`source`]), one module per table. Relative paths are relative to the file's folder.

mod admin;
mod admin_oidc;
mod aem;
mod check;
mod commerce;
mod events;
mod service;
mod source;
mod sync;

pub use admin::AdminConfig;
pub use aem::AemConfig;
pub use check::Problems;
pub use commerce::{CommerceConfig, SinkChoice};
pub use events::EventsConfig;
pub use service::{HttpConfig, LogConfig, LogFormat, MetricsConfig};
pub use sync::SyncConfig;

use anyhow::bail;
use domain::config::{IntegrationConfig, UrlPolicy};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The example configuration printed by `assetsync default-config`.
pub const EXAMPLE: &str = include_str!("../../assetsync.example.toml");

/// The whole configuration. A secret (`admin_token`, `database_url`, and the credentials of `[aem]` and
/// `[commerce]`) may instead be read from a file named by its `_file` twin.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub listen: SocketAddr,
    #[serde(default)]
    pub database_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_url_file: Option<PathBuf>,
    #[serde(default)]
    pub admin_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_token_file: Option<PathBuf>,
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
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub admin: AdminConfig,
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
    /// Reads the file (optional: without it, everything comes from the environment), merges the environment
    /// over it, resolves relative paths and reads the secrets' `_file` twins; nothing is checked yet.
    pub fn read(path: Option<&Path>) -> Result<Self, Problems> {
        source::read(path)
    }

    /// [`Self::read`], then every check of [`Self::problems`].
    pub fn load(path: Option<&Path>) -> Result<Self, Problems> {
        let config = Self::read(path)?;
        let problems = config.problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(Problems(problems))
        }
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
        let files = [
            &mut self.admin_token_file,
            &mut self.database_url_file,
            &mut self.aem.client_secret_file,
            &mut self.aem.access_token_file,
            &mut self.commerce.consumer_secret_file,
            &mut self.commerce.access_token_file,
            &mut self.commerce.access_token_secret_file,
        ];
        for path in self
            .events
            .public_keys
            .iter_mut()
            .chain(files.into_iter().flatten())
        {
            if path.is_relative() {
                *path = base.join(&path);
            }
        }
        if let Some(path) = self
            .admin
            .oidc
            .as_mut()
            .and_then(|o| o.client_secret_file.as_mut())
            && path.is_relative()
        {
            *path = base.join(&path);
        }
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
                "hidden_store_views_property",
                self.sync
                    .hidden_store_views_property
                    .as_ref()
                    .map(|v| json!(v)),
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
