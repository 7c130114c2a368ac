//! Values per store view of the entries assetsync writes (alt texts and visibility; reference §3).
//!
//! The entry itself is written at `/rest/all/` (the defaults: the label of all store views, position,
//! `disabled`, roles). A store view with a text of its own, or where the entry is hidden, gets its values
//! through `PUT /rest/{store}/V1/products/{sku}/media/{id}`. Magento then keeps a row for that view whose
//! position and `disabled` no longer follow the defaults (magento/magento2 #14208), and its REST API cannot
//! delete the row: so every later write of the entry writes such a view again with the current defaults, and
//! a view whose text was removed gets the label of all store views back explicitly, which is what it
//! inherited. Store views the store does not have (`GET /rest/V1/store/storeViews`, read once and again
//! when an unknown code turns up, at most every [`RELIST`]) are never sent: the applied entry keeps them
//! (`AppliedEntry::unknown_store_views`) and the asset's status names them.

use super::{Failure, MagentoSink, is_missing_entry, rejected};
use crate::sink::SinkError;
use domain::{GalleryEntry, Sku, StoreView};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

/// How often the store view list may be read again when an unknown code turns up.
pub(super) const RELIST: Duration = Duration::from_secs(60);

/// The store's view codes, and when they were read.
#[derive(Debug, Default)]
pub(super) struct KnownViews {
    codes: Option<(BTreeSet<StoreView>, Instant)>,
}

#[derive(Deserialize)]
struct ListedView {
    code: String,
}

/// The views an entry needs values in: those with a text of their own (the default view's text is the label
/// of all store views) and those it is hidden in, now or at its previous write.
fn scoped_views(to: &GalleryEntry, from: Option<&GalleryEntry>) -> BTreeSet<StoreView> {
    let of = |entry: &GalleryEntry| -> BTreeSet<StoreView> {
        entry
            .labels
            .keys()
            .filter(|view| !view.is_default())
            .chain(entry.hidden_in.iter())
            .cloned()
            .collect()
    };
    let mut views = of(to);
    views.extend(from.map(of).unwrap_or_default());
    views
}

impl MagentoSink {
    /// Writes the store-view values of entry `id` (now `to`, before `from` when it was written before).
    /// Returns the store views of `to` the store does not have: nothing was sent for them.
    pub(super) async fn write_store_views(
        &self,
        sku: &Sku,
        id: &str,
        to: &GalleryEntry,
        from: Option<&GalleryEntry>,
    ) -> Result<BTreeSet<StoreView>, Failure> {
        let mut unknown = BTreeSet::new();
        let wanted = scoped_views(to, from);
        let Ok(id) = id.parse::<u64>() else {
            return Ok(unknown);
        };
        if wanted.is_empty() {
            return Ok(unknown);
        }
        let known = self.known_views(&wanted).await?;
        let current = scoped_views(to, None);
        for view in &wanted {
            if !known.contains(view) {
                tracing::warn!(%sku, asset = %to.asset_id, store_view = %view,
                    "the store has no such store view; its values are not sent");
                if current.contains(view) {
                    unknown.insert(view.clone());
                }
                continue;
            }
            let label = to.labels.get(view).or(to.label.as_ref());
            let body = super::video::entry_body(
                json!({
                    "id": id,
                    "label": label,
                    "position": to.position,
                    "disabled": to.hidden || to.hidden_in.contains(view),
                    "types": to.roles,
                }),
                to,
            );
            let url = format!(
                "{}/rest/{view}/V1/products/{}/media/{id}",
                self.settings.base_url,
                crate::oauth1::percent_encode(sku.as_str())
            );
            let reply = self.send(Method::PUT, &url, Some(&body), true).await?;
            match reply.status {
                StatusCode::NOT_FOUND if is_missing_entry(&reply.body) => {}
                StatusCode::NOT_FOUND => return Err(self.not_found("PUT", sku, &reply.body)),
                s if s.is_success() => {}
                s => return Err(rejected(s, &reply.body)),
            }
        }
        Ok(unknown)
    }

    /// The store's view codes, read again when one of `wanted` is not among them (at most every [`RELIST`]).
    pub(super) async fn known_views(
        &self,
        wanted: &BTreeSet<StoreView>,
    ) -> Result<BTreeSet<StoreView>, Failure> {
        let cached = self
            .views
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .codes
            .clone();
        if let Some((codes, read_at)) = &cached
            && (wanted.is_subset(codes) || read_at.elapsed() < RELIST)
        {
            return Ok(codes.clone());
        }
        let url = format!("{}/rest/V1/store/storeViews", self.settings.base_url);
        let reply = self.send(Method::GET, &url, None, true).await?;
        if !reply.status.is_success() {
            return Err(rejected(reply.status, &reply.body));
        }
        let listed: Vec<ListedView> = serde_json::from_slice(&reply.body).map_err(|e| {
            Failure::Sink(SinkError::Unavailable {
                message: format!("unreadable store view list: {e}"),
                retry_after_ms: None,
            })
        })?;
        let codes: BTreeSet<StoreView> = listed
            .iter()
            .filter_map(|v| StoreView::parse(&v.code).ok())
            .collect();
        self.views
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .codes = Some((codes.clone(), Instant::now()));
        Ok(codes)
    }
}
