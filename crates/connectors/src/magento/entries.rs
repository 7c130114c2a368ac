//! The writes of one entry: its creation (the binary downloaded from the DAM, or an entry adopted by its file
//! name), a whole-entry PUT, a deletion. A video's content is its poster image ([`super::video`]).

use super::{Failure, MagentoSink, RemoteEntry, download, is_missing_entry, rejected, video};
use crate::sink::SinkError;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use domain::media_files::{file_carries_content, file_stem, image_extension};
use domain::{GalleryEntry, Sku};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

impl MagentoSink {
    /// Downloads the asset's original binary from the DAM's delivery origin (for a video, its poster image:
    /// the image rendition; the video itself is never downloaded): an image of at most `max_binary_bytes`,
    /// streamed ([`download`]).
    pub(super) async fn download(
        &self,
        entry: &GalleryEntry,
        stem: &str,
    ) -> Result<(Bytes, String), Failure> {
        let url = match video::video_of(entry) {
            Some(_) => format!(
                "{}/adobe/assets/{}/as/{stem}.jpg",
                self.settings.delivery_origin, entry.asset_id
            ),
            None => format!(
                "{}/adobe/assets/{}/original/as/{stem}",
                self.settings.delivery_origin, entry.asset_id
            ),
        };
        let reply = self.get_binary(&url).await?;
        if matches!(reply.status().as_u16(), 404 | 410) {
            return Err(Failure::BinaryMissing(format!(
                "the DAM no longer delivers the binary of {} (HTTP {}); the asset is read again",
                entry.asset_id,
                reply.status()
            )));
        }
        if !reply.status().is_success() {
            return Err(Failure::Sink(SinkError::Unavailable {
                message: format!(
                    "the DAM delivered no binary for {} (HTTP {})",
                    entry.asset_id,
                    reply.status()
                ),
                retry_after_ms: None,
            }));
        }
        download::read_image(&entry.asset_id, reply, self.settings.max_binary_bytes).await
    }

    /// Creates the entry, or adopts the one carrying its file name (made before a crash or a lost database).
    pub(super) async fn create(
        &self,
        sku: &Sku,
        entry: &GalleryEntry,
        remote: &[RemoteEntry],
    ) -> Result<String, Failure> {
        let stem = file_stem(&entry.asset_id, &entry.content_id);
        if let Some(found) = remote.iter().find(|r| {
            r.file
                .as_deref()
                .is_some_and(|f| file_carries_content(f, &entry.asset_id, &entry.content_id))
        }) {
            tracing::info!(%sku, asset = %entry.asset_id, entry_id = found.id, "adopting an entry created earlier");
            self.put(sku, found.id, entry, found.file.as_deref())
                .await?;
            return Ok(found.id.to_string());
        }
        let (binary, mime) = self.download(entry, &stem).await?;
        // Known image types get their usual extension; other image types go to the store, which decides
        // (and answers with its own message); anything else is not an image.
        let subtype: String = mime
            .split(';')
            .next()
            .and_then(|m| m.trim().strip_prefix("image/"))
            .unwrap_or_default()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let extension = match image_extension(&mime) {
            Some(known) => known.to_owned(),
            None if !subtype.is_empty() => subtype,
            None => {
                return Err(Failure::Sink(SinkError::Rejected(format!(
                    "the DAM delivers {} as {mime:?}, which is not an image",
                    entry.asset_id
                ))));
            }
        };
        let body = video::entry_body(
            json!({
                "label": entry.label,
                "position": entry.position,
                "disabled": entry.hidden,
                "types": entry.roles,
                "content": {
                    "base64_encoded_data": STANDARD.encode(&binary),
                    "type": mime.split(';').next().unwrap_or_default().trim(),
                    "name": format!("{stem}.{extension}"),
                },
            }),
            entry,
        );
        let reply = self
            .send(Method::POST, &self.media_url(sku, None), Some(&body), true)
            .await?;
        match reply.status {
            StatusCode::NOT_FOUND => Err(self.not_found("POST", sku, &reply.body)),
            s if s.is_success() => match serde_json::from_slice::<Value>(&reply.body) {
                Ok(Value::String(id)) => Ok(id),
                Ok(Value::Number(id)) => Ok(id.to_string()),
                _ => Err(Failure::Sink(SinkError::Unavailable {
                    message: "the store answered a create without an entry id".into(),
                    retry_after_ms: None,
                })),
            },
            s => Err(rejected(s, &reply.body)),
        }
    }

    /// Replaces the whole entry `id` (read-modify-write: the stored file stays). `Ok(false)` when the entry
    /// no longer exists (deleted by hand).
    pub(super) async fn put(
        &self,
        sku: &Sku,
        id: u64,
        entry: &GalleryEntry,
        file: Option<&str>,
    ) -> Result<bool, Failure> {
        let body = video::entry_body(
            json!({
                "id": id,
                "label": entry.label,
                "position": entry.position,
                "disabled": entry.hidden,
                "types": entry.roles,
                "file": file,
            }),
            entry,
        );
        let reply = self
            .send(
                Method::PUT,
                &self.media_url(sku, Some(id)),
                Some(&body),
                true,
            )
            .await?;
        match reply.status {
            StatusCode::NOT_FOUND if is_missing_entry(&reply.body) => Ok(false),
            StatusCode::NOT_FOUND => Err(self.not_found("PUT", sku, &reply.body)),
            s if s.is_success() => Ok(true),
            s => Err(rejected(s, &reply.body)),
        }
    }

    /// Deletes entry `id`; an entry already gone is fine.
    pub(super) async fn delete(&self, sku: &Sku, id: u64) -> Result<(), Failure> {
        let reply = self
            .send(Method::DELETE, &self.media_url(sku, Some(id)), None, true)
            .await?;
        match reply.status {
            StatusCode::NOT_FOUND if is_missing_entry(&reply.body) => Ok(()),
            StatusCode::NOT_FOUND => Err(self.not_found("DELETE", sku, &reply.body)),
            s if s.is_success() => Ok(()),
            s => Err(rejected(s, &reply.body)),
        }
    }
}
