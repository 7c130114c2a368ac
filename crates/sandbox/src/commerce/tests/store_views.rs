//! Values per store view, as Magento keeps them: a store-scoped write makes that view's row, reads fall back
//! to the defaults field by field, a view's own position outlives later default positions, roles are global.

use super::*;

async fn get(client: &Client, path: &str) -> (u16, Value) {
    let reply = client.send("GET", path, &[], None).await;
    (reply.status().as_u16(), reply.json().await.unwrap())
}

async fn put(client: &Client, store: &str, id: u64, entry: Value) {
    let mut entry = entry;
    entry["id"] = json!(id);
    entry["media_type"] = json!("image");
    let reply = client
        .send(
            "PUT",
            &format!("/rest/{store}/V1/products/P1/media/{id}"),
            &[],
            Some(json!({ "entry": entry })),
        )
        .await;
    assert_eq!(reply.status(), 200, "PUT at {store}");
}

#[tokio::test]
async fn store_scoped_writes_make_a_views_row_and_reads_fall_back_to_the_defaults() {
    let (emulator, client) = started().await;
    emulator.create_product("P1");
    emulator.set_store_views(&["fr_FR", "de_de", "en_us"]);

    let (status, views) = get(&client, "/rest/V1/store/storeViews").await;
    assert_eq!(status, 200);
    let codes: Vec<&str> = views
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["admin", "default", "fr_fr", "de_de", "en_us"]);

    let png = BASE64.encode(PNG);
    let mut body = post_body(&png, "image/png", "jacket.png");
    body["entry"]["label"] = json!("Jacket");
    body["entry"]["position"] = json!(1);
    let reply = client
        .send("POST", "/rest/all/V1/products/P1/media", &[], Some(body))
        .await;
    assert_eq!(reply.status(), 200);
    let id: u64 = reply.json::<String>().await.unwrap().parse().unwrap();

    put(
        &client,
        "fr_fr",
        id,
        json!({ "label": "Veste", "position": 1, "disabled": false, "types": ["image"] }),
    )
    .await;
    put(
        &client,
        "DE_DE",
        id,
        json!({ "label": "Jacke", "position": 1, "disabled": true, "types": ["image"] }),
    )
    .await;

    let label_in = |entries: &Value| entries[0]["label"].clone();
    let (_, all) = get(&client, "/rest/all/V1/products/P1/media").await;
    let (_, fr) = get(&client, "/rest/fr_fr/V1/products/P1/media").await;
    let (_, de) = get(&client, "/rest/de_de/V1/products/P1/media").await;
    let (_, en) = get(&client, "/rest/en_us/V1/products/P1/media").await;
    assert_eq!(label_in(&all), "Jacket");
    assert_eq!(label_in(&fr), "Veste");
    assert_eq!(label_in(&de), "Jacke");
    assert_eq!(label_in(&en), "Jacket", "a view without a row inherits");
    assert_eq!(all[0]["disabled"], false);
    assert_eq!(de[0]["disabled"], true);
    assert_eq!(fr[0]["disabled"], false);
    assert_eq!(
        Value::Array(emulator.entries_in("P1", "de_de").unwrap()),
        de
    );
    // Roles are the product's: a store-scoped write of `types` changes them everywhere.
    assert_eq!(all[0]["types"], json!(["image"]));

    // The default position moves; the views that got a row keep theirs (magento/magento2 #14208).
    put(
        &client,
        "all",
        id,
        json!({ "label": "Jacket", "position": 7, "disabled": false, "types": ["image"] }),
    )
    .await;
    let (_, fr) = get(&client, &format!("/rest/fr_fr/V1/products/P1/media/{id}")).await;
    let (_, en) = get(&client, &format!("/rest/en_us/V1/products/P1/media/{id}")).await;
    assert_eq!(fr["position"], 1);
    assert_eq!(en["position"], 7);

    // A store code the store does not have.
    let (status, body) = get(&client, "/rest/it_it/V1/products/P1/media").await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], NO_STORE);
    assert!(emulator.entries_in("P1", "it_it").is_none());
}

#[tokio::test]
async fn a_post_at_a_store_views_scope_also_writes_that_views_row() {
    let (emulator, client) = started().await;
    emulator.create_product("P1");
    emulator.set_store_views(&["fr_fr"]);
    let png = BASE64.encode(PNG);
    let mut body = post_body(&png, "image/png", "jacket.png");
    body["entry"]["label"] = json!("Veste");
    let reply = client
        .send("POST", "/rest/fr_fr/V1/products/P1/media", &[], Some(body))
        .await;
    assert_eq!(reply.status(), 200);
    let id: u64 = reply.json::<String>().await.unwrap().parse().unwrap();
    // Later default labels do not reach the view: its row holds a label of its own.
    put(
        &client,
        "all",
        id,
        json!({ "label": "Jacket", "position": 0, "disabled": false, "types": [] }),
    )
    .await;
    let (_, fr) = get(&client, "/rest/fr_fr/V1/products/P1/media").await;
    let (_, default) = get(&client, "/rest/default/V1/products/P1/media").await;
    assert_eq!(fr[0]["label"], "Veste");
    assert_eq!(default[0]["label"], "Jacket");
}
