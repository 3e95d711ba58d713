//! Codec-level description of playable tracks and their samples, shared by the container writers
//! (`fmp4`, `mpegts`) and the playlist builders (`hls`, `dash`).
//!
//! Owns [`PlayableTrack`] and [`Sample`], the hand-over format between "MKV fragment" and "any
//! output container", plus the codec parsers (`h264`, `h265`, `aac`: codec strings from
//! CodecPrivate, parameter sets, ADTS). It must not read MKV (that is `samples.rs`) nor write
//! containers; it does no I/O.

use bytes::Bytes;

pub mod aac;
pub mod h264;
pub mod h265;

/// The codecs openkvs can package for HLS/DASH/GetClip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// H.264 / AVC (`V_MPEG4/ISO/AVC`): frames are length-prefixed NAL units, CodecPrivate is an
    /// AVCDecoderConfigurationRecord (`avcC`).
    H264,
    /// H.265 / HEVC (`V_MPEGH/ISO/HEVC`): length-prefixed NAL units, CodecPrivate is an
    /// HEVCDecoderConfigurationRecord (`hvcC`).
    H265,
    /// AAC (`A_AAC`, `A_AAC/MPEG4/LC`...): raw access units, CodecPrivate is an
    /// AudioSpecificConfig.
    Aac,
    /// Opus (`A_OPUS`, what WebRTC cameras send): raw Opus packets, CodecPrivate is the
    /// `OpusHead` identification header (RFC 7845). Packaged in fMP4 as `Opus` + `dOps`; MPEG-TS
    /// segments leave it out.
    Opus,
}

impl Codec {
    /// Whether this is a video codec.
    pub fn is_video(self) -> bool {
        matches!(self, Codec::H264 | Codec::H265)
    }
}

/// One track as the output containers need it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayableTrack {
    /// The Matroska track number (what KVS calls `TrackNumber` in HLS/DASH URLs).
    pub mkv_track_number: u64,
    /// The MP4 `track_ID` / TS elementary stream index to use (1-based, in output order).
    pub track_id: u32,
    /// Codec.
    pub codec: Codec,
    /// The Matroska CodecPrivate: avcC / hvcC record or AudioSpecificConfig, exactly as stored.
    pub codec_private: Bytes,
    /// Units per second of every timestamp and duration in this track's [`Sample`]s:
    /// 90 000 for video, the sampling rate for audio.
    pub timescale: u32,
    /// Video: coded width and height in pixels (0 for audio).
    pub width: u32,
    /// Video: height in pixels.
    pub height: u32,
    /// Audio: sampling rate in Hz (0 for video).
    pub sample_rate: u32,
    /// Audio: channel count (0 for video).
    pub channels: u16,
}

/// One access unit (frame) of a track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Decode timestamp in the track's timescale. Non-decreasing within a track.
    pub dts: i64,
    /// Presentation timestamp in the track's timescale (≥ `dts` is not guaranteed for B-frames
    /// at a fragment start; writers use `pts - dts` as a signed composition offset).
    pub pts: i64,
    /// Duration in the track's timescale (> 0).
    pub duration: u32,
    /// Whether this is a sync sample (IDR / random access point; every AAC frame is one).
    pub keyframe: bool,
    /// The frame exactly as stored in Matroska: length-prefixed NAL units (video, length size
    /// from the avcC/hvcC record) or a raw AAC access unit.
    pub data: Bytes,
}

/// One track's samples in one fragment (in decode order).
#[derive(Debug, Clone, PartialEq)]
pub struct TrackRun<'a> {
    /// The track.
    pub track: &'a PlayableTrack,
    /// Its samples in this fragment, in decode order.
    pub samples: &'a [Sample],
}

/// Why a track or frame cannot be packaged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The track has no CodecPrivate (KVS: MissingCodecPrivateDataException).
    #[error("missing codec private data")]
    MissingCodecPrivate,
    /// CodecPrivate cannot be parsed (KVS: InvalidCodecPrivateDataException).
    #[error("invalid codec private data: {0}")]
    InvalidCodecPrivate(String),
    /// The codec is not one HLS/DASH/GetClip can carry (KVS: UnsupportedStreamMediaTypeException).
    #[error("unsupported codec {0}")]
    Unsupported(String),
    /// A frame is malformed, e.g. a NAL length runs past the frame (KVS: InvalidMediaFrame).
    #[error("invalid media frame: {0}")]
    InvalidFrame(String),
}

/// The RFC 6381 codec string of a track (`avc1.42c01e`, `hvc1.1.6.L93.B0`, `mp4a.40.2`), for
/// HLS `CODECS` and DASH `codecs` attributes.
pub fn codec_string(track: &PlayableTrack) -> Result<String, CodecError> {
    Ok(match track.codec {
        Codec::H264 => h264::AvcConfig::parse(&track.codec_private)?.codec_string(),
        Codec::H265 => h265::HevcConfig::parse(&track.codec_private)?.codec_string(),
        Codec::Aac => aac::AudioSpecificConfig::parse(&track.codec_private)?.codec_string(),
        Codec::Opus => "opus".to_owned(),
    })
}
