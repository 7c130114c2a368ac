//! `metadata::evaluate`: eligibility, index-aligned SKUs/roles/positions, malformed metadata, labels, media
//! type and content identity.

use crate::support::*;
use assetsync_domain::metadata::{MAX_POSITION, evaluate};
use assetsync_domain::{ContentId, Evaluation, MatchSettings, MediaType};
use serde_json::json;

fn only_link_of(meta: &assetsync_domain::AssetMetadata) -> assetsync_domain::DesiredLink {
    let links = eligible_links(meta);
    assert_eq!(links.len(), 1, "expected exactly one link, got {links:?}");
    links.into_iter().next().unwrap()
}

fn sku_codes(links: &[assetsync_domain::DesiredLink]) -> Vec<&str> {
    links.iter().map(|l| l.sku.as_str()).collect()
}

mod eligibility {
    use super::*;

    #[test]
    fn approved_commerce_asset_with_a_sku_is_eligible() {
        let asset = asset_id("a1");
        let meta = eligible_metadata(&asset, json!({ "commerce:skus": ["MH01"] }));
        let link = only_link_of(&meta);
        assert_eq!(link.asset_id, asset);
        assert_eq!(link.sku, sku("MH01"));
    }

    #[test]
    fn commerce_flag_yes_is_compared_case_insensitively_and_may_be_a_one_item_list() {
        let asset = asset_id("a1");
        for flag in [
            json!("yes"),
            json!("Yes"),
            json!("YES"),
            json!(" yEs "),
            json!(["yes"]),
            json!(["Yes"]),
        ] {
            let meta = eligible_metadata(
                &asset,
                json!({ "commerce:isCommerce": flag, "commerce:skus": ["MH01"] }),
            );
            assert_eq!(sku_codes(&eligible_links(&meta)), ["MH01"], "flag {flag}");
        }
    }

    #[test]
    fn commerce_flag_other_than_yes_or_missing_is_not_eligible() {
        let asset = asset_id("a1");
        for flag in [
            json!("No"),
            json!("no"),
            json!(""),
            json!(true),
            json!(["yes", "no"]),
            json!("y"),
        ] {
            let meta = eligible_metadata(
                &asset,
                json!({ "commerce:isCommerce": flag, "commerce:skus": ["MH01"] }),
            );
            assert_not_eligible(&meta);
        }
        let missing_flag = metadata(
            &asset,
            json!({ "dam:status": "approved", "commerce:skus": ["MH01"] }),
            json!({}),
        );
        assert_not_eligible(&missing_flag);
    }

    #[test]
    fn status_must_be_approved() {
        let asset = asset_id("a1");
        for status in ["rejected", "unapproved", "deleted", "changesRequested", ""] {
            let meta = eligible_metadata(
                &asset,
                json!({ "dam:status": status, "commerce:skus": ["MH01"] }),
            );
            assert_not_eligible(&meta);
        }
        let missing_status = metadata(
            &asset,
            json!({ "commerce:isCommerce": "Yes", "commerce:skus": ["MH01"] }),
            json!({}),
        );
        assert_not_eligible(&missing_status);
        let approved_as_list = eligible_metadata(
            &asset,
            json!({ "dam:status": ["approved"], "commerce:skus": ["MH01"] }),
        );
        assert_eq!(sku_codes(&eligible_links(&approved_as_list)), ["MH01"]);
    }

    #[test]
    fn activation_target_must_be_delivery_or_unset() {
        let asset = asset_id("a1");
        for target in [
            json!("delivery"),
            json!("Delivery"),
            json!(""),
            json!(["delivery"]),
        ] {
            let meta = eligible_metadata(
                &asset,
                json!({ "dam:activationTarget": target, "commerce:skus": ["MH01"] }),
            );
            assert_eq!(
                sku_codes(&eligible_links(&meta)),
                ["MH01"],
                "target {target}"
            );
        }
        let unset = eligible_metadata(&asset, json!({ "commerce:skus": ["MH01"] }));
        assert_eq!(sku_codes(&eligible_links(&unset)), ["MH01"]);
        for target in [
            json!("contenthub"),
            json!(["contenthub"]),
            json!("somewhere"),
        ] {
            let meta = eligible_metadata(
                &asset,
                json!({ "dam:activationTarget": target, "commerce:skus": ["MH01"] }),
            );
            assert_not_eligible(&meta);
        }
    }

