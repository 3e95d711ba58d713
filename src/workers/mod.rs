//! Analysis fan-out: pluggable workers that see every persisted fragment, with durable cursors.
//!
//! - [`analyzer`]: the [`Analyzer`] contract (one fragment in, events out) shared by built-in and
//!   external analyzers.
//! - [`runner`]: one worker's shards, bounded queues, cursors in the index, catch-up, panic
//!   isolation and retries.
//! - [`streams`]: stream information cache and the selection rule (config globs, the
//!   `openkvs:analyzers` tag, analyzers required by a stream's configuration).
//! - [`notify`]: delivery of recorded events to webhooks (HMAC-signed, retried) and NATS.
//! - [`leases`]: in cluster mode, the (worker, stream) pairs this node holds a lease on (only
//!   those are analysed here).
//! - [`compute`]: the low-priority thread pool analyzers decode on (ingest keeps the CPU).
//! - [`delivery`]: where generated images go (an S3 bucket under AWS's key layout, or a directory
//!   under the image root) and the S3 uploads, queued and retried off the analysis path.
//! - [`builtin`]: key-frame images, motion detection, object and face detection, and the JetStream "fragment persisted"
//!   publisher.
//!
//! [`Workers`] owns the dispatcher: it subscribes to the archive's [`PersistedFeed`] and offers each
//! record to every running worker's shard queue with `try_send`, so ingest never waits on
//! analysis; a full queue or a lagging feed only marks streams for a catch-up read of the index.
//! This layer never imports axum/http: the admin API in `api` calls [`Workers::status`],
//! [`Workers::pause`] and [`Workers::resume`].

pub mod analyzer;
pub mod builtin;
pub mod compute;
pub mod delivery;
pub mod leases;
pub mod notify;
pub mod runner;
pub mod streams;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc::error::TrySendError;

use crate::archive::{Archive, IndexError, PersistedFeed};
use crate::clock::Clock;

pub use analyzer::{
    AnalysisOutput, Analyzer, AnalyzerError, DeliveryStatus, EventDraft, FragmentInput, LateEvents,
    MediaSource, StreamInfo,
};
pub use notify::{NotificationsConfig, Notifier};
pub use runner::WorkerCounters;
pub use streams::{ANALYZERS_TAG, StreamDirectory};

use runner::{ShardHandle, WorkerCore, start_shard};

/// `[workers]` configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkersConfig {
    /// Run analysis workers at all.
    pub enabled: bool,
    /// Records queued per worker shard before the dispatcher drops them (and the shard re-reads
    /// the index instead).
    pub queue_capacity: usize,
    /// Streams analysed in parallel per worker (a stream always goes to the same shard).
    pub shards: usize,
    /// A worker meeting a stream for the first time starts this many seconds back.
    pub backfill_secs: u64,
    /// Attempts per fragment (panics and transient errors) before it is skipped with an
    /// `analyzer_error` event.
    pub max_attempts: u32,
    /// First retry delay, ms (doubles per attempt, at most 30 s).
    pub retry_backoff_ms: u64,
    /// Cluster mode: how long stream tags and configurations are cached, ms. A change through this
    /// node's API is applied at once (the entry is dropped); the TTL bounds how long a change made
    /// through another node of a cluster takes to apply here. A single node has no other writer,
    /// so there entries live until the API drops them and this is not used.
    pub stream_info_ttl_ms: u64,
    /// The key-frame image worker (`thumbnails`).
    pub thumbnails: builtin::thumbnails::ThumbnailsConfig,
    /// The motion detector (`motion`).
    pub motion: builtin::motion::MotionConfig,
    /// The object and face detector (`detection`).
    pub detection: builtin::detection::DetectionConfig,
    /// Where events go (webhook, NATS) and the JetStream fragment feed.
    pub notifications: NotificationsConfig,
}

impl Default for WorkersConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            queue_capacity: 256,
            shards: 2,
            backfill_secs: 300,
            max_attempts: 3,
            retry_backoff_ms: 200,
            stream_info_ttl_ms: 15_000,
            thumbnails: Default::default(),
            motion: Default::default(),
            detection: Default::default(),
            notifications: Default::default(),
        }
    }
}

/// A worker registered with [`Workers::start`]: the analyzer and the stream-name globs it runs on
/// by default.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    /// The analyzer.
    pub analyzer: Arc<dyn Analyzer>,
    /// Stream-name globs (the `openkvs:analyzers` tag overrides them per stream).
    pub streams: Vec<String>,
}

