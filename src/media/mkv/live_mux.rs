//! A live Matroska writer for media that arrives frame by frame (WebRTC ingestion): the header set
//! (EBML header, a Segment of unknown size, Info, Tracks) once, then one unknown-size Cluster per
//! video key frame, each frame a SimpleBlock as soon as it arrives. The output is what a KVS
//! producer sends with ABSOLUTE timecodes (TimecodeScale 1 ms, Cluster Timecode = epoch ms), so
//! it goes through PutMedia's fragmenter unchanged: one Cluster is one fragment.
//!
//! Owns cluster boundaries and block timecodes: a Cluster starts on a video key frame (or on the
//! first audio frame of an audio-only set); frames before the first Cluster, and frames too far
//! from their Cluster's start for a 16-bit relative timecode, are dropped (the caller asks the
//! sender for key frames often enough that this does not happen). Pure: bytes out, no I/O.

use super::ids;
use crate::media::ebml::writer::EbmlWriter;

/// Track number of the video track.
pub const VIDEO_TRACK: u64 = 1;
/// Track number of the audio track (2 with video, 1 without).
const AUDIO_TRACK_WITH_VIDEO: u64 = 2;

/// The H.264 video track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveVideo {
    /// The `avcC` record (CodecPrivate).
    pub avcc: Vec<u8>,
    /// Coded width, pixels (0 if unknown).
    pub width: u32,
    /// Coded height, pixels (0 if unknown).
    pub height: u32,
}

/// The Opus audio track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveAudio {
    /// Channels (WebRTC Opus is negotiated as 2).
    pub channels: u8,
}

/// The `OpusHead` identification header (RFC 7845 5.1), the CodecPrivate of `A_OPUS`: version 1,
/// `channels`, a pre-skip of 312 samples, 48 kHz input rate, no gain, mapping family 0.
pub fn opus_head(channels: u8) -> [u8; 19] {
    let mut h = [0u8; 19];
    h[..8].copy_from_slice(b"OpusHead");
    h[8] = 1;
    h[9] = channels;
    h[10..12].copy_from_slice(&312u16.to_le_bytes());
    h[12..16].copy_from_slice(&48_000u32.to_le_bytes());
    h
}

/// See the module documentation.
#[derive(Debug)]
pub struct LiveMuxer {
    video: Option<LiveVideo>,
    audio: Option<LiveAudio>,
    cluster_start_ms: Option<i64>,
    header_sent: bool,
}

impl LiveMuxer {
    /// A muxer for these tracks (at least one).
    pub fn new(video: Option<LiveVideo>, audio: Option<LiveAudio>) -> Self {
        Self { video, audio, cluster_start_ms: None, header_sent: false }
    }

    /// The tracks this muxer writes.
    pub fn tracks(&self) -> (Option<&LiveVideo>, Option<&LiveAudio>) {
        (self.video.as_ref(), self.audio.as_ref())
    }

    fn audio_track(&self) -> u64 {
        if self.video.is_some() { AUDIO_TRACK_WITH_VIDEO } else { 1 }
    }

    fn header(&self) -> Vec<u8> {
        let mut w = EbmlWriter::new();
        let ebml = w.start_master(ids::EBML);
        w.uint(ids::EBML_VERSION, 1)
            .uint(ids::EBML_READ_VERSION, 1)
            .uint(ids::EBML_MAX_ID_LENGTH, 4)
            .uint(ids::EBML_MAX_SIZE_LENGTH, 8)
            .string(ids::DOC_TYPE, "matroska")
            .uint(ids::DOC_TYPE_VERSION, 4)
            .uint(ids::DOC_TYPE_READ_VERSION, 2);
        w.end_master(ebml);
        w.unknown_size_header(ids::SEGMENT, 8);
        let info = w.start_master(ids::INFO);
        w.uint(ids::TIMECODE_SCALE, 1_000_000)
            .string(ids::MUXING_APP, "openkvs")
            .string(ids::WRITING_APP, "openkvs webrtc");
        w.end_master(info);
        let tracks = w.start_master(ids::TRACKS);
        if let Some(v) = &self.video {
            let entry = w.start_master(ids::TRACK_ENTRY);
            w.uint(ids::TRACK_NUMBER, VIDEO_TRACK)
                .uint(ids::TRACK_UID, VIDEO_TRACK)
                .uint(ids::TRACK_TYPE, 1)
                .string(ids::CODEC_ID, "V_MPEG4/ISO/AVC")
                .binary(ids::CODEC_PRIVATE, &v.avcc);
            let video = w.start_master(ids::VIDEO);
            w.uint(ids::PIXEL_WIDTH, u64::from(v.width)).uint(ids::PIXEL_HEIGHT, u64::from(v.height));
            w.end_master(video);
            w.end_master(entry);
        }
        if let Some(a) = &self.audio {
            let n = self.audio_track();
            let entry = w.start_master(ids::TRACK_ENTRY);
            w.uint(ids::TRACK_NUMBER, n)
                .uint(ids::TRACK_UID, n)
                .uint(ids::TRACK_TYPE, 2)
                .string(ids::CODEC_ID, "A_OPUS")
                .binary(ids::CODEC_PRIVATE, &opus_head(a.channels))
                .uint(ids::CODEC_DELAY, 6_500_000)
                .uint(ids::SEEK_PRE_ROLL, 80_000_000);
            let audio = w.start_master(ids::AUDIO);
            w.float(ids::SAMPLING_FREQUENCY, 48_000.0).uint(ids::CHANNELS, u64::from(a.channels));
            w.end_master(audio);
            w.end_master(entry);
        }
        w.end_master(tracks);
        w.finish().to_vec()
    }

