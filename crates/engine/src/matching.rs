//! The matching rule in force, applied: match by SKU and filename rules are pure (`domain`); a custom matcher
//! is called over HTTP (`connectors::matcher`). Asset workers, the full sync, verification and the preview all
//! match through [`Engine::match_asset`], so a preview shows exactly what a sync writes. New products are sent
//! to the custom matcher's product-to-asset endpoint, whose links are added (never removed).

use crate::{Engine, EngineError};
use connectors::aem::MetadataReply;
use connectors::ims::{ImsCredentials, TokenProvider};
use connectors::matcher::{MatcherClient, MatcherError};
use domain::config::{IntegrationConfig, MatchingRule, Secret, UrlPolicy, endpoint_url};
use domain::gallery::{Operation, reconcile};
use domain::matching::{
    CustomReply, FilenameMatch, evaluate_filename, match_filename, read_asset_to_product,
    read_product_to_asset,
};
use domain::metadata::{
    Evaluation, LinkFacts, evaluate, fold_sku_case, ineligibility, with_hidden_views,
};
use domain::retry::retry_delay_ms;
use domain::store_views::read_hidden;
use domain::{AssetId, AssetMetadata, DesiredLink, MatchSettings, Role, Sku};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::{ProductCall, ProductCallOutcome, WorkKey};
use tokio::sync::watch;

/// How matching one asset ended.
#[derive(Debug, Clone)]
pub(crate) enum AssetMatch {
    /// The rule read the asset (links, not eligible, or invalid metadata).
    Evaluated(Evaluation),
    /// The custom matcher answered `skip`: nothing is written, the links stay.
    Skip,
    /// The custom matcher failed (status, time-out, unreadable reply): the links stay, the asset is retried.
    Failed(String),
}

/// The credentials a matcher client was built with; a change builds a new client.
type MatcherKey = (
    String,
    Option<String>,
    Option<Secret>,
    Option<String>,
    Vec<String>,
);

/// The matcher client of the current credentials.
#[derive(Default)]
pub(crate) struct Matching {
    client: Mutex<Option<(MatcherKey, MatcherClient)>>,
}

/// New products sent to product-to-asset at once.
const PRODUCT_CONCURRENCY: usize = 8;

impl Engine {
    /// Matches one asset's (re-read) metadata with the rule in force. The eligibility checks come first,
    /// whatever the rule.
    pub(crate) async fn match_asset(&self, meta: &AssetMetadata) -> AssetMatch {
        match self.match_asset_by_rule(meta).await {
            AssetMatch::Evaluated(Evaluation::Eligible { links, warnings })
                if self.sink.sku_case_insensitive() =>
            {
                AssetMatch::Evaluated(Evaluation::Eligible {
                    links: fold_sku_case(links),
                    warnings,
                })
            }
            other => other,
        }
    }

    async fn match_asset_by_rule(&self, meta: &AssetMetadata) -> AssetMatch {
        let config = self.config();
        match config.matching_rule {
            MatchingRule::MatchBySku => AssetMatch::Evaluated(evaluate(
                meta,
                &MatchSettings {
                    sku_attribute: config.sku_attribute.clone(),
                    max_skus: self.settings.max_skus_per_asset,
                    hidden_property: config.hidden_store_views_property.clone(),
                },
            )),
            MatchingRule::Filename => AssetMatch::Evaluated(with_hidden_views(
                evaluate_filename(meta, &config.filename_rules, &config.filename_default_roles),
                meta,
                &config.hidden_store_views_property,
            )),
            MatchingRule::CustomMatch => match self.match_asset_remotely(&config, meta).await {
                AssetMatch::Evaluated(evaluation) => AssetMatch::Evaluated(with_hidden_views(
                    evaluation,
                    meta,
                    &config.hidden_store_views_property,
                )),
                other => other,
            },
        }
    }

