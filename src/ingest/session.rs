//! One PutMedia session: the producer's body in, [`Ack`]s out.
//!
//! [`run`] spawns a task that reads the body, pushes each chunk into the pure
//! [`Fragmenter`](crate::media::fragment::Fragmenter) and acts on its events:
//!
//! - **BUFFERING** when a fragment's Cluster Timecode has been parsed (its first bytes are in); the
//!   fragment number is issued here and the server timestamp is taken here.
//! - **RECEIVED** when the fragment is complete and valid (next Cluster, end-of-fragment tag, new
//!   EBML header, or end of body). With retention > 0 the fragment is then appended to the
//!   [`Archive`](crate::archive::Archive); with retention 0 nothing is archived and RECEIVED is the
//!   last ACK (the producer SDK treats RECEIVED as final for such streams).
//! - **PERSISTED** only when the archive's receipt reports the bytes synced AND the index row
//!   committed. PERSISTED ACKs come in fragment order.
//! - **ERROR** with the KVS ErrorId: fragment-level errors from the fragmenter (the session goes on
//!   unless the error is fatal), 4000 when reading the body fails mid-fragment, 4008 when the stream
//!   is deleted, 4506 (4502) when the master key of the stream's data key is not in the keyring
//!   (does not open it) — nothing is stored then —, 5001 when the store fails, 5000 for index or
//!   internal failures. After a fatal
//!   error the session stops reading, waits for fragments already handed to the persister, and ends.
//! - **IDLE** every `idle_ack_interval` without data; the session ends after `idle_timeout`.
//!
//! At server shutdown ([`StopReason::Shutdown`]) a session that is in the middle of a fragment
//! keeps reading until that fragment is complete (at most [`SHUTDOWN_FINISH_FRAGMENT`]), then stops
//! reading like any other stop: fragments already handed over still get their PERSISTED ACK before
//! the response ends. A fragment not complete by then is dropped, never RECEIVED.
//!
//! The unit tests at the end drive [`run`] without HTTP, on an in-memory index and a store with
//! fault injection: the ACK order, and every ErrorId the session itself sends (4000, 4008, 5000,
//! 5001; the fragmenter's own are exercised in `tests/media`, the key ones in `tests/at_rest.rs`),
//! and IDLE.

//!
//! Metrics (`crate::metrics`): body bytes, fragments received/persisted, ERROR ACKs by ErrorId,
//! fragments whose video track does not start on a key frame (accepted, as KVS does, but counted,
//! stored as the fragment's `key_frame` flag, and logged at the first one of each session), and
//! the RECEIVED/PERSISTED latency from the moment the fragment's last byte was parsed.
//!
//! A producer that disconnects mid-fragment loses only that incomplete fragment (it was never
//! RECEIVED); fragments already handed over are still persisted. The I/O per fragment is the
//! archive's: its [`FragmentSink`]'s page-cache writes as the bytes arrive (local store: the
//! fragment is streamed into its segment from BUFFERING on, and cut off again if it is rejected
//! or abandoned) and the persister's sync and commit (batched); per session there is one index
//! read (fragment-number floor), one read of the resend window (below) and one write per header
//! set. No database round trip per frame.
//!
//! **Resent fragments are stored once.** A producer that lost its connection (or its node) resends
//! every fragment it had no PERSISTED ACK for, in a new session, possibly on another node; some of
//! them were committed after all. At its first fragment the session reads the stream's fragments
//! whose producer timestamp is at or after that fragment's (the *resend window*, usually empty,
//! paged by [`RESEND_WINDOW_ROWS`]); a fragment whose producer timestamp is in it is a duplicate:
//! its BUFFERING, RECEIVED and PERSISTED ACKs carry the EXISTING fragment number, its frames go to
//! no live reader and it is not appended. A duplicate the window could not see (the earlier
//! session committed it meanwhile) is caught by the commit's unique (stream, producer timestamp)
//! index and answered the same way ([`PersistOutcome::Duplicate`]), its BUFFERING and RECEIVED
//! having carried the new number (design/0022-producer-failover.md).

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{FuturesOrdered, Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::{Ingest, LiveEvent, SessionSlot, StopReason};
use crate::archive::{FragmentSink, IndexError, KeyUnavailable, PersistOutcome};
use crate::media::ebml::writer::EbmlWriter;
use crate::media::error_id::ErrorId;
use crate::media::fragment::{
    Fragment, FragmentEvent, Fragmenter, FragmenterConfig, HeaderSet, TimecodeType,
    parse_producer_start_timestamp,
};
use crate::media::mkv::ids;
use crate::metrics::{AckLatencyKind, ConnectionGuard, StreamIngestMetrics};
use crate::model::{FragmentLocation, FragmentNumber, FragmentRecord, StorageTier, Stream as KvsStream};

/// What kind of ACK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckKind {
    /// The fragment's first bytes arrived.
    Buffering,
    /// The fragment is complete.
    Received,
    /// The fragment is durable and indexed.
    Persisted,
    /// A fragment or the session failed, with its KVS ErrorId.
    Error(ErrorId),
    /// The session is alive but no data is arriving.
    Idle,
}

/// One ACK event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// Kind.
    pub kind: AckKind,
    /// The Cluster Timecode as sent, when the ACK is about a fragment whose timecode is known.
    pub fragment_timecode: Option<u64>,
    /// The fragment number, when one was issued.
    pub fragment_number: Option<FragmentNumber>,
}

impl Ack {
    fn idle() -> Self {
        Self { kind: AckKind::Idle, fragment_timecode: None, fragment_number: None }
    }

    fn error(error_id: ErrorId, timecode: Option<u64>, number: Option<FragmentNumber>) -> Self {
        Self { kind: AckKind::Error(error_id), fragment_timecode: timecode, fragment_number: number }
    }
}

