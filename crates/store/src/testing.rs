//! For other crates' tests (feature `test-support`): a PostgreSQL schema of their own on a test server, so that
//! they need no SQL of their own.

use crate::{StoreError, StoreResult};
use std::sync::atomic::{AtomicU64, Ordering};

/// The variable naming the test server (a database the tests may create schemas in).
pub const POSTGRES_ENV: &str = "ASSETSYNC_TEST_POSTGRES";
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The test server's URL: [`POSTGRES_ENV`], else the local default.
pub fn postgres_server() -> String {
    std::env::var(POSTGRES_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned())
}

async fn admin(server: &str) -> StoreResult<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(server, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// A schema of its own on the test server, dropped (with everything in it) when this is dropped.
pub struct TestSchema {
    server: String,
    name: String,
}

impl TestSchema {
    /// Creates an empty schema with a new name on the test server.
    pub async fn create() -> StoreResult<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let server = postgres_server();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let name = format!(
            "ts_{}_{}_{}",
            std::process::id(),
            nanos % 1_000_000_000_000,
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        admin(&server)
            .await
            .map_err(|e| StoreError::PostgresPool(format!("the test server: {e}")))?
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await?;
        Ok(Self { server, name })
    }

    /// A store URL on this schema (its connections' search path and application name).
    pub fn url(&self) -> String {
        let separator = if self.server.contains('?') { '&' } else { '?' };
        format!(
            "{server}{separator}options=-c%20search_path%3D{name}&application_name={name}",
            server = self.server,
            name = self.name
        )
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let sql = format!(
            "SET lock_timeout = '20s';
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE application_name = '{name}' AND pid <> pg_backend_pid();
             DROP SCHEMA IF EXISTS {name} CASCADE",
            name = self.name
        );
        let server = self.server.clone();
        // The test's runtime may be the one dropping this: drop the schema from a thread of its own.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|runtime| {
                    runtime.block_on(async {
                        if let Ok(client) = admin(&server).await {
                            let _ = client.batch_execute(&sql).await;
                        }
                    })
                })
        })
        .join();
        if dropped.is_err() {
            tracing::warn!("could not drop a test schema");
        }
    }
}
