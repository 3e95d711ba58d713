//! `POST /listTagsForStream`: all tags of a stream as a JSON map. A stream has at most 50 tags, so
//! one page always holds them all and no `NextToken` is returned.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation};
use crate::api::streams::{StreamRef, resolve};
use crate::auth::Caller;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::ListTagsForStream;

/// `ListTagsForStream` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    #[allow(dead_code)]
    next_token: Option<String>,
}

/// Lists the stream's tags.
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
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    let tags = state.archive.stream_tags(stream.id).await?;
    Ok(Json(json!({ "Tags": tags.0 })))
}
