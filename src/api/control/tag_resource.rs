//! `POST /TagResource` (capitalised path): adds tags given as a `[{Key, Value}]` list to the
//! stream or signaling channel an ARN names (existing keys are overwritten; 50 tags at most per
//! resource). Also owns the `[{Key, Value}]` list parsing CreateSignalingChannel shares.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{TaggedResource, resolve_resource};
use crate::api::AppState;
use crate::api::aws::{AwsError, AwsJson, Operation, required};
use crate::api::channels::channel_error;
use crate::auth::Caller;
use crate::model::TagSet;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::TagResource;

/// `TagResource` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    tags: Option<Vec<TagEntry>>,
}

/// One `{Key, Value}` entry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagEntry {
    key: Option<String>,
    value: Option<String>,
}

/// Validates a `TagList` / `TagOnCreateList`: at most 50 entries (at least 1 when `required`),
/// each with a Key (a missing Value is the empty string).
pub fn parse_tag_list(entries: &[TagEntry], required_list: bool) -> Result<TagSet, AwsError> {
    if entries.len() > TagSet::MAX {
        return Err(AwsError::invalid_argument(
            "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50",
        ));
    }
    let mut pairs = Vec::with_capacity(entries.len());
    for e in entries {
        pairs.push((required(e.key.as_deref(), "tags.member.key")?, e.value.as_deref().unwrap_or("")));
    }
    Ok(TagSet::parse(pairs, required_list)?)
}

/// Tags the resource.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    let arn = required(input.resource_arn.as_deref(), "resourceARN")?;
    let tags = parse_tag_list(required(input.tags.as_deref(), "tags")?, true)?;
    match resolve_resource(&state, &caller, OPERATION, arn).await? {
        TaggedResource::Stream(s) => state.archive.tag_stream(s.id, &tags).await?,
        TaggedResource::Channel(c) => state.archive.tag_channel(c.id, &tags).await.map_err(channel_error)?,
    }
    Ok(Json(json!({})))
}
