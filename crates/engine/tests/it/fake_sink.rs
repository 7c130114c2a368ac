//! A commerce sink in memory that records every call and can be told to fail, pause or hold a SKU's applies
//! until the test releases them. Like a real sink, it checks the work's lease before it writes.

use async_trait::async_trait;
use connectors::sink::{ApplyContext, CommerceSink, SinkError, SinkOutcome, SinkState};
use domain::gallery::apply_operations;
use domain::{AppliedEntry, Operation, Sku};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Semaphore;

/// How one `apply` call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// Still running (held, or writing).
    Running,
    /// Wrote its operations (none when it had none).
    Applied,
    /// Answered a failure it was told to give.
    Failed(SinkError),
    /// Found its lease lost before writing: wrote nothing.
    LeaseLost,
    /// The product is not in the catalog.
    ProductMissing,
}

/// One `apply` call.
#[derive(Debug, Clone)]
pub struct Call {
    pub sku: Sku,
    /// The operations it was handed.
    pub ops: usize,
    pub ended: Ended,
}

#[derive(Default)]
struct Inner {
    state: Option<String>,
    /// What the platform holds, by SKU.
    galleries: HashMap<Sku, Vec<AppliedEntry>>,
    calls: Vec<Call>,
    /// Failures the next applies of a SKU answer, in order.
    failures: HashMap<Sku, VecDeque<SinkError>>,
    /// SKUs whose next apply answers 401 and pauses the sink (as Magento does).
    pause_on_apply: HashSet<Sku>,
    /// SKUs whose applies wait until released.
    holding: HashSet<Sku>,
    /// The gate of each held call, by call index.
    held: HashMap<usize, Arc<Semaphore>>,
    /// Writes in progress, by SKU, and the most seen at once.
    writing: HashMap<Sku, usize>,
    most_writes_at_once: usize,
}

#[derive(Default)]
pub struct FakeSink {
    inner: Mutex<Inner>,
    /// `state()` reads: the SKU workers read it before each claim, so it counts their passes.
    state_reads: AtomicU64,
    probes: AtomicU64,
}

impl FakeSink {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    /// The next `count` applies of `sku` fail retryably (503, no `Retry-After`).
    pub fn fail_next(&self, sku: &Sku, count: usize) {
        let failure = SinkError::Unavailable {
            message: "HTTP 503 (fake sink)".into(),
            retry_after_ms: None,
        };
        self.lock()
            .failures
            .entry(sku.clone())
            .or_default()
            .extend(std::iter::repeat_n(failure, count));
    }

    /// The next apply of `sku` is refused with a 401, and the sink pauses until [`Self::set_ready`].
    pub fn pause_on_next_apply(&self, sku: &Sku) {
        self.lock().pause_on_apply.insert(sku.clone());
    }

    /// Pauses the sink (its state becomes `Paused`; probes answer so too).
    pub fn pause(&self) {
        self.lock().state = Some("credentials refused (fake sink)".into());
    }

    pub fn set_ready(&self) {
        self.lock().state = None;
    }

    /// From now on, applies of `sku` wait until released ([`Self::release`], [`Self::stop_holding`]).
    pub fn hold(&self, sku: &Sku) {
        self.lock().holding.insert(sku.clone());
    }

    /// Lets the held call `index` go on.
    pub fn release(&self, index: usize) {
        let gate = self.lock().held.remove(&index);
        gate.expect("no such held call").add_permits(1);
    }

    /// Applies of `sku` no longer wait; every held one goes on.
    pub fn stop_holding(&self, sku: &Sku) {
        let mut inner = self.lock();
        inner.holding.remove(sku);
        let indexes: Vec<usize> = inner
            .held
            .keys()
            .copied()
            .filter(|&i| &inner.calls[i].sku == sku)
            .collect();
        for index in indexes {
            if let Some(gate) = inner.held.remove(&index) {
                gate.add_permits(1);
            }
        }
    }

