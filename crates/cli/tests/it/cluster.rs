//! Several processes on one PostgreSQL database: two `serve` and one `worker` against the commerce emulator.
//! Events are delivered through both `serve`s (each event to one, some again to the other), a full sync runs,
//! and each process is SIGKILLed twice (once while the full sync runs, so its leader dies during it, and once
//! at a random moment) and restarted. Then every gallery is exact, no entry
//! is written twice, no product was ever written by two processes at once, every delivery was acknowledged
//! (a refused or failed one is retried, as I/O Events retries), and the full sync finished once.

use crate::harness::{
    ACCESS_TOKEN, ADMIN_TOKEN, CLIENT_ID, COMMERCE_TOKEN, COMMERCE_TOKEN_SECRET, CONSUMER_KEY,
    CONSUMER_SECRET, event_body, http_client,
};
use crate::postgres_db::{TEST_SECRET_KEY, postgres_database};
use sandbox::aem::{AemEmulator, AemSettings, NewAsset};
use sandbox::commerce::{CommerceEmulator, CommerceSettings};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The AEM emulator the processes read.
async fn dam() -> AemEmulator {
    AemEmulator::start(
        AemSettings {
            program_id: "142461".into(),
            environment_id: "1463137".into(),
            access_token: ACCESS_TOKEN.into(),
            recipient_client_id: CLIENT_ID.into(),
        },
        0,
    )
    .await
    .unwrap()
}

/// The two roles a process of the cluster runs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Serve,
    Worker,
}

/// One `assetsync` process of the cluster, restartable on the same port.
struct Process {
    role: Role,
    config: PathBuf,
    url: String,
    child: Option<Child>,
}

impl Process {
    fn start(role: Role, config: PathBuf) -> Self {
        let mut process = Self {
            role,
            config,
            url: String::new(),
            child: None,
        };
        process.spawn();
        process
    }

    fn spawn(&mut self) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_assetsync"))
            .arg(match self.role {
                Role::Serve => "serve",
                Role::Worker => "worker",
            })
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "warn")
            .env("ASSETSYNC_SECRET_KEY", TEST_SECRET_KEY)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("assetsync exited at start").unwrap();
        std::thread::spawn(move || for _ in lines {});
        match self.role {
            Role::Serve => {
                let url = first
                    .strip_prefix("assetsync listening on ")
                    .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
                    .trim()
                    .to_owned();
                // Restarts listen where the first start did (the first `listen` line is the service's; the
                // metrics listener's stays on a free port).
                let port = url.rsplit(':').next().unwrap();
                let config = std::fs::read_to_string(&self.config).unwrap();
                let config = config.replacen(
                    "listen = \"127.0.0.1:0\"",
                    &format!("listen = \"127.0.0.1:{port}\""),
                    1,
                );
                if self.url.is_empty() {
                    std::fs::write(&self.config, config).unwrap();
                }
                self.url = url;
            }
            Role::Worker => assert_eq!(first, "assetsync worker running"),
        }
        self.child = Some(child);
    }

    /// SIGKILL: no graceful shutdown, leases and duties left as they are.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

fn write_config(
    dir: &Path,
    name: &str,
    database_url: &str,
    dam: &AemEmulator,
    store: &str,
) -> PathBuf {
    let key = dir.join("pub.pem");
    std::fs::write(&key, dam.keys().public_key_pem(1).unwrap()).unwrap();
    let (key, dam) = (key.display(), dam.url());
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"
listen = "127.0.0.1:0"
database_url = "{database_url}"
admin_token = "{ADMIN_TOKEN}"
[aem]
program_id = "142461"
environment_id = "1463137"
author_url = "{dam}"
delivery_url = "{dam}"
access_token = "{ACCESS_TOKEN}"
[events]
recipient_client_id = "{CLIENT_ID}"
public_keys = ["{key}"]
key_host = "{dam}"
[commerce]
kind = "adobe-commerce"
base_url = "{store}"
auth = "oauth1"
consumer_key = "{CONSUMER_KEY}"
consumer_secret = "{CONSUMER_SECRET}"
access_token = "{COMMERCE_TOKEN}"
access_token_secret = "{COMMERCE_TOKEN_SECRET}"
[metrics]
listen = "127.0.0.1:0"
[sync]
enabled = true
sku_attribute = "commerce:skus"
lease_seconds = 15
"#,
        ),
    )
    .unwrap();
    path
}

