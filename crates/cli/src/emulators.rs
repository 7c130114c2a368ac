//! The emulators of a sandbox run (AEM with its IMS and key host, an Adobe Commerce store, the reference
//! custom matcher), the service's configuration pointing at them, and the service started on it in this process:
//! what `demo` and `bench` share.

use crate::config::{
    AemConfig, CommerceConfig, Config, EventsConfig, HttpConfig, LogConfig, MetricsConfig,
    SyncConfig,
};
use crate::demo::{
    CLIENT_ID, COMMERCE_CONSUMER_KEY, DemoMatching, DemoSink, ENVIRONMENT_ID, MATCHER_CLIENT_ID,
    MATCHER_ORG_ID, PROGRAM_ID,
};
use crate::launch::Service;
use sandbox::aem::{AemEmulator, AemSettings};
use sandbox::commerce::{CommerceEmulator, CommerceSettings};
use sandbox::matcher::{MatcherEmulator, MatcherSettings};
use serde_json::{Value, json};
use std::path::Path;

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
