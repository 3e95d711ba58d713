//! Mutated and hostile inputs: thousands of damaged fixture bodies (bit flips, truncations,
//! inserted huge sizes, zero-length elements, deep nesting, duplicated and shuffled ranges)
//! pushed in random chunks with tight limits. Nothing may panic, `check_invariants` must hold
//! after every push and pull, and the buffer must stay within the limit plus one push (checked by
//! the harness drivers).

use super::harness;

use bytes::Bytes;
use harness::{XorShift, demux_chunks, fragment_chunks, random_chunks};
use openkvs::media::fragment::FragmenterConfig;
use openkvs::media::mkv::{DemuxLimits, ids};

/// Limits small enough that the buffer bound is meaningful for these inputs.
fn tight_limits() -> DemuxLimits {
    DemuxLimits {
        max_header_element_size: 8 << 10,
        max_block_size: 64 << 10,
        max_nesting: 4,
        max_track_entries: 8,
        max_simple_tags: 32,
    }
}

fn tight_config() -> FragmenterConfig {
    FragmenterConfig { max_fragment_bytes: 256 << 10, demux: tight_limits(), ..Default::default() }
}

/// Byte sequences worth inserting: huge declared sizes, zero-length and unknown-size elements,
/// deep nesting, stray level-0/level-1 IDs.
fn nasty_insert(rng: &mut XorShift) -> Vec<u8> {
    const HUGE: [u8; 8] = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE];
    let ids_to_use: [u32; 12] = [
        ids::SIMPLE_BLOCK,
        ids::BLOCK_GROUP,
        ids::CLUSTER,
        ids::TAGS,
        ids::TRACKS,
        ids::INFO,
        ids::EBML,
        ids::SEGMENT,
        ids::VOID,
        ids::TIMECODE,
        ids::CUES,
        0x4321,
    ];
    let id = ids_to_use[rng.below(ids_to_use.len() as u64) as usize];
    let mut out = Vec::new();
    openkvs::media::ebml::vint::write_id(&mut out, id);
    match rng.below(6) {
        0 => out.extend_from_slice(&HUGE),
        1 => out.push(0x80), // zero length
        2 => out.push(0xFF), // unknown size
        3 => {
            // Deeply nested SimpleTags inside a Tags/Tag.
            let depth = rng.range(1, 40);
            let mut inner: Vec<u8> = Vec::new();
            for _ in 0..depth {
                let mut st = vec![0x67, 0xC8];
                openkvs::media::ebml::vint::write_size(&mut st, inner.len() as u64);
                st.extend_from_slice(&inner);
                inner = st;
            }
            let mut tag = vec![0x73, 0x73];
            openkvs::media::ebml::vint::write_size(&mut tag, inner.len() as u64);
            tag.extend_from_slice(&inner);
            out.clear();
            out.extend_from_slice(&[0x12, 0x54, 0xC3, 0x67]);
            openkvs::media::ebml::vint::write_size(&mut out, tag.len() as u64);
            out.extend_from_slice(&tag);
        }
        4 => {
            // A plausible size that overruns what follows.
            let n = rng.below(1 << 20);
            openkvs::media::ebml::vint::write_size_8(&mut out, n);
        }
        _ => {
            // A small element with random content.
            let n = rng.range(0, 40);
            openkvs::media::ebml::vint::write_size(&mut out, n as u64);
            out.extend((0..n).map(|_| rng.next_u64() as u8));
        }
    }
    out
}

fn mutate(base: &[u8], rng: &mut XorShift) -> Vec<u8> {
    let mut data = base.to_vec();
    let rounds = rng.range(1, 4);
    for _ in 0..rounds {
        if data.is_empty() {
            break;
        }
        let at = rng.range(0, data.len() - 1);
        match rng.below(7) {
            0 => {
                for _ in 0..rng.range(1, 8) {
                    let i = rng.range(0, data.len() - 1);
                    data[i] ^= 1 << rng.below(8);
                }
            }
            1 => data.truncate(at),
            2 => {
                let ins = nasty_insert(rng);
                data.splice(at..at, ins);
            }
            3 => {
                // Overwrite with an 8-byte huge size (turns some element's size into 2^56-2).
                let end = (at + 8).min(data.len());
                data.splice(at..end, [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE]);
            }
            4 => {
                // Duplicate a range (repeated clusters, headers, tags).
                let len = rng.range(1, 4096).min(data.len() - at);
                let piece = data[at..at + len].to_vec();
                let to = rng.range(0, data.len());
                data.splice(to..to, piece);
            }
            5 => {
                // Delete a range.
                let len = rng.range(1, 512).min(data.len() - at);
                data.drain(at..at + len);
            }
            _ => {
                let v = rng.next_u64() as u8;
                data[at] = v;
            }
        }
    }
    data
}

