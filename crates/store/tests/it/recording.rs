//! A store that notes which of its methods were called: [`Recording`] wraps a backend's harness and implements
//! every role trait by delegating to the harness's store. The compiler makes it implement every required method
//! of every role; [`WRAPPED`] lists what it implements, and `listed_methods_are_the_wrapped_ones` holds that
//! list equal to [`store::METHODS`], so the coverage test (`every_storage_method_is_called`, one per backend)
//! fails for a method the suite never calls, whether or not it was listed.
//!
//! A method with a default body (`complete_asset`, `complete_sku`) is not forced by the compiler: the wrapper
//! overrides the two there are, by hand.

use crate::harness::Harness;
use domain::config::{FieldChange, IntegrationConfig};
use domain::gallery::HandmadeRecord;
use domain::{AppliedEntry, AssetId, DesiredLink, ManualLink, Sku};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
#[allow(unused_imports)]
use store::prelude::*;
use store::{
    AssetEvent, AssetListQuery, AssetOutcome, AssetPage, AssetStatus, AssetWork, Backlog,
    BulkAsset, ConfigChange, ConfigFollowUps, DeadLetter, FeedCursor, FullSync, FullSyncPhase,
    GalleryChanges, HeldLease, NewEvent, ProcessReport, ProductCall, ProductCallOutcome,
    ProductChange, ProductEventRecorded, ProductStatus, SkuOutcome, SkuState, SkuWork, StoreResult,
};

/// The names of the methods called, shared by every store one coverage run opens.
#[derive(Clone, Default)]
pub(crate) struct Calls(Arc<Mutex<BTreeSet<&'static str>>>);

impl Calls {
    fn note(&self, method: &'static str) {
        self.0.lock().unwrap().insert(method);
    }

    /// Every method of `methods` (by trait) that was never called, as `Trait::method`.
    pub(crate) fn never_called(&self, methods: &[(&str, &[&str])]) -> Vec<String> {
        let called = self.0.lock().unwrap();
        methods
            .iter()
            .flat_map(|(role, names)| names.iter().map(move |name| (role, name)))
            .filter(|(_, name)| !called.contains(*name))
            .map(|(role, name)| format!("{role}::{name}"))
            .collect()
    }
}

/// A backend's harness whose store notes every method called on it in [`Calls`].
pub(crate) struct Recording<H> {
    inner: H,
    calls: Calls,
}

impl<H: Harness> Recording<H> {
    /// Wraps a harness, noting its calls in `calls` (shared with other recordings).
    pub(crate) fn over(inner: H, calls: Calls) -> Self {
        Self { inner, calls }
    }

    fn note(&self, method: &'static str) {
        self.calls.note(method);
    }
}

impl<H: Harness + Sync + 'static> Harness for Recording<H> {
    type Store = Self;

    async fn fresh() -> Self {
        Self::over(H::fresh().await, Calls::default())
    }

    fn store(&self) -> &Self {
        self
    }

    async fn reopen(self) -> Self {
        let Self { inner, calls } = self;
        Self::over(inner.reopen().await, calls)
    }
}

/// Implements each role trait for [`Recording`]: every method notes its name and delegates; [`WRAPPED`] lists
/// the names by trait.
macro_rules! recording {
    ($($role:ident {
        $(fn $method:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty;)*
    })*) => {
        $(
            #[async_trait::async_trait]
            impl<H: Harness + Sync + 'static> store::$role for Recording<H> {
                $(
                    async fn $method(&self $(, $arg: $ty)*) -> $ret {
                        self.note(stringify!($method));
                        store::$role::$method(self.inner.store() $(, $arg)*).await
                    }
                )*
            }
        )*

        /// The methods [`Recording`] implements, by trait, in the order of [`store::METHODS`].
        pub(crate) const WRAPPED: &[(&str, &[&str])] =
            &[$((stringify!($role), &[$(stringify!($method)),*])),*];
    };
}

