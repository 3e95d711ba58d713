//! A producer that survives failover: PutMedia sessions one after another over ONE input, each
//! resending every fragment the previous ones got no final ACK for, the way the KVS C producer
//! restarts a stream (design/0022-producer-failover.md).
//!
//! [`put_media_reconnecting`] runs [`super::session::put_media`] sessions on a shared
//! [`Tracker::reconnecting`] tracker. Between the input and the sessions sits the **resend
//! buffer**: every Cluster taken from the input is kept, with the header set (EBML header,
//! Segment, Info, Tracks) it was sent under, until its final ACK (PERSISTED, or RECEIVED for a
//! stream without retention) or an ERROR ACK that retrying cannot fix. A session ends early on a
//! lost connection, an HTTP error that may pass (5xx, 429, connection and client limits), or an
//! ERROR ACK with a retriable ErrorId ([`super::session::retriable_error_id`]: 4000, 5000, 5001,
//! unknown ones); then the producer waits a backoff, asks the control plane for the data endpoint
//! again (`resolve`: the stream may have moved to another node), and starts a session that first
//! sends the buffer (a header set before its first Cluster), oldest first, then goes on with the
//! input. The server stores each fragment once: a resent fragment that was committed after all is
//! acknowledged with its existing fragment number.
//!
//! The buffer holds at most `max_buffer_bytes` of Clusters (always at least one). When it is full:
//! [`BufferFull::Wait`] stops reading the input until ACKs free space (the C producer's OFFLINE
//! streaming, which waits for buffer availability); [`BufferFull::DropOldest`] drops the oldest
//! buffered fragments (its REALTIME default, which evicts the tail of the content view), counted
//! in [`ReconnectStats::fragments_dropped`].
//!
//! It gives up after `give_up_after` without a new PERSISTED ACK, or at once on an HTTP error that
//! will not pass (403, 404, …) or an input error. Owns the reconnect loop and the buffer; the wire
//! format, signing and ACK parsing stay in [`super::session`]. No printing: `notice` gets one line
//! per reconnect.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{Stream, StreamExt};
use serde::Serialize;

use super::body::{BodyError, BodyPiece};
use super::control::ControlPlane;
use super::session::{FinalAck, PutMediaError, SessionOptions, SessionReport, Target, Tracker, put_media};

/// The EBML magic every header set starts with.
const EBML_MAGIC: [u8; 4] = [0x1a, 0x45, 0xdf, 0xa3];

/// What happens when the resend buffer is full (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferFull {
    /// Stop reading the input until ACKs free space.
    Wait,
    /// Drop the oldest buffered fragments.
    DropOldest,
}

/// Asks the control plane for the stream's data endpoint again (GetDataEndpoint).
pub type Resolve =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<String, String>> + Send>> + Send + Sync>;

/// How to reconnect.
#[derive(Clone)]
pub struct ReconnectOptions {
    /// Most bytes of Clusters kept for resending.
    pub max_buffer_bytes: u64,
    /// What a full buffer does.
    pub when_full: BufferFull,
    /// Give up after this long without a new PERSISTED ACK.
    pub give_up_after: Duration,
    /// First wait before reconnecting; doubled after each attempt without progress.
    pub backoff_initial: Duration,
    /// Longest wait before reconnecting.
    pub backoff_max: Duration,
    /// Gets one line per reconnect (what happened, where to).
    pub notice: Option<Arc<dyn Fn(String) + Send + Sync>>,
}

impl std::fmt::Debug for ReconnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReconnectOptions")
            .field("max_buffer_bytes", &self.max_buffer_bytes)
            .field("when_full", &self.when_full)
            .field("give_up_after", &self.give_up_after)
            .finish_non_exhaustive()
    }
}

impl Default for ReconnectOptions {
    fn default() -> Self {
        ReconnectOptions {
            max_buffer_bytes: DEFAULT_MAX_BUFFER_BYTES,
            when_full: BufferFull::Wait,
            give_up_after: Duration::from_secs(60),
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(2),
            notice: None,
        }
    }
}

