//! The uploader job of one stream: PutMedia sessions that drain the local buffer.
//!
//! Without an `UploaderConfig` it uploads live: a session stays open and each fragment goes up as
//! soon as the recorder stores it. With one, it uploads only while a window of its
//! `ScheduleConfig` is open (the window's end closes the session after the fragment in flight),
//! oldest fragment first, so media recorded while the window was closed goes up when it opens.
//!
//! A session is one PutMedia request of the producer client (`crate::producer::session`): the
//! stream header, then every fragment as one Cluster closed by the end-of-fragment tag, with
//! ABSOLUTE timecodes (wall-clock ms). A header is sent again whenever a fragment's differs from
//! the last one sent. A fragment leaves the buffer (or is marked uploaded, with
//! `DeleteAfterUpload` false) when its PERSISTED ACK arrives; one the server refused with an
//! ERROR ACK is dropped (it would be refused again). If the connection fails, what was not
//! acknowledged is sent again by the next session after a backoff. Sessions are renewed every
//! [`SESSION_ROTATION`] so their bookkeeping stays small.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::{Notify, mpsc, watch};

use super::buffer::LocalBuffer;
use super::link::{AgentLink, Assigned};
use super::now_ms;
use super::recorder::{Backoff, JobTiming, StatusTx, iso};
use crate::media::fragment::TimecodeType;
use crate::media::mkv::rewrite::end_of_fragment_tags;
use crate::model::{JobReport, JobStatus};
use crate::producer::body::{BodyError, BodyPiece, ClusterMark};
use crate::producer::session::{FinalAck, SessionOptions, Target, Tracker, put_media};

/// How long one PutMedia session lasts before the next one takes over.
pub const SESSION_ROTATION: Duration = Duration::from_secs(600);

/// How many recent fragments the frame → PERSISTED percentiles cover.
const LATENCY_WINDOW: usize = 200;

/// `; frame → PERSISTED p50 X ms, p99 Y ms (last N fragments)` over recent fragments: from the
/// capture of a fragment's last frame (wall clock) to its PERSISTED ACK.
fn latency_text(latencies: &std::collections::VecDeque<u64>) -> String {
    if latencies.is_empty() {
        return String::new();
    }
    let mut v: Vec<u64> = latencies.iter().copied().collect();
    v.sort_unstable();
    let pick = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    format!("; frame → PERSISTED p50 {} ms, p99 {} ms (last {} fragments)", pick(0.5), pick(0.99), v.len())
}

/// Everything one uploader job needs.
#[derive(Debug, Clone)]
pub struct UploaderJob {
    /// Server access.
    pub link: Arc<dyn AgentLink>,
    /// The configuration.
    pub assigned: Assigned,
    /// The stream's buffer.
    pub buffer: Arc<Mutex<LocalBuffer>>,
    /// Woken by the recorder for every stored fragment.
    pub wake: Arc<Notify>,
    /// Knobs.
    pub timing: JobTiming,
}

fn report(status: &StatusTx, s: JobStatus, details: String) {
    let now = now_ms();
    status.send_replace(Some(JobReport { status: s, details, collected_ms: now, updated_ms: now }));
}

/// Totals for status texts.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    fragments: u64,
    rejected: u64,
}

impl UploaderJob {
    fn buffered(&self) -> (usize, u64) {
        let b = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        (b.pending(None, usize::MAX).len(), b.total_bytes())
    }

    fn pending_any(&self) -> bool {
        !self.buffer.lock().unwrap_or_else(|p| p.into_inner()).pending(None, 1).is_empty()
    }
}

