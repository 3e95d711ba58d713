//! `POST /joinStorageSessionAsViewer` (`kinesis-video-webrtc-storage`, rest-json, camelCase
//! members): viewer `clientId` of a channel whose media storage configuration is ENABLED joins
//! the storage session. The answer is an empty 200 at once; openkvs, acting as the master toward
//! that viewer, then sends it an SDP offer through signaling with the live media of the mapped
//! stream (`crate::webrtc::storage_viewer`). A newer call for the same viewer takes precedence.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::join_storage_session::{session_error, storage_session_of};
use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::channels::ChannelRef;
use crate::model::required;
use crate::signaling::valid_client_id;
use crate::webrtc::WebRtcError;
use crate::webrtc::storage_viewer::ViewerTarget;

/// `JoinStorageSessionAsViewerInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinStorageSessionAsViewerInput {
    channel_arn: Option<String>,
    client_id: Option<String>,
}

/// A validated request.
#[derive(Debug)]
pub struct JoinAsViewer {
    channel: ChannelRef,
    client_id: String,
}

impl OperationInput for JoinStorageSessionAsViewerInput {
    type Valid = JoinAsViewer;

    fn validate(self) -> Result<JoinAsViewer, AwsError> {
        let channel = ChannelRef::from_arn(required(self.channel_arn.as_deref(), "channelArn")?)?;
        let client_id = required(self.client_id.as_deref(), "clientId")?;
        if !valid_client_id(client_id) {
            return Err(AwsError::invalid_argument(
                "clientId must be 1 to 256 characters of [a-zA-Z0-9_.-].",
            ));
        }
        Ok(JoinAsViewer { channel, client_id: client_id.to_owned() })
    }
}

/// `JoinStorageSessionAsViewer` has no output members: an empty 200.
#[derive(Debug, Serialize)]
pub struct JoinStorageSessionAsViewerOutput {}

/// Starts the viewer's session.
pub async fn handle(
    call: Call,
    Valid(req): Valid<JoinStorageSessionAsViewerInput>,
) -> Result<JoinStorageSessionAsViewerOutput, AwsError> {
    let (channel, stream) = storage_session_of(&call, &req.channel).await?;
    let state = &call.state;
    let webrtc = state.webrtc.as_ref().ok_or(WebRtcError::Unavailable)?;
    let target = ViewerTarget {
        channel_id: channel.id,
        message_ttl: Duration::from_secs(u64::from(channel.message_ttl_seconds)),
        client_id: req.client_id,
        stream_id: stream.id,
    };
    webrtc.join_storage_session_as_viewer(state.signaling.clone(), target).map_err(session_error)?;
    Ok(JoinStorageSessionAsViewerOutput {})
}
