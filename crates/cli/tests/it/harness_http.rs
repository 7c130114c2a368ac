//! `TestApp` helpers over HTTP: the service's public, admin and event endpoints, waits on its state, and the
//! client and JSON helpers the tests share.

use crate::harness::{ADMIN_TOKEN, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

impl TestApp {
    pub async fn put_product(&self, sku: &str) -> (StatusCode, Value) {
        let reply = self
            .http
            .put(format!("{}/api/v1/products/{sku}", self.url))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        (reply.status(), reply.json().await.unwrap_or(Value::Null))
    }

    pub async fn put_products(&self, skus: &[&str]) {
        for sku in skus {
            let (status, _) = self.put_product(sku).await;
            assert!(status.is_success(), "PUT product {sku}: {status}");
        }
    }

    pub async fn media(&self, sku: &str) -> (StatusCode, Value) {
        let reply = self
            .http
            .get(format!("{}/api/v1/products/{sku}/media", self.url))
            .send()
            .await
            .unwrap();
        (reply.status(), reply.json().await.unwrap_or(Value::Null))
    }

    /// The gallery of `sku` as (asset id, position, roles).
    pub async fn gallery(&self, sku: &str) -> Vec<(String, u64, Vec<String>)> {
        let (_, body) = self.media(sku).await;
        entry_triples(&body["entries"])
    }

    pub async fn asset_status(&self, asset_id: &str) -> (StatusCode, Value) {
        let reply = self
            .http
            .get(format!("{}/api/v1/assets/{asset_id}", self.url))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        (reply.status(), reply.json().await.unwrap_or(Value::Null))
    }

    pub async fn health(&self) -> Value {
        self.http
            .get(format!("{}/healthz", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The admin report `GET /api/v1/health/sync` (queue depths, waiting assets, dead letters).
    pub async fn sync_health(&self) -> Value {
        self.admin_get("/api/v1/health/sync").await.1
    }

    /// Waits until the service is idle: every delivery made, nothing queued, no asset waiting.
    pub async fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            // Deliveries first: once none is in flight, every event is committed before the health read.
            let delivered = self.emulator.deliveries().in_flight() == 0;
            let health = self.sync_health().await;
            let idle = delivered
                && health["queues"]["asset_work"] == 0
                && health["queues"]["sku_work"] == 0
                && health["assets"]["waiting"] == 0;
            if idle {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "service did not settle: {health}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until `check` holds for the gallery of `sku`.
    pub async fn wait_for_gallery(
        &self,
        sku: &str,
        check: impl Fn(&[(String, u64, Vec<String>)]) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let gallery = self.gallery(sku).await;
            if check(&gallery) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "gallery of {sku} never matched; last: {gallery:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// POSTs a raw delivery with the given signature headers.
    pub async fn deliver(&self, body: &[u8], signatures: &[(&str, String)]) -> (StatusCode, Value) {
        self.deliver_to("/events/aem", body, signatures).await
    }

    /// POSTs a raw delivery to `path`, on a fresh connection (a refused oversized body closes its connection).
    pub async fn deliver_to(
        &self,
        path: &str,
        body: &[u8],
        signatures: &[(&str, String)],
    ) -> (StatusCode, Value) {
        let mut request = http_client()
            .post(format!("{}{path}", self.url))
            .body(body.to_vec());
        for (name, value) in signatures {
            request = request.header(*name, value);
        }
        let reply = request.send().await.unwrap();
        (reply.status(), reply.json().await.unwrap_or(Value::Null))
    }

    /// POSTs a signed commerce product event to `/events/commerce`.
    pub async fn deliver_commerce_event(&self, body: &[u8]) -> (StatusCode, Value) {
        let [one, two] = self.emulator.keys().sign(body).unwrap();
        self.deliver_to(
            "/events/commerce",
            body,
            &[
                ("x-adobe-digital-signature-1", one),
                ("x-adobe-digital-signature-2", two),
            ],
        )
        .await
    }

    /// PUTs a configuration change (with an optional query string such as `?scope=websites&scope_id=1`).
    pub async fn put_config(&self, query: &str, change: Value) -> (StatusCode, Value) {
        let reply = self
            .http
            .put(format!("{}/api/v1/config{query}", self.url))
            .bearer_auth(ADMIN_TOKEN)
            .json(&change)
            .send()
            .await
            .unwrap();
        (reply.status(), reply.json().await.unwrap_or(Value::Null))
    }

    /// GETs an admin path.
    /// `POST` to an admin route with no body.
    pub async fn admin_post(&self, path: &str) -> (StatusCode, Value) {
        let reply = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        (reply.status(), reply.json().await.unwrap_or(Value::Null))
    }

    /// Waits (up to 120 s) until the full sync `id` is done; returns its final status.
    pub async fn wait_for_full_sync(&self, id: i64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let status = self.admin_get(&format!("/api/v1/sync/{id}")).await.1;
            if status["state"] == "done" {
                return status;
            }
            assert_ne!(status["state"], "failed", "{status}");
            assert!(
                Instant::now() < deadline,
                "full sync never finished: {status}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn admin_get(&self, path: &str) -> (StatusCode, Value) {
        let reply = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        (reply.status(), reply.json().await.unwrap_or(Value::Null))
    }

    /// POSTs a delivery signed as I/O Events signs it (both signatures).
    pub async fn deliver_signed(&self, body: &[u8]) -> (StatusCode, Value) {
        let [one, two] = self.emulator.keys().sign(body).unwrap();
        self.deliver(
            body,
            &[
                ("x-adobe-digital-signature-1", one),
                ("x-adobe-digital-signature-2", two),
            ],
        )
        .await
    }
}

/// A client for the service. It keeps an idle connection for less time than the service's idle timeout
/// (`[http] header_timeout_seconds`, 10 s by default), as a client should: else a request may be sent on a
/// connection the service is closing at that moment.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// A CloudEvent body for an asset.
pub fn event_body(id: &str, event_type: &str, asset_id: &str, recipient: &str) -> Vec<u8> {
    json!({
        "specversion": "1.0",
        "id": id,
        "source": "acct:aem-p142461-e1463137@adobe.com",
        "type": event_type,
        "recipient_client_id": recipient,
        "data": { "assetId": asset_id, "repositoryMetadata": {}, "assetMetadata": {} }
    })
    .to_string()
    .into_bytes()
}

pub fn roles(list: &[&str]) -> Vec<String> {
    list.iter().map(|r| (*r).to_owned()).collect()
}

pub fn object(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// Gallery entries (a JSON array of `{asset_id, position, roles}`) as (asset id, position, roles); empty when
/// `entries` is not an array.
pub fn entry_triples(entries: &Value) -> Vec<(String, u64, Vec<String>)> {
    entries
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    (
                        e["asset_id"].as_str().unwrap().to_owned(),
                        e["position"].as_u64().unwrap(),
                        e["roles"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|r| r.as_str().unwrap().to_owned())
                            .collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
