//! `gallery::compute_gallery`, `reconcile` and `apply_operations`: role precedence, positions, and the
//! operations that bring an applied gallery to the desired one.

use crate::support::*;
use assetsync_domain::gallery::{
    RefusedEntry, apply_operations, compute_gallery, reconcile, without_refused,
};
use assetsync_domain::metadata::MAX_POSITION;
use assetsync_domain::{AppliedEntry, ContentId, GalleryEntry, MediaType, Operation};
use serde_json::json;

fn positions_by_asset(gallery: &[GalleryEntry]) -> Vec<(String, u32)> {
    gallery
        .iter()
        .map(|e| (e.asset_id.uuid().to_owned(), e.position))
        .collect()
}

fn entry_of<'a>(gallery: &'a [GalleryEntry], uuid: &str) -> &'a GalleryEntry {
    gallery
        .iter()
        .find(|e| e.asset_id.uuid() == uuid)
        .unwrap_or_else(|| panic!("{uuid} is not in {gallery:?}"))
}

mod positions {
    use super::*;

    #[test]
    fn explicit_positions_are_written_as_given_and_ordered() {
        let gallery = compute_gallery(&[
            claim(&asset_id("a"), "MH01", &[], Some(5), 0),
            claim(&asset_id("b"), "MH01", &[], Some(0), 0),
            claim(&asset_id("c"), "MH01", &[], Some(2), 0),
        ]);
        assert_eq!(
            positions_by_asset(&gallery),
            [("b".into(), 0), ("c".into(), 2), ("a".into(), 5)]
        );
    }

    #[test]
    fn unpositioned_entries_follow_the_highest_explicit_position_by_asset_id() {
        let gallery = compute_gallery(&[
            claim(&asset_id("d"), "MH01", &[], None, 0),
            claim(&asset_id("a"), "MH01", &[], Some(3), 0),
            claim(&asset_id("b"), "MH01", &[], None, 0),
            claim(&asset_id("c"), "MH01", &[], Some(1), 0),
        ]);
        assert_eq!(
            positions_by_asset(&gallery),
            [
                ("c".into(), 1),
                ("a".into(), 3),
                ("b".into(), 4),
                ("d".into(), 5)
            ]
        );
    }

    #[test]
    fn unpositioned_entries_start_at_one_when_none_is_explicit() {
        let gallery = compute_gallery(&[
            claim(&asset_id("c"), "MH01", &[], None, 0),
            claim(&asset_id("a"), "MH01", &[], None, 0),
            claim(&asset_id("b"), "MH01", &[], None, 0),
        ]);
        assert_eq!(
            positions_by_asset(&gallery),
            [("a".into(), 1), ("b".into(), 2), ("c".into(), 3)]
        );
    }

    #[test]
    fn unpositioned_entries_follow_an_explicit_zero() {
        let gallery = compute_gallery(&[
            claim(&asset_id("b"), "MH01", &[], None, 0),
            claim(&asset_id("a"), "MH01", &[], Some(0), 0),
        ]);
        assert_eq!(
            positions_by_asset(&gallery),
            [("a".into(), 0), ("b".into(), 1)]
        );
    }

    #[test]
    fn equal_explicit_positions_are_ordered_by_asset_id() {
        let gallery = compute_gallery(&[
            claim(&asset_id("b"), "MH01", &[], Some(1), 0),
            claim(&asset_id("a"), "MH01", &[], Some(1), 0),
        ]);
        assert_eq!(
            positions_by_asset(&gallery),
            [("a".into(), 1), ("b".into(), 1)]
        );
    }

    #[test]
    fn no_position_ever_exceeds_the_signed_32_bit_range() {
        let gallery = compute_gallery(&[
            claim(&asset_id("a"), "MH01", &[], Some(MAX_POSITION), 0),
            claim(&asset_id("b"), "MH01", &[], None, 0),
            claim(&asset_id("c"), "MH01", &[], None, 0),
        ]);
        assert_eq!(gallery.len(), 3);
        for entry in &gallery {
            assert!(
                entry.position <= MAX_POSITION,
                "{} would be written as a negative Magento position",
                entry.position
            );
            assert!(i32::try_from(entry.position).is_ok());
        }
    }

