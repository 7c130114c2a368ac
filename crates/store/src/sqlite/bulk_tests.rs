//! The set-based page store (`bulk::store_page`) against the asset-by-asset one (`fullsync::store_bulk_asset`):
//! random pages over a few assets and SKUs, between random changes of the state around them (work queued, live
//! SKU work, refusals, statuses, pending marks cleared), run on two databases; after every step every table
//! the page touches must hold the same rows.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{bulk, fullsync, migrate_in};
use crate::BulkAsset;
use domain::{AssetId, ContentId, DesiredLink, MediaType, Role, Sku};
use proptest::prelude::*;
use rusqlite::Connection;
use rusqlite::types::Value;

pub(super) const ASSETS: u8 = 6;
pub(super) const SKUS: u8 = 4;
pub(super) const SYNC: i64 = 7;

pub(super) fn asset(n: u8) -> AssetId {
    AssetId::parse(&format!("urn:aaid:aem:00000000-0000-4000-8000-{n:012}")).unwrap()
}

fn link(asset_n: u8, sku: u8, variant: u8) -> DesiredLink {
    DesiredLink {
        asset_id: asset(asset_n),
        sku: Sku::parse(&format!("SKU-{sku}")).unwrap(),
        roles: if variant == 1 {
            [Role::parse("image").unwrap()].into_iter().collect()
        } else {
            Default::default()
        },
        position: (variant == 2).then_some(1),
        label: None,
        labels: Default::default(),
        hidden_in: Default::default(),
        media_type: MediaType::Image,
        video: None,
        content_id: ContentId(format!("c-{asset_n}")),
        modified_ms: 0,
    }
}

#[derive(Debug, Clone)]
pub(super) enum Item {
    Links {
        links: Vec<(u8, u8)>,
        eligible: bool,
        warned: bool,
    },
    Invalid,
}

#[derive(Debug, Clone)]
enum Step {
    Page(Vec<(u8, Item)>),
    /// Raw changes of the state around the page, the same on both databases.
    Noise(u8, u8, u8),
}

pub(super) fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        4 => (prop::collection::vec((0..SKUS, 0..3u8), 0..4), any::<bool>(), any::<bool>())
            .prop_map(|(links, eligible, warned)| Item::Links { links, eligible, warned }),
        1 => Just(Item::Invalid),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => prop::collection::vec((0..ASSETS, item()), 0..6).prop_map(|mut items| {
            let mut seen = std::collections::HashSet::new();
            items.retain(|(n, _)| seen.insert(*n));
            Step::Page(items)
        }),
        1 => (0..8u8, 0..ASSETS, 0..SKUS).prop_map(|(op, a, s)| Step::Noise(op, a, s)),
    ]
}

pub(super) fn page(items: &[(u8, Item)]) -> Vec<BulkAsset> {
    items
        .iter()
        .map(|(n, item)| match item {
            Item::Links {
                links,
                eligible,
                warned,
            } => BulkAsset::Links {
                asset_id: asset(*n),
                links: links.iter().map(|(s, v)| link(*n, *s, *v)).collect(),
                eligible: *eligible,
                warnings: if *warned {
                    vec![format!("warning {n}")]
                } else {
                    Vec::new()
                },
            },
            Item::Invalid => BulkAsset::Invalid {
                asset_id: asset(*n),
                error: format!("bad {n}"),
            },
        })
        .collect()
}

pub(super) fn noise(conn: &Connection, op: u8, a: u8, s: u8, now: i64) {
    let (a, s) = (asset(a).as_str().to_owned(), format!("SKU-{s}"));
    let sql = match op {
        0 => "INSERT INTO asset_work (asset_id, generation, run_at_ms) VALUES (?1, 1, ?3) ON CONFLICT DO NOTHING",
        1 => "DELETE FROM asset_work WHERE asset_id = ?1 AND ?2 = ?2 AND ?3 = ?3",
        2 => {
            "INSERT INTO refused_entries (sku, asset_id, entry, message, at_ms) VALUES (?2, ?1, '{}', 'no', ?3)
             ON CONFLICT DO NOTHING"
        }
        3 => "DELETE FROM refused_entries WHERE asset_id = ?1 AND ?2 = ?2 AND ?3 = ?3",
        4 => "DELETE FROM asset_pending WHERE asset_id = ?1 AND sku = ?2 AND ?3 = ?3",
        5 => {
            "UPDATE assets SET status = 'Failed', failure_kind = CASE WHEN ?3 % 2 = 0 THEN 'sku' ELSE 'sku_final' END,
             waiting_since_ms = ?3 - 5 WHERE asset_id = ?1 AND ?2 = ?2"
        }
        6 => "UPDATE sku_work SET priority = 0, run_at_ms = ?3 - 3, first_enqueued_ms = ?3 - 4 WHERE sku = ?2 AND ?1 = ?1",
        _ => "DELETE FROM sku_work WHERE sku = ?2 AND ?1 = ?1 AND ?3 = ?3",
    };
    conn.execute(sql, (a, s, now)).unwrap();
}

pub(super) fn dump(conn: &Connection) -> Vec<(String, Vec<Vec<Value>>)> {
    [
        "assets",
        "claims",
        "sku_work",
        "asset_pending",
        "counters",
        "asset_work",
        "refused_entries",
        "gallery",
        "missing_products",
        "dead_letters",
    ]
    .iter()
    .map(|table| {
        let mut statement = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2"))
            .unwrap();
        let width = statement.column_count();
        let rows = statement
            .query_map([], |row| {
                (0..width)
                    .map(|i| row.get::<_, Value>(i))
                    .collect::<Result<Vec<_>, _>>()
            })
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        ((*table).to_owned(), rows)
    })
    .collect()
}

pub(super) fn database() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    migrate_in(&conn).unwrap();
    conn
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn a_page_stored_set_based_is_stored_as_asset_by_asset(steps in prop::collection::vec(step(), 1..12)) {
        let (one_by_one, set_based) = (database(), database());
        for (n, step) in steps.iter().enumerate() {
            let now = 1_000 + 10 * i64::try_from(n).unwrap();
            match step {
                Step::Page(items) => {
                    let assets = page(items);
                    prop_assert!(!bulk::has_repeats(&assets));
                    for asset in &assets {
                        fullsync::store_bulk_asset(&one_by_one, SYNC, asset, now).unwrap();
                    }
                    bulk::store_page(&set_based, SYNC, &assets, now).unwrap();
                }
                Step::Noise(op, a, s) => {
                    noise(&one_by_one, *op, *a, *s, now);
                    noise(&set_based, *op, *a, *s, now);
                }
            }
            prop_assert_eq!(dump(&one_by_one), dump(&set_based), "after step {}: {:?}", n, step);
        }
    }
}

#[test]
fn a_page_listing_an_asset_twice_is_noticed() {
    let twice = page(&[(1, Item::Invalid), (2, Item::Invalid), (1, Item::Invalid)]);
    assert!(bulk::has_repeats(&twice));
    assert!(!bulk::has_repeats(&twice[..2]));
}
