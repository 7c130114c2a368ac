//! Sign-in to the admin console through the sandbox's OpenID Connect provider, against the real binary over
//! real HTTP (redirects followed by hand, cookies carried by hand): the claim maps to admin or viewer, a claim
//! mapping to nothing, a bad signature and a wrong audience are refused, and the PKCE verifier is checked.

use crate::harness::TestApp;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use sandbox::oidc::{Misbehaviour, OidcProvider};
use serde_json::json;

const OIDC_CLIENT: &str = "assetsync-console";
const OIDC_SECRET: &str = "oidc-client-secret-42";

async fn app_with_provider() -> (TestApp, OidcProvider) {
    let provider = OidcProvider::start(OIDC_CLIENT, OIDC_SECRET).await.unwrap();
    // The port is known only once the app runs: the redirect base is filled in, then the app restarted.
    let mut app = TestApp::spawn().await;
    app.extra_tail = format!(
        "[admin.oidc]\ndisplay_name = \"Sandbox\"\nissuer = \"{}\"\nclient_id = \"{OIDC_CLIENT}\"\n\
         client_secret = \"{OIDC_SECRET}\"\nredirect_base = \"{}\"\nrole_claim = \"groups\"\n\
         roles = {{ \"console-admins\" = \"admin\", \"console-viewers\" = \"viewer\" }}\n",
        provider.url(),
        app.url
    );
    app.kill();
    app.start_process();
    (app, provider)
}

/// Cookies set by a reply, as `name=value` pairs.
fn cookies(reply: &reqwest::Response) -> Vec<String> {
    reply
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter(|pair| !pair.ends_with('='))
        .map(str::to_owned)
        .collect()
}

/// Walks start → provider → callback; returns the callback's status, its body, and the session cookie.
async fn sign_in_through_provider(app: &TestApp) -> (StatusCode, String, Option<String>) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let start = http
        .get(format!("{}/admin/oidc/start", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let flow = cookies(&start).join("; ");
    let authorize = start.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(
        authorize.contains("code_challenge_method=S256"),
        "{authorize}"
    );
    let back = http.get(&authorize).send().await.unwrap();
    let callback = back.headers()[LOCATION].to_str().unwrap().to_owned();
    let reply = http
        .get(&callback)
        .header(COOKIE, flow)
        .send()
        .await
        .unwrap();
    let status = reply.status();
    let session = cookies(&reply)
        .into_iter()
        .find(|c| c.starts_with("assetsync_session="));
    (status, reply.text().await.unwrap(), session)
}

async fn users(app: &TestApp) -> String {
    let (ok, listed) = app.run_cli(&["user", "list"]).await;
    assert!(ok, "{listed}");
    listed
}

/// An admin-mapped user lands signed in as admin (the configuration page opens with the session); a
/// viewer-mapped one is a viewer and is refused a change.
#[tokio::test]
async fn a_provider_sign_in_maps_the_claim_to_the_role() {
    let (app, provider) = app_with_provider().await;
    let login = app
        .http
        .get(format!("{}/admin/login", app.url))
        .send()
        .await
        .unwrap();
    assert!(login.text().await.unwrap().contains("Sign in with Sandbox"));

    provider.sign_in_as("alice", json!({"groups": ["staff", "console-admins"]}));
    let (status, body, session) = sign_in_through_provider(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let session = session.expect("a session cookie");
    let page = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/admin/config", app.url))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(users(&app).await.contains("oidc-alice\tadmin"));

    provider.sign_in_as("victor", json!({"groups": "console-viewers"}));
    let (status, body, session) = sign_in_through_provider(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(users(&app).await.contains("oidc-victor\tviewer"));
    let refused = app
        .http
        .post(format!("{}/admin/config", app.url))
        .header(COOKIE, session.unwrap())
        .form(&[("sync_enabled", "false")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(provider.verifier_refusals(), 0);
}

/// No mapped claim value, a spoiled signature, a token for another client: each refused with a page, no
/// session, no user recorded.
#[tokio::test]
async fn a_provider_sign_in_is_refused_without_a_role_or_with_a_bad_token() {
    let (app, provider) = app_with_provider().await;
    provider.sign_in_as("mallory", json!({"groups": ["staff"]}));
    let (status, body, session) = sign_in_through_provider(&app).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body.contains("no value mapped to admin or viewer"),
        "{body}"
    );
    assert!(session.is_none());

    provider.sign_in_as("eve", json!({"groups": ["console-admins"]}));
    for (how, why) in [
        (Misbehaviour::BadSignature, "signature does not verify"),
        (Misbehaviour::WrongAudience, "meant for another client"),
    ] {
        provider.misbehave(how);
        let (status, body, session) = sign_in_through_provider(&app).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(body.contains(why), "{body}");
        assert!(session.is_none());
    }
    let listed = users(&app).await;
    assert!(!listed.contains("oidc-"), "{listed}");
}

/// The provider refuses a token request whose PKCE verifier does not match the challenge.
#[tokio::test]
async fn the_provider_checks_the_pkce_verifier() {
    let provider = OidcProvider::start(OIDC_CLIENT, OIDC_SECRET).await.unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let back = http
        .get(format!(
            "{}/authorize?response_type=code&client_id={OIDC_CLIENT}&redirect_uri=http://127.0.0.1:9/cb\
             &state=s&nonce=n&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
            provider.url()
        ))
        .send()
        .await
        .unwrap();
    let location = back.headers()[LOCATION].to_str().unwrap().to_owned();
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let reply = http
        .post(format!("{}/token", provider.url()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("client_id", OIDC_CLIENT),
            ("client_secret", OIDC_SECRET),
            ("code_verifier", "not-the-verifier"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
    assert_eq!(provider.verifier_refusals(), 1);
}
