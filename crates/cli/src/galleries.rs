//! The galleries of a sandbox run in one comparable shape: what the DAM's final state calls for (the
//! oracle), what the service serves, what the emulated store holds, and the first differences between them
//! (`demo` and `bench` print these instead of a bare "WRONG").

use crate::launch::Service;
use domain::MatchSettings;
use domain::Sku;
use domain::gallery::compute_gallery;
use domain::metadata::{AssetMetadata, Evaluation, evaluate};
use sandbox::aem::AemEmulator;
use sandbox::commerce::CommerceEmulator;
use serde_json::Value;
use std::collections::BTreeMap;

/// One entry: (asset id, position, roles, `image` or `video`).
pub(crate) type Entry = (String, u32, Vec<String>, &'static str);

/// The galleries the emulator's final state calls for: SKU → entries.
pub(crate) type Expected = BTreeMap<String, Vec<Entry>>;

/// `image` or `video`, from a media type as the read API (`video`) or Magento (`external-video`) names it.
fn kind(media_type: &Value) -> &'static str {
    match media_type.as_str() {
        Some("video" | "external-video") => "video",
        _ => "image",
    }
}

pub(crate) fn expected_galleries(
    emulator: &AemEmulator,
    products: &[Sku],
) -> anyhow::Result<Expected> {
    let settings = MatchSettings::default();
    let mut claims: BTreeMap<String, Vec<domain::DesiredLink>> = BTreeMap::new();
    for value in emulator.all_metadata() {
        let metadata: AssetMetadata = serde_json::from_value(value)?;
        if let Evaluation::Eligible { links, .. } = evaluate(&metadata, &settings) {
            for link in links {
                claims
                    .entry(link.sku.as_str().to_owned())
                    .or_default()
                    .push(link);
            }
        }
    }
    Ok(products
        .iter()
        .map(|sku| {
            let gallery = compute_gallery(claims.get(sku.as_str()).map_or(&[][..], Vec::as_slice));
            let entries = gallery
                .into_iter()
                .map(|e| {
                    (
                        e.asset_id.to_string(),
                        e.position,
                        e.roles.iter().map(ToString::to_string).collect(),
                        e.media_type.as_str(),
                    )
                })
                .collect();
            (sku.as_str().to_owned(), entries)
        })
        .collect())
}

/// Reads the galleries the service serves (from its read cache) in the same shape.
pub(crate) fn served_galleries(service: &Service, products: &[Sku]) -> Expected {
    products
        .iter()
        .map(|sku| {
            let entries = service
                .engine
                .cache()
                .get(sku)
                .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
                .map(|body| gallery_of(&body))
                .unwrap_or_default();
            (sku.as_str().to_owned(), entries)
        })
        .collect()
}

