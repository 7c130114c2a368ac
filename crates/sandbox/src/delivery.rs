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
    let Ok(prepared) =
        PreparedDelivery::sign(&keys, delivery.event_id, delivery.event_type, delivery.body)
    else {
        stats.gave_up.fetch_add(1, Ordering::Relaxed);
        return;
    };
    for attempt in 0..MAX_ATTEMPTS {
        match prepared.send(http, &delivery.url, attempt).await {
            Ok(status) if status.is_success() => {
                stats.delivered.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(status) => {
                if status.is_client_error() {
                    stats.refused.fetch_add(1, Ordering::Relaxed);
                }
                tracing::debug!(%status, "emulator: delivery refused; will retry")
            }
            Err(error) => tracing::debug!(%error, "emulator: delivery failed; will retry"),
        }
        stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(50u64 << attempt.min(6))).await;
    }
    stats.gave_up.fetch_add(1, Ordering::Relaxed);
}

/// One event signed ahead of time, ready to POST with Adobe's headers (the benchmark signs its whole workload
/// before the clock starts, so that signing does not compete with the service for the CPU).
#[derive(Debug, Clone)]
pub struct PreparedDelivery {
    event_id: String,
    event_type: String,
    delivery_id: String,
    body: bytes::Bytes,
    signatures: [String; 2],
    /// `x-adobe-public-key1-path` and `-2-path`: where the key host serves the signing keys.
    key_paths: [String; 2],
}

impl PreparedDelivery {
    /// Signs `body` with both keys.
    pub fn sign(
        keys: &crate::SigningKeys,
        event_id: String,
        event_type: String,
        body: Vec<u8>,
    ) -> Result<Self, crate::keys::KeyFailure> {
        let signatures = keys.sign(&body)?;
        let key_paths = keys.paths().map(str::to_owned);
        Ok(Self {
            event_id,
            event_type,
            delivery_id: crate::aem::random_uuid(),
            body: body.into(),
            signatures,
            key_paths,
        })
    }

    /// POSTs the delivery to `url` (`attempt` > 0 adds `x-adobe-retry-count`) and returns the reply's status.
    pub async fn send(
        &self,
        http: &reqwest::Client,
        url: &str,
        attempt: u32,
    ) -> Result<reqwest::StatusCode, reqwest::Error> {
        Ok(self.post(http, url, attempt).await?.status())
    }

    /// [`Self::send`], and what a sender that redelivers needs of a refusal: its `Retry-After` (delay-seconds)
    /// and its error `code` (the JSON body's `code`, read only for a non-2xx reply).
    pub async fn send_answer(
        &self,
        http: &reqwest::Client,
        url: &str,
        attempt: u32,
    ) -> Result<DeliveryAnswer, reqwest::Error> {
        let reply = self.post(http, url, attempt).await?;
        let status = reply.status();
        let retry_after = reply
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let code = if status.is_success() {
            let _ = reply.bytes().await;
            None
        } else {
            reply
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|body| body["code"].as_str().map(str::to_owned))
        };
        Ok(DeliveryAnswer {
            status,
            retry_after,
            code,
        })
    }

    async fn post(
        &self,
        http: &reqwest::Client,
        url: &str,
        attempt: u32,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let [sig1, sig2] = &self.signatures;
        let [key1_path, key2_path] = &self.key_paths;
        let mut request = http
            .post(url)
            .header("content-type", "application/cloudevents+json")
            .header("user-agent", "Adobe/1.0")
            .header("x-adobe-event-code", &self.event_type)
            .header("x-adobe-event-id", &self.event_id)
            .header("x-adobe-delivery-id", &self.delivery_id)
            .header("x-adobe-provider", "aem")
            .header("x-adobe-digital-signature-1", sig1)
            .header("x-adobe-digital-signature-2", sig2)
            .header("x-adobe-public-key1-path", key1_path)
            .header("x-adobe-public-key2-path", key2_path)
            .body(self.body.clone());
        if attempt > 0 {
            request = request.header("x-adobe-retry-count", attempt.to_string());
        }
        request.send().await
    }
}

/// The webhook's answer to one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAnswer {
    pub status: reqwest::StatusCode,
    /// `Retry-After` in delay-seconds, when the reply gave one.
    pub retry_after: Option<Duration>,
    /// The error body's `code` (`overloaded`, `unavailable`, ...), for a non-2xx reply.
    pub code: Option<String>,
}