    #[test]
    fn not_eligible_wins_over_malformed_metadata() {
        // A rejected asset leaves every product even when the rest of its metadata is garbage.
        let meta = eligible_metadata(
            &asset_id("a1"),
            json!({ "dam:status": "rejected", "commerce:skus": { "not": "a list" } }),
        );
        assert_not_eligible(&meta);
    }

    #[test]
    fn eligible_asset_without_skus_asks_for_no_links() {
        let meta = eligible_metadata(&asset_id("a1"), json!({}));
        assert_eq!(eligible_links(&meta), Vec::new());
        let only_empty = eligible_metadata(
            &asset_id("a1"),
            json!({ "commerce:skus": ["", "  ", null] }),
        );
        assert_eq!(eligible_links(&only_empty), Vec::new());
    }
}

mod skus_roles_positions {
    use super::*;

    #[test]
    fn roles_and_positions_are_index_aligned_with_skus() {
        let meta = eligible_metadata(
            &asset_id("a1"),
            json!({
                "commerce:skus": ["MH01", "MH02", "MH03"],
                "commerce:roles": ["thumbnail;image", " Small_Image ; SWATCH_IMAGE ", ""],
                "commerce:positions": [3, 1, 7],
            }),
        );
        let links = eligible_links(&meta);
        assert_eq!(sku_codes(&links), ["MH01", "MH02", "MH03"]);
        assert_eq!(links[0].roles, roles(&["image", "thumbnail"]));
        assert_eq!(links[0].position, Some(3));
        assert_eq!(links[1].roles, roles(&["small_image", "swatch_image"]));
        assert_eq!(links[1].position, Some(1));
        assert_eq!(links[2].roles, roles(&[]));
        assert_eq!(links[2].position, Some(7));
    }

    #[test]
    fn csv_style_roles_with_spaces_and_empty_parts_are_trimmed() {
        let meta = eligible_metadata(
            &asset_id("a1"),
            json!({
                "commerce:skus": ["sku1"],
                "commerce:roles": ["thumbnail; image; ;swatch_image;;small_image;"],
            }),
        );
        let (links, warnings) = expect_eligible(evaluate_default(&meta));
        assert_eq!(
            links[0].roles,
            roles(&["image", "small_image", "swatch_image", "thumbnail"])
        );
        assert_eq!(
            warnings,
            Vec::<String>::new(),
            "empty parts are not warnings"
        );
    }

    #[test]
    fn single_string_sku_is_one_sku() {
        let meta = eligible_metadata(
            &asset_id("a1"),
            json!({ "commerce:skus": " MH01 ", "commerce:roles": "image", "commerce:positions": 2 }),
        );
        let link = only_link_of(&meta);
        assert_eq!(link.sku, sku("MH01"));
        assert_eq!(link.roles, roles(&["image"]));
        assert_eq!(link.position, Some(2));
    }

    #[test]
    fn a_sku_string_with_separators_is_not_split() {
        let meta = eligible_metadata(&asset_id("a1"), json!({ "commerce:skus": "MH01;MH02" }));
        assert_eq!(sku_codes(&eligible_links(&meta)), ["MH01;MH02"]);
    }

    #[test]
    fn roles_and_positions_shorter_than_skus_mean_no_roles_and_no_position() {
        let meta = eligible_metadata(
            &asset_id("a1"),
            json!({
                "commerce:skus": ["MH01", "MH02", "MH03"],
                "commerce:roles": ["image"],
                "commerce:positions": [4],
            }),
        );
        let links = eligible_links(&meta);
        assert_eq!(sku_codes(&links), ["MH01", "MH02", "MH03"]);
        assert_eq!(links[0].roles, roles(&["image"]));
        assert_eq!(links[0].position, Some(4));
        for link in &links[1..] {
            assert_eq!(link.roles, roles(&[]));
            assert_eq!(link.position, None);
        }
        let without_roles_or_positions =
            eligible_metadata(&asset_id("a1"), json!({ "commerce:skus": ["MH01"] }));
        let link = only_link_of(&without_roles_or_positions);
        assert_eq!((link.roles, link.position), (roles(&[]), None));
    }

