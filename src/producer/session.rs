//! One PutMedia request from the producer side: [`put_media`] takes an already-resolved data
//! endpoint, credentials and a stream of [`BodyPiece`]s, and returns per-fragment timings.
//!
//! The request is ONE chunked `POST {DataEndpoint}/putMedia` over `hyper::client::conn::http1`,
//! with the C producer's headers, SigV4-signed ([`super::sign`]). Two tasks run full duplex:
//! - the **feeder** sends the pieces (pacing frames with `realtime`), then the end-of-fragment
//!   Tags (unless the input ended with one), then waits for the last fragment's final ACK
//!   (PERSISTED, or RECEIVED for a stream without retention) up to `final_ack_timeout`, and only
//!   then ends the body with the zero chunk, as the C producer does;
//! - the caller's task reads the ACK stream as it arrives and records it in the [`Tracker`].
//!
//! With `realtime` the feeder paces frames, as a camera sends each frame when it is captured: a
//! Cluster's prefix (with its Timecode) when the Cluster is due, then each block when its own
//! timecode is due ([`BodyPiece::chunk_offsets_ms`]), the end-of-fragment Tags right after the
//! last block. The waiting is a `sleep_until` per chunk inside the feeder task (none when the
//! chunk is already due), so a thousand paced sessions cost a thousand tasks, not a timer per
//! frame. Without `realtime` every chunk goes as fast as the connection takes it.
//!
//! "Sent" for a fragment is when hyper takes the Cluster piece's last chunk (the end-of-fragment
//! Tags right after its last block) from the body to write it; PERSISTED latency is measured from
//! there, so with `realtime` it does not include the fragment's duration. The [`Tracker`] is shared so a caller can show
//! progress while the session runs. Errors before the response starts (connect, HTTP status)
//! are [`PutMediaError`]s; everything after is in the [`SessionReport`] (ERROR ACKs, a missing final
//! ACK, a lost connection, bad input).

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_kinesisvideo::config::Credentials;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, watch};

use super::acks::{AckEvent, AckParser, ParsedAck};
use super::body::{BodyError, BodyPiece};
use super::sign::sign_put_media;
use crate::media::fragment::TimecodeType;
use crate::media::mkv::rewrite::end_of_fragment_tags;
use crate::outbound as transport;

/// How long to wait for the response to end after the body ended.
const RESPONSE_END_GRACE: Duration = Duration::from_secs(10);

/// Where and as whom to send.
#[derive(Debug, Clone)]
pub struct Target {
    /// `DataEndpoint` from GetDataEndpoint (`/putMedia` is appended).
    pub data_endpoint: String,
    /// `x-amzn-stream-name`.
    pub stream_name: String,
    /// SigV4 region.
    pub region: String,
    /// SigV4 credentials.
    pub credentials: Credentials,
}

/// Which ACK ends the session for the last fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalAck {
    /// The stream archives (retention > 0): wait for PERSISTED.
    Persisted,
    /// The stream does not archive: RECEIVED is the last ACK.
    Received,
}

/// How to send.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// `x-amzn-fragment-timecode-type`.
    pub timecode_type: TimecodeType,
    /// `x-amzn-producer-start-timestamp`, epoch ms.
    pub producer_start_ms: u64,
    /// Pace frames: send each Cluster's prefix when wall clock ≥ start + its offset from the
    /// first Cluster, and each of its blocks when wall clock ≥ that + the block's relative time.
    pub realtime: bool,
    /// Stop sending new Clusters this long after the start.
    pub stop_after: Option<Duration>,
    /// The start that `realtime` pacing and `stop_after` count from; `None`: this session's start.
    /// A producer that reconnects ([`super::reconnect`]) keeps the first session's, so a new
    /// session sends what is already due at once and paces the rest as before.
    pub pace_origin: Option<tokio::time::Instant>,
    /// Which ACK the last fragment must get.
    pub final_ack: FinalAck,
    /// How long to wait for it after the body's last byte.
    pub final_ack_timeout: Duration,
    /// `user-agent`.
    pub user_agent: String,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            timecode_type: TimecodeType::Absolute,
            producer_start_ms: 0,
            realtime: false,
            stop_after: None,
            pace_origin: None,
            final_ack: FinalAck::Persisted,
            final_ack_timeout: Duration::from_secs(30),
            user_agent: format!("openkvs-producer/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// An ERROR ACK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckError {
    /// `ErrorId`.
    pub error_id: u64,
    /// `ErrorCode`, if sent.
    pub error_code: Option<String>,
    /// `FragmentTimecode`, if sent.
    pub fragment_timecode: Option<u64>,
}

