//! `POST /deleteSignalingChannel`: removes the channel (by ARN only, as the model requires) and
//! its tags at once, checking `CurrentVersion` when given; the name is free again immediately.
//! Signaling connections already open on the channel are not closed here (the hub keys them by
//! channel id, which is never reused, and new connections are refused by the lookup).

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::AppState;
use crate::api::aws::{AwsError, AwsJson, Operation, required};
use crate::api::channels::{ChannelRef, channel_error, resolve_channel};
use crate::auth::Caller;
use crate::model::VersionToken;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::DeleteSignalingChannel;

/// `DeleteSignalingChannel` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(rename = "ChannelARN")]
    channel_arn: Option<String>,
    current_version: Option<String>,
}

/// Deletes the channel.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    let channel_ref = ChannelRef::from_arn(required(input.channel_arn.as_deref(), "channelARN")?)?;
    let expected = input.current_version.as_deref().map(VersionToken::parse).transpose()?;
    let channel = resolve_channel(&state, &caller, OPERATION, &channel_ref).await?;
    state.archive.delete_channel(channel.id, expected.as_ref()).await.map_err(channel_error)?;
    // Connected masters and viewers are told to go away; held messages are dropped.
    state.signaling.close_channel(channel.id);
    Ok(Json(json!({})))
}
