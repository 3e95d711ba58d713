//! `openkvs bench getmedia`: N concurrent live GetMedia readers (StartSelectorType NOW) of each of
//! one or more streams, measuring end-to-end frame latency.
//!
//! Each reader POSTs a signed `/getMedia` to the stream's GET_MEDIA data endpoint — or to the node
//! `--data-endpoint` names, to read a stream another node of a cluster ingests (its frames then
//! cross NATS, design/0021-cluster-feeds.md) — on its own connection ([`crate::producer::data_client`]) and demuxes the streamed Matroska with
//! [`crate::media::mkv::MkvDemuxer`]. A frame's producer timestamp is its Cluster Timecode plus
//! the block's relative timecode (times TimecodeScale); with ABSOLUTE cluster timecodes and
//! wall-clock pacing — `openkvs put --realtime`, which this bench is meant to run against — that
//! is when the producer captured the frame, so latency = arrival − producer timestamp is the
//! producer → server → reader delay (producer and readers on clocks that agree).
//!
//! The server may send a fragment a reader already got (partly) live once more, in full, from the
//! store (a reader that lagged the live feed: see [`crate::playback`]'s GetMedia). Each reader
//! counts a frame once, keyed by (track, Cluster Timecode, block timecode, lace index), so re-sent frames —
//! which arrive late — neither double the frame count nor inflate the latency tail; they are
//! reported as `duplicate_frames`.
//!
//! A reader's first fragment usually began before the reader subscribed, so the server sends it
//! from the store once it is PERSISTED: its frames arrive up to a fragment duration late. Their
//! latency is reported apart (`first_fragment_latency_ms`); `frame_latency_ms` covers the frames of
//! every later fragment (the live tail).
//!
//! Reports frames, fragments (distinct Clusters), bytes/s, frame latency p50/p90/p99/max, duplicate
//! frames and errors (readers that could not start, or whose response failed before the duration
//! ended). Human table on stdout, or JSON with `--json`.

use std::collections::HashSet;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_kinesisvideo::types::ApiName;
use hyper::body::Body;
use serde::Serialize;

use crate::media::mkv::{DemuxLimits, MkvDemuxer, MkvEvent};
use crate::producer::control::ControlPlane;
use crate::producer::data_client::{DataConnection, read_ok};
use crate::producer::report::{LatencyDetail, LatencySummary, latency_line, mbit_per_s};

/// `openkvs bench getmedia` options.
#[derive(Debug, Clone)]
pub struct GetMediaBenchOptions {
    /// Control-plane URL.
    pub endpoint: String,
    /// Region override.
    pub region: Option<String>,
    /// The streams to read.
    pub streams: Vec<String>,
    /// Concurrent readers of each stream.
    pub readers: usize,
    /// Read from this base URL instead of GetDataEndpoint's answer.
    pub data_endpoint: Option<String>,
    /// How long every reader reads.
    pub duration: Duration,
    /// Print JSON instead of the table.
    pub json: bool,
}

/// The result of a run.
#[derive(Debug, Clone, Serialize)]
pub struct GetMediaSummary {
    /// The streams read (comma-separated).
    pub stream: String,
    /// Readers started (all streams).
    pub readers: usize,
    /// Wall time of the run, seconds.
    pub duration_secs: f64,
    /// Frames received by all readers.
    pub frames: u64,
    /// Distinct Clusters (fragments) begun by all readers.
    pub fragments: u64,
    /// Frames received again (a fragment re-sent from the store); not counted in `frames`.
    pub duplicate_frames: u64,
    /// Response bytes received by all readers.
    pub bytes: u64,
    /// Response bytes per second of wall time.
    pub bytes_per_s: f64,
    /// The same as a bitrate.
    pub mbit_per_s: f64,
    /// Frame arrival − frame producer timestamp, for every fragment after each reader's first.
    pub frame_latency_ms: Option<LatencySummary>,
    /// The same for the frames of each reader's first fragment (the join).
    pub first_fragment_latency_ms: Option<LatencySummary>,
    /// Readers that failed.
    pub errors: usize,
    /// The first few failure messages.
    pub failures: Vec<String>,
}

impl GetMediaSummary {
    fn table(&self) -> String {
        let lat = |l: &Option<LatencySummary>| latency_line(l, LatencyDetail::Full);
        let mut out = format!(
            "stream              {}\n\
             readers             {} ({} failed)\n\
             duration            {:.1} s\n\
             frames              {} ({} fragments, {} duplicate frames ignored)\n\
             throughput          {:.0} bytes/s, {:.2} Mbit/s ({} bytes)\n\
             frame latency       {}\n\
             first fragment      {}\n",
            self.stream,
            self.readers,
            self.errors,
            self.duration_secs,
            self.frames,
            self.fragments,
            self.duplicate_frames,
            self.bytes_per_s,
            self.mbit_per_s,
            self.bytes,
            lat(&self.frame_latency_ms),
            lat(&self.first_fragment_latency_ms),
        );
        for f in &self.failures {
            out.push_str(&format!("failure             {f}\n"));
        }
        out
    }
}

/// What one reader saw.
#[derive(Debug, Default)]
struct ReaderResult {
    frames: u64,
    fragments: u64,
    duplicate_frames: u64,
    bytes: u64,
    latencies: Vec<Duration>,
    first_fragment_latencies: Vec<Duration>,
    error: Option<String>,
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("openkvs bench getmedia: {msg}");
    ExitCode::FAILURE
}

