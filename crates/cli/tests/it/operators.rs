//! For operators: configuration from the environment and from `_file` twins, `check-config`, the log's
//! formats and request lines, shell completions, `verify`'s exit codes.

use crate::harness::{ADMIN_TOKEN, TestApp};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn assetsync() -> Command {
    Command::new(env!("CARGO_BIN_EXE_assetsync"))
}

/// A second `assetsync serve` beside a [`TestApp`] (its emulator and key, a database of its own), killed
/// when dropped; its stderr is collected line by line.
struct Served {
    child: Child,
    url: String,
    stderr: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The TestApp's configuration on port 0 and without its `admin_token` line, in a fresh folder with its key.
fn fresh_config(app: &TestApp) -> (tempfile::TempDir, PathBuf, String) {
    let config = std::fs::read_to_string(app.dir.path().join("assetsync.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("keys")).unwrap();
    std::fs::copy(
        app.dir.path().join("keys/pub.pem"),
        dir.path().join("keys/pub.pem"),
    )
    .unwrap();
    let text: String = config
        .lines()
        .filter(|line| !line.starts_with("admin_token"))
        .map(|line| {
            if line.starts_with("listen") {
                "listen = \"127.0.0.1:0\"".to_owned()
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let path = dir.path().join("assetsync.toml");
    (dir, path, text)
}

/// Starts `serve --config <dir>/assetsync.toml` with `config` as its text, these variables and arguments.
fn serve(dir: tempfile::TempDir, config: &str, env: &[(&str, &str)], args: &[&str]) -> Served {
    let path = dir.path().join("assetsync.toml");
    std::fs::write(&path, config).unwrap();
    let mut child = assetsync()
        .args(["serve", "--config"])
        .arg(&path)
        .args(args)
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let lines = stderr.clone();
    let pipe = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            lines.lock().unwrap().push(line);
        }
    });
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first
        .strip_prefix("assetsync listening on ")
        .unwrap_or_else(|| panic!("no banner: {first:?}; stderr {:?}", stderr.lock().unwrap()))
        .trim()
        .to_owned();
    Served {
        child,
        url,
        stderr,
        _dir: dir,
    }
}

/// The status of an admin route read with `token`.
async fn admin_status(url: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{url}/api/v1/health/sync"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_admin_token_comes_from_the_environment_or_its_file_and_the_environment_wins() {
    let app = TestApp::spawn().await;
    // Digits only: it must stay a string.
    let from_env = "123456789012345678901234567890";
    let (dir, _, config) = fresh_config(&app);
    let served = serve(dir, &config, &[("ASSETSYNC_ADMIN_TOKEN", from_env)], &[]);
    assert_eq!(admin_status(&served.url, from_env).await, 200);
    assert_eq!(admin_status(&served.url, ADMIN_TOKEN).await, 401);
    drop(served);

    let (dir, _, config) = fresh_config(&app);
    let from_file = "token-read-from-a-file-0123456789";
    std::fs::write(dir.path().join("token.txt"), format!("{from_file}\n")).unwrap();
    let config = format!("admin_token_file = \"token.txt\"\n{config}");
    let served = serve(dir, &config, &[], &[]);
    assert_eq!(
        admin_status(&served.url, from_file).await,
        200,
        "relative to the file's folder, trailing newline trimmed"
    );
    drop(served);

    let (dir, _, config) = fresh_config(&app);
    let config = format!("admin_token = \"{ADMIN_TOKEN}\"\n{config}");
    let over = "the-environment-wins-over-the-file-0123";
    let served = serve(
        dir,
        &config,
        &[
            ("ASSETSYNC_ADMIN_TOKEN", over),
            ("ASSETSYNC_HTTP__MAX_REQUESTS", "8"),
        ],
        &[],
    );
    assert_eq!(admin_status(&served.url, over).await, 200);
    assert_eq!(admin_status(&served.url, ADMIN_TOKEN).await, 401);
}

fn check_config(path: &Path, env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let output = assetsync()
        .args(["check-config", "--config"])
        .arg(path)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn check_config_lists_every_problem_without_quoting_a_secret() {
    let app = TestApp::spawn().await;
    let (dir, path, config) = fresh_config(&app);
    std::fs::write(dir.path().join("aem-secret"), "the-aem-secret-value\n").unwrap();
    let bad = format!("admin_token = \"short-secret-value\"\n{config}")
        .replace("program_id = \"142461\"", "program_id = \"p142461\"")
        .replace("[http]", "[http]\nheader_timeout_seconds = 99")
        .replace(
            &format!("access_token = \"{}\"", crate::harness::ACCESS_TOKEN),
            "client_id = \"c\"\nclient_secret = \"the-aem-secret-value\"\nclient_secret_file = \"aem-secret\"",
        );
    std::fs::write(&path, bad).unwrap();
    let (code, stdout, stderr) = check_config(&path, &[]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("aem.client_secret and aem.client_secret_file are both set"),
        "{stderr}"
    );
    // The twin problem found, the rest is checked once the secret is read one way.
    std::fs::write(
        &path,
        std::fs::read_to_string(&path)
            .unwrap()
            .replace("client_secret = \"the-aem-secret-value\"\n", ""),
    )
    .unwrap();
    let (code, _, stderr) = check_config(&path, &[]);
    assert_eq!(code, Some(2), "{stderr}");
    for problem in [
        "admin_token must be at least 24 characters",
        "aem.program_id must be digits",
        "http.header_timeout_seconds must be between 1 and 30",
        "3 problem(s)",
    ] {
        assert!(stderr.contains(problem), "{problem}: {stderr}");
    }
    // Values of the wrong type, from the file and from the environment, are named by key.
    let (code, _, stderr) = check_config(
        &path,
        &[
            ("ASSETSYNC_HTTP__MAX_REQUESTS", "many-secret-requests"),
            ("ASSETSYNC_AEM__NO_SUCH_KEY", "x"),
        ],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("http.max_requests (ASSETSYNC_HTTP__MAX_REQUESTS)")
            && stderr.contains("aem.no_such_key (ASSETSYNC_AEM__NO_SUCH_KEY) is not a setting"),
        "{stderr}"
    );
    for secret in [
        "short-secret-value",
        "the-aem-secret-value",
        "many-secret-requests",
    ] {
        assert!(!stderr.contains(secret), "{secret} leaked: {stderr}");
    }
}

#[tokio::test]
async fn check_config_accepts_a_good_file_without_binding_or_opening_anything() {
    let app = TestApp::spawn().await;
    // The running app's own file: its port is taken, which check-config does not mind (it binds nothing).
    let path = app.dir.path().join("assetsync.toml");
    let fresh = app.dir.path().join("fresh.toml");
    std::fs::write(
        &fresh,
        std::fs::read_to_string(&path)
            .unwrap()
            .replace("sqlite://assetsync.db", "sqlite://never-created.db"),
    )
    .unwrap();
    let (code, stdout, stderr) = check_config(&fresh, &[]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with("ok: "), "{stdout}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(!stdout.contains(ADMIN_TOKEN), "{stdout}");
    assert!(
        !app.dir.path().join("never-created.db").exists(),
        "the database is not opened"
    );
    assert_eq!(app.health().await["status"], "ok");
}

/// Waits until a line of `served`'s stderr satisfies `found`.
async fn wait_for_line(served: &Served, found: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(line) = served
            .stderr
            .lock()
            .unwrap()
            .iter()
            .find(|line| found(line))
        {
            return line.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no such line in {:?}",
            served.stderr.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_a_request_line_per_request() {
    let app = TestApp::spawn().await;
    let (dir, _, config) = fresh_config(&app);
    // The flag wins over `[log] format`, RUST_LOG over `[log] level`.
    let config = format!(
        "admin_token = \"{ADMIN_TOKEN}\"\n{config}\n[log]\nformat = \"pretty\"\nlevel = \"error\""
    );
    let served = serve(
        dir,
        &config,
        &[("RUST_LOG", "info")],
        &["--log-format", "json"],
    );
    let reply = reqwest::Client::new()
        .get(format!("{}/api/v1/products/LOG-1/media", served.url))
        .send()
        .await
        .unwrap();
    let id = reply.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(admin_status(&served.url, ADMIN_TOKEN).await, 200);
    let line = wait_for_line(&served, |line| line.contains(&id)).await;
    let request: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(request["message"], "request", "{line}");
    assert_eq!(request["method"], "GET");
    assert_eq!(
        request["route"], "/api/v1/products/{sku}/media",
        "the matched route, not the path: {line}"
    );
    assert_eq!(request["status"], reply.status().as_u16());
    assert!(request["duration_ms"].as_f64().is_some(), "{line}");
    wait_for_line(&served, |line| line.contains("/api/v1/health/sync")).await;
    let lines = served.stderr.lock().unwrap().clone();
    for line in &lines {
        let parsed: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line:?}"));
        assert!(parsed.is_object(), "{line}");
        assert!(!line.contains('\u{1b}'), "no ANSI: {line}");
    }
    assert!(
        !lines.iter().any(|line| line.contains(ADMIN_TOKEN)),
        "no secret in the log"
    );
}

#[tokio::test]
async fn pretty_logs_to_a_pipe_have_no_colours_and_log_each_request() {
    let app = TestApp::spawn().await;
    let (dir, _, config) = fresh_config(&app);
    let config = format!("admin_token = \"{ADMIN_TOKEN}\"\n{config}");
    let served = serve(dir, &config, &[], &[]);
    let reply = reqwest::Client::new()
        .get(format!("{}/healthz", served.url))
        .send()
        .await
        .unwrap();
    let id = reply.headers()["x-request-id"].to_str().unwrap().to_owned();
    let line = wait_for_line(&served, |line| line.contains(&id)).await;
    assert!(
        line.contains("route=/healthz") && line.contains("status=200"),
        "{line}"
    );
    let lines = served.stderr.lock().unwrap().clone();
    assert!(
        !lines.iter().any(|line| line.contains('\u{1b}')),
        "no ANSI codes on a pipe: {lines:?}"
    );
}

#[test]
fn completions_print_a_script_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef assetsync"),
        ("fish", "complete -c assetsync"),
    ] {
        let output = assetsync().args(["completions", shell]).output().unwrap();
        assert!(output.status.success(), "{shell}");
        let script = String::from_utf8(output.stdout).unwrap();
        assert!(
            script.contains(marker) && script.contains("check-config"),
            "{shell}: {script}"
        );
    }
    let output = assetsync().args(["completions", "cmd"]).output().unwrap();
    assert!(!output.status.success());
}

#[tokio::test]
async fn verify_exits_2_when_it_cannot_reach_the_service() {
    let app = TestApp::spawn().await;
    let (dir, path, config) = fresh_config(&app);
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!("admin_token = \"{ADMIN_TOKEN}\"\n{config}").replacen(
        "127.0.0.1:0\"",
        &format!("127.0.0.1:{port}\""),
        1,
    );
    std::fs::write(&path, config).unwrap();
    let output = assetsync()
        .args(["verify", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("could not reach the service"), "{stderr}");
    drop(dir);
}

#[tokio::test]
async fn the_stores_secret_key_may_come_from_a_file_but_not_from_both() {
    let app = TestApp::spawn().await;
    let path = app.dir.path().join("assetsync.toml");
    let key = app.dir.path().join("secret.key");
    std::fs::write(&key, "dGVzdC1rZXktb2YtdGhlLXBvc3RncmVzLWhhcm5lc3M=\n").unwrap();
    let key = key.to_str().unwrap();
    let (code, stdout, stderr) = check_config(&path, &[("ASSETSYNC_SECRET_KEY_FILE", key)]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let (code, _, stderr) = check_config(
        &path,
        &[
            ("ASSETSYNC_SECRET_KEY_FILE", key),
            ("ASSETSYNC_SECRET_KEY", "c2hvcnQ="),
        ],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("ASSETSYNC_SECRET_KEY and ASSETSYNC_SECRET_KEY_FILE are both set"),
        "{stderr}"
    );
    std::fs::write(app.dir.path().join("secret.key"), "c2hvcnQ=\n").unwrap();
    let (code, _, stderr) = check_config(&path, &[("ASSETSYNC_SECRET_KEY_FILE", key)]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("must be 32 bytes in base64"), "{stderr}");
    assert!(!stderr.contains("c2hvcnQ="), "{stderr}");
}

#[test]
fn without_a_file_the_configuration_comes_from_the_environment_alone() {
    let dir = tempfile::tempdir().unwrap();
    let check = |extra: &[(&str, &str)]| {
        let output = assetsync()
            .arg("check-config")
            .current_dir(dir.path())
            .env("ASSETSYNC_LISTEN", "127.0.0.1:0")
            .env("ASSETSYNC_DATABASE_URL", "sqlite://env.db")
            .env("ASSETSYNC_AEM__PROGRAM_ID", "142461")
            .env("ASSETSYNC_AEM__ENVIRONMENT_ID", "1463137")
            .env("ASSETSYNC_AEM__ACCESS_TOKEN", "env-access-token")
            .env("ASSETSYNC_EVENTS__RECIPIENT_CLIENT_ID", "client")
            .env("ASSETSYNC_SYNC__ENABLED", "false")
            .envs(extra.iter().copied())
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr),
        )
    };
    let (code, output) = check(&[("ASSETSYNC_ADMIN_TOKEN", ADMIN_TOKEN)]);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.starts_with("ok: the environment"), "{output}");
    let (code, output) = check(&[]);
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains("admin_token is not set"), "{output}");
    let output = assetsync()
        .args(["check-config", "--config", "/nonexistent/assetsync.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("could not read the configuration file"),
        "a file named must exist"
    );
}
