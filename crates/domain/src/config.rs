//! The integration's configuration (reference §4.1): its fields, their defaults, and the validation of a change.
//! Global scope only. A change is a JSON object: a field left out keeps its value, a field set to `null` returns
//! to its default (the reference's "Use system value"), `author_url` is a write-only shortcut that fills the
//! program and environment ids.

mod credentials;

pub use credentials::{SECRET_BOUND_URLS, credentials_allowed};

use crate::ids::Role;
use crate::matching::FilenameRules;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// How assets are matched to products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchingRule {
    /// The asset's `commerce:skus`, `commerce:roles` and `commerce:positions` (reference §5).
    MatchBySku,
    /// Regular expressions over the asset's file name (`filename_rules`).
    Filename,
    /// The merchant's App Builder endpoints (reference §6).
    CustomMatch,
}

/// A write-only value (a client secret): stored, never shown. `Debug` prints `***`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one request that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Whether matcher and token URLs may use plain http (`allow_insecure_matcher_urls`, for local testing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UrlPolicy {
    #[default]
    HttpsOnly,
    AllowInsecure,
}

/// Adobe IMS's token endpoint (client-credentials flow), the default `matcher_token_url`.
pub const IMS_TOKEN_URL: &str = "https://ims-na1.adobelogin.com/ims/token/v3";
/// Fields that are write-only: `GET` shows `<field>_set` instead.
pub const SECRET_FIELDS: [&str; 1] = ["matcher_client_secret"];

/// Whose images the storefront shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisualizationOwner {
    /// The commerce platform's own images show; DAM entries are kept but hidden.
    Commerce,
    /// DAM images show.
    AemAssets,
}

/// The integration's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationConfig {
    pub ims_client_id: Option<String>,
    pub program_id: String,
    pub environment_id: String,
    pub sync_enabled: bool,
    pub matching_rule: MatchingRule,
    pub sku_attribute: String,
    /// The metadata property listing the store views an asset is hidden in.
    #[serde(default = "default_hidden_property")]
    pub hidden_store_views_property: String,
    pub visualization_owner: VisualizationOwner,
    /// `https://<host>` when set: published URLs use it instead of the delivery host.
    pub asset_custom_domain: Option<String>,
    pub resync_on_metadata_change: bool,
    /// `matching_rule = "filename"`: the rules, first match wins.
    #[serde(default)]
    pub filename_rules: FilenameRules,
    /// Roles of a filename match at position 1 whose rule gives no `role`.
    #[serde(default = "default_filename_roles")]
    pub filename_default_roles: BTreeSet<Role>,
    /// `matching_rule = "custom_match"`: the asset-to-product endpoint (§6.2).
    #[serde(default)]
    pub asset_to_product_url: Option<String>,
    /// `matching_rule = "custom_match"`: the product-to-asset endpoint (§6.3); unset = new products get no
    /// links from the matcher.
    #[serde(default)]
    pub product_to_asset_url: Option<String>,
    /// The matcher's IMS client-credentials token endpoint.
    #[serde(default = "default_token_url")]
    pub matcher_token_url: String,
    #[serde(default)]
    pub matcher_client_id: Option<String>,
    /// Write-only.
    #[serde(default)]
    pub matcher_client_secret: Option<Secret>,
    /// Sent as `x-gw-ims-org-id`.
    #[serde(default)]
    pub matcher_ims_org_id: Option<String>,
    #[serde(default)]
    pub matcher_scopes: Vec<String>,
}

fn default_hidden_property() -> String {
    crate::store_views::DEFAULT_HIDDEN_PROPERTY.to_owned()
}

fn default_filename_roles() -> BTreeSet<Role> {
    ["image", "small_image", "thumbnail"]
        .into_iter()
        .filter_map(|r| Role::parse(r).ok())
        .collect()
}

fn default_token_url() -> String {
    IMS_TOKEN_URL.to_owned()
}

/// Field name → what is wrong with it.
pub type FieldErrors = BTreeMap<String, String>;

/// One changed field: its old and new value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub old: Value,
    pub new: Value,
}

