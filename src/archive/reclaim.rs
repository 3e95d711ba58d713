//! Retention reclaim (the `expire` order of `archive`): expired rows go first, then the bytes no
//! row references any more, under the persister's gate; and the leftovers of deleted streams.
//!
//! The retention janitor (`crate::retention`) owns the policy (which streams, which cutoff, how
//! often); this module owns the mechanism and its order, so the durability rule holds whatever
//! moment a crash hits (design/0010-retention.md): between the two steps there are only
//! unreferenced segments, which the next pass (every stream is swept once after startup) removes.

use std::collections::HashSet;
use std::time::Instant;

use super::Archive;
use super::index::IndexError;
use super::store::{Reclaimed, StoreError};

/// Rows deleted per index transaction (bounded so one pass never holds a long write lock).
pub const DELETE_BATCH: u32 = 5_000;

/// What one [`Archive::expire`] call removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Expired {
    /// Fragment rows deleted.
    pub fragments: u64,
    /// Segments removed.
    pub segments: u64,
    /// Bytes freed.
    pub bytes: u64,
}

/// Why a reclaim step stopped early (the janitor retries at its next pass).
#[derive(Debug, thiserror::Error)]
pub enum ReclaimError {
    /// An index call failed.
    #[error("index: {0}")]
    Index(#[from] IndexError),
    /// The store refused to remove something.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl Archive {
    /// Deletes the stream's fragment rows whose server timestamp is before `before_ms`, then (if
    /// any went, or `sweep` asks for it) removes the segments below the lowest one the stream still
    /// references, all of them when no row is left.
    pub async fn expire(&self, stream_id: i64, before_ms: i64, sweep: bool) -> Result<Expired, ReclaimError> {
        let mut expired = Expired::default();
        loop {
            let started = Instant::now();
            let n = self.index.delete_fragments_before(stream_id, before_ms, DELETE_BATCH).await;
            self.metrics.index_call("delete_fragments_before", started.elapsed(), n.is_ok());
            let n = n?;
            expired.fragments += n;
            if n < u64::from(DELETE_BATCH) {
                break;
            }
        }
        if expired.fragments > 0 || sweep {
            let reclaimed = self.remove_unreferenced(stream_id).await?;
            expired.segments = reclaimed.segments;
            expired.bytes = reclaimed.bytes;
        }
        Ok(expired)
    }

    /// Removes the store bytes left by streams [`Archive::delete_stream`] deleted (a crash between
    /// its index commit and the store removal leaves them); returns how many streams had some.
    pub async fn remove_deleted_leftovers(&self) -> Result<u64, ReclaimError> {
        let held = self.store.stream_ids().await?;
        if held.is_empty() {
            return Ok(0);
        }
        let deleted: HashSet<i64> = self.index.deleted_stream_ids().await?.into_iter().collect();
        let mut removed = 0;
        for id in held.into_iter().filter(|id| deleted.contains(id)) {
            let _gate = self.persister.pause().await;
            self.store.delete_stream(id).await?;
            removed += 1;
        }
        Ok(removed)
    }

    /// Removes the stream's segments below the lowest referenced one, under the persister's gate
    /// so no fragment can be between append and commit meanwhile.
    async fn remove_unreferenced(&self, stream_id: i64) -> Result<Reclaimed, ReclaimError> {
        let _gate = self.persister.pause().await;
        let started = Instant::now();
        let lowest = self.index.lowest_referenced_segment(stream_id).await;
        self.metrics.index_call("lowest_referenced_segment", started.elapsed(), lowest.is_ok());
        Ok(self.store.remove_segments_below(stream_id, lowest?).await?)
    }
}
