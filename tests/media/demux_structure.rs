//! Demuxer behaviour on Matroska structures the fixtures do not contain: known-size Segment and
//! Clusters, skipped level-1 elements, unknown elements, BlockGroups, the three lacing kinds,
//! and the structural errors with their offsets and element paths.

use super::harness;

use bytes::Bytes;
use harness::demux_chunks;
use openkvs::media::ebml::{EbmlWriter, SizeForm};
use openkvs::media::mkv::{DemuxLimits, MkvDemuxer, MkvErrorKind, MkvEvent, ids};

fn ebml_header(w: &mut EbmlWriter) {
    let m = w.start_master(ids::EBML);
    w.string(ids::DOC_TYPE, "webm");
    w.end_master(m);
}

fn info_and_tracks(w: &mut EbmlWriter, scale: u64) {
    let m = w.start_master(ids::INFO);
    w.uint(ids::TIMECODE_SCALE, scale);
    w.end_master(m);
    let t = w.start_master(ids::TRACKS);
    for n in 1..=2u64 {
        let e = w.start_master(ids::TRACK_ENTRY);
        w.uint(ids::TRACK_NUMBER, n).uint(ids::TRACK_TYPE, n).string(ids::CODEC_ID, "X");
        w.end_master(e);
    }
    w.end_master(t);
}

/// (track, relative timecode, key frame, duration, lace index, data)
type FrameSummary<'a> = (u64, i16, bool, Option<u64>, u8, &'a [u8]);

fn frames(events: &[MkvEvent]) -> Vec<&openkvs::media::mkv::Frame> {
    events
        .iter()
        .filter_map(|e| match e {
            MkvEvent::Frame(f) => Some(f),
            _ => None,
        })
        .collect()
}

/// Every way of cutting the input gives the same events (cheap for these small bodies).
fn all_splits_agree(data: &Bytes) -> (Vec<MkvEvent>, Option<openkvs::media::mkv::MkvError>) {
    let whole = demux_chunks(std::slice::from_ref(data), DemuxLimits::default());
    for k in 0..=data.len() {
        let chunks = harness::split_at(data, &[k]);
        assert_eq!(demux_chunks(&chunks, DemuxLimits::default()), whole, "split at {k}");
    }
    whole
}

#[test]
fn known_sizes_block_groups_lacing_and_skipped_elements() {
    let mut w = EbmlWriter::new();
    ebml_header(&mut w);
    let seg = w.start_master(ids::SEGMENT);
    // SeekHead and an unknown element are skipped inside a known-size Segment.
    let sh = w.start_master(ids::SEEK_HEAD);
    w.binary(0x4DBB, &[1, 2, 3]);
    w.end_master(sh);
    w.binary(0x4321, &[0; 10]);
    info_and_tracks(&mut w, 1_000_000);
    let cl = w.start_master(ids::CLUSTER);
    w.uint(ids::TIMECODE, 100);
    // BlockGroup without ReferenceBlock: key frame, with duration.
    let g = w.start_master(ids::BLOCK_GROUP);
    w.binary(ids::BLOCK, &[0x81, 0x00, 0x00, 0x00, 0xAA, 0xBB]).uint(ids::BLOCK_DURATION, 40);
    w.end_master(g);
    // BlockGroup with ReferenceBlock: not a key frame.
    let g = w.start_master(ids::BLOCK_GROUP);
    w.binary(ids::BLOCK, &[0x81, 0x00, 0x28, 0x00, 0xCC]).int(ids::REFERENCE_BLOCK, -40);
    w.end_master(g);
    // Unknown child of a known-size Cluster: kept in the payload, no frame.
    w.binary(0x4322, &[9, 9]);
    // Xiph-laced SimpleBlock on track 2 with frames of 2, 1 and 3 bytes.
    w.binary(ids::SIMPLE_BLOCK, &[0x82, 0x00, 0x50, 0x82, 2, 2, 1, 1, 2, 3, 4, 5, 6]);
    // EBML-laced: 2 frames (1 byte, then 2 bytes).
    w.binary(ids::SIMPLE_BLOCK, &[0x82, 0x00, 0x64, 0x86, 1, 0x81, 7, 8, 9]);
    // Fixed-size laced: 3 frames of 2 bytes.
    w.binary(ids::SIMPLE_BLOCK, &[0x82, 0x00, 0x78, 0x84, 2, 1, 1, 2, 2, 3, 3]);
    w.end_master(cl);
    // Cues skipped.
    w.binary(ids::CUES, &[0; 50]);
    w.end_master(seg);
    let data = w.finish();

    let (events, err) = all_splits_agree(&data);
    assert!(err.is_none(), "{err:?}");
    let fr = frames(&events);
    let summary: Vec<FrameSummary<'_>> = fr
        .iter()
        .map(|f| (f.track, f.timecode_rel, f.keyframe, f.duration, f.lace_index, &f.data[..]))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, 0, true, Some(40), 0, &[0xAA, 0xBB][..]),
            (1, 40, false, None, 0, &[0xCC][..]),
            (2, 80, true, None, 0, &[1, 2][..]),
            (2, 80, true, None, 1, &[3][..]),
            (2, 80, true, None, 2, &[4, 5, 6][..]),
            (2, 100, true, None, 0, &[7][..]),
            (2, 100, true, None, 1, &[8, 9][..]),
            (2, 120, true, None, 0, &[1, 1][..]),
            (2, 120, true, None, 1, &[2, 2][..]),
            (2, 120, true, None, 2, &[3, 3][..]),
        ]
    );
    let children = events.iter().filter(|e| matches!(e, MkvEvent::ClusterChild { .. })).count();
    assert_eq!(children, 7);
    // The Cluster and Segment end at their declared ends, in that order, at the end of data.
    let ends: Vec<&MkvEvent> = events
        .iter()
        .filter(|e| matches!(e, MkvEvent::ClusterEnd { .. } | MkvEvent::SegmentEnd { .. }))
        .collect();
    assert_eq!(ends.len(), 2);
    assert!(matches!(ends[1], MkvEvent::SegmentEnd { end_offset } if *end_offset == data.len() as u64));
    assert!(matches!(&events[0], MkvEvent::EbmlHeader { doc_type, .. } if doc_type == "webm"));
}

