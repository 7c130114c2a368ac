//! End-to-end tests: the real `assetsync` binary, spawned with a configuration file, driven over HTTP on
//! 127.0.0.1 against the in-process AEM emulator, which delivers signed I/O Events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod admin_config;
mod admin_oidc;
mod admin_products;
mod admin_status;
mod bench;
mod browser;
mod cli;
mod cluster;
mod config;
mod credentials;
mod faults;
mod fullsync;
mod harness;
mod harness_emulators;
mod harness_http;
mod health;
mod journal;
mod listener;
mod magento;
mod magento_failures;
mod magento_inputs;
mod manual_links;
mod matching;
mod metrics;
mod misconfiguration;
mod openapi;
mod operators;
mod postgres_db;
mod products;
mod raw_http;
mod slow_store;
mod store_views;
mod sync;
mod verify;
mod videos;
mod webhook;
