//! The admin console's accounts: user names, the two roles, and the rules a new password must meet.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a signed-in user may do: an admin changes things, a viewer sees everything and changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountRole {
    Admin,
    Viewer,
}

impl AccountRole {
    /// The stored and typed name: `admin` or `viewer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Viewer => "viewer",
        }
    }

    /// Reads `admin` or `viewer` (exactly).
    pub fn parse(raw: &str) -> Result<Self, AccountError> {
        match raw {
            "admin" => Ok(Self::Admin),
            "viewer" => Ok(Self::Viewer),
            other => Err(AccountError::UnknownRole(other.to_owned())),
        }
    }
}

impl fmt::Display for AccountRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user name: 1 to 64 characters among letters, digits, `.`, `_`, `-` and `@`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, AccountError> {
        let valid = !raw.is_empty()
            && raw.chars().count() <= 64
            && raw
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(AccountError::InvalidUsername)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = AccountError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Username> for String {
    fn from(name: Username) -> Self {
        name.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The shortest password accepted for a new user.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Checks a new password: at least [`MIN_PASSWORD_CHARS`] characters, not only spaces.
pub fn check_new_password(password: &str) -> Result<(), AccountError> {
    if password.trim().is_empty() {
        return Err(AccountError::EmptyPassword);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::ShortPassword);
    }
    Ok(())
}

/// Why an account value was refused (each message is a sentence an operator can act on).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("the role {0:?} is unknown: use admin or viewer")]
    UnknownRole(String),
    #[error(
        "a user name is 1 to 64 characters: letters, digits, '.', '_', '-' and '@' (no spaces)"
    )]
    InvalidUsername,
    #[error("the password is empty: type it on one line of standard input")]
    EmptyPassword,
    #[error("the password is too short: use at least {MIN_PASSWORD_CHARS} characters")]
    ShortPassword,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_names_are_checked() {
        assert_eq!(AccountRole::parse("viewer"), Ok(AccountRole::Viewer));
        assert!(AccountRole::parse("root").is_err());
        assert!(Username::parse("ops.admin@example").is_ok());
        assert_eq!(Username::parse("a b"), Err(AccountError::InvalidUsername));
        assert_eq!(Username::parse(""), Err(AccountError::InvalidUsername));
        assert_eq!(check_new_password("   "), Err(AccountError::EmptyPassword));
        assert_eq!(
            check_new_password("short"),
            Err(AccountError::ShortPassword)
        );
        assert_eq!(check_new_password("long enough pw"), Ok(()));
    }
}
