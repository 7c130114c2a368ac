//! Schema migrations with refinery: `migrations/sqlite` and `migrations/postgres` hold the two dialects of the
//! same versions (`V<version>__<name>.sql`). refinery keeps each applied migration's checksum in
//! `refinery_schema_history` and refuses to open a database whose applied migration differs from this
//! release's (changed after it was applied) or is unknown to it.
//!
//! refinery's own rusqlite driver accepts rusqlite up to 0.41; SQLite runs through [`SqliteMigrations`], a
//! driver for the workspace's rusqlite over refinery's driver traits, inside the caller's transaction. A
//! SQLite database made by the hand-written migrator of earlier releases (`schema_migrations`) has its
//! applied versions recorded once in refinery's history, with refinery's checksums ([`bridge_old_history`]).

use crate::{StoreError, StoreResult};
use refinery::{Migration, Runner};
use refinery_core::traits::sync::{Query, Transaction};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// refinery's history table.
pub(crate) const HISTORY_TABLE: &str = "refinery_schema_history";

/// The SQLite migrations, in order.
const SQLITE: &[(&str, &str)] = &[
    (
        "V1__foundation",
        include_str!("../migrations/sqlite/V1__foundation.sql"),
    ),
    (
        "V2__configuration",
        include_str!("../migrations/sqlite/V2__configuration.sql"),
    ),
    (
        "V3__full_sync",
        include_str!("../migrations/sqlite/V3__full_sync.sql"),
    ),
    (
        "V4__handmade_entries",
        include_str!("../migrations/sqlite/V4__handmade_entries.sql"),
    ),
    (
        "V5__dead_letters",
        include_str!("../migrations/sqlite/V5__dead_letters.sql"),
    ),
    (
        "V6__dot_segment_skus",
        include_str!("../migrations/sqlite/V6__dot_segment_skus.sql"),
    ),
    (
        "V7__product_calls",
        include_str!("../migrations/sqlite/V7__product_calls.sql"),
    ),
    (
        "V8__refused_entries",
        include_str!("../migrations/sqlite/V8__refused_entries.sql"),
    ),
    (
        "V9__indexes_and_counters",
        include_str!("../migrations/sqlite/V9__indexes_and_counters.sql"),
    ),
    (
        "V10__wake_ups",
        include_str!("../migrations/sqlite/V10__wake_ups.sql"),
    ),
    (
        "V11__cluster",
        include_str!("../migrations/sqlite/V11__cluster.sql"),
    ),
    (
        "V12__accounts",
        include_str!("../migrations/sqlite/V12__accounts.sql"),
    ),
    (
        "V13__manual_links",
        include_str!("../migrations/sqlite/V13__manual_links.sql"),
    ),
    (
        "V14__sync_status",
        include_str!("../migrations/sqlite/V14__sync_status.sql"),
    ),
];

/// The PostgreSQL migrations, in order: the same versions as [`SQLITE`].
const POSTGRES: &[(&str, &str)] = &[
    (
        "V1__foundation",
        include_str!("../migrations/postgres/V1__foundation.sql"),
    ),
    (
        "V2__configuration",
        include_str!("../migrations/postgres/V2__configuration.sql"),
    ),
    (
        "V3__full_sync",
        include_str!("../migrations/postgres/V3__full_sync.sql"),
    ),
    (
        "V4__handmade_entries",
        include_str!("../migrations/postgres/V4__handmade_entries.sql"),
    ),
    (
        "V5__dead_letters",
        include_str!("../migrations/postgres/V5__dead_letters.sql"),
    ),
    (
        "V6__dot_segment_skus",
        include_str!("../migrations/postgres/V6__dot_segment_skus.sql"),
    ),
    (
        "V7__product_calls",
        include_str!("../migrations/postgres/V7__product_calls.sql"),
    ),
    (
        "V8__refused_entries",
        include_str!("../migrations/postgres/V8__refused_entries.sql"),
    ),
    (
        "V9__indexes_and_counters",
        include_str!("../migrations/postgres/V9__indexes_and_counters.sql"),
    ),
    (
        "V10__wake_ups",
        include_str!("../migrations/postgres/V10__wake_ups.sql"),
    ),
    (
        "V11__cluster",
        include_str!("../migrations/postgres/V11__cluster.sql"),
    ),
    (
        "V12__accounts",
        include_str!("../migrations/postgres/V12__accounts.sql"),
    ),
    (
        "V13__manual_links",
        include_str!("../migrations/postgres/V13__manual_links.sql"),
    ),
    (
        "V14__sync_status",
        include_str!("../migrations/postgres/V14__sync_status.sql"),
    ),
];

