//! The admin console's Sync Status, SLA and dead-letter pages in a real browser (see [`crate::browser`])
//! against the real binary: Sync Status filtered to Failed shows only failed assets and a retry fixes one; the
//! SLA page draws its chart; a dead letter is replayed after its confirmation. Every page visited is saved
//! under `target/screenshots/`.

use crate::browser::Session;
use crate::harness::TestApp;
use sandbox::commerce::Fault;
use serde_json::json;
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery";

async fn signed_in(app: &TestApp, name: &str) -> Session {
    let (code, output) = app.add_user("ada", "admin", PASSWORD).await;
    assert_eq!(code, Some(0), "user add: {output}");
    let mut browser = Session::start(name).await;
    browser.goto(&format!("{}/admin/login", app.url)).await;
    browser.fill("#username", "ada").await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser
}

async fn wait_for_status(app: &TestApp, asset: &str, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, reply) = app.asset_status(asset).await;
        if reply["status"] == status {
            return;
        }
        assert!(Instant::now() < deadline, "{asset} never {status}: {reply}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The statuses of the listed rows, top to bottom, and their asset ids.
async fn listed(browser: &Session) -> Vec<(String, String)> {
    let rows = browser
        .script(
            "return Array.from(document.querySelectorAll('#assets tbody tr[data-status]'))
                 .map(r => [r.dataset.status, r.querySelector('td a').getAttribute('href')]);",
        )
        .await;
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_owned(),
                r[1].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn encoded(asset: &str) -> String {
    asset.replace(':', "%3A")
}

#[tokio::test]
async fn sync_status_filtered_to_failed_shows_only_failed_assets_and_a_retry_reads_one_again() {
    let app = TestApp::spawn().await;
    app.put_products(&["SS-1", "SS-2"]).await;
    let good =
        app.approved_asset(json!({ "commerce:skus": ["SS-1"], "commerce:roles": ["image"] }));
    let other = app.approved_asset(json!({ "commerce:skus": ["SS-2"] }));
    // A SKU list that is an object breaks the contract: the asset fails (its reason on its status).
    let bad = app.approved_asset(json!({ "commerce:skus": { "not": "a list" } }));
    wait_for_status(&app, &good, "Success").await;
    wait_for_status(&app, &other, "Success").await;
    wait_for_status(&app, &bad, "Failed").await;

    let mut browser = signed_in(&app, "status-sync-status").await;
    browser
        .goto(&format!("{}/admin/sync-status", app.url))
        .await;
    assert_eq!(browser.text("h1").await, "Sync Status");
    assert!(
        browser.text("#health").await.contains("1 failed"),
        "{}",
        browser.text("#health").await
    );
    assert_eq!(listed(&browser).await.len(), 3);

    // The filter form is a GET: choosing Failed gives a URL that can be linked.
    browser
        .script("document.querySelector('#status').value = 'Failed';")
        .await;
    browser.click("#filter").await;
    let url = browser.url().await;
    assert!(url.contains("status=Failed"), "{url}");
    let rows = listed(&browser).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, "Failed");
    assert!(rows[0].1.contains(&encoded(&bad)), "{rows:?}");
    assert!(
        browser.text("#assets").await.contains("SKU"),
        "the reason is shown"
    );
    // The same view, linked.
    browser.goto(&url).await;
    assert_eq!(listed(&browser).await.len(), 1);
    browser
        .goto(&format!(
            "{}/admin/sync-status?status=Success&sku=SS-2",
            app.url
        ))
        .await;
    let rows = listed(&browser).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].1.contains(&encoded(&other)));

    // History and preview of the failed asset.
    browser
        .goto(&format!(
            "{}/admin/sync-status/history?asset_id={}",
            app.url,
            encoded(&bad)
        ))
        .await;
    assert!(browser.exists("#history").await);
    browser
        .goto(&format!(
            "{}/admin/sync-status/preview?asset_id={}",
            app.url,
            encoded(&bad)
        ))
        .await;
    assert!(browser.text("h1").await.starts_with("Match preview"));

    // Fixed in the DAM (no event), then retried from the page: read again, it succeeds.
    app.emulator.lose_events(true);
    app.update(&bad, json!({ "commerce:skus": ["SS-1"] }));
    app.emulator.lose_events(false);
    browser
        .goto(&format!("{}/admin/sync-status?status=Failed", app.url))
        .await;
    browser
        .click("#assets tbody tr[data-status=Failed] button")
        .await;
    assert!(
        browser.url().await.contains("retried="),
        "{}",
        browser.url().await
    );
    assert!(
        browser
            .text("main")
            .await
            .contains("will be read from the DAM again")
    );
    wait_for_status(&app, &bad, "Success").await;
    browser
        .goto(&format!("{}/admin/sync-status?status=Failed", app.url))
        .await;
    assert!(listed(&browser).await.is_empty());
    assert!(browser.text("#assets").await.contains("No asset matches."));
}

