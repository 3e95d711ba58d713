//! Stored KVS fragment (Matroska header set + one Cluster) → playable tracks and their samples.
//!
//! Owns the mapping from Matroska tracks and blocks to [`PlayableTrack`]s and [`Sample`]s: which
//! codec IDs are playable, the per-track timescale, the media timeline (epoch-based, so segments
//! of one stream line up across requests) and decode timestamps for reordered (B-)frames. It must
//! not write containers or know about sessions or HTTP; it does no I/O.
//!
//! # Timeline
//! A frame's time is `fragment_start_ms` (the fragment's producer timestamp, which is its Cluster
//! Timecode × TimecodeScale, plus the producer start time in RELATIVE mode) plus the block's
//! relative timecode (and `lace_index × DefaultDuration` inside a laced block). Producer time is
//! used for every output (even for SERVER_TIMESTAMP sessions) because it is what the media itself
//! counts in: consecutive fragments continue each other without gaps.
//!
//! # Decode timestamps
//! Matroska stores presentation times in decode order. Within one fragment and track, the i-th
//! frame in decode order gets the i-th smallest presentation time as its decode time; for streams
//! without reordering this is the identity. Composition offsets (`pts - dts`) may then be negative
//! for a fragment that starts on a reordered frame; writers use signed offsets.

use bytes::Bytes;

use super::codec::{Codec, CodecError, PlayableTrack, Sample};
use super::mkv::{DemuxLimits, MkvDemuxer, MkvEvent, TrackEntry, TrackKind};

/// Timescale of video tracks (the MPEG-TS clock, so no rounding for TS output).
pub const VIDEO_TIMESCALE: u32 = 90_000;

/// Duration of one AAC access unit, in samples.
const AAC_FRAME_SAMPLES: u32 = 1024;

/// Why a stored fragment cannot be turned into samples.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamplesError {
    /// The stored bytes are not a valid Matroska header set + Cluster.
    #[error("stored fragment is not valid Matroska: {0}")]
    Matroska(String),
    /// A track cannot be packaged.
    #[error(transparent)]
    Codec(#[from] CodecError),
}

/// The playable tracks of a fragment and each one's samples (parallel vectors, decode order).
#[derive(Debug, Clone, PartialEq)]
pub struct FragmentMedia {
    /// Playable tracks, in output order (video first).
    pub tracks: Vec<PlayableTrack>,
    /// `samples[i]` are the samples of `tracks[i]`.
    pub samples: Vec<Vec<Sample>>,
}

impl FragmentMedia {
    /// The index of the track with this Matroska track number.
    pub fn track_index(&self, mkv_track_number: u64) -> Option<usize> {
        self.tracks.iter().position(|t| t.mkv_track_number == mkv_track_number)
    }
}

/// The codec of a Matroska codec ID, if openkvs can package it.
/// Trailing NULs are ignored (GStreamer's matroskamux writes `V_MPEG4/ISO/AVC\0`).
pub fn codec_of(codec_id: &str) -> Option<Codec> {
    match codec_id.trim_end_matches('\0') {
        "V_MPEG4/ISO/AVC" => Some(Codec::H264),
        "V_MPEGH/ISO/HEVC" | "V_MPEG4/ISO/HEVC" => Some(Codec::H265),
        id if id.starts_with("A_AAC") => Some(Codec::Aac),
        "A_OPUS" => Some(Codec::Opus),
        _ => None,
    }
}

/// Maps Matroska TrackEntries to playable tracks, applying the KVS HLS/DASH/GetClip rules: track
/// 1 (the first track) must be H.264, H.265 or AAC; further tracks are kept when they are AAC
/// audio (another video track or codec is skipped); every kept track needs CodecPrivate.
pub fn playable_tracks(entries: &[TrackEntry]) -> Result<Vec<PlayableTrack>, CodecError> {
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let codec = codec_of(&e.codec_id);
        let codec = match codec {
            Some(c) if i == 0 => c,
            Some(c @ (Codec::Aac | Codec::Opus))
                if out.iter().all(|t: &PlayableTrack| t.codec.is_video()) =>
            {
                c
            }
            _ if i == 0 => {
                return Err(CodecError::Unsupported(format!(
                    "track {} has codec {:?}; HLS, DASH and GetClip need H.264, H.265, AAC or Opus",
                    e.number, e.codec_id
                )));
            }
            _ => continue,
        };
        let private =
            e.codec_private.clone().filter(|p| !p.is_empty()).ok_or(CodecError::MissingCodecPrivate)?;
        let mut track = PlayableTrack {
            mkv_track_number: e.number,
            track_id: out.len() as u32 + 1,
            codec,
            codec_private: private,
            timescale: VIDEO_TIMESCALE,
            width: 0,
            height: 0,
            sample_rate: 0,
            channels: 0,
        };
        if codec.is_video() {
            if !matches!(e.kind, TrackKind::Video) {
                return Err(CodecError::Unsupported(format!("track {} is not a video track", e.number)));
            }
            let v = e.video.unwrap_or_default();
            track.width = u32::try_from(v.pixel_width).unwrap_or(0);
            track.height = u32::try_from(v.pixel_height).unwrap_or(0);
        } else {
            let a = e.audio.unwrap_or_default();
            let rate = a.sampling_frequency.round();
            if !(1.0..=384_000.0).contains(&rate) {
                return Err(CodecError::InvalidCodecPrivate(format!(
                    "track {} has sampling frequency {}",
                    e.number, a.sampling_frequency
                )));
            }
            track.sample_rate = rate as u32;
            track.timescale = rate as u32;
            track.channels = u16::try_from(a.channels).unwrap_or(2);
        }
        out.push(track);
    }
    if out.is_empty() {
        return Err(CodecError::Unsupported("the stream has no tracks".into()));
    }
    Ok(out)
}

