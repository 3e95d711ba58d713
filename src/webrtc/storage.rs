//! WebRTC ingestion (JoinStorageSession): the storage peer that joins a channel through openkvs's
//! own signaling, receives the master's H.264 + Opus, and records it into the mapped stream.
//!
//! One task per storage session: it connects to the signaling hub as a viewer
//! (`storage-<random>`), sends the master an SDP offer (receive-only video and audio, this
//! server's host candidates), hands the master's answer and ICE candidates to the driver, asks for
//! a key frame (PLI) on connect, after loss and every [`KEYFRAME_INTERVAL`] (browsers send key
//! frames only when asked; each becomes a fragment), and turns received frames into a live
//! Matroska stream ([`crate::media::mkv::live_mux`]) that goes through PutMedia's ingest path
//! in-process (`ingest::session::run` with a body built here): the same fragmenter, numbering,
//! ACK rules and persister as any producer, so the recording plays through HLS/DASH/GetClip and
//! WHEP like any stream. Audio is stored as Opus (A_OPUS).
//!
//! Timestamps: each track's first frame is anchored at the wall clock of its arrival; later
//! frames advance by their RTP time. A newer JoinStorageSession for the channel replaces this one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::{Value, json};
use str0m::Candidate;
use str0m::change::SdpAnswer;
use str0m::media::{Direction, MediaKind};
use tokio::sync::{mpsc, oneshot};

use super::driver::{DriverInput, ReceivedMedia};
use super::{WebRtc, WebRtcError};
use crate::cluster::{ClaimError, Cluster};
use crate::ingest::session::{body_stream, run};
use crate::ingest::{AckKind, Ingest, SessionParams};
use crate::media::annexb::{annex_b_to_avcc, avcc_record};
use crate::media::codec::h264::sps_info;
use crate::media::fragment::TimecodeType;
use crate::media::mkv::live_mux::{LiveAudio, LiveMuxer, LiveVideo};
use crate::model::Stream;
use crate::signaling::{Inbound, Outbound, Role, SignalingHub};

/// How often the sender is asked for a key frame: the fragment length of a WebRTC recording.
pub const KEYFRAME_INTERVAL: Duration = Duration::from_secs(2);

/// Where a storage session records.
#[derive(Debug, Clone)]
pub struct StorageTarget {
    /// The signaling channel's index id.
    pub channel_id: i64,
    /// How long signaling holds messages for a peer that is not connected.
    pub message_ttl: Duration,
    /// The mapped stream.
    pub stream: Stream,
    /// Cluster mode: the recording claims the stream's writer epoch, as a PutMedia does, and
    /// commits every fragment under it (design/0020-cluster.md), so a node that lost the stream
    /// commits nothing more of it.
    pub cluster: Option<Arc<Cluster>>,
}

/// Per-track wall-clock anchoring of RTP times.
#[derive(Debug, Default, Clone, Copy)]
struct Anchor {
    first: Option<(f64, i64)>,
}

