//! The emulator's state changes: creating, updating, versioning and deleting assets, and the CloudEvents each
//! change emits (journaled, and queued for delivery to every webhook).

use super::renditions::rendition_png;
use super::{Asset, ControlError, Inner, NewAsset, Shared, now_ms, random_uuid};
use crate::delivery::Delivery;
use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
use domain::time::format_rfc3339_ms as rfc3339;
use serde_json::{Map, Value, json};
use std::sync::PoisonError;
use std::sync::atomic::Ordering;

impl Shared {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn repository_id(&self) -> String {
        format!(
            "author-p{}-e{}.adobeaemcloud.com",
            self.settings.program_id, self.settings.environment_id
        )
    }

    pub(super) fn create_asset(&self, new: NewAsset) -> Result<String, ControlError> {
        let asset_id = new
            .asset_id
            .unwrap_or_else(|| format!("urn:aaid:aem:{}", random_uuid()));
        let uuid = asset_id.trim_start_matches("urn:aaid:aem:").to_owned();
        let name = new.name.unwrap_or_else(|| format!("{uuid}.jpg"));
        let mut inner = self.lock();
        let modified = next_modify(&mut inner);
        let mut repository = Map::new();
        for (key, value) in [
            ("repo:assetId", json!(asset_id)),
            ("repo:repositoryId", json!(self.repository_id())),
            ("repo:name", json!(name)),
            ("repo:path", json!(format!("/content/dam/commerce/{name}"))),
            (
                "dc:format",
                json!(new.format.unwrap_or_else(|| "image/jpeg".into())),
            ),
            (
                "repo:size",
                json!(rendition_png(&asset_id).len().to_string()),
            ),
            ("repo:state", json!("ACTIVE")),
            ("aem:assetState", json!("processed")),
            ("repo:createDate", json!(rfc3339(modified))),
        ] {
            repository.insert(key.into(), value);
        }
        let mut asset = Asset {
            repository,
            metadata: new.metadata,
            version: 0,
            binary_version: 0,
            without_sha1: new.without_sha1,
        };
        touch(&mut asset, modified, &asset_id, true);
        let changed: Vec<String> = asset.metadata.keys().cloned().collect();
        let event = self.event(
            "aem.assets.asset.processing_completed",
            &asset_id,
            &asset,
            &changed,
        );
        inner.assets.insert(asset_id.clone(), asset);
        self.emit(&mut inner, event);
        Ok(asset_id)
    }

    pub(super) fn update(
        &self,
        asset_id: &str,
        fields: Map<String, Value>,
    ) -> Result<(), ControlError> {
        let mut inner = self.lock();
        let modified = next_modify(&mut inner);
        let asset = inner
            .assets
            .get_mut(asset_id)
            .ok_or_else(|| ControlError::UnknownAsset(asset_id.to_owned()))?;
        let mut changed = Vec::new();
        for (key, value) in fields {
            if value.is_null() {
                asset.metadata.remove(&key);
            } else {
                asset.metadata.insert(key.clone(), value);
            }
            changed.push(key);
        }
        touch(asset, modified, asset_id, false);
        let event = self.event(
            "aem.assets.asset.metadata_updated",
            asset_id,
            asset,
            &changed,
        );
        self.emit(&mut inner, event);
        Ok(())
    }

    pub(super) fn new_version(&self, asset_id: &str) -> Result<(), ControlError> {
        let mut inner = self.lock();
        let modified = next_modify(&mut inner);
        let asset = inner
            .assets
            .get_mut(asset_id)
            .ok_or_else(|| ControlError::UnknownAsset(asset_id.to_owned()))?;
        touch(asset, modified, asset_id, true);
        let event = self.event(
            "aem.assets.asset.processing_completed",
            asset_id,
            asset,
            &[],
        );
        self.emit(&mut inner, event);
        Ok(())
    }

