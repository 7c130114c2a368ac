//! The storefront read cache: per SKU, the pre-serialised JSON of its gallery, swapped whole on change.

use bytes::Bytes;
use domain::urls::{Rendition, base_url, rendition_url};
use domain::{AppliedEntry, Sku};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::RwLock;

/// How entries are published: the URL origin (delivery host or custom domain) and whether DAM entries are
/// hidden (visualization owner `commerce`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheView {
    pub origin: String,
    pub hidden: bool,
}

/// SKU → serialised `{"sku", "entries": [...]}`. With case folding (a sink that compares SKUs without case)
/// every SKU is looked up by [`Sku::case_folded`], so any spelling reads the product's one gallery.
pub struct GalleryCache {
    view: RwLock<CacheView>,
    galleries: RwLock<HashMap<Sku, Bytes>>,
    fold_case: bool,
}

#[derive(Serialize)]
struct MediaView<'a> {
    sku: &'a str,
    entries: Vec<EntryView<'a>>,
}

#[derive(Serialize)]
struct EntryView<'a> {
    asset_id: &'a str,
    url: String,
    rendition_url: String,
    media_type: &'static str,
    roles: Vec<&'a str>,
    position: u32,
    label: Option<&'a str>,
    hidden: bool,
    source: &'static str,
}

impl GalleryCache {
    /// An empty cache presenting entries as `view` says; `fold_case` keys it by case-folded SKU.
    pub fn new(view: CacheView, fold_case: bool) -> Self {
        Self {
            view: RwLock::new(view),
            galleries: RwLock::new(HashMap::new()),
            fold_case,
        }
    }

    fn key(&self, sku: &Sku) -> Sku {
        if self.fold_case {
            sku.case_folded()
        } else {
            sku.clone()
        }
    }

    /// Changes how entries are presented (entries put afterwards use it; the caller re-puts every gallery).
    pub fn set_view(&self, view: CacheView) {
        if let Ok(mut slot) = self.view.write() {
            *slot = view;
        }
    }

    /// Replaces the gallery of `sku` (entries already in gallery order).
    pub fn put(&self, sku: &Sku, entries: &[AppliedEntry]) {
        let sku = &self.key(sku);
        let Some(bytes) = self.serialise(sku, entries) else {
            return;
        };
        if let Ok(mut map) = self.galleries.write() {
            map.insert(sku.clone(), bytes);
        }
    }

    fn serialise(&self, sku: &Sku, entries: &[AppliedEntry]) -> Option<Bytes> {
        let view = self.view.read().ok()?.clone();
        let body = MediaView {
            sku: sku.as_str(),
            entries: entries
                .iter()
                .map(|applied| {
                    let e = &applied.entry;
                    EntryView {
                        asset_id: e.asset_id.as_str(),
                        url: base_url(&view.origin, &e.asset_id),
                        rendition_url: rendition_url(
                            &view.origin,
                            &e.asset_id,
                            sku,
                            &Rendition::default(),
                        ),
                        media_type: e.media_type.as_str(),
                        roles: e.roles.iter().map(|r| r.as_str()).collect(),
                        position: e.position,
                        label: e.label.as_deref(),
                        hidden: view.hidden,
                        source: "aem_assets",
                    }
                })
                .collect(),
        };
        match serde_json::to_vec(&body) {
            Ok(bytes) => Some(Bytes::from(bytes)),
            Err(error) => {
                tracing::error!(%sku, %error, "could not serialise a gallery");
                None
            }
        }
    }

    /// Makes sure a known product is served, with an empty gallery when it has none yet.
    pub fn ensure(&self, sku: &Sku) {
        let sku = &self.key(sku);
        let Some(empty) = self.serialise(sku, &[]) else {
            return;
        };
        if let Ok(mut map) = self.galleries.write() {
            map.entry(sku.clone()).or_insert(empty);
        }
    }

    /// Forgets a product (deleted, or found missing).
    pub fn remove(&self, sku: &Sku) {
        if let Ok(mut map) = self.galleries.write() {
            map.remove(&self.key(sku));
        }
    }

    /// The serialised gallery of `sku`, `None` for an unknown product.
    pub fn get(&self, sku: &Sku) -> Option<Bytes> {
        self.galleries.read().ok()?.get(&self.key(sku)).cloned()
    }

    /// How many products are cached.
    pub fn len(&self) -> usize {
        self.galleries.read().map(|map| map.len()).unwrap_or(0)
    }

    /// True when no product is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
