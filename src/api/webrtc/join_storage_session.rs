//! `POST /joinStorageSession` (`kinesis-video-webrtc-storage`, rest-json, camelCase members): the
//! master of a channel whose media storage configuration is ENABLED asks openkvs to join its
//! WebRTC session as the storage peer. The answer is an empty 200 at once; the SDP offer then
//! reaches the master through signaling (as AWS: "an offer is sent once per each call"), and the
//! media is recorded into the mapped stream (`crate::webrtc::storage`). A newer call for the
//! channel replaces the session in progress.

use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use crate::api::AppState;
use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation};
use crate::api::channels::{ChannelRef, resolve_channel};
use crate::auth::Caller;
use crate::model::ResourceArn;
use crate::webrtc::WebRtcError;
use crate::webrtc::storage::StorageTarget;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::JoinStorageSession;

/// `JoinStorageSession` input (the service's members are camelCase).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    /// The signaling channel's ARN.
    pub channel_arn: Option<String>,
}

/// Starts the storage session.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AwsJson(input): AwsJson<Input>,
) -> Result<StatusCode, AwsError> {
    let joined = Instant::now();
    let arn = input.channel_arn.as_deref().ok_or_else(|| {
        AwsError::invalid_argument(
            "1 validation error detected: Value null at 'channelArn' failed to satisfy constraint: Member must not be null",
        )
    })?;
    let channel = resolve_channel(&state, &caller, OPERATION, &ChannelRef::from_arn(arn)?).await?;
    let storage = state.index.media_storage_of_channel(channel.id).await?;
    let stream_arn = match storage {
        Some(s) if s.enabled => s.stream_arn,
        _ => None,
    }
    .ok_or_else(|| {
        AwsError::invalid_argument(
            "The signaling channel has no ENABLED media storage configuration (UpdateMediaStorageConfiguration).",
        )
    })?;
    let stream_arn = ResourceArn::parse_member(&stream_arn, "streamARN").map_err(AwsError::from)?;
    let stream = state.index.stream_by_arn(&stream_arn).await?;
    let webrtc = state.webrtc.as_ref().ok_or(WebRtcError::Unavailable)?;
    let target = StorageTarget {
        channel_id: channel.id,
        message_ttl: Duration::from_secs(u64::from(channel.message_ttl_seconds)),
        stream,
    };
    webrtc
        .join_storage_session(state.signaling.clone(), state.ingest.clone(), target, joined)
        .map_err(|e| match e {
            WebRtcError::TooManySessions => AwsError::new(
                AwsErrorCode::ClientLimitExceededException,
                "Too many WebRTC sessions; try again later.",
            ),
            other => other.into(),
        })?;
    Ok(StatusCode::OK)
}