    #[test]
    fn null_gaps_in_roles_and_positions_are_empty() {
        let meta = eligible_metadata(
            &asset_id("a1"),
            json!({
                "commerce:skus": ["MH01", "MH02"],
                "commerce:roles": [null, "image"],
                "commerce:positions": [null, 2],
            }),
        );
        let links = eligible_links(&meta);
        assert_eq!(
            (links[0].roles.clone(), links[0].position),
            (roles(&[]), None)
        );
        assert_eq!(
            (links[1].roles.clone(), links[1].position),
            (roles(&["image"]), Some(2))
        );
    }

    #[test]
    fn duplicate_sku_merges_roles_and_keeps_the_first_position() {
        let meta = eligible_metadata(
            &asset_id("a1"),
            json!({
                "commerce:skus": ["MH01", "MH02", " MH01 "],
                "commerce:roles": ["image", "thumbnail", "thumbnail;small_image"],
                "commerce:positions": [5, 1, 9],
            }),
        );
        let links = eligible_links(&meta);
        assert_eq!(sku_codes(&links), ["MH01", "MH02"]);
        assert_eq!(
            links[0].roles,
            roles(&["image", "small_image", "thumbnail"])
        );
        assert_eq!(links[0].position, Some(5));
    }

    #[test]
    fn duplicate_sku_keeps_an_unspecified_first_position() {
        let meta = eligible_metadata(
            &asset_id("a1"),
            json!({ "commerce:skus": ["MH01", "MH01"], "commerce:positions": [-1, 9] }),
        );
        assert_eq!(only_link_of(&meta).position, None);
    }

    #[test]
    fn roles_that_are_not_attribute_codes_are_dropped_with_a_warning() {
        let meta = eligible_metadata(
            &asset_id("a1"),
            json!({
                "commerce:skus": ["sku1", "sku2", "sku3"],
                "commerce:roles": ["thumbnail; image", "image", "image; small change; 1st; swatch-image"],
            }),
        );
        let (links, warnings) = expect_eligible(evaluate_default(&meta));
        assert_eq!(links.len(), 3, "the asset still links to every SKU");
        assert_eq!(links[2].roles, roles(&["image"]));
        assert_eq!(
            warnings.len(),
            3,
            "one warning per dropped role: {warnings:?}"
        );
        for dropped in ["small change", "1st", "swatch-image"] {
            assert!(
                warnings
                    .iter()
                    .any(|w| w.contains(dropped) && w.contains("sku3")),
                "no warning names {dropped:?}: {warnings:?}"
            );
        }
    }

    #[test]
    fn skus_with_control_characters_are_rejected_with_a_warning_and_others_still_link() {
        let meta = eligible_metadata(
            &asset_id("a1"),
            json!({
                "commerce:skus": ["A\u{0}B", "MH01", "MH\n02", "MH\u{7f}03", "MH04\r"],
                "commerce:roles": ["image", "thumbnail", "", "", ""],
                "commerce:positions": [1, 2, 3, 4, 5],
            }),
        );
        let (links, warnings) = expect_eligible(evaluate_default(&meta));
        assert_eq!(sku_codes(&links), ["MH01"], "nothing is repaired");
        assert_eq!(
            links[0].roles,
            roles(&["thumbnail"]),
            "alignment survives rejections"
        );
        assert_eq!(links[0].position, Some(2));
        assert_eq!(warnings.len(), 4, "{warnings:?}");
        assert!(
            warnings.iter().all(|w| w.contains("control character")),
            "{warnings:?}"
        );
    }

    #[test]
    fn skus_longer_than_64_characters_are_rejected_with_a_warning() {
        let longest = "x".repeat(64);
        let too_long = "y".repeat(65);
        let meta = eligible_metadata(
            &asset_id("a1"),
            json!({ "commerce:skus": [too_long, longest.clone(), "é".repeat(64)] }),
        );
        let (links, warnings) = expect_eligible(evaluate_default(&meta));
        assert_eq!(
            sku_codes(&links),
            [longest.as_str(), "é".repeat(64).as_str()]
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("longer than 64"), "{warnings:?}");
    }

    #[test]
    fn empty_skus_are_dropped_silently_and_keep_alignment() {
        let meta = eligible_metadata(
            &asset_id("a1"),
            json!({
                "commerce:skus": ["", "  ", null, "MH01"],
                "commerce:roles": ["image", "image", "image", "thumbnail"],
                "commerce:positions": [1, 2, 3, 4],
            }),
        );
        let (links, warnings) = expect_eligible(evaluate_default(&meta));
        assert_eq!(sku_codes(&links), ["MH01"]);
        assert_eq!(links[0].roles, roles(&["thumbnail"]));
        assert_eq!(links[0].position, Some(4));
        assert_eq!(warnings, Vec::<String>::new());
    }

