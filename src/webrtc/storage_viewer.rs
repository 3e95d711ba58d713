//! JoinStorageSessionAsViewer: a viewer joins the storage session of a channel, and this server,
//! acting as the master toward that viewer, sends it the live media of the channel's mapped stream
//! (and receives its microphone, if it sends one).
//!
//! One task per (channel, ClientId): it attaches to the viewer's signaling
//! ([`SignalingHub::attach_session_viewer`]: the viewer's answer and candidates come here instead
//! of going to the camera), makes the SDP offer (video send-only, audio send-receive, this
//! server's host candidates) and sends it to the viewer as its master would (held for the
//! channel's message TTL if the viewer is not connected yet), then hands the answer and the
//! trickled candidates to the driver. The media are the WHEP fan-out's: the stream's live feed,
//! converted once and written to every viewer, starting at a key frame. The viewer's audio is
//! received (SRTP, depacketized, counted in `openkvs_webrtc_viewer_audio_frames`) and dropped:
//! it is neither stored nor forwarded to the camera. A newer call for the same viewer replaces the
//! session; the session ends when the peer disconnects or never connects.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use str0m::change::SdpAnswer;
use str0m::media::{Direction, MediaKind};
use tokio::sync::oneshot;

use super::driver::DriverInput;
use super::storage::{CloseOnDrop, decode_payload, encode_payload, remote_candidate};
use super::{WebRtc, WebRtcError};
use crate::signaling::{Outbound, SignalingHub};

/// Whom a storage-session viewer session serves.
#[derive(Debug, Clone)]
pub struct ViewerTarget {
    /// The signaling channel's index id.
    pub channel_id: i64,
    /// How long signaling holds messages for a viewer that is not connected.
    pub message_ttl: Duration,
    /// The viewer's ClientId.
    pub client_id: String,
    /// The channel's mapped stream (index id), whose live media the viewer gets.
    pub stream_id: i64,
}

impl WebRtc {
    /// Starts (or restarts) the session of `target`'s viewer and returns at once; the offer
    /// reaches the viewer through signaling.
    pub fn join_storage_session_as_viewer(
        self: &Arc<Self>,
        signaling: Arc<SignalingHub>,
        target: ViewerTarget,
    ) -> Result<(), WebRtcError> {
        if self.session_count() >= self.config.max_sessions {
            return Err(WebRtcError::TooManySessions);
        }
        let me = self.clone();
        let key = (target.channel_id, target.client_id.clone());
        let task = tokio::spawn(async move {
            let client_id = target.client_id.clone();
            if let Err(e) = me.viewer_session(&signaling, target).await {
                tracing::info!(client_id = %client_id, "storage-session viewer ended: {e}");
            }
        });
        let mut sessions = self.viewer_sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|_, t| !t.is_finished());
        if let Some(old) = sessions.insert(key, task) {
            old.abort();
        }
        Ok(())
    }

    async fn viewer_session(
        &self,
        signaling: &SignalingHub,
        target: ViewerTarget,
    ) -> Result<(), WebRtcError> {
        let mut link = signaling.attach_session_viewer(target.channel_id, &target.client_id);
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut rtc = self.new_rtc();
        let mut api = rtc.sdp_api();
        let video = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        let audio = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = api.apply().ok_or_else(|| WebRtcError::BadOffer("no offer".into()))?;
        let (ended_tx, mut ended) = oneshot::channel::<()>();
        self.add_session(DriverInput::AddViewer {
            id: id.clone(),
            stream_id: target.stream_id,
            rtc: Box::new(rtc),
            offered: vec![(video, MediaKind::Video), (audio, MediaKind::Audio)],
            ended: Some(ended_tx),
        })
        .await?;
        let _close = CloseOnDrop { webrtc: self, id: id.clone() };
        let payload = encode_payload(&json!({"type": "offer", "sdp": offer.to_sdp_string()}));
        signaling
            .send_to_viewer(target.channel_id, target.message_ttl, &target.client_id, "SDP_OFFER", payload)
            .map_err(|r| WebRtcError::BadOffer(format!("the offer was refused: {}", r.description)))?;
        tracing::info!(client_id = %target.client_id, session = %id, "storage session offered to a viewer");

        let mut pending = Some(pending);
        loop {
            tokio::select! {
                msg = link.inbox.recv() => match msg {
                    Some(Outbound::Relay { message_type, message_payload, .. }) => {
                        let Some(v) = decode_payload(&message_payload) else { continue };
                        match message_type.as_str() {
                            "SDP_ANSWER" => {
                                let Some(p) = pending.take() else { continue };
                                let answer = SdpAnswer::from_sdp_string(v["sdp"].as_str().unwrap_or_default())
                                    .map_err(|e| WebRtcError::BadOffer(format!("the viewer's answer: {e}")))?;
                                let (done, reply) = oneshot::channel();
                                self.send(DriverInput::Answer { id: id.clone(), pending: Box::new(p), answer: Box::new(answer), done }).await?;
                                if reply.await != Ok(true) {
                                    return Err(WebRtcError::BadOffer("the viewer's answer was not accepted".into()));
                                }
                            }
                            "ICE_CANDIDATE" => {
                                if let Some(c) = remote_candidate(&v) {
                                    let (done, _reply) = oneshot::channel();
                                    self.send(DriverInput::Candidates { id: id.clone(), candidates: vec![c], done }).await?;
                                }
                            }
                            _ => {}
                        }
                    }
                    // Replaced by a newer attachment for this viewer, or the hub is gone.
                    Some(_) | None => return Ok(()),
                },
                // The driver dropped the peer: disconnected, closed or never connected.
                _ = &mut ended => return Ok(()),
            }
        }
    }
}
