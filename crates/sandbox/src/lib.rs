//! Emulators of the systems assetsync talks to but that cannot run here, for the demo, the tests and the
//! benchmark. They behave as the reference says the real ones do (signatures, validation, errors).
//!
//! Entry point: [`aem::AemEmulator`] (AEM Author API, delivery renditions, search, and signed Adobe I/O
//! Events delivery to subscribed webhooks); [`commerce::CommerceEmulator`] (Adobe Commerce REST media gallery
//! and product list, OAuth 1.0a signed, with fault injection); [`redirect::RedirectTrap`] (a redirect to
//! another origin that records what reaches it).

pub mod aem;
pub mod commerce;
mod delivery;
mod ims;
mod key_host;
mod keys;
pub mod matcher;
pub mod oidc;
pub mod originals;
pub mod redirect;

pub use delivery::{DeliveryAnswer, PreparedDelivery};
pub use keys::{KeyFailure, SigningKeys};
