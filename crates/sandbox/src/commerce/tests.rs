//! The emulator's own tests: the gallery state machine, validation and the HTTP surface (OAuth in `oauth`).

mod oauth;
mod store_views;
mod video;

use oauth::sign;

use super::*;

const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
];
const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49, 0x46];

fn settings(allow_bearer: bool) -> CommerceSettings {
    CommerceSettings {
        consumer_key: "ck".into(),
        consumer_secret: "c s".into(),
        access_token: "tok".into(),
        access_token_secret: "t+s".into(),
        allow_bearer,
    }
}

// An independent, deliberately naive OAuth 1.0a signer for the tests.

fn fields(types: &[&str]) -> EntryFields {
    EntryFields {
        label: Some("L".into()),
        position: 1,
        disabled: false,
        types: roles_from(types),
        video: None,
    }
}

#[test]
fn file_paths_with_clash_suffix() {
    let mut g = Gallery::default();
    assert!(g.create_product("A"));
    assert!(!g.create_product("A"));
    g.create_product("B");
    let path = |g: &Gallery, sku: &str, id: u64| {
        g.entry(sku, id, &Scope::All).unwrap()["file"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let a = g
        .add("A", fields(&[]), "test_image.jpg", &Scope::All)
        .unwrap();
    let b = g
        .add("A", fields(&[]), "test_image.jpg", &Scope::All)
        .unwrap();
    let c = g
        .add("B", fields(&[]), "test_image.jpg", &Scope::All)
        .unwrap();
    assert_eq!(path(&g, "A", a), "/t/e/test_image.jpg");
    assert_eq!(path(&g, "A", b), "/t/e/test_image_1.jpg");
    assert_eq!(path(&g, "B", c), "/t/e/test_image_2.jpg");
    let d = g.add("A", fields(&[]), "AB.png", &Scope::All).unwrap();
    assert_eq!(path(&g, "A", d), "/a/b/AB.png");
    let e = g.add("A", fields(&[]), ".x.png", &Scope::All).unwrap();
    assert_eq!(path(&g, "A", e), "/_/x/.x.png");
    // Deleting frees the file name.
    g.remove("A", a).unwrap();
    let f = g
        .add("A", fields(&[]), "test_image.jpg", &Scope::All)
        .unwrap();
    assert_eq!(path(&g, "A", f), "/t/e/test_image.jpg");
    let h = g.add_handmade("A", fields(&[])).unwrap();
    assert_eq!(path(&g, "A", h), format!("/h/a/handmade_{h}.jpg"));
    assert_eq!(
        g.add("nope", fields(&[]), "x.png", &Scope::All),
        Err(Missing::Product)
    );
    // Names as Magento stores them.
    assert_eq!(
        file_name("test_image", "image/jpeg").unwrap(),
        "test_image.jpg"
    );
    assert_eq!(file_name("pic", "image/png").unwrap(), "pic.png");
    assert_eq!(
        file_name("my pic!.PNG", "image/png").unwrap(),
        "my_pic_.PNG"
    );
    assert_eq!(file_name("!!.png", "image/png").unwrap(), "file.png");
    assert_eq!(
        file_name("doc.txt", "image/png").unwrap_err().message,
        BAD_EXTENSION
    );
}

#[test]
fn roles_move_between_entries() {
    let mut g = Gallery::default();
    g.create_product("A");
    g.create_product("B");
    let a = g
        .add(
            "A",
            fields(&["image", "small_image", "bogus"]),
            "a.png",
            &Scope::All,
        )
        .unwrap();
    let other = g
        .add("B", fields(&["image"]), "o.png", &Scope::All)
        .unwrap();
    assert_eq!(
        g.entry("A", a, &Scope::All).unwrap()["types"],
        json!(["image", "small_image"])
    );
    let b = g
        .add("A", fields(&["image", "thumbnail"]), "b.png", &Scope::All)
        .unwrap();
    assert_eq!(
        g.entry("A", a, &Scope::All).unwrap()["types"],
        json!(["small_image"])
    );
    assert_eq!(
        g.entry("A", b, &Scope::All).unwrap()["types"],
        json!(["image", "thumbnail"])
    );
    // Another product keeps its roles.
    assert_eq!(
        g.entry("B", other, &Scope::All).unwrap()["types"],
        json!(["image"])
    );
    // An update takes roles too (even from an entry with a higher id).
    g.update(
        "A",
        Some(a),
        fields(&["thumbnail", "small_image"]),
        &Scope::All,
    )
    .unwrap();
    assert_eq!(
        g.entry("A", b, &Scope::All).unwrap()["types"],
        json!(["image"])
    );
    assert_eq!(
        g.entry("A", a, &Scope::All).unwrap()["types"],
        json!(["small_image", "thumbnail"])
    );
    // A deleted entry frees its roles.
    g.remove("A", b).unwrap();
    let entries = g.entries("A", &Scope::All).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["types"], json!(["small_image", "thumbnail"]));
    assert_eq!(g.remove("A", b), Err(Missing::Image));
}

#[test]
fn put_replaces_fields_and_ignores_content() {
    let mut g = Gallery::default();
    g.create_product("A");
    let id = g
        .add(
            "A",
            EntryFields {
                label: Some("old".into()),
                position: 5,
                disabled: true,
                types: vec!["image", "small_image"],
                video: None,
            },
            "keep.png",
            &Scope::All,
        )
        .unwrap();
    let body = json!({ "entry": {
        "id": id, "media_type": "image", "types": ["thumbnail"], "label": null,
        "file": "/o/t/other.png",
        "content": { "base64_encoded_data": "!!!not base64", "type": "text/plain", "name": "x/y" },
    }});
    let (parsed_id, fields) = parse_update(&body).unwrap();
    assert_eq!(parsed_id, Some(id));
    g.update("A", parsed_id, fields, &Scope::All).unwrap();
    assert_eq!(
        g.entry("A", id, &Scope::All).unwrap(),
        json!({ "id": id, "media_type": "image", "label": null, "position": 0, "disabled": false,
                "types": ["thumbnail"], "file": "/k/e/keep.png" })
    );
    // The id comes from the body; a missing or unknown one is "no image".
    let (none, f) = parse_update(&json!({ "entry": { "label": "x" } })).unwrap();
    assert_eq!(
        g.update("A", none, f.clone(), &Scope::All),
        Err(Missing::Image)
    );
    assert_eq!(
        g.update("A", Some(999), f.clone(), &Scope::All),
        Err(Missing::Image)
    );
    assert_eq!(
        g.update("Z", Some(id), f, &Scope::All),
        Err(Missing::Product)
    );
    assert_eq!(
        parse_update(&json!({ "entry": { "id": "7" } })).unwrap().0,
        Some(7)
    );
    assert_eq!(
        parse_update(&json!({})).unwrap_err().parameters,
        json!({ "fieldName": "entry" })
    );
}

fn post_body(data: &str, mime: &str, name: &str) -> Value {
    json!({ "entry": {
        "media_type": "image", "label": "L", "position": 2, "disabled": false, "types": ["image"],
        "content": { "base64_encoded_data": data, "type": mime, "name": name },
    }})
}

fn message(body: &Value) -> String {
    validate_new_entry(body).unwrap_err().message
}

#[test]
fn validation_messages() {
    let png = BASE64.encode(PNG);
    let upload = validate_new_entry(&post_body(&png, "image/png", "test_image")).unwrap();
    assert_eq!(upload.file_name, "test_image.png");
    assert_eq!(upload.fields.position, 2);
    assert_eq!(upload.fields.types, vec!["image"]);
    assert!(validate_new_entry(&post_body(&BASE64.encode(JPEG), "image/jpeg", "a.jpg")).is_ok());
    let gif = BASE64.encode(b"GIF89a\x01\x00\x01\x00");
    assert!(validate_new_entry(&post_body(&gif, "image/gif", "a.gif")).is_ok());
    let webp = BASE64.encode(b"RIFF\x10\x00\x00\x00WEBPVP8 ");
    assert!(validate_new_entry(&post_body(&webp, "image/webp", "a.webp")).is_ok());

    assert_eq!(
        message(&post_body("***", "image/png", "a.png")),
        BAD_CONTENT
    );
    let text = BASE64.encode(b"hello, not an image");
    assert_eq!(
        message(&post_body(&text, "image/png", "a.png")),
        BAD_CONTENT
    );
    assert_eq!(message(&post_body(&png, "image/jpeg", "a.png")), BAD_MIME);
    assert_eq!(message(&post_body(&png, "image/jpg", "a.png")), BAD_MIME);
    assert_eq!(message(&post_body(&png, "text/plain", "a.png")), BAD_MIME);
    for name in [
        "a/b.png", "a\\b.png", "a:b.png", "a*.png", "a?.png", "a\".png", "a<.png", "a>.png",
        "a|.png",
    ] {
        assert_eq!(
            message(&post_body(&png, "image/png", name)),
            BAD_NAME,
            "{name}"
        );
    }
    assert_eq!(message(&json!({})), CONTENT_REQUIRED);
    assert_eq!(
        message(&json!({ "entry": { "media_type": "image" } })),
        CONTENT_REQUIRED
    );
    let mut other = post_body(&png, "image/png", "a.png");
    other["entry"]["media_type"] = json!("video");
    assert_eq!(message(&other), BAD_MEDIA_TYPE);
    let mut bad_position = post_body(&png, "image/png", "a.png");
    bad_position["entry"]["position"] = json!("first");
    assert_eq!(message(&bad_position), INVALID_TYPE);
}

#[test]
fn product_pages() {
    let mut g = Gallery::default();
    for sku in ["c", "a", "b"] {
        g.create_product(sku);
    }
    let skus = |items: Vec<Value>| -> Vec<String> {
        items
            .iter()
            .map(|i| i["sku"].as_str().unwrap().to_owned())
            .collect()
    };
    let (items, total) = g.products_page(2, 1);
    assert_eq!(
        (skus(items), total),
        (vec!["c".to_owned(), "a".to_owned()], 3)
    );
    assert_eq!(skus(g.products_page(2, 2).0), vec!["b"]);
    // Past the last page: the last page again, as Magento does.
    assert_eq!(skus(g.products_page(2, 9).0), vec!["b"]);
    assert_eq!(g.products_page(0, 1).0.len(), 3);
    assert_eq!(
        search_criteria("searchCriteria%5BpageSize%5D=5&searchCriteria[currentPage]=3"),
        Ok((5, 3))
    );
    assert_eq!(
        search_criteria("searchCriteria[currentPage]=2"),
        Ok((20, 2))
    );
    assert!(search_criteria("").is_err());
    assert!(search_criteria("searchCriteria[pageSize]=x").is_err());
    assert!(search_criteria("searchCriteria[filter_groups][0][filters][0][field]=sku").is_err());
}

struct Client {
    http: reqwest::Client,
    settings: CommerceSettings,
    origin: String,
}

impl Client {
    async fn send(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> reqwest::Response {
        let nonce = format!("n{}", fastrand::u64(..));
        let (url, authorization) = sign(
            &self.settings,
            method,
            &self.origin,
            path,
            query,
            &nonce,
            unix_now(),
        );
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, url)
            .header("Authorization", authorization);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }
}

async fn started() -> (CommerceEmulator, Client) {
    let emulator = CommerceEmulator::start(settings(false), 0).await.unwrap();
    let client = Client {
        http: reqwest::Client::new(),
        settings: settings(false),
        origin: emulator.url().to_owned(),
    };
    (emulator, client)
}

#[tokio::test]
async fn http_gallery_round_trip() {
    let (emulator, client) = started().await;
    assert!(emulator.create_product("SKU 1"));
    let handmade = emulator
        .add_handmade_entry("SKU 1", "by hand", 0, &["image", "thumbnail"], false)
        .unwrap();
    let media = "/rest/all/V1/products/SKU%201/media";

    // Unsigned: 401 in Magento's shape.
    let reply = client
        .http
        .get(format!("{}{media}", client.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 401);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["parameters"]["resources"], "Magento_Catalog::products");

    let png = BASE64.encode(PNG);
    let reply = client
        .send(
            "POST",
            media,
            &[],
            Some(post_body(&png, "image/png", "test_image.png")),
        )
        .await;
    assert_eq!(reply.status(), 200);
    let id: String = reply.json().await.unwrap();
    let id: u64 = id.parse().unwrap();

    let reply = client.send("GET", media, &[], None).await;
    assert_eq!(reply.status(), 200);
    let listed: Value = reply.json().await.unwrap();
    assert_eq!(Value::Array(emulator.entries("SKU 1").unwrap()), listed);
    assert_eq!(listed[0]["id"], json!(handmade));
    assert_eq!(listed[0]["types"], json!(["thumbnail"]));
    assert_eq!(listed[1]["file"], "/t/e/test_image.png");
    assert_eq!(listed[1]["types"], json!(["image"]));

    // PUT names the entry in the body; the URL id is ignored.
    let update = json!({ "entry": { "id": id, "media_type": "image", "label": "alt", "position": 3,
                                     "disabled": false, "types": ["image", "thumbnail"] } });
    let reply = client
        .send("PUT", &format!("{media}/999999"), &[], Some(update))
        .await;
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.json::<Value>().await.unwrap(), json!(true));
    let reply = client
        .send("GET", &format!("{media}/{handmade}"), &[], None)
        .await;
    assert_eq!(reply.json::<Value>().await.unwrap()["types"], json!([]));

    let reply = client
        .send("DELETE", &format!("{media}/{id}"), &[], None)
        .await;
    assert_eq!(reply.json::<Value>().await.unwrap(), json!(true));
    let reply = client
        .send("DELETE", &format!("{media}/{id}"), &[], None)
        .await;
    assert_eq!(reply.status(), 404);
    assert_eq!(reply.json::<Value>().await.unwrap()["message"], NO_IMAGE);

    let reply = client
        .send("GET", "/rest/all/V1/products/missing/media", &[], None)
        .await;
    assert_eq!(reply.status(), 404);
    assert_eq!(reply.json::<Value>().await.unwrap()["message"], NO_PRODUCT);
    let reply = client
        .send("GET", "/rest/french/V1/products/SKU%201/media", &[], None)
        .await;
    assert_eq!(reply.status(), 404);
    assert_eq!(reply.json::<Value>().await.unwrap()["message"], NO_STORE);

    // Validation errors arrive as 400.
    let reply = client
        .send(
            "POST",
            media,
            &[],
            Some(post_body(&png, "image/jpeg", "x.png")),
        )
        .await;
    assert_eq!(reply.status(), 400);
    assert_eq!(reply.json::<Value>().await.unwrap()["message"], BAD_MIME);

    emulator.create_product("SKU-2");
    let reply = client
        .send(
            "GET",
            "/rest/default/V1/products",
            &[
                ("searchCriteria[pageSize]", "1"),
                ("searchCriteria[currentPage]", "2"),
            ],
            None,
        )
        .await;
    let page: Value = reply.json().await.unwrap();
    assert_eq!(page["total_count"], 2);
    assert_eq!(page["items"][0]["sku"], "SKU-2");

    emulator.set_credentials_valid(false);
    assert_eq!(client.send("GET", media, &[], None).await.status(), 401);
    let stats = emulator.stats();
    assert_eq!(stats.unauthorized, 2);
    assert_eq!((stats.posts, stats.puts, stats.deletes), (2, 1, 2));
}

