//! Every PutMedia ErrorId the fragmenter produces, from bodies crafted with the crate's writer:
//! which fragment is rejected, whether the session survives, and what comes after.

use super::harness;

use bytes::Bytes;
use harness::{BodyBuilder, Run, TestFrame, fragment_chunks};
use openkvs::media::fragment::{FragmentErrorKind, FragmentEvent, FragmenterConfig, TimecodeType};
use openkvs::media::mkv::{MkvErrorKind, ids};

fn run(body: Bytes, config: FragmenterConfig) -> Run {
    let one = fragment_chunks(std::slice::from_ref(&body), config);
    // Same outcome byte by byte.
    let bytes: Vec<Bytes> = (0..body.len()).map(|i| body.slice(i..i + 1)).collect();
    assert_eq!(fragment_chunks(&bytes, config), one, "byte-by-byte run differs");
    one
}

fn video(n: usize, step: i16, size: usize) -> Vec<TestFrame> {
    (0..n).map(|i| TestFrame::new(1, i as i16 * step, i == 0, size)).collect()
}

fn completed_timecodes(run: &Run) -> Vec<u64> {
    run.completed().iter().map(|f| f.cluster_timecode).collect()
}

#[test]
fn clean_body_has_no_errors() {
    let body = BodyBuilder::new(1, true)
        .cluster(1000, &video(25, 40, 100))
        .cluster(2000, &video(25, 40, 100))
        .build();
    let run = run(body, FragmenterConfig::default());
    assert!(run.errors().is_empty());
    assert_eq!(completed_timecodes(&run), vec![1000, 2000]);
    assert_eq!(run.completed()[0].duration_ms, 1000);
}

#[test]
fn e4001_fragment_too_large_rejects_only_that_fragment() {
    let body = BodyBuilder::new(1, true)
        .cluster(1000, &video(5, 40, 100))
        .cluster(2000, &video(5, 40, 900))
        .cluster(3000, &video(5, 40, 100))
        .build();
    let config = FragmenterConfig { max_fragment_bytes: 2000, ..Default::default() };
    let run = run(body, config);
    assert_eq!(run.error_ids(), vec![4001]);
    let e = run.errors()[0];
    assert!(!e.fatal);
    assert_eq!(e.cluster_timecode, Some(2000));
    assert_eq!(completed_timecodes(&run), vec![1000, 3000]);
    // Detected while the cluster streams in: frames after the limit are not reported.
    let frames_of_2000 = run
        .events
        .iter()
        .filter(|e| matches!(e, FragmentEvent::Frame(f) if f.cluster_timecode == 2000))
        .count();
    assert!(frames_of_2000 < 5);
}

#[test]
fn e4002_fragment_too_long_while_streaming_and_at_completion() {
    // Frames 1.5 s apart: caught at the second frame.
    let late = [TestFrame::new(1, 0, true, 10), TestFrame::new(1, 1500, false, 10)];
    // Frames 0.95 s apart but the last one lasts 100 ms (BlockDuration): caught at the end.
    let long_last = [
        TestFrame::new(1, 0, true, 10),
        TestFrame { block_duration: Some(100), ..TestFrame::new(1, 950, false, 10) },
    ];
    let body = BodyBuilder::new(1, true)
        .cluster(1000, &late)
        .cluster(5000, &long_last)
        .cluster(9000, &video(5, 40, 10))
        .build();
    let config = FragmenterConfig { max_fragment_duration_ms: 1000, ..Default::default() };
    let run = run(body, config);
    assert_eq!(run.error_ids(), vec![4002, 4002]);
    assert_eq!(run.errors()[0].cluster_timecode, Some(1000));
    assert_eq!(
        run.errors()[1].kind,
        FragmentErrorKind::FragmentTooLong { duration_ms: 1050, limit_ms: 1000 }
    );
    assert_eq!(completed_timecodes(&run), vec![9000]);
}

#[test]
fn e4004_timecode_not_monotonic() {
    let body = BodyBuilder::new(1, true)
        .cluster(2000, &video(5, 40, 10))
        .cluster(2000, &video(5, 40, 10))
        .cluster(1000, &video(5, 40, 10))
        .cluster(3000, &video(5, 40, 10))
        .build();
    let run = run(body, FragmenterConfig::default());
    assert_eq!(run.error_ids(), vec![4004, 4004]);
    assert!(run.errors().iter().all(|e| !e.fatal));
    assert_eq!(
        run.errors()[1].kind,
        FragmentErrorKind::TimecodeNotMonotonic { timestamp_ms: 1000, previous_ms: 2000 }
    );
    assert_eq!(completed_timecodes(&run), vec![2000, 3000]);
}

