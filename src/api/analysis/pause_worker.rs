//! `POST /openkvs/pauseWorker` with `{"WorkerName": …}`: Stops a worker between fragments (waiting until it has stopped). Fragments persisted meanwhile are analysed when it is resumed: its cursors stay in the index. An unknown name is
//! `ResourceNotFoundException`.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation, required};

/// The operation this file serves.
pub const OPERATION: Operation = Operation::PauseWorker;

/// `PauseWorker` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Input {
    worker_name: Option<String>,
}

/// Pauses a worker.
pub async fn handle(
    State(state): State<AppState>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    let name = required(input.worker_name, "workerName")?;
    state
        .workers
        .pause(&name)
        .await
        .map_err(|e| AwsError::new(AwsErrorCode::ResourceNotFoundException, format!("{e}.")))?;
    Ok(Json(json!({})))
}