#[tokio::test]
async fn http_faults() {
    let (emulator, client) = started().await;
    emulator.create_product("P");
    let media = "/rest/all/V1/products/P/media";
    emulator.inject(Fault::Status {
        status: 429,
        retry_after_secs: Some(1),
        count: 1,
    });
    let reply = client.send("GET", media, &[], None).await;
    assert_eq!(reply.status(), 429);
    assert_eq!(reply.headers()["retry-after"], "1");
    // Too early: answered, but counted.
    assert_eq!(client.send("GET", media, &[], None).await.status(), 200);
    let stats = emulator.stats();
    assert_eq!((stats.throttled, stats.requests_during_retry_after), (1, 1));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(client.send("GET", media, &[], None).await.status(), 200);
    assert_eq!(emulator.stats().requests_during_retry_after, 1);

    // Committed, then the reply is late: a client that gives up still left an entry behind.
    emulator.inject(Fault::DelayAfterCommit {
        millis: 500,
        count: 1,
    });
    let png = BASE64.encode(PNG);
    let nonce = "late-post";
    let (url, authorization) = sign(
        &client.settings,
        "POST",
        &client.origin,
        media,
        &[],
        nonce,
        unix_now(),
    );
    let outcome = client
        .http
        .post(url)
        .header("Authorization", authorization)
        .json(&post_body(&png, "image/png", "late.png"))
        .timeout(Duration::from_millis(100))
        .send()
        .await;
    assert!(outcome.is_err());
    assert_eq!(emulator.entries("P").unwrap().len(), 1);

    // Control API.
    let control = format!("{}/control", client.origin);
    let reply: Value = client
        .http
        .post(format!("{control}/faults"))
        .json(&json!({ "status": 503, "count": 1 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["queued"], true);
    assert_eq!(client.send("GET", media, &[], None).await.status(), 503);
    let stats: Value = client
        .http
        .get(format!("{control}/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["throttled"], 2);
    let product: Value = client
        .http
        .get(format!("{control}/products/P"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(product["entries"][0]["file"], "/l/a/late.png");
}