fn migrations(files: &[(&str, &str)]) -> StoreResult<Vec<Migration>> {
    files
        .iter()
        .map(|(name, sql)| Migration::unapplied(name, sql).map_err(refused))
        .collect()
}

/// The SQLite migrations as refinery sees them (versions, names, checksums).
pub fn sqlite_migrations() -> StoreResult<Vec<Migration>> {
    migrations(SQLITE)
}

/// The PostgreSQL migrations as refinery sees them (versions, names, checksums).
pub fn postgres_migrations() -> StoreResult<Vec<Migration>> {
    migrations(POSTGRES)
}

/// The newest version this release migrates to (the same for every database).
pub fn latest_version() -> StoreResult<i32> {
    Ok(sqlite_migrations()?
        .iter()
        .map(Migration::version)
        .max()
        .unwrap_or(0))
}

/// Every migration in one transaction; a changed or unknown applied migration stops everything.
fn runner(migrations: &[Migration]) -> Runner {
    Runner::new(migrations)
        .set_grouped(true)
        .set_abort_divergent(true)
        .set_abort_missing(true)
}

/// A refinery error, said plainly.
fn refused(error: refinery::Error) -> StoreError {
    use refinery::error::Kind;
    StoreError::Migration(match error.kind() {
        Kind::DivergentVersion(applied, release) => format!(
            "migration {applied} was changed after it was applied to this database (its checksum differs \
             from this release's {release}); restore the migration file or use a release that matches"
        ),
        Kind::MissingVersion(applied) => format!(
            "the database has migration {applied}, which this release does not know (a newer release \
             migrated it?)"
        ),
        _ => error.to_string(),
    })
}

/// Migrates a SQLite database inside the caller's write transaction: the old history first (once), then
/// every pending migration.
pub(crate) fn migrate_sqlite_in(conn: &rusqlite::Connection) -> StoreResult<()> {
    let migrations = sqlite_migrations()?;
    bridge_old_history(conn, &migrations)?;
    runner(&migrations)
        .run(&mut SqliteMigrations(conn))
        .map_err(refused)?;
    Ok(())
}

/// Migrates a SQLite database in one `BEGIN IMMEDIATE` transaction of its own.
pub(crate) fn migrate_sqlite(conn: &rusqlite::Connection) -> StoreResult<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    match migrate_sqlite_in(conn) {
        Ok(()) => Ok(conn.execute_batch("COMMIT")?),
        Err(error) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(error)
        }
    }
}

/// Migrates a PostgreSQL database (its schema: the connection's `search_path`), one process at a time (an
/// advisory lock per schema), every pending migration in one transaction.
pub(crate) async fn migrate_postgres(client: &mut tokio_postgres::Client) -> StoreResult<()> {
    const LOCK: &str = "hashtext('assetsync migrations ' || COALESCE(current_schema(), ''))";
    client
        .batch_execute(&format!("SELECT pg_advisory_lock({LOCK})"))
        .await?;
    let migrations = postgres_migrations()?;
    let outcome = runner(&migrations).run_async(client).await;
    client
        .batch_execute(&format!("SELECT pg_advisory_unlock({LOCK})"))
        .await?;
    outcome.map_err(refused)?;
    Ok(())
}

