//! Accounts: users, sessions with idle and absolute expiry, failed sign-ins counted per key.

use domain::accounts::{AccountRole, Username};
use store::prelude::*;
use store::{NewSession, UserRecord};

const T0: i64 = 1_000_000;

fn user(name: &str, role: AccountRole) -> UserRecord {
    UserRecord {
        username: Username::parse(name).unwrap(),
        role,
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$salt-of-{name}$hash"),
        created_ms: T0,
    }
}

fn session(id_hash: &str, name: &str, expires_ms: i64) -> NewSession {
    NewSession {
        id_hash: id_hash.to_owned(),
        username: Username::parse(name).unwrap(),
        created_ms: T0,
        expires_ms,
    }
}

/// Users are added once, listed by name, found, and removed with their sessions.
pub async fn users_are_added_once_listed_and_removed_with_their_sessions<S: Store>(store: &S) {
    let ada = user("ada", AccountRole::Admin);
    let bob = user("bob", AccountRole::Viewer);
    assert!(store.add_user(&bob).await.unwrap());
    assert!(store.add_user(&ada).await.unwrap());
    let mut again = user("ada", AccountRole::Viewer);
    again.password_hash = "other".to_owned();
    assert!(
        !store.add_user(&again).await.unwrap(),
        "a taken name is refused"
    );
    assert_eq!(store.users().await.unwrap(), vec![ada.clone(), bob.clone()]);
    assert_eq!(store.user(&ada.username).await.unwrap(), Some(ada.clone()));
    let nobody = Username::parse("nobody").unwrap();
    assert_eq!(store.user(&nobody).await.unwrap(), None);

    store
        .create_session(&session("h-bob", "bob", T0 + 10_000))
        .await
        .unwrap();
    assert!(store.session("h-bob", T0, 1_000).await.unwrap().is_some());
    assert!(store.remove_user(&bob.username).await.unwrap());
    assert!(!store.remove_user(&bob.username).await.unwrap());
    assert_eq!(store.users().await.unwrap(), vec![ada]);
    assert_eq!(
        store.session("h-bob", T0, 1_000).await.unwrap(),
        None,
        "a removed user's sessions go with them"
    );
}

/// A session is found by its id's hash with its user's role, touched on each look-up, and gone after sign-out,
/// after its idle time and after its absolute expiry.
pub async fn sessions_expire_when_idle_or_old_and_end_at_sign_out<S: Store>(store: &S) {
    store
        .add_user(&user("ada", AccountRole::Admin))
        .await
        .unwrap();
    store
        .create_session(&session("h1", "ada", T0 + 100_000))
        .await
        .unwrap();
    let found = store.session("h1", T0 + 500, 1_000).await.unwrap().unwrap();
    assert_eq!(found.username.as_str(), "ada");
    assert_eq!(found.role, AccountRole::Admin);
    assert_eq!(found.last_seen_ms, T0 + 500);
    assert_eq!(found.expires_ms, T0 + 100_000);
    assert_eq!(store.session("h-unknown", T0, 1_000).await.unwrap(), None);
    // Touched at +500, so +1400 is within the idle time of 1 000 ms though +1400 > T0 + 1 000.
    assert!(
        store
            .session("h1", T0 + 1_400, 1_000)
            .await
            .unwrap()
            .is_some()
    );
    // Idle for longer than allowed: gone, and gone for good.
    assert_eq!(store.session("h1", T0 + 2_500, 1_000).await.unwrap(), None);
    assert_eq!(
        store.session("h1", T0 + 2_500, 1_000_000).await.unwrap(),
        None
    );

    // The absolute expiry holds however active the session is.
    let recent = NewSession {
        created_ms: T0 + 1_500,
        ..session("h2", "ada", T0 + 2_000)
    };
    store.create_session(&recent).await.unwrap();
    assert!(
        store
            .session("h2", T0 + 1_999, 1_000)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.session("h2", T0 + 2_000, 1_000).await.unwrap(), None);

    // Sign-out.
    store
        .create_session(&session("h3", "ada", T0 + 100_000))
        .await
        .unwrap();
    assert!(store.delete_session("h3").await.unwrap());
    assert!(!store.delete_session("h3").await.unwrap());
    assert_eq!(store.session("h3", T0, 1_000).await.unwrap(), None);
}

/// Failed sign-ins are counted per key within the window asked for; the largest count among the keys is
/// returned; clearing one key leaves the others.
pub async fn failed_sign_ins_are_counted_per_key_and_cleared<S: Store>(store: &S) {
    let user_key = "user:ada".to_owned();
    let addr_key = "addr:127.0.0.1".to_owned();
    let both = [user_key.clone(), addr_key.clone()];
    assert_eq!(store.failed_sign_ins(&both, 0).await.unwrap(), 0);
    for n in 0..3 {
        store
            .note_failed_sign_in(&both, T0 + n * 1_000)
            .await
            .unwrap();
    }
    store
        .note_failed_sign_in(std::slice::from_ref(&addr_key), T0 + 5_000)
        .await
        .unwrap();
    assert_eq!(store.failed_sign_ins(&both, T0).await.unwrap(), 4);
    assert_eq!(
        store
            .failed_sign_ins(std::slice::from_ref(&user_key), T0)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        store
            .failed_sign_ins(std::slice::from_ref(&user_key), T0 + 1_500)
            .await
            .unwrap(),
        1,
        "only failures within the window count"
    );
    store.clear_failed_sign_ins(&addr_key).await.unwrap();
    assert_eq!(store.failed_sign_ins(&both, T0).await.unwrap(), 3);
    store.clear_failed_sign_ins(&user_key).await.unwrap();
    assert_eq!(store.failed_sign_ins(&both, 0).await.unwrap(), 0);
}
