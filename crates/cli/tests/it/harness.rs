//! `TestApp`: an emulator plus a spawned `assetsync serve`, with helpers named after user actions.

pub use crate::harness_http::{entry_triples, event_body, http_client, object, roles};
use sandbox::aem::{AemEmulator, AemSettings};
use sandbox::commerce::{CommerceEmulator, CommerceSettings};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use tempfile::TempDir;

pub const CLIENT_ID: &str = "test-client";
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";
pub const ACCESS_TOKEN: &str = "test-access-token";
pub const CONSUMER_KEY: &str = "test-consumer-key";
pub const CONSUMER_SECRET: &str = "test-consumer-secret";
pub const COMMERCE_TOKEN: &str = "test-commerce-token";
pub const COMMERCE_TOKEN_SECRET: &str = "test-commerce-token-secret";

pub struct TestApp {
    pub dir: TempDir,
    pub emulator: AemEmulator,
    pub url: String,
    /// `http://127.0.0.1:<port>/metrics`, the metrics listener's address.
    pub metrics_url: String,
    pub http: reqwest::Client,
    /// The emulated Adobe Commerce store, when the service writes to one.
    pub store: Option<CommerceEmulator>,
    commerce_auth: &'static str,
    /// Extra lines of the `[sync]` table.
    extra_sync: String,
    /// Extra lines of the `[events]` table.
    extra_events: String,
    /// Extra lines of the `[commerce]` table.
    extra_commerce: String,
    /// Lines of the `[http]` table (the listener's limits).
    extra_http: String,
    /// Tables appended at the end of the configuration (e.g. `[admin.oidc]`).
    pub extra_tail: String,
    /// The credential lines of the `[aem]` table (default: the static token).
    aem_credentials: String,
    /// Whether a public key file is pinned (otherwise keys come from the emulator's key host only).
    pin_keys: bool,
    child: Option<Child>,
    port: u16,
    sync_enabled: bool,
    key_form: KeyForm,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum KeyForm {
    /// `BEGIN PUBLIC KEY` (SPKI), the second key only.
    SpkiSecondKey,
    /// `BEGIN RSA PUBLIC KEY` (PKCS#1), the first key only.
    Pkcs1FirstKey,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(KeyForm::SpkiSecondKey, true).await
    }

    pub async fn spawn_with(key_form: KeyForm, sync_enabled: bool) -> Self {
        Self::spawn_full(key_form, sync_enabled, None).await
    }

    /// A service on the built-in catalog with extra `[sync]` settings.
    pub async fn spawn_with_sync(extra_sync: &str) -> Self {
        let mut app = Self::spawn().await;
        app.extra_sync = extra_sync.to_owned();
        app.kill();
        app.start_process();
        app
    }

    /// A service on the built-in catalog whose listener has these `[http]` limits.
    pub async fn spawn_with_http(http: &str) -> Self {
        let mut app = Self::spawn().await;
        app.extra_http = http.to_owned();
        app.kill();
        app.start_process();
        app
    }

    /// A service that also reads the emulator's I/O Events journal.
    pub async fn spawn_with_journal() -> Self {
        let mut app = Self::spawn().await;
        app.extra_events = format!("journal_url = \"{}/events/journal\"", app.emulator.url());
        app.kill();
        app.start_process();
        app
    }

    /// A service writing to an emulated Adobe Commerce store, with extra `[sync]` settings.
    pub async fn spawn_magento_with_sync(extra_sync: &str) -> Self {
        Self::spawn_magento_with(extra_sync, "").await
    }

    /// A service writing to an emulated Adobe Commerce store, with extra `[sync]` and `[commerce]` settings.
    pub async fn spawn_magento_with(extra_sync: &str, extra_commerce: &str) -> Self {
        let mut app = Self::spawn_magento("oauth1", false).await;
        app.extra_sync = extra_sync.to_owned();
        app.extra_commerce = extra_commerce.to_owned();
        app.kill();
        app.start_process();
        app
    }