recording! {
    EventLog {
        fn record_events(&self, events: &[NewEvent]) -> StoreResult<Vec<store::Recorded>>;
        fn record_product_event(
            &self,
            event: &NewEvent,
            change: &ProductChange,
            product_call: Option<&serde_json::Value>,
        ) -> StoreResult<ProductEventRecorded>;
        fn journal_position(&self) -> StoreResult<Option<String>>;
        fn set_journal_position(&self, position: &str) -> StoreResult<()>;
    }
    AssetQueue {
        fn claim_asset_work(&self, now_ms: i64, limit: i64, lease_ms: i64)
            -> StoreResult<Vec<AssetWork>>;
        fn complete_asset(&self, work: &AssetWork, outcome: AssetOutcome, now_ms: i64)
            -> StoreResult<()>;
        fn complete_assets(&self, items: Vec<(AssetWork, AssetOutcome)>, now_ms: i64)
            -> StoreResult<Vec<StoreResult<()>>>;
        fn requeue_stalest_assets(&self, limit: i64, now_ms: i64) -> StoreResult<u64>;
        fn asset_status(&self, asset_id: &AssetId) -> StoreResult<Option<AssetStatus>>;
        fn asset_claims(&self, asset_id: &AssetId) -> StoreResult<Vec<DesiredLink>>;
        fn all_claims(&self) -> StoreResult<Vec<DesiredLink>>;
        fn list_assets(&self, query: &AssetListQuery) -> StoreResult<AssetPage>;
        fn asset_history(&self, asset_id: &AssetId, limit: i64) -> StoreResult<Vec<AssetEvent>>;
    }
    GalleryQueue {
        fn claim_sku_work(&self, now_ms: i64, limit: i64, lease_ms: i64)
            -> StoreResult<Vec<SkuWork>>;
        fn sku_state(&self, sku: &Sku) -> StoreResult<SkuState>;
        fn complete_sku(&self, work: &SkuWork, outcome: SkuOutcome, now_ms: i64) -> StoreResult<()>;
        fn complete_skus(&self, items: Vec<(SkuWork, SkuOutcome)>, now_ms: i64)
            -> StoreResult<Vec<StoreResult<()>>>;
        fn forget_applied(&self, sku: &Sku, asset_id: &AssetId, now_ms: i64) -> StoreResult<()>;
        fn requeue_galleries(&self, now_ms: i64) -> StoreResult<u64>;
    }
    LeaseKeeper {
        fn renew_leases(&self, held: &[HeldLease], until_ms: i64) -> StoreResult<Vec<bool>>;
        fn release_all_leases(&self) -> StoreResult<()>;
    }
    Catalog {
        fn upsert_product(&self, sku: &Sku, now_ms: i64) -> StoreResult<bool>;
        fn upsert_products(&self, skus: &[Sku], now_ms: i64) -> StoreResult<Vec<Sku>>;
        fn add_products(
            &self,
            skus: &[Sku],
            product_call: Option<&serde_json::Value>,
            now_ms: i64,
        ) -> StoreResult<Vec<Sku>>;
        fn remove_product(&self, sku: &Sku, now_ms: i64) -> StoreResult<bool>;
        fn add_links(&self, links: &[DesiredLink], now_ms: i64) -> StoreResult<()>;
        fn all_galleries(&self) -> StoreResult<Vec<(Sku, Vec<AppliedEntry>)>>;
        fn gallery(&self, sku: &Sku) -> StoreResult<Option<Vec<AppliedEntry>>>;
        fn product_status(&self, sku: &Sku) -> StoreResult<Option<ProductStatus>>;
        fn products_page(&self, prefix: &str, after: Option<&Sku>, limit: i64)
            -> StoreResult<Vec<Sku>>;
    }
    ProductCalls {
        fn claim_product_calls(&self, now_ms: i64, limit: i64, lease_ms: i64)
            -> StoreResult<Vec<ProductCall>>;
        fn complete_product_call(&self, call: &ProductCall, outcome: ProductCallOutcome, now_ms: i64)
            -> StoreResult<()>;
    }
    Configuration {
        fn integration_config(&self) -> StoreResult<Option<IntegrationConfig>>;
        fn save_integration_config(
            &self,
            config: &IntegrationConfig,
            changes: &[FieldChange],
            now_ms: i64,
        ) -> StoreResult<()>;
        fn save_config_with_follow_ups(
            &self,
            config: &IntegrationConfig,
            changes: &[FieldChange],
            follow_ups: &ConfigFollowUps,
            now_ms: i64,
        ) -> StoreResult<Option<i64>>;
        fn config_history(&self, limit: i64) -> StoreResult<Vec<ConfigChange>>;
    }
    FullSyncs {
        fn request_full_sync(&self, reason: &str, now_ms: i64) -> StoreResult<i64>;
        fn begin_full_sync(&self, now_ms: i64) -> StoreResult<Option<FullSync>>;
        fn full_sync(&self, id: i64) -> StoreResult<Option<FullSync>>;
        fn store_full_sync_page(
            &self,
            id: i64,
            assets: &[BulkAsset],
            next_cursor: Option<&str>,
            total: i64,
            read_ms: i64,
            now_ms: i64,
        ) -> StoreResult<()>;
        fn finish_full_sync_assets(&self, id: i64, now_ms: i64) -> StoreResult<u64>;
        fn store_full_sync_products(
            &self,
            id: i64,
            skus: &[Sku],
            next_cursor: Option<&str>,
            product_call: Option<&serde_json::Value>,
            now_ms: i64,
        ) -> StoreResult<Vec<Sku>>;
        fn set_full_sync_phase(&self, id: i64, phase: FullSyncPhase) -> StoreResult<()>;
        fn bulk_sku_work(&self) -> StoreResult<i64>;
        fn complete_full_sync(&self, id: i64, error: Option<&str>, now_ms: i64) -> StoreResult<()>;
    }
    HandmadeEntries {
        fn handmade_records(&self, sku: &Sku) -> StoreResult<Vec<HandmadeRecord>>;
        fn remember_handmade(&self, sku: &Sku, record: &HandmadeRecord) -> StoreResult<()>;
        fn forget_handmade(&self, sku: &Sku, entry_id: &str) -> StoreResult<()>;
    }
    ManualLinks {
        fn put_manual_link(&self, link: &ManualLink, now_ms: i64) -> StoreResult<bool>;
        fn remove_manual_link(&self, sku: &Sku, asset_id: &AssetId, now_ms: i64)
            -> StoreResult<bool>;
        fn manual_links(&self, sku: &Sku) -> StoreResult<Vec<ManualLink>>;
        fn manual_links_of_asset(&self, asset_id: &AssetId) -> StoreResult<Vec<ManualLink>>;
    }
    DeadLetters {
        fn dead_letters(&self) -> StoreResult<Vec<DeadLetter>>;
        fn replay_dead_letters(&self, id: Option<i64>, now_ms: i64) -> StoreResult<u64>;
    }
    Maintenance {
        fn prune(&self, before_ms: i64) -> StoreResult<u64>;
        fn database_bytes(&self) -> StoreResult<i64>;
        fn backlog(&self) -> StoreResult<Backlog>;
        fn sync_latencies(&self) -> StoreResult<Vec<i64>>;
    }
    Coordination {
        fn exclusive(&self) -> bool;
        fn try_lead(&self, duty: store::Duty) -> StoreResult<Option<store::Leadership>>;
        fn wake_ups(&self)
            -> StoreResult<Option<tokio::sync::mpsc::Receiver<store::WakeUp>>>;
    }
    Accounts {
        fn add_user(&self, user: &store::UserRecord) -> StoreResult<bool>;
        fn users(&self) -> StoreResult<Vec<store::UserRecord>>;
        fn user(&self, username: &domain::accounts::Username)
            -> StoreResult<Option<store::UserRecord>>;
        fn remove_user(&self, username: &domain::accounts::Username) -> StoreResult<bool>;
        fn create_session(&self, session: &store::NewSession) -> StoreResult<()>;
        fn session(&self, id_hash: &str, now_ms: i64, idle_ms: i64)
            -> StoreResult<Option<store::SessionRecord>>;
        fn delete_session(&self, id_hash: &str) -> StoreResult<bool>;
        fn note_failed_sign_in(&self, keys: &[String], now_ms: i64) -> StoreResult<()>;
        fn failed_sign_ins(&self, keys: &[String], since_ms: i64) -> StoreResult<i64>;
        fn clear_failed_sign_ins(&self, key: &str) -> StoreResult<()>;
    }
    Cluster {
        fn gallery_feed_position(&self) -> StoreResult<FeedCursor>;
        fn galleries_changed_since(&self, cursor: &FeedCursor) -> StoreResult<GalleryChanges>;
        fn config_version(&self) -> StoreResult<i64>;
        fn publish_process_report(&self, report: &ProcessReport, forget_before_ms: i64)
            -> StoreResult<()>;
        fn process_reports(&self, since_ms: i64) -> StoreResult<Vec<ProcessReport>>;
    }
}

/// The list the suite is checked against names exactly the methods the wrapper implements: a method added to a
/// trait (the wrapper must implement it) and not to `store::METHODS`, or the other way round, fails here.
#[test]
fn listed_methods_are_the_wrapped_ones() {
    let names = |table: &[(&str, &[&str])]| -> Vec<(String, Vec<String>)> {
        table
            .iter()
            .map(|(role, methods)| {
                let mut methods: Vec<String> = methods.iter().map(|m| (*m).to_owned()).collect();
                methods.sort();
                ((*role).to_owned(), methods)
            })
            .collect()
    };
    assert_eq!(names(store::METHODS), names(WRAPPED));
}
