//! Process metrics: counters, gauges and histograms the server updates as it works, kept in a
//! `prometheus-client` registry and rendered in the Prometheus text exposition format (0.0.4).
//!
//! Owns [`Metrics`] (one per server, shared by `Arc`), the per-session handles of one stream's
//! series ([`StreamIngestMetrics`] for a PutMedia session, [`GetMediaStreamMetrics`] for a
//! GetMedia reader), per-operation request series ([`OperationMetrics`]) and [`Metrics::render`].
//! Ingest, playback, retention and the HTTP edge call the `record`-style methods; values that are
//! cheaper to read than to track (store bytes, worker lag, `process_*` from procfs, per-stream
//! ages) are computed at scrape time.
//!
//! Why `prometheus-client` (the Prometheus project's Rust client) rather than the `metrics` facade
//! and its exporter: the facade installs one global recorder per process, while a test process
//! runs many servers that must each count their own; the client's registry is a plain value per
//! server, its counters are atomics handed out once (nothing is looked up per fragment or per
//! request), and it pulls no HTTP server or extra runtime (`api::metrics` serves the text).
//!
//! Names follow the Prometheus conventions (base units, `_total`, `_seconds`, `_bytes`) and each
//! HELP text names the Kinesis Video Streams CloudWatch metric the series corresponds to (README,
//! "Metrics"). Label sets are bounded: operations are a fixed set of `&'static str`, PutMedia
//! ErrorIds a small code-defined set, workers the configured ones, and the `stream` label stops at
//! [`MAX_STREAM_LABELS`] streams, later ones sharing `stream="_other"` (a deleted stream's label
//! is freed and its counts folded into `_other`, so sums over streams never go down).
//!
//! This module must not know HTTP (no axum/hyper/http); its only I/O is [`process`] reading procfs.

pub mod process;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, prometheus_text};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use self::process::ProcessStats;

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// `[metrics]` configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// A separate plain-HTTP listener serving only `/metrics`, `/health` and `/ready` (e.g.
    /// `0.0.0.0:9464` for a Prometheus on another host). Absent: they are served on the main
    /// listener(s) only. They are served on the main listener either way.
    pub listen: Option<std::net::SocketAddr>,
}

/// Most distinct stream names that get their own `stream` label on the per-stream series; later
/// streams share `stream="_other"`, so a server with thousands of streams cannot blow up the scrape.
pub const MAX_STREAM_LABELS: usize = 256;

/// The label value for streams past [`MAX_STREAM_LABELS`].
pub const OTHER_STREAM_LABEL: &str = "_other";

/// Histogram bucket upper bounds, seconds: 1 ms … 30 s (ACK latency, request latency, index
/// commits, fragment ingestion all fall in this range).
pub const LATENCY_BUCKETS_SECS: [f64; 15] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0];

/// Bucket upper bounds of the streamed store writes, seconds: 10 µs … 1 s (a page-cache copy of a
/// 16 KiB chunk takes a few µs; ms mean the kernel is throttling dirty pages).
pub const STORE_WRITE_BUCKETS_SECS: [f64; 11] =
    [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0];

/// A streamed store write slower than this is counted in `openkvs_store_slow_writes`.
pub const SLOW_STORE_WRITE: Duration = Duration::from_millis(10);

/// An HLS/DASH session counts as an active reader this long after its last request (players poll
/// the media playlist every few seconds and buffer at most ~30 s ahead).
pub const SESSION_READER_WINDOW: Duration = Duration::from_secs(60);

/// Most HLS/DASH sessions tracked at once for the active-reader gauge.
pub const MAX_TRACKED_SESSIONS: usize = 10_000;

/// A label set: `[("stream", "cam-1")]`, `[("operation", "GetMedia"), ("class", "4xx")]`, …
type Labels = Vec<(&'static str, String)>;

/// A gauge holding seconds.
type SecondsGauge = Gauge<f64, AtomicU64>;

/// A family of latency histograms with [`LATENCY_BUCKETS_SECS`].
type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS_SECS)
}

fn labels(key: &'static str, value: &str) -> Labels {
    vec![(key, value.to_owned())]
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The PutMedia ACK types whose latency is measured (fragment's last byte received → ACK sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckLatencyKind {
    /// RECEIVED.
    Received,
    /// PERSISTED.
    Persisted,
}

/// The ways a client reads media back, for `openkvs_active_readers{protocol}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReaderProtocol {
    /// A GetMedia response being streamed.
    GetMedia,
    /// An HLS streaming session that requested a resource within [`SESSION_READER_WINDOW`].
    Hls,
    /// A DASH streaming session, likewise.
    Dash,
}

impl ReaderProtocol {
    fn label(self) -> &'static str {
        match self {
            ReaderProtocol::GetMedia => "GetMedia",
            ReaderProtocol::Hls => "HLS",
            ReaderProtocol::Dash => "DASH",
        }
    }
}

/// What the janitor did in one pass (for [`Metrics::record_retention`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPass {
    /// Fragment rows deleted from the index.
    pub fragments_deleted: u64,
    /// Segment files unlinked.
    pub segments_deleted: u64,
    /// Bytes those segments held.
    pub bytes_reclaimed: u64,
    /// Directories of deleted streams removed.
    pub orphan_streams_removed: u64,
}

/// Values read at scrape time rather than tracked.
#[derive(Debug, Default, Clone)]
pub struct ScrapeInputs {
    /// `FragmentStore::bytes_stored`.
    pub store_bytes: u64,
    /// Every worker's counters and lag. `None` when the status could not be read in time (the
    /// worker series are then omitted, not reported as zero).
    pub workers: Option<Vec<WorkerLag>>,
}

/// One worker's counters and lag, as scraped.
#[derive(Debug, Default, Clone)]
pub struct WorkerLag {
    /// Worker name.
    pub name: String,
    /// Whether it is running (not paused).
    pub running: bool,
    /// Fragments processed.
    pub processed: u64,
    /// Fragments that failed every attempt.
    pub failed: u64,
    /// Analyzer panics caught.
    pub panics: u64,
    /// Events emitted.
    pub events: u64,
    /// Largest fragments-behind over its streams.
    pub max_fragments_behind: u64,
    /// Largest milliseconds-behind over its streams.
    pub max_ms_behind: i64,
    /// Its deliveries outside openkvs summed over destinations (`None`: it delivers nothing).
    pub uploads: Option<UploadTotals>,
}

