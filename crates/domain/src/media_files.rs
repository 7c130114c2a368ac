//! The deterministic file names assetsync gives the binaries it uploads to a commerce platform, so that an
//! entry created just before a crash (or found after a lost database) is recognised and adopted.
//!
//! The name is `<asset-uuid>-<content token>.<ext>`. The content token is 16 hex digits of a 64-bit FNV-1a
//! hash of the *whole* content identity (`dam:sha1`, else `repo:version`), so every version of an asset gets
//! its own name: two content identities that differ anywhere give different tokens (two of equal length that
//! differ in one byte never collide; any other pair collides with odds of about 2^-64).
//!
//! Older releases used the first 8 alphanumerics of the content identity. That token told a `dam:sha1` apart
//! (32 bits of a hash) but not a `repo:version` (`oak:1.0::ci:3af2…` keeps one character of the version, so
//! about one new version in sixteen got the old token and its entry was adopted instead of uploaded). Files
//! named that way are still adopted, but only when the content identity is a `dam:sha1` (40 hex digits).

use crate::ids::{AssetId, ContentId};

/// `<asset-uuid>-<content token>`: the name without extension (see the module documentation).
pub fn file_stem(asset_id: &AssetId, content_id: &ContentId) -> String {
    format!(
        "{}-{}",
        asset_id.uuid().to_ascii_lowercase(),
        content_token(content_id)
    )
}

/// The content token: 16 lower-case hex digits of FNV-1a (64 bits) over the content identity's bytes.
pub fn content_token(content_id: &ContentId) -> String {
    let hash = content_id
        .0
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    format!("{hash:016x}")
}

/// The stem older releases gave (`<asset-uuid>-<first 8 alphanumerics>`), only where it still names one
/// content: when the content identity is a `dam:sha1` (40 hex digits). `None` for a `repo:version`.
pub fn legacy_file_stem(asset_id: &AssetId, content_id: &ContentId) -> Option<String> {
    let sha1 = &content_id.0;
    if sha1.len() != 40 || !sha1.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    Some(format!(
        "{}-{}",
        asset_id.uuid().to_ascii_lowercase(),
        sha1[..8].to_ascii_lowercase()
    ))
}

/// True when a stored file (its path) is this asset's binary of this content: it carries the stem, or the
/// legacy stem where that is safe ([`legacy_file_stem`]). What adoption and verification look for.
pub fn file_carries_content(path: &str, asset_id: &AssetId, content_id: &ContentId) -> bool {
    path_carries_stem(path, &file_stem(asset_id, content_id))
        || legacy_file_stem(asset_id, content_id).is_some_and(|stem| path_carries_stem(path, &stem))
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
    file_base(path).eq_ignore_ascii_case(stem)
}

/// A stored file path's name without its directory, extension and clash suffix (`/a/b/<stem>_1.png` → `<stem>`).
fn file_base(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let base = name.rsplit_once('.').map_or(name, |(base, _)| base);
    match base.rsplit_once('_') {
        Some((head, suffix))
            if !suffix.is_empty() && suffix.chars().all(|c| c.is_ascii_digit()) =>
        {
            head
        }
        _ => base,
    }
}

/// True when a stored file path carries a name assetsync gives (`<asset-uuid>-<16 hex>`, with any clash
/// suffix and extension): an entry no one else makes.
pub fn is_assetsync_file(path: &str) -> bool {
    let groups: Vec<&str> = file_base(path).split('-').collect();
    let lengths = [8, 4, 4, 4, 12, 16];
    groups.len() == lengths.len()
        && groups.iter().zip(lengths).all(|(group, length)| {
            group.len() == length && group.chars().all(|c| c.is_ascii_hexdigit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_are_deterministic_and_recognised_after_a_clash_suffix() -> Result<(), crate::IdError> {
        let asset = AssetId::parse("urn:aaid:aem:1A034BEE-ebda-4787-bad3-f924d0772b75")?;
        let content = ContentId("oak:1.0::ci:3af2".into());
        let stem = file_stem(&asset, &content);
        assert_eq!(stem, file_stem(&asset, &content), "deterministic");
        assert_eq!(stem.len(), 36 + 1 + 16);
        assert!(stem.starts_with("1a034bee-ebda-4787-bad3-f924d0772b75-"));
        assert!(path_carries_stem(&format!("/1/a/{stem}.png"), &stem));
        assert!(path_carries_stem(&format!("/1/a/{stem}_2.png"), &stem));
        assert!(!path_carries_stem("/h/a/handmade_1.jpg", &stem));
        assert!(is_assetsync_file(&format!("/1/a/{stem}.png")));
        assert!(is_assetsync_file(&format!("/1/a/{stem}_2.png")));
        assert!(!is_assetsync_file("/h/a/handmade_1.jpg"));
        assert!(!is_assetsync_file(
            "/1/a/1a034bee-ebda-4787-bad3-f924d0772b75-3af2.png"
        ));
        assert_eq!(image_extension("image/png"), Some("png"));
        assert_eq!(image_extension("image/jpeg; charset=binary"), Some("jpg"));
        assert_eq!(image_extension("application/pdf"), None);
        Ok(())
    }

    #[test]
    fn the_token_is_fnv1a_64_of_the_whole_identity() {
        // The FNV-1a 64 reference values of "" and "a".
        assert_eq!(content_token(&ContentId(String::new())), "cbf29ce484222325");
        assert_eq!(content_token(&ContentId("a".into())), "af63dc4c8601ec8c");
    }

    #[test]
    fn legacy_names_are_adopted_only_for_a_sha1() -> Result<(), crate::IdError> {
        let asset = AssetId::parse("urn:aaid:aem:1a034bee-ebda-4787-bad3-f924d0772b75")?;
        let sha1 = ContentId("3AF2B0C1d2e3f405162738495a6b7c8d9e0f1a2b".into());
        let legacy = "/1/a/1a034bee-ebda-4787-bad3-f924d0772b75-3af2b0c1.png";
        assert!(file_carries_content(legacy, &asset, &sha1));
        // A repo:version's legacy token ("oak10ci3") is shared by other versions: never adopted.
        let version = ContentId("oak:1.0::ci:3af2".into());
        let legacy_version = "/1/a/1a034bee-ebda-4787-bad3-f924d0772b75-oak10ci3.png";
        assert!(!file_carries_content(legacy_version, &asset, &version));
        let current = format!("/1/a/{}_1.png", file_stem(&asset, &version));
        assert!(file_carries_content(&current, &asset, &version));
        Ok(())
    }
}
