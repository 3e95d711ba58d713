//! Fuzzes the re-framer behind `openkvs put`, `openkvs::media::mkv::rewrite::Reframer`, fed the
//! input in pieces: `check_invariants` after every push and pull, sticky errors, and the body it
//! yields must demux again without an error, one Cluster per fragment.
//!
//! Input layout: bytes 0-1 pick the split point, byte 2 bit 0 picks the default limits (else small
//! ones), bit 1 a tight fragment policy, bits 2-7 the chunk size after the split point; the rest is
//! the body. The checks live in `fuzz/checks.rs`, shared with the stable property tests
//! (`tests/hostile_input.rs`). Run with `cargo +nightly fuzz run mkv_reframer` from the crate root.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|input: &[u8]| checks::mkv_reframer(input));
