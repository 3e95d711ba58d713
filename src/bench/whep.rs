//! `openkvs bench whep`: N WHEP viewers of one live stream, each a real WebRTC client
//! ([`super::whep_client`]: str0m, ICE over UDP, DTLS-SRTP), while the bench itself feeds the
//! stream in real time, and the server's CPU time read from `/proc/<pid>`.
//!
//! The run:
//! 1. the server: `openkvs serve` started as a child on 127.0.0.1 port 0 with a temp data dir
//!    ([`super::server_process`], signing with the development key), or `--endpoint` (with
//!    `--server-pid` for the CPU figures);
//! 2. the stream (created with 1 h retention if missing, as `bench ingest` does) is fed with a
//!    Matroska file through PutMedia exactly as `openkvs put --realtime` sends it (ABSOLUTE
//!    timecodes re-timed to the send time, each frame sent when due), one pass of the file after
//!    another until the end of the run;
//! 3. after `warmup` of feeding alone (the feed-only CPU baseline), one
//!    `GetWHEPStreamingSessionURL` (SigV4) URL is shared by N viewers, started over `ramp_up`;
//! 4. each viewer watches until the end (`warmup + duration` after the feed started), then
//!    DELETEs its session.
//!
//! A viewer is **dropped** if its POST fails, it does not connect (ICE + DTLS) within
//! `connect_timeout`, its connection is lost, or no frame arrives for longer than `stall` (from
//! connecting on). Right after connecting a viewer gets the stream's last key frame, then nothing
//! until the next key frame (up to one GOP): `stall` must be longer than the GOP.
//!
//! Figures: viewers connected/dropped; POST → answer, POST → connected and POST → first frame; per viewer video
//! frames and Mbit/s (min/median/max); the longest gap between two frames of a viewer, counted
//! from its second frame (after the key-frame wait above); **frame latency** = the frame's
//! producer timestamp (carried in its RTP timestamp, as the server sets it; the feeder in this
//! process stamped it from the same clock and sent the frame when it was due) → str0m in the
//! viewer handing over the whole frame (its last RTP packet processed), over every video frame but
//! each viewer's first (the replayed key frame is old by design). It spans PutMedia, ingest, the
//! server's live feed and fan-out, RTP/SRTP, loopback UDP, and the viewer's task being scheduled:
//! on a loaded machine the client's own scheduling is in it.
//!
//! CPU, from `/proc/<pid>/stat` (utime + stime) at the window boundaries, as % of one core: the
//! server over the feed-only warm-up, over the connect phase (viewers started → all connected or
//! dropped) and over the steady viewing window (then → end); the extra per viewer; and this
//! process (feeder + viewers) over the same windows, apart. Peak server RSS is sampled every 0.5 s.
//!
//! Human table on stdout, or JSON with `--json`; progress on stderr every 5 s. Exits non-zero if a
//! viewer was dropped or the feed failed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_kinesisvideo::config::Credentials;
use serde::Serialize;
use str0m::media::MediaKind;
use tokio::sync::mpsc;

use super::server_process::{ChildServer, ProcessReading, load_average};
use super::whep_client::{ViewerEvent, ViewerSetup, WhepViewer, frame_age};
use crate::media::fragment::TimecodeType;
use crate::media::mkv::rewrite::FragmentPolicy;
use crate::producer::body::{PreparedFile, Retimer};
use crate::producer::control::ControlPlane;
use crate::producer::data_client::{DataConnection, read_ok};
use crate::producer::put::now_ms;
use crate::producer::report::{LatencyDetail, LatencySummary, latency_line, mbit_per_s};
use crate::producer::session::{FinalAck, SessionOptions, Target, Tracker, put_media};

/// The development key a child server accepts on loopback.
const DEV_KEY: (&str, &str) = ("openkvs", "openkvs-secret");

/// Where the server is.
#[derive(Debug, Clone)]
pub enum ServerChoice {
    /// Start `openkvs serve` as a child.
    Child,
    /// A running server.
    Endpoint {
        /// Its control-plane URL.
        url: String,
        /// Its process id, for the CPU figures.
        pid: Option<u32>,
    },
}

