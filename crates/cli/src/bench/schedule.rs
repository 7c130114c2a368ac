//! The schedule of `bench events`: which asset each event changes and how, and every delivery signed before
//! the clock starts.

use super::report::tick_offset;
use super::workload::{Loaded, random_positions, random_roles};
use anyhow::bail;
use sandbox::PreparedDelivery;
use sandbox::aem::AemEmulator;
use serde_json::{Map, Value, json};
use std::time::{Duration, Instant};

/// What one scheduled event does to the DAM before its delivery is sent.
pub(super) enum Change {
    Update(Map<String, Value>),
    Reject,
    Delete,
}

pub(super) struct Step {
    pub(super) offset: Duration,
    pub(super) asset: usize,
    pub(super) change: Change,
    pub(super) delivery: PreparedDelivery,
}

/// The workload: 70 % gallery moves of single-SKU assets, 15 % changes of multi-SKU assets, 10 % rejections,
/// 5 % deletions; every change re-approves the asset it touches.
pub(super) fn plan_changes(
    assets: &mut [Loaded],
    events: usize,
    rng: &mut fastrand::Rng,
) -> Vec<(usize, Change)> {
    let pick = |assets: &[Loaded], rng: &mut fastrand::Rng, wanted: &dyn Fn(&Loaded) -> bool| {
        for _ in 0..64 {
            let index = rng.usize(..assets.len());
            if assets[index].alive && wanted(&assets[index]) {
                return Some(index);
            }
        }
        assets.iter().position(|a| a.alive && wanted(a))
    };
    let mut plan = Vec::with_capacity(events);
    for _ in 0..events {
        let roll = rng.u8(..100);
        let choice = match roll {
            0..70 => pick(assets, rng, &|a| a.skus == 1).map(|i| (i, None)),
            70..85 => pick(assets, rng, &|a| a.skus > 1).map(|i| (i, None)),
            85..95 => pick(assets, rng, &|a| a.approved).map(|i| (i, Some(Change::Reject))),
            _ => pick(assets, rng, &|_| true).map(|i| (i, Some(Change::Delete))),
        }
        .or_else(|| pick(assets, rng, &|_| true).map(|i| (i, None)));
        let Some((index, change)) = choice else {
            break;
        };
        let change = change.unwrap_or_else(|| {
            let count = assets[index].skus;
            let mut fields = Map::new();
            fields.insert("dam:status".into(), json!("approved"));
            fields.insert(
                "commerce:positions".into(),
                json!(random_positions(rng, count)),
            );
            if rng.bool() {
                fields.insert("commerce:roles".into(), json!(random_roles(rng, count)));
            }
            Change::Update(fields)
        });
        match change {
            Change::Reject => assets[index].approved = false,
            Change::Delete => assets[index].alive = false,
            Change::Update(_) => assets[index].approved = true,
        }
        plan.push((index, change));
    }
    plan
}

/// Signs every delivery before the clock starts, on every core.
pub(super) fn sign_all(
    emulator: &AemEmulator,
    assets: &[Loaded],
    plan: Vec<(usize, Change)>,
    start_ms: i64,
    rate: u32,
) -> anyhow::Result<Vec<Step>> {
    let unsigned: Vec<(usize, Change, Duration, String, String, Vec<u8>)> = plan
        .into_iter()
        .enumerate()
        .map(|(k, (asset, change))| {
            let offset = tick_offset(k, f64::from(rate));
            let time_ms = start_ms + i64::try_from(offset.as_millis()).unwrap_or(0);
            let event_type = match change {
                Change::Delete => "aem.assets.asset.deleted",
                _ => "aem.assets.asset.metadata_updated",
            };
            let (id, body) = emulator.event_body(event_type, &assets[asset].id, time_ms);
            (asset, change, offset, id, event_type.to_owned(), body)
        })
        .collect();
    let keys = &*emulator.keys();
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let chunk = unsigned.len().div_ceil(threads).max(1);
    let mut pending = unsigned;
    let mut parts = Vec::new();
    while pending.len() > chunk {
        let rest = pending.split_off(chunk);
        parts.push(pending);
        pending = rest;
    }
    parts.push(pending);
    tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let handles: Vec<_> = parts
                .into_iter()
                .map(|part| {
                    scope.spawn(move || {
                        part.into_iter()
                            .map(|(asset, change, offset, id, event_type, body)| {
                                PreparedDelivery::sign(keys, id, event_type, body).map(|delivery| {
                                    Step {
                                        offset,
                                        asset,
                                        change,
                                        delivery,
                                    }
                                })
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                })
                .collect();
            let mut steps = Vec::new();
            for handle in handles {
                match handle.join() {
                    Ok(part) => steps.extend(part?),
                    Err(_) => bail!("a signing thread failed"),
                }
            }
            Ok(steps)
        })
    })
}

/// Time of one delivery's two signatures.
pub(super) fn estimate_signing(emulator: &AemEmulator) -> anyhow::Result<Duration> {
    let started = Instant::now();
    for _ in 0..20 {
        emulator.keys().sign(b"estimate")?;
    }
    Ok(started.elapsed() / 20)
}
