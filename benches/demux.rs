//! Demux + fragmenting throughput of the PutMedia parser on the test fixtures.
//!
//! `cargo bench --bench demux` pushes every fixture through the fragmenter in 64 KiB chunks (the
//! way a chunked PutMedia body arrives), repeatedly for about 2 s each, and prints MB/s on one core
//! for the fragmenter (full KVS rules) and for the bare demuxer.

use std::time::{Duration, Instant};

use bytes::Bytes;
use openkvs::media::fragment::{FragmentEvent, Fragmenter, FragmenterConfig, TimecodeType};
use openkvs::media::mkv::{DemuxLimits, MkvDemuxer};

const CHUNK: usize = 64 * 1024;

fn chunks(data: &Bytes) -> Vec<Bytes> {
    (0..data.len()).step_by(CHUNK).map(|i| data.slice(i..(i + CHUNK).min(data.len()))).collect()
}

fn fragment_once(chunks: &[Bytes]) -> usize {
    let mut f = Fragmenter::new(FragmenterConfig {
        timecode_type: TimecodeType::Relative,
        producer_start_ms: Some(1_700_000_000_000),
        ..FragmenterConfig::default()
    });
    let mut fragments = 0;
    for c in chunks {
        f.push(c.clone());
        while let Ok(Some(ev)) = f.pull() {
            if matches!(ev, FragmentEvent::FragmentCompleted(_)) {
                fragments += 1;
            }
        }
    }
    f.finish();
    while let Ok(Some(ev)) = f.pull() {
        if matches!(ev, FragmentEvent::FragmentCompleted(_)) {
            fragments += 1;
        }
    }
    fragments
}

fn demux_once(chunks: &[Bytes]) -> usize {
    let mut d = MkvDemuxer::new(DemuxLimits::default());
    let mut events = 0;
    for c in chunks {
        d.push(c.clone());
        while let Ok(Some(_)) = d.pull() {
            events += 1;
        }
    }
    d.finish();
    while let Ok(Some(_)) = d.pull() {
        events += 1;
    }
    events
}

fn measure(name: &str, bytes: usize, mut f: impl FnMut() -> usize) {
    let budget = Duration::from_secs(2);
    let start = Instant::now();
    let mut runs = 0u64;
    let mut sink = 0usize;
    while start.elapsed() < budget {
        sink = sink.wrapping_add(f());
        runs += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let mbps = (bytes as f64 * runs as f64) / secs / 1e6;
    println!("{name:<48} {mbps:>10.0} MB/s  ({runs} runs, checksum {sink})");
}

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let files = [
        "h264_640x360_20s_2sgop.mkv",
        "h264_bframes_aac_640x360_10s.mkv",
        "h265_640x360_10s.mkv",
        "cproducer_1.6.4_putmedia_body.mkv",
        "kvssink_3.6.0_putmedia_body.mkv",
    ];
    println!("demux + fragmenting throughput, one core, {} KiB pushes", CHUNK / 1024);
    for file in files {
        let data = Bytes::from(std::fs::read(format!("{dir}/{file}")).expect("fixture"));
        let c = chunks(&data);
        measure(&format!("fragmenter  {file}"), data.len(), || fragment_once(&c));
        measure(&format!("demuxer     {file}"), data.len(), || demux_once(&c));
    }
}
