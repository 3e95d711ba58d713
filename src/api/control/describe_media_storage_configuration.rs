//! `POST /describeMediaStorageConfiguration`: a channel's media storage configuration. A channel
//! that was never configured answers `Status: DISABLED` without a StreamARN, as AWS does.

use serde::{Deserialize, Serialize};

use super::update_media_storage_configuration::MediaStorageConfiguration;
use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::channels::ChannelRef;
use crate::model::ConfigurationStatus;

/// `DescribeMediaStorageConfigurationInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeMediaStorageConfigurationInput {
    channel_name: Option<String>,
    #[serde(rename = "ChannelARN")]
    channel_arn: Option<String>,
}

impl OperationInput for DescribeMediaStorageConfigurationInput {
    type Valid = ChannelRef;

    fn validate(self) -> Result<ChannelRef, AwsError> {
        ChannelRef::from_pair(self.channel_name.as_deref(), self.channel_arn.as_deref())
    }
}

/// `DescribeMediaStorageConfigurationOutput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeMediaStorageConfigurationOutput {
    media_storage_configuration: MediaStorageConfiguration,
}

/// Describes the channel's media storage configuration.
pub async fn handle(
    call: Call,
    Valid(channel): Valid<DescribeMediaStorageConfigurationInput>,
) -> Result<DescribeMediaStorageConfigurationOutput, AwsError> {
    let channel = call.channel(&channel).await?;
    let config = call.state.archive.media_storage_of_channel(channel.id).await?;
    let (stream_arn, status) = match config {
        Some(c) => (c.stream_arn, c.status),
        None => (None, ConfigurationStatus::Disabled),
    };
    Ok(DescribeMediaStorageConfigurationOutput {
        media_storage_configuration: MediaStorageConfiguration {
            stream_arn,
            status: Some(status.as_str().to_owned()),
        },
    })
}
