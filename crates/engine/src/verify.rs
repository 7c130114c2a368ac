//! `verify`: compares the DAM, assetsync's state and the commerce galleries, and reports every difference;
//! with `repair`, queues what fixes them (a full sync for DAM drift; a re-write, with adoption by file name, for
//! commerce drift).

use crate::matching::AssetMatch;
use crate::{Engine, EngineError};
use connectors::sink::RemoteEntryView;
use domain::media_files::file_carries_content;
use domain::metadata::Evaluation;
use domain::{AppliedEntry, AssetId, DesiredLink, Sku, StoreView};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One difference found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Difference {
    /// `dam_vs_state`, `state_vs_applied` or `applied_vs_commerce`.
    pub kind: &'static str,
    pub sku: Option<String>,
    pub asset_id: Option<String>,
    pub detail: String,
}

/// What a verification found and did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct VerifyReport {
    pub assets_checked: usize,
    pub products_checked: usize,
    pub differences: Vec<Difference>,
    /// With repair: the full sync started, if one was needed.
    pub full_sync: Option<i64>,
    /// With repair: entries queued for a re-write.
    pub entries_requeued: usize,
}

impl Engine {
    /// Compares the DAM, the stored state and the commerce galleries; with `repair`, queues the fixes.
    pub async fn verify(&self, repair: bool) -> Result<VerifyReport, EngineError> {
        let mut report = VerifyReport::default();
        let desired = self.dam_links().await?;
        report.assets_checked = desired.len();
        let stored = self.store.all_claims().await?;
        let mut stored_by_asset: BTreeMap<AssetId, Vec<DesiredLink>> = BTreeMap::new();
        for link in stored {
            stored_by_asset
                .entry(link.asset_id.clone())
                .or_default()
                .push(link);
        }
        for asset in desired
            .keys()
            .chain(stored_by_asset.keys())
            .collect::<BTreeSet<_>>()
        {
            let want = desired
                .get(asset)
                .map(|l| sorted(l.clone()))
                .unwrap_or_default();
            let have = stored_by_asset
                .get(asset)
                .map(|l| sorted(l.clone()))
                .unwrap_or_default();
            if want != have {
                let skus = |links: &[DesiredLink]| {
                    links
                        .iter()
                        .map(|l| l.sku.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                };
                report.differences.push(Difference {
                    kind: "dam_vs_state",
                    sku: None,
                    asset_id: Some(asset.to_string()),
                    detail: format!(
                        "the DAM asks for [{}], assetsync holds [{}]",
                        skus(&want),
                        skus(&have)
                    ),
                });
            }
        }

        let galleries = self.store.all_galleries().await?;
        let claimed: BTreeSet<Sku> = stored_by_asset
            .values()
            .flatten()
            .map(|l| l.sku.clone())
            .collect();
        let skus: BTreeSet<Sku> = galleries
            .iter()
            .map(|(sku, _)| sku.clone())
            .chain(claimed)
            .collect();
        report.products_checked = skus.len();
        let applied_by_sku: BTreeMap<Sku, Vec<AppliedEntry>> = galleries.into_iter().collect();
        let mut requeue: Vec<(Sku, AssetId)> = Vec::new();
        for sku in &skus {
            let state = self.store.sku_state(sku).await?;
            if state.product_exists || !state.applied.is_empty() {
                let want = self.desired_gallery(&self.config(), &state.claims, &state.manual);
                let have: Vec<_> = state.applied.iter().map(|a| a.entry.clone()).collect();
                if want != have {
                    report.differences.push(Difference {
                        kind: "state_vs_applied",
                        sku: Some(sku.to_string()),
                        asset_id: None,
                        detail: format!(
                            "{} entries wanted, {} applied (work may be pending)",
                            want.len(),
                            have.len()
                        ),
                    });
                }
            }
            let applied = applied_by_sku.get(sku).cloned().unwrap_or_default();
            if let Some(remote) = self
                .sink
                .remote_gallery(sku)
                .await
                .map_err(|e| EngineError::Remote(e.to_string()))?
            {
                let mut drift = commerce_drift(sku, &applied, &remote);
                for store in store_views_of(&applied) {
                    if let Some(seen) = self
                        .sink
                        .remote_gallery_in(sku, &store)
                        .await
                        .map_err(|e| EngineError::Remote(e.to_string()))?
                    {
                        drift.extend(store_view_drift(sku, &store, &applied, &seen));
                    }
                }
                for difference in drift {
                    if let Some(asset) = difference
                        .asset_id
                        .as_deref()
                        .and_then(|a| AssetId::parse(a).ok())
                    {
                        requeue.push((sku.clone(), asset));
                    }
                    report.differences.push(difference);
                }
            }
        }

        if repair {
            if report.differences.iter().any(|d| d.kind == "dam_vs_state") {
                report.full_sync = Some(self.request_full_sync("verify --repair").await?);
            }
            if report
                .differences
                .iter()
                .any(|d| d.kind == "state_vs_applied")
            {
                self.store.requeue_galleries(self.now_ms()).await?;
            }
            for (sku, asset) in &requeue {
                self.store.forget_applied(sku, asset, self.now_ms()).await?;
            }
            report.entries_requeued = requeue.len();
            self.skus_ready.notify_one();
        }
        Ok(report)
    }

    /// Every asset of the DAM (search pages) → the links it asks for now.
    async fn dam_links(&self) -> Result<BTreeMap<AssetId, Vec<DesiredLink>>, EngineError> {
        let mut links = BTreeMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self
                .dam
                .search_page(cursor.as_deref(), 200)
                .await
                .map_err(|e| EngineError::Remote(format!("AEM search: {e}")))?;
            for metadata in &page.results {
                match self.match_asset(metadata).await {
                    AssetMatch::Evaluated(Evaluation::Eligible { links: wanted, .. }) => {
                        links.insert(metadata.asset_id.clone(), wanted);
                    }
                    AssetMatch::Evaluated(Evaluation::NotEligible { .. }) => {
                        links.insert(metadata.asset_id.clone(), Vec::new());
                    }
                    // Kept as they are: nothing to compare against.
                    AssetMatch::Evaluated(Evaluation::Invalid { .. })
                    | AssetMatch::Skip
                    | AssetMatch::Failed(_) => {}
                }
            }
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(links),
            }
        }
    }
}

