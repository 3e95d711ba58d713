//! The recorder job of one stream: the RTSP driver around [`super::assembler`].
//!
//! It resolves the camera URI from `MediaUriSecretArn`, connects with `retina` (RTSP over TCP
//! interleaved by default; UDP when the URI ends with `#udp`; Basic or Digest authentication from
//! the URI's user info, which is never passed on to retina's URL and so never appears in an
//! error), sets up the first H.264/H.265 video stream and the first AAC audio stream, and feeds
//! every frame, with its RTP time mapped to wall-clock time, to the assembler. Completed fragments
//! go to the local buffer; the uploader is woken.
//!
//! Faults: a failed connect, a refused password, a camera that stops sending (nothing for
//! `stall_timeout`) or closes the connection end the RTSP session; the open fragment is kept (its
//! frames are whole), the job reports the failure and reconnects with exponential backoff (1 s
//! doubling up to `max_backoff`). The stored stream then has a gap, which HLS shows as a
//! discontinuity. Lost RTP packets close the open fragment and drop the frame they were reported
//! with (it may miss its first packets) and every frame up to the next key frame, so no fragment
//! holds a damaged frame or one with missing references; the status counts the losses. New
//! parameters (the camera reconfigured) start a new stream header. With a
//! `RecorderConfig.ScheduleConfig`, the job records only inside the schedule's windows.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use retina::client::{
    Credentials, PlayOptions, Session, SessionOptions, SetupOptions, TcpTransportOptions, Transport,
    UdpTransportOptions,
};
use retina::codec::{CodecItem, FrameFormat, ParametersRef, VideoParametersCodec};
use tokio::sync::{Notify, watch};

use super::assembler::{Assembler, AssemblerPolicy, EdgeFragment, Sample, Track, WallClockMap, h265_is_irap};
use super::buffer::{Appended, LocalBuffer};
use super::link::{AgentLink, Assigned, SecretError};
use super::{now_ms, redact_uri};
use crate::media::mkv::live::{CODEC_AAC, CODEC_H264, CODEC_H265, TrackMedia, TrackSpec};
use crate::model::{JobReport, JobStatus};

/// The Matroska muxing application written into recorded headers.
pub const MUXING_APP: &str = concat!("openkvs-edge/", env!("CARGO_PKG_VERSION"));

/// How long a session must have run for the backoff to start over at 1 s.
const HEALTHY_SESSION: Duration = Duration::from_secs(30);

/// A status change or a periodic refresh of a running job.
pub type StatusTx = watch::Sender<Option<JobReport>>;

/// Timing knobs shared by the jobs.
#[derive(Debug, Clone, Copy)]
pub struct JobTiming {
    /// Longest wait between reconnection attempts.
    pub max_backoff: Duration,
    /// Reconnect a camera that sent nothing for this long.
    pub stall_timeout: Duration,
}

/// Exponential backoff: 1 s, 2 s, 4 s … up to a bound.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    /// Starts at 1 s (or `max` if smaller).
    pub fn new(max: Duration) -> Self {
        Backoff { next: Duration::from_secs(1).min(max), max }
    }

    /// The wait before the next attempt; doubles the one after.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }

    /// Back to 1 s.
    pub fn reset(&mut self) {
        self.next = Duration::from_secs(1).min(self.max);
    }
}

/// Everything one recorder job needs.
#[derive(Debug, Clone)]
pub struct RecorderJob {
    /// Server access.
    pub link: Arc<dyn AgentLink>,
    /// The configuration.
    pub assigned: Assigned,
    /// The stream's buffer.
    pub buffer: Arc<Mutex<LocalBuffer>>,
    /// Wakes the uploader.
    pub uploader_wake: Arc<Notify>,
    /// Knobs.
    pub timing: JobTiming,
}

/// Why an RTSP session ended.
enum SessionEnd {
    Stopped,
    WindowClosed,
}

/// A failure with the status it maps to.
#[derive(Debug, Clone)]
struct Failure {
    status: JobStatus,
    details: String,
}