impl std::fmt::Display for AckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ERROR ack: ErrorId {}", self.error_id)?;
        if let Some(code) = &self.error_code {
            write!(f, " ({code})")?;
        }
        match self.fragment_timecode {
            Some(tc) => write!(f, ", FragmentTimecode {tc}"),
            None => write!(f, ", no FragmentTimecode"),
        }
    }
}

/// What happened to one fragment; times are since the session started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FragmentTiming {
    /// The Cluster Timecode as sent.
    pub timecode: u64,
    /// Encoded Cluster length.
    pub bytes: u64,
    /// Its last byte went to the connection.
    pub sent: Option<Duration>,
    /// BUFFERING arrived.
    pub buffering: Option<Duration>,
    /// RECEIVED arrived.
    pub received: Option<Duration>,
    /// PERSISTED arrived.
    pub persisted: Option<Duration>,
    /// The fragment number from the ACKs.
    pub fragment_number: Option<String>,
    /// How many times it was sent again after a reconnect.
    pub resends: u32,
    /// An ERROR ACK about this fragment.
    pub error: Option<AckError>,
}

impl FragmentTiming {
    /// Last byte sent → PERSISTED.
    pub fn persisted_latency(&self) -> Option<Duration> {
        self.persisted?.checked_sub(self.sent?)
    }

    /// Last byte sent → RECEIVED.
    pub fn received_latency(&self) -> Option<Duration> {
        self.received?.checked_sub(self.sent?)
    }
}

/// The result of a session that got its HTTP 200.
#[derive(Debug, Clone, Default)]
pub struct SessionReport {
    /// Every fragment sent, in order.
    pub fragments: Vec<FragmentTiming>,
    /// Every ERROR ACK, in arrival order.
    pub errors: Vec<AckError>,
    /// IDLE ACKs.
    pub idle_acks: u64,
    /// ACKs that named a timecode that was never sent, or were not valid JSON.
    pub stray_acks: u64,
    /// ERROR ACKs with a retriable ErrorId that a reconnecting producer recovered from by resending
    /// (not in `errors`; see [`super::reconnect`]).
    pub retried_errors: u64,
    /// Body bytes handed to the connection.
    pub bytes_sent: u64,
    /// Session start → response end.
    pub elapsed: Duration,
    /// Whether the last fragment got its final ACK.
    pub final_ack: bool,
    /// Why the session did not end cleanly (input error, lost connection, missing final ACK).
    pub failure: Option<String>,
}

impl SessionReport {
    /// No ERROR ACK, no failure, and the last fragment was acknowledged.
    pub fn ok(&self) -> bool {
        self.errors.is_empty() && self.failure.is_none() && self.final_ack && !self.fragments.is_empty()
    }
}

/// The session could not start.
#[derive(Debug, thiserror::Error)]
pub enum PutMediaError {
    /// Bad endpoint URL.
    #[error("unusable data endpoint {0}")]
    Url(String),
    /// Connecting failed.
    #[error(transparent)]
    Connect(#[from] transport::ConnectError),
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] super::sign::SignError),
    /// The HTTP exchange failed before a response arrived.
    #[error("PutMedia request failed: {0}")]
    Http(String),
    /// The server answered with an error status.
    #[error("PutMedia failed: HTTP {status}: {error_type}: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// `x-amzn-ErrorType` (or the body's `__type`).
        error_type: String,
        /// The body's `message`.
        message: String,
    },
}