#[test]
fn skipped_elements_are_not_buffered() {
    let mut w = EbmlWriter::new();
    ebml_header(&mut w);
    w.unknown_size_header(ids::SEGMENT, 8);
    // Attachments declaring 100 MiB; only its header is pushed, then filler.
    w.element_header(ids::ATTACHMENTS, 100 << 20);
    let head = w.finish();
    let mut d = MkvDemuxer::new(DemuxLimits {
        max_header_element_size: 1024,
        max_block_size: 4096,
        ..Default::default()
    });
    d.push(head);
    while d.pull().unwrap().is_some() {}
    let filler = Bytes::from(vec![0u8; 1 << 20]);
    for _ in 0..10 {
        d.push(filler.clone());
        assert_eq!(d.pull().unwrap(), None);
        d.check_invariants();
        assert_eq!(d.buffered_len(), 0);
    }
    d.finish();
    let err = d.pull().unwrap_err();
    assert_eq!(err.kind, MkvErrorKind::Truncated);
    assert_eq!(err.path.to_string(), "Segment/Attachments");
}

#[test]
fn structural_errors_carry_offset_and_path() {
    // Cluster before Tracks.
    let mut w = EbmlWriter::new();
    ebml_header(&mut w);
    w.unknown_size_header(ids::SEGMENT, 1);
    let seg_data = w.len() as u64;
    w.unknown_size_header(ids::CLUSTER, 1);
    let (_, err) = demux_chunks(&[w.finish()], DemuxLimits::default());
    let err = err.unwrap();
    assert_eq!(err.kind, MkvErrorKind::Invalid("Cluster before Info and Tracks"));
    assert_eq!(err.offset, seg_data);
    assert_eq!(
        err.to_string(),
        format!("invalid MKV at byte {seg_data} in Segment/Cluster: Cluster before Info and Tracks")
    );

    // Unknown element inside an unknown-size Cluster.
    let mut w = EbmlWriter::with_size_form(SizeForm::Eight);
    ebml_header(&mut w);
    w.unknown_size_header(ids::SEGMENT, 1);
    info_and_tracks(&mut w, 1_000_000);
    w.unknown_size_header(ids::CLUSTER, 1).uint(ids::TIMECODE, 0);
    let at = w.len() as u64;
    w.binary(0x4321, &[0]);
    let (events, err) = demux_chunks(&[w.finish()], DemuxLimits::default());
    let err = err.unwrap();
    assert_eq!((err.kind.clone(), err.offset), (MkvErrorKind::UnexpectedElement, at));
    assert_eq!(err.path.to_string(), "Segment/Cluster/0x4321");
    assert!(events.iter().any(|e| matches!(e, MkvEvent::ClusterTimecode { timecode: 0 })));

    // Block before the Cluster Timecode; block too large; Tracks of unknown size.
    let mut w = EbmlWriter::new();
    ebml_header(&mut w);
    w.unknown_size_header(ids::SEGMENT, 1);
    info_and_tracks(&mut w, 1_000_000);
    let base = w.finish();
    let cases: [(&[u8], MkvErrorKind); 4] = [
        (
            &[0x1F, 0x43, 0xB6, 0x75, 0xFF, 0xA3, 0x85, 0x81, 0, 0, 0x80, 1],
            MkvErrorKind::Invalid("block before the Cluster Timecode"),
        ),
        (
            &[0x1F, 0x43, 0xB6, 0x75, 0xFF, 0xE7, 0x81, 0, 0xA3, 0x10, 0x10, 0x00, 0x00],
            MkvErrorKind::TooLarge { size: 0x100000, limit: 4096 },
        ),
        (&[0x16, 0x54, 0xAE, 0x6B, 0xFF], MkvErrorKind::UnknownSize),
        (&[0x18, 0x53, 0x80, 0x67, 0xFF], MkvErrorKind::UnexpectedElement),
    ];
    let limits = DemuxLimits { max_block_size: 4096, ..Default::default() };
    for (tail, kind) in cases {
        let mut data = base.to_vec();
        data.extend_from_slice(tail);
        let (_, err) = demux_chunks(&[Bytes::from(data)], limits);
        assert_eq!(err.unwrap().kind, kind);
    }

    // Input not starting with an EBML header.
    let (_, err) = demux_chunks(&[Bytes::from_static(b"GET / HTTP/1.1\r\n\r\n")], DemuxLimits::default());
    assert_eq!(err.unwrap().kind, MkvErrorKind::NotEbml);
    // Empty input is an empty stream, not an error.
    let (events, err) = demux_chunks(&[], DemuxLimits::default());
    assert!(events.is_empty() && err.is_none());
}

