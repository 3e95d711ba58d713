//! The event lists do not depend on how the input is cut: every fixture gives identical demuxer
//! and fragmenter events pushed in one piece, split in two at every offset (the small kvssink
//! body) or at thousands of random offsets (the bigger files), and in random-sized chunks.

use super::harness;

use bytes::Bytes;
use harness::{XorShift, demux_chunks, fragment_chunks, random_chunks, split_at};
use openkvs::media::fragment::FragmenterConfig;
use openkvs::media::mkv::DemuxLimits;

/// Checks `chunks` against the one-piece baselines.
fn same_as_baseline(
    chunks: &[Bytes],
    demux_base: &(Vec<openkvs::media::mkv::MkvEvent>, Option<openkvs::media::mkv::MkvError>),
    frag_base: &harness::Run,
    what: &str,
) {
    let demux = demux_chunks(chunks, DemuxLimits::default());
    assert!(demux == *demux_base, "demuxer events differ for {what}");
    let frag = fragment_chunks(chunks, FragmenterConfig::default());
    assert!(frag == *frag_base, "fragmenter events differ for {what}");
}

fn baselines(
    data: &Bytes,
) -> ((Vec<openkvs::media::mkv::MkvEvent>, Option<openkvs::media::mkv::MkvError>), harness::Run) {
    let demux = demux_chunks(std::slice::from_ref(data), DemuxLimits::default());
    assert!(demux.1.is_none(), "{:?}", demux.1);
    let frag = fragment_chunks(std::slice::from_ref(data), FragmenterConfig::default());
    assert!(frag.fatal.is_none());
    (demux, frag)
}

/// `splits` random two-piece splits and `chunkings` random chunkings.
fn random_splits(data: Bytes, seed: u64, splits: usize, chunkings: usize) {
    let (demux_base, frag_base) = baselines(&data);
    let mut rng = XorShift::new(seed);
    for _ in 0..splits {
        let k = rng.range(0, data.len());
        same_as_baseline(&split_at(&data, &[k]), &demux_base, &frag_base, &format!("split at {k}"));
    }
    let max_sizes = [7usize, 100, 1500, 4096, 16384, 65536, 1 << 20];
    for i in 0..chunkings {
        let max = max_sizes[i % max_sizes.len()];
        let chunks = random_chunks(&data, &mut rng, max);
        same_as_baseline(&chunks, &demux_base, &frag_base, &format!("random chunks up to {max} (run {i})"));
    }
}

#[test]
fn kvssink_every_split_point() {
    let data = fixture!("kvssink_3.6.0_putmedia_body.mkv");
    let (demux_base, frag_base) = baselines(&data);
    // Two pieces, cut at every offset (0 and len included: one empty piece).
    for k in 0..=data.len() {
        same_as_baseline(&split_at(&data, &[k]), &demux_base, &frag_base, &format!("split at {k}"));
    }
}

#[test]
fn kvssink_fixed_chunk_sizes() {
    let data = fixture!("kvssink_3.6.0_putmedia_body.mkv");
    let (demux_base, frag_base) = baselines(&data);
    for size in (1..=64).chain([100, 1000, 1400, 4096, 65536]) {
        let cuts: Vec<usize> = (1..).map(|i| i * size).take_while(|&c| c < data.len()).collect();
        same_as_baseline(&split_at(&data, &cuts), &demux_base, &frag_base, &format!("chunks of {size}"));
    }
}

#[test]
fn kvssink_random() {
    random_splits(fixture!("kvssink_3.6.0_putmedia_body.mkv"), 1, 2000, 300);
}

#[test]
fn cproducer_random() {
    random_splits(fixture!("cproducer_1.6.4_putmedia_body.mkv"), 2, 2000, 35);
}

#[test]
fn h264_2s_gop_random() {
    random_splits(fixture!("h264_640x360_20s_2sgop.mkv"), 3, 2000, 70);
}

#[test]
fn h265_random() {
    random_splits(fixture!("h265_640x360_10s.mkv"), 4, 2000, 70);
}

#[test]
fn gst_h264_aac_random() {
    random_splits(fixture!("gst_h264_aac_10s.mkv"), 5, 2000, 70);
}

#[test]
fn h264_bframes_aac_random() {
    random_splits(fixture!("h264_bframes_aac_640x360_10s.mkv"), 6, 2000, 70);
}

#[test]
fn gst_matroskamux_streamable_random() {
    random_splits(fixture!("gst_matroskamux_streamable_h264_10s.mkv"), 7, 2000, 70);
}