/// Wall-clock now, in milliseconds since the epoch (fractional).
fn now_epoch_ms() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Runs `openkvs bench getmedia`.
pub async fn run(opts: GetMediaBenchOptions) -> ExitCode {
    let control = match ControlPlane::load(Some(&opts.endpoint), opts.region.as_deref()).await {
        Ok(c) => Arc::new(c),
        Err(e) => return fail(e),
    };
    let mut targets = Vec::new();
    for stream in &opts.streams {
        let endpoint = match &opts.data_endpoint {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => match control.data_endpoint(stream, ApiName::GetMedia).await {
                Ok(d) => d,
                Err(e) => return fail(e),
            },
        };
        let body = serde_json::json!({
            "StreamName": stream,
            "StartSelector": { "StartSelectorType": "NOW" },
        })
        .to_string()
        .into_bytes();
        targets.push((endpoint, body));
    }
    eprintln!(
        "openkvs bench getmedia: {} readers of each of {} for {} s",
        opts.readers,
        opts.streams.join(", "),
        opts.duration.as_secs_f64()
    );
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + opts.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for (endpoint, body) in targets.iter().flat_map(|t| std::iter::repeat_n(t, opts.readers)) {
        let control = control.clone();
        let endpoint = endpoint.clone();
        let body = body.clone();
        tasks.spawn(async move {
            let mut result = ReaderResult::default();
            let outcome =
                tokio::time::timeout_at(deadline, read(&endpoint, body, &control, &mut result)).await;
            if let Ok(Err(e)) = outcome {
                result.error = Some(e);
            }
            result
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(r) => results.push(r),
            Err(e) => {
                results.push(ReaderResult { error: Some(format!("reader task: {e}")), ..Default::default() })
            }
        }
    }
    let elapsed = started.elapsed();
    let summary = summarize(&opts, results, elapsed);
    if let Err(e) = super::print_summary(&summary, opts.json, GetMediaSummary::table) {
        return fail(e);
    }
    if summary.errors == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// One reader: GetMedia NOW, demuxed until the response ends (or the caller's timeout drops it).
async fn read(
    endpoint: &str,
    body: Vec<u8>,
    control: &ControlPlane,
    result: &mut ReaderResult,
) -> Result<(), String> {
    let mut conn = DataConnection::new(endpoint).map_err(|e| e.to_string())?;
    let response = conn
        .post_json("/getMedia", body, &control.credentials, &control.region)
        .await
        .map_err(|e| format!("GetMedia: {e}"))?;
    if response.status() != hyper::StatusCode::OK {
        return Err(format!(
            "GetMedia: {}",
            read_ok(response).await.err().map_or_else(String::new, |e| e.to_string())
        ));
    }
    let mut incoming = response.into_body();
    let mut demuxer = MkvDemuxer::new(DemuxLimits::default());
    let mut timecode_scale_ns = 1_000_000u64;
    let mut cluster_timecode = 0u64;
    // Frames and Clusters already counted: (track, cluster timecode, block timecode, lace index).
    let mut frames_seen: HashSet<(u64, u64, i16, u8)> = HashSet::new();
    let mut clusters_seen: HashSet<u64> = HashSet::new();
    while let Some(frame) = std::future::poll_fn(|cx| std::pin::Pin::new(&mut incoming).poll_frame(cx)).await
    {
        let frame = frame.map_err(|e| format!("GetMedia response: {e}"))?;
        let Ok(data) = frame.into_data() else { continue };
        let arrived_ms = now_epoch_ms();
        result.bytes += data.len() as u64;
        demuxer.push(data);
        while let Some(event) = demuxer.pull().map_err(|e| format!("GetMedia Matroska: {e}"))? {
            match event {
                MkvEvent::Info { timecode_scale_ns: scale, .. } => timecode_scale_ns = scale,
                MkvEvent::ClusterTimecode { timecode } => {
                    cluster_timecode = timecode;
                    if clusters_seen.insert(timecode) {
                        result.fragments += 1;
                    }
                }
                MkvEvent::Frame(f) => {
                    if !frames_seen.insert((f.track, cluster_timecode, f.timecode_rel, f.lace_index)) {
                        result.duplicate_frames += 1;
                        continue;
                    }
                    result.frames += 1;
                    let units = cluster_timecode as f64 + f64::from(f.timecode_rel);
                    let producer_ms = units * timecode_scale_ns as f64 / 1e6;
                    let latency_ms = (arrived_ms - producer_ms).max(0.0);
                    let latency = Duration::from_secs_f64(latency_ms / 1000.0);
                    if clusters_seen.len() <= 1 {
                        result.first_fragment_latencies.push(latency);
                    } else {
                        result.latencies.push(latency);
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn summarize(opts: &GetMediaBenchOptions, results: Vec<ReaderResult>, elapsed: Duration) -> GetMediaSummary {
    let secs = elapsed.as_secs_f64();
    let bytes = results.iter().map(|r| r.bytes).sum();
    let failures: Vec<String> = results.iter().filter_map(|r| r.error.clone()).collect();
    GetMediaSummary {
        stream: opts.streams.join(","),
        readers: opts.readers * opts.streams.len(),
        duration_secs: (secs * 100.0).round() / 100.0,
        frames: results.iter().map(|r| r.frames).sum(),
        fragments: results.iter().map(|r| r.fragments).sum(),
        duplicate_frames: results.iter().map(|r| r.duplicate_frames).sum(),
        bytes,
        bytes_per_s: if secs > 0.0 { (bytes as f64 / secs).round() } else { 0.0 },
        mbit_per_s: mbit_per_s(bytes, elapsed),
        frame_latency_ms: LatencySummary::of(
            results.iter().flat_map(|r| r.latencies.iter().copied()).collect(),
        ),
        first_fragment_latency_ms: LatencySummary::of(
            results.iter().flat_map(|r| r.first_fragment_latencies.iter().copied()).collect(),
        ),
        errors: failures.len(),
        failures: failures.into_iter().take(5).collect(),
    }
}
