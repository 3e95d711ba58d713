//! `POST /deleteEdgeConfiguration`: sets the stream's edge configuration to DELETING. The agent
//! stops the recorder and uploader, deletes the local media, and the configuration disappears
//! (DescribeEdgeConfiguration then answers `StreamEdgeConfigurationNotFoundException`), as in AWS.
//! Deleting a configuration that is already being deleted is accepted again.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::edge_configurations::no_edge_configuration;
use crate::api::streams::StreamRef;
use crate::archive::IndexError;

/// `DeleteEdgeConfigurationInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteEdgeConfigurationInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
}

impl OperationInput for DeleteEdgeConfigurationInput {
    type Valid = StreamRef;

    fn validate(self) -> Result<StreamRef, AwsError> {
        StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())
    }
}

/// `DeleteEdgeConfigurationOutput` (no members).
#[derive(Debug, Serialize)]
pub struct DeleteEdgeConfigurationOutput {}

/// Starts the deletion.
pub async fn handle(
    call: Call,
    Valid(stream): Valid<DeleteEdgeConfigurationInput>,
) -> Result<DeleteEdgeConfigurationOutput, AwsError> {
    let state = &call.state;
    let stream = call.stream(&stream).await?;
    match state.archive.mark_edge_config_deleting(stream.id, state.clock.now_millis()).await {
        Ok(()) => Ok(DeleteEdgeConfigurationOutput {}),
        Err(IndexError::NotFound) => Err(no_edge_configuration()),
        Err(e) => Err(e.into()),
    }
}
