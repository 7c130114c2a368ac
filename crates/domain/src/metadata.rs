//! Match by SKU: an AEM asset's metadata (reference §3.1, §5.2) read into the links it asks for.
//!
//! [`evaluate`] decides one of three outcomes. `Eligible` carries the desired links (possibly none);
//! `NotEligible` means the asset must leave every product; `Invalid` means the metadata cannot be read as
//! the contract says: the asset fails and its existing links stay.

use crate::ids::{AssetId, ContentId, IdError, MediaType, Role, Sku};
use crate::store_views::{
    DEFAULT_HIDDEN_PROPERTY, Labels, StoreView, cut_label, read_hidden, read_labels,
};
use crate::time::parse_rfc3339_ms;
use crate::video::Video;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// The settings matching depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchSettings {
    /// The metadata property holding the SKUs (default `commerce:skus`).
    pub sku_attribute: String,
    /// At most this many SKUs of one asset are linked (the rest are refused with a warning).
    pub max_skus: usize,
    /// The metadata property listing the store views an asset is hidden in.
    pub hidden_property: String,
}

impl Default for MatchSettings {
    fn default() -> Self {
        Self {
            sku_attribute: "commerce:skus".to_owned(),
            max_skus: 1_000,
            hidden_property: DEFAULT_HIDDEN_PROPERTY.to_owned(),
        }
    }
}

/// Longest label written, in characters.
pub const MAX_LABEL_CHARS: usize = 255;
/// Largest explicit gallery position (Magento stores a signed 32-bit int).
pub const MAX_POSITION: u32 = i32::MAX as u32;

/// The Author API's metadata reply: `{"assetId", "repositoryMetadata": {...}, "assetMetadata": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetMetadata {
    #[serde(rename = "assetId")]
    pub asset_id: AssetId,
    #[serde(rename = "repositoryMetadata", default)]
    pub repository: Map<String, Value>,
    #[serde(rename = "assetMetadata", default)]
    pub asset: Map<String, Value>,
}

/// Why a metadata document could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("metadata reply is not {{assetId, repositoryMetadata, assetMetadata}}: {0}")]
pub struct MetadataShapeError(#[from] serde_json::Error);

impl AssetMetadata {
    /// Parses the Author API's JSON reply.
    pub fn from_json(bytes: &[u8]) -> Result<Self, MetadataShapeError> {
        Ok(serde_json::from_slice(bytes)?)
    }

    /// A string field of `assetMetadata` (or a list holding one string).
    pub fn asset_str(&self, key: &str) -> Option<&str> {
        single_string(self.asset.get(key))
    }

    /// A string field of `repositoryMetadata` (or a list holding one string).
    pub fn repo_str(&self, key: &str) -> Option<&str> {
        single_string(self.repository.get(key))
    }
}

/// A string, or an array holding exactly one string (checkbox fields may be stored either way).
fn single_string(value: Option<&Value>) -> Option<&str> {
    match value? {
        Value::String(s) => Some(s),
        Value::Array(items) if items.len() == 1 => items[0].as_str(),
        _ => None,
    }
}

/// One link an eligible asset asks for: this asset on this product, with these roles and position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredLink {
    pub asset_id: AssetId,
    pub sku: Sku,
    pub roles: BTreeSet<Role>,
    /// Explicit gallery position; `None` = after the positioned entries.
    pub position: Option<u32>,
    pub label: Option<String>,
    /// Alt texts by store view (the default view's is also `label`).
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
    /// Store views the entry is hidden in.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub hidden_in: BTreeSet<StoreView>,
    pub media_type: MediaType,
    /// A video's title and description (`None` for an image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<Video>,
    pub content_id: ContentId,
    /// `repo:modifyDate` in Unix ms (0 when absent): decides which asset holds a contested role.
    pub modified_ms: i64,
}

impl DesiredLink {
    /// Sets the media type (a custom matcher's `asset_format`); a video keeps, or gets, its title and description.
    pub fn set_media_type(&mut self, media_type: MediaType, video: &Video) {
        self.media_type = media_type;
        self.video = match media_type {
            MediaType::Video => Some(self.video.take().unwrap_or_else(|| video.clone())),
            MediaType::Image => None,
        };
    }
}

/// The outcome of reading one asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evaluation {
    /// The asset belongs exactly on these products (an empty list unlinks it everywhere).
    Eligible {
        links: Vec<DesiredLink>,
        warnings: Vec<String>,
    },
    /// Deleted, unapproved, rejected or not for commerce: it leaves every product.
    NotEligible { reason: String },
    /// The metadata breaks the contract: the asset fails, its links stay as they are.
    Invalid { reason: String },
}

