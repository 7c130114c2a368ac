//! Adobe I/O Events delivery verification (reference §10.2): RSA-SHA256 over the raw body; a delivery is
//! authentic when `x-adobe-digital-signature-1` or `-2` verifies against any configured public key.

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A public key that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{0}: no PEM block (expected BEGIN PUBLIC KEY or BEGIN RSA PUBLIC KEY)")]
    NoPem(String),
    #[error("{0}: the PEM body is not base64")]
    Base64(String),
    #[error("{0}: not an RSA public key (SPKI or PKCS#1), or shorter than 2048 bits")]
    NotRsa(String),
    #[error("no public key configured")]
    Empty,
}

/// Verifies deliveries against a set of RSA public keys.
#[derive(Debug, Clone)]
pub struct EventVerifier {
    keys: Vec<Vec<u8>>,
}

impl EventVerifier {
    /// Reads keys from `(name, content)` pairs. A content is a PEM text (`PUBLIC KEY` = SPKI,
    /// `RSA PUBLIC KEY` = PKCS#1) or raw DER in either form.
    pub fn from_keys<'a>(
        keys: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Self, KeyError> {
        let mut ders = Vec::new();
        for (name, content) in keys {
            let der = if content.windows(11).any(|w| w == b"-----BEGIN ") {
                pem_body(name, content)?
            } else {
                content.to_vec()
            };
            aws_lc_rs::rsa::PublicKey::from_der(&der)
                .map_err(|_| KeyError::NotRsa(name.to_owned()))?;
            ders.push(der);
        }
        if ders.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(Self { keys: ders })
    }

    /// True when any of the base64 `signatures` is a valid RSA-SHA256 signature of `body` by any key.
    pub fn verify(&self, body: &[u8], signatures: &[&str]) -> bool {
        signatures
            .iter()
            .filter_map(|s| STANDARD.decode(s.trim()).ok())
            .any(|signature| {
                self.keys.iter().any(|key| {
                    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key)
                        .verify(body, &signature)
                        .is_ok()
                })
            })
    }
}

fn pem_body(name: &str, content: &[u8]) -> Result<Vec<u8>, KeyError> {
    let text = String::from_utf8_lossy(content);
    let mut inside = false;
    let mut body = String::new();
    for line in text.lines().map(str::trim) {
        if line == "-----BEGIN PUBLIC KEY-----" || line == "-----BEGIN RSA PUBLIC KEY-----" {
            inside = true;
        } else if line.starts_with("-----END ") && inside {
            return STANDARD
                .decode(body.as_bytes())
                .map_err(|_| KeyError::Base64(name.to_owned()));
        } else if inside {
            body.push_str(line);
        }
    }
    Err(KeyError::NoPem(name.to_owned()))
}
