//! `POST /ListTagsForResource` (capitalised path): the tags of the stream or signaling channel an
//! ARN names, as a JSON map (at most 50, so never paged).

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{TaggedResource, resolve_resource};
use crate::api::AppState;
use crate::api::aws::{AwsError, AwsJson, Operation, required};
use crate::api::channels::channel_error;
use crate::auth::Caller;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::ListTagsForResource;

/// `ListTagsForResource` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    #[allow(dead_code)]
    next_token: Option<String>,
}

/// Lists the resource's tags.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    let arn = required(input.resource_arn.as_deref(), "resourceARN")?;
    let tags = match resolve_resource(&state, &caller, OPERATION, arn).await? {
        TaggedResource::Stream(s) => state.archive.stream_tags(s.id).await?,
        TaggedResource::Channel(c) => state.archive.channel_tags(c.id).await.map_err(channel_error)?,
    };
    Ok(Json(json!({ "Tags": tags.0 })))
}