    #[test]
    fn skus_match_exactly_after_trimming_spaces() {
        let meta = eligible_metadata(
            &asset_id("a1"),
            json!({ "commerce:skus": ["\tmh01 ", "MH01"] }),
        );
        assert_eq!(
            sku_codes(&eligible_links(&meta)),
            ["mh01", "MH01"],
            "case is kept"
        );
    }

    #[test]
    fn the_sku_attribute_is_configurable() {
        let settings = MatchSettings {
            sku_attribute: "custom:productSkus".to_owned(),
            ..MatchSettings::default()
        };
        let meta = eligible_metadata(
            &asset_id("a1"),
            json!({
                "commerce:skus": ["IGNORED"],
                "custom:productSkus": ["MH01", "MH02"],
                "commerce:roles": ["image", "thumbnail"],
            }),
        );
        let (links, _) = expect_eligible(evaluate(&meta, &settings));
        assert_eq!(sku_codes(&links), ["MH01", "MH02"]);
        assert_eq!(links[1].roles, roles(&["thumbnail"]));
        assert_eq!(
            sku_codes(&eligible_links(&meta)),
            ["IGNORED"],
            "the default reads commerce:skus"
        );

        let malformed_custom = eligible_metadata(
            &asset_id("a1"),
            json!({ "commerce:skus": ["MH01"], "custom:productSkus": { "a": 1 } }),
        );
        assert!(matches!(
            evaluate(&malformed_custom, &settings),
            Evaluation::Invalid { .. }
        ));
    }

    #[test]
    fn every_link_carries_the_asset_id_label_media_content_and_modify_time() {
        let asset = asset_id("a1");
        let meta = metadata(
            &asset,
            json!({
                "dam:status": "approved",
                "commerce:isCommerce": "yes",
                "commerce:skus": ["MH01", "MH02"],
                "dc:title": "Jacket",
            }),
            json!({
                "dam:sha1": "abc123",
                "dc:format": "image/png",
                "repo:modifyDate": "2025-09-19T16:59:29.185Z",
            }),
        );
        for link in eligible_links(&meta) {
            assert_eq!(link.asset_id, asset);
            assert_eq!(link.label.as_deref(), Some("Jacket"));
            assert_eq!(link.media_type, MediaType::Image);
            assert_eq!(link.content_id, ContentId("abc123".into()));
            assert_eq!(link.modified_ms, 1_758_301_169_185);
        }
    }

    #[test]
    fn missing_modify_date_counts_as_zero() {
        let meta = eligible_metadata(&asset_id("a1"), json!({ "commerce:skus": ["MH01"] }));
        assert_eq!(only_link_of(&meta).modified_ms, 0);
    }
}

mod positions {
    use super::*;

    fn position_of(raw: serde_json::Value) -> (Option<u32>, Vec<String>) {
        let meta = eligible_metadata(
            &asset_id("a1"),
            json!({ "commerce:skus": ["MH01"], "commerce:positions": [raw] }),
        );
        let (links, warnings) = expect_eligible(evaluate_default(&meta));
        (links[0].position, warnings)
    }

    #[test]
    fn explicit_positions_are_kept_as_given() {
        assert_eq!(position_of(json!(0)), (Some(0), vec![]));
        assert_eq!(position_of(json!(1)), (Some(1), vec![]));
        assert_eq!(position_of(json!(42)), (Some(42), vec![]));
        assert_eq!(position_of(json!(i32::MAX)), (Some(MAX_POSITION), vec![]));
        assert_eq!(
            position_of(json!(3.0)),
            (Some(3), vec![]),
            "an integral float"
        );
        assert_eq!(
            position_of(json!("5")),
            (Some(5), vec![]),
            "numeric text from CSV"
        );
    }

