//! `POST /TagResource` (capitalised path): adds tags given as a `[{Key, Value}]` list to the
//! resource an ARN names. Streams are taggable; channel ARNs answer `ResourceNotFoundException`
//! until signaling channels exist.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::resolve_resource;
use crate::api::AppState;
use crate::api::aws::{AwsError, AwsJson, Operation, required};
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

/// Tags the resource.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    let arn = required(input.resource_arn.as_deref(), "resourceARN")?;
    let entries = required(input.tags.as_ref(), "tags")?;
    let mut pairs = Vec::with_capacity(entries.len());
    for e in entries {
        pairs.push((required(e.key.as_deref(), "tags.member.key")?, e.value.as_deref().unwrap_or("")));
    }
    if entries.len() > TagSet::MAX {
        return Err(AwsError::invalid_argument(
            "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50",
        ));
    }
    let tags = TagSet::parse(pairs, true)?;
    let stream = resolve_resource(&state, &caller, OPERATION, arn).await?;
    state.index.tag_stream(stream.id, &tags).await?;
    Ok(Json(json!({})))
}
