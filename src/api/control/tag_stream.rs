//! `POST /tagStream`: adds or overwrites tags (a JSON map) on a stream named by name or ARN; a
//! stream holds at most 50 tags.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation, required};
use crate::api::streams::{StreamRef, resolve};
use crate::auth::Caller;
use crate::model::TagSet;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::TagStream;

/// `TagStream` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

/// Tags the stream.
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
    let tags = required(input.tags.as_ref(), "tags")?;
    let tags = TagSet::parse(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())), true)?;
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    state.archive.tag_stream(stream.id, &tags).await?;
    Ok(Json(json!({})))
}
