//! Imaging figures (GetImages, thumbnails): milliseconds per picture on one core.
//!
//! `cargo bench --bench images` takes every key frame of `h264_640x360_20s_2sgop.mkv` (10
//! fragments) and `h264_1280x720_4s.mkv` (2 fragments) through `imaging` the way GetImages does
//! (`pictures_at` on the stored fragment: demux, decode from the key frame) and reports, per key
//! frame, the median of:
//! * **decode**: `pictures_at` for the fragment's first instant (one frame decoded);
//! * **+ JPEG**: decode, then JPEG (quality 80) at the source size;
//! * **+ 320w JPEG**: decode, scale to 320 px wide (aspect kept), JPEG quality 80;
//! * **+ PNG**: decode, then PNG at the source size;
//! * **GOP end**: `pictures_at` for the last frame of the 2 s GOP (every frame of the GOP decoded),
//!   the worst case for a sample time.
//!
//! OpenH264 is built from source without its assembly (no nasm here): plain C.

use std::path::PathBuf;
use std::time::Instant;

use bytes::Bytes;
use openkvs::imaging::{ImageFormat, StoredFragment, encode, pictures_at, target_size};
use openkvs::media::mkv::{DemuxLimits, MkvDemuxer, MkvEvent};

/// A fixture as ingest stores it: one fragment per Cluster, at its Cluster timecode (ms).
fn fragments(name: &str) -> Vec<StoredFragment> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let file = std::fs::read(&path).unwrap();
    let mut d = MkvDemuxer::new(DemuxLimits::default());
    d.push(Bytes::copy_from_slice(&file));
    d.finish();
    let (mut header, mut out, mut cur) = (Vec::new(), Vec::<StoredFragment>::new(), None);
    while let Ok(Some(ev)) = d.pull() {
        match ev {
            MkvEvent::EbmlHeader { raw, .. } => {
                header.extend_from_slice(&raw);
                header.extend_from_slice(&openkvs::media::mkv::rewrite::unknown_size_segment_header());
            }
            MkvEvent::Info { raw, .. } | MkvEvent::Tracks { raw, .. } => header.extend_from_slice(&raw),
            MkvEvent::ClusterStart { offset, .. } => cur = Some((offset as usize, 0)),
            MkvEvent::ClusterTimecode { timecode } => {
                if let Some(c) = cur.as_mut() {
                    c.1 = timecode as i64;
                }
            }
            MkvEvent::ClusterEnd { end_offset } => {
                if let Some((s, tc)) = cur.take() {
                    out.push(StoredFragment {
                        header: Bytes::new(),
                        cluster: Bytes::copy_from_slice(&file[s..end_offset as usize]),
                        start_ms: tc,
                        duration_ms: 2000,
                    });
                }
            }
            _ => {}
        }
    }
    let header = Bytes::from(header);
    out.iter_mut().for_each(|f| f.header = header.clone());
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Median ms of `work` over `rounds` passes over every fragment.
fn time_per_fragment(frags: &[StoredFragment], rounds: usize, mut work: impl FnMut(&StoredFragment)) -> f64 {
    let mut samples = Vec::new();
    for _ in 0..rounds {
        for f in frags {
            let t = Instant::now();
            work(f);
            samples.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    median(samples)
}

fn main() {
    let jpeg = ImageFormat::Jpeg { quality: 80 };
    println!(
        "{:<12} {:>9} {:>9} {:>12} {:>9} {:>10}",
        "fixture", "decode", "+ JPEG", "+ 320w JPEG", "+ PNG", "GOP end"
    );
    for (name, label, rounds) in
        [("h264_640x360_20s_2sgop.mkv", "640x360", 10), ("h264_1280x720_4s.mkv", "1280x720", 20)]
    {
        let frags = fragments(name);
        assert!(!frags.is_empty());
        let picture =
            |f: &StoredFragment| pictures_at(std::slice::from_ref(f), &[f.start_ms]).remove(0).1.unwrap();
        // Warm-up (allocator, page cache).
        for f in &frags {
            picture(f);
        }
        let decode = time_per_fragment(&frags, rounds, |f| {
            picture(f);
        });
        let full_jpeg = time_per_fragment(&frags, rounds, |f| {
            encode(&picture(f), jpeg).unwrap();
        });
        let small_jpeg = time_per_fragment(&frags, rounds, |f| {
            let p = picture(f);
            let (w, h) = target_size(p.width(), p.height(), Some(320), None);
            encode(&p.scaled(w, h), jpeg).unwrap();
        });
        let png = time_per_fragment(&frags, rounds, |f| {
            encode(&picture(f), ImageFormat::Png).unwrap();
        });
        let gop_end = time_per_fragment(&frags, rounds.div_ceil(2), |f| {
            let r = pictures_at(std::slice::from_ref(f), &[f.start_ms + 1990]);
            assert!(r[0].1.is_ok());
        });
        println!(
            "{label:<12} {decode:>7.2}ms {full_jpeg:>7.2}ms {small_jpeg:>10.2}ms {png:>7.2}ms {gop_end:>8.1}ms",
        );
    }
}
