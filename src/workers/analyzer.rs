//! The contract between the worker framework and an analyzer.
//!
//! An [`Analyzer`] receives one persisted fragment at a time as a [`FragmentInput`] (the stream it
//! belongs to, its index record, and a [`MediaSource`] to read its bytes and track header), and
//! returns the events it found as an [`AnalysisOutput`]. The framework owns everything around that:
//! which fragments (durable cursors, catch-up after a stop, at-least-once), when (bounded queues,
//! never blocking ingest), failure handling (panics and errors are isolated and retried with
//! backoff) and where events go (the index, then notifications). Analyzers are compute: they may
//! read media through [`MediaSource`], write artifacts under their own directory and deliver to
//! their configured destinations (reporting how that goes as [`DeliveryStatus`], recording events
//! of work that completes later through [`LateEvents`]), nothing else; they never see HTTP.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::archive::Archive;
use crate::model::{FragmentRecord, ImageGenerationConfig, NotificationConfig, Stream, TagSet};

use super::runner::EventSink;

/// The stream a fragment belongs to, as analyzers see it.
#[derive(Debug, Clone)]
pub struct StreamInfo {
    /// The stream row.
    pub stream: Stream,
    /// Its tags.
    pub tags: TagSet,
    /// Its ImageGenerationConfiguration, if any.
    pub image_generation: Option<ImageGenerationConfig>,
    /// Its NotificationConfiguration, if any.
    pub notification: Option<NotificationConfig>,
}

/// Reads a fragment's stored bytes and its track header.
#[derive(Debug, Clone)]
pub struct MediaSource {
    archive: Arc<Archive>,
}

impl MediaSource {
    /// Builds a source over the archive.
    pub fn new(archive: Arc<Archive>) -> Self {
        Self { archive }
    }

    /// The stored Cluster of a fragment.
    pub async fn cluster(&self, record: &FragmentRecord) -> Result<Bytes, AnalyzerError> {
        self.archive
            .read_fragment(record)
            .await
            .map_err(|e| AnalyzerError::Media(format!("cannot read fragment: {e}")))
    }

    /// The fragment as `imaging` decodes it: its track header and Cluster, placed on the producer
    /// timeline (the time base of thumbnails and motion events).
    pub async fn stored_fragment(
        &self,
        record: &FragmentRecord,
    ) -> Result<crate::imaging::StoredFragment, AnalyzerError> {
        Ok(crate::imaging::StoredFragment {
            header: self.track_header(record).await?,
            cluster: self.cluster(record).await?,
            start_ms: record.producer_ts_ms,
            duration_ms: record.duration_ms,
        })
    }

    /// The EBML header + Segment + Info + Tracks the fragment was sent under.
    pub async fn track_header(&self, record: &FragmentRecord) -> Result<Bytes, AnalyzerError> {
        self.archive
            .track_header(record.stream_id, record.header_id)
            .await
            .map(Bytes::from)
            .map_err(|e| AnalyzerError::Media(format!("cannot read track header: {e}")))
    }
}

/// One fragment handed to an analyzer.
#[derive(Debug, Clone)]
pub struct FragmentInput {
    /// The stream.
    pub stream: Arc<StreamInfo>,
    /// The fragment's index record.
    pub record: Arc<FragmentRecord>,
    /// Where its bytes are.
    pub media: MediaSource,
    /// A directory this analyzer may write artifacts into (created on demand by the analyzer).
    pub artifact_dir: PathBuf,
    /// Records events of this fragment after `analyze` returned (work that completes later).
    pub events: LateEvents,
}

/// Records events of one fragment after [`Analyzer::analyze`] returned, for work that completes
/// later (an image whose upload succeeds after retries). They go where returned events go (the
/// index, then notifications) with the same stream, worker, fragment and server time; the worker's
/// cursor does not wait for them.
#[derive(Debug, Clone)]
pub struct LateEvents {
    sink: Arc<EventSink>,
    stream: Arc<StreamInfo>,
    record: Arc<FragmentRecord>,
}

impl LateEvents {
    pub(crate) fn new(sink: Arc<EventSink>, stream: Arc<StreamInfo>, record: Arc<FragmentRecord>) -> Self {
        Self { sink, stream, record }
    }

    /// Records `events` (best effort: an index error is logged).
    pub async fn record(&self, events: Vec<EventDraft>) {
        self.sink.record(&self.stream, &self.record, events).await;
    }
}

/// How an analyzer's deliveries outside openkvs fare, per destination (e.g. images PUT into an S3
/// bucket): shown in the worker status and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryStatus {
    /// Where to, e.g. `s3://bucket`.
    pub destination: String,
    /// Queued or being sent now.
    pub pending: u64,
    /// Delivered since start.
    pub delivered: u64,
    /// Failed attempts that were retried.
    pub retries: u64,
    /// Given up after every attempt.
    pub failed: u64,
    /// Dropped because the queue was full.
    pub dropped: u64,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// When it happened, epoch ms.
    pub last_error_at_ms: Option<i64>,
}

/// An event an analyzer found; the framework adds stream, worker, fragment and server time.
#[derive(Debug, Clone, PartialEq)]
pub struct EventDraft {
    /// What happened, e.g. `motion_start`, `motion_end`, `image`.
    pub kind: String,
    /// When, producer time, epoch ms.
    pub producer_ts_ms: i64,
    /// When it ended, if it is a span.
    pub end_ts_ms: Option<i64>,
    /// A strength (e.g. the share of changed pixels), if meaningful.
    pub score: Option<f64>,
    /// Anything else, as JSON.
    pub detail: serde_json::Value,
}

/// What an analyzer returns for one fragment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnalysisOutput {
    /// Events found, in time order.
    pub events: Vec<EventDraft>,
}

/// Why an analyzer could not process a fragment.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AnalyzerError {
    /// The media could not be read or decoded; retrying will not help.
    #[error("media: {0}")]
    Media(String),
    /// The codec is not supported by this analyzer; the fragment is skipped.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A transient failure; the framework retries with backoff, at most `max_attempts` times.
    #[error("transient: {0}")]
    Transient(String),
    /// The analyzer's destination is down (e.g. NATS): the framework retries the same fragment
    /// with backoff until it succeeds or the worker is paused; the cursor waits.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// A pluggable analysis worker.
#[async_trait]
pub trait Analyzer: Send + Sync + std::fmt::Debug + 'static {
    /// The worker's name: its cursor key, its name in `openkvs:analyzers` tags and in the config.
    fn name(&self) -> &str;

    /// Whether the analyzer must run on a stream whatever the selection says (e.g. the thumbnail
    /// worker for streams with an ENABLED ImageGenerationConfiguration).
    fn required_for(&self, _stream: &StreamInfo) -> bool {
        false
    }

    /// Processes one fragment. Called for the fragments of one stream in order; never concurrently
    /// for the same stream.
    async fn analyze(&self, input: FragmentInput) -> Result<AnalysisOutput, AnalyzerError>;

    /// Forgets per-stream state (the stream was deleted, or the worker is catching up after a gap).
    fn reset_stream(&self, _stream_id: i64) {}

    /// Its deliveries outside openkvs, per destination; `None` for an analyzer that delivers
    /// nothing itself.
    fn deliveries(&self) -> Option<Vec<DeliveryStatus>> {
        None
    }
}
