//! The WebRTC media edge: `JoinStorageSession` (`kinesis-video-webrtc-storage`),
//! `GetWHEPStreamingSessionURL` (an openkvs extension, SigV4, documented in
//! `docs/openapi/webrtc.yaml`) and the WHEP session resources under `/whep/v1/` it hands out
//! (authorized by their `SessionToken` or session id, like the HLS/DASH resources). One file per
//! operation or resource family; the WebRTC work itself is `crate::webrtc`.

pub mod get_whep_streaming_session_url;
pub mod join_storage_session;
pub mod whep_resource;

use axum::Router;
use axum::routing::{patch, post};

use super::AppState;
use super::aws::{AwsError, AwsErrorCode};
use crate::webrtc::WebRtcError;

/// The WebRTC routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(get_whep_streaming_session_url::OPERATION.path(), post(get_whep_streaming_session_url::handle))
        .route(join_storage_session::OPERATION.path(), post(join_storage_session::handle))
        .route(whep_resource::PLAY_PATH, post(whep_resource::create))
        .route("/whep/v1/sessions/{id}", patch(whep_resource::trickle).delete(whep_resource::delete))
}

impl From<WebRtcError> for AwsError {
    fn from(e: WebRtcError) -> Self {
        use AwsErrorCode as C;
        match e {
            WebRtcError::InvalidToken => {
                AwsError::new(C::NotAuthorizedException, "The SessionToken is not valid.")
            }
            WebRtcError::ExpiredToken => {
                AwsError::new(C::NotAuthorizedException, "The SessionToken has expired.")
            }
            WebRtcError::BadOffer(d) => {
                AwsError::invalid_argument("The SDP offer cannot be used.").with_detail(d)
            }
            WebRtcError::SessionNotFound => {
                AwsError::new(C::ResourceNotFoundException, "The WebRTC session does not exist.")
            }
            WebRtcError::TooManySessions => {
                AwsError::new(C::ServiceUnavailable, "Too many WebRTC sessions; try again later.")
            }
            WebRtcError::Unavailable => {
                AwsError::new(C::ServiceUnavailable, "The WebRTC media endpoint is not running.")
            }
        }
    }
}
