//! Throw-away databases on a PostgreSQL server, for tests and benchmarks: [`ScratchDatabase::create`] makes
//! a database of a fresh name, and dropping the value drops the database (`DROP DATABASE … WITH (FORCE)`,
//! which ends its connections), also while a failed test unwinds. A name carries its creation time
//! (`<prefix><unix seconds>_<pid>_<random>`), so [`sweep`] can drop what a killed run left behind.

use crate::{StoreError, StoreResult};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_postgres::NoTls;

/// A database of its own on a PostgreSQL server, dropped when this is dropped.
#[derive(Debug)]
pub struct ScratchDatabase {
    /// The server's URL as given (the database it names, if any, is where the admin statements run).
    server: String,
    name: String,
    url: String,
    dropped: bool,
}

impl ScratchDatabase {
    /// Creates an empty database named `<prefix><unix seconds>_<pid>_<random>` on the server at `server_url`
    /// (`postgres://USER[:PASSWORD]@HOST:PORT[/DATABASE][?…]`; without a database, the statements run in
    /// `postgres`). `prefix` must be lower-case letters, digits and `_`.
    pub async fn create(server_url: &str, prefix: &str) -> StoreResult<Self> {
        if prefix.is_empty()
            || !prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(StoreError::Corrupt(format!(
                "a scratch database prefix must be lower-case letters, digits and _, not {prefix:?}"
            )));
        }
        let mut random = [0u8; 4];
        SystemRandom::new()
            .fill(&mut random)
            .map_err(|_| StoreError::Corrupt("no random bytes for a database name".into()))?;
        let name = format!(
            "{prefix}{}_{}_{}",
            unix_seconds(),
            std::process::id(),
            random
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        admin(server_url)
            .await?
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        Ok(Self {
            server: server_url.to_owned(),
            url: database_url(server_url, &name),
            name,
            dropped: false,
        })
    }

    /// The URL of this database: the server's, with this database's name as its path.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database now (rather than when this is dropped, which blocks a thread for it).
    pub async fn drop_now(mut self) -> StoreResult<()> {
        self.dropped = true;
        drop_database(&self.server, &self.name).await
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // This may run on the runtime of the code that used the database (even one that is blocked while
        // this runs, or while a panic unwinds): drop it from a thread and a runtime of its own.
        let (server, name) = (self.server.clone(), self.name.clone());
        let done = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime
                .block_on(drop_database(&server, &name))
                .map_err(|e| e.to_string())
        })
        .join();
        match done {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("could not drop the database {}: {error}", self.name),
            Err(_) => eprintln!("could not drop the database {}", self.name),
        }
    }
}

/// Drops the databases named `<prefix><unix seconds>_…` created more than `older_than` ago (left behind by a
/// run that was killed); returns their names. A database another sweep dropped first is skipped.
pub async fn sweep(
    server_url: &str,
    prefix: &str,
    older_than: Duration,
) -> StoreResult<Vec<String>> {
    let client = admin(server_url).await?;
    let pattern = format!("{}%", prefix.replace('_', "\\_"));
    let rows = client
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE $1",
            &[&pattern],
        )
        .await?;
    let cutoff = unix_seconds().saturating_sub(older_than.as_secs());
    let mut dropped = Vec::new();
    for row in rows {
        let name: String = row.try_get(0)?;
        let created = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|created| created < cutoff)
            && client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
                .is_ok()
        {
            dropped.push(name);
        }
    }
    Ok(dropped)
}

async fn drop_database(server_url: &str, name: &str) -> StoreResult<()> {
    admin(server_url)
        .await?
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    Ok(())
}

/// A connection to the server for CREATE and DROP DATABASE (to the URL's database, else `postgres`).
async fn admin(server_url: &str) -> StoreResult<tokio_postgres::Client> {
    let mut config: tokio_postgres::Config = server_url.parse()?;
    if config.get_dbname().is_none() {
        config.dbname("postgres");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// `server_url` with `name` as its database (its path), the rest (user, host, parameters) kept.
pub fn database_url(server_url: &str, name: &str) -> String {
    let (head, query) = match server_url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (server_url, None),
    };
    let head = match head.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split('/').next().unwrap_or(rest);
            format!("{scheme}://{authority}/{name}")
        }
        None => format!("{head}/{name}"),
    };
    match query {
        Some(query) => format!("{head}?{query}"),
        None => head,
    }
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_replaces_the_path() {
        use super::database_url;
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            database_url("postgresql://u:p@h:1/test?connect_timeout=2", "x"),
            "postgresql://u:p@h:1/x?connect_timeout=2"
        );
        assert_eq!(database_url("postgres://h/", "x"), "postgres://h/x");
    }
}
