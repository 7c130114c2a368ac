//! The outside world, as clients: the DAM side (the AEM Author API, Adobe I/O Events signature
//! verification) and the commerce sinks (the built-in catalog, Adobe Commerce). Knows nothing of SQL.
//!
//! Entry points: [`aem::AuthorClient`], [`ims::TokenProvider`], [`ioevents::EventVerifier`], [`sink::CommerceSink`],
//! [`magento::MagentoSink`].

pub mod aem;
mod hosts;
pub mod http;
pub mod ims;
pub mod ioevents;
pub mod journal;
pub mod magento;
pub mod matcher;
pub mod oauth1;
pub mod sink;