/// A worker's uploads (the thumbnails worker's S3 images), summed over its destinations.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UploadTotals {
    /// Queued or in flight now.
    pub pending: u64,
    /// Delivered.
    pub delivered: u64,
    /// Failed attempts that were retried.
    pub retries: u64,
    /// Given up after every attempt.
    pub failed: u64,
    /// Dropped because the queue was full.
    pub dropped: u64,
}

/// The per-stream families (label `stream`).
#[derive(Debug, Default)]
struct StreamFamilies {
    incoming_bytes: Family<Labels, Counter>,
    incoming_fragments: Family<Labels, Counter>,
    incoming_frames: Family<Labels, Counter>,
    persisted_fragments: Family<Labels, Counter>,
    without_key_frame: Family<Labels, Counter>,
    put_media_sessions: Family<Labels, Counter>,
    get_media_bytes: Family<Labels, Counter>,
    get_media_fragments: Family<Labels, Counter>,
}

impl StreamFamilies {
    fn counters(&self) -> [&Family<Labels, Counter>; 8] {
        [
            &self.incoming_bytes,
            &self.incoming_fragments,
            &self.incoming_frames,
            &self.persisted_fragments,
            &self.without_key_frame,
            &self.put_media_sessions,
            &self.get_media_bytes,
            &self.get_media_fragments,
        ]
    }
}

/// The series of one `stream` label, shared by every session and reader of that stream.
#[derive(Debug)]
struct StreamSeries {
    label: Labels,
    /// The stream id last seen under this name (`-1` for `_other`), so a deletion frees the label.
    stream_id: AtomicI64,
    /// In the order of [`StreamFamilies::counters`].
    counters: [Counter; 8],
    /// PutMedia sessions open.
    producers: AtomicI64,
    /// GetMedia readers open.
    readers: AtomicI64,
    /// When the last complete fragment arrived, nanoseconds since [`Metrics`] started, plus one
    /// (0: none since start).
    last_fragment_at: AtomicU64,
    /// Distance behind now of the last fragment a GetMedia reader sent, ms.
    behind_now_ms: AtomicI64,
}

const INCOMING_BYTES: usize = 0;
const INCOMING_FRAGMENTS: usize = 1;
const INCOMING_FRAMES: usize = 2;
const PERSISTED_FRAGMENTS: usize = 3;
const WITHOUT_KEY_FRAME: usize = 4;
const PUT_MEDIA_SESSIONS: usize = 5;
const GET_MEDIA_BYTES: usize = 6;
const GET_MEDIA_FRAGMENTS: usize = 7;

impl StreamSeries {
    fn new(families: &StreamFamilies, name: &str, stream_id: i64) -> Self {
        let label = labels("stream", name);
        let counters = families.counters().map(|f| f.get_or_create_owned(&label));
        Self {
            label,
            stream_id: AtomicI64::new(stream_id),
            counters,
            producers: AtomicI64::new(0),
            readers: AtomicI64::new(0),
            last_fragment_at: AtomicU64::new(0),
            behind_now_ms: AtomicI64::new(0),
        }
    }
}

/// A PutMedia session's handle on its stream's series. While it lives the stream counts one
/// connected producer (`openkvs_stream_producer_connected`); it also remembers when the fragment
/// in progress started, for the ingestion latency.
#[derive(Debug)]
pub struct StreamIngestMetrics {
    series: Arc<StreamSeries>,
    fragment_started: Mutex<Option<Instant>>,
}