pub(crate) fn gallery_of(body: &Value) -> Vec<Entry> {
    body["entries"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    let roles = e["roles"].as_array().map(|r| {
                        r.iter()
                            .filter_map(|x| x.as_str().map(str::to_owned))
                            .collect()
                    });
                    (
                        e["asset_id"].as_str().unwrap_or_default().to_owned(),
                        u32::try_from(e["position"].as_u64().unwrap_or_default())
                            .unwrap_or(u32::MAX),
                        roles.unwrap_or_default(),
                        kind(&e["media_type"]),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The galleries the emulated store holds, in the same shape (asset id recovered from the file name).
pub(crate) fn store_galleries(store: &CommerceEmulator, products: &[Sku]) -> Expected {
    products
        .iter()
        .map(|sku| {
            let mut entries: Vec<Entry> = store
                .entries(sku.as_str())
                .unwrap_or_default()
                .iter()
                .map(|e| {
                    let name = e["file"]
                        .as_str()
                        .unwrap_or_default()
                        .rsplit('/')
                        .next()
                        .unwrap_or_default();
                    let uuid: String = name.chars().take(36).collect();
                    let mut roles: Vec<String> = e["types"]
                        .as_array()
                        .map(|r| {
                            r.iter()
                                .filter_map(|x| x.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default();
                    roles.sort();
                    (
                        format!("urn:aaid:aem:{uuid}"),
                        u32::try_from(e["position"].as_u64().unwrap_or_default())
                            .unwrap_or(u32::MAX),
                        roles,
                        kind(&e["media_type"]),
                    )
                })
                .collect();
            entries.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
            (sku.as_str().to_owned(), entries)
        })
        .collect()
}

pub(crate) fn count_entries(galleries: &Expected) -> usize {
    galleries.values().map(Vec::len).sum()
}

pub(crate) fn matching_entries(expected: &Expected, served: &Expected) -> usize {
    expected
        .iter()
        .map(|(sku, entries)| {
            let served = served.get(sku);
            entries
                .iter()
                .filter(|e| served.is_some_and(|s| s.contains(e)))
                .count()
        })
        .sum()
}

/// One product whose gallery on one side differs from the expected one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Difference {
    pub sku: String,
    /// `served` (the service's read API) or `store` (the emulated Adobe Commerce store).
    pub side: &'static str,
    pub expected: Vec<Entry>,
    pub found: Vec<Entry>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): expected {}, found {}",
            self.sku,
            self.side,
            entries_text(&self.expected),
            entries_text(&self.found)
        )
    }
}

/// `[<uuid>@<position> <roles>, ...]`, a video marked `(video)`.
fn entries_text(entries: &[Entry]) -> String {
    let items: Vec<String> = entries
        .iter()
        .map(|(asset, position, roles, kind)| {
            let id = asset.strip_prefix("urn:aaid:aem:").unwrap_or(asset);
            let video = if *kind == "video" { " (video)" } else { "" };
            if roles.is_empty() {
                format!("{id}@{position}{video}")
            } else {
                format!("{id}@{position} {}{video}", roles.join("+"))
            }
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// Every product whose gallery on `side` is not the expected one, in SKU order.
pub(crate) fn differences(
    expected: &Expected,
    side: &'static str,
    found: &Expected,
) -> Vec<Difference> {
    let empty = Vec::new();
    let skus: std::collections::BTreeSet<&String> = expected.keys().chain(found.keys()).collect();
    skus.into_iter()
        .filter_map(|sku| {
            let want = expected.get(sku).unwrap_or(&empty);
            let have = found.get(sku).unwrap_or(&empty);
            (want != have).then(|| Difference {
                sku: sku.clone(),
                side,
                expected: want.clone(),
                found: have.clone(),
            })
        })
        .collect()
}

/// The first `limit` differences of the served galleries and (when there is one) the store's, as lines to
/// print, with a count of the products that differ on each side.
pub(crate) fn difference_report(
    expected: &Expected,
    served: &Expected,
    store: Option<&Expected>,
    limit: usize,
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut sides = vec![("served", served)];
    sides.extend(store.map(|store| ("store", store)));
    for (side, found) in sides {
        let found = differences(expected, side, found);
        if found.is_empty() {
            continue;
        }
        lines.push(format!(
            "{} of {} products differ on the {side} side; the first {}:",
            found.len(),
            expected.len(),
            found.len().min(limit)
        ));
        lines.extend(found.iter().take(limit).map(|d| format!("  {d}")));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gallery(entries: &[(&str, u32, &[&str])]) -> Vec<Entry> {
        entries
            .iter()
            .map(|(id, position, roles)| {
                (
                    format!("urn:aaid:aem:{id}"),
                    *position,
                    roles.iter().map(|r| (*r).to_owned()).collect(),
                    "image",
                )
            })
            .collect()
    }

    #[test]
    fn differences_name_the_product_the_side_and_both_galleries() {
        let expected: Expected = [
            ("P-1".to_owned(), gallery(&[("a", 1, &["image"])])),
            ("P-2".to_owned(), gallery(&[("b", 1, &[])])),
        ]
        .into();
        let mut store = expected.clone();
        store.insert(
            "P-2".into(),
            gallery(&[("b", 1, &[]), ("c", 2, &["thumbnail"])]),
        );
        let lines = difference_report(&expected, &expected, Some(&store), 10);
        assert_eq!(
            lines,
            vec![
                "1 of 2 products differ on the store side; the first 1:".to_owned(),
                "  P-2 (store): expected [b@1], found [b@1, c@2 thumbnail]".to_owned(),
            ]
        );
        assert!(difference_report(&expected, &expected, Some(&expected), 10).is_empty());
    }

    #[test]
    fn a_video_is_expected_as_a_video_on_either_side() {
        let mut expected: Expected = [("P-1".to_owned(), gallery(&[("v", 1, &[])]))].into();
        if let Some(entries) = expected.get_mut("P-1") {
            entries[0].3 = "video";
        }
        let store_entry = serde_json::json!({ "entries": [
            { "asset_id": "urn:aaid:aem:v", "position": 1, "roles": [], "media_type": "video" },
        ]});
        let served: Expected = [("P-1".to_owned(), gallery_of(&store_entry))].into();
        assert!(difference_report(&expected, &served, None, 10).is_empty());
        assert_eq!(kind(&serde_json::json!("external-video")), "video");
        let image: Expected = [("P-1".to_owned(), gallery(&[("v", 1, &[])]))].into();
        assert_eq!(
            difference_report(&expected, &image, None, 10)[1],
            "  P-1 (served): expected [v@1 (video)], found [v@1]"
        );
    }
}