impl Failure {
    fn user(details: impl Into<String>) -> Self {
        Failure { status: JobStatus::UserError, details: details.into() }
    }
    fn system(details: impl Into<String>) -> Self {
        Failure { status: JobStatus::SystemError, details: details.into() }
    }
}

/// Maps a retina error to a status: authentication and missing streams are the user's to fix,
/// everything else (unreachable, reset, timeouts) is a system error. retina never sees the
/// credentials, so its text can be shown.
fn classify(e: &retina::Error, uri: &str) -> Failure {
    let text = e.to_string();
    let target = redact_uri(uri);
    if text.contains("401") {
        Failure::user(format!("The camera at {target} refused the credentials (401 Unauthorized)."))
    } else if text.contains("404") {
        Failure::user(format!("The camera at {target} has no such stream (404 Not Found)."))
    } else {
        Failure::system(format!("Cannot record from {target}: {}", first_line(&text)))
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// The camera URI split for retina: the URL without user info, the credentials, the transport.
fn parse_source(uri: &str) -> Result<(url::Url, Option<Credentials>, Transport), Failure> {
    let mut url = url::Url::parse(uri.trim())
        .map_err(|_| Failure::user("The camera URI in the secret is not a valid URI."))?;
    if url.scheme() != "rtsp" {
        return Err(Failure::user(format!(
            "The camera URI has scheme {:?}; the agent records rtsp:// sources (MediaUriType RTSP_URI).",
            url.scheme()
        )));
    }
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    let creds = (!url.username().is_empty()).then(|| Credentials {
        username: decode(url.username()),
        password: decode(url.password().unwrap_or("")),
    });
    let transport = match url.fragment() {
        Some("udp") | Some("transport=udp") => Transport::Udp(UdpTransportOptions::default()),
        _ => Transport::Tcp(TcpTransportOptions::default()),
    };
    url.set_fragment(None);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Ok((url, creds, transport))
}

fn video_spec(p: &retina::codec::VideoParameters) -> Option<TrackSpec> {
    let codec_id = match p.codec_params() {
        VideoParametersCodec::H264 { .. } => CODEC_H264,
        VideoParametersCodec::H265 { .. } => CODEC_H265,
        _ => return None,
    };
    let (width, height) = p.pixel_dimensions();
    Some(TrackSpec {
        number: 1,
        codec_id,
        codec_private: Bytes::copy_from_slice(p.extra_data()),
        media: TrackMedia::Video { width, height },
    })
}

fn audio_spec(p: &retina::codec::AudioParameters) -> Option<TrackSpec> {
    if !p.rfc6381_codec().is_some_and(|c| c.starts_with("mp4a.40")) {
        return None;
    }
    Some(TrackSpec {
        number: 2,
        codec_id: CODEC_AAC,
        codec_private: Bytes::copy_from_slice(p.extra_data()),
        media: TrackMedia::Audio { sample_rate: p.clock_rate(), channels: p.channels().get() },
    })
}

/// Counters for status texts.
#[derive(Debug, Default)]
struct Counts {
    fragments: u64,
    bytes: u64,
    denied: u64,
    evicted: u64,
    /// RTP packets of the video stream lost in transit.
    lost_packets: u64,
    /// Times video recording skipped to the next key frame because of lost packets.
    losses: u64,
}

struct Recording<'a> {
    job: &'a RecorderJob,
    assembler: Assembler,
    counts: Counts,
    status: &'a StatusTx,
    describe: String,
}

impl Recording<'_> {
    fn store(&mut self, fragment: Option<EdgeFragment>) {
        let Some(f) = fragment else { return };
        let outcome = self.job.buffer.lock().unwrap_or_else(|p| p.into_inner()).append(&f);
        match outcome {
            Ok(Appended::Stored { evicted }) => {
                self.counts.fragments += 1;
                self.counts.bytes += f.cluster_len;
                self.counts.evicted += evicted as u64;
                self.job.uploader_wake.notify_one();
            }
            Ok(Appended::Denied) => self.counts.denied += 1,
            Err(e) => {
                tracing::error!(stream = %self.job.assigned.stream_name, "edge buffer write failed: {e}");
                report(
                    self.status,
                    JobStatus::SystemError,
                    format!("The local buffer cannot be written: {e}"),
                );
            }
        }
    }

    fn success_text(&self) -> String {
        let mut s = format!(
            "Recording {}: {} fragments ({} bytes) recorded",
            self.describe, self.counts.fragments, self.counts.bytes
        );
        if self.counts.denied > 0 {
            s.push_str(&format!(
                "; {} fragments refused because the local buffer is full (DENY_NEW_MEDIA)",
                self.counts.denied
            ));
        }
        if self.counts.evicted > 0 {
            s.push_str(&format!(
                "; {} fragments deleted before upload to make room (DELETE_OLDEST_MEDIA)",
                self.counts.evicted
            ));
        }
        if self.counts.lost_packets > 0 {
            s.push_str(&format!(
                "; {} video RTP packets lost, {} times skipped to the next key frame",
                self.counts.lost_packets, self.counts.losses
            ));
        }
        s.push('.');
        s
    }
}

