//! What the admin console shows of one product: its gallery as the platform holds it (assetsync's entries and,
//! on Adobe Commerce, the entries made by hand in the store), and why each asset and role is where it is.

use crate::{Engine, EngineError, view_of};
use domain::config::{MatchingRule, VisualizationOwner};
use domain::manual::{RoleDecision, desired_gallery, role_decisions};
use domain::urls::{Rendition, rendition_url};
use domain::{AssetId, DesiredLink, EntrySource, ManualLink, Role, Sku};
use std::collections::BTreeSet;

/// Where an entry of the gallery comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewSource {
    /// Matched from the DAM's metadata.
    Dam,
    /// Linked by hand in assetsync.
    Manual,
    /// Made by hand in the commerce store (assetsync never deletes, reorders or relabels it).
    Handmade,
}

impl ViewSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dam => "DAM",
            Self::Manual => "manual",
            Self::Handmade => "hand-made in the store",
        }
    }
}

/// One entry of the gallery, in gallery order.
#[derive(Debug, Clone)]
pub struct ViewEntry {
    /// `None` for an entry made by hand in the store.
    pub asset_id: Option<AssetId>,
    /// A small rendition (160 px) under the published origin; `None` for a hand-made entry.
    pub thumbnail_url: Option<String>,
    /// The store's file of a hand-made entry.
    pub file: Option<String>,
    pub roles: Vec<String>,
    pub position: i64,
    pub label: Option<String>,
    pub media_type: &'static str,
    pub source: ViewSource,
    /// Hidden from the storefront by the visualization owner (or disabled in the store).
    pub hidden: bool,
}

/// One product as the console shows it.
#[derive(Debug, Clone)]
pub struct ProductView {
    pub sku: Sku,
    pub entries: Vec<ViewEntry>,
    /// The assets whose metadata claims this product (under the rule in force).
    pub claims: Vec<DesiredLink>,
    pub manual: Vec<ManualLink>,
    /// For each role: who holds it and what became of the other claimants.
    pub decisions: Vec<(Role, Vec<RoleDecision>)>,
    pub rule: MatchingRule,
    pub owner: VisualizationOwner,
    /// The applied gallery differs from the desired one (work is queued or failing).
    pub pending: bool,
    /// Why the store's own entries could not be read, when they could not.
    pub remote_error: Option<String>,
}

impl Engine {
    /// At most `limit` catalog products whose SKU starts with `prefix`, after `after`, in SKU order.
    pub async fn products_page(
        &self,
        prefix: &str,
        after: Option<&Sku>,
        limit: i64,
    ) -> Result<Vec<Sku>, EngineError> {
        Ok(self.store.products_page(prefix, after, limit).await?)
    }

    /// The product as the console shows it; `None` when assetsync knows nothing of it.
    pub async fn product_view(&self, sku: &Sku) -> Result<Option<ProductView>, EngineError> {
        let sku = self.product_key(sku);
        let state = self.store.sku_state(&sku).await?;
        if !state.product_exists && state.applied.is_empty() && state.claims.is_empty() {
            return Ok(None);
        }
        let config = self.config();
        let origin = view_of(&config, &self.settings.delivery_origin).origin;
        let thumbnail = Rendition::from_query([("width", "160")]).unwrap_or_default();
        let owner_hides = config.visualization_owner == VisualizationOwner::Commerce;
        let desired = desired_gallery(&state.claims, &state.manual, owner_hides);
        let have: Vec<_> = state.applied.iter().map(|a| a.entry.clone()).collect();
        let mut entries: Vec<ViewEntry> = state
            .applied
            .iter()
            .map(|applied| {
                let e = &applied.entry;
                ViewEntry {
                    thumbnail_url: Some(rendition_url(&origin, &e.asset_id, &sku, &thumbnail)),
                    asset_id: Some(e.asset_id.clone()),
                    file: None,
                    roles: e.roles.iter().map(|r| r.as_str().to_owned()).collect(),
                    position: i64::from(e.position),
                    label: e.label.clone(),
                    media_type: e.media_type.as_str(),
                    source: match e.source {
                        EntrySource::Dam => ViewSource::Dam,
                        EntrySource::Manual => ViewSource::Manual,
                    },
                    hidden: e.hidden,
                }
            })
            .collect();
        let owned: BTreeSet<&str> = state
            .applied
            .iter()
            .filter_map(|a| a.remote_id.as_deref())
            .collect();
        let mut remote_error = None;
        match self.sink.remote_gallery(&sku).await {
            Ok(Some(remote)) => entries.extend(
                remote
                    .into_iter()
                    .filter(|r| !owned.contains(r.id.as_str()))
                    .map(|r| ViewEntry {
                        asset_id: None,
                        thumbnail_url: None,
                        file: r.file,
                        roles: r.roles,
                        position: r.position.unwrap_or(0),
                        label: r.label,
                        media_type: "image",
                        source: ViewSource::Handmade,
                        hidden: r.disabled,
                    }),
            ),
            Ok(None) => {}
            Err(error) => remote_error = Some(error.to_string()),
        }
        entries.sort_by_key(|e| e.position);
        Ok(Some(ProductView {
            decisions: role_decisions(&state.claims, &state.manual, &desired),
            pending: desired != have,
            sku,
            entries,
            claims: state.claims,
            manual: state.manual,
            rule: config.matching_rule,
            owner: config.visualization_owner,
            remote_error,
        }))
    }
}