#[tokio::test]
async fn the_sla_page_draws_its_chart_on_the_server() {
    let app = TestApp::spawn().await;
    app.put_products(&["SLA-1"]).await;
    let asset = app.approved_asset(json!({ "commerce:skus": ["SLA-1"] }));
    wait_for_status(&app, &asset, "Success").await;
    let mut browser = signed_in(&app, "status-sla").await;
    browser.goto(&format!("{}/admin/sla", app.url)).await;
    assert_eq!(browser.text("h1").await, "SLA");
    assert!(
        browser.exists("svg#sla-chart").await,
        "the chart is in the page"
    );
    // Drawn on the server: the SVG is in the HTML as sent, with its axis labels and one line per percentile.
    let html = app
        .http
        .get(format!("{}/admin/sla", app.url))
        .header("cookie", browser_cookie(&browser).await)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("<svg id=\"sla-chart\""),
        "not in the HTML as sent"
    );
    for label in [
        "1 ms",
        "5 min",
        "promise: 99 % within 5 min",
        "p50",
        "p99",
        "p99.9",
    ] {
        assert!(html.contains(label), "no {label:?} in the chart");
    }
    assert!(!html.contains("<script"), "no script needed to read it");
    let shares = browser.text("#shares").await;
    assert!(shares.contains("Last hour"), "{shares}");
    assert!(shares.contains("100.00 %"), "{shares}");
    let drawn = browser
        .script("return document.querySelectorAll('#sla-chart .series circle, #sla-chart .series polyline').length;")
        .await;
    assert!(
        drawn.as_u64().unwrap() >= 3,
        "one mark per percentile: {drawn}"
    );
    browser
        .goto(&format!("{}/admin/sla?span=day", app.url))
        .await;
    assert!(browser.exists("svg#sla-chart").await);
}

/// The browser's cookies as a `Cookie` header, to read a page as the server sends it.
async fn browser_cookie(browser: &Session) -> String {
    browser.cookie_header().await
}

#[tokio::test]
async fn a_dead_letter_is_replayed_after_its_confirmation() {
    let app = TestApp::spawn_magento_with_sync("max_attempts = 2").await;
    app.store().create_product("DL-1");
    app.store().inject(Fault::Status {
        status: 500,
        retry_after_secs: None,
        count: 2,
    });
    let asset = app.approved_asset(json!({ "commerce:skus": ["DL-1"] }));
    let deadline = Instant::now() + Duration::from_secs(120);
    while app.sync_health().await["dead_letters"] != 1 {
        assert!(Instant::now() < deadline, "never dead-lettered");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut browser = signed_in(&app, "status-dead-letters").await;
    browser
        .goto(&format!("{}/admin/dead-letters", app.url))
        .await;
    let table = browser.text("#dead-letters").await;
    assert!(table.contains("dl-1"), "{table}");
    assert!(table.contains("500"), "the error history: {table}");

    // The replay link leads to a confirmation; nothing is replayed before it is confirmed.
    browser
        .click("#dead-letters tbody tr a[href$='/replay']")
        .await;
    assert_eq!(browser.text("h1").await, "Replay?");
    assert_eq!(app.sync_health().await["dead_letters"], 1);
    browser.click("#confirm").await;
    assert!(
        browser
            .url()
            .await
            .contains("/admin/dead-letters?replayed=1"),
        "{}",
        browser.url().await
    );
    assert!(
        browser
            .text("main")
            .await
            .contains("1 dead letter queued again")
    );
    wait_for_status(&app, &asset, "Success").await;
    assert_eq!(app.store().entries("DL-1").unwrap().len(), 1);
    browser
        .goto(&format!("{}/admin/dead-letters", app.url))
        .await;
    assert!(browser.exists("#no-dead-letters").await);
}
