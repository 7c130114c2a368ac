//! The admin console's configuration page in a real browser: a save with a field error (shown beside the
//! field, nothing saved), then a good save whose full sync's progress reaches 100 %.

use crate::admin::{ADMIN_PASSWORD, app_with_users, sign_in};
use crate::browser::Session;
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_field_error_saves_nothing_and_a_good_save_shows_its_full_sync_to_the_end() {
    let app = app_with_users().await;
    for i in 0..12 {
        let sku = format!("CFG-{:02}", i % 4);
        app.put_product(&sku).await;
        app.approved_asset(json!({ "commerce:skus": [sku] }));
    }
    app.settle().await;
    let (_, before) = app.admin_get("/api/v1/config").await;

    let mut browser = Session::start("admin-config").await;
    sign_in(&mut browser, &app, "ada", ADMIN_PASSWORD).await;
    assert!(browser.text("#scope-notice").await.contains("global scope"));

    // A field error: shown beside its field, the typed values kept, nothing saved.
    browser
        .script("document.querySelector('input[name=use_system][value=sku_attribute]').click();")
        .await;
    browser.fill("#sku_attribute", "product skus!").await;
    browser
        .fill(
            "#author_url",
            "https://author-p4242-e9191.adobeaemcloud.com/",
        )
        .await;
    browser.click("#save").await;
    assert!(
        browser
            .text("#form-errors")
            .await
            .contains("Nothing was saved")
    );
    let error = browser.text("#error-sku_attribute").await;
    assert!(!error.is_empty(), "the error is beside its field");
    assert_eq!(
        browser
            .script("return document.querySelector('#sku_attribute').value")
            .await,
        json!("product skus!")
    );
    let (status, after) = app.admin_get("/api/v1/config").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after, before, "nothing was saved");
    let (_, history) = app.admin_get("/api/v1/config/history").await;
    assert_eq!(history["changes"], json!([]));

    // A good save: the author URL fills program and environment, the new SKU attribute starts a full sync.
    browser.fill("#sku_attribute", "commerce:skus").await;
    browser.fill("#author_url", "").await;
    browser
        .fill(
            "#author_url",
            "https://author-p4242-e9191.adobeaemcloud.com/",
        )
        .await;
    assert_eq!(
        browser
            .script("return document.querySelector('#program_id').value")
            .await,
        json!("4242"),
        "the shortcut fills the program id as it is typed"
    );
    browser.click("#save").await;
    assert!(browser.exists("#saved").await, "{}", browser.url().await);
    assert!(
        browser.url().await.contains("full_sync="),
        "{}",
        browser.url().await
    );
    let (_, saved) = app.admin_get("/api/v1/config").await;
    assert_eq!(saved["program_id"], json!("4242"));
    assert_eq!(saved["environment_id"], json!("9191"));

    // The progress bar follows the full sync (polled by the page's script) until it reaches 100 %.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = browser
            .script("return document.querySelector('#full-sync').dataset.state")
            .await;
        if state == json!("done") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the full sync did not end: {state}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        browser
            .script("return document.querySelector('#full-sync-bar').value")
            .await,
        json!(100)
    );
    assert!(browser.text("#full-sync-text").await.contains("100 %"));
    assert!(browser.text("#history").await.contains("program_id"));
    browser.screenshot("admin-config-page").await;
}

/// The matcher's secret never reaches the page; a save that does not retype it keeps it; a `workspace.json`
/// uploaded from the page fills the matcher's credentials (and a file without them is refused, nothing saved).
#[tokio::test]
async fn the_secret_is_masked_and_kept_and_a_workspace_file_fills_the_matcher() {
    const SECRET: &str = "first-secret-value-7731";
    let app = app_with_users().await;
    let (status, body) = app
        .put_config(
            "",
            json!({
                "matching_rule": "custom_match",
                "asset_to_product_url": "https://127.0.0.1:9/a2p",
                "matcher_client_id": "matcher-client",
                "matcher_client_secret": SECRET,
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mut browser = Session::start("admin-config-secret").await;
    sign_in(&mut browser, &app, "ada", ADMIN_PASSWORD).await;
    let html = browser
        .script("return document.documentElement.outerHTML")
        .await;
    assert!(
        !html.as_str().unwrap().contains(SECRET),
        "the secret is never sent to the page"
    );
    assert_eq!(
        browser
            .script("return document.querySelector('#matcher_client_secret').placeholder")
            .await,
        json!("•••••••• (stored; type to replace)")
    );

    // A save that leaves the secret empty keeps it.
    browser
        .script(
            "document.querySelector('input[name=use_system][value=visualization_owner]').click();
             document.querySelector('#visualization_owner').value = 'commerce';",
        )
        .await;
    browser.click("#save").await;
    assert!(browser.exists("#saved").await);
    let (_, config) = app.admin_get("/api/v1/config").await;
    assert_eq!(config["visualization_owner"], json!("commerce"));
    assert_eq!(config["matcher_client_secret_set"], json!(true), "{config}");
    let (_, history) = app.admin_get("/api/v1/config/history").await;
    assert_eq!(
        history["changes"][0]["fields"],
        json!([{ "field": "visualization_owner", "old": "aem_assets", "new": "commerce" }]),
        "only the owner changed: {history}"
    );

    // workspace.json: one without credentials is refused; a good one fills the matcher.
    let bad = app.dir.path().join("bad-workspace.json");
    std::fs::write(&bad, r#"{"project":{"org":{"ims_org_id":"ORG@AdobeOrg"}}}"#).unwrap();
    browser.fill("#workspace_file", bad.to_str().unwrap()).await;
    browser.click("#upload-workspace").await;
    assert!(
        browser
            .text("#workspace-error")
            .await
            .contains("Nothing was saved")
    );
    let (_, unchanged) = app.admin_get("/api/v1/config").await;
    assert_eq!(unchanged["matcher_client_id"], json!("matcher-client"));

    let good = app.dir.path().join("workspace.json");
    let workspace = json!({"project": {
        "org": {"ims_org_id": "ORG123@AdobeOrg"},
        "workspace": {"details": {"credentials": [{"oauth_server_to_server": {
            "client_id": "workspace-client", "client_secrets": ["workspace-secret-1"],
            "scopes": ["openid", "AdobeID"]
        }}]}}
    }});
    std::fs::write(&good, workspace.to_string()).unwrap();
    browser.goto(&format!("{}/admin/config", app.url)).await;
    browser
        .fill("#workspace_file", good.to_str().unwrap())
        .await;
    browser.click("#upload-workspace").await;
    assert!(browser.exists("#saved").await, "{}", browser.url().await);
    let (_, config) = app.admin_get("/api/v1/config").await;
    assert_eq!(config["matcher_client_id"], json!("workspace-client"));
    assert_eq!(config["matcher_ims_org_id"], json!("ORG123@AdobeOrg"));
    assert_eq!(config["matcher_scopes"], json!(["openid", "AdobeID"]));
}
