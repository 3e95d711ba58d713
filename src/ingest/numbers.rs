//! Fragment numbers: strictly increasing per stream, unique across streams, surviving restarts.
//!
//! An ordinal is `max(now_ms << 20 | sequence, last + 1)`: time-based so a restarted server issues
//! numbers above everything issued before (the clock has moved on), with a per-stream floor loaded
//! from the index when a session starts so a clock step backwards can never reorder a stream.
//! Pure bookkeeping behind a mutex; no I/O.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::model::FragmentNumber;

/// Issues fragment numbers.
#[derive(Debug, Default)]
pub struct FragmentNumbers {
    last: Mutex<HashMap<i64, u128>>,
}

impl FragmentNumbers {
    /// Makes sure numbers of `stream_id` stay above `floor` (the highest number in the index).
    pub fn seed(&self, stream_id: i64, floor: Option<&FragmentNumber>) {
        let floor = floor.and_then(FragmentNumber::ordinal).unwrap_or(0);
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let entry = last.entry(stream_id).or_insert(0);
        *entry = (*entry).max(floor);
    }

    /// The next number of `stream_id` at time `now_ms`.
    pub fn next(&self, stream_id: i64, now_ms: i64) -> FragmentNumber {
        let candidate = (u128::try_from(now_ms.max(0)).unwrap_or(0)) << 20;
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let entry = last.entry(stream_id).or_insert(0);
        let ordinal = candidate.max(*entry + 1);
        *entry = ordinal;
        FragmentNumber::from_ordinal(ordinal)
    }

    /// Forgets a deleted stream.
    pub fn forget(&self, stream_id: i64) {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).remove(&stream_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_increase_even_when_the_clock_stalls_or_steps_back() {
        let n = FragmentNumbers::default();
        let a = n.next(1, 1_000);
        let b = n.next(1, 1_000);
        let c = n.next(1, 500);
        assert!(a < b && b < c);
        let other = n.next(2, 1_000);
        assert_eq!(other, a, "streams are independent");
        n.seed(3, Some(&c));
        assert!(n.next(3, 0) > c);
    }
}
