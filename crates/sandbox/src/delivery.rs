//! Adobe I/O Events delivery as the emulator performs it: each event is signed once, POSTed to every
//! subscribed webhook with Adobe's headers, and retried (at least once; order not guaranteed) until a 2xx.

use crate::keys::KeyRing;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};

/// Retries per delivery before giving up (Adobe retries for 24 hours; the emulator compresses time).
const MAX_ATTEMPTS: u32 = 12;

/// Delivery counters.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    pub queued: AtomicU64,
    pub delivered: AtomicU64,
    pub failed_attempts: AtomicU64,
    /// Attempts the webhook answered with a 4xx (a refused signature, ...); also counted as failed.
    pub refused: AtomicU64,
    pub gave_up: AtomicU64,
}

/// One event to deliver to one webhook.
pub(crate) struct Delivery {
    pub url: String,
    pub event_id: String,
    pub event_type: String,
    pub body: Vec<u8>,
}

/// Runs deliveries from `rx` with bounded concurrency until the channel closes.
pub(crate) async fn run(
    mut rx: mpsc::UnboundedReceiver<Delivery>,
    keys: Arc<KeyRing>,
    stats: Arc<DeliveryStats>,
) {
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "emulator: no HTTP client; deliveries stop");
            return;
        }
    };
    let permits = Arc::new(Semaphore::new(64));
    while let Some(delivery) = rx.recv().await {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (http, keys, stats) = (http.clone(), keys.clone(), stats.clone());
        tokio::spawn(async move {
            deliver(&http, &keys, &stats, delivery).await;
            drop(permit);
        });
    }
}

async fn deliver(
    http: &reqwest::Client,
    keys: &KeyRing,
    stats: &DeliveryStats,
    delivery: Delivery,
) {
    let keys = keys.current();
    let [key1_path, key2_path] = keys.paths();
    let Ok([sig1, sig2]) = keys.sign(&delivery.body) else {
        stats.gave_up.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let delivery_id = crate::aem::random_uuid();
    for attempt in 0..MAX_ATTEMPTS {
        let mut request = http
            .post(&delivery.url)
            .header("content-type", "application/cloudevents+json")
            .header("user-agent", "Adobe/1.0")
            .header("x-adobe-event-code", &delivery.event_type)
            .header("x-adobe-event-id", &delivery.event_id)
            .header("x-adobe-delivery-id", &delivery_id)
            .header("x-adobe-provider", "aem")
            .header("x-adobe-digital-signature-1", &sig1)
            .header("x-adobe-digital-signature-2", &sig2)
            .header("x-adobe-public-key1-path", key1_path)
            .header("x-adobe-public-key2-path", key2_path)
            .body(delivery.body.clone());
        if attempt > 0 {
            request = request.header("x-adobe-retry-count", attempt.to_string());
        }
        match request.send().await {
            Ok(reply) if reply.status().is_success() => {
                stats.delivered.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(reply) => {
                if reply.status().is_client_error() {
                    stats.refused.fetch_add(1, Ordering::Relaxed);
                }
                tracing::debug!(status = %reply.status(), "emulator: delivery refused; will retry")
            }
            Err(error) => tracing::debug!(%error, "emulator: delivery failed; will retry"),
        }
        stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(50u64 << attempt.min(6))).await;
    }
    stats.gave_up.fetch_add(1, Ordering::Relaxed);
}
