//! Adobe I/O Events delivery verification (reference §10.2): RSA-SHA256 over the raw body; a delivery is
//! authentic when `x-adobe-digital-signature-1` or `-2` verifies, against a pinned public key or against the
//! key its `x-adobe-public-key1-path` / `-2-path` names on the one configured key host (cached at most
//! `max_age`; a cached key keeps verifying while the key host is unreachable).

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Adobe's I/O Events public key host.
pub const DEFAULT_KEY_HOST: &str = "https://static.adobeioevents.com";

/// After a failed fetch, the key host is not asked for the same path again for this long.
const FAILED_FETCH_PAUSE: Duration = Duration::from_secs(30);

/// Largest public key file read from the key host.
const MAX_KEY_BYTES: usize = 16 * 1024;

/// A public key that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{0}: no PEM block (expected BEGIN PUBLIC KEY or BEGIN RSA PUBLIC KEY)")]
    NoPem(String),
    #[error("{0}: the PEM body is not base64")]
    Base64(String),
    #[error("{0}: not an RSA public key (SPKI or PKCS#1), or shorter than 2048 bits")]
    NotRsa(String),
    #[error("no public key configured and no key host")]
    Empty,
    #[error("no HTTP client for the key host: {0}")]
    Client(String),
}

/// Where public keys named by deliveries are fetched.
#[derive(Debug, Clone)]
pub struct KeyHostSettings {
    /// The key host's origin, e.g. [`DEFAULT_KEY_HOST`]; key paths are appended to it.
    pub origin: String,
    /// How long a fetched key is used before it is fetched again (at most 24 hours).
    pub max_age: Duration,
    /// Bound of one key request.
    pub timeout: Duration,
}

/// The signature headers of one delivery.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeliverySignatures<'a> {
    /// `x-adobe-digital-signature-1` and `-2` (base64).
    pub signatures: [Option<&'a str>; 2],
    /// `x-adobe-public-key1-path` and `-2-path`: the key-host paths of the keys that made them.
    pub key_paths: [Option<&'a str>; 2],
}

/// Verifies deliveries against pinned RSA public keys and keys fetched from the key host.
#[derive(Debug)]
pub struct EventVerifier {
    pinned: Vec<Vec<u8>>,
    key_host: Option<KeyHost>,
}

#[derive(Debug)]
struct KeyHost {
    http: reqwest::Client,
    settings: KeyHostSettings,
    /// Keys by path; the lock is held across a fetch, so one delivery fetches a key for all.
    cache: tokio::sync::Mutex<HashMap<String, CachedKey>>,
}

#[derive(Debug)]
struct CachedKey {
    /// The key (DER), `None` when it could never be fetched.
    der: Option<Vec<u8>>,
    /// When the key is fetched again.
    refresh_at: Instant,
}

impl EventVerifier {
    /// Reads pinned keys from `(name, content)` pairs (a content is a PEM text, `PUBLIC KEY` = SPKI or
    /// `RSA PUBLIC KEY` = PKCS#1, or raw DER in either form) and, with `key_host`, also verifies with the keys
    /// deliveries name. At least one of the two is needed.
    pub fn new<'a>(
        pinned: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        key_host: Option<KeyHostSettings>,
    ) -> Result<Self, KeyError> {
        let pinned = pinned
            .into_iter()
            .map(|(name, content)| rsa_der(name, content))
            .collect::<Result<Vec<_>, _>>()?;
        let key_host = match key_host {
            Some(settings) => {
                let http = reqwest::Client::builder()
                    .timeout(settings.timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|e| KeyError::Client(e.to_string()))?;
                Some(KeyHost {
                    http,
                    settings: KeyHostSettings {
                        origin: settings.origin.trim_end_matches('/').to_owned(),
                        ..settings
                    },
                    cache: tokio::sync::Mutex::new(HashMap::new()),
                })
            }
            None => None,
        };
        if pinned.is_empty() && key_host.is_none() {
            return Err(KeyError::Empty);
        }
        Ok(Self { pinned, key_host })
    }

    /// Pinned keys only.
    pub fn from_keys<'a>(
        keys: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Self, KeyError> {
        Self::new(keys, None)
    }

    /// True when either signature is a valid RSA-SHA256 signature of `body` by a pinned key, or by the key
    /// the delivery names for it on the key host.
    pub async fn verify(&self, body: &[u8], delivery: &DeliverySignatures<'_>) -> bool {
        let decoded: Vec<(usize, Vec<u8>)> = delivery
            .signatures
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i, STANDARD.decode((*s)?.trim()).ok()?)))
            .collect();
        if decoded
            .iter()
            .any(|(_, signature)| self.pinned.iter().any(|key| valid(key, body, signature)))
        {
            return true;
        }
        let Some(key_host) = &self.key_host else {
            return false;
        };
        for (index, signature) in &decoded {
            let Some(path) = delivery.key_paths[*index] else {
                continue;
            };
            if let Some(key) = key_host.key(path).await
                && valid(&key, body, signature)
            {
                return true;
            }
        }
        false
    }
}

