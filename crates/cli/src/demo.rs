//! `assetsync demo` and `assetsync sandbox`: the AEM emulator alone, or emulator and service in one process.

use crate::config::{
    AemConfig, CommerceConfig, Config, EventsConfig, HttpConfig, LogConfig, MetricsConfig,
    SyncConfig,
};
use crate::galleries::{
    count_entries, difference_report, expected_galleries, matching_entries, served_galleries,
    store_galleries,
};
use crate::launch::Service;
use crate::progress::Progress;
use anyhow::{Context, bail};
use clap::Args;
use domain::Sku;
use sandbox::aem::{AemEmulator, AemSettings, NewAsset};
use sandbox::commerce::{CommerceEmulator, CommerceSettings};
use sandbox::matcher::{MatcherEmulator, MatcherSettings};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use store::FullSyncState;

const PROGRAM_ID: &str = "142461";
const ENVIRONMENT_ID: &str = "1463137";
const CLIENT_ID: &str = "assetsync-demo";
const COMMERCE_CONSUMER_KEY: &str = "assetsync-demo-integration";
const MATCHER_CLIENT_ID: &str = "assetsync-demo-matcher";
const MATCHER_ORG_ID: &str = "DEMO0000000000@AdobeOrg";

/// `assetsync sandbox` options.
#[derive(Args)]
pub struct SandboxArgs {
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 9101)]
    port: u16,
    /// Folder where the public keys `pub-1.pem` and `pub-2.pem` are written.
    #[arg(long, default_value = "keys")]
    keys_dir: PathBuf,
    /// Static bearer token the Author API accepts (besides tokens minted by the emulated IMS).
    #[arg(long, default_value = "sandbox-token")]
    access_token: String,
    /// `recipient_client_id` written into every event, and the IMS client the emulated IMS knows.
    #[arg(long, default_value = CLIENT_ID)]
    client_id: String,
    /// The client secret of that IMS client (`POST /ims/token/v3`).
    #[arg(long, default_value = "sandbox-secret")]
    client_secret: String,
    /// A webhook to subscribe at start (retried until it answers the challenge).
    #[arg(long)]
    webhook: Option<String>,
    /// Port on 127.0.0.1 of the reference custom matcher (0 = any free port).
    #[arg(long, default_value_t = 9102)]
    matcher_port: u16,
}

/// `assetsync demo` options.
#[derive(Args)]
pub struct DemoArgs {
    /// Products in the generated catalog.
    #[arg(long, default_value_t = 1000)]
    products: usize,
    /// Assets in the emulated DAM.
    #[arg(long, default_value_t = 3000)]
    assets: usize,
    /// Exit once every gallery is applied: 0 when they equal the expected ones, 1 otherwise.
    #[arg(long)]
    exit_after_sync: bool,
    /// Folder for the database and keys (default: a temporary folder removed at exit).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Seed of the generated catalog.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
    /// Where galleries are written: the built-in catalog, or an emulated Adobe Commerce store.
    #[arg(long, value_enum, default_value_t = DemoSink::Builtin)]
    sink: DemoSink,
    /// After the live sync, run a full sync of the whole catalog and time it.
    #[arg(long)]
    full_sync: bool,
    /// At the end, compare the DAM, assetsync's state and the galleries (`assetsync verify`); any difference
    /// fails the run.
    #[arg(long)]
    verify: bool,
    /// How assets are matched: by their SKU metadata, or by the sandbox's reference custom matcher (called
    /// with IMS client credentials).
    #[arg(long, value_enum, default_value_t = DemoMatching::Sku)]
    matching: DemoMatching,
}

/// The demo's matching rule.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoMatching {
    /// `match_by_sku`.
    Sku,
    /// `custom_match` against the sandbox's reference matcher.
    Custom,
}

/// The demo's commerce side.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoSink {
    Builtin,
    AdobeCommerce,
}