impl IntegrationConfig {
    /// The defaults for an environment (used for fields set to `null`).
    pub fn defaults(program_id: &str, environment_id: &str) -> Self {
        Self {
            ims_client_id: None,
            program_id: program_id.to_owned(),
            environment_id: environment_id.to_owned(),
            sync_enabled: true,
            matching_rule: MatchingRule::MatchBySku,
            sku_attribute: "commerce:skus".to_owned(),
            hidden_store_views_property: default_hidden_property(),
            visualization_owner: VisualizationOwner::AemAssets,
            asset_custom_domain: None,
            resync_on_metadata_change: true,
            filename_rules: FilenameRules::default(),
            filename_default_roles: default_filename_roles(),
            asset_to_product_url: None,
            product_to_asset_url: None,
            matcher_token_url: default_token_url(),
            matcher_client_id: None,
            matcher_client_secret: None,
            matcher_ims_org_id: None,
            matcher_scopes: Vec::new(),
        }
    }

    /// The fields whose change calls for a full sync (they change what matches).
    pub fn matching_differs(&self, other: &Self) -> bool {
        self.program_id != other.program_id
            || self.environment_id != other.environment_id
            || self.matching_rule != other.matching_rule
            || self.sku_attribute != other.sku_attribute
            || self.hidden_store_views_property != other.hidden_store_views_property
            || (self.matching_rule == MatchingRule::Filename
                && (self.filename_rules != other.filename_rules
                    || self.filename_default_roles != other.filename_default_roles))
            || (self.matching_rule == MatchingRule::CustomMatch
                && self.asset_to_product_url != other.asset_to_product_url)
    }

