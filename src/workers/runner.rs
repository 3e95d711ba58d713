//! Running one worker: its shards, their queues, durable cursors and catch-up.
//!
//! A worker has `shards` tasks; a stream always goes to shard `stream_id % shards`, so one stream's
//! fragments are analysed in order and never concurrently. Each shard has a bounded queue that the
//! dispatcher fills with `try_send` (ingest never waits). A stream is *in sync* after a catch-up
//! read of the index returned everything after its cursor; from then on queued records are
//! analysed directly (records at or before the cursor are skipped). When the queue overflowed or
//! the feed lagged, the dispatcher marks the stream (or the whole shard) for resync and the shard
//! re-reads the index from the cursor: at-least-once, no gap within retention.
//!
//! The cursor (last fragment finished) is stored in the index after the fragment's events are
//! committed. A stream without a cursor starts at the first fragment of the last `backfill_secs`.
//! Every fragment is analysed in its own task, so a panic is contained: the fragment is retried
//! with exponential backoff, and after `max_attempts` failures an `analyzer_error` event records
//! that it was skipped. Pausing stops between fragments; resuming catches up every stream.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::archive::{Archive, IndexError, TimestampKind};
use crate::clock::Clock;
use crate::model::{FragmentNumber, FragmentRecord, NewAnalyzerEvent};

use super::WorkersConfig;
use super::analyzer::{
    AnalysisOutput, Analyzer, AnalyzerError, EventDraft, FragmentInput, LateEvents, MediaSource, StreamInfo,
};
use super::notify::Notifier;
use super::streams::{StreamDirectory, selects};

/// Fragments read from the index per catch-up query.
const CATCH_UP_BATCH: u32 = 64;

/// Counters of one worker, for status and metrics.
#[derive(Debug, Default)]
pub struct WorkerCounters {
    /// Fragments analysed successfully.
    pub processed: AtomicU64,
    /// Fragments skipped after `max_attempts` failures or a media error.
    pub failed: AtomicU64,
    /// Panics caught.
    pub panics: AtomicU64,
    /// Events recorded.
    pub events: AtomicU64,
    /// Records dropped from a full queue (each triggers a resync of its stream).
    pub overflows: AtomicU64,
    /// Catch-up reads of the index.
    pub catch_ups: AtomicU64,
}

/// What shards share with the dispatcher.
#[derive(Debug, Default)]
pub(crate) struct ShardSignals {
    /// Streams whose records were dropped: re-read from the cursor.
    pub resync: Mutex<HashSet<i64>>,
    /// The feed lagged: re-read every stream.
    pub resync_all: AtomicBool,
    /// Wakes an idle shard after a resync was requested.
    pub wake: tokio::sync::Notify,
}

/// Everything a worker's shards use.
#[derive(Debug)]
pub(crate) struct WorkerCore {
    pub analyzer: Arc<dyn Analyzer>,
    pub globs: Vec<String>,
    pub archive: Arc<Archive>,
    pub media: MediaSource,
    pub streams: Arc<StreamDirectory>,
    pub sink: Arc<EventSink>,
    pub clock: Arc<dyn Clock>,
    pub config: WorkersConfig,
    pub artifact_root: PathBuf,
    pub counters: Arc<WorkerCounters>,
    /// Cluster mode: the (worker, stream) pairs this node holds a lease on; `None`: all.
    pub leases: Option<Arc<super::leases::LeaseGate>>,
}

/// Where one worker's events go: the index, then (once committed) the notifier.
#[derive(Debug)]
pub(crate) struct EventSink {
    pub worker: String,
    pub archive: Arc<Archive>,
    pub notifier: Notifier,
    pub clock: Arc<dyn Clock>,
    pub counters: Arc<WorkerCounters>,
}

