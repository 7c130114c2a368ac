//! The engine in this process: a temporary SQLite store, the sandbox's AEM emulator as the DAM, a fake commerce
//! sink and a manual clock, so that a test moves the engine's time itself. Outcomes are asserted through the
//! engine's public API and the store; waits are bounded polls on observable state.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// The crate is `assetsync-engine`; the rest of the workspace knows it as `engine`, and so do these tests.
extern crate assetsync_engine as engine;

mod accounts;
mod cluster;
mod coalescing;
mod console;
mod drain;
mod fake_sink;
mod harness;
mod lease;
mod pause;
mod retry;
