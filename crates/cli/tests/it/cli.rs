//! The command line: clear errors, the example configuration, the demo.

use std::process::Command;

fn assetsync() -> Command {
    Command::new(env!("CARGO_BIN_EXE_assetsync"))
}

/// Runs `assetsync serve --config PATH`, which must fail; returns what it said on stderr.
fn serve_refuses(path: &std::path::Path) -> String {
    let output = assetsync()
        .args(["serve", "--config"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "serve should have refused {}",
        path.display()
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_missing_configuration_file_is_a_sentence_and_a_failure() {
    let stderr = serve_refuses(std::path::Path::new("/nonexistent/assetsync.toml"));
    assert!(
        stderr.contains("could not read the configuration file /nonexistent/assetsync.toml"),
        "{stderr}"
    );
}

#[test]
fn a_bad_configuration_names_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let example =
        String::from_utf8(assetsync().arg("default-config").output().unwrap().stdout).unwrap();
    std::fs::write(
        &path,
        example.replace("program_id = \"142461\"", "program_id = \"p142461\""),
    )
    .unwrap();
    assert!(serve_refuses(&path).contains("aem.program_id must be digits"));
}

#[test]
fn a_download_limit_out_of_range_names_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let example =
        String::from_utf8(assetsync().arg("default-config").output().unwrap().stdout).unwrap();
    std::fs::write(
        &path,
        example.replacen(
            "kind = \"builtin\"",
            "kind = \"builtin\"\nmax_binary_bytes = 0",
            1,
        ),
    )
    .unwrap();
    let stderr = serve_refuses(&path);
    assert!(
        stderr.contains("commerce.max_binary_bytes must be from 1 to 1073741824"),
        "{stderr}"
    );
}

#[test]
fn the_demo_syncs_a_small_catalog_from_an_empty_folder() {
    let dir = tempfile::tempdir().unwrap();
    let output = assetsync()
        .current_dir(dir.path())
        .args([
            "demo",
            "--products",
            "30",
            "--assets",
            "90",
            "--exit-after-sync",
            "--timeout-secs",
            "120",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("p99"), "{stdout}");
    let password = stdout
        .lines()
        .find_map(|l| l.split_once("/admin   (admin console: user admin, one-time password "))
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("the admin console's URL and password are printed: {stdout}"));
    assert!(
        password.len() == 24 && password.bytes().all(|b| b.is_ascii_hexdigit()),
        "{password}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("creating assets…") && stderr.contains("syncing…"),
        "without a terminal, no bar but a line per phase: {stderr}"
    );
    assert!(!stderr.contains('\r'), "no bar drawn on a pipe: {stderr:?}");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "the demo leaves the current folder untouched"
    );
}

/// The token `default-config` wrote on its `admin_token` line.
fn printed_token(example: &str) -> String {
    example
        .lines()
        .find_map(|l| l.strip_prefix("admin_token = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap()
        .to_owned()
}

#[test]
fn default_config_prints_a_fresh_random_admin_token() {
    let print =
        || String::from_utf8(assetsync().arg("default-config").output().unwrap().stdout).unwrap();
    let (one, two) = (printed_token(&print()), printed_token(&print()));
    assert_ne!(one, two, "each run prints a new token");
    for token in [&one, &two] {
        assert!(
            token.len() >= 24 && token.bytes().all(|b| b.is_ascii_hexdigit()),
            "{token}"
        );
    }
}

#[test]
fn the_placeholder_or_a_short_admin_token_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let example =
        String::from_utf8(assetsync().arg("default-config").output().unwrap().stdout).unwrap();
    let token = printed_token(&example);
    for (bad, why) in [
        ("change-me-please", "placeholder"),
        ("short-but-not-24-chars", "at least 24 characters"),
    ] {
        let path = dir.path().join("weak.toml");
        std::fs::write(&path, example.replace(&token, bad)).unwrap();
        let stderr = serve_refuses(&path);
        assert!(
            stderr.contains("admin_token") && stderr.contains(why),
            "{stderr}"
        );
        assert!(
            !stderr.contains(bad) || bad == "change-me-please",
            "a refused token is not quoted: {stderr}"
        );
    }
}

#[test]
fn a_malformed_configuration_is_reported_without_quoting_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    let example =
        String::from_utf8(assetsync().arg("default-config").output().unwrap().stdout).unwrap();
    let token_line = example
        .lines()
        .find(|l| l.starts_with("admin_token = "))
        .unwrap();
    let broken = example.replace(token_line, "admin_token = \"s3cret-value-42");
    std::fs::write(&path, broken).unwrap();
    let stderr = serve_refuses(&path);
    assert!(
        stderr.contains("is not a valid configuration (line"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("s3cret-value-42"),
        "the secret leaked: {stderr}"
    );
}

#[tokio::test]
async fn a_second_process_on_the_same_database_is_refused() {
    let app = crate::harness::TestApp::spawn().await;
    let config = std::fs::read_to_string(app.dir.path().join("assetsync.toml")).unwrap();
    let port = app.url.rsplit(':').next().unwrap();
    let second = app.dir.path().join("second.toml");
    std::fs::write(
        &second,
        config.replace(&format!("127.0.0.1:{port}"), "127.0.0.1:0"),
    )
    .unwrap();
    let stderr = serve_refuses(&second);
    assert!(
        stderr.contains("another assetsync process uses the database"),
        "{stderr}"
    );
    assert_eq!(
        app.health().await["status"],
        "ok",
        "the first process is unaffected"
    );
}

#[tokio::test]
async fn sigterm_drains_and_exits_zero() {
    let app = crate::harness::TestApp::spawn().await;
    app.put_product("TERM-1").await;
    let config = std::fs::read_to_string(app.dir.path().join("assetsync.toml")).unwrap();
    // A second service on its own database and port, to stop with SIGTERM.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("keys")).unwrap();
    std::fs::copy(
        app.dir.path().join("keys/pub.pem"),
        dir.path().join("keys/pub.pem"),
    )
    .unwrap();
    std::fs::write(dir.path().join("assetsync.toml"), config).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_assetsync"))
        .args(["serve", "--config"])
        .arg(dir.path().join("assetsync.toml"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(line.starts_with("assetsync listening on"), "{line}");
    let pid = child.id().to_string();
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        let started = std::time::Instant::now();
        let status = child.wait().unwrap();
        (status, started.elapsed())
    })
    .await
    .unwrap();
    assert!(status.0.success(), "SIGTERM exits 0: {:?}", status.0);
    assert!(
        status.1 < std::time::Duration::from_secs(15),
        "it drains promptly: {:?}",
        status.1
    );
}
