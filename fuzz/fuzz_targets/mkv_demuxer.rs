//! Fuzzes the Matroska reader `openkvs::media::mkv::MkvDemuxer` alone, fed the input in pieces,
//! with `check_invariants` after every push and pull, the buffer bound, monotonic offsets and
//! sticky errors.
//!
//! Input layout: bytes 0-1 pick the split point, byte 2 bit 0 picks the default limits (else small
//! ones) and bits 2-7 the chunk size after the split point; the rest is the body.
//! The checks live in `fuzz/checks.rs`, shared with the stable property tests
//! (`tests/hostile_input.rs`). Run with `cargo +nightly fuzz run mkv_demuxer` from the crate root.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|input: &[u8]| checks::mkv_demuxer(input));
