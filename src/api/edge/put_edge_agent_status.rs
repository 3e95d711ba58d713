//! `POST /openkvs/putEdgeAgentStatus` (openkvs's own): an `openkvs edge` agent reports the sync
//! status, the last recorder/uploader status of a configuration it runs, or that it finished
//! deleting one. AWS's Edge Agent sends the same facts through AWS IoT; openkvs has no IoT, so the
//! agent signs this call with its key like every other.
//!
//! The report names the `EdgeConfig` it is about; a report about another configuration than the
//! stored one (the operator updated it meanwhile) or from another hub device is dropped and
//! answered `{"Applied": false}`. An agent may move the status only along the model's path:
//! ACKNOWLEDGED, IN_SYNC or SYNC_FAILED for a live configuration, DELETING_ACKNOWLEDGED or
//! DELETE_FAILED (or `DeletionComplete`) for one being deleted.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Serialize;

use super::no_edge_configuration;
use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation, required};
use crate::api::streams::{StreamRef, resolve};
use crate::auth::Caller;
use crate::edge::link::AgentStatusReport;
use crate::model::SyncStatus;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::PutEdgeAgentStatus;

/// The output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    /// Whether the report was about the stored configuration (and so was applied).
    applied: bool,
}

/// Applies the report.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<AgentStatusReport>,
) -> Result<Json<Output>, AwsError> {
    let arn = required(input.stream_arn.as_deref(), "streamARN")?;
    let hub = required(input.hub_device_arn.as_deref(), "hubDeviceArn")?;
    let config = required(input.edge_config.as_ref(), "edgeConfig")?;
    let stream_ref = StreamRef::from_pair(None, Some(arn), AwsErrorCode::InvalidArgumentException)?;
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    let record = state.edge.edge_config(stream.id).await?.ok_or_else(no_edge_configuration)?;
    if record.config.hub() != hub || &record.config != config {
        return Ok(Json(Output { applied: false }));
    }
    let now = state.clock.now_millis();
    let deleting = record.sync_status.is_deleting();
    if input.deletion_complete == Some(true) {
        if !deleting {
            return Ok(Json(Output { applied: false }));
        }
        let removed = state.edge.remove_edge_config(stream.id, record.generation).await?;
        return Ok(Json(Output { applied: removed }));
    }
    if let Some(s) = input.sync_status.as_deref() {
        let status = SyncStatus::parse(s).ok_or_else(|| {
            AwsError::invalid_argument(format!(
                "1 validation error detected: Value '{s}' at 'syncStatus' failed to satisfy constraint: Member must satisfy enum value set: [SYNCING, ACKNOWLEDGED, IN_SYNC, SYNC_FAILED, DELETING, DELETE_FAILED, DELETING_ACKNOWLEDGED]"
            ))
        })?;
        let allowed = if deleting {
            matches!(status, SyncStatus::DeletingAcknowledged | SyncStatus::DeleteFailed)
        } else {
            matches!(status, SyncStatus::Acknowledged | SyncStatus::InSync | SyncStatus::SyncFailed)
        };
        if !allowed {
            return Ok(Json(Output { applied: false }));
        }
        let details: Option<String> =
            input.failed_status_details.as_deref().map(|d| d.chars().take(1024).collect());
        state
            .edge
            .set_edge_sync_status(stream.id, record.generation, status, details.as_deref(), now)
            .await?;
    }
    let recorder = input.last_recorder_status.as_ref().and_then(|r| r.to_report(now));
    let uploader = input.last_uploader_status.as_ref().and_then(|r| r.to_report(now));
    if recorder.is_some() || uploader.is_some() {
        state
            .edge
            .set_edge_job_reports(stream.id, record.generation, recorder.as_ref(), uploader.as_ref())
            .await?;
    }
    Ok(Json(Output { applied: true }))
}
