//! Crash recovery at startup (the `recover` order of `archive`): the index says what it references,
//! the store reconciles against it, and what was found is logged. Runs once in
//! [`crate::archive::open`], before the persister exists, so nothing is appended meanwhile
//! (design/0006-crash-safety.md).

use std::collections::HashMap;

use super::OpenError;
use super::index::Index;
use super::store::{FragmentStore, HighWater};

/// Trims each stream's stored bytes back to what the index references and logs what it found.
pub(super) async fn recover(index: &dyn Index, store: &dyn FragmentStore) -> Result<(), OpenError> {
    // On Postgres this first waits out fragment transactions a killed process left committing.
    let referenced: HashMap<i64, HighWater> = index
        .segment_high_water()
        .await?
        .into_iter()
        .map(|e| (e.stream_id, HighWater { segment: e.segment, end: e.end }))
        .collect();
    let report = store.reconcile(referenced).await.map_err(|source| OpenError::Store {
        what: format!("cannot recover fragment store ({})", store.describe()),
        source,
    })?;
    if report.truncated_segments + report.removed_segments > 0 {
        tracing::warn!(
            "store recovery: dropped {} unacknowledged bytes ({} segment tails truncated, {} segments removed)",
            report.bytes_dropped,
            report.truncated_segments,
            report.removed_segments
        );
    }
    if !report.unindexed_streams.is_empty() {
        tracing::warn!(
            "store recovery: {} stream directories have no indexed fragments and were left in place: {:?}",
            report.unindexed_streams.len(),
            report.unindexed_streams
        );
    }
    for (stream, segment, end, len) in &report.short_segments {
        tracing::error!(
            "store recovery: stream {stream} segment {segment} is {len} bytes but the index references {end}: \
             fragments past the end will read as missing"
        );
    }
    Ok(())
}
