//! `POST /deleteEdgeConfiguration`: sets the stream's edge configuration to DELETING. The agent
//! stops the recorder and uploader, deletes the local media, and the configuration disappears
//! (DescribeEdgeConfiguration then answers `StreamEdgeConfigurationNotFoundException`), as in AWS.
//! Deleting a configuration that is already being deleted is accepted again.

use axum::extract::State;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::no_edge_configuration;
use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation};
use crate::api::streams::{StreamRef, resolve};
use crate::auth::Caller;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::DeleteEdgeConfiguration;

/// `DeleteEdgeConfigurationInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
}

/// `DeleteEdgeConfigurationOutput` (no members).
#[derive(Debug, Serialize)]
pub struct Output {}

/// Starts the deletion.
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
    if state.edge.edge_config(stream.id).await?.is_none() {
        return Err(no_edge_configuration());
    }
    match state.edge.mark_edge_config_deleting(stream.id, state.clock.now_millis()).await {
        Ok(()) => Ok(Json(Output {})),
        Err(crate::index::IndexError::NotFound) => Err(no_edge_configuration()),
        Err(e) => Err(e.into()),
    }
}
