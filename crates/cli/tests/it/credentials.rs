//! IMS server-to-server credentials (tokens minted by the emulated IMS, cached, refreshed once for many
//! callers, refreshed once after a refusal) and I/O Events keys fetched from the emulated key host (cached,
//! rotated, kept while the host is down, dropped once gone, never waiting on other paths), and where credentials
//! may go (absurd token lifetimes, next links to another origin, plain-http token URLs).

use crate::harness::{ACCESS_TOKEN, TestApp};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const IMS_CLIENT: &str = "it-ims-client";
const IMS_SECRET: &str = "it-ims-secret-value";

/// The `[aem]` credential lines of an IMS server-to-server client against the emulator.
fn client_credentials(app: &TestApp, secret: &str) -> String {
    format!(
        "client_id = \"{IMS_CLIENT}\"\nclient_secret = \"{secret}\"\nims_org_id = \"IT@AdobeOrg\"\n\
         scopes = [\"openid\", \"AdobeID\"]\nims_token_url = \"{}/ims/token/v3\"",
        app.emulator.url()
    )
}

/// A service reading the DAM with IMS client credentials (the emulator knows the client).
async fn spawn_with_ims(token_lifetime_secs: u64) -> TestApp {
    let mut app = TestApp::spawn().await;
    app.emulator.register_ims_client(IMS_CLIENT, IMS_SECRET);
    app.emulator.set_token_lifetime(token_lifetime_secs);
    let credentials = client_credentials(&app, IMS_SECRET);
    app.restart_with_credentials(&credentials, "", true);
    app
}

async fn wait_for_health(app: &TestApp, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let health = app.health().await;
        if check(&health) {
            return health;
        }
        assert!(Instant::now() < deadline, "health never matched: {health}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the admin health report shows DAM reads paused; returns the report (with the reason).
async fn wait_for_paused_report(app: &TestApp) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, report) = app.admin_get("/api/v1/health/sync").await;
        if report["dam"]["state"] == "paused" {
            return report;
        }
        assert!(
            Instant::now() < deadline,
            "the report never showed the pause: {report}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_expired_token_is_minted_again_once_for_a_burst_of_fifty_events() {
    let app = spawn_with_ims(2).await;
    app.put_products(&["IMS-0"]).await;
    app.approved_asset(json!({ "commerce:skus": ["IMS-0"] }));
    app.settle().await;
    assert_eq!(app.gallery("IMS-0").await.len(), 1);
    assert!(
        app.emulator.ims_mints() >= 1,
        "the first read minted a token"
    );

    // The 2-second token expires; tokens minted from now on live long enough for the burst.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    app.emulator.set_token_lifetime(3600);
    let before = app.emulator.ims_mints();
    let skus: Vec<String> = (0..50).map(|i| format!("IMS-B{i:02}")).collect();
    let sku_refs: Vec<&str> = skus.iter().map(String::as_str).collect();
    app.put_products(&sku_refs).await;
    for sku in &skus {
        app.approved_asset(json!({ "commerce:skus": [sku] }));
    }
    app.settle().await;
    for sku in &skus {
        assert_eq!(app.gallery(sku).await.len(), 1, "{sku} synced");
    }
    assert_eq!(
        app.emulator.ims_mints() - before,
        1,
        "one token for all concurrent reads after the expiry"
    );
    assert_eq!(app.health().await["dam"]["state"], "ready");
}

#[tokio::test]
async fn a_revoked_token_is_refreshed_once_and_a_second_refusal_pauses_without_unlinking() {
    let app = spawn_with_ims(3600).await;
    app.put_products(&["REV-1", "REV-2", "REV-3"]).await;
    let asset = app.approved_asset(json!({ "commerce:skus": ["REV-1"] }));
    app.settle().await;
    let minted = app.emulator.ims_mints();

    // Revoked: AEM answers 401, the token is minted again once, and the read succeeds.
    app.emulator.revoke_ims_tokens();
    app.update(&asset, json!({ "commerce:skus": ["REV-1", "REV-2"] }));
    app.wait_for_gallery("REV-2", |g| g.len() == 1).await;
    app.settle().await;
    assert_eq!(app.emulator.ims_mints(), minted + 1);
    assert_eq!(app.health().await["status"], "ok");

    // AEM refuses the token, and the fresh one too: DAM reads pause with a clear reason; nothing is unlinked.
    app.emulator.fail_metadata_reads(401, 2);
    app.update(
        &asset,
        json!({ "commerce:skus": ["REV-1", "REV-2", "REV-3"] }),
    );
    let health = wait_for_health(&app, |h| h["dam"]["state"] == "paused").await;
    assert_eq!(health["status"], "degraded");
    assert!(
        health["dam"].get("reason").is_none(),
        "the public health shows states only: {health}"
    );
    let sync_health = wait_for_paused_report(&app).await;
    let reason = sync_health["dam"]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!(
            "AEM refused the IMS token for client {IMS_CLIENT} after a refresh"
        )),
        "{reason}"
    );
    assert_eq!(app.gallery("REV-1").await.len(), 1, "nothing unlinked");
    assert_eq!(app.gallery("REV-2").await.len(), 1, "nothing unlinked");

    // The pause probes again and resumes once AEM accepts the token.
    app.wait_for_gallery("REV-3", |g| g.len() == 1).await;
    wait_for_health(&app, |h| h["dam"]["state"] == "ready").await;
}

