//! `POST /openkvs/resumeWorker` with `{"WorkerName": …}`: restarts a paused worker; it first
//! catches up every stream from its cursors. Resuming a running worker changes nothing. An
//! unknown name is `ResourceNotFoundException`.

use super::pause_worker::{WorkerNameInput, WorkerStateOutput, unknown_worker};
use crate::api::aws::{AwsError, Call, Valid};

/// Resumes a worker.
pub async fn handle(call: Call, Valid(name): Valid<WorkerNameInput>) -> Result<WorkerStateOutput, AwsError> {
    call.state.workers.resume(&name).map_err(unknown_worker)?;
    Ok(WorkerStateOutput {})
}
