//! The group-commit persister: the one place fragment bytes become durable and indexed.
//!
//! Sessions submit [`PersistJob`]s; one task takes every job that is waiting (up to
//! [`MAX_BATCH`]), appends each to the store, fsyncs every touched stream in one parallel `sync`,
//! then inserts all rows in ONE index transaction, and only then answers each job. So a fragment
//! is reported [`PersistOutcome::Persisted`] strictly after its bytes are durable and its row is
//! committed, and hundreds of concurrent streams share one fsync round and one commit per batch
//! instead of paying one each. Jobs of one stream are answered in submission order. Store work runs
//! on a blocking thread; no HTTP here.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::index::Index;
use crate::model::FragmentRecord;
use crate::store::{FragmentStore, StoreError};

/// Most jobs committed together.
pub const MAX_BATCH: usize = 1024;

/// One fragment to persist.
#[derive(Debug)]
pub struct PersistJob {
    /// The row to insert; `location` is filled in by the persister.
    pub record: FragmentRecord,
    /// The bytes to store (concatenated).
    pub parts: Vec<Bytes>,
    /// Where the outcome goes.
    pub done: oneshot::Sender<PersistOutcome>,
}

/// What happened to a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersistOutcome {
    /// Durable and indexed.
    Persisted,
    /// The stream was deleted before the row could be committed.
    StreamGone,
    /// The store could not write or sync the bytes (e.g. disk full).
    StoreFailed(String),
    /// The index commit failed.
    IndexFailed(String),
}

/// Handle for submitting jobs.
#[derive(Debug, Clone)]
pub struct Persister {
    tx: mpsc::Sender<PersistJob>,
}

impl Persister {
    /// Starts the persister task.
    pub fn start(store: Arc<dyn FragmentStore>, index: Arc<dyn Index>) -> Self {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(rx, store, index));
        Self { tx }
    }

    /// Submits a job; waits only if the queue is full (back-pressure to the producer).
    pub async fn submit(&self, job: PersistJob) -> Result<(), PersistJob> {
        self.tx.send(job).await.map_err(|e| e.0)
    }
}

async fn run(mut rx: mpsc::Receiver<PersistJob>, store: Arc<dyn FragmentStore>, index: Arc<dyn Index>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs = std::mem::take(&mut batch);
        commit_batch(jobs, &store, &index).await;
    }
}

async fn commit_batch(jobs: Vec<PersistJob>, store: &Arc<dyn FragmentStore>, index: &Arc<dyn Index>) {
    // 1. Append + fsync on a blocking thread.
    let store2 = store.clone();
    let written = tokio::task::spawn_blocking(move || {
        let items: Vec<(i64, &[Bytes])> =
            jobs.iter().map(|j| (j.record.stream_id, j.parts.as_slice())).collect();
        let locations = store2.append_many(&items);
        let mut touched = BTreeSet::new();
        let mut results: Vec<(PersistJob, Result<(), StoreError>)> = Vec::with_capacity(jobs.len());
        for (mut job, loc) in jobs.into_iter().zip(locations) {
            let r = loc.map(|loc| {
                job.record.location = loc;
                job.record.size_bytes = loc.length as i64;
                touched.insert(job.record.stream_id);
            });
            job.parts = Vec::new(); // release the bytes as soon as they are written
            results.push((job, r));
        }
        let ids: Vec<i64> = touched.into_iter().collect();
        let synced = store2.sync(&ids).map_err(|e| e.to_string());
        (results, synced)
    })
    .await;
    let (results, synced) = match written {
        Ok(v) => v,
        Err(join) => {
            tracing::error!("store thread failed: {join}");
            return; // the jobs' senders are dropped: sessions report an internal error
        }
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
    match index.insert_fragments(&rows).await {
        Ok(inserted) => {
            for (job, ok) in durable.into_iter().zip(inserted) {
                let _ =
                    job.done.send(if ok { PersistOutcome::Persisted } else { PersistOutcome::StreamGone });
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
