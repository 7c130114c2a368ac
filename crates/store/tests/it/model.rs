//! A model-based property test of the asset work queue and the event log: random sequences of record / claim /
//! complete / time passing (leases expire, retries fall due) / prune run against a store and against a small
//! in-memory [`Model`], and after every step what can be observed must agree: the outcome of each recorded
//! event (an id is a duplicate until it is pruned), which assets a claim returns and the work it hands out,
//! which completions lose their lease, the statuses of the assets, the queue depths and counters of
//! `backlog()`, and how many rows a prune removes.
//!
//! The model is deterministic where the store's behaviour is: a claim takes the due work in order of when it
//! is due (`run_at`), so among work due at the same time the store may choose; the model checks the choice is
//! one the order allows and follows it.
//!
//! Fencing: a claim's lease value (`lease_until_ms`) is what identifies it, and two claims of one item can
//! hold the same value: a claim finished at `t` (released, the work kept for a newer hint) and another claim
//! taken at the same `t`. A second completion of the first claim is then accepted as the second's (found by
//! this test: record e0 for asset 0, claim, record e1 for asset 0, complete, claim, complete the first claim
//! again, all at one time). A worker completes its claim once, so the steps do the same; a claim whose lease
//! ran out and whose work another claim took is always fenced off, since that claim's lease ends later.

use crate::harness::{Harness, PostgresHarness, SqliteHarness};
use domain::AssetId;
use domain::events::EventKind;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use std::collections::BTreeMap;
use store::prelude::*;
use store::{AssetOutcome, AssetWork, Backlog, NewEvent, Recorded, StoreError, SyncStatus};

const T0: i64 = 1_000_000;
/// Short, so that time passing expires leases often.
const LEASE: i64 = 100;
/// Few assets and few event ids, so that hints coalesce and deliveries repeat.
const ASSETS: u32 = 3;
const EVENT_IDS: u32 = 8;

fn asset(n: u32) -> AssetId {
    AssetId::parse(&format!("urn:aaid:aem:00000000-0000-4000-8000-{n:012}")).unwrap()
}

// ---------------------------------------------------------------------------------------------------------------
// Steps

/// What one delivered event is about.
#[derive(Debug, Clone, Copy)]
enum Hint {
    Changed(u32),
    Deleted(u32),
    /// A type assetsync does not use.
    Unused,
}

/// How a worker's read of an asset ended.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    /// Read: it links nowhere.
    Links,
    /// Failed; re-queued `retry_in` ms from now, or not.
    Failed { retry_in: Option<i64> },
}

#[derive(Debug, Clone)]
enum Step {
    /// One delivery of events (event id, what it is about), received now.
    Record(Vec<(u32, Hint)>),
    Claim {
        limit: i64,
    },
    /// Completes one of the claims handed out and not completed yet (perhaps one whose lease expired, and
    /// perhaps another claim took the work over since).
    Complete {
        pick: Index,
        outcome: Outcome,
    },
    /// Time passes.
    Advance(i64),
    /// Prunes what is older than `age` ms.
    Prune {
        age: i64,
    },
}

fn hint() -> impl Strategy<Value = Hint> {
    prop_oneof![
        4 => (0..ASSETS).prop_map(Hint::Changed),
        1 => (0..ASSETS).prop_map(Hint::Deleted),
        1 => Just(Hint::Unused),
    ]
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        2 => Just(Outcome::Links),
        1 => proptest::option::of(0..=150_i64).prop_map(|retry_in| Outcome::Failed { retry_in }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => proptest::collection::vec((0..EVENT_IDS, hint()), 1..=3).prop_map(Step::Record),
        2 => (1..=3_i64).prop_map(|limit| Step::Claim { limit }),
        3 => (any::<Index>(), outcome()).prop_map(|(pick, outcome)| Step::Complete { pick, outcome }),
        // Within a lease, or past one.
        2 => prop_oneof![0..=20_i64, LEASE + 1..=LEASE + 60].prop_map(Step::Advance),
        1 => (0..=300_i64).prop_map(|age| Step::Prune { age }),
    ]
}

