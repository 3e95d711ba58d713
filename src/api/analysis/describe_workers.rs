//! `POST /openkvs/describeWorkers`: every analysis worker with its state (RUNNING / PAUSED),
//! counters, per stream it has a cursor on how far behind the newest fragment it is (streams outside
//! the caller's key policy are left out), and, for workers that deliver outside openkvs (the
//! thumbnails worker's S3 uploads), per destination what is pending, delivered, retried, given up
//! and dropped, with the last error.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, AwsErrorCode, Call, EpochSeconds, OperationInput, Valid};
use crate::workers::{DeliveryStatus, StreamLag, WorkerStatus};

/// `DescribeWorkers` input (optionally one worker).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DescribeWorkersInput {
    worker_name: Option<String>,
}

impl OperationInput for DescribeWorkersInput {
    type Valid = Option<String>;

    fn validate(self) -> Result<Option<String>, AwsError> {
        Ok(self.worker_name)
    }
}

/// `DescribeWorkers` output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeWorkersOutput {
    workers: Vec<Worker>,
}

/// One worker.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Worker {
    worker_name: String,
    status: &'static str,
    stream_name_patterns: Vec<String>,
    fragments_processed: u64,
    fragments_failed: u64,
    panics: u64,
    events_recorded: u64,
    queue_overflows: u64,
    streams: Vec<WorkerStream>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deliveries: Option<Vec<Delivery>>,
}

/// How a worker's deliveries to one destination fare.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Delivery {
    destination: String,
    pending: u64,
    delivered: u64,
    retries: u64,
    failed: u64,
    dropped: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error_timestamp: Option<EpochSeconds>,
}

impl From<DeliveryStatus> for Delivery {
    fn from(d: DeliveryStatus) -> Self {
        Self {
            destination: d.destination,
            pending: d.pending,
            delivered: d.delivered,
            retries: d.retries,
            failed: d.failed,
            dropped: d.dropped,
            last_error: d.last_error,
            last_error_timestamp: d.last_error_at_ms.map(EpochSeconds),
        }
    }
}

/// How far a worker is behind in one stream.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct WorkerStream {
    stream_name: String,
    last_fragment_number: String,
    cursor_updated_timestamp: EpochSeconds,
    fragments_behind: u64,
    millis_behind: i64,
}

impl Worker {
    fn from_status(s: WorkerStatus, streams: Vec<WorkerStream>) -> Self {
        Self {
            worker_name: s.name,
            status: if s.running { "RUNNING" } else { "PAUSED" },
            stream_name_patterns: s.streams,
            fragments_processed: s.processed,
            fragments_failed: s.failed,
            panics: s.panics,
            events_recorded: s.events,
            queue_overflows: s.overflows,
            streams,
            deliveries: s.deliveries.map(|list| list.into_iter().map(Delivery::from).collect()),
        }
    }
}

impl From<StreamLag> for WorkerStream {
    fn from(l: StreamLag) -> Self {
        Self {
            stream_name: l.stream_name,
            last_fragment_number: l.cursor,
            cursor_updated_timestamp: EpochSeconds(l.updated_at_ms),
            fragments_behind: l.fragments_behind,
            millis_behind: l.ms_behind,
        }
    }
}

/// Describes workers.
pub async fn handle(
    call: Call,
    Valid(worker_name): Valid<DescribeWorkersInput>,
) -> Result<DescribeWorkersOutput, AwsError> {
    let statuses = call.state.workers.status().await?;
    if let Some(name) = &worker_name
        && !statuses.iter().any(|s| &s.name == name)
    {
        return Err(AwsError::new(
            AwsErrorCode::ResourceNotFoundException,
            format!("No worker named {name}."),
        ));
    }
    let policy = &call.caller.policy;
    let workers = statuses
        .into_iter()
        .filter(|s| worker_name.as_ref().is_none_or(|n| *n == s.name))
        .map(|mut s| {
            let lag = std::mem::take(&mut s.lag);
            let streams = lag
                .into_iter()
                .filter(|l| policy.allows_stream(&l.stream_name))
                .map(WorkerStream::from)
                .collect();
            Worker::from_status(s, streams)
        })
        .collect();
    Ok(DescribeWorkersOutput { workers })
}
