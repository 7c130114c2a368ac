//! The full sync: catching up on events that never came, progress, the CLI, and a crash in the middle.

use crate::harness::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Creates `count` approved assets on `products` SKUs while the DAM's events are lost; returns SKU → assets.
async fn assets_the_service_never_heard_of(
    app: &TestApp,
    count: usize,
    products: usize,
) -> BTreeMap<String, Vec<String>> {
    let skus: Vec<String> = (0..products).map(|i| format!("FS-{i:03}")).collect();
    for sku in &skus {
        app.put_product(sku).await;
    }
    app.emulator.lose_events(true);
    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in 0..count {
        let sku = &skus[i % products];
        let id = app.approved_asset(json!({ "commerce:skus": [sku] }));
        expected.entry(sku.clone()).or_default().push(id);
    }
    app.emulator.lose_events(false);
    expected
}

/// The read API serves the expected galleries. The cache follows each commit a moment after it (the health
/// report can show nothing queued before the last gallery reached the cache), so each is given a few seconds.
async fn assert_galleries(app: &TestApp, expected: &BTreeMap<String, Vec<String>>) {
    for (sku, want) in expected {
        let mut want = want.clone();
        want.sort();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut got: Vec<String> = app
                .gallery(sku)
                .await
                .into_iter()
                .map(|(id, _, _)| id)
                .collect();
            got.sort();
            if got == want {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "gallery of {sku}: {got:?} != {want:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

async fn sync_status(app: &TestApp, id: i64) -> Value {
    app.admin_get(&format!("/api/v1/sync/{id}")).await.1
}

async fn wait_until_done(app: &TestApp, id: i64) -> Value {
    app.wait_for_full_sync(id).await
}

#[tokio::test]
async fn the_cli_runs_a_full_sync_that_catches_up_on_lost_events() {
    let app = TestApp::spawn().await;
    let expected = assets_the_service_never_heard_of(&app, 30, 10).await;
    app.settle().await;
    assert!(
        app.gallery("FS-000").await.is_empty(),
        "the events were lost"
    );

    // The service's own file, with the port it actually listens on.
    let config = std::fs::read_to_string(app.dir.path().join("assetsync.toml")).unwrap();
    let address = app.url.trim_start_matches("http://");
    let cli_config = app.dir.path().join("cli.toml");
    std::fs::write(&cli_config, config.replace("127.0.0.1:0", address)).unwrap();
    // Off the test's own thread: the emulator runs on this runtime and must keep answering meanwhile.
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_assetsync"))
            .args(["sync", "--full", "--config"])
            .arg(&cli_config)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("done in"), "{stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("full sync 1: ") && !stderr.contains('\r'),
        "without a terminal, a line per phase and no bar: {stderr:?}"
    );
    assert_galleries(&app, &expected).await;
    let status = sync_status(&app, 1).await;
    assert_eq!(
        (status["state"].as_str(), status["phase"].as_str()),
        (Some("done"), Some("done"))
    );
    assert_eq!(status["done"], 30);
    assert_eq!(status["total"], 30);

    let (status, body) = app.admin_get("/api/v1/sync/999").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("sync_not_found"))
    );
}

#[tokio::test]
async fn at_most_one_full_sync_waits_behind_the_running_one() {
    let app = TestApp::spawn().await;
    assets_the_service_never_heard_of(&app, 600, 30).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let reply = app
            .http
            .post(format!("{}/api/v1/sync", app.url))
            .bearer_auth(crate::harness::ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::ACCEPTED);
        ids.push(reply.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
    }
    let mut distinct = ids.clone();
    distinct.dedup();
    assert!(
        distinct.len() <= 2,
        "one running and at most one waiting: {ids:?}"
    );
    assert!(ids.windows(2).all(|w| w[1] >= w[0]), "{ids:?}");
    for id in distinct {
        assert_eq!(wait_until_done(&app, id).await["state"], "done");
    }
}

#[tokio::test]
async fn a_crash_in_the_middle_of_a_full_sync_resumes_from_its_checkpoint() {
    let mut app = TestApp::spawn().await;
    let expected = assets_the_service_never_heard_of(&app, 1_500, 50).await;
    let reply = app
        .http
        .post(format!("{}/api/v1/sync", app.url))
        .bearer_auth(crate::harness::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let id = reply.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = sync_status(&app, id).await;
        if status["done"].as_i64().unwrap() > 0 {
            assert_eq!(
                status["state"], "running",
                "the sync ended before the crash; the test needs more assets"
            );
            assert!(
                status["done"].as_i64() < status["total"].as_i64(),
                "{status}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "the sync never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    app.crash_and_restart();
    let status = wait_until_done(&app, id).await;
    assert_eq!(
        status["done"], 1_500,
        "every asset counted once across the crash: {status}"
    );
    app.settle().await;
    assert_galleries(&app, &expected).await;
}

#[tokio::test]
async fn sync_full_exits_with_a_sentence_when_the_service_answers_an_error() {
    // Sync off: the full sync's gallery work is never applied, so it stays running while the CLI polls.
    let mut app = TestApp::spawn_with(crate::harness::KeyForm::SpkiSecondKey, false).await;
    app.put_product("FS-ERR").await;
    app.approved_asset(json!({ "commerce:skus": ["FS-ERR"] }));
    let config = std::fs::read_to_string(app.dir.path().join("assetsync.toml")).unwrap();
    let address = app.url.trim_start_matches("http://");
    let cli_config = app.dir.path().join("cli.toml");
    std::fs::write(&cli_config, config.replace("127.0.0.1:0", address)).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_assetsync"))
        .args(["sync", "--full", "--config"])
        .arg(&cli_config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let first = tokio::task::spawn_blocking(move || {
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = String::new();
        std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
        // Keep reading, so that the progress line never meets a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        line
    })
    .await
    .unwrap();
    assert!(first.contains("full sync 1 started"), "{first}");

    // The service comes back without its database: full sync 1 is unknown to it (404).
    app.lose_the_database();
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sync --full kept polling a service that answers 404");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "sync --full must fail: {stderr}");
    assert!(
        stderr.contains("404") && stderr.contains("sync_not_found"),
        "the sentence names the answer: {stderr}"
    );
}
