//! Fuzzes the SigV4 `Authorization` header parser (`parse_authorization_header` and the Credential,
//! SignedHeaders and Signature parsers under it).
//!
//! Input: the header value (lossy UTF-8).
//! The checks live in `fuzz/checks.rs`, shared with the stable property tests
//! (`tests/hostile_input.rs`). Run with `cargo +nightly fuzz run sigv4_header` from the crate root.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|input: &[u8]| checks::sigv4_header(input));