impl Drop for StreamIngestMetrics {
    fn drop(&mut self) {
        self.series.producers.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A GetMedia reader's handle on its stream's series; while it lives the stream counts one active
/// GetMedia reader.
#[derive(Debug)]
pub struct GetMediaStreamMetrics {
    series: Arc<StreamSeries>,
}

impl GetMediaStreamMetrics {
    /// Response bytes handed to the client (KVS: GetMedia.OutgoingBytes).
    pub fn bytes_sent(&self, n: u64) {
        self.series.counters[GET_MEDIA_BYTES].inc_by(n);
    }

    /// A fragment was sent whole, `behind_ms` behind now (its server timestamp to now; 0 for a
    /// live fragment): KVS GetMedia.OutgoingFragments and GetMedia.MillisBehindNow.
    pub fn fragment_sent(&self, behind_ms: i64) {
        self.series.counters[GET_MEDIA_FRAGMENTS].inc();
        self.series.behind_now_ms.store(behind_ms.max(0), Ordering::Relaxed);
    }
}

impl Drop for GetMediaStreamMetrics {
    fn drop(&mut self) {
        self.series.readers.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The request series of one API operation (or HLS/DASH session resource).
#[derive(Debug)]
pub struct OperationMetrics {
    requests: Counter,
    client_errors: Counter,
    server_errors: Counter,
    bytes_out: Counter,
    latency: Histogram,
}

impl OperationMetrics {
    /// A request was answered with `status` after `latency` (to the response head).
    pub fn answered(&self, status: u16, latency: Duration) {
        self.latency.observe(latency.as_secs_f64());
        self.requests.inc();
        match status {
            400..=499 => {
                self.client_errors.inc();
            }
            500..=599 => {
                self.server_errors.inc();
            }
            _ => {}
        }
    }

    /// Response body bytes sent.
    pub fn bytes_sent(&self, n: u64) {
        self.bytes_out.inc_by(n);
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.requests.get()
    }
}

/// Decrements the PutMedia connection gauge when dropped.
#[derive(Debug)]
pub struct ConnectionGuard {
    metrics: Arc<Metrics>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.metrics.put_media_connections.dec();
    }
}

/// The TURN relay's series (`crate::turn_relay` updates them).
#[derive(Debug, Clone, Default)]
pub struct TurnMetrics {
    /// Allocations created.
    pub allocations: Counter,
    /// Allocations alive now.
    pub active: Gauge,
    /// Bytes relayed through relayed-transport sockets, both directions.
    pub relayed_bytes: Counter,
    /// Requests refused for expired or malformed credentials (a wrong password fails
    /// MESSAGE-INTEGRITY inside the TURN server and is not counted here).
    pub refused: Counter,
}

/// Every metric of one server.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Start of the monotonic clock per-stream ages are measured on.
    epoch: Instant,
    put_media_connections: Gauge,
    put_media_sessions: Counter,
    put_media_connection_errors: Counter,
    ingest_bytes: Counter,
    ingest_fragments: Counter,
    ingest_frames: Counter,
    persisted_fragments: Counter,
    fragments_without_key_frame: Counter,
    ack_latency: HistogramFamily,
    ingestion_latency: Histogram,
    error_ids: Family<Labels, Counter>,
    stream_families: StreamFamilies,
    streams: Mutex<HashMap<String, Arc<StreamSeries>>>,
    other_stream: Arc<StreamSeries>,
    requests: Family<Labels, Counter>,
    request_errors: Family<Labels, Counter>,
    response_bytes: Family<Labels, Counter>,
    request_latency: HistogramFamily,
    operations: Mutex<HashMap<&'static str, Arc<OperationMetrics>>>,
    /// HLS/DASH sessions by a hash of their token: protocol and last request.
    sessions: Mutex<HashMap<u64, (ReaderProtocol, Instant)>>,
    index_calls: HistogramFamily,
    index_errors: Counter,
    store_writes: Histogram,
    store_slow_writes: Counter,
    retention_runs: Counter,
    retention_failures: Counter,
    retention_fragments: Counter,
    retention_segments: Counter,
    retention_bytes: Counter,
    retention_orphans: Counter,
    retention_last_run: SecondsGauge,
    turn: TurnMetrics,
    webrtc_viewer_audio_frames: Counter,
}

impl Metrics {
    /// A fresh set of metrics, all zero.
    pub fn new() -> Arc<Self> {
        let mut r = Registry::default();
        let put_media_connections = Gauge::default();
        r.register(
            "openkvs_put_media_active_connections",
            "PutMedia connections open now (KVS: PutMedia.ActiveConnections)",
            put_media_connections.clone(),
        );
        let put_media_sessions = Counter::default();
        r.register(
            "openkvs_put_media_sessions",
            "PutMedia sessions started (KVS: PutMedia.Requests; per stream in openkvs_stream_put_media_sessions_total)",
            put_media_sessions.clone(),
        );
        let put_media_connection_errors = Counter::default();
        r.register(
            "openkvs_put_media_connection_errors",
            "PutMedia requests refused before a session started (KVS: PutMedia.ConnectionErrors)",
            put_media_connection_errors.clone(),
        );
        let ingest_bytes = Counter::default();
        r.register(
            "openkvs_put_media_incoming_bytes",
            "PutMedia body bytes received (KVS: PutMedia.IncomingBytes)",
            ingest_bytes.clone(),
        );
        let ingest_fragments = Counter::default();
        r.register(
            "openkvs_put_media_incoming_fragments",
            "Fragments received complete (KVS: PutMedia.IncomingFragments)",
            ingest_fragments.clone(),
        );
        let ingest_frames = Counter::default();
        r.register(
            "openkvs_put_media_incoming_frames",
            "Frames of the fragments received complete (KVS: PutMedia.IncomingFrames)",
            ingest_frames.clone(),
        );
        let persisted_fragments = Counter::default();
        r.register(
            "openkvs_put_media_persisted_fragments",
            "Fragments made durable and indexed, i.e. PERSISTED ACKs (KVS: PutMedia.IncomingFragments minus archival errors)",
            persisted_fragments.clone(),
        );
        let fragments_without_key_frame = Counter::default();
        r.register(
            "openkvs_put_media_fragments_without_key_frame",
            "Fragments received whose video track does not start on a key frame: no player can decode them from their start (the producer does not cut fragments at key frames)",
            fragments_without_key_frame.clone(),
        );
        let ack_latency = HistogramFamily::new_with_constructor(latency_histogram);
        r.register(
            "openkvs_put_media_ack_latency_seconds",
            "Fragment's last byte received to its ACK sent, by ACK type (KVS: PutMedia.ReceivedAckLatency for RECEIVED; PutMedia.PersistedAckLatency and PutMedia.FragmentPersistLatency for PERSISTED, which is sent once the fragment is durable and indexed)",
            ack_latency.clone(),
        );
        let ingestion_latency = latency_histogram();
        r.register(
            "openkvs_put_media_fragment_ingestion_latency_seconds",
            "Fragment's first byte received to its last byte received (KVS: PutMedia.FragmentIngestionLatency); about the fragment duration for a real-time producer",
            ingestion_latency.clone(),
        );
        let error_ids = Family::<Labels, Counter>::default();
        r.register(
            "openkvs_put_media_errors",
            "ERROR ACKs sent, by KVS ErrorId (KVS: PutMedia.ErrorAckCount; the ErrorId is the one the producer SDK reports)",
            error_ids.clone(),
        );

        let stream_families = StreamFamilies::default();
        let f = &stream_families;
        for (name, help, family) in [
            (
                "openkvs_stream_incoming_bytes",
                "PutMedia body bytes received per stream (KVS: PutMedia.IncomingBytes by StreamName; at most 256 stream labels, the rest under stream=\"_other\")",
                &f.incoming_bytes,
            ),
            (
                "openkvs_stream_incoming_fragments",
                "Fragments received per stream (KVS: PutMedia.IncomingFragments by StreamName)",
                &f.incoming_fragments,
            ),
            (
                "openkvs_stream_incoming_frames",
                "Frames received per stream (KVS: PutMedia.IncomingFrames by StreamName)",
                &f.incoming_frames,
            ),
            ("openkvs_stream_persisted_fragments", "Fragments persisted per stream", &f.persisted_fragments),
            (
                "openkvs_stream_fragments_without_key_frame",
                "Fragments received per stream whose video track does not start on a key frame (a misconfigured producer)",
                &f.without_key_frame,
            ),
            (
                "openkvs_stream_put_media_sessions",
                "PutMedia sessions started per stream (KVS: PutMedia.Requests by StreamName)",
                &f.put_media_sessions,
            ),
            (
                "openkvs_stream_get_media_outgoing_bytes",
                "GetMedia response bytes sent per stream (KVS: GetMedia.OutgoingBytes by StreamName)",
                &f.get_media_bytes,
            ),
            (
                "openkvs_stream_get_media_outgoing_fragments",
                "Fragments GetMedia sent whole per stream (KVS: GetMedia.OutgoingFragments by StreamName)",
                &f.get_media_fragments,
            ),
        ] {
            r.register(name, help, family.clone());
        }
        let other_stream = Arc::new(StreamSeries::new(&stream_families, OTHER_STREAM_LABEL, -1));

        let requests = Family::<Labels, Counter>::default();
        r.register(
            "openkvs_requests",
            "Requests answered per operation (KVS: <Operation>.Requests, e.g. GetMedia.Requests, ListFragments.Requests; HLS/DASH session resources under their KVS names, e.g. GetHLSMediaPlaylist.Requests, GetMP4MediaFragment.Requests)",
            requests.clone(),
        );
        let request_errors = Family::<Labels, Counter>::default();
        r.register(
            "openkvs_request_errors",
            "Requests answered with an error status per operation and class (KVS: <Operation>.Success is 1 minus the error ratio)",
            request_errors.clone(),
        );
        let response_bytes = Family::<Labels, Counter>::default();
        r.register(
            "openkvs_response_bytes",
            "Response body bytes sent per operation (KVS: GetMedia.OutgoingBytes, GetMediaForFragmentList.OutgoingBytes, GetClip.OutgoingBytes, GetMP4MediaFragment.OutgoingBytes, GetTSFragment.OutgoingBytes)",
            response_bytes.clone(),
        );
        let request_latency = HistogramFamily::new_with_constructor(latency_histogram);
        r.register(
            "openkvs_request_latency_seconds",
            "Request arrival to response head per operation (KVS: <Operation>.Latency, e.g. ListFragments.Latency, GetHLSMediaPlaylist.Latency, PutMedia.Latency)",
            request_latency.clone(),
        );

        let index_calls = HistogramFamily::new_with_constructor(latency_histogram);
        r.register(
            "openkvs_index_call_seconds",
            "Index (metadata database) call latency by call; insert_fragments is the group commit every PERSISTED ACK waits for (no KVS equivalent)",
            index_calls.clone(),
        );
        let index_errors = Counter::default();
        r.register("openkvs_index_call_errors", "Index calls that failed", index_errors.clone());

        let store_writes = Histogram::new(STORE_WRITE_BUCKETS_SECS);
        r.register(
            "openkvs_store_write_seconds",
            "Page-cache writes of fragments streamed into the local store, each made on the ingest task that received the bytes (a slow one holds a runtime worker: the kernel throttling dirty pages)",
            store_writes.clone(),
        );
        let store_slow_writes = Counter::default();
        r.register(
            "openkvs_store_slow_writes",
            "Streamed page-cache writes of the local store that took longer than 10 ms",
            store_slow_writes.clone(),
        );

        let mut counter = |name: &str, help: &str| {
            let c = Counter::default();
            r.register(name, help, c.clone());
            c
        };
        let retention_runs = counter("openkvs_retention_runs", "Retention janitor passes");
        let retention_failures = counter(
            "openkvs_retention_failed_runs",
            "Retention janitor passes that hit an error (retried next pass)",
        );
        let retention_fragments = counter(
            "openkvs_retention_deleted_fragments",
            "Fragments past their stream's DataRetentionInHours removed from the index",
        );
        let retention_segments =
            counter("openkvs_retention_deleted_segments", "Segment files reclaimed by retention");
        let retention_bytes = counter("openkvs_retention_reclaimed_bytes", "Bytes reclaimed by retention");
        let retention_orphans = counter(
            "openkvs_retention_orphan_streams_removed",
            "Store directories of deleted streams removed by the janitor",
        );
        let retention_last_run = SecondsGauge::default();
        r.register(
            "openkvs_retention_last_run_timestamp_seconds",
            "When the last retention pass finished (server clock), Unix seconds; 0 before the first",
            retention_last_run.clone(),
        );
        let turn = TurnMetrics::default();
        r.register(
            "openkvs_turn_allocations",
            "TURN relay allocations created (openkvs's own relay, [turn])",
            turn.allocations.clone(),
        );
        r.register(
            "openkvs_turn_active_allocations",
            "TURN relay allocations alive now",
            turn.active.clone(),
        );
        r.register(
            "openkvs_turn_relayed_bytes",
            "Bytes relayed by the TURN relay between its allocations and their peers, both directions",
            turn.relayed_bytes.clone(),
        );
        r.register(
            "openkvs_turn_refused_credentials",
            "TURN requests refused for expired or malformed credentials",
            turn.refused.clone(),
        );
        let webrtc_viewer_audio_frames = Counter::default();
        r.register(
            "openkvs_webrtc_viewer_audio_frames",
            "Audio frames received from JoinStorageSessionAsViewer viewers (received, not stored or forwarded)",
            webrtc_viewer_audio_frames.clone(),
        );
        r.register(
            "openkvs_build",
            "The running build: version and profile; always 1",
            Info::new(vec![
                ("version", env!("CARGO_PKG_VERSION").to_owned()),
                ("profile", if cfg!(debug_assertions) { "debug" } else { "release" }.to_owned()),
            ]),
        );

        Arc::new(Self {
            registry: r,
            epoch: Instant::now(),
            put_media_connections,
            put_media_sessions,
            put_media_connection_errors,
            ingest_bytes,
            ingest_fragments,
            ingest_frames,
            persisted_fragments,
            fragments_without_key_frame,
            ack_latency,
            ingestion_latency,
            error_ids,
            stream_families,
            streams: Mutex::new(HashMap::new()),
            other_stream,
            requests,
            request_errors,
            response_bytes,
            request_latency,
            operations: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            index_calls,
            index_errors,
            store_writes,
            store_slow_writes,
            retention_runs,
            retention_failures,
            retention_fragments,
            retention_segments,
            retention_bytes,
            retention_orphans,
            retention_last_run,
            turn,
            webrtc_viewer_audio_frames,
        })
    }

    /// The TURN relay's series.
    pub fn turn(&self) -> TurnMetrics {
        self.turn.clone()
    }

    /// The counter of audio frames received from storage-session viewers.
    pub fn webrtc_viewer_audio_frames(&self) -> Counter {
        self.webrtc_viewer_audio_frames.clone()
    }

    /// A PutMedia session started; the gauge goes down when the guard drops.
    pub fn put_media_started(self: &Arc<Self>) -> ConnectionGuard {
        self.put_media_connections.inc();
        self.put_media_sessions.inc();
        ConnectionGuard { metrics: self.clone() }
    }

    /// A PutMedia request was refused before a session started (HTTP error answer).
    pub fn put_media_refused(&self) {
        self.put_media_connection_errors.inc();
    }

    /// The series of a stream label: the stream's own while fewer than [`MAX_STREAM_LABELS`]
    /// names have one, else `_other`.
    fn stream_series(&self, stream_id: i64, name: &str) -> Arc<StreamSeries> {
        let mut map = lock(&self.streams);
        if let Some(s) = map.get(name) {
            s.stream_id.store(stream_id, Ordering::Relaxed);
            return s.clone();
        }
        if map.len() >= MAX_STREAM_LABELS {
            return self.other_stream.clone();
        }
        let s = Arc::new(StreamSeries::new(&self.stream_families, name, stream_id));
        map.insert(name.to_owned(), s.clone());
        s
    }

    /// A PutMedia session's handle on its stream's series (taken once per session; the stream
    /// counts a connected producer until it drops).
    pub fn stream_ingest(&self, stream_id: i64, stream_name: &str) -> Arc<StreamIngestMetrics> {
        let series = self.stream_series(stream_id, stream_name);
        series.producers.fetch_add(1, Ordering::Relaxed);
        series.counters[PUT_MEDIA_SESSIONS].inc();
        Arc::new(StreamIngestMetrics { series, fragment_started: Mutex::new(None) })
    }

    /// A GetMedia reader's handle on its stream's series (the stream counts an active reader
    /// until it drops).
    pub fn get_media_reader(&self, stream_id: i64, stream_name: &str) -> GetMediaStreamMetrics {
        let series = self.stream_series(stream_id, stream_name);
        series.readers.fetch_add(1, Ordering::Relaxed);
        GetMediaStreamMetrics { series }
    }

    /// Forgets a deleted stream's label: its series leave the next scrape and its counts move to
    /// `_other` (sums over streams never go down); the label is free for another stream.
    pub fn forget_stream(&self, stream_id: i64) {
        let removed = {
            let mut map = lock(&self.streams);
            let name = map
                .iter()
                .find(|(_, s)| s.stream_id.load(Ordering::Relaxed) == stream_id)
                .map(|(n, _)| n.clone());
            name.and_then(|n| map.remove(&n))
        };
        let Some(series) = removed else { return };
        for (i, family) in self.stream_families.counters().into_iter().enumerate() {
            self.other_stream.counters[i].inc_by(series.counters[i].get());
            family.remove(&series.label);
        }
    }

    /// Body bytes received on a PutMedia session.
    pub fn ingest_bytes(&self, stream: &StreamIngestMetrics, n: u64) {
        stream.series.counters[INCOMING_BYTES].inc_by(n);
        self.ingest_bytes.inc_by(n);
    }

    /// The session's demuxer saw a new fragment (Cluster) start.
    pub fn fragment_started(&self, stream: &StreamIngestMetrics) {
        *lock(&stream.fragment_started) = Some(Instant::now());
    }

    /// A fragment was received complete.
    pub fn fragment_received(&self, stream: &StreamIngestMetrics) {
        stream.series.counters[INCOMING_FRAGMENTS].inc();
        self.ingest_fragments.inc();
        let now = Instant::now();
        let since_epoch = u64::try_from(now.duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX);
        stream.series.last_fragment_at.store(since_epoch.saturating_add(1), Ordering::Relaxed);
        if let Some(started) = lock(&stream.fragment_started).take() {
            self.ingestion_latency.observe(now.duration_since(started).as_secs_f64());
        }
    }

    /// The frames of a fragment received complete.
    pub fn frames_received(&self, stream: &StreamIngestMetrics, frames: u64) {
        stream.series.counters[INCOMING_FRAMES].inc_by(frames);
        self.ingest_frames.inc_by(frames);
    }

    /// A fragment was persisted.
    pub fn fragment_persisted(&self, stream: &StreamIngestMetrics) {
        stream.series.counters[PERSISTED_FRAGMENTS].inc();
        self.persisted_fragments.inc();
    }

    /// A fragment was received whose video track does not start on a key frame.
    pub fn fragment_without_key_frame(&self, stream: &StreamIngestMetrics) {
        stream.series.counters[WITHOUT_KEY_FRAME].inc();
        self.fragments_without_key_frame.inc();
    }

    /// An ACK of `kind` was sent `latency` after its fragment's last byte arrived.
    pub fn ack_latency(&self, kind: AckLatencyKind, latency: Duration) {
        let kind = match kind {
            AckLatencyKind::Received => "RECEIVED",
            AckLatencyKind::Persisted => "PERSISTED",
        };
        self.ack_latency.get_or_create(&labels("type", kind)).observe(latency.as_secs_f64());
    }

    /// An ERROR ACK with this KVS ErrorId was sent.
    pub fn ack_error(&self, error_id: u32) {
        self.error_ids.get_or_create(&labels("error_id", &error_id.to_string())).inc();
    }

    /// The request series of an operation (`ListFragments`, `GetMedia`, `GetHLSMediaPlaylist`,
    /// …); look it up once per request.
    pub fn operation(&self, name: &'static str) -> Arc<OperationMetrics> {
        let mut ops = lock(&self.operations);
        ops.entry(name)
            .or_insert_with(|| {
                let op = labels("operation", name);
                let class = |c: &str| vec![("operation", name.to_owned()), ("class", c.to_owned())];
                Arc::new(OperationMetrics {
                    requests: self.requests.get_or_create_owned(&op),
                    client_errors: self.request_errors.get_or_create_owned(&class("4xx")),
                    server_errors: self.request_errors.get_or_create_owned(&class("5xx")),
                    bytes_out: self.response_bytes.get_or_create_owned(&op),
                    latency: self.request_latency.get_or_create_owned(&op),
                })
            })
            .clone()
    }

    /// A request of an HLS or DASH streaming session (`token`: its SessionToken): the session
    /// counts as an active reader for [`SESSION_READER_WINDOW`].
    pub fn session_request(&self, protocol: ReaderProtocol, token: &str) {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        token.hash(&mut h);
        let now = Instant::now();
        let mut sessions = lock(&self.sessions);
        if sessions.len() >= MAX_TRACKED_SESSIONS && !sessions.contains_key(&h.finish()) {
            sessions.retain(|_, (_, seen)| now.duration_since(*seen) < SESSION_READER_WINDOW);
            if sessions.len() >= MAX_TRACKED_SESSIONS {
                return;
            }
        }
        sessions.insert(h.finish(), (protocol, now));
    }

    /// One index call named `call` took `took` (and failed, if `ok` is false).
    pub fn index_call(&self, call: &'static str, took: Duration, ok: bool) {
        self.index_calls.get_or_create(&labels("call", call)).observe(took.as_secs_f64());
        if !ok {
            self.index_errors.inc();
        }
    }

    /// One streamed write into the local store took `took`.
    pub fn store_write(&self, took: Duration) {
        self.store_writes.observe(took.as_secs_f64());
        if took > SLOW_STORE_WRITE {
            self.store_slow_writes.inc();
        }
    }

    /// A retention pass finished at `now_ms`.
    pub fn record_retention(&self, pass: &RetentionPass, now_ms: i64, failed: bool) {
        self.retention_runs.inc();
        self.retention_fragments.inc_by(pass.fragments_deleted);
        self.retention_segments.inc_by(pass.segments_deleted);
        self.retention_bytes.inc_by(pass.bytes_reclaimed);
        self.retention_orphans.inc_by(pass.orphan_streams_removed);
        if failed {
            self.retention_failures.inc();
        }
        self.retention_last_run.set(now_ms as f64 / 1000.0);
    }

    /// The PutMedia connection gauge.
    pub fn put_media_connections(&self) -> i64 {
        self.put_media_connections.get()
    }

    /// The whole exposition, [`CONTENT_TYPE`].
    pub fn render(&self, inputs: &ScrapeInputs) -> String {
        let mut out = String::with_capacity(32 * 1024);
        prometheus_text::encode(&mut out, &self.registry).expect("formatting into a String");
        let mut scrape = Registry::default();
        scrape.register_collector(Box::new(self.scrape_values(inputs)));
        prometheus_text::encode(&mut out, &scrape).expect("formatting into a String");
        out
    }

    /// The values computed at scrape time.
    fn scrape_values(&self, inputs: &ScrapeInputs) -> ScrapeValues {
        let now = Instant::now();
        let mut streams: Vec<StreamGauges> =
            lock(&self.streams).iter().map(|(name, s)| StreamGauges::of(name, s, self.epoch, now)).collect();
        streams.push(StreamGauges::of(OTHER_STREAM_LABEL, &self.other_stream, self.epoch, now));
        streams.sort_by(|a, b| a.name.cmp(&b.name));
        let mut readers =
            vec![(ReaderProtocol::GetMedia, 0), (ReaderProtocol::Hls, 0), (ReaderProtocol::Dash, 0)];
        readers[0].1 = streams.iter().map(|s| s.readers).sum();
        {
            let mut sessions = lock(&self.sessions);
            sessions.retain(|_, (_, seen)| now.duration_since(*seen) < SESSION_READER_WINDOW);
            for (protocol, _) in sessions.values() {
                if let Some(r) = readers.iter_mut().find(|(p, _)| p == protocol) {
                    r.1 += 1;
                }
            }
        }
        ScrapeValues {
            streams,
            readers,
            store_bytes: inputs.store_bytes,
            workers: inputs.workers.clone(),
            process: ProcessStats::read(),
        }
    }
}

/// One stream label's scrape-time gauges.
#[derive(Debug)]
struct StreamGauges {
    name: String,
    producers: i64,
    readers: i64,
    /// Seconds since the last complete fragment (`None`: none since start, or `_other`).
    last_fragment_age: Option<f64>,
    /// While a GetMedia reader is open: how far behind now its last fragment was, seconds.
    behind_now: Option<f64>,
}

impl StreamGauges {
    fn of(name: &str, s: &StreamSeries, epoch: Instant, now: Instant) -> Self {
        let other = name == OTHER_STREAM_LABEL;
        let readers = s.readers.load(Ordering::Relaxed).max(0);
        let at = s.last_fragment_at.load(Ordering::Relaxed);
        let last_fragment_age = (at > 0 && !other).then(|| {
            let at = epoch + Duration::from_nanos(at - 1);
            now.saturating_duration_since(at).as_secs_f64()
        });
        Self {
            name: name.to_owned(),
            producers: s.producers.load(Ordering::Relaxed).max(0),
            readers,
            last_fragment_age,
            behind_now: (readers > 0 && !other)
                .then(|| s.behind_now_ms.load(Ordering::Relaxed) as f64 / 1000.0),
        }
    }
}

/// What one scrape reports beside the registry: encoded by a collector registered for that
/// scrape only.
#[derive(Debug)]
struct ScrapeValues {
    streams: Vec<StreamGauges>,
    readers: Vec<(ReaderProtocol, i64)>,
    store_bytes: u64,
    workers: Option<Vec<WorkerLag>>,
    process: Option<ProcessStats>,
}

/// Encodes one family of constant samples.
fn family<V: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    samples: impl IntoIterator<Item = (Labels, V)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, value) in samples {
        value.encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for ScrapeValues {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let e = &mut e;
        let stream = |s: &StreamGauges| labels("stream", &s.name);
        family(
            e,
            "openkvs_stream_producer_connected",
            "PutMedia sessions (producers) connected to the stream now: 1 while the camera streams, 0 when it is offline (alert on 0); stream=\"_other\" sums the streams past the label cap.",
            MetricType::Gauge,
            self.streams.iter().map(|s| (stream(s), ConstGauge::new(s.producers))),
        )?;
        family(
            e,
            "openkvs_stream_last_fragment_age_seconds",
            "Seconds since the stream's last complete fragment arrived (a camera that went offline or stalled keeps growing it); absent until the stream's first fragment since the server started.",
            MetricType::Gauge,
            self.streams.iter().filter_map(|s| Some((stream(s), ConstGauge::new(s.last_fragment_age?)))),
        )?;
        family(
            e,
            "openkvs_stream_get_media_readers",
            "GetMedia responses streaming from the stream now (at most [playback] max_get_media_readers per stream).",
            MetricType::Gauge,
            self.streams.iter().map(|s| (stream(s), ConstGauge::new(s.readers))),
        )?;
        family(
            e,
            "openkvs_stream_get_media_behind_now_seconds",
            "While GetMedia readers are open: how far behind now (server timestamp to now) the last fragment sent was (KVS: GetMedia.MillisBehindNow, in seconds); 0 for a reader on the live edge.",
            MetricType::Gauge,
            self.streams.iter().filter_map(|s| Some((stream(s), ConstGauge::new(s.behind_now?)))),
        )?;
        family(
            e,
            "openkvs_active_readers",
            "Readers now, by protocol: GetMedia responses streaming; HLS and DASH streaming sessions that requested a resource within the last 60 s.",
            MetricType::Gauge,
            self.readers.iter().map(|(p, n)| (labels("protocol", p.label()), ConstGauge::new(*n))),
        )?;
        family(
            e,
            "openkvs_store_bytes",
            "Fragment bytes held in the store (KVS: the stream's stored data, billed as GB-month).",
            MetricType::Gauge,
            [(Labels::new(), ConstGauge::new(self.store_bytes as i64))],
        )?;
        if let Some(workers) = &self.workers {
            let worker = |w: &WorkerLag| labels("worker", &w.name);
            family(
                e,
                "openkvs_worker_running",
                "1 when the analysis worker is running, 0 when paused.",
                MetricType::Gauge,
                workers.iter().map(|w| (worker(w), ConstGauge::new(i64::from(w.running)))),
            )?;
            for (name, help, get) in [
                (
                    "openkvs_worker_processed_fragments",
                    "Fragments an analysis worker finished.",
                    (|w: &WorkerLag| w.processed) as fn(&WorkerLag) -> u64,
                ),
                (
                    "openkvs_worker_failed_fragments",
                    "Fragments an analysis worker gave up on after every attempt.",
                    |w: &WorkerLag| w.failed,
                ),
                ("openkvs_worker_panics", "Analyzer panics caught.", |w: &WorkerLag| w.panics),
                ("openkvs_worker_events", "Analyzer events emitted.", |w: &WorkerLag| w.events),
            ] {
                family(
                    e,
                    name,
                    help,
                    MetricType::Counter,
                    workers.iter().map(|w| (worker(w), ConstCounter::new(get(w)))),
                )?;
            }
            family(
                e,
                "openkvs_worker_lag_fragments",
                "Fragments persisted but not yet analysed, worst stream of each worker (counted up to 1000 per stream).",
                MetricType::Gauge,
                workers.iter().map(|w| (worker(w), ConstGauge::new(w.max_fragments_behind as i64))),
            )?;
            family(
                e,
                "openkvs_worker_lag_seconds",
                "Server-timestamp distance between a worker's cursor and the newest fragment, worst stream of each worker.",
                MetricType::Gauge,
                workers.iter().map(|w| (worker(w), ConstGauge::new(w.max_ms_behind as f64 / 1000.0))),
            )?;
            let uploading: Vec<(&WorkerLag, UploadTotals)> =
                workers.iter().filter_map(|w| Some((w, w.uploads?))).collect();
            family(
                e,
                "openkvs_worker_uploads",
                "Images a worker delivered (thumbnails: to S3; detection: to its model process) (outcome=\"delivered\"), gave up after every attempt (\"failed\"), or dropped because its upload queue was full while S3 was down or slow (\"dropped\").",
                MetricType::Counter,
                uploading.iter().flat_map(|(w, t)| {
                    [("delivered", t.delivered), ("failed", t.failed), ("dropped", t.dropped)].map(
                        |(o, n)| {
                            let mut l = worker(w);
                            l.push(("outcome", o.to_owned()));
                            (l, ConstCounter::new(n))
                        },
                    )
                }),
            )?;
            family(
                e,
                "openkvs_worker_upload_retries",
                "Failed upload attempts a worker retried (with exponential backoff).",
                MetricType::Counter,
                uploading.iter().map(|(w, t)| (worker(w), ConstCounter::new(t.retries))),
            )?;
            family(
                e,
                "openkvs_worker_uploads_pending",
                "Uploads queued or in flight now.",
                MetricType::Gauge,
                uploading.iter().map(|(w, t)| (worker(w), ConstGauge::new(t.pending as i64))),
            )?;
        }
        if let Some(p) = &self.process {
            let one = |v: f64| [(Labels::new(), ConstGauge::new(v))];
            family(
                e,
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds.",
                MetricType::Counter,
                [(Labels::new(), ConstCounter::new(p.cpu_seconds))],
            )?;
            family(
                e,
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                MetricType::Gauge,
                one(p.resident_memory_bytes as f64),
            )?;
            family(
                e,
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                MetricType::Gauge,
                one(p.virtual_memory_bytes as f64),
            )?;
            family(
                e,
                "process_open_fds",
                "Number of open file descriptors.",
                MetricType::Gauge,
                one(p.open_fds as f64),
            )?;
            if let Some(max) = p.max_fds {
                family(
                    e,
                    "process_max_fds",
                    "Maximum number of open file descriptors.",
                    MetricType::Gauge,
                    one(max as f64),
                )?;
            }
            family(
                e,
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                MetricType::Gauge,
                one(p.start_time_seconds),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `name{labels}` → value, for every sample line.
    fn samples(text: &str) -> HashMap<String, f64> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (k, v) = l.rsplit_once(' ').unwrap();
                (k.to_owned(), v.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::new();
        m.ack_latency(AckLatencyKind::Received, Duration::from_micros(500));
        m.ack_latency(AckLatencyKind::Received, Duration::from_millis(3));
        m.ack_latency(AckLatencyKind::Received, Duration::from_secs(60));
        let s = samples(&m.render(&ScrapeInputs::default()));
        let b = |le: &str| {
            s[&format!("openkvs_put_media_ack_latency_seconds_bucket{{type=\"RECEIVED\",le=\"{le}\"}}")]
        };
        assert_eq!((b("0.001"), b("0.005"), b("30"), b("+Inf")), (1.0, 2.0, 2.0, 3.0), "{s:?}");
        assert_eq!(s["openkvs_put_media_ack_latency_seconds_count{type=\"RECEIVED\"}"], 3.0);
    }

    #[test]
    fn stream_labels_are_capped_and_freed_on_deletion() {
        let m = Metrics::new();
        let handles: Vec<_> = (0..MAX_STREAM_LABELS + 10)
            .map(|i| {
                let s = m.stream_ingest(i as i64, &format!("s{i}"));
                m.ingest_bytes(&s, 1);
                s
            })
            .collect();
        let text = m.render(&ScrapeInputs::default());
        let lines = text.lines().filter(|l| l.starts_with("openkvs_stream_incoming_bytes_total{")).count();
        assert_eq!(lines, MAX_STREAM_LABELS + 1);
        let s = samples(&text);
        assert_eq!(s["openkvs_stream_incoming_bytes_total{stream=\"_other\"}"], 10.0);
        assert_eq!(s["openkvs_stream_producer_connected{stream=\"_other\"}"], 10.0);
        assert_eq!(s["openkvs_stream_producer_connected{stream=\"s3\"}"], 1.0);
        assert_eq!(s["openkvs_put_media_incoming_bytes_total"], (MAX_STREAM_LABELS + 10) as f64);
        drop(handles);
        // Deleting s3 frees its label (the next new stream gets one) and keeps the sum.
        m.forget_stream(3);
        let late = m.stream_ingest(9999, "late");
        m.ingest_bytes(&late, 5);
        let s = samples(&m.render(&ScrapeInputs::default()));
        assert!(!s.contains_key("openkvs_stream_incoming_bytes_total{stream=\"s3\"}"));
        assert_eq!(s["openkvs_stream_incoming_bytes_total{stream=\"late\"}"], 5.0);
        assert_eq!(s["openkvs_stream_incoming_bytes_total{stream=\"_other\"}"], 11.0);
        assert_eq!(s["openkvs_stream_producer_connected{stream=\"s4\"}"], 0.0);
        assert_eq!(s["openkvs_stream_producer_connected{stream=\"late\"}"], 1.0);
        let sum: f64 = s
            .iter()
            .filter(|(k, _)| k.starts_with("openkvs_stream_incoming_bytes_total{"))
            .map(|(_, v)| v)
            .sum();
        assert_eq!(sum, s["openkvs_put_media_incoming_bytes_total"]);
    }

    #[test]
    fn ages_readers_and_sessions() {
        let m = Metrics::new();
        let s = m.stream_ingest(1, "cam");
        let text = m.render(&ScrapeInputs::default());
        assert!(!text.contains("openkvs_stream_last_fragment_age_seconds{"), "no fragment yet:\n{text}");
        m.fragment_started(&s);
        m.fragment_received(&s);
        m.frames_received(&s, 30);
        let r = m.get_media_reader(1, "cam");
        r.fragment_sent(1500);
        r.bytes_sent(100);
        m.session_request(ReaderProtocol::Hls, "token-a");
        m.session_request(ReaderProtocol::Hls, "token-a");
        m.session_request(ReaderProtocol::Hls, "token-b");
        m.session_request(ReaderProtocol::Dash, "token-c");
        let v = samples(&m.render(&ScrapeInputs::default()));
        assert!(v["openkvs_stream_last_fragment_age_seconds{stream=\"cam\"}"] < 5.0);
        assert_eq!(v["openkvs_stream_incoming_frames_total{stream=\"cam\"}"], 30.0);
        assert_eq!(v["openkvs_put_media_fragment_ingestion_latency_seconds_count"], 1.0);
        assert_eq!(v["openkvs_stream_get_media_readers{stream=\"cam\"}"], 1.0);
        assert_eq!(v["openkvs_stream_get_media_behind_now_seconds{stream=\"cam\"}"], 1.5);
        assert_eq!(v["openkvs_stream_get_media_outgoing_bytes_total{stream=\"cam\"}"], 100.0);
        assert_eq!(v["openkvs_active_readers{protocol=\"GetMedia\"}"], 1.0);
        assert_eq!(v["openkvs_active_readers{protocol=\"HLS\"}"], 2.0);
        assert_eq!(v["openkvs_active_readers{protocol=\"DASH\"}"], 1.0);
        drop(r);
        let v = samples(&m.render(&ScrapeInputs::default()));
        assert_eq!(v["openkvs_active_readers{protocol=\"GetMedia\"}"], 0.0);
        assert!(!v.contains_key("openkvs_stream_get_media_behind_now_seconds{stream=\"cam\"}"));
    }

    #[test]
    fn every_series_has_help_and_type() {
        let m = Metrics::new();
        m.ack_error(4002);
        m.operation("GetMedia").answered(200, Duration::from_millis(1));
        m.index_call("insert_fragments", Duration::from_millis(2), true);
        let text =
            m.render(&ScrapeInputs { workers: Some(vec![WorkerLag::default()]), ..Default::default() });
        let mut declared = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                declared.insert(rest.split(' ').next().unwrap().to_owned());
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                let base =
                    ["_bucket", "_sum", "_count"].iter().fold(name, |n, s| n.strip_suffix(s).unwrap_or(n));
                assert!(declared.contains(name) || declared.contains(base), "undeclared series {line}");
            }
        }
        let s = samples(&text);
        assert_eq!(s["openkvs_put_media_errors_total{error_id=\"4002\"}"], 1.0);
        assert_eq!(s["openkvs_requests_total{operation=\"GetMedia\"}"], 1.0);
        assert!(text.contains("openkvs_build_info{version=\""), "{text}");
        if std::path::Path::new("/proc/self/stat").exists() {
            assert!(s["process_resident_memory_bytes"] > 0.0 && s.contains_key("process_cpu_seconds_total"));
        }
    }
}