    async fn match_asset_remotely(
        &self,
        config: &IntegrationConfig,
        meta: &AssetMetadata,
    ) -> AssetMatch {
        if let Some(reason) = ineligibility(meta) {
            return AssetMatch::Evaluated(Evaluation::NotEligible { reason });
        }
        let Some(url) = &config.asset_to_product_url else {
            return AssetMatch::Failed("custom_match has no asset_to_product_url".into());
        };
        let body = json!({ "assetId": meta.asset_id, "eventData": meta });
        let reply = match self.call_matcher(config, url, &body).await {
            Ok(reply) => reply,
            Err(error) => return AssetMatch::Failed(format!("asset-to-product: {error}")),
        };
        match read_asset_to_product(meta, &reply) {
            Ok(CustomReply::Skip) => AssetMatch::Skip,
            Ok(CustomReply::Matches { matches, warnings }) => {
                AssetMatch::Evaluated(Evaluation::Eligible {
                    links: matches,
                    warnings,
                })
            }
            Err(reason) => AssetMatch::Failed(reason),
        }
    }

    async fn call_matcher(
        &self,
        config: &IntegrationConfig,
        url: &str,
        body: &Value,
    ) -> Result<Vec<u8>, MatcherError> {
        let client = self.matcher_client(config)?;
        client.post(url, body).await
    }

    /// The client for the configuration's credentials (built once per set of credentials, so its token
    /// cache survives between calls).
    fn matcher_client(&self, config: &IntegrationConfig) -> Result<MatcherClient, MatcherError> {
        let key: MatcherKey = (
            config.matcher_token_url.clone(),
            config.matcher_client_id.clone(),
            config.matcher_client_secret.clone(),
            config.matcher_ims_org_id.clone(),
            config.matcher_scopes.clone(),
        );
        let mut slot = self
            .matching
            .client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((cached, client)) = slot.as_ref()
            && *cached == key
        {
            return Ok(client.clone());
        }
        let client = MatcherClient::new(
            self.settings.matcher_timeout,
            self.settings.matcher_urls,
            matcher_tokens(
                config,
                self.settings.matcher_urls,
                self.settings.matcher_timeout,
            )?,
        )?;
        *slot = Some((key, client.clone()));
        Ok(client)
    }

    /// The `eventData` of a new product's product-to-asset call, when the rule in force calls one (custom_match
    /// with a product-to-asset endpoint); `None` otherwise.
    pub(crate) fn product_call_data(&self, event_data: &Value) -> Option<Value> {
        let config = self.config();
        (config.matching_rule == MatchingRule::CustomMatch && config.product_to_asset_url.is_some())
            .then(|| event_data.clone())
    }

    /// Calls product-to-asset for one new product; answers the links of the eligible assets it names.
    async fn match_product(
        &self,
        sku: &Sku,
        event_data: &Value,
    ) -> Result<Vec<DesiredLink>, String> {
        let config = self.config();
        let Some(url) = config
            .product_to_asset_url
            .as_ref()
            .filter(|_| config.matching_rule == MatchingRule::CustomMatch)
        else {
            return Ok(Vec::new());
        };
        let body = json!({ "productSku": sku, "productSKU": sku, "eventData": event_data });
        let reply = self
            .call_matcher(&config, url, &body)
            .await
            .map_err(|e| format!("product-to-asset: {e}"))?;
        let matches = match read_product_to_asset(sku, &reply)? {
            CustomReply::Skip => return Ok(Vec::new()),
            CustomReply::Matches { matches, warnings } => {
                for warning in warnings {
                    tracing::warn!(%sku, %warning, "product-to-asset");
                }
                matches
            }
        };
        let hidden_property = self.config().hidden_store_views_property.clone();
        let mut links = Vec::new();
        for found in matches {
            match self.dam.metadata(&found.asset_id).await {
                Ok(MetadataReply::Found(meta)) => {
                    if let Some(reason) = ineligibility(&meta) {
                        tracing::info!(%sku, asset = %found.asset_id, %reason, "product-to-asset named an asset that is not eligible");
                        continue;
                    }
                    let mut ignored = Vec::new();
                    match LinkFacts::read(&meta, &mut ignored) {
                        Ok(facts) => {
                            let mut link = found.link(sku, &facts);
                            link.hidden_in = read_hidden(&meta, &hidden_property, &mut ignored)
                                .unwrap_or_default();
                            links.push(link);
                        }
                        Err(reason) => {
                            tracing::warn!(%sku, asset = %found.asset_id, %reason, "product-to-asset named an asset whose metadata breaks the contract; not linked");
                        }
                    }
                }
                Ok(MetadataReply::NotFound) => {
                    tracing::info!(%sku, asset = %found.asset_id, "product-to-asset named an asset AEM does not have");
                }
                Err(error) => return Err(format!("{}: {error}", found.asset_id)),
            }
        }
        Ok(links)
    }

