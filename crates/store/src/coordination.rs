//! The types of the [`Coordination`](crate::Coordination) role: duties one process performs at a time, the leadership
//! that holds one, and the wake-ups processes send each other.

use tokio::sync::watch;

/// Work that one process of a cluster performs at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Duty {
    /// Runs the waiting (or interrupted) full syncs.
    FullSync,
    /// Re-reads the stalest assets and scans the catalog.
    AntiEntropy,
    /// Deletes what the retention allows.
    Pruner,
    /// Catches up through the I/O Events journal.
    Journal,
}

impl Duty {
    /// Every duty.
    pub const ALL: [Duty; 4] = [
        Duty::FullSync,
        Duty::AntiEntropy,
        Duty::Pruner,
        Duty::Journal,
    ];

    /// A stable number for the duty (PostgreSQL's advisory lock key).
    pub fn number(self) -> i32 {
        match self {
            Duty::FullSync => 1,
            Duty::AntiEntropy => 2,
            Duty::Pruner => 3,
            Duty::Journal => 4,
        }
    }

    /// The duty's name in logs.
    pub fn name(self) -> &'static str {
        match self {
            Duty::FullSync => "full sync",
            Duty::AntiEntropy => "anti-entropy",
            Duty::Pruner => "pruner",
            Duty::Journal => "journal reader",
        }
    }
}

/// Held while this process performs a [`Duty`]; dropping it hands the duty back to the cluster.
pub struct Leadership {
    lost: watch::Receiver<bool>,
    _held: Box<dyn Send + Sync>,
}

impl Leadership {
    /// A leadership that `held` keeps (dropped with it) and that is lost once `lost` turns true or its sender
    /// is gone.
    pub fn new(lost: watch::Receiver<bool>, held: impl Send + Sync + 'static) -> Self {
        Self {
            lost,
            _held: Box::new(held),
        }
    }

    /// Resolves once the duty is lost (the connection that held it ended); never while it is held.
    pub async fn lost(&mut self) {
        let _ = self.lost.wait_for(|lost| *lost).await;
    }

    /// Whether the duty is still held.
    pub fn held(&self) -> bool {
        !*self.lost.borrow() && self.lost.has_changed().is_ok()
    }
}

impl std::fmt::Debug for Leadership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leadership")
            .field("held", &self.held())
            .finish()
    }
}

/// What another process's commit made ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WakeUp {
    /// Asset work is queued.
    Assets,
    /// Gallery (SKU) work is queued.
    Skus,
    /// Product-to-asset matcher calls are queued.
    ProductCalls,
    /// A full sync was requested.
    FullSync,
}

impl WakeUp {
    /// The wake-up for a change to `table` (the work queues' tables), if any.
    pub fn of_table(table: &str) -> Option<Self> {
        match table {
            "asset_work" => Some(WakeUp::Assets),
            "sku_work" => Some(WakeUp::Skus),
            "product_calls" => Some(WakeUp::ProductCalls),
            "full_syncs" => Some(WakeUp::FullSync),
            _ => None,
        }
    }
}
