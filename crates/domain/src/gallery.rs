//! A product's gallery: from the links that eligible assets ask for (the claims) to the ordered entries the
//! product should show, and from what is applied to the operations that reach it.
//!
//! Rules (DESIGN.md, "Matching"): each role belongs to at most one asset per product, the claimant with the
//! newest `repo:modifyDate` (ties: the greater asset id); explicit positions are written as given, the others
//! follow (max explicit + 1, then by asset id). Nothing depends on the order events arrived in.

use crate::ids::{AssetId, ContentId, MediaType, Role};
use crate::metadata::DesiredLink;
use crate::store_views::{Labels, StoreView};
use crate::video::Video;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One entry of the gallery a product should have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GalleryEntry {
    pub asset_id: AssetId,
    pub roles: BTreeSet<Role>,
    pub position: u32,
    pub label: Option<String>,
    /// Alt texts by store view (the default view's is also `label`).
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
    /// Store views the entry is hidden in (beside `hidden`, which hides it everywhere).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub hidden_in: BTreeSet<StoreView>,
    pub media_type: MediaType,
    /// A video's title, description and player URL (`None` for an image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<Video>,
    pub content_id: ContentId,
    /// Hidden from the storefront (the visualization owner is the commerce platform); never deleted for it.
    #[serde(default)]
    pub hidden: bool,
    /// Where the entry comes from: the DAM's metadata (a matching rule) or a person's manual link.
    #[serde(default, skip_serializing_if = "EntrySource::is_dam")]
    pub source: EntrySource,
}

/// Where a gallery entry comes from.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum EntrySource {
    /// Matched from the DAM asset's metadata by the matching rule in force (served as `aem_assets`).
    #[default]
    Dam,
    /// Linked by a person (the admin console's picker or `POST /api/v1/products/{sku}/manual-links`): no
    /// automatic sync changes or removes it.
    Manual,
}

impl EntrySource {
    /// True for [`EntrySource::Dam`] (the stored form leaves it out).
    pub fn is_dam(&self) -> bool {
        *self == Self::Dam
    }

    /// The name the read API serves: `aem_assets` or `manual`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dam => "aem_assets",
            Self::Manual => "manual",
        }
    }
}

/// One entry as it stands on the commerce side (what assetsync applied and owns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedEntry {
    #[serde(flatten)]
    pub entry: GalleryEntry,
    /// The commerce platform's id of the entry (Magento media entry id); `None` for the built-in catalog.
    pub remote_id: Option<String>,
    /// Store views the entry has values for (a text, hidden) that the platform does not have: nothing was
    /// sent for them, and the asset's status says so until the entry is written again.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub unknown_store_views: BTreeSet<StoreView>,
}

impl AppliedEntry {
    /// An entry applied as `entry`, under the platform's id `remote_id`, every store view known.
    pub fn new(entry: GalleryEntry, remote_id: Option<String>) -> Self {
        Self {
            entry,
            remote_id,
            unknown_store_views: BTreeSet::new(),
        }
    }

    /// The warning an asset's status shows for this entry on `sku`, if the platform lacks store views of it.
    pub fn store_view_warning(&self, sku: &crate::Sku) -> Option<String> {
        if self.unknown_store_views.is_empty() {
            return None;
        }
        let views: Vec<&str> = self
            .unknown_store_views
            .iter()
            .map(StoreView::as_str)
            .collect();
        Some(format!(
            "{sku}: the store has no store view {}; the values for it were not sent",
            views.join(", ")
        ))
    }
}

/// What assetsync remembers of an entry made by hand in the commerce platform before it first changed it
/// (hid it for the visualization owner), so that switching the owner back restores it exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandmadeRecord {
    /// The platform's id of the entry.
    pub entry_id: String,
    pub prior_disabled: bool,
    pub prior_roles: Vec<String>,
}

/// An entry the commerce platform refused to write (an HTTP 400: its binary, name or fields), with the
/// platform's message. The operation is not tried again while the desired entry stays exactly this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedEntry {
    pub entry: GalleryEntry,
    pub message: String,
}

/// A change to one product's gallery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Add a new entry.
    Create(GalleryEntry),
    /// Change roles, position, label or media type of an entry whose binary is unchanged.
    Update {
        from: AppliedEntry,
        to: GalleryEntry,
    },
    /// The binary changed: a new entry replaces the old one.
    Replace {
        from: AppliedEntry,
        to: GalleryEntry,
    },
    /// The link is gone.
    Delete(AppliedEntry),
}

impl Operation {
    /// The asset the operation concerns.
    pub fn asset_id(&self) -> &AssetId {
        match self {
            Self::Create(to) | Self::Update { to, .. } | Self::Replace { to, .. } => &to.asset_id,
            Self::Delete(from) => &from.entry.asset_id,
        }
    }

    /// True when the operation only takes something away (roles, or the whole entry). These run first, so a
    /// role is taken from its old holder before it is granted.
    fn only_takes_away(&self) -> bool {
        match self {
            Self::Delete(_) => true,
            Self::Update { from, to } => {
                to.roles.is_subset(&from.entry.roles) && to.roles != from.entry.roles
            }
            Self::Create(_) | Self::Replace { .. } => false,
        }
    }
}

