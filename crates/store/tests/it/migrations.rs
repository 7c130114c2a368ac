//! Opening a database: migrations (refinery, with checksums) — a changed migration is refused, a database made
//! by the migrator of earlier releases opens with its data —, `open` picks the backend by the URL's scheme
//! without ever showing a password, and two PostgreSQL stores on one database share its work.

use crate::harness::{PostgresHarness, connect, test_database, test_key};
use domain::AssetId;
use store::prelude::*;
use store::{NewEvent, StoreError};

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}/t.db", dir.path().display())
}

/// The SQL of every migration, as the hand-written migrator of earlier releases applied them.
/// A SQLite database at `path` as the hand-written migrator (before refinery) left it after applying
/// `migrations` in order: the schema and its `schema_migrations` table.
pub(crate) fn made_by_the_old_migrator(
    path: &std::path::Path,
    migrations: &[&str],
) -> rusqlite::Connection {
    let connection = rusqlite::Connection::open(path).unwrap();
    connection
        .execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER)",
        )
        .unwrap();
    for (index, sql) in migrations.iter().enumerate() {
        connection.execute_batch(sql).unwrap();
        connection
            .execute(
                "INSERT INTO schema_migrations (version, applied_ms) VALUES (?, 0)",
                [i64::try_from(index).unwrap() + 1],
            )
            .unwrap();
    }
    connection
}

const OLD_MIGRATIONS: [&str; 9] = [
    include_str!("../../migrations/sqlite/V1__foundation.sql"),
    include_str!("../../migrations/sqlite/V2__configuration.sql"),
    include_str!("../../migrations/sqlite/V3__full_sync.sql"),
    include_str!("../../migrations/sqlite/V4__handmade_entries.sql"),
    include_str!("../../migrations/sqlite/V5__dead_letters.sql"),
    include_str!("../../migrations/sqlite/V6__dot_segment_skus.sql"),
    include_str!("../../migrations/sqlite/V7__product_calls.sql"),
    include_str!("../../migrations/sqlite/V8__refused_entries.sql"),
    include_str!("../../migrations/sqlite/V9__indexes_and_counters.sql"),
];

#[tokio::test]
async fn a_changed_sqlite_migration_is_refused() {
    let dir = tempfile::TempDir::new().unwrap();
    drop(store::open(&sqlite_url(&dir)).await.unwrap());
    rusqlite::Connection::open(dir.path().join("t.db"))
        .unwrap()
        .execute(
            "UPDATE refinery_schema_history SET checksum = '1' WHERE version = 3",
            [],
        )
        .unwrap();
    let Err(error) = store::open(&sqlite_url(&dir)).await else {
        panic!("a database whose migration 3 changed opened");
    };
    assert!(matches!(error, StoreError::Migration(_)), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("V3__full_sync") && message.contains("changed"),
        "{message}"
    );
}

#[tokio::test]
async fn a_changed_postgres_migration_is_refused() {
    let database = test_database().await;
    drop(
        store::open_with_secret_key(database.url(), Some(test_key()))
            .await
            .unwrap(),
    );
    connect(database.url())
        .await
        .batch_execute("UPDATE refinery_schema_history SET checksum = '1' WHERE version = 9")
        .await
        .unwrap();
    let Err(error) = store::open_with_secret_key(database.url(), Some(test_key())).await else {
        panic!("a database whose migration 9 changed opened");
    };
    let message = error.to_string();
    assert!(
        matches!(error, StoreError::Migration(_)) && message.contains("V9__indexes_and_counters"),
        "{message}"
    );
}

/// A database the old migrator made (its `schema_migrations` table, every migration applied) opens: its
/// versions are recorded in refinery's history with refinery's checksums, nothing is applied twice, and
/// its data is there.
#[tokio::test]
async fn a_database_of_the_old_migrator_opens_with_its_data() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("t.db");
    let asset = AssetId::parse("urn:aaid:aem:00000000-0000-4000-8000-000000000001").unwrap();
    {
        let connection = made_by_the_old_migrator(&path, &OLD_MIGRATIONS);
        connection
            .execute_batch(
                "INSERT INTO products (sku, created_ms) VALUES ('P-1', 1);
                 INSERT INTO gallery (sku, asset_id, entry) VALUES ('P-1', 'x', '{}');
                 DELETE FROM gallery;
                 INSERT INTO settings (key, value) VALUES ('journal_position', 'pos-7');",
            )
            .unwrap();
    }
    let store = store::open(&sqlite_url(&dir)).await.unwrap();
    assert_eq!(
        store.journal_position().await.unwrap().as_deref(),
        Some("pos-7")
    );
    let galleries = store.all_galleries().await.unwrap();
    assert_eq!(galleries.len(), 1);
    assert_eq!(galleries[0].0.as_str(), "P-1");
    // The triggers of migration 9 still count (it was not applied a second time, and works).
    store
        .record_events(&[NewEvent {
            event_id: "e1".into(),
            event_type: "aem.assets.asset.metadata_updated".into(),
            kind: domain::events::EventKind::AssetChanged,
            asset_id: Some(asset),
            received_ms: 10,
            occurred_ms: None,
        }])
        .await
        .unwrap();
    assert_eq!(store.backlog().await.unwrap().asset_work, 1);
    drop(store);

    let history: Vec<(i64, String, String)> = {
        let connection = rusqlite::Connection::open(&path).unwrap();
        let mut statement = connection
            .prepare("SELECT version, name, checksum FROM refinery_schema_history ORDER BY version")
            .unwrap();
        statement
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let expected: Vec<(i64, String, String)> = store::migrations::sqlite_migrations()
        .unwrap()
        .iter()
        .map(|m| {
            (
                i64::from(m.version()),
                m.name().to_owned(),
                m.checksum().to_string(),
            )
        })
        .collect();
    assert_eq!(history, expected);
    // And it opens again.
    drop(store::open(&sqlite_url(&dir)).await.unwrap());
}