#[test]
fn e4006_invalid_mkv_is_fatal() {
    let mut b = BodyBuilder::new(1, true);
    b.cluster(1000, &video(3, 40, 10));
    // A SimpleBlock whose track-number vint has no length marker.
    b.raw(&[ids::SIMPLE_BLOCK as u8, 0x84, 0x00, 0, 0, 0x80]);
    b.cluster(2000, &video(3, 40, 10));
    let run = run(b.build(), FragmenterConfig::default());
    assert_eq!(run.error_ids(), vec![4006]);
    let e = run.errors()[0];
    assert!(e.fatal);
    assert_eq!(e.cluster_timecode, Some(1000));
    let fatal = run.fatal.as_ref().expect("pull returns Err after a fatal error");
    assert_eq!(fatal.error_id().id(), 4006);
    match &fatal.kind {
        FragmentErrorKind::InvalidMkv(m) => {
            assert_eq!(m.kind, MkvErrorKind::Invalid("invalid block track number"));
            assert_eq!(m.path.to_string(), "Segment/Cluster/SimpleBlock");
        }
        other => panic!("{other:?}"),
    }
    // The fragment cut short by the error is not completed.
    assert!(run.completed().is_empty());
}

#[test]
fn e4006_huge_declared_size_fails_at_the_header_without_buffering() {
    let mut b = BodyBuilder::new(1, true);
    b.cluster(1000, &video(1, 40, 10));
    // SimpleBlock declaring 2^56 - 2 bytes.
    b.raw(&[ids::SIMPLE_BLOCK as u8, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE]);
    let run = run(b.build(), FragmenterConfig::default());
    assert_eq!(run.error_ids(), vec![4006]);
    match &run.fatal.as_ref().unwrap().kind {
        FragmentErrorKind::InvalidMkv(m) => assert!(matches!(m.kind, MkvErrorKind::TooLarge { .. }), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn e4006_truncated_body_does_not_complete_the_open_fragment() {
    let body =
        BodyBuilder::new(1, true).cluster(1000, &video(5, 40, 100)).cluster(2000, &video(5, 40, 100)).build();
    let cut = body.slice(..body.len() - 50);
    let run = run(cut, FragmenterConfig::default());
    assert_eq!(completed_timecodes(&run), vec![1000]);
    assert_eq!(run.error_ids(), vec![4006]);
    assert_eq!(run.errors()[0].cluster_timecode, Some(2000));
}

#[test]
fn e4007_relative_without_producer_start_is_fatal() {
    let body = BodyBuilder::new(1, true).cluster(0, &video(5, 40, 10)).build();
    let config = FragmenterConfig {
        timecode_type: TimecodeType::Relative,
        producer_start_ms: None,
        ..Default::default()
    };
    let run = run(body, config);
    assert_eq!(run.error_ids(), vec![4007]);
    assert!(run.errors()[0].fatal);
    assert_eq!(run.errors()[0].cluster_timecode, Some(0));
    assert_eq!(run.fatal.as_ref().unwrap().error_id().id(), 4007);
    assert!(run.completed().is_empty());
}

#[test]
fn e4009_too_many_metadata_tags() {
    let mut b = BodyBuilder::new(1, true);
    for i in 0..10 {
        b.tag(&format!("K{i}"), "v");
    }
    b.cluster(1000, &video(5, 40, 10));
    for i in 0..11 {
        b.tag(&format!("K{i}"), "v");
    }
    b.cluster(2000, &video(5, 40, 10));
    // Too many attached at the end by the EoFR: 5 before + 6 with it.
    for i in 0..5 {
        b.tag(&format!("A{i}"), "v");
    }
    b.cluster(3000, &video(5, 40, 10));
    for i in 0..6 {
        b.tag(&format!("B{i}"), "v");
    }
    b.tag("AWS_KINESISVIDEO_END_OF_FRAGMENT", "");
    b.cluster(4000, &video(5, 40, 10));
    let run = run(b.build(), FragmenterConfig::default());
    assert_eq!(run.error_ids(), vec![4009, 4009]);
    assert_eq!(run.errors()[0].cluster_timecode, Some(2000));
    assert_eq!(run.errors()[0].kind, FragmentErrorKind::TooManyMetadataTags { count: 11, limit: 10 });
    assert_eq!(run.errors()[1].cluster_timecode, Some(3000));
    assert_eq!(completed_timecodes(&run), vec![1000, 4000]);
    assert_eq!(run.completed()[0].metadata.len(), 10);
    assert!(run.completed()[1].metadata.is_empty());
}

#[test]
fn e4010_frame_for_undeclared_track() {
    let mut frames = video(5, 40, 10);
    frames[2].track = 5;
    let body = BodyBuilder::new(1, true).cluster(1000, &frames).cluster(2000, &video(5, 40, 10)).build();
    let run = run(body, FragmenterConfig::default());
    assert_eq!(run.error_ids(), vec![4010]);
    assert_eq!(run.errors()[0].kind, FragmentErrorKind::UnknownTrack { track: 5 });
    assert!(!run.errors()[0].fatal);
    assert_eq!(completed_timecodes(&run), vec![2000]);
}

#[test]
fn e4011_declared_track_without_frames() {
    let both: Vec<TestFrame> =
        (0..10).map(|i| TestFrame::new(if i % 2 == 0 { 1 } else { 2 }, i as i16 * 20, true, 10)).collect();
    let body = BodyBuilder::new(2, true)
        .cluster(1000, &both)
        .cluster(2000, &video(5, 40, 10))
        .cluster(3000, &both)
        .build();
    let run = run(body, FragmenterConfig::default());
    assert_eq!(run.error_ids(), vec![4011]);
    assert_eq!(run.errors()[0].kind, FragmentErrorKind::FramesMissingForTrack { track: 2 });
    assert_eq!(run.errors()[0].cluster_timecode, Some(2000));
    assert_eq!(completed_timecodes(&run), vec![1000, 3000]);
}

#[test]
fn e4012_more_than_three_tracks_is_fatal() {
    let body = BodyBuilder::new(4, true).cluster(1000, &video(5, 40, 10)).build();
    let run = run(body, FragmenterConfig::default());
    assert_eq!(run.error_ids(), vec![4012]);
    assert!(run.errors()[0].fatal);
    assert_eq!(run.errors()[0].cluster_timecode, None);
    assert!(!run.events.iter().any(|e| matches!(e, FragmentEvent::HeadersChanged(_))));
    assert!(run.completed().is_empty());
}

#[test]
fn metadata_before_a_cluster_goes_to_that_fragment_and_eofr_closes_at_once() {
    let mut b = BodyBuilder::new(1, true);
    b.tag("MOTION", "true").cluster(1000, &video(5, 40, 10));
    b.tag("AWS_KINESISVIDEO_END_OF_FRAGMENT", "");
    let body = b.build();
    // Without finish: the EoFR alone completes the fragment.
    let mut f = openkvs::media::fragment::Fragmenter::new(FragmenterConfig::default());
    f.push(body);
    let mut completed = Vec::new();
    while let Some(ev) = f.pull().unwrap() {
        if let FragmentEvent::FragmentCompleted(fr) = ev {
            completed.push(fr);
        }
    }
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0].metadata, vec![("MOTION".to_string(), "true".to_string())]);
}

#[test]
fn random_garbage_is_4006_at_once() {
    let mut rng = harness::XorShift::new(99);
    for _ in 0..2000 {
        let len = rng.range(12, 4096);
        let garbage: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        let mut f = openkvs::media::fragment::Fragmenter::new(FragmenterConfig::default());
        f.push(Bytes::from(garbage));
        // No finish needed: the first element must be an EBML header.
        let ev = f.pull().expect("first pull reports the error as an event");
        match ev {
            Some(FragmentEvent::Error(e)) => {
                assert_eq!(e.error_id().id(), 4006);
                assert!(e.fatal);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(f.pull().unwrap_err().error_id().id(), 4006);
        f.check_invariants();
        assert_eq!(f.buffered_len(), 0);
    }
}

#[test]
fn e4001_also_for_a_fragment_of_countless_tiny_elements() {
    let mut b = BodyBuilder::new(1, true);
    b.cluster(1000, &video(1, 40, 10));
    // 2-byte Voids: 20 KB of them is 10,000 elements, 320 KB of bookkeeping.
    for _ in 0..10_000 {
        b.raw(&[ids::VOID as u8, 0x80]);
    }
    b.cluster(2000, &video(1, 40, 10));
    let config = FragmenterConfig { max_fragment_bytes: 100_000, ..Default::default() };
    let run = fragment_chunks(&[b.build()], config);
    assert_eq!(run.error_ids(), vec![4001]);
    assert_eq!(completed_timecodes(&run), vec![2000]);
}