    #[test]
    fn positions_from_metadata_flow_into_the_gallery() {
        let positioned = eligible_metadata(
            &asset_id("a"),
            json!({ "commerce:skus": ["MH01"], "commerce:positions": [4] }),
        );
        let minus_one = eligible_metadata(
            &asset_id("b"),
            json!({ "commerce:skus": ["MH01"], "commerce:positions": [-1] }),
        );
        let negative = eligible_metadata(
            &asset_id("c"),
            json!({ "commerce:skus": ["MH01"], "commerce:positions": [-5] }),
        );
        let claims: Vec<_> = [positioned, minus_one, negative]
            .iter()
            .flat_map(eligible_links)
            .collect();
        assert_eq!(
            positions_by_asset(&compute_gallery(&claims)),
            [("a".into(), 4), ("b".into(), 5), ("c".into(), 6)]
        );
    }
}

mod roles {
    use super::*;

    #[test]
    fn the_newest_claimant_holds_a_contested_role() {
        let gallery = compute_gallery(&[
            claim(&asset_id("b"), "MH01", &["image", "thumbnail"], None, 100),
            claim(&asset_id("a"), "MH01", &["image"], None, 200),
        ]);
        assert_eq!(entry_of(&gallery, "a").roles, roles(&["image"]));
        assert_eq!(entry_of(&gallery, "b").roles, roles(&["thumbnail"]));
    }

    #[test]
    fn on_equal_modify_times_the_greater_asset_id_holds_the_role() {
        let claims = [
            claim(&asset_id("b"), "MH01", &["image"], None, 100),
            claim(&asset_id("a"), "MH01", &["image"], None, 100),
            claim(&asset_id("c"), "MH01", &["image"], None, 100),
        ];
        let gallery = compute_gallery(&claims);
        assert_eq!(entry_of(&gallery, "c").roles, roles(&["image"]));
        assert_eq!(entry_of(&gallery, "a").roles, roles(&[]));
        assert_eq!(entry_of(&gallery, "b").roles, roles(&[]));
        assert_eq!(
            gallery.len(),
            3,
            "losing every role does not remove the entry"
        );
    }

    #[test]
    fn each_role_is_resolved_on_its_own() {
        let gallery = compute_gallery(&[
            claim(&asset_id("a"), "MH01", &["image", "small_image"], None, 300),
            claim(&asset_id("b"), "MH01", &["image", "thumbnail"], None, 400),
            claim(
                &asset_id("c"),
                "MH01",
                &["small_image", "thumbnail", "swatch_image"],
                None,
                350,
            ),
        ]);
        assert_eq!(entry_of(&gallery, "a").roles, roles(&[]));
        assert_eq!(
            entry_of(&gallery, "b").roles,
            roles(&["image", "thumbnail"])
        );
        assert_eq!(
            entry_of(&gallery, "c").roles,
            roles(&["small_image", "swatch_image"])
        );
    }

    #[test]
    fn when_the_holder_leaves_the_next_claimant_gets_the_role_back() {
        let older = claim(&asset_id("a"), "MH01", &["image"], None, 100);
        let newer = claim(&asset_id("b"), "MH01", &["image"], None, 200);
        let both = compute_gallery(&[older.clone(), newer]);
        assert_eq!(entry_of(&both, "a").roles, roles(&[]));
        assert_eq!(entry_of(&both, "b").roles, roles(&["image"]));
        let after_b_left = compute_gallery(&[older]);
        assert_eq!(entry_of(&after_b_left, "a").roles, roles(&["image"]));
    }

    #[test]
    fn role_precedence_uses_the_modify_date_from_metadata() {
        let older = metadata(
            &asset_id("f"),
            json!({ "dam:status": "approved", "commerce:isCommerce": "Yes", "commerce:skus": ["MH01"], "commerce:roles": ["image"] }),
            json!({ "repo:modifyDate": "2025-01-01T00:00:00Z" }),
        );
        let newer = metadata(
            &asset_id("a"),
            json!({ "dam:status": "approved", "commerce:isCommerce": "Yes", "commerce:skus": ["MH01"], "commerce:roles": ["image"] }),
            json!({ "repo:modifyDate": "2025-01-01T00:00:00.001Z" }),
        );
        let claims: Vec<_> = [older, newer].iter().flat_map(eligible_links).collect();
        let gallery = compute_gallery(&claims);
        assert_eq!(
            entry_of(&gallery, "a").roles,
            roles(&["image"]),
            "newest wins despite the smaller id"
        );
        assert_eq!(entry_of(&gallery, "f").roles, roles(&[]));
    }

