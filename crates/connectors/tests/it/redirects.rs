//! Clients that carry a token or a secret never follow a redirect to another origin: the trap answers 307 to
//! another port of 127.0.0.1, and nothing may arrive there.

use connectors::aem::{AuthorClient, DamError};
use connectors::ims::{ImsCredentials, TokenError, TokenProvider};
use connectors::journal::JournalClient;
use connectors::magento::{MagentoAuth, MagentoSettings, MagentoSink};
use connectors::matcher::{MatcherClient, MatcherError};
use connectors::sink::CommerceSink;
use domain::config::UrlPolicy;
use domain::{AssetId, Sku};
use sandbox::redirect::RedirectTrap;
use std::time::Duration;

const SECRET: &str = "client-secret-that-stays-home";

fn ims(token_url: String) -> TokenProvider {
    TokenProvider::client_credentials(
        ImsCredentials {
            token_url,
            client_id: "client-1".into(),
            client_secret: SECRET.into(),
            org_id: Some("ORG@AdobeOrg".into()),
            scopes: vec!["openid".into()],
        },
        Duration::from_secs(5),
    )
    .unwrap()
}

fn assert_nothing_arrived(trap: &RedirectTrap) {
    let arrivals = trap.arrivals();
    assert!(
        arrivals.is_empty(),
        "requests reached the other origin: {:?}",
        arrivals
            .iter()
            .map(|a| (
                &a.method,
                &a.path,
                a.authorization,
                a.api_key,
                String::from_utf8_lossy(&a.body).contains(SECRET)
            ))
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn ims_does_not_post_the_client_secret_to_another_origin() {
    let trap = RedirectTrap::start().await.unwrap();
    let error = ims(format!("{}/ims/token/v3", trap.url()))
        .token()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, TokenError::Unavailable(text) if text.contains("redirect to another origin")),
        "{error}"
    );
    assert!(!error.to_string().contains(SECRET));
    assert_nothing_arrived(&trap);
}

#[tokio::test]
async fn the_author_api_and_the_journal_send_no_request_to_another_origin() {
    let trap = RedirectTrap::start().await.unwrap();
    let tokens = TokenProvider::static_token("static-bearer-token");
    let author = AuthorClient::new(trap.url(), tokens.clone(), Duration::from_secs(5)).unwrap();
    let asset = AssetId::parse("urn:aaid:aem:00000000-0000-4000-8000-000000000001").unwrap();
    let error = author.metadata(&asset).await.unwrap_err();
    assert!(
        matches!(&error, DamError::Transport(text) if text.contains("redirect to another origin")),
        "{error}"
    );
    let journal_url = format!("{}/events/journal", trap.url());
    let journal = JournalClient::new(&journal_url, tokens, Some("journal-api-key")).unwrap();
    let error = journal.fetch(&journal_url).await.unwrap_err();
    assert!(
        error.to_string().contains("redirect to another origin"),
        "{error}"
    );
    assert_nothing_arrived(&trap);
}

#[tokio::test]
async fn magento_and_the_matcher_send_no_request_to_another_origin() {
    let trap = RedirectTrap::start().await.unwrap();
    let sink = MagentoSink::new(MagentoSettings {
        base_url: trap.url().to_owned(),
        auth: MagentoAuth::Bearer("store-bearer-token".into()),
        delivery_origin: trap.url().to_owned(),
        timeout: Duration::from_secs(5),
        max_binary_bytes: 1024 * 1024,
    })
    .unwrap();
    let error = sink
        .remote_gallery(&Sku::parse("SKU-1").unwrap())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("redirect refused"), "{error}");

    let matcher = MatcherClient::new(
        Duration::from_secs(5),
        UrlPolicy::AllowInsecure,
        Some(TokenProvider::static_token("matcher-bearer-token")),
    )
    .unwrap();
    let error = matcher
        .post(&format!("{}/a2p", trap.url()), &serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(error, MatcherError::Status { status: 307 }),
        "{error}"
    );
    assert_nothing_arrived(&trap);
}

#[test]
fn tokens_are_not_sent_over_plain_http_to_another_machine() {
    let tokens = TokenProvider::static_token("static-bearer-token");
    let error = AuthorClient::new(
        "http://author.example.com",
        tokens.clone(),
        Duration::from_secs(5),
    )
    .unwrap_err();
    assert!(
        matches!(&error, DamError::InsecureUrl(text) if text.contains("https")),
        "{error}"
    );
    assert!(JournalClient::new("http://journal.example.com/j", tokens.clone(), None).is_err());
    assert!(
        AuthorClient::new("https://author.example.com", tokens, Duration::from_secs(5)).is_ok()
    );
    let error = TokenProvider::client_credentials(
        ImsCredentials {
            token_url: "http://ims.example.com/ims/token/v3".into(),
            client_id: "client-1".into(),
            client_secret: SECRET.into(),
            org_id: None,
            scopes: Vec::new(),
        },
        Duration::from_secs(5),
    )
    .map(drop)
    .unwrap_err();
    assert!(matches!(error, TokenError::InsecureUrl(_)), "{error}");
}

#[tokio::test]
async fn a_matcher_with_credentials_is_called_over_https_or_on_this_machine_only() {
    let matcher = MatcherClient::new(
        Duration::from_secs(1),
        UrlPolicy::AllowInsecure,
        Some(TokenProvider::static_token("matcher-bearer-token")),
    )
    .unwrap();
    let error = matcher
        .post("http://matcher.example.com/a2p", &serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, MatcherError::Url(text) if text.contains("https")),
        "{error}"
    );
}
