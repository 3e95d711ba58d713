//! The group-commit persister: the one place fragment bytes become durable and indexed (the
//! `append` order of `archive`).
//!
//! [`crate::archive::Archive::append`] submits [`PersistJob`]s; one task takes every job that is
//! waiting (up to [`MAX_BATCH`]), appends each to the store (unless it was streamed into the store
//! as it arrived: then its location is known), syncs every touched stream in one parallel `sync`, then inserts all rows in ONE index transaction, and only then answers each job. So a fragment
//! is reported [`PersistOutcome::Persisted`] strictly after its bytes are durable and its row is
//! committed, and hundreds of concurrent streams share one fsync round and one commit per batch
//! instead of paying one each. Jobs of one stream are answered in submission order. No HTTP here.
//!
//! Each batch runs under the persister's gate (a mutex): [`Persister::pause`] hands it to reclaim
//! (`archive::reclaim`), which then sees no fragment between "appended" and "committed";
//! [`Persister::flush`] waits until the queue is empty and no batch is running (graceful shutdown).
//! The commit's duration is recorded as the `insert_fragments` index-call metric.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::index::{Index, RowCommit};
use super::persisted::PersistedFeed;
use super::store::{FragmentBytes, FragmentStore};
use super::stream_keys::KeyUnavailable;
use crate::metrics::Metrics;
use crate::model::{FragmentNumber, FragmentRecord};

/// Most jobs committed together.
pub const MAX_BATCH: usize = 1024;

/// A job's bytes: still to append, or already written by a [`super::store::SegmentWriter`].
#[derive(Debug)]
pub enum JobBytes {
    /// Sealed bytes to append (concatenated); the persister fills in the row's location.
    Parts(Vec<Bytes>),
    /// Streamed into the store while the fragment arrived: the row's location is where they
    /// are; they only need the stream's sync.
    Written,
}

/// One fragment to persist.
#[derive(Debug)]
pub struct PersistJob {
    /// The row to insert; its `location` is filled in by the persister for [`JobBytes::Parts`]
    /// (its tier says where), or already known for [`JobBytes::Written`].
    pub record: FragmentRecord,
    /// The bytes.
    pub bytes: JobBytes,
    /// Where the outcome goes.
    pub done: oneshot::Sender<PersistOutcome>,
    /// The writer epoch the row must be committed under (cluster mode), `None` on a single node.
    pub fence: Option<i64>,
}

/// How many segment numbers each writer epoch of a stream has to itself: epoch `e` numbers its
/// segments from `e * SEGMENTS_PER_EPOCH` on (see `FragmentStore::number_segments_from`).
/// A billion batches is 30 years of one per second.
pub const SEGMENTS_PER_EPOCH: i64 = 1_000_000_000;

/// What happened to an appended fragment (the durable receipt's answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersistOutcome {
    /// Durable and indexed.
    Persisted,
    /// The stream was deleted before the row could be committed.
    StreamGone,
    /// The stream already had a fragment with this producer timestamp (committed by an earlier
    /// connection of the producer): nothing new was indexed; that fragment's number.
    Duplicate(FragmentNumber),
    /// The store could not write or sync the bytes (e.g. disk full).
    StoreFailed(String),
    /// The index commit failed (or the persister stopped).
    IndexFailed(String),
    /// The stream's data key cannot be had: nothing was stored.
    KeyUnavailable(KeyUnavailable),
    /// Cluster mode: another node claimed the stream since this fragment's session did (its
    /// writer epoch is stale); the row was refused (design/0020-cluster.md).
    Fenced,
}

/// Handle for submitting jobs.
#[derive(Debug, Clone)]
pub struct Persister {
    tx: mpsc::Sender<PersistJob>,
    gate: Arc<tokio::sync::Mutex<()>>,
    /// Jobs submitted and not yet answered (queued or in the running batch).
    unanswered: Arc<AtomicUsize>,
}

impl Persister {
    /// Starts the persister task; every committed fragment is also published on `feed`.
    pub fn start(
        store: Arc<dyn FragmentStore>,
        index: Arc<dyn Index>,
        feed: PersistedFeed,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let gate = Arc::new(tokio::sync::Mutex::new(()));
        let unanswered = Arc::new(AtomicUsize::new(0));
        tokio::spawn(run(rx, store, index, feed, metrics, gate.clone(), unanswered.clone()));
        Self { tx, gate, unanswered }
    }

    /// Waits for the running batch (if any) to finish and keeps the next one from starting until
    /// the guard is dropped.
    pub async fn pause(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.gate.clone().lock_owned().await
    }

