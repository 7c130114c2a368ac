//! The admin console in a real browser (headless Chromium over WebDriver, see [`crate::browser`]) against the
//! real binary: users made with `assetsync user add` while the service runs, sign-in, a viewer refused a
//! change, a form without its CSRF token refused, throttled sign-ins.

use crate::browser::Session;
use crate::harness::{TestApp, http_client};
use reqwest::StatusCode;

const ADMIN_PASSWORD: &str = "correct horse battery";
const VIEWER_PASSWORD: &str = "viewer password 42";

async fn app_with_users() -> TestApp {
    let app = TestApp::spawn().await;
    for (name, role, password) in [
        ("ada", "admin", ADMIN_PASSWORD),
        ("vic", "viewer", VIEWER_PASSWORD),
    ] {
        let (code, output) = app.add_user(name, role, password).await;
        assert_eq!(code, Some(0), "user add {name}: {output}");
        assert!(
            output.contains(&format!("added {name} ({role})")),
            "{output}"
        );
    }
    app
}

async fn sign_in(browser: &mut Session, app: &TestApp, name: &str, password: &str) {
    browser.goto(&format!("{}/admin/login", app.url)).await;
    browser.fill("#username", name).await;
    browser.fill("#password", password).await;
    browser.click("#sign-in").await;
}

async fn sync_enabled(app: &TestApp) -> bool {
    let (status, config) = app.admin_get("/api/v1/config").await;
    assert_eq!(status, StatusCode::OK, "{config}");
    config["sync_enabled"].as_bool().unwrap()
}

/// `user add` refuses an empty or short password with a sentence and a failing exit code; `user list` shows
/// the users; `user remove` removes one, and a second time says there is none.
#[tokio::test]
async fn users_are_managed_from_the_command_line_while_the_service_runs() {
    let app = app_with_users().await;
    let (code, output) = app.add_user("eve", "admin", "").await;
    assert_ne!(code, Some(0));
    assert!(output.contains("the password is empty"), "{output}");
    let (code, output) = app.add_user("eve", "admin", "short").await;
    assert_ne!(code, Some(0));
    assert!(output.contains("too short"), "{output}");
    let (code, output) = app.add_user("ada", "viewer", "another long password").await;
    assert_ne!(code, Some(0));
    assert!(output.contains("exists already"), "{output}");

    let (ok, listed) = app.run_cli(&["user", "list"]).await;
    assert!(ok, "{listed}");
    let names: Vec<(&str, &str)> = listed
        .lines()
        .filter_map(|l| {
            let mut cols = l.split('\t');
            Some((cols.next()?, cols.next()?))
        })
        .collect();
    assert_eq!(names, [("ada", "admin"), ("vic", "viewer")], "{listed}");
    let (ok, output) = app.run_cli(&["user", "remove", "--username", "vic"]).await;
    assert!(ok, "{output}");
    let (ok, output) = app.run_cli(&["user", "remove", "--username", "vic"]).await;
    assert!(!ok);
    assert!(output.contains("there is no user named vic"), "{output}");
}

/// A wrong password is refused on the sign-in page; the right one lands on the configuration page, a page
/// asked for before signing in is reached after it, and signing out ends the session.
#[tokio::test]
async fn sign_in_refuses_a_wrong_password_and_lands_on_the_configuration() {
    let app = app_with_users().await;
    let mut browser = Session::start("admin-sign-in").await;

    browser.goto(&format!("{}/admin", app.url)).await;
    assert!(
        browser.url().await.contains("/admin/login?next="),
        "{}",
        browser.url().await
    );
    browser.fill("#username", "ada").await;
    browser.fill("#password", "not the password").await;
    browser.click("#sign-in").await;
    assert!(browser.url().await.ends_with("/admin/login"));
    assert_eq!(
        browser.text("#sign-in-error").await,
        "Wrong user name or password."
    );

    browser.fill("#password", ADMIN_PASSWORD).await;
    browser.click("#sign-in").await;
    assert_eq!(browser.url().await, format!("{}/admin/config", app.url));
    assert_eq!(browser.text("h1").await, "Configuration");
    assert!(browser.text("header").await.contains("ada (admin)"));
    assert!(!browser.exists("#sign-in-error").await);

    browser.click("header form button").await;
    assert!(browser.url().await.ends_with("/admin/login"));
    browser.goto(&format!("{}/admin/config", app.url)).await;
    assert!(
        browser.url().await.contains("/admin/login"),
        "the session ended at sign-out"
    );
}

