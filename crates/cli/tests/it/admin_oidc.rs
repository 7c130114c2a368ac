//! Sign-in to the admin console through the sandbox's OpenID Connect provider, against the real binary over
//! real HTTP (redirects followed by hand, cookies carried by hand): the claim maps to admin or viewer (a
//! viewer's change with its valid CSRF token is refused), a claim mapping to nothing, a bad signature, a
//! wrong audience, an expired token and one issued in the future are refused, a foreign or missing `state`
//! is refused, a provider that cannot be reached gives a 502 page, a local user is never taken over, the
//! PKCE verifier is checked, discovery and the JWKS are kept (a new `kid` refetches the JWKS), a provider
//! taking only `client_secret_basic` is served, and `check-config` judges `[admin.oidc]`.

use crate::harness::TestApp;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use sandbox::oidc::{Misbehaviour, OidcProvider};
use serde_json::json;
use std::path::Path;
use std::process::Command;

const OIDC_CLIENT: &str = "assetsync-console";
const OIDC_SECRET: &str = "oidc-client-secret-42";

/// The `[admin.oidc]` section for this issuer, redirect base and secret line.
fn oidc_section(issuer: &str, redirect_base: &str, secret_line: &str) -> String {
    format!(
        "[admin.oidc]\ndisplay_name = \"Sandbox\"\nissuer = \"{issuer}\"\nclient_id = \"{OIDC_CLIENT}\"\n\
         {secret_line}redirect_base = \"{redirect_base}\"\nrole_claim = \"groups\"\n\
         roles = {{ \"console-admins\" = \"admin\", \"console-viewers\" = \"viewer\" }}\n"
    )
}

/// The app signing in through `issuer`.
async fn app_with_issuer(issuer: &str) -> TestApp {
    // The port is known only once the app runs: the redirect base is filled in, then the app restarted.
    let mut app = TestApp::spawn().await;
    app.extra_tail = oidc_section(
        issuer,
        &app.url,
        &format!("client_secret = \"{OIDC_SECRET}\"\n"),
    );
    app.kill();
    app.start_process();
    app
}

