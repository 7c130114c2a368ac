//! Builders shared by the test modules, and a small model of the engine's incremental matching loop.

use assetsync_domain::gallery::{apply_operations, compute_gallery, reconcile};
use assetsync_domain::{
    AppliedEntry, AssetId, AssetMetadata, ContentId, DesiredLink, Evaluation, GalleryEntry,
    MatchSettings, MediaType, Role, Sku,
};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// A valid asset id whose uuid part is `suffix` (ids compare as strings, so `"b"` > `"a"`).
pub fn asset_id(suffix: &str) -> AssetId {
    AssetId::parse(&format!("urn:aaid:aem:{suffix}")).unwrap()
}

pub fn sku(raw: &str) -> Sku {
    Sku::parse(raw).unwrap()
}

pub fn role(raw: &str) -> Role {
    Role::parse(raw).unwrap()
}

pub fn roles(raw: &[&str]) -> BTreeSet<Role> {
    raw.iter().map(|r| role(r)).collect()
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("expected a JSON object, got {other}"),
    }
}

/// Metadata of `asset` with exactly the given asset and repository properties.
pub fn metadata(asset: &AssetId, asset_props: Value, repository_props: Value) -> AssetMetadata {
    AssetMetadata {
        asset_id: asset.clone(),
        repository: object(repository_props),
        asset: object(asset_props),
    }
}

/// Metadata of an approved commerce asset, with `extra` asset properties laid over the eligible base.
pub fn eligible_metadata(asset: &AssetId, extra: Value) -> AssetMetadata {
    let mut props = object(json!({ "dam:status": "approved", "commerce:isCommerce": "Yes" }));
    props.extend(object(extra));
    AssetMetadata {
        asset_id: asset.clone(),
        repository: Map::new(),
        asset: props,
    }
}

pub fn evaluate_default(meta: &AssetMetadata) -> Evaluation {
    assetsync_domain::metadata::evaluate(meta, &MatchSettings::default())
}

/// The links and warnings of an `Eligible` evaluation; any other outcome fails the test.
pub fn expect_eligible(evaluation: Evaluation) -> (Vec<DesiredLink>, Vec<String>) {
    match evaluation {
        Evaluation::Eligible { links, warnings } => (links, warnings),
        other => panic!("expected Eligible, got {other:?}"),
    }
}

pub fn eligible_links(meta: &AssetMetadata) -> Vec<DesiredLink> {
    expect_eligible(evaluate_default(meta)).0
}

pub fn assert_not_eligible(meta: &AssetMetadata) {
    let evaluation = evaluate_default(meta);
    assert!(
        matches!(evaluation, Evaluation::NotEligible { .. }),
        "expected NotEligible for {:?}, got {evaluation:?}",
        meta.asset
    );
}

pub fn assert_invalid(meta: &AssetMetadata) {
    let evaluation = evaluate_default(meta);
    assert!(
        matches!(evaluation, Evaluation::Invalid { .. }),
        "expected Invalid for {:?}, got {evaluation:?}",
        meta.asset
    );
}

/// A claim of `asset` on `sku_code` built directly (not through metadata).
pub fn claim(
    asset: &AssetId,
    sku_code: &str,
    role_codes: &[&str],
    position: Option<u32>,
    modified_ms: i64,
) -> DesiredLink {
    DesiredLink {
        asset_id: asset.clone(),
        sku: sku(sku_code),
        roles: roles(role_codes),
        position,
        label: None,
        labels: Default::default(),
        hidden_in: Default::default(),
        media_type: MediaType::Image,
        video: None,
        content_id: ContentId(format!("sha-{}", asset.uuid())),
        modified_ms,
    }
}

pub fn applied(entry: &GalleryEntry, remote_id: &str) -> AppliedEntry {
    AppliedEntry {
        entry: entry.clone(),
        remote_id: Some(remote_id.to_owned()),
        unknown_store_views: Default::default(),
    }
}

/// A model of the engine: per SKU the current claims and the applied gallery. Each processed asset replaces
/// its claims (Eligible), withdraws them (NotEligible) or leaves them alone (Invalid); then every SKU it
/// touched, before or after, is recomputed, reconciled and applied.
#[derive(Debug, Default)]
pub struct Simulation {
    pub settings: MatchSettings,
    pub claims: BTreeMap<Sku, BTreeMap<AssetId, DesiredLink>>,
    pub applied: BTreeMap<Sku, Vec<AppliedEntry>>,
}

impl Simulation {
    pub fn process_metadata(&mut self, meta: &AssetMetadata) {
        let evaluation = assetsync_domain::metadata::evaluate(meta, &self.settings);
        self.process(&meta.asset_id, &evaluation);
    }

    pub fn process(&mut self, asset: &AssetId, evaluation: &Evaluation) {
        let new_links = match evaluation {
            Evaluation::Eligible { links, .. } => links.clone(),
            Evaluation::NotEligible { .. } => Vec::new(),
            Evaluation::Invalid { .. } => return,
        };
        let mut affected: BTreeSet<Sku> = BTreeSet::new();
        for (sku, by_asset) in &mut self.claims {
            if by_asset.remove(asset).is_some() {
                affected.insert(sku.clone());
            }
        }
        for link in new_links {
            affected.insert(link.sku.clone());
            self.claims
                .entry(link.sku.clone())
                .or_default()
                .insert(link.asset_id.clone(), link);
        }
        for sku in affected {
            self.reconcile_sku(&sku);
        }
    }

    fn reconcile_sku(&mut self, sku: &Sku) {
        let claims: Vec<DesiredLink> = self
            .claims
            .get(sku)
            .map(|by_asset| by_asset.values().cloned().collect())
            .unwrap_or_default();
        let desired = compute_gallery(&claims);
        let applied = self.applied.entry(sku.clone()).or_default();
        let operations = reconcile(&desired, applied);
        *applied = apply_operations(applied, &operations);
    }

    /// The applied galleries of the SKUs that have at least one entry.
    pub fn galleries(&self) -> BTreeMap<Sku, Vec<GalleryEntry>> {
        self.applied
            .iter()
            .filter(|(_, entries)| !entries.is_empty())
            .map(|(sku, entries)| {
                (
                    sku.clone(),
                    entries.iter().map(|a| a.entry.clone()).collect(),
                )
            })
            .collect()
    }

    /// The galleries computed at once from all current claims.
    pub fn galleries_from_claims(&self) -> BTreeMap<Sku, Vec<GalleryEntry>> {
        galleries_of(self.claims.values().flat_map(BTreeMap::values).cloned())
    }
}

/// `compute_gallery` of every SKU's claims, SKUs without claims left out.
pub fn galleries_of(
    links: impl IntoIterator<Item = DesiredLink>,
) -> BTreeMap<Sku, Vec<GalleryEntry>> {
    let mut by_sku: BTreeMap<Sku, Vec<DesiredLink>> = BTreeMap::new();
    for link in links {
        by_sku.entry(link.sku.clone()).or_default().push(link);
    }
    by_sku
        .into_iter()
        .map(|(sku, claims)| (sku, compute_gallery(&claims)))
        .filter(|(_, gallery)| !gallery.is_empty())
        .collect()
}
