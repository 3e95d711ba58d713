//! Process metrics: counters, gauges and histograms the server updates as it works, rendered in
//! the Prometheus text exposition format (version 0.0.4) on demand.
//!
//! Owns [`Metrics`] (one per server, shared by `Arc`), its fixed-bucket [`Histogram`], the bounded
//! per-stream ingest counters ([`StreamIngestMetrics`]), per-operation request counters
//! ([`OperationMetrics`]) and [`Metrics::render`]. Ingest, the persister, retention and the HTTP
//! edge call the `record_*`/`add` methods; values that are cheaper to read than to track (store
//! bytes, worker lag) are passed in at scrape time as a [`ScrapeInputs`].
//!
//! Recording is a few relaxed atomic adds on pre-registered values: nothing allocates per fragment
//! or per request (a session and an operation look their counters up once). Label sets are
//! bounded: operations are a fixed set of `&'static str`, PutMedia ErrorIds are a small code-defined
//! set, and per-stream ingest labels stop at [`MAX_STREAM_LABELS`] streams (the rest count under
//! `stream="_other"`). HELP texts name the Kinesis Video Streams CloudWatch metric each series
//! corresponds to, so dashboards built for AWS translate.
//!
//! This module must not know HTTP (no axum/hyper/http): `api::metrics` serves the text, and it must
//! not do I/O of its own.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// `[metrics]` configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// A separate plain-HTTP listener serving only `/metrics`, `/health` and `/ready` (e.g.
    /// `0.0.0.0:9464` for a Prometheus on another host). Absent: they are served on the main
    /// listener(s) only. They are served on the main listener either way.
    pub listen: Option<std::net::SocketAddr>,
}

/// Most distinct stream names that get their own `stream` label on the per-stream ingest series;
/// later streams share `stream="_other"`, so a server with thousands of streams (or stream churn)
/// cannot blow up the scrape size.
pub const MAX_STREAM_LABELS: usize = 256;

/// The label value for streams past [`MAX_STREAM_LABELS`].
pub const OTHER_STREAM_LABEL: &str = "_other";

/// Histogram bucket upper bounds, seconds: 1 ms … 30 s (ACK latency, request latency, index
/// commits all fall in this range).
pub const LATENCY_BUCKETS_SECS: [f64; 15] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0];

/// A latency histogram with the fixed [`LATENCY_BUCKETS_SECS`]; lock-free.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last slot is `+Inf`.
    buckets: [AtomicU64; LATENCY_BUCKETS_SECS.len() + 1],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let slot = LATENCY_BUCKETS_SECS.iter().position(|&b| secs <= b).unwrap_or(LATENCY_BUCKETS_SECS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Number of observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0u64;
        for (i, bound) in LATENCY_BUCKETS_SECS.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.buckets[LATENCY_BUCKETS_SECS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {}", self.count.load(Ordering::Relaxed));
    }
}

/// Ingest counters of one stream label.
#[derive(Debug, Default)]
pub struct StreamIngestMetrics {
    /// Bytes of the PutMedia body received.
    pub bytes: AtomicU64,
    /// Fragments received complete (RECEIVED).
    pub fragments: AtomicU64,
    /// Fragments persisted (PERSISTED).
    pub persisted: AtomicU64,
    /// Fragments received whose video track does not start on a key frame.
    pub without_key_frame: AtomicU64,
}

/// Requests of one API operation (or session resource family).
#[derive(Debug, Default)]
pub struct OperationMetrics {
    /// Requests answered.
    pub requests: AtomicU64,
    /// Requests answered with a 4xx status.
    pub client_errors: AtomicU64,
    /// Requests answered with a 5xx status.
    pub server_errors: AtomicU64,
    /// Response body bytes sent.
    pub bytes_out: AtomicU64,
    /// Time to the response head.
    pub latency: Histogram,
}

/// The PutMedia ACK types whose latency is measured (fragment's last byte received → ACK sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckLatencyKind {
    /// RECEIVED.
    Received,
    /// PERSISTED.
    Persisted,
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
    /// Per worker: (name, running, processed, failed, panics, events, fragments behind (max over
    /// streams), milliseconds behind (max over streams)). `None` when the status could not be read
    /// in time (the lag series are then omitted, not reported as zero).
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
}

