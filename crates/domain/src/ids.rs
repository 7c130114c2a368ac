//! Identifiers and small values. Each can only be built through `parse`, so holding one proves it valid.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("asset id must look like urn:aaid:aem:<uuid>, got {0:?}")]
    AssetId(String),
    #[error("SKU is empty")]
    EmptySku,
    #[error("SKU is longer than {max} characters", max = Sku::MAX_CHARS)]
    SkuTooLong,
    #[error("SKU contains a control character")]
    SkuControlCharacter,
    #[error("SKU {0:?} is a dot segment, which no URL path can address")]
    SkuDotSegment(String),
    #[error("role {0:?} is not an attribute code (^[a-z][a-z0-9_]*$)")]
    Role(String),
}

/// An AEM asset id, `urn:aaid:aem:<uuid>`: stable across renames and moves.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AssetId(String);

impl AssetId {
    /// The prefix every AEM asset id carries.
    pub const PREFIX: &'static str = "urn:aaid:aem:";

    /// Parses an asset id: the prefix then 1–64 characters of `[0-9A-Za-z-]`.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let rest = raw
            .strip_prefix(Self::PREFIX)
            .ok_or_else(|| IdError::AssetId(raw.chars().take(80).collect()))?;
        let valid = !rest.is_empty()
            && rest.len() <= 64
            && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(IdError::AssetId(raw.chars().take(80).collect()))
        }
    }

    /// The part after `urn:aaid:aem:`.
    pub fn uuid(&self) -> &str {
        &self.0[Self::PREFIX.len()..]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AssetId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<AssetId> for String {
    fn from(value: AssetId) -> Self {
        value.0
    }
}

impl fmt::Display for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A product SKU: trimmed, 1–64 characters, no control characters, not `.` or `..`. Matching is exact; a
/// platform that compares SKUs without case (Magento) keys its products by [`Sku::case_folded`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sku(String);

impl Sku {
    /// Longest SKU accepted, in characters (Magento's limit).
    pub const MAX_CHARS: usize = 64;

    /// Trims surrounding spaces, then refuses empty, over-long or control-character SKUs, and the dot
    /// segments `.` and `..` (a URL path resolves them away: `/products/../media` is `/media`). Never repairs.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let trimmed = raw.trim_matches(|c: char| c == ' ' || c == '\t');
        if trimmed.is_empty() {
            return Err(IdError::EmptySku);
        }
        if trimmed == "." || trimmed == ".." {
            return Err(IdError::SkuDotSegment(trimmed.to_owned()));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(IdError::SkuControlCharacter);
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(IdError::SkuTooLong);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SKU lower-cased, character by character (a character whose lower case is several characters
    /// stays as it is, so the length and validity are kept): one key for every spelling that differs only in
    /// case, for a platform that compares SKUs without case (Magento, through MySQL's `_ci` collations).
    pub fn case_folded(&self) -> Self {
        Self(
            self.0
                .chars()
                .map(|c| {
                    let mut lower = c.to_lowercase();
                    match (lower.next(), lower.next()) {
                        (Some(one), None) => one,
                        _ => c,
                    }
                })
                .collect(),
        )
    }
}

impl TryFrom<String> for Sku {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Sku> for String {
    fn from(value: Sku) -> Self {
        value.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An image role: a commerce attribute code such as `image`, `small_image`, `thumbnail`, `swatch_image`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Role(String);

impl Role {
    /// Trims and lower-cases, then requires `^[a-z][a-z0-9_]*$` (at most 64 characters).
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let role = raw.trim().to_lowercase();
        let mut chars = role.chars();
        let valid = role.len() <= 64
            && chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if valid {
            Ok(Self(role))
        } else {
            Err(IdError::Role(raw.trim().chars().take(80).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Role {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Role> for String {
    fn from(value: Role) -> Self {
        value.0
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What identifies an asset's binary: `dam:sha1` when present, else `repo:version`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ContentId(pub String);

/// Image or video, from `dc:format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaType {
    Image,
    Video,
}

impl MediaType {
    /// `video/*` formats are videos; everything else is an image.
    pub fn from_format(format: Option<&str>) -> Self {
        match format {
            Some(f) if f.trim().to_ascii_lowercase().starts_with("video/") => Self::Video,
            _ => Self::Image,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_id_needs_the_urn_prefix_and_a_uuid() {
        let id = AssetId::parse("urn:aaid:aem:1a034bee-ebda-4787-bad3-f924d0772b75");
        assert_eq!(
            id.map(|i| i.uuid().to_owned()),
            Ok("1a034bee-ebda-4787-bad3-f924d0772b75".into())
        );
        assert!(AssetId::parse("1a034bee").is_err());
        assert!(AssetId::parse("urn:aaid:aem:").is_err());
        assert!(AssetId::parse("urn:aaid:aem:../../etc").is_err());
    }

    #[test]
    fn sku_is_trimmed_and_refused_when_invalid() {
        assert_eq!(
            Sku::parse("  MH01-XS ").map(|s| s.as_str().to_owned()),
            Ok("MH01-XS".into())
        );
        assert_eq!(Sku::parse("   "), Err(IdError::EmptySku));
        assert_eq!(Sku::parse("A\u{0}B"), Err(IdError::SkuControlCharacter));
        assert_eq!(Sku::parse("A\nB"), Err(IdError::SkuControlCharacter));
        assert_eq!(Sku::parse(&"x".repeat(65)), Err(IdError::SkuTooLong));
        assert!(
            Sku::parse(&"é".repeat(64)).is_ok(),
            "the limit counts characters, not bytes"
        );
        assert_eq!(Sku::parse("mh01").ok(), Sku::parse("mh01").ok());
        assert_ne!(
            Sku::parse("mh01").ok(),
            Sku::parse("MH01").ok(),
            "matching is exact"
        );
    }

    #[test]
    fn dot_segments_are_not_skus() {
        assert_eq!(Sku::parse(".."), Err(IdError::SkuDotSegment("..".into())));
        assert_eq!(Sku::parse(" . "), Err(IdError::SkuDotSegment(".".into())));
        assert!(Sku::parse("...").is_ok());
        assert!(Sku::parse(".x").is_ok());
        assert!(
            Sku::parse("../x").is_ok(),
            "one segment once encoded: ..%2Fx"
        );
    }

    #[test]
    fn case_folding_keeps_one_key_per_spelling() -> Result<(), IdError> {
        let folded = |raw: &str| Sku::parse(raw).map(|s| s.case_folded());
        assert_eq!(folded("MH01-XS-Black")?, Sku::parse("mh01-xs-black")?);
        assert_eq!(folded("ÄBC")?, folded("äbc")?);
        // 'İ' lower-cases to two characters: kept, so the length (and the 64-character limit) holds.
        assert_eq!(folded("İ")?.as_str(), "İ");
        let long = "Ä".repeat(Sku::MAX_CHARS);
        assert_eq!(folded(&long)?.as_str().chars().count(), Sku::MAX_CHARS);
        Ok(())
    }

    #[test]
    fn role_is_an_attribute_code() {
        assert_eq!(
            Role::parse(" Thumbnail ").map(|r| r.as_str().to_owned()),
            Ok("thumbnail".into())
        );
        assert!(Role::parse("swatch_image").is_ok());
        assert!(Role::parse("small change").is_err());
        assert!(Role::parse("1image").is_err());
        assert!(Role::parse("").is_err());
    }

    #[test]
    fn media_type_follows_dc_format() {
        assert_eq!(MediaType::from_format(Some("video/mp4")), MediaType::Video);
        assert_eq!(MediaType::from_format(Some("image/png")), MediaType::Image);
        assert_eq!(MediaType::from_format(None), MediaType::Image);
    }
}