/// Reads an asset's metadata into its desired links (match by SKU).
pub fn evaluate(meta: &AssetMetadata, settings: &MatchSettings) -> Evaluation {
    if let Some(reason) = ineligibility(meta) {
        return Evaluation::NotEligible { reason };
    }
    let evaluation = match desired_links(meta, settings) {
        Ok((links, warnings)) => Evaluation::Eligible { links, warnings },
        Err(reason) => Evaluation::Invalid { reason },
    };
    with_hidden_views(evaluation, meta, &settings.hidden_property)
}

/// Sets every link's `hidden_in` from `property` (a list of store view codes), whatever rule made the links;
/// a value that is not strings breaks the contract.
pub fn with_hidden_views(
    evaluation: Evaluation,
    meta: &AssetMetadata,
    property: &str,
) -> Evaluation {
    let Evaluation::Eligible {
        mut links,
        mut warnings,
    } = evaluation
    else {
        return evaluation;
    };
    match read_hidden(meta, property, &mut warnings) {
        Ok(hidden) => {
            for link in &mut links {
                link.hidden_in = hidden.clone();
            }
            Evaluation::Eligible { links, warnings }
        }
        Err(reason) => Evaluation::Invalid { reason },
    }
}

/// One asset's links keyed by case-folded SKU ([`Sku::case_folded`]), for a platform that compares SKUs
/// without case: SKUs that differ only in case become one link, as a SKU listed twice does (roles merged, the
/// first position kept), so such a platform's one product gets one gallery.
pub fn fold_sku_case(links: Vec<DesiredLink>) -> Vec<DesiredLink> {
    let mut folded: Vec<DesiredLink> = Vec::with_capacity(links.len());
    for mut link in links {
        link.sku = link.sku.case_folded();
        match folded.iter_mut().find(|l| l.sku == link.sku) {
            Some(existing) => existing.roles.extend(link.roles),
            None => folded.push(link),
        }
    }
    folded
}

/// `None` when the asset is eligible (approved, for commerce, activated to delivery), else the reason it is
/// not. Every matching rule applies it first.
pub fn ineligibility(meta: &AssetMetadata) -> Option<String> {
    let status = meta.asset_str("dam:status").map(str::trim);
    if status != Some("approved") {
        return Some(format!(
            "dam:status is {}, not approved",
            status.map_or("unset".into(), |s| format!("{s:?}"))
        ));
    }
    let commerce = meta.asset_str("commerce:isCommerce").map(str::trim);
    if !commerce.is_some_and(|v| v.eq_ignore_ascii_case("yes")) {
        return Some("commerce:isCommerce is not yes".to_owned());
    }
    match meta.asset_str("dam:activationTarget").map(str::trim) {
        None | Some("") => None,
        Some(t) if t.eq_ignore_ascii_case("delivery") => None,
        Some(other) => Some(format!("dam:activationTarget is {other:?}, not delivery")),
    }
}

type Links = (Vec<DesiredLink>, Vec<String>);

/// What every link of an asset shares, whatever the rule: label, media type, content id and modify date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkFacts {
    pub label: Option<String>,
    pub labels: Labels,
    pub media_type: MediaType,
    /// The title and description a video entry carries (read whatever the media type: a custom matcher's
    /// `asset_format` may make the asset a video).
    pub video: Video,
    pub content_id: ContentId,
    pub modified_ms: i64,
}

impl LinkFacts {
    /// Reads the shared facts from the metadata (warnings for values that are cut); an unreadable modify date
    /// breaks the contract.
    pub fn read(meta: &AssetMetadata, warnings: &mut Vec<String>) -> Result<Self, String> {
        let labels = read_labels(meta, warnings)?;
        let label = label(&labels, meta, warnings);
        let media_type = MediaType::from_format(
            meta.repo_str("dc:format")
                .or_else(|| meta.asset_str("dc:format")),
        );
        let content_id = ContentId(
            meta.repo_str("dam:sha1")
                .or_else(|| meta.repo_str("repo:version"))
                .unwrap_or("unknown")
                .to_owned(),
        );
        let modified_ms = match meta.repository.get("repo:modifyDate") {
            None | Some(Value::Null) => 0,
            Some(Value::String(raw)) => parse_rfc3339_ms(raw)
                .ok_or_else(|| format!("repo:modifyDate {raw:?} is not an RFC 3339 time"))?,
            Some(other) => {
                return Err(format!(
                    "repo:modifyDate is {}, not an RFC 3339 time",
                    kind(other)
                ));
            }
        };
        Ok(Self {
            label,
            labels,
            media_type,
            video: Video::read(meta),
            content_id,
            modified_ms,
        })
    }

    /// The link of `asset_id` on `sku` with these facts.
    pub fn link(
        &self,
        asset_id: &AssetId,
        sku: Sku,
        roles: BTreeSet<Role>,
        position: Option<u32>,
    ) -> DesiredLink {
        DesiredLink {
            asset_id: asset_id.clone(),
            sku,
            roles,
            position,
            label: self.label.clone(),
            labels: self.labels.clone(),
            hidden_in: BTreeSet::new(),
            media_type: self.media_type,
            video: (self.media_type == MediaType::Video).then(|| self.video.clone()),
            content_id: self.content_id.clone(),
            modified_ms: self.modified_ms,
        }
    }
}