/// Live state of one session, shared with whoever shows progress.
#[derive(Debug)]
pub struct Tracker {
    start: Instant,
    state: Mutex<TrackerState>,
    changed: watch::Sender<()>,
    /// Whether a retriable ERROR ACK ends the session for a reconnect (see [`Tracker::reconnecting`]).
    reconnecting: bool,
    /// Woken when a reconnect is wanted.
    interrupt: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct TrackerState {
    report: SessionReport,
    by_timecode: HashMap<u64, usize>,
    /// The retriable ERROR ACK that asked for a reconnect, not yet taken.
    reconnect: Option<AckError>,
}

/// A copy of the counters, for progress lines.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Since the session started.
    pub elapsed: Duration,
    /// Fragments whose last byte was sent.
    pub sent: usize,
    /// Fragments PERSISTED.
    pub persisted: usize,
    /// ERROR ACKs.
    pub errors: usize,
    /// Body bytes sent.
    pub bytes: u64,
    /// PERSISTED latencies so far.
    pub persisted_latencies: Vec<Duration>,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker {
            start: Instant::now(),
            state: Mutex::default(),
            changed: watch::channel(()).0,
            reconnecting: false,
            interrupt: tokio::sync::Notify::new(),
        }
    }
}

/// Whether the KVS producer retries after an ERROR ACK with this ErrorId (PIC
/// `serviceCallResultRetry`): a failed read or connection (4000), the service's internal and
/// archival errors (5000, 5001), and any ErrorId it does not know. The fragment-level errors
/// (4001–4012: size, duration, timecodes, Matroska, tracks, metadata) and the key and stream state
/// errors (45xx, 4008) are not: sending the same bytes again would fail again.
pub fn retriable_error_id(error_id: u64) -> bool {
    !matches!(error_id, 4001..=4012 | 4500..=4599)
}

impl Tracker {
    /// A tracker whose clock starts now.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A tracker for a producer that reconnects ([`super::reconnect`]): it lives across sessions
    /// (a resent fragment keeps its entry, counted in [`FragmentTiming::resends`]), and an ERROR
    /// ACK with a retriable ErrorId ([`retriable_error_id`]) is not the fragment's outcome but a
    /// request to end the session and resend ([`Tracker::take_interruption`]).
    pub fn reconnecting() -> Arc<Self> {
        Arc::new(Self { reconnecting: true, ..Self::default() })
    }

    /// Time since the tracker was made.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Takes what ended the last session early: its failure text and the retriable ERROR ACK that
    /// asked for a reconnect, clearing both for the next session.
    pub fn take_interruption(&self) -> (Option<String>, Option<AckError>) {
        self.with(|s| (s.report.failure.take(), s.reconnect.take()))
    }

    /// Resolves once a retriable ERROR ACK asked for a reconnect (never for a plain tracker).
    async fn reconnect_requested(&self) {
        loop {
            if self.state.lock().unwrap_or_else(|p| p.into_inner()).reconnect.is_some() {
                return;
            }
            self.interrupt.notified().await;
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut TrackerState) -> T) -> T {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let out = f(&mut s);
        drop(s);
        self.changed.send_replace(());
        out
    }

    /// Fires whenever the session's state changes (a chunk sent, an ACK arrived).
    pub fn subscribe(&self) -> watch::Receiver<()> {
        self.changed.subscribe()
    }

    /// The timecodes of fragments that got PERSISTED (or, with `received_is_final`, RECEIVED) and
    /// of those that got an ERROR ACK, in sending order.
    pub fn outcomes(&self, received_is_final: bool) -> (Vec<u64>, Vec<u64>) {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut done = Vec::new();
        let mut failed = Vec::new();
        for f in &s.report.fragments {
            if f.error.is_some() {
                failed.push(f.timecode);
            } else if f.persisted.is_some() || (received_is_final && f.received.is_some()) {
                done.push(f.timecode);
            }
        }
        (done, failed)
    }