#[tokio::test]
async fn a_refused_client_secret_is_reported_by_health_and_unlinks_nothing() {
    let mut app = TestApp::spawn().await;
    app.put_products(&["SEC-1", "SEC-2"]).await;
    let asset = app.approved_asset(json!({ "commerce:skus": ["SEC-1"] }));
    app.settle().await;
    app.emulator.register_ims_client(IMS_CLIENT, IMS_SECRET);
    let wrong = client_credentials(&app, "not-the-secret");
    app.restart_with_credentials(&wrong, "", true);

    app.update(&asset, json!({ "commerce:skus": ["SEC-2"] }));
    let health = wait_for_health(&app, |h| h["dam"]["state"] == "paused").await;
    assert!(
        health["dam"].get("reason").is_none(),
        "the public health shows states only: {health}"
    );
    let sync_health = wait_for_paused_report(&app).await;
    let reason = sync_health["dam"]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!(
            "IMS refused the credentials of client {IMS_CLIENT}"
        )) && reason.contains("invalid_client"),
        "{reason}"
    );
    assert!(!sync_health.to_string().contains("not-the-secret"));
    assert_eq!(app.gallery("SEC-1").await.len(), 1, "nothing unlinked");
    let (_, status) = app.asset_status(&asset).await;
    assert!(!status.to_string().contains("not-the-secret"));

    let right = client_credentials(&app, IMS_SECRET);
    app.restart_with_credentials(&right, "", true);
    app.wait_for_gallery("SEC-2", |g| g.len() == 1).await;
    app.wait_for_gallery("SEC-1", |g| g.is_empty()).await;
    assert_eq!(app.health().await["status"], "ok");
}

#[tokio::test]
async fn the_journal_is_read_with_the_minted_token_and_the_client_id_as_api_key() {
    let mut app = TestApp::spawn().await;
    app.emulator.register_ims_client(IMS_CLIENT, IMS_SECRET);
    let credentials = client_credentials(&app, IMS_SECRET);
    let journal = format!("journal_url = \"{}/events/journal\"", app.emulator.url());
    app.restart_with_credentials(&credentials, &journal, true);
    app.put_products(&["JIMS-1"]).await;
    app.emulator.lose_events(true);
    let missed = app.approved_asset(json!({ "commerce:skus": ["JIMS-1"] }));
    app.emulator.lose_events(false);
    app.wait_for_gallery("JIMS-1", |g| g.iter().any(|(id, _, _)| *id == missed))
        .await;
    assert!(app.emulator.ims_mints() >= 1);
}