fn sorted(mut links: Vec<DesiredLink>) -> Vec<DesiredLink> {
    links.sort_by(|a, b| a.sku.cmp(&b.sku));
    links
}

/// Differences between what assetsync applied and what the platform holds for one product.
fn commerce_drift(
    sku: &Sku,
    applied: &[AppliedEntry],
    remote: &[RemoteEntryView],
) -> Vec<Difference> {
    let mut differences = Vec::new();
    let difference = |asset: &AssetId, detail: String| Difference {
        kind: "applied_vs_commerce",
        sku: Some(sku.to_string()),
        asset_id: Some(asset.to_string()),
        detail,
    };
    for entry in applied {
        let e = &entry.entry;
        let Some(found) = remote
            .iter()
            .find(|r| Some(&r.id) == entry.remote_id.as_ref())
        else {
            differences.push(difference(
                &e.asset_id,
                "the entry is missing in the store".into(),
            ));
            continue;
        };
        let mut roles: Vec<String> = e.roles.iter().map(ToString::to_string).collect();
        let mut remote_roles = found.roles.clone();
        roles.sort();
        remote_roles.sort();
        let same = found.position == Some(i64::from(e.position))
            && found.label == e.label
            && found.disabled == e.hidden
            && remote_roles == roles;
        let (media_type, video_url) = match (e.media_type, &e.video) {
            (domain::MediaType::Video, video) => (
                "external-video",
                Some(video.as_ref().map(|v| v.url.clone()).unwrap_or_default()),
            ),
            (domain::MediaType::Image, _) => ("image", None),
        };
        if found.media_type != media_type {
            differences.push(difference(
                &e.asset_id,
                format!(
                    "the store's entry {} is {}, not {media_type}",
                    found.id, found.media_type
                ),
            ));
        } else if found.video_url != video_url {
            differences.push(difference(
                &e.asset_id,
                format!(
                    "the store's entry {} plays {:?}, not {:?}",
                    found.id,
                    found.video_url.as_deref().unwrap_or_default(),
                    video_url.as_deref().unwrap_or_default()
                ),
            ));
        }
        if !same {
            differences.push(difference(
                &e.asset_id,
                format!(
                    "the store's entry {} differs (position, label, roles or disabled)",
                    found.id
                ),
            ));
        }
    }
    let owned: BTreeSet<&String> = applied
        .iter()
        .filter_map(|a| a.remote_id.as_ref())
        .collect();
    for entry in applied {
        let copies = remote
            .iter()
            .filter(|r| {
                !owned.contains(&r.id)
                    && r.file.as_deref().is_some_and(|f| {
                        file_carries_content(f, &entry.entry.asset_id, &entry.entry.content_id)
                    })
            })
            .count();
        if copies > 0 {
            differences.push(difference(
                &entry.entry.asset_id,
                format!("{copies} extra entries carry this asset's file name"),
            ));
        }
    }
    differences
}

/// The store views assetsync wrote values in for these entries (texts of their own, hidden in).
fn store_views_of(applied: &[AppliedEntry]) -> BTreeSet<StoreView> {
    applied
        .iter()
        .flat_map(|a| {
            a.entry
                .labels
                .keys()
                .filter(|view| !view.is_default())
                .chain(a.entry.hidden_in.iter())
        })
        .cloned()
        .collect()
}

/// Entries whose label or visibility in `store` is not what assetsync wrote there.
fn store_view_drift(
    sku: &Sku,
    store: &StoreView,
    applied: &[AppliedEntry],
    seen: &[RemoteEntryView],
) -> Vec<Difference> {
    applied
        .iter()
        .filter_map(|a| {
            let e = &a.entry;
            let found = seen.iter().find(|r| Some(&r.id) == a.remote_id.as_ref())?;
            let label = e.labels.get(store).or(e.label.as_ref());
            let disabled = e.hidden || e.hidden_in.contains(store);
            (found.label.as_ref() != label || found.disabled != disabled).then(|| Difference {
                kind: "applied_vs_commerce",
                sku: Some(sku.to_string()),
                asset_id: Some(e.asset_id.to_string()),
                detail: format!(
                    "the store's entry {} differs in store view {store} (label or disabled)",
                    found.id
                ),
            })
        })
        .collect()
}
