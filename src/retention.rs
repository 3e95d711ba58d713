//! The retention janitor: the policy side of retention. Every `[retention] interval_secs` it works
//! out each stream's cutoff from its `DataRetentionInHours` (by server timestamp, as AWS does;
//! retention 0 keeps nothing) and asks the archive to expire what is older
//! ([`crate::archive::Archive::expire`]), then to remove what deleted streams left behind.
//!
//! The mechanism and its crash-safe order (index rows first, then bytes under the persister's
//! gate) live in `archive` (`archive/reclaim.rs`, design/0010-retention.md); this module never
//! touches the index or the store itself. Owns [`RetentionConfig`], [`Janitor`] and its loop; it
//! must not know HTTP.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::archive::{Archive, IndexError, ReclaimError};
use crate::clock::Clock;
use crate::metrics::{Metrics, RetentionPass};

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
    /// Listing the streams failed.
    #[error("index: {0}")]
    Index(#[from] IndexError),
    /// Expiring or reclaiming failed.
    #[error(transparent)]
    Reclaim(#[from] ReclaimError),
}

/// Deletes expired fragments and reclaims their bytes.
#[derive(Debug)]
pub struct Janitor {
    archive: Arc<Archive>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    /// Whether a full reclaim sweep (every stream, not only those that lost rows) is still due:
    /// true until the first pass completes, so leftovers of a crash are found.
    sweep_due: AtomicBool,
    running: tokio::sync::Mutex<()>,
}

impl Janitor {
    /// A janitor over the archive.
    pub fn new(archive: Arc<Archive>, clock: Arc<dyn Clock>, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            archive,
            clock,
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
        for id in self.archive.stream_ids().await? {
            let stream = match self.archive.stream_by_id(id).await {
                Ok(s) => s,
                Err(IndexError::NotFound) => continue, // deleted meanwhile
                Err(e) => return Err(e.into()),
            };
            let hours = i64::from(stream.retention.hours());
            // Retention 0 archives nothing; anything left from a larger retention goes.
            let cutoff = if hours == 0 { i64::MAX } else { now.saturating_sub(hours * 3_600_000) };
            let expired = self.archive.expire(id, cutoff, sweep).await?;
            pass.fragments_deleted += expired.fragments;
            pass.segments_deleted += expired.segments;
            pass.bytes_reclaimed += expired.bytes;
        }
        // Bytes of deleted streams (DeleteStream removes them itself; this catches a crash
        // between its index commit and the removal).
        pass.orphan_streams_removed += self.archive.remove_deleted_leftovers().await?;
        Ok(())
    }
}
