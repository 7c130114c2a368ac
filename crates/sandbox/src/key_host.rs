//! The emulated I/O Events public key host (`GET /prod/keys/<name>.pem`), as the AEM emulator serves it: the
//! current signing keys' public halves; a rotated-away or unknown path is 404. Faults: an outage (503), and
//! a hold on unknown paths (their requests wait until released, as a slow key host would make them wait).

use crate::keys::KeyRing;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use tokio::sync::watch;

/// The key host's state and counters.
pub(crate) struct KeyHostState {
    /// While true, every request is answered 503 (an outage).
    down: AtomicBool,
    /// Public keys served.
    served: AtomicU64,
    /// Requests per path, whatever the answer.
    requests: Mutex<HashMap<String, u64>>,
    /// While true, requests for paths that hold no key wait (until released, or the client gives up).
    hold_unknown: watch::Sender<bool>,
    /// Requests waiting on the hold now.
    held: AtomicU64,
}

impl Default for KeyHostState {
    fn default() -> Self {
        Self {
            down: AtomicBool::new(false),
            served: AtomicU64::new(0),
            requests: Mutex::new(HashMap::new()),
            hold_unknown: watch::channel(false).0,
            held: AtomicU64::new(0),
        }
    }
}

/// Counts a held request while it waits (also when the client gives up and the handler is dropped).
struct Held<'a>(&'a AtomicU64);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl KeyHostState {
    pub(crate) fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::Relaxed);
    }

    pub(crate) fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    pub(crate) fn hold_unknown(&self, hold: bool) {
        self.hold_unknown.send_replace(hold);
    }

    pub(crate) fn held(&self) -> u64 {
        self.held.load(Ordering::SeqCst)
    }

    pub(crate) fn requests(&self, path: &str) -> u64 {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn total_requests(&self) -> u64 {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .sum()
    }

    /// `GET /prod/keys/{name}`.
    pub(crate) async fn serve(&self, keys: &KeyRing, name: &str) -> Response {
        let path = format!("/prod/keys/{name}");
        *self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(path.clone())
            .or_default() += 1;
        if self.down.load(Ordering::Relaxed) {
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        match keys.current().public_key_at(&path) {
            Some(Ok(pem)) => {
                self.served.fetch_add(1, Ordering::Relaxed);
                ([(header::CONTENT_TYPE, "application/x-pem-file")], pem).into_response()
            }
            Some(Err(_)) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            None => {
                let mut hold = self.hold_unknown.subscribe();
                if *hold.borrow_and_update() {
                    self.held.fetch_add(1, Ordering::SeqCst);
                    let _held = Held(&self.held);
                    let _ = hold.wait_for(|held| !*held).await;
                }
                StatusCode::NOT_FOUND.into_response()
            }
        }
    }
}