// ---------------------------------------------------------------------------------------------------------------
// The model

/// An asset's queued work item.
#[derive(Debug, Clone)]
struct Work {
    generation: i64,
    deleted: bool,
    run_at: i64,
    attempt: i64,
    /// The lease of the claim that holds it, and which claim that is.
    lease: Option<(i64, usize)>,
}

/// An asset's status row.
#[derive(Debug, Clone)]
struct Asset {
    status: SyncStatus,
    waiting_since: Option<i64>,
    /// Since when it links nowhere (retention).
    unlinked: Option<i64>,
}

#[derive(Debug, Default)]
struct Model {
    now: i64,
    /// Stored event ids, with when each was received.
    events: BTreeMap<String, i64>,
    stored: i64,
    unused: i64,
    work: BTreeMap<u32, Work>,
    assets: BTreeMap<u32, Asset>,
}

impl Model {
    fn record(&mut self, batch: &[(u32, Hint)]) -> Vec<Recorded> {
        let now = self.now;
        batch
            .iter()
            .map(|&(id, hint)| {
                let id = format!("ev-{id}");
                if self.events.contains_key(&id) {
                    return Recorded::Duplicate;
                }
                self.events.insert(id, now);
                self.stored += 1;
                let (n, deleted) = match hint {
                    Hint::Changed(n) => (n, false),
                    Hint::Deleted(n) => (n, true),
                    Hint::Unused => {
                        self.unused += 1;
                        return Recorded::Stored;
                    }
                };
                self.work
                    .entry(n)
                    .and_modify(|w| {
                        w.generation += 1;
                        w.deleted |= deleted;
                        // Queued work keeps its place; a retry waiting for later is brought forward.
                        w.run_at = w.run_at.min(now);
                    })
                    .or_insert(Work {
                        generation: 1,
                        deleted,
                        run_at: now,
                        attempt: 0,
                        lease: None,
                    });
                let asset = self.assets.entry(n).or_insert(Asset {
                    status: SyncStatus::Waiting,
                    waiting_since: None,
                    unlinked: None,
                });
                asset.status = SyncStatus::Waiting;
                asset.waiting_since = asset.waiting_since.or(Some(now));
                Recorded::Stored
            })
            .collect()
    }

    /// The work a claim may take now, with when each is due.
    fn due(&self) -> BTreeMap<u32, i64> {
        self.work
            .iter()
            .filter(|(_, w)| {
                w.run_at <= self.now && w.lease.is_none_or(|(until, _)| until < self.now)
            })
            .map(|(&n, w)| (n, w.run_at))
            .collect()
    }

    /// Leases the claimed assets to claim number `claim`; returns the work handed out.
    fn claim(&mut self, claimed: &[u32], claim: usize) -> Vec<AssetWork> {
        claimed
            .iter()
            .map(|&n| {
                let w = self.work.get_mut(&n).expect("claimed work exists");
                w.attempt += 1;
                w.lease = Some((self.now + LEASE, claim));
                AssetWork {
                    asset_id: asset(n),
                    generation: w.generation,
                    deleted: w.deleted,
                    attempt: w.attempt,
                    missing_once: false,
                    lease_until_ms: self.now + LEASE,
                }
            })
            .collect()
    }

    /// Completes the work claim number `claim` handed out for asset `n`; `false` when its lease was lost.
    fn complete(&mut self, n: u32, generation: i64, claim: usize, outcome: Outcome) -> bool {
        let now = self.now;
        let held = self.work.get(&n).and_then(|w| w.lease).map(|(_, c)| c);
        if held != Some(claim) {
            return false;
        }
        let retry_at = match outcome {
            Outcome::Links => {
                let asset = self
                    .assets
                    .get_mut(&n)
                    .expect("hinted assets have a status");
                asset.status = SyncStatus::Waiting;
                asset.waiting_since = asset.waiting_since.or(Some(now));
                asset.unlinked = asset.unlinked.or(Some(now));
                None
            }
            Outcome::Failed { retry_in } => {
                self.assets
                    .get_mut(&n)
                    .expect("hinted assets have a status")
                    .status = SyncStatus::Failed;
                retry_in.map(|ms| now + ms)
            }
        };
        let w = self.work.get_mut(&n).expect("held work exists");
        match retry_at {
            Some(at) => {
                w.lease = None;
                w.run_at = if w.generation == generation { at } else { now };
            }
            None if w.generation == generation => {
                self.work.remove(&n);
            }
            None => {
                w.lease = None;
                w.attempt = 0;
            }
        }
        let asset = self
            .assets
            .get_mut(&n)
            .expect("hinted assets have a status");
        if matches!(outcome, Outcome::Links) && !self.work.contains_key(&n) {
            asset.status = SyncStatus::Success;
            asset.waiting_since = None;
        }
        true
    }