    #[test]
    fn minus_one_missing_or_null_mean_no_position_without_a_warning() {
        assert_eq!(position_of(json!(-1)), (None, vec![]));
        assert_eq!(position_of(json!(null)), (None, vec![]));
        assert_eq!(position_of(json!("")), (None, vec![]));
        let meta = eligible_metadata(&asset_id("a1"), json!({ "commerce:skus": ["MH01"] }));
        let (links, warnings) = expect_eligible(evaluate_default(&meta));
        assert_eq!((links[0].position, warnings), (None, vec![]));
    }

    #[test]
    fn out_of_range_positions_mean_no_position_with_a_warning() {
        for raw in [
            json!(-2),
            json!(-100),
            json!(i64::from(i32::MAX) + 1),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(1e20),
            json!(-1e20),
            json!("-7"),
        ] {
            let (position, warnings) = position_of(raw.clone());
            assert_eq!(position, None, "position {raw}");
            assert_eq!(warnings.len(), 1, "position {raw}: {warnings:?}");
            assert!(warnings[0].contains("out of range"), "{warnings:?}");
        }
    }
}

mod malformed {
    use super::*;

    #[test]
    fn a_sku_list_that_is_an_object_is_invalid_not_no_skus() {
        let meta = eligible_metadata(&asset_id("a1"), json!({ "commerce:skus": { "0": "MH01" } }));
        assert_invalid(&meta);
    }

    #[test]
    fn a_sku_list_that_is_a_number_or_boolean_is_invalid() {
        assert_invalid(&eligible_metadata(
            &asset_id("a1"),
            json!({ "commerce:skus": 12345 }),
        ));
        assert_invalid(&eligible_metadata(
            &asset_id("a1"),
            json!({ "commerce:skus": true }),
        ));
    }

    #[test]
    fn a_number_inside_the_sku_list_is_invalid() {
        let meta = eligible_metadata(&asset_id("a1"), json!({ "commerce:skus": ["MH01", 12345] }));
        assert_invalid(&meta);
        let nested = eligible_metadata(&asset_id("a1"), json!({ "commerce:skus": [["MH01"]] }));
        assert_invalid(&nested);
    }

    #[test]
    fn positions_that_are_objects_are_invalid() {
        for positions in [
            json!({ "MH01": 1 }),
            json!([{ "position": 1 }]),
            json!([[1]]),
            json!([true]),
        ] {
            let meta = eligible_metadata(
                &asset_id("a1"),
                json!({ "commerce:skus": ["MH01"], "commerce:positions": positions }),
            );
            assert_invalid(&meta);
        }
    }

    #[test]
    fn positions_that_are_not_integers_are_invalid() {
        for positions in [json!([2.5]), json!(["first"]), json!(["1.5"])] {
            let meta = eligible_metadata(
                &asset_id("a1"),
                json!({ "commerce:skus": ["MH01"], "commerce:positions": positions }),
            );
            assert_invalid(&meta);
        }
    }

    #[test]
    fn roles_that_are_not_strings_are_invalid() {
        for roles in [json!({ "0": "image" }), json!([1]), json!(7)] {
            let meta = eligible_metadata(
                &asset_id("a1"),
                json!({ "commerce:skus": ["MH01"], "commerce:roles": roles }),
            );
            assert_invalid(&meta);
        }
    }

    #[test]
    fn alt_texts_that_are_not_strings_are_invalid() {
        let meta = eligible_metadata(
            &asset_id("a1"),
            json!({
                "commerce:skus": ["MH01"],
                "commerce:altTextStoreViews": ["default"],
                "commerce:altTextValues": { "default": "Jacket" },
            }),
        );
        assert_invalid(&meta);
    }

    #[test]
    fn an_unparseable_modify_date_is_invalid() {
        for date in [
            "yesterday",
            "2025-13-01T00:00:00Z",
            "2025-09-19",
            "2025-09-19T16:59:29.185Q",
        ] {
            let meta = metadata(
                &asset_id("a1"),
                json!({ "dam:status": "approved", "commerce:isCommerce": "Yes", "commerce:skus": ["MH01"] }),
                json!({ "repo:modifyDate": date }),
            );
            assert_invalid(&meta);
        }
    }

    #[test]
    fn a_modify_date_that_is_not_a_string_is_invalid() {
        for date in [
            json!(1_758_301_169_185_i64),
            json!(["2025-09-19T16:59:29.185Z"]),
            json!({}),
        ] {
            let meta = metadata(
                &asset_id("a1"),
                json!({ "dam:status": "approved", "commerce:isCommerce": "Yes", "commerce:skus": ["MH01"] }),
                json!({ "repo:modifyDate": date }),
            );
            assert_invalid(&meta);
        }
    }

