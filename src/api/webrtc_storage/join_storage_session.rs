//! `POST /joinStorageSession` (`kinesis-video-webrtc-storage`, rest-json, camelCase members): the
//! master of a channel whose media storage configuration is ENABLED asks openkvs to join its
//! WebRTC session as the storage peer. The answer is an empty 200 at once; the SDP offer then
//! reaches the master through signaling (as AWS: "an offer is sent once per each call"), and the
//! media is recorded into the mapped stream (`crate::webrtc::storage`). A newer call for the
//! channel replaces the session in progress.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, AwsErrorCode, Call, OperationInput, Valid};
use crate::api::channels::ChannelRef;
use crate::model::{ConfigurationStatus, ResourceArn, SignalingChannel, Stream, required};
use crate::webrtc::WebRtcError;
use crate::webrtc::storage::StorageTarget;

/// `JoinStorageSessionInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinStorageSessionInput {
    channel_arn: Option<String>,
}

impl OperationInput for JoinStorageSessionInput {
    type Valid = ChannelRef;

    fn validate(self) -> Result<ChannelRef, AwsError> {
        ChannelRef::from_arn(required(self.channel_arn.as_deref(), "channelArn")?)
    }
}

/// `JoinStorageSession` has no output members: an empty 200.
#[derive(Debug, Serialize)]
pub struct JoinStorageSessionOutput {}

/// Starts the storage session.
pub async fn handle(
    call: Call,
    Valid(channel): Valid<JoinStorageSessionInput>,
) -> Result<JoinStorageSessionOutput, AwsError> {
    let joined = Instant::now();
    let (channel, stream) = storage_session_of(&call, &channel).await?;
    let state = &call.state;
    let webrtc = state.webrtc.as_ref().ok_or(WebRtcError::Unavailable)?;
    let target = StorageTarget {
        channel_id: channel.id,
        message_ttl: Duration::from_secs(u64::from(channel.message_ttl_seconds)),
        stream,
        cluster: state.cluster.clone(),
    };
    webrtc
        .join_storage_session(state.signaling.clone(), state.ingest.clone(), target, joined)
        .map_err(session_error)?;
    Ok(JoinStorageSessionOutput {})
}

/// The channel (which the caller may use) and the stream its ENABLED media storage configuration
/// maps it to; InvalidArgumentException without one (JoinStorageSession and
/// JoinStorageSessionAsViewer alike).
pub async fn storage_session_of(
    call: &Call,
    channel: &ChannelRef,
) -> Result<(SignalingChannel, Stream), AwsError> {
    let channel = call.channel(channel).await?;
    let state = &call.state;
    let storage = state.archive.media_storage_of_channel(channel.id).await?;
    let stream_arn = storage
        .filter(|s| s.status == ConfigurationStatus::Enabled)
        .and_then(|s| s.stream_arn)
        .ok_or_else(|| {
            AwsError::invalid_argument(
                "The signaling channel has no ENABLED media storage configuration (UpdateMediaStorageConfiguration).",
            )
        })?;
    let stream_arn = ResourceArn::parse_member(&stream_arn, "streamARN")?;
    let stream = state.archive.stream_by_arn(&stream_arn).await?;
    Ok((channel, stream))
}

/// A session that could not start: too many WebRTC sessions is the model's
/// ClientLimitExceededException.
pub fn session_error(e: WebRtcError) -> AwsError {
    match e {
        WebRtcError::TooManySessions => AwsError::new(
            AwsErrorCode::ClientLimitExceededException,
            "Too many WebRTC sessions; try again later.",
        ),
        other => other.into(),
    }
}