/// Demuxes a stored header set + Cluster: returns the TrackEntries, TimecodeScale and frames.
fn demux(
    header: &[u8],
    cluster: Bytes,
) -> Result<(Vec<TrackEntry>, u64, Vec<super::mkv::Frame>), SamplesError> {
    let mut d = MkvDemuxer::new(DemuxLimits::default());
    d.push(Bytes::copy_from_slice(header));
    d.push(cluster);
    d.finish();
    let (mut tracks, mut scale, mut frames) = (None, 1_000_000u64, Vec::new());
    loop {
        match d.pull() {
            Ok(Some(MkvEvent::Info { timecode_scale_ns, .. })) => scale = timecode_scale_ns,
            Ok(Some(MkvEvent::Tracks { tracks: t, .. })) => tracks = Some(t),
            Ok(Some(MkvEvent::Frame(f))) => frames.push(f),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => return Err(SamplesError::Matroska(e.to_string())),
        }
    }
    let tracks = tracks.ok_or_else(|| SamplesError::Matroska("no Tracks element".into()))?;
    Ok((tracks, scale, frames))
}

/// The TrackEntries and TimecodeScale (ns) of a stored header set (EBML header, Segment start,
/// Info, Tracks), whatever their codecs.
pub fn header_entries(header: &[u8]) -> Result<(Vec<TrackEntry>, u64), SamplesError> {
    let (entries, scale, _) = demux(header, Bytes::new())?;
    Ok((entries, scale))
}

/// The playable tracks of a stored header set (EBML header, Segment start, Info, Tracks).
pub fn header_tracks(header: &[u8]) -> Result<Vec<PlayableTrack>, SamplesError> {
    let (entries, _, _) = demux(header, Bytes::new())?;
    Ok(playable_tracks(&entries)?)
}

/// Turns one stored fragment into samples on the epoch-based timeline starting at
/// `fragment_start_ms` (see the module documentation).
pub fn fragment_media(
    header: &[u8],
    cluster: Bytes,
    fragment_start_ms: i64,
) -> Result<FragmentMedia, SamplesError> {
    let (entries, scale_ns, frames) = demux(header, cluster)?;
    let tracks = playable_tracks(&entries)?;
    let scale_ns = i128::from(scale_ns);
    let base_ns = i128::from(fragment_start_ms) * 1_000_000;
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); tracks.len()];
    let mut pts_ns: Vec<Vec<i128>> = vec![Vec::new(); tracks.len()];
    for f in frames {
        let Some(ti) = tracks.iter().position(|t| t.mkv_track_number == f.track) else { continue };
        let entry = entries.iter().find(|e| e.number == f.track);
        let lace_ns =
            entry.and_then(|e| e.default_duration_ns).map_or(0, |d| i128::from(d) * i128::from(f.lace_index));
        let t = base_ns + i128::from(f.timecode_rel) * scale_ns + lace_ns;
        let keyframe = f.keyframe || !tracks[ti].codec.is_video();
        pts_ns[ti].push(t);
        samples[ti].push(Sample { dts: 0, pts: 0, duration: 0, keyframe, data: f.data });
    }
    for (ti, track) in tracks.iter().enumerate() {
        let ts = i128::from(track.timescale);
        let to_units = |ns: i128| -> i64 { (ns.div_euclid(1000) * ts).div_euclid(1_000_000) as i64 };
        let mut sorted = pts_ns[ti].clone();
        sorted.sort_unstable();
        let list = &mut samples[ti];
        for (i, s) in list.iter_mut().enumerate() {
            s.pts = to_units(pts_ns[ti][i]);
            s.dts = to_units(sorted[i]);
        }
        let default_units = entries
            .iter()
            .find(|e| e.number == track.mkv_track_number)
            .and_then(|e| e.default_duration_ns)
            .map(|d| to_units(i128::from(d)))
            .filter(|d| *d > 0);
        let n = list.len();
        for i in 0..n {
            let d = if i + 1 < n {
                list[i + 1].dts - list[i].dts
            } else if track.codec == Codec::Aac {
                i64::from(AAC_FRAME_SAMPLES) * i64::from(track.timescale)
                    / i64::from(track.sample_rate.max(1))
            } else if let Some(d) = default_units {
                d
            } else if track.codec == Codec::Opus {
                // WebRTC's Opus packets are 20 ms.
                i64::from(track.timescale) / 50
            } else if n > 1 {
                (list[n - 1].dts - list[0].dts) / (n as i64 - 1)
            } else {
                i64::from(track.timescale) / 25
            };
            list[i].duration = u32::try_from(d.max(1)).unwrap_or(u32::MAX);
        }
    }
    Ok(FragmentMedia { tracks, samples })
}