/// A database migrated by the hand-written migrator of earlier releases (`schema_migrations`, versions 1…N)
/// and never by refinery: records those versions in refinery's history with this release's checksums (the
/// files are the ones that migrator applied), so refinery applies only the newer ones.
fn bridge_old_history(conn: &rusqlite::Connection, migrations: &[Migration]) -> StoreResult<()> {
    let table_exists = |name: &str| -> StoreResult<bool> {
        Ok(conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?)",
            [name],
            |row| row.get(0),
        )?)
    };
    if !table_exists("schema_migrations")? || table_exists(HISTORY_TABLE)? {
        return Ok(());
    }
    conn.execute_batch(&format!(
        "CREATE TABLE {HISTORY_TABLE} (version INT4 PRIMARY KEY, name VARCHAR(255), applied_on VARCHAR(255),
             checksum VARCHAR(255))"
    ))?;
    let applied_on = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .map_err(|e| StoreError::Migration(e.to_string()))?;
    let mut versions = conn.prepare("SELECT version FROM schema_migrations ORDER BY version")?;
    let versions = versions
        .query_map([], |row| row.get::<_, i64>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    for version in versions {
        let Some(migration) = migrations
            .iter()
            .find(|m| i64::from(m.version()) == version)
        else {
            return Err(StoreError::Migration(format!(
                "the database has migration {version}, which this release does not know"
            )));
        };
        conn.execute(
            &format!(
                "INSERT INTO {HISTORY_TABLE} (version, name, applied_on, checksum) VALUES (?, ?, ?, ?)"
            ),
            (
                version,
                migration.name(),
                &applied_on,
                migration.checksum().to_string(),
            ),
        )?;
    }
    tracing::info!("recorded the database's migrations in refinery's history");
    Ok(())
}

/// refinery's driver for the workspace's rusqlite: runs in the transaction the caller holds.
struct SqliteMigrations<'a>(&'a rusqlite::Connection);

impl Transaction for SqliteMigrations<'_> {
    type Error = rusqlite::Error;

    fn execute<'a, T: Iterator<Item = &'a str>>(
        &mut self,
        queries: T,
    ) -> Result<usize, Self::Error> {
        let mut count = 0;
        for query in queries {
            self.0.execute_batch(query)?;
            count += 1;
        }
        Ok(count)
    }
}

impl Query<Vec<Migration>> for SqliteMigrations<'_> {
    fn query(&mut self, query: &str) -> Result<Vec<Migration>, Self::Error> {
        let mut statement = self.0.prepare(query)?;
        let rows = statement.query_map([], |row| {
            let bad = |column: usize, error: String| {
                rusqlite::Error::FromSqlConversionFailure(
                    column,
                    rusqlite::types::Type::Text,
                    error.into(),
                )
            };
            let applied_on: String = row.get(2)?;
            let applied_on =
                OffsetDateTime::parse(&applied_on, &Rfc3339).map_err(|e| bad(2, e.to_string()))?;
            let checksum: String = row.get(3)?;
            let checksum = checksum.parse::<u64>().map_err(|e| bad(3, e.to_string()))?;
            Ok(Migration::applied(
                row.get(0)?,
                row.get(1)?,
                applied_on,
                checksum,
            ))
        })?;
        rows.collect()
    }
}

impl refinery::Migrate for SqliteMigrations<'_> {}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Both backends have the same migrations: the same versions, in the same order, under the same names.
    #[test]
    fn both_dialects_have_the_same_versions() {
        let sqlite = sqlite_migrations().unwrap();
        let postgres = postgres_migrations().unwrap();
        let names = |list: &[Migration]| {
            list.iter()
                .map(|m| (m.version(), m.name().to_owned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&sqlite), names(&postgres));
        // Versions rise one by one from 1.
        let versions: Vec<_> = sqlite.iter().map(|m| m.version()).collect();
        let expected: Vec<_> = (1..=i32::try_from(versions.len()).unwrap()).collect();
        assert_eq!(versions, expected);
    }

    /// Every file of each folder is in its list (a file added and not listed would never run).
    #[test]
    fn every_migration_file_is_listed() {
        for (folder, list) in [("sqlite", SQLITE), ("postgres", POSTGRES)] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(folder);
            let mut files: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            let mut listed: Vec<String> =
                list.iter().map(|(name, _)| format!("{name}.sql")).collect();
            files.sort();
            listed.sort();
            assert_eq!(files, listed, "{folder}");
        }
    }
}