#[tokio::test]
async fn keys_from_the_key_host_survive_a_rotation_and_an_outage_without_refusing_a_delivery() {
    let mut app = TestApp::spawn().await;
    let static_token = format!("access_token = \"{ACCESS_TOKEN}\"");
    app.restart_with_credentials(&static_token, "key_cache_seconds = 1", false);
    app.put_products(&["KEY-1"]).await;
    app.approved_asset(json!({ "commerce:skus": ["KEY-1"] }));
    app.settle().await;
    assert_eq!(app.gallery("KEY-1").await.len(), 1);
    assert!(
        app.emulator.key_fetches() >= 1,
        "the key came from the key host"
    );

    // Rotation: new key pairs under new paths; the old paths are gone.
    let old_path = app.emulator.keys().paths()[0].to_owned();
    app.emulator.rotate_keys().unwrap();
    let gone = reqwest::get(format!("{}{old_path}", app.emulator.url()))
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    app.approved_asset(json!({ "commerce:skus": ["KEY-1"] }));
    app.settle().await;
    assert_eq!(app.gallery("KEY-1").await.len(), 2);

    // The key host is down and the cached key is past its refresh time: it still verifies.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    app.emulator.set_key_host_down(true);
    app.approved_asset(json!({ "commerce:skus": ["KEY-1"] }));
    app.settle().await;
    assert_eq!(app.gallery("KEY-1").await.len(), 3);
    assert_eq!(
        app.emulator.deliveries().refused,
        0,
        "no delivery was refused"
    );

    // A key path that names another host is refused, never fetched.
    let body = crate::harness::event_body(
        "evt-other-host",
        "aem.assets.asset.metadata_updated",
        "urn:aaid:aem:00000000-0000-4000-8000-000000000001",
        crate::harness::CLIENT_ID,
    );
    let [signature, _] = app.emulator.keys().sign(b"another body").unwrap();
    let (status, reply) = app
        .deliver(
            &body,
            &[
                ("x-adobe-digital-signature-1", signature),
                ("x-adobe-public-key1-path", "@evil.example/key.pem".into()),
            ],
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(reply["code"], "invalid_signature", "{reply}");
}

#[test]
fn serve_without_aem_credentials_is_refused_with_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let example = String::from_utf8(
        std::process::Command::new(env!("CARGO_BIN_EXE_assetsync"))
            .arg("default-config")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let cases = [
        (
            example.replace("access_token = \"ims-access-token\"\n", ""),
            "[aem] needs credentials: either access_token, or client_id and client_secret",
        ),
        (
            example.replace(
                "access_token = \"ims-access-token\"\n",
                "client_id = \"abc\"\n",
            ),
            "aem.client_secret is required with aem.client_id",
        ),
        (
            example.replace(
                "access_token = \"ims-access-token\"\n",
                "client_id = \"abc\"\nclient_secret = \"s3cret-x\"\nims_token_url = \"http://ims.example.com/t\"\n",
            ),
            "aem.ims_token_url must be an https URL",
        ),
        (
            example.replace(
                "recipient_client_id = \"your-client-id\"\n",
                "recipient_client_id = \"your-client-id\"\nkey_cache_seconds = 90000\n",
            ),
            "events.key_cache_seconds must be between 1 and 86400",
        ),
    ];
    for (index, (config, expected)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("case-{index}.toml"));
        std::fs::write(&path, config).unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_assetsync"))
            .args(["serve", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "case {index} was accepted");
        assert!(stderr.contains(expected), "case {index}: {stderr}");
        assert!(!stderr.contains("s3cret-x"), "the secret leaked: {stderr}");
    }
}

#[tokio::test]
async fn thirty_deliveries_naming_unknown_key_paths_do_not_delay_a_genuine_one() {
    let mut app = TestApp::spawn().await;
    let static_token = format!("access_token = \"{ACCESS_TOKEN}\"");
    app.restart_with_credentials(&static_token, "", false);
    app.put_products(&["FLOOD-1"]).await;
    let asset = app.approved_asset(json!({ "commerce:skus": ["FLOOD-1"] }));
    app.settle().await;
    let keys = app.emulator.keys();
    let known = keys.paths()[0].to_owned();
    assert_eq!(app.emulator.key_requests(&known), 1, "key 1 is cached");

    // The key host holds every unknown path: 30 bogus deliveries naming 10 of them wait on it.
    app.emulator.hold_unknown_key_paths(true);
    let [forged, _] = keys.sign(b"another body").unwrap();
    let bogus: Vec<_> = (0..30)
        .map(|i| {
            let url = format!("{}/events/aem", app.url);
            let forged = forged.clone();
            tokio::spawn(async move {
                let body = crate::harness::event_body(
                    &format!("evt-bogus-{i}"),
                    "aem.assets.asset.metadata_updated",
                    "urn:aaid:aem:00000000-0000-4000-8000-000000000001",
                    crate::harness::CLIENT_ID,
                );
                reqwest::Client::new()
                    .post(url)
                    .header("x-adobe-digital-signature-1", forged)
                    .header(
                        "x-adobe-public-key1-path",
                        format!("/prod/keys/unknown-{}.pem", i % 10),
                    )
                    .body(body)
                    .send()
                    .await
                    .map(|reply| reply.status().as_u16())
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.emulator.held_key_requests() < 10 {
        assert!(
            Instant::now() < deadline,
            "the unknown paths were not fetched side by side ({} held)",
            app.emulator.held_key_requests()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A genuine delivery signed with the cached key is answered while they all wait (the key host's
    // time-out is 5 s: waiting behind a single one of them would take longer than this bound).
    let body = crate::harness::event_body(
        "evt-genuine-during-flood",
        "aem.assets.asset.metadata_updated",
        &asset,
        crate::harness::CLIENT_ID,
    );
    let [signature, _] = keys.sign(&body).unwrap();
    let headers = [
        ("x-adobe-digital-signature-1", signature),
        ("x-adobe-public-key1-path", known.clone()),
    ];
    let genuine = app.deliver(&body, &headers);
    let (status, reply) = tokio::time::timeout(Duration::from_millis(4_500), genuine)
        .await
        .expect("the genuine delivery waited for the unknown key paths");
    assert_eq!(status, 200, "{reply}");
    assert!(
        app.emulator.held_key_requests() > 0,
        "the flood was still waiting"
    );

    app.emulator.hold_unknown_key_paths(false);
    for delivery in bogus {
        assert_eq!(delivery.await.unwrap().unwrap(), 401);
    }
    for i in 0..10 {
        assert_eq!(
            app.emulator
                .key_requests(&format!("/prod/keys/unknown-{i}.pem")),
            1,
            "one fetch per unknown path for its three deliveries"
        );
    }
    assert_eq!(app.emulator.key_requests(&known), 1);
}

#[tokio::test]
async fn absurd_token_lifetimes_from_ims_are_clamped_and_reads_go_on() {
    let app = spawn_with_ims(86_400).await;
    app.put_products(&["LIFE-1"]).await;
    let stated = [
        json!(1e30),
        json!(-5),
        json!(u64::MAX),
        json!("1e30"),
        json!(0),
    ];
    for (index, expires_in) in stated.iter().enumerate() {
        // The next read is refused (401) and mints a token whose reply states this lifetime.
        app.emulator
            .state_token_expires_in(Some(expires_in.clone()));
        app.emulator.revoke_ims_tokens();
        let minted = app.emulator.ims_mints();
        app.approved_asset(json!({ "commerce:skus": ["LIFE-1"] }));
        app.wait_for_gallery("LIFE-1", |g| g.len() == index + 1)
            .await;
        assert!(
            app.emulator.ims_mints() > minted,
            "a token was minted with expires_in {expires_in}"
        );
    }
    app.settle().await;
    assert_eq!(app.health().await["dam"]["state"], "ready");
}

#[tokio::test]
async fn a_journal_next_link_to_another_origin_is_not_followed_and_the_position_stays() {
    let mut app = TestApp::spawn_with_journal().await;
    let elsewhere = sandbox::redirect::RedirectTrap::start().await.unwrap();
    app.put_products(&["JNEXT-1"]).await;
    app.emulator
        .set_journal_next_origin(Some(elsewhere.elsewhere()));
    app.emulator.lose_events(true);
    let missed = app.approved_asset(json!({ "commerce:skus": ["JNEXT-1"] }));
    app.emulator.lose_events(false);

    // The service reads the journal's pages (twice at least) and follows none of their links elsewhere.
    let reads = app.emulator.journal_reads();
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.emulator.journal_reads() < reads + 2 {
        assert!(Instant::now() < deadline, "the journal was not read again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        elsewhere.arrivals().is_empty(),
        "the token followed the next link: {:?}",
        elsewhere.arrivals()
    );
    assert!(
        app.gallery("JNEXT-1").await.is_empty(),
        "the page with the foreign link was refused whole"
    );

    // Links on the journal's own origin again: the events are read from the position that did not move.
    app.emulator.set_journal_next_origin(None);
    app.wait_for_gallery("JNEXT-1", |g| g.iter().any(|(id, _, _)| *id == missed))
        .await;
    app.crash_and_restart();
    assert!(elsewhere.arrivals().is_empty());
}

#[test]
fn tokens_over_plain_http_to_another_machine_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let example = String::from_utf8(
        std::process::Command::new(env!("CARGO_BIN_EXE_assetsync"))
            .arg("default-config")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let cases = [
        (
            example.replace(
                "access_token = \"ims-access-token\"\n",
                "access_token = \"ims-access-token\"\nauthor_url = \"http://author.example.com\"\n",
            ),
            "aem.author_url must be an https URL",
        ),
        (
            example.replace(
                "recipient_client_id = \"your-client-id\"\n",
                "recipient_client_id = \"your-client-id\"\njournal_url = \"http://journal.example.com/j\"\n",
            ),
            "events.journal_url must be an https URL",
        ),
        (
            example.replace(
                "kind = \"builtin\"\n",
                "kind = \"adobe-commerce\"\nbase_url = \"http://shop.example.com\"\nauth = \"bearer\"\n\
                 access_token = \"store-token\"\n",
            ),
            "commerce.base_url (with auth = \"bearer\") must be an https URL",
        ),
    ];
    for (index, (config, expected)) in cases.iter().enumerate() {
        assert_ne!(config, &example, "case {index} changed nothing");
        let path = dir.path().join(format!("case-{index}.toml"));
        std::fs::write(&path, config).unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_assetsync"))
            .args(["serve", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "case {index} was accepted");
        assert!(stderr.contains(expected), "case {index}: {stderr}");
    }
}
