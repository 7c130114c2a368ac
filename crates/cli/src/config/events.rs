//! `[events]`: Adobe I/O Events deliveries (recipient, public keys, key host, journal).

use super::aem::check_https_or_local;
use anyhow::bail;
use connectors::ioevents::{DEFAULT_KEY_HOST, KeyHostSettings};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