/// `openkvs bench whep` options.
#[derive(Debug, Clone)]
pub struct WhepBenchOptions {
    /// The server.
    pub server: ServerChoice,
    /// Region override.
    pub region: Option<String>,
    /// The stream fed and watched.
    pub stream: String,
    /// The Matroska file fed in real time.
    pub file: PathBuf,
    /// Where fragments are cut.
    pub fragment_policy: FragmentPolicy,
    /// Viewers.
    pub viewers: usize,
    /// Feeding alone before the viewers start.
    pub warmup: Duration,
    /// How long the viewers watch (from the first one's start).
    pub duration: Duration,
    /// Viewer i starts i × ramp_up / N after the first.
    pub ramp_up: Duration,
    /// A viewer without a frame for longer than this is dropped.
    pub stall: Duration,
    /// A viewer not connected this long after its POST is dropped.
    pub connect_timeout: Duration,
    /// Print JSON instead of the table.
    pub json: bool,
}

/// Smallest, median and largest of a per-viewer figure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// Smallest.
    pub min: f64,
    /// Median (nearest rank).
    pub median: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    fn of(mut values: Vec<f64>) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let round = |v: f64| (v * 100.0).round() / 100.0;
        Some(Spread {
            min: round(values[0]),
            median: round(values[(values.len() - 1) / 2]),
            max: round(values[values.len() - 1]),
        })
    }
}

/// What the feeder did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FeedSummary {
    /// PutMedia sessions (passes over the file).
    pub passes: usize,
    /// Fragments whose last byte was sent.
    pub fragments_sent: usize,
    /// Fragments that got their final ACK (PERSISTED, or RECEIVED without retention).
    pub fragments_acknowledged: usize,
    /// Body bitrate over the feed's wall time.
    pub mbit_per_s: f64,
    /// Why a pass failed (the feed stops at the first).
    pub failures: Vec<String>,
}

/// CPU of one process over the run's windows, % of one core.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CpuWindows {
    /// Feed only (warm-up).
    pub feed_only_percent: Option<f64>,
    /// Viewers started → all connected or dropped.
    pub connect_percent: Option<f64>,
    /// All connected → end.
    pub viewing_percent: Option<f64>,
}

/// The server's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ServerFigures {
    /// Its pid.
    pub pid: u32,
    /// CPU per window.
    pub cpu: CpuWindows,
    /// (viewing − feed only) ÷ connected viewers, % of one core.
    pub per_viewer_percent: Option<f64>,
    /// RSS when the viewers started, MB.
    pub rss_before_viewers_mb: f64,
    /// Largest RSS seen (sampled every 0.5 s), MB.
    pub peak_rss_mb: f64,
}

/// The result of a run.
#[derive(Debug, Clone, Serialize)]
pub struct WhepSummary {
    /// The stream.
    pub stream: String,
    /// Viewers started.
    pub viewers: usize,
    /// Viewers that connected (ICE + DTLS).
    pub connected: usize,
    /// Viewers dropped (see the module documentation).
    pub dropped: usize,
    /// The first few reasons.
    pub drops: Vec<String>,
    /// WHEP DELETEs answered 200 at the end.
    pub deleted: usize,
    /// Warm-up (feed only), seconds.
    pub warmup_secs: f64,
    /// Viewing window, seconds.
    pub duration_secs: f64,
    /// Viewers started → all connected or dropped, seconds.
    pub connect_phase_secs: f64,
    /// Load averages (1, 5, 15 min) when the run started.
    pub load_average: Option<[f64; 3]>,
    /// The feeder.
    pub feed: FeedSummary,
    /// POST sent → answer applied (the HTTP exchange and the server's offer handling).
    pub answer_ms: Option<LatencySummary>,
    /// POST sent → connected (answer, then ICE + DTLS).
    pub connect_ms: Option<LatencySummary>,
    /// POST → first frame.
    pub first_frame_ms: Option<LatencySummary>,
    /// Video frames per viewer.
    pub video_frames_per_viewer: Option<Spread>,
    /// Received media bitrate per viewer (connected → end).
    pub mbit_per_s_per_viewer: Option<Spread>,
    /// Longest gap between two frames per viewer, from its second frame, ms.
    pub max_gap_ms_per_viewer: Option<Spread>,
    /// Producer timestamp → whole frame received by the viewer, every video frame but the first of
    /// each viewer.
    pub frame_latency_ms: Option<LatencySummary>,
    /// Frames str0m marked as following lost packets.
    pub discontinuities: u64,
    /// The server (`None` for `--endpoint` without `--server-pid`).
    pub server: Option<ServerFigures>,
    /// This process (feeder + viewers).
    pub client_cpu: CpuWindows,
}

