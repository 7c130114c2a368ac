//! Storage for assetsync behind small traits named after what the engine needs ([`EventLog`], [`AssetQueue`],
//! [`GalleryQueue`], [`Catalog`], …), with [`Store`] as their sum. This is the only crate that speaks SQL.
//! [`SqliteStore`] is the embedded default: one writer thread that owns the only read-write connection and
//! runs each call as one `BEGIN IMMEDIATE` transaction, and reader threads with read-only connections.
//!
//! Every time is Unix milliseconds supplied by the caller, so the store itself never reads a clock.

mod model;
mod roles;
pub mod secrets;
mod sqlite;

pub use model::*;
pub use roles::*;
pub use sqlite::SqliteStore;

/// The storage traits, for `use store::prelude::*` where their methods are called.
pub mod prelude {
    pub use crate::roles::{
        AssetQueue, Catalog, Configuration, DeadLetters, EventLog, FullSyncs, GalleryQueue,
        HandmadeEntries, LeaseKeeper, Maintenance, ProductCalls, Store,
    };
}

/// A storage failure. The caller retries or reports it; nothing is half-written (every method is one
/// transaction).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
    #[error("unsupported database url {0:?} (expected sqlite://PATH)")]
    UnsupportedUrl(String),
    #[error("another assetsync process uses the database {0} (one process per SQLite file)")]
    InUse(String),
    #[error("the lease on this work item expired and another worker took it; nothing was written")]
    LeaseLost,
    #[error("the database connection is closed (the store is shutting down)")]
    Closed,
    #[error("{0}")]
    Secret(#[from] secrets::SecretKeyError),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Opens the store named by a database URL (`sqlite://PATH`; a missing file is created) and migrates it.
/// Secrets are sealed with the key file beside the database.
pub async fn open(url: &str) -> StoreResult<SqliteStore> {
    open_with_secret_key(url, None).await
}

/// [`open`], with secrets sealed by `key` (the value of [`secrets::SECRET_KEY_ENV`]) instead of the key file
/// beside the database.
pub async fn open_with_secret_key(
    url: &str,
    key: Option<secrets::SecretKey>,
) -> StoreResult<SqliteStore> {
    if url.starts_with("sqlite:") {
        SqliteStore::open_with_key(url, key).await
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}