    /// Every apply call so far, in the order they came.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Apply calls of `sku` so far.
    pub fn calls_of(&self, sku: &Sku) -> Vec<Call> {
        self.calls().into_iter().filter(|c| &c.sku == sku).collect()
    }

    /// Applies of `sku` that wrote at least one operation.
    pub fn writes_of(&self, sku: &Sku) -> usize {
        self.calls_of(sku)
            .iter()
            .filter(|c| c.ops > 0 && c.ended == Ended::Applied)
            .count()
    }

    /// Whether call `index` waits to be released.
    pub fn is_held(&self, index: usize) -> bool {
        self.lock().held.contains_key(&index)
    }

    /// The gallery the platform holds for `sku`.
    pub fn gallery(&self, sku: &Sku) -> Vec<AppliedEntry> {
        self.lock().galleries.get(sku).cloned().unwrap_or_default()
    }

    /// The most writes seen in progress on one SKU at once.
    pub fn most_writes_at_once(&self) -> usize {
        self.lock().most_writes_at_once
    }

    pub fn state_reads(&self) -> u64 {
        self.state_reads.load(Ordering::SeqCst)
    }

    pub fn probes(&self) -> u64 {
        self.probes.load(Ordering::SeqCst)
    }

    fn end(&self, index: usize, ended: Ended) {
        self.lock().calls[index].ended = ended;
    }
}

#[async_trait]
impl CommerceSink for FakeSink {
    fn kind(&self) -> &'static str {
        "fake"
    }

    async fn apply(
        &self,
        sku: &Sku,
        context: &ApplyContext<'_>,
        applied: &[AppliedEntry],
        ops: &[Operation],
    ) -> Result<SinkOutcome, SinkError> {
        let (index, gate) = {
            let mut inner = self.lock();
            let index = inner.calls.len();
            inner.calls.push(Call {
                sku: sku.clone(),
                ops: ops.len(),
                ended: Ended::Running,
            });
            let gate = inner.holding.contains(sku).then(|| {
                let gate = Arc::new(Semaphore::new(0));
                inner.held.insert(index, gate.clone());
                gate
            });
            (index, gate)
        };
        if let Some(gate) = gate {
            gate.acquire().await.unwrap().forget();
        }
        // As a real sink does before each remote write.
        if let Err(error) = context.lease.check() {
            self.end(index, Ended::LeaseLost);
            return Err(error);
        }
        let failure = {
            let mut inner = self.lock();
            if inner.pause_on_apply.remove(sku) {
                inner.state = Some("HTTP 401 (fake sink)".into());
                Some(SinkError::Unauthorized(401))
            } else {
                inner.failures.get_mut(sku).and_then(VecDeque::pop_front)
            }
        };
        if let Some(error) = failure {
            self.end(index, Ended::Failed(error.clone()));
            return Err(error);
        }
        if !context.product_known {
            self.end(index, Ended::ProductMissing);
            return Ok(SinkOutcome::ProductMissing);
        }
        {
            let mut inner = self.lock();
            let writing = inner.writing.entry(sku.clone()).or_default();
            *writing += 1;
            let now = *writing;
            inner.most_writes_at_once = inner.most_writes_at_once.max(now);
        }
        // A write takes a moment: another write of the SKU meanwhile would be seen above.
        tokio::task::yield_now().await;
        let entries = apply_operations(applied, ops);
        {
            let mut inner = self.lock();
            *inner.writing.entry(sku.clone()).or_default() -= 1;
            inner.galleries.insert(sku.clone(), entries.clone());
            inner.calls[index].ended = Ended::Applied;
        }
        Ok(SinkOutcome::Applied(entries))
    }

    fn state(&self) -> SinkState {
        self.state_reads.fetch_add(1, Ordering::SeqCst);
        match &self.lock().state {
            None => SinkState::Ready,
            Some(reason) => SinkState::Paused(reason.clone()),
        }
    }

    async fn probe(&self) -> SinkState {
        self.probes.fetch_add(1, Ordering::SeqCst);
        match &self.lock().state {
            None => SinkState::Ready,
            Some(reason) => SinkState::Paused(reason.clone()),
        }
    }
}