const PRODUCTS: usize = 200;
const ASSETS_BEFORE: usize = 300;
const ASSETS_AFTER: usize = 50;
const EVENTS: usize = 2_000;

fn sku(n: usize) -> String {
    format!("CL-{n:03}")
}

/// The metadata that puts asset `index` on `sku` (its position is its index, unique in every gallery).
fn metadata(sku: &str, index: usize) -> serde_json::Map<String, Value> {
    let Value::Object(map) = json!({
        "commerce:isCommerce": "Yes",
        "commerce:skus": [sku],
        "commerce:roles": ["image"],
        "commerce:positions": [index + 1],
    }) else {
        unreachable!()
    };
    map
}

/// Delivers `body` to the serves in turn from `first` until one acknowledges it; returns how many attempts
/// failed.
async fn deliver(
    http: &reqwest::Client,
    serves: &[String],
    first: usize,
    body: &[u8],
    keys: &sandbox::SigningKeys,
) -> u32 {
    let [one, two] = keys.sign(body).unwrap();
    let mut failures = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    for attempt in 0.. {
        let url = &serves[(first + attempt) % serves.len()];
        let reply = http
            .post(format!("{url}/events/aem"))
            .header("content-type", "application/cloudevents+json")
            .header("x-adobe-digital-signature-1", one.clone())
            .header("x-adobe-digital-signature-2", two.clone())
            .body(body.to_vec())
            .send()
            .await;
        match reply {
            Ok(reply) if reply.status().is_success() => return failures,
            _ => {
                failures += 1;
                assert!(
                    Instant::now() < deadline,
                    "no serve acknowledged a delivery for 60 s"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_serves_and_a_worker_survive_kills_and_leave_exact_galleries() {
    let database = postgres_database().await;
    let dam = dam().await;
    let store = CommerceEmulator::start(
        CommerceSettings {
            consumer_key: CONSUMER_KEY.into(),
            consumer_secret: CONSUMER_SECRET.into(),
            access_token: COMMERCE_TOKEN.into(),
            access_token_secret: COMMERCE_TOKEN_SECRET.into(),
            allow_bearer: false,
        },
        0,
    )
    .await
    .unwrap();
    // Writes take a while, so that two writers of one product would overlap.
    store.set_conditions(5, 0.0);
    for n in 0..PRODUCTS {
        store.create_product(&sku(n));
    }
    // Assets approved before the service starts: only the full sync finds them.
    let mut assets: Vec<(String, String)> = Vec::new();
    for index in 0..ASSETS_BEFORE {
        let sku = sku(fastrand::usize(..PRODUCTS));
        let id = dam
            .create_asset(NewAsset {
                metadata: metadata(&sku, index),
                ..NewAsset::default()
            })
            .unwrap();
        dam.approve(&id).unwrap();
        assets.push((id, sku));
    }

    let dir = tempfile::tempdir().unwrap();
    let url = database.url().to_owned();
    let config = |name: &str| write_config(dir.path(), name, &url, &dam, store.url());
    let mut processes = vec![
        Process::start(Role::Serve, config("serve-a")),
        Process::start(Role::Serve, config("serve-b")),
        Process::start(Role::Worker, config("worker")),
    ];
    let serves: Vec<String> = processes[..2].iter().map(|p| p.url.clone()).collect();
    let http = http_client();
    for n in 0..PRODUCTS {
        let reply = http
            .put(format!("{}/api/v1/products/{}", serves[n % 2], sku(n)))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert!(
            reply.status().is_success(),
            "PUT product: {}",
            reply.status()
        );
    }
    let reply: Value = http
        .post(format!("{}/api/v1/sync", serves[0]))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let full_sync = reply["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no full sync id in {reply}"));

    // While the full sync runs, every process dies once, one after the other, so that the one leading the
    // full sync dies during it (another resumes it from its checkpoint); then three more at random moments.
    let mut first_round = vec![0, 1, 2];
    fastrand::shuffle(&mut first_round);
    let mut running_through_the_kills = true;
    for victim in first_round {
        let sync = admin_get(&http, &serves[0], &format!("/api/v1/sync/{full_sync}")).await;
        running_through_the_kills &= sync["state"] != "done";
        let victim = &mut processes[victim];
        victim.kill();
        tokio::time::sleep(Duration::from_millis(fastrand::u64(0..300))).await;
        victim.spawn();
    }
    let sync = admin_get(&http, &serves[1], &format!("/api/v1/sync/{full_sync}")).await;
    running_through_the_kills &= sync["state"] != "done";
    let mut victims = vec![0, 1, 2];
    fastrand::shuffle(&mut victims);
    let mut kill_at: Vec<usize> = vec![
        fastrand::usize(1..50),
        fastrand::usize(50..EVENTS * 4 / 5),
        fastrand::usize(50..EVENTS * 4 / 5),
    ];
    kill_at.sort_unstable();
    let keys = dam.keys();
    let mut failed_attempts = 0;
    let mut duplicates_sent = 0;
    let mut kills = 0;
    let mut deliveries = tokio::task::JoinSet::new();
    for event in 0..EVENTS {
        while kills < kill_at.len() && kill_at[kills] == event {
            let victim = &mut processes[victims[kills]];
            victim.kill();
            tokio::time::sleep(Duration::from_millis(fastrand::u64(0..300))).await;
            victim.spawn();
            kills += 1;
        }
        // An asset changes (a new one now and then), then its event is delivered.
        let index = if assets.len() < ASSETS_BEFORE + ASSETS_AFTER && event % 40 == 0 {
            let sku = sku(fastrand::usize(..PRODUCTS));
            let id = dam
                .create_asset(NewAsset {
                    metadata: metadata(&sku, assets.len()),
                    ..NewAsset::default()
                })
                .unwrap();
            dam.approve(&id).unwrap();
            assets.push((id, sku));
            assets.len() - 1
        } else {
            let index = fastrand::usize(..assets.len());
            let sku = sku(fastrand::usize(..PRODUCTS));
            dam.update_metadata(&assets[index].0, metadata(&sku, index))
                .unwrap();
            assets[index].1 = sku;
            index
        };
        let body = event_body(
            &format!("cluster-{event}"),
            "aem.assets.asset.metadata_updated",
            &assets[index].0,
            CLIENT_ID,
        );
        let again = event % 10 == 0;
        duplicates_sent += usize::from(again);
        let (http, serves, keys) = (http.clone(), serves.clone(), keys.clone());
        deliveries.spawn(async move {
            let mut failed = deliver(&http, &serves, event, &body, &keys).await;
            if again {
                // The same event through the other serve: acknowledged, stored once.
                failed += deliver(&http, &serves, event + 1, &body, &keys).await;
            }
            failed
        });
        while deliveries.len() >= 8 {
            failed_attempts += deliveries.join_next().await.unwrap().unwrap();
        }
    }
    while let Some(failed) = deliveries.join_next().await {
        failed_attempts += failed.unwrap();
    }
    assert_eq!(kills, 3);
    let kills = kills + 3;

    // Settled: the full sync done, nothing queued, no asset waiting (the report is the cluster's).
    let deadline = Instant::now() + Duration::from_secs(180);
    let health = loop {
        let sync: Value = admin_get(&http, &serves[1], &format!("/api/v1/sync/{full_sync}")).await;
        assert_ne!(sync["state"], "failed", "{sync}");
        let health = admin_get(&http, &serves[0], "/api/v1/health/sync").await;
        if sync["state"] == "done"
            && health["queues"]["asset_work"] == 0
            && health["queues"]["sku_work"] == 0
            && health["assets"]["waiting"] == 0
        {
            break health;
        }
        assert!(
            Instant::now() < deadline,
            "the cluster never settled: {sync} {health}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(health["dead_letters"], 0, "{health}");

    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (id, sku) in &assets {
        expected.entry(sku.clone()).or_default().push(id.clone());
    }
    let mut entries = 0;
    for n in 0..PRODUCTS {
        let sku = sku(n);
        let written: Vec<String> = store
            .entries(&sku)
            .unwrap_or_default()
            .iter()
            .map(|entry| {
                let file = entry["file"].as_str().unwrap_or_default();
                let name = file.rsplit('/').next().unwrap_or_default();
                format!("urn:aaid:aem:{}", name.chars().take(36).collect::<String>())
            })
            .collect();
        let unique: HashSet<&String> = written.iter().collect();
        assert_eq!(
            unique.len(),
            written.len(),
            "an entry of {sku} is written twice: {written:?}"
        );
        // Positions are the assets' indexes, so the expected order is the order they were created in.
        let want = expected.remove(&sku).unwrap_or_default();
        assert_eq!(written, want, "gallery of {sku}");
        entries += written.len();
    }
    assert_eq!(entries, assets.len());
    let stats = store.stats();
    assert_eq!(stats.overlapping_writes, 0, "{stats:?}");
    assert_eq!(
        stats.max_concurrent_writes_per_sku, 1,
        "two processes wrote one product at once: {stats:?}"
    );
    // One full sync: a request now gets the next id (none other was started by the kills).
    let next: Value = http
        .post(format!("{}/api/v1/sync", serves[0]))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(next["id"].as_i64(), Some(full_sync + 1), "{next}");
    eprintln!(
        "cluster: {EVENTS} events ({duplicates_sent} delivered twice), {kills} kills (the full sync running \
         through the first three: {running_through_the_kills}), \
         {failed_attempts} delivery attempts refused or failed and retried, {entries} entries"
    );
    drop(processes);
}

async fn admin_get(http: &reqwest::Client, url: &str, path: &str) -> Value {
    // A connection the client kept to a process killed since fails once: asked again.
    for _ in 0..50 {
        if let Ok(reply) = http
            .get(format!("{url}{path}"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
        {
            return reply.json().await.unwrap_or(Value::Null);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url}{path} never answered")
}

#[tokio::test]
async fn migrate_brings_a_postgres_database_to_the_newest_version_and_says_so() {
    let database = postgres_database().await;
    let dam = dam().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "migrate",
        database.url(),
        &dam,
        "http://127.0.0.1:9",
    );
    let migrate = move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_assetsync"))
            .args(["migrate", "--config"])
            .arg(&config)
            .env("ASSETSYNC_SECRET_KEY", TEST_SECRET_KEY)
            .output()
            .unwrap()
    };
    let newest = store::migrations::latest_version().unwrap();
    for _ in 0..2 {
        // Twice: the second finds nothing to apply and says the same.
        let output = tokio::task::spawn_blocking(migrate.clone()).await.unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains(&format!("is migrated to version {newest}")),
            "{stdout}"
        );
        assert!(!stdout.contains(TEST_SECRET_KEY), "{stdout}");
    }
    let (client, connection) = tokio_postgres::connect(database.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let applied: i64 = client
        .query_one("SELECT COUNT(*) FROM refinery_schema_history", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(applied, i64::from(newest));
}

#[tokio::test]
async fn a_worker_beside_a_serve_on_one_sqlite_file_is_refused_with_a_sentence() {
    let dam = dam().await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("one.db").display());
    let serve = Process::start(
        Role::Serve,
        write_config(dir.path(), "serve", &url, &dam, "http://127.0.0.1:9"),
    );
    let worker_config = write_config(dir.path(), "worker", &url, &dam, "http://127.0.0.1:9");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_assetsync"))
            .args(["worker", "--config"])
            .arg(&worker_config)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("another assetsync process uses the database")
            && stderr.contains("one process per SQLite file"),
        "{stderr}"
    );
    drop(serve);
}
