//! The MPEG-TS segment writer behind HLS `getTSFragment.ts`: one self-contained transport stream
//! (PAT, PMT, then one PES per sample interleaved by decode time) from the [`TrackRun`]s of a
//! fragment. Video is converted from length-prefixed NAL units to Annex B with an access unit
//! delimiter and the parameter sets of the config record before every key frame; AAC frames get
//! ADTS headers.
//!
//! It must not read MKV, do I/O or panic on any input: malformed frames and codec private data
//! are [`CodecError`]s, and nothing is allocated beyond a small multiple of the input size.
//! The byte layout of packets, sections and PES headers is `packet.rs`.

mod packet;

use bytes::Bytes;

use crate::media::codec::aac::AudioSpecificConfig;
use crate::media::codec::h264::{self, AvcConfig};
use crate::media::codec::h265::{self, HevcConfig};
use crate::media::codec::{Codec, CodecError, Sample, TrackRun};
use packet::{PidWriter, TS_MODULO, UnitStart};

pub use packet::PACKET_SIZE;

/// PID of the program map table.
pub const PMT_PID: u16 = 0x1000;
/// PID of the video elementary stream.
pub const VIDEO_PID: u16 = 0x100;
/// PID of the audio elementary stream.
pub const AUDIO_PID: u16 = 0x101;
/// The program number of the single program.
const PROGRAM_NUMBER: u16 = 1;
/// How far (in 90 kHz units) the PCR is set before the DTS of the PES that carries it.
const PCR_LEAD_90K: i64 = 9000;

/// Continuity counters per PID. Pass the same value to consecutive [`ts_segment`] calls of one
/// session to continue the counters across segments; a fresh `Default` per segment gives a
/// valid, self-contained segment too.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TsContinuity {
    pat: u8,
    pmt: u8,
    video: u8,
    audio: u8,
}

/// The parsed config record of a video track.
enum VideoConfig {
    Avc(AvcConfig),
    Hevc(HevcConfig),
}

impl VideoConfig {
    fn nal_length_size(&self) -> u8 {
        match self {
            VideoConfig::Avc(c) => c.nal_length_size,
            VideoConfig::Hevc(c) => c.nal_length_size,
        }
    }

    fn stream_type(&self) -> u8 {
        match self {
            VideoConfig::Avc(_) => 0x1b,
            VideoConfig::Hevc(_) => 0x24,
        }
    }

    /// The parameter sets to put before a key frame, in order.
    fn parameter_sets(&self) -> impl Iterator<Item = &Bytes> {
        let (a, b, c): (&[Bytes], &[Bytes], &[Bytes]) = match self {
            VideoConfig::Avc(cfg) => (&[], &cfg.sps, &cfg.pps),
            VideoConfig::Hevc(cfg) => (&cfg.vps, &cfg.sps, &cfg.pps),
        };
        a.iter().chain(b).chain(c)
    }

    /// The access unit delimiter NAL unit (primary_pic_type / pic_type "any").
    fn aud(&self) -> &'static [u8] {
        match self {
            VideoConfig::Avc(_) => &[0x09, 0xf0],
            VideoConfig::Hevc(_) => &[0x46, 0x01, 0x50],
        }
    }

    fn nal_type(&self, nal: &[u8]) -> u8 {
        match self {
            VideoConfig::Avc(_) => nal[0] & 0x1f,
            VideoConfig::Hevc(_) => h265::nal_unit_type(nal[0]),
        }
    }

    fn is_aud(&self, nal: &[u8]) -> bool {
        match self {
            VideoConfig::Avc(_) => self.nal_type(nal) == h264::nal_type::AUD,
            VideoConfig::Hevc(_) => self.nal_type(nal) == h265::nal_type::AUD,
        }
    }

    fn is_sps(&self, nal: &[u8]) -> bool {
        match self {
            VideoConfig::Avc(_) => self.nal_type(nal) == h264::nal_type::SPS,
            VideoConfig::Hevc(_) => self.nal_type(nal) == h265::nal_type::SPS,
        }
    }
}

/// The NAL units of a length-prefixed frame (empty NAL units skipped).
pub fn length_prefixed_nals(data: &[u8], length_size: u8) -> Result<Vec<&[u8]>, CodecError> {
    let size = usize::from(length_size);
    if !(1..=4).contains(&size) {
        return Err(CodecError::InvalidFrame(format!("NAL length size {length_size}")));
    }
    let mut nals = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let prefix = data
            .get(pos..pos + size)
            .ok_or_else(|| CodecError::InvalidFrame("truncated NAL unit length".into()))?;
        let len = prefix.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        pos += size;
        let end = pos.checked_add(len).filter(|end| *end <= data.len()).ok_or_else(|| {
            CodecError::InvalidFrame(format!("NAL unit of {len} bytes runs past the frame"))
        })?;
        if len > 0 {
            nals.push(&data[pos..end]);
        }
        pos = end;
    }
    Ok(nals)
}

