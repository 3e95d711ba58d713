//! `openkvs bench ingest`: N concurrent producers in one process against one endpoint.
//!
//! The file is read and split once ([`crate::producer::body::PreparedFile`]); every session sends the same
//! frame bytes (`Bytes` shared, only the 22-byte Cluster prefixes are per session) re-timed to its
//! own start in ABSOLUTE mode, to stream `bench-<i>` (created with 1 h retention if missing).
//! Each producer is [`crate::producer::reconnect::put_media_reconnecting`], exactly as `openkvs put`
//! runs it: a lost connection or node, or a retriable ERROR ACK, makes it ask for the data
//! endpoint again and resend what was not PERSISTED; reconnects and resent fragments are in the
//! summary.
//!
//! Reports fragments/s and Mbit/s over the wall time of the whole run, PERSISTED latency (a
//! Cluster's last byte sent → PERSISTED) p50/p90/p99/max and RECEIVED latency p50/p99 over all
//! fragments of all sessions, ERROR and IDLE ACK counts and failed sessions (could not start, or
//! ended without the last fragment's PERSISTED, or with an ERROR ACK). Human table on stdout, or
//! JSON with `--json`; progress totals on stderr every 5 s. `--ramp-up-secs` spreads the session
//! starts (cameras do not all connect in the same millisecond).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Serialize;

use crate::media::fragment::TimecodeType;
use crate::media::mkv::rewrite::FragmentPolicy;
use crate::producer::body::Retimer;
use crate::producer::control::ControlPlane;
use crate::producer::put::now_ms;
use crate::producer::reconnect::{
    ReconnectOptions, ReconnectReport, put_media_endpoint, put_media_reconnecting,
};
use crate::producer::report::{LatencyDetail, LatencySummary, latency_line, mbit_per_s};
use crate::producer::session::{FinalAck, FragmentTiming, SessionOptions, Target, Tracker};

/// Control-plane calls in flight at once while preparing streams.
const RESOLVE_CONCURRENCY: usize = 8;

/// `openkvs bench ingest` options.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Control-plane URL.
    pub endpoint: String,
    /// Region override.
    pub region: Option<String>,
    /// Concurrent producers.
    pub streams: usize,
    /// The Matroska file every producer sends.
    pub file: PathBuf,
    /// Pace frames by their timecodes, as a camera sends them (see [`crate::producer::session`]).
    pub realtime: bool,
    /// Stop sending new clusters after this long.
    pub duration: Option<Duration>,
    /// Spread the session starts evenly over this long (session i starts at i × ramp / N).
    pub ramp_up: Duration,
    /// Where fragments are cut.
    pub fragment_policy: FragmentPolicy,
    /// Print JSON instead of the table.
    pub json: bool,
    /// Most bytes of fragments each producer keeps for resending.
    pub max_buffer_bytes: u64,
    /// A producer gives up after this long without a PERSISTED ACK.
    pub reconnect_timeout: Duration,
}

/// The result of a bench run.
#[derive(Debug, Clone, Serialize)]
pub struct BenchSummary {
    /// Producers started.
    pub streams: usize,
    /// Whether frames were paced by their timecodes.
    pub realtime: bool,
    /// Wall time of the run, seconds.
    pub duration_secs: f64,
    /// Fragments whose last byte was sent.
    pub fragments_sent: usize,
    /// Fragments PERSISTED.
    pub fragments_persisted: usize,
    /// PERSISTED fragments per second of wall time.
    pub fragments_per_s: f64,
    /// Body bytes sent by all sessions.
    pub bytes: u64,
    /// Body bitrate of all sessions together.
    pub mbit_per_s: f64,
    /// Cluster last byte sent → PERSISTED.
    pub persisted_latency_ms: Option<LatencySummary>,
    /// Cluster last byte sent → RECEIVED.
    pub received_latency_ms: Option<LatencySummary>,
    /// ERROR ACKs.
    pub error_acks: usize,
    /// IDLE ACKs.
    pub idle_acks: u64,
    /// Reconnects of all producers.
    pub reconnects: u32,
    /// Fragments sent again after a reconnect.
    pub fragments_resent: u64,
    /// Fragments dropped from a full resend buffer.
    pub fragments_dropped: u64,
    /// Interruption noticed → next PERSISTED, over all reconnects.
    pub recovery_ms: Option<LatencySummary>,
    /// Sessions that failed.
    pub failed_sessions: usize,
    /// The first few failure messages.
    pub failures: Vec<String>,
}

