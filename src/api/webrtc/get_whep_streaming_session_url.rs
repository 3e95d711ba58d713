//! `POST /openkvs/getWHEPStreamingSessionURL`: an openkvs extension (the WebRTC counterpart of
//! `GetHLSStreamingSessionURL`). Returns a WHEP endpoint URL for live, sub-second viewing of a
//! stream over WebRTC; its `SessionToken` is sealed and expires like an HLS session's. Unlike HLS
//! LIVE, the stream needs neither data retention nor recent fragments: a viewer sees frames as
//! ingest receives them, from the next key frame (or the last one at once).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use crate::api::aws::{AwsError, AwsErrorCode, AwsJson, Operation};
use crate::api::streams::{StreamRef, resolve};
use crate::api::{AppState, ListenerInfo, public_base_url};
use crate::auth::Caller;

/// The operation this file serves.
pub const OPERATION: Operation = Operation::GetWHEPStreamingSessionURL;

/// `GetWHEPStreamingSessionURL` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Input {
    /// The stream, by name.
    pub stream_name: Option<String>,
    /// The stream, by ARN.
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    /// Seconds the URL accepts new viewers (300..=43200, default 300, as HLS).
    pub expires: Option<i64>,
}

/// `GetWHEPStreamingSessionURL` output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    /// The WHEP endpoint: POST an SDP offer (`application/sdp`) to it.
    #[serde(rename = "WHEPStreamingSessionURL")]
    pub whep_streaming_session_url: String,
}

/// Creates a WHEP session URL.
pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(listener): Extension<ListenerInfo>,
    headers: HeaderMap,
    AwsJson(input): AwsJson<Input>,
) -> Result<Json<Output>, AwsError> {
    let stream_ref = StreamRef::from_pair(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        AwsErrorCode::InvalidArgumentException,
    )?;
    let expires = input.expires.unwrap_or(300);
    if !(300..=43200).contains(&expires) {
        return Err(AwsError::invalid_argument(format!(
            "1 validation error detected: Value '{expires}' at 'expires' failed to satisfy constraint: Member must have value between 300 and 43200"
        )));
    }
    let stream = resolve(&state, &caller, OPERATION, &stream_ref).await?;
    let webrtc = state.webrtc.as_ref().ok_or(crate::webrtc::WebRtcError::Unavailable)?;
    let token = webrtc.whep_token(stream.id, stream.name.as_str(), state.clock.now_millis(), expires);
    let base = public_base_url(&state.settings, &listener, &headers);
    Ok(Json(Output {
        whep_streaming_session_url: format!("{base}{}?SessionToken={token}", super::whep_resource::PLAY_PATH),
    }))
}
