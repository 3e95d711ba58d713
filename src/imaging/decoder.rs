//! [`VideoDecoder`]: one video track's frames in, [`Picture`]s out.
//!
//! Owns the conversion from what Matroska stores (NAL units with a length prefix whose size comes
//! from the `avcC` CodecPrivate) to what OpenH264 reads (Annex-B start codes, with the SPS/PPS
//! from `avcC` put in front of every IDR frame that does not carry its own), and the copy of the
//! decoder's strided planes into a tightly packed [`Picture`]. It does no I/O.

use bytes::Bytes;
use openh264::OpenH264API;
use openh264::decoder::{DecodedYUV, Decoder, DecoderConfig, Flush};
use openh264::formats::YUVSource;

use super::{ImagingError, Picture};
use crate::media::codec::Codec;
use crate::media::codec::h264::{AvcConfig, nal_type};
use crate::media::samples::codec_of;

const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// Decodes the frames of one video track, in decode order.
pub struct VideoDecoder {
    decoder: Decoder,
    nal_length_size: usize,
    /// SPS and PPS from the CodecPrivate, as Annex-B.
    parameter_sets: Vec<u8>,
    /// Scratch buffer for the Annex-B form of the current frame.
    annexb: Vec<u8>,
    /// Whether a frame has been fed yet (the first one always gets the parameter sets).
    started: bool,
}

impl std::fmt::Debug for VideoDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoDecoder").field("nal_length_size", &self.nal_length_size).finish_non_exhaustive()
    }
}

impl VideoDecoder {
    /// A decoder for a Matroska track: `codec_id` (e.g. `V_MPEG4/ISO/AVC`) and its CodecPrivate.
    pub fn for_track(codec_id: &str, codec_private: &[u8]) -> Result<Self, ImagingError> {
        match codec_of(codec_id) {
            Some(codec) => Self::new(codec, codec_private),
            None => Err(ImagingError::UnsupportedCodec(format!("codec {codec_id:?} is not H.264"))),
        }
    }

    /// A decoder for `codec` with its CodecPrivate (`avcC` for H.264).
    pub fn new(codec: Codec, codec_private: &[u8]) -> Result<Self, ImagingError> {
        match codec {
            Codec::H264 => {}
            Codec::H265 => {
                return Err(ImagingError::UnsupportedCodec(
                    "H.265 video: this server has no H.265 decoder".into(),
                ));
            }
            Codec::Aac | Codec::Opus => {
                return Err(ImagingError::UnsupportedCodec("the track is audio".into()));
            }
        }
        let config = AvcConfig::parse(&Bytes::copy_from_slice(codec_private))
            .map_err(|e| ImagingError::InvalidMedia(e.to_string()))?;
        let mut parameter_sets = Vec::new();
        for nal in config.sps.iter().chain(&config.pps) {
            parameter_sets.extend_from_slice(&START_CODE);
            parameter_sets.extend_from_slice(nal);
        }
        // NoFlush: pictures leave the decoder in display order (B-frames are held back until
        // their turn); `flush` takes out the ones still held at the end.
        let decoder = Decoder::with_api_config(
            OpenH264API::from_source(),
            DecoderConfig::new().flush_after_decode(Flush::NoFlush),
        )
        .map_err(|e| ImagingError::Decode(format!("cannot create the H.264 decoder: {e}")))?;
        Ok(Self {
            decoder,
            nal_length_size: usize::from(config.nal_length_size),
            parameter_sets,
            annexb: Vec::new(),
            started: false,
        })
    }

    /// Decodes one frame as stored (length-prefixed NAL units). Returns the next picture in
    /// display order, if the decoder has one ready (with B-frames it answers later).
    pub fn decode(&mut self, sample: &[u8]) -> Result<Option<Picture>, ImagingError> {
        self.fill_annexb(sample)?;
        let decoded = self.decoder.decode(&self.annexb).map_err(|e| ImagingError::Decode(e.to_string()))?;
        decoded.as_ref().map(picture_of).transpose()
    }

    /// The pictures still held by the decoder (after the last frame), in display order.
    pub fn flush(&mut self) -> Result<Vec<Picture>, ImagingError> {
        let held = self.decoder.flush_remaining().map_err(|e| ImagingError::Decode(e.to_string()))?;
        held.iter().map(picture_of).collect()
    }

