//! PutMedia ingest: a producer's byte stream in, durable indexed fragments and ACK events out.
//!
//! - [`Ingest`] is the service the API layer holds: it registers one session per stream (a second
//!   concurrent PutMedia is refused or replaces the first, per configuration), runs sessions, and
//!   learns about deleted streams so their sessions end with ErrorId 4008.
//! - [`session`] runs one PutMedia body through the pure fragmenter (`media::fragment`) and turns
//!   its events into [`Ack`]s; its doc states when each ACK is sent relative to fsync and commit.
//!   Complete fragments go to the [`Archive`] (its group-commit persister makes them durable).
//! - [`numbers`] issues fragment numbers.
//! - [`live`] is the frame-level live feed that GetMedia tails subscribe to.
//!
//! This layer never imports axum/hyper/http: it takes a `Stream` of `Bytes` and returns a channel
//! of domain ACK events; `api::media::put_media` owns the wire format. It reaches stored fragments
//! only through the archive, and hands nobody else the archive: playback, retention and workers
//! get their own handle from `app`.

pub mod live;
pub mod numbers;
pub mod session;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::watch;

use crate::archive::{Archive, IndexError};
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::model::FragmentNumber;

pub use live::{LiveEvent, LiveHub};
pub use numbers::FragmentNumbers;
pub use session::{Ack, AckKind, SessionParams};

/// What to do when a second PutMedia arrives for a stream that already has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ConcurrentPutMedia {
    /// Refuse the newer connection with `ConnectionLimitExceededException` (current AWS docs).
    #[default]
    RejectNew,
    /// Accept the newer connection and end the older one (older AWS behaviour).
    ReplaceOld,
}

/// `[ingest]` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Largest fragment (Cluster payload), bytes; larger is ErrorId 4001.
    pub max_fragment_bytes: u64,
    /// Longest fragment, ms; longer is ErrorId 4002.
    pub max_fragment_duration_ms: u64,
    /// Most producer metadata tags per fragment; more is ErrorId 4009.
    pub max_metadata_per_fragment: usize,
    /// Interval of IDLE acks while no data arrives, ms.
    pub idle_ack_interval_ms: u64,
    /// A session with no data for this long is closed, seconds.
    pub idle_timeout_secs: u64,
    /// Fragments of one session that may wait for persistence before the body stops being read.
    pub max_pending_fragments: usize,
    /// A second concurrent PutMedia on one stream.
    pub concurrent_put_media: ConcurrentPutMedia,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_fragment_bytes: 50 * 1024 * 1024,
            max_fragment_duration_ms: 20_000,
            max_metadata_per_fragment: 10,
            idle_ack_interval_ms: 3_000,
            idle_timeout_secs: 30,
            max_pending_fragments: 16,
            concurrent_put_media: ConcurrentPutMedia::RejectNew,
        }
    }
}

impl IngestConfig {
    /// Interval of IDLE acks.
    pub fn idle_ack_interval(&self) -> Duration {
        Duration::from_millis(self.idle_ack_interval_ms.max(10))
    }

    /// Idle timeout.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs.max(1))
    }
}

/// Why a running session is being ended from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The stream was deleted (ErrorId 4008).
    StreamDeleted,
    /// A newer PutMedia for the stream replaced this one.
    Replaced,
    /// The server is shutting down.
    Shutdown,
}

#[derive(Debug)]
struct ActiveSession {
    id: u64,
    stop: watch::Sender<Option<StopReason>>,
}

/// A second session for a stream was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimitExceeded;

/// A registered session: ends its registration when dropped.
#[derive(Debug)]
pub struct SessionSlot {
    ingest: Arc<Ingest>,
    stream_id: i64,
    id: u64,
    stop: watch::Receiver<Option<StopReason>>,
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        let mut active = self.ingest.active.lock().unwrap_or_else(|p| p.into_inner());
        if active.get(&self.stream_id).is_some_and(|s| s.id == self.id) {
            active.remove(&self.stream_id);
        }
    }
}

/// The ingest service.
#[derive(Debug)]
pub struct Ingest {
    archive: Arc<Archive>,
    numbers: FragmentNumbers,
    clock: Arc<dyn Clock>,
    config: IngestConfig,
    active: Mutex<HashMap<i64, ActiveSession>>,
    next_id: AtomicU64,
    live: LiveHub,
    metrics: Arc<Metrics>,
    shutting_down: std::sync::atomic::AtomicBool,
}

