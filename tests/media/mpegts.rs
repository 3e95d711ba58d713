//! The MPEG-TS writer (`openkvs::media::mpegts`) on the fixtures: packet structure, continuity,
//! PCR/PES timing, parameter sets, and ffprobe decoding every frame (skipped without ffprobe).

use std::process::Command;

use bytes::Bytes;
use openkvs::media::codec::aac::AudioSpecificConfig;
use openkvs::media::codec::{Codec, CodecError, PlayableTrack, Sample, TrackRun};
use openkvs::media::mpegts::*;

/// A fixture read with matroska-demuxer: its tracks and, per segment, per track, samples.
struct Fixture {
    tracks: Vec<PlayableTrack>,
    segments: Vec<Vec<Vec<Sample>>>,
}

/// Reads a fixture and cuts it into segments at video key frames (the fixtures' clusters
/// start there). Within a segment, each track's DTS are its sorted PTS.
fn load(name: &str) -> Fixture {
    use matroska_demuxer::{Frame, MatroskaFile};
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let data = std::fs::read(&path).expect("fixture");
    let mut mkv = MatroskaFile::open(std::io::Cursor::new(data)).expect("mkv");
    let scale_ns = i128::from(mkv.info().timestamp_scale().get());
    let mut tracks = Vec::new();
    let mut numbers = Vec::new();
    for t in mkv.tracks() {
        // GStreamer NUL-terminates its CodecIDs.
        let codec = match t.codec_id().trim_end_matches('\0') {
            "V_MPEG4/ISO/AVC" => Codec::H264,
            "V_MPEGH/ISO/HEVC" => Codec::H265,
            id if id.starts_with("A_AAC") => Codec::Aac,
            _ => continue,
        };
        let codec_private = Bytes::copy_from_slice(t.codec_private().expect("codec private"));
        let (timescale, sample_rate, channels) = match codec {
            Codec::Aac => {
                let asc = AudioSpecificConfig::parse(&codec_private).unwrap();
                (asc.sample_rate, asc.sample_rate, u16::from(asc.channels))
            }
            _ => (90_000, 0, 0),
        };
        let (width, height) =
            t.video().map_or((0, 0), |v| (v.pixel_width().get() as u32, v.pixel_height().get() as u32));
        numbers.push(t.track_number().get());
        tracks.push(PlayableTrack {
            mkv_track_number: t.track_number().get(),
            track_id: tracks.len() as u32 + 1,
            codec,
            codec_private,
            timescale,
            width,
            height,
            sample_rate,
            channels,
        });
    }
    // (track index, pts, keyframe, data) per segment.
    let mut raw: Vec<Vec<(usize, i64, bool, Bytes)>> = vec![Vec::new()];
    let mut frame = Frame::default();
    while mkv.next_frame(&mut frame).expect("frame") {
        let Some(ti) = numbers.iter().position(|n| *n == frame.track) else { continue };
        let track = &tracks[ti];
        let key = !track.codec.is_video() || frame.is_keyframe == Some(true);
        let current = raw.last().expect("one segment");
        if track.codec.is_video() && key && current.iter().any(|f| tracks[f.0].codec.is_video()) {
            raw.push(Vec::new());
        }
        let pts =
            (i128::from(frame.timestamp) * scale_ns * i128::from(track.timescale) / 1_000_000_000) as i64;
        raw.last_mut().expect("one segment").push((ti, pts, key, Bytes::from(frame.data.clone())));
    }
    let segments = raw
        .into_iter()
        .map(|seg| {
            (0..tracks.len())
                .map(|ti| {
                    let frames: Vec<_> = seg.iter().filter(|f| f.0 == ti).collect();
                    let mut dts: Vec<i64> = frames.iter().map(|f| f.1).collect();
                    dts.sort_unstable();
                    let default_duration = if tracks[ti].codec.is_video() { 3600 } else { 1024 };
                    (0..frames.len())
                        .map(|i| Sample {
                            dts: dts[i],
                            pts: frames[i].1,
                            duration: dts
                                .get(i + 1)
                                .map_or(default_duration, |next| (next - dts[i]).max(1) as u32),
                            keyframe: frames[i].2,
                            data: frames[i].3.clone(),
                        })
                        .collect()
                })
                .collect()
        })
        .collect();
    Fixture { tracks, segments }
}