/// Runs the job until `stop` turns true.
pub async fn run(job: UploaderJob, status: StatusTx, mut stop: watch::Receiver<bool>) {
    let mut backoff = Backoff::new(job.timing.max_backoff);
    let mut totals = Totals::default();
    let retention = job.assigned.config.edge_retention_hours();
    loop {
        if *stop.borrow() {
            return;
        }
        if let Some(hours) = retention {
            let cutoff = u64::try_from(now_ms() - hours * 3_600_000).unwrap_or(0);
            let lost = job.buffer.lock().unwrap_or_else(|p| p.into_inner()).expire(cutoff);
            if let Ok(n) = lost
                && n > 0
            {
                tracing::warn!(stream = %job.assigned.stream_name, "{n} fragments passed EdgeRetentionInHours before upload");
            }
        }
        let window_end = match job.assigned.config.uploader_schedule() {
            None => None,
            Some((cron, duration)) => {
                let now = now_ms() / 1000;
                match cron.open_window_end(now, duration) {
                    Some(end) => Some(end),
                    None => {
                        let next = cron.next_start(now);
                        let (n, bytes) = job.buffered();
                        let when = next.map_or_else(|| "never (no future window)".to_owned(), iso);
                        report(
                            &status,
                            JobStatus::Success,
                            format!(
                                "Waiting for the next upload window at {when}; {n} fragments ({bytes} bytes) buffered."
                            ),
                        );
                        let wait = next.map_or(60, |t| (t - now).clamp(1, 60));
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs(wait as u64)) => {}
                            _ = stop.changed() => return,
                        }
                        continue;
                    }
                }
            }
        };
        if !job.pending_any() {
            tokio::select! {
                _ = job.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = stop.changed() => return,
            }
            continue;
        }
        let target = match job.link.upload_target(&job.assigned).await {
            Ok(t) => t,
            Err(e) => {
                report(&status, JobStatus::SystemError, format!("Cannot resolve the upload endpoint: {e}"));
                tokio::select! {
                    _ = tokio::time::sleep(backoff.next_delay()) => {}
                    _ = stop.changed() => return,
                }
                continue;
            }
        };
        match session(&job, &target, window_end, &mut totals, &status, stop.clone()).await {
            Ok(()) => backoff.reset(),
            Err(e) => {
                tracing::warn!(stream = %job.assigned.stream_name, "uploader: {e}");
                let (n, bytes) = job.buffered();
                report(
                    &status,
                    JobStatus::SystemError,
                    format!(
                        "Upload to {} failed: {e}; {n} fragments ({bytes} bytes) buffered.",
                        target.data_endpoint
                    ),
                );
                tokio::select! {
                    _ = tokio::time::sleep(backoff.next_delay()) => {}
                    _ = stop.changed() => return,
                }
            }
        }
    }
}

/// The pieces of one session, read from the buffer as the recorder fills it.
fn pieces(
    job: UploaderJob,
    window_end: Option<i64>,
    mut stop: watch::Receiver<bool>,
) -> impl Stream<Item = Result<BodyPiece, BodyError>> + Send + Unpin + 'static {
    let (tx, rx) = mpsc::channel::<Result<BodyPiece, BodyError>>(2);
    tokio::spawn(async move {
        let started = tokio::time::Instant::now();
        let mut last_header: Option<Bytes> = None;
        let mut after: Option<u64> = None;
        loop {
            if *stop.borrow() || started.elapsed() >= SESSION_ROTATION {
                return;
            }
            if window_end.is_some_and(|end| now_ms() / 1000 >= end) {
                return;
            }
            let batch = job.buffer.lock().unwrap_or_else(|p| p.into_inner()).pending(after, 16);
            if batch.is_empty() {
                tokio::select! {
                    _ = job.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => return,
                }
                continue;
            }
            for tc in batch {
                after = Some(tc);
                let read = job.buffer.lock().unwrap_or_else(|p| p.into_inner()).read(tc);
                let (header, cluster) = match read {
                    Ok(Some(parts)) => parts,
                    Ok(None) => continue,
                    Err(e) => {
                        let _ = tx.send(Err(BodyError::Io(e))).await;
                        return;
                    }
                };
                if last_header.as_ref() != Some(&header) {
                    let piece = BodyPiece {
                        chunks: vec![header.clone()],
                        cluster: None,
                        chunk_offsets_ms: Vec::new(),
                        end_of_fragment: false,
                    };
                    if tx.send(Ok(piece)).await.is_err() {
                        return;
                    }
                    last_header = Some(header);
                }
                let len = cluster.len() as u64;
                let piece = BodyPiece {
                    chunks: vec![cluster, end_of_fragment_tags()],
                    cluster: Some(ClusterMark {
                        timecode: tc,
                        offset_ms: 0,
                        len,
                        video_starts_on_key_frame: true,
                        blocks_dropped: 0,
                    }),
                    chunk_offsets_ms: vec![0, 0],
                    end_of_fragment: true,
                };
                if tx.send(Ok(piece)).await.is_err() {
                    return;
                }
            }
        }
    });
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }))
}

