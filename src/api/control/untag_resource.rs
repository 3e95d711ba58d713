//! `POST /UntagResource` (capitalised path): removes tag keys from the stream or signaling channel
//! an ARN names (absent keys are ignored).

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{TaggedResource, resolve_resource, validate_tag_keys};
use crate::api::AppState;
use crate::api::aws::{AwsError, AwsJson, Operation, required};
use crate::api::channels::channel_error;
use crate::auth::Caller;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::UntagResource;

/// `UntagResource` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    tag_key_list: Option<Vec<String>>,
}

/// Untags the resource.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    let arn = required(input.resource_arn.as_deref(), "resourceARN")?;
    let keys = required(input.tag_key_list, "tagKeyList")?;
    validate_tag_keys(&keys)?;
    match resolve_resource(&state, &caller, OPERATION, arn).await? {
        TaggedResource::Stream(s) => state.archive.untag_stream(s.id, &keys).await?,
        TaggedResource::Channel(c) => {
            state.archive.untag_channel(c.id, &keys).await.map_err(channel_error)?
        }
    }
    Ok(Json(json!({})))
}