#[test]
fn timecode_scale_and_codec_private() {
    let mut w = EbmlWriter::new();
    ebml_header(&mut w);
    w.unknown_size_header(ids::SEGMENT, 1);
    let m = w.start_master(ids::INFO);
    w.uint(ids::TIMECODE_SCALE, 100_000);
    w.end_master(m);
    let t = w.start_master(ids::TRACKS);
    let e = w.start_master(ids::TRACK_ENTRY);
    w.uint(ids::TRACK_NUMBER, 7).uint(ids::TRACK_TYPE, 2).string(ids::CODEC_ID, "A_AAC");
    w.binary(ids::CODEC_PRIVATE, &[0x12, 0x10]).uint(ids::DEFAULT_DURATION, 21_333_333);
    let a = w.start_master(ids::AUDIO);
    w.float(ids::SAMPLING_FREQUENCY, 48000.0).uint(ids::CHANNELS, 2).uint(ids::BIT_DEPTH, 16);
    w.end_master(a);
    w.end_master(e);
    w.end_master(t);
    let (events, err) = all_splits_agree(&w.finish());
    assert!(err.is_none());
    let scale = events.iter().find_map(|e| match e {
        MkvEvent::Info { timecode_scale_ns, .. } => Some(*timecode_scale_ns),
        _ => None,
    });
    assert_eq!(scale, Some(100_000));
    let track = events
        .iter()
        .find_map(|e| match e {
            MkvEvent::Tracks { tracks, .. } => tracks.first().cloned(),
            _ => None,
        })
        .unwrap();
    assert_eq!(track.number, 7);
    assert_eq!(track.codec_private.as_deref(), Some(&[0x12, 0x10][..]));
    assert_eq!(track.default_duration_ns, Some(21_333_333));
    let audio = track.audio.unwrap();
    assert_eq!((audio.sampling_frequency, audio.channels, audio.bit_depth), (48000.0, 2, Some(16)));
}