/// A viewer sees the configuration but a change they post is refused by the server (403, a page saying why)
/// and changes nothing.
#[tokio::test]
async fn a_viewer_is_refused_a_change() {
    let app = app_with_users().await;
    let before = sync_enabled(&app).await;
    let mut browser = Session::start("admin-viewer").await;
    sign_in(&mut browser, &app, "vic", VIEWER_PASSWORD).await;
    assert_eq!(browser.url().await, format!("{}/admin/config", app.url));
    // The page offers no change to a viewer; the server must refuse one anyway.
    browser
        .script(
            "document.querySelector('#save').disabled = false;
             document.querySelector('#sync_enabled').checked = !document.querySelector('#sync_enabled').checked;",
        )
        .await;
    browser.click("#save").await;
    assert_eq!(browser.text("h1").await, "Not allowed");
    assert!(browser.text("main").await.contains("viewer role"));
    assert_eq!(sync_enabled(&app).await, before, "nothing changed");
}

/// A form posted without its CSRF token, or with another one, is refused (403) and changes nothing; the same
/// form with its token saves.
#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused() {
    let app = app_with_users().await;
    let before = sync_enabled(&app).await;
    let mut browser = Session::start("admin-csrf").await;
    sign_in(&mut browser, &app, "ada", ADMIN_PASSWORD).await;
    let toggle = "document.querySelector('#sync_enabled').checked = !document.querySelector('#sync_enabled').checked;";

    browser
        .script(&format!(
            "document.querySelector('form[action=\"/admin/config\"] input[name=csrf]').remove(); {toggle}"
        ))
        .await;
    browser.click("#save").await;
    assert_eq!(browser.text("h1").await, "Form refused");
    assert_eq!(sync_enabled(&app).await, before, "nothing changed");

    browser.goto(&format!("{}/admin/config", app.url)).await;
    browser
        .script(&format!(
            "document.querySelector('form[action=\"/admin/config\"] input[name=csrf]').value = '0'.repeat(64); {toggle}"
        ))
        .await;
    browser.click("#save").await;
    assert_eq!(browser.text("h1").await, "Form refused");
    assert_eq!(sync_enabled(&app).await, before, "nothing changed");

    browser.goto(&format!("{}/admin/config", app.url)).await;
    browser.script(toggle).await;
    browser.click("#save").await;
    assert_eq!(browser.text("h1").await, "Configuration");
    assert_eq!(sync_enabled(&app).await, !before, "saved with its token");
}

/// After 5 failed sign-ins for a user within 15 minutes, the next is refused with 429 and a sentence, even
/// with the right password; cookies are HttpOnly and SameSite=Strict.
#[tokio::test]
async fn failed_sign_ins_are_throttled() {
    let app = app_with_users().await;
    let http = http_client();
    let login = format!("{}/admin/login", app.url);
    let form_token = || async {
        let reply = http.get(&login).send().await.unwrap();
        let cookie = reply.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        assert!(!cookie.contains("Secure"), "plain http: no Secure");
        cookie
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_owned()
    };
    let attempt = |password: &'static str| {
        let (http, login) = (http.clone(), login.clone());
        async move {
            let token = form_token().await;
            http.post(&login)
                .header("cookie", format!("assetsync_login={token}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "username=ada&password={}&csrf={token}",
                    password.replace(' ', "+")
                ))
                .send()
                .await
                .unwrap()
        }
    };
    // Without the sign-in form's token, nothing is checked.
    let reply = http
        .post(&login)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "username=ada&password={}",
            ADMIN_PASSWORD.replace(' ', "+")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::FORBIDDEN);

    for _ in 0..5 {
        assert_eq!(
            attempt("wrong password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let reply = attempt(ADMIN_PASSWORD).await;
    assert_eq!(reply.status(), StatusCode::TOO_MANY_REQUESTS);
    let page = reply.text().await.unwrap();
    assert!(page.contains("Too many failed sign-ins"), "{page}");
}
