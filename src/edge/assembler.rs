//! The recorder's pure core: timestamped frames of a camera's video and audio in, KVS fragments
//! (a Matroska stream header + one Cluster each) out.
//!
//! Owns where fragments are cut and how RTP time becomes wall-clock time. It must not do I/O or
//! read clocks: the driver ([`super::recorder`]) passes every frame with its time already mapped
//! by [`WallClockMap`], and writes out what [`Assembler::push`] returns.
//!
//! # Rules
//! * A fragment starts on a video key frame: frames before the first key frame (video and audio)
//!   are dropped, and after a loss or a parameter change the assembler waits for the next one.
//! * A key frame cuts a new fragment once the open one spans [`AssemblerPolicy::min_fragment_ms`];
//!   a fragment that reaches [`AssemblerPolicy::max_fragment_ms`] without one is cut anyway (KVS
//!   refuses fragments over 20 s; the next fragment then starts on a delta frame).
//! * Without video, audio is cut every [`AssemblerPolicy::audio_only_fragment_ms`].
//! * Cluster Timecodes strictly increase (the PutMedia rule 4004), ms since the epoch.
//! * Each fragment carries the header of the tracks that have frames in it (KVS refuses a fragment
//!   missing a declared track: ErrorId 4011), so a camera whose audio stops still records video.
//! * New video parameters (resolution, codec: a camera reconfigured) close the open fragment; the
//!   next fragment starts with a header of the new parameters.

use bytes::Bytes;

use crate::media::mkv::live::{self, LiveBlock, TrackSpec};

/// Track number of the video track in every header.
pub const VIDEO_TRACK: u64 = 1;
/// Track number of the audio track in every header.
pub const AUDIO_TRACK: u64 = 2;

/// Which elementary stream a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    /// The video stream.
    Video,
    /// The audio stream.
    Audio,
}

/// One frame, with its wall-clock time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Video or audio.
    pub track: Track,
    /// Presentation time, ms since the epoch.
    pub time_ms: i64,
    /// A video key frame (random access point); audio frames are all key frames.
    pub key: bool,
    /// The frame bytes in Matroska form (length-prefixed NAL units, raw AAC).
    pub data: Bytes,
}

/// One complete fragment, ready to store and send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeFragment {
    /// The stream header it belongs to (EBML header, Segment, Info, Tracks).
    pub header: Bytes,
    /// The Cluster Timecode: its first frame's time, ms since the epoch.
    pub timecode_ms: u64,
    /// The Cluster, in pieces (concatenated: one known-size Cluster element).
    pub cluster: Vec<Bytes>,
    /// Cluster length in bytes.
    pub cluster_len: u64,
    /// Last frame time − first frame time, ms.
    pub duration_ms: u64,
    /// Frames in it.
    pub frames: usize,
    /// Whether it starts on a video key frame (true without video).
    pub starts_on_key_frame: bool,
}

/// Where fragments are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssemblerPolicy {
    /// A key frame starts a new fragment only once the open one spans this long.
    pub min_fragment_ms: i64,
    /// No fragment spans longer than this, key frame or not.
    pub max_fragment_ms: i64,
    /// Fragment length of audio-only streams.
    pub audio_only_fragment_ms: i64,
}

impl Default for AssemblerPolicy {
    fn default() -> Self {
        AssemblerPolicy { min_fragment_ms: 500, max_fragment_ms: 10_000, audio_only_fragment_ms: 2_000 }
    }
}

#[derive(Debug)]
struct Open {
    start_ms: i64,
    last_ms: i64,
    samples: Vec<Sample>,
    has_video: bool,
    has_audio: bool,
    starts_on_key_frame: bool,
}

/// Frames in, fragments out; see the module documentation.
#[derive(Debug)]
pub struct Assembler {
    policy: AssemblerPolicy,
    app: String,
    video: Option<TrackSpec>,
    audio: Option<TrackSpec>,
    /// Cached headers for (video, audio) present.
    headers: [Option<Bytes>; 4],
    open: Option<Open>,
    last_timecode: Option<u64>,
    waiting_for_key: bool,
}