    #[test]
    fn the_gallery_does_not_depend_on_the_order_of_claims() {
        let claims = vec![
            claim(&asset_id("a"), "MH01", &["image"], Some(2), 100),
            claim(&asset_id("b"), "MH01", &["image", "thumbnail"], None, 100),
            claim(&asset_id("c"), "MH01", &["thumbnail"], Some(1), 50),
            claim(&asset_id("d"), "MH01", &[], None, 999),
        ];
        let expected = compute_gallery(&claims);
        let mut reversed = claims.clone();
        reversed.reverse();
        assert_eq!(compute_gallery(&reversed), expected);
        let mut rotated = claims;
        rotated.rotate_left(2);
        assert_eq!(compute_gallery(&rotated), expected);
    }

    #[test]
    fn the_entry_carries_the_claims_label_media_and_content() {
        let mut video = claim(&asset_id("a"), "MH01", &["image"], Some(1), 0);
        video.label = Some("Trailer".into());
        video.media_type = MediaType::Video;
        video.content_id = ContentId("sha-video".into());
        let facts = assetsync_domain::Video {
            title: "Trailer".into(),
            description: "The hoodie in motion".into(),
            url: String::new(),
        };
        video.video = Some(facts.clone());
        let gallery = compute_gallery(&[video]);
        assert_eq!(
            gallery,
            [GalleryEntry {
                asset_id: asset_id("a"),
                roles: roles(&["image"]),
                position: 1,
                label: Some("Trailer".into()),
                labels: Default::default(),
                hidden_in: Default::default(),
                media_type: MediaType::Video,
                video: Some(facts),
                content_id: ContentId("sha-video".into()),
                hidden: false,
                source: Default::default(),
            }]
        );
    }

    #[test]
    fn no_claims_give_an_empty_gallery() {
        assert_eq!(compute_gallery(&[]), Vec::new());
    }
}

mod reconciliation {
    use super::*;

    fn entry(uuid: &str, role_codes: &[&str], position: u32) -> GalleryEntry {
        GalleryEntry {
            asset_id: asset_id(uuid),
            roles: roles(role_codes),
            position,
            label: None,
            labels: Default::default(),
            hidden_in: Default::default(),
            media_type: MediaType::Image,
            video: None,
            content_id: ContentId(format!("sha-{uuid}")),
            hidden: false,
            source: Default::default(),
        }
    }

    fn only_takes_away(op: &Operation) -> bool {
        match op {
            Operation::Delete(_) => true,
            Operation::Update { from, to } => {
                to.roles.is_subset(&from.entry.roles) && to.roles != from.entry.roles
            }
            Operation::Create(_) | Operation::Replace { .. } => false,
        }
    }

    #[test]
    fn a_new_link_is_created() {
        let desired = [entry("a", &["image"], 1)];
        assert_eq!(
            reconcile(&desired, &[]),
            [Operation::Create(desired[0].clone())]
        );
    }

    #[test]
    fn an_applied_gallery_equal_to_the_desired_one_needs_nothing() {
        let desired = [entry("a", &["image"], 1), entry("b", &[], 2)];
        let applied = [applied(&desired[0], "1"), applied(&desired[1], "2")];
        assert_eq!(reconcile(&desired, &applied), []);
    }

    #[test]
    fn changed_roles_position_or_label_are_an_update_that_keeps_the_remote_id() {
        let before = entry("a", &["image"], 1);
        let have = applied(&before, "remote-7");
        let mut label_changed = before.clone();
        label_changed.label = Some("New".into());
        for want in [
            entry("a", &["image", "thumbnail"], 1),
            entry("a", &["image"], 4),
            label_changed,
        ] {
            let ops = reconcile(std::slice::from_ref(&want), std::slice::from_ref(&have));
            assert_eq!(
                ops,
                [Operation::Update {
                    from: have.clone(),
                    to: want.clone()
                }]
            );
            let after = apply_operations(std::slice::from_ref(&have), &ops);
            assert_eq!(after, [applied(&want, "remote-7")]);
        }
    }

