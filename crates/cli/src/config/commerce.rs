//! `[commerce]`: where galleries are written (the built-in catalog or an Adobe Commerce store).

use super::aem::check_https_or_local;
use anyhow::bail;
use connectors::magento::MagentoAuth;
use connectors::oauth1::OAuth1Credentials;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
    /// `consumer_secret` read from this file instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_secret_file: Option<PathBuf>,
    pub access_token: Option<String>,
    /// `access_token` read from this file instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_file: Option<PathBuf>,
    pub access_token_secret: Option<String>,
    /// `access_token_secret` read from this file instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_secret_file: Option<PathBuf>,
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
            consumer_secret_file: None,
            access_token: None,
            access_token_file: None,
            access_token_secret: None,
            access_token_secret_file: None,
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
