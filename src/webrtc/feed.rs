//! One stream's live feed made ready for RTP, shared by every WHEP viewer of the stream.
//!
//! A feed task subscribes once to the ingest live feed ([`crate::ingest::LiveHub`]), reads each
//! fragment's track headers, and turns every frame of the first H.264 track and the first Opus
//! track into a [`FeedFrame`]: an Annex B access unit (parameter sets in front of key frames) or an
//! Opus packet, with its RTP time derived from the producer timestamp (so a viewer can compute
//! glass-to-glass latency from the RTP timestamp), in a shared buffer. The driver fans each frame
//! out to the stream's viewers; the conversion happens once per frame, not once per viewer. Other
//! codecs (H.265, AAC, G.711) are not sent: WebRTC has no AAC, and nothing is transcoded.
//!
//! Frames are forwarded as ingest receives them, before the fragment is complete or persisted.
//! No socket I/O here; the task ends when the driver aborts it or the stream is deleted.

use std::sync::Arc;

use bytes::Bytes;
use str0m::media::{Frequency, MediaTime};
use tokio::sync::{broadcast, mpsc};

use super::driver::DriverInput;
use crate::ingest::{LiveEvent, LiveHub};
use crate::media::annexb::avcc_frame_to_annex_b;
use crate::media::codec::h264::AvcConfig;
use crate::media::mkv::tracks::TrackKind;
use crate::media::samples::header_entries;

/// Which media line a frame goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedTrack {
    /// The H.264 video track.
    Video,
    /// The Opus audio track.
    Audio,
}

/// One frame, ready for an RTP packetizer.
#[derive(Debug, Clone)]
pub struct FeedFrame {
    /// Video or audio.
    pub track: FeedTrack,
    /// A random access point (IDR, with SPS and PPS in front). Always true for audio.
    pub keyframe: bool,
    /// RTP time: producer time in the codec's clock (90 kHz video, 48 kHz Opus).
    pub rtp_time: MediaTime,
    /// Producer timestamp, epoch ms.
    pub producer_ms: i64,
    /// Annex B access unit or Opus packet.
    pub data: Arc<[u8]>,
}

/// The tracks of the current header set that can be forwarded.
#[derive(Debug, Default)]
struct ForwardedTracks {
    /// The header bytes these were read from (re-read only when they change).
    header: Bytes,
    timecode_scale_ns: u64,
    video: Option<(u64, AvcConfig)>,
    /// Opus track number and its DefaultDuration (laced frames).
    audio: Option<(u64, Option<u64>)>,
}

impl ForwardedTracks {
    fn read(header: &Bytes) -> Self {
        let mut out =
            ForwardedTracks { header: header.clone(), timecode_scale_ns: 1_000_000, ..Default::default() };
        let Ok((entries, scale)) = header_entries(header) else { return out };
        out.timecode_scale_ns = scale;
        for e in entries {
            let id = e.codec_id.trim_end_matches('\0');
            if out.video.is_none() && matches!(e.kind, TrackKind::Video) && id == "V_MPEG4/ISO/AVC" {
                if let Some(avc) = e.codec_private.as_ref().and_then(|p| AvcConfig::parse(p).ok()) {
                    out.video = Some((e.number, avc));
                }
            } else if out.audio.is_none() && matches!(e.kind, TrackKind::Audio) && id == "A_OPUS" {
                out.audio = Some((e.number, e.default_duration_ns));
            }
        }
        out
    }
}

/// Converts live events to feed frames (pure; the task below drives it).
#[derive(Debug, Default)]
pub struct FeedConverter {
    tracks: ForwardedTracks,
    fragment_start_ms: i64,
}

impl FeedConverter {
    /// The frame for `event`, if it is a forwardable frame.
    pub fn convert(&mut self, event: &LiveEvent) -> Option<FeedFrame> {
        match event {
            LiveEvent::FragmentStarted { header, producer_ts_ms, .. } => {
                if *header != self.tracks.header {
                    self.tracks = ForwardedTracks::read(header);
                }
                self.fragment_start_ms = *producer_ts_ms;
                None
            }
            LiveEvent::Frame { frame, .. } => {
                let scale = i128::from(self.tracks.timecode_scale_ns);
                let rel_ns = i128::from(frame.timecode_rel) * scale;
                match (&self.tracks.video, &self.tracks.audio) {
                    (Some((n, avc)), _) if *n == frame.track => {
                        let data = avcc_frame_to_annex_b(avc, &frame.data, frame.keyframe).ok()?;
                        let ns = i128::from(self.fragment_start_ms) * 1_000_000 + rel_ns;
                        Some(FeedFrame {
                            track: FeedTrack::Video,
                            keyframe: frame.keyframe,
                            rtp_time: rtp_time(ns, Frequency::NINETY_KHZ),
                            producer_ms: (ns / 1_000_000) as i64,
                            data: data.into(),
                        })
                    }
                    (_, Some((n, default_ns))) if *n == frame.track => {
                        let lace =
                            i128::from(default_ns.unwrap_or(20_000_000)) * i128::from(frame.lace_index);
                        let ns = i128::from(self.fragment_start_ms) * 1_000_000 + rel_ns + lace;
                        Some(FeedFrame {
                            track: FeedTrack::Audio,
                            keyframe: true,
                            rtp_time: rtp_time(ns, Frequency::FORTY_EIGHT_KHZ),
                            producer_ms: (ns / 1_000_000) as i64,
                            data: Arc::from(&frame.data[..]),
                        })
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// `ns` since the epoch in `clock` units, modulo 2^32 (the RTP timestamp field's width).
fn rtp_time(ns: i128, clock: Frequency) -> MediaTime {
    let units = ns.max(0) * i128::from(clock.get()) / 1_000_000_000;
    MediaTime::new((units % (1i128 << 32)) as u64, clock)
}

/// Runs one stream's feed until the stream is deleted or the task is aborted.
pub async fn run(stream_id: i64, live: Arc<dyn LiveSource>, driver: mpsc::Sender<DriverInput>) {
    let mut rx = live.subscribe(stream_id);
    let mut converter = FeedConverter::default();
    loop {
        match rx.recv().await {
            Ok(event) => {
                if matches!(*event, LiveEvent::StreamDeleted) {
                    let _ = driver.send(DriverInput::StreamEnded { stream_id }).await;
                    return;
                }
                if matches!(*event, LiveEvent::Gap) {
                    // Frames lost between nodes: as below.
                    if driver.send(DriverInput::FeedGap { stream_id }).await.is_err() {
                        return;
                    }
                    continue;
                }
                if let Some(frame) = converter.convert(&event)
                    && driver.send(DriverInput::Frame { stream_id, frame: Arc::new(frame) }).await.is_err()
                {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {
                // Frames were lost: viewers must not decode past the gap.
                if driver.send(DriverInput::FeedGap { stream_id }).await.is_err() {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Where feeds subscribe: the ingest live hub (a trait so the driver holds no ingest type).
pub trait LiveSource: Send + Sync + 'static {
    /// Subscribes to a stream's live events.
    fn subscribe(&self, stream_id: i64) -> broadcast::Receiver<Arc<LiveEvent>>;
}

impl LiveSource for crate::ingest::Ingest {
    fn subscribe(&self, stream_id: i64) -> broadcast::Receiver<Arc<LiveEvent>> {
        LiveHub::subscribe(self.live(), stream_id)
    }
}
