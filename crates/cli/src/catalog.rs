//! The generated catalog of `demo` and `bench`: assets spread over the products with roles, positions, alt
//! texts, and a few videos (one asset in [`VIDEO_ONE_IN`] is a `video/mp4`: on Adobe Commerce an
//! `external-video` entry, in the built-in catalog an entry with a poster image and a player URL).

use domain::Sku;
use sandbox::aem::NewAsset;
use serde_json::{Map, Value, json};

/// One asset in this many of a generated catalog is a video.
pub(crate) const VIDEO_ONE_IN: u8 = 20;

/// Whether the next generated asset is a video (one in [`VIDEO_ONE_IN`]).
pub(crate) fn next_is_video(rng: &mut fastrand::Rng) -> bool {
    rng.u8(..VIDEO_ONE_IN) == 0
}

/// The DAM asset to create: `metadata`, and the `video/mp4` format when it is a video (else the emulator's
/// default image format).
pub(crate) fn new_asset(metadata: Map<String, Value>, video: bool) -> NewAsset {
    NewAsset {
        metadata,
        format: video.then(|| "video/mp4".to_owned()),
        ..NewAsset::default()
    }
}

/// One generated asset: its metadata and what happens to it.
pub(crate) struct Plan {
    pub(crate) metadata: Map<String, Value>,
    /// A `video/mp4` asset.
    pub(crate) video: bool,
    pub(crate) approve: bool,
    pub(crate) reject_later: bool,
}

pub(crate) fn generate(products: &[Sku], assets: usize, seed: u64) -> Vec<Plan> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let role_sets = [
        "image;small_image;thumbnail",
        "swatch_image",
        "small_image",
        "thumbnail",
        "",
        "",
        "",
    ];
    (0..assets)
        .map(|i| {
            let sku_count = match rng.u8(..10) {
                0 => 3,
                1 | 2 => 2,
                _ => 1,
            };
            let mut skus: Vec<String> = Vec::new();
            while skus.len() < sku_count.min(products.len()) {
                let sku = products[rng.usize(..products.len())].as_str().to_owned();
                if !skus.contains(&sku) {
                    skus.push(sku);
                }
            }
            let roles: Vec<&str> = skus
                .iter()
                .map(|_| role_sets[rng.usize(..role_sets.len())])
                .collect();
            let positions: Vec<i64> = skus
                .iter()
                .map(|_| {
                    if rng.bool() {
                        i64::from(rng.u8(1..10))
                    } else {
                        -1
                    }
                })
                .collect();
            let mut metadata = Map::new();
            metadata.insert("dc:title".into(), json!(format!("Demo asset {i}")));
            metadata.insert(
                "commerce:isCommerce".into(),
                json!(if rng.bool() { "Yes" } else { "yes" }),
            );
            metadata.insert("commerce:skus".into(), json!(skus));
            metadata.insert("commerce:roles".into(), json!(roles));
            metadata.insert("commerce:positions".into(), json!(positions));
            if rng.u8(..4) == 0 {
                metadata.insert("commerce:altTextStoreViews".into(), json!(["default"]));
                metadata.insert(
                    "commerce:altTextValues".into(),
                    json!([format!("Alt text of asset {i}")]),
                );
            }
            let video = next_is_video(&mut rng);
            let approve = rng.u8(..100) >= 5;
            Plan {
                metadata,
                video,
                approve,
                reject_later: approve && rng.u8(..100) < 3,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_catalog_holds_a_few_videos() {
        let products: Vec<Sku> = (1..=20)
            .filter_map(|i| Sku::parse(&format!("P-{i}")).ok())
            .collect();
        assert_eq!(products.len(), 20);
        let plans = generate(&products, 400, 42);
        let videos = plans.iter().filter(|p| p.video).count();
        assert!((5..=60).contains(&videos), "{videos} videos in 400 assets");
        let asset = new_asset(plans[0].metadata.clone(), true);
        assert_eq!(asset.format.as_deref(), Some("video/mp4"));
        assert_eq!(new_asset(Map::new(), false).format, None);
    }
}