    /// What the rule in force makes of one asset, and what its products' galleries would become; nothing is
    /// written.
    pub async fn preview_asset(&self, asset_id: &AssetId) -> Result<AssetPreview, EngineError> {
        let meta = match self.dam.metadata(asset_id).await {
            Ok(MetadataReply::Found(meta)) => meta,
            Ok(MetadataReply::NotFound) => {
                return Err(EngineError::NotFound(format!(
                    "AEM has no asset {asset_id}"
                )));
            }
            Err(error) => return Err(EngineError::Remote(error.to_string())),
        };
        let config = self.config();
        let (outcome, reason, links, warnings) = match self.match_asset(&meta).await {
            AssetMatch::Evaluated(Evaluation::Eligible { links, warnings }) => {
                ("links", None, Some(links), warnings)
            }
            AssetMatch::Evaluated(Evaluation::NotEligible { reason }) => {
                ("not_eligible", Some(reason), Some(Vec::new()), Vec::new())
            }
            AssetMatch::Evaluated(Evaluation::Invalid { reason }) => {
                ("invalid", Some(reason), None, Vec::new())
            }
            AssetMatch::Skip => ("skip", None, None, Vec::new()),
            AssetMatch::Failed(reason) => ("failed", Some(reason), None, Vec::new()),
        };
        let mut products = Vec::new();
        if let Some(links) = &links {
            let mut skus: BTreeSet<Sku> = links.iter().map(|l| l.sku.clone()).collect();
            skus.extend(
                self.store
                    .asset_claims(asset_id)
                    .await?
                    .into_iter()
                    .map(|claim| claim.sku),
            );
            for sku in skus {
                products.push(self.preview_product(&config, asset_id, &sku, links).await?);
            }
        }
        Ok(AssetPreview {
            asset_id: asset_id.clone(),
            matching_rule: config.matching_rule,
            outcome,
            reason,
            links: links
                .unwrap_or_default()
                .iter()
                .map(PreviewLink::from)
                .collect(),
            warnings,
            products,
        })
    }

    async fn preview_product(
        &self,
        config: &IntegrationConfig,
        asset_id: &AssetId,
        sku: &Sku,
        links: &[DesiredLink],
    ) -> Result<ProductPreview, EngineError> {
        let state = self.store.sku_state(sku).await?;
        let mut claims: Vec<DesiredLink> = state
            .claims
            .into_iter()
            .filter(|claim| &claim.asset_id != asset_id)
            .collect();
        claims.extend(links.iter().filter(|l| &l.sku == sku).cloned());
        let hidden = config.visualization_owner == domain::config::VisualizationOwner::Commerce;
        let gallery = domain::manual::desired_gallery(&claims, &state.manual, hidden);
        let operations = reconcile(&gallery, &state.applied)
            .iter()
            .map(PreviewOperation::from)
            .collect();
        Ok(ProductPreview {
            sku: sku.clone(),
            product_exists: state.product_exists,
            operations,
            gallery: gallery
                .iter()
                .map(|entry| PreviewEntry {
                    asset_id: entry.asset_id.clone(),
                    position: entry.position,
                    roles: entry.roles.clone(),
                })
                .collect(),
        })
    }