impl Assembler {
    /// An assembler writing `app` as the Matroska muxing application.
    pub fn new(policy: AssemblerPolicy, app: &str) -> Self {
        Assembler {
            policy,
            app: app.to_owned(),
            video: None,
            audio: None,
            headers: Default::default(),
            open: None,
            last_timecode: None,
            waiting_for_key: false,
        }
    }

    /// Sets (or changes) the video track; a change closes the open fragment, returned here.
    pub fn set_video(&mut self, spec: Option<TrackSpec>) -> Option<EdgeFragment> {
        if self.video == spec {
            return None;
        }
        let closed = self.close();
        self.video = spec.map(|s| TrackSpec { number: VIDEO_TRACK, ..s });
        self.headers = Default::default();
        self.waiting_for_key = self.video.is_some();
        closed
    }

    /// Sets (or changes) the audio track; a change closes the open fragment, returned here.
    pub fn set_audio(&mut self, spec: Option<TrackSpec>) -> Option<EdgeFragment> {
        if self.audio == spec {
            return None;
        }
        let closed = self.close();
        self.audio = spec.map(|s| TrackSpec { number: AUDIO_TRACK, ..s });
        self.headers = Default::default();
        closed
    }

    /// Whether a video track is configured.
    pub fn has_video(&self) -> bool {
        self.video.is_some()
    }

    /// Whether the video track is H.265.
    pub fn video_is_h265(&self) -> bool {
        self.video.as_ref().is_some_and(|v| v.codec_id == live::CODEC_H265)
    }

    /// Frames were lost (or the source restarted): close the open fragment (its frames are
    /// complete and decodable) and wait for the next key frame.
    pub fn break_stream(&mut self) -> Option<EdgeFragment> {
        self.waiting_for_key = self.video.is_some();
        self.close()
    }

    /// Adds a frame; returns the fragment it completed, if any.
    pub fn push(&mut self, sample: Sample) -> Option<EdgeFragment> {
        let is_video = sample.track == Track::Video;
        match sample.track {
            Track::Video if self.video.is_none() => return None,
            Track::Audio if self.audio.is_none() => return None,
            _ => {}
        }
        if self.waiting_for_key && self.video.is_some() {
            if !(is_video && sample.key) {
                return None;
            }
            self.waiting_for_key = false;
        }
        let cut = match &self.open {
            None => false,
            Some(open) => {
                let span = sample.time_ms - open.start_ms;
                let key_cut = is_video && sample.key && span >= self.policy.min_fragment_ms;
                let audio_only_cut = self.video.is_none() && span >= self.policy.audio_only_fragment_ms;
                // Relative timecodes are i16 ms: never let a fragment get near that either.
                key_cut || audio_only_cut || span >= self.policy.max_fragment_ms || span < -1000
            }
        };
        let closed = if cut { self.close() } else { None };
        let open = self.open.get_or_insert_with(|| Open {
            start_ms: sample.time_ms,
            last_ms: sample.time_ms,
            samples: Vec::new(),
            has_video: false,
            has_audio: false,
            starts_on_key_frame: !is_video || sample.key,
        });
        open.has_video |= is_video;
        open.has_audio |= !is_video;
        open.last_ms = open.last_ms.max(sample.time_ms);
        open.samples.push(sample);
        closed
    }

    /// Closes the open fragment (end of stream).
    pub fn flush(&mut self) -> Option<EdgeFragment> {
        self.close()
    }

    fn header(&mut self, video: bool, audio: bool) -> Bytes {
        let slot = usize::from(video) * 2 + usize::from(audio);
        if let Some(h) = &self.headers[slot] {
            return h.clone();
        }
        let tracks: Vec<TrackSpec> =
            [video.then(|| self.video.clone()).flatten(), audio.then(|| self.audio.clone()).flatten()]
                .into_iter()
                .flatten()
                .collect();
        let h = live::stream_header(&tracks, &self.app);
        self.headers[slot] = Some(h.clone());
        h
    }

