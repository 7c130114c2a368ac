//! Alt texts and visibility per store view, read from an asset's metadata.

use crate::support::*;
use assetsync_domain::StoreView;
use assetsync_domain::metadata::MAX_LABEL_CHARS;
use assetsync_domain::store_views::StoreViewError;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

fn view(code: &str) -> StoreView {
    StoreView::parse(code).unwrap()
}

/// The one link of an asset on MH01 with these extra properties, and the asset's warnings.
fn link_of(extra: serde_json::Value) -> (assetsync_domain::DesiredLink, Vec<String>) {
    let mut props = json!({ "commerce:skus": ["MH01"] });
    props
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let (mut links, warnings) =
        expect_eligible(evaluate_default(&eligible_metadata(&asset_id("a1"), props)));
    assert_eq!(links.len(), 1);
    (links.remove(0), warnings)
}

#[test]
fn codes_are_trimmed_lower_cased_and_checked_as_magento_checks_store_codes() {
    assert_eq!(view(" en_US ").as_str(), "en_us");
    assert!(view("Default").is_default());
    assert_eq!(StoreView::parse("  "), Err(StoreViewError::Empty));
    assert!(matches!(
        StoreView::parse("1st"),
        Err(StoreViewError::Invalid(_))
    ));
    assert!(matches!(
        StoreView::parse("en-US"),
        Err(StoreViewError::Invalid(_))
    ));
    assert!(matches!(
        StoreView::parse("a".repeat(33).as_str()),
        Err(StoreViewError::TooLong(_))
    ));
    assert_eq!(view(&"a".repeat(32)).as_str().len(), 32);
}

#[test]
fn every_store_view_keeps_its_own_alt_text() {
    let (link, warnings) = link_of(json!({
        "commerce:altTextStoreViews": ["default", "en_US", "fr_FR"],
        "commerce:altTextValues": ["Jacket", "US jacket", " Veste "],
        "dc:title": "Title",
    }));
    assert_eq!(link.label.as_deref(), Some("Jacket"));
    let expected: BTreeMap<StoreView, String> = [
        (view("default"), "Jacket".to_owned()),
        (view("en_us"), "US jacket".to_owned()),
        (view("fr_fr"), "Veste".to_owned()),
    ]
    .into();
    assert_eq!(link.labels, expected);
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn unusable_rows_are_dropped_with_a_warning_each_and_the_asset_still_syncs() {
    let (link, warnings) = link_of(json!({
        "commerce:altTextStoreViews": ["", "fr-FR", "en_US", " EN_us ", "de_DE", "it_IT", "es_ES"],
        "commerce:altTextValues": ["No code", "Bad code", "English", "English again", "", null],
    }));
    // "" and "fr-FR" refused, " EN_us " a second en_us, de_DE and it_IT without text (they inherit),
    // es_ES without a partner value.
    assert_eq!(link.labels, [(view("en_us"), "English".to_owned())].into());
    assert_eq!(warnings.len(), 4, "{warnings:?}");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("store view code is empty")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("\"fr-fr\"")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("given twice")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("7 rows") && w.contains("6")),
        "{warnings:?}"
    );
}

#[test]
fn a_store_view_text_longer_than_255_characters_is_cut_with_a_warning() {
    let (link, warnings) = link_of(json!({
        "commerce:altTextStoreViews": ["fr_FR"],
        "commerce:altTextValues": ["é".repeat(300)],
        "dc:title": "Title",
    }));
    assert_eq!(link.labels[&view("fr_fr")], "é".repeat(MAX_LABEL_CHARS));
    assert_eq!(link.label.as_deref(), Some("Title"));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
}

#[test]
fn hidden_store_views_are_read_from_their_property() {
    let (link, warnings) = link_of(json!({
        "commerce:hiddenStoreViews": ["fr_FR", " de_de ", "not a code"],
    }));
    let expected: BTreeSet<StoreView> = [view("fr_fr"), view("de_de")].into();
    assert_eq!(link.hidden_in, expected);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("commerce:hiddenStoreViews[2]"),
        "{warnings:?}"
    );

    let (link, _) = link_of(json!({ "commerce:hiddenStoreViews": "fr_FR" }));
    assert_eq!(link.hidden_in, [view("fr_fr")].into());
    let (link, _) = link_of(json!({}));
    assert!(link.hidden_in.is_empty() && link.labels.is_empty());
}

#[test]
fn a_hidden_list_that_is_not_strings_breaks_the_contract() {
    let meta = eligible_metadata(
        &asset_id("a1"),
        json!({ "commerce:skus": ["MH01"], "commerce:hiddenStoreViews": [3] }),
    );
    match evaluate_default(&meta) {
        assetsync_domain::Evaluation::Invalid { reason } => {
            assert!(reason.contains("commerce:hiddenStoreViews"), "{reason}")
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn links_without_store_view_values_serialize_as_before() {
    let (link, _) = link_of(json!({}));
    let text = serde_json::to_string(&link).unwrap();
    assert!(
        !text.contains("labels") && !text.contains("hidden_in"),
        "{text}"
    );
    let (link, _) = link_of(json!({
        "commerce:altTextStoreViews": ["fr_FR"],
        "commerce:altTextValues": ["Veste"],
        "commerce:hiddenStoreViews": ["de_DE"],
    }));
    let back: assetsync_domain::DesiredLink =
        serde_json::from_str(&serde_json::to_string(&link).unwrap()).unwrap();
    assert_eq!(back, link);
}
