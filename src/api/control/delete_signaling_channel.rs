//! `POST /deleteSignalingChannel`: removes the channel (by ARN only, as the model requires) and
//! its tags at once, checking `CurrentVersion` when given; the name is free again immediately.
//! Connected masters and viewers are told to go away (GO_AWAY, then close) and held messages are
//! dropped; new connections are refused by the lookup.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::channels::{ChannelRef, channel_error};
use crate::model::{VersionToken, required};

/// `DeleteSignalingChannelInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteSignalingChannelInput {
    #[serde(rename = "ChannelARN")]
    channel_arn: Option<String>,
    current_version: Option<String>,
}

impl OperationInput for DeleteSignalingChannelInput {
    type Valid = (ChannelRef, Option<VersionToken>);

    fn validate(self) -> Result<Self::Valid, AwsError> {
        let channel = ChannelRef::from_arn(required(self.channel_arn.as_deref(), "channelARN")?)?;
        let expected = self.current_version.as_deref().map(VersionToken::parse).transpose()?;
        Ok((channel, expected))
    }
}

/// `DeleteSignalingChannelOutput` (no members).
#[derive(Debug, Serialize)]
pub struct DeleteSignalingChannelOutput {}

/// Deletes the channel.
pub async fn handle(
    call: Call,
    Valid((channel, expected)): Valid<DeleteSignalingChannelInput>,
) -> Result<DeleteSignalingChannelOutput, AwsError> {
    let state = &call.state;
    let channel = call.channel(&channel).await?;
    state.archive.delete_channel(channel.id, expected.as_ref()).await.map_err(channel_error)?;
    state.signaling.close_channel(channel.id);
    Ok(DeleteSignalingChannelOutput {})
}
