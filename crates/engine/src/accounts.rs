//! The admin console's accounts: argon2id password hashes, sessions with random 256-bit ids (only their
//! SHA-256 hash is stored), per-session CSRF tokens, and throttled failed sign-ins. [`Users`] works on any
//! [`store::Accounts`] (the CLI's `user` commands use it without a running engine); [`crate::Engine::users`]
//! gives one on the engine's store and clock.

use crate::clock::Clock;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use aws_lc_rs::digest::{SHA256, digest};
use domain::accounts::{AccountError, AccountRole, Username, check_new_password};
use std::fmt::Write as _;
use std::sync::Arc;
use store::{NewSession, StoreError, UserRecord};

mod external;
pub use external::EXTERNAL_HASH;

/// How sessions expire and sign-ins are throttled.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session unused this long ends.
    pub idle_ms: i64,
    /// A session ends this long after sign-in, however active.
    pub absolute_ms: i64,
    /// Failed sign-ins allowed per user name and per client address within [`Self::failure_window_ms`].
    pub max_failures: i64,
    pub failure_window_ms: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_ms: 30 * 60_000,
            absolute_ms: 12 * 3_600_000,
            max_failures: 5,
            failure_window_ms: 15 * 60_000,
        }
    }
}

/// A user as shown (never the hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    pub username: Username,
    pub role: AccountRole,
    pub created_ms: i64,
}

/// A signed-in user, as the admin console sees them on each request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub username: Username,
    pub role: AccountRole,
    /// The CSRF token of this session (derived from its id, never stored).
    pub csrf: String,
}

/// A new session: the id goes into the cookie, never into storage or logs.
#[derive(Debug, Clone)]
pub struct NewSignIn {
    pub session_id: String,
    pub user: SessionUser,
    /// How long the cookie may live (the absolute expiry), in seconds.
    pub max_age_s: i64,
}

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error(transparent)]
    Invalid(#[from] AccountError),
    #[error("a user named {0} exists already")]
    Exists(Username),
    #[error("wrong user name or password")]
    WrongCredentials,
    #[error(
        "too many failed sign-ins: wait {minutes} minute(s) before trying again",
        minutes = (.0 + 59) / 60
    )]
    Throttled(i64),
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The accounts of one store, with a clock.
#[derive(Clone)]
pub struct Users {
    store: Arc<dyn store::Accounts>,
    clock: Arc<dyn Clock>,
    policy: SessionPolicy,
}

impl Users {
    pub fn new(
        store: Arc<dyn store::Accounts>,
        clock: Arc<dyn Clock>,
        policy: SessionPolicy,
    ) -> Self {
        Self {
            store,
            clock,
            policy,
        }
    }

    /// Adds a user with an argon2id hash of `password` (checked first: not empty, long enough).
    pub async fn add(
        &self,
        username: &str,
        role: AccountRole,
        password: &str,
    ) -> Result<UserSummary, AccountsError> {
        let username = Username::parse(username)?;
        check_new_password(password)?;
        let password_hash = hash_password(password.to_owned()).await?;
        let record = UserRecord {
            username: username.clone(),
            role,
            password_hash,
            created_ms: self.clock.now_ms(),
        };
        if !self.store.add_user(&record).await? {
            return Err(AccountsError::Exists(username));
        }
        Ok(UserSummary {
            username,
            role,
            created_ms: record.created_ms,
        })
    }

    /// Every user, by name.
    pub async fn list(&self) -> Result<Vec<UserSummary>, AccountsError> {
        Ok(self
            .store
            .users()
            .await?
            .into_iter()
            .map(|u| UserSummary {
                username: u.username,
                role: u.role,
                created_ms: u.created_ms,
            })
            .collect())
    }

    /// Removes a user and their sessions; `false` when there was none of that name.
    pub async fn remove(&self, username: &str) -> Result<bool, AccountsError> {
        let username = Username::parse(username)?;
        Ok(self.store.remove_user(&username).await?)
    }

