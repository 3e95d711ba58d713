//! Fragments, frames and metadata of every fixture, cross-checked against the files (counts from
//! `mkvinfo -a` / `ffprobe -show_packets`, and frame by frame against the `matroska-demuxer`
//! crate where it can read the file).

use super::harness;

use std::collections::BTreeMap;
use std::io::Cursor;

use bytes::Bytes;
use harness::{Run, fragment_chunks};
use openkvs::media::fragment::{FragmentEnd, FragmentEvent, FragmenterConfig, TimecodeType};
use openkvs::media::mkv::TrackKind;

fn run(data: &Bytes) -> Run {
    let run = fragment_chunks(std::slice::from_ref(data), FragmenterConfig::default());
    assert!(run.errors().is_empty(), "unexpected errors: {:?}", run.errors());
    assert!(run.fatal.is_none());
    run
}

/// Frames per track from the fragmenter's Frame events.
fn frames_per_track(run: &Run) -> BTreeMap<u64, usize> {
    let mut m = BTreeMap::new();
    for e in &run.events {
        if let FragmentEvent::Frame(f) = e {
            *m.entry(f.frame.track).or_insert(0) += 1;
        }
    }
    m
}

/// Every Frame event belongs to a fragment that completes; frame counts and payload agree.
fn check_consistency(run: &Run) {
    let mut in_fragment = 0u64;
    for e in &run.events {
        match e {
            FragmentEvent::FragmentStarted { .. } => in_fragment = 0,
            FragmentEvent::Frame(_) => in_fragment += 1,
            FragmentEvent::FragmentCompleted(f) => {
                assert_eq!(f.frame_count, in_fragment);
                assert_eq!(f.payload_size, f.payload.iter().map(|b| b.len() as u64).sum::<u64>());
                assert!(f.payload_size > 0);
            }
            _ => {}
        }
    }
}

/// Compares our frames with matroska-demuxer's, in order: track, data, absolute timestamp.
fn cross_check_with_matroska_demuxer(data: &Bytes, run: &Run) {
    let mut mkv =
        matroska_demuxer::MatroskaFile::open(Cursor::new(data.to_vec())).expect("matroska-demuxer opens it");
    let ours: Vec<_> = run
        .events
        .iter()
        .filter_map(|e| match e {
            FragmentEvent::Frame(f) => Some(f),
            _ => None,
        })
        .collect();
    let mut frame = matroska_demuxer::Frame::default();
    let mut n = 0;
    while mkv.next_frame(&mut frame).expect("matroska-demuxer reads it") {
        let o = ours.get(n).expect("matroska-demuxer has more frames than we do");
        assert_eq!(o.frame.track, frame.track, "frame {n}");
        assert_eq!(&o.frame.data[..], &frame.data[..], "frame {n}");
        // Scale is 1 ms in every fixture, so matroska-demuxer's timestamp is in ms.
        assert_eq!(o.timestamp_ms, frame.timestamp, "frame {n}");
        if let Some(k) = frame.is_keyframe {
            assert_eq!(o.frame.keyframe, k, "frame {n}");
        }
        n += 1;
    }
    assert_eq!(n, ours.len(), "frame count differs from matroska-demuxer");
}

#[test]
fn h264_2s_gop() {
    let data = fixture!("h264_640x360_20s_2sgop.mkv");
    let run = run(&data);
    check_consistency(&run);
    let frags = run.completed();
    assert_eq!(frags.len(), 10);
    assert_eq!(frames_per_track(&run), BTreeMap::from([(1, 500)]));
    for (i, f) in frags.iter().enumerate() {
        assert_eq!(f.cluster_timecode, 2000 * i as u64);
        assert_eq!(f.producer_timestamp_ms, 2000 * i as u64);
        assert_eq!(f.duration_ms, 2000, "50 frames of 40 ms");
        assert_eq!(f.frame_count, 50);
        assert!(f.starts_with_keyframe);
        assert_eq!(f.tracks_with_frames, vec![1]);
        assert_eq!(f.headers.timecode_scale_ns, 1_000_000);
        assert_eq!(f.headers.track_entries[0].codec_id, "V_MPEG4/ISO/AVC");
        let v = f.headers.track_entries[0].video.expect("video settings");
        assert_eq!((v.pixel_width, v.pixel_height), (640, 360));
    }
    // ffmpeg's global ENCODER tag (no Targets) is metadata of the first fragment; its
    // per-track tags (Targets/TagTrackUID) are not.
    assert_eq!(frags[0].metadata, vec![("ENCODER".to_string(), "Lavf59.27.100".to_string())]);
    assert!(frags[1].metadata.is_empty());
    assert_eq!(frags[9].end, FragmentEnd::SegmentEnd);
    cross_check_with_matroska_demuxer(&data, &run);
}

