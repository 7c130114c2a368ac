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

/// The video player of an asset (reference §8.1): `<base>/play`.
pub fn play_url(base: &str) -> String {
    format!("{base}/play")
}

/// The shape of a rendition URL (reference §8.1): `<base>/as/<seo>.<format>?<params>`, params in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    format: &'static str,
    /// `(name, value)` in the order they are written.
    params: Vec<(&'static str, String)>,
}

impl Default for Rendition {
    /// webp, quality 80 (the storefront's defaults).
    fn default() -> Self {
        Self {
            format: "webp",
            params: vec![("quality", "80".to_owned())],
        }
    }
}

impl Rendition {
    /// Reads `format`, `width`, `height`, `quality`, `rotate`, `flip`, `crop`, `size`, `preferwebp` and
    /// `attachment` from query pairs; anything else, or a bad value, is an error naming it.
    pub fn from_query<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, String> {
        const FORMATS: [&str; 5] = ["gif", "png", "jpg", "jpeg", "webp"];
        const ORDER: [&str; 9] = [
            "width",
            "height",
            "quality",
            "rotate",
            "flip",
            "crop",
            "size",
            "preferwebp",
            "attachment",
        ];
        let mut format = "webp";
        let mut given: Vec<(&'static str, String)> = Vec::new();
        for (name, value) in pairs {
            let number = |min: u32, max: u32| -> Result<String, String> {
                match value.parse::<u32>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(n.to_string()),
                    _ => Err(format!("{name} must be a whole number from {min} to {max}")),
                }
            };
            let checked: (&'static str, String) = match name {
                "format" => {
                    format = FORMATS
                        .iter()
                        .find(|f| **f == value)
                        .ok_or_else(|| format!("format must be one of {}", FORMATS.join(", ")))?;
                    continue;
                }
                "width" => ("width", number(1, 12_000)?),
                "height" => ("height", number(1, 12_000)?),
                "quality" => ("quality", number(1, 100)?),
                "rotate" if matches!(value, "90" | "180" | "270") => ("rotate", value.to_owned()),
                "rotate" => return Err("rotate must be 90, 180 or 270".into()),
                "flip" if matches!(value, "h" | "v" | "hv") => ("flip", value.to_owned()),
                "flip" => return Err("flip must be h, v or hv".into()),
                "crop" if is_box(value, 4) => ("crop", value.to_owned()),
                "crop" => {
                    return Err(
                        "crop must be x,y,w,h in pixels or percent (10p,10p,50p,50p)".into(),
                    );
                }
                "size" if is_box(value, 2) && !value.contains('p') => ("size", value.to_owned()),
                "size" => return Err("size must be W,H in pixels".into()),
                "preferwebp" | "attachment" if matches!(value, "true" | "false") => (
                    if name == "preferwebp" {
                        "preferwebp"
                    } else {
                        "attachment"
                    },
                    value.to_owned(),
                ),
                "preferwebp" | "attachment" => return Err(format!("{name} must be true or false")),
                other => return Err(format!("unknown rendition parameter {other:?}")),
            };
            given.retain(|(n, _)| *n != checked.0);
            given.push(checked);
        }
        if !given.iter().any(|(n, _)| *n == "quality") {
            given.push(("quality", "80".to_owned()));
        }
        given.sort_by_key(|(n, _)| ORDER.iter().position(|o| o == n));
        Ok(Self {
            format,
            params: given,
        })
    }
}

fn is_box(value: &str, parts: usize) -> bool {
    let items: Vec<&str> = value.split(',').collect();
    items.len() == parts
        && items.iter().all(|item| {
            let digits = item.strip_suffix('p').unwrap_or(item);
            !digits.is_empty() && digits.len() <= 6 && digits.chars().all(|c| c.is_ascii_digit())
        })
}

/// A ready rendition URL with the SKU as SEO name (characters outside `[.\w-]` percent-encoded).
pub fn rendition_url(origin: &str, asset_id: &AssetId, sku: &Sku, rendition: &Rendition) -> String {
    rendition_from_base(&base_url(origin, asset_id), sku, rendition)
}

/// The rendition URL under a base URL (`…/adobe/assets/<asset-id>`).
pub fn rendition_from_base(base: &str, sku: &Sku, rendition: &Rendition) -> String {
    let query: Vec<String> = rendition
        .params
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    format!(
        "{base}/as/{}.{}?{}",
        seo_name(sku.as_str()),
        rendition.format,
        query.join("&")
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
            rendition_url(&origin, &id, &sku, &Rendition::default())
                .ends_with("/as/MH%2001%2Fx.webp?quality=80")
        );
        let shaped = Rendition::from_query([
            ("quality", "60"),
            ("format", "png"),
            ("width", "300"),
            ("crop", "10p,10p,50p,50p"),
        ]);
        assert_eq!(
            shaped
                .map(|r| rendition_url(&origin, &id, &sku, &r))
                .unwrap_or_default(),
            format!(
                "{}/as/MH%2001%2Fx.png?width=300&quality=60&crop=10p,10p,50p,50p",
                base_url(&origin, &id)
            )
        );
        assert!(Rendition::from_query([("format", "tiff")]).is_err());
        assert!(Rendition::from_query([("smartcrop", "x")]).is_err());
        assert!(Rendition::from_query([("width", "0")]).is_err());
        Ok(())
    }
}
