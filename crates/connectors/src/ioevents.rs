//! Adobe I/O Events delivery verification (reference §10.2): RSA-SHA256 over the raw body; a delivery is
//! authentic when `x-adobe-digital-signature-1` or `-2` verifies, against a pinned public key or against the
//! key its `x-adobe-public-key1-path` / `-2-path` names on the one configured key host (cached at most
//! `max_age`; a cached key keeps verifying while the key host is unreachable).

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

/// Adobe's I/O Events public key host.
pub const DEFAULT_KEY_HOST: &str = "https://static.adobeioevents.com";

/// After a failed fetch (or a key the host does not have), the key host is not asked for the same path again
/// for this long.
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
    /// Most key paths remembered (keys and paths that failed); the oldest without a key goes first.
    pub max_paths: usize,
}

/// The default bound of cached key paths.
pub const DEFAULT_MAX_KEY_PATHS: usize = 256;

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
    /// One cell per path. This lock is never held across an await; a path's own cell is held across its
    /// fetch, so concurrent deliveries naming one path share one fetch and wait for no other path.
    cache: std::sync::Mutex<KeyCache>,
}

/// The cached paths, at most `max_paths`.
#[derive(Debug, Default)]
struct KeyCache {
    entries: HashMap<String, CacheEntry>,
    /// Insertion counter (the oldest entry has the smallest `inserted`).
    next: u64,
}

#[derive(Debug)]
struct CacheEntry {
    cell: Arc<tokio::sync::Mutex<KeyCell>>,
    inserted: u64,
    /// Whether the cell held a key after its last fetch (entries without one are evicted first).
    holds_key: bool,
}

/// One path's key and when it is asked for again.
#[derive(Debug, Default)]
struct KeyCell {
    /// The key (DER), `None` when it could not be fetched or the host said it is gone.
    der: Option<Vec<u8>>,
    /// When the key host is asked again; `None` before the first fetch.
    refresh_at: Option<Instant>,
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
                    cache: std::sync::Mutex::new(KeyCache::default()),
                })
            }
            None => None,
        };
        if pinned.is_empty() && key_host.is_none() {
            return Err(KeyError::Empty);
        }
        Ok(Self { pinned, key_host })
    }

    /// How many key paths are cached now (keys, and paths whose fetch failed), at most `max_paths`.
    pub fn cached_key_paths(&self) -> usize {
        self.key_host.as_ref().map_or(0, |host| {
            host.cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entries
                .len()
        })
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
    /// The key at `path`: cached while fresh; fetched when due (one fetch per path at a time, which waits
    /// for no other path); a stale key only while the host is unreachable or failing (5xx); none once the
    /// host says the key is gone (404, 410, or another refusal).
    async fn key(&self, path: &str) -> Option<Vec<u8>> {
        if !is_key_path(path) {
            tracing::warn!(
                path = %path.chars().take(80).collect::<String>(),
                "a delivery named a public key path outside the key host; refused"
            );
            return None;
        }
        let slot = self.slot(path);
        // Only this path's cell is held across the fetch: callers of other paths go on.
        let mut cell = slot.lock().await;
        let now = Instant::now();
        if cell.refresh_at.is_some_and(|at| now < at) {
            return cell.der.clone();
        }
        let (der, retry_after) = match self.fetch(path).await {
            Ok(der) => (Some(der), self.settings.max_age),
            Err(Fetch::Transient(error)) => {
                if cell.der.is_some() {
                    tracing::warn!(%path, %error, "the key host failed; verifying with the cached key");
                } else {
                    tracing::warn!(%path, %error, "could not fetch an I/O Events public key");
                }
                (cell.der.take(), FAILED_FETCH_PAUSE)
            }
            Err(Fetch::Gone(error)) => {
                if cell.der.is_some() {
                    tracing::warn!(%path, %error, "the key host no longer has this key; dropped");
                } else {
                    tracing::warn!(%path, %error, "the key host has no such public key");
                }
                (None, FAILED_FETCH_PAUSE)
            }
        };
        cell.der = der;
        cell.refresh_at = Some(now + retry_after.min(self.settings.max_age));
        let holds_key = cell.der.is_some();
        let answer = cell.der.clone();
        drop(cell);
        self.mark(path, &slot, holds_key);
        answer
    }

    /// The cell of `path`, created when new (evicting one when the cache is full).
    fn slot(&self, path: &str) -> Arc<tokio::sync::Mutex<KeyCell>> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = cache.entries.get(path) {
            return entry.cell.clone();
        }
        while cache.entries.len() >= self.settings.max_paths.max(1) {
            cache.evict_one();
        }
        cache.next = cache.next.wrapping_add(1);
        let cell = Arc::new(tokio::sync::Mutex::new(KeyCell::default()));
        let inserted = cache.next;
        cache.entries.insert(
            path.to_owned(),
            CacheEntry {
                cell: cell.clone(),
                inserted,
                holds_key: false,
            },
        );
        cell
    }

    /// Records whether the cell of `path` (if still cached) holds a key, for eviction.
    fn mark(&self, path: &str, cell: &Arc<tokio::sync::Mutex<KeyCell>>, holds_key: bool) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = cache.entries.get_mut(path)
            && Arc::ptr_eq(&entry.cell, cell)
        {
            entry.holds_key = holds_key;
        }
    }

    async fn fetch(&self, path: &str) -> Result<Vec<u8>, Fetch> {
        let url = format!("{}{path}", self.settings.origin);
        let reply = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| Fetch::Transient(e.without_url().to_string()))?;
        let status = reply.status().as_u16();
        match status {
            200..=299 => {}
            408 | 429 | 500..=599 => return Err(Fetch::Transient(format!("HTTP {status}"))),
            _ => return Err(Fetch::Gone(format!("HTTP {status}"))),
        }
        let body = reply
            .bytes()
            .await
            .map_err(|e| Fetch::Transient(e.without_url().to_string()))?;
        if body.len() > MAX_KEY_BYTES {
            return Err(Fetch::Gone("the key file is too large".into()));
        }
        rsa_der(path, &body).map_err(|e| Fetch::Gone(e.to_string()))
    }
}

/// Why a key could not be fetched.
enum Fetch {
    /// The host is unreachable, timed out or failing (408, 429, 5xx): a cached key is kept.
    Transient(String),
    /// The host answered that there is no (usable) key there: a cached key is dropped.
    Gone(String),
}

impl KeyCache {
    /// Evicts the oldest entry that holds no key (a failed or unknown path), else the oldest entry.
    fn evict_one(&mut self) {
        let oldest = |want_key: Option<bool>| {
            self.entries
                .iter()
                .filter(|(_, e)| want_key.is_none_or(|k| e.holds_key == k))
                .min_by_key(|(_, e)| e.inserted)
                .map(|(path, _)| path.clone())
        };
        if let Some(path) = oldest(Some(false)).or_else(|| oldest(None)) {
            self.entries.remove(&path);
        }
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
                max_paths: DEFAULT_MAX_KEY_PATHS,
            }),
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        let delivery = DeliverySignatures {
            signatures: [Some("c2lnbmF0dXJl"), None],
            key_paths: [Some("//evil.example/key.pem"), None],
        };
        assert!(!verifier.verify(b"body", &delivery).await);
        assert_eq!(
            verifier.cached_key_paths(),
            0,
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
