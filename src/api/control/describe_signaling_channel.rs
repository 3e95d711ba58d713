//! `POST /describeSignalingChannel`: the channel's `ChannelInfo`, by ChannelName (in the caller's
//! region) or ChannelARN; an unknown channel is 404 `ResourceNotFoundException`.

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::channels::{ChannelInfo, ChannelRef};

/// `DescribeSignalingChannelInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeSignalingChannelInput {
    channel_name: Option<String>,
    #[serde(rename = "ChannelARN")]
    channel_arn: Option<String>,
}

impl OperationInput for DescribeSignalingChannelInput {
    type Valid = ChannelRef;

    fn validate(self) -> Result<ChannelRef, AwsError> {
        ChannelRef::from_pair(self.channel_name.as_deref(), self.channel_arn.as_deref())
    }
}

/// `DescribeSignalingChannelOutput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeSignalingChannelOutput {
    channel_info: ChannelInfo,
}

/// Describes the channel.
pub async fn handle(
    call: Call,
    Valid(channel): Valid<DescribeSignalingChannelInput>,
) -> Result<DescribeSignalingChannelOutput, AwsError> {
    let channel = call.channel(&channel).await?;
    Ok(DescribeSignalingChannelOutput { channel_info: ChannelInfo::from_channel(&channel) })
}