/// How the producer described its body (the PutMedia headers).
#[derive(Debug, Clone)]
pub struct SessionParams {
    /// The target stream.
    pub stream: KvsStream,
    /// `x-amzn-fragment-timecode-type`.
    pub timecode_type: TimecodeType,
    /// `x-amzn-producer-start-timestamp`, raw.
    pub producer_start_timestamp: Option<String>,
    /// The producer's address, for the connect/disconnect log lines.
    pub remote: Option<std::net::SocketAddr>,
    /// Cluster mode: the writer epoch this session claimed; every fragment is committed under it
    /// and refused once another node has claimed the stream (ErrorId 5000, and the session ends
    /// so the producer reconnects to the new owner). `None` on a single node.
    pub writer_epoch: Option<i64>,
}

type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;
type PendingPersist =
    Pin<Box<dyn std::future::Future<Output = (u64, FragmentNumber, Instant, PersistOutcome)> + Send>>;

/// Rows read at a time from the index for the resend window (see the module documentation).
pub const RESEND_WINDOW_ROWS: u32 = 1000;

/// The stream's fragments at or after the session's first producer timestamp, as read from the
/// index: what a resending producer may send again.
#[derive(Debug, Default)]
struct ResendWindow {
    /// Whether the first page was read.
    loaded: bool,
    /// Producer timestamp → the committed fragment's number.
    known: std::collections::BTreeMap<i64, FragmentNumber>,
    /// The last producer timestamp the pages read cover; `None`: every later one.
    covered_until: Option<i64>,
}

/// How long a session asked to stop by server shutdown may keep reading to complete the fragment
/// it is in the middle of.
pub const SHUTDOWN_FINISH_FRAGMENT: Duration = Duration::from_secs(5);

/// Starts a session for `slot` reading `body`; ACKs arrive on the returned channel, which closes
/// when the session is over.
pub fn run(
    ingest: Arc<Ingest>,
    slot: SessionSlot,
    params: SessionParams,
    body: BodyStream,
) -> mpsc::Receiver<Ack> {
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        let stream_id = params.stream.id;
        let remote = params.remote;
        let mut session = Session::new(ingest, slot, params, tx);
        let remote_text = remote.map_or_else(|| "-".to_owned(), |r| r.to_string());
        tracing::info!(stream = %session.stream.name, remote = %remote_text, "producer connected");
        session.ingest.seed_numbers(stream_id).await;
        session.run(body).await;
        let t = &session.tally;
        tracing::info!(
            stream = %session.stream.name,
            remote = %remote_text,
            fragments_received = t.received,
            fragments_persisted = t.persisted,
            fragments_resent = t.duplicates,
            errors = t.errors,
            bytes = t.bytes,
            secs = t.started.elapsed().as_secs(),
            reason = t.end_reason.as_deref().unwrap_or("end of body"),
            "producer disconnected"
        );
        session.ingest.live.prune(stream_id);
    });
    rx
}

struct CurrentFragment {
    timecode: u64,
    number: FragmentNumber,
    server_ts_ms: i64,
    /// Whether live readers were subscribed when it started (frames are published only then).
    live: bool,
    /// The stream already holds this fragment (a resend): `number` is that fragment's.
    duplicate: bool,
    /// Where its bytes go as they arrive (archiving streams, not for a resend). Dropped with the
    /// fragment when it is rejected or abandoned, which cuts its bytes off the store again.
    sink: Option<FragmentSink>,
}

struct Session {
    ingest: Arc<Ingest>,
    slot: SessionSlot,
    stream: KvsStream,
    fragmenter: Fragmenter,
    acks: mpsc::Sender<Ack>,
    current: Option<CurrentFragment>,
    header_id: Option<i64>,
    /// Stored form of the current header set, for live readers.
    header_bytes: Bytes,
    /// TimecodeScale of the current header set, ns.
    timecode_scale_ns: u64,
    timecode_type: TimecodeType,
    producer_start_ms: Option<u64>,
    pending: FuturesOrdered<PendingPersist>,
    /// What a resending producer may send again (see the module documentation).
    resend_window: ResendWindow,
    /// Set when the session must stop reading (fatal error, stop request, client gone).
    stop_reading: bool,
    /// The writer epoch its fragments are committed under (cluster mode).
    writer_epoch: Option<i64>,
    /// Set when the ACK channel is closed (the client went away).
    acks_closed: bool,
    /// Set by a shutdown request that arrived mid-fragment: stop once it completes or at this time.
    finish_by: Option<tokio::time::Instant>,
    stream_metrics: Arc<StreamIngestMetrics>,
    /// Fragments of this session whose video does not start on a key frame (logged once).
    fragments_without_key_frame: u64,
    _connection: ConnectionGuard,
    /// What the disconnect log line reports.
    tally: SessionTally,
}

/// A session's totals and why it ended, for the one log line at its end.
struct SessionTally {
    started: Instant,
    bytes: u64,
    received: u64,
    persisted: u64,
    /// Resent fragments acknowledged with the existing fragment number.
    duplicates: u64,
    errors: u64,
    /// The first reason the session stopped (`None`: the producer ended the body).
    end_reason: Option<String>,
}

impl SessionTally {
    fn ended(&mut self, reason: impl Into<String>) {
        if self.end_reason.is_none() {
            self.end_reason = Some(reason.into());
        }
    }
}