pub async fn sandbox(args: SandboxArgs) -> anyhow::Result<ExitCode> {
    let emulator = AemEmulator::start(
        AemSettings {
            program_id: PROGRAM_ID.into(),
            environment_id: ENVIRONMENT_ID.into(),
            access_token: args.access_token,
            recipient_client_id: args.client_id.clone(),
        },
        args.port,
    )
    .await?;
    emulator.register_ims_client(&args.client_id, &args.client_secret);
    let keys = write_keys(&emulator, &args.keys_dir)?;
    println!("AEM emulator on {}", emulator.url());
    println!(
        "IMS token endpoint: {}/ims/token/v3 (client {}); I/O Events key host: {}",
        emulator.url(),
        args.client_id,
        emulator.url()
    );
    let matcher = MatcherEmulator::start(
        MatcherSettings {
            bearer_token: Some(emulator.ims_token_check()),
            org_id: None,
        },
        args.matcher_port,
    )
    .await?;
    println!(
        "reference custom matcher (bearer tokens of that IMS): asset_to_product_url = {}, product_to_asset_url = {}",
        matcher.asset_to_product_url(),
        matcher.product_to_asset_url()
    );
    println!(
        "public keys: {}",
        keys.iter()
            .map(|k| k.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(webhook) = args.webhook {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match emulator.subscribe(&webhook).await {
                Ok(()) => break,
                Err(error) if Instant::now() < deadline => {
                    tracing::info!(%error, "webhook not ready; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(error) => return Err(error.into()),
            }
        }
        println!("subscribed {webhook}");
    }
    crate::wait_for_signal().await;
    Ok(ExitCode::SUCCESS)
}

/// The folder for the database and keys: `dir`, or a temporary folder removed when the guard drops.
pub(crate) fn work_dir(dir: Option<&Path>) -> anyhow::Result<(PathBuf, Option<tempfile::TempDir>)> {
    let (dir, temporary) = match dir {
        Some(dir) => (dir.to_path_buf(), None),
        None => {
            let temporary = tempfile::tempdir().context("could not create a temporary folder")?;
            (temporary.path().to_path_buf(), Some(temporary))
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    Ok((dir, temporary))
}

/// The emulators and the service, wired together in one process on SQLite in `dir`.
pub(crate) struct SandboxRun {
    pub emulator: AemEmulator,
    /// The emulated Adobe Commerce store, when galleries go there.
    pub store_emulator: Option<CommerceEmulator>,
    pub service: Service,
    pub admin_token: String,
    /// The reference custom matcher, when assets are matched by it.
    pub matcher: Option<MatcherEmulator>,
}

impl SandboxRun {
    /// Starts the AEM emulator, the commerce emulator when `sink` asks for one, the reference matcher when
    /// `matching` asks for it, and the service; with `journal`, the service also reads the emulator's journal.
    pub(crate) async fn start(
        dir: &Path,
        sink: DemoSink,
        matching: DemoMatching,
        journal: bool,
    ) -> anyhow::Result<Self> {
        Self::serve(Emulators::start(dir, sink, matching, journal).await?).await
    }

    /// Starts the service in this process on the emulators' configuration.
    pub(crate) async fn serve(emulators: Emulators) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(emulators.config.listen).await?;
        let service = Service::start(&emulators.config, listener).await?;
        if let Some(update) = emulators.matcher_credentials() {
            // The matcher's credentials, as an operator would upload them (write-only secret).
            service.engine.update_config(&update).await?;
        }
        Ok(Self {
            emulator: emulators.emulator,
            store_emulator: emulators.store_emulator,
            service,
            admin_token: emulators.admin_token,
            matcher: emulators.matcher,
        })
    }
}

/// The emulators of a sandbox run, and the service's configuration that points at them (the service itself
/// runs in this process, [`SandboxRun`], or in a child process, `bench full-sync`).
pub(crate) struct Emulators {
    pub emulator: AemEmulator,
    /// The emulated Adobe Commerce store, when galleries go there.
    pub store_emulator: Option<CommerceEmulator>,
    /// The reference custom matcher, when assets are matched by it.
    pub matcher: Option<MatcherEmulator>,
    /// The service's configuration (SQLite in the run's folder, listening on any free port).
    pub config: Config,
    pub admin_token: String,
    matcher_secret: String,
}

impl Emulators {
    /// Starts the AEM emulator, the commerce emulator when `sink` asks for one and the reference matcher when
    /// `matching` asks for it; with `journal`, the configuration reads the emulator's journal.
    pub(crate) async fn start(
        dir: &Path,
        sink: DemoSink,
        matching: DemoMatching,
        journal: bool,
    ) -> anyhow::Result<Self> {
        let access_token = format!("demo-{}", sandbox::aem::random_uuid());
        let emulator = AemEmulator::start(
            AemSettings {
                program_id: PROGRAM_ID.into(),
                environment_id: ENVIRONMENT_ID.into(),
                access_token: access_token.clone(),
                recipient_client_id: CLIENT_ID.into(),
            },
            0,
        )
        .await?;
        // The service authenticates as an IMS server-to-server client and fetches the I/O Events keys from
        // the emulated key host, as it would against Adobe's cloud.
        let client_secret = sandbox::aem::random_uuid();
        emulator.register_ims_client(CLIENT_ID, &client_secret);
        let commerce_secrets = [
            sandbox::aem::random_uuid(),
            sandbox::aem::random_uuid(),
            sandbox::aem::random_uuid(),
        ];
        let store_emulator = match sink {
            DemoSink::Builtin => None,
            DemoSink::AdobeCommerce => Some(
                CommerceEmulator::start(
                    CommerceSettings {
                        consumer_key: COMMERCE_CONSUMER_KEY.into(),
                        consumer_secret: commerce_secrets[0].clone(),
                        access_token: commerce_secrets[1].clone(),
                        access_token_secret: commerce_secrets[2].clone(),
                        allow_bearer: false,
                    },
                    0,
                )
                .await?,
            ),
        };
        // The reference matcher accepts only live IMS tokens of the emulator and the demo's org id.
        let matcher_secret = sandbox::aem::random_uuid();
        let matcher = match matching {
            DemoMatching::Sku => None,
            DemoMatching::Custom => {
                emulator.register_ims_client(MATCHER_CLIENT_ID, &matcher_secret);
                Some(
                    MatcherEmulator::start(
                        MatcherSettings {
                            bearer_token: Some(emulator.ims_token_check()),
                            org_id: Some(MATCHER_ORG_ID.into()),
                        },
                        0,
                    )
                    .await?,
                )
            }
        };
        let admin_token = sandbox::aem::random_uuid();
        let config = Config {
            listen: ([127, 0, 0, 1], 0).into(),
            database_url: format!("sqlite://{}", dir.join("assetsync.db").display()),
            database_url_file: None,
            admin_token: admin_token.clone(),
            admin_token_file: None,
            aem: AemConfig {
                program_id: PROGRAM_ID.into(),
                environment_id: ENVIRONMENT_ID.into(),
                author_url: Some(emulator.url().to_owned()),
                delivery_url: Some(emulator.url().to_owned()),
                access_token: None,
                client_id: Some(CLIENT_ID.into()),
                client_secret: Some(client_secret),
                ims_org_id: None,
                scopes: vec!["openid".into(), "AdobeID".into()],
                ims_token_url: Some(format!("{}/ims/token/v3", emulator.url())),
                ..AemConfig::default()
            },
            events: EventsConfig {
                recipient_client_id: CLIENT_ID.into(),
                public_keys: Vec::new(),
                key_host: Some(emulator.url().to_owned()),
                key_cache_seconds: None,
                journal_url: journal.then(|| format!("{}/events/journal", emulator.url())),
                api_key: Some(CLIENT_ID.into()),
            },
            commerce: match &store_emulator {
                None => CommerceConfig::default(),
                Some(store) => CommerceConfig {
                    kind: "adobe-commerce".into(),
                    base_url: Some(store.url().to_owned()),
                    consumer_key: Some(COMMERCE_CONSUMER_KEY.into()),
                    consumer_secret: Some(commerce_secrets[0].clone()),
                    access_token: Some(commerce_secrets[1].clone()),
                    access_token_secret: Some(commerce_secrets[2].clone()),
                    ..CommerceConfig::default()
                },
            },
            sync: match &matcher {
                None => SyncConfig::default(),
                Some(matcher) => SyncConfig {
                    matching_rule: Some("custom_match".into()),
                    asset_to_product_url: Some(matcher.asset_to_product_url()),
                    product_to_asset_url: Some(matcher.product_to_asset_url()),
                    allow_insecure_matcher_urls: true,
                    ..SyncConfig::default()
                },
            },
            metrics: MetricsConfig {
                enabled: true,
                listen: ([127, 0, 0, 1], 0).into(),
            },
            http: HttpConfig::default(),
            log: LogConfig::default(),
            admin: Default::default(),
        };
        Ok(Self {
            emulator,
            store_emulator,
            matcher,
            config,
            admin_token,
            matcher_secret,
        })
    }

    /// The configuration change that gives the service the matcher's credentials, when there is a matcher.
    pub(crate) fn matcher_credentials(&self) -> Option<Value> {
        self.matcher.as_ref().map(|_| {
            json!({
                "matcher_client_id": MATCHER_CLIENT_ID,
                "matcher_client_secret": self.matcher_secret,
                "matcher_ims_org_id": MATCHER_ORG_ID,
                "matcher_token_url": format!("{}/ims/token/v3", self.emulator.url()),
            })
        })
    }
}

fn write_keys(emulator: &AemEmulator, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    let mut paths = Vec::new();
    for index in 0..2 {
        let path = dir.join(format!("pub-{}.pem", index + 1));
        std::fs::write(&path, emulator.keys().public_key_pem(index)?)
            .with_context(|| format!("could not write {}", path.display()))?;
        paths.push(path);
    }
    Ok(paths)
}

/// One generated asset: its metadata and what happens to it.
struct Plan {
    metadata: Map<String, Value>,
    approve: bool,
    reject_later: bool,
}

fn generate(products: &[Sku], assets: usize, seed: u64) -> Vec<Plan> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let role_sets = [
        "image;small_image;thumbnail",
        "swatch_image",
        "small_image",
        "thumbnail",
        "",
        "",
        "",
    ];
    (0..assets)
        .map(|i| {
            let sku_count = match rng.u8(..10) {
                0 => 3,
                1 | 2 => 2,
                _ => 1,
            };
            let mut skus: Vec<String> = Vec::new();
            while skus.len() < sku_count.min(products.len()) {
                let sku = products[rng.usize(..products.len())].as_str().to_owned();
                if !skus.contains(&sku) {
                    skus.push(sku);
                }
            }
            let roles: Vec<&str> = skus
                .iter()
                .map(|_| role_sets[rng.usize(..role_sets.len())])
                .collect();
            let positions: Vec<i64> = skus
                .iter()
                .map(|_| {
                    if rng.bool() {
                        i64::from(rng.u8(1..10))
                    } else {
                        -1
                    }
                })
                .collect();
            let mut metadata = Map::new();
            metadata.insert("dc:title".into(), json!(format!("Demo asset {i}")));
            metadata.insert(
                "commerce:isCommerce".into(),
                json!(if rng.bool() { "Yes" } else { "yes" }),
            );
            metadata.insert("commerce:skus".into(), json!(skus));
            metadata.insert("commerce:roles".into(), json!(roles));
            metadata.insert("commerce:positions".into(), json!(positions));
            if rng.u8(..4) == 0 {
                metadata.insert("commerce:altTextStoreViews".into(), json!(["default"]));
                metadata.insert(
                    "commerce:altTextValues".into(),
                    json!([format!("Alt text of asset {i}")]),
                );
            }
            let approve = rng.u8(..100) >= 5;
            Plan {
                metadata,
                approve,
                reject_later: approve && rng.u8(..100) < 3,
            }
        })
        .collect()
}

/// Runs a full sync and waits for its end: (assets read, seconds).
pub(crate) async fn timed_full_sync(service: &Service) -> anyhow::Result<(i64, f64)> {
    let started = Instant::now();
    let id = service.engine.request_full_sync("demo --full-sync").await?;
    loop {
        let sync = service
            .engine
            .full_sync(id)
            .await?
            .context("the full sync vanished")?;
        match sync.state {
            FullSyncState::Done => return Ok((sync.done, started.elapsed().as_secs_f64())),
            FullSyncState::Failed => bail!(
                "the full sync failed: {}",
                sync.last_error.unwrap_or_default()
            ),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Adds products to the catalog: to the emulated store first when there is one (where they exist for the
/// sink), and to assetsync's catalog, which is how assetsync learns a product appeared.
pub(crate) async fn add_products(
    service: &Service,
    store: Option<&CommerceEmulator>,
    skus: &[Sku],
) -> anyhow::Result<()> {
    if let Some(store) = store {
        for sku in skus {
            store.create_product(sku.as_str());
        }
    }
    service.engine.add_products(skus).await?;
    Ok(())
}

pub async fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    if args.products == 0 {
        bail!("--products must be at least 1");
    }
    let (dir, _temporary) = work_dir(args.dir.as_deref())?;
    let SandboxRun {
        emulator,
        store_emulator,
        service,
        admin_token,
        matcher: _matcher,
    } = SandboxRun::start(&dir, args.sink, args.matching, true).await?;
    emulator
        .subscribe(&format!("{}/events/aem", service.url))
        .await?;
    let admin_password = crate::user_command::one_time_admin(&service.engine).await?;

    println!(
        "assetsync demo: {} products, {} assets, data in {}",
        args.products,
        args.assets,
        dir.display()
    );
    let products: Vec<Sku> = (1..=args.products)
        .map(|i| Sku::parse(&format!("DEMO-{i:05}")))
        .collect::<Result<_, _>>()?;
    let late_count = (args.products / 50).max(1).min(products.len());
    let (early, late) = products.split_at(products.len() - late_count);
    add_products(&service, store_emulator.as_ref(), early).await?;

    let started = Instant::now();
    let plans = generate(&products, args.assets, args.seed);
    let mut ids = Vec::with_capacity(plans.len());
    let mut progress = Progress::bar(plans.len() as u64);
    progress.set_phase("creating assets");
    for plan in &plans {
        ids.push(emulator.create_asset(NewAsset {
            metadata: plan.metadata.clone(),
            ..NewAsset::default()
        })?);
        progress.inc();
    }
    progress.finish();
    for (plan, id) in plans.iter().zip(&ids) {
        if plan.approve {
            emulator.approve(id)?;
        }
    }
    for (plan, id) in plans.iter().zip(&ids) {
        if plan.reject_later {
            emulator.reject(id)?;
        }
    }
    println!(
        "generated: {} assets created, {} approved, {} rejected after approval, {} products added later",
        plans.len(),
        plans.iter().filter(|p| p.approve).count(),
        plans.iter().filter(|p| p.reject_later).count(),
        late.len()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    add_products(&service, store_emulator.as_ref(), late).await?;

    let expected = expected_galleries(&emulator, &products)?;
    let total = count_entries(&expected);
    let deadline = started + Duration::from_secs(args.timeout_secs);
    let mut last_print = Instant::now();
    let mut progress = Progress::bar(total as u64);
    progress.set_phase("syncing");
    let settled = loop {
        let deliveries = emulator.deliveries();
        let backlog = service.engine.backlog().await?;
        let served = served_galleries(&service, &products);
        let applied = matching_entries(&expected, &served);
        let quiet = deliveries.in_flight() == 0 && backlog.asset_work == 0 && backlog.sku_work == 0;
        let store_matches = store_emulator
            .as_ref()
            .is_none_or(|store| store_galleries(store, &products) == expected);
        if quiet && served == expected && store_matches {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        progress.update(
            applied as u64,
            total as u64,
            format!(
                "entries  events {}/{}  queued: {} assets, {} SKUs",
                deliveries.delivered, deliveries.queued, backlog.asset_work, backlog.sku_work
            ),
        );
        // Without a bar (not a terminal), a line a second.
        if progress.is_hidden() && last_print.elapsed() >= Duration::from_secs(1) {
            println!(
                "  {:>5.1}s  events delivered {}/{}  assets queued {}  SKUs queued {}  entries applied {applied}/{total}",
                started.elapsed().as_secs_f64(),
                deliveries.delivered,
                deliveries.queued,
                backlog.asset_work,
                backlog.sku_work
            );
            last_print = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    progress.finish();
    let seconds = started.elapsed().as_secs_f64();
    let mut latencies = service.engine.store().sync_latencies().await?;
    latencies.sort_unstable();
    let full_sync = match (args.full_sync, settled) {
        (true, true) => Some(timed_full_sync(&service).await?),
        _ => None,
    };
    let differences = match (args.verify, settled) {
        (true, true) => Some(service.engine.verify(false).await?.differences),
        _ => None,
    };
    let settled = settled
        && differences.as_ref().is_none_or(Vec::is_empty)
        && full_sync.is_none_or(|_| {
            served_galleries(&service, &products) == expected
                && store_emulator
                    .as_ref()
                    .is_none_or(|store| store_galleries(store, &products) == expected)
        });
    let percentile = |p: f64| -> i64 {
        if latencies.is_empty() {
            return 0;
        }
        let rank = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
        latencies[rank - 1]
    };
    let deliveries = emulator.deliveries();
    println!();
    println!("summary");
    println!("  assets    {}", plans.len());
    println!("  products  {}", products.len());
    println!(
        "  entries   {total} expected, {} applied",
        matching_entries(&expected, &served_galleries(&service, &products))
    );
    println!(
        "  events    {} delivered ({} retried attempts)",
        deliveries.delivered, deliveries.failed_attempts
    );
    if let Some(store) = &store_emulator {
        let stats = store.stats();
        println!(
            "  commerce  {} POST, {} PUT, {} DELETE, {} GET to the emulated Adobe Commerce store",
            stats.posts, stats.puts, stats.deletes, stats.gets
        );
    }
    println!("  seconds   {seconds:.2}");
    if let Some(differences) = &differences {
        println!(
            "  verify    {} difference(s) between the DAM, assetsync's state and the galleries",
            differences.len()
        );
        for d in differences.iter().take(10) {
            println!(
                "            {} {:?} {:?} {}",
                d.kind, d.sku, d.asset_id, d.detail
            );
        }
    }
    if let Some((assets, full_seconds)) = full_sync {
        println!(
            "  full sync {assets} assets re-read and reconciled in {full_seconds:.2} s ({:.0} assets/s), galleries unchanged",
            assets as f64 / full_seconds.max(0.001)
        );
    }
    println!(
        "  latency   p50 {} ms  p99 {} ms  (DAM event time → gallery applied)",
        percentile(0.50),
        percentile(0.99)
    );
    let example = expected
        .iter()
        .find(|(_, e)| !e.is_empty())
        .map_or("DEMO-00001", |(sku, _)| sku.as_str());
    println!();
    println!("open");
    println!("  {}/api/v1/products/{example}/media", service.url);
    println!("  {}/healthz", service.url);
    println!(
        "  {}/admin   (admin console: user admin, one-time password {admin_password})",
        service.url
    );
    if let Some(metrics) = &service.metrics_url {
        println!("  {metrics}");
    }
    if let Some(id) = ids.first() {
        println!(
            "  {}/api/v1/assets/{id}   (Authorization: Bearer {admin_token})",
            service.url
        );
    }
    if !settled {
        println!();
        println!(
            "the galleries did not reach the expected state within {} s",
            args.timeout_secs
        );
        let store = store_emulator
            .as_ref()
            .map(|store| store_galleries(store, &products));
        for line in difference_report(
            &expected,
            &served_galleries(&service, &products),
            store.as_ref(),
            10,
        ) {
            println!("  {line}");
        }
    }
    if args.exit_after_sync {
        service.stop().await;
        return Ok(if settled {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    println!();
    println!("serving until Ctrl-C");
    crate::wait_for_signal().await;
    service.stop().await;
    Ok(ExitCode::SUCCESS)
}