fn report(status: &StatusTx, s: JobStatus, details: String) {
    let now = now_ms();
    status.send_replace(Some(JobReport { status: s, details, collected_ms: now, updated_ms: now }));
}

/// Sleeps `d` unless `stop` turns true first; returns whether to stop.
async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

/// Runs the job until `stop` turns true. Reports go to `status`.
pub async fn run(job: RecorderJob, status: StatusTx, mut stop: watch::Receiver<bool>) {
    let mut backoff = Backoff::new(job.timing.max_backoff);
    let mut rec = Recording {
        job: &job,
        assembler: Assembler::new(AssemblerPolicy::default(), MUXING_APP),
        counts: Counts::default(),
        status: &status,
        describe: String::new(),
    };
    loop {
        if *stop.borrow() {
            break;
        }
        let window_end = match job.assigned.config.recorder_schedule() {
            None => None,
            Some((cron, duration)) => {
                let now = now_ms() / 1000;
                match cron.open_window_end(now, duration) {
                    Some(end) => Some(end),
                    None => {
                        let next = cron.next_start(now);
                        let text = match next {
                            Some(t) => format!("Waiting for the next recording window at {}.", iso(t)),
                            None => "The recording schedule has no future window.".to_owned(),
                        };
                        report(&status, JobStatus::Success, text);
                        let wait = next.map_or(3600, |t| (t - now).clamp(1, 3600));
                        if sleep_or_stop(Duration::from_secs(wait as u64), &mut stop).await {
                            break;
                        }
                        continue;
                    }
                }
            }
        };
        if job.assigned.config.media_uri_type() == "FILE_URI" {
            report(
                &status,
                JobStatus::UserError,
                "MediaUriType FILE_URI is not supported by the openkvs agent; use RTSP_URI.".to_owned(),
            );
            if sleep_or_stop(job.timing.max_backoff, &mut stop).await {
                break;
            }
            continue;
        }
        let uri = match job.link.secret(job.assigned.config.media_uri_secret_arn()).await {
            Ok(u) => u,
            Err(SecretError::Unusable(why)) => {
                report(&status, JobStatus::UserError, why);
                if sleep_or_stop(backoff.next_delay(), &mut stop).await {
                    break;
                }
                continue;
            }
            Err(SecretError::Unreachable(why)) => {
                report(&status, JobStatus::SystemError, format!("The secret could not be read: {why}"));
                if sleep_or_stop(backoff.next_delay(), &mut stop).await {
                    break;
                }
                continue;
            }
        };
        let started = tokio::time::Instant::now();
        let outcome = session(&mut rec, &uri, window_end, &mut stop).await;
        // Whatever ended the session, the frames of the open fragment are whole: keep them.
        let closed = rec.assembler.break_stream();
        rec.store(closed);
        match outcome {
            Ok(SessionEnd::Stopped) => break,
            Ok(SessionEnd::WindowClosed) => backoff.reset(),
            Err(f) => {
                tracing::warn!(stream = %job.assigned.stream_name, "recorder: {}", f.details);
                report(&status, f.status, f.details);
                if started.elapsed() >= HEALTHY_SESSION {
                    backoff.reset();
                }
                if sleep_or_stop(backoff.next_delay(), &mut stop).await {
                    break;
                }
            }
        }
    }
    let last = rec.assembler.flush();
    rec.store(last);
}

