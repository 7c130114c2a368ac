//! Per-host `Retry-After`: while a host's delay runs, no request of any kind goes to it. When the delay
//! ends, one request goes first (half-open); the others follow once it did not bring a new delay, so that a
//! burst of concurrent work does not hit a host that is still throttling.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a request waits while another one tries a host whose delay just ended.
const PROBE_WAIT: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Copy)]
enum Gate {
    /// No request until this instant.
    Blocked(Instant),
    /// The delay ended; one request is on its way.
    Probing,
}

/// Whether a request may go now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Go; `probe` is true when this request tries the host first after a delay.
    Go { probe: bool },
    /// Do not send; try again after this long.
    Wait(Duration),
}

/// The longest delay honoured by default (1 hour).
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(3600);

/// Hosts that asked to be left alone.
#[derive(Debug)]
pub(crate) struct HostGates {
    gates: Mutex<HashMap<String, Gate>>,
    /// A longer delay is cut to this.
    max_delay: Duration,
}

impl Default for HostGates {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_DELAY)
    }
}

impl HostGates {
    /// Gates that honour delays up to `max_delay`.
    pub(crate) fn new(max_delay: Duration) -> Self {
        Self {
            gates: Mutex::new(HashMap::new()),
            max_delay,
        }
    }

    /// Decides whether a request to `host` may be sent now.
    pub(crate) fn admit(&self, host: &str) -> Admission {
        let mut gates = self.gates.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        match gates.get(host).copied() {
            None => Admission::Go { probe: false },
            Some(Gate::Blocked(until)) if until > now => Admission::Wait(until - now),
            Some(Gate::Blocked(_)) => {
                gates.insert(host.to_owned(), Gate::Probing);
                Admission::Go { probe: true }
            }
            Some(Gate::Probing) => Admission::Wait(PROBE_WAIT),
        }
    }

    /// Records how a request ended: `delay` when the host asked to wait (never shortens a longer one).
    pub(crate) fn finish(&self, host: &str, probe: bool, delay: Option<Duration>) {
        let mut gates = self.gates.lock().unwrap_or_else(PoisonError::into_inner);
        match delay {
            Some(delay) => {
                let until = Instant::now() + delay.min(self.max_delay);
                let longer = match gates.get(host) {
                    Some(Gate::Blocked(existing)) => (*existing).max(until),
                    _ => until,
                };
                gates.insert(host.to_owned(), Gate::Blocked(longer));
            }
            None if probe => {
                gates.remove(host);
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delay_is_cut_to_the_longest_one_honoured() {
        let gates = HostGates::new(Duration::from_millis(50));
        gates.finish("h:1", false, Some(Duration::from_secs(86_400)));
        let admission = gates.admit("h:1");
        assert!(
            matches!(admission, Admission::Wait(left) if left <= Duration::from_millis(50)),
            "{admission:?}"
        );
    }

    #[test]
    fn a_delay_blocks_then_one_request_probes_then_all_go() {
        let gates = HostGates::default();
        assert_eq!(gates.admit("h:1"), Admission::Go { probe: false });
        gates.finish("h:1", false, Some(Duration::from_millis(30)));
        assert!(matches!(gates.admit("h:1"), Admission::Wait(_)));
        assert_eq!(
            gates.admit("other:1"),
            Admission::Go { probe: false },
            "per host"
        );
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(gates.admit("h:1"), Admission::Go { probe: true });
        assert_eq!(
            gates.admit("h:1"),
            Admission::Wait(PROBE_WAIT),
            "one request goes first"
        );
        gates.finish("h:1", true, None);
        assert_eq!(gates.admit("h:1"), Admission::Go { probe: false });
    }
}
