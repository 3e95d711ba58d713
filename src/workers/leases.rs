//! Which (worker, stream) pairs this node may analyse, in cluster mode: the leases it holds, each
//! valid until a local deadline (the time the renewal was sent plus the lease TTL, on this
//! process's monotonic clock), so a node that stopped renewing — paused, cut off from Postgres —
//! stops analysing before another node may take the pair over.
//!
//! Owns the in-memory view only: the leases themselves are taken and renewed by `cluster`
//! (design/0025-cluster-coordination.md), which calls [`LeaseGate::update`]. Without a gate (a
//! single node) every pair is this node's.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Instant;

/// The held (worker, stream) pairs, and until when they are valid.
type Held = (HashSet<(String, i64)>, Option<Instant>);

/// The leases this node holds.
#[derive(Debug, Default)]
pub struct LeaseGate {
    held: Mutex<Held>,
}

impl LeaseGate {
    /// A gate that holds nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether this node may analyse `stream_id` with `worker` now.
    pub fn holds(&self, worker: &str, stream_id: i64) -> bool {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.1.is_some_and(|until| Instant::now() < until) && held.0.contains(&(worker.to_owned(), stream_id))
    }

    /// Replaces the held set with `held`, valid until `until`; returns the pairs gained (held now,
    /// not before).
    pub fn update(&self, held: Vec<(String, i64)>, until: Instant) -> Vec<(String, i64)> {
        let mut current = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let was_valid = current.1.is_some_and(|u| Instant::now() < u);
        let new: HashSet<(String, i64)> = held.into_iter().collect();
        let gained = new.iter().filter(|p| !was_valid || !current.0.contains(*p)).cloned().collect();
        *current = (new, Some(until));
        gained
    }

    /// The pairs held now, by worker.
    pub fn by_worker(&self) -> HashMap<String, Vec<i64>> {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: HashMap<String, Vec<i64>> = HashMap::new();
        if held.1.is_some_and(|until| Instant::now() < until) {
            for (w, s) in &held.0 {
                out.entry(w.clone()).or_default().push(*s);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn holds_until_the_deadline_and_reports_gains() {
        let gate = LeaseGate::new();
        assert!(!gate.holds("motion", 1));
        let soon = Instant::now() + Duration::from_secs(60);
        let gained = gate.update(vec![("motion".into(), 1), ("motion".into(), 2)], soon);
        assert_eq!(gained.len(), 2);
        assert!(gate.holds("motion", 1) && !gate.holds("thumbnails", 1));
        let gained = gate.update(vec![("motion".into(), 2), ("motion".into(), 3)], soon);
        assert_eq!(gained, vec![("motion".to_owned(), 3)]);
        assert!(!gate.holds("motion", 1), "released");
        gate.update(vec![("motion".into(), 2)], Instant::now());
        assert!(!gate.holds("motion", 2), "expired locally");
        let gained = gate.update(vec![("motion".into(), 2)], soon);
        assert_eq!(gained.len(), 1, "held again after an expiry: caught up again");
    }
}