    /// Writes `sample` to `self.annexb` in Annex-B form, after the CodecPrivate's SPS/PPS when it
    /// is the first frame or an IDR frame without its own SPS. A frame that is already Annex-B
    /// (some producers store that despite an `avcC` CodecPrivate) is passed through as is.
    fn fill_annexb(&mut self, sample: &[u8]) -> Result<(), ImagingError> {
        self.annexb.clear();
        let first = !std::mem::replace(&mut self.started, true);
        let n = self.nal_length_size;
        let nals = match length_prefixed_nals(sample, n) {
            Some(nals) => nals,
            None if sample.starts_with(&[0, 0, 1]) || sample.starts_with(&START_CODE) => {
                if first {
                    self.annexb.extend_from_slice(&self.parameter_sets);
                }
                self.annexb.extend_from_slice(sample);
                return Ok(());
            }
            None => {
                return Err(ImagingError::InvalidMedia(format!(
                    "a frame of {} bytes is not a sequence of {n}-byte length-prefixed NAL units",
                    sample.len()
                )));
            }
        };
        let types = || nals.iter().map(|nal| nal[0] & 0x1f);
        if !types().any(|t| t == nal_type::SPS) && (first || types().any(|t| t == nal_type::IDR)) {
            self.annexb.extend_from_slice(&self.parameter_sets);
        }
        for nal in &nals {
            self.annexb.extend_from_slice(&START_CODE);
            self.annexb.extend_from_slice(nal);
        }
        Ok(())
    }
}

/// Splits a frame into its NAL units (without their length prefixes); `None` when the lengths do
/// not add up exactly. Empty NAL units are skipped.
fn length_prefixed_nals(sample: &[u8], size: usize) -> Option<Vec<&[u8]>> {
    if !(1..=4).contains(&size) {
        return None;
    }
    let mut out = Vec::new();
    let mut rest = sample;
    while !rest.is_empty() {
        if rest.len() < size {
            return None;
        }
        let len = rest[..size].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        rest = &rest[size..];
        if len > rest.len() {
            return None;
        }
        if len > 0 {
            out.push(&rest[..len]);
        }
        rest = &rest[len..];
    }
    (!out.is_empty()).then_some(out)
}

/// Copies a decoded picture (strided planes) into a tightly packed [`Picture`].
fn picture_of(yuv: &DecodedYUV<'_>) -> Result<Picture, ImagingError> {
    let (width, height) = yuv.dimensions();
    let (y_stride, u_stride, v_stride) = yuv.strides();
    let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
    let plane = |data: &[u8], stride: usize, w: usize, h: usize| -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(w * h);
        for row in 0..h {
            out.extend_from_slice(data.get(row * stride..row * stride + w)?);
        }
        Some(out)
    };
    let bad = || ImagingError::Decode("the decoder returned planes smaller than the picture".into());
    let y = plane(yuv.y(), y_stride, width, height).ok_or_else(bad)?;
    let u = plane(yuv.u(), u_stride, cw, ch).ok_or_else(bad)?;
    let v = plane(yuv.v(), v_stride, cw, ch).ok_or_else(bad)?;
    let dim = |d: usize| u32::try_from(d).map_err(|_| bad());
    Picture::from_i420(dim(width)?, dim(height)?, y, u, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nal_splitting_checks_every_length() {
        let frame = [0, 0, 0, 2, 0x65, 1, 0, 0, 0, 1, 0x41];
        let nals = length_prefixed_nals(&frame, 4).unwrap();
        assert_eq!(nals, vec![&[0x65, 1][..], &[0x41][..]]);
        assert!(length_prefixed_nals(&frame[..10], 4).is_none());
        assert!(length_prefixed_nals(&[0, 0, 0, 9, 1], 4).is_none());
        assert!(length_prefixed_nals(&[0, 2, 0x65, 1], 2).is_some());
        assert!(length_prefixed_nals(&[], 4).is_none());
        assert!(length_prefixed_nals(&frame, 0).is_none());
    }

    #[test]
    fn other_codecs_are_refused_clearly() {
        let e = VideoDecoder::for_track("V_MPEGH/ISO/HEVC", &[1, 2, 3]).unwrap_err();
        assert!(matches!(e, ImagingError::UnsupportedCodec(ref m) if m.contains("H.265")), "{e}");
        assert!(matches!(
            VideoDecoder::for_track("A_AAC", &[0x12, 0x10]),
            Err(ImagingError::UnsupportedCodec(_))
        ));
        assert!(matches!(VideoDecoder::for_track("V_VP8", &[]), Err(ImagingError::UnsupportedCodec(_))));
        assert!(matches!(
            VideoDecoder::for_track("V_MPEG4/ISO/AVC", &[]),
            Err(ImagingError::InvalidMedia(_))
        ));
    }

    #[test]
    fn garbage_frames_are_errors_not_panics() {
        let cp = crate::media::codec::h264::tests::fixture_codec_private(
            "h264_640x360_20s_2sgop.mkv",
            "V_MPEG4/ISO/AVC",
        );
        let mut d = VideoDecoder::for_track("V_MPEG4/ISO/AVC", &cp).unwrap();
        assert!(matches!(d.decode(&[0, 0, 0, 50, 0x65]), Err(ImagingError::InvalidMedia(_))));
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for len in [1usize, 5, 64, 1000] {
            let junk: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let mut framed = (len as u32).to_be_bytes().to_vec();
            framed.extend_from_slice(&junk);
            let _ = d.decode(&framed);
        }
        let _ = d.flush();
    }
}
