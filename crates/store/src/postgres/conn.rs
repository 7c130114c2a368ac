//! The connection pool and the statement helpers. Every trait call takes one pooled connection and runs as one
//! transaction (`write_tx!`, `read_tx!`); statements are prepared once per connection (deadpool's statement
//! cache), so a statement costs one round trip.

use crate::{StoreError, StoreResult};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod};
use tokio_postgres::types::{FromSqlOwned, ToSql};
use tokio_postgres::{NoTls, Row};

/// A transaction on a pooled connection.
pub(crate) type Tx<'a> = deadpool_postgres::Transaction<'a>;
/// Statement parameters.
pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Connections kept per process.
const POOL_SIZE: usize = 16;

/// The pool of one database.
pub(crate) struct Db {
    pool: Pool,
    /// Where the pool connects; connections of their own (leaderships, the wake-up listener) use it too.
    pub(crate) config: tokio_postgres::Config,
}

impl Db {
    /// A pool on `config` (no connection is opened before the first call).
    pub(crate) fn new(config: tokio_postgres::Config) -> StoreResult<Self> {
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::PostgresPool(e.to_string()))?;
        Ok(Self { pool, config })
    }

    /// A connection from the pool.
    pub(crate) async fn client(&self) -> StoreResult<Object> {
        self.pool.get().await.map_err(|error| match error {
            PoolError::Backend(error) => StoreError::Postgres(error),
            PoolError::Closed => StoreError::Closed,
            other => StoreError::PostgresPool(other.to_string()),
        })
    }
}

/// Runs `$body` (which may `.await` and `?`) in one read-write transaction on `$tx`; commits when it gets
/// to the end, rolls back on an early return. A transaction the server aborted as a deadlock victim or a
/// serialization failure (processes locking the same rows in another order) is run again, up to
/// [`RETRIES`] times, after a short random pause; the body must therefore only write through `$tx`.
macro_rules! write_tx {
    ($store:expr, |$tx:ident| $body:block) => {{
        let mut attempt: u32 = 0;
        loop {
            let mut client = $store.db.client().await?;
            let outcome: $crate::StoreResult<_> = async {
                let $tx = client.transaction().await?;
                let value = $body;
                $tx.commit().await?;
                Ok(value)
            }
            .await;
            match outcome {
                Err(error)
                    if attempt < $crate::postgres::conn::RETRIES
                        && $crate::postgres::conn::retryable(&error) =>
                {
                    attempt += 1;
                    $crate::postgres::conn::pause_before_retry(attempt).await;
                }
                outcome => break outcome?,
            }
        }
    }};
}

/// How many times a transaction aborted by a deadlock or a serialization failure is run again.
pub(crate) const RETRIES: u32 = 20;

/// Whether `error` aborted a transaction that may simply be run again (SQLSTATE 40P01, 40001).
pub(crate) fn retryable(error: &StoreError) -> bool {
    use tokio_postgres::error::SqlState;
    matches!(error, StoreError::Postgres(error)
        if error.code().is_some_and(|code| *code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::T_R_SERIALIZATION_FAILURE))
}

/// A pause of a few milliseconds, growing with the attempt and random, so that two retrying transactions
/// do not meet again.
pub(crate) async fn pause_before_retry(attempt: u32) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    let ceiling_ms = 5u64 << attempt.min(6);
    tokio::time::sleep(std::time::Duration::from_millis(
        1 + u64::from(nanos) % ceiling_ms,
    ))
    .await;
}

/// Runs `$body` in one read-only transaction (one snapshot).
macro_rules! read_tx {
    ($store:expr, |$tx:ident| $body:block) => {{
        let mut client = $store.db.client().await?;
        let $tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let value = $body;
        $tx.commit().await?;
        value
    }};
}

pub(crate) use {read_tx, write_tx};

/// Runs one statement; returns the rows changed.
pub(crate) async fn execute(tx: &Tx<'_>, sql: &str, params: Params<'_>) -> StoreResult<u64> {
    let statement = tx.prepare_cached(sql).await?;
    Ok(tx.execute(&statement, params).await?)
}

/// Every row a statement returns.
pub(crate) async fn rows(tx: &Tx<'_>, sql: &str, params: Params<'_>) -> StoreResult<Vec<Row>> {
    let statement = tx.prepare_cached(sql).await?;
    Ok(tx.query(&statement, params).await?)
}

/// The row a statement returns, if any.
pub(crate) async fn row(tx: &Tx<'_>, sql: &str, params: Params<'_>) -> StoreResult<Option<Row>> {
    let statement = tx.prepare_cached(sql).await?;
    Ok(tx.query_opt(&statement, params).await?)
}

/// The first column of the one row a statement returns.
pub(crate) async fn one<T: FromSqlOwned>(
    tx: &Tx<'_>,
    sql: &str,
    params: Params<'_>,
) -> StoreResult<T> {
    let statement = tx.prepare_cached(sql).await?;
    Ok(tx.query_one(&statement, params).await?.try_get(0)?)
}

/// The first column of the row a statement returns, if any.
pub(crate) async fn optional<T: FromSqlOwned>(
    tx: &Tx<'_>,
    sql: &str,
    params: Params<'_>,
) -> StoreResult<Option<T>> {
    match row(tx, sql, params).await? {
        Some(row) => Ok(Some(row.try_get(0)?)),
        None => Ok(None),
    }
}

/// The first column of every row a statement returns.
pub(crate) async fn column<T: FromSqlOwned>(
    tx: &Tx<'_>,
    sql: &str,
    params: Params<'_>,
) -> StoreResult<Vec<T>> {
    rows(tx, sql, params)
        .await?
        .iter()
        .map(|row| Ok(row.try_get(0)?))
        .collect()
}
