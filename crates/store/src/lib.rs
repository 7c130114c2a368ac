//! Storage for assetsync behind small traits named after what the engine needs ([`EventLog`], [`AssetQueue`],
//! [`GalleryQueue`], [`Catalog`], …), with [`Store`] as their sum. This is the only crate that speaks SQL.
//! [`SqliteStore`] is the embedded default: one writer thread that owns the only read-write connection and
//! runs each call as one `BEGIN IMMEDIATE` transaction, and reader threads with read-only connections.
//! [`PostgresStore`] is the shared one: a connection pool, one transaction per call, written for many
//! processes on one database (claims skip locked rows, completions lock the work row they fence on).
//! Both migrate with refinery (`migrations/sqlite`, `migrations/postgres`: the same versions).
//!
//! Every time is Unix milliseconds supplied by the caller, so the store itself never reads a clock.

mod coordination;
mod listing;
pub mod migrations;
mod model;
mod postgres;
mod roles;
pub mod secrets;
mod sqlite;
#[cfg(feature = "test-support")]
pub mod testing;

pub use coordination::{Duty, Leadership, WakeUp};
pub use listing::{
    AssetCursor, AssetEvent, AssetListQuery, AssetPage, AssetRow, AssetSort, PageDirection,
};
pub use model::*;
pub use postgres::PostgresStore;
/// Throw-away PostgreSQL databases for tests and benchmarks.
pub use postgres::scratch;
pub use roles::*;
pub use sqlite::SqliteStore;
pub use sqlite::seed::{SEED_ASSETS_PER_SKU, seeded_asset_id, seeded_sku};
use std::sync::Arc;

/// The storage traits, for `use store::prelude::*` where their methods are called.
pub mod prelude {
    pub use crate::roles::{
        Accounts, AssetQueue, Catalog, Cluster, Configuration, Coordination, DeadLetters, EventLog,
        FullSyncs, GalleryQueue, HandmadeEntries, LeaseKeeper, Maintenance, ManualLinks,
        ProductCalls, Store,
    };
}

/// A storage failure. The caller retries or reports it; nothing is half-written (every method is one
/// transaction).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// A PostgreSQL failure (its text names no URL and no password).
    #[error("PostgreSQL error: {}", postgres_detail(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// No PostgreSQL connection could be had from the pool.
    #[error("PostgreSQL connection pool: {0}")]
    PostgresPool(String),
    /// The schema cannot be migrated: an applied migration differs from this release's (its checksum
    /// changed), is unknown to it, or failed.
    #[error("database migration refused: {0}")]
    Migration(String),
    /// A PostgreSQL store has no file to keep a key beside: the key must be given.
    #[error(
        "a PostgreSQL store needs {} (32 bytes in base64) to seal the configuration's secrets",
        secrets::SECRET_KEY_ENV
    )]
    SecretKeyRequired,
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
    /// The URL (its password hidden) names no backend this build has.
    #[error(
        "unsupported database url {0:?} (expected sqlite://PATH, postgres://USER@HOST:PORT/DATABASE or postgresql://…)"
    )]
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

/// Opens the store named by a database URL and migrates it: `sqlite://PATH` (also `sqlite:PATH`; a missing
/// file is created; secrets are sealed with the key file beside the database) or `postgres://…` /
/// `postgresql://…` (the database must exist; a PostgreSQL store needs the key, see [`open_with_secret_key`]).
pub async fn open(url: &str) -> StoreResult<Arc<dyn Store>> {
    open_with_secret_key(url, None).await
}

/// [`open`], with secrets sealed by `key` (the value of [`secrets::SECRET_KEY_ENV`]) instead of the key file
/// beside the database.
pub async fn open_with_secret_key(
    url: &str,
    key: Option<secrets::SecretKey>,
) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open_with_key(url, key).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::open_with_key(url, key).await?))
    } else {
        Err(StoreError::UnsupportedUrl(redact_url(url)))
    }
}

/// Opens the accounts of the store named by a database URL, for the `user` commands: on SQLite without the
/// process lock, so that they work while `serve` runs on the same file (see
/// [`SqliteStore::open_beside_service`]); on PostgreSQL as [`open_with_secret_key`].
pub async fn open_accounts(
    url: &str,
    key: Option<secrets::SecretKey>,
) -> StoreResult<Arc<dyn Accounts>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open_beside_service(url, key).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::open_with_key(url, key).await?))
    } else {
        Err(StoreError::UnsupportedUrl(redact_url(url)))
    }
}

/// The URL with its password (user info, or a `password=` parameter) replaced by `***`, for messages.
pub fn redact_url(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let mut redacted = match head.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.find('/') {
                Some(at) => rest.split_at(at),
                None => (rest, ""),
            };
            let authority = match authority.rsplit_once('@') {
                Some((user_info, host)) => match user_info.split_once(':') {
                    Some((user, _password)) => format!("{user}:***@{host}"),
                    None => authority.to_owned(),
                },
                None => authority.to_owned(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None => head.to_owned(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((name, _)) if name.eq_ignore_ascii_case("password") => format!("{name}=***"),
                _ => param.to_owned(),
            })
            .collect();
        redacted.push('?');
        redacted.push_str(&params.join("&"));
    }
    redacted
}

/// A PostgreSQL error with the server's message and SQLSTATE (tokio-postgres says only "db error").
fn postgres_detail(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_hidden_in_urls() {
        assert_eq!(
            super::redact_url("postgres://u:s3cret@h:5432/db?sslmode=disable&password=x"),
            "postgres://u:***@h:5432/db?sslmode=disable&password=***"
        );
        assert_eq!(super::redact_url("mysql://u:p@h"), "mysql://u:***@h");
        assert_eq!(super::redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }
}
