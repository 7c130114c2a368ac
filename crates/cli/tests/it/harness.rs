//! `TestApp`: an emulator plus a spawned `assetsync serve`, with helpers named after user actions.

use reqwest::StatusCode;
use sandbox::aem::{AemEmulator, AemSettings, NewAsset};
use sandbox::commerce::{CommerceEmulator, CommerceSettings};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
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

    /// Creates an asset in the DAM with this metadata (not yet approved).
    pub fn create_asset(&self, metadata: Value) -> String {
        let Value::Object(metadata) = metadata else {
            panic!("metadata must be an object")
        };
        self.emulator
            .create_asset(NewAsset {
                metadata,
                ..NewAsset::default()
            })
            .unwrap()
    }

    /// Creates an asset for commerce and approves it.
    pub fn approved_asset(&self, metadata: Value) -> String {
        let Value::Object(mut metadata) = metadata else {
            panic!("metadata must be an object")
        };
        metadata
            .entry("commerce:isCommerce")
            .or_insert(json!("Yes"));
        let id = self.create_asset(Value::Object(metadata));
        self.emulator.approve(&id).unwrap();
        id
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

    /// The emulated store (panics when the service writes to the built-in catalog).
    pub fn store(&self) -> &CommerceEmulator {
        self.store
            .as_ref()
            .expect("this TestApp has no commerce emulator")
    }

    /// The store's gallery of `sku` as (asset id from the file name, position, roles, label), by position.
    pub fn store_gallery(&self, sku: &str) -> Vec<(String, i64, Vec<String>, Option<String>)> {
        self.store()
            .entries(sku)
            .unwrap_or_default()
            .iter()
            .map(|e| {
                let file = e["file"].as_str().unwrap_or_default();
                let name = file.rsplit('/').next().unwrap_or_default();
                let owner = if name.starts_with("handmade") {
                    "handmade".to_owned()
                } else {
                    format!("urn:aaid:aem:{}", name.chars().take(36).collect::<String>())
                };
                let mut roles: Vec<String> = e["types"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_owned())
                    .collect();
                roles.sort();
                (
                    owner,
                    e["position"].as_i64().unwrap(),
                    roles,
                    e["label"].as_str().map(str::to_owned),
                )
            })
            .collect()
    }

    pub fn update(&self, asset_id: &str, fields: Value) {
        let Value::Object(fields) = fields else {
            panic!("fields must be an object")
        };
        self.emulator.update_metadata(asset_id, fields).unwrap();
    }

    pub async fn put_product(&self, sku: &str) -> (StatusCode, Value) {
        let reply = self
            .http
            .put(format!("{}/api/v1/products/{sku}", self.url))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        (reply.status(), reply.json().await.unwrap_or(Value::Null))
    }

    pub async fn put_products(&self, skus: &[&str]) {
        for sku in skus {
            let (status, _) = self.put_product(sku).await;
            assert!(status.is_success(), "PUT product {sku}: {status}");
        }
    }

    pub async fn media(&self, sku: &str) -> (StatusCode, Value) {
        let reply = self
            .http
            .get(format!("{}/api/v1/products/{sku}/media", self.url))
            .send()
            .await
            .unwrap();
        (reply.status(), reply.json().await.unwrap_or(Value::Null))
    }

    /// The gallery of `sku` as (asset id, position, roles).
    pub async fn gallery(&self, sku: &str) -> Vec<(String, u64, Vec<String>)> {
        let (_, body) = self.media(sku).await;
        entry_triples(&body["entries"])
    }

    pub async fn asset_status(&self, asset_id: &str) -> (StatusCode, Value) {
        let reply = self
            .http
            .get(format!("{}/api/v1/assets/{asset_id}", self.url))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        (reply.status(), reply.json().await.unwrap_or(Value::Null))
    }

    pub async fn health(&self) -> Value {
        self.http
            .get(format!("{}/healthz", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The admin report `GET /api/v1/health/sync` (queue depths, waiting assets, dead letters).
    pub async fn sync_health(&self) -> Value {
        self.admin_get("/api/v1/health/sync").await.1
    }

    /// Waits until the service is idle: every delivery made, nothing queued, no asset waiting.
    pub async fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            // Deliveries first: once none is in flight, every event is committed before the health read.
            let delivered = self.emulator.deliveries().in_flight() == 0;
            let health = self.sync_health().await;
            let idle = delivered
                && health["queues"]["asset_work"] == 0
                && health["queues"]["sku_work"] == 0
                && health["assets"]["waiting"] == 0;
            if idle {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "service did not settle: {health}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until `check` holds for the gallery of `sku`.
    pub async fn wait_for_gallery(
        &self,
        sku: &str,
        check: impl Fn(&[(String, u64, Vec<String>)]) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let gallery = self.gallery(sku).await;
            if check(&gallery) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "gallery of {sku} never matched; last: {gallery:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// POSTs a raw delivery with the given signature headers.
    pub async fn deliver(&self, body: &[u8], signatures: &[(&str, String)]) -> (StatusCode, Value) {
        self.deliver_to("/events/aem", body, signatures).await
    }

    /// POSTs a raw delivery to `path`, on a fresh connection (a refused oversized body closes its connection).
    pub async fn deliver_to(
        &self,
        path: &str,
        body: &[u8],
        signatures: &[(&str, String)],
    ) -> (StatusCode, Value) {
        let mut request = http_client()
            .post(format!("{}{path}", self.url))
            .body(body.to_vec());
        for (name, value) in signatures {
            request = request.header(*name, value);
        }
        let reply = request.send().await.unwrap();
        (reply.status(), reply.json().await.unwrap_or(Value::Null))
    }

    /// POSTs a signed commerce product event to `/events/commerce`.
    pub async fn deliver_commerce_event(&self, body: &[u8]) -> (StatusCode, Value) {
        let [one, two] = self.emulator.keys().sign(body).unwrap();
        self.deliver_to(
            "/events/commerce",
            body,
            &[
                ("x-adobe-digital-signature-1", one),
                ("x-adobe-digital-signature-2", two),
            ],
        )
        .await
    }

    /// PUTs a configuration change (with an optional query string such as `?scope=websites&scope_id=1`).
    pub async fn put_config(&self, query: &str, change: Value) -> (StatusCode, Value) {
        let reply = self
            .http
            .put(format!("{}/api/v1/config{query}", self.url))
            .bearer_auth(ADMIN_TOKEN)
            .json(&change)
            .send()
            .await
            .unwrap();
        (reply.status(), reply.json().await.unwrap_or(Value::Null))
    }

    /// GETs an admin path.
    /// `POST` to an admin route with no body.
    pub async fn admin_post(&self, path: &str) -> (StatusCode, Value) {
        let reply = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        (reply.status(), reply.json().await.unwrap_or(Value::Null))
    }

    /// Waits (up to 120 s) until the full sync `id` is done; returns its final status.
    pub async fn wait_for_full_sync(&self, id: i64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let status = self.admin_get(&format!("/api/v1/sync/{id}")).await.1;
            if status["state"] == "done" {
                return status;
            }
            assert_ne!(status["state"], "failed", "{status}");
            assert!(
                Instant::now() < deadline,
                "full sync never finished: {status}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn admin_get(&self, path: &str) -> (StatusCode, Value) {
        let reply = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        (reply.status(), reply.json().await.unwrap_or(Value::Null))
    }

    /// POSTs a delivery signed as I/O Events signs it (both signatures).
    pub async fn deliver_signed(&self, body: &[u8]) -> (StatusCode, Value) {
        let [one, two] = self.emulator.keys().sign(body).unwrap();
        self.deliver(
            body,
            &[
                ("x-adobe-digital-signature-1", one),
                ("x-adobe-digital-signature-2", two),
            ],
        )
        .await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A client for the service. It keeps an idle connection for less time than the service's idle timeout
/// (`[http] header_timeout_seconds`, 10 s by default), as a client should: else a request may be sent on a
/// connection the service is closing at that moment.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// A CloudEvent body for an asset.
pub fn event_body(id: &str, event_type: &str, asset_id: &str, recipient: &str) -> Vec<u8> {
    json!({
        "specversion": "1.0",
        "id": id,
        "source": "acct:aem-p142461-e1463137@adobe.com",
        "type": event_type,
        "recipient_client_id": recipient,
        "data": { "assetId": asset_id, "repositoryMetadata": {}, "assetMetadata": {} }
    })
    .to_string()
    .into_bytes()
}

pub fn roles(list: &[&str]) -> Vec<String> {
    list.iter().map(|r| (*r).to_owned()).collect()
}

pub fn object(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// Gallery entries (a JSON array of `{asset_id, position, roles}`) as (asset id, position, roles); empty when
/// `entries` is not an array.
pub fn entry_triples(entries: &Value) -> Vec<(String, u64, Vec<String>)> {
    entries
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    (
                        e["asset_id"].as_str().unwrap().to_owned(),
                        e["position"].as_u64().unwrap(),
                        e["roles"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|r| r.as_str().unwrap().to_owned())
                            .collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