/// There is no worker of that name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no worker named {0}")]
pub struct UnknownWorker(pub String);

#[derive(Debug)]
struct WorkerSlot {
    core: Arc<WorkerCore>,
    shards: Mutex<Option<Vec<ShardHandle>>>,
}

impl WorkerSlot {
    fn start(&self) {
        let mut shards = self.shards.lock().unwrap_or_else(|p| p.into_inner());
        if shards.is_none() {
            let n = self.core.config.shards.max(1);
            *shards = Some((0..n).map(|i| start_shard(self.core.clone(), i, n)).collect());
        }
    }

    fn stop(&self) -> Vec<tokio::task::JoinHandle<()>> {
        let taken = self.shards.lock().unwrap_or_else(|p| p.into_inner()).take();
        taken
            .into_iter()
            .flatten()
            .map(|s| {
                let _ = s.stop.send(true);
                s.task
            })
            .collect()
    }
}

/// One stream's progress for one worker.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamLag {
    /// The stream's name.
    pub stream_name: String,
    /// The last fragment the worker finished.
    pub cursor: String,
    /// When the cursor last moved, epoch ms.
    pub updated_at_ms: i64,
    /// Fragments after the cursor (counted up to 1,000).
    pub fragments_behind: u64,
    /// Server-time distance from the cursor's fragment to the newest fragment, ms.
    pub ms_behind: i64,
}

/// A worker's status.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerStatus {
    /// Its name.
    pub name: String,
    /// `RUNNING` or `PAUSED`.
    pub running: bool,
    /// Stream-name globs it runs on by default.
    pub streams: Vec<String>,
    /// Fragments analysed since start.
    pub processed: u64,
    /// Fragments skipped after failures.
    pub failed: u64,
    /// Panics caught.
    pub panics: u64,
    /// Events recorded.
    pub events: u64,
    /// Records dropped from full queues.
    pub overflows: u64,
    /// Per-stream progress.
    pub lag: Vec<StreamLag>,
    /// Its deliveries outside openkvs per destination (`None`: it delivers nothing itself).
    pub deliveries: Option<Vec<DeliveryStatus>>,
}

/// The running workers and their dispatcher.
#[derive(Debug)]
pub struct Workers {
    slots: Vec<WorkerSlot>,
    archive: Arc<Archive>,
    streams: Arc<StreamDirectory>,
    dispatcher: Mutex<Option<tokio::task::JoinHandle<()>>>,
    enabled: bool,
}

/// Everything the workers need from the server.
#[derive(Debug, Clone)]
pub struct WorkerEnv {
    /// The archive (stream information, cursors, events, fragments and their bytes).
    pub archive: Arc<Archive>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Where analyzers write artifacts (`<data-dir>/analysis`).
    pub artifact_root: PathBuf,
    /// The root of local (`file://`) image destinations and of images of streams without an
    /// ImageGenerationConfiguration (`<data-dir>/images`).
    pub image_root: PathBuf,
    /// How `s3://` image destinations are reached (connection keys resolved by `app::config`).
    pub image_s3: delivery::S3DestinationConfig,
    /// The key that signs webhook deliveries.
    pub webhook_key: Vec<u8>,
}

impl Workers {
    /// The built-in workers for a configuration (thumbnails, motion, and the JetStream fragment
    /// publisher when NATS is configured).
    pub fn builtin(config: &WorkersConfig, env: &WorkerEnv) -> Vec<WorkerSpec> {
        let mut specs = vec![
            WorkerSpec {
                analyzer: Arc::new(builtin::thumbnails::Thumbnails::new(
                    config.thumbnails.clone(),
                    env.image_root.clone(),
                    Arc::new(delivery::s3::ImageUploads::new(env.image_s3.clone(), env.clock.clone())),
                )),
                streams: config.thumbnails.streams.clone(),
            },
            WorkerSpec {
                analyzer: Arc::new(builtin::motion::Motion::new(config.motion.clone())),
                streams: config.motion.streams.clone(),
            },
            WorkerSpec {
                analyzer: Arc::new(builtin::detection::Detection::new(
                    config.detection.clone(),
                    config.motion.clone(),
                )),
                streams: config.detection.streams.clone(),
            },
        ];
        if let Some(url) = &config.notifications.nats_url {
            specs.push(WorkerSpec {
                analyzer: Arc::new(builtin::jetstream::FragmentPublisher::new(
                    url.clone(),
                    config.notifications.clone(),
                )),
                streams: vec!["*".to_owned()],
            });
        }
        specs
    }