/// One PutMedia session; fragments are released from the buffer as their PERSISTED ACKs arrive.
async fn session(
    job: &UploaderJob,
    target: &super::link::UploadTarget,
    window_end: Option<i64>,
    totals: &mut Totals,
    status: &StatusTx,
    stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let tracker = Tracker::new();
    let delete = job.assigned.config.delete_after_upload();
    // Release acknowledged fragments while the session runs.
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel::<()>();
    let marker = {
        let tracker = tracker.clone();
        let buffer = job.buffer.clone();
        let status = status.clone();
        let base = *totals;
        let stream = job.assigned.stream_name.clone();
        tokio::spawn(async move {
            let mut changed = tracker.subscribe();
            let mut released = std::collections::HashSet::new();
            let mut done_total = base;
            let mut last_report = tokio::time::Instant::now() - Duration::from_secs(60);
            let mut latencies = std::collections::VecDeque::new();
            loop {
                let (done, failed) = tracker.outcomes(false);
                let mut fresh = 0;
                {
                    let mut b = buffer.lock().unwrap_or_else(|p| p.into_inner());
                    let now = u64::try_from(now_ms()).unwrap_or(0);
                    for tc in done.iter().chain(failed.iter()) {
                        if released.insert(*tc) {
                            if !failed.contains(tc)
                                && let Some(d) = b.duration_ms(*tc)
                            {
                                // The fragment's last frame was captured at tc + d.
                                latencies.push_back(now.saturating_sub(tc + d));
                                if latencies.len() > LATENCY_WINDOW {
                                    latencies.pop_front();
                                }
                            }
                            let _ = b.mark_uploaded(*tc, delete || failed.contains(tc));
                            fresh += 1;
                        }
                    }
                }
                done_total.fragments = base.fragments + done.len() as u64;
                done_total.rejected = base.rejected + failed.len() as u64;
                if fresh > 0 && last_report.elapsed() >= Duration::from_secs(5) {
                    last_report = tokio::time::Instant::now();
                    let mut text = format!("Uploaded {} fragments to {stream}", done_total.fragments);
                    if done_total.rejected > 0 {
                        text.push_str(&format!("; {} refused by the server", done_total.rejected));
                    }
                    text.push_str(&latency_text(&latencies));
                    text.push('.');
                    report(&status, JobStatus::Success, text);
                }
                tokio::select! {
                    r = changed.changed() => if r.is_err() { return done_total; },
                    _ = &mut done_rx => return done_total,
                }
            }
        })
    };
    let options = SessionOptions {
        timecode_type: TimecodeType::Absolute,
        producer_start_ms: u64::try_from(now_ms()).unwrap_or(0),
        final_ack: FinalAck::Persisted,
        user_agent: super::recorder::MUXING_APP.to_owned(),
        ..SessionOptions::default()
    };
    let put_target = Target {
        data_endpoint: target.data_endpoint.clone(),
        stream_name: job.assigned.stream_name.clone(),
        region: target.region.clone(),
        credentials: target.credentials.clone(),
    };
    let result =
        put_media(&put_target, &options, pieces(job.clone(), window_end, stop), tracker.clone()).await;
    let final_outcomes = tracker.outcomes(false);
    let _ = done_tx.send(());
    let marked = marker.await.unwrap_or(*totals);
    {
        let mut b = job.buffer.lock().unwrap_or_else(|p| p.into_inner());
        for tc in &final_outcomes.0 {
            let _ = b.mark_uploaded(*tc, delete);
        }
        for tc in &final_outcomes.1 {
            let _ = b.mark_uploaded(*tc, true);
        }
    }
    totals.fragments = marked.fragments.max(totals.fragments + final_outcomes.0.len() as u64);
    totals.rejected = marked.rejected.max(totals.rejected + final_outcomes.1.len() as u64);
    let report_ok = match result {
        Ok(r) => r,
        Err(e) => return Err(e.to_string()),
    };
    if let Some(f) = &report_ok.failure {
        return Err(f.clone());
    }
    let (n, bytes) = job.buffered();
    let mut text = format!("Uploaded {} fragments to {}", totals.fragments, job.assigned.stream_name);
    if totals.rejected > 0 {
        text.push_str(&format!("; {} refused by the server", totals.rejected));
    }
    text.push_str(&format!("; {n} fragments ({bytes} bytes) buffered."));
    report(status, JobStatus::Success, text);
    Ok(())
}