impl Session {
    fn new(ingest: Arc<Ingest>, slot: SessionSlot, params: SessionParams, acks: mpsc::Sender<Ack>) -> Self {
        let cfg = ingest.config();
        let producer_start_ms =
            params.producer_start_timestamp.as_deref().and_then(parse_producer_start_timestamp);
        let fragmenter = Fragmenter::new(FragmenterConfig {
            timecode_type: params.timecode_type,
            producer_start_ms,
            max_fragment_bytes: cfg.max_fragment_bytes,
            max_fragment_duration_ms: cfg.max_fragment_duration_ms,
            max_metadata_per_fragment: cfg.max_metadata_per_fragment,
            stream_payload: true,
            ..FragmenterConfig::default()
        });
        let metrics = ingest.metrics().clone();
        let stream_metrics = metrics.stream_ingest(params.stream.id, params.stream.name.as_str());
        let connection = metrics.put_media_started();
        Self {
            ingest,
            slot,
            stream: params.stream,
            fragmenter,
            acks,
            current: None,
            header_id: None,
            header_bytes: Bytes::new(),
            timecode_scale_ns: 1_000_000,
            timecode_type: params.timecode_type,
            producer_start_ms,
            pending: FuturesOrdered::new(),
            resend_window: ResendWindow::default(),
            stop_reading: false,
            writer_epoch: params.writer_epoch,
            acks_closed: false,
            finish_by: None,
            stream_metrics,
            fragments_without_key_frame: 0,
            _connection: connection,
            tally: SessionTally {
                started: Instant::now(),
                bytes: 0,
                received: 0,
                persisted: 0,
                duplicates: 0,
                errors: 0,
                end_reason: None,
            },
        }
    }

    async fn send(&mut self, ack: Ack) {
        if let AckKind::Error(error_id) = ack.kind {
            self.ingest.metrics().ack_error(error_id.id());
            self.tally.errors += 1;
            if self.stop_reading {
                self.tally.ended(format!("error {} {}", error_id.id(), error_id.name()));
            }
        }
        if !self.acks_closed && self.acks.send(ack).await.is_err() {
            self.acks_closed = true;
            self.stop_reading = true;
            self.tally.ended("the producer stopped reading ACKs");
        }
    }

    async fn run(&mut self, mut body: BodyStream) {
        let cfg = self.ingest.config().clone();
        let mut last_data = Instant::now();
        let mut idle = tokio::time::interval(cfg.idle_ack_interval());
        idle.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        idle.tick().await;
        let mut stop = self.slot.stop.clone();
        let mut body_done = false;
        loop {
            if (body_done || self.stop_reading) && self.pending.is_empty() {
                break;
            }
            let reading = !body_done && !self.stop_reading && self.pending.len() < cfg.max_pending_fragments;
            let finish_by = self.finish_by;
            tokio::select! {
                biased;
                changed = stop.changed(), if !self.stop_reading => {
                    let reason = if changed.is_ok() { *stop.borrow() } else { None };
                    self.on_stop(reason).await;
                }
                Some((timecode, number, completed_at, outcome)) = self.pending.next(), if !self.pending.is_empty() => {
                    self.on_persisted(timecode, number, completed_at, outcome).await;
                }
                _ = finish_in_time(finish_by), if finish_by.is_some() && !self.stop_reading => {
                    tracing::info!(stream = %self.stream.name, "shutdown: the fragment in progress did not complete in time");
                    self.tally.ended("server shutdown");
                    self.current = None;
                    self.stop_reading = true;
                }
                chunk = body.next(), if reading => {
                    match chunk {
                        Some(Ok(bytes)) => {
                            last_data = Instant::now();
                            self.ingest.metrics().ingest_bytes(&self.stream_metrics, bytes.len() as u64);
                            self.tally.bytes += bytes.len() as u64;
                            if !bytes.is_empty() {
                                self.fragmenter.push(bytes);
                                self.drain().await;
                            }
                        }
                        Some(Err(e)) => {
                            tracing::info!(stream = %self.stream.name, "PutMedia body read failed: {e}");
                            self.tally.ended(format!("connection lost: {e}"));
                            if let Some(cur) = self.current.take() {
                                let ack = Ack::error(ErrorId::StreamReadError, Some(cur.timecode), Some(cur.number));
                                self.send(ack).await;
                            }
                            body_done = true;
                        }
                        None => {
                            self.fragmenter.finish();
                            self.drain().await;
                            body_done = true;
                        }
                    }
                }
                _ = idle.tick(), if !body_done && !self.stop_reading => {
                    if last_data.elapsed() >= cfg.idle_timeout() {
                        tracing::info!(stream = %self.stream.name, "PutMedia idle timeout");
                        self.tally.ended("idle timeout");
                        self.stop_reading = true;
                    } else if last_data.elapsed() >= cfg.idle_ack_interval() {
                        self.send(Ack::idle()).await;
                    }
                }
            }
        }
    }

    async fn on_stop(&mut self, reason: Option<StopReason>) {
        if reason == Some(StopReason::Shutdown) && self.current.is_some() {
            // Finish the fragment in progress first (bounded); `on_completed` then stops reading.
            self.finish_by = Some(tokio::time::Instant::now() + SHUTDOWN_FINISH_FRAGMENT);
            return;
        }
        self.stop_reading = true;
        self.tally.ended(match reason {
            Some(StopReason::StreamDeleted) => "stream deleted",
            Some(StopReason::Replaced) => "replaced by a newer connection",
            Some(StopReason::Shutdown) => "server shutdown",
            None => "stopped",
        });
        match reason {
            Some(StopReason::StreamDeleted) => {
                let cur = self.current.take();
                let ack = Ack::error(
                    ErrorId::StreamNotActive,
                    cur.as_ref().map(|c| c.timecode),
                    cur.map(|c| c.number),
                );
                self.send(ack).await;
            }
            Some(StopReason::Replaced) | Some(StopReason::Shutdown) | None => {}
        }
    }

