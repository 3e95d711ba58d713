//! openkvs's WebRTC live view (outside the AWS surface, documented in `docs/openapi/webrtc.yaml`):
//! `GetWHEPStreamingSessionURL` (SigV4, the WebRTC counterpart of `GetHLSStreamingSessionURL`) and
//! the WHEP session resources under `/whep/v1/` it hands out (authorized by their `SessionToken` or
//! session id, like the HLS/DASH resources).
//! One file per operation or resource family; the WebRTC work itself is `crate::webrtc`.

pub mod get_whep_streaming_session_url;
pub mod whep_resource;
