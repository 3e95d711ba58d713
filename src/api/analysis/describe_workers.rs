//! `POST /openkvs/describeWorkers`: every analysis worker with its state (RUNNING / PAUSED),
//! counters and, per stream it has a cursor on, how far behind the newest fragment it is. Streams
//! outside the caller's key policy are left out.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation, epoch_seconds};
use crate::auth::Caller;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::DescribeWorkers;

/// `DescribeWorkers` input (optionally one worker).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Input {
    worker_name: Option<String>,
}

/// Describes workers.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    let statuses = state.workers.status().await?;
    if let Some(name) = &input.worker_name
        && !statuses.iter().any(|s| &s.name == name)
    {
        return Err(AwsError::new(
            AwsErrorCode::ResourceNotFoundException,
            format!("No worker named {name}."),
        ));
    }
    let workers: Vec<Value> = statuses
        .into_iter()
        .filter(|s| input.worker_name.as_ref().is_none_or(|n| *n == s.name))
        .map(|s| {
            let lag: Vec<Value> = s
                .lag
                .iter()
                .filter(|l| caller.policy.allows_stream(&l.stream_name))
                .map(|l| {
                    json!({
                        "StreamName": l.stream_name,
                        "LastFragmentNumber": l.cursor,
                        "CursorUpdatedTimestamp": epoch_seconds(l.updated_at_ms),
                        "FragmentsBehind": l.fragments_behind,
                        "MillisBehind": l.ms_behind,
                    })
                })
                .collect();
            json!({
                "WorkerName": s.name,
                "Status": if s.running { "RUNNING" } else { "PAUSED" },
                "StreamNamePatterns": s.streams,
                "FragmentsProcessed": s.processed,
                "FragmentsFailed": s.failed,
                "Panics": s.panics,
                "EventsRecorded": s.events,
                "QueueOverflows": s.overflows,
                "Streams": lag,
            })
        })
        .collect();
    Ok(Json(json!({ "Workers": workers })))
}