impl Anchor {
    fn ms(&mut self, rtp_seconds: f64, now_ms: i64) -> i64 {
        let (t0, w0) = *self.first.get_or_insert((rtp_seconds, now_ms));
        w0 + ((rtp_seconds - t0) * 1000.0).round() as i64
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Received frames → Matroska bytes.
#[derive(Debug, Default)]
struct Recorder {
    muxer: Option<LiveMuxer>,
    sps: Vec<u8>,
    pps: Vec<u8>,
    video_clock: Anchor,
    audio_clock: Anchor,
}

impl Recorder {
    fn push(&mut self, m: &ReceivedMedia) -> Vec<u8> {
        let now = now_ms();
        match m.kind {
            MediaKind::Video => {
                let ts = self.video_clock.ms(m.time.as_seconds(), now);
                let frame = annex_b_to_avcc(&m.data);
                let mut out = Vec::new();
                if let (Some(sps), Some(pps)) = (&frame.sps, &frame.pps)
                    && (*sps != self.sps || *pps != self.pps)
                    && let Some(avcc) = avcc_record(sps, pps)
                {
                    // New parameter sets (first key frame, or a resolution change): a new header set.
                    let (width, height) = sps_info(sps).map(|i| (i.width, i.height)).unwrap_or((0, 0));
                    self.sps = sps.clone();
                    self.pps = pps.clone();
                    self.muxer = Some(LiveMuxer::new(
                        Some(LiveVideo { avcc, width, height }),
                        Some(LiveAudio { channels: 2 }),
                    ));
                }
                if let Some(mux) = &mut self.muxer
                    && !frame.data.is_empty()
                {
                    out.extend(mux.push_video(ts, frame.keyframe, &frame.data));
                }
                out
            }
            MediaKind::Audio => {
                let ts = self.audio_clock.ms(m.time.as_seconds(), now);
                match &mut self.muxer {
                    Some(mux) => mux.push_audio(ts, &m.data),
                    None => Vec::new(),
                }
            }
        }
    }
}

/// A signaling payload: base64 of a JSON object (the KVS SDKs' encoding).
pub(super) fn encode_payload(v: &Value) -> String {
    STANDARD.encode(v.to_string())
}

/// The JSON object inside a signaling payload.
pub(super) fn decode_payload(payload: &str) -> Option<Value> {
    let bytes = STANDARD.decode(payload.trim()).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The candidate of an ICE_CANDIDATE payload (`{"candidate": "candidate:…", …}`); `None` for the
/// end-of-candidates marker and for candidates this side cannot use.
pub(super) fn remote_candidate(v: &Value) -> Option<Candidate> {
    let line = v["candidate"].as_str().unwrap_or_default();
    let line = line.trim().trim_start_matches("a=");
    if line.is_empty() {
        return None;
    }
    Candidate::from_sdp_string(line).ok()
}

impl WebRtc {
    /// Starts a storage session for `target` (replacing the channel's previous one) and returns at
    /// once; the offer reaches the master through signaling. `joined` is when the request
    /// arrived (logged with the first PERSISTED fragment).
    pub fn join_storage_session(
        self: &Arc<Self>,
        signaling: Arc<SignalingHub>,
        ingest: Arc<Ingest>,
        target: StorageTarget,
        joined: Instant,
    ) -> Result<(), WebRtcError> {
        if self.session_count() >= self.config.max_sessions {
            return Err(WebRtcError::TooManySessions);
        }
        let me = self.clone();
        let channel_id = target.channel_id;
        let task = tokio::spawn(async move {
            let stream_name = target.stream.name.to_string();
            if let Err(e) = me.storage_session(signaling, ingest, target, joined).await {
                tracing::info!(stream = %stream_name, "storage session ended: {e}");
            }
        });
        let mut sessions = self.storage_sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|_, t| !t.is_finished());
        if let Some(old) = sessions.insert(channel_id, task) {
            old.abort();
        }
        Ok(())
    }

    async fn storage_session(
        &self,
        signaling: Arc<SignalingHub>,
        ingest: Arc<Ingest>,
        target: StorageTarget,
        joined: Instant,
    ) -> Result<(), WebRtcError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let role = Role::Viewer(format!("storage-{}", &id[..12]));
        let mut conn = signaling
            .connect(target.channel_id, role.clone())
            .map_err(|e| WebRtcError::BadOffer(format!("cannot join the channel: {e}")))?;
        let mut rtc = self.new_rtc();
        let mut api = rtc.sdp_api();
        let video_mid = api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
        api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
        let (offer, pending) = api.apply().ok_or_else(|| WebRtcError::BadOffer("no offer".into()))?;
        let (media_tx, mut media_rx) = mpsc::channel::<ReceivedMedia>(512);
        self.add_session(DriverInput::AddStorage {
            id: id.clone(),
            rtc: Box::new(rtc),
            video_mid,
            media: media_tx,
        })
        .await?;
        let _close = CloseOnDrop { webrtc: self, id: id.clone() };
        let offer_msg = Inbound {
            action: "SDP_OFFER".into(),
            recipient_client_id: None,
            message_payload: encode_payload(&json!({"type": "offer", "sdp": offer.to_sdp_string()})),
            correlation_id: None,
        };
        signaling
            .relay(target.channel_id, target.message_ttl, &role, offer_msg)
            .map_err(|r| WebRtcError::BadOffer(format!("the offer was refused: {}", r.description)))?;
        tracing::info!(stream = %target.stream.name, session = %id, "storage session offered to the master");

        let mut pending = Some(pending);
        let mut recorder = Recorder::default();
        let mut body: Option<mpsc::Sender<Result<Bytes, String>>> = None;
        let mut keyframes = tokio::time::interval(KEYFRAME_INTERVAL);
        loop {
            tokio::select! {
                msg = conn.inbox.recv() => match msg {
                    Some(Outbound::Relay { message_type, message_payload, .. }) => {
                        let Some(v) = decode_payload(&message_payload) else { continue };
                        match message_type.as_str() {
                            "SDP_ANSWER" => {
                                let Some(p) = pending.take() else { continue };
                                let sdp = v["sdp"].as_str().unwrap_or_default();
                                let answer = SdpAnswer::from_sdp_string(sdp)
                                    .map_err(|e| WebRtcError::BadOffer(format!("the master's answer: {e}")))?;
                                let (done, reply) = oneshot::channel();
                                self.send(DriverInput::Answer { id: id.clone(), pending: Box::new(p), answer: Box::new(answer), done }).await?;
                                if reply.await != Ok(true) {
                                    return Err(WebRtcError::BadOffer("the master's answer was not accepted".into()));
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
                    Some(Outbound::GoAway) | None => return Ok(()),
                    Some(_) => {}
                },
                media = media_rx.recv() => {
                    let Some(media) = media else { return Ok(()) };
                    let bytes = recorder.push(&media);
                    if bytes.is_empty() {
                        continue;
                    }
                    if body.is_none() {
                        body = Some(start_ingest(&ingest, &target, joined).await?);
                    }
                    if let Some(tx) = &body
                        && tx.send(Ok(Bytes::from(bytes))).await.is_err()
                    {
                        return Err(WebRtcError::BadOffer("the recording ended".into()));
                    }
                }
                _ = keyframes.tick() => {
                    let _ = self.send(DriverInput::RequestKeyframe { id: id.clone() }).await;
                }
            }
        }
    }
}

/// Starts the in-process PutMedia session that records the Matroska bytes; its ACKs are logged
/// (the first PERSISTED with the time since JoinStorageSession). In cluster mode it first claims
/// the stream's writer epoch, refused while another live node's session holds it, and keeps the
/// lease until the session's last ACK; a fenced commit ends the recording (ERROR 5000).
async fn start_ingest(
    ingest: &Arc<Ingest>,
    target: &StorageTarget,
    joined: Instant,
) -> Result<mpsc::Sender<Result<Bytes, String>>, WebRtcError> {
    let stream = &target.stream;
    // A replaced session's recording may still be finishing: wait briefly for its slot.
    let deadline = Instant::now() + Duration::from_secs(5);
    let slot = loop {
        match ingest.register(stream.id) {
            Ok(slot) => break slot,
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(_) => {
                return Err(WebRtcError::BadOffer("the stream is being written by another producer".into()));
            }
        }
    };
    let lease = match &target.cluster {
        Some(cluster) => Some(cluster.claim_writer(stream.id).await.map_err(|e| match e {
            ClaimError::HeldElsewhere { node_id } => {
                WebRtcError::BadOffer(format!("the stream is being written by a producer on node {node_id}"))
            }
            ClaimError::Index(e) => WebRtcError::BadOffer(format!("claiming the stream's writer epoch: {e}")),
        })?),
        None => None,
    };
    let (tx, rx) = mpsc::channel::<Result<Bytes, String>>(256);
    let body = body_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    let params = SessionParams {
        stream: stream.clone(),
        timecode_type: TimecodeType::Absolute,
        producer_start_timestamp: None,
        remote: None,
        writer_epoch: lease.as_ref().map(|l| l.epoch()),
    };
    let mut acks = run(ingest.clone(), slot, params, body);
    let name = stream.name.to_string();
    tokio::spawn(async move {
        // The writer lease lives as long as the session's ACKs.
        let _lease = lease;
        let mut first = true;
        while let Some(ack) = acks.recv().await {
            match &ack.kind {
                AckKind::Persisted if first => {
                    first = false;
                    tracing::info!(
                        stream = %name,
                        ms = joined.elapsed().as_millis() as u64,
                        "WebRTC recording: first fragment persisted after JoinStorageSession"
                    );
                }
                AckKind::Error(error) => {
                    tracing::warn!(stream = %name, error = error.name(), "WebRTC recording: ingest error");
                }
                _ => {}
            }
        }
    });
    Ok(tx)
}

/// Ends the driver's peer when the session task ends (or is aborted by a newer join).
pub(super) struct CloseOnDrop<'a> {
    pub(super) webrtc: &'a WebRtc,
    pub(super) id: String,
}

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        let (done, _reply) = oneshot::channel();
        let _ = self.webrtc.driver.try_send(DriverInput::Close { id: self.id.clone(), done });
    }
}
