//! One harness per backend: how to get a fresh, empty store, and how to reopen the same database.

use std::future::Future;
#[allow(unused_imports)]
use store::prelude::*;
use store::{SqliteStore, Store};
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
        let store = store::open(&sqlite_url(&dir))
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
        let store = store::open(&sqlite_url(&dir))
            .await
            .expect("reopen the SQLite store");
        Self { store, dir }
    }
}
