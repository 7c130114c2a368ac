//! Sending the deliveries of `bench events` as Adobe I/O Events does: a delivery that gets no 2xx is sent
//! again (with `x-adobe-retry-count`) after the reply's `Retry-After` when it gives one, else after a growing
//! backoff, a bounded number of times; then it is given up and counted by the status that ended it.

use sandbox::{DeliveryAnswer, PreparedDelivery};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How deliveries are redelivered.
#[derive(Debug, Clone, Copy)]
pub(super) struct Redelivery {
    /// Attempts per delivery in all (1: never redelivered).
    pub(super) max_attempts: u32,
    /// The first wait when the reply gives no `Retry-After` (doubled at each attempt, at most 8 times).
    pub(super) backoff: Duration,
    /// The longest `Retry-After` honoured as given.
    pub(super) max_retry_after: Duration,
}

/// How one delivery ended.
pub(super) struct Delivered {
    /// From the delivery's scheduled time to its 2xx, when one came (redeliveries included).
    pub(super) ack_micros: Option<u64>,
    /// The answers that were not a 2xx, in order (`503 overloaded`, `timeout`, ...).
    pub(super) refusals: Vec<String>,
}

/// Sends `delivery` until it is acknowledged or `policy.max_attempts` are spent.
pub(super) async fn deliver(
    delivery: &PreparedDelivery,
    http: &reqwest::Client,
    url: &str,
    intended: Instant,
    policy: Redelivery,
) -> Delivered {
    let mut refusals = Vec::new();
    for attempt in 0..policy.max_attempts.max(1) {
        let wait = match delivery.send_answer(http, url, attempt).await {
            Ok(answer) if answer.status.is_success() => {
                return Delivered {
                    ack_micros: Some(
                        u64::try_from(intended.elapsed().as_micros()).unwrap_or(u64::MAX),
                    ),
                    refusals,
                };
            }
            Ok(answer) => {
                refusals.push(label(&answer));
                answer
                    .retry_after
                    .map(|after| after.min(policy.max_retry_after))
            }
            Err(error) if error.is_timeout() => {
                refusals.push("timeout".to_owned());
                None
            }
            Err(_) => {
                refusals.push("connection".to_owned());
                None
            }
        };
        if attempt + 1 < policy.max_attempts {
            let backoff = policy.backoff.saturating_mul(1 << attempt.min(8));
            tokio::time::sleep(wait.unwrap_or(backoff)).await;
        }
    }
    Delivered {
        ack_micros: None,
        refusals,
    }
}

/// `503 overloaded`: the status and the error code, when the body gave one.
fn label(answer: &DeliveryAnswer) -> String {
    match &answer.code {
        Some(code) => format!("{} {code}", answer.status.as_u16()),
        None => answer.status.as_u16().to_string(),
    }
}

/// What the deliveries of a run came to.
#[derive(Debug, Default, Serialize)]
pub(super) struct DeliveryTally {
    /// Deliveries acknowledged (2xx), after redeliveries or not.
    pub(super) acknowledged: u64,
    /// Deliveries given up after every attempt, by the answer to their last attempt.
    pub(super) unacknowledged_by_status: BTreeMap<String, u64>,
    /// Every answer that was not a 2xx (redelivered or not), by status and code.
    pub(super) refusals_by_status: BTreeMap<String, u64>,
    /// Attempts beyond each delivery's first.
    pub(super) redeliveries: u64,
    /// Deliveries acknowledged only after a redelivery.
    pub(super) acknowledged_after_redelivery: u64,
    #[serde(skip)]
    pub(super) ack_micros: Vec<u64>,
}

impl DeliveryTally {
    pub(super) fn add(&mut self, delivered: Delivered) {
        let attempts = delivered.refusals.len() as u64 + u64::from(delivered.ack_micros.is_some());
        self.redeliveries += attempts.saturating_sub(1);
        for refusal in &delivered.refusals {
            *self.refusals_by_status.entry(refusal.clone()).or_default() += 1;
        }
        match delivered.ack_micros {
            Some(micros) => {
                self.acknowledged += 1;
                self.ack_micros.push(micros);
                if !delivered.refusals.is_empty() {
                    self.acknowledged_after_redelivery += 1;
                }
            }
            None => {
                let last = delivered
                    .refusals
                    .last()
                    .cloned()
                    .unwrap_or_else(|| "none".to_owned());
                *self.unacknowledged_by_status.entry(last).or_default() += 1;
            }
        }
    }

    /// Deliveries given up.
    pub(super) fn unacknowledged(&self) -> u64 {
        self.unacknowledged_by_status.values().sum()
    }
}
