//! `openkvs bench hls`: N simulated LIVE HLS viewers of one stream.
//!
//! One LIVE session URL is requested (signed `POST /getHLSStreamingSessionURL` on the
//! GET_HLS_STREAMING_SESSION_URL data endpoint); every viewer then, on its own keep-alive
//! connection ([`crate::producer::data_client`]), starts at a random moment within the first second, GETs
//! the master playlist once, and polls the first media playlist it names every ~1 s (jittered
//! 0.8–1.2 s), fetching the init segment once and every segment it has not fetched yet (from its
//! first playlist only the last [`JOIN_SEGMENTS`], as a player joining at the live edge).
//!
//! Playlist freshness is measured between viewers: for each segment URI, the time from when any
//! viewer first saw it in a playlist to when each later viewer saw it (segments already in a
//! viewer's first playlist are not counted for it). PERSISTED → visible is out of scope.
//!
//! Reports requests/s, bytes/s, segments fetched, freshness p50/p90/p99/max, segment fetch
//! latency (request → whole body) p50/p99 and failed requests. Human table on stdout, or JSON
//! with `--json`.

use std::collections::{HashMap, HashSet};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_kinesisvideo::types::ApiName;
use serde::Serialize;

use crate::producer::control::ControlPlane;
use crate::producer::data_client::{DataConnection, DataError, read_ok};
use crate::producer::report::{LatencyDetail, LatencySummary, latency_line, mbit_per_s};

/// Segments a viewer fetches from its first media playlist (the live edge).
pub const JOIN_SEGMENTS: usize = 3;

/// `openkvs bench hls` options.
#[derive(Debug, Clone)]
pub struct HlsBenchOptions {
    /// Control-plane URL.
    pub endpoint: String,
    /// Region override.
    pub region: Option<String>,
    /// The stream to watch.
    pub stream: String,
    /// Concurrent viewers.
    pub viewers: usize,
    /// How long every viewer watches.
    pub duration: Duration,
    /// Print JSON instead of the table.
    pub json: bool,
}

/// The result of a run.
#[derive(Debug, Clone, Serialize)]
pub struct HlsSummary {
    /// The stream watched.
    pub stream: String,
    /// Viewers started.
    pub viewers: usize,
    /// Wall time of the run, seconds.
    pub duration_secs: f64,
    /// HTTP requests made by all viewers (session URL excluded).
    pub requests: u64,
    /// Requests per second of wall time.
    pub requests_per_s: f64,
    /// Response bytes received by all viewers.
    pub bytes: u64,
    /// Response bytes per second of wall time.
    pub bytes_per_s: f64,
    /// The same as a bitrate.
    pub mbit_per_s: f64,
    /// Master playlists fetched.
    pub master_playlists: u64,
    /// Media playlists fetched.
    pub media_playlists: u64,
    /// Init segments fetched.
    pub init_segments: u64,
    /// Media segments fetched.
    pub segments: u64,
    /// First seen by any viewer → seen by each later viewer.
    pub freshness_ms: Option<LatencySummary>,
    /// Segment request sent → whole body received.
    pub segment_fetch_ms: Option<LatencySummary>,
    /// Failed requests.
    pub errors: u64,
    /// The first few failure messages.
    pub failures: Vec<String>,
}

impl HlsSummary {
    fn table(&self) -> String {
        let lat = |l: &Option<LatencySummary>, all: bool| {
            latency_line(l, if all { LatencyDetail::Full } else { LatencyDetail::Brief })
        };
        let mut out = format!(
            "stream              {}\n\
             viewers             {}\n\
             duration            {:.1} s\n\
             requests            {} ({:.1}/s): {} master, {} media playlists, {} init, {} segments\n\
             throughput          {:.0} bytes/s, {:.2} Mbit/s ({} bytes)\n\
             playlist freshness  {}\n\
             segment fetch       {}\n\
             errors              {}\n",
            self.stream,
            self.viewers,
            self.duration_secs,
            self.requests,
            self.requests_per_s,
            self.master_playlists,
            self.media_playlists,
            self.init_segments,
            self.segments,
            self.bytes_per_s,
            self.mbit_per_s,
            self.bytes,
            lat(&self.freshness_ms, true),
            lat(&self.segment_fetch_ms, false),
            self.errors,
        );
        for f in &self.failures {
            out.push_str(&format!("failure             {f}\n"));
        }
        out
    }
}

