//! `POST /openkvs/getWHEPStreamingSessionURL`: an openkvs extension (the WebRTC counterpart of
//! `GetHLSStreamingSessionURL`). Returns a WHEP endpoint URL for live, sub-second viewing of a
//! stream over WebRTC; its `SessionToken` is sealed and expires like an HLS session's. Unlike HLS
//! LIVE, the stream needs neither data retention nor recent fragments: a viewer sees frames as
//! ingest receives them, from the next key frame (or the last one at once).

use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, Call, OperationInput, Valid};
use crate::api::streams::StreamRef;
use crate::model::check_range;
use crate::webrtc::WebRtcError;

/// `GetWHEPStreamingSessionURLInput`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetWHEPStreamingSessionURLInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    /// Seconds the URL accepts new viewers (300..=43200, default 300, as HLS).
    expires: Option<i64>,
}

impl OperationInput for GetWHEPStreamingSessionURLInput {
    type Valid = (StreamRef, i64);

    fn validate(self) -> Result<Self::Valid, AwsError> {
        let stream = StreamRef::from_input(self.stream_name.as_deref(), self.stream_arn.as_deref())?;
        let expires = check_range("expires", self.expires.unwrap_or(300), 300, 43200)?;
        Ok((stream, expires))
    }
}

/// `GetWHEPStreamingSessionURLOutput`.
#[derive(Debug, Serialize)]
pub struct GetWHEPStreamingSessionURLOutput {
    /// The WHEP endpoint: POST an SDP offer (`application/sdp`) to it.
    #[serde(rename = "WHEPStreamingSessionURL")]
    whep_streaming_session_url: String,
}

/// Creates a WHEP session URL.
pub async fn handle(
    call: Call,
    Valid((stream, expires)): Valid<GetWHEPStreamingSessionURLInput>,
) -> Result<GetWHEPStreamingSessionURLOutput, AwsError> {
    let stream = call.stream(&stream).await?;
    let state = &call.state;
    let webrtc = state.webrtc.as_ref().ok_or(WebRtcError::Unavailable)?;
    let token = webrtc.whep_token(stream.id, stream.name.as_str(), state.clock.now_millis(), expires);
    let base = call.public_base_url()?;
    Ok(GetWHEPStreamingSessionURLOutput {
        whep_streaming_session_url: format!("{base}{}?SessionToken={token}", super::whep_resource::PLAY_PATH),
    })
}
