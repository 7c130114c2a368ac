//! A fresh PostgreSQL database for a test that runs real `assetsync serve` processes on one: created on the
//! test server (`ASSETSYNC_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432`, the store tests'
//! server), dropped when the value is dropped (also when the test fails), and the databases a killed run
//! left (older than an hour) dropped first. The SQL lives in `store::scratch` (only `store` speaks SQL).

use std::time::Duration;
use store::scratch::{self, ScratchDatabase};

/// The test server's URL variable (shared with the store's tests).
pub const POSTGRES_ENV: &str = "ASSETSYNC_TEST_POSTGRES";
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";
/// The names of the tests' databases begin with this and the Unix time of their creation.
const DATABASE_PREFIX: &str = "assetsync_t_";
const LEFTOVER_AGE: Duration = Duration::from_secs(3600);
/// A key for `ASSETSYNC_SECRET_KEY` (a PostgreSQL store needs one given): 32 bytes in base64.
pub const TEST_SECRET_KEY: &str = "dGVzdC1rZXktb2YtdGhlLXBvc3RncmVzLWhhcm5lc3M=";

/// The test server's URL (no database).
pub fn postgres_server() -> String {
    std::env::var(POSTGRES_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned())
}

/// A fresh database on the test server: `database.url()` is the `postgres://…/<name>` for `database_url`.
pub async fn postgres_database() -> ScratchDatabase {
    let server = postgres_server();
    let unreachable = |error: store::StoreError| -> ! {
        panic!(
            "cannot create a database on the test PostgreSQL server at {} ({error}): start one there, or set \
             {POSTGRES_ENV} to the URL of a server where the tests may create databases",
            store::redact_url(&server)
        )
    };
    if let Err(error) = scratch::sweep(&server, DATABASE_PREFIX, LEFTOVER_AGE).await {
        unreachable(error);
    }
    ScratchDatabase::create(&server, DATABASE_PREFIX)
        .await
        .unwrap_or_else(|error| unreachable(error))
}

#[tokio::test]
async fn a_fresh_postgres_database_is_dropped_after() {
    let database = postgres_database().await;
    let url = database.url().to_owned();
    assert!(
        url.starts_with("postgres") && url.contains("/assetsync_t_"),
        "{url}"
    );
    let opened = store::open_with_secret_key(&url, Some(secret_key()))
        .await
        .unwrap();
    drop(opened);
    // Dropped even while a store holds connections to it.
    let held = store::open_with_secret_key(&url, Some(secret_key()))
        .await
        .unwrap();
    drop(database);
    drop(held);
    assert!(
        store::open_with_secret_key(&url, Some(secret_key()))
            .await
            .is_err(),
        "the database is gone"
    );
}

fn secret_key() -> store::secrets::SecretKey {
    store::secrets::SecretKey::from_base64(TEST_SECRET_KEY).unwrap()
}
