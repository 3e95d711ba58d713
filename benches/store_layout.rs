//! The fragment-store layout decision, measured (design/0002-fragment-store.md).
//!
//! `cargo bench --bench store_layout [-- DIR]` writes group-committed batches of fragments the
//! size a 1.5 Mbit/s camera makes every 2 s (~375 KB), for 1 and 100 concurrent streams, with
//! (a) the store's per-stream append-only segment files and one parallel fsync round per batch,
//! and (b) one file per fragment (create, write, fsync the file, fsync the directory). It prints
//! fragments per second and batch latency. DIR defaults to a temporary directory on the same
//! filesystem as the current directory.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use bytes::Bytes;
use openkvs::archive::{DEFAULT_SEGMENT_BYTES, FragmentBytes, FragmentStore, LocalStore};
use openkvs::model::StorageTier;

const FRAGMENT: usize = 375_000;
const BATCHES: usize = 40;

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p) as usize]
}

fn segments(rt: &tokio::runtime::Runtime, root: &Path, streams: usize, payload: &Bytes) -> (f64, Vec<f64>) {
    let store =
        LocalStore::open(&root.join("segments"), &root.join("segments-warm"), DEFAULT_SEGMENT_BYTES).unwrap();
    let ids: Vec<i64> = (1..=streams as i64).collect();
    let mut lat = Vec::new();
    let start = Instant::now();
    for _ in 0..BATCHES {
        let t = Instant::now();
        let items: Vec<FragmentBytes> = ids
            .iter()
            .map(|&id| FragmentBytes { stream_id: id, tier: StorageTier::Hot, parts: vec![payload.clone()] })
            .collect();
        for r in rt.block_on(store.append(items)) {
            r.unwrap();
        }
        rt.block_on(store.sync(ids.clone())).unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ((streams * BATCHES) as f64 / start.elapsed().as_secs_f64(), lat)
}

fn file_per_fragment(root: &Path, streams: usize, payload: &Bytes) -> (f64, Vec<f64>) {
    let base = root.join("files");
    for s in 0..streams {
        fs::create_dir_all(base.join(s.to_string())).unwrap();
    }
    let mut lat = Vec::new();
    let start = Instant::now();
    for b in 0..BATCHES {
        let t = Instant::now();
        let all: Vec<usize> = (0..streams).collect();
        std::thread::scope(|scope| {
            for chunk in all.chunks(streams.div_ceil(8)) {
                let base = &base;
                scope.spawn(move || {
                    for &s in chunk {
                        let dir = base.join(s.to_string());
                        let mut f = File::create(dir.join(format!("{b:08}.mkv"))).unwrap();
                        f.write_all(payload).unwrap();
                        f.sync_data().unwrap();
                        File::open(&dir).unwrap().sync_all().unwrap();
                    }
                });
            }
        });
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ((streams * BATCHES) as f64 / start.elapsed().as_secs_f64(), lat)
}

fn main() {
    let arg = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let tmp = tempfile::Builder::new()
        .prefix("openkvs-store-bench")
        .tempdir_in(arg.as_deref().unwrap_or("."))
        .unwrap();
    let payload = Bytes::from(vec![0x5Au8; FRAGMENT]);
    // The store is async (its file I/O runs on the runtime's blocking threads), as the archive uses it.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    println!("{BATCHES} group-committed batches of {FRAGMENT}-byte fragments in {}", tmp.path().display());
    for streams in [1usize, 100] {
        let (rate, mut lat) = segments(&rt, tmp.path(), streams, &payload);
        println!(
            "segments     streams={streams:<4} {rate:>8.0} fragments/s  batch p50 {:>7.1} ms  p99 {:>7.1} ms",
            percentile(&mut lat, 0.5),
            percentile(&mut lat, 0.99)
        );
        let (rate, mut lat) = file_per_fragment(tmp.path(), streams, &payload);
        println!(
            "file/frag    streams={streams:<4} {rate:>8.0} fragments/s  batch p50 {:>7.1} ms  p99 {:>7.1} ms",
            percentile(&mut lat, 0.5),
            percentile(&mut lat, 0.99)
        );
    }
}
