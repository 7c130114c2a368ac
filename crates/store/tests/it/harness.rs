//! One harness per backend: how to get a fresh, empty store, and how to reopen the same database.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
#[allow(unused_imports)]
use store::prelude::*;
use store::secrets::SecretKey;
use store::{PostgresStore, SqliteStore, Store};
use tempfile::TempDir;

/// A fresh database of one backend, owned for the length of one test.
pub(crate) trait Harness: Sized + Send {
    type Store: Store;

    /// An empty, migrated store on a database nobody else uses.
    fn fresh() -> impl Future<Output = Self> + Send;

    fn store(&self) -> &Self::Store;

    /// Drops the store (as a process exit would) and opens the same database again.
    fn reopen(self) -> impl Future<Output = Self> + Send;
}

/// SQLite on a real file in a temporary directory.
pub(crate) struct SqliteHarness {
    store: SqliteStore,
    // Declared last so the store's connections close before the directory is removed.
    dir: TempDir,
}

fn sqlite_url(dir: &TempDir) -> String {
    format!("sqlite://{}/t.db", dir.path().display())
}

impl Harness for SqliteHarness {
    type Store = SqliteStore;

    async fn fresh() -> Self {
        let dir = TempDir::new().expect("temporary directory");
        let store = SqliteStore::open(&sqlite_url(&dir))
            .await
            .expect("open a new SQLite store");
        Self { store, dir }
    }

    fn store(&self) -> &SqliteStore {
        &self.store
    }

    async fn reopen(self) -> Self {
        let Self { store, dir } = self;
        drop(store);
        let store = SqliteStore::open(&sqlite_url(&dir))
            .await
            .expect("reopen the SQLite store");
        Self { store, dir }
    }
}

/// The PostgreSQL server the tests use (a database that exists; each test makes a schema of its own in it).
pub(crate) const POSTGRES_ENV: &str = "ASSETSYNC_TEST_POSTGRES";
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";
/// The key the test stores seal secrets with (a PostgreSQL store needs one given).
const TEST_KEY: &str = "dGVzdC1rZXktb2YtdGhlLXBvc3RncmVzLWhhcm5lc3M=";

pub(crate) fn postgres_server() -> String {
    std::env::var(POSTGRES_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned())
}

pub(crate) fn test_key() -> SecretKey {
    SecretKey::from_base64(TEST_KEY).expect("the test key is 32 bytes in base64")
}

/// A connection to the test server, or a failure that says how to point the tests at one.
pub(crate) async fn postgres_admin() -> tokio_postgres::Client {
    let server = postgres_server();
    let (client, connection) = match tokio_postgres::connect(&server, tokio_postgres::NoTls).await {
        Ok(connected) => connected,
        Err(error) => panic!(
            "cannot reach the test PostgreSQL server at {} ({error}): start one there, or set {POSTGRES_ENV} \
             to the URL of a database the tests may create schemas in",
            store::redact_url(&server)
        ),
    };
    tokio::spawn(connection);
    client
}

/// A schema of its own on the test server, dropped (with everything in it) when the test ends.
pub(crate) struct Schema {
    pub(crate) name: String,
}

impl Schema {
    pub(crate) async fn create() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let name = format!(
            "it_{}_{}_{}",
            std::process::id(),
            nanos % 1_000_000_000_000,
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        postgres_admin()
            .await
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .expect("create the test schema");
        Self { name }
    }

    /// The store's URL: the test server, with the schema as the connections' search path (and as their
    /// application name, so that the schema's connections can be told apart).
    pub(crate) fn url(&self) -> String {
        let server = postgres_server();
        let separator = if server.contains('?') { '&' } else { '?' };
        format!(
            "{server}{separator}options=-c%20search_path%3D{name}&application_name={name}",
            name = self.name
        )
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        // The test's runtime is blocked while this runs, so its connections cannot finish what they were
        // doing (a rollback queued by a dropped transaction): end them first, then drop the schema.
        let sql = format!(
            "SET lock_timeout = '20s';
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE application_name = '{name}' AND pid <> pg_backend_pid();
             DROP SCHEMA IF EXISTS {name} CASCADE",
            name = self.name
        );
        // The test's runtime may be the one dropping this: drop the schema from a thread of its own.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|runtime| {
                    runtime.block_on(async {
                        let _ = postgres_admin().await.batch_execute(&sql).await;
                    })
                })
        })
        .join();
        if dropped.is_err() {
            eprintln!("could not drop the test schema {}", self.name);
        }
    }
}

/// PostgreSQL, in a schema of its own on the test server ([`POSTGRES_ENV`]).
pub(crate) struct PostgresHarness {
    store: PostgresStore,
    // Declared last so the store's connections close before the schema is dropped.
    schema: Schema,
}

impl Harness for PostgresHarness {
    type Store = PostgresStore;

    async fn fresh() -> Self {
        let schema = Schema::create().await;
        let store = PostgresStore::open_with_key(&schema.url(), Some(test_key()))
            .await
            .expect("open a new PostgreSQL store");
        Self { store, schema }
    }

    fn store(&self) -> &PostgresStore {
        &self.store
    }

    async fn reopen(self) -> Self {
        let Self { store, schema } = self;
        drop(store);
        let store = PostgresStore::open_with_key(&schema.url(), Some(test_key()))
            .await
            .expect("reopen the PostgreSQL store");
        Self { store, schema }
    }
}

impl PostgresHarness {
    pub(crate) fn schema_url(&self) -> String {
        self.schema.url()
    }

    pub(crate) fn schema_name(&self) -> &str {
        &self.schema.name
    }
}
