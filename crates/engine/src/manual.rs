//! Manual links (a person's choice of DAM assets for a product) and the DAM search the picker uses. The JSON
//! API and the admin console both go through these calls. Precedence and what no sync may change:
//! `domain::manual`.

use crate::{Engine, EngineError, view_of};
use connectors::aem::MetadataReply;
use domain::metadata::{LinkFacts, MAX_POSITION};
use domain::{AssetId, AssetMetadata, DesiredLink, ManualLink, MediaType, Role, Sku};
use std::collections::BTreeSet;

/// What a person asks to link.
#[derive(Debug, Clone)]
pub struct NewManualLink {
    pub asset_id: AssetId,
    pub roles: BTreeSet<Role>,
    /// `None`: after the positioned entries.
    pub position: Option<u32>,
}

/// One page of approved DAM assets for the picker.
#[derive(Debug, Clone)]
pub struct DamSearchPage {
    pub assets: Vec<DamAsset>,
    /// Send it back for the next page; `None` on the last one.
    pub cursor: Option<String>,
    /// The total the DAM reported, when it did.
    pub total: Option<i64>,
}

/// One approved DAM asset as the picker shows it.
#[derive(Debug, Clone)]
pub struct DamAsset {
    pub asset_id: AssetId,
    pub name: Option<String>,
    pub path: Option<String>,
    pub title: Option<String>,
    pub media_type: MediaType,
    /// A small rendition (240 px wide) under the published origin (the custom domain when set).
    pub thumbnail_url: String,
}

/// The most results one search page may ask for.
pub const MAX_SEARCH_PAGE: u32 = 100;

impl Engine {
    /// Links an approved DAM asset to a known product by hand (or replaces that link): read from the DAM
    /// now, stored with its roles and position, and the product's gallery queued. Returns the link and
    /// whether it is new. An unknown product is [`EngineError::ProductNotFound`]; an asset the DAM does not
    /// have, that is not approved, or whose metadata breaks the contract is [`EngineError::NotLinkable`].
    pub async fn add_manual_link(
        &self,
        sku: &Sku,
        new: NewManualLink,
    ) -> Result<(ManualLink, bool), EngineError> {
        let sku = self.product_key(sku);
        if new.position.is_some_and(|p| p > MAX_POSITION) {
            return Err(EngineError::NotLinkable(format!(
                "position must be between 0 and {MAX_POSITION}"
            )));
        }
        if self.store.gallery(&sku).await?.is_none() {
            return Err(EngineError::ProductNotFound(format!(
                "product {sku} is not in the catalog"
            )));
        }
        let meta = match self.dam.metadata(&new.asset_id).await {
            Ok(MetadataReply::Found(meta)) => meta,
            Ok(MetadataReply::NotFound) => {
                return Err(EngineError::NotLinkable(format!(
                    "AEM has no asset {}",
                    new.asset_id
                )));
            }
            Err(error) => return Err(EngineError::Remote(error.to_string())),
        };
        if let Some(reason) = domain::manual::unlinkable(&meta) {
            return Err(EngineError::NotLinkable(format!(
                "asset {} cannot be linked: {reason}",
                new.asset_id
            )));
        }
        let facts = LinkFacts::read(&meta, &mut Vec::new()).map_err(|reason| {
            EngineError::NotLinkable(format!("asset {}: {reason}", new.asset_id))
        })?;
        let now = self.now_ms();
        let link = ManualLink {
            link: DesiredLink {
                asset_id: new.asset_id,
                sku,
                roles: new.roles,
                position: new.position,
                label: facts.label,
                labels: facts.labels,
                hidden_in: BTreeSet::new(),
                media_type: facts.media_type,
                video: (facts.media_type == domain::MediaType::Video).then_some(facts.video),
                content_id: facts.content_id,
                modified_ms: facts.modified_ms,
            },
            linked_ms: now,
        };
        let created = self.store.put_manual_link(&link, now).await?;
        self.skus_ready.notify_one();
        Ok((link, created))
    }

    /// Removes a manual link by hand and queues the product's gallery;
    /// [`EngineError::ManualLinkNotFound`] when there is none.
    pub async fn remove_manual_link(
        &self,
        sku: &Sku,
        asset_id: &AssetId,
    ) -> Result<(), EngineError> {
        let sku = self.product_key(sku);
        if self
            .store
            .remove_manual_link(&sku, asset_id, self.now_ms())
            .await?
        {
            self.skus_ready.notify_one();
            Ok(())
        } else {
            Err(EngineError::ManualLinkNotFound(format!(
                "product {sku} has no manual link to {asset_id}"
            )))
        }
    }

    /// The product's manual links, by asset id.
    pub async fn manual_links(&self, sku: &Sku) -> Result<Vec<ManualLink>, EngineError> {
        Ok(self.store.manual_links(&self.product_key(sku)).await?)
    }

    /// The manual links of one asset, by SKU.
    pub async fn manual_links_of_asset(
        &self,
        asset_id: &AssetId,
    ) -> Result<Vec<ManualLink>, EngineError> {
        Ok(self.store.manual_links_of_asset(asset_id).await?)
    }

    /// Approved DAM assets whose name, path or title contains `text` (all of them for an empty text), one
    /// page of at most `limit` (1 … [`MAX_SEARCH_PAGE`]) from `cursor`.
    pub async fn search_dam(
        &self,
        text: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<DamSearchPage, EngineError> {
        let page = self
            .dam
            .search_approved(text, cursor, limit.clamp(1, MAX_SEARCH_PAGE))
            .await
            .map_err(|e| match e {
                // AEM answers 400 to a cursor it did not give: the caller's mistake, not the DAM's.
                connectors::aem::DamError::Rejected { status: 400, .. } if cursor.is_some() => {
                    EngineError::InvalidCursor(format!("the DAM refused the search cursor: {e}"))
                }
                e => EngineError::Remote(format!("AEM search: {e}")),
            })?;
        let origin = view_of(&self.config(), &self.settings.delivery_origin).origin;
        Ok(DamSearchPage {
            assets: page
                .results
                .iter()
                .filter(|meta| domain::manual::unlinkable(meta).is_none())
                .map(|meta| dam_asset(meta, &origin))
                .collect(),
            cursor: page.cursor,
            total: page.total,
        })
    }
}

fn dam_asset(meta: &AssetMetadata, origin: &str) -> DamAsset {
    let name = meta.repo_str("repo:name").map(str::to_owned);
    let seo: String = name
        .as_deref()
        .map(|n| n.rsplit_once('.').map_or(n, |(stem, _)| stem))
        .unwrap_or("asset")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let base = domain::urls::base_url(origin, &meta.asset_id);
    DamAsset {
        asset_id: meta.asset_id.clone(),
        path: meta.repo_str("repo:path").map(str::to_owned),
        title: meta.asset_str("dc:title").map(str::to_owned),
        media_type: MediaType::from_format(
            meta.repo_str("dc:format")
                .or_else(|| meta.asset_str("dc:format")),
        ),
        thumbnail_url: format!("{base}/as/{seo}.webp?width=240&quality=80"),
        name,
    }
}