fn valid(key: &[u8], body: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key)
        .verify(body, signature)
        .is_ok()
}

/// True for a key-host path that cannot lead anywhere but the key host: `/` then letters, digits, `.`, `_`,
/// `-` and `/`, without `//` or `..` (so no scheme, authority, `@`, query or traversal).
pub fn is_key_path(path: &str) -> bool {
    path.starts_with('/')
        && path.len() <= 256
        && !path.contains("//")
        && !path.contains("..")
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-'))
}

impl KeyHost {
    /// The key at `path`: cached while fresh; fetched when due; a stale key while the host fails.
    async fn key(&self, path: &str) -> Option<Vec<u8>> {
        if !is_key_path(path) {
            tracing::warn!(
                path = %path.chars().take(80).collect::<String>(),
                "a delivery named a public key path outside the key host; refused"
            );
            return None;
        }
        let mut cache = self.cache.lock().await;
        let now = Instant::now();
        if let Some(cached) = cache.get(path)
            && now < cached.refresh_at
        {
            return cached.der.clone();
        }
        match self.fetch(path).await {
            Ok(der) => {
                cache.insert(
                    path.to_owned(),
                    CachedKey {
                        der: Some(der.clone()),
                        refresh_at: now + self.settings.max_age,
                    },
                );
                Some(der)
            }
            Err(error) => {
                let stale = cache.get(path).and_then(|cached| cached.der.clone());
                if stale.is_some() {
                    tracing::warn!(%path, %error, "the key host failed; verifying with the cached key");
                } else {
                    tracing::warn!(%path, %error, "could not fetch an I/O Events public key");
                }
                cache.insert(
                    path.to_owned(),
                    CachedKey {
                        der: stale.clone(),
                        refresh_at: now + FAILED_FETCH_PAUSE.min(self.settings.max_age),
                    },
                );
                stale
            }
        }
    }

    async fn fetch(&self, path: &str) -> Result<Vec<u8>, String> {
        let url = format!("{}{path}", self.settings.origin);
        let reply = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if !reply.status().is_success() {
            return Err(format!("HTTP {}", reply.status().as_u16()));
        }
        let body = reply
            .bytes()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if body.len() > MAX_KEY_BYTES {
            return Err("the key file is too large".into());
        }
        rsa_der(path, &body).map_err(|e| e.to_string())
    }
}

/// The DER of an RSA public key given as PEM or DER.
fn rsa_der(name: &str, content: &[u8]) -> Result<Vec<u8>, KeyError> {
    let der = if content.windows(11).any(|w| w == b"-----BEGIN ") {
        pem_body(name, content)?
    } else {
        content.to_vec()
    };
    aws_lc_rs::rsa::PublicKey::from_der(&der).map_err(|_| KeyError::NotRsa(name.to_owned()))?;
    Ok(der)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_on_the_key_host_are_key_paths() {
        assert!(is_key_path("/prod/keys/pub-key-Ab12_x.pem"));
        for path in [
            "prod/keys/a.pem",
            "//evil.example/a.pem",
            "/prod/../../a.pem",
            "@evil.example/a.pem",
            "/a@evil.example/a.pem",
            "https://evil.example/a.pem",
            "/prod/keys/a.pem?x=1",
            "/prod/keys/a.pem#x",
            "/prod\\keys/a.pem",
            "/prod/keys/a pem",
            "",
        ] {
            assert!(!is_key_path(path), "{path}");
        }
    }

    #[tokio::test]
    async fn a_path_to_another_host_is_refused_without_a_request() {
        // The key host does not listen: any request would fail slowly or differently; the path is refused first.
        let verifier = EventVerifier::new(
            [],
            Some(KeyHostSettings {
                origin: "http://127.0.0.1:9".into(),
                max_age: Duration::from_secs(60),
                timeout: Duration::from_millis(200),
            }),
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        let delivery = DeliverySignatures {
            signatures: [Some("c2lnbmF0dXJl"), None],
            key_paths: [Some("//evil.example/key.pem"), None],
        };
        assert!(!verifier.verify(b"body", &delivery).await);
        let key_host = verifier.key_host.as_ref().unwrap_or_else(|| unreachable!());
        assert!(
            key_host.cache.lock().await.is_empty(),
            "nothing was fetched or cached"
        );
    }

    #[test]
    fn nothing_to_verify_with_is_an_error() {
        assert_eq!(
            EventVerifier::new([], None).err().map(|e| e.to_string()),
            Some(KeyError::Empty.to_string())
        );
    }
}
