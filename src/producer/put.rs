//! `openkvs put`: stream one Matroska file, or stdin, to a KVS stream, the way the C producer does.
//!
//! Resolves the stream on the control plane ([`super::control`]), runs one session
//! ([`super::session::put_media`]) over the incrementally read input ([`super::body`]: one
//! fragment per GOP, cut by the [`FragmentPolicy`]), shows a progress line on stderr (rewritten in
//! place on a terminal, every few seconds otherwise) and ends with a summary line on stderr, or JSON
//! on stdout with `--json`; fragments that could not start on a key frame (a GOP longer than the
//! maximum fragment duration) and video skipped before the first key frame are reported.
//!
//! It survives a lost connection or node ([`super::reconnect`]): on a connection error, an HTTP
//! error that may pass or an ERROR ACK the KVS producer retries (4000, 5000, 5001), it calls
//! GetDataEndpoint again and resends every fragment not yet PERSISTED, from a buffer of at most
//! `--max-buffer-bytes` (when full: without `--realtime` it stops reading the input until ACKs
//! free room; with `--realtime` it drops the oldest fragments, as the C producer's realtime
//! streaming does); one line on stderr per reconnect, and the summary counts reconnects, resent
//! and dropped fragments. It gives up after `--reconnect-timeout` seconds without a PERSISTED ACK.
//!
//! Exit status: 0 only if every fragment sent got its final ACK and no ERROR ACK came (retried
//! ones aside); 1 for an ERROR ACK, an HTTP error that does not pass, a missing final ACK, a
//! fragment dropped from a full buffer, bad input or a failed control-plane call. Every failure
//! is printed as one line on stderr.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use tokio::io::AsyncRead;

use super::body::{Retimer, reader_pieces};
use super::control::ControlPlane;
use super::input::open_checked;
use super::reconnect::{ReconnectOptions, put_media_endpoint, put_media_reconnecting};
use super::report::{PutSummary, progress_line};
use super::session::{FinalAck, SessionOptions, Target, Tracker};
use crate::media::fragment::TimecodeType;
use crate::media::mkv::rewrite::FragmentPolicy;

/// Where the Matroska comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file.
    File(PathBuf),
    /// Standard input (`-`).
    Stdin,
}

/// `openkvs put` options.
#[derive(Debug, Clone)]
pub struct PutOptions {
    /// Stream name.
    pub stream: String,
    /// Control-plane URL override.
    pub endpoint: Option<String>,
    /// Region override.
    pub region: Option<String>,
    /// Create the stream if DescribeStream says it does not exist.
    pub create: bool,
    /// Retention of a created stream.
    pub retention_hours: u32,
    /// Pace frames by their timecodes, as a camera sends them (see [`super::session`]).
    pub realtime: bool,
    /// `x-amzn-fragment-timecode-type`.
    pub timecode_type: TimecodeType,
    /// Where fragments are cut.
    pub fragment_policy: FragmentPolicy,
    /// Print the summary as JSON on stdout.
    pub json: bool,
    /// Most bytes of fragments kept for resending after a reconnect.
    pub max_buffer_bytes: u64,
    /// Give up after this long without a PERSISTED ACK.
    pub reconnect_timeout: Duration,
    /// The input.
    pub input: Input,
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("openkvs put: {msg}");
    ExitCode::FAILURE
}

