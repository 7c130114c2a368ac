//! [`Coordination`] for SQLite: the database is this process's alone (its lock file), so every duty is led here,
//! once at a time, and there are no other processes to wake.

use super::SqliteStore;
use crate::{Coordination, Duty, Leadership, StoreResult, WakeUp};
use async_trait::async_trait;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{mpsc, watch};

/// The duties this process leads now.
#[derive(Default)]
pub(super) struct Duties(Arc<Mutex<HashSet<Duty>>>);

/// Hands its duty back when dropped; keeps the leadership's `lost` sender alive (so it is never lost).
struct Held {
    duties: Arc<Mutex<HashSet<Duty>>>,
    duty: Duty,
    _lost: watch::Sender<bool>,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.duties
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.duty);
    }
}

#[async_trait]
impl Coordination for SqliteStore {
    async fn exclusive(&self) -> bool {
        true
    }

    async fn try_lead(&self, duty: Duty) -> StoreResult<Option<Leadership>> {
        let duties = self.duties.0.clone();
        if !duties
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(duty)
        {
            return Ok(None);
        }
        let (lost, lost_rx) = watch::channel(false);
        Ok(Some(Leadership::new(
            lost_rx,
            Held {
                duties,
                duty,
                _lost: lost,
            },
        )))
    }

    async fn wake_ups(&self) -> StoreResult<Option<mpsc::Receiver<WakeUp>>> {
        Ok(None)
    }
}
