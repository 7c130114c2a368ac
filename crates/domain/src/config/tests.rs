//! Tests of the integration's configuration: changes, defaults, URL policies, secrets, workspace files.
use super::*;
use serde_json::json;

fn base() -> IntegrationConfig {
    IntegrationConfig::defaults("142461", "1463137")
}

#[test]
fn the_hidden_store_views_property_is_a_matching_field() -> Result<(), FieldErrors> {
    assert_eq!(
        base().hidden_store_views_property,
        "commerce:hiddenStoreViews"
    );
    let (changed, _) = base().apply_change(
        &json!({ "hidden_store_views_property": "custom:hiddenIn" }),
        &base(),
        UrlPolicy::HttpsOnly,
    )?;
    assert_eq!(changed.hidden_store_views_property, "custom:hiddenIn");
    assert!(
        changed.matching_differs(&base()),
        "a change calls for a full sync"
    );
    let (restored, _) = changed.apply_change(
        &json!({ "hidden_store_views_property": null }),
        &base(),
        UrlPolicy::HttpsOnly,
    )?;
    assert_eq!(
        restored.hidden_store_views_property,
        "commerce:hiddenStoreViews"
    );
    assert!(
        base()
            .apply_change(
                &json!({ "hidden_store_views_property": "" }),
                &base(),
                UrlPolicy::HttpsOnly
            )
            .is_err()
    );
    // A configuration stored before the field existed reads with the default.
    let mut stored = serde_json::to_value(base()).map_err(|_| FieldErrors::new())?;
    if let Some(map) = stored.as_object_mut() {
        map.remove("hidden_store_views_property");
    }
    let read: IntegrationConfig = serde_json::from_value(stored).map_err(|_| FieldErrors::new())?;
    assert_eq!(
        read.hidden_store_views_property,
        "commerce:hiddenStoreViews"
    );
    Ok(())
}

#[test]
fn fields_left_out_keep_their_value_and_null_restores_the_default() -> Result<(), FieldErrors> {
    let (changed, changes) = base().apply_change(
        &json!({ "sku_attribute": "custom:skus", "sync_enabled": false }),
        &base(),
        UrlPolicy::HttpsOnly,
    )?;
    assert_eq!(changed.sku_attribute, "custom:skus");
    assert!(!changed.sync_enabled);
    assert_eq!(changed.program_id, "142461");
    assert_eq!(changes.len(), 2);
    let (restored, _) = changed.apply_change(
        &json!({ "sku_attribute": null }),
        &base(),
        UrlPolicy::HttpsOnly,
    )?;
    assert_eq!(restored.sku_attribute, "commerce:skus");
    assert!(!restored.sync_enabled);
    Ok(())
}

#[test]
fn the_author_url_fills_program_and_environment() -> Result<(), FieldErrors> {
    let (changed, _) = base().apply_change(
        &json!({ "author_url": "https://author-p1234-e5678.adobeaemcloud.com/" }),
        &base(),
        UrlPolicy::HttpsOnly,
    )?;
    assert_eq!(
        (changed.program_id.as_str(), changed.environment_id.as_str()),
        ("1234", "5678")
    );
    assert!(changed.matching_differs(&base()));
    Ok(())
}

#[test]
fn each_bad_field_gets_its_own_message() {
    let errors = base()
        .apply_change(
            &json!({
                "author_url": "https://example.com/",
                "visualization_owner": "nobody",
                "asset_custom_domain": "http://cdn.example.com",
                "sync_enabled": "yes",
                "colour": "blue",
            }),
            &base(),
            UrlPolicy::HttpsOnly,
        )
        .err()
        .unwrap_or_default();
    assert_eq!(
        errors.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "asset_custom_domain",
            "author_url",
            "colour",
            "sync_enabled",
            "visualization_owner"
        ]
    );
}

#[test]
fn custom_domains_are_normalised() {
    assert_eq!(
        custom_domain("Assets.Example.com"),
        Ok("https://assets.example.com".into())
    );
    assert_eq!(
        custom_domain("https://assets.example.com/"),
        Ok("https://assets.example.com".into())
    );
    assert!(custom_domain("https://assets.example.com/path").is_err());
    assert!(custom_domain("localhost").is_err());
}
