//! `POST /describeStream`: the stream's `StreamInfo`; an unknown stream is 404
//! `ResourceNotFoundException` (the C producer creates the stream on that status alone).

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation};
use crate::api::streams::{StreamInfo, StreamRef, resolve};
use crate::auth::Caller;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::DescribeStream;

/// `DescribeStream` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
}

/// Describes the stream.
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
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    Ok(Json(json!({ "StreamInfo": StreamInfo::from_stream(&stream) })))
}
