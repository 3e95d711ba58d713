//! The agent supervisor: one per process (`openkvs serve` or `openkvs edge`). Every poll interval
//! it asks its [`AgentLink`] for the configurations of its hub devices and reconciles:
//!
//! - a new configuration (or a changed one: the old jobs stop first) → ACKNOWLEDGED, open the
//!   stream's buffer, start a recorder job and an uploader job and a monitor;
//! - the monitor forwards the jobs' statuses (LastRecorderStatus / LastUploaderStatus) and moves
//!   the sync status: IN_SYNC once the recorder reports success, SYNC_FAILED with the recorder's
//!   words as FailedStatusDetails while it cannot record (the camera unreachable, a wrong password,
//!   a missing secret), back to IN_SYNC when it recovers;
//! - a configuration in DELETING → DELETING_ACKNOWLEDGED, stop its jobs, delete its buffer, tell
//!   the server it is gone (DELETE_FAILED if the buffer cannot be deleted);
//! - a configuration that disappeared (its stream was deleted) → stop its jobs, keep nothing.
//!
//! Jobs of different streams share nothing but the process: a camera that hangs or fails only
//! delays its own tasks. Stopping waits for each job to flush its open fragment to the buffer.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::buffer::LocalBuffer;
use super::link::{AgentLink, Assigned};
use super::recorder::{self, JobTiming, RecorderJob};
use super::uploader::{self, UploaderJob};
use crate::model::{JobReport, JobStatus, SyncStatus};

/// How often the monitor refreshes an unchanged status (LastCollectedTime stays fresh).
const STATUS_REFRESH: Duration = Duration::from_secs(30);

/// Agent settings.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// Root of the per-stream buffers.
    pub buffer_dir: PathBuf,
    /// Configuration poll interval.
    pub poll_interval: Duration,
    /// Job timing.
    pub timing: JobTiming,
}

struct Job {
    assigned: Assigned,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// The monitor's copy of the configuration identity (updated on every poll).
    current: watch::Sender<Assigned>,
}

/// The supervisor. See the module documentation.
#[derive(Debug)]
pub struct Agent {
    link: Arc<dyn AgentLink>,
    options: AgentOptions,
}

/// A directory name for a stream ARN (`arn:aws:kinesisvideo:r:a:stream/NAME/123` → `NAME-123`,
/// plus a hash of the whole ARN so two regions never share a buffer).
pub fn buffer_dir_name(stream_arn: &str) -> String {
    use sha2::Digest;
    let tail = stream_arn.rsplit_once("stream/").map_or(stream_arn, |(_, t)| t);
    let safe: String =
        tail.chars().map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '-' }).collect();
    let digest = sha2::Sha256::digest(stream_arn.as_bytes());
    format!("{safe}-{}", hex::encode(&digest[..4]))
}

impl Agent {
    /// An agent over `link`.
    pub fn new(link: Arc<dyn AgentLink>, options: AgentOptions) -> Self {
        Agent { link, options }
    }

