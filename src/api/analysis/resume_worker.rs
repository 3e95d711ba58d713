//! `POST /openkvs/resumeWorker` with `{"WorkerName": …}`: Restarts a paused worker; it first catches up every stream from its cursors. Resuming a running worker changes nothing. An unknown name is
//! `ResourceNotFoundException`.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation, required};

/// The operation this file serves.
pub const OPERATION: Operation = Operation::ResumeWorker;

/// `ResumeWorker` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Input {
    worker_name: Option<String>,
}

/// Resumes a worker.
pub async fn handle(
    State(state): State<AppState>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    let name = required(input.worker_name, "workerName")?;
    state
        .workers
        .resume(&name)
        .map_err(|e| AwsError::new(AwsErrorCode::ResourceNotFoundException, format!("{e}.")))?;
    Ok(Json(json!({})))
}
