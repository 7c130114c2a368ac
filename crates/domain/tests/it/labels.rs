//! The label of all store views: the `default` view's alt text, else the title, else the first view's text.

use crate::support::*;
use assetsync_domain::metadata::MAX_LABEL_CHARS;
use serde_json::json;

fn label_of(extra: serde_json::Value) -> (Option<String>, Vec<String>) {
    let mut props = json!({ "commerce:skus": ["MH01"] });
    props
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let (links, warnings) =
        expect_eligible(evaluate_default(&eligible_metadata(&asset_id("a1"), props)));
    (links[0].label.clone(), warnings)
}

#[test]
fn the_default_store_view_alt_text_wins() {
    let (label, _) = label_of(json!({
        "commerce:altTextStoreViews": ["en_US", " Default ", "fr_FR"],
        "commerce:altTextValues": ["English", "The default", "Français"],
        "dc:title": "Title",
    }));
    assert_eq!(label.as_deref(), Some("The default"));
}

#[test]
fn without_a_default_view_the_title_is_the_label_of_all_store_views() {
    let (label, _) = label_of(json!({
        "commerce:altTextStoreViews": ["en_US", "fr_FR"],
        "commerce:altTextValues": ["English", "Français"],
        "dc:title": "Title",
    }));
    assert_eq!(label.as_deref(), Some("Title"));
}

#[test]
fn without_a_default_view_or_a_title_the_first_view_by_code_gives_the_label() {
    let (label, _) = label_of(json!({
        "commerce:altTextStoreViews": ["fr_FR", "en_US"],
        "commerce:altTextValues": ["Français", "English"],
    }));
    assert_eq!(label.as_deref(), Some("English"));
}

#[test]
fn an_empty_default_alt_text_falls_back_to_the_title() {
    let (label, _) = label_of(json!({
        "commerce:altTextStoreViews": ["default", "en_US"],
        "commerce:altTextValues": ["  ", "English"],
        "dc:title": "Title",
    }));
    assert_eq!(label.as_deref(), Some("Title"));
}

#[test]
fn without_alt_texts_the_title_is_used() {
    assert_eq!(
        label_of(json!({ "dc:title": " Jacket " })).0.as_deref(),
        Some("Jacket")
    );
    assert_eq!(
        label_of(json!({ "dc:title": ["Jacket"] })).0.as_deref(),
        Some("Jacket")
    );
    let (label, _) = label_of(json!({
        "commerce:altTextStoreViews": ["default"],
        "commerce:altTextValues": [""],
        "dc:title": "Jacket",
    }));
    assert_eq!(label.as_deref(), Some("Jacket"));
}

#[test]
fn without_alt_texts_or_title_there_is_no_label() {
    assert_eq!(label_of(json!({})), (None, vec![]));
    assert_eq!(label_of(json!({ "dc:title": "   " })), (None, vec![]));
}

#[test]
fn labels_longer_than_255_characters_are_cut_with_a_warning() {
    let (label, warnings) = label_of(json!({ "dc:title": "é".repeat(300) }));
    assert_eq!(label, Some("é".repeat(MAX_LABEL_CHARS)));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("255"), "{warnings:?}");

    let exactly_255 = "a".repeat(255);
    assert_eq!(
        label_of(json!({ "dc:title": exactly_255.clone() })),
        (Some(exactly_255), vec![])
    );
}