async fn app_with_provider() -> (TestApp, OidcProvider) {
    let provider = OidcProvider::start(OIDC_CLIENT, OIDC_SECRET).await.unwrap();
    let app = app_with_issuer(provider.url()).await;
    (app, provider)
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
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

/// Walks start → provider; returns the flow cookie and the callback URL the provider sent the browser to.
async fn to_the_provider_and_back(app: &TestApp) -> (String, String) {
    let http = no_redirects();
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
    (flow, callback)
}

/// Walks start → provider → callback; returns the callback's status, its body, and the session cookie.
async fn sign_in_through_provider(app: &TestApp) -> (StatusCode, String, Option<String>) {
    let (flow, callback) = to_the_provider_and_back(app).await;
    callback_with(&callback, Some(&flow)).await
}

/// The callback, with or without a flow cookie: its status, its body, and the session cookie.
async fn callback_with(callback: &str, flow: Option<&str>) -> (StatusCode, String, Option<String>) {
    let mut request = no_redirects().get(callback);
    if let Some(flow) = flow {
        request = request.header(COOKIE, flow);
    }
    let reply = request.send().await.unwrap();
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
    // The viewer's change carries the session's own CSRF token, read from the page's form: the 403 is the
    // role's, not the token's.
    let session = session.expect("a session cookie");
    let page = no_redirects()
        .get(format!("{}/admin/config", app.url))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page's form carries the CSRF token")
        .to_owned();
    assert_eq!(csrf.len(), 64, "{csrf}");
    let before = sync_enabled(&app).await;
    let refused = no_redirects()
        .post(format!("{}/admin/config", app.url))
        .header(COOKIE, &session)
        .form(&[
            ("csrf", csrf.as_str()),
            ("sync_enabled", if before { "false" } else { "true" }),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let said = refused.text().await.unwrap();
    assert!(said.contains("has the viewer role"), "{said}");
    assert!(!said.contains("CSRF"), "{said}");
    assert_eq!(sync_enabled(&app).await, before, "nothing saved");
    let (status, history) = app.admin_get("/api/v1/config/history").await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert!(!history.to_string().contains("oidc-victor"), "{history}");
    assert_eq!(provider.verifier_refusals(), 0);
}

async fn sync_enabled(app: &TestApp) -> bool {
    let (status, config) = app.admin_get("/api/v1/config").await;
    assert_eq!(status, StatusCode::OK, "{config}");
    config["sync_enabled"].as_bool().unwrap()
}

/// No mapped claim value, a spoiled signature, a token for another client, an expired token, a token issued
/// in the future: each refused with a page, no session, no user recorded.
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
        (Misbehaviour::Expired, "it has expired (exp)"),
        (Misbehaviour::IssuedInFuture, "issued in the future (iat)"),
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

/// A callback whose `state` is not the flow cookie's, or that comes without the flow cookie, is refused with a
/// page: no session, no user; the right one afterwards still signs in.
#[tokio::test]
async fn a_callback_with_a_foreign_state_or_without_the_flow_cookie_is_refused() {
    let (app, provider) = app_with_provider().await;
    provider.sign_in_as("eve", json!({"groups": ["console-admins"]}));

    let (flow, callback) = to_the_provider_and_back(&app).await;
    let state = callback.split("state=").nth(1).unwrap().to_owned();
    assert!(!state.is_empty(), "{callback}");
    let foreign = callback.replace(&format!("state={state}"), "state=not-this-browsers-state");
    let (status, body, session) = callback_with(&foreign, Some(&flow)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("does not belong to this browser"), "{body}");
    assert!(session.is_none());

    // Another sign-in's flow cookie with this callback: refused as well.
    let (other_flow, _) = to_the_provider_and_back(&app).await;
    let (status, body, session) = callback_with(&callback, Some(&other_flow)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(session.is_none());

    let (flow, callback) = to_the_provider_and_back(&app).await;
    let (status, body, session) = callback_with(&callback, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("does not belong to this browser"), "{body}");
    assert!(session.is_none());
    let listed = users(&app).await;
    assert!(!listed.contains("oidc-"), "{listed}");

    // The code was not spent by the refusals: the right cookie still completes this sign-in.
    let (status, body, session) = callback_with(&callback, Some(&flow)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(session.is_some());
    assert!(users(&app).await.contains("oidc-eve\tadmin"));
}

/// A provider that cannot be reached: the start of the sign-in is a 502 page saying so, and nothing is stored.
#[tokio::test]
async fn an_unreachable_provider_gives_a_502_page() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = app_with_issuer(&issuer).await;
    let reply = no_redirects()
        .get(format!("{}/admin/oidc/start", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::BAD_GATEWAY);
    let set = cookies(&reply);
    assert!(set.is_empty(), "{set:?}");
    let body = reply.text().await.unwrap();
    assert!(body.contains("Sign-in refused"), "{body}");
    assert!(
        body.contains("The identity provider could not be reached"),
        "{body}"
    );
    assert!(!body.contains(OIDC_SECRET), "{body}");
    let listed = users(&app).await;
    assert!(!listed.contains("oidc-"), "{listed}");
}

/// A local user named like an OIDC user (`oidc-alice`) is never taken over by the sign-in of sub `alice`: the
/// sign-in is refused, the local user keeps its role, and its password still signs in.
#[tokio::test]
async fn a_local_user_named_like_a_provider_user_is_not_taken_over() {
    let (app, provider) = app_with_provider().await;
    let password = "local alice password 42";
    let (code, output) = app.add_user("oidc-alice", "viewer", password).await;
    assert_eq!(code, Some(0), "{output}");

    provider.sign_in_as("alice", json!({"groups": ["console-admins"]}));
    let (status, body, session) = sign_in_through_provider(&app).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("is not taken over"), "{body}");
    assert!(session.is_none());
    let listed = users(&app).await;
    assert!(listed.contains("oidc-alice\tviewer"), "{listed}");

    let http = no_redirects();
    let login = format!("{}/admin/login", app.url);
    let form = http.get(&login).send().await.unwrap();
    let token = cookies(&form)
        .into_iter()
        .find_map(|c| c.strip_prefix("assetsync_login=").map(str::to_owned))
        .expect("the sign-in form's cookie");
    let signed = http
        .post(&login)
        .header(COOKIE, format!("assetsync_login={token}"))
        .form(&[
            ("username", "oidc-alice"),
            ("password", password),
            ("csrf", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    assert!(
        cookies(&signed)
            .iter()
            .any(|c| c.starts_with("assetsync_session=")),
        "the local password still signs in"
    );
}

fn check_config(path: &Path, env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_assetsync"))
        .args(["check-config", "--config"])
        .arg(path)
        .env_remove("ASSETSYNC_ADMIN__OIDC__CLIENT_SECRET")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `check-config` on `[admin.oidc]`: a plain-http issuer off this host, a missing secret and a role that is
/// neither admin nor viewer each exit 2 with a sentence naming the field and never the secret; the secret may
/// come from `client_secret_file` or from `ASSETSYNC_ADMIN__OIDC__CLIENT_SECRET`.
#[tokio::test]
async fn check_config_judges_the_oidc_section() {
    let app = TestApp::spawn().await;
    let base = std::fs::read_to_string(app.dir.path().join("assetsync.toml")).unwrap();
    let path = app.dir.path().join("oidc-check.toml");
    let secret_line = format!("client_secret = \"{OIDC_SECRET}\"\n");

    let good = oidc_section("http://127.0.0.1:9", &app.url, &secret_line);
    std::fs::write(&path, format!("{base}\n{good}")).unwrap();
    let (code, stdout, stderr) = check_config(&path, &[]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");

    let bad = oidc_section("http://idp.example.com", &app.url, &secret_line).replace(
        "\"console-viewers\" = \"viewer\"",
        "\"console-owners\" = \"owner\"",
    );
    std::fs::write(&path, format!("{base}\n{bad}")).unwrap();
    let (code, stdout, stderr) = check_config(&path, &[]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    for named in [
        "admin.oidc.issuer",
        "admin.oidc.roles",
        "\"owner\"",
        "not admin or viewer",
    ] {
        assert!(stderr.contains(named), "{named}: {stderr}");
    }
    assert!(
        !stdout.contains(OIDC_SECRET) && !stderr.contains(OIDC_SECRET),
        "{stdout}{stderr}"
    );

    let no_secret = oidc_section("http://127.0.0.1:9", &app.url, "");
    std::fs::write(&path, format!("{base}\n{no_secret}")).unwrap();
    let (code, stdout, stderr) = check_config(&path, &[]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("admin.oidc.client_secret is not set"),
        "{stderr}"
    );

    // From the environment.
    let (code, stdout, stderr) = check_config(
        &path,
        &[("ASSETSYNC_ADMIN__OIDC__CLIENT_SECRET", OIDC_SECRET)],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        !stdout.contains(OIDC_SECRET) && !stderr.contains(OIDC_SECRET),
        "{stdout}{stderr}"
    );

    // From a file.
    let secret_file = app.dir.path().join("oidc-secret");
    std::fs::write(&secret_file, format!("{OIDC_SECRET}\n")).unwrap();
    let from_file = oidc_section(
        "http://127.0.0.1:9",
        &app.url,
        &format!("client_secret_file = \"{}\"\n", secret_file.display()),
    );
    std::fs::write(&path, format!("{base}\n{from_file}")).unwrap();
    let (code, stdout, stderr) = check_config(&path, &[]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");

    // Both: one too many, named, still without the value.
    let both = from_file.replace(
        "client_secret_file",
        &format!("{secret_line}client_secret_file"),
    );
    std::fs::write(&path, format!("{base}\n{both}")).unwrap();
    let (code, stdout, stderr) = check_config(&path, &[]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("admin.oidc.client_secret and admin.oidc.client_secret_file are both set"),
        "{stderr}"
    );
    assert!(
        !stdout.contains(OIDC_SECRET) && !stderr.contains(OIDC_SECRET),
        "{stdout}{stderr}"
    );
}

/// The sign-in with the secret from `client_secret_file` reaches the provider's token endpoint with it.
#[tokio::test]
async fn the_client_secret_may_come_from_a_file() {
    let provider = OidcProvider::start(OIDC_CLIENT, OIDC_SECRET).await.unwrap();
    let mut app = TestApp::spawn().await;
    let secret_file = app.dir.path().join("oidc-secret");
    std::fs::write(&secret_file, format!("{OIDC_SECRET}\n")).unwrap();
    app.extra_tail = oidc_section(
        provider.url(),
        &app.url,
        &format!("client_secret_file = \"{}\"\n", secret_file.display()),
    );
    app.kill();
    app.start_process();
    provider.sign_in_as("fiona", json!({"groups": ["console-viewers"]}));
    let (status, body, session) = sign_in_through_provider(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(session.is_some());
}

/// Discovery and the JWKS are fetched once for several sign-ins; a token signed with a rotated key (a `kid`
/// the kept JWKS does not know) fetches the JWKS once more and signs in.
#[tokio::test]
async fn discovery_and_the_jwks_are_kept_and_a_new_kid_fetches_the_jwks_again() {
    let (app, provider) = app_with_provider().await;
    provider.sign_in_as("alice", json!({"groups": ["console-admins"]}));
    for _ in 0..3 {
        let (status, body, _) = sign_in_through_provider(&app).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(provider.fetches(), (1, 1));

    provider.rotate_key().unwrap();
    let (status, body, session) = sign_in_through_provider(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(session.is_some());
    assert_eq!(provider.fetches(), (1, 2));
    let (status, body, _) = sign_in_through_provider(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(provider.fetches(), (1, 2));
}

/// A provider whose discovery lists only `client_secret_basic` gets the secret in a Basic header.
#[tokio::test]
async fn a_provider_taking_only_client_secret_basic_is_served() {
    let (app, provider) = app_with_provider().await;
    provider.only_basic_auth();
    provider.sign_in_as("bob", json!({"groups": ["console-viewers"]}));
    let (status, body, session) = sign_in_through_provider(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(session.is_some());
    assert!(users(&app).await.contains("oidc-bob\tviewer"));
}