impl ReconnectOptions {
    /// The command-line producers' options (`--max-buffer-bytes`, `--reconnect-timeout`): a full
    /// buffer drops the oldest fragments in real time (a live source cannot wait) and waits for
    /// ACKs otherwise.
    pub fn for_cli(max_buffer_bytes: u64, realtime: bool, give_up_after: Duration) -> Self {
        ReconnectOptions {
            max_buffer_bytes,
            when_full: if realtime { BufferFull::DropOldest } else { BufferFull::Wait },
            give_up_after,
            ..ReconnectOptions::default()
        }
    }
}

/// A [`Resolve`] that asks GetDataEndpoint for the stream's PUT_MEDIA endpoint on every call.
pub fn put_media_endpoint(control: Arc<ControlPlane>, stream: String) -> Resolve {
    Arc::new(move || {
        let (control, stream) = (control.clone(), stream.clone());
        Box::pin(async move {
            control
                .data_endpoint(&stream, aws_sdk_kinesisvideo::types::ApiName::PutMedia)
                .await
                .map_err(|e| e.to_string())
        })
    })
}

/// Default `--max-buffer-bytes`: 64 MiB, about 3 minutes of a 3 Mbit/s camera.
pub const DEFAULT_MAX_BUFFER_BYTES: u64 = 64 << 20;

/// What reconnecting did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReconnectStats {
    /// Sessions started after the first.
    pub reconnects: u32,
    /// Fragments sent again (a fragment resent twice counts twice).
    pub fragments_resent: u64,
    /// Fragments dropped from a full buffer ([`BufferFull::DropOldest`]) before their final ACK.
    pub fragments_dropped: u64,
    /// ERROR ACKs with a retriable ErrorId that were recovered from.
    pub retried_errors: u64,
    /// For each interruption: from noticing it to the next PERSISTED ACK, ms (none if it never
    /// came).
    pub recovery_ms: Vec<u64>,
    /// When each interruption was noticed, ms after the first session started (the tracker's
    /// clock, as [`super::session::FragmentTiming`]'s times): a PERSISTED ACK after it came on a
    /// later session.
    #[serde(skip)]
    pub interrupted_at_ms: Vec<u64>,
    /// Why each session after the first was needed.
    pub causes: Vec<String>,
}

/// The result: the report over all sessions, and what reconnecting did.
#[derive(Debug, Clone)]
pub struct ReconnectReport {
    /// Every fragment once (resent ones carry [`super::session::FragmentTiming::resends`]).
    pub report: SessionReport,
    /// Reconnect counters.
    pub stats: ReconnectStats,
}

type Source = Pin<Box<dyn Stream<Item = Result<BodyPiece, BodyError>> + Send>>;

/// A buffered Cluster and the header set it goes under.
struct Entry {
    header: Arc<Vec<BodyPiece>>,
    piece: BodyPiece,
    timecode: u64,
    len: u64,
}

#[derive(Default)]
struct Buffer {
    /// The header set new Clusters go under.
    header: Arc<Vec<BodyPiece>>,
    /// Whether non-Cluster pieces still belong to `header` (no Cluster since it started).
    header_open: bool,
    entries: VecDeque<Entry>,
    bytes: u64,
    /// The input ended (or `stop_after` passed).
    exhausted: bool,
    /// The input failed.
    input_failed: bool,
    dropped: u64,
}

impl Buffer {
    /// Forgets the fragments that got their final ACK or an ERROR that retrying cannot fix.
    fn prune(&mut self, tracker: &Tracker, final_ack: FinalAck) {
        self.entries.retain(|e| tracker.final_state(e.timecode, final_ack).is_none());
        self.bytes = self.entries.iter().map(|e| e.len).sum();
    }

