//! [`Accounts`]: the admin console's users, sessions (only the hash of each id) and failed sign-ins.

use super::SqliteStore;
use super::conn::{Durability, execute, one, row, rows};
use crate::{Accounts, NewSession, SessionRecord, StoreError, StoreResult, UserRecord};
use async_trait::async_trait;
use domain::accounts::{AccountRole, Username};

/// Failed sign-ins are kept this long (the throttling window is shorter).
const FAILURES_KEPT_MS: i64 = 24 * 3_600_000;

fn user_of(
    (username, role, password_hash, created_ms): (String, String, String, i64),
) -> StoreResult<UserRecord> {
    Ok(UserRecord {
        username: Username::parse(&username).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        role: AccountRole::parse(&role).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        password_hash,
        created_ms,
    })
}

type UserRow = (String, String, String, i64);

#[async_trait]
impl Accounts for SqliteStore {
    async fn add_user(&self, user: &UserRecord) -> StoreResult<bool> {
        let user = user.clone();
        self.db
            .write(Durability::Full, move |conn| {
                Ok(execute(
                    conn,
                    "INSERT INTO users (username, role, password_hash, created_ms) VALUES (?, ?, ?, ?)
                     ON CONFLICT (username) DO NOTHING",
                    (
                        user.username.as_str(),
                        user.role.as_str(),
                        &user.password_hash,
                        user.created_ms,
                    ),
                )? == 1)
            })
            .await
    }

    async fn users(&self) -> StoreResult<Vec<UserRecord>> {
        let stored: Vec<UserRow> = self
            .db
            .read(|conn| {
                rows(
                    conn,
                    "SELECT username, role, password_hash, created_ms FROM users ORDER BY username",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
            })
            .await?;
        stored.into_iter().map(user_of).collect()
    }

    async fn user(&self, username: &Username) -> StoreResult<Option<UserRecord>> {
        let name = username.as_str().to_owned();
        let stored: Option<UserRow> = self
            .db
            .read(move |conn| {
                row(
                    conn,
                    "SELECT username, role, password_hash, created_ms FROM users WHERE username = ?",
                    [name],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
            })
            .await?;
        stored.map(user_of).transpose()
    }

    async fn remove_user(&self, username: &Username) -> StoreResult<bool> {
        let name = username.as_str().to_owned();
        self.db
            .write(Durability::Full, move |conn| {
                execute(conn, "DELETE FROM sessions WHERE username = ?", [&name])?;
                Ok(execute(conn, "DELETE FROM users WHERE username = ?", [&name])? == 1)
            })
            .await
    }

    async fn create_session(&self, session: &NewSession) -> StoreResult<()> {
        let session = session.clone();
        self.db
            .write(Durability::Full, move |conn| {
                execute(
                    conn,
                    "INSERT INTO sessions (id_hash, username, created_ms, last_seen_ms, expires_ms)
                     VALUES (?1, ?2, ?3, ?3, ?4)",
                    (
                        &session.id_hash,
                        session.username.as_str(),
                        session.created_ms,
                        session.expires_ms,
                    ),
                )?;
                Ok(())
            })
            .await
    }

    async fn session(
        &self,
        id_hash: &str,
        now_ms: i64,
        idle_ms: i64,
    ) -> StoreResult<Option<SessionRecord>> {
        let id_hash = id_hash.to_owned();
        let found = self
            .db
            .write(Durability::Normal, move |conn| {
                let found = row(
                    conn,
                    "SELECT s.username, u.role, s.created_ms, s.last_seen_ms, s.expires_ms
                     FROM sessions s JOIN users u ON u.username = s.username WHERE s.id_hash = ?",
                    [&id_hash],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, i64>(3)?,
                            r.get::<_, i64>(4)?,
                        ))
                    },
                )?;
                let Some((username, role, created_ms, last_seen_ms, expires_ms)) = found else {
                    return Ok(None);
                };
                if now_ms >= expires_ms || last_seen_ms + idle_ms < now_ms {
                    execute(conn, "DELETE FROM sessions WHERE id_hash = ?", [&id_hash])?;
                    return Ok(None);
                }
                execute(
                    conn,
                    "UPDATE sessions SET last_seen_ms = MAX(last_seen_ms, ?) WHERE id_hash = ?",
                    (now_ms, &id_hash),
                )?;
                Ok(Some((
                    id_hash,
                    username,
                    role,
                    created_ms,
                    last_seen_ms.max(now_ms),
                    expires_ms,
                )))
            })
            .await?;
        found
            .map(
                |(id_hash, username, role, created_ms, last_seen_ms, expires_ms)| {
                    Ok(SessionRecord {
                        id_hash,
                        username: Username::parse(&username)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                        role: AccountRole::parse(&role)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                        created_ms,
                        last_seen_ms,
                        expires_ms,
                    })
                },
            )
            .transpose()
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<bool> {
        let id_hash = id_hash.to_owned();
        self.db
            .write(Durability::Full, move |conn| {
                Ok(execute(conn, "DELETE FROM sessions WHERE id_hash = ?", [&id_hash])? == 1)
            })
            .await
    }

    async fn note_failed_sign_in(&self, keys: &[String], now_ms: i64) -> StoreResult<()> {
        let keys = keys.to_vec();
        self.db
            .write(Durability::Normal, move |conn| {
                for key in &keys {
                    execute(
                        conn,
                        "DELETE FROM failed_sign_ins WHERE throttle_key = ? AND at_ms < ?",
                        (key, now_ms - FAILURES_KEPT_MS),
                    )?;
                    execute(
                        conn,
                        "INSERT INTO failed_sign_ins (throttle_key, at_ms) VALUES (?, ?)",
                        (key, now_ms),
                    )?;
                }
                Ok(())
            })
            .await
    }

    async fn failed_sign_ins(&self, keys: &[String], since_ms: i64) -> StoreResult<i64> {
        let keys = keys.to_vec();
        self.db
            .read(move |conn| {
                let mut most = 0;
                for key in &keys {
                    let count: i64 = one(
                        conn,
                        "SELECT COUNT(*) FROM failed_sign_ins WHERE throttle_key = ? AND at_ms >= ?",
                        (key, since_ms),
                    )?;
                    most = most.max(count);
                }
                Ok(most)
            })
            .await
    }

    async fn clear_failed_sign_ins(&self, key: &str) -> StoreResult<()> {
        let key = key.to_owned();
        self.db
            .write(Durability::Normal, move |conn| {
                execute(
                    conn,
                    "DELETE FROM failed_sign_ins WHERE throttle_key = ?",
                    [&key],
                )?;
                Ok(())
            })
            .await
    }
}
