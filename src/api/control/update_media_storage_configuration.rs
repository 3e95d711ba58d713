//! `POST /updateMediaStorageConfiguration`: maps a signaling channel to the stream its WebRTC
//! sessions are recorded into (`Status` ENABLED) or stops recording (DISABLED). As AWS: the
//! stream must exist and keep data (DataRetentionInHours > 0), ENABLED needs a StreamARN, and a
//! stream is recorded from one channel only (another channel mapping it is
//! `ResourceInUseException`).

use axum::extract::State;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation};
use crate::api::channels::{ChannelRef, resolve_channel};
use crate::api::streams::{StreamRef, resolve};
use crate::auth::Caller;
use crate::index::IndexError;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::UpdateMediaStorageConfiguration;

/// `MediaStorageConfiguration` (shared with DescribeMediaStorageConfiguration).
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MediaStorageConfiguration {
    /// The stream recorded into.
    #[serde(rename = "StreamARN", skip_serializing_if = "Option::is_none")]
    pub stream_arn: Option<String>,
    /// `ENABLED` or `DISABLED`.
    pub status: String,
}

/// `UpdateMediaStorageConfiguration` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    /// The channel.
    #[serde(rename = "ChannelARN")]
    pub channel_arn: Option<String>,
    /// The configuration.
    pub media_storage_configuration: Option<MediaStorageConfiguration>,
}

/// `UpdateMediaStorageConfiguration` output (empty).
#[derive(Debug, Serialize)]
pub struct Output {}

/// Sets the channel's media storage configuration.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Output>, AwsError> {
    let arn = input.channel_arn.as_deref().ok_or_else(|| {
        AwsError::invalid_argument(
            "1 validation error detected: Value null at 'channelARN' failed to satisfy constraint: Member must not be null",
        )
    })?;
    let config = input.media_storage_configuration.ok_or_else(|| {
        AwsError::invalid_argument(
            "1 validation error detected: Value null at 'mediaStorageConfiguration' failed to satisfy constraint: Member must not be null",
        )
    })?;
    let enabled = match config.status.as_str() {
        "ENABLED" => true,
        "DISABLED" => false,
        other => {
            return Err(AwsError::invalid_argument(format!(
                "1 validation error detected: Value '{other}' at 'mediaStorageConfiguration.status' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]"
            )));
        }
    };
    let channel = resolve_channel(&state, &caller, OPERATION, &ChannelRef::from_arn(arn)?).await?;
    let stream = match config.stream_arn.as_deref() {
        Some(a) => {
            let r = StreamRef::from_pair(None, Some(a), AwsErrorCode::InvalidArgumentException)?;
            Some(resolve(&state, &caller, OPERATION, &r).await?)
        }
        None if enabled => {
            return Err(AwsError::invalid_argument("StreamARN is required when the Status is ENABLED."));
        }
        None => None,
    };
    if let Some(s) = &stream {
        if enabled && !s.retention.is_persistent() {
            return Err(AwsError::invalid_argument(
                "The stream must have data retention (DataRetentionInHours > 0) to record WebRTC media.",
            ));
        }
        if let Some(other) = state.index.channel_mapped_to_stream(s.id).await?
            && other != channel.arn.to_string()
        {
            return Err(AwsError::new(
                AwsErrorCode::ResourceInUseException,
                "The stream is already mapped to another signaling channel.",
            ));
        }
    }
    let now = state.clock.now_millis();
    state.index.put_media_storage(channel.id, stream.map(|s| s.id), enabled, now).await.map_err(|e| match e {
        IndexError::Conflict { .. } => AwsError::new(
            AwsErrorCode::ResourceInUseException,
            "The stream is already mapped to another signaling channel.",
        ),
        other => other.into(),
    })?;
    Ok(Json(Output {}))
}