#[cfg(test)]
mod tests {
    use super::*;

    const H264: &[u8] = include_bytes!("../../tests/fixtures/h264_640x360_20s_2sgop.mkv");
    const BFRAMES: &[u8] = include_bytes!("../../tests/fixtures/h264_bframes_aac_640x360_10s.mkv");

    /// Splits a fixture into its header set bytes and its Clusters, as ingest stores them.
    fn split(file: &[u8]) -> (Vec<u8>, Vec<Bytes>) {
        let mut d = MkvDemuxer::new(DemuxLimits::default());
        d.push(Bytes::copy_from_slice(file));
        d.finish();
        let (mut header, mut clusters, mut cur): (Vec<u8>, Vec<Bytes>, Option<(usize, usize)>) =
            (Vec::new(), Vec::new(), None);
        while let Ok(Some(ev)) = d.pull() {
            match ev {
                MkvEvent::EbmlHeader { raw, .. } => {
                    header.extend_from_slice(&raw);
                    header.extend_from_slice(&crate::media::mkv::rewrite::unknown_size_segment_header());
                }
                MkvEvent::Info { raw, .. } | MkvEvent::Tracks { raw, .. } => header.extend_from_slice(&raw),
                MkvEvent::ClusterStart { offset, .. } => cur = Some((offset as usize, 0)),
                MkvEvent::ClusterEnd { end_offset } => {
                    if let Some((s, _)) = cur.take() {
                        clusters.push(Bytes::copy_from_slice(&file[s..end_offset as usize]));
                    }
                }
                _ => {}
            }
        }
        (header, clusters)
    }

    #[test]
    fn h264_fixture_gives_500_frames_on_a_continuous_timeline() {
        let (header, clusters) = split(H264);
        assert_eq!(clusters.len(), 10);
        let tracks = header_tracks(&header).unwrap();
        assert_eq!(tracks.len(), 1);
        assert_eq!((tracks[0].codec, tracks[0].width, tracks[0].height), (Codec::H264, 640, 360));
        let mut total = 0;
        let mut next_dts = None;
        for (i, c) in clusters.iter().enumerate() {
            let m = fragment_media(&header, c.clone(), 1_700_000_000_000 + 2000 * i as i64).unwrap();
            let s = &m.samples[0];
            assert!(s[0].keyframe);
            if let Some(n) = next_dts {
                assert_eq!(s[0].dts, n, "fragment {i} continues the previous one");
            }
            next_dts = Some(s.last().unwrap().dts + i64::from(s.last().unwrap().duration));
            assert!(s.iter().all(|x| x.duration == 3600 && x.pts == x.dts));
            total += s.len();
        }
        assert_eq!(total, 500);
    }

    #[test]
    fn b_frames_get_monotonic_decode_times_and_audio_is_kept() {
        let (header, clusters) = split(BFRAMES);
        let m = fragment_media(&header, clusters[1].clone(), 1_000).unwrap();
        assert_eq!(m.tracks.len(), 2);
        assert_eq!(m.tracks[1].codec, Codec::Aac);
        let v = &m.samples[0];
        assert!(v.windows(2).all(|w| w[0].dts <= w[1].dts));
        assert!(v.iter().any(|s| s.pts != s.dts), "the fixture has reordered frames");
        let mut p: Vec<i64> = v.iter().map(|s| s.pts).collect();
        let d: Vec<i64> = v.iter().map(|s| s.dts).collect();
        p.sort_unstable();
        assert_eq!(p, d);
        assert!(m.samples[1].iter().all(|s| s.keyframe && s.duration > 0));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let (header, clusters) = split(H264);
        assert!(fragment_media(b"nope", clusters[0].clone(), 0).is_err());
        let cut = clusters[0].slice(..clusters[0].len() / 2);
        let _ = fragment_media(&header, cut, 0);
        assert!(header_tracks(&header[..header.len() - 3]).is_err());
    }
}
