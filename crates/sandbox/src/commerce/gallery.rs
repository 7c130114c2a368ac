//! The state machine of products, entries, roles and files (no HTTP).

use super::*;

/// The mutable fields of an entry, validated (roles known, deduplicated, in [`ROLES`] order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EntryFields {
    pub(super) label: Option<String>,
    pub(super) position: i64,
    pub(super) disabled: bool,
    pub(super) types: Vec<&'static str>,
    /// An `external-video` entry's `video_content` (`None`: an image).
    pub(super) video: Option<VideoContent>,
}

/// `extension_attributes.video_content` of an `external-video` entry (`media_type` is always `external-video`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct VideoContent {
    pub(super) provider: String,
    pub(super) url: String,
    pub(super) title: String,
    pub(super) description: String,
    pub(super) metadata: String,
}

impl VideoContent {
    pub(super) fn to_json(&self) -> Value {
        json!({
            "media_type": "external-video",
            "video_provider": self.provider,
            "video_url": self.url,
            "video_title": self.title,
            "video_description": self.description,
            "video_metadata": self.metadata,
        })
    }
}

#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) id: u64,
    pub(super) fields: EntryFields,
    pub(super) file: String,
    /// Rows of the store views written at their scope (by lower-cased code).
    pub(super) views: BTreeMap<String, ViewValues>,
}

impl Entry {
    /// The entry's fields as read at `scope`: a view's non-NULL values over the defaults.
    pub(super) fn fields_in(&self, scope: &Scope) -> EntryFields {
        let mut fields = self.fields.clone();
        if let Scope::View(code) = scope
            && let Some(row) = self.views.get(code)
        {
            if row.label.is_some() {
                fields.label = row.label.clone();
            }
            fields.position = row.position.unwrap_or(fields.position);
            fields.disabled = row.disabled.unwrap_or(fields.disabled);
        }
        fields
    }

    pub(super) fn to_json_in(&self, scope: &Scope) -> Value {
        let fields = self.fields_in(scope);
        let mut entry = json!({
            "id": self.id,
            "media_type": "image",
            "label": fields.label,
            "position": fields.position,
            "disabled": fields.disabled,
            "types": fields.types,
            "file": self.file,
        });
        if let Some(video) = &fields.video {
            entry["media_type"] = json!("external-video");
            entry["extension_attributes"] = json!({ "video_content": video.to_json() });
        }
        entry
    }
}

#[derive(Debug)]
pub(super) struct Product {
    pub(super) id: u64,
    /// The SKU as the product was created (the key of `Gallery::products` is its case-folded form).
    pub(super) sku: String,
    pub(super) entries: BTreeMap<u64, Entry>,
}

/// The key a product is found by: Magento's `sku` column has a case-insensitive collation
/// (`utf8mb4_general_ci`), so `ABC` and `abc` name one product.
pub(super) fn sku_key(sku: &str) -> String {
    sku.to_lowercase()
}

/// Products, their gallery entries, the roles they hold and the media files of the whole store.
#[derive(Debug, Default)]
pub(super) struct Gallery {
    /// By [`sku_key`].
    pub(super) products: BTreeMap<String, Product>,
    pub(super) next_product_id: u64,
    pub(super) next_entry_id: u64,
    /// Every stored file path (`/a/b/name.ext`), for the clash suffix.
    pub(super) files: HashSet<String>,
    pub(super) store_views: StoreViews,
}

impl Gallery {
    pub(super) fn create_product(&mut self, sku: &str) -> bool {
        if self.products.contains_key(&sku_key(sku)) {
            return false;
        }
        self.next_product_id += 1;
        self.products.insert(
            sku_key(sku),
            Product {
                id: self.next_product_id,
                sku: sku.to_owned(),
                entries: BTreeMap::new(),
            },
        );
        true
    }

    /// The product's entries as read at `scope`, by position (at that scope) then id.
    pub(super) fn entries(&self, sku: &str, scope: &Scope) -> Option<Vec<Value>> {
        let product = self.products.get(&sku_key(sku))?;
        let mut entries: Vec<&Entry> = product.entries.values().collect();
        entries.sort_by_key(|e| (e.fields_in(scope).position, e.id));
        Some(entries.into_iter().map(|e| e.to_json_in(scope)).collect())
    }

    pub(super) fn entry(&self, sku: &str, id: u64, scope: &Scope) -> Result<Value, Missing> {
        let product = self.products.get(&sku_key(sku)).ok_or(Missing::Product)?;
        product
            .entries
            .get(&id)
            .map(|e| e.to_json_in(scope))
            .ok_or(Missing::Image)
    }

