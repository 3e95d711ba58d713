//! The "fragment persisted" feed: every fragment the persister has made durable and indexed, in
//! commit order, for in-process subscribers (the analysis dispatcher, notification publishers).
//!
//! One bounded `tokio::sync::broadcast` channel for all streams: publishing never waits and never
//! fails because of a subscriber. A subscriber that falls more than [`PERSISTED_CAPACITY`] records
//! behind is told it lagged and must re-read the index (which stays the source of truth: this feed
//! is only the low-latency path). Per stream, records arrive in fragment-number order. No I/O.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::model::FragmentRecord;

/// Records buffered for slow subscribers before they lag.
pub const PERSISTED_CAPACITY: usize = 8192;

/// The feed of persisted fragments.
#[derive(Debug, Clone)]
pub struct PersistedFeed {
    tx: broadcast::Sender<Arc<FragmentRecord>>,
}

impl Default for PersistedFeed {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(PERSISTED_CAPACITY);
        Self { tx }
    }
}

impl PersistedFeed {
    /// A receiver of every record published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<FragmentRecord>> {
        self.tx.subscribe()
    }

    /// Publishes a committed fragment (no-op without subscribers).
    pub fn publish(&self, record: FragmentRecord) {
        if self.tx.receiver_count() > 0 {
            let _ = self.tx.send(Arc::new(record));
        }
    }
}
