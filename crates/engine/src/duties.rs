//! Duties one process of a cluster performs at a time (the full sync, anti-entropy, the pruner, the journal
//! reader), and wake-ups from the other processes. Every process tries to lead every duty; the store grants
//! each to one ([`store::Coordination::try_lead`]). The leader runs it until shutdown or until it loses the duty
//! (its database connection ended), then stops it and tries again; a process that dies hands its duties over.

use crate::Engine;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use store::{Duty, WakeUp};
use tokio::sync::watch;

/// How often a process that does not lead a duty asks for it again.
const RETRY: Duration = Duration::from_secs(1);

/// Runs `task` whenever this process leads `duty`, until shutdown. The task gets a receiver that turns true
/// at shutdown or when the duty is lost, and must return then.
pub(crate) async fn lead<F, Fut>(
    engine: Arc<Engine>,
    duty: Duty,
    mut shutdown: watch::Receiver<bool>,
    task: F,
) where
    F: Fn(Arc<Engine>, watch::Receiver<bool>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut waiting_logged = false;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let mut leadership = match engine.store.try_lead(duty).await {
            Ok(Some(leadership)) => leadership,
            Ok(None) => {
                if !waiting_logged {
                    tracing::info!(duty = duty.name(), "another process leads this duty");
                    waiting_logged = true;
                }
                if wait(&mut shutdown, RETRY).await {
                    return;
                }
                continue;
            }
            Err(error) => {
                tracing::warn!(duty = duty.name(), %error, "could not ask for a duty; retrying");
                if wait(&mut shutdown, RETRY).await {
                    return;
                }
                continue;
            }
        };
        tracing::info!(duty = duty.name(), "leading");
        waiting_logged = false;
        let (stop, stop_rx) = watch::channel(false);
        let mut running = tokio::spawn(task(engine.clone(), stop_rx));
        tokio::select! {
            _ = &mut running => {
                // The task ended by itself: it does so only when stopped, or when it has nothing to do.
                return;
            }
            () = stopped(&mut shutdown) => {
                let _ = stop.send(true);
                let _ = running.await;
                return;
            }
            () = leadership.lost() => {
                tracing::warn!(duty = duty.name(), "lost the duty (its database connection ended); stopping it");
                let _ = stop.send(true);
                let _ = running.await;
            }
        }
    }
}

/// Resolves once `shutdown` turns true (or its sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    while !*shutdown.borrow_and_update() {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

/// Sleeps `period`; true when shutdown came first.
async fn wait(shutdown: &mut watch::Receiver<bool>, period: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(period) => false,
        () = stopped(shutdown) => true,
    }
}

/// Wakes this process's workers when another process queues work (where the store sends wake-ups), until
/// shutdown. Without wake-ups the workers find the work by polling.
pub(crate) async fn forward_wake_ups(engine: Arc<Engine>, mut shutdown: watch::Receiver<bool>) {
    let mut wake_ups = match engine.store.wake_ups().await {
        Ok(Some(wake_ups)) => wake_ups,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(%error, "no wake-ups from other processes; the workers poll");
            return;
        }
    };
    loop {
        tokio::select! {
            wake_up = wake_ups.recv() => match wake_up {
                Some(WakeUp::Assets) => engine.assets_ready.notify_one(),
                Some(WakeUp::Skus) => engine.skus_ready.notify_one(),
                Some(WakeUp::ProductCalls) => engine.product_calls_ready.notify_one(),
                Some(WakeUp::FullSync) => engine.full_sync_requested.notify_one(),
                None => return,
            },
            () = stopped(&mut shutdown) => return,
        }
    }
}
