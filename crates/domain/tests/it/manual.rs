//! `manual::desired_gallery` and `role_decisions`: manual links beside the metadata claims, and the precedence
//! between them (a manual link wins on its product; the owner never hides it).

use crate::support::*;
use assetsync_domain::gallery::EntrySource;
use assetsync_domain::manual::{RoleDecision, desired_gallery, role_decisions};
use assetsync_domain::{GalleryEntry, ManualLink};

fn manual(uuid: &str, role_codes: &[&str], position: Option<u32>, linked_ms: i64) -> ManualLink {
    ManualLink {
        link: claim(&asset_id(uuid), "MH01", role_codes, position, 0),
        linked_ms,
    }
}

fn entry<'a>(gallery: &'a [GalleryEntry], uuid: &str) -> &'a GalleryEntry {
    gallery
        .iter()
        .find(|e| e.asset_id.uuid() == uuid)
        .unwrap_or_else(|| panic!("{uuid} is not in {gallery:?}"))
}

#[test]
fn a_manual_link_stands_beside_the_claims_with_its_source() {
    let claims = [claim(&asset_id("a"), "MH01", &["image"], Some(1), 10)];
    let gallery = desired_gallery(
        &claims,
        &[manual("m", &["swatch_image"], Some(0), 5)],
        false,
    );
    assert_eq!(gallery.len(), 2);
    assert_eq!(gallery[0].asset_id, asset_id("m"), "position 0 comes first");
    assert_eq!(entry(&gallery, "m").source, EntrySource::Manual);
    assert_eq!(entry(&gallery, "a").source, EntrySource::Dam);
    assert_eq!(entry(&gallery, "a").roles, roles(&["image"]));
}

#[test]
fn a_manual_link_replaces_the_claim_of_the_same_asset_on_its_product() {
    let claims = [claim(&asset_id("a"), "MH01", &["image"], Some(7), 10)];
    let gallery = desired_gallery(&claims, &[manual("a", &["thumbnail"], Some(2), 5)], false);
    assert_eq!(gallery.len(), 1);
    let only = &gallery[0];
    assert_eq!(
        (only.source, only.position, only.roles.clone()),
        (EntrySource::Manual, 2, roles(&["thumbnail"]))
    );
}

#[test]
fn a_manual_link_takes_a_role_from_a_newer_metadata_claimant() {
    let claims = [claim(
        &asset_id("a"),
        "MH01",
        &["image", "small_image"],
        Some(1),
        9_999,
    )];
    let links = [manual("m", &["image"], Some(0), 1)];
    let gallery = desired_gallery(&claims, &links, false);
    assert_eq!(entry(&gallery, "m").roles, roles(&["image"]));
    assert_eq!(entry(&gallery, "a").roles, roles(&["small_image"]));
    let decisions = role_decisions(&claims, &links, &gallery);
    let image = decisions
        .iter()
        .find(|(role_code, _)| role_code.as_str() == "image")
        .map(|(_, d)| d.clone())
        .unwrap();
    assert_eq!(
        image,
        [
            RoleDecision::Held {
                by: asset_id("m"),
                source: EntrySource::Manual
            },
            RoleDecision::TakenByManual {
                from: asset_id("a"),
                by: asset_id("m")
            }
        ]
    );
}

#[test]
fn between_manual_links_the_newest_link_holds_a_role() {
    let links = [
        manual("z", &["image"], Some(0), 100),
        manual("b", &["image"], Some(1), 200),
    ];
    let gallery = desired_gallery(&[], &links, false);
    assert_eq!(entry(&gallery, "b").roles, roles(&["image"]));
    assert!(entry(&gallery, "z").roles.is_empty());
}

#[test]
fn the_owner_hides_metadata_entries_but_never_manual_ones() {
    let claims = [claim(&asset_id("a"), "MH01", &[], Some(1), 0)];
    let gallery = desired_gallery(&claims, &[manual("m", &[], None, 0)], true);
    assert!(entry(&gallery, "a").hidden);
    assert!(!entry(&gallery, "m").hidden);
    assert_eq!(
        entry(&gallery, "m").position,
        2,
        "after the positioned entries"
    );
}