    /// Stores a new entry for the (validated, sanitized) file name; returns its id.
    /// Stores a new entry; at a store view's scope that view also gets its row (as Magento saves one).
    pub(super) fn add(
        &mut self,
        sku: &str,
        fields: EntryFields,
        file_name: &str,
        scope: &Scope,
    ) -> Result<u64, Missing> {
        if !self.products.contains_key(&sku_key(sku)) {
            return Err(Missing::Product);
        }
        let file = self.unique_path(file_name);
        let product = self
            .products
            .get_mut(&sku_key(sku))
            .ok_or(Missing::Product)?;
        self.next_entry_id += 1;
        let id = self.next_entry_id;
        take_roles(product, id, &fields.types);
        let mut views = BTreeMap::new();
        if let Scope::View(code) = scope {
            views.insert(code.clone(), ViewValues::written(&fields));
        }
        product.entries.insert(
            id,
            Entry {
                id,
                fields,
                file: file.clone(),
                views,
            },
        );
        self.files.insert(file);
        Ok(id)
    }

    pub(super) fn add_handmade(&mut self, sku: &str, fields: EntryFields) -> Result<u64, Missing> {
        let name = format!("handmade_{}.jpg", self.next_entry_id + 1);
        self.add(sku, fields, &name, &Scope::All)
    }

    /// Replaces the mutable fields of the entry `id` at `scope` (the file stays): the defaults at `all`, that
    /// view's row at a store view's scope; roles given are the product's (taken from other entries) either way.
    pub(super) fn update(
        &mut self,
        sku: &str,
        id: Option<u64>,
        fields: EntryFields,
        scope: &Scope,
    ) -> Result<(), Missing> {
        let product = self
            .products
            .get_mut(&sku_key(sku))
            .ok_or(Missing::Product)?;
        let id = id
            .filter(|id| product.entries.contains_key(id))
            .ok_or(Missing::Image)?;
        take_roles(product, id, &fields.types);
        let entry = product.entries.get_mut(&id).ok_or(Missing::Image)?;
        match scope {
            Scope::All => entry.fields = fields,
            Scope::View(code) => {
                entry.fields.types = fields.types.clone();
                // The media type and the video's content are the entry's, whatever the scope of the write.
                entry.fields.video = fields.video.clone();
                entry
                    .views
                    .insert(code.clone(), ViewValues::written(&fields));
            }
        }
        Ok(())
    }

    /// Deletes the entry, freeing its roles and its file (Magento deletes a file no entry uses).
    pub(super) fn remove(&mut self, sku: &str, id: u64) -> Result<(), Missing> {
        let product = self
            .products
            .get_mut(&sku_key(sku))
            .ok_or(Missing::Product)?;
        let entry = product.entries.remove(&id).ok_or(Missing::Image)?;
        self.files.remove(&entry.file);
        Ok(())
    }

    /// One page of products by id, and the total. A page past the last answers the last page, as Magento's
    /// collections do (page by `total_count`, not until an empty page). `page_size` 0 = everything.
    pub(super) fn products_page(&self, page_size: u64, current_page: u64) -> (Vec<Value>, usize) {
        let mut products: Vec<&Product> = self.products.values().collect();
        products.sort_by_key(|p| p.id);
        let total = products.len();
        let items = products.into_iter().map(|p| {
            let sku = &p.sku;
            json!({ "id": p.id, "sku": sku, "name": sku, "type_id": "simple", "attribute_set_id": 4 })
        });
        let Ok(size) = usize::try_from(page_size) else {
            return (items.collect(), total);
        };
        if size == 0 {
            return (items.collect(), total);
        }
        let last_page = total.div_ceil(size).max(1);
        let page = usize::try_from(current_page)
            .unwrap_or(usize::MAX)
            .clamp(1, last_page);
        (items.skip((page - 1) * size).take(size).collect(), total)
    }

    /// `/a/b/name.ext` from the first two characters (lower-cased, `.` as `_`), with `_1`, `_2`, ... before
    /// the extension while the path is taken anywhere in the store.
    pub(super) fn unique_path(&self, name: &str) -> String {
        let dir: String = name
            .chars()
            .take(2)
            .map(|c| {
                if c == '.' {
                    "/_".to_owned()
                } else {
                    format!("/{}", c.to_lowercase())
                }
            })
            .collect();
        let first = format!("{dir}/{name}");
        if !self.files.contains(&first) {
            return first;
        }
        let (stem, extension) = name.rsplit_once('.').unwrap_or((name, ""));
        (1u64..)
            .map(|n| format!("{dir}/{stem}_{n}.{extension}"))
            .find(|candidate| !self.files.contains(candidate))
            .unwrap_or(first)
    }
}

/// Roles are product attributes: those given to `id` are removed from every other entry of the product.
pub(super) fn take_roles(product: &mut Product, id: u64, roles: &[&'static str]) {
    for (other, entry) in &mut product.entries {
        if *other != id {
            entry.fields.types.retain(|role| !roles.contains(role));
        }
    }
}

/// Known roles among `given`, once each, in [`ROLES`] order; unknown ones are ignored (as Magento does).
pub(super) fn roles_from(given: &[&str]) -> Vec<&'static str> {
    ROLES
        .iter()
        .copied()
        .filter(|role| given.contains(role))
        .collect()
}