    pub(super) fn delete(&self, asset_id: &str) -> Result<(), ControlError> {
        let mut inner = self.lock();
        let asset = inner
            .assets
            .remove(asset_id)
            .ok_or_else(|| ControlError::UnknownAsset(asset_id.to_owned()))?;
        let event = self.event("aem.assets.asset.deleted", asset_id, &asset, &[]);
        self.emit(&mut inner, event);
        Ok(())
    }

    /// A CloudEvent as I/O Events delivers it: the changed fields only, under `data.assetMetadata`.
    fn event(
        &self,
        event_type: &str,
        asset_id: &str,
        asset: &Asset,
        changed: &[String],
    ) -> (String, String, Vec<u8>) {
        let mut changed_metadata = Map::new();
        for key in changed {
            if let Some(value) = asset.metadata.get(key) {
                changed_metadata.insert(key.clone(), value.clone());
            }
        }
        changed_metadata.insert("event:updated".into(), json!(changed));
        self.cloud_event(
            event_type,
            asset_id,
            now_ms(),
            asset.repository.clone(),
            changed_metadata,
        )
    }

    pub(super) fn cloud_event(
        &self,
        event_type: &str,
        asset_id: &str,
        time_ms: i64,
        repository: Map<String, Value>,
        changed_metadata: Map<String, Value>,
    ) -> (String, String, Vec<u8>) {
        let id = random_uuid();
        let body = json!({
            "specversion": "1.0",
            "id": id,
            "source": format!("acct:aem-p{}-e{}@adobe.com", self.settings.program_id, self.settings.environment_id),
            "type": event_type,
            "datacontenttype": "application/json",
            "time": rfc3339(time_ms),
            "eventid": id,
            "event_id": id,
            "recipient_client_id": self.settings.recipient_client_id,
            "recipientclientid": self.settings.recipient_client_id,
            "data": {
                "user": { "imsUserId": "emulator@AdobeID", "displayName": "Emulator" },
                "repositoryMetadata": repository,
                "assetMetadata": changed_metadata,
                "assetId": asset_id,
            }
        });
        (id, event_type.to_owned(), body.to_string().into_bytes())
    }

    fn emit(&self, inner: &mut Inner, (event_id, event_type, body): (String, String, Vec<u8>)) {
        if self.quiet.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(event) = serde_json::from_slice(&body) {
            inner.journal.push(event);
        }
        if self.muted.load(Ordering::Relaxed) {
            return;
        }
        for url in &inner.webhooks {
            self.stats.queued.fetch_add(1, Ordering::Relaxed);
            let delivery = Delivery {
                url: url.clone(),
                event_id: event_id.clone(),
                event_type: event_type.clone(),
                body: body.clone(),
            };
            if self.deliveries.send(delivery).is_err() {
                self.stats.gave_up.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// A strictly increasing modification time (ms), so that later edits always win.
fn next_modify(inner: &mut Inner) -> i64 {
    inner.last_modify_ms = now_ms().max(inner.last_modify_ms + 1);
    inner.last_modify_ms
}

/// A new repository version; with `new_binary`, a new binary too (and so a new `dam:sha1`).
fn touch(asset: &mut Asset, modified: i64, asset_id: &str, new_binary: bool) {
    asset.version += 1;
    if new_binary {
        asset.binary_version += 1;
    }
    let sha1 = digest(
        &SHA1_FOR_LEGACY_USE_ONLY,
        format!("{asset_id}:{}", asset.binary_version).as_bytes(),
    );
    let sha1_hex: String = sha1.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    asset.repository.insert(
        "repo:version".into(),
        json!(format!("oak:1.0::ci:{}", asset.version)),
    );
    asset
        .repository
        .insert("repo:modifyDate".into(), json!(rfc3339(modified)));
    if asset.without_sha1 {
        asset.repository.remove("dam:sha1");
    } else {
        asset.repository.insert("dam:sha1".into(), json!(sha1_hex));
    }
}