    /// Runs until `stop` turns true, then stops every job.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut jobs: HashMap<String, Job> = HashMap::new();
        let mut last_error: Option<String> = None;
        loop {
            match self.link.assigned().await {
                Ok(assigned) => {
                    if last_error.take().is_some() {
                        tracing::info!("edge agent: the server answers again");
                    }
                    self.reconcile(&mut jobs, assigned).await;
                }
                Err(e) => {
                    if last_error.as_deref() != Some(e.as_str()) {
                        tracing::warn!("edge agent: cannot list configurations: {e}");
                    }
                    last_error = Some(e);
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.options.poll_interval) => {}
                _ = stop.changed() => break,
            }
            if *stop.borrow() {
                break;
            }
        }
        for (_, job) in jobs.drain() {
            stop_job(job).await;
        }
    }

    async fn reconcile(&self, jobs: &mut HashMap<String, Job>, assigned: Vec<Assigned>) {
        let mut seen = std::collections::HashSet::new();
        for a in assigned {
            seen.insert(a.stream_arn.clone());
            if a.sync_status.is_deleting() {
                if let Some(job) = jobs.remove(&a.stream_arn) {
                    stop_job(job).await;
                }
                if a.sync_status != SyncStatus::DeleteFailed {
                    self.delete(&a).await;
                }
                continue;
            }
            match jobs.get(&a.stream_arn) {
                Some(job) if job.assigned.config == a.config => {
                    let job = jobs.get_mut(&a.stream_arn).expect("present");
                    job.assigned = a.clone();
                    job.current.send_replace(a);
                }
                Some(_) => {
                    let old = jobs.remove(&a.stream_arn).expect("present");
                    stop_job(old).await;
                    self.start(jobs, a).await;
                }
                None => self.start(jobs, a).await,
            }
        }
        let gone: Vec<String> = jobs.keys().filter(|k| !seen.contains(*k)).cloned().collect();
        for arn in gone {
            if let Some(job) = jobs.remove(&arn) {
                tracing::info!(stream = %job.assigned.stream_name, "edge agent: configuration gone; stopping");
                stop_job(job).await;
            }
        }
    }

    async fn delete(&self, a: &Assigned) {
        let _ = self.link.report_sync(a, SyncStatus::DeletingAcknowledged, None).await;
        let dir = self.options.buffer_dir.join(buffer_dir_name(&a.stream_arn));
        let removed = match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
        match removed {
            Ok(()) => {
                if let Err(e) = self.link.deleted(a).await {
                    tracing::warn!(stream = %a.stream_name, "edge agent: cannot confirm the deletion: {e}");
                }
            }
            Err(e) => {
                let _ = self
                    .link
                    .report_sync(
                        a,
                        SyncStatus::DeleteFailed,
                        Some(&format!("The local media could not be deleted: {e}")),
                    )
                    .await;
            }
        }
    }

    async fn start(&self, jobs: &mut HashMap<String, Job>, a: Assigned) {
        let _ = self.link.report_sync(&a, SyncStatus::Acknowledged, None).await;
        let dir = self.options.buffer_dir.join(buffer_dir_name(&a.stream_arn));
        let buffer =
            match LocalBuffer::open(&dir, a.config.max_local_bytes(), a.config.full_buffer_strategy()) {
                Ok(b) => Arc::new(Mutex::new(b)),
                Err(e) => {
                    let why = format!("The local buffer {} cannot be opened: {e}", dir.display());
                    let _ = self.link.report_sync(&a, SyncStatus::SyncFailed, Some(&why)).await;
                    return;
                }
            };
        tracing::info!(stream = %a.stream_name, hub = %a.config.hub(), "edge agent: starting recorder and uploader");
        let (stop_tx, stop_rx) = watch::channel(false);
        let (rec_tx, rec_rx) = watch::channel::<Option<JobReport>>(None);
        let (up_tx, up_rx) = watch::channel::<Option<JobReport>>(None);
        let (current_tx, current_rx) = watch::channel(a.clone());
        let wake = Arc::new(Notify::new());
        let recorder_job = RecorderJob {
            link: self.link.clone(),
            assigned: a.clone(),
            buffer: buffer.clone(),
            uploader_wake: wake.clone(),
            timing: self.options.timing,
        };
        let uploader_job = UploaderJob {
            link: self.link.clone(),
            assigned: a.clone(),
            buffer,
            wake,
            timing: self.options.timing,
        };
        let tasks = vec![
            tokio::spawn(recorder::run(recorder_job, rec_tx, stop_rx.clone())),
            tokio::spawn(uploader::run(uploader_job, up_tx, stop_rx.clone())),
            tokio::spawn(monitor(self.link.clone(), current_rx, rec_rx, up_rx, stop_rx)),
        ];
        jobs.insert(a.stream_arn.clone(), Job { assigned: a, stop: stop_tx, tasks, current: current_tx });
    }
}

async fn stop_job(job: Job) {
    let _ = job.stop.send(true);
    for t in job.tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
    }
}

/// Forwards job statuses to the server and moves the sync status (see the module documentation).
async fn monitor(
    link: Arc<dyn AgentLink>,
    current: watch::Receiver<Assigned>,
    mut recorder: watch::Receiver<Option<JobReport>>,
    mut uploader: watch::Receiver<Option<JobReport>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut sent_sync: Option<(SyncStatus, Option<String>)> = None;
    let mut refresh = tokio::time::interval(STATUS_REFRESH);
    loop {
        let rec = recorder.borrow_and_update().clone();
        let up = uploader.borrow_and_update().clone();
        let a = current.borrow().clone();
        if (rec.is_some() || up.is_some())
            && let Err(e) = link.report_jobs(&a, rec.as_ref(), up.as_ref()).await
        {
            tracing::debug!("edge agent: status report failed: {e}");
        }
        if let Some(r) = &rec {
            let want = match r.status {
                JobStatus::Success => (SyncStatus::InSync, None),
                _ => (SyncStatus::SyncFailed, Some(r.details.clone())),
            };
            // The server's view may have been reset (a restart, a new generation): resend then too.
            let server_differs = a.sync_status != want.0;
            if (sent_sync.as_ref() != Some(&want) || server_differs)
                && link.report_sync(&a, want.0, want.1.as_deref()).await.is_ok()
            {
                sent_sync = Some(want);
            }
        }
        tokio::select! {
            r = recorder.changed() => if r.is_err() { return; },
            r = uploader.changed() => if r.is_err() { return; },
            _ = refresh.tick() => {}
            _ = stop.changed() => return,
        }
        // Coalesce bursts of status changes.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_dirs_are_distinct_and_safe() {
        let a = buffer_dir_name("arn:aws:kinesisvideo:us-east-1:1:stream/cam.1/1700000000000");
        let b = buffer_dir_name("arn:aws:kinesisvideo:eu-west-1:1:stream/cam.1/1700000000000");
        assert!(a.starts_with("cam.1-1700000000000-"));
        assert_ne!(a, b);
        assert!(!buffer_dir_name("../../x").contains('/'));
    }
}