    /// Applies a change (a JSON object) and returns the new configuration and what changed, or one error per
    /// field. `defaults` gives the value of a field set to `null`; `urls` whether matcher URLs may be http.
    pub fn apply_change(
        &self,
        change: &Value,
        defaults: &Self,
        urls: UrlPolicy,
    ) -> Result<(Self, Vec<FieldChange>), FieldErrors> {
        let mut errors = FieldErrors::new();
        let Some(change) = change.as_object() else {
            errors.insert(
                "body".into(),
                "must be a JSON object of configuration fields".into(),
            );
            return Err(errors);
        };
        let mut next = self.clone();
        for (field, value) in change {
            if let Err(message) = next.set(field, value, defaults, change, urls) {
                errors.insert(field.clone(), message);
            }
        }
        if errors.is_empty() {
            self.credential_errors(&next, change, &mut errors);
        }
        if errors.is_empty()
            && let Err(message) = next.check_rule()
        {
            errors.insert("matching_rule".into(), message);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let (before, after) = (self.as_fields(), next.as_fields());
        let mut changes: Vec<FieldChange> = after
            .iter()
            .filter(|(field, value)| before.get(*field) != Some(*value))
            .map(|(field, value)| FieldChange {
                field: field.clone(),
                old: before.get(field).cloned().unwrap_or(Value::Null),
                new: value.clone(),
            })
            .collect();
        changes.extend(self.secret_change(&next));
        Ok((next, changes))
    }

    fn set(
        &mut self,
        field: &str,
        value: &Value,
        defaults: &Self,
        whole: &Map<String, Value>,
        urls: UrlPolicy,
    ) -> Result<(), String> {
        let null = value.is_null();
        match field {
            "ims_client_id" => {
                self.ims_client_id = if null {
                    defaults.ims_client_id.clone()
                } else {
                    Some(text(value, 200)?)
                };
            }
            "program_id" => {
                self.program_id = if null {
                    defaults.program_id.clone()
                } else {
                    digits(value)?
                }
            }
            "environment_id" => {
                self.environment_id = if null {
                    defaults.environment_id.clone()
                } else {
                    digits(value)?
                };
            }
            "author_url" => {
                if whole.contains_key("program_id") || whole.contains_key("environment_id") {
                    return Err(
                        "give either author_url or program_id and environment_id, not both".into(),
                    );
                }
                let (program, environment) = if null {
                    (defaults.program_id.clone(), defaults.environment_id.clone())
                } else {
                    parse_author_url(&text(value, 300)?)?
                };
                self.program_id = program;
                self.environment_id = environment;
            }
            "sync_enabled" => {
                self.sync_enabled = if null {
                    defaults.sync_enabled
                } else {
                    boolean(value)?
                }
            }
            "matching_rule" => {
                self.matching_rule = match value.as_str() {
                    None if null => defaults.matching_rule,
                    Some("match_by_sku") => MatchingRule::MatchBySku,
                    Some("filename") => MatchingRule::Filename,
                    Some("custom_match") => MatchingRule::CustomMatch,
                    _ => {
                        return Err(
                            "must be \"match_by_sku\", \"filename\" or \"custom_match\"".into()
                        );
                    }
                }
            }
            "sku_attribute" => {
                self.sku_attribute = if null {
                    defaults.sku_attribute.clone()
                } else {
                    attribute_name(value)?
                };
            }
            "hidden_store_views_property" => {
                self.hidden_store_views_property = if null {
                    defaults.hidden_store_views_property.clone()
                } else {
                    attribute_name(value)?
                };
            }
            "visualization_owner" => {
                self.visualization_owner = match value.as_str() {
                    None if null => defaults.visualization_owner,
                    Some("commerce") => VisualizationOwner::Commerce,
                    Some("aem_assets") => VisualizationOwner::AemAssets,
                    _ => return Err("must be \"commerce\" or \"aem_assets\"".into()),
                }
            }
            "asset_custom_domain" => {
                self.asset_custom_domain = if null {
                    defaults.asset_custom_domain.clone()
                } else {
                    Some(custom_domain(&text(value, 300)?)?)
                };
            }
            "resync_on_metadata_change" => {
                self.resync_on_metadata_change = if null {
                    defaults.resync_on_metadata_change
                } else {
                    boolean(value)?
                };
            }
            "filename_rules" => {
                self.filename_rules = if null {
                    defaults.filename_rules.clone()
                } else {
                    FilenameRules::parse(&string_list(value, MAX_PATTERN_CHARS)?)?
                };
            }
            "filename_default_roles" => {
                self.filename_default_roles = if null {
                    defaults.filename_default_roles.clone()
                } else {
                    string_list(value, 100)?
                        .iter()
                        .map(|r| Role::parse(r).map_err(|e| e.to_string()))
                        .collect::<Result<_, _>>()?
                };
            }
            "asset_to_product_url" => {
                self.asset_to_product_url = optional(value, |v| endpoint_url(v, urls))?
                    .or_else(|| defaults.asset_to_product_url.clone());
            }
            "product_to_asset_url" => {
                self.product_to_asset_url = optional(value, |v| endpoint_url(v, urls))?
                    .or_else(|| defaults.product_to_asset_url.clone());
            }
            "matcher_token_url" => {
                self.matcher_token_url = match optional(value, |v| endpoint_url(v, urls))? {
                    Some(url) => url,
                    None => defaults.matcher_token_url.clone(),
                };
            }
            "matcher_client_id" => {
                self.matcher_client_id = optional(value, |v| text(v, 200))?
                    .or_else(|| defaults.matcher_client_id.clone());
            }
            "matcher_client_secret" => {
                self.matcher_client_secret = optional(value, |v| text(v, 500))?
                    .map(Secret)
                    .or_else(|| defaults.matcher_client_secret.clone());
            }
            "matcher_ims_org_id" => {
                self.matcher_ims_org_id = optional(value, |v| text(v, 200))?
                    .or_else(|| defaults.matcher_ims_org_id.clone());
            }
            "matcher_scopes" => {
                self.matcher_scopes = if null {
                    defaults.matcher_scopes.clone()
                } else {
                    string_list(value, 200)?
                };
            }
            _ => return Err("unknown field".into()),
        }
        Ok(())
    }

    /// The settings the chosen rule needs are all there.
    fn check_rule(&self) -> Result<(), String> {
        match self.matching_rule {
            MatchingRule::MatchBySku => Ok(()),
            MatchingRule::Filename if self.filename_rules.is_empty() => {
                Err("filename needs filename_rules (at least one)".into())
            }
            MatchingRule::Filename => Ok(()),
            MatchingRule::CustomMatch if self.asset_to_product_url.is_none() => {
                Err("custom_match needs asset_to_product_url".into())
            }
            MatchingRule::CustomMatch
                if self.matcher_client_id.is_some() != self.matcher_client_secret.is_some() =>
            {
                Err("custom_match authentication needs both matcher_client_id and matcher_client_secret (or neither)".into())
            }
            MatchingRule::CustomMatch => Ok(()),
        }
    }

    /// The configuration as API fields (what `GET /api/v1/config` returns): a secret shows only as
    /// `<field>_set`.
    pub fn as_fields(&self) -> BTreeMap<String, Value> {
        let mut fields: BTreeMap<String, Value> = match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map.into_iter().collect(),
            _ => BTreeMap::new(),
        };
        for secret in SECRET_FIELDS {
            let set = fields.remove(secret).is_some_and(|v| !v.is_null());
            fields.insert(format!("{secret}_set"), Value::Bool(set));
        }
        fields
    }

