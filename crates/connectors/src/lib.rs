//! The outside world, as clients: the DAM side (the AEM Author API, Adobe I/O Events signature
//! verification) and the commerce sinks. Knows nothing of SQL.
//!
//! Entry points: [`aem::AuthorClient`], [`ioevents::EventVerifier`], [`sink::CommerceSink`].

pub mod aem;
pub mod ioevents;
pub mod sink;
