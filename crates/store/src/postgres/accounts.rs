//! [`Accounts`]: the admin console's users, sessions (only the hash of each id) and failed sign-ins.

use super::PostgresStore;
use super::conn::{execute, one, read_tx, row, rows, write_tx};
use crate::{Accounts, NewSession, SessionRecord, StoreError, StoreResult, UserRecord};
use async_trait::async_trait;
use domain::accounts::{AccountRole, Username};
use tokio_postgres::Row;

/// Failed sign-ins are kept this long (the throttling window is shorter).
const FAILURES_KEPT_MS: i64 = 24 * 3_600_000;

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

fn user_of(r: &Row) -> StoreResult<UserRecord> {
    Ok(UserRecord {
        username: Username::parse(r.try_get(0)?).map_err(corrupt)?,
        role: AccountRole::parse(r.try_get(1)?).map_err(corrupt)?,
        password_hash: r.try_get(2)?,
        created_ms: r.try_get(3)?,
    })
}

#[async_trait]
impl Accounts for PostgresStore {
    async fn add_user(&self, user: &UserRecord) -> StoreResult<bool> {
        let added = write_tx!(self, |tx| {
            execute(
                &tx,
                "INSERT INTO users (username, role, password_hash, created_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (username) DO NOTHING",
                &[
                    &user.username.as_str(),
                    &user.role.as_str(),
                    &user.password_hash,
                    &user.created_ms,
                ],
            )
            .await?
        });
        Ok(added == 1)
    }

    async fn users(&self) -> StoreResult<Vec<UserRecord>> {
        let stored = read_tx!(self, |tx| {
            rows(
                &tx,
                "SELECT username, role, password_hash, created_ms FROM users ORDER BY username",
                &[],
            )
            .await?
        });
        stored.iter().map(user_of).collect()
    }

    async fn user(&self, username: &Username) -> StoreResult<Option<UserRecord>> {
        let stored = read_tx!(self, |tx| {
            row(
                &tx,
                "SELECT username, role, password_hash, created_ms FROM users WHERE username = $1",
                &[&username.as_str()],
            )
            .await?
        });
        stored.as_ref().map(user_of).transpose()
    }

    async fn remove_user(&self, username: &Username) -> StoreResult<bool> {
        let removed = write_tx!(self, |tx| {
            execute(
                &tx,
                "DELETE FROM sessions WHERE username = $1",
                &[&username.as_str()],
            )
            .await?;
            execute(
                &tx,
                "DELETE FROM users WHERE username = $1",
                &[&username.as_str()],
            )
            .await?
        });
        Ok(removed == 1)
    }

    async fn create_session(&self, session: &NewSession) -> StoreResult<()> {
        write_tx!(self, |tx| {
            execute(
                &tx,
                "INSERT INTO sessions (id_hash, username, created_ms, last_seen_ms, expires_ms)
                 VALUES ($1, $2, $3, $3, $4)",
                &[
                    &session.id_hash,
                    &session.username.as_str(),
                    &session.created_ms,
                    &session.expires_ms,
                ],
            )
            .await?;
        });
        Ok(())
    }

    async fn session(
        &self,
        id_hash: &str,
        now_ms: i64,
        idle_ms: i64,
    ) -> StoreResult<Option<SessionRecord>> {
        let found = write_tx!(self, |tx| {
            let found = row(
                &tx,
                "SELECT s.username, u.role, s.created_ms, s.last_seen_ms, s.expires_ms
                 FROM sessions s JOIN users u ON u.username = s.username WHERE s.id_hash = $1
                 FOR UPDATE OF s",
                &[&id_hash],
            )
            .await?;
            match found {
                None => None,
                Some(r) => {
                    let (created_ms, last_seen_ms, expires_ms): (i64, i64, i64) =
                        (r.try_get(2)?, r.try_get(3)?, r.try_get(4)?);
                    if now_ms >= expires_ms || last_seen_ms + idle_ms < now_ms {
                        execute(&tx, "DELETE FROM sessions WHERE id_hash = $1", &[&id_hash])
                            .await?;
                        None
                    } else {
                        execute(
                            &tx,
                            "UPDATE sessions SET last_seen_ms = GREATEST(last_seen_ms, $1)
                             WHERE id_hash = $2",
                            &[&now_ms, &id_hash],
                        )
                        .await?;
                        Some(SessionRecord {
                            id_hash: id_hash.to_owned(),
                            username: Username::parse(r.try_get(0)?).map_err(corrupt)?,
                            role: AccountRole::parse(r.try_get(1)?).map_err(corrupt)?,
                            created_ms,
                            last_seen_ms: last_seen_ms.max(now_ms),
                            expires_ms,
                        })
                    }
                }
            }
        });
        Ok(found)
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<bool> {
        let deleted = write_tx!(self, |tx| {
            execute(&tx, "DELETE FROM sessions WHERE id_hash = $1", &[&id_hash]).await?
        });
        Ok(deleted == 1)
    }

    async fn note_failed_sign_in(&self, keys: &[String], now_ms: i64) -> StoreResult<()> {
        let before = now_ms - FAILURES_KEPT_MS;
        write_tx!(self, |tx| {
            for key in keys {
                execute(
                    &tx,
                    "DELETE FROM failed_sign_ins WHERE throttle_key = $1 AND at_ms < $2",
                    &[key, &before],
                )
                .await?;
                execute(
                    &tx,
                    "INSERT INTO failed_sign_ins (throttle_key, at_ms) VALUES ($1, $2)",
                    &[key, &now_ms],
                )
                .await?;
            }
        });
        Ok(())
    }

    async fn failed_sign_ins(&self, keys: &[String], since_ms: i64) -> StoreResult<i64> {
        let most = read_tx!(self, |tx| {
            let mut most = 0;
            for key in keys {
                let count: i64 = one(
                    &tx,
                    "SELECT COUNT(*) FROM failed_sign_ins WHERE throttle_key = $1 AND at_ms >= $2",
                    &[key, &since_ms],
                )
                .await?;
                most = most.max(count);
            }
            most
        });
        Ok(most)
    }

    async fn clear_failed_sign_ins(&self, key: &str) -> StoreResult<()> {
        write_tx!(self, |tx| {
            execute(
                &tx,
                "DELETE FROM failed_sign_ins WHERE throttle_key = $1",
                &[&key],
            )
            .await?;
        });
        Ok(())
    }
}