    fn close(&mut self) -> Option<EdgeFragment> {
        let open = self.open.take()?;
        if open.samples.is_empty() {
            return None;
        }
        let first = u64::try_from(open.start_ms.max(0)).unwrap_or(0);
        let timecode = match self.last_timecode {
            Some(last) if first <= last => last + 1,
            _ => first,
        };
        self.last_timecode = Some(timecode);
        let blocks: Vec<LiveBlock> = open
            .samples
            .iter()
            .map(|s| {
                let rel = (s.time_ms - timecode as i64).clamp(i64::from(i16::MIN), i64::from(i16::MAX));
                LiveBlock {
                    track: if s.track == Track::Video { VIDEO_TRACK } else { AUDIO_TRACK },
                    relative_ms: rel as i16,
                    key: s.key,
                    data: s.data.clone(),
                }
            })
            .collect();
        let header = self.header(open.has_video, open.has_audio);
        let cluster = live::cluster(timecode, &blocks);
        let cluster_len = cluster.iter().map(|b| b.len() as u64).sum();
        Some(EdgeFragment {
            header,
            timecode_ms: timecode,
            cluster,
            cluster_len,
            duration_ms: u64::try_from(open.last_ms - open.start_ms).unwrap_or(0),
            frames: blocks.len(),
            starts_on_key_frame: open.starts_on_key_frame,
        })
    }
}

/// Whether an H.265 access unit (4-byte length-prefixed NAL units) is an intra random access point:
/// every VCL NAL unit is an IRAP (BLA, IDR or CRA, types 16..=23). `retina` flags only IDR
/// pictures; encoders with open GOPs (x265's default, many cameras) start every GOP with a CRA.
pub fn h265_is_irap(au: &[u8]) -> bool {
    let mut rest = au;
    let mut vcl = 0;
    while rest.len() >= 5 {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let Some(nal) = rest.get(4..4 + len) else { return false };
        if let Some(&first) = nal.first() {
            let unit_type = (first >> 1) & 0x3f;
            if unit_type < 32 {
                if !(16..=23).contains(&unit_type) {
                    return false;
                }
                vcl += 1;
            }
        }
        rest = &rest[4 + len..];
    }
    vcl > 0 && rest.is_empty()
}

/// Maps one RTSP session's RTP clocks to wall-clock time: the session's start (the wall clock when
/// PLAY was answered) plus each stream's elapsed RTP time. RTP-Info in the PLAY response gives
/// every stream's RTP time at the same instant, so audio and video stay in sync; drift between the
/// camera's clock and ours accumulates over a session and is re-anchored by every reconnect.
#[derive(Debug, Clone, Copy)]
pub struct WallClockMap {
    start_ms: i64,
}

impl WallClockMap {
    /// Anchors the session at `start_ms` (ms since the epoch).
    pub fn new(start_ms: i64) -> Self {
        WallClockMap { start_ms }
    }

