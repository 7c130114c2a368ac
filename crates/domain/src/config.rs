//! The integration's configuration (reference §4.1): its fields, their defaults, and the validation of a change.
//! Global scope only. A change is a JSON object: a field left out keeps its value, a field set to `null` returns
//! to its default (the reference's "Use system value"), `author_url` is a write-only shortcut that fills the
//! program and environment ids.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// How assets are matched to products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchingRule {
    MatchBySku,
}

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
    pub visualization_owner: VisualizationOwner,
    /// `https://<host>` when set: published URLs use it instead of the delivery host.
    pub asset_custom_domain: Option<String>,
    pub resync_on_metadata_change: bool,
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
            visualization_owner: VisualizationOwner::AemAssets,
            asset_custom_domain: None,
            resync_on_metadata_change: true,
        }
    }

    /// The fields whose change calls for a full sync (they change what matches).
    pub fn matching_differs(&self, other: &Self) -> bool {
        self.program_id != other.program_id
            || self.environment_id != other.environment_id
            || self.matching_rule != other.matching_rule
            || self.sku_attribute != other.sku_attribute
    }

    /// Applies a change (a JSON object) and returns the new configuration and what changed, or one error per
    /// field. `defaults` gives the value of a field set to `null`.
    pub fn apply_change(
        &self,
        change: &Value,
        defaults: &Self,
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
            if let Err(message) = next.set(field, value, defaults, change) {
                errors.insert(field.clone(), message);
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let (before, after) = (self.as_fields(), next.as_fields());
        let changes = after
            .iter()
            .filter(|(field, value)| before.get(*field) != Some(*value))
            .map(|(field, value)| FieldChange {
                field: field.clone(),
                old: before.get(field).cloned().unwrap_or(Value::Null),
                new: value.clone(),
            })
            .collect();
        Ok((next, changes))
    }

    fn set(
        &mut self,
        field: &str,
        value: &Value,
        defaults: &Self,
        whole: &Map<String, Value>,
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
                    Some("custom_match") => {
                        return Err(
                            "custom_match is not available in this version (match_by_sku is)"
                                .into(),
                        );
                    }
                    _ => return Err("must be \"match_by_sku\"".into()),
                }
            }
            "sku_attribute" => {
                self.sku_attribute = if null {
                    defaults.sku_attribute.clone()
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
            _ => return Err("unknown field".into()),
        }
        Ok(())
    }

    /// The configuration as API fields (what `GET /api/v1/config` returns).
    pub fn as_fields(&self) -> BTreeMap<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map.into_iter().collect(),
            _ => BTreeMap::new(),
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
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> IntegrationConfig {
        IntegrationConfig::defaults("142461", "1463137")
    }

    #[test]
    fn fields_left_out_keep_their_value_and_null_restores_the_default() -> Result<(), FieldErrors> {
        let (changed, changes) = base().apply_change(
            &json!({ "sku_attribute": "custom:skus", "sync_enabled": false }),
            &base(),
        )?;
        assert_eq!(changed.sku_attribute, "custom:skus");
        assert!(!changed.sync_enabled);
        assert_eq!(changed.program_id, "142461");
        assert_eq!(changes.len(), 2);
        let (restored, _) = changed.apply_change(&json!({ "sku_attribute": null }), &base())?;
        assert_eq!(restored.sku_attribute, "commerce:skus");
        assert!(!restored.sync_enabled);
        Ok(())
    }

    #[test]
    fn the_author_url_fills_program_and_environment() -> Result<(), FieldErrors> {
        let (changed, _) = base().apply_change(
            &json!({ "author_url": "https://author-p1234-e5678.adobeaemcloud.com/" }),
            &base(),
        )?;
        assert_eq!(
            (changed.program_id.as_str(), changed.environment_id.as_str()),
            ("1234", "5678")
        );
        assert!(changed.matching_differs(&base()));
        Ok(())
    }

    #[test]
    fn each_bad_field_gets_its_own_message() {
        let errors = base()
            .apply_change(
                &json!({
                    "author_url": "https://example.com/",
                    "visualization_owner": "nobody",
                    "asset_custom_domain": "http://cdn.example.com",
                    "sync_enabled": "yes",
                    "colour": "blue",
                }),
                &base(),
            )
            .err()
            .unwrap_or_default();
        assert_eq!(
            errors.keys().map(String::as_str).collect::<Vec<_>>(),
            [
                "asset_custom_domain",
                "author_url",
                "colour",
                "sync_enabled",
                "visualization_owner"
            ]
        );
    }

    #[test]
    fn custom_domains_are_normalised() {
        assert_eq!(
            custom_domain("Assets.Example.com"),
            Ok("https://assets.example.com".into())
        );
        assert_eq!(
            custom_domain("https://assets.example.com/"),
            Ok("https://assets.example.com".into())
        );
        assert!(custom_domain("https://assets.example.com/path").is_err());
        assert!(custom_domain("localhost").is_err());
    }
}