/// Every metric of one server.
#[derive(Debug, Default)]
pub struct Metrics {
    put_media_connections: AtomicI64,
    put_media_sessions: AtomicU64,
    put_media_connection_errors: AtomicU64,
    ingest_bytes: AtomicU64,
    ingest_fragments: AtomicU64,
    persisted_fragments: AtomicU64,
    fragments_without_key_frame: AtomicU64,
    ack_received: Histogram,
    ack_persisted: Histogram,
    error_ids: Mutex<BTreeMap<u32, u64>>,
    streams: Mutex<HashMap<String, Arc<StreamIngestMetrics>>>,
    other_stream: Arc<StreamIngestMetrics>,
    operations: RwLock<BTreeMap<&'static str, Arc<OperationMetrics>>>,
    index_calls: RwLock<BTreeMap<&'static str, Arc<Histogram>>>,
    index_errors: AtomicU64,
    retention_runs: AtomicU64,
    retention_fragments: AtomicU64,
    retention_segments: AtomicU64,
    retention_bytes: AtomicU64,
    retention_orphans: AtomicU64,
    retention_failures: AtomicU64,
    retention_last_run_ms: AtomicI64,
}

/// Decrements the PutMedia connection gauge when dropped.
#[derive(Debug)]
pub struct ConnectionGuard {
    metrics: Arc<Metrics>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.metrics.put_media_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// A fresh set of metrics, all zero.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A PutMedia session started; the gauge goes down when the guard drops.
    pub fn put_media_started(self: &Arc<Self>) -> ConnectionGuard {
        self.put_media_connections.fetch_add(1, Ordering::Relaxed);
        self.put_media_sessions.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard { metrics: self.clone() }
    }

