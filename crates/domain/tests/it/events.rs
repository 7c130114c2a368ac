//! `events::parse_io_event`: what assetsync reads of an I/O Events CloudEvent delivery.

use crate::support::asset_id;
use assetsync_domain::events::{EventError, EventKind, parse_io_event};
use serde_json::{Value, json};

const ASSET: &str = "urn:aaid:aem:5b80c144-1b2c-4d5e-8f90-123456789abc";

fn body(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

fn metadata_updated_event() -> Value {
    json!({
        "specversion": "1.0",
        "id": "5c3efadc-0001",
        "source": "acct:aem-p142461-e1463137@adobe.com",
        "type": "aem.assets.asset.metadata_updated",
        "datacontenttype": "application/json",
        "time": "2025-09-19T16:59:29.185Z",
        "eventid": "4a9fc595-0002",
        "event_id": "4a9fc595-0002",
        "recipient_client_id": "client-123",
        "recipientclientid": "client-123",
        "data": {
            "repositoryMetadata": { "repo:assetId": ASSET, "dc:format": "application/pdf" },
            "assetMetadata": { "dc:title": "Title", "event:created": ["dc:title"] },
            "assetId": ASSET
        }
    })
}

#[test]
fn a_metadata_updated_event_is_read_fully() {
    let event = parse_io_event(&body(&metadata_updated_event())).unwrap();
    assert_eq!(event.id, "5c3efadc-0001");
    assert_eq!(event.event_type, "aem.assets.asset.metadata_updated");
    assert_eq!(event.kind, EventKind::AssetChanged);
    assert_eq!(event.recipient_client_id.as_deref(), Some("client-123"));
    assert_eq!(
        event.asset_id,
        Some(asset_id("5b80c144-1b2c-4d5e-8f90-123456789abc"))
    );
    assert_eq!(event.time_ms, Some(1_758_301_169_185));
}

#[test]
fn asset_event_types_are_classified() {
    for (event_type, kind) in [
        ("aem.assets.asset.created", EventKind::AssetChanged),
        ("aem.assets.asset.updated", EventKind::AssetChanged),
        ("aem.assets.asset.metadata_updated", EventKind::AssetChanged),
        (
            "aem.assets.asset.processing_completed",
            EventKind::AssetChanged,
        ),
        ("aem.assets.asset.deleted", EventKind::AssetDeleted),
    ] {
        let mut event = metadata_updated_event();
        event["type"] = json!(event_type);
        let parsed = parse_io_event(&body(&event)).unwrap();
        assert_eq!(parsed.kind, kind, "{event_type}");
        assert_eq!(parsed.event_type, event_type);
        assert!(parsed.asset_id.is_some());
    }
}

#[test]
fn unused_types_are_accepted_without_an_asset_id() {
    for event_type in [
        "aem.assets.folder.created",
        "com.adobe.commerce.observer.catalog_category_save_after",
        "something.else",
    ] {
        let event = json!({ "id": "e1", "type": event_type, "recipient_client_id": "client-123" });
        let parsed = parse_io_event(&body(&event)).unwrap();
        assert_eq!(parsed.kind, EventKind::Unused, "{event_type}");
        assert_eq!(parsed.asset_id, None);
        assert_eq!(parsed.id, "e1");
        assert_eq!(parsed.recipient_client_id.as_deref(), Some("client-123"));
    }
    let with_garbage_asset =
        json!({ "id": "e1", "type": "other", "data": { "assetId": "not-an-id" } });
    assert_eq!(
        parse_io_event(&body(&with_garbage_asset)).unwrap().asset_id,
        None
    );
}

#[test]
fn the_asset_id_may_come_from_repository_metadata() {
    let event = json!({
        "id": "e1",
        "type": "aem.assets.asset.deleted",
        "data": { "repositoryMetadata": { "repo:assetId": ASSET } }
    });
    let parsed = parse_io_event(&body(&event)).unwrap();
    assert_eq!(parsed.kind, EventKind::AssetDeleted);
    assert_eq!(
        parsed.asset_id.map(|a| a.as_str().to_owned()).as_deref(),
        Some(ASSET)
    );
}

#[test]
fn alternative_id_and_recipient_spellings_are_read() {
    let event = json!({
        "event_id": "e-underscore",
        "type": "other",
        "recipientclientid": "client-9",
    });
    let parsed = parse_io_event(&body(&event)).unwrap();
    assert_eq!(parsed.id, "e-underscore");
    assert_eq!(parsed.recipient_client_id.as_deref(), Some("client-9"));
    let eventid_only = json!({ "eventid": "e-flat", "type": "other" });
    let parsed = parse_io_event(&body(&eventid_only)).unwrap();
    assert_eq!(parsed.id, "e-flat");
    assert_eq!(parsed.recipient_client_id, None);
    assert_eq!(parsed.time_ms, None);
}

#[test]
fn a_body_that_is_not_json_is_refused() {
    assert!(matches!(
        parse_io_event(b"not json"),
        Err(EventError::NotJson(_))
    ));
    assert!(matches!(parse_io_event(b""), Err(EventError::NotJson(_))));
    assert!(matches!(
        parse_io_event(b"{\"id\":"),
        Err(EventError::NotJson(_))
    ));
}

#[test]
fn a_body_that_is_not_an_object_is_refused() {
    for value in [json!([]), json!("event"), json!(1), json!(null)] {
        assert_eq!(
            parse_io_event(&body(&value)),
            Err(EventError::NotAnObject),
            "{value}"
        );
    }
}

#[test]
fn an_event_without_id_or_type_is_refused() {
    let mut no_id = metadata_updated_event();
    for key in ["id", "eventid", "event_id"] {
        no_id.as_object_mut().unwrap().remove(key);
    }
    assert_eq!(parse_io_event(&body(&no_id)), Err(EventError::MissingId));
    let blank_id = json!({ "id": "  ", "type": "other" });
    assert_eq!(parse_io_event(&body(&blank_id)), Err(EventError::MissingId));
    let numeric_id = json!({ "id": 7, "type": "other" });
    assert_eq!(
        parse_io_event(&body(&numeric_id)),
        Err(EventError::MissingId)
    );

    let no_type = json!({ "id": "e1" });
    assert_eq!(
        parse_io_event(&body(&no_type)),
        Err(EventError::MissingType)
    );
    let blank_type = json!({ "id": "e1", "type": "" });
    assert_eq!(
        parse_io_event(&body(&blank_type)),
        Err(EventError::MissingType)
    );
}

#[test]
fn an_asset_event_without_a_valid_asset_id_is_refused() {
    let no_data = json!({ "id": "e1", "type": "aem.assets.asset.updated" });
    assert!(matches!(
        parse_io_event(&body(&no_data)),
        Err(EventError::AssetId(_))
    ));
    let mut bad_id = metadata_updated_event();
    bad_id["data"]["assetId"] = json!("/content/dam/file.png");
    assert!(matches!(
        parse_io_event(&body(&bad_id)),
        Err(EventError::AssetId(_))
    ));
    let mut numeric_id = metadata_updated_event();
    numeric_id["data"]["assetId"] = json!(42);
    assert!(matches!(
        parse_io_event(&body(&numeric_id)),
        Err(EventError::AssetId(_))
    ));
}

#[test]
fn an_unparseable_time_is_absent_not_an_error() {
    let mut event = metadata_updated_event();
    event["time"] = json!("yesterday");
    assert_eq!(parse_io_event(&body(&event)).unwrap().time_ms, None);
}

#[test]
fn product_events_carry_their_sku() {
    for (event_type, kind) in [
        (
            "com.adobe.commerce.observer.catalog_product_save_after",
            EventKind::ProductSaved,
        ),
        (
            "com.adobe.commerce.observer.catalog_product_delete_after",
            EventKind::ProductDeleted,
        ),
    ] {
        let event = json!({ "id": "p1", "type": event_type, "data": { "value": { "sku": " MH01 ", "_isNew": true } } });
        let parsed = parse_io_event(&body(&event)).unwrap();
        assert_eq!(parsed.kind, kind);
        assert_eq!(parsed.sku.map(|s| s.to_string()).as_deref(), Some("MH01"));
        let without_sku = json!({ "id": "p2", "type": event_type, "data": { "value": {} } });
        assert!(matches!(
            parse_io_event(&body(&without_sku)),
            Err(EventError::Sku(_))
        ));
    }
}

#[test]
fn the_source_names_the_aem_program_and_environment() {
    use assetsync_domain::events::aem_environment;
    assert_eq!(
        aem_environment("acct:aem-p142461-e1463137@adobe.com"),
        Some(("142461", "1463137"))
    );
    assert_eq!(
        aem_environment("acct:aem-cmstg-p7-e8@adobe.com"),
        Some(("7", "8"))
    );
    for other in [
        "acct:aem-p142461@adobe.com",
        "acct:aem-px-e1@adobe.com",
        "acct:aem-p1-e@adobe.com",
        "urn:uuid:1234",
        "acct:aem-p1-e2@example.com",
    ] {
        assert_eq!(aem_environment(other), None, "{other}");
    }
    let event = parse_io_event(&body(&metadata_updated_event())).unwrap();
    assert!(!event.is_from_other_environment("142461", "1463137"));
    assert!(event.is_from_other_environment("142461", "999"));
    assert!(event.is_from_other_environment("1", "1463137"));
    let mut no_source = metadata_updated_event();
    no_source.as_object_mut().unwrap().remove("source");
    let event = parse_io_event(&body(&no_source)).unwrap();
    assert!(
        !event.is_from_other_environment("1", "2"),
        "an event that names no environment is not another's"
    );
}