impl BenchSummary {
    fn table(&self) -> String {
        let lat = |l: &Option<LatencySummary>, all: bool| {
            latency_line(l, if all { LatencyDetail::Full } else { LatencyDetail::Brief })
        };
        let mut out = format!(
            "streams             {} ({} failed){}\n\
             duration            {:.1} s\n\
             fragments           {} sent, {} persisted ({:.1}/s)\n\
             throughput          {:.2} Mbit/s ({} bytes)\n\
             PERSISTED latency   {}\n\
             RECEIVED latency    {}\n\
             ERROR acks          {}\n\
             IDLE acks           {}\n\
             reconnects          {} ({} fragments resent, {} dropped), recovery {}\n",
            self.streams,
            self.failed_sessions,
            if self.realtime { ", realtime" } else { "" },
            self.duration_secs,
            self.fragments_sent,
            self.fragments_persisted,
            self.fragments_per_s,
            self.mbit_per_s,
            self.bytes,
            lat(&self.persisted_latency_ms, true),
            lat(&self.received_latency_ms, false),
            self.error_acks,
            self.idle_acks,
            self.reconnects,
            self.fragments_resent,
            self.fragments_dropped,
            lat(&self.recovery_ms, true),
        );
        for f in &self.failures {
            out.push_str(&format!("failure             {f}\n"));
        }
        out
    }
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("openkvs bench: {msg}");
    ExitCode::FAILURE
}