impl WhepSummary {
    fn table(&self) -> String {
        let spread = |s: &Option<Spread>, unit: &str| {
            s.map_or("-".to_owned(), |s| format!("min {} {unit}  median {}  max {}", s.min, s.median, s.max))
        };
        let pct = |p: Option<f64>| p.map_or("-".to_owned(), |p| format!("{p:.1} %"));
        let cpu = |c: &CpuWindows| {
            format!(
                "feed only {}, connect phase {}, viewing {}",
                pct(c.feed_only_percent),
                pct(c.connect_percent),
                pct(c.viewing_percent)
            )
        };
        let mut out = format!(
            "stream              {}\n\
             viewers             {} started, {} connected, {} dropped, {} deleted at the end\n\
             windows             warm-up {:.1} s, viewing {:.1} s (connect phase {:.1} s)\n\
             load average        {}\n\
             feed                {} passes, {} fragments sent, {} acknowledged, {:.2} Mbit/s\n\
             answer              {}\n\
             connect             {}\n\
             first frame         {}\n\
             video frames        {}\n\
             per-viewer rate     {}\n\
             longest frame gap   {}\n\
             frame latency       {}\n\
             discontinuities     {}\n",
            self.stream,
            self.viewers,
            self.connected,
            self.dropped,
            self.deleted,
            self.warmup_secs,
            self.duration_secs,
            self.connect_phase_secs,
            self.load_average.map_or("-".to_owned(), |l| format!("{:.2} {:.2} {:.2}", l[0], l[1], l[2])),
            self.feed.passes,
            self.feed.fragments_sent,
            self.feed.fragments_acknowledged,
            self.feed.mbit_per_s,
            latency_line(&self.answer_ms, LatencyDetail::Full),
            latency_line(&self.connect_ms, LatencyDetail::Full),
            latency_line(&self.first_frame_ms, LatencyDetail::Full),
            spread(&self.video_frames_per_viewer, ""),
            spread(&self.mbit_per_s_per_viewer, "Mbit/s"),
            spread(&self.max_gap_ms_per_viewer, "ms"),
            latency_line(&self.frame_latency_ms, LatencyDetail::Full),
            self.discontinuities,
        );
        match &self.server {
            Some(s) => out.push_str(&format!(
                "server CPU          {} (% of one core); per viewer {}\n\
                 server RSS          {:.1} MB before viewers, peak {:.1} MB\n",
                cpu(&s.cpu),
                pct(s.per_viewer_percent),
                s.rss_before_viewers_mb,
                s.peak_rss_mb
            )),
            None => out.push_str("server CPU          - (pass --server-pid)\n"),
        }
        out.push_str(&format!("bench CPU           {} (feeder + viewers)\n", cpu(&self.client_cpu)));
        for f in self.feed.failures.iter().chain(&self.drops) {
            out.push_str(&format!("failure             {f}\n"));
        }
        out
    }
}

/// What one viewer saw.
#[derive(Debug, Default)]
struct ViewerResult {
    answered_after: Option<Duration>,
    connected_after: Option<Duration>,
    first_frame_after: Option<Duration>,
    /// Connected → end (or drop).
    watched: Duration,
    video_frames: u64,
    bytes: u64,
    latencies: Vec<Duration>,
    max_gap: Option<Duration>,
    discontinuities: u64,
    dropped: Option<String>,
    deleted: bool,
}

/// Counters shown on stderr while the run goes.
#[derive(Debug, Default)]
struct Live {
    connected: AtomicUsize,
    dropped: AtomicUsize,
    frames: AtomicU64,
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("openkvs bench whep: {msg}");
    ExitCode::FAILURE
}