    #[test]
    fn a_changed_content_id_is_a_replace() {
        let have = applied(&entry("a", &["image"], 1), "remote-7");
        let mut want = entry("a", &["image"], 1);
        want.content_id = ContentId("sha-new-binary".into());
        let ops = reconcile(std::slice::from_ref(&want), std::slice::from_ref(&have));
        assert_eq!(
            ops,
            [Operation::Replace {
                from: have.clone(),
                to: want.clone()
            }]
        );
        let after = apply_operations(&[have], &ops);
        assert_eq!(
            after,
            [AppliedEntry {
                entry: want,
                remote_id: None,
                unknown_store_views: Default::default(),
            }],
            "the replacement is a new remote entry"
        );
    }

    #[test]
    fn a_changed_media_type_is_a_replace() {
        let have = applied(&entry("a", &[], 1), "remote-7");
        let mut want = entry("a", &[], 1);
        want.media_type = MediaType::Video;
        let ops = reconcile(std::slice::from_ref(&want), std::slice::from_ref(&have));
        assert!(
            matches!(ops.as_slice(), [Operation::Replace { .. }]),
            "{ops:?}"
        );
    }

    #[test]
    fn a_link_no_longer_desired_is_deleted() {
        let kept = entry("a", &[], 1);
        let gone = applied(&entry("b", &["image"], 2), "remote-b");
        let ops = reconcile(
            std::slice::from_ref(&kept),
            &[applied(&kept, "remote-a"), gone.clone()],
        );
        assert_eq!(ops, [Operation::Delete(gone)]);
        assert_eq!(ops[0].asset_id(), &asset_id("b"));
    }

    #[test]
    fn an_empty_desired_gallery_deletes_every_applied_entry() {
        let applied_entries = [
            applied(&entry("a", &[], 1), "1"),
            applied(&entry("b", &[], 2), "2"),
        ];
        let ops = reconcile(&[], &applied_entries);
        assert_eq!(ops.len(), 2);
        assert!(ops.iter().all(|op| matches!(op, Operation::Delete(_))));
        assert_eq!(apply_operations(&applied_entries, &ops), []);
    }

    #[test]
    fn operations_that_only_take_away_come_first() {
        // "a" loses image to "c" (new), "b" is gone, "d" gains thumbnail, "e" loses small_image.
        let applied_entries = [
            applied(&entry("a", &["image", "thumbnail"], 1), "ra"),
            applied(&entry("b", &[], 2), "rb"),
            applied(&entry("d", &[], 3), "rd"),
            applied(&entry("e", &["small_image"], 4), "re"),
        ];
        let desired = [
            entry("c", &["image"], 0),
            entry("a", &[], 1),
            entry("d", &["thumbnail"], 3),
            entry("e", &[], 4),
        ];
        let ops = reconcile(&desired, &applied_entries);
        assert_eq!(ops.len(), 5, "{ops:?}");
        let first_granting = ops.iter().position(|op| !only_takes_away(op)).unwrap();
        assert_eq!(
            first_granting, 3,
            "delete b and shrink a and e first: {ops:?}"
        );
        assert!(
            ops[first_granting..].iter().all(|op| !only_takes_away(op)),
            "{ops:?}"
        );
        let taken_from: Vec<&str> = ops[..3].iter().map(|op| op.asset_id().uuid()).collect();
        assert!(
            taken_from.contains(&"a") && taken_from.contains(&"b") && taken_from.contains(&"e")
        );
        let after = apply_operations(&applied_entries, &ops);
        assert_eq!(reconcile(&desired, &after), []);
    }

    #[test]
    fn an_update_that_swaps_roles_is_not_a_take_away() {
        let have = applied(&entry("a", &["image"], 1), "ra");
        let want = entry("a", &["thumbnail"], 1);
        let other = entry("b", &["image"], 2);
        let ops = reconcile(&[want, other], &[have]);
        assert!(ops.iter().all(|op| !only_takes_away(op)), "{ops:?}");
    }

    #[test]
    fn applied_entries_end_up_ordered_by_position_then_asset_id() {
        let desired = [entry("b", &[], 1), entry("a", &[], 2), entry("c", &[], 2)];
        let after = apply_operations(&[], &reconcile(&desired, &[]));
        let order: Vec<_> = after.iter().map(|a| a.entry.clone()).collect();
        assert_eq!(order, desired);
    }