    async fn on_persisted(
        &mut self,
        timecode: u64,
        number: FragmentNumber,
        completed_at: Instant,
        outcome: PersistOutcome,
    ) {
        let persisted = outcome == PersistOutcome::Persisted;
        let ack = match outcome {
            PersistOutcome::Persisted => {
                self.ingest.metrics().fragment_persisted(&self.stream_metrics);
                self.tally.persisted += 1;
                self.ingest
                    .live
                    .publish(self.stream.id, LiveEvent::FragmentPersisted { number: number.clone() });
                Ack {
                    kind: AckKind::Persisted,
                    fragment_timecode: Some(timecode),
                    fragment_number: Some(number),
                }
            }
            PersistOutcome::Duplicate(existing) => {
                self.tally.duplicates += 1;
                Ack {
                    kind: AckKind::Persisted,
                    fragment_timecode: Some(timecode),
                    fragment_number: Some(existing),
                }
            }
            PersistOutcome::StreamGone => {
                self.stop_reading = true;
                Ack::error(ErrorId::StreamNotActive, Some(timecode), Some(number))
            }
            PersistOutcome::StoreFailed(e) => {
                tracing::error!(stream = %self.stream.name, "storing fragment {number} failed: {e}");
                Ack::error(ErrorId::FragmentArchivalError, Some(timecode), Some(number))
            }
            PersistOutcome::IndexFailed(e) => {
                tracing::error!(stream = %self.stream.name, "indexing fragment {number} failed: {e}");
                Ack::error(ErrorId::AckInternalError, Some(timecode), Some(number))
            }
            PersistOutcome::Fenced => {
                // Another node claimed the stream (this node was paused or cut off past its
                // lease): nothing of this session may be committed any more; the producer
                // reconnects, as the KVS producers do on 5000, and GetDataEndpoint sends it to
                // the new owner.
                tracing::warn!(stream = %self.stream.name, "fragment {number} refused: another node writes the stream now");
                self.stop_reading = true;
                Ack::error(ErrorId::AckInternalError, Some(timecode), Some(number))
            }
            PersistOutcome::KeyUnavailable(e) => {
                tracing::error!(stream = %self.stream.name, "fragment {number} not stored: {e}");
                let id = match e {
                    KeyUnavailable::WrongKey { .. } => ErrorId::KmsKeyValidationError,
                    KeyUnavailable::NotInKeyring { .. } | KeyUnavailable::NoSuchVersion { .. } => {
                        ErrorId::KmsKeyNotFound
                    }
                };
                Ack::error(id, Some(timecode), Some(number))
            }
        };
        self.send(ack).await;
        if persisted {
            self.ingest.metrics().ack_latency(AckLatencyKind::Persisted, completed_at.elapsed());
        }
    }

    /// Pulls every event the fragmenter has and acts on it.
    async fn drain(&mut self) {
        loop {
            let event = match self.fragmenter.pull() {
                Ok(Some(e)) => e,
                Ok(None) => return,
                Err(e) => FragmentEvent::Error(e),
            };
            match event {
                FragmentEvent::HeadersChanged(headers) => {
                    if let Err(ack) = self.store_headers(&headers).await {
                        self.stop_reading = true;
                        self.send(ack).await;
                        return;
                    }
                }
                FragmentEvent::FragmentStarted { cluster_timecode, .. } => {
                    self.ingest.metrics().fragment_started(&self.stream_metrics);
                    let now = self.ingest.clock.now_millis();
                    let existing = self.already_stored(self.producer_ts_ms(cluster_timecode)).await;
                    let duplicate = existing.is_some();
                    let number = match existing {
                        Some(n) => n,
                        None => self.ingest.numbers.next(self.stream.id, now),
                    };
                    let live = !duplicate && self.ingest.live.has_subscribers(self.stream.id);
                    if live {
                        self.ingest.live.publish(
                            self.stream.id,
                            LiveEvent::FragmentStarted {
                                number: number.clone(),
                                cluster_timecode,
                                producer_ts_ms: self.producer_ts_ms(cluster_timecode),
                                server_ts_ms: now,
                                header: self.header_bytes.clone(),
                            },
                        );
                    }
                    // The previous fragment's sink (if it never completed) goes first.
                    self.current = None;
                    let sink = if !duplicate && self.stream.retention.is_persistent() {
                        let archive = &self.ingest.archive;
                        Some(archive.begin_fragment(self.stream.id, &number, CLUSTER_HEADER_LEN).await)
                    } else {
                        None
                    };
                    self.current = Some(CurrentFragment {
                        timecode: cluster_timecode,
                        number: number.clone(),
                        server_ts_ms: now,
                        live,
                        duplicate,
                        sink,
                    });
                    let ack = Ack {
                        kind: AckKind::Buffering,
                        fragment_timecode: Some(cluster_timecode),
                        fragment_number: Some(number),
                    };
                    self.send(ack).await;
                }
                FragmentEvent::Frame(f) => {
                    if let Some(cur) = self.current.as_ref().filter(|c| c.live) {
                        let event = LiveEvent::Frame { number: cur.number.clone(), frame: f.frame };
                        self.ingest.live.publish(self.stream.id, event);
                    }
                }
                FragmentEvent::Payload(bytes) => {
                    if let Some(sink) = self.current.as_mut().and_then(|c| c.sink.as_mut()) {
                        sink.push(&bytes);
                    }
                }
                FragmentEvent::FragmentCompleted(fragment) => self.on_completed(fragment).await,
                FragmentEvent::Error(err) => {
                    let number = match (&self.current, err.cluster_timecode) {
                        (Some(c), Some(tc)) if c.timecode == tc => Some(c.number.clone()),
                        (Some(c), None) => Some(c.number.clone()),
                        _ => None,
                    };
                    let timecode = err.cluster_timecode.or(self.current.as_ref().map(|c| c.timecode));
                    if let Some(n) = &number {
                        self.current = None;
                        let event = LiveEvent::FragmentEnded { number: n.clone(), complete: false };
                        self.ingest.live.publish(self.stream.id, event);
                    }
                    tracing::info!(stream = %self.stream.name, "{err}");
                    if err.fatal {
                        // Before the ACK, so the disconnect log line names this error as the reason.
                        self.stop_reading = true;
                    }
                    self.send(Ack::error(err.error_id(), timecode, number)).await;
                    if err.fatal {
                        return;
                    }
                }
            }
            if self.stop_reading {
                return;
            }
        }
    }

