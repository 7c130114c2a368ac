//! The I/O Events key cache against the AEM emulator's key host: bounded, one fetch per unknown path and
//! interval, no wait on other paths, and a key the host no longer has is dropped.

use connectors::ioevents::{DeliverySignatures, EventVerifier, KeyHostSettings};
use sandbox::aem::{AemEmulator, AemSettings};
use std::time::{Duration, Instant};

async fn emulator() -> AemEmulator {
    AemEmulator::start(
        AemSettings {
            program_id: "1".into(),
            environment_id: "2".into(),
            access_token: "token".into(),
            recipient_client_id: "client".into(),
        },
        0,
    )
    .await
    .unwrap()
}

fn verifier(emulator: &AemEmulator, max_age: Duration, max_paths: usize) -> EventVerifier {
    EventVerifier::new(
        [],
        Some(KeyHostSettings {
            origin: emulator.url().to_owned(),
            max_age,
            timeout: Duration::from_secs(30),
            max_paths,
        }),
    )
    .unwrap()
}

/// Whether a delivery of `body` signed with signature 1 by `keys`, naming its key 1 path, verifies.
async fn genuine(verifier: &EventVerifier, keys: &sandbox::SigningKeys, body: &[u8]) -> bool {
    let [one, _] = keys.sign(body).unwrap();
    verifier
        .verify(
            body,
            &DeliverySignatures {
                signatures: [Some(&one), None],
                key_paths: [Some(keys.paths()[0]), None],
            },
        )
        .await
}

/// Whether a delivery with a bogus signature naming key path `path` verifies.
async fn bogus(verifier: &EventVerifier, path: &str) -> bool {
    verifier
        .verify(
            b"body",
            &DeliverySignatures {
                signatures: [Some("c2lnbmF0dXJl"), None],
                key_paths: [Some(path), None],
            },
        )
        .await
}

#[tokio::test]
async fn a_slow_unknown_path_delays_no_delivery_signed_with_a_known_key() {
    let emulator = emulator().await;
    let verifier = std::sync::Arc::new(verifier(&emulator, Duration::from_secs(3600), 256));
    let keys = emulator.keys();
    assert!(genuine(&verifier, &keys, b"first").await);

    // 30 bogus deliveries naming 10 unknown paths; the key host holds every unknown path.
    emulator.hold_unknown_key_paths(true);
    let bogus_deliveries: Vec<_> = (0..30)
        .map(|i| {
            let verifier = verifier.clone();
            tokio::spawn(async move {
                bogus(&verifier, &format!("/prod/keys/unknown-{}.pem", i % 10)).await
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while emulator.held_key_requests() < 10 {
        assert!(
            Instant::now() < deadline,
            "the 10 unknown paths were not fetched side by side ({} held)",
            emulator.held_key_requests()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // The genuine delivery, signed with the cached key, waits for none of them.
    let verified =
        tokio::time::timeout(Duration::from_secs(5), genuine(&verifier, &keys, b"second")).await;
    assert_eq!(verified.ok(), Some(true), "the genuine delivery waited");

    emulator.hold_unknown_key_paths(false);
    for delivery in bogus_deliveries {
        assert!(!delivery.await.unwrap());
    }
    for i in 0..10 {
        assert_eq!(
            emulator.key_requests(&format!("/prod/keys/unknown-{i}.pem")),
            1,
            "each unknown path is fetched once for its three deliveries"
        );
    }
    // Asked again within the interval: not fetched again.
    assert!(!bogus(&verifier, "/prod/keys/unknown-0.pem").await);
    assert_eq!(emulator.key_requests("/prod/keys/unknown-0.pem"), 1);
    assert_eq!(emulator.key_requests(keys.paths()[0]), 1);
}

#[tokio::test]
async fn the_cache_holds_at_most_its_bound_and_keeps_known_keys_over_unknown_paths() {
    let emulator = emulator().await;
    let verifier = verifier(&emulator, Duration::from_secs(3600), 4);
    let keys = emulator.keys();
    assert!(genuine(&verifier, &keys, b"first").await);
    for i in 0..20 {
        assert!(!bogus(&verifier, &format!("/prod/keys/flood-{i}.pem")).await);
        assert!(
            verifier.cached_key_paths() <= 4,
            "{}",
            verifier.cached_key_paths()
        );
    }
    assert_eq!(verifier.cached_key_paths(), 4);
    assert!(genuine(&verifier, &keys, b"second").await);
    assert_eq!(
        emulator.key_requests(keys.paths()[0]),
        1,
        "the known key outlived the flood of unknown paths"
    );
    // The oldest unknown path was evicted: it is fetched again.
    assert!(!bogus(&verifier, "/prod/keys/flood-0.pem").await);
    assert_eq!(emulator.key_requests("/prod/keys/flood-0.pem"), 2);
}

#[tokio::test]
async fn a_key_the_host_no_longer_has_is_dropped_but_kept_while_the_host_fails() {
    let emulator = emulator().await;
    let max_age = Duration::from_millis(200);
    let verifier = verifier(&emulator, max_age, 256);
    let old = emulator.keys();
    assert!(genuine(&verifier, &old, b"first").await);

    // The host fails (503) after the key's max age: the cached key still verifies.
    emulator.set_key_host_down(true);
    tokio::time::sleep(max_age + Duration::from_millis(50)).await;
    assert!(genuine(&verifier, &old, b"during the outage").await);
    assert_eq!(emulator.key_requests(old.paths()[0]), 2);

    // The keys rotate: the old path answers 404, and the old key is no longer accepted once asked again.
    emulator.set_key_host_down(false);
    emulator.rotate_keys().unwrap();
    tokio::time::sleep(max_age + Duration::from_millis(50)).await;
    assert!(!genuine(&verifier, &old, b"after the rotation").await);
    assert_eq!(emulator.key_requests(old.paths()[0]), 3);
    assert!(!genuine(&verifier, &old, b"still refused").await);
    assert!(genuine(&verifier, &emulator.keys(), b"the new key").await);
}