    fn start_cluster(&mut self, out: &mut Vec<u8>, ts_ms: i64) {
        if !self.header_sent {
            out.extend_from_slice(&self.header());
            self.header_sent = true;
        }
        let mut w = EbmlWriter::new();
        w.unknown_size_header(ids::CLUSTER, 8).uint(ids::TIMECODE, ts_ms.max(0) as u64);
        out.extend_from_slice(&w.finish());
        self.cluster_start_ms = Some(ts_ms.max(0));
    }

    fn block(&self, out: &mut Vec<u8>, track: u64, ts_ms: i64, keyframe: bool, data: &[u8]) -> bool {
        let Some(start) = self.cluster_start_ms else { return false };
        let Ok(rel) = i16::try_from(ts_ms - start) else { return false };
        if rel < 0 {
            return false;
        }
        let mut w = EbmlWriter::new();
        w.element_header(ids::SIMPLE_BLOCK, 4 + data.len() as u64);
        out.extend_from_slice(&w.finish());
        out.push(0x80 | track as u8);
        out.extend_from_slice(&rel.to_be_bytes());
        out.push(if keyframe { 0x80 } else { 0 });
        out.extend_from_slice(data);
        true
    }

    /// A video frame (length-prefixed NAL units) at `ts_ms` (epoch ms): the bytes to send, empty
    /// when the frame is dropped (no key frame yet, or too far from its Cluster's start).
    pub fn push_video(&mut self, ts_ms: i64, keyframe: bool, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if self.video.is_none() {
            return out;
        }
        if keyframe {
            self.start_cluster(&mut out, ts_ms);
        }
        if !self.block(&mut out, VIDEO_TRACK, ts_ms, keyframe, data) {
            out.clear();
        }
        out
    }

    /// An Opus packet at `ts_ms`; dropped before the first Cluster (with video) or when out of range.
    pub fn push_audio(&mut self, ts_ms: i64, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if self.audio.is_none() {
            return out;
        }
        if self.video.is_none() && self.cluster_start_ms.is_none_or(|s| ts_ms - s >= 2000) {
            self.start_cluster(&mut out, ts_ms);
        }
        let track = self.audio_track();
        if !self.block(&mut out, track, ts_ms, true, data) {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::media::fragment::{FragmentEvent, Fragmenter, FragmenterConfig};

    #[test]
    fn output_is_fragmented_on_key_frames_by_the_putmedia_fragmenter() {
        let avcc = crate::media::annexb::avcc_record(&[0x67, 0x42, 0xc0, 0x1e, 0xda], &[0x68, 0xce]).unwrap();
        let mut m = LiveMuxer::new(
            Some(LiveVideo { avcc, width: 640, height: 360 }),
            Some(LiveAudio { channels: 2 }),
        );
        let t0 = 1_700_000_000_000i64;
        let mut bytes = Vec::new();
        assert!(m.push_audio(t0, &[1, 2, 3]).is_empty(), "audio before the first key frame is dropped");
        assert!(m.push_video(t0, false, &[0, 0, 0, 1, 0x41]).is_empty());
        for i in 0..60i64 {
            bytes.extend(m.push_video(t0 + i * 33, i % 20 == 0, &[0, 0, 0, 2, 0x65, i as u8]));
            bytes.extend(m.push_audio(t0 + i * 33 + 5, &[0xfc, i as u8]));
        }
        let mut f = Fragmenter::new(FragmenterConfig::default());
        f.push(Bytes::from(bytes));
        f.finish();
        let mut completed = Vec::new();
        while let Ok(Some(e)) = f.pull() {
            if let FragmentEvent::FragmentCompleted(frag) = e {
                completed.push(frag);
            }
        }
        assert_eq!(completed.len(), 3, "one fragment per key frame");
        assert_eq!(completed[0].video_starts_with_keyframe(), Some(true));
    }
}
