//! `POST /describeEdgeConfiguration`: the stream's edge configuration, its sync status (SYNCING
//! past 15 minutes reads as SYNC_FAILED, as in AWS) and the agent's last recorder and uploader
//! status. A stream without one is `StreamEdgeConfigurationNotFoundException`. The camera secret
//! appears by ARN only, never its value.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::edge_configurations::{EdgeConfigurationShape, JobStatusOutput, no_edge_configuration};
use crate::api::streams::StreamRef;

/// `DescribeEdgeConfigurationInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeEdgeConfigurationInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
}

impl OperationInput for DescribeEdgeConfigurationInput {
    type Valid = StreamRef;

    fn validate(self) -> Result<StreamRef, AwsError> {
        StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())
    }
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
pub struct DescribeEdgeConfigurationOutput {
    #[serde(flatten)]
    configuration: EdgeConfigurationShape,
    #[serde(skip_serializing_if = "Option::is_none")]
    edge_agent_status: Option<EdgeAgentStatus>,
}

/// Describes the configuration.
pub async fn handle(
    call: Call,
    Valid(stream): Valid<DescribeEdgeConfigurationInput>,
) -> Result<DescribeEdgeConfigurationOutput, AwsError> {
    let state = &call.state;
    let stream = call.stream(&stream).await?;
    let record = state.archive.edge_config(stream.id).await?.ok_or_else(no_edge_configuration)?;
    let agent = (record.recorder.is_some() || record.uploader.is_some()).then(|| EdgeAgentStatus {
        last_recorder_status: record.recorder.as_ref().map(JobStatusOutput::recorder),
        last_uploader_status: record.uploader.as_ref().map(JobStatusOutput::uploader),
    });
    Ok(DescribeEdgeConfigurationOutput {
        configuration: EdgeConfigurationShape::from_record(&record, state.clock.now_millis()),
        edge_agent_status: agent,
    })
}