impl Ingest {
    /// Builds the service over the archive, and subscribes it to the archive's stream deletions
    /// (a deleted stream's session ends with ErrorId 4008).
    pub fn new(
        archive: Arc<Archive>,
        clock: Arc<dyn Clock>,
        config: IngestConfig,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        let ingest = Arc::new(Self {
            archive: archive.clone(),
            numbers: FragmentNumbers::default(),
            clock,
            config,
            active: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            live: LiveHub::default(),
            metrics,
            shutting_down: std::sync::atomic::AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&ingest);
        archive.on_stream_deleted(move |stream_id| {
            if let Some(ingest) = weak.upgrade() {
                ingest.stream_deleted(stream_id);
            }
        });
        ingest
    }

    /// Records `MediaType` for a stream created without one, from the tracks its PutMedia
    /// carries (`video/h264,audio/aac`), as the KVS producer SDKs would have passed it to
    /// CreateStream. A stream that has a MediaType keeps it; the version does not change. Runs in
    /// the background: the session never waits for it.
    pub fn fill_media_type(&self, stream: &crate::model::Stream, tracks: &[crate::media::mkv::TrackEntry]) {
        if stream.media_type.is_some() {
            return;
        }
        let Some(media_type) = crate::media::mkv::tracks::media_type(tracks)
            .and_then(|m| crate::model::MediaType::parse(&m).ok())
            .map(crate::model::MediaType::into_string)
        else {
            return;
        };
        let (archive, id, name) = (self.archive.clone(), stream.id, stream.name.clone());
        tokio::spawn(async move {
            match archive.fill_media_type(id, &media_type).await {
                Ok(true) => {
                    tracing::info!(stream = %name, "MediaType set to {media_type} from the ingested tracks")
                }
                Ok(false) | Err(IndexError::NotFound) => {}
                Err(e) => tracing::warn!(stream = %name, "recording MediaType {media_type} failed: {e}"),
            }
        });
    }

    /// The metrics sessions and the persister record into.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The configuration.
    pub fn config(&self) -> &IngestConfig {
        &self.config
    }

    /// The live feed.
    pub fn live(&self) -> &LiveHub {
        &self.live
    }

    /// Whether a PutMedia session is running for the stream.
    pub fn is_ingesting(&self, stream_id: i64) -> bool {
        self.active.lock().unwrap_or_else(|p| p.into_inner()).contains_key(&stream_id)
    }

    /// Registers a new session for `stream_id`, applying the concurrency rule.
    pub fn register(self: &Arc<Self>, stream_id: i64) -> Result<SessionSlot, ConnectionLimitExceeded> {
        let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = active.get(&stream_id) {
            match self.config.concurrent_put_media {
                ConcurrentPutMedia::RejectNew => return Err(ConnectionLimitExceeded),
                ConcurrentPutMedia::ReplaceOld => {
                    let _ = existing.stop.send(Some(StopReason::Replaced));
                }
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(None);
        if self.shutting_down.load(Ordering::Acquire) {
            // Arrived after shutdown began (on a kept-alive connection): it ends at once.
            let _ = tx.send(Some(StopReason::Shutdown));
        }
        active.insert(stream_id, ActiveSession { id, stop: tx });
        Ok(SessionSlot { ingest: self.clone(), stream_id, id, stop: rx })
    }

    /// Ends the session of a deleted stream (ErrorId 4008) and forgets its numbering; the archive
    /// calls it right after the stream's rows are gone.
    fn stream_deleted(&self, stream_id: i64) {
        if let Some(s) = self.active.lock().unwrap_or_else(|p| p.into_inner()).get(&stream_id) {
            let _ = s.stop.send(Some(StopReason::StreamDeleted));
        }
        self.numbers.forget(stream_id);
        self.live.publish(stream_id, LiveEvent::StreamDeleted);
        self.metrics.forget_stream(stream_id);
    }

    /// Asks every running session to finish its current fragment and stop (sessions registered
    /// later stop at once).
    pub fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        for s in self.active.lock().unwrap_or_else(|p| p.into_inner()).values() {
            let _ = s.stop.send(Some(StopReason::Shutdown));
        }
    }

    /// Number of running sessions.
    pub fn active_sessions(&self) -> usize {
        self.active.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Seeds fragment numbering of a stream from the index (once per session).
    async fn seed_numbers(&self, stream_id: i64) {
        let last: Option<FragmentNumber> = self.archive.last_fragment_number(stream_id).await.ok().flatten();
        self.numbers.seed(stream_id, last.as_ref());
    }
}
