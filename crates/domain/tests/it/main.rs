//! The one integration-test binary of `assetsync-domain`: every matching rule (DESIGN.md "Matching",
//! reference §3.1 and §5.2) proven through the public API, plus property tests of reconciliation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod events;
mod files;
mod gallery;
mod labels;
mod manual;
mod matching;
mod properties;
mod rules;
mod store_views;
mod support;
mod time;