/// Epoch seconds as an ISO 8601 UTC timestamp.
pub fn iso(secs: i64) -> String {
    crate::media::iso8601::utc_millis_clamped(secs.saturating_mul(1000))
}

/// One RTSP session: DESCRIBE, SETUP, PLAY, then frames until it fails, the window closes or the
/// job stops.
async fn session(
    rec: &mut Recording<'_>,
    uri: &str,
    window_end: Option<i64>,
    stop: &mut watch::Receiver<bool>,
) -> Result<SessionEnd, Failure> {
    let (url, creds, transport) = parse_source(uri)?;
    let options = SessionOptions::default().creds(creds).user_agent(MUXING_APP.to_owned());
    let connect_timeout = rec.job.timing.stall_timeout;
    let mut described = tokio::time::timeout(connect_timeout, Session::describe(url, options))
        .await
        .map_err(|_| Failure::system(format!("The camera at {} did not answer DESCRIBE.", redact_uri(uri))))?
        .map_err(|e| classify(&e, uri))?;
    let video = described
        .streams()
        .iter()
        .position(|s| s.media() == "video" && matches!(s.encoding_name(), "h264" | "h265"));
    let audio =
        described.streams().iter().position(|s| s.media() == "audio" && s.encoding_name() == "mpeg4-generic");
    if video.is_none() && audio.is_none() {
        let offered: Vec<String> =
            described.streams().iter().map(|s| format!("{}/{}", s.media(), s.encoding_name())).collect();
        return Err(Failure::user(format!(
            "The camera offers no H.264, H.265 or AAC stream (it offers {}).",
            offered.join(", ")
        )));
    }
    for i in [video, audio].into_iter().flatten() {
        let setup = SetupOptions::default().transport(transport.clone()).frame_format(FrameFormat::MP4);
        tokio::time::timeout(connect_timeout, described.setup(i, setup))
            .await
            .map_err(|_| Failure::system("The camera did not answer SETUP."))?
            .map_err(|e| classify(&e, uri))?;
    }
    let playing = tokio::time::timeout(connect_timeout, described.play(PlayOptions::default()))
        .await
        .map_err(|_| Failure::system("The camera did not answer PLAY."))?
        .map_err(|e| classify(&e, uri))?;
    let clock = WallClockMap::new(now_ms());
    let mut demuxed = Box::pin(playing.demuxed().map_err(|e| classify(&e, uri))?);

    let describe_streams = |d: &retina::client::Demuxed| -> (Option<TrackSpec>, Option<TrackSpec>) {
        let v = video.and_then(|i| match d.streams()[i].parameters() {
            Some(ParametersRef::Video(p)) => video_spec(p),
            _ => None,
        });
        let a = audio.and_then(|i| match d.streams()[i].parameters() {
            Some(ParametersRef::Audio(p)) => audio_spec(p),
            _ => None,
        });
        (v, a)
    };
    let (v, a) = describe_streams(&demuxed);
    let closed = rec.assembler.set_video(v);
    rec.store(closed);
    let closed = rec.assembler.set_audio(a);
    rec.store(closed);
    rec.describe = redact_uri(uri);
    report(
        rec.status,
        JobStatus::Success,
        format!("Connected to {}; waiting for a key frame.", rec.describe),
    );

    let stall = rec.job.timing.stall_timeout;
    let mut last_status = tokio::time::Instant::now();
    let mut first_fragment_reported = false;
    let mut reported_losses = rec.counts.losses;
    let window_timer = async {
        match window_end {
            Some(end) => {
                let wait = (end * 1000 - now_ms()).max(0) as u64;
                tokio::time::sleep(Duration::from_millis(wait)).await
            }
            None => std::future::pending().await,
        }
    };
    tokio::pin!(window_timer);
    loop {
        let item = tokio::select! {
            _ = stop.changed() => return Ok(SessionEnd::Stopped),
            _ = &mut window_timer => return Ok(SessionEnd::WindowClosed),
            item = tokio::time::timeout(stall, demuxed.next()) => item,
        };
        let item = match item {
            Err(_) => {
                return Err(Failure::system(format!(
                    "The camera at {} sent no media for {} s.",
                    rec.describe,
                    stall.as_secs()
                )));
            }
            Ok(None) => {
                return Err(Failure::system(format!("The camera at {} ended the session.", rec.describe)));
            }
            Ok(Some(Err(e))) => return Err(classify(&e, uri)),
            Ok(Some(Ok(item))) => item,
        };
        match item {
            CodecItem::VideoFrame(f) => {
                if f.has_new_parameters() {
                    let (v, _) = describe_streams(&demuxed);
                    let closed = rec.assembler.set_video(v);
                    rec.store(closed);
                }
                if f.loss() > 0 {
                    // retina drops an access unit that lost packets inside it, but one whose first
                    // packets were lost comes out with the rest (a key frame missing slices): this
                    // frame may be damaged, and the next ones may reference what was lost. Close
                    // the open fragment, drop this frame, wait for the next key frame.
                    rec.counts.lost_packets += u64::from(f.loss());
                    rec.counts.losses += 1;
                    let closed = rec.assembler.break_stream();
                    rec.store(closed);
                } else {
                    let ts = f.timestamp();
                    let key = f.is_random_access_point()
                        || (rec.assembler.video_is_h265() && h265_is_irap(f.data()));
                    let sample = Sample {
                        track: Track::Video,
                        time_ms: clock.wall_ms(ts.elapsed(), ts.clock_rate().get()),
                        key,
                        data: Bytes::from(f.into_data()),
                    };
                    let done = rec.assembler.push(sample);
                    rec.store(done);
                }
            }
            CodecItem::AudioFrame(f) => {
                let ts = f.timestamp();
                let sample = Sample {
                    track: Track::Audio,
                    time_ms: clock.wall_ms(ts.elapsed(), ts.clock_rate().get()),
                    key: true,
                    data: Bytes::copy_from_slice(f.data()),
                };
                let done = rec.assembler.push(sample);
                rec.store(done);
            }
            _ => {}
        }
        if (rec.counts.fragments > 0 && !first_fragment_reported)
            || last_status.elapsed() >= Duration::from_secs(15)
            || (rec.counts.losses != reported_losses && last_status.elapsed() >= Duration::from_secs(1))
        {
            first_fragment_reported |= rec.counts.fragments > 0;
            reported_losses = rec.counts.losses;
            last_status = tokio::time::Instant::now();
            report(rec.status, JobStatus::Success, rec.success_text());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_split_for_retina() {
        let (url, creds, transport) =
            parse_source("rtsp://cam%40home:p%3Ass@127.0.0.1:8554/live#udp").unwrap();
        assert_eq!(url.as_str(), "rtsp://127.0.0.1:8554/live");
        let creds = creds.unwrap();
        assert_eq!((creds.username.as_str(), creds.password.as_str()), ("cam@home", "p:ss"));
        assert!(matches!(transport, Transport::Udp(_)));
        let (_, creds, transport) = parse_source("rtsp://127.0.0.1/x").unwrap();
        assert!(creds.is_none() && matches!(transport, Transport::Tcp(_)));
        assert_eq!(parse_source("http://x/y").unwrap_err().status, JobStatus::UserError);
        assert_eq!(parse_source("::").unwrap_err().status, JobStatus::UserError);
    }

    #[test]
    fn backoff_doubles_to_its_bound() {
        let mut b = Backoff::new(Duration::from_secs(5));
        let d: Vec<u64> = (0..5).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(d, vec![1, 2, 4, 5, 5]);
        b.reset();
        assert_eq!(b.next_delay().as_secs(), 1);
    }
}