    /// What the filename rules make of a file name (no asset needed).
    pub fn preview_file_name(&self, name: &str) -> Result<FileNamePreview, EngineError> {
        let config = self.config();
        if config.matching_rule != MatchingRule::Filename {
            return Err(EngineError::WrongRule(
                "a preview by file name needs matching_rule = \"filename\"".into(),
            ));
        }
        let found = match_filename(name, &config.filename_rules, &config.filename_default_roles)
            .map_err(EngineError::WrongRule)?;
        Ok(FileNamePreview {
            file_name: name.to_owned(),
            matched: found,
        })
    }
}

/// The IMS tokens of the matcher's calls (client credentials): none without a client id and secret.
fn matcher_tokens(
    config: &IntegrationConfig,
    urls: UrlPolicy,
    timeout: Duration,
) -> Result<Option<TokenProvider>, MatcherError> {
    let (Some(client_id), Some(secret)) =
        (&config.matcher_client_id, &config.matcher_client_secret)
    else {
        return Ok(None);
    };
    let token_url = endpoint_url(&Value::from(config.matcher_token_url.as_str()), urls)
        .map_err(|e| MatcherError::Url(format!("matcher_token_url {e}")))?;
    let credentials = ImsCredentials {
        token_url,
        client_id: client_id.clone(),
        client_secret: secret.expose().to_owned(),
        org_id: config.matcher_ims_org_id.clone(),
        scopes: config.matcher_scopes.clone(),
    };
    Ok(Some(TokenProvider::client_credentials(
        credentials,
        timeout,
    )?))
}

/// Sends new products to product-to-asset, a few at a time: the calls are durable work (`product_calls`),
/// leased like other work and renewed while they run; a failure is retried with backoff (up to
/// `max_attempts`) without holding a slot, then given up and shown on the product's status.
pub(crate) async fn run_product_calls(engine: Arc<Engine>, shutdown: watch::Receiver<bool>) {
    let claimer = engine.clone();
    let processor = engine.clone();
    crate::workers::run_pool(
        &engine.product_calls_ready,
        crate::workers::Width::fixed(PRODUCT_CONCURRENCY),
        shutdown,
        &engine.settings,
        move |limit| {
            let engine = claimer.clone();
            async move {
                engine
                    .store
                    .claim_product_calls(engine.now_ms(), limit, crate::workers::lease_ms(&engine))
                    .await
            }
        },
        move |call| process_product_call(processor.clone(), call),
    )
    .await;
}

async fn process_product_call(engine: Arc<Engine>, mut call: ProductCall) {
    let key = WorkKey::ProductCall(call.sku.clone());
    let lease = engine.leases.hold(
        key.clone(),
        call.lease_until_ms,
        crate::workers::lease_ms(&engine) / 3,
    );
    let result = engine.match_product(&call.sku, &call.event_data).await;
    let Some(lease_until_ms) = engine.leases.release(&key, &lease).await else {
        tracing::warn!(sku = %call.sku, "lost the lease on a product-to-asset call; its outcome is dropped");
        return;
    };
    call.lease_until_ms = lease_until_ms;
    let outcome = match result {
        Ok(links) => {
            tracing::info!(sku = %call.sku, added = links.len(), "product-to-asset links added");
            ProductCallOutcome::Linked(links)
        }
        Err(error) => {
            let attempt = u32::try_from(call.attempt).unwrap_or(u32::MAX);
            let retry_at_ms = (attempt < engine.settings.max_attempts).then(|| {
                let delay = retry_delay_ms(attempt, None, fastrand::f64());
                engine
                    .now_ms()
                    .saturating_add(i64::try_from(delay).unwrap_or(i64::MAX))
            });
            match retry_at_ms {
                Some(_) => {
                    tracing::warn!(sku = %call.sku, %error, attempt, "product-to-asset failed; retrying")
                }
                None => {
                    tracing::error!(sku = %call.sku, %error, attempt, "product-to-asset failed; gave up (see the product's status)")
                }
            }
            ProductCallOutcome::Failed { error, retry_at_ms }
        }
    };
    let linked = matches!(outcome, ProductCallOutcome::Linked(_));
    match engine
        .store
        .complete_product_call(&call, outcome, engine.now_ms())
        .await
    {
        Ok(()) if linked => engine.skus_ready.notify_one(),
        Ok(()) => {}
        Err(error) => {
            tracing::error!(sku = %call.sku, %error, "could not store a product-to-asset call's outcome; its lease will expire")
        }
    }
}