    /// The counters now.
    pub fn progress(&self) -> Progress {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let r = &s.report;
        Progress {
            elapsed: self.start.elapsed(),
            sent: r.fragments.iter().filter(|f| f.sent.is_some()).count(),
            persisted: r.fragments.iter().filter(|f| f.persisted.is_some()).count(),
            errors: r.errors.len(),
            bytes: r.bytes_sent,
            persisted_latencies: r.fragments.iter().filter_map(FragmentTiming::persisted_latency).collect(),
        }
    }

    fn cluster_queued(&self, timecode: u64, bytes: u64) {
        self.with(|s| {
            if let Some(f) = s.by_timecode.get(&timecode).and_then(|&i| s.report.fragments.get_mut(i)) {
                // Sent again after a reconnect: latencies count from this sending.
                f.resends += 1;
                f.sent = None;
                return;
            }
            s.by_timecode.insert(timecode, s.report.fragments.len());
            s.report.fragments.push(FragmentTiming { timecode, bytes, ..FragmentTiming::default() });
        });
    }

    fn chunk_sent(&self, len: usize, ends_cluster: Option<u64>) {
        let now = self.start.elapsed();
        self.with(|s| {
            s.report.bytes_sent += len as u64;
            if let Some(tc) = ends_cluster
                && let Some(&i) = s.by_timecode.get(&tc)
                && let Some(f) = s.report.fragments.get_mut(i)
            {
                f.sent = Some(now);
            }
        });
    }

    /// Records why the run failed (the first reason is kept).
    pub fn fail_with(&self, why: String) {
        self.fail(why);
    }

    fn fail(&self, why: String) {
        self.with(|s| {
            s.report.failure.get_or_insert(why);
        });
    }

    fn on_ack(&self, ack: ParsedAck) {
        let now = self.start.elapsed();
        let reconnecting = self.reconnecting;
        let interrupt = self.with(|s| {
            let idx = ack.fragment_timecode.and_then(|tc| s.by_timecode.get(&tc).copied());
            if ack.event == AckEvent::Idle {
                s.report.idle_acks += 1;
                return false;
            }
            if ack.event == AckEvent::Error {
                let e = AckError {
                    error_id: ack.error_id.unwrap_or(0),
                    error_code: ack.error_code.clone(),
                    fragment_timecode: ack.fragment_timecode,
                };
                if reconnecting && retriable_error_id(e.error_id) {
                    s.report.retried_errors += 1;
                    s.reconnect.get_or_insert(e);
                    return true;
                }
                if let Some(f) = idx.and_then(|i| s.report.fragments.get_mut(i)) {
                    f.error.get_or_insert(e.clone());
                }
                s.report.errors.push(e);
                return false;
            }
            let Some(f) = idx.and_then(|i| s.report.fragments.get_mut(i)) else {
                s.report.stray_acks += 1;
                return false;
            };
            if f.fragment_number.is_none() {
                f.fragment_number = ack.fragment_number;
            }
            let slot = match ack.event {
                AckEvent::Buffering => &mut f.buffering,
                AckEvent::Received => &mut f.received,
                AckEvent::Persisted => &mut f.persisted,
                _ => return false,
            };
            slot.get_or_insert(now);
            false
        });
        if interrupt {
            self.interrupt.notify_one();
        }
    }

    fn stray(&self, n: u64) {
        if n > 0 {
            self.with(|s| s.report.stray_acks += n);
        }
    }

    /// Whether the fragment sent with `timecode` reached `final_ack` (`Some(true)`) or failed
    /// (`Some(false)`); `None` while neither.
    pub fn final_state(&self, timecode: u64, final_ack: FinalAck) -> Option<bool> {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let f = s.by_timecode.get(&timecode).and_then(|&i| s.report.fragments.get(i))?;
        if f.error.is_some() {
            return Some(false);
        }
        let done = match final_ack {
            FinalAck::Persisted => f.persisted.is_some(),
            FinalAck::Received => f.received.is_some() || f.persisted.is_some(),
        };
        done.then_some(true)
    }

