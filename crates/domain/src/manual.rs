//! Manual links: assets a person linked to a product by hand (the admin console's picker, or
//! `POST /api/v1/products/{sku}/manual-links`), beside what the matching rule finds in the DAM's metadata.
//!
//! Precedence (a decision where the reference is silent; it keeps manual and automatic galleries apart):
//! - on its product, a manual link **wins** over the metadata claim of the same asset: its roles and position
//!   replace the claim's (the claim stays stored and takes over again when the manual link is removed);
//! - a role a manual link names is taken from every metadata claimant on that product; among manual links the
//!   most recently linked one holds a contested role (ties: the greater asset id);
//! - positions: a manual link's explicit position is written as given, like a metadata position;
//! - a manual entry is never hidden by the visualization owner (a person chose it for the storefront), and no
//!   automatic sync, full sync, repair or owner switch changes or removes it: only its removal by hand does.

use crate::gallery::{EntrySource, GalleryEntry, compute_gallery};
use crate::ids::{AssetId, Role};
use crate::metadata::DesiredLink;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One asset linked to one product by a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualLink {
    /// The link as a claim carries it: the person's SKU, roles and position, with the asset's label, media
    /// type and content id read from the DAM when it was linked (`modified_ms` is the DAM's modify date).
    pub link: DesiredLink,
    /// When it was linked (Unix ms): the newest manual link holds a role two of them name.
    pub linked_ms: i64,
}

/// Why an entry holds what it holds, for the admin console's "why" view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleDecision {
    /// The role went to this entry: the only claimant, or the one precedence picked.
    Held { by: AssetId, source: EntrySource },
    /// A manual link took the role from a metadata claimant.
    TakenByManual { from: AssetId, by: AssetId },
    /// Another claimant of the same source held it (newer modify date, or newer manual link; ties: greater id).
    LostToNewer { from: AssetId, by: AssetId },
}

/// The gallery a product should have: its metadata claims and its manual links under the precedence above;
/// `owner_hides` (visualization owner `commerce`) hides the entries that come from the DAM's metadata.
pub fn desired_gallery(
    claims: &[DesiredLink],
    manual: &[ManualLink],
    owner_hides: bool,
) -> Vec<GalleryEntry> {
    let manual_assets: BTreeSet<&AssetId> = manual.iter().map(|m| &m.link.asset_id).collect();
    let manual_roles: BTreeSet<&Role> = manual.iter().flat_map(|m| &m.link.roles).collect();
    let mut links: Vec<DesiredLink> = claims
        .iter()
        .filter(|claim| !manual_assets.contains(&claim.asset_id))
        .map(|claim| {
            let mut claim = claim.clone();
            claim.roles.retain(|role| !manual_roles.contains(role));
            claim
        })
        .collect();
    links.extend(manual.iter().map(|m| DesiredLink {
        modified_ms: m.linked_ms,
        ..m.link.clone()
    }));
    let mut gallery = compute_gallery(&links);
    for entry in &mut gallery {
        if manual_assets.contains(&entry.asset_id) {
            entry.source = EntrySource::Manual;
        } else {
            entry.hidden = owner_hides;
        }
    }
    gallery
}

/// For every role any claimant or manual link names on the product: who holds it in `gallery` (from
/// [`desired_gallery`]) and what became of each other claimant of it.
pub fn role_decisions(
    claims: &[DesiredLink],
    manual: &[ManualLink],
    gallery: &[GalleryEntry],
) -> Vec<(Role, Vec<RoleDecision>)> {
    let roles: BTreeSet<&Role> = claims
        .iter()
        .flat_map(|c| &c.roles)
        .chain(manual.iter().flat_map(|m| &m.link.roles))
        .collect();
    roles
        .into_iter()
        .map(|role| {
            let holder = gallery.iter().find(|e| e.roles.contains(role));
            let mut decisions = Vec::new();
            if let Some(holder) = holder {
                decisions.push(RoleDecision::Held {
                    by: holder.asset_id.clone(),
                    source: holder.source,
                });
                let claimants = claims
                    .iter()
                    .filter(|c| c.roles.contains(role))
                    .map(|c| (&c.asset_id, EntrySource::Dam))
                    .chain(
                        manual
                            .iter()
                            .filter(|m| m.link.roles.contains(role))
                            .map(|m| (&m.link.asset_id, EntrySource::Manual)),
                    );
                for (asset, source) in claimants {
                    if *asset == holder.asset_id && source == holder.source {
                        continue;
                    }
                    if source == EntrySource::Dam && holder.source == EntrySource::Manual {
                        decisions.push(RoleDecision::TakenByManual {
                            from: asset.clone(),
                            by: holder.asset_id.clone(),
                        });
                    } else if *asset != holder.asset_id {
                        decisions.push(RoleDecision::LostToNewer {
                            from: asset.clone(),
                            by: holder.asset_id.clone(),
                        });
                    }
                }
            }
            (role.clone(), decisions)
        })
        .collect()
}

/// `None` when a person may link the asset (approved, activated to delivery or with no target), else why
/// not. Unlike the matching rules, `commerce:isCommerce` is not required: the person's choice is the link.
pub fn unlinkable(meta: &crate::AssetMetadata) -> Option<String> {
    let status = meta.asset_str("dam:status").map(str::trim);
    if status != Some("approved") {
        return Some(format!(
            "dam:status is {}, not approved",
            status.map_or("unset".into(), |s| format!("{s:?}"))
        ));
    }
    match meta.asset_str("dam:activationTarget").map(str::trim) {
        None | Some("") => None,
        Some(t) if t.eq_ignore_ascii_case("delivery") => None,
        Some(other) => Some(format!("dam:activationTarget is {other:?}, not delivery")),
    }
}
