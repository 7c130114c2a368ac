//! Synthetic asset statuses in bulk, for measuring the Sync Status listing at scale (`assetsync bench admin`,
//! tests): a million assets in seconds, with set-based statements (a recursive counter, `INSERT … SELECT`),
//! 100,000 rows per transaction.

use super::SqliteStore;
use super::conn::{Durability, execute};
use super::shared::to_json;
use crate::StoreResult;
use domain::gallery::{AppliedEntry, GalleryEntry};
use domain::{AssetId, ContentId, DesiredLink, MediaType, Role, Sku};
use std::collections::BTreeSet;

/// Rows per transaction.
const CHUNK: i64 = 100_000;
/// Assets per seeded product.
pub const SEED_ASSETS_PER_SKU: i64 = 4;

/// Asset `i` (1-based) of a seed: `urn:aaid:aem:seed-<i, 10 digits>`.
pub fn seeded_asset_id(i: i64) -> String {
    format!("urn:aaid:aem:seed-{i:010}")
}

/// The product asset `i` of a seed claims: `SEED-<i / 4, 7 digits>`.
pub fn seeded_sku(i: i64) -> String {
    format!("SEED-{:07}", i / SEED_ASSETS_PER_SKU)
}

/// Seeds assets `first ..= last`: 3 % Failed, 5 % Waiting, the rest Success (linked), processed within the
/// day before `now_ms`, each claiming one product (four assets a product).
const SEED_ASSETS: &str = "WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
     INSERT INTO assets (asset_id, status, waiting_since_ms, processing_ms, dispatched_ms, eligible, warnings,
                         last_error, failure_kind, last_latency_ms)
     SELECT printf('urn:aaid:aem:seed-%010d', i),
            CASE WHEN i % 100 < 3 THEN 'Failed' WHEN i % 100 < 8 THEN 'Waiting' ELSE 'Success' END,
            CASE WHEN i % 100 BETWEEN 3 AND 7 THEN ?3 - (i * 7919) % 86400000 END,
            ?3 - (i * 7919) % 86400000,
            CASE WHEN i % 100 >= 8 THEN ?3 - (i * 7919) % 86400000 + 500 + i % 3000 END,
            1, '[]',
            CASE WHEN i % 100 < 3 THEN 'seeded failure: the commerce store answered 400' END,
            CASE WHEN i % 100 < 3 THEN 'sku_final' END,
            CASE WHEN i % 100 >= 8 THEN 500 + i % 3000 END
     FROM n";

const SEED_CLAIMS: &str =
    "WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
     INSERT INTO claims (sku, asset_id, link)
     SELECT printf('SEED-%07d', i / 4), printf('urn:aaid:aem:seed-%010d', i),
            json_set(?3, '$.asset_id', printf('urn:aaid:aem:seed-%010d', i),
                     '$.sku', printf('SEED-%07d', i / 4), '$.label', 'Seeded asset ' || i)
     FROM n";

const SEED_GALLERY: &str = "WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
     INSERT INTO gallery (sku, asset_id, entry)
     SELECT printf('SEED-%07d', i / 4), printf('urn:aaid:aem:seed-%010d', i),
            json_set(?3, '$.asset_id', printf('urn:aaid:aem:seed-%010d', i), '$.label', 'Seeded asset ' || i,
                     '$.position', i % 4)
     FROM n WHERE i % 100 >= 8";

const SEED_PRODUCTS: &str =
    "WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
     INSERT INTO products (sku, created_ms)
     SELECT DISTINCT printf('SEED-%07d', i / 4), ?3 FROM n WHERE true
     ON CONFLICT (sku) DO NOTHING";

impl SqliteStore {
    /// Adds `count` synthetic asset statuses (with their claims, applied gallery entries and products) to
    /// an empty store: see [`seeded_asset_id`]. For benchmarks and tests of the Sync Status listing only; it
    /// queues no work.
    pub async fn seed_sync_statuses(&self, count: i64, now_ms: i64) -> StoreResult<()> {
        let template = template_link()?;
        let entry = template_entry()?;
        let mut first = 1;
        while first <= count {
            let last = (first + CHUNK - 1).min(count);
            let (template, entry) = (template.clone(), entry.clone());
            self.db
                .write(Durability::Normal, move |conn| {
                    execute(conn, SEED_ASSETS, (first, last, now_ms))?;
                    execute(conn, SEED_CLAIMS, (first, last, &template))?;
                    execute(conn, SEED_GALLERY, (first, last, &entry))?;
                    execute(conn, SEED_PRODUCTS, (first, last, now_ms))?;
                    Ok(())
                })
                .await?;
            first = last + 1;
        }
        Ok(())
    }
}

fn placeholder_asset() -> StoreResult<AssetId> {
    AssetId::parse(&seeded_asset_id(0)).map_err(|e| crate::StoreError::Corrupt(e.to_string()))
}

fn template_link() -> StoreResult<String> {
    let link = DesiredLink {
        asset_id: placeholder_asset()?,
        sku: Sku::parse("SEED-0").map_err(|e| crate::StoreError::Corrupt(e.to_string()))?,
        roles: BTreeSet::new(),
        position: None,
        label: None,
        labels: Default::default(),
        hidden_in: BTreeSet::new(),
        media_type: MediaType::Image,
        content_id: ContentId("seed".to_owned()),
        modified_ms: 0,
        video: None,
    };
    to_json(&link)
}

fn template_entry() -> StoreResult<String> {
    let image = Role::parse("image").map_err(|e| crate::StoreError::Corrupt(e.to_string()))?;
    let entry = AppliedEntry {
        entry: GalleryEntry {
            asset_id: placeholder_asset()?,
            roles: BTreeSet::from([image]),
            position: 0,
            label: None,
            labels: Default::default(),
            hidden_in: BTreeSet::new(),
            media_type: MediaType::Image,
            content_id: ContentId("seed".to_owned()),
            hidden: false,
            video: None,
            source: Default::default(),
        },
        remote_id: None,
        unknown_store_views: BTreeSet::new(),
    };
    to_json(&entry)
}