    /// The number of the stream's fragment with this producer timestamp, if the stream holds one
    /// (the producer is resending it), from the resend window, read or extended as needed. Only
    /// archiving streams are looked up; a failed read is logged and counts as "not stored" (the
    /// commit's unique index still catches a duplicate).
    async fn already_stored(&mut self, producer_ts_ms: i64) -> Option<FragmentNumber> {
        if !self.stream.retention.is_persistent() {
            return None;
        }
        let w = &mut self.resend_window;
        let from = match (w.loaded, w.covered_until) {
            (false, _) => Some(producer_ts_ms),
            (true, Some(until)) if producer_ts_ms > until => {
                Some(until.saturating_add(1).max(producer_ts_ms))
            }
            _ => None,
        };
        if let Some(from) = from {
            let page = self
                .ingest
                .archive
                .fragments_in_range(
                    self.stream.id,
                    crate::archive::TimestampKind::Producer,
                    from,
                    i64::MAX,
                    None,
                    RESEND_WINDOW_ROWS,
                )
                .await;
            let w = &mut self.resend_window;
            match page {
                Ok(rows) => {
                    w.loaded = true;
                    w.covered_until = if rows.len() as u32 >= RESEND_WINDOW_ROWS {
                        rows.last().map(|r| r.producer_ts_ms)
                    } else {
                        None
                    };
                    w.known.extend(rows.into_iter().map(|r| (r.producer_ts_ms, r.number)));
                }
                Err(e) => {
                    tracing::warn!(stream = %self.stream.name, "reading the resend window failed: {e}");
                    return None;
                }
            }
        }
        self.resend_window.known.get(&producer_ts_ms).cloned()
    }

    /// Producer timestamp of a Cluster Timecode under the current header set, epoch ms.
    fn producer_ts_ms(&self, timecode: u64) -> i64 {
        let ms = (u128::from(timecode) * u128::from(self.timecode_scale_ns) / 1_000_000) as i64;
        match self.timecode_type {
            TimecodeType::Absolute => ms,
            TimecodeType::Relative => self.producer_start_ms.unwrap_or(0) as i64 + ms,
        }
    }

    async fn store_headers(&mut self, headers: &HeaderSet) -> Result<(), Ack> {
        self.ingest.fill_media_type(&self.stream, &headers.track_entries);
        let bytes = header_set_bytes(headers);
        self.header_bytes = bytes.clone();
        self.timecode_scale_ns = headers.timecode_scale_ns;
        let sha = hex::encode(Sha256::digest(&bytes));
        let now = self.ingest.clock.now_millis();
        match self.ingest.archive.put_track_header(self.stream.id, &sha, &bytes, now).await {
            Ok(id) => {
                self.header_id = Some(id);
                Ok(())
            }
            Err(IndexError::NotFound) => Err(Ack::error(ErrorId::StreamNotActive, None, None)),
            Err(e) => {
                tracing::error!(stream = %self.stream.name, "storing track headers failed: {e}");
                Err(Ack::error(ErrorId::AckInternalError, None, None))
            }
        }
    }

    async fn on_completed(&mut self, fragment: Fragment) {
        let Some(mut cur) = self.current.take().filter(|c| c.timecode == fragment.cluster_timecode) else {
            // The fragmenter only completes fragments it started; a mismatch is a bug, not input.
            tracing::error!(stream = %self.stream.name, "completed fragment without a matching start");
            return;
        };
        let completed_at = Instant::now();
        if self.finish_by.is_some() {
            // Shutdown was waiting for this fragment: persist it, read nothing more.
            self.stop_reading = true;
        }
        if !cur.duplicate {
            let ended = LiveEvent::FragmentEnded { number: cur.number.clone(), complete: true };
            self.ingest.live.publish(self.stream.id, ended);
        }
        let received = Ack {
            kind: AckKind::Received,
            fragment_timecode: Some(cur.timecode),
            fragment_number: Some(cur.number.clone()),
        };
        self.send(received).await;
        self.ingest.metrics().fragment_received(&self.stream_metrics);
        self.ingest.metrics().frames_received(&self.stream_metrics, fragment.frame_count);
        self.tally.received += 1;
        let video_key_frame = fragment.video_starts_with_keyframe();
        if video_key_frame == Some(false) {
            self.on_fragment_without_key_frame(&cur.number);
        }
        self.ingest.metrics().ack_latency(AckLatencyKind::Received, completed_at.elapsed());
        if !self.stream.retention.is_persistent() {
            return;
        }
        if cur.duplicate {
            // Stored already: PERSISTED (with the existing number) in its turn, nothing appended.
            let (timecode, number) = (cur.timecode, cur.number);
            let outcome = PersistOutcome::Duplicate(number.clone());
            self.pending.push_back(Box::pin(async move { (timecode, number, completed_at, outcome) }));
            return;
        }
        let Some(header_id) = self.header_id else {
            self.send(Ack::error(ErrorId::AckInternalError, Some(cur.timecode), Some(cur.number))).await;
            return;
        };
        let Some(sink) = cur.sink.take() else {
            self.send(Ack::error(ErrorId::AckInternalError, Some(cur.timecode), Some(cur.number))).await;
            return;
        };
        let head = cluster_header(fragment.payload_size);
        let record = FragmentRecord {
            stream_id: self.stream.id,
            number: cur.number.clone(),
            cluster_timecode: fragment.cluster_timecode as i64,
            producer_ts_ms: fragment.producer_timestamp_ms as i64,
            server_ts_ms: cur.server_ts_ms,
            duration_ms: fragment.duration_ms as i64,
            size_bytes: 0,
            header_id,
            location: FragmentLocation { segment: 0, offset: 0, length: 0, tier: StorageTier::Hot },
            key_version: 0,
            key_frame: video_key_frame.unwrap_or(fragment.starts_with_keyframe),
            tracks: fragment.tracks_with_frames.clone(),
            frame_count: fragment.frame_count as i64,
            metadata: fragment.metadata.clone(),
        };
        let committed = self.ingest.archive.commit_fragment(sink, &head, record, self.writer_epoch).await;
        let Ok(receipt) = committed else {
            self.send(Ack::error(ErrorId::AckInternalError, Some(cur.timecode), Some(cur.number))).await;
            return;
        };
        let (timecode, number) = (cur.timecode, cur.number);
        self.pending.push_back(Box::pin(async move { (timecode, number, completed_at, receipt.await) }));
    }
}

