//! `GET /healthz`: answered from memory (the sink's and the DAM's states, events since start, work in flight),
//! never from the database: it answers at once while the store's writer is held.

use crate::harness::{CLIENT_ID, TestApp, event_body};
use reqwest::StatusCode;
use rustix::fs::{FlockOperation, fcntl_lock};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const ASSET: &str = "urn:aaid:aem:0b9e7c1e-1111-4a2b-8c3d-0000000000aa";

#[tokio::test]
async fn healthz_reports_states_and_counters_kept_in_memory() {
    let app = TestApp::spawn().await;
    app.put_products(&["HZ-1"]).await;
    app.approved_asset(json!({ "commerce:skus": ["HZ-1"] }));
    app.settle().await;
    let health = app.health().await;
    let keys: BTreeSet<&str> = health
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["dam", "events_since_start", "in_flight", "sink", "status"]),
        "no queue depth (those need the database: GET /api/v1/health/sync): {health}"
    );
    assert_eq!(health["status"], "ok");
    assert!(
        health["events_since_start"]["stored"].as_u64().unwrap() >= 1,
        "{health}"
    );
    assert_eq!(health["events_since_start"]["refused"], 0, "{health}");
    assert_eq!(health["in_flight"], json!({ "assets": 0, "skus": 0 }));
    // The queue depths moved to the admin report.
    let detailed = app.sync_health().await;
    assert_eq!(detailed["queues"]["asset_work"], 0, "{detailed}");
    assert!(detailed["events"]["stored"].as_i64().unwrap() >= 1);
}

#[tokio::test]
async fn healthz_answers_while_the_store_writer_is_held() {
    let app = TestApp::spawn().await;
    app.put_products(&["HZ-2"]).await;
    // SQLite's locks are fcntl byte-range locks on the WAL index (`-shm`): a shared lock over all of it keeps
    // any connection from taking the write lock until it is released (writers wait, up to the busy timeout).
    let index = std::fs::File::open(app.dir.path().join("assetsync.db-shm")).unwrap();
    // (The service's own transactions hold parts of it exclusively for a moment: try until one ends.)
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(error) = fcntl_lock(&index, FlockOperation::NonBlockingLockShared) {
        assert!(
            Instant::now() < deadline,
            "could not lock the WAL index: {error}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let body = event_body(
        "evt-while-held",
        "aem.assets.asset.metadata_updated",
        ASSET,
        CLIENT_ID,
    );
    let delivery = app.deliver_signed(&body);
    tokio::pin!(delivery);
    let probes = async {
        // Let the delivery reach the store's writer, then ask for health a few times.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut answers: Vec<(Duration, Value)> = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            let health = app.health().await;
            answers.push((started.elapsed(), health));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        answers
    };
    let answers = tokio::select! {
        (status, reply) = &mut delivery => panic!(
            "the delivery was answered ({status} {reply}) while the write lock was held: the test holds nothing"
        ),
        answers = probes => answers,
    };
    for (took, health) in &answers {
        assert_eq!(health["status"], "ok", "{health}");
        assert!(
            *took < Duration::from_millis(500),
            "/healthz took {took:?} while the writer was held"
        );
    }
    fcntl_lock(&index, FlockOperation::NonBlockingUnlock).unwrap();
    let (status, reply) = delivery.await;
    assert_eq!(
        status,
        StatusCode::OK,
        "stored once the lock is released: {reply}"
    );
    assert_eq!(app.health().await["events_since_start"]["stored"], 1);
}

/// `assetsync healthcheck` (a container's HEALTHCHECK): exit 0 on the live `/healthz`, 1 on any other answer or
/// none.
#[tokio::test]
async fn the_healthcheck_command_exits_0_only_on_a_2xx_answer() {
    let app = TestApp::spawn().await;
    let check = |url: String| async move {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_assetsync"));
        command.args(["healthcheck", "--timeout-seconds", "2", "--url", &url]);
        tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap()
    };
    let ok = check(format!("{}/healthz", app.url)).await;
    assert!(ok.status.success(), "{ok:?}");
    let missing = check(format!("{}/no-such-route", app.url)).await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("404"),
        "{missing:?}"
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let refused = check(format!("http://127.0.0.1:{port}/healthz")).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("did not answer"));
}