#[test]
fn h265() {
    let data = fixture!("h265_640x360_10s.mkv");
    let run = run(&data);
    check_consistency(&run);
    let frags = run.completed();
    assert_eq!(frags.len(), 5);
    assert_eq!(frames_per_track(&run), BTreeMap::from([(1, 250)]));
    assert!(frags.iter().all(|f| f.starts_with_keyframe && f.duration_ms == 2000));
    assert_eq!(frags[0].headers.track_entries[0].codec_id, "V_MPEGH/ISO/HEVC");
    cross_check_with_matroska_demuxer(&data, &run);
}

#[test]
fn gst_h264_aac() {
    let data = fixture!("gst_h264_aac_10s.mkv");
    let run = run(&data);
    check_consistency(&run);
    let frags = run.completed();
    assert_eq!(frags.len(), 5);
    assert_eq!(frames_per_track(&run), BTreeMap::from([(1, 300), (2, 469)]));
    for f in &frags {
        assert_eq!(f.tracks_with_frames, vec![1, 2]);
        assert!(f.starts_with_keyframe);
        // Audio ends last: its DefaultDuration (21.333 ms) closes the fragment at ~2 s.
        assert!((2000..=2020).contains(&f.duration_ms), "{}", f.duration_ms);
        assert!(f.track_summaries[0].starts_with_keyframe);
        // GStreamer does not set the SimpleBlock key flag on AAC frames (ffmpeg does).
        assert!(!f.track_summaries[1].starts_with_keyframe);
    }
    let h = &frags[0].headers;
    assert_eq!(h.track_entries[1].kind, TrackKind::Audio);
    let a = h.track_entries[1].audio.expect("audio settings");
    assert_eq!((a.sampling_frequency, a.channels), (48000.0, 2));
    // GStreamer writes its Tags (ENCODER, targeted at the video track) before Info.
    assert!(frags[0].metadata.is_empty());
    cross_check_with_matroska_demuxer(&data, &run);
}

#[test]
fn h264_bframes_aac_clusters_cut_by_time() {
    let data = fixture!("h264_bframes_aac_640x360_10s.mkv");
    let run = run(&data);
    check_consistency(&run);
    let frags = run.completed();
    assert_eq!(frags.len(), 27);
    assert_eq!(frames_per_track(&run), BTreeMap::from([(1, 300), (2, 470)]));
    // Every cluster has frames of both tracks (so 4011 does not fire). Clusters start with an
    // AAC frame (always a key frame), but the video of most clusters does not start on one.
    assert!(frags.iter().all(|f| f.tracks_with_frames == vec![1, 2]));
    assert!(frags.iter().all(|f| f.starts_with_keyframe));
    let video_key_starts = frags.iter().filter(|f| f.track_summaries[0].starts_with_keyframe).count();
    assert!(video_key_starts < frags.len() / 2, "{video_key_starts}");
    // Audio frames interleave across cluster boundaries and B-frames reorder video, so a
    // fragment's earliest frame is regularly before the previous fragment's latest one: 4004
    // must compare fragment timestamps, not frame ranges.
    let overlaps = frags
        .windows(2)
        .filter(|w| w[1].start_timestamp_ms < w[0].start_timestamp_ms + w[0].duration_ms)
        .count();
    assert!(overlaps > 20, "{overlaps}");
    cross_check_with_matroska_demuxer(&data, &run);
}

#[test]
fn gst_matroskamux_streamable() {
    let data = fixture!("gst_matroskamux_streamable_h264_10s.mkv");
    let run = run(&data);
    check_consistency(&run);
    assert_eq!(run.completed().len(), 7);
    assert_eq!(frames_per_track(&run), BTreeMap::from([(1, 300)]));
    cross_check_with_matroska_demuxer(&data, &run);
}

#[test]
fn kvssink_body() {
    let data = fixture!("kvssink_3.6.0_putmedia_body.mkv");
    let run = run(&data);
    check_consistency(&run);
    let frags = run.completed();
    assert_eq!(frags.len(), 3);
    assert_eq!(frames_per_track(&run), BTreeMap::from([(1, 60)]));
    assert_eq!(
        frags.iter().map(|f| f.end).collect::<Vec<_>>(),
        vec![FragmentEnd::NextCluster, FragmentEnd::NextCluster, FragmentEnd::EndOfFragmentTag]
    );
    for (i, f) in frags.iter().enumerate() {
        // ABSOLUTE epoch milliseconds, one fragment per second.
        assert_eq!(f.cluster_timecode, frags[0].cluster_timecode + 1000 * i as u64);
        assert_eq!(f.producer_timestamp_ms, f.cluster_timecode);
        assert!(f.producer_timestamp_ms > 1_700_000_000_000);
        assert_eq!(f.frame_count, [25, 25, 10][i]);
        // No DefaultDuration: the mean frame interval (40 ms) completes the duration.
        assert_eq!(f.duration_ms, [1000, 1000, 400][i]);
        assert!(f.starts_with_keyframe);
        assert!(f.metadata.is_empty());
    }
    assert_eq!(frags[0].headers.track_entries[0].name.as_deref(), Some("kinesis_video"));
    cross_check_with_matroska_demuxer(&data, &run);
    // The started/completed timecodes pair up, and the ACK timecode is the cluster's.
    let started: Vec<u64> = run
        .events
        .iter()
        .filter_map(|e| match e {
            FragmentEvent::FragmentStarted { cluster_timecode, .. } => Some(*cluster_timecode),
            _ => None,
        })
        .collect();
    assert_eq!(started, frags.iter().map(|f| f.cluster_timecode).collect::<Vec<_>>());
}

