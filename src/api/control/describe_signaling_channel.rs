//! `POST /describeSignalingChannel`: the channel's `ChannelInfo`, by ChannelName (in the caller's
//! region) or ChannelARN; an unknown channel is 404 `ResourceNotFoundException`.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::AppState;
use crate::api::aws::{AwsError, AwsJson, Operation};
use crate::api::channels::{ChannelInfo, ChannelRef, resolve_channel};
use crate::auth::Caller;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::DescribeSignalingChannel;

/// `DescribeSignalingChannel` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    channel_name: Option<String>,
    #[serde(rename = "ChannelARN")]
    channel_arn: Option<String>,
}

/// Describes the channel.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    let channel_ref = ChannelRef::from_pair(input.channel_name.as_deref(), input.channel_arn.as_deref())?;
    let channel = resolve_channel(&state, &caller, OPERATION, &channel_ref).await?;
    Ok(Json(json!({ "ChannelInfo": ChannelInfo::from_channel(&channel) })))
}