/// Runs `openkvs bench whep`.
pub async fn run(opts: WhepBenchOptions) -> ExitCode {
    let prepared = match super::prepare_file(&opts.file, opts.fragment_policy).await {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    // Kept until the end: dropping it stops the child server.
    let mut child = None;
    let (endpoint, pid, credentials) = match &opts.server {
        ServerChoice::Endpoint { url, pid } => (url.clone(), *pid, None),
        ServerChoice::Child => {
            // On this thread (the one `block_on` runs the command on): the child lives as long
            // as it does. Nothing else runs yet.
            let started = match ChildServer::start() {
                Ok(c) => c,
                Err(e) => return fail(e),
            };
            eprintln!(
                "openkvs bench whep: started openkvs serve (pid {}) at {}",
                started.pid(),
                started.endpoint
            );
            let out = (
                started.endpoint.clone(),
                Some(started.pid()),
                Some(Credentials::new(DEV_KEY.0, DEV_KEY.1, None, None, "openkvs-bench")),
            );
            child = Some(started);
            out
        }
    };
    let result = bench(&opts, prepared, &endpoint, pid, credentials).await;
    drop(child);
    match result {
        Ok(summary) => {
            if let Err(e) = super::print_summary(&summary, opts.json, WhepSummary::table) {
                return fail(e);
            }
            let ok = summary.dropped == 0
                && summary.connected == summary.viewers
                && summary.feed.failures.is_empty();
            if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(e) => fail(e),
    }
}

/// A reading of the server (if known) and of this process.
#[derive(Debug, Clone, Copy)]
struct Mark {
    at: Instant,
    server: Option<ProcessReading>,
    client: Option<ProcessReading>,
}

impl Mark {
    fn now(pid: Option<u32>) -> Self {
        Mark {
            at: Instant::now(),
            server: pid.and_then(|p| ProcessReading::of(Some(p))),
            client: ProcessReading::of(None),
        }
    }
}

/// % of one core between two readings.
fn percent(from: &Mark, to: &Mark, which: fn(&Mark) -> Option<ProcessReading>) -> Option<f64> {
    let secs = to.at.checked_duration_since(from.at)?.as_secs_f64();
    if secs < 0.1 {
        return None;
    }
    let cpu = which(to)?.cpu_seconds - which(from)?.cpu_seconds;
    Some((cpu / secs * 1000.0).round() / 10.0)
}

fn windows(marks: &[Mark; 4], which: fn(&Mark) -> Option<ProcessReading>) -> CpuWindows {
    CpuWindows {
        feed_only_percent: percent(&marks[0], &marks[1], which),
        connect_percent: percent(&marks[1], &marks[2], which),
        viewing_percent: percent(&marks[2], &marks[3], which),
    }
}

async fn bench(
    opts: &WhepBenchOptions,
    prepared: Arc<PreparedFile>,
    endpoint: &str,
    pid: Option<u32>,
    credentials: Option<Credentials>,
) -> Result<WhepSummary, String> {
    let control = ControlPlane::load_as(Some(endpoint), opts.region.as_deref(), credentials)
        .await
        .map_err(|e| e.to_string())?;
    let resolved = control.resolve_for_put(&opts.stream, Some(1)).await.map_err(|e| e.to_string())?;
    let expires = (opts.warmup + opts.duration + opts.connect_timeout).as_secs().clamp(300, 43_200);
    let whep_url = whep_session_url(endpoint, &opts.stream, &control, expires).await?;
    let setup = Arc::new(ViewerSetup::for_url(&whep_url).await.map_err(|e| e.to_string())?);
    let load = load_average();
    eprintln!(
        "openkvs bench whep: feeding {} ({} fragments per pass) into {}; {} viewers after {} s, for {} s",
        opts.file.display(),
        prepared.clusters(),
        opts.stream,
        opts.viewers,
        opts.warmup.as_secs_f64(),
        opts.duration.as_secs_f64()
    );

    let fed = Mark::now(pid);
    let viewers_start = tokio::time::Instant::now() + opts.warmup;
    let end = viewers_start + opts.duration;
    let target = Target {
        data_endpoint: resolved.data_endpoint,
        stream_name: opts.stream.clone(),
        region: control.region.clone(),
        credentials: control.credentials.clone(),
    };
    let final_ack = if resolved.retention_hours > 0 { FinalAck::Persisted } else { FinalAck::Received };
    let feeder = tokio::spawn(feed(prepared, target, final_ack, end));
    let peak_rss = Arc::new(AtomicU64::new(0));
    let sampler = tokio::spawn(sample_rss(pid, peak_rss.clone()));

    tokio::time::sleep_until(viewers_start).await;
    let started = Mark::now(pid);
    let live = Arc::new(Live::default());
    let (settled_tx, mut settled_rx) = mpsc::unbounded_channel::<()>();
    let mut tasks = tokio::task::JoinSet::new();
    let n = u32::try_from(opts.viewers.max(1)).unwrap_or(u32::MAX);
    for i in 0..opts.viewers {
        let delay = opts.ramp_up * u32::try_from(i).unwrap_or(u32::MAX) / n;
        let (setup, url, live, settled) = (setup.clone(), whep_url.clone(), live.clone(), settled_tx.clone());
        let limits = (opts.connect_timeout, opts.stall);
        tasks.spawn(async move {
            tokio::time::sleep(delay).await;
            watch(&setup, &url, limits, end.into_std(), &live, &settled).await
        });
    }
    drop(settled_tx);

    // Connect phase: until every viewer connected or dropped (or the end).
    let mut settled = 0;
    let mut progress = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(5),
        Duration::from_secs(5),
    );
    let mut all_settled = None;
    loop {
        tokio::select! {
            s = settled_rx.recv(), if all_settled.is_none() => match s {
                Some(()) => {
                    settled += 1;
                    if settled == opts.viewers {
                        all_settled = Some(Mark::now(pid));
                    }
                }
                None => all_settled = Some(Mark::now(pid)),
            },
            _ = progress.tick() => eprintln!(
                "openkvs bench whep: {} connected, {} dropped, {} frames received",
                live.connected.load(Ordering::Relaxed),
                live.dropped.load(Ordering::Relaxed),
                live.frames.load(Ordering::Relaxed)
            ),
            _ = tokio::time::sleep_until(end) => break,
        }
    }
    let ended = Mark::now(pid);
    let all_settled = all_settled.unwrap_or(ended);

    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        results.push(joined.unwrap_or_else(|e| ViewerResult {
            dropped: Some(format!("viewer task: {e}")),
            ..Default::default()
        }));
    }
    let feed = feeder.await.unwrap_or_else(|e| FeedSummary {
        failures: vec![format!("feeder task: {e}")],
        ..Default::default()
    });
    sampler.abort();

    let marks = [fed, started, all_settled, ended];
    let server = pid.zip(started.server).map(|(pid, before)| {
        let cpu = windows(&marks, |m| m.server);
        let connected = results.iter().filter(|r| r.connected_after.is_some()).count();
        ServerFigures {
            pid,
            cpu,
            per_viewer_percent: cpu
                .viewing_percent
                .zip(cpu.feed_only_percent)
                .filter(|_| connected > 0)
                .map(|(v, f)| ((v - f) / connected as f64 * 1000.0).round() / 1000.0),
            rss_before_viewers_mb: mb(before.rss_bytes),
            peak_rss_mb: mb(peak_rss.load(Ordering::Relaxed).max(before.rss_bytes)),
        }
    });
    Ok(WhepSummary {
        stream: opts.stream.clone(),
        viewers: opts.viewers,
        connected: results.iter().filter(|r| r.connected_after.is_some()).count(),
        dropped: results.iter().filter(|r| r.dropped.is_some()).count(),
        drops: results.iter().filter_map(|r| r.dropped.clone()).take(5).collect(),
        deleted: results.iter().filter(|r| r.deleted).count(),
        warmup_secs: secs(started.at - fed.at),
        duration_secs: secs(ended.at - started.at),
        connect_phase_secs: secs(all_settled.at - started.at),
        load_average: load,
        feed,
        answer_ms: LatencySummary::of(results.iter().filter_map(|r| r.answered_after).collect()),
        connect_ms: LatencySummary::of(results.iter().filter_map(|r| r.connected_after).collect()),
        first_frame_ms: LatencySummary::of(results.iter().filter_map(|r| r.first_frame_after).collect()),
        video_frames_per_viewer: Spread::of(
            results.iter().filter(|r| r.connected_after.is_some()).map(|r| r.video_frames as f64).collect(),
        ),
        mbit_per_s_per_viewer: Spread::of(
            results
                .iter()
                .filter(|r| r.connected_after.is_some())
                .map(|r| mbit_per_s(r.bytes, r.watched))
                .collect(),
        ),
        max_gap_ms_per_viewer: Spread::of(
            results.iter().filter_map(|r| r.max_gap).map(|g| g.as_secs_f64() * 1000.0).collect(),
        ),
        frame_latency_ms: LatencySummary::of(
            results.iter().flat_map(|r| r.latencies.iter().copied()).collect(),
        ),
        discontinuities: results.iter().map(|r| r.discontinuities).sum(),
        server,
        client_cpu: windows(&marks, |m| m.client),
    })
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 100.0).round() / 100.0
}