#[tokio::test]
async fn the_scheme_picks_the_backend_and_passwords_never_show() {
    let Err(error) = store::open("mysql://admin:hunter2@127.0.0.1/db").await else {
        panic!("a mysql URL opened");
    };
    let message = error.to_string();
    assert!(matches!(error, StoreError::UnsupportedUrl(_)), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(
        message.contains("sqlite://") && message.contains("postgres://"),
        "{message}"
    );

    // Nothing listens on port 1: the connection fails, and the error does not carry the password.
    for url in [
        "postgres://admin:hunter2@127.0.0.1:1/db",
        "postgresql://admin:hunter2@127.0.0.1:1/db?connect_timeout=2",
    ] {
        let Err(error) = store::open_with_secret_key(url, Some(test_key())).await else {
            panic!("{url} opened");
        };
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    // A PostgreSQL store needs the key given: it has no file beside it to keep one in.
    let database = test_database().await;
    assert!(matches!(
        store::open(database.url()).await,
        Err(StoreError::SecretKeyRequired)
    ));
    let opened = store::open_with_secret_key(database.url(), Some(test_key()))
        .await
        .unwrap();
    assert!(opened.backlog().await.is_ok());
}

/// The matcher secret is stored sealed in PostgreSQL too, and another key cannot open it.
#[tokio::test]
async fn the_matcher_secret_is_sealed_in_postgres() {
    use crate::harness::Harness;
    use domain::config::{IntegrationConfig, UrlPolicy};
    const SECRET: &str = "sealed-secret-value-5521";
    let harness = PostgresHarness::fresh().await;
    let base = IntegrationConfig::defaults("1", "2");
    let (config, changes) = base
        .apply_change(
            &serde_json::json!({ "matcher_client_id": "c", "matcher_client_secret": SECRET }),
            &base,
            UrlPolicy::HttpsOnly,
        )
        .unwrap();
    harness
        .store()
        .save_integration_config(&config, &changes, 1)
        .await
        .unwrap();
    let url = harness.url().to_owned();
    let stored: String = connect(&url)
        .await
        .query_one("SELECT value FROM settings WHERE key = 'integration'", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!stored.contains(SECRET), "{stored}");
    let harness = harness.reopen().await;
    assert_eq!(
        harness.store().integration_config().await.unwrap(),
        Some(config)
    );
    let other =
        store::secrets::SecretKey::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
            .unwrap();
    assert!(matches!(
        store::open_with_secret_key(&url, Some(other)).await,
        Err(StoreError::Secret(_))
    ));
}

/// Two processes on one database (two stores, two pools) claiming at the same time never get the same work:
/// the claims skip the rows the other's transaction holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_postgres_stores_claim_disjoint_work() {
    use std::collections::BTreeSet;
    let database = test_database().await;
    let open = || async {
        store::open_with_secret_key(database.url(), Some(test_key()))
            .await
            .unwrap()
    };
    let (first, second) = (open().await, open().await);
    let events: Vec<NewEvent> = (0..200)
        .map(|n| NewEvent {
            event_id: format!("ev-{n}"),
            event_type: "aem.assets.asset.metadata_updated".into(),
            kind: domain::events::EventKind::AssetChanged,
            asset_id: Some(
                AssetId::parse(&format!("urn:aaid:aem:00000000-0000-4000-8000-{n:012}")).unwrap(),
            ),
            received_ms: 1,
            occurred_ms: None,
        })
        .collect();
    first.record_events(&events).await.unwrap();
    let claim_all = |store: std::sync::Arc<dyn store::Store>| async move {
        let mut claimed = Vec::new();
        loop {
            let batch = store.claim_asset_work(10, 7, 60_000).await.unwrap();
            if batch.is_empty() {
                return claimed;
            }
            claimed.extend(batch.into_iter().map(|work| work.asset_id));
        }
    };
    let (a, b) = tokio::join!(
        tokio::spawn(claim_all(first.clone())),
        tokio::spawn(claim_all(second.clone()))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let all: BTreeSet<_> = a.iter().chain(&b).cloned().collect();
    assert_eq!(a.len() + b.len(), 200, "every item claimed once");
    assert_eq!(all.len(), 200, "no item claimed twice");
}