    /// Starts `specs` (all running) and the dispatcher on `feed`. With `leases` (cluster mode) a
    /// worker analyses only the streams whose lease this node holds.
    pub fn start(
        specs: Vec<WorkerSpec>,
        env: WorkerEnv,
        feed: &PersistedFeed,
        config: WorkersConfig,
        leases: Option<Arc<leases::LeaseGate>>,
    ) -> Arc<Self> {
        // Only a cluster has changes this node's API does not see (see `StreamDirectory`).
        let ttl = leases.is_some().then(|| Duration::from_millis(config.stream_info_ttl_ms));
        let streams = Arc::new(StreamDirectory::new(env.archive.clone(), ttl));
        let notifier =
            Notifier::start(config.notifications.clone(), env.webhook_key.clone(), env.clock.clone());
        let media = MediaSource::new(env.archive.clone());
        let slots: Vec<WorkerSlot> = specs
            .into_iter()
            .map(|spec| {
                let counters = Arc::new(WorkerCounters::default());
                let sink = Arc::new(runner::EventSink {
                    worker: spec.analyzer.name().to_owned(),
                    archive: env.archive.clone(),
                    notifier: notifier.clone(),
                    clock: env.clock.clone(),
                    counters: counters.clone(),
                });
                WorkerSlot {
                    core: Arc::new(WorkerCore {
                        analyzer: spec.analyzer,
                        globs: spec.streams,
                        archive: env.archive.clone(),
                        media: media.clone(),
                        streams: streams.clone(),
                        sink,
                        clock: env.clock.clone(),
                        config: config.clone(),
                        artifact_root: env.artifact_root.clone(),
                        counters,
                        leases: leases.clone(),
                    }),
                    shards: Mutex::new(None),
                }
            })
            .collect();
        // Subscribe before the shards' first catch-up read, so nothing committed in between is
        // missed.
        let rx = feed.subscribe();
        let workers = Arc::new(Self {
            slots,
            archive: env.archive.clone(),
            streams,
            dispatcher: Mutex::new(None),
            enabled: config.enabled,
        });
        if config.enabled {
            for slot in &workers.slots {
                slot.start();
            }
            let task = tokio::spawn(dispatch(Arc::downgrade(&workers), rx));
            *workers.dispatcher.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        }
        workers
    }

    /// The workers' names.
    pub fn names(&self) -> Vec<String> {
        self.slots.iter().map(|s| s.core.analyzer.name().to_owned()).collect()
    }

    /// Whether the workers run at all (`[workers] enabled`).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Makes `worker` re-read `stream_id` from its stored cursor (a lease was gained, or another
    /// node persisted fragments of the stream). Unknown or paused workers ignore it.
    pub fn catch_up(&self, worker: &str, stream_id: i64) {
        let Ok(slot) = self.slot(worker) else { return };
        let shards = slot.shards.lock().unwrap_or_else(|p| p.into_inner());
        let Some(shards) = shards.as_ref() else { return };
        let shard = &shards[stream_id.rem_euclid(shards.len() as i64) as usize];
        shard.signals.resync.lock().unwrap_or_else(|p| p.into_inner()).insert(stream_id);
        shard.signals.wake.notify_one();
    }

    /// Another node persisted fragments of `stream_id`: every worker holding its lease here
    /// catches up from its cursor.
    pub fn persisted_elsewhere(&self, stream_id: i64) {
        for slot in &self.slots {
            let name = slot.core.analyzer.name();
            if slot.core.leases.as_ref().is_some_and(|g| g.holds(name, stream_id)) {
                self.catch_up(name, stream_id);
            }
        }
    }

    fn slot(&self, name: &str) -> Result<&WorkerSlot, UnknownWorker> {
        self.slots
            .iter()
            .find(|s| s.core.analyzer.name() == name)
            .ok_or_else(|| UnknownWorker(name.to_owned()))
    }

    /// Stops a worker between fragments and waits (at most 10 s) until it has stopped. Fragments
    /// persisted meanwhile are analysed after [`Workers::resume`].
    pub async fn pause(&self, name: &str) -> Result<(), UnknownWorker> {
        let tasks = self.slot(name)?.stop();
        let _ = tokio::time::timeout(Duration::from_secs(10), futures_util::future::join_all(tasks)).await;
        Ok(())
    }

