//! Lease renewal while work runs. Every work item a worker processes is registered here with a
//! [`LeaseToken`]; one task renews all registered leases every `lease / 3` in one store call, fenced on the
//! value each holds. A lease found taken revokes its token, and the sink stops before its next write. A
//! group-committed outcome keeps its lease renewed until its batch begins to commit
//! ([`Leases::commit_fenced`]): a queue of outcomes waiting for the database must not let their leases run out
//! and hand the work to another process.

use crate::Engine;
use crate::clock::Clock;
use crate::group_commit::ItemResult;
use connectors::sink::LeaseToken;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use store::{AssetWork, HeldLease, SkuWork, StoreError, StoreResult, WorkKey};

/// Work held under a lease: its key, and the lease value its completion is fenced on.
pub(crate) trait Leased {
    fn key(&self) -> WorkKey;
    fn set_lease(&mut self, lease_until_ms: i64);
}

impl Leased for AssetWork {
    fn key(&self) -> WorkKey {
        WorkKey::Asset(self.asset_id.clone())
    }
    fn set_lease(&mut self, lease_until_ms: i64) {
        self.lease_until_ms = lease_until_ms;
    }
}

impl Leased for SkuWork {
    fn key(&self) -> WorkKey {
        WorkKey::Sku(self.sku.clone())
    }
    fn set_lease(&mut self, lease_until_ms: i64) {
        self.lease_until_ms = lease_until_ms;
    }
}
use tokio::sync::watch;

/// The leases held by this process's workers.
pub(crate) struct Leases {
    held: Mutex<HashMap<WorkKey, LeaseToken>>,
    /// Written across a renewal, read across a release or a commit of outcomes: those wait until the renewal
    /// in flight is stored, so a completion is fenced on the newest lease value.
    renewing: tokio::sync::RwLock<()>,
    /// The engine's clock: a token runs out on the time its lease was stored in.
    clock: Arc<dyn Clock>,
}

impl Leases {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            held: Mutex::default(),
            renewing: tokio::sync::RwLock::default(),
            clock,
        }
    }

    /// Registers a claimed item; its lease is renewed until [`Leases::release`].
    pub(crate) fn hold(&self, key: WorkKey, lease_until_ms: i64, margin_ms: i64) -> LeaseToken {
        let clock = self.clock.clone();
        let token =
            LeaseToken::with_clock(lease_until_ms, margin_ms, Arc::new(move || clock.now_ms()));
        self.lock().insert(key, token.clone());
        token
    }

    /// Stops renewing an item; returns its current lease value, `None` when the lease was lost.
    pub(crate) async fn release(&self, key: &WorkKey, token: &LeaseToken) -> Option<i64> {
        let _renewal = self.renewing.read().await;
        let mut held = self.lock();
        if held.get(key).is_some_and(|current| current.same_as(token)) {
            held.remove(key);
        }
        drop(held);
        (!token.revoked()).then(|| token.until_ms())
    }

    /// Stops renewing an item whose outcome will not be stored.
    pub(crate) fn forget(&self, key: &WorkKey, token: &LeaseToken) {
        let mut held = self.lock();
        if held.get(key).is_some_and(|current| current.same_as(token)) {
            held.remove(key);
        }
    }

    /// Stores the outcomes of leased work with `commit`, each fenced on its lease's current value, then stops
    /// renewing them. The values are read while no renewal is in flight (so they are the stored ones) and the
    /// items leave the renewal set then; the commit itself runs beside renewals, which other work needs. An
    /// item whose lease was lost is not written: its result says so. One result per item, in order.
    pub(crate) async fn commit_fenced<W, O, F, Fut>(
        &self,
        items: Vec<(W, O, LeaseToken)>,
        commit: F,
    ) -> Result<Vec<ItemResult<()>>, String>
    where
        W: Leased,
        F: FnOnce(Vec<(W, O)>) -> Fut,
        Fut: Future<Output = StoreResult<Vec<StoreResult<()>>>>,
    {
        let mut fenced = Vec::with_capacity(items.len());
        let mut live = Vec::with_capacity(items.len());
        {
            let _renewal = self.renewing.read().await;
            for (mut work, outcome, token) in items {
                self.forget(&work.key(), &token);
                let alive = !token.revoked();
                if alive {
                    work.set_lease(token.until_ms());
                    live.push((work, outcome));
                }
                fenced.push(alive);
            }
        }
        let mut stored = commit(live)
            .await
            .map_err(|error| error.to_string())?
            .into_iter();
        Ok(fenced
            .into_iter()
            .map(|alive| match (alive, stored.next()) {
                (true, Some(result)) => result.map_err(|error| error.to_string()),
                _ => Err(StoreError::LeaseLost.to_string()),
            })
            .collect())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<WorkKey, LeaseToken>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Renews every held lease every `lease / 3` until shutdown.
pub(crate) async fn run_renewals(engine: Arc<Engine>, mut shutdown: watch::Receiver<bool>) {
    let lease_ms = crate::workers::lease_ms(&engine);
    let period = Duration::from_millis(u64::try_from(lease_ms / 3).unwrap_or(1).max(1));
    loop {
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            _ = shutdown.changed() => return,
        }
        renew(&engine, lease_ms).await;
    }
}

async fn renew(engine: &Engine, lease_ms: i64) {
    let leases = &engine.leases;
    let _renewal = leases.renewing.write().await;
    let held: Vec<(WorkKey, LeaseToken)> = leases
        .lock()
        .iter()
        .map(|(key, token)| (key.clone(), token.clone()))
        .collect();
    if held.is_empty() {
        return;
    }
    let request: Vec<HeldLease> = held
        .iter()
        .map(|(key, token)| HeldLease {
            key: key.clone(),
            lease_until_ms: token.until_ms(),
        })
        .collect();
    let until = engine.now_ms().saturating_add(lease_ms);
    match engine.store.renew_leases(&request, until).await {
        Ok(renewed) => {
            for ((key, token), renewed) in held.iter().zip(renewed) {
                if renewed {
                    token.renewed(until);
                } else {
                    tracing::warn!(?key, "a work item's lease was lost; its worker stops");
                    token.revoke();
                    leases.lock().remove(key);
                }
            }
        }
        Err(error) => {
            tracing::warn!(%error, "could not renew leases; retrying (workers stop when one runs out)")
        }
    }
}