fn mb(bytes: u64) -> f64 {
    (bytes as f64 / 1e6 * 10.0).round() / 10.0
}

/// One `GetWHEPStreamingSessionURL` (SigV4) for `stream`.
async fn whep_session_url(
    endpoint: &str,
    stream: &str,
    control: &ControlPlane,
    expires: u64,
) -> Result<String, String> {
    let body = serde_json::json!({ "StreamName": stream, "Expires": expires }).to_string().into_bytes();
    let mut conn = DataConnection::new(endpoint).map_err(|e| e.to_string())?;
    let response = conn
        .post_json("/openkvs/getWHEPStreamingSessionURL", body, &control.credentials, &control.region)
        .await
        .map_err(|e| format!("GetWHEPStreamingSessionURL: {e}"))?;
    let body = read_ok(response).await.map_err(|e| format!("GetWHEPStreamingSessionURL: {e}"))?;
    let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    v["WHEPStreamingSessionURL"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no WHEPStreamingSessionURL in the response".to_owned())
}

/// Feeds the file in real time, one PutMedia session per pass, until `end`.
async fn feed(
    prepared: Arc<PreparedFile>,
    target: Target,
    final_ack: FinalAck,
    end: tokio::time::Instant,
) -> FeedSummary {
    let mut out = FeedSummary::default();
    let started = Instant::now();
    let mut bytes = 0;
    // A pass shorter than this is not worth a session.
    while end.saturating_duration_since(tokio::time::Instant::now()) > Duration::from_millis(500) {
        let base = now_ms();
        let pieces = match prepared.pieces(Retimer::new(TimecodeType::Absolute, base)) {
            Ok(p) => p,
            Err(e) => {
                out.failures.push(format!("feed: {e}"));
                break;
            }
        };
        let options = SessionOptions {
            timecode_type: TimecodeType::Absolute,
            producer_start_ms: base,
            realtime: true,
            stop_after: Some(end.saturating_duration_since(tokio::time::Instant::now())),
            final_ack,
            ..SessionOptions::default()
        };
        let stream = futures_util::stream::iter(pieces.into_iter().map(Ok));
        match put_media(&target, &options, stream, Tracker::new()).await {
            Ok(report) => {
                out.passes += 1;
                bytes += report.bytes_sent;
                out.fragments_sent += report.fragments.iter().filter(|f| f.sent.is_some()).count();
                out.fragments_acknowledged += report
                    .fragments
                    .iter()
                    .filter(|f| match final_ack {
                        FinalAck::Persisted => f.persisted.is_some(),
                        FinalAck::Received => f.received.is_some(),
                    })
                    .count();
                if !report.ok() {
                    let why = match (report.errors.first(), &report.failure) {
                        (Some(e), _) => e.to_string(),
                        (None, Some(f)) => f.clone(),
                        (None, None) => "no fragment was sent".to_owned(),
                    };
                    out.failures.push(format!("feed pass {}: {why}", out.passes));
                    break;
                }
            }
            Err(e) => {
                out.failures.push(format!("feed: {e}"));
                break;
            }
        }
    }
    out.mbit_per_s = mbit_per_s(bytes, started.elapsed());
    out
}

/// Keeps the largest RSS of `pid` seen every 0.5 s in `peak`.
async fn sample_rss(pid: Option<u32>, peak: Arc<AtomicU64>) {
    let Some(pid) = pid else { return };
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        if let Some(r) = ProcessReading::of(Some(pid)) {
            peak.fetch_max(r.rss_bytes, Ordering::Relaxed);
        }
    }
}

