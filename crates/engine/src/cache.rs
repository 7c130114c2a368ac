//! The storefront read cache: per SKU, the pre-serialised JSON of its gallery and its parsed form (for reads
//! with rendition parameters, which never re-parse the JSON), swapped whole on change.

use bytes::Bytes;
use domain::MediaType;
use domain::urls::{Rendition, base_url, play_url, rendition_from_base};
use domain::{AppliedEntry, EntrySource, Sku, StoreView};
use serde::Serialize;
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// How entries are published: the URL origin (delivery host or custom domain) and whether DAM entries are
/// hidden (visualization owner `commerce`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheView {
    pub origin: String,
    pub hidden: bool,
}

/// SKU → serialised `{"sku", "entries": [...]}` and the same gallery parsed. With case folding (a sink that
/// compares SKUs without case) every SKU is looked up by [`Sku::case_folded`], so any spelling reads the
/// product's one gallery.
pub struct GalleryCache {
    view: RwLock<CacheView>,
    galleries: RwLock<HashMap<Sku, Cached>>,
    fold_case: bool,
}

/// One product's gallery: its bytes with the default rendition, and the view they were made from.
#[derive(Clone)]
struct Cached {
    bytes: Bytes,
    view: Arc<MediaView>,
}

#[derive(Serialize, Clone)]
struct MediaView {
    sku: Sku,
    entries: Vec<EntryView>,
}

#[derive(Serialize, Clone)]
struct EntryView {
    asset_id: String,
    url: String,
    /// For an image its rendition; for a video its poster image (the image rendition of the video).
    rendition_url: String,
    /// A video's player (`<url>/play`); absent for an image.
    #[serde(skip_serializing_if = "Option::is_none")]
    play_url: Option<String>,
    media_type: &'static str,
    roles: Vec<String>,
    position: u32,
    label: Option<String>,
    /// Alt texts by store view; `label` is the one of all store views (or of `?store=`).
    labels: BTreeMap<String, String>,
    hidden: bool,
    source: &'static str,
    /// Store views the entry is hidden in (shapes `hidden` for `?store=`).
    #[serde(skip)]
    hidden_in: Vec<StoreView>,
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
        let Some(cached) = self.build(sku, entries) else {
            return;
        };
        if let Ok(mut map) = self.galleries.write() {
            map.insert(sku.clone(), cached);
        }
    }

    fn build(&self, sku: &Sku, entries: &[AppliedEntry]) -> Option<Cached> {
        let view = self.view.read().ok()?.clone();
        let default = Rendition::default();
        let media = MediaView {
            sku: sku.clone(),
            entries: entries
                .iter()
                .map(|applied| {
                    let e = &applied.entry;
                    let url = base_url(&view.origin, &e.asset_id);
                    EntryView {
                        asset_id: e.asset_id.as_str().to_owned(),
                        rendition_url: rendition_from_base(&url, sku, &default),
                        play_url: (e.media_type == MediaType::Video).then(|| play_url(&url)),
                        url,
                        media_type: e.media_type.as_str(),
                        roles: e.roles.iter().map(|r| r.as_str().to_owned()).collect(),
                        position: e.position,
                        label: e.label.clone(),
                        labels: e
                            .labels
                            .iter()
                            .map(|(store, text)| (store.as_str().to_owned(), text.clone()))
                            .collect(),
                        // The owner hides the DAM's entries; a manual link is never hidden by it.
                        hidden: view.hidden && e.source != EntrySource::Manual,
                        source: e.source.as_str(),
                        hidden_in: e.hidden_in.iter().cloned().collect(),
                    }
                })
                .collect(),
        };
        let bytes = serialise(&media)?;
        Some(Cached {
            bytes,
            view: Arc::new(media),
        })
    }

    /// Makes sure a known product is served, with an empty gallery when it has none yet.
    pub fn ensure(&self, sku: &Sku) {
        let sku = &self.key(sku);
        let Some(empty) = self.build(sku, &[]) else {
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
        Some(
            self.galleries
                .read()
                .ok()?
                .get(&self.key(sku))?
                .bytes
                .clone(),
        )
    }

    /// The gallery of `sku` with every `rendition_url` shaped by `rendition`, serialised from the parsed form
    /// kept beside the bytes (the JSON is never parsed again); `None` for an unknown product.
    pub fn get_with_rendition(&self, sku: &Sku, rendition: &Rendition) -> Option<Bytes> {
        self.get_shaped(sku, rendition, None)
    }

    /// The gallery of `sku` as [`Self::get_with_rendition`] gives it, as seen from `store` when given: each
    /// entry's `label` is that store view's alt text (else the one of all store views) and `hidden` is also
    /// true where the entry is hidden in that view.
    pub fn get_shaped(
        &self,
        sku: &Sku,
        rendition: &Rendition,
        store: Option<&StoreView>,
    ) -> Option<Bytes> {
        let view = self
            .galleries
            .read()
            .ok()?
            .get(&self.key(sku))?
            .view
            .clone();
        let mut shaped = MediaView::clone(&view);
        for entry in &mut shaped.entries {
            entry.rendition_url = rendition_from_base(&entry.url, sku, rendition);
            if let Some(store) = store {
                if let Some(text) = entry.labels.get(store.as_str()) {
                    entry.label = Some(text.clone());
                }
                entry.hidden |= entry.hidden_in.contains(store);
            }
        }
        serialise(&shaped)
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

fn serialise(media: &MediaView) -> Option<Bytes> {
    match serde_json::to_vec(media) {
        Ok(bytes) => Some(Bytes::from(bytes)),
        Err(error) => {
            tracing::error!(sku = %media.sku, %error, "could not serialise a gallery");
            None
        }
    }
}
