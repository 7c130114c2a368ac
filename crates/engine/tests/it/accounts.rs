//! Accounts on a real SQLite file and a manual clock: a session ends when idle or old, sign-out ends it,
//! the CSRF token belongs to its session, and sign-in is throttled per user name and per client address.

use domain::accounts::AccountRole;
use engine::accounts::{AccountsError, SessionPolicy, Users};
use engine::clock::ManualClock;
use std::sync::Arc;

const T0: i64 = 1_800_000_000_000;
const PASSWORD: &str = "a long enough password";

async fn users() -> (Users, ManualClock, tempfile::TempDir) {
    let dir = tempfile::TempDir::new().unwrap();
    let url = format!("sqlite://{}/accounts.db", dir.path().display());
    let store: Arc<dyn store::Accounts> = Arc::new(store::SqliteStore::open(&url).await.unwrap());
    let clock = ManualClock::new(T0);
    let policy = SessionPolicy {
        idle_ms: 60_000,
        absolute_ms: 600_000,
        max_failures: 3,
        failure_window_ms: 120_000,
    };
    let users = Users::new(store, Arc::new(clock.clone()), policy);
    users
        .add("ada", AccountRole::Admin, PASSWORD)
        .await
        .unwrap();
    (users, clock, dir)
}

#[tokio::test]
async fn sessions_end_when_idle_when_old_and_at_sign_out() {
    let (users, clock, _dir) = users().await;
    let first = users.sign_in("ada", PASSWORD, "10.0.0.1").await.unwrap();
    let second = users.sign_in("ada", PASSWORD, "10.0.0.1").await.unwrap();
    assert_ne!(first.session_id, second.session_id);
    assert_eq!(first.session_id.len(), 64, "256 bits, hex");
    assert_ne!(
        first.user.csrf, second.user.csrf,
        "a CSRF token per session"
    );
    let found = users.session(&first.session_id).await.unwrap().unwrap();
    assert_eq!(
        (found.username.as_str(), found.role),
        ("ada", AccountRole::Admin)
    );
    assert_eq!(found.csrf, first.user.csrf);

    // Used every 50 s: alive past the idle time, until the absolute expiry.
    for _ in 0..11 {
        clock.advance(std::time::Duration::from_secs(50));
        assert!(users.session(&first.session_id).await.unwrap().is_some());
    }
    clock.advance(std::time::Duration::from_secs(50));
    assert!(
        users.session(&first.session_id).await.unwrap().is_none(),
        "10 minutes at most"
    );
    // The second, unused since sign-in, ended after a minute.
    assert!(users.session(&second.session_id).await.unwrap().is_none());

    let third = users.sign_in("ada", PASSWORD, "10.0.0.1").await.unwrap();
    users.sign_out(&third.session_id).await.unwrap();
    assert!(users.session(&third.session_id).await.unwrap().is_none());
    assert!(users.session("not-a-session").await.unwrap().is_none());
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_name_and_per_address_within_the_window() {
    let (users, clock, _dir) = users().await;
    for _ in 0..3 {
        assert!(matches!(
            users.sign_in("ada", "wrong", "10.0.0.1").await,
            Err(AccountsError::WrongCredentials)
        ));
    }
    // The name is throttled, from any address, even with the right password.
    assert!(matches!(
        users.sign_in("ada", PASSWORD, "10.0.0.2").await,
        Err(AccountsError::Throttled(_))
    ));
    // So is the address, for any name.
    assert!(matches!(
        users.sign_in("bob", "whatever", "10.0.0.1").await,
        Err(AccountsError::Throttled(_))
    ));
    // Unknown names count too, without telling they are unknown.
    for _ in 0..3 {
        assert!(matches!(
            users.sign_in("nobody", "x", "10.0.0.3").await,
            Err(AccountsError::WrongCredentials)
        ));
    }
    clock.advance(std::time::Duration::from_secs(121));
    assert!(
        users.sign_in("ada", PASSWORD, "10.0.0.1").await.is_ok(),
        "the window passed"
    );
}