impl Session {
    /// Counts a fragment whose video track does not start on a key frame; the first one of the
    /// session is logged, so an operator sees a misconfigured producer without a line per
    /// fragment (the count is in the metrics).
    fn on_fragment_without_key_frame(&mut self, number: &FragmentNumber) {
        self.fragments_without_key_frame += 1;
        self.ingest.metrics().fragment_without_key_frame(&self.stream_metrics);
        if self.fragments_without_key_frame == 1 {
            tracing::warn!(
                stream = %self.stream.name,
                fragment = %number,
                "fragment does not start with a key frame on its video track: players cannot decode it \
                 from its start (HLS/DASH/GetClip lose frames). The producer must start every fragment \
                 (Cluster) at a key frame, as the KVS producer SDK and `openkvs put` do. Logged once per \
                 PutMedia session; counted in openkvs_stream_fragments_without_key_frame_total"
            );
        }
    }
}

/// The stored form of a header set: EBML header, an unknown-size Segment header, Info and Tracks,
/// i.e. exactly the bytes that precede a fragment's Tags and Cluster in a GetMedia chunk.
pub fn header_set_bytes(h: &HeaderSet) -> Bytes {
    let mut w = EbmlWriter::new();
    w.raw(&h.ebml_header).unknown_size_header(ids::SEGMENT, 8).raw(&h.info).raw(&h.tracks);
    w.finish()
}

/// Length of [`cluster_header`]: the Cluster ID (4 bytes) and an 8-byte size.
const CLUSTER_HEADER_LEN: usize = 12;

/// A known-size Cluster header (ID + 8-byte size) for a payload of `len` bytes: the first bytes of
/// a stored fragment, known only at its end (reserved in its sink until then).
fn cluster_header(len: u64) -> Bytes {
    let mut w = EbmlWriter::with_size_form(crate::media::ebml::writer::SizeForm::Eight);
    w.element_header(ids::CLUSTER, len);
    w.finish()
}

/// Parses `x-amzn-fragment-timecode-type`.
pub fn parse_timecode_type(value: &str) -> Option<TimecodeType> {
    match value.trim() {
        "ABSOLUTE" => Some(TimecodeType::Absolute),
        "RELATIVE" => Some(TimecodeType::Relative),
        _ => None,
    }
}

