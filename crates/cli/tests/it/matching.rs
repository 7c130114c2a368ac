//! Matching rules beside match by SKU: the custom matcher's two contracts (reference §6.2, §6.3) against the
//! sandbox's reference matcher, its failures, its URL and credential rules; filename rules; the preview.

use crate::harness::*;
use reqwest::StatusCode;
use sandbox::aem::NewAsset;
use sandbox::matcher::{
    ASSET_TO_PRODUCT_PATH, MatcherEmulator, MatcherSettings, PRODUCT_TO_ASSET_PATH,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const INSECURE: &str = "allow_insecure_matcher_urls = true\nmatcher_timeout_seconds = 1";

/// A service under custom_match against a fresh reference matcher.
async fn custom_app() -> (TestApp, MatcherEmulator) {
    let matcher = MatcherEmulator::start(MatcherSettings::default(), 0)
        .await
        .unwrap();
    let app = TestApp::spawn_with_sync(INSECURE).await;
    let (status, body) = app
        .put_config(
            "",
            json!({
                "matching_rule": "custom_match",
                "asset_to_product_url": matcher.asset_to_product_url(),
                "product_to_asset_url": matcher.product_to_asset_url(),
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.settle().await;
    (app, matcher)
}

async fn post(app: &TestApp, path: &str, body: &[u8]) -> (StatusCode, Value) {
    let reply = app
        .http
        .post(format!("{}{path}", app.url))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    (reply.status(), reply.json().await.unwrap_or(Value::Null))
}

/// Waits until the asset's sync status satisfies `check`; returns it.
async fn wait_for_status(app: &TestApp, asset: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, status) = app.asset_status(asset).await;
        if check(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "status never matched: {status}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn bodies(matcher: &MatcherEmulator, path: &str) -> Vec<Value> {
    matcher
        .calls()
        .into_iter()
        .filter(|c| c.path == path)
        .map(|c| c.body)
        .collect()
}

#[tokio::test]
async fn asset_to_product_gets_the_full_metadata_and_is_authoritative() {
    let (app, matcher) = custom_app().await;
    matcher.rewrite_sku_prefix("OLD-", "NEW-");
    app.put_products(&["CM-1", "NEW-2"]).await;
    let asset = app.approved_asset(json!({
        "commerce:skus": ["CM-1", "OLD-2"],
        "commerce:roles": ["thumbnail;image", "small_image"],
        "commerce:positions": [1, 2],
    }));
    app.settle().await;
    assert_eq!(
        app.gallery("CM-1").await,
        vec![(asset.clone(), 1, roles(&["image", "thumbnail"]))]
    );
    // The matcher's rule, not match by SKU: OLD-2 became NEW-2.
    assert_eq!(
        app.gallery("NEW-2").await,
        vec![(asset.clone(), 2, roles(&["small_image"]))]
    );
    let sent = bodies(&matcher, ASSET_TO_PRODUCT_PATH);
    let call = sent
        .iter()
        .rev()
        .find(|b| b["assetId"] == asset.as_str())
        .unwrap();
    assert_eq!(
        call["eventData"]["assetMetadata"]["commerce:skus"],
        json!(["CM-1", "OLD-2"])
    );
    assert_eq!(call["eventData"]["assetId"], asset.as_str());
    assert_eq!(
        call["eventData"]["repositoryMetadata"]["repo:name"],
        app.emulator.metadata(&asset).unwrap()["repositoryMetadata"]["repo:name"]
    );

    // Left out of the reply: unlinked.
    app.update(
        &asset,
        json!({ "commerce:skus": ["CM-1"], "commerce:roles": ["image"] }),
    );
    app.settle().await;
    assert!(app.gallery("NEW-2").await.is_empty());
    assert_eq!(app.gallery("CM-1").await.len(), 1);
}

#[tokio::test]
async fn skip_writes_nothing_and_a_failing_matcher_loses_no_link_then_recovers() {
    let (app, matcher) = custom_app().await;
    app.put_products(&["KEEP-1", "KEEP-2"]).await;
    let asset = app.approved_asset(json!({
        "commerce:skus": ["KEEP-1", "KEEP-2"],
        "commerce:roles": ["image", "image"],
    }));
    app.settle().await;
    let linked = app.gallery("KEEP-1").await;
    assert_eq!(linked.len(), 1);

    matcher.set_skip(true);
    app.update(&asset, json!({ "commerce:skus": [] }));
    app.settle().await;
    assert_eq!(app.gallery("KEEP-1").await, linked);
    assert_eq!(app.gallery("KEEP-2").await.len(), 1);
    let (_, status) = app.asset_status(&asset).await;
    assert!(status["warnings"].to_string().contains("skip"), "{status}");
    app.update(&asset, json!({ "commerce:skus": ["KEEP-1", "KEEP-2"] }));
    app.settle().await;
    matcher.set_skip(false);

    type Fault = fn(&MatcherEmulator);
    let faults: [(Fault, Fault, &str); 4] = [
        (|m| m.fail_next(500, 1), |_| {}, "HTTP 500"),
        (|m| m.malformed_next(1), |_| {}, "not the documented JSON"),
        (|m| m.oversized_next(1), |_| {}, "larger than"),
        (
            |m| m.set_latency(Duration::from_millis(1_500)),
            |m| m.set_latency(Duration::ZERO),
            "did not answer within",
        ),
    ];
    for (round, (inject, heal, why)) in faults.into_iter().enumerate() {
        inject(&matcher);
        app.update(&asset, json!({ "dc:title": format!("round {round}") }));
        let status = wait_for_status(&app, &asset, |s| {
            s["status"] == "Failed" && s["error"].as_str().is_some_and(|e| e.contains(why))
        })
        .await;
        assert!(status["error"].as_str().unwrap().contains(why), "{status}");
        // Nothing unlinked while the matcher fails.
        assert_eq!(app.gallery("KEEP-1").await.len(), 1);
        assert_eq!(app.gallery("KEEP-2").await.len(), 1);
        heal(&matcher);
        // Retried with backoff until the matcher answers again.
        wait_for_status(&app, &asset, |s| s["status"] == "Success").await;
        app.settle().await;
    }
    app.update(&asset, json!({ "commerce:skus": ["KEEP-2"] }));
    app.settle().await;
    assert!(app.gallery("KEEP-1").await.is_empty());
    assert_eq!(app.gallery("KEEP-2").await.len(), 1);
}

#[tokio::test]
async fn product_to_asset_adds_links_for_a_new_product_only() {
    let (app, matcher) = custom_app().await;
    app.put_products(&["OLD-P"]).await;
    let asset =
        app.approved_asset(json!({ "commerce:skus": ["OLD-P"], "commerce:roles": ["image"] }));
    let other = app.approved_asset(json!({}));
    app.settle().await;
    matcher.set_product_assets(
        "NEW-P",
        vec![
            json!({ "asset_id": asset, "asset_roles": ["thumbnail", "image"], "asset_position": 1, "asset_format": "image" }),
            json!({ "asset_id": other, "asset_roles": ["thumbnail"], "asset_position": 2, "asset_format": "image" }),
        ],
    );
    let saved = json!({
        "id": "commerce-evt-p2a", "type": "com.adobe.commerce.observer.catalog_product_save_after",
        "recipient_client_id": CLIENT_ID, "data": { "value": { "sku": "NEW-P", "_isNew": true } }
    });
    let (status, _) = app
        .deliver_commerce_event(saved.to_string().as_bytes())
        .await;
    assert_eq!(status, StatusCode::OK);
    app.wait_for_gallery("NEW-P", |g| g.len() == 2).await;
    app.settle().await;
    // The role holder for thumbnail: both ask; the newest modify date wins, and both are in the gallery.
    let gallery = app.gallery("NEW-P").await;
    assert_eq!(
        gallery.iter().map(|e| (&e.0, e.1)).collect::<Vec<_>>(),
        vec![(&asset, 1), (&other, 2)]
    );
    // The asset's own link stays: product-to-asset only adds.
    assert_eq!(app.gallery("OLD-P").await.len(), 1);
    let sent: Vec<Value> = bodies(&matcher, PRODUCT_TO_ASSET_PATH)
        .into_iter()
        .filter(|b| b["productSku"] == "NEW-P")
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["productSku"], "NEW-P");
    assert_eq!(sent[0]["eventData"]["value"]["sku"], "NEW-P");

    // A product that already exists is not sent again.
    let calls = matcher.call_count(PRODUCT_TO_ASSET_PATH);
    app.put_products(&["NEW-P"]).await;
    app.settle().await;
    assert_eq!(matcher.call_count(PRODUCT_TO_ASSET_PATH), calls);
}

#[tokio::test]
async fn product_to_asset_skip_and_failures_add_nothing_until_it_answers() {
    let (app, matcher) = custom_app().await;
    let asset = app.approved_asset(json!({}));
    app.settle().await;
    let matches = vec![
        json!({ "asset_id": asset, "asset_roles": ["image"], "asset_position": 1, "asset_format": "image" }),
    ];
    matcher.set_product_assets("SKIP-P", matches.clone());
    matcher.set_product_assets("FLAKY-P", matches);
    matcher.set_skip(true);
    app.put_products(&["SKIP-P"]).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while matcher.call_count(PRODUCT_TO_ASSET_PATH) < 1 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    app.settle().await;
    assert!(app.gallery("SKIP-P").await.is_empty());
    matcher.set_skip(false);
    matcher.fail_next(503, 2);
    app.put_products(&["FLAKY-P"]).await;
    app.wait_for_gallery("FLAKY-P", |g| g.len() == 1).await;
    assert_eq!(matcher.call_count(PRODUCT_TO_ASSET_PATH), 4);
}

#[tokio::test]
async fn matcher_urls_must_be_https_without_user_info() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .put_config(
            "",
            json!({ "matching_rule": "custom_match", "asset_to_product_url": "http://matcher.example.com/a2p" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["fields"]["asset_to_product_url"]
            .as_str()
            .unwrap()
            .contains("https"),
        "{body}"
    );
    let (status, body) = app
        .put_config(
            "",
            json!({ "product_to_asset_url": "https://user:secret@matcher.example.com/p2a", "matcher_token_url": "ftp://ims.example.com" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["fields"]["product_to_asset_url"]
            .as_str()
            .unwrap()
            .contains("user info"),
        "{body}"
    );
    assert!(body["fields"]["matcher_token_url"].is_string(), "{body}");
    assert!(!body.to_string().contains("secret@"), "{body}");
    let (status, body) = app
        .put_config("", json!({ "matching_rule": "custom_match" }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["fields"]["matching_rule"]
            .as_str()
            .unwrap()
            .contains("asset_to_product_url")
    );
    let (status, body) = app
        .put_config(
            "",
            json!({ "matching_rule": "custom_match", "asset_to_product_url": "https://matcher.example.com/a2p" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn workspace_json_sets_the_matcher_credentials_and_its_secret_is_never_shown() {
    let app = TestApp::spawn().await;
    let workspace = json!({
        "project": {
            "org": { "ims_org_id": "ABCDEF0123456789@AdobeOrg" },
            "workspace": {
                "action_url": "https://1234-project-stage.adobeioruntime.net",
                "details": {
                    "credentials": [{ "oauth_server_to_server": {
                        "client_id": "matcher-client",
                        "client_secrets": ["p8e-TOP-SECRET-VALUE"],
                        "technical_account_id": "tech@techacct.adobe.com",
                        "technical_account_email": "tech@techacct.adobe.com",
                        "scopes": ["openid", "AdobeID", "adobeio_api"]
                    } }],
                    "runtime": { "namespaces": [{ "name": "1234-project-stage", "auth": "ns-auth-secret" }] }
                }
            }
        }
    });
    let (status, body) = post(
        &app,
        "/api/v1/config/workspace",
        workspace.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, config) = app.admin_get("/api/v1/config").await;
    assert_eq!(config["matcher_client_id"], "matcher-client");
    assert_eq!(config["matcher_ims_org_id"], "ABCDEF0123456789@AdobeOrg");
    assert_eq!(
        config["matcher_scopes"],
        json!(["openid", "AdobeID", "adobeio_api"])
    );
    assert_eq!(config["matcher_client_secret_set"], true);
    let (_, history) = app.admin_get("/api/v1/config/history").await;
    for shown in [body.to_string(), config.to_string(), history.to_string()] {
        assert!(!shown.contains("TOP-SECRET"), "{shown}");
    }

    let (status, body) = post(&app, "/api/v1/config/workspace", b"{not json").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_json"))
    );
    let (status, body) = post(
        &app,
        "/api/v1/config/workspace",
        json!({ "project": { "workspace": { "details": { "credentials": [{ "oauth_server_to_server": { "client_secrets": [] } }] } } } })
            .to_string()
            .as_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "invalid_workspace");
    for field in [
        "project.org.ims_org_id",
        "project.workspace.details.credentials[].oauth_server_to_server.client_id",
        "project.workspace.details.credentials[].oauth_server_to_server.client_secrets",
    ] {
        assert!(body["fields"][field].is_string(), "{field}: {body}");
    }
}

fn named_asset(app: &TestApp, name: &str) -> String {
    let id = app
        .emulator
        .create_asset(NewAsset {
            name: Some(name.to_owned()),
            metadata: object(json!({ "commerce:isCommerce": "Yes" })),
            ..NewAsset::default()
        })
        .unwrap();
    app.emulator.approve(&id).unwrap();
    id
}

const RULES: [&str; 2] = [
    r"^(?P<sku>[A-Z0-9-]+)_(?P<position>\d+)_(?P<role>[a-z_;]+)\.(jpg|png)$",
    r"^(?P<sku>[A-Z0-9-]+)_(?P<position>\d+)\.(jpg|png)$",
];

#[tokio::test]
async fn filename_rules_read_sku_position_and_role_first_rule_wins() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .put_config(
            "",
            json!({ "matching_rule": "filename", "filename_rules": RULES }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.put_products(&["SHOE-1"]).await;
    let front = named_asset(&app, "SHOE-1_1.jpg");
    let swatch = named_asset(&app, "SHOE-1_2_swatch_image.png");
    let stray = named_asset(&app, "holiday-banner.jpg");
    app.settle().await;
    assert_eq!(
        app.gallery("SHOE-1").await,
        vec![
            (
                front.clone(),
                1,
                roles(&["image", "small_image", "thumbnail"])
            ),
            (swatch.clone(), 2, roles(&["swatch_image"])),
        ]
    );
    let (_, status) = app.asset_status(&stray).await;
    assert!(
        status["warnings"]
            .to_string()
            .contains("matches no filename rule"),
        "{status}"
    );

    // A sample name, without an asset.
    let (status, preview) = post(
        &app,
        "/api/v1/match/preview",
        json!({ "file_name": "SHOE-1_3_thumbnail.jpg" })
            .to_string()
            .as_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(
        preview["matched"],
        json!({ "rule": 0, "sku": "SHOE-1", "position": 3, "roles": ["thumbnail"] })
    );
    let (_, preview) = post(
        &app,
        "/api/v1/match/preview",
        json!({ "file_name": "nothing.gif" }).to_string().as_bytes(),
    )
    .await;
    assert_eq!(preview["matched"], Value::Null);

    for (bad, expected) in [
        (json!([r"^(?P<sku>[A-Z"]), "unclosed"),
        (json!([r"^(?P<code>\w+)\.jpg$"]), "no named group `sku`"),
    ] {
        let (status, body) = app.put_config("", json!({ "filename_rules": bad })).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let message = body["fields"]["filename_rules"].as_str().unwrap();
        assert!(message.contains(expected), "{message}");
    }
    let (_, config) = app.admin_get("/api/v1/config").await;
    assert_eq!(config["filename_rules"], json!(RULES));
}

#[tokio::test]
async fn the_preview_of_an_asset_is_what_a_sync_then_writes_and_writes_nothing() {
    let app = TestApp::spawn().await;
    app.put_products(&["PV-1", "PV-2"]).await;
    let first = app.approved_asset(json!({
        "commerce:skus": ["PV-1", "PV-2"], "commerce:roles": ["image;thumbnail", "image"], "commerce:positions": [1, 1],
    }));
    app.settle().await;
    // Events are lost: the service does not know of the change until a full sync.
    app.emulator.lose_events(true);
    let second = app.approved_asset(json!({
        "commerce:skus": ["PV-1", "PV-2"], "commerce:roles": ["thumbnail", "image"], "commerce:positions": [2, 1],
    }));
    app.update(
        &first,
        json!({ "commerce:skus": ["PV-1"], "commerce:roles": ["image;thumbnail"] }),
    );
    let before = (
        app.gallery("PV-1").await,
        app.gallery("PV-2").await,
        app.asset_status(&first).await.1,
        queued(&app.sync_health().await),
    );
    let mut previews = Vec::new();
    for asset in [&first, &second] {
        let (status, preview) = post(
            &app,
            "/api/v1/match/preview",
            json!({ "asset_id": asset }).to_string().as_bytes(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{preview}");
        assert_eq!(preview["outcome"], "links", "{preview}");
        previews.push(preview);
    }
    assert_eq!(previews[1]["links"].as_array().unwrap().len(), 2);
    assert!(
        previews[0]["products"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["sku"] == "PV-2" && p["operations"][0]["op"] == "delete"),
        "{}",
        previews[0]
    );
    // Nothing written.
    let after = (
        app.gallery("PV-1").await,
        app.gallery("PV-2").await,
        app.asset_status(&first).await.1,
        queued(&app.sync_health().await),
    );
    assert_eq!(before, after);
    assert_eq!(app.asset_status(&second).await.0, StatusCode::NOT_FOUND);

    // The first preview, applied by a real sync of that asset alone (its event), gives the galleries it showed.
    app.emulator.lose_events(false);
    app.update(&first, json!({ "dc:title": "synced" }));
    app.settle().await;
    for product in previews[0]["products"].as_array().unwrap() {
        let sku = product["sku"].as_str().unwrap();
        assert_eq!(shown(product), app.gallery(sku).await, "{sku}");
    }
    // The second asset's preview against today's state, applied by a full sync (no metadata change).
    let (_, preview) = post(
        &app,
        "/api/v1/match/preview",
        json!({ "asset_id": second }).to_string().as_bytes(),
    )
    .await;
    let (status, sync) = post(&app, "/api/v1/sync", b"").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sync}");
    let path = format!("/api/v1/sync/{}", sync["id"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.admin_get(&path).await.1["state"] != "done" {
        assert!(Instant::now() < deadline, "the full sync never finished");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    app.settle().await;
    for product in preview["products"].as_array().unwrap() {
        let sku = product["sku"].as_str().unwrap();
        assert_eq!(shown(product), app.gallery(sku).await, "{sku}");
    }
}

/// A preview's gallery as (asset id, position, roles), as `TestApp::gallery` reads the media API.
fn shown(product: &Value) -> Vec<(String, u64, Vec<String>)> {
    assert!(product["gallery"].is_array(), "{product}");
    crate::harness::entry_triples(&product["gallery"])
}

#[tokio::test]
async fn matcher_calls_carry_an_ims_token_and_the_org_id_and_refresh_once_after_a_401() {
    let app = TestApp::spawn_with_sync(INSECURE).await;
    app.emulator
        .register_ims_client("matcher-client", "matcher-secret");
    let matcher = MatcherEmulator::start(
        MatcherSettings {
            bearer_token: Some(app.emulator.ims_token_check()),
            org_id: Some("ORG1@AdobeOrg".into()),
        },
        0,
    )
    .await
    .unwrap();
    let workspace = json!({ "project": {
        "org": { "ims_org_id": "ORG1@AdobeOrg" },
        "workspace": { "details": { "credentials": [{ "oauth_server_to_server": {
            "client_id": "matcher-client", "client_secrets": ["wrong-secret"], "scopes": ["openid", "AdobeID"]
        } }] } }
    } });
    let (status, body) = post(
        &app,
        "/api/v1/config/workspace",
        workspace.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .put_config(
            "",
            json!({
                "matching_rule": "custom_match",
                "asset_to_product_url": matcher.asset_to_product_url(),
                "matcher_token_url": format!("{}/ims/token/v3", app.emulator.url()),
                // New addresses for the secret: it is given again.
                "matcher_client_secret": "wrong-secret",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.put_products(&["AUTH-1"]).await;
    let asset =
        app.approved_asset(json!({ "commerce:skus": ["AUTH-1"], "commerce:roles": ["image"] }));
    // IMS refuses the secret: the asset fails, saying why, and nothing reached the matcher.
    let status = wait_for_status(&app, &asset, |s| s["status"] == "Failed").await;
    assert!(
        status["error"].as_str().unwrap().contains("IMS refused"),
        "{status}"
    );
    assert!(!status.to_string().contains("wrong-secret"));
    assert_eq!(matcher.call_count(ASSET_TO_PRODUCT_PATH), 0);

    let (status, body) = app
        .put_config("", json!({ "matcher_client_secret": "matcher-secret" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.settle().await;
    assert_eq!(app.gallery("AUTH-1").await.len(), 1);
    let mints = app.emulator.ims_mints();

    // A revoked token: the matcher answers 401, one new token is minted, the call succeeds.
    app.emulator.revoke_ims_tokens();
    app.update(&asset, json!({ "commerce:roles": ["image;thumbnail"] }));
    app.settle().await;
    assert_eq!(
        app.gallery("AUTH-1").await[0].2,
        roles(&["image", "thumbnail"])
    );
    assert_eq!(app.emulator.ims_mints(), mints + 1);
}

#[test]
fn the_demo_runs_with_the_sandbox_custom_matcher() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_assetsync"))
        .args([
            "demo",
            "--matching",
            "custom",
            "--products",
            "20",
            "--assets",
            "60",
            "--exit-after-sync",
            "--verify",
            "--timeout-secs",
            "120",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("0 difference(s)"), "{stdout}");
}

/// Whether `needle` occurs in the database's files (the database, its WAL).
fn stored_anywhere(app: &TestApp, needle: &str) -> bool {
    ["assetsync.db", "assetsync.db-wal"].iter().any(|name| {
        std::fs::read(app.dir.path().join(name))
            .unwrap_or_default()
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    })
}

#[tokio::test]
async fn the_matcher_secret_is_encrypted_at_rest_and_still_works_after_a_restart() {
    const SECRET: &str = "matcher-secret-kept-sealed-4711";
    let mut app = TestApp::spawn_with_sync(INSECURE).await;
    app.emulator.register_ims_client("sealed-client", SECRET);
    let matcher = MatcherEmulator::start(
        MatcherSettings {
            bearer_token: Some(app.emulator.ims_token_check()),
            org_id: None,
        },
        0,
    )
    .await
    .unwrap();
    let (status, body) = app
        .put_config(
            "",
            json!({
                "matching_rule": "custom_match",
                "asset_to_product_url": matcher.asset_to_product_url(),
                "matcher_token_url": format!("{}/ims/token/v3", app.emulator.url()),
                "matcher_client_id": "sealed-client",
                "matcher_client_secret": SECRET,
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.put_products(&["SEALED-1"]).await;
    app.approved_asset(json!({ "commerce:skus": ["SEALED-1"] }));
    app.settle().await;
    assert_eq!(app.gallery("SEALED-1").await.len(), 1);
    assert!(
        !stored_anywhere(&app, SECRET),
        "the secret is in the database in plain text"
    );
    let key_file = app.dir.path().join("assetsync.db.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // After a restart the secret is read back: a new token is minted with it and the matcher is called.
    app.crash_and_restart();
    let mints = app.emulator.ims_mints();
    app.approved_asset(json!({ "commerce:skus": ["SEALED-1"] }));
    app.settle().await;
    assert_eq!(app.gallery("SEALED-1").await.len(), 2);
    assert!(
        app.emulator.ims_mints() > mints,
        "a token was minted after the restart"
    );
    assert!(!stored_anywhere(&app, SECRET));
}

/// What the admin health report says is queued or waiting.
fn queued(health: &Value) -> [Value; 4] {
    [
        health["queues"]["asset_work"].clone(),
        health["queues"]["sku_work"].clone(),
        health["assets"]["waiting"].clone(),
        health["assets"]["failed"].clone(),
    ]
}
