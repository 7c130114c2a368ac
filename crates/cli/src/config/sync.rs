//! `[sync]`: matching, the sync switch and the engine's operating limits.

use serde::{Deserialize, Serialize};

/// `[sync]`: matching and the sync switch.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// When false, events are verified, stored and acknowledged, and nothing is written to commerce.
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "default_sku_attribute")]
    pub sku_attribute: String,
    /// The metadata property listing the store views an asset is hidden in (default
    /// `commerce:hiddenStoreViews`).
    pub hidden_store_views_property: Option<String>,
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
            hidden_store_views_property: None,
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