/// Appends the Annex B form of one video frame: AUD, parameter sets (key frames that do not
/// carry an SPS themselves), then the frame's NAL units (its own AUDs dropped).
fn push_annex_b(out: &mut Vec<u8>, cfg: &VideoConfig, sample: &Sample) -> Result<(), CodecError> {
    const START: [u8; 4] = [0, 0, 0, 1];
    let nals = length_prefixed_nals(&sample.data, cfg.nal_length_size())?;
    out.extend_from_slice(&START);
    out.extend_from_slice(cfg.aud());
    if sample.keyframe && !nals.iter().any(|n| cfg.is_sps(n)) {
        for ps in cfg.parameter_sets() {
            out.extend_from_slice(&START);
            out.extend_from_slice(ps);
        }
    }
    for nal in nals.into_iter().filter(|n| !cfg.is_aud(n)) {
        out.extend_from_slice(&START);
        out.extend_from_slice(nal);
    }
    Ok(())
}

/// A track timestamp in 90 kHz units, modulo 2^33.
fn to_90k(ts: i64, timescale: u32) -> i64 {
    let v = (i128::from(ts) * 90_000).div_euclid(i128::from(timescale));
    v.rem_euclid(i128::from(TS_MODULO)) as i64
}

struct Stream<'a, C> {
    samples: &'a [Sample],
    timescale: u32,
    config: C,
}

impl<C> Stream<'_, C> {
    fn dts_90k(&self, i: usize) -> Option<i128> {
        self.samples.get(i).map(|s| (i128::from(s.dts) * 90_000).div_euclid(i128::from(self.timescale)))
    }
}

/// One self-contained MPEG-TS segment: PAT and PMT first, then one PES per sample of every run
/// (at most one video run, H.264 or H.265, and one AAC run), interleaved by decode time, in
/// 188-byte packets. The PCR is on the video PID (the audio PID without video) in the first
/// packet of every PES there; key frames set `random_access_indicator`.
pub fn ts_segment(runs: &[TrackRun], continuity: &mut TsContinuity) -> Result<Bytes, CodecError> {
    let mut video: Option<Stream<VideoConfig>> = None;
    let mut audio: Option<Stream<AudioSpecificConfig>> = None;
    for run in runs {
        let track = run.track;
        if track.timescale == 0 {
            return Err(CodecError::Unsupported(format!("track {} with timescale 0", track.track_id)));
        }
        match track.codec {
            Codec::H264 | Codec::H265 => {
                if video.is_some() {
                    return Err(CodecError::Unsupported("more than one video track in MPEG-TS".into()));
                }
                let config = if track.codec == Codec::H264 {
                    VideoConfig::Avc(AvcConfig::parse(&track.codec_private)?)
                } else {
                    VideoConfig::Hevc(HevcConfig::parse(&track.codec_private)?)
                };
                video = Some(Stream { samples: run.samples, timescale: track.timescale, config });
            }
            // No Opus in MPEG-TS here: the segment carries the other tracks.
            Codec::Opus => {}
            Codec::Aac => {
                if audio.is_some() {
                    return Err(CodecError::Unsupported("more than one audio track in MPEG-TS".into()));
                }
                let config = AudioSpecificConfig::parse(&track.codec_private)?;
                // Fail early on configurations ADTS cannot carry.
                config.adts_header(0)?;
                audio = Some(Stream { samples: run.samples, timescale: track.timescale, config });
            }
        }
    }
    if video.is_none() && audio.is_none() {
        return Err(CodecError::Unsupported("no track for the MPEG-TS segment".into()));
    }
    let pcr_pid = if video.is_some() { VIDEO_PID } else { AUDIO_PID };
    let mut streams = Vec::new();
    if let Some(v) = &video {
        streams.push((v.config.stream_type(), VIDEO_PID));
    }
    if audio.is_some() {
        streams.push((0x0f, AUDIO_PID));
    }

    let mut out = Vec::new();
    PidWriter { pid: 0, counter: &mut continuity.pat }.write_unit(
        &mut out,
        &packet::pat(PROGRAM_NUMBER, PMT_PID),
        UnitStart::default(),
    );
    PidWriter { pid: PMT_PID, counter: &mut continuity.pmt }.write_unit(
        &mut out,
        &packet::pmt(PROGRAM_NUMBER, pcr_pid, &streams),
        UnitStart::default(),
    );

    let (mut vi, mut ai) = (0usize, 0usize);
    let mut pes = Vec::new();
    loop {
        let next_video = video.as_ref().and_then(|v| v.dts_90k(vi));
        let next_audio = audio.as_ref().and_then(|a| a.dts_90k(ai));
        let take_video = match (next_video, next_audio) {
            (None, None) => break,
            (Some(v), Some(a)) => v <= a,
            (v, _) => v.is_some(),
        };
        pes.clear();
        if take_video {
            let Some(v) = &video else { break };
            let s = &v.samples[vi];
            vi += 1;
            let dts = to_90k(s.dts, v.timescale);
            let header = packet::pes_header(0xe0, to_90k(s.pts, v.timescale), dts, 0, false)
                .ok_or_else(|| CodecError::InvalidFrame("PES header".into()))?;
            pes.extend_from_slice(&header);
            push_annex_b(&mut pes, &v.config, s)?;
            let start = UnitStart { pcr: Some(pcr_for(dts)), random_access: s.keyframe };
            PidWriter { pid: VIDEO_PID, counter: &mut continuity.video }.write_unit(&mut out, &pes, start);
        } else {
            let Some(a) = &audio else { break };
            let s = &a.samples[ai];
            ai += 1;
            let adts = a.config.adts_header(s.data.len())?;
            let dts = to_90k(s.dts, a.timescale);
            let header =
                packet::pes_header(0xc0, to_90k(s.pts, a.timescale), dts, adts.len() + s.data.len(), true)
                    .ok_or_else(|| CodecError::InvalidFrame("AAC frame too long for a PES".into()))?;
            pes.extend_from_slice(&header);
            pes.extend_from_slice(&adts);
            pes.extend_from_slice(&s.data);
            let start = if pcr_pid == AUDIO_PID {
                UnitStart { pcr: Some(pcr_for(dts)), random_access: s.keyframe }
            } else {
                UnitStart::default()
            };
            PidWriter { pid: AUDIO_PID, counter: &mut continuity.audio }.write_unit(&mut out, &pes, start);
        }
    }
    Ok(Bytes::from(out))
}

