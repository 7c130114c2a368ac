//! Media writes in flight per product, and the overlaps among them.
//!
//! A media write is a `POST`, `PUT` or `DELETE` under `/rest/{store}/V1/products/{sku}/media` (the emulator
//! serves no other request that changes a gallery: no product save). It is in flight from its arrival at the
//! API (before any standing latency, fault or authentication) until its reply has been produced or the client
//! went away. A write *overlaps* when it begins while another write on the same product is in flight: two
//! writes at once on one product count 1, three count 2. One writer per product keeps the count at 0, however
//! many processes write to the store.
//!
//! Products are keyed as the store finds them: the path segment percent-decoded and case-folded
//! ([`super::sku_key`]), so `ABC` and `abc` are one product.

use super::{Shared, percent_decode, sku_key};
use axum::http::{Method, Uri};
use std::collections::HashMap;
use std::sync::Arc;

/// The writes in flight, per product key.
#[derive(Debug, Default)]
pub(super) struct WritesInFlight {
    per_product: HashMap<String, u64>,
}

impl WritesInFlight {
    /// Records the start of a write on `product`: how many are now in flight on it, this one included.
    fn begin(&mut self, product: &str) -> u64 {
        let count = self.per_product.entry(product.to_owned()).or_default();
        *count += 1;
        *count
    }

    /// Records the end of a write on `product`.
    fn end(&mut self, product: &str) {
        if let Some(count) = self.per_product.get_mut(product) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.per_product.remove(product);
            }
        }
    }
}

/// The product key of a media write request, `None` for any other request.
fn written_product(method: &Method, uri: &Uri) -> Option<String> {
    if !matches!(*method, Method::POST | Method::PUT | Method::DELETE) {
        return None;
    }
    // /rest/{store}/V1/products/{sku}/media[/{id}]
    let mut segments = uri.path().split('/');
    let (
        Some(""),
        Some("rest"),
        Some(_store),
        Some("V1"),
        Some("products"),
        Some(sku),
        Some("media"),
    ) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    )
    else {
        return None;
    };
    let sku = percent_decode(sku, false).unwrap_or_else(|| sku.to_owned());
    Some(sku_key(&sku))
}

/// A media write in flight on one product, counted until dropped (the reply went, or the client left).
pub(super) struct WriteInFlight {
    shared: Arc<Shared>,
    product: String,
}

impl WriteInFlight {
    /// Counts the request as a write in flight when it is one, and an overlap when another write on the same
    /// product is in flight.
    pub(super) fn begin(shared: &Arc<Shared>, method: &Method, uri: &Uri) -> Option<Self> {
        let product = written_product(method, uri)?;
        let mut inner = shared.lock();
        let now = inner.writes_in_flight.begin(&product);
        let stats = &mut inner.stats;
        stats.max_concurrent_writes_per_sku = stats.max_concurrent_writes_per_sku.max(now);
        if now > 1 {
            stats.overlapping_writes += 1;
            tracing::warn!(
                product = %product,
                in_flight = now,
                "commerce emulator: overlapping writes on one product"
            );
        }
        Some(Self {
            shared: shared.clone(),
            product,
        })
    }
}

impl Drop for WriteInFlight {
    fn drop(&mut self) {
        self.shared.lock().writes_in_flight.end(&self.product);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::super::{CommerceEmulator, CommerceSettings};
    use super::*;

    #[test]
    fn only_media_writes_name_a_product() {
        let uri = |path: &str| path.parse::<Uri>().unwrap();
        let media = uri("/rest/all/V1/products/Sku%201/media");
        assert_eq!(
            written_product(&Method::POST, &media).as_deref(),
            Some("sku 1")
        );
        assert_eq!(
            written_product(&Method::PUT, &uri("/rest/default/V1/products/ABC/media/7")).as_deref(),
            Some("abc")
        );
        assert_eq!(written_product(&Method::GET, &media), None);
        assert_eq!(
            written_product(&Method::POST, &uri("/control/products/ABC/entries")),
            None
        );
        assert_eq!(
            written_product(&Method::PUT, &uri("/rest/all/V1/products/ABC")),
            None
        );
    }

    async fn emulator() -> (CommerceEmulator, reqwest::Client) {
        let settings = CommerceSettings {
            consumer_key: "ck".into(),
            consumer_secret: "cs".into(),
            access_token: "token".into(),
            access_token_secret: "ts".into(),
            allow_bearer: true,
        };
        let emulator = CommerceEmulator::start(settings, 0).await.unwrap();
        assert!(emulator.create_product("OVER-1"));
        assert!(emulator.create_product("OVER-2"));
        // Every request takes 200 ms: two sent together are in flight together.
        emulator.set_conditions(200, 0.0);
        (emulator, reqwest::Client::new())
    }

    /// A delete of an entry that does not exist: a write (it is answered 404 after the latency).
    async fn delete(emulator: &CommerceEmulator, http: &reqwest::Client, sku: &str) {
        let reply = http
            .delete(format!(
                "{}/rest/all/V1/products/{sku}/media/999",
                emulator.url()
            ))
            .bearer_auth("token")
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 404);
    }

    #[tokio::test]
    async fn two_concurrent_writes_to_one_product_are_one_overlap() {
        let (emulator, http) = emulator().await;
        // Two spellings of one product.
        tokio::join!(
            delete(&emulator, &http, "OVER-1"),
            delete(&emulator, &http, "over-1")
        );
        let stats = emulator.stats();
        assert_eq!(stats.overlapping_writes, 1, "{stats:?}");
        assert_eq!(stats.max_concurrent_writes_per_sku, 2);
    }

    #[tokio::test]
    async fn sequential_writes_and_writes_to_other_products_do_not_overlap() {
        let (emulator, http) = emulator().await;
        delete(&emulator, &http, "OVER-1").await;
        delete(&emulator, &http, "OVER-1").await;
        tokio::join!(
            delete(&emulator, &http, "OVER-1"),
            delete(&emulator, &http, "OVER-2")
        );
        // Reads beside a write are no overlap either.
        let read = http
            .get(format!(
                "{}/rest/all/V1/products/OVER-1/media",
                emulator.url()
            ))
            .bearer_auth("token")
            .send();
        let (reply, ()) = tokio::join!(read, delete(&emulator, &http, "OVER-1"));
        assert_eq!(reply.unwrap().status(), 200);
        let stats = emulator.stats();
        assert_eq!(stats.overlapping_writes, 0, "{stats:?}");
        assert_eq!(stats.max_concurrent_writes_per_sku, 1);
        assert_eq!(stats.deletes, 5);
    }
}