#[test]
fn cproducer_body_metadata_goes_with_the_fragment_its_eofr_closes() {
    let data = fixture!("cproducer_1.6.4_putmedia_body.mkv");
    let run = run(&data);
    check_consistency(&run);
    let frags = run.completed();
    assert_eq!(frags.len(), 6);
    assert_eq!(frames_per_track(&run), BTreeMap::from([(1, 238)]));
    let counts: Vec<u64> = frags.iter().map(|f| f.frame_count).collect();
    assert_eq!(counts, vec![45, 45, 45, 45, 45, 13]);
    for (i, f) in frags.iter().enumerate() {
        assert_eq!(f.end, FragmentEnd::EndOfFragmentTag, "every fragment is closed by an EoFR tag");
        let expected: Vec<(String, String)> =
            (1..=9).map(|k| (format!("TEST_KEY_{k}"), format!("TEST_VALUE_{}", 45 * i + k))).collect();
        assert_eq!(f.metadata, expected, "fragment {i}");
        assert_eq!(f.producer_timestamp_ms, f.cluster_timecode);
        assert!(f.starts_with_keyframe);
    }
    assert_eq!(frags[0].duration_ms, 1800);
    assert_eq!(frags[5].duration_ms, 520);
    assert_eq!(frags[0].headers.track_entries[0].name.as_deref(), Some("kvs_video_track"));
    cross_check_with_matroska_demuxer(&data, &run);
    // One header set for the whole body.
    let headers = run.events.iter().filter(|e| matches!(e, FragmentEvent::HeadersChanged(_))).count();
    assert_eq!(headers, 1);
}

#[test]
fn relative_timecodes_add_the_producer_start() {
    let data = fixture!("h264_640x360_20s_2sgop.mkv");
    let start = openkvs::media::fragment::parse_producer_start_timestamp("1663277247.152").unwrap();
    let config = FragmenterConfig {
        timecode_type: TimecodeType::Relative,
        producer_start_ms: Some(start),
        ..Default::default()
    };
    let run = fragment_chunks(&[data], config);
    assert!(run.errors().is_empty());
    let frags = run.completed();
    assert_eq!(frags.len(), 10);
    for (i, f) in frags.iter().enumerate() {
        assert_eq!(f.cluster_timecode, 2000 * i as u64);
        assert_eq!(f.producer_timestamp_ms, 1_663_277_247_152 + 2000 * i as u64);
    }
    let first_frame = run.events.iter().find_map(|e| match e {
        FragmentEvent::Frame(f) => Some(f.timestamp_ms),
        _ => None,
    });
    assert_eq!(first_frame, Some(1_663_277_247_152));
}

#[test]
fn restarted_stream_in_one_body() {
    // kvssink body twice in a row: the second EBML header ends the first unknown-size Segment.
    // Its headers are byte-identical, so no new header set is announced. Its cluster timecodes
    // repeat, so its fragments are rejected as non-monotonic (4004), and the session survives.
    let one = fixture!("kvssink_3.6.0_putmedia_body.mkv");
    let mut two = one.to_vec();
    two.extend_from_slice(&one);
    let run = fragment_chunks(&[Bytes::from(two)], FragmenterConfig::default());
    assert!(run.fatal.is_none());
    let headers = run.events.iter().filter(|e| matches!(e, FragmentEvent::HeadersChanged(_))).count();
    assert_eq!(headers, 1);
    assert_eq!(run.completed().len(), 3);
    assert_eq!(run.error_ids(), vec![4004, 4004, 4004]);

    // A restart with different headers (another Segment UID in Info) starts a new header set,
    // and fragments with later timecodes continue the session.
    let mut second = one.to_vec();
    let uid_at = second.windows(2).position(|w| w == [0x73, 0xA4]).expect("SegmentUID") + 3;
    second[uid_at] ^= 0xFF;
    let mut body = one.to_vec();
    body.extend_from_slice(&second);
    let run = fragment_chunks(&[Bytes::from(body)], FragmenterConfig::default());
    let generations: Vec<u32> = run
        .events
        .iter()
        .filter_map(|e| match e {
            FragmentEvent::HeadersChanged(h) => Some(h.generation),
            _ => None,
        })
        .collect();
    assert_eq!(generations, vec![1, 2]);
    assert_eq!(run.completed()[0].end, FragmentEnd::NextCluster);
}
