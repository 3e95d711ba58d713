//! `POST /updateMediaStorageConfiguration`: maps a signaling channel to the stream its WebRTC
//! sessions are recorded into (`Status` ENABLED) or stops recording (DISABLED). As AWS: the
//! stream must exist and keep data (DataRetentionInHours > 0), ENABLED needs a StreamARN, and a
//! stream is recorded from one channel only (another channel mapping it is
//! `ResourceInUseException`).

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, AwsErrorCode, Call, OperationInput, Valid};
use crate::api::channels::ChannelRef;
use crate::api::streams::StreamRef;
use crate::archive::IndexError;
use crate::model::{ConfigurationStatus, required};

/// `MediaStorageConfiguration` (shared with DescribeMediaStorageConfiguration).
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MediaStorageConfiguration {
    /// `StreamARN`: the stream recorded into.
    #[serde(rename = "StreamARN", skip_serializing_if = "Option::is_none")]
    pub stream_arn: Option<String>,
    /// `Status`: `ENABLED` or `DISABLED`.
    pub status: Option<String>,
}

/// `UpdateMediaStorageConfigurationInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateMediaStorageConfigurationInput {
    #[serde(rename = "ChannelARN")]
    channel_arn: Option<String>,
    media_storage_configuration: Option<MediaStorageConfiguration>,
}

/// A validated update.
#[derive(Debug)]
pub struct MediaStorageUpdate {
    channel: ChannelRef,
    stream: Option<StreamRef>,
    status: ConfigurationStatus,
}

impl OperationInput for UpdateMediaStorageConfigurationInput {
    type Valid = MediaStorageUpdate;

    fn validate(self) -> Result<MediaStorageUpdate, AwsError> {
        let channel = ChannelRef::from_arn(required(self.channel_arn.as_deref(), "channelARN")?)?;
        let config = required(self.media_storage_configuration, "mediaStorageConfiguration")?;
        let status = ConfigurationStatus::parse_member(
            required(config.status.as_deref(), "mediaStorageConfiguration.status")?,
            "mediaStorageConfiguration.status",
        )?;
        let stream =
            config.stream_arn.as_deref().map(|a| StreamRef::from_input(None, Some(a))).transpose()?;
        if stream.is_none() && status == ConfigurationStatus::Enabled {
            return Err(AwsError::invalid_argument("StreamARN is required when the Status is ENABLED."));
        }
        Ok(MediaStorageUpdate { channel, stream, status })
    }
}

/// `UpdateMediaStorageConfigurationOutput` (no members).
#[derive(Debug, Serialize)]
pub struct UpdateMediaStorageConfigurationOutput {}

fn stream_in_use() -> AwsError {
    AwsError::new(
        AwsErrorCode::ResourceInUseException,
        "The stream is already mapped to another signaling channel.",
    )
}

/// Sets the channel's media storage configuration.
pub async fn handle(
    call: Call,
    Valid(update): Valid<UpdateMediaStorageConfigurationInput>,
) -> Result<UpdateMediaStorageConfigurationOutput, AwsError> {
    let channel = call.channel(&update.channel).await?;
    let stream = match &update.stream {
        Some(r) => Some(call.stream(r).await?),
        None => None,
    };
    let archive = &call.state.archive;
    if let Some(s) = &stream {
        if update.status == ConfigurationStatus::Enabled && !s.retention.is_persistent() {
            return Err(AwsError::invalid_argument(
                "The stream must have data retention (DataRetentionInHours > 0) to record WebRTC media.",
            ));
        }
        if let Some(other) = archive.channel_mapped_to_stream(s.id).await?
            && other != channel.arn.to_string()
        {
            return Err(stream_in_use());
        }
    }
    let now = call.state.clock.now_millis();
    archive.set_media_storage(channel.id, stream.map(|s| s.id), update.status, now).await.map_err(
        |e| match e {
            IndexError::Conflict { .. } => stream_in_use(),
            other => other.into(),
        },
    )?;
    Ok(UpdateMediaStorageConfigurationOutput {})
}