impl Fixture {
    fn runs(&self, segment: usize) -> Vec<TrackRun<'_>> {
        self.tracks
            .iter()
            .zip(&self.segments[segment])
            .map(|(track, samples)| TrackRun { track, samples })
            .collect()
    }
}

fn has_ffprobe() -> bool {
    let ok = Command::new("ffprobe").arg("-version").output().is_ok_and(|o| o.status.success());
    if !ok {
        println!("skipped: no ffprobe");
    }
    ok
}

/// `(codec_name, nb_read_frames)` of the first stream of `kind` (`v` or `a`), and stderr.
fn probe(ts: &[u8], tag: &str, kind: &str) -> (String, u64, String) {
    let path = std::env::temp_dir().join(format!("openkvs_mpegts_{}_{tag}.ts", std::process::id()));
    if std::env::var_os("KEEP_TS").is_some() {
        let _ = std::fs::write(format!("/tmp/keep_{tag}.ts"), ts);
    }
    std::fs::write(&path, ts).expect("write temp file");
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", &format!("{kind}:0")])
        .args(["-show_entries", "stream=nb_read_frames,codec_name", "-of", "json"])
        .arg(&path)
        .output()
        .expect("ffprobe runs");
    let _ = std::fs::remove_file(&path);
    let json = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |key: &str| {
        let at = json.find(&format!("\"{key}\"")).map(|i| i + key.len() + 2)?;
        let rest = json[at..].trim_start_matches([':', ' ', '"']);
        Some(rest.chars().take_while(|c| c.is_ascii_alphanumeric()).collect::<String>())
    };
    let codec = field("codec_name").unwrap_or_default();
    let frames = field("nb_read_frames").and_then(|n| n.parse().ok()).unwrap_or(0);
    (codec, frames, String::from_utf8_lossy(&out.stderr).to_string())
}

/// Checks packet structure: sync bytes, PAT and PMT first, continuity counters per PID
/// following on from `cc`, a PCR ≤ DTS at every video PES start, random access on key frames.
fn check_packets(ts: &[u8], cc: &mut std::collections::HashMap<u16, u8>, keyframes: &[bool]) {
    assert_eq!(ts.len() % PACKET_SIZE, 0);
    let mut video_pes = 0;
    for (i, p) in ts.chunks(PACKET_SIZE).enumerate() {
        assert_eq!(p[0], 0x47);
        let pid = (u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]);
        match i {
            0 => assert_eq!(pid, 0),
            1 => assert_eq!(pid, PMT_PID),
            _ => assert!(pid == VIDEO_PID || pid == AUDIO_PID),
        }
        let counter = p[3] & 0x0f;
        if let Some(prev) = cc.insert(pid, counter) {
            assert_eq!(counter, (prev + 1) & 0x0f, "pid {pid:#x} packet {i}");
        }
        if pid == VIDEO_PID && p[1] & 0x40 != 0 {
            assert!(p[3] & 0x20 != 0 && p[5] & 0x10 != 0, "PCR at video PES start");
            assert_eq!(p[5] & 0x40 != 0, keyframes[video_pes], "RAI of video PES {video_pes}");
            let pcr = (u64::from(p[6]) << 25)
                | (u64::from(p[7]) << 17)
                | (u64::from(p[8]) << 9)
                | (u64::from(p[9]) << 1)
                | u64::from(p[10] >> 7);
            let pes = &p[5 + usize::from(p[4])..];
            assert_eq!(&pes[..4], &[0, 0, 1, 0xe0]);
            let t = &pes[if pes[7] & 0x40 != 0 { 14 } else { 9 }..];
            let dts = (u64::from(t[0] >> 1 & 7) << 30)
                | (u64::from(t[1]) << 22)
                | (u64::from(t[2] >> 1) << 15)
                | (u64::from(t[3]) << 7)
                | u64::from(t[4] >> 1);
            assert!(pcr <= dts, "PCR {pcr} > DTS {dts}");
            video_pes += 1;
        }
    }
    assert_eq!(video_pes, keyframes.len());
}

