//! Wiring: from a [`Config`] to a running service (store, engine, HTTP server).

use crate::config::{Config, Problems, SinkChoice};
use anyhow::Context;
use connectors::aem::AuthorClient;
use connectors::ioevents::EventVerifier;
use connectors::journal::JournalClient;
use connectors::magento::{MagentoSettings, MagentoSink};
use connectors::sink::{BuiltinCatalog, CommerceSink};
use engine::{Engine, EngineSettings};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use web::AppState;

/// A running service.
pub struct Service {
    pub engine: Arc<Engine>,
    /// The HTTP API's base URL (empty for a worker, which serves none).
    pub url: String,
    /// Where `/metrics` is served, when enabled.
    pub metrics_url: Option<String>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Everything `serve` and `worker` check and build before they open the database or bind a port: every check
/// of the configuration, the public key files, the store's secret key (`ASSETSYNC_SECRET_KEY`) and the
/// clients. `check-config` stops here.
pub struct Plan {
    verifier: EventVerifier,
    dam: AuthorClient,
    sink: Arc<dyn CommerceSink>,
    journal: Option<JournalClient>,
    secret_key: Option<store::secrets::SecretKey>,
}

impl Plan {
    /// The plan of `config`, or every problem found (none stops the others).
    pub fn new(config: &Config) -> Result<Self, Problems> {
        let mut problems = config.problems();
        let verifier = keep(
            &mut problems,
            event_verifier(config, config.events.key_host_settings().ok()),
        );
        let secret_key = keep(&mut problems, secret_key_from_env());
        if !problems.is_empty() {
            return Err(Problems(problems));
        }
        let clients = keep(&mut problems, clients(config));
        match (verifier, secret_key, clients) {
            (Some(verifier), Some(secret_key), Some((dam, sink, journal))) => Ok(Self {
                verifier,
                dam,
                sink,
                journal,
                secret_key,
            }),
            _ => Err(Problems(problems)),
        }
    }
}

/// The value, or its error added to `problems`.
fn keep<T>(problems: &mut Vec<String>, result: anyhow::Result<T>) -> Option<T> {
    result
        .map_err(|error| problems.push(format!("{error:#}")))
        .ok()
}

type Clients = (AuthorClient, Arc<dyn CommerceSink>, Option<JournalClient>);

/// The DAM, commerce and journal clients of a checked configuration.
fn clients(config: &Config) -> anyhow::Result<Clients> {
    let tokens = config.aem.token_provider()?;
    let dam = AuthorClient::new(
        &config.author_origin(),
        tokens.clone(),
        Duration::from_secs(20),
    )?;
    let sink: Arc<dyn CommerceSink> = match config.commerce.sink()? {
        SinkChoice::Builtin => Arc::new(BuiltinCatalog),
        SinkChoice::AdobeCommerce { base_url, auth } => Arc::new(
            MagentoSink::new(MagentoSettings {
                base_url,
                auth,
                delivery_origin: config.delivery_origin(),
                timeout: Duration::from_secs(config.commerce.timeout_seconds),
                max_binary_bytes: config.commerce.max_binary_bytes,
            })?
            .with_max_retry_after(config.max_retry_after()),
        ),
    };
    let journal = match &config.events.journal_url {
        Some(url) => Some(JournalClient::new(
            url,
            tokens,
            config.events.api_key.as_deref(),
        )?),
        None => None,
    };
    Ok((dam, sink, journal))
}

impl Service {
    /// Checks `config`, opens the store, starts the engine and serves HTTP on `listener` (the `serve` role).
    #[cfg_attr(not(feature = "sandbox"), allow(dead_code))]
    pub async fn start(config: &Config, listener: TcpListener) -> anyhow::Result<Self> {
        let plan = Plan::new(config)?;
        Self::start_role(config, plan, Some(listener)).await
    }

    /// Opens the store, starts the engine and serves HTTP on `listener`, for a configuration already planned.
    pub async fn start_planned(
        config: &Config,
        plan: Plan,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        Self::start_role(config, plan, Some(listener)).await
    }

    /// Opens the store and starts the engine's workers and duties, with the metrics listener when enabled but
    /// no HTTP API (the `worker` role). Its `url` is empty.
    pub async fn start_worker(config: &Config, plan: Plan) -> anyhow::Result<Self> {
        Self::start_role(config, plan, None).await
    }