    #[test]
    fn invalid_carries_a_reason_naming_the_property() {
        let meta = eligible_metadata(&asset_id("a1"), json!({ "commerce:skus": ["MH01", 7] }));
        match evaluate_default(&meta) {
            Evaluation::Invalid { reason } => assert!(reason.contains("commerce:skus"), "{reason}"),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }
}

mod media_and_content {
    use super::*;

    fn link_with_repository(repository: serde_json::Value) -> assetsync_domain::DesiredLink {
        let meta = metadata(
            &asset_id("a1"),
            json!({ "dam:status": "approved", "commerce:isCommerce": "Yes", "commerce:skus": ["MH01"] }),
            repository,
        );
        only_link_of(&meta)
    }

    #[test]
    fn video_formats_are_videos_everything_else_is_an_image() {
        assert_eq!(
            link_with_repository(json!({ "dc:format": "video/mp4" })).media_type,
            MediaType::Video
        );
        assert_eq!(
            link_with_repository(json!({ "dc:format": "Video/QuickTime" })).media_type,
            MediaType::Video
        );
        assert_eq!(
            link_with_repository(json!({ "dc:format": "image/jpeg" })).media_type,
            MediaType::Image
        );
        assert_eq!(
            link_with_repository(json!({ "dc:format": "application/pdf" })).media_type,
            MediaType::Image
        );
        assert_eq!(link_with_repository(json!({})).media_type, MediaType::Image);
    }

    #[test]
    fn format_in_asset_metadata_is_used_when_the_repository_has_none() {
        let meta = eligible_metadata(
            &asset_id("a1"),
            json!({ "commerce:skus": ["MH01"], "dc:format": "video/webm" }),
        );
        assert_eq!(only_link_of(&meta).media_type, MediaType::Video);
    }

    #[test]
    fn a_video_carries_its_title_and_description_an_image_nothing() {
        let meta = metadata(
            &asset_id("a1"),
            json!({ "dam:status": "approved", "commerce:isCommerce": "Yes", "commerce:skus": ["MH01"],
                    "dc:title": " Trailer ", "dc:description": "The hoodie in motion", }),
            json!({ "dc:format": "video/mp4" }),
        );
        let video = only_link_of(&meta).video.expect("a video's facts");
        assert_eq!(video.title, "Trailer");
        assert_eq!(video.description, "The hoodie in motion");
        assert_eq!(
            video.url, "",
            "the player URL is set from the configuration, not the claim"
        );
        let long = "t".repeat(300);
        let meta = eligible_metadata(
            &asset_id("a1"),
            json!({ "commerce:skus": ["MH01"], "dc:format": "video/webm", "dc:title": long }),
        );
        let video = only_link_of(&meta).video.expect("a video's facts");
        assert_eq!(video.title.chars().count(), 255);
        assert_eq!(video.description, "");
        let image = eligible_metadata(
            &asset_id("a1"),
            json!({ "commerce:skus": ["MH01"], "dc:title": "Front", "dc:format": "image/png" }),
        );
        assert_eq!(only_link_of(&image).video, None);
    }

    #[test]
    fn content_id_is_sha1_else_version() {
        assert_eq!(
            link_with_repository(json!({ "dam:sha1": "sha", "repo:version": "v1" })).content_id,
            ContentId("sha".into())
        );
        assert_eq!(
            link_with_repository(json!({ "repo:version": "oak:1.0::ci:42" })).content_id,
            ContentId("oak:1.0::ci:42".into())
        );
    }
}

#[test]
fn absurdly_many_skus_are_capped_with_a_warning() {
    let skus: Vec<String> = (0..5_000).map(|i| format!("SKU-{i}")).collect();
    let meta = eligible_metadata(&asset_id("a1"), json!({ "commerce:skus": skus }));
    let settings = MatchSettings {
        max_skus: 100,
        ..MatchSettings::default()
    };
    match evaluate(&meta, &settings) {
        Evaluation::Eligible { links, warnings } => {
            assert_eq!(links.len(), 100);
            assert!(
                warnings.iter().any(|w| w.contains("5000 SKUs")),
                "{warnings:?}"
            );
        }
        other => panic!("expected Eligible, got {other:?}"),
    }
}