/// The PCR for a PES with this DTS (modulo 2^33): a little before it, never below 0.
fn pcr_for(dts_90k: i64) -> i64 {
    (dts_90k - PCR_LEAD_90K).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first two frames (a key frame, then a delta frame) of the H.264 fixture and its avcC,
    /// from the compiled-in file (no I/O here; the fixture suites are in `tests/media/mpegts.rs`).
    fn first_frames() -> (Bytes, Vec<Sample>) {
        const FILE: &[u8] = include_bytes!("../../../tests/fixtures/h264_640x360_20s_2sgop.mkv");
        let mut mkv = matroska_demuxer::MatroskaFile::open(std::io::Cursor::new(FILE)).expect("fixture");
        let codec_private = Bytes::copy_from_slice(mkv.tracks()[0].codec_private().expect("avcC"));
        let mut frames = Vec::new();
        let mut f = matroska_demuxer::Frame::default();
        while frames.len() < 2 && mkv.next_frame(&mut f).expect("frame") {
            let t = f.timestamp as i64 * 90;
            frames.push(Sample {
                dts: t,
                pts: t,
                duration: 3600,
                keyframe: f.is_keyframe == Some(true),
                data: Bytes::from(f.data.clone()),
            });
        }
        (codec_private, frames)
    }

    #[test]
    fn parameter_sets_before_key_frames_only_when_missing() {
        let (codec_private, frames) = first_frames();
        let cfg = AvcConfig::parse(&codec_private).unwrap();
        let vc = VideoConfig::Avc(cfg.clone());
        let key = frames[0].clone();
        let mut out = Vec::new();
        push_annex_b(&mut out, &vc, &key).unwrap();
        assert_eq!(&out[..6], &[0, 0, 0, 1, 0x09, 0xf0]);
        let sps_count =
            |b: &[u8]| b.windows(5).filter(|w| w[..4] == [0, 0, 0, 1] && w[4] & 0x1f == 7).count();
        let carried = length_prefixed_nals(&key.data, 4).unwrap().iter().any(|n| n[0] & 0x1f == 7);
        assert_eq!(sps_count(&out), 1, "one SPS whether the frame carried it ({carried}) or not");
        // A key frame with an SPS of its own gets no second one; a delta frame gets none.
        let mut own = Vec::new();
        for ps in [&cfg.sps[0], &cfg.pps[0]] {
            own.extend_from_slice(&(ps.len() as u32).to_be_bytes());
            own.extend_from_slice(ps);
        }
        own.extend_from_slice(&[0, 0, 0, 2, 0x09, 0xf0, 0, 0, 0, 2, 0x65, 0x88]);
        let s = Sample { data: Bytes::from(own), ..key.clone() };
        out.clear();
        push_annex_b(&mut out, &vc, &s).unwrap();
        assert_eq!(sps_count(&out), 1);
        assert_eq!(out.windows(2).filter(|w| w == &[0x09, 0xf0]).count(), 1, "its own AUD dropped");
        out.clear();
        push_annex_b(&mut out, &vc, &frames[1]).unwrap();
        assert_eq!(sps_count(&out), 0);
    }
}