/// The gallery one product should have, from the links that eligible assets ask for on it.
pub fn compute_gallery(claims: &[DesiredLink]) -> Vec<GalleryEntry> {
    let mut claims: Vec<&DesiredLink> = claims.iter().collect();
    claims.sort_by(|a, b| a.asset_id.cmp(&b.asset_id));
    claims.dedup_by(|a, b| a.asset_id == b.asset_id);

    let mut holders: BTreeMap<&Role, &DesiredLink> = BTreeMap::new();
    for claim in &claims {
        for role in &claim.roles {
            let holder = holders.entry(role).or_insert(claim);
            if (claim.modified_ms, &claim.asset_id) > (holder.modified_ms, &holder.asset_id) {
                *holder = claim;
            }
        }
    }

    let max_explicit = claims.iter().filter_map(|c| c.position).max();
    let mut next_free = max_explicit.map_or(1, |m| {
        m.saturating_add(1).min(crate::metadata::MAX_POSITION)
    });
    let mut gallery: Vec<GalleryEntry> = claims
        .iter()
        .map(|claim| {
            let position = claim.position.unwrap_or_else(|| {
                let p = next_free;
                next_free = next_free
                    .saturating_add(1)
                    .min(crate::metadata::MAX_POSITION);
                p
            });
            GalleryEntry {
                asset_id: claim.asset_id.clone(),
                roles: holders
                    .iter()
                    .filter(|(_, holder)| holder.asset_id == claim.asset_id)
                    .map(|(role, _)| (*role).clone())
                    .collect(),
                position,
                label: claim.label.clone(),
                labels: claim.labels.clone(),
                hidden_in: claim.hidden_in.clone(),
                media_type: claim.media_type,
                video: claim.video.clone(),
                content_id: claim.content_id.clone(),
                hidden: false,
                source: EntrySource::Dam,
            }
        })
        .collect();
    gallery.sort_by(|a, b| (a.position, &a.asset_id).cmp(&(b.position, &b.asset_id)));
    gallery
}

/// The operations that turn `applied` into `desired`. Operations that only take away come first.
pub fn reconcile(desired: &[GalleryEntry], applied: &[AppliedEntry]) -> Vec<Operation> {
    let applied_by_asset: BTreeMap<&AssetId, &AppliedEntry> =
        applied.iter().map(|a| (&a.entry.asset_id, a)).collect();
    let desired_ids: BTreeSet<&AssetId> = desired.iter().map(|d| &d.asset_id).collect();
    let mut ops: Vec<Operation> = applied
        .iter()
        .filter(|a| !desired_ids.contains(&a.entry.asset_id))
        .map(|a| Operation::Delete(a.clone()))
        .collect();
    for want in desired {
        match applied_by_asset.get(&want.asset_id) {
            None => ops.push(Operation::Create(want.clone())),
            Some(have)
                if have.entry.content_id != want.content_id
                    || have.entry.media_type != want.media_type =>
            {
                ops.push(Operation::Replace {
                    from: (*have).clone(),
                    to: want.clone(),
                });
            }
            Some(have) if have.entry != *want => ops.push(Operation::Update {
                from: (*have).clone(),
                to: want.clone(),
            }),
            Some(_) => {}
        }
    }
    ops.sort_by_key(|op| !op.only_takes_away());
    ops
}

/// `ops` without those that would write an entry exactly as the platform already refused it: a refused asset
/// fails alone and is tried again only when what it asks for changes (or the refusal is cleared).
pub fn without_refused(ops: Vec<Operation>, refused: &[RefusedEntry]) -> Vec<Operation> {
    ops.into_iter()
        .filter(|op| match op {
            Operation::Create(to)
            | Operation::Update { to, .. }
            | Operation::Replace { to, .. } => !refused.iter().any(|r| r.entry == *to),
            Operation::Delete(_) => true,
        })
        .collect()
}

/// What `applied` becomes once `ops` succeed (remote ids of new entries unknown: `None`).
pub fn apply_operations(applied: &[AppliedEntry], ops: &[Operation]) -> Vec<AppliedEntry> {
    let mut by_asset: BTreeMap<AssetId, AppliedEntry> = applied
        .iter()
        .map(|a| (a.entry.asset_id.clone(), a.clone()))
        .collect();
    for op in ops {
        match op {
            Operation::Create(to) | Operation::Replace { to, .. } => {
                by_asset.insert(
                    to.asset_id.clone(),
                    AppliedEntry {
                        entry: to.clone(),
                        remote_id: None,
                        unknown_store_views: Default::default(),
                    },
                );
            }
            Operation::Update { from, to } => {
                by_asset.insert(
                    to.asset_id.clone(),
                    AppliedEntry {
                        entry: to.clone(),
                        remote_id: from.remote_id.clone(),
                        unknown_store_views: Default::default(),
                    },
                );
            }
            Operation::Delete(from) => {
                by_asset.remove(&from.entry.asset_id);
            }
        }
    }
    let mut out: Vec<AppliedEntry> = by_asset.into_values().collect();
    out.sort_by(|a, b| {
        (a.entry.position, &a.entry.asset_id).cmp(&(b.entry.position, &b.entry.asset_id))
    });
    out
}
