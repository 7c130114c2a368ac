//! Videos (reference §3.3 `asset_format`, §8.1 the player): an asset whose `dc:format` is `video/*` is a video.
//! The built-in catalog serves its poster image (its image rendition) and its player URL; on Adobe Commerce it
//! becomes an `external-video` entry whose `video_url` is the player and whose content is the poster image.

use crate::metadata::AssetMetadata;
use serde::{Deserialize, Serialize};

/// Longest `video_title` Magento stores (`catalog_product_entity_media_gallery_value_video.title`).
pub const MAX_TITLE_CHARS: usize = 255;

/// What a video entry carries beside an image's fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Video {
    /// `dc:title` (empty when absent), at most [`MAX_TITLE_CHARS`] characters.
    #[serde(default)]
    pub title: String,
    /// `dc:description` (empty when absent).
    #[serde(default)]
    pub description: String,
    /// The player URL (`<base>/play`, custom domain applied): empty in a claim, set from the configuration when
    /// a gallery is brought to a sink ([`crate::urls::play_url`]), so a domain change rewrites the entries.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
}

impl Video {
    /// The title and description of the video `meta` describes (its player URL not set).
    pub fn read(meta: &AssetMetadata) -> Self {
        let text = |key: &str| {
            meta.asset_str(key)
                .map(str::trim)
                .unwrap_or_default()
                .to_owned()
        };
        Self {
            title: text("dc:title").chars().take(MAX_TITLE_CHARS).collect(),
            description: text("dc:description"),
            url: String::new(),
        }
    }
}
