//! Fuzzes the HLS/DASH session token opener (`SessionTokenKey::open`) and the claims decoder
//! (`playback::session::open_claims`): forged tokens never open, sealed payloads round-trip and
//! decode without panicking.
//!
//! Input: used both as a token and as a sealed payload.
//! The checks live in `fuzz/checks.rs`, shared with the stable property tests
//! (`tests/hostile_input.rs`). Run with `cargo +nightly fuzz run session_token` from the crate root.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|input: &[u8]| checks::session_token(input));
