//! Fuzzes the SigV4 presigned-query parser (`parse_presigned_query`, `has_presigned_params`) and
//! their agreement.
//!
//! Input: the raw query string (lossy UTF-8).
//! The checks live in `fuzz/checks.rs`, shared with the stable property tests
//! (`tests/hostile_input.rs`). Run with `cargo +nightly fuzz run sigv4_presigned` from the crate root.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|input: &[u8]| checks::sigv4_presigned(input));