/// Runs `openkvs put`.
pub async fn run(opts: PutOptions) -> ExitCode {
    // Before any side effect (CreateStream): the input must look like Matroska.
    let input: Box<dyn AsyncRead + Send + Unpin> = match open_checked(&opts.input).await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let control = match ControlPlane::load(opts.endpoint.as_deref(), opts.region.as_deref()).await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let create = opts.create.then(|| i32::try_from(opts.retention_hours).unwrap_or(i32::MAX));
    let resolved = match control.resolve_for_put(&opts.stream, create).await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if resolved.created {
        eprintln!("openkvs put: created stream {} (retention {} h)", opts.stream, resolved.retention_hours);
    }
    let target = Target {
        data_endpoint: resolved.data_endpoint,
        stream_name: opts.stream.clone(),
        region: control.region.clone(),
        credentials: control.credentials.clone(),
    };
    let start_ms = now_ms();
    let options = SessionOptions {
        timecode_type: opts.timecode_type,
        producer_start_ms: start_ms,
        realtime: opts.realtime,
        final_ack: if resolved.retention_hours > 0 { FinalAck::Persisted } else { FinalAck::Received },
        ..SessionOptions::default()
    };
    // What the re-framer had to do to the input, for the summary.
    let without_key_frame = Arc::new(AtomicU64::new(0));
    let dropped = Arc::new(AtomicU64::new(0));
    let (w, d) = (without_key_frame.clone(), dropped.clone());
    let pieces = reader_pieces(input, Retimer::new(opts.timecode_type, start_ms), opts.fragment_policy)
        .inspect(move |piece| {
            if let Ok(mark) = piece.as_ref().map(|p| p.cluster) {
                let mark = mark.as_ref();
                if mark.is_some_and(|m| !m.video_starts_on_key_frame) {
                    w.fetch_add(1, Ordering::Relaxed);
                }
                d.fetch_add(mark.map_or(0, |m| m.blocks_dropped), Ordering::Relaxed);
            }
        });
    let pieces = Box::pin(pieces);
    let tracker = Tracker::reconnecting();
    let progress = tokio::spawn(show_progress(opts.stream.clone(), tracker.clone()));
    let resolve = put_media_endpoint(Arc::new(control.clone()), opts.stream.clone());
    let reconnect = ReconnectOptions {
        notice: Some(Arc::new(|line| eprintln!("openkvs put: {line}"))),
        ..ReconnectOptions::for_cli(opts.max_buffer_bytes, opts.realtime, opts.reconnect_timeout)
    };
    let result = put_media_reconnecting(target, resolve, options, reconnect, pieces, tracker).await;
    progress.abort();
    let _ = progress.await;
    let tty = std::io::stderr().is_terminal();
    if tty {
        eprint!("\r\x1b[K");
    }
    let (report, stats) = match result {
        Ok(r) => (r.report, r.stats),
        Err(e) => return fail(e),
    };
    let mut summary = PutSummary::new(&opts.stream, &report);
    summary.reconnect = Some(stats);
    summary.fragments_without_key_frame = without_key_frame.load(Ordering::Relaxed);
    summary.frames_dropped_before_key_frame = dropped.load(Ordering::Relaxed);
    if summary.frames_dropped_before_key_frame > 0 {
        eprintln!(
            "openkvs put: skipped {} video frames before the first key frame (nothing can decode them)",
            summary.frames_dropped_before_key_frame
        );
    }
    if summary.fragments_without_key_frame > 0 {
        eprintln!(
            "openkvs put: warning: {} fragments do not start on a key frame: the input's key frames are more \
             than --max-fragment-duration ({} ms) apart; players show errors at those fragments. Give the \
             encoder a shorter GOP (ffmpeg -g), or raise --max-fragment-duration (openkvs accepts 20000).",
            summary.fragments_without_key_frame, opts.fragment_policy.max_duration_ms
        );
    }
    for e in &report.errors {
        eprintln!("openkvs put: {e}");
    }
    if let Some(why) = &report.failure {
        eprintln!("openkvs put: {why}");
    }
    if opts.json {
        match serde_json::to_string(&summary) {
            Ok(s) => println!("{s}"),
            Err(e) => return fail(e),
        }
    } else {
        eprintln!("{}", summary.line());
    }
    if report.fragments.is_empty() && report.failure.is_none() {
        eprintln!("openkvs put: no fragment was sent");
    }
    if summary.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// Prints the progress line until aborted: in place every 500 ms on a terminal, else a line every
/// 5 s.
async fn show_progress(stream: String, tracker: std::sync::Arc<Tracker>) {
    let tty = std::io::stderr().is_terminal();
    let period = if tty { Duration::from_millis(500) } else { Duration::from_secs(5) };
    let mut tick = tokio::time::interval(period);
    tick.tick().await;
    loop {
        tick.tick().await;
        let line = progress_line(&stream, &tracker.progress());
        let mut err = std::io::stderr().lock();
        let _ = if tty { write!(err, "\r\x1b[K{line}") } else { writeln!(err, "{line}") };
        let _ = err.flush();
    }
}