    #[test]
    fn a_refused_entry_is_left_out_until_what_it_asks_for_changes() {
        let refused = RefusedEntry {
            entry: entry("a", &["image"], 1),
            message: "The image content must be valid base64 encoded data.".into(),
        };
        let other = entry("b", &[], 2);
        let ops = reconcile(&[refused.entry.clone(), other.clone()], &[]);
        assert_eq!(
            without_refused(ops, std::slice::from_ref(&refused)),
            [Operation::Create(other.clone())],
            "the refused asset is not tried again; the other one is written"
        );
        let moved = entry("a", &["image"], 3);
        let ops = reconcile(&[moved.clone(), other], &[]);
        assert!(
            without_refused(ops, &[refused]).contains(&Operation::Create(moved)),
            "a changed entry is tried again"
        );
    }
}

mod full_set {
    use super::*;

    #[test]
    fn an_asset_whose_skus_shrink_is_unlinked_from_the_dropped_sku() {
        let asset = asset_id("a");
        let mut simulation = Simulation::default();
        simulation.process_metadata(&eligible_metadata(
            &asset,
            json!({ "commerce:skus": ["MH01", "MH02"], "commerce:roles": ["image", "image"] }),
        ));
        assert_eq!(
            simulation
                .galleries()
                .keys()
                .map(|s| s.as_str())
                .collect::<Vec<_>>(),
            ["MH01", "MH02"]
        );
        simulation.process_metadata(&eligible_metadata(
            &asset,
            json!({ "commerce:skus": ["MH01"], "commerce:roles": ["image"] }),
        ));
        let galleries = simulation.galleries();
        assert_eq!(
            galleries.keys().map(|s| s.as_str()).collect::<Vec<_>>(),
            ["MH01"]
        );
        assert_eq!(simulation.applied[&sku("MH02")], []);
        assert_eq!(galleries, simulation.galleries_from_claims());
    }

    #[test]
    fn a_not_eligible_asset_leaves_every_product_and_returns_its_roles() {
        let older = eligible_metadata(
            &asset_id("a"),
            json!({ "commerce:skus": ["MH01", "MH02"], "commerce:roles": ["image", "image"] }),
        );
        let newer = metadata(
            &asset_id("b"),
            json!({ "dam:status": "approved", "commerce:isCommerce": "Yes", "commerce:skus": ["MH01"], "commerce:roles": ["image"] }),
            json!({ "repo:modifyDate": "2025-01-01T00:00:00Z" }),
        );
        let mut simulation = Simulation::default();
        simulation.process_metadata(&older);
        simulation.process_metadata(&newer);
        let mh01 = &simulation.galleries()[&sku("MH01")];
        assert_eq!(entry_of(mh01, "b").roles, roles(&["image"]));
        assert_eq!(entry_of(mh01, "a").roles, roles(&[]));

        let mut rejected = newer.clone();
        rejected
            .asset
            .insert("dam:status".into(), json!("rejected"));
        simulation.process_metadata(&rejected);
        let galleries = simulation.galleries();
        assert_eq!(galleries[&sku("MH01")].len(), 1);
        assert_eq!(
            entry_of(&galleries[&sku("MH01")], "a").roles,
            roles(&["image"])
        );
        assert_eq!(galleries[&sku("MH02")].len(), 1);
    }

    #[test]
    fn invalid_metadata_leaves_existing_links_as_they_are() {
        let asset = asset_id("a");
        let mut simulation = Simulation::default();
        simulation.process_metadata(&eligible_metadata(
            &asset,
            json!({ "commerce:skus": ["MH01"] }),
        ));
        let before = simulation.galleries();
        simulation.process_metadata(&eligible_metadata(
            &asset,
            json!({ "commerce:skus": { "broken": true } }),
        ));
        assert_eq!(simulation.galleries(), before);
        assert_eq!(before[&sku("MH01")].len(), 1);
    }

    #[test]
    fn processing_the_same_metadata_twice_changes_nothing() {
        let meta = eligible_metadata(
            &asset_id("a"),
            json!({ "commerce:skus": ["MH01", "MH02"], "commerce:roles": ["image", ""], "commerce:positions": [3] }),
        );
        let mut simulation = Simulation::default();
        simulation.process_metadata(&meta);
        let once = simulation.applied.clone();
        let ops: Vec<Operation> = simulation
            .applied
            .iter()
            .flat_map(|(sku, applied_entries)| {
                let claims: Vec<_> = simulation.claims[sku].values().cloned().collect();
                reconcile(&compute_gallery(&claims), applied_entries)
            })
            .collect();
        assert_eq!(ops, []);
        simulation.process_metadata(&meta);
        assert_eq!(simulation.applied, once);
    }
}
