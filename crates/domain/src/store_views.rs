//! Store views: the alt text of an asset per store view (`commerce:altTextStoreViews` /
//! `commerce:altTextValues`, index-aligned, as the reference writes them since v1.3.6) and the store views an
//! asset is hidden in (`commerce:hiddenStoreViews` by default: a list of store view codes).
//!
//! A code is compared without case and trimmed; a row that cannot be used (no code, a code Magento would refuse,
//! no text, a code given twice) is dropped with a warning on the asset, never failing it.

use crate::metadata::{AssetMetadata, MAX_LABEL_CHARS};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The metadata property listing the store views an asset is hidden in, unless configured otherwise (Adobe has
/// not published the name of its own).
pub const DEFAULT_HIDDEN_PROPERTY: &str = "commerce:hiddenStoreViews";

/// A store view code as Magento accepts it (`^[a-z][a-z0-9_]*$`, at most 32 characters), lower-cased:
/// Magento compares codes without case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StoreView(String);

/// Why a store view code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreViewError {
    #[error("store view code is empty")]
    Empty,
    #[error("store view code {0:?} is longer than 32 characters")]
    TooLong(String),
    #[error(
        "store view code {0:?} is not a store code (a letter, then letters, digits or underscores)"
    )]
    Invalid(String),
}

impl StoreView {
    /// The code of Magento's default store view.
    pub const DEFAULT: &'static str = "default";
    /// Longest code Magento stores.
    pub const MAX_CHARS: usize = 32;

    /// Trims and lower-cases `raw`, then checks it is a store code.
    pub fn parse(raw: &str) -> Result<Self, StoreViewError> {
        let code = raw.trim().to_ascii_lowercase();
        if code.is_empty() {
            return Err(StoreViewError::Empty);
        }
        if code.chars().count() > Self::MAX_CHARS {
            return Err(StoreViewError::TooLong(code));
        }
        let mut chars = code.chars();
        let first_is_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        if !first_is_letter
            || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(StoreViewError::Invalid(code));
        }
        Ok(Self(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is Magento's default store view.
    pub fn is_default(&self) -> bool {
        self.0 == Self::DEFAULT
    }
}

impl TryFrom<String> for StoreView {
    type Error = StoreViewError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<StoreView> for String {
    fn from(value: StoreView) -> Self {
        value.0
    }
}

impl fmt::Display for StoreView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An asset's alt texts by store view, default view included.
pub type Labels = BTreeMap<StoreView, String>;

/// Reads the index-aligned alt text lists into a map. Rows without a usable code or text are dropped with a
/// warning; a text longer than [`MAX_LABEL_CHARS`] is cut (with a warning), as the all-store-views label is;
/// a code given twice keeps its first text. Lists that are not lists of strings are a broken contract.
pub fn read_labels(meta: &AssetMetadata, warnings: &mut Vec<String>) -> Result<Labels, String> {
    const VIEWS: &str = "commerce:altTextStoreViews";
    const VALUES: &str = "commerce:altTextValues";
    let views = strings(meta.asset.get(VIEWS), VIEWS)?;
    let values = strings(meta.asset.get(VALUES), VALUES)?;
    if views.len() != values.len() {
        warnings.push(format!(
            "{VIEWS} has {} rows and {VALUES} {}: the rows without a partner are dropped",
            views.len(),
            values.len()
        ));
    }
    let mut labels = Labels::new();
    for (index, (view, value)) in views.iter().zip(values.iter()).enumerate() {
        let text = value.as_deref().map(str::trim).unwrap_or("");
        if text.is_empty() {
            // No text for this view: it inherits the all-store-views label, as in the reference.
            continue;
        }
        let view = match StoreView::parse(view.as_deref().unwrap_or("")) {
            Ok(view) => view,
            Err(e) => {
                warnings.push(format!("{VIEWS}[{index}]: {e}; its alt text is dropped"));
                continue;
            }
        };
        if labels.contains_key(&view) {
            warnings.push(format!(
                "{VIEWS}[{index}]: store view {view} is given twice; the first alt text is kept"
            ));
            continue;
        }
        labels.insert(view, cut_label(text, warnings));
    }
    Ok(labels)
}

/// `text` cut to [`MAX_LABEL_CHARS`] characters, with a warning when it was longer.
pub(crate) fn cut_label(text: &str, warnings: &mut Vec<String>) -> String {
    if text.chars().count() > MAX_LABEL_CHARS {
        warnings.push(format!(
            "label is longer than {MAX_LABEL_CHARS} characters; cut"
        ));
        text.chars().take(MAX_LABEL_CHARS).collect()
    } else {
        text.to_owned()
    }
}

/// The store views listed in `property` (a list of codes, or one code): the asset is hidden there. Unusable
/// codes are dropped with a warning; anything but strings breaks the contract.
pub fn read_hidden(
    meta: &AssetMetadata,
    property: &str,
    warnings: &mut Vec<String>,
) -> Result<BTreeSet<StoreView>, String> {
    let mut hidden = BTreeSet::new();
    for (index, code) in strings(meta.asset.get(property), property)?
        .iter()
        .enumerate()
    {
        let Some(code) = code.as_deref() else {
            continue;
        };
        match StoreView::parse(code) {
            Ok(view) => {
                hidden.insert(view);
            }
            Err(e) => warnings.push(format!("{property}[{index}]: {e}; ignored")),
        }
    }
    Ok(hidden)
}

/// A list of strings: a single string counts as one item; `null` items are kept as gaps; missing = empty.
fn strings(value: Option<&Value>, name: &str) -> Result<Vec<Option<String>>, String> {
    crate::metadata::string_list(value, name)
}