fn exercise(data: Bytes, rng: &mut XorShift) {
    let max = [1usize, 13, 512, 4096, 70_000][rng.below(5) as usize];
    let chunks = random_chunks(&data, rng, max);
    let _ = demux_chunks(&chunks, tight_limits());
    let run = fragment_chunks(&chunks, tight_config());
    // Every error event is either fatal (and then the run ended with it) or not.
    if let Some(fatal) = &run.fatal {
        assert_eq!(run.errors().last().copied(), Some(fatal));
    }
}

#[test]
fn mutated_kvssink_bodies() {
    let base = fixture!("kvssink_3.6.0_putmedia_body.mkv");
    let mut rng = XorShift::new(0xC0FFEE);
    for _ in 0..3000 {
        // Work on a prefix most of the time to keep the test fast.
        let len = if rng.below(4) == 0 { base.len() } else { rng.range(1, 40_000) };
        let data = mutate(&base[..len], &mut rng);
        exercise(Bytes::from(data), &mut rng);
    }
}

#[test]
fn mutated_cproducer_and_two_track_bodies() {
    let bodies = [
        fixture!("cproducer_1.6.4_putmedia_body.mkv").slice(..120_000),
        fixture!("gst_h264_aac_10s.mkv").slice(..120_000),
        fixture!("h264_bframes_aac_640x360_10s.mkv").slice(..120_000),
        fixture!("h264_640x360_20s_2sgop.mkv").slice(..60_000),
    ];
    let mut rng = XorShift::new(0xBADC0DE);
    for i in 0..2000 {
        let base = &bodies[i % bodies.len()];
        let len = rng.range(1, base.len());
        let data = mutate(&base[..len], &mut rng);
        exercise(Bytes::from(data), &mut rng);
    }
}

#[test]
fn pathological_structures() {
    let header = {
        let b = harness::BodyBuilder::new(1, true);
        b.build()
    };
    let mut cases: Vec<Vec<u8>> = Vec::new();
    // Endless zero-length Voids and Clusters.
    let mut v = header.to_vec();
    for _ in 0..10_000 {
        v.extend_from_slice(&[0xEC, 0x80]);
    }
    cases.push(v);
    let mut v = header.to_vec();
    for _ in 0..5_000 {
        v.extend_from_slice(&[0x1F, 0x43, 0xB6, 0x75, 0x80]);
    }
    cases.push(v);
    // Thousands of unknown-size Clusters with only a Timecode.
    let mut v = header.to_vec();
    for i in 0..3_000u64 {
        v.extend_from_slice(&[0x1F, 0x43, 0xB6, 0x75, 0xFF, 0xE7, 0x88]);
        v.extend_from_slice(&i.to_be_bytes());
    }
    cases.push(v);
    // Thousands of metadata Tags and nothing else.
    let mut v = header.to_vec();
    for i in 0..3_000 {
        v.extend_from_slice(&openkvs::media::mkv::tags::build_tags(&[(format!("K{i}"), "v")]));
    }
    cases.push(v);
    // Deeply nested SimpleTags.
    let mut inner: Vec<u8> = Vec::new();
    for _ in 0..200 {
        let mut st = vec![0x67, 0xC8];
        openkvs::media::ebml::vint::write_size(&mut st, inner.len() as u64);
        st.extend_from_slice(&inner);
        inner = st;
    }
    let mut v = header.to_vec();
    v.extend_from_slice(&[0x12, 0x54, 0xC3, 0x67]);
    openkvs::media::ebml::vint::write_size(&mut v, inner.len() as u64 + 3);
    v.extend_from_slice(&[0x73, 0x73]);
    openkvs::media::ebml::vint::write_size(&mut v, inner.len() as u64);
    v.extend_from_slice(&inner);
    cases.push(v);
    // Repeated EBML headers (restarts) with nothing in between.
    let mut v = Vec::new();
    for _ in 0..500 {
        v.extend_from_slice(&header);
    }
    cases.push(v);
    // A huge Void and huge Cues are skipped without buffering, even if never completed.
    let mut v = header.to_vec();
    v.extend_from_slice(&[0xEC, 0x01, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    v.extend(std::iter::repeat_n(0u8, 300_000));
    cases.push(v);

    let mut rng = XorShift::new(7);
    for case in cases {
        let data = Bytes::from(case);
        for _ in 0..5 {
            exercise(data.clone(), &mut rng);
        }
    }
}