impl EventSink {
    /// Records events of `record` (best effort: an index error is logged).
    pub async fn record(&self, info: &Arc<StreamInfo>, record: &FragmentRecord, events: Vec<EventDraft>) {
        if events.is_empty() {
            return;
        }
        let now = self.clock.now_millis();
        let rows: Vec<NewAnalyzerEvent> = events
            .into_iter()
            .map(|e| NewAnalyzerEvent {
                stream_id: record.stream_id,
                worker: self.worker.clone(),
                kind: e.kind,
                fragment_number: Some(record.number.clone()),
                producer_ts_ms: e.producer_ts_ms,
                server_ts_ms: record.server_ts_ms,
                end_ts_ms: e.end_ts_ms,
                score: e.score,
                detail: e.detail,
            })
            .collect();
        match self.archive.insert_analyzer_events(&rows, now).await {
            Ok(_) => {
                self.counters.events.fetch_add(rows.len() as u64, Ordering::Relaxed);
                self.notifier.deliver(info, rows);
            }
            Err(e) => tracing::warn!(worker = self.worker, "cannot record events: {e}"),
        }
    }
}

#[derive(Debug, Default)]
struct StreamState {
    cursor: Option<FragmentNumber>,
    loaded: bool,
    in_sync: bool,
}

/// One running shard: the queue's sending side and the stop switch.
#[derive(Debug)]
pub(crate) struct ShardHandle {
    pub tx: mpsc::Sender<Arc<FragmentRecord>>,
    pub signals: Arc<ShardSignals>,
    pub stop: watch::Sender<bool>,
    pub task: tokio::task::JoinHandle<()>,
}

/// Starts shard `shard` of `shards`.
pub(crate) fn start_shard(core: Arc<WorkerCore>, shard: usize, shards: usize) -> ShardHandle {
    let (tx, rx) = mpsc::channel(core.config.queue_capacity.max(1));
    let signals = Arc::new(ShardSignals::default());
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(run_shard(core, shard, shards, rx, signals.clone(), stop_rx));
    ShardHandle { tx, signals, stop, task }
}

async fn run_shard(
    core: Arc<WorkerCore>,
    shard: usize,
    shards: usize,
    mut rx: mpsc::Receiver<Arc<FragmentRecord>>,
    signals: Arc<ShardSignals>,
    stop: watch::Receiver<bool>,
) {
    let mut shard = Shard { core, shard, shards, states: HashMap::new(), stop };
    shard.discover().await;
    let mut sweep = tokio::time::interval(Duration::from_secs(30));
    sweep.tick().await;
    let mut stop = shard.stop.clone();
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            r = rx.recv() => match r {
                Some(record) => shard.on_record(record).await,
                None => return,
            },
            _ = signals.wake.notified() => {}
            // A safety net: streams that were not in sync (an index error) are retried.
            _ = sweep.tick() => shard.retry_unsynced().await,
        }
        if shard.stopped() {
            return;
        }
        if signals.resync_all.swap(false, Ordering::AcqRel) {
            shard.discover().await;
        }
        let marked: Vec<i64> = signals.resync.lock().unwrap_or_else(|p| p.into_inner()).drain().collect();
        for id in marked {
            shard.states.entry(id).or_default().in_sync = false;
            shard.catch_up(id).await;
        }
    }
}

struct Shard {
    core: Arc<WorkerCore>,
    shard: usize,
    shards: usize,
    states: HashMap<i64, StreamState>,
    stop: watch::Receiver<bool>,
}

enum Processed {
    /// Done (analysed, or skipped for good): move the cursor.
    Advance,
    /// Paused or the stream is gone: leave the cursor.
    Stop,
}

impl Shard {
    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    fn owns(&self, stream_id: i64) -> bool {
        stream_id.rem_euclid(self.shards as i64) as usize == self.shard
    }

    /// Whether this node may analyse the stream now (cluster mode: it holds the lease). A stream
    /// it may not is forgotten, so that once leased again its cursor is read afresh (another
    /// node moved it meanwhile).
    fn leased(&mut self, stream_id: i64) -> bool {
        let held = self.core.leases.as_ref().is_none_or(|g| g.holds(self.core.analyzer.name(), stream_id));
        if !held {
            self.states.remove(&stream_id);
        }
        held
    }

