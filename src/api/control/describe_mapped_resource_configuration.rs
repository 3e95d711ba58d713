//! `POST /describeMappedResourceConfiguration`: the signaling channel a stream is mapped to for
//! WebRTC ingestion (UpdateMediaStorageConfiguration on that channel). An unmapped stream answers
//! an empty list, as AWS does; a stream is mapped to at most one channel, so one page holds all.

use axum::extract::State;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

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
    /// The stream, by name.
    pub stream_name: Option<String>,
    /// The stream, by ARN.
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    /// Page size (the model allows only 1).
    pub max_results: Option<i64>,
    /// Pagination token (never needed: at most one item).
    pub next_token: Option<String>,
}

/// `MappedResourceConfigurationListItem`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MappedResource {
    /// The kind of resource: `SIGNALING_CHANNEL`.
    #[serde(rename = "Type")]
    pub kind: &'static str,
    /// Its ARN.
    #[serde(rename = "ARN")]
    pub arn: String,
}

/// `DescribeMappedResourceConfiguration` output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    /// The mapped resources.
    pub mapped_resource_configuration_list: Vec<MappedResource>,
}

/// Describes the stream's mapping.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Output>, AwsError> {
    if let Some(m) = input.max_results
        && m != 1
    {
        return Err(AwsError::invalid_argument(
            "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 1",
        ));
    }
    if let Some(t) = input.next_token.as_deref()
        && (t.is_empty() || t.len() > 512)
    {
        return Err(AwsError::invalid_argument(
            "1 validation error detected: Value at 'nextToken' failed to satisfy constraint: Member must have length between 1 and 512",
        ));
    }
    let stream_ref = StreamRef::from_pair(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        AwsErrorCode::InvalidArgumentException,
    )?;
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    let mapped = state.index.channel_mapped_to_stream(stream.id).await?;
    Ok(Json(Output {
        mapped_resource_configuration_list: mapped
            .into_iter()
            .map(|arn| MappedResource { kind: "SIGNALING_CHANNEL", arn })
            .collect(),
    }))
}
