//! `POST /updateStream`: changes DeviceName and/or MediaType when `CurrentVersion` matches, and
//! issues a new version.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation, required};
use crate::api::streams::{StreamRef, resolve};
use crate::archive::StreamChanges;
use crate::auth::Caller;
use crate::model::{DeviceName, MediaType, VersionToken};

/// The operation this file serves.
pub const OPERATION: Operation = Operation::UpdateStream;

/// `UpdateStream` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    current_version: Option<String>,
    device_name: Option<String>,
    media_type: Option<String>,
}

/// Updates the stream's metadata.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    let stream_ref = StreamRef::from_pair(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        AwsErrorCode::InvalidArgumentException,
    )?;
    let expected = VersionToken::parse(required(input.current_version.as_deref(), "currentVersion")?)?;
    let changes = StreamChanges {
        device_name: input
            .device_name
            .as_deref()
            .map(DeviceName::parse)
            .transpose()?
            .map(DeviceName::into_string),
        media_type: input
            .media_type
            .as_deref()
            .map(MediaType::parse)
            .transpose()?
            .map(MediaType::into_string),
        ..StreamChanges::default()
    };
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    state.archive.update_stream(stream.id, Some(&expected), &changes, &VersionToken::generate()).await?;
    Ok(Json(json!({})))
}