    /// Wall-clock ms of a frame whose stream has advanced `elapsed` ticks of `clock_rate` Hz since
    /// the session's start.
    pub fn wall_ms(&self, elapsed: i64, clock_rate: u32) -> i64 {
        let rate = i64::from(clock_rate.max(1));
        self.start_ms + (elapsed.saturating_mul(1000)).div_euclid(rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::mkv::live::{CODEC_AAC, CODEC_H264, TrackMedia};

    fn video() -> TrackSpec {
        TrackSpec {
            number: 9,
            codec_id: CODEC_H264,
            codec_private: Bytes::from_static(&[1, 0x42, 0, 0x1e, 0xff, 0xe0, 0]),
            media: TrackMedia::Video { width: 64, height: 64 },
        }
    }

    fn audio() -> TrackSpec {
        TrackSpec {
            number: 9,
            codec_id: CODEC_AAC,
            codec_private: Bytes::from_static(&[0x11, 0x88]),
            media: TrackMedia::Audio { sample_rate: 48_000, channels: 1 },
        }
    }

    fn v(t: i64, key: bool) -> Sample {
        Sample { track: Track::Video, time_ms: t, key, data: Bytes::from_static(&[0, 0, 0, 1, 0x65]) }
    }

    fn a(t: i64) -> Sample {
        Sample { track: Track::Audio, time_ms: t, key: true, data: Bytes::from_static(&[0x21]) }
    }

    #[test]
    fn fragments_start_on_key_frames_and_timecodes_increase() {
        let mut asm = Assembler::new(AssemblerPolicy::default(), "t");
        asm.set_video(Some(video()));
        asm.set_audio(Some(audio()));
        let mut out = Vec::new();
        // Audio and a delta frame before the first key frame are dropped.
        for s in [
            a(990),
            v(995, false),
            v(1000, true),
            a(1010),
            v(1040, false),
            v(1500, true),
            a(1510),
            v(2000, true),
        ] {
            out.extend(asm.push(s));
        }
        out.extend(asm.flush());
        let got: Vec<(u64, usize, bool)> =
            out.iter().map(|f| (f.timecode_ms, f.frames, f.starts_on_key_frame)).collect();
        assert_eq!(got, vec![(1000, 3, true), (1500, 2, true), (2000, 1, true)]);
        // The last fragment has no audio: its header declares the video track only.
        assert_ne!(out[0].header, out[2].header);
        assert_eq!(out[0].header, out[1].header);
    }

    #[test]
    fn a_break_waits_for_the_next_key_frame() {
        let mut asm = Assembler::new(AssemblerPolicy::default(), "t");
        asm.set_video(Some(video()));
        assert!(asm.push(v(0, true)).is_none());
        let closed = asm.break_stream().expect("open fragment closed");
        assert_eq!(closed.frames, 1);
        assert!(asm.push(v(100, false)).is_none());
        assert!(asm.flush().is_none(), "the delta frame after the break was dropped");
        // A source that restarts with an earlier clock still gets increasing timecodes.
        asm.push(v(-5, true));
        assert_eq!(asm.flush().unwrap().timecode_ms, 1);
    }

    #[test]
    fn new_parameters_start_a_new_header() {
        let mut asm = Assembler::new(AssemblerPolicy::default(), "t");
        asm.set_video(Some(video()));
        asm.push(v(0, true));
        asm.push(v(40, false));
        // The camera switches to 1280x720 (new SPS): the open fragment closes with the old header.
        let bigger = TrackSpec { media: TrackMedia::Video { width: 1280, height: 720 }, ..video() };
        let before = asm.set_video(Some(bigger)).expect("closed");
        assert_eq!(before.frames, 2);
        assert!(asm.push(v(80, false)).is_none(), "waits for a key frame");
        asm.push(v(120, true));
        let after = asm.flush().unwrap();
        assert_ne!(before.header, after.header);
        assert_eq!((after.timecode_ms, after.frames), (120, 1));
        // The same parameters again change nothing.
        let same = TrackSpec { media: TrackMedia::Video { width: 1280, height: 720 }, ..video() };
        assert!(asm.set_video(Some(same)).is_none());
    }

    #[test]
    fn long_gops_and_audio_only_are_cut_by_time() {
        let mut asm = Assembler::new(AssemblerPolicy::default(), "t");
        asm.set_video(Some(video()));
        let mut n = 0;
        for t in (0..25_000).step_by(40) {
            n += asm.push(v(t, t == 0)).map_or(0, |f| {
                assert!(f.duration_ms < 10_000);
                1
            });
        }
        assert_eq!(n, 2);
        let mut asm = Assembler::new(AssemblerPolicy::default(), "t");
        asm.set_audio(Some(audio()));
        let cuts = (0..10_000).step_by(21).filter_map(|t| asm.push(a(t))).count();
        assert_eq!(cuts, 4);
    }

    #[test]
    fn h265_random_access_points() {
        let au =
            |types: &[u8]| -> Vec<u8> { types.iter().flat_map(|t| [0, 0, 0, 3, t << 1, 1, 0xAF]).collect() };
        assert!(h265_is_irap(&au(&[35, 39, 21]))); // AUD, SEI, CRA
        assert!(h265_is_irap(&au(&[19, 19]))); // IDR_W_RADL, two slices
        assert!(!h265_is_irap(&au(&[1]))); // TRAIL_R
        assert!(!h265_is_irap(&au(&[21, 1])));
        assert!(!h265_is_irap(&au(&[39])));
        assert!(!h265_is_irap(&[0, 0, 0, 9, 42]));
    }

    #[test]
    fn wall_clock_mapping() {
        let m = WallClockMap::new(1_000_000);
        assert_eq!(m.wall_ms(90_000, 90_000), 1_001_000);
        assert_eq!(m.wall_ms(24_000, 48_000), 1_000_500);
        assert_eq!(m.wall_ms(-9_000, 90_000), 999_900);
    }
}