/// Completes at `deadline`; never without one. Built per turn of the read loop, so it must cost
/// nothing until polled (a `Sleep` takes the runtime's handle when created).
async fn finish_in_time(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Turns any byte stream with displayable errors into the session's body type.
pub fn body_stream<S, E>(s: S) -> BodyStream
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::fmt::Display,
{
    Box::pin(s.map(|r| r.map_err(|e| e.to_string())))
}

/// The session without HTTP: an in-memory index, a local store behind a fault switch, and a body
/// fed chunk by chunk. Each test checks the ACKs one producer would read.
#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;
    use tokio::sync::mpsc;

    use super::{Ack, AckKind, SessionParams, run};
    use crate::archive::{self, Archive, ArchiveConfig, FaultSwitch, FaultyStore, NewStream};
    use crate::clock::SystemClock;
    use crate::ingest::{Ingest, IngestConfig};
    use crate::media::fragment::TimecodeType;
    use crate::metrics::Metrics;
    use crate::model::{
        AccountId, DataRetention, FragmentNumber, Region, ResourceArn, StorageTier, Stream, StreamName,
        TagSet, VersionToken,
    };

    /// `tests/fixtures/h264_static_640x360_10s.mkv`: 5 Clusters of 2 s (9 KB).
    const FIXTURE: &str = "tests/fixtures/h264_static_640x360_10s.mkv";
    /// Where its Clusters start.
    const CLUSTERS: [usize; 5] = [513, 2733, 4314, 5895, 7476];
    /// No test waits longer than this for an ACK.
    const DEADLINE: Duration = Duration::from_secs(20);

    fn fixture() -> Bytes {
        Bytes::from(std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)).unwrap())
    }

    struct Harness {
        archive: Arc<Archive>,
        ingest: Arc<Ingest>,
        store_fault: FaultSwitch,
        stream: Stream,
        _dir: tempfile::TempDir,
    }

    impl Harness {
        async fn new(config: IngestConfig) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let store_fault = FaultSwitch::new();
            let switch = store_fault.clone();
            let archive_config = ArchiveConfig::new("sqlite::memory:", dir.path());
            let metrics = Metrics::new();
            let archive = archive::open(&archive_config, metrics.clone(), move |inner| {
                Arc::new(FaultyStore::new(inner, switch))
            })
            .await
            .unwrap();
            let ingest = Ingest::new(archive.clone(), Arc::new(SystemClock), config, metrics);
            let region = Region::parse("us-east-1").unwrap();
            let name = StreamName::parse("cam").unwrap();
            let stream = archive
                .create_stream(NewStream {
                    arn: ResourceArn::stream(&region, &AccountId::default(), &name, 1),
                    device_name: None,
                    media_type: None,
                    kms_key_id: None,
                    data_key: None,
                    retention: DataRetention::from_hours(24).unwrap(),
                    storage_tier: StorageTier::Hot,
                    version: VersionToken::generate(),
                    tags: TagSet::default(),
                })
                .await
                .unwrap();
            Self { archive, ingest, store_fault, stream, _dir: dir }
        }

        /// Starts a session; the body is what is sent on the returned sender (ended by dropping it).
        fn start(&self) -> (mpsc::Sender<Result<Bytes, String>>, mpsc::Receiver<Ack>) {
            let slot = self.ingest.register(self.stream.id).unwrap();
            let (tx, rx) = mpsc::channel(16);
            let body =
                futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
            let params = SessionParams {
                stream: self.stream.clone(),
                timecode_type: TimecodeType::Relative,
                producer_start_timestamp: Some("1700000000.000".to_owned()),
                remote: None,
                writer_epoch: None,
            };
            (tx, run(self.ingest.clone(), slot, params, Box::pin(body)))
        }

        async fn indexed_numbers(&self) -> Vec<FragmentNumber> {
            self.archive
                .fragments_after(self.stream.id, None, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|f| f.number)
                .collect()
        }
    }

    /// The next ACK (`None`: the session ended).
    async fn next(acks: &mut mpsc::Receiver<Ack>) -> Option<Ack> {
        tokio::time::timeout(DEADLINE, acks.recv()).await.expect("an ACK or the end within the deadline")
    }

    /// Every ACK until the session ends.
    async fn rest(acks: &mut mpsc::Receiver<Ack>) -> Vec<Ack> {
        let mut out = Vec::new();
        while let Some(a) = next(acks).await {
            out.push(a);
        }
        out
    }

    /// Reads ACKs until one satisfies `want`; returns all read.
    async fn until(acks: &mut mpsc::Receiver<Ack>, want: impl Fn(&Ack) -> bool) -> Vec<Ack> {
        let mut out = Vec::new();
        loop {
            let a = next(acks).await.expect("the session ended before the expected ACK");
            let done = want(&a);
            out.push(a);
            if done {
                return out;
            }
        }
    }

    /// The kinds of the ACKs about each fragment, in the order fragments started (by number).
    fn per_fragment(acks: &[Ack]) -> Vec<(FragmentNumber, Vec<String>)> {
        let mut out: Vec<(FragmentNumber, Vec<String>)> = Vec::new();
        for a in acks {
            let Some(n) = &a.fragment_number else { continue };
            let kind = match &a.kind {
                AckKind::Buffering => "BUFFERING".to_owned(),
                AckKind::Received => "RECEIVED".to_owned(),
                AckKind::Persisted => "PERSISTED".to_owned(),
                AckKind::Error(e) => format!("ERROR {}", e.id()),
                AckKind::Idle => "IDLE".to_owned(),
            };
            match out.iter_mut().find(|(m, _)| m == n) {
                Some((_, kinds)) => kinds.push(kind),
                None => out.push((n.clone(), vec![kind])),
            }
        }
        out
    }

    fn kinds(per: &[(FragmentNumber, Vec<String>)]) -> Vec<Vec<&str>> {
        per.iter().map(|(_, k)| k.iter().map(String::as_str).collect()).collect()
    }

    fn error_ids(acks: &[Ack]) -> Vec<u32> {
        acks.iter()
            .filter_map(|a| match a.kind {
                AckKind::Error(e) => Some(e.id()),
                _ => None,
            })
            .collect()
    }

    fn is_persisted(a: &Ack) -> bool {
        a.kind == AckKind::Persisted
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_fragment_is_buffering_then_received_then_persisted_in_order() {
        let h = Harness::new(IngestConfig::default()).await;
        let (body, mut acks) = h.start();
        let bytes = fixture();
        // Cut anywhere (here: mid-Cluster) the body parses the same.
        body.send(Ok(bytes.slice(..3000))).await.unwrap();
        body.send(Ok(bytes.slice(3000..))).await.unwrap();
        drop(body);
        let all = rest(&mut acks).await;
        let per = per_fragment(&all);
        assert_eq!(kinds(&per), vec![vec!["BUFFERING", "RECEIVED", "PERSISTED"]; 5]);
        let numbers: Vec<FragmentNumber> = per.iter().map(|(n, _)| n.clone()).collect();
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "numbers increase");
        let timecodes: Vec<u64> =
            all.iter().filter(|a| is_persisted(a)).filter_map(|a| a.fragment_timecode).collect();
        assert!(timecodes.windows(2).all(|w| w[0] < w[1]), "PERSISTED in fragment order: {timecodes:?}");
        assert!(error_ids(&all).is_empty());
        assert_eq!(h.indexed_numbers().await, numbers, "every PERSISTED fragment is indexed");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_body_that_breaks_mid_fragment_is_4000_for_that_fragment_only() {
        let h = Harness::new(IngestConfig::default()).await;
        let (body, mut acks) = h.start();
        // The first Cluster whole, the second one started.
        body.send(Ok(fixture().slice(..CLUSTERS[1] + 300))).await.unwrap();
        body.send(Err("connection reset by peer".to_owned())).await.unwrap();
        let all = rest(&mut acks).await;
        let per = per_fragment(&all);
        assert_eq!(
            kinds(&per),
            [vec!["BUFFERING", "RECEIVED", "PERSISTED"], vec!["BUFFERING", "ERROR 4000"]]
        );
        assert_eq!(h.indexed_numbers().await, [per[0].0.clone()]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fragmenter_errors_reject_their_fragment_and_the_session_goes_on() {
        // 4001: only the first Cluster (the key frame's, 2.2 KB) is over 2000 bytes.
        let h = Harness::new(IngestConfig { max_fragment_bytes: 2000, ..IngestConfig::default() }).await;
        let (body, mut acks) = h.start();
        body.send(Ok(fixture())).await.unwrap();
        drop(body);
        let per = per_fragment(&rest(&mut acks).await);
        let mut expected = vec![vec!["BUFFERING", "ERROR 4001"]];
        expected.extend(vec![vec!["BUFFERING", "RECEIVED", "PERSISTED"]; 4]);
        assert_eq!(kinds(&per), expected);

        // 4002: every 2 s fragment is longer than 1 s.
        let h =
            Harness::new(IngestConfig { max_fragment_duration_ms: 1000, ..IngestConfig::default() }).await;
        let (body, mut acks) = h.start();
        body.send(Ok(fixture())).await.unwrap();
        drop(body);
        let all = rest(&mut acks).await;
        assert_eq!(error_ids(&all), [4002; 5]);
        assert!(!all.iter().any(|a| matches!(a.kind, AckKind::Received | AckKind::Persisted)));
        assert!(h.indexed_numbers().await.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_body_that_is_not_matroska_is_4006_and_ends_the_session() {
        let h = Harness::new(IngestConfig::default()).await;
        let (body, mut acks) = h.start();
        body.send(Ok(Bytes::from_static(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n"))).await.unwrap();
        // The body stays open: the session ends by itself after the fatal error.
        let all = rest(&mut acks).await;
        assert_eq!(error_ids(&all), [4006]);
        assert!(all.iter().all(|a| a.fragment_number.is_none()));
        drop(body);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deleting_the_stream_ends_the_session_with_4008() {
        let h = Harness::new(IngestConfig::default()).await;
        let (body, mut acks) = h.start();
        // Two Clusters whole, the third started: fragment 3 is in progress.
        body.send(Ok(fixture().slice(..CLUSTERS[2] + 300))).await.unwrap();
        let mut all =
            until(&mut acks, |a| a.kind == AckKind::Buffering && a.fragment_timecode > Some(2000)).await;
        h.archive.delete_stream(h.stream.id, None).await.unwrap();
        all.extend(rest(&mut acks).await);
        let per = per_fragment(&all);
        assert_eq!(per.len(), 3);
        assert_eq!(per[2].1.first().map(String::as_str), Some("BUFFERING"));
        assert_eq!(per[2].1.last().map(String::as_str), Some("ERROR 4008"), "{per:?}");
        assert!(h.indexed_numbers().await.is_empty(), "the rows went with the stream");
        drop(body);

        // A stream deleted before its session's first header set: 4008 at once.
        let h = Harness::new(IngestConfig::default()).await;
        h.archive.delete_stream(h.stream.id, None).await.unwrap();
        let (body, mut acks) = h.start();
        body.send(Ok(fixture())).await.unwrap();
        let all = rest(&mut acks).await;
        assert_eq!(error_ids(&all), [4008]);
        assert!(!all.iter().any(|a| a.kind == AckKind::Buffering));
        drop(body);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_store_that_cannot_write_is_5001_per_fragment() {
        let h = Harness::new(IngestConfig::default()).await;
        h.store_fault.set(true);
        let (body, mut acks) = h.start();
        body.send(Ok(fixture())).await.unwrap();
        drop(body);
        let per = per_fragment(&rest(&mut acks).await);
        assert_eq!(kinds(&per), vec![vec!["BUFFERING", "RECEIVED", "ERROR 5001"]; 5]);
        assert!(h.store_fault.injected() > 0);
        assert!(h.indexed_numbers().await.is_empty(), "nothing unsynced is indexed");

        // Space again: the next session persists.
        h.store_fault.set(false);
        let (body, mut acks) = h.start();
        body.send(Ok(fixture())).await.unwrap();
        drop(body);
        let per = per_fragment(&rest(&mut acks).await);
        assert_eq!(kinds(&per), vec![vec!["BUFFERING", "RECEIVED", "PERSISTED"]; 5]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_index_that_fails_is_5000() {
        // The commit fails: fragments after the index went away are RECEIVED, then ERROR 5000.
        let h = Harness::new(IngestConfig::default()).await;
        let (body, mut acks) = h.start();
        body.send(Ok(fixture().slice(..CLUSTERS[1] + 300))).await.unwrap();
        let mut all = until(&mut acks, is_persisted).await;
        h.archive.close().await;
        body.send(Ok(fixture().slice(CLUSTERS[1] + 300..))).await.unwrap();
        drop(body);
        all.extend(rest(&mut acks).await);
        let mut expected = vec![vec!["BUFFERING", "RECEIVED", "PERSISTED"]];
        expected.extend(vec![vec!["BUFFERING", "RECEIVED", "ERROR 5000"]; 4]);
        assert_eq!(kinds(&per_fragment(&all)), expected);

        // The header set cannot be stored: 5000 before any fragment, and the session ends.
        let h = Harness::new(IngestConfig::default()).await;
        h.archive.close().await;
        let (body, mut acks) = h.start();
        body.send(Ok(fixture())).await.unwrap();
        let all = rest(&mut acks).await;
        assert_eq!(error_ids(&all), [5000]);
        assert!(!all.iter().any(|a| a.kind == AckKind::Buffering));
        drop(body);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_silent_producer_gets_idle_acks_then_the_session_times_out() {
        let config =
            IngestConfig { idle_ack_interval_ms: 10, idle_timeout_secs: 1, ..IngestConfig::default() };
        let h = Harness::new(config).await;
        let (body, mut acks) = h.start();
        body.send(Ok(fixture().slice(..CLUSTERS[1] + 300))).await.unwrap();
        // The body stays open and silent.
        let all = rest(&mut acks).await;
        let idle: Vec<&Ack> = all.iter().filter(|a| a.kind == AckKind::Idle).collect();
        assert!(idle.len() >= 2, "{all:?}");
        assert!(idle.iter().all(|a| a.fragment_number.is_none() && a.fragment_timecode.is_none()));
        let first_idle = all.iter().position(|a| a.kind == AckKind::Idle).unwrap();
        // Once data stopped: IDLE, and the PERSISTED of a fragment received before (its commit may
        // finish after the first 10 ms IDLE on a loaded machine); never BUFFERING/RECEIVED again.
        assert!(
            all[first_idle..].iter().all(|a| matches!(a.kind, AckKind::Idle | AckKind::Persisted)),
            "only IDLE (and late PERSISTED) once data stopped: {all:?}"
        );
        assert!(error_ids(&all).is_empty());
        drop(body);
    }
}