    async fn start_role(
        config: &Config,
        plan: Plan,
        listener: Option<TcpListener>,
    ) -> anyhow::Result<Self> {
        // A worker verifies no delivery, but its configuration is checked as the `serve` role's is.
        let Plan {
            verifier,
            dam,
            sink,
            journal,
            secret_key,
        } = plan;
        let store = open_store_with(&config.database_url, secret_key).await?;
        let concurrency = config.commerce.concurrency;
        // The built-in catalog's writes are the database writer's; a platform's sink keeps its concurrency.
        let (storing_concurrency, drain_concurrency) = match config.commerce.sink()? {
            SinkChoice::Builtin => (
                engine::builtin_storing_concurrency(concurrency),
                engine::BUILTIN_DRAIN_CONCURRENCY,
            ),
            SinkChoice::AdobeCommerce { .. } => (concurrency, concurrency),
        };
        let settings = EngineSettings {
            delivery_origin: config.delivery_origin(),
            sku_concurrency: concurrency,
            storing_concurrency,
            drain_concurrency,
            max_attempts: config
                .sync
                .max_attempts
                .unwrap_or(domain::retry::DEFAULT_MAX_ATTEMPTS),
            max_skus_per_asset: config.sync.max_skus_per_asset.unwrap_or(1_000),
            retention: Duration::from_secs(
                config
                    .sync
                    .retention_days
                    .unwrap_or(8)
                    .saturating_mul(24 * 3600),
            ),
            anti_entropy: Duration::from_secs(config.sync.anti_entropy_seconds.unwrap_or(600)),
            matcher_timeout: Duration::from_secs(config.sync.matcher_timeout_seconds.unwrap_or(10)),
            matcher_urls: config.url_policy(),
            max_retry_after: config.max_retry_after(),
            lease: Duration::from_secs(config.sync.lease_seconds.unwrap_or(60)),
            missing_limit: engine::dam_guard::MissingLimit {
                assets: config.sync.dam_missing_pause_assets.unwrap_or(50),
                window: Duration::from_secs(
                    config.sync.dam_missing_pause_window_seconds.unwrap_or(60),
                ),
            },
            ..EngineSettings::default()
        };
        let initial_config = config.initial_integration_config();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (engine, mut tasks) = Engine::start(
            store,
            dam,
            sink,
            settings,
            initial_config,
            journal,
            shutdown_rx.clone(),
        )
        .await?;
        let state = AppState {
            engine: engine.clone(),
            verifier: Arc::new(verifier),
            recipient_client_id: config.events.recipient_client_id.clone(),
            admin_token: config.admin_token.clone(),
            admin: config.admin.settings(),
        };
        let url = match &listener {
            Some(listener) => format!("http://{}", listener.local_addr()?),
            None => String::new(),
        };
        let metrics_url = if config.metrics.enabled {
            let metrics_listener = TcpListener::bind(config.metrics.listen)
                .await
                .with_context(|| {
                    format!(
                        "could not listen on {} for /metrics (set [metrics] listen, or enabled = false)",
                        config.metrics.listen
                    )
                })?;
            let metrics_url = format!("http://{}/metrics", metrics_listener.local_addr()?);
            let (state, mut stop) = (state.clone(), shutdown_rx.clone());
            tasks.push(tokio::spawn(async move {
                let stopped = async move {
                    let _ = stop.wait_for(|stopped| *stopped).await;
                };
                if let Err(error) = web::serve_metrics(metrics_listener, state, stopped).await {
                    tracing::error!(%error, "metrics server stopped");
                }
            }));
            Some(metrics_url)
        } else {
            None
        };
        if let Some(listener) = listener {
            let limits = config.http.limits()?;
            let mut stop = shutdown_rx;
            tasks.push(tokio::spawn(async move {
                let stopped = async move {
                    let _ = stop.wait_for(|stopped| *stopped).await;
                };
                if let Err(error) = web::serve(listener, state, limits, stopped).await {
                    tracing::error!(%error, "HTTP server stopped");
                }
            }));
        }
        Ok(Self {
            engine,
            url,
            metrics_url,
            shutdown,
            tasks,
        })
    }

    /// Stops accepting requests and lets the workers finish their current items (up to 10 s).
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

/// The verifier of I/O Events deliveries, from the configured public keys (every unreadable file named).
fn event_verifier(
    config: &Config,
    key_host: Option<connectors::ioevents::KeyHostSettings>,
) -> anyhow::Result<EventVerifier> {
    let mut keys = Vec::new();
    let mut unreadable = Vec::new();
    for path in &config.events.public_keys {
        match std::fs::read(path) {
            Ok(content) => keys.push((path.display().to_string(), content)),
            Err(error) => unreadable.push(format!(
                "could not read the I/O Events public key {}: {error}",
                path.display()
            )),
        }
    }
    if !unreadable.is_empty() {
        anyhow::bail!(unreadable.join("; "));
    }
    Ok(EventVerifier::new(
        keys.iter()
            .map(|(name, content)| (name.as_str(), content.as_slice())),
        key_host,
    )?)
}

/// The store's secret key from `ASSETSYNC_SECRET_KEY`, or from the file `ASSETSYNC_SECRET_KEY_FILE` names
/// (trailing newline removed), when one is set; both set is an error.
pub(crate) fn secret_key_from_env() -> anyhow::Result<Option<store::secrets::SecretKey>> {
    let env = store::secrets::SECRET_KEY_ENV;
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let value = match (set(env), set(&format!("{env}_FILE"))) {
        (Some(_), Some(_)) => {
            anyhow::bail!("{env} and {env}_FILE are both set: keep one of them")
        }
        (Some(value), None) => value,
        (None, Some(path)) => std::fs::read_to_string(&path)
            .with_context(|| format!("{env}_FILE: could not read {path}"))?
            .trim_end_matches(['\n', '\r'])
            .to_owned(),
        (None, None) => return Ok(None),
    };
    Ok(Some(store::secrets::SecretKey::from_base64(&value)?))
}

/// Opens (and migrates) the store at `url`, with the secret key from `ASSETSYNC_SECRET_KEY` when it is set.
pub async fn open_store(url: &str) -> anyhow::Result<Arc<dyn store::Store>> {
    open_store_with(url, secret_key_from_env()?).await
}

async fn open_store_with(
    url: &str,
    secret_key: Option<store::secrets::SecretKey>,
) -> anyhow::Result<Arc<dyn store::Store>> {
    store::open_with_secret_key(url, secret_key)
        .await
        .with_context(|| format!("could not open the database {}", store::redact_url(url)))
}