    /// Waits until the fragment `timecode` is final; `true` if it got the final ACK, `false` on
    /// an ERROR or timeout.
    async fn wait_final(&self, timecode: u64, final_ack: FinalAck, timeout: Duration) -> bool {
        let mut rx = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(ok) = self.final_state(timecode, final_ack) {
                return ok;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return false,
            }
        }
    }

    /// The report so far, with its elapsed time and whether the final ACK came.
    pub fn finish(&self, final_ack: bool) -> SessionReport {
        let elapsed = self.start.elapsed();
        self.with(|s| {
            s.report.elapsed = elapsed;
            s.report.final_ack = final_ack;
            s.report.clone()
        })
    }
}

/// One body chunk on its way to hyper.
struct Chunk {
    bytes: Bytes,
    /// The timecode of the Cluster this chunk completes.
    ends_cluster: Option<u64>,
}

/// The request body: chunks from the feeder, timestamped as hyper takes them.
struct ChannelBody {
    rx: mpsc::Receiver<Chunk>,
    tracker: Arc<Tracker>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(chunk)) => {
                self.tracker.chunk_sent(chunk.bytes.len(), chunk.ends_cluster);
                Poll::Ready(Some(Ok(Frame::data(chunk.bytes))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// `x-amzn-producer-start-timestamp` as the C producer prints it: seconds, a dot, milliseconds.
pub fn producer_start_header(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Runs one PutMedia session. See the module documentation.
pub async fn put_media<S>(
    target: &Target,
    options: &SessionOptions,
    pieces: S,
    tracker: Arc<Tracker>,
) -> Result<SessionReport, PutMediaError>
where
    S: Stream<Item = Result<BodyPiece, BodyError>> + Send + Unpin + 'static,
{
    let url = format!("{}/putMedia", target.data_endpoint.trim_end_matches('/'));
    let uri: Uri = url.parse().map_err(|_| PutMediaError::Url(target.data_endpoint.clone()))?;
    let authority = uri.authority().ok_or_else(|| PutMediaError::Url(url.clone()))?.as_str().to_owned();
    let path = uri.path_and_query().map_or("/putMedia", |p| p.as_str()).to_owned();

    let start_ts = producer_start_header(options.producer_start_ms);
    let timecode_type = match options.timecode_type {
        TimecodeType::Absolute => "ABSOLUTE",
        TimecodeType::Relative => "RELATIVE",
    };
    let headers: [(&str, &str); 9] = [
        ("host", &authority),
        ("user-agent", &options.user_agent),
        ("x-amzn-stream-name", &target.stream_name),
        ("x-amzn-producer-start-timestamp", &start_ts),
        ("x-amzn-fragment-acknowledgment-required", "1"),
        ("x-amzn-fragment-timecode-type", timecode_type),
        ("transfer-encoding", "chunked"),
        ("connection", "keep-alive"),
        ("content-type", "application/json"),
    ];
    let auth = sign_put_media(&url, &headers, &target.credentials, &target.region, SystemTime::now())?;

    let io = transport::connect(&uri).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, ChannelBody>(TokioIo::new(io))
        .await
        .map_err(|e| PutMediaError::Http(e.to_string()))?;
    let conn_task = tokio::spawn(conn);

    let (tx, rx) = mpsc::channel::<Chunk>(4);
    let mut request = Request::post(path);
    for (k, v) in headers.iter().copied().chain(auth.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        request = request.header(k, v);
    }
    let request = request
        .body(ChannelBody { rx, tracker: tracker.clone() })
        .map_err(|e| PutMediaError::Http(e.to_string()))?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut feeder = tokio::spawn(feed(pieces, tx, tracker.clone(), options.clone(), stop_rx));

    let response = match sender.send_request(request).await {
        Ok(r) => r,
        Err(e) => {
            feeder.abort();
            conn_task.abort();
            return Err(PutMediaError::Http(e.to_string()));
        }
    };
    if response.status() != hyper::StatusCode::OK {
        let _ = stop_tx.send(true);
        feeder.abort();
        let status = response.status().as_u16();
        let header_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(':').next().unwrap_or(s).to_owned());
        let body = tokio::time::timeout(RESPONSE_END_GRACE, response.into_body().collect())
            .await
            .ok()
            .and_then(Result::ok)
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        conn_task.abort();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let error_type = header_type
            .or_else(|| json.get("__type").and_then(|v| v.as_str()).map(str::to_owned))
            .unwrap_or_else(|| "UnknownError".to_owned());
        let message = json
            .get("message")
            .or_else(|| json.get("Message"))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        return Err(PutMediaError::Status { status, error_type, message });
    }

    // Read ACKs until the server ends the response (after our zero chunk, or on its own).
    let mut body = response.into_body();
    let mut parser = AckParser::default();
    let mut feeder_result = None;
    let mut deadline: Option<tokio::time::Instant> = None;
    let mut interrupted = false;
    loop {
        tokio::select! {
            frame = body.frame() => match frame {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        for ack in parser.push(data) {
                            tracker.on_ack(ack);
                        }
                    }
                }
                Some(Err(e)) => {
                    tracker.fail(format!("the ACK stream broke: {e}"));
                    break;
                }
                None => break,
            },
            done = &mut feeder, if feeder_result.is_none() => {
                feeder_result = Some(done.unwrap_or(false));
                deadline = Some(tokio::time::Instant::now() + RESPONSE_END_GRACE);
            }
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)), if deadline.is_some() => {
                tracker.fail("the server did not end the response after the body ended".to_owned());
                break;
            }
            _ = tracker.reconnect_requested() => {
                // A retriable ERROR ACK: the C producer ends the connection and resends; stop
                // sending now (the feeder's pieces are the reconnecting caller's to resend).
                interrupted = true;
                break;
            }
        }
    }
    tracker.stray(parser.unparsed);
    let _ = stop_tx.send(true);
    if interrupted {
        conn_task.abort();
    }
    let final_ack = match feeder_result {
        Some(ok) => ok,
        None => feeder.await.unwrap_or(false),
    };
    drop(sender);
    conn_task.abort();
    Ok(tracker.finish(final_ack))
}

