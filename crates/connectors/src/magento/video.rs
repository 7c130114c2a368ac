//! Videos on Magento: an `external-video` entry whose `extension_attributes.video_content` points at the DAM's
//! player (`video_url`, the custom domain applied) and whose content is the poster image, the video's image
//! rendition. The video's binary is never downloaded. Magento's REST API needs `video_content` in every write
//! of an `external-video` entry (its `ExternalVideoEntryConverter` reads it unconditionally), so each POST and
//! PUT, at every scope, carries it.

use domain::{GalleryEntry, MediaType, Video};
use serde_json::{Map, Value, json};

/// Magento's media type of a video whose player is hosted elsewhere.
pub(super) const EXTERNAL_VIDEO: &str = "external-video";

/// The video facts of `entry` when it is a video (those of a claim stored before videos carried them: empty).
pub(super) fn video_of(entry: &GalleryEntry) -> Option<Video> {
    match entry.media_type {
        MediaType::Video => Some(entry.video.clone().unwrap_or_default()),
        MediaType::Image => None,
    }
}

/// The `media_type` of `entry` and, for a video, its `extension_attributes`, set on an entry's JSON object.
pub(super) fn set_media(body: &mut Map<String, Value>, entry: &GalleryEntry) {
    match video_of(entry) {
        Some(video) => {
            body.insert("media_type".into(), json!(EXTERNAL_VIDEO));
            body.insert(
                "extension_attributes".into(),
                json!({ "video_content": {
                    "media_type": EXTERNAL_VIDEO,
                    "video_provider": "",
                    "video_url": video.url,
                    "video_title": video.title,
                    "video_description": video.description,
                    "video_metadata": "",
                }}),
            );
        }
        None => {
            body.insert("media_type".into(), json!("image"));
        }
    }
}

/// `{"entry": fields}` with the media type (and video content) of `entry` set.
pub(super) fn entry_body(fields: Value, entry: &GalleryEntry) -> Value {
    let mut fields = match fields {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    set_media(&mut fields, entry);
    json!({ "entry": fields })
}

/// The `video_url` of an entry as Magento lists it, if it is a video.
pub(super) fn listed_video_url(extension_attributes: Option<&Value>) -> Option<String> {
    extension_attributes?
        .get("video_content")?
        .get("video_url")?
        .as_str()
        .map(str::to_owned)
}
