//! The job queue of a group of connection threads, with two lanes: a job that precedes an acknowledgement
//! (an event, a configuration save) or a claim of work goes before queued batches of background work, so that
//! the webhook's answer waits for at most the one transaction already running, and workers are not starved of
//! new items while completions queue.

use rusqlite::Connection;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

pub(crate) type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Which lane a job takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    /// Taken first: a client waits for the answer, or workers wait for items.
    Urgent,
    /// Background work, in arrival order.
    Normal,
}

#[derive(Default)]
struct Lanes {
    urgent: VecDeque<Job>,
    normal: VecDeque<Job>,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    lanes: Mutex<Lanes>,
    ready: Condvar,
}

/// The sending side; dropping it lets the threads finish the queued jobs and stop.
pub(crate) struct JobQueue {
    shared: Arc<Shared>,
}

/// What one connection thread takes its jobs from.
pub(crate) struct JobSource {
    shared: Arc<Shared>,
}

pub(crate) fn job_queue() -> (JobQueue, impl Fn() -> JobSource) {
    let shared = Arc::new(Shared::default());
    let sources = shared.clone();
    (JobQueue { shared }, move || JobSource {
        shared: sources.clone(),
    })
}

impl JobQueue {
    /// Queues `job`; `false` when the threads have stopped.
    pub(crate) fn push(&self, lane: Lane, job: Job) -> bool {
        let mut lanes = self
            .shared
            .lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if lanes.closed {
            return false;
        }
        match lane {
            Lane::Urgent => lanes.urgent.push_back(job),
            Lane::Normal => lanes.normal.push_back(job),
        }
        drop(lanes);
        self.shared.ready.notify_one();
        true
    }
}

impl Drop for JobQueue {
    fn drop(&mut self) {
        let mut lanes = self
            .shared
            .lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        lanes.closed = true;
        drop(lanes);
        self.shared.ready.notify_all();
    }
}

impl JobSource {
    /// The next job (urgent ones first); `None` once the queue is closed and empty.
    pub(crate) fn next(&self) -> Option<Job> {
        let mut lanes = self
            .shared
            .lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(job) = lanes.urgent.pop_front() {
                return Some(job);
            }
            if let Some(job) = lanes.normal.pop_front() {
                return Some(job);
            }
            if lanes.closed {
                return None;
            }
            lanes = self
                .shared
                .ready
                .wait(lanes)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn urgent_jobs_are_taken_before_queued_normal_ones_and_close_drains() {
        let (queue, source) = job_queue();
        let (seen, order) = mpsc::channel();
        for (lane, name) in [
            (Lane::Normal, "n1"),
            (Lane::Normal, "n2"),
            (Lane::Urgent, "u1"),
        ] {
            let seen = seen.clone();
            assert!(queue.push(
                lane,
                Box::new(move |_| {
                    let _ = seen.send(name);
                })
            ));
        }
        let source = source();
        drop(queue);
        let mut conn = Connection::open_in_memory().unwrap();
        while let Some(job) = source.next() {
            job(&mut conn);
        }
        drop(seen);
        assert_eq!(order.iter().collect::<Vec<_>>(), ["u1", "n1", "n2"]);
    }
}