/// A preview of one asset under the rule in force.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AssetPreview {
    #[schema(value_type = String)]
    pub asset_id: AssetId,
    /// `match_by_sku`, `filename` or `custom_match`.
    #[schema(value_type = String)]
    pub matching_rule: MatchingRule,
    /// `links`, `not_eligible` (it would leave every product), `invalid`, `skip` or `failed` (these three
    /// keep its links).
    pub outcome: &'static str,
    pub reason: Option<String>,
    pub links: Vec<PreviewLink>,
    pub warnings: Vec<String>,
    /// Every product whose gallery the outcome touches: the operations a sync would run, and the gallery after.
    pub products: Vec<ProductPreview>,
}

/// One link a rule produced.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PreviewLink {
    #[schema(value_type = String)]
    pub sku: Sku,
    #[schema(value_type = Vec<String>)]
    pub roles: BTreeSet<Role>,
    pub position: Option<u32>,
    pub label: Option<String>,
    /// `image` or `video`.
    #[schema(value_type = String)]
    pub media_type: domain::MediaType,
}

impl From<&DesiredLink> for PreviewLink {
    fn from(link: &DesiredLink) -> Self {
        Self {
            sku: link.sku.clone(),
            roles: link.roles.clone(),
            position: link.position,
            label: link.label.clone(),
            media_type: link.media_type,
        }
    }
}

/// One product's gallery under the previewed outcome.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProductPreview {
    #[schema(value_type = String)]
    pub sku: Sku,
    /// False: nothing is written until the product appears.
    pub product_exists: bool,
    pub operations: Vec<PreviewOperation>,
    pub gallery: Vec<PreviewEntry>,
}

/// One gallery entry (what `GET /api/v1/products/{sku}/media` would show).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PreviewEntry {
    #[schema(value_type = String)]
    pub asset_id: AssetId,
    pub position: u32,
    #[schema(value_type = Vec<String>)]
    pub roles: BTreeSet<Role>,
}

/// One gallery operation: `create`, `update`, `replace` or `delete`, with the entry it leads to (or removes).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PreviewOperation {
    pub op: &'static str,
    #[serde(flatten)]
    pub entry: PreviewEntry,
}

impl From<&Operation> for PreviewOperation {
    fn from(op: &Operation) -> Self {
        let (name, entry) = match op {
            Operation::Create(to) => ("create", to),
            Operation::Update { to, .. } => ("update", to),
            Operation::Replace { to, .. } => ("replace", to),
            Operation::Delete(from) => ("delete", &from.entry),
        };
        Self {
            op: name,
            entry: PreviewEntry {
                asset_id: entry.asset_id.clone(),
                position: entry.position,
                roles: entry.roles.clone(),
            },
        }
    }
}

/// What the filename rules read from a file name.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FileNamePreview {
    pub file_name: String,
    /// `null` when no rule matches (an asset so named is linked to nothing); else `{rule, sku, position, roles}`.
    #[schema(value_type = Option<Object>)]
    pub matched: Option<FilenameMatch>,
}
