//! The deterministic file names assetsync gives the binaries it uploads to a commerce platform, so that an
//! entry created just before a crash (or found after a lost database) is recognised and adopted.

use crate::ids::{AssetId, ContentId};

/// `<asset-uuid>-<first 8 alphanumerics of the content identity>`: the name without extension.
pub fn file_stem(asset_id: &AssetId, content_id: &ContentId) -> String {
    let short: String = content_id
        .0
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    format!(
        "{}-{}",
        asset_id.uuid().to_ascii_lowercase(),
        short.to_ascii_lowercase()
    )
}

/// The file extension for an image MIME type commerce platforms accept; `None` for anything else.
pub fn image_extension(mime: &str) -> Option<&'static str> {
    match mime
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "image/jpeg" | "image/jpg" | "image/pjpeg" => Some("jpg"),
        "image/png" => Some("png"),
        "image/gif" => Some("gif"),
        "image/webp" => Some("webp"),
        _ => None,
    }
}

/// True when a stored file path (`/a/b/<stem>.png`, or with a clash suffix `<stem>_1.png`) carries `stem`.
pub fn path_carries_stem(path: &str, stem: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let base = name.rsplit_once('.').map_or(name, |(base, _)| base);
    let base = match base.rsplit_once('_') {
        Some((head, suffix))
            if !suffix.is_empty() && suffix.chars().all(|c| c.is_ascii_digit()) =>
        {
            head
        }
        _ => base,
    };
    base.eq_ignore_ascii_case(stem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_are_deterministic_and_recognised_after_a_clash_suffix() -> Result<(), crate::IdError> {
        let asset = AssetId::parse("urn:aaid:aem:1A034BEE-ebda-4787-bad3-f924d0772b75")?;
        let stem = file_stem(&asset, &ContentId("oak:1.0::ci:3af2".into()));
        assert_eq!(stem, "1a034bee-ebda-4787-bad3-f924d0772b75-oak10ci3");
        assert!(path_carries_stem(&format!("/1/a/{stem}.png"), &stem));
        assert!(path_carries_stem(&format!("/1/a/{stem}_2.png"), &stem));
        assert!(!path_carries_stem("/h/a/handmade_1.jpg", &stem));
        assert_eq!(image_extension("image/png"), Some("png"));
        assert_eq!(image_extension("image/jpeg; charset=binary"), Some("jpg"));
        assert_eq!(image_extension("application/pdf"), None);
        Ok(())
    }
}