fn end_to_end(name: &str, video: (&str, u64), min_audio: Option<u64>) {
    let fx = load(name);
    let shape: Vec<Vec<usize>> = fx.segments.iter().map(|s| s.iter().map(Vec::len).collect()).collect();
    println!("{name}: samples per segment and track {shape:?}");
    let mut continuity = TsContinuity::default();
    let mut all = Vec::new();
    let mut cc = std::collections::HashMap::new();
    let mut singles = Vec::new();
    for seg in 0..fx.segments.len() {
        let runs = fx.runs(seg);
        let ts = ts_segment(&runs, &mut continuity).unwrap();
        let keyframes: Vec<bool> = runs
            .iter()
            .filter(|r| r.track.codec.is_video())
            .flat_map(|r| r.samples.iter().map(|s| s.keyframe))
            .collect();
        assert!(keyframes[0], "segments start with a key frame");
        check_packets(&ts, &mut cc, &keyframes);
        // A fresh continuity gives the same segment apart from the counters.
        let fresh = ts_segment(&runs, &mut TsContinuity::default()).unwrap();
        assert_eq!(fresh.len(), ts.len());
        all.extend_from_slice(&ts);
        singles.push((ts, keyframes.len() as u64));
    }
    if !has_ffprobe() {
        return;
    }
    let (codec, frames, err) = probe(&all, &format!("{name}_all"), "v");
    println!("{name}: {} segments, video {codec} {frames} frames {err}", fx.segments.len());
    assert_eq!((codec.as_str(), frames), video, "{err}");
    assert!(err.is_empty(), "{err}");
    if let Some(min) = min_audio {
        let (codec, frames, err) = probe(&all, &format!("{name}_all"), "a");
        println!("{name}: audio {codec} {frames} frames {err}");
        assert_eq!(codec, "aac");
        assert!(frames >= min, "{frames} audio frames");
        assert!(err.is_empty(), "{err}");
    }
    for (i, (ts, n)) in singles.iter().enumerate() {
        let (codec, frames, err) = probe(ts, &format!("{name}_seg{i}"), "v");
        assert_eq!((codec.as_str(), frames), (video.0, *n), "segment {i}: {err}");
        assert!(err.is_empty(), "segment {i}: {err}");
    }
}

#[test]
fn h264_fixture_plays() {
    end_to_end("h264_640x360_20s_2sgop.mkv", ("h264", 500), None);
}

#[test]
fn h265_fixture_plays() {
    end_to_end("h265_640x360_10s.mkv", ("hevc", 250), None);
}

#[test]
fn h264_aac_fixture_plays() {
    end_to_end("gst_h264_aac_10s.mkv", ("h264", 300), Some(460));
}

/// B-frames: PTS ≠ DTS, so the PES carry both (segments cut at key frames, not at this
/// file's time-cut clusters).
#[test]
fn h264_bframes_aac_fixture_plays() {
    end_to_end("h264_bframes_aac_640x360_10s.mkv", ("h264", 300), Some(460));
}

#[test]
fn audio_only_segment() {
    let fx = load("gst_h264_aac_10s.mkv");
    let runs: Vec<_> = fx.runs(0).into_iter().filter(|r| !r.track.codec.is_video()).collect();
    let ts = ts_segment(&runs, &mut TsContinuity::default()).unwrap();
    assert_eq!(ts.len() % PACKET_SIZE, 0);
    // The first audio PES carries the PCR.
    let p = &ts[2 * PACKET_SIZE..3 * PACKET_SIZE];
    assert_eq!((u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]), AUDIO_PID);
    assert!(p[3] & 0x20 != 0 && p[5] & 0x10 != 0);
    if has_ffprobe() {
        let (codec, frames, err) = probe(&ts, "audio", "a");
        assert_eq!(codec, "aac", "{err}");
        assert_eq!(frames as usize, runs[0].samples.len(), "{err}");
    }
}