    /// A service writing to an emulated Adobe Commerce store (`auth` = `oauth1` or `bearer`).
    pub async fn spawn_magento(auth: &'static str, allow_bearer: bool) -> Self {
        let store = CommerceEmulator::start(
            CommerceSettings {
                consumer_key: CONSUMER_KEY.into(),
                consumer_secret: CONSUMER_SECRET.into(),
                access_token: COMMERCE_TOKEN.into(),
                access_token_secret: COMMERCE_TOKEN_SECRET.into(),
                allow_bearer,
            },
            0,
        )
        .await
        .unwrap();
        Self::spawn_full(KeyForm::SpkiSecondKey, true, Some((store, auth))).await
    }

    async fn spawn_full(
        key_form: KeyForm,
        sync_enabled: bool,
        store: Option<(CommerceEmulator, &'static str)>,
    ) -> Self {
        let emulator = AemEmulator::start(
            AemSettings {
                program_id: "142461".into(),
                environment_id: "1463137".into(),
                access_token: ACCESS_TOKEN.into(),
                recipient_client_id: CLIENT_ID.into(),
            },
            0,
        )
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut app = Self {
            dir,
            emulator,
            url: String::new(),
            metrics_url: String::new(),
            http: http_client(),
            commerce_auth: store.as_ref().map_or("oauth1", |(_, auth)| *auth),
            extra_sync: String::new(),
            extra_events: String::new(),
            extra_commerce: String::new(),
            extra_http: String::new(),
            extra_tail: String::new(),
            aem_credentials: format!("access_token = \"{ACCESS_TOKEN}\""),
            pin_keys: true,
            store: store.map(|(store, _)| store),
            child: None,
            port: 0,
            sync_enabled,
            key_form,
        };
        app.start_process();
        app.emulator
            .subscribe(&format!("{}/events/aem", app.url))
            .await
            .unwrap();
        app
    }

    fn write_config(&self) -> PathBuf {
        std::fs::create_dir_all(self.dir.path().join("keys")).unwrap();
        let key = match self.key_form {
            KeyForm::SpkiSecondKey => self.emulator.keys().public_key_pem(1).unwrap(),
            KeyForm::Pkcs1FirstKey => self.emulator.keys().public_key_pkcs1_pem(0).unwrap(),
        };
        std::fs::write(self.dir.path().join("keys/pub.pem"), key).unwrap();
        let config = format!(
            r#"
listen = "127.0.0.1:{port}"
database_url = "sqlite://assetsync.db"
admin_token = "{ADMIN_TOKEN}"
[aem]
program_id = "142461"
environment_id = "1463137"
author_url = "{emulator}"
delivery_url = "{emulator}"
{aem_credentials}
[events]
recipient_client_id = "{CLIENT_ID}"
public_keys = [{pinned}]
key_host = "{emulator}"
{extra_events}
{commerce}
[metrics]
listen = "127.0.0.1:0"
[http]
{extra_http}
[sync]
enabled = {enabled}
sku_attribute = "commerce:skus"
{extra_sync}
{extra_tail}
"#,
            port = self.port,
            emulator = self.emulator.url(),
            enabled = self.sync_enabled,
            extra_sync = self.extra_sync,
            extra_events = self.extra_events,
            extra_http = self.extra_http,
            extra_tail = self.extra_tail,
            aem_credentials = self.aem_credentials,
            pinned = if self.pin_keys {
                "\"keys/pub.pem\""
            } else {
                ""
            },
            commerce = match &self.store {
                None => "[commerce]\nkind = \"builtin\"".to_owned(),
                Some(store) =>
                    format!(
                        "[commerce]\nkind = \"adobe-commerce\"\nbase_url = \"{}\"\nauth = \"{}\"\n\
                     consumer_key = \"{CONSUMER_KEY}\"\nconsumer_secret = \"{CONSUMER_SECRET}\"\n\
                     access_token = \"{COMMERCE_TOKEN}\"\naccess_token_secret = \"{COMMERCE_TOKEN_SECRET}\"",
                        store.url(),
                        self.commerce_auth
                    ) + "\n"
                        + &self.extra_commerce,
            },
        );
        let path = self.dir.path().join("assetsync.toml");
        std::fs::write(&path, config).unwrap();
        path
    }

    /// Starts `assetsync serve` and waits for its "listening on" line.
    pub(crate) fn start_process(&mut self) {
        let config = self.write_config();
        let mut child = Command::new(env!("CARGO_BIN_EXE_assetsync"))
            .args(["serve", "--config"])
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let line = lines
            .next()
            .expect("assetsync exited before listening")
            .unwrap();
        let url = line
            .strip_prefix("assetsync listening on ")
            .expect("unexpected first line")
            .trim()
            .to_owned();
        self.metrics_url = lines
            .next()
            .expect("assetsync exited before serving metrics")
            .unwrap()
            .strip_prefix("assetsync metrics on ")
            .expect("unexpected second line")
            .trim()
            .to_owned();
        std::thread::spawn(move || for _ in lines {});
        self.port = url.rsplit(':').next().unwrap().parse().unwrap();
        self.url = url;
        self.child = Some(child);
    }

    /// Kills the process (SIGKILL: no graceful shutdown) and starts it again on the same port and database.
    pub fn crash_and_restart(&mut self) {
        self.kill();
        self.start_process();
    }

    /// Restarts with other `[aem]` credential lines (instead of the static token) and extra `[events]` lines;
    /// `pin_keys` false leaves `public_keys` empty, so that keys come from the emulator's key host only.
    pub fn restart_with_credentials(
        &mut self,
        aem_credentials: &str,
        extra_events: &str,
        pin_keys: bool,
    ) {
        self.kill();
        self.aem_credentials = aem_credentials.to_owned();
        self.extra_events = extra_events.to_owned();
        self.pin_keys = pin_keys;
        self.start_process();
    }

    /// Restarts with synchronization switched on or off.
    pub fn restart_with_sync(&mut self, enabled: bool) {
        self.kill();
        self.sync_enabled = enabled;
        self.start_process();
    }

    pub(crate) fn kill(&mut self) {
        // Pooled connections to the old process would fail the next requests.
        self.http = http_client();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Runs an `assetsync` command against this service (its configuration file, with the port it listens on),
    /// off the test's thread so the in-process emulators keep answering. Returns (success, stdout).
    pub async fn run_cli(&self, args: &[&str]) -> (bool, String) {
        let (code, output) = self.run_cli_code(args).await;
        (code == Some(0), output)
    }

    /// [`Self::run_cli`] with the exit code.
    pub async fn run_cli_code(&self, args: &[&str]) -> (Option<i32>, String) {
        let config = std::fs::read_to_string(self.dir.path().join("assetsync.toml")).unwrap();
        let address = self.url.trim_start_matches("http://").to_owned();
        let path = self.dir.path().join("cli.toml");
        let listen = config
            .lines()
            .find(|l| l.starts_with("listen"))
            .unwrap()
            .to_owned();
        std::fs::write(
            &path,
            config.replace(&listen, &format!("listen = \"{address}\"")),
        )
        .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_assetsync"));
        command.args(args).arg("--config").arg(&path);
        let output = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        (
            output.status.code(),
            format!("{stdout}{}", String::from_utf8_lossy(&output.stderr)),
        )
    }

    /// `assetsync user add` against this service's configuration (while it runs), the password on standard
    /// input. Returns (exit code, output).
    pub async fn add_user(&self, name: &str, role: &str, password: &str) -> (Option<i32>, String) {
        use std::io::Write as _;
        let path = self.dir.path().join("assetsync.toml");
        let mut command = Command::new(env!("CARGO_BIN_EXE_assetsync"));
        command
            .args([
                "user",
                "add",
                "--username",
                name,
                "--role",
                role,
                "--config",
            ])
            .arg(&path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let password = format!("{password}\n");
        let output = tokio::task::spawn_blocking(move || {
            let mut child = command.spawn().unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(password.as_bytes())
                .unwrap();
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap();
        (
            output.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        )
    }

    /// Kills the process, deletes its database, and starts it again on the same port: a lost database.
    pub fn lose_the_database(&mut self) {
        self.kill();
        for name in ["assetsync.db", "assetsync.db-wal", "assetsync.db-shm"] {
            let _ = std::fs::remove_file(self.dir.path().join(name));
        }
        self.start_process();
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.kill();
    }
}
