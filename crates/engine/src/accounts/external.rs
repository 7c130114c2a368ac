//! Sign-in vouched for by an outside identity provider (OpenID Connect): the user is recorded under a name
//! of its own with the role the provider's claim gave, refreshed at each sign-in, and a password hash that no
//! password matches; then a session is made as for a local sign-in.

use super::{
    AccountsError, NewSignIn, SessionUser, Users, csrf_token, hash_session_id, random_token,
};
use domain::accounts::{AccountRole, Username};
use store::{NewSession, UserRecord};

/// What stands for the password hash of a user signed in through a provider: not a PHC string, so no
/// password ever verifies against it.
pub const EXTERNAL_HASH: &str = "!external-identity-provider";

impl Users {
    /// The time on this engine's clock, in milliseconds (for checking a token's `exp` and `iat`).
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Signs in a user the provider vouched for, with `role`. A local user of that name (one with a
    /// password) is never taken over: [`AccountsError::Exists`]. The user's role is the one given now.
    pub async fn sign_in_external(
        &self,
        username: &Username,
        role: AccountRole,
    ) -> Result<NewSignIn, AccountsError> {
        let now_ms = self.clock.now_ms();
        match self.store.user(username).await? {
            Some(user) if user.password_hash != EXTERNAL_HASH => {
                return Err(AccountsError::Exists(username.clone()));
            }
            Some(user) if user.role == role => {}
            found => {
                if found.is_some() {
                    self.store.remove_user(username).await?;
                }
                let record = UserRecord {
                    username: username.clone(),
                    role,
                    password_hash: EXTERNAL_HASH.to_owned(),
                    created_ms: now_ms,
                };
                if !self.store.add_user(&record).await? {
                    return Err(AccountsError::Exists(username.clone()));
                }
            }
        }
        let session_id = random_token()?;
        self.store
            .create_session(&NewSession {
                id_hash: hash_session_id(&session_id),
                username: username.clone(),
                created_ms: now_ms,
                expires_ms: now_ms + self.policy.absolute_ms,
            })
            .await?;
        Ok(NewSignIn {
            user: SessionUser {
                username: username.clone(),
                role,
                csrf: csrf_token(&session_id),
            },
            session_id,
            max_age_s: self.policy.absolute_ms / 1000,
        })
    }
}
