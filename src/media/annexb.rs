//! H.264 between the two forms WebRTC and Matroska use: Matroska (and KVS) store frames as
//! length-prefixed NAL units with the parameter sets in an `avcC` record; RTP packetizers take and
//! depacketizers give Annex B access units (start codes, parameter sets in band).
//!
//! Owns both conversions and building an `avcC` record from in-band SPS/PPS. It must not
//! packetize RTP (the WebRTC crate does) nor read containers; it does no I/O.

use super::codec::CodecError;
use super::codec::h264::{AvcConfig, nal_type};
use super::mpegts::length_prefixed_nals;

const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// The Annex B access unit of one stored frame: for a key frame that does not carry an SPS
/// itself, the record's SPS and PPS first (a viewer that joins at this frame can decode it), then
/// the frame's NAL units (access unit delimiters dropped: RTP carries none).
pub fn avcc_frame_to_annex_b(avc: &AvcConfig, frame: &[u8], keyframe: bool) -> Result<Vec<u8>, CodecError> {
    let nals = length_prefixed_nals(frame, avc.nal_length_size)?;
    let mut out = Vec::with_capacity(frame.len() + 64);
    if keyframe && !nals.iter().any(|n| n[0] & 0x1f == nal_type::SPS) {
        for ps in avc.sps.iter().chain(avc.pps.iter()) {
            out.extend_from_slice(&START_CODE);
            out.extend_from_slice(ps);
        }
    }
    for nal in nals.into_iter().filter(|n| n[0] & 0x1f != nal_type::AUD) {
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(nal);
    }
    Ok(out)
}

/// The NAL units of an Annex B byte stream (3- or 4-byte start codes; empty units skipped;
/// trailing zero bytes of a unit belong to the next start code and are dropped).
pub fn annex_b_nals(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(starts.len());
    for (k, &s) in starts.iter().enumerate() {
        let mut end = if k + 1 < starts.len() { starts[k + 1] - 3 } else { data.len() };
        while end > s && data[end - 1] == 0 {
            end -= 1;
        }
        if end > s {
            out.push(&data[s..end]);
        }
    }
    out
}

/// What one Annex B access unit becomes in Matroska.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvccFrame {
    /// The frame's NAL units, each with a 4-byte length prefix (SPS, PPS and AUD removed: they
    /// live in the `avcC` record).
    pub data: Vec<u8>,
    /// Whether the access unit holds an IDR slice.
    pub keyframe: bool,
    /// The last SPS in the access unit, if any.
    pub sps: Option<Vec<u8>>,
    /// The last PPS in the access unit, if any.
    pub pps: Option<Vec<u8>>,
}

/// Converts an Annex B access unit (as an RTP depacketizer hands it out) to the length-prefixed
/// form Matroska stores, separating the parameter sets.
pub fn annex_b_to_avcc(data: &[u8]) -> AvccFrame {
    let mut out = AvccFrame { data: Vec::with_capacity(data.len()), keyframe: false, sps: None, pps: None };
    for nal in annex_b_nals(data) {
        match nal[0] & 0x1f {
            nal_type::SPS => out.sps = Some(nal.to_vec()),
            nal_type::PPS => out.pps = Some(nal.to_vec()),
            nal_type::AUD => {}
            t => {
                if t == nal_type::IDR {
                    out.keyframe = true;
                }
                out.data.extend_from_slice(&(nal.len() as u32).to_be_bytes());
                out.data.extend_from_slice(nal);
            }
        }
    }
    out
}

/// An `avcC` record (AVCDecoderConfigurationRecord, 4-byte NAL lengths) for one SPS and PPS.
/// `None` if the SPS is too short to carry profile and level or a set exceeds 65535 bytes.
pub fn avcc_record(sps: &[u8], pps: &[u8]) -> Option<Vec<u8>> {
    if sps.len() < 4 || pps.is_empty() || sps.len() > 0xffff || pps.len() > 0xffff {
        return None;
    }
    let mut rec = vec![1, sps[1], sps[2], sps[3], 0xff, 0xe1];
    rec.extend_from_slice(&(sps.len() as u16).to_be_bytes());
    rec.extend_from_slice(sps);
    rec.push(1);
    rec.extend_from_slice(&(pps.len() as u16).to_be_bytes());
    rec.extend_from_slice(pps);
    Some(rec)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    const SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80];
    const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];

    fn config() -> AvcConfig {
        AvcConfig::parse(&Bytes::from(avcc_record(SPS, PPS).unwrap())).unwrap()
    }

    #[test]
    fn key_frames_get_parameter_sets_and_round_trip() {
        let avc = config();
        let frame = [0, 0, 0, 2, 0x09, 0xf0, 0, 0, 0, 3, 0x65, 0x88, 0x84];
        let annex_b = avcc_frame_to_annex_b(&avc, &frame, true).unwrap();
        assert_eq!(annex_b_nals(&annex_b), vec![SPS, PPS, &[0x65, 0x88, 0x84][..]]);
        let back = annex_b_to_avcc(&annex_b);
        assert!(back.keyframe);
        assert_eq!(back.sps.as_deref(), Some(SPS));
        assert_eq!(back.pps.as_deref(), Some(PPS));
        assert_eq!(back.data, [0, 0, 0, 3, 0x65, 0x88, 0x84]);
        let delta = avcc_frame_to_annex_b(&avc, &[0, 0, 0, 2, 0x41, 0x9a], false).unwrap();
        assert_eq!(delta, [0, 0, 0, 1, 0x41, 0x9a]);
        assert!(!annex_b_to_avcc(&delta).keyframe);
    }

    #[test]
    fn bad_input_is_an_error_or_empty_never_a_panic() {
        let avc = config();
        assert!(avcc_frame_to_annex_b(&avc, &[0, 0, 0, 9, 0x65], true).is_err());
        assert!(annex_b_nals(&[0, 0, 1]).is_empty());
        assert!(annex_b_nals(&[0, 0]).is_empty());
        assert_eq!(annex_b_nals(&[0, 0, 1, 0x65, 0, 0, 0, 1, 0x41]), vec![&[0x65][..], &[0x41][..]]);
        assert_eq!(annex_b_to_avcc(&[1, 2, 3]).data, Vec::<u8>::new());
        assert_eq!(avcc_record(&[0x67], PPS), None);
    }
}
