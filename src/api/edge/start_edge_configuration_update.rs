//! `POST /startEdgeConfigurationUpdate`: creates or replaces the stream's edge configuration and
//! sets its sync status to SYNCING; the agent of its `HubDeviceArn` picks it up (`crate::edge`).
//!
//! As in AWS: the `EdgeConfig` is validated like the botocore model (the schedule expressions must
//! also be Quartz cron expressions openkvs can evaluate), a stream without data retention is
//! `NoDataRetentionException`, and an update while the previous one is still syncing (SYNCING,
//! ACKNOWLEDGED) or the configuration is being deleted is `ResourceInUseException`. The secret the
//! configuration names is not read here: the agent reads it, and reports a missing one.

use axum::extract::State;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::EdgeConfigurationShape;
use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation, required};
use crate::api::streams::{StreamRef, resolve};
use crate::auth::Caller;
use crate::model::EdgeConfig;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::StartEdgeConfigurationUpdate;

/// `StartEdgeConfigurationUpdateInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    edge_config: Option<EdgeConfig>,
}

/// `StartEdgeConfigurationUpdateOutput`.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct Output(EdgeConfigurationShape);

/// Stores the configuration.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Output>, AwsError> {
    let config = required(input.edge_config, "edgeConfig")?;
    config.validate()?;
    let stream_ref = StreamRef::from_pair(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        AwsErrorCode::InvalidArgumentException,
    )?;
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    if !stream.retention.is_persistent() {
        return Err(AwsError::new(
            AwsErrorCode::NoDataRetentionException,
            "The stream does not retain data (DataRetentionInHours is 0); the edge agent needs a stream that archives.",
        ));
    }
    let now = state.clock.now_millis();
    if let Some(existing) = state.edge.edge_config(stream.id).await? {
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
    let record = state.edge.put_edge_config(stream.id, &config, now).await?;
    Ok(Json(Output(EdgeConfigurationShape::from_record(&record, now))))
}
