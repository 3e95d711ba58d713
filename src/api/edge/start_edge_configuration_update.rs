//! `POST /startEdgeConfigurationUpdate`: creates or replaces the stream's edge configuration and
//! sets its sync status to SYNCING; the agent of its `HubDeviceArn` picks it up (`crate::edge`).
//!
//! As in AWS: the `EdgeConfig` is validated like the botocore model (the schedule expressions must
//! also be Quartz cron expressions openkvs can evaluate), a stream without data retention is
//! `NoDataRetentionException`, and an update while the previous one is still syncing (SYNCING,
//! ACKNOWLEDGED) or the configuration is being deleted is `ResourceInUseException`. The secret the
//! configuration names is not read here: the agent reads it, and reports a missing one.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, AwsErrorCode, Call, OperationInput, Valid};
use crate::api::edge_configurations::EdgeConfigurationShape;
use crate::api::streams::StreamRef;
use crate::model::{EdgeConfig, required};

/// `StartEdgeConfigurationUpdateInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartEdgeConfigurationUpdateInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    edge_config: Option<EdgeConfig>,
}

impl OperationInput for StartEdgeConfigurationUpdateInput {
    type Valid = (StreamRef, EdgeConfig);

    fn validate(self) -> Result<Self::Valid, AwsError> {
        let config = required(self.edge_config, "edgeConfig")?;
        config.validate()?;
        let stream = StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())?;
        Ok((stream, config))
    }
}

/// `StartEdgeConfigurationUpdateOutput`.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct StartEdgeConfigurationUpdateOutput(EdgeConfigurationShape);

/// Stores the configuration.
pub async fn handle(
    call: Call,
    Valid((stream, config)): Valid<StartEdgeConfigurationUpdateInput>,
) -> Result<StartEdgeConfigurationUpdateOutput, AwsError> {
    let state = &call.state;
    let stream = call.stream(&stream).await?;
    if !stream.retention.is_persistent() {
        return Err(AwsError::new(
            AwsErrorCode::NoDataRetentionException,
            "The stream does not retain data (DataRetentionInHours is 0); the edge agent needs a stream that archives.",
        ));
    }
    let now = state.clock.now_millis();
    if let Some(existing) = state.archive.edge_config(stream.id).await? {
        let (status, _) = existing.status_at(now);
        if status.is_in_progress() {
            return Err(AwsError::new(
                AwsErrorCode::ResourceInUseException,
                format!(
                    "The stream's edge configuration is {}; wait until it is IN_SYNC or SYNC_FAILED before updating it.",
                    status.as_str()
                ),
            ));
        }
    }
    let record = state.archive.put_edge_config(stream.id, &config, now).await?;
    Ok(StartEdgeConfigurationUpdateOutput(EdgeConfigurationShape::from_record(&record, now)))
}