/// One viewer until `end`; sends on `settled` once connected or dropped.
async fn watch(
    setup: &ViewerSetup,
    url: &str,
    (connect_timeout, stall): (Duration, Duration),
    end: Instant,
    live: &Live,
    settled: &mpsc::UnboundedSender<()>,
) -> ViewerResult {
    let mut r = ViewerResult::default();
    let started = Instant::now();
    let drop_with = |r: &mut ViewerResult, why: String| {
        r.dropped = Some(why);
        live.dropped.fetch_add(1, Ordering::Relaxed);
    };
    let mut viewer = match WhepViewer::connect(setup, url).await {
        Ok(v) => {
            r.answered_after = Some(started.elapsed());
            v
        }
        Err(e) => {
            drop_with(&mut r, e.to_string());
            let _ = settled.send(());
            return r;
        }
    };
    let connect_deadline = (started + connect_timeout).min(end);
    loop {
        match viewer.next_event(connect_deadline).await {
            ViewerEvent::Connected => break,
            ViewerEvent::Frame(_) => {}
            ViewerEvent::Lost(why) => {
                drop_with(&mut r, format!("lost before connecting: {why}"));
                break;
            }
            ViewerEvent::Deadline => {
                drop_with(
                    &mut r,
                    format!("not connected {:.1} s after the POST", started.elapsed().as_secs_f64()),
                );
                break;
            }
        }
    }
    let _ = settled.send(());
    if r.dropped.is_some() {
        return r;
    }
    let connected = Instant::now();
    r.connected_after = Some(connected - started);
    live.connected.fetch_add(1, Ordering::Relaxed);
    let mut last_frame = connected;
    let mut frames = 0u64;
    loop {
        match viewer.next_event((last_frame + stall).min(end)).await {
            ViewerEvent::Frame(f) => {
                let now = Instant::now();
                frames += 1;
                r.bytes += f.bytes as u64;
                if !f.contiguous {
                    r.discontinuities += 1;
                }
                if frames == 1 {
                    r.first_frame_after = Some(now - started);
                } else if frames > 2 {
                    let gap = now - last_frame;
                    r.max_gap = Some(r.max_gap.map_or(gap, |m| m.max(gap)));
                }
                if f.kind == MediaKind::Video {
                    r.video_frames += 1;
                    live.frames.fetch_add(1, Ordering::Relaxed);
                    if frames > 1
                        && let Some(age) = frame_age(f.rtp_time, SystemTime::now())
                    {
                        r.latencies.push(age);
                    }
                }
                last_frame = now;
            }
            ViewerEvent::Connected => {}
            ViewerEvent::Lost(why) => {
                drop_with(
                    &mut r,
                    format!("connection lost after {:.1} s: {why}", connected.elapsed().as_secs_f64()),
                );
                break;
            }
            ViewerEvent::Deadline if Instant::now() >= end => break,
            ViewerEvent::Deadline => {
                drop_with(
                    &mut r,
                    format!(
                        "no frame for {:.1} s ({frames} received, {:.1} s after connecting)",
                        stall.as_secs_f64(),
                        connected.elapsed().as_secs_f64()
                    ),
                );
                break;
            }
        }
    }
    r.watched = connected.elapsed();
    if r.dropped.is_none() {
        r.deleted = matches!(viewer.close().await, Ok(200));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_and_percent() {
        assert_eq!(Spread::of(vec![]), None);
        assert_eq!(Spread::of(vec![3.0, 1.0, 2.0, 10.0]), Some(Spread { min: 1.0, median: 2.0, max: 10.0 }));
        let t = Instant::now();
        let at = |secs: u64, cpu: f64| Mark {
            at: t + Duration::from_secs(secs),
            server: Some(ProcessReading { cpu_seconds: cpu, rss_bytes: 1 }),
            client: None,
        };
        let marks = [at(0, 1.0), at(10, 2.0), at(12, 3.0), at(22, 8.0)];
        let w = windows(&marks, |m| m.server);
        assert_eq!(
            (w.feed_only_percent, w.connect_percent, w.viewing_percent),
            (Some(10.0), Some(50.0), Some(50.0))
        );
        assert_eq!(windows(&marks, |m| m.client).viewing_percent, None);
    }
}
