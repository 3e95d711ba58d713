//! Fuzzes the JSON request decoder `parse_json_body` into a spread of operation input types; every
//! failure must be `SerializationException`.
//!
//! Input: the request body.
//! The checks live in `fuzz/checks.rs`, shared with the stable property tests
//! (`tests/hostile_input.rs`). Run with `cargo +nightly fuzz run json_inputs` from the crate root.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|input: &[u8]| checks::json_inputs(input));
