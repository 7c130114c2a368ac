//! [`store::Coordination`]: one leader per duty, and wake-ups where processes share the database.

use super::*;
use std::time::Duration;
use store::{Duty, WakeUp};

/// Tries to lead `duty` until it is granted (a released lock may take a moment to reach the server).
async fn lead_within<S: Store>(
    store: &S,
    duty: Duty,
    limit: Duration,
) -> Option<store::Leadership> {
    let until = tokio::time::Instant::now() + limit;
    loop {
        if let Some(lead) = store.try_lead(duty).await.unwrap() {
            return Some(lead);
        }
        if tokio::time::Instant::now() >= until {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn a_duty_is_led_by_one_at_a_time<S: Store>(store: &S) {
    let full_sync = store.try_lead(Duty::FullSync).await.unwrap();
    let full_sync = full_sync.expect("a duty nobody holds is granted");
    assert!(full_sync.held());
    assert!(
        store.try_lead(Duty::FullSync).await.unwrap().is_none(),
        "a held duty is not granted twice"
    );
    let pruner = store.try_lead(Duty::Pruner).await.unwrap();
    assert!(pruner.is_some(), "duties are held apart");
    drop(full_sync);
    assert!(
        lead_within(store, Duty::FullSync, Duration::from_secs(5))
            .await
            .is_some(),
        "a duty handed back is granted again"
    );
    assert!(store.try_lead(Duty::Pruner).await.unwrap().is_none());
}

pub async fn queued_work_wakes_the_other_processes<S: Store>(store: &S) {
    let wake_ups = store.wake_ups().await.unwrap();
    if store.exclusive().await {
        assert!(
            wake_ups.is_none(),
            "a database of one process has no other process to wake"
        );
        return;
    }
    let mut wake_ups = wake_ups.expect("a shared database wakes the other processes");
    let next = async |wake_ups: &mut tokio::sync::mpsc::Receiver<WakeUp>| {
        tokio::time::timeout(Duration::from_secs(5), wake_ups.recv())
            .await
            .expect("a wake-up within 5 s")
            .expect("the channel stays open")
    };
    record(store, &[changed("ev-wake", &asset(1), T0)]).await;
    assert_eq!(next(&mut wake_ups).await, WakeUp::Assets);
    // A claim takes a lease and wakes nobody; the full sync's request does.
    assert_eq!(
        store.claim_asset_work(T0, MANY, LEASE).await.unwrap().len(),
        1
    );
    store.request_full_sync("wake", T0).await.unwrap();
    assert_eq!(next(&mut wake_ups).await, WakeUp::FullSync);
}
