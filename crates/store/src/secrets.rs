//! Secrets at rest: the integration configuration's secret fields (`domain::config::SECRET_FIELDS`) are
//! stored sealed with AES-256-GCM, as `{"sealed": "<base64 of nonce ‖ ciphertext ‖ tag>"}`, never as text.
//! The key comes from `ASSETSYNC_SECRET_KEY` (read by the caller) or from a key file beside the database,
//! created with mode 0600 on first use. A plaintext value stored before is read as it is and sealed when
//! the store opens.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use std::fmt;
use std::io::Write;
use std::path::Path;

/// The environment variable that holds the key (32 bytes, base64).
pub const SECRET_KEY_ENV: &str = "ASSETSYNC_SECRET_KEY";

/// Bytes of an AES-256 key.
const KEY_LEN: usize = 32;

/// Binds a sealed value to what it is.
const AAD: &[u8] = b"assetsync integration secret v1";

/// A key or a sealed value could not be used. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretKeyError {
    #[error(
        "{SECRET_KEY_ENV} must be 32 bytes in base64 (for example the output of `openssl rand -base64 32`)"
    )]
    BadEnvKey,
    #[error("the key file {0} is not 32 bytes in base64")]
    BadKeyFile(String),
    #[error("the key file {path}: {message}")]
    KeyFile { path: String, message: String },
    #[error("no random bytes for a key or nonce")]
    Random,
    #[error(
        "a stored secret cannot be decrypted with this key (was {SECRET_KEY_ENV} or the key file beside the \
         database changed?)"
    )]
    Undecryptable,
}

/// The AES-256-GCM key secrets are sealed with. `Debug` prints `***`.
pub struct SecretKey(LessSafeKey);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl SecretKey {
    /// The key given as base64 (the value of [`SECRET_KEY_ENV`]).
    pub fn from_base64(text: &str) -> Result<Self, SecretKeyError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| SecretKeyError::BadEnvKey)?;
        Self::from_bytes(&bytes).ok_or(SecretKeyError::BadEnvKey)
    }

    /// A new random key (for an in-memory database, whose secrets die with it).
    pub fn random() -> Result<Self, SecretKeyError> {
        let bytes = random_bytes::<KEY_LEN>()?;
        Self::from_bytes(&bytes).ok_or(SecretKeyError::Random)
    }

    /// The key in the file at `path`, created (mode 0600, a random key) when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, SecretKeyError> {
        let shown = path.display().to_string();
        let file_error = |e: std::io::Error| SecretKeyError::KeyFile {
            path: shown.clone(),
            message: e.to_string(),
        };
        match create_key_file(path) {
            Ok(key) => return Ok(key),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(file_error(e)),
        }
        warn_if_readable_by_others(path);
        let text = std::fs::read_to_string(path).map_err(file_error)?;
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| SecretKeyError::BadKeyFile(shown.clone()))?;
        Self::from_bytes(&bytes).ok_or(SecretKeyError::BadKeyFile(shown))
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != KEY_LEN {
            return None;
        }
        UnboundKey::new(&AES_256_GCM, bytes)
            .ok()
            .map(|key| Self(LessSafeKey::new(key)))
    }

    /// `plaintext` sealed: base64 of a random nonce, the ciphertext and the tag.
    pub fn seal(&self, plaintext: &str) -> Result<String, SecretKeyError> {
        let nonce = random_bytes::<NONCE_LEN>()?;
        let mut sealed = plaintext.as_bytes().to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut sealed,
            )
            .map_err(|_| SecretKeyError::Random)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(STANDARD.encode(out))
    }

    /// The plaintext of a value [`Self::seal`] made with this key.
    pub fn open(&self, sealed: &str) -> Result<String, SecretKeyError> {
        let bytes = STANDARD
            .decode(sealed)
            .map_err(|_| SecretKeyError::Undecryptable)?;
        if bytes.len() < NONCE_LEN {
            return Err(SecretKeyError::Undecryptable);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| SecretKeyError::Undecryptable)?;
        let mut in_out = ciphertext.to_vec();
        let plaintext = self
            .0
            .open_in_place(nonce, Aad::from(AAD), &mut in_out)
            .map_err(|_| SecretKeyError::Undecryptable)?;
        String::from_utf8(plaintext.to_vec()).map_err(|_| SecretKeyError::Undecryptable)
    }

    /// Seals every secret field of a configuration object that is still plain text. Returns whether one was.
    pub(crate) fn seal_fields(&self, config: &mut Value) -> Result<bool, SecretKeyError> {
        let mut sealed_any = false;
        for field in domain::config::SECRET_FIELDS {
            if let Some(slot) = config.get_mut(field)
                && let Value::String(plaintext) = slot
            {
                *slot = serde_json::json!({ "sealed": self.seal(plaintext)? });
                sealed_any = true;
            }
        }
        Ok(sealed_any)
    }

    /// Opens every sealed secret field of a configuration object (plain text, stored before, is kept).
    pub(crate) fn open_fields(&self, config: &mut Value) -> Result<(), SecretKeyError> {
        for field in domain::config::SECRET_FIELDS {
            if let Some(slot) = config.get_mut(field)
                && let Some(sealed) = slot.get("sealed").and_then(Value::as_str)
            {
                *slot = Value::String(self.open(sealed)?);
            }
        }
        Ok(())
    }
}

fn random_bytes<const N: usize>() -> Result<[u8; N], SecretKeyError> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| SecretKeyError::Random)?;
    Ok(bytes)
}

/// Creates the key file with a new random key, readable by its owner only; fails if it exists.
fn create_key_file(path: &Path) -> std::io::Result<SecretKey> {
    let bytes = random_bytes::<KEY_LEN>().map_err(std::io::Error::other)?;
    let key = SecretKey::from_bytes(&bytes)
        .ok_or_else(|| std::io::Error::other("the key could not be made"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(format!("{}\n", STANDARD.encode(bytes)).as_bytes())?;
    file.sync_all()?;
    Ok(key)
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = std::fs::metadata(path)
            && metadata.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                "the secret key file is readable by other users; chmod 600 it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_with_its_key_only() -> Result<(), SecretKeyError> {
        let key = SecretKey::random()?;
        let sealed = key.seal("matcher-secret")?;
        assert!(!sealed.contains("matcher-secret"));
        assert_ne!(
            sealed,
            key.seal("matcher-secret")?,
            "a fresh nonce each time"
        );
        assert_eq!(key.open(&sealed)?, "matcher-secret");
        assert_eq!(
            SecretKey::random()?.open(&sealed),
            Err(SecretKeyError::Undecryptable)
        );
        assert_eq!(
            SecretKey::from_base64("c2hvcnQ=").map(drop),
            Err(SecretKeyError::BadEnvKey)
        );
        Ok(())
    }
}