    /// A PutMedia request was refused before a session started (HTTP error answer).
    pub fn put_media_refused(&self) {
        self.put_media_connection_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// The ingest counters of a stream (looked up once per session).
    pub fn stream_ingest(&self, stream_name: &str) -> Arc<StreamIngestMetrics> {
        let mut map = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = map.get(stream_name) {
            return m.clone();
        }
        if map.len() >= MAX_STREAM_LABELS {
            return self.other_stream.clone();
        }
        let m = Arc::new(StreamIngestMetrics::default());
        map.insert(stream_name.to_owned(), m.clone());
        m
    }

    /// Forgets a deleted stream's label (its series disappear from the next scrape).
    pub fn forget_stream(&self, stream_name: &str) {
        self.streams.lock().unwrap_or_else(|p| p.into_inner()).remove(stream_name);
    }

    /// Body bytes received on a PutMedia session.
    pub fn ingest_bytes(&self, stream: &StreamIngestMetrics, n: u64) {
        stream.bytes.fetch_add(n, Ordering::Relaxed);
        self.ingest_bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// A fragment was received complete.
    pub fn fragment_received(&self, stream: &StreamIngestMetrics) {
        stream.fragments.fetch_add(1, Ordering::Relaxed);
        self.ingest_fragments.fetch_add(1, Ordering::Relaxed);
    }

    /// A fragment was persisted.
    pub fn fragment_persisted(&self, stream: &StreamIngestMetrics) {
        stream.persisted.fetch_add(1, Ordering::Relaxed);
        self.persisted_fragments.fetch_add(1, Ordering::Relaxed);
    }

    /// A fragment was received whose video track does not start on a key frame.
    pub fn fragment_without_key_frame(&self, stream: &StreamIngestMetrics) {
        stream.without_key_frame.fetch_add(1, Ordering::Relaxed);
        self.fragments_without_key_frame.fetch_add(1, Ordering::Relaxed);
    }

    /// An ACK of `kind` was sent `latency` after its fragment's last byte arrived.
    pub fn ack_latency(&self, kind: AckLatencyKind, latency: Duration) {
        match kind {
            AckLatencyKind::Received => self.ack_received.observe(latency),
            AckLatencyKind::Persisted => self.ack_persisted.observe(latency),
        }
    }

    /// An ERROR ACK with this KVS ErrorId was sent.
    pub fn ack_error(&self, error_id: u32) {
        *self.error_ids.lock().unwrap_or_else(|p| p.into_inner()).entry(error_id).or_insert(0) += 1;
    }

    /// Requests of an operation (`ListFragments`, `GetMedia`, `HLS`, …); look it up once and keep it.
    pub fn operation(&self, name: &'static str) -> Arc<OperationMetrics> {
        if let Some(m) = self.operations.read().unwrap_or_else(|p| p.into_inner()).get(name) {
            return m.clone();
        }
        self.operations.write().unwrap_or_else(|p| p.into_inner()).entry(name).or_default().clone()
    }

    /// One index call named `call` took `took` (and failed, if `ok` is false).
    pub fn index_call(&self, call: &'static str, took: Duration, ok: bool) {
        let existing = self.index_calls.read().unwrap_or_else(|p| p.into_inner()).get(call).cloned();
        let h = match existing {
            Some(h) => h,
            None => {
                self.index_calls.write().unwrap_or_else(|p| p.into_inner()).entry(call).or_default().clone()
            }
        };
        h.observe(took);
        if !ok {
            self.index_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A retention pass finished at `now_ms`.
    pub fn record_retention(&self, pass: &RetentionPass, now_ms: i64, failed: bool) {
        self.retention_runs.fetch_add(1, Ordering::Relaxed);
        self.retention_fragments.fetch_add(pass.fragments_deleted, Ordering::Relaxed);
        self.retention_segments.fetch_add(pass.segments_deleted, Ordering::Relaxed);
        self.retention_bytes.fetch_add(pass.bytes_reclaimed, Ordering::Relaxed);
        self.retention_orphans.fetch_add(pass.orphan_streams_removed, Ordering::Relaxed);
        if failed {
            self.retention_failures.fetch_add(1, Ordering::Relaxed);
        }
        self.retention_last_run_ms.store(now_ms, Ordering::Relaxed);
    }

    /// The PutMedia connection gauge.
    pub fn put_media_connections(&self) -> i64 {
        self.put_media_connections.load(Ordering::Relaxed)
    }

    /// The whole exposition, `text/plain; version=0.0.4`.
    pub fn render(&self, inputs: &ScrapeInputs) -> String {
        let mut out = String::with_capacity(16 * 1024);
        let o = &mut out;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);

        header(
            o,
            "openkvs_put_media_active_connections",
            "gauge",
            "PutMedia connections open now (KVS: PutMedia.ActiveConnections).",
        );
        let _ = writeln!(o, "openkvs_put_media_active_connections {}", self.put_media_connections());
        header(
            o,
            "openkvs_put_media_sessions_total",
            "counter",
            "PutMedia sessions started (KVS: PutMedia.Requests).",
        );
        let _ = writeln!(o, "openkvs_put_media_sessions_total {}", load(&self.put_media_sessions));
        header(
            o,
            "openkvs_put_media_connection_errors_total",
            "counter",
            "PutMedia requests refused before a session started (KVS: PutMedia.ConnectionErrors).",
        );
        let _ = writeln!(
            o,
            "openkvs_put_media_connection_errors_total {}",
            load(&self.put_media_connection_errors)
        );

        header(
            o,
            "openkvs_put_media_incoming_bytes_total",
            "counter",
            "PutMedia body bytes received (KVS: PutMedia.IncomingBytes).",
        );
        let _ = writeln!(o, "openkvs_put_media_incoming_bytes_total {}", load(&self.ingest_bytes));
        header(
            o,
            "openkvs_put_media_incoming_fragments_total",
            "counter",
            "Fragments received complete (KVS: PutMedia.IncomingFragments).",
        );
        let _ = writeln!(o, "openkvs_put_media_incoming_fragments_total {}", load(&self.ingest_fragments));
        header(
            o,
            "openkvs_put_media_persisted_fragments_total",
            "counter",
            "Fragments made durable and indexed (KVS: PutMedia.IncomingFragments minus archival errors).",
        );
        let _ =
            writeln!(o, "openkvs_put_media_persisted_fragments_total {}", load(&self.persisted_fragments));
        header(
            o,
            "openkvs_put_media_fragments_without_key_frame_total",
            "counter",
            "Fragments received whose video track does not start on a key frame: no player can decode them from their start (the producer does not cut fragments at key frames).",
        );
        let _ = writeln!(
            o,
            "openkvs_put_media_fragments_without_key_frame_total {}",
            load(&self.fragments_without_key_frame)
        );

        let streams: Vec<(String, Arc<StreamIngestMetrics>)> = {
            let map = self.streams.lock().unwrap_or_else(|p| p.into_inner());
            let mut v: Vec<_> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        let with_other = || {
            streams
                .iter()
                .map(|(n, m)| (n.as_str(), m.as_ref()))
                .chain(std::iter::once((OTHER_STREAM_LABEL, self.other_stream.as_ref())))
        };
        header(
            o,
            "openkvs_stream_incoming_bytes_total",
            "counter",
            "PutMedia body bytes received per stream (KVS: PutMedia.IncomingBytes by StreamName; at most 256 stream labels, the rest under stream=\"_other\").",
        );
        for (name, m) in with_other() {
            let _ = writeln!(
                o,
                "openkvs_stream_incoming_bytes_total{{stream=\"{}\"}} {}",
                escape(name),
                load(&m.bytes)
            );
        }
        header(
            o,
            "openkvs_stream_incoming_fragments_total",
            "counter",
            "Fragments received per stream (KVS: PutMedia.IncomingFragments by StreamName).",
        );
        for (name, m) in with_other() {
            let _ = writeln!(
                o,
                "openkvs_stream_incoming_fragments_total{{stream=\"{}\"}} {}",
                escape(name),
                load(&m.fragments)
            );
        }
        header(o, "openkvs_stream_persisted_fragments_total", "counter", "Fragments persisted per stream.");
        for (name, m) in with_other() {
            let _ = writeln!(
                o,
                "openkvs_stream_persisted_fragments_total{{stream=\"{}\"}} {}",
                escape(name),
                load(&m.persisted)
            );
        }
        header(
            o,
            "openkvs_stream_fragments_without_key_frame_total",
            "counter",
            "Fragments received per stream whose video track does not start on a key frame (a misconfigured producer).",
        );
        for (name, m) in with_other() {
            let _ = writeln!(
                o,
                "openkvs_stream_fragments_without_key_frame_total{{stream=\"{}\"}} {}",
                escape(name),
                load(&m.without_key_frame)
            );
        }

        header(
            o,
            "openkvs_put_media_ack_latency_seconds",
            "histogram",
            "Fragment's last byte received to its ACK sent, by ACK type (KVS: PutMedia.FragmentIngestionLatency for RECEIVED, PutMedia.FragmentPersistLatency for PERSISTED).",
        );
        self.ack_received.render(o, "openkvs_put_media_ack_latency_seconds", "type=\"RECEIVED\"");
        self.ack_persisted.render(o, "openkvs_put_media_ack_latency_seconds", "type=\"PERSISTED\"");

        header(
            o,
            "openkvs_put_media_errors_total",
            "counter",
            "ERROR ACKs sent, by KVS ErrorId (KVS: PutMedia.Latency/Errors; the ErrorId is the one the producer SDK reports).",
        );
        for (id, n) in self.error_ids.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(o, "openkvs_put_media_errors_total{{error_id=\"{id}\"}} {n}");
        }

        let ops: Vec<(&'static str, Arc<OperationMetrics>)> = self
            .operations
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        header(
            o,
            "openkvs_requests_total",
            "counter",
            "Requests answered per operation (KVS: <Operation>.Requests, e.g. GetMedia.Requests, ListFragments.Requests, GetHLSStreamingSessionURL.Requests; HLS/DASH count playlist and segment requests).",
        );
        for (op, m) in &ops {
            let _ = writeln!(o, "openkvs_requests_total{{operation=\"{op}\"}} {}", load(&m.requests));
        }
        header(
            o,
            "openkvs_request_errors_total",
            "counter",
            "Requests answered with an error status per operation and class (KVS: <Operation>.Errors).",
        );
        for (op, m) in &ops {
            let _ = writeln!(
                o,
                "openkvs_request_errors_total{{operation=\"{op}\",class=\"4xx\"}} {}",
                load(&m.client_errors)
            );
            let _ = writeln!(
                o,
                "openkvs_request_errors_total{{operation=\"{op}\",class=\"5xx\"}} {}",
                load(&m.server_errors)
            );
        }
        header(
            o,
            "openkvs_response_bytes_total",
            "counter",
            "Response body bytes sent per operation (KVS: GetMedia.OutgoingBytes, GetMediaForFragmentList.OutgoingBytes, GetClip.OutgoingBytes, HLS/DASH OutgoingBytes).",
        );
        for (op, m) in &ops {
            let _ = writeln!(o, "openkvs_response_bytes_total{{operation=\"{op}\"}} {}", load(&m.bytes_out));
        }
        header(
            o,
            "openkvs_request_latency_seconds",
            "histogram",
            "Request arrival to response head per operation (KVS: <Operation>.Latency, e.g. ListFragments.Latency, GetHLSStreamingSessionURL.Latency).",
        );
        for (op, m) in &ops {
            m.latency.render(o, "openkvs_request_latency_seconds", &format!("operation=\"{op}\""));
        }

        let calls: Vec<(&'static str, Arc<Histogram>)> = self
            .index_calls
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        header(
            o,
            "openkvs_index_call_seconds",
            "histogram",
            "Index (metadata database) call latency by call; insert_fragments is the group commit every PERSISTED ACK waits for (no KVS equivalent).",
        );
        for (call, h) in &calls {
            h.render(o, "openkvs_index_call_seconds", &format!("call=\"{call}\""));
        }
        header(o, "openkvs_index_call_errors_total", "counter", "Index calls that failed.");
        let _ = writeln!(o, "openkvs_index_call_errors_total {}", load(&self.index_errors));

        header(
            o,
            "openkvs_store_bytes",
            "gauge",
            "Fragment bytes held in the store (KVS: the stream's stored data, billed as GB-month).",
        );
        let _ = writeln!(o, "openkvs_store_bytes {}", inputs.store_bytes);

        header(o, "openkvs_retention_runs_total", "counter", "Retention janitor passes.");
        let _ = writeln!(o, "openkvs_retention_runs_total {}", load(&self.retention_runs));
        header(
            o,
            "openkvs_retention_failed_runs_total",
            "counter",
            "Retention janitor passes that hit an error (retried next pass).",
        );
        let _ = writeln!(o, "openkvs_retention_failed_runs_total {}", load(&self.retention_failures));
        header(
            o,
            "openkvs_retention_deleted_fragments_total",
            "counter",
            "Fragments past their stream's DataRetentionInHours removed from the index.",
        );
        let _ = writeln!(o, "openkvs_retention_deleted_fragments_total {}", load(&self.retention_fragments));
        header(
            o,
            "openkvs_retention_deleted_segments_total",
            "counter",
            "Segment files reclaimed by retention.",
        );
        let _ = writeln!(o, "openkvs_retention_deleted_segments_total {}", load(&self.retention_segments));
        header(o, "openkvs_retention_reclaimed_bytes_total", "counter", "Bytes reclaimed by retention.");
        let _ = writeln!(o, "openkvs_retention_reclaimed_bytes_total {}", load(&self.retention_bytes));
        header(
            o,
            "openkvs_retention_orphan_streams_removed_total",
            "counter",
            "Store directories of deleted streams removed by the janitor.",
        );
        let _ =
            writeln!(o, "openkvs_retention_orphan_streams_removed_total {}", load(&self.retention_orphans));
        header(
            o,
            "openkvs_retention_last_run_timestamp_seconds",
            "gauge",
            "When the last retention pass finished (server clock), Unix seconds; 0 before the first.",
        );
        let _ = writeln!(
            o,
            "openkvs_retention_last_run_timestamp_seconds {}",
            self.retention_last_run_ms.load(Ordering::Relaxed) as f64 / 1000.0
        );

        if let Some(workers) = &inputs.workers {
            header(
                o,
                "openkvs_worker_running",
                "gauge",
                "1 when the analysis worker is running, 0 when paused.",
            );
            for w in workers {
                let _ = writeln!(
                    o,
                    "openkvs_worker_running{{worker=\"{}\"}} {}",
                    escape(&w.name),
                    u8::from(w.running)
                );
            }
            for (metric, help, get) in [
                (
                    "openkvs_worker_processed_fragments_total",
                    "Fragments an analysis worker finished.",
                    (|w: &WorkerLag| w.processed) as fn(&WorkerLag) -> u64,
                ),
                (
                    "openkvs_worker_failed_fragments_total",
                    "Fragments an analysis worker gave up on after every attempt.",
                    |w: &WorkerLag| w.failed,
                ),
                ("openkvs_worker_panics_total", "Analyzer panics caught.", |w: &WorkerLag| w.panics),
                ("openkvs_worker_events_total", "Analyzer events emitted.", |w: &WorkerLag| w.events),
            ] {
                header(o, metric, "counter", help);
                for w in workers {
                    let _ = writeln!(o, "{metric}{{worker=\"{}\"}} {}", escape(&w.name), get(w));
                }
            }
            header(
                o,
                "openkvs_worker_lag_fragments",
                "gauge",
                "Fragments persisted but not yet analysed, worst stream of each worker (counted up to 1000 per stream).",
            );
            for w in workers {
                let _ = writeln!(
                    o,
                    "openkvs_worker_lag_fragments{{worker=\"{}\"}} {}",
                    escape(&w.name),
                    w.max_fragments_behind
                );
            }
            header(
                o,
                "openkvs_worker_lag_seconds",
                "gauge",
                "Server-timestamp distance between a worker's cursor and the newest fragment, worst stream of each worker.",
            );
            for w in workers {
                let _ = writeln!(
                    o,
                    "openkvs_worker_lag_seconds{{worker=\"{}\"}} {}",
                    escape(&w.name),
                    w.max_ms_behind as f64 / 1000.0
                );
            }
        }
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {}", help.replace('\\', "\\\\").replace('\n', "\\n"));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Escapes a label value (backslash, double quote, newline).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(60));
        let mut s = String::new();
        h.render(&mut s, "x", "type=\"A\"");
        assert!(s.contains("x_bucket{type=\"A\",le=\"0.001\"} 1\n"), "{s}");
        assert!(s.contains("x_bucket{type=\"A\",le=\"0.005\"} 2\n"), "{s}");
        assert!(s.contains("x_bucket{type=\"A\",le=\"30\"} 2\n"), "{s}");
        assert!(s.contains("x_bucket{type=\"A\",le=\"+Inf\"} 3\n"), "{s}");
        assert!(s.contains("x_count{type=\"A\"} 3\n"), "{s}");
    }

    #[test]
    fn stream_labels_are_capped() {
        let m = Metrics::new();
        for i in 0..MAX_STREAM_LABELS + 10 {
            let s = m.stream_ingest(&format!("s{i}"));
            m.ingest_bytes(&s, 1);
        }
        let text = m.render(&ScrapeInputs::default());
        let lines = text.lines().filter(|l| l.starts_with("openkvs_stream_incoming_bytes_total{")).count();
        assert_eq!(lines, MAX_STREAM_LABELS + 1);
        assert!(text.contains("openkvs_stream_incoming_bytes_total{stream=\"_other\"} 10\n"));
        assert!(
            text.contains(&format!("openkvs_put_media_incoming_bytes_total {}\n", MAX_STREAM_LABELS + 10))
        );
    }

    #[test]
    fn every_series_has_help_and_type() {
        let m = Metrics::new();
        m.ack_error(4002);
        m.operation("GetMedia").requests.fetch_add(1, Ordering::Relaxed);
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
        assert!(text.contains("openkvs_put_media_errors_total{error_id=\"4002\"} 1"));
    }
}