    /// Checks a sign-in. Refused without looking at the password while the user name or the client address
    /// has [`SessionPolicy::max_failures`] failures within the window; a failure is noted under both.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        client: &str,
    ) -> Result<NewSignIn, AccountsError> {
        let now_ms = self.clock.now_ms();
        let user_key = format!("user:{}", username.to_lowercase());
        let keys = [user_key.clone(), format!("addr:{client}")];
        let since = now_ms - self.policy.failure_window_ms;
        if self.store.failed_sign_ins(&keys, since).await? >= self.policy.max_failures {
            return Err(AccountsError::Throttled(
                self.policy.failure_window_ms / 1000,
            ));
        }
        let user = match Username::parse(username) {
            Ok(name) => self.store.user(&name).await?,
            Err(_) => None,
        };
        // A missing user costs a verification too, so timing does not tell which names exist.
        let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
        let verified = verify_password(password.to_owned(), stored_hash).await;
        let Some(user) = user.filter(|_| verified) else {
            self.store.note_failed_sign_in(&keys, now_ms).await?;
            return Err(AccountsError::WrongCredentials);
        };
        self.store.clear_failed_sign_ins(&user_key).await?;
        let session_id = random_token()?;
        self.store
            .create_session(&NewSession {
                id_hash: hash_session_id(&session_id),
                username: user.username.clone(),
                created_ms: now_ms,
                expires_ms: now_ms + self.policy.absolute_ms,
            })
            .await?;
        Ok(NewSignIn {
            user: SessionUser {
                username: user.username,
                role: user.role,
                csrf: csrf_token(&session_id),
            },
            session_id,
            max_age_s: self.policy.absolute_ms / 1000,
        })
    }

    /// The user of a live session (touching it), `None` when it is unknown or expired.
    pub async fn session(&self, session_id: &str) -> Result<Option<SessionUser>, AccountsError> {
        let found = self
            .store
            .session(
                &hash_session_id(session_id),
                self.clock.now_ms(),
                self.policy.idle_ms,
            )
            .await?;
        Ok(found.map(|s| SessionUser {
            username: s.username,
            role: s.role,
            csrf: csrf_token(session_id),
        }))
    }

    /// Ends a session.
    pub async fn sign_out(&self, session_id: &str) -> Result<(), AccountsError> {
        self.store
            .delete_session(&hash_session_id(session_id))
            .await?;
        Ok(())
    }
}

/// argon2id with the OWASP parameters (19 MiB, 2 passes), on a blocking thread.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

async fn hash_password(password: String) -> Result<String, AccountsError> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        aws_lc_rs::rand::fill(&mut salt)
            .map_err(|_| AccountsError::Hash("no randomness".into()))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| AccountsError::Hash(e.to_string()))?;
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AccountsError::Hash(e.to_string()))
    })
    .await
    .map_err(|e| AccountsError::Hash(e.to_string()))?
}

/// A hash verified when the user is unknown (same cost as a real one; it matches no stored user).
fn decoy_hash() -> String {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY
        .get_or_init(|| {
            SaltString::encode_b64(b"assetsync-decoy!")
                .ok()
                .and_then(|salt| {
                    argon2()
                        .hash_password(b"decoy", &salt)
                        .ok()
                        .map(|h| h.to_string())
                })
                .unwrap_or_default()
        })
        .clone()
}

async fn verify_password(password: String, stored: Option<String>) -> bool {
    let known = stored.is_some();
    tokio::task::spawn_blocking(move || {
        let stored = stored.unwrap_or_else(decoy_hash);
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
            && known
    })
    .await
    .unwrap_or(false)
}

/// A random 256-bit value, hex.
pub fn random_token() -> Result<String, AccountsError> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| AccountsError::Hash("no randomness".into()))?;
    Ok(hex(&bytes))
}

/// What is stored of a session id.
fn hash_session_id(session_id: &str) -> String {
    hex(digest(&SHA256, session_id.as_bytes()).as_ref())
}

/// The CSRF token of a session: a hash of its id under another label (the id is secret, so is the token).
fn csrf_token(session_id: &str) -> String {
    hex(digest(&SHA256, format!("assetsync-csrf:{session_id}").as_bytes()).as_ref())
}

/// Compares two tokens in time that does not depend on where they differ.
pub fn tokens_match(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_match_only_when_equal() {
        assert!(super::tokens_match("abc", "abc"));
        assert!(!super::tokens_match("abc", "abd"));
        assert!(!super::tokens_match("abc", "ab"));
    }
}
