//! Why DAM reads are paused, and the guard against a mass unlink by misconfiguration: when the DAM answers
//! 404 (or 403) for many different assets in a short window — an ACL change, an `author_url` pointing at
//! another environment — reads pause instead of unlinking, until a read finds an asset again. Every read that
//! finds an asset clears the window, so deletions among successful reads never add up to a pause.

use domain::AssetId;
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Why DAM reads are paused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DamPause {
    /// AEM or IMS refused the credentials (after one token refresh).
    Credentials(String),
    /// AEM answered "not found" (or "forbidden") for many different assets in a short window.
    ManyMissing(String),
}

impl DamPause {
    /// The sentence health shows.
    pub fn reason(&self) -> &str {
        match self {
            Self::Credentials(reason) | Self::ManyMissing(reason) => reason,
        }
    }
}

/// How many different assets may answer 404/403 within how long before DAM reads pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingLimit {
    pub assets: usize,
    pub window: Duration,
}

impl Default for MissingLimit {
    fn default() -> Self {
        Self {
            assets: 50,
            window: Duration::from_secs(60),
        }
    }
}

/// The different assets that answered 404/403 lately, oldest first.
#[derive(Debug, Default)]
pub(crate) struct MissingWindow {
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    order: VecDeque<(i64, AssetId)>,
    last: HashMap<AssetId, i64>,
}

impl MissingWindow {
    /// Records that `asset` was not found (or refused) at `now_ms`; returns how many different assets were
    /// within the window.
    pub(crate) fn record(&self, asset: &AssetId, now_ms: i64, window: Duration) -> usize {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let since = now_ms.saturating_sub(window_ms);
        while let Some((at, id)) = seen.order.front().cloned() {
            if at >= since {
                break;
            }
            seen.order.pop_front();
            if seen.last.get(&id) == Some(&at) {
                seen.last.remove(&id);
            }
        }
        seen.order.push_back((now_ms, asset.clone()));
        seen.last.insert(asset.clone(), now_ms);
        seen.last.len()
    }

    /// Forgets everything (a read found an asset: the DAM answers as it should).
    pub(crate) fn reset(&self) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.order.clear();
        seen.last.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> AssetId {
        AssetId::parse(&format!("urn:aaid:aem:{n:08}")).unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn counts_different_assets_within_the_window() {
        let window = MissingWindow::default();
        let w = Duration::from_millis(1_000);
        assert_eq!(window.record(&id(1), 0, w), 1);
        assert_eq!(
            window.record(&id(1), 10, w),
            1,
            "the same asset counts once"
        );
        assert_eq!(window.record(&id(2), 20, w), 2);
        assert_eq!(
            window.record(&id(3), 1_015, w),
            2,
            "the first reads left the window"
        );
        window.reset();
        assert_eq!(window.record(&id(4), 1_020, w), 1);
    }
}