    /// Waits (at most `deadline`) until no job is queued and no batch is running.
    pub async fn flush(&self, deadline: Duration) -> bool {
        let until = Instant::now() + deadline;
        loop {
            if self.unanswered.load(Ordering::Acquire) == 0 {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Submits a job; waits only if the queue is full (back-pressure to the producer).
    pub async fn submit(&self, job: PersistJob) -> Result<(), PersistJob> {
        self.unanswered.fetch_add(1, Ordering::AcqRel);
        self.tx.send(job).await.map_err(|e| {
            self.unanswered.fetch_sub(1, Ordering::AcqRel);
            e.0
        })
    }
}

async fn run(
    mut rx: mpsc::Receiver<PersistJob>,
    store: Arc<dyn FragmentStore>,
    index: Arc<dyn Index>,
    feed: PersistedFeed,
    metrics: Arc<Metrics>,
    gate: Arc<tokio::sync::Mutex<()>>,
    unanswered: Arc<AtomicUsize>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let taken = rx.recv_many(&mut batch, MAX_BATCH).await;
        if taken == 0 {
            return;
        }
        // Jobs wait here (not yet appended) while the retention janitor holds the gate.
        let held = gate.clone().lock_owned().await;
        let jobs = std::mem::take(&mut batch);
        commit_batch(jobs, &store, &index, &feed, &metrics).await;
        drop(held);
        unanswered.fetch_sub(taken, Ordering::AcqRel);
    }
}

async fn commit_batch(
    mut jobs: Vec<PersistJob>,
    store: &Arc<dyn FragmentStore>,
    index: &Arc<dyn Index>,
    feed: &PersistedFeed,
    metrics: &Metrics,
) {
    // 1. Append, then sync every touched stream. The bytes move to the store (released as soon
    //    as they are written). A fenced job's segments are numbered in its epoch's own range.
    for job in &jobs {
        if let Some(epoch) = job.fence {
            store.number_segments_from(job.record.stream_id, epoch.saturating_mul(SEGMENTS_PER_EPOCH));
        }
    }
    let items: Vec<FragmentBytes> = jobs
        .iter_mut()
        .filter_map(|j| match &mut j.bytes {
            JobBytes::Parts(parts) => Some(FragmentBytes {
                stream_id: j.record.stream_id,
                tier: j.record.location.tier,
                parts: std::mem::take(parts),
            }),
            JobBytes::Written => None,
        })
        .collect();
    // One location per `Parts` job, in job order; a `Written` job's location is already known.
    let mut appended = if items.is_empty() { Vec::new() } else { store.append(items).await }.into_iter();
    let mut touched = BTreeSet::new();
    let mut results = Vec::with_capacity(jobs.len());
    for mut job in jobs {
        let r = match job.bytes {
            JobBytes::Parts(_) => {
                appended.next().expect("the store answers every append").map(|loc| job.record.location = loc)
            }
            JobBytes::Written => Ok(()),
        };
        if r.is_ok() {
            touched.insert(job.record.stream_id);
        }
        results.push((job, r));
    }
    let synced = if touched.is_empty() {
        Ok(())
    } else {
        store.sync(touched.into_iter().collect()).await.map_err(|e| e.to_string())
    };
    // 2. Split into durable and failed.
    let mut durable = Vec::new();
    for (job, r) in results {
        match (&r, &synced) {
            (Ok(()), Ok(())) => durable.push(job),
            (Err(e), _) => {
                let _ = job.done.send(PersistOutcome::StoreFailed(e.to_string()));
            }
            (Ok(()), Err(e)) => {
                let _ = job.done.send(PersistOutcome::StoreFailed(e.clone()));
            }
        }
    }
    if durable.is_empty() {
        return;
    }
    // 3. One index transaction for the whole batch.
    let rows: Vec<FragmentRecord> = durable.iter().map(|j| j.record.clone()).collect();
    let fences: Vec<Option<i64>> = durable.iter().map(|j| j.fence).collect();
    let started = Instant::now();
    let committed = index.insert_fragments_fenced(&rows, &fences).await;
    metrics.index_call("insert_fragments", started.elapsed(), committed.is_ok());
    match committed {
        Ok(inserted) => {
            for ((job, commit), row) in durable.into_iter().zip(inserted).zip(rows) {
                let outcome = match commit {
                    RowCommit::Inserted => {
                        feed.publish(row);
                        PersistOutcome::Persisted
                    }
                    RowCommit::StreamGone => PersistOutcome::StreamGone,
                    RowCommit::Duplicate(number) => PersistOutcome::Duplicate(number),
                    RowCommit::Fenced => PersistOutcome::Fenced,
                };
                let _ = job.done.send(outcome);
            }
        }
        Err(e) => {
            tracing::error!("index commit of {} fragments failed: {e}", rows.len());
            for job in durable {
                let _ = job.done.send(PersistOutcome::IndexFailed(e.to_string()));
            }
        }
    }
}
