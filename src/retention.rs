//! The retention janitor: deletes fragments older than their stream's `DataRetentionInHours`
//! (by server timestamp, as AWS does), reclaims the segment files that no longer hold a referenced
//! byte, and removes store directories left behind by deleted streams.
//!
//! Order, and why it is crash-safe (design/0010-retention.md): **index rows first, then bytes**.
//! A pass deletes a stream's expired rows in bounded transactions; then, holding the persister's
//! gate (no fragment is between "appended" and "committed" while it is held), it asks the index for
//! the lowest segment the stream still references and unlinks every segment file below it (all of
//! them when no row is left, the open segment included: it is closed and the next append starts a
//! new one). So the index never references a missing byte, whatever moment a crash hits; a crash
//! between the two steps only leaves unreferenced files, which the next pass (every pass after
//! startup checks every stream once) removes.
//!
//! Owns [`RetentionConfig`], [`Janitor`] and its loop. It uses the index, the store and the ingest
//! service's persister gate; it must not know HTTP, and it never deletes bytes the index references.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::clock::Clock;
use crate::index::{Index, IndexError};
use crate::ingest::Ingest;
use crate::metrics::{Metrics, RetentionPass};
use crate::store::{FragmentStore, StoreError};

/// Rows deleted per index transaction (bounded so one pass never holds a long write lock).
pub const DELETE_BATCH: u32 = 5_000;

/// `[retention]` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Whether the janitor runs at all.
    pub enabled: bool,
    /// Seconds between passes (the first pass runs this long after startup).
    pub interval_secs: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self { enabled: true, interval_secs: 60 }
    }
}

/// Why a pass stopped early (it is retried at the next interval).
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// An index call failed.
    #[error("index: {0}")]
    Index(#[from] IndexError),
    /// The store refused to remove a file.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The blocking store task failed.
    #[error("store task: {0}")]
    Task(String),
}

/// Deletes expired fragments and reclaims their bytes.
#[derive(Debug)]
pub struct Janitor {
    index: Arc<dyn Index>,
    store: Arc<dyn FragmentStore>,
    ingest: Arc<Ingest>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    /// Whether a full reclaim sweep (every stream, not only those that lost rows) is still due:
    /// true until the first pass completes, so leftovers of a crash are found.
    sweep_due: AtomicBool,
    running: tokio::sync::Mutex<()>,
}

impl Janitor {
    /// A janitor over these services.
    pub fn new(ingest: Arc<Ingest>, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            index: ingest.index().clone(),
            store: ingest.store().clone(),
            clock: ingest.clock().clone(),
            ingest,
            metrics,
            sweep_due: AtomicBool::new(true),
            running: tokio::sync::Mutex::new(()),
        })
    }

    /// Runs passes every `interval` until `stop` turns true.
    pub async fn run(self: Arc<Self>, interval: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
            let started = Instant::now();
            match self.run_once().await {
                Ok(p) if p != RetentionPass::default() => tracing::info!(
                    "retention: deleted {} fragments, reclaimed {} segments ({} bytes), removed {} deleted-stream directories in {:?}",
                    p.fragments_deleted,
                    p.segments_deleted,
                    p.bytes_reclaimed,
                    p.orphan_streams_removed,
                    started.elapsed()
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!("retention pass failed (retried next interval): {e}"),
            }
        }
    }

    /// One pass over every stream (passes never overlap).
    pub async fn run_once(&self) -> Result<RetentionPass, RetentionError> {
        let _one_at_a_time = self.running.lock().await;
        let mut pass = RetentionPass::default();
        let result = self.pass(&mut pass).await;
        self.metrics.record_retention(&pass, self.clock.now_millis(), result.is_err());
        if result.is_ok() {
            self.sweep_due.store(false, Ordering::Relaxed);
        }
        result.map(|()| pass)
    }

    async fn pass(&self, pass: &mut RetentionPass) -> Result<(), RetentionError> {
        let sweep = self.sweep_due.load(Ordering::Relaxed);
        let now = self.clock.now_millis();
        for id in self.index.stream_ids().await? {
            let stream = match self.index.stream_by_id(id).await {
                Ok(s) => s,
                Err(IndexError::NotFound) => continue, // deleted meanwhile
                Err(e) => return Err(e.into()),
            };
            let hours = i64::from(stream.retention.hours());
            // Retention 0 archives nothing; anything left from a larger retention goes.
            let cutoff = if hours == 0 { i64::MAX } else { now.saturating_sub(hours * 3_600_000) };
            let mut deleted = 0u64;
            loop {
                let started = Instant::now();
                let n = self.index.delete_fragments_before(id, cutoff, DELETE_BATCH).await;
                self.metrics.index_call("delete_fragments_before", started.elapsed(), n.is_ok());
                let n = n?;
                deleted += n;
                if n < u64::from(DELETE_BATCH) {
                    break;
                }
            }
            pass.fragments_deleted += deleted;
            if deleted > 0 || sweep {
                let (files, bytes) = self.reclaim(id).await?;
                pass.segments_deleted += files;
                pass.bytes_reclaimed += bytes;
            }
        }
        // Directories of deleted streams (DeleteStream removes them itself; this catches a crash
        // between its index commit and the unlink).
        let store = self.store.clone();
        let on_disk = blocking(move || store.stream_ids_on_disk()).await?;
        if !on_disk.is_empty() {
            let deleted: std::collections::HashSet<i64> =
                self.index.deleted_stream_ids().await?.into_iter().collect();
            for id in on_disk.into_iter().filter(|id| deleted.contains(id)) {
                let _gate = self.ingest.pause_persisting().await;
                let store = self.store.clone();
                blocking(move || store.delete_stream(id)).await?;
                pass.orphan_streams_removed += 1;
            }
        }
        Ok(())
    }

    /// Unlinks the stream's segment files below the lowest referenced one, under the persister's
    /// gate so no fragment can be between append and commit meanwhile.
    async fn reclaim(&self, stream_id: i64) -> Result<(u64, u64), RetentionError> {
        let _gate = self.ingest.pause_persisting().await;
        let started = Instant::now();
        let lowest = self.index.lowest_referenced_segment(stream_id).await;
        self.metrics.index_call("lowest_referenced_segment", started.elapsed(), lowest.is_ok());
        let lowest = lowest?;
        let store = self.store.clone();
        blocking(move || store.remove_segments_below(stream_id, lowest)).await
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, RetentionError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| RetentionError::Task(e.to_string()))?.map_err(Into::into)
}
