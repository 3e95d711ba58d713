//! Fuzzes the PutMedia path of `openkvs::media`: a fragmenter (and the demuxer under it) fed the
//! input in pieces, with `check_invariants` after every push and pull, the buffer bound after every
//! push and the fragment event protocol.
//!
//! Input layout: bytes 0-1 pick the split point (little-endian, modulo the body length), byte 2 picks
//! the configuration (bit 0: RELATIVE timecodes, bit 1: producer start time given) and the chunk
//! size used after the split point (bits 2-7: 0 means one piece); the rest is the body.
//! The checks live in `fuzz/checks.rs`, shared with the stable property tests
//! (`tests/hostile_input.rs`). Run with `cargo +nightly fuzz run mkv_fragmenter` from the crate root.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|input: &[u8]| checks::mkv_fragmenter(input));
