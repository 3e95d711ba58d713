//! `POST /openkvs/pauseWorker` with `{"WorkerName": …}`: stops a worker between fragments (waiting
//! until it has stopped). Fragments persisted meanwhile are analysed when it is resumed: its
//! cursors stay in the index. An unknown name is `ResourceNotFoundException`. Also owns the
//! `WorkerName` input shape ResumeWorker shares.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, AwsErrorCode, Call, OperationInput, Valid};
use crate::model::required;

/// `PauseWorker` / `ResumeWorker` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct WorkerNameInput {
    worker_name: Option<String>,
}

impl OperationInput for WorkerNameInput {
    type Valid = String;

    fn validate(self) -> Result<String, AwsError> {
        Ok(required(self.worker_name, "workerName")?)
    }
}

/// `PauseWorker` / `ResumeWorker` output (no members).
#[derive(Debug, Serialize)]
pub struct WorkerStateOutput {}

/// The error for a worker name no worker has.
pub fn unknown_worker(e: impl std::fmt::Display) -> AwsError {
    AwsError::new(AwsErrorCode::ResourceNotFoundException, format!("{e}."))
}

/// Pauses a worker.
pub async fn handle(call: Call, Valid(name): Valid<WorkerNameInput>) -> Result<WorkerStateOutput, AwsError> {
    call.state.workers.pause(&name).await.map_err(unknown_worker)?;
    Ok(WorkerStateOutput {})
}
