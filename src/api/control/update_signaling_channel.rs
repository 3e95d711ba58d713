//! `POST /updateSignalingChannel`: changes `SingleMasterConfiguration.MessageTtlSeconds` when
//! `CurrentVersion` matches, and issues a new version (also when no configuration is given). As
//! the model documents, a new TTL applies to messages sent after the update.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::create_signaling_channel::SingleMasterConfigurationInput;
use crate::api::AppState;
use crate::api::aws::{AwsError, AwsJson, Operation, required};
use crate::api::channels::{ChannelRef, channel_error, resolve_channel};
use crate::archive::ChannelChanges;
use crate::auth::Caller;
use crate::model::VersionToken;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::UpdateSignalingChannel;

/// `UpdateSignalingChannel` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(rename = "ChannelARN")]
    channel_arn: Option<String>,
    current_version: Option<String>,
    single_master_configuration: Option<SingleMasterConfigurationInput>,
}

/// Updates the channel.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Value>, AwsError> {
    let channel_ref = ChannelRef::from_arn(required(input.channel_arn.as_deref(), "channelARN")?)?;
    let expected = VersionToken::parse(required(input.current_version.as_deref(), "currentVersion")?)?;
    let changes = ChannelChanges {
        message_ttl_seconds: match &input.single_master_configuration {
            Some(c) => c.message_ttl()?,
            None => None,
        },
    };
    let channel = resolve_channel(&state, &caller, OPERATION, &channel_ref).await?;
    state
        .archive
        .update_channel(channel.id, Some(&expected), &changes, &VersionToken::generate())
        .await
        .map_err(channel_error)?;
    Ok(Json(json!({})))
}