/// Runs `openkvs bench ingest`.
pub async fn run(opts: BenchOptions) -> ExitCode {
    let prepared = match super::prepare_file(&opts.file, opts.fragment_policy).await {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let control = match ControlPlane::load(Some(&opts.endpoint), opts.region.as_deref()).await {
        Ok(c) => Arc::new(c),
        Err(e) => return fail(e),
    };
    eprintln!(
        "openkvs bench: {} streams, {} ({} fragments, {} bytes){}",
        opts.streams,
        opts.file.display(),
        prepared.clusters(),
        prepared.file_bytes(),
        if opts.realtime { ", realtime" } else { "" }
    );
    let resolved: Vec<_> = futures_util::stream::iter(0..opts.streams)
        .map(|i| {
            let control = control.clone();
            async move {
                let name = format!("bench-{i}");
                let r = control.resolve_for_put(&name, Some(1)).await;
                (name, r)
            }
        })
        .buffered(RESOLVE_CONCURRENCY)
        .collect()
        .await;

    let started = Instant::now();
    let mut failures = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut trackers = Vec::new();
    let count = resolved.len().max(1) as u32;
    for (i, (name, r)) in resolved.into_iter().enumerate() {
        let resolved = match r {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let target = Target {
            data_endpoint: resolved.data_endpoint,
            stream_name: name.clone(),
            region: control.region.clone(),
            credentials: control.credentials.clone(),
        };
        let tracker = Tracker::reconnecting();
        trackers.push(tracker.clone());
        let resolve = put_media_endpoint(control.clone(), name.clone());
        let reconnect =
            ReconnectOptions::for_cli(opts.max_buffer_bytes, opts.realtime, opts.reconnect_timeout);
        let prepared = prepared.clone();
        let realtime = opts.realtime;
        let stop_after = opts.duration;
        let delay = opts.ramp_up * u32::try_from(i).unwrap_or(u32::MAX) / count;
        tasks.spawn(async move {
            tokio::time::sleep(delay).await;
            let base = now_ms();
            let options = SessionOptions {
                timecode_type: TimecodeType::Absolute,
                producer_start_ms: base,
                realtime,
                stop_after,
                final_ack: if resolved.retention_hours > 0 {
                    FinalAck::Persisted
                } else {
                    FinalAck::Received
                },
                ..SessionOptions::default()
            };
            let pieces = match prepared.pieces(Retimer::new(TimecodeType::Absolute, base)) {
                Ok(p) => p,
                Err(e) => return (name, Err(e.to_string())),
            };
            let stream = futures_util::stream::iter(pieces.into_iter().map(Ok));
            let result = put_media_reconnecting(target, resolve, options, reconnect, stream, tracker)
                .await
                .map_err(|e| e.to_string());
            (name, result)
        });
    }
    let progress = tokio::spawn(show_progress(trackers));
    let mut reports: Vec<ReconnectReport> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((name, Ok(run))) => {
                let report = &run.report;
                if !report.ok() {
                    let why = match (report.errors.first(), &report.failure) {
                        (Some(e), _) => e.to_string(),
                        (None, Some(f)) => f.clone(),
                        (None, None) => "no fragment was sent".to_owned(),
                    };
                    failures.push(format!("{name}: {why}"));
                }
                reports.push(run);
            }
            Ok((name, Err(e))) => failures.push(format!("{name}: {e}")),
            Err(e) => failures.push(format!("session task: {e}")),
        }
    }
    progress.abort();
    let elapsed = started.elapsed();
    let summary = summarize(&opts, &reports, failures, elapsed);
    if let Err(e) = super::print_summary(&summary, opts.json, BenchSummary::table) {
        return fail(e);
    }
    if summary.failed_sessions == 0 && summary.error_acks == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn summarize(
    opts: &BenchOptions,
    runs: &[ReconnectReport],
    failures: Vec<String>,
    elapsed: Duration,
) -> BenchSummary {
    let reports: Vec<_> = runs.iter().map(|r| &r.report).collect();
    let fragments = || reports.iter().flat_map(|r| r.fragments.iter());
    let persisted = fragments().filter(|f| f.persisted.is_some()).count();
    let bytes = reports.iter().map(|r| r.bytes_sent).sum();
    let secs = elapsed.as_secs_f64();
    BenchSummary {
        streams: opts.streams,
        realtime: opts.realtime,
        duration_secs: (secs * 100.0).round() / 100.0,
        fragments_sent: fragments().filter(|f| f.sent.is_some()).count(),
        fragments_persisted: persisted,
        fragments_per_s: if secs > 0.0 { (persisted as f64 / secs * 10.0).round() / 10.0 } else { 0.0 },
        bytes,
        mbit_per_s: mbit_per_s(bytes, elapsed),
        persisted_latency_ms: LatencySummary::of(
            fragments().filter_map(FragmentTiming::persisted_latency).collect(),
        ),
        received_latency_ms: LatencySummary::of(
            fragments().filter_map(FragmentTiming::received_latency).collect(),
        ),
        error_acks: reports.iter().map(|r| r.errors.len()).sum(),
        idle_acks: reports.iter().map(|r| r.idle_acks).sum(),
        reconnects: runs.iter().map(|r| r.stats.reconnects).sum(),
        fragments_resent: runs.iter().map(|r| r.stats.fragments_resent).sum(),
        fragments_dropped: runs.iter().map(|r| r.stats.fragments_dropped).sum(),
        recovery_ms: LatencySummary::of(
            runs.iter()
                .flat_map(|r| r.stats.recovery_ms.iter())
                .map(|&ms| Duration::from_millis(ms))
                .collect(),
        ),
        failed_sessions: failures.len(),
        failures: failures.into_iter().take(5).collect(),
    }
}

/// Prints totals over all sessions on stderr every 5 s until aborted.
async fn show_progress(trackers: Vec<Arc<Tracker>>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.tick().await;
    loop {
        tick.tick().await;
        let (mut sent, mut persisted, mut bytes, mut lat) = (0, 0, 0, Vec::new());
        let mut elapsed = Duration::ZERO;
        for t in &trackers {
            let p = t.progress();
            sent += p.sent;
            persisted += p.persisted;
            bytes += p.bytes;
            elapsed = elapsed.max(p.elapsed);
            lat.extend(p.persisted_latencies);
        }
        let l = LatencySummary::of(lat)
            .map_or("-".to_owned(), |l| format!("p50 {:.0} ms p99 {:.0} ms", l.p50_ms, l.p99_ms));
        eprintln!(
            "openkvs bench: {:.0} s, fragments sent {sent} / persisted {persisted}, {:.1} Mbit/s, PERSISTED latency {l}",
            elapsed.as_secs_f64(),
            mbit_per_s(bytes, elapsed)
        );
    }
}