    /// Restarts a paused worker; it catches up every stream from its cursors.
    pub fn resume(&self, name: &str) -> Result<(), UnknownWorker> {
        self.slot(name)?.start();
        Ok(())
    }

    /// Forgets cached information about a stream (its tags or configuration changed).
    pub fn stream_changed(&self, stream_id: i64) {
        self.streams.invalidate(stream_id);
    }

    /// Stops every worker (bounded by `deadline`): the shutdown order's "drain workers" step.
    pub async fn shutdown(&self, deadline: Duration) {
        if let Some(d) = self.dispatcher.lock().unwrap_or_else(|p| p.into_inner()).take() {
            d.abort();
        }
        let tasks: Vec<_> = self.slots.iter().flat_map(|s| s.stop()).collect();
        let _ = tokio::time::timeout(deadline, futures_util::future::join_all(tasks)).await;
    }

    /// Status and lag of every worker.
    pub async fn status(&self) -> Result<Vec<WorkerStatus>, IndexError> {
        let mut out = Vec::new();
        for slot in &self.slots {
            let core = &slot.core;
            let name = core.analyzer.name();
            let mut lag = Vec::new();
            for cursor in self.archive.worker_cursors(name).await? {
                let Ok(Some(info)) = self.streams.get(cursor.stream_id).await else { continue };
                let behind = self
                    .archive
                    .fragments_after(cursor.stream_id, Some(&cursor.fragment_number), 1000)
                    .await?;
                let ms_behind = match (
                    behind.last(),
                    self.archive.fragment(cursor.stream_id, &cursor.fragment_number).await,
                ) {
                    (Some(newest), Ok(at)) => newest.server_ts_ms - at.server_ts_ms,
                    _ => 0,
                };
                lag.push(StreamLag {
                    stream_name: info.stream.name.as_str().to_owned(),
                    cursor: cursor.fragment_number.as_str().to_owned(),
                    updated_at_ms: cursor.updated_at_ms,
                    fragments_behind: behind.len() as u64,
                    ms_behind,
                });
            }
            let c = &core.counters;
            out.push(WorkerStatus {
                name: name.to_owned(),
                running: slot.shards.lock().unwrap_or_else(|p| p.into_inner()).is_some(),
                streams: core.globs.clone(),
                processed: c.processed.load(Ordering::Relaxed),
                failed: c.failed.load(Ordering::Relaxed),
                panics: c.panics.load(Ordering::Relaxed),
                events: c.events.load(Ordering::Relaxed),
                overflows: c.overflows.load(Ordering::Relaxed),
                lag,
                deliveries: core.analyzer.deliveries(),
            });
        }
        Ok(out)
    }
}

/// The dispatcher: persisted records → every running worker's shard queue, never waiting.
async fn dispatch(
    workers: std::sync::Weak<Workers>,
    mut rx: tokio::sync::broadcast::Receiver<Arc<crate::model::FragmentRecord>>,
) {
    loop {
        let received = rx.recv().await;
        let Some(workers) = workers.upgrade() else { return };
        match received {
            Ok(record) => {
                for slot in &workers.slots {
                    let shards = slot.shards.lock().unwrap_or_else(|p| p.into_inner());
                    let Some(shards) = shards.as_ref() else { continue };
                    let shard = &shards[record.stream_id.rem_euclid(shards.len() as i64) as usize];
                    match shard.tx.try_send(record.clone()) {
                        Ok(()) | Err(TrySendError::Closed(_)) => {}
                        Err(TrySendError::Full(_)) => {
                            slot.core.counters.overflows.fetch_add(1, Ordering::Relaxed);
                            shard
                                .signals
                                .resync
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .insert(record.stream_id);
                            shard.signals.wake.notify_one();
                        }
                    }
                }
            }
            Err(RecvError::Lagged(n)) => {
                tracing::warn!("analysis dispatcher lagged by {n} fragments; workers re-read the index");
                for slot in &workers.slots {
                    if let Some(shards) = slot.shards.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                        for s in shards {
                            s.signals.resync_all.store(true, Ordering::Release);
                            s.signals.wake.notify_one();
                        }
                    }
                }
            }
            Err(RecvError::Closed) => return,
        }
    }
}
