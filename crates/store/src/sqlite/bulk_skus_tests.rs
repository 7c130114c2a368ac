//! A batch of SKU outcomes completed with its applied galleries set-based (`skus::complete_batch`) against
//! the same batch completed item by item (`skus::complete_sku_in`): random full-sync pages queue SKU work,
//! claims lease it (and claims go stale as time passes and the work is claimed again), and random batches of
//! outcomes — the same SKU twice, leases lost, products missing, failures, deferrals — complete it, on two
//! databases; every result and every table must agree after each step.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::bulk_tests::{ASSETS, SYNC, asset, database, dump, item, noise, page};
use super::shared::each_fenced;
use super::{bulk, skus};
use crate::{SkuOutcome, SkuWork};
use domain::{AppliedEntry, ContentId, GalleryEntry, MediaType, Sku};
use proptest::prelude::*;
use proptest::sample::Index;
use rusqlite::Connection;

#[derive(Debug, Clone)]
enum Outcome {
    /// The gallery holds these assets.
    Applied(Vec<u8>),
    Missing,
    Failed(bool),
    Deferred,
}

#[derive(Debug, Clone)]
enum Step {
    Page(Vec<(u8, super::bulk_tests::Item)>),
    Noise(u8, u8, u8),
    Claim,
    Complete(Vec<(Index, Outcome)>),
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        6 => prop::collection::btree_set(0..ASSETS, 0..3).prop_map(|a| Outcome::Applied(a.into_iter().collect())),
        1 => Just(Outcome::Missing),
        1 => any::<bool>().prop_map(Outcome::Failed),
        1 => Just(Outcome::Deferred),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => prop::collection::vec((0..ASSETS, item()), 0..6).prop_map(|mut items| {
            let mut seen = std::collections::HashSet::new();
            items.retain(|(n, _)| seen.insert(*n));
            Step::Page(items)
        }),
        1 => (0..8u8, 0..ASSETS, 0..super::bulk_tests::SKUS).prop_map(|(op, a, s)| Step::Noise(op, a, s)),
        2 => Just(Step::Claim),
        3 => prop::collection::vec((any::<Index>(), outcome()), 1..6).prop_map(Step::Complete),
    ]
}

fn entry(n: u8, position: u32) -> AppliedEntry {
    AppliedEntry {
        entry: GalleryEntry {
            asset_id: asset(n),
            roles: Default::default(),
            position,
            label: None,
            labels: Default::default(),
            hidden_in: Default::default(),
            media_type: MediaType::Image,
            video: None,
            content_id: ContentId(format!("c-{n}")),
            hidden: false,
            source: Default::default(),
        },
        remote_id: Some(format!("m-{n}")),
        unknown_store_views: Default::default(),
    }
}

fn claim(conn: &Connection, now: i64) -> Vec<SkuWork> {
    let mut statement = conn
        .prepare(
            "UPDATE sku_work SET lease_until_ms = ?1 + 50, attempt = attempt + 1
             WHERE lease_until_ms IS NULL OR lease_until_ms < ?1
             RETURNING sku, generation, attempt, first_enqueued_ms, lease_until_ms",
        )
        .unwrap();
    let mut claimed = statement
        .query_map([now], |r| {
            Ok(SkuWork {
                sku: Sku::parse(&r.get::<_, String>(0)?).unwrap(),
                generation: r.get(1)?,
                attempt: r.get(2)?,
                first_enqueued_ms: r.get(3)?,
                lease_until_ms: r.get(4)?,
            })
        })
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    claimed.sort_by(|a, b| a.sku.cmp(&b.sku));
    claimed
}

fn outcome_of(outcome: &Outcome, now: i64) -> SkuOutcome {
    match outcome {
        Outcome::Applied(assets) => SkuOutcome::Applied(
            assets
                .iter()
                .zip(1..)
                .map(|(n, position)| entry(*n, position))
                .collect(),
        ),
        Outcome::Missing => SkuOutcome::ProductMissing,
        Outcome::Failed(retry) => SkuOutcome::Failed {
            error: "boom".to_owned(),
            retry_at_ms: retry.then_some(now + 20),
        },
        Outcome::Deferred => SkuOutcome::Deferred {
            retry_at_ms: now + 30,
        },
    }
}

fn shown(results: &[crate::StoreResult<()>]) -> Vec<String> {
    results.iter().map(|r| format!("{r:?}")).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn a_batch_completed_set_based_is_completed_as_item_by_item(steps in prop::collection::vec(step(), 1..16)) {
        let (one_by_one, set_based) = (database(), database());
        let mut claims: Vec<SkuWork> = Vec::new();
        for (n, step) in steps.iter().enumerate() {
            let now = 1_000 + 40 * i64::try_from(n).unwrap();
            match step {
                Step::Page(items) => {
                    let assets = page(items);
                    bulk::store_page(&one_by_one, SYNC, &assets, now).unwrap();
                    bulk::store_page(&set_based, SYNC, &assets, now).unwrap();
                }
                Step::Noise(op, a, s) => {
                    noise(&one_by_one, *op, *a, *s, now);
                    noise(&set_based, *op, *a, *s, now);
                }
                Step::Claim => {
                    let claimed = claim(&one_by_one, now);
                    prop_assert_eq!(&claimed, &claim(&set_based, now));
                    claims.extend(claimed);
                }
                Step::Complete(picks) => {
                    if claims.is_empty() {
                        continue;
                    }
                    let batch: Vec<(SkuWork, SkuOutcome)> = picks
                        .iter()
                        .map(|(pick, outcome)| (pick.get(&claims).clone(), outcome_of(outcome, now)))
                        .collect();
                    let expected = each_fenced(batch.clone(), |(work, outcome)| {
                        skus::complete_sku_in(&one_by_one, &work, outcome, now)
                    });
                    let found = skus::complete_batch(&set_based, batch, now);
                    match (expected, found) {
                        (Ok(expected), Ok(found)) => prop_assert_eq!(shown(&expected), shown(&found)),
                        (expected, found) => prop_assert_eq!(expected.is_err(), found.is_err(), "{:?} / {:?}", expected.err(), found.err()),
                    }
                }
            }
            prop_assert_eq!(dump(&one_by_one), dump(&set_based), "after step {}: {:?}", n, step);
        }
    }
}
