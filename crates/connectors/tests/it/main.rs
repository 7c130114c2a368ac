//! The connectors through their public API, against the sandbox's emulators on 127.0.0.1: where credentials
//! may go (redirects, next links) and the I/O Events key cache.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// The crate is `assetsync-connectors`; the rest of the workspace knows it as `connectors`, and so do these tests.
extern crate assetsync_connectors as connectors;

mod keys;
mod redirects;