    /// Reads an App Builder `workspace.json` (reference §6.1) into a change of the matcher's credentials:
    /// org id, client id, the first client secret and the scopes. One error per missing or malformed field,
    /// named by its path.
    pub fn workspace_change(workspace: &Value) -> Result<Value, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut change = Map::new();
        let org = "project.org.ims_org_id";
        match workspace
            .pointer("/project/org/ims_org_id")
            .and_then(Value::as_str)
        {
            Some(id) if !id.trim().is_empty() => {
                change.insert("matcher_ims_org_id".into(), Value::from(id.trim()));
            }
            _ => {
                errors.insert(org.into(), "missing or not a string".into());
            }
        }
        let credentials = "project.workspace.details.credentials";
        let oauth = workspace
            .pointer("/project/workspace/details/credentials")
            .and_then(Value::as_array)
            .and_then(|list| list.iter().find_map(|c| c.get("oauth_server_to_server")));
        let Some(oauth) = oauth else {
            errors.insert(
                credentials.into(),
                "holds no oauth_server_to_server credential".into(),
            );
            return Err(errors);
        };
        let at = format!("{credentials}[].oauth_server_to_server");
        match oauth.get("client_id").and_then(Value::as_str) {
            Some(id) if !id.trim().is_empty() => {
                change.insert("matcher_client_id".into(), Value::from(id.trim()));
            }
            _ => {
                errors.insert(format!("{at}.client_id"), "missing or not a string".into());
            }
        }
        match oauth.pointer("/client_secrets/0").and_then(Value::as_str) {
            Some(secret) if !secret.trim().is_empty() => {
                change.insert("matcher_client_secret".into(), Value::from(secret.trim()));
            }
            _ => {
                errors.insert(
                    format!("{at}.client_secrets"),
                    "must hold at least one secret".into(),
                );
            }
        }
        match oauth.get("scopes") {
            None | Some(Value::Null) => {}
            Some(Value::Array(scopes)) if scopes.iter().all(Value::is_string) => {
                change.insert("matcher_scopes".into(), Value::Array(scopes.clone()));
            }
            Some(_) => {
                errors.insert(format!("{at}.scopes"), "must be a list of strings".into());
            }
        }
        if errors.is_empty() {
            Ok(Value::Object(change))
        } else {
            Err(errors)
        }
    }
}

fn text(value: &Value, max: usize) -> Result<String, String> {
    let s = value.as_str().ok_or("must be a string")?.trim();
    if s.is_empty() {
        return Err("must not be empty (use null for the default)".into());
    }
    if s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(format!(
            "must be at most {max} characters without control characters"
        ));
    }
    Ok(s.to_owned())
}

/// Longest filename pattern accepted, in characters.
const MAX_PATTERN_CHARS: usize = crate::matching::MAX_PATTERN_BYTES;

