//! The matching rules beside match by SKU: filename rules (regular expressions over `repo:name`) and the
//! replies of a custom matcher (reference §6.2, §6.3) read into desired links. Whatever the rule, an asset
//! must first be eligible ([`ineligibility`]); the label, media type, content id and modify date of every link
//! come from the asset's metadata ([`LinkFacts`]).

use crate::ids::{AssetId, MediaType, Role, Sku};
use crate::metadata::{
    AssetMetadata, DesiredLink, Evaluation, LinkFacts, MAX_POSITION, ineligibility,
};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;

/// Longest pattern accepted, in bytes.
pub const MAX_PATTERN_BYTES: usize = 1_000;
/// Most filename rules accepted.
pub const MAX_FILENAME_RULES: usize = 50;

/// One compiled filename rule: a regular expression with a named group `sku` and optional `position` and
/// `role` groups.
#[derive(Clone)]
struct FilenameRule {
    pattern: String,
    regex: Regex,
}

/// An ordered list of compiled filename rules; the first that matches an asset's file name wins. It can only
/// be built from valid patterns ([`FilenameRules::parse`]).
#[derive(Clone, Default)]
pub struct FilenameRules(Vec<FilenameRule>);

impl FilenameRules {
    /// Compiles the patterns; the error names the first bad one (by index) and the regex error.
    pub fn parse(patterns: &[String]) -> Result<Self, String> {
        if patterns.len() > MAX_FILENAME_RULES {
            return Err(format!("at most {MAX_FILENAME_RULES} rules"));
        }
        patterns
            .iter()
            .enumerate()
            .map(|(index, pattern)| {
                if pattern.len() > MAX_PATTERN_BYTES {
                    return Err(format!(
                        "rule {index} is longer than {MAX_PATTERN_BYTES} bytes"
                    ));
                }
                let regex = Regex::new(pattern)
                    .map_err(|e| format!("rule {index} is not a valid regular expression: {e}"))?;
                if !regex.capture_names().flatten().any(|name| name == "sku") {
                    return Err(format!(
                        "rule {index} has no named group `sku` (write (?P<sku>...))"
                    ));
                }
                Ok(FilenameRule {
                    pattern: pattern.clone(),
                    regex,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// The patterns, in order.
    pub fn patterns(&self) -> Vec<String> {
        self.0.iter().map(|rule| rule.pattern.clone()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl PartialEq for FilenameRules {
    fn eq(&self, other: &Self) -> bool {
        self.patterns() == other.patterns()
    }
}

impl Eq for FilenameRules {}

impl fmt::Debug for FilenameRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.patterns()).finish()
    }
}

impl Serialize for FilenameRules {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.patterns().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for FilenameRules {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let patterns = Vec::<String>::deserialize(deserializer)?;
        Self::parse(&patterns).map_err(serde::de::Error::custom)
    }
}

/// What a filename rule read from a file name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilenameMatch {
    /// Index of the rule that matched (the first that did).
    pub rule: usize,
    pub sku: Sku,
    pub position: Option<u32>,
    pub roles: BTreeSet<Role>,
}

/// Reads a file name with the rules: `Ok(None)` when no rule matches. The `role` group may hold several roles
/// separated by `;` or `,`; without roles, position 1 gets `default_roles`.
pub fn match_filename(
    name: &str,
    rules: &FilenameRules,
    default_roles: &BTreeSet<Role>,
) -> Result<Option<FilenameMatch>, String> {
    let Some((index, captures)) = rules
        .0
        .iter()
        .enumerate()
        .find_map(|(index, rule)| rule.regex.captures(name).map(|c| (index, c)))
    else {
        return Ok(None);
    };
    let group = |name: &str| {
        captures
            .name(name)
            .map(|m| m.as_str().trim())
            .filter(|s| !s.is_empty())
    };
    let raw_sku = group("sku").unwrap_or("");
    let sku = Sku::parse(raw_sku)
        .map_err(|e| format!("rule {index} read the SKU {raw_sku:?} from {name:?}: {e}"))?;
    let position = group("position")
        .map(|raw| {
            raw.parse::<u32>()
                .ok()
                .filter(|p| *p <= MAX_POSITION)
                .ok_or_else(|| {
                    format!("rule {index} read the position {raw:?} from {name:?}: not a number from 0 to {MAX_POSITION}")
                })
        })
        .transpose()?;
    let mut roles = BTreeSet::new();
    for raw in group("role").unwrap_or("").split([';', ',']) {
        if raw.trim().is_empty() {
            continue;
        }
        roles.insert(
            Role::parse(raw)
                .map_err(|e| format!("rule {index} read the role {raw:?} from {name:?}: {e}"))?,
        );
    }
    if roles.is_empty() && position == Some(1) {
        roles.clone_from(default_roles);
    }
    Ok(Some(FilenameMatch {
        rule: index,
        sku,
        position,
        roles,
    }))
}

/// Filename matching: an eligible asset is linked to the product its file name (`repo:name`) names; an asset
/// whose name matches no rule is linked to nothing.
pub fn evaluate_filename(
    meta: &AssetMetadata,
    rules: &FilenameRules,
    default_roles: &BTreeSet<Role>,
) -> Evaluation {
    if let Some(reason) = ineligibility(meta) {
        return Evaluation::NotEligible { reason };
    }
    let mut warnings = Vec::new();
    let result = LinkFacts::read(meta, &mut warnings).and_then(|facts| {
        let name = meta.repo_str("repo:name").unwrap_or("");
        Ok(match match_filename(name, rules, default_roles)? {
            Some(found) => vec![facts.link(&meta.asset_id, found.sku, found.roles, found.position)],
            None => {
                warnings.push(format!("file name {name:?} matches no filename rule"));
                Vec::new()
            }
        })
    });
    match result {
        Ok(links) => Evaluation::Eligible { links, warnings },
        Err(reason) => Evaluation::Invalid { reason },
    }
}

/// A custom matcher's reply, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomReply<T> {
    /// `skip: true`: nothing is written for this asset or product.
    Skip,
    /// The matches, with warnings for entries that were dropped.
    Matches { matches: T, warnings: Vec<String> },
}

#[derive(Deserialize)]
struct AssetToProductBody {
    asset_id: Option<String>,
    #[serde(default)]
    product_matches: Vec<Value>,
    #[serde(default)]
    skip: Option<bool>,
}

#[derive(Deserialize)]
struct ProductToAssetBody {
    product_sku: Option<String>,
    #[serde(default)]
    asset_matches: Vec<Value>,
    #[serde(default)]
    skip: Option<bool>,
}

/// Reads an `asset-to-product` reply (§6.2) for an eligible asset: its full, authoritative list of links.
/// A body that does not parse, or that answers for another asset, is an error (nothing is unlinked).
pub fn read_asset_to_product(
    meta: &AssetMetadata,
    body: &[u8],
) -> Result<CustomReply<Vec<DesiredLink>>, String> {
    let reply: AssetToProductBody = serde_json::from_slice(body)
        .map_err(|e| format!("asset-to-product reply is not the documented JSON: {e}"))?;
    if let Some(echo) = &reply.asset_id
        && echo != meta.asset_id.as_str()
    {
        return Err(format!(
            "asset-to-product answered for {echo:?}, not {}",
            meta.asset_id
        ));
    }
    if reply.skip == Some(true) {
        return Ok(CustomReply::Skip);
    }
    let mut warnings = Vec::new();
    let facts = LinkFacts::read(meta, &mut warnings)?;
    let mut links: Vec<DesiredLink> = Vec::new();
    for (index, item) in reply.product_matches.iter().enumerate() {
        let at = format!("product_matches[{index}]");
        let sku = Sku::parse(str_field(item, "product_sku", &at)?)
            .map_err(|e| format!("{at}.product_sku: {e}"))?;
        let roles = roles_field(item, &at, &mut warnings)?;
        let position = position_field(item, &at)?;
        match links.iter_mut().find(|l| l.sku == sku) {
            Some(existing) => existing.roles.extend(roles),
            None => links.push(facts.link(&meta.asset_id, sku, roles, position)),
        }
    }
    Ok(CustomReply::Matches {
        matches: links,
        warnings,
    })
}

/// One asset a `product-to-asset` reply links to the product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssetMatch {
    pub asset_id: AssetId,
    pub roles: BTreeSet<Role>,
    pub position: Option<u32>,
    pub media_type: Option<MediaType>,
}

impl AssetMatch {
    /// The link this match asks for, with the facts read from the asset's metadata (`asset_format`, when
    /// given, decides the media type).
    pub fn link(&self, sku: &Sku, facts: &LinkFacts) -> DesiredLink {
        let mut link = facts.link(
            &self.asset_id,
            sku.clone(),
            self.roles.clone(),
            self.position,
        );
        if let Some(media_type) = self.media_type {
            link.set_media_type(media_type, &facts.video);
        }
        link
    }
}

/// Reads a `product-to-asset` reply (§6.3) for `sku`.
pub fn read_product_to_asset(
    sku: &Sku,
    body: &[u8],
) -> Result<CustomReply<Vec<AssetMatch>>, String> {
    let reply: ProductToAssetBody = serde_json::from_slice(body)
        .map_err(|e| format!("product-to-asset reply is not the documented JSON: {e}"))?;
    if let Some(echo) = &reply.product_sku
        && echo != sku.as_str()
    {
        return Err(format!("product-to-asset answered for {echo:?}, not {sku}"));
    }
    if reply.skip == Some(true) {
        return Ok(CustomReply::Skip);
    }
    let mut warnings = Vec::new();
    let mut matches: Vec<AssetMatch> = Vec::new();
    for (index, item) in reply.asset_matches.iter().enumerate() {
        let at = format!("asset_matches[{index}]");
        let asset_id = AssetId::parse(str_field(item, "asset_id", &at)?)
            .map_err(|e| format!("{at}.asset_id: {e}"))?;
        let roles = roles_field(item, &at, &mut warnings)?;
        let position = position_field(item, &at)?;
        let media_type = match item.get("asset_format") {
            None | Some(Value::Null) => None,
            Some(Value::String(f)) if f.eq_ignore_ascii_case("image") => Some(MediaType::Image),
            Some(Value::String(f)) if f.eq_ignore_ascii_case("video") => Some(MediaType::Video),
            Some(other) => {
                return Err(format!(
                    "{at}.asset_format is {other}, not \"image\" or \"video\""
                ));
            }
        };
        match matches.iter_mut().find(|m| m.asset_id == asset_id) {
            Some(existing) => existing.roles.extend(roles),
            None => matches.push(AssetMatch {
                asset_id,
                roles,
                position,
                media_type,
            }),
        }
    }
    Ok(CustomReply::Matches { matches, warnings })
}

fn str_field<'a>(item: &'a Value, field: &str, at: &str) -> Result<&'a str, String> {
    item.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{at}.{field} is missing or not a string"))
}

