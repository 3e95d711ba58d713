//! `POST /deleteStream`: removes the stream (by ARN only, as the model requires), checking
//! `CurrentVersion` when given. The row and everything that references it go at once, so the name
//! is free again immediately and DescribeStream answers 404.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation, required};
use crate::api::streams::{StreamRef, resolve};
use crate::auth::Caller;
use crate::model::VersionToken;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::DeleteStream;

/// `DeleteStream` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    current_version: Option<String>,
}

/// Deletes the stream.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    let arn = required(input.stream_arn.as_deref(), "streamARN")?;
    let stream_ref = StreamRef::from_pair(None, Some(arn), AwsErrorCode::InvalidArgumentException)?;
    let expected = input.current_version.as_deref().map(VersionToken::parse).transpose()?;
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    // Rows first, then a running PutMedia ends (ErrorId 4008), then the bytes go.
    state.archive.delete_stream(stream.id, expected.as_ref()).await?;
    Ok(Json(json!({})))
}
