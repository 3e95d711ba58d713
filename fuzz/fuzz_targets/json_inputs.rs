//! Fuzzes every operation's input check (`Operation::check_input`: the JSON body deserialised into
//! the operation's input type, then validated): no panic, and only the serialization or validation
//! error codes.
//!
//! Input: the request body.
//! The checks live in `fuzz/checks.rs`, shared with the stable property tests
//! (`tests/hostile_input.rs`). Run with `cargo +nightly fuzz run json_inputs` from the crate root.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|input: &[u8]| checks::json_inputs(input));
