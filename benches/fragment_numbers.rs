//! Fragment-number generation rate ([`FragmentNumbers::next`], per second, one core).
//!
//! `cargo bench --bench fragment_numbers` issues numbers for one stream and round-robin over 1,000
//! streams (the map lookup and the decimal formatting of every number included), 1 s of warm-up
//! and then 5 runs of 1 s, printing the median numbers/s and the spread.

use std::time::{Duration, Instant};

use openkvs::ingest::FragmentNumbers;

const RUNS: usize = 5;
const RUN_TIME: Duration = Duration::from_secs(1);

/// Calls `f` for [`RUN_TIME`] and returns calls per second.
fn run_once(f: &mut dyn FnMut(u64) -> usize) -> f64 {
    let start = Instant::now();
    let mut calls = 0u64;
    let mut sink = 0usize;
    while start.elapsed() < RUN_TIME {
        for _ in 0..256 {
            sink = sink.wrapping_add(f(calls));
            calls += 1;
        }
    }
    std::hint::black_box(sink);
    calls as f64 / start.elapsed().as_secs_f64()
}

/// Warm-up, then [`RUNS`] runs; prints the median and the min–max.
fn measure(name: &str, mut f: impl FnMut(u64) -> usize) {
    run_once(&mut f);
    let mut rates: Vec<f64> = (0..RUNS).map(|_| run_once(&mut f)).collect();
    rates.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = rates[RUNS / 2];
    println!(
        "{name:<40} {:>8.2} M/s  ({:.0} ns each; runs {:.2}–{:.2} M/s)",
        median / 1e6,
        1e9 / median,
        rates[0] / 1e6,
        rates[RUNS - 1] / 1e6
    );
}

fn main() {
    let now_ms = 1_700_000_000_000i64;
    println!("fragment-number generation, one core, median of {RUNS} × {} s", RUN_TIME.as_secs());
    let numbers = FragmentNumbers::default();
    measure("one stream", |i| numbers.next(1, now_ms + (i / 1000) as i64).as_str().len());
    let numbers = FragmentNumbers::default();
    measure("1,000 streams round-robin", |i| {
        numbers.next((i % 1000) as i64, now_ms + (i / 1000) as i64).as_str().len()
    });
}