/// What one viewer did.
#[derive(Debug, Default)]
struct ViewerResult {
    requests: u64,
    bytes: u64,
    master_playlists: u64,
    media_playlists: u64,
    init_segments: u64,
    segments: u64,
    freshness: Vec<Duration>,
    segment_fetch: Vec<Duration>,
    errors: u64,
    failures: Vec<String>,
}

impl ViewerResult {
    fn failed(&mut self, what: &str, e: impl std::fmt::Display) {
        self.errors += 1;
        if self.failures.len() < 5 {
            self.failures.push(format!("{what}: {e}"));
        }
    }

    /// GET `url` whole, counting the request and its bytes.
    async fn fetch(&mut self, conn: &mut DataConnection, url: &str) -> Result<bytes::Bytes, DataError> {
        self.requests += 1;
        let body = read_ok(conn.get(url).await?).await?;
        self.bytes += body.len() as u64;
        Ok(body)
    }
}

/// When any viewer first saw each segment URI.
type FirstSeen = Arc<Mutex<HashMap<String, Instant>>>;

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("openkvs bench hls: {msg}");
    ExitCode::FAILURE
}

/// Runs `openkvs bench hls`.
pub async fn run(opts: HlsBenchOptions) -> ExitCode {
    let control = match ControlPlane::load(Some(&opts.endpoint), opts.region.as_deref()).await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let endpoint = match control.data_endpoint(&opts.stream, ApiName::GetHlsStreamingSessionUrl).await {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let session_url = match session_url(&endpoint, &opts.stream, &control).await {
        Ok(u) => u,
        Err(e) => return fail(format!("GetHLSStreamingSessionURL: {e}")),
    };
    eprintln!(
        "openkvs bench hls: {} viewers of {} for {} s",
        opts.viewers,
        opts.stream,
        opts.duration.as_secs_f64()
    );
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + opts.duration;
    let first_seen: FirstSeen = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..opts.viewers {
        let url = session_url.clone();
        let first_seen = first_seen.clone();
        tasks.spawn(async move {
            let mut result = ViewerResult::default();
            let _ = tokio::time::timeout_at(deadline, watch(&url, &first_seen, &mut result)).await;
            result
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(r) => results.push(r),
            Err(e) => {
                let mut r = ViewerResult::default();
                r.failed("viewer task", e);
                results.push(r);
            }
        }
    }
    let summary = summarize(&opts, results, started.elapsed());
    if let Err(e) = super::print_summary(&summary, opts.json, HlsSummary::table) {
        return fail(e);
    }
    if summary.errors == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// One LIVE session URL for the stream.
async fn session_url(endpoint: &str, stream: &str, control: &ControlPlane) -> Result<String, String> {
    let body = serde_json::json!({ "StreamName": stream, "PlaybackMode": "LIVE" }).to_string().into_bytes();
    let mut conn = DataConnection::new(endpoint).map_err(|e| e.to_string())?;
    let response = conn
        .post_json("/getHLSStreamingSessionURL", body, &control.credentials, &control.region)
        .await
        .map_err(|e| e.to_string())?;
    let body = read_ok(response).await.map_err(|e| e.to_string())?;
    let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    v["HLSStreamingSessionURL"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no HLSStreamingSessionURL in the response".to_owned())
}

/// A URI of a playlist resolved against the playlist's URL.
fn resolve(base: &str, uri: &str) -> String {
    if uri.contains("://") {
        return uri.to_owned();
    }
    let without_query = base.split('?').next().unwrap_or(base);
    match without_query.rfind('/') {
        Some(i) => format!("{}{uri}", &without_query[..=i]),
        None => uri.to_owned(),
    }
}

/// The URI lines of a playlist (not tags, not blank).
fn uri_lines(playlist: &str) -> impl Iterator<Item = &str> {
    playlist.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// The `URI="…"` of the first `#EXT-X-MAP`.
fn map_uri(playlist: &str) -> Option<&str> {
    let line = playlist.lines().find(|l| l.starts_with("#EXT-X-MAP:"))?;
    let start = line.find("URI=\"")? + 5;
    let len = line[start..].find('"')?;
    Some(&line[start..start + len])
}

/// A jittered poll interval, 0.8–1.2 s.
fn poll_interval() -> Duration {
    Duration::from_millis(rand::random_range(800..=1200))
}

/// One viewer, until the caller's timeout drops it.
async fn watch(master_url: &str, first_seen: &FirstSeen, result: &mut ViewerResult) {
    tokio::time::sleep(Duration::from_millis(rand::random_range(0..1000))).await;
    let mut conn = match DataConnection::new(master_url) {
        Ok(c) => c,
        Err(e) => return result.failed("session URL", e),
    };
    // The master playlist, retried each interval until it names a media playlist.
    let media_url = loop {
        result.master_playlists += 1;
        match result.fetch(&mut conn, master_url).await {
            Ok(body) => match uri_lines(&String::from_utf8_lossy(&body)).next() {
                Some(uri) => break resolve(master_url, uri),
                None => result.failed("master playlist", "names no media playlist"),
            },
            Err(e) => result.failed("master playlist", e),
        }
        tokio::time::sleep(poll_interval()).await;
    };
    let mut init_fetched = false;
    let mut seen: HashSet<String> = HashSet::new();
    let mut first_poll = true;
    loop {
        result.media_playlists += 1;
        let playlist = match result.fetch(&mut conn, &media_url).await {
            Ok(body) => String::from_utf8_lossy(&body).into_owned(),
            Err(e) => {
                result.failed("media playlist", e);
                tokio::time::sleep(poll_interval()).await;
                continue;
            }
        };
        let now = Instant::now();
        if !init_fetched && let Some(uri) = map_uri(&playlist) {
            let url = resolve(&media_url, uri);
            result.init_segments += 1;
            match result.fetch(&mut conn, &url).await {
                Ok(_) => init_fetched = true,
                Err(e) => result.failed("init segment", e),
            }
        }
        let listed: Vec<String> = uri_lines(&playlist).map(|u| resolve(&media_url, u)).collect();
        let new: Vec<String> = listed.into_iter().filter(|u| !seen.contains(u)).collect();
        {
            let mut first = first_seen.lock().unwrap_or_else(|p| p.into_inner());
            for url in &new {
                let at = *first.entry(url.clone()).or_insert(now);
                if !first_poll {
                    result.freshness.push(now.saturating_duration_since(at));
                }
            }
        }
        let skip = if first_poll { new.len().saturating_sub(JOIN_SEGMENTS) } else { 0 };
        for url in new.iter().skip(skip) {
            let sent = Instant::now();
            match result.fetch(&mut conn, url).await {
                Ok(_) => {
                    result.segments += 1;
                    result.segment_fetch.push(sent.elapsed());
                }
                Err(e) => result.failed("segment", e),
            }
        }
        seen.extend(new);
        first_poll = false;
        tokio::time::sleep(poll_interval()).await;
    }
}

fn summarize(opts: &HlsBenchOptions, results: Vec<ViewerResult>, elapsed: Duration) -> HlsSummary {
    let secs = elapsed.as_secs_f64();
    let sum = |f: fn(&ViewerResult) -> u64| results.iter().map(f).sum::<u64>();
    let requests = sum(|r| r.requests);
    let bytes = sum(|r| r.bytes);
    let per_s = |n: u64| if secs > 0.0 { (n as f64 / secs * 10.0).round() / 10.0 } else { 0.0 };
    HlsSummary {
        stream: opts.stream.clone(),
        viewers: opts.viewers,
        duration_secs: (secs * 100.0).round() / 100.0,
        requests,
        requests_per_s: per_s(requests),
        bytes,
        bytes_per_s: per_s(bytes).round(),
        mbit_per_s: mbit_per_s(bytes, elapsed),
        master_playlists: sum(|r| r.master_playlists),
        media_playlists: sum(|r| r.media_playlists),
        init_segments: sum(|r| r.init_segments),
        segments: sum(|r| r.segments),
        freshness_ms: LatencySummary::of(results.iter().flat_map(|r| r.freshness.iter().copied()).collect()),
        segment_fetch_ms: LatencySummary::of(
            results.iter().flat_map(|r| r.segment_fetch.iter().copied()).collect(),
        ),
        errors: sum(|r| r.errors),
        failures: results.iter().flat_map(|r| r.failures.iter().cloned()).take(5).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relative_playlist_uris() {
        let master = "http://h:1/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=t";
        assert_eq!(
            resolve(master, "getHLSMediaPlaylist.m3u8?SessionToken=t"),
            "http://h:1/hls/v1/getHLSMediaPlaylist.m3u8?SessionToken=t"
        );
        assert_eq!(resolve(master, "https://x/y"), "https://x/y");
        let media =
            "#EXTM3U\n#EXT-X-MAP:URI=\"getMP4InitFragment.mp4?SessionToken=t\"\n#EXTINF:2.0,\nseg1\n\nseg2\n";
        assert_eq!(map_uri(media), Some("getMP4InitFragment.mp4?SessionToken=t"));
        assert_eq!(uri_lines(media).collect::<Vec<_>>(), ["seg1", "seg2"]);
    }
}
