//! `POST /updateSignalingChannel`: changes `SingleMasterConfiguration.MessageTtlSeconds` when
//! `CurrentVersion` matches, and issues a new version (also when no configuration is given). As
//! the model documents, a new TTL applies to messages sent after the update.

use serde::{Deserialize, Serialize};

use super::create_signaling_channel::SingleMasterConfigurationInput;
use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::channels::{ChannelRef, channel_error};
use crate::archive::ChannelChanges;
use crate::model::{VersionToken, required};

/// `UpdateSignalingChannelInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateSignalingChannelInput {
    #[serde(rename = "ChannelARN")]
    channel_arn: Option<String>,
    current_version: Option<String>,
    single_master_configuration: Option<SingleMasterConfigurationInput>,
}

/// A validated UpdateSignalingChannel request.
#[derive(Debug)]
pub struct UpdateSignalingChannelRequest {
    channel: ChannelRef,
    expected: VersionToken,
    changes: ChannelChanges,
}

impl OperationInput for UpdateSignalingChannelInput {
    type Valid = UpdateSignalingChannelRequest;

    fn validate(self) -> Result<UpdateSignalingChannelRequest, AwsError> {
        let channel = ChannelRef::from_arn(required(self.channel_arn.as_deref(), "channelARN")?)?;
        let expected = VersionToken::parse(required(self.current_version.as_deref(), "currentVersion")?)?;
        let message_ttl_seconds = match &self.single_master_configuration {
            Some(c) => c.message_ttl()?,
            None => None,
        };
        Ok(UpdateSignalingChannelRequest {
            channel,
            expected,
            changes: ChannelChanges { message_ttl_seconds },
        })
    }
}

/// `UpdateSignalingChannelOutput` (no members).
#[derive(Debug, Serialize)]
pub struct UpdateSignalingChannelOutput {}

/// Updates the channel.
pub async fn handle(
    call: Call,
    Valid(req): Valid<UpdateSignalingChannelInput>,
) -> Result<UpdateSignalingChannelOutput, AwsError> {
    let state = &call.state;
    let channel = call.channel(&req.channel).await?;
    state
        .archive
        .update_channel(channel.id, Some(&req.expected), &req.changes, &VersionToken::generate())
        .await
        .map_err(channel_error)?;
    Ok(UpdateSignalingChannelOutput {})
}