/// Sends the pieces, the end-of-fragment Tags, waits for the last fragment's final ACK, then
/// drops the channel (hyper sends the zero chunk). Returns whether the final ACK came.
async fn feed<S>(
    mut pieces: S,
    tx: mpsc::Sender<Chunk>,
    tracker: Arc<Tracker>,
    options: SessionOptions,
    mut stop: watch::Receiver<bool>,
) -> bool
where
    S: Stream<Item = Result<BodyPiece, BodyError>> + Send + Unpin + 'static,
{
    let start = options.pace_origin.unwrap_or_else(tokio::time::Instant::now);
    let mut last_cluster = None;
    let mut ended_with_eofr = false;
    loop {
        let piece = tokio::select! {
            p = pieces.next() => p,
            _ = stop.changed() => return false,
        };
        let piece = match piece {
            None => break,
            Some(Err(e)) => {
                tracker.fail(e.to_string());
                break;
            }
            Some(Ok(p)) => p,
        };
        if let Some(mark) = piece.cluster {
            let offset = Duration::from_millis(mark.offset_ms);
            if let Some(limit) = options.stop_after
                && (start.elapsed() >= limit || (options.realtime && offset >= limit))
            {
                break;
            }
            if options.realtime && !pace_until(start + offset, &mut stop).await {
                return false;
            }
            tracker.cluster_queued(mark.timecode, mark.len);
        }
        let n = piece.chunks.len();
        for (i, bytes) in piece.chunks.into_iter().enumerate() {
            // Frame pacing: each block when its own time is due (the prefix, at 0, was paced above).
            if options.realtime
                && let Some(mark) = piece.cluster
                && let Some(&due_ms) = piece.chunk_offsets_ms.get(i)
                && due_ms > 0
            {
                let due = start + Duration::from_millis(mark.offset_ms.saturating_add(due_ms));
                if !pace_until(due, &mut stop).await {
                    return false;
                }
            }
            // "Sent" is when the piece's last chunk is taken: the end-of-fragment Tags, which go
            // right after the Cluster's last block.
            let ends_cluster = if i + 1 == n { piece.cluster.map(|m| m.timecode) } else { None };
            if tx.send(Chunk { bytes, ends_cluster }).await.is_err() {
                tracker.fail("the connection closed while sending".to_owned());
                return false;
            }
        }
        if piece.cluster.is_some() {
            last_cluster = piece.cluster.map(|m| m.timecode);
        }
        ended_with_eofr = piece.end_of_fragment;
    }
    let Some(last) = last_cluster else {
        return false;
    };
    if !ended_with_eofr && tx.send(Chunk { bytes: end_of_fragment_tags(), ends_cluster: None }).await.is_err()
    {
        tracker.fail("the connection closed while sending".to_owned());
        return false;
    }
    let what = match options.final_ack {
        FinalAck::Persisted => "PERSISTED",
        FinalAck::Received => "RECEIVED",
    };
    let ok = tokio::select! {
        ok = tracker.wait_final(last, options.final_ack, options.final_ack_timeout) => {
            if !ok && tracker.final_state(last, options.final_ack).is_none() {
                tracker.fail(format!(
                    "no {what} ACK for the last fragment (FragmentTimecode {last}) within {} s",
                    options.final_ack_timeout.as_secs()
                ));
            }
            ok
        }
        _ = stop.changed() => match tracker.final_state(last, options.final_ack) {
            Some(ok) => ok,
            None => {
                tracker.fail(format!(
                    "the server ended the response before the {what} ACK of the last fragment \
                     (FragmentTimecode {last})"
                ));
                false
            }
        },
    };
    drop(tx);
    ok
}