/// `null` → `None`, else the parsed value.
fn optional<T>(
    value: &Value,
    parse: impl FnOnce(&Value) -> Result<T, String>,
) -> Result<Option<T>, String> {
    if value.is_null() {
        Ok(None)
    } else {
        parse(value).map(Some)
    }
}

/// A list of strings, each at most `max` characters.
fn string_list(value: &Value, max: usize) -> Result<Vec<String>, String> {
    value
        .as_array()
        .ok_or("must be a list of strings")?
        .iter()
        .enumerate()
        .map(|(index, item)| text(item, max).map_err(|e| format!("item {index} {e}")))
        .collect()
}

/// An endpoint URL: https (http only under [`UrlPolicy::AllowInsecure`]), a host, no user info, no fragment.
pub fn endpoint_url(value: &Value, urls: UrlPolicy) -> Result<String, String> {
    let url = text(value, 2_000)?;
    let (scheme, rest) = url
        .split_once("://")
        .ok_or("must be an absolute https URL")?;
    match (scheme.to_ascii_lowercase().as_str(), urls) {
        ("https", _) | ("http", UrlPolicy::AllowInsecure) => {}
        ("http", UrlPolicy::HttpsOnly) => {
            return Err(
                "must be https (plain http only with allow_insecure_matcher_urls = true, for local testing)"
                    .into(),
            );
        }
        _ => return Err("must be an absolute https URL".into()),
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("must not carry user info (user:password@); use the credential fields".into());
    }
    if authority.is_empty() || url.contains('#') || url.chars().any(char::is_whitespace) {
        return Err("must be an absolute URL with a host, no fragment and no spaces".into());
    }
    Ok(url)
}

fn digits(value: &Value) -> Result<String, String> {
    let s = match value {
        Value::Number(n) if n.is_u64() => n.to_string(),
        other => text(other, 20)?,
    };
    if s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty() && s.len() <= 20 {
        Ok(s)
    } else {
        Err("must be digits".into())
    }
}

fn boolean(value: &Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| "must be true or false".to_owned())
}

fn attribute_name(value: &Value) -> Result<String, String> {
    let s = text(value, 128)?;
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-' | '.'))
    {
        Ok(s)
    } else {
        Err("must be a metadata property name such as commerce:skus".into())
    }
}

/// `https://author-p<P>-e<E>.adobeaemcloud.com/` (optionally `-cmstg`) → (P, E).
pub fn parse_author_url(raw: &str) -> Result<(String, String), String> {
    let invalid =
        || "must look like https://author-p<program>-e<environment>.adobeaemcloud.com/".to_owned();
    let host = raw
        .strip_prefix("https://")
        .ok_or_else(invalid)?
        .trim_end_matches('/');
    let label = host
        .strip_suffix(".adobeaemcloud.com")
        .ok_or_else(invalid)?;
    let rest = label.strip_prefix("author-p").ok_or_else(invalid)?;
    let rest = rest.strip_suffix("-cmstg").unwrap_or(rest);
    let (program, environment) = rest.split_once("-e").ok_or_else(invalid)?;
    let valid = |s: &str| !s.is_empty() && s.len() <= 20 && s.chars().all(|c| c.is_ascii_digit());
    if valid(program) && valid(environment) {
        Ok((program.to_owned(), environment.to_owned()))
    } else {
        Err(invalid())
    }
}

/// A host (`assets.example.com`) or an https URL with no path → `https://<host>`.
pub fn custom_domain(raw: &str) -> Result<String, String> {
    let host = match raw.split_once("://") {
        Some(("https", rest)) => rest.trim_end_matches('/'),
        Some(_) => return Err("must be a host name or an https URL".into()),
        None => raw.trim_end_matches('/'),
    };
    let valid = !host.is_empty()
        && host.len() <= 253
        && host.split('.').count() >= 2
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if valid {
        Ok(format!("https://{}", host.to_ascii_lowercase()))
    } else {
        Err("must be a host name such as assets.example.com (no path, no port)".into())
    }
}

#[cfg(test)]
mod tests;
