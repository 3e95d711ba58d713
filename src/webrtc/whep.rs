//! WHEP (WebRTC-HTTP Egress Protocol) sessions: the claims sealed into a
//! `GetWHEPStreamingSessionURL` token, and turning a viewer's SDP offer into an answer and a peer
//! connection handed to the driver.
//!
//! A token grants "play stream S live until time T" and is sealed with the same key as HLS/DASH
//! session tokens, with a kind of its own, so no token of one kind opens the other. The session
//! resource a POST creates is named by a random 128-bit id (the WHEP resource URL is its
//! capability, as the WHEP draft describes); PATCH (trickle ICE) and DELETE use it. No HTTP here.

use serde::{Deserialize, Serialize};
use str0m::Candidate;
use str0m::change::SdpOffer;

use super::{WebRtc, WebRtcError};

/// The token kind marker (HLS/DASH claims use `h`/`d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WhepKind {
    /// WHEP live view.
    #[serde(rename = "w")]
    Whep,
}

/// What a WHEP session URL grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhepClaims {
    /// Always [`WhepKind::Whep`].
    #[serde(rename = "k")]
    pub kind: WhepKind,
    /// The stream's index id.
    #[serde(rename = "s")]
    pub stream_id: i64,
    /// The stream's name (logs).
    #[serde(rename = "n")]
    pub stream_name: String,
    /// Until when new viewers may start, epoch ms.
    #[serde(rename = "z")]
    pub expires_ms: i64,
}

/// Longest SDP offer accepted, bytes (browsers send 3–8 kB).
pub const MAX_OFFER_BYTES: usize = 64 * 1024;

impl WebRtc {
    /// Seals a WHEP token for `stream_id`, valid for `expires_secs` from `now_ms`.
    pub fn whep_token(&self, stream_id: i64, stream_name: &str, now_ms: i64, expires_secs: i64) -> String {
        let claims = WhepClaims {
            kind: WhepKind::Whep,
            stream_id,
            stream_name: stream_name.to_owned(),
            expires_ms: now_ms + expires_secs * 1000,
        };
        self.token_key.seal(&serde_json::to_vec(&claims).expect("claims serialize"))
    }

    /// Opens a WHEP token: forged, malformed or of another kind → `InvalidToken`; past its
    /// expiry → `ExpiredToken`.
    pub fn open_whep_token(&self, token: &str, now_ms: i64) -> Result<WhepClaims, WebRtcError> {
        let payload = self.token_key.open(token).ok_or(WebRtcError::InvalidToken)?;
        let claims: WhepClaims = serde_json::from_slice(&payload).map_err(|_| WebRtcError::InvalidToken)?;
        if now_ms >= claims.expires_ms {
            return Err(WebRtcError::ExpiredToken);
        }
        Ok(claims)
    }

    /// Answers a viewer's offer and starts its peer connection: returns the session id and the
    /// SDP answer (with this server's host candidates; ICE completes within the connect timeout
    /// or the session is dropped).
    pub async fn start_viewer(
        &self,
        claims: &WhepClaims,
        offer: &str,
    ) -> Result<(String, String), WebRtcError> {
        if offer.len() > MAX_OFFER_BYTES {
            return Err(WebRtcError::BadOffer("the SDP offer is too large".into()));
        }
        let offer = SdpOffer::from_sdp_string(offer).map_err(|e| WebRtcError::BadOffer(e.to_string()))?;
        if !offer.to_sdp_string().contains("m=video") && !offer.to_sdp_string().contains("m=audio") {
            return Err(WebRtcError::BadOffer("the SDP offer has no audio or video media".into()));
        }
        let mut rtc = self.new_rtc();
        let answer = rtc.sdp_api().accept_offer(offer).map_err(|e| WebRtcError::BadOffer(e.to_string()))?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        self.add_session(super::driver::DriverInput::AddViewer {
            id: id.clone(),
            stream_id: claims.stream_id,
            rtc: Box::new(rtc),
            offered: Vec::new(),
            ended: None,
        })
        .await?;
        Ok((id, answer.to_sdp_string()))
    }

    /// Adds trickled candidates (an `application/trickle-ice-sdpfrag` body) to a session.
    pub async fn trickle(&self, id: &str, sdpfrag: &str) -> Result<(), WebRtcError> {
        if sdpfrag.len() > MAX_OFFER_BYTES {
            return Err(WebRtcError::BadOffer("the SDP fragment is too large".into()));
        }
        let mut candidates = Vec::new();
        for line in sdpfrag.lines() {
            let line = line.trim();
            if let Some(attr) = line.strip_prefix("a=candidate:") {
                // Candidates this side cannot use (mDNS `.local` names, unknown transports) are
                // skipped, as a browser skips them: ICE may still succeed on the others.
                match Candidate::from_sdp_string(&format!("candidate:{attr}")) {
                    Ok(c) => candidates.push(c),
                    Err(e) => tracing::debug!(session = %id, "skipped remote candidate {attr:?}: {e}"),
                }
            }
        }
        let (done, reply) = tokio::sync::oneshot::channel();
        self.send(super::driver::DriverInput::Candidates { id: id.to_owned(), candidates, done }).await?;
        match reply.await {
            Ok(true) => Ok(()),
            Ok(false) => Err(WebRtcError::SessionNotFound),
            Err(_) => Err(WebRtcError::Unavailable),
        }
    }

    /// Ends a session.
    pub async fn close_session(&self, id: &str) -> Result<(), WebRtcError> {
        let (done, reply) = tokio::sync::oneshot::channel();
        self.send(super::driver::DriverInput::Close { id: id.to_owned(), done }).await?;
        match reply.await {
            Ok(true) => Ok(()),
            Ok(false) => Err(WebRtcError::SessionNotFound),
            Err(_) => Err(WebRtcError::Unavailable),
        }
    }
}