    /// Removes delivered events received before `before`, and the statuses of settled assets that link
    /// nowhere since before then; returns how many.
    fn prune(&mut self, before: i64) -> u64 {
        let events = self.events.len();
        self.events.retain(|_, received| *received >= before);
        let assets = self.assets.len();
        let work = &self.work;
        self.assets.retain(|n, a| {
            !(a.status == SyncStatus::Success
                && a.unlinked.is_some_and(|since| since < before)
                && !work.contains_key(n))
        });
        u64::try_from(events - self.events.len() + assets - self.assets.len()).unwrap()
    }

    fn backlog(&self) -> Backlog {
        let in_status = |status| {
            let n = self.assets.values().filter(|a| a.status == status).count();
            i64::try_from(n).unwrap()
        };
        Backlog {
            asset_work: i64::try_from(self.work.len()).unwrap(),
            waiting_assets: in_status(SyncStatus::Waiting),
            failed_assets: in_status(SyncStatus::Failed),
            events: self.stored,
            unused_events: self.unused,
            oldest_waiting_ms: self
                .assets
                .values()
                .filter(|a| a.status == SyncStatus::Waiting)
                .filter_map(|a| a.waiting_since)
                .min(),
            ..Backlog::default()
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The property

fn index_of(id: &AssetId) -> u32 {
    (0..ASSETS)
        .find(|&n| asset(n) == *id)
        .expect("an asset of the model")
}

/// Runs the steps against a fresh store of the harness's backend and against the model, comparing after each.
async fn run<H: Harness>(steps: &[Step]) -> Result<(), TestCaseError> {
    run_on(H::fresh().await, steps).await
}

/// Runs the steps against `harness`'s store (an empty one) and against the model.
async fn run_on<H: Harness>(harness: H, steps: &[Step]) -> Result<(), TestCaseError> {
    let store = harness.store();
    let mut model = Model {
        now: T0,
        ..Model::default()
    };
    // Every claim handed out: (claim number, the work).
    let mut handed: Vec<(usize, AssetWork)> = Vec::new();
    let mut claims = 0;
    for (i, step) in steps.iter().enumerate() {
        let now = model.now;
        match step {
            Step::Record(batch) => {
                let events: Vec<NewEvent> = batch
                    .iter()
                    .map(|&(id, hint)| {
                        let (kind, asset_id, event_type) = match hint {
                            Hint::Changed(n) => (
                                EventKind::AssetChanged,
                                Some(asset(n)),
                                "aem.assets.asset.metadata_updated",
                            ),
                            Hint::Deleted(n) => (
                                EventKind::AssetDeleted,
                                Some(asset(n)),
                                "aem.assets.asset.deleted",
                            ),
                            Hint::Unused => (EventKind::Unused, None, "aem.assets.folder.created"),
                        };
                        NewEvent {
                            event_id: format!("ev-{id}"),
                            event_type: event_type.to_owned(),
                            kind,
                            asset_id,
                            received_ms: now,
                            occurred_ms: None,
                        }
                    })
                    .collect();
                let recorded = store.record_events(&events).await.unwrap();
                prop_assert_eq!(recorded, model.record(batch), "step {}: {:?}", i, step);
            }
            Step::Claim { limit } => {
                let due = model.due();
                let work = store.claim_asset_work(now, *limit, LEASE).await.unwrap();
                let taken: Vec<u32> = work.iter().map(|w| index_of(&w.asset_id)).collect();
                let expected = due.len().min(usize::try_from(*limit).unwrap());
                prop_assert_eq!(
                    taken.len(),
                    expected,
                    "step {}: claimed {:?} of due {:?}",
                    i,
                    taken,
                    due
                );
                for n in &taken {
                    prop_assert!(
                        due.contains_key(n),
                        "step {}: claimed {} not due: {:?}",
                        i,
                        n,
                        due
                    );
                }
                // Nothing left behind was due before something taken.
                let latest_taken = taken.iter().map(|n| due[n]).max();
                let earliest_left = due
                    .iter()
                    .filter(|(n, _)| !taken.contains(n))
                    .map(|(_, at)| *at)
                    .min();
                if let (Some(taken_at), Some(left_at)) = (latest_taken, earliest_left) {
                    prop_assert!(
                        taken_at <= left_at,
                        "step {}: claimed {:?} before older work in {:?}",
                        i,
                        taken,
                        due
                    );
                }
                claims += 1;
                let mut expected = model.claim(&taken, claims);
                let mut work = work;
                work.sort_by(|a, b| a.asset_id.cmp(&b.asset_id));
                expected.sort_by(|a, b| a.asset_id.cmp(&b.asset_id));
                prop_assert_eq!(&work, &expected, "step {}", i);
                handed.extend(work.into_iter().map(|w| (claims, w)));
            }
            Step::Complete { pick, outcome } => {
                if handed.is_empty() {
                    continue;
                }
                // A worker completes its claim once (see the module's note on fencing).
                let (claim, work) = handed.remove(pick.index(handed.len()));
                let n = index_of(&work.asset_id);
                let result = store
                    .complete_asset(&work, outcome_of(*outcome, now), now)
                    .await;
                let kept = model.complete(n, work.generation, claim, *outcome);
                match result {
                    Ok(()) => prop_assert!(kept, "step {}: a lost lease completed {:?}", i, work),
                    Err(StoreError::LeaseLost) => {
                        prop_assert!(!kept, "step {}: a held lease was refused {:?}", i, work)
                    }
                    Err(other) => panic!("step {i}: {other}"),
                }
            }
            Step::Advance(ms) => model.now += ms,
            Step::Prune { age } => {
                let removed = store.prune(now - age).await.unwrap();
                prop_assert_eq!(removed, model.prune(now - age), "step {}: {:?}", i, step);
            }
        }
        prop_assert_eq!(
            store.backlog().await.unwrap(),
            model.backlog(),
            "after step {}: {:?}",
            i,
            step
        );
        for n in 0..ASSETS {
            let status = store
                .asset_status(&asset(n))
                .await
                .unwrap()
                .map(|s| s.status);
            prop_assert_eq!(
                status,
                model.assets.get(&n).map(|a| a.status),
                "after step {}: asset {}",
                i,
                n
            );
        }
    }
    Ok(())
}

fn outcome_of(outcome: Outcome, now: i64) -> AssetOutcome {
    match outcome {
        Outcome::Links => AssetOutcome::Links {
            links: Vec::new(),
            eligible: true,
            warnings: Vec::new(),
            note: None,
        },
        Outcome::Failed { retry_in } => AssetOutcome::Failed {
            error: "DAM answered 503".to_owned(),
            retry_at_ms: retry_in.map(|ms| now + ms),
        },
    }
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sqlite_queue_and_log_behave_like_the_model(steps in proptest::collection::vec(step(), 1..=40)) {
        block_on(run::<SqliteHarness>(&steps))?;
    }
}

/// Every case in a schema of its own, all in one database of this test (64 databases would cost more time
/// than the cases).
#[test]
fn postgres_queue_and_log_behave_like_the_model() {
    let database = std::sync::Arc::new(block_on(crate::harness::test_database()));
    proptest!(ProptestConfig::with_cases(64), |(steps in proptest::collection::vec(step(), 1..=40))| {
        block_on(async { run_on(PostgresHarness::in_database(&database).await, &steps).await })?;
    });
}