    /// Catches up every stream this shard owns (start, resume, feed lag).
    async fn discover(&mut self) {
        let ids = match self.core.archive.stream_ids().await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(worker = self.core.analyzer.name(), "cannot list streams: {e}");
                return;
            }
        };
        let mine: Vec<i64> = ids.into_iter().filter(|id| self.owns(*id) && self.leased(*id)).collect();
        for id in mine {
            if self.stopped() {
                return;
            }
            self.states.entry(id).or_default().in_sync = false;
            self.catch_up(id).await;
        }
    }

    async fn retry_unsynced(&mut self) {
        let ids: Vec<i64> = self.states.iter().filter(|(_, s)| !s.in_sync).map(|(id, _)| *id).collect();
        for id in ids {
            self.catch_up(id).await;
        }
    }

    async fn on_record(&mut self, record: Arc<FragmentRecord>) {
        let id = record.stream_id;
        if !self.leased(id) {
            return;
        }
        let in_sync = self.states.get(&id).is_some_and(|s| s.in_sync);
        if !in_sync {
            self.catch_up(id).await;
            return;
        }
        let Some(info) = self.selected_info(id).await else { return };
        let state = self.states.entry(id).or_default();
        if state.cursor.as_ref().is_some_and(|c| *c >= record.number) {
            return; // already analysed by a catch-up read
        }
        if let Processed::Advance = self.process(&info, record.clone()).await {
            self.advance(id, &record).await;
        }
    }

    /// The stream's info if this worker runs on it now; forgets deleted streams.
    async fn selected_info(&mut self, id: i64) -> Option<Arc<StreamInfo>> {
        match self.core.streams.get(id).await {
            Ok(Some(info)) => selects(self.core.analyzer.as_ref(), &self.core.globs, &info).then_some(info),
            Ok(None) => {
                self.states.remove(&id);
                self.core.analyzer.reset_stream(id);
                None
            }
            Err(e) => {
                tracing::warn!(
                    worker = self.core.analyzer.name(),
                    stream_id = id,
                    "stream lookup failed: {e}"
                );
                self.states.entry(id).or_default().in_sync = false;
                None
            }
        }
    }

    /// Reads the index from the stream's cursor and analyses everything after it.
    async fn catch_up(&mut self, id: i64) {
        if !self.leased(id) {
            return;
        }
        let Some(info) = self.selected_info(id).await else {
            // Not selected: nothing to do, and records arriving later need no catch-up either.
            if let Some(s) = self.states.get_mut(&id) {
                s.in_sync = true;
            }
            return;
        };
        self.core.counters.catch_ups.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.load_cursor(id).await {
            tracing::warn!(worker = self.core.analyzer.name(), stream_id = id, "cursor read failed: {e}");
            return;
        }
        loop {
            if self.stopped() {
                return;
            }
            let cursor = self.states.get(&id).and_then(|s| s.cursor.clone());
            let batch = match self.next_batch(id, cursor.as_ref()).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(
                        worker = self.core.analyzer.name(),
                        stream_id = id,
                        "catch-up read failed: {e}"
                    );
                    return;
                }
            };
            let complete = (batch.len() as u32) < CATCH_UP_BATCH;
            for record in batch {
                if !self.leased(id) {
                    return; // another node takes over from the stored cursor
                }
                let record = Arc::new(record);
                match self.process(&info, record.clone()).await {
                    Processed::Advance => self.advance(id, &record).await,
                    Processed::Stop => return,
                }
            }
            if complete {
                self.states.entry(id).or_default().in_sync = true;
                return;
            }
        }
    }

    async fn load_cursor(&mut self, id: i64) -> Result<(), IndexError> {
        if self.states.get(&id).is_some_and(|s| s.loaded) {
            return Ok(());
        }
        let cursor = self.core.archive.worker_cursor(self.core.analyzer.name(), id).await?;
        let state = self.states.entry(id).or_default();
        state.cursor = cursor;
        state.loaded = true;
        Ok(())
    }

    async fn next_batch(
        &self,
        id: i64,
        cursor: Option<&FragmentNumber>,
    ) -> Result<Vec<FragmentRecord>, IndexError> {
        match cursor {
            Some(c) => self.core.archive.fragments_after(id, Some(c), CATCH_UP_BATCH).await,
            None => {
                // No cursor yet: start with the fragments of the last `backfill_secs`.
                let since = self.core.clock.now_millis() - (self.core.config.backfill_secs as i64) * 1000;
                let Some(first) = self.core.archive.fragment_at(id, TimestampKind::Server, since).await?
                else {
                    return Ok(Vec::new());
                };
                let mut rest =
                    self.core.archive.fragments_after(id, Some(&first.number), CATCH_UP_BATCH - 1).await?;
                rest.insert(0, first);
                Ok(rest)
            }
        }
    }

    async fn advance(&mut self, id: i64, record: &FragmentRecord) {
        let now = self.core.clock.now_millis();
        let name = self.core.analyzer.name();
        match self.core.archive.set_worker_cursor(name, id, &record.number, now).await {
            Ok(()) | Err(IndexError::NotFound) => {}
            Err(e) => tracing::warn!(worker = name, stream_id = id, "cursor write failed: {e}"),
        }
        self.states.entry(id).or_default().cursor = Some(record.number.clone());
    }

    /// Analyses one fragment with panic isolation and retries; records its events.
    async fn process(&mut self, info: &Arc<StreamInfo>, record: Arc<FragmentRecord>) -> Processed {
        let core = self.core.clone();
        let name = core.analyzer.name().to_owned();
        let mut backoff = Duration::from_millis(core.config.retry_backoff_ms.max(1));
        let attempts = core.config.max_attempts.max(1);
        let mut last_error = String::new();
        let mut attempt = 0;
        while attempt < attempts {
            attempt += 1;
            let input = FragmentInput {
                stream: info.clone(),
                record: record.clone(),
                media: core.media.clone(),
                artifact_dir: core.artifact_root.join(&name),
                events: LateEvents::new(core.sink.clone(), info.clone(), record.clone()),
            };
            let analyzer = core.analyzer.clone();
            let result = tokio::spawn(async move { analyzer.analyze(input).await }).await;
            match result {
                Ok(Ok(output)) => {
                    core.counters.processed.fetch_add(1, Ordering::Relaxed);
                    self.record_events(info, &record, output).await;
                    return Processed::Advance;
                }
                Ok(Err(AnalyzerError::Transient(e))) => last_error = e,
                Ok(Err(AnalyzerError::Unavailable(e))) => {
                    // Not the fragment's fault: wait for the destination, without using attempts.
                    tracing::warn!(worker = %name, fragment = %record.number, "destination unavailable: {e}");
                    attempt -= 1;
                }
                Ok(Err(e @ (AnalyzerError::Media(_) | AnalyzerError::Unsupported(_)))) => {
                    core.counters.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(worker = %name, fragment = %record.number, "skipped: {e}");
                    self.record_error(info, &record, &e.to_string()).await;
                    return Processed::Advance;
                }
                Err(join) => {
                    core.counters.panics.fetch_add(1, Ordering::Relaxed);
                    last_error =
                        if join.is_panic() { "analyzer panicked".to_owned() } else { join.to_string() };
                    tracing::error!(worker = %name, fragment = %record.number, attempt, "{last_error}");
                }
            }
            if attempt < attempts {
                let mut stop = self.stop.clone();
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => return Processed::Stop,
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
        core.counters.failed.fetch_add(1, Ordering::Relaxed);
        self.record_error(info, &record, &format!("gave up after {attempts} attempts: {last_error}")).await;
        Processed::Advance
    }

    async fn record_error(&self, info: &Arc<StreamInfo>, record: &FragmentRecord, message: &str) {
        let output = AnalysisOutput {
            events: vec![super::analyzer::EventDraft {
                kind: "analyzer_error".to_owned(),
                producer_ts_ms: record.producer_ts_ms,
                end_ts_ms: None,
                score: None,
                detail: serde_json::json!({ "message": message }),
            }],
        };
        self.record_events(info, record, output).await;
    }

    async fn record_events(&self, info: &Arc<StreamInfo>, record: &FragmentRecord, output: AnalysisOutput) {
        self.core.sink.record(info, record, output.events).await;
    }
}
