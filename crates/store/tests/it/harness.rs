//! One harness per backend: how to get a fresh, empty store, and how to reopen the same database.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
#[allow(unused_imports)]
use store::prelude::*;
use store::scratch::{self, ScratchDatabase};
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

    /// Another empty, migrated store beside this one (PostgreSQL: a new schema of the same database, cheaper
    /// than a database for a test that needs dozens of stores).
    fn sibling(&self) -> impl Future<Output = Self> + Send {
        Self::fresh()
    }
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

/// The PostgreSQL server the tests use: each test makes a database of its own on it.
pub(crate) const POSTGRES_ENV: &str = "ASSETSYNC_TEST_POSTGRES";
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";
/// The names of the tests' databases begin with this (and the Unix time of their creation).
const DATABASE_PREFIX: &str = "assetsync_t_";
/// A test database older than this was left by a run that was killed: the next test drops it.
const LEFTOVER_AGE: Duration = Duration::from_secs(3600);
/// The key the test stores seal secrets with (a PostgreSQL store needs one given).
const TEST_KEY: &str = "dGVzdC1rZXktb2YtdGhlLXBvc3RncmVzLWhhcm5lc3M=";

pub(crate) fn postgres_server() -> String {
    std::env::var(POSTGRES_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned())
}

pub(crate) fn test_key() -> SecretKey {
    SecretKey::from_base64(TEST_KEY).expect("the test key is 32 bytes in base64")
}

/// A fresh, empty database on the test server, dropped (`WITH (FORCE)`) when the value is dropped, also
/// when the test fails; creating one first drops the test databases a killed run left (older than an hour).
/// Without a server, a failure that says how to point the tests at one.
pub(crate) async fn test_database() -> ScratchDatabase {
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

/// A plain connection to `url` (a test's database), for statements the store does not offer.
pub(crate) async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(connection);
    client
}

/// PostgreSQL, in a database of its own on the test server ([`POSTGRES_ENV`]), or in a schema of its own
/// in a database the caller holds ([`PostgresHarness::in_database`]).
pub(crate) struct PostgresHarness {
    store: PostgresStore,
    url: String,
    // Declared last so the store's connections close before the database is dropped.
    database: Arc<ScratchDatabase>,
}

impl Harness for PostgresHarness {
    type Store = PostgresStore;

    async fn fresh() -> Self {
        let database = Arc::new(test_database().await);
        let url = database.url().to_owned();
        Self::open(url, database).await
    }

    fn store(&self) -> &PostgresStore {
        &self.store
    }

    async fn reopen(self) -> Self {
        let Self {
            store,
            url,
            database,
        } = self;
        drop(store);
        Self::open(url, database).await
    }

    async fn sibling(&self) -> Self {
        Self::in_database(&self.database).await
    }
}

impl PostgresHarness {
    async fn open(url: String, database: Arc<ScratchDatabase>) -> Self {
        let store = PostgresStore::open_with_key(&url, Some(test_key()))
            .await
            .expect("open a new PostgreSQL store");
        Self {
            store,
            url,
            database,
        }
    }

    /// A store in a new schema of `database` (many in one database: a property test's cases, which would
    /// spend more time creating databases than testing).
    pub(crate) async fn in_database(database: &Arc<ScratchDatabase>) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let schema = format!("it_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        connect(database.url())
            .await
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .expect("create the test schema");
        let separator = if database.url().contains('?') {
            '&'
        } else {
            '?'
        };
        let url = format!(
            "{}{separator}options=-c%20search_path%3D{schema}",
            database.url()
        );
        Self::open(url, database.clone()).await
    }

    /// The store's URL.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}