fn desired_links(meta: &AssetMetadata, settings: &MatchSettings) -> Result<Links, String> {
    let mut warnings = Vec::new();
    let attribute = settings.sku_attribute.as_str();
    let skus = string_list(meta.asset.get(attribute), attribute)?;
    let roles = string_list(meta.asset.get("commerce:roles"), "commerce:roles")?;
    let positions = positions(meta.asset.get("commerce:positions"))?;
    let facts = LinkFacts::read(meta, &mut warnings)?;

    let mut links: Vec<DesiredLink> = Vec::new();
    if skus.len() > settings.max_skus {
        warnings.push(format!(
            "{attribute} lists {} SKUs; only the first {} are linked",
            skus.len(),
            settings.max_skus
        ));
    }
    for (index, raw_sku) in skus.iter().enumerate().take(settings.max_skus) {
        let raw_sku = raw_sku.as_deref().unwrap_or("");
        let sku = match Sku::parse(raw_sku) {
            Ok(sku) => sku,
            Err(IdError::EmptySku) => continue,
            Err(e) => {
                warnings.push(format!("{attribute}[{index}] rejected: {e}"));
                continue;
            }
        };
        let mut link_roles = BTreeSet::new();
        for role in roles
            .get(index)
            .and_then(Option::as_deref)
            .unwrap_or("")
            .split(';')
        {
            if role.trim().is_empty() {
                continue;
            }
            match Role::parse(role) {
                Ok(r) => {
                    link_roles.insert(r);
                }
                Err(e) => warnings.push(format!("commerce:roles[{index}] for {sku}: {e}; dropped")),
            }
        }
        let position = match positions.get(index).copied().flatten() {
            Some(p) if (0..=i64::from(MAX_POSITION)).contains(&p) => u32::try_from(p).ok(),
            Some(-1) | None => None,
            Some(p) => {
                warnings.push(format!("commerce:positions[{index}] = {p} is out of range; placed after the positioned entries"));
                None
            }
        };
        if let Some(existing) = links.iter_mut().find(|l| l.sku == sku) {
            existing.roles.extend(link_roles);
            continue;
        }
        links.push(facts.link(&meta.asset_id, sku, link_roles, position));
    }
    Ok((links, warnings))
}

/// A list of strings: a single string counts as one item; `null` items are kept as gaps; missing = empty.
pub(crate) fn string_list(
    value: Option<&Value>,
    name: &str,
) -> Result<Vec<Option<String>>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![Some(s.clone())]),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(Some(s.clone())),
                Value::Null => Ok(None),
                other => Err(format!("{name}[{i}] is {}, not a string", kind(other))),
            })
            .collect(),
        Some(other) => Err(format!("{name} is {}, not a list of strings", kind(other))),
    }
}

/// Positions as integers; `-1`, `null` or missing are gaps; numeric strings are accepted (CSV imports).
fn positions(value: Option<&Value>) -> Result<Vec<Option<i64>>, String> {
    let one = |i: usize, v: &Value| -> Result<Option<i64>, String> {
        match v {
            Value::Null => Ok(None),
            Value::Number(n) => match n.as_i64() {
                Some(p) => Ok(Some(p)),
                None => match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => Ok(Some(f as i64)),
                    Some(f) if f.fract() == 0.0 => Ok(Some(i64::MAX)),
                    _ => Err(format!("commerce:positions[{i}] = {n} is not an integer")),
                },
            },
            Value::String(s) if s.trim().is_empty() => Ok(None),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| format!("commerce:positions[{i}] = {s:?} is not an integer")),
            other => Err(format!(
                "commerce:positions[{i}] is {}, not a number",
                kind(other)
            )),
        }
    };
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().enumerate().map(|(i, v)| one(i, v)).collect(),
        Some(single @ (Value::Number(_) | Value::String(_))) => Ok(vec![one(0, single)?]),
        Some(other) => Err(format!(
            "commerce:positions is {}, not a list of numbers",
            kind(other)
        )),
    }
}

/// The all-store-views label: the alt text of store view `default`, else `dc:title`, else the first alt text
/// (so that an asset with alt texts has a label); the other views' texts are written for their views only.
fn label(labels: &Labels, meta: &AssetMetadata, warnings: &mut Vec<String>) -> Option<String> {
    let default = labels
        .iter()
        .find(|(view, _)| view.is_default())
        .map(|(_, text)| text.clone());
    default
        .or_else(|| {
            single_string(meta.asset.get("dc:title"))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|title| cut_label(title, warnings))
        })
        .or_else(|| labels.values().next().cloned())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
