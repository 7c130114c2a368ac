//! The TOML configuration of `assetsync serve`. Relative paths are relative to the file's folder.

use anyhow::{Context, bail};
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The example configuration printed by `assetsync default-config`.
pub const EXAMPLE: &str = include_str!("../assetsync.example.toml");

/// The whole configuration file.
#[derive(Clone, Deserialize)]
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
}

/// `[aem]`: the AEM environment and its endpoints.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AemConfig {
    pub program_id: String,
    pub environment_id: String,
    /// Operator endpoint override of the Author API; default `https://author-p<P>-e<E>.adobeaemcloud.com`.
    pub author_url: Option<String>,
    /// Operator endpoint override of delivery; default `https://delivery-p<P>-e<E>.adobeaemcloud.com`.
    pub delivery_url: Option<String>,
    pub access_token: String,
}

/// `[events]`: Adobe I/O Events deliveries.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsConfig {
    pub recipient_client_id: String,
    /// PEM (SPKI or PKCS#1) or DER files of the I/O Events public keys.
    pub public_keys: Vec<PathBuf>,
}

/// `[commerce]`: where galleries are written.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommerceConfig {
    pub kind: String,
}

impl Default for CommerceConfig {
    fn default() -> Self {
        Self {
            kind: "builtin".into(),
        }
    }
}

/// `[sync]`: matching and the sync switch.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// When false, events are verified, stored and acknowledged, and nothing is written to commerce.
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "default_sku_attribute")]
    pub sku_attribute: String,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            sku_attribute: default_sku_attribute(),
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
            .field("database_url", &self.database_url)
            .field("admin_token", &"***")
            .field("program_id", &self.aem.program_id)
            .field("environment_id", &self.aem.environment_id)
            .field("author_url", &self.aem.author_url)
            .field("access_token", &"***")
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
        if self.admin_token.trim().len() < 8 {
            bail!("admin_token must be at least 8 characters");
        }
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
        if self.events.public_keys.is_empty() {
            bail!("events.public_keys must name at least one public key file");
        }
        if self.commerce.kind != "builtin" {
            bail!(
                "commerce.kind {:?} is not supported (supported: \"builtin\")",
                self.commerce.kind
            );
        }
        Ok(())
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
