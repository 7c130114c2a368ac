//! How many items a worker pool has in flight. The SKU workers' width follows a running full sync's stage:
//! while it stores its pages, its SKU work waits to coalesce (a product whose assets are on several pages
//! is written once for all of them, and the pages, which share the database's writer with that work, are
//! stored sooner); once every page is stored, nothing more comes to coalesce with, and the work it queued
//! goes as wide as the sink allows.

use std::sync::atomic::{AtomicU8, Ordering};

/// The stage of a running full sync, as far as the SKU workers' width is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum BulkStage {
    /// No full sync runs in this process.
    Idle = 0,
    /// A full sync stores its pages.
    Storing = 1,
    /// A full sync waits for the SKU work its pages queued.
    Draining = 2,
}

impl BulkStage {
    fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Storing,
            2 => Self::Draining,
            _ => Self::Idle,
        }
    }
}

/// The engine's [`BulkStage`], shared by the full sync and the SKU workers.
#[derive(Debug, Default)]
pub(crate) struct StageCell(AtomicU8);

impl StageCell {
    pub(crate) fn get(&self) -> BulkStage {
        BulkStage::from_u8(self.0.load(Ordering::Relaxed))
    }

    /// Sets `stage` until the guard drops (then [`BulkStage::Idle`]).
    pub(crate) fn enter(&self, stage: BulkStage) -> StageGuard<'_> {
        self.0.store(stage as u8, Ordering::Relaxed);
        StageGuard(self)
    }
}

/// Returns the stage to [`BulkStage::Idle`] when dropped.
pub(crate) struct StageGuard<'a>(&'a StageCell);

impl Drop for StageGuard<'_> {
    fn drop(&mut self) {
        self.0.0.store(BulkStage::Idle as u8, Ordering::Relaxed);
    }
}

/// How many items a pool has in flight now.
pub(crate) struct Width<'a> {
    normal: usize,
    /// The width while a full sync stores its pages, then while it drains, and where its stage is read.
    bulk: Option<(usize, usize, &'a StageCell)>,
}

impl<'a> Width<'a> {
    /// Always `normal`.
    pub(crate) fn fixed(normal: usize) -> Self {
        Self { normal, bulk: None }
    }

    /// `normal`, `storing` or `draining`, as `stage` says.
    pub(crate) fn by_stage(
        normal: usize,
        storing: usize,
        draining: usize,
        stage: &'a StageCell,
    ) -> Self {
        Self {
            normal,
            bulk: Some((storing, draining, stage)),
        }
    }

    /// The widest it can be (the pool's permits).
    pub(crate) fn most(&self) -> usize {
        self.bulk
            .map_or(self.normal, |(storing, draining, _)| {
                self.normal.max(storing).max(draining)
            })
            .max(1)
    }

    /// The width now.
    pub(crate) fn now(&self) -> usize {
        let width = match self.bulk {
            Some((storing, draining, stage)) => match stage.get() {
                BulkStage::Idle => self.normal,
                BulkStage::Storing => storing,
                BulkStage::Draining => draining,
            },
            None => self.normal,
        };
        width.max(1)
    }

    /// Claims wait until this many slots are free: a quarter of the normal width, so that claims, which go
    /// through the store's single writer, are not one item per finished item.
    pub(crate) fn claim_at(&self, max_claim: usize) -> usize {
        (self.normal / 4).clamp(1, max_claim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_width_follows_the_full_syncs_stage() {
        let stage = StageCell::default();
        let width = Width::by_stage(64, 16, 256, &stage);
        assert_eq!(width.most(), 256);
        assert_eq!(width.now(), 64);
        {
            let _storing = stage.enter(BulkStage::Storing);
            assert_eq!(width.now(), 16);
        }
        assert_eq!(width.now(), 64, "back to normal when the stage ends");
        let draining = stage.enter(BulkStage::Draining);
        assert_eq!(width.now(), 256);
        drop(draining);
        assert_eq!(stage.get(), BulkStage::Idle);
        assert_eq!(width.claim_at(64), 16);
    }

    #[test]
    fn a_fixed_width_never_changes_and_is_at_least_one() {
        let stage = StageCell::default();
        let _draining = stage.enter(BulkStage::Draining);
        let width = Width::fixed(0);
        assert_eq!((width.most(), width.now(), width.claim_at(64)), (1, 1, 1));
        assert_eq!(crate::builtin_storing_concurrency(64), 16);
        assert_eq!(crate::builtin_storing_concurrency(3), 1);
    }
}
