//! `TestApp` helpers acting on the emulators: assets created, approved and edited in the emulated DAM, and the
//! emulated Adobe Commerce store read back.

use crate::harness::TestApp;
use sandbox::aem::NewAsset;
use sandbox::commerce::CommerceEmulator;
use serde_json::{Value, json};

impl TestApp {
    /// Creates an asset in the DAM with this metadata (not yet approved).
    pub fn create_asset(&self, metadata: Value) -> String {
        let Value::Object(metadata) = metadata else {
            panic!("metadata must be an object")
        };
        self.emulator
            .create_asset(NewAsset {
                metadata,
                ..NewAsset::default()
            })
            .unwrap()
    }

    /// Creates an asset for commerce and approves it.
    pub fn approved_asset(&self, metadata: Value) -> String {
        let Value::Object(mut metadata) = metadata else {
            panic!("metadata must be an object")
        };
        metadata
            .entry("commerce:isCommerce")
            .or_insert(json!("Yes"));
        let id = self.create_asset(Value::Object(metadata));
        self.emulator.approve(&id).unwrap();
        id
    }

    /// The emulated store (panics when the service writes to the built-in catalog).
    pub fn store(&self) -> &CommerceEmulator {
        self.store
            .as_ref()
            .expect("this TestApp has no commerce emulator")
    }

    /// The store's gallery of `sku` as (asset id from the file name, position, roles, label), by position.
    pub fn store_gallery(&self, sku: &str) -> Vec<(String, i64, Vec<String>, Option<String>)> {
        self.store()
            .entries(sku)
            .unwrap_or_default()
            .iter()
            .map(|e| {
                let file = e["file"].as_str().unwrap_or_default();
                let name = file.rsplit('/').next().unwrap_or_default();
                let owner = if name.starts_with("handmade") {
                    "handmade".to_owned()
                } else {
                    format!("urn:aaid:aem:{}", name.chars().take(36).collect::<String>())
                };
                let mut roles: Vec<String> = e["types"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_owned())
                    .collect();
                roles.sort();
                (
                    owner,
                    e["position"].as_i64().unwrap(),
                    roles,
                    e["label"].as_str().map(str::to_owned),
                )
            })
            .collect()
    }

    pub fn update(&self, asset_id: &str, fields: Value) {
        let Value::Object(fields) = fields else {
            panic!("fields must be an object")
        };
        self.emulator.update_metadata(asset_id, fields).unwrap();
    }
}