#[test]
fn bad_frames_and_tracks_are_errors() {
    let fx = load("h264_640x360_20s_2sgop.mkv");
    let track = &fx.tracks[0];
    let mut sample = fx.segments[0][0][0].clone();
    let run = |s: &Sample, t: &PlayableTrack| {
        ts_segment(&[TrackRun { track: t, samples: std::slice::from_ref(s) }], &mut TsContinuity::default())
    };
    assert!(run(&sample, track).is_ok());
    // A NAL length running past the frame.
    let mut data = sample.data.to_vec();
    data[3] = data[3].wrapping_add(1);
    data.truncate(data.len() - 1);
    sample.data = Bytes::from(data);
    assert!(matches!(run(&sample, track), Err(CodecError::InvalidFrame(_))));
    sample.data = Bytes::from_static(&[0, 0, 0, 200, 0x65]);
    assert!(matches!(run(&sample, track), Err(CodecError::InvalidFrame(_))));
    sample.data = Bytes::from_static(&[0, 0, 0, 1, 0x65, 0, 0]);
    assert!(matches!(run(&sample, track), Err(CodecError::InvalidFrame(_))));
    sample.data = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0x65]);
    assert!(matches!(run(&sample, track), Err(CodecError::InvalidFrame(_))));
    // Bad or missing codec private, timescale 0, no tracks, two video tracks.
    let mut bad = track.clone();
    bad.codec_private = Bytes::new();
    assert_eq!(run(&sample, &bad), Err(CodecError::MissingCodecPrivate));
    bad.codec_private = Bytes::from_static(&[1, 2, 3]);
    assert!(matches!(run(&sample, &bad), Err(CodecError::InvalidCodecPrivate(_))));
    let mut bad = track.clone();
    bad.timescale = 0;
    assert!(run(&sample, &bad).is_err());
    assert!(ts_segment(&[], &mut TsContinuity::default()).is_err());
    let two = [TrackRun { track, samples: &[] }, TrackRun { track, samples: &[] }];
    assert!(matches!(ts_segment(&two, &mut TsContinuity::default()), Err(CodecError::Unsupported(_))));
    // An empty run still gives PAT + PMT.
    let ts = ts_segment(&two[..1], &mut TsContinuity::default()).unwrap();
    assert_eq!(ts.len(), 2 * PACKET_SIZE);
}

#[test]
fn random_frames_never_panic() {
    let fx = load("gst_h264_aac_10s.mkv");
    let mut seed = 0xdead_beef_cafe_f00du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let originals: Vec<Vec<Sample>> = fx.segments[0].clone();
    for _ in 0..300 {
        let mut segs = originals.clone();
        for samples in &mut segs {
            for s in samples.iter_mut().take(20) {
                let mut d = s.data.to_vec();
                if !d.is_empty() {
                    let i = (next() as usize) % d.len().min(16);
                    d[i] ^= 1 << (next() % 8);
                }
                if next() % 5 == 0 {
                    d.truncate((next() as usize) % (d.len() + 1));
                }
                s.data = Bytes::from(d);
                s.pts = s.pts.wrapping_add((next() % 3) as i64 - 1).wrapping_mul(1 + (next() % 2) as i64);
            }
        }
        let runs: Vec<_> =
            fx.tracks.iter().zip(&segs).map(|(track, samples)| TrackRun { track, samples }).collect();
        if let Ok(ts) = ts_segment(&runs, &mut TsContinuity::default()) {
            assert_eq!(ts.len() % PACKET_SIZE, 0);
        }
    }
    // Extreme timestamps.
    let mut segs = originals.clone();
    segs[0][0].dts = i64::MIN;
    segs[0][0].pts = i64::MAX;
    let runs: Vec<_> =
        fx.tracks.iter().zip(&segs).map(|(track, samples)| TrackRun { track, samples }).collect();
    assert!(ts_segment(&runs, &mut TsContinuity::default()).is_ok());
}
