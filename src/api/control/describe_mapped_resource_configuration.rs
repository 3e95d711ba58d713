//! `POST /describeMappedResourceConfiguration`: the signaling channel a stream is mapped to for
//! WebRTC ingestion. Mapping is made by UpdateMediaStorageConfiguration on a channel; until a channel
//! maps the stream the list is empty, which is also what AWS answers for an unmapped stream.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation};
use crate::api::streams::{StreamRef, resolve};
use crate::auth::Caller;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::DescribeMappedResourceConfiguration;

/// `DescribeMappedResourceConfiguration` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    max_results: Option<i64>,
    #[allow(dead_code)]
    next_token: Option<String>,
}

/// Describes the (empty) mapping.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    if let Some(m) = input.max_results
        && m != 1
    {
        return Err(AwsError::invalid_argument(
            "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 1",
        ));
    }
    let stream_ref = StreamRef::from_pair(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        AwsErrorCode::InvalidArgumentException,
    )?;
    resolve(&state, &caller, OPERATION, &stream_ref).await?;
    Ok(Json(json!({ "MappedResourceConfigurationList": [] })))
}
