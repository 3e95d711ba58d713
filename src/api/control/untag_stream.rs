//! `POST /untagStream`: removes tag keys from a stream named by name or ARN (absent keys are
//! ignored, as AWS does).

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::validate_tag_keys;
use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation, required};
use crate::api::streams::{StreamRef, resolve};
use crate::auth::Caller;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::UntagStream;

/// `UntagStream` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    tag_key_list: Option<Vec<String>>,
}

/// Untags the stream.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    let stream_ref = StreamRef::from_pair(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        AwsErrorCode::InvalidResourceFormatException,
    )?;
    let keys = required(input.tag_key_list, "tagKeyList")?;
    validate_tag_keys(&keys)?;
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    state.archive.untag_stream(stream.id, &keys).await?;
    Ok(Json(json!({})))
}
