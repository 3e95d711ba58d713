//! The CPU cost of encryption at rest (design/0018-encryption-at-rest.md), one core.
//!
//! `cargo bench --bench sealing` seals and opens fragments of the sizes real cameras make (one
//! fragment = 2 s of media, given as the cluster header plus one part per frame at 30 frames/s,
//! as ingest hands them to the archive) with the archive's own [`DataKey`], and prints per size:
//! seal and open throughput, ns per byte, and what that costs per Mbit/s of media: CPU
//! milliseconds per second of a 1 Mbit/s stream, sealing at ingest plus opening once at read.
//! A last line seals 375 KB with RustCrypto's `aes-gcm` (the other AEAD crate in the tree) for
//! comparison. Each case runs 0.5 s of warm-up, then 5 runs of 1 s; the median is printed.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use bytes::Bytes;
use openkvs::archive::sealing::{DataKey, FragmentContext, MasterKey, WrapContext};

const RUNS: usize = 5;
const RUN_TIME: Duration = Duration::from_secs(1);
/// Bytes in one Mbit.
const MBIT: f64 = 125_000.0;

/// Runs `f` (which returns bytes processed and the time to count) for [`RUN_TIME`]; ns per byte.
fn run_once(f: &mut dyn FnMut() -> (usize, Duration)) -> f64 {
    let start = Instant::now();
    let (mut bytes, mut busy) = (0usize, Duration::ZERO);
    while start.elapsed() < RUN_TIME {
        let (n, t) = f();
        bytes += n;
        busy += t;
    }
    busy.as_nanos() as f64 / bytes as f64
}

/// Warm-up, then [`RUNS`] runs: the median ns per byte.
fn measure(mut f: impl FnMut() -> (usize, Duration)) -> f64 {
    let warm_up = Instant::now();
    while warm_up.elapsed() < RUN_TIME / 2 {
        f();
    }
    let mut v: Vec<f64> = (0..RUNS).map(|_| run_once(&mut f)).collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[RUNS / 2]
}

/// A fragment of `bytes` as ingest hands it over: a 12-byte cluster header, then 60 frames.
fn fragment(bytes: usize) -> Vec<Bytes> {
    let frame = bytes / 60;
    let mut parts = vec![Bytes::from(vec![0x1F; 12])];
    parts.extend((0..60u8).map(|i| Bytes::from(vec![i; frame])));
    parts
}

fn data_key() -> DataKey {
    let master = MasterKey::from_bytes(&MasterKey::generate_bytes()).unwrap();
    let context = WrapContext {
        stream_arn: "arn:aws:kinesisvideo:us-east-1:0:stream/bench/1",
        version: 1,
        master_key_id: "k",
    };
    master.new_data_key(context).0
}

fn main() {
    let key = data_key();
    let context =
        FragmentContext { stream_id: 1, fragment_number: "91343852333181432392682062607743920146159169392" };
    println!(
        "{:>24} {:>10} {:>12} {:>10} {:>12} {:>22}",
        "fragment (2 s of media)", "seal MB/s", "seal ns/B", "open MB/s", "open ns/B", "CPU ms per Mbit/s·s"
    );
    for (label, kbit) in [
        ("250 kbit/s", 250),
        ("500 kbit/s", 500),
        ("1.5 Mbit/s", 1500),
        ("5 Mbit/s", 5000),
        ("20 Mbit/s", 20_000),
    ] {
        let bytes = kbit * 1000 / 8 * 2;
        let parts = fragment(bytes);
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let seal = measure(|| {
            let t = Instant::now();
            let sealed = black_box(key.seal(context, black_box(&parts)));
            let took = t.elapsed();
            drop(sealed);
            (len, took)
        });
        let sealed = key.seal(context, &parts);
        let open = measure(|| {
            // A store read hands over a buffer of its own: the copy is not part of the cost.
            let stored = Bytes::from(sealed.to_vec());
            let t = Instant::now();
            let plain = black_box(key.open(context, stored).unwrap());
            let took = t.elapsed();
            drop(plain);
            (len, took)
        });
        println!(
            "{:>24} {:>10.0} {:>12.3} {:>10.0} {:>12.3} {:>22.3}",
            format!("{label} ({} KB)", len / 1000),
            1000.0 / seal,
            seal,
            1000.0 / open,
            open,
            (seal + open) * MBIT / 1e6
        );
    }
    // The same seal (one copy into the output buffer, then in-place AES-256-GCM) with aes-gcm.
    let cipher = Aes256Gcm::new_from_slice(&[7u8; 32]).unwrap();
    let parts = fragment(375_000);
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let rust_crypto = measure(|| {
        let t = Instant::now();
        let mut out = Vec::with_capacity(len + 28);
        out.extend_from_slice(&[0u8; 12]);
        for p in &parts {
            out.extend_from_slice(p);
        }
        let tag =
            cipher.encrypt_in_place_detached(Nonce::from_slice(&[1u8; 12]), b"aad", &mut out[12..]).unwrap();
        out.extend_from_slice(&tag);
        let took = t.elapsed();
        black_box(out);
        (len, took)
    });
    println!(
        "aes-gcm 0.10 (RustCrypto), seal 375 KB: {:.0} MB/s, {:.3} ns/B",
        1000.0 / rust_crypto,
        rust_crypto
    );
}