    /// What a new session sends first: each buffered Cluster, oldest first, after its header set
    /// whenever that changes, then the current header set if new Clusters need another.
    fn resend(&self) -> (Vec<BodyPiece>, u64) {
        let mut out = Vec::new();
        let mut last: Option<&Arc<Vec<BodyPiece>>> = None;
        for e in &self.entries {
            if last.is_none_or(|h| !Arc::ptr_eq(h, &e.header)) {
                out.extend(e.header.iter().cloned());
                last = Some(&e.header);
            }
            out.push(e.piece.clone());
        }
        if last.is_none_or(|h| !Arc::ptr_eq(h, &self.header)) {
            out.extend(self.header.iter().cloned());
        }
        (out, self.entries.len() as u64)
    }
}

struct Shared {
    source: tokio::sync::Mutex<Source>,
    buffer: Mutex<Buffer>,
    tracker: Arc<Tracker>,
    final_ack: FinalAck,
    max_bytes: u64,
    when_full: BufferFull,
    /// `stop_after`, counted from the first session's start.
    stop_at: Option<tokio::time::Instant>,
    /// With `realtime`: `stop_after` as a Cluster offset.
    stop_offset_ms: Option<u64>,
}

impl Shared {
    fn buffer(&self) -> std::sync::MutexGuard<'_, Buffer> {
        self.buffer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next piece of the input for the current session, buffered if it is a Cluster; `None`
    /// when the input ended or `stop_after` passed.
    async fn next_piece(&self) -> Option<Result<BodyPiece, BodyError>> {
        if self.stop_at.is_some_and(|t| tokio::time::Instant::now() >= t) {
            self.buffer().exhausted = true;
            return None;
        }
        let piece = self.source.lock().await.next().await;
        let piece = match piece {
            None => {
                self.buffer().exhausted = true;
                return None;
            }
            Some(Err(e)) => {
                self.buffer().input_failed = true;
                return Some(Err(e));
            }
            Some(Ok(p)) => p,
        };
        let Some(mark) = piece.cluster else {
            let mut b = self.buffer();
            let starts_header = piece.chunks.first().is_some_and(|c| c.starts_with(&EBML_MAGIC));
            if starts_header {
                b.header = Arc::new(vec![piece.clone()]);
                b.header_open = true;
            } else if b.header_open {
                Arc::make_mut(&mut b.header).push(piece.clone());
            }
            return Some(Ok(piece));
        };
        if self.stop_offset_ms.is_some_and(|limit| mark.offset_ms >= limit) {
            self.buffer().exhausted = true;
            return None;
        }
        {
            let mut b = self.buffer();
            b.header_open = false;
            let header = b.header.clone();
            b.bytes += mark.len;
            b.entries.push_back(Entry {
                header,
                piece: piece.clone(),
                timecode: mark.timecode,
                len: mark.len,
            });
            b.prune(&self.tracker, self.final_ack);
            if self.when_full == BufferFull::DropOldest {
                while b.bytes > self.max_bytes && b.entries.len() > 1 {
                    if let Some(old) = b.entries.pop_front() {
                        b.bytes -= old.len;
                        b.dropped += 1;
                    }
                }
            }
        }
        // Wait: the Cluster is buffered (a lost session resends it); send it once ACKs made room.
        let mut changed = self.tracker.subscribe();
        loop {
            {
                let mut b = self.buffer();
                b.prune(&self.tracker, self.final_ack);
                if b.bytes <= self.max_bytes || b.entries.len() <= 1 {
                    break;
                }
            }
            if changed.changed().await.is_err() {
                break;
            }
        }
        Some(Ok(piece))
    }
}

/// The pieces of one session: the resend list, then the input.
fn session_pieces(
    shared: Arc<Shared>,
    resend: Vec<BodyPiece>,
) -> impl Stream<Item = Result<BodyPiece, BodyError>> + Send + Unpin + 'static {
    let state = (shared, VecDeque::from(resend), false);
    Box::pin(futures_util::stream::unfold(state, |(shared, mut resend, failed)| async move {
        if failed {
            return None;
        }
        if let Some(p) = resend.pop_front() {
            return Some((Ok(p), (shared, resend, false)));
        }
        let piece = shared.next_piece().await?;
        let failed = piece.is_err();
        Some((piece, (shared, resend, failed)))
    }))
}

