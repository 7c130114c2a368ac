//! Upload file names: every distinct content identity of an asset gets its own token, so a new version is
//! uploaded rather than adopted (issue 16, item 14).

use assetsync_domain::media_files::{file_carries_content, file_stem};
use assetsync_domain::{AssetId, ContentId};
use proptest::prelude::*;
use std::collections::HashSet;

fn asset() -> AssetId {
    AssetId::parse("urn:aaid:aem:1a034bee-ebda-4787-bad3-f924d0772b75").unwrap()
}

#[test]
fn every_repo_version_of_an_asset_gets_its_own_file_name() {
    // `repo:version` when `dam:sha1` is missing: the old token (first 8 alphanumerics, "oak10ci" + one
    // character) repeated after sixteen hex versions or ten decimal ones.
    let versions = (0..50_000u32).map(|n| format!("oak:1.0::ci:{n}")).chain(
        (0..50_000u32).map(|n| format!("oak:1.0::ci:{:08x}{n:x}", n.wrapping_mul(2_654_435_761))),
    );
    let mut stems = HashSet::new();
    let mut count = 0;
    for version in versions {
        count += 1;
        let stem = file_stem(&asset(), &ContentId(version.clone()));
        assert!(
            stems.insert(stem.clone()),
            "{version} repeats the stem {stem}"
        );
    }
    assert_eq!(stems.len(), count);
}

proptest! {
    #[test]
    fn distinct_content_ids_give_distinct_stems(a in ".{0,60}", b in ".{0,60}") {
        prop_assume!(a != b);
        let (a, b) = (ContentId(a), ContentId(b));
        let stem_a = file_stem(&asset(), &a);
        prop_assert_ne!(&stem_a, &file_stem(&asset(), &b));
        // A file of one content is never taken for the other's.
        let path = format!("/1/a/{stem_a}.png");
        prop_assert!(file_carries_content(&path, &asset(), &a));
        prop_assert!(!file_carries_content(&path, &asset(), &b));
    }

    #[test]
    fn versions_that_differ_in_one_character_never_share_a_stem(
        prefix in "[a-z0-9:.]{0,20}",
        x in any::<char>(),
        y in any::<char>(),
        suffix in "[a-f0-9]{0,32}",
    ) {
        prop_assume!(x != y);
        let a = ContentId(format!("{prefix}{x}{suffix}"));
        let b = ContentId(format!("{prefix}{y}{suffix}"));
        prop_assert_ne!(file_stem(&asset(), &a), file_stem(&asset(), &b));
    }
}
