//! The pure domain of assetsync: values that can only hold valid data, the reading of an AEM asset's
//! metadata into desired product links (match by SKU), the gallery a product should have, and the
//! operations that bring an applied gallery to it. No IO, no async, no SQL, no HTTP.
//!
//! Entry points: [`metadata::evaluate`] (asset → links), [`gallery::compute_gallery`] (links of one SKU →
//! gallery), [`gallery::reconcile`] (gallery vs applied → operations), [`events::parse_io_event`].

pub mod accounts;
pub mod config;
pub mod events;
pub mod gallery;
pub mod ids;
pub mod latency;
pub mod matching;
pub mod media_files;
pub mod metadata;
pub mod retry;
pub mod store_views;
pub mod time;
pub mod urls;

pub use gallery::{AppliedEntry, GalleryEntry, Operation, RefusedEntry};
pub use ids::{AssetId, ContentId, IdError, MediaType, Role, Sku};
pub use metadata::{AssetMetadata, DesiredLink, Evaluation, MatchSettings};
pub use store_views::StoreView;
