//! Delivery URLs (reference §8): the base `…/adobe/assets/<asset-id>` and a ready rendition URL.

use crate::ids::{AssetId, Sku};

/// The default delivery origin of an AEM environment.
pub fn default_delivery_origin(program_id: &str, environment_id: &str) -> String {
    format!("https://delivery-p{program_id}-e{environment_id}.adobeaemcloud.com")
}

/// The default author origin of an AEM environment.
pub fn default_author_origin(program_id: &str, environment_id: &str) -> String {
    format!("https://author-p{program_id}-e{environment_id}.adobeaemcloud.com")
}

/// `<origin>/adobe/assets/<asset-id>`: the base URL storefronts extend with `/as/<seo>.<format>?…`.
pub fn base_url(origin: &str, asset_id: &AssetId) -> String {
    format!("{}/adobe/assets/{}", origin.trim_end_matches('/'), asset_id)
}

/// A ready rendition URL: webp, quality 80, the SKU as SEO name (characters outside `[.\w-]` percent-encoded).
pub fn rendition_url(origin: &str, asset_id: &AssetId, sku: &Sku) -> String {
    format!(
        "{}/as/{}.webp?width=1200&quality=80",
        base_url(origin, asset_id),
        seo_name(sku.as_str())
    )
}

fn seo_name(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_reference() -> Result<(), crate::IdError> {
        let id = AssetId::parse("urn:aaid:aem:1a034bee-ebda-4787-bad3-f924d0772b75")?;
        let origin = default_delivery_origin("142461", "1463137");
        assert_eq!(
            base_url(&origin, &id),
            "https://delivery-p142461-e1463137.adobeaemcloud.com/adobe/assets/urn:aaid:aem:1a034bee-ebda-4787-bad3-f924d0772b75"
        );
        let sku = Sku::parse("MH 01/x")?;
        assert!(
            rendition_url(&origin, &id, &sku)
                .ends_with("/as/MH%2001%2Fx.webp?width=1200&quality=80")
        );
        Ok(())
    }
}
