//! Emulators of the systems assetsync talks to but that cannot run here, for the demo, the tests and the
//! benchmark. They behave as the reference says the real ones do (signatures, validation, errors).
//!
//! Entry point: [`aem::AemEmulator`] (AEM Author API, delivery renditions, search, and signed Adobe I/O
//! Events delivery to subscribed webhooks).

pub mod aem;
mod delivery;
mod keys;

pub use keys::SigningKeys;