/// Whether a session that could not start may succeed on another try (or another node).
pub fn retriable_start_error(e: &PutMediaError) -> bool {
    match e {
        PutMediaError::Connect(_) | PutMediaError::Http(_) => true,
        PutMediaError::Status { status, error_type, .. } => {
            *status >= 500
                || *status == 429
                || matches!(
                    error_type.as_str(),
                    "ConnectionLimitExceededException"
                        | "ClientLimitExceededException"
                        | "ResourceInUseException"
                )
        }
        PutMediaError::Url(_) | PutMediaError::Sign(_) => false,
    }
}

/// Streams `source` to `target` in as many sessions as it takes (see the module documentation).
/// `tracker` must come from [`Tracker::reconnecting`]. `Err` only when a session could not start
/// for a reason another try will not fix (bad URL, credentials, HTTP 4xx).
pub async fn put_media_reconnecting<S>(
    target: Target,
    resolve: Resolve,
    options: SessionOptions,
    reconnect: ReconnectOptions,
    source: S,
    tracker: Arc<Tracker>,
) -> Result<ReconnectReport, PutMediaError>
where
    S: Stream<Item = Result<BodyPiece, BodyError>> + Send + 'static,
{
    let origin = options.pace_origin.unwrap_or_else(tokio::time::Instant::now);
    let shared = Arc::new(Shared {
        source: tokio::sync::Mutex::new(Box::pin(source)),
        buffer: Mutex::new(Buffer::default()),
        tracker: tracker.clone(),
        final_ack: options.final_ack,
        max_bytes: reconnect.max_buffer_bytes.max(1),
        when_full: reconnect.when_full,
        stop_at: options.stop_after.filter(|_| !options.realtime).map(|d| origin + d),
        stop_offset_ms: options
            .stop_after
            .filter(|_| options.realtime)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    });
    let session_options = SessionOptions { pace_origin: Some(origin), stop_after: None, ..options };
    let mut stats = ReconnectStats::default();
    let mut target = target;
    let mut backoff = reconnect.backoff_initial;
    let mut last_progress = Instant::now();
    let mut interrupted_at: Vec<Duration> = Vec::new();
    let mut first = true;
    let done = loop {
        let (resend, buffered) = shared.buffer().resend();
        if !first {
            stats.fragments_resent += buffered;
        }
        first = false;
        let persisted_before = tracker.progress().persisted;
        let pieces = session_pieces(shared.clone(), resend);
        let result = put_media(&target, &session_options, pieces, tracker.clone()).await;
        let (failure, retry_ack) = tracker.take_interruption();
        if tracker.progress().persisted > persisted_before {
            last_progress = Instant::now();
            backoff = reconnect.backoff_initial;
        }
        let cause = match result {
            Err(e) if !retriable_start_error(&e) => return Err(e),
            Err(e) => Some(e.to_string()),
            Ok(_) => retry_ack.map(|e| e.to_string()).or(failure.clone()),
        };
        let (input_failed, finished) = {
            let mut b = shared.buffer();
            b.prune(&tracker, shared.final_ack);
            (b.input_failed, b.exhausted && b.entries.is_empty())
        };
        if input_failed {
            // The input's error is the session's failure (the feeder reported it).
            if let Some(f) = failure {
                tracker.fail_with(f);
            }
            break false;
        }
        if finished {
            break true;
        }
        let cause =
            cause.unwrap_or_else(|| "the session ended before every fragment was acknowledged".to_owned());
        if last_progress.elapsed() >= reconnect.give_up_after {
            tracker.fail_with(format!(
                "gave up after {} s without a PERSISTED ACK; last: {cause}",
                reconnect.give_up_after.as_secs()
            ));
            break false;
        }
        interrupted_at.push(tracker.elapsed());
        stats.reconnects += 1;
        stats.causes.push(cause.clone());
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(reconnect.backoff_max);
        // GetDataEndpoint again: the stream may be served by another node now.
        let endpoint = loop {
            match resolve().await {
                Ok(endpoint) => break Some(endpoint),
                Err(e) if last_progress.elapsed() < reconnect.give_up_after => {
                    if let Some(notice) = &reconnect.notice {
                        notice(format!("GetDataEndpoint failed ({e}); retrying"));
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(reconnect.backoff_max);
                }
                Err(e) => {
                    tracker.fail_with(format!("gave up: GetDataEndpoint failed: {e}; last: {cause}"));
                    break None;
                }
            }
        };
        let Some(endpoint) = endpoint else {
            break false;
        };
        if let Some(notice) = &reconnect.notice {
            let buffered = shared.buffer().entries.len();
            notice(format!("{cause}; reconnecting to {endpoint}, resending {buffered} fragments"));
        }
        target.data_endpoint = endpoint;
    };
    let mut report = tracker.finish(done);
    {
        let b = shared.buffer();
        stats.fragments_dropped = b.dropped;
        if b.dropped > 0 && report.failure.is_none() {
            report.failure = Some(format!(
                "{} fragments dropped from the full resend buffer before their final ACK",
                b.dropped
            ));
        }
    }
    stats.retried_errors = report.retried_errors;
    stats.interrupted_at_ms =
        interrupted_at.iter().map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).collect();
    stats.recovery_ms = interrupted_at
        .iter()
        .filter_map(|&at| {
            report.fragments.iter().filter_map(|f| f.persisted).filter(|&p| p >= at).min().map(|p| p - at)
        })
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .collect();
    Ok(ReconnectReport { report, stats })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn cluster(timecode: u64, len: usize) -> BodyPiece {
        BodyPiece {
            chunks: vec![Bytes::from(vec![0x1f; len])],
            cluster: Some(super::super::body::ClusterMark {
                timecode,
                offset_ms: 0,
                len: len as u64,
                video_starts_on_key_frame: true,
                blocks_dropped: 0,
            }),
            chunk_offsets_ms: vec![0],
            end_of_fragment: true,
        }
    }

    fn header(tag: u8) -> BodyPiece {
        BodyPiece {
            chunks: vec![Bytes::from(vec![0x1a, 0x45, 0xdf, 0xa3, tag])],
            cluster: None,
            chunk_offsets_ms: Vec::new(),
            end_of_fragment: false,
        }
    }

    /// The resend list puts each header set before its first buffered Cluster, and the current
    /// one last when new Clusters need another.
    #[test]
    fn resend_sends_each_header_set_before_its_clusters() {
        let h1 = Arc::new(vec![header(1)]);
        let h2 = Arc::new(vec![header(2)]);
        let mut b = Buffer { header: h2.clone(), ..Buffer::default() };
        for (h, tc) in [(&h1, 1), (&h1, 2), (&h2, 3)] {
            b.entries.push_back(Entry { header: h.clone(), piece: cluster(tc, 4), timecode: tc, len: 4 });
        }
        let (pieces, n) = b.resend();
        assert_eq!(n, 3);
        let shape: Vec<String> = pieces
            .iter()
            .map(|p| match p.cluster {
                Some(m) => format!("c{}", m.timecode),
                None => format!("h{}", p.chunks[0][4]),
            })
            .collect();
        assert_eq!(shape, ["h1", "c1", "c2", "h2", "c3"]);
        let empty = Buffer { header: h2, ..Buffer::default() };
        assert_eq!(
            empty.resend().0.len(),
            1,
            "a session with nothing to resend still starts with the header"
        );
    }

    #[test]
    fn start_errors_that_pass() {
        let status = |status, t: &str| PutMediaError::Status {
            status,
            error_type: t.to_owned(),
            message: String::new(),
        };
        assert!(retriable_start_error(&PutMediaError::Http("reset".into())));
        assert!(retriable_start_error(&status(503, "ServiceUnavailable")));
        assert!(retriable_start_error(&status(400, "ConnectionLimitExceededException")));
        assert!(!retriable_start_error(&status(404, "ResourceNotFoundException")));
        assert!(!retriable_start_error(&status(403, "NotAuthorizedException")));
    }
}
