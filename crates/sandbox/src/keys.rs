//! The I/O Events signing keys the emulator generates: two RSA-2048 key pairs, as Adobe signs every
//! delivery twice (`x-adobe-digital-signature-1` and `-2`) to allow key rotation. Each public key is
//! published on the emulated key host under its own path (`/prod/keys/pub-key-<random>.pem`), which
//! deliveries name in `x-adobe-public-key1-path` / `-2-path`.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::sync::{Arc, PoisonError, RwLock};

/// Two signing key pairs, with the key-host paths of their public keys.
pub struct SigningKeys {
    pairs: [KeyPair; 2],
    paths: [String; 2],
    rng: SystemRandom,
}

/// Why keys could not be made or used.
#[derive(Debug, thiserror::Error)]
#[error("RSA key operation failed")]
pub struct KeyFailure;

impl SigningKeys {
    /// Generates two fresh RSA-2048 key pairs.
    pub fn generate() -> Result<Self, KeyFailure> {
        let first = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyFailure)?;
        let second = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyFailure)?;
        let path = || format!("/prod/keys/pub-key-{}.pem", crate::aem::random_uuid());
        Ok(Self {
            pairs: [first, second],
            paths: [path(), path()],
            rng: SystemRandom::new(),
        })
    }

    /// The key-host paths of public keys 1 and 2 (`/prod/keys/….pem`).
    pub fn paths(&self) -> [&str; 2] {
        [&self.paths[0], &self.paths[1]]
    }

    /// The SPKI PEM published at key-host `path`, if it is one of these keys'.
    pub fn public_key_at(&self, path: &str) -> Option<Result<String, KeyFailure>> {
        let index = self.paths.iter().position(|p| p == path)?;
        Some(self.public_key_pem(index))
    }

    /// Base64 RSA-SHA256 signatures of `body` by key 1 and key 2.
    pub fn sign(&self, body: &[u8]) -> Result<[String; 2], KeyFailure> {
        let one = self.sign_with(0, body)?;
        let two = self.sign_with(1, body)?;
        Ok([one, two])
    }

    fn sign_with(&self, index: usize, body: &[u8]) -> Result<String, KeyFailure> {
        let pair = &self.pairs[index];
        let mut signature = vec![0; pair.public_modulus_len()];
        pair.sign(&RSA_PKCS1_SHA256, &self.rng, body, &mut signature)
            .map_err(|_| KeyFailure)?;
        Ok(STANDARD.encode(signature))
    }

    /// Public key `index` (0 or 1) as an SPKI PEM (`BEGIN PUBLIC KEY`), as Adobe publishes them.
    pub fn public_key_pem(&self, index: usize) -> Result<String, KeyFailure> {
        let der = self
            .pairs
            .get(index)
            .ok_or(KeyFailure)?
            .public_key()
            .as_der()
            .map_err(|_| KeyFailure)?;
        Ok(pem("PUBLIC KEY", der.as_ref()))
    }

    /// Public key `index` (0 or 1) as a PKCS#1 PEM (`BEGIN RSA PUBLIC KEY`).
    pub fn public_key_pkcs1_pem(&self, index: usize) -> Result<String, KeyFailure> {
        let pair = self.pairs.get(index).ok_or(KeyFailure)?;
        Ok(pem("RSA PUBLIC KEY", pair.public_key().as_ref()))
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let encoded = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in encoded.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The emulator's current signing keys; a rotation replaces both pairs (and their paths) at once.
pub(crate) struct KeyRing(RwLock<Arc<SigningKeys>>);

impl KeyRing {
    pub(crate) fn new(keys: SigningKeys) -> Self {
        Self(RwLock::new(Arc::new(keys)))
    }

    pub(crate) fn current(&self) -> Arc<SigningKeys> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Generates new key pairs under new paths; the old ones are no longer published or used.
    pub(crate) fn rotate(&self) -> Result<Arc<SigningKeys>, KeyFailure> {
        let fresh = Arc::new(SigningKeys::generate()?);
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = fresh.clone();
        Ok(fresh)
    }
}
