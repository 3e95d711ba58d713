//! `POST /describeEdgeConfiguration`: the stream's edge configuration, its sync status (SYNCING
//! past 15 minutes reads as SYNC_FAILED, as in AWS) and the agent's last recorder and uploader
//! status. A stream without one is `StreamEdgeConfigurationNotFoundException`. The camera secret
//! appears by ARN only, never its value.

use axum::extract::State;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::{EdgeConfigurationShape, JobStatusOutput, no_edge_configuration};
use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation};
use crate::api::streams::{StreamRef, resolve};
use crate::auth::Caller;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::DescribeEdgeConfiguration;

/// `DescribeEdgeConfigurationInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
}

/// `EdgeAgentStatus`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EdgeAgentStatus {
    /// `LastRecorderStatus`.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_recorder_status: Option<JobStatusOutput>,
    /// `LastUploaderStatus`.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_uploader_status: Option<JobStatusOutput>,
}

/// `DescribeEdgeConfigurationOutput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    #[serde(flatten)]
    configuration: EdgeConfigurationShape,
    #[serde(skip_serializing_if = "Option::is_none")]
    edge_agent_status: Option<EdgeAgentStatus>,
}

/// Describes the configuration.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Output>, AwsError> {
    let stream_ref = StreamRef::from_pair(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        AwsErrorCode::InvalidArgumentException,
    )?;
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    let record = state.edge.edge_config(stream.id).await?.ok_or_else(no_edge_configuration)?;
    let agent = (record.recorder.is_some() || record.uploader.is_some()).then(|| EdgeAgentStatus {
        last_recorder_status: record.recorder.as_ref().map(JobStatusOutput::recorder),
        last_uploader_status: record.uploader.as_ref().map(JobStatusOutput::uploader),
    });
    Ok(Json(Output {
        configuration: EdgeConfigurationShape::from_record(&record, state.clock.now_millis()),
        edge_agent_status: agent,
    }))
}