/// `asset_roles`: a list of role names (missing = none); an invalid role is dropped with a warning.
fn roles_field(
    item: &Value,
    at: &str,
    warnings: &mut Vec<String>,
) -> Result<BTreeSet<Role>, String> {
    let raw = match item.get("asset_roles") {
        None | Some(Value::Null) => return Ok(BTreeSet::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(format!("{at}.asset_roles is not a list of strings")),
    };
    let mut roles = BTreeSet::new();
    for (index, role) in raw.iter().enumerate() {
        let role = role
            .as_str()
            .ok_or_else(|| format!("{at}.asset_roles[{index}] is not a string"))?;
        match Role::parse(role) {
            Ok(role) => {
                roles.insert(role);
            }
            Err(e) => warnings.push(format!("{at}.asset_roles[{index}]: {e}; dropped")),
        }
    }
    Ok(roles)
}

/// `asset_position`: a number, or (the June 2025 sample) a list holding one number; missing = unpositioned.
fn position_field(item: &Value, at: &str) -> Result<Option<u32>, String> {
    let value = match item.get("asset_position") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) if items.len() == 1 => &items[0],
        Some(other) => other,
    };
    value
        .as_u64()
        .and_then(|p| u32::try_from(p).ok())
        .filter(|p| *p <= MAX_POSITION)
        .map(Some)
        .ok_or_else(|| {
            format!("{at}.asset_position is {value}, not a number from 0 to {MAX_POSITION}")
        })
}