/// Waits until `deadline` for `--realtime` pacing; `false` if the session was stopped first.
/// A deadline already passed (a frame behind, or one whose timecode goes back) costs no timer.
async fn pace_until(deadline: tokio::time::Instant, stop: &mut watch::Receiver<bool>) -> bool {
    if tokio::time::Instant::now() >= deadline {
        return !stop.has_changed().unwrap_or(true);
    }
    tokio::select! {
        _ = tokio::time::sleep_until(deadline) => true,
        _ = stop.changed() => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_timestamp_is_zero_padded_millis() {
        assert_eq!(producer_start_header(1_663_277_247_052), "1663277247.052");
        assert_eq!(producer_start_header(999), "0.999");
    }

    #[tokio::test]
    async fn tracker_matches_acks_by_timecode() {
        let t = Tracker::new();
        t.cluster_queued(100, 10);
        t.chunk_sent(10, Some(100));
        let ack = |event, tc| ParsedAck {
            event,
            fragment_timecode: Some(tc),
            fragment_number: Some("1".into()),
            error_id: None,
            error_code: None,
        };
        t.on_ack(ack(AckEvent::Buffering, 100));
        t.on_ack(ack(AckEvent::Received, 100));
        assert_eq!(t.final_state(100, FinalAck::Received), Some(true));
        assert_eq!(t.final_state(100, FinalAck::Persisted), None);
        let waiter = {
            let t = t.clone();
            tokio::spawn(async move { t.wait_final(100, FinalAck::Persisted, Duration::from_secs(5)).await })
        };
        t.on_ack(ack(AckEvent::Persisted, 100));
        assert!(waiter.await.unwrap());
        t.on_ack(ack(AckEvent::Persisted, 555));
        let r = t.finish(true);
        assert_eq!(r.stray_acks, 1);
        assert!(r.fragments[0].persisted_latency().is_some());
        assert!(r.ok());
        assert!(!t.wait_final(7, FinalAck::Persisted, Duration::from_millis(10)).await);
    }
}
